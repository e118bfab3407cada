//! `keras-rs`: the keras-rs command-line tool.
//!
//! ```text
//! keras-rs summary MODEL.keras|CONFIG.json|APPLICATION   (ResNet50, MobileNetV2, resnet20_cifar, …)
//! keras-rs train MODEL.keras|CONFIG.json --data mnist|fashion_mnist|cifar10|DIR [--epochs N] [--out FILE.keras]
//! keras-rs evaluate MODEL.keras --data mnist|fashion_mnist|cifar10|DIR
//! keras-rs predict MODEL.keras IMAGE... | INPUT.npy --output OUT.npy
//! keras-rs datasets list | fetch NAME | verify
//! ```
//!
//! Exit status: 0 on success, 1 for an error (printed as `error: <message>` on standard
//! error), 2 for a command line that does not parse (clap's usage errors).

mod data;
mod datasets;
mod evaluate;
mod model;
mod predict;
mod summary;
mod train;

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keras models from the command line: inspect, train, evaluate and predict with `.keras`
/// files (Keras 3's format, so files saved by Keras work here and the other way round).
#[derive(Parser, Debug)]
#[command(name = "keras-rs", version, propagate_version = true)]
#[command(
    after_help = "Datasets are cached in $KERAS_HOME/datasets (default ~/.keras/datasets); \
                        set KERAS_OFFLINE=1 to never download."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a model's summary table: layers, output shapes, parameter counts (of a file, or of
    /// a keras.applications model by name: ResNet50, MobileNetV2, …).
    Summary(summary::Args),
    /// Train a model (a .keras file or a Keras model config .json) and save it as .keras.
    Train(train::Args),
    /// Evaluate a compiled .keras model: prints `loss: …` and one line per metric.
    Evaluate(evaluate::Args),
    /// Classify image files, or run a model on a .npy array and write its outputs as .npy.
    Predict(predict::Args),
    /// The dataset cache: what is there, downloading, checking checksums.
    Datasets {
        #[command(subcommand)]
        action: datasets::Action,
    },
}

/// An error to report to the user: the message says what went wrong and, where it can,
/// what to do.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Error {
    fn from(msg: String) -> Error {
        Error(msg)
    }
}

impl From<&str> for Error {
    fn from(msg: &str) -> Error {
        Error(msg.to_string())
    }
}

impl From<keras_tensor::Error> for Error {
    fn from(e: keras_tensor::Error) -> Error {
        Error(e.to_string())
    }
}

impl From<keras_datasets::Error> for Error {
    fn from(e: keras_datasets::Error) -> Error {
        Error(e.to_string())
    }
}

/// `Result` with the tool's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Summary(a) => summary::run(&a),
        Command::Train(a) => train::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Predict(a) => predict::run(&a),
        Command::Datasets { action } => datasets::run(&action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
