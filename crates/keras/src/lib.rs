//! The Keras API of keras-rs (in progress): [`Variable`], initializers, activations, layers
//! with a `class_name` registry, [`Sequential`] with `compile` / `fit` / `evaluate` /
//! `predict`, and Keras's optimizers, losses and metrics with its names, defaults and
//! formulas. The functional API, the remaining layers and callbacks are still to come.

pub mod activations;
pub mod constraints;
pub mod initializers;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod optimizers;
pub mod random;
pub mod regularizers;
pub mod trainers;
pub mod variable;

pub use models::Sequential;
pub use random::set_random_seed;
pub use trainers::{FitArgs, History};
pub use variable::Variable;
