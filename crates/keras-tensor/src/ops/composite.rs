//! Composite ops: activations, normalization math and cross-entropies, written only with
//! primitives, so their gradients come from the primitives' rules. Formulas follow Keras 3
//! (`keras/src/ops/nn.py`, `keras/src/losses/losses.py`).

use crate::Tensor;
use keras_backend::{DType, Error, Result};

/// Keras's fuzz factor (`keras.backend.epsilon()`), used to clip probabilities.
pub const EPSILON: f64 = 1e-7;

impl Tensor {
    /// `min(max(x, lo), hi)`.
    ///
    /// # Errors
    /// For non-numeric dtypes.
    pub fn clip(&self, lo: f64, hi: f64) -> Result<Tensor> {
        self.maximum_scalar(lo)?.minimum_scalar(hi)
    }

    /// `e^(x - max) / sum(e^(x - max))` along `axis`. Shifting by the maximum first keeps
    /// every exponent at most 0, and rows of large magnitude (masked scores near -1e9) still
    /// sum to 1 in float32.
    ///
    /// ```
    /// use keras_tensor::Tensor;
    /// let p = Tensor::new(&[1.0f32, 2.0, 3.0], &[3])?.softmax(-1)?;
    /// assert!((p.sum_all()?.item()? - 1.0).abs() < 1e-6);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the axis is out of range.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        let e = self.shifted_by_max(axis)?.exp()?;
        e.div(&e.sum(&[axis], true)?)
    }

    /// `(x - max) - log(sum(e^(x - max)))` along `axis`.
    ///
    /// # Errors
    /// When the axis is out of range.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        let z = self.shifted_by_max(axis)?;
        z.sub(&z.exp()?.sum(&[axis], true)?.log()?)
    }

    /// `x - max(x)` along `axis`, the maximum taken as a constant (both softmaxes are
    /// invariant to the shift, so no gradient is lost); rows whose maximum is infinite are
    /// shifted by 0.
    fn shifted_by_max(&self, axis: isize) -> Result<Tensor> {
        let m = self.max(&[axis], true)?.detach();
        let finite = m.abs()?.lt(&m.scalar_like(f64::INFINITY)?)?;
        self.sub(&Tensor::where_cond(&finite, &m, &m.zeros_like()?)?)
    }

    /// GELU: `x * Φ(x)` exactly (`erf`), or the tanh approximation.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn gelu(&self, approximate: bool) -> Result<Tensor> {
        if approximate {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let inner = self
                .add(&self.pow_scalar(3.0)?.mul_scalar(0.044715)?)?
                .mul_scalar(c)?;
            self.mul_scalar(0.5)?.mul(&inner.tanh()?.add_scalar(1.0)?)
        } else {
            let cdf = self
                .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
                .erf()?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?;
            self.mul(&cdf)
        }
    }

    /// `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn softplus(&self) -> Result<Tensor> {
        self.relu()?.add(&self.abs()?.neg()?.exp()?.log1p()?)
    }

    /// `x / (1 + |x|)`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn softsign(&self) -> Result<Tensor> {
        self.div(&self.abs()?.add_scalar(1.0)?)
    }

    /// `x * sigmoid(x)` (also called swish).
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn silu(&self) -> Result<Tensor> {
        self.mul(&self.sigmoid()?)
    }

    /// `x` for `x > 0`, else `alpha * (e^x - 1)`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn elu(&self, alpha: f64) -> Result<Tensor> {
        let neg = self.minimum_scalar(0.0)?.expm1()?.mul_scalar(alpha)?;
        Tensor::where_cond(&self.gt(&self.scalar_like(0.0)?)?, self, &neg)
    }

    /// Scaled ELU with Keras's constants.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn selu(&self) -> Result<Tensor> {
        self.elu(1.673_263_242_354_377_3)?
            .mul_scalar(1.050_700_987_355_480_5)
    }

    /// `x` for `x >= 0`, else `negative_slope * x` (NaN stays NaN), as one pass forward and one
    /// backward.
    ///
    /// ```
    /// use keras_tensor::Tensor;
    /// let x = Tensor::new(&[-2.0f32, 3.0], &[2])?;
    /// assert_eq!(x.leaky_relu(0.25)?.to_vec::<f32>()?, vec![-0.5, 3.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        let out = keras_cpu::unary::leaky_relu(self.storage().cpu(), self.layout(), negative_slope)?;
        let x = self.detach();
        Ok(
            Tensor::from_cpu(out, self.shape()).record("leaky_relu", &[self], move |g| {
                if g.dtype() == x.dtype() {
                    let xc = x.storage().cpu().contiguous(x.layout());
                    let gc = g.storage().cpu().contiguous(g.layout());
                    if let Some(gx) = keras_cpu::unary::leaky_relu_grad(&xc, &gc, negative_slope) {
                        return Ok(vec![Some(Tensor::from_cpu(gx, x.shape()))]);
                    }
                }
                let slope = Tensor::where_cond(
                    &x.ge(&x.scalar_like(0.0)?)?,
                    &x.scalar_like(1.0)?,
                    &x.scalar_like(negative_slope)?,
                )?;
                Ok(vec![Some(g.mul(&slope)?)])
            }),
        )
    }

    /// `min(max(x, 0), 6)`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn relu6(&self) -> Result<Tensor> {
        self.relu()?.minimum_scalar(6.0)
    }

    /// Keras 3's `relu6(x + 3) / 6`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn hard_sigmoid(&self) -> Result<Tensor> {
        self.add_scalar(3.0)?.relu6()?.div_scalar(6.0)
    }

    /// `x * hard_sigmoid(x)`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn hard_silu(&self) -> Result<Tensor> {
        self.mul(&self.hard_sigmoid()?)
    }

    /// `log(sigmoid(x)) = -softplus(-x)`.
    ///
    /// # Errors
    /// For non-float dtypes.
    pub fn log_sigmoid(&self) -> Result<Tensor> {
        self.neg()?.softplus()?.neg()
    }

    /// Mean and biased variance over `axes` (empty: all axes), as `keras.ops.moments`.
    ///
    /// # Errors
    /// When an axis is out of range.
    pub fn moments(&self, axes: &[isize], keepdims: bool) -> Result<(Tensor, Tensor)> {
        let mean = self.mean(axes, true)?;
        let var = self.sub(&mean)?.square()?.mean(axes, keepdims)?;
        let mean = if keepdims { mean } else { self.mean(axes, false)? };
        Ok((mean, var))
    }

    /// Biased variance over `axes`.
    ///
    /// # Errors
    /// When an axis is out of range.
    pub fn var(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        Ok(self.moments(axes, keepdims)?.1)
    }

    /// Layer normalization over `axes`: `(x - mean) / sqrt(var + epsilon) * gamma + beta`
    /// (`gamma`/`beta` broadcast against `x`; pass `None` to skip either).
    ///
    /// # Errors
    /// When shapes do not broadcast or an axis is out of range.
    pub fn layer_norm(
        &self,
        axes: &[isize],
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        epsilon: f64,
    ) -> Result<Tensor> {
        let (mean, var) = self.moments(axes, true)?;
        let mut y = self.sub(&mean)?.mul(&var.add_scalar(epsilon)?.rsqrt()?)?;
        if let Some(g) = gamma {
            y = y.mul(g)?;
        }
        if let Some(b) = beta {
            y = y.add(b)?;
        }
        Ok(y)
    }

    /// Batch normalization with given statistics: `(x - mean) / sqrt(var + eps) * gamma + beta`.
    ///
    /// # Errors
    /// When shapes do not broadcast.
    pub fn batch_norm_inference(
        &self,
        mean: &Tensor,
        var: &Tensor,
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        epsilon: f64,
    ) -> Result<Tensor> {
        // x * scale + shift: the statistics are per channel, so only the last step touches the
        // full-size tensor, in one pass for channels-last statistics.
        let (scale, shift) = Tensor::batch_norm_scale_shift(mean, var, gamma, beta, epsilon)?;
        if let Some(y) = super::norm::channel_affine(self, &scale, &shift)? {
            return Ok(y);
        }
        self.mul(&scale)?.add(&shift)
    }

    /// The per-channel map that [`Tensor::batch_norm_inference`] applies, `x * scale + shift`:
    /// `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale` (a missing `gamma`
    /// is 1, a missing `beta` 0). Layers fold it into a preceding kernel.
    ///
    /// ```
    /// use keras_tensor::Tensor;
    /// let (mean, var) = (Tensor::new(&[1.0f32], &[1])?, Tensor::new(&[4.0f32], &[1])?);
    /// let (scale, shift) = Tensor::batch_norm_scale_shift(&mean, &var, None, None, 0.0)?;
    /// assert_eq!((scale.to_vec::<f32>()?, shift.to_vec::<f32>()?), (vec![0.5], vec![-0.5]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When shapes do not broadcast.
    pub fn batch_norm_scale_shift(
        mean: &Tensor,
        var: &Tensor,
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        epsilon: f64,
    ) -> Result<(Tensor, Tensor)> {
        let mut scale = var.add_scalar(epsilon)?.rsqrt()?;
        if let Some(g) = gamma {
            scale = scale.mul(g)?;
        }
        let mut shift = mean.mul(&scale)?.neg()?;
        if let Some(b) = beta {
            shift = shift.add(b)?;
        }
        Ok((scale, shift))
    }
}

/// Probabilities renormalized along `axis` and clipped to `[ε, 1-ε]`, as Keras does
/// before taking logs.
fn clipped_probs(y_pred: &Tensor, axis: isize) -> Result<Tensor> {
    y_pred
        .div(&y_pred.sum(&[axis], true)?)?
        .clip(EPSILON, 1.0 - EPSILON)
}

fn float_pred(op: &'static str, y_pred: &Tensor) -> Result<()> {
    if y_pred.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType {
            op,
            dtype: y_pred.dtype(),
            hint: "predictions must be floats",
        })
    }
}

/// Per-sample categorical cross-entropy over the class `axis` (Keras semantics, including the
/// renormalization and clipping of probabilities when `from_logits` is false).
///
/// # Errors
/// When the shapes differ (the error names both) or the axis is out of range.
pub fn categorical_crossentropy(
    y_true: &Tensor,
    y_pred: &Tensor,
    from_logits: bool,
    axis: isize,
) -> Result<Tensor> {
    float_pred("categorical_crossentropy", y_pred)?;
    if y_true.shape() != y_pred.shape() {
        return Err(Error::ShapeMismatch {
            op: "categorical_crossentropy",
            lhs: y_true.shape().to_vec(),
            rhs: y_pred.shape().to_vec(),
        });
    }
    let logp = if from_logits {
        y_pred.log_softmax(axis)?
    } else {
        clipped_probs(y_pred, axis)?.log()?
    };
    y_true
        .cast(y_pred.dtype())?
        .mul(&logp)?
        .sum(&[axis], false)?
        .neg()
}

/// Per-sample cross-entropy with integer labels (`y_true` has `y_pred`'s shape without the
/// last axis, or with a last axis of 1).
///
/// # Errors
/// When the shapes do not fit or a label is out of range.
pub fn sparse_categorical_crossentropy(
    y_true: &Tensor,
    y_pred: &Tensor,
    from_logits: bool,
) -> Result<Tensor> {
    float_pred("sparse_categorical_crossentropy", y_pred)?;
    let labels = if y_true.rank() == y_pred.rank() && y_true.shape().last() == Some(&1) {
        y_true.squeeze(&[-1])?
    } else {
        y_true.clone()
    };
    if labels.rank() + 1 != y_pred.rank() || labels.shape() != &y_pred.shape()[..y_pred.rank() - 1] {
        return Err(Error::ShapeMismatch {
            op: "sparse_categorical_crossentropy",
            lhs: y_true.shape().to_vec(),
            rhs: y_pred.shape().to_vec(),
        });
    }
    let labels = if labels.dtype().is_int() {
        labels
    } else {
        labels.cast(DType::I64)?
    };
    let logp = if from_logits {
        y_pred.log_softmax(-1)?
    } else {
        clipped_probs(y_pred, -1)?.log()?
    };
    logp.gather(&labels.expand_dims(-1)?, -1)?.squeeze(&[-1])?.neg()
}

/// Elementwise binary cross-entropy (Keras's `ops.binary_crossentropy`): probabilities
/// clipped to `[ε, 1-ε]`; logits through the stable `relu(x) - x*z + log1p(e^-|x|)`.
///
/// # Errors
/// When the shapes do not broadcast.
pub fn binary_crossentropy_elementwise(
    y_true: &Tensor,
    y_pred: &Tensor,
    from_logits: bool,
) -> Result<Tensor> {
    float_pred("binary_crossentropy", y_pred)?;
    let z = y_true.cast(y_pred.dtype())?;
    if from_logits {
        let x = y_pred;
        x.relu()?.sub(&x.mul(&z)?)?.add(&x.abs()?.neg()?.exp()?.log1p()?)
    } else {
        let p = y_pred.clip(EPSILON, 1.0 - EPSILON)?;
        let one_minus = |t: &Tensor| t.neg()?.add_scalar(1.0);
        z.mul(&p.log()?)?
            .add(&one_minus(&z)?.mul(&one_minus(&p)?.log()?)?)?
            .neg()
    }
}

/// Binary cross-entropy averaged over the last axis (Keras's `losses.binary_crossentropy`).
///
/// # Errors
/// When the shapes do not broadcast.
pub fn binary_crossentropy(y_true: &Tensor, y_pred: &Tensor, from_logits: bool) -> Result<Tensor> {
    binary_crossentropy_elementwise(y_true, y_pred, from_logits)?.mean(&[-1], false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_grad, randn};

    #[test]
    fn softmaxes_of_rows_of_large_magnitude_sum_to_one_in_float32() {
        // Attention scores with a -1e9 mask added: float32 keeps only multiples of 64 there.
        let x = Tensor::new(&[-1e9f32, -1e9 + 64.0, -1e9 - 64.0, 1e9, 1e9, 3.0], &[2, 3]).unwrap();
        for p in [x.softmax(-1).unwrap(), x.log_softmax(-1).unwrap().exp().unwrap()] {
            let sums = p.sum(&[1], false).unwrap().to_vec::<f32>().unwrap();
            assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6), "{sums:?}");
        }
        let p = x.softmax(-1).unwrap().to_vec::<f32>().unwrap();
        assert_eq!((p[1], p[3], p[5]), (1.0, 0.5, 0.0));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[3, 5], 1);
        check_grad("softmax", &[&x], |t| t[0].softmax(-1));
        check_grad("log_softmax", &[&x], |t| t[0].log_softmax(0));
        check_grad("gelu", &[&x], |t| t[0].gelu(false));
        check_grad("gelu_tanh", &[&x], |t| t[0].gelu(true));
        check_grad("softplus", &[&x], |t| t[0].softplus());
        check_grad("silu", &[&x], |t| t[0].silu());
        check_grad("elu", &[&x], |t| t[0].elu(1.0));
        check_grad("selu", &[&x], |t| t[0].selu());
        check_grad("layer_norm", &[&x, &randn(&[5], 2), &randn(&[5], 3)], |t| {
            t[0].layer_norm(&[-1], Some(&t[1]), Some(&t[2]), 1e-3)
        });
        check_grad(
            "batch_norm",
            &[&randn(&[4, 2, 3], 4), &randn(&[3], 5), &randn(&[3], 6)],
            |t| Ok(t[0].batch_norm_train(Some(&t[1]), Some(&t[2]), 1e-3)?.0),
        );
        let labels = Tensor::new(&[0i64, 4, 2], &[3]).unwrap();
        check_grad("sparse_ce_logits", &[&x], |t| {
            sparse_categorical_crossentropy(&labels, &t[0], true)
        });
        let probs = x.softmax(-1).unwrap();
        let onehot = labels.one_hot(5).unwrap();
        check_grad("cce_probs", &[&probs], |t| {
            categorical_crossentropy(&onehot, &t[0], false, -1)
        });
        let z = randn(&[3, 5], 7).gt(&Tensor::scalar(0.0f64)).unwrap();
        check_grad("bce_logits", &[&x], |t| binary_crossentropy(&z, &t[0], true));
        check_grad("bce_probs", &[&x.sigmoid().unwrap()], |t| {
            binary_crossentropy(&z, &t[0], false)
        });
    }

    #[test]
    fn crossentropy_shape_errors_name_both_shapes() {
        let e = categorical_crossentropy(&randn(&[2, 3], 1), &randn(&[2, 4], 2), true, -1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3]") && e.contains("[2, 4]"), "{e}");
        let labels = Tensor::new(&[0i64, 1, 2], &[3]).unwrap();
        assert!(sparse_categorical_crossentropy(&labels, &randn(&[2, 4], 2), true).is_err());
    }
}
