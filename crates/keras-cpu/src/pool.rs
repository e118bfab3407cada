//! stub
#![allow(missing_docs, unused_variables)]
use crate::Float;
use keras_backend::op::{Pool2dParams, PoolKind};
pub fn pool2d_forward<T: Float>(kind: PoolKind, p: &Pool2dParams, x: &[T]) -> keras_backend::Result<Vec<T>> { Err(keras_backend::Error::Autodiff("stub".into())) }
pub fn pool2d_backward<T: Float>(kind: PoolKind, p: &Pool2dParams, x: &[T], dy: &[T]) -> keras_backend::Result<Vec<T>> { Err(keras_backend::Error::Autodiff("stub".into())) }
