//! Tensor ops, one file per family. Each primitive's backward rule sits beside its forward,
//! written with other tensor ops; composites (`composite.rs`) need no rule of their own.

pub mod binary;
pub mod composite;
pub mod conv;
pub mod index;
pub mod matmul;
pub mod misc;
pub mod movement;
pub mod norm;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod unary;

pub use conv::{ConvArgs, Padding};
pub use pool::PoolArgs;
