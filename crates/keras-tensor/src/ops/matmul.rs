//! Matrix products with NumPy `matmul` semantics (batch broadcasting, 1-D operands).

use crate::autodiff::grad_if;
use crate::Tensor;
use keras_backend::layout::broadcast_shapes;
use keras_backend::{Error, Result};

impl Tensor {
    /// `self @ other` as NumPy's `matmul`: the last two axes multiply, leading axes
    /// broadcast; a 1-D left operand is a row vector and a 1-D right operand a column
    /// vector (the added axis is removed from the result).
    ///
    /// # Errors
    /// When the inner dimensions differ or batch dims do not broadcast (the error names both
    /// shapes), or for rank-0 operands.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        if self.rank() == 0 || other.rank() == 0 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
            });
        }
        let a = if self.rank() == 1 {
            self.expand_dims(0)?
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.expand_dims(-1)?
        } else {
            other.clone()
        };
        let out = a.matmul_nd(&b).map_err(|e| match e {
            Error::ShapeMismatch { .. } => Error::ShapeMismatch {
                op: "matmul",
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
            },
            e => e,
        })?;
        match (self.rank(), other.rank()) {
            (1, 1) => out.reshape_to(&[]),
            (1, _) => out.squeeze(&[-2]),
            (_, 1) => out.squeeze(&[-1]),
            _ => Ok(out),
        }
    }

    /// The primitive: both operands rank >= 2.
    fn matmul_nd(&self, other: &Tensor) -> Result<Tensor> {
        self.same_device("matmul", &[other])?;
        let d = self.dtype().promote(other.dtype());
        let (a, b) = (self.cast(d)?, other.cast(d)?);
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
        let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
            });
        }
        let batch = broadcast_shapes("matmul", &a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
        let full = |t: &Tensor, r: usize, c: usize| -> Result<keras_backend::Layout> {
            let mut s = batch.clone();
            s.extend([r, c]);
            t.layout().broadcast_to(&s)
        };
        let (la, lb) = (full(&a, m, k)?, full(&b, k, n)?);
        let out = keras_cpu::linalg::batched_matmul(a.storage().cpu(), &la, b.storage().cpu(), &lb)?;
        let mut shape = batch.clone();
        shape.extend([m, n]);
        let (x, y) = (a.clone(), b.clone());
        Ok(
            Tensor::from_cpu(out, &shape).record("matmul", &[&a, &b], move |g| {
                let ga = grad_if(x.is_tracked(), || {
                    g.matmul_nd(&y.transpose(-1, -2)?)?.sum_to(x.shape())
                })?;
                let gb = grad_if(y.is_tracked(), || {
                    x.transpose(-1, -2)?.matmul_nd(g)?.sum_to(y.shape())
                })?;
                Ok(vec![ga, gb])
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};

    #[test]
    fn gradients_match_finite_differences() {
        check_grad("matmul", &[&randn(&[3, 4], 1), &randn(&[4, 2], 2)], |t| {
            t[0].matmul(&t[1])
        });
        check_grad(
            "matmul_batch_bcast",
            &[&randn(&[2, 1, 3, 4], 3), &randn(&[5, 4, 2], 4)],
            |t| t[0].matmul(&t[1]),
        );
        check_grad("matmul_vec_left", &[&randn(&[4], 5), &randn(&[4, 3], 6)], |t| {
            t[0].matmul(&t[1])
        });
        check_grad("matmul_vec_right", &[&randn(&[2, 4], 7), &randn(&[4], 8)], |t| {
            t[0].matmul(&t[1])
        });
        check_grad(
            "matmul_transposed",
            &[&randn(&[4, 3], 9), &randn(&[2, 4], 10)],
            |t| t[0].transpose(0, 1)?.matmul(&t[1].transpose(0, 1)?),
        );
        check_grad("matmul_k0", &[&randn(&[3, 0], 11), &randn(&[0, 2], 12)], |t| {
            t[0].matmul(&t[1])
        });
        check_grad("matmul_one", &[&randn(&[1, 1], 13), &randn(&[1, 1], 14)], |t| {
            t[0].matmul(&t[1])
        });
    }

    #[test]
    fn inner_mismatch_names_both_shapes() {
        let e = randn(&[3, 4], 1)
            .matmul(&randn(&[5, 2], 2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("matmul") && e.contains("[3, 4]") && e.contains("[5, 2]"),
            "{e}"
        );
    }
}
