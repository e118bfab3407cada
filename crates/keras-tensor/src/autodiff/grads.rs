//! [`GradStore`]: gradients keyed by tensor, summed as they arrive.

use crate::{Tensor, TensorId};
use keras_backend::Result;
use std::collections::HashMap;

/// Gradients of a scalar with respect to tracked tensors.
///
/// Gradients accumulate: [`Tensor::backward_into`] adds to what the store already holds, so
/// several losses (or several micro-batches) can be summed into one store.
///
/// ```
/// use keras_tensor::Tensor;
/// let w = Tensor::new(&[3.0f32], &[1]).unwrap().variable();
/// let mut grads = w.mul_scalar(2.0).unwrap().sum_all().unwrap().backward().unwrap();
/// w.mul_scalar(5.0).unwrap().sum_all().unwrap().backward_into(&mut grads).unwrap();
/// assert_eq!(grads.get(&w).unwrap().to_vec::<f32>().unwrap(), vec![7.0]);
/// ```
#[derive(Default, Debug, Clone)]
pub struct GradStore {
    map: HashMap<TensorId, Tensor>,
}

impl GradStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gradient for `t`, if it received one.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }

    /// Removes and returns the gradient for `t`.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.map.remove(&t.id())
    }

    /// Adds `g` to the gradient held for `t` (or stores it).
    ///
    /// # Errors
    /// When `g`'s shape differs from an existing gradient's.
    pub fn accumulate(&mut self, t: &Tensor, g: Tensor) -> Result<()> {
        self.accumulate_id(t.id(), g)
    }

    pub(crate) fn accumulate_id(&mut self, id: TensorId, g: Tensor) -> Result<()> {
        match self.map.remove(&id) {
            Some(old) => {
                let sum = old.add(&g)?;
                self.map.insert(id, sum);
            }
            None => {
                self.map.insert(id, g);
            }
        }
        Ok(())
    }

    /// Number of tensors with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no tensor has a gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
