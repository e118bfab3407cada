//! `Conv2D`: 2-D convolution over `(batch, height, width, channels)`.

use super::{base_config, config_name, field, fmt_shape, shape_error, unique_name, Layer, Shape};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::Variable;
use keras_tensor::{ConvArgs, DType, Error, Padding, Result, Tensor};
use serde_json::{json, Value};

/// A 2-D convolution, as `keras.layers.Conv2D` (channels-last).
///
/// Kernel `(kh, kw, in_channels / groups, filters)`, bias `(filters,)`.
///
/// ```
/// use keras::layers::{Conv2D, Layer};
/// let mut c = Conv2D::new(32, 3).activation("relu")?;
/// c.build(&[None, Some(28), Some(28), Some(1)])?;
/// assert_eq!(c.compute_output_shape(&[None, Some(28), Some(28), Some(1)])?, vec![None, Some(26), Some(26), Some(32)]);
/// assert_eq!(c.count_params(), 3 * 3 * 1 * 32 + 32);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Conv2D {
    name: String,
    filters: usize,
    kernel_size: [usize; 2],
    strides: [usize; 2],
    padding: String,
    dilation_rate: [usize; 2],
    groups: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    trainable: bool,
    input_shape: Option<Shape>,
    kernel: Option<Variable>,
    bias: Option<Variable>,
}

impl Conv2D {
    /// `filters` output channels with a square `kernel_size` window; stride 1, `"valid"`.
    pub fn new(filters: usize, kernel_size: usize) -> Conv2D {
        Conv2D {
            name: unique_name("conv2d"),
            filters,
            kernel_size: [kernel_size; 2],
            strides: [1, 1],
            padding: "valid".into(),
            dilation_rate: [1, 1],
            groups: 1,
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

    /// A `(kh, kw)` window.
    pub fn kernel_size(mut self, k: [usize; 2]) -> Conv2D {
        self.kernel_size = k;
        self
    }
    /// Strides `(sh, sw)`.
    pub fn strides(mut self, s: [usize; 2]) -> Conv2D {
        self.strides = s;
        self
    }
    /// `"valid"` or `"same"`.
    ///
    /// # Errors
    /// For any other value.
    pub fn padding(mut self, p: &str) -> Result<Conv2D> {
        if p != "valid" && p != "same" {
            return Err(Error::InvalidArgument {
                op: "Conv2D",
                msg: format!("padding must be \"valid\" or \"same\", got {p:?}"),
            });
        }
        self.padding = p.into();
        Ok(self)
    }
    /// Dilation `(dh, dw)`.
    pub fn dilation_rate(mut self, d: [usize; 2]) -> Conv2D {
        self.dilation_rate = d;
        self
    }
    /// Channel groups.
    pub fn groups(mut self, g: usize) -> Conv2D {
        self.groups = g;
        self
    }
    /// Activation by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn activation(mut self, name: &str) -> Result<Conv2D> {
        self.activation = Activation::get(name)?;
        Ok(self)
    }
    /// With or without bias.
    pub fn use_bias(mut self, b: bool) -> Conv2D {
        self.use_bias = b;
        self
    }
    /// Kernel initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn kernel_initializer(mut self, name: &str) -> Result<Conv2D> {
        self.kernel_initializer = Initializer::get(name)?;
        Ok(self)
    }
    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Conv2D {
        self.name = name.to_string();
        self
    }

    fn args(&self) -> Result<ConvArgs> {
        Ok(ConvArgs::new()
            .strides_per_axis(&self.strides)
            .dilation_per_axis(&self.dilation_rate)
            .groups(self.groups)
            .padding(Padding::parse(&self.padding)?))
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For invalid values or unsupported options (channels_first, regularizers, constraints).
    pub fn from_config(c: &Value) -> Result<Conv2D> {
        if field::<String>(c, "data_format", "channels_last".into())? != "channels_last" {
            return Err(Error::InvalidArgument {
                op: "Conv2D.from_config",
                msg: "only channels_last is supported".into(),
            });
        }
        super::reject_unsupported(c, "Conv2D.from_config", &super::REGULARIZER_KEYS)?;
        let mut l = Conv2D::new(field(c, "filters", 0)?, 1)
            .kernel_size(super::field_pair(c, "kernel_size")?.unwrap_or([1, 1]))
            .strides(super::field_pair(c, "strides")?.unwrap_or([1, 1]))
            .dilation_rate(super::field_pair(c, "dilation_rate")?.unwrap_or([1, 1]))
            .groups(field(c, "groups", 1)?)
            .use_bias(field(c, "use_bias", true)?)
            .padding(&field::<String>(c, "padding", "valid".into())?)?;
        l.activation = Activation::get(&field::<String>(c, "activation", "linear".into())?)?;
        l.name = config_name(c, "conv2d")?;
        l.trainable = field(c, "trainable", true)?;
        if let Some(v) = c.get("kernel_initializer") {
            l.kernel_initializer = Initializer::from_config(v)?;
        }
        if let Some(v) = c.get("bias_initializer") {
            l.bias_initializer = Initializer::from_config(v)?;
        }
        Ok(l)
    }
}

/// Output length of one spatial axis.
fn out_len(input: Option<usize>, k: usize, s: usize, d: usize, same: bool) -> Option<usize> {
    let input = input?;
    let span = d * (k - 1) + 1;
    Some(if same {
        input.div_ceil(s)
    } else if input >= span {
        (input - span) / s + 1
    } else {
        0
    })
}

impl Layer for Conv2D {
    super::layer_common!("Conv2D");
    fn built(&self) -> bool {
        self.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let Some(&Some(cin)) = input_shape.last() else {
            return Err(shape_error(&self.name, "a known channel count", input_shape));
        };
        self.compute_output_shape(input_shape)?;
        let g = self.groups;
        if g == 0 || cin % g != 0 || self.filters % g != 0 {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {:?}: {cin} input channels and {} filters must both divide by groups = {g} (input shape {})",
                    self.name,
                    self.filters,
                    fmt_shape(input_shape)
                ),
            });
        }
        let [kh, kw] = self.kernel_size;
        self.kernel = Some(Variable::new(
            "kernel",
            self.kernel_initializer
                .sample(&[kh, kw, cin / g, self.filters], DType::F32)?,
            true,
        ));
        if self.use_bias {
            self.bias = Some(Variable::new(
                "bias",
                self.bias_initializer.sample(&[self.filters], DType::F32)?,
                true,
            ));
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        if s.len() != 4 {
            return Err(shape_error(
                &self.name,
                "a rank-4 input (batch, height, width, channels)",
                s,
            ));
        }
        if self.filters == 0
            || self.kernel_size.contains(&0)
            || self.strides.contains(&0)
            || self.dilation_rate.contains(&0)
        {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {:?}: filters, kernel_size, strides and dilation_rate must be >= 1",
                    self.name
                ),
            });
        }
        let same = self.padding == "same";
        Ok(vec![
            s[0],
            out_len(
                s[1],
                self.kernel_size[0],
                self.strides[0],
                self.dilation_rate[0],
                same,
            ),
            out_len(
                s[2],
                self.kernel_size[1],
                self.strides[1],
                self.dilation_rate[1],
                same,
            ),
            Some(self.filters),
        ])
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (Some(k), Some(shape)) = (&self.kernel, &self.input_shape) else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        super::check_input(&self.name, shape, x)?;
        let y = x.conv2d(&k.value(), &self.args()?)?;
        super::bias_activation(y, self.bias.as_ref(), self.activation)
    }
    fn weights(&self) -> Vec<Variable> {
        self.kernel.iter().chain(self.bias.iter()).cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("filters".into(), json!(self.filters));
        m.insert("kernel_size".into(), json!(self.kernel_size));
        m.insert("strides".into(), json!(self.strides));
        m.insert("padding".into(), json!(self.padding));
        m.insert("data_format".into(), json!("channels_last"));
        m.insert("dilation_rate".into(), json!(self.dilation_rate));
        m.insert("groups".into(), json!(self.groups));
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
    fn conv2d_passes_the_layer_harness() {
        run_layer_test(Box::new(Conv2D::new(4, 3)), &[6, 5, 2], 2);
        run_layer_test(
            Box::new(
                Conv2D::new(4, 3)
                    .strides([2, 2])
                    .padding("same")
                    .unwrap()
                    .groups(2),
            ),
            &[6, 5, 2],
            2,
        );
    }

    #[test]
    fn bad_shapes_name_the_layer() {
        let mut c = Conv2D::new(4, 3).name("stem");
        let e = c.build(&[None, Some(6), Some(6)]).unwrap_err().to_string();
        assert!(e.contains("stem") && e.contains("(None, 6, 6)"), "{e}");
        c.build(&[None, Some(6), Some(6), Some(3)]).unwrap();
        let x = Tensor::zeros(&[1, 6, 6, 2], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("stem") && e.contains("[1, 6, 6, 2]"), "{e}");
    }
}
