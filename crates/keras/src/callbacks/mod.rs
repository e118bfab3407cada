//! Callbacks: hooks into `fit` / `evaluate` / `predict`, as `keras.callbacks`.
//!
//! A [`Callback`] is called at the start and end of training, of each epoch and of each
//! batch. It sees the logs (`loss`, metric values, `val_*` after validation), and through the
//! [`CallbackContext`] it can stop training ([`CallbackContext::stop_training`]), read and set
//! the optimizer's learning rate, and read or assign the model's weights.
//!
//! Keras's callbacks are here with Keras 3's names, arguments, defaults and behaviour:
//! [`EarlyStopping`], [`ReduceLROnPlateau`], [`LearningRateScheduler`], [`CSVLogger`],
//! [`TerminateOnNaN`], [`LambdaCallback`], [`ProgbarLogger`], and `History`
//! ([`crate::History`] implements [`Callback`]).
//!
//! ```
//! use keras::callbacks::{shared, Callback, CallbackContext, CallbackList, CallbackRef, EarlyStopping, Params};
//! use keras::trainers::Logs;
//! use keras_tensor::Result;
//!
//! // A custom callback: counts epochs.
//! #[derive(Default)]
//! struct Count(usize);
//! impl Callback for Count {
//!     fn on_epoch_end(&mut self, _: &mut CallbackContext, _: usize, _: &mut Logs) -> Result<()> {
//!         self.0 += 1;
//!         Ok(())
//!     }
//! }
//!
//! let count = shared(Count::default());
//! let stop = shared(EarlyStopping::new().monitor("loss"));
//! let mut list = CallbackList::new(vec![count.clone() as CallbackRef, stop.clone()]);
//! let mut ctx = CallbackContext::new(vec![], Params { epochs: 10, ..Default::default() }, Some(0.01));
//! list.on_train_begin(&mut ctx, &Logs::new())?;
//! for (epoch, loss) in [1.0, 0.5, 0.7].into_iter().enumerate() {
//!     let mut logs = Logs::from([("loss".to_string(), loss)]);
//!     list.on_epoch_end(&mut ctx, epoch, &mut logs)?;
//!     if ctx.stop_training {
//!         break;
//!     }
//! }
//! assert_eq!(count.lock().unwrap().0, 3);
//! assert_eq!(stop.lock().unwrap().stopped_epoch(), 2); // patience 0: stops on the first epoch without improvement
//! # Ok::<(), keras_tensor::Error>(())
//! ```

mod backup_and_restore;
mod csv_logger;
mod early_stopping;
mod history;
mod lambda_callback;
mod learning_rate_scheduler;
mod model_checkpoint;
mod progbar_logger;
mod reduce_lr_on_plateau;
mod terminate_on_nan;

pub use backup_and_restore::BackupAndRestore;
pub use csv_logger::CSVLogger;
pub use early_stopping::EarlyStopping;
pub use lambda_callback::LambdaCallback;
pub use learning_rate_scheduler::LearningRateScheduler;
pub use model_checkpoint::{ModelCheckpoint, SaveFreq};
pub use progbar_logger::ProgbarLogger;
pub use reduce_lr_on_plateau::ReduceLROnPlateau;
pub use terminate_on_nan::TerminateOnNaN;

use crate::trainers::Logs;
use crate::Variable;
use keras_tensor::{Error, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A hook into `fit`, `evaluate` and `predict`, as Keras's `keras.callbacks.Callback`.
///
/// Every method does nothing by default; implement the ones you need. `batch` and `epoch` are
/// 0-based indices. An error returned from a hook stops the running `fit` / `evaluate` /
/// `predict` and is returned from it.
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, Params};
/// use keras::trainers::Logs;
/// use keras_tensor::Result;
///
/// /// Stops training once the loss is below a threshold.
/// struct StopBelow(f64);
/// impl Callback for StopBelow {
///     fn on_epoch_end(&mut self, ctx: &mut CallbackContext, _epoch: usize, logs: &mut Logs) -> Result<()> {
///         if logs.get("loss").is_some_and(|&l| l < self.0) {
///             ctx.stop_training = true;
///         }
///         Ok(())
///     }
/// }
///
/// let mut ctx = CallbackContext::new(vec![], Params::default(), None);
/// let mut cb = StopBelow(0.1);
/// cb.on_epoch_end(&mut ctx, 0, &mut Logs::from([("loss".to_string(), 0.05)]))?;
/// assert!(ctx.stop_training);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[allow(unused_variables)]
pub trait Callback: Send {
    /// At the start of `fit`.
    ///
    /// # Errors
    /// Whatever the callback reports; it stops `fit`.
    fn on_train_begin(&mut self, ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the end of `fit` (not called when `fit` failed); `logs` are the last epoch's.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_train_end(&mut self, ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the start of epoch `epoch`.
    ///
    /// # Errors
    /// Whatever the callback reports; it stops `fit`.
    fn on_epoch_begin(&mut self, ctx: &mut CallbackContext, epoch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the end of epoch `epoch`, after validation: `logs` holds the epoch's training
    /// metrics and `val_*` ones. A callback may add entries (e.g. `"learning_rate"`); later
    /// callbacks and `History` see them.
    ///
    /// # Errors
    /// Whatever the callback reports; it stops `fit`.
    fn on_epoch_end(&mut self, ctx: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
        Ok(())
    }
    /// Before training batch `batch` of the current epoch.
    ///
    /// # Errors
    /// Whatever the callback reports; it stops `fit`.
    fn on_train_batch_begin(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// After training batch `batch`: `logs` holds the running epoch means so far.
    ///
    /// # Errors
    /// Whatever the callback reports; it stops `fit`.
    fn on_train_batch_end(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the start of `evaluate`, and of the validation run at the end of an epoch in `fit`.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_test_begin(&mut self, ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the end of `evaluate` or of the validation run; `logs` are its results (no `val_`
    /// prefix).
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_test_end(&mut self, ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Before evaluation batch `batch`.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_test_batch_begin(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// After evaluation batch `batch`: `logs` holds the running means so far.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_test_batch_end(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the start of `predict`.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_predict_begin(&mut self, ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// At the end of `predict`.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_predict_end(&mut self, ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// Before prediction batch `batch`.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_predict_batch_begin(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
    /// After prediction batch `batch`.
    ///
    /// # Errors
    /// Whatever the callback reports.
    fn on_predict_batch_end(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        Ok(())
    }
}

/// The run's parameters, as Keras's `callback.params` (`{"verbose", "epochs", "steps"}`).
///
/// ```
/// let p = keras::callbacks::Params::default();
/// assert_eq!((p.epochs, p.steps, p.verbose), (1, None, 1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// The `epochs` argument of `fit` (1 for `evaluate` / `predict`).
    pub epochs: usize,
    /// Batches per epoch (or per `evaluate` / `predict` run); `None` when unknown.
    pub steps: Option<usize>,
    /// 0 silent, 1 a live progress bar, 2 one line per epoch.
    pub verbose: u8,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            epochs: 1,
            steps: None,
            verbose: 1,
        }
    }
}

/// Whether a monitored quantity should go down or up, as `mode` of Keras's monitoring
/// callbacks (`"auto"`, `"min"`, `"max"`).
///
/// ```
/// use keras::callbacks::Mode;
/// assert_eq!("max".parse::<Mode>()?, Mode::Max);
/// assert!("maximum".parse::<Mode>().is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// From the monitored name: `loss` / `val_loss` go down; a metric goes the way Keras's
    /// metric class says (accuracy, AUC, precision, … up; errors and cross-entropies down);
    /// anything else is an error.
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "auto" => Ok(Mode::Auto),
            "min" => Ok(Mode::Min),
            "max" => Ok(Mode::Max),
            _ => Err(Error::InvalidArgument {
                op: "callbacks.Mode",
                msg: format!("mode {s:?} is unknown; expected one of \"auto\", \"min\", \"max\""),
            }),
        }
    }
}

/// The direction Keras gives a metric class (its `_direction`): [`Mode::Max`] for `"up"`,
/// [`Mode::Min`] for `"down"`, `None` for classes without one (`Mean`, `Sum`, the
/// confusion counts). `MeanMetricWrapper` counts as down: here it only ever wraps a loss, for
/// which Keras sets `"down"`.
///
/// ```
/// use keras::callbacks::{metric_direction, Mode};
/// assert_eq!(metric_direction("SparseCategoricalAccuracy"), Some(Mode::Max));
/// assert_eq!(metric_direction("MeanSquaredError"), Some(Mode::Min));
/// assert_eq!(metric_direction("Mean"), None);
/// ```
pub fn metric_direction(class_name: &str) -> Option<Mode> {
    match class_name {
        "AUC"
        | "Accuracy"
        | "BinaryAccuracy"
        | "BinaryIoU"
        | "CategoricalAccuracy"
        | "ConcordanceCorrelation"
        | "CosineSimilarity"
        | "F1Score"
        | "FBetaScore"
        | "IoU"
        | "MeanIoU"
        | "OneHotIoU"
        | "OneHotMeanIoU"
        | "PearsonCorrelation"
        | "Precision"
        | "PrecisionAtRecall"
        | "R2Score"
        | "Recall"
        | "RecallAtPrecision"
        | "SensitivityAtSpecificity"
        | "SparseCategoricalAccuracy"
        | "SparseTopKCategoricalAccuracy"
        | "SpecificityAtSensitivity"
        | "TopKCategoricalAccuracy" => Some(Mode::Max),
        "BinaryCrossentropy"
        | "CategoricalCrossentropy"
        | "CategoricalHinge"
        | "Hinge"
        | "KLDivergence"
        | "LogCoshError"
        | "MeanAbsoluteError"
        | "MeanAbsolutePercentageError"
        | "MeanSquaredError"
        | "MeanSquaredLogarithmicError"
        | "Poisson"
        | "RootMeanSquaredError"
        | "SparseCategoricalCrossentropy"
        | "SquaredHinge"
        | "MeanMetricWrapper" => Some(Mode::Min),
        _ => None,
    }
}

/// What a callback can reach of the running `fit` / `evaluate` / `predict`: Keras's
/// `model.stop_training`, `callback.params`, the optimizer's learning rate and the model's
/// weights. The trainer builds one per run and passes it to every hook.
///
/// ```
/// use keras::callbacks::{CallbackContext, Params};
/// let mut ctx = CallbackContext::new(vec![], Params::default(), Some(0.01));
/// ctx.set_learning_rate(0.001)?;
/// assert!((ctx.learning_rate()? - 0.001).abs() < 1e-9);
/// assert!(ctx.take_pending_learning_rate().is_some()); // the trainer applies it
///
/// let sched = CallbackContext::new(vec![], Params::default(), None); // a schedule
/// assert!(sched.learning_rate().is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct CallbackContext {
    /// Set it to stop `fit` at the end of the current batch and epoch (Keras's
    /// `model.stop_training`).
    pub stop_training: bool,
    /// The run's parameters.
    pub params: Params,
    weights: Vec<Variable>,
    learning_rate: Option<f64>,
    pending_lr: Option<f64>,
    metric_directions: BTreeMap<String, Mode>,
    model_state: Option<Arc<crate::saving::ModelState>>,
    initial_epoch: Option<usize>,
}

fn schedule_error(op: &'static str) -> Error {
    Error::InvalidArgument {
        op,
        msg: "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` \
              constructor argument, hence its learning rate is not settable."
            .into(),
    }
}

impl CallbackContext {
    /// A context over the model's weights (all of them, trainable or not), the run's
    /// parameters and the optimizer's current learning rate (`None` when the optimizer uses a
    /// `LearningRateSchedule`).
    pub fn new(weights: Vec<Variable>, params: Params, learning_rate: Option<f64>) -> Self {
        CallbackContext {
            stop_training: false,
            params,
            weights,
            learning_rate,
            pending_lr: None,
            metric_directions: BTreeMap::new(),
            model_state: None,
            initial_epoch: None,
        }
    }

    /// Gives callbacks the model's saving view (`fit` does this for `Sequential` and `Model`).
    pub fn set_model_state(&mut self, state: crate::saving::ModelState) {
        self.model_state = Some(Arc::new(state));
    }

    /// The model's saving view: [`ModelState::save`](crate::saving::ModelState::save) writes
    /// a `.keras` file of the model as it is now, with its compile state and optimizer.
    ///
    /// # Errors
    /// When the model being trained cannot be saved (a custom `Trainer` without
    /// `as_layer`).
    pub fn model_state(&self) -> Result<&crate::saving::ModelState> {
        self.model_state.as_deref().ok_or_else(|| Error::InvalidArgument {
            op: "CallbackContext.model_state",
            msg: "this model cannot be saved: implement Trainer::as_layer to describe it as a layer".into(),
        })
    }

    /// Moves the first epoch of the run forward (Keras's `model._initial_epoch`, set by
    /// `BackupAndRestore` in `on_train_begin`).
    pub fn set_initial_epoch(&mut self, epoch: usize) {
        self.initial_epoch = Some(epoch);
    }

    /// The first epoch a callback asked for, if any.
    pub fn initial_epoch(&self) -> Option<usize> {
        self.initial_epoch
    }

    /// The model's weights, in the model's order (Keras's `model.weights`). Read them with
    /// [`Variable::value`], write them with [`Variable::assign`].
    pub fn weights(&self) -> &[Variable] {
        &self.weights
    }

    /// The optimizer's learning rate (as its float32 variable holds it).
    ///
    /// # Errors
    /// When the optimizer uses a `LearningRateSchedule`.
    pub fn learning_rate(&self) -> Result<f64> {
        self.learning_rate
            .ok_or_else(|| schedule_error("CallbackContext.learning_rate"))
    }

    /// Sets the optimizer's learning rate (Keras's `optimizer.learning_rate = lr`). The trainer
    /// applies it after the current hook; [`CallbackContext::learning_rate`] returns the new
    /// value at once, rounded to float32 as the optimizer's variable stores it.
    ///
    /// # Errors
    /// When the optimizer uses a `LearningRateSchedule` (as Keras's `TypeError`).
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        if self.learning_rate.is_none() {
            return Err(schedule_error("CallbackContext.set_learning_rate"));
        }
        self.pending_lr = Some(lr);
        self.learning_rate = Some(lr as f32 as f64);
        Ok(())
    }

    /// The learning rate a callback set since the last call, for the trainer to apply with
    /// `Optimizer::set_learning_rate`.
    pub fn take_pending_learning_rate(&mut self) -> Option<f64> {
        self.pending_lr.take()
    }

    /// Refreshes the learning rate from the optimizer (`None`: it uses a schedule).
    pub fn sync_learning_rate(&mut self, lr: Option<f64>) {
        self.learning_rate = lr;
    }

    /// Records the direction of a compiled metric, by its logged name (`"accuracy"`), for
    /// `mode = Auto` in [`EarlyStopping`] and [`ReduceLROnPlateau`]; the trainer calls it for
    /// each metric with [`metric_direction`] of its class. `Mode::Auto` removes the entry.
    pub fn set_metric_direction(&mut self, name: impl Into<String>, direction: Mode) {
        let name = name.into();
        if direction == Mode::Auto {
            self.metric_directions.remove(&name);
        } else {
            self.metric_directions.insert(name, direction);
        }
    }

    /// The direction recorded for a metric name (`Min` or `Max`).
    pub fn metric_direction(&self, name: &str) -> Option<Mode> {
        self.metric_directions.get(name).copied()
    }
}

/// A callback shared between the caller and the trainer.
pub type CallbackRef = Arc<Mutex<dyn Callback>>;

/// Wraps a callback for passing to `fit` while keeping a typed handle to read it afterwards
/// (`handle.lock().unwrap().stopped_epoch()`). Pass `handle.clone()`, which converts to a
/// [`CallbackRef`]. Do not hold the handle's lock while `fit` runs.
///
/// ```
/// use keras::callbacks::{shared, CallbackRef, EarlyStopping};
/// let es = shared(EarlyStopping::new().patience(2));
/// let for_fit: Vec<CallbackRef> = vec![es.clone()];
/// assert_eq!(for_fit.len(), 1);
/// assert_eq!(es.lock().unwrap().stopped_epoch(), 0);
/// ```
pub fn shared<C: Callback + 'static>(c: C) -> Arc<Mutex<C>> {
    Arc::new(Mutex::new(c))
}

/// Callbacks called in order, as Keras's `keras.callbacks.CallbackList`.
///
/// Each hook locks each callback in turn; a lock poisoned by an earlier panic is an error.
///
/// ```
/// use keras::callbacks::{shared, CallbackContext, CallbackList, Params, TerminateOnNaN};
/// use keras::trainers::Logs;
/// let mut list = CallbackList::new(vec![shared(TerminateOnNaN::new())]);
/// let mut ctx = CallbackContext::new(vec![], Params::default(), Some(0.01));
/// list.on_train_batch_end(&mut ctx, 0, &Logs::from([("loss".to_string(), f64::NAN)]))?;
/// assert!(ctx.stop_training);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CallbackList(Vec<CallbackRef>);

impl std::fmt::Debug for CallbackList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CallbackList({} callbacks)", self.0.len())
    }
}

impl From<Vec<CallbackRef>> for CallbackList {
    fn from(callbacks: Vec<CallbackRef>) -> Self {
        CallbackList(callbacks)
    }
}

macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// The first error a callback returns (the callbacks after it are not called), or a
        /// poisoned lock.
        pub fn $name(&mut self, ctx: &mut CallbackContext, $($arg: $ty),*) -> Result<()> {
            for c in &self.0 {
                let mut guard = c.lock().map_err(|_| poisoned(stringify!($name)))?;
                guard.$name(ctx, $($arg),*)?;
            }
            Ok(())
        }
    };
}

fn poisoned(hook: &str) -> Error {
    Error::InvalidArgument {
        op: "CallbackList",
        msg: format!("cannot call {hook}: a callback's lock is poisoned (an earlier hook panicked)"),
    }
}

impl CallbackList {
    /// A list calling `callbacks` in this order.
    pub fn new(callbacks: Vec<CallbackRef>) -> Self {
        CallbackList(callbacks)
    }

    /// Appends a callback.
    pub fn push(&mut self, c: CallbackRef) {
        self.0.push(c);
    }

    /// The callbacks, in order.
    pub fn callbacks(&self) -> &[CallbackRef] {
        &self.0
    }

    /// Number of callbacks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    dispatch!(
        /// [`Callback::on_train_begin`] on each callback.
        on_train_begin(logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_train_end`] on each callback.
        on_train_end(logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_epoch_begin`] on each callback.
        on_epoch_begin(epoch: usize, logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_epoch_end`] on each callback; each sees the entries the earlier
        /// ones added.
        on_epoch_end(epoch: usize, logs: &mut Logs)
    );
    dispatch!(
        /// [`Callback::on_train_batch_begin`] on each callback.
        on_train_batch_begin(batch: usize, logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_train_batch_end`] on each callback.
        on_train_batch_end(batch: usize, logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_test_begin`] on each callback.
        on_test_begin(logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_test_end`] on each callback.
        on_test_end(logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_test_batch_begin`] on each callback.
        on_test_batch_begin(batch: usize, logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_test_batch_end`] on each callback.
        on_test_batch_end(batch: usize, logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_predict_begin`] on each callback.
        on_predict_begin(logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_predict_end`] on each callback.
        on_predict_end(logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_predict_batch_begin`] on each callback.
        on_predict_batch_begin(batch: usize, logs: &Logs)
    );
    dispatch!(
        /// [`Callback::on_predict_batch_end`] on each callback.
        on_predict_batch_end(batch: usize, logs: &Logs)
    );
}

// ----- shared helpers -------------------------------------------------------------------

/// The monitoring logic of Keras's `MonitorCallback` (`mode`, `min_delta`, `best`).
#[derive(Clone, Debug)]
struct Monitor {
    monitor: String,
    mode: Mode,
    min_delta: f64,
    /// `Some(true)`: greater is better; resolved on the first epoch end, as Keras does.
    greater: Option<bool>,
    best: Option<f64>,
}

impl Monitor {
    fn new(monitor: String, mode: Mode, min_delta: f64) -> Monitor {
        Monitor {
            monitor,
            mode,
            min_delta: min_delta.abs(),
            greater: None,
            best: None,
        }
    }

    /// Keras's `_set_monitor_op`, once.
    fn resolve(&mut self, ctx: &CallbackContext, class: &str) -> Result<()> {
        if self.greater.is_some() {
            return Ok(());
        }
        let greater = match self.mode {
            Mode::Min => false,
            Mode::Max => true,
            Mode::Auto => {
                let name = self.monitor.strip_prefix("val_").unwrap_or(&self.monitor);
                let mut op = (name == "loss").then_some(false);
                if let Some(d) = ctx.metric_direction(name) {
                    op = Some(d == Mode::Max);
                }
                op.ok_or_else(|| Error::InvalidArgument {
                    op: "callbacks",
                    msg: format!(
                        "{class} callback received monitor={}, but Keras isn't able to automatically \
                         determine whether that metric should be maximized or minimized. Pass \
                         `mode='max'` in order to monitor based on the highest metric value, or pass \
                         `mode='min'` in order to use the lowest value.",
                        self.monitor
                    ),
                })?
            }
        };
        if !greater {
            self.min_delta = -self.min_delta;
        }
        self.greater = Some(greater);
        Ok(())
    }

    /// Keras's `_is_improvement`: `op(current - min_delta, reference)`, compared in float32
    /// as Keras's `ops.less` / `ops.greater` compare Python floats.
    fn is_improvement(&self, current: f64, reference: Option<f64>) -> bool {
        let Some(r) = reference else { return true };
        let a = (current - self.min_delta) as f32;
        let r = r as f32;
        if self.greater == Some(true) {
            a > r
        } else {
            a < r
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 or from 1e16.
pub(crate) fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let e = format!("{x:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    }
}

/// Python's `f"{x:.{prec}f}"`.
pub(crate) fn py_fixed(x: f64, prec: usize) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:.prec$}")
    }
}

/// Python's `f"{x:.{prec}e}"` (`1.2340e-04`).
pub(crate) fn py_exp(x: f64, prec: usize) -> String {
    if !x.is_finite() {
        return py_fixed(x, prec);
    }
    let e = format!("{x:.prec$e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Python's `warnings.warn`, shown once per message per callback.
fn warn_once(shown: &mut std::collections::BTreeSet<String>, msg: String) {
    if shown.insert(msg.clone()) {
        eprintln!("UserWarning: {msg}");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use keras_tensor::Tensor;

    pub(crate) fn logs(pairs: &[(&str, f64)]) -> Logs {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    pub(crate) fn ctx_with(weights: Vec<Variable>, lr: Option<f64>) -> CallbackContext {
        CallbackContext::new(
            weights,
            Params {
                epochs: 20,
                steps: Some(4),
                verbose: 0,
            },
            lr,
        )
    }

    #[test]
    fn python_float_formatting() {
        // Expected strings are Python's repr / format output for the same values.
        assert_eq!(py_repr(0.1), "0.1");
        assert_eq!(py_repr(100.0), "100.0");
        assert_eq!(py_repr(1e-5), "1e-05");
        assert_eq!(py_repr(1.5e-5), "1.5e-05");
        assert_eq!(py_repr(0.0001), "0.0001");
        assert_eq!(py_repr(1e16), "1e+16");
        assert_eq!(py_repr(1e15), "1000000000000000.0");
        assert_eq!(py_repr(0.001f32 as f64 * 0.1), "0.00010000000474974513");
        assert_eq!(py_repr(-2.5), "-2.5");
        assert_eq!(py_repr(f64::NAN), "nan");
        assert_eq!(py_repr(f64::NEG_INFINITY), "-inf");
        assert_eq!(py_exp(0.000123, 4), "1.2300e-04");
        assert_eq!(py_exp(0.0, 4), "0.0000e+00");
        assert_eq!(py_exp(-5e-7, 4), "-5.0000e-07");
        assert_eq!(py_fixed(0.28, 4), "0.2800");
        assert_eq!(py_fixed(f64::NAN, 4), "nan");
    }

    struct Recorder(Arc<Mutex<Vec<String>>>, &'static str);
    impl Callback for Recorder {
        fn on_epoch_end(&mut self, _: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:{epoch}:{}", self.1, logs.len()));
            logs.insert(format!("from_{}", self.1), 1.0);
            Ok(())
        }
        fn on_train_batch_end(&mut self, _: &mut CallbackContext, batch: usize, _: &Logs) -> Result<()> {
            if batch == 3 {
                return Err(Error::InvalidArgument {
                    op: "test",
                    msg: self.1.into(),
                });
            }
            Ok(())
        }
    }

    #[test]
    fn list_calls_in_order_and_passes_logs_on() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut list = CallbackList::new(vec![
            shared(Recorder(seen.clone(), "a")),
            shared(Recorder(seen.clone(), "b")),
        ]);
        let mut ctx = ctx_with(vec![], Some(0.1));
        let mut l = logs(&[("loss", 1.0)]);
        list.on_epoch_end(&mut ctx, 4, &mut l).unwrap();
        assert_eq!(*seen.lock().unwrap(), vec!["a:4:1", "b:4:2"]);
        assert_eq!(l.len(), 3);
        // The first error stops the dispatch.
        let e = list.on_train_batch_end(&mut ctx, 3, &l).unwrap_err().to_string();
        assert!(e.ends_with(": a"), "{e}");
        // Default hooks do nothing.
        list.on_predict_begin(&mut ctx, &l).unwrap();
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn poisoned_lock_is_an_error() {
        let cb = shared(TerminateOnNaN::new());
        let c2 = cb.clone();
        let _ = std::thread::spawn(move || {
            let _g = c2.lock().unwrap();
            panic!("boom");
        })
        .join();
        let mut list = CallbackList::new(vec![cb]);
        let mut ctx = ctx_with(vec![], None);
        let e = list
            .on_train_begin(&mut ctx, &Logs::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("poisoned"), "{e}");
    }

    #[test]
    fn learning_rate_through_the_context() {
        let mut ctx = ctx_with(vec![], Some(0.01f32 as f64));
        ctx.set_learning_rate(0.1).unwrap();
        assert_eq!(ctx.learning_rate().unwrap(), 0.1f32 as f64);
        assert_eq!(ctx.take_pending_learning_rate(), Some(0.1));
        assert_eq!(ctx.take_pending_learning_rate(), None);
        ctx.sync_learning_rate(None);
        assert!(ctx
            .learning_rate()
            .unwrap_err()
            .to_string()
            .contains("LearningRateSchedule"));
        assert!(ctx.set_learning_rate(0.5).is_err());
        assert_eq!(ctx.take_pending_learning_rate(), None);
        let w = Variable::new("w", Tensor::new(&[1.0f32], &[1]).unwrap(), true);
        let ctx = ctx_with(vec![w.clone()], None);
        assert!(ctx.weights()[0].same_as(&w));
    }

    #[test]
    fn auto_mode_resolution() {
        let mut ctx = ctx_with(vec![], None);
        let resolve = |m: &str, ctx: &CallbackContext| {
            let mut mon = Monitor::new(m.into(), Mode::Auto, 0.0);
            mon.resolve(ctx, "EarlyStopping").map(|_| mon.greater.unwrap())
        };
        assert!(!resolve("val_loss", &ctx).unwrap());
        assert!(!resolve("loss", &ctx).unwrap());
        // Keras looks the name up among the compiled metrics; without them it cannot tell.
        let e = resolve("val_accuracy", &ctx).unwrap_err().to_string();
        assert!(
            e.contains("monitor=val_accuracy") && e.contains("mode='max'"),
            "{e}"
        );
        ctx.set_metric_direction("accuracy", metric_direction("BinaryAccuracy").unwrap());
        ctx.set_metric_direction("mse", metric_direction("MeanSquaredError").unwrap());
        assert!(resolve("val_accuracy", &ctx).unwrap());
        assert!(resolve("accuracy", &ctx).unwrap());
        assert!(!resolve("val_mse", &ctx).unwrap());
        // Only one "val_" prefix is removed, as Python's removeprefix.
        assert!(resolve("val_val_accuracy", &ctx).is_err());
        // Explicit modes need no lookup; min_delta is made negative for min.
        let mut m = Monitor::new("anything".into(), Mode::Min, 0.5);
        m.resolve(&ctx, "X").unwrap();
        assert_eq!(m.min_delta, -0.5);
        assert!(m.is_improvement(1.0, Some(1.6)) && !m.is_improvement(1.0, Some(1.5)));
        let mut m = Monitor::new("anything".into(), Mode::Max, -0.5);
        m.resolve(&ctx, "X").unwrap();
        assert!(m.is_improvement(1.6, Some(1.0)) && !m.is_improvement(1.5, Some(1.0)));
        // float32 comparison, as Keras's ops.less on Python floats: 0.30000001 == 0.3 in f32.
        assert!(!m.is_improvement(0.30000001 + 0.5, Some(0.3)));
    }
}
