//! `Conv2D`: 2-D convolution over `(batch, height, width, channels)`.

use super::conv_common::{conv_builders, weight_builders, BaseConv};
use super::{base_config, config_name, field, unique_name, Epilogue, Layer, Shape};
use crate::Variable;
use keras_tensor::{Result, Tensor};
use serde_json::Value;

/// A 2-D convolution, as `keras.layers.Conv2D` (channels-last).
///
/// Kernel `(kh, kw, in_channels / groups, filters)`, bias `(filters,)`. Padding `"valid"` or
/// `"same"`; strides > 1 cannot be combined with dilation > 1 (as in Keras).
///
/// ```
/// use keras::layers::{Conv2D, Layer};
/// use keras::regularizers::Regularizer;
/// let mut c = Conv2D::new(32, 3)
///     .strides([2, 2])
///     .padding("same")?
///     .activation("relu")?
///     .kernel_regularizer(Regularizer::L2(1e-4));
/// let input = [None, Some(28), Some(28), Some(1)];
/// c.build(&input)?;
/// assert_eq!(c.compute_output_shape(&input)?, vec![None, Some(14), Some(14), Some(32)]);
/// assert_eq!(c.count_params(), 3 * 3 * 1 * 32 + 32);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Conv2D {
    name: String,
    trainable: bool,
    base: BaseConv<2>,
}

impl Conv2D {
    /// `filters` output channels with a square `kernel_size` window; stride 1, `"valid"`,
    /// linear, `glorot_uniform` kernel, zero bias.
    pub fn new(filters: usize, kernel_size: usize) -> Conv2D {
        Conv2D {
            name: unique_name("conv2d"),
            trainable: true,
            base: BaseConv::new(filters, [kernel_size; 2]),
        }
    }

    conv_builders!(Conv2D, "Conv2D", [usize; 2], causal: false, common: base.common);
    weight_builders!(
        Conv2D,
        "kernel",
        kernel_initializer,
        kernel_regularizer,
        kernel_constraint,
        init: base.kernel_initializer,
        rules: base.kernel_rules
    );

    /// Channel groups: input channels and filters are split into `g` independent
    /// convolutions (both must divide by `g`).
    pub fn groups(mut self, g: usize) -> Conv2D {
        self.base.groups = g;
        self
    }

    /// The kernel, once built.
    pub fn kernel(&self) -> Option<&Variable> {
        self.base.kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Variable> {
        self.base.bias.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For missing `filters` or `kernel_size`, invalid values, unknown names, or options
    /// this version does not implement (`data_format="channels_first"`, `lora_rank`).
    pub fn from_config(c: &Value) -> Result<Conv2D> {
        let name = config_name(c, "conv2d")?;
        Ok(Conv2D {
            base: BaseConv::from_config(c, "Conv2D", &name)?,
            trainable: field(c, "trainable", true)?,
            name,
        })
    }
}

impl Layer for Conv2D {
    super::layer_common!("Conv2D");
    fn built(&self) -> bool {
        self.base.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.base.build(&self.name, input_shape)
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        self.base.output_shape(&self.name, input_shape)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        self.base.call(&self.name, x)
    }
    fn call_fused(&self, x: &Tensor, epilogue: &Epilogue) -> Result<Option<Tensor>> {
        self.base.call_fused(&self.name, x, epilogue)
    }
    fn weights(&self) -> Vec<Variable> {
        self.base.weights()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        self.base.to_config(&mut m);
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
    use keras_tensor::{DType, Device};

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
        run_layer_test(
            Box::new(
                Conv2D::new(3, 2)
                    .use_bias(false)
                    .dilation_rate([2, 1])
                    .kernel_regularizer(Regularizer::L1(0.1))
                    .activity_regularizer(Regularizer::L2(0.2)),
            ),
            &[6, 5, 2],
            1,
        );
    }

    #[test]
    fn output_shapes_match_keras() {
        // keras.layers.Conv2D(2, k, strides=s, padding=p, dilation_rate=d)
        //     .compute_output_shape((None, 9, 8, 3))
        type Case = ([usize; 2], [usize; 2], &'static str, [usize; 2], [usize; 2]);
        let cases: [Case; 6] = [
            ([3, 3], [1, 1], "valid", [1, 1], [7, 6]),
            ([3, 2], [2, 3], "valid", [1, 1], [4, 3]),
            ([3, 3], [2, 2], "same", [1, 1], [5, 4]),
            ([4, 4], [3, 2], "same", [1, 1], [3, 4]),
            ([3, 3], [1, 1], "same", [2, 2], [9, 8]),
            ([2, 3], [1, 1], "valid", [2, 1], [7, 6]),
        ];
        for (k, s, p, d, out) in cases {
            let c = Conv2D::new(2, 1)
                .kernel_size(k)
                .strides(s)
                .padding(p)
                .unwrap()
                .dilation_rate(d);
            let got = c
                .compute_output_shape(&[None, Some(9), Some(8), Some(3)])
                .unwrap();
            assert_eq!(
                got,
                vec![None, Some(out[0]), Some(out[1]), Some(2)],
                "{k:?} {s:?} {p} {d:?}"
            );
        }
    }

    #[test]
    fn numbers_match_keras() {
        // keras.layers.Conv2D(2, (3, 2), strides=(2, 1), padding="same") on (1, 5, 6, 3).
        let c = Conv2D::new(2, 1)
            .kernel_size([3, 2])
            .strides([2, 1])
            .padding("same")
            .unwrap();
        check_against_keras(Box::new(c), &[1, 5, 6, 3], &[1, 3, 6, 2], 16.536370, 0.339524);
    }

    #[test]
    fn keras_argument_errors() {
        // Keras: "Computed output size would be zero or negative".
        let e = Conv2D::new(2, 3)
            .name("tiny")
            .compute_output_shape(&[None, Some(2), Some(2), Some(3)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("tiny") && e.contains("(None, 2, 2, 3)"), "{e}");
        // Keras: "`strides > 1` not supported in conjunction with `dilation_rate > 1`".
        let mut c = Conv2D::new(2, 3).strides([2, 2]).dilation_rate([2, 2]);
        assert!(c.build(&[None, Some(9), Some(9), Some(3)]).is_err());
        let mut c = Conv2D::new(4, 3).groups(2).name("g");
        let e = c
            .build(&[None, Some(6), Some(6), Some(3)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"g\"") && e.contains("groups"), "{e}");
        assert!(Conv2D::new(2, 3).padding("causal").is_err());
        let cf = serde_json::json!({"filters": 2, "kernel_size": 3, "data_format": "channels_first"});
        assert!(Conv2D::from_config(&cf)
            .err()
            .unwrap()
            .to_string()
            .contains("channels_last"));
        let lora = serde_json::json!({"filters": 2, "kernel_size": 3, "lora_rank": 4});
        assert!(Conv2D::from_config(&lora)
            .err()
            .unwrap()
            .to_string()
            .contains("lora_rank"));
    }

    #[test]
    fn regularizers_and_constraints_reach_the_weights_and_config() {
        let mut c = Conv2D::new(2, 3)
            .kernel_regularizer(Regularizer::L2(0.01))
            .kernel_constraint(Constraint::get("max_norm").unwrap())
            .bias_regularizer(Regularizer::L1(0.5))
            .bias_constraint(Constraint::NonNeg)
            .activity_regularizer(Regularizer::L1L2 { l1: 0.1, l2: 0.2 });
        c.build(&[None, Some(5), Some(5), Some(1)]).unwrap();
        let k = c.kernel().unwrap();
        assert_eq!(k.regularizer(), Some(Regularizer::L2(0.01)));
        assert_eq!(k.constraint(), Some(Constraint::get("max_norm").unwrap()));
        let b = c.bias().unwrap();
        assert_eq!(b.regularizer(), Some(Regularizer::L1(0.5)));
        assert_eq!(b.constraint(), Some(Constraint::NonNeg));
        // The config keys as Keras writes them.
        let cfg = c.get_config();
        assert_eq!(cfg["kernel_regularizer"]["class_name"], "L2");
        assert_eq!(cfg["kernel_constraint"]["class_name"], "MaxNorm");
        assert_eq!(cfg["activity_regularizer"]["config"]["l1"], 0.1);
        let again = Conv2D::from_config(&cfg).unwrap();
        assert_eq!(again.get_config(), cfg);
        // Activity loss: penalty of the output / batch size.
        let x = Tensor::ones(&[2, 5, 5, 1], DType::F32, &Device::Cpu).unwrap();
        let (y, losses) = crate::layers::collect_losses(|| c.call(&x, true)).unwrap();
        assert_eq!(losses.len(), 1);
        let y = y.cast(DType::F64).unwrap();
        let l1 = y.abs().unwrap().sum_all().unwrap().item().unwrap();
        let l2 = y.square().unwrap().sum_all().unwrap().item().unwrap();
        let want = (0.1 * l1 + 0.2 * l2) / 2.0;
        let got = losses[0].item().unwrap();
        assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "{got} vs {want}");
    }

    #[test]
    fn reads_a_keras_config() {
        // From keras.layers.Conv2D(4, 3, kernel_regularizer="l2", kernel_constraint="max_norm",
        // activity_regularizer=L1L2(0.1, 0.2)).get_config().
        let cfg = serde_json::json!({"name": "conv2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "activity_regularizer": {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}, "registered_name": null}, "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}, "registered_name": null}, "bias_regularizer": null, "kernel_constraint": {"module": "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}, "registered_name": null}, "bias_constraint": null});
        let mut c = Conv2D::from_config(&cfg).unwrap();
        c.build(&[None, Some(5), Some(5), Some(2)]).unwrap();
        assert_eq!(c.kernel().unwrap().regularizer(), Some(Regularizer::L2(0.01)));
        assert_eq!(
            c.kernel().unwrap().constraint(),
            Some(Constraint::MaxNorm {
                max_value: 2.0,
                axis: vec![0]
            })
        );
        assert_eq!(
            c.base.common.activity_regularizer,
            Some(Regularizer::L1L2 { l1: 0.1, l2: 0.2 })
        );
    }

    #[test]
    fn bad_shapes_name_the_layer() {
        let mut c = Conv2D::new(4, 3).name("stem");
        let e = c.build(&[None, Some(6), Some(6)]).unwrap_err().to_string();
        assert!(e.contains("stem") && e.contains("(None, 6, 6)"), "{e}");
        c.build(&[None, Some(6), Some(6), Some(3)]).unwrap();
        let x = Tensor::zeros(&[1, 6, 6, 2], DType::F32, &Device::Cpu).unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("stem") && e.contains("[1, 6, 6, 2]"), "{e}");
    }
}
