//! `CenterCrop`: the central `height × width` window of images.

use super::image_transform::{
    batch_images, check_image_shape, check_size, crop, image_config, resized_shape, smart_resize, unbatch,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Crops the central `height × width` window of `(height, width, channels)` images or
/// `(batch, height, width, channels)` batches, as `keras.layers.CenterCrop` (channels-last
/// only), in training and inference alike.
///
/// The window starts at row `(H - height) / 2` and column `(W - width) / 2` (rounded
/// down). When the input is smaller than the target in either dimension, the layer
/// instead crops the largest centred window with the target's aspect ratio and resizes it
/// bilinearly to `height × width` (Keras's `smart_resize`). Outputs are float32 (float64
/// stays float64); the layer is differentiable with respect to its input.
///
/// ```
/// use keras::layers::{CenterCrop, Layer};
/// use keras_tensor::Tensor;
/// let c = CenterCrop::new(1, 2)?;
/// let x = Tensor::new(&[0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[3, 3, 1])?;
/// assert_eq!(c.call(&x, false)?.to_vec::<f32>()?, vec![3.0, 4.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct CenterCrop {
    name: String,
    height: usize,
    width: usize,
    trainable: bool,
}

impl CenterCrop {
    /// Crops to `height × width`.
    ///
    /// ```
    /// let c = keras::layers::CenterCrop::new(224, 224)?;
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a size is 0.
    pub fn new(height: usize, width: usize) -> Result<CenterCrop> {
        check_size("CenterCrop", height, width)?;
        Ok(CenterCrop {
            name: unique_name("center_crop"),
            height,
            width,
            trainable: true,
        })
    }

    /// Sets the layer name.
    ///
    /// ```
    /// use keras::layers::{CenterCrop, Layer};
    /// let l = CenterCrop::new(2, 2)?.name("crop");
    /// assert_eq!(Layer::name(&l), "crop");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn name(mut self, name: &str) -> CenterCrop {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{CenterCrop, Layer};
    /// let c = CenterCrop::from_config(&serde_json::json!({"height": 3, "width": 4}))?;
    /// assert_eq!(c.get_config()["width"], 4);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For missing or zero sizes, or `channels_first`.
    pub fn from_config(c: &Value) -> Result<CenterCrop> {
        const OP: &str = "CenterCrop.from_config";
        require_channels_last(c, OP)?;
        let size = |k: &str| -> Result<usize> {
            field::<Option<usize>>(c, k, None)?.ok_or_else(|| Error::InvalidArgument {
                op: OP,
                msg: format!("missing field {k:?}"),
            })
        };
        let mut cc = CenterCrop::new(size("height")?, size("width")?)?;
        cc.name = config_name(c, "center_crop")?;
        cc.trainable = field(c, "trainable", true)?;
        Ok(cc)
    }
}

impl Layer for CenterCrop {
    super::layer_common!("CenterCrop");
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
        let (h, w) = (images.shape()[1], images.shape()[2]);
        let y = if h >= self.height && w >= self.width {
            crop(
                &images,
                (h - self.height) / 2,
                (w - self.width) / 2,
                self.height,
                self.width,
            )?
        } else {
            smart_resize(&images, self.height, self.width)?
        };
        unbatch(y, single)
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("height".into(), json!(self.height));
        m.insert("width".into(), json!(self.width));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};
    use keras_tensor::DType;

    /// `np.arange(24.).reshape(1, 4, 6, 1) ** 2`.
    fn squares() -> Tensor {
        let v: Vec<f32> = (0..24).map(|i| (i * i) as f32).collect();
        Tensor::new(&v, &[1, 4, 6, 1]).unwrap()
    }

    #[test]
    fn center_crop_passes_the_layer_harness() {
        run_layer_test(Box::new(CenterCrop::new(2, 3).unwrap()), &[4, 6, 2], 0);
        run_layer_test(Box::new(CenterCrop::new(5, 3).unwrap()), &[4, 6, 1], 0);
    }

    #[test]
    fn matches_keras() {
        // KERAS_BACKEND=jax: keras.layers.CenterCrop(h, w)(squares)
        let cases: [(usize, usize, Vec<f32>); 3] = [
            (2, 3, vec![49., 64., 81., 169., 196., 225.]),
            (
                5,
                3,
                vec![
                    4.0, 6.5, 9.0, 46.000_004, 52.700_005, 59.4, 130.0, 141.5, 153.0, 257.2, 273.5, 289.8,
                    400.0, 420.5, 441.0,
                ],
            ),
            (
                3,
                8,
                vec![
                    36.0, 44.125, 54.625, 66.125, 78.875, 92.875, 107.875, 121.0, 90.0, 101.875, 116.875,
                    132.875, 150.125, 168.625, 188.125, 205.0, 144.0, 159.625, 179.125, 199.625, 221.375,
                    244.375, 268.375, 289.0,
                ],
            ),
        ];
        for (h, w, want) in cases {
            let y = CenterCrop::new(h, w).unwrap().call(&squares(), false).unwrap();
            assert_close(
                &format!("center_crop {h}x{w}"),
                &y,
                &Tensor::new(&want, &[1, h, w, 1]).unwrap(),
                1e-6,
                1e-5,
            );
        }
        // A single image; integer pixels become float32 (Keras casts to the compute dtype).
        let c = CenterCrop::new(1, 3).unwrap();
        let y = c
            .call(&Tensor::new(&[0u8, 100, 255, 255], &[1, 4, 1]).unwrap(), false)
            .unwrap();
        assert_eq!(y.dtype(), DType::F32);
        assert_eq!(y.shape(), &[1, 3, 1]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 100.0, 255.0]);
        let c = CenterCrop::new(2, 2).unwrap();
        check_grad("center_crop", &[&randn(&[2, 3, 4, 2], 1)], |t| {
            c.call(&t[0], true)
        });
        let c = CenterCrop::new(5, 2).unwrap();
        check_grad("center_crop_resize", &[&randn(&[1, 3, 4, 1], 1)], |t| {
            c.call(&t[0], true)
        });
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.CenterCrop(3, 4).get_config()
        let c = CenterCrop::new(3, 4).unwrap().name("center_crop");
        assert_eq!(
            c.get_config(),
            json!({"name": "center_crop", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "height": 3, "width": 4})
        );
        assert!(CenterCrop::new(3, 0).is_err());
        assert!(CenterCrop::from_config(&json!({"height": 3})).is_err());
        assert!(
            CenterCrop::from_config(&json!({"height": 3, "width": 3, "data_format": "channels_first"}))
                .is_err()
        );
        let e = c.compute_output_shape(&[None, Some(4)]).unwrap_err().to_string();
        assert!(e.contains("center_crop") && e.contains("(None, 4)"), "{e}");
        assert_eq!(
            c.compute_output_shape(&[Some(7), Some(7), Some(3)]).unwrap(),
            vec![Some(3), Some(4), Some(3)]
        );
    }
}
