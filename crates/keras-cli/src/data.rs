//! Training and test data: the named datasets (`mnist`, `fashion_mnist`, `cifar10`) from the
//! dataset cache, or a folder of images with one sub-folder per class.

use std::path::{Path, PathBuf};

use keras::data::{image_dataset_from_directory, Dataset, ImageDatasetOptions, LabelMode};
use keras_datasets::{cifar10, fashion_mnist, mnist, utils, TrainTest};
use keras_tensor::{DType, Tensor};

use crate::model::fmt_shape;
use crate::Result;

/// The help text of `--data`.
pub const DATA_HELP: &str = "mnist, fashion_mnist, cifar10 (from $KERAS_HOME/datasets, downloaded when \
                             missing unless KERAS_OFFLINE=1), or a folder with one sub-folder of images \
                             per class (labels from the sorted sub-folder names); a folder named like a \
                             dataset is written ./mnist";

/// The help text of `--rescale` for training and evaluation.
pub const RESCALE_HELP: &str = "Multiply pixel values (0-255) by this before they enter the model: a \
                                number or a fraction such as 1/255; default 1/255 (pixels in [0, 1]). \
                                Give 1 for a model that rescales itself (a Rescaling layer)";

/// Parses a scale factor: a number (`0.5`, `1e-3`) or a fraction (`1/255`).
pub fn parse_factor(s: &str) -> std::result::Result<f64, String> {
    let bad = || format!("{s:?} is not a number or a fraction such as 1/255");
    let v = match s.split_once('/') {
        Some((a, b)) => {
            let (a, b): (f64, f64) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if b == 0.0 {
                return Err(bad());
            }
            a / b
        }
        None => s.trim().parse().map_err(|_| bad())?,
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// A dataset keras-rs loads by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// MNIST digits, 28x28 grey.
    Mnist,
    /// Fashion-MNIST, 28x28 grey.
    FashionMnist,
    /// CIFAR-10, 32x32 colour.
    Cifar10,
}

impl Named {
    /// The name `--data` takes.
    pub fn name(self) -> &'static str {
        match self {
            Named::Mnist => "mnist",
            Named::FashionMnist => "fashion_mnist",
            Named::Cifar10 => "cifar10",
        }
    }

    /// `((x_train, y_train), (x_test, y_test))` as Keras's `load_data` returns them.
    pub fn load(self) -> Result<TrainTest> {
        Ok(match self {
            Named::Mnist => mnist::load_data()?,
            Named::FashionMnist => fashion_mnist::load_data()?,
            Named::Cifar10 => cifar10::load_data()?,
        })
    }
}

/// What `--data` names.
#[derive(Clone, Debug)]
pub enum Source {
    /// A dataset by name.
    Named(Named),
    /// A folder of class sub-folders.
    Dir(PathBuf),
}

impl Source {
    /// Parses `--data`: a dataset name, else an existing folder.
    pub fn parse(s: &str) -> Result<Source> {
        let named = match s {
            "mnist" => Some(Named::Mnist),
            "fashion_mnist" | "fashion-mnist" => Some(Named::FashionMnist),
            "cifar10" => Some(Named::Cifar10),
            _ => None,
        };
        if let Some(n) = named {
            return Ok(Source::Named(n));
        }
        let p = Path::new(s);
        if p.is_dir() {
            Ok(Source::Dir(p.to_path_buf()))
        } else if p.exists() {
            Err(format!(
                "--data {s}: is a file; give mnist, fashion_mnist, cifar10 or a folder with one sub-folder \
                 of images per class"
            )
            .into())
        } else {
            Err(format!(
                "--data {s}: not a dataset name (mnist, fashion_mnist, cifar10) nor an existing folder"
            )
            .into())
        }
    }
}

/// `uint8` images as `float32` times `rescale`, shaped as the model wants them: MNIST's
/// `(N, 28, 28)` becomes `(N, 28, 28, 1)` for a model taking `(None, 28, 28, 1)`, or
/// `(N, 784)` for one taking `(None, 784)` (any reshape that keeps the sample size).
pub fn images_for_model(
    x: &Tensor,
    rescale: f64,
    shape: Option<&[Option<usize>]>,
    what: &str,
) -> Result<Tensor> {
    let mut x = x.cast(DType::F32)?;
    if rescale != 1.0 {
        x = x.mul_scalar(rescale)?;
    }
    conform(&x, shape, what)
}

/// Reshapes `x` (a batch) to the model's per-sample shape when only the layout differs;
/// fails with both shapes when the sizes differ.
pub fn conform(x: &Tensor, shape: Option<&[Option<usize>]>, what: &str) -> Result<Tensor> {
    let Some(shape) = shape else {
        return Ok(x.clone());
    };
    let want = &shape[1.min(shape.len())..];
    let have = &x.shape()[1.min(x.rank())..];
    let matches = want.len() == have.len() && want.iter().zip(have).all(|(w, h)| w.is_none_or(|w| w == *h));
    if matches {
        return Ok(x.clone());
    }
    let mismatch = || {
        format!(
            "the model takes inputs of shape {}, {what} has shape {}",
            fmt_shape(shape),
            fmt_shape(&x.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>())
        )
    };
    let fixed: Option<Vec<usize>> = want.iter().copied().collect();
    match fixed {
        Some(dims) if dims.iter().product::<usize>() == have.iter().product::<usize>() => {
            let mut to: Vec<isize> = vec![x.shape()[0] as isize];
            to.extend(dims.iter().map(|&d| d as isize));
            Ok(x.reshape(&to)?)
        }
        _ => Err(mismatch().into()),
    }
}

/// Labels as `int64` of shape `(N,)` (CIFAR's come as `(N, 1)` `uint8`), or one-hot
/// `float32` `(N, classes)`.
pub fn labels(y: &Tensor, one_hot: Option<usize>) -> Result<Tensor> {
    let y = y.reshape(&[-1])?.cast(DType::I64)?;
    Ok(match one_hot {
        Some(k) => utils::to_categorical(&y, Some(k))?.cast(DType::F32)?,
        None => y,
    })
}

/// The first `n` samples, when asked.
pub fn limit(t: &Tensor, n: Option<usize>) -> Result<Tensor> {
    match n {
        Some(n) if n < t.shape()[0] => Ok(t.narrow(0, 0, n)?),
        _ => Ok(t.clone()),
    }
}

/// How to read an image folder for a model.
pub struct ImageFolder<'a> {
    /// The folder.
    pub dir: &'a Path,
    /// The model's input shape, `(None, height, width, channels)`.
    pub shape: Option<&'a [Option<usize>]>,
    /// Images per batch.
    pub batch_size: usize,
    /// Factor applied to the 0-255 pixels.
    pub rescale: f64,
    /// One-hot labels (for `categorical_crossentropy`) instead of class indices.
    pub one_hot: bool,
    /// Shuffle every pass (training).
    pub shuffle: bool,
    /// Seed of the shuffle and of the validation split.
    pub seed: u64,
}

impl ImageFolder<'_> {
    /// The folder as batches of `(images, labels)` and the class names; with `subset`,
    /// the `"training"` or `"validation"` part of a `split`.
    pub fn load(&self, split: Option<(f64, &str)>) -> Result<(Dataset, Vec<String>)> {
        let (image_size, mode) = image_format(self.shape, &self.dir.display().to_string())?;
        let opts = ImageDatasetOptions {
            label_mode: Some(if self.one_hot {
                LabelMode::Categorical
            } else {
                LabelMode::Int
            }),
            color_mode: mode.into(),
            batch_size: Some(self.batch_size),
            image_size,
            shuffle: self.shuffle,
            seed: Some(self.seed),
            validation_split: split.map(|(f, _)| f),
            subset: split.map(|(_, s)| s.to_string()),
            ..Default::default()
        };
        let (ds, classes) = image_dataset_from_directory(self.dir, &opts)?;
        let rescale = self.rescale;
        let ds = if rescale == 1.0 {
            ds
        } else {
            ds.map(move |mut e| {
                e[0] = e[0].mul_scalar(rescale)?;
                Ok(e)
            })
        };
        Ok((ds, classes))
    }
}

/// Checks that the labels of an image folder fit the model's outputs.
pub fn check_class_count(classes: &[String], outputs: Option<usize>, dir: &Path) -> Result<()> {
    match outputs {
        Some(k) if k > 1 && classes.len() > k => Err(format!(
            "{} has {} class folders, the model has {k} outputs",
            dir.display(),
            classes.len()
        )
        .into()),
        _ => Ok(()),
    }
}

/// `[height, width]` and the colour mode (`"grayscale"`, `"rgb"`, `"rgba"`) of the images a
/// model with input `shape` `(None, height, width, channels)` takes; `what` names the images.
pub fn image_format(shape: Option<&[Option<usize>]>, what: &str) -> Result<([usize; 2], &'static str)> {
    let Some(shape) = shape else {
        return Err(format!(
            "the model declares no input shape, so the size to read the images of {what} at is unknown \
             (give the model an InputLayer / build_config with (height, width, channels))"
        )
        .into());
    };
    let (h, w, c) = match shape {
        [_, Some(h), Some(w), c] => (*h, *w, *c),
        _ => {
            return Err(format!(
                "the model takes inputs of shape {}, not images (None, height, width, channels) of a fixed \
                 size, so it cannot read {what}",
                fmt_shape(shape)
            )
            .into())
        }
    };
    let mode = match c {
        Some(1) => "grayscale",
        Some(3) | None => "rgb",
        Some(4) => "rgba",
        Some(c) => return Err(format!("the model's images have {c} channels; images have 1, 3 or 4").into()),
    };
    Ok(([h, w], mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_are_numbers_or_fractions() {
        assert_eq!(parse_factor("0.5"), Ok(0.5));
        assert_eq!(parse_factor("1/255"), Ok(1.0 / 255.0));
        assert_eq!(parse_factor(" 2 / 4 "), Ok(0.5));
        for bad in ["", "x", "1/0", "1/", "inf", "1/2/3"] {
            assert!(parse_factor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn conform_adds_a_channel_axis_or_flattens_but_never_changes_sizes() {
        let x = Tensor::zeros(&[2, 28, 28], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let s = |d: &[Option<usize>]| d.to_vec();
        let img = s(&[None, Some(28), Some(28), Some(1)]);
        assert_eq!(conform(&x, Some(&img), "x").unwrap().shape(), &[2, 28, 28, 1]);
        let flat = s(&[None, Some(784)]);
        assert_eq!(conform(&x, Some(&flat), "x").unwrap().shape(), &[2, 784]);
        let free = s(&[None, None, Some(28)]);
        assert_eq!(conform(&x, Some(&free), "x").unwrap().shape(), &[2, 28, 28]);
        assert_eq!(conform(&x, None, "x").unwrap().shape(), &[2, 28, 28]);
        let e = conform(&x, Some(&s(&[None, Some(32), Some(32), Some(3)])), "mnist")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the model takes inputs of shape (None, 32, 32, 3), mnist has shape (2, 28, 28)"
        );
    }

    #[test]
    fn data_names_datasets_or_folders() {
        assert!(matches!(Source::parse("mnist"), Ok(Source::Named(Named::Mnist))));
        assert!(matches!(
            Source::parse("fashion-mnist"),
            Ok(Source::Named(Named::FashionMnist))
        ));
        let tmp = std::env::temp_dir();
        assert!(matches!(Source::parse(tmp.to_str().unwrap()), Ok(Source::Dir(_))));
        assert!(Source::parse("no/such/folder").is_err());
    }
}
