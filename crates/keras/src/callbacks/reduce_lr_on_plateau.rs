//! [`ReduceLROnPlateau`]: lower the learning rate when a monitored quantity stops improving.

use super::{py_repr, warn_once, Callback, CallbackContext, Mode, Monitor};
use crate::trainers::Logs;
use keras_tensor::{Error, Result};
use std::collections::BTreeSet;

/// Multiplies the learning rate by `factor` when a monitored quantity has not improved for
/// `patience` epochs, as Keras's `keras.callbacks.ReduceLROnPlateau`.
///
/// At every epoch end it adds the current learning rate to the logs as `"learning_rate"`
/// (so `History` records it), then compares the monitored value with the best so far
/// (improvement: better by more than `min_delta`). After a reduction it waits `cooldown`
/// epochs before counting again; the rate never goes below `min_lr`.
///
/// Defaults as Keras: `monitor = "val_loss"`, `factor = 0.1`, `patience = 10`, `verbose = 0`,
/// `mode = Auto`, `min_delta = 1e-4`, `cooldown = 0`, `min_lr = 0`.
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, Params, ReduceLROnPlateau};
/// use keras::trainers::Logs;
///
/// let mut ctx = CallbackContext::new(vec![], Params::default(), Some(0.1));
/// let mut cb = ReduceLROnPlateau::new().monitor("loss").factor(0.5)?.patience(1);
/// cb.on_train_begin(&mut ctx, &Logs::new())?;
/// for (epoch, loss) in [1.0, 1.0].into_iter().enumerate() {
///     let mut logs = Logs::from([("loss".to_string(), loss)]);
///     cb.on_epoch_end(&mut ctx, epoch, &mut logs)?;
///     assert!((logs["learning_rate"] - 0.1).abs() < 1e-7); // the rate during the epoch
/// }
/// assert!((ctx.learning_rate()? - 0.05).abs() < 1e-7);
/// assert!(ctx.take_pending_learning_rate().is_some()); // for the trainer to apply
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct ReduceLROnPlateau {
    mon: Monitor,
    factor: f64,
    patience: usize,
    verbose: u8,
    cooldown: usize,
    min_lr: f64,
    cooldown_counter: usize,
    wait: usize,
    warned: BTreeSet<String>,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau::new()
    }
}

impl ReduceLROnPlateau {
    /// Keras's defaults (monitors `val_loss`).
    pub fn new() -> Self {
        ReduceLROnPlateau {
            mon: Monitor::new("val_loss".into(), Mode::Auto, 1e-4),
            factor: 0.1,
            patience: 10,
            verbose: 0,
            cooldown: 0,
            min_lr: 0.0,
            cooldown_counter: 0,
            wait: 0,
            warned: BTreeSet::new(),
        }
    }

    /// The quantity to monitor, a key of the epoch logs (`"val_loss"`).
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.mon.monitor = monitor.into();
        self
    }

    /// The multiplier of a reduction: `new_lr = lr * factor` (0.1).
    ///
    /// # Errors
    /// When `factor >= 1.0`, as Keras.
    pub fn factor(mut self, factor: f64) -> Result<Self> {
        if factor >= 1.0 {
            return Err(Error::InvalidArgument {
                op: "ReduceLROnPlateau",
                msg: format!("ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"),
            });
        }
        self.factor = factor;
        Ok(self)
    }

    /// Epochs without improvement before a reduction (10).
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// 0 silent, 1 prints each reduction (0).
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Whether the quantity should go down or up ([`Mode::Auto`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mon.mode = mode;
        self
    }

    /// Minimum change that counts as an improvement (its absolute value is used; 1e-4).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.mon.min_delta = min_delta.abs();
        self
    }

    /// Epochs to wait after a reduction before counting again (0).
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Lower bound of the learning rate (0).
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// Epochs without improvement so far.
    pub fn wait(&self) -> usize {
        self.wait
    }

    /// The best monitored value so far.
    pub fn best(&self) -> Option<f64> {
        self.mon.best
    }

    fn in_cooldown(&self) -> bool {
        self.cooldown_counter > 0
    }

    /// Keras's `_reduce_optimizer_lr`; true when the rate was lowered.
    fn reduce(&self, ctx: &mut CallbackContext, epoch: usize) -> Result<bool> {
        let old_lr = ctx.learning_rate()?;
        // `old_lr > np.float32(min_lr)`: NumPy compares the Python float as float32.
        if (old_lr as f32) > (self.min_lr as f32) {
            let new_lr = (old_lr * self.factor).max(self.min_lr);
            ctx.set_learning_rate(new_lr)?;
            if self.verbose > 0 {
                println!(
                    "\nEpoch {}: ReduceLROnPlateau reducing learning rate to {}.",
                    epoch + 1,
                    py_repr(new_lr)
                );
            }
            return Ok(true);
        }
        Ok(false)
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        self.mon.best = None;
        self.cooldown_counter = 0;
        self.wait = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
        self.mon.resolve(ctx, "ReduceLROnPlateau")?;
        // With a schedule there is no constant rate to log; reducing it fails below, as in
        // Keras.
        if let Ok(lr) = ctx.learning_rate() {
            logs.insert("learning_rate".into(), lr);
        }
        let Some(current) = logs.get(&self.mon.monitor).copied() else {
            let keys: Vec<&str> = logs.keys().map(String::as_str).collect();
            warn_once(
                &mut self.warned,
                format!(
                    "Learning rate reduction is conditioned on metric `{}` which is not available. \
                     Available metrics are: {}.",
                    self.mon.monitor,
                    keys.join(",")
                ),
            );
            return Ok(());
        };
        if self.in_cooldown() {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if self.mon.is_improvement(current, self.mon.best) {
            self.mon.best = Some(current);
            self.wait = 0;
        } else if !self.in_cooldown() {
            self.wait += 1;
            if self.wait >= self.patience && self.reduce(ctx, epoch)? {
                self.cooldown_counter = self.cooldown;
                self.wait = 0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx_with, logs};
    use super::*;

    /// Runs `cb` over a scripted sequence, applying each reduction as the trainer does;
    /// returns the logged learning rates and the final one.
    fn run(mut cb: ReduceLROnPlateau, lr0: f64, key: &str, seq: &[f64]) -> (Vec<f64>, f64) {
        let mut ctx = ctx_with(vec![], Some(lr0 as f32 as f64));
        cb.on_train_begin(&mut ctx, &Logs::new()).unwrap();
        let mut logged = vec![];
        for (e, &v) in seq.iter().enumerate() {
            let mut l = logs(&[(key, v)]);
            cb.on_epoch_end(&mut ctx, e, &mut l).unwrap();
            logged.push(l["learning_rate"]);
            if let Some(lr) = ctx.take_pending_learning_rate() {
                // The optimizer stores it as float32.
                ctx.sync_learning_rate(Some(lr as f32 as f64));
            }
        }
        (logged, ctx.learning_rate().unwrap())
    }

    // Expectations from keras.callbacks.ReduceLROnPlateau (Keras 3.15) driven with the same
    // sequences and a real keras.optimizers.SGD.

    #[test]
    fn reduces_after_patience() {
        let (logged, last) = run(
            ReduceLROnPlateau::new().factor(0.5).unwrap().patience(2),
            0.1,
            "val_loss",
            &[1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5],
        );
        let f = |x: f64| x as f32 as f64;
        assert_eq!(
            logged,
            vec![f(0.1), f(0.1), f(0.1), f(0.1), f(0.05), f(0.05), f(0.025)]
        );
        assert_eq!(last, f(0.025));
    }

    #[test]
    fn min_delta_cooldown_and_min_lr() {
        // Gains below min_delta (1e-4) are no improvement; min_lr bounds the rate. Keras
        // decrements the cooldown before counting, so cooldown 1 skips no epoch.
        let (logged, last) = run(
            ReduceLROnPlateau::new()
                .monitor("loss")
                .patience(1)
                .cooldown(1)
                .min_lr(0.0015),
            0.1,
            "loss",
            &[1.0, 0.99995, 0.9999, 0.99985, 0.9998, 0.99975, 0.9997],
        );
        let f = |x: f64| x as f32 as f64;
        let (r1, m) = (f(f(0.1) * 0.1), f(0.0015));
        assert_eq!(logged, vec![f(0.1), f(0.1), r1, m, m, m, m]);
        assert_eq!(last, m);
        // Cooldown 2 leaves one epoch uncounted after each reduction.
        let (logged, last) = run(
            ReduceLROnPlateau::new()
                .monitor("loss")
                .patience(1)
                .cooldown(2)
                .factor(0.5)
                .unwrap(),
            1.0,
            "loss",
            &[1.0; 7],
        );
        assert_eq!(logged, vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]);
        assert_eq!(last, 0.125);
    }

    #[test]
    fn max_mode_and_errors() {
        let (logged, _) = run(
            ReduceLROnPlateau::new()
                .monitor("acc")
                .mode(Mode::Max)
                .patience(1),
            0.01,
            "acc",
            &[0.5, 0.4, 0.6],
        );
        let f = |x: f64| x as f32 as f64;
        assert_eq!(logged, vec![f(0.01), f(0.01), f(f(0.01) * 0.1)]);
        assert!(ReduceLROnPlateau::new().factor(1.0).is_err());
        // With a schedule, nothing is logged and reducing fails.
        let mut cb = ReduceLROnPlateau::new().patience(0);
        let mut ctx = ctx_with(vec![], None);
        let mut l = logs(&[("val_loss", 1.0)]);
        cb.on_epoch_end(&mut ctx, 0, &mut l).unwrap();
        assert!(!l.contains_key("learning_rate"));
        assert!(cb
            .on_epoch_end(&mut ctx, 1, &mut logs(&[("val_loss", 1.0)]))
            .is_err());
        // A missing monitor only warns.
        let mut ctx = ctx_with(vec![], Some(0.1));
        let mut l = Logs::new();
        cb.on_epoch_end(&mut ctx, 0, &mut l).unwrap();
        assert_eq!(l.len(), 1);
    }
}
