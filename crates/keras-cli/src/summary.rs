//! `keras-rs summary`: Keras's `model.summary()` table.

use std::path::PathBuf;

use crate::model::{self, Compile};
use crate::Result;

/// Arguments of `keras-rs summary`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A .keras model file (or a Keras model config .json, built with fresh weights).
    pub model: PathBuf,
}

/// Prints the summary table.
pub fn run(args: &Args) -> Result<()> {
    let model = model::load(&args.model, Compile::AsSaved)?;
    print!("{}", model.summary()?);
    Ok(())
}
