//! What the recurrent layers ([`super::SimpleRNN`], [`super::GRU`], [`super::LSTM`]) share: the
//! options and weights Keras's `RNN` base class and its cells have in common, reading and
//! writing them in configs, and the time loop (`go_backwards`, dropout masks, the input
//! projection of every step in one product, `return_sequences` / `return_state`).
//!
//! A layer keeps an [`RnnCore`] and supplies what differs: its extra options, the gate count,
//! the bias it starts from, and one step of its cell (a closure given to [`RnnCore::run`]).

use super::{base_config, config_name, field, shape_error, unique_name, Shape, WeightRules};
use crate::initializers::Initializer;
use crate::random::next_seed;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Device, Error, Result, Tensor};
use serde_json::{json, Map, Value};

/// The options and weights every recurrent layer has.
pub(crate) struct RnnCore {
    /// Keras's class name, also the `op` of errors.
    pub(crate) class: &'static str,
    pub(crate) name: String,
    pub(crate) units: usize,
    pub(crate) use_bias: bool,
    pub(crate) kernel_initializer: Initializer,
    pub(crate) recurrent_initializer: Initializer,
    pub(crate) bias_initializer: Initializer,
    pub(crate) kernel_rules: WeightRules,
    pub(crate) recurrent_rules: WeightRules,
    pub(crate) bias_rules: WeightRules,
    pub(crate) activity_regularizer: Option<Regularizer>,
    pub(crate) dropout: f64,
    pub(crate) recurrent_dropout: f64,
    pub(crate) seed: Option<u64>,
    pub(crate) return_sequences: bool,
    pub(crate) return_state: bool,
    pub(crate) go_backwards: bool,
    /// Keras's `stateful`: the final states of a call are the initial states of the next.
    pub(crate) stateful: bool,
    /// How many states the cell carries (1, or 2 for LSTM's `h` and `c`).
    pub(crate) n_states: usize,
    /// With `stateful`, the states carried between calls, `(batch, units)` each: Keras's
    /// `self.states`, non-trainable variables named `rnn_state` that are neither among the
    /// layer's weights nor saved. Created by `build`.
    pub(crate) states: Option<Vec<Variable>>,
    /// Keras's `zero_output_for_mask`: a masked step outputs zeros instead of the previous
    /// `h` (`Bidirectional` sets it to `return_sequences` on the layers it wraps).
    pub(crate) zero_output_for_mask: bool,
    pub(crate) trainable: bool,
    pub(crate) input_shape: Option<Shape>,
    pub(crate) kernel: Option<Variable>,
    pub(crate) recurrent_kernel: Option<Variable>,
    pub(crate) bias: Option<Variable>,
}

/// A recurrent layer's whole time loop as one op (see [`RnnCore::run`]): `(input
/// projections, initial states, mask)` to `(every step's output, final states)`.
pub(crate) type SequenceFn<'a> =
    dyn Fn(&Tensor, &[Tensor], Option<&Tensor>) -> Result<(Tensor, Vec<Tensor>)> + 'a;

/// An `InvalidArgument` error of `class`.
pub(crate) fn invalid(class: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op: class, msg }
}

impl RnnCore {
    /// Keras's defaults: bias, `glorot_uniform` kernel, `orthogonal` recurrent kernel, `zeros`
    /// bias; no dropout; the last output only.
    pub(crate) fn new(class: &'static str, prefix: &str, units: usize, n_states: usize) -> RnnCore {
        RnnCore {
            class,
            name: unique_name(prefix),
            units,
            use_bias: true,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::Zeros,
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
            stateful: false,
            n_states,
            states: None,
            zero_output_for_mask: false,
            trainable: true,
            input_shape: None,
            kernel: None,
            recurrent_kernel: None,
            bias: None,
        }
    }

    pub(crate) fn invalid(&self, msg: String) -> Error {
        invalid(self.class, msg)
    }

    /// A dropout rate in `[0, 1)`.
    pub(crate) fn check_rate(&self, rate: f64) -> Result<f64> {
        if (0.0..1.0).contains(&rate) {
            Ok(rate)
        } else {
            Err(self.invalid(format!("dropout rates must be in [0, 1), got {rate}")))
        }
    }

    /// Reads the common keys of a Keras config.
    pub(crate) fn from_config(
        class: &'static str,
        prefix: &str,
        n_states: usize,
        c: &Value,
    ) -> Result<RnnCore> {
        let units: usize = field(c, "units", 0)?;
        if units == 0 {
            return Err(invalid(class, "units must be >= 1".into()));
        }
        let mut l = RnnCore::new(class, prefix, units, n_states);
        l.stateful = field(c, "stateful", false)?;
        l.return_sequences = field(c, "return_sequences", false)?;
        l.return_state = field(c, "return_state", false)?;
        l.go_backwards = field(c, "go_backwards", false)?;
        l.zero_output_for_mask = field(c, "zero_output_for_mask", false)?;
        l.use_bias = field(c, "use_bias", true)?;
        l.dropout = l.check_rate(field(c, "dropout", 0.0)?)?;
        l.recurrent_dropout = l.check_rate(field(c, "recurrent_dropout", 0.0)?)?;
        l.name = config_name(c, prefix)?;
        l.trainable = field(c, "trainable", true)?;
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

    /// The common keys of the layer's config (the layer adds its activations and own options).
    pub(crate) fn config(&self) -> Map<String, Value> {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("return_sequences".into(), json!(self.return_sequences));
        m.insert("return_state".into(), json!(self.return_state));
        m.insert("go_backwards".into(), json!(self.go_backwards));
        m.insert("stateful".into(), json!(self.stateful));
        m.insert("unroll".into(), json!(false));
        m.insert("zero_output_for_mask".into(), json!(self.zero_output_for_mask));
        m.insert("units".into(), json!(self.units));
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        m.insert(
            "recurrent_initializer".into(),
            self.recurrent_initializer.get_config(),
        );
        m.insert("bias_initializer".into(), self.bias_initializer.get_config());
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
        m
    }

    /// The main output's shape for input `s` `(batch, timesteps, features)`.
    pub(crate) fn output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        if s.len() != 3 {
            return Err(shape_error(&self.name, "rank 3 (batch, timesteps, features)", s));
        }
        Ok(if self.return_sequences {
            vec![s[0], s[1], Some(self.units)]
        } else {
            vec![s[0], Some(self.units)]
        })
    }

    /// The shapes of all outputs: the main one, then the states with `return_state`.
    pub(crate) fn output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let [s] = input_shapes else {
            return Err(super::arity_error(&self.name, "1 input", input_shapes.len()));
        };
        let mut out = vec![self.output_shape(s)?];
        if self.return_state {
            out.extend((0..self.n_states).map(|_| vec![s[0], Some(self.units)]));
        }
        Ok(out)
    }

    /// Creates `kernel (features, gates·units)`, `recurrent_kernel (units, gates·units)` and,
    /// with `use_bias`, the bias `bias_init` returns.
    pub(crate) fn build(
        &mut self,
        input_shape: &[Option<usize>],
        gates: usize,
        bias_init: impl FnOnce(&Initializer) -> Result<Tensor>,
    ) -> Result<()> {
        self.output_shape(input_shape)?;
        let Some(f) = input_shape[2] else {
            return Err(shape_error(&self.name, "a known feature dimension", input_shape));
        };
        let u = self.units;
        if self.stateful {
            let Some(b) = input_shape[0] else {
                return Err(self.invalid(format!(
                    "layer {:?} is stateful, so its batch size must be fixed, but it was built for \
                     input shape {} (batch size unknown): give the input a batch size \
                     (Input::with_batch_size, Sequential::batch_size, or a known first dimension \
                     in build)",
                    self.name,
                    super::fmt_shape(input_shape)
                )));
            };
            self.states = Some(
                (0..self.n_states)
                    .map(|_| {
                        Ok(Variable::new(
                            "rnn_state",
                            Tensor::zeros(&[b, u], DType::F32, &Device::Cpu)?,
                            false,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        self.kernel = Some(self.kernel_rules.attach(Variable::new(
            "kernel",
            self.kernel_initializer.sample(&[f, gates * u], DType::F32)?,
            true,
        )));
        self.recurrent_kernel = Some(self.recurrent_rules.attach(Variable::new(
            "recurrent_kernel",
            self.recurrent_initializer.sample(&[u, gates * u], DType::F32)?,
            true,
        )));
        self.bias = if self.use_bias {
            let init = bias_init(&self.bias_initializer)?;
            Some(self.bias_rules.attach(Variable::new("bias", init, true)))
        } else {
            None
        };
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }

    /// The current values of kernel, recurrent kernel and bias.
    pub(crate) fn weight_values(&self) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let (Some(k), Some(rk)) = (&self.kernel, &self.recurrent_kernel) else {
            return Err(self.invalid(format!("layer {:?} is not built", self.name)));
        };
        Ok((k.value(), rk.value(), self.bias.as_ref().map(Variable::value)))
    }

    pub(crate) fn weights(&self) -> Vec<Variable> {
        [&self.kernel, &self.recurrent_kernel, &self.bias]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The state variables of a stateful layer (none otherwise, or before `build`).
    pub(crate) fn state_variables(&self) -> Vec<Variable> {
        self.states.clone().unwrap_or_default()
    }

    /// Sets the states of a stateful layer back to zeros (nothing to do otherwise), Keras's
    /// `reset_state`.
    pub(crate) fn reset_state(&self) -> Result<()> {
        for v in self.states.iter().flatten() {
            v.assign(&v.value().zeros_like()?)?;
        }
        Ok(())
    }

    /// The states a call starts from: zeros, or with `stateful` the stored ones (as values,
    /// in `x`'s dtype and on its device), after checking that `x` has the batch size they
    /// were made for.
    fn initial_states(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let (b, u) = (x.shape()[0], self.units);
        let Some(vars) = &self.states else {
            if self.stateful {
                return Err(self.invalid(format!(
                    "layer {:?} was made stateful after it was built: set stateful before build",
                    self.name
                )));
            }
            let zeros = Tensor::zeros(&[b, u], x.dtype(), x.device())?;
            return Ok(vec![zeros; self.n_states]);
        };
        let expected = vars.first().map_or(b, |v| v.shape()[0]);
        if b != expected {
            return Err(self.invalid(format!(
                "layer {:?} is stateful with batch size {expected}, but got an input of shape {:?} \
                 (batch size {b}): every batch of a stateful layer must have the batch size it \
                 was built for",
                self.name,
                x.shape()
            )));
        }
        vars.iter()
            .map(|v| {
                let s = v.value().detach().cast(x.dtype())?;
                if s.device() == x.device() {
                    Ok(s)
                } else {
                    s.to_device(x.device())
                }
            })
            .collect()
    }

    /// With `stateful`, stores `states` (detached, in the variables' dtype) for the next call.
    fn store_states(&self, states: &[Tensor]) -> Result<()> {
        for (v, s) in self.states.iter().flatten().zip(states) {
            v.assign(&s.detach().cast(v.dtype())?)?;
        }
        Ok(())
    }

    /// The outputs `call_multi` returns: the main one, then the states with `return_state`.
    pub(crate) fn outputs(&self, out: Tensor, states: Vec<Tensor>) -> Vec<Tensor> {
        let mut v = vec![out];
        if self.return_state {
            v.extend(states);
        }
        v
    }

    /// `call` refuses a layer with several outputs.
    pub(crate) fn check_single_output(&self) -> Result<()> {
        if self.return_state {
            return Err(self.invalid(format!(
                "layer {:?} has return_state = true and {} outputs: use it in a functional model",
                self.name,
                1 + self.n_states
            )));
        }
        Ok(())
    }

    /// The time loop. `x (batch, timesteps, features)` is read from the end with
    /// `go_backwards`; while training, `dropout` drops input features (one mask per sequence).
    /// With `mask (batch, timesteps)`, a masked step keeps the previous states and outputs the
    /// previous `h` (zeros with `zero_output_for_mask`), Keras's `backend.rnn`.
    /// The input projection of every step, `x @ kernel + input_bias`, is one product; then for
    /// each step `step(xk_t, h_in, states)` returns the new states, whose first is the step's
    /// output `h`. `xk_t` is `(batch, gates·units)`; `h_in` is the previous `h` with the
    /// recurrent dropout mask applied (one mask per sequence, while training); `states` are
    /// the previous states (`n_states` of them, zeros at the start; with `stateful`, the
    /// stored final states of the previous call, and this call's final states are stored).
    ///
    /// `sequence`, when given, runs the whole loop as one op instead of `step` (the cell's
    /// fused kernel) unless recurrent dropout is active: from the input projections `(batch,
    /// timesteps, gates·units)`, the initial states and the mask (as for `step`), it returns
    /// every step's output `(batch, timesteps, units)` (masked steps as described above) and
    /// the final states.
    ///
    /// Returns the main output (every `h` with `return_sequences`, in processing order, else
    /// the last) and the final states.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        k: &Tensor,
        input_bias: Option<&Tensor>,
        training: bool,
        sequence: Option<&SequenceFn>,
        mut step: impl FnMut(&Tensor, &Tensor, &[Tensor]) -> Result<Vec<Tensor>>,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let Some(shape) = &self.input_shape else {
            return Err(self.invalid(format!("layer {:?} is not built", self.name)));
        };
        if x.rank() != 3 || x.shape()[2] != shape[2].unwrap_or(0) {
            return Err(self.invalid(format!(
                "layer {:?} was built for input shape {} but got a tensor of shape {:?}",
                self.name,
                super::fmt_shape(shape),
                x.shape()
            )));
        }
        let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let u = self.units;
        if t == 0 {
            return Err(self.invalid(format!("layer {:?} got a sequence with 0 timesteps", self.name)));
        }
        let mut states = self.initial_states(x)?;
        let mask = match mask {
            Some(m) => {
                super::check_mask(&self.name, x, m, 2)?;
                let m = m.cast(DType::Bool)?;
                Some(if self.go_backwards { m.flip(&[1])? } else { m })
            }
            None => None,
        };
        let mut x = if self.go_backwards {
            x.flip(&[1])?
        } else {
            x.clone()
        };
        if training && self.dropout > 0.0 {
            x = x.dropout(self.dropout, Some(&[b, 1, f]), next_seed())?;
        }
        let rec_mask = if training && self.recurrent_dropout > 0.0 {
            Some(Tensor::dropout_mask(
                &[b, u],
                self.recurrent_dropout,
                next_seed(),
                x.dtype(),
                x.device(),
            )?)
        } else {
            None
        };
        // The input projection of every step in one product: (b·t, f) @ (f, gates·u).
        let width = k.shape()[1];
        let mut xk = x.reshape(&[(b * t) as isize, f as isize])?.matmul(k)?;
        if let Some(bias) = input_bias {
            xk = xk.add(bias)?;
        }
        let xk = xk.reshape(&[b as isize, t as isize, width as isize])?;
        if let (Some(sequence), None) = (sequence, &rec_mask) {
            let (seq, states) = sequence(&xk, &states, mask.as_ref())?;
            let out = if self.return_sequences {
                seq
            } else {
                seq.narrow(1, t - 1, 1)?.reshape(&[b as isize, u as isize])?
            };
            super::activity_loss(self.activity_regularizer, &out)?;
            self.store_states(&states)?;
            return Ok((out, states));
        }
        let mut hs = Vec::with_capacity(if self.return_sequences { t } else { 0 });
        let mut last = None;
        for i in 0..t {
            let h_in = match &rec_mask {
                Some(m) => states[0].mul(m)?,
                None => states[0].clone(),
            };
            let xk_t = xk.narrow(1, i, 1)?.reshape(&[b as isize, width as isize])?;
            let new = step(&xk_t, &h_in, &states)?;
            let out_t = match &mask {
                // A masked step keeps the previous states; its output is the previous `h`
                // (the kept first state), or zeros.
                Some(m) => {
                    let m_t = m.narrow(1, i, 1)?;
                    let out_t = if self.zero_output_for_mask {
                        Tensor::where_cond(&m_t, &new[0], &new[0].zeros_like()?)?
                    } else {
                        Tensor::where_cond(&m_t, &new[0], &states[0])?
                    };
                    states = new
                        .iter()
                        .zip(&states)
                        .map(|(n, s)| Tensor::where_cond(&m_t, n, s))
                        .collect::<Result<Vec<_>>>()?;
                    out_t
                }
                None => {
                    states = new;
                    states[0].clone()
                }
            };
            if self.return_sequences {
                hs.push(out_t);
            } else {
                last = Some(out_t);
            }
        }
        let out = if self.return_sequences {
            Tensor::stack(&hs.iter().collect::<Vec<_>>(), 1)?
        } else {
            last.unwrap_or_else(|| states[0].clone())
        };
        super::activity_loss(self.activity_regularizer, &out)?;
        self.store_states(&states)?;
        Ok((out, states))
    }
}

/// The builder methods every recurrent layer has, on the layer type `$t` (which keeps its
/// [`RnnCore`] in `core`).
macro_rules! rnn_builders {
    ($t:ident) => {
        impl $t {
            /// Output every step's `h` rather than the last one.
            pub fn return_sequences(mut self, v: bool) -> $t {
                self.core.return_sequences = v;
                self
            }
            /// Also output the final states (use the layer in a functional model).
            pub fn return_state(mut self, v: bool) -> $t {
                self.core.return_state = v;
                self
            }
            /// Process the sequence from its last step to its first (the outputs come in that
            /// order too).
            pub fn go_backwards(mut self, v: bool) -> $t {
                self.core.go_backwards = v;
                self
            }
            /// Carry the final states of each call over as the initial states of the next
            /// (Keras's `stateful`, default false): sample `i` of a batch continues sample `i`
            /// of the previous batch. The layer then needs a fixed batch size (from the
            /// input's batch size, see [`Input::with_batch_size`](crate::models::Input::with_batch_size)
            /// and [`Sequential::batch_size`](crate::Sequential::batch_size)), and every call
            /// must have it. The states are stored values: gradients do not flow into the
            /// previous call. [`Layer::reset_state`](super::Layer::reset_state) sets them back
            /// to zeros.
            pub fn stateful(mut self, v: bool) -> $t {
                self.core.stateful = v;
                self
            }
            /// Masked steps output zeros rather than the previous `h` (Keras's
            /// `zero_output_for_mask`, default false).
            pub fn zero_output_for_mask(mut self, v: bool) -> $t {
                self.core.zero_output_for_mask = v;
                self
            }
            /// With or without bias.
            pub fn use_bias(mut self, v: bool) -> $t {
                self.core.use_bias = v;
                self
            }
            /// Fraction of input units dropped while training (one mask per sequence).
            ///
            /// # Errors
            /// Outside `[0, 1)`.
            pub fn dropout(mut self, rate: f64) -> keras_tensor::Result<$t> {
                self.core.dropout = self.core.check_rate(rate)?;
                Ok(self)
            }
            /// Fraction of recurrent units dropped while training (one mask per sequence).
            ///
            /// # Errors
            /// Outside `[0, 1)`.
            pub fn recurrent_dropout(mut self, rate: f64) -> keras_tensor::Result<$t> {
                self.core.recurrent_dropout = self.core.check_rate(rate)?;
                Ok(self)
            }
            /// Sets the layer name.
            pub fn name(mut self, name: &str) -> $t {
                self.core.name = name.to_string();
                self
            }
        }
    };
}
pub(crate) use rnn_builders;

/// The [`super::Layer`] methods every recurrent layer implements the same way, inside its
/// `impl Layer`: `$class` is Keras's class name; the layer has `core: RnnCore` and
/// `fn run(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<(Tensor, Vec<Tensor>)>`.
macro_rules! rnn_layer_common {
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }
        fn name(&self) -> &str {
            &self.core.name
        }
        fn trainable(&self) -> bool {
            self.core.trainable
        }
        fn set_trainable(&mut self, trainable: bool) {
            self.core.trainable = trainable;
        }
        fn built(&self) -> bool {
            self.core.kernel.is_some()
        }
        fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
            self.core.output_shape(input_shape)
        }
        fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
            self.core.output_shapes(input_shapes)
        }
        fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
            self.call_masked(x, None, training)
        }
        fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
            Ok(self.call_multi_masked(inputs, &[], training)?.0)
        }
        fn supports_masking(&self) -> bool {
            true
        }
        /// The input mask with `return_sequences`, else none.
        fn compute_mask(&self, _x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
            Ok(mask.filter(|_| self.core.return_sequences).cloned())
        }
        fn call_masked(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<Tensor> {
            self.core.check_single_output()?;
            Ok(self.run(x, mask, training)?.0)
        }
        /// The output (masked as the input with `return_sequences`), then with `return_state`
        /// the final states (unmasked).
        fn call_multi_masked(
            &self,
            inputs: &[Tensor],
            masks: &[Option<Tensor>],
            training: bool,
        ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
            let [x] = inputs else {
                return Err(super::arity_error(&self.core.name, "1 input", inputs.len()));
            };
            let mask = masks.first().and_then(Option::as_ref);
            let (out, states) = self.run(x, mask, training)?;
            let outs = self.core.outputs(out, states);
            let mut out_masks = vec![self.compute_mask(x, mask)?];
            out_masks.resize(outs.len(), None);
            Ok((outs, out_masks))
        }
        fn weights(&self) -> Vec<Variable> {
            self.core.weights()
        }
        /// With `stateful`, the carried states (Keras's `layer.states`); none otherwise.
        fn states(&self) -> Vec<Variable> {
            self.core.state_variables()
        }
        /// With `stateful`, sets the carried states to zeros; nothing otherwise (as Keras).
        fn reset_state(&self) -> Result<()> {
            self.core.reset_state()
        }
        /// Keras keeps the weights in the layer's `cell` (`layers/<name>/cell/vars`).
        fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
            vec![
                (String::new(), Vec::new()),
                ("cell".into(), self.core.weights()),
            ]
        }
    };
}
pub(crate) use rnn_layer_common;

/// Test helpers shared by the recurrent layers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::RnnCore;
    use crate::layers::Layer;
    use crate::Variable;
    use keras_tensor::testing::check_grad;
    use keras_tensor::{DType, Device, Result, Tensor};

    /// The arguments of a layer's `run_with` after the input: the mask, the kernel, the
    /// recurrent kernel and the bias.
    pub(crate) type RunWith<'a, L> = &'a dyn Fn(
        &L,
        &Tensor,
        Option<&Tensor>,
        &Tensor,
        &Tensor,
        Option<&Tensor>,
    ) -> Result<(Tensor, Vec<Tensor>)>;

    /// Checks a stateful layer through one step against finite differences, forwards and
    /// backwards, with and without `return_sequences` and a mask: `make(go_backwards,
    /// return_sequences)` gives the unbuilt stateful layer (units 3), `core` its [`RnnCore`],
    /// `run_with` its time loop; `seed` draws the first batch, which leaves the non-zero states
    /// the checked step starts from.
    pub(crate) fn check_stateful_step_gradients<L: Layer>(
        what: &str,
        seed: u64,
        make: impl Fn(bool, bool) -> L,
        core: impl Fn(&L) -> &RnnCore,
        run_with: RunWith<L>,
    ) {
        let cpu = Device::Cpu;
        let mask = Tensor::new(&[true, true, false, true, false, true, true, true], &[2, 4]).unwrap();
        for (backwards, sequences, masked) in
            [(false, true, false), (true, false, false), (false, false, true)]
        {
            let mut l = make(backwards, sequences);
            l.build(&[Some(2), Some(4), Some(2)]).unwrap();
            // A first batch leaves non-zero states for the step checked.
            let x0 = Tensor::random_normal(&[2, 4, 2], 0.0, 1.0, seed, DType::F32, &cpu).unwrap();
            let from_zeros = l.call(&x0, false).unwrap();
            let start: Vec<Tensor> = l.states().iter().map(|v| v.value().detach()).collect();
            assert!(start[0].to_vec::<f32>().unwrap().iter().all(|&v| v != 0.0));
            // The next call starts from the stored states, not from zeros.
            let again = l.call(&x0, false).unwrap();
            assert_ne!(
                again.to_vec::<f32>().unwrap(),
                from_zeros.to_vec::<f32>().unwrap()
            );
            let x = Tensor::random_normal(&[2, 4, 2], 0.0, 1.0, 9, DType::F64, &cpu).unwrap();
            let w = |v: &Option<Variable>| v.as_ref().unwrap().value().cast(DType::F64).unwrap();
            let c = core(&l);
            let (k, rk, b) = (w(&c.kernel), w(&c.recurrent_kernel), w(&c.bias));
            let m = masked.then_some(&mask);
            // Each evaluation starts from the same stored states (a call stores new ones).
            let f = |xs: &[Tensor]| -> Result<Tensor> {
                for (v, s) in l.states().iter().zip(&start) {
                    v.assign(s)?;
                }
                let (out, states) = run_with(&l, &xs[0], m, &xs[1], &xs[2], Some(&xs[3]))?;
                let mut loss = out.square()?.sum_all()?;
                for s in &states {
                    loss = loss.add(&s.sum_all()?)?;
                }
                Ok(loss)
            };
            check_grad(what, &[&x, &k, &rk, &b], f);
        }
    }
}
