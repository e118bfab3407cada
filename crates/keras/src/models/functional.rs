//! The functional API: symbolic [`KerasTensor`]s from [`Input`], layers applied to them
//! through [`Apply`] (or a shared [`LayerRef`]), and [`Model`] built from inputs and outputs:
//! multi-input, multi-output, shared layers, skip connections, nested models.

use super::summary::{self, Row};
use crate::layers::{self, fmt_shape, unique_name, Layer, Shape};
use crate::trainers::{Compiled, Trainer};
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

struct LayerCell {
    layer: RwLock<Box<dyn Layer>>,
    calls: AtomicUsize,
}

/// A shared handle to a layer: apply it to several symbolic tensors to share its weights.
///
/// ```
/// use keras::layers::Dense;
/// use keras::models::{Input, LayerRef, Model};
/// let shared = LayerRef::new(Dense::new(4));
/// let (a, b) = (Input::new(&[3]), Input::new(&[3]));
/// let (ya, yb) = (shared.apply(&a)?, shared.apply(&b)?);
/// let model = Model::new(&[&a, &b], &[&ya, &yb])?;
/// assert_eq!(model.count_params(), 3 * 4 + 4); // one set of weights
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone)]
pub struct LayerRef(Arc<LayerCell>);

impl LayerRef {
    /// Wraps a layer.
    pub fn new(layer: impl Layer + 'static) -> LayerRef {
        LayerRef::from_box(Box::new(layer))
    }

    /// Wraps a boxed layer.
    pub fn from_box(layer: Box<dyn Layer>) -> LayerRef {
        LayerRef(Arc::new(LayerCell {
            layer: RwLock::new(layer),
            calls: AtomicUsize::new(0),
        }))
    }

    /// Read access to the layer.
    pub fn read(&self) -> RwLockReadGuard<'_, Box<dyn Layer>> {
        self.0.layer.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write access to the layer (to build or freeze it).
    pub fn write(&self) -> RwLockWriteGuard<'_, Box<dyn Layer>> {
        self.0.layer.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The layer's name.
    pub fn name(&self) -> String {
        self.read().name().to_string()
    }

    /// True when both handles hold the same layer.
    pub fn same_as(&self, other: &LayerRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Applies the layer to one symbolic tensor (building it on first use).
    ///
    /// # Errors
    /// When the layer cannot take the input shape (the error names the layer and shape).
    pub fn apply(&self, x: &KerasTensor) -> Result<KerasTensor> {
        single(self.apply_outputs(&[x])?)
    }

    /// Applies a layer taking a list of inputs (`Add`, `Concatenate`, …).
    ///
    /// # Errors
    /// As [`LayerRef::apply`].
    pub fn apply_list(&self, xs: &[&KerasTensor]) -> Result<KerasTensor> {
        single(self.apply_outputs(xs)?)
    }

    /// Applies the layer and returns every output (a nested multi-output model).
    ///
    /// # Errors
    /// As [`LayerRef::apply`].
    pub fn apply_outputs(&self, xs: &[&KerasTensor]) -> Result<Vec<KerasTensor>> {
        let shapes: Vec<Shape> = xs.iter().map(|x| x.shape().to_vec()).collect();
        let out_shapes = {
            let mut l = self.write();
            if !l.built() {
                l.build_multi(&shapes)?;
            }
            l.compute_output_shapes(&shapes)?
        };
        let node = Arc::new(Node {
            layer: self.clone(),
            inputs: xs.iter().map(|x| (*x).clone()).collect(),
            index: self.0.calls.fetch_add(1, Ordering::Relaxed),
            n_outputs: out_shapes.len(),
        });
        let dtype = xs.first().map_or(DType::F32, |x| x.dtype());
        let dtype = if dtype.is_float() { dtype } else { DType::F32 };
        Ok(out_shapes
            .into_iter()
            .enumerate()
            .map(|(i, shape)| {
                KerasTensor(Arc::new(KtInner {
                    shape,
                    dtype,
                    origin: Origin::Node {
                        node: node.clone(),
                        index: i,
                    },
                }))
            })
            .collect())
    }
}

fn single(mut v: Vec<KerasTensor>) -> Result<KerasTensor> {
    if v.len() == 1 {
        Ok(v.remove(0))
    } else {
        Err(Error::InvalidArgument {
            op: "apply",
            msg: format!("the layer has {} outputs: use apply_outputs", v.len()),
        })
    }
}

/// Applying a layer value to symbolic tensors, Keras's `layer(x)`: the layer moves into the
/// graph. Keep a [`LayerRef`] instead to apply one layer several times.
///
/// ```
/// use keras::layers::{Add, Dense};
/// use keras::models::{Apply, Input, Model};
/// let x = Input::new(&[8]);
/// let h = Dense::new(8).activation("relu")?.apply(&x)?;
/// let y = Add::new().apply_list(&[&x, &h])?; // a skip connection
/// let model = Model::new(&[&x], &[&y])?;
/// assert_eq!(model.outputs()[0].shape(), &[None, Some(8)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub trait Apply {
    /// Applies to one symbolic tensor.
    ///
    /// # Errors
    /// When the layer cannot take the input shape.
    fn apply(self, x: &KerasTensor) -> Result<KerasTensor>;
    /// Applies to a list of symbolic tensors.
    ///
    /// # Errors
    /// When the layer cannot take the input shapes.
    fn apply_list(self, xs: &[&KerasTensor]) -> Result<KerasTensor>;
}

impl<L: Layer + 'static> Apply for L {
    fn apply(self, x: &KerasTensor) -> Result<KerasTensor> {
        LayerRef::new(self).apply(x)
    }
    fn apply_list(self, xs: &[&KerasTensor]) -> Result<KerasTensor> {
        LayerRef::new(self).apply_list(xs)
    }
}

pub(crate) struct Node {
    layer: LayerRef,
    inputs: Vec<KerasTensor>,
    /// The how-many-th call of the layer this node is.
    index: usize,
    n_outputs: usize,
}

enum Origin {
    Input { name: String },
    Node { node: Arc<Node>, index: usize },
}

struct KtInner {
    shape: Shape,
    dtype: DType,
    origin: Origin,
}

/// A symbolic tensor: a shape (batch `None`), a dtype, and the layer call that produced it.
/// Keras's `KerasTensor`.
#[derive(Clone)]
pub struct KerasTensor(Arc<KtInner>);

impl std::fmt::Debug for KerasTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<KerasTensor shape={}, dtype={}, source={}>",
            fmt_shape(self.shape()),
            self.dtype(),
            self.source_name()
        )
    }
}

impl KerasTensor {
    /// The shape, batch first.
    pub fn shape(&self) -> &[Option<usize>] {
        &self.0.shape
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// The name of the layer (or input) that produced it.
    pub fn source_name(&self) -> String {
        match &self.0.origin {
            Origin::Input { name } => name.clone(),
            Origin::Node { node, .. } => node.layer.name(),
        }
    }

    fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Where its concrete value is kept while a graph runs: (input, MAX) or (node, output).
    fn value_key(&self) -> (usize, usize) {
        match &self.0.origin {
            Origin::Input { .. } => (self.key(), usize::MAX),
            Origin::Node { node, index } => (Arc::as_ptr(node) as usize, *index),
        }
    }

    /// `[layer name, node index, tensor index]`, Keras's `keras_history`.
    fn history(&self, node_index: &HashMap<usize, usize>) -> Value {
        match &self.0.origin {
            Origin::Input { name } => json!([name, 0, 0]),
            Origin::Node { node, index } => {
                let ni = node_index
                    .get(&(Arc::as_ptr(node) as usize))
                    .copied()
                    .unwrap_or(0);
                json!([node.layer.name(), ni, index])
            }
        }
    }
}

/// Keras's `keras.Input`: the symbolic input of a functional model.
///
/// ```
/// use keras::models::Input;
/// let x = Input::new(&[28, 28, 1]);
/// assert_eq!(x.shape(), &[None, Some(28), Some(28), Some(1)]);
/// ```
pub struct Input;

impl Input {
    /// A float32 input of `shape` (without the batch axis), named `input_layer`, `input_layer_1`, …
    #[allow(clippy::new_ret_no_self)]
    pub fn new(shape: &[usize]) -> KerasTensor {
        Input::with(
            &shape.iter().map(|&d| Some(d)).collect::<Vec<_>>(),
            DType::F32,
            None,
        )
    }

    /// A named float32 input.
    pub fn named(shape: &[usize], name: &str) -> KerasTensor {
        Input::with(
            &shape.iter().map(|&d| Some(d)).collect::<Vec<_>>(),
            DType::F32,
            Some(name),
        )
    }

    /// An input with every option: dims may be `None` (variable length), any dtype (`int64`
    /// token ids for an `Embedding`), an optional name.
    pub fn with(shape: &[Option<usize>], dtype: DType, name: Option<&str>) -> KerasTensor {
        let batch_shape: Shape = std::iter::once(None).chain(shape.iter().copied()).collect();
        Input::with_batch_shape(&batch_shape, dtype, name)
    }

    /// A float32 input whose batch size is fixed: Keras's `keras.Input(shape, batch_size=n)`,
    /// which stateful recurrent layers need.
    ///
    /// ```
    /// use keras::models::Input;
    /// let x = Input::with_batch_size(&[10, 3], 4);
    /// assert_eq!(x.shape(), &[Some(4), Some(10), Some(3)]);
    /// ```
    pub fn with_batch_size(shape: &[usize], batch_size: usize) -> KerasTensor {
        let batch_shape: Shape = std::iter::once(Some(batch_size))
            .chain(shape.iter().map(|&d| Some(d)))
            .collect();
        Input::with_batch_shape(&batch_shape, DType::F32, None)
    }

    /// An input of the full `batch_shape`, batch axis first (`None` where unknown): Keras's
    /// `keras.Input(batch_shape=...)`.
    ///
    /// ```
    /// use keras::models::Input;
    /// use keras_tensor::DType;
    /// let x = Input::with_batch_shape(&[Some(2), None, Some(8)], DType::F32, Some("seq"));
    /// assert_eq!(x.shape(), &[Some(2), None, Some(8)]);
    /// ```
    pub fn with_batch_shape(batch_shape: &[Option<usize>], dtype: DType, name: Option<&str>) -> KerasTensor {
        let name = name.map_or_else(|| unique_name("input_layer"), str::to_string);
        KerasTensor(Arc::new(KtInner {
            shape: batch_shape.to_vec(),
            dtype,
            origin: Origin::Input { name },
        }))
    }
}

/// A model built from symbolic inputs and outputs: Keras's functional `keras.Model(inputs,
/// outputs)` (class name `Functional`).
///
/// ```
/// use keras::layers::{Concatenate, Dense};
/// use keras::models::{Apply, Input, Model};
/// use keras::{losses, optimizers, trainers::Trainer, FitArgs};
/// use keras_tensor::{DType, Device, Tensor};
/// let (a, b) = (Input::named(&[3], "a"), Input::named(&[2], "b"));
/// let h = Concatenate::new().apply_list(&[&a, &b])?;
/// let h = Dense::new(8).activation("relu")?.apply(&h)?;
/// let out = Dense::new(1).name("out").apply(&h)?;
/// let mut model = Model::new(&[&a, &b], &[&out])?;
/// model.compile(optimizers::get("adam")?, losses::get("mse")?, &[])?;
/// let cpu = Device::Cpu;
/// let xa = Tensor::random_normal(&[16, 3], 0.0, 1.0, 1, DType::F32, &cpu)?;
/// let xb = Tensor::random_normal(&[16, 2], 0.0, 1.0, 2, DType::F32, &cpu)?;
/// let y = xa.sum(&[1], true)?;
/// model.fit([&xa, &xb], &y, FitArgs { epochs: 1, verbose: 0, ..Default::default() })?;
/// assert_eq!(model.predict([&xa, &xb], 8)?.shape(), &[16, 1]);
/// assert!(model.summary().contains("Connected to"));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Model {
    name: String,
    trainable: bool,
    inputs: Vec<KerasTensor>,
    outputs: Vec<KerasTensor>,
    /// Layer calls in an order where every node comes after the nodes it reads.
    nodes: Vec<Arc<Node>>,
    /// Distinct layers in the order of their first call.
    layers: Vec<LayerRef>,
    /// In a mutex only so the model is `Sync` as a layer must be; `&mut self` reaches it freely.
    compiled: std::sync::Mutex<Option<Compiled>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Functional name={}, layers={}>", self.name, self.layers.len())
    }
}

impl Model {
    /// Collects the graph between `inputs` and `outputs`.
    ///
    /// # Errors
    /// When an output depends on an input not in `inputs` ("graph disconnected"), or two
    /// distinct layers share a name.
    pub fn new(inputs: &[&KerasTensor], outputs: &[&KerasTensor]) -> Result<Model> {
        let inputs: Vec<KerasTensor> = inputs.iter().map(|t| (*t).clone()).collect();
        let outputs: Vec<KerasTensor> = outputs.iter().map(|t| (*t).clone()).collect();
        if inputs.is_empty() || outputs.is_empty() {
            return Err(invalid("a model needs at least one input and one output".into()));
        }
        let input_keys: Vec<usize> = inputs.iter().map(KerasTensor::key).collect();
        for x in &inputs {
            if !matches!(x.0.origin, Origin::Input { .. }) {
                return Err(invalid(format!(
                    "model inputs must come from keras::models::Input; {x:?} is a layer output"
                )));
            }
        }
        // Post-order DFS from the outputs (iterative, so deep graphs cannot overflow).
        let mut nodes: Vec<Arc<Node>> = Vec::new();
        let mut seen: HashMap<usize, ()> = HashMap::new();
        for out in &outputs {
            let mut stack: Vec<(KerasTensor, bool)> = vec![(out.clone(), false)];
            while let Some((t, expanded)) = stack.pop() {
                let node = match &t.0.origin {
                    Origin::Input { name } => {
                        if !input_keys.contains(&t.key()) {
                            return Err(invalid(format!(
                                "graph disconnected: cannot obtain a value for input {name:?}, \
                                 which is not among the model's inputs"
                            )));
                        }
                        continue;
                    }
                    Origin::Node { node, .. } => node.clone(),
                };
                let k = Arc::as_ptr(&node) as usize;
                if seen.contains_key(&k) {
                    continue;
                }
                if expanded {
                    seen.insert(k, ());
                    nodes.push(node);
                } else {
                    stack.push((t.clone(), true));
                    for x in node.inputs.iter().rev() {
                        stack.push((x.clone(), false));
                    }
                }
            }
        }
        let mut layers: Vec<LayerRef> = Vec::new();
        for n in &nodes {
            if !layers.iter().any(|l| l.same_as(&n.layer)) {
                let name = n.layer.name();
                if layers.iter().any(|l| l.name() == name) || inputs.iter().any(|x| x.source_name() == name) {
                    return Err(invalid(format!(
                        "the name {name:?} is used by two layers of the model; layer names must be unique"
                    )));
                }
                layers.push(n.layer.clone());
            }
        }
        let layers = keras_layer_order(&outputs, layers);
        Ok(Model {
            name: unique_name("functional"),
            trainable: true,
            inputs,
            outputs,
            nodes,
            layers,
            compiled: std::sync::Mutex::new(None),
        })
    }

    /// Renames the model.
    pub fn name(mut self, name: &str) -> Model {
        self.name = name.to_string();
        self
    }

    /// The layers (inputs excluded), in Keras's order: farthest from the outputs first, ties
    /// in the order a depth-first walk from the outputs meets them. Weights, saved files and
    /// the summary follow it.
    pub fn layers(&self) -> &[LayerRef] {
        &self.layers
    }

    /// The layer called `name`.
    pub fn get_layer(&self, name: &str) -> Option<LayerRef> {
        self.layers.iter().find(|l| l.name() == name).cloned()
    }

    /// The symbolic inputs.
    pub fn inputs(&self) -> &[KerasTensor] {
        &self.inputs
    }

    /// The symbolic outputs.
    pub fn outputs(&self) -> &[KerasTensor] {
        &self.outputs
    }

    /// Number of scalars in all weights.
    pub fn count_params(&self) -> usize {
        self.weights_all().iter().map(Variable::numel).sum()
    }

    fn weights_all(&self) -> Vec<Variable> {
        self.layers.iter().flat_map(|l| l.read().weights()).collect()
    }

    /// Keras's summary table with the "Connected to" column.
    pub fn summary(&self) -> String {
        let node_index = self.node_indices();
        let mut rows: Vec<Row> = self
            .inputs
            .iter()
            .map(|x| Row {
                name: format!("{} (InputLayer)", x.source_name()),
                shape: fmt_shape(x.shape()),
                params: 0,
                connected: Some("-".into()),
            })
            .collect();
        for l in &self.layers {
            let layer = l.read();
            let mut shapes = Vec::new();
            let mut conns = Vec::new();
            for n in self.nodes.iter().filter(|n| n.layer.same_as(l)) {
                if shapes.is_empty() {
                    shapes = (0..n.n_outputs)
                        .map(|i| self.output_shape_of(n, i))
                        .collect::<Vec<String>>();
                }
                for x in &n.inputs {
                    let h = x.history(&node_index);
                    conns.push(format!("{}[{}][{}]", h[0].as_str().unwrap_or(""), h[1], h[2]));
                }
            }
            rows.push(Row {
                name: format!("{} ({})", layer.name(), layer.class_name()),
                shape: shapes.join(", "),
                params: layer.count_params(),
                connected: Some(conns.join(", ")),
            });
        }
        let weights = self.weights_all();
        let trainable: usize = self.trainable_variables().iter().map(Variable::numel).sum();
        let total: usize = weights.iter().map(Variable::numel).sum();
        let compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        summary::table(
            &self.name,
            &rows,
            total,
            trainable,
            summary::optimizer_params(compiled.as_ref()),
        )
    }

    fn output_shape_of(&self, node: &Node, i: usize) -> String {
        let shapes: Vec<Shape> = node.inputs.iter().map(|x| x.shape().to_vec()).collect();
        node.layer
            .read()
            .compute_output_shapes(&shapes)
            .ok()
            .and_then(|s| s.get(i).map(|s| fmt_shape(s)))
            .unwrap_or_else(|| "?".into())
    }

    /// For each node, its index among its layer's nodes in this model (Keras's node index).
    fn node_indices(&self) -> HashMap<usize, usize> {
        let mut per_layer: Vec<(LayerRef, usize)> = Vec::new();
        let mut out = HashMap::new();
        let mut ordered: Vec<&Arc<Node>> = self.nodes.iter().collect();
        ordered.sort_by_key(|n| n.index);
        for n in ordered {
            let c = match per_layer.iter_mut().find(|(l, _)| l.same_as(&n.layer)) {
                Some((_, c)) => c,
                None => {
                    per_layer.push((n.layer.clone(), 0));
                    &mut per_layer.last_mut().expect("just pushed").1
                }
            };
            out.insert(Arc::as_ptr(n) as usize, *c);
            *c += 1;
        }
        out
    }

    /// For inference-time fusion: for each node, the node that is the only reader of its one
    /// output, where that reader has no other input and the output is no model output.
    fn sole_readers(&self) -> Vec<Option<usize>> {
        let mut readers: HashMap<(usize, usize), (usize, usize)> = HashMap::new();
        for (j, n) in self.nodes.iter().enumerate() {
            for k in &n.inputs {
                let r = readers.entry(k.value_key()).or_insert((0, j));
                *r = (r.0 + 1, j);
            }
        }
        for o in &self.outputs {
            readers.entry(o.value_key()).or_insert((0, 0)).0 += 1;
        }
        self.nodes
            .iter()
            .map(|n| match readers.get(&(Arc::as_ptr(n) as usize, 0)) {
                Some(&(1, j)) if n.n_outputs == 1 && self.nodes[j].inputs.len() == 1 => Some(j),
                _ => None,
            })
            .collect()
    }

    /// The (layer, its sole reader) name pairs of [`Model::sole_readers`].
    #[cfg(test)]
    pub(super) fn fusion_pairs(&self) -> Vec<(String, String)> {
        let name = |i: usize| self.nodes[i].layer.name();
        let sole = self.sole_readers();
        sole.iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|j| (name(i), name(j))))
            .collect()
    }

    /// Runs the graph on concrete tensors.
    fn run(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        Ok(self.run_masked(inputs, &[], training)?.0)
    }

    /// The outputs' masks for `inputs` (`None` for an unmasked output): `Embedding(mask_zero)`
    /// or `Masking` make a mask, layers that support masking pass it on, others drop it.
    ///
    /// ```
    /// use keras::layers::{Embedding, LSTM};
    /// use keras::models::{Apply, Input, Model};
    /// use keras_tensor::{DType, Tensor};
    /// let x = Input::with(&[Some(4)], DType::I64, None);
    /// let h = Embedding::new(10, 3)?.mask_zero(true).apply(&x)?;
    /// let seq = LSTM::new(2).return_sequences(true).apply(&h)?;
    /// let last = LSTM::new(2).apply(&h)?;
    /// let model = Model::new(&[&x], &[&seq, &last])?;
    /// let m = model.output_masks(&[Tensor::new(&[0i64, 7, 2, 0], &[1, 4])?])?;
    /// assert_eq!(m[0].as_ref().unwrap().to_vec::<bool>()?, vec![false, true, true, false]);
    /// assert!(m[1].is_none()); // an RNN's last output has no mask
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::predict`].
    pub fn output_masks(&self, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        keras_tensor::no_grad(|| Ok(self.run_masked(inputs, &[], false)?.1))
    }

    /// Runs the graph, threading Keras's masks: a node's layer gets its inputs' masks
    /// ([`Layer::call_multi_masked`]) and gives its outputs'. `masks` are the inputs' masks
    /// (empty: none). Returns the outputs and their masks.
    fn run_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        if inputs.len() != self.inputs.len() {
            return Err(invalid(format!(
                "model {:?} expects {} input(s), got {}",
                self.name,
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut values: HashMap<(usize, usize), Tensor> = HashMap::new();
        let mut value_masks: HashMap<(usize, usize), Tensor> = HashMap::new();
        for (i, (k, x)) in self.inputs.iter().zip(inputs).enumerate() {
            // The batch axis aside, as Keras: a fixed batch size binds stateful layers only.
            let ok = x.rank() == k.shape().len()
                && k.shape()
                    .iter()
                    .zip(x.shape())
                    .skip(1)
                    .all(|(e, &d)| e.is_none_or(|e| e == d));
            if !ok {
                return Err(invalid(format!(
                    "input {:?} of model {:?} expects shape {} but got a tensor of shape {:?}",
                    k.source_name(),
                    self.name,
                    fmt_shape(k.shape()),
                    x.shape()
                )));
            }
            values.insert(k.value_key(), x.clone());
            if let Some(Some(m)) = masks.get(i) {
                value_masks.insert(k.value_key(), m.clone());
            }
        }
        // Inference: layers absorb the per-channel maps that only they feed (`fusion`).
        let sole = if training { Vec::new() } else { self.sole_readers() };
        let mut absorbed = vec![false; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if absorbed[i] {
                continue;
            }
            let xs: Vec<Tensor> = n
                .inputs
                .iter()
                .map(|k| {
                    values
                        .get(&k.value_key())
                        .cloned()
                        .expect("nodes are in dependency order")
                })
                .collect();
            let ms: Vec<Option<Tensor>> = n
                .inputs
                .iter()
                .map(|k| value_masks.get(&k.value_key()).cloned())
                .collect();
            if let ([x], [None], Some(&Some(_))) = (&xs[..], &ms[..], sole.get(i)) {
                let chain: Vec<usize> = std::iter::successors(sole[i], |&j| sole[j]).take(4).collect();
                let next: Vec<&LayerRef> = chain.iter().map(|&j| &self.nodes[j].layer).collect();
                if let Some((used, y)) = super::fusion::fuse(&n.layer, x, &next)? {
                    chain[..used].iter().for_each(|&j| absorbed[j] = true);
                    values.insert((Arc::as_ptr(&self.nodes[chain[used - 1]]) as usize, 0), y);
                    continue;
                }
            }
            let (ys, out_masks) = n.layer.read().call_multi_masked(&xs, &ms, training)?;
            let at = Arc::as_ptr(n) as usize;
            for (i, m) in out_masks.into_iter().enumerate() {
                if let Some(m) = m {
                    value_masks.insert((at, i), m);
                }
            }
            for (i, y) in ys.into_iter().enumerate() {
                values.insert((at, i), y);
            }
        }
        let outs = self
            .outputs
            .iter()
            .map(|o| {
                values
                    .get(&o.value_key())
                    .cloned()
                    .ok_or_else(|| invalid("an output was not computed".into()))
            })
            .collect::<Result<Vec<Tensor>>>()?;
        let out_masks = self
            .outputs
            .iter()
            .map(|o| value_masks.get(&o.value_key()).cloned())
            .collect();
        Ok((outs, out_masks))
    }

    /// Keras's functional `get_config`: layers with their inbound nodes, input and output
    /// layers.
    pub fn get_config(&self) -> Value {
        let node_index = self.node_indices();
        let mut layers: Vec<Value> = self
            .inputs
            .iter()
            .map(|x| {
                json!({"module": "keras.layers", "class_name": "InputLayer",
                    "config": {"batch_shape": x.shape(), "dtype": x.dtype().to_string(),
                               "sparse": false, "ragged": false, "name": x.source_name(), "optional": false},
                    "registered_name": null, "name": x.source_name(), "inbound_nodes": []})
            })
            .collect();
        for l in &self.layers {
            let layer = l.read();
            let inbound: Vec<Value> = self
                .nodes
                .iter()
                .filter(|n| n.layer.same_as(l))
                .map(|n| {
                    let kts: Vec<Value> = n
                        .inputs
                        .iter()
                        .map(|x| {
                            json!({"class_name": "__keras_tensor__", "config": {
                                "shape": x.shape(), "dtype": x.dtype().to_string(),
                                "keras_history": x.history(&node_index)}})
                        })
                        .collect();
                    // MultiHeadAttention takes its inputs as separate call arguments
                    // (query, value, key), other layers one tensor or one list.
                    // Call arguments that are options of the layer here go where Keras keeps
                    // them, in the node's kwargs (`use_causal_mask`, `return_attention_scores`).
                    let kwargs = Value::Object(layer.call_kwargs());
                    if kts.len() > 1 && layer.class_name() == "MultiHeadAttention" {
                        return json!({"args": kts, "kwargs": kwargs});
                    }
                    let args = if kts.len() == 1 {
                        kts[0].clone()
                    } else {
                        Value::Array(kts)
                    };
                    json!({"args": [args], "kwargs": kwargs})
                })
                .collect();
            let mut entry = crate::layers::serialize(&**layer);
            entry["name"] = json!(layer.name());
            entry["inbound_nodes"] = Value::Array(inbound);
            layers.push(entry);
        }
        let hist = |ts: &[KerasTensor]| Value::Array(ts.iter().map(|t| t.history(&node_index)).collect());
        json!({"name": self.name, "trainable": self.trainable, "layers": layers,
               "input_layers": hist(&self.inputs), "output_layers": hist(&self.outputs)})
    }

    /// Rebuilds a functional model from [`Model::get_config`] (or Keras's) output: every layer
    /// through the registry, then every inbound node in order.
    ///
    /// # Errors
    /// For unknown layer classes, malformed configs, or references to missing layers.
    pub fn from_config(c: &Value) -> Result<Model> {
        let bad = |m: String| invalid(format!("Functional.from_config: {m}"));
        let layer_specs = c
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing \"layers\"".into()))?;
        // name → produced symbolic tensors per node.
        let mut produced: HashMap<String, Vec<Vec<KerasTensor>>> = HashMap::new();
        let mut pending: Vec<(LayerRef, Vec<Value>, String)> = Vec::new();
        // Keras writes the computation of masks into the graph as op nodes (`NotEqual`,
        // `LogicalOr`, `Any`, … from `keras.src.ops`) feeding layers' `mask` arguments. Masks
        // are propagated here by the layers themselves, so those nodes are skipped; one that a
        // layer reads as data is reported by name.
        let mut skipped_ops: HashMap<String, String> = HashMap::new();
        for spec in layer_specs {
            let class = spec.get("class_name").and_then(Value::as_str).unwrap_or("");
            let config = spec.get("config").cloned().unwrap_or(Value::Null);
            let name = spec
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| config.get("name").and_then(Value::as_str))
                .ok_or_else(|| bad(format!("a {class} layer has no name")))?
                .to_string();
            if spec
                .get("module")
                .and_then(Value::as_str)
                .is_some_and(|m| m.starts_with("keras.src.ops"))
            {
                skipped_ops.insert(name, class.to_string());
                continue;
            }
            if class == "InputLayer" {
                let shape: Shape =
                    serde_json::from_value(config.get("batch_shape").cloned().unwrap_or(Value::Null))
                        .map_err(|e| bad(format!("InputLayer {name:?} batch_shape: {e}")))?;
                if shape.is_empty() {
                    return Err(bad(format!("InputLayer {name:?} has an empty batch_shape")));
                }
                let dtype = match config.get("dtype").and_then(Value::as_str) {
                    Some(d) => DType::parse(d)?,
                    None => DType::F32,
                };
                produced.insert(
                    name.clone(),
                    vec![vec![Input::with_batch_shape(&shape, dtype, Some(&name))]],
                );
                continue;
            }
            let nodes = spec
                .get("inbound_nodes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            // Call arguments that are options of the layer here (Attention's and
            // MultiHeadAttention's `use_causal_mask`, `return_attention_scores`).
            let mut config = config;
            if let (Some(m), Some(kw)) = (
                config.as_object_mut(),
                nodes
                    .first()
                    .and_then(|n| n.get("kwargs"))
                    .and_then(Value::as_object),
            ) {
                for key in ["use_causal_mask", "return_attention_scores"] {
                    if let Some(v) = kw.get(key).filter(|v| v.as_bool() == Some(true)) {
                        m.insert(key.into(), v.clone());
                    }
                }
            }
            let layer = layers::from_config(class, &config)?;
            pending.push((LayerRef::from_box(layer), nodes, name));
        }
        // Apply nodes whose inputs exist; repeat until all are applied.
        let mut progress = true;
        let mut cursor: Vec<usize> = vec![0; pending.len()];
        while progress {
            progress = false;
            for (i, (layer, nodes, name)) in pending.iter().enumerate() {
                while cursor[i] < nodes.len() {
                    let all_args = nodes[cursor[i]]
                        .get("args")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let args = all_args
                        .first()
                        .cloned()
                        .ok_or_else(|| bad(format!("layer {name:?}: an inbound node has no args")))?;
                    let is_tensor = |v: &Value| v.get("class_name") == Some(&json!("__keras_tensor__"));
                    let refs: Vec<Value> = match args {
                        Value::Array(v) => v,
                        // Tensors as separate arguments: MultiHeadAttention's (query, value, key).
                        _ if all_args.len() > 1 && all_args.iter().all(is_tensor) => all_args.clone(),
                        v => vec![v],
                    };
                    let mut xs = Vec::new();
                    for r in &refs {
                        let h = r
                            .pointer("/config/keras_history")
                            .and_then(Value::as_array)
                            .ok_or_else(|| bad(format!("layer {name:?}: an input has no keras_history")))?;
                        match resolve(&produced, h) {
                            Some(t) => xs.push(t),
                            None => break,
                        }
                    }
                    if xs.len() < refs.len() {
                        break;
                    }
                    let outs = layer.apply_outputs(&xs.iter().collect::<Vec<_>>())?;
                    produced.entry(name.clone()).or_default().push(outs);
                    cursor[i] += 1;
                    progress = true;
                }
            }
        }
        if let Some(i) = (0..pending.len()).find(|&i| cursor[i] < pending[i].1.len()) {
            let args = pending[i].1[cursor[i]]
                .get("args")
                .cloned()
                .unwrap_or(Value::Null);
            let op = skipped_ops
                .iter()
                .find(|(n, _)| args.to_string().contains(&format!("\"keras_history\":[\"{n}\"")));
            return Err(match op {
                Some((n, class)) => bad(format!(
                    "layer {:?} reads the output of the op {n:?} ({class}); ops in a functional \
                     graph are not supported (only those computing masks are skipped)",
                    pending[i].2
                )),
                None => bad(format!(
                    "cannot connect layer {:?}: an input is missing",
                    pending[i].2
                )),
            });
        }
        let list = |key: &str| -> Result<Vec<KerasTensor>> {
            let v = c.get(key).ok_or_else(|| bad(format!("missing {key:?}")))?;
            let items: Vec<Value> = match v.as_array() {
                Some(a) if a.first().is_some_and(Value::is_string) => vec![v.clone()],
                Some(a) => a.clone(),
                None => return Err(bad(format!("{key:?} must be a list"))),
            };
            items
                .iter()
                .map(|h| {
                    h.as_array()
                        .and_then(|h| resolve(&produced, h))
                        .ok_or_else(|| bad(format!("{key:?} refers to an unknown tensor {h}")))
                })
                .collect()
        };
        let (ins, outs) = (list("input_layers")?, list("output_layers")?);
        let mut m = Model::new(&ins.iter().collect::<Vec<_>>(), &outs.iter().collect::<Vec<_>>())?;
        if let Some(n) = c.get("name").and_then(Value::as_str) {
            m.name = n.to_string();
        }
        m.trainable = c.get("trainable").and_then(Value::as_bool).unwrap_or(true);
        Ok(m)
    }
}

fn resolve(produced: &HashMap<String, Vec<Vec<KerasTensor>>>, h: &[Value]) -> Option<KerasTensor> {
    let name = h.first()?.as_str()?;
    let node = h.get(1)?.as_u64()? as usize;
    let index = h.get(2)?.as_u64()? as usize;
    produced.get(name)?.get(node)?.get(index).cloned()
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument { op: "Model", msg }
}

/// Keras's `map_graph` order of the layers: by depth (the longest path to an output) from the
/// deepest, ties broken by the first visit of a depth-first walk from the outputs.
fn keras_layer_order(outputs: &[KerasTensor], layers: Vec<LayerRef>) -> Vec<LayerRef> {
    let key = |n: &Arc<Node>| Arc::as_ptr(n) as usize;
    let mut visit_order: Vec<LayerRef> = Vec::new();
    let mut finished: std::collections::HashSet<usize> = Default::default();
    let mut post: Vec<Arc<Node>> = Vec::new();
    for out in outputs {
        let Origin::Node { node, .. } = &out.0.origin else {
            continue;
        };
        let mut stack: Vec<(Arc<Node>, bool)> = vec![(node.clone(), false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                if finished.insert(key(&n)) {
                    post.push(n);
                }
                continue;
            }
            if finished.contains(&key(&n)) {
                continue;
            }
            if !visit_order.iter().any(|l| l.same_as(&n.layer)) {
                visit_order.push(n.layer.clone());
            }
            stack.push((n.clone(), true));
            for x in n.inputs.iter().rev() {
                if let Origin::Node { node: m, .. } = &x.0.origin {
                    stack.push((m.clone(), false));
                }
            }
        }
    }
    let mut node_depth: HashMap<usize, usize> = HashMap::new();
    let mut layer_depth: Vec<usize> = vec![0; visit_order.len()];
    let index_of = |l: &LayerRef| {
        visit_order
            .iter()
            .position(|v| v.same_as(l))
            .unwrap_or(usize::MAX)
    };
    for n in post.iter().rev() {
        let i = index_of(&n.layer);
        let d = node_depth.get(&key(n)).copied().unwrap_or(0).max(layer_depth[i]);
        layer_depth[i] = d;
        node_depth.insert(key(n), d);
        for x in &n.inputs {
            if let Origin::Node { node: m, .. } = &x.0.origin {
                let e = node_depth.entry(key(m)).or_insert(0);
                *e = (*e).max(d + 1);
            }
        }
    }
    let mut ordered: Vec<(usize, usize, LayerRef)> = layers
        .into_iter()
        .map(|l| {
            let i = index_of(&l);
            (layer_depth.get(i).copied().unwrap_or(0), i, l)
        })
        .collect();
    ordered.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ordered.into_iter().map(|(_, _, l)| l).collect()
}

super::saving_methods!(Model);

impl Trainer for Model {
    fn forward(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        self.run(inputs, training)
    }
    fn forward_masked(
        &self,
        inputs: &[Tensor],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        self.run_masked(inputs, &[], training)
    }
    fn variables(&self) -> Vec<Variable> {
        self.weights_all()
    }
    fn trainable_variables(&self) -> Vec<Variable> {
        Layer::trainable_weights(self)
    }
    fn compiled_slot(&mut self) -> &mut Option<Compiled> {
        self.compiled.get_mut().unwrap_or_else(|p| p.into_inner())
    }
    fn output_names(&self) -> Vec<String> {
        self.outputs.iter().map(KerasTensor::source_name).collect()
    }
    fn as_layer(&self) -> Option<&dyn Layer> {
        Some(self)
    }
}

/// A functional model used as a layer of another model.
impl Layer for Model {
    fn class_name(&self) -> &'static str {
        "Functional"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn built(&self) -> bool {
        true
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for l in &self.layers {
            l.write().set_trainable(trainable);
        }
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.build_multi(&[input_shape.to_vec()])
    }
    fn build_multi(&mut self, shapes: &[Shape]) -> Result<()> {
        self.compute_output_shapes(shapes).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        let mut v = self.compute_output_shapes(&[input_shape.to_vec()])?;
        if v.len() != 1 {
            return Err(invalid(format!("model {:?} has {} outputs", self.name, v.len())));
        }
        Ok(v.remove(0))
    }
    fn compute_output_shapes(&self, shapes: &[Shape]) -> Result<Vec<Shape>> {
        if shapes.len() != self.inputs.len() {
            return Err(layers::arity_error(
                &self.name,
                &format!("{} input(s)", self.inputs.len()),
                shapes.len(),
            ));
        }
        for (k, s) in self.inputs.iter().zip(shapes) {
            let ok = s.len() == k.shape().len()
                && k.shape()[1..]
                    .iter()
                    .zip(&s[1..])
                    .all(|(e, d)| e.is_none() || d.is_none() || e == d);
            if !ok {
                return Err(invalid(format!(
                    "model {:?} input {:?} expects {}, got {}",
                    self.name,
                    k.source_name(),
                    fmt_shape(k.shape()),
                    fmt_shape(s)
                )));
            }
        }
        Ok(self.outputs.iter().map(|o| o.shape().to_vec()).collect())
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let mut v = self.run(std::slice::from_ref(x), training)?;
        if v.len() != 1 {
            return Err(invalid(format!(
                "model {:?} has {} outputs: use call_multi",
                self.name,
                v.len()
            )));
        }
        Ok(v.remove(0))
    }
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        self.run(inputs, training)
    }
    fn supports_masking(&self) -> bool {
        true
    }
    fn call_masked(&self, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Result<Tensor> {
        let (mut v, _) = self.run_masked(std::slice::from_ref(x), &[mask.cloned()], training)?;
        if v.len() != 1 {
            return Err(invalid(format!(
                "model {:?} has {} outputs: use call_multi",
                self.name,
                v.len()
            )));
        }
        Ok(v.remove(0))
    }
    /// Runs the graph (for its output's mask): prefer [`Layer::call_multi_masked`], which
    /// gives both from one run.
    fn compute_mask(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        keras_tensor::no_grad(|| {
            let (_, mut m) = self.run_masked(std::slice::from_ref(x), &[mask.cloned()], false)?;
            Ok(if m.is_empty() { None } else { m.remove(0) })
        })
    }
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        self.run_masked(inputs, masks, training)
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights_all()
    }
    fn trainable_weights(&self) -> Vec<Variable> {
        if !self.trainable {
            return Vec::new();
        }
        self.layers
            .iter()
            .flat_map(|l| l.read().trainable_weights())
            .collect()
    }
    fn non_trainable_weights(&self) -> Vec<Variable> {
        let t = self.trainable_weights();
        self.weights_all()
            .into_iter()
            .filter(|w| !t.iter().any(|x| x.same_as(w)))
            .collect()
    }
    fn get_config(&self) -> Value {
        Model::get_config(self)
    }
    fn sublayers(&self) -> Vec<LayerRef> {
        self.layers.clone()
    }
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        vec![(String::new(), Vec::new())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Dense;
    use crate::trainers::{CompileArgs, Trainer};
    use crate::{losses, optimizers, FitArgs};
    use keras_tensor::Device;

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        Tensor::random_normal(shape, 0.0, 1.0, seed, DType::F32, &Device::Cpu).unwrap()
    }

    /// Keras 3.15 on the same graph prints dense 15, out 8, total 23, and names the
    /// connections `input_layer[0][0]`, `bb[0][0]`, `dense[0][0]`, `dense[1][0]`.
    fn shared_graph() -> (Model, KerasTensor, KerasTensor) {
        let a = Input::named(&[4], "a_in");
        let b = Input::named(&[4], "bb");
        let shared = LayerRef::new(Dense::new(3).name("shared"));
        let x = shared.apply(&a).unwrap();
        let y = shared.apply(&b).unwrap();
        let out = Dense::new(2).name("out").apply(&x).unwrap();
        let out2 = Dense::new(1).name("aux").apply(&y).unwrap();
        (Model::new(&[&a, &b], &[&out, &out2]).unwrap(), a, b)
    }

    #[test]
    fn shared_layers_multi_io_summary_and_config_round_trip() {
        let (model, _, _) = shared_graph();
        assert_eq!(model.layers().len(), 3);
        assert_eq!(model.count_params(), 15 + 8 + 4);
        let s = model.summary();
        assert!(
            s.contains("Connected to") && s.contains("a_in[0][0], bb[0][0]") || s.contains("a_in[0][0],"),
            "{s}"
        );
        assert!(s.contains("shared[1][0]"), "{s}");
        let config = model.get_config();
        let again = Model::from_config(&config).unwrap();
        assert_eq!(again.get_config(), config);
        assert_eq!(again.count_params(), model.count_params());
    }

    /// Call options are saved in the node's kwargs (not the layer config) and read back.
    #[test]
    fn call_options_round_trip_through_node_kwargs() {
        let x = Input::named(&[5, 4], "x");
        let mha = crate::layers::MultiHeadAttention::new(2, 3)
            .use_causal_mask(true)
            .return_attention_scores(true);
        let outs = LayerRef::new(mha).apply_outputs(&[&x, &x]).unwrap();
        let att = crate::layers::Attention::new().use_causal_mask(true);
        let y = att.apply_list(&[&outs[0], &x]).unwrap();
        let model = Model::new(&[&x], &[&y, &outs[1]]).unwrap();
        let config = model.get_config();
        let layers = config["layers"].as_array().unwrap();
        for (i, want) in [
            (
                1,
                json!({"use_causal_mask": true, "return_attention_scores": true}),
            ),
            (2, json!({"use_causal_mask": true})),
        ] {
            assert_eq!(layers[i]["inbound_nodes"][0]["kwargs"], want);
            assert!(layers[i]["config"].get("use_causal_mask").is_none());
        }
        let again = Model::from_config(&config).unwrap();
        assert_eq!(again.get_config(), config);
        let xs = randn(&[2, 5, 4], 1);
        let (a, b) = (
            model.call_multi(std::slice::from_ref(&xs), false).unwrap(),
            again.call_multi(&[xs], false).unwrap(),
        );
        // Both causal: query step 0 gives key step 1 no weight (the reload has new weights).
        for d in [&a[1], &b[1]] {
            assert_eq!(d.shape(), &[2, 2, 5, 5]);
            assert_eq!(d.to_vec::<f32>().unwrap()[1], 0.0);
        }
    }

    /// The table Keras 3.15 printed (80-column terminal) for
    /// `a=Input((4,)); b=Input((4,), name="bb"); d=Dense(3); x=d(a); y=d(b);
    /// z=Add()([x, y]); o=Dense(2, name="out")(z); Model([a, b], [o, x]).summary()`.
    #[test]
    fn summary_matches_keras_for_a_shared_layer_graph() {
        let a = Input::named(&[4], "input_layer");
        let b = Input::named(&[4], "bb");
        let d = LayerRef::new(Dense::new(3).name("dense"));
        let (x, y) = (d.apply(&a).unwrap(), d.apply(&b).unwrap());
        let z = crate::layers::Add::new()
            .name("add")
            .apply_list(&[&x, &y])
            .unwrap();
        let o = Dense::new(2).name("out").apply(&z).unwrap();
        let model = Model::new(&[&a, &b], &[&o, &x]).unwrap().name("functional");
        let keras = "\
Model: \"functional\"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ input_layer         │ (None, 4)         │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ bb (InputLayer)     │ (None, 4)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense (Dense)       │ (None, 3)         │         15 │ input_layer[0][0… │
│                     │                   │            │ bb[0][0]          │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (Add)           │ (None, 3)         │          0 │ dense[0][0],      │
│                     │                   │            │ dense[1][0]       │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ out (Dense)         │ (None, 2)         │          8 │ add[0][0]         │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 23 (92.00 B)
 Trainable params: 23 (92.00 B)
 Non-trainable params: 0 (0.00 B)
";
        assert_eq!(model.summary(), keras);
    }

    #[test]
    fn multi_output_training_logs_each_output() {
        crate::set_random_seed(1);
        let (mut model, _, _) = shared_graph();
        model
            .compile_with(CompileArgs {
                optimizer: optimizers::get("adam").unwrap(),
                loss: vec![losses::get("mse").unwrap()],
                loss_weights: Some(vec![1.0, 0.5]),
                metrics: vec!["mae".into()],
            })
            .unwrap();
        let (xa, xb) = (randn(&[32, 4], 1), randn(&[32, 4], 2));
        let (ya, yb) = (randn(&[32, 2], 3), randn(&[32, 1], 4));
        let h = model
            .fit(
                [&xa, &xb],
                [&ya, &yb],
                FitArgs {
                    epochs: 2,
                    verbose: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        for k in ["loss", "out_loss", "aux_loss", "out_mae", "aux_mae"] {
            assert!(h.history.contains_key(k), "{k} missing: {:?}", h.history.keys());
        }
        let total = h.history["loss"][1];
        let parts = h.history["out_loss"][1] + 0.5 * h.history["aux_loss"][1];
        // The epoch mean of per-batch totals equals the weighted sum of the epoch means.
        assert!(
            (total - parts).abs() < 1e-5 * total.abs().max(1.0),
            "{total} vs {parts}"
        );
        let p = model.predict_multi([&xa, &xb], 8).unwrap();
        assert_eq!(
            (p[0].shape(), p[1].shape()),
            (&[32usize, 2][..], &[32usize, 1][..])
        );
        assert!(model.predict([&xa, &xb], 8).is_err());
        assert!(model
            .fit([&xa, &xb], &ya, FitArgs::default())
            .unwrap_err()
            .to_string()
            .contains("2 output"));
    }

    #[test]
    fn nested_models_and_freezing() {
        let x = Input::new(&[5]);
        let inner =
            crate::Sequential::new(vec![Box::new(Dense::new(4)), Box::new(Dense::new(3))]).input_shape(&[5]);
        let inner = LayerRef::new(inner);
        let h = inner.apply(&x).unwrap();
        let y = Dense::new(1).apply(&h).unwrap();
        let mut model = Model::new(&[&x], &[&y]).unwrap();
        assert_eq!(model.count_params(), 24 + 15 + 4);
        assert_eq!(Trainer::trainable_variables(&model).len(), 6);
        inner.write().set_trainable(false);
        assert_eq!(Trainer::trainable_variables(&model).len(), 2);
        let s = model.summary();
        assert!(
            s.contains("(Sequential)") && s.contains("Non-trainable params: 39"),
            "{s}"
        );
        model
            .compile(optimizers::get("sgd").unwrap(), losses::get("mse").unwrap(), &[])
            .unwrap();
        let frozen = inner.read().weights()[0].value().to_vec::<f32>().unwrap();
        model
            .fit(
                randn(&[8, 5], 1),
                randn(&[8, 1], 2),
                FitArgs {
                    verbose: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(inner.read().weights()[0].value().to_vec::<f32>().unwrap(), frozen);
    }

    #[test]
    fn bad_graphs_are_rejected_with_names() {
        let a = Input::named(&[3], "first");
        let b = Input::named(&[3], "second");
        let y = Dense::new(2).apply(&b).unwrap();
        let e = Model::new(&[&a], &[&y]).unwrap_err().to_string();
        assert!(e.contains("disconnected") && e.contains("second"), "{e}");
        let h = Dense::new(2).name("same").apply(&a).unwrap();
        let z = Dense::new(2).name("same").apply(&h).unwrap();
        assert!(Model::new(&[&a], &[&z]).unwrap_err().to_string().contains("same"));
        let e = Dense::new(2)
            .name("d4")
            .apply(&Input::new(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("d4"), "{e}");
        let model = Model::new(&[&a], &[&h]).unwrap();
        let e = model.run(&[randn(&[2, 4], 1)], false).unwrap_err().to_string();
        assert!(
            e.contains("first") && e.contains("(None, 3)") && e.contains("[2, 4]"),
            "{e}"
        );
    }
}
