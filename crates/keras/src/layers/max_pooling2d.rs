//! `MaxPooling2D`: the maximum over windows of `(batch, height, width, channels)`.

use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Padding, PoolArgs, Result, Tensor};
use serde_json::{json, Value};

/// 2-D max pooling, as `keras.layers.MaxPooling2D` (strides default to the pool size).
///
/// ```
/// use keras::layers::{Layer, MaxPooling2D};
/// let p = MaxPooling2D::new(2);
/// assert_eq!(p.compute_output_shape(&[None, Some(26), Some(26), Some(32)])?, vec![None, Some(13), Some(13), Some(32)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct MaxPooling2D {
    name: String,
    pool_size: [usize; 2],
    strides: Option<[usize; 2]>,
    padding: String,
    trainable: bool,
}

impl MaxPooling2D {
    /// A square window of `pool_size`, strides equal to it, `"valid"` padding.
    pub fn new(pool_size: usize) -> MaxPooling2D {
        MaxPooling2D {
            name: unique_name("max_pooling2d"),
            pool_size: [pool_size; 2],
            strides: None,
            padding: "valid".into(),
            trainable: true,
        }
    }
    /// Strides `(sh, sw)`.
    pub fn strides(mut self, s: [usize; 2]) -> MaxPooling2D {
        self.strides = Some(s);
        self
    }
    /// `"valid"` or `"same"`.
    ///
    /// # Errors
    /// For any other value.
    pub fn padding(mut self, p: &str) -> Result<MaxPooling2D> {
        if p != "valid" && p != "same" {
            return Err(Error::InvalidArgument {
                op: "MaxPooling2D",
                msg: format!("padding must be \"valid\" or \"same\", got {p:?}"),
            });
        }
        self.padding = p.into();
        Ok(self)
    }

    fn stride(&self) -> [usize; 2] {
        self.strides.unwrap_or(self.pool_size)
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For invalid values or `channels_first`.
    pub fn from_config(c: &Value) -> Result<MaxPooling2D> {
        if field::<String>(c, "data_format", "channels_last".into())? != "channels_last" {
            return Err(Error::InvalidArgument {
                op: "MaxPooling2D.from_config",
                msg: "only channels_last is supported".into(),
            });
        }
        let mut p = MaxPooling2D::new(2).padding(&field::<String>(c, "padding", "valid".into())?)?;
        p.pool_size = super::field_pair(c, "pool_size")?.unwrap_or([2, 2]);
        p.strides = super::field_pair(c, "strides")?;
        p.name = config_name(c, "max_pooling2d")?;
        p.trainable = field(c, "trainable", true)?;
        Ok(p)
    }
}

impl Layer for MaxPooling2D {
    super::layer_common!("MaxPooling2D");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        if s.len() != 4 {
            return Err(shape_error(
                &self.name,
                "a rank-4 input (batch, height, width, channels)",
                s,
            ));
        }
        let st = self.stride();
        if self.pool_size.contains(&0) || st.contains(&0) {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!("layer {:?}: pool_size and strides must be >= 1", self.name),
            });
        }
        let same = self.padding == "same";
        let f = |d: Option<usize>, i: usize| {
            d.map(|n| {
                if same {
                    n.div_ceil(st[i])
                } else if n >= self.pool_size[i] {
                    (n - self.pool_size[i]) / st[i] + 1
                } else {
                    0
                }
            })
        };
        Ok(vec![s[0], f(s[1], 0), f(s[2], 1), s[3]])
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let args = PoolArgs::new(1)
            .pool_size_per_axis(&self.pool_size)
            .strides_per_axis(&self.stride())
            .padding(Padding::parse(&self.padding)?);
        x.max_pool2d(&args)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("pool_size".into(), json!(self.pool_size));
        m.insert("padding".into(), json!(self.padding));
        m.insert("strides".into(), json!(self.stride()));
        m.insert("data_format".into(), json!("channels_last"));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn max_pooling_passes_the_layer_harness() {
        super::super::testing::run_layer_test(Box::new(super::MaxPooling2D::new(2)), &[5, 4, 3], 0);
        let p = super::MaxPooling2D::new(3)
            .strides([1, 1])
            .padding("same")
            .unwrap();
        super::super::testing::run_layer_test(Box::new(p), &[5, 4, 3], 0);
    }
}
