//! The canonical dataset files: where each comes from and its recorded digest.
//!
//! Every file in [`KNOWN_FILES`] is checked against its digest before it is used (see
//! [`CacheDir::verify_checksums`](crate::CacheDir::verify_checksums)). The digests are SHA-256
//! except for the two word-index JSON files, for which Keras publishes only an MD5.
//!
//! ```
//! use keras_datasets::checksums::{known_file, Digest};
//! let f = known_file("mnist.npz").unwrap();
//! assert!(matches!(f.digest, Digest::Sha256(_)));
//! assert!(f.url.unwrap().ends_with("/mnist.npz"));
//! ```

/// A recorded digest of a file, as lowercase hex.
///
/// ```
/// use keras_datasets::checksums::Digest;
/// assert_eq!(Digest::Md5("00").algorithm(), "md5");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// SHA-256.
    Sha256(&'static str),
    /// MD5 (only where Keras publishes nothing else).
    Md5(&'static str),
}

impl Digest {
    /// `"sha256"` or `"md5"`.
    ///
    /// ```
    /// assert_eq!(keras_datasets::checksums::Digest::Sha256("00").algorithm(), "sha256");
    /// ```
    pub fn algorithm(&self) -> &'static str {
        match self {
            Digest::Sha256(_) => "sha256",
            Digest::Md5(_) => "md5",
        }
    }

    /// The hex digest.
    ///
    /// ```
    /// assert_eq!(keras_datasets::checksums::Digest::Md5("ab").hex(), "ab");
    /// ```
    pub fn hex(&self) -> &'static str {
        match self {
            Digest::Sha256(h) | Digest::Md5(h) => h,
        }
    }
}

/// One canonical file of a dataset.
///
/// ```
/// let f = keras_datasets::checksums::known_file("fashion-mnist/t10k-labels-idx1-ubyte.gz").unwrap();
/// assert_eq!(f.size, Some(5148));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct KnownFile {
    /// Path relative to the datasets folder (`$KERAS_HOME/datasets`), `/`-separated.
    pub path: &'static str,
    /// Where it is downloaded from, when this crate downloads it.
    pub url: Option<&'static str>,
    /// Its size in bytes, where recorded.
    pub size: Option<u64>,
    /// Its digest.
    pub digest: Digest,
    /// Where the digest was taken from.
    pub digest_source: &'static str,
}

macro_rules! keras_url {
    ($name:literal) => {
        Some(concat!(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            $name
        ))
    };
}

const SHARED: &str = "computed from the staged canonical file; equals TFDS url_checksums and the \
                      published MD5";
const KERAS_SRC: &str = "Keras 3.15 source (file_hash in keras/src/datasets)";
const TFDS: &str = "TFDS tensorflow_datasets/url_checksums (the page publishes MD5 only)";

/// Every file this crate knows, with its recorded digest.
///
/// ```
/// for f in keras_datasets::checksums::KNOWN_FILES {
///     assert!(f.digest.hex().chars().all(|c| c.is_ascii_hexdigit()));
/// }
/// ```
pub const KNOWN_FILES: &[KnownFile] = &[
    KnownFile {
        path: "mnist.npz",
        url: keras_url!("mnist.npz"),
        size: None,
        digest: Digest::Sha256("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
        digest_source: KERAS_SRC,
    },
    KnownFile {
        path: "mnist/train-images-idx3-ubyte.gz",
        url: None,
        size: Some(9_912_422),
        digest: Digest::Sha256("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "mnist/train-labels-idx1-ubyte.gz",
        url: None,
        size: Some(28_881),
        digest: Digest::Sha256("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "mnist/t10k-images-idx3-ubyte.gz",
        url: None,
        size: Some(1_648_877),
        digest: Digest::Sha256("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "mnist/t10k-labels-idx1-ubyte.gz",
        url: None,
        size: Some(4_542),
        digest: Digest::Sha256("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "fashion-mnist/train-labels-idx1-ubyte.gz",
        url: keras_url!("train-labels-idx1-ubyte.gz"),
        size: Some(29_515),
        digest: Digest::Sha256("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "fashion-mnist/train-images-idx3-ubyte.gz",
        url: keras_url!("train-images-idx3-ubyte.gz"),
        size: Some(26_421_880),
        digest: Digest::Sha256("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        url: keras_url!("t10k-labels-idx1-ubyte.gz"),
        size: Some(5_148),
        digest: Digest::Sha256("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "fashion-mnist/t10k-images-idx3-ubyte.gz",
        url: keras_url!("t10k-images-idx3-ubyte.gz"),
        size: Some(4_422_102),
        digest: Digest::Sha256("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        digest_source: SHARED,
    },
    KnownFile {
        path: "cifar-10-binary.tar.gz",
        url: Some("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),
        size: Some(170_052_171),
        digest: Digest::Sha256("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
        digest_source: TFDS,
    },
    KnownFile {
        path: "cifar-100-binary.tar.gz",
        url: Some("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"),
        size: Some(168_513_733),
        digest: Digest::Sha256("58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"),
        digest_source: TFDS,
    },
    KnownFile {
        path: "imdb.npz",
        url: keras_url!("imdb.npz"),
        size: None,
        digest: Digest::Sha256("69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"),
        digest_source: KERAS_SRC,
    },
    KnownFile {
        path: "imdb_word_index.json",
        url: keras_url!("imdb_word_index.json"),
        size: None,
        digest: Digest::Md5("bfafd718b763782e994055a2d397834f"),
        digest_source: KERAS_SRC,
    },
    KnownFile {
        path: "reuters.npz",
        url: keras_url!("reuters.npz"),
        size: None,
        digest: Digest::Sha256("d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"),
        digest_source: KERAS_SRC,
    },
    KnownFile {
        path: "reuters_word_index.json",
        url: keras_url!("reuters_word_index.json"),
        size: None,
        digest: Digest::Md5("4d44cc38712099c9e383dc6e5f11a921"),
        digest_source: KERAS_SRC,
    },
    KnownFile {
        path: "boston_housing.npz",
        url: keras_url!("boston_housing.npz"),
        size: None,
        digest: Digest::Sha256("f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"),
        digest_source: KERAS_SRC,
    },
];

/// The entry of [`KNOWN_FILES`] for a path relative to the datasets folder.
///
/// ```
/// assert!(keras_datasets::checksums::known_file("imdb.npz").is_some());
/// assert!(keras_datasets::checksums::known_file("nothing.npz").is_none());
/// ```
pub fn known_file(path: &str) -> Option<&'static KnownFile> {
    KNOWN_FILES.iter().find(|f| f.path == path)
}

pub(crate) fn expect_known(path: &str) -> &'static KnownFile {
    // NOTE: callers pass literal paths of the table above; a miss is a bug in this crate.
    known_file(path).unwrap_or_else(|| unreachable!("{path} is not in KNOWN_FILES"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        for f in KNOWN_FILES {
            let n = match f.digest {
                Digest::Sha256(h) => {
                    assert_eq!(h.len(), 64, "{}", f.path);
                    h
                }
                Digest::Md5(h) => {
                    assert_eq!(h.len(), 32, "{}", f.path);
                    h
                }
            };
            assert!(n
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            if let Some(u) = f.url {
                assert!(u.starts_with("https://"), "{u}");
            }
            assert_eq!(KNOWN_FILES.iter().filter(|g| g.path == f.path).count(), 1);
        }
    }
}
