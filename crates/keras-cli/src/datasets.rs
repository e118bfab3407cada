//! `keras-rs datasets`: what the dataset cache holds, fetching a dataset, checking checksums.

use clap::{Subcommand, ValueEnum};
use keras_datasets::checksums::KNOWN_FILES;
use keras_datasets::{
    boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, offline_from_env, reuters, CacheDir,
    FileCheck,
};

use crate::Result;

/// What `keras-rs datasets` does.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Every dataset keras-rs knows, where it looks for it and whether its files are there.
    List,
    /// Download a dataset into the cache (or report that it is there), checking its checksums.
    Fetch {
        /// The dataset.
        #[arg(value_enum)]
        name: Name,
    },
    /// Check every canonical file present against its recorded checksum (exit status 1 on a
    /// mismatch).
    Verify,
}

/// A dataset of `keras.datasets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Name {
    /// MNIST handwritten digits.
    Mnist,
    /// Fashion-MNIST clothing images.
    #[value(name = "fashion_mnist", alias = "fashion-mnist")]
    FashionMnist,
    /// CIFAR-10 colour images, 10 classes.
    Cifar10,
    /// CIFAR-100 colour images, 100 classes.
    Cifar100,
    /// IMDB movie review sentiment.
    Imdb,
    /// Reuters newswire topics.
    Reuters,
    /// Boston housing prices.
    #[value(name = "boston_housing", alias = "boston-housing")]
    BostonHousing,
}

/// One dataset: the sets of files (relative to the datasets folder) any one of which is
/// enough to load it, as each loader looks for them.
struct Entry {
    name: Name,
    label: &'static str,
    layouts: &'static [&'static [&'static str]],
}

const CIFAR10_BIN: &[&str] = &[
    "cifar-10-batches-bin/data_batch_1.bin",
    "cifar-10-batches-bin/data_batch_2.bin",
    "cifar-10-batches-bin/data_batch_3.bin",
    "cifar-10-batches-bin/data_batch_4.bin",
    "cifar-10-batches-bin/data_batch_5.bin",
    "cifar-10-batches-bin/test_batch.bin",
];
const CIFAR10_PY3: &[&str] = &[
    "cifar-10-batches-py-target/cifar-10-batches-py/data_batch_1",
    "cifar-10-batches-py-target/cifar-10-batches-py/data_batch_2",
    "cifar-10-batches-py-target/cifar-10-batches-py/data_batch_3",
    "cifar-10-batches-py-target/cifar-10-batches-py/data_batch_4",
    "cifar-10-batches-py-target/cifar-10-batches-py/data_batch_5",
    "cifar-10-batches-py-target/cifar-10-batches-py/test_batch",
];
const CIFAR10_PY: &[&str] = &[
    "cifar-10-batches-py/data_batch_1",
    "cifar-10-batches-py/data_batch_2",
    "cifar-10-batches-py/data_batch_3",
    "cifar-10-batches-py/data_batch_4",
    "cifar-10-batches-py/data_batch_5",
    "cifar-10-batches-py/test_batch",
];

const DATASETS: &[Entry] = &[
    Entry {
        name: Name::Mnist,
        label: "mnist",
        layouts: &[
            &["mnist.npz"],
            &[
                "mnist/train-images-idx3-ubyte.gz",
                "mnist/train-labels-idx1-ubyte.gz",
                "mnist/t10k-images-idx3-ubyte.gz",
                "mnist/t10k-labels-idx1-ubyte.gz",
            ],
        ],
    },
    Entry {
        name: Name::FashionMnist,
        label: "fashion_mnist",
        layouts: &[&[
            "fashion-mnist/train-images-idx3-ubyte.gz",
            "fashion-mnist/train-labels-idx1-ubyte.gz",
            "fashion-mnist/t10k-images-idx3-ubyte.gz",
            "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        ]],
    },
    Entry {
        name: Name::Cifar10,
        label: "cifar10",
        layouts: &[CIFAR10_BIN, CIFAR10_PY3, CIFAR10_PY, &["cifar-10-binary.tar.gz"]],
    },
    Entry {
        name: Name::Cifar100,
        label: "cifar100",
        layouts: &[
            &["cifar-100-binary/train.bin", "cifar-100-binary/test.bin"],
            &[
                "cifar-100-python-target/cifar-100-python/train",
                "cifar-100-python-target/cifar-100-python/test",
            ],
            &["cifar-100-python/train", "cifar-100-python/test"],
            &["cifar-100-binary.tar.gz"],
        ],
    },
    Entry {
        name: Name::Imdb,
        label: "imdb",
        layouts: &[&["imdb.npz"]],
    },
    Entry {
        name: Name::Reuters,
        label: "reuters",
        layouts: &[&["reuters.npz"]],
    },
    Entry {
        name: Name::BostonHousing,
        label: "boston_housing",
        layouts: &[&["boston_housing.npz"]],
    },
];

/// Runs the action.
pub fn run(action: &Action) -> Result<()> {
    match action {
        Action::List => list(),
        Action::Fetch { name } => fetch(*name),
        Action::Verify => verify(),
    }
}

fn cache() -> CacheDir {
    CacheDir::default()
}

fn is_file(cache: &CacheDir, rel: &str) -> bool {
    rel.split('/')
        .fold(cache.dir().to_path_buf(), |p, part| p.join(part))
        .is_file()
}

/// Where the folder comes from, and whether downloads are on.
fn print_folder(cache: &CacheDir) {
    let from = if std::env::var_os("KERAS_HOME").is_some_and(|h| !h.is_empty()) {
        "$KERAS_HOME/datasets"
    } else {
        "~/.keras/datasets; set KERAS_HOME to use $KERAS_HOME/datasets"
    };
    println!("Datasets folder: {} ({from})", cache.dir().display());
    println!(
        "Downloads: {}",
        if offline_from_env() {
            "off (KERAS_OFFLINE is set)"
        } else {
            "on (set KERAS_OFFLINE=1 to turn them off)"
        }
    );
}

/// The first complete layout of a dataset, if any.
fn present_layout(cache: &CacheDir, e: &Entry) -> Option<&'static [&'static str]> {
    e.layouts
        .iter()
        .copied()
        .find(|files| files.iter().all(|f| is_file(cache, f)))
}

/// A short description of a set of files: the file, or the folder and the count.
fn describe(files: &[&str]) -> String {
    match files {
        [one] => (*one).to_string(),
        many => {
            let dir = many[0].rsplit_once('/').map_or("", |(d, _)| d);
            if many
                .iter()
                .all(|f| f.rsplit_once('/').map(|(d, _)| d) == Some(dir))
            {
                format!("{dir}/ ({} files)", many.len())
            } else {
                many.join(" + ")
            }
        }
    }
}

fn list() -> Result<()> {
    let cache = cache();
    print_folder(&cache);
    println!();
    println!("{:<16}{:<10}files", "dataset", "status");
    for e in DATASETS {
        let (status, files) = match present_layout(&cache, e) {
            Some(files) => ("present", describe(files)),
            None => {
                let partial: Vec<String> = e
                    .layouts
                    .iter()
                    .filter(|files| files.iter().any(|f| is_file(&cache, f)))
                    .map(|files| {
                        let lacking: Vec<&str> =
                            files.iter().copied().filter(|f| !is_file(&cache, f)).collect();
                        format!("{} lacks {}", describe(files), lacking.join(", "))
                    })
                    .collect();
                if partial.is_empty() {
                    let wanted: Vec<String> = e.layouts.iter().map(|f| describe(f)).collect();
                    ("missing", format!("looks for {}", wanted.join(" or ")))
                } else {
                    ("partial", partial.join("; "))
                }
            }
        };
        println!("{:<16}{status:<10}{files}", e.label);
    }
    Ok(())
}

fn fetch(name: Name) -> Result<()> {
    let cache = cache();
    let e = DATASETS
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| unreachable!("every Name has an entry in DATASETS"));
    let before = present_layout(&cache, e);
    match name {
        Name::Mnist => {
            mnist::load_data_from(&cache)?;
        }
        Name::FashionMnist => {
            fashion_mnist::load_data_from(&cache)?;
        }
        Name::Cifar10 => {
            cifar10::load_data_from(&cache)?;
        }
        Name::Cifar100 => {
            cifar100::load_data_from(&cache, "fine")?;
        }
        Name::Imdb => {
            imdb::load_data_from(&cache, Default::default())?;
            imdb::get_word_index_from(&cache)?;
        }
        Name::Reuters => {
            reuters::load_data_from(&cache, Default::default())?;
            reuters::get_word_index_from(&cache)?;
        }
        Name::BostonHousing => {
            boston_housing::load_data_from(&cache, Default::default())?;
        }
    }
    match before {
        Some(files) => println!(
            "{}: already present in {} ({}); it loads and its checksums match",
            e.label,
            cache.dir().display(),
            describe(files)
        ),
        None => println!("{}: fetched into {}", e.label, cache.dir().display()),
    }
    Ok(())
}

fn verify() -> Result<()> {
    let cache = cache();
    print_folder(&cache);
    println!();
    let (mut ok, mut bad, mut missing) = (0, 0, 0);
    for f in KNOWN_FILES {
        match cache.check_file(f)? {
            FileCheck::Ok => {
                ok += 1;
                println!("OK        {}", f.path);
            }
            FileCheck::Missing => {
                missing += 1;
                println!("missing   {}", f.path);
            }
            FileCheck::Mismatch { actual } => {
                bad += 1;
                println!(
                    "MISMATCH  {}: {} {actual}, expected {}",
                    f.path,
                    f.digest.algorithm(),
                    f.digest.hex()
                );
            }
        }
    }
    println!();
    println!(
        "{ok} OK, {bad} mismatched, {missing} missing (of {} known files)",
        KNOWN_FILES.len()
    );
    println!(
        "Extracted CIFAR batches have no published checksums; they are checked for size and labels when \
         loaded."
    );
    if bad > 0 {
        return Err(format!(
            "{bad} file(s) do not match their recorded checksums: they are truncated, corrupt or not the \
             canonical files. Delete them and run `keras-rs datasets fetch NAME` to download them again."
        )
        .into());
    }
    Ok(())
}
