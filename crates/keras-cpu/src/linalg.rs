//! Batched matrix products over broadcast batch dimensions, on [`crate::matmul::gemm`].

use crate::matmul::{gemm_strided_uninit, MatRef};
use crate::storage::CpuStorage;
use crate::Float;
use keras_backend::{DType, Error, Layout, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `a @ b` for layouts `(batch…, m, k)` and `(batch…, k, n)` with identical batch shapes
/// (the caller broadcasts them, zero strides allowed). Result: contiguous `(batch…, m, n)`.
pub fn batched_matmul(a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> Result<CpuStorage> {
    let (sa, sb) = (la.shape(), lb.shape());
    let r = sa.len();
    if r < 2 || sb.len() != r || sa[..r - 2] != sb[..r - 2] || sa[r - 1] != sb[r - 2] {
        return Err(Error::ShapeMismatch {
            op: "matmul",
            lhs: sa.to_vec(),
            rhs: sb.to_vec(),
        });
    }
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            op: "matmul",
            lhs: a.dtype(),
            rhs: b.dtype(),
        });
    }
    match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => Ok(CpuStorage::F32(bmm(x, la, y, lb)?)),
        (CpuStorage::F64(x), CpuStorage::F64(y)) => Ok(CpuStorage::F64(bmm(x, la, y, lb)?)),
        (CpuStorage::F16(_), _) | (CpuStorage::BF16(_), _) => {
            let (x, y) = (a.cast(la, DType::F32), b.cast(lb, DType::F32));
            let out = batched_matmul(&x, &Layout::contiguous(sa), &y, &Layout::contiguous(sb))?;
            Ok(out.cast(&Layout::contiguous(&[out.len()]), a.dtype()))
        }
        (CpuStorage::I32(x), CpuStorage::I32(y)) => Ok(CpuStorage::I32(int_bmm(x, la, y, lb))),
        (CpuStorage::I64(x), CpuStorage::I64(y)) => Ok(CpuStorage::I64(int_bmm(x, la, y, lb))),
        (CpuStorage::U8(x), CpuStorage::U8(y)) => Ok(CpuStorage::U8(int_bmm(x, la, y, lb))),
        _ => Err(Error::UnsupportedDType {
            op: "matmul",
            dtype: a.dtype(),
            hint: "cast bool to a numeric dtype first",
        }),
    }
}

fn bmm<T: Float + Default>(a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Result<Vec<T>> {
    let r = la.rank();
    let (m, k, n) = (la.shape()[r - 2], la.shape()[r - 1], lb.shape()[r - 1]);
    let batch_shape = &la.shape()[..r - 2];
    let batch: usize = batch_shape.iter().product();
    let len = batch * m * n;
    if len == 0 {
        return Ok(Vec::new());
    }
    // Every product overwrites its block: the output is never zeroed first.
    let mut out: Vec<T> = Vec::with_capacity(len);
    let offset_of = |l: &Layout, mut i: usize| {
        let mut off = l.offset() as isize;
        for d in (0..r - 2).rev() {
            off += (i % batch_shape[d]) as isize * l.strides()[d];
            i /= batch_shape[d];
        }
        off as usize
    };
    let one = |i: usize, c: &mut [MaybeUninit<T>], parallel: bool| {
        let ma = MatRef {
            data: a,
            offset: offset_of(la, i),
            rows: m,
            cols: k,
            row_stride: la.strides()[r - 2],
            col_stride: la.strides()[r - 1],
        };
        let mb = MatRef {
            data: b,
            offset: offset_of(lb, i),
            rows: k,
            cols: n,
            row_stride: lb.strides()[r - 2],
            col_stride: lb.strides()[r - 1],
        };
        gemm_strided_uninit(ma, mb, c, 0, n, T::one(), parallel)
    };
    // Many small products: one thread each. Few large ones: threads inside the GEMM.
    if batch > 1 && m * n * k < 1 << 18 {
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(m * n)
            .enumerate()
            .try_for_each(|(i, c)| one(i, c, false))?;
    } else {
        for (i, c) in out.spare_capacity_mut()[..len].chunks_mut(m * n).enumerate() {
            one(i, c, true)?;
        }
    }
    // SAFETY: the products' blocks partition the first `len` elements and each wrote all of
    // its block (an error returns above, dropping `out` with length 0).
    unsafe { out.set_len(len) };
    Ok(out)
}

/// Integer products (wrapping, like NumPy's): a plain loop, since no GEMM library does them.
fn int_bmm<T>(a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Vec<T>
where
    T: Copy + Default + num_traits::WrappingAdd + num_traits::WrappingMul,
{
    let r = la.rank();
    let (m, k, n) = (la.shape()[r - 2], la.shape()[r - 1], lb.shape()[r - 1]);
    let batch: usize = la.shape()[..r - 2].iter().product();
    // Offsets of every element in row-major order of the (broadcast) logical shapes.
    let (oa, ob) = (la.offsets(), lb.offsets());
    let mut out = vec![T::default(); batch * m * n];
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::default();
                for p in 0..k {
                    let x = a[oa[(bi * m + i) * k + p]];
                    let y = b[ob[(bi * k + p) * n + j]];
                    acc = acc.wrapping_add(&x.wrapping_mul(&y));
                }
                out[(bi * m + i) * n + j] = acc;
            }
        }
    }
    out
}
