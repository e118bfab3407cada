//! Images from folders: Keras's `image_dataset_from_directory`, `load_img` and
//! `img_to_array`, decoding with the `image` crate.

use super::Dataset;
use keras_tensor::{DType, Device, Error, Result, Tensor};
use std::path::{Path, PathBuf};

/// The file extensions Keras accepts.
const FORMATS: [&str; 5] = ["bmp", "gif", "jpeg", "jpg", "png"];

fn invalid(op: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op, msg }
}

/// How labels are encoded (Keras's `label_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelMode {
    /// Class indices, `int32` of shape `(batch,)`.
    Int,
    /// One-hot `float32` of shape `(batch, classes)`.
    Categorical,
    /// `float32` 0/1 of shape `(batch, 1)` (exactly two classes).
    Binary,
}

/// Arguments of [`image_dataset_from_directory`], with Keras's defaults.
///
/// ```
/// let o = keras::data::ImageDatasetOptions::default();
/// assert_eq!((o.image_size, o.batch_size, o.color_mode.as_str()), ([256, 256], Some(32), "rgb"));
/// ```
#[derive(Clone, Debug)]
pub struct ImageDatasetOptions {
    /// `true`: labels from the sub-folder names (Keras's `labels="inferred"`); `false`: no
    /// labels (`labels=None`), images only.
    pub infer_labels: bool,
    /// Label encoding (`None`: no labels, as `label_mode=None`).
    pub label_mode: Option<LabelMode>,
    /// Explicit class order (must match the sub-folder names); default: sorted names.
    pub class_names: Option<Vec<String>>,
    /// `"rgb"`, `"grayscale"` or `"rgba"`.
    pub color_mode: String,
    /// Images per batch (`None`: unbatched elements).
    pub batch_size: Option<usize>,
    /// `[height, width]` every image is resized to.
    pub image_size: [usize; 2],
    /// Shuffle the files (and each epoch's order).
    pub shuffle: bool,
    /// Seed of the shuffles and of the validation split.
    pub seed: Option<u64>,
    /// Fraction of the files held out for validation.
    pub validation_split: Option<f64>,
    /// `"training"` or `"validation"` when `validation_split` is set.
    pub subset: Option<String>,
    /// Crop to the target aspect ratio before resizing instead of distorting.
    pub crop_to_aspect_ratio: bool,
}

impl Default for ImageDatasetOptions {
    fn default() -> Self {
        ImageDatasetOptions {
            infer_labels: true,
            label_mode: Some(LabelMode::Int),
            class_names: None,
            color_mode: "rgb".into(),
            batch_size: Some(32),
            image_size: [256, 256],
            shuffle: true,
            seed: None,
            validation_split: None,
            subset: None,
            crop_to_aspect_ratio: false,
        }
    }
}

fn channels(color_mode: &str) -> Result<usize> {
    match color_mode {
        "grayscale" => Ok(1),
        "rgb" => Ok(3),
        "rgba" => Ok(4),
        m => Err(invalid(
            "image_dataset_from_directory",
            format!("color_mode must be \"grayscale\", \"rgb\" or \"rgba\", got {m:?}"),
        )),
    }
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| FORMATS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        invalid(
            "image_dataset_from_directory",
            format!("cannot read {}: {e}", dir.display()),
        )
    })?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

/// Every image file under `dir`, recursively, in sorted order.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in sorted_entries(dir)? {
        if p.is_dir() {
            out.extend(image_files(&p)?);
        } else if is_image(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Decodes an image file into an `(height, width, channels)` float32 tensor of 0–255 values,
/// converted to `color_mode` and, with `target_size`, resized (bilinear) to `[height, width]`.
/// Keras's `load_img` followed by `img_to_array`.
///
/// # Errors
/// When the file cannot be read or decoded (the error names the file).
pub fn load_img(path: impl AsRef<Path>, color_mode: &str, target_size: Option<[usize; 2]>) -> Result<Tensor> {
    load_resized(path.as_ref(), channels(color_mode)?, target_size, false)
}

fn load_resized(path: &Path, c: usize, size: Option<[usize; 2]>, crop: bool) -> Result<Tensor> {
    let img = ::image::open(path)
        .map_err(|e| invalid("load_img", format!("cannot decode {}: {e}", path.display())))?;
    let img = match size {
        Some([h, w]) => {
            let img = if crop {
                // The largest centered window with the target aspect ratio.
                let (iw, ih) = (img.width() as f64, img.height() as f64);
                let target = w as f64 / h as f64;
                let (cw, ch) = if iw / ih > target {
                    (ih * target, ih)
                } else {
                    (iw, iw / target)
                };
                let (cw, ch) = (cw.round().max(1.0) as u32, ch.round().max(1.0) as u32);
                img.crop_imm((img.width() - cw) / 2, (img.height() - ch) / 2, cw, ch)
            } else {
                img
            };
            img.resize_exact(w as u32, h as u32, ::image::imageops::FilterType::Triangle)
        }
        None => img,
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let data: Vec<f32> = match c {
        1 => img.to_luma8().into_raw(),
        3 => img.to_rgb8().into_raw(),
        _ => img.to_rgba8().into_raw(),
    }
    .into_iter()
    .map(f32::from)
    .collect();
    Tensor::from_vec(data, &[h, w, c], &Device::Cpu)
}

/// Keras's `img_to_array`: an `(height, width, channels)` float32 tensor from raw 8-bit
/// pixels in row-major, channels-last order.
///
/// ```
/// let t = keras::data::img_to_array(&[0, 255, 10, 20, 30, 40], 1, 2, 3)?;
/// assert_eq!(t.shape(), &[1, 2, 3]);
/// assert_eq!(t.to_vec::<f32>()?[1], 255.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When `pixels` does not hold `height * width * channels` values.
pub fn img_to_array(pixels: &[u8], height: usize, width: usize, channels: usize) -> Result<Tensor> {
    if pixels.len() != height * width * channels {
        return Err(invalid(
            "img_to_array",
            format!(
                "{} pixels do not fill ({height}, {width}, {channels})",
                pixels.len()
            ),
        ));
    }
    Tensor::from_vec(
        pixels.iter().map(|&p| f32::from(p)).collect(),
        &[height, width, channels],
        &Device::Cpu,
    )
}

/// Keras's `save_img`: writes an `(height, width, channels)` image tensor (1, 3 or 4 channels)
/// to `path`, in the format its extension names (PNG, JPEG, BMP or GIF). With `scale`, values
/// are first stretched to 0–255 as Keras's `array_to_img` does (`x - min`, then divided by the
/// new maximum when it is not 0, times 255); without it they are taken as 0–255 and clamped.
/// The file is written to a temporary name and renamed, so a reader never sees half an image.
///
/// ```
/// use keras_tensor::Tensor;
/// let dir = std::env::temp_dir().join(format!("keras-save-img-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let x = Tensor::new(&[0.0f32, 0.5, 1.0, 0.25], &[2, 2, 1])?;
/// keras::data::save_img(dir.join("x.png"), &x, true)?;
/// let back = keras::data::load_img(dir.join("x.png"), "grayscale", None)?;
/// assert_eq!(back.to_vec::<f32>()?, vec![0.0, 128.0, 255.0, 64.0]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When `x` is not `(height, width, 1|3|4)`, the extension is not an image format, or the
/// file cannot be written.
pub fn save_img(path: impl AsRef<Path>, x: &Tensor, scale: bool) -> Result<()> {
    const OP: &str = "save_img";
    let path = path.as_ref();
    let (h, w, c) = match *x.shape() {
        [h, w, c @ (1 | 3 | 4)] => (h, w, c),
        _ => {
            return Err(invalid(
                OP,
                format!(
                    "expected an image of shape (height, width, 1|3|4), got {:?}",
                    x.shape()
                ),
            ))
        }
    };
    let format = ::image::ImageFormat::from_path(path)
        .ok()
        .filter(|f| {
            matches!(
                f,
                ::image::ImageFormat::Png
                    | ::image::ImageFormat::Jpeg
                    | ::image::ImageFormat::Bmp
                    | ::image::ImageFormat::Gif
            )
        })
        .ok_or_else(|| {
            invalid(
                OP,
                format!(
                    "cannot tell an image format (png, jpg, bmp, gif) from {}",
                    path.display()
                ),
            )
        })?;
    let mut v: Vec<f64> = x.cast(DType::F64)?.to_vec()?;
    if scale {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        v.iter_mut().for_each(|p| *p -= min);
        let max = v.iter().copied().fold(0.0, f64::max);
        if max != 0.0 {
            v.iter_mut().for_each(|p| *p = *p / max * 255.0);
        }
    }
    let pixels: Vec<u8> = v.iter().map(|&p| p.round().clamp(0.0, 255.0) as u8).collect();
    let (w32, h32) = (w as u32, h as u32);
    let img = match c {
        1 => ::image::DynamicImage::ImageLuma8(
            ::image::GrayImage::from_raw(w32, h32, pixels).unwrap_or_default(),
        ),
        3 => ::image::DynamicImage::ImageRgb8(
            ::image::RgbImage::from_raw(w32, h32, pixels).unwrap_or_default(),
        ),
        _ => ::image::DynamicImage::ImageRgba8(
            ::image::RgbaImage::from_raw(w32, h32, pixels).unwrap_or_default(),
        ),
    };
    // JPEG has no alpha channel.
    let img = if format == ::image::ImageFormat::Jpeg && c == 4 {
        ::image::DynamicImage::ImageRgb8(img.to_rgb8())
    } else {
        img
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format)
        .map_err(|e| invalid(OP, format!("cannot encode {}: {e}", path.display())))?;
    crate::saving::write_atomically(path, bytes.get_ref())
}

/// Keras's `image_dataset_from_directory`: a [`Dataset`] of `(images, labels)` batches from
/// `directory/<class>/*.{jpg,png,…}` (labels from the sorted sub-folder names), or of images
/// alone with `infer_labels: false`. Returns the dataset and the class names.
///
/// Images are decoded lazily, in parallel, batch by batch, so memory stays bounded. Keras
/// resizes with `tf.image.resize` (bilinear); here the `image` crate's triangle filter does
/// it, which matches for upscaling and anti-aliases when shrinking, so pixel values can
/// differ slightly from TensorFlow's. The file shuffle before the split uses this crate's
/// generator, not NumPy's, so a seed selects a different (equally random) split than Keras.
///
/// ```no_run
/// use keras::data::{image_dataset_from_directory, ImageDatasetOptions};
/// let opts = ImageDatasetOptions { image_size: [32, 32], validation_split: Some(0.2),
///     subset: Some("training".into()), seed: Some(1337), ..Default::default() };
/// let (train, classes) = image_dataset_from_directory("cifar10-jpeg/train", &opts)?;
/// println!("{} classes, {:?} batches", classes.len(), train.cardinality());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// For a missing folder, no images, bad options, or `class_names` that do not match the
/// folders; a file that fails to decode is an error of the batch that holds it.
pub fn image_dataset_from_directory(
    directory: impl AsRef<Path>,
    opts: &ImageDatasetOptions,
) -> Result<(Dataset, Vec<String>)> {
    const OP: &str = "image_dataset_from_directory";
    let dir = directory.as_ref();
    let c = channels(&opts.color_mode)?;
    if opts.image_size.contains(&0) {
        return Err(invalid(
            OP,
            format!("image_size must be positive, got {:?}", opts.image_size),
        ));
    }
    // (path, label) pairs.
    let (mut samples, class_names): (Vec<(PathBuf, usize)>, Vec<String>) = if opts.infer_labels {
        let folders: Vec<PathBuf> = sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()).collect();
        let found: Vec<String> = folders
            .iter()
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        let names = match &opts.class_names {
            Some(given) => {
                let mut a = given.clone();
                let mut b = found.clone();
                a.sort();
                b.sort();
                if a != b {
                    return Err(invalid(
                        OP,
                        format!(
                            "class_names {given:?} do not match the sub-folders {found:?} of {}",
                            dir.display()
                        ),
                    ));
                }
                given.clone()
            }
            None => found,
        };
        let mut samples = Vec::new();
        for (label, name) in names.iter().enumerate() {
            for f in image_files(&dir.join(name))? {
                samples.push((f, label));
            }
        }
        (samples, names)
    } else {
        (
            image_files(dir)?.into_iter().map(|p| (p, 0)).collect(),
            Vec::new(),
        )
    };
    if samples.is_empty() {
        return Err(invalid(
            OP,
            format!("no images ({}) found under {}", FORMATS.join(", "), dir.display()),
        ));
    }
    let labelled = opts.infer_labels && opts.label_mode.is_some();
    if labelled && opts.label_mode == Some(LabelMode::Binary) && class_names.len() != 2 {
        return Err(invalid(
            OP,
            format!(
                "label_mode binary needs exactly 2 classes, found {}",
                class_names.len()
            ),
        ));
    }
    eprintln!(
        "Found {} files belonging to {} classes.",
        samples.len(),
        class_names.len()
    );
    let seed = opts.seed.unwrap_or_else(crate::random::next_seed);
    if opts.shuffle || opts.validation_split.is_some() {
        // Fisher–Yates with the counter-based generator, so a seed fixes the split.
        for i in (1..samples.len()).rev() {
            let u = keras_tensor::random::sample(
                keras_tensor::op::RandomDist::Uniform {
                    low: 0.0,
                    high: (i + 1) as f64,
                },
                seed,
                i as u64,
            );
            samples.swap(i, (u as usize).min(i));
        }
    }
    if let Some(split) = opts.validation_split {
        if !(0.0..1.0).contains(&split) || split == 0.0 {
            return Err(invalid(
                OP,
                format!("validation_split must be in (0, 1), got {split}"),
            ));
        }
        let n_val = (split * samples.len() as f64) as usize;
        let n_train = samples.len() - n_val;
        samples = match opts.subset.as_deref() {
            Some("training") => {
                eprintln!("Using {n_train} files for training.");
                samples[..n_train].to_vec()
            }
            Some("validation") => {
                eprintln!("Using {n_val} files for validation.");
                samples[n_train..].to_vec()
            }
            s => {
                return Err(invalid(
                    OP,
                    format!(
                        "with validation_split, subset must be \"training\" or \"validation\", got {s:?}"
                    ),
                ))
            }
        };
    } else if opts.subset.is_some() {
        return Err(invalid(OP, "subset needs validation_split".into()));
    }
    let n = samples.len();
    let k = class_names.len();
    let (size, crop, mode) = (opts.image_size, opts.crop_to_aspect_ratio, opts.label_mode);
    let index: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut ds = Dataset::from_tensor_slices(&[&Tensor::new(&index, &[n])?])?;
    if opts.shuffle {
        ds = ds.shuffle(
            opts.batch_size.unwrap_or(1).max(1) * 8,
            Some(seed.wrapping_add(1)),
        );
    }
    let ds = ds.map_parallel(
        move |e| {
            let i = e[0].item()? as usize;
            let (path, label) = &samples[i];
            let img = load_resized(path, c, Some(size), crop)?;
            if !labelled {
                return Ok(vec![img]);
            }
            let y = match mode {
                Some(LabelMode::Categorical) => {
                    let mut v = vec![0f32; k];
                    v[*label] = 1.0;
                    Tensor::new(&v, &[k])?
                }
                Some(LabelMode::Binary) => Tensor::new(&[*label as f32], &[1])?,
                _ => Tensor::scalar(*label as i32).cast(DType::I32)?,
            };
            Ok(vec![img, y])
        },
        16,
    );
    let ds = match opts.batch_size {
        Some(b) => ds.batch(b, false),
        None => ds,
    };
    Ok((ds, class_names))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `dir/<class>/<i>.png` images whose pixels encode the class.
    fn write_tree(dir: &Path, classes: &[&str], per_class: usize) {
        for (ci, c) in classes.iter().enumerate() {
            std::fs::create_dir_all(dir.join(c)).unwrap();
            for i in 0..per_class {
                let img = ::image::RgbImage::from_pixel(4, 6, ::image::Rgb([ci as u8 * 100, i as u8, 7]));
                img.save(dir.join(c).join(format!("{i}.png"))).unwrap();
            }
        }
        std::fs::write(dir.join(classes[0]).join("notes.txt"), "not an image").unwrap();
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("keras-rs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn folders_become_labelled_batches() {
        let dir = tmp("imgds");
        write_tree(&dir, &["cat", "dog", "eel"], 4);
        let opts = ImageDatasetOptions {
            image_size: [6, 4],
            batch_size: Some(5),
            seed: Some(3),
            ..Default::default()
        };
        let (ds, names) = image_dataset_from_directory(&dir, &opts).unwrap();
        assert_eq!(names, vec!["cat", "dog", "eel"]);
        assert_eq!(ds.cardinality(), Some(3));
        let mut seen = 0;
        for e in ds.iter().unwrap() {
            let e = e.unwrap();
            assert_eq!(e[0].shape()[1..], [6, 4, 3]);
            assert_eq!(e[1].dtype(), DType::I32);
            let px = e[0].to_vec::<f32>().unwrap();
            let labels = e[1].to_vec::<i32>().unwrap();
            for (j, l) in labels.iter().enumerate() {
                // The red channel holds 100 * class.
                assert_eq!(px[j * 6 * 4 * 3], *l as f32 * 100.0);
            }
            seen += labels.len();
        }
        assert_eq!(seen, 12);
        let split = |subset: &str| {
            let o = ImageDatasetOptions {
                image_size: [6, 4],
                batch_size: None,
                seed: Some(9),
                validation_split: Some(0.25),
                subset: Some(subset.into()),
                label_mode: Some(LabelMode::Categorical),
                ..Default::default()
            };
            image_dataset_from_directory(&dir, &o).unwrap().0
        };
        let (t, v) = (split("training"), split("validation"));
        assert_eq!((t.cardinality(), v.cardinality()), (Some(9), Some(3)));
        assert_eq!(v.iter().unwrap().next().unwrap().unwrap()[1].shape(), &[3]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_img_round_trips_rgb_and_rejects_bad_input() {
        let dir = tmp("saveimg");
        std::fs::create_dir_all(&dir).unwrap();
        let px: Vec<f32> = (0..2 * 3 * 3).map(|i| (i * 13) as f32).collect();
        let x = Tensor::from_vec(px.clone(), &[2, 3, 3], &Device::Cpu).unwrap();
        save_img(dir.join("rgb.png"), &x, false).unwrap();
        let back = load_img(dir.join("rgb.png"), "rgb", None).unwrap();
        assert_eq!(back.shape(), &[2, 3, 3]);
        assert_eq!(back.to_vec::<f32>().unwrap(), px);
        let e = save_img(dir.join("x.png"), &x.reshape(&[2, 9]).unwrap(), true).unwrap_err();
        assert!(e.to_string().contains("[2, 9]"), "{e}");
        let e = save_img(dir.join("x.txt"), &x, true).unwrap_err();
        assert!(e.to_string().contains("x.txt"), "{e}");
        assert!(!dir.join("x.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_input_is_named() {
        let dir = tmp("imgbad");
        write_tree(&dir, &["a"], 1);
        std::fs::write(dir.join("a").join("broken.png"), b"\x89PNG not really").unwrap();
        let (ds, _) = image_dataset_from_directory(&dir, &ImageDatasetOptions::default()).unwrap();
        let e = ds.iter().unwrap().next().unwrap().unwrap_err().to_string();
        assert!(e.contains("broken.png"), "{e}");
        let bin = ImageDatasetOptions {
            label_mode: Some(LabelMode::Binary),
            ..Default::default()
        };
        assert!(image_dataset_from_directory(&dir, &bin)
            .unwrap_err()
            .to_string()
            .contains("2 classes"));
        let e =
            image_dataset_from_directory(dir.join("missing"), &ImageDatasetOptions::default()).unwrap_err();
        assert!(e.to_string().contains("missing"));
        let gray = load_img(dir.join("a").join("0.png"), "grayscale", Some([3, 2])).unwrap();
        assert_eq!(gray.shape(), &[3, 2, 1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
