//! The CPU backend of keras-rs: [`CpuStorage`] and a kernel for every primitive op in
//! `keras_backend::op`, one file per op family.
//!
//! Float kernels are generic over [`Float`] (`f32`, `f64`); `f16`/`bf16` are widened to `f32`
//! around them. Threads come from `rayon`'s global pool; no kernel spawns threads or
//! allocates per element.
//!
//! ```
//! use keras_backend::{op::UnaryOp, Layout};
//! use keras_cpu::{unary::unary, CpuStorage};
//! let s = CpuStorage::F32(vec![-1.0, 2.0]);
//! let r = unary(UnaryOp::Relu, &s, &Layout::contiguous(&[2])).unwrap();
//! assert_eq!(r, CpuStorage::F32(vec![0.0, 2.0]));
//! ```

pub mod binary;
pub mod conv;
pub mod float;
pub mod index;
pub mod linalg;
pub mod matmul;
pub mod memory;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod rnn;
pub mod simd;
pub mod storage;
pub mod unary;

pub use float::{exp_f32, tanh_f32, Float};

pub use storage::{CpuStorage, StorageElement};

#[cfg(test)]
pub(crate) mod test_data {
    /// `len` reproducible values in [-0.5, 0.5) (xorshift), for kernel tests.
    pub(crate) fn data(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }
}
