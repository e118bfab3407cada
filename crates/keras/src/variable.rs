//! [`Variable`]: a named, mutable, optionally trainable tensor (a layer weight or an
//! optimizer slot).

use crate::constraints::Constraint;
use crate::regularizers::Regularizer;
use keras_tensor::{DType, Error, Result, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

struct Inner {
    name: String,
    value: RwLock<Tensor>,
    trainable: AtomicBool,
    regularizer: Mutex<Option<Regularizer>>,
    constraint: Mutex<Option<Constraint>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A named tensor that can be reassigned, as Keras's `Variable`.
///
/// Its current value is a tracked leaf tensor, so gradients of anything computed from
/// [`Variable::value`] reach it (look them up with `grads.get(&var.value())`). Cloning a
/// `Variable` gives another handle to the same variable.
///
/// ```
/// use keras::Variable;
/// use keras_tensor::Tensor;
/// let v = Variable::new("kernel", Tensor::new(&[1.0f32, 2.0], &[2])?, true);
/// let loss = v.value().square()?.sum_all()?;
/// let g = loss.backward()?.get(&v.value()).unwrap().clone();
/// v.assign(&v.value().sub(&g.mul_scalar(0.1)?)?)?;
/// assert_eq!(v.value().to_vec::<f32>()?, vec![0.8, 1.6]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone)]
pub struct Variable(Arc<Inner>);

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Variable({:?}, shape={:?}, dtype={}, trainable={})",
            self.name(),
            self.shape(),
            self.dtype(),
            self.trainable()
        )
    }
}

impl Variable {
    /// A variable holding `value` (its data is shared, not copied).
    pub fn new(name: impl Into<String>, value: Tensor, trainable: bool) -> Variable {
        Variable(Arc::new(Inner {
            name: name.into(),
            value: RwLock::new(value.detach().variable()),
            trainable: AtomicBool::new(trainable),
            regularizer: Mutex::new(None),
            constraint: Mutex::new(None),
        }))
    }

    /// Attaches a penalty added to the training loss (Keras's `add_weight(regularizer=...)`).
    pub fn set_regularizer(&self, r: Option<Regularizer>) {
        *lock(&self.0.regularizer) = r;
    }

    /// The attached regularizer.
    pub fn regularizer(&self) -> Option<Regularizer> {
        *lock(&self.0.regularizer)
    }

    /// Attaches a constraint the optimizer applies after each update.
    pub fn set_constraint(&self, c: Option<Constraint>) {
        *lock(&self.0.constraint) = c;
    }

    /// The attached constraint.
    pub fn constraint(&self) -> Option<Constraint> {
        lock(&self.0.constraint).clone()
    }

    /// The variable's name (`"kernel"`, `"bias"`, `"moving_mean"`, …).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The current value: a tracked leaf, the key of this variable's gradient.
    pub fn value(&self) -> Tensor {
        match self.0.value.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the value. The new value is detached from any graph.
    ///
    /// # Errors
    /// When the shape or dtype differs from the current value's (the error names the
    /// variable and both shapes).
    pub fn assign(&self, v: &Tensor) -> Result<()> {
        let cur = self.value();
        if v.shape() != cur.shape() {
            return Err(Error::ShapeMismatch {
                op: "Variable.assign",
                lhs: cur.shape().to_vec(),
                rhs: v.shape().to_vec(),
            });
        }
        if v.dtype() != cur.dtype() {
            return Err(Error::DTypeMismatch {
                op: "Variable.assign",
                lhs: cur.dtype(),
                rhs: v.dtype(),
            });
        }
        let new = v.detach().variable();
        match self.0.value.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
        Ok(())
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.value().shape().to_vec()
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        self.value().dtype()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.value().numel()
    }

    /// Whether optimizers update it.
    pub fn trainable(&self) -> bool {
        self.0.trainable.load(Ordering::Relaxed)
    }

    /// Freezes or unfreezes it.
    pub fn set_trainable(&self, t: bool) {
        self.0.trainable.store(t, Ordering::Relaxed)
    }

    /// True when both handles refer to the same variable.
    pub fn same_as(&self, other: &Variable) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The gradients of scalar `loss` with respect to each of `vars`, in order: Keras's
/// `tape.gradient(loss, model.trainable_weights)` for a custom training step, ready for
/// [`Optimizer::apply`](crate::optimizers::Optimizer::apply).
///
/// ```
/// use keras::layers::{Dense, Layer};
/// use keras::optimizers::{Optimizer, SGD};
/// use keras_tensor::{DType, Device, GradientTape, Tensor};
/// let mut dense = Dense::new(1);
/// dense.build(&[None, Some(3)])?;
/// let weights = dense.trainable_weights();
/// let x = Tensor::ones(&[4, 3], DType::F32, &Device::Cpu)?;
/// let tape = GradientTape::new();
/// let y = dense.call(&x, true)?;
/// let loss = y.mul(&y)?.mean(&[0, 1], false)?;
/// let grads = keras::variable::gradients(&tape, &loss, &weights)?;
/// SGD::new().apply(&grads, &weights)?;
/// assert_eq!(grads.len(), 2); // kernel and bias
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When `loss` does not depend on one of `vars` (the error names it: Keras would return
/// `None` there), or as [`GradientTape::gradient`](keras_tensor::GradientTape::gradient).
pub fn gradients(tape: &keras_tensor::GradientTape, loss: &Tensor, vars: &[Variable]) -> Result<Vec<Tensor>> {
    let values: Vec<Tensor> = vars.iter().map(Variable::value).collect();
    let sources: Vec<&Tensor> = values.iter().collect();
    tape.gradient(loss, &sources)?
        .into_iter()
        .zip(vars)
        .map(|(g, v)| {
            g.ok_or_else(|| {
                Error::Autodiff(format!(
                    "the loss does not depend on variable {:?}: it has no gradient",
                    v.name()
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_checks_shape_and_dtype() {
        let v = Variable::new("w", Tensor::new(&[1.0f32, 2.0], &[2]).unwrap(), true);
        let e = v
            .assign(&Tensor::new(&[1.0f32], &[1]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2]") && e.contains("[1]"), "{e}");
        assert!(v.assign(&Tensor::new(&[1.0f64, 2.0], &[2]).unwrap()).is_err());
        let w = v.clone();
        v.assign(&Tensor::new(&[5.0f32, 6.0], &[2]).unwrap()).unwrap();
        assert_eq!(w.value().to_vec::<f32>().unwrap(), vec![5.0, 6.0]);
        assert!(w.same_as(&v) && w.value().is_tracked());
    }

    #[test]
    fn gradients_follow_the_variables_and_name_the_missing_one() {
        let a = Variable::new("a", Tensor::new(&[3.0f64], &[1]).unwrap(), true);
        let b = Variable::new("b", Tensor::new(&[5.0f64], &[1]).unwrap(), true);
        let unused = Variable::new("unused", Tensor::new(&[1.0f64], &[1]).unwrap(), true);
        let tape = keras_tensor::GradientTape::persistent();
        // d(a*a*b)/da = 2ab = 30, d/db = a*a = 9.
        let loss = a
            .value()
            .mul(&a.value())
            .unwrap()
            .mul(&b.value())
            .unwrap()
            .sum_all()
            .unwrap();
        let g = gradients(&tape, &loss, &[b.clone(), a.clone()]).unwrap();
        assert_eq!((g[0].item().unwrap(), g[1].item().unwrap()), (9.0, 30.0));
        let e = gradients(&tape, &loss, &[a, unused]).unwrap_err().to_string();
        assert!(e.contains("unused"), "{e}");
    }
}
