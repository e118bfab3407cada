//! The CIFAR-10 ResNet v1 of He et al. 2015 (section 4.2): 3x3 convolution with 16 filters,
//! then three stages of `n = (depth - 2) / 6` basic blocks with 16, 32 and 64 filters (the
//! first block of stages 2 and 3 halves the image), global average pooling and a softmax
//! classifier. Shortcuts are 1x1 projections where the shape changes (option B). Not in
//! Keras; layer names follow Keras's ResNet50 (`conv2_block1_1_conv`, …), and
//! `scripts/gen_applications_reference.py` writes the same network with Keras layers.

use super::{act, add, bn, finish, input, invalid, ApplicationArgs, Conv, Names};
use crate::layers::Dense;
use crate::models::{KerasTensor, Model};
use keras_tensor::Result;

fn conv_bn(
    x: &KerasTensor,
    n: &mut Names,
    filters: usize,
    k: usize,
    stride: usize,
    prefix: &str,
    relu: bool,
) -> Result<KerasTensor> {
    let x = Conv::new(filters, k)
        .stride(stride)
        .same()
        .apply(x, n, Some(&format!("{prefix}_conv")))?;
    let x = bn(&x, n, Some(&format!("{prefix}_bn")), -1, 1e-3, 0.99, true)?;
    if relu {
        act(&x, n, Some(&format!("{prefix}_relu")), "relu")
    } else {
        Ok(x)
    }
}

/// The CIFAR ResNet of `depth` (20, 32, 44, 56, 110, …: `6n + 2`) with [`ApplicationArgs`]:
/// `input_shape` defaults to 32x32x3 and `classes` to 10; `include_top: false` ends at the
/// last block (`pooling` applies).
///
/// # Errors
/// For a depth that is not `6n + 2` (n ≥ 1), or as [`super::resnet50`].
///
/// ```
/// use keras::applications::{resnet_cifar_with, ApplicationArgs};
/// let m = resnet_cifar_with(20, ApplicationArgs { classes: Some(100), ..Default::default() })?;
/// assert_eq!(m.outputs()[0].shape(), &[None, Some(100)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet_cifar_with(depth: usize, args: ApplicationArgs) -> Result<Model> {
    if depth < 8 || (depth - 2) % 6 != 0 {
        return Err(invalid(format!(
            "the CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110, …), got {depth}"
        )));
    }
    let blocks = (depth - 2) / 6;
    let args = ApplicationArgs {
        input_shape: Some(args.input_shape.unwrap_or([32, 32, 3])),
        ..args
    };
    let inputs = input(&args, 32, 8, 10)?;
    let n = &mut Names::default();
    let mut x = conv_bn(&inputs, n, 16, 3, 1, "conv1", true)?;
    let mut channels = 16;
    for (stage, filters) in [16, 32, 64].into_iter().enumerate() {
        for b in 0..blocks {
            let p = format!("conv{}_block{}", stage + 2, b + 1);
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            let shortcut = if stride != 1 || channels != filters {
                conv_bn(&x, n, filters, 1, stride, &format!("{p}_0"), false)?
            } else {
                x.clone()
            };
            let y = conv_bn(&x, n, filters, 3, stride, &format!("{p}_1"), true)?;
            let y = conv_bn(&y, n, filters, 3, 1, &format!("{p}_2"), false)?;
            let y = add(&[&shortcut, &y], n, Some(&format!("{p}_add")))?;
            x = act(&y, n, Some(&format!("{p}_out")), "relu")?;
            channels = filters;
        }
    }
    let x = super::head(x, &args, n, super::PoolNames::Named, None, 10, |c, a| {
        Dense::new(c).activation(a)
    })?;
    finish(&inputs, &x, &args, &format!("resnet{depth}_cifar"))
}

/// The CIFAR ResNet of `depth` for 32x32x3 images and 10 classes.
///
/// # Errors
/// For a depth that is not `6n + 2`.
///
/// ```
/// let m = keras::applications::resnet_cifar(56)?;
/// assert_eq!(m.count_params(), 862_154);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet_cifar(depth: usize) -> Result<Model> {
    resnet_cifar_with(depth, ApplicationArgs::default())
}

/// ResNet-20 for CIFAR-10: 274,826 parameters, 72 layers.
///
/// # Errors
/// None in practice (the arguments are fixed).
///
/// ```
/// use keras::{losses, optimizers, Trainer};
/// let mut model = keras::applications::resnet20_cifar()?;
/// model.compile(optimizers::get("adam")?, losses::get("sparse_categorical_crossentropy")?, &["accuracy"])?;
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn resnet20_cifar() -> Result<Model> {
    resnet_cifar(20)
}
