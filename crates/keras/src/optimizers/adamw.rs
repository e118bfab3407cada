//! AdamW: Adam with decoupled weight decay.

use super::adam::AdamCore;
use super::config::ConfigReader;
use super::{base_builder, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{Error, Result, Tensor};
use serde_json::{Map, Value};

/// Keras's `AdamW`: [`Adam`](super::Adam) with `weight_decay = 0.004` by default (the decay
/// `w -= w · weight_decay · lr` runs before each Adam step).
///
/// ```
/// use keras::optimizers::{AdamW, Optimizer};
/// let opt = AdamW::new().weight_decay(0.01);
/// assert_eq!(opt.get_config()["weight_decay"], 0.01);
/// ```
pub struct AdamW {
    inner: AdamCore,
    base: BaseOptimizer,
}

impl AdamW {
    /// Keras's defaults.
    pub fn new() -> Self {
        let mut opts = BaseOptions::new(0.001);
        opts.weight_decay = Some(0.004);
        AdamW {
            inner: AdamCore::new(),
            base: BaseOptimizer::new("adam_w", opts),
        }
    }
    /// Sets `beta_1`.
    pub fn beta_1(mut self, v: f64) -> Self {
        self.inner.beta_1 = v;
        self
    }
    /// Sets `beta_2`.
    pub fn beta_2(mut self, v: f64) -> Self {
        self.inner.beta_2 = v;
        self
    }
    /// Sets `epsilon`.
    pub fn epsilon(mut self, v: f64) -> Self {
        self.inner.epsilon = v;
        self
    }
    /// Sets `amsgrad`.
    pub fn amsgrad(mut self, v: bool) -> Self {
        self.inner.amsgrad = v;
        self
    }
    fn check(&self) -> Result<()> {
        if self.base.options().weight_decay.is_none() {
            return Err(Error::InvalidArgument {
                op: "AdamW",
                msg: "Argument `weight_decay` must be a float. Received: weight_decay=None".into(),
            });
        }
        Ok(())
    }
    pub(crate) fn read(r: &mut ConfigReader) -> Result<Self> {
        let mut o = AdamW::new().base_options(BaseOptions::read(r, 0.001, Some(0.004))?);
        o.inner.read(r)?;
        o.check()?;
        o.base.options().validate()?;
        Ok(o)
    }
}
base_builder!(AdamW);

impl UpdateRule for AdamW {
    fn class_name(&self) -> &'static str {
        "AdamW"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        self.check()?;
        self.inner.build(&mut self.base, vars)
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        self.inner.step(self.base.iterations(), i, g, var, lr)
    }
    fn config(&self) -> Map<String, Value> {
        self.inner.config()
    }
}
