//! [`ModelCheckpoint`]: save the model (or its weights) during training.

use super::{warn_once, Callback, CallbackContext, Mode, Monitor};
use crate::trainers::Logs;
use keras_tensor::{Error, Result};
use std::collections::BTreeSet;

/// When [`ModelCheckpoint`] saves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFreq {
    /// At the end of every epoch (Keras's `save_freq="epoch"`).
    Epoch,
    /// Every this many training batches (Keras's integer `save_freq`).
    Batches(usize),
}

/// Saves the model or its weights during training, as Keras's
/// `keras.callbacks.ModelCheckpoint`: a `.keras` file (config, weights, compile and optimizer
/// state) or, with `save_weights_only`, a `.weights.h5` file. Every save replaces the file
/// atomically, so a run killed mid-save leaves the previous checkpoint loadable.
///
/// `filepath` may hold Python format fields filled from the epoch (counted from 1) and the
/// logs: `"ckpt-{epoch:02d}-{val_loss:.2f}.keras"`.
///
/// Defaults as Keras: `monitor = "val_loss"`, `verbose = 0`, `save_best_only = false`,
/// `save_weights_only = false`, `mode = Auto`, `save_freq = Epoch`,
/// `initial_value_threshold = None`.
///
/// ```
/// use keras::callbacks::ModelCheckpoint;
/// let cb = ModelCheckpoint::new("best.keras")?.monitor("val_accuracy").save_best_only(true);
/// assert!(ModelCheckpoint::new("model.h5").is_err()); // Keras 3 wants .keras or .weights.h5
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct ModelCheckpoint {
    filepath: String,
    mon: Monitor,
    verbose: u8,
    save_best_only: bool,
    save_weights_only: bool,
    save_freq: SaveFreq,
    batches_seen: usize,
    epoch: usize,
    warned: BTreeSet<String>,
    saved: Vec<String>,
}

impl ModelCheckpoint {
    /// A checkpoint at `filepath` (ending in `.keras`, or `.weights.h5` with
    /// [`ModelCheckpoint::save_weights_only`]; `on_train_begin` checks the pair).
    ///
    /// # Errors
    /// For any other ending.
    pub fn new(filepath: impl Into<String>) -> Result<Self> {
        let filepath = filepath.into();
        let cb = ModelCheckpoint {
            filepath,
            mon: Monitor::new("val_loss".into(), Mode::Auto, 0.0),
            verbose: 0,
            save_best_only: false,
            save_weights_only: false,
            save_freq: SaveFreq::Epoch,
            batches_seen: 0,
            epoch: 0,
            warned: BTreeSet::new(),
            saved: Vec::new(),
        };
        if !(cb.filepath.ends_with(".keras") || cb.filepath.ends_with(".weights.h5")) {
            cb.check_suffix()?;
        }
        Ok(cb)
    }

    fn check_suffix(&self) -> Result<()> {
        let (ok, want) = if self.save_weights_only {
            (self.filepath.ends_with(".weights.h5"), "`.weights.h5`")
        } else {
            (self.filepath.ends_with(".keras"), "`.keras`")
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument {
                op: "ModelCheckpoint",
                msg: format!(
                    "The filepath provided must end in {want} (Keras model format{}). Received: filepath={}",
                    if self.save_weights_only {
                        ", weights only"
                    } else {
                        ""
                    },
                    self.filepath
                ),
            })
        }
    }

    /// The quantity compared for `save_best_only`.
    pub fn monitor(mut self, name: &str) -> Self {
        self.mon = Monitor::new(name.into(), self.mon.mode, 0.0);
        self
    }
    /// `Min`, `Max` or `Auto` (from the monitored name).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mon = Monitor::new(self.mon.monitor.clone(), mode, 0.0);
        self
    }
    /// 1: print a line per save.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// Only save when the monitored quantity improved on the best so far.
    pub fn save_best_only(mut self, v: bool) -> Self {
        self.save_best_only = v;
        self
    }
    /// Save only the weights (`.weights.h5`); `on_train_begin` checks the filepath suits.
    pub fn save_weights_only(mut self, v: bool) -> Self {
        self.save_weights_only = v;
        self
    }
    /// When to save.
    pub fn save_freq(mut self, f: SaveFreq) -> Self {
        self.save_freq = f;
        self
    }
    /// Only save when the monitored value beats this (with `save_best_only`).
    pub fn initial_value_threshold(mut self, v: f64) -> Self {
        self.mon.best = Some(v);
        self
    }

    /// The paths written so far, in order.
    pub fn saved_paths(&self) -> &[String] {
        &self.saved
    }

    fn save(&mut self, ctx: &CallbackContext, epoch: usize, batch: Option<usize>, logs: &Logs) -> Result<()> {
        let path = format_filepath(&self.filepath, epoch + 1, batch.map(|b| b + 1), logs)?;
        if self.save_best_only {
            let Some(&current) = logs.get(&self.mon.monitor) else {
                warn_once(
                    &mut self.warned,
                    format!(
                        "Can save best model only with {} available, skipping.",
                        self.mon.monitor
                    ),
                );
                return Ok(());
            };
            self.mon.resolve(ctx, "ModelCheckpoint")?;
            if !self.mon.is_improvement(current, self.mon.best) {
                if self.verbose > 0 {
                    println!(
                        "\nEpoch {}: {} did not improve from {:.5}",
                        epoch + 1,
                        self.mon.monitor,
                        self.mon.best.unwrap_or(f64::NAN)
                    );
                }
                return Ok(());
            }
            if self.verbose > 0 {
                println!(
                    "\nEpoch {}: {} improved from {:.5} to {current:.5}, saving model to {path}",
                    epoch + 1,
                    self.mon.monitor,
                    self.mon.best.unwrap_or(f64::INFINITY)
                );
            }
            self.mon.best = Some(current);
        } else if self.verbose > 0 {
            println!("\nEpoch {}: saving model to {path}", epoch + 1);
        }
        let state = ctx.model_state()?;
        if self.save_weights_only {
            state.save_weights(&path)?;
        } else {
            state.save(&path)?;
        }
        self.saved.push(path);
        Ok(())
    }
}

impl Callback for ModelCheckpoint {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext, _: &Logs) -> Result<()> {
        self.check_suffix()?;
        ctx.model_state()?;
        Ok(())
    }

    fn on_epoch_begin(&mut self, _: &mut CallbackContext, epoch: usize, _: &Logs) -> Result<()> {
        self.epoch = epoch;
        Ok(())
    }

    fn on_train_batch_end(&mut self, ctx: &mut CallbackContext, batch: usize, logs: &Logs) -> Result<()> {
        if let SaveFreq::Batches(n) = self.save_freq {
            self.batches_seen += 1;
            if n > 0 && self.batches_seen % n == 0 {
                self.save(ctx, self.epoch, Some(batch), logs)?;
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
        if self.save_freq == SaveFreq::Epoch {
            self.save(ctx, epoch, None, logs)?;
        }
        Ok(())
    }
}

/// Python's `filepath.format(epoch=…, batch=…, **logs)` for the fields Keras users write:
/// `{name}`, `{name:02d}`, `{name:.4f}`, `{name:.2e}`; `{{` and `}}` are literal braces.
fn format_filepath(template: &str, epoch: usize, batch: Option<usize>, logs: &Logs) -> Result<String> {
    let bad = |m: String| Error::InvalidArgument {
        op: "ModelCheckpoint",
        msg: format!("filepath {template:?}: {m}"),
    };
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
                let value = match name {
                    "epoch" => epoch as f64,
                    "batch" => batch
                        .ok_or_else(|| bad("{batch} is only known with save_freq in batches".into()))?
                        as f64,
                    other => *logs
                        .get(other)
                        .ok_or_else(|| bad(format!("no log named {other:?} (logs: {:?})", logs.keys())))?,
                };
                let is_int = matches!(name, "epoch" | "batch");
                out.push_str(
                    &format_value(value, spec, is_int)
                        .ok_or_else(|| bad(format!("unsupported format spec {spec:?}")))?,
                );
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn format_value(v: f64, spec: &str, is_int: bool) -> Option<String> {
    if spec.is_empty() {
        return Some(if is_int {
            format!("{}", v as i64)
        } else {
            super::py_repr(v)
        });
    }
    let (body, kind) = spec.split_at(spec.len() - 1);
    match kind {
        "d" => {
            let width = body.trim_start_matches('0').parse::<usize>().unwrap_or(0);
            let zero = body.starts_with('0');
            let n = v as i64;
            Some(if zero {
                format!("{n:0width$}")
            } else {
                format!("{n:width$}")
            })
        }
        "f" | "e" => {
            let prec = body
                .strip_prefix('.')
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(6);
            Some(if kind == "f" {
                super::py_fixed(v, prec)
            } else {
                super::py_exp(v, prec)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filepath_fields_format_like_python() {
        let logs = Logs::from([("val_loss".to_string(), 0.123456), ("acc".to_string(), 0.5)]);
        // Expected strings as Python's str.format gives them.
        assert_eq!(
            format_filepath("m-{epoch:02d}-{val_loss:.2f}.keras", 3, None, &logs).unwrap(),
            "m-03-0.12.keras"
        );
        assert_eq!(
            format_filepath("{epoch}-{acc}.keras", 12, None, &logs).unwrap(),
            "12-0.5.keras"
        );
        assert_eq!(
            format_filepath("{val_loss:.2e}{{x}}.keras", 1, None, &logs).unwrap(),
            "1.23e-01{x}.keras"
        );
        assert!(format_filepath("{nope}.keras", 1, None, &logs).is_err());
    }
}
