//! Recurrent sequences as one op with a hand-written gradient rule, over the
//! `keras_cpu::rnn` kernels: the whole time loop of an LSTM or a GRU forward, and
//! backpropagation through time backward, instead of a dozen recorded ops per step.

use crate::{Device, Tensor};
use keras_backend::{DType, Error, Result};
use keras_cpu::rnn::{
    gru_backward, gru_forward, gru_inference, lstm_backward, lstm_forward, lstm_inference, RnnDims,
};
use keras_cpu::{Float, StorageElement};
use std::sync::Arc;

use super::with_values;

fn bad_shape(op: &'static str, t: &Tensor, msg: String) -> Error {
    Error::BadShape {
        op,
        shape: t.shape().to_vec(),
        msg,
    }
}

/// A fused recurrent op's inputs, checked: input projections `(b, t, gates·u)`, recurrent
/// kernel `(u, gates·u)`, states and per-gate vectors, mask `(b, t)`, all on the CPU. Float16
/// inputs are widened to float32 (`dtype` is the caller's, to cast the output back to).
struct Checked {
    dims: RnnDims,
    mask: Option<Vec<bool>>,
    tensors: Vec<Tensor>,
    dtype: DType,
}

/// Checks `xk`, `rk`, the `(batch, units)` states and the `(gates·units,)` vectors.
fn check(
    op: &'static str,
    gates: usize,
    xk: &Tensor,
    rk: &Tensor,
    states: &[(&str, &Tensor)],
    vectors: &[(&str, &Tensor)],
    mask: Option<&Tensor>,
) -> Result<Checked> {
    let &[b, t, w] = xk.shape() else {
        return Err(bad_shape(
            op,
            xk,
            format!("the input projections must be (batch, timesteps, {gates}·units)"),
        ));
    };
    if w % gates != 0 || w == 0 {
        return Err(bad_shape(
            op,
            xk,
            format!("the last axis ({w}) must be {gates}·units"),
        ));
    }
    let u = w / gates;
    if rk.shape() != [u, w] {
        return Err(bad_shape(
            op,
            rk,
            format!(
                "the recurrent kernel must be [{u}, {w}] for input projections {:?}",
                xk.shape()
            ),
        ));
    }
    for (name, s) in states {
        if s.shape() != [b, u] {
            return Err(bad_shape(op, s, format!("{name} must be [{b}, {u}]")));
        }
    }
    for (name, v) in vectors {
        if v.shape() != [w] {
            return Err(bad_shape(op, v, format!("{name} must be [{w}]")));
        }
    }
    if let Some(m) = mask {
        if m.shape() != [b, t] {
            return Err(bad_shape(op, m, format!("the mask must be [{b}, {t}]")));
        }
    }
    let mut tensors = vec![xk.clone(), rk.clone()];
    tensors.extend(states.iter().chain(vectors).map(|(_, s)| (*s).clone()));
    if let Some(other) = tensors.iter().chain(mask).find(|x| x.device() != &Device::Cpu) {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("runs on the CPU only, got a tensor on {}", other.device()),
        });
    }
    let dtype = xk.dtype();
    match dtype {
        DType::F32 | DType::F64 => {}
        DType::F16 | DType::BF16 => {
            tensors = tensors
                .iter()
                .map(|x| x.cast(DType::F32))
                .collect::<Result<_>>()?;
        }
        dt => {
            return Err(Error::UnsupportedDType {
                op,
                dtype: dt,
                hint: "a recurrent layer needs float input projections",
            })
        }
    }
    Ok(Checked {
        dims: RnnDims {
            batch: b,
            steps: t,
            units: u,
        },
        mask: mask.map(|m| m.cast(DType::Bool)?.to_vec::<bool>()).transpose()?,
        tensors,
        dtype,
    })
}

impl Checked {
    /// Runs `f32_op` or `f64_op` on the checked tensors; returns the packed output in the
    /// caller's dtype.
    fn run(
        self,
        f32_op: impl FnOnce(&[Tensor], Option<Vec<bool>>, RnnDims) -> Result<Tensor>,
        f64_op: impl FnOnce(&[Tensor], Option<Vec<bool>>, RnnDims) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let y = if self.tensors[0].dtype() == DType::F64 {
            f64_op(&self.tensors, self.mask, self.dims)?
        } else {
            f32_op(&self.tensors, self.mask, self.dims)?
        };
        if y.dtype() == self.dtype {
            Ok(y)
        } else {
            y.cast(self.dtype)
        }
    }
}

/// Step `i` of a packed output `(b, steps + extra, u)`, as `(b, u)`.
fn packed_step(y: &Tensor, i: usize) -> Result<Tensor> {
    let (b, u) = (y.shape()[0], y.shape()[2]);
    y.narrow(1, i, 1)?.reshape(&[b as isize, u as isize])
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
        let states = [("h0", h0), ("c0", c0)];
        let c = check(LSTM, 4, self, recurrent_kernel, &states, &[], mask)?;
        let t = c.dims.steps;
        let y = c.run(
            |x, m, d| lstm::<f32>(x, m, zero_output_for_mask, d),
            |x, m, d| lstm::<f64>(x, m, zero_output_for_mask, d),
        )?;
        Ok((y.narrow(1, 0, t)?, packed_step(&y, t)?, packed_step(&y, t + 1)?))
    }

    /// Runs a GRU (`tanh` activation, `sigmoid` gates, `reset_after`, Keras's gate order z, r,
    /// h) over a sequence whose input projections `x_t @ kernel + input_bias` are this tensor,
    /// `(batch, timesteps, 3·units)`: per step, with `m = h @ recurrent_kernel +
    /// recurrent_bias`, `z = σ(x_z + m_z)`, `r = σ(x_r + m_r)`, `hh = tanh(x_h + r * m_h)`,
    /// `h = z * h + (1 - z) * hh`. `recurrent_kernel` is `(units, 3·units)`,
    /// `recurrent_bias` `(3·units,)` if any, `h0` the initial state `(batch, units)`; `mask`
    /// as for [`Tensor::lstm_sequence`].
    ///
    /// Returns every step's output `(batch, timesteps, units)` and the final `h`, both
    /// differentiable with respect to every input but the mask. CPU only.
    ///
    /// ```
    /// use keras_tensor::{DType, Device, Tensor};
    /// let (b, t, u) = (2, 3, 4);
    /// let xk = Tensor::ones(&[b, t, 3 * u], DType::F32, &Device::Cpu)?;
    /// let rk = Tensor::zeros(&[u, 3 * u], DType::F32, &Device::Cpu)?;
    /// let h0 = Tensor::zeros(&[b, u], DType::F32, &Device::Cpu)?;
    /// let (hs, h) = xk.gru_sequence(&rk, None, &h0, None, false)?;
    /// assert_eq!((hs.shape(), h.shape()), (&[b, t, u][..], &[b, u][..]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the shapes do not fit together, a tensor is not on the CPU, or the dtype is not
    /// a float.
    pub fn gru_sequence(
        &self,
        recurrent_kernel: &Tensor,
        recurrent_bias: Option<&Tensor>,
        h0: &Tensor,
        mask: Option<&Tensor>,
        zero_output_for_mask: bool,
    ) -> Result<(Tensor, Tensor)> {
        let vectors: Vec<_> = recurrent_bias
            .map(|b| ("the recurrent bias", b))
            .into_iter()
            .collect();
        let c = check(GRU, 3, self, recurrent_kernel, &[("h0", h0)], &vectors, mask)?;
        let t = c.dims.steps;
        let y = c.run(
            |x, m, d| gru::<f32>(x, m, zero_output_for_mask, d),
            |x, m, d| gru::<f64>(x, m, zero_output_for_mask, d),
        )?;
        Ok((y.narrow(1, 0, t)?, packed_step(&y, t)?))
    }
}

const LSTM: &str = "lstm_sequence";
const GRU: &str = "gru_sequence";

/// The packed LSTM output `(b, t + 2, u)` (every step's output, final `h`, final `c`) of
/// `x = [xk, rk, h0, c0]`, with its gradient rule.
fn lstm<T: Float + StorageElement>(
    x: &[Tensor],
    mask: Option<Vec<bool>>,
    zero_output: bool,
    dims: RnnDims,
) -> Result<Tensor> {
    let RnnDims {
        batch: b,
        steps: t,
        units: u,
    } = dims;
    let values = |x: &Tensor| with_values(LSTM, x, <[T]>::to_vec);
    let (rk, h0, c0) = (values(&x[1])?, values(&x[2])?, values(&x[3])?);
    let m = mask.as_deref();
    let inputs: Vec<&Tensor> = x.iter().collect();
    if !Tensor::will_record(&inputs) {
        let y = with_values(LSTM, &x[0], |xk: &[T]| {
            lstm_inference(xk, &rk, &h0, &c0, m, zero_output, dims)
        })??;
        return Ok(Tensor::from_cpu(T::wrap(y), &[b, t + 2, u]));
    }
    let mut saved = with_values(LSTM, &x[0], |xk: &[T]| {
        lstm_forward(xk, &rk, &h0, &c0, m, zero_output, dims)
    })??;
    // The output moves into the tensor; the gradient rule keeps only what backward reads.
    let y = Tensor::from_cpu(T::wrap(std::mem::take(&mut saved.y)), &[b, t + 2, u]);
    let saved = Arc::new(saved);
    Ok(y.record(LSTM, &inputs, move |dy| {
        let (dxk, drk, dh0, dc0) = with_values(LSTM, dy, |dy: &[T]| {
            lstm_backward(dy, &rk, &saved, mask.as_deref(), zero_output, dims)
        })??;
        Ok(vec![
            Some(Tensor::from_cpu(T::wrap(dxk), &[b, t, 4 * u])),
            Some(Tensor::from_cpu(T::wrap(drk), &[u, 4 * u])),
            Some(Tensor::from_cpu(T::wrap(dh0), &[b, u])),
            Some(Tensor::from_cpu(T::wrap(dc0), &[b, u])),
        ])
    }))
}

/// The packed GRU output `(b, t + 1, u)` (every step's output, final `h`) of
/// `x = [xk, rk, h0]` or `[xk, rk, h0, recurrent_bias]`, with its gradient rule.
fn gru<T: Float + StorageElement>(
    x: &[Tensor],
    mask: Option<Vec<bool>>,
    zero_output: bool,
    dims: RnnDims,
) -> Result<Tensor> {
    let RnnDims {
        batch: b,
        steps: t,
        units: u,
    } = dims;
    let values = |x: &Tensor| with_values(GRU, x, <[T]>::to_vec);
    let (rk, h0) = (values(&x[1])?, values(&x[2])?);
    let rb = x.get(3).map(values).transpose()?;
    let m = mask.as_deref();
    let inputs: Vec<&Tensor> = x.iter().collect();
    if !Tensor::will_record(&inputs) {
        let y = with_values(GRU, &x[0], |xk: &[T]| {
            gru_inference(xk, &rk, rb.as_deref(), &h0, m, zero_output, dims)
        })??;
        return Ok(Tensor::from_cpu(T::wrap(y), &[b, t + 1, u]));
    }
    let mut saved = with_values(GRU, &x[0], |xk: &[T]| {
        gru_forward(xk, &rk, rb.as_deref(), &h0, m, zero_output, dims)
    })??;
    // The output moves into the tensor; the gradient rule keeps only what backward reads.
    let y = Tensor::from_cpu(T::wrap(std::mem::take(&mut saved.y)), &[b, t + 1, u]);
    let saved = Arc::new(saved);
    let has_rb = rb.is_some();
    Ok(y.record(GRU, &inputs, move |dy| {
        let (dxk, drk, drb, dh0) = with_values(GRU, dy, |dy: &[T]| {
            gru_backward(dy, &rk, has_rb, &saved, mask.as_deref(), zero_output, dims)
        })??;
        let mut grads = vec![
            Some(Tensor::from_cpu(T::wrap(dxk), &[b, t, 3 * u])),
            Some(Tensor::from_cpu(T::wrap(drk), &[u, 3 * u])),
            Some(Tensor::from_cpu(T::wrap(dh0), &[b, u])),
        ];
        if has_rb {
            grads.push(Some(Tensor::from_cpu(T::wrap(drb), &[3 * u])));
        }
        Ok(grads)
    }))
}

#[cfg(test)]
mod tests {
    use crate::testing::{assert_close, check_grad, randn};
    use crate::Tensor;
    use keras_backend::DType;

    /// The LSTM step by step with tensor ops, as the unrolled layer computes it.
    fn unrolled_lstm(
        xk: &Tensor,
        rk: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
        mask: Option<&Tensor>,
    ) -> Vec<Tensor> {
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
    fn lstm_matches_the_unrolled_ops() {
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
            let want = unrolled_lstm(&xk, &rk, &h0, &c0, m);
            for (got, want) in [hs, h, c].iter().zip(&want) {
                assert_close(&format!("mask {}", m.is_some()), got, want, 0.0, 1e-5);
            }
        }
    }

    #[test]
    fn lstm_gradients_match_finite_differences() {
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

    /// The GRU (reset_after) step by step with tensor ops, as the unrolled layer computes it.
    fn unrolled_gru(
        xk: &Tensor,
        rk: &Tensor,
        rb: &Tensor,
        h0: &Tensor,
        mask: Option<&Tensor>,
    ) -> Vec<Tensor> {
        let (t, u) = (xk.shape()[1], rk.shape()[0]);
        let mut h = h0.clone();
        let mut outs = Vec::new();
        for s in 0..t {
            let x = xk.narrow(1, s, 1).unwrap().squeeze(&[1]).unwrap();
            let xg = x.split(&[u, u, u], 1).unwrap();
            let m = h.matmul(rk).unwrap().add(rb).unwrap();
            let mg = m.split(&[u, u, u], 1).unwrap();
            let z = xg[0].add(&mg[0]).unwrap().sigmoid().unwrap();
            let r = xg[1].add(&mg[1]).unwrap().sigmoid().unwrap();
            let hh = xg[2].add(&r.mul(&mg[2]).unwrap()).unwrap().tanh().unwrap();
            let one_minus_z = z.neg().unwrap().add_scalar(1.0).unwrap();
            let h2 = z.mul(&h).unwrap().add(&one_minus_z.mul(&hh).unwrap()).unwrap();
            h = match mask {
                Some(m) => Tensor::where_cond(&m.narrow(1, s, 1).unwrap(), &h2, &h).unwrap(),
                None => h2,
            };
            outs.push(h.clone());
        }
        vec![Tensor::stack(&outs.iter().collect::<Vec<_>>(), 1).unwrap(), h]
    }

    #[test]
    fn gru_matches_the_unrolled_ops() {
        let (b, t, u) = (3, 5, 4);
        let f32 = |t: Tensor| t.cast(DType::F32).unwrap();
        let xk = f32(randn(&[b, t, 3 * u], 11));
        let rk = f32(randn(&[u, 3 * u], 12));
        let rb = f32(randn(&[3 * u], 13));
        let h0 = f32(randn(&[b, u], 14));
        let mask = Tensor::new(
            &[
                true, true, false, true, true, false, true, true, true, false, true, true, true, true, true,
            ],
            &[b, t],
        )
        .unwrap();
        for m in [None, Some(&mask)] {
            let (hs, h) = xk.gru_sequence(&rk, Some(&rb), &h0, m, false).unwrap();
            let want = unrolled_gru(&xk, &rk, &rb, &h0, m);
            for (got, want) in [hs, h].iter().zip(&want) {
                assert_close(&format!("GRU mask {}", m.is_some()), got, want, 0.0, 1e-5);
            }
        }
    }

    #[test]
    fn gru_gradients_match_finite_differences() {
        let (b, t, u) = (2, 4, 3);
        let xk = randn(&[b, t, 3 * u], 15);
        let rk = randn(&[u, 3 * u], 16);
        let h0 = randn(&[b, u], 17);
        let rb = randn(&[3 * u], 18);
        let mask = Tensor::new(&[true, false, true, true, false, true, true, false], &[b, t]).unwrap();
        for (name, m, zero) in [
            ("plain", None, false),
            ("masked", Some(&mask), false),
            ("zeros", Some(&mask), true),
        ] {
            check_grad(&format!("gru_sequence {name}"), &[&xk, &rk, &h0, &rb], |v| {
                let (hs, h) = v[0].gru_sequence(&v[1], Some(&v[3]), &v[2], m, zero)?;
                hs.sum(&[1], false)?.add(&h.square()?)
            });
            check_grad(&format!("gru_sequence {name} no bias"), &[&xk, &rk, &h0], |v| {
                Ok(v[0].gru_sequence(&v[1], None, &v[2], m, zero)?.0)
            });
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
