//! `RandomContrast`: scales each image's deviation from its mean by a random factor while
//! training.

use super::batch_normalization::compute_input;
use super::image_transform::{
    batch_images, check_image_shape, image_config, per_image, range_json, sorted_pair_json, unbatch, uniform,
    Factor,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Adjusts the contrast of each image of a batch by its own random factor while training,
/// as `keras.layers.RandomContrast` (channels-last only); the identity at inference.
///
/// For each image and channel, `(x - mean) * c + mean`, with `mean` over the image's pixels
/// and `c` drawn uniformly in `[1 - lower, 1 + upper]`, then clipped to `value_range`
/// (default `(0, 255)`). The factor follows Keras 3 exactly, quirks included: a number `f`
/// in `[0, 1]` gives `(lower, upper) = (0, f)`, so contrast is only ever *increased*
/// (`c ∈ [1, 1 + f]`); a pair `(a, b)` is sorted and used as is (`(-0.5, 0.5)` gives the
/// fixed factor 1.5), Keras only rejecting `a > 1` or `b < 0`.
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); `seed` is kept for the
/// config. The output is tracked: gradients flow back to the input (zero where clipped).
///
/// ```
/// use keras::layers::{Layer, RandomContrast};
/// use keras_tensor::Tensor;
/// let c = RandomContrast::new((-0.5, 0.5))?; // the fixed factor 1.5
/// let x = Tensor::new(&[10.0f32, 20.0], &[1, 2, 1])?;
/// assert_eq!(c.call(&x, true)?.to_vec::<f32>()?, vec![7.5, 22.5]);
/// assert_eq!(c.call(&x, false)?.to_vec::<f32>()?, vec![10.0, 20.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomContrast {
    name: String,
    factor: (f64, f64),
    factor_json: Value,
    value_range: [f64; 2],
    value_range_json: Value,
    seed: Option<u64>,
    trainable: bool,
}

impl RandomContrast {
    /// Contrast factors from `factor`: a number in `[0, 1]` or a pair (see the type's
    /// documentation for Keras's rule).
    ///
    /// ```
    /// use keras::layers::RandomContrast;
    /// let c = RandomContrast::new(0.2)?.value_range(0.0, 1.0);
    /// assert!(RandomContrast::new(-0.2).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a number outside `[0, 1]`, or a pair `(a, b)` with `a > 1` or `b < 0`.
    pub fn new(factor: impl Into<Factor>) -> Result<RandomContrast> {
        let factor = factor.into();
        let range = factor.base_range((0.0, 1.0), "RandomContrast")?;
        Ok(RandomContrast {
            name: unique_name("random_contrast"),
            factor: range,
            factor_json: range_json(range, matches!(factor, Factor::Scalar(_)), 0.0),
            value_range: [0.0, 255.0],
            value_range_json: json!([0, 255]),
            seed: None,
            trainable: true,
        })
    }

    /// The range outputs are clipped to (default `(0, 255)`).
    ///
    /// ```
    /// let c = keras::layers::RandomContrast::new(0.2)?.value_range(-1.0, 1.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn value_range(mut self, lo: f64, hi: f64) -> RandomContrast {
        self.value_range = [lo, hi];
        self.value_range_json = json!([lo, hi]);
        self
    }

    super::image_transform::random_layer_builders!(RandomContrast, "RandomContrast::new(0.1)?");

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomContrast};
    /// let c = RandomContrast::from_config(&serde_json::json!({"factor": [0, 0.2], "value_range": [0, 1]}))?;
    /// assert_eq!(c.get_config()["value_range"], serde_json::json!([0, 1]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a missing or out-of-range `factor`, a malformed `value_range`, or
    /// `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomContrast> {
        const OP: &str = "RandomContrast.from_config";
        require_channels_last(c, OP)?;
        let factor = Factor::from_config(c, "factor", OP)?.ok_or_else(|| Error::InvalidArgument {
            op: OP,
            msg: "missing field \"factor\"".into(),
        })?;
        let mut r = RandomContrast::new(factor)?;
        if let Some(j) = sorted_pair_json(c.get("factor")) {
            r.factor_json = j;
        }
        if let Some(v) = c.get("value_range").filter(|v| !v.is_null()) {
            r.value_range = value_range_from_json(v, OP)?;
            r.value_range_json = v.clone();
        }
        r.seed = field(c, "seed", None)?;
        r.name = config_name(c, "random_contrast")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }

    /// The training-mode output for given factors, one per image.
    fn adjust(&self, images: &Tensor, factors: Vec<f32>) -> Result<Tensor> {
        let mean = images.mean(&[1], true)?.mean(&[2], true)?;
        let f = per_image(factors, images)?;
        images
            .sub(&mean)?
            .mul(&f)?
            .add(&mean)?
            .clip(self.value_range[0], self.value_range[1])
    }
}

/// A `[low, high]` pair of numbers from a config.
pub(super) fn value_range_from_json(v: &Value, op: &'static str) -> Result<[f64; 2]> {
    match v
        .as_array()
        .map(|a| a.iter().map(Value::as_f64).collect::<Vec<_>>())
    {
        Some(a) if a.len() == 2 && a.iter().all(Option::is_some) => {
            Ok([a[0].unwrap_or(0.0), a[1].unwrap_or(0.0)])
        }
        _ => Err(Error::InvalidArgument {
            op,
            msg: format!("field \"value_range\": expected a list of two numbers, got {v}"),
        }),
    }
}

impl Layer for RandomContrast {
    super::layer_common!("RandomContrast");
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
        let factors = uniform(images.shape()[0], 1.0 - lo, 1.0 + hi)?;
        unbatch(self.adjust(&images, factors)?, single)
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
    fn random_contrast_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomContrast::new(0.3).unwrap()), &[4, 5, 3], 0);
        run_layer_test(
            Box::new(
                RandomContrast::new((0.1, 0.4))
                    .unwrap()
                    .value_range(-1.0, 1.0)
                    .seed(2),
            ),
            &[3, 3, 1],
            0,
        );
    }

    #[test]
    fn fixed_factor_matches_keras() {
        // KERAS_BACKEND=jax: keras.layers.RandomContrast((-0.5, 0.5))(image, training=True)
        let want = [
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            5.261_558_5,
            10.996_54,
            17.157_276,
            23.716_152,
            30.650_316,
            37.940_46,
            45.569_984,
            53.524_4,
            61.790_955,
            70.358_28,
            79.216_156,
            88.355_35,
            97.767_45,
            107.444_77,
        ];
        let y = RandomContrast::new((-0.5, 0.5))
            .unwrap()
            .call(&image(), true)
            .unwrap();
        assert_close(
            "contrast",
            &y,
            &Tensor::new(&want, &[1, 4, 5, 1]).unwrap(),
            1e-5,
            1e-5,
        );
        // ... with value_range=(0, 40): clipped.
        let clipped: Vec<f32> = want.iter().map(|v: &f32| v.min(40.0)).collect();
        let y = RandomContrast::new((-0.5, 0.5))
            .unwrap()
            .value_range(0.0, 40.0)
            .call(&image(), true)
            .unwrap();
        assert_close(
            "contrast clip",
            &y,
            &Tensor::new(&clipped, &[1, 4, 5, 1]).unwrap(),
            1e-5,
            1e-5,
        );
    }

    #[test]
    fn factors_are_drawn_per_image_in_keras_range() {
        // Per image and channel: (x - mean) * c + mean with c in [1, 1.5] for factor 0.5.
        let c = RandomContrast::new(0.5).unwrap();
        let one = [100.0f32, 110.0, 120.0, 130.0];
        let x = Tensor::new(&one.repeat(200), &[200, 2, 2, 1]).unwrap();
        let y = c.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        let factors: Vec<f32> = y.chunks(4).map(|p| (p[3] - p[0]) / 30.0).collect();
        assert!(
            factors.iter().all(|&f| (0.9999..1.5001).contains(&f)),
            "{factors:?}"
        );
        let mean = factors.iter().sum::<f32>() / 200.0;
        assert!((mean - 1.25).abs() < 0.03, "{mean}");
        assert!(factors.iter().any(|&f| f > 1.4) && factors.iter().any(|&f| f < 1.1));
        assert_eq!(
            c.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap()
        );
        crate::set_random_seed(4);
        let a = c.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(4);
        assert_eq!(a, c.call(&x, true).unwrap().to_vec::<f32>().unwrap());
        let wide = RandomContrast::new(0.5).unwrap().value_range(-100.0, 100.0);
        check_grad("random_contrast", &[&randn(&[2, 3, 2, 2], 1)], |t| {
            wide.adjust(&t[0], vec![1.3, 0.7])
        });
        assert_eq!(c.call(&randn(&[3, 2, 2], 1), true).unwrap().shape(), &[3, 2, 2]);
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomContrast(0.2).get_config()
        let c = RandomContrast::new(0.2).unwrap().name("random_contrast");
        assert_eq!(
            c.get_config(),
            json!({"name": "random_contrast", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "factor": [0, 0.2], "value_range": [0, 255], "seed": null})
        );
        assert_eq!(
            RandomContrast::new((0.3, 0.1)).unwrap().get_config()["factor"],
            json!([0.1, 0.3])
        );
        let raw = json!({"factor": [0.2, 0], "value_range": [0, 1.0], "seed": 3});
        let r = RandomContrast::from_config(&raw).unwrap().get_config();
        assert_eq!(
            (&r["factor"], &r["value_range"]),
            (&json!([0, 0.2]), &json!([0, 1.0]))
        );
        assert!(RandomContrast::new(1.5).is_err());
        assert!(RandomContrast::new((1.5, 2.0)).is_err());
        assert!(RandomContrast::new((-2.0, -1.0)).is_err());
        assert!(RandomContrast::from_config(&json!({})).is_err());
        assert!(RandomContrast::from_config(&json!({"factor": 0.1, "value_range": [1]})).is_err());
        let e = c.call(&randn(&[3], 1), true).unwrap_err().to_string();
        assert!(e.contains("random_contrast") && e.contains("(3,)"), "{e}");
    }
}
