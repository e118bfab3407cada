//! `RandomTranslation`: shifts images by a random offset while training.

use super::batch_normalization::compute_input;
use super::image_transform::{
    batch_images, check_image_shape, image_config, unbatch, uniform, Factor, FillMode, Interpolation,
    Sampling,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Shifts each image of a batch by its own random offset while training, as
/// `keras.layers.RandomTranslation` (channels-last only); the identity at inference.
///
/// `height_factor` and `width_factor` are fractions of the image's height and width: a
/// number `f` (range `[-f, f]`) or a pair `(a, b)`, each in `[-1, 1]`. The vertical shift is
/// drawn uniformly in `[a · height, b · height]` (positive moves the content down), the
/// horizontal one likewise (positive moves it right). Points that fall outside the input
/// are filled by `fill_mode` (`"reflect"`, default, `"wrap"`, `"constant"` with
/// `fill_value`, `"nearest"`) and pixels are sampled with `interpolation` (`"bilinear"`,
/// default, or `"nearest"`), exactly as Keras's JAX backend.
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); `seed` is kept for the
/// config. The output is tracked: gradients flow back through the interpolation to the
/// input pixels (not to the offsets).
///
/// ```
/// use keras::layers::{Layer, RandomTranslation};
/// use keras_tensor::Tensor;
/// // Exactly one column to the right (0.25 of the width), zeros shifted in.
/// let t = RandomTranslation::new(0.0, (0.25, 0.25))?.fill_mode("constant")?;
/// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[1, 4, 1])?;
/// assert_eq!(t.call(&x, true)?.to_vec::<f32>()?, vec![0.0, 1.0, 2.0, 3.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomTranslation {
    name: String,
    height_factor: Factor,
    width_factor: Factor,
    /// The factors as written in a config (numbers kept as given).
    factors_json: [Value; 2],
    sampling: Sampling,
    seed: Option<u64>,
    trainable: bool,
}

impl RandomTranslation {
    /// Shifts by up to `height_factor` of the height and `width_factor` of the width.
    ///
    /// ```
    /// use keras::layers::RandomTranslation;
    /// let t = RandomTranslation::new(0.1, (-0.2, 0.0))?.interpolation("nearest")?;
    /// assert!(RandomTranslation::new(1.5, 0.1).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a number is outside `[-1, 1]`.
    pub fn new(
        height_factor: impl Into<Factor>,
        width_factor: impl Into<Factor>,
    ) -> Result<RandomTranslation> {
        let (height_factor, width_factor) = (height_factor.into(), width_factor.into());
        height_factor.unit_range("RandomTranslation", "height_factor", false)?;
        width_factor.unit_range("RandomTranslation", "width_factor", false)?;
        Ok(RandomTranslation {
            name: unique_name("random_translation"),
            height_factor,
            width_factor,
            factors_json: [height_factor.to_json(), width_factor.to_json()],
            sampling: Sampling::default(),
            seed: None,
            trainable: true,
        })
    }

    super::image_transform::random_layer_builders!(RandomTranslation, "RandomTranslation::new(0.1, 0.1)?");
    super::image_transform::sampling_builders!(RandomTranslation, "RandomTranslation::new(0.1, 0.1)?");

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomTranslation};
    /// let c = serde_json::json!({"height_factor": 0.2, "width_factor": [0.1, -0.3]});
    /// let t = RandomTranslation::from_config(&c)?;
    /// assert_eq!(t.get_config()["width_factor"], serde_json::json!([0.1, -0.3]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a missing or out-of-range factor, an unknown fill mode or interpolation, or
    /// `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomTranslation> {
        const OP: &str = "RandomTranslation.from_config";
        require_channels_last(c, OP)?;
        let get = |k: &str| -> Result<Factor> {
            Factor::from_config(c, k, OP)?.ok_or_else(|| Error::InvalidArgument {
                op: OP,
                msg: format!("missing field {k:?}"),
            })
        };
        let mut t = RandomTranslation::new(get("height_factor")?, get("width_factor")?)?;
        t.factors_json = [c["height_factor"].clone(), c["width_factor"].clone()];
        t.sampling = Sampling::from_config(c, OP)?;
        t.seed = field(c, "seed", None)?;
        t.name = config_name(c, "random_translation")?;
        t.trainable = field(c, "trainable", true)?;
        Ok(t)
    }

    /// The training-mode output for given `(dx, dy)` shifts in pixels, one pair per image.
    fn shift(&self, images: &Tensor, shifts: &[(f32, f32)]) -> Result<Tensor> {
        let transforms: Vec<[f32; 6]> = shifts
            .iter()
            .map(|&(dx, dy)| [1.0, 0.0, -dx, 0.0, 1.0, -dy])
            .collect();
        self.sampling.apply(images, &transforms)
    }
}

impl Layer for RandomTranslation {
    super::layer_common!("RandomTranslation");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        check_image_shape(&self.name, input_shape)
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        check_image_shape(&self.name, input_shape)?;
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let (images, single) = batch_images(&self.name, x)?;
        if !training {
            return compute_input(x);
        }
        let (n, h, w) = (
            images.shape()[0],
            images.shape()[1] as f32,
            images.shape()[2] as f32,
        );
        let (hl, hh) = self.height_factor.range();
        let dy = uniform(n, hl, hh)?;
        let (wl, wh) = self.width_factor.range();
        let dx = uniform(n, wl, wh)?;
        let shifts: Vec<(f32, f32)> = dx.into_iter().zip(dy).map(|(x, y)| (x * w, y * h)).collect();
        unbatch(self.shift(&images, &shifts)?, single)
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("height_factor".into(), self.factors_json[0].clone());
        m.insert("width_factor".into(), self.factors_json[1].clone());
        self.sampling.to_config(&mut m);
        m.insert("seed".into(), json!(self.seed));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    /// `np.arange(20.).reshape(1, 4, 5, 1) ** 1.5`.
    fn image() -> Tensor {
        let v: Vec<f32> = (0..20).map(|i| (i as f32).powf(1.5)).collect();
        Tensor::new(&v, &[1, 4, 5, 1]).unwrap()
    }

    /// KERAS_BACKEND=jax, `fill_value=7.0`, on `image()` with `training=True`:
    /// bilinear: `keras.layers.RandomTranslation((0.3, 0.3), (-0.25, -0.25), fill_mode=m)`;
    /// nearest: `keras.layers.RandomTranslation((-0.5, -0.5), (0.6, 0.6), fill_mode=m,
    /// interpolation="nearest")`.
    const KERAS: &[(&str, [f32; 20])] = &[
        (
            "trans_bilinear_reflect",
            [
                4.29624, 6.645697, 9.461805, 11.800001, 11.020602, 1.4571067, 3.4203587, 5.8971148, 8.0,
                7.299038, 12.813635, 16.321709, 20.155872, 23.199999, 22.18529, 33.33412, 38.225376,
                43.34405, 47.30656, 45.98572,
            ],
        ),
        (
            "trans_nearest_reflect",
            [
                41.56922, 36.482872, 31.622776, 31.622776, 36.482872, 70.0928, 64.0, 58.09475, 58.09475,
                64.0, 70.0928, 64.0, 58.09475, 58.09475, 64.0, 41.56922, 36.482872, 31.622776, 31.622776,
                36.482872,
            ],
        ),
        (
            "trans_bilinear_wrap",
            [
                59.969448, 65.90817, 72.03432, 70.749016, 54.224407, 14.2703285, 17.068586, 20.31378,
                20.127604, 12.114215, 12.813635, 16.321709, 20.155872, 19.636068, 9.697591, 33.33412,
                38.225376, 43.34405, 42.36349, 28.682137,
            ],
        ),
        (
            "trans_nearest_wrap",
            [
                41.56922, 46.872166, 52.3832, 31.622776, 36.482872, 70.0928, 76.36753, 82.81908, 58.09475,
                64.0, 2.828427, 5.1961527, 8.0, 0.0, 1.0, 18.520258, 22.627417, 27.0, 11.18034, 14.6969385,
            ],
        ),
        (
            "trans_bilinear_constant",
            [
                7.0, 7.0, 7.0, 7.0, 7.0, 2.5656855, 4.1362867, 6.1176915, 7.6, 7.0, 12.813635, 16.321709,
                20.155872, 19.15, 7.0, 33.33412, 38.225376, 43.34405, 37.229923, 7.0,
            ],
        ),
        (
            "trans_nearest_constant",
            [
                7.0, 7.0, 7.0, 31.622776, 36.482872, 7.0, 7.0, 7.0, 58.09475, 64.0, 7.0, 7.0, 7.0, 7.0, 7.0,
                7.0, 7.0, 7.0, 7.0, 7.0,
            ],
        ),
        (
            "trans_bilinear_nearest",
            [
                1.4571067, 3.4203587, 5.8971148, 8.0, 8.0, 1.4571067, 3.4203587, 5.8971148, 8.0, 8.0,
                12.813635, 16.321709, 20.155872, 23.199999, 23.199999, 33.33412, 38.225376, 43.34405,
                47.30656, 47.30656,
            ],
        ),
        (
            "trans_nearest_nearest",
            [
                31.622776, 31.622776, 31.622776, 31.622776, 36.482872, 58.09475, 58.09475, 58.09475,
                58.09475, 64.0, 58.09475, 58.09475, 58.09475, 58.09475, 64.0, 58.09475, 58.09475, 58.09475,
                58.09475, 64.0,
            ],
        ),
    ];

    #[test]
    fn random_translation_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomTranslation::new(0.2, 0.3).unwrap()), &[4, 5, 2], 0);
        run_layer_test(
            Box::new(
                RandomTranslation::new((-0.3, 0.1), 0.5)
                    .unwrap()
                    .fill_mode("wrap")
                    .unwrap()
                    .seed(1),
            ),
            &[3, 3, 1],
            0,
        );
    }

    #[test]
    fn fixed_translation_matches_keras() {
        for (name, want) in KERAS {
            let parts: Vec<&str> = name.split('_').collect();
            let t = if parts[1] == "bilinear" {
                RandomTranslation::new((0.3, 0.3), (-0.25, -0.25)).unwrap()
            } else {
                RandomTranslation::new((-0.5, -0.5), (0.6, 0.6))
                    .unwrap()
                    .interpolation("nearest")
                    .unwrap()
            };
            let t = t.fill_mode(parts[2]).unwrap().fill_value(7.0);
            let y = t.call(&image(), true).unwrap();
            assert_close(name, &y, &Tensor::new(want, &[1, 4, 5, 1]).unwrap(), 1e-5, 1e-5);
        }
    }

    #[test]
    fn whole_pixel_shifts_move_pixels() {
        // Two rows down and one column left on a 4 x 5 image, zero fill.
        let t = RandomTranslation::new((0.5, 0.5), (-0.2, -0.2))
            .unwrap()
            .fill_mode("constant")
            .unwrap();
        let y = t.call(&image(), true).unwrap().to_vec::<f32>().unwrap();
        let x = image().to_vec::<f32>().unwrap();
        for r in 0..4 {
            for c in 0..5 {
                let want = if r >= 2 && c < 4 {
                    x[(r - 2) * 5 + c + 1]
                } else {
                    0.0
                };
                assert_eq!(y[r * 5 + c], want, "pixel ({r}, {c})");
            }
        }
    }

    #[test]
    fn shifts_are_drawn_per_image_and_reproducible() {
        let t = RandomTranslation::new(0.5, 0.5).unwrap();
        let x = Tensor::concat(&[&image(); 8], 0).unwrap();
        let y = t.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        let distinct: std::collections::HashSet<Vec<u32>> = y
            .chunks(20)
            .map(|c| c.iter().map(|v| v.to_bits()).collect())
            .collect();
        assert_eq!(distinct.len(), 8, "each image gets its own shift");
        assert_eq!(
            t.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap()
        );
        crate::set_random_seed(9);
        let a = t.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(9);
        assert_eq!(a, t.call(&x, true).unwrap().to_vec::<f32>().unwrap());
        check_grad("random_translation", &[&randn(&[2, 3, 4, 2], 1)], |i| {
            t.shift(&i[0], &[(0.3, -1.2), (2.5, 0.7)])
        });
        assert_eq!(t.call(&randn(&[3, 4, 1], 2), true).unwrap().shape(), &[3, 4, 1]);
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomTranslation(0.2, (0.1, -0.3)).get_config()
        let t = RandomTranslation::new(0.2, (0.1, -0.3))
            .unwrap()
            .name("random_translation");
        assert_eq!(
            t.get_config(),
            json!({"name": "random_translation", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "height_factor": 0.2, "width_factor": [0.1, -0.3],
                   "fill_mode": "reflect", "interpolation": "bilinear", "seed": null, "fill_value": 0.0})
        );
        let raw = json!({"height_factor": [1, -1], "width_factor": 0});
        let r = RandomTranslation::from_config(&raw).unwrap().get_config();
        assert_eq!(
            (&r["height_factor"], &r["width_factor"]),
            (&json!([1, -1]), &json!(0))
        );
        assert!(RandomTranslation::new(0.1, (0.0, 1.5)).is_err());
        assert!(RandomTranslation::new(0.1, 0.1)
            .unwrap()
            .fill_mode("edge")
            .is_err());
        assert!(RandomTranslation::from_config(&json!({"height_factor": 0.1})).is_err());
        assert!(
            RandomTranslation::from_config(&json!({"height_factor": 0.1, "width_factor": [1, 2, 3]}))
                .is_err()
        );
        let e = t.call(&randn(&[1, 2, 3, 4, 5], 1), true).unwrap_err().to_string();
        assert!(
            e.contains("random_translation") && e.contains("(1, 2, 3, 4, 5)"),
            "{e}"
        );
    }
}
