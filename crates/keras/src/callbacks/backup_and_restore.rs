//! [`BackupAndRestore`]: resume an interrupted `fit` from its last completed epoch.

use super::{Callback, CallbackContext};
use crate::saving::write_atomically;
use crate::trainers::Logs;
use keras_tensor::{Error, Result};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Backs the run up at the end of every epoch and restores it when `fit` starts again, as
/// Keras's `keras.callbacks.BackupAndRestore`: `backup_dir/latest.weights.h5` holds the
/// weights and the optimizer's state, `backup_dir/training_metadata.json` the next epoch.
/// When `fit` starts and a backup exists, the model and optimizer are restored and training
/// continues with that epoch. keras-rs also records the global random-seed counter, so a run
/// resumed after an interruption ends with the same weights as one that was not interrupted.
/// Both files are replaced atomically; the folder is removed when training ends normally
/// (`delete_checkpoint = true`, Keras's default).
///
/// ```no_run
/// use keras::callbacks::{shared, BackupAndRestore, CallbackRef};
/// let backup: Vec<CallbackRef> = vec![shared(BackupAndRestore::new("/tmp/backup"))];
/// // model.fit(&x, &y, FitArgs { epochs: 10, callbacks: backup, ..Default::default() })?;
/// ```
#[derive(Debug)]
pub struct BackupAndRestore {
    backup_dir: PathBuf,
    delete_checkpoint: bool,
    restored_epoch: Option<usize>,
}

impl BackupAndRestore {
    /// Backups in `backup_dir` (created when needed).
    pub fn new(backup_dir: impl Into<PathBuf>) -> Self {
        BackupAndRestore {
            backup_dir: backup_dir.into(),
            delete_checkpoint: true,
            restored_epoch: None,
        }
    }

    /// Keep the backup after training ends (`false`) or remove it (`true`, the default).
    pub fn delete_checkpoint(mut self, v: bool) -> Self {
        self.delete_checkpoint = v;
        self
    }

    /// The epoch training resumed at, if it resumed from a backup.
    pub fn restored_epoch(&self) -> Option<usize> {
        self.restored_epoch
    }

    fn weights_path(&self) -> PathBuf {
        self.backup_dir.join("latest.weights.h5")
    }

    fn metadata_path(&self) -> PathBuf {
        self.backup_dir.join("training_metadata.json")
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "BackupAndRestore",
        msg,
    }
}

impl Callback for BackupAndRestore {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext, _: &Logs) -> Result<()> {
        let (weights, meta) = (self.weights_path(), self.metadata_path());
        if !weights.exists() || !meta.exists() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&meta)
            .map_err(|e| invalid(format!("cannot read {}: {e}", meta.display())))?;
        let m: Value =
            serde_json::from_str(&text).map_err(|e| invalid(format!("{}: {e}", meta.display())))?;
        let epoch = m["epoch"]
            .as_u64()
            .ok_or_else(|| invalid(format!("{}: no \"epoch\" in {text}", meta.display())))?;
        ctx.model_state()?.load_weights(&weights)?;
        if let Some(s) = m["keras_rs_seed_state"].as_u64() {
            crate::random::set_seed_state(s);
        }
        ctx.set_initial_epoch(epoch as usize);
        self.restored_epoch = Some(epoch as usize);
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext, epoch: usize, _: &mut Logs) -> Result<()> {
        std::fs::create_dir_all(&self.backup_dir)
            .map_err(|e| invalid(format!("cannot create {}: {e}", self.backup_dir.display())))?;
        ctx.model_state()?.save_weights(self.weights_path())?;
        let meta =
            json!({"epoch": epoch + 1, "batch": 0, "keras_rs_seed_state": crate::random::seed_state()});
        write_atomically(&self.metadata_path(), meta.to_string().as_bytes())
    }

    fn on_train_end(&mut self, _: &mut CallbackContext, _: &Logs) -> Result<()> {
        if self.delete_checkpoint && self.backup_dir.exists() {
            std::fs::remove_dir_all(&self.backup_dir)
                .map_err(|e| invalid(format!("cannot remove {}: {e}", self.backup_dir.display())))?;
        }
        Ok(())
    }
}
