//! `LSTM`: the long short-term memory recurrent layer, with Keras's gate formulas.

use super::rnn_common::{rnn_builders, rnn_layer_common, RnnCore, SequenceFn};
use super::{field, Layer, Shape};
use crate::activations::Activation;
use crate::Variable;
use keras_tensor::{DType, Device, Result, Tensor};
use serde_json::{json, Value};

/// Long short-term memory, as `keras.layers.LSTM`.
///
/// Input `(batch, timesteps, features)`. Per step, with `z = x_t @ kernel + h @
/// recurrent_kernel + bias` split into four blocks of `units` (Keras's gate order i, f, c, o):
/// `i = σ(z_i)`, `f = σ(z_f)`, `c = f * c + i * tanh(z_c)`, `o = σ(z_o)`, `h = o * tanh(c)`
/// (σ is `recurrent_activation`, tanh is `activation`). The output is the last `h`
/// (`(batch, units)`), or every `h` with `return_sequences` (`(batch, timesteps, units)`);
/// `return_state` adds the final `h` and `c` as two more outputs. `go_backwards` reads the
/// sequence from the end. `dropout` / `recurrent_dropout` drop input / recurrent units with
/// one mask per sequence, while training. The weights live in the cell, as Keras saves them:
/// `kernel (features, 4·units)`, `recurrent_kernel (units, 4·units)`, `bias (4·units)`.
///
/// With an input mask (from `Embedding(mask_zero)` or `Masking`), a masked step leaves the
/// states unchanged and outputs the previous `h` (zeros with `zero_output_for_mask`), as
/// Keras does; the output keeps the mask with `return_sequences`.
///
/// With the default activations (tanh, sigmoid) the time loop runs on the CPU as one op with
/// a hand-written gradient, [`Tensor::lstm_sequence`] (as Keras picks cuDNN's fused kernel
/// for them); other activations and recurrent dropout while training run step by step.
///
/// With [`LSTM::stateful`], the final states (h and c) of a call, masked steps kept, are the
/// initial states of the next call (Keras's `stateful=True`); the batch size must then be
/// fixed, and [`Layer::reset_state`] sets the states back to zeros.
///
/// ```
/// use keras::layers::{Layer, LSTM};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut l = LSTM::new(4).return_sequences(true);
/// l.build(&[None, Some(5), Some(3)])?;
/// assert_eq!(l.count_params(), 3 * 16 + 4 * 16 + 16);
/// let x = Tensor::ones(&[2, 5, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(l.call(&x, false)?.shape(), &[2, 5, 4]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct LSTM {
    core: RnnCore,
    activation: Activation,
    recurrent_activation: Activation,
    unit_forget_bias: bool,
}

rnn_builders!(LSTM);

impl LSTM {
    /// `units` hidden units with Keras's defaults: tanh / sigmoid, bias with
    /// `unit_forget_bias`, `glorot_uniform` kernel, `orthogonal` recurrent kernel.
    pub fn new(units: usize) -> LSTM {
        LSTM {
            core: RnnCore::new("LSTM", "lstm", units, 2),
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            unit_forget_bias: true,
        }
    }

    /// Sets the output activation by Keras name (`tanh` by default).
    ///
    /// # Errors
    /// For an unknown name.
    pub fn activation(mut self, name: &str) -> Result<LSTM> {
        self.activation = Activation::get(name)?;
        Ok(self)
    }
    /// Sets the gate activation by Keras name (`sigmoid` by default).
    ///
    /// # Errors
    /// For an unknown name.
    pub fn recurrent_activation(mut self, name: &str) -> Result<LSTM> {
        self.recurrent_activation = Activation::get(name)?;
        Ok(self)
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For unknown names or a bad rate.
    pub fn from_config(c: &Value) -> Result<LSTM> {
        Ok(LSTM {
            core: RnnCore::from_config("LSTM", "lstm", 2, c)?,
            activation: Activation::get(&field::<String>(c, "activation", "tanh".into())?)?,
            recurrent_activation: Activation::get(&field::<String>(
                c,
                "recurrent_activation",
                "sigmoid".into(),
            )?)?,
            unit_forget_bias: field(c, "unit_forget_bias", true)?,
        })
    }

    /// The sequence output, then the final `h` and `c`.
    fn run(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<(Tensor, Vec<Tensor>)> {
        let (k, rk, bias) = self.core.weight_values()?;
        self.run_with(x, mask, &k, &rk, bias.as_ref(), training)
    }

    /// [`LSTM::run`] with the weights given as tensors.
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
        // Keras's defaults run as one fused op (as Keras picks cuDNN's kernel for them).
        let fused = self.activation == Activation::Tanh
            && self.recurrent_activation == Activation::Sigmoid
            && x.device() == &Device::Cpu;
        let zero_output = self.core.zero_output_for_mask;
        let sequence = |xk: &Tensor, states: &[Tensor], mask: Option<&Tensor>| {
            let (hs, h, c) = xk.lstm_sequence(rk, &states[0], &states[1], mask, zero_output)?;
            Ok((hs, vec![h, c]))
        };
        let sequence: Option<&SequenceFn> = if fused { Some(&sequence) } else { None };
        self.core
            .run(x, mask, k, bias, training, sequence, |xk, h_in, states| {
                let z = xk.add(&h_in.matmul(rk)?)?;
                let g = z.split(&[u, u, u, u], 1)?;
                let i = self.recurrent_activation.apply(&g[0])?;
                let f = self.recurrent_activation.apply(&g[1])?;
                let c = f.mul(&states[1])?.add(&i.mul(&self.activation.apply(&g[2])?)?)?;
                let o = self.recurrent_activation.apply(&g[3])?;
                let h = o.mul(&self.activation.apply(&c)?)?;
                Ok(vec![h, c])
            })
    }
}

impl Layer for LSTM {
    rnn_layer_common!("LSTM");
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let (u, unit_forget_bias) = (self.core.units, self.unit_forget_bias);
        self.core.build(input_shape, 4, |init| {
            if unit_forget_bias {
                let part = |n: usize| init.sample(&[n], DType::F32);
                Tensor::concat(
                    &[
                        &part(u)?,
                        &Tensor::ones(&[u], DType::F32, &Device::Cpu)?,
                        &part(2 * u)?,
                    ],
                    0,
                )
            } else {
                init.sample(&[4 * u], DType::F32)
            }
        })
    }
    fn get_config(&self) -> Value {
        let mut m = self.core.config();
        m.insert("activation".into(), json!(self.activation.name()));
        m.insert(
            "recurrent_activation".into(),
            json!(self.recurrent_activation.name()),
        );
        m.insert("unit_forget_bias".into(), json!(self.unit_forget_bias));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::rnn_common::testing::check_stateful_step_gradients;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::check_grad;

    #[test]
    fn lstm_passes_the_layer_harness() {
        run_layer_test(Box::new(LSTM::new(3)), &[4, 2], 3);
        run_layer_test(
            Box::new(LSTM::new(2).return_sequences(true).go_backwards(true)),
            &[3, 4],
            3,
        );
        run_layer_test(
            Box::new(LSTM::new(2).use_bias(false).dropout(0.2).unwrap()),
            &[3, 4],
            2,
        );
    }

    #[test]
    fn gradients_through_time_match_finite_differences() {
        // tanh / sigmoid run as the fused op, other activations step by step.
        let fused = LSTM::new(3).return_sequences(true);
        let unrolled = LSTM::new(3).return_sequences(true).activation("sigmoid").unwrap();
        for l in [fused, unrolled] {
            check_lstm_gradients(l);
        }
    }

    fn check_lstm_gradients(mut l: LSTM) {
        l.build(&[None, Some(4), Some(2)]).unwrap();
        let cpu = keras_tensor::Device::Cpu;
        let x = Tensor::random_normal(&[2, 4, 2], 0.0, 1.0, 5, DType::F64, &cpu).unwrap();
        let k = l.core.kernel.as_ref().unwrap().value().cast(DType::F64).unwrap();
        let rk = l
            .core
            .recurrent_kernel
            .as_ref()
            .unwrap()
            .value()
            .cast(DType::F64)
            .unwrap();
        let b = l.core.bias.as_ref().unwrap().value().cast(DType::F64).unwrap();
        // The whole unrolled sequence, on float64 copies of the weights, with respect to the
        // input and all three weights.
        let f = |xs: &[Tensor]| -> Result<Tensor> {
            l.run_with(&xs[0], None, &xs[1], &xs[2], Some(&xs[3]), false)?
                .0
                .square()?
                .sum_all()
        };
        check_grad("LSTM", &[&x, &k, &rk, &b], f);
    }

    #[test]
    fn masked_gradients_through_time_match_finite_differences() {
        let cpu = keras_tensor::Device::Cpu;
        // Row 0: trailing padding; row 1: leading padding and a hole.
        let mask = Tensor::new(
            &[true, true, true, false, false, false, false, true, false, true],
            &[2, 5],
        )
        .unwrap();
        for (backwards, sequences, zero_output) in [
            (false, true, false),
            (false, false, false),
            (true, true, false),
            (true, false, false),
            (false, true, true),
        ] {
            let mut l = LSTM::new(3)
                .return_sequences(sequences)
                .go_backwards(backwards)
                .zero_output_for_mask(zero_output);
            l.build(&[None, Some(5), Some(2)]).unwrap();
            let x = Tensor::random_normal(&[2, 5, 2], 0.0, 1.0, 7, DType::F64, &cpu).unwrap();
            let w = |v: &Option<Variable>| v.as_ref().unwrap().value().cast(DType::F64).unwrap();
            let (k, rk, b) = (w(&l.core.kernel), w(&l.core.recurrent_kernel), w(&l.core.bias));
            let f = |xs: &[Tensor]| -> Result<Tensor> {
                l.run_with(&xs[0], Some(&mask), &xs[1], &xs[2], Some(&xs[3]), false)?
                    .0
                    .square()?
                    .sum_all()
            };
            check_grad("masked LSTM", &[&x, &k, &rk, &b], f);
        }
    }

    #[test]
    fn masked_steps_are_skipped() {
        // Padding before or after a sequence gives the last output of the sequence alone.
        let mut l = LSTM::new(3);
        l.build(&[None, None, Some(2)]).unwrap();
        let cpu = keras_tensor::Device::Cpu;
        let core = Tensor::random_normal(&[1, 3, 2], 0.0, 1.0, 3, DType::F32, &cpu).unwrap();
        let alone = l.call(&core, false).unwrap().to_vec::<f32>().unwrap();
        let pad = Tensor::full(9.0, &[1, 2, 2], DType::F32, &cpu).unwrap();
        for (x, m) in [
            (
                Tensor::concat(&[&core, &pad], 1).unwrap(),
                [true, true, true, false, false],
            ),
            (
                Tensor::concat(&[&pad, &core], 1).unwrap(),
                [false, false, true, true, true],
            ),
        ] {
            let m = Tensor::new(&m, &[1, 5]).unwrap();
            let y = l
                .call_masked(&x, Some(&m), false)
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            for (a, b) in y.iter().zip(&alone) {
                assert!((a - b).abs() < 1e-6, "{y:?} vs {alone:?}");
            }
        }
        // With return_sequences the masked steps repeat the previous output (zeros before the
        // first valid step), and the mask passes on; without, it stops.
        let mut s = LSTM::new(3).return_sequences(true);
        s.build(&[None, None, Some(2)]).unwrap();
        let x = Tensor::concat(&[&pad, &core, &pad], 1).unwrap();
        let m = Tensor::new(&[false, false, true, true, true, false, false], &[1, 7]).unwrap();
        let y = s
            .call_masked(&x, Some(&m), false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(y[..6].iter().all(|&v| v == 0.0));
        assert_eq!(&y[12..15], &y[15..18]);
        assert_eq!(&y[15..18], &y[18..21]);
        assert!(s.compute_mask(&x, Some(&m)).unwrap().is_some());
        assert!(l.compute_mask(&x, Some(&m)).unwrap().is_none());
    }

    #[test]
    fn config_round_trips_with_stateful() {
        let l = LSTM::new(5)
            .return_sequences(true)
            .dropout(0.1)
            .unwrap()
            .name("enc");
        let c = l.get_config();
        let back = LSTM::from_config(&c).unwrap();
        assert_eq!(back.get_config(), c);
        assert_eq!(c["stateful"], json!(false));
        let mut st = c.clone();
        st["stateful"] = json!(true);
        let back = LSTM::from_config(&st).unwrap();
        assert!(back.core.stateful);
        assert_eq!(back.get_config(), st);
    }

    #[test]
    fn gradients_through_a_stateful_step_match_finite_differences() {
        check_stateful_step_gradients(
            "stateful LSTM",
            3,
            |backwards, sequences| {
                LSTM::new(3)
                    .stateful(true)
                    .return_sequences(sequences)
                    .go_backwards(backwards)
            },
            |l| &l.core,
            &|l: &LSTM, x, m, k, rk, b| l.run_with(x, m, k, rk, b, false),
        );
    }
}
