//! DenseNet121 (Huang et al. 2016): Keras's `keras/src/applications/densenet.py`.

use super::{
    act, avg_pool, bn, concat, finish, head, input, max_pool, plain_dense, zero_pad, ApplicationArgs, Conv,
    Names, PoolNames,
};
use crate::models::{KerasTensor, Model};
use keras_tensor::Result;

const EPS: f64 = 1.001e-5;

/// Keras's `conv_block`: BN-ReLU-1x1 conv (4 x growth) - BN-ReLU-3x3 conv (growth), then
/// concatenation with the input.
fn conv_block(x: &KerasTensor, n: &mut Names, growth: usize, name: &str) -> Result<KerasTensor> {
    let y = bn(x, n, Some(&format!("{name}_0_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_0_relu")), "relu")?;
    let y = Conv::new(4 * growth, 1)
        .no_bias()
        .apply(&y, n, Some(&format!("{name}_1_conv")))?;
    let y = bn(&y, n, Some(&format!("{name}_1_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_1_relu")), "relu")?;
    let y = Conv::new(growth, 3)
        .same()
        .no_bias()
        .apply(&y, n, Some(&format!("{name}_2_conv")))?;
    concat(&[x, &y], n, Some(&format!("{name}_concat")), 3)
}

/// Keras's `transition_block`: BN-ReLU-1x1 conv halving the channels, 2x2 average pooling.
fn transition_block(x: &KerasTensor, n: &mut Names, reduction: f64, name: &str) -> Result<KerasTensor> {
    let channels = x.shape()[3].unwrap_or(0);
    let y = bn(x, n, Some(&format!("{name}_bn")), 3, EPS, 0.99, true)?;
    let y = act(&y, n, Some(&format!("{name}_relu")), "relu")?;
    let y = Conv::new((channels as f64 * reduction) as usize, 1)
        .no_bias()
        .apply(&y, n, Some(&format!("{name}_conv")))?;
    avg_pool(&y, n, Some(&format!("{name}_pool")), 2, 2, false)
}

fn densenet(args: ApplicationArgs, blocks: [usize; 4], name: &str) -> Result<Model> {
    let inputs = input(&args, 224, 32, 1000)?;
    let n = &mut Names::default();
    let x = zero_pad(&inputs, n, None, [[3, 3], [3, 3]])?;
    let x = Conv::new(64, 7)
        .stride(2)
        .no_bias()
        .apply(&x, n, Some("conv1_conv"))?;
    let x = bn(&x, n, Some("conv1_bn"), 3, EPS, 0.99, true)?;
    let x = act(&x, n, Some("conv1_relu"), "relu")?;
    let x = zero_pad(&x, n, None, [[1, 1], [1, 1]])?;
    let mut x = max_pool(&x, n, Some("pool1"), 3, 2, false)?;
    for (i, &b) in blocks.iter().enumerate() {
        for j in 0..b {
            x = conv_block(&x, n, 32, &format!("conv{}_block{}", i + 2, j + 1))?;
        }
        if i < 3 {
            x = transition_block(&x, n, 0.5, &format!("pool{}", i + 2))?;
        }
    }
    let x = bn(&x, n, Some("bn"), 3, EPS, 0.99, true)?;
    let x = act(&x, n, Some("relu"), "relu")?;
    let x = head(x, &args, n, PoolNames::Named, None, 1000, plain_dense)?;
    finish(&inputs, &x, &args, name)
}

/// Keras's `keras.applications.DenseNet121`: 8,062,504 parameters with the top.
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// let m = keras::applications::densenet121(Default::default())?;
/// assert_eq!(m.count_params(), 8_062_504);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn densenet121(args: ApplicationArgs) -> Result<Model> {
    densenet(args, [6, 12, 24, 16], "densenet121")
}
