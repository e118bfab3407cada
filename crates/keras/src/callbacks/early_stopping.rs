//! [`EarlyStopping`]: stop training when a monitored quantity has stopped improving.

use super::{warn_once, Callback, CallbackContext, Mode, Monitor};
use crate::trainers::Logs;
use keras_tensor::{Result, Tensor};
use std::collections::BTreeSet;

/// Stops training when a monitored quantity has stopped improving, as Keras's
/// `keras.callbacks.EarlyStopping`.
///
/// At the end of each epoch (from `start_from_epoch` on) the monitored value is compared with
/// the best so far; after `patience` epochs without an improvement of more than `min_delta`
/// (and never at epoch 0) it sets [`CallbackContext::stop_training`]. With
/// `restore_best_weights` it keeps a copy of the weights of the best epoch and assigns them
/// back at the end of training, whether or not training stopped early.
///
/// Defaults as Keras: `monitor = "val_loss"`, `min_delta = 0`, `patience = 0`, `verbose = 0`,
/// `mode = Auto`, `baseline = None`, `restore_best_weights = false`, `start_from_epoch = 0`.
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, EarlyStopping, Params};
/// use keras::trainers::Logs;
/// use keras::Variable;
/// use keras_tensor::Tensor;
///
/// let w = Variable::new("w", Tensor::new(&[0.0f32], &[1])?, true);
/// let mut ctx = CallbackContext::new(vec![w.clone()], Params { epochs: 10, ..Default::default() }, None);
/// let mut es = EarlyStopping::new().patience(2).restore_best_weights(true);
/// es.on_train_begin(&mut ctx, &Logs::new())?;
/// for (epoch, val_loss) in [0.9, 0.5, 0.6, 0.7, 0.4].into_iter().enumerate() {
///     w.assign(&Tensor::new(&[epoch as f32], &[1])?)?; // "training"
///     es.on_epoch_end(&mut ctx, epoch, &mut Logs::from([("val_loss".to_string(), val_loss)]))?;
///     if ctx.stop_training {
///         break;
///     }
/// }
/// es.on_train_end(&mut ctx, &Logs::new())?;
/// assert_eq!(es.stopped_epoch(), 3); // two epochs without improving on 0.5
/// assert_eq!(w.value().to_vec::<f32>()?, vec![1.0]); // the weights of epoch 1 (val_loss 0.5)
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct EarlyStopping {
    mon: Monitor,
    patience: usize,
    verbose: u8,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    wait: usize,
    stopped_epoch: usize,
    best_epoch: usize,
    best_weights: Option<Vec<Tensor>>,
    warned: BTreeSet<String>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping::new()
    }
}

impl EarlyStopping {
    /// Keras's defaults (monitors `val_loss`).
    pub fn new() -> Self {
        EarlyStopping {
            mon: Monitor::new("val_loss".into(), Mode::Auto, 0.0),
            patience: 0,
            verbose: 0,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            stopped_epoch: 0,
            best_epoch: 0,
            best_weights: None,
            warned: BTreeSet::new(),
        }
    }

    /// The quantity to monitor, a key of the epoch logs (`"val_loss"`).
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.mon.monitor = monitor.into();
        self
    }

    /// Minimum change that counts as an improvement (its absolute value is used; 0).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.mon.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement after which training stops (0).
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// 0 silent, 1 prints when it stops and when it restores weights (0).
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Whether the quantity should go down or up ([`Mode::Auto`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mon.mode = mode;
        self
    }

    /// A value the quantity must beat: until it does, `wait` is not reset by improvements
    /// (`None`).
    pub fn baseline(mut self, baseline: Option<f64>) -> Self {
        self.baseline = baseline;
        self
    }

    /// Restore the weights of the best epoch at the end of training (false).
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// Epochs to wait before monitoring starts (0).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch at which training was stopped (0 when it was not).
    pub fn stopped_epoch(&self) -> usize {
        self.stopped_epoch
    }

    /// The epoch with the best monitored value so far.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    /// The best monitored value so far.
    pub fn best(&self) -> Option<f64> {
        self.mon.best
    }

    /// Epochs since the last improvement.
    pub fn wait(&self) -> usize {
        self.wait
    }

    fn snapshot(ctx: &CallbackContext) -> Vec<Tensor> {
        // Variable values are immutable tensors replaced on assignment, so keeping the
        // detached handles is a copy of the current weights.
        ctx.weights().iter().map(|v| v.value().detach()).collect()
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        // Allow instances to be re-used across fits.
        self.wait = 0;
        self.stopped_epoch = 0;
        self.mon.best = None;
        self.best_weights = None;
        self.best_epoch = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
        self.mon.resolve(ctx, "EarlyStopping")?;
        let current = logs.get(&self.mon.monitor).copied();
        if current.is_none() {
            let keys: Vec<&str> = logs.keys().map(String::as_str).collect();
            warn_once(
                &mut self.warned,
                format!(
                    "Early stopping conditioned on metric `{}` which is not available. Available \
                     metrics are: {}",
                    self.mon.monitor,
                    keys.join(",")
                ),
            );
        }
        let Some(current) = current else { return Ok(()) };
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(Self::snapshot(ctx));
            self.best_epoch = epoch;
        }
        self.wait += 1;
        if self.mon.is_improvement(current, self.mon.best) {
            self.mon.best = Some(current);
            self.best_epoch = epoch;
            if self.restore_best_weights {
                self.best_weights = Some(Self::snapshot(ctx));
            }
            // Only restart wait when beating both the baseline and the previous best.
            if self.baseline.is_none() || self.mon.is_improvement(current, self.baseline) {
                self.wait = 0;
            }
            return Ok(());
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = epoch;
            ctx.stop_training = true;
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        if self.stopped_epoch > 0 && self.verbose > 0 {
            println!("Epoch {}: early stopping", self.stopped_epoch + 1);
        }
        if self.restore_best_weights {
            if let Some(best) = &self.best_weights {
                if self.verbose > 0 {
                    println!(
                        "Restoring model weights from the end of the best epoch: {}.",
                        self.best_epoch + 1
                    );
                }
                for (v, t) in ctx.weights().iter().zip(best) {
                    v.assign(t)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx_with, logs};
    use super::*;
    use crate::Variable;

    /// Runs `es` over a scripted sequence as `fit` would (the weight holds the epoch index);
    /// returns the epochs run and the weight after `on_train_end`.
    fn drive(mut es: EarlyStopping, key: &str, values: &[f64]) -> (usize, f32, EarlyStopping) {
        let w = Variable::new("w", Tensor::new(&[-1.0f32], &[1]).unwrap(), true);
        let mut ctx = ctx_with(vec![w.clone()], None);
        es.on_train_begin(&mut ctx, &Logs::new()).unwrap();
        let mut n = 0;
        for (epoch, &v) in values.iter().enumerate() {
            w.assign(&Tensor::new(&[epoch as f32], &[1]).unwrap()).unwrap();
            n += 1;
            es.on_epoch_end(&mut ctx, epoch, &mut logs(&[(key, v), ("other", 0.0)]))
                .unwrap();
            if ctx.stop_training {
                break;
            }
        }
        es.on_train_end(&mut ctx, &Logs::new()).unwrap();
        (n, w.value().to_vec::<f32>().unwrap()[0], es)
    }

    // The expectations below were obtained by running the same sequences through
    // keras.callbacks.EarlyStopping (Keras 3.15) with a stub model recording `get_weights`.

    #[test]
    fn patience_two_stops_and_restores_best() {
        let seq = [1.0, 0.8, 0.85, 0.9, 0.7, 0.6];
        let (run, w, es) = drive(
            EarlyStopping::new().patience(2).restore_best_weights(true),
            "val_loss",
            &seq,
        );
        assert_eq!((run, es.stopped_epoch(), es.best_epoch()), (4, 3, 1));
        assert_eq!(w, 1.0);
        assert_eq!(es.best(), Some(0.8));
        // Without restoring, the last weights stay.
        let (run, w, _) = drive(EarlyStopping::new().patience(2), "val_loss", &seq);
        assert_eq!((run, w), (4, 3.0));
    }

    #[test]
    fn patience_zero_never_stops_at_epoch_zero() {
        let (run, _, es) = drive(EarlyStopping::new().monitor("loss"), "loss", &[1.0, 1.0, 0.5]);
        assert_eq!((run, es.stopped_epoch()), (2, 1));
    }

    #[test]
    fn min_delta_and_max_mode() {
        // Gains of 0.005 do not count with min_delta 0.01.
        let (run, _, es) = drive(
            EarlyStopping::new()
                .monitor("val_accuracy")
                .mode(Mode::Max)
                .min_delta(0.01)
                .patience(1),
            "val_accuracy",
            &[0.5, 0.505, 0.51, 0.6],
        );
        assert_eq!((run, es.stopped_epoch()), (2, 1));
        // Auto mode on an accuracy uses the metric's direction from the context.
        let mut ctx = ctx_with(vec![], None);
        ctx.set_metric_direction("accuracy", Mode::Max);
        let mut es = EarlyStopping::new().monitor("val_accuracy").patience(1);
        es.on_train_begin(&mut ctx, &Logs::new()).unwrap();
        for (e, v) in [0.5, 0.6, 0.55].into_iter().enumerate() {
            es.on_epoch_end(&mut ctx, e, &mut logs(&[("val_accuracy", v)]))
                .unwrap();
        }
        assert_eq!(es.stopped_epoch(), 2);
        // Without it, Keras cannot tell.
        let mut ctx = ctx_with(vec![], None);
        assert!(es.on_epoch_end(&mut ctx, 0, &mut Logs::new()).is_ok()); // already resolved
        let mut es = EarlyStopping::new().monitor("val_accuracy");
        assert!(es.on_epoch_end(&mut ctx, 0, &mut Logs::new()).is_err());
    }

    #[test]
    fn baseline_and_start_from_epoch() {
        // Every epoch improves on the best so far, so it never stops even though the
        // baseline is never beaten.
        let (run, w, es) = drive(
            EarlyStopping::new()
                .patience(3)
                .baseline(Some(0.5))
                .restore_best_weights(true),
            "val_loss",
            &[0.9, 0.8, 0.7, 0.6, 0.55],
        );
        assert_eq!((run, es.stopped_epoch(), es.best_epoch(), w), (5, 0, 4, 4.0));
        // Improvements that do not beat the baseline do not reset wait.
        let (run, _, es) = drive(
            EarlyStopping::new().patience(3).baseline(Some(0.5)),
            "val_loss",
            &[0.9, 0.8, 0.4, 0.45, 0.46, 0.47, 0.48],
        );
        assert_eq!((run, es.stopped_epoch()), (6, 5));
        let seq = [0.9, 0.8, 0.85, 0.86];
        let (run, _, es) = drive(
            EarlyStopping::new().patience(2).baseline(Some(0.5)),
            "val_loss",
            &seq,
        );
        assert_eq!((run, es.stopped_epoch()), (3, 2));
        let (run, _, es) = drive(EarlyStopping::new().patience(2), "val_loss", &seq);
        assert_eq!((run, es.stopped_epoch()), (4, 3));
        // Epochs before start_from_epoch are ignored.
        let (run, w, es) = drive(
            EarlyStopping::new()
                .patience(1)
                .start_from_epoch(2)
                .restore_best_weights(true),
            "val_loss",
            &[0.1, 0.2, 0.9, 1.0, 1.1],
        );
        assert_eq!((run, es.stopped_epoch(), es.best_epoch(), w), (4, 3, 2, 2.0));
    }

    #[test]
    fn missing_monitor_is_skipped_and_reuse_resets() {
        let (run, w, es) = drive(
            EarlyStopping::new().restore_best_weights(true),
            "loss",
            &[1.0, 2.0, 3.0],
        );
        assert_eq!((run, es.stopped_epoch(), w), (3, 0, 2.0));
        let (run, _, es) = drive(es.monitor("loss").patience(1), "loss", &[1.0, 2.0, 3.0]);
        assert_eq!((run, es.stopped_epoch()), (2, 1));
        let mut ctx = ctx_with(vec![], None);
        let mut es = es;
        es.on_train_begin(&mut ctx, &Logs::new()).unwrap();
        assert_eq!((es.stopped_epoch(), es.wait(), es.best()), (0, 0, None));
    }
}
