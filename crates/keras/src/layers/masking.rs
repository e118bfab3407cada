//! `Masking`: marks the time steps whose features all equal `mask_value` as padding.

use super::{base_config, config_name, field, unique_name, Layer, Shape};
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Masks padded time steps, as `keras.layers.Masking`: for an input `(batch, timesteps,
/// features…)`, a step whose values along the last axis all equal `mask_value` (default 0.0)
/// is masked. The output is the input with masked steps set to 0, and carries the mask
/// `(batch, timesteps…)` (true where a step is kept) to the layers after it: recurrent layers
/// skip masked steps, `GlobalAveragePooling1D` averages the others, losses ignore them.
///
/// ```
/// use keras::layers::{Layer, Masking};
/// use keras_tensor::Tensor;
/// let m = Masking::new(0.0);
/// // Two sequences of three steps with two features; the second ends in padding.
/// let x = Tensor::new(&[1.0f32, 2.0, 0.0, 3.0, 4.0, 5.0, 6.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[2, 3, 2])?;
/// let mask = m.compute_mask(&x, None)?.expect("a mask");
/// assert_eq!(mask.to_vec::<bool>()?, vec![true, true, true, true, false, false]);
/// assert_eq!(m.call(&x, false)?.to_vec::<f32>()?, x.to_vec::<f32>()?);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Masking {
    name: String,
    mask_value: f64,
    trainable: bool,
}

impl Default for Masking {
    fn default() -> Masking {
        Masking::new(0.0)
    }
}

impl Masking {
    /// Masks the steps whose features all equal `mask_value`.
    pub fn new(mask_value: f64) -> Masking {
        Masking {
            name: unique_name("masking"),
            mask_value,
            trainable: true,
        }
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Masking {
        self.name = name.to_string();
        self
    }

    /// The value that marks padding.
    pub fn mask_value(&self) -> f64 {
        self.mask_value
    }

    /// Rebuilds from a Keras config (`mask_value`, `name`, `trainable`).
    ///
    /// # Errors
    /// When `mask_value` is not a number.
    pub fn from_config(c: &Value) -> Result<Masking> {
        let mask_value = match c.get("mask_value") {
            None | Some(Value::Null) => 0.0,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
            Some(v) => {
                return Err(Error::InvalidArgument {
                    op: "Masking.from_config",
                    msg: format!("mask_value must be a number, got {v}"),
                })
            }
        };
        let mut m = Masking::new(mask_value);
        m.name = config_name(c, "masking")?;
        m.trainable = field(c, "trainable", true)?;
        Ok(m)
    }

    /// True where any feature differs from `mask_value`, with the last axis kept (size 1).
    fn keep(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() < 2 {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} expects an input of rank >= 2 (batch, …, features), got a tensor of \
                     shape {:?}",
                    self.name,
                    x.shape()
                ),
            });
        }
        x.ne(&x.scalar_like(self.mask_value)?)?
            .cast(DType::F32)?
            .max(&[-1], true)?
            .cast(DType::Bool)
    }
}

impl Layer for Masking {
    super::layer_common!("Masking");
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
        Tensor::where_cond(&self.keep(x)?, x, &x.zeros_like()?)
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// The mask of the input's own padding; a mask arriving from before is replaced, as in
    /// Keras.
    fn compute_mask(&self, x: &Tensor, _mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(Some(self.keep(x)?.squeeze(&[-1])?))
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("mask_value".into(), json!(self.mask_value));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::Device;

    #[test]
    fn masking_passes_the_layer_harness() {
        run_layer_test(Box::new(Masking::new(0.0)), &[5, 3], 0);
        run_layer_test(Box::new(Masking::new(-1.0)), &[4], 0);
    }

    #[test]
    fn masked_steps_become_zero_and_the_mask_marks_them() {
        let m = Masking::new(-1.0);
        let x = Tensor::new(&[-1.0f32, -1.0, 2.0, -1.0, -1.0, -1.0], &[1, 3, 2]).unwrap();
        assert_eq!(
            m.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0, 0.0, 2.0, -1.0, 0.0, 0.0]
        );
        let mask = m.compute_mask(&x, None).unwrap().unwrap();
        assert_eq!(mask.shape(), &[1, 3]);
        assert_eq!(mask.to_vec::<bool>().unwrap(), vec![false, true, false]);
    }

    #[test]
    fn config_matches_keras_and_round_trips() {
        let m = Masking::new(0.5).name("pad");
        let c = m.get_config();
        assert_eq!(c["mask_value"], json!(0.5));
        assert_eq!(c["name"], json!("pad"));
        let back = crate::layers::from_config("Masking", &c).unwrap();
        assert_eq!(back.get_config(), c);
        assert_eq!(Masking::from_config(&json!({})).unwrap().mask_value(), 0.0);
        assert!(Masking::from_config(&json!({"mask_value": "x"})).is_err());
        let e = m
            .call(&Tensor::zeros(&[3], DType::F32, &Device::Cpu).unwrap(), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pad") && e.contains("[3]"), "{e}");
    }
}
