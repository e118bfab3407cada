//! Adadelta.

use super::config::ConfigReader;
use super::{base_builder, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `Adadelta`: `learning_rate = 0.001`, `rho = 0.95`, `epsilon = 1e-7`.
///
/// `a = ρa + (1-ρ)g²`, `Δ = -√(d + ε)·g / √(a + ε)`, `d = ρd + (1-ρ)Δ²`, `w += lr·Δ`.
///
/// ```
/// use keras::optimizers::{Adadelta, Optimizer};
/// let opt = Adadelta::new().learning_rate(1.0).rho(0.9);
/// assert_eq!(opt.get_config()["rho"], 0.9);
/// ```
pub struct Adadelta {
    base: BaseOptimizer,
    rho: f64,
    epsilon: f64,
    accumulated_grads: Vec<Variable>,
    accumulated_delta_vars: Vec<Variable>,
}

impl Adadelta {
    /// Keras's defaults.
    pub fn new() -> Self {
        Adadelta {
            base: BaseOptimizer::new("adadelta", BaseOptions::new(0.001)),
            rho: 0.95,
            epsilon: 1e-7,
            accumulated_grads: vec![],
            accumulated_delta_vars: vec![],
        }
    }
    /// Sets `rho`.
    pub fn rho(mut self, v: f64) -> Self {
        self.rho = v;
        self
    }
    /// Sets `epsilon`.
    pub fn epsilon(mut self, v: f64) -> Self {
        self.epsilon = v;
        self
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = Adadelta::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.rho = r.f64_or("rho", 0.95)?;
        o.epsilon = r.f64_or("epsilon", 1e-7)?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(Adadelta);

impl UpdateRule for Adadelta {
    fn class_name(&self) -> &'static str {
        "Adadelta"
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
            .add_optimizer_variables(vars, &[("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)])?;
        self.accumulated_delta_vars = s.pop().unwrap_or_default();
        self.accumulated_grads = s.pop().unwrap_or_default();
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let rho = self.rho;
        let (ag, ad) = (&self.accumulated_grads[i], &self.accumulated_delta_vars[i]);
        let new_ag = ag
            .value()
            .mul_scalar(rho)?
            .add(&g.square()?.mul_scalar(1.0 - rho)?)?;
        ag.assign(&new_ag)?;
        let rms = |x: &Tensor| x.add_scalar(self.epsilon)?.sqrt();
        let delta = rms(&ad.value())?.mul(g)?.div(&rms(&new_ag)?)?.neg()?;
        let new_ad = ad
            .value()
            .mul_scalar(rho)?
            .add(&delta.square()?.mul_scalar(1.0 - rho)?)?;
        ad.assign(&new_ad)?;
        var.assign(&var.value().add(&delta.mul_scalar(lr)?)?)
    }
    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("rho".into(), json!(self.rho));
        m.insert("epsilon".into(), json!(self.epsilon));
        m
    }
}
