//! Nadam: Adam with Nesterov momentum.

use super::config::ConfigReader;
use super::{base_builder, round_to, BaseOptimizer, BaseOptions, UpdateRule};
use crate::Variable;
use keras_tensor::{DType, Result, Tensor};
use serde_json::{json, Map, Value};

/// Keras's `Nadam`: `learning_rate = 0.001`, `beta_1 = 0.9`, `beta_2 = 0.999`,
/// `epsilon = 1e-7`, with Keras's momentum schedule `u_t = β1(1 - ½·0.96ᵗ)` and its running
/// product (the scalar optimizer variable Keras names `"variable"`, created after the slots).
///
/// ```
/// use keras::optimizers::{Nadam, Optimizer};
/// assert_eq!(Nadam::new().get_config()["epsilon"], 1e-7);
/// ```
pub struct Nadam {
    base: BaseOptimizer,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    m: Vec<Variable>,
    v: Vec<Variable>,
    u_product: Option<Variable>,
}

impl Nadam {
    /// Keras's defaults.
    pub fn new() -> Self {
        Nadam {
            base: BaseOptimizer::new("nadam", BaseOptions::new(0.001)),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            m: vec![],
            v: vec![],
            u_product: None,
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
        let mut o = Nadam::new().base_options(BaseOptions::read(r, 0.001, None)?);
        o.beta_1 = r.f64_or("beta_1", 0.9)?;
        o.beta_2 = r.f64_or("beta_2", 0.999)?;
        o.epsilon = r.f64_or("epsilon", 1e-7)?;
        o.base.options().validate()?;
        Ok(o)
    }
    /// `1 - 0.5 * 0.96^t` and `beta_1 * (1 - 0.5 * 0.96^t)` in `dtype`'s precision.
    fn u(&self, dtype: DType, t: f64) -> (f64, f64) {
        let r = |x: f64| round_to(dtype, x);
        let f = r(1.0 - r(0.5 * r(r(0.96).powf(r(t)))));
        (f, r(r(self.beta_1) * f))
    }
}
base_builder!(Nadam);

impl UpdateRule for Nadam {
    fn class_name(&self) -> &'static str {
        "Nadam"
    }
    fn base(&self) -> &BaseOptimizer {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseOptimizer {
        &mut self.base
    }
    fn build(&mut self, vars: &[Variable]) -> Result<()> {
        let dtype = vars.first().map(|v| v.dtype()).unwrap_or(DType::F32);
        let mut s = self
            .base
            .add_optimizer_variables(vars, &[("momentum", 0.0), ("velocity", 0.0)])?;
        self.v = s.pop().unwrap_or_default();
        self.m = s.pop().unwrap_or_default();
        self.u_product = Some(self.base.add_variable("variable", &[], dtype, 1.0)?);
        Ok(())
    }
    fn before_updates(&mut self) -> Result<()> {
        if let Some(u) = &self.u_product {
            let t = (self.base.iterations() + 1) as f64;
            let (factor, _) = self.u(u.dtype(), t);
            u.assign(&u.value().mul_scalar(self.beta_1)?.mul_scalar(factor)?)?;
        }
        Ok(())
    }
    fn update_step(&mut self, i: usize, g: &Tensor, var: &Variable, lr: f64) -> Result<()> {
        let step = self.base.iterations();
        let (t, t1) = ((step + 1) as f64, (step + 2) as f64);
        let dt = var.dtype();
        let r = |x: f64| round_to(dt, x);
        let (u_t, u_t_1) = (self.u(dt, t).1, self.u(dt, t1).1);
        let u_product_t = match &self.u_product {
            Some(u) => r(u.value().item()?),
            None => 1.0,
        };
        let u_product_t_1 = r(u_product_t * u_t_1);
        let beta_2_power = r(r(self.beta_2).powf(r(t)));
        let (m, v) = (&self.m[i], &self.v[i]);
        let new_m = m
            .value()
            .add(&g.sub(&m.value())?.mul_scalar(1.0 - self.beta_1)?)?;
        m.assign(&new_m)?;
        let new_v = v
            .value()
            .add(&g.square()?.sub(&v.value())?.mul_scalar(1.0 - self.beta_2)?)?;
        v.assign(&new_v)?;
        let m_hat = new_m
            .mul_scalar(u_t_1)?
            .div_scalar(r(1.0 - u_product_t_1))?
            .add(&g.mul_scalar(r(1.0 - u_t))?.div_scalar(r(1.0 - u_product_t))?)?;
        let v_hat = new_v.div_scalar(r(1.0 - beta_2_power))?;
        let upd = m_hat
            .mul_scalar(lr)?
            .div(&v_hat.sqrt()?.add_scalar(self.epsilon)?)?;
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
