//! Test helpers: float64 central finite-difference gradient checks and closeness asserts.
//!
//! Public so that downstream crates (layers, losses) check their gradients the same way.
//!
//! ```
//! use keras_tensor::testing::{check_grad, randn};
//! check_grad("tanh", &[&randn(&[2, 3], 0)], |t| t[0].tanh());
//! ```

use crate::{no_grad, DType, Device, Tensor};
use keras_backend::Result;

/// A float64 tensor of standard normal values (counter-based, reproducible for `seed`).
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::random_normal(shape, 0.0, 1.0, seed, DType::F64, &Device::Cpu).expect("cpu random")
}

/// Checks `f`'s gradients against central finite differences in float64.
///
/// Inputs are converted to float64 variables; the scalar differentiated is
/// `sum(f(inputs) * r)` for a fixed random `r`, so every output element's gradient path is
/// exercised with a different weight. Each input element is perturbed by ±1e-6; the analytic
/// gradient must agree within `1e-6 + 1e-5 * |numeric|`.
///
/// # Panics
/// On any mismatch, naming the check, the input and the element (this is a test helper).
pub fn check_grad(name: &str, inputs: &[&Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    check_grad_tol(name, inputs, 1e-5, 1e-6, f)
}

/// [`check_grad`] with explicit relative and absolute tolerances.
///
/// # Panics
/// On any mismatch.
pub fn check_grad_tol(
    name: &str,
    inputs: &[&Tensor],
    rtol: f64,
    atol: f64,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) {
    let vars: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            t.cast(DType::F64)
                .expect("cast")
                .contiguous()
                .expect("contiguous")
                .variable()
        })
        .collect();
    let y = f(&vars).unwrap_or_else(|e| panic!("{name}: forward failed: {e}"));
    let weights = randn(y.shape(), 99);
    let loss = |y: &Tensor| -> f64 {
        y.cast(DType::F64)
            .and_then(|y| y.mul(&weights))
            .and_then(|p| p.sum_all())
            .and_then(|s| s.item())
            .unwrap_or_else(|e| panic!("{name}: loss failed: {e}"))
    };
    let analytic: Vec<Option<Tensor>> = if y.is_tracked() {
        let l = y
            .cast(DType::F64)
            .unwrap()
            .mul(&weights)
            .unwrap()
            .sum_all()
            .unwrap();
        let mut store = l
            .backward()
            .unwrap_or_else(|e| panic!("{name}: backward failed: {e}"));
        vars.iter().map(|v| store.remove(v)).collect()
    } else {
        vec![None; vars.len()]
    };
    let eps = 1e-6;
    for (i, v) in vars.iter().enumerate() {
        let base = v.to_vec::<f64>().unwrap();
        let a = match &analytic[i] {
            Some(g) => {
                assert_eq!(g.shape(), v.shape(), "{name}: gradient shape for input {i}");
                g.to_vec::<f64>().unwrap()
            }
            None => vec![0.0; base.len()],
        };
        for j in 0..base.len() {
            let eval = |delta: f64| {
                let mut p = base.clone();
                p[j] += delta;
                let mut args = vars.clone();
                args[i] = Tensor::from_vec(p, v.shape(), &Device::Cpu).unwrap();
                no_grad(|| loss(&f(&args).unwrap()))
            };
            let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
            let tol = atol + rtol * numeric.abs().max(a[j].abs());
            assert!(
                (a[j] - numeric).abs() <= tol,
                "{name}: d/d input{i}[{j}] analytic {} vs numeric {numeric} (shape {:?})",
                a[j],
                v.shape()
            );
        }
    }
}

/// Asserts `|a - b| <= atol + rtol * |b|` elementwise (NaNs must match), same shapes.
///
/// # Panics
/// On a mismatch, naming the context and the first bad element.
pub fn assert_close(ctx: &str, a: &Tensor, b: &Tensor, rtol: f64, atol: f64) {
    assert_eq!(a.shape(), b.shape(), "{ctx}: shapes");
    let (x, y) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        let ok = (p.is_nan() && q.is_nan()) || p == q || (p - q).abs() <= atol + rtol * q.abs();
        assert!(ok, "{ctx}: element {i}: {p} vs expected {q}");
    }
}
