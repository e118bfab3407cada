//! `GaussianNoise`: adds zero-centred normal noise while training.

use super::{base_config, config_name, field, unique_name, Layer, Shape};
use crate::random::next_seed;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Adds normal noise of standard deviation `stddev` during training, as
/// `keras.layers.GaussianNoise`; the identity at inference.
///
/// Each training call draws fresh noise from the global seed counter
/// ([`crate::set_random_seed`] makes runs reproducible); a `seed` read from a config is kept
/// for the round trip.
///
/// ```
/// use keras::layers::{GaussianNoise, Layer};
/// use keras_tensor::{DType, Device, Tensor};
/// let g = GaussianNoise::new(0.1)?;
/// let x = Tensor::zeros(&[10_000], DType::F32, &Device::Cpu)?;
/// assert_eq!(g.call(&x, false)?.to_vec::<f32>()?, x.to_vec::<f32>()?);
/// let std = g.call(&x, true)?.square()?.mean(&[0], false)?.sqrt()?.item()?;
/// assert!((std - 0.1).abs() < 0.005);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct GaussianNoise {
    name: String,
    stddev: f64,
    seed: Option<u64>,
    trainable: bool,
}

impl GaussianNoise {
    /// Noise of standard deviation `stddev` in `[0, 1]` (Keras's range).
    ///
    /// # Errors
    /// When `stddev` is outside `[0, 1]`.
    pub fn new(stddev: f64) -> Result<GaussianNoise> {
        if !(0.0..=1.0).contains(&stddev) {
            return Err(Error::InvalidArgument {
                op: "GaussianNoise",
                msg: format!("stddev must be a float between 0 and 1, got {stddev}"),
            });
        }
        Ok(GaussianNoise {
            name: unique_name("gaussian_noise"),
            stddev,
            seed: None,
            trainable: true,
        })
    }

    /// Records Keras's `seed` argument (kept in the config; draws use the global counter).
    pub fn seed(mut self, seed: u64) -> GaussianNoise {
        self.seed = Some(seed);
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> GaussianNoise {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a missing or out-of-range `stddev`.
    pub fn from_config(c: &Value) -> Result<GaussianNoise> {
        let stddev: Option<f64> = field(c, "stddev", None)?;
        let stddev = stddev.ok_or_else(|| Error::InvalidArgument {
            op: "GaussianNoise.from_config",
            msg: "missing field \"stddev\"".into(),
        })?;
        let mut g = GaussianNoise::new(stddev)?;
        g.name = config_name(c, "gaussian_noise")?;
        g.seed = field(c, "seed", None)?;
        g.trainable = field(c, "trainable", true)?;
        Ok(g)
    }

    /// The training-mode output with noise drawn from `seed`.
    fn noisy(&self, x: &Tensor, seed: u64) -> Result<Tensor> {
        // Keras draws in the layer's compute dtype (float32) for non-float inputs.
        let dtype = if x.dtype().is_float() {
            x.dtype()
        } else {
            DType::F32
        };
        x.add(&Tensor::random_normal(
            x.shape(),
            0.0,
            self.stddev,
            seed,
            dtype,
            x.device(),
        )?)
    }
}

impl Layer for GaussianNoise {
    super::layer_common!("GaussianNoise");
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
        if training && self.stddev > 0.0 {
            self.noisy(x, next_seed())
        } else {
            Ok(x.clone())
        }
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("stddev".into(), json!(self.stddev));
        m.insert("seed".into(), json!(self.seed));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{check_grad, randn};
    use keras_tensor::Device;

    #[test]
    fn gaussian_noise_passes_the_layer_harness() {
        run_layer_test(Box::new(GaussianNoise::new(0.1).unwrap()), &[3, 2], 0);
        run_layer_test(Box::new(GaussianNoise::new(0.0).unwrap().seed(1)), &[4], 0);
    }

    #[test]
    fn noise_has_the_right_spread_and_passes_gradients() {
        let g = GaussianNoise::new(0.5).unwrap();
        let x = Tensor::full(3.0, &[20_000], DType::F32, &Device::Cpu).unwrap();
        let y = g.call(&x, true).unwrap().sub_scalar(3.0).unwrap();
        let mean = y.mean(&[0], false).unwrap().item().unwrap();
        let std = y
            .square()
            .unwrap()
            .mean(&[0], false)
            .unwrap()
            .sqrt()
            .unwrap()
            .item()
            .unwrap();
        assert!(mean.abs() < 0.02 && (std - 0.5).abs() < 0.02, "{mean} {std}");
        // Two training calls draw different noise.
        assert_ne!(
            g.call(&x, true).unwrap().to_vec::<f32>().unwrap(),
            g.call(&x, true).unwrap().to_vec::<f32>().unwrap()
        );
        let i = Tensor::new(&[1i32, 2], &[2]).unwrap();
        assert_eq!(g.call(&i, true).unwrap().dtype(), DType::F32);
        check_grad("gaussian_noise", &[&randn(&[3, 2], 1)], |t| g.noisy(&t[0], 9));
    }

    #[test]
    fn config_matches_keras() {
        // keras.layers.GaussianNoise(0.1).get_config()
        let g = GaussianNoise::new(0.1).unwrap().name("gaussian_noise");
        assert_eq!(
            g.get_config(),
            json!({"name": "gaussian_noise", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "stddev": 0.1, "seed": null})
        );
        assert!(GaussianNoise::new(1.5).is_err());
        assert!(GaussianNoise::new(-0.1).is_err());
        assert!(GaussianNoise::from_config(&json!({})).is_err());
    }
}
