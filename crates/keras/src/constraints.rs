//! Weight constraints with Keras's names, defaults and formulas: [`Constraint`].
//!
//! A constraint attached to a weight ([`crate::Variable::set_constraint`]) is applied by the
//! optimizer after every update, as Keras does.

use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Keras's `backend.epsilon()`, the fuzz factor of the norm constraints.
const EPSILON: f64 = 1e-7;

/// A projection applied to a weight after each optimizer step, as `keras.constraints`.
///
/// The norm constraints take the norm over `axis` (Keras default 0: for a Dense kernel
/// `(input_dim, units)` that is the norm of each unit's incoming weights).
///
/// ```
/// use keras::constraints::Constraint;
/// use keras_tensor::Tensor;
/// let w = Tensor::new(&[3.0f32, -4.0], &[2, 1])?;
/// let c = Constraint::MaxNorm { max_value: 1.0, axis: vec![0] };
/// let v = c.apply(&w)?.to_vec::<f32>()?;
/// assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] + 0.8).abs() < 1e-6);
/// assert_eq!(Constraint::get("non_neg")?.apply(&w)?.to_vec::<f32>()?, vec![3.0, 0.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// Rescales so the norm over `axis` is at most `max_value` (Keras defaults 2, axis 0).
    MaxNorm {
        /// Largest norm allowed.
        max_value: f64,
        /// Axes the norm runs over.
        axis: Vec<isize>,
    },
    /// `max(w, 0)`.
    NonNeg,
    /// Rescales to unit norm over `axis` (default 0).
    UnitNorm {
        /// Axes the norm runs over.
        axis: Vec<isize>,
    },
    /// Pulls the norm into `[min_value, max_value]` at `rate` (defaults 0, 1, 1, axis 0).
    MinMaxNorm {
        /// Smallest norm.
        min_value: f64,
        /// Largest norm.
        max_value: f64,
        /// 1.0 enforces the bounds exactly; smaller values move part of the way.
        rate: f64,
        /// Axes the norm runs over.
        axis: Vec<isize>,
    },
}

const NAMES: &str = "max_norm, non_neg, unit_norm, min_max_norm, MaxNorm, NonNeg, UnitNorm, MinMaxNorm";

fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "constraints.get",
        msg,
    }
}

impl Constraint {
    /// The constraint Keras's `constraints.get(name)` returns, with its defaults.
    ///
    /// # Errors
    /// For an unknown name (the error lists the known ones).
    pub fn get(name: &str) -> Result<Constraint> {
        Ok(match name {
            "max_norm" | "MaxNorm" => Constraint::MaxNorm {
                max_value: 2.0,
                axis: vec![0],
            },
            "non_neg" | "NonNeg" => Constraint::NonNeg,
            "unit_norm" | "UnitNorm" => Constraint::UnitNorm { axis: vec![0] },
            "min_max_norm" | "MinMaxNorm" => Constraint::MinMaxNorm {
                min_value: 0.0,
                max_value: 1.0,
                rate: 1.0,
                axis: vec![0],
            },
            _ => return Err(invalid(format!("unknown constraint {name:?}; known: {NAMES}"))),
        })
    }

    /// Reads Keras's serialized form, a bare name, or `null` (no constraint).
    ///
    /// # Errors
    /// For an unknown class or a bad config.
    pub fn from_config(v: &Value) -> Result<Option<Constraint>> {
        let (class, config) = match v {
            Value::Null => return Ok(None),
            Value::String(s) => return Constraint::get(s).map(Some),
            Value::Object(m) => (
                m.get("class_name").and_then(Value::as_str).unwrap_or(""),
                m.get("config").cloned().unwrap_or(Value::Null),
            ),
            other => return Err(invalid(format!("cannot read a constraint from {other}"))),
        };
        let num = |key: &str, default: f64| -> Result<f64> {
            match config.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(x) => x
                    .as_f64()
                    .ok_or_else(|| invalid(format!("{class}.{key}: expected a number, got {x}"))),
            }
        };
        let axis = || -> Result<Vec<isize>> {
            match config.get("axis") {
                None | Some(Value::Null) => Ok(vec![0]),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(|a| vec![a as isize])
                    .ok_or_else(|| invalid(format!("{class}.axis: expected an integer, got {n}"))),
                Some(v) => {
                    serde_json::from_value(v.clone()).map_err(|e| invalid(format!("{class}.axis: {e}")))
                }
            }
        };
        Ok(Some(match class {
            "MaxNorm" => Constraint::MaxNorm {
                max_value: num("max_value", 2.0)?,
                axis: axis()?,
            },
            "NonNeg" => Constraint::NonNeg,
            "UnitNorm" => Constraint::UnitNorm { axis: axis()? },
            "MinMaxNorm" => Constraint::MinMaxNorm {
                min_value: num("min_value", 0.0)?,
                max_value: num("max_value", 1.0)?,
                rate: num("rate", 1.0)?,
                axis: axis()?,
            },
            _ => {
                return Err(invalid(format!(
                    "unknown constraint class {class:?}; known: {NAMES}"
                )))
            }
        }))
    }

    /// Keras's serialized form.
    pub fn to_config(&self) -> Value {
        let ax = |a: &[isize]| {
            if a.len() == 1 {
                json!(a[0])
            } else {
                json!(a)
            }
        };
        let (class, config) = match self {
            Constraint::MaxNorm { max_value, axis } => {
                ("MaxNorm", json!({"max_value": max_value, "axis": ax(axis)}))
            }
            Constraint::NonNeg => ("NonNeg", json!({})),
            Constraint::UnitNorm { axis } => ("UnitNorm", json!({"axis": ax(axis)})),
            Constraint::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => (
                "MinMaxNorm",
                json!({"min_value": min_value, "max_value": max_value, "rate": rate, "axis": ax(axis)}),
            ),
        };
        json!({"module": "keras.constraints", "class_name": class, "config": config, "registered_name": null})
    }

    /// The constrained value of `w`.
    ///
    /// # Errors
    /// When an axis is out of range for `w`.
    pub fn apply(&self, w: &Tensor) -> Result<Tensor> {
        let norms = |axis: &[isize]| w.square()?.sum(axis, true)?.sqrt();
        match self {
            Constraint::NonNeg => w.maximum_scalar(0.0),
            Constraint::MaxNorm { max_value, axis } => {
                let n = norms(axis)?;
                w.mul(&n.clip(0.0, *max_value)?.div(&n.add_scalar(EPSILON)?)?)
            }
            Constraint::UnitNorm { axis } => w.div(&norms(axis)?.add_scalar(EPSILON)?),
            Constraint::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => {
                let n = norms(axis)?;
                let desired = n
                    .clip(*min_value, *max_value)?
                    .mul_scalar(*rate)?
                    .add(&n.mul_scalar(1.0 - rate)?)?;
                w.mul(&desired.div(&n.add_scalar(EPSILON)?)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_round_trip_and_norms_hold() {
        for name in ["max_norm", "non_neg", "unit_norm", "min_max_norm"] {
            let c = Constraint::get(name).unwrap();
            assert_eq!(Constraint::from_config(&c.to_config()).unwrap(), Some(c));
        }
        assert!(Constraint::get("nonneg")
            .unwrap_err()
            .to_string()
            .contains("non_neg"));
        // A (3, 2) kernel whose columns have norms 5 and 0.5.
        let w = Tensor::new(&[3.0f64, 0.3, 4.0, 0.4, 0.0, 0.0], &[3, 2]).unwrap();
        let col_norms = |t: &Tensor| {
            t.square()
                .unwrap()
                .sum(&[0], false)
                .unwrap()
                .sqrt()
                .unwrap()
                .to_vec::<f64>()
                .unwrap()
        };
        let m = Constraint::MaxNorm {
            max_value: 2.0,
            axis: vec![0],
        }
        .apply(&w)
        .unwrap();
        let n = col_norms(&m);
        assert!((n[0] - 2.0).abs() < 1e-6 && (n[1] - 0.5).abs() < 1e-6, "{n:?}");
        let n = col_norms(&Constraint::get("unit_norm").unwrap().apply(&w).unwrap());
        assert!(n.iter().all(|v| (v - 1.0).abs() < 1e-6), "{n:?}");
        let mm = Constraint::MinMaxNorm {
            min_value: 1.0,
            max_value: 3.0,
            rate: 0.5,
            axis: vec![0],
        };
        let n = col_norms(&mm.apply(&w).unwrap());
        assert!((n[0] - 4.0).abs() < 1e-6 && (n[1] - 0.75).abs() < 1e-6, "{n:?}");
    }
}
