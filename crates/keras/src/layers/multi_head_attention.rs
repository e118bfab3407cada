//! `MultiHeadAttention`: scaled dot-product attention with learned projections per head.

use super::attention::causal_mask;
use super::{
    arity_error, base_config, config_name, field, shape_error, unique_name, Layer, Shape, WeightRules,
};
use crate::initializers::Initializer;
use crate::random::next_seed;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Map, Value};

fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "MultiHeadAttention",
        msg,
    }
}

/// One projection (Keras's `EinsumDense` sublayer): kernel and optional bias.
struct Proj {
    kernel: Variable,
    bias: Option<Variable>,
}

/// The masks Keras merges into one attention mask (nonzero: may attend). `query`, `value`,
/// `key` are the inputs' Keras masks (shaped as the input without its last axis).
#[derive(Default, Clone, Copy)]
struct Masks<'a> {
    attention: Option<&'a Tensor>,
    query: Option<&'a Tensor>,
    value: Option<&'a Tensor>,
    key: Option<&'a Tensor>,
}

/// Multi-head attention, as `keras.layers.MultiHeadAttention`.
///
/// Inputs `[query (batch, T…, dim_q), value (batch, S…, dim_v)]` or `[query, value, key
/// (batch, S…, dim_k)]` (the key defaults to the value); in a model, `apply_list(&[&q, &v])`.
/// Each of `num_heads` heads projects the query and key to `key_dim` and the value to
/// `value_dim` (default `key_dim`), computes `softmax(q·kᵀ / √key_dim)` over the attention
/// axes (dropout on it while training), and weighs the values; the heads' results are
/// projected to the query's last dimension (or `output_shape`).
///
/// `attention_axes` (Keras's argument; axes of the inputs, negative ones counted from the
/// projected rank minus one as in Keras) are the axes attended over; the default is every axis
/// between the batch and the features. The other middle axes are batch-like: query, key and
/// value must agree on them. The attention weights come in Keras's layout `(batch, <axes not
/// attended over>, heads, <query's attention axes>, <key's attention axes>)`, `(batch, heads,
/// T, S)` for rank-3 inputs.
///
/// `use_gate` (Keras 3.15's gated attention) adds a fourth projection of the query, `gate`,
/// with a sigmoid: each head's attention result is multiplied by it elementwise before the
/// output projection.
///
/// Weights, in Keras's order and shapes (its `EinsumDense` sublayers `query`, `key`, `gate`,
/// `value`, `attention_output`): `query/kernel (dim_q, heads, key_dim)`, `query/bias (heads,
/// key_dim)`, the same for `key`, with `use_gate` `gate/kernel (dim_q, heads, value_dim)` and
/// `gate/bias (heads, value_dim)`, then `value` (`value_dim`), `attention_output/kernel (heads,
/// value_dim, *output_shape)` and `attention_output/bias (*output_shape)`; saved under
/// `query_dense/vars`, `key_dense/vars`, `_gate_dense/vars`, `value_dense/vars`,
/// `output_dense/vars` as Keras does.
///
/// Call options (Keras's call arguments, set on the layer here): `use_causal_mask`,
/// `return_attention_scores` (adds the attention weights as a second output). A functional
/// model saves them in the node's `kwargs`, as Keras does, and reads them from there; they are
/// not part of [`Layer::get_config`]. An explicit `attention_mask` goes through
/// [`MultiHeadAttention::attend`]. Keras masks on the inputs (from `Embedding(mask_zero)` or
/// `Masking`) become the attention mask, as in Keras: a masked value step is attended by no
/// query; the output keeps the query's mask. A query step with nothing to attend to (a masked
/// query step) gets the weights Keras on JAX gives it: 0 where Keras runs its einsum path,
/// uniform where it runs its fused `dot_product_attention` (rank-3 inputs, no dropout, weights
/// not returned).
///
/// Masks combine as Keras combines them: the query's mask `(batch, T…)` gets a trailing axis,
/// the value's and key's masks get one before their last axis, the causal mask is `(1, T, S)`
/// over the inputs' axis 1, the `sliding_window` band `|i - j| < window` too; these and the
/// `attention_mask` are broadcast together, then given axes in front of the attention axes
/// until they have the weights' rank. A mask that then does not broadcast to the weights is an
/// error, where Keras fails too (for rank > 3 inputs, the causal mask and the inputs' masks
/// fit only some `attention_axes`, as in Keras).
///
/// ```
/// use keras::layers::{Layer, MultiHeadAttention};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut mha = MultiHeadAttention::new(2, 4);
/// mha.build_multi(&[vec![None, Some(5), Some(8)], vec![None, Some(7), Some(6)]])?;
/// assert_eq!(mha.count_params(), (8 * 8 + 8) + (6 * 8 + 8) * 2 + (8 * 8 + 8));
/// let q = Tensor::ones(&[2, 5, 8], DType::F32, &Device::Cpu)?;
/// let v = Tensor::ones(&[2, 7, 6], DType::F32, &Device::Cpu)?;
/// assert_eq!(mha.call_multi(&[q, v], false)?[0].shape(), &[2, 5, 8]);
///
/// // Rank-4 inputs attending over axis 2 only, gated, with the attention weights.
/// let mut mha = MultiHeadAttention::new(2, 4)
///     .attention_axes(&[2])
///     .use_gate(true)
///     .return_attention_scores(true);
/// let x = Tensor::ones(&[2, 3, 5, 8], DType::F32, &Device::Cpu)?;
/// mha.build_multi(&vec![vec![None, Some(3), Some(5), Some(8)]; 2])?;
/// let ys = mha.call_multi(&[x.clone(), x], false)?;
/// assert_eq!(ys[1].shape(), &[2, 3, 2, 5, 5]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct MultiHeadAttention {
    name: String,
    trainable: bool,
    num_heads: usize,
    key_dim: usize,
    value_dim: usize,
    dropout: f64,
    use_bias: bool,
    use_gate: bool,
    output_shape: Option<Vec<usize>>,
    /// As given (`None`: the default); after build, resolved as Keras reports it.
    attention_axes: Option<Vec<isize>>,
    sliding_window: Option<usize>,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_rules: WeightRules,
    bias_rules: WeightRules,
    activity_regularizer: Option<Regularizer>,
    seed: Option<u64>,
    use_causal_mask: bool,
    return_attention_scores: bool,
    /// query, key, value, attention_output.
    proj: Vec<Proj>,
    /// With `use_gate`: the gate's projection of the query.
    gate: Option<Proj>,
}

/// Parses an int or a list of ints (Keras accepts both for `output_shape`, `attention_axes`).
fn int_or_list<T: serde::de::DeserializeOwned>(c: &Value, key: &str) -> Result<Option<Vec<T>>> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(_)) => Ok(Some(vec![
            field(&json!({ "v": v }), "v", None)?.ok_or_else(|| invalid(format!("invalid {key} {v}")))?
        ])),
        Some(v) => Ok(Some(field(&json!({ "v": v }), "v", Vec::new())?)),
    }
}

/// Keras's broadcast of masks (NumPy rules), as booleans; the error names both shapes.
fn and_masks(a: Option<Tensor>, b: Tensor) -> Result<Tensor> {
    let b = b.cast(DType::Bool)?;
    let Some(a) = a else { return Ok(b) };
    a.logical_and(&b).map_err(|_| {
        invalid(format!(
            "masks of shapes {:?} and {:?} do not broadcast together",
            a.shape(),
            b.shape()
        ))
    })
}

impl MultiHeadAttention {
    /// `num_heads` heads of size `key_dim`, Keras's defaults otherwise (`value_dim =
    /// key_dim`, bias, no gate, no dropout, the default attention axes, `glorot_uniform`
    /// kernels, zero biases).
    pub fn new(num_heads: usize, key_dim: usize) -> MultiHeadAttention {
        MultiHeadAttention {
            name: unique_name("multi_head_attention"),
            trainable: true,
            num_heads,
            key_dim,
            value_dim: key_dim,
            dropout: 0.0,
            use_bias: true,
            use_gate: false,
            output_shape: None,
            attention_axes: None,
            sliding_window: None,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            bias_initializer: Initializer::Zeros,
            kernel_rules: WeightRules::default(),
            bias_rules: WeightRules::default(),
            activity_regularizer: None,
            seed: None,
            use_causal_mask: false,
            return_attention_scores: false,
            proj: Vec::new(),
            gate: None,
        }
    }
    /// Size of each head for the value.
    pub fn value_dim(mut self, d: usize) -> MultiHeadAttention {
        self.value_dim = d;
        self
    }
    /// Fraction of the attention weights dropped while training.
    ///
    /// # Errors
    /// Outside `[0, 1)`.
    pub fn dropout(mut self, rate: f64) -> Result<MultiHeadAttention> {
        if !(0.0..1.0).contains(&rate) {
            return Err(invalid(format!("dropout must be in [0, 1), got {rate}")));
        }
        self.dropout = rate;
        Ok(self)
    }
    /// With or without the projections' biases.
    pub fn use_bias(mut self, v: bool) -> MultiHeadAttention {
        self.use_bias = v;
        self
    }
    /// Gated attention (Keras's `use_gate`): the heads' results are multiplied by
    /// `sigmoid(gate(query))` before the output projection.
    ///
    /// ```
    /// use keras::layers::{Layer, MultiHeadAttention};
    /// let mut m = MultiHeadAttention::new(2, 3).use_gate(true);
    /// m.build_multi(&vec![vec![None, Some(4), Some(5)]; 2])?;
    /// assert_eq!(m.weights()[4].shape(), vec![5, 2, 3]); // gate/kernel, after key/bias
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn use_gate(mut self, v: bool) -> MultiHeadAttention {
        self.use_gate = v;
        self
    }
    /// The axes attended over (Keras's `attention_axes`): axes of the inputs between the
    /// batch and the features (negative ones count from the end, as in Keras: `-2` is the
    /// last of them); the other middle axes are batch-like. Checked at build.
    ///
    /// ```
    /// use keras::layers::{Layer, MultiHeadAttention};
    /// let m = MultiHeadAttention::new(2, 3).attention_axes(&[1]).return_attention_scores(true);
    /// let s = vec![None, Some(4), Some(6), Some(5)];
    /// // (batch, axis 2, heads, axis 1 of the query, axis 1 of the key)
    /// assert_eq!(m.compute_output_shapes(&[s.clone(), s])?[1], vec![None, Some(6), Some(2), Some(4), Some(4)]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn attention_axes(mut self, axes: &[isize]) -> MultiHeadAttention {
        self.attention_axes = Some(axes.to_vec());
        self
    }
    /// Keras's `sliding_window`: query step `i` attends to key steps `j` with `|i - j| <
    /// window` only (over the inputs' axis 1; combine with the causal mask for a causal band).
    ///
    /// # Errors
    /// For a zero window.
    pub fn sliding_window(mut self, window: usize) -> Result<MultiHeadAttention> {
        if window == 0 {
            return Err(invalid("sliding_window must be a positive integer, got 0".into()));
        }
        self.sliding_window = Some(window);
        Ok(self)
    }
    /// The output's trailing shape (default: the query's last dimension).
    pub fn output_shape(mut self, shape: &[usize]) -> MultiHeadAttention {
        self.output_shape = Some(shape.to_vec());
        self
    }
    /// Position `i` attends to positions `j <= i` only (over the inputs' axis 1, as Keras).
    pub fn use_causal_mask(mut self, v: bool) -> MultiHeadAttention {
        self.use_causal_mask = v;
        self
    }
    /// Also output the attention weights (`(batch, heads, T, S)` for rank-3 inputs).
    pub fn return_attention_scores(mut self, v: bool) -> MultiHeadAttention {
        self.return_attention_scores = v;
        self
    }
    /// Sets the kernels' initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn kernel_initializer(mut self, name: &str) -> Result<MultiHeadAttention> {
        self.kernel_initializer = Initializer::get(name)?;
        Ok(self)
    }
    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> MultiHeadAttention {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config. Also reads `use_causal_mask` and
    /// `return_attention_scores` when present: Keras passes them to `call` (a functional
    /// model's file keeps them in the node's `kwargs`), here they are options of the layer.
    ///
    /// # Errors
    /// For invalid sizes, rates or windows (`attention_axes` are checked at build).
    pub fn from_config(c: &Value) -> Result<MultiHeadAttention> {
        let num_heads: usize = field(c, "num_heads", 0)?;
        let key_dim: usize = field(c, "key_dim", 0)?;
        if num_heads == 0 || key_dim == 0 {
            return Err(invalid("num_heads and key_dim must be positive integers".into()));
        }
        let mut m = MultiHeadAttention::new(num_heads, key_dim)
            .dropout(field(c, "dropout", 0.0)?)?
            .use_bias(field(c, "use_bias", true)?)
            .use_gate(field(c, "use_gate", false)?);
        if let Some(w) = field::<Option<usize>>(c, "sliding_window", None)? {
            m = m.sliding_window(w)?;
        }
        let vd: Option<usize> = field(c, "value_dim", None)?;
        m.value_dim = vd.filter(|&d| d > 0).unwrap_or(key_dim);
        m.output_shape = int_or_list(c, "output_shape")?;
        m.attention_axes = int_or_list(c, "attention_axes")?;
        for (key, slot) in [
            ("kernel_initializer", &mut m.kernel_initializer),
            ("bias_initializer", &mut m.bias_initializer),
        ] {
            if let Some(v) = c.get(key) {
                *slot = Initializer::from_config(v)?;
            }
        }
        m.kernel_rules = WeightRules::from_config(c, "kernel")?;
        m.bias_rules = WeightRules::from_config(c, "bias")?;
        m.activity_regularizer =
            Regularizer::from_config(c.get("activity_regularizer").unwrap_or(&Value::Null))?;
        m.seed = field(c, "seed", None)?;
        // Keras's call arguments, options of the layer here (not written by get_config).
        m.use_causal_mask = field(c, "use_causal_mask", false)?;
        m.return_attention_scores = field(c, "return_attention_scores", false)?;
        m.name = config_name(c, "multi_head_attention")?;
        m.trainable = field(c, "trainable", true)?;
        Ok(m)
    }

    /// The attention axes for inputs of rank `rank`, as Keras resolves them (a negative
    /// axis `a` is `a + rank`: Keras adds the projected rank minus one).
    fn resolved_axes(&self, rank: usize) -> Result<Vec<usize>> {
        let Some(axes) = &self.attention_axes else {
            return Ok((1..rank - 1).collect());
        };
        let mut out = Vec::new();
        for &a in axes {
            let n = if a < 0 { a + rank as isize } else { a };
            if n < 1 || n > rank as isize - 2 || out.contains(&(n as usize)) {
                return Err(invalid(format!(
                    "layer {:?}: invalid attention_axes {axes:?} for rank-{rank} inputs: each axis \
                     must be one of the axes between the batch and the features (1..={}), once",
                    self.name,
                    rank - 2
                )));
            }
            out.push(n as usize);
        }
        if out.is_empty() {
            return Err(invalid(format!(
                "layer {:?}: attention_axes must name at least one axis",
                self.name
            )));
        }
        Ok(out)
    }

    /// Checks the input shapes; returns the output's trailing shape.
    fn check(&self, shapes: &[Shape]) -> Result<Vec<Option<usize>>> {
        if !(2..=3).contains(&shapes.len()) {
            return Err(arity_error(
                &self.name,
                "2 or 3 inputs [query, value, key]",
                shapes.len(),
            ));
        }
        let (q, v) = (&shapes[0], &shapes[1]);
        let k = shapes.get(2).unwrap_or(v);
        for s in [q, v, k] {
            if s.len() < 3 {
                return Err(shape_error(
                    &self.name,
                    "inputs of rank >= 3 (batch, T, ..., dim)",
                    s,
                ));
            }
            if s[s.len() - 1].is_none() {
                return Err(shape_error(&self.name, "a known last dimension", s));
            }
        }
        if v[1..v.len() - 1] != k[1..k.len() - 1] {
            return Err(invalid(format!(
                "all dimensions of `value` and `key`, except the last one, must be equal; got \
                 value_shape={} and key_shape={}",
                super::fmt_shape(v),
                super::fmt_shape(k)
            )));
        }
        if q.len() != v.len() {
            return Err(invalid(format!(
                "query and value must have the same rank, got {} and {}",
                super::fmt_shape(q),
                super::fmt_shape(v)
            )));
        }
        let axes = self.resolved_axes(q.len())?;
        for a in (1..q.len() - 1).filter(|a| !axes.contains(a)) {
            if let (Some(dq), Some(dk)) = (q[a], k[a]) {
                if dq != dk {
                    return Err(invalid(format!(
                        "layer {:?}: axis {a} is not an attention axis ({axes:?}), so query and \
                         key must agree on it; got {} and {}",
                        self.name,
                        super::fmt_shape(q),
                        super::fmt_shape(k)
                    )));
                }
            }
        }
        Ok(match &self.output_shape {
            Some(s) => s.iter().map(|&d| Some(d)).collect(),
            None => vec![q[q.len() - 1]],
        })
    }

    /// The attention weights' shape in Keras's layout: `(batch, <middle axes not attended
    /// over>, heads, <query's attention axes>, <key's attention axes>)`.
    fn scores_shape(&self, q: &Shape, k: &Shape) -> Result<Shape> {
        let axes = self.resolved_axes(q.len())?;
        let mut s: Shape = (0..q.len() - 1)
            .filter(|a| !axes.contains(a))
            .map(|a| q[a])
            .collect();
        s.push(Some(self.num_heads));
        s.extend(axes.iter().map(|&a| q[a]));
        s.extend(axes.iter().map(|&a| k[a]));
        Ok(s)
    }

    fn new_proj(&self, kernel_shape: &[usize], bias_shape: &[usize]) -> Result<Proj> {
        Ok(Proj {
            kernel: self.kernel_rules.attach(Variable::new(
                "kernel",
                self.kernel_initializer.sample(kernel_shape, DType::F32)?,
                true,
            )),
            bias: if self.use_bias {
                Some(self.bias_rules.attach(Variable::new(
                    "bias",
                    self.bias_initializer.sample(bias_shape, DType::F32)?,
                    true,
                )))
            } else {
                None
            },
        })
    }

    /// Multi-head attention on `query`, `value` and `key` (default: `value`) with an optional
    /// `attention_mask` (nonzero: may attend), Keras's `attention_mask` call argument:
    /// `(batch, T, S)` for rank-3 inputs, in general the attention weights' shape without the
    /// heads' axis or any shape that Keras's expansion broadcasts (see the type's docs). The
    /// causal mask and the sliding window, if set, apply on top. Returns the output and the
    /// attention weights (see [`MultiHeadAttention`] for their layout).
    ///
    /// ```
    /// use keras::layers::{Layer, MultiHeadAttention};
    /// use keras_tensor::{DType, Device, Tensor};
    /// let mut m = MultiHeadAttention::new(1, 2);
    /// m.build_multi(&vec![vec![None, Some(2), Some(3)]; 2])?;
    /// let x = Tensor::ones(&[1, 2, 3], DType::F32, &Device::Cpu)?;
    /// let mask = Tensor::new(&[1.0f32, 0.0, 1.0, 1.0], &[1, 2, 2])?;
    /// let (_, w) = m.attend(&x, &x, None, Some(&mask), false)?;
    /// assert_eq!(w.to_vec::<f32>()?[1], 0.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the layer is not built, the shapes do not match its build, or the mask does not
    /// broadcast.
    pub fn attend(
        &self,
        query: &Tensor,
        value: &Tensor,
        key: Option<&Tensor>,
        attention_mask: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Tensor)> {
        let masks = Masks {
            attention: attention_mask,
            ..Masks::default()
        };
        self.attend_masked(query, value, key, masks, training)
    }

    fn attend_masked(
        &self,
        query: &Tensor,
        value: &Tensor,
        key: Option<&Tensor>,
        masks: Masks,
        training: bool,
    ) -> Result<(Tensor, Tensor)> {
        if self.proj.is_empty() {
            return Err(invalid(format!("layer {:?} is not built", self.name)));
        }
        let w: Vec<Tensor> = self.weights().iter().map(Variable::value).collect();
        let key = key.unwrap_or(value);
        self.compute(&[query.clone(), value.clone(), key.clone()], &w, masks, training)
    }

    /// Keras's `_compute_attention_mask`: the inputs' masks, the causal mask and the sliding
    /// window merged with the `attention_mask` (NumPy broadcasting), as booleans.
    fn merged_mask(&self, q: &Tensor, v: &Tensor, masks: Masks) -> Result<Option<Tensor>> {
        let mut auto: Option<Tensor> = None;
        if let Some(m) = masks.query {
            auto = Some(and_masks(auto, m.expand_dims(-1)?)?);
        }
        for m in [masks.value, masks.key].into_iter().flatten() {
            auto = Some(and_masks(auto, m.expand_dims(-2)?)?);
        }
        let (tq, ts) = (q.shape()[1], v.shape()[1]);
        if self.use_causal_mask {
            let c = causal_mask(tq, ts, DType::F32, q.device())?.reshape_to(&[1, tq, ts])?;
            auto = Some(and_masks(auto, c)?);
        }
        if let Some(win) = self.sliding_window {
            let band: Vec<f32> = (0..tq)
                .flat_map(|i| (0..ts).map(move |j| if i.abs_diff(j) < win { 1.0 } else { 0.0 }))
                .collect();
            let band = Tensor::from_vec(band, &[1, tq, ts], q.device())?;
            auto = Some(and_masks(auto, band)?);
        }
        Ok(match (masks.attention, auto) {
            (Some(a), auto) => Some(and_masks(auto, a.clone())?),
            (None, auto) => auto,
        })
    }

    /// The computation with the weights given as tensors (in [`Layer::weights`] order).
    ///
    /// Keras's einsums, as products of permuted tensors: each projected input `(batch, T…,
    /// heads, size)` is permuted to `(<batch axes>, <attention axes>, size)` (the batch axes
    /// being the batch, the middle axes not attended over and the heads) and flattened to
    /// `(B, T, size)`; the products and the softmax run on those, and the result is permuted
    /// back.
    fn compute(
        &self,
        inputs: &[Tensor],
        w: &[Tensor],
        masks: Masks,
        training: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (q, v) = (&inputs[0], &inputs[1]);
        let k = inputs.get(2).unwrap_or(v);
        let shape_of = |t: &Tensor| -> Shape { t.shape().iter().map(|&d| Some(d)).collect() };
        let shapes: Vec<Shape> = [q, v, k].iter().map(|t| shape_of(t)).collect();
        self.check(&shapes)?;
        let (h, kd, vd) = (self.num_heads, self.key_dim, self.value_dim);
        let mut w = w.iter();
        let mut next = |bias: bool| -> Result<Option<&Tensor>> {
            if bias && !self.use_bias {
                return Ok(None);
            }
            w.next()
                .map(Some)
                .ok_or_else(|| invalid(format!("layer {:?} is not built", self.name)))
        };
        let mut pw = Vec::new();
        for _ in 0..4 + usize::from(self.use_gate) {
            let kern = next(false)?.expect("a kernel");
            pw.push((kern, next(true)?));
        }
        // Keras's order: query, key, (gate,) value, attention_output.
        let (pq, pk) = (pw[0], pw[1]);
        let pg = self.use_gate.then(|| pw[2]);
        let (pv, po) = (pw[pw.len() - 2], pw[pw.len() - 1]);

        // (batch, T…, dim) → (batch, T…, heads, size): one product with the (dim, heads·size)
        // kernel.
        let project = |x: &Tensor, (kern, bias): (&Tensor, Option<&Tensor>), size: usize| -> Result<Tensor> {
            let d = x.shape()[x.rank() - 1];
            let rows: usize = x.shape()[..x.rank() - 1].iter().product();
            let mut y = x
                .reshape_to(&[rows, d])?
                .matmul(&kern.reshape_to(&[d, h * size])?)?;
            if let Some(bias) = bias {
                y = y.add(&bias.reshape_to(&[h * size])?)?;
            }
            let mut shape = x.shape()[..x.rank() - 1].to_vec();
            shape.extend([h, size]);
            y.reshape_to(&shape)
        };
        let r = q.rank();
        let axes = self.resolved_axes(r)?;
        // Axes of a projected tensor (rank r + 1): batch-like ones (the heads are axis r - 1),
        // then the attention axes, then the head size.
        let batch_axes: Vec<usize> = (0..r).filter(|a| !axes.contains(a)).collect();
        let perm: Vec<usize> = batch_axes.iter().chain(&axes).copied().chain([r]).collect();
        let dims =
            |t: &Tensor, which: &[usize]| -> Vec<usize> { which.iter().map(|&a| t.shape()[a]).collect() };
        let flat = |t: &Tensor| -> Result<Tensor> {
            let nb: usize = dims(t, &batch_axes).iter().product();
            let na: usize = dims(t, &axes).iter().product();
            t.permute(&perm)?.reshape_to(&[nb, na, t.shape()[r]])
        };
        let inv_sqrt = 1.0 / (kd as f64).sqrt();
        // Keras scales the projected query, then takes the products.
        let qp = project(q, pq, kd)?;
        let kp = project(k, pk, kd)?;
        let vp = project(v, pv, vd)?;
        let scores = flat(&qp.mul_scalar(inv_sqrt)?)?.matmul(&flat(&kp)?.transpose(-2, -1)?)?;
        let (nb, tq, ts) = (scores.shape()[0], scores.shape()[1], scores.shape()[2]);
        // Keras's layout of the weights: (<batch axes>, <query's attention axes>, <key's>).
        let mut full: Vec<usize> = dims(&qp, &batch_axes);
        full.extend(dims(&qp, &axes));
        full.extend(dims(&kp, &axes));
        let dist = match self.merged_mask(q, v, masks)? {
            None => scores.softmax(-1)?,
            Some(m) => {
                // Keras's `_masked_softmax`: axes in front of the attention axes until the
                // mask has the weights' rank, then `Softmax(mask=…)`: masked scores become
                // -1e9 and masked weights 0.
                let mut m = m;
                while m.rank() < full.len() {
                    let at = m.rank() as isize + 1 - 2 * axes.len() as isize - 1;
                    if at < 0 {
                        return Err(invalid(format!(
                            "layer {:?}: an attention mask of shape {:?} cannot be expanded to the \
                             attention weights' rank {} (Keras inserts axes at -{})",
                            self.name,
                            m.shape(),
                            full.len(),
                            2 * axes.len() + 1
                        )));
                    }
                    m = m.expand_dims(at)?;
                }
                let fits =
                    m.rank() == full.len() && m.shape().iter().zip(&full).all(|(&a, &b)| a == 1 || a == b);
                if !fits {
                    return Err(invalid(format!(
                        "layer {:?}: the attention mask (merged from the inputs' masks, the \
                         causal mask, the sliding window and attention_mask) has shape {:?}, \
                         which does not broadcast to the attention weights {full:?}",
                        self.name,
                        m.shape()
                    )));
                }
                let m = m.broadcast_to(&full)?.reshape_to(&[nb, tq, ts])?;
                let s = Tensor::where_cond(&m, &scores, &scores.scalar_like(-1.0e9)?)?;
                // Shifted by the row's maximum first (the softmax does not change): a fully
                // masked row is then exactly 0, not -1e9, where float32 has no room for the
                // softmax's own shift and its weights would not sum to 1.
                let s = s.sub(&s.max(&[-1], true)?.detach())?;
                // NOTE: Keras (on JAX) takes its fused `dot_product_attention` for rank-3
                // inputs without dropout or returned weights, which leaves the weights of a
                // fully masked row uniform; its einsum path (`Softmax(mask=…)`) zeroes them.
                let fused = r == 3 && self.dropout == 0.0 && !self.return_attention_scores;
                if fused {
                    s.softmax(-1)?
                } else {
                    Tensor::where_cond(&m, &s.softmax(-1)?, &scores.scalar_like(0.0)?)?
                }
            }
        };
        let dropped = if training && self.dropout > 0.0 {
            dist.dropout(self.dropout, None, next_seed())?
        } else {
            dist.clone()
        };
        // (B, T, vd) → (<batch axes>, <attention axes>, vd) → (batch, T…, heads, vd)
        let mut unflat = dims(&qp, &batch_axes);
        unflat.extend(dims(&qp, &axes));
        unflat.push(vd);
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        let mut heads = dropped
            .matmul(&flat(&vp)?)?
            .reshape_to(&unflat)?
            .permute(&inverse)?;
        if let Some(pg) = pg {
            heads = heads.mul(&project(q, pg, vd)?.sigmoid()?)?;
        }
        // (batch·T…, heads·vd) @ (heads·vd, out) + bias → (batch, T…, *out)
        let (ok, ob) = po;
        let out_numel: usize = ok.shape()[2..].iter().product();
        let rows: usize = q.shape()[..r - 1].iter().product();
        let mut y = heads
            .reshape_to(&[rows, h * vd])?
            .matmul(&ok.reshape_to(&[h * vd, out_numel])?)?;
        if let Some(ob) = ob {
            y = y.add(&ob.reshape_to(&[out_numel])?)?;
        }
        let mut out_shape: Vec<usize> = q.shape()[..r - 1].to_vec();
        out_shape.extend(&ok.shape()[2..]);
        Ok((y.reshape_to(&out_shape)?, dist.reshape_to(&full)?))
    }
}

impl Layer for MultiHeadAttention {
    super::layer_common!("MultiHeadAttention");
    fn built(&self) -> bool {
        !self.proj.is_empty()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.build_multi(&[input_shape.to_vec()])
    }
    fn build_multi(&mut self, input_shapes: &[Shape]) -> Result<()> {
        let out = self.check(input_shapes)?;
        let dim = |s: &Shape| s[s.len() - 1].expect("checked");
        let (q, v) = (&input_shapes[0], &input_shapes[1]);
        let k = input_shapes.get(2).unwrap_or(v);
        let (h, kd, vd) = (self.num_heads, self.key_dim, self.value_dim);
        let out: Vec<usize> = out.iter().map(|d| d.unwrap_or(0)).collect();
        let mut out_kernel = vec![h, vd];
        out_kernel.extend(&out);
        // Keras builds (and draws the initial values of) query, key, gate, value, output.
        let query = self.new_proj(&[dim(q), h, kd], &[h, kd])?;
        let key = self.new_proj(&[dim(k), h, kd], &[h, kd])?;
        self.gate = if self.use_gate {
            Some(self.new_proj(&[dim(q), h, vd], &[h, vd])?)
        } else {
            None
        };
        let value = self.new_proj(&[dim(v), h, vd], &[h, vd])?;
        self.proj = vec![query, key, value, self.new_proj(&out_kernel, &out)?];
        let axes = self.resolved_axes(q.len())?;
        self.attention_axes = Some(axes.iter().map(|&a| a as isize).collect());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(self.compute_output_shapes(&[input_shape.to_vec()])?.remove(0))
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        let tail = self.check(input_shapes)?;
        let (q, v) = (&input_shapes[0], &input_shapes[1]);
        let k = input_shapes.get(2).unwrap_or(v);
        let mut out = q[..q.len() - 1].to_vec();
        out.extend(tail);
        let mut shapes = vec![out];
        if self.return_attention_scores {
            shapes.push(self.scores_shape(q, k)?);
        }
        Ok(shapes)
    }
    fn call(&self, _x: &Tensor, _training: bool) -> Result<Tensor> {
        Err(arity_error(&self.name, "2 or 3 inputs [query, value, key]", 1))
    }
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        Ok(self.call_multi_masked(inputs, &[], training)?.0)
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// Keras's automatic attention mask from the inputs' masks: `query_mask (batch, T…)` as
    /// `(batch, T…, 1)`, `value_mask` and `key_mask (batch, S…)` as `(batch, S…₋₁, 1, S)`,
    /// merged with the causal mask and the sliding window (see [`MultiHeadAttention`]). A
    /// masked value (or key) step is attended by none, a masked query step attends nowhere
    /// (see [`MultiHeadAttention`] for the weights such a step gets).
    /// The output keeps the query's mask.
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        if !(2..=3).contains(&inputs.len()) {
            return Err(arity_error(
                &self.name,
                "2 or 3 inputs [query, value, key]",
                inputs.len(),
            ));
        }
        let mask = |i: usize| masks.get(i).and_then(Option::as_ref);
        for (i, x) in inputs.iter().enumerate() {
            let Some(m) = mask(i) else { continue };
            if m.shape() != &x.shape()[..x.rank() - 1] {
                return Err(invalid(format!(
                    "layer {:?} got a mask of shape {:?} for input {i} of shape {:?}; the mask must \
                     have the input's shape without its last axis",
                    self.name,
                    m.shape(),
                    x.shape()
                )));
            }
        }
        let m = Masks {
            attention: None,
            query: mask(0),
            value: mask(1),
            key: mask(2),
        };
        let (y, dist) = self.attend_masked(&inputs[0], &inputs[1], inputs.get(2), m, training)?;
        super::activity_loss(self.activity_regularizer, &y)?;
        let query_mask = mask(0).cloned();
        Ok(if self.return_attention_scores {
            (vec![y, dist], vec![query_mask, None])
        } else {
            (vec![y], vec![query_mask])
        })
    }
    fn weights(&self) -> Vec<Variable> {
        let mut ps: Vec<&Proj> = self.proj.iter().collect();
        if let Some(g) = &self.gate {
            ps.insert(2, g);
        }
        ps.iter()
            .flat_map(|p| std::iter::once(p.kernel.clone()).chain(p.bias.clone()))
            .collect()
    }
    /// Keras's layout: the projections' variables in their sublayers' entries.
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        let vars = |p: &Proj| std::iter::once(p.kernel.clone()).chain(p.bias.clone()).collect();
        let mut v = vec![(String::new(), Vec::new())];
        for (p, path) in self
            .proj
            .iter()
            .zip(["query_dense", "key_dense", "value_dense", "output_dense"])
        {
            v.push((path.to_string(), vars(p)));
        }
        if let Some(g) = &self.gate {
            v.push(("_gate_dense".into(), vars(g)));
        }
        if !self.proj.is_empty() {
            v.push(("_softmax".into(), Vec::new()));
            v.push(("_dropout_layer".into(), Vec::new()));
        }
        v
    }
    /// `use_causal_mask` and `return_attention_scores` when set: Keras's call arguments.
    fn call_kwargs(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if self.use_causal_mask {
            m.insert("use_causal_mask".into(), json!(true));
        }
        if self.return_attention_scores {
            m.insert("return_attention_scores".into(), json!(true));
        }
        m
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("num_heads".into(), json!(self.num_heads));
        m.insert("key_dim".into(), json!(self.key_dim));
        m.insert("value_dim".into(), json!(self.value_dim));
        m.insert("dropout".into(), json!(self.dropout));
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("use_gate".into(), json!(self.use_gate));
        m.insert("output_shape".into(), json!(self.output_shape));
        m.insert("attention_axes".into(), json!(self.attention_axes));
        m.insert("sliding_window".into(), json!(self.sliding_window));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        m.insert("bias_initializer".into(), self.bias_initializer.get_config());
        m.insert(
            "kernel_regularizer".into(),
            self.kernel_rules
                .regularizer
                .map_or(Value::Null, |r| r.to_config()),
        );
        m.insert(
            "bias_regularizer".into(),
            self.bias_rules.regularizer.map_or(Value::Null, |r| r.to_config()),
        );
        m.insert(
            "activity_regularizer".into(),
            self.activity_regularizer.map_or(Value::Null, |r| r.to_config()),
        );
        m.insert(
            "kernel_constraint".into(),
            self.kernel_rules
                .constraint
                .as_ref()
                .map_or(Value::Null, |c| c.to_config()),
        );
        m.insert(
            "bias_constraint".into(),
            self.bias_rules
                .constraint
                .as_ref()
                .map_or(Value::Null, |c| c.to_config()),
        );
        m.insert("seed".into(), json!(self.seed));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keras_tensor::testing::{check_grad, randn};

    fn s(d: &[usize]) -> Shape {
        std::iter::once(None).chain(d.iter().map(|&x| Some(x))).collect()
    }

    #[test]
    fn weights_follow_keras() {
        let mut m = MultiHeadAttention::new(2, 3).value_dim(4).output_shape(&[5]);
        m.build_multi(&[s(&[5, 6]), s(&[4, 7]), s(&[4, 8])]).unwrap();
        let shapes: Vec<Vec<usize>> = m.weights().iter().map(|w| w.shape()).collect();
        assert_eq!(
            shapes,
            vec![
                vec![6, 2, 3],
                vec![2, 3],
                vec![8, 2, 3],
                vec![2, 3],
                vec![7, 2, 4],
                vec![2, 4],
                vec![2, 4, 5],
                vec![5]
            ]
        );
        let c = m.get_config();
        assert_eq!(c["attention_axes"], json!([1]));
        assert_eq!(c["output_shape"], json!([5]));
        let back = crate::layers::from_config("MultiHeadAttention", &c).unwrap();
        assert_eq!(back.get_config()["value_dim"], 4);
        let paths: Vec<String> = m.saved_variables().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths[1..5],
            ["query_dense", "key_dense", "value_dense", "output_dense"]
        );
    }

    #[test]
    fn attention_axes_are_checked() {
        let mut c = MultiHeadAttention::new(2, 3).get_config();
        for (axes, ok) in [
            (json!([2]), true),
            (json!(1), true),
            (json!([-2]), true),
            (json!([1, 2]), true),
            (json!([3]), false),
            (json!([0]), false),
            (json!([1, 1]), false),
            (json!([]), false),
        ] {
            c["attention_axes"] = axes.clone();
            let mut m = MultiHeadAttention::from_config(&c).unwrap();
            // Query and key agree on both middle axes here, so only bad axes fail.
            let r = m.build_multi(&[s(&[3, 4, 2]), s(&[3, 4, 2])]);
            assert_eq!(r.is_ok(), ok, "{axes}: {r:?}");
            if !ok {
                assert!(r.unwrap_err().to_string().contains("attention_axes"));
            }
        }
        // A batch-like axis must agree between query and key.
        let mut m = MultiHeadAttention::new(2, 3).attention_axes(&[1]);
        let e = m
            .build_multi(&[s(&[3, 4, 2]), s(&[3, 5, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("axis 2"), "{e}");
        c["attention_axes"] = json!([-2]);
        let mut m = MultiHeadAttention::from_config(&c).unwrap();
        m.build_multi(&[s(&[3, 4, 2]), s(&[3, 5, 2])]).unwrap();
        assert_eq!(m.get_config()["attention_axes"], json!([2]));
        let mut c = MultiHeadAttention::new(2, 3).get_config();
        c["sliding_window"] = json!(0);
        assert!(MultiHeadAttention::from_config(&c)
            .err()
            .unwrap()
            .to_string()
            .contains("sliding_window"));
    }

    #[test]
    fn gate_and_window_round_trip() {
        let mut m = MultiHeadAttention::new(2, 3)
            .value_dim(4)
            .use_gate(true)
            .sliding_window(2)
            .unwrap();
        m.build_multi(&[s(&[5, 6]), s(&[4, 7])]).unwrap();
        let names: Vec<Vec<usize>> = m.weights().iter().map(|w| w.shape()).collect();
        assert_eq!(names[4..6], [vec![6, 2, 4], vec![2, 4]]);
        let c = m.get_config();
        assert_eq!(
            (c["use_gate"].clone(), c["sliding_window"].clone()),
            (json!(true), json!(2))
        );
        let back = MultiHeadAttention::from_config(&c).unwrap();
        assert!(back.use_gate && back.sliding_window == Some(2));
        let paths: Vec<String> = m.saved_variables().into_iter().map(|(p, _)| p).collect();
        assert!(paths.contains(&"_gate_dense".to_string()), "{paths:?}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        // (bias, causal, output_shape, query / value / key shapes without the batch, axes,
        // gate, masks on the inputs)
        type Case = (
            bool,
            bool,
            Option<Vec<usize>>,
            [Vec<usize>; 3],
            Option<Vec<isize>>,
            bool,
            bool,
        );
        let r3 = || [vec![3, 3], vec![4, 4], vec![4, 2]];
        let cases: Vec<Case> = vec![
            (true, false, None, r3(), None, false, false),
            (false, true, Some(vec![2, 3]), r3(), None, false, false),
            (
                true,
                false,
                None,
                [vec![2, 2, 3], vec![3, 1, 4], vec![3, 1, 2]],
                None,
                false,
                false,
            ),
            (true, false, None, r3(), None, true, true),
            (
                true,
                false,
                None,
                [vec![2, 3, 3], vec![2, 2, 4], vec![2, 2, 2]],
                Some(vec![2]),
                true,
                true,
            ),
            (
                true,
                true,
                None,
                [vec![3, 2, 3], vec![3, 2, 4], vec![3, 2, 2]],
                Some(vec![1]),
                false,
                false,
            ),
            (
                false,
                false,
                None,
                [vec![2, 3, 3], vec![3, 2, 4], vec![3, 2, 2]],
                Some(vec![2, 1]),
                true,
                false,
            ),
        ];
        for (bias, causal, out_shape, [qs, vs, ks], axes, gate, masked) in cases {
            let mut m = MultiHeadAttention::new(2, 3)
                .value_dim(2)
                .use_bias(bias)
                .use_gate(gate)
                .use_causal_mask(causal);
            if let Some(o) = &out_shape {
                m = m.output_shape(o);
            }
            if let Some(a) = &axes {
                m = m.attention_axes(a);
            }
            m.build_multi(&[s(&qs), s(&vs), s(&ks)]).unwrap();
            let with_batch = |d: &[usize]| [&[2usize][..], d].concat();
            let mut args = vec![
                randn(&with_batch(&qs), 1),
                randn(&with_batch(&vs), 2),
                randn(&with_batch(&ks), 3),
            ];
            args.extend(
                m.weights()
                    .iter()
                    .enumerate()
                    .map(|(i, w)| randn(&w.shape(), 10 + i as u64)),
            );
            // Input masks hiding one query step and one value step (a row with all weights 0).
            let mask_of = |d: &[usize], hide: usize| {
                let n: usize = d[..d.len() - 1].iter().product::<usize>() * 2;
                let v: Vec<f64> = (0..n).map(|i| if i == hide { 0.0 } else { 1.0 }).collect();
                Tensor::from_vec(v, &with_batch(&d[..d.len() - 1]), &keras_tensor::Device::Cpu).unwrap()
            };
            let (qm, vm) = (mask_of(&qs, 1), mask_of(&vs, 2));
            let masks = if masked {
                Masks {
                    query: Some(&qm),
                    value: Some(&vm),
                    ..Masks::default()
                }
            } else {
                Masks::default()
            };
            let refs: Vec<&Tensor> = args.iter().collect();
            check_grad(
                &format!("mha bias={bias} causal={causal} axes={axes:?} gate={gate} masked={masked}"),
                &refs,
                |t| {
                    let (y, d) = m.compute(&t[..3], &t[3..], masks, false)?;
                    Tensor::concat(&[&y.reshape(&[-1])?, &d.reshape(&[-1])?], 0)
                },
            );
        }
    }

    #[test]
    fn attention_mask_hides_positions() {
        let mut m = MultiHeadAttention::new(1, 2);
        m.build_multi(&[s(&[2, 3]), s(&[3, 3])]).unwrap();
        let q = randn(&[1, 2, 3], 1).cast(DType::F32).unwrap();
        let v = randn(&[1, 3, 3], 2).cast(DType::F32).unwrap();
        let mask = Tensor::new(&[1.0f32, 0.0, 1.0, 1.0, 1.0, 0.0], &[1, 2, 3]).unwrap();
        let (_, d) = m.attend(&q, &v, None, Some(&mask), false).unwrap();
        let d = d.to_vec::<f32>().unwrap();
        assert_eq!((d[1], d[5]), (0.0, 0.0));
    }
}
