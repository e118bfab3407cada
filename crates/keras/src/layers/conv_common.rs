//! What the convolution layers share: Keras's int-or-tuple arguments, padding names, the
//! output-size rules of `compute_conv_output_shape` and `compute_conv_transpose_output_shape`,
//! the config keys every convolution writes, the bias + activation + activity-regularizer
//! tail, and the builder methods common to `Conv1D`, `Conv2D`, `Conv2DTranspose`,
//! `DepthwiseConv2D` and `SeparableConv2D`.

use super::{field, fmt_shape, shape_error, Epilogue, Shape, WeightRules};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::op::UnaryOp;
use keras_tensor::{ConvArgs, DType, Error, Padding, Result, Tensor};
use serde_json::{json, Value};

/// Options shared by every `N`-D convolution layer (the `BaseConv` arguments other than the
/// weights' own initializers and rules).
pub(crate) struct ConvCommon<const N: usize> {
    pub kernel_size: [usize; N],
    pub strides: [usize; N],
    /// `"valid"`, `"same"` or (1-D only) `"causal"`.
    pub padding: String,
    pub dilation_rate: [usize; N],
    pub activation: Activation,
    pub use_bias: bool,
    pub bias_initializer: Initializer,
    pub bias_rules: WeightRules,
    pub activity_regularizer: Option<Regularizer>,
}

impl<const N: usize> ConvCommon<N> {
    /// Keras's defaults: stride 1, `"valid"`, no dilation, linear, zero bias.
    pub fn new(kernel_size: [usize; N]) -> Self {
        ConvCommon {
            kernel_size,
            strides: [1; N],
            padding: "valid".into(),
            dilation_rate: [1; N],
            activation: Activation::Linear,
            use_bias: true,
            bias_initializer: Initializer::Zeros,
            bias_rules: WeightRules::default(),
            activity_regularizer: None,
        }
    }

    /// Sets the padding, lower-cased as Keras's `standardize_padding` does.
    pub fn set_padding(&mut self, class: &'static str, p: &str, allow_causal: bool) -> Result<()> {
        let p = p.to_lowercase();
        let ok = p == "valid" || p == "same" || (allow_causal && p == "causal");
        if !ok {
            let expected = if allow_causal {
                "\"valid\", \"same\" or \"causal\""
            } else {
                "\"valid\" or \"same\""
            };
            return Err(Error::InvalidArgument {
                op: class,
                msg: format!("padding must be {expected}, got {p:?}"),
            });
        }
        self.padding = p;
        Ok(())
    }

    /// Reads the shared keys of a Keras config (`kernel_size` is required).
    pub fn from_config(c: &Value, class: &'static str, allow_causal: bool) -> Result<Self> {
        let op = from_config_op(class);
        if field::<String>(c, "data_format", "channels_last".into())? != "channels_last" {
            return Err(Error::InvalidArgument {
                op,
                msg: "only data_format=\"channels_last\" is supported".into(),
            });
        }
        let kernel_size = field_tuple::<N>(c, "kernel_size")?.ok_or_else(|| Error::InvalidArgument {
            op,
            msg: "kernel_size is required".into(),
        })?;
        let mut m = ConvCommon::new(kernel_size);
        m.strides = field_tuple(c, "strides")?.unwrap_or([1; N]);
        m.dilation_rate = field_tuple(c, "dilation_rate")?.unwrap_or([1; N]);
        m.set_padding(
            class,
            &field::<String>(c, "padding", "valid".into())?,
            allow_causal,
        )?;
        m.activation = Activation::get(&field::<String>(c, "activation", "linear".into())?)?;
        m.use_bias = field(c, "use_bias", true)?;
        m.bias_initializer = initializer_field(c, "bias_initializer", Initializer::Zeros)?;
        m.bias_rules = WeightRules::from_config(c, "bias")?;
        m.activity_regularizer =
            Regularizer::from_config(c.get("activity_regularizer").unwrap_or(&Value::Null))?;
        Ok(m)
    }

    /// Writes the shared keys in Keras's form.
    pub fn to_config(&self, m: &mut serde_json::Map<String, Value>) {
        m.insert("kernel_size".into(), json!(self.kernel_size.as_slice()));
        m.insert("strides".into(), json!(self.strides.as_slice()));
        m.insert("padding".into(), json!(self.padding));
        m.insert("data_format".into(), json!("channels_last"));
        m.insert("dilation_rate".into(), json!(self.dilation_rate.as_slice()));
        m.insert("activation".into(), json!(self.activation.name()));
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("bias_initializer".into(), self.bias_initializer.get_config());
        self.bias_rules.to_config(m, "bias");
        m.insert(
            "activity_regularizer".into(),
            self.activity_regularizer.map_or(Value::Null, |r| r.to_config()),
        );
    }

    /// Keras's argument checks: no zero sizes, and (for the plain and transposed
    /// convolutions, `strides_with_dilation == false`) no strides > 1 together with
    /// dilation > 1.
    pub fn validate(&self, layer: &str, strides_with_dilation: bool) -> Result<()> {
        let bad = |msg: String| Error::InvalidArgument {
            op: "build",
            msg: format!("layer {layer:?}: {msg}"),
        };
        if self.kernel_size.contains(&0) {
            return Err(bad(format!(
                "kernel_size cannot contain 0, got {:?}",
                self.kernel_size
            )));
        }
        if self.strides.contains(&0) {
            return Err(bad(format!("strides cannot contain 0, got {:?}", self.strides)));
        }
        if self.dilation_rate.contains(&0) {
            return Err(bad(format!(
                "dilation_rate cannot contain 0, got {:?}",
                self.dilation_rate
            )));
        }
        let max = |a: &[usize; N]| a.iter().copied().max().unwrap_or(1);
        if !strides_with_dilation && max(&self.strides) > 1 && max(&self.dilation_rate) > 1 {
            return Err(bad(format!(
                "strides > 1 is not supported together with dilation_rate > 1 (strides={:?}, dilation_rate={:?})",
                self.strides, self.dilation_rate
            )));
        }
        Ok(())
    }

    /// Checks the rank (`batch, spatial…, channels`) of an input shape.
    pub fn check_rank(&self, layer: &str, s: &[Option<usize>]) -> Result<()> {
        if s.len() == N + 2 {
            return Ok(());
        }
        let what = match N {
            1 => "a rank-3 input (batch, steps, channels)".to_string(),
            2 => "a rank-4 input (batch, height, width, channels)".to_string(),
            _ => format!("a rank-{} input (batch, spatial…, channels)", N + 2),
        };
        Err(shape_error(layer, &what, s))
    }

    /// The spatial output sizes of a forward convolution (Keras's
    /// `compute_conv_output_shape`): an error when a `"valid"` window does not fit.
    pub fn conv_output_spatial(&self, layer: &str, s: &[Option<usize>]) -> Result<Vec<Option<usize>>> {
        (0..N)
            .map(|i| {
                let Some(n) = s[1 + i] else { return Ok(None) };
                let (k, st, d) = (self.kernel_size[i], self.strides[i], self.dilation_rate[i]);
                let span = d * (k - 1) + 1;
                if self.padding == "valid" {
                    if n < span {
                        return Err(Error::InvalidArgument {
                            op: "build",
                            msg: format!(
                                "layer {layer:?}: the output size would be zero or negative for input shape {} (kernel_size={:?}, strides={:?}, dilation_rate={:?}, padding=\"valid\")",
                                fmt_shape(s),
                                self.kernel_size,
                                self.strides,
                                self.dilation_rate
                            ),
                        });
                    }
                    Ok(Some((n - span) / st + 1))
                } else {
                    Ok(Some(n.div_ceil(st)))
                }
            })
            .collect()
    }

    /// The spatial output sizes of a transposed convolution (Keras's
    /// `compute_conv_transpose_output_shape`).
    pub fn transpose_output_spatial(
        &self,
        layer: &str,
        s: &[Option<usize>],
        output_padding: Option<[usize; N]>,
    ) -> Result<Vec<Option<usize>>> {
        (0..N)
            .map(|i| {
                let Some(n) = s[1 + i] else { return Ok(None) };
                let (k, st, d) = (self.kernel_size[i], self.strides[i], self.dilation_rate[i]);
                let span = d * (k - 1) + 1;
                let op = output_padding.map(|o| o[i]);
                let out = match (self.padding.as_str(), op) {
                    ("valid", op) => (n.max(1) - 1) * st + span + op.unwrap_or(span.max(st) - span),
                    (_, None) => n * st,
                    (_, Some(o)) => (n.max(1) - 1) * st + span % 2 + o,
                };
                if n == 0 || out == 0 {
                    return Err(Error::InvalidArgument {
                        op: "build",
                        msg: format!(
                            "layer {layer:?}: the output size would be zero for input shape {}",
                            fmt_shape(s)
                        ),
                    });
                }
                Ok(Some(out))
            })
            .collect()
    }

    /// The tensor-level arguments.
    pub fn conv_args(&self, groups: usize) -> Result<ConvArgs> {
        Ok(ConvArgs::new()
            .strides_per_axis(&self.strides)
            .dilation_per_axis(&self.dilation_rate)
            .groups(groups)
            .padding(Padding::parse(&self.padding)?))
    }

    /// The bias `(n,)` when `use_bias`, with its regularizer and constraint.
    pub fn make_bias(&self, n: usize) -> Result<Option<Variable>> {
        if !self.use_bias {
            return Ok(None);
        }
        make_weight("bias", &self.bias_initializer, &[n], &self.bias_rules).map(Some)
    }

    /// `activation(y + bias)`, adding the activity regularizer's loss of the result.
    pub fn finish(&self, y: Tensor, bias: Option<&Variable>) -> Result<Tensor> {
        self.activity(super::bias_activation(y, bias, self.activation)?)
    }

    /// The activity loss of the finished output `y`, which is returned.
    pub fn activity(&self, y: Tensor) -> Result<Tensor> {
        super::activity_loss(self.activity_regularizer, &y)?;
        Ok(y)
    }
}

/// The plain convolution (`Conv1D`, `Conv2D`: Keras's `BaseConv`): kernel
/// `(k…, in_channels / groups, filters)`, bias `(filters,)`. The layer types wrap it and add
/// their name and `trainable` flag.
pub(crate) struct BaseConv<const N: usize> {
    pub common: ConvCommon<N>,
    pub filters: usize,
    pub groups: usize,
    pub kernel_initializer: Initializer,
    pub kernel_rules: WeightRules,
    pub input_shape: Option<Shape>,
    pub kernel: Option<Variable>,
    pub bias: Option<Variable>,
}

impl<const N: usize> BaseConv<N> {
    /// Keras's defaults around `filters` and `kernel_size`.
    pub fn new(filters: usize, kernel_size: [usize; N]) -> Self {
        BaseConv {
            common: ConvCommon::new(kernel_size),
            filters,
            groups: 1,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            kernel_rules: WeightRules::default(),
            input_shape: None,
            kernel: None,
            bias: None,
        }
    }

    /// Reads a Keras config (all keys but `name` and `trainable`).
    pub fn from_config(c: &Value, class: &'static str, layer: &str) -> Result<Self> {
        // LoRA fine-tuning is not implemented: refuse rather than drop the adapter.
        super::reject_unsupported(c, from_config_op(class), &["lora_rank"])?;
        let mut b = BaseConv::new(field(c, "filters", 0)?, [1; N]);
        b.common = ConvCommon::from_config(c, class, N == 1)?;
        b.groups = field(c, "groups", 1)?;
        b.kernel_initializer = initializer_field(c, "kernel_initializer", b.kernel_initializer)?;
        b.kernel_rules = WeightRules::from_config(c, "kernel")?;
        b.validate(layer)?;
        Ok(b)
    }

    fn validate(&self, layer: &str) -> Result<()> {
        let bad = |msg: String| Error::InvalidArgument {
            op: "build",
            msg: format!("layer {layer:?}: {msg}"),
        };
        if self.filters == 0 {
            return Err(bad("filters must be >= 1".into()));
        }
        if self.groups == 0 || self.filters % self.groups != 0 {
            return Err(bad(format!(
                "filters ({}) must be divisible by groups ({}), and groups >= 1",
                self.filters, self.groups
            )));
        }
        self.common.validate(layer, false)
    }

    /// Keras's `compute_output_shape`.
    pub fn output_shape(&self, layer: &str, s: &[Option<usize>]) -> Result<Shape> {
        self.common.check_rank(layer, s)?;
        self.validate(layer)?;
        let mut out = vec![s[0]];
        out.extend(self.common.conv_output_spatial(layer, s)?);
        out.push(Some(self.filters));
        Ok(out)
    }

    /// Creates kernel and bias for input shape `s`.
    pub fn build(&mut self, layer: &str, s: &[Option<usize>]) -> Result<()> {
        self.output_shape(layer, s)?;
        let cin = input_channels(layer, s)?;
        if cin % self.groups != 0 {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {layer:?}: the {cin} input channels must be divisible by groups = {} (input shape {})",
                    self.groups,
                    fmt_shape(s)
                ),
            });
        }
        let mut shape = self.common.kernel_size.to_vec();
        shape.extend([cin / self.groups, self.filters]);
        self.kernel = Some(make_weight(
            "kernel",
            &self.kernel_initializer,
            &shape,
            &self.kernel_rules,
        )?);
        self.bias = self.common.make_bias(self.filters)?;
        self.input_shape = Some(s.to_vec());
        Ok(())
    }

    /// The kernel and the convolution's arguments, once `x` is checked against the built
    /// shape.
    fn checked(&self, layer: &str, x: &Tensor) -> Result<(Tensor, ConvArgs)> {
        let (Some(k), Some(shape)) = (&self.kernel, &self.input_shape) else {
            return Err(not_built(layer));
        };
        super::check_input(layer, shape, x)?;
        Ok((k.value(), self.common.conv_args(self.groups)?))
    }

    /// `op(conv(x, k) + b)` with the bias and activation on the output tiles.
    fn conv_bias_unary(
        x: &Tensor,
        k: &Tensor,
        args: &ConvArgs,
        b: &Tensor,
        op: Option<UnaryOp>,
    ) -> Result<Tensor> {
        if N == 1 {
            x.conv1d_bias_unary(k, args, b, op)
        } else {
            x.conv2d_bias_unary(k, args, b, op)
        }
    }

    /// The convolution, bias, activation and activity loss.
    pub fn call(&self, layer: &str, x: &Tensor) -> Result<Tensor> {
        let (k, args) = self.checked(layer, x)?;
        // A bias and an activation that fuse ride on the convolution's output tiles.
        if let (Some(b), Some(op)) = (&self.bias, super::fused_activation(self.common.activation)) {
            return self
                .common
                .activity(Self::conv_bias_unary(x, &k, &args, &b.value(), op)?);
        }
        let y = if N == 1 {
            x.conv1d(&k, &args)?
        } else {
            x.conv2d(&k, &args)?
        };
        self.common.finish(y, self.bias.as_ref())
    }

    /// The convolution with `e` folded into its kernel and bias, for [`Layer::call_fused`]
    /// (`None` where [`super::fold_epilogue`] declines).
    ///
    /// [`Layer::call_fused`]: super::Layer::call_fused
    pub fn call_fused(&self, layer: &str, x: &Tensor, e: &Epilogue) -> Result<Option<Tensor>> {
        let (k, args) = self.checked(layer, x)?;
        let c = &self.common;
        let Some((k, b)) =
            super::fold_epilogue(e, c.activation, c.activity_regularizer, x, &k, self.bias.as_ref())?
        else {
            return Ok(None);
        };
        Self::conv_bias_unary(x, &k, &args, &b, e.activation).map(Some)
    }

    /// Kernel then bias.
    pub fn weights(&self) -> Vec<Variable> {
        self.kernel.iter().chain(self.bias.iter()).cloned().collect()
    }

    /// Writes Keras's `BaseConv.get_config` keys.
    pub fn to_config(&self, m: &mut serde_json::Map<String, Value>) {
        self.common.to_config(m);
        m.insert("filters".into(), json!(self.filters));
        m.insert("groups".into(), json!(self.groups));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        self.kernel_rules.to_config(m, "kernel");
    }
}

/// The depthwise convolution of `DepthwiseConv2D` and `SeparableConv2D`: each input
/// channel `c` convolved with its own `depth_multiplier` filters `kernel[.., .., c, :]`
/// (kernel `(kh, kw, channels, depth_multiplier)`), output channel `c * depth_multiplier + m`
/// as in Keras.
pub(crate) fn depthwise_conv2d(x: &Tensor, kernel: &Tensor, common: &ConvCommon<2>) -> Result<Tensor> {
    let &[kh, kw, cin, m] = kernel.shape() else {
        return Err(Error::ShapeMismatch {
            op: "depthwise_conv2d",
            lhs: x.shape().to_vec(),
            rhs: kernel.shape().to_vec(),
        });
    };
    let grouped = kernel.reshape_to(&[kh, kw, 1, cin * m])?;
    x.conv2d(&grouped, &common.conv_args(cin)?)
}

/// `"Conv1D.from_config"` and so on, as a `'static` op name.
pub(crate) fn from_config_op(class: &'static str) -> &'static str {
    match class {
        "Conv1D" => "Conv1D.from_config",
        "Conv2D" => "Conv2D.from_config",
        "Conv2DTranspose" => "Conv2DTranspose.from_config",
        "DepthwiseConv2D" => "DepthwiseConv2D.from_config",
        "SeparableConv2D" => "SeparableConv2D.from_config",
        _ => "from_config",
    }
}

/// A new weight drawn from `init`, with `rules` attached.
pub(crate) fn make_weight(
    name: &str,
    init: &Initializer,
    shape: &[usize],
    rules: &WeightRules,
) -> Result<Variable> {
    Ok(rules.attach(Variable::new(name, init.sample(shape, DType::F32)?, true)))
}

/// Reads an initializer config key, or `default` when absent or `null`.
pub(crate) fn initializer_field(c: &Value, key: &str, default: Initializer) -> Result<Initializer> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => Initializer::from_config(v),
    }
}

/// Reads a Keras int-or-tuple argument (`3` or `[3, 3]`, `N` entries) from a config, or
/// `None` when absent.
pub(crate) fn field_tuple<const N: usize>(c: &Value, key: &str) -> Result<Option<[usize; N]>> {
    let err = |msg: String| Error::InvalidArgument {
        op: "from_config",
        msg: format!("field {key:?}: {msg}"),
    };
    match c.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| Some([n as usize; N]))
            .ok_or_else(|| err(format!("expected a non-negative integer, got {n}"))),
        Some(v) => {
            let list: Vec<usize> = serde_json::from_value(v.clone()).map_err(|e| err(e.to_string()))?;
            <[usize; N]>::try_from(list.as_slice())
                .map(Some)
                .map_err(|_| err(format!("expected an integer or {N} integers, got {v}")))
        }
    }
}

/// The `channels` of a channels-last input shape, which must be known.
pub(crate) fn input_channels(layer: &str, s: &[Option<usize>]) -> Result<usize> {
    match s.last() {
        Some(&Some(c)) if c > 0 => Ok(c),
        _ => Err(shape_error(
            layer,
            "a known, non-zero channel count (last axis)",
            s,
        )),
    }
}

/// Error for `call` before `build`.
pub(crate) fn not_built(layer: &str) -> Error {
    Error::InvalidArgument {
        op: "call",
        msg: format!("layer {layer:?} is not built"),
    }
}

/// A per-axis builder argument: `usize` for 1-D layers, `[usize; N]` for `N`-D ones.
pub(crate) trait PerAxis<const N: usize> {
    fn per_axis(self) -> [usize; N];
}

impl PerAxis<1> for usize {
    fn per_axis(self) -> [usize; 1] {
        [self]
    }
}

impl<const N: usize> PerAxis<N> for [usize; N] {
    fn per_axis(self) -> [usize; N] {
        self
    }
}

/// Builder methods every convolution layer has, writing into its `ConvCommon<N>` field at
/// path `common`: `$tuple` is the argument type of the per-axis options (`usize` for 1-D,
/// `[usize; 2]` for 2-D).
macro_rules! conv_builders {
    ($layer:ident, $class:literal, $tuple:ty, causal: $causal:tt, common: $($common:ident).+) => {
        /// The window size (per spatial axis).
        pub fn kernel_size(mut self, k: $tuple) -> $layer {
            self.$($common).+.kernel_size = $crate::layers::conv_common::PerAxis::per_axis(k);
            self
        }
        /// The strides (per spatial axis).
        pub fn strides(mut self, s: $tuple) -> $layer {
            self.$($common).+.strides = $crate::layers::conv_common::PerAxis::per_axis(s);
            self
        }
        /// The dilation rate (per spatial axis).
        pub fn dilation_rate(mut self, d: $tuple) -> $layer {
            self.$($common).+.dilation_rate = $crate::layers::conv_common::PerAxis::per_axis(d);
            self
        }
        #[doc = concat!("`\"valid\"` or `\"same\"`", $crate::layers::conv_common::causal_doc!($causal), " (case-insensitive, as Keras).")]
        ///
        /// # Errors
        /// For any other value.
        pub fn padding(mut self, p: &str) -> keras_tensor::Result<$layer> {
            self.$($common).+.set_padding($class, p, $causal)?;
            Ok(self)
        }
        /// The activation by Keras name (`"relu"`, …).
        ///
        /// # Errors
        /// For an unknown name.
        pub fn activation(mut self, name: &str) -> keras_tensor::Result<$layer> {
            self.$($common).+.activation = $crate::activations::Activation::get(name)?;
            Ok(self)
        }
        /// With or without bias.
        pub fn use_bias(mut self, b: bool) -> $layer {
            self.$($common).+.use_bias = b;
            self
        }
        /// The bias initializer by Keras name.
        ///
        /// # Errors
        /// For an unknown name.
        pub fn bias_initializer(mut self, name: &str) -> keras_tensor::Result<$layer> {
            self.$($common).+.bias_initializer = $crate::initializers::Initializer::get(name)?;
            Ok(self)
        }
        /// A penalty on the bias, added to the training loss.
        pub fn bias_regularizer(mut self, r: $crate::regularizers::Regularizer) -> $layer {
            self.$($common).+.bias_rules.regularizer = Some(r);
            self
        }
        /// A constraint the optimizer applies to the bias after each update.
        pub fn bias_constraint(mut self, c: $crate::constraints::Constraint) -> $layer {
            self.$($common).+.bias_rules.constraint = Some(c);
            self
        }
        /// A penalty on the layer's output, added to the training loss (divided by the batch
        /// size, as Keras 3 does).
        pub fn activity_regularizer(mut self, r: $crate::regularizers::Regularizer) -> $layer {
            self.$($common).+.activity_regularizer = Some(r);
            self
        }
        /// Sets the layer name.
        pub fn name(mut self, name: &str) -> $layer {
            self.name = name.to_string();
            self
        }
    };
}
pub(crate) use conv_builders;

/// `, or "causal"` in the padding doc of layers that accept it.
macro_rules! causal_doc {
    (true) => {
        ", `\"causal\"`"
    };
    (false) => {
        ""
    };
}
pub(crate) use causal_doc;

/// The initializer / regularizer / constraint builder methods of one weight
/// (`kernel_initializer`, `kernel_regularizer`, `kernel_constraint`, …), writing into the
/// layer's `$init: Initializer` and `$rules: WeightRules` fields.
macro_rules! weight_builders {
    ($layer:ident, $what:literal, $init_fn:ident, $reg_fn:ident, $con_fn:ident, init: $($init:ident).+, rules: $($rules:ident).+) => {
        #[doc = concat!("The ", $what, " initializer by Keras name.")]
        ///
        /// # Errors
        /// For an unknown name.
        pub fn $init_fn(mut self, name: &str) -> keras_tensor::Result<$layer> {
            self.$($init).+ = $crate::initializers::Initializer::get(name)?;
            Ok(self)
        }
        #[doc = concat!("A penalty on the ", $what, ", added to the training loss.")]
        pub fn $reg_fn(mut self, r: $crate::regularizers::Regularizer) -> $layer {
            self.$($rules).+.regularizer = Some(r);
            self
        }
        #[doc = concat!("A constraint the optimizer applies to the ", $what, " after each update.")]
        pub fn $con_fn(mut self, c: $crate::constraints::Constraint) -> $layer {
            self.$($rules).+.constraint = Some(c);
            self
        }
    };
}
pub(crate) use weight_builders;

#[cfg(test)]
pub(crate) mod testing {
    //! Deterministic inputs and weights for comparing a layer with numbers from Keras.
    use crate::layers::Layer;
    use keras_tensor::{DType, Tensor};

    /// `scale * f(a * i + b)` over the flat index `i`, as float32.
    pub(crate) fn pattern(shape: &[usize], a: f64, b: f64, f: fn(f64) -> f64, scale: f64) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|i| (scale * f(a * i as f64 + b)) as f32).collect();
        Tensor::new(&v, shape).unwrap()
    }

    /// Builds `layer` for `x_shape`, sets weight `j` (in Keras's order) to
    /// `0.5 * cos((0.23 + 0.11 j) i + 0.3 j)`, calls it on `sin(0.37 i + 0.1)`, and checks the
    /// output shape, `sum(y)` and `sum(y * sin(1.3 i + 0.7))` against Keras's numbers
    /// (computed by the same recipe in Python).
    pub(crate) fn check_against_keras(
        mut layer: Box<dyn Layer>,
        x_shape: &[usize],
        shape: &[usize],
        sum: f64,
        probe: f64,
    ) {
        let mut s: Vec<Option<usize>> = vec![None];
        s.extend(x_shape[1..].iter().map(|&d| Some(d)));
        layer.build(&s).unwrap();
        for (j, w) in layer.weights().iter().enumerate() {
            let j = j as f64;
            w.assign(&pattern(&w.shape(), 0.23 + 0.11 * j, 0.3 * j, f64::cos, 0.5))
                .unwrap();
        }
        let x = pattern(x_shape, 0.37, 0.1, f64::sin, 1.0);
        let y = layer.call(&x, false).unwrap();
        assert_eq!(y.shape(), shape, "{} output shape", layer.name());
        let y = y.cast(DType::F64).unwrap();
        let p = pattern(shape, 1.3, 0.7, f64::sin, 1.0).cast(DType::F64).unwrap();
        let got_sum = y.sum_all().unwrap().item().unwrap();
        let got_probe = y.mul(&p).unwrap().sum_all().unwrap().item().unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * (1.0 + b.abs());
        assert!(
            close(got_sum, sum) && close(got_probe, probe),
            "{}: sum {got_sum} (Keras {sum}), probe {got_probe} (Keras {probe})",
            layer.name()
        );
    }
}
