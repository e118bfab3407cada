//! Models: [`Sequential`] (a stack of layers) and the functional [`Model`] (a graph of layer
//! calls on symbolic tensors from [`Input`]). Both are layers too, so models nest, and both
//! train through [`crate::trainers::Trainer`].

mod functional;
mod sequential;
mod summary;

pub use functional::{Apply, Input, KerasTensor, LayerRef, Model};
pub use sequential::Sequential;
