//! `LSTM`: the long short-term memory recurrent layer, with Keras's gate formulas.

use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape, WeightRules};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::random::next_seed;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
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
/// Not implemented (refused by `from_config`): `stateful`, and masking.
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
    name: String,
    units: usize,
    activation: Activation,
    recurrent_activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    recurrent_initializer: Initializer,
    bias_initializer: Initializer,
    unit_forget_bias: bool,
    kernel_rules: WeightRules,
    recurrent_rules: WeightRules,
    bias_rules: WeightRules,
    activity_regularizer: Option<Regularizer>,
    dropout: f64,
    recurrent_dropout: f64,
    seed: Option<u64>,
    return_sequences: bool,
    return_state: bool,
    go_backwards: bool,
    trainable: bool,
    input_shape: Option<Shape>,
    kernel: Option<Variable>,
    recurrent_kernel: Option<Variable>,
    bias: Option<Variable>,
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument { op: "LSTM", msg }
}

impl LSTM {
    /// `units` hidden units with Keras's defaults: tanh / sigmoid, bias with
    /// `unit_forget_bias`, `glorot_uniform` kernel, `orthogonal` recurrent kernel.
    pub fn new(units: usize) -> LSTM {
        LSTM {
            name: unique_name("lstm"),
            units,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            use_bias: true,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::Zeros,
            unit_forget_bias: true,
            kernel_rules: WeightRules::default(),
            recurrent_rules: WeightRules::default(),
            bias_rules: WeightRules::default(),
            activity_regularizer: None,
            dropout: 0.0,
            recurrent_dropout: 0.0,
            seed: None,
            return_sequences: false,
            return_state: false,
            go_backwards: false,
            trainable: true,
            input_shape: None,
            kernel: None,
            recurrent_kernel: None,
            bias: None,
        }
    }

    /// Output every step's `h` rather than the last one.
    pub fn return_sequences(mut self, v: bool) -> LSTM {
        self.return_sequences = v;
        self
    }
    /// Also output the final `h` and `c` (use the layer in a functional model).
    pub fn return_state(mut self, v: bool) -> LSTM {
        self.return_state = v;
        self
    }
    /// Process the sequence from its last step to its first.
    pub fn go_backwards(mut self, v: bool) -> LSTM {
        self.go_backwards = v;
        self
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
    /// With or without bias.
    pub fn use_bias(mut self, v: bool) -> LSTM {
        self.use_bias = v;
        self
    }
    /// Fraction of input units dropped while training (one mask per sequence).
    ///
    /// # Errors
    /// Outside `[0, 1)`.
    pub fn dropout(mut self, rate: f64) -> Result<LSTM> {
        self.dropout = check_rate(rate)?;
        Ok(self)
    }
    /// Fraction of recurrent units dropped while training (one mask per sequence).
    ///
    /// # Errors
    /// Outside `[0, 1)`.
    pub fn recurrent_dropout(mut self, rate: f64) -> Result<LSTM> {
        self.recurrent_dropout = check_rate(rate)?;
        Ok(self)
    }
    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> LSTM {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For unknown names, a bad rate, or `stateful = true` (not implemented).
    pub fn from_config(c: &Value) -> Result<LSTM> {
        let units: usize = field(c, "units", 0)?;
        if units == 0 {
            return Err(invalid("units must be >= 1".into()));
        }
        if field(c, "stateful", false)? {
            return Err(invalid("stateful = true is not supported".into()));
        }
        let mut l = LSTM::new(units)
            .return_sequences(field(c, "return_sequences", false)?)
            .return_state(field(c, "return_state", false)?)
            .go_backwards(field(c, "go_backwards", false)?)
            .use_bias(field(c, "use_bias", true)?)
            .dropout(field(c, "dropout", 0.0)?)?
            .recurrent_dropout(field(c, "recurrent_dropout", 0.0)?)?;
        l.name = config_name(c, "lstm")?;
        l.trainable = field(c, "trainable", true)?;
        l.activation = Activation::get(&field::<String>(c, "activation", "tanh".into())?)?;
        l.recurrent_activation =
            Activation::get(&field::<String>(c, "recurrent_activation", "sigmoid".into())?)?;
        l.unit_forget_bias = field(c, "unit_forget_bias", true)?;
        l.seed = field(c, "seed", None)?;
        for (key, slot) in [
            ("kernel_initializer", &mut l.kernel_initializer),
            ("recurrent_initializer", &mut l.recurrent_initializer),
            ("bias_initializer", &mut l.bias_initializer),
        ] {
            if let Some(v) = c.get(key) {
                *slot = Initializer::from_config(v)?;
            }
        }
        l.kernel_rules = WeightRules::from_config(c, "kernel")?;
        l.recurrent_rules = WeightRules::from_config(c, "recurrent")?;
        l.bias_rules = WeightRules::from_config(c, "bias")?;
        l.activity_regularizer =
            Regularizer::from_config(c.get("activity_regularizer").unwrap_or(&Value::Null))?;
        Ok(l)
    }

    fn output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        if s.len() != 3 {
            return Err(shape_error(&self.name, "rank 3 (batch, timesteps, features)", s));
        }
        Ok(if self.return_sequences {
            vec![s[0], s[1], Some(self.units)]
        } else {
            vec![s[0], Some(self.units)]
        })
    }

    /// The sequence output, then the final `h` and `c`.
    fn run(&self, x: &Tensor, training: bool) -> Result<(Tensor, Tensor, Tensor)> {
        let (Some(k), Some(rk)) = (&self.kernel, &self.recurrent_kernel) else {
            return Err(invalid(format!("layer {:?} is not built", self.name)));
        };
        let bias = self.bias.as_ref().map(Variable::value);
        self.run_with(x, &k.value(), &rk.value(), bias.as_ref(), training)
    }

    /// [`LSTM::run`] with the weights given as tensors.
    fn run_with(
        &self,
        x: &Tensor,
        k: &Tensor,
        rk: &Tensor,
        bias: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let Some(shape) = &self.input_shape else {
            return Err(invalid(format!("layer {:?} is not built", self.name)));
        };
        if x.rank() != 3 || x.shape()[2] != shape[2].unwrap_or(0) {
            return Err(invalid(format!(
                "layer {:?} was built for input shape {} but got a tensor of shape {:?}",
                self.name,
                super::fmt_shape(shape),
                x.shape()
            )));
        }
        let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let u = self.units;
        if t == 0 {
            return Err(invalid(format!(
                "layer {:?} got a sequence with 0 timesteps",
                self.name
            )));
        }
        let mut x = if self.go_backwards {
            x.flip(&[1])?
        } else {
            x.clone()
        };
        if training && self.dropout > 0.0 {
            let keep = Tensor::bernoulli(&[b, 1, f], 1.0 - self.dropout, next_seed(), x.dtype(), x.device())?;
            x = x.mul(&keep.div_scalar(1.0 - self.dropout)?)?;
        }
        let rec_mask = if training && self.recurrent_dropout > 0.0 {
            let keep = Tensor::bernoulli(
                &[b, u],
                1.0 - self.recurrent_dropout,
                next_seed(),
                x.dtype(),
                x.device(),
            )?;
            Some(keep.div_scalar(1.0 - self.recurrent_dropout)?)
        } else {
            None
        };
        // The input projection of every step in one product: (b·t, f) @ (f, 4u).
        let mut xk = x.reshape(&[(b * t) as isize, f as isize])?.matmul(k)?;
        if let Some(bias) = bias {
            xk = xk.add(bias)?;
        }
        let xk = xk.reshape(&[b as isize, t as isize, (4 * u) as isize])?;
        let mut h = Tensor::zeros(&[b, u], x.dtype(), x.device())?;
        let mut c = h.clone();
        let mut hs = Vec::with_capacity(if self.return_sequences { t } else { 0 });
        for step in 0..t {
            let h_in = match &rec_mask {
                Some(m) => h.mul(m)?,
                None => h.clone(),
            };
            let z = xk
                .narrow(1, step, 1)?
                .reshape(&[b as isize, (4 * u) as isize])?
                .add(&h_in.matmul(rk)?)?;
            let g = z.split(&[u, u, u, u], 1)?;
            let i = self.recurrent_activation.apply(&g[0])?;
            let fg = self.recurrent_activation.apply(&g[1])?;
            c = fg.mul(&c)?.add(&i.mul(&self.activation.apply(&g[2])?)?)?;
            let o = self.recurrent_activation.apply(&g[3])?;
            h = o.mul(&self.activation.apply(&c)?)?;
            if self.return_sequences {
                hs.push(h.clone());
            }
        }
        let out = if self.return_sequences {
            Tensor::stack(&hs.iter().collect::<Vec<_>>(), 1)?
        } else {
            h.clone()
        };
        super::activity_loss(self.activity_regularizer, &out)?;
        Ok((out, h, c))
    }
}

fn check_rate(rate: f64) -> Result<f64> {
    if (0.0..1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(invalid(format!("dropout rates must be in [0, 1), got {rate}")))
    }
}

impl Layer for LSTM {
    super::layer_common!("LSTM");
    fn built(&self) -> bool {
        self.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.output_shape(input_shape)?;
        let Some(f) = input_shape[2] else {
            return Err(shape_error(&self.name, "a known feature dimension", input_shape));
        };
        let u = self.units;
        self.kernel = Some(self.kernel_rules.attach(Variable::new(
            "kernel",
            self.kernel_initializer.sample(&[f, 4 * u], DType::F32)?,
            true,
        )));
        self.recurrent_kernel = Some(self.recurrent_rules.attach(Variable::new(
            "recurrent_kernel",
            self.recurrent_initializer.sample(&[u, 4 * u], DType::F32)?,
            true,
        )));
        if self.use_bias {
            let init = if self.unit_forget_bias {
                let part = |n: usize| self.bias_initializer.sample(&[n], DType::F32);
                Tensor::concat(
                    &[
                        &part(u)?,
                        &Tensor::ones(&[u], DType::F32, &keras_tensor::Device::Cpu)?,
                        &part(2 * u)?,
                    ],
                    0,
                )?
            } else {
                self.bias_initializer.sample(&[4 * u], DType::F32)?
            };
            self.bias = Some(self.bias_rules.attach(Variable::new("bias", init, true)));
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        self.output_shape(input_shape)
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let [s] = input_shapes else {
            return Err(super::arity_error(&self.name, "1 input", input_shapes.len()));
        };
        let out = self.output_shape(s)?;
        Ok(if self.return_state {
            vec![out, vec![s[0], Some(self.units)], vec![s[0], Some(self.units)]]
        } else {
            vec![out]
        })
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        if self.return_state {
            return Err(invalid(format!(
                "layer {:?} has return_state = true and three outputs: use it in a functional model",
                self.name
            )));
        }
        Ok(self.run(x, training)?.0)
    }
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        let [x] = inputs else {
            return Err(super::arity_error(&self.name, "1 input", inputs.len()));
        };
        let (out, h, c) = self.run(x, training)?;
        Ok(if self.return_state {
            vec![out, h, c]
        } else {
            vec![out]
        })
    }
    fn weights(&self) -> Vec<Variable> {
        [&self.kernel, &self.recurrent_kernel, &self.bias]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
    /// Keras keeps the weights in the layer's `cell` (`layers/lstm/cell/vars`).
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        vec![(String::new(), Vec::new()), ("cell".into(), self.weights())]
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("return_sequences".into(), json!(self.return_sequences));
        m.insert("return_state".into(), json!(self.return_state));
        m.insert("go_backwards".into(), json!(self.go_backwards));
        m.insert("stateful".into(), json!(false));
        m.insert("unroll".into(), json!(false));
        m.insert("zero_output_for_mask".into(), json!(false));
        m.insert("units".into(), json!(self.units));
        m.insert("activation".into(), json!(self.activation.name()));
        m.insert(
            "recurrent_activation".into(),
            json!(self.recurrent_activation.name()),
        );
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        m.insert(
            "recurrent_initializer".into(),
            self.recurrent_initializer.get_config(),
        );
        m.insert("bias_initializer".into(), self.bias_initializer.get_config());
        m.insert("unit_forget_bias".into(), json!(self.unit_forget_bias));
        self.kernel_rules.to_config(&mut m, "kernel");
        self.recurrent_rules.to_config(&mut m, "recurrent");
        self.bias_rules.to_config(&mut m, "bias");
        m.insert(
            "activity_regularizer".into(),
            self.activity_regularizer.map_or(Value::Null, |r| r.to_config()),
        );
        m.insert("dropout".into(), json!(self.dropout));
        m.insert("recurrent_dropout".into(), json!(self.recurrent_dropout));
        m.insert("seed".into(), json!(self.seed));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let mut l = LSTM::new(3).return_sequences(true);
        l.build(&[None, Some(4), Some(2)]).unwrap();
        let cpu = keras_tensor::Device::Cpu;
        let x = Tensor::random_normal(&[2, 4, 2], 0.0, 1.0, 5, DType::F64, &cpu).unwrap();
        let k = l.kernel.as_ref().unwrap().value().cast(DType::F64).unwrap();
        let rk = l
            .recurrent_kernel
            .as_ref()
            .unwrap()
            .value()
            .cast(DType::F64)
            .unwrap();
        let b = l.bias.as_ref().unwrap().value().cast(DType::F64).unwrap();
        // The whole unrolled sequence, on float64 copies of the weights, with respect to the
        // input and all three weights.
        let f = |xs: &[Tensor]| -> Result<Tensor> {
            l.run_with(&xs[0], &xs[1], &xs[2], Some(&xs[3]), false)?
                .0
                .square()?
                .sum_all()
        };
        check_grad("LSTM", &[&x, &k, &rk, &b], f);
    }

    #[test]
    fn config_round_trips_and_refuses_stateful() {
        let l = LSTM::new(5)
            .return_sequences(true)
            .dropout(0.1)
            .unwrap()
            .name("enc");
        let c = l.get_config();
        let back = LSTM::from_config(&c).unwrap();
        assert_eq!(back.get_config(), c);
        let mut bad = c.clone();
        bad["stateful"] = json!(true);
        assert!(LSTM::from_config(&bad)
            .err()
            .unwrap()
            .to_string()
            .contains("stateful"));
    }
}
