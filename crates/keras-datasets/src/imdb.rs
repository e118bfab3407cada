//! IMDB movie-review sentiment: 25,000 training and 25,000 test reviews labelled positive (1)
//! or negative (0), each a sequence of word indices (`keras.datasets.imdb`).
//!
//! Read from Keras's `imdb.npz` (downloaded from Keras's address when missing) and processed
//! exactly as Keras does: the same seeded shuffle (NumPy's `RandomState(seed)`, reproduced
//! here), start and out-of-vocabulary characters, index offset, length filter and vocabulary
//! limit. Words are indexed by frequency (`3` is the third most frequent word), offset by
//! `index_from`; `0` is padding, `1` the start, `2` out-of-vocabulary.
//!
//! ```no_run
//! use keras_datasets::{imdb, utils};
//! let ((x_train, y_train), (x_test, y_test)) =
//!     imdb::load_data(imdb::LoadArgs { num_words: Some(10_000), ..Default::default() })?;
//! assert_eq!(x_train.len(), 25_000);
//! assert_eq!(y_train.shape(), &[25_000]);
//! let x = utils::pad_sequences(&x_train, utils::PadArgs { maxlen: Some(200), ..Default::default() })?;
//! assert_eq!(x.shape(), &[25_000, 200]);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use std::collections::HashMap;

use keras_tensor::{Device, Tensor};

use crate::cache::{hint_for, CacheDir};
use crate::checksums::expect_known;
use crate::error::{Error, Result};
use crate::mt19937::{numpy_permutation, Mt19937};
use crate::npz::{member, read_npz};
use crate::sequences::{limit_vocabulary, offset, permute, remove_long};
use crate::SequenceData;

/// The arguments of Keras's `imdb.load_data`, with its defaults.
///
/// ```
/// let args = keras_datasets::imdb::LoadArgs::default();
/// assert_eq!((args.seed, args.start_char, args.oov_char, args.index_from), (113, Some(1), Some(2), 3));
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
            seed: 113,
            start_char: Some(1),
            oov_char: Some(2),
            index_from: 3,
        }
    }
}

/// Loads IMDB from [`datasets_dir`](crate::datasets_dir)`/imdb.npz`, downloading it unless
/// `KERAS_OFFLINE` is set.
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: the sequences as `Vec<Vec<i64>>` (ragged, as
/// Keras's object arrays) and `int64` labels `(n,)`.
///
/// # Errors
/// [`Error::Missing`], [`Error::Checksum`], [`Error::Format`] as for every dataset;
/// [`Error::InvalidArgument`] when `maxlen` leaves no sequence.
///
/// ```no_run
/// let ((x_train, y_train), _) = keras_datasets::imdb::load_data(Default::default())?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data(args: LoadArgs) -> Result<SequenceData> {
    load_data_from(CacheDir::default(), args)
}

/// [`load_data`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// use keras_datasets::imdb;
/// let data = imdb::load_data_from("/data/keras/datasets", imdb::LoadArgs { maxlen: Some(500), ..Default::default() })?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data_from(cache: impl Into<CacheDir>, args: LoadArgs) -> Result<SequenceData> {
    let cache = cache.into();
    let path = cache.path("imdb.npz");
    let known = expect_known("imdb.npz");
    let bytes = cache.read_known(known, || Error::Missing {
        dataset: "imdb",
        dir: cache.dir().to_path_buf(),
        files: vec!["imdb.npz".into()],
        hint: hint_for(&cache, &[known.url.unwrap_or_default()], cache.dir()),
    })?;
    let mut arrays = read_npz(&bytes, &path)?;
    let mut take = |name: &str| member(&mut arrays, name, &path);
    let x_train = take("x_train")?.into_sequences(&path, "x_train")?;
    let y_train = take("y_train")?.into_i64(&path, "y_train")?;
    let x_test = take("x_test")?.into_sequences(&path, "x_test")?;
    let y_test = take("y_test")?.into_i64(&path, "y_test")?;
    if x_train.len() != y_train.len() || x_test.len() != y_test.len() {
        return Err(Error::format(
            &path,
            format!(
                "{} training sequences for {} labels, {} test sequences for {} labels",
                x_train.len(),
                y_train.len(),
                x_test.len(),
                y_test.len()
            ),
        ));
    }
    let mut rng = Mt19937::numpy(args.seed);
    let p = numpy_permutation(&mut rng, x_train.len());
    let (x_train, y_train) = (permute(&x_train, &p), permute(&y_train, &p));
    let p = numpy_permutation(&mut rng, x_test.len());
    let (x_test, y_test) = (permute(&x_test, &p), permute(&y_test, &p));

    process(x_train, y_train, x_test, y_test, &args)
}

/// Keras's processing of IMDB's word-index sequences after the shuffle: `start_char` and
/// `index_from`, the `maxlen` filter, then the `skip_top..num_words` vocabulary over both
/// splits; labels as `int64` tensors. Also used by
/// [`synthetic_reviews`](crate::synthetic_reviews), which mirrors IMDB's form.
pub(crate) fn process(
    x_train: Vec<Vec<i64>>,
    y_train: Vec<i64>,
    x_test: Vec<Vec<i64>>,
    y_test: Vec<i64>,
    args: &LoadArgs,
) -> Result<SequenceData> {
    let mut x_train = offset(x_train, args.start_char, args.index_from);
    let mut x_test = offset(x_test, args.start_char, args.index_from);
    let (mut y_train, mut y_test) = (y_train, y_test);
    if let Some(m) = args.maxlen.filter(|&m| m > 0) {
        (x_train, y_train) = remove_long(m, x_train, y_train);
        (x_test, y_test) = remove_long(m, x_test, y_test);
        if x_train.is_empty() || x_test.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "After filtering for sequences shorter than maxlen={m}, no sequence was kept. Increase maxlen."
            )));
        }
    }
    let n_train = x_train.len();
    let mut xs = x_train;
    xs.extend(x_test);
    limit_vocabulary(&mut xs, args.num_words, args.skip_top, args.oov_char);
    let x_test = xs.split_off(n_train);
    let cpu = Device::Cpu;
    let (nt, ns) = (y_train.len(), y_test.len());
    Ok((
        (xs, Tensor::from_vec(y_train, &[nt], &cpu)?),
        (x_test, Tensor::from_vec(y_test, &[ns], &cpu)?),
    ))
}

/// The word index of IMDB: word → index (before `index_from` is added), from
/// `imdb_word_index.json` (downloaded when missing unless `KERAS_OFFLINE` is set).
///
/// ```no_run
/// let index = keras_datasets::imdb::get_word_index()?;
/// let the = index["the"]; // 1: the most frequent word; 4 in the sequences (index_from = 3)
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn get_word_index() -> Result<HashMap<String, i64>> {
    get_word_index_from(CacheDir::default())
}

/// [`get_word_index`] from another datasets folder, or with other [`CacheDir`] settings.
///
/// ```no_run
/// let index = keras_datasets::imdb::get_word_index_from("/data/keras/datasets")?;
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn get_word_index_from(cache: impl Into<CacheDir>) -> Result<HashMap<String, i64>> {
    word_index(&cache.into(), "imdb", "imdb_word_index.json")
}

pub(crate) fn word_index(
    cache: &CacheDir,
    dataset: &'static str,
    file: &str,
) -> Result<HashMap<String, i64>> {
    let known = expect_known(file);
    let path = cache.path(file);
    let bytes = cache.read_known(known, || Error::Missing {
        dataset,
        dir: cache.dir().to_path_buf(),
        files: vec![file.to_string()],
        hint: hint_for(cache, &[known.url.unwrap_or_default()], cache.dir()),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::format(&path, format!("not a JSON object of word indices: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::npz::tests::{npy_i64, npy_sequences, npz};
    use crate::testing::real_data_cache;
    use keras_tensor::DType;

    /// The fixture's sequences, as in the generating script:
    /// `[[(i*7 + j*11 + off) % 23 for j in range((i*3 + off) % 5 + 1)] for i in range(n)]`.
    pub(crate) fn seqs(n: i64, off: i64) -> Vec<Vec<i64>> {
        (0..n)
            .map(|i| {
                (0..(i * 3 + off) % 5 + 1)
                    .map(|j| (i * 7 + j * 11 + off) % 23)
                    .collect()
            })
            .collect()
    }

    fn fixture() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let y_train: Vec<i64> = (0..7).map(|i| (i * 5) % 2).collect();
        let y_test: Vec<i64> = (0..5).map(|i| (i * 3 + 1) % 2).collect();
        let bytes = npz(&[
            ("x_train", npy_sequences(&seqs(7, 0))),
            ("y_train", npy_i64(&y_train)),
            ("x_test", npy_sequences(&seqs(5, 1))),
            ("y_test", npy_i64(&y_test)),
        ]);
        std::fs::write(tmp.path().join("imdb.npz"), bytes).unwrap();
        tmp
    }

    type Expected = (Vec<Vec<i64>>, Vec<i64>, Vec<Vec<i64>>, Vec<i64>);

    fn check(dir: &std::path::Path, args: LoadArgs, want: Expected) {
        let cache = CacheDir::new(dir).offline(true).verify_checksums(false);
        let ((x, y), (xt, yt)) = load_data_from(cache, args.clone()).unwrap();
        assert_eq!(y.dtype(), DType::I64);
        let got = (x, y.to_vec::<i64>().unwrap(), xt, yt.to_vec::<i64>().unwrap());
        assert_eq!(got, want, "{args:?}");
    }

    /// Expected values printed by Keras 3.15.1's `imdb.load_data` on the same fixture
    /// (`get_file` patched to return its path).
    #[test]
    fn matches_keras_on_a_fixture() {
        let tmp = fixture();
        let v = |s: &[&[i64]]| s.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        check(
            tmp.path(),
            LoadArgs::default(),
            (
                v(&[
                    &[1, 10, 21, 9, 20],
                    &[1, 24, 12, 23, 11, 22],
                    &[1, 3],
                    &[1, 22, 10, 21, 9],
                    &[1, 17, 5],
                    &[1, 8, 19, 7],
                    &[1, 15],
                ]),
                vec![1, 1, 0, 0, 0, 0, 1],
                v(&[
                    &[1, 18, 6, 17],
                    &[1, 2],
                    &[1, 9, 20, 8, 19],
                    &[1, 11, 22, 10, 21, 9],
                    &[1, 4, 15],
                ]),
                vec![1, 0, 1, 0, 1],
            ),
        );
        check(
            tmp.path(),
            LoadArgs {
                num_words: Some(10),
                skip_top: 2,
                maxlen: Some(5),
                ..Default::default()
            },
            (
                v(&[&[2, 3], &[2, 2, 5], &[2, 8, 2, 7], &[2, 2]]),
                vec![0, 0, 0, 1],
                v(&[&[2, 2, 6, 2], &[2, 2], &[2, 4, 2]]),
                vec![1, 0, 1],
            ),
        );
        check(
            tmp.path(),
            LoadArgs {
                start_char: None,
                oov_char: None,
                index_from: 0,
                num_words: Some(15),
                ..Default::default()
            },
            (
                v(&[&[7, 6], &[9, 8], &[0], &[7, 6], &[14, 2], &[5, 4], &[12]]),
                vec![1, 1, 0, 0, 0, 0, 1],
                v(&[&[3, 14], &[], &[6, 5], &[8, 7, 6], &[1, 12]]),
                vec![1, 0, 1, 0, 1],
            ),
        );
        check(
            tmp.path(),
            LoadArgs {
                seed: 7,
                maxlen: Some(4),
                oov_char: None,
                skip_top: 4,
                ..Default::default()
            },
            (
                v(&[&[17, 5], &[15], &[]]),
                vec![0, 1, 0],
                v(&[&[], &[4, 15]]),
                vec![0, 1],
            ),
        );
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let e = load_data_from(
            cache,
            LoadArgs {
                maxlen: Some(1),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("Increase maxlen"), "{e}");
    }

    /// `imdb.npz` as NumPy 2.5.5 writes it (`np.savez`, object arrays pickled with protocol 4)
    /// for the same fixture, by the script that printed the expected values.
    const NUMPY_IMDB_NPZ_HEX: &str = concat!(
        "504b03042d0000000000000021004d7a8484ffffffffffffffff0b001400785f747261696e2e6e7079010010005701000000",
        "0000005701000000000000934e554d5059010076007b276465736372273a20277c4f272c2027666f727472616e5f6f726465",
        "72273a2046616c73652c20277368617065273a2028372c292c207d2020202020202020202020202020202020202020202020",
        "20202020202020202020202020202020202020202020202020202020202020202020202020200a800495cc00000000000000",
        "8c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d707994",
        "8c076e6461727261799493944b0085944301629487945294284b014b07859468038c0564747970659493948c024f38948988",
        "87945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94285d944b00615d94284b074b124b064b1165",
        "5d94284b0e4b02655d94284b154b094b144b084b13655d94284b054b104b04655d944b0c615d94284b134b074b124b066565",
        "7494622e504b03042d000000000000002100dc507650ffffffffffffffff0b001400795f747261696e2e6e707901001000b8",
        "00000000000000b800000000000000934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e",
        "5f6f72646572273a2046616c73652c20277368617065273a2028372c292c207d202020202020202020202020202020202020",
        "2020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000000",
        "0001000000000000000000000000000000010000000000000000000000000000000100000000000000000000000000000050",
        "4b03042d00000000000000210043b81565ffffffffffffffff0a001400785f746573742e6e70790100100046010000000000",
        "004601000000000000934e554d5059010076007b276465736372273a20277c4f272c2027666f727472616e5f6f7264657227",
        "3a2046616c73652c20277368617065273a2028352c292c207d20202020202020202020202020202020202020202020202020",
        "2020202020202020202020202020202020202020202020202020202020202020202020200a800495bb000000000000008c16",
        "6e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c07",
        "6e6461727261799493944b0085944301629487945294284b014b05859468038c0564747970659493948c024f389489888794",
        "5294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94285d94284b014b0c655d94284b084b134b074b12",
        "4b06655d94284b0f4b034b0e655d944b16615d94284b064b114b054b1065657494622e504b03042d00000000000000210098",
        "f335ceffffffffffffffff0a001400795f746573742e6e707901001000a800000000000000a800000000000000934e554d50",
        "59010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c2027736861",
        "7065273a2028352c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020",
        "202020202020202020202020202020202020202020200a010000000000000000000000000000000100000000000000000000",
        "00000000000100000000000000504b01022d032d0000000000000021004d7a848457010000570100000b0000000000000000",
        "000000800100000000785f747261696e2e6e7079504b01022d032d000000000000002100dc507650b8000000b80000000b00",
        "00000000000000000000800194010000795f747261696e2e6e7079504b01022d032d00000000000000210043b81565460100",
        "00460100000a0000000000000000000000800189020000785f746573742e6e7079504b01022d032d00000000000000210098",
        "f335cea8000000a80000000a000000000000000000000080010b040000795f746573742e6e7079504b050600000000040004",
        "00e2000000ef0400000000",
    );

    #[test]
    fn reads_the_file_numpy_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..NUMPY_IMDB_NPZ_HEX.len() / 2)
            .map(|i| u8::from_str_radix(&NUMPY_IMDB_NPZ_HEX[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        std::fs::write(tmp.path().join("imdb.npz"), bytes).unwrap();
        let v = |s: &[&[i64]]| s.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        check(
            tmp.path(),
            LoadArgs {
                num_words: Some(10),
                skip_top: 2,
                maxlen: Some(5),
                ..Default::default()
            },
            (
                v(&[&[2, 3], &[2, 2, 5], &[2, 8, 2, 7], &[2, 2]]),
                vec![0, 0, 0, 1],
                v(&[&[2, 2, 6, 2], &[2, 2], &[2, 4, 2]]),
                vec![1, 0, 1],
            ),
        );
    }

    #[test]
    fn word_index_and_errors() {
        let tmp = fixture();
        std::fs::write(
            tmp.path().join("imdb_word_index.json"),
            br#"{"the": 1, "and": 2}"#,
        )
        .unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true).verify_checksums(false);
        let idx = get_word_index_from(&cache).unwrap();
        assert_eq!((idx["the"], idx["and"]), (1, 2));
        // Checked, the fixture is not Keras's file (MD5).
        let e = get_word_index_from(cache.clone().verify_checksums(true))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected md5 bfafd718"), "{e}");
        std::fs::write(tmp.path().join("imdb_word_index.json"), b"{\"the\": ").unwrap();
        assert!(get_word_index_from(&cache)
            .unwrap_err()
            .to_string()
            .contains("JSON"));
        // Labels and sequences of different lengths.
        let bytes = npz(&[
            ("x_train", npy_sequences(&seqs(3, 0))),
            ("y_train", npy_i64(&[0, 1])),
            ("x_test", npy_sequences(&seqs(1, 0))),
            ("y_test", npy_i64(&[0])),
        ]);
        std::fs::write(tmp.path().join("imdb.npz"), bytes).unwrap();
        let e = load_data_from(&cache, LoadArgs::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 training sequences for 2 labels"), "{e}");
        // Offline and missing.
        let empty = tempfile::tempdir().unwrap();
        let e = load_data_from(CacheDir::new(empty.path()).offline(true), LoadArgs::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("imdb.npz not found") && e.contains("tf-keras-datasets/imdb.npz"),
            "{e}"
        );
    }

    #[test]
    fn real_data() {
        let Some(cache) = real_data_cache("imdb", &[&["imdb.npz"]]) else {
            return;
        };
        let t = std::time::Instant::now();
        let ((x, y), (xt, yt)) = load_data_from(
            &cache,
            LoadArgs {
                num_words: Some(10_000),
                ..Default::default()
            },
        )
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(
            (x.len(), xt.len(), y.shape(), yt.shape()),
            (25_000, 25_000, &[25_000][..], &[25_000][..])
        );
        assert!(x.iter().flatten().all(|&w| (1..10_000).contains(&w)));
        let pos: i64 = y.to_vec::<i64>().unwrap().iter().sum();
        assert_eq!(pos, 12_500);
        println!("real-data test ran: imdb (loaded in {secs:.3} s)");
    }
}
