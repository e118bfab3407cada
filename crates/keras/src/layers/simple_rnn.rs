//! `SimpleRNN`: the fully connected recurrent layer, with Keras's step formula.

use super::rnn_common::{rnn_builders, rnn_layer_common, RnnCore};
use super::{field, Layer, Shape};
use crate::activations::Activation;
use crate::Variable;
use keras_tensor::{DType, Result, Tensor};
use serde_json::{json, Value};

/// Fully connected recurrent layer, as `keras.layers.SimpleRNN`.
///
/// Input `(batch, timesteps, features)`. Per step `h = activation(x_t @ kernel + h @
/// recurrent_kernel + bias)` (`tanh` by default), starting from `h = 0`. The output is the last
/// `h` (`(batch, units)`), or every `h` with `return_sequences` (`(batch, timesteps, units)`);
/// `return_state` adds the final `h` as a second output. `go_backwards` reads the sequence
/// from the end. `dropout` / `recurrent_dropout` drop input / recurrent units with one mask
/// per sequence, while training. The weights live in the cell, as Keras saves them:
/// `kernel (features, units)`, `recurrent_kernel (units, units)`, `bias (units)`.
///
/// With an input mask (from `Embedding(mask_zero)` or `Masking`), a masked step leaves the
/// states unchanged and outputs the previous `h` (zeros with `zero_output_for_mask`), as
/// Keras does; the output keeps the mask with `return_sequences`.
///
/// With [`SimpleRNN::stateful`], the final states (h) of a call, masked steps kept, are the
/// initial states of the next call (Keras's `stateful=True`); the batch size must then be
/// fixed, and [`Layer::reset_state`] sets the states back to zeros.
///
/// ```
/// use keras::layers::{Layer, SimpleRNN};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut l = SimpleRNN::new(4).return_sequences(true);
/// l.build(&[None, Some(5), Some(3)])?;
/// assert_eq!(l.count_params(), 3 * 4 + 4 * 4 + 4);
/// let x = Tensor::ones(&[2, 5, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(l.call(&x, false)?.shape(), &[2, 5, 4]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct SimpleRNN {
    core: RnnCore,
    activation: Activation,
}

rnn_builders!(SimpleRNN);

impl SimpleRNN {
    /// `units` hidden units with Keras's defaults: tanh, bias, `glorot_uniform` kernel,
    /// `orthogonal` recurrent kernel, `zeros` bias.
    pub fn new(units: usize) -> SimpleRNN {
        SimpleRNN {
            core: RnnCore::new("SimpleRNN", "simple_rnn", units, 1),
            activation: Activation::Tanh,
        }
    }

    /// Sets the activation by Keras name (`tanh` by default).
    ///
    /// # Errors
    /// For an unknown name.
    pub fn activation(mut self, name: &str) -> Result<SimpleRNN> {
        self.activation = Activation::get(name)?;
        Ok(self)
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For unknown names or a bad rate.
    pub fn from_config(c: &Value) -> Result<SimpleRNN> {
        Ok(SimpleRNN {
            core: RnnCore::from_config("SimpleRNN", "simple_rnn", 1, c)?,
            activation: Activation::get(&field::<String>(c, "activation", "tanh".into())?)?,
        })
    }

    /// The sequence output, then the final `h`.
    fn run(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<(Tensor, Vec<Tensor>)> {
        let (k, rk, bias) = self.core.weight_values()?;
        self.run_with(x, mask, &k, &rk, bias.as_ref(), training)
    }

    /// [`SimpleRNN::run`] with the weights given as tensors.
    fn run_with(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        k: &Tensor,
        rk: &Tensor,
        bias: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        self.core.run(x, mask, k, bias, training, None, |xk, h_in, _| {
            Ok(vec![self.activation.apply(&xk.add(&h_in.matmul(rk)?)?)?])
        })
    }
}

impl Layer for SimpleRNN {
    rnn_layer_common!("SimpleRNN");
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let u = self.core.units;
        self.core
            .build(input_shape, 1, |init| init.sample(&[u], DType::F32))
    }
    fn get_config(&self) -> Value {
        let mut m = self.core.config();
        m.insert("activation".into(), json!(self.activation.name()));
        // Keras's SimpleRNN takes a seed but leaves it out of its config.
        m.remove("seed");
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::check_grad;

    #[test]
    fn simple_rnn_passes_the_layer_harness() {
        run_layer_test(Box::new(SimpleRNN::new(3)), &[4, 2], 3);
        run_layer_test(
            Box::new(SimpleRNN::new(2).return_sequences(true).go_backwards(true)),
            &[3, 4],
            3,
        );
        run_layer_test(
            Box::new(
                SimpleRNN::new(2)
                    .use_bias(false)
                    .dropout(0.2)
                    .unwrap()
                    .recurrent_dropout(0.3)
                    .unwrap()
                    .activation("relu")
                    .unwrap(),
            ),
            &[3, 4],
            2,
        );
    }

    #[test]
    fn one_step_is_the_formula() {
        // One timestep from h = 0: h = tanh(x @ kernel + bias).
        let mut l = SimpleRNN::new(3);
        l.build(&[None, Some(1), Some(2)]).unwrap();
        l.core
            .bias
            .as_ref()
            .unwrap()
            .assign(&Tensor::from_vec(vec![0.1f32, -0.2, 0.3], &[3], &keras_tensor::Device::Cpu).unwrap())
            .unwrap();
        let x =
            Tensor::random_normal(&[2, 1, 2], 0.0, 1.0, 1, DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let (k, _, b) = l.core.weight_values().unwrap();
        let want = x
            .reshape(&[2, 2])
            .unwrap()
            .matmul(&k)
            .unwrap()
            .add(&b.unwrap())
            .unwrap()
            .tanh()
            .unwrap();
        let got = l.call(&x, false).unwrap();
        let d = got.sub(&want).unwrap().abs().unwrap().max(&[], false).unwrap();
        assert!(d.to_vec_f64().unwrap()[0] < 1e-6);
    }

    #[test]
    fn gradients_through_time_match_finite_differences() {
        for backwards in [false, true] {
            let mut l = SimpleRNN::new(3).return_sequences(true).go_backwards(backwards);
            l.build(&[None, Some(4), Some(2)]).unwrap();
            let cpu = keras_tensor::Device::Cpu;
            let x = Tensor::random_normal(&[2, 4, 2], 0.0, 1.0, 5, DType::F64, &cpu).unwrap();
            let (k, rk, b) = l.core.weight_values().unwrap();
            let k = k.cast(DType::F64).unwrap();
            let rk = rk.cast(DType::F64).unwrap();
            let b = b.unwrap().add_scalar(0.1).unwrap().cast(DType::F64).unwrap();
            let f = |xs: &[Tensor]| -> Result<Tensor> {
                l.run_with(&xs[0], None, &xs[1], &xs[2], Some(&xs[3]), false)?
                    .0
                    .square()?
                    .sum_all()
            };
            check_grad("SimpleRNN", &[&x, &k, &rk, &b], f);
        }
    }

    #[test]
    fn return_state_gives_the_last_output() {
        let mut l = SimpleRNN::new(2).return_state(true);
        l.build(&[None, Some(3), Some(2)]).unwrap();
        let x =
            Tensor::random_normal(&[2, 3, 2], 0.0, 1.0, 9, DType::F32, &keras_tensor::Device::Cpu).unwrap();
        assert!(l
            .call(&x, false)
            .unwrap_err()
            .to_string()
            .contains("return_state"));
        let ys = l.call_multi(&[x], false).unwrap();
        assert_eq!(ys.len(), 2);
        assert_eq!(ys[0].to_vec_f64().unwrap(), ys[1].to_vec_f64().unwrap());
        assert_eq!(
            l.compute_output_shapes(&[vec![None, Some(3), Some(2)]]).unwrap(),
            vec![vec![None, Some(2)], vec![None, Some(2)]]
        );
    }

    #[test]
    fn config_round_trips_with_stateful() {
        let l = SimpleRNN::new(5)
            .return_sequences(true)
            .recurrent_dropout(0.1)
            .unwrap()
            .name("enc");
        let c = l.get_config();
        assert!(c.get("seed").is_none());
        let back = SimpleRNN::from_config(&c).unwrap();
        assert_eq!(back.get_config(), c);
        assert_eq!(c["stateful"], json!(false));
        let mut st = c.clone();
        st["stateful"] = json!(true);
        let back = SimpleRNN::from_config(&st).unwrap();
        assert!(back.core.stateful);
        assert_eq!(back.get_config(), st);
        assert!(SimpleRNN::new(2).dropout(1.0).is_err());
    }
}
