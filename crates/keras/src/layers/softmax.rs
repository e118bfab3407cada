//! `Softmax`: normalized exponentials along one or more axes.

use super::{base_config, config_name, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// The softmax activation as a layer, as `keras.layers.Softmax`: `exp(x - logsumexp(x))`
/// along `axis` (default -1), or jointly along several axes.
///
/// Keras's `mask` call argument is not supported: layers here take one input tensor, and
/// masks are not propagated between layers.
///
/// ```
/// use keras::layers::{Layer, Softmax};
/// let s = Softmax::new();
/// let y = s.call(&keras_tensor::Tensor::new(&[1.0f32, 2.0, 1.0], &[1, 3])?, false)?.to_vec::<f32>()?;
/// assert!((y[1] - 0.5761169).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Softmax {
    name: String,
    axis: Vec<isize>,
    /// Whether Keras's `axis` was a list (kept so the config round-trips exactly).
    axis_is_list: bool,
    trainable: bool,
}

impl Softmax {
    /// Softmax over the last axis.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Softmax {
        Softmax {
            name: unique_name("softmax"),
            axis: vec![-1],
            axis_is_list: false,
            trainable: true,
        }
    }

    /// Softmax over `axis` (negative counts from the end; 0 is the batch axis).
    pub fn axis(mut self, axis: isize) -> Softmax {
        self.axis = vec![axis];
        self.axis_is_list = false;
        self
    }

    /// Softmax jointly over several axes (Keras's list form of `axis`).
    ///
    /// # Errors
    /// For an empty list.
    pub fn axes(mut self, axes: &[isize]) -> Result<Softmax> {
        if axes.is_empty() {
            return Err(Error::InvalidArgument {
                op: "Softmax",
                msg: "axis must name at least one axis".into(),
            });
        }
        self.axis = axes.to_vec();
        self.axis_is_list = true;
        Ok(self)
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Softmax {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config (`axis` an integer or a list of integers).
    ///
    /// # Errors
    /// For a malformed `axis`.
    pub fn from_config(c: &Value) -> Result<Softmax> {
        let mut s = match c.get("axis") {
            None | Some(Value::Null) => Softmax::new(),
            Some(Value::Array(a)) => {
                let axes: Vec<isize> =
                    serde_json::from_value(Value::Array(a.clone())).map_err(|e| Error::InvalidArgument {
                        op: "Softmax.from_config",
                        msg: format!("field \"axis\": {e}"),
                    })?;
                Softmax::new().axes(&axes)?
            }
            Some(v) => Softmax::new().axis(v.as_i64().ok_or_else(|| Error::InvalidArgument {
                op: "Softmax.from_config",
                msg: format!("field \"axis\": expected an integer or a list of integers, got {v}"),
            })? as isize),
        };
        s.name = config_name(c, "softmax")?;
        s.trainable = super::field(c, "trainable", true)?;
        Ok(s)
    }

    fn check_axes(&self, rank: usize) -> bool {
        self.axis
            .iter()
            .all(|&a| a < rank as isize && a >= -(rank as isize))
    }
}

impl Layer for Softmax {
    super::layer_common!("Softmax");
    fn supports_masking(&self) -> bool {
        true
    }
    /// Keras's masked softmax: masked positions become -1e9 (-3e4 in float16) before
    /// normalizing. The mask must broadcast against the input from the right (an attention
    /// mask); a float mask keeps values > 0.5.
    fn call_masked(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<Tensor> {
        let Some(m) = mask else {
            return self.call(x, training);
        };
        let fits = m.rank() <= x.rank()
            && m.shape()
                .iter()
                .rev()
                .zip(x.shape().iter().rev())
                .all(|(&md, &xd)| md == 1 || md == xd);
        if !fits {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?}: the mask must be broadcastable to the input; got a mask of shape \
                     {:?} for an input of shape {:?}",
                    self.name,
                    m.shape(),
                    x.shape()
                ),
            });
        }
        let keep = if m.dtype() == keras_tensor::DType::Bool {
            m.clone()
        } else {
            m.gt(&m.scalar_like(0.5)?)?
        };
        let big = if x.dtype() == keras_tensor::DType::F16 {
            -3e4
        } else {
            -1e9
        };
        self.call(&Tensor::where_cond(&keep, x, &x.scalar_like(big)?)?, training)
    }
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if !self.check_axes(input_shape.len()) {
            return Err(shape_error(
                &self.name,
                &format!("an input with axis {:?}", self.axis),
                input_shape,
            ));
        }
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        if !self.check_axes(x.rank()) {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} normalizes along axis {:?} but got a tensor of shape {:?}",
                    self.name,
                    self.axis,
                    x.shape()
                ),
            });
        }
        match self.axis.as_slice() {
            [a] => x.softmax(*a),
            axes => x.sub(&x.logsumexp(axes, true)?)?.exp(),
        }
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        let axis = if self.axis_is_list {
            json!(self.axis)
        } else {
            json!(self.axis[0])
        };
        m.insert("axis".into(), axis);
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    #[test]
    fn softmax_passes_the_layer_harness() {
        run_layer_test(Box::new(Softmax::new()), &[3, 2], 0);
        run_layer_test(Box::new(Softmax::new().axis(1)), &[3, 2], 0);
        run_layer_test(Box::new(Softmax::new().axes(&[1, 2]).unwrap()), &[3, 2], 0);
    }

    #[test]
    fn values_match_keras() {
        // keras.layers.Softmax()(np.array([[1., 2., 1.]]))
        let y = Softmax::new()
            .call(&Tensor::new(&[1.0f32, 2., 1.], &[1, 3]).unwrap(), false)
            .unwrap();
        let want = Tensor::new(&[0.21194157f32, 0.5761169, 0.21194157], &[1, 3]).unwrap();
        assert_close("softmax", &y, &want, 1e-6, 1e-7);
        // keras.layers.Softmax(axis=[1, 2])(np.array([[[1., 2.], [3., 1.]]]))
        let s = Softmax::new().axes(&[1, 2]).unwrap();
        let y = s
            .call(&Tensor::new(&[1.0f32, 2., 3., 1.], &[1, 2, 2]).unwrap(), false)
            .unwrap();
        let want = Tensor::new(
            &[0.082_594_54_f32, 0.224_515_26, 0.610_295_8, 0.082_594_54],
            &[1, 2, 2],
        )
        .unwrap();
        assert_close("softmax[1, 2]", &y, &want, 1e-6, 1e-7);
        check_grad("softmax_axes", &[&randn(&[2, 3, 2], 1)], |t| s.call(&t[0], true));
        let s1 = Softmax::new().axis(1);
        check_grad("softmax_axis1", &[&randn(&[2, 3, 2], 2)], |t| {
            s1.call(&t[0], true)
        });
    }

    #[test]
    fn config_round_trips_both_forms() {
        assert_eq!(Softmax::new().get_config()["axis"], json!(-1));
        let s = Softmax::from_config(&json!({"axis": [1, 2]})).unwrap();
        assert_eq!(s.get_config()["axis"], json!([1, 2]));
        let s = Softmax::from_config(&json!({"axis": [1]})).unwrap();
        assert_eq!(s.get_config()["axis"], json!([1]));
        let s = Softmax::from_config(&json!({"axis": 1})).unwrap();
        assert_eq!(s.get_config()["axis"], json!(1));
        assert!(Softmax::from_config(&json!({"axis": "x"})).is_err());
        let e = Softmax::new()
            .axis(3)
            .name("sm")
            .compute_output_shape(&[None, Some(2)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sm") && e.contains("(None, 2)"), "{e}");
    }
}
