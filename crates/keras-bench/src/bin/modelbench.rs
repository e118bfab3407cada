//! `modelbench`: whole-model training and inference benchmarks of keras-rs against Keras 3
//! (TensorFlow and JAX backends) and PyTorch, on the same machine in one run.
//!
//! Normally run through `bench/run-models`, which builds this binary, sets up the Python
//! peers, runs every framework and model in its own process and calls `report`:
//!
//! ```text
//! modelbench run --model NAME [--warmup N] [--warmup-seconds S] [--reps N] [--max-seconds S]
//!     Times keras-rs on one model (batch 128, synthetic data): train_on_batch and
//!     predict_on_batch, median of the timed repetitions after warm-up. Prints one
//!     `MODELBENCH {json}` line, with the peak resident memory of the process.
//! modelbench flops
//!     Prints the FLOP counts every framework's row is divided by.
//! modelbench report --results FILE.jsonl --out DIR [--date D] [--commit C] [--title T]
//!                   [--peak-gflops P] [--note TEXT]...
//!     Reads the `MODELBENCH` lines of all frameworks and writes DIR/models.{md,csv,json,png}:
//!     samples/s, GFLOP/s against the fp32 peak, peak RSS, and keras-rs / fastest peer.
//!     The peak is P when given, else measured here (`models::measure_fma_gflops`).
//! modelbench peak
//!     Prints the measured fp32 peak next to the estimate from /proc/cpuinfo.
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use keras::layers::{
    Activation, Add, BatchNormalization, Conv2D, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling2D,
    MaxPooling2D, LSTM,
};
use keras::optimizers::{Adam, SGD};
use keras::{losses, Apply, Input, KerasTensor, Model, Sequential, Trainer};
use keras_bench::models::{self, CpuInfo, BATCH, FLOP_CONVENTION, MODELS};
use keras_tensor::{Device, Result, Tensor};
use serde_json::{json, Value};

/// The frameworks in table order, as `bench/peers.py` and `run` name them.
const FRAMEWORKS: [&str; 4] = ["keras-rs", "tf", "jax", "torch"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("flops") => {
            cmd_flops();
            Ok(())
        }
        Some("report") => cmd_report(&args[1..]),
        Some("peak") => {
            let cpu = CpuInfo::read();
            println!(
                "measured: {:.1} GFLOP/s fp32 ({} threads of vector FMAs)",
                models::measured_peak_gflops(),
                cpu.cpus
            );
            println!("estimate: {} on {}", cpu.estimate_text(), cpu.model);
            Ok(())
        }
        _ => Err(
            "usage: modelbench run --model NAME | flops | peak | report --results FILE --out DIR \
                  (see the source header)"
                .to_string(),
        ),
    };
    if let Err(e) = code {
        eprintln!("modelbench: {e}");
        std::process::exit(2);
    }
}

/// `--key value` options after a subcommand.
fn options(args: &[String]) -> std::result::Result<BTreeMap<String, Vec<String>>, String> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let key = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {a}"))?;
        let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
        m.entry(key.to_string()).or_default().push(v.clone());
    }
    Ok(m)
}

fn opt<T: std::str::FromStr>(
    o: &BTreeMap<String, Vec<String>>,
    key: &str,
    default: T,
) -> std::result::Result<T, String> {
    match o.get(key).and_then(|v| v.last()) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("bad value for --{key}: {s}")),
    }
}

// ---------------------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------------------

/// A model of the suite, Sequential or functional.
enum Net {
    Seq(Sequential),
    Fun(Model),
}

impl Net {
    fn train(&mut self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let logs = match self {
            Net::Seq(m) => m.train_on_batch(x, y)?,
            Net::Fun(m) => m.train_on_batch(x, y)?,
        };
        Ok(logs.get("loss").copied().unwrap_or(f64::NAN))
    }

    fn predict(&mut self, x: &Tensor) -> Result<Tensor> {
        match self {
            Net::Seq(m) => m.predict_on_batch(x),
            Net::Fun(m) => m.predict_on_batch(x),
        }
    }
}

/// A 3x3 convolution (no bias: batch normalization follows), batch normalization and, when
/// `relu`, ReLU: the `resnet_layer` of keras.io's CIFAR ResNet.
fn conv_bn(x: &KerasTensor, filters: usize, stride: usize, relu: bool) -> Result<KerasTensor> {
    let y = Conv2D::new(filters, 3)
        .strides([stride; 2])
        .padding("same")?
        .use_bias(false)
        .apply(x)?;
    let y = BatchNormalization::new().apply(&y)?;
    if relu {
        Activation::new("relu")?.apply(&y)
    } else {
        Ok(y)
    }
}

/// ResNet-20 v1 for 32x32x3 images: 3 stages of 3 basic blocks (16, 32, 64 filters), a 1x1
/// projection where the shape changes, global average pooling, Dense 10 softmax.
fn resnet20() -> Result<Model> {
    let inputs = Input::new(&[32, 32, 3]);
    let mut x = conv_bn(&inputs, 16, 1, true)?;
    let mut channels = 16;
    for (stage, filters) in [16, 32, 64].into_iter().enumerate() {
        for block in 0..3 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let y = conv_bn(&x, filters, stride, true)?;
            let y = conv_bn(&y, filters, 1, false)?;
            let shortcut = if stride != 1 || channels != filters {
                Conv2D::new(filters, 1).strides([stride; 2]).apply(&x)?
            } else {
                x.clone()
            };
            let sum = Add::new().apply_list(&[&shortcut, &y])?;
            x = Activation::new("relu")?.apply(&sum)?;
            channels = filters;
        }
    }
    let x = GlobalAveragePooling2D::new().apply(&x)?;
    let outputs = Dense::new(10).activation("softmax")?.apply(&x)?;
    Model::new(&[&inputs], &[&outputs])
}

fn build(name: &str) -> Result<Net> {
    let relu = |n: usize| Dense::new(n).activation("relu");
    let softmax10 = || Dense::new(10).activation("softmax");
    let conv = |f: usize, same: bool| -> Result<Conv2D> {
        let c = Conv2D::new(f, 3).activation("relu")?;
        if same {
            c.padding("same")
        } else {
            Ok(c)
        }
    };
    let scce = || losses::get("sparse_categorical_crossentropy");
    let mut net = match name {
        "mlp" => {
            Net::Seq(Sequential::new(vec![Box::new(relu(128)?), Box::new(softmax10()?)]).input_shape(&[784]))
        }
        "mnist_cnn" => Net::Seq(
            Sequential::new(vec![
                Box::new(conv(32, false)?),
                Box::new(MaxPooling2D::new(2)),
                Box::new(conv(64, false)?),
                Box::new(MaxPooling2D::new(2)),
                Box::new(Flatten::new()),
                Box::new(Dropout::new(0.5)?),
                Box::new(softmax10()?),
            ])
            .input_shape(&[28, 28, 1]),
        ),
        "cifar_cnn" => Net::Seq(
            Sequential::new(vec![
                Box::new(conv(32, true)?),
                Box::new(conv(32, false)?),
                Box::new(MaxPooling2D::new(2)),
                Box::new(Dropout::new(0.25)?),
                Box::new(conv(64, true)?),
                Box::new(conv(64, false)?),
                Box::new(MaxPooling2D::new(2)),
                Box::new(Dropout::new(0.25)?),
                Box::new(Flatten::new()),
                Box::new(relu(512)?),
                Box::new(Dropout::new(0.5)?),
                Box::new(softmax10()?),
            ])
            .input_shape(&[32, 32, 3]),
        ),
        "resnet20" => Net::Fun(resnet20()?),
        "lstm" => Net::Seq(
            Sequential::new(vec![
                Box::new(Embedding::new(20000, 128)?),
                Box::new(LSTM::new(64)),
                Box::new(Dense::new(1).activation("sigmoid")?),
            ])
            .input_shape(&[200]),
        ),
        other => {
            return Err(keras_tensor::Error::InvalidArgument {
                op: "modelbench",
                msg: format!("unknown model {other}"),
            })
        }
    };
    match &mut net {
        Net::Seq(m) if name == "lstm" => {
            m.compile(Box::new(Adam::new()), losses::get("binary_crossentropy")?, &[])?
        }
        Net::Seq(m) => m.compile(Box::new(Adam::new()), scce()?, &[])?,
        Net::Fun(m) => m.compile(Box::new(SGD::new().momentum(0.9)), scce()?, &[])?,
    }
    Ok(net)
}

/// Deterministic pseudo-random numbers in [0, 1) (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A synthetic batch of the model's shape: images / vectors in [0, 1) and class labels 0..9
/// (int64), or token ids 0..19999 (int32) and 0/1 targets for the LSTM.
fn batch(name: &str) -> Result<(Tensor, Tensor)> {
    let spec = models::spec(name).expect("known model");
    let mut rng = Rng(42);
    let n: usize = spec.input_shape.iter().product::<usize>() * BATCH;
    let mut shape = vec![BATCH];
    shape.extend_from_slice(spec.input_shape);
    let cpu = Device::Cpu;
    if name == "lstm" {
        let x: Vec<i32> = (0..n).map(|_| (rng.next() * 20000.0) as i32).collect();
        let y: Vec<f32> = (0..BATCH).map(|_| (rng.next() * 2.0).floor() as f32).collect();
        Ok((
            Tensor::from_vec(x, &shape, &cpu)?,
            Tensor::from_vec(y, &[BATCH, 1], &cpu)?,
        ))
    } else {
        let x: Vec<f32> = (0..n).map(|_| rng.next() as f32).collect();
        let y: Vec<i64> = (0..BATCH).map(|_| (rng.next() * 10.0) as i64).collect();
        Ok((
            Tensor::from_vec(x, &shape, &cpu)?,
            Tensor::from_vec(y, &[BATCH], &cpu)?,
        ))
    }
}

/// How many times to run a step, untimed and timed.
#[derive(Clone, Copy)]
struct Reps {
    /// Untimed runs first, at least this many…
    warmup: usize,
    /// …and more until they took this many seconds.
    warmup_s: f64,
    /// Timed runs, at most (at least 3)…
    reps: usize,
    /// …stopping early once the timed runs took this many seconds.
    max_s: f64,
}

/// Runs `f` as `r` says; returns the sorted times of the timed runs in milliseconds.
/// `bench/peers.py` uses the same rule.
fn timed(r: Reps, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let warm = Instant::now();
    let mut done = 0;
    while done < r.warmup || warm.elapsed().as_secs_f64() < r.warmup_s {
        f()?;
        done += 1;
    }
    let (reps, max_s) = (r.reps, r.max_s);
    let start = Instant::now();
    let mut t = Vec::new();
    for _ in 0..reps.max(1) {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
        if t.len() >= 3 && start.elapsed().as_secs_f64() > max_s {
            break;
        }
    }
    t.sort_by(f64::total_cmp);
    Ok(t)
}

fn cmd_run(args: &[String]) -> std::result::Result<(), String> {
    let o = options(args)?;
    let name: String = opt(&o, "model", String::new())?;
    if models::spec(&name).is_none() {
        return Err(format!(
            "--model must be one of {}",
            MODELS.map(|m| m.name).join(", ")
        ));
    }
    let r = Reps {
        warmup: opt(&o, "warmup", 3)?,
        warmup_s: opt(&o, "warmup-seconds", 0.0)?,
        reps: opt(&o, "reps", 20)?,
        max_s: opt(&o, "max-seconds", 60.0)?,
    };
    let line = match measure(&name, r) {
        Ok(v) => v,
        Err(e) => json!({"framework": "keras-rs", "model": name, "error": e.to_string()}),
    };
    println!("MODELBENCH {line}");
    Ok(())
}

fn measure(name: &str, r: Reps) -> Result<Value> {
    let (x, y) = batch(name)?;
    let t0 = Instant::now();
    let mut net = build(name)?;
    let mut loss = f64::NAN;
    let train = timed(r, || {
        loss = net.train(&x, &y)?;
        Ok(())
    })?;
    let predict = timed(r, || net.predict(&x).map(drop))?;
    let med = |t: &[f64]| t[t.len() / 2];
    let threads = rayon::current_num_threads();
    Ok(json!({
        "framework": "keras-rs",
        "model": name,
        "version": format!("keras-rs {}", env!("CARGO_PKG_VERSION")),
        "batch": BATCH,
        "threads": threads,
        "warmup": r.warmup,
        "warmup_seconds": r.warmup_s,
        "train_reps": train.len(),
        "train_ms": med(&train),
        "train_min_ms": train[0],
        "predict_reps": predict.len(),
        "predict_ms": med(&predict),
        "predict_min_ms": predict[0],
        "train_samples_per_s": BATCH as f64 / med(&train) * 1e3,
        "predict_samples_per_s": BATCH as f64 / med(&predict) * 1e3,
        "peak_rss_mib": models::peak_rss_mib(),
        "final_loss": loss,
        "total_s": t0.elapsed().as_secs_f64(),
    }))
}

// ---------------------------------------------------------------------------------------
// flops
// ---------------------------------------------------------------------------------------

fn cmd_flops() {
    println!("{FLOP_CONVENTION}");
    println!(
        "{:<10} {:>14} {:>14} {:>16}",
        "model", "fwd MFLOP/smp", "train MFLOP/smp", "train GFLOP/batch"
    );
    for m in MODELS {
        let f = models::forward_flops(m.name).unwrap_or(0.0);
        println!(
            "{:<10} {:>14.2} {:>14.2} {:>16.3}",
            m.name,
            f / 1e6,
            3.0 * f / 1e6,
            3.0 * f * BATCH as f64 / 1e9
        );
    }
}

// ---------------------------------------------------------------------------------------
// report
// ---------------------------------------------------------------------------------------

/// One framework on one model, as measured (or why not).
#[derive(Clone, Debug)]
struct Row {
    model: String,
    framework: String,
    version: String,
    error: Option<String>,
    train_sps: f64,
    predict_sps: f64,
    train_gflops: f64,
    predict_gflops: f64,
    peak_rss_mib: Option<f64>,
    threads: Option<u64>,
    notes: String,
}

impl Row {
    fn from_json(v: &Value) -> Option<Row> {
        let model = v["model"].as_str()?.to_string();
        let framework = v["framework"].as_str()?.to_string();
        let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
        let error = v["error"].as_str().map(str::to_string);
        let fwd = models::forward_flops(&model).unwrap_or(0.0);
        let (train_sps, predict_sps) = (f("train_samples_per_s"), f("predict_samples_per_s"));
        Some(Row {
            version: v["version"].as_str().unwrap_or("").to_string(),
            error,
            train_sps,
            predict_sps,
            train_gflops: 3.0 * fwd * train_sps / 1e9,
            predict_gflops: fwd * predict_sps / 1e9,
            peak_rss_mib: v["peak_rss_mib"].as_f64(),
            threads: v["threads"].as_u64(),
            notes: v["notes"].as_str().unwrap_or("").to_string(),
            model,
            framework,
        })
    }

    fn ok(&self) -> bool {
        self.error.is_none() && self.train_sps > 0.0
    }
}

/// keras-rs against the fastest peer on one model: ratios of samples/s (above 1: keras-rs
/// is faster).
#[derive(Clone, Debug)]
struct Ratio {
    model: String,
    train: Option<(f64, String)>,
    predict: Option<(f64, String)>,
}

fn ratios(rows: &[Row], models: &[String]) -> Vec<Ratio> {
    models
        .iter()
        .map(|m| {
            let ours = rows
                .iter()
                .find(|r| &r.model == m && r.framework == "keras-rs" && r.ok());
            let peers: Vec<&Row> = rows
                .iter()
                .filter(|r| &r.model == m && r.framework != "keras-rs" && r.ok())
                .collect();
            let best = |get: fn(&Row) -> f64| -> Option<(f64, String)> {
                let ours = ours?;
                let p = peers.iter().max_by(|a, b| get(a).total_cmp(&get(b)))?;
                (get(p) > 0.0).then(|| (get(ours) / get(p), p.framework.clone()))
            };
            Ratio {
                model: m.clone(),
                train: best(|r| r.train_sps),
                predict: best(|r| r.predict_sps),
            }
        })
        .collect()
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.prec$}"))
}

fn cmd_report(args: &[String]) -> std::result::Result<(), String> {
    let o = options(args)?;
    let results: PathBuf = opt(&o, "results", PathBuf::new())?;
    let out: PathBuf = opt(&o, "out", PathBuf::new())?;
    if results.as_os_str().is_empty() || out.as_os_str().is_empty() {
        return Err("report needs --results FILE and --out DIR".into());
    }
    let text = std::fs::read_to_string(&results).map_err(|e| format!("{}: {e}", results.display()))?;
    let mut rows: Vec<Row> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("MODELBENCH "))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Row::from_json(&v))
        .collect();
    let order = |r: &Row| {
        (
            MODELS.iter().position(|m| m.name == r.model).unwrap_or(99),
            FRAMEWORKS.iter().position(|f| *f == r.framework).unwrap_or(99),
        )
    };
    rows.sort_by_key(order);
    let mut model_names: Vec<String> = rows.iter().map(|r| r.model.clone()).collect();
    model_names.dedup();

    let cpu = CpuInfo::read();
    let estimate = cpu.estimate_text();
    let (peak, peak_how) = if o.contains_key("peak-gflops") {
        let p: f64 = opt(&o, "peak-gflops", 0.0)?;
        (p, format!("given with --peak-gflops (estimate: {estimate})"))
    } else {
        (
            models::measured_peak_gflops(),
            format!(
                "measured: {} threads of independent vector FMAs (`models::measure_fma_gflops`); \
                 estimate from /proc/cpuinfo: {estimate}",
                cpu.cpus
            ),
        )
    };
    let date: String = opt(&o, "date", String::new())?;
    let commit: String = opt(&o, "commit", String::new())?;
    let title: String = opt(&o, "title", "keras-rs model benchmarks".to_string())?;
    let notes: Vec<String> = o.get("note").cloned().unwrap_or_default();
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    for r in &rows {
        if !r.version.is_empty() {
            versions.entry(r.framework.clone()).or_insert(r.version.clone());
        }
    }
    let ratio = ratios(&rows, &model_names);

    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let pct = |g: f64| 100.0 * g / peak;

    // The text table (stdout and markdown).
    let header = [
        "model",
        "framework",
        "train samples/s",
        "train GFLOP/s",
        "train % peak",
        "predict samples/s",
        "predict GFLOP/s",
        "predict % peak",
        "peak RSS MiB",
        "threads",
        "status",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let ok = r.ok();
            let num = |v: f64, p: usize| if ok { format!("{v:.p$}") } else { "-".into() };
            vec![
                r.model.clone(),
                r.framework.clone(),
                num(r.train_sps, 1),
                num(r.train_gflops, 2),
                num(pct(r.train_gflops), 1),
                num(r.predict_sps, 1),
                num(r.predict_gflops, 2),
                num(pct(r.predict_gflops), 1),
                fmt_opt(r.peak_rss_mib, 0),
                r.threads.map_or("-".into(), |t| t.to_string()),
                match &r.error {
                    Some(e) => format!("FAILED: {}", one_line(e, 100)),
                    None if !r.notes.is_empty() => format!("ok ({})", r.notes),
                    None => "ok".into(),
                },
            ]
        })
        .collect();
    let ratio_header = [
        "model",
        "train keras-rs/best",
        "best train peer",
        "predict keras-rs/best",
        "best predict peer",
    ];
    let ratio_cells: Vec<Vec<String>> = ratio
        .iter()
        .map(|r| {
            let a = |x: &Option<(f64, String)>| x.as_ref().map_or("-".into(), |(v, _)| format!("{v:.3}"));
            let b = |x: &Option<(f64, String)>| x.as_ref().map_or("-".into(), |(_, p)| p.clone());
            vec![
                r.model.clone(),
                a(&r.train),
                b(&r.train),
                a(&r.predict),
                b(&r.predict),
            ]
        })
        .collect();

    let mut meta = vec![
        ("date", date.clone()),
        ("cpu", format!("{} ({} CPUs, {})", cpu.model, cpu.cpus, cpu.isa)),
        ("fp32 peak", format!("{peak:.1} GFLOP/s, {peak_how}")),
        ("batch", BATCH.to_string()),
        ("FLOP convention", FLOP_CONVENTION.to_string()),
    ];
    if !commit.is_empty() {
        meta.push(("keras-rs commit", commit.clone()));
    }
    for (fw, v) in &versions {
        meta.push(("version", format!("{fw}: {v}")));
    }

    // stdout
    println!("{title}");
    for (k, v) in &meta {
        println!("  {k}: {v}");
    }
    for n in &notes {
        println!("  note: {n}");
    }
    println!();
    print!("{}", text_table(&header, &cells));
    println!();
    println!("keras-rs / fastest peer (samples/s; above 1 = keras-rs faster):");
    print!("{}", text_table(&ratio_header, &ratio_cells));

    // markdown
    let mut md = format!("# {title}\n\n");
    for (k, v) in &meta {
        md += &format!("- **{k}**: {v}\n");
    }
    for n in &notes {
        md += &format!("- **note**: {n}\n");
    }
    md += "\nModels (batch 128, synthetic data of the right shape; train = `train_on_batch` steps, \
           predict = `predict_on_batch` / inference-mode forward; median of the timed repetitions after warm-up; \
           peak RSS = `VmHWM` of the process, one process per framework and model):\n\n";
    for m in MODELS.iter().filter(|m| model_names.iter().any(|n| n == m.name)) {
        md += &format!(
            "- `{}`: {} — {:.2} MFLOP forward per sample\n",
            m.name,
            m.title,
            models::forward_flops(m.name).unwrap_or(0.0) / 1e6
        );
    }
    md += "\n";
    md += &md_table(&header, &cells);
    md += "\n## keras-rs / fastest peer\n\nRatio of samples/s (above 1: keras-rs is faster).\n\n";
    md += &md_table(&ratio_header, &ratio_cells);
    md += "\n![keras-rs / fastest peer](models.png)\n";
    write(&out.join("models.md"), &md)?;

    // csv
    let mut csv = String::from(
        "model,framework,version,status,train_samples_per_s,train_gflops,train_pct_peak,predict_samples_per_s,\
         predict_gflops,predict_pct_peak,peak_rss_mib,threads,fwd_flops_per_sample,train_flops_per_sample,\
         peak_gflops,date\n",
    );
    for r in &rows {
        let fwd = models::forward_flops(&r.model).unwrap_or(0.0);
        csv += &format!(
            "{},{},{},{},{:.2},{:.3},{:.2},{:.2},{:.3},{:.2},{},{},{:.0},{:.0},{:.1},{}\n",
            r.model,
            r.framework,
            csv_field(&r.version),
            csv_field(r.error.as_deref().map_or("ok", |e| e)),
            r.train_sps,
            r.train_gflops,
            pct(r.train_gflops),
            r.predict_sps,
            r.predict_gflops,
            pct(r.predict_gflops),
            fmt_opt(r.peak_rss_mib, 1),
            r.threads.map_or(String::new(), |t| t.to_string()),
            fwd,
            3.0 * fwd,
            peak,
            date
        );
    }
    write(&out.join("models.csv"), &csv)?;

    // json
    let j = json!({
        "title": title,
        "date": date,
        "commit": commit,
        "cpu": {"model": cpu.model, "cpus": cpu.cpus, "mhz": cpu.mhz, "isa": cpu.isa},
        "peak_gflops": peak,
        "peak_how": peak_how,
        "batch": BATCH,
        "flop_convention": FLOP_CONVENTION,
        "versions": versions,
        "notes": notes,
        "results": rows.iter().map(|r| json!({
            "model": r.model,
            "framework": r.framework,
            "version": r.version,
            "error": r.error,
            "train_samples_per_s": r.train_sps,
            "predict_samples_per_s": r.predict_sps,
            "train_gflops": r.train_gflops,
            "predict_gflops": r.predict_gflops,
            "peak_rss_mib": r.peak_rss_mib,
            "threads": r.threads,
            "notes": r.notes,
            "fwd_flops_per_sample": models::forward_flops(&r.model),
        })).collect::<Vec<_>>(),
        "keras_rs_over_fastest_peer": ratio.iter().map(|r| json!({
            "model": r.model,
            "train": r.train.as_ref().map(|t| t.0),
            "train_peer": r.train.as_ref().map(|t| t.1.clone()),
            "predict": r.predict.as_ref().map(|t| t.0),
            "predict_peer": r.predict.as_ref().map(|t| t.1.clone()),
        })).collect::<Vec<_>>(),
    });
    write(
        &out.join("models.json"),
        &(serde_json::to_string_pretty(&j).map_err(|e| e.to_string())? + "\n"),
    )?;

    // png
    let chart_title = format!(
        "keras-rs / fastest peer, samples/s ({}{})",
        date.as_str(),
        if cpu.model.is_empty() {
            String::new()
        } else {
            format!(", {}", cpu.model)
        }
    );
    if let Err(e) = bar_chart(&out.join("models.png"), &chart_title, &ratio) {
        eprintln!("modelbench: no chart: {e}");
    }
    println!("\nwrote {}/models.{{md,csv,json,png}}", out.display());
    Ok(())
}

fn one_line(s: &str, max: usize) -> String {
    let s: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/");
    if s.chars().count() > max {
        s.chars().take(max).collect::<String>() + "…"
    } else {
        s
    }
}

fn csv_field(s: &str) -> String {
    let s = one_line(s, 300);
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn write(path: &Path, text: &str) -> std::result::Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn text_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    // A column is right-aligned when its cells are numbers (or "-").
    let numeric: Vec<bool> = (0..w.len())
        .map(|i| rows.iter().all(|r| r[i] == "-" || r[i].parse::<f64>().is_ok()))
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if numeric[i] {
                    format!("{c:>width$}", width = w[i])
                } else {
                    format!("{c:<width$}", width = w[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut s = line(header.to_vec());
    s += &line(
        w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for r in rows {
        s += &line(r.iter().map(String::as_str).collect());
    }
    s
}

fn md_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n", header.join(" | "));
    s += &format!(
        "|{}\n",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 2 { " --- |" } else { " ---: |" })
            .collect::<String>()
    );
    for r in rows {
        s += &format!("| {} |\n", r.join(" | "));
    }
    s
}

/// Grouped bars of keras-rs / fastest peer per model (train, predict) on a log axis, with the
/// parity line at 1.
fn bar_chart(path: &Path, title: &str, ratio: &[Ratio]) -> std::result::Result<(), String> {
    use plotters::prelude::*;
    const FONT: &str = "DejaVu Sans, sans-serif";
    let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    let values: Vec<f64> = ratio
        .iter()
        .flat_map(|r| [r.train.as_ref(), r.predict.as_ref()])
        .flatten()
        .map(|t| t.0)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if values.is_empty() {
        return Err("no model has both a keras-rs and a peer result".into());
    }
    let lo = values.iter().copied().fold(1.0f64, f64::min) / 2.0;
    let hi = values.iter().copied().fold(1.0f64, f64::max) * 2.0;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let n = ratio.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, (lo..hi).log_scale())
        .map_err(|x| e(&x))?;
    let names: Vec<String> = ratio.iter().map(|r| r.model.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.05 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("keras-rs / fastest peer (log)")
        .y_label_formatter(&|y| format!("{y:.2}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|x| e(&x))?;
    let train_c = RGBColor(31, 119, 180);
    let predict_c = RGBColor(255, 127, 14);
    for (series, color, off) in [("train", train_c, -0.38), ("predict", predict_c, 0.0)] {
        let bars: Vec<(usize, f64)> = ratio
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let v = if series == "train" { &r.train } else { &r.predict };
                v.as_ref().map(|t| (i, t.0))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|&(i, v)| {
                let x0 = i as f64 + off;
                Rectangle::new([(x0, lo), (x0 + 0.38, v.max(lo))], color.filled())
            }))
            .map_err(|x| e(&x))?
            .label(series)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        chart
            .draw_series(bars.iter().map(|&(i, v)| {
                Text::new(
                    format!("{v:.2}"),
                    (i as f64 + off + 0.04, v.max(lo) * 1.08),
                    (FONT, 13),
                )
            }))
            .map_err(|x| e(&x))?;
    }
    chart
        .draw_series(LineSeries::new(
            [(-0.5, 1.0), (n as f64 - 0.5, 1.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(|x| e(&x))?
        .label("parity")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BLACK));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
