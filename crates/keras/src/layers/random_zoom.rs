//! `RandomZoom`: zooms images in or out by a random factor while training.

use super::batch_normalization::compute_input;
use super::image_transform::{
    batch_images, check_image_shape, image_config, unbatch, uniform, Factor, FillMode, Interpolation,
    Sampling,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Zooms each image of a batch by its own random factors while training, as
/// `keras.layers.RandomZoom` (channels-last only); the identity at inference.
///
/// `height_factor` is a number `f` (range `[-f, f]`) or a pair `(a, b)`, each in
/// `(-1, 1]`; the vertical zoom is drawn uniformly in `[1 + a, 1 + b]`, and a value above 1
/// zooms **out** (the image shrinks), below 1 zooms in — Keras's convention. Without
/// `width_factor` the horizontal zoom equals the vertical one (aspect ratio kept);
/// otherwise it is drawn separately in the same way. The zoom is centred; points that fall
/// outside the input are filled by `fill_mode` (`"reflect"`, default, `"wrap"`,
/// `"constant"` with `fill_value`, `"nearest"`) and pixels are sampled with
/// `interpolation` (`"bilinear"`, default, or `"nearest"`), exactly as Keras's JAX backend.
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); `seed` is kept for the
/// config. The output is tracked: gradients flow back through the interpolation to the
/// input pixels (not to the zoom factors).
///
/// ```
/// use keras::layers::{Layer, RandomZoom};
/// use keras_tensor::Tensor;
/// // Zoom in 2x exactly (factor range [-0.5, -0.5]) on the 3-pixel row [0, 1, 2].
/// let z = RandomZoom::new((-0.5, -0.5))?.width_factor((-0.5, -0.5))?;
/// let x = Tensor::new(&[0.0f32, 1.0, 2.0], &[1, 3, 1])?;
/// assert_eq!(z.call(&x, true)?.to_vec::<f32>()?, vec![0.5, 1.0, 1.5]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomZoom {
    name: String,
    height_factor: Factor,
    width_factor: Option<Factor>,
    /// The factors as written in a config (numbers kept as given; null for no width).
    factors_json: [Value; 2],
    sampling: Sampling,
    seed: Option<u64>,
    trainable: bool,
}

impl RandomZoom {
    /// Vertical zoom range `height_factor` (also used horizontally unless
    /// [`RandomZoom::width_factor`] is set).
    ///
    /// ```
    /// use keras::layers::RandomZoom;
    /// let z = RandomZoom::new(0.2)?.fill_mode("constant")?;
    /// assert!(RandomZoom::new(-1.0).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a number is outside `(-1, 1]`.
    pub fn new(height_factor: impl Into<Factor>) -> Result<RandomZoom> {
        let height_factor = height_factor.into();
        height_factor.unit_range("RandomZoom", "height_factor", true)?;
        Ok(RandomZoom {
            name: unique_name("random_zoom"),
            height_factor,
            width_factor: None,
            factors_json: [height_factor.to_json(), Value::Null],
            sampling: Sampling::default(),
            seed: None,
            trainable: true,
        })
    }

    /// A separate horizontal zoom range.
    ///
    /// ```
    /// let z = keras::layers::RandomZoom::new(0.2)?.width_factor((-0.1, 0.3))?;
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a number is outside `(-1, 1]`.
    pub fn width_factor(mut self, width_factor: impl Into<Factor>) -> Result<RandomZoom> {
        let f = width_factor.into();
        f.unit_range("RandomZoom", "width_factor", true)?;
        self.width_factor = Some(f);
        self.factors_json[1] = f.to_json();
        Ok(self)
    }

    super::image_transform::random_layer_builders!(RandomZoom, "RandomZoom::new(0.1)?");
    super::image_transform::sampling_builders!(RandomZoom, "RandomZoom::new(0.1)?");

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomZoom};
    /// let z = RandomZoom::from_config(&serde_json::json!({"height_factor": 0.2, "width_factor": null}))?;
    /// assert_eq!(z.get_config()["height_factor"], 0.2);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a missing or out-of-range factor, an unknown fill mode or interpolation, or
    /// `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomZoom> {
        const OP: &str = "RandomZoom.from_config";
        require_channels_last(c, OP)?;
        let hf = Factor::from_config(c, "height_factor", OP)?.ok_or_else(|| Error::InvalidArgument {
            op: OP,
            msg: "missing field \"height_factor\"".into(),
        })?;
        let mut z = RandomZoom::new(hf)?;
        if let Some(wf) = Factor::from_config(c, "width_factor", OP)? {
            z = z.width_factor(wf)?;
        }
        z.factors_json = [
            c["height_factor"].clone(),
            c.get("width_factor").cloned().unwrap_or(Value::Null),
        ];
        z.sampling = Sampling::from_config(c, OP)?;
        z.seed = field(c, "seed", None)?;
        z.name = config_name(c, "random_zoom")?;
        z.trainable = field(c, "trainable", true)?;
        Ok(z)
    }

    /// The training-mode output for given `(width, height)` zooms, one pair per image.
    fn zoom(&self, images: &Tensor, zooms: &[(f32, f32)]) -> Result<Tensor> {
        let (h, w) = (images.shape()[1] as f32, images.shape()[2] as f32);
        let transforms: Vec<[f32; 6]> = zooms
            .iter()
            .map(|&(zx, zy)| {
                let x_offset = ((w - 1.0) / 2.0) * (1.0 - zx);
                let y_offset = ((h - 1.0) / 2.0) * (1.0 - zy);
                [zx, 0.0, x_offset, 0.0, zy, y_offset]
            })
            .collect();
        self.sampling.apply(images, &transforms)
    }
}

impl Layer for RandomZoom {
    super::layer_common!("RandomZoom");
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
        let n = images.shape()[0];
        let (lo, hi) = self.height_factor.range();
        let zy = uniform(n, 1.0 + lo, 1.0 + hi)?;
        let zx = match self.width_factor {
            Some(f) => {
                let (lo, hi) = f.range();
                uniform(n, 1.0 + lo, 1.0 + hi)?
            }
            None => zy.clone(),
        };
        let zooms: Vec<(f32, f32)> = zx.into_iter().zip(zy).collect();
        unbatch(self.zoom(&images, &zooms)?, single)
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
    /// bilinear: `keras.layers.RandomZoom((0.5, 0.5), (-0.3, -0.3), fill_mode=m)`;
    /// nearest: `keras.layers.RandomZoom((-0.4, -0.4), fill_mode=m, interpolation="nearest")`.
    const KERAS: &[(&str, [f32; 20])] = &[
        (
            "zoom_bilinear_reflect",
            [
                0.6, 1.548528, 2.828427, 4.4858346, 6.317692, 10.117724, 12.270082, 14.597301, 17.16791,
                19.861761, 41.3136, 44.96354, 48.700115, 52.582237, 56.544476, 61.6379, 65.827835, 70.0928,
                74.48511, 78.94815,
            ],
        ),
        (
            "zoom_nearest_reflect",
            [
                14.6969385, 14.6969385, 18.520258, 22.627417, 22.627417, 14.6969385, 14.6969385, 18.520258,
                22.627417, 22.627417, 36.482872, 36.482872, 41.56922, 46.872166, 46.872166, 36.482872,
                36.482872, 41.56922, 46.872166, 46.872166,
            ],
        ),
        (
            "zoom_bilinear_wrap",
            [
                46.378426, 49.75801, 53.276703, 56.985287, 60.790535, 10.117724, 12.270082, 14.597301,
                17.16791, 19.861761, 41.3136, 44.96354, 48.700115, 52.582237, 56.544476, 15.859475,
                17.618355, 19.64452, 21.985653, 24.475307,
            ],
        ),
        (
            "zoom_nearest_wrap",
            [
                14.6969385, 14.6969385, 18.520258, 22.627417, 22.627417, 14.6969385, 14.6969385, 18.520258,
                22.627417, 22.627417, 36.482872, 36.482872, 41.56922, 46.872166, 46.872166, 36.482872,
                36.482872, 41.56922, 46.872166, 46.872166,
            ],
        ),
        (
            "zoom_bilinear_constant",
            [
                5.4, 5.637132, 5.9571066, 6.3714585, 6.829423, 10.117724, 12.270082, 14.597301, 17.16791,
                19.861761, 41.3136, 44.96354, 48.700115, 52.582237, 56.544476, 20.659475, 21.706959, 22.7732,
                23.871277, 24.987038,
            ],
        ),
        (
            "zoom_nearest_constant",
            [
                14.6969385, 14.6969385, 18.520258, 22.627417, 22.627417, 14.6969385, 14.6969385, 18.520258,
                22.627417, 22.627417, 36.482872, 36.482872, 41.56922, 46.872166, 46.872166, 36.482872,
                36.482872, 41.56922, 46.872166, 46.872166,
            ],
        ),
        (
            "zoom_bilinear_nearest",
            [
                0.6, 1.548528, 2.828427, 4.4858346, 6.317692, 10.117724, 12.270082, 14.597301, 17.16791,
                19.861761, 41.3136, 44.96354, 48.700115, 52.582237, 56.544476, 61.6379, 65.827835, 70.0928,
                74.48511, 78.94815,
            ],
        ),
        (
            "zoom_nearest_nearest",
            [
                14.6969385, 14.6969385, 18.520258, 22.627417, 22.627417, 14.6969385, 14.6969385, 18.520258,
                22.627417, 22.627417, 36.482872, 36.482872, 41.56922, 46.872166, 46.872166, 36.482872,
                36.482872, 41.56922, 46.872166, 46.872166,
            ],
        ),
    ];

    #[test]
    fn random_zoom_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomZoom::new(0.2).unwrap()), &[4, 5, 2], 0);
        run_layer_test(
            Box::new(
                RandomZoom::new((-0.3, 0.1))
                    .unwrap()
                    .width_factor(0.5)
                    .unwrap()
                    .seed(2),
            ),
            &[3, 3, 1],
            0,
        );
    }

    #[test]
    fn fixed_zoom_matches_keras() {
        for (name, want) in KERAS {
            let parts: Vec<&str> = name.split('_').collect();
            let z = if parts[1] == "bilinear" {
                RandomZoom::new((0.5, 0.5))
                    .unwrap()
                    .width_factor((-0.3, -0.3))
                    .unwrap()
            } else {
                RandomZoom::new((-0.4, -0.4))
                    .unwrap()
                    .interpolation("nearest")
                    .unwrap()
            };
            let z = z.fill_mode(parts[2]).unwrap().fill_value(7.0);
            let y = z.call(&image(), true).unwrap();
            assert_close(name, &y, &Tensor::new(want, &[1, 4, 5, 1]).unwrap(), 1e-5, 1e-5);
        }
    }

    #[test]
    fn zooms_are_drawn_per_image_and_reproducible() {
        let z = RandomZoom::new(0.5).unwrap();
        let x = Tensor::concat(&[&image(); 8], 0).unwrap();
        let y = z.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        let distinct: std::collections::HashSet<Vec<u32>> = y
            .chunks(20)
            .map(|c| c.iter().map(|v| v.to_bits()).collect())
            .collect();
        assert_eq!(distinct.len(), 8, "each image gets its own zoom");
        assert_eq!(
            z.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap()
        );
        crate::set_random_seed(8);
        let a = z.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(8);
        assert_eq!(a, z.call(&x, true).unwrap().to_vec::<f32>().unwrap());
        // A zoom of 1 is the identity.
        let one = RandomZoom::new(0.0).unwrap().call(&x, true).unwrap();
        assert_close("zoom 1", &one, &x, 0.0, 1e-6);
        check_grad("random_zoom", &[&randn(&[2, 3, 4, 2], 1)], |t| {
            z.zoom(&t[0], &[(0.7, 1.2), (1.3, 0.9)])
        });
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomZoom(0.2).get_config()
        let z = RandomZoom::new(0.2).unwrap().name("random_zoom");
        assert_eq!(
            z.get_config(),
            json!({"name": "random_zoom", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "height_factor": 0.2, "width_factor": null,
                   "fill_mode": "reflect", "interpolation": "bilinear", "seed": null, "fill_value": 0.0})
        );
        let c = RandomZoom::new((0.1, -0.2))
            .unwrap()
            .width_factor(0.3)
            .unwrap()
            .get_config();
        assert_eq!(
            (c["height_factor"].clone(), c["width_factor"].clone()),
            (json!([0.1, -0.2]), json!(0.3))
        );
        let raw = json!({"height_factor": [1, 0], "width_factor": 0});
        let r = RandomZoom::from_config(&raw).unwrap().get_config();
        assert_eq!(
            (&r["height_factor"], &r["width_factor"]),
            (&json!([1, 0]), &json!(0))
        );
        assert!(RandomZoom::new(1.5).is_err());
        assert!(RandomZoom::new((-1.0, 0.5)).is_err());
        assert!(RandomZoom::new(0.1).unwrap().width_factor(2.0).is_err());
        assert!(RandomZoom::new(0.1).unwrap().fill_mode("mirror").is_err());
        assert!(RandomZoom::from_config(&json!({"width_factor": 0.1})).is_err());
        assert!(RandomZoom::from_config(&json!({"height_factor": "big"})).is_err());
        let e = z.call(&randn(&[2, 2], 1), true).unwrap_err().to_string();
        assert!(e.contains("random_zoom") && e.contains("(2, 2)"), "{e}");
    }
}
