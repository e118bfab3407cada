//! Losses (values and gradients w.r.t. `y_pred`) and metrics (results over several batches,
//! with and without sample weights, and after `reset_state`) against Keras 3 (JAX backend):
//! `tests/data/losses_metrics.safetensors`, made by `scripts/gen_loss_metric_reference.py`.

use keras::losses;
use keras::metrics::{self, Metric};
use keras_tensor::Tensor;
use safetensors::tensor::SafeTensors;
use serde_json::Value;
use std::collections::BTreeMap;

mod common;
use common::try_tensor as tensor;

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;

fn load() -> (Vec<u8>, BTreeMap<String, Value>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/losses_metrics.safetensors");
    let bytes = std::fs::read(&path).expect("reference file");
    let (_, meta) = SafeTensors::read_metadata(&bytes).expect("header");
    let cases = meta.metadata().as_ref().expect("metadata")["cases"].clone();
    let map: BTreeMap<String, String> = serde_json::from_str(&cases).expect("cases json");
    let parsed = map
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_str(&v).expect("case json")))
        .collect();
    (bytes, parsed)
}

/// Compares, returning the worst relative error or a failure message.
fn compare(ctx: &str, got: &Tensor, want: &Tensor, worst: &mut f64) -> Result<(), String> {
    if got.numel() != want.numel() || (got.shape() != want.shape() && want.rank() > 0) {
        return Err(format!("{ctx}: shape {:?}, want {:?}", got.shape(), want.shape()));
    }
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let err = (a - b).abs();
        if err.is_nan() || err > RTOL * b.abs() + ATOL {
            return Err(format!("{ctx}[{i}]: got {a}, want {b}"));
        }
        if b.abs() > 1e-3 {
            *worst = worst.max(err / b.abs());
        }
    }
    Ok(())
}

fn run_loss(st: &SafeTensors, case: &str, spec: &Value, worst: &mut f64) -> Result<(), String> {
    let loss = losses::from_config(spec["class"].as_str().unwrap(), &spec["config"])
        .map_err(|e| format!("{case}: {e}"))?;
    let y_true = tensor(st, &format!("{case}/y_true")).unwrap();
    let y_pred = tensor(st, &format!("{case}/y_pred")).unwrap().variable();
    let sw = tensor(st, &format!("{case}/sw"));
    let out = loss
        .call(&y_true, &y_pred, sw.as_ref())
        .map_err(|e| format!("{case}: {e}"))?;
    compare(
        &format!("{case} value"),
        &out,
        &tensor(st, &format!("{case}/out")).unwrap(),
        worst,
    )?;
    let grads = out
        .sum(&[], false)
        .unwrap()
        .backward()
        .map_err(|e| format!("{case}: {e}"))?;
    let g = grads.get(&y_pred).ok_or(format!("{case}: no gradient"))?;
    compare(
        &format!("{case} grad"),
        g,
        &tensor(st, &format!("{case}/grad")).unwrap(),
        worst,
    )
}

fn run_metric(st: &SafeTensors, case: &str, spec: &Value, worst: &mut f64) -> Result<(), String> {
    let mut m = metrics::from_config(spec["class"].as_str().unwrap(), &spec["config"])
        .map_err(|e| format!("{case}: {e}"))?;
    let result = |m: &dyn Metric| m.result_tensor().map_err(|e| format!("{case}: {e}"));
    let batch = |i: usize| {
        (
            tensor(st, &format!("{case}/b{i}/y_true")).unwrap(),
            tensor(st, &format!("{case}/b{i}/y_pred")).unwrap(),
            tensor(st, &format!("{case}/b{i}/sw")),
        )
    };
    for i in 0..spec["batches"].as_u64().unwrap() as usize {
        let (t, p, w) = batch(i);
        m.update_state(&t, &p, w.as_ref())
            .map_err(|e| format!("{case} batch {i}: {e}"))?;
        compare(
            &format!("{case} r{i}"),
            &result(m.as_ref())?,
            &tensor(st, &format!("{case}/r{i}")).unwrap(),
            worst,
        )?;
    }
    m.reset_state();
    compare(
        &format!("{case} reset"),
        &result(m.as_ref())?,
        &tensor(st, &format!("{case}/reset")).unwrap(),
        worst,
    )?;
    let (t, p, w) = batch(0);
    m.update_state(&t, &p, w.as_ref())
        .map_err(|e| format!("{case}: {e}"))?;
    compare(
        &format!("{case} after"),
        &result(m.as_ref())?,
        &tensor(st, &format!("{case}/after")).unwrap(),
        worst,
    )
}

#[test]
fn losses_and_metrics_match_keras() {
    let (bytes, cases) = load();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (mut fails, mut worst_loss, mut worst_metric) = (vec![], 0.0f64, 0.0f64);
    let (mut n_loss, mut n_metric) = (0, 0);
    for (case, spec) in &cases {
        let r = match spec["kind"].as_str() {
            Some("loss") => {
                n_loss += 1;
                run_loss(&st, case, spec, &mut worst_loss)
            }
            Some("metric") => {
                n_metric += 1;
                run_metric(&st, case, spec, &mut worst_metric)
            }
            k => Err(format!("{case}: unknown kind {k:?}")),
        };
        if let Err(e) = r {
            fails.push(e);
        }
    }
    println!(
        "{n_loss} loss cases (worst relative error {worst_loss:.2e}), {n_metric} metric cases (worst {worst_metric:.2e})"
    );
    assert!(
        fails.is_empty(),
        "{} of {} cases failed:\n{}",
        fails.len(),
        cases.len(),
        fails.join("\n")
    );
    assert!(n_loss > 50 && n_metric > 50);
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let e = losses::get("mean_sqared_error").err().unwrap().to_string();
    assert!(
        e.contains("mean_squared_error") && e.contains("categorical_hinge"),
        "{e}"
    );
    let e = metrics::get("acuracy", None).err().unwrap().to_string();
    assert!(
        e.contains("sparse_categorical_accuracy") && e.contains("auc"),
        "{e}"
    );
    assert!(losses::from_config("Nope", &serde_json::json!({})).is_err());
    assert!(losses::from_config("MeanSquaredError", &serde_json::json!({"reduction": "avg"})).is_err());
    assert!(losses::from_config(
        "SparseCategoricalCrossentropy",
        &serde_json::json!({"ignore_class": 0})
    )
    .is_err());
    assert!(metrics::AUC::new().curve("PRGAIN").is_err());
    assert!(metrics::FBetaScore::new().average(Some("samples")).is_err());
}

#[test]
fn get_names_and_configs_follow_keras() {
    for (name, class) in [
        ("mse", "MeanSquaredError"),
        ("kld", "KLDivergence"),
        ("huber", "Huber"),
        ("binary_focal_crossentropy", "BinaryFocalCrossentropy"),
        ("CosineSimilarity", "CosineSimilarity"),
    ] {
        let l = losses::get(name).unwrap();
        assert_eq!(l.class_name(), class);
        let back = losses::from_config(class, &l.get_config()).unwrap();
        assert_eq!(back.get_config(), l.get_config());
    }
    assert_eq!(losses::get("mse").unwrap().name(), "mse");
    assert_eq!(
        losses::get("MeanSquaredError").unwrap().name(),
        "mean_squared_error"
    );
    let cfg = losses::get("categorical_crossentropy").unwrap().get_config();
    assert_eq!(cfg["reduction"], "sum_over_batch_size");
    assert_eq!(cfg["from_logits"], false);
    let m = metrics::get("categorical_crossentropy", None).unwrap();
    assert_eq!(m.name(), "categorical_crossentropy");
    let m = metrics::get("mae", None).unwrap();
    assert_eq!((m.class_name(), m.name()), ("MeanAbsoluteError", "mae"));
}

#[test]
fn accuracy_resolution_follows_compile() {
    use metrics::{accuracy_class_for_loss, accuracy_class_for_shapes, get, get_for_shapes};
    // Keras's compile_utils.is_binary_or_sparse_categorical
    assert_eq!(
        accuracy_class_for_shapes(&[4], &[4, 10]),
        "SparseCategoricalAccuracy"
    );
    assert_eq!(
        accuracy_class_for_shapes(&[4, 1], &[4, 10]),
        "SparseCategoricalAccuracy"
    );
    assert_eq!(
        accuracy_class_for_shapes(&[4, 10], &[4, 10]),
        "CategoricalAccuracy"
    );
    assert_eq!(accuracy_class_for_shapes(&[4, 1], &[4, 1]), "BinaryAccuracy");
    assert_eq!(accuracy_class_for_shapes(&[4], &[4, 1]), "BinaryAccuracy");
    assert_eq!(
        accuracy_class_for_loss("sparse_categorical_crossentropy"),
        "SparseCategoricalAccuracy"
    );
    assert_eq!(accuracy_class_for_loss("binary_crossentropy"), "BinaryAccuracy");
    assert_eq!(
        accuracy_class_for_loss("categorical_crossentropy"),
        "CategoricalAccuracy"
    );
    for n in ["accuracy", "acc", "Accuracy"] {
        let m = get(n, Some("sparse_categorical_crossentropy")).unwrap();
        assert_eq!((m.class_name(), m.name()), ("SparseCategoricalAccuracy", n));
    }
    let m = get_for_shapes("accuracy", &[8, 3], &[8, 3]).unwrap();
    assert_eq!((m.class_name(), m.name()), ("CategoricalAccuracy", "accuracy"));
}

#[test]
fn confusion_matrix_counts_and_weights() {
    use keras_tensor::DType;
    let l = Tensor::new(&[0i64, 1, 2, 2], &[4]).unwrap();
    let p = Tensor::new(&[0i64, 2, 2, 1], &[4]).unwrap();
    let m = metrics::confusion_matrix(&l, &p, 3, None, DType::I32).unwrap();
    assert_eq!(m.to_vec::<i32>().unwrap(), vec![1, 0, 0, 0, 0, 1, 0, 1, 1]);
    let w = Tensor::new(&[0.5f32, 1.0, 2.0, 3.0], &[4]).unwrap();
    let m = metrics::confusion_matrix(&l, &p, 3, Some(&w), DType::F32).unwrap();
    assert_eq!(
        m.to_vec::<f32>().unwrap(),
        vec![0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 3.0, 2.0]
    );
    assert!(metrics::confusion_matrix(&l, &p, 2, None, DType::I32).is_err());
}
