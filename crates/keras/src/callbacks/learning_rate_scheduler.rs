//! [`LearningRateScheduler`]: set the learning rate at the start of every epoch.

use super::{py_repr, Callback, CallbackContext};
use crate::trainers::Logs;
use keras_tensor::Result;

type Schedule = Box<dyn FnMut(usize, f64) -> f64 + Send>;

/// Sets the learning rate at the start of every epoch to `schedule(epoch, current_lr)`, as
/// Keras's `keras.callbacks.LearningRateScheduler`. At every epoch end it adds the learning
/// rate to the logs as `"learning_rate"`.
///
/// The optimizer must have a constant learning rate (not a `LearningRateSchedule`).
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, LearningRateScheduler, Params};
/// use keras::trainers::Logs;
///
/// // Keep the rate for 10 epochs, then decay it exponentially.
/// let mut cb = LearningRateScheduler::new(|epoch, lr| if epoch < 10 { lr } else { lr * (-0.1f64).exp() });
/// let mut ctx = CallbackContext::new(vec![], Params::default(), Some(0.01));
/// for epoch in 0..15 {
///     cb.on_epoch_begin(&mut ctx, epoch, &Logs::new())?;
///     let mut logs = Logs::new();
///     cb.on_epoch_end(&mut ctx, epoch, &mut logs)?;
///     assert_eq!(logs["learning_rate"], ctx.learning_rate()?);
/// }
/// assert!((ctx.learning_rate()? - 0.00607).abs() < 1e-5); // as in Keras's docstring
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct LearningRateScheduler {
    schedule: Schedule,
    verbose: u8,
}

impl std::fmt::Debug for LearningRateScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LearningRateScheduler(verbose={})", self.verbose)
    }
}

impl LearningRateScheduler {
    /// A scheduler calling `schedule(epoch, lr)` (0-based epoch, the current rate) for the new
    /// rate; `verbose = 0`.
    pub fn new(schedule: impl FnMut(usize, f64) -> f64 + Send + 'static) -> Self {
        LearningRateScheduler {
            schedule: Box::new(schedule),
            verbose: 0,
        }
    }

    /// 0 quiet, 1 prints each update (0).
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, ctx: &mut CallbackContext, epoch: usize, _logs: &Logs) -> Result<()> {
        let lr = (self.schedule)(epoch, ctx.learning_rate()?);
        ctx.set_learning_rate(lr)?;
        if self.verbose > 0 {
            println!(
                "\nEpoch {}: LearningRateScheduler setting learning rate to {}.",
                epoch + 1,
                py_repr(lr)
            );
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext, _epoch: usize, logs: &mut Logs) -> Result<()> {
        logs.insert("learning_rate".into(), ctx.learning_rate()?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::ctx_with;
    use super::*;

    #[test]
    fn sets_the_rate_every_epoch_and_logs_it() {
        let mut seen = vec![];
        let (tx, rx) = std::sync::mpsc::channel();
        let mut cb = LearningRateScheduler::new(move |e, lr| {
            tx.send((e, lr)).unwrap();
            if e < 2 {
                lr
            } else {
                lr * 0.5
            }
        });
        let mut ctx = ctx_with(vec![], Some(0.1f32 as f64));
        for e in 0..4 {
            cb.on_epoch_begin(&mut ctx, e, &Logs::new()).unwrap();
            // The trainer applies the pending rate; the optimizer stores float32.
            let lr = ctx.take_pending_learning_rate().unwrap();
            ctx.sync_learning_rate(Some(lr as f32 as f64));
            let mut logs = Logs::new();
            cb.on_epoch_end(&mut ctx, e, &mut logs).unwrap();
            seen.push(logs["learning_rate"]);
        }
        let f = |x: f64| x as f32 as f64;
        let (a, b) = (f(0.1), f(f(0.1) * 0.5));
        assert_eq!(seen, vec![a, a, b, f(b * 0.5)]);
        // The schedule gets the float32 value the optimizer holds.
        let calls: Vec<(usize, f64)> = rx.try_iter().collect();
        assert_eq!(calls, vec![(0, a), (1, a), (2, a), (3, b)]);
        // A schedule-driven optimizer cannot be set.
        let mut ctx = ctx_with(vec![], None);
        assert!(cb.on_epoch_begin(&mut ctx, 0, &Logs::new()).is_err());
    }
}
