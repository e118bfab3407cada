//! Losses with Keras 3's names, arguments, defaults and formulas
//! (`keras/src/losses/losses.py`, `keras/src/losses/loss.py`).
//!
//! Every loss is written with differentiable tensor ops, so training backpropagates through
//! it. [`Loss::call`] applies Keras's sample-weight handling and [`Reduction`].
//!
//! ```
//! use keras::losses::{self, Loss};
//! use keras_tensor::Tensor;
//! let y_true = Tensor::new(&[0.0f32, 1.0, 0.0, 0.0], &[2, 2])?;
//! let y_pred = Tensor::new(&[1.0f32, 1.0, 1.0, 0.0], &[2, 2])?;
//! let mse = losses::get("mse")?;
//! assert!((mse.call(&y_true, &y_pred, None)?.item()? - 0.5).abs() < 1e-6);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

use keras_tensor::{DType, Error, Result, Tensor, EPSILON};
use serde_json::{json, Map, Value};

mod reduce;

pub use reduce::{apply_mask, reduce_weighted_values, squeeze_or_expand_to_same_rank, Reduction};

fn invalid(op: &'static str, msg: impl Into<String>) -> Error {
    Error::InvalidArgument { op, msg: msg.into() }
}

/// A loss: per-sample values from `(y_true, y_pred)`, then Keras's weighting and reduction.
///
/// ```
/// use keras::losses::{Loss, MeanAbsoluteError, Reduction};
/// use keras_tensor::Tensor;
/// let loss = MeanAbsoluteError::new().reduction(Reduction::Sum);
/// let v = loss.call(&Tensor::new(&[0.0f32, 2.0], &[2, 1])?, &Tensor::new(&[1.0f32, 0.0], &[2, 1])?, None)?;
/// assert_eq!(v.item()?, 3.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub trait Loss: Send + Sync {
    /// The Keras class name (`"CategoricalCrossentropy"`).
    fn class_name(&self) -> &'static str;

    /// The instance name (Keras's `name`, by default the snake-case function name).
    fn name(&self) -> &str;

    /// How [`Loss::call`] reduces the per-sample values.
    fn reduction_kind(&self) -> Reduction;

    /// The unreduced, unweighted values (Keras's `Loss.call`), usually one per sample.
    ///
    /// # Errors
    /// When the shapes do not fit.
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor>;

    /// Keras's `get_config()` (`name`, `reduction` and the class's own arguments).
    fn get_config(&self) -> Value;

    /// The loss: [`Loss::values`], times `sample_weight` (broadcast as Keras does, e.g. one
    /// weight per sample), reduced by [`Loss::reduction_kind`]. A scalar, except for
    /// [`Reduction::None`].
    ///
    /// # Errors
    /// When the shapes do not fit.
    fn call(&self, y_true: &Tensor, y_pred: &Tensor, sample_weight: Option<&Tensor>) -> Result<Tensor> {
        let values = self.values(y_true, y_pred)?;
        reduce_weighted_values(&values, sample_weight, self.reduction_kind())
    }

    /// [`Loss::call`] for a prediction carrying a Keras mask (`(batch, timesteps)` for a
    /// sequence output): masked entries weigh nothing and the mean runs over the valid ones
    /// ([`apply_mask`]), as Keras's `Loss.__call__` does with `y_pred`'s mask.
    ///
    /// ```
    /// use keras::losses::{Loss, MeanSquaredError};
    /// use keras_tensor::Tensor;
    /// let y = Tensor::new(&[0.0f32; 4], &[1, 4, 1])?;
    /// let p = Tensor::new(&[1.0f32, 2.0, 9.0, 9.0], &[1, 4, 1])?;
    /// let m = Tensor::new(&[true, true, false, false], &[1, 4])?;
    /// let l = MeanSquaredError::new().call_masked(&y, &p, None, Some(&m))?;
    /// assert!((l.item()? - 2.5).abs() < 1e-6); // (1 + 4) / 2
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the shapes do not fit.
    fn call_masked(
        &self,
        y_true: &Tensor,
        y_pred: &Tensor,
        sample_weight: Option<&Tensor>,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let values = self.values(y_true, y_pred)?;
        let w = apply_mask(sample_weight, mask, values.dtype(), self.reduction_kind())?;
        reduce_weighted_values(&values, w.as_ref(), self.reduction_kind())
    }
}

/// Name and reduction, shared by every loss.
#[derive(Clone, Debug)]
struct Base {
    name: String,
    reduction: Reduction,
}

impl Base {
    fn new(name: &str) -> Self {
        Base {
            name: name.to_string(),
            reduction: Reduction::SumOverBatchSize,
        }
    }

    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("reduction".into(), self.reduction.to_json());
        m
    }
}

/// `y_true` cast to `y_pred`'s (float) dtype, and both squeezed/expanded to the same rank as
/// Keras's `LossFunctionWrapper` does.
fn prepare(y_true: &Tensor, y_pred: &Tensor) -> Result<(Tensor, Tensor)> {
    let y_pred = if y_pred.dtype().is_float() {
        y_pred.clone()
    } else {
        y_pred.cast(DType::F32)?
    };
    let y_true = y_true.cast(y_pred.dtype())?;
    squeeze_or_expand_to_same_rank(&y_true, &y_pred, true)
}

fn one_minus(t: &Tensor) -> Result<Tensor> {
    t.neg()?.add_scalar(1.0)
}

/// `x * min(rsqrt(sum(x², axis)), 1/ε)`: Keras's L2 normalization.
fn l2_normalize(x: &Tensor, axis: isize) -> Result<Tensor> {
    let inv = x
        .square()?
        .sum(&[axis], true)?
        .rsqrt()?
        .minimum_scalar(1.0 / EPSILON)?;
    x.mul(&inv)
}

macro_rules! builder_methods {
    () => {
        /// Sets the reduction.
        pub fn reduction(mut self, r: Reduction) -> Self {
            self.base.reduction = r;
            self
        }

        /// Sets the name.
        pub fn name(mut self, name: &str) -> Self {
            self.base.name = name.to_string();
            self
        }
    };
}

macro_rules! loss_common {
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }
        fn name(&self) -> &str {
            &self.base.name
        }
        fn reduction_kind(&self) -> Reduction {
            self.base.reduction
        }
    };
}

/// Losses without arguments of their own: `struct`, default name, per-sample formula.
macro_rules! simple_loss {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $default_name:literal, |$t:ident, $p:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty {
            base: Base,
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty { base: Base::new($default_name) }
            }
        }

        impl $ty {
            /// With Keras's defaults.
            pub fn new() -> Self {
                Self::default()
            }
            builder_methods!();
        }

        impl Loss for $ty {
            loss_common!($class);
            fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
                let ($t, $p) = prepare(y_true, y_pred)?;
                $body
            }
            fn get_config(&self) -> Value {
                Value::Object(self.base.config())
            }
        }
    };
}

simple_loss!(
    /// `mean(square(y_true - y_pred), axis=-1)`.
    MeanSquaredError, "MeanSquaredError", "mean_squared_error",
    |t, p| t.sub(&p)?.square()?.mean(&[-1], false)
);

simple_loss!(
    /// `mean(abs(y_true - y_pred), axis=-1)`.
    MeanAbsoluteError, "MeanAbsoluteError", "mean_absolute_error",
    |t, p| t.sub(&p)?.abs()?.mean(&[-1], false)
);

simple_loss!(
    /// `100 * mean(abs((y_true - y_pred) / max(abs(y_true), ε)), axis=-1)`.
    MeanAbsolutePercentageError, "MeanAbsolutePercentageError", "mean_absolute_percentage_error",
    |t, p| t.sub(&p)?.div(&t.abs()?.maximum_scalar(EPSILON)?)?.abs()?.mean(&[-1], false)?.mul_scalar(100.0)
);

simple_loss!(
    /// `mean(square(log(max(y_pred, ε) + 1) - log(max(y_true, ε) + 1)), axis=-1)`.
    MeanSquaredLogarithmicError, "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error",
    |t, p| {
        let lp = p.maximum_scalar(EPSILON)?.add_scalar(1.0)?.log()?;
        let lt = t.maximum_scalar(EPSILON)?.add_scalar(1.0)?.log()?;
        lp.sub(&lt)?.square()?.mean(&[-1], false)
    }
);

simple_loss!(
    /// `mean(x + softplus(-2x) - log 2, axis=-1)` with `x = y_pred - y_true`.
    LogCosh, "LogCosh", "log_cosh",
    |t, p| {
        let x = p.sub(&t)?;
        x.add(&x.mul_scalar(-2.0)?.softplus()?)?.sub_scalar(std::f64::consts::LN_2)?.mean(&[-1], false)
    }
);

simple_loss!(
    /// `sum(y_true * log(y_true / y_pred), axis=-1)`, both clipped to `[ε, 1]`.
    KLDivergence, "KLDivergence", "kl_divergence",
    |t, p| {
        // Keras does not squeeze/expand here; `prepare` only changes ranks that differ by a
        // trailing 1, where broadcasting would give the same values.
        let t = t.clip(EPSILON, 1.0)?;
        let p = p.clip(EPSILON, 1.0)?;
        t.mul(&t.div(&p)?.log()?)?.sum(&[-1], false)
    }
);

simple_loss!(
    /// `mean(y_pred - y_true * log(y_pred + ε), axis=-1)`.
    Poisson, "Poisson", "poisson",
    |t, p| p.sub(&t.mul(&p.add_scalar(EPSILON)?.log()?)?)?.mean(&[-1], false)
);

/// Labels in `{0, 1}` become `{-1, 1}` (all of them, or none), as Keras's hinge losses do.
fn hinge_labels(t: &Tensor) -> Result<Tensor> {
    let v = t.to_vec_f64()?;
    if v.iter().all(|&x| x == 0.0 || x == 1.0) {
        t.mul_scalar(2.0)?.sub_scalar(1.0)
    } else {
        Ok(t.clone())
    }
}

simple_loss!(
    /// `mean(max(1 - y_true * y_pred, 0), axis=-1)`; labels in `{0, 1}` are mapped to `{-1, 1}`.
    Hinge, "Hinge", "hinge",
    |t, p| one_minus(&hinge_labels(&t)?.mul(&p)?)?.maximum_scalar(0.0)?.mean(&[-1], false)
);

simple_loss!(
    /// `mean(square(max(1 - y_true * y_pred, 0)), axis=-1)`; labels in `{0, 1}` are mapped to
    /// `{-1, 1}`.
    SquaredHinge, "SquaredHinge", "squared_hinge",
    |t, p| one_minus(&hinge_labels(&t)?.mul(&p)?)?.maximum_scalar(0.0)?.square()?.mean(&[-1], false)
);

simple_loss!(
    /// `max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis.
    CategoricalHinge, "CategoricalHinge", "categorical_hinge",
    |t, p| {
        let pos = t.mul(&p)?.sum(&[-1], false)?;
        let neg = one_minus(&t)?.mul(&p)?.max(&[-1], false)?;
        neg.sub(&pos)?.add_scalar(1.0)?.maximum_scalar(0.0)
    }
);

/// Huber loss: `0.5 e²` where `|e| <= delta`, else `delta |e| - 0.5 delta²`, averaged over
/// the last axis.
///
/// ```
/// use keras::losses::{Huber, Loss};
/// use keras_tensor::Tensor;
/// let h = Huber::new().delta(1.0);
/// let v = h.call(&Tensor::new(&[0.0f32, 0.0], &[2, 1])?, &Tensor::new(&[0.5f32, 3.0], &[2, 1])?, None)?;
/// assert!((v.item()? - (0.125 + 2.5) / 2.0).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Huber {
    base: Base,
    delta: f64,
}

impl Default for Huber {
    fn default() -> Self {
        Huber {
            base: Base::new("huber_loss"),
            delta: 1.0,
        }
    }
}

impl Huber {
    /// `delta = 1.0`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Where the quadratic part ends.
    pub fn delta(mut self, d: f64) -> Self {
        self.delta = d;
        self
    }
    builder_methods!();
}

impl Loss for Huber {
    loss_common!("Huber");
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let (t, p) = prepare(y_true, y_pred)?;
        let d = self.delta;
        let e = p.sub(&t)?;
        let a = e.abs()?;
        let quad = e.square()?.mul_scalar(0.5)?;
        let lin = a.mul_scalar(d)?.sub_scalar(0.5 * d * d)?;
        Tensor::where_cond(&a.le(&a.scalar_like(d)?)?, &quad, &lin)?.mean(&[-1], false)
    }
    fn get_config(&self) -> Value {
        // Keras's Huber.get_config leaves `delta` out (so a reloaded Keras loss has the
        // default); it is kept here so that a round trip keeps it.
        let mut m = self.base.config();
        m.insert("delta".into(), json!(self.delta));
        Value::Object(m)
    }
}

/// `-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`.
#[derive(Clone, Debug)]
pub struct CosineSimilarity {
    base: Base,
    axis: isize,
}

impl Default for CosineSimilarity {
    fn default() -> Self {
        CosineSimilarity {
            base: Base::new("cosine_similarity"),
            axis: -1,
        }
    }
}

impl CosineSimilarity {
    /// `axis = -1`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The axis along which the similarity is computed.
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }
    builder_methods!();
}

impl Loss for CosineSimilarity {
    loss_common!("CosineSimilarity");
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let (t, p) = prepare(y_true, y_pred)?;
        l2_normalize(&t, self.axis)?
            .mul(&l2_normalize(&p, self.axis)?)?
            .sum(&[self.axis], false)?
            .neg()
    }
    fn get_config(&self) -> Value {
        let mut m = self.base.config();
        m.insert("axis".into(), json!(self.axis));
        Value::Object(m)
    }
}

/// Categorical cross-entropy with one-hot (or soft) labels.
///
/// ```
/// use keras::losses::{CategoricalCrossentropy, Loss};
/// use keras_tensor::Tensor;
/// let cce = CategoricalCrossentropy::new().from_logits(true).label_smoothing(0.1);
/// let y_true = Tensor::new(&[0.0f32, 1.0, 0.0], &[1, 3])?;
/// let logits = Tensor::new(&[1.0f32, 2.0, 0.5], &[1, 3])?;
/// assert!(cce.call(&y_true, &logits, None)?.item()? > 0.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CategoricalCrossentropy {
    base: Base,
    from_logits: bool,
    label_smoothing: f64,
    axis: isize,
}

impl Default for CategoricalCrossentropy {
    fn default() -> Self {
        CategoricalCrossentropy {
            base: Base::new("categorical_crossentropy"),
            from_logits: false,
            label_smoothing: 0.0,
            axis: -1,
        }
    }
}

impl CategoricalCrossentropy {
    /// `from_logits = false, label_smoothing = 0, axis = -1`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether `y_pred` holds logits (else probabilities).
    pub fn from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Mixes the labels with the uniform distribution: `y * (1 - s) + s / num_classes`.
    pub fn label_smoothing(mut self, s: f64) -> Self {
        self.label_smoothing = s;
        self
    }
    /// The class axis.
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }
    builder_methods!();
}

impl Loss for CategoricalCrossentropy {
    loss_common!("CategoricalCrossentropy");
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let (t, p) = prepare(y_true, y_pred)?;
        if t.shape() != p.shape() {
            return Err(Error::ShapeMismatch {
                op: "categorical_crossentropy",
                lhs: t.shape().to_vec(),
                rhs: p.shape().to_vec(),
            });
        }
        let mut t = t;
        if self.label_smoothing != 0.0 {
            let n = t.dim(-1)? as f64;
            t = t
                .mul_scalar(1.0 - self.label_smoothing)?
                .add_scalar(self.label_smoothing / n)?;
        }
        keras_tensor::categorical_crossentropy(&t, &p, self.from_logits, self.axis)
    }
    fn get_config(&self) -> Value {
        let mut m = self.base.config();
        m.insert("from_logits".into(), json!(self.from_logits));
        m.insert("label_smoothing".into(), json!(self.label_smoothing));
        m.insert("axis".into(), json!(self.axis));
        Value::Object(m)
    }
}

/// Cross-entropy with integer labels (`y_true` shaped like `y_pred` without the class
/// axis, or with a class axis of 1). Keras's `ignore_class` is not supported.
///
/// ```
/// use keras::losses::{Loss, SparseCategoricalCrossentropy};
/// use keras_tensor::Tensor;
/// let loss = SparseCategoricalCrossentropy::new().from_logits(true);
/// let v = loss.call(&Tensor::new(&[1i64], &[1])?, &Tensor::new(&[0.0f32, 0.0], &[1, 2])?, None)?;
/// assert!((v.item()? - 2f64.ln()).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SparseCategoricalCrossentropy {
    base: Base,
    from_logits: bool,
}

impl Default for SparseCategoricalCrossentropy {
    fn default() -> Self {
        SparseCategoricalCrossentropy {
            base: Base::new("sparse_categorical_crossentropy"),
            from_logits: false,
        }
    }
}

impl SparseCategoricalCrossentropy {
    /// `from_logits = false`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether `y_pred` holds logits (else probabilities).
    pub fn from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    builder_methods!();
}

impl Loss for SparseCategoricalCrossentropy {
    loss_common!("SparseCategoricalCrossentropy");
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let labels = if y_true.dtype().is_int() {
            y_true.clone()
        } else {
            y_true.cast(DType::I64)?
        };
        keras_tensor::sparse_categorical_crossentropy(&labels, y_pred, self.from_logits)
    }
    fn get_config(&self) -> Value {
        let mut m = self.base.config();
        m.insert("from_logits".into(), json!(self.from_logits));
        m.insert("ignore_class".into(), Value::Null);
        Value::Object(m)
    }
}

/// Binary cross-entropy, averaged over `axis`.
///
/// ```
/// use keras::losses::{BinaryCrossentropy, Loss};
/// use keras_tensor::Tensor;
/// let bce = BinaryCrossentropy::new().from_logits(true);
/// let v = bce.call(&Tensor::new(&[1.0f32], &[1, 1])?, &Tensor::new(&[0.0f32], &[1, 1])?, None)?;
/// assert!((v.item()? - 2f64.ln()).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BinaryCrossentropy {
    base: Base,
    from_logits: bool,
    label_smoothing: f64,
    axis: isize,
}

impl Default for BinaryCrossentropy {
    fn default() -> Self {
        BinaryCrossentropy {
            base: Base::new("binary_crossentropy"),
            from_logits: false,
            label_smoothing: 0.0,
            axis: -1,
        }
    }
}

impl BinaryCrossentropy {
    /// `from_logits = false, label_smoothing = 0, axis = -1`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether `y_pred` holds logits (else probabilities).
    pub fn from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Squeezes labels towards 0.5: `y * (1 - s) + 0.5 s`.
    pub fn label_smoothing(mut self, s: f64) -> Self {
        self.label_smoothing = s;
        self
    }
    /// The axis averaged over.
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }
    builder_methods!();
}

fn smooth_binary(t: Tensor, s: f64) -> Result<Tensor> {
    if s != 0.0 {
        t.mul_scalar(1.0 - s)?.add_scalar(0.5 * s)
    } else {
        Ok(t)
    }
}

impl Loss for BinaryCrossentropy {
    loss_common!("BinaryCrossentropy");
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let (t, p) = prepare(y_true, y_pred)?;
        let t = smooth_binary(t, self.label_smoothing)?;
        keras_tensor::binary_crossentropy_elementwise(&t, &p, self.from_logits)?.mean(&[self.axis], false)
    }
    fn get_config(&self) -> Value {
        let mut m = self.base.config();
        m.insert("from_logits".into(), json!(self.from_logits));
        m.insert("label_smoothing".into(), json!(self.label_smoothing));
        m.insert("axis".into(), json!(self.axis));
        Value::Object(m)
    }
}

/// Binary focal cross-entropy: `(1 - p_t)^gamma * bce`, optionally weighted by `alpha`
/// for positives and `1 - alpha` for negatives (`apply_class_balancing`).
///
/// ```
/// use keras::losses::{BinaryFocalCrossentropy, Loss};
/// use keras_tensor::Tensor;
/// let loss = BinaryFocalCrossentropy::new().gamma(2.0).apply_class_balancing(true);
/// let v = loss.call(&Tensor::new(&[1.0f32, 0.0], &[2, 1])?, &Tensor::new(&[0.9f32, 0.2], &[2, 1])?, None)?;
/// assert!(v.item()? > 0.0);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BinaryFocalCrossentropy {
    base: Base,
    apply_class_balancing: bool,
    alpha: f64,
    gamma: f64,
    from_logits: bool,
    label_smoothing: f64,
    axis: isize,
}

impl Default for BinaryFocalCrossentropy {
    fn default() -> Self {
        BinaryFocalCrossentropy {
            base: Base::new("binary_focal_crossentropy"),
            apply_class_balancing: false,
            alpha: 0.25,
            gamma: 2.0,
            from_logits: false,
            label_smoothing: 0.0,
            axis: -1,
        }
    }
}

impl BinaryFocalCrossentropy {
    /// `apply_class_balancing = false, alpha = 0.25, gamma = 2, from_logits = false,
    /// label_smoothing = 0, axis = -1`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Weights positives by `alpha` and negatives by `1 - alpha`.
    pub fn apply_class_balancing(mut self, v: bool) -> Self {
        self.apply_class_balancing = v;
        self
    }
    /// The class-balancing weight.
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
    /// The focusing exponent.
    pub fn gamma(mut self, v: f64) -> Self {
        self.gamma = v;
        self
    }
    /// Whether `y_pred` holds logits (else probabilities).
    pub fn from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Squeezes labels towards 0.5: `y * (1 - s) + 0.5 s`.
    pub fn label_smoothing(mut self, s: f64) -> Self {
        self.label_smoothing = s;
        self
    }
    /// The axis averaged over.
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }
    builder_methods!();
}

impl Loss for BinaryFocalCrossentropy {
    loss_common!("BinaryFocalCrossentropy");
    fn values(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        let (t, p) = prepare(y_true, y_pred)?;
        let t = smooth_binary(t, self.label_smoothing)?;
        let p = if self.from_logits { p.sigmoid()? } else { p };
        let bce = keras_tensor::binary_crossentropy_elementwise(&t, &p, false)?;
        let p_t = t.mul(&p)?.add(&one_minus(&t)?.mul(&one_minus(&p)?)?)?;
        let mut focal = one_minus(&p_t)?.pow_scalar(self.gamma)?.mul(&bce)?;
        if self.apply_class_balancing {
            let w = t
                .mul_scalar(self.alpha)?
                .add(&one_minus(&t)?.mul_scalar(1.0 - self.alpha)?)?;
            focal = w.mul(&focal)?;
        }
        focal.mean(&[self.axis], false)
    }
    fn get_config(&self) -> Value {
        let mut m = self.base.config();
        m.insert("from_logits".into(), json!(self.from_logits));
        m.insert("label_smoothing".into(), json!(self.label_smoothing));
        m.insert("axis".into(), json!(self.axis));
        m.insert("apply_class_balancing".into(), json!(self.apply_class_balancing));
        m.insert("alpha".into(), json!(self.alpha));
        m.insert("gamma".into(), json!(self.gamma));
        Value::Object(m)
    }
}

// ----- lookup --------------------------------------------------------------------------

/// Every name [`get`] accepts (Keras's function names, aliases and class names).
pub const NAMES: &[&str] = &[
    "sparse_categorical_crossentropy",
    "SparseCategoricalCrossentropy",
    "categorical_crossentropy",
    "CategoricalCrossentropy",
    "binary_crossentropy",
    "BinaryCrossentropy",
    "binary_focal_crossentropy",
    "BinaryFocalCrossentropy",
    "mean_squared_error",
    "mse",
    "MSE",
    "MeanSquaredError",
    "mean_absolute_error",
    "mae",
    "MAE",
    "MeanAbsoluteError",
    "mean_absolute_percentage_error",
    "mape",
    "MAPE",
    "MeanAbsolutePercentageError",
    "mean_squared_logarithmic_error",
    "msle",
    "MSLE",
    "MeanSquaredLogarithmicError",
    "huber",
    "huber_loss",
    "Huber",
    "log_cosh",
    "logcosh",
    "LogCosh",
    "kl_divergence",
    "kld",
    "KLD",
    "kullback_leibler_divergence",
    "KLDivergence",
    "poisson",
    "Poisson",
    "hinge",
    "Hinge",
    "squared_hinge",
    "SquaredHinge",
    "categorical_hinge",
    "CategoricalHinge",
    "cosine_similarity",
    "CosineSimilarity",
];

/// The loss for a Keras identifier, with default arguments. As in Keras, a function name
/// (`"mse"`, `"categorical_crossentropy"`) gives a loss named after the identifier; a
/// class name (`"MeanSquaredError"`) gives the class's default name.
///
/// ```
/// let l = keras::losses::get("sparse_categorical_crossentropy")?;
/// assert_eq!(l.class_name(), "SparseCategoricalCrossentropy");
/// let e = keras::losses::get("msee").err().unwrap().to_string();
/// assert!(e.contains("mean_squared_error"));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// For an unknown name; the message lists the valid ones.
pub fn get(name: &str) -> Result<Box<dyn Loss>> {
    let l: Box<dyn Loss> = match name {
        "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
            Box::new(SparseCategoricalCrossentropy::new())
        }
        "categorical_crossentropy" | "CategoricalCrossentropy" => Box::new(CategoricalCrossentropy::new()),
        "binary_crossentropy" | "BinaryCrossentropy" => Box::new(BinaryCrossentropy::new()),
        "binary_focal_crossentropy" | "BinaryFocalCrossentropy" => Box::new(BinaryFocalCrossentropy::new()),
        "mean_squared_error" | "mse" | "MSE" | "MeanSquaredError" => Box::new(MeanSquaredError::new()),
        "mean_absolute_error" | "mae" | "MAE" | "MeanAbsoluteError" => Box::new(MeanAbsoluteError::new()),
        "mean_absolute_percentage_error" | "mape" | "MAPE" | "MeanAbsolutePercentageError" => {
            Box::new(MeanAbsolutePercentageError::new())
        }
        "mean_squared_logarithmic_error" | "msle" | "MSLE" | "MeanSquaredLogarithmicError" => {
            Box::new(MeanSquaredLogarithmicError::new())
        }
        "huber" | "huber_loss" | "Huber" => Box::new(Huber::new()),
        "log_cosh" | "logcosh" | "LogCosh" => Box::new(LogCosh::new()),
        "kl_divergence" | "kld" | "KLD" | "kullback_leibler_divergence" | "KLDivergence" => {
            Box::new(KLDivergence::new())
        }
        "poisson" | "Poisson" => Box::new(Poisson::new()),
        "hinge" | "Hinge" => Box::new(Hinge::new()),
        "squared_hinge" | "SquaredHinge" => Box::new(SquaredHinge::new()),
        "categorical_hinge" | "CategoricalHinge" => Box::new(CategoricalHinge::new()),
        "cosine_similarity" | "CosineSimilarity" => Box::new(CosineSimilarity::new()),
        _ => {
            return Err(invalid(
                "losses::get",
                format!("unknown loss {name:?}; valid names: {}", NAMES.join(", ")),
            ))
        }
    };
    if name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && NAMES.contains(&name) {
        // A class name keeps the class's default instance name (Keras: `cls()`), except
        // the upper-case legacy aliases ("MSE", "KLD"), which are functions in Keras.
        if !name.chars().all(|c| c.is_ascii_uppercase()) {
            return Ok(l);
        }
    }
    Ok(rename(l, name))
}

/// A boxed loss with a new instance name (used by [`get`] for function identifiers).
fn rename(l: Box<dyn Loss>, name: &str) -> Box<dyn Loss> {
    let cfg = l.get_config();
    let mut cfg = cfg.as_object().cloned().unwrap_or_default();
    cfg.insert("name".into(), json!(name));
    from_config(l.class_name(), &Value::Object(cfg)).unwrap_or(l)
}

fn cfg_f64(cfg: &Value, key: &str, default: f64) -> Result<f64> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| invalid("losses::from_config", format!("{key} must be a number"))),
    }
}

fn cfg_bool(cfg: &Value, key: &str, default: bool) -> Result<bool> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| invalid("losses::from_config", format!("{key} must be a bool"))),
    }
}

fn cfg_axis(cfg: &Value, default: isize) -> Result<isize> {
    match cfg.get("axis") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_i64()
            .map(|a| a as isize)
            .ok_or_else(|| invalid("losses::from_config", "axis must be an integer")),
    }
}

/// Rebuilds a loss from its Keras `class_name` and `config` (as [`Loss::get_config`] writes
/// it and Keras saves it in `compile_config`). Unknown keys are ignored.
///
/// ```
/// use keras::losses::{from_config, Loss};
/// let cfg = serde_json::json!({"name": "bce", "reduction": "sum", "from_logits": true});
/// let l = from_config("BinaryCrossentropy", &cfg)?;
/// assert_eq!(l.get_config()["from_logits"], true);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// For an unknown class, a bad reduction or a mistyped argument.
pub fn from_config(class_name: &str, cfg: &Value) -> Result<Box<dyn Loss>> {
    let unsupported = |key: &str| -> Result<()> {
        match cfg.get(key) {
            None | Some(Value::Null) => Ok(()),
            Some(v) => Err(invalid(
                "losses::from_config",
                format!("{key} = {v} is not supported"),
            )),
        }
    };
    const CLASSES: &[&str] = &[
        "SparseCategoricalCrossentropy",
        "CategoricalCrossentropy",
        "BinaryCrossentropy",
        "BinaryFocalCrossentropy",
        "MeanSquaredError",
        "MeanAbsoluteError",
        "MeanAbsolutePercentageError",
        "MeanSquaredLogarithmicError",
        "Huber",
        "LogCosh",
        "KLDivergence",
        "Poisson",
        "Hinge",
        "SquaredHinge",
        "CategoricalHinge",
        "CosineSimilarity",
    ];
    if !CLASSES.contains(&class_name) {
        return Err(invalid(
            "losses::from_config",
            format!(
                "unknown loss class {class_name:?}; valid classes: {}",
                CLASSES.join(", ")
            ),
        ));
    }
    let mut base = Base::new(get(class_name)?.name());
    if let Some(n) = cfg.get("name").and_then(Value::as_str) {
        base.name = n.to_string();
    }
    if let Some(r) = cfg.get("reduction") {
        base.reduction = Reduction::from_json(r)?;
    }
    let from_logits = cfg_bool(cfg, "from_logits", false)?;
    let label_smoothing = cfg_f64(cfg, "label_smoothing", 0.0)?;
    let l: Box<dyn Loss> = match class_name {
        "SparseCategoricalCrossentropy" => {
            unsupported("ignore_class")?;
            Box::new(SparseCategoricalCrossentropy { base, from_logits })
        }
        "CategoricalCrossentropy" => Box::new(CategoricalCrossentropy {
            base,
            from_logits,
            label_smoothing,
            axis: cfg_axis(cfg, -1)?,
        }),
        "BinaryCrossentropy" => Box::new(BinaryCrossentropy {
            base,
            from_logits,
            label_smoothing,
            axis: cfg_axis(cfg, -1)?,
        }),
        "BinaryFocalCrossentropy" => Box::new(BinaryFocalCrossentropy {
            base,
            apply_class_balancing: cfg_bool(cfg, "apply_class_balancing", false)?,
            alpha: cfg_f64(cfg, "alpha", 0.25)?,
            gamma: cfg_f64(cfg, "gamma", 2.0)?,
            from_logits,
            label_smoothing,
            axis: cfg_axis(cfg, -1)?,
        }),
        "MeanSquaredError" => Box::new(MeanSquaredError { base }),
        "MeanAbsoluteError" => Box::new(MeanAbsoluteError { base }),
        "MeanAbsolutePercentageError" => Box::new(MeanAbsolutePercentageError { base }),
        "MeanSquaredLogarithmicError" => Box::new(MeanSquaredLogarithmicError { base }),
        "Huber" => Box::new(Huber {
            base,
            delta: cfg_f64(cfg, "delta", 1.0)?,
        }),
        "LogCosh" => Box::new(LogCosh { base }),
        "KLDivergence" => Box::new(KLDivergence { base }),
        "Poisson" => Box::new(Poisson { base }),
        "Hinge" => Box::new(Hinge { base }),
        "SquaredHinge" => Box::new(SquaredHinge { base }),
        "CategoricalHinge" => Box::new(CategoricalHinge { base }),
        "CosineSimilarity" => Box::new(CosineSimilarity {
            base,
            axis: cfg_axis(cfg, -1)?,
        }),
        other => {
            return Err(invalid(
                "losses::from_config",
                format!("unknown loss class {other:?}"),
            ))
        }
    };
    Ok(l)
}
