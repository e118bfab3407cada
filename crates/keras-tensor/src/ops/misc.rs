//! `where`, `cast`, cumulative sums, sorting and top-k.

use crate::Tensor;
use keras_backend::layout::{broadcast_shapes, normalize_axis};
use keras_backend::{DType, Error, Result};

impl Tensor {
    /// `cond ? on_true : on_false` elementwise, broadcasting all three. `cond` is cast to
    /// `bool`; the values are promoted to a common dtype.
    ///
    /// # Errors
    /// When shapes do not broadcast.
    pub fn where_cond(cond: &Tensor, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        cond.same_device("where", &[on_true, on_false])?;
        let c = cond.cast(DType::Bool)?;
        let d = on_true.dtype().promote(on_false.dtype());
        let (a, b) = (on_true.cast(d)?, on_false.cast(d)?);
        let shape = broadcast_shapes(
            "where",
            &broadcast_shapes("where", c.shape(), a.shape())?,
            b.shape(),
        )?;
        let (lc, la, lb) = (
            c.layout().broadcast_to(&shape)?,
            a.layout().broadcast_to(&shape)?,
            b.layout().broadcast_to(&shape)?,
        );
        let out = keras_cpu::binary::where_cond(
            c.storage().cpu(),
            &lc,
            a.storage().cpu(),
            &la,
            b.storage().cpu(),
            &lb,
        )?;
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        Ok(
            Tensor::from_cpu(out, &shape).record("where", &[&a, &b], move |g| {
                let zero = g.scalar_like(0.0)?;
                Ok(vec![
                    Some(Tensor::where_cond(&c, g, &zero)?.sum_to(&sa)?),
                    Some(Tensor::where_cond(&c, &zero, g)?.sum_to(&sb)?),
                ])
            }),
        )
    }

    /// Converts to `dtype`. Floats to integers truncate toward zero (and saturate); anything
    /// to `bool` is `!= 0`. Gradients flow between float dtypes.
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = Tensor::from_cpu(self.storage().cpu().cast(self.layout(), dtype), self.shape());
        let from = self.dtype();
        Ok(out.record("cast", &[self], move |g| {
            Ok(vec![if from.is_float() {
                Some(g.cast(from)?)
            } else {
                None
            }])
        }))
    }

    /// Inclusive cumulative sum along `axis`.
    ///
    /// # Errors
    /// When the axis is out of range or the dtype is `bool`.
    pub fn cumsum(&self, axis: isize) -> Result<Tensor> {
        let a = normalize_axis("cumsum", axis, self.rank())?;
        let out = keras_cpu::index::cumsum(self.storage().cpu(), self.layout(), a)?;
        Ok(
            Tensor::from_cpu(out, self.shape()).record("cumsum", &[self], move |g| {
                // The adjoint of a prefix sum is a suffix sum.
                let ax = a as isize;
                Ok(vec![Some(g.flip(&[ax])?.cumsum(ax)?.flip(&[ax])?)])
            }),
        )
    }

    /// Indices (`int64`) that sort along `axis` (stable; NaN last when ascending).
    ///
    /// # Errors
    /// When the axis is out of range.
    pub fn argsort(&self, axis: isize, descending: bool) -> Result<Tensor> {
        let a = normalize_axis("argsort", axis, self.rank())?;
        let out = keras_cpu::index::argsort(self.storage().cpu(), self.layout(), a, descending)?;
        Ok(Tensor::from_cpu(out, self.shape()))
    }

    /// Sorted values and their original indices along `axis` (stable). Gradients flow to
    /// the values' sources.
    ///
    /// # Errors
    /// When the axis is out of range.
    pub fn sort(&self, axis: isize, descending: bool) -> Result<(Tensor, Tensor)> {
        let idx = self.argsort(axis, descending)?;
        Ok((self.gather(&idx, axis)?, idx))
    }

    /// The `k` largest values along the last axis, in descending order, and their indices
    /// (ties: lower index first).
    ///
    /// # Errors
    /// When `k` exceeds the last axis or the tensor is rank 0.
    pub fn top_k(&self, k: usize) -> Result<(Tensor, Tensor)> {
        let n = self.dim(-1)?;
        if k > n {
            return Err(Error::InvalidArgument {
                op: "top_k",
                msg: format!("k = {k} exceeds the last axis of shape {:?}", self.shape()),
            });
        }
        let idx = self.argsort(-1, true)?.slice_axis(-1, 0, k, 1)?;
        Ok((self.gather(&idx, -1)?, idx))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};
    use crate::{DType, Tensor};

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[3, 4], 1);
        let c = randn(&[4], 2).gt(&Tensor::scalar(0.0f64)).unwrap();
        check_grad("where", &[&x, &randn(&[3, 1], 3)], |t| {
            Tensor::where_cond(&c, &t[0], &t[1])
        });
        check_grad("cumsum", &[&x], |t| t[0].cumsum(1));
        check_grad("cumsum0", &[&x], |t| t[0].cumsum(0));
        check_grad("sort", &[&x], |t| Ok(t[0].sort(1, false)?.0));
        check_grad("sort_desc", &[&x], |t| Ok(t[0].sort(0, true)?.0));
        check_grad("top_k", &[&x], |t| Ok(t[0].top_k(2)?.0));
    }

    #[test]
    fn cast_passes_gradients_between_float_dtypes() {
        // Finite differences through float32 rounding are meaningless, so check the rule:
        // the gradient comes back in the source dtype with the downstream value.
        let x = Tensor::new(&[1.5f32, -2.0], &[2]).unwrap().variable();
        let y = x
            .cast(DType::F64)
            .unwrap()
            .mul_scalar(3.0)
            .unwrap()
            .sum_all()
            .unwrap();
        let g = y.backward().unwrap();
        assert_eq!(g.get(&x).unwrap().dtype(), DType::F32);
        assert_eq!(g.get(&x).unwrap().to_vec::<f32>().unwrap(), vec![3.0, 3.0]);
        let i = x.cast(DType::I32).unwrap();
        assert!(!i.is_tracked());
    }

    #[test]
    fn sort_and_top_k_values() {
        let x = Tensor::new(&[3.0f32, 1.0, 2.0, 1.0], &[4]).unwrap();
        let (v, i) = x.sort(0, false).unwrap();
        assert_eq!(v.to_vec::<f32>().unwrap(), vec![1.0, 1.0, 2.0, 3.0]);
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 3, 2, 0]);
        let (v, i) = x.top_k(3).unwrap();
        assert_eq!(v.to_vec::<f32>().unwrap(), vec![3.0, 2.0, 1.0]);
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![0, 2, 1]);
        assert!(x.top_k(5).is_err());
    }
}
