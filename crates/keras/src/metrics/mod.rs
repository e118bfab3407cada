//! Stateful metrics with Keras 3's names, arguments and update/result formulas
//! (`keras/src/metrics/`). State is accumulated in `f64` on the host; per-batch math runs
//! under [`keras_tensor::no_grad`].
//!
//! ```
//! use keras::metrics::{Metric, SparseCategoricalAccuracy};
//! use keras_tensor::Tensor;
//! let mut m = SparseCategoricalAccuracy::new();
//! m.update_state(&Tensor::new(&[2i64, 1], &[2])?, &Tensor::new(&[0.1f32, 0.6, 0.3, 0.05, 0.95, 0.0], &[2, 3])?, None)?;
//! assert_eq!(m.result()?, 0.5);
//! m.reset_state();
//! assert_eq!(m.result()?, 0.0);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

use crate::losses::{self, squeeze_or_expand_to_same_rank, Loss};
use keras_tensor::{no_grad, DType, Error, Result, Tensor, EPSILON};
use serde_json::{json, Map, Value};

mod confusion;

pub use confusion::{confusion_matrix, FBetaScore, Precision, Recall, AUC};

fn invalid(op: &'static str, msg: impl Into<String>) -> Error {
    Error::InvalidArgument { op, msg: msg.into() }
}

/// A stateful metric: batches are folded in with [`Metric::update_state`], the value read
/// with [`Metric::result`].
pub trait Metric: Send {
    /// The Keras class name (`"SparseCategoricalAccuracy"`).
    fn class_name(&self) -> &'static str;

    /// The instance name (shown in logs and `History`).
    fn name(&self) -> &str;

    /// Renames the instance (Keras's `compile` names a metric after its identifier).
    fn set_name(&mut self, name: &str);

    /// Folds in one batch.
    ///
    /// # Errors
    /// When the shapes do not fit.
    fn update_state(
        &mut self,
        y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
    ) -> Result<()>;

    /// The current value.
    ///
    /// # Errors
    /// For a metric whose value is not a scalar (F1/FBeta with `average = None`, Precision
    /// with several thresholds): use [`Metric::result_tensor`].
    fn result(&self) -> Result<f64>;

    /// The current value as a tensor (a vector for per-class or per-threshold results).
    ///
    /// # Errors
    /// As [`Metric::result`].
    fn result_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::scalar(self.result()? as f32))
    }

    /// [`Metric::update_state`] for a prediction carrying a Keras mask. Keras's
    /// `MeanMetricWrapper` metrics (accuracies, `mae`, …) weigh each value by the mask;
    /// the others ignore it, as this default does.
    ///
    /// ```
    /// use keras::metrics::{self, Metric};
    /// use keras_tensor::Tensor;
    /// let mut m = metrics::get("mae", None)?;
    /// let y = Tensor::new(&[0.0f32; 3], &[1, 3, 1])?;
    /// let p = Tensor::new(&[1.0f32, 3.0, 100.0], &[1, 3, 1])?;
    /// let mask = Tensor::new(&[true, true, false], &[1, 3])?;
    /// m.update_state_masked(&y, &p, None, Some(&mask))?;
    /// assert_eq!(m.result()?, 2.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Metric::update_state`].
    fn update_state_masked(
        &mut self,
        y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
        _mask: Option<&Tensor>,
    ) -> Result<()> {
        self.update_state(y_true, y_pred, sample_weight)
    }

    /// Clears the state.
    fn reset_state(&mut self);

    /// Keras's `get_config()`.
    fn get_config(&self) -> Value;
}

fn f32_of(t: &Tensor) -> Result<Tensor> {
    if t.dtype() == DType::F32 {
        Ok(t.clone())
    } else {
        t.cast(DType::F32)
    }
}

fn sum_f64(t: &Tensor) -> Result<f64> {
    Ok(t.to_vec_f64()?.iter().sum())
}

fn axes_from(start: usize, rank: usize) -> Vec<isize> {
    (start..rank).map(|a| a as isize).collect()
}

/// Keras's `reduce_to_samplewise_values`, `mean` or `sum` flavour: returns the weighted
/// per-sample values and the per-sample weights.
fn samplewise(
    values: &Tensor,
    sample_weight: Option<&Tensor>,
    mean: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let reduce = |t: &Tensor, axes: &[isize]| {
        if mean {
            t.mean(axes, false)
        } else {
            t.sum(axes, false)
        }
    };
    let mut values = f32_of(values)?;
    let mut weight = None;
    if let Some(sw) = sample_weight {
        let sw = f32_of(sw)?;
        let (v, w) = squeeze_or_expand_to_same_rank(&values, &sw, true)?;
        values = v;
        let (wr, vr) = (w.rank(), values.rank());
        if vr > wr {
            values = reduce(&values, &axes_from(wr, vr))?;
        }
        let w = w.broadcast_to(values.shape())?;
        values = values.mul(&w)?;
        weight = Some(if wr > 1 { reduce(&w, &axes_from(1, wr))? } else { w });
    }
    if values.rank() > 1 {
        values = reduce(&values, &axes_from(1, values.rank()))?;
    }
    Ok((values, weight))
}

/// The weighted mean of values: `total / count` (Keras's `Mean`).
///
/// ```
/// use keras::metrics::Mean;
/// use keras_tensor::Tensor;
/// let mut m = Mean::new();
/// m.update_values(&Tensor::new(&[1.0f32, 3.0], &[2])?, None)?;
/// m.update_values(&Tensor::new(&[5.0f32], &[1])?, Some(&Tensor::new(&[2.0f32], &[1])?))?;
/// assert_eq!(m.value(), (1.0 + 3.0 + 10.0) / 4.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mean {
    name: String,
    total: f64,
    count: f64,
}

impl Default for Mean {
    fn default() -> Self {
        Mean {
            name: "mean".into(),
            total: 0.0,
            count: 0.0,
        }
    }
}

impl Mean {
    /// A `Mean` named `"mean"`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Folds in values (any shape: each sample's values are averaged first) with optional
    /// weights.
    ///
    /// # Errors
    /// When the weights do not broadcast against the values.
    pub fn update_values(&mut self, values: &Tensor, sample_weight: Option<&Tensor>) -> Result<()> {
        no_grad(|| {
            let (v, w) = samplewise(values, sample_weight, true)?;
            self.total += sum_f64(&v)?;
            self.count += match w {
                Some(w) => sum_f64(&w)?,
                None if v.rank() >= 1 => v.shape()[0] as f64,
                None => 1.0,
            };
            Ok(())
        })
    }

    /// `total / count`, 0 when nothing was counted.
    pub fn value(&self) -> f64 {
        if self.count == 0.0 {
            0.0
        } else {
            self.total / self.count
        }
    }
}

impl Metric for Mean {
    fn class_name(&self) -> &'static str {
        "Mean"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }
    /// Treats `y_pred` as the values (`y_true` is ignored), so that a `Mean` can track a
    /// loss in a metrics list.
    fn update_state(
        &mut self,
        _y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
    ) -> Result<()> {
        self.update_values(y_pred, sample_weight)
    }
    fn result(&self) -> Result<f64> {
        Ok(self.value())
    }
    fn reset_state(&mut self) {
        self.total = 0.0;
        self.count = 0.0;
    }
    fn get_config(&self) -> Value {
        json!({"name": self.name, "dtype": "float32"})
    }
}

/// The weighted sum of values (Keras's `Sum`).
///
/// ```
/// use keras::metrics::Sum;
/// use keras_tensor::Tensor;
/// let mut m = Sum::new();
/// m.update_values(&Tensor::new(&[1.0f32, 3.0], &[2])?, None)?;
/// assert_eq!(m.value(), 4.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sum {
    name: String,
    total: f64,
}

impl Default for Sum {
    fn default() -> Self {
        Sum {
            name: "sum".into(),
            total: 0.0,
        }
    }
}

impl Sum {
    /// A `Sum` named `"sum"`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds in values with optional weights.
    ///
    /// # Errors
    /// When the weights do not broadcast against the values.
    pub fn update_values(&mut self, values: &Tensor, sample_weight: Option<&Tensor>) -> Result<()> {
        no_grad(|| {
            let (v, _) = samplewise(values, sample_weight, false)?;
            self.total += sum_f64(&v)?;
            Ok(())
        })
    }

    /// The sum so far.
    pub fn value(&self) -> f64 {
        self.total
    }
}

impl Metric for Sum {
    fn class_name(&self) -> &'static str {
        "Sum"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }
    /// Treats `y_pred` as the values (`y_true` is ignored).
    fn update_state(
        &mut self,
        _y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
    ) -> Result<()> {
        self.update_values(y_pred, sample_weight)
    }
    fn result(&self) -> Result<f64> {
        Ok(self.total)
    }
    fn reset_state(&mut self) {
        self.total = 0.0;
    }
    fn get_config(&self) -> Value {
        json!({"name": self.name, "dtype": "float32"})
    }
}

type ValuesFn = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor> + Send + Sync>;

/// A [`Mean`] of per-sample values computed by a function of `(y_true, y_pred)` (Keras's
/// `MeanMetricWrapper`): the accuracies, the regression metrics and losses used as metrics.
pub struct MeanMetricWrapper {
    class_name: &'static str,
    mean: Mean,
    f: ValuesFn,
    config: Map<String, Value>,
    sqrt: bool,
}

impl MeanMetricWrapper {
    fn new(class_name: &'static str, name: &str, config: Map<String, Value>, f: ValuesFn) -> Self {
        MeanMetricWrapper {
            class_name,
            mean: Mean::new().name(name),
            f,
            config,
            sqrt: false,
        }
    }

    /// A metric averaging a loss's unreduced values (Keras's `metrics=["categorical_crossentropy"]`).
    ///
    /// ```
    /// use keras::metrics::{Metric, MeanMetricWrapper};
    /// use keras_tensor::Tensor;
    /// let mut m = MeanMetricWrapper::from_loss(keras::losses::get("mse")?);
    /// m.update_state(&Tensor::new(&[0.0f32, 1.0], &[2, 1])?, &Tensor::new(&[1.0f32, 1.0], &[2, 1])?, None)?;
    /// assert_eq!(m.result()?, 0.5);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn from_loss(loss: Box<dyn Loss>) -> Self {
        let name = loss.name().to_string();
        let config = loss.get_config().as_object().cloned().unwrap_or_default();
        MeanMetricWrapper::new(
            "MeanMetricWrapper",
            &name,
            config,
            Box::new(move |t, p| loss.values(t, p)),
        )
    }
}

impl Metric for MeanMetricWrapper {
    fn class_name(&self) -> &'static str {
        self.class_name
    }
    fn name(&self) -> &str {
        &self.mean.name
    }
    fn set_name(&mut self, name: &str) {
        self.mean.name = name.into();
    }
    fn update_state(
        &mut self,
        y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
    ) -> Result<()> {
        let values = no_grad(|| (self.f)(y_true, y_pred))?;
        self.mean.update_values(&values, sample_weight)
    }
    /// The mask weighs each value (Keras's `apply_mask` with `reduction="sum"`), except for
    /// `RootMeanSquaredError`, which Keras computes without it.
    fn update_state_masked(
        &mut self,
        y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        if self.sqrt || mask.is_none() {
            return self.update_state(y_true, y_pred, sample_weight);
        }
        let w = losses::apply_mask(sample_weight, mask, DType::F32, losses::Reduction::Sum)?;
        self.update_state(y_true, y_pred, w.as_ref())
    }
    fn result(&self) -> Result<f64> {
        let v = self.mean.value();
        Ok(if self.sqrt { v.sqrt() } else { v })
    }
    fn reset_state(&mut self) {
        self.mean.reset_state();
    }
    fn get_config(&self) -> Value {
        let mut m = self.config.clone();
        m.insert("name".into(), json!(self.mean.name));
        m.insert("dtype".into(), json!("float32"));
        Value::Object(m)
    }
}

// ----- per-sample functions -----------------------------------------------------------

fn matches(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.eq(b)?.cast(DType::F32)
}

/// Keras's `accuracy`: elementwise equality.
fn accuracy(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let p = f32_of(y_pred)?;
    let (t, p) = squeeze_or_expand_to_same_rank(&y_true.cast(p.dtype())?, &p, true)?;
    matches(&t, &p)
}

fn binary_accuracy(y_true: &Tensor, y_pred: &Tensor, threshold: f64) -> Result<Tensor> {
    let (t, p) = squeeze_or_expand_to_same_rank(&f32_of(y_true)?, &f32_of(y_pred)?, true)?;
    let p = p.gt(&p.scalar_like(threshold)?)?.cast(DType::F32)?;
    matches(&t, &p)
}

fn categorical_accuracy(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let t = y_true.argmax(-1, false)?;
    let p = y_pred.argmax(-1, false)?;
    matches(&t, &p)
}

fn sparse_categorical_accuracy(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let mut t = f32_of(y_true)?;
    if t.rank() == y_pred.rank() && t.shape().last() == Some(&1) {
        t = t.squeeze(&[-1])?;
    }
    let p = y_pred.argmax(-1, false)?.cast(DType::F32)?;
    matches(&t, &p)
}

/// `rank of the label's score <= k`, rank counting strictly greater scores (Keras's
/// `in_top_k`; a NaN score at the label counts as `-inf`).
fn in_top_k(labels: &Tensor, y_pred: &Tensor, k: usize) -> Result<Tensor> {
    let c = y_pred.dim(-1)?;
    let p = f32_of(y_pred)?.reshape(&[-1, c as isize])?;
    let l = labels.cast(DType::I64)?.reshape(&[-1, 1])?;
    let at = p.gather(&l, -1)?;
    let nan = at.ne(&at)?;
    let at = Tensor::where_cond(&nan, &at.scalar_like(f64::NEG_INFINITY)?, &at)?;
    let above = p.gt(&at)?.cast(DType::F32)?.sum(&[-1], false)?;
    let hit = above.lt(&above.scalar_like(k as f64)?)?.cast(DType::F32)?;
    hit.reshape_to(labels.shape())
}

fn top_k_categorical_accuracy(y_true: &Tensor, y_pred: &Tensor, k: usize) -> Result<Tensor> {
    in_top_k(&y_true.argmax(-1, false)?, y_pred, k)
}

fn sparse_top_k_categorical_accuracy(y_true: &Tensor, y_pred: &Tensor, k: usize) -> Result<Tensor> {
    let labels = if y_true.dtype().is_int() {
        y_true.clone()
    } else {
        y_true.cast(DType::I64)?
    };
    in_top_k(&labels, y_pred, k)
}

fn squared_error(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let (t, p) = squeeze_or_expand_to_same_rank(&f32_of(y_true)?, &f32_of(y_pred)?, true)?;
    p.sub(&t)?.square()
}

fn no_config() -> Map<String, Value> {
    Map::new()
}

macro_rules! wrapper_ctor {
    ($(#[$doc:meta])* $fn_name:ident, $class:literal, $default:literal, $f:expr) => {
        $(#[$doc])*
        #[allow(non_snake_case)]
        pub fn $fn_name() -> MeanMetricWrapper {
            MeanMetricWrapper::new($class, $default, no_config(), Box::new($f))
        }
    };
}

/// Constructors of the `MeanMetricWrapper` metrics, named after Keras's classes.
///
/// ```
/// use keras::metrics::{wrappers, Metric};
/// use keras_tensor::Tensor;
/// let mut m = wrappers::BinaryAccuracy(0.5);
/// m.update_state(&Tensor::new(&[1.0f32, 0.0], &[2, 1])?, &Tensor::new(&[0.7f32, 0.6], &[2, 1])?, None)?;
/// assert_eq!(m.result()?, 0.5);
/// assert_eq!(m.name(), "binary_accuracy");
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub mod wrappers {
    use super::*;

    wrapper_ctor!(
        /// Keras's `Accuracy`: how often `y_pred == y_true`.
        Accuracy, "Accuracy", "accuracy", accuracy
    );
    wrapper_ctor!(
        /// Keras's `CategoricalAccuracy`: `argmax(y_true) == argmax(y_pred)`.
        CategoricalAccuracy, "CategoricalAccuracy", "categorical_accuracy", categorical_accuracy
    );
    wrapper_ctor!(
        /// Keras's `SparseCategoricalAccuracy`: `y_true == argmax(y_pred)`.
        SparseCategoricalAccuracy,
        "SparseCategoricalAccuracy",
        "sparse_categorical_accuracy",
        sparse_categorical_accuracy
    );
    wrapper_ctor!(
        /// Keras's `MeanSquaredError` metric.
        MeanSquaredError, "MeanSquaredError", "mean_squared_error",
        |t: &Tensor, p: &Tensor| losses::MeanSquaredError::new().values(t, p)
    );
    wrapper_ctor!(
        /// Keras's `MeanAbsoluteError` metric.
        MeanAbsoluteError, "MeanAbsoluteError", "mean_absolute_error",
        |t: &Tensor, p: &Tensor| losses::MeanAbsoluteError::new().values(t, p)
    );

    /// Keras's `BinaryAccuracy`: how often `(y_pred > threshold) == y_true`.
    #[allow(non_snake_case)]
    pub fn BinaryAccuracy(threshold: f64) -> MeanMetricWrapper {
        let mut c = no_config();
        c.insert("threshold".into(), json!(threshold));
        MeanMetricWrapper::new(
            "BinaryAccuracy",
            "binary_accuracy",
            c,
            Box::new(move |t, p| binary_accuracy(t, p, threshold)),
        )
    }

    /// Keras's `TopKCategoricalAccuracy`: one-hot `y_true`'s class among the `k` top scores.
    #[allow(non_snake_case)]
    pub fn TopKCategoricalAccuracy(k: usize) -> MeanMetricWrapper {
        let mut c = no_config();
        c.insert("k".into(), json!(k));
        MeanMetricWrapper::new(
            "TopKCategoricalAccuracy",
            "top_k_categorical_accuracy",
            c,
            Box::new(move |t, p| top_k_categorical_accuracy(t, p, k)),
        )
    }

    /// Keras's `SparseTopKCategoricalAccuracy`: integer `y_true` among the `k` top scores.
    #[allow(non_snake_case)]
    pub fn SparseTopKCategoricalAccuracy(k: usize) -> MeanMetricWrapper {
        let mut c = no_config();
        c.insert("k".into(), json!(k));
        MeanMetricWrapper::new(
            "SparseTopKCategoricalAccuracy",
            "sparse_top_k_categorical_accuracy",
            c,
            Box::new(move |t, p| sparse_top_k_categorical_accuracy(t, p, k)),
        )
    }

    /// Keras's `RootMeanSquaredError`: `sqrt` of the weighted mean squared error.
    #[allow(non_snake_case)]
    pub fn RootMeanSquaredError() -> MeanMetricWrapper {
        let mut m = MeanMetricWrapper::new(
            "RootMeanSquaredError",
            "root_mean_squared_error",
            no_config(),
            Box::new(squared_error),
        );
        m.sqrt = true;
        m
    }
}

/// Shorthands returning the wrapper metrics with Keras's defaults (`k = 5`, `threshold = 0.5`).
pub struct SparseCategoricalAccuracy;

impl SparseCategoricalAccuracy {
    /// `wrappers::SparseCategoricalAccuracy()`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> MeanMetricWrapper {
        wrappers::SparseCategoricalAccuracy()
    }
}

// ----- lookup ---------------------------------------------------------------------------

/// The accuracy Keras's `compile` picks for `"accuracy"`/`"acc"`, from the shapes of a batch
/// of `y_true` and `y_pred` (`compile_utils.is_binary_or_sparse_categorical`): binary when
/// `y_pred`'s last axis is 1; sparse categorical when `y_true` has lower rank, or a last
/// axis of 1 while `y_pred`'s is larger; categorical otherwise.
///
/// ```
/// use keras::metrics::accuracy_class_for_shapes;
/// assert_eq!(accuracy_class_for_shapes(&[32], &[32, 10]), "SparseCategoricalAccuracy");
/// assert_eq!(accuracy_class_for_shapes(&[32, 10], &[32, 10]), "CategoricalAccuracy");
/// assert_eq!(accuracy_class_for_shapes(&[32, 1], &[32, 1]), "BinaryAccuracy");
/// ```
pub fn accuracy_class_for_shapes(y_true_shape: &[usize], y_pred_shape: &[usize]) -> &'static str {
    let t_last = y_true_shape.last().copied();
    let p_last = y_pred_shape.last().copied();
    let is_binary = p_last == Some(1);
    let is_sparse = y_true_shape.len() < y_pred_shape.len() || (t_last == Some(1) && p_last.unwrap_or(0) > 1);
    if is_binary {
        "BinaryAccuracy"
    } else if is_sparse {
        "SparseCategoricalAccuracy"
    } else {
        "CategoricalAccuracy"
    }
}

/// The accuracy for `"accuracy"` when only the loss is known (before any data is seen):
/// `binary_crossentropy`-like losses give binary, `sparse_categorical_crossentropy` sparse,
/// anything else categorical. Keras itself decides from shapes
/// ([`accuracy_class_for_shapes`]); prefer [`get_for_shapes`] when a batch is at hand.
///
/// ```
/// use keras::metrics::accuracy_class_for_loss;
/// assert_eq!(accuracy_class_for_loss("sparse_categorical_crossentropy"), "SparseCategoricalAccuracy");
/// assert_eq!(accuracy_class_for_loss("binary_crossentropy"), "BinaryAccuracy");
/// ```
pub fn accuracy_class_for_loss(loss_name: &str) -> &'static str {
    match loss_name {
        "binary_crossentropy"
        | "BinaryCrossentropy"
        | "bce"
        | "binary_focal_crossentropy"
        | "BinaryFocalCrossentropy"
        | "hinge"
        | "Hinge"
        | "squared_hinge"
        | "SquaredHinge" => "BinaryAccuracy",
        "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => "SparseCategoricalAccuracy",
        _ => "CategoricalAccuracy",
    }
}

/// Every metric name [`get`] accepts besides `"accuracy"`/`"acc"` and loss names.
pub const NAMES: &[&str] = &[
    "Mean",
    "mean",
    "Sum",
    "sum",
    "Accuracy",
    "BinaryAccuracy",
    "binary_accuracy",
    "CategoricalAccuracy",
    "categorical_accuracy",
    "SparseCategoricalAccuracy",
    "sparse_categorical_accuracy",
    "TopKCategoricalAccuracy",
    "top_k_categorical_accuracy",
    "SparseTopKCategoricalAccuracy",
    "sparse_top_k_categorical_accuracy",
    "Precision",
    "precision",
    "Recall",
    "recall",
    "AUC",
    "auc",
    "F1Score",
    "f1_score",
    "FBetaScore",
    "f_beta_score",
    "MeanSquaredError",
    "mean_squared_error",
    "mse",
    "MSE",
    "MeanAbsoluteError",
    "mean_absolute_error",
    "mae",
    "MAE",
    "RootMeanSquaredError",
    "root_mean_squared_error",
];

fn by_class(class: &str) -> Option<Box<dyn Metric>> {
    Some(match class {
        "Mean" | "mean" => Box::new(Mean::new()),
        "Sum" | "sum" => Box::new(Sum::new()),
        "Accuracy" => Box::new(wrappers::Accuracy()),
        "BinaryAccuracy" | "binary_accuracy" => Box::new(wrappers::BinaryAccuracy(0.5)),
        "CategoricalAccuracy" | "categorical_accuracy" => Box::new(wrappers::CategoricalAccuracy()),
        "SparseCategoricalAccuracy" | "sparse_categorical_accuracy" => {
            Box::new(wrappers::SparseCategoricalAccuracy())
        }
        "TopKCategoricalAccuracy" | "top_k_categorical_accuracy" => {
            Box::new(wrappers::TopKCategoricalAccuracy(5))
        }
        "SparseTopKCategoricalAccuracy" | "sparse_top_k_categorical_accuracy" => {
            Box::new(wrappers::SparseTopKCategoricalAccuracy(5))
        }
        "Precision" | "precision" => Box::new(Precision::new()),
        "Recall" | "recall" => Box::new(Recall::new()),
        "AUC" | "auc" => Box::new(AUC::new()),
        "F1Score" | "f1_score" => Box::new(FBetaScore::f1()),
        "FBetaScore" | "f_beta_score" => Box::new(FBetaScore::new()),
        "MeanSquaredError" | "mean_squared_error" | "mse" | "MSE" => Box::new(wrappers::MeanSquaredError()),
        "MeanAbsoluteError" | "mean_absolute_error" | "mae" | "MAE" => {
            Box::new(wrappers::MeanAbsoluteError())
        }
        "RootMeanSquaredError" | "root_mean_squared_error" => Box::new(wrappers::RootMeanSquaredError()),
        _ => return None,
    })
}

/// The metric for a Keras identifier as `compile(metrics=[...])` resolves it, named after the
/// identifier. `"accuracy"`/`"acc"` is resolved from the loss with
/// [`accuracy_class_for_loss`] (`loss_name = None`: categorical); a loss name
/// (`"categorical_crossentropy"`) gives the mean of that loss.
///
/// ```
/// let m = keras::metrics::get("accuracy", Some("sparse_categorical_crossentropy"))?;
/// assert_eq!((m.class_name(), m.name()), ("SparseCategoricalAccuracy", "accuracy"));
/// let e = keras::metrics::get("acuracy", None).err().unwrap().to_string();
/// assert!(e.contains("sparse_categorical_accuracy"));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// For an unknown identifier; the message lists the valid ones.
pub fn get(name: &str, loss_name: Option<&str>) -> Result<Box<dyn Metric>> {
    if name.eq_ignore_ascii_case("accuracy") || name.eq_ignore_ascii_case("acc") {
        let class = accuracy_class_for_loss(loss_name.unwrap_or(""));
        let mut m = by_class(class).expect("accuracy classes exist");
        m.set_name(name);
        return Ok(m);
    }
    lookup(name)
}

/// Like [`get`], with `"accuracy"`/`"acc"` resolved exactly as Keras's `compile` does, from
/// the shapes of `y_true` and `y_pred` ([`accuracy_class_for_shapes`]).
///
/// ```
/// let m = keras::metrics::get_for_shapes("acc", &[8, 1], &[8, 1])?;
/// assert_eq!((m.class_name(), m.name()), ("BinaryAccuracy", "acc"));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// For an unknown identifier.
pub fn get_for_shapes(name: &str, y_true_shape: &[usize], y_pred_shape: &[usize]) -> Result<Box<dyn Metric>> {
    if name.eq_ignore_ascii_case("accuracy") || name.eq_ignore_ascii_case("acc") {
        let class = accuracy_class_for_shapes(y_true_shape, y_pred_shape);
        let mut m = by_class(class).expect("accuracy classes exist");
        m.set_name(name);
        return Ok(m);
    }
    lookup(name)
}

fn lookup(name: &str) -> Result<Box<dyn Metric>> {
    if let Some(mut m) = by_class(name) {
        m.set_name(name);
        return Ok(m);
    }
    if let Ok(loss) = losses::get(name) {
        return Ok(Box::new(MeanMetricWrapper::from_loss(loss)));
    }
    Err(invalid(
        "metrics::get",
        format!(
            "unknown metric {name:?}; valid names: accuracy, acc, {}, or a loss name ({})",
            NAMES.join(", "),
            losses::NAMES.join(", ")
        ),
    ))
}

/// Rebuilds a metric from its Keras `class_name` and `config`.
///
/// ```
/// let m = keras::metrics::from_config("TopKCategoricalAccuracy", &serde_json::json!({"k": 2, "name": "top2"}))?;
/// assert_eq!(m.name(), "top2");
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// For an unknown class or a mistyped argument.
pub fn from_config(class_name: &str, cfg: &Value) -> Result<Box<dyn Metric>> {
    let num = |k: &str| cfg.get(k).filter(|v| !v.is_null());
    let mut m: Box<dyn Metric> = match class_name {
        "BinaryAccuracy" => Box::new(wrappers::BinaryAccuracy(
            num("threshold").and_then(Value::as_f64).unwrap_or(0.5),
        )),
        "TopKCategoricalAccuracy" => Box::new(wrappers::TopKCategoricalAccuracy(
            num("k").and_then(Value::as_u64).unwrap_or(5) as usize,
        )),
        "SparseTopKCategoricalAccuracy" => Box::new(wrappers::SparseTopKCategoricalAccuracy(
            num("k").and_then(Value::as_u64).unwrap_or(5) as usize,
        )),
        "Precision" | "Recall" => {
            let thresholds = match num("thresholds") {
                None => vec![0.5],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
                Some(v) => vec![v
                    .as_f64()
                    .ok_or_else(|| invalid("metrics::from_config", "bad thresholds"))?],
            };
            for k in ["top_k", "class_id"] {
                if num(k).is_some() {
                    return Err(invalid("metrics::from_config", format!("{k} is not supported")));
                }
            }
            if class_name == "Precision" {
                Box::new(Precision::new().thresholds(&thresholds)?)
            } else {
                Box::new(Recall::new().thresholds(&thresholds)?)
            }
        }
        "AUC" => {
            let mut a = AUC::new();
            if let Some(n) = num("num_thresholds").and_then(Value::as_u64) {
                a = a.num_thresholds(n as usize)?;
            }
            if let Some(c) = num("curve").and_then(Value::as_str) {
                a = a.curve(c)?;
            }
            if let Some(s) = num("summation_method").and_then(Value::as_str) {
                a = a.summation_method(s)?;
            }
            if let Some(f) = num("from_logits").and_then(Value::as_bool) {
                a = a.from_logits(f);
            }
            for k in ["thresholds", "label_weights", "num_labels"] {
                if num(k).is_some() {
                    return Err(invalid(
                        "metrics::from_config",
                        format!("AUC {k} is not supported"),
                    ));
                }
            }
            if num("multi_label").and_then(Value::as_bool) == Some(true) {
                return Err(invalid(
                    "metrics::from_config",
                    "AUC multi_label is not supported",
                ));
            }
            Box::new(a)
        }
        "F1Score" | "FBetaScore" => {
            let mut f = if class_name == "F1Score" {
                FBetaScore::f1()
            } else {
                FBetaScore::new()
            };
            if let Some(b) = num("beta").and_then(Value::as_f64) {
                f = f.beta(b)?;
            }
            if let Some(a) = num("average").and_then(Value::as_str) {
                f = f.average(Some(a))?;
            }
            if let Some(t) = num("threshold").and_then(Value::as_f64) {
                f = f.threshold(Some(t))?;
            }
            Box::new(f)
        }
        other => by_class(other)
            .ok_or_else(|| invalid("metrics::from_config", format!("unknown metric class {other:?}")))?,
    };
    if let Some(n) = cfg.get("name").and_then(Value::as_str) {
        m.set_name(n);
    }
    Ok(m)
}

/// `EPSILON` re-exported for the confusion-matrix metrics.
pub(crate) const EPS: f64 = EPSILON;
