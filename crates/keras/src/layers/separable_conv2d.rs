//! `SeparableConv2D`: a depthwise convolution followed by a 1×1 (pointwise) convolution.

use super::conv_common::{
    conv_builders, depthwise_conv2d, initializer_field, input_channels, make_weight, not_built,
    weight_builders, ConvCommon,
};
use super::{base_config, config_name, field, unique_name, Layer, Shape, WeightRules};
use crate::initializers::Initializer;
use crate::Variable;
use keras_tensor::{ConvArgs, Error, Result, Tensor};
use serde_json::{json, Value};

/// A depthwise-separable 2-D convolution, as `keras.layers.SeparableConv2D`
/// (channels-last): a [`DepthwiseConv2D`](super::DepthwiseConv2D)-style convolution of
/// each channel (with `strides`, `padding`, `dilation_rate`), then a 1×1 convolution mixing
/// the `channels * depth_multiplier` results into `filters` outputs, then bias and
/// activation.
///
/// Weights in Keras's order: `depthwise_kernel` `(kh, kw, channels, depth_multiplier)`,
/// `pointwise_kernel` `(1, 1, channels * depth_multiplier, filters)`, `bias` `(filters,)`.
///
/// ```
/// use keras::layers::{Layer, SeparableConv2D};
/// let mut sep = SeparableConv2D::new(16, 3).padding("same")?.activation("relu")?;
/// let input = [None, Some(32), Some(32), Some(8)];
/// sep.build(&input)?;
/// assert_eq!(sep.compute_output_shape(&input)?, vec![None, Some(32), Some(32), Some(16)]);
/// assert_eq!(sep.count_params(), 3 * 3 * 8 + 8 * 16 + 16);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct SeparableConv2D {
    name: String,
    trainable: bool,
    common: ConvCommon<2>,
    filters: usize,
    depth_multiplier: usize,
    depthwise_initializer: Initializer,
    pointwise_initializer: Initializer,
    depthwise_rules: WeightRules,
    pointwise_rules: WeightRules,
    input_shape: Option<Shape>,
    depthwise_kernel: Option<Variable>,
    pointwise_kernel: Option<Variable>,
    bias: Option<Variable>,
}

impl SeparableConv2D {
    /// `filters` output channels with a square `kernel_size` depthwise window; depth
    /// multiplier 1, stride 1, `"valid"`, linear, `glorot_uniform` kernels, zero bias.
    pub fn new(filters: usize, kernel_size: usize) -> SeparableConv2D {
        let glorot = Initializer::get("glorot_uniform").expect("known name");
        SeparableConv2D {
            name: unique_name("separable_conv2d"),
            trainable: true,
            common: ConvCommon::new([kernel_size; 2]),
            filters,
            depth_multiplier: 1,
            depthwise_initializer: glorot.clone(),
            pointwise_initializer: glorot,
            depthwise_rules: WeightRules::default(),
            pointwise_rules: WeightRules::default(),
            input_shape: None,
            depthwise_kernel: None,
            pointwise_kernel: None,
            bias: None,
        }
    }

    conv_builders!(
        SeparableConv2D,
        "SeparableConv2D",
        [usize; 2],
        causal: false,
        common: common
    );
    weight_builders!(
        SeparableConv2D,
        "depthwise kernel",
        depthwise_initializer,
        depthwise_regularizer,
        depthwise_constraint,
        init: depthwise_initializer,
        rules: depthwise_rules
    );
    weight_builders!(
        SeparableConv2D,
        "pointwise kernel",
        pointwise_initializer,
        pointwise_regularizer,
        pointwise_constraint,
        init: pointwise_initializer,
        rules: pointwise_rules
    );

    /// Depthwise output channels per input channel.
    pub fn depth_multiplier(mut self, m: usize) -> SeparableConv2D {
        self.depth_multiplier = m;
        self
    }

    /// The depthwise kernel `(kh, kw, channels, depth_multiplier)`, once built.
    pub fn depthwise_kernel(&self) -> Option<&Variable> {
        self.depthwise_kernel.as_ref()
    }

    /// The pointwise kernel `(1, 1, channels * depth_multiplier, filters)`, once built.
    pub fn pointwise_kernel(&self) -> Option<&Variable> {
        self.pointwise_kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }

    fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Error::InvalidArgument {
            op: "build",
            msg: format!("layer {:?}: {msg}", self.name),
        };
        if self.filters == 0 {
            return Err(bad("filters must be >= 1"));
        }
        if self.depth_multiplier == 0 {
            return Err(bad("depth_multiplier must be >= 1"));
        }
        self.common.validate(&self.name, true)
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For missing `filters` or `kernel_size`, invalid values, unknown names, or
    /// `data_format="channels_first"` (only channels-last is implemented).
    pub fn from_config(c: &Value) -> Result<SeparableConv2D> {
        let mut l = SeparableConv2D::new(field(c, "filters", 0)?, 1);
        l.name = config_name(c, "separable_conv2d")?;
        l.trainable = field(c, "trainable", true)?;
        l.common = ConvCommon::from_config(c, "SeparableConv2D", false)?;
        l.depth_multiplier = field(c, "depth_multiplier", 1)?;
        l.depthwise_initializer = initializer_field(c, "depthwise_initializer", l.depthwise_initializer)?;
        l.pointwise_initializer = initializer_field(c, "pointwise_initializer", l.pointwise_initializer)?;
        l.depthwise_rules = WeightRules::from_config(c, "depthwise")?;
        l.pointwise_rules = WeightRules::from_config(c, "pointwise")?;
        l.validate()?;
        Ok(l)
    }
}

impl Layer for SeparableConv2D {
    super::layer_common!("SeparableConv2D");
    fn built(&self) -> bool {
        self.depthwise_kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape)?;
        let cin = input_channels(&self.name, input_shape)?;
        let [kh, kw] = self.common.kernel_size;
        let m = self.depth_multiplier;
        self.depthwise_kernel = Some(make_weight(
            "depthwise_kernel",
            &self.depthwise_initializer,
            &[kh, kw, cin, m],
            &self.depthwise_rules,
        )?);
        self.pointwise_kernel = Some(make_weight(
            "pointwise_kernel",
            &self.pointwise_initializer,
            &[1, 1, cin * m, self.filters],
            &self.pointwise_rules,
        )?);
        self.bias = self.common.make_bias(self.filters)?;
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        self.common.check_rank(&self.name, s)?;
        self.validate()?;
        let mut out = vec![s[0]];
        out.extend(self.common.conv_output_spatial(&self.name, s)?);
        out.push(Some(self.filters));
        Ok(out)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let (Some(dk), Some(pk), Some(shape)) =
            (&self.depthwise_kernel, &self.pointwise_kernel, &self.input_shape)
        else {
            return Err(not_built(&self.name));
        };
        super::check_input(&self.name, shape, x)?;
        let y = depthwise_conv2d(x, &dk.value(), &self.common)?.conv2d(&pk.value(), &ConvArgs::new())?;
        self.common.finish(y, self.bias.as_ref())
    }
    fn weights(&self) -> Vec<Variable> {
        self.depthwise_kernel
            .iter()
            .chain(self.pointwise_kernel.iter())
            .chain(self.bias.iter())
            .cloned()
            .collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        self.common.to_config(&mut m);
        m.insert("filters".into(), json!(self.filters));
        m.insert("depth_multiplier".into(), json!(self.depth_multiplier));
        m.insert(
            "depthwise_initializer".into(),
            self.depthwise_initializer.get_config(),
        );
        m.insert(
            "pointwise_initializer".into(),
            self.pointwise_initializer.get_config(),
        );
        self.depthwise_rules.to_config(&mut m, "depthwise");
        self.pointwise_rules.to_config(&mut m, "pointwise");
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
    use keras_tensor::{DType, Device};

    #[test]
    fn separable_conv2d_passes_the_layer_harness() {
        run_layer_test(Box::new(SeparableConv2D::new(4, 3)), &[6, 5, 2], 3);
        run_layer_test(
            Box::new(
                SeparableConv2D::new(3, 3)
                    .depth_multiplier(2)
                    .strides([2, 2])
                    .padding("same")
                    .unwrap()
                    .activation("relu")
                    .unwrap(),
            ),
            &[6, 5, 2],
            3,
        );
        run_layer_test(
            Box::new(
                SeparableConv2D::new(2, 2)
                    .use_bias(false)
                    .dilation_rate([1, 2])
                    .pointwise_regularizer(Regularizer::L2(0.1))
                    .activity_regularizer(Regularizer::L1(0.1)),
            ),
            &[6, 5, 2],
            2,
        );
    }

    #[test]
    fn output_shapes_match_keras() {
        // keras.layers.SeparableConv2D(5, k, strides=s, padding=p, dilation_rate=d,
        //     depth_multiplier=m).compute_output_shape((None, 9, 8, 3))
        type Case = ([usize; 2], [usize; 2], &'static str, usize, usize, [usize; 2]);
        let cases: [Case; 5] = [
            ([3, 3], [1, 1], "valid", 1, 1, [7, 6]),
            ([3, 3], [2, 2], "same", 1, 2, [5, 4]),
            ([2, 3], [2, 1], "valid", 1, 3, [4, 6]),
            ([3, 3], [1, 1], "same", 2, 1, [9, 8]),
            ([3, 3], [2, 2], "valid", 2, 1, [3, 2]),
        ];
        for (k, s, p, d, m, out) in cases {
            let c = SeparableConv2D::new(5, 1)
                .kernel_size(k)
                .strides(s)
                .padding(p)
                .unwrap()
                .dilation_rate([d, d])
                .depth_multiplier(m);
            let got = c
                .compute_output_shape(&[None, Some(9), Some(8), Some(3)])
                .unwrap();
            assert_eq!(
                got,
                vec![None, Some(out[0]), Some(out[1]), Some(5)],
                "{k:?} {s:?} {p} {d} {m}"
            );
        }
    }

    #[test]
    fn numbers_match_keras() {
        // keras.layers.SeparableConv2D(4, (3, 2), dilation_rate=(2, 1), depth_multiplier=2)
        let c = SeparableConv2D::new(4, 1)
            .kernel_size([3, 2])
            .dilation_rate([2, 1])
            .depth_multiplier(2);
        check_against_keras(Box::new(c), &[1, 6, 5, 3], &[1, 2, 4, 4], 4.102018, 1.050295);
        // keras.layers.SeparableConv2D(2, 3, strides=2, padding="same", activation="tanh")
        let c = SeparableConv2D::new(2, 3)
            .strides([2, 2])
            .padding("same")
            .unwrap()
            .activation("tanh")
            .unwrap();
        check_against_keras(Box::new(c), &[2, 5, 5, 2], &[2, 3, 3, 2], 9.338976, 1.699282);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let common = ConvCommon::<2> {
            padding: "same".into(),
            ..ConvCommon::new([2, 3])
        };
        check_grad(
            "separable_conv2d_layer",
            &[
                &randn(&[2, 4, 5, 2], 1),
                &randn(&[2, 3, 2, 2], 2),
                &randn(&[1, 1, 4, 3], 3),
            ],
            |t| depthwise_conv2d(&t[0], &t[1], &common)?.conv2d(&t[2], &ConvArgs::new()),
        );
    }

    #[test]
    fn weights_follow_keras_names_order_and_rules() {
        let mut c = SeparableConv2D::new(4, 3)
            .depth_multiplier(2)
            .depthwise_regularizer(Regularizer::L1(0.1))
            .pointwise_constraint(Constraint::NonNeg)
            .bias_regularizer(Regularizer::L2(0.3));
        c.build(&[None, Some(6), Some(5), Some(3)]).unwrap();
        let w = c.weights();
        let names: Vec<&str> = w.iter().map(|v| v.name()).collect();
        assert_eq!(names, ["depthwise_kernel", "pointwise_kernel", "bias"]);
        assert_eq!(w[0].shape(), vec![3, 3, 3, 2]);
        assert_eq!(w[1].shape(), vec![1, 1, 6, 4]);
        assert_eq!(w[2].shape(), vec![4]);
        assert_eq!(w[0].regularizer(), Some(Regularizer::L1(0.1)));
        assert_eq!(w[1].constraint(), Some(Constraint::NonNeg));
        assert_eq!(w[2].regularizer(), Some(Regularizer::L2(0.3)));
        let cfg = c.get_config();
        assert_eq!(cfg["depthwise_regularizer"]["class_name"], "L1");
        assert_eq!(cfg["pointwise_constraint"]["class_name"], "NonNeg");
        assert_eq!(SeparableConv2D::from_config(&cfg).unwrap().get_config(), cfg);
    }

    #[test]
    fn config_matches_keras() {
        // keras.layers.SeparableConv2D(4, 3).get_config(), without the initializers.
        let keras = serde_json::json!({"name": "separable_conv2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "depth_multiplier": 1, "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": true, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "depthwise_regularizer": null, "pointwise_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "depthwise_constraint": null, "pointwise_constraint": null, "bias_constraint": null});
        let mut ours = SeparableConv2D::from_config(&keras).unwrap().get_config();
        for k in ["depthwise_initializer", "pointwise_initializer"] {
            assert_eq!(ours[k]["class_name"], "GlorotUniform");
            ours.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(ours, keras);
    }

    #[test]
    fn bad_shapes_name_the_layer() {
        let mut c = SeparableConv2D::new(4, 3).name("sep");
        let e = c.build(&[None, Some(6), Some(6)]).unwrap_err().to_string();
        assert!(e.contains("sep") && e.contains("(None, 6, 6)"), "{e}");
        let e = c.build(&[None, Some(6), Some(6), None]).unwrap_err().to_string();
        assert!(e.contains("sep") && e.contains("(None, 6, 6, None)"), "{e}");
        c.build(&[None, Some(6), Some(6), Some(3)]).unwrap();
        let x = Tensor::zeros(&[1, 6, 6, 2], DType::F32, &Device::Cpu).unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("sep") && e.contains("[1, 6, 6, 2]"), "{e}");
    }
}
