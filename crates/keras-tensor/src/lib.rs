//! Tensors for keras-rs: run-time shape and dtype on a [`Device`], the primitive ops with
//! NumPy broadcasting and Keras's dtype promotion, composite ops built from them, and
//! reverse-mode autodiff ([`GradientTape`], [`Tensor::backward`], [`no_grad`]).
//!
//! ```
//! use keras_tensor::{DType, Device, Tensor};
//! // A one-layer softmax classifier step, by hand.
//! let x = Tensor::random_normal(&[8, 4], 0.0, 1.0, 1, DType::F32, &Device::Cpu)?;
//! let w = Tensor::zeros(&[4, 3], DType::F32, &Device::Cpu)?.variable();
//! let labels = Tensor::new(&[0i64, 1, 2, 0, 1, 2, 0, 1], &[8])?;
//! let logits = x.matmul(&w)?;
//! let loss = keras_tensor::sparse_categorical_crossentropy(&labels, &logits, true)?.mean(&[], false)?;
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&w).unwrap().shape(), &[4, 3]);
//! # Ok::<(), keras_tensor::Error>(())
//! ```

pub mod autodiff;
pub mod device;
pub mod ops;
mod storage;
mod tensor;
pub mod testing;

pub use autodiff::{is_recording, no_grad, GradStore, GradientTape, NoGradGuard};
pub use device::Device;
pub use keras_backend::{op, random, DType, Error, Result};
pub use ops::composite::{
    binary_crossentropy, binary_crossentropy_elementwise, categorical_crossentropy,
    sparse_categorical_crossentropy, EPSILON,
};
pub use ops::{ConvArgs, Padding, PoolArgs};
pub use tensor::{Tensor, TensorElement, TensorId};
