//! Reductions (sum, max, min, argmax, argmin) over any set of axes.
//!
//! The reduced axes are moved last (a permuted view) and each output element reduces one
//! contiguous row. Reductions over leading axes of contiguous data (a bias gradient summed
//! over the batch) skip the copy and accumulate whole rows instead.

use crate::storage::{strided_copy, CpuStorage, PAR_THRESHOLD};
use keras_backend::op::ReduceOp;
use keras_backend::{DType, Error, Layout, Result};
use rayon::prelude::*;

/// Accumulation arithmetic for one element type.
trait Acc: Copy + Send + Sync + PartialOrd + Default {
    fn add(self, o: Self) -> Self;
    fn is_nan(self) -> bool;
}
macro_rules! acc_float {
    ($t:ty) => {
        impl Acc for $t {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
macro_rules! acc_int {
    ($t:ty) => {
        impl Acc for $t {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                false
            }
        }
    };
}
acc_float!(f32);
acc_float!(f64);
acc_int!(u8);
acc_int!(i32);
acc_int!(i64);

/// Sum with eight independent accumulators: vectorizes, and is more accurate than a chain.
#[inline]
fn sum_row<T: Acc>(row: &[T]) -> T {
    let mut acc = [T::default(); 8];
    let chunks = row.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].add(c[i]);
        }
    }
    let mut s = T::default();
    for &r in rest {
        s = s.add(r);
    }
    let pair = [
        acc[0].add(acc[4]),
        acc[1].add(acc[5]),
        acc[2].add(acc[6]),
        acc[3].add(acc[7]),
    ];
    pair[0].add(pair[2]).add(pair[1].add(pair[3])).add(s)
}

/// Index of the first max (or min) element; the first NaN wins, as in NumPy.
#[inline]
fn arg_row<T: Acc>(row: &[T], max: bool) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate().skip(1) {
        let b = row[best];
        if b.is_nan() {
            break;
        }
        if x.is_nan() || (max && x > b) || (!max && x < b) {
            best = i;
        }
    }
    best
}

fn reduce_rows<T: Acc, U: Copy + Send + Sync + Default>(
    v: &[T],
    len: usize,
    f: impl Fn(&[T]) -> U + Sync + Send,
) -> Vec<U> {
    if len == 0 {
        return vec![U::default(); v.len()]; // v is empty too; caller sizes the output
    }
    if v.len() >= PAR_THRESHOLD {
        v.par_chunks(len).map(&f).collect()
    } else {
        v.chunks(len).map(f).collect()
    }
}

fn reduce_typed<T: Acc>(op: ReduceOp, v: &[T], rows: usize, len: usize) -> Result<ReduceOut<T>> {
    if len == 0 && op != ReduceOp::Sum {
        return Err(Error::InvalidArgument {
            op: op.name(),
            msg: "reduction over an empty axis has no identity".into(),
        });
    }
    Ok(match op {
        ReduceOp::Sum if len == 0 => ReduceOut::Same(vec![T::default(); rows]),
        ReduceOp::Sum => ReduceOut::Same(reduce_rows(v, len, sum_row)),
        ReduceOp::Max => ReduceOut::Same(reduce_rows(v, len, |r| r[arg_row(r, true)])),
        ReduceOp::Min => ReduceOut::Same(reduce_rows(v, len, |r| r[arg_row(r, false)])),
        ReduceOp::ArgMax => ReduceOut::Index(reduce_rows(v, len, |r| arg_row(r, true) as i64)),
        ReduceOp::ArgMin => ReduceOut::Index(reduce_rows(v, len, |r| arg_row(r, false) as i64)),
    })
}

/// Column-wise accumulation: `v` is `(outer, inner)` row-major, reduce over `outer`.
fn reduce_leading<T: Acc>(op: ReduceOp, v: &[T], outer: usize, inner: usize) -> Vec<T> {
    let mut out = v[..inner].to_vec();
    for r in 1..outer {
        let row = &v[r * inner..(r + 1) * inner];
        match op {
            ReduceOp::Sum => out.iter_mut().zip(row).for_each(|(o, &x)| *o = o.add(x)),
            ReduceOp::Max => out.iter_mut().zip(row).for_each(|(o, &x)| {
                if !o.is_nan() && (x.is_nan() || x > *o) {
                    *o = x
                }
            }),
            ReduceOp::Min => out.iter_mut().zip(row).for_each(|(o, &x)| {
                if !o.is_nan() && (x.is_nan() || x < *o) {
                    *o = x
                }
            }),
            ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!("not routed here"),
        }
    }
    out
}

enum ReduceOut<T> {
    Same(Vec<T>),
    Index(Vec<i64>),
}

/// Reduces the addressed elements over `axes` (already normalized, any order). The result is
/// contiguous with the kept axes in order. Sums keep the dtype (integers wrap); `argmax` and
/// `argmin` take exactly one axis and give `int64`. Half floats are reduced in `f32`.
pub fn reduce(op: ReduceOp, s: &CpuStorage, layout: &Layout, axes: &[usize]) -> Result<CpuStorage> {
    let rank = layout.rank();
    let shape = layout.shape();
    let kept: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
    let rows: usize = kept.iter().map(|&d| shape[d]).product();
    let len: usize = axes.iter().map(|&d| shape[d]).product();
    if matches!(s.dtype(), DType::F16 | DType::BF16) {
        let wide = s.cast(layout, DType::F32);
        let r = reduce(op, &wide, &Layout::contiguous(shape), axes)?;
        return Ok(match op {
            ReduceOp::ArgMax | ReduceOp::ArgMin => r,
            _ => r.cast(&Layout::contiguous(&[r.len()]), s.dtype()),
        });
    }
    // Leading-axes fast path: contiguous data, reduced axes are 0..k.
    // (With nothing kept, one long row is faster: see below.)
    let leading = rows > 1 && axes.iter().all(|&a| a < axes.len()) && layout.is_contiguous();
    if leading && len > 0 && matches!(op, ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min) {
        let range = layout.offset()..layout.offset() + layout.numel();
        macro_rules! lead {
            ($v:expr, $variant:ident) => {
                return Ok(CpuStorage::$variant(reduce_leading(
                    op, &$v[range], len, rows,
                )))
            };
        }
        match s {
            CpuStorage::F32(v) => lead!(v, F32),
            CpuStorage::F64(v) => lead!(v, F64),
            CpuStorage::I32(v) => lead!(v, I32),
            CpuStorage::I64(v) => lead!(v, I64),
            CpuStorage::U8(v) => lead!(v, U8),
            _ => {}
        }
    }
    let mut perm = kept.clone();
    perm.extend_from_slice(axes);
    let view = layout.permute(&perm)?;
    macro_rules! go {
        ($v:expr, $variant:ident) => {{
            // Rows are contiguous already when the reduced axes are the trailing ones.
            let owned;
            let data: &[_] = match view.contiguous_range() {
                Some(r) => &$v[r],
                None => {
                    owned = strided_copy($v, &view);
                    &owned
                }
            };
            match reduce_typed(op, data, rows, len)? {
                ReduceOut::Same(o) => CpuStorage::$variant(o),
                ReduceOut::Index(o) => CpuStorage::I64(o),
            }
        }};
    }
    Ok(match s {
        CpuStorage::F32(v) => go!(v, F32),
        CpuStorage::F64(v) => go!(v, F64),
        CpuStorage::I32(v) => go!(v, I32),
        CpuStorage::I64(v) => go!(v, I64),
        CpuStorage::U8(v) => go!(v, U8),
        CpuStorage::Bool(_) | CpuStorage::F16(_) | CpuStorage::BF16(_) => {
            return Err(Error::UnsupportedDType {
                op: op.name(),
                dtype: s.dtype(),
                hint: "cast bool to an integer dtype first",
            })
        }
    })
}
