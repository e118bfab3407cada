//! `TimeDistributed`: applies one layer to every time slice of its input. Also the helpers the
//! wrapper layers share (the nested `layer` config, the weights saved under a sub-path).

use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// A wrapped layer as Keras serializes it inside a wrapper's config: `module`, `class_name`,
/// `config`, `registered_name`, and `build_config` once built.
pub(crate) fn serialize_layer(l: &dyn Layer, input_shape: Option<&Shape>) -> Value {
    let mut v = super::serialize(l);
    if let Some(s) = input_shape {
        v["build_config"] = json!({ "input_shape": s });
    }
    v
}

/// The `build_config.input_shape` of a serialized layer, if any.
pub(crate) fn build_shape(v: &Value) -> Option<Shape> {
    serde_json::from_value(v.pointer("/build_config/input_shape")?.clone()).ok()
}

/// Rebuilds a wrapped layer from [`serialize_layer`]'s form (or Keras's), through the
/// registry. `key` names the config field, for errors.
pub(crate) fn deserialize_layer(v: &Value, op: &'static str, key: &str) -> Result<Box<dyn Layer>> {
    let class = v
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidArgument {
            op,
            msg: format!("field {key:?} must be a serialized layer with a \"class_name\""),
        })?;
    super::from_config(class, v.get("config").unwrap_or(&Value::Null))
}

/// `(prefix/sub, vars)` for each of `inner`'s saved variable groups: a wrapped layer's
/// variables below the wrapper's entry, as Keras saves them (`layers/<wrapper>/<prefix>/…`).
pub(crate) fn nested_saved_variables(prefix: &str, inner: &dyn Layer) -> Vec<(String, Vec<Variable>)> {
    inner
        .saved_variables()
        .into_iter()
        .map(|(sub, vars)| {
            let path = if sub.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}/{sub}")
            };
            (path, vars)
        })
        .collect()
}

/// Applies a layer to every temporal slice of the input, as `keras.layers.TimeDistributed`.
///
/// Input `(batch, time, ...)`; the wrapped layer sees `(batch, ...)` and its output
/// `(batch, ...out)` becomes `(batch, time, ...out)`. One set of weights serves every time
/// step. The slices go through the layer together, as one batch of `batch·time` samples
/// (identical to Keras's step-by-step call for every layer whose samples are independent; a
/// `BatchNormalization` in training mode would see statistics over all steps at once).
///
/// The weights are the wrapped layer's, saved under `layers/time_distributed/layer/vars`.
///
/// ```
/// use keras::layers::{Dense, Layer, TimeDistributed};
/// use keras_tensor::{DType, Device, Tensor};
/// let mut td = TimeDistributed::new(Dense::new(4));
/// td.build(&[None, Some(10), Some(3)])?;
/// assert_eq!(td.count_params(), 3 * 4 + 4);
/// let x = Tensor::ones(&[2, 10, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(td.call(&x, false)?.shape(), &[2, 10, 4]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct TimeDistributed {
    name: String,
    trainable: bool,
    layer: Box<dyn Layer>,
    input_shape: Option<Shape>,
    /// The wrapped layer's `build_config` read from a config, written back until built.
    child_build_shape: Option<Shape>,
}

impl TimeDistributed {
    /// Wraps `layer`.
    pub fn new(layer: impl Layer + 'static) -> TimeDistributed {
        TimeDistributed::from_box(Box::new(layer))
    }

    /// Wraps a boxed layer.
    pub fn from_box(layer: Box<dyn Layer>) -> TimeDistributed {
        TimeDistributed {
            name: unique_name("time_distributed"),
            trainable: true,
            layer,
            input_shape: None,
            child_build_shape: None,
        }
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> TimeDistributed {
        self.name = name.to_string();
        self
    }

    /// The wrapped layer.
    pub fn layer(&self) -> &dyn Layer {
        self.layer.as_ref()
    }

    /// Rebuilds from a Keras config (`layer` holds the wrapped layer's serialized form).
    ///
    /// # Errors
    /// For a missing or invalid `layer`.
    pub fn from_config(c: &Value) -> Result<TimeDistributed> {
        let inner = c.get("layer").ok_or_else(|| Error::InvalidArgument {
            op: "TimeDistributed.from_config",
            msg: "missing field \"layer\"".into(),
        })?;
        let mut t =
            TimeDistributed::from_box(deserialize_layer(inner, "TimeDistributed.from_config", "layer")?);
        t.child_build_shape = build_shape(inner);
        t.name = config_name(c, "time_distributed")?;
        t.trainable = field(c, "trainable", true)?;
        if !t.trainable {
            t.layer.set_trainable(false);
        }
        Ok(t)
    }

    /// `(batch, ...)` for input `(batch, time, ...)`.
    fn child_shape(&self, s: &[Option<usize>]) -> Result<Shape> {
        if s.len() < 3 {
            return Err(shape_error(&self.name, "rank >= 3 (batch, time, ...)", s));
        }
        Ok(std::iter::once(s[0]).chain(s[2..].iter().copied()).collect())
    }
}

impl Layer for TimeDistributed {
    /// The mask passes through (the wrapped layer is applied to every step alike).
    fn supports_masking(&self) -> bool {
        true
    }
    fn class_name(&self) -> &'static str {
        "TimeDistributed"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        self.layer.set_trainable(trainable);
    }
    fn built(&self) -> bool {
        self.input_shape.is_some() && self.layer.built()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let child = self.child_shape(input_shape)?;
        if !self.layer.built() {
            self.layer.build(&child)?;
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        let out = self.layer.compute_output_shape(&self.child_shape(input_shape)?)?;
        let mut s = vec![out.first().copied().flatten(), input_shape[1]];
        s.extend(out.iter().skip(1).copied());
        Ok(s)
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        if x.rank() < 3 {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} expects rank >= 3 (batch, time, ...), got a tensor of shape {:?}",
                    self.name,
                    x.shape()
                ),
            });
        }
        let (b, t) = (x.shape()[0], x.shape()[1]);
        let mut flat: Vec<isize> = vec![(b * t) as isize];
        flat.extend(x.shape()[2..].iter().map(|&d| d as isize));
        let y = self.layer.call(&x.reshape(&flat)?, training)?;
        let mut back: Vec<isize> = vec![b as isize, t as isize];
        back.extend(y.shape()[1..].iter().map(|&d| d as isize));
        y.reshape(&back)
    }
    fn weights(&self) -> Vec<Variable> {
        self.layer.weights()
    }
    fn trainable_weights(&self) -> Vec<Variable> {
        if self.trainable {
            self.layer.trainable_weights()
        } else {
            Vec::new()
        }
    }
    fn non_trainable_weights(&self) -> Vec<Variable> {
        if self.trainable {
            self.layer.non_trainable_weights()
        } else {
            self.layer.weights()
        }
    }
    /// Keras keeps the wrapped layer's variables under `layer` (`layers/<name>/layer/vars`).
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        let mut v = vec![(String::new(), Vec::new())];
        v.extend(nested_saved_variables("layer", self.layer.as_ref()));
        v
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        let child = match &self.input_shape {
            Some(s) => self.child_shape(s).ok(),
            None => self.child_build_shape.clone(),
        };
        m.insert(
            "layer".into(),
            serialize_layer(self.layer.as_ref(), child.as_ref()),
        );
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use crate::layers::{Conv2D, Dense, Flatten};
    use keras_tensor::testing::{check_grad, randn};
    use keras_tensor::{DType, Device};

    #[test]
    fn time_distributed_passes_the_layer_harness() {
        run_layer_test(Box::new(TimeDistributed::new(Dense::new(3))), &[4, 2], 2);
        run_layer_test(
            Box::new(TimeDistributed::new(Conv2D::new(2, 3))),
            &[3, 5, 5, 2],
            2,
        );
        run_layer_test(Box::new(TimeDistributed::new(Flatten::new())), &[3, 2, 2], 0);
    }

    #[test]
    fn every_step_gets_the_same_layer() {
        let mut td = TimeDistributed::new(Dense::new(2));
        td.build(&[None, Some(3), Some(4)]).unwrap();
        let x = Tensor::random_normal(&[2, 3, 4], 0.0, 1.0, 1, DType::F32, &Device::Cpu).unwrap();
        let y = td.call(&x, false).unwrap();
        for t in 0..3 {
            let xt = x.narrow(1, t, 1).unwrap().reshape(&[2, 4]).unwrap();
            let want = td.layer().call(&xt, false).unwrap().to_vec::<f32>().unwrap();
            let got = y
                .narrow(1, t, 1)
                .unwrap()
                .contiguous()
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            assert_eq!(got, want);
        }
        assert_eq!(td.saved_variables()[1].0, "layer");
        assert!(TimeDistributed::new(Dense::new(2))
            .build(&[None, Some(3)])
            .is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        // A float64 layer inside: the test layer of `bidirectional` (a tiny RNN with float64
        // weights) is sequence-shaped, so wrap a rank-3 step: (batch, time, steps, features).
        let inner = crate::layers::bidirectional::test_rnn::TestRnn::new(3, true, false);
        let mut td = TimeDistributed::new(inner);
        td.build(&[None, Some(2), Some(4), Some(2)]).unwrap();
        let w: Vec<Tensor> = td.weights().iter().map(|w| w.value()).collect();
        check_grad(
            "time_distributed",
            &[&randn(&[2, 2, 4, 2], 1), &w[0], &w[1]],
            |t| {
                for (v, x) in td.weights().iter().zip(&t[1..]) {
                    crate::layers::bidirectional::test_rnn::swap(v, x);
                }
                td.call(&t[0], false)
            },
        );
    }

    #[test]
    fn config_matches_keras() {
        let keras = json!({"name": "time_distributed", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "layer": {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 6, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 8]}}});
        let mut td = TimeDistributed::from_config(&keras).unwrap();
        td.build(&[None, Some(5), Some(8)]).unwrap();
        assert_eq!(td.layer().name(), "dense");
        let c = td.get_config();
        assert_eq!(c["layer"]["build_config"], json!({"input_shape": [null, 8]}));
        assert_eq!(c["layer"]["class_name"], "Dense");
        assert!(TimeDistributed::from_config(&json!({"name": "t"})).is_err());
    }
}
