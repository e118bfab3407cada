//! `Dropout`: zeroes a fraction of inputs while training, scaling the rest.

use super::{base_config, config_name, field, unique_name, Layer, Shape};
use crate::random::next_seed;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Sets inputs to 0 with probability `rate` during training and scales the others by
/// `1 / (1 - rate)`, as `keras.layers.Dropout`; the identity at inference.
///
/// ```
/// use keras::layers::{Dropout, Layer};
/// let d = Dropout::new(0.5)?;
/// let x = keras_tensor::Tensor::ones(&[1000], keras_tensor::DType::F32, &keras_tensor::Device::Cpu)?;
/// assert_eq!(d.call(&x, false)?.to_vec::<f32>()?, x.to_vec::<f32>()?);
/// let kept = d.call(&x, true)?.to_vec::<f32>()?.iter().filter(|&&v| v == 2.0).count();
/// assert!((400..600).contains(&kept));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Dropout {
    name: String,
    rate: f64,
    seed: Option<u64>,
    trainable: bool,
}

impl Dropout {
    /// Drops with probability `rate` in `[0, 1)`.
    ///
    /// # Errors
    /// When `rate` is outside `[0, 1)`.
    pub fn new(rate: f64) -> Result<Dropout> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::InvalidArgument {
                op: "Dropout",
                msg: format!("rate must be in [0, 1), got {rate}"),
            });
        }
        Ok(Dropout {
            name: unique_name("dropout"),
            rate,
            seed: None,
            trainable: true,
        })
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a bad rate or a `noise_shape` (not supported yet).
    pub fn from_config(c: &Value) -> Result<Dropout> {
        if c.get("noise_shape").is_some_and(|v| !v.is_null()) {
            return Err(Error::InvalidArgument {
                op: "Dropout.from_config",
                msg: "noise_shape is not supported yet".into(),
            });
        }
        let mut d = Dropout::new(field(c, "rate", 0.0)?)?;
        d.name = config_name(c, "dropout")?;
        d.seed = field(c, "seed", None)?;
        d.trainable = field(c, "trainable", true)?;
        Ok(d)
    }
}

impl Layer for Dropout {
    super::layer_common!("Dropout");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, _input_shape: &[Option<usize>]) -> Result<()> {
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        if !training || self.rate == 0.0 {
            return Ok(x.clone());
        }
        // A fresh seed per call: each step drops different units (reproducible after
        // `set_random_seed`).
        let keep = Tensor::bernoulli(x.shape(), 1.0 - self.rate, next_seed(), x.dtype(), x.device())?;
        x.mul(&keep)?.div_scalar(1.0 - self.rate)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("rate".into(), json!(self.rate));
        m.insert("seed".into(), json!(self.seed));
        m.insert("noise_shape".into(), Value::Null);
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dropout_passes_the_layer_harness() {
        super::super::testing::run_layer_test(Box::new(super::Dropout::new(0.3).unwrap()), &[4], 0);
        assert!(super::Dropout::new(1.0).is_err());
    }
}
