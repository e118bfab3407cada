//! `keras-rs evaluate`: loss and metrics on a test split or an image folder.

use std::path::PathBuf;

use keras::Trainer;

use crate::data::{self, ImageFolder, Source, DATA_HELP, RESCALE_HELP};
use crate::model::{self, Compile};
use crate::train::print_logs;
use crate::Result;

/// Arguments of `keras-rs evaluate`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Named datasets are evaluated on their test split, a folder on all its images. \
                        The model must be compiled (a model saved by Keras after compile() or by keras-rs \
                        train is)."
)]
pub struct Args {
    /// A compiled .keras model.
    pub model: PathBuf,
    #[arg(long, help = DATA_HELP)]
    pub data: String,
    /// Samples per batch.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    #[arg(long, help = RESCALE_HELP, value_parser = data::parse_factor)]
    pub rescale: Option<f64>,
    /// Evaluate on only the first N test samples of a named dataset.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Evaluates and prints `name: value` lines.
pub fn run(args: &Args) -> Result<()> {
    let source = Source::parse(&args.data)?;
    let mut model = model::load(&args.model, Compile::AsSaved)?;
    if model.compiled_slot().is_none() {
        return Err(format!(
            "{} is not compiled (it has no loss to evaluate): save it from Keras after compile(), or train \
             it with keras-rs train, which compiles it",
            args.model.display()
        )
        .into());
    }
    let shape = model::input_shape(&model)?;
    let rescale = args.rescale.unwrap_or(1.0 / 255.0);
    let one_hot = model::wants_one_hot(&mut model);
    let batch_size = args.batch_size as usize;
    let logs = match &source {
        Source::Named(named) => {
            let (_, (x, y)) = named.load()?;
            let x = data::limit(&x, args.limit)?;
            let y = data::limit(&y, args.limit)?;
            let what = format!("{} (test images)", named.name());
            let x = data::images_for_model(&x, rescale, shape.as_deref(), &what)?;
            let classes = if one_hot {
                model::output_units(&model)
            } else {
                None
            };
            let y = data::labels(&y, classes)?;
            println!("Evaluating on {} test samples of {}", x.shape()[0], named.name());
            model.evaluate(&x, &y, batch_size)?
        }
        Source::Dir(dir) => {
            if args.limit.is_some() {
                return Err("--limit applies to the named datasets (mnist, fashion_mnist, cifar10)".into());
            }
            let folder = ImageFolder {
                dir,
                shape: shape.as_deref(),
                batch_size,
                rescale,
                one_hot,
                shuffle: false,
                seed: 0,
            };
            let (ds, classes) = folder.load(None)?;
            let units = model::output_units(&model);
            data::check_class_count(&classes, units, dir)?;
            model.evaluate_dataset(&ds)?
        }
    };
    print_logs(&logs);
    Ok(())
}
