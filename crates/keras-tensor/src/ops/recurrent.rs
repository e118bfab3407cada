//! Recurrent sequences as one op with a hand-written gradient rule, over the
//! `keras_cpu::rnn` kernels: the whole time loop of an LSTM forward, and backpropagation
//! through time backward, instead of a dozen recorded ops per step.

use crate::{Device, Tensor};
use keras_backend::{DType, Error, Result};
use keras_cpu::rnn::{lstm_backward, lstm_forward, LstmDims};
use keras_cpu::{Float, StorageElement};
use std::sync::Arc;

use super::with_values;

const OP: &str = "lstm_sequence";

fn bad_shape(t: &Tensor, msg: String) -> Error {
    Error::BadShape {
        op: OP,
        shape: t.shape().to_vec(),
        msg,
    }
}

impl Tensor {
    /// Runs an LSTM (`tanh` activation, `sigmoid` gates, Keras's gate order i, f, c, o) over
    /// a sequence whose input projections `x_t @ kernel + bias` are this tensor,
    /// `(batch, timesteps, 4·units)`. `recurrent_kernel` is `(units, 4·units)`; `h0` and `c0`
    /// are the initial states, `(batch, units)`. With `mask (batch, timesteps)`, a masked
    /// step keeps both states and outputs the previous `h`, or zeros with
    /// `zero_output_for_mask`, as Keras's `backend.rnn`.
    ///
    /// Returns every step's output `(batch, timesteps, units)`, the final `h` and the final
    /// `c`. All three are differentiable with respect to this tensor, the recurrent kernel
    /// and the initial states. CPU only.
    ///
    /// ```
    /// use keras_tensor::{DType, Device, Tensor};
    /// let (b, t, u) = (2, 3, 4);
    /// let xk = Tensor::ones(&[b, t, 4 * u], DType::F32, &Device::Cpu)?;
    /// let rk = Tensor::zeros(&[u, 4 * u], DType::F32, &Device::Cpu)?;
    /// let zeros = Tensor::zeros(&[b, u], DType::F32, &Device::Cpu)?;
    /// let (hs, h, c) = xk.lstm_sequence(&rk, &zeros, &zeros, None, false)?;
    /// assert_eq!((hs.shape(), h.shape(), c.shape()), (&[b, t, u][..], &[b, u][..], &[b, u][..]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the shapes do not fit together, a tensor is not on the CPU, or the dtype is not
    /// a float.
    pub fn lstm_sequence(
        &self,
        recurrent_kernel: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
        mask: Option<&Tensor>,
        zero_output_for_mask: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let &[b, t, w] = self.shape() else {
            return Err(bad_shape(
                self,
                "the input projections must be (batch, timesteps, 4·units)".into(),
            ));
        };
        if w % 4 != 0 || w == 0 {
            return Err(bad_shape(self, format!("the last axis ({w}) must be 4·units")));
        }
        let u = w / 4;
        if recurrent_kernel.shape() != [u, w] {
            return Err(bad_shape(
                recurrent_kernel,
                format!(
                    "the recurrent kernel must be [{u}, {w}] for input projections {:?}",
                    self.shape()
                ),
            ));
        }
        for (name, s) in [("h0", h0), ("c0", c0)] {
            if s.shape() != [b, u] {
                return Err(bad_shape(s, format!("{name} must be [{b}, {u}]")));
            }
        }
        if let Some(m) = mask {
            if m.shape() != [b, t] {
                return Err(bad_shape(m, format!("the mask must be [{b}, {t}]")));
            }
        }
        let mut all = vec![self, recurrent_kernel, h0, c0];
        all.extend(mask);
        if let Some(other) = all.iter().find(|x| x.device() != &Device::Cpu) {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!("runs on the CPU only, got a tensor on {}", other.device()),
            });
        }
        let mask = mask.map(|m| m.cast(DType::Bool)?.to_vec::<bool>()).transpose()?;
        let dims = LstmDims {
            batch: b,
            steps: t,
            units: u,
        };
        let y = match self.dtype() {
            DType::F32 => fused::<f32>(self, recurrent_kernel, h0, c0, mask, zero_output_for_mask, dims)?,
            DType::F64 => fused::<f64>(self, recurrent_kernel, h0, c0, mask, zero_output_for_mask, dims)?,
            DType::F16 | DType::BF16 => {
                let wide = |x: &Tensor| x.cast(DType::F32);
                let (xk, rk, h, c) = (wide(self)?, wide(recurrent_kernel)?, wide(h0)?, wide(c0)?);
                fused::<f32>(&xk, &rk, &h, &c, mask, zero_output_for_mask, dims)?.cast(self.dtype())?
            }
            dt => {
                return Err(Error::UnsupportedDType {
                    op: OP,
                    dtype: dt,
                    hint: "an LSTM needs float input projections",
                })
            }
        };
        let last = |i: usize| y.narrow(1, i, 1)?.reshape(&[b as isize, u as isize]);
        Ok((y.narrow(1, 0, t)?, last(t)?, last(t + 1)?))
    }
}

/// The packed output `(b, t + 2, u)` (every step's output, final `h`, final `c`) with its
/// gradient rule.
fn fused<T: Float + StorageElement>(
    xk: &Tensor,
    rk: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    mask: Option<Vec<bool>>,
    zero_output_for_mask: bool,
    dims: LstmDims,
) -> Result<Tensor> {
    let LstmDims {
        batch: b,
        steps: t,
        units: u,
    } = dims;
    let values = |x: &Tensor| with_values(OP, x, <[T]>::to_vec);
    let (rk_v, h0_v, c0_v) = (values(rk)?, values(h0)?, values(c0)?);
    let saved = with_values(OP, xk, |xv: &[T]| {
        lstm_forward(
            xv,
            &rk_v,
            &h0_v,
            &c0_v,
            mask.as_deref(),
            zero_output_for_mask,
            dims,
        )
    })??;
    let y = T::wrap(saved.y.clone());
    let saved = Arc::new(saved);
    Ok(
        Tensor::from_cpu(y, &[b, t + 2, u]).record(OP, &[xk, rk, h0, c0], move |dy| {
            let (dxk, drk, dh0, dc0) = with_values(OP, dy, |dyv: &[T]| {
                lstm_backward(dyv, &rk_v, &saved, mask.as_deref(), zero_output_for_mask, dims)
            })??;
            Ok(vec![
                Some(Tensor::from_cpu(T::wrap(dxk), &[b, t, 4 * u])),
                Some(Tensor::from_cpu(T::wrap(drk), &[u, 4 * u])),
                Some(Tensor::from_cpu(T::wrap(dh0), &[b, u])),
                Some(Tensor::from_cpu(T::wrap(dc0), &[b, u])),
            ])
        }),
    )
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, check_grad, randn};
    use crate::Tensor;
    use keras_backend::DType;

    /// The LSTM step by step with tensor ops, as the unrolled layer computes it.
    fn unrolled(xk: &Tensor, rk: &Tensor, h0: &Tensor, c0: &Tensor, mask: Option<&Tensor>) -> Vec<Tensor> {
        let (t, u) = (xk.shape()[1], rk.shape()[0]);
        let (mut h, mut c) = (h0.clone(), c0.clone());
        let mut outs = Vec::new();
        for s in 0..t {
            let z = xk
                .narrow(1, s, 1)
                .unwrap()
                .squeeze(&[1])
                .unwrap()
                .add(&h.matmul(rk).unwrap())
                .unwrap();
            let g = z.split(&[u, u, u, u], 1).unwrap();
            let (i, f, o) = (
                g[0].sigmoid().unwrap(),
                g[1].sigmoid().unwrap(),
                g[3].sigmoid().unwrap(),
            );
            let c2 = f
                .mul(&c)
                .unwrap()
                .add(&i.mul(&g[2].tanh().unwrap()).unwrap())
                .unwrap();
            let h2 = o.mul(&c2.tanh().unwrap()).unwrap();
            match mask {
                Some(m) => {
                    let m_s = m.narrow(1, s, 1).unwrap();
                    h = Tensor::where_cond(&m_s, &h2, &h).unwrap();
                    c = Tensor::where_cond(&m_s, &c2, &c).unwrap();
                }
                None => (h, c) = (h2, c2),
            }
            outs.push(h.clone());
        }
        vec![Tensor::stack(&outs.iter().collect::<Vec<_>>(), 1).unwrap(), h, c]
    }

    #[test]
    fn matches_the_unrolled_ops() {
        let (b, t, u) = (3, 5, 4);
        let xk = randn(&[b, t, 4 * u], 1).cast(DType::F32).unwrap();
        let rk = randn(&[u, 4 * u], 2).cast(DType::F32).unwrap();
        let (h0, c0) = (
            randn(&[b, u], 3).cast(DType::F32).unwrap(),
            randn(&[b, u], 4).cast(DType::F32).unwrap(),
        );
        let mask = Tensor::new(
            &[
                true, true, false, true, true, false, true, true, true, false, true, true, true, true, true,
            ],
            &[b, t],
        )
        .unwrap();
        for m in [None, Some(&mask)] {
            let (hs, h, c) = xk.lstm_sequence(&rk, &h0, &c0, m, false).unwrap();
            let want = unrolled(&xk, &rk, &h0, &c0, m);
            for (got, want) in [hs, h, c].iter().zip(&want) {
                assert_close(&format!("mask {}", m.is_some()), got, want, 0.0, 1e-5);
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (b, t, u) = (2, 4, 3);
        let xk = randn(&[b, t, 4 * u], 5);
        let rk = randn(&[u, 4 * u], 6);
        let (h0, c0) = (randn(&[b, u], 7), randn(&[b, u], 8));
        let mask = Tensor::new(&[true, false, true, true, false, true, true, false], &[b, t]).unwrap();
        for (name, m, zero) in [
            ("plain", None, false),
            ("masked", Some(&mask), false),
            ("zeros", Some(&mask), true),
        ] {
            // Each output alone, and all three in one loss.
            for pick in 0..4 {
                check_grad(
                    &format!("lstm_sequence {name} {pick}"),
                    &[&xk, &rk, &h0, &c0],
                    |v| {
                        let (hs, h, c) = v[0].lstm_sequence(&v[1], &v[2], &v[3], m, zero)?;
                        match pick {
                            0 => Ok(hs),
                            1 => Ok(h),
                            2 => Ok(c),
                            _ => hs.sum(&[1], false)?.add(&h.mul(&c)?),
                        }
                    },
                );
            }
        }
    }

    #[test]
    fn bad_shapes_are_named() {
        let xk = randn(&[2, 3, 8], 1);
        let e = xk.lstm_sequence(
            &randn(&[3, 8], 2),
            &randn(&[2, 2], 3),
            &randn(&[2, 2], 4),
            None,
            false,
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("recurrent kernel must be [2, 8]"));
        let e = xk.lstm_sequence(
            &randn(&[2, 8], 2),
            &randn(&[2, 3], 3),
            &randn(&[2, 2], 4),
            None,
            false,
        );
        assert!(e.unwrap_err().to_string().contains("h0 must be [2, 2]"));
        let e = randn(&[2, 3, 6], 1).lstm_sequence(
            &randn(&[2, 8], 2),
            &randn(&[2, 2], 3),
            &randn(&[2, 2], 4),
            None,
            false,
        );
        assert!(e.unwrap_err().to_string().contains("must be 4·units"));
    }
}
