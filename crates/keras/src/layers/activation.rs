//! `Activation`: applies a named activation function.

use super::{base_config, config_name, field, unique_name, Epilogue, Layer, Shape};
use crate::activations::Activation as Act;
use keras_tensor::{DType, Result, Tensor};
use serde_json::{json, Value};

/// Applies an activation function, as `keras.layers.Activation`.
///
/// ```
/// use keras::layers::{Activation, Layer};
/// let a = Activation::new("softmax")?;
/// let y = a.call(&keras_tensor::Tensor::new(&[1.0f32, 1.0], &[1, 2])?, false)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![0.5, 0.5]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Activation {
    name: String,
    activation: Act,
    trainable: bool,
}

impl Activation {
    /// The activation with Keras name `name`.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn new(name: &str) -> Result<Activation> {
        Ok(Activation {
            name: unique_name("activation"),
            activation: Act::get(name)?,
            trainable: true,
        })
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For an unknown activation.
    pub fn from_config(c: &Value) -> Result<Activation> {
        let mut a = Activation::new(&field::<String>(c, "activation", "linear".into())?)?;
        a.name = config_name(c, "activation")?;
        a.trainable = field(c, "trainable", true)?;
        Ok(a)
    }
}

impl Layer for Activation {
    super::layer_common!("Activation");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, _input_shape: &[Option<usize>]) -> Result<()> {
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        self.activation.apply(x)
    }
    fn inference_epilogue(&self, dtype: DType) -> Result<Option<Epilogue>> {
        let op = super::fused_activation(self.activation).filter(|_| dtype.is_float());
        Ok(op.map(Epilogue::activation))
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("activation".into(), json!(self.activation.name()));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn activation_passes_the_layer_harness() {
        super::super::testing::run_layer_test(Box::new(super::Activation::new("gelu").unwrap()), &[3, 2], 0);
    }
}
