//! RMSprop.

use super::config::ConfigReader;
use super::{base_builder, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `RMSprop`: `learning_rate = 0.001`, `rho = 0.9`, `momentum = 0.0`,
/// `epsilon = 1e-7`, `centered = false`.
///
/// `v = ρv + (1-ρ)g²`; `inc = lr·g / √(v + ε)` (centered: `√(v - ḡ² + ε)` with
/// `ḡ = ρḡ + (1-ρ)g`); with momentum `m = momentum·m + inc`, `w -= m`, else `w -= inc`.
///
/// ```
/// use keras::optimizers::{Optimizer, RMSprop};
/// let opt = RMSprop::new().centered(true).momentum(0.5);
/// assert_eq!(opt.get_config()["rho"], 0.9);
/// ```
pub struct RMSprop {
    base: BaseOptimizer,
    rho: f64,
    momentum: f64,
    epsilon: f64,
    centered: bool,
    velocities: Vec<Variable>,
    momentums: Vec<Variable>,
    average_gradients: Vec<Variable>,
}

impl RMSprop {
    /// Keras's defaults.
    pub fn new() -> Self {
        RMSprop {
            base: BaseOptimizer::new("rm_sprop", BaseOptions::new(0.001)),
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            centered: false,
            velocities: vec![],
            momentums: vec![],
            average_gradients: vec![],
        }
    }
    /// Sets `rho`.
    pub fn rho(mut self, v: f64) -> Self {
        self.rho = v;
        self
    }
    /// Sets `momentum`.
    pub fn momentum(mut self, v: f64) -> Self {
        self.momentum = v;
        self
    }
    /// Sets `epsilon`.
    pub fn epsilon(mut self, v: f64) -> Self {
        self.epsilon = v;
        self
    }
    /// Sets `centered`.
    pub fn centered(mut self, v: bool) -> Self {
        self.centered = v;
        self
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = RMSprop::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.rho = r.f64_or("rho", 0.9)?;
        o.momentum = r.f64_or("momentum", 0.0)?;
        o.epsilon = r.f64_or("epsilon", 1e-7)?;
        o.centered = r.bool_or("centered", false)?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(RMSprop);

impl UpdateRule for RMSprop {
    fn class_name(&self) -> &'static str {
        "RMSprop"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        self.velocities = self
            .base
            .add_optimizer_variables(vars, &[("velocity", 0.0)])?
            .remove(0);
        if self.momentum > 0.0 {
            self.momentums = self
                .base
                .add_optimizer_variables(vars, &[("momentum", 0.0)])?
                .remove(0);
        }
        if self.centered {
            self.average_gradients = self
                .base
                .add_optimizer_variables(vars, &[("average_gradient", 0.0)])?
                .remove(0);
        }
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let rho = self.rho;
        let vel = &self.velocities[i];
        let new_vel = vel
            .value()
            .mul_scalar(rho)?
            .add(&g.square()?.mul_scalar(1.0 - rho)?)?;
        vel.assign(&new_vel)?;
        let denom = if self.centered {
            let ag = &self.average_gradients[i];
            let new_ag = ag.value().mul_scalar(rho)?.add(&g.mul_scalar(1.0 - rho)?)?;
            ag.assign(&new_ag)?;
            new_vel.sub(&new_ag.square()?)?.add_scalar(self.epsilon)?
        } else {
            new_vel.add_scalar(self.epsilon)?
        };
        let inc = g.mul_scalar(lr)?.div(&denom.sqrt()?)?;
        if self.momentum > 0.0 {
            let m = &self.momentums[i];
            let new_m = m.value().mul_scalar(self.momentum)?.add(&inc)?;
            m.assign(&new_m)?;
            var.assign(&var.value().sub(&new_m)?)
        } else {
            var.assign(&var.value().sub(&inc)?)
        }
    }
    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("rho".into(), json!(self.rho));
        m.insert("momentum".into(), json!(self.momentum));
        m.insert("epsilon".into(), json!(self.epsilon));
        m.insert("centered".into(), json!(self.centered));
        m
    }
}
