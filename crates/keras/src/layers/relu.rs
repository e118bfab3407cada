//! `ReLU`: the rectified linear unit with optional cap, leak and threshold.

use super::{base_config, config_name, field, unique_name, Epilogue, Layer, Shape};
use keras_tensor::op::UnaryOp;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// The rectified linear unit, as `keras.layers.ReLU`:
///
/// - `f(x) = max_value` for `x >= max_value`,
/// - `f(x) = x` for `threshold <= x < max_value`,
/// - `f(x) = negative_slope * (x - threshold)` otherwise.
///
/// Defaults: no cap, slope 0, threshold 0 (plain `max(x, 0)`).
///
/// ```
/// use keras::layers::{Layer, ReLU};
/// let r = ReLU::new().max_value(10.0)?.negative_slope(0.5)?;
/// let x = keras_tensor::Tensor::new(&[-10.0f32, -5.0, 0.0, 5.0, 20.0], &[5])?;
/// assert_eq!(r.call(&x, false)?.to_vec::<f32>()?, vec![-5.0, -2.5, 0.0, 5.0, 10.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct ReLU {
    name: String,
    max_value: Option<f64>,
    negative_slope: f64,
    threshold: f64,
    trainable: bool,
}

fn non_negative(what: &str, v: f64) -> Result<f64> {
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::InvalidArgument {
            op: "ReLU",
            msg: format!("{what} of a ReLU layer cannot be a negative value, got {what}={v}"),
        })
    }
}

impl ReLU {
    /// `max(x, 0)`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> ReLU {
        ReLU {
            name: unique_name("re_lu"),
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
            trainable: true,
        }
    }

    /// Caps the output at `max_value >= 0`.
    ///
    /// # Errors
    /// For a negative value.
    pub fn max_value(mut self, max_value: f64) -> Result<ReLU> {
        self.max_value = Some(non_negative("max_value", max_value)?);
        Ok(self)
    }

    /// Slope `>= 0` below the threshold.
    ///
    /// # Errors
    /// For a negative value.
    pub fn negative_slope(mut self, negative_slope: f64) -> Result<ReLU> {
        self.negative_slope = non_negative("negative_slope", negative_slope)?;
        Ok(self)
    }

    /// Threshold `>= 0` below which values are damped.
    ///
    /// # Errors
    /// For a negative value.
    pub fn threshold(mut self, threshold: f64) -> Result<ReLU> {
        self.threshold = non_negative("threshold", threshold)?;
        Ok(self)
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> ReLU {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For negative values.
    pub fn from_config(c: &Value) -> Result<ReLU> {
        let mut r = ReLU::new()
            .negative_slope(field(c, "negative_slope", 0.0)?)?
            .threshold(field(c, "threshold", 0.0)?)?;
        if let Some(m) = field::<Option<f64>>(c, "max_value", None)? {
            r = r.max_value(m)?;
        }
        r.name = config_name(c, "re_lu")?;
        r.trainable = field(c, "trainable", true)?;
        Ok(r)
    }
}

/// Keras 3's `activations.relu(x, negative_slope, max_value, threshold)`, step for step.
pub(crate) fn relu(
    x: &Tensor,
    negative_slope: f64,
    max_value: Option<f64>,
    threshold: f64,
) -> Result<Tensor> {
    if negative_slope != 0.0 && max_value.is_none() && threshold == 0.0 {
        return x.leaky_relu(negative_slope);
    }
    let negative_part = if negative_slope != 0.0 {
        Some(x.neg()?.add_scalar(threshold)?.relu()?)
    } else {
        None
    };
    let mut y = if threshold != 0.0 {
        Tensor::where_cond(&x.gt(&x.scalar_like(threshold)?)?, x, &x.scalar_like(0.0)?)?
    } else {
        x.relu()?
    };
    if let Some(m) = max_value {
        y = y.clip(0.0, m)?;
    }
    match negative_part {
        Some(n) => y.sub(&n.mul_scalar(negative_slope)?),
        None => Ok(y),
    }
}

impl Layer for ReLU {
    super::layer_common!("ReLU");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, _input_shape: &[Option<usize>]) -> Result<()> {
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        relu(x, self.negative_slope, self.max_value, self.threshold)
    }
    fn inference_epilogue(&self, dtype: DType) -> Result<Option<Epilogue>> {
        let plain = self.negative_slope == 0.0 && self.max_value.is_none() && self.threshold == 0.0;
        Ok((plain && dtype.is_float()).then(|| Epilogue::activation(Some(UnaryOp::Relu))))
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("max_value".into(), json!(self.max_value));
        m.insert("negative_slope".into(), json!(self.negative_slope));
        m.insert("threshold".into(), json!(self.threshold));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    #[test]
    fn relu_passes_the_layer_harness() {
        run_layer_test(Box::new(ReLU::new()), &[3, 2], 0);
        let r = ReLU::new().max_value(1.0).unwrap().negative_slope(0.1).unwrap();
        run_layer_test(Box::new(r.threshold(0.5).unwrap()), &[4], 0);
    }

    #[test]
    fn values_match_keras() {
        // keras.layers.ReLU(**kw)(x) for x below, KERAS_BACKEND=jax.
        let x = Tensor::new(&[-10.0f32, -5., -1., 0., 0.5, 1., 2., 5., 10.], &[9]).unwrap();
        let cases: [(Option<f64>, f64, f64, [f32; 9]); 8] = [
            (None, 0.0, 0.0, [0., 0., 0., 0., 0.5, 1., 2., 5., 10.]),
            (None, 0.5, 0.0, [-5., -2.5, -0.5, 0., 0.5, 1., 2., 5., 10.]),
            (Some(5.0), 0.0, 0.0, [0., 0., 0., 0., 0.5, 1., 2., 5., 5.]),
            (None, 0.0, 5.0, [0., 0., 0., 0., 0., 0., 0., 0., 10.]),
            (Some(6.0), 0.0, 0.0, [0., 0., 0., 0., 0.5, 1., 2., 5., 6.]),
            (
                Some(10.0),
                0.5,
                1.0,
                [-5.5, -3., -1., -0.5, -0.25, 0., 2., 5., 10.],
            ),
            (None, 0.1, 2.0, [-1.2, -0.7, -0.3, -0.2, -0.15, -0.1, 0., 5., 10.]),
            (Some(1.5), 0.2, 0.0, [-2., -1., -0.2, 0., 0.5, 1., 1.5, 1.5, 1.5]),
        ];
        for (max_value, slope, threshold, want) in cases {
            let mut r = ReLU::new()
                .negative_slope(slope)
                .unwrap()
                .threshold(threshold)
                .unwrap();
            if let Some(m) = max_value {
                r = r.max_value(m).unwrap();
            }
            let ctx = format!("ReLU({max_value:?}, {slope}, {threshold})");
            assert_close(
                &ctx,
                &r.call(&x, false).unwrap(),
                &Tensor::new(&want, &[9]).unwrap(),
                1e-6,
                1e-7,
            );
            check_grad(&ctx, &[&randn(&[3, 4], 2).mul_scalar(4.0).unwrap()], |t| {
                r.call(&t[0], true)
            });
        }
    }

    #[test]
    fn config_and_validation() {
        let r = ReLU::new().name("re_lu");
        assert_eq!(
            r.get_config(),
            json!({"name": "re_lu", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "max_value": null, "negative_slope": 0.0, "threshold": 0.0})
        );
        let r = ReLU::from_config(&json!({"max_value": 6, "negative_slope": 0.1})).unwrap();
        assert_eq!(r.get_config()["max_value"], json!(6.0));
        assert!(ReLU::new().max_value(-1.0).is_err());
        assert!(ReLU::new().negative_slope(-0.1).is_err());
        let e = ReLU::from_config(&json!({"threshold": -1.0}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshold"), "{e}");
    }
}
