//! `MultiHeadAttention`: scaled dot-product attention with learned projections per head.

use super::attention::{causal_mask, mask_scores};
use super::{
    arity_error, base_config, config_name, field, shape_error, unique_name, Layer, Shape, WeightRules,
};
use crate::initializers::Initializer;
use crate::random::next_seed;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

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

/// Multi-head attention, as `keras.layers.MultiHeadAttention`.
///
/// Inputs `[query (batch, T, dim_q), value (batch, S, dim_v)]` or `[query, value, key
/// (batch, S, dim_k)]` (the key defaults to the value); in a model, `apply_list(&[&q, &v])`.
/// Each of `num_heads` heads projects the query and key to `key_dim` and the value to
/// `value_dim` (default `key_dim`), computes `softmax(q·kᵀ / √key_dim)` over `S` (dropout on
/// it while training), and weighs the values; the heads' results are projected to the query's
/// last dimension (or `output_shape`). Inputs of rank > 3 (`(batch, T1, T2, …, dim)`) attend
/// over all the middle axes together, as Keras's default `attention_axes`.
///
/// Weights, in Keras's order and shapes (its `EinsumDense` sublayers `query`, `key`, `value`,
/// `attention_output`): `query/kernel (dim_q, heads, key_dim)`, `query/bias (heads,
/// key_dim)`, the same for `key` and `value` (`value_dim`), `attention_output/kernel (heads,
/// value_dim, *output_shape)` and `attention_output/bias (*output_shape)`; saved under
/// `query_dense/vars`, `key_dense/vars`, `value_dense/vars`, `output_dense/vars` as Keras does.
///
/// Call options (Keras's call arguments, set on the layer): `use_causal_mask`,
/// `return_attention_scores` (adds `(batch, heads, T, S)` as a second output). An explicit
/// `attention_mask` goes through [`MultiHeadAttention::attend`]. Keras masks on the inputs
/// (from `Embedding(mask_zero)` or `Masking`) become the attention mask, as in Keras: a
/// masked value step is attended by no query; the output keeps the query's mask. Not supported (refused by
/// `from_config`): `attention_axes` other than the default, `use_gate`, `sliding_window`.
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
    output_shape: Option<Vec<usize>>,
    /// As given (`None`: the default); after build, the resolved default, as Keras reports it.
    attention_axes: Option<Vec<isize>>,
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
}

impl MultiHeadAttention {
    /// `num_heads` heads of size `key_dim`, Keras's defaults otherwise (`value_dim =
    /// key_dim`, bias, no dropout, `glorot_uniform` kernels, zero biases).
    pub fn new(num_heads: usize, key_dim: usize) -> MultiHeadAttention {
        MultiHeadAttention {
            name: unique_name("multi_head_attention"),
            trainable: true,
            num_heads,
            key_dim,
            value_dim: key_dim,
            dropout: 0.0,
            use_bias: true,
            output_shape: None,
            attention_axes: None,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            bias_initializer: Initializer::Zeros,
            kernel_rules: WeightRules::default(),
            bias_rules: WeightRules::default(),
            activity_regularizer: None,
            seed: None,
            use_causal_mask: false,
            return_attention_scores: false,
            proj: Vec::new(),
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
    /// The output's trailing shape (default: the query's last dimension).
    pub fn output_shape(mut self, shape: &[usize]) -> MultiHeadAttention {
        self.output_shape = Some(shape.to_vec());
        self
    }
    /// Position `i` attends to positions `j <= i` only (rank-3 inputs).
    pub fn use_causal_mask(mut self, v: bool) -> MultiHeadAttention {
        self.use_causal_mask = v;
        self
    }
    /// Also output the attention weights `(batch, heads, T, S)`.
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
    /// For invalid sizes or rates, and for what is not supported: `use_gate = true`, a
    /// `sliding_window`, or `attention_axes` other than the default (checked at build).
    pub fn from_config(c: &Value) -> Result<MultiHeadAttention> {
        let num_heads: usize = field(c, "num_heads", 0)?;
        let key_dim: usize = field(c, "key_dim", 0)?;
        if num_heads == 0 || key_dim == 0 {
            return Err(invalid("num_heads and key_dim must be positive integers".into()));
        }
        if field(c, "use_gate", false)? {
            return Err(invalid("use_gate = true is not supported".into()));
        }
        if c.get("sliding_window").is_some_and(|v| !v.is_null()) {
            return Err(invalid("sliding_window is not supported".into()));
        }
        let mut m = MultiHeadAttention::new(num_heads, key_dim)
            .dropout(field(c, "dropout", 0.0)?)?
            .use_bias(field(c, "use_bias", true)?);
        let vd: Option<usize> = field(c, "value_dim", None)?;
        m.value_dim = vd.filter(|&d| d > 0).unwrap_or(key_dim);
        m.output_shape = match c.get("output_shape") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(vec![n
                .as_u64()
                .ok_or_else(|| invalid(format!("invalid output_shape {n}")))?
                as usize]),
            Some(v) => Some(field(&json!({ "s": v }), "s", Vec::new())?),
        };
        m.attention_axes = match c.get("attention_axes") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(vec![n
                .as_i64()
                .ok_or_else(|| invalid(format!("invalid attention_axes {n}")))?
                as isize]),
            Some(v) => Some(field(&json!({ "a": v }), "a", Vec::new())?),
        };
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
        // Keras's default attends over every axis between the batch and the features.
        let rank = q.len() as isize; // the projected rank minus one
        let default: Vec<isize> = (1..rank - 1).collect();
        if let Some(axes) = &self.attention_axes {
            let norm: Vec<isize> = axes.iter().map(|&a| if a < 0 { a + rank } else { a }).collect();
            if norm != default {
                return Err(invalid(format!(
                    "attention_axes {axes:?} is not supported: only the default (None, i.e. \
                     {default:?} for rank-{rank} inputs) is"
                )));
            }
        }
        if self.use_causal_mask && q.len() != 3 {
            return Err(invalid(
                "use_causal_mask needs rank-3 inputs (batch, T, dim)".into(),
            ));
        }
        Ok(match &self.output_shape {
            Some(s) => s.iter().map(|&d| Some(d)).collect(),
            None => vec![q[q.len() - 1]],
        })
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
    /// `attention_mask` `(batch, T, S)` (nonzero: may attend; it broadcasts) on top of the
    /// causal mask if set. Returns the output and the attention weights `(batch, heads, T…,
    /// S…)`.
    ///
    /// # Errors
    /// When the layer is not built or the shapes do not match its build.
    pub fn attend(
        &self,
        query: &Tensor,
        value: &Tensor,
        key: Option<&Tensor>,
        attention_mask: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Tensor)> {
        if self.proj.is_empty() {
            return Err(invalid(format!("layer {:?} is not built", self.name)));
        }
        let w: Vec<Tensor> = self.weights().iter().map(Variable::value).collect();
        let key = key.unwrap_or(value);
        self.compute(
            &[query.clone(), value.clone(), key.clone()],
            &w,
            attention_mask,
            training,
        )
    }

    /// The computation with the weights given as tensors (in [`Layer::weights`] order).
    fn compute(
        &self,
        inputs: &[Tensor],
        w: &[Tensor],
        attention_mask: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (q, v) = (&inputs[0], &inputs[1]);
        let k = inputs.get(2).unwrap_or(v);
        let shapes: Vec<Shape> = [q, v, k]
            .iter()
            .map(|t| t.shape().iter().map(|&d| Some(d)).collect())
            .collect();
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
        for _ in 0..4 {
            let kern = next(false)?.expect("a kernel");
            pw.push((kern, next(true)?));
        }
        let b = q.shape()[0];
        // (batch, T…, dim) → (batch, T, heads, size): one product with the (dim, heads·size)
        // kernel, then heads-first for the batched products.
        let project = |x: &Tensor, (kern, bias): (&Tensor, Option<&Tensor>), size: usize| -> Result<Tensor> {
            let d = x.shape()[x.rank() - 1];
            let t: usize = x.shape()[1..x.rank() - 1].iter().product();
            let mut y = x
                .reshape(&[(b * t) as isize, d as isize])?
                .matmul(&kern.reshape(&[d as isize, (h * size) as isize])?)?;
            if let Some(bias) = bias {
                y = y.add(&bias.reshape(&[(h * size) as isize])?)?;
            }
            y.reshape(&[b as isize, t as isize, h as isize, size as isize])?
                .permute(&[0, 2, 1, 3])
        };
        let inv_sqrt = 1.0 / (kd as f64).sqrt();
        // Keras scales the projected query, then takes the products.
        let qp = project(q, pw[0], kd)?.mul_scalar(inv_sqrt)?;
        let kp = project(k, pw[1], kd)?;
        let vp = project(v, pw[2], vd)?;
        let mut scores = qp.matmul(&kp.transpose(-2, -1)?)?; // (b, h, T, S)
        let (tq, ts) = (scores.shape()[2], scores.shape()[3]);
        if self.use_causal_mask {
            scores = mask_scores(&scores, &causal_mask(tq, ts, scores.dtype(), scores.device())?)?;
        }
        if let Some(m) = attention_mask {
            // (batch, T…, S…) → (batch, 1, T, S)
            let m = m.reshape(&[m.shape()[0] as isize, 1, tq as isize, ts as isize])?;
            scores = mask_scores(&scores, &m)?;
        }
        let dist = scores.softmax(-1)?;
        let dropped = if training && self.dropout > 0.0 {
            let keep = Tensor::bernoulli(
                dist.shape(),
                1.0 - self.dropout,
                next_seed(),
                dist.dtype(),
                dist.device(),
            )?;
            dist.mul(&keep)?.div_scalar(1.0 - self.dropout)?
        } else {
            dist.clone()
        };
        // (b, h, T, vd) → (b·T, h·vd) @ (h·vd, out) + bias → (b, T…, *out)
        let heads = dropped.matmul(&vp)?.permute(&[0, 2, 1, 3])?;
        let (ok, ob) = pw[3];
        let out_numel: usize = ok.shape()[2..].iter().product();
        let mut y = heads
            .reshape(&[(b * tq) as isize, (h * vd) as isize])?
            .matmul(&ok.reshape(&[(h * vd) as isize, out_numel as isize])?)?;
        if let Some(ob) = ob {
            y = y.add(&ob.reshape(&[out_numel as isize])?)?;
        }
        let mut out_shape: Vec<isize> = q.shape()[..q.rank() - 1].iter().map(|&d| d as isize).collect();
        out_shape.extend(ok.shape()[2..].iter().map(|&d| d as isize));
        let y = y.reshape(&out_shape)?;
        let mut dist_shape: Vec<isize> = vec![b as isize, h as isize];
        dist_shape.extend(q.shape()[1..q.rank() - 1].iter().map(|&d| d as isize));
        dist_shape.extend(k.shape()[1..k.rank() - 1].iter().map(|&d| d as isize));
        Ok((y, dist.reshape(&dist_shape)?))
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
        self.proj = vec![
            self.new_proj(&[dim(q), h, kd], &[h, kd])?,
            self.new_proj(&[dim(k), h, kd], &[h, kd])?,
            self.new_proj(&[dim(v), h, vd], &[h, vd])?,
            self.new_proj(&out_kernel, &out)?,
        ];
        if self.attention_axes.is_none() {
            self.attention_axes = Some((1..q.len() as isize - 1).collect());
        }
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
            let mut s = vec![q[0], Some(self.num_heads)];
            s.extend(&q[1..q.len() - 1]);
            s.extend(&k[1..k.len() - 1]);
            shapes.push(s);
        }
        Ok(shapes)
    }
    fn call(&self, _x: &Tensor, _training: bool) -> Result<Tensor> {
        Err(arity_error(&self.name, "2 or 3 inputs [query, value, key]", 1))
    }
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        if !(2..=3).contains(&inputs.len()) {
            return Err(arity_error(
                &self.name,
                "2 or 3 inputs [query, value, key]",
                inputs.len(),
            ));
        }
        let (y, dist) = self.attend(&inputs[0], &inputs[1], inputs.get(2), None, training)?;
        super::activity_loss(self.activity_regularizer, &y)?;
        Ok(if self.return_attention_scores {
            vec![y, dist]
        } else {
            vec![y]
        })
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// Keras's automatic attention mask from the inputs' masks: a masked query step attends
    /// nowhere, a masked value (or key) step is attended by none, `query_mask (batch, T)` and
    /// `value_mask (batch, S)` combined as `(batch, T, S)`. The output keeps the query's mask.
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let query_mask = masks.first().cloned().flatten();
        if masks.iter().all(Option::is_none) || !(2..=3).contains(&inputs.len()) {
            let ys = self.call_multi(inputs, training)?;
            let n = ys.len();
            return Ok((ys, vec![None; n]));
        }
        let (q, v) = (&inputs[0], &inputs[1]);
        let steps = |t: &Tensor| t.shape()[..t.rank().saturating_sub(1)].to_vec();
        let (b, tq, ts) = (
            q.shape()[0],
            steps(q)[1..].iter().product::<usize>(),
            steps(v)[1..].iter().product::<usize>(),
        );
        let mut auto: Option<Tensor> = None;
        for (i, m) in masks.iter().enumerate().take(inputs.len()) {
            let Some(m) = m else { continue };
            let x = &inputs[i];
            if m.shape() != steps(x).as_slice() {
                return Err(invalid(format!(
                    "layer {:?} got a mask of shape {:?} for input {i} of shape {:?}; the mask must \
                     have the input's shape without its last axis",
                    self.name,
                    m.shape(),
                    x.shape()
                )));
            }
            let shape: [isize; 3] = if i == 0 {
                [b as isize, tq as isize, 1]
            } else {
                [b as isize, 1, ts as isize]
            };
            let m = m.cast(DType::Bool)?.reshape(&shape)?;
            auto = Some(match auto {
                Some(a) => a.logical_and(&m)?,
                None => m,
            });
        }
        let full = match auto {
            Some(a) => Some(a.broadcast_to(&[b, tq, ts])?.contiguous()?),
            None => None,
        };
        let (y, dist) = self.attend(q, v, inputs.get(2), full.as_ref(), training)?;
        super::activity_loss(self.activity_regularizer, &y)?;
        Ok(if self.return_attention_scores {
            (vec![y, dist], vec![query_mask, None])
        } else {
            (vec![y], vec![query_mask])
        })
    }
    fn weights(&self) -> Vec<Variable> {
        self.proj
            .iter()
            .flat_map(|p| std::iter::once(p.kernel.clone()).chain(p.bias.clone()))
            .collect()
    }
    /// Keras's layout: the projections' variables in their sublayers' entries.
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        let mut v = vec![(String::new(), Vec::new())];
        for (p, path) in self
            .proj
            .iter()
            .zip(["query_dense", "key_dense", "value_dense", "output_dense"])
        {
            let vars = std::iter::once(p.kernel.clone()).chain(p.bias.clone()).collect();
            v.push((path.to_string(), vars));
        }
        if !self.proj.is_empty() {
            v.push(("_softmax".into(), Vec::new()));
            v.push(("_dropout_layer".into(), Vec::new()));
        }
        v
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("num_heads".into(), json!(self.num_heads));
        m.insert("key_dim".into(), json!(self.key_dim));
        m.insert("value_dim".into(), json!(self.value_dim));
        m.insert("dropout".into(), json!(self.dropout));
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("use_gate".into(), json!(false));
        m.insert("output_shape".into(), json!(self.output_shape));
        m.insert("attention_axes".into(), json!(self.attention_axes));
        m.insert("sliding_window".into(), Value::Null);
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
    fn refuses_what_is_not_supported() {
        let base = MultiHeadAttention::new(2, 3).get_config();
        for (k, v) in [("use_gate", json!(true)), ("sliding_window", json!(4))] {
            let mut c = base.clone();
            c[k] = v;
            assert!(MultiHeadAttention::from_config(&c)
                .err()
                .unwrap()
                .to_string()
                .contains(k));
        }
        let mut c = base.clone();
        c["attention_axes"] = json!([2]);
        let mut m = MultiHeadAttention::from_config(&c).unwrap();
        let e = m
            .build_multi(&[s(&[3, 4, 2]), s(&[3, 4, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("attention_axes"), "{e}");
        c["attention_axes"] = json!([1, 2]);
        let mut m = MultiHeadAttention::from_config(&c).unwrap();
        m.build_multi(&[s(&[3, 4, 2]), s(&[3, 4, 2])]).unwrap();
        assert!(m.build_multi(&[s(&[3, 4])]).is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (bias, causal, out_shape, rank4) in [
            (true, false, None, false),
            (false, true, Some(vec![2usize, 3]), false),
            (true, false, None, true),
        ] {
            let mut m = MultiHeadAttention::new(2, 3)
                .value_dim(2)
                .use_bias(bias)
                .use_causal_mask(causal);
            if let Some(o) = &out_shape {
                m = m.output_shape(o);
            }
            let (qs, vs, ks): (Vec<usize>, Vec<usize>, Vec<usize>) = if rank4 {
                (vec![2, 2, 3], vec![3, 1, 4], vec![3, 1, 2])
            } else {
                (vec![3, 3], vec![4, 4], vec![4, 2])
            };
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
            let refs: Vec<&Tensor> = args.iter().collect();
            check_grad(
                &format!("mha bias={bias} causal={causal} rank4={rank4}"),
                &refs,
                |t| {
                    let (y, d) = m.compute(&t[..3], &t[3..], None, false)?;
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
