//! `Conv2DTranspose`: the transposed 2-D convolution (upsampling by a learned kernel).

use super::conv_common::{
    conv_builders, initializer_field, input_channels, make_weight, not_built, weight_builders, ConvCommon,
};
use super::{base_config, config_name, field, unique_name, Layer, Shape, WeightRules};
use crate::initializers::Initializer;
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// A transposed 2-D convolution, as `keras.layers.Conv2DTranspose` (channels-last): the
/// gradient of a `Conv2D` with respect to its input, used to upsample.
///
/// Input `(batch, h, w, in_channels)`, kernel `(kh, kw, filters, in_channels)` (Keras's
/// layout: output channels before input channels), bias `(filters,)`. The output size
/// follows Keras: with `"same"` padding `h * stride`, with `"valid"`
/// `(h - 1) * stride + max(kernel, stride)` (dilated kernel); `output_padding` (each entry
/// below its stride) sets the extra cells explicitly.
///
/// ```
/// use keras::layers::{Conv2DTranspose, Layer};
/// let mut up = Conv2DTranspose::new(16, 3).strides([2, 2]).padding("same")?;
/// let input = [None, Some(7), Some(7), Some(32)];
/// up.build(&input)?;
/// assert_eq!(up.compute_output_shape(&input)?, vec![None, Some(14), Some(14), Some(16)]);
/// assert_eq!(up.kernel().unwrap().shape(), vec![3, 3, 16, 32]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Conv2DTranspose {
    name: String,
    trainable: bool,
    common: ConvCommon<2>,
    filters: usize,
    output_padding: Option<[usize; 2]>,
    kernel_initializer: Initializer,
    kernel_rules: WeightRules,
    input_shape: Option<Shape>,
    kernel: Option<Variable>,
    bias: Option<Variable>,
}

impl Conv2DTranspose {
    /// `filters` output channels with a square `kernel_size` window; stride 1, `"valid"`,
    /// no output padding, linear, `glorot_uniform` kernel, zero bias.
    pub fn new(filters: usize, kernel_size: usize) -> Conv2DTranspose {
        Conv2DTranspose {
            name: unique_name("conv2d_transpose"),
            trainable: true,
            common: ConvCommon::new([kernel_size; 2]),
            filters,
            output_padding: None,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            kernel_rules: WeightRules::default(),
            input_shape: None,
            kernel: None,
            bias: None,
        }
    }

    conv_builders!(
        Conv2DTranspose,
        "Conv2DTranspose",
        [usize; 2],
        causal: false,
        common: common
    );
    weight_builders!(
        Conv2DTranspose,
        "kernel",
        kernel_initializer,
        kernel_regularizer,
        kernel_constraint,
        init: kernel_initializer,
        rules: kernel_rules
    );

    /// Extra cells added at the end of each spatial axis of the output (each must be smaller
    /// than its stride); `None` (the default) lets Keras's rule decide.
    pub fn output_padding(mut self, p: Option<[usize; 2]>) -> Conv2DTranspose {
        self.output_padding = p;
        self
    }

    /// The kernel `(kh, kw, filters, in_channels)`, once built.
    pub fn kernel(&self) -> Option<&Variable> {
        self.kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }

    fn validate(&self) -> Result<()> {
        let bad = |msg: String| Error::InvalidArgument {
            op: "build",
            msg: format!("layer {:?}: {msg}", self.name),
        };
        if self.filters == 0 {
            return Err(bad("filters must be >= 1".into()));
        }
        self.common.validate(&self.name, false)?;
        if let Some(op) = self.output_padding {
            if op.iter().zip(self.common.strides).any(|(&o, s)| o >= s) {
                return Err(bad(format!(
                    "output_padding must be strictly less than strides on every axis, got output_padding={op:?}, strides={:?}",
                    self.common.strides
                )));
            }
        }
        Ok(())
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For missing `filters` or `kernel_size`, invalid values, unknown names, or
    /// `data_format="channels_first"` (only channels-last is implemented).
    pub fn from_config(c: &Value) -> Result<Conv2DTranspose> {
        let mut l = Conv2DTranspose::new(field(c, "filters", 0)?, 1);
        l.name = config_name(c, "conv2d_transpose")?;
        l.trainable = field(c, "trainable", true)?;
        l.common = ConvCommon::from_config(c, "Conv2DTranspose", false)?;
        l.output_padding = super::conv_common::field_tuple(c, "output_padding")?;
        l.kernel_initializer = initializer_field(c, "kernel_initializer", l.kernel_initializer)?;
        l.kernel_rules = WeightRules::from_config(c, "kernel")?;
        l.validate()?;
        Ok(l)
    }
}

impl Layer for Conv2DTranspose {
    super::layer_common!("Conv2DTranspose");
    fn built(&self) -> bool {
        self.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape)?;
        let cin = input_channels(&self.name, input_shape)?;
        let [kh, kw] = self.common.kernel_size;
        self.kernel = Some(make_weight(
            "kernel",
            &self.kernel_initializer,
            &[kh, kw, self.filters, cin],
            &self.kernel_rules,
        )?);
        self.bias = self.common.make_bias(self.filters)?;
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        self.common.check_rank(&self.name, s)?;
        self.validate()?;
        let mut out = vec![s[0]];
        out.extend(
            self.common
                .transpose_output_spatial(&self.name, s, self.output_padding)?,
        );
        out.push(Some(self.filters));
        Ok(out)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (Some(k), Some(shape)) = (&self.kernel, &self.input_shape) else {
            return Err(not_built(&self.name));
        };
        super::check_input(&self.name, shape, x)?;
        let op = self.output_padding;
        let y = x.conv_transpose2d(
            &k.value(),
            &self.common.conv_args(1)?,
            op.as_ref().map(|o| &o[..]),
        )?;
        self.common.finish(y, self.bias.as_ref())
    }
    fn weights(&self) -> Vec<Variable> {
        self.kernel.iter().chain(self.bias.iter()).cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        self.common.to_config(&mut m);
        m.insert("filters".into(), json!(self.filters));
        m.insert("output_padding".into(), json!(self.output_padding));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        self.kernel_rules.to_config(&mut m, "kernel");
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::Constraint;
    use crate::layers::conv_common::testing::check_against_keras;
    use crate::layers::testing::run_layer_test;
    use crate::regularizers::Regularizer;
    use keras_tensor::testing::{check_grad, randn};
    use keras_tensor::{ConvArgs, DType, Device, Padding};

    #[test]
    fn conv2d_transpose_passes_the_layer_harness() {
        run_layer_test(Box::new(Conv2DTranspose::new(4, 3)), &[3, 4, 2], 2);
        run_layer_test(
            Box::new(
                Conv2DTranspose::new(3, 3)
                    .strides([2, 2])
                    .padding("same")
                    .unwrap()
                    .activation("relu")
                    .unwrap(),
            ),
            &[3, 4, 2],
            2,
        );
        run_layer_test(
            Box::new(
                Conv2DTranspose::new(2, 2)
                    .strides([3, 2])
                    .output_padding(Some([2, 1]))
                    .use_bias(false)
                    .kernel_regularizer(Regularizer::L2(0.1))
                    .kernel_constraint(Constraint::NonNeg),
            ),
            &[3, 4, 2],
            1,
        );
    }

    #[test]
    fn output_shapes_match_keras() {
        // keras.layers.Conv2DTranspose(2, k, strides=s, padding=p, dilation_rate=d,
        //     output_padding=op).compute_output_shape((None, 4, 5, 3))
        type Case = (
            [usize; 2],
            [usize; 2],
            &'static str,
            usize,
            Option<[usize; 2]>,
            [usize; 2],
        );
        let cases: [Case; 10] = [
            ([3, 3], [1, 1], "valid", 1, None, [6, 7]),
            ([3, 3], [2, 2], "valid", 1, None, [9, 11]),
            ([2, 2], [3, 3], "valid", 1, None, [12, 15]),
            ([3, 3], [2, 2], "same", 1, None, [8, 10]),
            ([4, 4], [2, 2], "same", 1, None, [8, 10]),
            ([3, 2], [2, 3], "same", 1, Some([1, 2]), [8, 14]),
            ([3, 3], [2, 2], "valid", 1, Some([1, 0]), [10, 11]),
            ([3, 3], [1, 1], "same", 2, None, [4, 5]),
            ([3, 3], [1, 1], "valid", 2, None, [8, 9]),
            ([4, 3], [3, 2], "same", 1, Some([0, 1]), [9, 10]),
        ];
        for (k, s, p, d, op, out) in cases {
            let mut c = Conv2DTranspose::new(2, 1)
                .kernel_size(k)
                .strides(s)
                .padding(p)
                .unwrap()
                .dilation_rate([d, d])
                .output_padding(op);
            let input = [None, Some(4), Some(5), Some(3)];
            let want = vec![None, Some(out[0]), Some(out[1]), Some(2)];
            assert_eq!(
                c.compute_output_shape(&input).unwrap(),
                want,
                "{k:?} {s:?} {p} {d} {op:?}"
            );
            // The tensor op agrees with the shape rule.
            c.build(&input).unwrap();
            let x = Tensor::ones(&[1, 4, 5, 3], DType::F32, &Device::Cpu).unwrap();
            assert_eq!(c.call(&x, false).unwrap().shape(), &[1, out[0], out[1], 2]);
        }
    }

    #[test]
    fn numbers_match_keras() {
        let x = [1, 3, 4, 2];
        // keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same")
        let c = Conv2DTranspose::new(3, 3)
            .strides([2, 2])
            .padding("same")
            .unwrap();
        check_against_keras(Box::new(c), &x, &[1, 6, 8, 3], 62.189698, 0.776194);
        // keras.layers.Conv2DTranspose(3, (3, 2), strides=2, output_padding=(1, 0))
        let c = Conv2DTranspose::new(3, 1)
            .kernel_size([3, 2])
            .strides([2, 2])
            .output_padding(Some([1, 0]));
        check_against_keras(Box::new(c), &x, &[1, 8, 8, 3], 79.706669, -0.331786);
        // keras.layers.Conv2DTranspose(2, 3, dilation_rate=2, padding="same")
        let c = Conv2DTranspose::new(2, 3)
            .dilation_rate([2, 2])
            .padding("same")
            .unwrap();
        check_against_keras(Box::new(c), &x, &[1, 3, 4, 2], 16.227256, -0.563258);
        // keras.layers.Conv2DTranspose(2, (4, 3), strides=(3, 2), padding="same",
        //     output_padding=(0, 1))
        let c = Conv2DTranspose::new(2, 1)
            .kernel_size([4, 3])
            .strides([3, 2])
            .padding("same")
            .unwrap()
            .output_padding(Some([0, 1]));
        check_against_keras(Box::new(c), &x, &[1, 6, 8, 2], 42.405693, 0.843217);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let args = ConvArgs::new().strides_per_axis(&[2, 3]).padding(Padding::Same);
        check_grad(
            "conv2d_transpose_layer",
            &[
                &randn(&[2, 3, 2, 2], 1),
                &randn(&[3, 2, 3, 2], 2),
                &randn(&[3], 3),
            ],
            |t| t[0].conv_transpose2d(&t[1], &args, Some(&[1, 0]))?.add(&t[2]),
        );
    }

    #[test]
    fn config_matches_keras_and_round_trips() {
        // keras.layers.Conv2DTranspose(4, 3).get_config()
        let keras = serde_json::json!({"name": "conv2d_transpose", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "output_padding": null, "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null});
        let l = Conv2DTranspose::from_config(&keras).unwrap();
        let mut ours = l.get_config();
        let mut theirs = keras.clone();
        // Initializer configs are compared by their class (seeds and extras are Keras's own).
        for v in [&mut ours, &mut theirs] {
            v.as_object_mut().unwrap().remove("kernel_initializer");
        }
        assert_eq!(ours, theirs);
        let cfg = Conv2DTranspose::new(2, 3)
            .output_padding(Some([1, 0]))
            .strides([2, 2])
            .get_config();
        assert_eq!(cfg["output_padding"], serde_json::json!([1, 0]));
        let again = Conv2DTranspose::from_config(&cfg).unwrap();
        assert_eq!(again.get_config(), cfg);
    }

    #[test]
    fn invalid_arguments_are_rejected_like_keras() {
        let c = Conv2DTranspose::new(2, 3)
            .strides([2, 2])
            .output_padding(Some([2, 0]));
        let e = c
            .compute_output_shape(&[None, Some(4), Some(4), Some(1)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("output_padding"), "{e}");
        let c = Conv2DTranspose::new(2, 3).strides([2, 2]).dilation_rate([2, 2]);
        assert!(c
            .compute_output_shape(&[None, Some(4), Some(4), Some(1)])
            .is_err());
        assert!(Conv2DTranspose::new(2, 3).padding("causal").is_err());
        let mut c = Conv2DTranspose::new(2, 3).name("up");
        let e = c.build(&[None, Some(4), Some(4)]).unwrap_err().to_string();
        assert!(e.contains("up") && e.contains("(None, 4, 4)"), "{e}");
        c.build(&[None, Some(4), Some(4), Some(3)]).unwrap();
        let x = Tensor::zeros(&[1, 4, 4, 2], DType::F32, &Device::Cpu).unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("up") && e.contains("[1, 4, 4, 2]") && e.contains("(None, 4, 4, 3)"),
            "{e}"
        );
    }
}
