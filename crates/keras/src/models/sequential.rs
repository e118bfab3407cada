//! `Sequential`: a plain stack of layers, each feeding the next.

use super::functional::LayerRef;
use super::summary::{self, Row};
use crate::layers::{fmt_shape, unique_name, Layer, Shape};
use crate::trainers::{Compiled, Trainer};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};
use std::sync::RwLock;

/// A linear stack of layers, as `keras.Sequential`. It is also a [`Layer`], so it can sit
/// inside another model.
///
/// ```
/// use keras::layers::{Dense, Dropout};
/// use keras::{losses, optimizers, trainers::Trainer, FitArgs, Sequential};
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
    trainable: bool,
    layers: Vec<LayerRef>,
    /// The input shape and each layer's output shape, once built.
    built: RwLock<Option<(Shape, Vec<Shape>)>>,
    declared_input: Option<Shape>,
    /// A fixed batch size for the input (Keras's `keras.Input(shape, batch_size=...)`).
    batch_size: Option<usize>,
    /// In a mutex only so the model is `Sync` as a layer must be; `&mut self` reaches it freely.
    compiled: std::sync::Mutex<Option<Compiled>>,
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Sequential name={}, layers={}>", self.name, self.layers.len())
    }
}

impl Sequential {
    /// A model from a list of layers (built on first use, or at `compile` after
    /// [`Sequential::input_shape`]).
    pub fn new(layers: Vec<Box<dyn Layer>>) -> Sequential {
        Sequential {
            name: unique_name("sequential"),
            trainable: true,
            layers: layers.into_iter().map(LayerRef::from_box).collect(),
            built: RwLock::new(None),
            declared_input: None,
            batch_size: None,
            compiled: std::sync::Mutex::new(None),
        }
    }

    /// Declares the input shape without the batch axis (Keras's `keras.Input(shape=...)` as
    /// the first entry); the model is built at `compile`.
    pub fn input_shape(mut self, shape: &[usize]) -> Sequential {
        let mut s: Shape = vec![self.batch_size];
        s.extend(shape.iter().map(|&d| Some(d)));
        self.declared_input = Some(s);
        self
    }

    /// Fixes the input's batch size (Keras's `keras.Input(shape, batch_size=n)` as the first
    /// entry), as stateful recurrent layers need; every batch given to the model must then
    /// have it.
    ///
    /// ```
    /// use keras::layers::{Layer, LSTM};
    /// use keras::Sequential;
    /// use keras_tensor::{DType, Device, Tensor};
    /// let model = Sequential::new(vec![Box::new(LSTM::new(4).stateful(true))])
    ///     .input_shape(&[6, 3])
    ///     .batch_size(2);
    /// let x = Tensor::ones(&[2, 6, 3], DType::F32, &Device::Cpu)?;
    /// assert_eq!(model.call(&x, false)?.shape(), &[2, 4]);
    /// assert!(model.call(&Tensor::ones(&[3, 6, 3], DType::F32, &Device::Cpu)?, false).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn batch_size(mut self, n: usize) -> Sequential {
        self.batch_size = Some(n);
        if let Some(s) = &mut self.declared_input {
            s[0] = Some(n);
        }
        self
    }

    /// Renames the model.
    pub fn named(mut self, name: &str) -> Sequential {
        self.name = name.to_string();
        self
    }

    /// Appends a layer.
    pub fn add(&mut self, layer: Box<dyn Layer>) {
        self.layers.push(LayerRef::from_box(layer));
        *write(&self.built) = None;
    }

    /// Removes and returns the last layer.
    pub fn pop(&mut self) -> Option<LayerRef> {
        *write(&self.built) = None;
        self.layers.pop()
    }

    /// The layers in order.
    pub fn layers(&self) -> &[LayerRef] {
        &self.layers
    }

    /// The layer called `name`.
    pub fn get_layer(&self, name: &str) -> Option<LayerRef> {
        self.layers.iter().find(|l| l.name() == name).cloned()
    }

    /// The input shape the model was built for (batch dimension `None` unless fixed by
    /// [`Sequential::batch_size`]), once built.
    pub fn built_input_shape(&self) -> Option<Shape> {
        read(&self.built).as_ref().map(|b| b.0.clone())
    }

    /// True once every layer has weights for an input shape.
    pub fn is_built(&self) -> bool {
        read(&self.built).is_some()
    }

    /// Builds every layer for `input_shape` (with the batch axis, `None` allowed).
    ///
    /// # Errors
    /// When a layer cannot take its input; the error names the layer and the shape.
    pub fn build_for(&self, input_shape: &[Option<usize>]) -> Result<()> {
        let mut shape = input_shape.to_vec();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let mut l = l.write();
            if !l.built() {
                l.build(&shape)?;
            }
            shape = l.compute_output_shape(&shape)?;
            shapes.push(shape.clone());
        }
        *write(&self.built) = Some((input_shape.to_vec(), shapes));
        Ok(())
    }

    fn ensure_built(&self, x: &Tensor) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        let shape = match &self.declared_input {
            Some(s) => s.clone(),
            None => std::iter::once(self.batch_size)
                .chain(x.shape()[1..].iter().map(|&d| Some(d)))
                .collect(),
        };
        self.build_for(&shape)
    }

    fn all_weights(&self) -> Vec<Variable> {
        self.layers.iter().flat_map(|l| l.read().weights()).collect()
    }

    /// Number of scalars in all weights.
    pub fn count_params(&self) -> usize {
        self.layers.iter().map(|l| l.read().count_params()).sum()
    }

    /// Keras's summary table (layer, output shape, parameter count, totals).
    ///
    /// # Errors
    /// When the model cannot be built from its declared input shape.
    pub fn summary(&self) -> Result<String> {
        if !self.is_built() {
            let s = self
                .declared_input
                .clone()
                .ok_or_else(|| Error::InvalidArgument {
                    op: "summary",
                    msg: "the model is not built: give it an input shape or call it on data first".into(),
                })?;
            self.build_for(&s)?;
        }
        let built = read(&self.built);
        let shapes = built.as_ref().map(|b| b.1.clone()).unwrap_or_default();
        let rows: Vec<Row> = self
            .layers
            .iter()
            .zip(&shapes)
            .map(|(l, s)| {
                let l = l.read();
                Row {
                    name: format!("{} ({})", l.name(), l.class_name()),
                    shape: fmt_shape(s),
                    params: l.count_params(),
                    connected: None,
                }
            })
            .collect();
        let trainable = Layer::trainable_weights(self).iter().map(Variable::numel).sum();
        let compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        let optimizer = summary::optimizer_params(compiled.as_ref());
        Ok(summary::table(
            &self.name,
            &rows,
            self.count_params(),
            trainable,
            optimizer,
        ))
    }

    fn run(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        Ok(self.run_masked(x, None, training)?.0)
    }

    /// Runs the stack, threading Keras's mask from layer to layer: each layer gets its
    /// input's mask ([`Layer::call_masked`]) and gives its output's
    /// ([`Layer::compute_mask`]). Returns the output and its mask.
    fn run_masked(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        self.ensure_built(x)?;
        let mut h = x.clone();
        let mut mask = mask.cloned();
        let mut i = 0;
        while let Some(l) = self.layers.get(i) {
            i += 1;
            // Inference: a layer absorbs the per-channel maps after it (`fusion`).
            if !training && mask.is_none() {
                let next: Vec<&LayerRef> = self.layers[i..].iter().take(4).collect();
                if let Some((used, y)) = super::fusion::fuse(l, &h, &next)? {
                    h = y;
                    i += used;
                    continue;
                }
            }
            let l = l.read();
            let (mut ys, ms) =
                l.call_multi_masked(std::slice::from_ref(&h), std::slice::from_ref(&mask), training)?;
            if ys.len() != 1 {
                return Err(Error::InvalidArgument {
                    op: "call",
                    msg: format!(
                        "layer {:?} gives {} outputs; a Sequential model needs one per layer: use it in \
                         a functional model",
                        l.name(),
                        ys.len()
                    ),
                });
            }
            h = ys.remove(0);
            mask = ms.into_iter().next().flatten();
        }
        Ok((h, mask))
    }

    /// The output's mask for input `x` (`None` when no layer makes one or a layer drops it):
    /// `Embedding(mask_zero)` or `Masking` make one, and layers that support masking keep it.
    ///
    /// ```
    /// use keras::layers::{Embedding, LSTM};
    /// use keras::Sequential;
    /// use keras_tensor::Tensor;
    /// let model = Sequential::new(vec![
    ///     Box::new(Embedding::new(10, 4)?.mask_zero(true)),
    ///     Box::new(LSTM::new(3).return_sequences(true)),
    /// ]);
    /// let x = Tensor::new(&[3i64, 5, 0, 0], &[1, 4])?;
    /// let m = model.output_mask(&x)?.expect("a mask");
    /// assert_eq!(m.to_vec::<bool>()?, vec![true, true, false, false]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::predict`].
    pub fn output_mask(&self, x: &Tensor) -> Result<Option<Tensor>> {
        keras_tensor::no_grad(|| Ok(self.run_masked(x, None, false)?.1))
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

super::saving_methods!(Sequential);

impl Trainer for Sequential {
    fn forward(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        match inputs {
            [x] => Ok(vec![self.run(x, training)?]),
            _ => Err(crate::layers::arity_error(&self.name, "1 input", inputs.len())),
        }
    }
    fn forward_masked(
        &self,
        inputs: &[Tensor],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        match inputs {
            [x] => {
                let (y, m) = self.run_masked(x, None, training)?;
                Ok((vec![y], vec![m]))
            }
            _ => Err(crate::layers::arity_error(&self.name, "1 input", inputs.len())),
        }
    }
    fn variables(&self) -> Vec<Variable> {
        self.all_weights()
    }
    fn trainable_variables(&self) -> Vec<Variable> {
        Layer::trainable_weights(self)
    }
    fn compiled_slot(&mut self) -> &mut Option<Compiled> {
        self.compiled.get_mut().unwrap_or_else(|p| p.into_inner())
    }
    fn prepare(&mut self, inputs: &[Tensor]) -> Result<()> {
        match inputs.first() {
            Some(x) => self.ensure_built(x),
            None => Ok(()),
        }
    }
    fn as_layer(&self) -> Option<&dyn Layer> {
        Some(self)
    }
    fn compile_with(&mut self, args: crate::trainers::CompileArgs) -> Result<()> {
        if let Some(s) = self.declared_input.clone() {
            if !self.is_built() {
                self.build_for(&s)?;
            }
        }
        crate::trainers::compile_into(self, args)
    }
}

/// A sequential model used as a layer of another model.
impl Layer for Sequential {
    fn class_name(&self) -> &'static str {
        "Sequential"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn built(&self) -> bool {
        self.is_built()
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for l in &self.layers {
            l.write().set_trainable(trainable);
        }
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.build_for(input_shape)
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        let mut s = input_shape.to_vec();
        for l in &self.layers {
            s = l.read().compute_output_shape(&s)?;
        }
        Ok(s)
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        self.run(x, training)
    }
    fn supports_masking(&self) -> bool {
        true
    }
    fn call_masked(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<Tensor> {
        Ok(self.run_masked(x, mask, training)?.0)
    }
    /// Runs the stack (for its output's mask): prefer [`Layer::call_multi_masked`], which
    /// gives both from one run.
    fn compute_mask(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        keras_tensor::no_grad(|| Ok(self.run_masked(x, mask, false)?.1))
    }
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let [x] = inputs else {
            return Err(crate::layers::arity_error(&self.name, "1 input", inputs.len()));
        };
        let (y, m) = self.run_masked(x, masks.first().and_then(Option::as_ref), training)?;
        Ok((vec![y], vec![m]))
    }
    fn weights(&self) -> Vec<Variable> {
        self.all_weights()
    }
    fn trainable_weights(&self) -> Vec<Variable> {
        if !self.trainable {
            return Vec::new();
        }
        self.layers
            .iter()
            .flat_map(|l| l.read().trainable_weights())
            .collect()
    }
    fn non_trainable_weights(&self) -> Vec<Variable> {
        let t = Layer::trainable_weights(self);
        self.all_weights()
            .into_iter()
            .filter(|w| !t.iter().any(|x| x.same_as(w)))
            .collect()
    }
    fn sublayers(&self) -> Vec<LayerRef> {
        self.layers.clone()
    }
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        vec![(String::new(), Vec::new())]
    }
    fn get_config(&self) -> Value {
        let built = read(&self.built);
        let input = built
            .as_ref()
            .map(|b| b.0.clone())
            .or_else(|| self.declared_input.clone());
        let mut layers: Vec<Value> = Vec::new();
        if let Some(s) = &input {
            layers.push(json!({"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": s, "dtype": "float32", "sparse": false, "ragged": false,
                           "name": unique_name("input_layer"), "optional": false},
                "registered_name": null}));
        }
        for l in &self.layers {
            let l = l.read();
            layers.push(crate::layers::serialize(&**l));
        }
        let mut m = crate::layers::base_config(&self.name, self.trainable);
        m.insert("layers".into(), Value::Array(layers));
        if let Some(s) = input {
            m.insert("build_input_shape".into(), json!(s));
        }
        Value::Object(m)
    }
}

impl Sequential {
    /// Rebuilds a model from [`Layer::get_config`] output (or Keras's): each layer through the
    /// registry; a leading `InputLayer` gives the input shape.
    ///
    /// # Errors
    /// For unknown layer classes or malformed configs.
    pub fn from_config(c: &Value) -> Result<Sequential> {
        let bad = |m: String| Error::InvalidArgument {
            op: "Sequential.from_config",
            msg: m,
        };
        let specs = c
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing \"layers\"".into()))?;
        let mut model = Sequential::new(Vec::new());
        let mut input: Option<Shape> = None;
        for spec in specs {
            let class = spec.get("class_name").and_then(Value::as_str).unwrap_or("");
            let config = spec.get("config").cloned().unwrap_or(Value::Null);
            if class == "InputLayer" {
                input = Some(
                    serde_json::from_value(config.get("batch_shape").cloned().unwrap_or(Value::Null))
                        .map_err(|e| bad(format!("InputLayer batch_shape: {e}")))?,
                );
                continue;
            }
            model.add(crate::layers::from_config(class, &config)?);
        }
        if let Some(n) = c.get("name").and_then(Value::as_str) {
            model.name = n.to_string();
        }
        model.trainable = c.get("trainable").and_then(Value::as_bool).unwrap_or(true);
        let input = input.or_else(|| {
            c.get("build_input_shape")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
        });
        if let Some(s) = input {
            model.build_for(&s)?;
            model.declared_input = Some(s);
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Conv2D, Dense, Flatten, MaxPooling2D};
    use crate::{losses, optimizers, FitArgs};
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
        let model = Sequential::new(vec![
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
        let bad = Sequential::new(vec![Box::new(Conv2D::new(2, 3).name("c1"))]).input_shape(&[5]);
        let e = bad.summary().unwrap_err().to_string();
        assert!(e.contains("c1") && e.contains("(None, 5)"), "{e}");
    }
}
