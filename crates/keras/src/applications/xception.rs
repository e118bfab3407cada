//! Xception (Chollet 2016): Keras's `keras/src/applications/xception.py`.

use super::{
    act, add, bn, finish, head, input, max_pool, plain_dense, ApplicationArgs, Conv, Names, PoolNames,
};
use crate::layers::SeparableConv2D;
use crate::models::{Apply, KerasTensor, Model};
use keras_tensor::Result;

fn sep(x: &KerasTensor, filters: usize, name: &str) -> Result<KerasTensor> {
    SeparableConv2D::new(filters, 3)
        .padding("same")?
        .use_bias(false)
        .name(name)
        .apply(x)
}

fn bn_(x: &KerasTensor, n: &mut Names, name: Option<&str>) -> Result<KerasTensor> {
    bn(x, n, name, -1, 1e-3, 0.99, true)
}

/// The unnamed 1x1/2 convolution + batch normalization of the entry and exit flows.
fn residual(x: &KerasTensor, n: &mut Names, filters: usize) -> Result<KerasTensor> {
    let r = Conv::new(filters, 1)
        .stride(2)
        .same()
        .no_bias()
        .apply(x, n, None)?;
    bn_(&r, n, None)
}

/// Keras's `keras.applications.Xception`: 22,910,480 parameters with the top; default input
/// 299x299x3, at least 71x71.
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// let m = keras::applications::xception(Default::default())?;
/// assert_eq!(m.count_params(), 22_910_480);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn xception(args: ApplicationArgs) -> Result<Model> {
    let inputs = input(&args, 299, 71, 1000)?;
    let n = &mut Names::default();
    let x = Conv::new(32, 3)
        .stride(2)
        .no_bias()
        .apply(&inputs, n, Some("block1_conv1"))?;
    let x = bn_(&x, n, Some("block1_conv1_bn"))?;
    let x = act(&x, n, Some("block1_conv1_act"), "relu")?;
    let x = Conv::new(64, 3).no_bias().apply(&x, n, Some("block1_conv2"))?;
    let x = bn_(&x, n, Some("block1_conv2_bn"))?;
    let mut x = act(&x, n, Some("block1_conv2_act"), "relu")?;

    // Entry flow: blocks 2-4. Block 2 starts without the ReLU.
    for (b, filters) in [(2, 128), (3, 256), (4, 728)] {
        let r = residual(&x, n, filters)?;
        if b > 2 {
            x = act(&x, n, Some(&format!("block{b}_sepconv1_act")), "relu")?;
        }
        x = sep(&x, filters, &format!("block{b}_sepconv1"))?;
        x = bn_(&x, n, Some(&format!("block{b}_sepconv1_bn")))?;
        x = act(&x, n, Some(&format!("block{b}_sepconv2_act")), "relu")?;
        x = sep(&x, filters, &format!("block{b}_sepconv2"))?;
        x = bn_(&x, n, Some(&format!("block{b}_sepconv2_bn")))?;
        x = max_pool(&x, n, Some(&format!("block{b}_pool")), 3, 2, true)?;
        x = add(&[&x, &r], n, None)?;
    }

    // Middle flow: blocks 5-12.
    for i in 0..8 {
        let r = x.clone();
        let p = format!("block{}", i + 5);
        for s in 1..=3 {
            x = act(&x, n, Some(&format!("{p}_sepconv{s}_act")), "relu")?;
            x = sep(&x, 728, &format!("{p}_sepconv{s}"))?;
            x = bn_(&x, n, Some(&format!("{p}_sepconv{s}_bn")))?;
        }
        x = add(&[&x, &r], n, None)?;
    }

    // Exit flow.
    let r = residual(&x, n, 1024)?;
    x = act(&x, n, Some("block13_sepconv1_act"), "relu")?;
    x = sep(&x, 728, "block13_sepconv1")?;
    x = bn_(&x, n, Some("block13_sepconv1_bn"))?;
    x = act(&x, n, Some("block13_sepconv2_act"), "relu")?;
    x = sep(&x, 1024, "block13_sepconv2")?;
    x = bn_(&x, n, Some("block13_sepconv2_bn"))?;
    x = max_pool(&x, n, Some("block13_pool"), 3, 2, true)?;
    x = add(&[&x, &r], n, None)?;
    x = sep(&x, 1536, "block14_sepconv1")?;
    x = bn_(&x, n, Some("block14_sepconv1_bn"))?;
    x = act(&x, n, Some("block14_sepconv1_act"), "relu")?;
    x = sep(&x, 2048, "block14_sepconv2")?;
    x = bn_(&x, n, Some("block14_sepconv2_bn"))?;
    x = act(&x, n, Some("block14_sepconv2_act"), "relu")?;
    let x = head(x, &args, n, PoolNames::TopOnly, None, 1000, plain_dense)?;
    finish(&inputs, &x, &args, "xception")
}
