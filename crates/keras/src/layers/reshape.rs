//! `Reshape`: gives each sample a new shape.

use super::{base_config, config_name, field, fmt_shape, shape_error, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Reshapes each sample to `target_shape` (the batch axis is kept), as
/// `keras.layers.Reshape`. One entry of `target_shape` may be `-1`: it is inferred from the
/// sample size.
///
/// ```
/// use keras::layers::{Layer, Reshape};
/// let r = Reshape::new(&[-1, 2, 2])?;
/// assert_eq!(r.compute_output_shape(&[None, Some(12)])?, vec![None, Some(3), Some(2), Some(2)]);
/// let x = keras_tensor::Tensor::zeros(&[5, 12], keras_tensor::DType::F32, &keras_tensor::Device::Cpu)?;
/// assert_eq!(r.call(&x, false)?.shape(), &[5, 3, 2, 2]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Reshape {
    name: String,
    target_shape: Vec<isize>,
    trainable: bool,
}

impl Reshape {
    /// Reshapes each sample to `target_shape` (without the batch axis).
    ///
    /// # Errors
    /// When an entry is below `-1` or more than one entry is `-1` (Keras's checks).
    pub fn new(target_shape: &[isize]) -> Result<Reshape> {
        if target_shape.iter().any(|&d| d < -1) || target_shape.iter().filter(|&&d| d == -1).count() > 1 {
            return Err(Error::InvalidArgument {
                op: "Reshape",
                msg: format!(
                    "each dimension in `target_shape` must be a non-negative integer, or -1 for \
                     a single unknown dimension; got target_shape={target_shape:?}"
                ),
            });
        }
        Ok(Reshape {
            name: unique_name("reshape"),
            target_shape: target_shape.to_vec(),
            trainable: true,
        })
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Reshape {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a missing or invalid `target_shape`.
    pub fn from_config(c: &Value) -> Result<Reshape> {
        let t: Option<Vec<isize>> = field(c, "target_shape", None)?;
        let t = t.ok_or_else(|| Error::InvalidArgument {
            op: "Reshape.from_config",
            msg: "missing field \"target_shape\"".into(),
        })?;
        let mut r = Reshape::new(&t)?;
        r.name = config_name(c, "reshape")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }

    /// Keras's `compute_reshape_output_shape` for one sample: `-1` resolved when the sample
    /// shape is fully known, else left as `None`.
    fn sample_shape(&self, sample: &[Option<usize>], full: &[Option<usize>]) -> Result<Shape> {
        let sizes: Option<Vec<usize>> = sample.iter().copied().collect();
        let Some(sizes) = sizes else {
            return Ok(self
                .target_shape
                .iter()
                .map(|&d| (d >= 0).then_some(d as usize))
                .collect());
        };
        let n: usize = sizes.iter().product();
        let known: usize = self
            .target_shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let infer = self.target_shape.contains(&-1);
        let ok = if infer {
            known != 0 && n % known == 0
        } else {
            known == n
        };
        if !ok {
            return Err(shape_error(
                &self.name,
                &format!(
                    "an input whose samples can be reshaped to target_shape {:?}",
                    self.target_shape
                ),
                full,
            ));
        }
        Ok(self
            .target_shape
            .iter()
            .map(|&d| Some(if d < 0 { n / known } else { d as usize }))
            .collect())
    }
}

impl Layer for Reshape {
    super::layer_common!("Reshape");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.is_empty() {
            return Err(shape_error(&self.name, "a batch axis", input_shape));
        }
        let mut s = vec![input_shape[0]];
        s.extend(self.sample_shape(&input_shape[1..], input_shape)?);
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let full: Shape = x.shape().iter().map(|&d| Some(d)).collect();
        let s = self
            .compute_output_shape(&full)
            .map_err(|_| Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} cannot reshape a tensor of shape {} to target_shape {:?}",
                    self.name,
                    fmt_shape(&full),
                    self.target_shape
                ),
            })?;
        let s: Vec<usize> = s.iter().map(|d| d.expect("all known")).collect();
        x.reshape_to(&s)
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("target_shape".into(), json!(self.target_shape));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::{DType, Device};
    use serde_json::json;

    #[test]
    fn reshape_passes_the_layer_harness() {
        run_layer_test(Box::new(Reshape::new(&[3, 4]).unwrap()), &[12], 0);
        run_layer_test(Box::new(Reshape::new(&[-1, 2]).unwrap()), &[3, 4], 0);
        run_layer_test(Box::new(Reshape::new(&[6]).unwrap()), &[2, 3], 0);
    }

    #[test]
    fn shapes_follow_keras() {
        let r = Reshape::new(&[-1, 2, 2]).unwrap();
        assert_eq!(
            r.compute_output_shape(&[None, Some(12)]).unwrap(),
            vec![None, Some(3), Some(2), Some(2)]
        );
        // Unknown sample dimensions leave -1 unresolved, as Keras does.
        assert_eq!(
            r.compute_output_shape(&[None, None]).unwrap(),
            vec![None, None, Some(2), Some(2)]
        );
        let x = Tensor::zeros(&[2, 3, 8], DType::F32, &Device::Cpu).unwrap();
        assert_eq!(r.call(&x, false).unwrap().shape(), &[2, 6, 2, 2]);
        let v = Tensor::new(&[0.0f32, 1., 2., 3., 4., 5.], &[1, 2, 3]).unwrap();
        let y = Reshape::new(&[3, 2]).unwrap().call(&v, false).unwrap();
        assert_eq!(y.shape(), &[1, 3, 2]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 1., 2., 3., 4., 5.]);
    }

    #[test]
    fn errors_name_the_layer_and_shapes() {
        assert!(Reshape::new(&[-1, -1]).is_err());
        assert!(Reshape::new(&[-2]).is_err());
        let r = Reshape::new(&[5, -1]).unwrap().name("rs");
        let e = r.compute_output_shape(&[None, Some(12)]).unwrap_err().to_string();
        assert!(
            e.contains("rs") && e.contains("(None, 12)") && e.contains("[5, -1]"),
            "{e}"
        );
        let x = Tensor::zeros(&[2, 7], DType::F32, &Device::Cpu).unwrap();
        let e = r.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("rs") && e.contains("(2, 7)") && e.contains("[5, -1]"),
            "{e}"
        );
        assert!(Reshape::from_config(&json!({})).is_err());
        let r = Reshape::from_config(&json!({"target_shape": [2, 3], "name": "x"})).unwrap();
        assert_eq!(r.get_config()["target_shape"], json!([2, 3]));
    }
}
