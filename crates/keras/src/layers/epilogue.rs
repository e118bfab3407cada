//! [`Epilogue`]: the per-channel map that follows a layer and that inference-time fusion
//! folds into it. The layers say when they are such a map ([`super::Layer::inference_epilogue`])
//! and which they can absorb ([`super::Layer::call_fused`]); the models' executors find the
//! chains (`models::fusion`).

use keras_tensor::op::UnaryOp;
use keras_tensor::{Result, Tensor};

/// `activation(x * scale + shift)` over the last axis of a layer's output, per channel: what
/// batch normalization computes in inference mode, and an activation layer; what a
/// convolution or a Dense layer can apply to its output as it writes it.
///
/// ```
/// use keras::layers::Epilogue;
/// use keras_tensor::{op::UnaryOp, Tensor};
/// // (x * 2 + 1), then relu.
/// let bn = Epilogue::affine(Tensor::new(&[2.0f32], &[1])?, Tensor::new(&[1.0f32], &[1])?);
/// let e = bn.then(&Epilogue::activation(Some(UnaryOp::Relu)))?.expect("composes");
/// let x = Tensor::new(&[-3.0f32, 4.0], &[2, 1])?;
/// assert_eq!(e.apply(&x)?.to_vec::<f32>()?, vec![0.0, 9.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Epilogue {
    /// The factor per channel, shape `(channels,)`; `None` is 1.
    pub scale: Option<Tensor>,
    /// The offset per channel, shape `(channels,)`; `None` is 0.
    pub shift: Option<Tensor>,
    /// Applied last, elementwise; `None` is linear.
    pub activation: Option<UnaryOp>,
}

impl Epilogue {
    /// `x * scale + shift`, per channel.
    pub fn affine(scale: Tensor, shift: Tensor) -> Epilogue {
        Epilogue {
            scale: Some(scale),
            shift: Some(shift),
            activation: None,
        }
    }

    /// An elementwise activation alone (`None`: the identity).
    pub fn activation(op: Option<UnaryOp>) -> Epilogue {
        Epilogue {
            activation: op,
            ..Epilogue::default()
        }
    }

    /// `self` followed by `next` as one epilogue, where it is one: affine maps compose, and an
    /// activation can only come last (`Ok(None)` when `self` has one and `next` is not the
    /// identity).
    ///
    /// # Errors
    /// When the per-channel tensors do not broadcast against each other.
    pub fn then(self, next: &Epilogue) -> Result<Option<Epilogue>> {
        if self.activation.is_some() {
            let identity = next.scale.is_none() && next.shift.is_none() && next.activation.is_none();
            return Ok(identity.then_some(self));
        }
        // (x * s1 + t1) * s2 + t2 = x * (s1 * s2) + (t1 * s2 + t2)
        let scale = match (self.scale, &next.scale) {
            (Some(a), Some(b)) => Some(a.mul(b)?),
            (a, b) => a.or_else(|| b.clone()),
        };
        let shift = match (self.shift, &next.scale) {
            (Some(t), Some(s)) => Some(t.mul(s)?),
            (t, _) => t,
        };
        let shift = match (shift, &next.shift) {
            (Some(a), Some(b)) => Some(a.add(b)?),
            (a, b) => a.or_else(|| b.clone()),
        };
        Ok(Some(Epilogue {
            scale,
            shift,
            activation: next.activation,
        }))
    }

    /// The epilogue applied to `y` as separate tensor ops (what a fused layer computes in one
    /// pass).
    ///
    /// # Errors
    /// When the per-channel tensors do not match `y`'s last axis.
    pub fn apply(&self, y: &Tensor) -> Result<Tensor> {
        let mut y = y.clone();
        if let Some(s) = &self.scale {
            y = y.mul(&s.cast(y.dtype())?)?;
        }
        if let Some(t) = &self.shift {
            y = y.add(&t.cast(y.dtype())?)?;
        }
        match self.activation {
            Some(op) => y.unary(op),
            None => Ok(y),
        }
    }

    /// The kernel and bias of a layer computing `x · kernel + bias` over the kernel's last
    /// axis, with this epilogue's affine part folded in: `(kernel * scale, bias * scale +
    /// shift)`, in the kernel's dtype. The bias is zeros where there was none and no shift.
    ///
    /// # Errors
    /// When the per-channel tensors do not have the kernel's last dimension.
    pub fn fold(&self, kernel: &Tensor, bias: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let dt = kernel.dtype();
        let channels = kernel.shape().last().copied().unwrap_or(1);
        for t in [&self.scale, &self.shift].into_iter().flatten() {
            if t.shape() != [channels] {
                return Err(keras_tensor::Error::ShapeMismatch {
                    op: "Epilogue::fold (kernel, per-channel map)",
                    lhs: kernel.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                });
            }
        }
        let scale = self.scale.as_ref().map(|s| s.cast(dt)).transpose()?;
        let kernel = match &scale {
            Some(s) => kernel.mul(s)?,
            None => kernel.clone(),
        };
        let bias = match (bias, &scale) {
            (Some(b), Some(s)) => Some(b.mul(s)?),
            (b, _) => b.cloned(),
        };
        let shift = self.shift.as_ref().map(|t| t.cast(dt)).transpose()?;
        let bias = match (bias, shift) {
            (Some(b), Some(t)) => b.add(&t)?,
            (Some(b), None) => b,
            (None, Some(t)) => t,
            (None, None) => Tensor::zeros(&[channels], dt, kernel.device())?,
        };
        Ok((kernel, bias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keras_tensor::testing::{assert_close, check_grad, randn};
    use keras_tensor::{ConvArgs, Padding};

    fn args() -> ConvArgs {
        ConvArgs {
            padding: Padding::Same,
            ..ConvArgs::default()
        }
    }

    #[test]
    fn composed_epilogues_equal_applying_them_in_turn() {
        let x = randn(&[4, 3], 1);
        let first = Epilogue::affine(randn(&[3], 2), randn(&[3], 3));
        let second = Epilogue {
            activation: Some(UnaryOp::Tanh),
            ..Epilogue::affine(randn(&[3], 4), randn(&[3], 5))
        };
        let apart = second.apply(&first.apply(&x).unwrap()).unwrap();
        let e = first
            .clone()
            .then(&second)
            .unwrap()
            .expect("affine then tanh composes");
        assert_close(
            "affine, affine + tanh",
            &e.apply(&x).unwrap(),
            &apart,
            1e-12,
            1e-12,
        );
        // Missing parts are the identity on either side.
        let scale_only = Epilogue {
            scale: Some(randn(&[3], 6)),
            ..Epilogue::default()
        };
        for (a, b) in [(&scale_only, &first), (&first, &scale_only)] {
            let apart = b.apply(&a.apply(&x).unwrap()).unwrap();
            let e = a.clone().then(b).unwrap().unwrap();
            assert_close("partial maps", &e.apply(&x).unwrap(), &apart, 1e-12, 1e-12);
        }
        // After an activation only the identity composes.
        assert!(second.clone().then(&first).unwrap().is_none());
        assert!(second
            .clone()
            .then(&Epilogue::activation(Some(UnaryOp::Relu)))
            .unwrap()
            .is_none());
        assert!(second.then(&Epilogue::activation(None)).unwrap().is_some());
    }

    #[test]
    fn folded_convolution_equals_the_epilogue_after_it() {
        let (x, k, b) = (randn(&[2, 5, 4, 3], 1), randn(&[3, 3, 3, 4], 2), randn(&[4], 3));
        let full = Epilogue {
            activation: Some(UnaryOp::Relu),
            ..Epilogue::affine(randn(&[4], 4), randn(&[4], 5))
        };
        let shift_only = Epilogue {
            shift: Some(randn(&[4], 6)),
            ..Epilogue::default()
        };
        let scale_only = Epilogue {
            scale: Some(randn(&[4], 7)),
            ..Epilogue::default()
        };
        for (name, e) in [("full", &full), ("shift", &shift_only), ("scale", &scale_only)] {
            for bias in [Some(&b), None] {
                let y = x.conv2d(&k, &args()).unwrap();
                let y = bias.map_or(Ok(y.clone()), |b| y.add(b)).unwrap();
                let want = e.apply(&y).unwrap();
                let (fk, fb) = e.fold(&k, bias).unwrap();
                let got = x.conv2d_bias_unary(&fk, &args(), &fb, e.activation).unwrap();
                assert_close(
                    &format!("{name}, bias {}", bias.is_some()),
                    &got,
                    &want,
                    1e-12,
                    1e-12,
                );
            }
        }
    }

    #[test]
    fn folded_convolution_gradients_match_finite_differences() {
        let inputs = [
            randn(&[2, 4, 3, 2], 1),
            randn(&[3, 2, 2, 3], 2),
            randn(&[3], 3),
            randn(&[3], 4),
            randn(&[3], 5),
        ];
        let refs: Vec<&Tensor> = inputs.iter().collect();
        check_grad("conv2d with a folded epilogue", &refs, |t| {
            let e = Epilogue {
                activation: Some(UnaryOp::Tanh),
                ..Epilogue::affine(t[3].clone(), t[4].clone())
            };
            let (k, b) = e.fold(&t[1], Some(&t[2]))?;
            t[0].conv2d_bias_unary(&k, &args(), &b, e.activation)
        });
    }

    #[test]
    fn folding_a_map_of_the_wrong_width_is_an_error() {
        let e = Epilogue::affine(randn(&[3], 1), randn(&[3], 2));
        let err = e.fold(&randn(&[3, 3, 2, 4], 3), None).unwrap_err().to_string();
        assert!(err.contains("[3, 3, 2, 4]") && err.contains("[3]"), "{err}");
    }
}
