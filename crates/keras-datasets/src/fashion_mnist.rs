//! Fashion-MNIST: 60,000 28x28 grayscale training images of 10 kinds of clothing and 10,000
//! test images (`keras.datasets.fashion_mnist`), a drop-in replacement for MNIST.
//!
//! Read from the four canonical IDX files in the `fashion-mnist/` subfolder of the datasets
//! folder, where Keras keeps them; missing ones are downloaded from Keras's addresses.
//!
//! | Label | Description |
//! |:-----:|-------------|
//! | 0 | T-shirt/top |
//! | 1 | Trouser |
//! | 2 | Pullover |
//! | 3 | Dress |
//! | 4 | Coat |
//! | 5 | Sandal |
//! | 6 | Shirt |
//! | 7 | Sneaker |
//! | 8 | Bag |
//! | 9 | Ankle boot |
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = keras_datasets::fashion_mnist::load_data()?;
//! assert_eq!(x_train.shape(), &[60000, 28, 28]);
//! assert_eq!(y_test.shape(), &[10000]);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use crate::cache::CacheDir;
use crate::error::Result;
use crate::mnist::load_idx_set;
use crate::TrainTest;

const FILES: [&str; 4] = [
    "fashion-mnist/train-images-idx3-ubyte.gz",
    "fashion-mnist/train-labels-idx1-ubyte.gz",
    "fashion-mnist/t10k-images-idx3-ubyte.gz",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz",
];

/// The class names, indexed by label.
///
/// ```
/// assert_eq!(keras_datasets::fashion_mnist::CLASS_NAMES[9], "Ankle boot");
/// ```
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Loads Fashion-MNIST from [`datasets_dir`](crate::datasets_dir)`/fashion-mnist`,
/// downloading missing files unless `KERAS_OFFLINE` is set.
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: `uint8` images `(60000, 28, 28)` and
/// `(10000, 28, 28)`, `uint8` labels `(60000,)` and `(10000,)` in 0–9.
///
/// # Errors
/// [`Error::Missing`](crate::Error::Missing) when files are absent and cannot be downloaded;
/// [`Error::Checksum`](crate::Error::Checksum) or [`Error::Format`](crate::Error::Format) for
/// a corrupt file.
///
/// ```no_run
/// let ((x_train, y_train), _) = keras_datasets::fashion_mnist::load_data()?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data() -> Result<TrainTest> {
    load_data_from(CacheDir::default())
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// let data = keras_datasets::fashion_mnist::load_data_from("/data/keras/datasets")?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>) -> Result<TrainTest> {
    load_idx_set(&cache.into(), "fashion_mnist", &FILES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{label_histogram, real_data_cache};
    use crate::Error;
    use keras_tensor::DType;

    #[test]
    fn fixture_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("fashion-mnist");
        std::fs::create_dir_all(&d).unwrap();
        let img = vec![3u8; 2 * 784];
        let gz = crate::idx::tests::idx_gz;
        std::fs::write(d.join("train-images-idx3-ubyte.gz"), gz(&[2, 28, 28], &img)).unwrap();
        std::fs::write(d.join("train-labels-idx1-ubyte.gz"), gz(&[2], &[9, 0])).unwrap();
        std::fs::write(d.join("t10k-images-idx3-ubyte.gz"), gz(&[1, 28, 28], &img[..784])).unwrap();
        std::fs::write(d.join("t10k-labels-idx1-ubyte.gz"), gz(&[1], &[2])).unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        assert_eq!((x.shape(), x.dtype()), (&[2, 28, 28][..], DType::U8));
        assert_eq!(y.to_vec::<u8>().unwrap(), [9, 0]);
        assert_eq!(xt.shape(), [1, 28, 28]);
        assert_eq!(yt.to_vec::<u8>().unwrap(), [2]);
        // One file missing, offline: the error names it and Keras's address for it.
        std::fs::remove_file(d.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let e = load_data_from(&cache).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Missing { .. }));
        assert!(
            msg.contains("fashion-mnist/t10k-labels-idx1-ubyte.gz") && msg.contains("tf-keras-datasets"),
            "{msg}"
        );
    }

    #[test]
    fn real_data() {
        let Some(cache) = real_data_cache("fashion_mnist", &[&FILES]) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            (x.shape(), xt.shape()),
            (&[60000, 28, 28][..], &[10000, 28, 28][..])
        );
        let y = y.to_vec::<u8>().unwrap();
        let yt = yt.to_vec::<u8>().unwrap();
        assert_eq!(label_histogram(&y, 10), [6000; 10]);
        assert_eq!(label_histogram(&yt, 10), [1000; 10]);
        assert_eq!(y[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
        assert_eq!(yt[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
        let sum: u64 = x.to_vec::<u8>().unwrap().iter().map(|&v| v as u64).sum();
        // Training mean / 255 = 0.286041 (the well-known 0.2860).
        assert!(
            (sum as f64 / (60000.0 * 784.0 * 255.0) - 0.286041).abs() < 5e-7,
            "{sum}"
        );
        assert_eq!(sum, 3_431_114_169); // NumPy on the same files
        println!("real-data test ran: fashion_mnist (loaded in {secs:.3} s), pixel sum {sum}");
    }
}
