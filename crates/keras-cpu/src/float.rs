//! The float element trait the compute kernels are generic over (`f32` and `f64`).
//!
//! Half-precision tensors are computed by widening to `f32` (see `storage.rs`); integer
//! tensors use the integer paths in `unary.rs`/`binary.rs`/`reduce.rs`.

use keras_backend::Element;

/// `f32` or `f64`: what the float kernels (elementwise math, reductions, GEMM, conv, pooling)
/// are written for.
pub trait Float:
    num_traits::Float
    + Element
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + Send
    + Sync
    + 'static
{
    /// The error function.
    fn erf(self) -> Self;
    /// Converts from `f64` (rounding).
    fn of(v: f64) -> Self;
}

impl Float for f32 {
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline]
    fn of(v: f64) -> Self {
        v as f32
    }
}

impl Float for f64 {
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[inline]
    fn of(v: f64) -> Self {
        v
    }
}
