//! [`LambdaCallback`]: a callback made of closures.

use super::{Callback, CallbackContext};
use crate::trainers::Logs;
use keras_tensor::Result;

type LogsFn = Box<dyn FnMut(&Logs) + Send>;
type IndexFn = Box<dyn FnMut(usize, &Logs) + Send>;
type EpochEndFn = Box<dyn FnMut(usize, &mut Logs) + Send>;

/// A callback built from closures, as Keras's `keras.callbacks.LambdaCallback`.
///
/// Each hook is optional: `on_epoch_begin` / `on_epoch_end` get `(epoch, logs)`,
/// `on_train_begin` / `on_train_end` get `(logs)`, the batch hooks get `(batch, logs)`, and
/// so on for the test and predict hooks (Keras's `**kwargs`). `on_epoch_end` may add entries
/// to the logs. To stop training or report an error, implement [`Callback`] instead.
///
/// The builder methods have the hooks' names, as Keras's keyword arguments; to call a hook
/// on a `LambdaCallback` value directly, write `Callback::on_epoch_end(&mut cb, …)` (the
/// trainer calls them through `dyn Callback`).
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, LambdaCallback, Params};
/// use keras::trainers::Logs;
/// use std::sync::{Arc, Mutex};
///
/// let losses = Arc::new(Mutex::new(Vec::new()));
/// let sink = losses.clone();
/// let mut cb = LambdaCallback::new()
///     .on_epoch_end(move |epoch, logs| sink.lock().unwrap().push((epoch, logs["loss"])))
///     .on_train_batch_begin(|batch, _logs| println!("batch {batch}"));
/// let mut ctx = CallbackContext::new(vec![], Params::default(), None);
/// // The builder methods share the hooks' names, so call the hooks through the trait.
/// Callback::on_train_batch_begin(&mut cb, &mut ctx, 0, &Logs::new())?;
/// Callback::on_epoch_end(&mut cb, &mut ctx, 0, &mut Logs::from([("loss".to_string(), 0.5)]))?;
/// assert_eq!(*losses.lock().unwrap(), vec![(0, 0.5)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Default)]
pub struct LambdaCallback {
    on_epoch_begin: Option<IndexFn>,
    on_epoch_end: Option<EpochEndFn>,
    on_train_begin: Option<LogsFn>,
    on_train_end: Option<LogsFn>,
    on_train_batch_begin: Option<IndexFn>,
    on_train_batch_end: Option<IndexFn>,
    on_test_begin: Option<LogsFn>,
    on_test_end: Option<LogsFn>,
    on_test_batch_begin: Option<IndexFn>,
    on_test_batch_end: Option<IndexFn>,
    on_predict_begin: Option<LogsFn>,
    on_predict_end: Option<LogsFn>,
    on_predict_batch_begin: Option<IndexFn>,
    on_predict_batch_end: Option<IndexFn>,
}

impl std::fmt::Debug for LambdaCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LambdaCallback")
    }
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident, $ty:ident, ($($arg:ty),*)) => {
        $(#[$doc])*
        pub fn $name(mut self, f: impl FnMut($($arg),*) + Send + 'static) -> Self {
            self.$name = Some(Box::new(f) as $ty);
            self
        }
    };
}

impl LambdaCallback {
    /// A callback with no hooks; add them with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    setter!(
        /// Called at the start of every epoch with `(epoch, logs)`.
        on_epoch_begin, IndexFn, (usize, &Logs)
    );
    setter!(
        /// Called at the end of every epoch with `(epoch, logs)`.
        on_epoch_end, EpochEndFn, (usize, &mut Logs)
    );
    setter!(
        /// Called at the start of training with `(logs)`.
        on_train_begin, LogsFn, (&Logs)
    );
    setter!(
        /// Called at the end of training with `(logs)`.
        on_train_end, LogsFn, (&Logs)
    );
    setter!(
        /// Called before every training batch with `(batch, logs)`.
        on_train_batch_begin, IndexFn, (usize, &Logs)
    );
    setter!(
        /// Called after every training batch with `(batch, logs)`.
        on_train_batch_end, IndexFn, (usize, &Logs)
    );
    setter!(
        /// Called at the start of evaluation with `(logs)`.
        on_test_begin, LogsFn, (&Logs)
    );
    setter!(
        /// Called at the end of evaluation with `(logs)`.
        on_test_end, LogsFn, (&Logs)
    );
    setter!(
        /// Called before every evaluation batch with `(batch, logs)`.
        on_test_batch_begin, IndexFn, (usize, &Logs)
    );
    setter!(
        /// Called after every evaluation batch with `(batch, logs)`.
        on_test_batch_end, IndexFn, (usize, &Logs)
    );
    setter!(
        /// Called at the start of prediction with `(logs)`.
        on_predict_begin, LogsFn, (&Logs)
    );
    setter!(
        /// Called at the end of prediction with `(logs)`.
        on_predict_end, LogsFn, (&Logs)
    );
    setter!(
        /// Called before every prediction batch with `(batch, logs)`.
        on_predict_batch_begin, IndexFn, (usize, &Logs)
    );
    setter!(
        /// Called after every prediction batch with `(batch, logs)`.
        on_predict_batch_end, IndexFn, (usize, &Logs)
    );
}

macro_rules! hook {
    ($name:ident($($arg:ident: $ty:ty),*)) => {
        fn $name(&mut self, _ctx: &mut CallbackContext, $($arg: $ty),*) -> Result<()> {
            if let Some(f) = self.$name.as_mut() {
                f($($arg),*);
            }
            Ok(())
        }
    };
}

impl Callback for LambdaCallback {
    hook!(on_epoch_begin(epoch: usize, logs: &Logs));
    hook!(on_epoch_end(epoch: usize, logs: &mut Logs));
    hook!(on_train_begin(logs: &Logs));
    hook!(on_train_end(logs: &Logs));
    hook!(on_train_batch_begin(batch: usize, logs: &Logs));
    hook!(on_train_batch_end(batch: usize, logs: &Logs));
    hook!(on_test_begin(logs: &Logs));
    hook!(on_test_end(logs: &Logs));
    hook!(on_test_batch_begin(batch: usize, logs: &Logs));
    hook!(on_test_batch_end(batch: usize, logs: &Logs));
    hook!(on_predict_begin(logs: &Logs));
    hook!(on_predict_end(logs: &Logs));
    hook!(on_predict_batch_begin(batch: usize, logs: &Logs));
    hook!(on_predict_batch_end(batch: usize, logs: &Logs));
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx_with, logs};
    use super::super::CallbackList;
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn each_hook_calls_its_closure() {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let l = |tag: &'static str| {
            let log = log.clone();
            move |i: usize, _: &Logs| log.lock().unwrap().push(format!("{tag}{i}"))
        };
        let m = |tag: &'static str| {
            let log = log.clone();
            move |x: &Logs| log.lock().unwrap().push(format!("{tag}{}", x.len()))
        };
        let cb = LambdaCallback::new()
            .on_train_begin(m("tb"))
            .on_epoch_begin(l("eb"))
            .on_train_batch_begin(l("bb"))
            .on_train_batch_end(l("be"))
            .on_epoch_end(|_, logs| {
                logs.insert("extra".into(), 1.0);
            })
            .on_train_end(m("te"))
            .on_test_begin(m("sb"))
            .on_test_batch_begin(l("sbb"))
            .on_test_batch_end(l("sbe"))
            .on_test_end(m("se"))
            .on_predict_begin(m("pb"))
            .on_predict_batch_begin(l("pbb"))
            .on_predict_batch_end(l("pbe"))
            .on_predict_end(m("pe"));
        let mut list = CallbackList::new(vec![Arc::new(Mutex::new(cb))]);
        let mut ctx = ctx_with(vec![], None);
        let e = Logs::new();
        list.on_train_begin(&mut ctx, &e).unwrap();
        list.on_epoch_begin(&mut ctx, 2, &e).unwrap();
        list.on_train_batch_begin(&mut ctx, 5, &e).unwrap();
        list.on_train_batch_end(&mut ctx, 5, &e).unwrap();
        let mut el = logs(&[("loss", 1.0)]);
        list.on_epoch_end(&mut ctx, 2, &mut el).unwrap();
        list.on_train_end(&mut ctx, &el).unwrap();
        list.on_test_begin(&mut ctx, &e).unwrap();
        list.on_test_batch_begin(&mut ctx, 1, &e).unwrap();
        list.on_test_batch_end(&mut ctx, 1, &e).unwrap();
        list.on_test_end(&mut ctx, &el).unwrap();
        list.on_predict_begin(&mut ctx, &e).unwrap();
        list.on_predict_batch_begin(&mut ctx, 0, &e).unwrap();
        list.on_predict_batch_end(&mut ctx, 0, &e).unwrap();
        list.on_predict_end(&mut ctx, &e).unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                "tb0", "eb2", "bb5", "be5", "te2", "sb0", "sbb1", "sbe1", "se2", "pb0", "pbb0", "pbe0", "pe0"
            ]
        );
        // Unset hooks do nothing.
        let mut empty = LambdaCallback::new();
        Callback::on_epoch_end(&mut empty, &mut ctx, 0, &mut el).unwrap();
    }
}
