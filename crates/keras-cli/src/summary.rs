//! `keras-rs summary`: Keras's `model.summary()` table, of a model file or of a
//! `keras.applications` model built by name.

use std::path::PathBuf;

use keras::applications::{self, ApplicationArgs};

use crate::model::{self, Compile};
use crate::Result;

/// Arguments of `keras-rs summary`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A .keras model file, a Keras model config .json (built with fresh weights), or the
    /// name of a keras.applications model (ResNet50, MobileNetV2, VGG16, resnet20_cifar, …),
    /// built with Keras's default arguments and random weights.
    pub model: PathBuf,
}

/// Prints the summary table.
pub fn run(args: &Args) -> Result<()> {
    if !args.model.exists() {
        if let Some(name) = args.model.to_str().filter(|n| applications::is_application(n)) {
            let model = applications::get(name, ApplicationArgs::default())?;
            print!("{}", model.summary());
            return Ok(());
        }
    }
    let model = model::load(&args.model, Compile::AsSaved).map_err(|e| {
        // A bare word that is no file: perhaps a misspelt application name.
        if args.model.extension().is_none() && args.model.components().count() == 1 {
            format!(
                "{e} (nor the name of an application: {})",
                applications::names().join(", ")
            )
            .into()
        } else {
            e
        }
    })?;
    print!("{}", model.summary()?);
    Ok(())
}
