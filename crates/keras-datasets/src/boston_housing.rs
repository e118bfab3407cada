//! Boston Housing prices: 506 houses with 13 attributes each, the target the median value in
//! k$ (`keras.datasets.boston_housing`).
//!
//! **Warning** (Keras's): this dataset has an ethical problem: its authors included a variable,
//! "B", that may appear to assume that racial self-segregation influences house prices. Use it
//! only to illustrate ethical issues in data science and machine learning.
//!
//! Read from Keras's `boston_housing.npz` (downloaded from Keras's address when missing),
//! shuffled with NumPy's `RandomState(seed)` as Keras does (reproduced here) and split at
//! `int(len * (1 - test_split))`.
//!
//! ```no_run
//! let ((x_train, y_train), (x_test, y_test)) = keras_datasets::boston_housing::load_data(Default::default())?;
//! assert_eq!(x_train.shape(), &[404, 13]);
//! assert_eq!(y_test.shape(), &[102]);
//! assert_eq!(x_train.dtype(), keras_tensor::DType::F64);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use keras_tensor::{Device, Tensor};

use crate::cache::{hint_for, CacheDir};
use crate::checksums::expect_known;
use crate::error::{Error, Result};
use crate::mt19937::{numpy_permutation, Mt19937};
use crate::npz::{member, read_npz, NpyData};
use crate::TrainTest;

/// The arguments of Keras's `boston_housing.load_data`, with its defaults.
///
/// ```
/// let args = keras_datasets::boston_housing::LoadArgs::default();
/// assert_eq!((args.test_split, args.seed), (0.2, 113));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LoadArgs {
    /// The fraction of the (shuffled) data kept for the test split, in `[0, 1)`.
    pub test_split: f64,
    /// Seed of the shuffle (NumPy `RandomState`).
    pub seed: u32,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            test_split: 0.2,
            seed: 113,
        }
    }
}

/// Loads Boston Housing from [`datasets_dir`](crate::datasets_dir)`/boston_housing.npz`,
/// downloading it unless `KERAS_OFFLINE` is set.
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: `float64` attributes `(n, 13)` and `float64`
/// targets `(n,)`; with the defaults 404 training and 102 test rows.
///
/// # Errors
/// [`Error::InvalidArgument`] for a `test_split` outside `[0, 1)`; [`Error::Missing`],
/// [`Error::Checksum`], [`Error::Format`] as for every dataset.
///
/// ```no_run
/// use keras_datasets::boston_housing::{load_data, LoadArgs};
/// let data = load_data(LoadArgs { test_split: 0.1, ..Default::default() })?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data(args: LoadArgs) -> Result<TrainTest> {
    load_data_from(CacheDir::default(), args)
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// let data = keras_datasets::boston_housing::load_data_from("/data/keras/datasets", Default::default())?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>, args: LoadArgs) -> Result<TrainTest> {
    if !(0.0..1.0).contains(&args.test_split) {
        return Err(Error::InvalidArgument(format!(
            "Invalid `test_split` argument: {}. It must be between 0 and 1 (exclusive of 1).",
            args.test_split
        )));
    }
    let cache = cache.into();
    let path = cache.path("boston_housing.npz");
    let known = expect_known("boston_housing.npz");
    let bytes = cache.read_known(known, || Error::Missing {
        dataset: "boston_housing",
        dir: cache.dir().to_path_buf(),
        files: vec!["boston_housing.npz".into()],
        hint: hint_for(&cache, &[known.url.unwrap_or_default()], cache.dir()),
    })?;
    let mut arrays = read_npz(&bytes, &path)?;
    let (x, y) = (member(&mut arrays, "x", &path)?, member(&mut arrays, "y", &path)?);
    let (NpyData::F64(xv), NpyData::F64(yv)) = (&x.data, &y.data) else {
        return Err(Error::format(&path, "`x` and `y` must be float64 arrays"));
    };
    let n = x.len();
    if x.shape.len() != 2 || y.shape != [n] {
        return Err(Error::format(
            &path,
            format!(
                "`x` is {:?} and `y` {:?}, expected (n, k) and (n,)",
                x.shape, y.shape
            ),
        ));
    }
    let k = x.shape[1];
    let mut rng = Mt19937::numpy(args.seed);
    let p = numpy_permutation(&mut rng, n);
    let idx = (n as f64 * (1.0 - args.test_split)) as usize;
    let rows = |ids: &[usize]| -> Vec<f64> {
        ids.iter()
            .flat_map(|&i| xv[i * k..(i + 1) * k].iter().copied())
            .collect()
    };
    let vals = |ids: &[usize]| -> Vec<f64> { ids.iter().map(|&i| yv[i]).collect() };
    let (tr, te) = p.split_at(idx.min(n));
    let cpu = Device::Cpu;
    Ok((
        (
            Tensor::from_vec(rows(tr), &[tr.len(), k], &cpu)?,
            Tensor::from_vec(vals(tr), &[tr.len()], &cpu)?,
        ),
        (
            Tensor::from_vec(rows(te), &[te.len(), k], &cpu)?,
            Tensor::from_vec(vals(te), &[te.len()], &cpu)?,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npz::tests::{npy_f64, npz};
    use crate::testing::real_data_cache;
    use keras_tensor::DType;

    /// Expected values printed by Keras 3.15.1's `boston_housing.load_data` on the same
    /// fixture: `x[i, j] = 13 i + j`, `y[i] = i / 2`, 10 rows.
    #[test]
    fn matches_keras_on_a_fixture() {
        let tmp = tempfile::tempdir().unwrap();
        let x: Vec<f64> = (0..130).map(|v| v as f64).collect();
        let y: Vec<f64> = (0..10).map(|i| i as f64 * 0.5).collect();
        std::fs::write(
            tmp.path().join("boston_housing.npz"),
            npz(&[("x", npy_f64(&x, &[10, 13])), ("y", npy_f64(&y, &[10]))]),
        )
        .unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let col0 = |t: &Tensor| {
            t.to_vec::<f64>()
                .unwrap()
                .chunks(13)
                .map(|r| r[0])
                .collect::<Vec<_>>()
        };
        let ((x, y), (xt, yt)) = load_data_from(&cache, LoadArgs::default()).unwrap();
        assert_eq!(
            (x.shape(), x.dtype(), xt.shape()),
            (&[8, 13][..], DType::F64, &[2, 13][..])
        );
        assert_eq!(col0(&x), [117.0, 39.0, 78.0, 13.0, 0.0, 91.0, 52.0, 104.0]);
        assert_eq!(
            y.to_vec::<f64>().unwrap(),
            [4.5, 1.5, 3.0, 0.5, 0.0, 3.5, 2.0, 4.0]
        );
        assert_eq!(col0(&xt), [26.0, 65.0]);
        assert_eq!(yt.to_vec::<f64>().unwrap(), [1.0, 2.5]);
        let ((x, y), (xt, yt)) = load_data_from(
            &cache,
            LoadArgs {
                test_split: 0.3,
                seed: 1,
            },
        )
        .unwrap();
        assert_eq!(col0(&x), [26.0, 117.0, 78.0, 52.0, 0.0, 39.0, 13.0]);
        assert_eq!(y.to_vec::<f64>().unwrap(), [1.0, 4.5, 3.0, 2.0, 0.0, 1.5, 0.5]);
        assert_eq!(col0(&xt), [91.0, 104.0, 65.0]);
        assert_eq!(yt.to_vec::<f64>().unwrap(), [3.5, 4.0, 2.5]);
        // Whole rows move together.
        assert_eq!(
            x.to_vec::<f64>().unwrap()[..13],
            (26..39).map(|v| v as f64).collect::<Vec<_>>()[..]
        );
        let e = load_data_from(
            &cache,
            LoadArgs {
                test_split: 1.0,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("exclusive of 1"), "{e}");
    }

    #[test]
    fn real_data() {
        let Some(cache) = real_data_cache("boston_housing", &[&["boston_housing.npz"]]) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(&cache, LoadArgs::default()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            (x.shape(), y.shape(), xt.shape(), yt.shape()),
            (&[404, 13][..], &[404][..], &[102, 13][..], &[102][..])
        );
        println!("real-data test ran: boston_housing (loaded in {secs:.3} s)");
    }
}
