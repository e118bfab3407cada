//! Reverse-mode automatic differentiation.
//!
//! When an op runs on a tensor that is *tracked* (a variable, a watched tensor, or the result
//! of an op on tracked tensors) and recording is on, its output keeps a [`Node`]: the op name,
//! its inputs, and a backward closure written beside the op's forward in `ops/`. Together the
//! nodes form the tape of everything that led to a value. [`Tensor::backward`] walks that tape
//! once in reverse topological order, summing each tensor's incoming gradients before passing
//! them on. Backward passes run with recording off: gradients are plain tensors.
//!
//! ```
//! use keras_tensor::{GradientTape, Tensor};
//! let x = Tensor::new(&[1.0f32, 2.0, 3.0], &[3]).unwrap();
//! let mut tape = GradientTape::new();
//! let x = tape.watch(&x);
//! let y = x.mul(&x).unwrap().sum_all().unwrap(); // sum(x^2)
//! let g = tape.gradient(&y, &[&x]).unwrap();
//! assert_eq!(g[0].as_ref().unwrap().to_vec::<f32>().unwrap(), vec![2.0, 4.0, 6.0]);
//! ```

mod grads;
mod tape;

pub use grads::GradStore;
pub use tape::{is_recording, no_grad, GradientTape, NoGradGuard};

use crate::Tensor;
use keras_backend::Result;

/// The gradients of an op's inputs given the gradient of its output, in input order
/// (`None` where an input gets no gradient, e.g. integer indices).
pub type BackwardFn = dyn Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync;

/// How a tracked tensor was computed.
pub struct Node {
    /// Name of the op (for errors and debugging).
    pub op: &'static str,
    /// The op's tensor inputs, in order.
    pub inputs: Vec<Tensor>,
    /// The gradient rule.
    pub backward: Backward,
}

/// An op's gradient rule.
pub enum Backward {
    /// A closure from the output's gradient to the inputs' gradients.
    Rule(Box<BackwardFn>),
    /// The op is a view of part of its one input (a slice); the layout is where its elements
    /// sit in a contiguous tensor of the input's shape. The backward walk adds the gradient
    /// there, in place, into the one buffer that sums the input's gradients (a rule would
    /// build a zero tensor of the input's whole shape per slice, and an RNN's per-step slices
    /// of its input would cost time squared).
    AddAt(keras_backend::Layout),
}

/// `Some(grad())` when `input` is tracked, else `None` without computing it: gradient rules of
/// costly ops use it so that, e.g., a first layer never computes the gradient of its data.
/// (The walk drops gradients of untracked inputs anyway; this only saves the work.)
pub(crate) fn grad_if(input_tracked: bool, grad: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    input_tracked.then(grad).transpose()
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({}, {} inputs)", self.op, self.inputs.len())
    }
}
