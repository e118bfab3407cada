//! EfficientNetB0 (Tan & Le 2019): Keras's `keras/src/applications/efficientnet.py`, with
//! its initializers (`CONV_KERNEL_INITIALIZER`, `DENSE_KERNEL_INITIALIZER`), its input
//! preprocessing layers (`Rescaling(1/255)`, `Normalization`) and stochastic depth
//! (`Dropout` with `noise_shape=(None, 1, 1, 1)`).

use super::{act, bn, correct_pad, finish, head, input, zero_pad, ApplicationArgs, Names, PoolNames};
use crate::layers::{Conv2D, Dense, DepthwiseConv2D, Dropout, Multiply, Normalization, Rescaling, Reshape};
use crate::models::{Apply, KerasTensor, Model};
use keras_tensor::Result;
use serde_json::{json, Value};

fn conv_init() -> Value {
    json!({"class_name": "VarianceScaling",
           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}})
}

/// A `Conv2D` with Keras's EfficientNet kernel initializer: `filters`, square kernel `k`,
/// stride 1, `"same"`, no bias, linear, unless `extra` (Keras config keys) says otherwise.
fn conv(x: &KerasTensor, name: &str, filters: usize, k: usize, extra: Value) -> Result<KerasTensor> {
    let mut c = json!({
        "name": name, "filters": filters, "kernel_size": [k, k], "padding": "same",
        "use_bias": false, "kernel_initializer": conv_init(),
    });
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    Conv2D::from_config(&c)?.apply(x)
}

/// One block of `DEFAULT_BLOCKS_ARGS`.
struct BlockArgs {
    kernel: usize,
    repeats: usize,
    filters_in: usize,
    filters_out: usize,
    expand_ratio: usize,
    strides: usize,
}

#[rustfmt::skip]
const BLOCKS: [BlockArgs; 7] = [
    BlockArgs { kernel: 3, repeats: 1, filters_in: 32, filters_out: 16, expand_ratio: 1, strides: 1 },
    BlockArgs { kernel: 3, repeats: 2, filters_in: 16, filters_out: 24, expand_ratio: 6, strides: 2 },
    BlockArgs { kernel: 5, repeats: 2, filters_in: 24, filters_out: 40, expand_ratio: 6, strides: 2 },
    BlockArgs { kernel: 3, repeats: 3, filters_in: 40, filters_out: 80, expand_ratio: 6, strides: 2 },
    BlockArgs { kernel: 5, repeats: 3, filters_in: 80, filters_out: 112, expand_ratio: 6, strides: 1 },
    BlockArgs { kernel: 5, repeats: 4, filters_in: 112, filters_out: 192, expand_ratio: 6, strides: 2 },
    BlockArgs { kernel: 3, repeats: 1, filters_in: 192, filters_out: 320, expand_ratio: 6, strides: 1 },
];

/// Keras's `block`: expansion, depthwise convolution, squeeze-and-excitation (ratio 0.25),
/// projection, and the residual connection with stochastic depth.
#[allow(clippy::too_many_arguments)]
fn block(
    inputs: &KerasTensor,
    n: &mut Names,
    drop_rate: f64,
    name: &str,
    filters_in: usize,
    filters_out: usize,
    kernel: usize,
    strides: usize,
    expand_ratio: usize,
) -> Result<KerasTensor> {
    let filters = filters_in * expand_ratio;
    let mut x = inputs.clone();
    if expand_ratio != 1 {
        x = conv(&x, &format!("{name}expand_conv"), filters, 1, json!({}))?;
        x = bn(&x, n, Some(&format!("{name}expand_bn")), 3, 1e-3, 0.99, true)?;
        x = act(&x, n, Some(&format!("{name}expand_activation")), "swish")?;
    }
    let same = strides != 2;
    if !same {
        let p = correct_pad(&x, kernel);
        x = zero_pad(&x, n, Some(&format!("{name}dwconv_pad")), p)?;
    }
    x = DepthwiseConv2D::from_config(&json!({
        "name": format!("{name}dwconv"), "kernel_size": [kernel, kernel],
        "strides": [strides, strides], "padding": if same { "same" } else { "valid" },
        "use_bias": false, "depthwise_initializer": conv_init(),
    }))?
    .apply(&x)?;
    x = bn(&x, n, Some(&format!("{name}bn")), 3, 1e-3, 0.99, true)?;
    x = act(&x, n, Some(&format!("{name}activation")), "swish")?;

    let filters_se = ((filters_in as f64 * 0.25) as usize).max(1);
    let se = super::gap(&x, n, Some(&format!("{name}se_squeeze")))?;
    let se = Reshape::new(&[1, 1, filters as isize])?
        .name(&format!("{name}se_reshape"))
        .apply(&se)?;
    let se = conv(
        &se,
        &format!("{name}se_reduce"),
        filters_se,
        1,
        json!({"use_bias": true, "activation": "swish"}),
    )?;
    let se = conv(
        &se,
        &format!("{name}se_expand"),
        filters,
        1,
        json!({"use_bias": true, "activation": "sigmoid"}),
    )?;
    x = Multiply::new()
        .name(&format!("{name}se_excite"))
        .apply_list(&[&x, &se])?;

    x = conv(&x, &format!("{name}project_conv"), filters_out, 1, json!({}))?;
    x = bn(&x, n, Some(&format!("{name}project_bn")), 3, 1e-3, 0.99, true)?;
    if strides == 1 && filters_in == filters_out {
        if drop_rate > 0.0 {
            x = Dropout::new(drop_rate)?
                .noise_shape(&[None, Some(1), Some(1), Some(1)])
                .name(&format!("{name}drop"))
                .apply(&x)?;
        }
        x = super::add(&[&x, inputs], n, Some(&format!("{name}add")))?;
    }
    Ok(x)
}

/// Keras's `round_filters` for width coefficient 1.0 and divisor 8.
fn round_filters(filters: usize) -> usize {
    let f = filters as f64;
    let mut new = 8usize.max(((f + 4.0) as usize) / 8 * 8);
    if (new as f64) < 0.9 * f {
        new += 8;
    }
    new
}

/// Keras's `keras.applications.EfficientNetB0`: 5,330,571 parameters with the top. The model
/// takes images in `[0, 255]`: it starts with `Rescaling(1/255)` and a `Normalization` layer
/// whose statistics are part of the weights.
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// let m = keras::applications::efficientnet_b0(Default::default())?;
/// assert_eq!(m.count_params(), 5_330_571);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn efficientnet_b0(args: ApplicationArgs) -> Result<Model> {
    let inputs = input(&args, 224, 32, 1000)?;
    let n = &mut Names::default();
    let rescale = n.or_auto(None, "rescaling");
    let x = Rescaling::new(1.0 / 255.0).name(&rescale).apply(&inputs)?;
    let norm = n.or_auto(None, "normalization");
    let x = Normalization::new().axis(&[3]).name(&norm).apply(&x)?;
    let p = correct_pad(&x, 3);
    let x = zero_pad(&x, n, Some("stem_conv_pad"), p)?;
    let x = conv(
        &x,
        "stem_conv",
        round_filters(32),
        3,
        json!({"strides": [2, 2], "padding": "valid"}),
    )?;
    let x = bn(&x, n, Some("stem_bn"), 3, 1e-3, 0.99, true)?;
    let mut x = act(&x, n, Some("stem_activation"), "swish")?;

    let total: usize = BLOCKS.iter().map(|b| b.repeats).sum();
    let mut b = 0;
    for (i, a) in BLOCKS.iter().enumerate() {
        let (mut filters_in, filters_out) = (round_filters(a.filters_in), round_filters(a.filters_out));
        let mut strides = a.strides;
        for j in 0..a.repeats {
            if j > 0 {
                strides = 1;
                filters_in = filters_out;
            }
            let name = format!("block{}{}_", i + 1, (b'a' + j as u8) as char);
            let drop = 0.2 * b as f64 / total as f64;
            x = block(
                &x,
                n,
                drop,
                &name,
                filters_in,
                filters_out,
                a.kernel,
                strides,
                a.expand_ratio,
            )?;
            b += 1;
        }
    }
    let x = conv(&x, "top_conv", round_filters(1280), 1, json!({}))?;
    let x = bn(&x, n, Some("top_bn"), 3, 1e-3, 0.99, true)?;
    let x = act(&x, n, Some("top_activation"), "swish")?;
    let dense = |classes: usize, activation: &str| {
        Dense::from_config(&json!({
            "units": classes, "activation": activation,
            "kernel_initializer": {"class_name": "VarianceScaling",
                "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}},
        }))
    };
    let x = head(x, &args, n, PoolNames::Named, Some(0.2), 1000, dense)?;
    finish(&inputs, &x, &args, "efficientnetb0")
}
