//! Layers against Keras 3 (JAX backend), one case at a time: forward output, gradients with
//! respect to every float input and every trainable weight, and the non-trainable state after
//! a training call (BatchNormalization's moving statistics).
//!
//! `scripts/gen_layer_reference.py` writes `tests/data/layers.{safetensors,json}`. For each
//! case the layer is rebuilt with `layers::from_config(class_name, get_config())`, built for the
//! input shapes (batch `None`), given Keras's weights, and called; then
//! `sum(y * cotangent).backward()` gives the gradients (for a layer with several outputs, a
//! recurrent layer with `return_state`, every output is compared and the objective sums
//! `sum(y_i * cotangent_i)` over them).
//!
//! Tolerance, per element: `|got - want| <= RTOL * |want| + RTOL * max|want|` (the second
//! term is an absolute floor relative to the tensor's largest element, for values that
//! cross zero), with `RTOL = 1e-5`, float32.
//!
//! A gradient that is exactly zero in exact arithmetic (listed in the case's
//! `cancelling_grad_weights`: MultiHeadAttention's key bias, which the softmax ignores) has
//! only rounding noise in the reference; ours must stay below `RTOL` times the case's largest
//! gradient instead.
//!
//! Also checked: the weight counts, `compute_output_shapes`, and that weights keep their
//! values when no state update is expected. Differences between our `get_config()` and
//! Keras's, and weight names that differ from Keras's, are printed as notes, not failures.
//!
//! Every case runs (a panic is caught and reported as that case's failure); all failures are
//! listed together at the end. Run with `-- --nocapture` for the summary line and notes.

use keras::layers::{self, Layer, Shape};
use keras_tensor::Tensor;
use safetensors::tensor::SafeTensors;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

mod common;
use common::try_tensor as tensor;

const DATA: &[u8] = include_bytes!("data/layers.safetensors");
const META: &str = include_str!("data/layers.json");
const RTOL: f64 = 1e-5;

/// Worst errors seen over all comparisons that passed.
#[derive(Default)]
struct Worst {
    /// max |got - want| / max|want| over a tensor.
    normwise: f64,
    /// max |got - want| / |want| over elements with |want| >= 1e-3 max|want|.
    elementwise: f64,
    /// Where the worst normwise error was.
    at: String,
    /// Where the worst elementwise error was.
    el_at: String,
}

/// Equal JSON values up to float32 rounding of numbers (`0.99` vs `0.9900000095367432`).
fn json_num_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-6 * y.abs().max(1e-30)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| a == b || json_num_eq(a, b))
        }
        _ => false,
    }
}

/// The multi-index of flat index `i` in a row-major `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        idx[k] = i % d.max(1);
        i /= d.max(1);
    }
    idx
}

/// Compares `got` with `want`; `Err` describes the mismatch (shape, or the worst element with
/// max abs / rel errors and how many elements are out of tolerance).
fn compare(ctx: &str, got: &Tensor, want: &Tensor, worst: &mut Worst) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!("{ctx}: shape {:?}, want {:?}", got.shape(), want.shape()));
    }
    let g = got.to_vec_f64().map_err(|e| format!("{ctx}: {e}"))?;
    let w = want.to_vec_f64().unwrap();
    let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let floor = RTOL * scale;
    let (mut bad, mut max_abs, mut max_rel, mut at) = (0usize, 0.0f64, 0.0f64, 0usize);
    let mut worst_excess = -1.0f64;
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let err = (a - b).abs();
        let tol = RTOL * b.abs() + floor;
        let excess = if err.is_nan() {
            f64::INFINITY
        } else {
            err / tol.max(f64::MIN_POSITIVE)
        };
        if err.is_nan() || err > tol {
            bad += 1;
        }
        if excess > worst_excess {
            worst_excess = excess;
            at = i;
        }
        max_abs = max_abs.max(if err.is_nan() { f64::INFINITY } else { err });
        if b.abs() >= 1e-3 * scale && b.abs() > 0.0 {
            max_rel = max_rel.max(err / b.abs());
        }
    }
    if bad > 0 {
        return Err(format!(
            "{ctx}: {bad} of {} elements differ; max abs err {max_abs:.3e}, max rel err \
             {max_rel:.3e} (max|want| {scale:.3e}); worst at {:?}: got {}, want {}",
            w.len(),
            unravel(at, want.shape()),
            g[at],
            w[at]
        ));
    }
    if scale > 0.0 && max_abs / scale > worst.normwise {
        worst.normwise = max_abs / scale;
        worst.at = ctx.to_string();
    }
    if max_rel > worst.elementwise {
        worst.elementwise = max_rel;
        worst.el_at = ctx.to_string();
    }
    Ok(())
}

/// Runs one case; returns every mismatch found (empty when it passes).
fn run_case(st: &SafeTensors, case: &Value, worst: &mut Worst, notes: &mut Vec<String>) -> Vec<String> {
    let name = case["name"].as_str().unwrap();
    let class = case["class_name"].as_str().unwrap();
    let training = case["training"].as_bool().unwrap();
    let mut fails = vec![];
    macro_rules! bail {
        ($($t:tt)*) => {{
            fails.push(format!("{name} ({class}): {}", format!($($t)*)));
            return fails;
        }};
    }
    macro_rules! check {
        ($ctx:expr, $got:expr, $want:expr) => {
            if let Err(e) = compare(&format!("{name} ({class}) {}", $ctx), $got, $want, worst) {
                fails.push(e);
            }
        };
    }
    let get = |key: String| tensor(st, &key).unwrap_or_else(|| panic!("missing tensor {key}"));

    // Call arguments Keras took (use_causal_mask, return_attention_scores) are options of the
    // layer here, read by from_config next to the config's keys.
    let mut config = case["config"].clone();
    if let (Some(m), Some(kw)) = (config.as_object_mut(), case["call_kwargs"].as_object()) {
        m.extend(kw.clone());
    }
    let mut layer: Box<dyn Layer> = match layers::from_config(class, &config) {
        Ok(l) => l,
        Err(e) => bail!("from_config failed: {e}"),
    };
    let shapes: Vec<Shape> = case["input_shapes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let dims: Vec<usize> = serde_json::from_value(s.clone()).unwrap();
            std::iter::once(None)
                .chain(dims[1..].iter().map(|&d| Some(d)))
                .collect()
        })
        .collect();
    // Config fidelity (notes, not failures): keys Keras writes that ours lacks or differs on.
    let ours = layer.get_config();
    if let (Some(k), Some(o)) = (case["config"].as_object(), ours.as_object()) {
        let missing: Vec<&str> = k
            .keys()
            .filter(|key| !o.contains_key(*key))
            .map(String::as_str)
            .collect();
        let differ: Vec<String> = k
            .iter()
            .filter(|(key, v)| o.get(*key).is_some_and(|ov| ov != *v && !json_num_eq(ov, v)))
            .map(|(key, v)| format!("{key}: ours {}, Keras {v}", o[key]))
            .collect();
        let extra: Vec<&str> = o
            .keys()
            .filter(|key| !k.contains_key(*key))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() || !differ.is_empty() || !extra.is_empty() {
            notes.push(format!(
                "{name}: get_config lacks {missing:?}, adds {extra:?}, differs {differ:?}"
            ));
        }
    }
    if let Err(e) = layer.build_multi(&shapes) {
        bail!("build_multi({shapes:?}) failed: {e}");
    }

    // Weights: count, shapes (through assign), names (a note only).
    let weights = layer.weights();
    let n_weights = case["n_weights"].as_u64().unwrap() as usize;
    if weights.len() != n_weights {
        bail!(
            "{} weights {:?}, Keras has {n_weights} {}",
            weights.len(),
            weights.iter().map(|w| w.name().to_string()).collect::<Vec<_>>(),
            case["weight_names"]
        );
    }
    let keras_names = case["weight_names"].as_array().unwrap();
    for (i, w) in weights.iter().enumerate() {
        let want = get(format!("{name}/weight/{i}"));
        if let Err(e) = w.assign(&want) {
            bail!(
                "assigning weight {i} ({}, Keras {}): {e}",
                w.name(),
                keras_names[i]
            );
        }
        if keras_names[i].as_str() != Some(w.name()) {
            notes.push(format!(
                "{name}: weight {i} is named {:?}, Keras {}",
                w.name(),
                keras_names[i]
            ));
        }
    }
    let trainable: Vec<Tensor> = layer.trainable_weights().iter().map(|w| w.value()).collect();
    let n_trainable = case["n_trainable"].as_u64().unwrap() as usize;
    if trainable.len() != n_trainable {
        bail!(
            "{} trainable weights, Keras has {n_trainable} {}",
            trainable.len(),
            case["trainable_weight_names"]
        );
    }

    // Inputs: float ones are tracked for gradients.
    let n_inputs = shapes.len();
    let inputs: Vec<Tensor> = (0..n_inputs)
        .map(|i| {
            let x = get(format!("{name}/input/{i}"));
            if x.dtype().is_float() {
                x.variable()
            } else {
                x
            }
        })
        .collect();

    // Outputs (several for a recurrent layer with return_state) and their cotangents.
    let n_outputs = case["n_outputs"].as_u64().unwrap_or(1) as usize;
    let want_ys: Vec<Tensor> = (0..n_outputs)
        .map(|i| match i {
            0 => get(format!("{name}/output")),
            _ => get(format!("{name}/extra_output/{i}")),
        })
        .collect();
    let cts: Vec<Tensor> = (0..n_outputs)
        .map(|i| match i {
            0 => get(format!("{name}/cotangent")),
            _ => get(format!("{name}/extra_cotangent/{i}")),
        })
        .collect();

    // Shape inference agrees with the outputs.
    match layer.compute_output_shapes(&shapes) {
        Ok(s) => {
            let want: Vec<Shape> = want_ys
                .iter()
                .map(|y| {
                    std::iter::once(None)
                        .chain(y.shape()[1..].iter().map(|&d| Some(d)))
                        .collect()
                })
                .collect();
            if s != want {
                fails.push(format!(
                    "{name} ({class}): compute_output_shapes gives {s:?}, want {want:?}"
                ));
            }
        }
        Err(e) => fails.push(format!("{name} ({class}): compute_output_shapes failed: {e}")),
    }

    let ys = match layer.call_multi(&inputs, training) {
        Ok(ys) if ys.len() == n_outputs => ys,
        Ok(ys) => bail!("call_multi gave {} outputs, want {n_outputs}", ys.len()),
        Err(e) => bail!("call_multi(training={training}) failed: {e}"),
    };
    for (i, (y, want_y)) in ys.iter().zip(&want_ys).enumerate() {
        check!(
            if i == 0 {
                "output".to_string()
            } else {
                format!("output {i}")
            },
            y,
            want_y
        );
        if y.shape() != want_y.shape() {
            return fails;
        }
    }

    // Non-trainable state after the call.
    let nt = layer.non_trainable_weights();
    if case["state_after"].as_bool().unwrap() {
        let want_n = case["non_trainable_weight_names"].as_array().unwrap().len();
        if nt.len() != want_n {
            fails.push(format!(
                "{name} ({class}): {} non-trainable weights, Keras has {want_n}",
                nt.len()
            ));
        } else {
            for (i, w) in nt.iter().enumerate() {
                check!(
                    format!("state_after {i} ({})", w.name()),
                    &w.value(),
                    &get(format!("{name}/state_after/{i}"))
                );
            }
        }
    } else {
        // No state update expected: every weight keeps the value it was given.
        for (i, w) in layer.weights().iter().enumerate() {
            check!(
                format!("weight {i} ({}) after the call (should be unchanged)", w.name()),
                &w.value(),
                &get(format!("{name}/weight/{i}"))
            );
        }
    }

    // Gradients of sum(y * cotangent), summed over the outputs.
    let objective = ys.iter().zip(&cts).try_fold(None::<Tensor>, |acc, (y, ct)| {
        let term = y.mul(ct)?.sum_all()?;
        Ok::<_, keras_tensor::Error>(Some(match acc {
            Some(a) => a.add(&term)?,
            None => term,
        }))
    });
    let grads = match objective.and_then(|o| o.expect("one output at least").backward()) {
        Ok(g) => g,
        Err(e) => bail!("backward failed: {e}"),
    };
    for (i, x) in inputs.iter().enumerate() {
        let Some(want) = tensor(st, &format!("{name}/grad_input/{i}")) else {
            continue;
        };
        match grads.get(x) {
            Some(g) => check!(format!("grad_input {i}"), g, &want),
            None if want.to_vec_f64().unwrap().iter().all(|v| *v == 0.0) => {}
            None => fails.push(format!("{name} ({class}): no gradient for input {i}")),
        }
    }
    let tw = layer.trainable_weights();
    // Gradients that are exactly zero in exact arithmetic (MultiHeadAttention's key bias): the
    // reference holds float32 rounding noise, so ours must be as small, relative to the
    // largest gradient of the case.
    let cancelling: Vec<u64> = case["cancelling_grad_weights"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let max_abs = |t: &Tensor| t.to_vec_f64().unwrap().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let grad_scale = (0..trainable.len())
        .map(|i| max_abs(&get(format!("{name}/grad_weight/{i}"))))
        .fold(0.0f64, f64::max);
    for (i, w) in trainable.iter().enumerate() {
        let want = get(format!("{name}/grad_weight/{i}"));
        let wname = tw.get(i).map_or("?".to_string(), |v| v.name().to_string());
        match grads.get(w) {
            Some(g) if cancelling.contains(&(i as u64)) => {
                let (got, bound) = (max_abs(g), RTOL * grad_scale);
                if got > bound {
                    fails.push(format!(
                        "{name} ({class}): grad_weight {i} ({wname}) should vanish: max |got| \
                         {got:.3e} > {bound:.3e}"
                    ));
                }
            }
            Some(g) => check!(format!("grad_weight {i} ({wname})"), g, &want),
            None if want.to_vec_f64().unwrap().iter().all(|v| *v == 0.0) => {}
            None => fails.push(format!(
                "{name} ({class}): no gradient for trainable weight {i} ({wname})"
            )),
        }
    }
    fails
}

#[test]
fn layers_match_keras() {
    let meta: Value = serde_json::from_str(META).expect("layers.json");
    let st = SafeTensors::deserialize(DATA).expect("layers.safetensors");
    let cases = meta["cases"].as_array().expect("cases");
    let mut worst = Worst::default();
    let (mut fails, mut notes) = (vec![], vec![]);
    let mut failed_cases = vec![];
    for case in cases {
        let name = case["name"].as_str().unwrap().to_string();
        let class = case["class_name"].as_str().unwrap().to_string();
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut n = vec![];
            let f = run_case(&st, case, &mut worst, &mut n);
            (f, n)
        }));
        let f = match r {
            Ok((f, n)) => {
                notes.extend(n);
                f
            }
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                vec![format!("{name} ({class}): panicked: {msg}")]
            }
        };
        if !f.is_empty() {
            failed_cases.push(name);
            fails.extend(f);
        }
    }
    // Notes grouped by text (each is "<case>: <text>").
    let mut grouped: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for n in &notes {
        let (case, text) = n.split_once(": ").unwrap_or(("", n));
        grouped.entry(text).or_default().push(case);
    }
    for (text, cases) in &grouped {
        println!("note ({} cases: {}): {text}", cases.len(), cases.join(", "));
    }
    println!(
        "layers: {} cases checked against Keras {}, {} passed, {} failed; tolerance \
         |got-want| <= {RTOL:e}*(|want| + max|want|); worst normwise error {:.2e} ({}), worst \
         elementwise relative error {:.2e} ({}; elements with |want| >= 1e-3 max|want|)",
        cases.len(),
        meta["keras_version"].as_str().unwrap_or("?"),
        cases.len() - failed_cases.len(),
        failed_cases.len(),
        worst.normwise,
        worst.at,
        worst.elementwise,
        worst.el_at
    );
    assert!(
        fails.is_empty(),
        "{} of {} layer cases failed ({}):\n{}",
        failed_cases.len(),
        cases.len(),
        failed_cases.join(", "),
        fails.join("\n")
    );
    assert!(cases.len() > 100);
}
