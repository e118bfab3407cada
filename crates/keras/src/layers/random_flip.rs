//! `RandomFlip`: flips images left-right and/or upside down at random while training.

use super::batch_normalization::compute_input;
use super::image_transform::{batch_images, check_image_shape, image_config, unbatch, uniform};
use super::zero_padding2d::require_channels_last;
use super::{config_name, field, unique_name, Layer, Shape};
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Flips each image of a batch at random while training, as `keras.layers.RandomFlip`
/// (channels-last only); the identity at inference.
///
/// `mode` is `"horizontal"` (left-right), `"vertical"` (upside down) or
/// `"horizontal_and_vertical"` (Keras's default). One draw per image decides, with
/// probability 1/2, whether it is flipped; in `"horizontal_and_vertical"` mode that same
/// draw applies to both axes, so an image is either rotated by 180° or left alone, exactly
/// as Keras 3 does.
///
/// Inputs are `(height, width, channels)` images or `(batch, height, width, channels)`
/// batches; outputs are float32 (float64 stays float64). Draws come from the global seed
/// counter ([`crate::set_random_seed`] makes them reproducible); `seed` is kept for the
/// config. The output is tracked: gradients flow back to the input pixels (flipped
/// accordingly).
///
/// ```
/// use keras::layers::{Layer, RandomFlip};
/// use keras_tensor::Tensor;
/// let f = RandomFlip::new("horizontal")?;
/// let x = Tensor::new(&[1.0f32, 2.0], &[1, 2, 1])?;
/// assert_eq!(f.call(&x, false)?.to_vec::<f32>()?, vec![1.0, 2.0]);
/// let y = f.call(&x, true)?.to_vec::<f32>()?;
/// assert!(y == vec![1.0, 2.0] || y == vec![2.0, 1.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RandomFlip {
    name: String,
    horizontal: bool,
    vertical: bool,
    seed: Option<u64>,
    trainable: bool,
}

impl RandomFlip {
    /// Flips in `mode`: `"horizontal"`, `"vertical"` or `"horizontal_and_vertical"`.
    ///
    /// ```
    /// let f = keras::layers::RandomFlip::new("horizontal_and_vertical")?;
    /// assert!(keras::layers::RandomFlip::new("diagonal").is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For any other mode.
    pub fn new(mode: &str) -> Result<RandomFlip> {
        let (horizontal, vertical) = match mode {
            "horizontal" => (true, false),
            "vertical" => (false, true),
            "horizontal_and_vertical" => (true, true),
            _ => {
                return Err(Error::InvalidArgument {
                    op: "RandomFlip",
                    msg: format!(
                        "unknown mode {mode:?}; expected \"horizontal\", \"vertical\" or \
                         \"horizontal_and_vertical\""
                    ),
                })
            }
        };
        Ok(RandomFlip {
            name: unique_name("random_flip"),
            horizontal,
            vertical,
            seed: None,
            trainable: true,
        })
    }

    /// Records Keras's `seed` argument (kept in the config; draws use the global counter).
    ///
    /// ```
    /// use keras::layers::{Layer, RandomFlip};
    /// assert_eq!(RandomFlip::new("vertical")?.seed(7).get_config()["seed"], 7);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> RandomFlip {
        self.seed = Some(seed);
        self
    }

    /// Sets the layer name.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomFlip};
    /// let l = RandomFlip::new("vertical")?.name("flip");
    /// assert_eq!(Layer::name(&l), "flip");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn name(mut self, name: &str) -> RandomFlip {
        self.name = name.to_string();
        self
    }

    fn mode(&self) -> &'static str {
        match (self.horizontal, self.vertical) {
            (true, false) => "horizontal",
            (false, true) => "vertical",
            _ => "horizontal_and_vertical",
        }
    }

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, RandomFlip};
    /// let f = RandomFlip::from_config(&serde_json::json!({"mode": "vertical", "seed": 3}))?;
    /// assert_eq!(f.get_config()["mode"], "vertical");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For an unknown mode or `channels_first`.
    pub fn from_config(c: &Value) -> Result<RandomFlip> {
        require_channels_last(c, "RandomFlip.from_config")?;
        let mut f = RandomFlip::new(&field(c, "mode", "horizontal_and_vertical".to_string())?)?;
        f.seed = field(c, "seed", None)?;
        f.name = config_name(c, "random_flip")?;
        f.trainable = field(c, "trainable", true)?;
        Ok(f)
    }
}

impl Layer for RandomFlip {
    super::layer_common!("RandomFlip");
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
        let draws = uniform(images.shape()[0], 0.0, 1.0)?;
        let flips: Vec<u8> = draws.iter().map(|&u| u8::from(u <= 0.5)).collect();
        let n = flips.len();
        let mask = Tensor::from_vec(flips, &[n, 1, 1, 1], images.device())?.cast(DType::Bool)?;
        let mut y = images;
        if self.horizontal {
            y = Tensor::where_cond(&mask, &y.flip(&[2])?, &y)?;
        }
        if self.vertical {
            y = Tensor::where_cond(&mask, &y.flip(&[1])?, &y)?;
        }
        unbatch(y, single)
    }
    fn get_config(&self) -> Value {
        let mut m = image_config(&self.name, self.trainable);
        m.insert("seed".into(), json!(self.seed));
        m.insert("mode".into(), json!(self.mode()));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::randn;
    use std::collections::HashSet;

    #[test]
    fn random_flip_passes_the_layer_harness() {
        run_layer_test(Box::new(RandomFlip::new("horizontal").unwrap()), &[3, 4, 2], 0);
        run_layer_test(
            Box::new(RandomFlip::new("horizontal_and_vertical").unwrap().seed(5)),
            &[2, 2, 1],
            0,
        );
    }

    /// 64 copies of the 2 × 3 image `[[0, 1, 2], [3, 4, 5]]`, and the distinct results.
    fn outcomes(mode: &str) -> HashSet<Vec<u32>> {
        let one: Vec<f32> = (0..6).map(|i| i as f32).collect();
        let x = Tensor::new(&one.repeat(64), &[64, 2, 3, 1]).unwrap();
        let y = RandomFlip::new(mode).unwrap().call(&x, true).unwrap();
        assert_eq!(y.shape(), x.shape());
        let v = y.to_vec::<f32>().unwrap();
        v.chunks(6)
            .map(|c| c.iter().map(|&p| p as u32).collect())
            .collect()
    }

    #[test]
    fn flips_really_flip_per_image() {
        let id = vec![0, 1, 2, 3, 4, 5];
        let h: HashSet<Vec<u32>> = [id.clone(), vec![2, 1, 0, 5, 4, 3]].into();
        let v: HashSet<Vec<u32>> = [id.clone(), vec![3, 4, 5, 0, 1, 2]].into();
        let hv: HashSet<Vec<u32>> = [id, vec![5, 4, 3, 2, 1, 0]].into();
        // Both outcomes occur in a batch of 64 (one draw per image).
        assert_eq!(outcomes("horizontal"), h);
        assert_eq!(outcomes("vertical"), v);
        assert_eq!(outcomes("horizontal_and_vertical"), hv);
    }

    #[test]
    fn identity_at_inference_and_reproducible() {
        let f = RandomFlip::new("horizontal").unwrap();
        let x = randn(&[4, 3, 3, 2], 1).cast(DType::F32).unwrap();
        assert_eq!(
            f.call(&x, false).unwrap().to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap()
        );
        let single = randn(&[3, 3, 2], 2);
        assert_eq!(f.call(&single, true).unwrap().shape(), &[3, 3, 2]);
        let x = randn(&[16, 2, 2, 1], 3).cast(DType::F32).unwrap();
        crate::set_random_seed(11);
        let a = f.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        crate::set_random_seed(11);
        let b = f.call(&x, true).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(a, b);
        // Gradients reach the input.
        let xv = x.variable();
        let y = f.call(&xv, true).unwrap().sum_all().unwrap();
        let g = y.backward().unwrap();
        assert_eq!(g.get(&xv).unwrap().to_vec::<f32>().unwrap(), vec![1.0; 64]);
    }

    #[test]
    fn config_and_errors() {
        // keras.layers.RandomFlip().get_config()
        let f = RandomFlip::from_config(&json!({"name": "random_flip"})).unwrap();
        assert_eq!(
            f.get_config(),
            json!({"name": "random_flip", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "data_format": "channels_last", "seed": null, "mode": "horizontal_and_vertical"})
        );
        assert!(RandomFlip::from_config(&json!({"data_format": "channels_first"})).is_err());
        let e = f.call(&randn(&[2, 3], 1), true).unwrap_err().to_string();
        assert!(e.contains("random_flip") && e.contains("(2, 3)"), "{e}");
        assert!(f.compute_output_shape(&[None, Some(3)]).is_err());
    }
}
