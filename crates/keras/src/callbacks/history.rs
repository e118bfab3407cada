//! `History` as a callback: records every epoch's logs.

use super::{Callback, CallbackContext};
use crate::trainers::{History, Logs};
use keras_tensor::Result;

/// Keras's `keras.callbacks.History`: `on_train_begin` clears the epoch list, `on_epoch_end`
/// appends the epoch and each log value (including entries earlier callbacks added, such as
/// `learning_rate`). The trainer places it after the user's callbacks and before the
/// [`super::ProgbarLogger`], as Keras does.
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, Params};
/// use keras::trainers::Logs;
/// use keras::History;
/// let mut h = History::default();
/// let mut ctx = CallbackContext::new(vec![], Params::default(), None);
/// h.on_train_begin(&mut ctx, &Logs::new())?;
/// h.on_epoch_end(&mut ctx, 0, &mut Logs::from([("loss".to_string(), 0.5)]))?;
/// assert_eq!((h.epoch.clone(), h.history["loss"].clone()), (vec![0], vec![0.5]));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
impl Callback for History {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        self.epoch.clear();
        Ok(())
    }

    fn on_epoch_end(&mut self, _ctx: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
        self.epoch.push(epoch);
        for (k, v) in logs.iter() {
            self.history.entry(k.clone()).or_default().push(*v);
        }
        Ok(())
    }
}
