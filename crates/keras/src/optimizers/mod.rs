//! Optimizers with Keras 3's names, defaults, update formulas and variable layout: [`SGD`],
//! [`Adam`], [`AdamW`], [`RMSprop`], [`Adagrad`], [`Adadelta`], [`Adamax`], [`Nadam`],
//! [`Lion`], and learning-rate [`schedules`].
//!
//! The shared machinery of Keras's `BaseOptimizer` (gradient clipping, weight decay, EMA of
//! the weights, the `iterations` and `learning_rate` variables, config round trips) lives in
//! [`BaseOptimizer`]; each optimizer only supplies its slot variables and `update_step`
//! through [`UpdateRule`]. Every [`UpdateRule`] is an [`Optimizer`].
//!
//! ```
//! use keras::optimizers::{Adam, Optimizer};
//! use keras::Variable;
//! use keras_tensor::Tensor;
//! let w = Variable::new("w", Tensor::new(&[1.0f32, -2.0], &[2])?, true);
//! let mut opt = Adam::new().learning_rate(0.1);
//! for _ in 0..3 {
//!     let loss = w.value().square()?.sum_all()?;
//!     let g = loss.backward()?.get(&w.value()).unwrap().clone();
//!     opt.apply(&[g], &[w.clone()])?;
//! }
//! assert_eq!(opt.iterations(), 3);
//! assert!(w.value().to_vec::<f32>()?[0] < 0.8);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
pub(crate) mod config;
mod lion;
mod nadam;
mod rmsprop;
pub mod schedules;
mod sgd;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamax::Adamax;
pub use adamw::AdamW;
pub use lion::Lion;
pub use nadam::Nadam;
pub use rmsprop::RMSprop;
pub use sgd::SGD;

use config::ConfigReader;
use keras_tensor::{no_grad, DType, Error, Result, Tensor};
use schedules::LearningRateSchedule;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::Variable;

/// A learning rate: a constant (held in the optimizer's `learning_rate` variable, float32 as
/// in Keras) or a schedule evaluated at the optimizer's `iterations`.
///
/// ```
/// use keras::optimizers::{schedules::ExponentialDecay, LearningRate};
/// let a: LearningRate = 0.01.into();
/// let b: LearningRate = ExponentialDecay::new(0.1, 100.0, 0.9).into();
/// assert!(matches!(a, LearningRate::Constant(_)) && matches!(b, LearningRate::Schedule(_)));
/// ```
#[derive(Clone, Debug)]
pub enum LearningRate {
    /// A constant (settable) learning rate.
    Constant(f64),
    /// A schedule (not settable).
    Schedule(Box<dyn LearningRateSchedule>),
}

impl From<f64> for LearningRate {
    fn from(v: f64) -> Self {
        LearningRate::Constant(v)
    }
}

impl<S: LearningRateSchedule + 'static> From<S> for LearningRate {
    fn from(s: S) -> Self {
        LearningRate::Schedule(Box::new(s))
    }
}

impl From<Box<dyn LearningRateSchedule>> for LearningRate {
    fn from(s: Box<dyn LearningRateSchedule>) -> Self {
        LearningRate::Schedule(s)
    }
}

/// The options every Keras optimizer takes, with Keras's names and defaults (the learning
/// rate's default depends on the optimizer).
///
/// `loss_scale_factor` and `gradient_accumulation_steps` are not supported (a config with a
/// non-null value is rejected).
///
/// ```
/// use keras::optimizers::BaseOptions;
/// let o = BaseOptions::new(0.001);
/// assert_eq!((o.use_ema, o.ema_momentum, o.clipnorm), (false, 0.99, None));
/// ```
#[derive(Clone, Debug)]
pub struct BaseOptions {
    /// Learning rate or schedule.
    pub learning_rate: LearningRate,
    /// Decoupled weight decay `var -= var * weight_decay * lr` before each update.
    pub weight_decay: Option<f64>,
    /// Clip each gradient to this L2 norm.
    pub clipnorm: Option<f64>,
    /// Clip each gradient element to `[-clipvalue, clipvalue]`.
    pub clipvalue: Option<f64>,
    /// Clip all gradients together to this global L2 norm.
    pub global_clipnorm: Option<f64>,
    /// Keep an exponential moving average of the weights.
    pub use_ema: bool,
    /// EMA momentum (default 0.99).
    pub ema_momentum: f64,
    /// Overwrite the weights with their EMA every this many steps.
    pub ema_overwrite_frequency: Option<u64>,
    /// Name (default: the snake-case class name, made unique as Keras's `auto_name`).
    pub name: Option<String>,
}

impl BaseOptions {
    /// Keras's defaults with this learning rate.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        BaseOptions {
            learning_rate: learning_rate.into(),
            weight_decay: None,
            clipnorm: None,
            clipvalue: None,
            global_clipnorm: None,
            use_ema: false,
            ema_momentum: 0.99,
            ema_overwrite_frequency: None,
            name: None,
        }
    }

    /// Keras's constructor checks.
    ///
    /// # Errors
    /// More than one clipping option, `ema_momentum` outside `[0, 1]`,
    /// `ema_overwrite_frequency == 0`, or an invalid schedule.
    pub fn validate(&self) -> Result<()> {
        let n = [self.clipnorm, self.clipvalue, self.global_clipnorm]
            .iter()
            .filter(|c| c.is_some())
            .count();
        if n > 1 {
            return Err(Error::InvalidArgument {
                op: "Optimizer",
                msg: format!(
                    "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: \
                     clipnorm={:?}, clipvalue={:?}, global_clipnorm={:?}",
                    self.clipnorm, self.clipvalue, self.global_clipnorm
                ),
            });
        }
        if self.use_ema {
            if !(0.0..=1.0).contains(&self.ema_momentum) {
                return Err(Error::InvalidArgument {
                    op: "Optimizer",
                    msg: format!(
                        "`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={}",
                        self.ema_momentum
                    ),
                });
            }
            if self.ema_overwrite_frequency == Some(0) {
                return Err(Error::InvalidArgument {
                    op: "Optimizer",
                    msg: "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: \
                          ema_overwrite_frequency=0"
                        .into(),
                });
            }
        }
        if let LearningRate::Schedule(s) = &self.learning_rate {
            s.validate()?;
        }
        Ok(())
    }

    /// Reads the shared keys of a Keras optimizer config.
    fn read(r: &mut ConfigReader, default_lr: f64, default_wd: Option<f64>) -> Result<BaseOptions> {
        let learning_rate = match r.take("learning_rate") {
            None => LearningRate::Constant(default_lr),
            Some(Value::Object(m)) => LearningRate::Schedule(schedules::deserialize(&Value::Object(m))?),
            Some(v) => LearningRate::Constant(v.as_f64().ok_or_else(|| Error::InvalidArgument {
                op: "from_config",
                msg: format!("`learning_rate` must be a number or a serialized schedule, got {v}"),
            })?),
        };
        let mut o = BaseOptions::new(learning_rate);
        o.name = r.opt_string("name")?;
        o.weight_decay = r.opt_f64_or("weight_decay", default_wd)?;
        o.clipnorm = r.opt_f64("clipnorm")?;
        o.clipvalue = r.opt_f64("clipvalue")?;
        o.global_clipnorm = r.opt_f64("global_clipnorm")?;
        o.use_ema = r.bool_or("use_ema", false)?;
        o.ema_momentum = r.f64_or("ema_momentum", 0.99)?;
        o.ema_overwrite_frequency = r.opt_u64("ema_overwrite_frequency")?;
        for key in ["loss_scale_factor", "gradient_accumulation_steps"] {
            match r.take(key) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    return Err(Error::InvalidArgument {
                        op: "from_config",
                        msg: format!("`{key}` is not supported by keras-rs optimizers (got {v})"),
                    })
                }
            }
        }
        // Keras ignores the Keras 2 `decay` argument with a warning.
        r.take("decay");
        Ok(o)
    }
}

/// Keras's `auto_name`: `"adam"`, then `"adam_1"`, `"adam_2"`, … in this process.
fn auto_name(prefix: &str) -> String {
    static UIDS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let mut m = match UIDS.get_or_init(Default::default).lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let n = m.entry(prefix.to_string()).or_insert(0);
    let name = if *n == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}_{n}")
    };
    *n += 1;
    name
}

/// The state Keras's `BaseOptimizer` holds for every optimizer: options, the `iterations`
/// and `learning_rate` variables, the variables it was built for, EMA averages, and every
/// optimizer variable in Keras's order.
///
/// Optimizers embed one and expose it through [`UpdateRule::base`]; slot variables are
/// created with [`BaseOptimizer::add_optimizer_variables`] in [`UpdateRule::build`].
///
/// ```
/// use keras::optimizers::{BaseOptimizer, BaseOptions};
/// let b = BaseOptimizer::new("my_opt", BaseOptions::new(0.01));
/// assert_eq!(b.iterations(), 0);
/// assert_eq!(b.variables().len(), 2); // iteration, learning_rate
/// ```
pub struct BaseOptimizer {
    options: BaseOptions,
    default_name: String,
    name: OnceLock<String>,
    iterations: Variable,
    lr_var: Option<Variable>,
    built: bool,
    trainable: Vec<Variable>,
    averages: Vec<Variable>,
    variables: Vec<Variable>,
    exclude_from_weight_decay: Vec<String>,
}

impl std::fmt::Debug for BaseOptimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseOptimizer")
            .field("name", &self.name())
            .field("options", &self.options)
            .field("built", &self.built)
            .finish()
    }
}

fn lr_variable(v: f64) -> Variable {
    Variable::new("learning_rate", Tensor::scalar(v as f32), false)
}

impl BaseOptimizer {
    /// A fresh (unbuilt) state; `snake_name` is the default name's prefix (`"adam"`).
    pub fn new(snake_name: &str, options: BaseOptions) -> BaseOptimizer {
        let lr_var = match &options.learning_rate {
            LearningRate::Constant(v) => Some(lr_variable(*v)),
            LearningRate::Schedule(_) => None,
        };
        let iterations = Variable::new("iteration", Tensor::scalar(0i64), false);
        let mut variables = vec![iterations.clone()];
        variables.extend(lr_var.clone());
        BaseOptimizer {
            options,
            default_name: snake_name.to_string(),
            name: OnceLock::new(),
            iterations,
            lr_var,
            built: false,
            trainable: Vec::new(),
            averages: Vec::new(),
            variables,
            exclude_from_weight_decay: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &BaseOptions {
        &self.options
    }

    /// Mutable options (for builders; changing them after the first `apply` is not checked).
    pub fn options_mut(&mut self) -> &mut BaseOptions {
        &mut self.options
    }

    /// Replaces the learning rate or schedule (before building, as in a builder).
    pub fn set_learning_rate_value(&mut self, lr: LearningRate) {
        match &lr {
            LearningRate::Constant(v) => match &self.lr_var {
                Some(var) => {
                    // A scalar f32 always has the right shape and dtype.
                    let _ = var.assign(&Tensor::scalar(*v as f32));
                }
                None => {
                    let var = lr_variable(*v);
                    self.variables.insert(1, var.clone());
                    self.lr_var = Some(var);
                }
            },
            LearningRate::Schedule(_) => {
                if let Some(var) = self.lr_var.take() {
                    self.variables.retain(|v| !v.same_as(&var));
                }
            }
        }
        self.options.learning_rate = lr;
    }

    /// The name (Keras's `auto_name` of the class when not set).
    pub fn name(&self) -> &str {
        match &self.options.name {
            Some(n) => n,
            None => self.name.get_or_init(|| auto_name(&self.default_name)),
        }
    }

    /// Steps applied so far (the `iteration` variable).
    pub fn iterations(&self) -> u64 {
        self.iterations
            .value()
            .item()
            .map(|v| v.max(0.0) as u64)
            .unwrap_or(0)
    }

    /// The current learning rate: the `learning_rate` variable's value, or the schedule at
    /// [`BaseOptimizer::iterations`].
    pub fn learning_rate(&self) -> f64 {
        match (&self.options.learning_rate, &self.lr_var) {
            (LearningRate::Schedule(s), _) => s.at(self.iterations()),
            (_, Some(v)) => v.value().item().unwrap_or(f64::NAN),
            (LearningRate::Constant(c), None) => *c,
        }
    }

    /// Every optimizer variable in Keras's order.
    pub fn variables(&self) -> Vec<Variable> {
        self.variables.clone()
    }

    /// Whether [`UpdateRule::build`] has run.
    pub fn built(&self) -> bool {
        self.built
    }

    /// The variables the optimizer was built for.
    pub fn trainable_variables(&self) -> &[Variable] {
        &self.trainable
    }

    /// Excludes variables whose name contains any of `var_names` from weight decay (Keras's
    /// `exclude_from_weight_decay(var_names=...)`; plain substrings rather than regexes).
    pub fn exclude_from_weight_decay(&mut self, var_names: &[&str]) {
        self.exclude_from_weight_decay = var_names.iter().map(|s| s.to_string()).collect();
    }

    /// Adds a scalar or shaped optimizer variable (Keras's `add_variable`).
    ///
    /// # Errors
    /// When the tensor cannot be created.
    pub fn add_variable(&mut self, name: &str, shape: &[usize], dtype: DType, init: f64) -> Result<Variable> {
        let t = Tensor::full(init, shape, dtype, &keras_tensor::Device::Cpu)?;
        let v = Variable::new(name, t, false);
        self.variables.push(v.clone());
        Ok(v)
    }

    /// Keras's `add_optimizer_variables`: for each model variable, one slot per
    /// `(name, initial value)`, interleaved per variable as Keras creates them, named
    /// `{variable name}_{slot name}`, with the variable's shape, dtype and device. Returns one
    /// list per slot name.
    ///
    /// # Errors
    /// When a tensor cannot be created.
    pub fn add_optimizer_variables(
        &mut self,
        vars: &[Variable],
        slots: &[(&str, f64)],
    ) -> Result<Vec<Vec<Variable>>> {
        let mut out: Vec<Vec<Variable>> = vec![Vec::with_capacity(vars.len()); slots.len()];
        for var in vars {
            let value = var.value();
            let base = var.name().replace(['/', ':'], "_");
            for (i, (slot, init)) in slots.iter().enumerate() {
                let t = Tensor::full(*init, value.shape(), value.dtype(), value.device())?;
                let v = Variable::new(format!("{base}_{slot}"), t, false);
                self.variables.push(v.clone());
                out[i].push(v);
            }
        }
        Ok(out)
    }

    fn build_common(&mut self, vars: &[Variable]) -> Result<()> {
        self.options.validate()?;
        if self.options.use_ema {
            self.averages = self.add_optimizer_variables(vars, &[("average", 0.0)])?.remove(0);
        }
        self.trainable = vars.to_vec();
        Ok(())
    }

    fn index_of(&self, var: &Variable) -> Result<usize> {
        self.trainable
            .iter()
            .position(|v| v.same_as(var))
            .ok_or_else(|| Error::InvalidArgument {
                op: "Optimizer.apply",
                msg: format!(
                    "Unknown variable: {var:?}. This optimizer can only be called for the variables it \
                 was originally built with. When working with a new set of variables, you should \
                 recreate a new optimizer instance."
                ),
            })
    }

    fn use_weight_decay(&self, var: &Variable) -> bool {
        !self
            .exclude_from_weight_decay
            .iter()
            .any(|p| var.name().contains(p.as_str()))
    }

    fn clip_gradients(&self, grads: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let o = &self.options;
        if let Some(c) = o.clipnorm.filter(|c| *c > 0.0) {
            grads
                .iter()
                .map(|g| {
                    let norm = g.square()?.sum_all()?.sqrt()?;
                    g.mul_scalar(c)?.div(&norm.maximum_scalar(c)?)
                })
                .collect()
        } else if let Some(c) = o.global_clipnorm.filter(|c| *c > 0.0) {
            let mut total: Option<Tensor> = None;
            for g in &grads {
                let s = g.square()?.sum_all()?;
                total = Some(match total {
                    None => s,
                    Some(t) => t.add(&s)?,
                });
            }
            let Some(total) = total else { return Ok(grads) };
            let norm = total.sqrt()?;
            // scale = clip * min(1 / norm, 1 / clip) + (norm - norm): NaN for a non-finite norm.
            let scale = norm
                .reciprocal()?
                .minimum_scalar(1.0 / c)?
                .mul_scalar(c)?
                .add(&norm.sub(&norm)?)?;
            grads.iter().map(|g| g.mul(&scale.cast(g.dtype())?)).collect()
        } else if let Some(c) = o.clipvalue.filter(|c| *c > 0.0) {
            grads.iter().map(|g| g.clip(-c, c)).collect()
        } else {
            Ok(grads)
        }
    }
}

/// The per-optimizer part of an optimizer: its slot variables and its `update_step`, as a
/// Keras `Optimizer` subclass overrides `build` and `update_step`. Implementing it makes a
/// type an [`Optimizer`] (clipping, weight decay, EMA and the iteration counter come from
/// [`BaseOptimizer`]).
///
/// ```
/// use keras::optimizers::{BaseOptimizer, BaseOptions, Optimizer, UpdateRule};
/// use keras::Variable;
/// use keras_tensor::{Result, Tensor};
///
/// /// Plain gradient descent.
/// struct Plain(BaseOptimizer);
/// impl UpdateRule for Plain {
///     fn class_name(&self) -> &'static str { "Plain" }
///     fn base(&self) -> &BaseOptimizer { &self.0 }
///     fn base_mut(&mut self) -> &mut BaseOptimizer { &mut self.0 }
///     fn build(&mut self, _vars: &[Variable]) -> Result<()> { Ok(()) }
///     fn update_step(&mut self, _i: usize, g: &Tensor, v: &Variable, lr: f64) -> Result<()> {
///         v.assign(&v.value().sub(&g.mul_scalar(lr)?)?)
///     }
///     fn config(&self) -> serde_json::Map<String, serde_json::Value> { Default::default() }
/// }
/// let w = Variable::new("w", Tensor::new(&[1.0f32], &[1])?, true);
/// let mut opt = Plain(BaseOptimizer::new("plain", BaseOptions::new(0.5)));
/// opt.apply(&[Tensor::new(&[1.0f32], &[1])?], &[w.clone()])?;
/// assert_eq!(w.value().to_vec::<f32>()?, vec![0.5]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub trait UpdateRule: Send {
    /// Keras's class name (`"Adam"`).
    fn class_name(&self) -> &'static str;
    /// The shared state.
    fn base(&self) -> &BaseOptimizer;
    /// The shared state, mutably.
    fn base_mut(&mut self) -> &mut BaseOptimizer;
    /// Creates the slot variables for `vars` (through
    /// [`BaseOptimizer::add_optimizer_variables`], in Keras's order).
    ///
    /// # Errors
    /// When a variable cannot be created.
    fn build(&mut self, vars: &[Variable]) -> Result<()>;
    /// Runs once per step before the per-variable updates (Nadam's `u_product`).
    ///
    /// # Errors
    /// When an op fails.
    fn before_updates(&mut self) -> Result<()> {
        Ok(())
    }
    /// Updates variable number `index` (in build order) and its slots from its (clipped)
    /// gradient, at the current learning rate. `base().iterations()` is the step count before
    /// this step. Runs without gradient recording.
    ///
    /// # Errors
    /// When an op fails.
    fn update_step(
        &mut self,
        index: usize,
        gradient: &Tensor,
        variable: &Variable,
        learning_rate: f64,
    ) -> Result<()>;
    /// The optimizer-specific config keys (added after the base keys).
    fn config(&self) -> Map<String, Value>;
}

/// An optimizer, as Keras's `keras.optimizers.Optimizer`.
///
/// ```
/// use keras::optimizers::{get, Optimizer};
/// let opt = get("adam")?;
/// assert_eq!(opt.class_name(), "Adam");
/// assert!((opt.learning_rate() - 0.001).abs() < 1e-9);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub trait Optimizer: Send {
    /// Keras's class name.
    fn class_name(&self) -> &str;
    /// The optimizer's name.
    fn name(&self) -> &str;
    /// Creates the optimizer variables for `vars` (done by the first `apply` otherwise).
    ///
    /// # Errors
    /// Invalid options, or when already built for other variables.
    fn build(&mut self, vars: &[Variable]) -> Result<()>;
    /// Applies one step: `grads[i]` is the gradient of `vars[i]` (Keras's `apply`). The first
    /// call builds the optimizer for `vars`. An empty `grads` is a no-op.
    ///
    /// # Errors
    /// A length mismatch, a gradient whose shape differs from its variable's (the error names
    /// the variable and both shapes), a variable the optimizer was not built for, or invalid
    /// options.
    fn apply(&mut self, grads: &[Tensor], vars: &[Variable]) -> Result<()>;
    /// Keras's `apply_gradients`: [`Optimizer::apply`] on `(gradient, variable)` pairs.
    ///
    /// # Errors
    /// As [`Optimizer::apply`].
    fn apply_gradients(&mut self, grads_and_vars: &[(Tensor, Variable)]) -> Result<()> {
        let (g, v): (Vec<Tensor>, Vec<Variable>) = grads_and_vars.iter().cloned().unzip();
        self.apply(&g, &v)
    }
    /// The current learning rate (a schedule evaluated at [`Optimizer::iterations`]).
    fn learning_rate(&self) -> f64;
    /// Sets a constant learning rate.
    ///
    /// # Errors
    /// When the optimizer was created with a schedule (as Keras's `TypeError`).
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;
    /// Steps applied so far.
    fn iterations(&self) -> u64;
    /// Whether the slot variables exist (after `build`, or the first `apply`).
    fn built(&self) -> bool {
        false
    }
    /// Keras's `get_config()`: the base keys, then the optimizer's own.
    fn get_config(&self) -> Value;
    /// Every optimizer variable in Keras's order: `iteration`, `learning_rate` (absent with a
    /// schedule), EMA averages, then the slots (the order of Keras's `optimizer.variables`,
    /// used for saving).
    fn variables(&self) -> Vec<Variable>;
    /// Keras's `finalize_variable_values`: with `use_ema`, overwrites `vars` with their moving
    /// averages.
    ///
    /// # Errors
    /// When `vars` does not match the variables the optimizer was built for.
    fn finalize_variable_values(&mut self, vars: &[Variable]) -> Result<()>;
}

fn check_pairs(grads: &[Tensor], vars: &[Variable]) -> Result<()> {
    if grads.len() != vars.len() {
        return Err(Error::InvalidArgument {
            op: "Optimizer.apply",
            msg: format!("got {} gradients for {} variables", grads.len(), vars.len()),
        });
    }
    for (g, v) in grads.iter().zip(vars) {
        if g.shape() != v.value().shape() {
            return Err(Error::InvalidArgument {
                op: "Optimizer.apply",
                msg: format!(
                    "the gradient of variable {:?} has shape {:?} but the variable has shape {:?}",
                    v.name(),
                    g.shape(),
                    v.shape()
                ),
            });
        }
        if !g.dtype().is_float() {
            return Err(Error::InvalidArgument {
                op: "Optimizer.apply",
                msg: format!(
                    "the gradient of variable {:?} has non-float dtype {}",
                    v.name(),
                    g.dtype()
                ),
            });
        }
    }
    Ok(())
}

impl<T: UpdateRule> Optimizer for T {
    fn class_name(&self) -> &str {
        UpdateRule::class_name(self)
    }

    fn name(&self) -> &str {
        self.base().name()
    }

    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        if self.base().built {
            return Ok(());
        }
        self.base_mut().build_common(vars)?;
        UpdateRule::build(self, vars)?;
        self.base_mut().built = true;
        Ok(())
    }

    fn apply(&mut self, grads: &[Tensor], vars: &[Variable]) -> Result<()> {
        if grads.is_empty() {
            return Ok(());
        }
        check_pairs(grads, vars)?;
        Optimizer::build(self, vars)?;
        let indices = vars
            .iter()
            .map(|v| self.base().index_of(v))
            .collect::<Result<Vec<_>>>()?;
        no_grad(|| -> Result<()> {
            let grads = grads
                .iter()
                .zip(vars)
                .map(|(g, v)| g.detach().cast(v.dtype()))
                .collect::<Result<Vec<_>>>()?;
            let grads = self.base().clip_gradients(grads)?;
            let lr = self.base().learning_rate();
            if let Some(wd) = self.base().options.weight_decay {
                for v in vars {
                    if self.base().use_weight_decay(v) {
                        let x = v.value();
                        v.assign(&x.sub(&x.mul_scalar(wd)?.mul_scalar(lr)?)?)?;
                    }
                }
            }
            self.before_updates()?;
            for ((g, v), &i) in grads.iter().zip(vars).zip(&indices) {
                self.update_step(i, g, v, lr)?;
            }
            let base = self.base();
            if base.options.use_ema {
                let it = base.iterations();
                let momentum = if it != 0 { base.options.ema_momentum } else { 0.0 };
                for (var, avg) in base.trainable.iter().zip(&base.averages) {
                    let a = avg
                        .value()
                        .mul_scalar(momentum)?
                        .add(&var.value().mul_scalar(1.0 - momentum)?)?;
                    avg.assign(&a)?;
                }
                if let Some(freq) = base.options.ema_overwrite_frequency {
                    if (it + 1) % freq == 0 {
                        for (var, avg) in base.trainable.iter().zip(&base.averages) {
                            var.assign(&avg.value())?;
                        }
                    }
                }
            }
            let it = &self.base().iterations;
            it.assign(&it.value().add_scalar(1.0)?)?;
            // Keras applies weight constraints after the whole update.
            for v in vars {
                if let Some(c) = v.constraint() {
                    v.assign(&c.apply(&v.value())?)?;
                }
            }
            Ok(())
        })
    }

    fn learning_rate(&self) -> f64 {
        self.base().learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        if matches!(self.base().options.learning_rate, LearningRate::Schedule(_)) {
            return Err(Error::InvalidArgument {
                op: "Optimizer.set_learning_rate",
                msg: "This optimizer was created with a `LearningRateSchedule` object as its \
                      `learning_rate` constructor argument, hence its learning rate is not settable."
                    .into(),
            });
        }
        self.base_mut()
            .set_learning_rate_value(LearningRate::Constant(lr));
        Ok(())
    }

    fn iterations(&self) -> u64 {
        self.base().iterations()
    }

    fn built(&self) -> bool {
        self.base().built()
    }

    fn get_config(&self) -> Value {
        let b = self.base();
        let o = &b.options;
        let lr = match &o.learning_rate {
            LearningRate::Schedule(s) => schedules::serialize(s.as_ref()),
            LearningRate::Constant(_) => json!(b.learning_rate()),
        };
        let mut m = Map::new();
        m.insert("name".into(), json!(b.name()));
        m.insert("learning_rate".into(), lr);
        m.insert("weight_decay".into(), json!(o.weight_decay));
        m.insert("clipnorm".into(), json!(o.clipnorm));
        m.insert("global_clipnorm".into(), json!(o.global_clipnorm));
        m.insert("clipvalue".into(), json!(o.clipvalue));
        m.insert("use_ema".into(), json!(o.use_ema));
        m.insert("ema_momentum".into(), json!(o.ema_momentum));
        m.insert("ema_overwrite_frequency".into(), json!(o.ema_overwrite_frequency));
        m.insert("loss_scale_factor".into(), Value::Null);
        m.insert("gradient_accumulation_steps".into(), Value::Null);
        m.extend(self.config());
        Value::Object(m)
    }

    fn variables(&self) -> Vec<Variable> {
        self.base().variables()
    }

    fn finalize_variable_values(&mut self, vars: &[Variable]) -> Result<()> {
        let b = self.base();
        if !b.options.use_ema || !b.built {
            return Ok(());
        }
        if vars.len() != b.averages.len() {
            return Err(Error::InvalidArgument {
                op: "Optimizer.finalize_variable_values",
                msg: format!(
                    "The length of model variables ({}) to override does not match the length of \
                     model variables stored in the optimizer ({}).",
                    vars.len(),
                    b.averages.len()
                ),
            });
        }
        no_grad(|| {
            vars.iter()
                .zip(&b.averages)
                .try_for_each(|(v, a)| v.assign(&a.value()))
        })
    }
}

/// Builder methods shared by every optimizer (Keras's base keyword arguments).
macro_rules! base_builder {
    ($t:ty) => {
        impl $t {
            /// Sets `learning_rate` (a number or a schedule).
            pub fn learning_rate(mut self, lr: impl Into<$crate::optimizers::LearningRate>) -> Self {
                self.base.set_learning_rate_value(lr.into());
                self
            }
            /// Sets `weight_decay`.
            pub fn weight_decay(mut self, v: f64) -> Self {
                self.base.options_mut().weight_decay = Some(v);
                self
            }
            /// Sets `clipnorm`.
            pub fn clipnorm(mut self, v: f64) -> Self {
                self.base.options_mut().clipnorm = Some(v);
                self
            }
            /// Sets `clipvalue`.
            pub fn clipvalue(mut self, v: f64) -> Self {
                self.base.options_mut().clipvalue = Some(v);
                self
            }
            /// Sets `global_clipnorm`.
            pub fn global_clipnorm(mut self, v: f64) -> Self {
                self.base.options_mut().global_clipnorm = Some(v);
                self
            }
            /// Sets `use_ema`.
            pub fn use_ema(mut self, v: bool) -> Self {
                self.base.options_mut().use_ema = v;
                self
            }
            /// Sets `ema_momentum`.
            pub fn ema_momentum(mut self, v: f64) -> Self {
                self.base.options_mut().ema_momentum = v;
                self
            }
            /// Sets `ema_overwrite_frequency`.
            pub fn ema_overwrite_frequency(mut self, v: u64) -> Self {
                self.base.options_mut().ema_overwrite_frequency = Some(v);
                self
            }
            /// Sets `name`.
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.base.options_mut().name = Some(name.into());
                self
            }
            /// Replaces all the shared options.
            pub fn base_options(mut self, options: $crate::optimizers::BaseOptions) -> Self {
                let lr = options.learning_rate.clone();
                *self.base.options_mut() = options;
                self.base.set_learning_rate_value(lr);
                self
            }
        }

        impl Default for $t {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}
pub(crate) use base_builder;

/// The optimizers [`get`] and [`from_config`] know, as Keras's lower-cased class names.
pub const OPTIMIZER_NAMES: &[&str] = &[
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion",
];

fn unknown(name: &str) -> Error {
    Error::InvalidArgument {
        op: "optimizers::get",
        msg: format!(
            "Could not interpret optimizer identifier: {name:?} (expected one of {OPTIMIZER_NAMES:?})"
        ),
    }
}

/// Keras's `keras.optimizers.get` for a string: the optimizer with its defaults, the name
/// matched case-insensitively against the class names (`"adam"`, `"RMSprop"`, `"SGD"`, …).
///
/// ```
/// use keras::optimizers::get;
/// assert_eq!(get("RMSprop")?.class_name(), "RMSprop");
/// assert!(get("adamm").err().unwrap().to_string().contains("rmsprop"));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// An unknown name (the error lists the valid ones).
pub fn get(name: &str) -> Result<Box<dyn Optimizer>> {
    from_config(name, &json!({})).map_err(|e| match e {
        Error::InvalidArgument {
            op: "optimizers::get",
            ..
        } => unknown(name),
        e => e,
    })
}

/// Builds an optimizer from Keras's class name (case-insensitive) and `get_config()` dict.
///
/// ```
/// use keras::optimizers::{from_config, Adam, Optimizer};
/// let cfg = Adam::new().amsgrad(true).get_config();
/// let opt = from_config("Adam", &cfg)?;
/// assert_eq!(opt.get_config()["amsgrad"], true);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// An unknown class name, an unknown or mistyped key, or an invalid value.
pub fn from_config(class_name: &str, config: &Value) -> Result<Box<dyn Optimizer>> {
    let lower = class_name.to_ascii_lowercase();
    let mut r = ConfigReader::new(class_name, config)?;
    let opt: Box<dyn Optimizer> = match lower.as_str() {
        "sgd" => Box::new(SGD::read(&mut r)?),
        "adam" => Box::new(Adam::read(&mut r)?),
        "adamw" => Box::new(AdamW::read(&mut r)?),
        "rmsprop" => Box::new(RMSprop::read(&mut r)?),
        "adagrad" => Box::new(Adagrad::read(&mut r)?),
        "adadelta" => Box::new(Adadelta::read(&mut r)?),
        "adamax" => Box::new(Adamax::read(&mut r)?),
        "nadam" => Box::new(Nadam::read(&mut r)?),
        "lion" => Box::new(Lion::read(&mut r)?),
        _ => return Err(unknown(class_name)),
    };
    r.finish()?;
    Ok(opt)
}

/// Keras's `keras.optimizers.serialize`: `{"module": "keras.optimizers", "class_name",
/// "config", "registered_name": null}`.
///
/// ```
/// use keras::optimizers::{serialize, SGD};
/// assert_eq!(serialize(&SGD::new())["class_name"], "SGD");
/// ```
pub fn serialize(opt: &dyn Optimizer) -> Value {
    json!({
        "module": "keras.optimizers",
        "class_name": opt.class_name(),
        "config": opt.get_config(),
        "registered_name": null,
    })
}

/// The inverse of [`serialize`] (Keras's `keras.optimizers.deserialize`).
///
/// ```
/// use keras::optimizers::{deserialize, serialize, Nadam};
/// assert_eq!(deserialize(&serialize(&Nadam::new()))?.class_name(), "Nadam");
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When `value` has no string `class_name`, or as [`from_config`].
pub fn deserialize(value: &Value) -> Result<Box<dyn Optimizer>> {
    let class = value
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidArgument {
            op: "optimizers::deserialize",
            msg: format!("expected a dict with a string \"class_name\", got {value}"),
        })?;
    let empty = json!({});
    from_config(class, value.get("config").unwrap_or(&empty))
}

/// Rounds a host-side scalar to `dtype`'s precision (float32 for all but float64), so that
/// scalar coefficients follow Keras's arithmetic in the variable's dtype.
pub(crate) fn round_to(dtype: DType, x: f64) -> f64 {
    if dtype == DType::F64 {
        x
    } else {
        x as f32 as f64
    }
}
