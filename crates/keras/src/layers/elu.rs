//! `ELU`: the exponential linear unit.

use super::{base_config, config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Result, Tensor};
use serde_json::{json, Value};

/// The exponential linear unit, as `keras.layers.ELU`: `x` for `x > 0`, else
/// `alpha * (exp(x) - 1)` (default `alpha = 1.0`).
///
/// ```
/// use keras::layers::{Layer, ELU};
/// let e = ELU::new().alpha(0.5);
/// let y = e.call(&keras_tensor::Tensor::new(&[-1.0f32, 2.0], &[2])?, false)?.to_vec::<f32>()?;
/// assert!((y[0] - 0.5 * ((-1.0f32).exp() - 1.0)).abs() < 1e-7 && y[1] == 2.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct ELU {
    name: String,
    alpha: f64,
    trainable: bool,
}

impl ELU {
    /// ELU with `alpha = 1.0`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> ELU {
        ELU {
            name: unique_name("elu"),
            alpha: 1.0,
            trainable: true,
        }
    }

    /// The scale of the negative part.
    pub fn alpha(mut self, alpha: f64) -> ELU {
        self.alpha = alpha;
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> ELU {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a non-numeric `alpha`.
    pub fn from_config(c: &Value) -> Result<ELU> {
        let mut e = ELU::new().alpha(field(c, "alpha", 1.0)?);
        e.name = config_name(c, "elu")?;
        e.trainable = field(c, "trainable", true)?;
        Ok(e)
    }
}

impl Layer for ELU {
    super::layer_common!("ELU");
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
        x.elu(self.alpha)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("alpha".into(), json!(self.alpha));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    #[test]
    fn elu_passes_the_layer_harness() {
        run_layer_test(Box::new(ELU::new()), &[3, 2], 0);
        run_layer_test(Box::new(ELU::new().alpha(0.3)), &[4], 0);
    }

    #[test]
    fn values_and_config_match_keras() {
        // keras.layers.ELU(alpha=0.5)(x)
        let x = Tensor::new(&[-10.0f32, -5., -1., 0., 0.5, 1., 2., 5., 10.], &[9]).unwrap();
        let want = Tensor::new(
            &[
                -0.499_977_3_f32,
                -0.496_631_03,
                -0.316_060_27,
                0.,
                0.5,
                1.,
                2.,
                5.,
                10.,
            ],
            &[9],
        )
        .unwrap();
        let e = ELU::new().alpha(0.5).name("elu");
        assert_close("elu", &e.call(&x, false).unwrap(), &want, 1e-6, 1e-7);
        check_grad("elu", &[&randn(&[3, 4], 2)], |t| e.call(&t[0], true));
        assert_eq!(
            ELU::new().name("elu").get_config(),
            json!({"name": "elu", "alpha": 1.0, "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}})
        );
    }
}
