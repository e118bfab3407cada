//! Stateful recurrent layers (`stateful = true`) against Keras 3 (JAX backend).
//!
//! `scripts/gen_stateful_reference.py` writes `tests/data/stateful.{safetensors,json}`: small
//! models with a fixed batch size holding stateful SimpleRNN / GRU / LSTM layers
//! (`go_backwards`, `return_sequences` both ways, a `Masking` layer with padded steps,
//! `Bidirectional`, stacked layers, `return_state` in a functional model), called on three
//! consecutive batches, then `reset_state()`, then the first batch again. Each case is rebuilt
//! from Keras's config (`Sequential::from_config` or `Model::from_config`), given Keras's
//! weights, called the same way, and compared after every call: the outputs and every
//! stateful layer's states. A Keras-saved stateful model loads here (its states are not in the
//! file, as in Keras); errors for an unknown or a wrong batch size name the layer.
//!
//! Tolerance: `|got - want| <= 1e-5`. Run with `-- --nocapture` for the largest differences.

use keras::layers::{self, Layer};
use keras::models::{Apply, LayerRef};
use keras::{saving, Input, Model, Sequential, Trainer};
use keras_tensor::{DType, Device, GradientTape, Tensor};
use safetensors::tensor::SafeTensors;
use serde_json::Value;

mod common;
use common::{case, f32_tensor as tensor, fixture, max_abs_diff};

const DATA: &[u8] = include_bytes!("data/stateful.safetensors");
const META: &str = include_str!("data/stateful.json");
const TOL: f64 = 1e-5;

/// The states of every stateful layer, in layer order.
fn states(layers: &[LayerRef]) -> Vec<Tensor> {
    layers
        .iter()
        .flat_map(|l| l.read().states())
        .map(|v| v.value())
        .collect()
}

fn reset(layers: &[LayerRef]) {
    for l in layers {
        let l = l.read();
        if !l.states().is_empty() {
            l.reset_state().unwrap();
        }
    }
}

/// Runs one case on `model` (whose layers are `layers`); returns the largest difference.
fn check_case<M: Trainer>(st: &SafeTensors, case: &Value, model: &mut M, layers: &[LayerRef]) -> f64 {
    let name = case["name"].as_str().unwrap();
    let vars = model.variables();
    assert_eq!(
        vars.len(),
        case["n_weights"].as_u64().unwrap() as usize,
        "{name}: weights"
    );
    for (i, v) in vars.iter().enumerate() {
        v.assign(&tensor(st, &format!("{name}/weight/{i}"))).unwrap();
    }
    let n_states = case["n_states"].as_u64().unwrap() as usize;
    assert_eq!(states(layers).len(), n_states, "{name}: states");
    let reset_before = case["reset_before"].as_u64().unwrap() as usize;
    let mut worst = 0.0f64;
    for j in 0..case["n_calls"].as_u64().unwrap() as usize {
        if j == reset_before {
            reset(layers);
            assert!(states(layers)
                .iter()
                .all(|s| s.to_vec_f64().unwrap().iter().all(|&v| v == 0.0)));
        }
        let x = tensor(
            st,
            &format!("{name}/call/{}/input", if j == reset_before { 0 } else { j }),
        );
        let (ys, _) = model.forward_masked(std::slice::from_ref(&x), false).unwrap();
        assert_eq!(
            ys.len(),
            case["n_outputs"].as_u64().unwrap() as usize,
            "{name}: outputs"
        );
        for (k, y) in ys.iter().enumerate() {
            let what = format!("{name} call {j} output {k}");
            let d = max_abs_diff(&what, y, &tensor(st, &format!("{name}/call/{j}/output/{k}")));
            assert!(d <= TOL, "{what}: differs by {d}");
            worst = worst.max(d);
        }
        for (s, got) in states(layers).iter().enumerate() {
            let what = format!("{name} call {j} state {s}");
            let d = max_abs_diff(&what, got, &tensor(st, &format!("{name}/call/{j}/state/{s}")));
            assert!(d <= TOL, "{what}: differs by {d}");
            worst = worst.max(d);
        }
    }
    worst
}

#[test]
fn stateful_layers_match_keras_across_batches_and_resets() {
    let st = SafeTensors::deserialize(DATA).unwrap();
    let meta: Value = serde_json::from_str(META).unwrap();
    let cases = meta["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    let mut worst = 0.0f64;
    for case in cases {
        if case["functional"].as_bool().unwrap() {
            let mut m = Model::from_config(&case["config"]).unwrap();
            let layers = m.layers().to_vec();
            worst = worst.max(check_case(&st, case, &mut m, &layers));
        } else {
            let mut m = Sequential::from_config(&case["config"]).unwrap();
            let layers = m.layers().to_vec();
            worst = worst.max(check_case(&st, case, &mut m, &layers));
        }
    }
    println!(
        "stateful: {} cases vs Keras {}: max |Δ| {worst:.2e}",
        cases.len(),
        meta["keras_version"]
    );
}

#[test]
fn without_stateful_the_reference_would_differ() {
    // Sanity of the reference: the same model without `stateful` starts every call from
    // zeros, so its second call differs from Keras's stateful one.
    let st = SafeTensors::deserialize(DATA).unwrap();
    let meta: Value = serde_json::from_str(META).unwrap();
    let case = case(&meta, "lstm_last");
    let mut config = case["config"].clone();
    config["layers"][1]["config"]["stateful"] = Value::Bool(false);
    let mut m = Sequential::from_config(&config).unwrap();
    for (i, v) in m.variables().iter().enumerate() {
        v.assign(&tensor(&st, &format!("lstm_last/weight/{i}"))).unwrap();
    }
    let x = tensor(&st, "lstm_last/call/1/input");
    let y = m.predict(&x, 8).unwrap();
    assert!(max_abs_diff("plain", &y, &tensor(&st, "lstm_last/call/1/output/0")) > 1e-3);
}

#[test]
fn a_keras_saved_stateful_model_loads_with_zero_states_and_saves_back() {
    let st = SafeTensors::deserialize(DATA).unwrap();
    let (x, want) = (tensor(&st, "stateful_lstm/x"), tensor(&st, "stateful_lstm/y"));
    let mut m = saving::load_model(fixture("stateful", "stateful_lstm.keras")).unwrap();
    let seq = m.as_sequential().expect("a Sequential");
    let lstm = seq.layers()[0].clone();
    assert_eq!(lstm.read().get_config()["stateful"], Value::Bool(true));
    assert_eq!(lstm.read().states()[0].shape(), vec![3, 3]);
    let y = m.predict(&x, 3).unwrap();
    let d = max_abs_diff("stateful_lstm", &y, &want);
    println!("stateful_lstm.keras: max |Δ| vs Keras {d:.2e}");
    assert!(d <= TOL, "stateful_lstm: {d}");
    // The states moved on; saving does not keep them (as Keras), loading starts from zeros.
    assert!(max_abs_diff("second", &m.predict(&x, 3).unwrap(), &want) > 1e-3);
    let dir = std::env::temp_dir().join(format!("keras-rs-stateful-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stateful_lstm.keras");
    m.save(&path).unwrap();
    let mut back = saving::load_model(&path).unwrap();
    assert!(max_abs_diff("round trip", &back.predict(&x, 3).unwrap(), &want) <= TOL);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_batch_size_is_refused_naming_the_layer() {
    let x = Input::new(&[5, 3]);
    let e = layers::LSTM::new(4)
        .stateful(true)
        .name("enc")
        .apply(&x)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"enc\"") && e.contains("stateful") && e.contains("batch size"),
        "{e}"
    );
    let mut l = layers::GRU::new(2).stateful(true).name("g");
    let e = l.build(&[None, Some(4), Some(3)]).unwrap_err().to_string();
    assert!(e.contains("\"g\"") && e.contains("(None, 4, 3)"), "{e}");
    // Sequential without a batch size: the first call builds it and is refused.
    let m = Sequential::new(vec![Box::new(layers::SimpleRNN::new(2).stateful(true).name("s"))]);
    let x = Tensor::ones(&[2, 4, 3], DType::F32, &Device::Cpu).unwrap();
    let e = Layer::call(&m, &x, false).unwrap_err().to_string();
    assert!(e.contains("\"s\"") && e.contains("batch size"), "{e}");
}

#[test]
fn a_wrong_batch_size_is_refused_naming_the_layer_and_sizes() {
    let m = Sequential::new(vec![Box::new(layers::LSTM::new(2).stateful(true).name("enc"))])
        .input_shape(&[4, 3])
        .batch_size(2);
    let ok = Tensor::ones(&[2, 4, 3], DType::F32, &Device::Cpu).unwrap();
    Layer::call(&m, &ok, false).unwrap();
    let bad = Tensor::ones(&[3, 4, 3], DType::F32, &Device::Cpu).unwrap();
    let e = Layer::call(&m, &bad, false).unwrap_err().to_string();
    assert!(
        e.contains("\"enc\"") && e.contains("batch size 2") && e.contains("batch size 3"),
        "{e}"
    );
    // A refused call leaves the states as they were.
    let before = m.layers()[0].read().states()[0].value().to_vec::<f32>().unwrap();
    let _ = Layer::call(&m, &bad, false);
    assert_eq!(
        m.layers()[0].read().states()[0].value().to_vec::<f32>().unwrap(),
        before
    );
}

#[test]
fn gradients_do_not_flow_into_the_previous_batch() {
    let x = Input::with_batch_size(&[4, 3], 2);
    let lstm = LayerRef::new(layers::LSTM::new(3).stateful(true));
    let y = lstm.apply(&x).unwrap();
    let model = Model::new(&[&x], &[&y]).unwrap();
    let cpu = Device::Cpu;
    let tape = GradientTape::persistent();
    let x1 = Tensor::random_normal(&[2, 4, 3], 0.0, 1.0, 1, DType::F32, &cpu)
        .unwrap()
        .watched();
    let x2 = Tensor::random_normal(&[2, 4, 3], 0.0, 1.0, 2, DType::F32, &cpu)
        .unwrap()
        .watched();
    let y1 = Layer::call(&model, &x1, true).unwrap();
    let y2 = Layer::call(&model, &x2, true).unwrap();
    // The stored states are values, not graph nodes.
    for s in lstm.read().states() {
        assert!(s.value().node().is_none());
    }
    let loss2 = y2.square().unwrap().sum_all().unwrap();
    let g = tape.gradient(&loss2, &[&x1, &x2]).unwrap();
    assert!(
        g[0].is_none(),
        "the second batch's loss reached the first batch's input"
    );
    assert!(g[1].is_some());
    // The first batch's own loss still reaches its input.
    let loss1 = y1.square().unwrap().sum_all().unwrap();
    assert!(tape.gradient(&loss1, &[&x1]).unwrap()[0].is_some());
}

#[test]
fn reset_state_follows_keras_layer_by_layer() {
    let x = Tensor::ones(&[2, 4, 3], DType::F32, &Device::Cpu).unwrap();
    // A recurrent layer that is not stateful has nothing to reset (Keras: a no-op).
    let mut plain = layers::GRU::new(2);
    plain.build(&[None, Some(4), Some(3)]).unwrap();
    assert!(plain.states().is_empty());
    plain.reset_state().unwrap();
    // Bidirectional insists on stateful layers (Keras: "Layer must be stateful").
    let mut bi = layers::Bidirectional::new(layers::LSTM::new(2))
        .unwrap()
        .name("bi");
    bi.build(&[Some(2), Some(4), Some(3)]).unwrap();
    let e = bi.reset_state().unwrap_err().to_string();
    assert!(e.contains("\"bi\"") && e.contains("stateful"), "{e}");
    // Other layers have no reset_state (Keras: AttributeError), nor do models.
    let e = layers::Dense::new(2)
        .name("d")
        .reset_states()
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"d\"") && e.contains("reset_state"), "{e}");
    // A stateful Bidirectional carries forward then backward states, and resets both.
    let mut bi = layers::Bidirectional::new(layers::LSTM::new(2).stateful(true)).unwrap();
    bi.build(&[Some(2), Some(4), Some(3)]).unwrap();
    assert_eq!(bi.states().len(), 4);
    let first = bi.call(&x, false).unwrap().to_vec::<f32>().unwrap();
    assert_ne!(bi.call(&x, false).unwrap().to_vec::<f32>().unwrap(), first);
    bi.reset_states().unwrap();
    assert!(bi
        .states()
        .iter()
        .all(|s| s.value().to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0)));
    assert_eq!(bi.call(&x, false).unwrap().to_vec::<f32>().unwrap(), first);
}

#[test]
fn a_keras_rs_stateful_config_round_trips_with_its_batch_size() {
    let x = Input::with_batch_size(&[4, 3], 2);
    let y = layers::SimpleRNN::new(3)
        .stateful(true)
        .return_sequences(true)
        .apply(&x)
        .unwrap();
    let m = Model::new(&[&x], &[&y]).unwrap();
    let c = m.get_config();
    assert_eq!(c["layers"][0]["config"]["batch_shape"][0], Value::from(2));
    assert_eq!(c["layers"][1]["config"]["stateful"], Value::Bool(true));
    let back = Model::from_config(&c).unwrap();
    assert_eq!(back.layers()[0].read().states()[0].shape(), vec![2, 3]);
    assert_eq!(back.get_config(), c);
}

#[test]
fn a_fixed_batch_size_binds_only_stateful_layers() {
    // Keras's input specs leave the batch free: a convolution built for batch 2 takes 3.
    let x = Input::with_batch_size(&[6, 3], 2);
    let y = layers::Conv1D::new(4, 3).apply(&x).unwrap();
    let m = Model::new(&[&x], &[&y]).unwrap();
    let three = Tensor::ones(&[3, 6, 3], DType::F32, &Device::Cpu).unwrap();
    assert_eq!(Layer::call(&m, &three, false).unwrap().shape(), &[3, 4, 4]);
}
