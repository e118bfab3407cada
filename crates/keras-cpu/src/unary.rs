//! Elementwise functions of one tensor.

use crate::storage::{CpuStorage, PAR_THRESHOLD};
use crate::Float;
use keras_backend::op::UnaryOp;
use keras_backend::{Error, Layout, Result};
use rayon::prelude::*;

/// Applies `f` to every element, in parallel for large inputs.
pub(crate) fn map<T: Copy + Send + Sync, U: Send>(v: &[T], f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
    if v.len() >= PAR_THRESHOLD {
        v.par_iter().with_min_len(4096).map(|&x| f(x)).collect()
    } else {
        v.iter().map(|&x| f(x)).collect()
    }
}

fn float_unary<T: Float>(op: UnaryOp, v: &[T]) -> Vec<T> {
    use UnaryOp::*;
    let zero = T::zero();
    let one = T::one();
    match op {
        Neg => map(v, |x| -x),
        Abs => map(v, |x| x.abs()),
        Exp => map(v, |x| x.exp_k()),
        Log => map(v, |x| x.ln()),
        Log1p => map(v, |x| x.ln_1p()),
        Expm1 => map(v, |x| x.exp_m1()),
        Sqrt => map(v, |x| x.sqrt()),
        Rsqrt => map(v, |x| one / x.sqrt()),
        Square => map(v, |x| x * x),
        Recip => map(v, |x| one / x),
        Sin => map(v, |x| x.sin()),
        Cos => map(v, |x| x.cos()),
        Tanh => map(v, |x| x.tanh_k()),
        Sigmoid => map(v, |x| x.sigmoid_k()),
        Relu => map(v, |x| if x > zero { x } else { zero }),
        Erf => map(v, |x| x.erf()),
        Sign => map(v, |x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                x // keeps 0, -0 and NaN
            }
        }),
        Floor => map(v, |x| x.floor()),
        Ceil => map(v, |x| x.ceil()),
        Round => map(v, |x| {
            // Round half to even, as NumPy does.
            let r = x.round();
            if (x - x.trunc()).abs() == T::of(0.5) {
                T::of(2.0) * (x / T::of(2.0)).round()
            } else {
                r
            }
        }),
        LogicalNot => unreachable!("rejected before dispatch"),
    }
}

macro_rules! int_unary {
    ($op:expr, $v:expr, $t:ty, $variant:ident) => {{
        use UnaryOp::*;
        let v: &[$t] = $v;
        (|| -> Option<CpuStorage> {
            Some(CpuStorage::$variant(match $op {
                Neg => map(v, |x: $t| x.wrapping_neg()),
                Abs => map(v, |x: $t| x.wrapping_abs()),
                Square => map(v, |x: $t| x.wrapping_mul(x)),
                Sign => map(v, |x: $t| x.signum()),
                Relu => map(v, |x: $t| x.max(0)),
                Floor | Ceil | Round => v.to_vec(),
                _ => return None,
            }))
        })()
    }};
}

/// Applies a unary op to the addressed elements; the result is contiguous.
///
/// Float ops on integer tensors are rejected (cast first); `logical_not` takes `bool`.
pub fn unary(op: UnaryOp, s: &CpuStorage, layout: &Layout) -> Result<CpuStorage> {
    let unsupported = || Error::UnsupportedDType {
        op: op.name(),
        dtype: s.dtype(),
        hint: if op == UnaryOp::LogicalNot {
            "logical_not takes bool"
        } else {
            "cast to a float dtype first"
        },
    };
    if op == UnaryOp::LogicalNot {
        return match &*s.contiguous(layout) {
            CpuStorage::Bool(v) => Ok(CpuStorage::Bool(map(v, |x| !x))),
            _ => Err(unsupported()),
        };
    }
    let (src, widened) = s.widen_half(layout);
    let out = match &*src {
        CpuStorage::F32(v) => Some(CpuStorage::F32(float_unary(op, v))),
        CpuStorage::F64(v) => Some(CpuStorage::F64(float_unary(op, v))),
        CpuStorage::I32(v) => int_unary!(op, v, i32, I32),
        CpuStorage::I64(v) => int_unary!(op, v, i64, I64),
        CpuStorage::U8(v) => {
            use UnaryOp::*;
            match op {
                Abs | Relu | Floor | Ceil | Round => Some(CpuStorage::U8(v.to_vec())),
                Square => Some(CpuStorage::U8(map(v, |x| x.wrapping_mul(x)))),
                Sign => Some(CpuStorage::U8(map(v, |x| x.min(1)))),
                Neg => Some(CpuStorage::U8(map(v, |x| x.wrapping_neg()))),
                _ => None,
            }
        }
        _ => None,
    };
    Ok(out.ok_or_else(unsupported)?.narrow_to(widened))
}
