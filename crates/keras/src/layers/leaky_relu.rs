//! `LeakyReLU`: `x` for `x >= 0`, `negative_slope * x` below.

use super::{base_config, config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// The leaky rectified linear unit, as `keras.layers.LeakyReLU`: `x` for `x >= 0`, else
/// `negative_slope * x` (Keras 3 default 0.3).
///
/// ```
/// use keras::layers::{Layer, LeakyReLU};
/// let r = LeakyReLU::new().negative_slope(0.5)?;
/// let x = keras_tensor::Tensor::new(&[-10.0f32, 0.0, 5.0], &[3])?;
/// assert_eq!(r.call(&x, false)?.to_vec::<f32>()?, vec![-5.0, 0.0, 5.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct LeakyReLU {
    name: String,
    negative_slope: f64,
    trainable: bool,
}

impl LeakyReLU {
    /// Slope 0.3 below zero.
    #[allow(clippy::new_without_default)]
    pub fn new() -> LeakyReLU {
        LeakyReLU {
            name: unique_name("leaky_re_lu"),
            negative_slope: 0.3,
            trainable: true,
        }
    }

    /// Slope `>= 0` below zero.
    ///
    /// # Errors
    /// For a negative value.
    pub fn negative_slope(mut self, negative_slope: f64) -> Result<LeakyReLU> {
        if negative_slope.is_nan() || negative_slope < 0.0 {
            return Err(Error::InvalidArgument {
                op: "LeakyReLU",
                msg: format!(
                    "the negative_slope of a LeakyReLU layer cannot be negative, got {negative_slope}"
                ),
            });
        }
        self.negative_slope = negative_slope;
        Ok(self)
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> LeakyReLU {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config (the deprecated `alpha` key is read as
    /// `negative_slope`, as Keras 3 does).
    ///
    /// # Errors
    /// For a negative slope.
    pub fn from_config(c: &Value) -> Result<LeakyReLU> {
        let slope = match field::<Option<f64>>(c, "alpha", None)? {
            Some(a) => a,
            None => field(c, "negative_slope", 0.3)?,
        };
        let mut r = LeakyReLU::new().negative_slope(slope)?;
        r.name = config_name(c, "leaky_re_lu")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }
}

impl Layer for LeakyReLU {
    super::layer_common!("LeakyReLU");
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
        x.leaky_relu(self.negative_slope)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("negative_slope".into(), json!(self.negative_slope));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    #[test]
    fn leaky_relu_passes_the_layer_harness() {
        run_layer_test(Box::new(LeakyReLU::new()), &[3, 2], 0);
        run_layer_test(Box::new(LeakyReLU::new().negative_slope(0.0).unwrap()), &[4], 0);
    }

    #[test]
    fn values_and_config_match_keras() {
        // keras.layers.LeakyReLU()(x)
        let x = Tensor::new(&[-10.0f32, -5., -1., 0., 0.5, 1., 2., 5., 10.], &[9]).unwrap();
        let want = Tensor::new(&[-3.0f32, -1.5, -0.3, 0., 0.5, 1., 2., 5., 10.], &[9]).unwrap();
        let r = LeakyReLU::new().name("leaky_re_lu");
        assert_close("leaky_relu", &r.call(&x, false).unwrap(), &want, 1e-6, 0.0);
        check_grad("leaky_relu", &[&randn(&[3, 4], 2)], |t| r.call(&t[0], true));
        assert_eq!(
            r.get_config(),
            json!({"name": "leaky_re_lu", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "negative_slope": 0.3})
        );
        let old = LeakyReLU::from_config(&json!({"alpha": 0.1})).unwrap();
        assert_eq!(old.get_config()["negative_slope"], json!(0.1));
        assert!(LeakyReLU::new().negative_slope(-1.0).is_err());
        assert!(LeakyReLU::new().negative_slope(f64::NAN).is_err());
    }
}
