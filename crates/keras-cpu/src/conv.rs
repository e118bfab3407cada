//! stub
#![allow(missing_docs, unused_variables)]
use crate::Float;
use keras_backend::op::Conv2dParams;
pub fn conv2d_forward<T: Float>(p: &Conv2dParams, x: &[T], w: &[T]) -> keras_backend::Result<Vec<T>> { Err(keras_backend::Error::Autodiff("stub".into())) }
pub fn conv2d_backward_input<T: Float>(p: &Conv2dParams, dy: &[T], w: &[T]) -> keras_backend::Result<Vec<T>> { Err(keras_backend::Error::Autodiff("stub".into())) }
pub fn conv2d_backward_filter<T: Float>(p: &Conv2dParams, x: &[T], dy: &[T]) -> keras_backend::Result<Vec<T>> { Err(keras_backend::Error::Autodiff("stub".into())) }
