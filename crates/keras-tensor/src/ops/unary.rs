//! Elementwise functions of one tensor, and their gradients.

use crate::Tensor;
use keras_backend::op::UnaryOp;
use keras_backend::{Error, Result};

impl Tensor {
    /// Applies a primitive unary op (see [`UnaryOp`]); the named methods below call this.
    ///
    /// # Errors
    /// When the op does not support the dtype (float functions of integers: cast first).
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let out = keras_cpu::unary::unary(op, self.storage().cpu(), self.layout())?;
        let out = Tensor::from_cpu(out, self.shape());
        let x = self.clone();
        let y = out.detach();
        Ok(out.record(op.name(), &[self], move |g| unary_backward(op, &x, &y, g)))
    }

    /// `op(self + bias)`, with `bias` (rank 1) added along the last axis, as one pass forward
    /// and one backward: the tail of a dense or convolution layer (`op` `None`: the bias
    /// alone). For the ops whose derivative follows from the output (`relu`, `sigmoid`,
    /// `tanh`, `exp`) and `f32`/`f64`; anything else is computed as `add` then `unary`.
    ///
    /// ```
    /// use keras_tensor::{op::UnaryOp, Tensor};
    /// let x = Tensor::new(&[1.0f32, -3.0, 0.5, 0.5], &[2, 2])?;
    /// let b = Tensor::new(&[1.0f32, 1.0], &[2])?;
    /// let y = x.bias_unary(&b, Some(UnaryOp::Relu))?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![2.0, 0.0, 1.5, 1.5]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When `bias` is not rank 1 with the last axis's length, or the op rejects the dtype.
    pub fn bias_unary(&self, bias: &Tensor, op: Option<UnaryOp>) -> Result<Tensor> {
        let c = self.shape().last().copied().unwrap_or(1);
        if bias.shape() != [c] {
            return Err(Error::ShapeMismatch {
                op: "bias_unary (input, bias)",
                lhs: self.shape().to_vec(),
                rhs: bias.shape().to_vec(),
            });
        }
        let composed = || {
            let z = self.add(bias)?;
            op.map_or(Ok(z.clone()), |op| z.unary(op))
        };
        if self.dtype() != bias.dtype() || self.rank() == 0 {
            return composed();
        }
        let x = self.storage().cpu().contiguous(self.layout());
        let b = bias.storage().cpu().contiguous(bias.layout());
        let Some(out) = keras_cpu::unary::bias_unary(op, &x, &b) else {
            return composed();
        };
        let out = Tensor::from_cpu(out, self.shape());
        let y = out.detach();
        let (xs, bs) = (self.clone(), bias.clone());
        Ok(out.record("bias_unary", &[self, bias], move |g| {
            let gc = g.storage().cpu().contiguous(g.layout());
            let ys = y.storage().cpu();
            match keras_cpu::unary::bias_unary_backward(op, ys, &gc, c) {
                Some((dx, db)) => Ok(vec![
                    Some(Tensor::from_cpu(dx, y.shape())),
                    Some(Tensor::from_cpu(db, &[c])),
                ]),
                // (g of another dtype than y.)
                None => {
                    let gz = match op {
                        Some(op) => unary_backward(op, &xs.add(&bs)?, &y, g)?.remove(0),
                        None => Some(g.clone()),
                    };
                    let gz = gz.ok_or_else(|| Error::Autodiff("bias_unary: no gradient".into()))?;
                    Ok(vec![Some(gz.clone()), Some(gz.sum_to(&[c])?)])
                }
            }
        }))
    }
}

/// `dL/dx` from `dL/dy` for `y = op(x)`.
fn unary_backward(op: UnaryOp, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    use UnaryOp::*;
    // One pass where the derivative follows from the output (relu, sigmoid, tanh, exp).
    if g.dtype() == y.dtype() && keras_cpu::unary::grad_fuses(Some(op)) {
        let gc = g.storage().cpu().contiguous(g.layout());
        if let Some(gx) = keras_cpu::unary::unary_grad(op, &y.storage().cpu().contiguous(y.layout()), &gc) {
            return Ok(vec![Some(Tensor::from_cpu(gx, y.shape()))]);
        }
    }
    let gx = match op {
        Neg => g.neg()?,
        Abs => g.mul(&x.sign()?)?,
        Exp => g.mul(y)?,
        Log => g.div(x)?,
        Log1p => g.div(&x.add_scalar(1.0)?)?,
        Expm1 => g.mul(&y.add_scalar(1.0)?)?,
        Sqrt => g.div(&y.mul_scalar(2.0)?)?,
        // d/dx x^(-1/2) = -1/2 * y^3
        Rsqrt => g.mul(&y.mul(y)?.mul(y)?.mul_scalar(-0.5)?)?,
        Square => g.mul(&x.mul_scalar(2.0)?)?,
        Recip => g.mul(&y.mul(y)?.neg()?)?,
        Sin => g.mul(&x.cos()?)?,
        Cos => g.mul(&x.sin()?.neg()?)?,
        Tanh => g.mul(&y.mul(y)?.neg()?.add_scalar(1.0)?)?,
        Sigmoid => g.mul(&y.mul(&y.neg()?.add_scalar(1.0)?)?)?,
        Relu => g.mul(&x.gt(&x.scalar_like(0.0)?)?.cast(g.dtype())?)?,
        // 2/sqrt(pi) * exp(-x^2)
        Erf => g.mul(
            &x.square()?
                .neg()?
                .exp()?
                .mul_scalar(std::f64::consts::FRAC_2_SQRT_PI)?,
        )?,
        // Piecewise constant: zero gradient almost everywhere.
        Sign | Floor | Ceil | Round | LogicalNot => return Ok(vec![None]),
    };
    Ok(vec![Some(gx)])
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// When the dtype is not supported (see [`Tensor::unary`]).
                pub fn $name(&self) -> Result<Tensor> {
                    self.unary(UnaryOp::$op)
                }
            )*
        }
    };
}

unary_methods! {
    /// `-x`
    neg => Neg;
    /// `|x|`
    abs => Abs;
    /// `e^x`
    exp => Exp;
    /// Natural logarithm.
    log => Log;
    /// `ln(1 + x)`, accurate near 0.
    log1p => Log1p;
    /// `e^x - 1`, accurate near 0.
    expm1 => Expm1;
    /// Square root.
    sqrt => Sqrt;
    /// `1 / sqrt(x)`
    rsqrt => Rsqrt;
    /// `x * x`
    square => Square;
    /// `1 / x`
    reciprocal => Recip;
    /// Sine.
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    sigmoid => Sigmoid;
    /// `max(x, 0)`
    relu => Relu;
    /// The error function.
    erf => Erf;
    /// -1, 0 or 1 (NaN stays NaN).
    sign => Sign;
    /// Round toward negative infinity.
    floor => Floor;
    /// Round toward positive infinity.
    ceil => Ceil;
    /// Round half to even (NumPy's `round`).
    round => Round;
    /// Boolean negation (bool tensors).
    logical_not => LogicalNot;
}

#[cfg(test)]
mod tests {
    use crate::testing::{check_grad, randn};

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[3, 4], 1);
        let pos = x.abs().unwrap().add_scalar(0.5).unwrap();
        let small = x.mul_scalar(0.5).unwrap();
        check_grad("neg", &[&x], |t| t[0].neg());
        check_grad("abs", &[&x], |t| t[0].abs());
        check_grad("exp", &[&x], |t| t[0].exp());
        check_grad("log", &[&pos], |t| t[0].log());
        check_grad("log1p", &[&pos], |t| t[0].log1p());
        check_grad("expm1", &[&x], |t| t[0].expm1());
        check_grad("sqrt", &[&pos], |t| t[0].sqrt());
        check_grad("rsqrt", &[&pos], |t| t[0].rsqrt());
        check_grad("square", &[&x], |t| t[0].square());
        check_grad("reciprocal", &[&pos], |t| t[0].reciprocal());
        check_grad("sin", &[&x], |t| t[0].sin());
        check_grad("cos", &[&x], |t| t[0].cos());
        check_grad("tanh", &[&x], |t| t[0].tanh());
        check_grad("sigmoid", &[&x], |t| t[0].sigmoid());
        check_grad("relu", &[&x], |t| t[0].relu());
        check_grad("erf", &[&small], |t| t[0].erf());
        // Piecewise-constant ops: the numerical gradient is zero away from the jumps.
        check_grad("sign", &[&x], |t| t[0].sign());
        check_grad(
            "floor",
            &[&x.mul_scalar(3.0).unwrap().add_scalar(0.25).unwrap()],
            |t| t[0].floor(),
        );
        check_grad(
            "ceil",
            &[&x.mul_scalar(3.0).unwrap().add_scalar(0.25).unwrap()],
            |t| t[0].ceil(),
        );
        check_grad(
            "round",
            &[&x.mul_scalar(3.0).unwrap().add_scalar(0.25).unwrap()],
            |t| t[0].round(),
        );
    }

    #[test]
    fn bias_unary_matches_add_then_unary_and_its_gradients() {
        use keras_backend::op::UnaryOp::*;
        let x = randn(&[5, 4], 6);
        let b = randn(&[4], 7);
        for op in [None, Some(Relu), Some(Sigmoid), Some(Tanh), Some(Exp)] {
            let fused = x.bias_unary(&b, op).unwrap();
            let z = x.add(&b).unwrap();
            let plain = op.map_or(Ok(z.clone()), |op| z.unary(op)).unwrap();
            assert_eq!(
                fused.to_vec::<f64>().unwrap(),
                plain.to_vec::<f64>().unwrap(),
                "{op:?}"
            );
            check_grad(&format!("bias_unary {op:?}"), &[&x, &b], |t| {
                t[0].bias_unary(&t[1], op)
            });
        }
        // Rank 4 (a convolution's output), a permuted input, and an op that is not fused.
        check_grad("bias_unary rank 4", &[&randn(&[2, 3, 2, 4], 8), &b], |t| {
            t[0].bias_unary(&t[1], Some(Relu))
        });
        check_grad("bias_unary permuted", &[&randn(&[4, 5], 9), &b], |t| {
            t[0].transpose(0, 1)?.bias_unary(&t[1], Some(Tanh))
        });
        check_grad("bias_unary sin", &[&x, &b], |t| t[0].bias_unary(&t[1], Some(Sin)));
        // Large enough to split across threads.
        let big = randn(&[300, 130], 10);
        let bb = randn(&[130], 11);
        let fused = big.bias_unary(&bb, Some(Relu)).unwrap();
        let plain = big.add(&bb).unwrap().relu().unwrap();
        assert_eq!(fused.to_vec::<f64>().unwrap(), plain.to_vec::<f64>().unwrap());
        let weights = randn(&[300, 130], 12);
        let grads = |fuse: bool| {
            let mut tape = crate::GradientTape::new();
            let (x, b) = (tape.watch(&big), tape.watch(&bb));
            let y = if fuse {
                x.bias_unary(&b, Some(Sigmoid))
            } else {
                x.add(&b).and_then(|z| z.sigmoid())
            };
            let loss = y.unwrap().mul(&weights).unwrap().sum_all().unwrap();
            let g = tape.gradient(&loss, &[&x, &b]).unwrap();
            [g[0].clone().unwrap(), g[1].clone().unwrap()]
        };
        let (f, p) = (grads(true), grads(false));
        crate::testing::assert_close("bias_unary dx", &f[0], &p[0], 1e-12, 1e-12);
        crate::testing::assert_close("bias_unary dbias", &f[1], &p[1], 1e-10, 1e-10);
        let e = x.bias_unary(&randn(&[3], 1), None).unwrap_err().to_string();
        assert!(e.contains("[5, 4]") && e.contains("[3]"), "{e}");
    }

    #[test]
    fn gradients_on_views_and_edge_sizes() {
        let x = randn(&[4, 3], 2);
        // A permuted (non-contiguous) input, a 0-size and a 1-size tensor.
        check_grad("tanh_permuted", &[&x], |t| t[0].transpose(0, 1)?.tanh());
        check_grad("exp_empty", &[&randn(&[0, 3], 3)], |t| t[0].exp());
        check_grad("exp_one", &[&randn(&[1], 4)], |t| t[0].exp());
        check_grad("sigmoid_strided", &[&randn(&[6, 2], 5)], |t| {
            t[0].slice_axis(0, 1, 6, 2)?.sigmoid()
        });
    }

    #[test]
    fn integer_inputs_are_rejected_for_float_functions() {
        let i = crate::Tensor::new(&[1i32, 2], &[2]).unwrap();
        let e = i.exp().unwrap_err().to_string();
        assert!(e.contains("exp") && e.contains("int32"), "{e}");
        assert_eq!(i.abs().unwrap().to_vec::<i32>().unwrap(), vec![1, 2]);
    }
}
