//! `Flatten`: collapses every axis but the batch.

use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Result, Tensor};
use serde_json::{json, Value};

/// Flattens the input to `(batch, features)`, as `keras.layers.Flatten`.
///
/// ```
/// use keras::layers::{Flatten, Layer};
/// assert_eq!(Flatten::new().compute_output_shape(&[None, Some(7), Some(7), Some(64)])?, vec![None, Some(3136)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Flatten {
    name: String,
    trainable: bool,
}

impl Flatten {
    /// A flatten layer.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Flatten {
        Flatten {
            name: unique_name("flatten"),
            trainable: true,
        }
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For `data_format="channels_first"` (only channels-last is supported).
    pub fn from_config(c: &Value) -> Result<Flatten> {
        let fmt: String = field(c, "data_format", "channels_last".to_string())?;
        if fmt != "channels_last" {
            return Err(keras_tensor::Error::InvalidArgument {
                op: "Flatten.from_config",
                msg: format!("data_format {fmt:?} is not supported (channels_last only)"),
            });
        }
        Ok(Flatten {
            name: config_name(c, "flatten")?,
            trainable: field(c, "trainable", true)?,
        })
    }
}

impl Layer for Flatten {
    super::layer_common!("Flatten");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.is_empty() {
            return Err(shape_error(&self.name, "a batch axis", input_shape));
        }
        let rest: Option<usize> = input_shape[1..].iter().try_fold(1usize, |a, d| d.map(|d| a * d));
        Ok(vec![input_shape[0], rest])
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(1) as isize;
        x.reshape(&[n, -1]).or_else(|_| x.reshape(&[n, 0]))
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("data_format".into(), json!("channels_last"));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn flatten_passes_the_layer_harness() {
        super::super::testing::run_layer_test(Box::new(super::Flatten::new()), &[3, 2, 2], 0);
    }
}
