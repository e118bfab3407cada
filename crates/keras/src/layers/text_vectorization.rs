//! `TextVectorization`: strings to token indices or per-example token vectors, with Keras's
//! standardization, splitting, n-grams, vocabulary learning (`adapt`) and TF-IDF weights.
//!
//! keras-rs tensors have no string dtype, so this layer is a preprocessing object used before
//! the model, in the data pipeline (where Keras recommends running it too): it takes string
//! slices and returns a [`Tensor`] that the model then takes.
//!
//! ```
//! use keras::layers::TextVectorization;
//! let mut tv = TextVectorization::new().output_sequence_length(4);
//! tv.adapt(&["foo bar", "bar baz", "baz bada boom"])?;
//! assert_eq!(tv.get_vocabulary(true)?, ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]);
//! let x = tv.call(&["foo qux bar", "qux baz"])?;
//! assert_eq!(x.shape(), &[2, 4]);
//! assert_eq!(x.to_vec::<i64>()?, [4, 1, 3, 0, 1, 2, 0, 0]);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

use super::{config_name, unique_name};
use keras_tensor::{Device, Error, Result, Tensor};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

/// Keras's mask (padding) token: index 0 in `"int"` mode, dropped in the other modes.
const MASK_TOKEN: &str = "";
/// Keras's out-of-vocabulary token: index 1 in `"int"` mode, index 0 in the other modes.
const OOV_TOKEN: &str = "[UNK]";
/// The file [`TextVectorization::save_assets`] writes, as in Keras's `.keras` assets.
const VOCABULARY_FILE: &str = "vocabulary.txt";
/// The TF-IDF weights beside the vocabulary (Keras keeps them with the layer's variables).
const IDF_FILE: &str = "idf_weights.txt";

fn error(op: &'static str, msg: impl Into<String>) -> Error {
    Error::InvalidArgument { op, msg: msg.into() }
}

/// How [`TextVectorization`] standardizes each string before splitting (Keras's
/// `standardize`; `None` in the builder for no standardization).
///
/// ```
/// use keras::layers::Standardize;
/// assert_eq!("lower".parse::<Standardize>()?, Standardize::Lower);
/// assert!("upper".parse::<Standardize>().is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Standardize {
    /// Lowercase, then remove punctuation (Keras's default).
    #[default]
    LowerAndStripPunctuation,
    /// Lowercase only.
    Lower,
    /// Remove punctuation only.
    StripPunctuation,
}

impl Standardize {
    /// Keras's name for the option.
    pub fn as_str(self) -> &'static str {
        match self {
            Standardize::LowerAndStripPunctuation => "lower_and_strip_punctuation",
            Standardize::Lower => "lower",
            Standardize::StripPunctuation => "strip_punctuation",
        }
    }
    fn lower(self) -> bool {
        matches!(self, Standardize::LowerAndStripPunctuation | Standardize::Lower)
    }
    fn strip(self) -> bool {
        matches!(
            self,
            Standardize::LowerAndStripPunctuation | Standardize::StripPunctuation
        )
    }
}

impl FromStr for Standardize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Standardize> {
        match s {
            "lower_and_strip_punctuation" => Ok(Standardize::LowerAndStripPunctuation),
            "lower" => Ok(Standardize::Lower),
            "strip_punctuation" => Ok(Standardize::StripPunctuation),
            _ => Err(error(
                "TextVectorization",
                format!(
                    "unknown standardize {s:?}; expected \"lower_and_strip_punctuation\", \"lower\", \
                     \"strip_punctuation\" or None"
                ),
            )),
        }
    }
}

/// How [`TextVectorization`] splits a standardized string into tokens (Keras's `split`;
/// `None` in the builder keeps each string whole as one token).
///
/// ```
/// use keras::layers::Split;
/// assert_eq!("character".parse::<Split>()?, Split::Character);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// On runs of ASCII whitespace, ignoring leading and trailing whitespace (Keras's
    /// default, TensorFlow's `tf.strings.split`).
    #[default]
    Whitespace,
    /// Into Unicode code points (`tf.strings.unicode_split`).
    Character,
}

impl Split {
    /// Keras's name for the option.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Whitespace => "whitespace",
            Split::Character => "character",
        }
    }
}

impl FromStr for Split {
    type Err = Error;
    fn from_str(s: &str) -> Result<Split> {
        match s {
            "whitespace" => Ok(Split::Whitespace),
            "character" => Ok(Split::Character),
            _ => Err(error(
                "TextVectorization",
                format!("unknown split {s:?}; expected \"whitespace\", \"character\" or None"),
            )),
        }
    }
}

/// What [`TextVectorization::call`] returns (Keras's `output_mode`).
///
/// ```
/// use keras::layers::OutputMode;
/// assert_eq!("tf_idf".parse::<OutputMode>()?, OutputMode::TfIdf);
/// assert_eq!("binary".parse::<OutputMode>()?, OutputMode::MultiHot); // Keras's old name
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// Token indices, int64 `(batch, sequence_length)`; 0 pads, 1 is out of vocabulary.
    #[default]
    Int,
    /// float32 `(batch, vocabulary_size)`: 1 where the token occurs in the example.
    MultiHot,
    /// float32 `(batch, vocabulary_size)`: how often the token occurs in the example.
    Count,
    /// float32 `(batch, vocabulary_size)`: counts times the inverse document frequencies.
    TfIdf,
}

impl OutputMode {
    /// Keras's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputMode::Int => "int",
            OutputMode::MultiHot => "multi_hot",
            OutputMode::Count => "count",
            OutputMode::TfIdf => "tf_idf",
        }
    }
}

impl FromStr for OutputMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<OutputMode> {
        match s {
            "int" => Ok(OutputMode::Int),
            "multi_hot" | "binary" => Ok(OutputMode::MultiHot),
            "count" => Ok(OutputMode::Count),
            "tf_idf" | "tf-idf" => Ok(OutputMode::TfIdf),
            "one_hot" => Err(error(
                "TextVectorization",
                "output_mode \"one_hot\" is not supported (Keras documents \"int\", \"multi_hot\", \
                 \"count\" and \"tf_idf\" for TextVectorization)",
            )),
            _ => Err(error(
                "TextVectorization",
                format!(
                    "unknown output_mode {s:?}; expected \"int\", \"multi_hot\", \"count\" or \"tf_idf\""
                ),
            )),
        }
    }
}

/// Keras's `ngrams` argument: `n` makes every n-gram from 1 to `n`; a list makes n-grams of
/// exactly those widths, in that order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ngrams {
    UpTo(usize),
    Widths(Vec<usize>),
}

impl Ngrams {
    fn widths(&self) -> Vec<usize> {
        match self {
            Ngrams::UpTo(n) => (1..=*n).collect(),
            Ngrams::Widths(w) => w.clone(),
        }
    }
    fn to_config(&self) -> Value {
        match self {
            Ngrams::UpTo(n) => json!(n),
            Ngrams::Widths(w) => json!(w),
        }
    }
}

/// The vocabulary as the layer looks tokens up.
#[derive(Clone, Debug)]
struct Lookup {
    /// Tokens without the special ones, in index order.
    tokens: Vec<String>,
    /// Token to output index (the special tokens are not keys).
    index: HashMap<String, usize>,
    /// TF-IDF weights, one per output column (tf_idf mode only).
    idf: Option<Vec<f32>>,
}

/// Maps strings to token indices or to dense per-example token vectors, as
/// `keras.layers.TextVectorization`.
///
/// Each string is (1) standardized (ASCII lowercasing and removal of ASCII punctuation by
/// default, as TensorFlow's `tf.strings.lower` and Keras's regular expression
/// `[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']` do), (2) split (on ASCII whitespace by default),
/// (3) optionally recombined into n-grams joined by a space, (4) looked up in the vocabulary,
/// and (5) encoded by the output mode:
///
/// - `"int"` (default): int64 `(batch, length)` indices, padded with 0 at the end to the longest
///   example or padded/truncated to `output_sequence_length`. Index 0 is the mask token `""`
///   and 1 the out-of-vocabulary token `"[UNK]"`.
/// - `"multi_hot"`, `"count"`, `"tf_idf"`: float32 `(batch, depth)` with `depth` the vocabulary
///   size (or `max_tokens` with `pad_to_max_tokens`); index 0 is `"[UNK]"` and there is no
///   mask index.
///
/// The vocabulary comes from [`TextVectorization::adapt`] (tokens by descending frequency,
/// ties broken by descending byte order of the token, at most `max_tokens` entries counting
/// the special tokens), from the [`TextVectorization::vocabulary`] builder, or from
/// [`TextVectorization::set_vocabulary`]. Configure the layer with the builder methods before
/// adapting: each of them discards a vocabulary learned or set earlier.
///
/// Keras's `sparse=True` and `ragged=True` (TensorFlow-only tensor kinds) are rejected;
/// [`TextVectorization::call_ragged`] gives the unpadded index lists instead. Callables for
/// `standardize` and `split` are not supported.
///
/// ```
/// use keras::layers::TextVectorization;
/// let mut tv = TextVectorization::new().output_mode("count")?;
/// tv.adapt(&["The cat sat.", "the dog sat on the cat"])?;
/// assert_eq!(tv.get_vocabulary(true)?, ["[UNK]", "the", "sat", "cat", "on", "dog"]);
/// let x = tv.call(&["the the bird"])?;
/// assert_eq!(x.to_vec::<f32>()?, [1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TextVectorization {
    name: String,
    trainable: bool,
    max_tokens: Option<usize>,
    standardize: Option<Standardize>,
    split: Option<Split>,
    ngrams: Option<Ngrams>,
    output_mode: OutputMode,
    output_sequence_length: Option<usize>,
    pad_to_max_tokens: bool,
    sparse: bool,
    ragged: bool,
    /// The vocabulary given at construction (kept in the config, as Keras does).
    input_vocabulary: Option<Vec<String>>,
    /// The idf weights given at construction.
    input_idf_weights: Option<Vec<f64>>,
    /// `vocabulary_size` read from a config: the size a later vocabulary must have in the
    /// dense modes without `pad_to_max_tokens` (Keras's frozen vocabulary size).
    config_vocabulary_size: Option<usize>,
    /// The current vocabulary; built lazily from `input_vocabulary`.
    lookup: OnceLock<Lookup>,
}

impl Default for TextVectorization {
    fn default() -> TextVectorization {
        TextVectorization::new()
    }
}

impl TextVectorization {
    /// A layer with Keras's defaults: no `max_tokens`, `"lower_and_strip_punctuation"`,
    /// `"whitespace"` split, no n-grams, `"int"` output, no `output_sequence_length`.
    ///
    /// ```
    /// let tv = keras::layers::TextVectorization::new();
    /// assert_eq!(tv.get_config()["standardize"], "lower_and_strip_punctuation");
    /// ```
    pub fn new() -> TextVectorization {
        TextVectorization {
            name: unique_name("text_vectorization"),
            trainable: true,
            max_tokens: None,
            standardize: Some(Standardize::LowerAndStripPunctuation),
            split: Some(Split::Whitespace),
            ngrams: None,
            output_mode: OutputMode::Int,
            output_sequence_length: None,
            pad_to_max_tokens: false,
            sparse: false,
            ragged: false,
            input_vocabulary: None,
            input_idf_weights: None,
            config_vocabulary_size: None,
            lookup: OnceLock::new(),
        }
    }

    /// Discards any vocabulary (a builder changed how it would be read).
    fn reset(mut self) -> TextVectorization {
        self.lookup = OnceLock::new();
        self.config_vocabulary_size = None;
        self
    }

    /// Sets the layer name.
    ///
    /// ```
    /// let tv = keras::layers::TextVectorization::new().name("vectorizer");
    /// assert_eq!(tv.get_name(), "vectorizer");
    /// ```
    pub fn name(mut self, name: &str) -> TextVectorization {
        self.name = name.to_string();
        self
    }

    /// The layer's name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// The largest vocabulary, counting the special tokens (`""` and `"[UNK]"` in `"int"`
    /// mode, `"[UNK]"` otherwise); must be more than 1.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().max_tokens(3);
    /// tv.adapt(&["a a b c"])?;
    /// assert_eq!(tv.get_vocabulary(true)?, ["", "[UNK]", "a"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn max_tokens(mut self, max_tokens: usize) -> TextVectorization {
        self.max_tokens = Some(max_tokens);
        self.reset()
    }

    /// The standardization: `Some("lower_and_strip_punctuation")` (default), `Some("lower")`,
    /// `Some("strip_punctuation")` or `None`.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().standardize(None)?;
    /// tv.adapt(&["Hi, hi"])?;
    /// assert_eq!(tv.get_vocabulary(false)?, ["hi", "Hi,"]);
    /// assert!(TextVectorization::new().standardize(Some("upper")).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For an unknown name.
    pub fn standardize(mut self, standardize: Option<&str>) -> Result<TextVectorization> {
        self.standardize = standardize.map(str::parse).transpose()?;
        Ok(self.reset())
    }

    /// The split: `Some("whitespace")` (default), `Some("character")` or `None` (each string
    /// is one token).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().split(Some("character"))?;
    /// tv.adapt(&["abb"])?;
    /// assert_eq!(tv.get_vocabulary(false)?, ["b", "a"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For an unknown name.
    pub fn split(mut self, split: Option<&str>) -> Result<TextVectorization> {
        self.split = split.map(str::parse).transpose()?;
        Ok(self.reset())
    }

    /// Makes every n-gram of 1 to `n` tokens (Keras's `ngrams=n`), the tokens of an n-gram
    /// joined by a space; each example lists its 1-grams, then its 2-grams, and so on.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().ngrams(2);
    /// tv.adapt(&["a b"])?;
    /// assert_eq!(tv.get_vocabulary(false)?, ["b", "a b", "a"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn ngrams(mut self, n: usize) -> TextVectorization {
        self.ngrams = Some(Ngrams::UpTo(n));
        self.reset()
    }

    /// Makes n-grams of exactly the given widths, in that order (Keras's `ngrams=(2, 3)`).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().ngram_widths(&[2]);
    /// tv.adapt(&["a b c"])?;
    /// assert_eq!(tv.get_vocabulary(false)?, ["b c", "a b"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn ngram_widths(mut self, widths: &[usize]) -> TextVectorization {
        self.ngrams = Some(Ngrams::Widths(widths.to_vec()));
        self.reset()
    }

    /// The output mode: `"int"` (default), `"multi_hot"`, `"count"` or `"tf_idf"`.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().output_mode("multi_hot")?;
    /// tv.adapt(&["a a b"])?;
    /// assert_eq!(tv.call(&["b b"])?.to_vec::<f32>()?, [0.0, 0.0, 1.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For an unknown mode, or `"one_hot"`.
    pub fn output_mode(mut self, mode: &str) -> Result<TextVectorization> {
        self.output_mode = mode.parse()?;
        Ok(self.reset())
    }

    /// In `"int"` mode, pads (with 0, at the end) or truncates every example to exactly this
    /// many indices.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().output_sequence_length(3).vocabulary(&["a", "b"]);
    /// assert_eq!(tv.call(&["a b a b", "b"])?.to_vec::<i64>()?, [2, 3, 2, 3, 0, 0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn output_sequence_length(mut self, length: usize) -> TextVectorization {
        self.output_sequence_length = Some(length);
        self
    }

    /// In the dense modes, makes the output `max_tokens` wide whatever the vocabulary size.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new()
    ///     .output_mode("multi_hot")?
    ///     .max_tokens(5)
    ///     .pad_to_max_tokens(true)
    ///     .vocabulary(&["a"]);
    /// assert_eq!(tv.call(&["a z"])?.to_vec::<f32>()?, [1.0, 1.0, 0.0, 0.0, 0.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn pad_to_max_tokens(mut self, pad: bool) -> TextVectorization {
        self.pad_to_max_tokens = pad;
        self.reset()
    }

    /// A fixed vocabulary instead of [`TextVectorization::adapt`] (Keras's `vocabulary`
    /// argument): the tokens in index order, with or without the special tokens at the front
    /// (`["", "[UNK]"]` in `"int"` mode, `["[UNK]"]` otherwise). It is checked when first
    /// used (the errors of [`TextVectorization::set_vocabulary`]) and kept in the config.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().vocabulary(&["earth", "wind", "and", "fire"]);
    /// assert_eq!(tv.get_vocabulary(true)?, ["", "[UNK]", "earth", "wind", "and", "fire"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn vocabulary<S: AsRef<str>>(mut self, vocabulary: &[S]) -> TextVectorization {
        self.input_vocabulary = Some(vocabulary.iter().map(|s| s.as_ref().to_string()).collect());
        self.reset()
    }

    /// The inverse document frequencies of a fixed `"tf_idf"` vocabulary, one per entry of
    /// [`TextVectorization::vocabulary`].
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new()
    ///     .output_mode("tf_idf")?
    ///     .vocabulary(&["a", "b"])
    ///     .idf_weights(&[2.0, 4.0]);
    /// // "[UNK]" gets the mean weight, 3.
    /// assert_eq!(tv.call(&["b b z"])?.to_vec::<f32>()?, [3.0, 0.0, 8.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn idf_weights(mut self, idf_weights: &[f64]) -> TextVectorization {
        self.input_idf_weights = Some(idf_weights.to_vec());
        self.reset()
    }

    /// Keras's `sparse`: only `false` is supported (keras-rs has no sparse tensors).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// assert!(TextVectorization::new().sparse(false).is_ok());
    /// assert!(TextVectorization::new().sparse(true).is_err());
    /// ```
    ///
    /// # Errors
    /// For `true`.
    pub fn sparse(mut self, sparse: bool) -> Result<TextVectorization> {
        if sparse {
            return Err(error(
                "TextVectorization",
                "sparse=true is not supported: keras-rs has no sparse tensors (Keras supports it \
                 only with the TensorFlow backend); use the dense output",
            ));
        }
        self.sparse = false;
        Ok(self)
    }

    /// Checks the options together, as Keras's constructor does.
    fn validate(&self) -> Result<()> {
        let op = "TextVectorization";
        if let Some(m) = self.max_tokens {
            if m <= 1 {
                return Err(error(
                    op,
                    format!("if set, max_tokens must be greater than 1, got max_tokens={m}"),
                ));
            }
        }
        if self.pad_to_max_tokens && self.max_tokens.is_none() {
            return Err(error(op, "pad_to_max_tokens=true needs max_tokens to be set"));
        }
        if self.sparse {
            return Err(error(
                op,
                "sparse=true is not supported: keras-rs has no sparse tensors (Keras supports it \
                 only with the TensorFlow backend); use the dense output",
            ));
        }
        if self.ragged {
            return Err(error(
                op,
                "ragged=true is not supported: keras-rs has no ragged tensors (Keras supports it \
                 only with the TensorFlow backend); use call_ragged for unpadded index lists",
            ));
        }
        if self.output_mode != OutputMode::Int {
            if let Some(l) = self.output_sequence_length {
                return Err(error(
                    op,
                    format!(
                        "output_sequence_length must not be set if output_mode is not \"int\", got \
                         output_sequence_length={l} and output_mode={:?}",
                        self.output_mode.as_str()
                    ),
                ));
            }
        }
        if self.input_idf_weights.is_some() && self.output_mode != OutputMode::TfIdf {
            return Err(error(
                op,
                format!(
                    "idf_weights should only be set if output_mode is \"tf_idf\", got output_mode={:?}",
                    self.output_mode.as_str()
                ),
            ));
        }
        if self.output_mode == OutputMode::TfIdf
            && self.input_vocabulary.is_some()
            && self.input_idf_weights.is_none()
        {
            return Err(error(
                op,
                "when the vocabulary is given in tf_idf output mode, idf_weights must be given too",
            ));
        }
        if let Some(n) = &self.ngrams {
            let widths = n.widths();
            if widths.is_empty() || widths.contains(&0) {
                return Err(error(
                    op,
                    format!(
                        "ngrams must be at least 1 (or widths of at least 1), got {}",
                        n.to_config()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Index of the out-of-vocabulary token: 1 in `"int"` mode (0 is the mask), else 0.
    fn oov_index(&self) -> usize {
        usize::from(self.output_mode == OutputMode::Int)
    }

    /// Index of the first real token.
    fn token_start(&self) -> usize {
        self.oov_index() + 1
    }

    fn special_tokens(&self) -> Vec<String> {
        let mut s = Vec::new();
        if self.output_mode == OutputMode::Int {
            s.push(MASK_TOKEN.to_string());
        }
        s.push(OOV_TOKEN.to_string());
        s
    }

    /// The current vocabulary, building it from the given one on first use.
    fn lookup(&self) -> Result<&Lookup> {
        if let Some(l) = self.lookup.get() {
            return Ok(l);
        }
        self.validate()?;
        match &self.input_vocabulary {
            Some(v) => {
                let l = self.make_lookup(v, self.input_idf_weights.as_deref())?;
                self.check_size(self.config_vocabulary_size, &l)?;
                Ok(self.lookup.get_or_init(|| l))
            }
            None => Err(error(
                "TextVectorization",
                format!(
                    "layer {:?} has no vocabulary yet: call adapt() with some text, or give a \
                     vocabulary (the vocabulary builder or set_vocabulary)",
                    self.name
                ),
            )),
        }
    }

    /// Keras's check that a dense-mode layer without `pad_to_max_tokens` keeps its output width.
    fn check_size(&self, frozen: Option<usize>, new: &Lookup) -> Result<()> {
        if self.output_mode == OutputMode::Int || self.pad_to_max_tokens {
            return Ok(());
        }
        let size = self.token_start() + new.tokens.len();
        match frozen {
            Some(old) if old != size => Err(error(
                "TextVectorization",
                format!(
                    "with output_mode={:?} and pad_to_max_tokens=false the vocabulary size cannot \
                     change once set; old vocabulary size is {old}, new vocabulary size is {size}",
                    self.output_mode.as_str()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The size the next vocabulary must keep (see [`TextVectorization::check_size`]).
    fn frozen_size(&self) -> Result<Option<usize>> {
        if self.input_vocabulary.is_some() {
            return Ok(Some(self.token_start() + self.lookup()?.tokens.len()));
        }
        Ok(self
            .lookup
            .get()
            .map(|l| self.token_start() + l.tokens.len())
            .or(self.config_vocabulary_size))
    }

    /// Keras's `set_vocabulary` checks and layout.
    fn make_lookup(&self, vocabulary: &[String], idf_weights: Option<&[f64]>) -> Result<Lookup> {
        let op = "TextVectorization.set_vocabulary";
        match (self.output_mode, idf_weights) {
            (OutputMode::TfIdf, None) => {
                return Err(error(op, "idf_weights must be set if output_mode is \"tf_idf\""))
            }
            (m, Some(_)) if m != OutputMode::TfIdf => {
                return Err(error(
                    op,
                    format!(
                        "idf_weights should only be set if output_mode is \"tf_idf\", got \
                         output_mode={:?}",
                        m.as_str()
                    ),
                ))
            }
            _ => {}
        }
        if vocabulary.is_empty() {
            return Err(error(op, "cannot set an empty vocabulary"));
        }
        let specials = self.special_tokens();
        let found_specials =
            vocabulary.len() >= specials.len() && vocabulary[..specials.len()] == specials[..];
        let tokens = if found_specials {
            &vocabulary[specials.len()..]
        } else {
            vocabulary
        };
        let mut seen = HashSet::new();
        let mut repeated: Vec<&str> = Vec::new();
        for t in tokens {
            if !seen.insert(t.as_str()) && !repeated.contains(&t.as_str()) {
                repeated.push(t);
            }
        }
        if !repeated.is_empty() {
            return Err(error(
                op,
                format!("the vocabulary has at least one repeated term; the repeated terms are {repeated:?}"),
            ));
        }
        if let Some(i) = vocabulary.iter().rposition(|t| t == MASK_TOKEN) {
            if tokens.iter().any(|t| t == MASK_TOKEN) {
                return Err(error(
                    op,
                    format!(
                        "found the reserved mask token \"\" at vocabulary index {i}; the vocabulary \
                         need not include the mask and OOV tokens: remove them all, or put them \
                         only at the start in precisely this order: {specials:?}"
                    ),
                ));
            }
        }
        let size = self.token_start() + tokens.len();
        if let Some(m) = self.max_tokens {
            if size > m {
                return Err(error(
                    op,
                    format!(
                        "attempted to set a vocabulary larger than the maximum vocabulary size: \
                         the vocabulary size is {size}, max_tokens is {m}"
                    ),
                ));
            }
        }
        let idf = match idf_weights {
            None => None,
            Some(w) => {
                if w.len() != vocabulary.len() {
                    return Err(error(
                        op,
                        format!(
                            "idf_weights must be as long as the vocabulary; len(idf_weights) is {}, \
                             len(vocabulary) is {}",
                            w.len(),
                            vocabulary.len()
                        ),
                    ));
                }
                // Without the special tokens, their weight is the mean of the given ones.
                let mut full: Vec<f64> = Vec::with_capacity(size);
                if !found_specials {
                    let mean = w.iter().sum::<f64>() / w.len() as f64;
                    full.extend(std::iter::repeat_n(mean, self.token_start()));
                }
                full.extend_from_slice(w);
                let mut full: Vec<f32> = full.into_iter().map(|x| x as f32).collect();
                self.pad_idf(&mut full);
                Some(full)
            }
        };
        Ok(Lookup::new(tokens.to_vec(), self.token_start(), idf))
    }

    /// Pads TF-IDF weights with zeros to `max_tokens` under `pad_to_max_tokens`.
    fn pad_idf(&self, idf: &mut Vec<f32>) {
        if let (true, Some(m)) = (self.pad_to_max_tokens, self.max_tokens) {
            if idf.len() < m {
                idf.resize(m, 0.0);
            }
        }
    }

    /// Standardizes, splits and makes the n-grams of one string: the tokens Keras looks up.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().ngrams(2);
    /// assert_eq!(tv.tokenize("Hello, World!"), ["hello", "world", "hello world"]);
    /// ```
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut s = text.to_string();
        if let Some(st) = self.standardize {
            if st.lower() {
                // `tf.strings.lower` without an encoding lowercases ASCII letters only.
                s.make_ascii_lowercase();
            }
            if st.strip() {
                s.retain(|c| !is_keras_punctuation(c));
            }
        }
        let tokens: Vec<String> = match self.split {
            None => vec![s],
            Some(Split::Whitespace) => s
                .split(is_tf_whitespace)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            Some(Split::Character) => s.chars().map(String::from).collect(),
        };
        match &self.ngrams {
            None => tokens,
            Some(n) => {
                let mut out = Vec::new();
                for w in n.widths() {
                    if w == 0 || w > tokens.len() {
                        continue;
                    }
                    out.extend(tokens.windows(w).map(|g| g.join(" ")));
                }
                out
            }
        }
    }

    /// Learns the vocabulary (and in `"tf_idf"` mode the inverse document frequencies) from
    /// `data`, one example per string, as Keras's `adapt`: every token's count, most frequent
    /// first, ties broken by descending byte order; `""` and `"[UNK]"` never become tokens;
    /// at most `max_tokens` entries with the special tokens. The idf of a token is
    /// `ln(1 + documents / (1 + documents containing it))`; `"[UNK]"` gets their mean.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new();
    /// tv.adapt(&["b a", "a c"])?;
    /// assert_eq!(tv.get_vocabulary(true)?, ["", "[UNK]", "a", "c", "b"]);
    /// let texts = vec!["x y".to_string(), "y".to_string()];
    /// tv.adapt_iter(texts.iter())?;
    /// assert_eq!(tv.vocabulary_size()?, 4);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For invalid options, a layer given a fixed vocabulary at construction, or (in the
    /// dense modes without `pad_to_max_tokens`) a vocabulary of another size than the
    /// layer's previous one.
    pub fn adapt<S: AsRef<str>>(&mut self, data: &[S]) -> Result<()> {
        self.adapt_iter(data.iter())
    }

    /// [`TextVectorization::adapt`] on any iterator of strings (a file's lines, a dataset),
    /// read once.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new();
    /// tv.adapt_iter("one two\ntwo".lines())?;
    /// assert_eq!(tv.get_vocabulary(false)?, ["two", "one"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`TextVectorization::adapt`].
    pub fn adapt_iter<I, S>(&mut self, data: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.validate()?;
        if self.input_vocabulary.is_some() {
            return Err(error(
                "TextVectorization.adapt",
                format!(
                    "cannot adapt layer {:?} after setting a static vocabulary via the vocabulary \
                     argument",
                    self.name
                ),
            ));
        }
        let tf_idf = self.output_mode == OutputMode::TfIdf;
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut doc_counts: HashMap<String, u64> = HashMap::new();
        let mut documents: u64 = 0;
        for text in data {
            let tokens = self.tokenize(text.as_ref());
            documents += 1;
            if tf_idf {
                let unique: HashSet<&String> = tokens.iter().collect();
                for t in unique {
                    *doc_counts.entry(t.clone()).or_insert(0) += 1;
                }
            }
            for t in tokens {
                *counts.entry(t).or_insert(0) += 1;
            }
        }
        if counts.is_empty() {
            // As Keras: with no token at all the vocabulary stays as it was.
            if self.lookup.get().is_some() {
                return Ok(());
            }
            if tf_idf {
                return Err(error(
                    "TextVectorization.adapt",
                    "found no tokens in the data, so no document frequencies for tf_idf",
                ));
            }
            let l = Lookup::new(Vec::new(), self.token_start(), None);
            self.check_size(self.frozen_size()?, &l)?;
            self.lookup = OnceLock::from(l);
            return Ok(());
        }
        counts.remove(MASK_TOKEN);
        counts.remove(OOV_TOKEN);
        let mut sorted: Vec<(String, u64)> = counts.into_iter().collect();
        // Keras: np.lexsort((tokens, counts))[::-1], i.e. count then token, both descending.
        sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.as_bytes().cmp(a.0.as_bytes())));
        if let Some(m) = self.max_tokens {
            sorted.truncate(m.saturating_sub(self.token_start()));
        }
        let tokens: Vec<String> = sorted.into_iter().map(|(t, _)| t).collect();
        let idf = if tf_idf {
            let n = documents as f64;
            let w: Vec<f32> = tokens
                .iter()
                .map(|t| {
                    let df = doc_counts.get(t).copied().unwrap_or(0) as f64;
                    (1.0 + n / (1.0 + df)).ln() as f32
                })
                .collect();
            let mean = (w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64) as f32;
            let mut full = vec![mean; self.token_start()];
            full.extend(w);
            self.pad_idf(&mut full);
            Some(full)
        } else {
            None
        };
        let l = Lookup::new(tokens, self.token_start(), idf);
        self.check_size(self.frozen_size()?, &l)?;
        self.lookup = OnceLock::from(l);
        Ok(())
    }

    /// Replaces the vocabulary (and in `"tf_idf"` mode the idf weights, one per entry of
    /// `vocabulary`), as Keras's `set_vocabulary`. The special tokens may lead `vocabulary`
    /// (`["", "[UNK]", …]` in `"int"` mode, `["[UNK]", …]` otherwise) or be left out; left
    /// out, their idf weight is the mean of the given ones.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new();
    /// tv.set_vocabulary(&["", "[UNK]", "a", "b"], None)?;
    /// assert_eq!(tv.call(&["b a c"])?.to_vec::<i64>()?, [3, 2, 1]);
    /// assert!(tv.set_vocabulary(&["a", "a"], None).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// An empty vocabulary, repeated tokens, `""` anywhere but at the front, more entries
    /// than `max_tokens`, idf weights missing in `"tf_idf"` mode, given in another mode, or of
    /// another length than the vocabulary, or (in the dense modes without
    /// `pad_to_max_tokens`) a vocabulary of another size than the layer's previous one.
    pub fn set_vocabulary<S: AsRef<str>>(
        &mut self,
        vocabulary: &[S],
        idf_weights: Option<&[f64]>,
    ) -> Result<()> {
        self.validate()?;
        let v: Vec<String> = vocabulary.iter().map(|s| s.as_ref().to_string()).collect();
        let l = self.make_lookup(&v, idf_weights)?;
        self.check_size(self.frozen_size()?, &l)?;
        self.lookup = OnceLock::from(l);
        Ok(())
    }

    /// The vocabulary in index order; with `include_special_tokens` it starts with `""` and
    /// `"[UNK]"` in `"int"` mode, `"[UNK]"` otherwise, so a token's position is its index.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().output_mode("count")?.vocabulary(&["a"]);
    /// assert_eq!(tv.get_vocabulary(true)?, ["[UNK]", "a"]);
    /// assert_eq!(tv.get_vocabulary(false)?, ["a"]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// Before [`TextVectorization::adapt`] or a vocabulary, or for an invalid given vocabulary.
    pub fn get_vocabulary(&self, include_special_tokens: bool) -> Result<Vec<String>> {
        let l = self.lookup()?;
        let mut v = if include_special_tokens {
            self.special_tokens()
        } else {
            Vec::new()
        };
        v.extend(l.tokens.iter().cloned());
        Ok(v)
    }

    /// The vocabulary size with the special tokens (the `input_dim` an `Embedding` after this
    /// layer needs in `"int"` mode).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().vocabulary(&["a", "b"]);
    /// assert_eq!(tv.vocabulary_size()?, 4);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`TextVectorization::get_vocabulary`].
    pub fn vocabulary_size(&self) -> Result<usize> {
        Ok(self.token_start() + self.lookup()?.tokens.len())
    }

    /// The TF-IDF weights, one per output column (`"tf_idf"` mode; `None` otherwise).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new().output_mode("tf_idf")?;
    /// tv.adapt(&["a b", "a"])?;
    /// let w = tv.get_idf_weights()?.unwrap();
    /// assert!((w[1] - (1.0f32 + 2.0 / 3.0).ln()).abs() < 1e-6); // "a": in both documents
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`TextVectorization::get_vocabulary`].
    pub fn get_idf_weights(&self) -> Result<Option<Vec<f32>>> {
        Ok(self.lookup()?.idf.clone())
    }

    /// The output width in the dense modes.
    fn depth(&self, l: &Lookup) -> usize {
        match (self.pad_to_max_tokens, self.max_tokens) {
            (true, Some(m)) => m,
            _ => self.token_start() + l.tokens.len(),
        }
    }

    /// Each string's token indices, unpadded (Keras's `ragged=True` output in `"int"` mode;
    /// in the other modes the indices the counts are taken over, mask tokens left out).
    /// [`keras::datasets::utils::pad_sequences`](crate::datasets::utils::pad_sequences) pads
    /// them Keras's other way (at the front by default).
    ///
    /// ```
    /// use keras::datasets::utils::{pad_sequences, PadArgs};
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().vocabulary(&["a", "b"]);
    /// let ids = tv.call_ragged(&["a b c", ""])?;
    /// assert_eq!(ids, [vec![2, 3, 1], vec![]]);
    /// let x = pad_sequences(&ids, PadArgs::default()).unwrap();
    /// assert_eq!(x.to_vec::<i32>()?, [2, 3, 1, 0, 0, 0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`TextVectorization::call`].
    pub fn call_ragged<S: AsRef<str>>(&self, inputs: &[S]) -> Result<Vec<Vec<i64>>> {
        let l = self.lookup()?;
        let oov = self.oov_index();
        let int = self.output_mode == OutputMode::Int;
        Ok(inputs
            .iter()
            .map(|s| {
                self.tokenize(s.as_ref())
                    .iter()
                    .filter_map(|t| {
                        if t == MASK_TOKEN {
                            // The mask maps to 0 in int mode and is dropped otherwise.
                            return int.then_some(0);
                        }
                        Some(l.index.get(t).copied().unwrap_or(oov) as i64)
                    })
                    .collect()
            })
            .collect())
    }

    /// Vectorizes a batch of strings, one example per string.
    ///
    /// # Shapes
    /// - `"int"`: int64 `(batch, length)`, `length` the longest example's token count or
    ///   `output_sequence_length`; shorter examples are padded with 0 at the end.
    /// - `"multi_hot"`, `"count"`, `"tf_idf"`: float32 `(batch, depth)`, `depth` the vocabulary
    ///   size, or `max_tokens` with `pad_to_max_tokens`.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let mut tv = TextVectorization::new();
    /// tv.adapt(&["the cat", "the hat"])?;
    /// let x = tv.call(&["The Cat!", "a hat, the end"])?;
    /// assert_eq!(x.shape(), &[2, 4]);
    /// assert_eq!(x.to_vec::<i64>()?, [2, 4, 0, 0, 1, 3, 2, 1]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// Before [`TextVectorization::adapt`] or a vocabulary, or for invalid options.
    pub fn call<S: AsRef<str>>(&self, inputs: &[S]) -> Result<Tensor> {
        self.validate()?;
        let l = self.lookup()?;
        let ids = self.call_ragged(inputs)?;
        let n = inputs.len();
        let cpu = Device::Cpu;
        if self.output_mode == OutputMode::Int {
            let len = self
                .output_sequence_length
                .unwrap_or_else(|| ids.iter().map(Vec::len).max().unwrap_or(0));
            let mut out = vec![0i64; n * len];
            for (row, s) in out.chunks_mut(len.max(1)).zip(&ids) {
                let k = s.len().min(len);
                row[..k].copy_from_slice(&s[..k]);
            }
            return Tensor::from_vec(out, &[n, len], &cpu);
        }
        let depth = self.depth(l);
        let mut out = vec![0f32; n * depth];
        for (row, s) in out.chunks_mut(depth.max(1)).zip(&ids) {
            for &i in s {
                // Indices past the output width are dropped, as TensorFlow's bincount does.
                if let Some(c) = row.get_mut(i as usize) {
                    *c += 1.0;
                }
            }
            match self.output_mode {
                OutputMode::MultiHot => row.iter_mut().for_each(|c| *c = c.min(1.0)),
                OutputMode::TfIdf => {
                    let idf = l.idf.as_deref().unwrap_or(&[]);
                    for (c, w) in row.iter_mut().zip(idf.iter().chain(std::iter::repeat(&0.0))) {
                        *c *= *w;
                    }
                }
                _ => {}
            }
        }
        Tensor::from_vec(out, &[n, depth], &cpu)
    }

    /// Keras's `get_config`: `name`, `trainable`, `dtype`, `max_tokens`, `standardize`,
    /// `split`, `ngrams`, `output_mode`, `output_sequence_length`, `pad_to_max_tokens`,
    /// `sparse`, `ragged`, `vocabulary` and `idf_weights` (only as given at construction; an
    /// adapted vocabulary goes to [`TextVectorization::save_assets`]), `encoding`,
    /// `vocabulary_size`.
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let tv = TextVectorization::new().ngrams(2).vocabulary(&["a"]);
    /// let c = tv.get_config();
    /// assert_eq!(c["ngrams"], 2);
    /// assert_eq!(c["vocabulary_size"], 3);
    /// let again = TextVectorization::from_config(&c)?;
    /// assert_eq!(again.get_config(), c);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn get_config(&self) -> Value {
        let vocabulary_size = match self.lookup() {
            Ok(l) => self.token_start() + l.tokens.len(),
            Err(_) => self.config_vocabulary_size.unwrap_or(self.token_start()),
        };
        json!({
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {"module": "keras", "class_name": "DTypePolicy",
                      "config": {"name": "float32"}, "registered_name": null},
            "max_tokens": self.max_tokens,
            "standardize": self.standardize.map(Standardize::as_str),
            "split": self.split.map(Split::as_str),
            "ngrams": self.ngrams.as_ref().map(Ngrams::to_config),
            "output_mode": self.output_mode.as_str(),
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "sparse": self.sparse,
            "ragged": self.ragged,
            "vocabulary": self.input_vocabulary,
            "idf_weights": self.input_idf_weights,
            "encoding": "utf-8",
            "vocabulary_size": vocabulary_size,
        })
    }

    /// Rebuilds from a Keras config (the keys of [`TextVectorization::get_config`]; absent
    /// keys take Keras's defaults).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// use serde_json::json;
    /// let tv = TextVectorization::from_config(&json!({"output_mode": "multi_hot", "max_tokens": 10}))?;
    /// assert_eq!(tv.get_config()["output_mode"], "multi_hot");
    /// let bad = json!({"output_mode": "count", "output_sequence_length": 4});
    /// assert!(TextVectorization::from_config(&bad).is_err());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For unknown keys, values of the wrong type, unknown option names, callables,
    /// an encoding other than UTF-8, or invalid combinations.
    pub fn from_config(c: &Value) -> Result<TextVectorization> {
        let op = "TextVectorization.from_config";
        let Some(m) = c.as_object() else {
            return Err(error(op, format!("expected a JSON object, got {c}")));
        };
        const KEYS: &[&str] = &[
            "name",
            "trainable",
            "dtype",
            "max_tokens",
            "standardize",
            "split",
            "ngrams",
            "output_mode",
            "output_sequence_length",
            "pad_to_max_tokens",
            "sparse",
            "ragged",
            "vocabulary",
            "idf_weights",
            "encoding",
            "vocabulary_size",
            "has_input_vocabulary",
        ];
        if let Some(k) = m.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(error(op, format!("unrecognized config key {k:?}")));
        }
        let get = |k: &str| c.get(k).filter(|v| !v.is_null());
        let bad = |k: &str, want: &str| error(op, format!("field {k:?}: expected {want}, got {}", c[k]));
        let opt_usize = |k: &str| -> Result<Option<usize>> {
            get(k)
                .map(|v| {
                    v.as_u64()
                        .map(|n| n as usize)
                        .ok_or_else(|| bad(k, "a non-negative integer"))
                })
                .transpose()
        };
        let flag = |k: &str| -> Result<bool> {
            get(k)
                .map(|v| v.as_bool().ok_or_else(|| bad(k, "a boolean")))
                .transpose()
                .map(|b| b.unwrap_or(false))
        };
        let string_option = |k: &str, default: &'static str| -> Result<Option<String>> {
            match c.get(k) {
                None => Ok(Some(default.to_string())),
                Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(error(
                    op,
                    format!("field {k:?}: callables are not supported, only Keras's named options"),
                )),
            }
        };
        let mut tv = TextVectorization::new();
        tv.standardize = string_option("standardize", "lower_and_strip_punctuation")?
            .map(|s| s.parse())
            .transpose()?;
        tv.split = string_option("split", "whitespace")?
            .map(|s| s.parse())
            .transpose()?;
        if let Some(mode) = get("output_mode") {
            tv.output_mode = mode
                .as_str()
                .ok_or_else(|| bad("output_mode", "a string"))?
                .parse()?;
        }
        tv.max_tokens = opt_usize("max_tokens")?;
        tv.output_sequence_length = opt_usize("output_sequence_length")?;
        tv.pad_to_max_tokens = flag("pad_to_max_tokens")?;
        tv.sparse = flag("sparse")?;
        tv.ragged = flag("ragged")?;
        tv.ngrams = match get("ngrams") {
            None => None,
            Some(Value::Array(a)) => Some(Ngrams::Widths(
                a.iter()
                    .map(|v| v.as_u64().map(|n| n as usize))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("ngrams", "null, an integer or a list of integers"))?,
            )),
            Some(v) => Some(Ngrams::UpTo(
                v.as_u64()
                    .ok_or_else(|| bad("ngrams", "null, an integer or a list of integers"))?
                    as usize,
            )),
        };
        tv.input_vocabulary = match get("vocabulary") {
            None => None,
            Some(Value::String(p)) => {
                return Err(error(
                    op,
                    format!(
                        "field \"vocabulary\": a vocabulary file path ({p:?}) is not read from a config; \
                         use load_assets or set_vocabulary"
                    ),
                ))
            }
            Some(v) => Some(
                serde_json::from_value::<Vec<String>>(v.clone())
                    .map_err(|_| bad("vocabulary", "a list of strings"))?,
            ),
        };
        tv.input_idf_weights = get("idf_weights")
            .map(|v| {
                serde_json::from_value::<Vec<f64>>(v.clone())
                    .map_err(|_| bad("idf_weights", "a list of numbers"))
            })
            .transpose()?;
        if let Some(e) = get("encoding") {
            let e = e.as_str().ok_or_else(|| bad("encoding", "a string"))?;
            if !matches!(e.to_ascii_lowercase().as_str(), "utf-8" | "utf8") {
                return Err(error(
                    op,
                    format!("encoding {e:?} is not supported, only \"utf-8\""),
                ));
            }
        }
        if let Some(h) = get("has_input_vocabulary") {
            h.as_bool()
                .ok_or_else(|| bad("has_input_vocabulary", "a boolean"))?;
        }
        tv.name = config_name(c, "text_vectorization")?;
        tv.trainable = get("trainable")
            .map(|v| v.as_bool().ok_or_else(|| bad("trainable", "a boolean")))
            .transpose()?
            .unwrap_or(true);
        tv.config_vocabulary_size = opt_usize("vocabulary_size")?;
        tv.validate()?;
        Ok(tv)
    }

    /// Writes the vocabulary to `dir/vocabulary.txt`, one token per line, as Keras's
    /// `save_assets` (the `assets/` of a `.keras` file); nothing when the vocabulary was given
    /// at construction (it is in the config then). In `"tf_idf"` mode the weights go to
    /// `dir/idf_weights.txt`, one per line (Keras keeps them with the layer's variables).
    ///
    /// ```
    /// use keras::layers::TextVectorization;
    /// let dir = std::env::temp_dir().join(format!("tv_doc_{}", std::process::id()));
    /// let mut tv = TextVectorization::new();
    /// tv.adapt(&["b a a"])?;
    /// tv.save_assets(&dir)?;
    /// let mut again = TextVectorization::new();
    /// again.load_assets(&dir)?;
    /// assert_eq!(again.get_vocabulary(true)?, tv.get_vocabulary(true)?);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// Before a vocabulary exists, or when the files cannot be written.
    pub fn save_assets(&self, dir: impl AsRef<Path>) -> Result<()> {
        if self.input_vocabulary.is_some() {
            return Ok(());
        }
        let dir = dir.as_ref();
        let io =
            |e: std::io::Error| error("TextVectorization.save_assets", format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let vocab = self.get_vocabulary(true)?;
        write_replacing(&dir.join(VOCABULARY_FILE), &vocab.join("\n")).map_err(io)?;
        if let Some(w) = self.get_idf_weights()? {
            let lines: Vec<String> = w.iter().map(|x| format!("{x:?}")).collect();
            write_replacing(&dir.join(IDF_FILE), &lines.join("\n")).map_err(io)?;
        }
        Ok(())
    }

    /// Reads the vocabulary that [`TextVectorization::save_assets`] (or Keras) wrote to
    /// `dir/vocabulary.txt` and sets it, as Keras's `load_assets`: lines as Python's
    /// `splitlines` cuts them, trailing empty lines dropped. In `"tf_idf"` mode the weights
    /// come from `dir/idf_weights.txt` when present, else the layer's current ones. Nothing
    /// happens when the vocabulary was given at construction.
    ///
    /// # Errors
    /// When the file cannot be read, or as [`TextVectorization::set_vocabulary`].
    pub fn load_assets(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        if self.input_vocabulary.is_some() {
            return Ok(());
        }
        let dir = dir.as_ref();
        let path = dir.join(VOCABULARY_FILE);
        let io = |p: &Path, e: std::io::Error| {
            error("TextVectorization.load_assets", format!("{}: {e}", p.display()))
        };
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let mut lines = python_splitlines(&text);
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let idf: Option<Vec<f64>> = if self.output_mode == OutputMode::TfIdf {
            let p = dir.join(IDF_FILE);
            if p.exists() {
                let t = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
                Some(
                    t.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| l.trim().parse::<f64>())
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|e| {
                            error("TextVectorization.load_assets", format!("{}: {e}", p.display()))
                        })?,
                )
            } else {
                let current = self.lookup.get().and_then(|l| l.idf.clone()).ok_or_else(|| {
                    error(
                        "TextVectorization.load_assets",
                        format!(
                            "tf_idf mode needs idf weights: neither {} nor current weights",
                            p.display()
                        ),
                    )
                })?;
                Some(current.iter().map(|&x| x as f64).collect())
            }
        } else {
            None
        };
        // Keras passes the full weight vector (special tokens included) with the vocabulary.
        let idf = idf.map(|mut w| {
            w.truncate(lines.len());
            w
        });
        self.set_vocabulary(&lines, idf.as_deref())
    }
}

impl Lookup {
    fn new(tokens: Vec<String>, start: usize, idf: Option<Vec<f32>>) -> Lookup {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), start + i))
            .collect();
        Lookup { tokens, index, idf }
    }
}

/// The characters Keras's `strip_punctuation` removes: its regular expression
/// `[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']` (the range `,-\.` includes `-`), which is all of
/// ASCII punctuation.
fn is_keras_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// The whitespace `tf.strings.split` splits on: C's `isspace` in the ASCII range.
fn is_tf_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Python's `str.splitlines()` (without the line ends).
fn python_splitlines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push(std::mem::take(&mut cur))
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`.
fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_is_kerass_regex_class() {
        // The class of `[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']`, unescaped; `,-\.` is the
        // range from ',' to '.'.
        let class = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'";
        for b in 0u8..128 {
            let c = b as char;
            assert_eq!(is_keras_punctuation(c), class.contains(c), "{c:?}");
        }
        assert!(!is_keras_punctuation('¿') && !is_keras_punctuation('—'));
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(python_splitlines(""), Vec::<String>::new());
        assert_eq!(python_splitlines("\n"), [""]);
        assert_eq!(python_splitlines("\n[UNK]\na"), ["", "[UNK]", "a"]);
        assert_eq!(
            python_splitlines("a\r\nb\rc\u{2028}d\n\n"),
            ["a", "b", "c", "d", ""]
        );
    }

    #[test]
    fn tokenize_steps() {
        let tv = TextVectorization::new();
        assert_eq!(
            tv.tokenize("  ÜBER Straße,\tNAÏVE\u{a0}x "),
            ["Über", "straße", "naÏve\u{a0}x"]
        );
        let tv = TextVectorization::new().split(None).unwrap().ngrams(2);
        assert_eq!(tv.tokenize("A b"), ["a b"]);
        let tv = TextVectorization::new()
            .split(Some("character"))
            .unwrap()
            .ngram_widths(&[3, 1]);
        assert_eq!(tv.tokenize("ab😀"), ["a b 😀", "a", "b", "😀"]);
        let tv = TextVectorization::new().standardize(None).unwrap();
        assert_eq!(tv.tokenize("It's [UNK]"), ["It's", "[UNK]"]);
    }
}
