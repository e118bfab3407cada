//! Synthetic movie reviews: a small, **made-up** sentiment dataset generated here from a seed,
//! for training and testing text models where IMDB is not at hand. It is not IMDB and not
//! real text: every review comes from the small English grammar below, and its label
//! (1 positive, 0 negative) follows from the review's composition, so a model that reads word
//! order can reach 100% while a bag-of-words model cannot.
//!
//! The data come in two forms: the reviews as strings ([`load_text`]), and IMDB's form
//! ([`load_data`], with [`LoadArgs`] mirroring [`imdb::LoadArgs`](crate::imdb::LoadArgs) and a
//! frequency-ranked [`get_word_index`]), so that model code written for
//! [`imdb::load_data`](crate::imdb::load_data) runs unchanged on these reviews.
//!
//! # How a review is made
//! A review is lowercase words separated by single spaces, without punctuation (so splitting
//! on spaces and `TextVectorization`'s default standardization give the same tokens):
//!
//! `[opener] body [closer]`, 4 to 28 words.
//!
//! - The optional opener ([`OPENERS`], e.g. "we saw it on sunday") and closer ([`CLOSERS`],
//!   e.g. "the cinema was full") are neutral: they never depend on the label.
//! - The body is, with probability 1/2, one clause whose polarity is the label; otherwise a
//!   *contrast* `clause but clause` where the clause after "but" has the label's polarity and
//!   the clause before it the opposite one ("the plot was dull but the acting was superb" is
//!   positive). Swapping the two clauses keeps the bag of words and flips the label, so on
//!   contrast reviews a bag-of-words model is at chance: its best accuracy on the whole set is
//!   about 75%.
//! - A clause of polarity `p` is, with probability 2/3, `subject linking-verb [negation]
//!   [intensifier] adjective` ("the ending was not very funny"), else `i [adverb]
//!   verb subject` ("i really loved the cast") or, negated, `i did not verb subject` / `i
//!   never verbed subject`. It is negated ("not" or "never") with probability 1/2, and then
//!   its adjective or verb has polarity `1 - p` ("the plot was never boring" is positive).
//!
//! Exactly: with `rng` Python's `random.Random(seed)` (MT19937 seeded as `random.seed(seed)`,
//! reproduced here), `pick(list)` is `list[rng.randrange(len(list))]` and `coin(k)` is
//! `rng.randrange(k) == 0`. For each split (training first, then test), the labels
//! `[i % 2 for i in range(n)]` (exactly balanced) are shuffled with `rng.shuffle`, then each
//! review is drawn in order: `opener if coin(2)`, `contrast = coin(2)`, the clause(s), `closer
//! if coin(3)`. A clause draws `kind = rng.randrange(3)` (`< 2`: the linking form),
//! `neg = rng.randrange(4)` (`2`: "not", `3`: "never", else none), then for the linking form
//! subject, verb, `intensifier if coin(2)`, adjective; for the verb form, when not negated,
//! `adverb if coin(3)`, then the verb, then the subject. A test review that is also a
//! training review is drawn again (same label), so the test set is held out.
//!
//! ```
//! use keras_datasets::synthetic_reviews::{load_data, load_text, LoadArgs};
//! let args = LoadArgs { num_train: 200, num_test: 100, ..Default::default() };
//! let ((texts, labels), _) = load_text(&args)?;
//! assert_eq!((texts.len(), labels.shape()), (200, &[200][..]));
//! let ((x_train, y_train), (x_test, y_test)) = load_data(&args)?;
//! assert_eq!(x_train[0][0], 1); // start_char, as IMDB
//! assert_eq!(x_train[0].len(), texts[0].split(' ').count() + 1);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use keras_tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::mt19937::Mt19937;
use crate::SequenceData;

/// What a review is about (the grammar's subjects).
pub const SUBJECTS: [&str; 14] = [
    "the movie",
    "this film",
    "the plot",
    "the acting",
    "the story",
    "the script",
    "the ending",
    "the cast",
    "the dialogue",
    "the soundtrack",
    "the pacing",
    "the direction",
    "the lead actor",
    "the camera work",
];
/// Linking verbs of the `subject verb adjective` clause.
pub const LINKING_VERBS: [&str; 4] = ["was", "is", "felt", "seemed"];
/// Positive adjectives.
pub const POSITIVE_ADJECTIVES: [&str; 14] = [
    "good",
    "great",
    "wonderful",
    "brilliant",
    "moving",
    "funny",
    "charming",
    "clever",
    "beautiful",
    "gripping",
    "superb",
    "delightful",
    "fresh",
    "exciting",
];
/// Negative adjectives.
pub const NEGATIVE_ADJECTIVES: [&str; 14] = [
    "bad",
    "boring",
    "dull",
    "awful",
    "terrible",
    "weak",
    "predictable",
    "silly",
    "clumsy",
    "tedious",
    "bland",
    "messy",
    "flat",
    "painful",
];
/// Intensifiers before an adjective (they do not change the polarity).
pub const INTENSIFIERS: [&str; 7] = ["very", "really", "quite", "truly", "rather", "so", "extremely"];
/// Positive verbs of the `i verb subject` clause: (past, base form).
pub const POSITIVE_VERBS: [(&str, &str); 4] = [
    ("loved", "love"),
    ("liked", "like"),
    ("enjoyed", "enjoy"),
    ("admired", "admire"),
];
/// Negative verbs: (past, base form).
pub const NEGATIVE_VERBS: [(&str, &str); 4] = [
    ("hated", "hate"),
    ("disliked", "dislike"),
    ("loathed", "loathe"),
    ("despised", "despise"),
];
/// Adverbs before a verb that is not negated.
pub const ADVERBS: [&str; 3] = ["really", "truly", "absolutely"];
/// Neutral openers.
pub const OPENERS: [&str; 6] = [
    "i watched this movie last night",
    "we saw it on sunday",
    "my friends took me to see it",
    "i rented this film on a whim",
    "i saw it at the festival",
    "we went to the late show",
];
/// Neutral closers.
pub const CLOSERS: [&str; 5] = [
    "it runs about two hours",
    "the cinema was full",
    "it came out last year",
    "i saw it with my sister",
    "the tickets were cheap",
];

/// The arguments of [`load_data`] (and, for the sizes and seed, [`load_text`]): the sizes of
/// the splits and the generator's seed, then the arguments of
/// [`imdb::LoadArgs`](crate::imdb::LoadArgs) with the same meanings and defaults.
///
/// ```
/// let args = keras_datasets::synthetic_reviews::LoadArgs::default();
/// assert_eq!((args.num_train, args.num_test), (10_000, 5_000));
/// assert_eq!((args.start_char, args.oov_char, args.index_from), (Some(1), Some(2), 3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LoadArgs {
    /// Training reviews (half of them positive).
    pub num_train: usize,
    /// Test reviews (half of them positive, none equal to a training review).
    pub num_test: usize,
    /// Seed of the generator (Python's `random.seed`).
    pub seed: u32,
    /// Keep only the `num_words` most frequent words (others become `oov_char`). `None` (or
    /// `Some(0)`) keeps all.
    pub num_words: Option<usize>,
    /// Treat the `skip_top` most frequent words as out of vocabulary too.
    pub skip_top: usize,
    /// Drop the sequences of `maxlen` words or more (counting the start character). `None`
    /// (or `Some(0)`) keeps all.
    pub maxlen: Option<usize>,
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
            num_train: 10_000,
            num_test: 5_000,
            seed: 113,
            num_words: None,
            skip_top: 0,
            maxlen: None,
            start_char: Some(1),
            oov_char: Some(2),
            index_from: 3,
        }
    }
}

/// The reviews as strings with `int64` labels `(n,)`: `((texts, y_train), (texts, y_test))`.
pub type TextData = ((Vec<String>, Tensor), (Vec<String>, Tensor));

/// The draws of Python's `random.Random`.
struct Rng(Mt19937);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.randbelow(n as u64) as usize
    }
    fn coin(&mut self, k: usize) -> bool {
        self.below(k) == 0
    }
    fn pick<T: Copy>(&mut self, list: &[T]) -> T {
        list[self.below(list.len())]
    }
}

/// One clause of polarity `positive`, appended to `words`.
fn clause(rng: &mut Rng, positive: bool, words: &mut Vec<&'static str>) {
    let linking = rng.below(3) < 2;
    let neg = match rng.below(4) {
        2 => Some("not"),
        3 => Some("never"),
        _ => None,
    };
    // A negated clause says the opposite of its adjective or verb.
    let word_positive = positive != neg.is_some();
    if linking {
        words.push(rng.pick(&SUBJECTS));
        words.push(rng.pick(&LINKING_VERBS));
        words.extend(neg);
        if rng.coin(2) {
            words.push(rng.pick(&INTENSIFIERS));
        }
        let adjectives = if word_positive {
            &POSITIVE_ADJECTIVES
        } else {
            &NEGATIVE_ADJECTIVES
        };
        words.push(rng.pick(adjectives));
    } else {
        words.push("i");
        let verbs = if word_positive {
            &POSITIVE_VERBS
        } else {
            &NEGATIVE_VERBS
        };
        match neg {
            None => {
                if rng.coin(3) {
                    words.push(rng.pick(&ADVERBS));
                }
                words.push(rng.pick(verbs).0);
            }
            Some("not") => words.extend(["did", "not", rng.pick(verbs).1]),
            Some(_) => words.extend(["never", rng.pick(verbs).0]),
        }
        words.push(rng.pick(&SUBJECTS));
    }
}

/// One review of the given label.
fn review(rng: &mut Rng, positive: bool) -> String {
    let mut words = Vec::new();
    if rng.coin(2) {
        words.push(rng.pick(&OPENERS));
    }
    if rng.coin(2) {
        clause(rng, !positive, &mut words);
        words.push("but");
    }
    clause(rng, positive, &mut words);
    if rng.coin(3) {
        words.push(rng.pick(&CLOSERS));
    }
    words.join(" ")
}

/// `n` reviews with balanced, shuffled labels; reviews in `avoid` are drawn again.
fn split(rng: &mut Rng, n: usize, avoid: &HashSet<String>) -> (Vec<String>, Vec<i64>) {
    let mut labels: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
    rng.0.python_shuffle(&mut labels);
    let texts = labels
        .iter()
        .map(|&y| loop {
            let r = review(rng, y == 1);
            if !avoid.contains(&r) {
                break r;
            }
        })
        .collect();
    (texts, labels)
}

/// The raw generator: `(train_texts, train_labels, test_texts, test_labels)`.
fn generate(num_train: usize, num_test: usize, seed: u32) -> (Vec<String>, Vec<i64>, Vec<String>, Vec<i64>) {
    let mut rng = Rng(Mt19937::python(seed as u64));
    let (train, y_train) = split(&mut rng, num_train, &HashSet::new());
    let seen: HashSet<String> = train.iter().cloned().collect();
    let (test, y_test) = split(&mut rng, num_test, &seen);
    (train, y_train, test, y_test)
}

fn labels_tensor(y: Vec<i64>) -> Result<Tensor> {
    let n = y.len();
    Ok(Tensor::from_vec(y, &[n], &Device::Cpu)?)
}

fn check_sizes(args: &LoadArgs) -> Result<()> {
    if args.num_train == 0 || args.num_test == 0 {
        return Err(Error::InvalidArgument(format!(
            "synthetic_reviews needs at least one training and one test review, got num_train={}, \
             num_test={}",
            args.num_train, args.num_test
        )));
    }
    Ok(())
}

/// The reviews as strings: `((train_texts, y_train), (test_texts, y_test))`, labels `int64`
/// `(n,)`, 1 positive. Only `num_train`, `num_test` and `seed` of `args` apply.
///
/// # Errors
/// [`Error::InvalidArgument`] when a split would be empty.
///
/// ```
/// use keras_datasets::synthetic_reviews::{load_text, LoadArgs};
/// let ((texts, y), _) = load_text(&LoadArgs { num_train: 4, num_test: 2, seed: 7, ..Default::default() })?;
/// assert!(texts.iter().all(|t| t.split(' ').all(|w| !w.is_empty())));
/// assert_eq!(y.to_vec::<i64>()?.iter().sum::<i64>(), 2);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_text(args: &LoadArgs) -> Result<TextData> {
    check_sizes(args)?;
    let (train, y_train, test, y_test) = generate(args.num_train, args.num_test, args.seed);
    Ok(((train, labels_tensor(y_train)?), (test, labels_tensor(y_test)?)))
}

/// Every word of the grammar.
fn grammar_words() -> Vec<&'static str> {
    let phrases = SUBJECTS
        .iter()
        .chain(&LINKING_VERBS)
        .chain(&POSITIVE_ADJECTIVES)
        .chain(&NEGATIVE_ADJECTIVES)
        .chain(&INTENSIFIERS)
        .chain(&ADVERBS)
        .chain(&OPENERS)
        .chain(&CLOSERS)
        .chain(&["i", "did", "not", "never", "but"])
        .copied()
        .chain(
            POSITIVE_VERBS
                .iter()
                .chain(&NEGATIVE_VERBS)
                .flat_map(|&(a, b)| [a, b]),
        );
    let mut words: Vec<&str> = phrases.flat_map(|p| p.split(' ')).collect();
    words.sort_unstable();
    words.dedup();
    words
}

fn word_index() -> &'static HashMap<String, i64> {
    static INDEX: OnceLock<HashMap<String, i64>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut counts: HashMap<&str, usize> = grammar_words().into_iter().map(|w| (w, 0)).collect();
        let (texts, _, _, _) = generate(20_000, 0, 0);
        for t in &texts {
            for w in t.split(' ') {
                // Every generated word is a grammar word.
                if let Some(c) = counts.get_mut(w) {
                    *c += 1;
                }
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked
            .into_iter()
            .enumerate()
            .map(|(i, (w, _))| (w.to_string(), i as i64 + 1))
            .collect()
    })
}

/// The word index, as IMDB's: word → index from 1 (the most frequent word), before
/// `index_from` is added. Ranked by each word's count in a fixed reference sample (20,000
/// reviews drawn with seed 0), ties alphabetically; the same for every [`LoadArgs`].
///
/// ```
/// let index = keras_datasets::synthetic_reviews::get_word_index();
/// assert_eq!(index.len(), keras_datasets::synthetic_reviews::vocabulary().len());
/// assert_eq!(index["the"], 1);
/// ```
pub fn get_word_index() -> HashMap<String, i64> {
    word_index().clone()
}

/// The words in index order: `vocabulary()[i - 1]` has index `i` in [`get_word_index`].
///
/// ```
/// let v = keras_datasets::synthetic_reviews::vocabulary();
/// assert_eq!(v[0], "the");
/// ```
pub fn vocabulary() -> Vec<String> {
    let mut v: Vec<(&String, &i64)> = word_index().iter().collect();
    v.sort_unstable_by_key(|&(_, &i)| i);
    v.into_iter().map(|(w, _)| w.clone()).collect()
}

/// The reviews in IMDB's form, processed as [`imdb::load_data`](crate::imdb::load_data)
/// processes IMDB: each word replaced by its [`get_word_index`] index plus `index_from`,
/// `start_char` in front, sequences of `maxlen` or more dropped, words outside
/// `skip_top..num_words` replaced by `oov_char` (or dropped; as in Keras, without
/// `num_words` the largest index present counts as out of range). No shuffle beyond the
/// generator's own.
///
/// # Returns
/// `((x_train, y_train), (x_test, y_test))`: `Vec<Vec<i64>>` sequences and `int64` labels.
///
/// # Errors
/// [`Error::InvalidArgument`] when a split would be empty, or when `maxlen` leaves no
/// sequence.
///
/// ```
/// use keras_datasets::{synthetic_reviews, utils};
/// let args = synthetic_reviews::LoadArgs { num_train: 100, num_test: 50, num_words: Some(30), ..Default::default() };
/// let ((x_train, y_train), (x_test, _)) = synthetic_reviews::load_data(&args)?;
/// assert!(x_train.iter().flatten().all(|&w| w < 30));
/// let x = utils::pad_sequences(&x_train, utils::PadArgs { maxlen: Some(40), ..Default::default() })?;
/// assert_eq!(x.shape(), &[100, 40]);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn load_data(args: &LoadArgs) -> Result<SequenceData> {
    check_sizes(args)?;
    let (train, y_train, test, y_test) = generate(args.num_train, args.num_test, args.seed);
    let index = word_index();
    let encode = |texts: Vec<String>| -> Vec<Vec<i64>> {
        texts
            .iter()
            .map(|t| t.split(' ').map(|w| index[w]).collect())
            .collect()
    };
    let imdb_args = crate::imdb::LoadArgs {
        num_words: args.num_words,
        skip_top: args.skip_top,
        maxlen: args.maxlen,
        seed: args.seed,
        start_char: args.start_char,
        oov_char: args.oov_char,
        index_from: args.index_from,
    };
    crate::imdb::process(encode(train), y_train, encode(test), y_test, &imdb_args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> LoadArgs {
        LoadArgs {
            num_train: 2_000,
            num_test: 1_000,
            ..Default::default()
        }
    }

    #[test]
    fn deterministic_from_the_seed() {
        let a = load_text(&small()).unwrap();
        let b = load_text(&small()).unwrap();
        assert_eq!(a.0 .0, b.0 .0);
        assert_eq!(a.1 .0, b.1 .0);
        assert_eq!(a.0 .1.to_vec::<i64>().unwrap(), b.0 .1.to_vec::<i64>().unwrap());
        let c = load_text(&LoadArgs { seed: 114, ..small() }).unwrap();
        assert_ne!(a.0 .0, c.0 .0);
        let ((x1, _), _) = load_data(&small()).unwrap();
        let ((x2, _), _) = load_data(&small()).unwrap();
        assert_eq!(x1, x2);
    }

    #[test]
    fn labels_are_balanced_and_the_test_split_is_held_out() {
        let ((train, y_train), (test, y_test)) = load_text(&LoadArgs {
            num_train: 1_001,
            num_test: 500,
            ..Default::default()
        })
        .unwrap();
        let y_train = y_train.to_vec::<i64>().unwrap();
        let y_test = y_test.to_vec::<i64>().unwrap();
        assert_eq!(y_train.iter().sum::<i64>(), 500);
        assert_eq!(y_test.iter().sum::<i64>(), 250);
        assert!(y_train.iter().chain(&y_test).all(|&y| y == 0 || y == 1));
        // Shuffled, not alternating.
        assert!(y_train.windows(2).any(|w| w[0] == w[1]));
        let seen: HashSet<&String> = train.iter().collect();
        assert!(test.iter().all(|t| !seen.contains(t)));
    }

    /// The label of a review by reading it: the grammar's rules, applied to the words.
    fn read_label(text: &str) -> i64 {
        let last = text.rsplit(" but ").next().unwrap();
        let words: Vec<&str> = last.split(' ').collect();
        let positive_word = words
            .iter()
            .any(|w| POSITIVE_ADJECTIVES.contains(w) || POSITIVE_VERBS.iter().any(|(a, b)| a == w || b == w));
        let negative_word = words
            .iter()
            .any(|w| NEGATIVE_ADJECTIVES.contains(w) || NEGATIVE_VERBS.iter().any(|(a, b)| a == w || b == w));
        assert!(positive_word != negative_word, "{text:?}");
        let negated = words.contains(&"not") || words.contains(&"never");
        (positive_word != negated) as i64
    }

    #[test]
    fn the_clause_after_but_decides_and_negation_flips() {
        let ((texts, y), _) = load_text(&small()).unwrap();
        let y = y.to_vec::<i64>().unwrap();
        let mut contrasts = 0;
        for (t, &label) in texts.iter().zip(&y) {
            assert_eq!(read_label(t), label, "{t:?}");
            if let Some((first, _)) = t.split_once(" but ") {
                contrasts += 1;
                // The clause before "but" says the opposite.
                assert_eq!(read_label(first), 1 - label, "{t:?}");
            }
        }
        assert!(
            (800..1_200).contains(&contrasts),
            "{contrasts} contrast reviews of 2000"
        );
        assert!(texts.iter().any(|t| t.contains(" never ")));
        let lengths: Vec<usize> = texts.iter().map(|t| t.split(' ').count()).collect();
        assert!(lengths.iter().all(|n| (4..=28).contains(n)), "{lengths:?}");
        assert!(texts.iter().any(|t| t.contains(" not ")));
    }

    #[test]
    fn imdb_conventions() {
        let ((text, _), _) = load_text(&small()).unwrap();
        let index = get_word_index();
        let vocab = vocabulary();
        assert_eq!(vocab.len(), index.len());
        // Ranks are 1..=len, the most frequent word first.
        for (i, w) in vocab.iter().enumerate() {
            assert_eq!(index[w], i as i64 + 1);
        }
        // start_char 1, then index + 3; decoding gives the text back when every word is kept.
        let all = LoadArgs {
            num_words: Some(vocab.len() + 4),
            ..small()
        };
        let ((x, y), (xt, yt)) = load_data(&all).unwrap();
        assert_eq!(
            (x.len(), y.shape(), xt.len(), yt.shape()),
            (2_000, &[2_000][..], 1_000, &[1_000][..])
        );
        for (s, t) in x.iter().zip(&text) {
            assert_eq!(s[0], 1);
            let words: Vec<&str> = s[1..].iter().map(|&i| vocab[(i - 4) as usize].as_str()).collect();
            assert_eq!(words.join(" "), *t);
        }
        // Without num_words, the largest index present is out of range, as in Keras's loaders.
        let ((xd, _), _) = load_data(&small()).unwrap();
        let top = x.iter().chain(&xt).flatten().copied().max().unwrap();
        for (a, b) in xd.iter().flatten().zip(x.iter().flatten()) {
            assert_eq!(*a, if *b == top { 2 } else { *b });
        }
        // num_words: words >= num_words become oov_char 2; skip_top too.
        let args = LoadArgs {
            num_words: Some(20),
            skip_top: 5,
            ..small()
        };
        let ((xl, _), _) = load_data(&args).unwrap();
        for (a, b) in xl.iter().zip(&x) {
            assert_eq!(a.len(), b.len());
            for (&u, &v) in a.iter().zip(b) {
                assert_eq!(u, if (5..20).contains(&v) { v } else { 2 });
            }
        }
        // No start, no offset, cut words dropped.
        let args = LoadArgs {
            start_char: None,
            index_from: 0,
            oov_char: None,
            num_words: Some(10),
            ..small()
        };
        let ((xn, _), _) = load_data(&args).unwrap();
        for (a, t) in xn.iter().zip(&text) {
            let want: Vec<i64> = t.split(' ').map(|w| index[w]).filter(|&i| i < 10).collect();
            assert_eq!(*a, want);
        }
        // maxlen drops the long ones (with their labels).
        let args = LoadArgs {
            maxlen: Some(12),
            ..small()
        };
        let ((xm, ym), _) = load_data(&args).unwrap();
        assert!(xm.iter().all(|s| s.len() < 12));
        assert_eq!(xm.len(), x.iter().filter(|s| s.len() < 12).count());
        assert_eq!(ym.shape(), &[xm.len()]);
        assert!(load_data(&LoadArgs {
            maxlen: Some(2),
            ..small()
        })
        .is_err());
        assert!(load_text(&LoadArgs {
            num_test: 0,
            ..small()
        })
        .is_err());
    }
}
