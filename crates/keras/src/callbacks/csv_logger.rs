//! [`CSVLogger`]: stream epoch results to a CSV file.

use super::{py_repr, Callback, CallbackContext};
use crate::trainers::Logs;
use keras_tensor::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

/// Writes one CSV row per epoch, as Keras's `keras.callbacks.CSVLogger`.
///
/// The columns are `epoch` then the first epoch's log keys sorted (when none starts with
/// `val_`, a `val_` column for each is added as well, as Keras does); a key missing from a
/// later epoch is written `NA`. Values are written as Python writes floats, rows end with
/// `\r\n` (Python's `csv` "excel" dialect), and the file is flushed after every row so it is
/// complete up to the last finished epoch even if training is interrupted.
///
/// Defaults as Keras: `separator = ","`, `append = false` (an existing file is truncated;
/// with `append`, rows are added and the header is written only when the file is empty).
///
/// ```
/// use keras::callbacks::{Callback, CallbackContext, CSVLogger, Params};
/// use keras::trainers::Logs;
///
/// let path = std::env::temp_dir().join(format!("keras_csv_doc_{}.csv", std::process::id()));
/// let mut cb = CSVLogger::new(&path);
/// let mut ctx = CallbackContext::new(vec![], Params::default(), None);
/// cb.on_train_begin(&mut ctx, &Logs::new())?;
/// for (epoch, loss) in [0.5, 0.25].into_iter().enumerate() {
///     let mut logs = Logs::from([("loss".to_string(), loss), ("val_loss".to_string(), loss + 0.125)]);
///     cb.on_epoch_end(&mut ctx, epoch, &mut logs)?;
/// }
/// cb.on_train_end(&mut ctx, &Logs::new())?;
/// let text = std::fs::read_to_string(&path).unwrap();
/// assert_eq!(text, "epoch,loss,val_loss\r\n0,0.5,0.625\r\n1,0.25,0.375\r\n");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct CSVLogger {
    filename: PathBuf,
    separator: String,
    append: bool,
    file: Option<File>,
    keys: Option<Vec<String>>,
    append_header: bool,
}

fn io_error(path: &std::path::Path, what: &str, e: std::io::Error) -> Error {
    Error::InvalidArgument {
        op: "CSVLogger",
        msg: format!("cannot {what} {}: {e}", path.display()),
    }
}

impl CSVLogger {
    /// A logger writing to `filename` (`separator = ","`, `append = false`).
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        CSVLogger {
            filename: filename.into(),
            separator: ",".into(),
            append: false,
            file: None,
            keys: None,
            append_header: true,
        }
    }

    /// The field separator (`","`).
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }

    /// Append to an existing file instead of overwriting it (false).
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    /// The file written.
    pub fn filename(&self) -> &std::path::Path {
        &self.filename
    }

    /// Python's `csv` QUOTE_MINIMAL: quote a field holding the separator, a quote or a line
    /// break, doubling inner quotes.
    fn field(&self, s: &str) -> String {
        let needs =
            s.contains(['"', '\r', '\n']) || (!self.separator.is_empty() && s.contains(&*self.separator));
        if needs {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }

    fn write_row(&mut self, fields: &[String]) -> Result<()> {
        let line: Vec<String> = fields.iter().map(|f| self.field(f)).collect();
        let line = line.join(&self.separator) + "\r\n";
        let path = self.filename.clone();
        let file = self.file.as_mut().ok_or_else(|| Error::InvalidArgument {
            op: "CSVLogger",
            msg: "on_epoch_end called before on_train_begin (the file is not open)".into(),
        })?;
        file.write_all(line.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| io_error(&path, "write to", e))
    }
}

impl Callback for CSVLogger {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        let path = self.filename.clone();
        self.file = None;
        let file = if self.append {
            self.append_header = true;
            if path.exists() {
                let f = File::open(&path).map_err(|e| io_error(&path, "read", e))?;
                let mut first = String::new();
                BufReader::new(f)
                    .read_line(&mut first)
                    .map_err(|e| io_error(&path, "read", e))?;
                self.append_header = first.is_empty();
            }
            OpenOptions::new().append(true).create(true).open(&path)
        } else {
            File::create(&path)
        };
        self.file = Some(file.map_err(|e| io_error(&path, "open", e))?);
        self.keys = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, _ctx: &mut CallbackContext, epoch: usize, logs: &mut Logs) -> Result<()> {
        let header = self.keys.is_none();
        if header {
            // Logs are sorted by key already.
            let mut keys: Vec<String> = logs.keys().cloned().collect();
            if !keys.iter().any(|k| k.starts_with("val_")) {
                let val: Vec<String> = keys.iter().map(|k| format!("val_{k}")).collect();
                keys.extend(val);
            }
            self.keys = Some(keys);
        }
        let keys = self.keys.clone().unwrap_or_default();
        if header && self.append_header {
            let mut h = vec!["epoch".to_string()];
            h.extend(keys.iter().cloned());
            self.write_row(&h)?;
        }
        let mut row = vec![epoch.to_string()];
        row.extend(
            keys.iter()
                .map(|k| logs.get(k).map_or_else(|| "NA".to_string(), |v| py_repr(*v))),
        );
        self.write_row(&row)
    }

    fn on_train_end(&mut self, _ctx: &mut CallbackContext, _logs: &Logs) -> Result<()> {
        // Dropping the file closes it; every row was flushed already.
        self.file = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx_with, logs};
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("keras_csv_{}_{name}.csv", std::process::id()))
    }

    fn fit(cb: &mut CSVLogger, epochs: &[Logs]) {
        let mut ctx = ctx_with(vec![], None);
        cb.on_train_begin(&mut ctx, &Logs::new()).unwrap();
        for (e, l) in epochs.iter().enumerate() {
            cb.on_epoch_end(&mut ctx, e, &mut l.clone()).unwrap();
        }
        cb.on_train_end(&mut ctx, &Logs::new()).unwrap();
    }

    // Expected files are what keras.callbacks.CSVLogger (Keras 3.15) writes for the same logs.

    #[test]
    fn header_rows_and_missing_values() {
        let path = tmp("basic");
        let mut cb = CSVLogger::new(&path);
        fit(
            &mut cb,
            &[
                logs(&[("loss", 0.6931471824645996), ("accuracy", 0.5), ("val_loss", 0.1)]),
                logs(&[("loss", 1e-5), ("accuracy", 0.75), ("learning_rate", 0.001)]),
            ],
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "epoch,accuracy,loss,val_loss\r\n0,0.5,0.6931471824645996,0.1\r\n1,0.75,1e-05,NA\r\n"
        );
        // No val_ key: val_ columns are added and filled with NA.
        let mut cb = CSVLogger::new(&path).separator(";");
        fit(&mut cb, &[logs(&[("loss", 0.25), ("mae", 2.0)])]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "epoch;loss;mae;val_loss;val_mae\r\n0;0.25;2.0;NA;NA\r\n");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn append_writes_the_header_once() {
        let path = tmp("append");
        let _ = std::fs::remove_file(&path);
        let mut cb = CSVLogger::new(&path).append(true);
        fit(&mut cb, &[logs(&[("loss", 1.0), ("val_loss", 2.0)])]);
        fit(&mut cb, &[logs(&[("loss", 0.5), ("val_loss", 1.5)])]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "epoch,loss,val_loss\r\n0,1.0,2.0\r\n0,0.5,1.5\r\n");
        // Without append the file is overwritten.
        let mut cb = CSVLogger::new(&path);
        fit(
            &mut cb,
            &[logs(&[("loss", f64::NAN), ("val_loss", f64::INFINITY)])],
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "epoch,loss,val_loss\r\n0,nan,inf\r\n");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn quoting_and_errors() {
        let path = tmp("quote");
        let mut cb = CSVLogger::new(&path);
        fit(&mut cb, &[logs(&[("a,b", 1.0), ("val_x", 2.0)])]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "epoch,\"a,b\",val_x\r\n0,1.0,2.0\r\n");
        std::fs::remove_file(&path).unwrap();
        let mut cb = CSVLogger::new(std::env::temp_dir().join("no_such_dir_keras_rs/x.csv"));
        let mut ctx = ctx_with(vec![], None);
        let e = cb.on_train_begin(&mut ctx, &Logs::new()).unwrap_err().to_string();
        assert!(e.contains("no_such_dir_keras_rs"), "{e}");
        assert!(CSVLogger::new(&path)
            .on_epoch_end(&mut ctx, 0, &mut Logs::new())
            .is_err());
    }
}
