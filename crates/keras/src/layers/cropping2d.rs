//! `Cropping2D`: removes rows and columns at the borders of images.

use super::zero_padding2d::{field_pairs2, rank_error, require_channels_last};
use super::{base_config, config_name, field, fmt_shape, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Crops `(batch, height, width, channels)` images along height and width, as
/// `keras.layers.Cropping2D` (channels-last only).
///
/// As in Keras, the cropping must leave at least one row and one column.
///
/// ```
/// use keras::layers::{Cropping2D, Layer};
/// let c = Cropping2D::new(0).cropping([[2, 2], [4, 4]]);
/// assert_eq!(
///     c.compute_output_shape(&[None, Some(28), Some(28), Some(3)])?,
///     vec![None, Some(24), Some(20), Some(3)]
/// );
/// assert!(c.compute_output_shape(&[None, Some(4), Some(28), Some(3)]).is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Cropping2D {
    name: String,
    cropping: [[usize; 2]; 2],
    trainable: bool,
}

impl Cropping2D {
    /// The same cropping `c` on all four sides (Keras's default is 0).
    pub fn new(c: usize) -> Cropping2D {
        Cropping2D {
            name: unique_name("cropping2d"),
            cropping: [[c; 2]; 2],
            trainable: true,
        }
    }

    /// `[[top, bottom], [left, right]]` cropping.
    pub fn cropping(mut self, c: [[usize; 2]; 2]) -> Cropping2D {
        self.cropping = c;
        self
    }

    /// Symmetric `[height, width]` cropping: `height` rows off the top and the bottom,
    /// `width` columns off the left and the right.
    pub fn cropping_hw(mut self, hw: [usize; 2]) -> Cropping2D {
        self.cropping = [[hw[0]; 2], [hw[1]; 2]];
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Cropping2D {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a malformed `cropping` or `data_format="channels_first"`.
    pub fn from_config(c: &Value) -> Result<Cropping2D> {
        require_channels_last(c, "Cropping2D.from_config")?;
        Ok(Cropping2D {
            name: config_name(c, "cropping2d")?,
            cropping: field_pairs2(c, "cropping", "Cropping2D.from_config", [[0, 0], [0, 0]])?,
            trainable: field(c, "trainable", true)?,
        })
    }

    fn too_much(&self, shape: &[Option<usize>], op: &'static str) -> Error {
        Error::InvalidArgument {
            op,
            msg: format!(
                "layer {:?}: values in `cropping` must be smaller than the corresponding spatial \
                 dimension of the input; got input shape {}, cropping={:?}",
                self.name,
                fmt_shape(shape),
                self.cropping
            ),
        }
    }
}

impl Layer for Cropping2D {
    super::layer_common!("Cropping2D");
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
                "a 4-D input (batch, height, width, channels)",
                input_shape,
            ));
        }
        let mut s = input_shape.to_vec();
        for (i, c) in self.cropping.iter().enumerate() {
            if let Some(d) = s[i + 1] {
                if c[0] + c[1] >= d {
                    return Err(self.too_much(input_shape, "build"));
                }
                s[i + 1] = Some(d - c[0] - c[1]);
            }
        }
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        if x.rank() != 4 {
            return Err(rank_error(&self.name, 4, x));
        }
        let s = x.shape();
        let [h, w] = self.cropping;
        if h[0] + h[1] >= s[1] || w[0] + w[1] >= s[2] {
            let shape: Shape = s.iter().map(|&d| Some(d)).collect();
            return Err(self.too_much(&shape, "call"));
        }
        x.slice_axis(1, h[0], s[1] - h[1], 1)?
            .slice_axis(2, w[0], s[2] - w[1], 1)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("cropping".into(), json!(self.cropping));
        m.insert("data_format".into(), json!("channels_last"));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{check_grad, randn};
    use serde_json::json;

    #[test]
    fn cropping2d_passes_the_layer_harness() {
        run_layer_test(Box::new(Cropping2D::new(1)), &[4, 3, 2], 0);
        run_layer_test(
            Box::new(Cropping2D::new(0).cropping([[0, 2], [1, 0]])),
            &[3, 2, 1],
            0,
        );
        run_layer_test(Box::new(Cropping2D::new(0)), &[3, 2, 1], 0);
    }

    #[test]
    fn crops_like_keras() {
        // keras.layers.Cropping2D(((1, 0), (0, 1)))(np.arange(9.).reshape(1, 3, 3, 1))
        // == [[3, 4], [6, 7]]
        let c = Cropping2D::new(0).cropping([[1, 0], [0, 1]]);
        let x = Tensor::new(&[0.0f32, 1., 2., 3., 4., 5., 6., 7., 8.], &[1, 3, 3, 1]).unwrap();
        let y = c.call(&x, false).unwrap();
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(
            y.contiguous().unwrap().to_vec::<f32>().unwrap(),
            vec![3.0, 4.0, 6.0, 7.0]
        );
        check_grad("cropping2d", &[&randn(&[2, 4, 3, 2], 1)], |t| c.call(&t[0], true));
    }

    #[test]
    fn config_and_errors() {
        let c = Cropping2D::from_config(&json!({"cropping": [1, 2]})).unwrap();
        assert_eq!(c.get_config()["cropping"], json!([[1, 1], [2, 2]]));
        let d = Cropping2D::from_config(&json!({})).unwrap();
        assert_eq!(d.get_config()["cropping"], json!([[0, 0], [0, 0]]));
        assert!(Cropping2D::from_config(&json!({"data_format": "channels_first"})).is_err());
        let c = Cropping2D::new(2).name("crop");
        let e = c
            .compute_output_shape(&[None, Some(4), Some(9), Some(1)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("crop") && e.contains("(None, 4, 9, 1)") && e.contains("[[2, 2], [2, 2]]"),
            "{e}"
        );
        // Unknown spatial sizes stay unknown; the check then happens on call.
        assert_eq!(
            c.compute_output_shape(&[None, None, Some(9), Some(1)]).unwrap(),
            vec![None, None, Some(5), Some(1)]
        );
        let x = Tensor::zeros(
            &[1, 3, 9, 1],
            keras_tensor::DType::F32,
            &keras_tensor::Device::Cpu,
        )
        .unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("crop") && e.contains("(1, 3, 9, 1)"), "{e}");
    }
}
