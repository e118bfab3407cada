//! Optimizer steps as single ops (no gradients: they run outside the tape).

use crate::Tensor;
use keras_backend::{Error, Result};
pub use keras_cpu::optim::AdamStep;

/// The new values of an Adam step: `(variable, m, v, v_hat)`.
pub type AdamUpdate = (Tensor, Tensor, Tensor, Option<Tensor>);

impl Tensor {
    /// One Adam step for this variable value with moments `m`, `v` (and `v_hat` for AMSGrad)
    /// and gradient `g`, in one pass (see [`keras_cpu::optim::adam`] for the formula). Returns
    /// `Ok(None)` for dtypes other than `f32`/`f64`, where the caller composes the step from
    /// tensor ops.
    ///
    /// ```
    /// use keras_tensor::{ops::optim::AdamStep, Tensor};
    /// let s = AdamStep { one_minus_beta_1: 0.1, one_minus_beta_2: 0.001, alpha: 0.01, epsilon: 1e-7 };
    /// let p = Tensor::new(&[1.0f32, 2.0], &[2])?;
    /// let zeros = p.zeros_like()?;
    /// let g = Tensor::new(&[0.5f32, -0.5], &[2])?;
    /// let (p2, m2, _, _) = p.adam_update(&zeros, &zeros, None, &g, &s)?.unwrap();
    /// assert_eq!(m2.to_vec::<f32>()?, vec![0.05, -0.05]);
    /// let p2 = p2.to_vec::<f32>()?;
    /// assert!(p2[0] < 1.0 && p2[1] > 2.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the shapes differ.
    pub fn adam_update(
        &self,
        m: &Tensor,
        v: &Tensor,
        v_hat: Option<&Tensor>,
        g: &Tensor,
        step: &AdamStep,
    ) -> Result<Option<AdamUpdate>> {
        for t in [m, v, g].into_iter().chain(v_hat) {
            if t.shape() != self.shape() {
                return Err(Error::ShapeMismatch {
                    op: "adam_update (variable, slot or gradient)",
                    lhs: self.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                });
            }
        }
        // Views of contiguous tensors, copies of others.
        fn c(t: &Tensor) -> std::borrow::Cow<'_, keras_cpu::CpuStorage> {
            t.storage().cpu().contiguous(t.layout())
        }
        let (ps, ms, vs, gs, hs) = (c(self), c(m), c(v), c(g), v_hat.map(c));
        let Some((p2, m2, v2, h2)) = keras_cpu::optim::adam(step, &ps, &ms, &vs, hs.as_deref(), &gs) else {
            return Ok(None);
        };
        let t = |s| Tensor::from_cpu(s, self.shape());
        Ok(Some((t(p2), t(m2), t(v2), h2.map(t))))
    }
}
