//! Replacing a file so that a crash never leaves a half-written one: write a temporary file in
//! the same folder, flush it to disk, then rename it over the target (atomic on POSIX).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use keras_tensor::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::InvalidArgument {
        op: "keras.saving",
        msg: format!("{what} {}: {e}", path.display()),
    }
}

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a mix,
/// and a process killed mid-write leaves the old file as it was.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("keras-atomic-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("a.txt");
/// keras::saving::write_atomically(&path, b"one")?;
/// keras::saving::write_atomically(&path, b"two")?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"two");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When the folder cannot be written; the target is then untouched.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_error(path, "cannot write to", std::io::ErrorKind::InvalidInput.into()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_error(&tmp, "cannot create", e))?;
        f.write_all(bytes)
            .map_err(|e| io_error(&tmp, "cannot write", e))?;
        f.sync_all().map_err(|e| io_error(&tmp, "cannot flush", e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, "cannot replace", e))?;
        // Make the rename itself durable (best effort: not every platform can open a folder).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
