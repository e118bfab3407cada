//! MNIST handwritten digits: 60,000 28x28 grayscale training images of the 10 digits and
//! 10,000 test images (`keras.datasets.mnist`).
//!
//! Read from Keras's `mnist.npz` in the datasets folder or, when that is absent, from the four
//! canonical IDX files in its `mnist/` subfolder (`train-images-idx3-ubyte.gz`,
//! `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`).
//! When neither is there, `mnist.npz` is downloaded from Keras's address.
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = keras_datasets::mnist::load_data()?;
//! assert_eq!(x_train.shape(), &[60000, 28, 28]);
//! assert_eq!(y_train.shape(), &[60000]);
//! assert_eq!(x_test.shape(), &[10000, 28, 28]);
//! assert_eq!(y_test.dtype(), keras_tensor::DType::U8);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use std::path::Path;

use keras_tensor::{DType, Device, Tensor};

use crate::cache::{hint_for, CacheDir};
use crate::checksums::expect_known;
use crate::error::{Error, Result};
use crate::idx::read_idx_gz;
use crate::npz::{member, read_npz};
use crate::TrainTest;

const IDX_FILES: [&str; 4] = [
    "mnist/train-images-idx3-ubyte.gz",
    "mnist/train-labels-idx1-ubyte.gz",
    "mnist/t10k-images-idx3-ubyte.gz",
    "mnist/t10k-labels-idx1-ubyte.gz",
];

/// Loads MNIST from [`datasets_dir`](crate::datasets_dir) (downloading `mnist.npz` when
/// nothing is there and `KERAS_OFFLINE` is not set).
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: `uint8` images `(60000, 28, 28)` and
/// `(10000, 28, 28)` with pixels 0–255, `uint8` labels `(60000,)` and `(10000,)` in 0–9.
///
/// # Errors
/// [`Error::Missing`] when the files are absent and cannot be downloaded; [`Error::Checksum`]
/// or [`Error::Format`] for a corrupt file.
///
/// ```no_run
/// let ((x_train, _), _) = keras_datasets::mnist::load_data()?;
/// let x = x_train.cast(keras_tensor::DType::F32)?; // then scale by 1/255
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_data() -> Result<TrainTest> {
    load_data_from(CacheDir::default())
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// use keras_datasets::{mnist, CacheDir};
/// let ((x_train, _), _) = mnist::load_data_from("/data/keras/datasets")?;
/// let ((x_train, _), _) = mnist::load_data_from(CacheDir::new("/data").offline(true))?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>) -> Result<TrainTest> {
    let cache = cache.into();
    if !cache.path("mnist.npz").is_file() && IDX_FILES.iter().all(|f| cache.path(f).is_file()) {
        return load_idx_set(&cache, "mnist", &IDX_FILES);
    }
    let known = expect_known("mnist.npz");
    let missing = || {
        let present: Vec<&str> = IDX_FILES
            .iter()
            .copied()
            .filter(|f| cache.path(f).is_file())
            .collect();
        let mut hint = format!(
            "Put Keras's mnist.npz ({}) there, or the four canonical IDX files {} in {}",
            known.url.unwrap_or_default(),
            IDX_FILES.map(|f| f.trim_start_matches("mnist/")).join(", "),
            cache.path("mnist").display()
        );
        if !present.is_empty() {
            hint.push_str(&format!(" (only {} of them found)", present.len()));
        }
        if cache.is_offline() {
            hint.push_str("; or unset KERAS_OFFLINE (or use CacheDir::offline(false)) to download mnist.npz");
        }
        hint.push('.');
        Error::Missing {
            dataset: "mnist",
            dir: cache.dir().to_path_buf(),
            files: vec!["mnist.npz".into()],
            hint,
        }
    };
    let path = cache.path("mnist.npz");
    let bytes = cache.read_known(known, missing)?;
    let mut arrays = read_npz(&bytes, &path)?;
    let mut get =
        |name: &str| -> Result<Tensor> { member(&mut arrays, name, &path)?.into_tensor(&path, name) };
    let (x_train, y_train, x_test, y_test) =
        (get("x_train")?, get("y_train")?, get("x_test")?, get("y_test")?);
    check_split(&x_train, &y_train, &path, "train")?;
    check_split(&x_test, &y_test, &path, "test")?;
    Ok(((x_train, y_train), (x_test, y_test)))
}

/// Checks `uint8` images `(n, 28, 28)` and `uint8` labels `(n,)` in 0–9.
fn check_split(x: &Tensor, y: &Tensor, path: &Path, split: &str) -> Result<()> {
    let ok = x.dtype() == DType::U8
        && y.dtype() == DType::U8
        && x.rank() == 3
        && x.shape()[1..] == [28, 28]
        && y.shape() == [x.shape()[0]];
    if !ok {
        return Err(Error::format(
            path,
            format!(
                "{split} arrays are {} {:?} and {} {:?}, expected uint8 (n, 28, 28) and uint8 (n,)",
                x.dtype(),
                x.shape(),
                y.dtype(),
                y.shape()
            ),
        ));
    }
    check_labels(&y.to_vec::<u8>()?, 10, path)
}

pub(crate) fn check_labels(y: &[u8], classes: u8, path: &Path) -> Result<()> {
    match y.iter().position(|&l| l >= classes) {
        Some(i) => Err(Error::format(
            path,
            format!("label {} at index {i} is outside 0..{classes}", y[i]),
        )),
        None => Ok(()),
    }
}

/// Reads the four IDX files of an MNIST-like set (train images, train labels, test images,
/// test labels), each checked against its recorded digest.
pub(crate) fn load_idx_set(cache: &CacheDir, dataset: &'static str, files: &[&str; 4]) -> Result<TrainTest> {
    let read = |i: usize, ndims: usize| -> Result<(Vec<usize>, Vec<u8>, std::path::PathBuf)> {
        let known = expect_known(files[i]);
        let path = cache.path(files[i]);
        let missing = || {
            let lacking: Vec<&str> = files
                .iter()
                .copied()
                .filter(|f| !cache.path(f).is_file())
                .collect();
            let urls: Vec<&str> = lacking.iter().filter_map(|f| expect_known(f).url).collect();
            let into = path.parent().unwrap_or(cache.dir());
            Error::Missing {
                dataset,
                dir: cache.dir().to_path_buf(),
                files: lacking.iter().map(|f| f.to_string()).collect(),
                hint: hint_for(cache, &urls, into),
            }
        };
        let gz = cache.read_known(known, missing)?;
        let (dims, data) = read_idx_gz(&gz, ndims, &path)?;
        Ok((dims, data, path))
    };
    let split = |images: usize, labels: usize| -> Result<(Tensor, Tensor)> {
        let (ld, l, lpath) = read(labels, 1)?;
        let (xd, x, xpath) = read(images, 3)?;
        if xd[1..] != [28, 28] {
            return Err(Error::format(
                &xpath,
                format!("images are {}x{}, expected 28x28", xd[1], xd[2]),
            ));
        }
        if xd[0] != ld[0] {
            return Err(Error::format(
                &xpath,
                format!("{} images but {} labels in {}", xd[0], ld[0], lpath.display()),
            ));
        }
        check_labels(&l, 10, &lpath)?;
        Ok((
            Tensor::from_vec(x, &xd, &Device::Cpu)?,
            Tensor::from_vec(l, &ld, &Device::Cpu)?,
        ))
    };
    Ok((split(0, 1)?, split(2, 3)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::tests::idx_gz;
    use crate::npz::tests::{npy, npz};
    use crate::testing::{label_histogram, real_data_cache};

    pub(crate) fn write_idx_fixture(dir: &Path, sub: &str) {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        let img: Vec<u8> = (0..3 * 784).map(|i| (i % 251) as u8).collect();
        std::fs::write(d.join("train-images-idx3-ubyte.gz"), idx_gz(&[3, 28, 28], &img)).unwrap();
        std::fs::write(d.join("train-labels-idx1-ubyte.gz"), idx_gz(&[3], &[5, 0, 4])).unwrap();
        std::fs::write(
            d.join("t10k-images-idx3-ubyte.gz"),
            idx_gz(&[1, 28, 28], &img[..784]),
        )
        .unwrap();
        std::fs::write(d.join("t10k-labels-idx1-ubyte.gz"), idx_gz(&[1], &[7])).unwrap();
    }

    #[test]
    fn idx_fixture_loads_with_keras_shapes() {
        let tmp = tempfile::tempdir().unwrap();
        write_idx_fixture(tmp.path(), "mnist");
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        assert_eq!((x.shape(), x.dtype()), (&[3, 28, 28][..], DType::U8));
        assert_eq!((y.shape(), y.dtype()), (&[3][..], DType::U8));
        assert_eq!(y.to_vec::<u8>().unwrap(), [5, 0, 4]);
        assert_eq!(xt.shape(), [1, 28, 28]);
        assert_eq!(yt.to_vec::<u8>().unwrap(), [7]);
        assert_eq!(x.to_vec::<u8>().unwrap()[783], (783 % 251) as u8);
        // With digests checked, the fixture is not the canonical file.
        let e = load_data_from(cache.verify_checksums(true)).unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{e}");
    }

    #[test]
    fn npz_is_preferred_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        write_idx_fixture(tmp.path(), "mnist");
        let x: Vec<u8> = vec![9; 2 * 784];
        let bytes = npz(&[
            ("x_train", npy("|u1", &[2, 28, 28], &x)),
            ("y_train", npy("|u1", &[2], &[1, 2])),
            ("x_test", npy("|u1", &[1, 28, 28], &x[..784])),
            ("y_test", npy("|u1", &[1], &[3])),
        ]);
        std::fs::write(tmp.path().join("mnist.npz"), &bytes).unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (_, yt)) = load_data_from(&cache).unwrap();
        assert_eq!(x.shape(), [2, 28, 28]);
        assert_eq!(y.to_vec::<u8>().unwrap(), [1, 2]);
        assert_eq!(yt.to_vec::<u8>().unwrap(), [3]);
        // Wrong dtype inside the archive.
        let bad = npz(&[
            ("x_train", npy("<f8", &[1, 28, 28], &vec![0; 784 * 8])),
            ("y_train", npy("|u1", &[1], &[1])),
            ("x_test", npy("|u1", &[1, 28, 28], &vec![0; 784])),
            ("y_test", npy("|u1", &[1], &[3])),
        ]);
        std::fs::write(tmp.path().join("mnist.npz"), &bad).unwrap();
        let e = load_data_from(&cache).unwrap_err().to_string();
        assert!(e.contains("expected uint8 (n, 28, 28)"), "{e}");
    }

    #[test]
    fn missing_offline_names_files_and_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let e = load_data_from(CacheDir::new(tmp.path()).offline(true)).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Missing { .. }));
        for want in [
            "mnist.npz",
            "train-images-idx3-ubyte.gz",
            "KERAS_OFFLINE",
            &tmp.path().display().to_string(),
        ] {
            assert!(msg.contains(want), "{want} not in {msg}");
        }
    }

    #[test]
    fn corrupt_idx_files_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        write_idx_fixture(tmp.path(), "mnist");
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let f = tmp.path().join("mnist/train-images-idx3-ubyte.gz");
        let gz = std::fs::read(&f).unwrap();
        std::fs::write(&f, &gz[..gz.len() / 2]).unwrap();
        let e = load_data_from(&cache).unwrap_err().to_string();
        assert!(
            e.contains("train-images-idx3-ubyte.gz") && e.contains("truncated or corrupt"),
            "{e}"
        );
        // Labels and images disagree.
        write_idx_fixture(tmp.path(), "mnist");
        std::fs::write(
            tmp.path().join("mnist/train-labels-idx1-ubyte.gz"),
            idx_gz(&[2], &[1, 2]),
        )
        .unwrap();
        let e = load_data_from(&cache).unwrap_err().to_string();
        assert!(e.contains("3 images but 2 labels"), "{e}");
        // A label out of range.
        std::fs::write(
            tmp.path().join("mnist/train-labels-idx1-ubyte.gz"),
            idx_gz(&[3], &[1, 2, 10]),
        )
        .unwrap();
        let e = load_data_from(&cache).unwrap_err().to_string();
        assert!(e.contains("label 10"), "{e}");
    }

    #[test]
    fn real_data() {
        let Some(cache) = real_data_cache("mnist", &[&["mnist.npz"], &IDX_FILES]) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(x.shape(), [60000, 28, 28]);
        assert_eq!(xt.shape(), [10000, 28, 28]);
        assert_eq!((x.dtype(), y.dtype()), (DType::U8, DType::U8));
        let y = y.to_vec::<u8>().unwrap();
        let yt = yt.to_vec::<u8>().unwrap();
        assert_eq!(
            label_histogram(&y, 10),
            [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
        );
        assert_eq!(
            label_histogram(&yt, 10),
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        assert_eq!(y[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        assert_eq!(yt[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        let sum = |t: &Tensor| t.to_vec::<u8>().unwrap().iter().map(|&v| v as u64).sum::<u64>();
        assert_eq!(sum(&x), 1_567_298_545);
        assert_eq!(sum(&xt), 264_923_200);
        println!(
            "real-data test ran: mnist (loaded in {secs:.3} s from {})",
            cache.dir().display()
        );
    }
}
