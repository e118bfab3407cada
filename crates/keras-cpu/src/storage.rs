//! [`CpuStorage`]: a typed host buffer, and the conversions every kernel family shares.

use half::{bf16, f16};
use keras_backend::{DType, Element, Error, Layout, Result};
use rayon::prelude::*;

/// A host buffer of one dtype. Tensors view it through a [`Layout`].
#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    /// `bool`
    Bool(Vec<bool>),
    /// `uint8`
    U8(Vec<u8>),
    /// `int32`
    I32(Vec<i32>),
    /// `int64`
    I64(Vec<i64>),
    /// `float16`
    F16(Vec<f16>),
    /// `bfloat16`
    BF16(Vec<bf16>),
    /// `float32`
    F32(Vec<f32>),
    /// `float64`
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the typed vector (or slice) inside a [`CpuStorage`].
#[macro_export]
macro_rules! with_storage {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::CpuStorage::Bool($v) => $body,
            $crate::CpuStorage::U8($v) => $body,
            $crate::CpuStorage::I32($v) => $body,
            $crate::CpuStorage::I64($v) => $body,
            $crate::CpuStorage::F16($v) => $body,
            $crate::CpuStorage::BF16($v) => $body,
            $crate::CpuStorage::F32($v) => $body,
            $crate::CpuStorage::F64($v) => $body,
        }
    };
}

/// Like [`with_storage!`], rebuilding a storage of the same dtype from the body's `Vec`.
#[macro_export]
macro_rules! map_storage {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::CpuStorage::Bool($v) => $crate::CpuStorage::Bool($body),
            $crate::CpuStorage::U8($v) => $crate::CpuStorage::U8($body),
            $crate::CpuStorage::I32($v) => $crate::CpuStorage::I32($body),
            $crate::CpuStorage::I64($v) => $crate::CpuStorage::I64($body),
            $crate::CpuStorage::F16($v) => $crate::CpuStorage::F16($body),
            $crate::CpuStorage::BF16($v) => $crate::CpuStorage::BF16($body),
            $crate::CpuStorage::F32($v) => $crate::CpuStorage::F32($body),
            $crate::CpuStorage::F64($v) => $crate::CpuStorage::F64($body),
        }
    };
}

/// A `Vec<T>` that knows how to become a [`CpuStorage`] and back.
pub trait StorageElement: Element {
    /// Wraps a vector.
    fn wrap(v: Vec<Self>) -> CpuStorage;
    /// Borrows the vector when the dtype matches.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
}

macro_rules! storage_element {
    ($t:ty, $variant:ident) => {
        impl StorageElement for $t {
            fn wrap(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
storage_element!(bool, Bool);
storage_element!(u8, U8);
storage_element!(i32, I32);
storage_element!(i64, I64);
storage_element!(f16, F16);
storage_element!(bf16, BF16);
storage_element!(f32, F32);
storage_element!(f64, F64);

/// An [`Error::InvalidArgument`] naming `op`.
pub(crate) fn bad(op: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op, msg }
}

/// The product of `dims`, or an error naming `op` when it overflows `usize` (sizes come from
/// user-controlled shapes and parameters).
pub(crate) fn checked_product(op: &'static str, dims: &[usize]) -> Result<usize> {
    dims.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| bad(op, format!("size {dims:?} overflows")))
    })
}

/// Elements above which elementwise loops are split across threads.
pub(crate) const PAR_THRESHOLD: usize = 1 << 15;

/// Writes zeros into a chunk of a vector's spare capacity and returns it initialized (the
/// building block of [`par_filled`]: the thread that is about to fill the chunk zeroes it).
pub(crate) fn zeroed<T: num_traits::Zero + Copy>(c: &mut [std::mem::MaybeUninit<T>]) -> &mut [T] {
    for x in c.iter_mut() {
        x.write(T::zero());
    }
    // SAFETY: every element of `c` was initialized just above, and `MaybeUninit<T>` has the
    // layout of `T`.
    unsafe { &mut *(c as *mut [std::mem::MaybeUninit<T>] as *mut [T]) }
}

/// A new vector of `n` elements written by `fill(offset, chunk)` over consecutive chunks of
/// `chunk` elements (the last may be shorter), in parallel when `n` is large. Each chunk is
/// zeroed by the thread that fills it, just before, while it is in cache: `vec![0; n]` would
/// first zero the whole buffer on one thread, a pass over memory of its own.
pub(crate) fn par_filled<T: num_traits::Zero + Copy + Send + Sync>(
    n: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    // SAFETY: `zeroed` initializes every element of each chunk.
    unsafe { par_written(n, chunk, |at, c| fill(at, zeroed(c))) }
}

/// A new vector of `n` elements whose chunks of `chunk` elements (the last may be shorter)
/// are written by `fill(offset, chunk)`, in parallel when `n` is large, each chunk's loop
/// [`crate::simd::vectorized`]: the elementwise maps' building block.
///
/// # Safety
/// `fill` writes every element of the chunk it is given (a panic instead drops the vector at
/// length 0).
pub(crate) unsafe fn par_written<U: Send>(
    n: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [std::mem::MaybeUninit<U>]) + Sync + Send,
) -> Vec<U> {
    let chunk = chunk.max(1);
    let mut v: Vec<U> = Vec::with_capacity(n);
    let run =
        |(i, c): (usize, &mut [std::mem::MaybeUninit<U>])| crate::simd::vectorized(|| fill(i * chunk, c));
    let spare = &mut v.spare_capacity_mut()[..n];
    if n >= PAR_THRESHOLD {
        spare.par_chunks_mut(chunk).enumerate().for_each(run);
    } else {
        spare.chunks_mut(chunk).enumerate().for_each(run);
    }
    // SAFETY: the chunks partition the first `n` elements and the caller's `fill` wrote each.
    unsafe { v.set_len(n) };
    v
}

impl CpuStorage {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::Bool(_) => DType::Bool,
            CpuStorage::U8(_) => DType::U8,
            CpuStorage::I32(_) => DType::I32,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }

    /// Number of stored elements.
    pub fn len(&self) -> usize {
        with_storage!(self, v => v.len())
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` copies of `value` converted to `dtype`.
    pub fn full(value: f64, n: usize, dtype: DType) -> CpuStorage {
        match dtype {
            DType::Bool => CpuStorage::Bool(vec![value != 0.0; n]),
            DType::U8 => CpuStorage::U8(vec![value as u8; n]),
            DType::I32 => CpuStorage::I32(vec![value as i32; n]),
            DType::I64 => CpuStorage::I64(vec![value as i64; n]),
            DType::F16 => CpuStorage::F16(vec![f16::from_f64(value); n]),
            DType::BF16 => CpuStorage::BF16(vec![bf16::from_f64(value); n]),
            DType::F32 => CpuStorage::F32(vec![value as f32; n]),
            DType::F64 => CpuStorage::F64(vec![value; n]),
        }
    }

    /// Borrows the elements as `&[T]`.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `T` is not the stored dtype.
    pub fn as_slice<T: StorageElement>(&self) -> Result<&[T]> {
        T::slice(self).ok_or(Error::DTypeMismatch {
            op: "as_slice",
            lhs: self.dtype(),
            rhs: T::DTYPE,
        })
    }

    /// The elements a layout addresses, in row-major order, as a new contiguous storage.
    pub fn gather_layout(&self, layout: &Layout) -> CpuStorage {
        map_storage!(self, v => strided_copy(v, layout))
    }

    /// Borrows the addressed elements when the layout is contiguous, else copies them.
    pub fn contiguous<'a>(&'a self, layout: &Layout) -> std::borrow::Cow<'a, CpuStorage> {
        match layout.contiguous_range() {
            Some(r) if r.start == 0 && r.end == self.len() => std::borrow::Cow::Borrowed(self),
            _ => std::borrow::Cow::Owned(self.gather_layout(layout)),
        }
    }

    /// Converts every addressed element to `dtype` (floats to integers truncate toward zero
    /// and saturate, NaN becomes 0; anything to `bool` is `!= 0`).
    pub fn cast(&self, layout: &Layout, dtype: DType) -> CpuStorage {
        let src = self.contiguous(layout);
        if src.dtype() == dtype {
            return src.into_owned();
        }
        // f32 <-> half conversions are common (mixed precision); give them direct loops.
        match (&*src, dtype) {
            (CpuStorage::F32(v), DType::F16) => {
                CpuStorage::F16(v.iter().map(|&x| f16::from_f32(x)).collect())
            }
            (CpuStorage::F32(v), DType::BF16) => {
                CpuStorage::BF16(v.iter().map(|&x| bf16::from_f32(x)).collect())
            }
            (CpuStorage::F16(v), DType::F32) => CpuStorage::F32(v.iter().map(|x| x.to_f32()).collect()),
            (CpuStorage::BF16(v), DType::F32) => CpuStorage::F32(v.iter().map(|x| x.to_f32()).collect()),
            (CpuStorage::F32(v), DType::F64) => CpuStorage::F64(v.iter().map(|&x| x as f64).collect()),
            (CpuStorage::F64(v), DType::F32) => CpuStorage::F32(v.iter().map(|&x| x as f32).collect()),
            (s, _) => with_storage!(s, v => cast_via_f64(v, dtype)),
        }
    }

    /// The addressed elements widened to `f32` (for `f16`/`bf16`) or returned as they are.
    pub(crate) fn widen_half(&self, layout: &Layout) -> (std::borrow::Cow<'_, CpuStorage>, Option<DType>) {
        match self.dtype() {
            DType::F16 | DType::BF16 => (
                std::borrow::Cow::Owned(self.cast(layout, DType::F32)),
                Some(self.dtype()),
            ),
            _ => (self.contiguous(layout), None),
        }
    }

    /// Narrows an `f32` result back to `dtype` when [`Self::widen_half`] widened.
    pub(crate) fn narrow_to(self, dtype: Option<DType>) -> CpuStorage {
        match dtype {
            Some(d) => self.cast(&Layout::contiguous(&[self.len()]), d),
            None => self,
        }
    }

    /// Concatenates along `axis`; every part has the same dtype and the same shape off `axis`.
    pub fn concat(parts: &[(&CpuStorage, &Layout)], axis: usize) -> Result<CpuStorage> {
        let Some(&(first, first_layout)) = parts.first() else {
            return Err(Error::InvalidArgument {
                op: "concat",
                msg: "needs at least one tensor".into(),
            });
        };
        let shape = first_layout.shape();
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let total_axis: usize = parts.iter().map(|(_, l)| l.shape()[axis]).sum();
        let mut out = CpuStorage::full(0.0, outer * total_axis * inner, first.dtype());
        let mut start = 0;
        for &(s, l) in parts {
            let n = l.shape()[axis] * inner;
            let src = s.contiguous(l);
            copy_blocks(&src, &mut out, outer, n, total_axis * inner, start * inner)?;
            start += l.shape()[axis];
        }
        Ok(out)
    }

    /// Overwrites the elements `layout` addresses (row-major) with contiguous `src`.
    ///
    /// # Errors
    /// When the dtypes differ or `src` has fewer elements than the layout addresses.
    pub fn write_at(&mut self, layout: &Layout, src: &CpuStorage) -> Result<()> {
        if src.len() < layout.numel() {
            return Err(Error::InvalidArgument {
                op: "write_at",
                msg: format!("{} source elements for {} places", src.len(), layout.numel()),
            });
        }
        scatter_layout(src, self, layout)
    }

    /// Adds `src` (contiguous, in the layout's row-major order) to the elements `layout`
    /// addresses, in place: the adjoint of reading a view, used to sum gradients of slices
    /// into one buffer.
    ///
    /// ```
    /// use keras_backend::Layout;
    /// use keras_cpu::CpuStorage;
    /// let mut acc = CpuStorage::F32(vec![1.0; 4]);
    /// let col = Layout::contiguous(&[2, 2]).slice(1, 1, 2, 1)?; // the second column
    /// acc.add_at(&col, &CpuStorage::F32(vec![10.0, 20.0]))?;
    /// assert_eq!(acc.as_slice::<f32>()?, &[1.0, 11.0, 1.0, 21.0]);
    /// # Ok::<(), keras_backend::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the dtypes differ or are not floats, or `src` has fewer elements than the layout
    /// addresses.
    pub fn add_at(&mut self, layout: &Layout, src: &CpuStorage) -> Result<()> {
        fn go<T: Copy + Send + Sync + std::ops::Add<Output = T>>(s: &[T], d: &mut [T], layout: &Layout) {
            scatter_runs(s, d, layout, |d, s| *d = *d + s);
        }
        if src.len() < layout.numel() {
            return Err(Error::InvalidArgument {
                op: "add_at",
                msg: format!("{} source elements for {} places", src.len(), layout.numel()),
            });
        }
        match (src, &mut *self) {
            (CpuStorage::F16(s), CpuStorage::F16(d)) => go(s, d, layout),
            (CpuStorage::BF16(s), CpuStorage::BF16(d)) => go(s, d, layout),
            (CpuStorage::F32(s), CpuStorage::F32(d)) => go(s, d, layout),
            (CpuStorage::F64(s), CpuStorage::F64(d)) => go(s, d, layout),
            (s, d) => {
                return Err(Error::DTypeMismatch {
                    op: "add_at",
                    lhs: d.dtype(),
                    rhs: s.dtype(),
                })
            }
        }
        Ok(())
    }

    /// Pads with a constant: `pads[d] = (before, after)`.
    pub fn pad(&self, layout: &Layout, pads: &[(usize, usize)], value: f64) -> Result<CpuStorage> {
        let shape = layout.shape();
        let out_shape: Vec<usize> = shape.iter().zip(pads).map(|(&s, &(b, a))| s + b + a).collect();
        let mut out = CpuStorage::full(value, out_shape.iter().product(), self.dtype());
        // The interior of the output is a strided view; write the input's elements into it.
        let out_layout = Layout::contiguous(&out_shape);
        let mut interior = out_layout;
        for (d, &(b, _)) in pads.iter().enumerate() {
            interior = interior.slice(d, b, b + shape[d], 1)?;
        }
        let src = self.contiguous(layout);
        scatter_layout(&src, &mut out, &interior)?;
        Ok(out)
    }
}

/// Copies `outer` blocks of `n` elements from contiguous `src` into `dst` at row stride
/// `dst_row` starting at `dst_start`.
fn copy_blocks(
    src: &CpuStorage,
    dst: &mut CpuStorage,
    outer: usize,
    n: usize,
    dst_row: usize,
    dst_start: usize,
) -> Result<()> {
    fn go<T: Copy>(s: &[T], d: &mut [T], outer: usize, n: usize, row: usize, start: usize) {
        for o in 0..outer {
            d[o * row + start..o * row + start + n].copy_from_slice(&s[o * n..(o + 1) * n]);
        }
    }
    match (src, dst) {
        (CpuStorage::Bool(s), CpuStorage::Bool(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::U8(s), CpuStorage::U8(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::I32(s), CpuStorage::I32(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::I64(s), CpuStorage::I64(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::F16(s), CpuStorage::F16(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::BF16(s), CpuStorage::BF16(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::F32(s), CpuStorage::F32(d)) => go(s, d, outer, n, dst_row, dst_start),
        (CpuStorage::F64(s), CpuStorage::F64(d)) => go(s, d, outer, n, dst_row, dst_start),
        (s, d) => {
            return Err(Error::DTypeMismatch {
                op: "concat",
                lhs: d.dtype(),
                rhs: s.dtype(),
            })
        }
    }
    Ok(())
}

/// Writes contiguous `src` into the elements of `dst` that `layout` addresses.
fn scatter_layout(src: &CpuStorage, dst: &mut CpuStorage, layout: &Layout) -> Result<()> {
    fn go<T: Copy + Send + Sync>(s: &[T], d: &mut [T], layout: &Layout) {
        scatter_runs(s, d, layout, |d, s| *d = s);
    }
    match (src, &mut *dst) {
        (CpuStorage::Bool(s), CpuStorage::Bool(d)) => go(s, d, layout),
        (CpuStorage::U8(s), CpuStorage::U8(d)) => go(s, d, layout),
        (CpuStorage::I32(s), CpuStorage::I32(d)) => go(s, d, layout),
        (CpuStorage::I64(s), CpuStorage::I64(d)) => go(s, d, layout),
        (CpuStorage::F16(s), CpuStorage::F16(d)) => go(s, d, layout),
        (CpuStorage::BF16(s), CpuStorage::BF16(d)) => go(s, d, layout),
        (CpuStorage::F32(s), CpuStorage::F32(d)) => go(s, d, layout),
        (CpuStorage::F64(s), CpuStorage::F64(d)) => go(s, d, layout),
        (s, d) => {
            return Err(Error::DTypeMismatch {
                op: "pad",
                lhs: d.dtype(),
                rhs: s.dtype(),
            })
        }
    }
    Ok(())
}

/// Combines `s[i]` (row-major over `layout`) into the element of `d` that `layout` addresses
/// `i`-th, with `f(&mut d, s)`: slice loops for contiguous runs, in parallel when large.
fn scatter_runs<T: Copy + Send + Sync>(s: &[T], d: &mut [T], layout: &Layout, f: impl Fn(&mut T, T) + Sync) {
    if let Some(r) = layout.contiguous_range() {
        let (d, s) = (&mut d[r.clone()], &s[..r.len()]);
        if d.len() >= PAR_THRESHOLD {
            d.par_iter_mut().zip(s.par_iter()).for_each(|(d, &s)| f(d, s));
        } else {
            d.iter_mut().zip(s).for_each(|(d, &s)| f(d, s));
        }
        return;
    }
    let mut i = 0;
    layout.for_each_run(|base, len, stride| {
        if stride == 1 {
            for (d, &s) in d[base..base + len].iter_mut().zip(&s[i..i + len]) {
                f(d, s);
            }
        } else {
            for j in 0..len {
                f(&mut d[(base as isize + j as isize * stride) as usize], s[i + j]);
            }
        }
        i += len;
    });
}

/// The elements `layout` addresses in `v`, in row-major order: borrowed when they are
/// contiguous (at any offset), else copied.
pub fn contiguous_slice<'a, T: Copy + Send + Sync>(v: &'a [T], layout: &Layout) -> std::borrow::Cow<'a, [T]> {
    match layout.contiguous_range() {
        Some(r) => std::borrow::Cow::Borrowed(&v[r]),
        None => std::borrow::Cow::Owned(strided_copy(v, layout)),
    }
}

/// The elements `layout` addresses in `v`, in row-major order.
pub fn strided_copy<T: Copy + Send + Sync>(v: &[T], layout: &Layout) -> Vec<T> {
    if let Some(r) = layout.contiguous_range() {
        return v[r].to_vec();
    }
    let mut out = Vec::with_capacity(layout.numel());
    layout.for_each_run(|base, len, stride| {
        if stride == 1 {
            out.extend_from_slice(&v[base..base + len]);
        } else if stride == 0 {
            out.extend(std::iter::repeat_n(v[base], len));
        } else {
            out.extend((0..len).map(|j| v[(base as isize + j as isize * stride) as usize]));
        }
    });
    out
}

fn cast_via_f64<T: Element>(v: &[T], dtype: DType) -> CpuStorage {
    fn conv<T: Element, U: StorageElement>(v: &[T]) -> CpuStorage {
        U::wrap(v.iter().map(|&x| U::from_f64(x.to_f64())).collect())
    }
    match dtype {
        DType::Bool => conv::<T, bool>(v),
        DType::U8 => conv::<T, u8>(v),
        DType::I32 => conv::<T, i32>(v),
        DType::I64 => conv::<T, i64>(v),
        DType::F16 => conv::<T, f16>(v),
        DType::BF16 => conv::<T, bf16>(v),
        DType::F32 => conv::<T, f32>(v),
        DType::F64 => conv::<T, f64>(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_filled_writes_every_chunk_with_its_offset() {
        for (n, chunk) in [
            (0, 7),
            (5, 7),
            (PAR_THRESHOLD + 3, 4096),
            (PAR_THRESHOLD * 2, 1000),
        ] {
            let v: Vec<u64> = par_filled(n, chunk, |at, c| {
                assert!(c.iter().all(|&x| x == 0) && c.len() <= chunk);
                for (i, x) in c.iter_mut().enumerate() {
                    *x = (at + i) as u64 * 3;
                }
            });
            assert_eq!(v.len(), n);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3), "n {n}");
        }
    }

    #[test]
    fn cast_truncates_and_saturates() {
        let s = CpuStorage::F32(vec![-1.7, 2.9, 300.0, f32::NAN]);
        let l = Layout::contiguous(&[4]);
        assert_eq!(s.cast(&l, DType::I32), CpuStorage::I32(vec![-1, 2, 300, 0]));
        assert_eq!(s.cast(&l, DType::U8), CpuStorage::U8(vec![0, 2, 255, 0]));
        assert_eq!(
            s.cast(&l, DType::Bool),
            CpuStorage::Bool(vec![true, true, true, true])
        );
    }

    #[test]
    fn pad_and_concat_place_elements() {
        let s = CpuStorage::I32(vec![1, 2, 3, 4]);
        let l = Layout::contiguous(&[2, 2]);
        let p = s.pad(&l, &[(1, 0), (0, 1)], 9.0).unwrap();
        assert_eq!(p, CpuStorage::I32(vec![9, 9, 9, 1, 2, 9, 3, 4, 9]));
        let c = CpuStorage::concat(&[(&s, &l), (&s, &l)], 1).unwrap();
        assert_eq!(c, CpuStorage::I32(vec![1, 2, 1, 2, 3, 4, 3, 4]));
    }
}
