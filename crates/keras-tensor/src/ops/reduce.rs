//! Reductions over any set of axes, with `keepdims`, and their gradients.

use crate::Tensor;
use keras_backend::layout::{normalize_axes, normalize_axis};
use keras_backend::op::ReduceOp;
use keras_backend::{DType, Result};

/// Normalized axes; an empty list means every axis (Keras's `axis=None`).
fn resolve_axes(op: &'static str, axes: &[isize], rank: usize) -> Result<Vec<usize>> {
    if axes.is_empty() {
        Ok((0..rank).collect())
    } else {
        normalize_axes(op, axes, rank)
    }
}

/// The shape with reduced axes set to 1 (the `keepdims=True` shape).
fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(d, &s)| if axes.contains(&d) { 1 } else { s })
        .collect()
}

impl Tensor {
    fn reduce_raw(&self, op: ReduceOp, axes: &[usize], keepdims: bool) -> Result<Tensor> {
        let src = if self.dtype() == DType::Bool {
            self.cast(DType::I32)?
        } else {
            self.clone()
        };
        let out = keras_cpu::reduce::reduce(op, src.storage().cpu(), src.layout(), axes)?;
        let keep = kept_shape(self.shape(), axes);
        let shape: Vec<usize> = if keepdims {
            keep
        } else {
            (0..self.rank())
                .filter(|d| !axes.contains(d))
                .map(|d| self.shape()[d])
                .collect()
        };
        Ok(Tensor::from_cpu(out, &shape))
    }

    /// Sum over `axes` (empty: all axes). Integer sums keep their dtype; `bool` sums to
    /// `int32`.
    ///
    /// # Errors
    /// When an axis is out of range or repeated.
    pub fn sum(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let ax = resolve_axes("sum", axes, self.rank())?;
        let out = self.reduce_raw(ReduceOp::Sum, &ax, keepdims)?;
        let in_shape = self.shape().to_vec();
        let keep = kept_shape(&in_shape, &ax);
        Ok(out.record("sum", &[self], move |g| {
            Ok(vec![Some(g.reshape_to(&keep)?.broadcast_to(&in_shape)?)])
        }))
    }

    /// Sum of every element (a rank-0 tensor).
    ///
    /// # Errors
    /// Never for valid tensors.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// Mean over `axes` (empty: all axes). Integers are averaged in `float32`.
    ///
    /// # Errors
    /// When an axis is out of range or repeated.
    pub fn mean(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let ax = resolve_axes("mean", axes, self.rank())?;
        let n: usize = ax.iter().map(|&d| self.shape()[d]).product();
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.cast(DType::F32)?
        };
        x.sum(axes, keepdims)?.div_scalar(n as f64)
    }

    fn extremum(&self, op: ReduceOp, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let ax = resolve_axes(op.name(), axes, self.rank())?;
        let out = self.reduce_raw(op, &ax, keepdims)?;
        let keep = kept_shape(self.shape(), &ax);
        let x = self.clone();
        let y = out.detach();
        let axes_i: Vec<isize> = ax.iter().map(|&a| a as isize).collect();
        Ok(out.record(op.name(), &[self], move |g| {
            // Ties share the gradient equally (as TensorFlow and PyTorch do).
            let mask = x.eq(&y.reshape_to(&keep)?)?.cast(g.dtype())?;
            let count = mask.sum(&axes_i, true)?;
            Ok(vec![Some(mask.div(&count)?.mul(&g.reshape_to(&keep)?)?)])
        }))
    }

    /// Maximum over `axes` (empty: all axes). NaN propagates.
    ///
    /// # Errors
    /// When an axis is out of range or an axis to reduce is empty.
    pub fn max(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        self.extremum(ReduceOp::Max, axes, keepdims)
    }

    /// Minimum over `axes` (empty: all axes). NaN propagates.
    ///
    /// # Errors
    /// When an axis is out of range or an axis to reduce is empty.
    pub fn min(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        self.extremum(ReduceOp::Min, axes, keepdims)
    }

    /// Index (`int64`) of the first maximum along `axis`.
    ///
    /// # Errors
    /// When the axis is out of range or empty.
    pub fn argmax(&self, axis: isize, keepdims: bool) -> Result<Tensor> {
        let a = normalize_axis("argmax", axis, self.rank())?;
        self.reduce_raw(ReduceOp::ArgMax, &[a], keepdims)
    }

    /// Index (`int64`) of the first minimum along `axis`.
    ///
    /// # Errors
    /// When the axis is out of range or empty.
    pub fn argmin(&self, axis: isize, keepdims: bool) -> Result<Tensor> {
        let a = normalize_axis("argmin", axis, self.rank())?;
        self.reduce_raw(ReduceOp::ArgMin, &[a], keepdims)
    }

    /// `log(sum(exp(x)))` over `axes`, computed stably (the max is subtracted first).
    ///
    /// # Errors
    /// When an axis is out of range.
    pub fn logsumexp(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let m = self.max(axes, true)?.detach();
        // An all -inf (or inf) slice would give inf - inf; shift by 0 there instead.
        let finite = m.abs()?.lt(&m.scalar_like(f64::INFINITY)?)?;
        let m = Tensor::where_cond(&finite, &m, &m.zeros_like()?)?;
        let s = self.sub(&m)?.exp()?.sum(axes, true)?.log()?.add(&m)?;
        if keepdims {
            Ok(s)
        } else {
            let ax = resolve_axes("logsumexp", axes, self.rank())?;
            let shape: Vec<usize> = (0..self.rank())
                .filter(|d| !ax.contains(d))
                .map(|d| self.shape()[d])
                .collect();
            s.reshape_to(&shape)
        }
    }

    /// Sums a broadcast tensor back down to `shape` (the adjoint of `broadcast_to`).
    ///
    /// # Errors
    /// When `shape` does not broadcast to this tensor's shape.
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let r = self.rank();
        if shape.len() > r {
            return Err(keras_backend::Error::ShapeMismatch {
                op: "sum_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        let lead = r - shape.len();
        let mut axes: Vec<isize> = (0..lead as isize).collect();
        for (i, &s) in shape.iter().enumerate() {
            if s == 1 && self.shape()[lead + i] != 1 {
                axes.push((lead + i) as isize);
            } else if s != self.shape()[lead + i] {
                return Err(keras_backend::Error::ShapeMismatch {
                    op: "sum_to",
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                });
            }
        }
        if axes.is_empty() {
            return self.reshape_to(shape);
        }
        self.sum(&axes, false)?.reshape_to(shape)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};
    use crate::Tensor;

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[3, 4, 2], 1);
        check_grad("sum_all", &[&x], |t| t[0].sum_all());
        check_grad("sum_axis", &[&x], |t| t[0].sum(&[1], false));
        check_grad("sum_axes_keep", &[&x], |t| t[0].sum(&[0, -1], true));
        check_grad("mean", &[&x], |t| t[0].mean(&[0, 2], false));
        check_grad("max", &[&x], |t| t[0].max(&[1], false));
        check_grad("min_keep", &[&x], |t| t[0].min(&[-1], true));
        check_grad("max_all", &[&x], |t| t[0].max(&[], false));
        check_grad("logsumexp", &[&x], |t| t[0].logsumexp(&[1], false));
        check_grad("sum_permuted", &[&x], |t| {
            t[0].permute(&[2, 0, 1])?.sum(&[1], false)
        });
        check_grad("sum_empty", &[&randn(&[0, 3], 2)], |t| t[0].sum(&[0], false));
        check_grad("sum_one", &[&randn(&[1, 1], 3)], |t| t[0].sum(&[1], true));
        check_grad("sum_to", &[&x], |t| t[0].sum_to(&[4, 1]));
    }

    #[test]
    fn max_ties_share_the_gradient() {
        let x = Tensor::new(&[1.0f64, 3.0, 3.0], &[3]).unwrap().variable();
        let g = x.max(&[], false).unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![0.0, 0.5, 0.5]);
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = randn(&[2, 3], 1);
        assert!(x.sum(&[2], false).unwrap_err().to_string().contains("sum"));
        assert!(x.sum(&[0, 0], false).is_err());
        assert!(x.argmax(-3, false).is_err());
        assert!(randn(&[0], 1).max(&[], false).is_err());
    }
}
