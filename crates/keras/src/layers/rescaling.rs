//! `Rescaling`: `x * scale + offset`, e.g. pixels from `[0, 255]` to `[0, 1]`.

use super::batch_normalization::compute_input;
use super::{base_config, config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// A scale or offset: one number, or one number per channel (broadcast on the last axis).
#[derive(Clone, Debug, PartialEq)]
enum Param {
    Scalar(f64),
    PerChannel(Vec<f64>),
}

impl Param {
    fn to_json(&self) -> Value {
        match self {
            Param::Scalar(v) => json!(v),
            Param::PerChannel(v) => json!(v),
        }
    }

    /// A number, a flat list, or Keras's serialized NumPy array
    /// (`{"class_name": "__numpy__", "config": {"value": [...]}}`).
    fn from_json(v: &Value, key: &str) -> Result<Param> {
        let bad = || Error::InvalidArgument {
            op: "Rescaling.from_config",
            msg: format!("field {key:?}: expected a number or a flat list of numbers, got {v}"),
        };
        match v {
            Value::Number(n) => n.as_f64().map(Param::Scalar).ok_or_else(bad),
            Value::Array(a) => a
                .iter()
                .map(Value::as_f64)
                .collect::<Option<Vec<f64>>>()
                .map(Param::PerChannel)
                .ok_or_else(bad),
            Value::Object(o) if o.get("class_name") == Some(&json!("__numpy__")) => {
                let inner = o.get("config").and_then(|c| c.get("value")).ok_or_else(bad)?;
                match inner {
                    Value::Number(_) | Value::Array(_) => Param::from_json(inner, key),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }

    /// `x * self` or `x + self`.
    fn apply(&self, x: &Tensor, mul: bool) -> Result<Tensor> {
        match self {
            Param::Scalar(v) if mul => x.mul_scalar(*v),
            Param::Scalar(v) => x.add_scalar(*v),
            Param::PerChannel(v) => {
                let last = x.shape().last().copied().unwrap_or(0);
                if v.len() != last && v.len() != 1 {
                    return Err(Error::InvalidArgument {
                        op: "call",
                        msg: format!(
                            "Rescaling: {} {} values do not broadcast against input shape {:?} \
                             (they apply to the last axis)",
                            v.len(),
                            if mul { "scale" } else { "offset" },
                            x.shape()
                        ),
                    });
                }
                let p = Tensor::from_vec(v.clone(), &[v.len()], x.device())?.cast(x.dtype())?;
                if mul {
                    x.mul(&p)
                } else {
                    x.add(&p)
                }
            }
        }
    }
}

/// Multiplies inputs by `scale` and adds `offset`, in training and inference alike, as
/// `keras.layers.Rescaling`.
///
/// Integer inputs are computed in float32 (float64 stays float64). `scale` and `offset` are
/// numbers, or lists with one value per channel (applied along the last axis). The layer is
/// differentiable: gradients reach the input scaled by `scale`.
///
/// ```
/// use keras::layers::{Layer, Rescaling};
/// use keras_tensor::Tensor;
/// let r = Rescaling::new(1.0 / 127.5).offset(-1.0);
/// let x = Tensor::new(&[0u8, 255], &[2])?;
/// assert_eq!(r.call(&x, false)?.to_vec::<f32>()?, vec![-1.0, 1.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Rescaling {
    name: String,
    scale: Param,
    offset: Param,
    trainable: bool,
}

impl Rescaling {
    /// Multiplies by `scale` (offset 0, Keras's default).
    ///
    /// ```
    /// let r = keras::layers::Rescaling::new(0.5);
    /// ```
    pub fn new(scale: f64) -> Rescaling {
        Rescaling {
            name: unique_name("rescaling"),
            scale: Param::Scalar(scale),
            offset: Param::Scalar(0.0),
            trainable: true,
        }
    }

    /// Adds `offset` after scaling.
    ///
    /// ```
    /// let r = keras::layers::Rescaling::new(2.0).offset(1.0);
    /// ```
    pub fn offset(mut self, offset: f64) -> Rescaling {
        self.offset = Param::Scalar(offset);
        self
    }

    /// One scale per channel (the last axis), as Keras's array-valued `scale`.
    ///
    /// ```
    /// use keras::layers::{Layer, Rescaling};
    /// let r = Rescaling::new(1.0).scale_per_channel(&[1.0, 10.0]);
    /// let x = keras_tensor::Tensor::new(&[1.0f32, 1.0], &[1, 2])?;
    /// assert_eq!(r.call(&x, false)?.to_vec::<f32>()?, vec![1.0, 10.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn scale_per_channel(mut self, scale: &[f64]) -> Rescaling {
        self.scale = Param::PerChannel(scale.to_vec());
        self
    }

    /// One offset per channel (the last axis).
    ///
    /// ```
    /// let r = keras::layers::Rescaling::new(1.0).offset_per_channel(&[0.0, -1.0]);
    /// ```
    pub fn offset_per_channel(mut self, offset: &[f64]) -> Rescaling {
        self.offset = Param::PerChannel(offset.to_vec());
        self
    }

    /// Sets the layer name.
    ///
    /// ```
    /// use keras::layers::{Layer, Rescaling};
    /// let l = Rescaling::new(1.0).name("pixels");
    /// assert_eq!(Layer::name(&l), "pixels");
    /// ```
    pub fn name(mut self, name: &str) -> Rescaling {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, Rescaling};
    /// let r = Rescaling::from_config(&serde_json::json!({"scale": 0.5, "offset": 1.0}))?;
    /// assert_eq!(r.get_config()["offset"], 1.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a missing `scale` or a malformed `scale` / `offset`.
    pub fn from_config(c: &Value) -> Result<Rescaling> {
        let scale = c
            .get("scale")
            .filter(|v| !v.is_null())
            .ok_or_else(|| Error::InvalidArgument {
                op: "Rescaling.from_config",
                msg: "missing field \"scale\"".into(),
            })?;
        let mut r = Rescaling::new(1.0);
        r.scale = Param::from_json(scale, "scale")?;
        if let Some(o) = c.get("offset").filter(|v| !v.is_null()) {
            r.offset = Param::from_json(o, "offset")?;
        }
        r.name = config_name(c, "rescaling")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }
}

impl Layer for Rescaling {
    super::layer_common!("Rescaling");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, _input_shape: &[Option<usize>]) -> Result<()> {
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let x = compute_input(x)?;
        self.offset.apply(&self.scale.apply(&x, true)?, false)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("scale".into(), self.scale.to_json());
        m.insert("offset".into(), self.offset.to_json());
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    #[test]
    fn rescaling_passes_the_layer_harness() {
        run_layer_test(Box::new(Rescaling::new(1.0 / 255.0)), &[3, 2], 0);
        run_layer_test(
            Box::new(Rescaling::new(2.0).offset_per_channel(&[1.0, -1.0])),
            &[3, 2],
            0,
        );
    }

    #[test]
    fn matches_keras() {
        // keras.layers.Rescaling(1/127.5, offset=-1)(np.array([0, 127, 255], "uint8"))
        let r = Rescaling::new(1.0 / 127.5).offset(-1.0);
        let y = r
            .call(&Tensor::new(&[0u8, 127, 255], &[3]).unwrap(), false)
            .unwrap();
        assert_close(
            "rescaling",
            &y,
            &Tensor::new(&[-1.0f32, -0.003_921_509, 1.0], &[3]).unwrap(),
            0.0,
            1e-7,
        );
        let p = Rescaling::new(1.0)
            .scale_per_channel(&[1.0, 2.0])
            .offset_per_channel(&[0.5, 0.0]);
        let y = p
            .call(&Tensor::new(&[1.0f32, 1.0, 2.0, 2.0], &[2, 2]).unwrap(), false)
            .unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.5, 2.0, 2.5, 4.0]);
        let e = p.call(&randn(&[2, 3], 1), false).unwrap_err().to_string();
        assert!(e.contains("Rescaling") && e.contains("[2, 3]"), "{e}");
        let f64_in = Tensor::new(&[1.0f64], &[1]).unwrap();
        assert_eq!(r.call(&f64_in, false).unwrap().dtype(), keras_tensor::DType::F64);
        check_grad("rescaling", &[&randn(&[2, 3], 2)], |t| r.call(&t[0], true));
    }

    #[test]
    fn config_matches_keras() {
        // keras.layers.Rescaling(1/255).get_config()
        let r = Rescaling::new(1.0 / 255.0).name("rescaling");
        assert_eq!(
            r.get_config(),
            json!({"name": "rescaling", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "scale": 0.00392156862745098, "offset": 0.0})
        );
        let n = Rescaling::from_config(&json!({"scale": {"class_name": "__numpy__",
            "config": {"value": [1.0, 2.0], "dtype": "float32"}}}))
        .unwrap();
        assert_eq!(n.get_config()["scale"], json!([1.0, 2.0]));
        assert!(Rescaling::from_config(&json!({})).is_err());
        assert!(Rescaling::from_config(&json!({"scale": "x"})).is_err());
        assert!(Rescaling::from_config(&json!({"scale": [[1.0]]})).is_err());
    }
}
