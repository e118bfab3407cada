//! Shape and layout ops: reshape, permute, broadcast, slice, concat, stack, split, pad, flip,
//! squeeze, expand_dims. Most are views (no data moves) and all carry gradients.

use crate::Tensor;
use keras_backend::layout::{normalize_axes, normalize_axis};
use keras_backend::{Error, Layout, Result};
use keras_cpu::CpuStorage;

impl Tensor {
    /// A contiguous copy when the layout is not contiguous (else this tensor).
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.layout().contiguous_range().is_some() {
            return Ok(self.clone());
        }
        let out = Tensor::from_cpu(self.storage().cpu().gather_layout(self.layout()), self.shape());
        Ok(out.record("contiguous", &[self], |g| Ok(vec![Some(g.clone())])))
    }

    /// Reshape to a shape with at most one `-1` (inferred). A view when the data is
    /// contiguous, else a copy.
    ///
    /// # Errors
    /// When the element counts differ or more than one `-1` is given.
    pub fn reshape(&self, shape: &[isize]) -> Result<Tensor> {
        let n = self.numel();
        let known: usize = shape.iter().filter(|&&s| s >= 0).map(|&s| s as usize).product();
        let infer = shape.iter().filter(|&&s| s < 0).count();
        let bad = || Error::BadShape {
            op: "reshape",
            shape: self.shape().to_vec(),
            msg: format!("cannot reshape {n} elements to {shape:?}"),
        };
        if infer > 1 || shape.iter().any(|&s| s < -1) {
            return Err(bad());
        }
        let resolved: Vec<usize> = if infer == 1 {
            if known == 0 || n % known != 0 {
                return Err(bad());
            }
            shape
                .iter()
                .map(|&s| if s < 0 { n / known } else { s as usize })
                .collect()
        } else {
            shape.iter().map(|&s| s as usize).collect()
        };
        if resolved.iter().product::<usize>() != n {
            return Err(bad());
        }
        self.reshape_to(&resolved)
    }

    /// Reshape to a fully known shape.
    ///
    /// # Errors
    /// When the element counts differ.
    pub fn reshape_to(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        if shape.iter().product::<usize>() != self.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        let src = self.contiguous()?;
        let layout = src.layout().reshape(shape).ok_or_else(|| Error::BadShape {
            op: "reshape",
            shape: self.shape().to_vec(),
            msg: "internal: contiguous copy is not reshapeable".into(),
        })?;
        let in_shape = self.shape().to_vec();
        Ok(src.with_layout(layout).record("reshape", &[&src], move |g| {
            Ok(vec![Some(g.reshape_to(&in_shape)?)])
        }))
    }

    /// Reorders axes: output axis `i` is input axis `axes[i]` (a view).
    ///
    /// # Errors
    /// When `axes` is not a permutation of the tensor's axes.
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor> {
        let layout = self.layout().permute(axes)?;
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        Ok(self
            .with_layout(layout)
            .record("permute", &[self], move |g| Ok(vec![Some(g.permute(&inverse)?)])))
    }

    /// Swaps two axes (negative counts from the end).
    ///
    /// # Errors
    /// When an axis is out of range.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let r = self.rank();
        let (a, b) = (
            normalize_axis("transpose", a, r)?,
            normalize_axis("transpose", b, r)?,
        );
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Broadcasts to `shape` by NumPy rules (a view with zero strides).
    ///
    /// # Errors
    /// When the shapes are not compatible.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let layout = self.layout().broadcast_to(shape)?;
        let in_shape = self.shape().to_vec();
        Ok(self
            .with_layout(layout)
            .record("broadcast_to", &[self], move |g| {
                Ok(vec![Some(g.sum_to(&in_shape)?)])
            }))
    }

    /// Elements `start, start+step, …` below `stop` along `axis` (a view; bounds clamp as in
    /// Python slicing).
    ///
    /// # Errors
    /// When the axis is out of range or `step` is 0.
    pub fn slice_axis(&self, axis: isize, start: usize, stop: usize, step: usize) -> Result<Tensor> {
        let a = normalize_axis("slice", axis, self.rank())?;
        let layout = self.layout().slice(a, start, stop, step)?;
        // Where the slice sits inside a contiguous tensor of the input's shape.
        let place = Layout::contiguous(self.shape()).slice(a, start, stop, step)?;
        Ok(self.with_layout(layout).record_part("slice", self, place))
    }

    /// Slices every axis: `ranges[d] = (start, stop, step)`; missing trailing axes are kept
    /// whole.
    ///
    /// # Errors
    /// When more ranges than axes are given, or a step is 0.
    pub fn slice(&self, ranges: &[(usize, usize, usize)]) -> Result<Tensor> {
        if ranges.len() > self.rank() {
            return Err(Error::InvalidArgument {
                op: "slice",
                msg: format!("{} ranges for a tensor of rank {}", ranges.len(), self.rank()),
            });
        }
        let mut t = self.clone();
        for (d, &(start, stop, step)) in ranges.iter().enumerate() {
            if (start, stop.min(self.shape()[d]), step) != (0, self.shape()[d], 1) {
                t = t.slice_axis(d as isize, start, stop, step)?;
            }
        }
        Ok(t)
    }

    /// `len` elements from `start` along `axis`.
    ///
    /// # Errors
    /// When the range exceeds the axis.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let a = normalize_axis("narrow", axis, self.rank())?;
        if start + len > self.shape()[a] {
            return Err(Error::InvalidArgument {
                op: "narrow",
                msg: format!(
                    "range {start}..{} exceeds axis {a} of shape {:?}",
                    start + len,
                    self.shape()
                ),
            });
        }
        self.slice_axis(axis, start, start + len, 1)
    }

    /// Joins tensors along an existing axis. Dtypes are promoted.
    ///
    /// # Errors
    /// When the list is empty or the shapes differ off `axis` (the error names both).
    pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or(Error::InvalidArgument {
            op: "concat",
            msg: "needs at least one tensor".into(),
        })?;
        let a = normalize_axis("concat", axis, first.rank())?;
        let dtype = tensors.iter().fold(first.dtype(), |d, t| d.promote(t.dtype()));
        let mut parts = Vec::with_capacity(tensors.len());
        for t in tensors {
            first.same_device("concat", &[t])?;
            let ok =
                t.rank() == first.rank() && (0..t.rank()).all(|d| d == a || t.shape()[d] == first.shape()[d]);
            if !ok {
                return Err(Error::ShapeMismatch {
                    op: "concat",
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                });
            }
            parts.push(t.cast(dtype)?);
        }
        let pairs: Vec<_> = parts.iter().map(|t| (t.storage().cpu(), t.layout())).collect();
        let out = CpuStorage::concat(&pairs, a)?;
        let mut shape = first.shape().to_vec();
        shape[a] = parts.iter().map(|t| t.shape()[a]).sum();
        let sizes: Vec<usize> = parts.iter().map(|t| t.shape()[a]).collect();
        let refs: Vec<&Tensor> = parts.iter().collect();
        Ok(Tensor::from_cpu(out, &shape).record("concat", &refs, move |g| {
            Ok(g.split(&sizes, a as isize)?.into_iter().map(Some).collect())
        }))
    }

    /// Joins same-shaped tensors along a new axis.
    ///
    /// # Errors
    /// When the list is empty or shapes differ.
    pub fn stack(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or(Error::InvalidArgument {
            op: "stack",
            msg: "needs at least one tensor".into(),
        })?;
        let a = normalize_axis("stack", axis, first.rank() + 1)?;
        let mut parts = Vec::with_capacity(tensors.len());
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                });
            }
            parts.push(t.expand_dims(a as isize)?);
        }
        Tensor::concat(&parts.iter().collect::<Vec<_>>(), a as isize)
    }

    /// Splits along `axis` into pieces of the given sizes (views).
    ///
    /// # Errors
    /// When the sizes do not add up to the axis length.
    pub fn split(&self, sizes: &[usize], axis: isize) -> Result<Vec<Tensor>> {
        let a = normalize_axis("split", axis, self.rank())?;
        if sizes.iter().sum::<usize>() != self.shape()[a] {
            return Err(Error::InvalidArgument {
                op: "split",
                msg: format!(
                    "sizes {sizes:?} do not add up to axis {a} of shape {:?}",
                    self.shape()
                ),
            });
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&n| {
                let t = self.slice_axis(a as isize, start, start + n, 1);
                start += n;
                t
            })
            .collect()
    }

    /// Pads with a constant; `pads[d] = (before, after)` for every axis.
    ///
    /// # Errors
    /// When `pads` does not have one entry per axis.
    pub fn pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor> {
        if pads.len() != self.rank() {
            return Err(Error::InvalidArgument {
                op: "pad",
                msg: format!("{} pad widths for a tensor of rank {}", pads.len(), self.rank()),
            });
        }
        let out = self.storage().cpu().pad(self.layout(), pads, value)?;
        let shape: Vec<usize> = self
            .shape()
            .iter()
            .zip(pads)
            .map(|(&s, &(b, a))| s + b + a)
            .collect();
        let ranges: Vec<(usize, usize, usize)> = self
            .shape()
            .iter()
            .zip(pads)
            .map(|(&s, &(b, _))| (b, b + s, 1))
            .collect();
        Ok(Tensor::from_cpu(out, &shape).record("pad", &[self], move |g| Ok(vec![Some(g.slice(&ranges)?)])))
    }

    /// Reverses the given axes (a view).
    ///
    /// # Errors
    /// When an axis is out of range or repeated.
    pub fn flip(&self, axes: &[isize]) -> Result<Tensor> {
        let ax = normalize_axes("flip", axes, self.rank())?;
        let mut layout = self.layout().clone();
        for &a in &ax {
            layout = layout.flip(a);
        }
        let axes = axes.to_vec();
        Ok(self
            .with_layout(layout)
            .record("flip", &[self], move |g| Ok(vec![Some(g.flip(&axes)?)])))
    }

    /// Removes size-1 axes (all of them when `axes` is empty).
    ///
    /// # Errors
    /// When a named axis does not have size 1.
    pub fn squeeze(&self, axes: &[isize]) -> Result<Tensor> {
        let ax = if axes.is_empty() {
            (0..self.rank()).filter(|&d| self.shape()[d] == 1).collect()
        } else {
            normalize_axes("squeeze", axes, self.rank())?
        };
        if let Some(&d) = ax.iter().find(|&&d| self.shape()[d] != 1) {
            return Err(Error::BadShape {
                op: "squeeze",
                shape: self.shape().to_vec(),
                msg: format!("axis {d} does not have size 1"),
            });
        }
        let shape: Vec<usize> = (0..self.rank())
            .filter(|d| !ax.contains(d))
            .map(|d| self.shape()[d])
            .collect();
        self.reshape_to(&shape)
    }

    /// Inserts a size-1 axis at `axis` (in the output's numbering).
    ///
    /// # Errors
    /// When the axis is out of range.
    pub fn expand_dims(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("expand_dims", axis, self.rank() + 1)?;
        let mut shape = self.shape().to_vec();
        shape.insert(a, 1);
        self.reshape_to(&shape)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};
    use crate::Tensor;

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[2, 3, 4], 1);
        check_grad("reshape", &[&x], |t| t[0].reshape(&[4, -1]));
        check_grad("permute", &[&x], |t| t[0].permute(&[2, 0, 1]));
        check_grad("broadcast_to", &[&randn(&[3, 1], 2)], |t| {
            t[0].broadcast_to(&[2, 3, 5])
        });
        check_grad("slice_step", &[&x], |t| {
            t[0].slice(&[(0, 2, 1), (1, 3, 1), (0, 4, 3)])
        });
        check_grad("concat", &[&x, &randn(&[2, 1, 4], 3)], |t| {
            Tensor::concat(&[&t[0], &t[1]], 1)
        });
        check_grad("stack", &[&x, &x.mul_scalar(2.0).unwrap()], |t| {
            Tensor::stack(&[&t[0], &t[1]], -1)
        });
        check_grad("split", &[&x], |t| {
            let p = t[0].split(&[1, 3], 2)?;
            p[0].sum_all()?.add(&p[1].mul_scalar(3.0)?.sum_all()?)
        });
        check_grad("pad", &[&x], |t| t[0].pad(&[(1, 0), (0, 2), (1, 1)], 0.5));
        check_grad("flip", &[&x], |t| t[0].flip(&[0, 2]));
        check_grad("squeeze", &[&randn(&[2, 1, 3], 4)], |t| t[0].squeeze(&[1]));
        check_grad("expand_dims", &[&x], |t| t[0].expand_dims(-1));
        check_grad("reshape_of_permuted", &[&x], |t| {
            t[0].permute(&[1, 0, 2])?.reshape(&[-1])
        });
        check_grad("slice_empty", &[&x], |t| t[0].slice_axis(1, 2, 2, 1));
    }

    #[test]
    fn views_share_storage_and_give_right_values() {
        let x = Tensor::new(&[0i32, 1, 2, 3, 4, 5], &[2, 3]).unwrap();
        assert_eq!(
            x.transpose(0, 1).unwrap().to_vec::<i32>().unwrap(),
            vec![0, 3, 1, 4, 2, 5]
        );
        assert_eq!(
            x.flip(&[1]).unwrap().to_vec::<i32>().unwrap(),
            vec![2, 1, 0, 5, 4, 3]
        );
        assert_eq!(
            x.slice_axis(1, 1, 3, 1).unwrap().to_vec::<i32>().unwrap(),
            vec![1, 2, 4, 5]
        );
        let e = x.reshape(&[4, -1]).unwrap_err().to_string();
        assert!(e.contains("reshape"), "{e}");
        let e = Tensor::concat(&[&x, &x.reshape(&[3, 2]).unwrap()], 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("concat") && e.contains("[2, 3]") && e.contains("[3, 2]"),
            "{e}"
        );
    }
}
