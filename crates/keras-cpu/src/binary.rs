//! Elementwise functions of two (or, for `where`, three) broadcast tensors.
//!
//! Callers pass layouts already broadcast to the output shape (zero strides on stretched
//! dimensions), so one strided loop serves every broadcasting pattern. Adjacent dimensions
//! that are contiguous in every operand are merged first, so the common cases (same shape,
//! bias over the last axis, scalar) run as long inner loops.

use crate::storage::{CpuStorage, StorageElement, PAR_THRESHOLD};
use crate::Float;
use keras_backend::op::{BinaryOp, CmpOp};
use keras_backend::{Error, Layout, Result};
use rayon::prelude::*;

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
    /// Base offsets of outer row `r` (all dims but the last).
    fn row_bases(&self, mut r: usize) -> [isize; N] {
        let mut bases: [isize; N] = std::array::from_fn(|i| self.offsets[i] as isize);
        for d in (0..self.shape.len() - 1).rev() {
            let idx = r % self.shape[d];
            r /= self.shape[d];
            for (i, b) in bases.iter_mut().enumerate() {
                *b += idx as isize * self.strides[i][d];
            }
        }
        bases
    }
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
    U: Copy + Send + Sync + Default,
{
    let n = la.numel();
    if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
        let (a, b) = (&a[ra], &b[rb]);
        return if n >= PAR_THRESHOLD {
            a.par_iter()
                .zip(b.par_iter())
                .with_min_len(4096)
                .map(|(&x, &y)| f(x, y))
                .collect()
        } else {
            a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
        };
    }
    let c = coalesce([la, lb]);
    let inner = *c.shape.last().unwrap_or(&1);
    let (sa, sb) = (
        *c.strides[0].last().unwrap_or(&0),
        *c.strides[1].last().unwrap_or(&0),
    );
    let mut out = vec![U::default(); n];
    if n == 0 {
        return out;
    }
    let row = |r: usize, o: &mut [U]| {
        let [ba, bb] = c.row_bases(r);
        for (j, y) in o.iter_mut().enumerate() {
            *y = f(
                a[(ba + j as isize * sa) as usize],
                b[(bb + j as isize * sb) as usize],
            );
        }
    };
    if n >= PAR_THRESHOLD {
        out.par_chunks_mut(inner).enumerate().for_each(|(r, o)| row(r, o));
    } else {
        out.chunks_mut(inner).enumerate().for_each(|(r, o)| row(r, o));
    }
    out
}

/// `out[i] = if c[i] { a[i] } else { b[i] }` over three layouts of one shape.
pub fn select<T: Copy + Send + Sync + Default>(
    c: &[bool],
    lc: &Layout,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
) -> Vec<T> {
    let n = la.numel();
    let co = coalesce([lc, la, lb]);
    let inner = *co.shape.last().unwrap_or(&1);
    let s: [isize; 3] = std::array::from_fn(|i| *co.strides[i].last().unwrap_or(&0));
    let mut out = vec![T::default(); n];
    if n == 0 {
        return out;
    }
    let row = |r: usize, o: &mut [T]| {
        let [bc, ba, bb] = co.row_bases(r);
        for (j, y) in o.iter_mut().enumerate() {
            let j = j as isize;
            *y = if c[(bc + j * s[0]) as usize] {
                a[(ba + j * s[1]) as usize]
            } else {
                b[(bb + j * s[2]) as usize]
            };
        }
    };
    if n >= PAR_THRESHOLD {
        out.par_chunks_mut(inner).enumerate().for_each(|(r, o)| row(r, o));
    } else {
        out.chunks_mut(inner).enumerate().for_each(|(r, o)| row(r, o));
    }
    out
}

fn float_binary<T: Float + Default>(
    op: BinaryOp,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
) -> Option<Vec<T>> {
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
