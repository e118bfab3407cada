//! `Dense`: `activation(x @ kernel + bias)` over the last axis.

use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// A densely connected layer, as `keras.layers.Dense`.
///
/// Input `(..., input_dim)`, output `(..., units)`; kernel `(input_dim, units)`.
///
/// ```
/// use keras::layers::{Dense, Layer};
/// let mut d = Dense::new(4).activation("relu")?;
/// d.build(&[None, Some(3)])?;
/// assert_eq!(d.count_params(), 3 * 4 + 4);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Dense {
    name: String,
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    trainable: bool,
    input_shape: Option<Shape>,
    kernel: Option<Variable>,
    bias: Option<Variable>,
}

impl Dense {
    /// `units` outputs, linear activation, with bias, `glorot_uniform` kernel, zero bias.
    pub fn new(units: usize) -> Dense {
        Dense {
            name: unique_name("dense"),
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            bias_initializer: Initializer::Zeros,
            trainable: true,
            input_shape: None,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn activation(mut self, name: &str) -> Result<Dense> {
        self.activation = Activation::get(name)?;
        Ok(self)
    }

    /// With or without bias.
    pub fn use_bias(mut self, b: bool) -> Dense {
        self.use_bias = b;
        self
    }

    /// Sets the kernel initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn kernel_initializer(mut self, name: &str) -> Result<Dense> {
        self.kernel_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the bias initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn bias_initializer(mut self, name: &str) -> Result<Dense> {
        self.bias_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Dense {
        self.name = name.to_string();
        self
    }

    /// The kernel, once built.
    pub fn kernel(&self) -> Option<&Variable> {
        self.kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For missing `units`, unknown names, or features this version does not support
    /// (regularizers and constraints on `Dense` are rejected rather than ignored).
    pub fn from_config(c: &Value) -> Result<Dense> {
        let units: usize = field(c, "units", 0)?;
        if units == 0 {
            return Err(Error::InvalidArgument {
                op: "Dense.from_config",
                msg: "units must be >= 1".into(),
            });
        }
        super::reject_unsupported(c, "Dense.from_config", &super::REGULARIZER_KEYS)?;
        let mut d = Dense::new(units).use_bias(field(c, "use_bias", true)?);
        d.name = config_name(c, "dense")?;
        d.trainable = field(c, "trainable", true)?;
        d.activation = Activation::get(&field::<String>(c, "activation", "linear".into())?)?;
        if let Some(v) = c.get("kernel_initializer") {
            d.kernel_initializer = Initializer::from_config(v)?;
        }
        if let Some(v) = c.get("bias_initializer") {
            d.bias_initializer = Initializer::from_config(v)?;
        }
        Ok(d)
    }
}

impl Layer for Dense {
    super::layer_common!("Dense");
    fn built(&self) -> bool {
        self.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let Some(&Some(input_dim)) = input_shape.last() else {
            return Err(shape_error(&self.name, "a known last dimension", input_shape));
        };
        if input_shape.len() < 2 {
            return Err(shape_error(
                &self.name,
                "rank >= 2 (batch, features)",
                input_shape,
            ));
        }
        self.kernel = Some(Variable::new(
            "kernel",
            self.kernel_initializer
                .sample(&[input_dim, self.units], DType::F32)?,
            true,
        ));
        if self.use_bias {
            self.bias = Some(Variable::new(
                "bias",
                self.bias_initializer.sample(&[self.units], DType::F32)?,
                true,
            ));
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.len() < 2 {
            return Err(shape_error(
                &self.name,
                "rank >= 2 (batch, features)",
                input_shape,
            ));
        }
        let mut s = input_shape.to_vec();
        *s.last_mut().expect("rank >= 2") = Some(self.units);
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (Some(k), Some(shape)) = (&self.kernel, &self.input_shape) else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        let in_dim = shape[shape.len() - 1];
        if x.rank() < 2 || x.shape().last().copied() != in_dim {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} was built for input shape {} but got a tensor of shape {:?}",
                    self.name,
                    super::fmt_shape(shape),
                    x.shape()
                ),
            });
        }
        let y = x.matmul(&k.value())?;
        super::bias_activation(y, self.bias.as_ref(), self.activation)
    }
    fn weights(&self) -> Vec<Variable> {
        self.kernel.iter().chain(self.bias.iter()).cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("units".into(), json!(self.units));
        m.insert("activation".into(), json!(self.activation.name()));
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        m.insert("bias_initializer".into(), self.bias_initializer.get_config());
        for k in super::REGULARIZER_KEYS {
            m.insert(k.into(), Value::Null);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;

    #[test]
    fn dense_passes_the_layer_harness() {
        run_layer_test(Box::new(Dense::new(5).activation("tanh").unwrap()), &[3], 2);
        run_layer_test(Box::new(Dense::new(2).use_bias(false)), &[4, 3], 1);
    }

    #[test]
    fn wrong_input_width_names_the_layer_and_shapes() {
        let mut d = Dense::new(2).name("head");
        d.build(&[None, Some(3)]).unwrap();
        let x = Tensor::zeros(&[4, 5], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let e = d.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("head") && e.contains('3') && e.contains("[4, 5]"),
            "{e}"
        );
    }
}
