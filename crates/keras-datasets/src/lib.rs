//! Keras's `keras.datasets` for keras-rs: the classic datasets from their canonical files, as
//! [`keras_tensor::Tensor`]s with Keras's shapes and dtypes, plus Keras's data utilities
//! ([`utils`]).
//!
//! | module | Keras | returns |
//! |---|---|---|
//! | [`mnist`] | `keras.datasets.mnist` | `uint8` (60000, 28, 28), `uint8` (60000,); test 10,000 |
//! | [`fashion_mnist`] | `keras.datasets.fashion_mnist` | as MNIST |
//! | [`cifar10`] | `keras.datasets.cifar10` | `uint8` (50000, 32, 32, 3), `uint8` (50000, 1); test 10,000 |
//! | [`cifar100`] | `keras.datasets.cifar100` | `uint8` (50000, 32, 32, 3), `int64` (50000, 1) |
//! | [`imdb`] | `keras.datasets.imdb` | `Vec<Vec<i64>>` sequences, `int64` (25000,) |
//! | [`reuters`] | `keras.datasets.reuters` | `Vec<Vec<i64>>` sequences, `int64` labels |
//! | [`boston_housing`] | `keras.datasets.boston_housing` | `float64` (404, 13), `float64` (404,) |
//! | [`synthetic_reviews`] | none: made here from a seed | IMDB's form, or strings; `int64` labels |
//!
//! # Where the files live
//! In [`datasets_dir`]: `$KERAS_HOME/datasets`, or `~/.keras/datasets`, laid out as Keras lays
//! them out (`mnist.npz`, `fashion-mnist/*.gz`, `imdb.npz`, …), so a cache that Keras filled
//! serves here too. MNIST is also read from the four IDX files in `mnist/`; CIFAR from the
//! canonical binary batches (`cifar-10-batches-bin/`, `cifar-100-binary/`) or Keras's pickled
//! Python batches.
//!
//! A missing file is downloaded from the address Keras uses (CIFAR: the binary tarball from
//! the CIFAR page), with a progress bar, into a temporary file that is renamed once complete.
//! **`KERAS_OFFLINE=1`** (any value but `0`, `false`, `no` or empty) turns downloads off;
//! then a missing file is an [`Error::Missing`] that names the files and the folder to put them
//! in. Every canonical file is checked against its recorded digest ([`checksums`]) before
//! use; a corrupt or truncated file is an error (checksum mismatch, bad magic, wrong size),
//! never a panic.
//!
//! Every `load_data` has a `load_data_from` that takes the datasets folder (or a [`CacheDir`]
//! with other settings) instead of reading `KERAS_HOME`.
//!
//! ```no_run
//! use keras_datasets::{cifar10, utils};
//! let ((x_train, y_train), (x_test, y_test)) = cifar10::load_data()?;
//! let x_train = x_train.cast(keras_tensor::DType::F32)?; // then scale by 1/255
//! let y_train = utils::to_categorical(&y_train, Some(10))?; // (50000, 10)
//! # Ok::<(), keras_datasets::Error>(())
//! ```

pub mod boston_housing;
mod cache;
pub mod checksums;
mod cifar;
pub mod cifar10;
pub mod cifar100;
mod error;
pub mod fashion_mnist;
mod idx;
pub mod imdb;
pub mod mnist;
mod mt19937;
mod npz;
/// Single NumPy `.npy` arrays as tensors: [`load_npy`](npy::load_npy) reads what `np.save`
/// writes (`float32`, `float64`, `int32`, `int64`, `uint8`, `bool`), and
/// [`save_npy`](npy::save_npy) writes what `np.load` reads, byte for byte as NumPy writes it.
///
/// ```
/// use keras_datasets::npy::{load_npy, save_npy};
/// let dir = tempfile::tempdir()?;
/// let x = keras_tensor::Tensor::new(&[0.25f32, 0.5, 0.75], &[3, 1])?;
/// save_npy(dir.path().join("x.npy"), &x)?; // np.load("x.npy") gives a (3, 1) float32 array
/// assert_eq!(load_npy(dir.path().join("x.npy"))?.shape(), &[3, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod npy {
    pub use crate::npz::{load_npy, save_npy};
}
mod pickle;
pub mod reuters;
mod sequences;
pub mod synthetic_reviews;
#[cfg(test)]
mod testing;
pub mod utils;

pub use cache::FileCheck;
pub use cache::{datasets_dir, offline_from_env, CacheDir};
pub use error::{Error, Result};

use keras_tensor::Tensor;

/// `((x_train, y_train), (x_test, y_test))`, as Keras's `load_data` returns.
///
/// ```no_run
/// let data: keras_datasets::TrainTest = keras_datasets::mnist::load_data()?;
/// let ((x_train, y_train), (x_test, y_test)) = data;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub type TrainTest = ((Tensor, Tensor), (Tensor, Tensor));

/// Ragged sequences of word indices, one per sample (Keras's object arrays of lists).
///
/// ```
/// let s: keras_datasets::Sequences = vec![vec![1, 14, 22], vec![1, 5]];
/// let x = keras_datasets::utils::pad_sequences(&s, Default::default())?;
/// assert_eq!(x.shape(), &[2, 3]);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub type Sequences = Vec<Vec<i64>>;

/// `((x_train, y_train), (x_test, y_test))` with sequences for `x`.
///
/// ```no_run
/// let ((x_train, y_train), _): keras_datasets::SequenceData =
///     keras_datasets::imdb::load_data(Default::default())?;
/// assert_eq!(x_train.len(), y_train.shape()[0]);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub type SequenceData = ((Sequences, Tensor), (Sequences, Tensor));
