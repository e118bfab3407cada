//! Elementwise functions of two tensors with NumPy broadcasting and Keras dtype promotion,
//! comparisons, and their gradients.

use crate::autodiff::grad_if;
use crate::Tensor;
use keras_backend::layout::broadcast_shapes;
use keras_backend::op::{BinaryOp, CmpOp};
use keras_backend::{DType, Error, Result};

impl Tensor {
    /// Casts both operands to their promoted dtype ([`DType::promote`]).
    fn promote_with(&self, other: &Tensor) -> Result<(Tensor, Tensor)> {
        let d = self.dtype().promote(other.dtype());
        Ok((self.cast(d)?, other.cast(d)?))
    }

    /// Broadcast layouts of both operands and the output shape.
    fn broadcast_pair(
        &self,
        other: &Tensor,
        op: &'static str,
    ) -> Result<(Vec<usize>, keras_backend::Layout, keras_backend::Layout)> {
        self.same_device(op, &[other])?;
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        Ok((
            shape.clone(),
            self.layout().broadcast_to(&shape)?,
            other.layout().broadcast_to(&shape)?,
        ))
    }

    /// Applies a primitive binary op (see [`BinaryOp`]) with broadcasting and promotion; the
    /// named methods below call this. `divide` of integers is true division in `float32`.
    ///
    /// # Errors
    /// When shapes do not broadcast (the error names the op and both shapes) or the dtype
    /// is not supported.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        let (a, b) = self.promote_with(other)?;
        let (a, b) = if op == BinaryOp::Div && !a.dtype().is_float() {
            (a.cast(DType::F32)?, b.cast(DType::F32)?)
        } else {
            (a, b)
        };
        let (shape, la, lb) = a.broadcast_pair(&b, op.name())?;
        let out = keras_cpu::binary::binary(op, a.storage().cpu(), &la, b.storage().cpu(), &lb)?;
        let out = Tensor::from_cpu(out, &shape);
        let y = out.detach();
        let (x1, x2) = (a.clone(), b.clone());
        Ok(out.record(op.name(), &[&a, &b], move |g| {
            binary_backward(op, &x1, &x2, &y, g)
        }))
    }

    /// Elementwise comparison giving a `bool` tensor (after promotion and broadcasting).
    ///
    /// # Errors
    /// When shapes do not broadcast.
    pub fn compare(&self, op: CmpOp, other: &Tensor) -> Result<Tensor> {
        let (a, b) = self.promote_with(other)?;
        let (shape, la, lb) = a.broadcast_pair(&b, op.name())?;
        let out = keras_cpu::binary::compare(op, a.storage().cpu(), &la, b.storage().cpu(), &lb)?;
        Ok(Tensor::from_cpu(out, &shape))
    }

    /// The tensor for a Python-style scalar operand: this tensor's dtype, except that a
    /// non-integral value with an integer tensor gives `float32` (Keras's weak typing).
    pub(crate) fn scalar_operand(&self, v: f64) -> Result<Tensor> {
        if self.dtype().is_float() || v.fract() == 0.0 {
            self.scalar_like(v)
        } else {
            Tensor::full(v, &[], DType::F32, self.device())
        }
    }
}

/// The gradients of both operands, each computed only when that operand is tracked (a
/// scalar or constant operand costs no backward pass) and summed back to its shape where it
/// was broadcast.
fn binary_backward(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    y: &Tensor,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    if matches!(op, BinaryOp::LogicalAnd | BinaryOp::LogicalOr) {
        return Ok(vec![None, None]);
    }
    let ga = grad_if(a.is_tracked(), || {
        operand_grad(op, true, a, b, y, g)?.sum_to(a.shape())
    })?;
    let gb = grad_if(b.is_tracked(), || {
        operand_grad(op, false, a, b, y, g)?.sum_to(b.shape())
    })?;
    Ok(vec![ga, gb])
}

/// The gradient of `y = op(a, b)` with respect to `a` (`first`) or `b`, at the broadcast
/// shape.
fn operand_grad(op: BinaryOp, first: bool, a: &Tensor, b: &Tensor, y: &Tensor, g: &Tensor) -> Result<Tensor> {
    use BinaryOp::*;
    match (op, first) {
        (Add, _) | (Sub, true) => Ok(g.clone()),
        (Sub, false) => g.neg(),
        (Mul, true) => g.mul(b),
        (Mul, false) => g.mul(a),
        (Div, true) => g.div(b),
        (Div, false) => g.mul(y)?.div(b)?.neg(),
        // d/da a^b = b a^(b-1)
        (Pow, true) => g.mul(b)?.mul(&a.pow(&b.sub_scalar(1.0)?)?),
        // d/db a^b = a^b ln a, taken as 0 where a == 0.
        (Pow, false) => {
            let zero = a.scalar_like(0.0)?;
            let at_zero = a.eq(&zero)?;
            let safe_a = Tensor::where_cond(&at_zero, &a.ones_like()?, a)?;
            g.mul(&Tensor::where_cond(&at_zero, &zero, &y.mul(&safe_a.log()?)?)?)
        }
        // Ties send the gradient to the first operand (TensorFlow's convention).
        (Maximum | Minimum, _) => {
            let a_wins = if op == Maximum { a.ge(b)? } else { a.le(b)? };
            let zero = g.scalar_like(0.0)?;
            if first {
                Tensor::where_cond(&a_wins, g, &zero)
            } else {
                Tensor::where_cond(&a_wins, &zero, g)
            }
        }
        (LogicalAnd | LogicalOr, _) => Err(Error::Autodiff(format!("{op:?} has no gradient"))),
    }
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident, $scalar:ident => $op:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// When the shapes do not broadcast or the dtype is not supported.
                pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
                    self.binary(BinaryOp::$op, other)
                }

                $(#[$doc])*
                /// With a scalar right operand.
                ///
                /// # Errors
                /// When the dtype is not supported.
                pub fn $scalar(&self, v: f64) -> Result<Tensor> {
                    self.binary(BinaryOp::$op, &self.scalar_operand(v)?)
                }
            )*
        }
    };
}

binary_methods! {
    /// `a + b`
    add, add_scalar => Add;
    /// `a - b`
    sub, sub_scalar => Sub;
    /// `a * b`
    mul, mul_scalar => Mul;
    /// `a / b` (true division; integers give `float32`)
    div, div_scalar => Div;
    /// `a ^ b`
    pow, pow_scalar => Pow;
    /// Elementwise maximum (NaN wins).
    maximum, maximum_scalar => Maximum;
    /// Elementwise minimum (NaN wins).
    minimum, minimum_scalar => Minimum;
    /// Boolean and.
    logical_and, logical_and_scalar => LogicalAnd;
    /// Boolean or.
    logical_or, logical_or_scalar => LogicalOr;
}

macro_rules! cmp_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// When the shapes do not broadcast.
                pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
                    self.compare(CmpOp::$op, other)
                }
            )*
        }
    };
}

cmp_methods! {
    /// `a == b` as `bool`.
    eq => Eq;
    /// `a != b` as `bool`.
    ne => Ne;
    /// `a < b` as `bool`.
    lt => Lt;
    /// `a <= b` as `bool`.
    le => Le;
    /// `a > b` as `bool`.
    gt => Gt;
    /// `a >= b` as `bool`.
    ge => Ge;
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};
    use crate::{DType, Tensor};

    #[test]
    fn gradients_match_finite_differences_with_broadcasting() {
        let a = randn(&[2, 1, 3], 1);
        let b = randn(&[4, 1], 2);
        for (name, f) in [
            (
                "add",
                Tensor::add as fn(&Tensor, &Tensor) -> keras_backend::Result<Tensor>,
            ),
            ("sub", Tensor::sub),
            ("mul", Tensor::mul),
            ("maximum", Tensor::maximum),
            ("minimum", Tensor::minimum),
        ] {
            check_grad(name, &[&a, &b], |t| f(&t[0], &t[1]));
        }
        let pos = b.abs().unwrap().add_scalar(0.5).unwrap();
        check_grad("div", &[&a, &pos], |t| t[0].div(&t[1]));
        check_grad("pow", &[&pos, &a], |t| t[0].pow(&t[1]));
        check_grad("pow_scalar", &[&a], |t| t[0].pow_scalar(3.0));
        check_grad("add_scalar_shape", &[&randn(&[], 3), &randn(&[3], 4)], |t| {
            t[0].add(&t[1])
        });
        check_grad("mul_empty", &[&randn(&[0, 3], 5), &randn(&[3], 6)], |t| {
            t[0].mul(&t[1])
        });
        check_grad("mul_permuted", &[&randn(&[3, 2], 7)], |t| {
            t[0].transpose(0, 1)?.mul(&t[0].transpose(0, 1)?)
        });
    }

    #[test]
    fn mismatched_shapes_name_the_op_and_both_shapes() {
        let a = Tensor::zeros(&[2, 3], DType::F32, &crate::Device::Cpu).unwrap();
        let b = Tensor::zeros(&[4], DType::F32, &crate::Device::Cpu).unwrap();
        let e = a.add(&b).unwrap_err().to_string();
        assert!(
            e.contains("add") && e.contains("[2, 3]") && e.contains("[4]"),
            "{e}"
        );
    }

    #[test]
    fn promotion_and_weak_scalars() {
        let i = Tensor::new(&[1i32, 2], &[2]).unwrap();
        let f = Tensor::new(&[0.5f32, 0.5], &[2]).unwrap();
        assert_eq!(i.add(&f).unwrap().dtype(), DType::F32);
        assert_eq!(i.add_scalar(1.0).unwrap().dtype(), DType::I32);
        assert_eq!(
            i.add_scalar(0.5).unwrap().to_vec::<f32>().unwrap(),
            vec![1.5, 2.5]
        );
        assert_eq!(i.div(&i).unwrap().dtype(), DType::F32);
    }
}
