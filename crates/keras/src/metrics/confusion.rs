//! Confusion-matrix metrics: Precision, Recall, AUC, F-scores, and `confusion_matrix`
//! (`keras/src/metrics/confusion_metrics.py`, `f_score_metrics.py`, `metrics_utils.py`).

use super::{f32_of, invalid, Metric, EPS};
use crate::losses::squeeze_or_expand_to_same_rank;
use keras_tensor::{no_grad, DType, Device, Result, Tensor};
use serde_json::{json, Value};

/// Labels (as 0/1, "nonzero is positive"), predictions and weights, flattened, after
/// Keras's rank matching and weight broadcasting (`update_confusion_matrix_variables`).
fn flatten_inputs(
    y_true: &Tensor,
    y_pred: &Tensor,
    sample_weight: Option<&Tensor>,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    no_grad(|| {
        let (p, t) = squeeze_or_expand_to_same_rank(&f32_of(y_pred)?, &f32_of(y_true)?, true)?;
        if p.numel() != t.numel() {
            return Err(keras_tensor::Error::ShapeMismatch {
                op: "confusion metric",
                lhs: t.shape().to_vec(),
                rhs: p.shape().to_vec(),
            });
        }
        let w = match sample_weight {
            Some(sw) => {
                let w = f32_of(sw)?.expand_dims(-1)?;
                let (_, w) = squeeze_or_expand_to_same_rank(&t, &w, false)?;
                w.broadcast_to(p.shape())?.to_vec_f64()?
            }
            None => vec![1.0; p.numel()],
        };
        let labels = t
            .to_vec_f64()?
            .into_iter()
            .map(|x| if x != 0.0 { 1.0 } else { 0.0 })
            .collect();
        Ok((labels, p.to_vec_f64()?, w))
    })
}

fn divide_no_nan(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

fn check_thresholds(t: &[f64]) -> Result<()> {
    if t.is_empty() || t.iter().any(|&x| !(0.0..=1.0).contains(&x)) {
        return Err(invalid(
            "thresholds",
            format!("threshold values must be in [0, 1]; received {t:?}"),
        ));
    }
    Ok(())
}

/// Counts at each threshold (`pred > threshold` is a positive prediction).
#[derive(Clone, Debug)]
struct Counts {
    thresholds: Vec<f64>,
    tp: Vec<f64>,
    fp: Vec<f64>,
    fn_: Vec<f64>,
}

impl Counts {
    fn new(thresholds: Vec<f64>) -> Self {
        let n = thresholds.len();
        Counts {
            thresholds,
            tp: vec![0.0; n],
            fp: vec![0.0; n],
            fn_: vec![0.0; n],
        }
    }
    fn update(&mut self, y_true: &Tensor, y_pred: &Tensor, sw: Option<&Tensor>) -> Result<()> {
        let (l, p, w) = flatten_inputs(y_true, y_pred, sw)?;
        for (i, &th) in self.thresholds.iter().enumerate() {
            let th = th as f32 as f64; // compared in float32, as Keras does
            for ((&l, &p), &w) in l.iter().zip(&p).zip(&w) {
                let pos = p > th;
                match (l == 1.0, pos) {
                    (true, true) => self.tp[i] += w,
                    (false, true) => self.fp[i] += w,
                    (true, false) => self.fn_[i] += w,
                    _ => {}
                }
            }
        }
        Ok(())
    }
    fn reset(&mut self) {
        *self = Counts::new(std::mem::take(&mut self.thresholds));
    }
}

macro_rules! precision_recall {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $name:literal, $other:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty {
            name: String,
            init_thresholds: Option<Vec<f64>>,
            counts: Counts,
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty { name: $name.into(), init_thresholds: None, counts: Counts::new(vec![0.5]) }
            }
        }

        impl $ty {
            /// One threshold, 0.5.
            pub fn new() -> Self {
                Self::default()
            }

            /// The thresholds (each in `[0, 1]`); with several, the result is a vector.
            ///
            /// # Errors
            /// For an empty list or a threshold outside `[0, 1]`.
            pub fn thresholds(mut self, t: &[f64]) -> Result<Self> {
                check_thresholds(t)?;
                self.init_thresholds = Some(t.to_vec());
                self.counts = Counts::new(t.to_vec());
                Ok(self)
            }

            /// Sets the name.
            pub fn name(mut self, name: &str) -> Self {
                self.name = name.into();
                self
            }

            fn values(&self) -> Vec<f64> {
                let c = &self.counts;
                c.tp.iter().zip(&c.$other).map(|(&tp, &o)| divide_no_nan(tp, tp + o)).collect()
            }
        }

        impl Metric for $ty {
            fn class_name(&self) -> &'static str {
                $class
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn set_name(&mut self, name: &str) {
                self.name = name.into();
            }
            fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor, sw: Option<&Tensor>) -> Result<()> {
                self.counts.update(y_true, y_pred, sw)
            }
            fn result(&self) -> Result<f64> {
                let v = self.values();
                if v.len() == 1 {
                    Ok(v[0])
                } else {
                    Err(invalid($class, "several thresholds give a vector: use result_tensor"))
                }
            }
            fn result_tensor(&self) -> Result<Tensor> {
                let v = self.values();
                let shape: &[usize] = if v.len() == 1 { &[] } else { &[v.len()] };
                Tensor::from_vec(v, shape, &Device::Cpu)?.cast(DType::F32)
            }
            fn reset_state(&mut self) {
                self.counts.reset();
            }
            fn get_config(&self) -> Value {
                let th = match &self.init_thresholds {
                    None => Value::Null,
                    Some(t) if t.len() == 1 => json!(t[0]),
                    Some(t) => json!(t),
                };
                json!({"name": self.name, "dtype": "float32", "thresholds": th, "top_k": null, "class_id": null})
            }
        }
    };
}

precision_recall!(
    /// `tp / (tp + fp)` at each threshold (`y_pred > threshold` is a positive prediction).
    /// Keras's `top_k` and `class_id` are not supported.
    ///
    /// ```
    /// use keras::metrics::{Metric, Precision};
    /// use keras_tensor::Tensor;
    /// let mut m = Precision::new();
    /// m.update_state(&Tensor::new(&[0.0f32, 1.0, 1.0, 1.0], &[4])?, &Tensor::new(&[1.0f32, 0.0, 1.0, 1.0], &[4])?, None)?;
    /// assert!((m.result()? - 2.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Precision, "Precision", "precision", fp
);

precision_recall!(
    /// `tp / (tp + fn)` at each threshold. Keras's `top_k` and `class_id` are not supported.
    ///
    /// ```
    /// use keras::metrics::{Metric, Recall};
    /// use keras_tensor::Tensor;
    /// let mut m = Recall::new();
    /// m.update_state(&Tensor::new(&[0.0f32, 1.0, 1.0, 1.0], &[4])?, &Tensor::new(&[1.0f32, 0.0, 1.0, 1.0], &[4])?, None)?;
    /// assert!((m.result()? - 2.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Recall, "Recall", "recall", fn_
);

/// The curve [`AUC`] integrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// True-positive rate against false-positive rate.
    Roc,
    /// Precision against recall.
    Pr,
}

/// How [`AUC`] sums the Riemann terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summation {
    /// Trapezoids for ROC; Davis & Goadrich interpolation for PR.
    Interpolation,
    /// Left/right minimum.
    Minoring,
    /// Left/right maximum.
    Majoring,
}

/// Area under the ROC or PR curve, from confusion counts at `num_thresholds` evenly spaced
/// thresholds (the first `-ε`, the last `1 + ε`), with Keras's bucketing algorithm.
/// Keras's `thresholds`, `multi_label`, `num_labels`, `label_weights` and curve `"PRGAIN"`
/// are not supported.
///
/// ```
/// use keras::metrics::{Metric, AUC};
/// use keras_tensor::Tensor;
/// let mut m = AUC::new();
/// m.update_state(&Tensor::new(&[0.0f32, 0.0, 1.0, 1.0], &[4])?, &Tensor::new(&[0.0f32, 0.5, 0.3, 0.9], &[4])?, None)?;
/// assert!((m.result()? - 0.75).abs() < 0.01);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AUC {
    name: String,
    num_thresholds: usize,
    curve: Curve,
    summation: Summation,
    from_logits: bool,
    tp: Vec<f64>,
    fp: Vec<f64>,
    tn: Vec<f64>,
    fn_: Vec<f64>,
}

impl Default for AUC {
    fn default() -> Self {
        let n = 200;
        AUC {
            name: "auc".into(),
            num_thresholds: n,
            curve: Curve::Roc,
            summation: Summation::Interpolation,
            from_logits: false,
            tp: vec![0.0; n],
            fp: vec![0.0; n],
            tn: vec![0.0; n],
            fn_: vec![0.0; n],
        }
    }
}

impl AUC {
    /// `num_thresholds = 200, curve = "ROC", summation_method = "interpolation"`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of thresholds (more than 1).
    ///
    /// # Errors
    /// For `n <= 1`.
    pub fn num_thresholds(mut self, n: usize) -> Result<Self> {
        if n <= 1 {
            return Err(invalid(
                "AUC",
                format!("num_thresholds must be an integer > 1; received {n}"),
            ));
        }
        self.num_thresholds = n;
        self.reset_state();
        Ok(self)
    }

    /// `"ROC"` or `"PR"` (either case).
    ///
    /// # Errors
    /// For any other curve.
    pub fn curve(mut self, c: &str) -> Result<Self> {
        self.curve = match c {
            "ROC" | "roc" => Curve::Roc,
            "PR" | "pr" => Curve::Pr,
            _ => {
                return Err(invalid(
                    "AUC",
                    format!("invalid curve {c:?}; expected \"ROC\" or \"PR\""),
                ))
            }
        };
        Ok(self)
    }

    /// `"interpolation"`, `"minoring"` or `"majoring"`.
    ///
    /// # Errors
    /// For any other method.
    pub fn summation_method(mut self, s: &str) -> Result<Self> {
        self.summation = match s {
            "interpolation" | "Interpolation" => Summation::Interpolation,
            "minoring" | "Minoring" => Summation::Minoring,
            "majoring" | "Majoring" => Summation::Majoring,
            _ => {
                return Err(invalid(
                    "AUC",
                    format!("invalid summation_method {s:?}; expected interpolation, minoring or majoring"),
                ))
            }
        };
        Ok(self)
    }

    /// Whether `y_pred` holds logits (a sigmoid is applied first).
    pub fn from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// The thresholds: `-ε`, `i / (n - 1)` for `i` in `1..n-1`, `1 + ε`.
    pub fn thresholds_list(&self) -> Vec<f64> {
        let n = self.num_thresholds;
        let mut t = vec![0.0 - EPS];
        t.extend((0..n - 2).map(|i| (i + 1) as f64 / (n - 1) as f64));
        t.push(1.0 + EPS);
        t
    }

    fn interpolate_pr(&self) -> f64 {
        let n = self.num_thresholds;
        let p: Vec<f64> = self.tp.iter().zip(&self.fp).map(|(a, b)| a + b).collect();
        let mut total = 0.0;
        for i in 0..n - 1 {
            let dtp = self.tp[i] - self.tp[i + 1];
            let dp = p[i] - p[i + 1];
            let slope = divide_no_nan(dtp, dp.max(0.0));
            let intercept = self.tp[i + 1] - slope * p[i + 1];
            let ratio = if p[i] > 0.0 && p[i + 1] > 0.0 {
                divide_no_nan(p[i], p[i + 1].max(0.0))
            } else {
                1.0
            };
            total += divide_no_nan(
                slope * (dtp + intercept * ratio.ln()),
                (self.tp[i + 1] + self.fn_[i + 1]).max(0.0),
            );
        }
        total
    }
}

impl Metric for AUC {
    fn class_name(&self) -> &'static str {
        "AUC"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor, sw: Option<&Tensor>) -> Result<()> {
        let y_pred = if self.from_logits {
            no_grad(|| y_pred.sigmoid())?
        } else {
            y_pred.clone()
        };
        let (l, p, w) = flatten_inputs(y_true, &y_pred, sw)?;
        let n = self.num_thresholds;
        let mut tp_b = vec![0.0; n];
        let mut fp_b = vec![0.0; n];
        let (mut total_t, mut total_f) = (0.0, 0.0);
        for ((&l, &p), &w) in l.iter().zip(&p).zip(&w) {
            // Keras: bucket = relu(ceil(clip(p, 0, 1) * (n - 1)) - 1), in float32.
            let p = (p as f32).clamp(0.0, 1.0);
            let b = ((p * (n - 1) as f32).ceil() - 1.0).max(0.0) as usize;
            tp_b[b] += l * w;
            fp_b[b] += (1.0 - l) * w;
            total_t += l * w;
            total_f += (1.0 - l) * w;
        }
        let (mut ct, mut cf) = (0.0, 0.0);
        for i in (0..n).rev() {
            ct += tp_b[i];
            cf += fp_b[i];
            self.tp[i] += ct;
            self.fp[i] += cf;
            self.tn[i] += total_f - cf;
            self.fn_[i] += total_t - ct;
        }
        Ok(())
    }
    fn result(&self) -> Result<f64> {
        if self.curve == Curve::Pr && self.summation == Summation::Interpolation {
            return Ok(self.interpolate_pr());
        }
        let n = self.num_thresholds;
        let recall: Vec<f64> = (0..n)
            .map(|i| divide_no_nan(self.tp[i], self.tp[i] + self.fn_[i]))
            .collect();
        let (x, y) = match self.curve {
            Curve::Roc => {
                let fpr: Vec<f64> = (0..n)
                    .map(|i| divide_no_nan(self.fp[i], self.fp[i] + self.tn[i]))
                    .collect();
                (fpr, recall)
            }
            Curve::Pr => {
                let prec: Vec<f64> = (0..n)
                    .map(|i| divide_no_nan(self.tp[i], self.tp[i] + self.fp[i]))
                    .collect();
                (recall, prec)
            }
        };
        Ok((0..n - 1)
            .map(|i| {
                let h = match self.summation {
                    Summation::Interpolation => (y[i] + y[i + 1]) / 2.0,
                    Summation::Minoring => y[i].min(y[i + 1]),
                    Summation::Majoring => y[i].max(y[i + 1]),
                };
                (x[i] - x[i + 1]) * h
            })
            .sum())
    }
    fn reset_state(&mut self) {
        let n = self.num_thresholds;
        self.tp = vec![0.0; n];
        self.fp = vec![0.0; n];
        self.tn = vec![0.0; n];
        self.fn_ = vec![0.0; n];
    }
    fn get_config(&self) -> Value {
        json!({
            "name": self.name,
            "dtype": "float32",
            "num_thresholds": self.num_thresholds,
            "curve": match self.curve { Curve::Roc => "ROC", Curve::Pr => "PR" },
            "summation_method": match self.summation {
                Summation::Interpolation => "interpolation",
                Summation::Minoring => "minoring",
                Summation::Majoring => "majoring",
            },
            "multi_label": false,
            "num_labels": null,
            "label_weights": null,
            "from_logits": self.from_logits,
        })
    }
}

/// F-beta score of multi-label / one-hot predictions, shaped `(batch, classes)`:
/// `(1 + β²) · P·R / (β²·P + R)` per class, then averaged (`"micro"`, `"macro"`,
/// `"weighted"`) or not (`None`: a vector, read with [`Metric::result_tensor`]).
/// `F1Score` is this with `β = 1` ([`FBetaScore::f1`]).
///
/// ```
/// use keras::metrics::{FBetaScore, Metric};
/// use keras_tensor::Tensor;
/// let mut f1 = FBetaScore::f1().average(Some("macro"))?.threshold(Some(0.5))?;
/// let y = Tensor::new(&[1.0f32, 0.0, 0.0, 1.0], &[2, 2])?;
/// f1.update_state(&y, &Tensor::new(&[0.9f32, 0.1, 0.2, 0.8], &[2, 2])?, None)?;
/// assert!((f1.result()? - 1.0).abs() < 1e-5);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FBetaScore {
    class_name: &'static str,
    name: String,
    average: Option<String>,
    beta: f64,
    threshold: Option<f64>,
    tp: Vec<f64>,
    fp: Vec<f64>,
    fn_: Vec<f64>,
    weights: Vec<f64>,
}

impl Default for FBetaScore {
    fn default() -> Self {
        FBetaScore {
            class_name: "FBetaScore",
            name: "fbeta_score".into(),
            average: None,
            beta: 1.0,
            threshold: None,
            tp: vec![],
            fp: vec![],
            fn_: vec![],
            weights: vec![],
        }
    }
}

impl FBetaScore {
    /// `average = None, beta = 1, threshold = None` (the row maximum counts as positive).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keras's `F1Score` (named `"f1_score"`).
    pub fn f1() -> Self {
        FBetaScore {
            class_name: "F1Score",
            name: "f1_score".into(),
            ..Self::default()
        }
    }

    /// `None`, `"micro"`, `"macro"` or `"weighted"`.
    ///
    /// # Errors
    /// For any other value.
    pub fn average(mut self, a: Option<&str>) -> Result<Self> {
        if let Some(a) = a {
            if !["micro", "macro", "weighted"].contains(&a) {
                return Err(invalid(
                    "FBetaScore",
                    format!("invalid average {a:?}; expected None, \"micro\", \"macro\" or \"weighted\""),
                ));
            }
        }
        self.average = a.map(str::to_string);
        Ok(self)
    }

    /// The weight of recall (> 0).
    ///
    /// # Errors
    /// For `beta <= 0`.
    pub fn beta(mut self, b: f64) -> Result<Self> {
        if b.is_nan() || b <= 0.0 {
            return Err(invalid("FBetaScore", format!("beta must be > 0; received {b}")));
        }
        self.beta = b;
        Ok(self)
    }

    /// Predictions above it are positive; `None`: the row maximum is.
    ///
    /// # Errors
    /// Unless `0 < threshold <= 1`.
    pub fn threshold(mut self, t: Option<f64>) -> Result<Self> {
        if let Some(t) = t {
            if t.is_nan() || t <= 0.0 || t > 1.0 {
                return Err(invalid(
                    "FBetaScore",
                    format!("threshold must satisfy 0 < threshold <= 1; received {t}"),
                ));
            }
        }
        self.threshold = t;
        Ok(self)
    }

    /// Sets the name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    fn scores(&self) -> Vec<f64> {
        let b2 = self.beta * self.beta;
        let per: Vec<f64> = (0..self.tp.len())
            .map(|i| {
                let p = self.tp[i] / (self.tp[i] + self.fp[i] + EPS);
                let r = self.tp[i] / (self.tp[i] + self.fn_[i] + EPS);
                p * r / (b2 * p + r + EPS) * (1.0 + b2)
            })
            .collect();
        match self.average.as_deref() {
            None => per,
            Some("weighted") => {
                let s: f64 = self.weights.iter().sum::<f64>() + EPS;
                vec![per.iter().zip(&self.weights).map(|(f, w)| f * w / s).sum()]
            }
            Some(_) => vec![per.iter().sum::<f64>() / per.len().max(1) as f64],
        }
    }
}

impl Metric for FBetaScore {
    fn class_name(&self) -> &'static str {
        self.class_name
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor, sw: Option<&Tensor>) -> Result<()> {
        if y_true.rank() != 2 || y_pred.rank() != 2 || y_true.shape() != y_pred.shape() {
            return Err(invalid(
                "FBetaScore",
                format!(
                    "expects 2D inputs with shape (batch_size, output_dim); received y_pred.shape={:?} and \
                     y_true.shape={:?}",
                    y_pred.shape(),
                    y_true.shape()
                ),
            ));
        }
        let (n, c) = (y_pred.shape()[0], y_pred.shape()[1]);
        let micro = self.average.as_deref() == Some("micro");
        let slots = if micro { 1 } else { c };
        if self.tp.len() != slots {
            self.tp = vec![0.0; slots];
            self.fp = vec![0.0; slots];
            self.fn_ = vec![0.0; slots];
            self.weights = vec![0.0; slots];
        }
        let t = f32_of(y_true)?.to_vec_f64()?;
        let p = f32_of(y_pred)?.to_vec_f64()?;
        let w = match sw {
            Some(s) => f32_of(s)?.broadcast_to(&[n])?.to_vec_f64()?,
            None => vec![1.0; n],
        };
        for r in 0..n {
            let row = &p[r * c..(r + 1) * c];
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            for j in 0..c {
                let x = row[j];
                let pos = match self.threshold {
                    None => x >= max && x.abs() > 1e-9,
                    Some(th) => x > th as f32 as f64,
                };
                let yp = if pos { 1.0 } else { 0.0 };
                let yt = t[r * c + j];
                let k = if micro { 0 } else { j };
                self.tp[k] += yp * yt * w[r];
                self.fp[k] += yp * (1.0 - yt) * w[r];
                self.fn_[k] += (1.0 - yp) * yt * w[r];
                self.weights[k] += yt * w[r];
            }
        }
        Ok(())
    }
    fn result(&self) -> Result<f64> {
        if self.average.is_none() {
            return Err(invalid(
                self.class_name,
                "average=None gives one score per class: use result_tensor",
            ));
        }
        Ok(self.scores()[0])
    }
    fn result_tensor(&self) -> Result<Tensor> {
        let v = self.scores();
        let shape: &[usize] = if self.average.is_some() { &[] } else { &[v.len()] };
        Tensor::from_vec(v, shape, &Device::Cpu)?.cast(DType::F32)
    }
    fn reset_state(&mut self) {
        for v in [&mut self.tp, &mut self.fp, &mut self.fn_, &mut self.weights] {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    fn get_config(&self) -> Value {
        let mut c = json!({
            "name": self.name,
            "dtype": "float32",
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        });
        if self.class_name == "F1Score" {
            c.as_object_mut().expect("object").remove("beta");
        }
        c
    }
}

/// Keras's `metrics_utils.confusion_matrix`: a `(num_classes, num_classes)` matrix whose
/// `[i, j]` counts (or sums `weights` of) samples with label `i` predicted as `j`, in `dtype`.
///
/// ```
/// use keras::metrics::confusion_matrix;
/// use keras_tensor::{DType, Tensor};
/// let m = confusion_matrix(&Tensor::new(&[0i64, 1, 1], &[3])?, &Tensor::new(&[0i64, 0, 1], &[3])?, 2, None, DType::I32)?;
/// assert_eq!(m.to_vec::<i32>()?, vec![1, 0, 1, 1]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When labels and predictions differ in size or a class is out of range.
pub fn confusion_matrix(
    labels: &Tensor,
    predictions: &Tensor,
    num_classes: usize,
    weights: Option<&Tensor>,
    dtype: DType,
) -> Result<Tensor> {
    let (l, p) = squeeze_or_expand_to_same_rank(labels, predictions, true)?;
    let (l, p) = (l.to_vec_f64()?, p.to_vec_f64()?);
    if l.len() != p.len() {
        return Err(invalid(
            "confusion_matrix",
            format!("{} labels for {} predictions", l.len(), p.len()),
        ));
    }
    let w = match weights {
        Some(w) => w.broadcast_to(&[l.len()])?.cast(dtype)?.to_vec_f64()?,
        None => vec![1.0; l.len()],
    };
    let mut m = vec![0.0f64; num_classes * num_classes];
    for ((&a, &b), &w) in l.iter().zip(&p).zip(&w) {
        let (a, b) = (a as i64, b as i64);
        if a < 0 || b < 0 || a as usize >= num_classes || b as usize >= num_classes {
            return Err(invalid(
                "confusion_matrix",
                format!("class ({a}, {b}) outside 0..{num_classes}"),
            ));
        }
        m[a as usize * num_classes + b as usize] += w;
    }
    Tensor::from_vec(m, &[num_classes, num_classes], &Device::Cpu)?.cast(dtype)
}
