//! Adagrad.

use super::config::ConfigReader;
use super::{base_builder, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `Adagrad`: `learning_rate = 0.001`, `initial_accumulator_value = 0.1`,
/// `epsilon = 1e-7`. `a += g²`, `w -= lr·g / √(a + ε)`.
///
/// ```
/// use keras::optimizers::{Adagrad, Optimizer};
/// let opt = Adagrad::new().initial_accumulator_value(0.5);
/// assert_eq!(opt.get_config()["initial_accumulator_value"], 0.5);
/// ```
pub struct Adagrad {
    base: BaseOptimizer,
    initial_accumulator_value: f64,
    epsilon: f64,
    accumulators: Vec<Variable>,
}

impl Adagrad {
    /// Keras's defaults.
    pub fn new() -> Self {
        Adagrad {
            base: BaseOptimizer::new("adagrad", BaseOptions::new(0.001)),
            initial_accumulator_value: 0.1,
            epsilon: 1e-7,
            accumulators: vec![],
        }
    }
    /// Sets `initial_accumulator_value`.
    pub fn initial_accumulator_value(mut self, v: f64) -> Self {
        self.initial_accumulator_value = v;
        self
    }
    /// Sets `epsilon`.
    pub fn epsilon(mut self, v: f64) -> Self {
        self.epsilon = v;
        self
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = Adagrad::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.initial_accumulator_value = r.f64_or("initial_accumulator_value", 0.1)?;
        o.epsilon = r.f64_or("epsilon", 1e-7)?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(Adagrad);

impl UpdateRule for Adagrad {
    fn class_name(&self) -> &'static str {
        "Adagrad"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        let init = self.initial_accumulator_value;
        self.accumulators = self
            .base
            .add_optimizer_variables(vars, &[("accumulator", init)])?
            .remove(0);
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let acc = &self.accumulators[i];
        let new_acc = acc.value().add(&g.square()?)?;
        acc.assign(&new_acc)?;
        let upd = g
            .mul_scalar(lr)?
            .div(&new_acc.add_scalar(self.epsilon)?.sqrt()?)?;
        var.assign(&var.value().sub(&upd)?)
    }
    fn config(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "initial_accumulator_value".into(),
            json!(self.initial_accumulator_value),
        );
        m.insert("epsilon".into(), json!(self.epsilon));
        m
    }
}
