//! `Permute`: reorders the non-batch axes.

use super::zero_padding2d::rank_error;
use super::{base_config, config_name, field, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Permutes the axes of each sample, as `keras.layers.Permute`.
///
/// `dims` numbers the non-batch axes from 1: `[2, 1]` swaps the two axes of a
/// `(batch, a, b)` input.
///
/// ```
/// use keras::layers::{Layer, Permute};
/// let p = Permute::new(&[2, 1])?;
/// assert_eq!(p.compute_output_shape(&[None, Some(10), Some(64)])?, vec![None, Some(64), Some(10)]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Permute {
    name: String,
    dims: Vec<usize>,
    trainable: bool,
}

impl Permute {
    /// The permutation `dims` of `1..=dims.len()`.
    ///
    /// # Errors
    /// When `dims` is not a permutation of `1..=dims.len()`.
    pub fn new(dims: &[usize]) -> Result<Permute> {
        let mut sorted = dims.to_vec();
        sorted.sort_unstable();
        if sorted != (1..=dims.len()).collect::<Vec<_>>() {
            return Err(Error::InvalidArgument {
                op: "Permute",
                msg: format!(
                    "invalid permutation argument `dims`: the indices must be consecutive and \
                     start from 1; got dims={dims:?}"
                ),
            });
        }
        Ok(Permute {
            name: unique_name("permute"),
            dims: dims.to_vec(),
            trainable: true,
        })
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Permute {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a missing or invalid `dims`.
    pub fn from_config(c: &Value) -> Result<Permute> {
        let dims: Option<Vec<usize>> = field(c, "dims", None)?;
        let dims = dims.ok_or_else(|| Error::InvalidArgument {
            op: "Permute.from_config",
            msg: "missing field \"dims\"".into(),
        })?;
        let mut p = Permute::new(&dims)?;
        p.name = config_name(c, "permute")?;
        p.trainable = field(c, "trainable", true)?;
        Ok(p)
    }

    fn axes(&self) -> Vec<usize> {
        std::iter::once(0).chain(self.dims.iter().copied()).collect()
    }
}

impl Layer for Permute {
    super::layer_common!("Permute");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.len() != self.dims.len() + 1 {
            return Err(shape_error(
                &self.name,
                &format!("an input of rank {} (dims={:?})", self.dims.len() + 1, self.dims),
                input_shape,
            ));
        }
        Ok(self.axes().iter().map(|&a| input_shape[a]).collect())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        if x.rank() != self.dims.len() + 1 {
            return Err(rank_error(&self.name, self.dims.len() + 1, x));
        }
        x.permute(&self.axes())
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("dims".into(), json!(self.dims));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn permute_passes_the_layer_harness() {
        run_layer_test(Box::new(Permute::new(&[2, 1]).unwrap()), &[3, 4], 0);
        run_layer_test(Box::new(Permute::new(&[3, 1, 2]).unwrap()), &[2, 3, 4], 0);
    }

    #[test]
    fn permutes_like_keras() {
        // keras.layers.Permute((2, 1))(np.arange(6.).reshape(1, 2, 3)) == [[0, 3], [1, 4], [2, 5]]
        let p = Permute::new(&[2, 1]).unwrap();
        let x = Tensor::new(&[0.0f32, 1., 2., 3., 4., 5.], &[1, 2, 3]).unwrap();
        let y = p.call(&x, false).unwrap().contiguous().unwrap();
        assert_eq!(y.shape(), &[1, 3, 2]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 3., 1., 4., 2., 5.]);
        let q = Permute::new(&[3, 1, 2]).unwrap();
        check_grad("permute", &[&randn(&[2, 2, 3, 4], 1)], |t| q.call(&t[0], true));
    }

    #[test]
    fn errors() {
        assert!(Permute::new(&[0, 1]).is_err());
        assert!(Permute::new(&[1, 1]).is_err());
        assert!(Permute::new(&[1, 3]).is_err());
        let p = Permute::new(&[2, 1]).unwrap().name("perm");
        let e = p.compute_output_shape(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("perm") && e.contains("(None, 3)"), "{e}");
    }
}
