//! Indexing along an axis: `index_select` and `index_add`, `gather` (take_along_axis) and
//! `scatter_add`, `one_hot`, and their gradients.

use crate::Tensor;
use keras_backend::layout::normalize_axis;
use keras_backend::{DType, Error, Result};

/// A CPU kernel adding updates at indices: `(x, x layout, indices, their layout, updates,
/// their layout, axis)`.
type AddAtKernel = fn(
    &keras_cpu::CpuStorage,
    &keras_backend::Layout,
    &keras_cpu::CpuStorage,
    &keras_backend::Layout,
    &keras_cpu::CpuStorage,
    &keras_backend::Layout,
    usize,
) -> Result<keras_cpu::CpuStorage>;

fn check_indices(op: &'static str, idx: &Tensor) -> Result<()> {
    if idx.dtype().is_int() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType {
            op,
            dtype: idx.dtype(),
            hint: "indices must be int32, int64 or uint8",
        })
    }
}

impl Tensor {
    /// NumPy `take(x, indices, axis)` for 1-D `indices` (negative indices count from the
    /// end): the result has `indices.len()` entries along `axis`.
    ///
    /// # Errors
    /// When `indices` is not a 1-D integer tensor or an index is out of range.
    pub fn index_select(&self, indices: &Tensor, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("index_select", axis, self.rank())?;
        check_indices("index_select", indices)?;
        if indices.rank() != 1 {
            return Err(Error::BadShape {
                op: "index_select",
                shape: indices.shape().to_vec(),
                msg: "indices must be 1-D (reshape the result for other shapes)".into(),
            });
        }
        let out = keras_cpu::index::index_select(
            self.storage().cpu(),
            self.layout(),
            indices.storage().cpu(),
            indices.layout(),
            a,
        )?;
        let mut shape = self.shape().to_vec();
        shape[a] = indices.numel();
        let idx = indices.clone();
        let x_shape = self.shape().to_vec();
        Ok(
            Tensor::from_cpu(out, &shape).record("index_select", &[self], move |g| {
                // Adjoint: add each gradient slice back at its index.
                let zeros = Tensor::zeros(&x_shape, g.dtype(), g.device())?;
                Ok(vec![Some(zeros.index_add(&idx, g, a as isize)?)])
            }),
        )
    }

    /// PyTorch `index_add`: a copy of this tensor with slice `j` of `updates` along `axis`
    /// added to slice `indices[j]` (repeated indices add up); `updates` has this tensor's
    /// shape with `axis` of length `indices.len()`. The adjoint of [`Tensor::index_select`].
    ///
    /// ```
    /// use keras_tensor::Tensor;
    /// let x = Tensor::zeros(&[3, 2], keras_tensor::DType::F32, &keras_tensor::Device::Cpu)?;
    /// let idx = Tensor::new(&[2i64, 0, 2], &[3])?;
    /// let upd = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// assert_eq!(x.index_add(&idx, &upd, 0)?.to_vec::<f32>()?, [3.0, 4.0, 0.0, 0.0, 6.0, 8.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When `indices` is not a 1-D integer tensor, an index is out of range, or `updates` has
    /// the wrong shape.
    pub fn index_add(&self, indices: &Tensor, updates: &Tensor, axis: isize) -> Result<Tensor> {
        self.add_at(
            "index_add",
            keras_cpu::index::index_add,
            indices,
            updates,
            axis,
            |g, idx, a| g.index_select(idx, a as isize),
        )
    }

    /// NumPy `take_along_axis`: `out[..., j, ...] = x[..., indices[..., j, ...], ...]` along
    /// `axis`. `indices` has this tensor's rank; its other axes broadcast to this tensor's.
    ///
    /// # Errors
    /// When ranks or shapes disagree or an index is out of range.
    pub fn gather(&self, indices: &Tensor, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("gather", axis, self.rank())?;
        check_indices("gather", indices)?;
        if indices.rank() != self.rank() {
            return Err(Error::ShapeMismatch {
                op: "gather",
                lhs: self.shape().to_vec(),
                rhs: indices.shape().to_vec(),
            });
        }
        let mut ishape = self.shape().to_vec();
        ishape[a] = indices.shape()[a];
        let idx = indices.broadcast_to(&ishape).map_err(|_| Error::ShapeMismatch {
            op: "gather",
            lhs: self.shape().to_vec(),
            rhs: indices.shape().to_vec(),
        })?;
        self.gather_raw(&idx, a)
    }

    /// PyTorch `scatter_add`: a copy of this tensor with `updates[p]` added at position `p`
    /// with its `axis` coordinate replaced by `indices[p]` (repeated indices add up).
    ///
    /// # Errors
    /// When `indices` and `updates` differ in shape, are larger than this tensor off `axis`
    /// (PyTorch's rule: smaller is fine), or an index is out of range.
    pub fn scatter_add(&self, indices: &Tensor, updates: &Tensor, axis: isize) -> Result<Tensor> {
        self.add_at(
            "scatter_add",
            keras_cpu::index::scatter_add,
            indices,
            updates,
            axis,
            |g, idx, a| g.gather_raw(idx, a),
        )
    }

    /// The body of [`Tensor::index_add`] and [`Tensor::scatter_add`]: `kernel` adds `updates`
    /// (cast to this dtype) into a copy of this tensor at `indices`; the gradient passes to
    /// this tensor unchanged and to `updates` as `updates_grad(g, indices, axis)`, the op
    /// that reads back what was added.
    fn add_at(
        &self,
        op: &'static str,
        kernel: AddAtKernel,
        indices: &Tensor,
        updates: &Tensor,
        axis: isize,
        updates_grad: fn(&Tensor, &Tensor, usize) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let a = normalize_axis(op, axis, self.rank())?;
        check_indices(op, indices)?;
        self.same_device(op, &[indices, updates])?;
        let upd = updates.cast(self.dtype())?;
        let out = kernel(
            self.storage().cpu(),
            self.layout(),
            indices.storage().cpu(),
            indices.layout(),
            upd.storage().cpu(),
            upd.layout(),
            a,
        )?;
        let idx = indices.clone();
        Ok(
            Tensor::from_cpu(out, self.shape()).record(op, &[self, &upd], move |g| {
                Ok(vec![Some(g.clone()), Some(updates_grad(g, &idx, a)?)])
            }),
        )
    }

    /// PyTorch-style gather (indices no larger than this tensor off `axis`, no broadcasting).
    fn gather_raw(&self, idx: &Tensor, a: usize) -> Result<Tensor> {
        let out = keras_cpu::index::gather(
            self.storage().cpu(),
            self.layout(),
            idx.storage().cpu(),
            idx.layout(),
            a,
        )?;
        let x_shape = self.shape().to_vec();
        let idx = idx.clone();
        Ok(
            Tensor::from_cpu(out, idx.shape()).record("gather", &[self], move |g| {
                let zeros = Tensor::zeros(&x_shape, g.dtype(), g.device())?;
                Ok(vec![Some(zeros.scatter_add(&idx, g, a as isize)?)])
            }),
        )
    }

    /// One-hot encoding of integer indices along a new last axis of size `depth`, as
    /// `float32` (an index outside `0..depth` gives a row of zeros, as in Keras).
    ///
    /// # Errors
    /// When the indices are not integers.
    pub fn one_hot(&self, depth: usize) -> Result<Tensor> {
        check_indices("one_hot", self)?;
        let classes = Tensor::arange(0.0, depth as f64, 1.0, DType::I64, self.device())?;
        self.cast(DType::I64)?
            .expand_dims(-1)?
            .eq(&classes)?
            .cast(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};
    use crate::Tensor;

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[4, 3], 1);
        let idx = Tensor::new(&[2i64, 0, 2, -1], &[4]).unwrap();
        check_grad("index_select", &[&x], |t| t[0].index_select(&idx, 0));
        check_grad("index_select_axis1", &[&x], |t| t[0].index_select(&idx, 1));
        check_grad("index_add", &[&x, &randn(&[4, 4], 4)], |t| {
            t[0].index_add(&idx, &t[1], 1)
        });
        check_grad("index_add_axis0", &[&x, &randn(&[4, 3], 5)], |t| {
            t[0].index_add(&idx, &t[1], 0)
        });
        let gidx = Tensor::new(&[0i64, 2, 1, 1, 0, 0, 2, 2], &[4, 2]).unwrap();
        check_grad("gather", &[&x], |t| t[0].gather(&gidx, 1));
        let sidx = Tensor::new(&[0i64, 0, 3, 1, 1, 2], &[2, 3]).unwrap();
        check_grad("scatter_add", &[&x, &randn(&[2, 3], 2)], |t| {
            t[0].scatter_add(&sidx, &t[1], 0)
        });
        // Indices smaller than x off the axis (PyTorch's rule).
        let small = Tensor::new(&[3i64, 3, 0, 1], &[2, 2]).unwrap();
        check_grad("scatter_add_small", &[&x, &randn(&[2, 2], 3)], |t| {
            t[0].scatter_add(&small, &t[1], 0)
        });
    }

    #[test]
    fn index_add_adds_rows_like_a_loop_and_rejects_bad_shapes() {
        // (2, 5, 3) with 4 updates along axis 1, repeated and negative indices.
        let x = randn(&[2, 5, 3], 7);
        let upd = randn(&[2, 4, 3], 8);
        let idx = [4i64, 1, 4, -5];
        let it = Tensor::new(&idx, &[4]).unwrap();
        let got = x.index_add(&it, &upd, 1).unwrap().to_vec::<f64>().unwrap();
        let (mut want, u) = (x.to_vec::<f64>().unwrap(), upd.to_vec::<f64>().unwrap());
        for o in 0..2 {
            for (j, &i) in idx.iter().enumerate() {
                let i = i.rem_euclid(5) as usize;
                for k in 0..3 {
                    want[(o * 5 + i) * 3 + k] += u[(o * 4 + j) * 3 + k];
                }
            }
        }
        assert_eq!(got, want);
        let e = x
            .index_add(&it, &randn(&[2, 3, 3], 9), 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("index_add") && e.contains("[2, 4, 3]") && e.contains("[2, 3, 3]"),
            "{e}"
        );
        let two_d = Tensor::new(&idx, &[2, 2]).unwrap();
        assert!(x.index_add(&two_d, &upd, 1).is_err());
        assert!(x
            .index_add(&Tensor::new(&[5i64, 0, 0, 0], &[4]).unwrap(), &upd, 1)
            .is_err());
    }

    #[test]
    fn out_of_range_indices_are_errors() {
        let x = randn(&[4, 3], 1);
        let e = x
            .index_select(&Tensor::new(&[4i64], &[1]).unwrap(), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("index_select") && e.contains('4'), "{e}");
        assert!(x.index_select(&Tensor::new(&[0.5f32], &[1]).unwrap(), 0).is_err());
        let oh = Tensor::new(&[1i64, 3], &[2]).unwrap().one_hot(3).unwrap();
        assert_eq!(oh.to_vec::<f32>().unwrap(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
