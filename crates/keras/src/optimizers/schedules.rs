//! Learning-rate schedules, as `keras.optimizers.schedules`: a function of the optimizer's
//! iteration count giving the learning rate for that step.
//!
//! ```
//! use keras::optimizers::schedules::{ExponentialDecay, LearningRateSchedule};
//! let s = ExponentialDecay::new(0.1, 10.0, 0.5).staircase(true);
//! assert_eq!(s.at(9), 0.1);
//! assert_eq!(s.at(10), 0.05);
//! ```

use keras_tensor::{Error, Result};
use serde_json::{json, Map, Value};
use std::f64::consts::PI;

use super::config::{num, ConfigReader};

/// A learning rate as a function of the step (the optimizer's `iterations`), as Keras's
/// `LearningRateSchedule`.
///
/// ```
/// use keras::optimizers::schedules::{CosineDecay, LearningRateSchedule};
/// let s = CosineDecay::new(1.0, 100.0);
/// assert!((s.at(50) - 0.5).abs() < 1e-12);
/// ```
pub trait LearningRateSchedule: Send + Sync + std::fmt::Debug {
    /// The learning rate at `step`.
    fn at(&self, step: u64) -> f64;
    /// Keras's class name (`"ExponentialDecay"`, …).
    fn class_name(&self) -> &'static str;
    /// Keras's `get_config()`.
    fn get_config(&self) -> Value;
    /// Checks the arguments (Keras checks them in the constructor).
    ///
    /// # Errors
    /// When an argument is out of range (e.g. `decay_steps <= 0`).
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// A boxed copy.
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule>;
}

impl Clone for Box<dyn LearningRateSchedule> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

fn positive(op: &'static str, what: &str, v: f64) -> Result<()> {
    if v > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            msg: format!("Argument `{what}` must be > 0. Received: {what}={v}"),
        })
    }
}

macro_rules! schedule_common {
    ($t:ty, $class:literal) => {
        impl $t {
            /// Sets the name (Keras's `name` argument).
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.name = name.into();
                self
            }
        }
    };
}

/// `initial_learning_rate * decay_rate ^ (step / decay_steps)`, the exponent floored when
/// `staircase` (Keras's `ExponentialDecay`).
///
/// ```
/// use keras::optimizers::schedules::{ExponentialDecay, LearningRateSchedule};
/// assert!((ExponentialDecay::new(0.1, 10.0, 0.5).at(10) - 0.05).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialDecay {
    /// Learning rate at step 0.
    pub initial_learning_rate: f64,
    /// Steps per decay period (> 0).
    pub decay_steps: f64,
    /// Factor per period.
    pub decay_rate: f64,
    /// Decay in discrete intervals.
    pub staircase: bool,
    /// Name (default `"ExponentialDecay"`).
    pub name: String,
}

impl ExponentialDecay {
    /// A schedule with `staircase = false`.
    pub fn new(initial_learning_rate: f64, decay_steps: f64, decay_rate: f64) -> Self {
        ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
            name: "ExponentialDecay".into(),
        }
    }
    /// Sets `staircase`.
    pub fn staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }
}
schedule_common!(ExponentialDecay, "ExponentialDecay");

impl LearningRateSchedule for ExponentialDecay {
    fn at(&self, step: u64) -> f64 {
        let mut p = step as f64 / self.decay_steps;
        if self.staircase {
            p = p.floor();
        }
        self.initial_learning_rate * self.decay_rate.powf(p)
    }
    fn class_name(&self) -> &'static str {
        "ExponentialDecay"
    }
    fn get_config(&self) -> Value {
        json!({
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": num(self.decay_steps),
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        })
    }
    fn validate(&self) -> Result<()> {
        positive("ExponentialDecay", "decay_steps", self.decay_steps)
    }
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule> {
        Box::new(self.clone())
    }
}

/// A constant learning rate per interval: `values[0]` while `step <= boundaries[0]`,
/// `values[i]` while `boundaries[i-1] < step <= boundaries[i]`, and `values[n]` after the
/// last boundary (Keras's `PiecewiseConstantDecay`).
///
/// ```
/// use keras::optimizers::schedules::{LearningRateSchedule, PiecewiseConstantDecay};
/// let s = PiecewiseConstantDecay::new(vec![10.0, 20.0], vec![1.0, 0.5, 0.1]);
/// assert_eq!((s.at(10), s.at(11), s.at(21)), (1.0, 0.5, 0.1));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseConstantDecay {
    /// Step boundaries (integers in Keras; fractional parts are truncated).
    pub boundaries: Vec<f64>,
    /// One more value than boundaries.
    pub values: Vec<f64>,
    /// Name (default `"PiecewiseConstant"`).
    pub name: String,
}

impl PiecewiseConstantDecay {
    /// A schedule from boundaries and values (`values.len() == boundaries.len() + 1`, checked
    /// by [`LearningRateSchedule::validate`]).
    pub fn new(boundaries: Vec<f64>, values: Vec<f64>) -> Self {
        PiecewiseConstantDecay {
            boundaries,
            values,
            name: "PiecewiseConstant".into(),
        }
    }
}
schedule_common!(PiecewiseConstantDecay, "PiecewiseConstantDecay");

impl LearningRateSchedule for PiecewiseConstantDecay {
    fn at(&self, step: u64) -> f64 {
        if self.boundaries.is_empty() || self.values.len() != self.boundaries.len() + 1 {
            return self.values.first().copied().unwrap_or(f64::NAN);
        }
        // Keras's formulation (a sum of indicator * value), boundaries cast to the step's
        // integer dtype.
        let s = step as f64;
        let b: Vec<f64> = self.boundaries.iter().map(|x| x.trunc()).collect();
        let n = b.len();
        let mut r = 0.0;
        if s <= b[0] {
            r += self.values[0];
        }
        if s > b[n - 1] {
            r += self.values[n];
        }
        for i in 0..n - 1 {
            if s > b[i] && s <= b[i + 1] {
                r += self.values[i + 1];
            }
        }
        r
    }
    fn class_name(&self) -> &'static str {
        "PiecewiseConstantDecay"
    }
    fn get_config(&self) -> Value {
        json!({
            "boundaries": self.boundaries.iter().map(|&b| num(b)).collect::<Vec<_>>(),
            "values": self.values,
            "name": self.name,
        })
    }
    fn validate(&self) -> Result<()> {
        if self.boundaries.len() + 1 != self.values.len() || self.boundaries.is_empty() {
            return Err(Error::InvalidArgument {
                op: "PiecewiseConstantDecay",
                msg: format!(
                    "The length of boundaries should be 1 less than the length of values (and at \
                     least 1). Received: boundaries={:?} of length {}, and values={:?} of length {}.",
                    self.boundaries,
                    self.boundaries.len(),
                    self.values,
                    self.values.len()
                ),
            });
        }
        Ok(())
    }
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule> {
        Box::new(self.clone())
    }
}

/// `initial_learning_rate / (1 + decay_rate * step / decay_steps)`, the ratio floored when
/// `staircase` (Keras's `InverseTimeDecay`).
///
/// ```
/// use keras::optimizers::schedules::{InverseTimeDecay, LearningRateSchedule};
/// assert!((InverseTimeDecay::new(1.0, 1.0, 0.5).at(2) - 0.5).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct InverseTimeDecay {
    /// Learning rate at step 0.
    pub initial_learning_rate: f64,
    /// Steps per decay period (> 0).
    pub decay_steps: f64,
    /// Decay rate.
    pub decay_rate: f64,
    /// Decay in discrete intervals.
    pub staircase: bool,
    /// Name (default `"InverseTimeDecay"`).
    pub name: String,
}

impl InverseTimeDecay {
    /// A schedule with `staircase = false`.
    pub fn new(initial_learning_rate: f64, decay_steps: f64, decay_rate: f64) -> Self {
        InverseTimeDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
            name: "InverseTimeDecay".into(),
        }
    }
    /// Sets `staircase`.
    pub fn staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }
}
schedule_common!(InverseTimeDecay, "InverseTimeDecay");

impl LearningRateSchedule for InverseTimeDecay {
    fn at(&self, step: u64) -> f64 {
        let mut p = step as f64 / self.decay_steps;
        if self.staircase {
            p = p.floor();
        }
        self.initial_learning_rate / (1.0 + self.decay_rate * p)
    }
    fn class_name(&self) -> &'static str {
        "InverseTimeDecay"
    }
    fn get_config(&self) -> Value {
        json!({
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": num(self.decay_steps),
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        })
    }
    fn validate(&self) -> Result<()> {
        positive("InverseTimeDecay", "decay_steps", self.decay_steps)
    }
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule> {
        Box::new(self.clone())
    }
}

/// `(initial - end) * (1 - step / decay_steps) ^ power + end`, with `step` capped at
/// `decay_steps`, or with `decay_steps` stretched to the next multiple when `cycle`
/// (Keras's `PolynomialDecay`; defaults `end_learning_rate = 1e-4`, `power = 1`).
///
/// ```
/// use keras::optimizers::schedules::{LearningRateSchedule, PolynomialDecay};
/// let s = PolynomialDecay::new(0.1, 10.0).end_learning_rate(0.0);
/// assert!((s.at(5) - 0.05).abs() < 1e-12 && s.at(20) == 0.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PolynomialDecay {
    /// Learning rate at step 0.
    pub initial_learning_rate: f64,
    /// Steps to reach `end_learning_rate` (> 0).
    pub decay_steps: f64,
    /// Final learning rate.
    pub end_learning_rate: f64,
    /// Exponent.
    pub power: f64,
    /// Restart after `decay_steps`.
    pub cycle: bool,
    /// Name (default `"PolynomialDecay"`).
    pub name: String,
}

impl PolynomialDecay {
    /// A linear decay to `1e-4` over `decay_steps`.
    pub fn new(initial_learning_rate: f64, decay_steps: f64) -> Self {
        PolynomialDecay {
            initial_learning_rate,
            decay_steps,
            end_learning_rate: 1e-4,
            power: 1.0,
            cycle: false,
            name: "PolynomialDecay".into(),
        }
    }
    /// Sets `end_learning_rate`.
    pub fn end_learning_rate(mut self, v: f64) -> Self {
        self.end_learning_rate = v;
        self
    }
    /// Sets `power`.
    pub fn power(mut self, v: f64) -> Self {
        self.power = v;
        self
    }
    /// Sets `cycle`.
    pub fn cycle(mut self, v: bool) -> Self {
        self.cycle = v;
        self
    }
}
schedule_common!(PolynomialDecay, "PolynomialDecay");

impl LearningRateSchedule for PolynomialDecay {
    fn at(&self, step: u64) -> f64 {
        let mut s = step as f64;
        let mut d = self.decay_steps;
        if self.cycle {
            let mult = if s == 0.0 {
                1.0
            } else {
                (s / self.decay_steps).ceil()
            };
            d *= mult;
        } else {
            s = s.min(d);
        }
        let p = s / d;
        (self.initial_learning_rate - self.end_learning_rate) * (1.0 - p).powf(self.power)
            + self.end_learning_rate
    }
    fn class_name(&self) -> &'static str {
        "PolynomialDecay"
    }
    fn get_config(&self) -> Value {
        json!({
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": num(self.decay_steps),
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        })
    }
    fn validate(&self) -> Result<()> {
        positive("PolynomialDecay", "decay_steps", self.decay_steps)
    }
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule> {
        Box::new(self.clone())
    }
}

/// Cosine decay from `initial_learning_rate` (or, after a linear warmup of `warmup_steps`,
/// from `warmup_target`) to `alpha` times it over `decay_steps` (Keras's `CosineDecay`).
///
/// ```
/// use keras::optimizers::schedules::{CosineDecay, LearningRateSchedule};
/// let s = CosineDecay::new(0.0, 10.0).warmup_target(Some(1.0)).warmup_steps(4.0);
/// assert!((s.at(2) - 0.5).abs() < 1e-12 && (s.at(4) - 1.0).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CosineDecay {
    /// Learning rate at step 0.
    pub initial_learning_rate: f64,
    /// Length of the decay (> 0).
    pub decay_steps: f64,
    /// Minimum as a fraction of the start value.
    pub alpha: f64,
    /// Name (default `"CosineDecay"`).
    pub name: String,
    /// Learning rate reached at the end of the warmup (`None`: no warmup).
    pub warmup_target: Option<f64>,
    /// Length of the linear warmup.
    pub warmup_steps: f64,
}

impl CosineDecay {
    /// A decay with `alpha = 0` and no warmup.
    pub fn new(initial_learning_rate: f64, decay_steps: f64) -> Self {
        CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            name: "CosineDecay".into(),
            warmup_target: None,
            warmup_steps: 0.0,
        }
    }
    /// Sets `alpha`.
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
    /// Sets `warmup_target`.
    pub fn warmup_target(mut self, v: Option<f64>) -> Self {
        self.warmup_target = v;
        self
    }
    /// Sets `warmup_steps`.
    pub fn warmup_steps(mut self, v: f64) -> Self {
        self.warmup_steps = v;
        self
    }
    fn decay(&self, step: f64, from: f64) -> f64 {
        let frac = step / self.decay_steps;
        let cos = 0.5 * (1.0 + (PI * frac).cos());
        from * ((1.0 - self.alpha) * cos + self.alpha)
    }
}
schedule_common!(CosineDecay, "CosineDecay");

impl LearningRateSchedule for CosineDecay {
    fn at(&self, step: u64) -> f64 {
        let s = step as f64;
        match self.warmup_target {
            None => self.decay(s.min(self.decay_steps), self.initial_learning_rate),
            Some(target) => {
                let s = s.min(self.decay_steps + self.warmup_steps);
                if s < self.warmup_steps {
                    (target - self.initial_learning_rate) * (s / self.warmup_steps)
                        + self.initial_learning_rate
                } else {
                    self.decay(s - self.warmup_steps, target)
                }
            }
        }
    }
    fn class_name(&self) -> &'static str {
        "CosineDecay"
    }
    fn get_config(&self) -> Value {
        json!({
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": num(self.decay_steps),
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": num(self.warmup_steps),
        })
    }
    fn validate(&self) -> Result<()> {
        positive("CosineDecay", "decay_steps", self.decay_steps)
    }
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule> {
        Box::new(self.clone())
    }
}

/// Cosine decay with warm restarts (SGDR): periods of `first_decay_steps * t_mul^i` steps,
/// the i-th starting at `initial_learning_rate * m_mul^i` (Keras's `CosineDecayRestarts`;
/// defaults `t_mul = 2`, `m_mul = 1`, `alpha = 0`).
///
/// ```
/// use keras::optimizers::schedules::{CosineDecayRestarts, LearningRateSchedule};
/// let s = CosineDecayRestarts::new(1.0, 10.0);
/// assert!((s.at(10) - 1.0).abs() < 1e-12); // restart
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CosineDecayRestarts {
    /// Learning rate at step 0.
    pub initial_learning_rate: f64,
    /// Length of the first period (> 0).
    pub first_decay_steps: f64,
    /// Period length multiplier.
    pub t_mul: f64,
    /// Start value multiplier per period.
    pub m_mul: f64,
    /// Minimum as a fraction of the start value.
    pub alpha: f64,
    /// Name (default `"SGDRDecay"`).
    pub name: String,
}

impl CosineDecayRestarts {
    /// A schedule with `t_mul = 2`, `m_mul = 1`, `alpha = 0`.
    pub fn new(initial_learning_rate: f64, first_decay_steps: f64) -> Self {
        CosineDecayRestarts {
            initial_learning_rate,
            first_decay_steps,
            t_mul: 2.0,
            m_mul: 1.0,
            alpha: 0.0,
            name: "SGDRDecay".into(),
        }
    }
    /// Sets `t_mul`.
    pub fn t_mul(mut self, v: f64) -> Self {
        self.t_mul = v;
        self
    }
    /// Sets `m_mul`.
    pub fn m_mul(mut self, v: f64) -> Self {
        self.m_mul = v;
        self
    }
    /// Sets `alpha`.
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
}
schedule_common!(CosineDecayRestarts, "CosineDecayRestarts");

impl LearningRateSchedule for CosineDecayRestarts {
    fn at(&self, step: u64) -> f64 {
        let mut frac = step as f64 / self.first_decay_steps;
        let i_restart;
        if self.t_mul == 1.0 {
            i_restart = frac.floor();
            frac -= i_restart;
        } else {
            i_restart = ((1.0 - frac * (1.0 - self.t_mul)).ln() / self.t_mul.ln()).floor();
            let sum_r = (1.0 - self.t_mul.powf(i_restart)) / (1.0 - self.t_mul);
            frac = (frac - sum_r) / self.t_mul.powf(i_restart);
        }
        let m_fac = self.m_mul.powf(i_restart);
        let cos = 0.5 * m_fac * (1.0 + (PI * frac).cos());
        self.initial_learning_rate * ((1.0 - self.alpha) * cos + self.alpha)
    }
    fn class_name(&self) -> &'static str {
        "CosineDecayRestarts"
    }
    fn get_config(&self) -> Value {
        json!({
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": num(self.first_decay_steps),
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        })
    }
    fn validate(&self) -> Result<()> {
        positive("CosineDecayRestarts", "first_decay_steps", self.first_decay_steps)
    }
    fn boxed_clone(&self) -> Box<dyn LearningRateSchedule> {
        Box::new(self.clone())
    }
}

/// Builds a schedule from Keras's class name and `get_config()` dict.
///
/// ```
/// use keras::optimizers::schedules::{from_config, LearningRateSchedule};
/// let s = from_config("ExponentialDecay",
///     &serde_json::json!({"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}))?;
/// assert!((s.at(10) - 0.05).abs() < 1e-12);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// An unknown class name, a missing or mistyped argument, an unknown argument, or an invalid
/// value.
pub fn from_config(class_name: &str, config: &Value) -> Result<Box<dyn LearningRateSchedule>> {
    let mut r = ConfigReader::new(class_name, config)?;
    let s: Box<dyn LearningRateSchedule> = match class_name {
        "ExponentialDecay" => {
            let mut s = ExponentialDecay::new(
                r.f64("initial_learning_rate")?,
                r.f64("decay_steps")?,
                r.f64("decay_rate")?,
            );
            s.staircase = r.bool_or("staircase", false)?;
            s.name = r.string_or("name", &s.name)?;
            Box::new(s)
        }
        "PiecewiseConstantDecay" => {
            let mut s = PiecewiseConstantDecay::new(r.f64_list("boundaries")?, r.f64_list("values")?);
            s.name = r.string_or("name", &s.name)?;
            Box::new(s)
        }
        "InverseTimeDecay" => {
            let mut s = InverseTimeDecay::new(
                r.f64("initial_learning_rate")?,
                r.f64("decay_steps")?,
                r.f64("decay_rate")?,
            );
            s.staircase = r.bool_or("staircase", false)?;
            s.name = r.string_or("name", &s.name)?;
            Box::new(s)
        }
        "PolynomialDecay" => {
            let mut s = PolynomialDecay::new(r.f64("initial_learning_rate")?, r.f64("decay_steps")?);
            s.end_learning_rate = r.f64_or("end_learning_rate", 1e-4)?;
            s.power = r.f64_or("power", 1.0)?;
            s.cycle = r.bool_or("cycle", false)?;
            s.name = r.string_or("name", &s.name)?;
            Box::new(s)
        }
        "CosineDecay" => {
            let mut s = CosineDecay::new(r.f64("initial_learning_rate")?, r.f64("decay_steps")?);
            s.alpha = r.f64_or("alpha", 0.0)?;
            s.warmup_target = r.opt_f64("warmup_target")?;
            s.warmup_steps = r.f64_or("warmup_steps", 0.0)?;
            s.name = r.string_or("name", &s.name)?;
            Box::new(s)
        }
        "CosineDecayRestarts" => {
            let mut s =
                CosineDecayRestarts::new(r.f64("initial_learning_rate")?, r.f64("first_decay_steps")?);
            s.t_mul = r.f64_or("t_mul", 2.0)?;
            s.m_mul = r.f64_or("m_mul", 1.0)?;
            s.alpha = r.f64_or("alpha", 0.0)?;
            s.name = r.string_or("name", &s.name)?;
            Box::new(s)
        }
        other => {
            return Err(Error::InvalidArgument {
                op: "schedules::from_config",
                msg: format!(
                    "unknown learning rate schedule {other:?} (expected one of ExponentialDecay, \
                     PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay, CosineDecay, \
                     CosineDecayRestarts)"
                ),
            })
        }
    };
    r.finish()?;
    s.validate()?;
    Ok(s)
}

/// Keras's `keras.optimizers.schedules.serialize`: `{"module", "class_name", "config",
/// "registered_name"}`.
///
/// ```
/// use keras::optimizers::schedules::{serialize, ExponentialDecay};
/// let v = serialize(&ExponentialDecay::new(0.1, 10.0, 0.5));
/// assert_eq!(v["class_name"], "ExponentialDecay");
/// ```
pub fn serialize(schedule: &dyn LearningRateSchedule) -> Value {
    let mut m = Map::new();
    m.insert("module".into(), json!("keras.optimizers.schedules"));
    m.insert("class_name".into(), json!(schedule.class_name()));
    m.insert("config".into(), schedule.get_config());
    m.insert("registered_name".into(), Value::Null);
    Value::Object(m)
}

/// The inverse of [`serialize`].
///
/// ```
/// use keras::optimizers::schedules::{deserialize, serialize, LearningRateSchedule, ExponentialDecay};
/// let s = deserialize(&serialize(&ExponentialDecay::new(0.1, 10.0, 0.5)))?;
/// assert_eq!(s.class_name(), "ExponentialDecay");
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When `value` is not such a dict, or as [`from_config`].
pub fn deserialize(value: &Value) -> Result<Box<dyn LearningRateSchedule>> {
    let class = value
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidArgument {
            op: "schedules::deserialize",
            msg: format!("expected a dict with a string \"class_name\", got {value}"),
        })?;
    let empty = json!({});
    from_config(class, value.get("config").unwrap_or(&empty))
}
