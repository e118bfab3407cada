//! [`TerminateOnNaN`]: stop training when the loss becomes NaN or infinite.

use super::{py_repr, Callback, CallbackContext};
use crate::trainers::Logs;
use keras_tensor::{Error, Result};

/// Stops training when a batch's `loss` is NaN or infinite, as Keras's
/// `keras.callbacks.TerminateOnNaN`.
///
/// By default it prints `Batch {batch}: Invalid loss, terminating training` and sets
/// [`CallbackContext::stop_training`], so `fit` ends after that batch and the other callbacks'
/// `on_train_end` still run. With `raise_error(true)` it returns an error instead, which ends
/// `fit` at once without `on_train_end`.
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, Params, TerminateOnNaN};
/// use keras::trainers::Logs;
/// let mut ctx = CallbackContext::new(vec![], Params::default(), None);
/// let mut cb = TerminateOnNaN::new();
/// cb.on_train_batch_end(&mut ctx, 0, &Logs::from([("loss".to_string(), 0.5)]))?;
/// assert!(!ctx.stop_training);
/// cb.on_train_batch_end(&mut ctx, 1, &Logs::from([("loss".to_string(), f64::INFINITY)]))?;
/// assert!(ctx.stop_training);
/// let strict = TerminateOnNaN::new().raise_error(true).on_train_batch_end(
///     &mut ctx, 2, &Logs::from([("loss".to_string(), f64::NAN)]));
/// assert!(strict.is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TerminateOnNaN {
    raise_error: bool,
}

impl TerminateOnNaN {
    /// Keras's default: stop gracefully (`raise_error = false`).
    pub fn new() -> Self {
        TerminateOnNaN { raise_error: false }
    }

    /// Return an error instead of stopping gracefully (false).
    pub fn raise_error(mut self, raise_error: bool) -> Self {
        self.raise_error = raise_error;
        self
    }
}

impl Callback for TerminateOnNaN {
    fn on_train_batch_end(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        let Some(&loss) = logs.get("loss") else {
            return Ok(());
        };
        if loss.is_nan() || loss.is_infinite() {
            if self.raise_error {
                return Err(Error::InvalidArgument {
                    op: "TerminateOnNaN",
                    msg: format!(
                        "NaN or Inf loss encountered at batch {batch}. Loss value: {}. Terminating \
                         training immediately.",
                        py_repr(loss)
                    ),
                });
            }
            println!("Batch {batch}: Invalid loss, terminating training");
            ctx.stop_training = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx_with, logs};
    use super::*;

    #[test]
    fn stops_only_on_nan_or_inf_loss() {
        let mut ctx = ctx_with(vec![], None);
        let mut cb = TerminateOnNaN::new();
        for l in [
            logs(&[("loss", 1e30)]),
            logs(&[("accuracy", f64::NAN)]),
            Logs::new(),
        ] {
            cb.on_train_batch_end(&mut ctx, 0, &l).unwrap();
            assert!(!ctx.stop_training);
        }
        cb.on_train_batch_end(&mut ctx, 3, &logs(&[("loss", f64::NEG_INFINITY)]))
            .unwrap();
        assert!(ctx.stop_training);
        let e = TerminateOnNaN::new()
            .raise_error(true)
            .on_train_batch_end(&mut ctx_with(vec![], None), 7, &logs(&[("loss", f64::NAN)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at batch 7. Loss value: nan."), "{e}");
    }
}
