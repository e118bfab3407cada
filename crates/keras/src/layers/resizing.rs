//! `Resizing`: resizes images to a fixed height and width.

use super::image_transform::{
    aspect_crop_box, batch_images, check_image_shape, check_size, crop, image_config, resize, resized_shape,
    unbatch, Interpolation,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Keras's resize interpolations this version does not implement.
const OTHER_INTERPOLATIONS: &[&str] = &["bicubic", "lanczos3", "lanczos5", "area"];

/// Resizes `(height, width, channels)` images or `(batch, height, width, channels)` batches
/// to `height × width`, as `keras.layers.Resizing` (channels-last only), in training and
/// inference alike.
///
/// Interpolation is `"bilinear"` (default) or `"nearest"`, computed as Keras's JAX backend
/// does (`jax.image.resize`: half-pixel centres; with `antialias(true)` the bilinear kernel
/// widens when downsampling). `crop_to_aspect_ratio` first crops the largest centred window
/// with the target's aspect ratio; `pad_to_aspect_ratio` instead pads symmetrically with
/// `fill_value`. Float inputs are computed in float32 (float64 stays float64); integer
/// inputs are rounded and cast back to their dtype, as in Keras. The layer is differentiable
/// with respect to float inputs.
///
/// ```
/// use keras::layers::{Layer, Resizing};
/// use keras_tensor::Tensor;
/// let r = Resizing::new(2, 1)?;
/// assert_eq!(
///     r.compute_output_shape(&[None, Some(4), Some(4), Some(3)])?,
///     vec![None, Some(2), Some(1), Some(3)]
/// );
/// let x = Tensor::new(&[0.0f32, 1.0, 2.0, 3.0], &[2, 2, 1])?;
/// assert_eq!(r.call(&x, false)?.to_vec::<f32>()?, vec![0.5, 2.5]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Resizing {
    name: String,
    height: usize,
    width: usize,
    interpolation: Interpolation,
    crop_to_aspect_ratio: bool,
    pad_to_aspect_ratio: bool,
    fill_value: f64,
    antialias: bool,
    trainable: bool,
}

impl Resizing {
    /// Resizes to `height × width` bilinearly.
    ///
    /// ```
    /// let r = keras::layers::Resizing::new(224, 224)?;
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a size is 0.
    pub fn new(height: usize, width: usize) -> Result<Resizing> {
        check_size("Resizing", height, width)?;
        Ok(Resizing {
            name: unique_name("resizing"),
            height,
            width,
            interpolation: Interpolation::Bilinear,
            crop_to_aspect_ratio: false,
            pad_to_aspect_ratio: false,
            fill_value: 0.0,
            antialias: false,
            trainable: true,
        })
    }

    /// `"bilinear"` or `"nearest"`.
    ///
    /// ```
    /// let r = keras::layers::Resizing::new(8, 8)?.interpolation("nearest")?;
    /// assert!(keras::layers::Resizing::new(8, 8)?.interpolation("bicubic").is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For Keras's other interpolations (`"bicubic"`, `"lanczos3"`, `"lanczos5"`, `"area"`),
    /// which this version does not implement, and unknown names.
    pub fn interpolation(mut self, interpolation: &str) -> Result<Resizing> {
        self.interpolation = Interpolation::parse(interpolation, "Resizing", OTHER_INTERPOLATIONS)?;
        Ok(self)
    }

    /// Crops the largest centred window with the target aspect ratio before resizing.
    ///
    /// ```
    /// let r = keras::layers::Resizing::new(8, 8)?.crop_to_aspect_ratio(true)?;
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When `pad_to_aspect_ratio` is also on.
    pub fn crop_to_aspect_ratio(mut self, on: bool) -> Result<Resizing> {
        self.crop_to_aspect_ratio = on;
        self.check_aspect()?;
        Ok(self)
    }

    /// Pads symmetrically with `fill_value` to the target aspect ratio before resizing.
    ///
    /// ```
    /// let r = keras::layers::Resizing::new(8, 8)?.pad_to_aspect_ratio(true)?.fill_value(0.5);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When `crop_to_aspect_ratio` is also on.
    pub fn pad_to_aspect_ratio(mut self, on: bool) -> Result<Resizing> {
        self.pad_to_aspect_ratio = on;
        self.check_aspect()?;
        Ok(self)
    }

    /// The padding value of `pad_to_aspect_ratio` (default 0).
    ///
    /// ```
    /// let r = keras::layers::Resizing::new(8, 8)?.fill_value(1.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn fill_value(mut self, v: f64) -> Resizing {
        self.fill_value = v;
        self
    }

    /// Widens the bilinear kernel when downsampling (Keras's `antialias`).
    ///
    /// ```
    /// let r = keras::layers::Resizing::new(8, 8)?.antialias(true);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn antialias(mut self, on: bool) -> Resizing {
        self.antialias = on;
        self
    }

    /// Sets the layer name.
    ///
    /// ```
    /// use keras::layers::{Layer, Resizing};
    /// let l = Resizing::new(2, 2)?.name("rs");
    /// assert_eq!(Layer::name(&l), "rs");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn name(mut self, name: &str) -> Resizing {
        self.name = name.to_string();
        self
    }

    fn check_aspect(&self) -> Result<()> {
        if self.crop_to_aspect_ratio && self.pad_to_aspect_ratio {
            return Err(Error::InvalidArgument {
                op: "Resizing",
                msg: "only one of pad_to_aspect_ratio and crop_to_aspect_ratio can be true".into(),
            });
        }
        Ok(())
    }

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, Resizing};
    /// let r = Resizing::from_config(&serde_json::json!({"height": 3, "width": 4}))?;
    /// assert_eq!(r.get_config()["interpolation"], "bilinear");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For missing sizes, an unsupported interpolation, a `fill_mode` other than
    /// `"constant"` (the only one Keras's resize accepts), or `channels_first`.
    pub fn from_config(c: &Value) -> Result<Resizing> {
        const OP: &str = "Resizing.from_config";
        require_channels_last(c, OP)?;
        let size = |k: &str| -> Result<usize> {
            field::<Option<usize>>(c, k, None)?.ok_or_else(|| Error::InvalidArgument {
                op: OP,
                msg: format!("missing field {k:?}"),
            })
        };
        let fill_mode: String = field(c, "fill_mode", "constant".to_string())?;
        if fill_mode != "constant" {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "fill_mode {fill_mode:?} is not supported: Keras's resize only takes \"constant\""
                ),
            });
        }
        let mut r = Resizing::new(size("height")?, size("width")?)?
            .interpolation(&field(c, "interpolation", "bilinear".to_string())?)?
            .crop_to_aspect_ratio(field(c, "crop_to_aspect_ratio", false)?)?
            .pad_to_aspect_ratio(field(c, "pad_to_aspect_ratio", false)?)?
            .fill_value(field(c, "fill_value", 0.0)?)
            .antialias(field(c, "antialias", false)?);
        r.name = config_name(c, "resizing")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }

    /// Pads a batch to the target aspect ratio, as Keras's `pad_to_aspect_ratio`: the same
    /// number of rows (or columns) on both sides.
    fn pad(&self, x: &Tensor) -> Result<Tensor> {
        let (h, w) = (x.shape()[1], x.shape()[2]);
        let ph = ((w * self.height) as f64 / self.width as f64) as usize;
        let pw = ((h * self.width) as f64 / self.height as f64) as usize;
        let (top, left) = ((ph.max(h) - h) / 2, (pw.max(w) - w) / 2);
        if top > 0 {
            x.pad(&[(0, 0), (top, top), (0, 0), (0, 0)], self.fill_value)
        } else if left > 0 {
            x.pad(&[(0, 0), (0, 0), (left, left), (0, 0)], self.fill_value)
        } else {
            Ok(x.clone())
        }
    }
}

/// Rounds and saturates a float result into an integer dtype (Keras's `_saturate_cast`).
fn back_to(y: Tensor, dtype: DType) -> Result<Tensor> {
    let y = y.round()?;
    let y = match dtype {
        DType::U8 => y.clip(0.0, 255.0)?,
        DType::I32 => y.clip(i32::MIN as f64, i32::MAX as f64)?,
        DType::Bool => y.clip(0.0, 1.0)?,
        _ => y,
    };
    y.cast(dtype)
}

impl Layer for Resizing {
    super::layer_common!("Resizing");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        check_image_shape(&self.name, input_shape)
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        resized_shape(&self.name, input_shape, self.height, self.width)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (images, single) = batch_images(&self.name, x)?;
        let images = if self.crop_to_aspect_ratio {
            let s = images.shape();
            let (r0, c0, ch, cw) = aspect_crop_box(s[1], s[2], self.height, self.width);
            crop(&images, r0, c0, ch, cw)?
        } else if self.pad_to_aspect_ratio {
            self.pad(&images)?
        } else {
            images
        };
        let y = resize(
            &images,
            self.height,
            self.width,
            self.interpolation,
            self.antialias,
        )?;
        let y = unbatch(y, single)?;
        if x.dtype().is_float() {
            Ok(y)
        } else {
            back_to(y, x.dtype())
        }
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("height".into(), json!(self.height));
        m.insert("width".into(), json!(self.width));
        m.insert("interpolation".into(), json!(self.interpolation.as_str()));
        m.insert("crop_to_aspect_ratio".into(), json!(self.crop_to_aspect_ratio));
        m.insert("pad_to_aspect_ratio".into(), json!(self.pad_to_aspect_ratio));
        m.insert("fill_mode".into(), json!("constant"));
        m.insert("fill_value".into(), json!(self.fill_value));
        m.insert("antialias".into(), json!(self.antialias));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    /// `np.arange(24.).reshape(1, 4, 6, 1) ** 2`.
    fn squares() -> Tensor {
        let v: Vec<f32> = (0..24).map(|i| (i * i) as f32).collect();
        Tensor::new(&v, &[1, 4, 6, 1]).unwrap()
    }

    fn check(ctx: &str, r: Resizing, want: &[f32], h: usize, w: usize) {
        let y = r.call(&squares(), false).unwrap();
        assert_close(ctx, &y, &Tensor::new(want, &[1, h, w, 1]).unwrap(), 1e-6, 1e-5);
    }

    #[test]
    fn resizing_passes_the_layer_harness() {
        run_layer_test(Box::new(Resizing::new(3, 5).unwrap()), &[4, 6, 2], 0);
        run_layer_test(
            Box::new(
                Resizing::new(2, 2)
                    .unwrap()
                    .interpolation("nearest")
                    .unwrap()
                    .crop_to_aspect_ratio(true)
                    .unwrap(),
            ),
            &[4, 6, 1],
            0,
        );
    }

    #[test]
    fn matches_keras() {
        // KERAS_BACKEND=jax: keras.layers.Resizing(h, w, ...)(squares)
        let rs = |h, w| Resizing::new(h, w).unwrap();
        check(
            "3x4 bilinear",
            rs(3, 4),
            &[
                6.75, 12.75, 23.25, 38.25, 94.75, 124.75, 159.25, 198.25, 302.75, 356.75, 415.25, 478.25,
            ],
            3,
            4,
        );
        check(
            "3x4 nearest",
            rs(3, 4).interpolation("nearest").unwrap(),
            &[0., 4., 9., 25., 144., 196., 225., 289., 324., 400., 441., 529.],
            3,
            4,
        );
        check(
            "5x7 bilinear",
            rs(5, 7),
            &[
                0.0,
                0.785_714_27,
                2.928_571_2,
                6.5,
                11.5,
                17.928_574,
                25.0,
                25.2,
                32.585_716,
                41.928_574,
                52.700_005,
                64.9,
                78.528_58,
                92.200_005,
                90.0,
                104.928_57,
                122.5,
                141.5,
                161.928_57,
                183.785_72,
                205.0,
                197.999_98,
                220.471_4,
                246.271_42,
                273.5,
                302.157_14,
                332.242_86,
                361.0,
                324.0,
                353.071_4,
                386.071_4,
                420.5,
                456.357_15,
                493.642_85,
                529.0,
            ],
            5,
            7,
        );
        check(
            "5x7 nearest",
            rs(5, 7).interpolation("nearest").unwrap(),
            &[
                0., 1., 4., 9., 9., 16., 25., 36., 49., 64., 81., 81., 100., 121., 144., 169., 196., 225.,
                225., 256., 289., 144., 169., 196., 225., 225., 256., 289., 324., 361., 400., 441., 441.,
                484., 529.,
            ],
            5,
            7,
        );
        check(
            "3x3 crop_to_aspect_ratio",
            rs(3, 3).crop_to_aspect_ratio(true).unwrap(),
            &[
                9.833_334, 17.500_002, 28.500_004, 112.5, 141.5, 173.833_34, 335.166_7, 385.5, 439.166_7,
            ],
            3,
            3,
        );
        check(
            "3x2 pad_to_aspect_ratio",
            rs(3, 2).pad_to_aspect_ratio(true).unwrap().fill_value(1.5),
            &[1.5, 1.5, 109.0, 178.0, 1.5, 1.5],
            3,
            2,
        );
        check(
            "2x5 pad_to_aspect_ratio",
            rs(2, 5).pad_to_aspect_ratio(true).unwrap(),
            &[0.0, 21.5, 39.5, 65.5, 0.0, 0.0, 249.5, 315.5, 389.5, 0.0],
            2,
            5,
        );
        check(
            "2x3 antialias",
            rs(2, 3).antialias(true),
            &[
                43.122_456, 64.428_57, 91.591_85, 226.306_17, 281.285_74, 342.122_5,
            ],
            2,
            3,
        );
        check(
            "3x2 antialias",
            rs(3, 2).antialias(true),
            &[17.8, 39.3, 115.0, 172.5, 313.0, 406.5],
            3,
            2,
        );
        // A single image, and integer pixels rounded back to their dtype.
        let single = squares().squeeze(&[0]).unwrap();
        assert_eq!(rs(3, 4).call(&single, false).unwrap().shape(), &[3, 4, 1]);
        // keras.layers.Resizing(1, 3)(np.array([0, 100, 255, 255], "uint8").reshape(1, 1, 4, 1))
        let px = Tensor::new(&[0u8, 100, 255, 255], &[1, 1, 4, 1]).unwrap();
        let y = rs(1, 3).call(&px, false).unwrap();
        assert_eq!(y.dtype(), DType::U8);
        assert_eq!(y.to_vec::<u8>().unwrap(), vec![17, 178, 255]);
        let r = rs(3, 5);
        check_grad("resizing", &[&randn(&[2, 2, 3, 2], 1)], |t| r.call(&t[0], true));
        let r = rs(1, 2).antialias(true);
        check_grad("resizing_aa", &[&randn(&[1, 4, 5, 1], 2)], |t| {
            r.call(&t[0], true)
        });
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.Resizing(3, 4).get_config()
        let r = Resizing::new(3, 4).unwrap().name("resizing");
        assert_eq!(
            r.get_config(),
            json!({"name": "resizing", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "height": 3, "width": 4, "interpolation": "bilinear",
                   "crop_to_aspect_ratio": false, "pad_to_aspect_ratio": false, "fill_mode": "constant",
                   "fill_value": 0.0, "antialias": false})
        );
        assert!(Resizing::new(0, 4).is_err());
        assert!(Resizing::new(2, 2).unwrap().interpolation("cubic").is_err());
        let e = Resizing::from_config(&json!({"height": 2, "width": 2, "interpolation": "lanczos3"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lanczos3") && e.contains("not supported"), "{e}");
        assert!(Resizing::from_config(&json!({"height": 2})).is_err());
        assert!(Resizing::from_config(&json!({"height": 2, "width": 2, "fill_mode": "reflect"})).is_err());
        assert!(
            Resizing::from_config(&json!({"height": 2, "width": 2, "data_format": "channels_first"}))
                .is_err()
        );
        assert!(Resizing::new(2, 2)
            .unwrap()
            .crop_to_aspect_ratio(true)
            .unwrap()
            .pad_to_aspect_ratio(true)
            .is_err());
        let e = Resizing::new(2, 2)
            .unwrap()
            .name("rs")
            .call(&randn(&[2, 3], 1), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"rs\"") && e.contains("(2, 3)"), "{e}");
        assert!(Resizing::new(2, 2)
            .unwrap()
            .compute_output_shape(&[None, Some(2)])
            .is_err());
    }
}
