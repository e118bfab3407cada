//! Shapes, strides and the view operations that only change them.
//!
//! A [`Layout`] says where each element of a tensor lives in its storage: `offset +
//! sum(index[d] * strides[d])`. Permute, broadcast, slice, flip, squeeze and (for contiguous
//! data) reshape are changes of layout only; no data moves.

use crate::error::{Error, Result};

/// Shape, strides (in elements, may be zero for broadcast or negative for flips) and offset.
///
/// ```
/// use keras_backend::Layout;
/// let l = Layout::contiguous(&[2, 3]).permute(&[1, 0]).unwrap();
/// assert_eq!(l.shape(), &[3, 2]);
/// assert!(!l.is_contiguous());
/// assert_eq!(l.offsets(), vec![0, 3, 1, 4, 2, 5]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<isize>,
    offset: usize,
}

/// Row-major strides of a shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut s = 1isize;
    for d in (0..shape.len()).rev() {
        strides[d] = s;
        s *= shape[d].max(1) as isize;
    }
    strides
}

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Resolves a possibly negative axis against a rank.
///
/// # Errors
/// [`Error::AxisOutOfRange`] naming `op`.
pub fn normalize_axis(op: &'static str, axis: isize, rank: usize) -> Result<usize> {
    let r = rank as isize;
    if axis < -r || axis >= r {
        return Err(Error::AxisOutOfRange { op, axis, rank });
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

/// Resolves a list of axes, rejecting duplicates. An empty list stays empty.
///
/// # Errors
/// [`Error::AxisOutOfRange`] or [`Error::InvalidArgument`] for a repeated axis.
pub fn normalize_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = normalize_axis(op, a, rank)?;
        if out.contains(&a) {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("axis {a} repeated in {axes:?}"),
            });
        }
        out.push(a);
    }
    Ok(out)
}

/// The NumPy broadcast of two shapes.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `op` and both shapes.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::ShapeMismatch {
                op,
                lhs: a.to_vec(),
                rhs: b.to_vec(),
            });
        };
    }
    Ok(out)
}

impl Layout {
    /// Row-major layout of `shape` at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// A layout from raw parts. The caller guarantees every index stays in its storage.
    pub fn from_parts(shape: Vec<usize>, strides: Vec<isize>, offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape,
            strides,
            offset,
        }
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Strides in elements.
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    /// Offset of element `[0, 0, …]` in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// True when elements are row-major and adjacent (any offset).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for d in (0..self.shape.len()).rev() {
            if self.shape[d] != 1 && self.strides[d] != expected {
                return false;
            }
            expected *= self.shape[d] as isize;
        }
        true
    }

    /// The storage range `offset..offset+numel` when the layout is contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        self.is_contiguous()
            .then(|| self.offset..self.offset + self.numel())
    }

    /// Reorders dimensions: output dim `i` is input dim `perm[i]`.
    ///
    /// # Errors
    /// When `perm` is not a permutation of `0..rank`.
    pub fn permute(&self, perm: &[usize]) -> Result<Layout> {
        let r = self.rank();
        let mut seen = vec![false; r];
        if perm.len() != r
            || perm
                .iter()
                .any(|&p| p >= r || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::InvalidArgument {
                op: "permute",
                msg: format!(
                    "{perm:?} is not a permutation of the {r} axes of shape {:?}",
                    self.shape
                ),
            });
        }
        Ok(Layout {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    /// Broadcasts to `shape` (NumPy rules: leading dims added, size-1 dims stretched).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes do not broadcast one way.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let n = shape.len();
        let r = self.rank();
        let err = || Error::ShapeMismatch {
            op: "broadcast_to",
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
        };
        if r > n {
            return Err(err());
        }
        let mut strides = vec![0isize; n];
        for i in 0..r {
            let (src, dst) = (self.shape[i], shape[n - r + i]);
            if src == dst {
                strides[n - r + i] = self.strides[i];
            } else if src != 1 {
                return Err(err());
            }
        }
        Ok(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// Elements `start, start+step, …` below `stop` along `axis` (`step >= 1`, bounds clamped
    /// as in Python slicing of non-negative indices).
    ///
    /// # Errors
    /// For a bad axis or `step == 0`.
    pub fn slice(&self, axis: usize, start: usize, stop: usize, step: usize) -> Result<Layout> {
        if axis >= self.rank() {
            return Err(Error::AxisOutOfRange {
                op: "slice",
                axis: axis as isize,
                rank: self.rank(),
            });
        }
        if step == 0 {
            return Err(Error::InvalidArgument {
                op: "slice",
                msg: "step must be at least 1".into(),
            });
        }
        let size = self.shape[axis];
        let stop = stop.min(size);
        let start = start.min(stop);
        let len = (stop - start).div_ceil(step);
        let mut l = self.clone();
        if len > 0 {
            l.offset = (self.offset as isize + start as isize * self.strides[axis]) as usize;
        }
        l.shape[axis] = len;
        l.strides[axis] *= step as isize;
        Ok(l)
    }

    /// Reverses `axis` (a negative stride; no data moves).
    pub fn flip(&self, axis: usize) -> Layout {
        let mut l = self.clone();
        let n = self.shape[axis];
        if n > 0 {
            l.offset = (self.offset as isize + (n as isize - 1) * self.strides[axis]) as usize;
        }
        l.strides[axis] = -self.strides[axis];
        l
    }

    /// Same elements under a new shape, if possible without copying: always for contiguous
    /// layouts, `None` otherwise.
    pub fn reshape(&self, shape: &[usize]) -> Option<Layout> {
        if numel(shape) != self.numel() {
            return None;
        }
        self.is_contiguous().then(|| Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: self.offset,
        })
    }

    /// Storage offset of every element, in row-major order of the logical index.
    pub fn offsets(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.numel());
        self.for_each_run(|base, len, stride| {
            for i in 0..len {
                out.push((base as isize + i as isize * stride) as usize);
            }
        });
        out
    }

    /// Calls `f(base_offset, len, stride)` once per run along the innermost dimension, in
    /// row-major order. A rank-0 layout is one run of length 1. No call when empty.
    pub fn for_each_run(&self, mut f: impl FnMut(usize, usize, isize)) {
        if self.numel() == 0 {
            return;
        }
        // Merge adjacent dimensions that step through storage as one (including broadcast
        // dimensions, stride 0 after stride 0), so runs are as long as possible.
        let mut shape: Vec<usize> = Vec::with_capacity(self.rank());
        let mut strides: Vec<isize> = Vec::with_capacity(self.rank());
        for (&n, &st) in self.shape.iter().zip(&self.strides) {
            if n == 1 {
                continue;
            }
            match (shape.last_mut(), strides.last_mut()) {
                (Some(ln), Some(ls)) if *ls == st * n as isize => {
                    *ln *= n;
                    *ls = st;
                }
                _ => {
                    shape.push(n);
                    strides.push(st);
                }
            }
        }
        let r = shape.len();
        if r == 0 {
            f(self.offset, 1, 1);
            return;
        }
        let inner = shape[r - 1];
        let inner_stride = strides[r - 1];
        let mut idx = vec![0usize; r - 1];
        let mut base = self.offset as isize;
        loop {
            f(base as usize, inner, inner_stride);
            // increment the outer multi-index
            let mut d = r - 1;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                base += strides[d];
                if idx[d] < shape[d] {
                    break;
                }
                base -= strides[d] * shape[d] as isize;
                idx[d] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert_eq!(broadcast_shapes("t", &[], &[5]).unwrap(), vec![5]);
        let e = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err().to_string();
        assert!(
            e.contains("add") && e.contains("[2, 3]") && e.contains("[4]"),
            "{e}"
        );
    }

    #[test]
    fn views_compute_offsets() {
        let l = Layout::contiguous(&[2, 3]);
        assert_eq!(l.slice(1, 1, 3, 1).unwrap().offsets(), vec![1, 2, 4, 5]);
        assert_eq!(l.slice(1, 0, 3, 2).unwrap().offsets(), vec![0, 2, 3, 5]);
        assert_eq!(l.flip(1).offsets(), vec![2, 1, 0, 5, 4, 3]);
        assert_eq!(l.flip(0).offsets(), vec![3, 4, 5, 0, 1, 2]);
        let b = Layout::contiguous(&[3]).broadcast_to(&[2, 3]).unwrap();
        assert_eq!(b.offsets(), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(Layout::contiguous(&[]).offsets(), vec![0]);
        assert!(Layout::contiguous(&[0, 3]).offsets().is_empty());
        assert!(l.permute(&[0, 0]).is_err());
        assert!(l.slice(1, 2, 1, 1).unwrap().numel() == 0);
    }
}
