//! MobileNetV2 (Sandler et al. 2018): Keras's `keras/src/applications/mobilenet_v2.py`.

use super::{
    add, correct_pad, finish, head, input, invalid, plain_dense, zero_pad, ApplicationArgs, Conv, Names,
    PoolNames,
};
use crate::layers::{DepthwiseConv2D, ReLU};
use crate::models::{Apply, KerasTensor, Model};
use keras_tensor::Result;

/// Keras's `_make_divisible`: `v` rounded to a multiple of `divisor`, never below 90% of `v`.
fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = (divisor).max(((v + d / 2.0) as usize) / divisor * divisor);
    if (new_v as f64) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

fn relu6(x: &KerasTensor, name: &str) -> Result<KerasTensor> {
    ReLU::new().max_value(6.0)?.name(name).apply(x)
}

fn bn_(x: &KerasTensor, n: &mut Names, name: &str) -> Result<KerasTensor> {
    super::bn(x, n, Some(name), -1, 1e-3, 0.999, true)
}

/// Keras's `_inverted_res_block`: 1x1 expansion, 3x3 depthwise, 1x1 linear projection, with
/// a residual connection when the shape is kept.
fn inverted_res_block(
    inputs: &KerasTensor,
    n: &mut Names,
    expansion: usize,
    stride: usize,
    alpha: f64,
    filters: usize,
    block_id: usize,
) -> Result<KerasTensor> {
    let in_channels = inputs.shape()[3].ok_or_else(|| invalid("unknown channel count".into()))?;
    let pointwise_filters = make_divisible((filters as f64 * alpha) as usize as f64, 8);
    let mut x = inputs.clone();
    let mut prefix = format!("block_{block_id}_");
    if block_id > 0 {
        x = Conv::new(expansion * in_channels, 1).same().no_bias().apply(
            &x,
            n,
            Some(&format!("{prefix}expand")),
        )?;
        x = bn_(&x, n, &format!("{prefix}expand_BN"))?;
        x = relu6(&x, &format!("{prefix}expand_relu"))?;
    } else {
        prefix = "expanded_conv_".into();
    }
    if stride == 2 {
        let p = correct_pad(&x, 3);
        x = zero_pad(&x, n, Some(&format!("{prefix}pad")), p)?;
    }
    x = DepthwiseConv2D::new(3)
        .strides([stride; 2])
        .use_bias(false)
        .padding(if stride == 1 { "same" } else { "valid" })?
        .name(&format!("{prefix}depthwise"))
        .apply(&x)?;
    x = bn_(&x, n, &format!("{prefix}depthwise_BN"))?;
    x = relu6(&x, &format!("{prefix}depthwise_relu"))?;
    x = Conv::new(pointwise_filters, 1)
        .same()
        .no_bias()
        .apply(&x, n, Some(&format!("{prefix}project")))?;
    x = bn_(&x, n, &format!("{prefix}project_BN"))?;
    if in_channels == pointwise_filters && stride == 1 {
        return add(&[inputs, &x], n, Some(&format!("{prefix}add")));
    }
    Ok(x)
}

/// Keras's `keras.applications.MobileNetV2` with width multiplier `alpha` (`1.0`: 3,538,984
/// parameters with the top). The default input size is the given square size when it is
/// one of 96, 128, 160, 192, 224, else 224; the model is named
/// `mobilenetv2_{alpha:.2}_{rows}` as in Keras.
///
/// # Errors
/// For `alpha <= 0`, or as [`super::resnet50`].
///
/// ```
/// use keras::applications::{mobilenet_v2_alpha, ApplicationArgs};
/// let m = mobilenet_v2_alpha(0.35, ApplicationArgs { input_shape: Some([96, 96, 3]), ..Default::default() })?;
/// assert_eq!(m.count_params(), 1_691_208);
/// assert_eq!(m.get_config()["name"], "mobilenetv2_0.35_96");
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn mobilenet_v2_alpha(alpha: f64, args: ApplicationArgs) -> Result<Model> {
    if alpha.is_nan() || alpha <= 0.0 {
        return Err(invalid(format!("alpha must be positive, got {alpha}")));
    }
    let default_size = match args.input_shape {
        Some([r, c, _]) if r == c && [96, 128, 160, 192, 224].contains(&r) => r,
        _ => 224,
    };
    let inputs = input(&args, default_size, 32, 1000)?;
    let rows = inputs.shape()[1];
    let n = &mut Names::default();
    let first = make_divisible(32.0 * alpha, 8);
    let x = Conv::new(first, 3)
        .stride(2)
        .same()
        .no_bias()
        .apply(&inputs, n, Some("Conv1"))?;
    let x = bn_(&x, n, "bn_Conv1")?;
    let mut x = relu6(&x, "Conv1_relu")?;
    #[rustfmt::skip]
    let blocks: [(usize, usize, usize); 17] = [
        (16, 1, 1),
        (24, 2, 6), (24, 1, 6),
        (32, 2, 6), (32, 1, 6), (32, 1, 6),
        (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
        (96, 1, 6), (96, 1, 6), (96, 1, 6),
        (160, 2, 6), (160, 1, 6), (160, 1, 6),
        (320, 1, 6),
    ];
    for (id, &(filters, stride, expansion)) in blocks.iter().enumerate() {
        x = inverted_res_block(&x, n, expansion, stride, alpha, filters, id)?;
    }
    let last = if alpha > 1.0 {
        make_divisible(1280.0 * alpha, 8)
    } else {
        1280
    };
    let x = Conv::new(last, 1).no_bias().apply(&x, n, Some("Conv_1"))?;
    let x = bn_(&x, n, "Conv_1_bn")?;
    let x = relu6(&x, "out_relu")?;
    let x = head(x, &args, n, PoolNames::Auto, None, 1000, plain_dense)?;
    let rows = rows.map_or("None".to_string(), |r| r.to_string());
    finish(&inputs, &x, &args, &format!("mobilenetv2_{alpha:.2}_{rows}"))
}

/// Keras's `keras.applications.MobileNetV2` (`alpha = 1.0`): 3,538,984 parameters with the
/// top.
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// let m = keras::applications::mobilenet_v2(Default::default())?;
/// assert_eq!(m.count_params(), 3_538_984);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn mobilenet_v2(args: ApplicationArgs) -> Result<Model> {
    mobilenet_v2_alpha(1.0, args)
}

#[cfg(test)]
mod tests {
    #[test]
    fn make_divisible_matches_keras() {
        // _make_divisible(32 * a, 8) and (1280 * a, 8) in Keras.
        assert_eq!(super::make_divisible(32.0 * 0.35, 8), 16);
        assert_eq!(super::make_divisible(16.0 * 0.35, 8), 8);
        assert_eq!(super::make_divisible(1280.0 * 1.4, 8), 1792);
        assert_eq!(super::make_divisible(24.0 * 0.75, 8), 24);
    }
}
