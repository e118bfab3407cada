//! CIFAR-100: 50,000 32x32 colour training images and 10,000 test images, labelled over 100
//! fine-grained classes grouped into 20 coarse-grained ones (`keras.datasets.cifar100`).
//!
//! Where the files are looked for, in order, under the datasets folder:
//! 1. `cifar-100-binary/{train,test}.bin`: the canonical binary layout (each record: 1 coarse
//!    label byte, 1 fine label byte, then 1024 R, 1024 G, 1024 B bytes);
//! 2. Keras's cache of the Python version, `cifar-100-python-target/cifar-100-python/{train,test}`
//!    (Keras 3) or `cifar-100-python/` (older Keras);
//! 3. `cifar-100-binary.tar.gz`, checked against its SHA-256 and extracted into 1; when absent
//!    it is downloaded from <https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz> (169 MB).
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = keras_datasets::cifar100::load_data("fine")?;
//! assert_eq!(x_train.shape(), &[50000, 32, 32, 3]);
//! assert_eq!(y_train.shape(), &[50000, 1]);
//! assert_eq!(y_train.dtype(), keras_tensor::DType::I64);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use keras_tensor::{DType, Device, Tensor};

use crate::cache::CacheDir;
use crate::checksums::expect_known;
use crate::cifar::{extract, read_bin, read_py_batch, Images};
use crate::error::{Error, Result};
use crate::TrainTest;

const BIN_DIR: &str = "cifar-100-binary";
const BIN_FILES: [&str; 2] = ["train.bin", "test.bin"];
const PY_DIRS: [&str; 2] = ["cifar-100-python-target/cifar-100-python", "cifar-100-python"];
const PY_FILES: [&str; 2] = ["train", "test"];
const ARCHIVE: &str = "cifar-100-binary.tar.gz";

/// Loads CIFAR-100 from [`datasets_dir`](crate::datasets_dir), extracting or downloading the
/// canonical binary tarball when the batches are not there (unless `KERAS_OFFLINE` is set).
///
/// # Arguments
/// * `label_mode`: `"fine"` (100 classes) or `"coarse"` (20 superclasses).
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: `uint8` images `(50000, 32, 32, 3)` and
/// `(10000, 32, 32, 3)`, `int64` labels `(50000, 1)` and `(10000, 1)` (Keras builds them from
/// Python lists, hence `int64`, where CIFAR-10's are `uint8`).
///
/// # Errors
/// [`Error::InvalidArgument`] for another `label_mode`; [`Error::Missing`] when nothing is
/// found and nothing can be downloaded; [`Error::Format`] / [`Error::Checksum`] for corrupt
/// files.
///
/// ```no_run
/// let ((_, y_coarse), _) = keras_datasets::cifar100::load_data("coarse")?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data(label_mode: &str) -> Result<TrainTest> {
    load_data_from(CacheDir::default(), label_mode)
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// let data = keras_datasets::cifar100::load_data_from("/tmp/kh/datasets", "fine")?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>, label_mode: &str) -> Result<TrainTest> {
    let (label_index, classes) = match label_mode {
        "fine" => (1usize, 100u8),
        "coarse" => (0, 20),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "`label_mode` must be one of \"fine\", \"coarse\". Received: label_mode={label_mode}."
            )))
        }
    };
    let cache = cache.into();
    let verify = cache.checks_digests();
    let bin_dir = cache.path(BIN_DIR);
    let lacking: Vec<&str> = BIN_FILES
        .iter()
        .copied()
        .filter(|f| !bin_dir.join(f).is_file())
        .collect();
    let python = if lacking.is_empty() {
        None
    } else {
        python_cache(&cache)
    };
    let (mut train, mut test) = (Images::default(), Images::default());
    match python {
        Some(py) => {
            let key = if label_index == 1 {
                "fine_labels"
            } else {
                "coarse_labels"
            };
            read_py_batch(&py.join("train"), key, classes, &mut train)?;
            read_py_batch(&py.join("test"), key, classes, &mut test)?;
            if verify && (train.n != 50_000 || test.n != 10_000) {
                return Err(Error::format(
                    py,
                    format!(
                        "{} training and {} test images, expected 50000 and 10000",
                        train.n, test.n
                    ),
                ));
            }
        }
        None => {
            if !lacking.is_empty() {
                let known = expect_known(ARCHIVE);
                match cache.archive(known)? {
                    Some(archive) => extract(&archive, BIN_DIR, &lacking, &bin_dir)?,
                    None => return Err(missing(&cache, &lacking, known.url.unwrap_or_default())),
                }
            }
            let records = |n: usize| verify.then_some(n);
            read_bin(
                &bin_dir.join("train.bin"),
                2,
                label_index,
                records(50_000),
                classes,
                &mut train,
            )?;
            read_bin(
                &bin_dir.join("test.bin"),
                2,
                label_index,
                records(10_000),
                classes,
                &mut test,
            )?;
        }
    }
    let cpu = Device::Cpu;
    let tensors = |im: Images| -> Result<(Tensor, Tensor)> {
        Ok((
            Tensor::from_vec(im.x, &[im.n, 32, 32, 3], &cpu)?,
            Tensor::from_vec(im.y, &[im.n, 1], &cpu)?.cast(DType::I64)?,
        ))
    };
    Ok((tensors(train)?, tensors(test)?))
}

fn python_cache(cache: &CacheDir) -> Option<std::path::PathBuf> {
    PY_DIRS
        .iter()
        .map(|d| cache.path(d))
        .find(|d| PY_FILES.iter().all(|f| d.join(f).is_file()))
}

fn missing(cache: &CacheDir, lacking: &[&str], url: &str) -> Error {
    let dir = cache.dir().display();
    Error::Missing {
        dataset: "cifar100",
        dir: cache.dir().to_path_buf(),
        files: lacking.iter().map(|f| format!("{BIN_DIR}/{f}")).collect(),
        hint: format!(
            "Put the binary batches there (extract {url} in {dir}), or the tarball itself as {dir}/{ARCHIVE}, \
             or Keras's Python batches in {dir}/{}{}",
            PY_DIRS[0],
            if cache.is_offline() {
                "; or unset KERAS_OFFLINE (or use CacheDir::offline(false)) to download the tarball."
            } else {
                "."
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cifar::tests::{py_batch_pickle, record, tar_gz};
    use crate::testing::{label_histogram, real_data_cache};
    use std::fs;

    #[test]
    fn fine_and_coarse_labels_from_binary_records() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join(BIN_DIR);
        fs::create_dir_all(&d).unwrap();
        let mut train = record(&[3, 42], 0);
        train.extend(record(&[19, 99], 5));
        fs::write(d.join("train.bin"), train).unwrap();
        fs::write(d.join("test.bin"), record(&[0, 7], 9)).unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (xt, yt)) = load_data_from(&cache, "fine").unwrap();
        assert_eq!((x.shape(), x.dtype()), (&[2, 32, 32, 3][..], DType::U8));
        assert_eq!((y.shape(), y.dtype()), (&[2, 1][..], DType::I64));
        assert_eq!(y.to_vec::<i64>().unwrap(), [42, 99]);
        assert_eq!(
            (xt.shape(), yt.to_vec::<i64>().unwrap()),
            (&[1, 32, 32, 3][..], vec![7])
        );
        assert_eq!(x.to_vec::<u8>().unwrap()[3 * 1024..3 * 1024 + 3], [5, 6, 7]);
        let ((_, y), _) = load_data_from(&cache, "coarse").unwrap();
        assert_eq!(y.to_vec::<i64>().unwrap(), [3, 19]);
        let e = load_data_from(&cache, "medium").unwrap_err().to_string();
        assert!(e.contains("`label_mode` must be one of"), "{e}");
        // A fine label out of range.
        fs::write(d.join("test.bin"), record(&[0, 100], 9)).unwrap();
        assert!(load_data_from(&cache, "fine")
            .unwrap_err()
            .to_string()
            .contains("label 100"));
    }

    #[test]
    fn tarball_python_cache_and_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let e = load_data_from(CacheDir::new(tmp.path()).offline(true), "fine")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cifar-100-binary/train.bin") && e.contains(ARCHIVE),
            "{e}"
        );
        let (a, b) = (record(&[1, 11], 0), record(&[2, 22], 0));
        fs::write(
            tmp.path().join(ARCHIVE),
            tar_gz(&[
                ("cifar-100-binary/train.bin", &a),
                ("cifar-100-binary/test.bin", &b),
            ]),
        )
        .unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((_, y), (_, yt)) = load_data_from(&cache, "fine").unwrap();
        assert_eq!(
            (y.to_vec::<i64>().unwrap(), yt.to_vec::<i64>().unwrap()),
            (vec![11], vec![22])
        );
        // Keras's Python cache, used when the binary batches are absent.
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join(PY_DIRS[0]);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("train"),
            py_batch_pickle("fine_labels", &[(64, record(&[], 0)), (3, record(&[], 1))]),
        )
        .unwrap();
        fs::write(
            d.join("test"),
            py_batch_pickle("fine_labels", &[(99, record(&[], 2))]),
        )
        .unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (_, yt)) = load_data_from(&cache, "fine").unwrap();
        assert_eq!(x.shape(), [2, 32, 32, 3]);
        assert_eq!(
            (y.to_vec::<i64>().unwrap(), yt.to_vec::<i64>().unwrap()),
            (vec![64, 3], vec![99])
        );
        assert!(load_data_from(&cache, "coarse")
            .unwrap_err()
            .to_string()
            .contains("coarse_labels"));
    }

    #[test]
    fn real_data() {
        let Some(cache) = real_data_cache(
            "cifar100",
            &[
                &["cifar-100-binary/train.bin", "cifar-100-binary/test.bin"],
                &[
                    "cifar-100-python-target/cifar-100-python/train",
                    "cifar-100-python-target/cifar-100-python/test",
                ],
                &[ARCHIVE],
            ],
        ) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(&cache, "fine").unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            (x.shape(), xt.shape()),
            (&[50000, 32, 32, 3][..], &[10000, 32, 32, 3][..])
        );
        let hist = |t: &Tensor| {
            let v: Vec<u8> = t.to_vec::<i64>().unwrap().iter().map(|&l| l as u8).collect();
            label_histogram(&v, 100)
        };
        assert_eq!(hist(&y), vec![500; 100]);
        assert_eq!(hist(&yt), vec![100; 100]);
        let ((_, yc), _) = load_data_from(&cache, "coarse").unwrap();
        let v: Vec<u8> = yc.to_vec::<i64>().unwrap().iter().map(|&l| l as u8).collect();
        assert_eq!(label_histogram(&v, 20), vec![2500; 20]);
        println!("real-data test ran: cifar100 (loaded in {secs:.3} s)");
    }
}
