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
pub mod optim;
pub mod pool;
pub mod random;
pub mod recurrent;
pub mod reduce;
pub mod unary;

pub use conv::{ConvArgs, Padding};
pub use pool::PoolArgs;

use crate::Tensor;
use keras_backend::{Error, Result};
use keras_cpu::{Float, StorageElement};

/// Calls `f` with the elements of `t` as one contiguous `&[T]`, for the fused ops' kernels:
/// borrowed when `t` already is a contiguous `T` tensor, else from a cast or gathered copy.
pub(crate) fn with_values<T: Float + StorageElement, R>(
    op: &'static str,
    t: &Tensor,
    f: impl FnOnce(&[T]) -> R,
) -> Result<R> {
    let t = if t.dtype() == T::DTYPE {
        t.clone()
    } else {
        t.cast(T::DTYPE)?
    };
    let s = t.storage().cpu().contiguous(t.layout());
    let v = T::slice(&s).ok_or_else(|| Error::InvalidArgument {
        op,
        msg: "storage dtype differs from the tensor's".into(),
    })?;
    Ok(f(v))
}
