//! The error type of this crate.

use std::path::PathBuf;

/// What can go wrong while finding, downloading, checking or reading a dataset file.
///
/// Every message names the file or folder involved and what to do about it. The error
/// converts into [`keras_tensor::Error`] (as `InvalidArgument` with op `"keras.datasets"`), so
/// code that returns `keras_tensor::Result` can use `?` on it.
///
/// ```
/// use keras_datasets::{mnist, CacheDir};
/// let empty = tempfile::tempdir()?;
/// let err = mnist::load_data_from(CacheDir::new(empty.path()).offline(true)).unwrap_err();
/// assert!(matches!(err, keras_datasets::Error::Missing { .. }));
/// assert!(err.to_string().contains("mnist.npz"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Files of a dataset are not in the cache folder, and were not downloaded (offline, or
    /// the dataset has no download).
    #[error("{dataset}: {} not found in {}. {hint}", .files.join(", "), .dir.display())]
    Missing {
        /// The dataset (`"mnist"`, `"cifar10"`, …).
        dataset: &'static str,
        /// The folder the files were looked for in.
        dir: PathBuf,
        /// The missing files, relative to `dir`.
        files: Vec<String>,
        /// Where to get them, or how to let this crate download them.
        hint: String,
    },
    /// A file's digest is not the recorded digest of the canonical file.
    #[error(
        "checksum mismatch for {}: expected {algorithm} {expected}, found {actual}. The file is \
         truncated, corrupt or not the canonical one: {}",
        .path.display(),
        match .url {
            Some(u) => format!("delete it to have it downloaded again from {u} (or put that file there)"),
            None => "replace it with the canonical file".to_string(),
        }
    )]
    Checksum {
        /// The file checked.
        path: PathBuf,
        /// `"sha256"` or `"md5"`.
        algorithm: &'static str,
        /// The recorded digest (hex).
        expected: String,
        /// The digest of the file found (hex).
        actual: String,
        /// Where the canonical file comes from.
        url: Option<String>,
    },
    /// A file does not have the layout its format requires (bad magic, wrong sizes, truncated
    /// or corrupt compression, unsupported contents).
    #[error("{}: {msg}", .path.display())]
    Format {
        /// The file read.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A download failed.
    #[error("downloading {url} failed: {msg}. Download it by hand into {}, or set KERAS_OFFLINE=1 to never download", .dir.display())]
    Download {
        /// The address.
        url: String,
        /// The folder the file was to go to.
        dir: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// An argument is out of its range.
    #[error("{0}")]
    InvalidArgument(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] keras_tensor::Error),
}

impl Error {
    pub(crate) fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<Error> for keras_tensor::Error {
    fn from(e: Error) -> keras_tensor::Error {
        match e {
            Error::Tensor(t) => t,
            other => keras_tensor::Error::InvalidArgument {
                op: "keras.datasets",
                msg: other.to_string(),
            },
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
