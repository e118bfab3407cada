//! Weight initializers with Keras's names, arguments and defaults.

use crate::random::next_seed;
use keras_tensor::{DType, Device, Error, Result, Tensor};
use serde_json::{json, Value};

/// How a weight's initial value is drawn.
///
/// Parse Keras's strings with [`Initializer::get`]:
///
/// ```
/// use keras::initializers::Initializer;
/// let init = Initializer::get("glorot_uniform")?;
/// let w = init.sample(&[784, 128], keras_tensor::DType::F32)?;
/// let limit = (6.0f64 / (784.0 + 128.0)).sqrt() as f32;
/// assert!(w.to_vec::<f32>()?.iter().all(|v| v.abs() <= limit));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Initializer {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// A constant.
    Constant(f64),
    /// Normal (`mean` 0.0, `stddev` 0.05 by default).
    RandomNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        stddev: f64,
    },
    /// Uniform on `[minval, maxval)` (-0.05, 0.05 by default).
    RandomUniform {
        /// Lower bound.
        minval: f64,
        /// Upper bound.
        maxval: f64,
    },
    /// Normal re-drawn beyond two standard deviations (stddev 0.05 by default).
    TruncatedNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation before truncation.
        stddev: f64,
    },
    /// Keras's `Orthogonal`: a random orthogonal matrix (from the QR decomposition of a
    /// normal one) times `gain`; shapes of rank > 2 are flattened to (∏ leading, last).
    Orthogonal {
        /// Multiplier of the matrix.
        gain: f64,
    },
    /// Keras's `VarianceScaling`: the base of Glorot, He and LeCun initializers.
    VarianceScaling {
        /// Multiplier of the variance.
        scale: f64,
        /// `fan_in`, `fan_out` or `fan_avg`.
        mode: FanMode,
        /// `truncated_normal`, `untruncated_normal` or `uniform`.
        distribution: Distribution,
    },
}

/// Which fan a [`Initializer::VarianceScaling`] divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Input units.
    FanIn,
    /// Output units.
    FanOut,
    /// Their mean.
    FanAvg,
}

/// The distribution of a [`Initializer::VarianceScaling`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// Truncated normal, corrected so the variance is as asked (Keras's 0.8796… factor).
    TruncatedNormal,
    /// Plain normal.
    UntruncatedNormal,
    /// Uniform.
    Uniform,
}

/// Keras's `compute_fans`: `(fan_in, fan_out)` of a weight shape.
pub fn compute_fans(shape: &[usize]) -> (f64, f64) {
    match shape.len() {
        0 => (1.0, 1.0),
        1 => (shape[0] as f64, shape[0] as f64),
        2 => (shape[0] as f64, shape[1] as f64),
        r => {
            let receptive: usize = shape[..r - 2].iter().product();
            (
                (shape[r - 2] * receptive) as f64,
                (shape[r - 1] * receptive) as f64,
            )
        }
    }
}

const NAMES: &str = "zeros, ones, constant, random_normal, random_uniform, truncated_normal, \
glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, variance_scaling, \
orthogonal";

impl Initializer {
    /// Parses Keras's string names (snake case or class name).
    ///
    /// # Errors
    /// For an unknown name; the error lists the valid ones.
    pub fn get(name: &str) -> Result<Initializer> {
        use Distribution::*;
        use FanMode::*;
        let vs = |scale, mode, distribution| Initializer::VarianceScaling {
            scale,
            mode,
            distribution,
        };
        Ok(match to_snake(name).as_str() {
            "zeros" | "zero" => Initializer::Zeros,
            "ones" | "one" => Initializer::Ones,
            "constant" => Initializer::Constant(0.0),
            "random_normal" => Initializer::RandomNormal {
                mean: 0.0,
                stddev: 0.05,
            },
            "random_uniform" => Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
            },
            "truncated_normal" => Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 0.05,
            },
            "glorot_uniform" => vs(1.0, FanAvg, Uniform),
            "glorot_normal" => vs(1.0, FanAvg, TruncatedNormal),
            "he_uniform" => vs(2.0, FanIn, Uniform),
            "he_normal" => vs(2.0, FanIn, TruncatedNormal),
            "lecun_uniform" => vs(1.0, FanIn, Uniform),
            "lecun_normal" => vs(1.0, FanIn, TruncatedNormal),
            "variance_scaling" => vs(1.0, FanIn, TruncatedNormal),
            "orthogonal" => Initializer::Orthogonal { gain: 1.0 },
            _ => {
                return Err(Error::InvalidArgument {
                    op: "initializers.get",
                    msg: format!("unknown initializer {name:?}; valid names: {NAMES}"),
                })
            }
        })
    }

    /// A new tensor of `shape` drawn from this initializer (seeded from the global counter,
    /// see [`crate::set_random_seed`]).
    ///
    /// # Errors
    /// For a non-float dtype with a random initializer.
    pub fn sample(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let cpu = Device::Cpu;
        match *self {
            Initializer::Zeros => Tensor::zeros(shape, dtype, &cpu),
            Initializer::Ones => Tensor::ones(shape, dtype, &cpu),
            Initializer::Constant(v) => Tensor::full(v, shape, dtype, &cpu),
            Initializer::RandomNormal { mean, stddev } => {
                Tensor::random_normal(shape, mean, stddev, next_seed(), dtype, &cpu)
            }
            Initializer::RandomUniform { minval, maxval } => {
                Tensor::random_uniform(shape, minval, maxval, next_seed(), dtype, &cpu)
            }
            Initializer::TruncatedNormal { mean, stddev } => {
                Tensor::truncated_normal(shape, mean, stddev, next_seed(), dtype, &cpu)
            }
            Initializer::Orthogonal { gain } => orthogonal(shape, gain, dtype),
            Initializer::VarianceScaling {
                scale,
                mode,
                distribution,
            } => {
                let (fan_in, fan_out) = compute_fans(shape);
                let fan = match mode {
                    FanMode::FanIn => fan_in,
                    FanMode::FanOut => fan_out,
                    FanMode::FanAvg => (fan_in + fan_out) / 2.0,
                };
                let var = scale / fan.max(1.0);
                match distribution {
                    // Standard deviation of a unit normal truncated to (-2, 2).
                    Distribution::TruncatedNormal => Tensor::truncated_normal(
                        shape,
                        0.0,
                        var.sqrt() / 0.879_625_661_034_239_8,
                        next_seed(),
                        dtype,
                        &cpu,
                    ),
                    Distribution::UntruncatedNormal => {
                        Tensor::random_normal(shape, 0.0, var.sqrt(), next_seed(), dtype, &cpu)
                    }
                    Distribution::Uniform => {
                        let limit = (3.0 * var).sqrt();
                        Tensor::random_uniform(shape, -limit, limit, next_seed(), dtype, &cpu)
                    }
                }
            }
        }
    }

    /// Keras's serialized form: `{"module": "keras.initializers", "class_name", "config"}`.
    pub fn get_config(&self) -> Value {
        let (class, config) = match self {
            Initializer::Zeros => ("Zeros", json!({})),
            Initializer::Ones => ("Ones", json!({})),
            Initializer::Constant(v) => ("Constant", json!({ "value": v })),
            Initializer::RandomNormal { mean, stddev } => (
                "RandomNormal",
                json!({ "mean": mean, "stddev": stddev, "seed": null }),
            ),
            Initializer::RandomUniform { minval, maxval } => (
                "RandomUniform",
                json!({ "minval": minval, "maxval": maxval, "seed": null }),
            ),
            Initializer::TruncatedNormal { mean, stddev } => (
                "TruncatedNormal",
                json!({ "mean": mean, "stddev": stddev, "seed": null }),
            ),
            Initializer::Orthogonal { gain } => ("Orthogonal", json!({ "seed": null, "gain": gain })),
            Initializer::VarianceScaling {
                scale,
                mode,
                distribution,
            } => {
                let mode_s = match mode {
                    FanMode::FanIn => "fan_in",
                    FanMode::FanOut => "fan_out",
                    FanMode::FanAvg => "fan_avg",
                };
                let dist_s = match distribution {
                    Distribution::TruncatedNormal => "truncated_normal",
                    Distribution::UntruncatedNormal => "untruncated_normal",
                    Distribution::Uniform => "uniform",
                };
                let named = match (*scale, mode, distribution) {
                    (1.0, FanMode::FanAvg, Distribution::Uniform) => Some("GlorotUniform"),
                    (1.0, FanMode::FanAvg, Distribution::TruncatedNormal) => Some("GlorotNormal"),
                    (2.0, FanMode::FanIn, Distribution::Uniform) => Some("HeUniform"),
                    (2.0, FanMode::FanIn, Distribution::TruncatedNormal) => Some("HeNormal"),
                    (1.0, FanMode::FanIn, Distribution::Uniform) => Some("LecunUniform"),
                    (1.0, FanMode::FanIn, Distribution::TruncatedNormal) => Some("LecunNormal"),
                    _ => None,
                };
                match named {
                    Some(n) => (n, json!({ "seed": null })),
                    None => (
                        "VarianceScaling",
                        json!({ "scale": scale, "mode": mode_s, "distribution": dist_s, "seed": null }),
                    ),
                }
            }
        };
        json!({ "module": "keras.initializers", "class_name": class, "config": config, "registered_name": null })
    }
}

impl Initializer {
    /// Reads an initializer from a Keras config: a string name or a serialized object.
    ///
    /// # Errors
    /// For an unknown class or malformed config.
    pub fn from_config(v: &Value) -> Result<Initializer> {
        let bad = |msg: String| Error::InvalidArgument {
            op: "initializers.from_config",
            msg,
        };
        if let Some(s) = v.as_str() {
            return Initializer::get(s);
        }
        let class = v
            .get("class_name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("no class_name in {v}")))?;
        let empty = json!({});
        let c = v.get("config").unwrap_or(&empty);
        let num = |k: &str, d: f64| c.get(k).and_then(Value::as_f64).unwrap_or(d);
        Ok(match class {
            "Constant" => Initializer::Constant(num("value", 0.0)),
            "RandomNormal" => Initializer::RandomNormal {
                mean: num("mean", 0.0),
                stddev: num("stddev", 0.05),
            },
            "RandomUniform" => Initializer::RandomUniform {
                minval: num("minval", -0.05),
                maxval: num("maxval", 0.05),
            },
            "TruncatedNormal" => Initializer::TruncatedNormal {
                mean: num("mean", 0.0),
                stddev: num("stddev", 0.05),
            },
            "Orthogonal" => Initializer::Orthogonal {
                gain: num("gain", 1.0),
            },
            "VarianceScaling" => {
                let mode = match c.get("mode").and_then(Value::as_str).unwrap_or("fan_in") {
                    "fan_in" => FanMode::FanIn,
                    "fan_out" => FanMode::FanOut,
                    "fan_avg" => FanMode::FanAvg,
                    m => return Err(bad(format!("unknown mode {m:?}"))),
                };
                let distribution = match c
                    .get("distribution")
                    .and_then(Value::as_str)
                    .unwrap_or("truncated_normal")
                {
                    "truncated_normal" => Distribution::TruncatedNormal,
                    "untruncated_normal" | "normal" => Distribution::UntruncatedNormal,
                    "uniform" => Distribution::Uniform,
                    d => return Err(bad(format!("unknown distribution {d:?}"))),
                };
                Initializer::VarianceScaling {
                    scale: num("scale", 1.0),
                    mode,
                    distribution,
                }
            }
            other => Initializer::get(other)?,
        })
    }
}

/// `GlorotUniform` → `glorot_uniform`; snake case passes through.
pub(crate) fn to_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Keras's `Orthogonal.__call__`: QR of a (max(rows, cols), min(rows, cols)) normal matrix,
/// columns signed by `diag(R)`, transposed when rows < cols.
fn orthogonal(shape: &[usize], gain: f64, dtype: DType) -> Result<Tensor> {
    if shape.len() < 2 {
        return Err(Error::InvalidArgument {
            op: "Orthogonal",
            msg: format!("the tensor to initialize must be at least two-dimensional, got shape {shape:?}"),
        });
    }
    let cols = shape[shape.len() - 1];
    let rows: usize = shape[..shape.len() - 1].iter().product();
    let (m, n) = (rows.max(cols), rows.min(cols));
    let a =
        Tensor::random_normal(&[m, n], 0.0, 1.0, next_seed(), DType::F64, &Device::Cpu)?.to_vec::<f64>()?;
    // Modified Gram–Schmidt on the columns of `a` (m × n, m >= n): Q (m × n), R's diagonal.
    let mut q = a;
    let mut diag = vec![0.0f64; n];
    for j in 0..n {
        for k in 0..j {
            let dot: f64 = (0..m).map(|i| q[i * n + k] * q[i * n + j]).sum();
            for i in 0..m {
                q[i * n + j] -= dot * q[i * n + k];
            }
        }
        let norm = (0..m).map(|i| q[i * n + j] * q[i * n + j]).sum::<f64>().sqrt();
        diag[j] = norm;
        for i in 0..m {
            q[i * n + j] /= norm.max(f64::MIN_POSITIVE);
        }
    }
    // Gram–Schmidt's R has a positive diagonal, so `q *= sign(diag(r))` leaves Q as it is.
    debug_assert!(diag.iter().all(|d| *d >= 0.0));
    let mut out = vec![0.0f64; rows * cols];
    for i in 0..m {
        for j in 0..n {
            let v = gain * q[i * n + j];
            if rows < cols {
                out[j * cols + i] = v; // Q transposed: (n × m) = (rows × cols)
            } else {
                out[i * cols + j] = v;
            }
        }
    }
    Tensor::from_vec(out, shape, &Device::Cpu)?.cast(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_and_scales_follow_keras() {
        assert_eq!(compute_fans(&[3, 3, 16, 32]), (144.0, 288.0));
        crate::set_random_seed(1);
        let w = Initializer::get("he_normal")
            .unwrap()
            .sample(&[200, 300], DType::F64)
            .unwrap();
        let v = w.to_vec::<f64>().unwrap();
        let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
        // He normal: variance 2 / fan_in = 0.01, within sampling error.
        assert!((var - 0.01).abs() < 0.0005, "{var}");
        let e = Initializer::get("glorot").unwrap_err().to_string();
        assert!(e.contains("glorot_uniform") && e.contains("he_normal"), "{e}");
        assert_eq!(
            Initializer::get("GlorotUniform").unwrap(),
            Initializer::get("glorot_uniform").unwrap()
        );
    }
}
