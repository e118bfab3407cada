//! `keras-rs predict`: top classes of image files, or a model's outputs for a `.npy` array.

use std::path::{Path, PathBuf};

use keras::data::load_img;
use keras::saving::LoadedModel;
use keras::Trainer;
use keras_datasets::npy::{load_npy, save_npy};
use keras_datasets::{cifar10, fashion_mnist};
use keras_tensor::{DType, Device, Tensor};

use crate::data::{conform, image_format};
use crate::model::{self, fmt_shape, require_file, Compile};
use crate::Result;

/// The image file extensions Keras reads.
const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "gif"];

/// Arguments of `keras-rs predict`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Images are resized to the model's input size and converted to its channels \
                        (1: grayscale, 3: rgb). They enter the model as raw 0-255 pixels unless --rescale \
                        is given: a model trained on pixels in [0, 1] either contains a Rescaling layer or \
                        needs --rescale 1/255. Each image prints its top classes: \
                        `cat.png: 3 (cat) 0.8731, 5 (dog) 0.0912, ...`. A model whose outputs are not \
                        probabilities (logits) gets a softmax first, a single output a sigmoid.\n\n\
                        A .npy input (float32 or int32; float64 and uint8 are converted to float32) holds \
                        a batch shaped like the model input, (N, ...), or a single sample; the outputs are \
                        written to --output as a float32 .npy."
)]
pub struct Args {
    /// A .keras model file.
    pub model: PathBuf,
    /// Image files (.png, .jpg, .jpeg, .bmp, .gif), or one .npy array.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Write the model's outputs to this .npy file (float32); required for a .npy input.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// How many classes to print per image, most probable first.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub top: u64,
    /// Multiply the inputs by this before they enter the model: a number or a fraction such as
    /// 1/255 (default 1: raw 0-255 pixels).
    #[arg(long, value_parser = crate::data::parse_factor)]
    pub rescale: Option<f64>,
    /// Class names in label order, comma-separated (`cat,dog,bird`), or `cifar10`, `mnist` or
    /// `fashion_mnist` for those datasets' classes.
    #[arg(long)]
    pub class_names: Option<String>,
    /// Samples per batch.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
}

fn extension(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Runs the model on the inputs and prints or writes the results.
pub fn run(args: &Args) -> Result<()> {
    for p in &args.inputs {
        let ext = extension(p);
        if ext != "npy" && !IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            return Err(format!(
                "{}: not an image ({}) nor a .npy array",
                p.display(),
                IMAGE_EXTENSIONS.map(|e| format!(".{e}")).join(", ")
            )
            .into());
        }
        require_file(p, "an input file")?;
    }
    if let Some(out) = &args.output {
        if extension(out) != "npy" {
            return Err(format!("--output {}: the file name must end in .npy", out.display()).into());
        }
    }
    let npys = args.inputs.iter().filter(|p| extension(p) == "npy").count();
    if npys > 0 && args.inputs.len() > 1 {
        return Err("give either one .npy array or image files, not several inputs with a .npy".into());
    }
    let names = args.class_names.as_deref().map(class_names);
    let mut model = model::load(&args.model, Compile::AsSaved)?;
    let shape = model::input_shape(&model)?;
    let batch_size = args.batch_size as usize;
    if npys == 1 {
        let Some(out) = &args.output else {
            return Err(format!(
                "predict on a .npy input writes the model's outputs to a .npy file: add --output OUT.npy \
                 (for example: keras-rs predict {} {} --output predictions.npy)",
                args.model.display(),
                args.inputs[0].display()
            )
            .into());
        };
        let x = npy_input(&args.inputs[0], args.rescale, shape.as_deref())?;
        let y = single_output(&mut model, x, batch_size)?;
        save_npy(out, &y)?;
        println!("Wrote outputs of shape {} to {}", dims(&y), out.display());
        return Ok(());
    }
    let ([h, w], mode) = image_format(shape.as_deref(), "the input images")?;
    let rescale = args.rescale.unwrap_or(1.0);
    let mut pixels = Vec::new();
    for p in &args.inputs {
        let img = load_img(p, mode, Some([h, w]))?;
        pixels.extend(img.to_vec::<f32>()?);
    }
    let c = pixels.len() / (args.inputs.len() * h * w);
    let mut x = Tensor::from_vec(pixels, &[args.inputs.len(), h, w, c], &Device::Cpu)?;
    if rescale != 1.0 {
        x = x.mul_scalar(rescale)?;
    }
    let y = single_output(&mut model, x, batch_size)?;
    if let Some(out) = &args.output {
        save_npy(out, &y)?;
        eprintln!("Wrote outputs of shape {} to {}", dims(&y), out.display());
    }
    if y.rank() != 2 {
        return Err(format!(
            "the model's output has shape {}, not (images, classes): write it with --output OUT.npy",
            dims(&y)
        )
        .into());
    }
    let k = y.shape()[1];
    let names = names.map(|n| check_names(n, k)).transpose()?;
    let rows = probabilities(&y)?;
    let top = (args.top as usize).min(rows.first().map_or(1, Vec::len));
    for (p, probs) in args.inputs.iter().zip(&rows) {
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let best: Vec<String> = order[..top]
            .iter()
            .map(|&i| match &names {
                Some(n) => format!("{i} ({}) {:.4}", n[i], probs[i]),
                None => format!("{i} {:.4}", probs[i]),
            })
            .collect();
        println!("{}: {}", p.display(), best.join(", "));
    }
    Ok(())
}

/// A tensor's shape as Keras prints shapes: `(4, 5)`.
fn dims(t: &Tensor) -> String {
    fmt_shape(&t.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>())
}

/// A `.npy` input as the model takes it.
fn npy_input(path: &Path, rescale: Option<f64>, shape: Option<&[Option<usize>]>) -> Result<Tensor> {
    let mut x = load_npy(path)?;
    x = match x.dtype() {
        DType::F32 | DType::I32 => x,
        DType::F64 | DType::U8 => x.cast(DType::F32)?,
        other => {
            return Err(format!(
                "{}: a {other} array; predict takes float32 or int32 (float64 and uint8 are converted)",
                path.display()
            )
            .into())
        }
    };
    if let Some(f) = rescale {
        x = x.cast(DType::F32)?.mul_scalar(f)?;
    }
    // A single sample without its batch axis.
    if let Some(s) = shape {
        let per_sample = &s[1.min(s.len())..];
        let single = per_sample.len() == x.rank()
            && per_sample
                .iter()
                .zip(x.shape())
                .all(|(w, h)| w.is_none_or(|w| w == *h));
        if single && x.rank() > 0 {
            x = x.expand_dims(0)?;
        }
    }
    if x.rank() == 0 {
        return Err(format!("{}: a 0-d array; give a batch (N, ...)", path.display()).into());
    }
    conform(&x, shape, &path.display().to_string())
}

/// The model's one output for `x`, as `float32`.
fn single_output(model: &mut LoadedModel, x: Tensor, batch_size: usize) -> Result<Tensor> {
    let mut ys = model.predict_multi(x, batch_size)?;
    if ys.len() != 1 {
        return Err(format!(
            "the model has {} outputs; keras-rs predict handles single-output models",
            ys.len()
        )
        .into());
    }
    Ok(ys.remove(0).cast(DType::F32)?)
}

/// Per-row class probabilities: the outputs themselves when they are probabilities, else
/// their softmax; a single output is `p(class 1)` (its sigmoid when outside [0, 1]).
fn probabilities(y: &Tensor) -> Result<Vec<Vec<f64>>> {
    let k = y.shape()[1];
    let v = y.to_vec_f64()?;
    let rows: Vec<Vec<f64>> = v.chunks(k.max(1)).map(<[f64]>::to_vec).collect();
    if k == 1 {
        let outside = rows.iter().any(|r| !(0.0..=1.0).contains(&r[0]));
        if outside {
            eprintln!("note: the model's output is not in [0, 1]; printing its sigmoid");
        }
        return Ok(rows
            .into_iter()
            .map(|r| {
                let p = if outside {
                    1.0 / (1.0 + (-r[0]).exp())
                } else {
                    r[0]
                };
                vec![1.0 - p, p]
            })
            .collect());
    }
    let are_probs = rows
        .iter()
        .all(|r| r.iter().all(|&p| (0.0..=1.0).contains(&p)) && (r.iter().sum::<f64>() - 1.0).abs() < 1e-3);
    if are_probs {
        return Ok(rows);
    }
    eprintln!("note: the model's outputs are not probabilities (no softmax); printing their softmax");
    Ok(rows
        .into_iter()
        .map(|r| {
            let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = r.iter().map(|&x| (x - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect()
        })
        .collect())
}

/// `--class-names`: a dataset's names, or a comma-separated list.
fn class_names(s: &str) -> Vec<String> {
    match s {
        "cifar10" => cifar10::CLASS_NAMES.iter().map(|n| n.to_string()).collect(),
        "fashion_mnist" | "fashion-mnist" => {
            fashion_mnist::CLASS_NAMES.iter().map(|n| n.to_string()).collect()
        }
        "mnist" => (0..10).map(|d| d.to_string()).collect(),
        list => list.split(',').map(|n| n.trim().to_string()).collect(),
    }
}

/// Checks that there is one name per class (two for a single sigmoid output).
fn check_names(names: Vec<String>, outputs: usize) -> Result<Vec<String>> {
    let classes = if outputs == 1 { 2 } else { outputs };
    if names.len() == classes {
        Ok(names)
    } else {
        Err(format!(
            "--class-names gives {} names, the model has {classes} classes",
            names.len()
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::new(v, shape).unwrap()
    }

    #[test]
    fn probabilities_pass_through_or_get_a_softmax_or_sigmoid() {
        let p = probabilities(&t(&[0.1, 0.7, 0.2], &[1, 3])).unwrap();
        assert!((p[0][1] - 0.7).abs() < 1e-6);
        // Logits [0, ln 3]: softmax [1/4, 3/4].
        let p = probabilities(&t(&[0.0, 3f32.ln()], &[1, 2])).unwrap();
        assert!(
            (p[0][0] - 0.25).abs() < 1e-6 && (p[0][1] - 0.75).abs() < 1e-6,
            "{p:?}"
        );
        // One sigmoid output is p(class 1); a logit gets its sigmoid.
        let p = probabilities(&t(&[0.8], &[1, 1])).unwrap();
        assert!((p[0][0] - 0.2).abs() < 1e-6 && (p[0][1] - 0.8).abs() < 1e-6);
        let p = probabilities(&t(&[0.0, 2.0], &[2, 1])).unwrap();
        assert!((p[0][1] - 0.5).abs() < 1e-9 && p[1][1] > 0.88, "{p:?}");
    }

    #[test]
    fn class_names_from_datasets_or_lists() {
        assert_eq!(class_names("cifar10")[3], "cat");
        assert_eq!(class_names("mnist")[9], "9");
        assert_eq!(class_names("fashion_mnist").len(), 10);
        assert_eq!(class_names("a, b ,c"), ["a", "b", "c"]);
        assert!(check_names(class_names("a,b"), 1).is_ok());
        assert!(check_names(class_names("a,b"), 3).is_err());
    }
}
