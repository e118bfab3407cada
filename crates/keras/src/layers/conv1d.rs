//! `Conv1D`: 1-D convolution over `(batch, steps, channels)`.

use super::conv_common::{conv_builders, weight_builders, BaseConv};
use super::{base_config, config_name, field, unique_name, Epilogue, Layer, Shape};
use crate::Variable;
use keras_tensor::{Result, Tensor};
use serde_json::Value;

/// A 1-D convolution, as `keras.layers.Conv1D` (channels-last): temporal convolution over
/// sequences.
///
/// Input `(batch, steps, channels)`, kernel `(kernel_size, channels / groups, filters)`, bias
/// `(filters,)`. Padding `"valid"`, `"same"` or `"causal"` (pads only before, so output step
/// `t` never sees inputs after `t`); strides > 1 cannot be combined with dilation > 1 (as in
/// Keras).
///
/// ```
/// use keras::layers::{Conv1D, Layer};
/// let mut c = Conv1D::new(8, 3).padding("causal")?.dilation_rate(2).activation("relu")?;
/// let input = [None, Some(100), Some(4)];
/// c.build(&input)?;
/// assert_eq!(c.compute_output_shape(&input)?, vec![None, Some(100), Some(8)]);
/// assert_eq!(c.kernel().unwrap().shape(), vec![3, 4, 8]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Conv1D {
    name: String,
    trainable: bool,
    base: BaseConv<1>,
}

impl Conv1D {
    /// `filters` output channels with a window of `kernel_size` steps; stride 1, `"valid"`,
    /// linear, `glorot_uniform` kernel, zero bias.
    pub fn new(filters: usize, kernel_size: usize) -> Conv1D {
        Conv1D {
            name: unique_name("conv1d"),
            trainable: true,
            base: BaseConv::new(filters, [kernel_size]),
        }
    }

    conv_builders!(Conv1D, "Conv1D", usize, causal: true, common: base.common);
    weight_builders!(
        Conv1D,
        "kernel",
        kernel_initializer,
        kernel_regularizer,
        kernel_constraint,
        init: base.kernel_initializer,
        rules: base.kernel_rules
    );

    /// Channel groups: input channels and filters are split into `g` independent
    /// convolutions (both must divide by `g`).
    pub fn groups(mut self, g: usize) -> Conv1D {
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
    pub fn from_config(c: &Value) -> Result<Conv1D> {
        let name = config_name(c, "conv1d")?;
        Ok(Conv1D {
            base: BaseConv::from_config(c, "Conv1D", &name)?,
            trainable: field(c, "trainable", true)?,
            name,
        })
    }
}

impl Layer for Conv1D {
    super::layer_common!("Conv1D");
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
    use crate::layers::conv_common::testing::check_against_keras;
    use crate::layers::testing::run_layer_test;
    use crate::regularizers::Regularizer;
    use keras_tensor::testing::{check_grad, randn};
    use keras_tensor::{ConvArgs, DType, Device, Padding};

    #[test]
    fn conv1d_passes_the_layer_harness() {
        run_layer_test(Box::new(Conv1D::new(4, 3)), &[7, 2], 2);
        run_layer_test(
            Box::new(
                Conv1D::new(4, 3)
                    .strides(2)
                    .padding("same")
                    .unwrap()
                    .groups(2)
                    .activation("relu")
                    .unwrap(),
            ),
            &[7, 2],
            2,
        );
        run_layer_test(
            Box::new(
                Conv1D::new(3, 2)
                    .padding("causal")
                    .unwrap()
                    .dilation_rate(3)
                    .use_bias(false)
                    .kernel_regularizer(Regularizer::L2(0.1)),
            ),
            &[6, 2],
            1,
        );
    }

    #[test]
    fn output_shapes_match_keras() {
        // keras.layers.Conv1D(2, k, strides=s, padding=p, dilation_rate=d)
        //     .compute_output_shape((None, 10, 3))
        let cases = [
            (3, 1, "valid", 1, 8),
            (3, 2, "valid", 1, 4),
            (3, 2, "same", 1, 5),
            (4, 3, "same", 1, 4),
            (3, 1, "causal", 2, 10),
            (3, 2, "causal", 1, 5),
            (2, 1, "valid", 3, 7),
            (5, 1, "same", 2, 10),
        ];
        for (k, s, p, d, out) in cases {
            let c = Conv1D::new(2, k).strides(s).padding(p).unwrap().dilation_rate(d);
            let got = c.compute_output_shape(&[None, Some(10), Some(3)]).unwrap();
            assert_eq!(got, vec![None, Some(out), Some(2)], "{k} {s} {p} {d}");
        }
    }

    #[test]
    fn numbers_match_keras() {
        // keras.layers.Conv1D(4, 3, strides=2, padding="same", groups=2) on (2, 7, 4).
        let c = Conv1D::new(4, 3).strides(2).padding("same").unwrap().groups(2);
        check_against_keras(Box::new(c), &[2, 7, 4], &[2, 4, 4], 10.577521, 0.785931);
        // keras.layers.Conv1D(3, 3, padding="causal", dilation_rate=2, activation="relu").
        let c = Conv1D::new(3, 3)
            .padding("causal")
            .unwrap()
            .dilation_rate(2)
            .activation("relu")
            .unwrap();
        check_against_keras(Box::new(c), &[2, 7, 4], &[2, 7, 3], 38.991009, 4.034984);
    }

    #[test]
    fn causal_output_does_not_see_the_future() {
        let mut c = Conv1D::new(2, 3).padding("causal").unwrap();
        c.build(&[None, Some(6), Some(1)]).unwrap();
        let a = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 6, 1]).unwrap();
        let b = Tensor::new(&[1.0f32, 2.0, 3.0, -4.0, 9.0, 0.0], &[1, 6, 1]).unwrap();
        let ya = c.call(&a, false).unwrap().to_vec::<f32>().unwrap();
        let yb = c.call(&b, false).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(ya[..6], yb[..6], "the first 3 steps only see identical inputs");
        assert_ne!(ya[6..], yb[6..]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // The layer's op: grouped, strided, same-padded conv1d plus bias.
        let args = ConvArgs::new().strides(2).groups(2).padding(Padding::Same);
        check_grad(
            "conv1d_layer",
            &[&randn(&[2, 7, 4], 1), &randn(&[3, 2, 4], 2), &randn(&[4], 3)],
            |t| t[0].conv1d(&t[1], &args)?.add(&t[2]),
        );
    }

    #[test]
    fn config_matches_keras_and_round_trips() {
        // keras.layers.Conv1D(4, 3).get_config() lists the per-axis values as 1-element lists.
        let c = Conv1D::new(4, 3).name("conv1d_k");
        let cfg = c.get_config();
        assert_eq!(cfg["kernel_size"], serde_json::json!([3]));
        assert_eq!(cfg["strides"], serde_json::json!([1]));
        assert_eq!(cfg["dilation_rate"], serde_json::json!([1]));
        assert_eq!(cfg["groups"], 1);
        for k in [
            "kernel_regularizer",
            "bias_regularizer",
            "activity_regularizer",
            "kernel_constraint",
            "bias_constraint",
        ] {
            assert!(cfg[k].is_null(), "{k}");
        }
        let keras = serde_json::json!({"name": "conv1d", "trainable": true, "filters": 4, "kernel_size": [3], "strides": [2], "padding": "causal", "data_format": "channels_last", "dilation_rate": [1], "groups": 1, "activation": "relu", "use_bias": false, "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.5}, "registered_name": null}});
        let mut l = Conv1D::from_config(&keras).unwrap();
        l.build(&[None, Some(9), Some(2)]).unwrap();
        assert_eq!(l.weights().len(), 1);
        assert_eq!(l.kernel().unwrap().regularizer(), Some(Regularizer::L1(0.5)));
        assert_eq!(
            l.compute_output_shape(&[None, Some(9), Some(2)]).unwrap(),
            vec![None, Some(5), Some(4)]
        );
        let x = Tensor::ones(&[1, 9, 2], DType::F32, &Device::Cpu).unwrap();
        assert_eq!(l.call(&x, false).unwrap().shape(), &[1, 5, 4]);
    }

    #[test]
    fn bad_shapes_name_the_layer_and_shape() {
        let mut c = Conv1D::new(4, 3).name("seq");
        let e = c
            .build(&[None, Some(6), Some(6), Some(2)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("seq") && e.contains("(None, 6, 6, 2)") && e.contains("rank-3"),
            "{e}"
        );
        let e = c.build(&[None, Some(2), Some(2)]).unwrap_err().to_string();
        assert!(e.contains("seq") && e.contains("(None, 2, 2)"), "{e}");
        c.build(&[None, Some(6), Some(2)]).unwrap();
        let x = Tensor::zeros(&[1, 6, 3], DType::F32, &Device::Cpu).unwrap();
        let e = c.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("seq") && e.contains("[1, 6, 3]") && e.contains("(None, 6, 2)"),
            "{e}"
        );
    }
}
