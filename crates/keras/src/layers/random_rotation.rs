//! `RandomRotation`: rotates images by a random angle while training.

use super::batch_normalization::compute_input;
use super::image_transform::{
    batch_images, check_image_shape, image_config, range_json, sorted_pair_json, unbatch, uniform, Factor,
    FillMode, Interpolation, Sampling,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Rotates each image of a batch by its own random angle while training, as
/// `keras.layers.RandomRotation` (channels-last only); the identity at inference.
///
/// `factor` is a fraction of a full turn: `f` draws angles uniformly in
/// `[-f · 360°, f · 360°]`, `(a, b)` in `[a · 360°, b · 360°]`; positive angles turn
/// counter-clockwise, about the image centre. Points that fall outside the input are
/// filled by `fill_mode` (`"reflect"`, default, `"wrap"`, `"constant"` with `fill_value`,
/// `"nearest"`), and pixels are sampled with `interpolation` (`"bilinear"`, default, or
/// `"nearest"`), exactly as Keras's JAX backend (`affine_transform` on
/// `jax.scipy.ndimage.map_coordinates`).
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); `seed` is kept for the
/// config. The output is tracked: it is a fixed linear map of the input pixels, so gradients
/// flow back through the interpolation (not to the angles).
///
/// ```
/// use keras::layers::{Layer, RandomRotation};
/// use keras_tensor::Tensor;
/// // A quarter turn exactly: factor range [0.25, 0.25].
/// let r = RandomRotation::new((0.25, 0.25))?.interpolation("nearest")?;
/// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2, 1])?;
/// assert_eq!(r.call(&x, true)?.to_vec::<f32>()?, vec![2.0, 4.0, 1.0, 3.0]);
/// assert_eq!(r.call(&x, false)?.to_vec::<f32>()?, vec![1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomRotation {
    name: String,
    /// The sorted range, in turns.
    factor: (f64, f64),
    /// `factor` as Keras writes it in the config.
    factor_json: Value,
    sampling: Sampling,
    seed: Option<u64>,
    trainable: bool,
}

impl RandomRotation {
    /// Rotations by up to `factor` turns: a number `f` (`[-f, f]`) or a pair `(a, b)`.
    ///
    /// ```
    /// use keras::layers::RandomRotation;
    /// let r = RandomRotation::new(0.1)?.fill_mode("constant")?.fill_value(0.5);
    /// let r = RandomRotation::new((-0.2, 0.3))?;
    /// assert!(RandomRotation::new(1.5).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a number is outside `[-1, 1]` (for a pair, Keras only rejects `a > 1` or
    /// `b < -1`).
    pub fn new(factor: impl Into<Factor>) -> Result<RandomRotation> {
        let factor = factor.into();
        let range = factor.base_range((-1.0, 1.0), "RandomRotation")?;
        Ok(RandomRotation {
            name: unique_name("random_rotation"),
            factor: range,
            factor_json: range_json(range, matches!(factor, Factor::Scalar(_)), -1.0),
            sampling: Sampling::default(),
            seed: None,
            trainable: true,
        })
    }

    super::image_transform::random_layer_builders!(RandomRotation, "RandomRotation::new(0.1)?");
    super::image_transform::sampling_builders!(RandomRotation, "RandomRotation::new(0.1)?");

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomRotation};
    /// let r = RandomRotation::from_config(&serde_json::json!({"factor": [-0.2, 0.2]}))?;
    /// assert_eq!(r.get_config()["fill_mode"], "reflect");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a missing or out-of-range `factor`, an unknown fill mode or interpolation, or
    /// `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomRotation> {
        const OP: &str = "RandomRotation.from_config";
        require_channels_last(c, OP)?;
        let factor = Factor::from_config(c, "factor", OP)?.ok_or_else(|| Error::InvalidArgument {
            op: OP,
            msg: "missing field \"factor\"".into(),
        })?;
        let mut r = RandomRotation::new(factor)?;
        if let Some(j) = sorted_pair_json(c.get("factor")) {
            r.factor_json = j;
        }
        r.sampling = Sampling::from_config(c, OP)?;
        r.seed = field(c, "seed", None)?;
        r.name = config_name(c, "random_rotation")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }

    /// Keras's rotation matrix (`_compute_affine_matrix` with no shear, scale 1) for an
    /// angle in degrees on an `h × w` image, in float32.
    fn matrix(angle: f32, h: usize, w: usize) -> [f32; 6] {
        let rad = angle * (std::f64::consts::PI / 180.0) as f32;
        let (cx, cy) = (0.5 * (w as f32 - 1.0), 0.5 * (h as f32 - 1.0));
        let (cos, sin) = (rad.cos(), rad.sin());
        let (a0, a1, b0, b1) = (cos, -sin, sin, cos);
        [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1]
    }

    /// The training-mode output for given angles (degrees), one per image.
    fn rotate(&self, images: &Tensor, angles: &[f32]) -> Result<Tensor> {
        let (h, w) = (images.shape()[1], images.shape()[2]);
        let transforms: Vec<[f32; 6]> = angles.iter().map(|&a| Self::matrix(a, h, w)).collect();
        self.sampling.apply(images, &transforms)
    }
}

impl Layer for RandomRotation {
    super::layer_common!("RandomRotation");
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
        let angles = uniform(images.shape()[0], lo * 360.0, hi * 360.0)?;
        unbatch(self.rotate(&images, &angles)?, single)
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("factor".into(), self.factor_json.clone());
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

    /// KERAS_BACKEND=jax: `keras.layers.RandomRotation((0.1, 0.1), fill_mode=m,
    /// interpolation=i, fill_value=7.0)(image(), training=True)` (a fixed 36° turn).
    const KERAS: &[(&str, [f32; 20])] = &[
        (
            "rot_bilinear_reflect",
            [
                1.4820536, 3.000468, 9.85065, 23.319485, 38.72818, 0.6758586, 9.331672, 21.96186, 39.723316,
                60.12538, 8.399413, 21.191366, 37.908844, 58.58931, 78.45875, 22.177452, 36.49527, 56.803844,
                69.650085, 74.713234,
            ],
        ),
        (
            "rot_nearest_reflect",
            [
                1.0, 2.828427, 5.1961527, 27.0, 27.0, 1.0, 14.6969385, 18.520258, 46.872166, 52.3832,
                11.18034, 14.6969385, 41.56922, 46.872166, 76.36753, 31.622776, 31.622776, 64.0, 70.0928,
                76.36753,
            ],
        ),
        (
            "rot_bilinear_wrap",
            [
                58.494694, 23.353485, 9.85065, 23.319485, 29.682137, 5.5935116, 9.331672, 21.96186,
                39.723316, 60.12538, 8.399413, 21.191366, 37.908844, 58.58931, 72.66474, 31.410913, 36.49527,
                56.803844, 49.475967, 12.350868,
            ],
        ),
        (
            "rot_nearest_wrap",
            [
                64.0, 2.828427, 5.1961527, 27.0, 27.0, 1.0, 14.6969385, 18.520258, 46.872166, 52.3832,
                11.18034, 14.6969385, 41.56922, 46.872166, 76.36753, 31.622776, 31.622776, 64.0, 70.0928,
                5.1961527,
            ],
        ),
        (
            "rot_bilinear_constant",
            [
                6.388038, 4.20557, 9.85065, 23.319485, 22.873228, 1.1822896, 9.331672, 21.96186, 39.723316,
                60.12538, 8.399413, 21.191366, 37.908844, 58.58931, 72.73641, 14.593099, 36.49527, 56.803844,
                50.77294, 14.509667,
            ],
        ),
        (
            "rot_nearest_constant",
            [
                7.0, 2.828427, 5.1961527, 27.0, 27.0, 1.0, 14.6969385, 18.520258, 46.872166, 52.3832,
                11.18034, 14.6969385, 41.56922, 46.872166, 76.36753, 31.622776, 31.622776, 64.0, 70.0928,
                7.0,
            ],
        ),
        (
            "rot_bilinear_nearest",
            [
                1.4820536, 3.000468, 9.85065, 23.319485, 38.72818, 0.6758586, 9.331672, 21.96186, 39.723316,
                60.12538, 8.399413, 21.191366, 37.908844, 58.58931, 78.45875, 22.177452, 36.49527, 56.803844,
                69.650085, 74.713234,
            ],
        ),
        (
            "rot_nearest_nearest",
            [
                1.0, 2.828427, 5.1961527, 27.0, 27.0, 1.0, 14.6969385, 18.520258, 46.872166, 52.3832,
                11.18034, 14.6969385, 41.56922, 46.872166, 76.36753, 31.622776, 31.622776, 64.0, 70.0928,
                76.36753,
            ],
        ),
    ];

    #[test]
    fn random_rotation_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomRotation::new(0.2).unwrap()), &[4, 5, 2], 0);
        run_layer_test(
            Box::new(
                RandomRotation::new((-0.1, 0.3))
                    .unwrap()
                    .fill_mode("constant")
                    .unwrap()
                    .seed(3),
            ),
            &[3, 3, 1],
            0,
        );
    }

    #[test]
    fn fixed_rotation_matches_keras() {
        for (name, want) in KERAS {
            let parts: Vec<&str> = name.split('_').collect();
            let r = RandomRotation::new((0.1, 0.1))
                .unwrap()
                .interpolation(parts[1])
                .unwrap()
                .fill_mode(parts[2])
                .unwrap()
                .fill_value(7.0);
            let y = r.call(&image(), true).unwrap();
            assert_close(name, &y, &Tensor::new(want, &[1, 4, 5, 1]).unwrap(), 1e-5, 1e-5);
        }
    }

    #[test]
    fn quarter_turn_is_transpose_and_flip() {
        // np.rot90 of a square image: out[i][j] = x[j][n - 1 - i].
        let v: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let x = Tensor::new(&v, &[4, 4, 1]).unwrap();
        let want = x.transpose(0, 1).unwrap().flip(&[0]).unwrap();
        let r = RandomRotation::new((0.25, 0.25))
            .unwrap()
            .interpolation("nearest")
            .unwrap();
        let y = r.call(&x, true).unwrap();
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            want.contiguous().unwrap().to_vec::<f32>().unwrap()
        );
        // keras.layers.RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True)
        let keras = [
            3., 7., 11., 15., 2., 6., 10., 14., 1., 5., 9., 13., 0., 4., 8., 12.,
        ];
        assert_eq!(y.to_vec::<f32>().unwrap(), keras.to_vec());
        let bilinear = RandomRotation::new((0.25, 0.25)).unwrap().call(&x, true).unwrap();
        assert_close("bilinear quarter turn", &bilinear, &y, 0.0, 1e-5);
    }

    #[test]
    fn angles_are_drawn_per_image_and_reproducible() {
        let r = RandomRotation::new(0.2).unwrap().fill_mode("constant").unwrap();
        let x = Tensor::concat(&[&image(); 8], 0).unwrap();
        let y = r.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        let distinct: std::collections::HashSet<Vec<u32>> = y
            .chunks(20)
            .map(|c| c.iter().map(|v| v.to_bits()).collect())
            .collect();
        assert_eq!(distinct.len(), 8, "each image gets its own angle");
        assert_eq!(
            r.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap()
        );
        crate::set_random_seed(5);
        let a = r.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(5);
        assert_eq!(a, r.call(&x, true).unwrap().to_vec::<f32>().unwrap());
        // Gradients flow through the (fixed) interpolation.
        check_grad("random_rotation", &[&randn(&[2, 3, 4, 2], 1)], |t| {
            r.rotate(&t[0], &[30.0, -50.0])
        });
        let single = r.call(&randn(&[3, 4, 2], 2), true).unwrap();
        assert_eq!(single.shape(), &[3, 4, 2]);
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomRotation(0.2).get_config()
        let r = RandomRotation::new(0.2).unwrap().name("random_rotation");
        assert_eq!(
            r.get_config(),
            json!({"name": "random_rotation", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "factor": [-0.2, 0.2], "fill_mode": "reflect",
                   "fill_value": 0.0, "interpolation": "bilinear", "seed": null})
        );
        let r = RandomRotation::from_config(&json!({"factor": [0.5, -1]})).unwrap();
        assert_eq!(r.get_config()["factor"], json!([-1, 0.5]));
        assert_eq!(
            RandomRotation::new(1.0).unwrap().get_config()["factor"],
            json!([-1.0, 1.0])
        );
        assert!(RandomRotation::new(-1.5).is_err());
        assert!(RandomRotation::new((1.5, 2.0)).is_err());
        assert!(RandomRotation::new(0.1).unwrap().fill_mode("mirror").is_err());
        assert!(RandomRotation::new(0.1)
            .unwrap()
            .interpolation("bicubic")
            .is_err());
        assert!(RandomRotation::from_config(&json!({})).is_err());
        assert!(
            RandomRotation::from_config(&json!({"factor": 0.1, "data_format": "channels_first"})).is_err()
        );
        let e = r.call(&randn(&[5], 1), true).unwrap_err().to_string();
        assert!(e.contains("random_rotation") && e.contains("(5,)"), "{e}");
    }
}
