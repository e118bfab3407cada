//! `RandomBrightness`: adds a random offset to each image while training.

use super::batch_normalization::compute_input;
use super::image_transform::{
    batch_images, check_image_shape, image_config, per_image, range_json, sorted_pair_json, unbatch, uniform,
    Factor,
};
use super::random_contrast::value_range_from_json;
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Brightens or darkens each image of a batch by its own random amount while training, as
/// `keras.layers.RandomBrightness` (channels-last only); the identity at inference.
///
/// Every pixel of an image gets the same offset `d · (high - low)`, with `d` drawn
/// uniformly in the factor's range (a number `f` in `[-1, 1]` gives `[-|f|, |f|]`, a pair
/// `(a, b)` is sorted) and `(low, high)` the `value_range` (default `(0, 255)`, sorted); the
/// result is clipped to `value_range`.
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); `seed` is kept for the
/// config. The output is tracked: gradients flow back to the input (zero where clipped).
///
/// ```
/// use keras::layers::{Layer, RandomBrightness};
/// use keras_tensor::Tensor;
/// let b = RandomBrightness::new((0.1, 0.1))?.value_range(0.0, 1.0)?; // exactly +0.1
/// let x = Tensor::new(&[0.25f32, 0.95], &[1, 2, 1])?;
/// assert_eq!(b.call(&x, true)?.to_vec::<f32>()?, vec![0.35, 1.0]);
/// assert_eq!(b.call(&x, false)?.to_vec::<f32>()?, vec![0.25, 0.95]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomBrightness {
    name: String,
    factor: (f64, f64),
    factor_json: Value,
    value_range: [f64; 2],
    value_range_json: Value,
    seed: Option<u64>,
    trainable: bool,
}

impl RandomBrightness {
    /// Offsets from `factor`, a fraction of the value range: a number in `[-1, 1]` or a pair.
    ///
    /// ```
    /// use keras::layers::RandomBrightness;
    /// let b = RandomBrightness::new(0.2)?;
    /// assert!(RandomBrightness::new(1.2).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a number outside `[-1, 1]`, or a pair `(a, b)` with `a > 1` or `b < -1`.
    pub fn new(factor: impl Into<Factor>) -> Result<RandomBrightness> {
        let factor = factor.into();
        let range = factor.base_range((-1.0, 1.0), "RandomBrightness")?;
        Ok(RandomBrightness {
            name: unique_name("random_brightness"),
            factor: range,
            factor_json: range_json(range, matches!(factor, Factor::Scalar(_)), -1.0),
            value_range: [0.0, 255.0],
            value_range_json: json!([0, 255]),
            seed: None,
            trainable: true,
        })
    }

    /// The input's value range (sorted; default `(0, 255)`): offsets scale with its width and
    /// outputs are clipped to it.
    ///
    /// ```
    /// let b = keras::layers::RandomBrightness::new(0.2)?.value_range(1.0, 0.0)?;
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a bound is not finite.
    pub fn value_range(mut self, a: f64, b: f64) -> Result<RandomBrightness> {
        if !(a.is_finite() && b.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "RandomBrightness",
                msg: format!("value_range must be two finite numbers, got ({a}, {b})"),
            });
        }
        let (lo, hi) = (a.min(b), a.max(b));
        self.value_range = [lo, hi];
        self.value_range_json = json!([lo, hi]);
        Ok(self)
    }

    super::image_transform::random_layer_builders!(RandomBrightness, "RandomBrightness::new(0.1)?");

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomBrightness};
    /// let b = RandomBrightness::from_config(&serde_json::json!({"factor": [-0.2, 0.2]}))?;
    /// assert_eq!(b.get_config()["value_range"], serde_json::json!([0, 255]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a missing or out-of-range `factor`, a malformed `value_range`, or
    /// `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomBrightness> {
        const OP: &str = "RandomBrightness.from_config";
        require_channels_last(c, OP)?;
        let factor = Factor::from_config(c, "factor", OP)?.ok_or_else(|| Error::InvalidArgument {
            op: OP,
            msg: "missing field \"factor\"".into(),
        })?;
        let mut r = RandomBrightness::new(factor)?;
        if let Some(j) = sorted_pair_json(c.get("factor")) {
            r.factor_json = j;
        }
        if let Some(v) = c.get("value_range").filter(|v| !v.is_null()) {
            let [a, b] = value_range_from_json(v, OP)?;
            r = r.value_range(a, b)?;
            // Keep the numbers as written (sorted), as Keras's `sorted(value_range)`.
            let mut items = v.as_array().cloned().unwrap_or_default();
            if a > b {
                items.reverse();
            }
            r.value_range_json = Value::Array(items);
        }
        r.seed = field(c, "seed", None)?;
        r.name = config_name(c, "random_brightness")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }

    /// The training-mode output for given draws `d`, one per image.
    fn brighten(&self, images: &Tensor, draws: Vec<f32>) -> Result<Tensor> {
        let [lo, hi] = self.value_range;
        let width = (hi - lo) as f32;
        let delta = per_image(draws.into_iter().map(|d| d * width).collect(), images)?;
        images.add(&delta)?.clip(lo, hi)
    }
}

impl Layer for RandomBrightness {
    super::layer_common!("RandomBrightness");
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
        let (lo, hi) = self.factor;
        let draws = uniform(images.shape()[0], lo, hi)?;
        unbatch(self.brighten(&images, draws)?, single)
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("factor".into(), self.factor_json.clone());
        m.insert("value_range".into(), self.value_range_json.clone());
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

    #[test]
    fn random_brightness_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomBrightness::new(0.3).unwrap()), &[4, 5, 3], 0);
        run_layer_test(
            Box::new(
                RandomBrightness::new((-0.1, 0.4))
                    .unwrap()
                    .value_range(-1.0, 1.0)
                    .unwrap()
                    .seed(2),
            ),
            &[3, 3, 1],
            0,
        );
    }

    #[test]
    fn fixed_offset_matches_keras() {
        // KERAS_BACKEND=jax: keras.layers.RandomBrightness((0.1, 0.1), value_range=(0, 50))(
        //     image, training=True)
        let want = [
            5.0,
            6.0,
            7.828_427_3,
            10.196_153,
            13.0,
            16.180_34,
            19.696_938,
            23.520_258,
            27.627_417,
            32.0,
            36.622_776,
            41.482_872,
            46.569_22,
            50.0,
            50.0,
            50.0,
            50.0,
            50.0,
            50.0,
            50.0,
        ];
        let b = RandomBrightness::new((0.1, 0.1))
            .unwrap()
            .value_range(0.0, 50.0)
            .unwrap();
        let y = b.call(&image(), true).unwrap();
        assert_close(
            "brightness",
            &y,
            &Tensor::new(&want, &[1, 4, 5, 1]).unwrap(),
            1e-6,
            1e-5,
        );
    }

    #[test]
    fn offsets_are_drawn_per_image_in_range() {
        let b = RandomBrightness::new(0.2).unwrap();
        let x = Tensor::full(
            100.0,
            &[300, 2, 2, 1],
            keras_tensor::DType::F32,
            &keras_tensor::Device::Cpu,
        )
        .unwrap();
        let y = b.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        let offsets: Vec<f32> = y
            .chunks(4)
            .map(|p| {
                assert!(p.iter().all(|&v| v == p[0]), "one offset per image");
                p[0] - 100.0
            })
            .collect();
        assert!(offsets.iter().all(|d| d.abs() <= 51.0), "±0.2 · 255");
        assert!(offsets.iter().any(|&d| d > 40.0) && offsets.iter().any(|&d| d < -40.0));
        let mean = offsets.iter().sum::<f32>() / 300.0;
        assert!(mean.abs() < 5.0, "{mean}");
        assert_eq!(
            b.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap()
        );
        crate::set_random_seed(6);
        let a = b.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(6);
        assert_eq!(a, b.call(&x, true).unwrap().to_vec::<f32>().unwrap());
        let wide = RandomBrightness::new(0.2)
            .unwrap()
            .value_range(-100.0, 100.0)
            .unwrap();
        check_grad("random_brightness", &[&randn(&[2, 3, 2, 2], 1)], |t| {
            wide.brighten(&t[0], vec![0.1, -0.05])
        });
        assert_eq!(b.call(&randn(&[3, 2, 2], 1), true).unwrap().shape(), &[3, 2, 2]);
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomBrightness(0.2).get_config()
        let b = RandomBrightness::new(0.2).unwrap().name("random_brightness");
        assert_eq!(
            b.get_config(),
            json!({"name": "random_brightness", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "factor": [-0.2, 0.2], "value_range": [0, 255], "seed": null})
        );
        let r = RandomBrightness::from_config(&json!({"factor": 0.1, "value_range": [1, 0]})).unwrap();
        assert_eq!(r.get_config()["value_range"], json!([0, 1]));
        assert_eq!(
            RandomBrightness::new(1.0).unwrap().get_config()["factor"],
            json!([-1.0, 1.0])
        );
        assert!(RandomBrightness::new(-1.5).is_err());
        assert!(RandomBrightness::new((2.0, 3.0)).is_err());
        assert!(RandomBrightness::new(0.1)
            .unwrap()
            .value_range(f64::NAN, 1.0)
            .is_err());
        assert!(RandomBrightness::from_config(&json!({})).is_err());
        assert!(RandomBrightness::from_config(&json!({"factor": 0.1, "value_range": 255})).is_err());
        let e = b.call(&randn(&[3], 1), true).unwrap_err().to_string();
        assert!(e.contains("random_brightness") && e.contains("(3,)"), "{e}");
    }
}
