//! `GRU`: the gated recurrent unit layer, with Keras 3's gate formulas (both `reset_after`
//! conventions).

use super::rnn_common::{rnn_builders, rnn_layer_common, RnnCore, SequenceFn};
use super::{field, Layer, Shape};
use crate::activations::Activation;
use crate::Variable;
use keras_tensor::{DType, Device, Result, Tensor};
use serde_json::{json, Value};

/// Gated recurrent unit, as `keras.layers.GRU`.
///
/// Input `(batch, timesteps, features)`. The kernels hold three blocks of `units` in Keras's
/// gate order z (update), r (reset), h (candidate). Per step, with `x_z, x_r, x_h` the blocks
/// of `x_t @ kernel + b_in`, σ the `recurrent_activation` (sigmoid) and tanh the `activation`:
///
/// - `reset_after = true` (the default, cuDNN's convention): with `m_z, m_r, m_h` the blocks
///   of `h @ recurrent_kernel + b_rec`, `z = σ(x_z + m_z)`, `r = σ(x_r + m_r)`,
///   `ĥ = tanh(x_h + r * m_h)`; `bias` is `(2, 3·units)`, rows `b_in` and `b_rec`.
/// - `reset_after = false`: `z = σ(x_z + h @ U_z)`, `r = σ(x_r + h @ U_r)`,
///   `ĥ = tanh(x_h + (r * h) @ U_h)` (`U_*` the blocks of `recurrent_kernel`); `bias` is
///   `(3·units)`, all of it `b_in`.
///
/// then `h = z * h + (1 - z) * ĥ`, from `h = 0`. The output is the last `h` (`(batch,
/// units)`), or every `h` with `return_sequences` (`(batch, timesteps, units)`);
/// `return_state` adds the final `h` as a second output. `go_backwards` reads the sequence
/// from the end. `dropout` / `recurrent_dropout` drop input / recurrent units with one mask
/// per sequence (shared by the three gates), while training. The weights live in the cell, as
/// Keras saves them: `kernel (features, 3·units)`, `recurrent_kernel (units, 3·units)`,
/// `bias`.
///
/// With an input mask (from `Embedding(mask_zero)` or `Masking`), a masked step leaves the
/// states unchanged and outputs the previous `h` (zeros with `zero_output_for_mask`), as
/// Keras does; the output keeps the mask with `return_sequences`.
///
/// With the defaults (tanh, sigmoid, `reset_after`) the time loop runs on the CPU as one op
/// with a hand-written gradient, [`Tensor::gru_sequence`] (as Keras picks cuDNN's fused
/// kernel for them); other settings and recurrent dropout while training run step by step.
///
/// With [`GRU::stateful`], the final states (h) of a call, masked steps kept, are the
/// initial states of the next call (Keras's `stateful=True`); the batch size must then be
/// fixed, and [`Layer::reset_state`] sets the states back to zeros.
///
/// ```
/// use keras::layers::{Layer, GRU};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut l = GRU::new(4).return_sequences(true);
/// l.build(&[None, Some(5), Some(3)])?;
/// assert_eq!(l.count_params(), 3 * 12 + 4 * 12 + 2 * 12);
/// let x = Tensor::ones(&[2, 5, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(l.call(&x, false)?.shape(), &[2, 5, 4]);
///
/// let mut v1 = GRU::new(4).reset_after(false);
/// v1.build(&[None, Some(5), Some(3)])?;
/// assert_eq!(v1.count_params(), 3 * 12 + 4 * 12 + 12);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct GRU {
    core: RnnCore,
    activation: Activation,
    recurrent_activation: Activation,
    reset_after: bool,
}

rnn_builders!(GRU);

impl GRU {
    /// `units` hidden units with Keras's defaults: tanh / sigmoid, `reset_after`, bias,
    /// `glorot_uniform` kernel, `orthogonal` recurrent kernel, `zeros` bias.
    pub fn new(units: usize) -> GRU {
        GRU {
            core: RnnCore::new("GRU", "gru", units, 1),
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            reset_after: true,
        }
    }

    /// Applies the reset gate after the recurrent product (`true`, the default: separate input
    /// and recurrent biases) or before it (`false`: the original GRU, one bias).
    pub fn reset_after(mut self, v: bool) -> GRU {
        self.reset_after = v;
        self
    }
    /// Sets the candidate activation by Keras name (`tanh` by default).
    ///
    /// # Errors
    /// For an unknown name.
    pub fn activation(mut self, name: &str) -> Result<GRU> {
        self.activation = Activation::get(name)?;
        Ok(self)
    }
    /// Sets the gate activation by Keras name (`sigmoid` by default).
    ///
    /// # Errors
    /// For an unknown name.
    pub fn recurrent_activation(mut self, name: &str) -> Result<GRU> {
        self.recurrent_activation = Activation::get(name)?;
        Ok(self)
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For unknown names or a bad rate.
    pub fn from_config(c: &Value) -> Result<GRU> {
        Ok(GRU {
            core: RnnCore::from_config("GRU", "gru", 1, c)?,
            activation: Activation::get(&field::<String>(c, "activation", "tanh".into())?)?,
            recurrent_activation: Activation::get(&field::<String>(
                c,
                "recurrent_activation",
                "sigmoid".into(),
            )?)?,
            reset_after: field(c, "reset_after", true)?,
        })
    }

    /// The sequence output, then the final `h`.
    fn run(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<(Tensor, Vec<Tensor>)> {
        let (k, rk, bias) = self.core.weight_values()?;
        self.run_with(x, mask, &k, &rk, bias.as_ref(), training)
    }

    /// [`GRU::run`] with the weights given as tensors.
    fn run_with(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        k: &Tensor,
        rk: &Tensor,
        bias: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let u = self.core.units;
        let row = |b: &Tensor, i: usize| b.narrow(0, i, 1)?.reshape(&[(3 * u) as isize]);
        let (input_bias, recurrent_bias) = match bias {
            Some(b) if self.reset_after => (Some(row(b, 0)?), Some(row(b, 1)?)),
            Some(b) => (Some(b.clone()), None),
            None => (None, None),
        };
        // reset_after = false multiplies r * h by the candidate block on its own.
        let (rk_zr, rk_h) = if self.reset_after {
            (rk.clone(), None)
        } else {
            (rk.narrow(1, 0, 2 * u)?, Some(rk.narrow(1, 2 * u, u)?))
        };
        let (act, rec_act) = (self.activation, self.recurrent_activation);
        let blocks = if self.reset_after { 3 } else { 2 };
        // Keras's defaults run as one fused op (as Keras picks cuDNN's kernel for them).
        let fused = self.reset_after
            && act == Activation::Tanh
            && rec_act == Activation::Sigmoid
            && x.device() == &Device::Cpu;
        let zero_output = self.core.zero_output_for_mask;
        let sequence = |xk: &Tensor, states: &[Tensor], mask: Option<&Tensor>| {
            let (hs, h) = xk.gru_sequence(rk, recurrent_bias.as_ref(), &states[0], mask, zero_output)?;
            Ok((hs, vec![h]))
        };
        let sequence: Option<&SequenceFn> = if fused { Some(&sequence) } else { None };
        self.core.run(
            x,
            mask,
            k,
            input_bias.as_ref(),
            training,
            sequence,
            |xk, h_in, states| {
                let xg = xk.split(&[u, u, u], 1)?;
                let mut inner = h_in.matmul(&rk_zr)?;
                if let Some(b) = &recurrent_bias {
                    inner = inner.add(b)?;
                }
                let m = inner.split(&[u, u, u][..blocks], 1)?;
                let z = rec_act.apply(&xg[0].add(&m[0])?)?;
                let r = rec_act.apply(&xg[1].add(&m[1])?)?;
                let rec_h = match &rk_h {
                    None => r.mul(&m[2])?,
                    Some(rk_h) => r.mul(h_in)?.matmul(rk_h)?,
                };
                let hh = act.apply(&xg[2].add(&rec_h)?)?;
                let h = &states[0];
                Ok(vec![z.mul(h)?.add(&z.neg()?.add_scalar(1.0)?.mul(&hh)?)?])
            },
        )
    }
}

impl Layer for GRU {
    rnn_layer_common!("GRU");
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let u = self.core.units;
        let shape = if self.reset_after {
            vec![2, 3 * u]
        } else {
            vec![3 * u]
        };
        self.core
            .build(input_shape, 3, |init| init.sample(&shape, DType::F32))
    }
    fn get_config(&self) -> Value {
        let mut m = self.core.config();
        m.insert("activation".into(), json!(self.activation.name()));
        m.insert(
            "recurrent_activation".into(),
            json!(self.recurrent_activation.name()),
        );
        m.insert("reset_after".into(), json!(self.reset_after));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::rnn_common::testing::check_stateful_step_gradients;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::check_grad;
    use keras_tensor::Device;

    #[test]
    fn gru_passes_the_layer_harness() {
        run_layer_test(Box::new(GRU::new(3)), &[4, 2], 3);
        run_layer_test(
            Box::new(
                GRU::new(2)
                    .return_sequences(true)
                    .go_backwards(true)
                    .reset_after(false),
            ),
            &[3, 4],
            3,
        );
        run_layer_test(
            Box::new(
                GRU::new(2)
                    .use_bias(false)
                    .dropout(0.2)
                    .unwrap()
                    .recurrent_dropout(0.3)
                    .unwrap(),
            ),
            &[3, 4],
            2,
        );
        run_layer_test(
            Box::new(GRU::new(2).use_bias(false).reset_after(false)),
            &[3, 4],
            2,
        );
    }

    #[test]
    fn bias_shapes_follow_reset_after() {
        for (reset_after, shape) in [(true, vec![2, 12]), (false, vec![12])] {
            let mut l = GRU::new(4).reset_after(reset_after);
            l.build(&[None, Some(3), Some(5)]).unwrap();
            let w = l.weights();
            assert_eq!(w[0].value().shape(), &[5, 12]);
            assert_eq!(w[1].value().shape(), &[4, 12]);
            assert_eq!(w[2].value().shape(), &shape[..]);
        }
    }

    #[test]
    fn gradients_through_time_match_finite_differences() {
        let cpu = Device::Cpu;
        // Keras's defaults run as the fused op; reset_after = false and other activations
        // step by step.
        for (reset_after, backwards, activation) in [
            (true, false, "tanh"),
            (false, true, "tanh"),
            (true, true, "sigmoid"),
        ] {
            let mut l = GRU::new(3)
                .return_sequences(true)
                .go_backwards(backwards)
                .reset_after(reset_after)
                .activation(activation)
                .unwrap();
            l.build(&[None, Some(4), Some(2)]).unwrap();
            let x = Tensor::random_normal(&[2, 4, 2], 0.0, 1.0, 5, DType::F64, &cpu).unwrap();
            let (k, rk, b) = l.core.weight_values().unwrap();
            let k = k.cast(DType::F64).unwrap();
            let rk = rk.cast(DType::F64).unwrap();
            // A non-zero bias, so that both of its rows matter.
            let b = b.unwrap();
            let b = Tensor::random_normal(b.shape(), 0.0, 0.5, 7, DType::F64, &cpu).unwrap();
            let f = |xs: &[Tensor]| -> Result<Tensor> {
                l.run_with(&xs[0], None, &xs[1], &xs[2], Some(&xs[3]), false)?
                    .0
                    .square()?
                    .sum_all()
            };
            check_grad("GRU", &[&x, &k, &rk, &b], f);
        }
    }

    #[test]
    fn config_round_trips_with_stateful() {
        let l = GRU::new(5)
            .return_sequences(true)
            .return_state(true)
            .reset_after(false)
            .dropout(0.1)
            .unwrap()
            .name("enc");
        let c = l.get_config();
        assert_eq!(c["reset_after"], json!(false));
        let back = GRU::from_config(&c).unwrap();
        assert_eq!(back.get_config(), c);
        assert_eq!(c["stateful"], json!(false));
        let mut st = c.clone();
        st["stateful"] = json!(true);
        let back = GRU::from_config(&st).unwrap();
        assert!(back.core.stateful);
        assert_eq!(back.get_config(), st);
    }

    #[test]
    fn gradients_through_a_stateful_step_match_finite_differences() {
        check_stateful_step_gradients(
            "stateful GRU",
            4,
            |backwards, sequences| {
                GRU::new(3)
                    .stateful(true)
                    .return_sequences(sequences)
                    .go_backwards(backwards)
            },
            |l| &l.core,
            &|l: &GRU, x, m, k, rk, b| l.run_with(x, m, k, rk, b, false),
        );
    }
}
