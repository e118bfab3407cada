//! Reuters newswire topics: 11,228 newswires labelled over 46 topics, each a sequence of word
//! indices (`keras.datasets.reuters`).
//!
//! Read from Keras's `reuters.npz` (downloaded from Keras's address when missing) and processed
//! exactly as Keras does, including its seeded shuffle (NumPy's `RandomState(seed)`, reproduced
//! here) and the train/test split at `int(len * (1 - test_split))`.
//!
//! ```no_run
//! use keras_datasets::reuters;
//! let ((x_train, y_train), (x_test, y_test)) =
//!     reuters::load_data(reuters::LoadArgs { num_words: Some(10_000), ..Default::default() })?;
//! assert_eq!(x_train.len(), 8982);
//! assert_eq!(x_test.len(), 2246);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use std::collections::HashMap;

use keras_tensor::{Device, Tensor};

use crate::cache::{hint_for, CacheDir};
use crate::checksums::expect_known;
use crate::error::{Error, Result};
use crate::imdb::word_index;
use crate::mt19937::{numpy_permutation, Mt19937};
use crate::npz::{member, read_npz};
use crate::sequences::{limit_vocabulary, offset, permute, remove_long};
use crate::SequenceData;

/// The arguments of Keras's `reuters.load_data`, with its defaults.
///
/// ```
/// let args = keras_datasets::reuters::LoadArgs::default();
/// assert_eq!((args.test_split, args.seed, args.index_from), (0.2, 113, 3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LoadArgs {
    /// Keep only the `num_words` most frequent words (others become `oov_char`). `None` (or
    /// `Some(0)`) keeps all.
    pub num_words: Option<usize>,
    /// Treat the `skip_top` most frequent words as out of vocabulary too.
    pub skip_top: usize,
    /// Drop the sequences of `maxlen` words or more (counting the start character). `None`
    /// (or `Some(0)`) keeps all.
    pub maxlen: Option<usize>,
    /// The fraction of the (shuffled) newswires that goes to the test split, in `[0, 1]`.
    pub test_split: f64,
    /// Seed of the shuffle (NumPy `RandomState`).
    pub seed: u32,
    /// The value that starts every sequence; `None` for none.
    pub start_char: Option<i64>,
    /// The value that replaces cut words; `None` to drop them instead.
    pub oov_char: Option<i64>,
    /// Added to every word index.
    pub index_from: i64,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            num_words: None,
            skip_top: 0,
            maxlen: None,
            test_split: 0.2,
            seed: 113,
            start_char: Some(1),
            oov_char: Some(2),
            index_from: 3,
        }
    }
}

/// Loads Reuters from [`datasets_dir`](crate::datasets_dir)`/reuters.npz`, downloading it
/// unless `KERAS_OFFLINE` is set.
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: sequences as `Vec<Vec<i64>>`, `int64` topic
/// labels `(n,)` in 0–45.
///
/// # Errors
/// [`Error::InvalidArgument`] for a `test_split` outside `[0, 1]`; [`Error::Missing`],
/// [`Error::Checksum`], [`Error::Format`] as for every dataset.
///
/// ```no_run
/// let ((x_train, y_train), _) = keras_datasets::reuters::load_data(Default::default())?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data(args: LoadArgs) -> Result<SequenceData> {
    load_data_from(CacheDir::default(), args)
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// let data = keras_datasets::reuters::load_data_from("/data/keras/datasets", Default::default())?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>, args: LoadArgs) -> Result<SequenceData> {
    if !(0.0..=1.0).contains(&args.test_split) {
        return Err(Error::InvalidArgument(format!(
            "Invalid `test_split` argument: {}. It must be between 0 and 1.",
            args.test_split
        )));
    }
    let cache = cache.into();
    let path = cache.path("reuters.npz");
    let known = expect_known("reuters.npz");
    let bytes = cache.read_known(known, || Error::Missing {
        dataset: "reuters",
        dir: cache.dir().to_path_buf(),
        files: vec!["reuters.npz".into()],
        hint: hint_for(&cache, &[known.url.unwrap_or_default()], cache.dir()),
    })?;
    let mut arrays = read_npz(&bytes, &path)?;
    let xs = member(&mut arrays, "x", &path)?.into_sequences(&path, "x")?;
    let ys = member(&mut arrays, "y", &path)?.into_i64(&path, "y")?;
    if xs.len() != ys.len() {
        return Err(Error::format(
            &path,
            format!("{} sequences for {} labels", xs.len(), ys.len()),
        ));
    }
    let mut rng = Mt19937::numpy(args.seed);
    let p = numpy_permutation(&mut rng, xs.len());
    let (xs, ys) = (permute(&xs, &p), permute(&ys, &p));
    let mut xs = offset(xs, args.start_char, args.index_from);
    let mut ys = ys;
    if let Some(m) = args.maxlen.filter(|&m| m > 0) {
        (xs, ys) = remove_long(m, xs, ys);
    }
    limit_vocabulary(&mut xs, args.num_words, args.skip_top, args.oov_char);
    // Python: int(len(xs) * (1 - test_split)), the same float operations.
    let idx = ((xs.len() as f64 * (1.0 - args.test_split)) as usize).min(xs.len());
    let x_test = xs.split_off(idx);
    let y_test = ys.split_off(idx);
    let cpu = Device::Cpu;
    let (nt, ns) = (ys.len(), y_test.len());
    Ok((
        (xs, Tensor::from_vec(ys, &[nt], &cpu)?),
        (x_test, Tensor::from_vec(y_test, &[ns], &cpu)?),
    ))
}

/// The word index of Reuters: word → index (before `index_from` is added), from
/// `reuters_word_index.json` (downloaded when missing unless `KERAS_OFFLINE` is set).
///
/// ```no_run
/// let index = keras_datasets::reuters::get_word_index()?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn get_word_index() -> Result<HashMap<String, i64>> {
    get_word_index_from(CacheDir::default())
}

/// [`get_word_index`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// let index = keras_datasets::reuters::get_word_index_from("/data/keras/datasets")?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn get_word_index_from(cache: impl Into<CacheDir>) -> Result<HashMap<String, i64>> {
    word_index(&cache.into(), "reuters", "reuters_word_index.json")
}

/// The topic names, indexed by label, as Keras's `reuters.get_label_names()`.
///
/// ```
/// let names = keras_datasets::reuters::get_label_names();
/// assert_eq!((names.len(), names[3]), (46, "earn"));
/// ```
pub fn get_label_names() -> [&'static str; 46] {
    [
        "cocoa",
        "grain",
        "veg-oil",
        "earn",
        "acq",
        "wheat",
        "copper",
        "housing",
        "money-supply",
        "coffee",
        "sugar",
        "trade",
        "reserves",
        "ship",
        "cotton",
        "carcass",
        "crude",
        "nat-gas",
        "cpi",
        "money-fx",
        "interest",
        "gnp",
        "meal-feed",
        "alum",
        "oilseed",
        "gold",
        "tin",
        "strategic-metal",
        "livestock",
        "retail",
        "ipi",
        "iron-steel",
        "rubber",
        "heat",
        "jobs",
        "lei",
        "bop",
        "zinc",
        "orange",
        "pet-chem",
        "dlr",
        "gas",
        "silver",
        "wpi",
        "hog",
        "lead",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imdb::tests::seqs;
    use crate::npz::tests::{npy_i64, npy_sequences, npz};
    use crate::testing::real_data_cache;

    /// Expected values printed by Keras 3.15.1's `reuters.load_data` on the same fixture.
    #[test]
    fn matches_keras_on_a_fixture() {
        let tmp = tempfile::tempdir().unwrap();
        let ys: Vec<i64> = (0..12).map(|i| (i * 13) % 46).collect();
        std::fs::write(
            tmp.path().join("reuters.npz"),
            npz(&[("x", npy_sequences(&seqs(12, 2))), ("y", npy_i64(&ys))]),
        )
        .unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let v = |s: &[&[i64]]| s.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        let ((x, y), (xt, yt)) = load_data_from(&cache, LoadArgs::default()).unwrap();
        assert_eq!(
            x,
            v(&[
                &[1, 10, 21, 9, 20, 8],
                &[1, 3, 14],
                &[1, 22, 10, 21, 9, 20],
                &[1, 15, 3],
                &[1, 12],
                &[1, 5, 16, 4],
                &[1, 13],
                &[1, 8, 19, 7, 18],
                &[1, 2]
            ])
        );
        assert_eq!(y.to_vec::<i64>().unwrap(), [6, 39, 25, 12, 13, 0, 5, 45, 32]);
        assert_eq!(xt, v(&[&[1, 6, 17, 5], &[1, 19, 7, 18, 6], &[1, 17, 5, 16]]));
        assert_eq!(yt.to_vec::<i64>().unwrap(), [38, 26, 19]);
        let args = LoadArgs {
            test_split: 0.5,
            seed: 1,
            num_words: Some(12),
            maxlen: Some(5),
            ..Default::default()
        };
        let ((x, y), (xt, yt)) = load_data_from(&cache, args).unwrap();
        assert_eq!(x, v(&[&[1, 3, 2], &[1, 6, 2, 5], &[1, 2], &[1, 2]]));
        assert_eq!(y.to_vec::<i64>().unwrap(), [39, 38, 13, 32]);
        assert_eq!(xt, v(&[&[1, 5, 2, 4], &[1, 2], &[1, 2, 3], &[1, 2, 5, 2]]));
        assert_eq!(yt.to_vec::<i64>().unwrap(), [0, 5, 12, 19]);
        let e = load_data_from(
            &cache,
            LoadArgs {
                test_split: 1.5,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("test_split"), "{e}");
    }

    #[test]
    fn real_data() {
        let Some(cache) = real_data_cache("reuters", &[&["reuters.npz"]]) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(&cache, LoadArgs::default()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!((x.len(), xt.len()), (8982, 2246));
        assert_eq!((y.shape(), yt.shape()), (&[8982][..], &[2246][..]));
        assert!(y.to_vec::<i64>().unwrap().iter().all(|l| (0..46).contains(l)));
        println!("real-data test ran: reuters (loaded in {secs:.3} s)");
    }
}
