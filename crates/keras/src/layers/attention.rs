//! `Attention`: Luong-style dot-product attention over a query and a value (and key).

use super::{arity_error, base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use crate::random::next_seed;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

fn invalid(msg: String) -> Error {
    Error::InvalidArgument { op: "Attention", msg }
}

/// The score function of [`Attention`] (Keras's `score_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreMode {
    /// `query · key` (the default).
    Dot,
    /// `concat_score_weight · Σ tanh(query + key)`.
    Concat,
}

/// The causal mask `(tq, tv)` as `0/1` in `dtype`: position `i` sees positions `j <= i`.
pub(crate) fn causal_mask(tq: usize, tv: usize, dtype: DType, dev: &keras_tensor::Device) -> Result<Tensor> {
    let v: Vec<f64> = (0..tq)
        .flat_map(|i| (0..tv).map(move |j| if i >= j { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_vec(v, &[tq, tv], dev)?.cast(dtype)
}

/// `where(mask, scores, scores - 1e9)`: Keras's masking of attention scores before the
/// softmax (`mask` broadcasts against `scores`; nonzero keeps).
pub(crate) fn mask_scores(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let shape = scores.shape().to_vec();
    let m = mask.cast(scores.dtype())?.broadcast_to(&shape)?;
    Tensor::where_cond(&m, scores, &scores.sub_scalar(1.0e9)?)
}

/// Dot-product attention layer (Luong-style), as `keras.layers.Attention`.
///
/// Inputs: `[query (batch, Tq, dim), value (batch, Tv, dim)]` or `[query, value, key
/// (batch, Tv, dim)]` (the key defaults to the value). Scores `(batch, Tq, Tv)` are
/// `query @ keyᵀ` (times the trainable scalar `scale` with `use_scale`), or with
/// `score_mode = "concat"` `concat_score_weight · Σ_d tanh(scale · (query_i + key_j))`;
/// then a softmax over `Tv` (with dropout on the distribution while training), and the output
/// `(batch, Tq, dim_v)` is the distribution times the value.
///
/// Keras masks on the inputs are used as Keras uses them: the value's mask hides value
/// steps, the query's sets masked query steps of the output to 0 and is the output's mask.
///
/// Call options (Keras's call arguments, set on the layer here): `use_causal_mask` hides
/// positions `j > i`; `return_attention_scores` adds the distribution as a second output. A
/// functional model saves them in the node's `kwargs`, where Keras keeps them (see
/// [`Layer::call_kwargs`]); they are not part of [`Layer::get_config`].
/// Keras's `mask` argument (query / value masks) is not supported; use the causal mask, or
/// [`MultiHeadAttention::attend`](super::MultiHeadAttention::attend) with an explicit mask.
///
/// ```
/// use keras::layers::{Attention, Layer};
/// use keras_tensor::{DType, Device, Tensor};
/// let q = Tensor::ones(&[2, 3, 4], DType::F32, &Device::Cpu)?;
/// let v = Tensor::ones(&[2, 5, 4], DType::F32, &Device::Cpu)?;
/// let mut a = Attention::new().use_scale(true).return_attention_scores(true);
/// a.build_multi(&[vec![None, Some(3), Some(4)], vec![None, Some(5), Some(4)]])?;
/// let ys = a.call_multi(&[q, v], false)?;
/// assert_eq!((ys[0].shape(), ys[1].shape()), (&[2, 3, 4][..], &[2, 3, 5][..]));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Attention {
    name: String,
    trainable: bool,
    use_scale: bool,
    score_mode: ScoreMode,
    dropout: f64,
    seed: Option<u64>,
    use_causal_mask: bool,
    return_attention_scores: bool,
    built: bool,
    scale: Option<Variable>,
    concat_score_weight: Option<Variable>,
}

impl Default for Attention {
    fn default() -> Attention {
        Attention::new()
    }
}

impl Attention {
    /// Keras's defaults: no scale, `score_mode = "dot"`, no dropout.
    pub fn new() -> Attention {
        Attention {
            name: unique_name("attention"),
            trainable: true,
            use_scale: false,
            score_mode: ScoreMode::Dot,
            dropout: 0.0,
            seed: None,
            use_causal_mask: false,
            return_attention_scores: false,
            built: false,
            scale: None,
            concat_score_weight: None,
        }
    }
    /// A trainable scalar multiplies the scores.
    pub fn use_scale(mut self, v: bool) -> Attention {
        self.use_scale = v;
        self
    }
    /// `"dot"` or `"concat"`.
    ///
    /// # Errors
    /// For another name.
    pub fn score_mode(mut self, mode: &str) -> Result<Attention> {
        self.score_mode = match mode {
            "dot" => ScoreMode::Dot,
            "concat" => ScoreMode::Concat,
            _ => {
                return Err(invalid(format!(
                    "invalid score_mode {mode:?}; expected one of \"dot\", \"concat\""
                )))
            }
        };
        Ok(self)
    }
    /// Fraction of the attention distribution dropped while training.
    ///
    /// # Errors
    /// Outside `[0, 1)`.
    pub fn dropout(mut self, rate: f64) -> Result<Attention> {
        if !(0.0..1.0).contains(&rate) {
            return Err(invalid(format!("dropout must be in [0, 1), got {rate}")));
        }
        self.dropout = rate;
        Ok(self)
    }
    /// Position `i` attends to positions `j <= i` only (decoder self-attention).
    pub fn use_causal_mask(mut self, v: bool) -> Attention {
        self.use_causal_mask = v;
        self
    }
    /// Also output the attention distribution `(batch, Tq, Tv)`.
    pub fn return_attention_scores(mut self, v: bool) -> Attention {
        self.return_attention_scores = v;
        self
    }
    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Attention {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config. Also reads `use_causal_mask` and
    /// `return_attention_scores` when present: Keras passes them to `call` (a functional
    /// model's file keeps them in the node's `kwargs`), here they are options of the layer.
    ///
    /// # Errors
    /// For an unknown `score_mode` or a bad rate.
    pub fn from_config(c: &Value) -> Result<Attention> {
        let mut a = Attention::new()
            .use_scale(field(c, "use_scale", false)?)
            .score_mode(&field::<String>(c, "score_mode", "dot".into())?)?
            .dropout(field(c, "dropout", 0.0)?)?;
        a.seed = field(c, "seed", None)?;
        // Keras's call arguments, options of the layer here (not written by get_config).
        a.use_causal_mask = field(c, "use_causal_mask", false)?;
        a.return_attention_scores = field(c, "return_attention_scores", false)?;
        a.name = config_name(c, "attention")?;
        a.trainable = field(c, "trainable", true)?;
        Ok(a)
    }

    fn check(&self, shapes: &[Shape]) -> Result<()> {
        if !(2..=3).contains(&shapes.len()) {
            return Err(arity_error(
                &self.name,
                "2 or 3 inputs [query, value, key]",
                shapes.len(),
            ));
        }
        let (q, v) = (&shapes[0], &shapes[1]);
        let k = shapes.get(2).unwrap_or(v);
        for s in shapes {
            if s.len() < 3 || s.len() != q.len() {
                return Err(shape_error(
                    &self.name,
                    "inputs of one rank >= 3 (batch, T, dim)",
                    s,
                ));
            }
        }
        let known_differ = |a: Option<usize>, b: Option<usize>| a.is_some() && b.is_some() && a != b;
        if known_differ(q[q.len() - 1], k[k.len() - 1]) {
            return Err(invalid(format!(
                "layer {:?}: query and key must have the same last dimension, got {} and {}",
                self.name,
                super::fmt_shape(q),
                super::fmt_shape(k)
            )));
        }
        if known_differ(v[v.len() - 2], k[k.len() - 2]) {
            return Err(invalid(format!(
                "layer {:?}: value and key must have the same number of steps, got {} and {}",
                self.name,
                super::fmt_shape(v),
                super::fmt_shape(k)
            )));
        }
        Ok(())
    }

    /// The computation with the weights given as tensors (`scale` then
    /// `concat_score_weight`, those that exist): the output and the distribution.
    fn compute(&self, inputs: &[Tensor], weights: &[Tensor], training: bool) -> Result<(Tensor, Tensor)> {
        self.compute_masked(inputs, weights, training, None, None)
    }

    /// [`Attention::compute`] with Keras's input masks: `value_mask (batch, Tv)` hides value
    /// steps from every query (with the causal mask, both must allow), and the output is 0 at
    /// masked query steps (`query_mask (batch, Tq)`).
    fn compute_masked(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        training: bool,
        query_mask: Option<&Tensor>,
        value_mask: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let (q, v) = (&inputs[0], &inputs[1]);
        let k = inputs.get(2).unwrap_or(v);
        let mut w = weights.iter();
        let scale = if self.use_scale { w.next() } else { None };
        let scores = match self.score_mode {
            ScoreMode::Dot => {
                let s = q.matmul(&k.transpose(-2, -1)?)?;
                match scale {
                    Some(sc) => s.mul(sc)?,
                    None => s,
                }
            }
            ScoreMode::Concat => {
                let csw = w.next().ok_or_else(|| invalid("layer is not built".into()))?;
                let sum = q.expand_dims(-2)?.add(&k.expand_dims(-3)?)?;
                let sum = match scale {
                    Some(sc) => sc.mul(&sum)?,
                    None => sum,
                };
                csw.mul(&sum.tanh()?.sum(&[-1], false)?)?
            }
        };
        let r = scores.rank();
        let (tq, tv) = (scores.shape()[r - 2], scores.shape()[r - 1]);
        // One combined mask, as Keras: where it is false the score drops by 1e9 once.
        let mut keep: Option<Tensor> = match value_mask {
            Some(m) => Some(m.cast(DType::Bool)?.expand_dims(-2)?),
            None => None,
        };
        if self.use_causal_mask {
            let c = causal_mask(tq, tv, scores.dtype(), scores.device())?.cast(DType::Bool)?;
            keep = Some(match keep {
                Some(k) => k.logical_and(&c)?,
                None => c,
            });
        }
        let scores = match &keep {
            Some(k) => mask_scores(&scores, k)?,
            None => scores,
        };
        let dist = scores.softmax(-1)?;
        let dropped = if training && self.dropout > 0.0 {
            dist.dropout(self.dropout, None, next_seed())?
        } else {
            dist.clone()
        };
        let out = dropped.matmul(v)?;
        let out = match query_mask {
            Some(m) => {
                let m = m.cast(DType::Bool)?.expand_dims(-1)?;
                Tensor::where_cond(&m, &out, &out.zeros_like()?)?
            }
            None => out,
        };
        Ok((out, dist))
    }
}

impl Layer for Attention {
    super::layer_common!("Attention");
    fn built(&self) -> bool {
        self.built
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.build_multi(&[input_shape.to_vec()])
    }
    fn build_multi(&mut self, input_shapes: &[Shape]) -> Result<()> {
        self.check(input_shapes)?;
        let one = || Tensor::scalar(1.0f32);
        self.scale = if self.use_scale {
            Some(Variable::new("scale", one(), true))
        } else {
            None
        };
        self.concat_score_weight = if self.score_mode == ScoreMode::Concat {
            Some(Variable::new("concat_score_weight", one(), true))
        } else {
            None
        };
        self.built = true;
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(self.compute_output_shapes(&[input_shape.to_vec()])?.remove(0))
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        self.check(input_shapes)?;
        let (q, v) = (&input_shapes[0], &input_shapes[1]);
        let k = input_shapes.get(2).unwrap_or(v);
        let mut out = q[..q.len() - 1].to_vec();
        out.push(v[v.len() - 1]);
        let mut shapes = vec![out];
        if self.return_attention_scores {
            let mut s = q[..q.len() - 1].to_vec();
            s.push(k[k.len() - 2]);
            shapes.push(s);
        }
        Ok(shapes)
    }
    fn call(&self, _x: &Tensor, _training: bool) -> Result<Tensor> {
        Err(arity_error(&self.name, "2 or 3 inputs [query, value, key]", 1))
    }
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        let shapes: Vec<Shape> = inputs
            .iter()
            .map(|t| t.shape().iter().map(|&d| Some(d)).collect())
            .collect();
        self.check(&shapes)?;
        if !self.built {
            return Err(invalid(format!("layer {:?} is not built", self.name)));
        }
        let w: Vec<Tensor> = self.weights().iter().map(Variable::value).collect();
        let (out, dist) = self.compute(inputs, &w, training)?;
        Ok(if self.return_attention_scores {
            vec![out, dist]
        } else {
            vec![out]
        })
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// Keras's masks: the value's mask hides value steps, the query's zeroes masked query
    /// steps of the output and is the output's mask.
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let (qm, vm) = (masks.first().cloned().flatten(), masks.get(1).cloned().flatten());
        if qm.is_none() && vm.is_none() {
            let ys = self.call_multi(inputs, training)?;
            let n = ys.len();
            return Ok((ys, vec![None; n]));
        }
        let shapes: Vec<Shape> = inputs
            .iter()
            .map(|t| t.shape().iter().map(|&d| Some(d)).collect())
            .collect();
        self.check(&shapes)?;
        if !self.built {
            return Err(invalid(format!("layer {:?} is not built", self.name)));
        }
        for (i, m) in [(0, &qm), (1, &vm)] {
            if let Some(m) = m {
                super::check_mask(&self.name, &inputs[i], m, 2)?;
            }
        }
        let w: Vec<Tensor> = self.weights().iter().map(Variable::value).collect();
        let (out, dist) = self.compute_masked(inputs, &w, training, qm.as_ref(), vm.as_ref())?;
        Ok(if self.return_attention_scores {
            (vec![out, dist], vec![qm, None])
        } else {
            (vec![out], vec![qm])
        })
    }
    fn weights(&self) -> Vec<Variable> {
        [&self.scale, &self.concat_score_weight]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
    /// `use_causal_mask` and `return_attention_scores` when set: Keras's call arguments.
    fn call_kwargs(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
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
        m.insert("use_scale".into(), json!(self.use_scale));
        m.insert(
            "score_mode".into(),
            json!(match self.score_mode {
                ScoreMode::Dot => "dot",
                ScoreMode::Concat => "concat",
            }),
        );
        m.insert("dropout".into(), json!(self.dropout));
        m.insert("seed".into(), json!(self.seed));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keras_tensor::testing::{check_grad, randn};

    fn shapes(q: usize, v: usize, d: usize) -> Vec<Shape> {
        vec![vec![None, Some(q), Some(d)], vec![None, Some(v), Some(d)]]
    }

    #[test]
    fn config_round_trips_and_matches_keras() {
        let keras = json!({"name": "attention", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "use_scale": false, "score_mode": "dot", "dropout": 0.0, "seed": null});
        assert_eq!(Attention::from_config(&keras).unwrap().get_config(), keras);
        let c = Attention::new()
            .use_scale(true)
            .score_mode("concat")
            .unwrap()
            .get_config();
        assert_eq!(
            crate::layers::from_config("Attention", &c).unwrap().get_config(),
            c
        );
        assert!(Attention::new().score_mode("add").is_err());
        assert!(Attention::new().dropout(1.0).is_err());
    }

    #[test]
    fn shapes_weights_and_arity() {
        let mut a = Attention::new().use_scale(true).score_mode("concat").unwrap();
        assert!(a.build_multi(&shapes(3, 4, 2)[..1]).is_err());
        a.build_multi(&shapes(3, 4, 2)).unwrap();
        let names: Vec<String> = a.weights().iter().map(|w| w.name().to_string()).collect();
        assert_eq!(names, ["scale", "concat_score_weight"]);
        let mut three = shapes(3, 4, 2);
        three.push(vec![None, Some(4), Some(2)]);
        three[1][2] = Some(5);
        let a = Attention::new().return_attention_scores(true);
        assert_eq!(
            a.compute_output_shapes(&three).unwrap(),
            vec![vec![None, Some(3), Some(5)], vec![None, Some(3), Some(4)]]
        );
        three[2][1] = Some(6);
        assert!(a.compute_output_shapes(&three).is_err());
    }

    #[test]
    fn causal_mask_hides_the_future() {
        let mut a = Attention::new()
            .use_causal_mask(true)
            .return_attention_scores(true);
        a.build_multi(&shapes(3, 3, 2)).unwrap();
        let x = randn(&[1, 3, 2], 1);
        let ys = a.call_multi(&[x.clone(), x], false).unwrap();
        let d = ys[1].to_vec::<f64>().unwrap();
        assert_eq!((d[1], d[2], d[5]), (0.0, 0.0, 0.0));
        assert!((d[0] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (scale, mode, causal) in [
            (false, "dot", false),
            (true, "dot", true),
            (true, "concat", false),
            (false, "concat", true),
        ] {
            let mut a = Attention::new()
                .use_scale(scale)
                .score_mode(mode)
                .unwrap()
                .use_causal_mask(causal);
            a.build_multi(&shapes(3, 4, 2)).unwrap();
            let n_w = a.weights().len();
            let mut args = vec![randn(&[2, 3, 2], 1), randn(&[2, 4, 3], 2), randn(&[2, 4, 2], 3)];
            args.extend((0..n_w).map(|i| randn(&[], 10 + i as u64).add_scalar(1.0).unwrap()));
            let refs: Vec<&Tensor> = args.iter().collect();
            check_grad(
                &format!("attention scale={scale} {mode} causal={causal}"),
                &refs,
                |t| {
                    let (out, dist) = a.compute(&t[..3], &t[3..], false)?;
                    Tensor::concat(&[&out.reshape(&[-1])?, &dist.reshape(&[-1])?], 0)
                },
            );
        }
    }
}
