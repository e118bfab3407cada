//! `SpatialDropout2D`: drops whole feature maps while training.

use super::zero_padding2d::{rank_error, require_channels_last};
use super::{config_name, field, shape_error, unique_name, Layer, Shape};
use crate::random::next_seed;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Sets whole channels of `(batch, rows, cols, channels)` inputs to 0 with probability
/// `rate` during training and scales the kept ones by `1 / (1 - rate)`, as
/// `keras.layers.SpatialDropout2D` (channels-last only); the identity at inference.
///
/// Each training call draws a fresh mask from the global seed counter
/// ([`crate::set_random_seed`] makes runs reproducible); a `seed` read from a config is kept
/// for the round trip.
///
/// ```
/// use keras::layers::{Layer, SpatialDropout2D};
/// use keras_tensor::{DType, Device, Tensor};
/// let d = SpatialDropout2D::new(0.5)?;
/// let x = Tensor::ones(&[1, 4, 4, 100], DType::F32, &Device::Cpu)?;
/// assert_eq!(d.call(&x, false)?.to_vec::<f32>()?, x.to_vec::<f32>()?);
/// let y = d.call(&x, true)?.to_vec::<f32>()?;
/// // Every channel is either all zeros or all 2.0.
/// for c in 0..100 {
///     let v: Vec<f32> = (0..16).map(|p| y[p * 100 + c]).collect();
///     assert!(v.iter().all(|&e| e == v[0]) && (v[0] == 0.0 || v[0] == 2.0));
/// }
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct SpatialDropout2D {
    name: String,
    rate: f64,
    seed: Option<u64>,
    trainable: bool,
}

impl SpatialDropout2D {
    /// Drops channels with probability `rate` in `[0, 1]` (Keras allows 1: all dropped).
    ///
    /// # Errors
    /// When `rate` is outside `[0, 1]`.
    pub fn new(rate: f64) -> Result<SpatialDropout2D> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::InvalidArgument {
                op: "SpatialDropout2D",
                msg: format!("rate must be a float between 0 and 1, got {rate}"),
            });
        }
        Ok(SpatialDropout2D {
            name: unique_name("spatial_dropout2d"),
            rate,
            seed: None,
            trainable: true,
        })
    }

    /// Records Keras's `seed` argument (kept in the config; draws use the global counter).
    pub fn seed(mut self, seed: u64) -> SpatialDropout2D {
        self.seed = Some(seed);
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> SpatialDropout2D {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a bad rate or `data_format="channels_first"`.
    pub fn from_config(c: &Value) -> Result<SpatialDropout2D> {
        require_channels_last(c, "SpatialDropout2D.from_config")?;
        let mut d = SpatialDropout2D::new(field(c, "rate", 0.0)?)?;
        d.name = config_name(c, "spatial_dropout2d")?;
        d.seed = field(c, "seed", None)?;
        d.trainable = field(c, "trainable", true)?;
        Ok(d)
    }
}

impl SpatialDropout2D {
    /// The training-mode output for a rank-4 `x` with the mask drawn from `seed`.
    fn drop(&self, x: &Tensor, seed: u64) -> Result<Tensor> {
        if self.rate == 1.0 {
            return x.zeros_like();
        }
        let keep_prob = 1.0 - self.rate;
        let s = x.shape();
        let keep = Tensor::bernoulli(&[s[0], 1, 1, s[3]], keep_prob, seed, DType::Bool, x.device())?;
        // Keras: select(mask, x / keep_prob, 0).
        Tensor::where_cond(&keep, &x.div_scalar(keep_prob)?, &x.scalar_like(0.0)?)
    }
}

impl Layer for SpatialDropout2D {
    super::layer_common!("SpatialDropout2D");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.len() != 4 {
            return Err(shape_error(
                &self.name,
                "a 4-D input (batch, rows, cols, channels)",
                input_shape,
            ));
        }
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        if x.rank() != 4 {
            return Err(rank_error(&self.name, 4, x));
        }
        if !training || self.rate == 0.0 {
            return Ok(x.clone());
        }
        self.drop(x, next_seed())
    }
    /// Keras's `BaseSpatialDropout.get_config`: `rate`, `seed`, `name`, `dtype` (as a
    /// string) and `data_format`, without `trainable`.
    fn get_config(&self) -> Value {
        json!({
            "rate": self.rate,
            "seed": self.seed,
            "name": self.name,
            "dtype": "float32",
            "data_format": "channels_last",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::check_grad;
    use keras_tensor::Device;

    #[test]
    fn spatial_dropout2d_passes_the_layer_harness() {
        run_layer_test(Box::new(SpatialDropout2D::new(0.3).unwrap()), &[3, 2, 4], 0);
        run_layer_test(
            Box::new(SpatialDropout2D::new(0.0).unwrap().seed(3)),
            &[2, 2, 1],
            0,
        );
    }

    #[test]
    fn config_is_keras_s() {
        // keras.layers.SpatialDropout2D(0.5).get_config()
        let d = SpatialDropout2D::new(0.5).unwrap().name("spatial_dropout2d");
        assert_eq!(
            d.get_config(),
            json!({"rate": 0.5, "seed": null, "name": "spatial_dropout2d", "dtype": "float32",
                   "data_format": "channels_last"})
        );
        assert!(SpatialDropout2D::new(1.5).is_err());
        assert!(
            SpatialDropout2D::from_config(&json!({"rate": 0.1, "data_format": "channels_first"})).is_err()
        );
    }

    #[test]
    fn drops_whole_channels_and_rescales() {
        let d = SpatialDropout2D::new(0.25).unwrap();
        let x = Tensor::ones(&[8, 3, 3, 50], DType::F32, &Device::Cpu).unwrap();
        let y = d.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        let mut dropped = 0;
        for b in 0..8 {
            for c in 0..50 {
                let v: Vec<f32> = (0..9).map(|p| y[(b * 9 + p) * 50 + c]).collect();
                assert!(v.iter().all(|&e| e == v[0]), "channel not uniform");
                assert!(v[0] == 0.0 || (v[0] - 1.0 / 0.75).abs() < 1e-6, "{}", v[0]);
                dropped += usize::from(v[0] == 0.0);
            }
        }
        assert!(
            (50..150).contains(&dropped),
            "{dropped} of 400 dropped at rate 0.25"
        );
        // Rate 1 gives zeros, as Keras.
        let all = SpatialDropout2D::new(1.0).unwrap().call(&x, true).unwrap();
        assert!(all.to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0));
        // Gradient: the same mask scaled, for a fixed seed.
        let x = keras_tensor::testing::randn(&[2, 2, 2, 3], 1);
        check_grad("spatial_dropout2d", &[&x], |t| d.drop(&t[0], 5));
    }

    #[test]
    fn wrong_rank_names_the_layer() {
        let d = SpatialDropout2D::new(0.5).unwrap().name("sd");
        let e = d.compute_output_shape(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("sd") && e.contains("(None, 3)"), "{e}");
    }
}
