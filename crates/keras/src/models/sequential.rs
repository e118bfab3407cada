//! `Sequential`: a plain stack of layers, each feeding the next.

use crate::layers::{unique_name, Layer, Shape};
use crate::losses::Loss;
use crate::optimizers::Optimizer;
use crate::trainers::{self, Compiled, FitArgs, History, Logs, Model};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};

/// A linear stack of layers, as `keras.Sequential`.
///
/// ```
/// use keras::layers::{Dense, Dropout};
/// use keras::{losses, optimizers, FitArgs, Sequential};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut model = Sequential::new(vec![
///     Box::new(Dense::new(16).activation("relu")?),
///     Box::new(Dropout::new(0.1)?),
///     Box::new(Dense::new(3).activation("softmax")?),
/// ])
/// .input_shape(&[4]);
/// model.compile(optimizers::get("adam")?, losses::get("sparse_categorical_crossentropy")?, &["accuracy"])?;
/// let x = Tensor::random_normal(&[64, 4], 0.0, 1.0, 1, DType::F32, &Device::Cpu)?;
/// let y = x.argmax(-1, false)?.clip(0.0, 2.0)?; // a learnable labelling
/// let history = model.fit(&x, &y, FitArgs { epochs: 2, verbose: 0, ..Default::default() })?;
/// assert_eq!(history.history["loss"].len(), 2);
/// assert_eq!(model.predict(&x, 32)?.shape(), &[64, 3]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Sequential {
    name: String,
    layers: Vec<Box<dyn Layer>>,
    input_shape: Option<Shape>,
    shapes: Vec<Shape>,
    compiled: Option<Compiled>,
}

impl Sequential {
    /// A model from a list of layers (built on first use, or now with
    /// [`Sequential::input_shape`]).
    pub fn new(layers: Vec<Box<dyn Layer>>) -> Sequential {
        Sequential {
            name: unique_name("sequential"),
            layers,
            input_shape: None,
            shapes: Vec::new(),
            compiled: None,
        }
    }

    /// Declares the input shape without the batch axis (Keras's `keras.Input(shape=...)` as
    /// the first entry); the model is built at `compile`.
    pub fn input_shape(mut self, shape: &[usize]) -> Sequential {
        let mut s: Shape = vec![None];
        s.extend(shape.iter().map(|&d| Some(d)));
        self.input_shape = Some(s);
        self
    }

    /// Appends a layer.
    pub fn add(&mut self, layer: Box<dyn Layer>) {
        self.layers.push(layer);
        self.shapes.clear();
    }

    /// Removes and returns the last layer.
    pub fn pop(&mut self) -> Option<Box<dyn Layer>> {
        self.shapes.clear();
        self.layers.pop()
    }

    /// The layers in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True once every layer has weights for the input shape.
    pub fn built(&self) -> bool {
        !self.shapes.is_empty() || self.layers.is_empty()
    }

    /// Builds every layer for `input_shape` (with the batch axis, `None` allowed).
    ///
    /// # Errors
    /// When a layer cannot take its input; the error names the layer and the shape.
    pub fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let mut shape = input_shape.to_vec();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for l in self.layers.iter_mut() {
            if !l.built() {
                l.build(&shape)?;
            }
            shape = l.compute_output_shape(&shape)?;
            shapes.push(shape.clone());
        }
        self.input_shape = Some(input_shape.to_vec());
        self.shapes = shapes;
        Ok(())
    }

    fn ensure_built(&mut self, x: &Tensor) -> Result<()> {
        if self.built() {
            return Ok(());
        }
        let shape = match &self.input_shape {
            Some(s) => s.clone(),
            None => std::iter::once(None)
                .chain(x.shape()[1..].iter().map(|&d| Some(d)))
                .collect(),
        };
        self.build(&shape)
    }

    /// All weights, layer by layer.
    pub fn weights(&self) -> Vec<Variable> {
        self.layers.iter().flat_map(|l| l.weights()).collect()
    }

    /// Weights the optimizer updates.
    pub fn trainable_weights(&self) -> Vec<Variable> {
        self.layers.iter().flat_map(|l| l.trainable_weights()).collect()
    }

    /// Number of scalars in all weights.
    pub fn count_params(&self) -> usize {
        self.layers.iter().map(|l| l.count_params()).sum()
    }

    /// Keras's summary table (layer, output shape, parameter count, totals).
    ///
    /// # Errors
    /// When the model cannot be built from its declared input shape.
    pub fn summary(&mut self) -> Result<String> {
        if !self.built() {
            let s = self.input_shape.clone().ok_or_else(|| Error::InvalidArgument {
                op: "summary",
                msg: "the model is not built: give it an input shape or call it on data first".into(),
            })?;
            self.build(&s)?;
        }
        Ok(super::summary::table(&self.name, &self.layers, &self.shapes))
    }

    /// Sets the optimizer, loss and metric names (`"accuracy"` resolves from the loss and
    /// the label shapes on the first batch, as in Keras).
    ///
    /// # Errors
    /// When the model has a declared input shape that its layers cannot take.
    pub fn compile(
        &mut self,
        optimizer: Box<dyn Optimizer>,
        loss: Box<dyn Loss>,
        metrics: &[&str],
    ) -> Result<()> {
        if let Some(s) = self.input_shape.clone() {
            if !self.built() {
                self.build(&s)?;
            }
        }
        self.compiled = Some(Compiled {
            optimizer,
            loss,
            metric_names: metrics.iter().map(|s| s.to_string()).collect(),
            metrics: Vec::new(),
        });
        Ok(())
    }

    fn compiled(&mut self, op: &'static str) -> Result<Compiled> {
        self.compiled.take().ok_or_else(|| Error::InvalidArgument {
            op,
            msg: "you must call compile() before training or evaluating the model".into(),
        })
    }

    /// Trains for `args.epochs` epochs; returns the per-epoch logs.
    ///
    /// # Errors
    /// Before `compile`, for mismatched `x`/`y` sample counts, or bad arguments.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor, args: FitArgs) -> Result<History> {
        self.ensure_built(x)?;
        let mut c = self.compiled("fit")?;
        let r = trainers::fit(self, &mut c, x, y, &args);
        self.compiled = Some(c);
        r
    }

    /// Loss and metrics over `x`, `y`.
    ///
    /// # Errors
    /// Before `compile`, or for mismatched inputs.
    pub fn evaluate(&mut self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<Logs> {
        self.ensure_built(x)?;
        let mut c = self.compiled("evaluate")?;
        let r = trainers::evaluate(self, &mut c, x, y, batch_size);
        self.compiled = Some(c);
        r
    }

    /// Outputs for `x`, computed in batches with no tape.
    ///
    /// # Errors
    /// When the input does not fit the model.
    pub fn predict(&mut self, x: &Tensor, batch_size: usize) -> Result<Tensor> {
        self.ensure_built(x)?;
        trainers::predict(self, x, batch_size)
    }

    /// One gradient step on one batch; returns the loss and metrics after it.
    ///
    /// # Errors
    /// Before `compile`, or for mismatched inputs.
    pub fn train_on_batch(&mut self, x: &Tensor, y: &Tensor) -> Result<Logs> {
        self.ensure_built(x)?;
        let mut c = self.compiled("train_on_batch")?;
        let r = (|| {
            let loss = trainers::train_step(self, &mut c, x, y)?;
            let mut logs = Logs::new();
            logs.insert("loss".into(), loss);
            for m in &c.metrics {
                logs.insert(m.name().to_string(), m.result()?);
            }
            Ok(logs)
        })();
        self.compiled = Some(c);
        r
    }

    /// Loss and metrics on one batch, no update.
    ///
    /// # Errors
    /// Before `compile`, or for mismatched inputs.
    pub fn test_on_batch(&mut self, x: &Tensor, y: &Tensor) -> Result<Logs> {
        let n = x.shape().first().copied().unwrap_or(0);
        self.evaluate(x, y, n.max(1))
    }

    /// Outputs for one batch, no tape.
    ///
    /// # Errors
    /// When the input does not fit the model.
    pub fn predict_on_batch(&mut self, x: &Tensor) -> Result<Tensor> {
        self.ensure_built(x)?;
        keras_tensor::no_grad(|| self.forward(x, false))
    }

    /// The forward pass (recorded when called outside `no_grad`, for custom loops).
    ///
    /// # Errors
    /// When the input does not fit the model.
    pub fn call(&mut self, x: &Tensor, training: bool) -> Result<Tensor> {
        self.ensure_built(x)?;
        self.forward(x, training)
    }
}

impl Model for Sequential {
    fn forward(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.call(&h, training)?;
        }
        Ok(h)
    }
    fn trainable_variables(&self) -> Vec<Variable> {
        self.trainable_weights()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Conv2D, Dense, Flatten, MaxPooling2D};
    use crate::{losses, optimizers};
    use keras_tensor::{DType, Device};

    /// Two Gaussian blobs per class in 2-D: an MLP must separate them.
    fn blobs(n: usize, seed: u64) -> (Tensor, Tensor) {
        let cpu = Device::Cpu;
        let y = Tensor::random_uniform(&[n], 0.0, 3.0, seed, DType::F32, &cpu)
            .unwrap()
            .floor()
            .unwrap();
        let centers = Tensor::new(&[-2.0f32, 0.0, 2.0, 2.0, 2.0, -2.0], &[3, 2]).unwrap();
        let labels = y.cast(DType::I64).unwrap();
        let x = centers
            .index_select(&labels, 0)
            .unwrap()
            .add(&Tensor::random_normal(&[n, 2], 0.0, 0.5, seed + 1, DType::F32, &cpu).unwrap())
            .unwrap();
        (x, labels)
    }

    #[test]
    fn an_mlp_learns_a_separable_problem() {
        crate::set_random_seed(3);
        let (x, y) = blobs(600, 1);
        let mut model = Sequential::new(vec![
            Box::new(Dense::new(16).activation("relu").unwrap()),
            Box::new(Dense::new(3).activation("softmax").unwrap()),
        ])
        .input_shape(&[2]);
        model
            .compile(
                optimizers::get("adam").unwrap(),
                losses::get("sparse_categorical_crossentropy").unwrap(),
                &["accuracy"],
            )
            .unwrap();
        let args = FitArgs {
            epochs: 10,
            batch_size: 32,
            verbose: 0,
            validation_split: 0.2,
            ..Default::default()
        };
        let h = model.fit(&x, &y, args).unwrap();
        let loss = &h.history["loss"];
        assert!(
            loss[loss.len() - 1] < loss[0] * 0.5,
            "loss did not fall: {loss:?}"
        );
        let (xt, yt) = blobs(300, 7);
        let logs = model.evaluate(&xt, &yt, 64).unwrap();
        assert!(logs["accuracy"] > 0.95, "{logs:?}");
        assert!(h.history.contains_key("val_loss") && h.history.contains_key("val_accuracy"));
        assert_eq!(model.predict(&xt, 50).unwrap().shape(), &[300, 3]);
    }

    #[test]
    fn summary_counts_match_keras_for_the_mnist_convnet() {
        // keras.io "Simple MNIST convnet": Keras prints Total params: 34,826.
        let mut model = Sequential::new(vec![
            Box::new(Conv2D::new(32, 3).activation("relu").unwrap()),
            Box::new(MaxPooling2D::new(2)),
            Box::new(Conv2D::new(64, 3).activation("relu").unwrap()),
            Box::new(MaxPooling2D::new(2)),
            Box::new(Flatten::new()),
            Box::new(crate::layers::Dropout::new(0.5).unwrap()),
            Box::new(Dense::new(10).activation("softmax").unwrap()),
        ])
        .input_shape(&[28, 28, 1]);
        let s = model.summary().unwrap();
        assert!(s.contains("Total params: 34,826 (136.04 KB)"), "{s}");
        assert!(
            s.contains("(None, 5, 5, 64)") && s.contains("(None, 1600)"),
            "{s}"
        );
        assert_eq!(model.count_params(), 34_826);
    }

    #[test]
    fn misuse_gives_clear_errors() {
        let mut model = Sequential::new(vec![Box::new(Dense::new(2))]).input_shape(&[3]);
        let x = Tensor::zeros(&[4, 3], DType::F32, &Device::Cpu).unwrap();
        let y = Tensor::zeros(&[4], DType::I64, &Device::Cpu).unwrap();
        let e = model.fit(&x, &y, FitArgs::default()).unwrap_err().to_string();
        assert!(e.contains("compile"), "{e}");
        let mut bad = Sequential::new(vec![Box::new(Conv2D::new(2, 3).name("c1"))]).input_shape(&[5]);
        let e = bad.summary().unwrap_err().to_string();
        assert!(e.contains("c1") && e.contains("(None, 5)"), "{e}");
    }
}
