//! Adamax.

use super::config::ConfigReader;
use super::{base_builder, round_to, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `Adamax`: `learning_rate = 0.001`, `beta_1 = 0.9`, `beta_2 = 0.999`,
/// `epsilon = 1e-7`.
///
/// `m += (g - m)(1-β1)`, `u = max(β2·u, |g|)`, `w -= lr·m / ((1-β1ᵗ)(u + ε))`.
///
/// ```
/// use keras::optimizers::{Adamax, Optimizer};
/// assert_eq!(Adamax::new().get_config()["beta_2"], 0.999);
/// ```
pub struct Adamax {
    base: BaseOptimizer,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    m: Vec<Variable>,
    u: Vec<Variable>,
}

impl Adamax {
    /// Keras's defaults.
    pub fn new() -> Self {
        Adamax {
            base: BaseOptimizer::new("adamax", BaseOptions::new(0.001)),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            m: vec![],
            u: vec![],
        }
    }
    /// Sets `beta_1`.
    pub fn beta_1(mut self, v: f64) -> Self {
        self.beta_1 = v;
        self
    }
    /// Sets `beta_2`.
    pub fn beta_2(mut self, v: f64) -> Self {
        self.beta_2 = v;
        self
    }
    /// Sets `epsilon`.
    pub fn epsilon(mut self, v: f64) -> Self {
        self.epsilon = v;
        self
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = Adamax::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.beta_1 = r.f64_or("beta_1", 0.9)?;
        o.beta_2 = r.f64_or("beta_2", 0.999)?;
        o.epsilon = r.f64_or("epsilon", 1e-7)?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(Adamax);

impl UpdateRule for Adamax {
    fn class_name(&self) -> &'static str {
        "Adamax"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        let mut s = self
            .base
            .add_optimizer_variables(vars, &[("momentum", 0.0), ("norm", 0.0)])?;
        self.u = s.pop().unwrap_or_default();
        self.m = s.pop().unwrap_or_default();
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let r = |x: f64| round_to(var.dtype(), x);
        let t = r((self.base.iterations() + 1) as f64);
        let beta_1_power = r(r(self.beta_1).powf(t));
        let (m, u) = (&self.m[i], &self.u[i]);
        let new_m = m
            .value()
            .add(&g.sub(&m.value())?.mul_scalar(1.0 - self.beta_1)?)?;
        m.assign(&new_m)?;
        let new_u = u.value().mul_scalar(self.beta_2)?.maximum(&g.abs()?)?;
        u.assign(&new_u)?;
        let upd = new_m
            .mul_scalar(lr)?
            .div(&new_u.add_scalar(self.epsilon)?.mul_scalar(1.0 - beta_1_power)?)?;
        var.assign(&var.value().sub(&upd)?)
    }
    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("beta_1".into(), json!(self.beta_1));
        m.insert("beta_2".into(), json!(self.beta_2));
        m.insert("epsilon".into(), json!(self.epsilon));
        m
    }
}
