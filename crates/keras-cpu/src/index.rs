//! Indexing along one axis: `index_select` (NumPy `take`) and its adjoint `index_add`,
//! `gather` (`take_along_axis`) and its adjoint `scatter_add`, cumulative sums and stable
//! argsort.
//!
//! Every op views its contiguous input as `(outer, axis, inner)`.

use crate::storage::{contiguous_slice, CpuStorage, StorageElement};
use keras_backend::{DType, Error, Layout, Result};

fn split_shape(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// Resolves indices (negative ones count from the end) and rejects out-of-range ones.
fn resolve(op: &'static str, idx: &[i64], size: usize) -> Result<Vec<usize>> {
    idx.iter()
        .map(|&i| {
            let j = if i < 0 { i + size as i64 } else { i };
            if j < 0 || j >= size as i64 {
                Err(Error::IndexOutOfRange { op, index: i, size })
            } else {
                Ok(j as usize)
            }
        })
        .collect()
}

fn index_vec(s: &CpuStorage, layout: &Layout, op: &'static str) -> Result<Vec<i64>> {
    match &*s.contiguous(layout) {
        CpuStorage::I64(v) => Ok(v.clone()),
        CpuStorage::I32(v) => Ok(v.iter().map(|&x| x as i64).collect()),
        CpuStorage::U8(v) => Ok(v.iter().map(|&x| x as i64).collect()),
        other => Err(Error::UnsupportedDType {
            op,
            dtype: other.dtype(),
            hint: "indices must be int32, int64 or uint8",
        }),
    }
}

/// `take(x, indices, axis)` for 1-D `indices`: output shape is `x`'s with `axis` replaced by
/// `indices.len()`.
pub fn index_select(
    s: &CpuStorage,
    layout: &Layout,
    idx: &CpuStorage,
    idx_layout: &Layout,
    axis: usize,
) -> Result<CpuStorage> {
    let (outer, size, inner) = split_shape(layout.shape(), axis);
    let idx = resolve("index_select", &index_vec(idx, idx_layout, "index_select")?, size)?;
    fn go<T: Copy>(v: &[T], idx: &[usize], outer: usize, size: usize, inner: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(outer * idx.len() * inner);
        for o in 0..outer {
            for &i in idx {
                let start = (o * size + i) * inner;
                out.extend_from_slice(&v[start..start + inner]);
            }
        }
        out
    }
    // Reads the view in place when it is contiguous: selecting a batch from a narrowed
    // data set must not copy the whole data set.
    Ok(crate::map_storage!(s, v => go(&contiguous_slice(v, layout), &idx, outer, size, inner)))
}

/// PyTorch `index_add` along `axis` with 1-D `indices`: a copy of `s` with slice `j` of
/// `upd` (along `axis`) added to slice `indices[j]`; repeated indices add up. `upd` has `s`'s
/// shape with `axis` replaced by `indices.len()`. This is the adjoint of [`index_select`]
/// (an embedding's gradient), done a row at a time: `scatter_add` would need a full-size
/// index tensor and an offset per element.
///
/// ```
/// use keras_backend::Layout;
/// use keras_cpu::{index::index_add, CpuStorage};
/// let zeros = CpuStorage::F32(vec![0.0; 6]); // (3, 2)
/// let idx = CpuStorage::I64(vec![2, 0, 2]);
/// let upd = CpuStorage::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]); // (3, 2)
/// let (l, li) = (Layout::contiguous(&[3, 2]), Layout::contiguous(&[3]));
/// let out = index_add(&zeros, &l, &idx, &li, &upd, &l, 0)?;
/// assert_eq!(out, CpuStorage::F32(vec![3.0, 4.0, 0.0, 0.0, 6.0, 8.0]));
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn index_add(
    s: &CpuStorage,
    layout: &Layout,
    idx: &CpuStorage,
    idx_layout: &Layout,
    upd: &CpuStorage,
    upd_layout: &Layout,
    axis: usize,
) -> Result<CpuStorage> {
    const OP: &str = "index_add";
    if idx_layout.rank() != 1 {
        return Err(Error::BadShape {
            op: OP,
            shape: idx_layout.shape().to_vec(),
            msg: "indices must be 1-D".into(),
        });
    }
    let (outer, size, inner) = split_shape(layout.shape(), axis);
    let idx = resolve(OP, &index_vec(idx, idx_layout, OP)?, size)?;
    let mut want = layout.shape().to_vec();
    want[axis] = idx.len();
    if upd_layout.shape() != want.as_slice() {
        return Err(Error::ShapeMismatch {
            op: OP,
            lhs: want,
            rhs: upd_layout.shape().to_vec(),
        });
    }
    if s.dtype() != upd.dtype() {
        return Err(Error::DTypeMismatch {
            op: OP,
            lhs: s.dtype(),
            rhs: upd.dtype(),
        });
    }
    fn go<T: Copy + std::ops::Add<Output = T>>(
        out: &mut [T],
        u: &[T],
        idx: &[usize],
        size: usize,
        inner: usize,
    ) {
        // The caller returns early when there is nothing to add, so no chunk size is 0.
        for (o, rows) in u.chunks_exact(idx.len() * inner).enumerate() {
            for (&i, src) in idx.iter().zip(rows.chunks_exact(inner)) {
                let dst = &mut out[(o * size + i) * inner..][..inner];
                for (d, &x) in dst.iter_mut().zip(src) {
                    *d = *d + x;
                }
            }
        }
    }
    let mut out = s.contiguous(layout).into_owned();
    if outer * idx.len() * inner == 0 {
        return Ok(out);
    }
    let u = upd.contiguous(upd_layout);
    match (&mut out, &*u) {
        (CpuStorage::F32(o), CpuStorage::F32(u)) => go(o, u, &idx, size, inner),
        (CpuStorage::F64(o), CpuStorage::F64(u)) => go(o, u, &idx, size, inner),
        (CpuStorage::F16(o), CpuStorage::F16(u)) => go(o, u, &idx, size, inner),
        (CpuStorage::BF16(o), CpuStorage::BF16(u)) => go(o, u, &idx, size, inner),
        (CpuStorage::I32(o), CpuStorage::I32(u)) => go(o, u, &idx, size, inner),
        (CpuStorage::I64(o), CpuStorage::I64(u)) => go(o, u, &idx, size, inner),
        (CpuStorage::U8(o), CpuStorage::U8(u)) => go(o, u, &idx, size, inner),
        _ => {
            return Err(Error::UnsupportedDType {
                op: OP,
                dtype: s.dtype(),
                hint: "",
            })
        }
    }
    Ok(out)
}

/// Storage offset in a row-major tensor of `shape` for every position of a row-major
/// `idx_shape` (same rank, each size at most `shape`'s), with the `axis` coordinate replaced
/// by the (resolved) index at that position.
fn along_axis_offsets(shape: &[usize], idx_shape: &[usize], idx: &[usize], axis: usize) -> Vec<usize> {
    let strides = keras_backend::layout::contiguous_strides(shape);
    let mut out = Vec::with_capacity(idx.len());
    let mut coord = vec![0usize; idx_shape.len()];
    for &i in idx {
        let mut off = 0isize;
        for (d, &c) in coord.iter().enumerate() {
            off += strides[d] * if d == axis { i } else { c } as isize;
        }
        out.push(off as usize);
        for d in (0..coord.len()).rev() {
            coord[d] += 1;
            if coord[d] < idx_shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    out
}

/// Checks that `idx_shape` fits inside `shape` off `axis` (PyTorch's gather/scatter rule).
fn check_fits(op: &'static str, shape: &[usize], idx_shape: &[usize], axis: usize) -> Result<()> {
    let fits =
        shape.len() == idx_shape.len() && (0..shape.len()).all(|d| d == axis || idx_shape[d] <= shape[d]);
    if fits {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op,
            lhs: shape.to_vec(),
            rhs: idx_shape.to_vec(),
        })
    }
}

/// PyTorch `gather(x, axis, indices)`: output has `indices`' shape; position `p` reads `x` at
/// `p` with its `axis` coordinate replaced by `indices[p]`. `indices` has `x`'s rank and is
/// no larger than `x` off `axis` (NumPy's `take_along_axis` is this after broadcasting).
pub fn gather(
    s: &CpuStorage,
    layout: &Layout,
    idx: &CpuStorage,
    idx_layout: &Layout,
    axis: usize,
) -> Result<CpuStorage> {
    check_fits("gather", layout.shape(), idx_layout.shape(), axis)?;
    let size = layout.shape()[axis];
    let idx = resolve("gather", &index_vec(idx, idx_layout, "gather")?, size)?;
    let offsets = along_axis_offsets(layout.shape(), idx_layout.shape(), &idx, axis);
    Ok(crate::map_storage!(s, v => {
        let v = contiguous_slice(v, layout);
        offsets.iter().map(|&o| v[o]).collect()
    }))
}

/// PyTorch `scatter_add(x, axis, indices, updates)`: a copy of `x` with `updates[p]` added at
/// position `p` with its `axis` coordinate replaced by `indices[p]` (repeats add up).
/// `indices` and `updates` share a shape no larger than `x` off `axis`.
pub fn scatter_add(
    s: &CpuStorage,
    layout: &Layout,
    idx: &CpuStorage,
    idx_layout: &Layout,
    upd: &CpuStorage,
    upd_layout: &Layout,
    axis: usize,
) -> Result<CpuStorage> {
    check_fits("scatter_add", layout.shape(), idx_layout.shape(), axis)?;
    if idx_layout.shape() != upd_layout.shape() {
        return Err(Error::ShapeMismatch {
            op: "scatter_add",
            lhs: idx_layout.shape().to_vec(),
            rhs: upd_layout.shape().to_vec(),
        });
    }
    if s.dtype() != upd.dtype() {
        return Err(Error::DTypeMismatch {
            op: "scatter_add",
            lhs: s.dtype(),
            rhs: upd.dtype(),
        });
    }
    let size = layout.shape()[axis];
    let idx = resolve("scatter_add", &index_vec(idx, idx_layout, "scatter_add")?, size)?;
    let offsets = along_axis_offsets(layout.shape(), idx_layout.shape(), &idx, axis);
    let upd = upd.contiguous(upd_layout);
    fn go<T: Copy + std::ops::Add<Output = T>>(out: &mut [T], u: &[T], offsets: &[usize]) {
        for (&o, &x) in offsets.iter().zip(u) {
            out[o] = out[o] + x;
        }
    }
    let mut out = s.contiguous(layout).into_owned();
    match &mut out {
        CpuStorage::F32(o) => go(o, upd.as_slice::<f32>()?, &offsets),
        CpuStorage::F64(o) => go(o, upd.as_slice::<f64>()?, &offsets),
        CpuStorage::F16(o) => go(o, upd.as_slice::<half::f16>()?, &offsets),
        CpuStorage::BF16(o) => go(o, upd.as_slice::<half::bf16>()?, &offsets),
        CpuStorage::I32(o) => go(o, upd.as_slice::<i32>()?, &offsets),
        CpuStorage::I64(o) => go(o, upd.as_slice::<i64>()?, &offsets),
        CpuStorage::U8(o) => go(o, upd.as_slice::<u8>()?, &offsets),
        CpuStorage::Bool(_) => {
            return Err(Error::UnsupportedDType {
                op: "scatter_add",
                dtype: DType::Bool,
                hint: "",
            })
        }
    }
    Ok(out)
}

/// Inclusive cumulative sum along `axis` (half floats accumulate in `f32`).
pub fn cumsum(s: &CpuStorage, layout: &Layout, axis: usize) -> Result<CpuStorage> {
    let (outer, size, inner) = split_shape(layout.shape(), axis);
    if matches!(s.dtype(), DType::F16 | DType::BF16) {
        let r = cumsum(
            &s.cast(layout, DType::F32),
            &Layout::contiguous(layout.shape()),
            axis,
        )?;
        return Ok(r.cast(&Layout::contiguous(&[r.len()]), s.dtype()));
    }
    fn go<T: Copy + std::ops::Add<Output = T>>(v: &mut [T], outer: usize, size: usize, inner: usize) {
        for o in 0..outer {
            for j in 1..size {
                for k in 0..inner {
                    let p = (o * size + j) * inner + k;
                    v[p] = v[p] + v[p - inner];
                }
            }
        }
    }
    let mut out = s.contiguous(layout).into_owned();
    match &mut out {
        CpuStorage::F32(v) => go(v, outer, size, inner),
        CpuStorage::F64(v) => go(v, outer, size, inner),
        CpuStorage::I32(v) => go(v, outer, size, inner),
        CpuStorage::I64(v) => go(v, outer, size, inner),
        CpuStorage::U8(v) => go(v, outer, size, inner),
        other => {
            return Err(Error::UnsupportedDType {
                op: "cumsum",
                dtype: other.dtype(),
                hint: "cast bool to an integer dtype first",
            })
        }
    }
    Ok(out)
}

/// True for NaN (the only value not equal to itself); works for every element type.
#[allow(clippy::eq_op)]
fn is_nan<T: PartialEq>(x: T) -> bool {
    x != x
}

/// Stable argsort along `axis` (`int64` result of the input's shape). NaNs sort last in
/// ascending order and first in descending order, as NumPy's ascending sort of `-x` does.
pub fn argsort(s: &CpuStorage, layout: &Layout, axis: usize, descending: bool) -> Result<CpuStorage> {
    let (outer, size, inner) = split_shape(layout.shape(), axis);
    let wide;
    let src = match s.dtype() {
        DType::F16 | DType::BF16 => {
            wide = s.cast(layout, DType::F32);
            std::borrow::Cow::Borrowed(&wide)
        }
        _ => s.contiguous(layout),
    };
    fn go<T: StorageElement>(v: &[T], outer: usize, size: usize, inner: usize, desc: bool) -> Vec<i64> {
        let mut out = vec![0i64; outer * size * inner];
        let line = |o: usize, k: usize, buf: &mut Vec<usize>| {
            buf.clear();
            buf.extend(0..size);
            let at = |i: usize| v[(o * size + i) * inner + k];
            buf.sort_by(|&a, &b| {
                let (x, y) = (at(a), at(b));
                // NaN (x != x) counts as the largest value.
                let ord = match (is_nan(x), is_nan(y)) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                };
                if desc {
                    ord.reverse()
                } else {
                    ord
                }
            });
        };
        let mut buf = Vec::with_capacity(size);
        for o in 0..outer {
            for k in 0..inner {
                line(o, k, &mut buf);
                for (j, &i) in buf.iter().enumerate() {
                    out[(o * size + j) * inner + k] = i as i64;
                }
            }
        }
        out
    }
    Ok(CpuStorage::I64(
        crate::with_storage!(&*src, v => go(v, outer, size, inner, descending)),
    ))
}
