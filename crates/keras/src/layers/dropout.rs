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
    noise_shape: Option<Vec<Option<usize>>>,
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
            noise_shape: None,
            trainable: true,
        })
    }

    /// The shape of the keep mask, batch axis included, broadcast over the input: `None`
    /// takes the input's size (Keras's `noise_shape`). `[None, Some(1), Some(1), None]`
    /// drops whole feature maps; `[None, Some(1), Some(1), Some(1)]` whole samples (the
    /// stochastic depth of EfficientNet).
    ///
    /// ```
    /// use keras::layers::{Dropout, Layer};
    /// use keras_tensor::{DType, Device, Tensor};
    /// let d = Dropout::new(0.5)?.noise_shape(&[None, Some(1)]);
    /// let x = Tensor::ones(&[64, 8], DType::F32, &Device::Cpu)?;
    /// let y = d.call(&x, true)?.to_vec::<f32>()?;
    /// // Each row is all kept (2.0) or all dropped (0.0).
    /// assert!(y.chunks(8).all(|r| r.iter().all(|&v| v == r[0])));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn noise_shape(mut self, shape: &[Option<usize>]) -> Dropout {
        self.noise_shape = Some(shape.to_vec());
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Dropout {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a bad rate or a malformed `noise_shape`.
    pub fn from_config(c: &Value) -> Result<Dropout> {
        let mut d = Dropout::new(field(c, "rate", 0.0)?)?;
        d.noise_shape = field(c, "noise_shape", None)?;
        d.name = config_name(c, "dropout")?;
        d.seed = field(c, "seed", None)?;
        d.trainable = field(c, "trainable", true)?;
        Ok(d)
    }
}

impl Layer for Dropout {
    super::layer_common!("Dropout");
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
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        if !training || self.rate == 0.0 {
            return Ok(x.clone());
        }
        // A fresh seed per call: each step drops different units (reproducible after
        // `set_random_seed`).
        let shape: Vec<usize> = match &self.noise_shape {
            None => x.shape().to_vec(),
            Some(ns) => {
                if ns.len() != x.rank() {
                    return Err(Error::InvalidArgument {
                        op: "call",
                        msg: format!(
                            "layer {:?}: noise_shape {} does not match the input rank {}",
                            self.name,
                            super::fmt_shape(ns),
                            x.rank()
                        ),
                    });
                }
                ns.iter().zip(x.shape()).map(|(n, &d)| n.unwrap_or(d)).collect()
            }
        };
        x.dropout(self.rate, Some(&shape), next_seed())
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("rate".into(), json!(self.rate));
        m.insert("seed".into(), json!(self.seed));
        m.insert("noise_shape".into(), json!(self.noise_shape));
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

    #[test]
    fn noise_shape_broadcasts_the_mask_and_round_trips() {
        use super::super::Layer;
        use keras_tensor::{DType, Device, Tensor};
        let d = super::Dropout::new(0.5)
            .unwrap()
            .noise_shape(&[None, Some(1), Some(1), Some(1)]);
        super::super::testing::run_layer_test(
            Box::new(super::Dropout::from_config(&d.get_config()).unwrap()),
            &[2, 2, 3],
            0,
        );
        assert_eq!(d.get_config()["noise_shape"], serde_json::json!([null, 1, 1, 1]));
        let x = Tensor::ones(&[32, 2, 2, 3], DType::F32, &Device::Cpu).unwrap();
        let y = d.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        for sample in y.chunks(12) {
            assert!(sample.iter().all(|&v| v == sample[0]) && (sample[0] == 0.0 || sample[0] == 2.0));
        }
        let bad = super::Dropout::new(0.5).unwrap().noise_shape(&[None, Some(1)]);
        assert!(bad.call(&x, true).is_err());
    }
}
