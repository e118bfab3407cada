//! Keras's `keras.applications`: the classic image classification networks, built with the
//! same functional graph, layer names and layer order as Keras 3, so a `.weights.h5` file that
//! Keras saved for one of them loads here with [`ApplicationArgs::weights`].
//!
//! | Keras            | here                               | params (`include_top`) |
//! |------------------|------------------------------------|-----------------------:|
//! | `ResNet50`       | [`resnet50`]                       | 25,636,712 |
//! | `ResNet101`      | [`resnet101`]                      | 44,707,176 |
//! | `ResNet152`      | [`resnet152`]                      | 60,419,944 |
//! | `ResNet50V2`     | [`resnet50_v2`]                    | 25,613,800 |
//! | `VGG16`          | [`vgg16`]                          | 138,357,544 |
//! | `VGG19`          | [`vgg19`]                          | 143,667,240 |
//! | `MobileNetV2`    | [`mobilenet_v2`], [`mobilenet_v2_alpha`] | 3,538,984 |
//! | `InceptionV3`    | [`inception_v3`]                   | 23,851,784 |
//! | `DenseNet121`    | [`densenet121`]                    | 8,062,504 |
//! | `EfficientNetB0` | [`efficientnet_b0`]                | 5,330,571 |
//! | `Xception`       | [`xception`]                       | 22,910,480 |
//! | (not in Keras)   | [`resnet_cifar`], [`resnet20_cifar`] | 274,826 (depth 20) |
//!
//! [`get`] finds a builder by name (`"ResNet50"`, `"resnet50"`, `"mobilenet_v2"`,
//! `"resnet20_cifar"`, …).
//!
//! Layers Keras names automatically (`conv2d_3`, `batch_normalization_7` in InceptionV3, for
//! one) get the names a fresh Keras session gives them, whatever else the program built
//! before, so summaries and configs read as Keras's.
//!
//! Keras-rs cannot download Keras's ImageNet weights (`weights="imagenet"`): save them with
//! Keras (`keras.applications.ResNet50().save_weights("resnet50.weights.h5")`) and pass the
//! path.
//!
//! ```
//! use keras::applications::{self, ApplicationArgs, Pooling};
//! let model = applications::resnet20_cifar()?;
//! assert_eq!(model.count_params(), 274_826);
//! // A feature extractor: no classifier, global average pooling, any image size.
//! let features = applications::mobilenet_v2_alpha(
//!     0.35,
//!     ApplicationArgs { include_top: false, pooling: Some(Pooling::Avg), ..Default::default() },
//! )?;
//! assert_eq!(features.outputs()[0].shape(), &[None, Some(1280)]);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

mod densenet;
mod efficientnet;
mod inception_v3;
mod mobilenet_v2;
mod resnet;
mod resnet_cifar;
mod resnet_v2;
mod vgg;
mod xception;

pub use densenet::densenet121;
pub use efficientnet::efficientnet_b0;
pub use inception_v3::inception_v3;
pub use mobilenet_v2::{mobilenet_v2, mobilenet_v2_alpha};
pub use resnet::{resnet101, resnet152, resnet50};
pub use resnet_cifar::{resnet20_cifar, resnet_cifar, resnet_cifar_with};
pub use resnet_v2::resnet50_v2;
pub use vgg::{vgg16, vgg19};
pub use xception::xception;

use crate::layers::{
    Activation, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, Dense, Flatten,
    GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D, ZeroPadding2D,
};
use crate::models::{Apply, Input, KerasTensor, Model};
use keras_tensor::{Error, Result};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;

/// Pretrained weights to load into a built application (Keras's `weights` argument).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Weights {
    /// Random initialization (Keras's `weights=None`).
    #[default]
    None,
    /// Keras's `"imagenet"`: refused with an error, since keras-rs cannot download the files;
    /// save them with Keras and use [`Weights::Path`].
    ImageNet,
    /// A `.weights.h5` file Keras (`model.save_weights`) or keras-rs saved for the same
    /// architecture and arguments.
    Path(PathBuf),
}

impl Weights {
    /// Keras's spelling: `"imagenet"`, `"None"` / `""`, or a path.
    ///
    /// ```
    /// use keras::applications::Weights;
    /// assert_eq!(Weights::parse("imagenet"), Weights::ImageNet);
    /// assert_eq!(Weights::parse("r.weights.h5"), Weights::Path("r.weights.h5".into()));
    /// ```
    pub fn parse(s: &str) -> Weights {
        match s {
            "imagenet" => Weights::ImageNet,
            "" | "None" | "none" => Weights::None,
            p => Weights::Path(PathBuf::from(p)),
        }
    }
}

/// Global pooling of the last feature map when `include_top` is false (Keras's `pooling`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// `"avg"`: `GlobalAveragePooling2D`, the output is `(batch, channels)`.
    Avg,
    /// `"max"`: `GlobalMaxPooling2D`.
    Max,
}

impl Pooling {
    /// `"avg"` or `"max"`.
    ///
    /// # Errors
    /// For any other value.
    ///
    /// ```
    /// assert_eq!(keras::applications::Pooling::parse("max")?, keras::applications::Pooling::Max);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Pooling> {
        match s {
            "avg" => Ok(Pooling::Avg),
            "max" => Ok(Pooling::Max),
            _ => Err(invalid(format!(
                "pooling must be \"avg\", \"max\" or None, got {s:?}"
            ))),
        }
    }
}

/// The arguments every application takes, with Keras's defaults.
///
/// ```
/// use keras::applications::{self, ApplicationArgs};
/// let args = ApplicationArgs { input_shape: Some([64, 64, 3]), classes: Some(10), ..Default::default() };
/// let model = applications::resnet50(args)?;
/// assert_eq!(model.outputs()[0].shape(), &[None, Some(10)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationArgs {
    /// With the classifier (global pooling + `Dense(classes)`, or VGG's fully connected
    /// layers) on top. Default `true`.
    pub include_top: bool,
    /// Weights to load after building. Default [`Weights::None`].
    pub weights: Weights,
    /// Image shape `(height, width, channels)`. `None`: the model's default size (224x224x3
    /// for most, 299x299x3 for InceptionV3 and Xception, 32x32x3 for the CIFAR ResNets) with
    /// `include_top`, and any height and width (`(None, None, 3)`) without.
    pub input_shape: Option<[usize; 3]>,
    /// Global pooling when `include_top` is false; ignored otherwise. Default `None` (the
    /// output is the last 4-D feature map).
    pub pooling: Option<Pooling>,
    /// Number of classes of the classifier. `None`: 1000 (ImageNet), 10 for the CIFAR ResNets.
    pub classes: Option<usize>,
    /// Activation of the classifier; `"linear"` (or `""`) gives logits. Default `"softmax"`.
    pub classifier_activation: String,
    /// The model's name; `None`: Keras's (`"resnet50"`, `"mobilenetv2_1.00_224"`, …).
    pub name: Option<String>,
}

impl Default for ApplicationArgs {
    fn default() -> ApplicationArgs {
        ApplicationArgs {
            include_top: true,
            weights: Weights::None,
            input_shape: None,
            pooling: None,
            classes: None,
            classifier_activation: "softmax".into(),
            name: None,
        }
    }
}

/// A builder of one application.
pub type Builder = fn(ApplicationArgs) -> Result<Model>;

/// The applications by Keras's name, with their builders.
pub const APPLICATIONS: &[(&str, Builder)] = &[
    ("ResNet50", resnet50),
    ("ResNet101", resnet101),
    ("ResNet152", resnet152),
    ("ResNet50V2", resnet50_v2),
    ("VGG16", vgg16),
    ("VGG19", vgg19),
    ("MobileNetV2", mobilenet_v2),
    ("InceptionV3", inception_v3),
    ("DenseNet121", densenet121),
    ("EfficientNetB0", efficientnet_b0),
    ("Xception", xception),
];

/// The names [`get`] knows: Keras's application names, then the CIFAR ResNets.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = APPLICATIONS.iter().map(|(n, _)| n.to_string()).collect();
    v.extend([20, 32, 44, 56, 110].iter().map(|d| format!("resnet{d}_cifar")));
    v
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The CIFAR ResNet depth named by `name` (`"resnet20_cifar"` → 20).
fn cifar_depth(name: &str) -> Option<usize> {
    normalize(name)
        .strip_prefix("resnet")?
        .strip_suffix("cifar")?
        .parse()
        .ok()
}

/// True when [`get`] knows `name`.
///
/// ```
/// assert!(keras::applications::is_application("ResNet50"));
/// assert!(keras::applications::is_application("resnet20_cifar"));
/// assert!(!keras::applications::is_application("model.keras"));
/// ```
pub fn is_application(name: &str) -> bool {
    let n = normalize(name);
    APPLICATIONS.iter().any(|(k, _)| normalize(k) == n) || cifar_depth(name).is_some()
}

/// Builds the application called `name`: Keras's name (`"ResNet50"`, `"MobileNetV2"`), in any
/// case and with or without underscores (`"resnet50"`, `"mobilenet_v2"`), or
/// `"resnet{depth}_cifar"` (depth `6n + 2`).
///
/// # Errors
/// For an unknown name (the error lists the known ones), or as the builder.
///
/// ```
/// use keras::applications::{self, ApplicationArgs};
/// let m = applications::get("resnet20_cifar", ApplicationArgs::default())?;
/// assert_eq!(m.count_params(), 274_826);
/// assert!(applications::get("ResNet51", ApplicationArgs::default()).is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn get(name: &str, args: ApplicationArgs) -> Result<Model> {
    let n = normalize(name);
    if let Some((_, b)) = APPLICATIONS.iter().find(|(k, _)| normalize(k) == n) {
        return b(args);
    }
    if let Some(depth) = cifar_depth(name) {
        return resnet_cifar_with(depth, args);
    }
    Err(invalid(format!(
        "unknown application {name:?}; known: {}",
        names().join(", ")
    )))
}

pub(crate) fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "applications",
        msg,
    }
}

/// Names for layers Keras names automatically, counted per model as a fresh Keras session
/// counts them (`conv2d`, `conv2d_1`, …).
#[derive(Default)]
pub(crate) struct Names(HashMap<String, usize>);

impl Names {
    /// `given`, or the next automatic name for `prefix`.
    pub fn or_auto(&mut self, given: Option<&str>, prefix: &str) -> String {
        match given {
            Some(n) => n.to_string(),
            None => {
                let c = self.0.entry(prefix.to_string()).or_insert(0);
                let n = if *c == 0 {
                    prefix.to_string()
                } else {
                    format!("{prefix}_{c}")
                };
                *c += 1;
                n
            }
        }
    }
}

/// What an application checks before building, as Keras's `obtain_input_shape` and the
/// `weights` / `classes` checks: returns the input tensor.
pub(crate) fn input(
    args: &ApplicationArgs,
    default_size: usize,
    min_size: usize,
    default_classes: usize,
) -> Result<KerasTensor> {
    if args.weights == Weights::ImageNet {
        return Err(invalid(
            "weights=\"imagenet\": keras-rs cannot download Keras's ImageNet weights; save them \
             with Keras (keras.applications.<Model>().save_weights(\"model.weights.h5\")) and \
             pass the path (Weights::Path)"
                .into(),
        ));
    }
    if let Weights::Path(p) = &args.weights {
        if !p.exists() {
            return Err(invalid(format!(
                "the weights argument should be None or the path to a weights file; {} does not exist",
                p.display()
            )));
        }
    }
    if args.include_top && args.classes.unwrap_or(default_classes) == 0 {
        return Err(invalid("classes must be at least 1".into()));
    }
    let shape: Vec<Option<usize>> = match args.input_shape {
        Some(s) => {
            if s[0] < min_size || s[1] < min_size {
                return Err(invalid(format!(
                    "input size must be at least {min_size}x{min_size}; received input_shape={s:?}"
                )));
            }
            s.iter().map(|&d| Some(d)).collect()
        }
        None if args.include_top => vec![Some(default_size), Some(default_size), Some(3)],
        None => vec![None, None, Some(3)],
    };
    Ok(Input::with(&shape, keras_tensor::DType::F32, None))
}

/// How an application names the pooling layers of its head.
#[derive(Clone, Copy)]
pub(crate) enum PoolNames {
    /// `avg_pool` / `max_pool` in both cases (ResNet, DenseNet, EfficientNet).
    Named,
    /// `avg_pool` with the top, automatic names for `pooling` (InceptionV3, Xception).
    TopOnly,
    /// Automatic names always (MobileNetV2).
    Auto,
}

/// `GlobalAveragePooling2D` + `Dense(classes, classifier_activation, name="predictions")` with
/// the top, else the optional global pooling; `dropout` goes between pooling and classifier
/// (EfficientNet's `top_dropout`).
pub(crate) fn head(
    x: KerasTensor,
    args: &ApplicationArgs,
    names: &mut Names,
    pool_names: PoolNames,
    dropout: Option<f64>,
    default_classes: usize,
    dense: impl FnOnce(usize, &str) -> Result<Dense>,
) -> Result<KerasTensor> {
    let named = |top: bool, n: &'static str| match (pool_names, top) {
        (PoolNames::Named, _) | (PoolNames::TopOnly, true) => Some(n),
        _ => None,
    };
    if args.include_top {
        let x = gap(&x, names, named(true, "avg_pool"))?;
        let x = match dropout {
            Some(rate) if rate > 0.0 => crate::layers::Dropout::new(rate)?.name("top_dropout").apply(&x)?,
            _ => x,
        };
        dense(
            args.classes.unwrap_or(default_classes),
            &args.classifier_activation,
        )?
        .name("predictions")
        .apply(&x)
    } else {
        match args.pooling {
            Some(Pooling::Avg) => gap(&x, names, named(false, "avg_pool")),
            Some(Pooling::Max) => {
                let n = names.or_auto(named(false, "max_pool"), "global_max_pooling2d");
                GlobalMaxPooling2D::new().name(&n).apply(&x)
            }
            None => Ok(x),
        }
    }
}

/// The plain classifier layer: `Dense(classes, activation)`.
pub(crate) fn plain_dense(classes: usize, activation: &str) -> Result<Dense> {
    Dense::new(classes).activation(activation)
}

/// Names the model and loads the weights file, if any.
pub(crate) fn finish(
    input: &KerasTensor,
    output: &KerasTensor,
    args: &ApplicationArgs,
    default_name: &str,
) -> Result<Model> {
    let mut model = Model::new(&[input], &[output])?.name(args.name.as_deref().unwrap_or(default_name));
    if let Weights::Path(p) = &args.weights {
        model.load_weights(p)?;
    }
    Ok(model)
}

// Small helpers that apply one named layer.

/// A `Conv2D` with the arguments applications vary.
pub(crate) struct Conv {
    pub filters: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub same: bool,
    pub use_bias: bool,
    pub activation: &'static str,
}

impl Conv {
    /// `filters` square `k` kernel, stride 1, valid padding, with bias, linear.
    pub fn new(filters: usize, k: usize) -> Conv {
        Conv {
            filters,
            kernel: [k, k],
            strides: [1, 1],
            same: false,
            use_bias: true,
            activation: "linear",
        }
    }
    pub fn kernel(mut self, k: [usize; 2]) -> Conv {
        self.kernel = k;
        self
    }
    pub fn stride(mut self, s: usize) -> Conv {
        self.strides = [s, s];
        self
    }
    pub fn same(mut self) -> Conv {
        self.same = true;
        self
    }
    pub fn no_bias(mut self) -> Conv {
        self.use_bias = false;
        self
    }
    pub fn activation(mut self, a: &'static str) -> Conv {
        self.activation = a;
        self
    }
    /// Applies the convolution named `name` (automatic when `None`).
    pub fn apply(self, x: &KerasTensor, names: &mut Names, name: Option<&str>) -> Result<KerasTensor> {
        let n = names.or_auto(name, "conv2d");
        Conv2D::new(self.filters, 1)
            .kernel_size(self.kernel)
            .strides(self.strides)
            .padding(if self.same { "same" } else { "valid" })?
            .use_bias(self.use_bias)
            .activation(self.activation)?
            .name(&n)
            .apply(x)
    }
}

/// `BatchNormalization(axis, epsilon, momentum, scale)`.
pub(crate) fn bn(
    x: &KerasTensor,
    names: &mut Names,
    name: Option<&str>,
    axis: isize,
    epsilon: f64,
    momentum: f64,
    scale: bool,
) -> Result<KerasTensor> {
    let n = names.or_auto(name, "batch_normalization");
    BatchNormalization::new()
        .axis(axis)
        .epsilon(epsilon)
        .momentum(momentum)
        .scale(scale)
        .name(&n)
        .apply(x)
}

/// `Activation(activation)`.
pub(crate) fn act(
    x: &KerasTensor,
    names: &mut Names,
    name: Option<&str>,
    activation: &str,
) -> Result<KerasTensor> {
    let n = names.or_auto(name, "activation");
    Activation::from_config(&json!({"name": n, "activation": activation}))?.apply(x)
}

/// `ZeroPadding2D(((top, bottom), (left, right)))`.
pub(crate) fn zero_pad(
    x: &KerasTensor,
    names: &mut Names,
    name: Option<&str>,
    p: [[usize; 2]; 2],
) -> Result<KerasTensor> {
    let n = names.or_auto(name, "zero_padding2d");
    ZeroPadding2D::new(0).padding(p).name(&n).apply(x)
}

/// `MaxPooling2D(pool, strides, padding)`.
pub(crate) fn max_pool(
    x: &KerasTensor,
    names: &mut Names,
    name: Option<&str>,
    pool: usize,
    stride: usize,
    same: bool,
) -> Result<KerasTensor> {
    let n = names.or_auto(name, "max_pooling2d");
    MaxPooling2D::new(pool)
        .strides([stride; 2])
        .padding(if same { "same" } else { "valid" })?
        .name(&n)
        .apply(x)
}

/// `AveragePooling2D(pool, strides, padding)`.
pub(crate) fn avg_pool(
    x: &KerasTensor,
    names: &mut Names,
    name: Option<&str>,
    pool: usize,
    stride: usize,
    same: bool,
) -> Result<KerasTensor> {
    let n = names.or_auto(name, "average_pooling2d");
    AveragePooling2D::new(pool)
        .strides([stride; 2])
        .padding(if same { "same" } else { "valid" })?
        .name(&n)
        .apply(x)
}

/// `GlobalAveragePooling2D()`.
pub(crate) fn gap(x: &KerasTensor, names: &mut Names, name: Option<&str>) -> Result<KerasTensor> {
    let n = names.or_auto(name, "global_average_pooling2d");
    GlobalAveragePooling2D::new().name(&n).apply(x)
}

/// `Add()([a, b, …])`.
pub(crate) fn add(xs: &[&KerasTensor], names: &mut Names, name: Option<&str>) -> Result<KerasTensor> {
    let n = names.or_auto(name, "add");
    Add::new().name(&n).apply_list(xs)
}

/// `Concatenate(axis)([a, b, …])`.
pub(crate) fn concat(
    xs: &[&KerasTensor],
    names: &mut Names,
    name: Option<&str>,
    axis: isize,
) -> Result<KerasTensor> {
    let n = names.or_auto(name, "concatenate");
    Concatenate::new().axis(axis).name(&n).apply_list(xs)
}

/// `Flatten()`.
pub(crate) fn flatten(x: &KerasTensor, names: &mut Names, name: Option<&str>) -> Result<KerasTensor> {
    let n = names.or_auto(name, "flatten");
    Flatten::from_config(&json!({ "name": n }))?.apply(x)
}

/// Keras's `imagenet_utils.correct_pad`: the zero padding before a strided `valid`
/// convolution that makes it match TensorFlow's `same`.
pub(crate) fn correct_pad(x: &KerasTensor, k: usize) -> [[usize; 2]; 2] {
    let s = x.shape();
    let adjust = |d: Option<usize>| d.map_or(1, |d| 1 - d % 2);
    let c = k / 2;
    [[c - adjust(s[1]), c], [c - adjust(s[2]), c]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_per_prefix_like_a_fresh_keras_session() {
        let mut n = Names::default();
        assert_eq!(n.or_auto(None, "conv2d"), "conv2d");
        assert_eq!(n.or_auto(Some("stem"), "conv2d"), "stem");
        assert_eq!(n.or_auto(None, "conv2d"), "conv2d_1");
        assert_eq!(n.or_auto(None, "add"), "add");
    }

    #[test]
    fn lookup_accepts_keras_and_snake_case_names() {
        for n in [
            "ResNet50",
            "resnet50",
            "RESNET50",
            "mobilenet_v2",
            "MobileNetV2",
            "resnet56_cifar",
        ] {
            assert!(is_application(n), "{n}");
        }
        assert!(!is_application("resnet"));
        let e = get("NoSuchNet", ApplicationArgs::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown application") && e.contains("EfficientNetB0"),
            "{e}"
        );
    }

    #[test]
    fn imagenet_weights_and_bad_arguments_are_clear_errors() {
        let args = ApplicationArgs {
            weights: Weights::parse("imagenet"),
            ..Default::default()
        };
        let e = resnet20_cifar_args(args).unwrap_err().to_string();
        assert!(e.contains("cannot download") && e.contains("path"), "{e}");
        let args = ApplicationArgs {
            weights: Weights::parse("/no/such/file.weights.h5"),
            ..Default::default()
        };
        assert!(resnet20_cifar_args(args)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        let args = ApplicationArgs {
            input_shape: Some([16, 16, 3]),
            ..Default::default()
        };
        assert!(vgg16(args).unwrap_err().to_string().contains("at least 32x32"));
        assert!(Pooling::parse("mean").is_err());
    }

    fn resnet20_cifar_args(args: ApplicationArgs) -> Result<Model> {
        resnet_cifar_with(20, args)
    }

    #[test]
    fn correct_pad_matches_keras() {
        // imagenet_utils.correct_pad on (None, 224, 224, 3) and (None, 225, 225, 3), kernel 3,
        // and on unknown sizes, kernel 5.
        let x = Input::new(&[224, 224, 3]);
        assert_eq!(correct_pad(&x, 3), [[0, 1], [0, 1]]);
        let x = Input::new(&[225, 225, 3]);
        assert_eq!(correct_pad(&x, 3), [[1, 1], [1, 1]]);
        let x = Input::with(&[None, None, Some(3)], keras_tensor::DType::F32, None);
        assert_eq!(correct_pad(&x, 5), [[1, 2], [1, 2]]);
    }
}
