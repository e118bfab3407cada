//! The Keras API of keras-rs (in progress): variables, optimizers, losses and metrics with
//! Keras's names, defaults and update formulas. Layers and models build on these.

pub mod activations;
pub mod initializers;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod optimizers;
pub mod random;
pub mod trainers;
pub mod variable;

pub use models::Sequential;
pub use random::set_random_seed;
pub use trainers::{FitArgs, History};
pub use variable::Variable;
