//! `Bidirectional`: a recurrent layer run forwards and backwards, the two outputs merged.

use super::time_distributed::{build_shape, deserialize_layer, nested_saved_variables, serialize_layer};
use super::{base_config, config_name, field, unique_name, Layer, Shape};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// How [`Bidirectional`] combines the forward and backward outputs (Keras's `merge_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeMode {
    /// Concatenated on the last axis (the default).
    Concat,
    /// Added.
    Sum,
    /// Multiplied.
    Mul,
    /// Averaged.
    Ave,
}

impl MergeMode {
    /// Parses Keras's name (`"concat"`, `"sum"`, `"mul"`, `"ave"`).
    ///
    /// # Errors
    /// For any other name.
    pub fn parse(s: &str) -> Result<MergeMode> {
        Ok(match s {
            "concat" => MergeMode::Concat,
            "sum" => MergeMode::Sum,
            "mul" => MergeMode::Mul,
            "ave" => MergeMode::Ave,
            _ => {
                return Err(invalid(format!(
                    "invalid merge_mode {s:?}; expected one of \"sum\", \"mul\", \"ave\", \"concat\" or None"
                )))
            }
        })
    }
    /// Keras's name.
    pub fn name(self) -> &'static str {
        match self {
            MergeMode::Concat => "concat",
            MergeMode::Sum => "sum",
            MergeMode::Mul => "mul",
            MergeMode::Ave => "ave",
        }
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "Bidirectional",
        msg,
    }
}

/// Bidirectional wrapper for recurrent layers, as `keras.layers.Bidirectional`.
///
/// The wrapped layer (an [`LSTM`](super::LSTM), [`GRU`](super::GRU), [`SimpleRNN`](super::SimpleRNN),
/// or any layer whose config has `go_backwards`, `return_sequences` and `return_state`) is
/// rebuilt from its config twice: as `forward_<name>`, and as `backward_<name>` with
/// `go_backwards = true` (or the `backward_layer` given). Both read the same input; the
/// backward output, with `return_sequences`, is flipped back into time order; then the two are
/// merged by `merge_mode`: `concat` (default, last axis), `sum`, `mul`, `ave`, or `None`
/// (two outputs). With `return_state` the outputs are `[output(s)…, forward states…,
/// backward states…]`.
///
/// A stateful wrapped layer makes both directions stateful (Keras passes `stateful` to both):
/// [`Layer::states`] lists the forward then the backward states, and [`Layer::reset_state`]
/// sets both to zeros (an error when the layers are not stateful, as in Keras).
///
/// Weights: the forward layer's, then the backward layer's; saved as Keras saves them, under
/// `layers/bidirectional/forward_layer/cell/vars` and `…/backward_layer/cell/vars` for the
/// recurrent layers.
///
/// ```
/// use keras::layers::{Bidirectional, Layer, LSTM};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut b = Bidirectional::new(LSTM::new(4).return_sequences(true))?;
/// b.build(&[None, Some(5), Some(3)])?;
/// assert_eq!(b.count_params(), 2 * (3 * 16 + 4 * 16 + 16));
/// let x = Tensor::ones(&[2, 5, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(b.call(&x, false)?.shape(), &[2, 5, 8]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Bidirectional {
    name: String,
    trainable: bool,
    merge_mode: Option<MergeMode>,
    forward: Box<dyn Layer>,
    backward: Box<dyn Layer>,
    return_sequences: bool,
    return_state: bool,
    /// The wrapped layers' `stateful` (Keras passes it to both).
    stateful: bool,
    input_shape: Option<Shape>,
    /// The `build_config` read from a config, written back until built.
    build_shape: Option<Shape>,
}

/// `name` without a leading `prefix` (Python's `str.removeprefix`).
fn remove_prefix<'a>(name: &'a str, prefix: &str) -> &'a str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// A copy of `layer` rebuilt from its config with the name `name` and, when given,
/// `go_backwards`. Like Keras, it forces `zero_output_for_mask = return_sequences` on layers
/// that have the option: with a mask, masked steps of a returned sequence are zeros.
fn rebuild(class: &str, config: &Value, name: String, go_backwards: Option<bool>) -> Result<Box<dyn Layer>> {
    let mut c = config.clone();
    let Some(m) = c.as_object_mut() else {
        return Err(invalid(format!(
            "the wrapped {class} layer's config is not an object"
        )));
    };
    m.insert("name".into(), json!(name));
    if let Some(g) = go_backwards {
        m.insert("go_backwards".into(), json!(g));
    }
    if m.contains_key("zero_output_for_mask") {
        let rs = m.get("return_sequences").cloned().unwrap_or(json!(false));
        m.insert("zero_output_for_mask".into(), rs);
    }
    super::from_config(class, &c)
}

/// A given backward layer with Keras's forced `zero_output_for_mask = return_sequences`:
/// rebuilt from its config when the flag differs and it has no weights yet (a built layer is
/// kept as it is).
fn force_zero_output(layer: Box<dyn Layer>) -> Result<Box<dyn Layer>> {
    let c = layer.get_config();
    let z = c.get("zero_output_for_mask");
    if layer.built() || z.is_none() || z == c.get("return_sequences") {
        return Ok(layer);
    }
    rebuild(layer.class_name(), &c, layer.name().to_string(), None)
}

fn flag(l: &dyn Layer, key: &str) -> Result<bool> {
    match l.get_config().get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        None | Some(Value::Null) if key == "stateful" => Ok(false),
        _ => Err(invalid(format!(
            "the wrapped layer {:?} ({}) has no boolean {key:?} in its config; Bidirectional wraps \
             recurrent layers",
            l.name(),
            l.class_name()
        ))),
    }
}

impl Bidirectional {
    /// Wraps `layer` with Keras's defaults (`merge_mode = "concat"`, the backward layer a copy
    /// of `layer` with `go_backwards = true`).
    ///
    /// # Errors
    /// When `layer` is not a recurrent layer, or already has `go_backwards = true`.
    pub fn new(layer: impl Layer + 'static) -> Result<Bidirectional> {
        Bidirectional::with_layers(&layer, None, Some(MergeMode::Concat))
    }

    /// Keras's constructor: `layer`, an optional `backward_layer` (used as it is), and
    /// `merge_mode` (`None` gives the two outputs unmerged).
    ///
    /// # Errors
    /// When the two layers do not have opposite `go_backwards` and equal `return_sequences`,
    /// `return_state` and `stateful`, or are not recurrent layers.
    pub fn with_layers(
        layer: &dyn Layer,
        backward_layer: Option<Box<dyn Layer>>,
        merge_mode: Option<MergeMode>,
    ) -> Result<Bidirectional> {
        let class = layer.class_name();
        let config = layer.get_config();
        let forward = rebuild(
            class,
            &config,
            format!("forward_{}", remove_prefix(layer.name(), "forward_")),
            None,
        )?;
        let backward = match backward_layer {
            Some(b) => force_zero_output(b)?,
            None => rebuild(
                class,
                &config,
                format!("backward_{}", remove_prefix(layer.name(), "backward_")),
                Some(true),
            )?,
        };
        Bidirectional::assemble(forward, backward, merge_mode, unique_name("bidirectional"))
    }

    fn assemble(
        forward: Box<dyn Layer>,
        backward: Box<dyn Layer>,
        merge_mode: Option<MergeMode>,
        name: String,
    ) -> Result<Bidirectional> {
        let (f, b) = (forward.as_ref(), backward.as_ref());
        if flag(f, "go_backwards")? == flag(b, "go_backwards")? {
            return Err(invalid(format!(
                "forward layer and backward layer should have different `go_backwards` values; got \
                 {} for both",
                flag(f, "go_backwards")?
            )));
        }
        for key in ["stateful", "return_sequences", "return_state"] {
            if flag(f, key)? != flag(b, key)? {
                return Err(invalid(format!(
                    "forward layer and backward layer are expected to have the same value for \
                     {key:?}, got {} for the forward layer and {} for the backward layer",
                    flag(f, key)?,
                    flag(b, key)?
                )));
            }
        }
        Ok(Bidirectional {
            name,
            trainable: true,
            merge_mode,
            return_sequences: flag(f, "return_sequences")?,
            return_state: flag(f, "return_state")?,
            stateful: flag(f, "stateful")?,
            forward,
            backward,
            input_shape: None,
            build_shape: None,
        })
    }

    /// Sets `merge_mode` by Keras name, `None` for two separate outputs.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn merge_mode(mut self, mode: Option<&str>) -> Result<Bidirectional> {
        self.merge_mode = mode.map(MergeMode::parse).transpose()?;
        Ok(self)
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Bidirectional {
        self.name = name.to_string();
        self
    }

    /// The forward layer.
    pub fn forward_layer(&self) -> &dyn Layer {
        self.forward.as_ref()
    }

    /// The backward layer.
    pub fn backward_layer(&self) -> &dyn Layer {
        self.backward.as_ref()
    }

    /// Rebuilds from a Keras config (`layer`: the forward layer's serialized form;
    /// `backward_layer`: the backward one's, optional).
    ///
    /// # Errors
    /// For missing or invalid layers, an unknown `merge_mode`, or mismatched layers.
    pub fn from_config(c: &Value) -> Result<Bidirectional> {
        let spec = c
            .get("layer")
            .ok_or_else(|| invalid("from_config: missing field \"layer\"".into()))?;
        let layer = deserialize_layer(spec, "Bidirectional.from_config", "layer")?;
        let backward = match c.get("backward_layer") {
            None | Some(Value::Null) => None,
            Some(b) => Some(deserialize_layer(
                b,
                "Bidirectional.from_config",
                "backward_layer",
            )?),
        };
        let merge_mode = match c.get("merge_mode") {
            None => Some(MergeMode::Concat),
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(MergeMode::parse(s)?),
            Some(v) => return Err(invalid(format!("merge_mode must be a string or null, got {v}"))),
        };
        let mut b = Bidirectional::with_layers(layer.as_ref(), backward, merge_mode)?;
        b.build_shape = build_shape(spec);
        b.name = config_name(c, "bidirectional")?;
        b.trainable = field(c, "trainable", true)?;
        if !b.trainable {
            b.set_trainable(false);
        }
        Ok(b)
    }

    fn merge(&self, y: &Tensor, y_rev: &Tensor) -> Result<Vec<Tensor>> {
        Ok(match self.merge_mode {
            Some(MergeMode::Concat) => vec![Tensor::concat(&[y, y_rev], -1)?],
            Some(MergeMode::Sum) => vec![y.add(y_rev)?],
            Some(MergeMode::Mul) => vec![y.mul(y_rev)?],
            Some(MergeMode::Ave) => vec![y.add(y_rev)?.div_scalar(2.0)?],
            None => vec![y.clone(), y_rev.clone()],
        })
    }
}

impl Layer for Bidirectional {
    fn class_name(&self) -> &'static str {
        "Bidirectional"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        self.forward.set_trainable(trainable);
        self.backward.set_trainable(trainable);
    }
    fn built(&self) -> bool {
        self.forward.built() && self.backward.built()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        if !self.forward.built() {
            self.forward.build(input_shape)?;
        }
        if !self.backward.built() {
            self.backward.build(input_shape)?;
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        let shapes = self.compute_output_shapes(&[input_shape.to_vec()])?;
        if shapes.len() != 1 {
            return Err(invalid(format!(
                "layer {:?} has {} outputs: use it in a functional model",
                self.name,
                shapes.len()
            )));
        }
        Ok(shapes.into_iter().next().expect("one shape"))
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let [s] = input_shapes else {
            return Err(super::arity_error(&self.name, "1 input", input_shapes.len()));
        };
        let fwd = self.forward.compute_output_shapes(std::slice::from_ref(s))?;
        let mut out = fwd[0].clone();
        let mut shapes = match self.merge_mode {
            Some(MergeMode::Concat) => {
                let last = out.len() - 1;
                out[last] = out[last].map(|d| 2 * d);
                vec![out]
            }
            Some(_) => vec![out],
            None => vec![out.clone(), out],
        };
        if self.return_state {
            let states = &fwd[1..];
            shapes.extend(states.iter().cloned());
            shapes.extend(states.iter().cloned());
        }
        Ok(shapes)
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let mut ys = self.call_multi(std::slice::from_ref(x), training)?;
        if ys.len() != 1 {
            return Err(invalid(format!(
                "layer {:?} has {} outputs (return_state or merge_mode None): use it in a functional \
                 model",
                self.name,
                ys.len()
            )));
        }
        Ok(ys.remove(0))
    }
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        Ok(self.call_multi_masked(inputs, &[], training)?.0)
    }
    /// The forward layer's states, then the backward layer's (stateful layers only).
    fn states(&self) -> Vec<Variable> {
        let mut v = self.forward.states();
        v.extend(self.backward.states());
        v
    }
    /// Sets both layers' states to zeros.
    ///
    /// # Errors
    /// When the wrapped layers are not stateful (Keras: "Layer must be stateful").
    fn reset_state(&self) -> Result<()> {
        if !self.stateful {
            return Err(invalid(format!(
                "layer {:?} must be stateful to reset its states",
                self.name
            )));
        }
        self.forward.reset_state()?;
        self.backward.reset_state()
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// The input mask with `return_sequences`, else none.
    fn compute_mask(&self, _x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(mask.filter(|_| self.return_sequences).cloned())
    }
    fn call_masked(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<Tensor> {
        let (mut ys, _) = self.call_multi_masked(std::slice::from_ref(x), &[mask.cloned()], training)?;
        if ys.len() != 1 {
            return Err(invalid(format!(
                "layer {:?} has {} outputs (return_state or merge_mode None): use it in a functional \
                 model",
                self.name,
                ys.len()
            )));
        }
        Ok(ys.remove(0))
    }
    /// Both layers read the input and its mask; the outputs (each masked as the input with
    /// `return_sequences`), then the unmasked states.
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let [x] = inputs else {
            return Err(super::arity_error(&self.name, "1 input", inputs.len()));
        };
        let mask = masks.first().cloned().flatten();
        let (mut f, _) = self
            .forward
            .call_multi_masked(inputs, std::slice::from_ref(&mask), training)?;
        let (mut b, _) = self
            .backward
            .call_multi_masked(inputs, std::slice::from_ref(&mask), training)?;
        let (y, mut y_rev) = (f.remove(0), b.remove(0));
        if self.return_sequences {
            y_rev = y_rev.flip(&[1])?;
        }
        let mut out = self.merge(&y, &y_rev)?;
        let out_mask = self.compute_mask(x, mask.as_ref())?;
        let mut out_masks = vec![out_mask; out.len()];
        if self.return_state {
            out.extend(f);
            out.extend(b);
        }
        out_masks.resize(out.len(), None);
        Ok((out, out_masks))
    }
    fn weights(&self) -> Vec<Variable> {
        let mut w = self.forward.weights();
        w.extend(self.backward.weights());
        w
    }
    fn trainable_weights(&self) -> Vec<Variable> {
        if !self.trainable {
            return Vec::new();
        }
        let mut w = self.forward.trainable_weights();
        w.extend(self.backward.trainable_weights());
        w
    }
    fn non_trainable_weights(&self) -> Vec<Variable> {
        if !self.trainable {
            return self.weights();
        }
        let mut w = self.forward.non_trainable_weights();
        w.extend(self.backward.non_trainable_weights());
        w
    }
    /// Keras's layout: `forward_layer/…` and `backward_layer/…` below the wrapper's entry.
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        let mut v = vec![(String::new(), Vec::new())];
        v.extend(nested_saved_variables("forward_layer", self.forward.as_ref()));
        v.extend(nested_saved_variables("backward_layer", self.backward.as_ref()));
        v
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert(
            "merge_mode".into(),
            self.merge_mode.map_or(Value::Null, |mm| json!(mm.name())),
        );
        let shape = self.input_shape.as_ref().or(self.build_shape.as_ref());
        for (key, l) in [("layer", &self.forward), ("backward_layer", &self.backward)] {
            let mut v = serialize_layer(l.as_ref(), shape);
            // Keras forces `zero_output_for_mask = return_sequences` on both layers.
            if let Some(z) = v.pointer_mut("/config/zero_output_for_mask") {
                *z = json!(self.return_sequences);
            }
            m.insert(key.into(), v);
        }
        Value::Object(m)
    }
}

/// A tiny recurrent layer with float64 weights, for finite-difference checks of the wrappers:
/// `h_t = tanh(x_t @ kernel + h_{t-1} * decay)`, with Keras's `go_backwards`,
/// `return_sequences` and `return_state` (one state).
#[cfg(test)]
pub(crate) mod test_rnn {
    use super::*;
    use keras_tensor::DType;
    use std::cell::RefCell;

    thread_local! {
        static OVERRIDES: RefCell<Vec<(Variable, Tensor)>> = const { RefCell::new(Vec::new()) };
    }

    /// While computing, use `x` (a tracked tensor) in place of variable `v`'s value.
    pub(crate) fn swap(v: &Variable, x: &Tensor) {
        OVERRIDES.with(|o| {
            let mut o = o.borrow_mut();
            o.retain(|(w, _)| !w.same_as(v));
            o.push((v.clone(), x.clone()));
        });
    }

    fn value(v: &Variable) -> Tensor {
        OVERRIDES.with(|o| {
            o.borrow()
                .iter()
                .find(|(w, _)| w.same_as(v))
                .map_or_else(|| v.value(), |(_, x)| x.clone())
        })
    }

    pub(crate) struct TestRnn {
        name: String,
        units: usize,
        return_sequences: bool,
        return_state: bool,
        go_backwards: bool,
        trainable: bool,
        w: Vec<Variable>,
    }

    impl TestRnn {
        /// A new layer; registers the class so wrappers can rebuild it from its config.
        pub(crate) fn new(units: usize, return_sequences: bool, return_state: bool) -> TestRnn {
            crate::layers::register_layer("TestRnn", |c| Ok(Box::new(TestRnn::from_config(c)?)));
            TestRnn::plain(units, return_sequences, return_state)
        }

        /// The layer alone (the registry's constructor: it runs with the registry locked).
        fn plain(units: usize, return_sequences: bool, return_state: bool) -> TestRnn {
            TestRnn {
                name: unique_name("test_rnn"),
                units,
                return_sequences,
                return_state,
                go_backwards: false,
                trainable: true,
                w: Vec::new(),
            }
        }
        fn from_config(c: &Value) -> Result<TestRnn> {
            let mut l = TestRnn::plain(
                field(c, "units", 1)?,
                field(c, "return_sequences", false)?,
                field(c, "return_state", false)?,
            );
            l.go_backwards = field(c, "go_backwards", false)?;
            l.name = config_name(c, "test_rnn")?;
            Ok(l)
        }
    }

    impl Layer for TestRnn {
        super::super::layer_common!("TestRnn");
        fn built(&self) -> bool {
            !self.w.is_empty()
        }
        fn build(&mut self, s: &[Option<usize>]) -> Result<()> {
            let f = s[2].unwrap_or(1);
            let seed = self.name.len() as u64 + 3 * u64::from(self.go_backwards);
            let dev = keras_tensor::Device::Cpu;
            self.w = vec![
                Variable::new(
                    "kernel",
                    Tensor::random_normal(&[f, self.units], 0.0, 0.7, seed, DType::F64, &dev)?,
                    true,
                ),
                Variable::new(
                    "decay",
                    Tensor::random_uniform(&[self.units], 0.2, 0.9, seed + 1, DType::F64, &dev)?,
                    true,
                ),
            ];
            Ok(())
        }
        fn compute_output_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
            Ok(self.compute_output_shapes(&[s.to_vec()])?.remove(0))
        }
        fn compute_output_shapes(&self, s: &[Shape]) -> Result<Vec<Shape>> {
            let s = &s[0];
            let mut v = vec![if self.return_sequences {
                vec![s[0], s[1], Some(self.units)]
            } else {
                vec![s[0], Some(self.units)]
            }];
            if self.return_state {
                v.push(vec![s[0], Some(self.units)]);
            }
            Ok(v)
        }
        fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
            Ok(self.call_multi(std::slice::from_ref(x), training)?.remove(0))
        }
        fn call_multi(&self, inputs: &[Tensor], _training: bool) -> Result<Vec<Tensor>> {
            let x = if self.go_backwards {
                inputs[0].flip(&[1])?
            } else {
                inputs[0].clone()
            };
            let (k, a) = (value(&self.w[0]), value(&self.w[1]));
            let (b, t) = (x.shape()[0], x.shape()[1]);
            let mut h = Tensor::zeros(&[b, self.units], DType::F64, x.device())?;
            let mut hs = vec![];
            for i in 0..t {
                let xt = x.narrow(1, i, 1)?.reshape(&[b as isize, -1])?;
                h = xt.matmul(&k)?.add(&h.mul(&a)?)?.tanh()?;
                hs.push(h.clone());
            }
            let mut out = vec![if self.return_sequences {
                Tensor::stack(&hs.iter().collect::<Vec<_>>(), 1)?
            } else {
                h.clone()
            }];
            if self.return_state {
                out.push(h);
            }
            Ok(out)
        }
        fn weights(&self) -> Vec<Variable> {
            self.w.clone()
        }
        fn get_config(&self) -> Value {
            let mut m = base_config(&self.name, self.trainable);
            m.insert("units".into(), json!(self.units));
            m.insert("return_sequences".into(), json!(self.return_sequences));
            m.insert("return_state".into(), json!(self.return_state));
            m.insert("go_backwards".into(), json!(self.go_backwards));
            Value::Object(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_rnn::{swap, TestRnn};
    use super::*;
    use crate::layers::testing::run_layer_test;
    use crate::layers::{GRU, LSTM};
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn bidirectional_passes_the_layer_harness() {
        run_layer_test(Box::new(Bidirectional::new(LSTM::new(3)).unwrap()), &[4, 2], 6);
        run_layer_test(
            Box::new(
                Bidirectional::new(GRU::new(2).return_sequences(true))
                    .unwrap()
                    .merge_mode(Some("sum"))
                    .unwrap(),
            ),
            &[3, 4],
            6,
        );
    }

    #[test]
    fn names_weights_and_outputs_follow_keras() {
        let mut b = Bidirectional::new(LSTM::new(2).name("enc").return_state(true))
            .unwrap()
            .merge_mode(None)
            .unwrap();
        assert_eq!(b.forward_layer().name(), "forward_enc");
        assert_eq!(b.backward_layer().name(), "backward_enc");
        let s: Shape = vec![None, Some(3), Some(4)];
        b.build(&s).unwrap();
        let shapes = b.compute_output_shapes(&[s]).unwrap();
        assert_eq!(shapes.len(), 6); // y, y_rev, fwd h, c, bwd h, c
        let x = randn(&[2, 3, 4], 1).cast(keras_tensor::DType::F32).unwrap();
        let ys = b.call_multi(std::slice::from_ref(&x), false).unwrap();
        assert_eq!(ys.len(), 6);
        assert!(b.call(&x, false).is_err());
        let paths: Vec<String> = b.saved_variables().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "",
                "forward_layer",
                "forward_layer/cell",
                "backward_layer",
                "backward_layer/cell"
            ]
        );
        // The backward layer's last output is the forward layer run on the reversed sequence.
        let c = b.get_config();
        assert_eq!(c["backward_layer"]["config"]["go_backwards"], true);
        assert_eq!(c["merge_mode"], Value::Null);
        let again = Bidirectional::from_config(&c).unwrap();
        assert_eq!(again.get_config()["layer"]["config"], c["layer"]["config"]);
        assert!(Bidirectional::new(LSTM::new(2).go_backwards(true)).is_err());
        assert!(Bidirectional::new(crate::layers::Dense::new(2)).is_err());
        assert!(Bidirectional::new(LSTM::new(2))
            .unwrap()
            .merge_mode(Some("max"))
            .is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (mode, seq, state) in [
            (Some("concat"), true, false),
            (Some("sum"), true, true),
            (Some("mul"), false, false),
            (Some("ave"), false, true),
            (None, true, true),
        ] {
            let mut b = Bidirectional::new(TestRnn::new(3, seq, state))
                .unwrap()
                .merge_mode(mode)
                .unwrap();
            b.build(&[None, Some(4), Some(2)]).unwrap();
            let ws: Vec<Tensor> = b.weights().iter().map(|w| w.value()).collect();
            let mut args = vec![randn(&[2, 4, 2], 5)];
            args.extend(ws);
            let refs: Vec<&Tensor> = args.iter().collect();
            check_grad(
                &format!("bidirectional {mode:?} seq={seq} state={state}"),
                &refs,
                |t| {
                    for (v, x) in b.weights().iter().zip(&t[1..]) {
                        swap(v, x);
                    }
                    // Every output, flattened and joined, so all of them are checked.
                    let ys = b.call_multi(&t[..1], false)?;
                    let flat: Vec<Tensor> = ys.iter().map(|y| y.reshape(&[-1])).collect::<Result<_>>()?;
                    Tensor::concat(&flat.iter().collect::<Vec<_>>(), 0)
                },
            );
        }
    }

    #[test]
    fn backward_outputs_come_back_in_time_order() {
        let mut b = Bidirectional::new(TestRnn::new(2, true, false))
            .unwrap()
            .merge_mode(None)
            .unwrap();
        b.build(&[None, Some(3), Some(2)]).unwrap();
        let x = randn(&[1, 3, 2], 2);
        let ys = b.call_multi(std::slice::from_ref(&x), false).unwrap();
        // Backward output at step 2 only saw x[2]: it equals a one-step run on x[2:3].
        let last = b
            .backward_layer()
            .call(&x.narrow(1, 2, 1).unwrap(), false)
            .unwrap();
        let got = ys[1].narrow(1, 2, 1).unwrap().contiguous().unwrap();
        assert_eq!(got.to_vec::<f64>().unwrap(), last.to_vec::<f64>().unwrap());
    }
}
