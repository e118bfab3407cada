//! Lion.

use super::config::ConfigReader;
use super::{base_builder, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `Lion`: `learning_rate = 0.001`, `beta_1 = 0.9`, `beta_2 = 0.99`.
///
/// `w -= lr·sign(β1·m + (1-β1)g)`, then `m = β2·m + (1-β2)g`.
///
/// ```
/// use keras::optimizers::{Lion, Optimizer};
/// assert_eq!(Lion::new().get_config()["beta_2"], 0.99);
/// ```
pub struct Lion {
    base: BaseOptimizer,
    beta_1: f64,
    beta_2: f64,
    momentums: Vec<Variable>,
}

impl Lion {
    /// Keras's defaults.
    pub fn new() -> Self {
        Lion {
            base: BaseOptimizer::new("lion", BaseOptions::new(0.001)),
            beta_1: 0.9,
            beta_2: 0.99,
            momentums: vec![],
        }
    }
    /// Sets `beta_1` (in `(0, 1]`, checked when built).
    pub fn beta_1(mut self, v: f64) -> Self {
        self.beta_1 = v;
        self
    }
    /// Sets `beta_2`.
    pub fn beta_2(mut self, v: f64) -> Self {
        self.beta_2 = v;
        self
    }
    fn check(&self) -> Result<()> {
        if self.beta_1 <= 0.0 || self.beta_1 > 1.0 {
            return Err(Error::InvalidArgument {
                op: "Lion",
                msg: format!(
                    "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer \
                     degenerates to SignSGD. Received: beta_1={}.",
                    self.beta_1
                ),
            });
        }
        Ok(())
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = Lion::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.beta_1 = r.f64_or("beta_1", 0.9)?;
        o.beta_2 = r.f64_or("beta_2", 0.99)?;
        o.check()?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(Lion);

impl UpdateRule for Lion {
    fn class_name(&self) -> &'static str {
        "Lion"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        self.check()?;
        self.momentums = self
            .base
            .add_optimizer_variables(vars, &[("momentum", 0.0)])?
            .remove(0);
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let m = &self.momentums[i];
        let mv = m.value();
        let dir = mv
            .mul_scalar(self.beta_1)?
            .add(&g.mul_scalar(1.0 - self.beta_1)?)?
            .sign()?;
        var.assign(&var.value().sub(&dir.mul_scalar(lr)?)?)?;
        m.assign(
            &mv.mul_scalar(self.beta_2)?
                .add(&g.mul_scalar(1.0 - self.beta_2)?)?,
        )
    }
    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("beta_1".into(), json!(self.beta_1));
        m.insert("beta_2".into(), json!(self.beta_2));
        m
    }
}
