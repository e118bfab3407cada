//! The Keras API of keras-rs: Keras 3's names, arguments, defaults and formulas in Rust.
//!
//! - [`Variable`], [`initializers`], [`activations`], [`regularizers`], [`constraints`].
//! - [`layers`]: core, convolution, pooling, normalization, merge, activation and shape
//!   layers, each with `get_config` / `from_config` through a `class_name` registry.
//! - [`models`]: [`Sequential`] and the functional [`Model`] built from [`Input`] symbolic
//!   tensors (multi-input, multi-output, shared layers, nested models); your own models
//!   through [`Trainer`].
//! - [`trainers`]: `compile` / `fit` / `evaluate` / `predict` with sample and class weights,
//!   per-output losses, loss weights and regularization losses; [`callbacks`];
//!   [`History::plot`].
//! - [`optimizers`] with learning-rate schedules, [`losses`], [`metrics`].
//!
//! ```
//! use keras::layers::Dense;
//! use keras::{losses, optimizers, Apply, FitArgs, Input, Model, Trainer};
//! use keras_tensor::{DType, Device, Tensor};
//! let inputs = Input::new(&[4]);
//! let h = Dense::new(8).activation("relu")?.apply(&inputs)?;
//! let outputs = Dense::new(1).apply(&h)?;
//! let mut model = Model::new(&[&inputs], &[&outputs])?;
//! model.compile(optimizers::get("adam")?, losses::get("mse")?, &["mae"])?;
//! let x = Tensor::random_normal(&[32, 4], 0.0, 1.0, 1, DType::F32, &Device::Cpu)?;
//! let y = x.sum(&[1], true)?;
//! let history = model.fit(&x, &y, FitArgs { epochs: 2, verbose: 0, ..Default::default() })?;
//! assert_eq!(history.history["mae"].len(), 2);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

pub mod activations;
pub mod applications;
pub mod callbacks;
pub mod constraints;
pub mod data;
/// Keras's `keras.datasets` and data utilities: the `keras-datasets` crate.
pub use keras_datasets as datasets;
pub mod initializers;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod optimizers;
pub mod random;
pub mod regularizers;
pub mod saving;
pub mod trainers;
pub mod variable;

pub use models::{Apply, Input, KerasTensor, LayerRef, Model, Sequential};
pub use random::set_random_seed;
pub use trainers::{FitArgs, History, Trainer};
pub use variable::Variable;

/// The README's code blocks, compiled and run as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
