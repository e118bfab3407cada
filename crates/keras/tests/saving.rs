//! `.keras` files both ways with real Keras 3.
//!
//! * Keras → keras-rs: `scripts/gen_saving_reference.py` made Keras save five models with
//!   inputs and Keras's predictions (`tests/data/saving/`); keras-rs loads each and predicts
//!   the same, and continues Adam training exactly where Keras stopped.
//! * keras-rs → Keras: `keras_loads_models_saved_by_keras_rs` saves models with inputs and
//!   keras-rs's predictions, then runs `scripts/check_keras_loads.py` with the Python named by
//!   `KERAS_INTEROP_PYTHON` (a Python with `keras` and `jax`; `.ci/run` installs one); without
//!   it the check prints `SKIPPED`.

use std::path::{Path, PathBuf};

use keras::layers::{BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D};
use keras::saving::{self, LoadedModel};
use keras::{losses, optimizers, Apply, FitArgs, Input, Model, Sequential, Trainer};
use keras_tensor::{DType, Device, Tensor};
use safetensors::SafeTensors;

const REF: &[u8] = include_bytes!("data/saving/reference.safetensors");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/saving")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keras-rs-saving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn tensor(st: &SafeTensors, key: &str) -> Tensor {
    let t = st.tensor(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    let cpu = Device::Cpu;
    match t.dtype() {
        safetensors::Dtype::F32 => {
            let v: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Tensor::from_vec(v, t.shape(), &cpu).unwrap()
        }
        safetensors::Dtype::I32 => {
            let v: Vec<i32> = t
                .data()
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Tensor::from_vec(v, t.shape(), &cpu).unwrap()
        }
        other => panic!("{key}: unexpected dtype {other:?}"),
    }
}

/// ‖a − b‖ / ‖b‖.
fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den.max(1e-30)).sqrt()
}

fn check_predictions(name: &str, model: &mut LoadedModel, n_in: usize, n_out: usize) {
    let st = SafeTensors::deserialize(REF).unwrap();
    let xs: Vec<Tensor> = (0..n_in).map(|i| tensor(&st, &format!("{name}/x{i}"))).collect();
    let ys = model.predict_multi(xs, 32).unwrap();
    assert_eq!(ys.len(), n_out);
    for (i, y) in ys.iter().enumerate() {
        let want = tensor(&st, &format!("{name}/y{i}"));
        let e = rel_err(y, &want);
        println!("{name} output {i}: relative error {e:.2e}");
        assert!(e < 1e-5, "{name} output {i}: relative error {e}");
    }
}

#[test]
fn loads_a_keras_sequential_cnn_with_batch_norm_and_dropout() {
    let mut m = saving::load_model(data("seq_cnn.keras")).unwrap();
    assert!(matches!(m, LoadedModel::Sequential(_)));
    assert_eq!(m.name(), "seq_cnn");
    check_predictions("seq_cnn", &mut m, 1, 1);
    // The compile state came back too.
    let c = m.compiled_slot().as_ref().expect("compiled");
    assert_eq!(c.optimizer_ref().class_name(), "Adam");
    assert!(c.optimizer_ref().iterations() > 0);
}

#[test]
fn loads_a_keras_functional_model_with_two_inputs_two_outputs_a_shared_layer_and_a_skip() {
    let mut m = saving::load_model(data("functional.keras")).unwrap();
    assert!(matches!(m, LoadedModel::Functional(_)));
    check_predictions("functional", &mut m, 2, 2);
    let cc = m.compiled_slot().as_ref().unwrap().compile_config();
    assert_eq!(cc["optimizer"]["class_name"], "SGD");
    assert_eq!(cc["loss_weights"], serde_json::json!([1.0, 0.5]));
}

#[test]
fn loads_a_keras_embedding_lstm_text_model() {
    let mut m = saving::load_model(data("lstm_text.keras")).unwrap();
    check_predictions("lstm_text", &mut m, 1, 1);
    let c = m.compiled_slot().as_ref().unwrap();
    assert_eq!(c.optimizer_ref().class_name(), "RMSprop");
}

#[test]
fn loads_a_keras_gru_and_simple_rnn_text_model() {
    let mut m = saving::load_model(data("rnn_text.keras")).unwrap();
    check_predictions("rnn_text", &mut m, 1, 1);
    let c = m.compiled_slot().as_ref().unwrap();
    assert_eq!(c.optimizer_ref().class_name(), "Adam");
}

#[test]
fn adam_state_from_keras_continues_training_exactly() {
    let st = SafeTensors::deserialize(REF).unwrap();
    let mut m = saving::load_model(data("adam_midtrain.keras")).unwrap();
    check_predictions("adam_midtrain", &mut m, 1, 1);
    let (x, y) = (
        tensor(&st, "adam_midtrain/train_x"),
        tensor(&st, "adam_midtrain/train_y"),
    );
    m.train_on_batch(&x, &y).unwrap();
    for (i, w) in m.variables().iter().enumerate() {
        let want = tensor(&st, &format!("adam_midtrain/after/{i}"));
        let e = rel_err(&w.value(), &want);
        println!("adam_midtrain weight {i} after one more step: relative error {e:.2e}");
        assert!(e < 1e-5, "weight {i}: {e}");
    }
}

fn cnn() -> Sequential {
    cnn_with(true)
}

/// The test CNN; without dropout its training draws no random numbers, so two copies train
/// identically whatever other tests draw meanwhile.
fn cnn_with(dropout: bool) -> Sequential {
    let mut layers: Vec<Box<dyn keras::layers::Layer>> = vec![
        Box::new(
            Conv2D::new(4, 3)
                .padding("same")
                .unwrap()
                .activation("relu")
                .unwrap(),
        ),
        Box::new(BatchNormalization::new()),
        Box::new(MaxPooling2D::new(2)),
        Box::new(Flatten::new()),
    ];
    if dropout {
        layers.push(Box::new(Dropout::new(0.3).unwrap()));
    }
    layers.push(Box::new(Dense::new(3).activation("softmax").unwrap()));
    Sequential::new(layers).input_shape(&[8, 8, 2])
}

/// The test CNN compiled with Adam and sparse categorical cross-entropy (and accuracy).
fn compiled_cnn(dropout: bool, accuracy: bool) -> Sequential {
    let mut m = cnn_with(dropout);
    let metrics: &[&str] = if accuracy { &["accuracy"] } else { &[] };
    m.compile(
        optimizers::get("adam").unwrap(),
        losses::get("sparse_categorical_crossentropy").unwrap(),
        metrics,
    )
    .unwrap();
    m
}

/// Training arguments without output.
fn quiet(epochs: usize, batch_size: usize) -> FitArgs {
    FitArgs {
        epochs,
        batch_size,
        verbose: 0,
        ..Default::default()
    }
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::random_normal(shape, 0.0, 1.0, seed, DType::F32, &Device::Cpu).unwrap()
}

fn labels(n: usize, seed: u64) -> Tensor {
    Tensor::random_uniform(&[n], 0.0, 3.0, seed, DType::F32, &Device::Cpu)
        .unwrap()
        .floor()
        .unwrap()
}

#[test]
fn a_saved_model_loads_with_its_weights_compile_state_and_optimizer_and_trains_on_identically() {
    let (x, y) = (randn(&[16, 8, 8, 2], 1), labels(16, 2));
    let mut m = compiled_cnn(false, true);
    let quiet = FitArgs {
        epochs: 1,
        batch_size: 8,
        verbose: 0,
        shuffle: false,
        ..Default::default()
    };
    m.fit(&x, &y, quiet.clone()).unwrap();
    let path = tmp("cnn.keras");
    m.save(&path).unwrap();
    let mut back = saving::load_model(&path).unwrap();
    let (a, b) = (m.predict(&x, 8).unwrap(), back.predict(&x, 8).unwrap());
    assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    // Both continue from the same optimizer state: one more epoch gives the same weights.
    m.fit(&x, &y, quiet.clone()).unwrap();
    back.fit(&x, &y, quiet).unwrap();
    for (u, v) in Trainer::variables(&m).iter().zip(back.variables()) {
        assert_eq!(
            u.value().to_vec::<f32>().unwrap(),
            v.value().to_vec::<f32>().unwrap(),
            "{}",
            u.name()
        );
    }
    // Weights alone, into a fresh model of the same architecture.
    let wpath = tmp("cnn.weights.h5");
    m.save_weights(&wpath).unwrap();
    let mut fresh = cnn_with(false);
    fresh
        .compile(
            optimizers::get("adam").unwrap(),
            losses::get("sparse_categorical_crossentropy").unwrap(),
            &[],
        )
        .unwrap();
    fresh.load_weights(&wpath).unwrap();
    assert_eq!(
        m.predict(&x, 8).unwrap().to_vec::<f32>().unwrap(),
        fresh.predict(&x, 8).unwrap().to_vec::<f32>().unwrap()
    );
}

#[test]
fn mismatched_and_corrupt_files_are_errors_that_say_what_is_wrong() {
    let m = cnn();
    m.build_for(&[None, Some(8), Some(8), Some(2)]).unwrap();
    let path = tmp("small.keras");
    m.save(&path).unwrap();
    // Wrong architecture for the weights: the layer and both shapes are named.
    let wpath = tmp("small.weights.h5");
    m.save_weights(&wpath).unwrap();
    let mut other = Sequential::new(vec![
        Box::new(Conv2D::new(5, 3).padding("same").unwrap()),
        Box::new(BatchNormalization::new()),
        Box::new(MaxPooling2D::new(2)),
        Box::new(Flatten::new()),
        Box::new(Dropout::new(0.3).unwrap()),
        Box::new(Dense::new(3)),
    ])
    .input_shape(&[8, 8, 2]);
    Sequential::build_for(&other, &[None, Some(8), Some(8), Some(2)]).unwrap();
    let before = Trainer::variables(&other)[0].value().to_vec::<f32>().unwrap();
    let e = other.load_weights(&wpath).unwrap_err().to_string();
    assert!(e.contains("[3, 3, 2, 5]") && e.contains("[3, 3, 2, 4]"), "{e}");
    // Nothing was assigned.
    assert_eq!(
        Trainer::variables(&other)[0].value().to_vec::<f32>().unwrap(),
        before
    );
    // Wrong suffixes.
    assert!(m.save(tmp("x.h5")).unwrap_err().to_string().contains(".keras"));
    assert!(m
        .save_weights(tmp("x.h5"))
        .unwrap_err()
        .to_string()
        .contains(".weights.h5"));
    // Truncations, flipped bytes and junk: errors, never panics or wrong models.
    let bytes = std::fs::read(&path).unwrap();
    let bad = tmp("bad.keras");
    for cut in [0, 10, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let e = saving::load_model(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.keras"), "{e}");
    }
    for i in (0..bytes.len()).step_by(97) {
        let mut b = bytes.clone();
        b[i] ^= 0x5A;
        std::fs::write(&bad, &b).unwrap();
        let _ = saving::load_model(&bad); // an error or a model; must not panic
    }
    let e = saving::load_model(tmp("missing.keras")).unwrap_err().to_string();
    assert!(e.contains("missing.keras"), "{e}");
}

#[test]
fn a_save_killed_midway_leaves_the_previous_file_intact() {
    // The child process saves a large model over and over; it is killed at a random moment.
    if let Ok(path) = std::env::var("KERAS_RS_SAVE_LOOP") {
        let m = Sequential::new(vec![Box::new(Dense::new(2048)), Box::new(Dense::new(2048))])
            .input_shape(&[1024]);
        m.build_for(&[None, Some(1024)]).unwrap();
        loop {
            m.save(&path).unwrap();
        }
    }
    let path = tmp("killed.keras");
    let small = cnn();
    small.build_for(&[None, Some(8), Some(8), Some(2)]).unwrap();
    small.save(&path).unwrap();
    let mut loaded_big = 0;
    for round in 0..6u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_save_killed_midway_leaves_the_previous_file_intact",
                "--nocapture",
            ])
            .env("KERAS_RS_SAVE_LOOP", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(400 + 137 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever moment the kill hit, the file is a whole model: the old one or a new one.
        let m = saving::load_model(&path).unwrap();
        if m.variables().len() == 4 && m.variables()[0].shape() == [1024, 2048] {
            loaded_big += 1;
        }
    }
    println!("{loaded_big} of 6 kills left a completed new save, the others the previous file");
}

/// Saves models for Keras to load; runs the Keras check when a Python with Keras is given.
#[test]
fn keras_loads_models_saved_by_keras_rs() {
    let dir = tmp("for-keras");
    std::fs::create_dir_all(&dir).unwrap();
    let write_case = |name: &str, model: &mut dyn FnMut() -> (Vec<Tensor>, Vec<Tensor>)| {
        let (xs, ys) = model();
        let mut m = std::collections::BTreeMap::new();
        for (i, x) in xs.iter().enumerate() {
            m.insert(format!("x{i}"), x.clone());
        }
        for (i, y) in ys.iter().enumerate() {
            m.insert(format!("y{i}"), y.clone());
        }
        write_safetensors(&dir.join(format!("{name}.safetensors")), &m);
    };
    // A trained CNN with BatchNormalization and Dropout.
    write_case("cnn", &mut || {
        let (x, y) = (randn(&[16, 8, 8, 2], 3), labels(16, 4));
        let mut m = compiled_cnn(true, true);
        m.fit(&x, &y, quiet(2, 8)).unwrap();
        m.save(dir.join("cnn.keras")).unwrap();
        (vec![x.clone()], vec![m.predict(&x, 8).unwrap()])
    });
    // A functional model: two inputs, two outputs, a shared layer, a skip connection.
    write_case("functional", &mut || {
        let (a, b) = (Input::named(&[6], "a"), Input::named(&[6], "b"));
        let shared = keras::LayerRef::new(Dense::new(8).activation("tanh").unwrap().name("shared"));
        let (ha, hb) = (shared.apply(&a).unwrap(), shared.apply(&b).unwrap());
        let h = keras::layers::Concatenate::new().apply_list(&[&ha, &hb]).unwrap();
        let h = Dense::new(8).activation("relu").unwrap().apply(&h).unwrap();
        let skip = keras::layers::Add::new().apply_list(&[&h, &ha]).unwrap();
        let cls = Dense::new(3)
            .activation("softmax")
            .unwrap()
            .name("cls")
            .apply(&skip)
            .unwrap();
        let reg = Dense::new(1).name("reg").apply(&skip).unwrap();
        let mut m = Model::new(&[&a, &b], &[&cls, &reg]).unwrap();
        m.compile_with(keras::trainers::CompileArgs {
            optimizer: optimizers::get("sgd").unwrap(),
            loss: vec![
                losses::get("sparse_categorical_crossentropy").unwrap(),
                losses::get("mse").unwrap(),
            ],
            loss_weights: Some(vec![1.0, 0.5]),
            metrics: vec![],
        })
        .unwrap();
        let (xa, xb) = (randn(&[5, 6], 5), randn(&[5, 6], 6));
        m.save(dir.join("functional.keras")).unwrap();
        let ys = m.predict_multi([&xa, &xb], 8).unwrap();
        (vec![xa, xb], ys)
    });
    // Models nested as layers (as the resnet20_cifar example nests the CIFAR ResNet): a
    // Sequential holding an adapted Normalization, a functional model with a skip connection
    // and another Sequential.
    write_case("nested", &mut || {
        let x = randn(&[12, 6], 15);
        let mut norm = keras::layers::Normalization::new();
        norm.adapt(&x).unwrap();
        let i = Input::new(&[6]);
        let h = Dense::new(6).activation("relu").unwrap().apply(&i).unwrap();
        let o = keras::layers::Add::new().apply_list(&[&h, &i]).unwrap();
        let inner = Model::new(&[&i], &[&o]).unwrap();
        let head = Sequential::new(vec![Box::new(Dense::new(3).activation("softmax").unwrap())]);
        let mut m = Sequential::new(vec![Box::new(norm), Box::new(inner), Box::new(head)]).input_shape(&[6]);
        m.compile(
            optimizers::get("adam").unwrap(),
            losses::get("sparse_categorical_crossentropy").unwrap(),
            &["accuracy"],
        )
        .unwrap();
        m.fit(&x, labels(12, 3), quiet(2, 4)).unwrap();
        m.save(dir.join("nested.keras")).unwrap();
        let y = m.predict(&x, 8).unwrap();
        // keras-rs reads it back as it wrote it, nesting and Normalization statistics included.
        let mut back = saving::load_model(dir.join("nested.keras")).unwrap();
        let again = back.predict_multi(vec![x.clone()], 8).unwrap();
        assert_eq!(again[0].to_vec::<f32>().unwrap(), y.to_vec::<f32>().unwrap());
        let mut zip = zip::ZipArchive::new(std::fs::File::open(dir.join("nested.keras")).unwrap()).unwrap();
        let config: serde_json::Value = serde_json::from_reader(zip.by_name("config.json").unwrap()).unwrap();
        let inner = &config["config"]["layers"][2];
        assert_eq!(inner["class_name"], "Functional");
        assert_eq!(inner["module"], "keras.src.models.functional");
        assert_eq!(config["config"]["layers"][3]["module"], "keras");
        (vec![x.clone()], vec![y])
    });
    // A text model: Embedding, a sequence-returning LSTM read backwards, an LSTM, Dense.
    write_case("lstm_text", &mut || {
        let mut m = Sequential::new(vec![
            Box::new(keras::layers::Embedding::new(30, 6).unwrap()),
            Box::new(
                keras::layers::LSTM::new(5)
                    .return_sequences(true)
                    .go_backwards(true),
            ),
            Box::new(keras::layers::LSTM::new(4)),
            Box::new(Dense::new(1).activation("sigmoid").unwrap()),
        ])
        .input_shape(&[7]);
        m.compile(
            optimizers::get("rmsprop").unwrap(),
            losses::get("binary_crossentropy").unwrap(),
            &["accuracy"],
        )
        .unwrap();
        let x = Tensor::random_uniform(&[6, 7], 0.0, 30.0, 9, DType::F32, &Device::Cpu)
            .unwrap()
            .floor()
            .unwrap();
        let y = Tensor::random_uniform(&[6, 1], 0.0, 2.0, 10, DType::F32, &Device::Cpu)
            .unwrap()
            .floor()
            .unwrap();
        m.fit(&x, &y, quiet(1, 3)).unwrap();
        m.save(dir.join("lstm_text.keras")).unwrap();
        (vec![x.clone()], vec![m.predict(&x, 8).unwrap()])
    });
    // GRU (both bias layouts) and SimpleRNN.
    write_case("rnn_text", &mut || {
        let mut m = Sequential::new(vec![
            Box::new(keras::layers::Embedding::new(30, 6).unwrap()),
            Box::new(
                keras::layers::GRU::new(5)
                    .return_sequences(true)
                    .go_backwards(true),
            ),
            Box::new(
                keras::layers::GRU::new(4)
                    .reset_after(false)
                    .return_sequences(true),
            ),
            Box::new(keras::layers::SimpleRNN::new(3)),
            Box::new(Dense::new(1).activation("sigmoid").unwrap()),
        ])
        .input_shape(&[7]);
        m.compile(
            optimizers::get("adam").unwrap(),
            losses::get("binary_crossentropy").unwrap(),
            &["accuracy"],
        )
        .unwrap();
        let x = Tensor::random_uniform(&[6, 7], 0.0, 30.0, 11, DType::F32, &Device::Cpu)
            .unwrap()
            .floor()
            .unwrap();
        let y = Tensor::random_uniform(&[6, 1], 0.0, 2.0, 12, DType::F32, &Device::Cpu)
            .unwrap()
            .floor()
            .unwrap();
        m.fit(&x, &y, quiet(1, 3)).unwrap();
        m.save(dir.join("rnn_text.keras")).unwrap();
        (vec![x.clone()], vec![m.predict(&x, 8).unwrap()])
    });
    // Stateful LSTM and Bidirectional GRU with a fixed batch size, trained on consecutive
    // batches; the states are not saved (as in Keras), so the predictions compared start
    // from zeros.
    write_case("stateful_rnn", &mut || {
        let mut m = Sequential::new(vec![
            Box::new(keras::layers::LSTM::new(4).stateful(true).return_sequences(true)),
            Box::new(keras::layers::Bidirectional::new(keras::layers::GRU::new(3).stateful(true)).unwrap()),
            Box::new(Dense::new(1)),
        ])
        .input_shape(&[5, 2])
        .batch_size(3);
        m.compile(optimizers::get("adam").unwrap(), losses::get("mse").unwrap(), &[])
            .unwrap();
        let (x, y) = (randn(&[6, 5, 2], 13), randn(&[6, 1], 14));
        let args = FitArgs {
            shuffle: false,
            ..quiet(1, 3)
        };
        m.fit(&x, &y, args).unwrap();
        m.save(dir.join("stateful_rnn.keras")).unwrap();
        let x = x.narrow(0, 0, 3).unwrap().contiguous().unwrap();
        for l in &m.layers()[..2] {
            l.read().reset_state().unwrap();
        }
        (vec![x.clone()], vec![m.predict(&x, 3).unwrap()])
    });
    // Causal, gated self-attention: `use_causal_mask` is a Keras call argument, saved in the
    // node's kwargs; the gate's weights go under `_gate_dense` as in Keras.
    write_case("mha_causal", &mut || {
        let x = Input::named(&[6, 4], "tokens");
        let mha = keras::layers::MultiHeadAttention::new(2, 3)
            .use_causal_mask(true)
            .use_gate(true)
            .name("self_attention");
        let h = mha.apply_list(&[&x, &x]).unwrap();
        let y = Dense::new(2).name("head").apply(&h).unwrap();
        let mut m = Model::new(&[&x], &[&y]).unwrap();
        let xs = randn(&[3, 6, 4], 13);
        m.save(dir.join("mha_causal.keras")).unwrap();
        let c = m.get_config();
        let node = &c["layers"][1]["inbound_nodes"][0];
        assert_eq!(
            node["kwargs"],
            serde_json::json!({"use_causal_mask": true}),
            "{node}"
        );
        (vec![xs.clone()], vec![m.predict(&xs, 8).unwrap()])
    });
    // Rank-4 inputs attending over axis 2 only, with the attention weights as a second output
    // (`return_attention_scores` in the node's kwargs).
    write_case("mha_axes_scores", &mut || {
        let (q, v) = (Input::named(&[3, 5, 4], "q"), Input::named(&[3, 2, 6], "v"));
        let mha = keras::LayerRef::new(
            keras::layers::MultiHeadAttention::new(2, 3)
                .attention_axes(&[2])
                .return_attention_scores(true),
        );
        let outs = mha.apply_outputs(&[&q, &v]).unwrap();
        let mut m = Model::new(&[&q, &v], &[&outs[0], &outs[1]]).unwrap();
        let (xq, xv) = (randn(&[2, 3, 5, 4], 14), randn(&[2, 3, 2, 6], 15));
        m.save(dir.join("mha_axes_scores.keras")).unwrap();
        let ys = m.predict_multi([&xq, &xv], 8).unwrap();
        (vec![xq, xv], ys)
    });
    let Ok(python) = std::env::var("KERAS_INTEROP_PYTHON") else {
        println!("SKIPPED: keras_loads_models_saved_by_keras_rs (set KERAS_INTEROP_PYTHON to a Python with keras and jax)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_keras_loads.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .env(
            "KERAS_BACKEND",
            std::env::var("KERAS_BACKEND").unwrap_or_else(|_| "jax".into()),
        )
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "Keras could not load keras-rs's files:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        [
            "cnn",
            "functional",
            "rnn_text",
            "stateful_rnn",
            "mha_causal",
            "mha_axes_scores"
        ]
        .iter()
        .all(|n| stdout.contains(&format!("{n}: ok"))),
        "{stdout}"
    );
    println!("real-keras test ran: keras_loads_models_saved_by_keras_rs");
}

fn write_safetensors(path: &Path, tensors: &std::collections::BTreeMap<String, Tensor>) {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, t)| {
            let b = t
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            (k.clone(), t.shape().to_vec(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn model_checkpoint_saves_the_best_model_atomically_and_it_loads() {
    use keras::callbacks::{shared, ModelCheckpoint};
    let (x, y) = (randn(&[32, 8, 8, 2], 7), labels(32, 8));
    let mut m = compiled_cnn(true, true);
    let dir = tmp("ckpt");
    std::fs::create_dir_all(&dir).unwrap();
    let every = shared(ModelCheckpoint::new(dir.join("m-{epoch:02d}.keras").to_string_lossy()).unwrap());
    let best = shared(
        ModelCheckpoint::new(dir.join("best.weights.h5").to_string_lossy())
            .unwrap()
            .save_weights_only(true)
            .save_best_only(true)
            .monitor("val_loss"),
    );
    m.fit(
        &x,
        &y,
        FitArgs {
            epochs: 3,
            batch_size: 8,
            verbose: 0,
            validation_split: 0.25,
            callbacks: vec![every.clone(), best.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    let saved = every.lock().unwrap().saved_paths().to_vec();
    assert_eq!(saved.len(), 3);
    assert!(saved[2].ends_with("m-03.keras"), "{saved:?}");
    // The last checkpoint is the trained model, optimizer included.
    let mut last = saving::load_model(&saved[2]).unwrap();
    assert_eq!(
        last.predict(&x, 8).unwrap().to_vec::<f32>().unwrap(),
        m.predict(&x, 8).unwrap().to_vec::<f32>().unwrap()
    );
    assert_eq!(
        last.compiled_slot()
            .as_ref()
            .unwrap()
            .optimizer_ref()
            .iterations(),
        9
    );
    assert!(!best.lock().unwrap().saved_paths().is_empty());
    let mut fresh = cnn();
    Sequential::build_for(&fresh, &[None, Some(8), Some(8), Some(2)]).unwrap();
    fresh.load_weights(dir.join("best.weights.h5")).unwrap();
    // Bad suffixes are refused up front, as in Keras 3.
    assert!(ModelCheckpoint::new("m.h5").is_err());
}

#[test]
fn summaries_of_loaded_models_match_what_keras_prints() {
    for name in ["seq_cnn", "functional", "lstm_text", "rnn_text", "adam_midtrain"] {
        let m = saving::load_model(data(&format!("{name}.keras"))).unwrap();
        let want = std::fs::read_to_string(data(&format!("{name}.summary.txt"))).unwrap();
        let got = m.summary().unwrap();
        assert_eq!(got.trim_end(), want.trim_end(), "{name}:\n{got}\nKeras:\n{want}");
    }
}

#[test]
fn safetensors_export_holds_every_weight_by_layer_name() {
    let m = cnn();
    m.build_for(&[None, Some(8), Some(8), Some(2)]).unwrap();
    let path = tmp("cnn.safetensors");
    m.export_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let layers: Vec<String> = m.layers().iter().map(|l| l.name()).collect();
    let (conv, bn, dense) = (&layers[0], &layers[1], &layers[5]);
    let mut want: Vec<String> = [
        format!("{conv}/kernel"),
        format!("{conv}/bias"),
        format!("{bn}/gamma"),
        format!("{bn}/beta"),
        format!("{bn}/moving_mean"),
        format!("{bn}/moving_variance"),
        format!("{dense}/kernel"),
        format!("{dense}/bias"),
    ]
    .to_vec();
    want.sort();
    assert_eq!(names, want);
    let k = tensor(&st, &format!("{dense}/kernel"));
    let v = m.layers()[5].read().weights()[0].value();
    assert_eq!(k.to_vec::<f32>().unwrap(), v.to_vec::<f32>().unwrap());
}

#[test]
fn a_file_naming_an_unknown_class_is_refused_by_name() {
    // Rewrite config.json of a Keras-saved file with a class keras-rs does not have.
    let bytes = std::fs::read(data("seq_cnn.keras")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().to_string();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut content).unwrap();
        if name == "config.json" {
            content = String::from_utf8(content)
                .unwrap()
                .replace("\"Dropout\"", "\"EvilLayer\"")
                .into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut out, &content).unwrap();
    }
    let patched = out.finish().unwrap().into_inner();
    let e = saving::load_model_from_bytes(&patched, "patched.keras")
        .unwrap_err()
        .to_string();
    assert!(e.contains("EvilLayer") && e.contains("patched.keras"), "{e}");
}
