//! Weight and activity regularizers with Keras's names, defaults and formulas: [`Regularizer`].
//!
//! A regularizer attached to a weight ([`crate::Variable::set_regularizer`]) adds its penalty
//! to the training loss at every step; one given as a layer's `activity_regularizer` adds the
//! penalty of the layer's output (through [`crate::layers::add_loss`]).

use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// A penalty on a tensor, as `keras.regularizers`.
///
/// ```
/// use keras::regularizers::Regularizer;
/// use keras_tensor::Tensor;
/// let x = Tensor::new(&[1.0f32, -2.0], &[2])?;
/// let l2 = Regularizer::get("l2")?; // L2(l2=0.01)
/// assert!((l2.call(&x)?.item()? - 0.05).abs() < 1e-7);
/// assert!((Regularizer::L1L2 { l1: 0.1, l2: 0.0 }.call(&x)?.item()? - 0.3).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularizer {
    /// `l1 * sum(|x|)` (Keras default `l1=0.01`).
    L1(f64),
    /// `l2 * sum(x²)` (Keras default `l2=0.01`).
    L2(f64),
    /// Both penalties (Keras defaults `l1=0.0, l2=0.0`).
    L1L2 {
        /// Weight of the absolute-value penalty.
        l1: f64,
        /// Weight of the squared penalty.
        l2: f64,
    },
}

const NAMES: &str = "l1, l2, l1l2, L1, L2, L1L2";

fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "regularizers.get",
        msg,
    }
}

impl Regularizer {
    /// The regularizer Keras's `regularizers.get(name)` returns, with its defaults.
    ///
    /// # Errors
    /// For an unknown name (the error lists the known ones).
    pub fn get(name: &str) -> Result<Regularizer> {
        Ok(match name {
            "l1" | "L1" => Regularizer::L1(0.01),
            "l2" | "L2" => Regularizer::L2(0.01),
            "l1l2" | "L1L2" => Regularizer::L1L2 { l1: 0.0, l2: 0.0 },
            _ => return Err(invalid(format!("unknown regularizer {name:?}; known: {NAMES}"))),
        })
    }

    /// Reads Keras's serialized form (`{"class_name": "L2", "config": {"l2": 0.01}}`), a bare
    /// name, or `null` (no regularizer).
    ///
    /// # Errors
    /// For an unknown class or a bad config.
    pub fn from_config(v: &Value) -> Result<Option<Regularizer>> {
        let (class, config) = match v {
            Value::Null => return Ok(None),
            Value::String(s) => return Regularizer::get(s).map(Some),
            Value::Object(m) => (
                m.get("class_name").and_then(Value::as_str).unwrap_or(""),
                m.get("config").cloned().unwrap_or(Value::Null),
            ),
            other => return Err(invalid(format!("cannot read a regularizer from {other}"))),
        };
        let num = |key: &str, default: f64| -> Result<f64> {
            match config.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(x) => x
                    .as_f64()
                    .ok_or_else(|| invalid(format!("{class}.{key}: expected a number, got {x}"))),
            }
        };
        let r = match class {
            "L1" => Regularizer::L1(num("l1", 0.01)?),
            "L2" => Regularizer::L2(num("l2", 0.01)?),
            "L1L2" => Regularizer::L1L2 {
                l1: num("l1", 0.0)?,
                l2: num("l2", 0.0)?,
            },
            _ => {
                return Err(invalid(format!(
                    "unknown regularizer class {class:?}; known: {NAMES}"
                )))
            }
        };
        r.validate()?;
        Ok(Some(r))
    }

    fn validate(&self) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        let good = match *self {
            Regularizer::L1(a) | Regularizer::L2(a) => ok(a),
            Regularizer::L1L2 { l1, l2 } => ok(l1) && ok(l2),
        };
        if good {
            Ok(())
        } else {
            Err(invalid(format!("{self:?}: factors must be finite and >= 0")))
        }
    }

    /// Keras's serialized form.
    pub fn to_config(&self) -> Value {
        let (class, config) = match *self {
            Regularizer::L1(l1) => ("L1", json!({ "l1": l1 })),
            Regularizer::L2(l2) => ("L2", json!({ "l2": l2 })),
            Regularizer::L1L2 { l1, l2 } => ("L1L2", json!({ "l1": l1, "l2": l2 })),
        };
        json!({"module": "keras.regularizers", "class_name": class, "config": config, "registered_name": null})
    }

    /// The penalty of `x`: a scalar of `x`'s dtype, differentiable.
    ///
    /// # Errors
    /// When `x` is not a float tensor.
    pub fn call(&self, x: &Tensor) -> Result<Tensor> {
        let l1 = |f: f64| x.abs()?.sum_all()?.mul_scalar(f);
        let l2 = |f: f64| x.square()?.sum_all()?.mul_scalar(f);
        match *self {
            Regularizer::L1(f) => l1(f),
            Regularizer::L2(f) => l2(f),
            Regularizer::L1L2 { l1: a, l2: b } => match (a != 0.0, b != 0.0) {
                (true, true) => l1(a)?.add(&l2(b)?),
                (true, false) => l1(a),
                (false, true) => l2(b),
                (false, false) => x.sum_all()?.mul_scalar(0.0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keras_tensor::testing::check_grad;

    #[test]
    fn names_configs_and_formulas() {
        assert_eq!(Regularizer::get("l1").unwrap(), Regularizer::L1(0.01));
        let e = Regularizer::get("l3").unwrap_err().to_string();
        assert!(e.contains("l3") && e.contains("l1l2"), "{e}");
        for r in [
            Regularizer::L1(0.5),
            Regularizer::L2(0.25),
            Regularizer::L1L2 { l1: 0.1, l2: 0.2 },
        ] {
            assert_eq!(Regularizer::from_config(&r.to_config()).unwrap(), Some(r));
        }
        assert_eq!(Regularizer::from_config(&Value::Null).unwrap(), None);
        assert!(Regularizer::from_config(&json!({"class_name": "L2", "config": {"l2": -1.0}})).is_err());
        let x = Tensor::new(&[1.0f64, -2.0, 3.0], &[3]).unwrap();
        let v = Regularizer::L1L2 { l1: 0.1, l2: 0.2 }
            .call(&x)
            .unwrap()
            .item()
            .unwrap();
        assert!((v - (0.1 * 6.0 + 0.2 * 14.0)).abs() < 1e-12, "{v}");
        let x = Tensor::new(&[0.5f64, -1.5, 2.0], &[3]).unwrap();
        check_grad("l1l2", &[&x], |t| {
            Regularizer::L1L2 { l1: 0.3, l2: 0.7 }.call(&t[0])
        });
    }
}
