//! `Lambda`: a layer wrapping a Rust closure.

use super::{arity_error, base_config, fmt_shape, unique_name, Layer, Shape};
use keras_tensor::{no_grad, DType, Device, Error, Result, Tensor};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The wrapped function: the inputs in, one tensor out.
type LambdaFn = dyn Fn(&[Tensor]) -> Result<Tensor> + Send + Sync;

/// Wraps a closure as a layer, as `keras.layers.Lambda`: [`Lambda::new`] for a function of one
/// tensor, [`Lambda::new_multi`] for a function of a list of tensors (a merge of your own).
///
/// The output shape is [`Lambda::output_shape`] when given (the dimensions after the batch,
/// as in Keras; the batch is the first input's). Otherwise it is inferred by running the
/// closure under [`no_grad`] on float32 zeros of the input shapes, with batch 1 and batch 2
/// (dimensions that follow the batch come out unknown); an input shape with an unknown
/// dimension past the batch cannot be inferred that way, and the error asks for
/// `output_shape`.
///
/// A closure is code, so it does not round-trip through a config: [`Layer::get_config`]
/// writes `name`, `trainable`, `dtype` and `output_shape`, and [`Lambda::from_config`]
/// refuses (Keras stores Python bytecode there, and loading never executes code). The
/// layer has no weights: variables the closure captures are not tracked or trained.
///
/// ```
/// use keras::layers::{Lambda, Layer};
/// use keras_tensor::Tensor;
/// let mut double = Lambda::new(|x| x.mul_scalar(2.0));
/// double.build(&[None, Some(3)])?;
/// assert_eq!(double.compute_output_shape(&[None, Some(3)])?, vec![None, Some(3)]);
/// let x = Tensor::new(&[1.0f32, 2.0, 3.0], &[1, 3])?;
/// assert_eq!(double.call(&x, false)?.to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
///
/// // A merge of two inputs, with its output shape given.
/// let diff_sq = Lambda::new_multi(|xs| xs[0].sub(&xs[1])?.square()).output_shape(&[Some(3)]);
/// let y = diff_sq.call_multi(&[x.clone(), x.zeros_like()?], false)?;
/// assert_eq!(y[0].to_vec::<f32>()?, vec![1.0, 4.0, 9.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Lambda {
    name: String,
    trainable: bool,
    built: bool,
    f: Arc<LambdaFn>,
    /// `Some(1)` for [`Lambda::new`], `None` (any number) for [`Lambda::new_multi`].
    n_inputs: Option<usize>,
    output_shape: Option<Shape>,
    /// The last inferred `(input shapes, output shape)`.
    inferred: Mutex<Option<(Vec<Shape>, Shape)>>,
}

impl Lambda {
    /// Wraps a function of one tensor.
    pub fn new(f: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static) -> Lambda {
        Lambda::with(Arc::new(move |xs: &[Tensor]| f(&xs[0])), Some(1))
    }

    /// Wraps a function of a list of tensors (called with every input, in order).
    pub fn new_multi(f: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static) -> Lambda {
        Lambda::with(Arc::new(f), None)
    }

    fn with(f: Arc<LambdaFn>, n_inputs: Option<usize>) -> Lambda {
        Lambda {
            name: unique_name("lambda"),
            trainable: true,
            built: false,
            f,
            n_inputs,
            output_shape: None,
            inferred: Mutex::new(None),
        }
    }

    /// Declares the output shape past the batch axis (Keras's `output_shape` tuple), so it
    /// is not inferred by running the closure.
    pub fn output_shape(mut self, shape: &[Option<usize>]) -> Lambda {
        self.output_shape = Some(shape.to_vec());
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Lambda {
        self.name = name.to_string();
        self
    }

    /// Always an error: a closure cannot be rebuilt from a config. Keras's `Lambda` config
    /// holds Python bytecode, and loading here never executes code; rebuild the `Lambda` in
    /// code, or write a [`Layer`] with a real config and register it with
    /// [`register_layer`](super::register_layer).
    ///
    /// # Errors
    /// Always.
    pub fn from_config(c: &Value) -> Result<Lambda> {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("lambda");
        Err(Error::InvalidArgument {
            op: "Lambda.from_config",
            msg: format!(
                "cannot rebuild Lambda layer {name:?} from a config: its function is code (Keras \
                 saves Python bytecode), and loading never executes code; rebuild the Lambda in \
                 Rust, or write a Layer with a config and register it with register_layer"
            ),
        })
    }

    fn check_arity(&self, n: usize) -> Result<()> {
        match self.n_inputs {
            Some(k) if k != n => Err(arity_error(&self.name, "1 input", n)),
            None if n == 0 => Err(arity_error(&self.name, "at least 1 input", n)),
            _ => Ok(()),
        }
    }

    /// Runs the closure on zeros of `shapes` with the batch axis set to `batch`.
    fn probe(&self, shapes: &[Shape], batch: usize) -> Result<Vec<usize>> {
        let mut xs = Vec::with_capacity(shapes.len());
        for s in shapes {
            let dims: Vec<usize> = s
                .iter()
                .enumerate()
                .map(|(i, d)| if i == 0 { batch } else { d.unwrap_or(0) })
                .collect();
            xs.push(Tensor::zeros(&dims, DType::F32, &Device::Cpu)?);
        }
        let y = no_grad(|| (self.f)(&xs)).map_err(|e| Error::InvalidArgument {
            op: "build",
            msg: format!(
                "layer {:?}: inferring the output shape by calling the function on zeros failed \
                 ({e}); pass output_shape",
                self.name
            ),
        })?;
        Ok(y.shape().to_vec())
    }

    /// The output shape from running the closure on zeros (batch 1 and 2, or the known
    /// batch): dimensions that change with the batch are unknown.
    fn infer(&self, shapes: &[Shape]) -> Result<Shape> {
        if let Some(s) = shapes
            .iter()
            .find(|s| s.is_empty() || s[1..].iter().any(Option::is_none))
        {
            let all: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {:?} cannot infer its output shape for input shape {} (it runs the \
                     function on zeros, which needs every dimension past the batch known; inputs \
                     [{}]); pass output_shape",
                    self.name,
                    fmt_shape(s),
                    all.join(", ")
                ),
            });
        }
        let batches: Vec<Option<usize>> = shapes.iter().map(|s| s[0]).collect();
        if let Some(b) = batches.iter().flatten().next() {
            if batches.iter().all(|d| d == &Some(*b)) {
                return Ok(self.probe(shapes, *b)?.into_iter().map(Some).collect());
            }
        }
        let (one, two) = (self.probe(shapes, 1)?, self.probe(shapes, 2)?);
        if one.len() != two.len() {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {:?}: the output rank depends on the batch size ({one:?} for batch 1, \
                     {two:?} for batch 2); pass output_shape",
                    self.name
                ),
            });
        }
        Ok(one
            .iter()
            .zip(&two)
            .map(|(&a, &b)| (a == b).then_some(a))
            .collect())
    }

    fn output_shape_for(&self, shapes: &[Shape]) -> Result<Shape> {
        self.check_arity(shapes.len())?;
        if let Some(out) = &self.output_shape {
            let batch = shapes[0].first().copied().flatten();
            return Ok(std::iter::once(batch).chain(out.iter().copied()).collect());
        }
        let mut cache = self.inferred.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((ins, out)) = cache.as_ref() {
            if ins == shapes {
                return Ok(out.clone());
            }
        }
        let out = self.infer(shapes)?;
        *cache = Some((shapes.to_vec(), out.clone()));
        Ok(out)
    }
}

impl Layer for Lambda {
    super::layer_common!("Lambda");
    fn built(&self) -> bool {
        self.built
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.build_multi(&[input_shape.to_vec()])
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        self.output_shape_for(&[input_shape.to_vec()])
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        (self.f)(std::slice::from_ref(x))
    }
    fn build_multi(&mut self, input_shapes: &[Shape]) -> Result<()> {
        self.output_shape_for(input_shapes)?;
        self.built = true;
        Ok(())
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output_shape_for(input_shapes)?])
    }
    fn call_multi(&self, inputs: &[Tensor], _training: bool) -> Result<Vec<Tensor>> {
        self.check_arity(inputs.len())?;
        Ok(vec![(self.f)(inputs)?])
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        if let Some(s) = &self.output_shape {
            m.insert("output_shape".into(), json!(s));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Layer;
    use super::Lambda;
    use keras_tensor::Tensor;

    fn x23() -> Tensor {
        Tensor::new(&[1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3]).unwrap()
    }

    #[test]
    fn lambda_infers_its_output_shape() {
        let mut l = Lambda::new(|x| x.abs()?.sum(&[-1], true));
        l.build(&[None, Some(3)]).unwrap();
        assert!(l.built());
        assert_eq!(
            l.compute_output_shape(&[None, Some(3)]).unwrap(),
            vec![None, Some(1)]
        );
        assert_eq!(
            l.call(&x23(), false).unwrap().to_vec::<f32>().unwrap(),
            vec![6.0, 15.0]
        );
        // A known batch is kept; a reduction over the batch gives a fixed dimension.
        assert_eq!(
            l.compute_output_shape(&[Some(4), Some(3)]).unwrap(),
            vec![Some(4), Some(1)]
        );
        let over_batch = Lambda::new(|x| x.sum(&[0], true));
        assert_eq!(
            over_batch.compute_output_shape(&[None, Some(3)]).unwrap(),
            vec![Some(1), Some(3)]
        );
        // Inference runs without recording gradients.
        let probe = Lambda::new(|x| {
            assert!(!keras_tensor::is_recording());
            Ok(x.clone())
        });
        probe.compute_output_shape(&[None, Some(2)]).unwrap();
    }

    #[test]
    fn lambda_asks_for_output_shape_when_it_cannot_infer() {
        let l = Lambda::new(|x| x.mul_scalar(2.0)).name("twice");
        let e = l
            .compute_output_shape(&[None, None, Some(3)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"twice\"") && e.contains("(None, None, 3)") && e.contains("pass output_shape"),
            "{e}"
        );
        let failing = Lambda::new(|x| x.reshape(&[7]));
        let e = failing
            .compute_output_shape(&[None, Some(3)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("pass output_shape"), "{e}");
        let given = Lambda::new(|x| x.mul_scalar(2.0)).output_shape(&[None, Some(3)]);
        assert_eq!(
            given.compute_output_shape(&[None, None, Some(3)]).unwrap(),
            vec![None, None, Some(3)]
        );
    }

    #[test]
    fn lambda_multi_input() {
        let mut l = Lambda::new_multi(|xs| Tensor::concat(&[&xs[0], &xs[1], &xs[0]], -1));
        l.build_multi(&[vec![None, Some(3)], vec![None, Some(2)]])
            .unwrap();
        assert_eq!(
            l.compute_output_shapes(&[vec![None, Some(3)], vec![None, Some(2)]])
                .unwrap(),
            vec![vec![None, Some(8)]]
        );
        let y = l.call_multi(
            &[x23(), Tensor::new(&[0.0f32, 0.5, 1.0, 1.5], &[2, 2]).unwrap()],
            false,
        );
        assert_eq!(y.unwrap()[0].shape(), &[2, 8]);
        // A single-input Lambda refuses a list of 2.
        let single = Lambda::new(|x| Ok(x.clone())).name("one");
        let e = single.call_multi(&[x23(), x23()], false).unwrap_err().to_string();
        assert!(e.contains("layer \"one\" expects 1 input, got 2"), "{e}");
    }

    #[test]
    fn lambda_gradients_flow_through_the_closure() {
        let l = Lambda::new(|x| x.square());
        keras_tensor::testing::check_grad("lambda", &[&keras_tensor::testing::randn(&[2, 3], 1)], |t| {
            l.call(&t[0], true)
        });
    }

    #[test]
    fn lambda_config_has_no_function_and_does_not_load() {
        let l = Lambda::new(|x| Ok(x.clone())).name("id").output_shape(&[Some(3)]);
        let c = l.get_config();
        assert_eq!(c["name"], "id");
        assert_eq!(c["trainable"], true);
        assert_eq!(c["dtype"]["config"]["name"], "float32");
        assert_eq!(c["output_shape"], serde_json::json!([3]));
        assert!(c.get("function").is_none());
        assert!(Lambda::new(|x| Ok(x.clone()))
            .get_config()
            .get("output_shape")
            .is_none());
        let e = Lambda::from_config(&c).err().unwrap().to_string();
        assert!(e.contains("\"id\"") && e.contains("never executes code"), "{e}");
        // Not in the registry: loading a model with a Lambda fails as an unknown class.
        assert!(super::super::from_config("Lambda", &c).is_err());
    }
}
