//! `keras::applications` against Keras 3.
//!
//! `scripts/gen_applications_reference.py` built every application in Keras (weights=None)
//! and wrote `tests/data/applications.json`: the model name, total / trainable /
//! non-trainable parameter counts, output shape and every layer as `[name, class, params]` in
//! `model.layers` order. Each test builds the same model here and compares all of it; the
//! layer order is what a Keras `.weights.h5` file relies on.
//!
//! VGG16 and VGG19 with their 138M / 144M-parameter top are not built (creating 550 MB of
//! random weights would dominate the suite): their convolutional base is built and checked
//! layer by layer, and the top (`flatten`, `fc1`, `fc2`, `predictions`) is checked with the
//! full model's reference layers and counts; `vgg16_32_classes10` runs the `include_top`
//! path of the builder itself.
//!
//! `keras_weights_load_into_applications` (skipped with a printed reason unless
//! `KERAS_INTEROP_PYTHON` names a Python with keras and jax) has Keras save random weights of
//! MobileNetV2 (alpha 0.35, 96x96) and ResNet-20, loads them here through
//! `ApplicationArgs::weights`, and compares predictions.

use keras::applications::{self, ApplicationArgs, Pooling, Weights};
use keras::Model;
use keras_tensor::{DType, Device, Tensor};
use serde_json::Value;

const REF: &str = include_str!("data/applications.json");

fn reference(key: &str) -> Value {
    let all: Value = serde_json::from_str(REF).unwrap();
    all["models"][key].clone()
}

fn args(f: impl FnOnce(&mut ApplicationArgs)) -> ApplicationArgs {
    let mut a = ApplicationArgs::default();
    f(&mut a);
    a
}

/// `[name, class, params]` of every layer of `model`, as the reference lists them.
fn layers_of(model: &Model) -> Vec<Value> {
    model
        .layers()
        .iter()
        .map(|l| {
            let l = l.read();
            serde_json::json!([l.name(), l.class_name(), l.count_params()])
        })
        .collect()
}

fn count(vs: Vec<keras::Variable>) -> usize {
    vs.iter().map(|v| v.numel()).sum()
}

fn check(key: &str, model: &Model) {
    use keras::layers::Layer;
    let r = reference(key);
    let got = layers_of(model);
    let want = r["layers"].as_array().unwrap();
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{key}: layer {i}");
    }
    assert_eq!(got.len(), want.len(), "{key}: number of layers");
    assert_eq!(model.get_config()["name"], r["name"], "{key}: model name");
    assert_eq!(
        model.count_params() as u64,
        r["params"].as_u64().unwrap(),
        "{key}: params"
    );
    assert_eq!(
        count(model.trainable_weights()) as u64,
        r["trainable"].as_u64().unwrap(),
        "{key}: trainable params"
    );
    assert_eq!(
        count(model.non_trainable_weights()) as u64,
        r["non_trainable"].as_u64().unwrap(),
        "{key}: non-trainable params"
    );
    let shape: Vec<Value> = model.outputs()[0]
        .shape()
        .iter()
        .map(|d| d.map_or(Value::Null, |d| d.into()))
        .collect();
    assert_eq!(Value::from(shape), r["output_shape"], "{key}: output shape");
    println!(
        "{key}: {} params, {} layers as Keras",
        model.count_params(),
        got.len()
    );
}

#[test]
fn resnet50_matches_keras() {
    check(
        "resnet50",
        &applications::resnet50(ApplicationArgs::default()).unwrap(),
    );
    let m = applications::resnet50(args(|a| {
        a.include_top = false;
        a.pooling = Some(Pooling::Max);
    }))
    .unwrap();
    check("resnet50_notop_max", &m);
}

#[test]
fn resnet101_and_resnet152_match_keras() {
    check(
        "resnet101",
        &applications::resnet101(ApplicationArgs::default()).unwrap(),
    );
    check(
        "resnet152",
        &applications::resnet152(ApplicationArgs::default()).unwrap(),
    );
}

#[test]
fn resnet50_v2_matches_keras() {
    check(
        "resnet50v2",
        &applications::resnet50_v2(ApplicationArgs::default()).unwrap(),
    );
    let m = applications::resnet50_v2(args(|a| {
        a.include_top = false;
        a.pooling = Some(Pooling::Avg);
    }))
    .unwrap();
    check("resnet50v2_notop_avg", &m);
}

/// The full VGG's reference = its no-top reference + flatten, fc1, fc2, predictions.
fn check_vgg_top(full: &str, notop: &str) {
    let (f, b) = (reference(full), reference(notop));
    let (fl, bl) = (f["layers"].as_array().unwrap(), b["layers"].as_array().unwrap());
    assert_eq!(&fl[..bl.len()], &bl[..], "{full}: base layers");
    let top = |units_in: u64, units: u64| units_in * units + units;
    let expect = serde_json::json!([
        ["flatten", "Flatten", 0],
        ["fc1", "Dense", top(7 * 7 * 512, 4096)],
        ["fc2", "Dense", top(4096, 4096)],
        ["predictions", "Dense", top(4096, 1000)]
    ]);
    assert_eq!(Value::from(fl[bl.len()..].to_vec()), expect, "{full}: top layers");
    let top_params = top(7 * 7 * 512, 4096) + top(4096, 4096) + top(4096, 1000);
    assert_eq!(
        f["params"].as_u64().unwrap(),
        b["params"].as_u64().unwrap() + top_params,
        "{full}: params"
    );
}

#[test]
fn vgg16_and_vgg19_match_keras() {
    let no_top = || args(|a| a.include_top = false);
    check("vgg16_notop", &applications::vgg16(no_top()).unwrap());
    check("vgg19_notop", &applications::vgg19(no_top()).unwrap());
    check_vgg_top("vgg16", "vgg16_notop");
    check_vgg_top("vgg19", "vgg19_notop");
    assert_eq!(reference("vgg16")["params"], 138_357_544);
    let m = applications::vgg16(args(|a| {
        a.input_shape = Some([32, 32, 3]);
        a.classes = Some(10);
    }))
    .unwrap();
    check("vgg16_32_classes10", &m);
}

#[test]
fn mobilenet_v2_matches_keras() {
    check(
        "mobilenetv2",
        &applications::mobilenet_v2(ApplicationArgs::default()).unwrap(),
    );
    let m = applications::mobilenet_v2_alpha(0.35, args(|a| a.input_shape = Some([96, 96, 3]))).unwrap();
    check("mobilenetv2_035_96", &m);
    let m = applications::mobilenet_v2(args(|a| {
        a.include_top = false;
        a.pooling = Some(Pooling::Avg);
    }))
    .unwrap();
    check("mobilenetv2_notop_avg", &m);
}

#[test]
fn inception_v3_matches_keras() {
    check(
        "inceptionv3",
        &applications::inception_v3(ApplicationArgs::default()).unwrap(),
    );
    let m = applications::inception_v3(args(|a| {
        a.include_top = false;
        a.pooling = Some(Pooling::Avg);
    }))
    .unwrap();
    check("inceptionv3_notop_avg", &m);
}

#[test]
fn densenet121_matches_keras() {
    check(
        "densenet121",
        &applications::densenet121(ApplicationArgs::default()).unwrap(),
    );
    check(
        "densenet121_notop",
        &applications::densenet121(args(|a| a.include_top = false)).unwrap(),
    );
}

#[test]
fn efficientnet_b0_matches_keras() {
    check(
        "efficientnetb0",
        &applications::efficientnet_b0(ApplicationArgs::default()).unwrap(),
    );
    let m = applications::efficientnet_b0(args(|a| {
        a.include_top = false;
        a.pooling = Some(Pooling::Avg);
    }))
    .unwrap();
    check("efficientnetb0_notop_avg", &m);
}

#[test]
fn xception_matches_keras() {
    check(
        "xception",
        &applications::xception(ApplicationArgs::default()).unwrap(),
    );
    let m = applications::xception(args(|a| {
        a.include_top = false;
        a.pooling = Some(Pooling::Max);
    }))
    .unwrap();
    check("xception_notop_max", &m);
}

#[test]
fn cifar_resnets_match_the_keras_reference_and_run() {
    let m = applications::resnet20_cifar().unwrap();
    check("resnet20_cifar", &m);
    check("resnet56_cifar", &applications::resnet_cifar(56).unwrap());
    assert!(applications::resnet_cifar(21).is_err());
    use keras::layers::Layer;
    let x = Tensor::random_normal(&[2, 32, 32, 3], 0.0, 1.0, 1, DType::F32, &Device::Cpu).unwrap();
    let y = m.call(&x, false).unwrap();
    assert_eq!(y.shape(), &[2, 10]);
    let sums = y.sum(&[1], false).unwrap().to_vec::<f32>().unwrap();
    assert!(
        sums.iter().all(|s| (s - 1.0).abs() < 1e-5),
        "softmax rows: {sums:?}"
    );
}

#[test]
fn lookup_by_name_builds_the_same_models() {
    let m = applications::get("resnet20_cifar", ApplicationArgs::default()).unwrap();
    check("resnet20_cifar", &m);
    let m = applications::get("MobileNetV2", args(|a| a.input_shape = Some([96, 96, 3]))).unwrap();
    assert_eq!(m.get_config()["name"], "mobilenetv2_1.00_96");
    for name in applications::names() {
        assert!(applications::is_application(&name), "{name}");
    }
}

#[test]
fn saved_weights_load_back_through_the_weights_argument() {
    let m = applications::resnet20_cifar().unwrap();
    let dir = std::env::temp_dir().join(format!("keras-rs-apps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r20.weights.h5");
    m.save_weights(&path).unwrap();
    let again =
        applications::resnet_cifar_with(20, args(|a| a.weights = Weights::Path(path.clone()))).unwrap();
    for (a, b) in m.layers().iter().zip(again.layers()) {
        for (wa, wb) in a.read().weights().iter().zip(b.read().weights()) {
            assert_eq!(
                wa.value().to_vec::<f32>().unwrap(),
                wb.value().to_vec::<f32>().unwrap()
            );
        }
    }
    // A file for another architecture is refused.
    let e = applications::resnet_cifar_with(32, args(|a| a.weights = Weights::Path(path.clone())));
    assert!(e.is_err());
    std::fs::remove_dir_all(&dir).ok();
}

fn read_f32(st: &safetensors::SafeTensors, key: &str) -> Tensor {
    let t = st.tensor(key).unwrap();
    let v: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap()
}

#[test]
fn keras_weights_load_into_applications() {
    let Ok(python) = std::env::var("KERAS_INTEROP_PYTHON") else {
        println!(
            "SKIPPED: keras_weights_load_into_applications (set KERAS_INTEROP_PYTHON to a Python \
             with keras and jax)"
        );
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("keras-rs-apps-interop-{}", std::process::id()));
    let status = std::process::Command::new(&python)
        .arg(root.join("scripts/gen_applications_reference.py"))
        .arg("--weights-out")
        .arg(&dir)
        .env("KERAS_BACKEND", "jax")
        .status()
        .expect("run the reference script");
    assert!(
        status.success(),
        "gen_applications_reference.py --weights-out failed"
    );
    for key in ["mobilenetv2_035_96", "resnet20_cifar"] {
        let weights = Weights::Path(dir.join(format!("{key}.weights.h5")));
        let model = match key {
            "resnet20_cifar" => applications::resnet_cifar_with(20, args(|a| a.weights = weights)),
            _ => applications::mobilenet_v2_alpha(
                0.35,
                args(|a| {
                    a.input_shape = Some([96, 96, 3]);
                    a.weights = weights;
                }),
            ),
        }
        .unwrap();
        let raw = std::fs::read(dir.join(format!("{key}.safetensors"))).unwrap();
        let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
        use keras::layers::Layer;
        let y = model.call(&read_f32(&st, "x"), false).unwrap();
        let want = read_f32(&st, "y");
        let (a, b) = (y.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
        let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        let den: f64 = b.iter().map(|y| y * y).sum();
        let e = (num / den).sqrt();
        println!("{key}: Keras's weights, relative error of predictions {e:.2e}");
        assert!(e < 1e-4, "{key}: relative error {e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
