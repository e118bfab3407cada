//! `DepthwiseConv2D`: a 2-D convolution applied to each input channel separately.

use super::conv_common::{
    conv_builders, depthwise_conv2d, initializer_field, input_channels, make_weight, not_built,
    weight_builders, ConvCommon,
};
use super::{base_config, config_name, field, unique_name, Layer, Shape, WeightRules};
use crate::initializers::Initializer;
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// A depthwise 2-D convolution, as `keras.layers.DepthwiseConv2D` (channels-last): every
/// input channel is convolved with its own `depth_multiplier` filters, with no mixing
/// between channels.
///
/// Input `(batch, h, w, channels)`, output `(batch, h', w', channels * depth_multiplier)`
/// with output channel `c * depth_multiplier + m` from input channel `c`. Weights in
/// Keras's order and names: `kernel` `(kh, kw, channels, depth_multiplier)` (Keras's
/// `depthwise_initializer` / `_regularizer` / `_constraint` apply to it), then `bias`
/// `(channels * depth_multiplier,)`.
///
/// ```
/// use keras::layers::{DepthwiseConv2D, Layer};
/// let mut dw = DepthwiseConv2D::new(3).depth_multiplier(2).padding("same")?;
/// let input = [None, Some(8), Some(8), Some(3)];
/// dw.build(&input)?;
/// assert_eq!(dw.compute_output_shape(&input)?, vec![None, Some(8), Some(8), Some(6)]);
/// assert_eq!(dw.count_params(), 3 * 3 * 3 * 2 + 6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct DepthwiseConv2D {
    name: String,
    trainable: bool,
    common: ConvCommon<2>,
    depth_multiplier: usize,
    depthwise_initializer: Initializer,
    depthwise_rules: WeightRules,
    input_shape: Option<Shape>,
    kernel: Option<Variable>,
    bias: Option<Variable>,
}

impl DepthwiseConv2D {
    /// A square `kernel_size` window, depth multiplier 1, stride 1, `"valid"`, linear,
    /// `glorot_uniform` kernel, zero bias.
    pub fn new(kernel_size: usize) -> DepthwiseConv2D {
        DepthwiseConv2D {
            name: unique_name("depthwise_conv2d"),
            trainable: true,
            common: ConvCommon::new([kernel_size; 2]),
            depth_multiplier: 1,
            depthwise_initializer: Initializer::get("glorot_uniform").expect("known name"),
            depthwise_rules: WeightRules::default(),
            input_shape: None,
            kernel: None,
            bias: None,
        }
    }

    conv_builders!(
        DepthwiseConv2D,
        "DepthwiseConv2D",
        [usize; 2],
        causal: false,
        common: common
    );
    weight_builders!(
        DepthwiseConv2D,
        "depthwise kernel",
        depthwise_initializer,
        depthwise_regularizer,
        depthwise_constraint,
        init: depthwise_initializer,
        rules: depthwise_rules
    );

    /// Output channels per input channel.
    pub fn depth_multiplier(mut self, m: usize) -> DepthwiseConv2D {
        self.depth_multiplier = m;
        self
    }

    /// The depthwise kernel `(kh, kw, channels, depth_multiplier)`, once built.
    pub fn kernel(&self) -> Option<&Variable> {
        self.kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }

    fn validate(&self) -> Result<()> {
        if self.depth_multiplier == 0 {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!("layer {:?}: depth_multiplier must be >= 1", self.name),
            });
        }
        self.common.validate(&self.name, true)
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a missing `kernel_size`, invalid values, unknown names, or
    /// `data_format="channels_first"` (only channels-last is implemented).
    pub fn from_config(c: &Value) -> Result<DepthwiseConv2D> {
        let mut l = DepthwiseConv2D::new(1);
        l.name = config_name(c, "depthwise_conv2d")?;
        l.trainable = field(c, "trainable", true)?;
        l.common = ConvCommon::from_config(c, "DepthwiseConv2D", false)?;
        l.depth_multiplier = field(c, "depth_multiplier", 1)?;
        l.depthwise_initializer = initializer_field(c, "depthwise_initializer", l.depthwise_initializer)?;
        l.depthwise_rules = WeightRules::from_config(c, "depthwise")?;
        l.validate()?;
        Ok(l)
    }
}

impl Layer for DepthwiseConv2D {
    super::layer_common!("DepthwiseConv2D");
    fn built(&self) -> bool {
        self.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape)?;
        let cin = input_channels(&self.name, input_shape)?;
        let [kh, kw] = self.common.kernel_size;
        let m = self.depth_multiplier;
        self.kernel = Some(make_weight(
            "kernel",
            &self.depthwise_initializer,
            &[kh, kw, cin, m],
            &self.depthwise_rules,
        )?);
        self.bias = self.common.make_bias(cin * m)?;
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        self.common.check_rank(&self.name, s)?;
        self.validate()?;
        let mut out = vec![s[0]];
        out.extend(self.common.conv_output_spatial(&self.name, s)?);
        out.push(s[3].map(|c| c * self.depth_multiplier));
        Ok(out)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (Some(k), Some(shape)) = (&self.kernel, &self.input_shape) else {
            return Err(not_built(&self.name));
        };
        super::check_input(&self.name, shape, x)?;
        let y = depthwise_conv2d(x, &k.value(), &self.common)?;
        self.common.finish(y, self.bias.as_ref())
    }
    fn weights(&self) -> Vec<Variable> {
        self.kernel.iter().chain(self.bias.iter()).cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        self.common.to_config(&mut m);
        m.insert("depth_multiplier".into(), json!(self.depth_multiplier));
        m.insert(
            "depthwise_initializer".into(),
            self.depthwise_initializer.get_config(),
        );
        self.depthwise_rules.to_config(&mut m, "depthwise");
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::conv_common::testing::check_against_keras;
    use crate::layers::testing::run_layer_test;
    use crate::regularizers::Regularizer;
    use keras_tensor::testing::{check_grad, randn};
    use keras_tensor::{DType, Device};

    #[test]
    fn depthwise_conv2d_passes_the_layer_harness() {
        run_layer_test(Box::new(DepthwiseConv2D::new(3)), &[6, 5, 2], 2);
        run_layer_test(
            Box::new(
                DepthwiseConv2D::new(3)
                    .depth_multiplier(3)
                    .strides([2, 1])
                    .padding("same")
                    .unwrap()
                    .activation("relu")
                    .unwrap(),
            ),
            &[6, 5, 2],
            2,
        );
        run_layer_test(
            Box::new(
                DepthwiseConv2D::new(2)
                    .use_bias(false)
                    .dilation_rate([2, 2])
                    .depthwise_regularizer(Regularizer::L2(0.1)),
            ),
            &[6, 5, 2],
            1,
        );
    }

    #[test]
    fn output_shapes_match_keras() {
        // keras.layers.DepthwiseConv2D(k, strides=s, padding=p, dilation_rate=d,
        //     depth_multiplier=m).compute_output_shape((None, 9, 8, 3))
        type Case = ([usize; 2], [usize; 2], &'static str, usize, usize, [usize; 3]);
        let cases: [Case; 5] = [
            ([3, 3], [1, 1], "valid", 1, 1, [7, 6, 3]),
            ([3, 3], [2, 2], "same", 1, 2, [5, 4, 6]),
            ([2, 3], [2, 1], "valid", 1, 3, [4, 6, 9]),
            ([3, 3], [1, 1], "same", 2, 1, [9, 8, 3]),
            ([3, 3], [2, 2], "valid", 2, 1, [3, 2, 3]),
        ];
        for (k, s, p, d, m, out) in cases {
            let c = DepthwiseConv2D::new(1)
                .kernel_size(k)
                .strides(s)
                .padding(p)
                .unwrap()
                .dilation_rate([d, d])
                .depth_multiplier(m);
            let got = c
                .compute_output_shape(&[None, Some(9), Some(8), Some(3)])
                .unwrap();
            let want = vec![None, Some(out[0]), Some(out[1]), Some(out[2])];
            assert_eq!(got, want, "{k:?} {s:?} {p} {d} {m}");
        }
    }

    #[test]
    fn numbers_match_keras() {
        // keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)
        let c = DepthwiseConv2D::new(3)
            .strides([2, 2])
            .padding("same")
            .unwrap()
            .depth_multiplier(2);
        check_against_keras(Box::new(c), &[1, 5, 6, 3], &[1, 3, 3, 6], 9.162371, 0.516283);
        // keras.layers.DepthwiseConv2D(2, strides=2, dilation_rate=2)
        let c = DepthwiseConv2D::new(2).strides([2, 2]).dilation_rate([2, 2]);
        check_against_keras(Box::new(c), &[1, 7, 6, 3], &[1, 3, 2, 3], 9.115988, -1.235345);
    }

    #[test]
    fn channels_do_not_mix() {
        let mut c = DepthwiseConv2D::new(1).depth_multiplier(2).use_bias(false);
        c.build(&[None, Some(1), Some(1), Some(2)]).unwrap();
        c.kernel()
            .unwrap()
            .assign(&Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap())
            .unwrap();
        let x = Tensor::new(&[10.0f32, 100.0], &[1, 1, 1, 2]).unwrap();
        // Output channel c * 2 + m = x[c] * kernel[c, m].
        let y = c.call(&x, false).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(y, vec![10.0, 20.0, 300.0, 400.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let common = ConvCommon::<2> {
            strides: [2, 1],
            padding: "same".into(),
            ..ConvCommon::new([3, 2])
        };
        check_grad(
            "depthwise_conv2d_layer",
            &[&randn(&[2, 5, 4, 3], 1), &randn(&[3, 2, 3, 2], 2)],
            |t| depthwise_conv2d(&t[0], &t[1], &common),
        );
    }

    #[test]
    fn config_matches_keras_and_round_trips() {
        // keras.layers.DepthwiseConv2D(3).get_config(), without the initializers.
        let keras = serde_json::json!({"name": "depthwise_conv2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "depth_multiplier": 1, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": true, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "depthwise_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "depthwise_constraint": null, "bias_constraint": null});
        let mut ours = DepthwiseConv2D::from_config(&keras).unwrap().get_config();
        assert_eq!(ours["depthwise_initializer"]["class_name"], "GlorotUniform");
        ours.as_object_mut().unwrap().remove("depthwise_initializer");
        assert_eq!(ours, keras);
        let cfg = DepthwiseConv2D::new(3)
            .depthwise_regularizer(Regularizer::L1(0.2))
            .depthwise_constraint(crate::constraints::Constraint::NonNeg)
            .get_config();
        assert_eq!(cfg["depthwise_regularizer"]["class_name"], "L1");
        let mut again = DepthwiseConv2D::from_config(&cfg).unwrap();
        assert_eq!(again.get_config(), cfg);
        again.build(&[None, Some(4), Some(4), Some(2)]).unwrap();
        let k = again.kernel().unwrap();
        assert_eq!(k.name(), "kernel");
        assert_eq!(k.regularizer(), Some(Regularizer::L1(0.2)));
        assert_eq!(k.constraint(), Some(crate::constraints::Constraint::NonNeg));
    }

    #[test]
    fn bad_shapes_name_the_layer() {
        let mut c = DepthwiseConv2D::new(3).name("dw");
        let e = c.build(&[None, Some(6), Some(6)]).unwrap_err().to_string();
        assert!(e.contains("dw") && e.contains("(None, 6, 6)"), "{e}");
        let e = c
            .build(&[None, Some(2), Some(6), Some(1)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("dw") && e.contains("(None, 2, 6, 1)"), "{e}");
        c.build(&[None, Some(6), Some(6), Some(3)]).unwrap();
        let x = Tensor::zeros(&[1, 6, 6, 2], DType::F32, &Device::Cpu).unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("dw") && e.contains("[1, 6, 6, 2]"), "{e}");
    }
}
