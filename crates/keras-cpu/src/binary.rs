//! Elementwise functions of two (or, for `where`, three) broadcast tensors.
//!
//! Callers pass layouts already broadcast to the output shape (zero strides on stretched
//! dimensions), so one strided loop serves every broadcasting pattern. Adjacent dimensions
//! that are contiguous in every operand are merged first, so the common cases (same shape,
//! bias over the last axis, scalar) run as long inner loops.

use crate::storage::{par_written, CpuStorage, StorageElement, PAR_THRESHOLD};
use crate::Float;
use keras_backend::op::{BinaryOp, CmpOp};
use keras_backend::{Error, Layout, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Shape and per-operand strides after merging dimensions that are contiguous in all.
struct Coalesced<const N: usize> {
    shape: Vec<usize>,
    strides: [Vec<isize>; N],
    offsets: [usize; N],
}

fn coalesce<const N: usize>(layouts: [&Layout; N]) -> Coalesced<N> {
    let shape0 = layouts[0].shape();
    let mut shape: Vec<usize> = Vec::new();
    let mut strides: [Vec<isize>; N] = std::array::from_fn(|_| Vec::new());
    for (d, &size) in shape0.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let mergeable = !shape.is_empty()
            && (0..N).all(|i| {
                let last = strides[i].len() - 1;
                strides[i][last] == layouts[i].strides()[d] * size as isize
            });
        if mergeable {
            let last = shape.len() - 1;
            shape[last] *= size;
            for (i, s) in strides.iter_mut().enumerate() {
                s[last] = layouts[i].strides()[d];
            }
        } else {
            shape.push(size);
            for (i, s) in strides.iter_mut().enumerate() {
                s.push(layouts[i].strides()[d]);
            }
        }
    }
    if shape.is_empty() {
        shape.push(1);
        for s in strides.iter_mut() {
            s.push(1);
        }
    }
    Coalesced {
        shape,
        strides,
        offsets: std::array::from_fn(|i| layouts[i].offset()),
    }
}

impl<const N: usize> Coalesced<N> {
    /// Index of outer row `r` along each outer dimension (all dims but the last).
    fn row_index(&self, mut r: usize) -> Vec<usize> {
        let outer = &self.shape[..self.shape.len() - 1];
        let mut idx = vec![0; outer.len()];
        for (i, &size) in idx.iter_mut().zip(outer).rev() {
            *i = r % size;
            r /= size;
        }
        idx
    }

    /// Length of the innermost (merged) dimension: one row.
    fn inner(&self) -> usize {
        *self.shape.last().unwrap_or(&1)
    }

    /// Strides of the innermost dimension, per operand.
    fn inner_strides(&self) -> [isize; N] {
        std::array::from_fn(|i| *self.strides[i].last().unwrap_or(&0))
    }

    /// Calls `row(bases, out_row)` for every row of `out` (whose length is the element count),
    /// in blocks of whole rows that are spread over threads when the output is large. Row
    /// bases are stepped like an odometer inside a block, so only a block's first row pays
    /// for divisions.
    fn for_each_row<U: Send>(&self, out: &mut [U], row: impl Fn([isize; N], &mut [U]) + Sync + Send) {
        let inner = self.inner();
        if out.is_empty() || inner == 0 {
            return;
        }
        let outer_dims = self.shape.len() - 1;
        let block_rows = (BLOCK_ELEMS / inner).max(1);
        let block = |b: usize, o: &mut [U]| {
            let mut idx = self.row_index(b * block_rows);
            let mut bases: [isize; N] = std::array::from_fn(|i| {
                let steps = idx.iter().zip(&self.strides[i]);
                self.offsets[i] as isize + steps.map(|(&k, &s)| k as isize * s).sum::<isize>()
            });
            let rows = o.len() / inner;
            for (k, o) in o.chunks_mut(inner).enumerate() {
                row(bases, o);
                if k + 1 == rows {
                    break;
                }
                // Step to the next row: carry through the outer dimensions.
                for d in (0..outer_dims).rev() {
                    idx[d] += 1;
                    for (i, b) in bases.iter_mut().enumerate() {
                        *b += self.strides[i][d];
                    }
                    if idx[d] < self.shape[d] {
                        break;
                    }
                    for (i, b) in bases.iter_mut().enumerate() {
                        *b -= self.shape[d] as isize * self.strides[i][d];
                    }
                    idx[d] = 0;
                }
            }
        };
        let block = |(b, o): (usize, &mut [U])| crate::simd::vectorized(|| block(b, o));
        if out.len() >= PAR_THRESHOLD {
            out.par_chunks_mut(block_rows * inner).enumerate().for_each(block);
        } else {
            out.chunks_mut(block_rows * inner).enumerate().for_each(block);
        }
    }
}

/// Elements per block of rows handed to one thread by the strided loops.
const BLOCK_ELEMS: usize = 1 << 14;

/// A vector of `n` elements whose contents are all written by `fill` before it is read.
fn filled<U: Copy + Send>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<U>])) -> Vec<U> {
    let mut out: Vec<U> = Vec::with_capacity(n);
    fill(&mut out.spare_capacity_mut()[..n]);
    // SAFETY: `fill` wrote all `n` elements: every caller visits each output row once. (If it
    // panics instead, the vector is dropped with length 0.)
    unsafe { out.set_len(n) };
    out
}

/// `out[i] = f(a[i], b[i])` over two layouts of one shape.
pub fn zip_map<A, B, U>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U>
where
    A: Copy + Send + Sync,
    B: Copy + Send + Sync,
    U: Copy + Send + Sync,
{
    let n = la.numel();
    if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
        let (a, b) = (&a[ra], &b[rb]);
        // SAFETY: each chunk's loop writes every element of it (`a` and `b` have `n`).
        return unsafe {
            par_written(n, 4096, |at, o| {
                for ((o, &x), &y) in o.iter_mut().zip(&a[at..]).zip(&b[at..]) {
                    o.write(f(x, y));
                }
            })
        };
    }
    let c = coalesce([la, lb]);
    let inner = c.inner() as isize;
    let [sa, sb] = c.inner_strides();
    filled(n, |out| {
        c.for_each_row(out, |[ba, bb], o| {
            // The common broadcasting patterns get loops over slices, which vectorize.
            match (sa, sb) {
                (1, 1) => {
                    let (x, y) = (
                        &a[ba as usize..(ba + inner) as usize],
                        &b[bb as usize..(bb + inner) as usize],
                    );
                    for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                        o.write(f(x, y));
                    }
                }
                (1, 0) => {
                    let (x, y) = (&a[ba as usize..(ba + inner) as usize], b[bb as usize]);
                    for (o, &x) in o.iter_mut().zip(x) {
                        o.write(f(x, y));
                    }
                }
                (0, 1) => {
                    let (x, y) = (a[ba as usize], &b[bb as usize..(bb + inner) as usize]);
                    for (o, &y) in o.iter_mut().zip(y) {
                        o.write(f(x, y));
                    }
                }
                _ => {
                    for (j, o) in o.iter_mut().enumerate() {
                        let j = j as isize;
                        o.write(f(a[(ba + j * sa) as usize], b[(bb + j * sb) as usize]));
                    }
                }
            }
        })
    })
}

/// `out[i] = if c[i] { a[i] } else { b[i] }` over three layouts of one shape.
pub fn select<T: Copy + Send + Sync>(
    c: &[bool],
    lc: &Layout,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
) -> Vec<T> {
    let n = la.numel();
    let co = coalesce([lc, la, lb]);
    let s = co.inner_strides();
    let inner = co.inner();
    fn row<V>(v: &[V], base: isize, inner: usize) -> &[V] {
        &v[base as usize..base as usize + inner]
    }
    filled(n, |out| {
        co.for_each_row(out, |[bc, ba, bb], o| {
            // The common patterns (everything contiguous, or one side a broadcast scalar such
            // as the zero of a gradient) get loops over slices, which vectorize.
            match s {
                [1, 1, 1] => {
                    let (c, a, b) = (row(c, bc, inner), row(a, ba, inner), row(b, bb, inner));
                    for (((y, &c), &a), &b) in o.iter_mut().zip(c).zip(a).zip(b) {
                        y.write(if c { a } else { b });
                    }
                }
                [1, 1, 0] => {
                    let (c, a, b) = (row(c, bc, inner), row(a, ba, inner), b[bb as usize]);
                    for ((y, &c), &a) in o.iter_mut().zip(c).zip(a) {
                        y.write(if c { a } else { b });
                    }
                }
                [1, 0, 1] => {
                    let (c, a, b) = (row(c, bc, inner), a[ba as usize], row(b, bb, inner));
                    for ((y, &c), &b) in o.iter_mut().zip(c).zip(b) {
                        y.write(if c { a } else { b });
                    }
                }
                _ => {
                    for (j, y) in o.iter_mut().enumerate() {
                        let j = j as isize;
                        y.write(if c[(bc + j * s[0]) as usize] {
                            a[(ba + j * s[1]) as usize]
                        } else {
                            b[(bb + j * s[2]) as usize]
                        });
                    }
                }
            }
        })
    })
}

fn float_binary<T: Float>(op: BinaryOp, a: &[T], la: &Layout, b: &[T], lb: &Layout) -> Option<Vec<T>> {
    use BinaryOp::*;
    Some(match op {
        Add => zip_map(a, la, b, lb, |x, y| x + y),
        Sub => zip_map(a, la, b, lb, |x, y| x - y),
        Mul => zip_map(a, la, b, lb, |x, y| x * y),
        Div => zip_map(a, la, b, lb, |x, y| x / y),
        Pow => zip_map(a, la, b, lb, |x, y| x.powf(y)),
        Maximum => zip_map(a, la, b, lb, |x, y| if x.is_nan() || x > y { x } else { y }),
        Minimum => zip_map(a, la, b, lb, |x, y| if x.is_nan() || x < y { x } else { y }),
        LogicalAnd | LogicalOr => return None,
    })
}

macro_rules! int_binary {
    ($op:expr, $a:expr, $la:expr, $b:expr, $lb:expr) => {{
        use BinaryOp::*;
        let (a, la, b, lb) = ($a, $la, $b, $lb);
        match $op {
            Add => Some(zip_map(a, la, b, lb, |x, y| x.wrapping_add(y))),
            Sub => Some(zip_map(a, la, b, lb, |x, y| x.wrapping_sub(y))),
            Mul => Some(zip_map(a, la, b, lb, |x, y| x.wrapping_mul(y))),
            // Integer power with a non-negative exponent; negative exponents give 0 like
            // C's integer arithmetic would for |base| > 1.
            Pow => Some(zip_map(a, la, b, lb, |x, y| {
                if y < Default::default() {
                    Default::default()
                } else {
                    x.wrapping_pow(y as u32)
                }
            })),
            Maximum => Some(zip_map(a, la, b, lb, |x, y| if x > y { x } else { y })),
            Minimum => Some(zip_map(a, la, b, lb, |x, y| if x < y { x } else { y })),
            Div | LogicalAnd | LogicalOr => None,
        }
    }};
}

/// Applies a binary op. Both operands have the same dtype and layouts of the same shape.
///
/// `divide` on integers is rejected here: the tensor layer casts to float first (true
/// division). `logical_and`/`logical_or` take `bool`.
pub fn binary(op: BinaryOp, a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> Result<CpuStorage> {
    let unsupported = |dtype| Error::UnsupportedDType {
        op: op.name(),
        dtype,
        hint: "",
    };
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            op: op.name(),
            lhs: a.dtype(),
            rhs: b.dtype(),
        });
    }
    let out = match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => float_binary(op, x, la, y, lb).map(CpuStorage::F32),
        (CpuStorage::F64(x), CpuStorage::F64(y)) => float_binary(op, x, la, y, lb).map(CpuStorage::F64),
        (CpuStorage::F16(_), _) | (CpuStorage::BF16(_), _) => {
            let dt = a.dtype();
            let (x, y) = (
                a.cast(la, keras_backend::DType::F32),
                b.cast(lb, keras_backend::DType::F32),
            );
            let l = Layout::contiguous(la.shape());
            let r = binary(op, &x, &l, &y, &l)?;
            return Ok(r.cast(&Layout::contiguous(&[r.len()]), dt));
        }
        (CpuStorage::I32(x), CpuStorage::I32(y)) => int_binary!(op, x, la, y, lb).map(CpuStorage::I32),
        (CpuStorage::I64(x), CpuStorage::I64(y)) => int_binary!(op, x, la, y, lb).map(CpuStorage::I64),
        (CpuStorage::U8(x), CpuStorage::U8(y)) => int_binary!(op, x, la, y, lb).map(CpuStorage::U8),
        (CpuStorage::Bool(x), CpuStorage::Bool(y)) => match op {
            BinaryOp::LogicalAnd | BinaryOp::Mul | BinaryOp::Minimum => {
                Some(zip_map(x, la, y, lb, |p, q| p && q))
            }
            BinaryOp::LogicalOr | BinaryOp::Add | BinaryOp::Maximum => {
                Some(zip_map(x, la, y, lb, |p, q| p || q))
            }
            _ => None,
        }
        .map(CpuStorage::Bool),
        _ => None,
    };
    out.ok_or_else(|| unsupported(a.dtype()))
}

fn cmp_typed<T: PartialOrd + Copy + Send + Sync>(
    op: CmpOp,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
) -> Vec<bool> {
    match op {
        CmpOp::Eq => zip_map(a, la, b, lb, |x, y| x == y),
        CmpOp::Ne => zip_map(a, la, b, lb, |x, y| x != y),
        CmpOp::Lt => zip_map(a, la, b, lb, |x, y| x < y),
        CmpOp::Le => zip_map(a, la, b, lb, |x, y| x <= y),
        CmpOp::Gt => zip_map(a, la, b, lb, |x, y| x > y),
        CmpOp::Ge => zip_map(a, la, b, lb, |x, y| x >= y),
    }
}

/// Compares elementwise; the result is a `bool` storage.
pub fn compare(op: CmpOp, a: &CpuStorage, la: &Layout, b: &CpuStorage, lb: &Layout) -> Result<CpuStorage> {
    fn go<T: StorageElement>(
        op: CmpOp,
        a: &[T],
        la: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> Result<Vec<bool>> {
        Ok(cmp_typed(op, a, la, b.as_slice::<T>()?, lb))
    }
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            op: op.name(),
            lhs: a.dtype(),
            rhs: b.dtype(),
        });
    }
    Ok(CpuStorage::Bool(
        crate::with_storage!(a, x => go(op, x, la, b, lb)?),
    ))
}

/// `where(cond, a, b)`: `a` and `b` have one dtype; all three layouts one shape.
pub fn where_cond(
    c: &CpuStorage,
    lc: &Layout,
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
) -> Result<CpuStorage> {
    let c = c.as_slice::<bool>()?;
    fn go<T: StorageElement>(
        c: &[bool],
        lc: &Layout,
        a: &[T],
        la: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> Result<Vec<T>> {
        Ok(select(c, lc, a, la, b.as_slice::<T>()?, lb))
    }
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            op: "where",
            lhs: a.dtype(),
            rhs: b.dtype(),
        });
    }
    Ok(crate::map_storage!(a, x => go(c, lc, x, la, b, lb)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `zip_map` and `select` against element-by-element addressing through
    /// `Layout::offsets`, on broadcast, permuted, sliced and flipped layouts large enough to
    /// run in several blocks on several threads (so the row odometer carries across blocks).
    #[test]
    fn strided_loops_match_elementwise_addressing() {
        let base: Vec<f32> = (0..200_000).map(|i| (i % 9973) as f32 * 0.5 - 7.0).collect();
        let flags: Vec<bool> = (0..200_000).map(|i| i % 3 == 0).collect();
        let shape = [6usize, 17, 19, 32];
        let full = Layout::contiguous(&shape);
        let cases: Vec<(Layout, Layout)> = vec![
            // Per-channel vector over NHWC (a bias or a batch-norm scale).
            (
                full.clone(),
                Layout::contiguous(&[32]).broadcast_to(&shape).unwrap(),
            ),
            // The other way round, and a per-row column.
            (
                Layout::contiguous(&[32]).broadcast_to(&shape).unwrap(),
                full.clone(),
            ),
            (
                full.clone(),
                Layout::contiguous(&[6, 17, 19, 1]).broadcast_to(&shape).unwrap(),
            ),
            (
                Layout::contiguous(&[6, 17, 19, 1]).broadcast_to(&shape).unwrap(),
                full.clone(),
            ),
            // A transposed operand, a flipped one, and a sliced one with an offset.
            (
                Layout::contiguous(&[6, 19, 17, 32])
                    .permute(&[0, 2, 1, 3])
                    .unwrap(),
                Layout::contiguous(&shape).flip(2),
            ),
            (
                Layout::contiguous(&[6, 17, 19, 40]).slice(3, 5, 37, 1).unwrap(),
                Layout::contiguous(&[1, 17, 1, 32]).broadcast_to(&shape).unwrap(),
            ),
            // A scalar against a transposed operand.
            (
                Layout::contiguous(&[]).broadcast_to(&shape).unwrap(),
                Layout::contiguous(&[32, 19, 17, 6])
                    .permute(&[3, 2, 1, 0])
                    .unwrap(),
            ),
        ];
        for (k, (la, lb)) in cases.iter().enumerate() {
            let got = zip_map(&base, la, &base, lb, |x, y| x * 3.0 - y);
            let want: Vec<f32> = la
                .offsets()
                .iter()
                .zip(lb.offsets())
                .map(|(&i, j)| base[i] * 3.0 - base[j])
                .collect();
            assert_eq!(got, want, "zip_map case {k}");
            // A flipped condition, and one broadcast along the last axis (a mask per row).
            let conditions = [
                Layout::contiguous(&shape).flip(1),
                Layout::contiguous(&[6, 17, 19, 1]).broadcast_to(&shape).unwrap(),
            ];
            for lc in &conditions {
                let got = select(&flags, lc, &base, la, &base, lb);
                let want: Vec<f32> = lc
                    .offsets()
                    .iter()
                    .zip(la.offsets())
                    .zip(lb.offsets())
                    .map(|((&c, i), j)| if flags[c] { base[i] } else { base[j] })
                    .collect();
                assert_eq!(got, want, "select case {k}");
            }
        }
    }
}
