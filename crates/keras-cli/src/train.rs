//! `keras-rs train`: `fit` on a named dataset or an image folder, then save as `.keras`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use keras::{FitArgs, Trainer};

use crate::data::{self, ImageFolder, Source, DATA_HELP, RESCALE_HELP};
use crate::model::{self, Compile};
use crate::Result;

/// Arguments of `keras-rs train`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "A .keras model continues training with its saved compile arguments and \
                        optimizer state. A config .json (the config.json inside a .keras file) is built \
                        with fresh weights and compiled from its compile_config, or, when it has none, \
                        with adam, sparse_categorical_crossentropy and accuracy."
)]
pub struct Args {
    /// The model: a .keras file, or a Keras model config .json.
    pub model: PathBuf,
    #[arg(long, help = DATA_HELP)]
    pub data: String,
    /// Passes over the training data.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub epochs: u64,
    /// Samples per gradient step.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Fraction of the training data held out to report val_loss / val_accuracy each epoch.
    #[arg(long, default_value_t = 0.0)]
    pub validation_split: f64,
    /// Where to save the trained model (must end in .keras).
    #[arg(long, default_value = "trained.keras")]
    pub out: PathBuf,
    #[arg(long, help = RESCALE_HELP, value_parser = data::parse_factor)]
    pub rescale: Option<f64>,
    /// Train on only the first N training samples of a named dataset (a quick run).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the weight initialization, shuffling and the folder's validation split.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Progress output: 0 silent, 1 a progress bar, 2 one line per epoch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub verbose: u8,
}

/// Trains and saves.
pub fn run(args: &Args) -> Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("keras") {
        return Err(format!("--out {}: the file name must end in .keras", args.out.display()).into());
    }
    if !(0.0..1.0).contains(&args.validation_split) {
        return Err(format!(
            "--validation-split {}: must be at least 0 and less than 1",
            args.validation_split
        )
        .into());
    }
    let source = Source::parse(&args.data)?;
    keras::set_random_seed(args.seed);
    let mut model = model::load(&args.model, Compile::DefaultIfMissing)?;
    let shape = model::input_shape(&model)?;
    let rescale = args.rescale.unwrap_or(1.0 / 255.0);
    let one_hot = model::wants_one_hot(&mut model);
    let fit = FitArgs {
        epochs: args.epochs as usize,
        batch_size: args.batch_size as usize,
        verbose: args.verbose,
        ..Default::default()
    };
    let history = match &source {
        Source::Named(named) => {
            let ((x, y), _) = named.load()?;
            let x = data::limit(&x, args.limit)?;
            let y = data::limit(&y, args.limit)?;
            let what = format!("{} (training images)", named.name());
            let x = data::images_for_model(&x, rescale, shape.as_deref(), &what)?;
            let classes = if one_hot {
                Some(model::output_units(&model).ok_or(
                    "the loss wants one-hot labels, but the number of classes could not be read from \
                     the model's output",
                )?)
            } else {
                None
            };
            let y = data::labels(&y, classes)?;
            println!("Training on {} samples of {}", x.shape()[0], named.name());
            model.fit(
                &x,
                &y,
                FitArgs {
                    validation_split: args.validation_split,
                    ..fit
                },
            )?
        }
        Source::Dir(dir) => {
            if args.limit.is_some() {
                return Err("--limit applies to the named datasets (mnist, fashion_mnist, cifar10)".into());
            }
            let folder = ImageFolder {
                dir,
                shape: shape.as_deref(),
                batch_size: args.batch_size as usize,
                rescale,
                one_hot,
                shuffle: true,
                seed: args.seed,
            };
            let (train, validation, classes) = if args.validation_split > 0.0 {
                let (t, classes) = folder.load(Some((args.validation_split, "training")))?;
                let (v, _) = folder.load(Some((args.validation_split, "validation")))?;
                (t, Some(v), classes)
            } else {
                let (t, classes) = folder.load(None)?;
                (t, None, classes)
            };
            let units = model::output_units(&model);
            data::check_class_count(&classes, units, dir)?;
            model.fit_dataset(
                &train,
                FitArgs {
                    validation_dataset: validation,
                    ..fit
                },
            )?
        }
    };
    let last: BTreeMap<String, f64> = history
        .history
        .iter()
        .filter_map(|(k, v)| v.last().map(|&x| (k.clone(), x)))
        .collect();
    println!("Final epoch:");
    print_logs(&last);
    model.save(&args.out)?;
    println!("Saved the trained model to {}", args.out.display());
    Ok(())
}

/// Prints `name: value` lines: `loss` first, then the metrics, then the validation values.
pub fn print_logs(logs: &BTreeMap<String, f64>) {
    let rank = |k: &str| match k {
        "loss" => 0,
        "val_loss" => 2,
        k if k.starts_with("val_") => 3,
        _ => 1,
    };
    let mut keys: Vec<&String> = logs.keys().collect();
    keys.sort_by_key(|k| rank(k));
    for k in keys {
        println!("{k}: {:.4}", logs[k]);
    }
}
