//! VGG16 and VGG19 (Simonyan & Zisserman 2014): Keras's `keras/src/applications/vgg16.py` and
//! `vgg19.py`.

use super::{finish, flatten, gap, input, max_pool, ApplicationArgs, Conv, Names, Pooling};
use crate::layers::{Dense, GlobalMaxPooling2D};
use crate::models::{Apply, Model};
use keras_tensor::Result;

fn vgg(args: ApplicationArgs, convs: [usize; 5], name: &str) -> Result<Model> {
    let inputs = input(&args, 224, 32, 1000)?;
    let n = &mut Names::default();
    let mut x = inputs.clone();
    for (b, (&k, filters)) in convs.iter().zip([64, 128, 256, 512, 512]).enumerate() {
        for c in 1..=k {
            let conv = Conv::new(filters, 3).same().activation("relu");
            x = conv.apply(&x, n, Some(&format!("block{}_conv{c}", b + 1)))?;
        }
        x = max_pool(&x, n, Some(&format!("block{}_pool", b + 1)), 2, 2, false)?;
    }
    let x = if args.include_top {
        let x = flatten(&x, n, Some("flatten"))?;
        let x = Dense::new(4096).activation("relu")?.name("fc1").apply(&x)?;
        let x = Dense::new(4096).activation("relu")?.name("fc2").apply(&x)?;
        Dense::new(args.classes.unwrap_or(1000))
            .activation(&args.classifier_activation)?
            .name("predictions")
            .apply(&x)?
    } else {
        match args.pooling {
            Some(Pooling::Avg) => gap(&x, n, None)?,
            Some(Pooling::Max) => {
                let name = n.or_auto(None, "global_max_pooling2d");
                GlobalMaxPooling2D::new().name(&name).apply(&x)?
            }
            None => x,
        }
    };
    finish(&inputs, &x, &args, name)
}

/// Keras's `keras.applications.VGG16`: 138,357,544 parameters with the top (14,714,688
/// without).
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// use keras::applications::{vgg16, ApplicationArgs};
/// let m = vgg16(ApplicationArgs { include_top: false, ..Default::default() })?;
/// assert_eq!(m.count_params(), 14_714_688);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn vgg16(args: ApplicationArgs) -> Result<Model> {
    vgg(args, [2, 2, 3, 3, 3], "vgg16")
}

/// Keras's `keras.applications.VGG19`: 143,667,240 parameters with the top (20,024,384
/// without).
///
/// # Errors
/// As [`super::resnet50`].
///
/// ```
/// use keras::applications::{vgg19, ApplicationArgs};
/// let m = vgg19(ApplicationArgs { include_top: false, ..Default::default() })?;
/// assert_eq!(m.count_params(), 20_024_384);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn vgg19(args: ApplicationArgs) -> Result<Model> {
    vgg(args, [2, 2, 4, 4, 4], "vgg19")
}
