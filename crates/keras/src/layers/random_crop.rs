//! `RandomCrop`: a random `height × width` window of images while training, a centred
//! aspect-preserving crop and resize at inference.

use super::image_transform::{
    aspect_crop_box, batch_images, check_image_shape, check_size, crop, image_config, resize, resized_shape,
    smart_resize, unbatch, uniform, Interpolation,
};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use crate::random::next_seed;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Crops images to `height × width`, as `keras.layers.RandomCrop` (channels-last only).
///
/// While training, when the input is larger than the target in both dimensions, one random
/// window (the same for every image of the batch, as Keras draws it) is cut out. Otherwise
/// (training on an input not larger in both dimensions) Keras's rule applies: the window
/// starts at the corner of the centred aspect-ratio box and is resized bilinearly when it
/// does not have the target size.
///
/// At inference the layer crops the largest centred window with the target's aspect
/// ratio and resizes it bilinearly (Keras's `smart_resize`), as Keras documents, so the
/// output always has the shape `compute_output_shape` announces. (Keras 3.15 itself returns
/// the input unchanged at inference, contradicting its own output shape.)
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); like Keras, a layer made
/// without a seed records a random one in its config. The output is tracked: gradients flow
/// back to the cropped pixels.
///
/// ```
/// use keras::layers::{Layer, RandomCrop};
/// use keras_tensor::Tensor;
/// let c = RandomCrop::new(1, 1)?;
/// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2, 1])?;
/// let y = c.call(&x, true)?.to_vec::<f32>()?;
/// assert!([1.0, 2.0, 3.0, 4.0].contains(&y[0]));
/// assert_eq!(c.call(&x, false)?.to_vec::<f32>()?, vec![2.5]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomCrop {
    name: String,
    height: usize,
    width: usize,
    seed: u64,
    trainable: bool,
}

impl RandomCrop {
    /// Crops to `height × width`.
    ///
    /// ```
    /// let c = keras::layers::RandomCrop::new(24, 24)?;
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When a size is 0.
    pub fn new(height: usize, width: usize) -> Result<RandomCrop> {
        check_size("RandomCrop", height, width)?;
        Ok(RandomCrop {
            name: unique_name("random_crop"),
            height,
            width,
            // Keras's `make_default_seed()`: a random integer in [1, 1e9].
            seed: 1 + next_seed() % 1_000_000_000,
            trainable: true,
        })
    }

    /// Records Keras's `seed` argument (kept in the config; draws use the global counter).
    ///
    /// ```
    /// use keras::layers::{Layer, RandomCrop};
    /// assert_eq!(RandomCrop::new(2, 2)?.seed(5).get_config()["seed"], 5);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> RandomCrop {
        self.seed = seed;
        self
    }

    /// Sets the layer name.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomCrop};
    /// let l = RandomCrop::new(2, 2)?.name("crop");
    /// assert_eq!(Layer::name(&l), "crop");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn name(mut self, name: &str) -> RandomCrop {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomCrop};
    /// let c = RandomCrop::from_config(&serde_json::json!({"height": 3, "width": 4, "seed": 9}))?;
    /// assert_eq!(c.get_config()["seed"], 9);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For missing or zero sizes, or `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomCrop> {
        const OP: &str = "RandomCrop.from_config";
        require_channels_last(c, OP)?;
        let size = |k: &str| -> Result<usize> {
            field::<Option<usize>>(c, k, None)?.ok_or_else(|| Error::InvalidArgument {
                op: OP,
                msg: format!("missing field {k:?}"),
            })
        };
        let mut r = RandomCrop::new(size("height")?, size("width")?)?;
        if let Some(s) = field::<Option<u64>>(c, "seed", None)? {
            r.seed = s;
        }
        r.name = config_name(c, "random_crop")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }

    /// The training-mode crop of a batch with its window at `(row, col)`.
    fn crop_at(&self, images: &Tensor, r0: usize, c0: usize) -> Result<Tensor> {
        let y = crop(images, r0, c0, self.height, self.width)?;
        if y.shape()[1] == self.height && y.shape()[2] == self.width {
            Ok(y)
        } else {
            resize(&y, self.height, self.width, Interpolation::Bilinear, false)
        }
    }
}

impl Layer for RandomCrop {
    super::layer_common!("RandomCrop");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        check_image_shape(&self.name, input_shape)
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        resized_shape(&self.name, input_shape, self.height, self.width)
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let (images, single) = batch_images(&self.name, x)?;
        let (h, w) = (images.shape()[1], images.shape()[2]);
        let y = if !training {
            smart_resize(&images, self.height, self.width)?
        } else if h > self.height && w > self.width {
            let r0 = uniform(1, 0.0, (h - self.height + 1) as f64)?[0] as usize;
            let c0 = uniform(1, 0.0, (w - self.width + 1) as f64)?[0] as usize;
            self.crop_at(&images, r0.min(h - self.height), c0.min(w - self.width))?
        } else {
            let (r0, c0, _, _) = aspect_crop_box(h, w, self.height, self.width);
            self.crop_at(&images, r0, c0)?
        };
        unbatch(y, single)
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("height".into(), json!(self.height));
        m.insert("width".into(), json!(self.width));
        m.insert("seed".into(), json!(self.seed));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, randn};
    use std::collections::HashSet;

    /// `np.arange(24.).reshape(1, 4, 6, 1) ** 2`.
    fn squares() -> Tensor {
        let v: Vec<f32> = (0..24).map(|i| (i * i) as f32).collect();
        Tensor::new(&v, &[1, 4, 6, 1]).unwrap()
    }

    #[test]
    fn random_crop_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomCrop::new(2, 3).unwrap()), &[4, 6, 2], 0);
        run_layer_test(Box::new(RandomCrop::new(5, 5).unwrap()), &[4, 6, 1], 0);
    }

    #[test]
    fn training_crops_are_windows_of_the_input() {
        let c = RandomCrop::new(2, 3).unwrap();
        let x = squares();
        let all = x.to_vec::<f32>().unwrap();
        let mut starts = HashSet::new();
        for _ in 0..200 {
            let y = c.call(&x, true).unwrap();
            assert_eq!(y.shape(), &[1, 2, 3, 1]);
            let v = y.to_vec::<f32>().unwrap();
            // The top-left value fixes the window; the rest must follow from it.
            let p = all.iter().position(|&a| a == v[0]).unwrap();
            let (r0, c0) = (p / 6, p % 6);
            assert!(r0 <= 2 && c0 <= 3);
            let want: Vec<f32> = (0..2)
                .flat_map(|r| (0..3).map(move |k| ((r0 + r) * 6 + c0 + k) as f32))
                .map(|i| i * i)
                .collect();
            assert_eq!(v, want);
            starts.insert((r0, c0));
        }
        assert_eq!(starts.len(), 12, "every window position occurs");
        // One window for the whole batch, as Keras draws it.
        let b = Tensor::concat(&[&x, &x, &x], 0).unwrap();
        let v = c.call(&b, true).unwrap().to_vec::<f32>().unwrap();
        assert!(v[..6] == v[6..12] && v[6..12] == v[12..]);
    }

    #[test]
    fn matches_keras_when_not_larger_and_at_inference() {
        // KERAS_BACKEND=jax: keras.layers.RandomCrop(4, 3)(squares, training=True)
        let y = RandomCrop::new(4, 3).unwrap().call(&squares(), true).unwrap();
        let want = [1., 4., 9., 49., 64., 81., 169., 196., 225., 361., 400., 441.];
        assert_eq!(y.to_vec::<f32>().unwrap(), want.to_vec());
        // keras.layers.RandomCrop(8, 8)(squares, training=True): crop, then resize.
        let y = RandomCrop::new(8, 8).unwrap().call(&squares(), true).unwrap();
        let want = [
            1.0, 2.3125, 4.3125, 7.4375, 11.1875, 15.5625, 21.0625, 25.0, 13.0, 15.625, 19.5, 24.5, 30.125,
            36.375, 43.75, 49.0, 37.0, 42.25, 49.875, 58.625, 68.0, 78.0, 89.125, 97.0, 79.0, 86.875, 98.25,
            110.75, 123.875, 137.625, 152.5, 163.0, 139.0, 149.5, 164.625, 180.875, 197.75, 215.25, 233.875,
            247.0, 217.0, 230.125, 249.0, 269.0, 289.625, 310.875, 333.25, 349.0, 313.0, 328.75, 351.375,
            375.125, 399.5, 424.5, 450.625, 469.0, 361.0, 378.0625, 402.5625, 428.1875, 454.4375, 481.3125,
            509.3125, 529.0,
        ];
        assert_close("8x8", &y, &Tensor::new(&want, &[1, 8, 8, 1]).unwrap(), 1e-6, 1e-5);
        // Inference: keras.utils.smart_resize(squares[0], (3, 2)).
        let y = RandomCrop::new(3, 2)
            .unwrap()
            .call(&squares().squeeze(&[0]).unwrap(), false)
            .unwrap();
        let want = [14.000_001, 21.000_002, 130.0, 153.0, 366.000_03, 405.000_03];
        assert_close(
            "inference",
            &y,
            &Tensor::new(&want, &[3, 2, 1]).unwrap(),
            1e-6,
            1e-5,
        );
    }

    #[test]
    fn reproducible_and_tracked() {
        let c = RandomCrop::new(3, 3).unwrap();
        let x = randn(&[2, 8, 8, 1], 1).cast(keras_tensor::DType::F32).unwrap();
        crate::set_random_seed(3);
        let a = c.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(3);
        let b = c.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(a, b);
        let xv = x.variable();
        let g = c.call(&xv, true).unwrap().sum_all().unwrap().backward().unwrap();
        let g = g.get(&xv).unwrap().sum_all().unwrap().item().unwrap();
        assert_eq!(g, 18.0, "one gradient per cropped pixel");
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomCrop(3, 4, seed=1).get_config()
        let c = RandomCrop::new(3, 4).unwrap().seed(1).name("random_crop");
        assert_eq!(
            c.get_config(),
            json!({"name": "random_crop", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "height": 3, "width": 4, "seed": 1})
        );
        let s = RandomCrop::new(3, 4).unwrap().get_config()["seed"]
            .as_u64()
            .unwrap();
        assert!((1..=1_000_000_000).contains(&s));
        assert!(RandomCrop::new(0, 4).is_err());
        assert!(RandomCrop::from_config(&json!({"width": 4})).is_err());
        assert!(
            RandomCrop::from_config(&json!({"height": 3, "width": 4, "data_format": "channels_first"}))
                .is_err()
        );
        let e = c.call(&randn(&[4, 4], 1), true).unwrap_err().to_string();
        assert!(e.contains("random_crop") && e.contains("(4, 4)"), "{e}");
    }
}
