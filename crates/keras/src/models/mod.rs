//! Models: [`Sequential`] (a stack of layers). The functional API builds on the same
//! [`crate::layers::Layer`] trait.

mod sequential;
mod summary;

pub use sequential::Sequential;
