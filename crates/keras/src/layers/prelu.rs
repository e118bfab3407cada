//! `PReLU`: the parametric ReLU, with a learned slope below zero.

use super::{base_config, config_name, fmt_shape, shape_error, unique_name, Layer, Shape, WeightRules};
use crate::constraints::Constraint;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// The parametric rectified linear unit, as `keras.layers.PReLU`:
/// `f(x) = max(x, 0) - alpha * max(-x, 0)`, with a learned `alpha` per input position
/// (shape `input_shape[1..]`), shared along `shared_axes` (numbered from 1, as in Keras;
/// e.g. `[1, 2]` for one slope per channel of `(batch, h, w, channels)` images).
///
/// ```
/// use keras::layers::{Layer, PReLU};
/// let mut p = PReLU::new().alpha_initializer("ones")?.shared_axes(&[1, 2]);
/// p.build(&[None, Some(8), Some(8), Some(3)])?;
/// assert_eq!(p.alpha().unwrap().shape(), vec![1, 1, 3]);
/// let y = p.call(&keras_tensor::Tensor::new(&[-2.0f32, 1.0, 3.0], &[1, 1, 1, 3])?, false)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![-2.0, 1.0, 3.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct PReLU {
    name: String,
    alpha_initializer: Initializer,
    alpha_rules: WeightRules,
    shared_axes: Option<Vec<usize>>,
    trainable: bool,
    input_shape: Option<Shape>,
    alpha: Option<Variable>,
}

/// `relu(x) - alpha * relu(-x)`, Keras's formula.
pub(crate) fn prelu(x: &Tensor, alpha: &Tensor) -> Result<Tensor> {
    x.relu()?.sub(&alpha.mul(&x.neg()?.relu()?)?)
}

impl PReLU {
    /// A PReLU with `alpha` initialized to zeros, no regularizer, constraint or sharing.
    #[allow(clippy::new_without_default)]
    pub fn new() -> PReLU {
        PReLU {
            name: unique_name("p_re_lu"),
            alpha_initializer: Initializer::Zeros,
            alpha_rules: WeightRules::default(),
            shared_axes: None,
            trainable: true,
            input_shape: None,
            alpha: None,
        }
    }

    /// Sets the `alpha` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn alpha_initializer(mut self, name: &str) -> Result<PReLU> {
        self.alpha_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Adds a penalty on `alpha` to the training loss.
    pub fn alpha_regularizer(mut self, r: Regularizer) -> PReLU {
        self.alpha_rules.regularizer = Some(r);
        self
    }

    /// Constrains `alpha` after each optimizer step.
    pub fn alpha_constraint(mut self, c: Constraint) -> PReLU {
        self.alpha_rules.constraint = Some(c);
        self
    }

    /// Axes (numbered from 1, the batch axis being 0) along which one slope is shared.
    pub fn shared_axes(mut self, axes: &[usize]) -> PReLU {
        self.shared_axes = Some(axes.to_vec());
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> PReLU {
        self.name = name.to_string();
        self
    }

    /// The slopes, once built.
    pub fn alpha(&self) -> Option<&Variable> {
        self.alpha.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For an unknown initializer, regularizer or constraint, or a malformed `shared_axes`.
    pub fn from_config(c: &Value) -> Result<PReLU> {
        let mut p = PReLU::new();
        p.name = config_name(c, "p_re_lu")?;
        p.trainable = super::field(c, "trainable", true)?;
        if let Some(v) = c.get("alpha_initializer").filter(|v| !v.is_null()) {
            p.alpha_initializer = Initializer::from_config(v)?;
        }
        p.alpha_rules = WeightRules::from_config(c, "alpha")?;
        p.shared_axes = match c.get("shared_axes") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(vec![n.as_u64().ok_or_else(|| bad_axes(c))? as usize]),
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| bad_axes(c))?),
        };
        Ok(p)
    }

    /// The shape of `alpha` for `input_shape`.
    fn param_shape(&self, input_shape: &[Option<usize>]) -> Result<Vec<usize>> {
        if input_shape.len() < 2 {
            return Err(shape_error(
                &self.name,
                "rank >= 2 (batch, features...)",
                input_shape,
            ));
        }
        let rank = input_shape.len();
        let shared = self.shared_axes.as_deref().unwrap_or(&[]);
        if let Some(a) = shared.iter().find(|&&a| a == 0 || a >= rank) {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {:?}: shared axis {a} is out of range for input shape {} (axes are \
                     numbered from 1, the batch axis being 0)",
                    self.name,
                    fmt_shape(input_shape)
                ),
            });
        }
        (1..rank)
            .map(|i| {
                if shared.contains(&i) {
                    Ok(1)
                } else {
                    input_shape[i].ok_or_else(|| {
                        shape_error(
                            &self.name,
                            &format!("a known size on every non-shared axis (axis {i} is unknown)"),
                            input_shape,
                        )
                    })
                }
            })
            .collect()
    }
}

fn bad_axes(c: &Value) -> Error {
    Error::InvalidArgument {
        op: "PReLU.from_config",
        msg: format!(
            "shared_axes must be null, an integer or a list of integers >= 1, got {}",
            c["shared_axes"]
        ),
    }
}

impl Layer for PReLU {
    super::layer_common!("PReLU");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        self.alpha.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let shape = self.param_shape(input_shape)?;
        let value = self.alpha_initializer.sample(&shape, DType::F32)?;
        self.alpha = Some(self.alpha_rules.attach(Variable::new("alpha", value, true)));
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        self.param_shape(input_shape)?;
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (Some(alpha), Some(built)) = (&self.alpha, &self.input_shape) else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        // Keras's input spec: same rank, same size on every non-shared axis.
        let shared = self.shared_axes.as_deref().unwrap_or(&[]);
        let ok = x.rank() == built.len()
            && (1..built.len()).all(|i| shared.contains(&i) || built[i] == Some(x.shape()[i]));
        if !ok {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} was built for input shape {} but got a tensor of shape {:?}",
                    self.name,
                    fmt_shape(built),
                    x.shape()
                ),
            });
        }
        prelu(x, &alpha.value())
    }
    fn weights(&self) -> Vec<Variable> {
        self.alpha.iter().cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("alpha_initializer".into(), self.alpha_initializer.get_config());
        self.alpha_rules.to_config(&mut m, "alpha");
        m.insert("shared_axes".into(), json!(self.shared_axes));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn prelu_passes_the_layer_harness() {
        run_layer_test(Box::new(PReLU::new()), &[3, 2], 1);
        run_layer_test(
            Box::new(
                PReLU::new()
                    .alpha_initializer("random_uniform")
                    .unwrap()
                    .shared_axes(&[1, 2])
                    .alpha_regularizer(Regularizer::L2(0.01))
                    .alpha_constraint(Constraint::NonNeg),
            ),
            &[3, 2, 4],
            1,
        );
    }

    #[test]
    fn values_match_keras() {
        // p = keras.layers.PReLU(alpha_initializer=Constant(0.25), shared_axes=[1])
        // p(np.array([[[-1., 2.], [3., -4.]]])) == [[[-0.25, 2.], [3., -1.]]]; alpha (1, 2)
        let mut p = PReLU::new().shared_axes(&[1]);
        p.alpha_initializer = Initializer::Constant(0.25);
        p.build(&[None, Some(2), Some(2)]).unwrap();
        assert_eq!(p.alpha().unwrap().shape(), vec![1, 2]);
        let x = Tensor::new(&[-1.0f32, 2., 3., -4.], &[1, 2, 2]).unwrap();
        assert_eq!(
            p.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            vec![-0.25, 2., 3., -1.]
        );
        // Other sizes along a shared axis are fine; along a non-shared one they are not.
        let x3 = Tensor::zeros(&[1, 3, 2], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        assert_eq!(p.call(&x3, false).unwrap().shape(), &[1, 3, 2]);
        let bad = Tensor::zeros(&[1, 2, 3], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let e = p.call(&bad, false).unwrap_err().to_string();
        assert!(e.contains(Layer::name(&p)), "{e}");
        assert!(e.contains("(None, 2, 2)") && e.contains("[1, 2, 3]"), "{e}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let alpha = randn(&[1, 3], 2);
        check_grad("prelu", &[&randn(&[2, 4, 3], 1), &alpha], |t| prelu(&t[0], &t[1]));
    }

    #[test]
    fn config_matches_keras() {
        // keras.layers.PReLU().get_config()
        let p = PReLU::new().name("p_re_lu");
        assert_eq!(
            p.get_config(),
            json!({"name": "p_re_lu", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "alpha_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                                         "config": {}, "registered_name": null},
                   "alpha_regularizer": null, "alpha_constraint": null, "shared_axes": null})
        );
        let q = PReLU::from_config(&json!({"shared_axes": 2, "alpha_regularizer": "l2",
                                            "alpha_constraint": "non_neg"}))
        .unwrap();
        assert_eq!(q.get_config()["shared_axes"], json!([2]));
        assert_eq!(q.get_config()["alpha_regularizer"]["class_name"], json!("L2"));
        let mut q = q;
        q.build(&[None, Some(3), Some(4)]).unwrap();
        assert_eq!(q.alpha().unwrap().regularizer(), Some(Regularizer::L2(0.01)));
        assert_eq!(q.alpha().unwrap().constraint(), Some(Constraint::NonNeg));
        assert!(PReLU::from_config(&json!({"shared_axes": "x"})).is_err());
        let mut r = PReLU::new().shared_axes(&[3]).name("pr");
        let e = r.build(&[None, Some(3), Some(4)]).unwrap_err().to_string();
        assert!(e.contains("pr") && e.contains("(None, 3, 4)"), "{e}");
        let e = PReLU::new()
            .name("pr2")
            .build(&[None, None, Some(4)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("pr2") && e.contains("(None, None, 4)"), "{e}");
    }
}
