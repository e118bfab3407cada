//! `compile` / `fit` / `evaluate` / `predict`: the training loop shared by every model.
//!
//! A model exposes its forward pass and trainable variables through [`Model`]; everything
//! else (batching, shuffling, validation split, the loss as a running mean, metrics, progress
//! output, `History`) lives here once.

mod progress;

use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;
use crate::random::next_seed;
use crate::Variable;
use keras_tensor::{no_grad, DType, Device, Error, Result, Tensor};
use std::collections::BTreeMap;

/// What the training loop needs from a model.
pub trait Model {
    /// The forward pass.
    ///
    /// # Errors
    /// When the input does not fit the model.
    fn forward(&self, x: &Tensor, training: bool) -> Result<Tensor>;
    /// Variables the optimizer updates.
    fn trainable_variables(&self) -> Vec<Variable>;
}

/// A compiled model's optimizer, loss and metrics.
pub struct Compiled {
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer>,
    /// The loss.
    pub loss: Box<dyn Loss>,
    /// Metric names as given to `compile` (resolved on the first batch, as Keras does).
    pub metric_names: Vec<String>,
    /// Resolved metrics.
    pub metrics: Vec<Box<dyn Metric>>,
}

impl Compiled {
    fn resolve_metrics(&mut self, y_true: &Tensor, y_pred: &Tensor) -> Result<()> {
        if self.metrics.len() == self.metric_names.len() {
            return Ok(());
        }
        self.metrics = self
            .metric_names
            .iter()
            .map(|n| crate::metrics::get_for_shapes(n, y_true.shape(), y_pred.shape()))
            .collect::<Result<_>>()?;
        Ok(())
    }
}

/// Arguments of `fit`, with Keras's defaults.
///
/// ```
/// let args = keras::FitArgs { epochs: 3, batch_size: 64, ..Default::default() };
/// assert_eq!(args.verbose, 1);
/// ```
#[derive(Clone, Debug)]
pub struct FitArgs {
    /// Samples per gradient step (32).
    pub batch_size: usize,
    /// Index of the last epoch to run (1).
    pub epochs: usize,
    /// 0 silent, 1 a live progress bar, 2 one line per epoch (1).
    pub verbose: u8,
    /// Fraction of the data, taken from the end before shuffling, held out for validation.
    pub validation_split: f64,
    /// Explicit validation data (overrides `validation_split`).
    pub validation_data: Option<(Tensor, Tensor)>,
    /// Shuffle the training samples every epoch (true).
    pub shuffle: bool,
    /// Epoch to start from, for resuming (0).
    pub initial_epoch: usize,
    /// Batches per epoch (`None`: the whole data set).
    pub steps_per_epoch: Option<usize>,
    /// Validate every `validation_freq` epochs (1).
    pub validation_freq: usize,
}

impl Default for FitArgs {
    fn default() -> Self {
        FitArgs {
            batch_size: 32,
            epochs: 1,
            verbose: 1,
            validation_split: 0.0,
            validation_data: None,
            shuffle: true,
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

fn check_pair(x: &Tensor, y: &Tensor) -> Result<usize> {
    let (n, m) = (x.shape().first().copied(), y.shape().first().copied());
    match (n, m) {
        (Some(n), Some(m)) if n == m => Ok(n),
        _ => Err(Error::ShapeMismatch {
            op: "fit",
            lhs: x.shape().to_vec(),
            rhs: y.shape().to_vec(),
        }),
    }
}

/// One optimizer step on a batch; returns the batch loss.
pub(crate) fn train_step(model: &dyn Model, c: &mut Compiled, x: &Tensor, y: &Tensor) -> Result<f64> {
    let vars = model.trainable_variables();
    let y_pred = model.forward(x, true)?;
    let loss = c.loss.call(y, &y_pred, None)?;
    let grads = loss.backward()?;
    let mut gs = Vec::with_capacity(vars.len());
    for v in &vars {
        gs.push(match grads.get(&v.value()) {
            Some(g) => g.clone(),
            None => v.value().zeros_like()?,
        });
    }
    c.optimizer.apply(&gs, &vars)?;
    c.resolve_metrics(y, &y_pred)?;
    no_grad(|| -> Result<()> {
        let y_pred = y_pred.detach();
        for m in c.metrics.iter_mut() {
            m.update_state(y, &y_pred, None)?;
        }
        Ok(())
    })?;
    loss.item()
}

fn batches(n: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize)> + Clone {
    (0..n.div_ceil(batch_size)).map(move |b| (b * batch_size, batch_size.min(n - b * batch_size)))
}

/// Runs the model over `x` in batches with no tape, concatenating the outputs.
pub(crate) fn predict(model: &dyn Model, x: &Tensor, batch_size: usize) -> Result<Tensor> {
    let n = x.shape().first().copied().unwrap_or(0);
    no_grad(|| {
        let outs: Vec<Tensor> = batches(n, batch_size.max(1))
            .map(|(s, len)| model.forward(&x.narrow(0, s, len)?, false))
            .collect::<Result<_>>()?;
        if outs.is_empty() {
            return Err(Error::InvalidArgument {
                op: "predict",
                msg: "no samples".into(),
            });
        }
        Tensor::concat(&outs.iter().collect::<Vec<_>>(), 0)
    })
}

/// Loss (sample-weighted running mean) and metrics over `x`, `y`.
pub(crate) fn evaluate(
    model: &dyn Model,
    c: &mut Compiled,
    x: &Tensor,
    y: &Tensor,
    batch_size: usize,
) -> Result<Logs> {
    let n = check_pair(x, y)?;
    for m in c.metrics.iter_mut() {
        m.reset_state();
    }
    let (mut total, mut count) = (0.0, 0usize);
    no_grad(|| -> Result<()> {
        for (s, len) in batches(n, batch_size.max(1)) {
            let (xb, yb) = (x.narrow(0, s, len)?, y.narrow(0, s, len)?);
            let y_pred = model.forward(&xb, false)?;
            total += c.loss.call(&yb, &y_pred, None)?.item()? * len as f64;
            count += len;
            c.resolve_metrics(&yb, &y_pred)?;
            for m in c.metrics.iter_mut() {
                m.update_state(&yb, &y_pred, None)?;
            }
        }
        Ok(())
    })?;
    let mut logs = Logs::new();
    logs.insert("loss".into(), if count > 0 { total / count as f64 } else { 0.0 });
    for m in &c.metrics {
        logs.insert(m.name().to_string(), m.result()?);
    }
    Ok(logs)
}

/// A seeded permutation of `0..n` (as an `int64` tensor).
fn permutation(n: usize) -> Result<Tensor> {
    Tensor::random_uniform(&[n], 0.0, 1.0, next_seed(), DType::F32, &Device::Cpu)?.argsort(0, false)
}

/// The training loop.
pub(crate) fn fit(
    model: &dyn Model,
    c: &mut Compiled,
    x: &Tensor,
    y: &Tensor,
    args: &FitArgs,
) -> Result<History> {
    let n = check_pair(x, y)?;
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
    // Keras takes the validation split from the end, before any shuffling.
    let (x_train, y_train, val) = match &args.validation_data {
        Some((xv, yv)) => {
            check_pair(xv, yv)?;
            (x.clone(), y.clone(), Some((xv.clone(), yv.clone())))
        }
        None if args.validation_split > 0.0 => {
            let n_val = ((n as f64) * args.validation_split).floor() as usize;
            let n_train = n - n_val;
            let v = (x.narrow(0, n_train, n_val)?, y.narrow(0, n_train, n_val)?);
            (x.narrow(0, 0, n_train)?, y.narrow(0, 0, n_train)?, Some(v))
        }
        None => (x.clone(), y.clone(), None),
    };
    let n_train = x_train.shape()[0];
    if n_train == 0 {
        return Err(Error::InvalidArgument {
            op: "fit",
            msg: "no training samples".into(),
        });
    }
    let steps = args
        .steps_per_epoch
        .unwrap_or_else(|| n_train.div_ceil(args.batch_size));
    let mut history = History::default();
    for epoch in args.initial_epoch..args.epochs {
        for m in c.metrics.iter_mut() {
            m.reset_state();
        }
        let mut bar = progress::Progress::new(args.verbose, epoch, args.epochs, steps);
        let order = if args.shuffle {
            Some(permutation(n_train)?)
        } else {
            None
        };
        let (mut total, mut count) = (0.0, 0usize);
        let mut logs = Logs::new();
        for (step, (s, len)) in batches(n_train, args.batch_size).cycle().take(steps).enumerate() {
            let (xb, yb) = match &order {
                Some(p) => {
                    let idx = p.narrow(0, s, len)?;
                    (x_train.index_select(&idx, 0)?, y_train.index_select(&idx, 0)?)
                }
                None => (x_train.narrow(0, s, len)?, y_train.narrow(0, s, len)?),
            };
            let l = train_step(model, c, &xb, &yb)?;
            total += l * len as f64;
            count += len;
            logs.insert("loss".into(), total / count as f64);
            for m in &c.metrics {
                logs.insert(m.name().to_string(), m.result()?);
            }
            bar.update(step + 1, &logs);
        }
        if let Some((xv, yv)) = &val {
            if (epoch + 1 - args.initial_epoch) % args.validation_freq == 0 {
                let vlogs = evaluate(model, c, xv, yv, args.batch_size)?;
                for (k, v) in vlogs {
                    logs.insert(format!("val_{k}"), v);
                }
            }
        }
        bar.finish(&logs);
        for (k, v) in &logs {
            history.history.entry(k.clone()).or_default().push(*v);
        }
        history.epoch.push(epoch);
    }
    Ok(history)
}
