//! The vocabulary every keras-rs backend shares: [`DType`], [`Layout`] (shape and strides),
//! the op enums and parameter structs in [`op`], the counter-based random generator in
//! [`random`], and the [`Error`] type.
//!
//! Nothing here computes on tensors; backends (`keras-cpu`, later `keras-cuda`) do, and
//! `keras-tensor` puts a `Tensor` with autodiff on top.
//!
//! ```
//! use keras_backend::{DType, Layout};
//! let l = Layout::contiguous(&[2, 3]);
//! assert_eq!(l.strides(), &[3, 1]);
//! assert_eq!(DType::default(), DType::F32);
//! ```

pub mod dtype;
pub mod error;
pub mod layout;
pub mod op;
pub mod random;

pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use layout::Layout;
