//! InceptionV3 (Szegedy et al. 2015): Keras's `keras/src/applications/inception_v3.py`.
//! Its convolutions are unnamed in Keras, so they are `conv2d`, `conv2d_1`, … here too.

use super::{
    act, avg_pool, bn, concat, finish, head, input, max_pool, plain_dense, ApplicationArgs, Conv, Names,
    PoolNames,
};
use crate::models::{KerasTensor, Model};
use keras_tensor::Result;

/// Keras's `conv2d_bn`: convolution without bias, batch normalization without scale, ReLU.
fn conv_bn(
    x: &KerasTensor,
    n: &mut Names,
    filters: usize,
    k: [usize; 2],
    stride: usize,
    same: bool,
) -> Result<KerasTensor> {
    let mut c = Conv::new(filters, 1).kernel(k).stride(stride).no_bias();
    if same {
        c = c.same();
    }
    let x = c.apply(x, n, None)?;
    let x = bn(&x, n, None, 3, 1e-3, 0.99, false)?;
    act(&x, n, None, "relu")
}

/// `conv_bn` with stride 1 and `"same"` padding, the common case.
fn cb(x: &KerasTensor, n: &mut Names, filters: usize, kh: usize, kw: usize) -> Result<KerasTensor> {
    conv_bn(x, n, filters, [kh, kw], 1, true)
}

/// Keras's `keras.applications.InceptionV3`: 23,851,784 parameters with the top; default
/// input 299x299x3, at least 75x75.
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// use keras::applications::{inception_v3, ApplicationArgs};
/// let m = inception_v3(ApplicationArgs { include_top: false, input_shape: Some([75, 75, 3]), ..Default::default() })?;
/// assert_eq!(m.outputs()[0].shape(), &[None, Some(1), Some(1), Some(2048)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn inception_v3(args: ApplicationArgs) -> Result<Model> {
    let inputs = input(&args, 299, 75, 1000)?;
    let n = &mut Names::default();
    let x = conv_bn(&inputs, n, 32, [3, 3], 2, false)?;
    let x = conv_bn(&x, n, 32, [3, 3], 1, false)?;
    let x = cb(&x, n, 64, 3, 3)?;
    let x = max_pool(&x, n, None, 3, 2, false)?;
    let x = conv_bn(&x, n, 80, [1, 1], 1, false)?;
    let x = conv_bn(&x, n, 192, [3, 3], 1, false)?;
    let mut x = max_pool(&x, n, None, 3, 2, false)?;

    // mixed 0, 1, 2: 35 x 35 x 256 / 288.
    for (i, pool_filters) in [32, 64, 64].into_iter().enumerate() {
        let b1 = cb(&x, n, 64, 1, 1)?;
        let b5 = cb(&x, n, 48, 1, 1)?;
        let b5 = cb(&b5, n, 64, 5, 5)?;
        let b3 = cb(&x, n, 64, 1, 1)?;
        let b3 = cb(&b3, n, 96, 3, 3)?;
        let b3 = cb(&b3, n, 96, 3, 3)?;
        let bp = avg_pool(&x, n, None, 3, 1, true)?;
        let bp = cb(&bp, n, pool_filters, 1, 1)?;
        x = concat(&[&b1, &b5, &b3, &bp], n, Some(&format!("mixed{i}")), 3)?;
    }

    // mixed 3: 17 x 17 x 768.
    let b3 = conv_bn(&x, n, 384, [3, 3], 2, false)?;
    let bd = cb(&x, n, 64, 1, 1)?;
    let bd = cb(&bd, n, 96, 3, 3)?;
    let bd = conv_bn(&bd, n, 96, [3, 3], 2, false)?;
    let bp = max_pool(&x, n, None, 3, 2, false)?;
    x = concat(&[&b3, &bd, &bp], n, Some("mixed3"), 3)?;

    // mixed 4, 5, 6, 7: 17 x 17 x 768.
    for (i, f) in [128, 160, 160, 192].into_iter().enumerate() {
        let b1 = cb(&x, n, 192, 1, 1)?;
        let b7 = cb(&x, n, f, 1, 1)?;
        let b7 = cb(&b7, n, f, 1, 7)?;
        let b7 = cb(&b7, n, 192, 7, 1)?;
        let bd = cb(&x, n, f, 1, 1)?;
        let bd = cb(&bd, n, f, 7, 1)?;
        let bd = cb(&bd, n, f, 1, 7)?;
        let bd = cb(&bd, n, f, 7, 1)?;
        let bd = cb(&bd, n, 192, 1, 7)?;
        let bp = avg_pool(&x, n, None, 3, 1, true)?;
        let bp = cb(&bp, n, 192, 1, 1)?;
        x = concat(&[&b1, &b7, &bd, &bp], n, Some(&format!("mixed{}", 4 + i)), 3)?;
    }

    // mixed 8: 8 x 8 x 1280.
    let b3 = cb(&x, n, 192, 1, 1)?;
    let b3 = conv_bn(&b3, n, 320, [3, 3], 2, false)?;
    let b7 = cb(&x, n, 192, 1, 1)?;
    let b7 = cb(&b7, n, 192, 1, 7)?;
    let b7 = cb(&b7, n, 192, 7, 1)?;
    let b7 = conv_bn(&b7, n, 192, [3, 3], 2, false)?;
    let bp = max_pool(&x, n, None, 3, 2, false)?;
    x = concat(&[&b3, &b7, &bp], n, Some("mixed8"), 3)?;

    // mixed 9, 10: 8 x 8 x 2048.
    for i in 0..2 {
        let b1 = cb(&x, n, 320, 1, 1)?;
        let b3 = cb(&x, n, 384, 1, 1)?;
        let b3_1 = cb(&b3, n, 384, 1, 3)?;
        let b3_2 = cb(&b3, n, 384, 3, 1)?;
        let b3 = concat(&[&b3_1, &b3_2], n, Some(&format!("mixed9_{i}")), 3)?;
        let bd = cb(&x, n, 448, 1, 1)?;
        let bd = cb(&bd, n, 384, 3, 3)?;
        let bd_1 = cb(&bd, n, 384, 1, 3)?;
        let bd_2 = cb(&bd, n, 384, 3, 1)?;
        let bd = concat(&[&bd_1, &bd_2], n, None, 3)?;
        let bp = avg_pool(&x, n, None, 3, 1, true)?;
        let bp = cb(&bp, n, 192, 1, 1)?;
        x = concat(&[&b1, &b3, &bd, &bp], n, Some(&format!("mixed{}", 9 + i)), 3)?;
    }
    let x = head(x, &args, n, PoolNames::TopOnly, None, 1000, plain_dense)?;
    finish(&inputs, &x, &args, "inception_v3")
}
