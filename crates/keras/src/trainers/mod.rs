//! `compile` / `fit` / `evaluate` / `predict`: the training loop shared by every model.
//!
//! A model implements [`Trainer`]'s four required methods (its forward pass over a list of
//! inputs, its variables, and a slot holding the [`Compiled`] state); `compile`, `fit`,
//! `evaluate`, `predict` and the `*_on_batch` methods then come for free, as Keras's `Model`
//! gets them from its `Trainer` base. Batching, shuffling, validation, sample and class
//! weights, per-output losses and metrics, regularization losses, callbacks and `History` live
//! here once.

mod history_plot;

use crate::callbacks::{CallbackContext, CallbackList, CallbackRef, Params, ProgbarLogger};
use crate::data::Dataset;
use crate::layers::collect_losses;
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;
use crate::random::next_seed;
use crate::Variable;
use keras_tensor::{no_grad, DType, Device, Error, Result, Tensor};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One or more tensors: a model's inputs or targets, one tensor per model input or output.
///
/// Built from `&Tensor` for single-input models, or from a list for several.
///
/// ```
/// use keras::trainers::Data;
/// use keras_tensor::Tensor;
/// let a = Tensor::new(&[1.0f32], &[1])?;
/// let one: Data = (&a).into();
/// let two: Data = [&a, &a].into();
/// assert_eq!((one.0.len(), two.0.len()), (1, 2));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Data(pub Vec<Tensor>);

impl From<&Tensor> for Data {
    fn from(t: &Tensor) -> Data {
        Data(vec![t.clone()])
    }
}
impl From<Tensor> for Data {
    fn from(t: Tensor) -> Data {
        Data(vec![t])
    }
}
impl From<Vec<Tensor>> for Data {
    fn from(v: Vec<Tensor>) -> Data {
        Data(v)
    }
}
impl From<&[Tensor]> for Data {
    fn from(v: &[Tensor]) -> Data {
        Data(v.to_vec())
    }
}
impl From<&[&Tensor]> for Data {
    fn from(v: &[&Tensor]) -> Data {
        Data(v.iter().map(|t| (*t).clone()).collect())
    }
}
impl<const N: usize> From<[&Tensor; N]> for Data {
    fn from(v: [&Tensor; N]) -> Data {
        Data(v.iter().map(|t| (*t).clone()).collect())
    }
}

/// Arguments of [`Trainer::compile_with`]: Keras's `compile(optimizer, loss, loss_weights,
/// metrics)`.
pub struct CompileArgs {
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer>,
    /// One loss for every output, or one per output.
    pub loss: Vec<Box<dyn Loss>>,
    /// Weights of the per-output losses in the total (`None`: all 1).
    pub loss_weights: Option<Vec<f64>>,
    /// Metric names, applied to every output (`"accuracy"` resolves per output from the label
    /// and prediction shapes on the first batch, as in Keras).
    pub metrics: Vec<String>,
}

impl CompileArgs {
    /// Keras's `compile_from_config`: the arguments a `compile_config` (from a `.keras` file)
    /// records. Losses and loss weights may be one value, a list, or a dict by output name
    /// (`output_names` orders it). `Ok(None)` when the config has no loss (Keras then
    /// compiles with `loss=None`, which keras-rs cannot train with).
    ///
    /// ```
    /// use keras::trainers::CompileArgs;
    /// let c = serde_json::json!({"optimizer": "sgd", "loss": ["mse", "mae"], "metrics": ["mae"]});
    /// let args = CompileArgs::from_compile_config(&c, &["a".into(), "b".into()])?.unwrap();
    /// assert_eq!((args.optimizer.class_name(), args.loss.len()), ("SGD", 2));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For unknown optimizers, losses or metrics, per-output metrics that differ, and
    /// `weighted_metrics` (not supported).
    pub fn from_compile_config(
        c: &serde_json::Value,
        output_names: &[String],
    ) -> Result<Option<CompileArgs>> {
        use serde_json::Value;
        let bad = |m: String| Error::InvalidArgument {
            op: "compile_from_config",
            msg: m,
        };
        let optimizer = match c.get("optimizer") {
            Some(Value::String(s)) => crate::optimizers::get(s)?,
            Some(v @ Value::Object(_)) => crate::optimizers::deserialize(v)?,
            None | Some(Value::Null) => crate::optimizers::get("rmsprop")?,
            Some(v) => return Err(bad(format!("optimizer: expected a name or a dict, got {v}"))),
        };
        // One value, a list, or a dict keyed by output name.
        let per_output = |v: &Value, what: &str| -> Result<Vec<Value>> {
            Ok(match v {
                Value::Array(a) => a.clone(),
                Value::Object(m) if !m.contains_key("class_name") => output_names
                    .iter()
                    .map(|n| {
                        m.get(n)
                            .cloned()
                            .ok_or_else(|| bad(format!("{what}: no entry for output {n:?}")))
                    })
                    .collect::<Result<_>>()?,
                other => vec![other.clone()],
            })
        };
        let loss_value = match c.get("loss") {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v,
        };
        let loss = per_output(loss_value, "loss")?
            .iter()
            .map(|l| match l {
                Value::String(s) => crate::losses::get(s),
                Value::Object(_) => {
                    let class = l.get("class_name").and_then(Value::as_str).unwrap_or("");
                    crate::losses::from_config(class, l.get("config").unwrap_or(&Value::Null))
                }
                other => Err(bad(format!("loss: expected a name or a dict, got {other}"))),
            })
            .collect::<Result<Vec<_>>>()?;
        let loss_weights = match c.get("loss_weights") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                per_output(v, "loss_weights")?
                    .iter()
                    .map(|w| {
                        w.as_f64()
                            .ok_or_else(|| bad(format!("loss_weights: {w} is not a number")))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let metric_name = |m: &Value| -> Result<String> {
            match m {
                Value::String(s) => Ok(s.clone()),
                Value::Object(_) => m
                    .pointer("/config/name")
                    .or_else(|| m.get("class_name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("metrics: cannot read {m}"))),
                other => Err(bad(format!("metrics: expected a name or a dict, got {other}"))),
            }
        };
        let metrics = match c.get("metrics") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list))
                if list.iter().all(|m| m.is_array() || m.is_null()) && !list.is_empty() =>
            {
                // Per-output lists: keras-rs applies one list to every output.
                let lists: Vec<Vec<String>> = list
                    .iter()
                    .map(|l| match l {
                        Value::Array(a) => a.iter().map(metric_name).collect(),
                        _ => Ok(Vec::new()),
                    })
                    .collect::<Result<_>>()?;
                if lists.windows(2).any(|w| w[0] != w[1]) {
                    return Err(bad(
                        "per-output metrics that differ between outputs are not supported".into(),
                    ));
                }
                lists.into_iter().next().unwrap_or_default()
            }
            Some(Value::Array(list)) => list.iter().map(metric_name).collect::<Result<_>>()?,
            Some(v) => vec![metric_name(v)?],
        };
        match c.get("weighted_metrics") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(v) => return Err(bad(format!("weighted_metrics {v} are not supported"))),
        }
        Ok(Some(CompileArgs {
            optimizer,
            loss,
            loss_weights,
            metrics,
        }))
    }
}

/// A compiled model's optimizer, losses and metrics (what `compile` stores).
pub struct Compiled {
    optimizer: Box<dyn Optimizer>,
    losses: Vec<Box<dyn Loss>>,
    loss_weights: Option<Vec<f64>>,
    metric_names: Vec<String>,
    /// Per output, resolved on the first batch.
    metrics: Vec<Vec<Box<dyn Metric>>>,
    output_names: Vec<String>,
}

impl Compiled {
    /// The optimizer (for custom training loops and callbacks).
    pub fn optimizer(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }

    /// The optimizer, read-only.
    pub fn optimizer_ref(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// Keras's `get_compile_config()`: what `compile` was given, as `.keras` files store it
    /// (`optimizer`, `loss`, `loss_weights`, `metrics`, …).
    ///
    /// ```
    /// use keras::{layers::Dense, losses, optimizers, Sequential, Trainer};
    /// let mut m = Sequential::new(vec![Box::new(Dense::new(2))]).input_shape(&[3]);
    /// m.compile(optimizers::get("adam")?, losses::get("mse")?, &["mae"])?;
    /// let c = m.compiled_slot().as_ref().unwrap().compile_config();
    /// assert_eq!(c["optimizer"]["class_name"], "Adam");
    /// assert_eq!(c["loss"]["class_name"], "MeanSquaredError");
    /// assert_eq!(c["metrics"][0], "mae");
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn compile_config(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        let loss = |l: &dyn Loss| {
            json!({"module": "keras.losses", "class_name": l.class_name(), "config": l.get_config(),
                   "registered_name": null})
        };
        let losses: Value = match self.losses.as_slice() {
            [one] => loss(one.as_ref()),
            many => Value::Array(many.iter().map(|l| loss(l.as_ref())).collect()),
        };
        let metrics = if self.metric_names.is_empty() {
            Value::Null
        } else {
            json!(self.metric_names)
        };
        json!({
            "optimizer": crate::optimizers::serialize(self.optimizer.as_ref()),
            "loss": losses,
            "loss_weights": self.loss_weights,
            "metrics": metrics,
            "weighted_metrics": null,
            "run_eagerly": false,
            "steps_per_execution": 1,
            "jit_compile": false,
        })
    }

    fn loss_for(&self, i: usize) -> &dyn Loss {
        self.losses[if self.losses.len() == 1 { 0 } else { i }].as_ref()
    }

    fn check_outputs(&self, n: usize, y: usize) -> Result<()> {
        if y != n {
            return Err(Error::InvalidArgument {
                op: "fit",
                msg: format!("the model has {n} output(s) but {y} target tensor(s) were given"),
            });
        }
        if self.losses.len() != 1 && self.losses.len() != n {
            return Err(Error::InvalidArgument {
                op: "compile",
                msg: format!(
                    "{} losses were given for a model with {n} outputs (give one, or one per output)",
                    self.losses.len()
                ),
            });
        }
        if let Some(w) = &self.loss_weights {
            if w.len() != n {
                return Err(Error::InvalidArgument {
                    op: "compile",
                    msg: format!("{} loss_weights were given for a model with {n} outputs", w.len()),
                });
            }
        }
        Ok(())
    }

    fn resolve_metrics(&mut self, ys: &[Tensor], preds: &[Tensor]) -> Result<()> {
        if !self.metrics.is_empty() || self.metric_names.is_empty() {
            return Ok(());
        }
        let multi = preds.len() > 1;
        for (i, (y, p)) in ys.iter().zip(preds).enumerate() {
            let mut per = Vec::new();
            for n in &self.metric_names {
                let mut m = crate::metrics::get_for_shapes(n, y.shape(), p.shape())?;
                if multi {
                    let name = format!("{}_{}", self.output_names[i], m.name());
                    m.set_name(&name);
                }
                per.push(m);
            }
            self.metrics.push(per);
        }
        Ok(())
    }

    fn reset_metrics(&mut self) {
        for m in self.metrics.iter_mut().flatten() {
            m.reset_state();
        }
    }

    fn update_metrics(
        &mut self,
        ys: &[Tensor],
        preds: &[Tensor],
        masks: &[Option<Tensor>],
        sw: Option<&Tensor>,
    ) -> Result<()> {
        self.resolve_metrics(ys, preds)?;
        no_grad(|| -> Result<()> {
            for (i, ((ms, y), p)) in self.metrics.iter_mut().zip(ys).zip(preds).enumerate() {
                let p = p.detach();
                let mask = masks.get(i).and_then(Option::as_ref);
                for m in ms.iter_mut() {
                    match mask {
                        Some(mask) => m.update_state_masked(y, &p, sw, Some(mask))?,
                        None => m.update_state(y, &p, sw)?,
                    }
                }
            }
            Ok(())
        })
    }

    fn metric_logs(&self, logs: &mut Logs) -> Result<()> {
        for m in self.metrics.iter().flatten() {
            logs.insert(m.name().to_string(), m.result()?);
        }
        Ok(())
    }

    /// The total loss of a step: the weighted per-output losses, the losses layers added with
    /// `add_loss` (activity regularizers) and the weight regularizers. Returns the total and
    /// the per-output values.
    fn total_loss(
        &self,
        weights: &[Variable],
        ys: &[Tensor],
        preds: &[Tensor],
        masks: &[Option<Tensor>],
        sw: Option<&Tensor>,
        extra: Vec<Tensor>,
    ) -> Result<(Tensor, Vec<f64>)> {
        self.check_outputs(preds.len(), ys.len())?;
        let mut total: Option<Tensor> = None;
        let mut acc = |t: Tensor| -> Result<()> {
            total = Some(match total.take() {
                Some(s) => s.add(&t)?,
                None => t,
            });
            Ok(())
        };
        let mut per = Vec::with_capacity(preds.len());
        for (i, (y, p)) in ys.iter().zip(preds).enumerate() {
            let l = match masks.get(i).and_then(Option::as_ref) {
                Some(m) => self.loss_for(i).call_masked(y, p, sw, Some(m))?,
                None => self.loss_for(i).call(y, p, sw)?,
            };
            per.push(l.detach().item()?);
            let w = self.loss_weights.as_ref().map_or(1.0, |w| w[i]);
            acc(if w == 1.0 { l } else { l.mul_scalar(w)? })?;
        }
        for e in extra {
            acc(e)?;
        }
        for v in weights {
            if let Some(r) = v.regularizer() {
                acc(r.call(&v.value())?)?;
            }
        }
        let total = total.ok_or_else(|| Error::InvalidArgument {
            op: "fit",
            msg: "the model has no outputs".into(),
        })?;
        Ok((total, per))
    }
}

/// What the training loop needs from a model, and the Keras methods it then provides.
///
/// Implement the four required methods for a model of your own (Keras's subclassed
/// `Model`); `compile`, `fit`, `evaluate`, `predict` follow.
///
/// ```
/// use keras::layers::{Dense, Layer};
/// use keras::trainers::{Compiled, Trainer};
/// use keras::{losses, optimizers, FitArgs, Variable};
/// use keras_tensor::{DType, Device, Result, Tensor};
///
/// /// `y = dense(x) + x`: a residual model written by hand.
/// struct Residual { dense: Dense, compiled: Option<Compiled> }
/// impl Trainer for Residual {
///     fn forward(&self, x: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
///         Ok(vec![self.dense.call(&x[0], training)?.add(&x[0])?])
///     }
///     fn variables(&self) -> Vec<Variable> { self.dense.weights() }
///     fn trainable_variables(&self) -> Vec<Variable> { self.dense.trainable_weights() }
///     fn compiled_slot(&mut self) -> &mut Option<Compiled> { &mut self.compiled }
/// }
/// let mut dense = Dense::new(3);
/// dense.build(&[None, Some(3)])?;
/// let mut model = Residual { dense, compiled: None };
/// model.compile(optimizers::get("sgd")?, losses::get("mse")?, &[])?;
/// let x = Tensor::random_normal(&[8, 3], 0.0, 1.0, 1, DType::F32, &Device::Cpu)?;
/// let h = model.fit(&x, &x, FitArgs { epochs: 2, verbose: 0, ..Default::default() })?;
/// assert_eq!(h.history["loss"].len(), 2);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub trait Trainer {
    /// The forward pass: one tensor per model input in, one per output out.
    ///
    /// # Errors
    /// When the inputs do not fit the model.
    fn forward(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>>;
    /// [`Trainer::forward`] with each output's Keras mask (`None` when unmasked): training
    /// and evaluation weight each output's loss by its mask, as Keras does. The default
    /// gives no masks; `Sequential` and `Model` give the masks their layers propagate.
    ///
    /// # Errors
    /// As [`Trainer::forward`].
    fn forward_masked(
        &self,
        inputs: &[Tensor],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let ys = self.forward(inputs, training)?;
        let n = ys.len();
        Ok((ys, vec![None; n]))
    }
    /// Every weight (trainable and not), Keras's `model.weights`.
    fn variables(&self) -> Vec<Variable>;
    /// The weights the optimizer updates.
    fn trainable_variables(&self) -> Vec<Variable>;
    /// Where `compile` keeps its state.
    fn compiled_slot(&mut self) -> &mut Option<Compiled>;
    /// Called with the first data seen, before any step: models whose input shape was not
    /// declared build themselves here.
    ///
    /// # Errors
    /// When the model cannot take such inputs.
    fn prepare(&mut self, _inputs: &[Tensor]) -> Result<()> {
        Ok(())
    }
    /// The model as a layer, for saving: `Sequential` and `Model` return themselves, which
    /// lets `fit` hand callbacks such as `ModelCheckpoint` a way to save the model. `None`
    /// (the default) for models that cannot be described by a Keras config.
    fn as_layer(&self) -> Option<&dyn crate::layers::Layer> {
        None
    }
    /// Output names, used to name per-output losses and metrics (`"out_accuracy"`).
    fn output_names(&self) -> Vec<String> {
        vec!["output".into()]
    }

    /// Keras's `compile(optimizer, loss, metrics)` with one loss for every output.
    ///
    /// # Errors
    /// When the model cannot be built from a declared input shape.
    fn compile(&mut self, optimizer: Box<dyn Optimizer>, loss: Box<dyn Loss>, metrics: &[&str]) -> Result<()>
    where
        Self: Sized,
    {
        self.compile_with(CompileArgs {
            optimizer,
            loss: vec![loss],
            loss_weights: None,
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Keras's `compile` with every argument: per-output losses and `loss_weights`.
    ///
    /// # Errors
    /// For an empty loss list, or a loss / loss-weight count that does not match the outputs.
    fn compile_with(&mut self, args: CompileArgs) -> Result<()>
    where
        Self: Sized,
    {
        compile_into(self, args)
    }

    /// Trains for `args.epochs` epochs; returns the per-epoch logs.
    ///
    /// # Errors
    /// Before `compile`, for mismatched sample counts, or bad arguments.
    fn fit(&mut self, x: impl Into<Data>, y: impl Into<Data>, args: FitArgs) -> Result<History>
    where
        Self: Sized,
    {
        let (x, y) = (x.into(), y.into());
        self.prepare(&x.0)?;
        with_compiled(self, "fit", |m, c| fit(m, c, &x.0, &y.0, &args))
    }

    /// Trains on a [`Dataset`] of `(x, y)` or `(x, y, sample_weight)` batches: Keras's
    /// `fit(dataset)`. Each epoch is one pass (or `steps_per_epoch` batches of a fresh pass);
    /// validation comes from `args.validation_dataset`.
    ///
    /// # Errors
    /// Before `compile`; with `validation_split`, `class_weight`, `sample_weight` or
    /// `validation_data` arrays (not supported with datasets, as in Keras); for malformed
    /// elements.
    fn fit_dataset(&mut self, data: &Dataset, args: FitArgs) -> Result<History>
    where
        Self: Sized,
    {
        if args.validation_split > 0.0
            || args.class_weight.is_some()
            || args.sample_weight.is_some()
            || args.validation_data.is_some()
        {
            return Err(Error::InvalidArgument {
                op: "fit",
                msg: "with a Dataset, give sample weights as a third element component and validation as \
                      validation_dataset (validation_split, class_weight, sample_weight and validation_data \
                      arrays are for tensor inputs)"
                    .into(),
            });
        }
        if let Some(first) = data.iter()?.next() {
            self.prepare(&element_batch(first)?.x)?;
        }
        let steps = args.steps_per_epoch;
        with_compiled(self, "fit", |m, c| {
            let mut epoch = || -> Result<Batches<'static>> {
                let b = dataset_batches(data)?;
                Ok(match steps {
                    Some(k) => Box::new(b.take(k)),
                    None => b,
                })
            };
            let mut val = args
                .validation_dataset
                .as_ref()
                .map(|d| move || dataset_batches(d));
            let steps = steps.or(data.cardinality());
            let val = val
                .as_mut()
                .map(|f| f as &mut dyn FnMut() -> Result<Batches<'static>>);
            fit_loop(m, c, &args, steps, &mut epoch, val)
        })
    }

    /// Loss and metrics over a [`Dataset`] of `(x, y)` batches.
    ///
    /// # Errors
    /// Before `compile`, or for malformed elements.
    fn evaluate_dataset(&mut self, data: &Dataset) -> Result<Logs>
    where
        Self: Sized,
    {
        if let Some(first) = data.iter()?.next() {
            self.prepare(&element_batch(first)?.x)?;
        }
        with_compiled(self, "evaluate", |m, c| {
            evaluate(m, c, dataset_batches(data)?, &mut CallbackList::default(), None)
        })
    }

    /// Outputs for the first component of every element of a batched [`Dataset`], one
    /// tensor per model output.
    ///
    /// # Errors
    /// When the inputs do not fit the model or the dataset is empty.
    fn predict_dataset(&mut self, data: &Dataset) -> Result<Vec<Tensor>>
    where
        Self: Sized,
    {
        let first_input = |e: Result<Vec<Tensor>>| -> Result<Vec<Tensor>> {
            let x = e?.into_iter().next().ok_or_else(|| Error::InvalidArgument {
                op: "predict",
                msg: "a dataset element has no components".into(),
            })?;
            Ok(vec![x])
        };
        if let Some(first) = data.iter()?.next() {
            self.prepare(&first_input(first)?)?;
        }
        predict_batches(self, data.iter()?.map(first_input), "the dataset is empty")
    }

    /// Loss and metrics over `x`, `y` (Keras's `evaluate(..., return_dict=True)`).
    ///
    /// # Errors
    /// Before `compile`, or for mismatched inputs.
    fn evaluate(&mut self, x: impl Into<Data>, y: impl Into<Data>, batch_size: usize) -> Result<Logs>
    where
        Self: Sized,
    {
        let (x, y) = (x.into(), y.into());
        self.prepare(&x.0)?;
        with_compiled(self, "evaluate", |m, c| {
            let b = array_batches(&x.0, &y.0, None, batch_size)?;
            evaluate(m, c, b, &mut CallbackList::default(), None)
        })
    }

    /// Outputs of a single-output model for `x`, computed in batches with no tape.
    ///
    /// # Errors
    /// When the input does not fit the model, or it has several outputs (use
    /// [`Trainer::predict_multi`]).
    fn predict(&mut self, x: impl Into<Data>, batch_size: usize) -> Result<Tensor>
    where
        Self: Sized,
    {
        single(self.predict_multi(x, batch_size)?, "predict")
    }

    /// One tensor per output for `x`, computed in batches with no tape.
    ///
    /// # Errors
    /// When the input does not fit the model.
    fn predict_multi(&mut self, x: impl Into<Data>, batch_size: usize) -> Result<Vec<Tensor>>
    where
        Self: Sized,
    {
        let x = x.into();
        self.prepare(&x.0)?;
        predict(self, &x.0, batch_size)
    }

    /// One gradient step on one batch; returns the loss and metrics after it.
    ///
    /// # Errors
    /// Before `compile`, or for mismatched inputs.
    fn train_on_batch(&mut self, x: impl Into<Data>, y: impl Into<Data>) -> Result<Logs>
    where
        Self: Sized,
    {
        let (x, y) = (x.into(), y.into());
        self.prepare(&x.0)?;
        with_compiled(self, "train_on_batch", |m, c| {
            let (loss, per) = train_step(m, c, &x.0, &y.0, None)?;
            let mut logs = Logs::new();
            logs.insert("loss".into(), loss);
            output_loss_logs(c, &per, &mut logs);
            c.metric_logs(&mut logs)?;
            Ok(logs)
        })
    }

    /// Loss and metrics on one batch, no update.
    ///
    /// # Errors
    /// Before `compile`, or for mismatched inputs.
    fn test_on_batch(&mut self, x: impl Into<Data>, y: impl Into<Data>) -> Result<Logs>
    where
        Self: Sized,
    {
        let x = x.into();
        let n = x.0.first().map_or(1, |t| t.shape().first().copied().unwrap_or(1));
        self.evaluate(x, y, n.max(1))
    }

    /// Outputs of a single-output model for one batch, no tape.
    ///
    /// # Errors
    /// When the input does not fit the model.
    fn predict_on_batch(&mut self, x: impl Into<Data>) -> Result<Tensor>
    where
        Self: Sized,
    {
        let x = x.into();
        self.prepare(&x.0)?;
        single(no_grad(|| self.forward(&x.0, false))?, "predict_on_batch")
    }
}

/// What [`Trainer::compile_with`] does by default: checks the arguments against the model's
/// outputs and stores the compiled state. A model overriding `compile_with` (to build itself
/// first, say) ends by calling this.
///
/// # Errors
/// For an empty loss list, or a loss / loss-weight count that does not match the outputs.
pub fn compile_into<M: Trainer + ?Sized>(model: &mut M, args: CompileArgs) -> Result<()> {
    if args.loss.is_empty() {
        return Err(Error::InvalidArgument {
            op: "compile",
            msg: "give at least one loss".into(),
        });
    }
    let names = model.output_names();
    let n = names.len();
    let c = Compiled {
        optimizer: args.optimizer,
        losses: args.loss,
        loss_weights: args.loss_weights,
        metric_names: args.metrics,
        metrics: Vec::new(),
        output_names: names,
    };
    c.check_outputs(n, n)?;
    *model.compiled_slot() = Some(c);
    Ok(())
}

fn single(mut v: Vec<Tensor>, op: &'static str) -> Result<Tensor> {
    if v.len() == 1 {
        Ok(v.remove(0))
    } else {
        Err(Error::InvalidArgument {
            op,
            msg: format!("the model has {} outputs: use the *_multi form", v.len()),
        })
    }
}

/// Takes the compiled state out of the model for the duration of `f`, then puts it back.
fn with_compiled<M: Trainer, T>(
    model: &mut M,
    op: &'static str,
    f: impl FnOnce(&M, &mut Compiled) -> Result<T>,
) -> Result<T> {
    let mut c = model
        .compiled_slot()
        .take()
        .ok_or_else(|| Error::InvalidArgument {
            op,
            msg: "you must call compile() before training or evaluating the model".into(),
        })?;
    let r = f(model, &mut c);
    *model.compiled_slot() = Some(c);
    r
}

/// Arguments of `fit`, with Keras's defaults.
///
/// ```
/// let args = keras::FitArgs { epochs: 3, batch_size: 64, ..Default::default() };
/// assert_eq!(args.verbose, 1);
/// ```
#[derive(Clone)]
pub struct FitArgs {
    /// Samples per gradient step (32).
    pub batch_size: usize,
    /// Index of the last epoch to run (1).
    pub epochs: usize,
    /// 0 silent, 1 a live progress bar, 2 one line per epoch (1).
    pub verbose: u8,
    /// Callbacks, called in order (the progress bar is added after them when `verbose > 0`).
    pub callbacks: Vec<CallbackRef>,
    /// Fraction of the data, taken from the end before shuffling, held out for validation.
    pub validation_split: f64,
    /// Explicit validation inputs and targets (overrides `validation_split`).
    pub validation_data: Option<(Data, Data)>,
    /// Validation data as a [`Dataset`] of `(x, y)` batches (for either form of `fit`).
    pub validation_dataset: Option<Dataset>,
    /// Shuffle the training samples every epoch (true).
    pub shuffle: bool,
    /// Per-class loss weights (class index → weight), for every class `0..K`; single-output
    /// models only, not together with `sample_weight`.
    pub class_weight: Option<BTreeMap<usize, f64>>,
    /// One loss weight per training sample.
    pub sample_weight: Option<Tensor>,
    /// Epoch to start from, for resuming (0).
    pub initial_epoch: usize,
    /// Batches per epoch (`None`: the whole data set).
    pub steps_per_epoch: Option<usize>,
    /// Validate every `validation_freq` epochs (1).
    pub validation_freq: usize,
}

impl std::fmt::Debug for FitArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitArgs")
            .field("batch_size", &self.batch_size)
            .field("epochs", &self.epochs)
            .field("verbose", &self.verbose)
            .field("callbacks", &self.callbacks.len())
            .field("validation_split", &self.validation_split)
            .field("validation_data", &self.validation_data.is_some())
            .field("validation_dataset", &self.validation_dataset)
            .field("shuffle", &self.shuffle)
            .field("class_weight", &self.class_weight)
            .field(
                "sample_weight",
                &self.sample_weight.as_ref().map(|t| t.shape().to_vec()),
            )
            .field("initial_epoch", &self.initial_epoch)
            .field("steps_per_epoch", &self.steps_per_epoch)
            .field("validation_freq", &self.validation_freq)
            .finish()
    }
}

impl Default for FitArgs {
    fn default() -> Self {
        FitArgs {
            batch_size: 32,
            epochs: 1,
            verbose: 1,
            callbacks: Vec::new(),
            validation_split: 0.0,
            validation_data: None,
            validation_dataset: None,
            shuffle: true,
            class_weight: None,
            sample_weight: None,
            initial_epoch: 0,
            steps_per_epoch: None,
            validation_freq: 1,
        }
    }
}

/// Per-epoch logs of `fit`: `history["loss"][e]`, `history["val_accuracy"][e]`, …
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Values per metric name, one per epoch run.
    pub history: BTreeMap<String, Vec<f64>>,
    /// The epoch indices run.
    pub epoch: Vec<usize>,
}

/// Named values (`loss`, metric names), sorted by name as Keras prints them.
pub type Logs = BTreeMap<String, f64>;

/// The common sample count of every tensor in `xs` and `ys`.
fn sample_count(xs: &[Tensor], ys: &[Tensor], op: &'static str) -> Result<usize> {
    let first = xs.first().ok_or_else(|| Error::InvalidArgument {
        op,
        msg: "no input tensors".into(),
    })?;
    let n = first.shape().first().copied().unwrap_or(0);
    for t in xs.iter().chain(ys) {
        if t.shape().first().copied() != Some(n) {
            return Err(Error::ShapeMismatch {
                op,
                lhs: first.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
    }
    Ok(n)
}

fn narrow_all(ts: &[Tensor], start: usize, len: usize) -> Result<Vec<Tensor>> {
    ts.iter().map(|t| t.narrow(0, start, len)).collect()
}

fn select_all(ts: &[Tensor], idx: &Tensor) -> Result<Vec<Tensor>> {
    ts.iter().map(|t| t.index_select(idx, 0)).collect()
}

fn output_loss_logs(c: &Compiled, per: &[f64], logs: &mut Logs) {
    if per.len() > 1 {
        for (name, v) in c.output_names.iter().zip(per) {
            logs.insert(format!("{name}_loss"), *v);
        }
    }
}

/// One optimizer step on a batch; returns the batch's total loss and per-output losses.
pub(crate) fn train_step(
    model: &dyn Trainer,
    c: &mut Compiled,
    xs: &[Tensor],
    ys: &[Tensor],
    sw: Option<&Tensor>,
) -> Result<(f64, Vec<f64>)> {
    let vars = model.trainable_variables();
    let ((preds, masks), extra) = collect_losses(|| model.forward_masked(xs, true))?;
    let (loss, per) = c.total_loss(&vars, ys, &preds, &masks, sw, extra)?;
    let grads = loss.backward()?;
    let mut gs = Vec::with_capacity(vars.len());
    for v in &vars {
        gs.push(match grads.get(&v.value()) {
            Some(g) => g.clone(),
            None => v.value().zeros_like()?,
        });
    }
    c.optimizer.apply(&gs, &vars)?;
    c.update_metrics(ys, &preds, &masks, sw)?;
    Ok((loss.item()?, per))
}

fn batches(n: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize)> + Clone {
    (0..n.div_ceil(batch_size)).map(move |b| (b * batch_size, batch_size.min(n - b * batch_size)))
}

/// Runs the model over `xs` in batches with no tape, concatenating each output.
pub(crate) fn predict(model: &dyn Trainer, xs: &[Tensor], batch_size: usize) -> Result<Vec<Tensor>> {
    let n = sample_count(xs, &[], "predict")?;
    let inputs = batches(n, batch_size.max(1)).map(|(s, len)| narrow_all(xs, s, len));
    predict_batches(model, inputs, "no samples")
}

/// Runs the model on each batch of inputs with no tape and concatenates each output;
/// `empty` is the error message when there is no batch.
fn predict_batches(
    model: &dyn Trainer,
    inputs: impl Iterator<Item = Result<Vec<Tensor>>>,
    empty: &str,
) -> Result<Vec<Tensor>> {
    no_grad(|| {
        let mut outs: Vec<Vec<Tensor>> = Vec::new();
        for xs in inputs {
            let ys = model.forward(&xs?, false)?;
            if outs.is_empty() {
                outs = vec![Vec::new(); ys.len()];
            }
            for (o, y) in outs.iter_mut().zip(ys) {
                o.push(y);
            }
        }
        if outs.is_empty() {
            return Err(Error::InvalidArgument {
                op: "predict",
                msg: empty.into(),
            });
        }
        outs.iter()
            .map(|o| Tensor::concat(&o.iter().collect::<Vec<_>>(), 0))
            .collect()
    })
}

/// One batch: inputs, targets, optional per-sample weights.
pub(crate) struct Batch {
    x: Vec<Tensor>,
    y: Vec<Tensor>,
    sw: Option<Tensor>,
}

type Batches<'a> = Box<dyn Iterator<Item = Result<Batch>> + 'a>;

/// Batches of `xs`, `ys` (and weights) in order.
fn array_batches<'a>(
    xs: &'a [Tensor],
    ys: &'a [Tensor],
    sw: Option<&'a Tensor>,
    batch_size: usize,
) -> Result<Batches<'a>> {
    let n = sample_count(xs, ys, "evaluate")?;
    Ok(Box::new(batches(n, batch_size.max(1)).map(move |(s, len)| {
        Ok(Batch {
            x: narrow_all(xs, s, len)?,
            y: narrow_all(ys, s, len)?,
            sw: sw.map(|w| w.narrow(0, s, len)).transpose()?,
        })
    })))
}

/// A dataset element as a training batch: `(x, y)` or `(x, y, sample_weight)`.
fn element_batch(e: Result<Vec<Tensor>>) -> Result<Batch> {
    let mut e = e?;
    match e.len() {
        2 | 3 => {
            let sw = if e.len() == 3 { e.pop() } else { None };
            let y = e.pop().expect("len >= 2");
            let x = e.pop().expect("len >= 2");
            Ok(Batch {
                x: vec![x],
                y: vec![y],
                sw,
            })
        }
        k => Err(Error::InvalidArgument {
            op: "fit",
            msg: format!("dataset elements must be (x, y) or (x, y, sample_weight); got {k} components"),
        }),
    }
}

fn dataset_batches(ds: &Dataset) -> Result<Batches<'static>> {
    Ok(Box::new(ds.iter()?.map(element_batch)))
}

/// Loss (sample-weighted running mean) and metrics over `batches`.
fn evaluate(
    model: &dyn Trainer,
    c: &mut Compiled,
    batches: Batches<'_>,
    cbs: &mut CallbackList,
    mut ctx: Option<&mut CallbackContext>,
) -> Result<Logs> {
    c.reset_metrics();
    let weights = model.trainable_variables();
    let (mut total, mut count) = (0.0, 0usize);
    let mut per_total: Vec<f64> = Vec::new();
    let mut logs = Logs::new();
    if let Some(ctx) = ctx.as_deref_mut() {
        cbs.on_test_begin(ctx, &logs)?;
    }
    no_grad(|| -> Result<()> {
        for (b, batch) in batches.enumerate() {
            if let Some(ctx) = ctx.as_deref_mut() {
                cbs.on_test_batch_begin(ctx, b, &logs)?;
            }
            let Batch {
                x: xb,
                y: yb,
                sw: swb,
            } = batch?;
            let len = xb.first().map_or(0, |t| t.shape().first().copied().unwrap_or(0));
            let ((preds, masks), extra) = collect_losses(|| model.forward_masked(&xb, false))?;
            let (loss, per) = c.total_loss(&weights, &yb, &preds, &masks, swb.as_ref(), extra)?;
            total += loss.item()? * len as f64;
            count += len;
            per_total.resize(per.len(), 0.0);
            for (t, p) in per_total.iter_mut().zip(&per) {
                *t += p * len as f64;
            }
            c.update_metrics(&yb, &preds, &masks, swb.as_ref())?;
            logs = step_logs(c, total, &per_total, count)?;
            if let Some(ctx) = ctx.as_deref_mut() {
                cbs.on_test_batch_end(ctx, b, &logs)?;
            }
        }
        Ok(())
    })?;
    if count == 0 {
        return Err(Error::InvalidArgument {
            op: "evaluate",
            msg: "no samples to evaluate".into(),
        });
    }
    if let Some(ctx) = ctx {
        cbs.on_test_end(ctx, &logs)?;
    }
    Ok(logs)
}

fn step_logs(c: &Compiled, total: f64, per_total: &[f64], count: usize) -> Result<Logs> {
    let mut logs = Logs::new();
    let k = count.max(1) as f64;
    logs.insert("loss".into(), total / k);
    let per: Vec<f64> = per_total.iter().map(|v| v / k).collect();
    output_loss_logs(c, &per, &mut logs);
    c.metric_logs(&mut logs)?;
    Ok(logs)
}

/// A seeded permutation of `0..n` (as an `int64` tensor).
fn permutation(n: usize) -> Result<Tensor> {
    Tensor::random_uniform(&[n], 0.0, 1.0, next_seed(), DType::F32, &Device::Cpu)?.argsort(0, false)
}

/// Per-sample weights from a class-weight table and the labels (integer labels, or one-hot /
/// probability rows whose argmax is the class), as Keras's `class_weight`.
fn class_sample_weights(y: &Tensor, table: &BTreeMap<usize, f64>) -> Result<Tensor> {
    let k = table.len();
    if table.keys().copied().ne(0..k) {
        return Err(Error::InvalidArgument {
            op: "fit",
            msg: format!(
                "class_weight must have one entry for every class 0..K; got keys {:?}",
                table.keys().collect::<Vec<_>>()
            ),
        });
    }
    let labels = match y.shape() {
        [_] => y.clone(),
        [_, 1] => y.reshape(&[-1])?,
        [_, _] => y.argmax(-1, false)?,
        s => {
            return Err(Error::InvalidArgument {
                op: "fit",
                msg: format!("class_weight is not supported for targets of shape {s:?} (rank 3+)"),
            })
        }
    };
    let w: Vec<f32> = labels
        .to_vec_f64()?
        .iter()
        .map(|&c| {
            let i = c as usize;
            if c < 0.0 || c.fract() != 0.0 || i >= k {
                Err(Error::InvalidArgument {
                    op: "fit",
                    msg: format!("label {c} has no entry in class_weight (classes 0..{k})"),
                })
            } else {
                Ok(table[&i] as f32)
            }
        })
        .collect::<Result<_>>()?;
    let n = w.len();
    Tensor::from_vec(w, &[n], &Device::Cpu)
}

/// The training loop.
fn fit(model: &dyn Trainer, c: &mut Compiled, x: &[Tensor], y: &[Tensor], args: &FitArgs) -> Result<History> {
    let n = sample_count(x, y, "fit")?;
    if args.batch_size == 0 || args.validation_freq == 0 {
        return Err(Error::InvalidArgument {
            op: "fit",
            msg: "batch_size and validation_freq must be >= 1".into(),
        });
    }
    if !(0.0..1.0).contains(&args.validation_split) {
        return Err(Error::InvalidArgument {
            op: "fit",
            msg: format!(
                "validation_split must be in [0, 1), got {}",
                args.validation_split
            ),
        });
    }
    let sw = match (&args.sample_weight, &args.class_weight) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidArgument {
                op: "fit",
                msg: "you cannot give class_weight and sample_weight at the same time".into(),
            })
        }
        (Some(w), None) => {
            if w.shape() != [n] {
                return Err(Error::ShapeMismatch {
                    op: "fit (sample_weight)",
                    lhs: vec![n],
                    rhs: w.shape().to_vec(),
                });
            }
            Some(w.clone())
        }
        (None, Some(table)) => {
            if y.len() != 1 {
                return Err(Error::InvalidArgument {
                    op: "fit",
                    msg: "class_weight is only supported for single-output models".into(),
                });
            }
            Some(class_sample_weights(&y[0], table)?)
        }
        (None, None) => None,
    };
    // Keras takes the validation split from the end, before any shuffling.
    let (x_train, y_train, sw_train, val) = match &args.validation_data {
        Some((xv, yv)) => {
            sample_count(&xv.0, &yv.0, "fit (validation_data)")?;
            (x.to_vec(), y.to_vec(), sw, Some((xv.0.clone(), yv.0.clone())))
        }
        None if args.validation_split > 0.0 => {
            let n_val = ((n as f64) * args.validation_split).floor() as usize;
            let n_train = n - n_val;
            let v = (narrow_all(x, n_train, n_val)?, narrow_all(y, n_train, n_val)?);
            let swt = sw.map(|w| w.narrow(0, 0, n_train)).transpose()?;
            (
                narrow_all(x, 0, n_train)?,
                narrow_all(y, 0, n_train)?,
                swt,
                Some(v),
            )
        }
        None => (x.to_vec(), y.to_vec(), sw, None),
    };
    fit_arrays(
        model,
        c,
        args,
        &x_train,
        &y_train,
        sw_train.as_ref(),
        val.as_ref(),
    )
}

/// `fit` on tensors once the validation split and sample weights are settled.
fn fit_arrays<'a>(
    model: &dyn Trainer,
    c: &mut Compiled,
    args: &'a FitArgs,
    xt: &'a [Tensor],
    yt: &'a [Tensor],
    swt: Option<&'a Tensor>,
    val: Option<&'a (Vec<Tensor>, Vec<Tensor>)>,
) -> Result<History> {
    let n_train = xt[0].shape()[0];
    if n_train == 0 {
        return Err(Error::InvalidArgument {
            op: "fit",
            msg: "no training samples".into(),
        });
    }
    let steps = args
        .steps_per_epoch
        .unwrap_or_else(|| n_train.div_ceil(args.batch_size));
    let mut epoch_batches = || -> Result<Batches<'a>> {
        let order = if args.shuffle {
            Some(permutation(n_train)?)
        } else {
            None
        };
        Ok(Box::new(
            batches(n_train, args.batch_size)
                .cycle()
                .take(steps)
                .map(move |(s, len)| {
                    Ok(match &order {
                        Some(p) => {
                            let idx = p.narrow(0, s, len)?;
                            Batch {
                                x: select_all(xt, &idx)?,
                                y: select_all(yt, &idx)?,
                                sw: swt.map(|w| w.index_select(&idx, 0)).transpose()?,
                            }
                        }
                        None => Batch {
                            x: narrow_all(xt, s, len)?,
                            y: narrow_all(yt, s, len)?,
                            sw: swt.map(|w| w.narrow(0, s, len)).transpose()?,
                        },
                    })
                }),
        ))
    };
    let bs = args.batch_size;
    let mut val_arrays = val
        .as_ref()
        .map(|(xv, yv)| move || array_batches(xv, yv, None, bs));
    let mut val_ds = args
        .validation_dataset
        .as_ref()
        .map(|d| move || dataset_batches(d));
    let val_batches: Option<&mut dyn FnMut() -> Result<Batches<'a>>> = match (&mut val_ds, &mut val_arrays) {
        (Some(f), _) => Some(f),
        (None, Some(f)) => Some(f),
        (None, None) => None,
    };
    fit_loop(model, c, args, Some(steps), &mut epoch_batches, val_batches)
}

/// The epoch loop shared by array and dataset training: callbacks, running logs,
/// validation, early stop.
fn fit_loop<'a>(
    model: &dyn Trainer,
    c: &mut Compiled,
    args: &FitArgs,
    steps: Option<usize>,
    epoch_batches: &mut dyn FnMut() -> Result<Batches<'a>>,
    mut val_batches: Option<&mut dyn FnMut() -> Result<Batches<'a>>>,
) -> Result<History> {
    // Keras's order: the user's callbacks, then History, then the progress bar.
    let mut cbs = CallbackList::new(args.callbacks.clone());
    let history = Arc::new(Mutex::new(History::default()));
    cbs.push(history.clone());
    if args.verbose > 0 {
        cbs.push(Arc::new(Mutex::new(ProgbarLogger::new())));
    }
    let params = Params {
        epochs: args.epochs,
        steps,
        verbose: args.verbose,
    };
    // A schedule cannot be set (Keras's TypeError): callbacks then see no learning rate.
    let scheduled = c.optimizer.get_config()["learning_rate"].is_object();
    let lr_of = |c: &mut Compiled| -> Option<f64> { (!scheduled).then(|| c.optimizer.learning_rate()) };
    // Keras builds the optimizer before the first step, so that callbacks that save the
    // model (ModelCheckpoint, BackupAndRestore) see every optimizer variable from the start.
    let trainable = model.trainable_variables();
    if !trainable.is_empty() {
        c.optimizer.build(&trainable)?;
    }
    let mut ctx = CallbackContext::new(model.variables(), params, lr_of(c));
    if let Some(layer) = model.as_layer() {
        ctx.set_model_state(crate::saving::ModelState::capture(layer, Some(c)));
    }
    // Applies a learning rate a callback set, then refreshes what callbacks see.
    let sync = |c: &mut Compiled, ctx: &mut CallbackContext| -> Result<()> {
        if let Some(lr) = ctx.take_pending_learning_rate() {
            c.optimizer.set_learning_rate(lr)?;
            ctx.sync_learning_rate(lr_of(c));
        }
        Ok(())
    };
    cbs.on_train_begin(&mut ctx, &Logs::new())?;
    sync(c, &mut ctx)?;
    // A callback restoring a run (BackupAndRestore) may move the first epoch forward.
    let initial_epoch = ctx.initial_epoch().unwrap_or(0).max(args.initial_epoch);
    let mut last_logs = Logs::new();
    for epoch in initial_epoch..args.epochs {
        c.reset_metrics();
        cbs.on_epoch_begin(&mut ctx, epoch, &Logs::new())?;
        sync(c, &mut ctx)?;
        let (mut total, mut count) = (0.0, 0usize);
        let mut per_total: Vec<f64> = Vec::new();
        let mut logs = Logs::new();
        for (step, batch) in epoch_batches()?.enumerate() {
            cbs.on_train_batch_begin(&mut ctx, step, &logs)?;
            sync(c, &mut ctx)?;
            let Batch {
                x: xb,
                y: yb,
                sw: swb,
            } = batch?;
            let len = xb.first().map_or(0, |t| t.shape().first().copied().unwrap_or(0));
            let (l, per) = train_step(model, c, &xb, &yb, swb.as_ref())?;
            total += l * len as f64;
            count += len;
            per_total.resize(per.len(), 0.0);
            for (t, p) in per_total.iter_mut().zip(&per) {
                *t += p * len as f64;
            }
            logs = step_logs(c, total, &per_total, count)?;
            cbs.on_train_batch_end(&mut ctx, step, &logs)?;
            sync(c, &mut ctx)?;
            if ctx.stop_training {
                break;
            }
        }
        if count == 0 {
            return Err(Error::InvalidArgument {
                op: "fit",
                msg: "the training data produced no batches".into(),
            });
        }
        if let Some(vb) = val_batches.as_deref_mut() {
            if (epoch + 1 - initial_epoch) % args.validation_freq == 0 {
                let vlogs = evaluate(model, c, vb()?, &mut cbs, Some(&mut ctx))?;
                sync(c, &mut ctx)?;
                for (k, v) in vlogs {
                    logs.insert(format!("val_{k}"), v);
                }
            }
        }
        // What "auto" mode means for each metric (Keras's metric `_direction`).
        for m in c.metrics.iter().flatten() {
            if let Some(d) = crate::callbacks::metric_direction(m.class_name()) {
                ctx.set_metric_direction(m.name(), d);
            }
        }
        cbs.on_epoch_end(&mut ctx, epoch, &mut logs)?;
        sync(c, &mut ctx)?;
        last_logs = logs;
        if ctx.stop_training {
            break;
        }
    }
    cbs.on_train_end(&mut ctx, &last_logs)?;
    let h = history.lock().map_err(|_| Error::InvalidArgument {
        op: "fit",
        msg: "the History callback panicked".into(),
    })?;
    Ok(h.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Dense, Layer};
    use crate::optimizers::Optimizer;
    use crate::regularizers::Regularizer;
    use crate::{losses, optimizers, Sequential};

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        Tensor::random_normal(shape, 0.0, 1.0, seed, DType::F32, &Device::Cpu).unwrap()
    }

    /// A model whose weights do not move (SGD with learning rate 0), so the logged loss of
    /// one full batch can be recomputed by hand.
    fn frozen_model(units: usize, act: &str) -> Sequential {
        let mut m =
            Sequential::new(vec![Box::new(Dense::new(units).activation(act).unwrap())]).input_shape(&[3]);
        m.compile(
            Box::new(optimizers::SGD::new().learning_rate(0.0)),
            losses::get(if units == 1 {
                "mse"
            } else {
                "sparse_categorical_crossentropy"
            })
            .unwrap(),
            &[],
        )
        .unwrap();
        m
    }

    fn one_epoch(m: &mut Sequential, x: &Tensor, y: &Tensor, args: FitArgs) -> f64 {
        let args = FitArgs {
            batch_size: 64,
            verbose: 0,
            shuffle: false,
            ..args
        };
        m.fit(x, y, args).unwrap().history["loss"][0]
    }

    #[test]
    fn class_weight_and_sample_weight_scale_each_sample() {
        let mut m = frozen_model(3, "softmax");
        let x = randn(&[10, 3], 1);
        let labels: Vec<i64> = vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
        let y = Tensor::new(&labels, &[10]).unwrap();
        let table = BTreeMap::from([(0, 1.0), (1, 2.0), (2, 0.5)]);
        let got = one_epoch(
            &mut m,
            &x,
            &y,
            FitArgs {
                class_weight: Some(table.clone()),
                ..Default::default()
            },
        );
        let w: Vec<f32> = labels.iter().map(|&c| table[&(c as usize)] as f32).collect();
        let w = Tensor::new(&w, &[10]).unwrap();
        let pred = m.predict(&x, 64).unwrap();
        let loss = losses::get("sparse_categorical_crossentropy").unwrap();
        let want = loss.call(&y, &pred, Some(&w)).unwrap().item().unwrap();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        let got_sw = one_epoch(
            &mut m,
            &x,
            &y,
            FitArgs {
                sample_weight: Some(w.clone()),
                ..Default::default()
            },
        );
        assert!((got_sw - want).abs() < 1e-6, "{got_sw} vs {want}");
        let unweighted = loss.call(&y, &pred, None).unwrap().item().unwrap();
        assert!((got - unweighted).abs() > 1e-4, "weights had no effect");
        let both = FitArgs {
            class_weight: Some(table),
            sample_weight: Some(w),
            verbose: 0,
            ..Default::default()
        };
        assert!(m
            .fit(&x, &y, both)
            .unwrap_err()
            .to_string()
            .contains("at the same time"));
        let gap = FitArgs {
            class_weight: Some(BTreeMap::from([(0, 1.0), (2, 1.0)])),
            verbose: 0,
            ..Default::default()
        };
        assert!(m.fit(&x, &y, gap).is_err());
    }

    #[test]
    fn weight_regularizers_add_to_the_loss() {
        let mut m = frozen_model(1, "linear");
        let x = randn(&[16, 3], 2);
        let y = randn(&[16, 1], 3);
        let plain = one_epoch(&mut m, &x, &y, FitArgs::default());
        let k = m.layers()[0].read().weights()[0].clone();
        k.set_regularizer(Some(Regularizer::L2(0.1)));
        let reg = one_epoch(&mut m, &x, &y, FitArgs::default());
        let penalty = 0.1 * k.value().square().unwrap().sum_all().unwrap().item().unwrap();
        assert!(
            (reg - plain - penalty).abs() < 1e-5,
            "{reg} - {plain} != {penalty}"
        );
        let eval = m.evaluate(&x, &y, 64).unwrap()["loss"];
        assert!(
            (eval - reg).abs() < 1e-5,
            "evaluate includes it too: {eval} vs {reg}"
        );
    }

    /// Callbacks reach the run: the scheduler's rate reaches the optimizer (and the logs),
    /// and with the rate at 0 from epoch 1 the loss stops improving, so EarlyStopping with
    /// patience 1 ends training after epoch 2 (Keras's rule: stop once `wait >= patience`).
    #[test]
    fn callbacks_steer_fit() {
        use crate::callbacks::{shared, EarlyStopping, LearningRateScheduler};
        let mut m = Sequential::new(vec![Box::new(Dense::new(1))]).input_shape(&[3]);
        m.compile(optimizers::get("sgd").unwrap(), losses::get("mse").unwrap(), &[])
            .unwrap();
        let (x, y) = (randn(&[64, 3], 1), randn(&[64, 1], 2));
        let stop = shared(EarlyStopping::new().monitor("loss").patience(1));
        let sched = shared(LearningRateScheduler::new(
            |epoch, lr| if epoch == 0 { lr } else { 0.0 },
        ));
        let args = FitArgs {
            epochs: 10,
            verbose: 0,
            shuffle: false,
            callbacks: vec![sched.clone(), stop.clone()],
            ..Default::default()
        };
        let h = m.fit(&x, &y, args).unwrap();
        assert_eq!(h.epoch, vec![0, 1, 2]);
        assert_eq!(stop.lock().unwrap().stopped_epoch(), 2);
        assert_eq!(h.history["learning_rate"][1], 0.0);
        assert_eq!(
            m.compiled_slot().as_mut().unwrap().optimizer().learning_rate(),
            0.0
        );
        let l = &h.history["loss"];
        assert!((l[1] - l[2]).abs() < 1e-9 && l[0] > l[1], "{l:?}");
        // "auto" mode on a metric learns its direction from the metric's class.
        let mut m = frozen_model(3, "softmax");
        m.compile(
            optimizers::get("sgd").unwrap(),
            losses::get("sparse_categorical_crossentropy").unwrap(),
            &["accuracy"],
        )
        .unwrap();
        let y = x.argmax(-1, false).unwrap();
        let watch = shared(EarlyStopping::new().monitor("val_accuracy").patience(100));
        let args = FitArgs {
            epochs: 2,
            verbose: 0,
            validation_split: 0.25,
            callbacks: vec![watch.clone()],
            ..Default::default()
        };
        m.fit(&x, &y, args).unwrap();
        assert!(watch.lock().unwrap().best().is_some());
    }

    #[test]
    fn datasets_train_and_evaluate_like_arrays() {
        use crate::data::Dataset;
        let mut m = frozen_model(3, "softmax");
        let x = randn(&[40, 3], 4);
        let y = x.argmax(-1, false).unwrap();
        let w = Tensor::random_uniform(&[40], 0.0, 2.0, 5, DType::F32, &Device::Cpu).unwrap();
        let ds = Dataset::from_tensor_slices(&[&x, &y]).unwrap().batch(16, false);
        let a = m.evaluate_dataset(&ds).unwrap()["loss"];
        let b = m.evaluate(&x, &y, 16).unwrap()["loss"];
        assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        let weighted = Dataset::from_tensor_slices(&[&x, &y, &w])
            .unwrap()
            .batch(40, false);
        let got = m.evaluate_dataset(&weighted).unwrap()["loss"];
        let pred = m.predict_dataset(&ds).unwrap().remove(0);
        assert_eq!(pred.shape(), &[40, 3]);
        let loss = losses::get("sparse_categorical_crossentropy").unwrap();
        let want = loss.call(&y, &pred, Some(&w)).unwrap().item().unwrap();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        let mut learner =
            Sequential::new(vec![Box::new(Dense::new(3).activation("softmax").unwrap())]).input_shape(&[3]);
        learner
            .compile(
                optimizers::get("adam").unwrap(),
                losses::get("sparse_categorical_crossentropy").unwrap(),
                &["accuracy"],
            )
            .unwrap();
        let train = Dataset::from_tensor_slices(&[&x, &y])
            .unwrap()
            .shuffle(40, Some(1))
            .batch(8, false)
            .prefetch(2);
        let args = FitArgs {
            epochs: 5,
            verbose: 0,
            validation_dataset: Some(ds.clone()),
            ..Default::default()
        };
        let h = learner.fit_dataset(&train, args).unwrap();
        let l = &h.history["loss"];
        assert!(
            l[4] < l[0] && h.history.contains_key("val_accuracy"),
            "{:?}",
            h.history
        );
        let bad = FitArgs {
            validation_split: 0.1,
            verbose: 0,
            ..Default::default()
        };
        assert!(learner
            .fit_dataset(&train, bad)
            .unwrap_err()
            .to_string()
            .contains("validation_split"));
    }

    /// A GAN-shaped custom loop: two models, two optimizers; the discriminator learns on
    /// real and (detached) fake batches, the generator through the discriminator, whose
    /// weights its step must leave alone. Each generator step lowers its own loss on the
    /// same noise (a small SGD step on a smooth loss).
    #[test]
    fn a_custom_two_model_loop_trains_like_a_gan() {
        let gen = Sequential::new(vec![Box::new(Dense::new(2))]).input_shape(&[2]);
        let disc =
            Sequential::new(vec![Box::new(Dense::new(1).activation("sigmoid").unwrap())]).input_shape(&[2]);
        gen.build_for(&[None, Some(2)]).unwrap();
        disc.build_for(&[None, Some(2)]).unwrap();
        let mut d_opt = optimizers::get("adam").unwrap();
        let mut g_opt: Box<dyn Optimizer> = Box::new(optimizers::SGD::new().learning_rate(0.01));
        let bce = losses::get("binary_crossentropy").unwrap();
        let real = randn(&[32, 2], 9).add_scalar(3.0).unwrap();
        let ones = Tensor::ones(&[32, 1], DType::F32, &Device::Cpu).unwrap();
        let zeros = ones.zeros_like().unwrap();
        let grads_of = |loss: &Tensor, vars: &[Variable]| -> Vec<Tensor> {
            let g = loss.backward().unwrap();
            vars.iter().map(|v| g.get(&v.value()).unwrap().clone()).collect()
        };
        let values = |vars: &[Variable]| -> Vec<Vec<f32>> {
            vars.iter().map(|v| v.value().to_vec().unwrap()).collect()
        };
        for step in 0..20 {
            let fake = gen.call(&randn(&[32, 2], step), true).unwrap().detach();
            let d_loss = bce
                .call(&ones, &disc.call(&real, true).unwrap(), None)
                .unwrap()
                .add(&bce.call(&zeros, &disc.call(&fake, true).unwrap(), None).unwrap())
                .unwrap();
            let dv = disc.trainable_weights();
            d_opt.apply(&grads_of(&d_loss, &dv), &dv).unwrap();
            let noise = randn(&[32, 2], 1000 + step);
            let g_loss = |g: &Sequential| {
                bce.call(
                    &ones,
                    &disc.call(&g.call(&noise, true).unwrap(), true).unwrap(),
                    None,
                )
                .unwrap()
            };
            let before = g_loss(&gen);
            let (gv, d_before) = (gen.trainable_weights(), values(&dv));
            g_opt.apply(&grads_of(&before, &gv), &gv).unwrap();
            assert_eq!(
                values(&dv),
                d_before,
                "the generator step moved the discriminator"
            );
            let after = g_loss(&gen).item().unwrap();
            assert!(after < before.item().unwrap(), "step {step}: generator loss rose");
        }
        assert_eq!(d_opt.iterations(), 20);
    }
}
