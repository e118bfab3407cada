//! The `keras-rs` binary end to end: every subcommand on real `.keras` files, the error paths
//! a user meets, and (when the MNIST files are in `$KERAS_HOME/datasets`) a run on MNIST.
//!
//! Reference values come from Keras 3.15 (JAX backend):
//! * `crates/keras/tests/data/saving/seq_cnn.keras` and `reference.safetensors` (its inputs
//!   `seq_cnn/x0` and Keras's outputs `seq_cnn/y0`) were written by
//!   `scripts/gen_saving_reference.py`;
//! * `tests/data/tiny_cnn_config.json` and `tests/data/mnist_mlp_config.json` are the
//!   `config.json` of `.keras` files Keras saved for
//!   ```python
//!   keras.Sequential([keras.Input((10, 10, 3)), layers.Conv2D(4, 3, activation="relu"),
//!       layers.GlobalAveragePooling2D(), layers.Dense(5, activation="softmax")], name="tiny_cnn")
//!   m = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
//!       layers.Dense(32, activation="relu"), layers.Dense(10, activation="softmax")], name="mnist_mlp")
//!   m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
//!             metrics=["accuracy"])
//!   ```
//!   (the first saved uncompiled: its `compile_config` is `{}`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use keras_datasets::npy::{load_npy, save_npy};
use keras_tensor::{Device, Tensor};
use safetensors::SafeTensors;

/// What a run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Exit status 1 with an `error: ` line that contains every one of `parts`, and no panic.
    fn fails_with(self, parts: &[&str]) -> Run {
        assert_eq!(self.code, 1, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.stderr.contains("error: "), "{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        for p in parts {
            assert!(self.stderr.contains(p), "expected {p:?} in:\n{}", self.stderr);
        }
        self
    }
}

fn keras_rs_in<I, S>(keras_home: Option<&Path>, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keras-rs"));
    cmd.args(args).env("KERAS_OFFLINE", "1");
    if let Some(home) = keras_home {
        cmd.env("KERAS_HOME", home);
    }
    let out = cmd.output().expect("run keras-rs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn keras_rs<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    keras_rs_in(None, args)
}

/// A file of `crates/keras/tests/data/saving`.
fn saving(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keras/tests/data/saving")
        .join(name)
}

/// A file of this crate's `tests/data`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn reference(key: &str) -> Tensor {
    let bytes = std::fs::read(saving("reference.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor(key).unwrap();
    assert_eq!(t.dtype(), safetensors::Dtype::F32, "{key}");
    let v: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap()
}

/// A 10x10 RGB PNG of pseudo-random pixels.
fn write_png(path: &Path, seed: u32) {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(10, 10, |_, _| {
        let mut px = [0u8; 3];
        for p in &mut px {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *p = (state >> 24) as u8;
        }
        image::Rgb(px)
    });
    img.save(path).unwrap();
}

/// `root/0 … root/{classes-1}`, each with `per_class` PNGs.
fn image_folder(root: &Path, classes: usize, per_class: usize) -> PathBuf {
    for c in 0..classes {
        let d = root.join(c.to_string());
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..per_class {
            write_png(&d.join(format!("{i}.png")), (c * 100 + i) as u32);
        }
    }
    root.to_path_buf()
}

/// The value of a `name: value` line.
fn metric(stdout: &str, name: &str) -> f64 {
    let prefix = format!("{name}: ");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name:?} line in:\n{stdout}"));
    line[prefix.len()..].trim().parse().unwrap()
}

#[test]
fn summary_prints_the_layer_table_with_keras_total() {
    let r = keras_rs(["summary".as_ref(), saving("seq_cnn.keras").as_os_str()]).ok();
    // Exactly what Keras prints for the loaded model (scripts/gen_saving_reference.py), with
    // the optimizer's 1,908 Adam variables in the total.
    let want = std::fs::read_to_string(saving("seq_cnn.summary.txt")).unwrap();
    assert_eq!(r.stdout.trim_end(), want.trim_end());
    // A config is built with fresh weights; Keras counts 137 parameters for it.
    let r = keras_rs(["summary".as_ref(), fixture("tiny_cnn_config.json").as_os_str()]).ok();
    assert!(
        r.stdout.contains("Model: \"tiny_cnn\"") && r.stdout.contains("Total params: 137"),
        "{}",
        r.stdout
    );
}

#[test]
fn summary_builds_applications_by_name() {
    // Keras: keras.applications.ResNet50(weights=None).count_params() == 25,636,712 and
    // ResNet-20 for CIFAR (scripts/gen_applications_reference.py) has 274,826.
    let r = keras_rs(["summary", "ResNet50"]).ok();
    assert!(
        r.stdout.contains("Model: \"resnet50\"")
            && r.stdout.contains("conv2_block1_1_conv")
            && r.stdout.contains("Total params: 25,636,712"),
        "{}",
        r.stdout
    );
    let r = keras_rs(["summary", "resnet20_cifar"]).ok();
    assert!(r.stdout.contains("Total params: 274,826"), "{}", r.stdout);
    keras_rs(["summary", "ResNet51"]).fails_with(&["ResNet51", "ResNet50", "MobileNetV2"]);
}

#[test]
fn predict_on_npy_matches_keras() {
    let tmp = tempfile::tempdir().unwrap();
    let (x_path, out) = (tmp.path().join("x0.npy"), tmp.path().join("y.npy"));
    save_npy(&x_path, &reference("seq_cnn/x0")).unwrap();
    let r = keras_rs([
        "predict".as_ref(),
        saving("seq_cnn.keras").as_os_str(),
        x_path.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    assert!(r.stdout.contains("(4, 5)"), "{}", r.stdout);
    let got = load_npy(&out).unwrap();
    let want = reference("seq_cnn/y0");
    assert_eq!(got.shape(), want.shape());
    let (g, w) = (got.to_vec::<f32>().unwrap(), want.to_vec::<f32>().unwrap());
    let num: f64 = g.iter().zip(&w).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
    let den: f64 = w.iter().map(|b| (*b as f64).powi(2)).sum();
    let rel = (num / den).sqrt();
    println!("predict vs Keras: relative error {rel:.2e}");
    assert!(rel < 1e-5, "relative error {rel}");

    // Without --output there is nowhere to put the outputs.
    keras_rs([
        "predict".as_ref(),
        saving("seq_cnn.keras").as_os_str(),
        x_path.as_os_str(),
    ])
    .fails_with(&["--output"]);
    // A single sample without its batch axis is accepted; a wrong shape is named.
    let one = tmp.path().join("one.npy");
    save_npy(
        &one,
        &reference("seq_cnn/x0")
            .narrow(0, 0, 1)
            .unwrap()
            .squeeze(&[0])
            .unwrap(),
    )
    .unwrap();
    let args = |x: &Path| {
        vec![
            "predict".into(),
            saving("seq_cnn.keras").into_os_string(),
            x.as_os_str().to_owned(),
            "--output".into(),
            out.as_os_str().to_owned(),
        ]
    };
    assert!(keras_rs(args(&one)).ok().stdout.contains("(1, 5)"));
    let wrong = tmp.path().join("wrong.npy");
    save_npy(
        &wrong,
        &Tensor::from_vec(vec![0f32; 2 * 7], &[2, 7], &Device::Cpu).unwrap(),
    )
    .unwrap();
    keras_rs(args(&wrong)).fails_with(&["(None, 10, 10, 3)", "(2, 7)"]);
}

#[test]
fn predict_on_images_prints_the_top_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs: Vec<PathBuf> = (0..3).map(|i| tmp.path().join(format!("img{i}.png"))).collect();
    for (i, p) in imgs.iter().enumerate() {
        write_png(p, i as u32);
    }
    let mut args = vec!["predict".into(), saving("seq_cnn.keras").into_os_string()];
    args.extend(imgs.iter().map(|p| p.clone().into_os_string()));
    args.extend(["--top", "2", "--rescale", "1/255", "--class-names", "a,b,c,d,e"].map(Into::into));
    let r = keras_rs(&args).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    for (line, img) in lines.iter().zip(&imgs) {
        // "…/img0.png: 3 (d) 0.4212, 0 (a) 0.2001"
        let rest = line
            .strip_prefix(&format!("{}: ", img.display()))
            .unwrap_or_else(|| panic!("{line}"));
        let entries: Vec<&str> = rest.split(", ").collect();
        assert_eq!(entries.len(), 2, "{line}");
        let mut last = f64::INFINITY;
        for e in entries {
            let parts: Vec<&str> = e.split(' ').collect();
            assert_eq!(parts.len(), 3, "{line}");
            let class: usize = parts[0].parse().unwrap();
            assert!(class < 5, "{line}");
            assert_eq!(
                parts[1],
                format!("({})", ["a", "b", "c", "d", "e"][class]),
                "{line}"
            );
            let p: f64 = parts[2].parse().unwrap();
            assert!((0.0..=1.0).contains(&p) && p <= last, "{line}");
            last = p;
        }
    }
    // Default: the top 3, no names.
    let mut args = vec!["predict".into(), saving("seq_cnn.keras").into_os_string()];
    args.push(imgs[0].clone().into_os_string());
    let r = keras_rs(&args).ok();
    let rest = r.stdout.trim().split_once(": ").unwrap().1.to_string();
    assert_eq!(rest.split(", ").count(), 3, "{}", r.stdout);
    // A wrong number of names is an error.
    args.extend(["--class-names", "a,b"].map(Into::into));
    keras_rs(&args).fails_with(&["2 names", "5 classes"]);
}

#[test]
fn evaluate_on_an_image_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = image_folder(&tmp.path().join("imgs"), 5, 3);
    let r = keras_rs([
        "evaluate".as_ref(),
        saving("seq_cnn.keras").as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
    ])
    .ok();
    let loss = metric(&r.stdout, "loss");
    let acc = metric(&r.stdout, "accuracy");
    assert!(loss.is_finite() && loss > 0.0, "{}", r.stdout);
    assert!((0.0..=1.0).contains(&acc), "{}", r.stdout);
    // More class folders than the model has outputs.
    let dir = image_folder(&tmp.path().join("seven"), 7, 1);
    keras_rs([
        "evaluate".as_ref(),
        saving("seq_cnn.keras").as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
    ])
    .fails_with(&["7 class folders", "5 outputs"]);
}

#[test]
fn train_from_a_config_then_continue_from_the_saved_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = image_folder(&tmp.path().join("imgs"), 5, 4);
    let out = tmp.path().join("tiny.keras");
    let r = keras_rs([
        "train".as_ref(),
        fixture("tiny_cnn_config.json").as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
        "--epochs".as_ref(),
        "1".as_ref(),
        "--batch-size".as_ref(),
        "8".as_ref(),
        "--validation-split".as_ref(),
        "0.2".as_ref(),
        "--verbose".as_ref(),
        "0".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    // The config has no compile_config: the defaults are used and said so.
    assert!(r.stderr.contains("compiling with adam"), "{}", r.stderr);
    for name in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        assert!(metric(&r.stdout, name).is_finite(), "{}", r.stdout);
    }
    assert!(r
        .stdout
        .contains(&format!("Saved the trained model to {}", out.display())));
    assert!(out.is_file());
    let s = keras_rs(["summary".as_ref(), out.as_os_str()]).ok();
    // Trained with Adam: Keras's summary adds the optimizer's iteration, learning rate and two
    // slots per weight (2 + 2 × 137 = 276) to the total.
    assert!(
        s.stdout.contains("Model: \"tiny_cnn\"")
            && s.stdout.contains("Trainable params: 137")
            && s.stdout.contains("Optimizer params: 276"),
        "{}",
        s.stdout
    );
    // The saved file is compiled: it evaluates, and trains on from where it stopped.
    let e = keras_rs([
        "evaluate".as_ref(),
        out.as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
    ])
    .ok();
    assert!(metric(&e.stdout, "accuracy") <= 1.0);
    let out2 = tmp.path().join("tiny2.keras");
    let r = keras_rs([
        "train".as_ref(),
        out.as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
        "--verbose".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out2.as_os_str(),
    ])
    .ok();
    assert!(!r.stderr.contains("compiling with"), "{}", r.stderr);
    assert!(out2.is_file());
}

#[test]
fn errors_name_the_problem_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no_such_model.keras");
    let png = tmp.path().join("x.png");
    write_png(&png, 7);
    for cmd in ["summary", "evaluate", "train", "predict"] {
        let mut args: Vec<std::ffi::OsString> = vec![cmd.into(), missing.clone().into_os_string()];
        match cmd {
            "evaluate" | "train" => args.extend(["--data", "mnist"].map(Into::into)),
            "predict" => args.push(png.clone().into_os_string()),
            _ => {}
        }
        keras_rs(&args).fails_with(&["no_such_model.keras", "no such file"]);
    }
    // Inputs predict cannot read: a missing image, a file of another kind.
    let seq = saving("seq_cnn.keras");
    let absent = tmp.path().join("absent.png");
    keras_rs(["predict".as_ref(), seq.as_os_str(), absent.as_os_str()])
        .fails_with(&["absent.png", "no such file"]);
    let st = saving("reference.safetensors");
    keras_rs(["predict".as_ref(), seq.as_os_str(), st.as_os_str()])
        .fails_with(&["reference.safetensors", ".npy"]);
    // A truncated .keras file and one that is not a zip at all.
    let bytes = std::fs::read(saving("seq_cnn.keras")).unwrap();
    let cut = tmp.path().join("cut.keras");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    keras_rs(["summary".as_ref(), cut.as_os_str()]).fails_with(&["cut.keras"]);
    let junk = tmp.path().join("junk.keras");
    std::fs::write(&junk, b"not a keras file").unwrap();
    keras_rs(["summary".as_ref(), junk.as_os_str()]).fails_with(&["junk.keras"]);
    // A config that is not JSON, and an uncompiled model given to evaluate.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, b"{\"class_name\": ").unwrap();
    keras_rs(["summary".as_ref(), bad.as_os_str()]).fails_with(&["bad.json", "JSON"]);
    let dir = image_folder(&tmp.path().join("imgs"), 2, 1);
    keras_rs([
        "evaluate".as_ref(),
        fixture("tiny_cnn_config.json").as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
    ])
    .fails_with(&["not compiled"]);
    // --data that is neither a dataset nor a folder; an --out that is not .keras.
    keras_rs([
        "evaluate".as_ref(),
        saving("seq_cnn.keras").as_os_str(),
        "--data".as_ref(),
        "no_such_dataset".as_ref(),
    ])
    .fails_with(&["no_such_dataset", "mnist"]);
    keras_rs([
        "train".as_ref(),
        saving("seq_cnn.keras").as_os_str(),
        "--data".as_ref(),
        dir.as_os_str(),
        "--out".as_ref(),
        "model.h5".as_ref(),
    ])
    .fails_with(&["model.h5", ".keras"]);
    // Usage errors are clap's: status 2.
    assert_eq!(keras_rs(["summary"]).code, 2);
    assert_eq!(keras_rs(["train", "m.keras"]).code, 2);
    assert_eq!(keras_rs(["datasets", "fetch", "nope"]).code, 2);
}

#[test]
fn datasets_list_verify_and_fetch_in_an_empty_or_corrupt_cache() {
    let home = tempfile::tempdir().unwrap();
    let datasets = home.path().join("datasets");
    let r = keras_rs_in(Some(home.path()), ["datasets", "list"]).ok();
    assert!(r.stdout.contains(&datasets.display().to_string()), "{}", r.stdout);
    assert!(r.stdout.contains("Downloads: off"), "{}", r.stdout);
    let mnist_line = r.stdout.lines().find(|l| l.starts_with("mnist ")).unwrap();
    assert!(
        mnist_line.contains("missing") && mnist_line.contains("mnist.npz"),
        "{mnist_line}"
    );
    for name in [
        "fashion_mnist",
        "cifar10",
        "cifar100",
        "imdb",
        "reuters",
        "boston_housing",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with(name)),
            "{name} in:\n{}",
            r.stdout
        );
    }
    // Nothing there: verify passes with everything missing.
    let r = keras_rs_in(Some(home.path()), ["datasets", "verify"]).ok();
    assert!(
        r.stdout.contains("missing   mnist.npz") && r.stdout.contains("0 mismatched"),
        "{}",
        r.stdout
    );
    // Offline, a missing dataset cannot be fetched; the message says where to put it.
    keras_rs_in(Some(home.path()), ["datasets", "fetch", "fashion_mnist"])
        .fails_with(&["fashion-mnist", "KERAS_OFFLINE"]);
    // A corrupt file: listed as present, a MISMATCH for verify (exit 1), an error for fetch.
    std::fs::create_dir_all(&datasets).unwrap();
    std::fs::write(datasets.join("mnist.npz"), b"not mnist").unwrap();
    let r = keras_rs_in(Some(home.path()), ["datasets", "list"]).ok();
    let mnist_line = r.stdout.lines().find(|l| l.starts_with("mnist ")).unwrap();
    assert!(mnist_line.contains("present"), "{mnist_line}");
    let r = keras_rs_in(Some(home.path()), ["datasets", "verify"]).fails_with(&["do not match"]);
    assert!(r.stdout.contains("MISMATCH  mnist.npz: sha256 "), "{}", r.stdout);
    keras_rs_in(Some(home.path()), ["datasets", "fetch", "mnist"])
        .fails_with(&["checksum mismatch", "mnist.npz"]);
}

/// Whether the real MNIST files are in `$KERAS_HOME/datasets`; prints `SKIPPED: …` if not.
fn real_mnist(test: &str) -> bool {
    let dir = keras_datasets::datasets_dir();
    let idx = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    if dir.join("mnist.npz").is_file() || idx.iter().all(|f| dir.join("mnist").join(f).is_file()) {
        return true;
    }
    println!(
        "SKIPPED: real-data test {test}: neither mnist.npz nor mnist/{{{}}} in {} (set KERAS_HOME to a folder \
         whose datasets/ has them)",
        idx.join(","),
        dir.display()
    );
    false
}

#[test]
fn cli_evaluate_mnist() {
    if !real_mnist("cli_evaluate_mnist") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mnist_mlp.keras");
    // A fresh model from Keras's config, compiled from its compile_config, trained one epoch
    // on 5,000 images (MNIST's (N, 28, 28) images get the channel axis the model takes).
    let r = keras_rs([
        "train".as_ref(),
        fixture("mnist_mlp_config.json").as_os_str(),
        "--data".as_ref(),
        "mnist".as_ref(),
        "--limit".as_ref(),
        "5000".as_ref(),
        "--verbose".as_ref(),
        "0".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    assert!(!r.stderr.contains("compiling with"), "{}", r.stderr);
    assert!(
        r.stdout.contains("Training on 5000 samples of mnist"),
        "{}",
        r.stdout
    );
    let r = keras_rs([
        "evaluate".as_ref(),
        out.as_os_str(),
        "--data".as_ref(),
        "mnist".as_ref(),
    ])
    .ok();
    assert!(
        r.stdout.contains("Evaluating on 10000 test samples"),
        "{}",
        r.stdout
    );
    let (loss, acc) = (metric(&r.stdout, "loss"), metric(&r.stdout, "accuracy"));
    println!("MNIST test split after 1 epoch on 5,000 images: loss {loss:.4}, accuracy {acc:.4}");
    assert!(acc > 0.8 && loss < 1.0, "{}", r.stdout);
    let r = keras_rs(["datasets", "list"]).ok();
    let mnist_line = r.stdout.lines().find(|l| l.starts_with("mnist ")).unwrap();
    assert!(mnist_line.contains("present"), "{mnist_line}");
    println!("real-data test ran: cli_evaluate_mnist");
}
