//! Stochastic gradient descent with optional (Nesterov) momentum.

use super::config::ConfigReader;
use super::{base_builder, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `SGD`: `learning_rate = 0.01`, `momentum = 0.0`, `nesterov = false`.
///
/// With momentum, `m = momentum * m - lr * g`, then `w += m` (or, with Nesterov,
/// `w += momentum * m - lr * g`); without, `w -= lr * g`.
///
/// ```
/// use keras::optimizers::{Optimizer, SGD};
/// let opt = SGD::new().learning_rate(0.1).momentum(0.9).nesterov(true);
/// assert_eq!(opt.get_config()["nesterov"], true);
/// ```
pub struct SGD {
    base: BaseOptimizer,
    momentum: f64,
    nesterov: bool,
    momentums: Vec<Variable>,
}

impl SGD {
    /// Keras's defaults.
    pub fn new() -> Self {
        SGD {
            base: BaseOptimizer::new("sgd", BaseOptions::new(0.01)),
            momentum: 0.0,
            nesterov: false,
            momentums: vec![],
        }
    }
    /// Sets `momentum` (in `[0, 1]`, checked when built).
    pub fn momentum(mut self, v: f64) -> Self {
        self.momentum = v;
        self
    }
    /// Sets `nesterov`.
    pub fn nesterov(mut self, v: bool) -> Self {
        self.nesterov = v;
        self
    }
    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(Error::InvalidArgument {
                op: "SGD",
                msg: format!(
                    "`momentum` must be a float between [0, 1]. Received: momentum={}",
                    self.momentum
                ),
            });
        }
        Ok(())
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = SGD::new().base_options(BaseOptions::read(r, 0.01, None)?);
        o.momentum = r.f64_or("momentum", 0.0)?;
        o.nesterov = r.bool_or("nesterov", false)?;
        o.check()?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(SGD);

impl UpdateRule for SGD {
    fn class_name(&self) -> &'static str {
        "SGD"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        self.check()?;
        if self.momentum != 0.0 {
            self.momentums = self
                .base
                .add_optimizer_variables(vars, &[("momentum", 0.0)])?
                .remove(0);
        }
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let w = var.value();
        if self.momentum != 0.0 {
            let m = &self.momentums[i];
            let new_m = m.value().mul_scalar(self.momentum)?.sub(&g.mul_scalar(lr)?)?;
            m.assign(&new_m)?;
            if self.nesterov {
                var.assign(&w.add(&new_m.mul_scalar(self.momentum)?.sub(&g.mul_scalar(lr)?)?)?)
            } else {
                var.assign(&w.add(&new_m)?)
            }
        } else {
            var.assign(&w.sub(&g.mul_scalar(lr)?)?)
        }
    }
    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("momentum".into(), json!(self.momentum));
        m.insert("nesterov".into(), json!(self.nesterov));
        m
    }
}
