//! Adam.

use super::config::ConfigReader;
use super::{base_builder, round_to, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::ops::optim::AdamStep;
use keras_tensor::{Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `Adam`: `learning_rate = 0.001`, `beta_1 = 0.9`, `beta_2 = 0.999`,
/// `epsilon = 1e-7`, `amsgrad = false`.
///
/// `m += (g - m)(1 - β1)`, `v += (g² - v)(1 - β2)`, `w -= lr·√(1-β2ᵗ)/(1-β1ᵗ) · m / (√v + ε)`
/// (with AMSGrad, `v` is replaced by its running maximum).
///
/// ```
/// use keras::optimizers::{Adam, Optimizer};
/// let opt = Adam::new().learning_rate(3e-4).amsgrad(true);
/// assert_eq!(opt.get_config()["beta_1"], 0.9);
/// ```
pub struct Adam {
    base: BaseOptimizer,
    core: AdamCore,
}

/// Adam's hyper-parameters and slots, shared with AdamW.
pub(crate) struct AdamCore {
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
    pub(crate) amsgrad: bool,
    m: Vec<Variable>,
    v: Vec<Variable>,
    v_hat: Vec<Variable>,
}

impl AdamCore {
    pub(crate) fn new() -> Self {
        AdamCore {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            m: vec![],
            v: vec![],
            v_hat: vec![],
        }
    }
    pub(crate) fn read(&mut self, r: &mut ConfigReader) -> Result<()> {
        self.beta_1 = r.f64_or("beta_1", 0.9)?;
        self.beta_2 = r.f64_or("beta_2", 0.999)?;
        self.epsilon = r.f64_or("epsilon", 1e-7)?;
        self.amsgrad = r.bool_or("amsgrad", false)?;
        Ok(())
    }
    pub(crate) fn build(&mut self, base: &mut BaseOptimizer, vars: &[Variable]) -> Result<()> {
        let mut s = base.add_optimizer_variables(vars, &[("momentum", 0.0), ("velocity", 0.0)])?;
        self.v = s.pop().unwrap_or_default();
        self.m = s.pop().unwrap_or_default();
        if self.amsgrad {
            self.v_hat = base
                .add_optimizer_variables(vars, &[("velocity_hat", 0.0)])?
                .remove(0);
        }
        Ok(())
    }
    pub(crate) fn step(&self, step: u64, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        // Keras computes these scalars in the variable's dtype (float32 for float32 weights).
        let r = |x: f64| round_to(var.dtype(), x);
        let t = r((step + 1) as f64);
        let (b1p, b2p) = (r(r(self.beta_1).powf(t)), r(r(self.beta_2).powf(t)));
        let alpha = r(r(r(lr) * r(r(1.0 - b2p).sqrt())) / r(1.0 - b1p));
        let (m, v) = (&self.m[i], &self.v[i]);
        // One pass over the variable, its moments and the gradient (f32/f64), with the
        // same arithmetic as the tensor-op formula below.
        let fused = AdamStep {
            one_minus_beta_1: 1.0 - self.beta_1,
            one_minus_beta_2: 1.0 - self.beta_2,
            alpha,
            epsilon: self.epsilon,
        };
        let vh = self.amsgrad.then(|| self.v_hat[i].value());
        if let Some((p2, m2, v2, h2)) =
            var.value()
                .adam_update(&m.value(), &v.value(), vh.as_ref(), g, &fused)?
        {
            m.assign(&m2)?;
            v.assign(&v2)?;
            if let Some(h2) = h2 {
                self.v_hat[i].assign(&h2)?;
            }
            return var.assign(&p2);
        }
        let new_m = m
            .value()
            .add(&g.sub(&m.value())?.mul_scalar(1.0 - self.beta_1)?)?;
        m.assign(&new_m)?;
        let new_v = v
            .value()
            .add(&g.square()?.sub(&v.value())?.mul_scalar(1.0 - self.beta_2)?)?;
        v.assign(&new_v)?;
        let v_used = if self.amsgrad {
            let vh = &self.v_hat[i];
            let nv = vh.value().maximum(&new_v)?;
            vh.assign(&nv)?;
            nv
        } else {
            new_v
        };
        let upd = new_m
            .mul_scalar(alpha)?
            .div(&v_used.sqrt()?.add_scalar(self.epsilon)?)?;
        var.assign(&var.value().sub(&upd)?)
    }
    pub(crate) fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("beta_1".into(), json!(self.beta_1));
        m.insert("beta_2".into(), json!(self.beta_2));
        m.insert("epsilon".into(), json!(self.epsilon));
        m.insert("amsgrad".into(), json!(self.amsgrad));
        m
    }
}

impl Adam {
    /// Keras's defaults.
    pub fn new() -> Self {
        Adam {
            base: BaseOptimizer::new("adam", BaseOptions::new(0.001)),
            core: AdamCore::new(),
        }
    }
    /// Sets `beta_1`.
    pub fn beta_1(mut self, v: f64) -> Self {
        self.core.beta_1 = v;
        self
    }
    /// Sets `beta_2`.
    pub fn beta_2(mut self, v: f64) -> Self {
        self.core.beta_2 = v;
        self
    }
    /// Sets `epsilon`.
    pub fn epsilon(mut self, v: f64) -> Self {
        self.core.epsilon = v;
        self
    }
    /// Sets `amsgrad`.
    pub fn amsgrad(mut self, v: bool) -> Self {
        self.core.amsgrad = v;
        self
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = Adam::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.core.read(r)?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(Adam);

impl UpdateRule for Adam {
    fn class_name(&self) -> &'static str {
        "Adam"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        self.core.build(&mut self.base, vars)
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        self.core.step(self.base.iterations(), i, g, var, lr)
    }
    fn config(&self) -> Map<String, Value> {
        self.core.config()
    }
}
