//! `ZeroPadding2D`: pads the height and width of images with zeros.

use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Reads a Keras 2-D padding or cropping argument from a config: an int (`1`), a pair of
/// ints (`[h, w]`, symmetric per axis) or a pair of pairs (`[[top, bottom], [left, right]]`;
/// each entry may also be a single int). Absent or `null` gives `default`.
pub(crate) fn field_pairs2(
    c: &Value,
    key: &str,
    op: &'static str,
    default: [[usize; 2]; 2],
) -> Result<[[usize; 2]; 2]> {
    let bad = || Error::InvalidArgument {
        op,
        msg: format!(
            "`{key}` should be an int, a list of 2 ints or a list of 2 lists of 2 ints \
             (non-negative), got {}",
            c.get(key).unwrap_or(&Value::Null)
        ),
    };
    let entry = |v: &Value| -> Result<[usize; 2]> {
        match v {
            Value::Number(n) => n.as_u64().map(|n| [n as usize; 2]).ok_or_else(bad),
            Value::Array(a) if a.len() == 2 => {
                let x = a[0].as_u64().ok_or_else(bad)?;
                let y = a[1].as_u64().ok_or_else(bad)?;
                Ok([x as usize, y as usize])
            }
            _ => Err(bad()),
        }
    };
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_u64().map(|n| [[n as usize; 2]; 2]).ok_or_else(bad),
        Some(Value::Array(a)) if a.len() == 2 => Ok([entry(&a[0])?, entry(&a[1])?]),
        Some(_) => Err(bad()),
    }
}

/// Rejects any `data_format` but `channels_last` (or `null`, Keras's "use the default").
pub(crate) fn require_channels_last(c: &Value, op: &'static str) -> Result<()> {
    let fmt: String = field(c, "data_format", "channels_last".to_string())?;
    if fmt == "channels_last" {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            msg: format!("data_format {fmt:?} is not supported (channels_last only)"),
        })
    }
}

/// Error for a tensor of the wrong rank passed to `call`.
pub(crate) fn rank_error(layer: &str, expected: usize, x: &Tensor) -> Error {
    Error::InvalidArgument {
        op: "call",
        msg: format!(
            "layer {layer:?} expects an input of rank {expected}, got a tensor of shape {:?}",
            x.shape()
        ),
    }
}

/// Pads rows and columns of `(batch, height, width, channels)` images with zeros, as
/// `keras.layers.ZeroPadding2D` (channels-last only).
///
/// ```
/// use keras::layers::{Layer, ZeroPadding2D};
/// let z = ZeroPadding2D::new(1).padding([[1, 0], [0, 2]]);
/// assert_eq!(
///     z.compute_output_shape(&[None, Some(4), Some(5), Some(3)])?,
///     vec![None, Some(5), Some(7), Some(3)]
/// );
/// let x = keras_tensor::Tensor::new(&[1.0f32], &[1, 1, 1, 1])?;
/// assert_eq!(z.call(&x, false)?.to_vec::<f32>()?, vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct ZeroPadding2D {
    name: String,
    padding: [[usize; 2]; 2],
    trainable: bool,
}

impl ZeroPadding2D {
    /// The same padding `p` on all four sides (Keras's default is 1).
    pub fn new(p: usize) -> ZeroPadding2D {
        ZeroPadding2D {
            name: unique_name("zero_padding2d"),
            padding: [[p; 2]; 2],
            trainable: true,
        }
    }

    /// `[[top, bottom], [left, right]]` padding.
    pub fn padding(mut self, p: [[usize; 2]; 2]) -> ZeroPadding2D {
        self.padding = p;
        self
    }

    /// Symmetric `[height, width]` padding: `height` rows above and below, `width` columns
    /// left and right.
    pub fn padding_hw(mut self, hw: [usize; 2]) -> ZeroPadding2D {
        self.padding = [[hw[0]; 2], [hw[1]; 2]];
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> ZeroPadding2D {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a malformed `padding` or `data_format="channels_first"`.
    pub fn from_config(c: &Value) -> Result<ZeroPadding2D> {
        require_channels_last(c, "ZeroPadding2D.from_config")?;
        Ok(ZeroPadding2D {
            name: config_name(c, "zero_padding2d")?,
            padding: field_pairs2(c, "padding", "ZeroPadding2D.from_config", [[1, 1], [1, 1]])?,
            trainable: field(c, "trainable", true)?,
        })
    }
}

impl Layer for ZeroPadding2D {
    super::layer_common!("ZeroPadding2D");
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
        for (i, p) in self.padding.iter().enumerate() {
            s[i + 1] = s[i + 1].map(|d| d + p[0] + p[1]);
        }
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        if x.rank() != 4 {
            return Err(rank_error(&self.name, 4, x));
        }
        let [h, w] = self.padding;
        x.pad(&[(0, 0), (h[0], h[1]), (w[0], w[1]), (0, 0)], 0.0)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("padding".into(), json!(self.padding));
        m.insert("data_format".into(), json!("channels_last"));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::check_grad;
    use serde_json::json;

    #[test]
    fn zero_padding2d_passes_the_layer_harness() {
        run_layer_test(Box::new(ZeroPadding2D::new(1)), &[3, 2, 2], 0);
        run_layer_test(
            Box::new(ZeroPadding2D::new(0).padding([[0, 2], [1, 0]])),
            &[3, 2, 1],
            0,
        );
    }

    #[test]
    fn config_forms_match_keras() {
        // Keras: ZeroPadding2D().get_config()["padding"] == ((1, 1), (1, 1)).
        let z = ZeroPadding2D::from_config(&json!({})).unwrap();
        assert_eq!(z.get_config()["padding"], json!([[1, 1], [1, 1]]));
        assert_eq!(z.get_config()["data_format"], json!("channels_last"));
        let z = ZeroPadding2D::from_config(&json!({"padding": [2, 3]})).unwrap();
        assert_eq!(z.padding, [[2, 2], [3, 3]]);
        let z = ZeroPadding2D::from_config(&json!({"padding": [[1, 2], 3]})).unwrap();
        assert_eq!(z.padding, [[1, 2], [3, 3]]);
        let z = ZeroPadding2D::from_config(&json!({"padding": 4})).unwrap();
        assert_eq!(z.padding, [[4, 4], [4, 4]]);
        assert!(ZeroPadding2D::from_config(&json!({"padding": [1, 2, 3]})).is_err());
        assert!(ZeroPadding2D::from_config(&json!({"padding": -1})).is_err());
        let e = ZeroPadding2D::from_config(&json!({"data_format": "channels_first"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels_first"), "{e}");
    }

    #[test]
    fn pads_like_keras() {
        // keras.layers.ZeroPadding2D(((1, 0), (0, 1)))(np.arange(4.).reshape(1, 2, 2, 1))
        let z = ZeroPadding2D::new(0).padding([[1, 0], [0, 1]]);
        let x = Tensor::new(&[0.0f32, 1.0, 2.0, 3.0], &[1, 2, 2, 1]).unwrap();
        let y = z.call(&x, false).unwrap();
        assert_eq!(y.shape(), &[1, 3, 3, 1]);
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 3.0, 0.0]
        );
        check_grad(
            "zero_padding2d",
            &[&keras_tensor::testing::randn(&[2, 2, 3, 2], 1)],
            |t| z.call(&t[0], true),
        );
    }

    #[test]
    fn wrong_rank_names_the_layer() {
        let z = ZeroPadding2D::new(1).name("pad");
        let e = z.compute_output_shape(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("pad") && e.contains("(None, 3)"), "{e}");
        let x = Tensor::new(&[1.0f32, 2.0], &[1, 2]).unwrap();
        let e = z.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("pad") && e.contains("[1, 2]"), "{e}");
    }
}
