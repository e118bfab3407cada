//! CIFAR-10: 50,000 32x32 colour training images in 10 classes and 10,000 test images
//! (`keras.datasets.cifar10`).
//!
//! Where the files are looked for, in order, under the datasets folder:
//! 1. `cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`: the canonical binary layout
//!    (each record: 1 label byte, then 1024 R, 1024 G, 1024 B bytes);
//! 2. Keras's own cache of the Python version, `cifar-10-batches-py-target/cifar-10-batches-py/`
//!    (Keras 3) or `cifar-10-batches-py/` (older Keras), read with a pickle reader that only
//!    accepts NumPy arrays;
//! 3. `cifar-10-binary.tar.gz`, checked against its SHA-256 and extracted into 1; when absent
//!    it is downloaded from <https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz> (170 MB).
//!
//! The batch files have no published digests: they are checked for their exact size (10,000
//! records each) and label range; the tarball is checked against its SHA-256.
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = keras_datasets::cifar10::load_data()?;
//! assert_eq!(x_train.shape(), &[50000, 32, 32, 3]);
//! assert_eq!(y_train.shape(), &[50000, 1]);
//! assert_eq!(x_test.shape(), &[10000, 32, 32, 3]);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use std::path::Path;

use keras_tensor::{Device, Tensor};

use crate::cache::CacheDir;
use crate::checksums::expect_known;
use crate::cifar::{extract, read_bin, read_py_batch, Images};
use crate::error::{Error, Result};
use crate::TrainTest;

const BIN_DIR: &str = "cifar-10-batches-bin";
const BIN_FILES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];
const PY_DIRS: [&str; 2] = [
    "cifar-10-batches-py-target/cifar-10-batches-py",
    "cifar-10-batches-py",
];
const PY_FILES: [&str; 6] = [
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
];
const ARCHIVE: &str = "cifar-10-binary.tar.gz";

/// The class names, indexed by label.
///
/// ```
/// assert_eq!(keras_datasets::cifar10::CLASS_NAMES[3], "cat");
/// ```
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Loads CIFAR-10 from [`datasets_dir`](crate::datasets_dir), extracting or downloading the
/// canonical binary tarball when the batches are not there (unless `KERAS_OFFLINE` is set).
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: `uint8` images `(50000, 32, 32, 3)` and
/// `(10000, 32, 32, 3)` (channels last), `uint8` labels `(50000, 1)` and `(10000, 1)` in 0–9.
///
/// # Errors
/// [`Error::Missing`] when nothing is found and nothing can be downloaded; [`Error::Format`]
/// for a batch of the wrong size or with a label out of range; [`Error::Checksum`] for a
/// tarball that is not the canonical one.
///
/// ```no_run
/// let ((x_train, y_train), _) = keras_datasets::cifar10::load_data()?;
/// let x = x_train.cast(keras_tensor::DType::F32)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_data() -> Result<TrainTest> {
    load_data_from(CacheDir::default())
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// With [`CacheDir::verify_checksums`]`(false)`, batches of any whole number of records are
/// accepted (test fixtures, subsets).
///
/// ```no_run
/// let data = keras_datasets::cifar10::load_data_from("/tmp/kh/datasets")?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>) -> Result<TrainTest> {
    let cache = cache.into();
    let records = cache.checks_digests().then_some(10_000);
    let bin_dir = cache.path(BIN_DIR);
    let lacking: Vec<&str> = BIN_FILES
        .iter()
        .copied()
        .filter(|f| !bin_dir.join(f).is_file())
        .collect();
    if !lacking.is_empty() {
        if let Some(py) = PY_DIRS
            .iter()
            .map(|d| cache.path(d))
            .find(|d| PY_FILES.iter().all(|f| d.join(f).is_file()))
        {
            let (mut train, mut test) = (Images::default(), Images::default());
            for f in &PY_FILES[..5] {
                read_py_batch(&py.join(f), "labels", 10, &mut train)?;
            }
            read_py_batch(&py.join(PY_FILES[5]), "labels", 10, &mut test)?;
            return assemble(train, test, records, &py);
        }
        let known = expect_known(ARCHIVE);
        match cache.archive(known)? {
            Some(archive) => extract(&archive, BIN_DIR, &lacking, &bin_dir)?,
            None => {
                return Err(Error::Missing {
                    dataset: "cifar10",
                    dir: cache.dir().to_path_buf(),
                    files: lacking.iter().map(|f| format!("{BIN_DIR}/{f}")).collect(),
                    hint: format!(
                        "Put the binary batches there (extract {url} in {dir}), or the tarball itself as \
                         {dir}/{ARCHIVE}, or Keras's Python batches in {dir}/{}{}",
                        PY_DIRS[0],
                        if cache.is_offline() {
                            "; or unset KERAS_OFFLINE (or use CacheDir::offline(false)) to download the tarball."
                        } else {
                            "."
                        },
                        url = known.url.unwrap_or_default(),
                        dir = cache.dir().display(),
                    ),
                });
            }
        }
    }
    let (mut train, mut test) = (Images::default(), Images::default());
    for f in &BIN_FILES[..5] {
        read_bin(&bin_dir.join(f), 1, 0, records, 10, &mut train)?;
    }
    read_bin(&bin_dir.join(BIN_FILES[5]), 1, 0, records, 10, &mut test)?;
    assemble(train, test, records, &bin_dir)
}

/// The training and test images as Keras's tensors.
fn assemble(train: Images, test: Images, records: Option<usize>, dir: &Path) -> Result<TrainTest> {
    if let Some(r) = records {
        if train.n != 5 * r || test.n != r {
            return Err(Error::format(
                dir,
                format!(
                    "{} training and {} test images, expected {} and {r}",
                    train.n,
                    test.n,
                    5 * r
                ),
            ));
        }
    }
    let cpu = Device::Cpu;
    let tensors = |im: Images| -> Result<(Tensor, Tensor)> {
        Ok((
            Tensor::from_vec(im.x, &[im.n, 32, 32, 3], &cpu)?,
            Tensor::from_vec(im.y, &[im.n, 1], &cpu)?,
        ))
    };
    Ok((tensors(train)?, tensors(test)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cifar::tests::{py_batch_pickle, record, tar_gz};
    use crate::cifar::PIXELS;
    use crate::testing::{label_histogram, real_data_cache};
    use keras_tensor::DType;
    use std::fs;

    fn write_bin_fixture(dir: &std::path::Path) {
        let d = dir.join(BIN_DIR);
        fs::create_dir_all(&d).unwrap();
        for (i, f) in BIN_FILES.iter().enumerate() {
            let mut b = record(&[i as u8], 10 * i as u8);
            b.extend(record(&[9], 100));
            fs::write(d.join(f), b).unwrap();
        }
    }

    #[test]
    fn two_record_batches_load_channels_last() {
        let tmp = tempfile::tempdir().unwrap();
        write_bin_fixture(tmp.path());
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        assert_eq!((x.shape(), x.dtype()), (&[10, 32, 32, 3][..], DType::U8));
        assert_eq!((y.shape(), y.dtype()), (&[10, 1][..], DType::U8));
        assert_eq!(y.to_vec::<u8>().unwrap(), [0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
        assert_eq!(
            (xt.shape(), yt.to_vec::<u8>().unwrap()),
            (&[2, 32, 32, 3][..], vec![5, 9])
        );
        // Image 2 (batch 2, record 0): base 10, so pixel (0, 0) is RGB (10, 11, 12).
        let xv = x.to_vec::<u8>().unwrap();
        assert_eq!(xv[2 * PIXELS..2 * PIXELS + 3], [10, 11, 12]);
        // With checks on, 2-record batches are not the canonical 10,000.
        let e = load_data_from(cache.verify_checksums(true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the canonical batch has 10000"), "{e}");
    }

    #[test]
    fn missing_offline_names_files_and_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let e = load_data_from(CacheDir::new(tmp.path()).offline(true)).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Missing { .. }));
        for want in [
            "cifar-10-batches-bin/data_batch_1.bin",
            "cifar-10-binary.tar.gz",
            "KERAS_OFFLINE",
        ] {
            assert!(msg.contains(want), "{want} not in {msg}");
        }
    }

    #[test]
    fn tarball_is_extracted_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let recs: Vec<Vec<u8>> = (0..6).map(|i| record(&[i], i)).collect();
        let mut files: Vec<(String, &[u8])> = BIN_FILES
            .iter()
            .zip(&recs)
            .map(|(f, r)| (format!("{BIN_DIR}/{f}"), r.as_slice()))
            .collect();
        files.push((format!("{BIN_DIR}/batches.meta.txt"), b"airplane\n"));
        let named: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), *d)).collect();
        fs::write(tmp.path().join(ARCHIVE), tar_gz(&named)).unwrap();
        // Checked: the fixture tarball is not the canonical one.
        let e = load_data_from(CacheDir::new(tmp.path()).offline(true)).unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{e}");
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (_, yt)) = load_data_from(&cache).unwrap();
        assert_eq!(x.shape(), [5, 32, 32, 3]);
        assert_eq!(y.to_vec::<u8>().unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(yt.to_vec::<u8>().unwrap(), [5]);
        assert!(tmp.path().join(BIN_DIR).join("test_batch.bin").is_file());
        // A truncated tarball with the batches gone is an error, not a panic.
        fs::remove_dir_all(tmp.path().join(BIN_DIR)).unwrap();
        let full = fs::read(tmp.path().join(ARCHIVE)).unwrap();
        fs::write(tmp.path().join(ARCHIVE), &full[..full.len() / 3]).unwrap();
        assert!(load_data_from(&cache).is_err());
    }

    #[test]
    fn keras_python_cache_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join(PY_DIRS[0]);
        fs::create_dir_all(&d).unwrap();
        for (i, f) in PY_FILES.iter().enumerate() {
            let recs = vec![(i as u8, record(&[], i as u8)), (7, record(&[], 200))];
            fs::write(d.join(f), py_batch_pickle("labels", &recs)).unwrap();
        }
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        assert_eq!((x.shape(), y.shape()), (&[10, 32, 32, 3][..], &[10, 1][..]));
        assert_eq!(y.to_vec::<u8>().unwrap(), [0, 7, 1, 7, 2, 7, 3, 7, 4, 7]);
        assert_eq!(
            (xt.shape(), yt.to_vec::<u8>().unwrap()),
            (&[2, 32, 32, 3][..], vec![5, 7])
        );
        assert_eq!(x.to_vec::<u8>().unwrap()[2 * PIXELS..2 * PIXELS + 3], [1, 2, 3]);
    }

    #[test]
    fn real_data() {
        let bins: Vec<String> = BIN_FILES.iter().map(|f| format!("{BIN_DIR}/{f}")).collect();
        let bins: Vec<&str> = bins.iter().map(String::as_str).collect();
        let pys: Vec<String> = PY_FILES.iter().map(|f| format!("{}/{f}", PY_DIRS[0])).collect();
        let pys: Vec<&str> = pys.iter().map(String::as_str).collect();
        let Some(cache) = real_data_cache("cifar10", &[&bins, &pys, &[ARCHIVE]]) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(&cache).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!((x.shape(), y.shape()), (&[50000, 32, 32, 3][..], &[50000, 1][..]));
        assert_eq!(
            (xt.shape(), yt.shape()),
            (&[10000, 32, 32, 3][..], &[10000, 1][..])
        );
        assert_eq!((x.dtype(), y.dtype()), (DType::U8, DType::U8));
        assert_eq!(label_histogram(&y.to_vec::<u8>().unwrap(), 10), [5000; 10]);
        assert_eq!(label_histogram(&yt.to_vec::<u8>().unwrap(), 10), [1000; 10]);
        let xv = x.to_vec::<u8>().unwrap();
        let mean = xv.iter().map(|&v| v as u64).sum::<u64>() as f64 / xv.len() as f64 / 255.0;
        // The original's channel means (0.4914, 0.4822, 0.4465) average to 0.4734; the JPEG
        // re-encode in shared/datasets gives 0.4733.
        assert!((mean - 0.4734).abs() < 0.001, "mean {mean}");
        let yv = y.to_vec::<u8>().unwrap();
        let sum = |v: &[u8]| v.iter().map(|&p| p as u64).sum::<u64>();
        let red0: Vec<u8> = (0..4).map(|p| xv[p * 3]).collect();
        let which = if yv[..10] == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3] {
            // The canonical files (facts in shared/datasets/PROVENANCE.md).
            assert_eq!(red0, [59, 43, 50, 68]);
            assert_eq!(yt.to_vec::<u8>().unwrap()[0], 3);
            "canonical"
        } else if yv[..10] == [0, 5, 9, 7, 2, 4, 5, 2, 9, 6] {
            // shared/datasets' JPEG re-encode (prepare-cifar10); sums computed with NumPy.
            assert_eq!(red0, [241, 241, 240, 239]);
            assert_eq!(sum(&xv), 18_537_712_937);
            assert_eq!(sum(&xt.to_vec::<u8>().unwrap()), 3_732_740_007);
            "the JPEG re-encode of shared/datasets"
        } else {
            "an unknown copy"
        };
        println!("real-data test ran: cifar10 ({which}; loaded in {secs:.3} s), mean/255 {mean:.4}");
    }
}
