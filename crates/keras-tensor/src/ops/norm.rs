//! Batch normalization with batch statistics: one fused op (forward and gradient rule) over
//! the `keras_cpu::norm` kernels, instead of the composite of moments and elementwise ops,
//! which costs a dozen passes over the activations of a training step.

use crate::autodiff::grad_if;
use crate::Tensor;
use keras_backend::{DType, Error, Result};
use keras_cpu::{Float, StorageElement};

use super::with_values;

const OP: &str = "batch_norm_train";

impl Tensor {
    /// Batch normalization with batch statistics over every axis but the last: returns the
    /// normalized output `(x - mean) / sqrt(var + epsilon) * gamma + beta` and the batch mean
    /// and (biased) variance, shaped `(C,)`. All three are differentiable (the gradient of the
    /// output includes the path through the statistics).
    ///
    /// ```
    /// use keras_tensor::Tensor;
    /// let x = Tensor::new(&[1.0f32, 10.0, 3.0, 20.0], &[2, 2])?;
    /// let (y, mean, var) = x.batch_norm_train(None, None, 0.0)?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![-1.0, -1.0, 1.0, 1.0]);
    /// assert_eq!((mean.to_vec::<f32>()?, var.to_vec::<f32>()?), (vec![2.0, 15.0], vec![1.0, 25.0]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the input is a scalar or `gamma`/`beta` are not shaped `(C,)`.
    pub fn batch_norm_train(
        &self,
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        epsilon: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let Some(&c) = self.shape().last() else {
            return Err(Error::BadShape {
                op: OP,
                shape: vec![],
                msg: "batch normalization needs at least one axis (the channels)".into(),
            });
        };
        for (name, t) in [("gamma", gamma), ("beta", beta)] {
            if let Some(t) = t {
                if t.shape() != [c] {
                    return Err(Error::BadShape {
                        op: OP,
                        shape: t.shape().to_vec(),
                        msg: format!(
                            "{name} must have shape [{c}] (the channels of {:?})",
                            self.shape()
                        ),
                    });
                }
            }
        }
        match self.dtype() {
            DType::F32 => fused::<f32>(self, gamma, beta, epsilon),
            DType::F64 => fused::<f64>(self, gamma, beta, epsilon),
            DType::F16 | DType::BF16 => {
                let wide = |t: Option<&Tensor>| t.map(|t| t.cast(DType::F32)).transpose();
                let (g, b) = (wide(gamma)?, wide(beta)?);
                let (y, m, v) = fused::<f32>(&self.cast(DType::F32)?, g.as_ref(), b.as_ref(), epsilon)?;
                let dt = self.dtype();
                Ok((y.cast(dt)?, m.cast(dt)?, v.cast(dt)?))
            }
            dt => Err(Error::UnsupportedDType {
                op: OP,
                dtype: dt,
                hint: "batch normalization needs a float tensor",
            }),
        }
    }
}

fn fused<T: Float + StorageElement>(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    epsilon: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let shape = x.shape().to_vec();
    let c = *shape.last().unwrap_or(&1);
    let rows = x.numel() / c.max(1);
    let per_channel = |t: &Tensor| with_values(OP, t, <[T]>::to_vec);
    let g = gamma.map(per_channel).transpose()?;
    let b = beta.map(per_channel).transpose()?;
    let (y, mean, var, rstd) = with_values(OP, x, |xv: &[T]| {
        let (mean, var) = keras_cpu::norm::batch_norm_stats(xv, c);
        let rstd: Vec<T> = var
            .iter()
            .map(|&v| T::one() / (v + T::of(epsilon)).sqrt())
            .collect();
        let scale: Vec<T> = (0..c)
            .map(|j| rstd[j] * g.as_ref().map_or(T::one(), |g| g[j]))
            .collect();
        let shift: Vec<T> = (0..c)
            .map(|j| b.as_ref().map_or(T::zero(), |b| b[j]) - mean[j] * scale[j])
            .collect();
        let y = keras_cpu::norm::batch_norm_apply(xv, c, &scale, &shift);
        (y, mean, var, rstd)
    })?;
    let mean_t = Tensor::from_cpu(T::wrap(mean.clone()), &[c]);
    let var_t = Tensor::from_cpu(T::wrap(var), &[c]);

    // Output: gradients for x (through the statistics too), gamma and beta.
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    let (xk, has_gamma, has_beta) = (x.clone(), gamma.is_some(), beta.is_some());
    let (mean_k, shape_k) = (mean.clone(), shape.clone());
    let y = Tensor::from_cpu(T::wrap(y), &shape).record("batch_norm_train", &inputs, move |dy| {
        let (dx, dg, db) = with_values(OP, &xk, |xv: &[T]| {
            with_values(OP, dy, |dyv: &[T]| {
                keras_cpu::norm::batch_norm_backward(xv, dyv, c, &mean_k, &rstd, g.as_deref())
            })
        })??;
        let mut grads = vec![Some(Tensor::from_cpu(T::wrap(dx), &shape_k))];
        if has_gamma {
            grads.push(Some(Tensor::from_cpu(T::wrap(dg), &[c])));
        }
        if has_beta {
            grads.push(Some(Tensor::from_cpu(T::wrap(db), &[c])));
        }
        Ok(grads)
    });

    // The statistics, for callers that differentiate through them: d mean / dx = 1/rows,
    // d var / dx = 2 (x - mean) / rows.
    let n = rows.max(1) as f64;
    let mean_out = mean_t.clone().record("batch_norm_mean", &[x], move |g| {
        Ok(vec![Some(g.div_scalar(n)?.broadcast_to(&shape)?.contiguous()?)])
    });
    let xk = x.clone();
    let var_out = var_t.record("batch_norm_var", &[x], move |g| {
        let centered = xk.sub(&mean_t)?;
        Ok(vec![Some(centered.mul(&g.mul_scalar(2.0 / n)?)?)])
    });
    Ok((y, mean_out, var_out))
}

/// `x * scale + shift` in one pass when `scale` and `shift` are per-channel vectors along
/// the last axis (shape `[c]` or `[1, …, 1, c]`) of `x`'s float32 or float64 dtype, as
/// batch normalization in inference mode applies them; `None` otherwise (the caller then
/// composes the broadcast ops, which take two passes). The gradients are tensor ops, so
/// they are differentiable again.
pub(crate) fn channel_affine(x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Option<Tensor>> {
    let Some(&c) = x.shape().last() else {
        return Ok(None);
    };
    let per_channel = |t: &Tensor| {
        t.dtype() == x.dtype()
            && t.rank() <= x.rank()
            && t.shape().last() == Some(&c)
            && t.shape().iter().rev().skip(1).all(|&d| d == 1)
    };
    if c == 0 || !per_channel(scale) || !per_channel(shift) {
        return Ok(None);
    }
    fn apply<T: Float + StorageElement>(
        x: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
        c: usize,
    ) -> Result<Tensor> {
        const OP: &str = "batch_norm_inference";
        let a = with_values(OP, scale, <[T]>::to_vec)?;
        let b = with_values(OP, shift, <[T]>::to_vec)?;
        let y = with_values(OP, x, |xv: &[T]| keras_cpu::norm::batch_norm_apply(xv, c, &a, &b))?;
        Ok(Tensor::from_cpu(T::wrap(y), x.shape()))
    }
    let out = match x.dtype() {
        DType::F32 => apply::<f32>(x, scale, shift, c)?,
        DType::F64 => apply::<f64>(x, scale, shift, c)?,
        _ => return Ok(None),
    };
    let (xk, ak, bk) = (x.clone(), scale.clone(), shift.clone());
    Ok(Some(out.record("channel_affine", &[x, scale, shift], move |g| {
        Ok(vec![
            grad_if(xk.is_tracked(), || g.mul(&ak))?,
            grad_if(ak.is_tracked(), || g.mul(&xk)?.sum_to(ak.shape()))?,
            grad_if(bk.is_tracked(), || g.sum_to(bk.shape()))?,
        ])
    })))
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, check_grad, randn};

    #[test]
    fn gradients_match_finite_differences() {
        let (x, g, b) = (randn(&[4, 2, 3], 4), randn(&[3], 5), randn(&[3], 6));
        check_grad("batch_norm", &[&x, &g, &b], |t| {
            Ok(t[0].batch_norm_train(Some(&t[1]), Some(&t[2]), 1e-3)?.0)
        });
        check_grad("batch_norm_no_affine", &[&x], |t| {
            Ok(t[0].batch_norm_train(None, None, 1e-3)?.0)
        });
        // Through the statistics, as a caller that uses them in a loss would.
        check_grad("batch_norm_stats", &[&x], |t| {
            let (y, m, v) = t[0].batch_norm_train(None, None, 1e-3)?;
            y.sum_all()?.add(&m.mul(&v)?.sum_all()?)
        });
    }

    #[test]
    fn matches_the_composite_formula() {
        let x = randn(&[5, 3, 4, 6], 7).cast(keras_backend::DType::F32).unwrap();
        let g = randn(&[6], 8).cast(keras_backend::DType::F32).unwrap();
        let b = randn(&[6], 9).cast(keras_backend::DType::F32).unwrap();
        let (y, m, v) = x.batch_norm_train(Some(&g), Some(&b), 1e-3).unwrap();
        let (m2, v2) = x.moments(&[0, 1, 2], false).unwrap();
        let y2 = x
            .batch_norm_inference(&m2, &v2, Some(&g), Some(&b), 1e-3)
            .unwrap();
        for (a, b) in [(y, y2), (m, m2), (v, v2)] {
            assert_close("fused vs composite", &a, &b, 0.0, 1e-5);
        }
    }

    /// Inference mode's one-pass affine gives the broadcast ops' bits, and its gradients
    /// (also through the statistics and the affine weights) pass float64 finite differences.
    #[test]
    fn inference_is_one_pass_with_the_composite_values_and_gradients() {
        use keras_backend::DType;
        let x = randn(&[3, 4, 5], 10);
        let (m, v) = (randn(&[5], 11), randn(&[5], 12).abs().unwrap());
        let (g, b) = (randn(&[1, 1, 5], 13), randn(&[5], 14));
        let composite = |t: &[crate::Tensor]| {
            let scale = t[2].add_scalar(1e-3)?.rsqrt()?.mul(&t[3])?;
            let shift = t[1].mul(&scale)?.neg()?.add(&t[4])?;
            t[0].mul(&scale)?.add(&shift)
        };
        for dt in [DType::F32, DType::F64] {
            let t: Vec<_> = [&x, &m, &v, &g, &b].map(|t| t.cast(dt).unwrap()).into();
            let fused = t[0]
                .batch_norm_inference(&t[1], &t[2], Some(&t[3]), Some(&t[4]), 1e-3)
                .unwrap();
            let reference = composite(&t).unwrap();
            assert_close("one pass vs composite", &fused, &reference, 0.0, 0.0);
        }
        check_grad("batch_norm_inference", &[&x, &m, &v, &g, &b], |t| {
            t[0].batch_norm_inference(&t[1], &t[2], Some(&t[3]), Some(&t[4]), 1e-3)
        });
        // Statistics along an axis other than the last take the composite path.
        let m1 = randn(&[1, 4, 1], 15);
        check_grad("batch_norm_inference_axis1", &[&x, &m1], |t| {
            t[0].batch_norm_inference(&t[1], &t[1].abs()?, None, None, 1e-3)
        });
    }
}
