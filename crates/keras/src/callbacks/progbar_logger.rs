//! [`ProgbarLogger`]: Keras's progress output (`verbose = 1` a live bar, `verbose = 2` one
//! line per epoch), with Keras 3's `Progbar` layout.

use super::{py_exp, py_fixed, Callback, CallbackContext, Params};
use crate::trainers::Logs;
use keras_tensor::{Error, Result};
use std::io::Write;

type Clock = Box<dyn FnMut() -> f64 + Send>;

/// Where the bar goes: stdout, or a writer in tests.
struct Output {
    writer: Box<dyn Write + Send>,
    /// Update the line in place (with ANSI colours), as on a terminal.
    live: bool,
    clock: Clock,
}

impl Output {
    fn write(&mut self, s: &str) -> Result<()> {
        self.writer
            .write_all(s.as_bytes())
            .and_then(|_| self.writer.flush())
            .map_err(|e| Error::InvalidArgument {
                op: "ProgbarLogger",
                msg: format!("cannot write the progress bar: {e}"),
            })
    }
}

/// Keras's `keras.utils.Progbar` as `ProgbarLogger` drives it (all metrics shown as given).
struct Progbar {
    target: Option<usize>,
    width: usize,
    verbose: u8,
    interval: f64,
    values: Vec<(String, f64)>,
    seen_so_far: usize,
    start: f64,
    /// `None` before the first draw (Keras starts at 0 on an epoch-based clock, so the
    /// first update is always drawn).
    last_update: Option<f64>,
    time_after_first_step: Option<f64>,
    prev_total_width: usize,
}

/// Keras's `_format_time`: `" 51ms/step"`.
fn format_time(time_per_unit: f64, unit: &str) -> String {
    if time_per_unit >= 1.0 || time_per_unit == 0.0 {
        format!(" {}s/{unit}", py_fixed(time_per_unit, 0))
    } else if time_per_unit >= 1e-3 {
        format!(" {}ms/{unit}", py_fixed(time_per_unit * 1e3, 0))
    } else {
        format!(" {}us/{unit}", py_fixed(time_per_unit * 1e6, 0))
    }
}

/// Keras's ETA: `%ds`, `%d:%02d` past a minute, `%d:%02d:%02d` past an hour.
fn format_eta(eta: f64) -> String {
    let t = |x: f64| x.trunc() as i64;
    if eta > 3600.0 {
        format!(
            "{}:{:02}:{:02}",
            t(eta / 3600.0),
            t((eta % 3600.0) / 60.0),
            t(eta % 60.0)
        )
    } else if eta > 60.0 {
        format!("{}:{:02}", t(eta / 60.0), t(eta % 60.0))
    } else {
        format!("{}s", t(eta))
    }
}

/// Bold, green and white, as Keras's bar; nothing when not live.
struct Style {
    live: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.live {
            format!("{code}{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

impl Progbar {
    fn new(target: Option<usize>, verbose: u8, now: f64) -> Progbar {
        Progbar {
            target,
            width: 20,
            verbose,
            interval: 0.05,
            values: Vec::new(),
            seen_so_far: 0,
            start: now,
            last_update: None,
            time_after_first_step: None,
            prev_total_width: 0,
        }
    }

    fn estimate_step_duration(&mut self, current: usize, now: f64) -> f64 {
        if current == 0 {
            return 0.0;
        }
        let per = match self.time_after_first_step {
            Some(t1) if current > 1 => (now - t1) / (current - 1) as f64,
            _ => (now - self.start) / current as f64,
        };
        if current == 1 {
            self.time_after_first_step = Some(now);
        }
        per
    }

    fn update(&mut self, out: &mut Output, current: usize, values: &Logs, finalize: bool) -> Result<()> {
        for (k, v) in values {
            match self.values.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = *v,
                None => self.values.push((k.clone(), *v)),
            }
        }
        self.seen_so_far = current;
        let now = (out.clock)();
        let time_per_unit = self.estimate_step_duration(current, now);
        let elapsed = format!("{}s", py_fixed(now - self.start, 0));
        let known = self.target.filter(|&t| t > 0);
        match self.verbose {
            1 => {
                if self.last_update.is_some_and(|t| now - t < self.interval) && !finalize {
                    return Ok(());
                }
                // Without a terminal only the finished line is written.
                if !out.live && !finalize {
                    self.last_update = Some(now);
                    return Ok(());
                }
                let st = Style { live: out.live };
                let (bar, plain_bar) = match known {
                    Some(target) => {
                        let nd = target.to_string().len();
                        let count = format!("{current:>nd$}/{target}");
                        let prog_width = ((self.width as f64) * (current as f64 / target as f64)) as usize;
                        let prog_width = prog_width.min(self.width);
                        let done = "━".repeat(prog_width);
                        let rest = "━".repeat(self.width - prog_width);
                        let mut bar = st.wrap("\x1b[1m", &count) + " ";
                        if prog_width > 0 {
                            bar += &st.wrap("\x1b[32m", &done);
                        }
                        bar += &st.wrap("\x1b[37m", &rest);
                        (bar, format!("{count} {done}{rest}"))
                    }
                    None => {
                        let b = format!("{current:>7}/Unknown");
                        (b.clone(), b)
                    }
                };
                let head = match known {
                    Some(target) if !finalize => {
                        format_eta(time_per_unit * (target - current.min(target)) as f64)
                    }
                    _ => elapsed,
                };
                let mut info = format!(" {}", st.wrap("\x1b[1m", &head));
                let mut plain_info = format!(" {head}");
                let mut tail = format_time(time_per_unit, "step");
                for (k, avg) in &self.values {
                    let v = if avg.abs() > 1e-3 {
                        py_fixed(*avg, 4)
                    } else {
                        py_exp(*avg, 4)
                    };
                    tail += &format!(" - {k}: {v}");
                }
                info += &tail;
                plain_info += &tail;
                let total_width = plain_bar.chars().count() + plain_info.chars().count();
                // Keras backspaces over the previous line, then returns to its start.
                let mut message = if out.live {
                    "\x08".repeat(self.prev_total_width) + "\r"
                } else {
                    String::new()
                };
                message += &bar;
                message += &info;
                if out.live && self.prev_total_width > total_width {
                    message += &" ".repeat(self.prev_total_width - total_width);
                }
                if finalize {
                    message += "\n";
                }
                out.write(&message)?;
                self.prev_total_width = total_width;
            }
            2 => {
                if let (true, Some(target)) = (finalize, known) {
                    let nd = target.to_string().len();
                    let mut info = format!(
                        "{current:>nd$}/{target} - {elapsed} -{}",
                        format_time(time_per_unit, "step")
                    );
                    for (k, avg) in &self.values {
                        let v = if *avg > 1e-3 {
                            py_fixed(*avg, 4)
                        } else {
                            py_exp(*avg, 4)
                        };
                        info += &format!(" - {k}: {v}");
                    }
                    info += "\n";
                    out.write(&info)?;
                }
            }
            _ => {}
        }
        self.last_update = Some(now);
        Ok(())
    }
}

/// Prints training progress, as Keras's `keras.callbacks.ProgbarLogger` with its `Progbar`.
///
/// It takes `verbose`, `epochs` and `steps` from the run's [`Params`]. With `verbose = 1`
/// each epoch starts with `Epoch 3/10` (when `epochs > 1`) and shows a bar updated in place
/// (at most every 50 ms) on a terminal:
///
/// ```text
/// 234/469 ━━━━━━━━━━━━━━━━━━━━ 12s 51ms/step - accuracy: 0.9100 - loss: 0.2800
/// ```
///
/// (the ETA while running, the elapsed time once done); when stdout is not a terminal only
/// the finished line of each epoch is written, without colours. With `verbose = 2` one line
/// per epoch: `469/469 - 3s - 6ms/step - accuracy: 0.9100 - loss: 0.2800 - val_loss: …`.
/// Values above 1e-3 are shown with 4 decimals, smaller ones as `1.0000e-04`. Validation
/// inside `fit` is silent; a standalone `evaluate` or `predict` shows its own bar.
///
/// The trainer adds one (last, after `History`) when `verbose != 0`, as Keras does.
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, Params, ProgbarLogger};
/// use keras::trainers::Logs;
/// let mut bar = ProgbarLogger::new();
/// let mut ctx = CallbackContext::new(vec![], Params { epochs: 1, steps: Some(2), verbose: 2 }, None);
/// bar.on_train_begin(&mut ctx, &Logs::new())?;
/// bar.on_epoch_begin(&mut ctx, 0, &Logs::new())?;
/// for step in 0..2 {
///     bar.on_train_batch_end(&mut ctx, step, &Logs::from([("loss".to_string(), 0.5)]))?;
/// }
/// bar.on_epoch_end(&mut ctx, 0, &mut Logs::from([("loss".to_string(), 0.5)]))?; // prints "2/2 - 0s - …us/step - loss: 0.5000"
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct ProgbarLogger {
    verbose: u8,
    epochs: usize,
    target: Option<usize>,
    params_set: bool,
    seen: usize,
    progbar: Option<Progbar>,
    called_in_fit: bool,
    out: Output,
}

impl std::fmt::Debug for ProgbarLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProgbarLogger(verbose={}, epochs={}, target={:?})",
            self.verbose, self.epochs, self.target
        )
    }
}

impl Default for ProgbarLogger {
    fn default() -> Self {
        ProgbarLogger::new()
    }
}

impl ProgbarLogger {
    /// A logger writing to stdout (live updates only when stdout is a terminal).
    pub fn new() -> Self {
        use std::io::IsTerminal;
        let t0 = std::time::Instant::now();
        Self::with_output(
            Box::new(std::io::stdout()),
            std::io::stdout().is_terminal(),
            Box::new(move || t0.elapsed().as_secs_f64()),
        )
    }

    /// A logger writing to `writer`, live or not, reading time (seconds) from `clock`.
    pub(crate) fn with_output(writer: Box<dyn Write + Send>, live: bool, clock: Clock) -> Self {
        ProgbarLogger {
            verbose: 1,
            epochs: 1,
            target: None,
            params_set: false,
            seen: 0,
            progbar: None,
            called_in_fit: false,
            out: Output { writer, live, clock },
        }
    }

    fn set_params(&mut self, p: &Params) {
        self.verbose = p.verbose;
        self.epochs = p.epochs;
        self.target = p.steps;
        self.params_set = true;
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.progbar = None;
    }

    fn maybe_init(&mut self) {
        if self.progbar.is_none() {
            let now = (self.out.clock)();
            self.progbar = Some(Progbar::new(self.target, self.verbose, now));
        }
    }

    fn update_progbar(&mut self, batch: usize, logs: &Logs) -> Result<()> {
        self.maybe_init();
        self.seen = batch + 1;
        if self.verbose == 1 {
            if let Some(p) = self.progbar.as_mut() {
                p.update(&mut self.out, self.seen, logs, false)?;
            }
        }
        Ok(())
    }

    fn finalize(&mut self, logs: &Logs) -> Result<()> {
        self.maybe_init();
        let target = *self.target.get_or_insert(self.seen);
        if let Some(p) = self.progbar.as_mut() {
            p.target = Some(target);
            p.update(&mut self.out, target, logs, true)?;
        }
        Ok(())
    }
}

impl Callback for ProgbarLogger {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        self.set_params(&ctx.params);
        // Validation inside fit is silent.
        self.called_in_fit = true;
        Ok(())
    }

    fn on_test_begin(&mut self, ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        if !self.called_in_fit {
            self.set_params(&ctx.params);
            self.reset();
            self.maybe_init();
        }
        Ok(())
    }

    fn on_predict_begin(&mut self, ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        self.set_params(&ctx.params);
        self.reset();
        self.maybe_init();
        Ok(())
    }

    fn on_epoch_begin(&mut self, ctx: &mut CallbackContext, epoch: usize, _logs: &Logs) -> Result<()> {
        if !self.params_set {
            self.set_params(&ctx.params);
        }
        self.reset();
        self.maybe_init();
        if self.verbose > 0 && self.epochs > 1 {
            self.out
                .write(&format!("Epoch {}/{}\n", epoch + 1, self.epochs))?;
        }
        Ok(())
    }

    fn on_train_batch_end(&mut self, _ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        self.update_progbar(batch, logs)
    }

    fn on_test_batch_end(&mut self, _ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        if !self.called_in_fit {
            self.update_progbar(batch, logs)?;
        }
        Ok(())
    }

    fn on_predict_batch_end(&mut self, _ctx: &mut CallbackContext, batch: usize, _logs: &Logs) -> Result<()> {
        // Prediction results are not shown.
        self.update_progbar(batch, &Logs::new())
    }

    fn on_epoch_end(&mut self, _ctx: &mut CallbackContext, _epoch: usize, logs: &mut Logs) -> Result<()> {
        self.finalize(logs)
    }

    fn on_test_end(&mut self, _ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        if !self.called_in_fit {
            self.finalize(logs)?;
        }
        Ok(())
    }

    fn on_predict_end(&mut self, _ctx: &mut CallbackContext, logs: &Logs) -> Result<()> {
        self.finalize(logs)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::logs;
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A logger on a scripted clock: `set(t)` before each hook.
    fn logger(live: bool) -> (ProgbarLogger, Sink, Arc<Mutex<f64>>) {
        let sink = Sink::default();
        let t = Arc::new(Mutex::new(0.0));
        let tc = t.clone();
        let cb = ProgbarLogger::with_output(
            Box::new(sink.clone()),
            live,
            Box::new(move || *tc.lock().unwrap()),
        );
        (cb, sink, t)
    }

    fn text(s: &Sink) -> String {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap()
    }

    fn ctx(epochs: usize, steps: Option<usize>, verbose: u8) -> CallbackContext {
        CallbackContext::new(
            vec![],
            Params {
                epochs,
                steps,
                verbose,
            },
            None,
        )
    }

    /// One epoch of 3 steps: batch ends at 100.5, 100.52 (within 50 ms: not drawn) and
    /// 101.7, epoch end at 101.8 with validation results and a learning rate.
    fn epoch(cb: &mut ProgbarLogger, c: &mut CallbackContext, t: &Arc<Mutex<f64>>, e: usize) {
        let set = |v: f64| *t.lock().unwrap() = v;
        set(100.0);
        cb.on_epoch_begin(c, e, &Logs::new()).unwrap();
        for (b, (time, acc, loss)) in [(100.5, 0.5, 0.9), (100.52, 0.6, 0.8), (101.7, 0.75, 0.0005)]
            .into_iter()
            .enumerate()
        {
            set(time);
            cb.on_train_batch_end(c, b, &logs(&[("accuracy", acc), ("loss", loss)]))
                .unwrap();
        }
        set(101.8);
        let mut l = logs(&[
            ("accuracy", 0.75),
            ("learning_rate", 0.0001),
            ("loss", 0.0005),
            ("val_accuracy", 0.5),
            ("val_loss", -0.25),
        ]);
        cb.on_epoch_end(c, e, &mut l).unwrap();
    }

    // Expected output: keras.utils.Progbar as keras.callbacks.ProgbarLogger (Keras 3.15)
    // drives it, for the same hooks, logs and a patched time.time().

    fn bs(n: usize) -> String {
        "\x08".repeat(n)
    }

    #[test]
    fn verbose_1_live_matches_keras() {
        let (mut cb, sink, t) = logger(true);
        let mut c = ctx(2, Some(3), 1);
        cb.on_train_begin(&mut c, &Logs::new()).unwrap();
        epoch(&mut cb, &mut c, &t, 0);
        let expected = "Epoch 1/2\n\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \
                        \x1b[1m1s\x1b[0m 500ms/step - accuracy: 0.5000 - loss: 0.9000"
            .to_string()
            + &bs(72)
            + "\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m \
               600ms/step - accuracy: 0.7500 - loss: 5.0000e-04"
            + &bs(76)
            + "\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m \
               650ms/step - accuracy: 0.7500 - loss: 5.0000e-04 - learning_rate: 1.0000e-04 - \
               val_accuracy: 0.5000 - val_loss: -0.2500\n";
        assert_eq!(text(&sink), expected);
    }

    #[test]
    fn verbose_1_without_a_terminal_writes_the_final_line() {
        // Keras's final line without the escape codes.
        let (mut cb, sink, t) = logger(false);
        let mut c = ctx(1, Some(3), 1);
        cb.on_train_begin(&mut c, &Logs::new()).unwrap();
        epoch(&mut cb, &mut c, &t, 0);
        assert_eq!(
            text(&sink),
            "3/3 ━━━━━━━━━━━━━━━━━━━━ 2s 650ms/step - accuracy: 0.7500 - loss: 5.0000e-04 - learning_rate: \
             1.0000e-04 - val_accuracy: 0.5000 - val_loss: -0.2500\n"
        );
    }

    #[test]
    fn verbose_2_matches_keras() {
        // Batches do not update a verbose-2 bar, so the keys come in the epoch logs' order
        // and the step time is the epoch's mean.
        let (mut cb, sink, t) = logger(true);
        let mut c = ctx(3, Some(3), 2);
        cb.on_train_begin(&mut c, &Logs::new()).unwrap();
        epoch(&mut cb, &mut c, &t, 1);
        assert_eq!(
            text(&sink),
            "Epoch 2/3\n3/3 - 2s - 600ms/step - accuracy: 0.7500 - learning_rate: 1.0000e-04 - loss: \
             5.0000e-04 - val_accuracy: 0.5000 - val_loss: -2.5000e-01\n"
        );
    }

    #[test]
    fn eta_formats_and_unknown_target() {
        let (mut cb, sink, t) = logger(true);
        let mut c = ctx(1, Some(100), 1);
        cb.on_train_begin(&mut c, &Logs::new()).unwrap();
        *t.lock().unwrap() = 0.0;
        cb.on_epoch_begin(&mut c, 0, &Logs::new()).unwrap();
        for (b, time) in [50.0, 100.0, 100.5, 160.0].into_iter().enumerate() {
            *t.lock().unwrap() = time;
            cb.on_train_batch_end(&mut c, b, &Logs::new()).unwrap();
        }
        let line = |n: &str, eta: &str, per: &str| {
            format!(
                "\r\x1b[1m{n}/100\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m{eta}\x1b[0m {per}/step"
            )
        };
        let expected = line("  1", "1:22:30", "50s")
            + &bs(45)
            + &line("  2", "1:21:40", "50s")
            + &bs(45)
            + &line("  3", "40:49", "25s")
            + "  "
            + &bs(43)
            + &line("  4", "58:40", "37s");
        assert_eq!(text(&sink), expected);
        // Unknown number of steps: a counter, then the count seen becomes the target.
        let (mut cb, sink, t) = logger(true);
        let mut c = ctx(1, None, 1);
        *t.lock().unwrap() = 10.0;
        cb.on_predict_begin(&mut c, &Logs::new()).unwrap();
        for (b, time) in [10.001, 10.002].into_iter().enumerate() {
            *t.lock().unwrap() = time;
            cb.on_predict_batch_end(&mut c, b, &logs(&[("ignored", 1.0)]))
                .unwrap();
        }
        *t.lock().unwrap() = 10.5;
        cb.on_predict_end(&mut c, &Logs::new()).unwrap();
        let expected = "\r      1/Unknown \x1b[1m0s\x1b[0m 1000us/step".to_string()
            + &bs(30)
            + "\r\x1b[1m2/2\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 499ms/step\n";
        assert_eq!(text(&sink), expected);
    }

    #[test]
    fn evaluate_shows_a_bar_but_validation_in_fit_does_not() {
        let (mut cb, sink, t) = logger(false);
        let mut c = ctx(1, Some(2), 2);
        *t.lock().unwrap() = 1.0;
        cb.on_test_begin(&mut c, &Logs::new()).unwrap();
        cb.on_test_batch_end(&mut c, 0, &logs(&[("loss", 1.0)])).unwrap();
        *t.lock().unwrap() = 3.0;
        cb.on_test_batch_end(&mut c, 1, &logs(&[("loss", 0.5)])).unwrap();
        cb.on_test_end(&mut c, &logs(&[("loss", 0.5)])).unwrap();
        assert_eq!(text(&sink), "2/2 - 2s - 1s/step - loss: 0.5000\n");
        let (mut cb, sink, _) = logger(false);
        cb.on_train_begin(&mut c, &Logs::new()).unwrap();
        cb.on_test_begin(&mut c, &Logs::new()).unwrap();
        cb.on_test_batch_end(&mut c, 0, &logs(&[("loss", 1.0)])).unwrap();
        cb.on_test_end(&mut c, &logs(&[("loss", 0.5)])).unwrap();
        assert_eq!(text(&sink), "");
        // verbose 0: silent.
        let (mut cb, sink, _) = logger(true);
        let mut c = ctx(5, Some(2), 0);
        cb.on_train_begin(&mut c, &Logs::new()).unwrap();
        cb.on_epoch_begin(&mut c, 0, &Logs::new()).unwrap();
        cb.on_train_batch_end(&mut c, 0, &Logs::new()).unwrap();
        cb.on_epoch_end(&mut c, 0, &mut Logs::new()).unwrap();
        assert_eq!(text(&sink), "");
    }
}
