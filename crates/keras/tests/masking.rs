//! Keras masking end to end, against Keras 3 (JAX backend).
//!
//! `scripts/gen_masking_reference.py` writes `tests/data/masking.{safetensors,json}`: small
//! Sequential models whose first layer makes a mask (`Embedding(mask_zero=True)` or `Masking`)
//! followed by recurrent layers (`return_sequences` both ways, `go_backwards`,
//! `Bidirectional`), `GlobalAveragePooling1D`, `Dense`, `LayerNormalization`, run on inputs with
//! trailing, leading and inner padding. For each case the model is rebuilt twice from Keras's
//! config, as a `Sequential` (`Sequential::from_config`) and as a functional chain of the same
//! layers (functional cases, with `MultiHeadAttention`, `Add` and `Concatenate`, once through
//! `Model::from_config`), given Keras's weights, and compared: the output, its mask, and the gradients of
//! `sum(y * cotangent)` with respect to every trainable weight. Loss cases also compare
//! `evaluate` (the mse loss and the mae metric, both weighted by the output's mask, as
//! Keras does).
//!
//! Tolerance: outputs `|got - want| <= 1e-5`; gradients `<= 1e-5 * max(1, max|want|)`.
//! Run with `-- --nocapture` for the largest differences.

use keras::layers::{self, Layer};
use keras::models::LayerRef;
use keras::{losses, optimizers, saving, Input, Model, Sequential, Trainer};
use keras_tensor::{DType, Device, Tensor};
use safetensors::tensor::SafeTensors;
use serde_json::Value;

mod common;
use common::{case, fixture, max_abs, max_abs_diff, tensor};

const DATA: &[u8] = include_bytes!("data/masking.safetensors");
const META: &str = include_str!("data/masking.json");
const TOL: f64 = 1e-5;

/// The case's model as a functional chain of the same layers (rebuilt from the same configs).
fn functional_from(config: &Value) -> Model {
    let specs = config["layers"].as_array().unwrap();
    let input = &specs[0]["config"];
    let shape: Vec<Option<usize>> = serde_json::from_value(input["batch_shape"].clone()).unwrap();
    let dtype = DType::parse(input["dtype"].as_str().unwrap()).unwrap();
    let x = Input::with(&shape[1..], dtype, None);
    let mut h = x.clone();
    for spec in &specs[1..] {
        let l = layers::from_config(spec["class_name"].as_str().unwrap(), &spec["config"]).unwrap();
        h = LayerRef::from_box(l).apply(&h).unwrap();
    }
    Model::new(&[&x], &[&h]).unwrap()
}

/// Largest differences over all cases: (output, gradient, loss).
#[derive(Default)]
struct Worst(f64, f64, f64);

fn check_case<M: Trainer>(st: &SafeTensors, case: &Value, model: &mut M, kind: &str, worst: &mut Worst) {
    let name = case["name"].as_str().unwrap();
    let what = format!("{name} ({kind})");
    let vars = model.variables();
    assert_eq!(
        vars.len(),
        case["n_weights"].as_u64().unwrap() as usize,
        "{what}: weights"
    );
    for (i, v) in vars.iter().enumerate() {
        v.assign(&tensor(st, &format!("{name}/weight/{i}"))).unwrap();
    }
    let x = tensor(st, &format!("{name}/input"));
    let (ys, masks) = model.forward_masked(std::slice::from_ref(&x), false).unwrap();
    let want = tensor(st, &format!("{name}/output"));
    let d = max_abs_diff(&what, &ys[0], &want);
    assert!(d <= TOL, "{what}: output differs by {d}");
    worst.0 = worst.0.max(d);
    // The mask Keras attached to the output, or none.
    match (&masks[0], case["has_mask"].as_bool().unwrap()) {
        (Some(m), true) => {
            let want = tensor(st, &format!("{name}/mask"));
            let got = m.cast(DType::I32).unwrap();
            assert_eq!(
                got.to_vec::<i32>().unwrap(),
                want.to_vec::<i32>().unwrap(),
                "{what}: output mask"
            );
        }
        (None, false) => {}
        (m, _) => panic!("{what}: output mask {m:?}, Keras has_mask {}", case["has_mask"]),
    }
    let ct = tensor(st, &format!("{name}/cotangent"));
    let grads = ys[0].mul(&ct).unwrap().sum_all().unwrap().backward().unwrap();
    let tv = model.trainable_variables();
    assert_eq!(tv.len(), case["n_trainable"].as_u64().unwrap() as usize);
    for (i, v) in tv.iter().enumerate() {
        let want = tensor(st, &format!("{name}/grad_weight/{i}"));
        let got = grads
            .get(&v.value())
            .unwrap_or_else(|| panic!("{what}: no gradient for weight {i} ({})", v.name()));
        let d = max_abs_diff(&format!("{what} grad {i}"), got, &want);
        assert!(
            d <= TOL * max_abs(&want).max(1.0),
            "{what}: gradient of weight {i} ({}) differs by {d}",
            v.name()
        );
        worst.1 = worst.1.max(d);
    }
    if let Some(loss) = case.get("loss") {
        let y_true = tensor(st, &format!("{name}/y_true"));
        model
            .compile(
                optimizers::get("sgd").unwrap(),
                losses::get(loss["name"].as_str().unwrap()).unwrap(),
                &["mae"],
            )
            .unwrap();
        let logs = model.evaluate(&x, &y_true, 4).unwrap();
        for (key, want) in [("loss", &loss["value"]), ("mae", &loss["mae"])] {
            let want = want.as_f64().unwrap();
            let d = (logs[key] - want).abs();
            assert!(
                d <= TOL * want.abs().max(1.0),
                "{what}: {key} {} vs Keras {want}",
                logs[key]
            );
            worst.2 = worst.2.max(d);
        }
    }
}

#[test]
fn masked_models_match_keras_as_sequential_and_functional() {
    let st = SafeTensors::deserialize(DATA).unwrap();
    let meta: Value = serde_json::from_str(META).unwrap();
    let cases = meta["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    let mut worst = Worst::default();
    for case in cases {
        if case["functional"].as_bool().unwrap() {
            let mut fun = Model::from_config(&case["config"]).unwrap();
            check_case(&st, case, &mut fun, "Keras functional", &mut worst);
            continue;
        }
        let mut seq = Sequential::from_config(&case["config"]).unwrap();
        check_case(&st, case, &mut seq, "Sequential", &mut worst);
        let mut fun = functional_from(&case["config"]);
        check_case(&st, case, &mut fun, "functional", &mut worst);
    }
    println!(
        "masking: {} cases vs Keras {}: max |Δ| output {:.2e}, gradient {:.2e}, loss {:.2e}",
        cases.len(),
        meta["keras_version"],
        worst.0,
        worst.1,
        worst.2
    );
}

#[test]
fn masking_changes_the_answer_where_keras_says_it_should() {
    // Sanity of the reference itself: without the mask the padded rows would differ, while the
    // unpadded row is the same either way.
    let st = SafeTensors::deserialize(DATA).unwrap();
    let meta: Value = serde_json::from_str(META).unwrap();
    let case = case(&meta, "emb_lstm_last");
    let mut config = case["config"].clone();
    config["layers"][1]["config"]["mask_zero"] = Value::Bool(false);
    let mut m = Sequential::from_config(&config).unwrap();
    for (i, v) in m.variables().iter().enumerate() {
        v.assign(&tensor(&st, &format!("emb_lstm_last/weight/{i}")))
            .unwrap();
    }
    let x = tensor(&st, "emb_lstm_last/input");
    let y = m.predict(&x, 8).unwrap().to_vec::<f32>().unwrap();
    let want = tensor(&st, "emb_lstm_last/output").to_vec::<f32>().unwrap();
    let row = |v: &[f32], r: usize| v[r * 3..r * 3 + 3].to_vec();
    assert!((0..3).all(|j| (row(&y, 2)[j] - row(&want, 2)[j]).abs() < 1e-5));
    assert!((0..3).any(|j| (row(&y, 0)[j] - row(&want, 0)[j]).abs() > 1e-3));
}

#[test]
fn a_keras_saved_mask_zero_lstm_loads_predicts_and_round_trips() {
    let st = SafeTensors::deserialize(DATA).unwrap();
    let (x, want) = (tensor(&st, "mask_lstm/x"), tensor(&st, "mask_lstm/y"));
    let mut m = saving::load_model(fixture("masking", "mask_lstm.keras")).unwrap();
    let y = m.predict(&x, 8).unwrap();
    let d = max_abs_diff("mask_lstm", &y, &want);
    println!("mask_lstm.keras: max |Δ| vs Keras {d:.2e}");
    assert!(d <= TOL, "mask_lstm: {d}");
    let seq = m.as_sequential().expect("a Sequential");
    assert_eq!(
        seq.layers()[0].read().get_config()["mask_zero"],
        Value::Bool(true)
    );
    // Saved here, loaded again: same predictions, mask_zero kept.
    let dir = std::env::temp_dir().join(format!("keras-rs-masking-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mask_lstm.keras");
    m.save(&path).unwrap();
    let mut back = saving::load_model(&path).unwrap();
    assert_eq!(max_abs_diff("round trip", &back.predict(&x, 8).unwrap(), &y), 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mask_that_does_not_fit_the_input_names_the_layer_and_both_shapes() {
    let mut l = layers::LSTM::new(2).name("enc");
    l.build(&[None, Some(4), Some(3)]).unwrap();
    let x = Tensor::zeros(&[2, 4, 3], DType::F32, &Device::Cpu).unwrap();
    let m = Tensor::ones(&[2, 5], DType::Bool, &Device::Cpu).unwrap();
    let e = l.call_masked(&x, Some(&m), false).unwrap_err().to_string();
    assert!(
        e.contains("enc") && e.contains("[2, 5]") && e.contains("[2, 4, 3]"),
        "{e}"
    );
    let p = layers::GlobalAveragePooling1D::new().name("gap");
    let e = p.call_masked(&x, Some(&m), false).unwrap_err().to_string();
    assert!(
        e.contains("gap") && e.contains("[2, 5]") && e.contains("[2, 4, 3]"),
        "{e}"
    );
}

#[test]
fn masks_pass_through_supporting_layers_and_stop_at_the_others() {
    use layers::{Dense, Embedding, Flatten, Masking};
    let x = Tensor::new(&[3i32, 0, 0, 5, 6, 0], &[2, 3]).unwrap();
    let keep = vec![true, false, false, true, true, false];
    let m = Sequential::new(vec![
        Box::new(Embedding::new(8, 2).unwrap().mask_zero(true)),
        Box::new(Dense::new(4).activation("relu").unwrap()),
        Box::new(layers::Dropout::new(0.5).unwrap()),
        Box::new(layers::LayerNormalization::new()),
    ]);
    let mask = m.output_mask(&x).unwrap().expect("a mask");
    assert_eq!(mask.to_vec::<bool>().unwrap(), keep);
    let flat = Sequential::new(vec![
        Box::new(Embedding::new(8, 2).unwrap().mask_zero(true)),
        Box::new(Flatten::new()),
    ]);
    assert!(flat.output_mask(&x).unwrap().is_none());
    // Masking replaces an incoming mask with its own.
    let steps = Tensor::new(&[1.0f32, 0.0, 0.0, 0.0, 2.0, 2.0], &[1, 3, 2]).unwrap();
    let mk = Masking::new(0.0);
    let incoming = Tensor::new(&[false, false, false], &[1, 3]).unwrap();
    let out = mk.compute_mask(&steps, Some(&incoming)).unwrap().unwrap();
    assert_eq!(out.to_vec::<bool>().unwrap(), vec![true, false, true]);
}

#[test]
fn merge_layers_combine_masks_as_keras() {
    let cpu = Device::Cpu;
    let a = Tensor::ones(&[1, 3, 2], DType::F32, &cpu).unwrap();
    let ma = Tensor::new(&[true, false, false], &[1, 3]).unwrap();
    let mb = Tensor::new(&[false, true, false], &[1, 3]).unwrap();
    let add = layers::Add::new();
    let (_, m) = add
        .call_multi_masked(
            &[a.clone(), a.clone()],
            &[Some(ma.clone()), Some(mb.clone())],
            false,
        )
        .unwrap();
    assert_eq!(
        m[0].as_ref().unwrap().to_vec::<bool>().unwrap(),
        vec![true, true, false]
    );
    let (_, m) = add
        .call_multi_masked(&[a.clone(), a.clone()], &[Some(ma.clone()), None], false)
        .unwrap();
    assert!(m[0].is_none());
    // Concatenate on the features: an unmasked input counts as all valid.
    let cat = layers::Concatenate::new();
    let (_, m) = cat
        .call_multi_masked(&[a.clone(), a.clone()], &[Some(ma.clone()), None], false)
        .unwrap();
    assert_eq!(m[0].as_ref().unwrap().to_vec::<bool>().unwrap(), vec![true; 3]);
    // On the steps: the masks are concatenated.
    let (_, m) = layers::Concatenate::new()
        .axis(1)
        .call_multi_masked(&[a.clone(), a], &[Some(ma), Some(mb)], false)
        .unwrap();
    assert_eq!(
        m[0].as_ref().unwrap().to_vec::<bool>().unwrap(),
        vec![true, false, false, false, true, false]
    );
}

#[test]
fn softmax_takes_a_broadcastable_mask_and_names_both_shapes_otherwise() {
    let s = layers::Softmax::new().name("sm");
    let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let m = Tensor::new(&[true, false], &[2]).unwrap();
    let y = s
        .call_masked(&x, Some(&m), false)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert!((y[0] - 1.0).abs() < 1e-6 && y[1].abs() < 1e-6 && (y[2] - 1.0).abs() < 1e-6);
    let bad = Tensor::new(&[true, false, true], &[3]).unwrap();
    let e = s.call_masked(&x, Some(&bad), false).unwrap_err().to_string();
    assert!(
        e.contains("sm") && e.contains("[3]") && e.contains("[2, 2]"),
        "{e}"
    );
}

#[test]
fn training_ignores_the_targets_of_masked_steps() {
    use layers::{Dense, Embedding, LSTM};
    keras::set_random_seed(4);
    let mut m = Sequential::new(vec![
        Box::new(Embedding::new(6, 3).unwrap().mask_zero(true)),
        Box::new(LSTM::new(2).return_sequences(true)),
        Box::new(Dense::new(1)),
    ]);
    m.compile(
        optimizers::get("sgd").unwrap(),
        losses::get("mse").unwrap(),
        &["mae"],
    )
    .unwrap();
    let x = Tensor::new(&[1i32, 2, 0, 0, 3, 4, 5, 0], &[2, 4]).unwrap();
    // Huge targets on the padded steps: a loss that saw them would be about 1e6.
    let y = Tensor::new(&[0.5f32, -0.5, 1e3, 1e3, 0.2, 0.1, -0.3, 1e3], &[2, 4, 1]).unwrap();
    let before = m.evaluate(&x, &y, 2).unwrap();
    assert!(before["loss"] < 10.0 && before["mae"] < 10.0, "{before:?}");
    // train_on_batch reports the loss of the step, computed before the update.
    let step = m.train_on_batch(&x, &y).unwrap();
    assert!(
        (step["loss"] - before["loss"]).abs() < 1e-6,
        "{step:?} vs {before:?}"
    );
    let after = m.evaluate(&x, &y, 2).unwrap();
    assert!(after["loss"] < before["loss"], "{after:?} vs {before:?}");
}
