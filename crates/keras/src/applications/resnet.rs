//! ResNet50, ResNet101 and ResNet152 (He et al. 2015): Keras's `keras/src/applications/resnet.py`.

use super::{
    act, add, bn, finish, head, input, max_pool, plain_dense, zero_pad, ApplicationArgs, Conv, Names,
    PoolNames,
};
use crate::models::{KerasTensor, Model};
use keras_tensor::Result;

const EPS: f64 = 1.001e-5;

/// Keras's `residual_block_v1`: a 1x1 / 3x3 / 1x1 bottleneck with a projection shortcut
/// (`conv_shortcut`) or the identity.
fn block_v1(
    x: &KerasTensor,
    n: &mut Names,
    filters: usize,
    stride: usize,
    conv_shortcut: bool,
    name: &str,
) -> Result<KerasTensor> {
    let shortcut = if conv_shortcut {
        let s = Conv::new(4 * filters, 1)
            .stride(stride)
            .apply(x, n, Some(&format!("{name}_0_conv")))?;
        bn(&s, n, Some(&format!("{name}_0_bn")), 3, EPS, 0.99, true)?
    } else {
        x.clone()
    };
    let y = Conv::new(filters, 1)
        .stride(stride)
        .apply(x, n, Some(&format!("{name}_1_conv")))?;
    let y = bn(&y, n, Some(&format!("{name}_1_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_1_relu")), "relu")?;
    let y = Conv::new(filters, 3)
        .same()
        .apply(&y, n, Some(&format!("{name}_2_conv")))?;
    let y = bn(&y, n, Some(&format!("{name}_2_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_2_relu")), "relu")?;
    let y = Conv::new(4 * filters, 1).apply(&y, n, Some(&format!("{name}_3_conv")))?;
    let y = bn(&y, n, Some(&format!("{name}_3_bn")), 3, EPS, 0.99, true)?;
    let y = add(&[&shortcut, &y], n, Some(&format!("{name}_add")))?;
    act(&y, n, Some(&format!("{name}_out")), "relu")
}

/// Keras's `stack_residual_blocks_v1`.
fn stack_v1(
    x: KerasTensor,
    n: &mut Names,
    filters: usize,
    blocks: usize,
    stride1: usize,
    name: &str,
) -> Result<KerasTensor> {
    let mut x = block_v1(&x, n, filters, stride1, true, &format!("{name}_block1"))?;
    for i in 2..=blocks {
        x = block_v1(&x, n, filters, 1, false, &format!("{name}_block{i}"))?;
    }
    Ok(x)
}

/// The stem shared by ResNet v1 and v2 (Keras's `ResNet`): 7x7/2 convolution, then 3x3/2 max
/// pooling; v1 puts batch normalization and ReLU between them, v2 (`preact`) does not.
pub(super) fn stem(x: &KerasTensor, n: &mut Names, preact: bool) -> Result<KerasTensor> {
    let x = zero_pad(x, n, Some("conv1_pad"), [[3, 3], [3, 3]])?;
    let mut x = Conv::new(64, 7).stride(2).apply(&x, n, Some("conv1_conv"))?;
    if !preact {
        x = bn(&x, n, Some("conv1_bn"), 3, EPS, 0.99, true)?;
        x = act(&x, n, Some("conv1_relu"), "relu")?;
    }
    let x = zero_pad(&x, n, Some("pool1_pad"), [[1, 1], [1, 1]])?;
    max_pool(&x, n, Some("pool1_pool"), 3, 2, false)
}

fn resnet_v1(args: ApplicationArgs, blocks: [usize; 4], name: &str) -> Result<Model> {
    let inputs = input(&args, 224, 32, 1000)?;
    let n = &mut Names::default();
    let mut x = stem(&inputs, n, false)?;
    for (i, (&b, filters)) in blocks.iter().zip([64, 128, 256, 512]).enumerate() {
        let stride1 = if i == 0 { 1 } else { 2 };
        x = stack_v1(x, n, filters, b, stride1, &format!("conv{}", i + 2))?;
    }
    let x = head(x, &args, n, PoolNames::Named, None, 1000, plain_dense)?;
    finish(&inputs, &x, &args, name)
}

/// Keras's `keras.applications.ResNet50`: 25,636,712 parameters with the top.
///
/// # Errors
/// For `weights = ImageNet`, a missing or mismatched weights file, an input smaller than
/// 32x32, or an unknown classifier activation.
///
/// ```no_run
/// use keras::applications::{resnet50, ApplicationArgs, Weights};
/// // Weights Keras saved: keras.applications.ResNet50().save_weights("resnet50.weights.h5")
/// let args = ApplicationArgs { weights: Weights::parse("resnet50.weights.h5"), ..Default::default() };
/// let model = resnet50(args)?;
/// println!("{}", model.summary());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet50(args: ApplicationArgs) -> Result<Model> {
    resnet_v1(args, [3, 4, 6, 3], "resnet50")
}

/// Keras's `keras.applications.ResNet101`: 44,707,176 parameters with the top.
///
/// # Errors
/// As [`resnet50`].
///
/// ```
/// use keras::applications::{resnet101, ApplicationArgs};
/// let m = resnet101(ApplicationArgs { include_top: false, input_shape: Some([32, 32, 3]), ..Default::default() })?;
/// assert_eq!(m.outputs()[0].shape(), &[None, Some(1), Some(1), Some(2048)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet101(args: ApplicationArgs) -> Result<Model> {
    resnet_v1(args, [3, 4, 23, 3], "resnet101")
}

/// Keras's `keras.applications.ResNet152`: 60,419,944 parameters with the top.
///
/// # Errors
/// As [`resnet50`].
///
/// ```no_run
/// let m = keras::applications::resnet152(Default::default())?;
/// assert_eq!(m.count_params(), 60_419_944);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet152(args: ApplicationArgs) -> Result<Model> {
    resnet_v1(args, [3, 8, 36, 3], "resnet152")
}
