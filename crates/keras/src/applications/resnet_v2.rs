//! ResNet50V2 (He et al. 2016, pre-activation): Keras's `keras/src/applications/resnet_v2.py`
//! and `residual_block_v2` of `resnet.py`.

use super::resnet::stem;
use super::{
    act, add, bn, finish, head, input, max_pool, plain_dense, zero_pad, ApplicationArgs, Conv, Names,
    PoolNames,
};
use crate::models::{KerasTensor, Model};
use keras_tensor::Result;

const EPS: f64 = 1.001e-5;

/// Keras's `residual_block_v2`: batch normalization and ReLU before the convolutions.
fn block_v2(
    x: &KerasTensor,
    n: &mut Names,
    filters: usize,
    stride: usize,
    conv_shortcut: bool,
    name: &str,
) -> Result<KerasTensor> {
    let preact = bn(x, n, Some(&format!("{name}_preact_bn")), 3, EPS, 0.99, true)?;
    let preact = act(&preact, n, Some(&format!("{name}_preact_relu")), "relu")?;
    let shortcut = if conv_shortcut {
        Conv::new(4 * filters, 1)
            .stride(stride)
            .apply(&preact, n, Some(&format!("{name}_0_conv")))?
    } else if stride > 1 {
        max_pool(x, n, None, 1, stride, false)?
    } else {
        x.clone()
    };
    let y = Conv::new(filters, 1)
        .no_bias()
        .apply(&preact, n, Some(&format!("{name}_1_conv")))?;
    let y = bn(&y, n, Some(&format!("{name}_1_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_1_relu")), "relu")?;
    let y = zero_pad(&y, n, Some(&format!("{name}_2_pad")), [[1, 1], [1, 1]])?;
    let y = Conv::new(filters, 3)
        .stride(stride)
        .no_bias()
        .apply(&y, n, Some(&format!("{name}_2_conv")))?;
    let y = bn(&y, n, Some(&format!("{name}_2_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_2_relu")), "relu")?;
    let y = Conv::new(4 * filters, 1).apply(&y, n, Some(&format!("{name}_3_conv")))?;
    add(&[&shortcut, &y], n, Some(&format!("{name}_out")))
}

/// Keras's `stack_residual_blocks_v2`: the stride is in the last block.
fn stack_v2(
    x: KerasTensor,
    n: &mut Names,
    filters: usize,
    blocks: usize,
    stride1: usize,
    name: &str,
) -> Result<KerasTensor> {
    let mut x = block_v2(&x, n, filters, 1, true, &format!("{name}_block1"))?;
    for i in 2..blocks {
        x = block_v2(&x, n, filters, 1, false, &format!("{name}_block{i}"))?;
    }
    block_v2(&x, n, filters, stride1, false, &format!("{name}_block{blocks}"))
}

/// Keras's `keras.applications.ResNet50V2`: 25,613,800 parameters with the top.
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// use keras::applications::{resnet50_v2, ApplicationArgs, Pooling};
/// let m = resnet50_v2(ApplicationArgs { include_top: false, pooling: Some(Pooling::Avg), ..Default::default() })?;
/// assert_eq!(m.count_params(), 23_564_800);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet50_v2(args: ApplicationArgs) -> Result<Model> {
    let inputs = input(&args, 224, 32, 1000)?;
    let n = &mut Names::default();
    let mut x = stem(&inputs, n, true)?;
    for (i, (b, filters)) in [3, 4, 6, 3].into_iter().zip([64, 128, 256, 512]).enumerate() {
        let stride1 = if i == 3 { 1 } else { 2 };
        x = stack_v2(x, n, filters, b, stride1, &format!("conv{}", i + 2))?;
    }
    let x = bn(&x, n, Some("post_bn"), 3, EPS, 0.99, true)?;
    let x = act(&x, n, Some("post_relu"), "relu")?;
    let x = head(x, &args, n, PoolNames::Named, None, 1000, plain_dense)?;
    finish(&inputs, &x, &args, "resnet50v2")
}
