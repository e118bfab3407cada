//! The backward walk, recording control (`no_grad`) and the scoped [`GradientTape`] API.

use super::{Backward, GradStore};
use crate::{Tensor, TensorId};
use keras_backend::{Error, Layout, Result};
use keras_cpu::CpuStorage;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

thread_local! {
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// True unless the current thread is inside [`no_grad`] (or holds a [`NoGradGuard`]).
pub fn is_recording() -> bool {
    NO_GRAD_DEPTH.with(|d| d.get() == 0)
}

/// Turns recording off on this thread until dropped (nests).
///
/// ```
/// use keras_tensor::{NoGradGuard, Tensor};
/// let w = Tensor::new(&[1.0f32], &[1]).unwrap().variable();
/// let _g = NoGradGuard::new();
/// assert!(!w.exp().unwrap().is_tracked());
/// ```
pub struct NoGradGuard {
    _private: (),
}

impl NoGradGuard {
    /// Stops recording on this thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
        NoGradGuard { _private: () }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Runs `f` with recording off: nothing it computes keeps a graph (inference, optimizer
/// updates).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = NoGradGuard::new();
    f()
}

/// Tensors reachable from `root` through recorded nodes, inputs before their users.
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen: HashSet<TensorId> = HashSet::new();
    // Iterative DFS (deep graphs such as long RNN unrolls would overflow a recursive one).
    let mut stack: Vec<(Tensor, bool)> = vec![(root.clone(), false)];
    while let Some((t, children_done)) = stack.pop() {
        if children_done {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.node() {
            for inp in &node.inputs {
                if inp.is_tracked() && !seen.contains(&inp.id()) {
                    stack.push((inp.clone(), false));
                }
            }
        }
    }
    order
}

impl Tensor {
    /// Gradients of this scalar with respect to every tracked tensor it depends on.
    ///
    /// # Errors
    /// When the tensor is not a single element, not a float, or not tracked.
    pub fn backward(&self) -> Result<GradStore> {
        let mut store = GradStore::new();
        self.backward_into(&mut store)?;
        Ok(store)
    }

    /// Like [`Tensor::backward`], adding into an existing store.
    ///
    /// # Errors
    /// As [`Tensor::backward`].
    pub fn backward_into(&self, store: &mut GradStore) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::Autodiff(format!(
                "backward needs a scalar (one element); got shape {:?}",
                self.shape()
            )));
        }
        if !self.dtype().is_float() {
            return Err(Error::Autodiff(format!(
                "backward needs a float tensor, got {}",
                self.dtype()
            )));
        }
        if !self.is_tracked() {
            return Err(Error::Autodiff(
                "the tensor does not depend on any variable or watched tensor (or was computed under no_grad)".into(),
            ));
        }
        let seed = Tensor::ones(self.shape(), self.dtype(), self.device())?;
        for (id, g) in self.backward_from(seed)? {
            store.accumulate_id(id, g)?;
        }
        Ok(())
    }

    /// Vector–Jacobian product: gradients of `sum(self * grad)` for every tracked leaf.
    ///
    /// A tensor's incoming gradients are summed before it passes them on: the first as given,
    /// later ones (and slices' gradients, see [`Backward::AddAt`]) added in
    /// place into one owned buffer.
    pub(crate) fn backward_from(&self, grad: Tensor) -> Result<HashMap<TensorId, Tensor>> {
        let _g = NoGradGuard::new();
        let order = topo_order(self);
        let mut pending: HashMap<TensorId, Pending> = HashMap::new();
        let mut leaves: HashMap<TensorId, Tensor> = HashMap::new();
        pending.insert(self.id(), Pending::Grad(grad));
        for t in order.iter().rev() {
            let Some(g) = pending.remove(&t.id()) else {
                continue;
            };
            let g = g.into_tensor(t.shape());
            let Some(node) = t.node() else {
                leaves.insert(t.id(), g);
                continue;
            };
            let rule = match &node.backward {
                Backward::Rule(rule) => rule,
                Backward::AddAt(place) => {
                    let inp = &node.inputs[0];
                    if inp.is_tracked() {
                        let mut buf = match pending.remove(&inp.id()) {
                            Some(prev) => prev.into_buf(),
                            None => CpuStorage::full(0.0, inp.numel(), inp.dtype()),
                        };
                        let g = g.cast(inp.dtype())?;
                        buf.add_at(place, &g.storage().cpu().contiguous(g.layout()))
                            .map_err(|e| Error::Autodiff(format!("backward of {}: {e}", node.op)))?;
                        pending.insert(inp.id(), Pending::Buf(buf));
                    }
                    continue;
                }
            };
            let grads = rule(&g).map_err(|e| Error::Autodiff(format!("backward of {}: {e}", node.op)))?;
            debug_assert_eq!(grads.len(), node.inputs.len(), "{}", node.op);
            for (inp, gi) in node.inputs.iter().zip(grads) {
                let Some(gi) = gi else { continue };
                if !inp.is_tracked() {
                    continue;
                }
                if gi.shape() != inp.shape() {
                    return Err(Error::Autodiff(format!(
                        "{} produced a gradient of shape {:?} for an input of shape {:?}",
                        node.op,
                        gi.shape(),
                        inp.shape()
                    )));
                }
                let gi = if gi.dtype() != inp.dtype() {
                    gi.cast(inp.dtype())?
                } else {
                    gi
                };
                let sum = match pending.remove(&inp.id()) {
                    Some(prev) => {
                        let mut buf = prev.into_buf();
                        buf.add_at(
                            &Layout::contiguous(inp.shape()),
                            &gi.storage().cpu().contiguous(gi.layout()),
                        )
                        .map_err(|e| Error::Autodiff(format!("summing gradients after {}: {e}", node.op)))?;
                        Pending::Buf(buf)
                    }
                    None => Pending::Grad(gi),
                };
                pending.insert(inp.id(), sum);
            }
        }
        Ok(leaves)
    }
}

/// A tensor's gradient while its incoming gradients are summed.
enum Pending {
    /// The only gradient so far, as the op returned it (it may share storage).
    Grad(Tensor),
    /// An owned contiguous sum, added to in place.
    Buf(CpuStorage),
}

impl Pending {
    fn into_tensor(self, shape: &[usize]) -> Tensor {
        match self {
            Pending::Grad(t) => t,
            Pending::Buf(b) => Tensor::from_cpu(b, shape),
        }
    }

    /// An owned buffer to add into (no copy when the gradient's storage is not shared).
    fn into_buf(self) -> CpuStorage {
        match self {
            Pending::Grad(t) => t.into_cpu_storage(),
            Pending::Buf(b) => b,
        }
    }
}

/// A scoped gradient recorder in the style of `tf.GradientTape`.
///
/// `watch` returns a tracked alias of a tensor (same data, no copy); ops on it are recorded;
/// `gradient` differentiates a scalar with respect to any watched tensors or variables. A
/// tape is used once unless made with [`GradientTape::persistent`].
///
/// ```
/// use keras_tensor::{GradientTape, Tensor};
/// let w = Tensor::new(&[2.0f32], &[1]).unwrap().variable();
/// let tape = GradientTape::new();
/// let loss = w.mul(&w).unwrap().sum_all().unwrap();
/// let g = tape.gradient(&loss, &[&w]).unwrap();
/// assert_eq!(g[0].as_ref().unwrap().to_vec::<f32>().unwrap(), vec![4.0]);
/// ```
#[derive(Debug, Default)]
pub struct GradientTape {
    persistent: bool,
    used: Cell<bool>,
}

impl GradientTape {
    /// A tape that can compute one gradient.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tape that can compute any number of gradients.
    pub fn persistent() -> Self {
        GradientTape {
            persistent: true,
            used: Cell::new(false),
        }
    }

    /// A tracked alias of `t`: ops on the returned tensor are recorded.
    pub fn watch(&mut self, t: &Tensor) -> Tensor {
        if t.is_tracked() {
            t.clone()
        } else {
            t.watched()
        }
    }

    /// Gradients of scalar `target` with respect to each of `sources` (`None` for a source
    /// the target does not depend on).
    ///
    /// # Errors
    /// When the tape was already used (and is not persistent), or as [`Tensor::backward`].
    pub fn gradient(&self, target: &Tensor, sources: &[&Tensor]) -> Result<Vec<Option<Tensor>>> {
        if self.used.replace(true) && !self.persistent {
            return Err(Error::Autodiff(
                "this GradientTape was already used; make it with GradientTape::persistent() to call gradient more than once".into(),
            ));
        }
        if !target.is_tracked() {
            return Ok(vec![None; sources.len()]);
        }
        let mut store = target.backward()?;
        Ok(sources.iter().map(|s| store.remove(s)).collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::{no_grad, DType, Device, GradientTape, Tensor};

    #[test]
    fn long_chains_backprop_and_drop_without_overflowing_the_stack() {
        let w = Tensor::ones(&[2], DType::F64, &Device::Cpu).unwrap().variable();
        let mut h = w.clone();
        for _ in 0..100_000 {
            h = h.mul_scalar(1.0).unwrap();
        }
        let g = h.sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&w).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
        drop(h);
    }

    #[test]
    fn reused_tensors_accumulate_and_no_grad_records_nothing() {
        let x = Tensor::new(&[3.0f64], &[1]).unwrap();
        let mut tape = GradientTape::persistent();
        let x = tape.watch(&x);
        // y = x*x + x: the two uses of x add up to 2x + 1 = 7.
        let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all().unwrap();
        assert_eq!(
            tape.gradient(&y, &[&x]).unwrap()[0]
                .as_ref()
                .unwrap()
                .item()
                .unwrap(),
            7.0
        );
        assert!(tape.gradient(&y, &[&x]).is_ok(), "persistent tapes can be reused");
        let z = no_grad(|| x.exp().unwrap());
        assert!(!z.is_tracked() && z.node().is_none());
        let once = GradientTape::new();
        let y2 = x.square().unwrap().sum_all().unwrap();
        once.gradient(&y2, &[&x]).unwrap();
        assert!(once.gradient(&y2, &[&x]).is_err());
    }

    #[test]
    fn slices_and_reuses_sum_their_gradients_in_one_buffer() {
        // Every step's slice of x (an RNN reading its input), slices of slices (a gate split
        // of a step), x used whole as well, and a strided slice: the summed gradient must
        // match finite differences.
        crate::testing::check_grad("slices", &[&crate::testing::randn(&[3, 4, 6], 1)], |v| {
            let x = &v[0];
            let mut acc = x.mul(x)?.sum(&[1], false)?;
            for t in 0..4 {
                let step = x.narrow(1, t, 1)?.reshape(&[3, 6])?;
                let gates = step.split(&[2, 4], 1)?;
                let mixed = gates[0].tanh()?.mul(&gates[1].narrow(1, 1, 2)?)?;
                acc = acc.add(
                    &Tensor::concat(&[&mixed, &step.narrow(1, 0, 4)?], 1)?.mul_scalar(t as f64 + 1.0)?,
                )?;
            }
            let strided = x.slice_axis(2, 0, 6, 2)?.sum(&[1], false)?;
            acc.add(&Tensor::concat(&[&strided, &strided.square()?], 1)?)
        });
    }

    #[test]
    fn a_slice_gradient_never_writes_into_shared_storage() {
        // y = x + x[0:2]: the gradient of x arrives once whole (sharing the seed's storage
        // with other handles) and once through the slice; summing must not touch the seed.
        let x = Tensor::new(&[1.0f64, 2.0, 3.0, 4.0], &[4]).unwrap().variable();
        let y = x.narrow(0, 0, 2).unwrap();
        let loss = x.sum_all().unwrap().add(&y.sum_all().unwrap()).unwrap();
        let g = loss.backward().unwrap();
        assert_eq!(
            g.get(&x).unwrap().to_vec::<f64>().unwrap(),
            vec![2.0, 2.0, 1.0, 1.0]
        );
    }

    #[test]
    fn backward_errors_are_clear() {
        let v = Tensor::new(&[1.0f32, 2.0], &[2]).unwrap().variable();
        assert!(v
            .exp()
            .unwrap()
            .backward()
            .unwrap_err()
            .to_string()
            .contains("scalar"));
        let c = Tensor::new(&[1.0f32], &[1]).unwrap();
        assert!(c.backward().unwrap_err().to_string().contains("variable"));
    }
}
