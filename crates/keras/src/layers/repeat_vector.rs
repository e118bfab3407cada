//! `RepeatVector`: repeats a `(batch, features)` input `n` times along a new axis.

use super::zero_padding2d::rank_error;
use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Repeats the input `n` times: `(batch, features)` becomes `(batch, n, features)`, as
/// `keras.layers.RepeatVector`.
///
/// ```
/// use keras::layers::{Layer, RepeatVector};
/// let r = RepeatVector::new(3)?;
/// assert_eq!(r.compute_output_shape(&[None, Some(32)])?, vec![None, Some(3), Some(32)]);
/// let y = r.call(&keras_tensor::Tensor::new(&[1.0f32, 2.0], &[1, 2])?, false)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct RepeatVector {
    name: String,
    n: usize,
    trainable: bool,
}

impl RepeatVector {
    /// Repeats `n >= 1` times.
    ///
    /// # Errors
    /// When `n` is 0.
    pub fn new(n: usize) -> Result<RepeatVector> {
        if n == 0 {
            return Err(Error::InvalidArgument {
                op: "RepeatVector",
                msg: "argument `n` should be a positive integer, got n=0".into(),
            });
        }
        Ok(RepeatVector {
            name: unique_name("repeat_vector"),
            n,
            trainable: true,
        })
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> RepeatVector {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a missing `n` or `n` = 0.
    pub fn from_config(c: &Value) -> Result<RepeatVector> {
        let mut r = RepeatVector::new(field(c, "n", 0)?)?;
        r.name = config_name(c, "repeat_vector")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }
}

impl Layer for RepeatVector {
    super::layer_common!("RepeatVector");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        match input_shape {
            [b, f] => Ok(vec![*b, Some(self.n), *f]),
            _ => Err(shape_error(
                &self.name,
                "a 2-D input (batch, features)",
                input_shape,
            )),
        }
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let &[b, f] = x.shape() else {
            return Err(rank_error(&self.name, 2, x));
        };
        x.expand_dims(1)?.broadcast_to(&[b, self.n, f])?.contiguous()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("n".into(), json!(self.n));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn repeat_vector_passes_the_layer_harness() {
        run_layer_test(Box::new(RepeatVector::new(3).unwrap()), &[4], 0);
        run_layer_test(Box::new(RepeatVector::new(1).unwrap()), &[2], 0);
    }

    #[test]
    fn repeats_like_keras() {
        // keras.layers.RepeatVector(2)(np.array([[1., 2.], [3., 4.]]))
        let r = RepeatVector::new(2).unwrap();
        let x = Tensor::new(&[1.0f32, 2., 3., 4.], &[2, 2]).unwrap();
        let y = r.call(&x, false).unwrap();
        assert_eq!(y.shape(), &[2, 2, 2]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 2., 1., 2., 3., 4., 3., 4.]);
        check_grad("repeat_vector", &[&randn(&[2, 3], 1)], |t| r.call(&t[0], true));
    }

    #[test]
    fn errors() {
        assert!(RepeatVector::new(0).is_err());
        assert!(RepeatVector::from_config(&serde_json::json!({})).is_err());
        let r = RepeatVector::new(2).unwrap().name("rep");
        let e = r
            .compute_output_shape(&[None, Some(3), Some(4)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rep") && e.contains("(None, 3, 4)"), "{e}");
        let x = Tensor::new(&[1.0f32], &[1]).unwrap();
        let e = r.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("rep") && e.contains("[1]"), "{e}");
    }
}
