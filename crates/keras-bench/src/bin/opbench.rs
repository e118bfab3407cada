//! `opbench`: CPU op benchmarks for keras-rs.
//!
//! ```text
//! cargo run --release -p keras-bench --bin opbench [-- --quick] [-- --filter SUBSTR]
//! ```
//!
//! Measures sgemm (512/1024/2048) with every candidate GEMM library on 1 and 2 threads, NumPy
//! (OpenBLAS) when `$KERAS_BENCH_PYTHON` (default `python3`) can import numpy, the chosen
//! `keras_cpu::matmul::gemm`, 3x3 conv2d passes (a reference case and every 3x3 layer of the
//! model benchmarks' two convnets, `--filter _cnn_conv`), max pooling, and dropout
//! (`--filter dropout`).
//! Prints a table and one `BENCH {json}` line per case (median of the timed repetitions after
//! warm-up). `--filter` keeps the cases whose `case/impl` name contains the substring.

use std::process::Command;

use keras_backend::op::{Conv2dParams, Pool2dParams, PoolKind};
use keras_bench::{table_header, time_ms, CountingAlloc, Record};
use keras_cpu::matmul::MatRef;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

const SIZES: [usize; 3] = [512, 1024, 2048];

struct Opts {
    quick: bool,
    filter: Option<String>,
    /// Set in a child process that measures `matrixmultiply` with a fixed thread count (its
    /// pool size is read once from `MATMUL_NUM_THREADS`).
    child_mm: Option<usize>,
}

impl Opts {
    fn parse() -> Result<Opts, String> {
        let mut o = Opts {
            quick: false,
            filter: None,
            child_mm: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--filter" => o.filter = Some(it.next().ok_or("--filter needs a value")?),
                "--child-mm" => {
                    let v = it.next().ok_or("--child-mm needs a thread count")?;
                    o.child_mm = Some(v.parse().map_err(|_| format!("bad thread count {v}"))?);
                }
                "-h" | "--help" => {
                    println!("usage: opbench [--quick] [--filter SUBSTR]");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(o)
    }

    fn wants(&self, case: &str, imp: &str) -> bool {
        match &self.filter {
            None => true,
            Some(f) => format!("{case}/{imp}").contains(f.as_str()),
        }
    }

    /// (warm-up runs, timed runs) for an op of about `flops` floating-point operations.
    fn reps(&self, flops: f64) -> (usize, usize) {
        let (w, r) = if self.quick { (1, 3) } else { (2, 9) };
        // Keep tiny cases long enough to time.
        if flops < 1e9 {
            (w * 4, r * 3)
        } else {
            (w, r)
        }
    }
}

fn fill(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

struct Out {
    records: Vec<Record>,
}

impl Out {
    fn push(&mut self, r: Record) {
        println!("{}", r.table_row());
        println!("{}", r.json_line());
        self.records.push(r);
    }
}

fn sgemm_record(n: usize, imp: &str, threads: usize, (ms, min_ms): (f64, f64)) -> Record {
    let flops = 2.0 * (n as f64).powi(3);
    Record {
        case: format!("sgemm_{n}"),
        imp: imp.into(),
        threads,
        ms,
        min_ms,
        gflops: flops / ms / 1e6,
        gbps: 0.0,
        extra_mib: -1.0,
    }
}

fn bench_matrixmultiply(o: &Opts, out: &mut Out, threads: usize) {
    for n in SIZES {
        if !o.wants(&format!("sgemm_{n}"), "matrixmultiply") {
            continue;
        }
        let (a, b) = (fill(n * n, 1), fill(n * n, 2));
        let mut c = vec![0.0f32; n * n];
        let (w, r) = o.reps(2.0 * (n as f64).powi(3));
        let t = time_ms(w, r, || {
            let ni = n as isize;
            // SAFETY: a, b, c are n*n row-major buffers; the strides address only them.
            unsafe {
                matrixmultiply::sgemm(
                    n,
                    n,
                    n,
                    1.0,
                    a.as_ptr(),
                    ni,
                    1,
                    b.as_ptr(),
                    ni,
                    1,
                    0.0,
                    c.as_mut_ptr(),
                    ni,
                    1,
                );
            }
        });
        out.push(sgemm_record(n, "matrixmultiply", threads, t));
    }
}

/// One in-process sgemm candidate: name, threads, and a closure computing `c = a @ b`.
type Candidate<'a> = (&'static str, usize, Box<dyn FnMut(&mut [f32]) + 'a>);

fn bench_gemm_libs(o: &Opts, out: &mut Out) {
    for n in SIZES {
        let case = format!("sgemm_{n}");
        let (a, b) = (fill(n * n, 1), fill(n * n, 2));
        let (a, b) = (&a[..], &b[..]);
        let mut cands: Vec<Candidate> = Vec::new();
        for threads in [1usize, 2] {
            if o.wants(&case, "gemm") {
                let par = if threads == 1 {
                    gemm::Parallelism::None
                } else {
                    gemm::Parallelism::Rayon(threads)
                };
                cands.push((
                    "gemm",
                    threads,
                    Box::new(move |c: &mut [f32]| {
                        let ni = n as isize;
                        // SAFETY: a, b, c are n*n row-major buffers; the strides address
                        // only them.
                        unsafe {
                            gemm::gemm(
                                n,
                                n,
                                n,
                                c.as_mut_ptr(),
                                1,
                                ni,
                                false,
                                a.as_ptr(),
                                1,
                                ni,
                                b.as_ptr(),
                                1,
                                ni,
                                0.0f32,
                                1.0f32,
                                false,
                                false,
                                false,
                                par,
                            )
                        }
                    }),
                ));
            }
            if o.wants(&case, "faer") {
                let par = if threads == 1 {
                    faer::Par::Seq
                } else {
                    faer::Par::rayon(threads)
                };
                cands.push((
                    "faer",
                    threads,
                    Box::new(move |c: &mut [f32]| {
                        let am = faer::MatRef::from_row_major_slice(a, n, n);
                        let bm = faer::MatRef::from_row_major_slice(b, n, n);
                        let cm = faer::MatMut::from_row_major_slice_mut(c, n, n);
                        faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, 1.0f32, par);
                    }),
                ));
            }
            if o.wants(&case, "keras_cpu") {
                let parallel = threads > 1;
                cands.push((
                    "keras_cpu",
                    if parallel { rayon::current_num_threads() } else { 1 },
                    Box::new(move |c: &mut [f32]| {
                        let (am, bm) = (MatRef::row_major(a, n, n), MatRef::row_major(b, n, n));
                        if let Err(e) = keras_cpu::matmul::gemm(am, bm, c, 1.0, false, parallel) {
                            panic!("keras_cpu gemm failed: {e}");
                        }
                    }),
                ));
            }
        }
        if cands.is_empty() {
            continue;
        }
        // Interleave the candidates round by round so that a noisy neighbour slows all of
        // them alike; report each one's median and minimum.
        let (w, r) = o.reps(2.0 * (n as f64).powi(3));
        let mut c = vec![0.0f32; n * n];
        let mut samples = vec![Vec::new(); cands.len()];
        for _ in 0..w {
            for cand in cands.iter_mut() {
                (cand.2)(&mut c);
            }
        }
        for _ in 0..r {
            for (cand, s) in cands.iter_mut().zip(samples.iter_mut()) {
                let t = std::time::Instant::now();
                (cand.2)(&mut c);
                s.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        for (cand, mut s) in cands.iter().zip(samples) {
            s.sort_by(f64::total_cmp);
            out.push(sgemm_record(n, cand.0, cand.1, (s[s.len() / 2], s[0])));
        }
    }
    // matrixmultiply reads its thread count once per process: measure it in children.
    for threads in [1usize, 2] {
        if !SIZES
            .iter()
            .any(|n| o.wants(&format!("sgemm_{n}"), "matrixmultiply"))
        {
            break;
        }
        run_child(
            o,
            out,
            "matrixmultiply",
            Command::new(std::env::current_exe().unwrap_or_else(|_| "opbench".into()))
                .arg("--child-mm")
                .arg(threads.to_string())
                .env("MATMUL_NUM_THREADS", threads.to_string()),
        );
    }
}

fn run_child(o: &Opts, out: &mut Out, what: &str, cmd: &mut Command) {
    if o.quick {
        cmd.arg("--quick");
    }
    if let Some(f) = &o.filter {
        cmd.arg("--filter").arg(f);
    }
    match cmd.output() {
        Ok(res) if res.status.success() => {
            let text = String::from_utf8_lossy(&res.stdout);
            for line in text.lines() {
                if let Some(r) = Record::parse_line(line) {
                    out.push(r);
                }
            }
        }
        Ok(res) => println!(
            "skipping {what}: child failed ({}): {}",
            res.status,
            String::from_utf8_lossy(&res.stderr).trim()
        ),
        Err(e) => println!("skipping {what}: cannot start child: {e}"),
    }
}

const NUMPY_SCRIPT: &str = r#"
import sys, time
import numpy as np
sizes = [int(s) for s in sys.argv[1].split(",")]
warm, reps, threads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for n in sizes:
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32) - 0.5
    b = rng.random((n, n), dtype=np.float32) - 0.5
    c = np.empty((n, n), dtype=np.float32)
    for _ in range(warm * (4 if n < 1024 else 1)):
        np.matmul(a, b, out=c)
    ts = []
    for _ in range(reps * (3 if n < 1024 else 1)):
        t = time.perf_counter(); np.matmul(a, b, out=c); ts.append(time.perf_counter() - t)
    ts.sort()
    print("NP", n, threads, ts[len(ts) // 2] * 1e3, ts[0] * 1e3)
"#;

fn bench_numpy(o: &Opts, out: &mut Out) {
    let sizes: Vec<String> = SIZES
        .iter()
        .filter(|n| o.wants(&format!("sgemm_{n}"), "numpy"))
        .map(|n| n.to_string())
        .collect();
    if sizes.is_empty() {
        return;
    }
    let python = std::env::var("KERAS_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&python).args(["-c", "import numpy"]).output() {
        Ok(r) if r.status.success() => {}
        Ok(_) => {
            println!("skipping numpy: `{python} -c 'import numpy'` failed (set KERAS_BENCH_PYTHON)");
            return;
        }
        Err(e) => {
            println!("skipping numpy: cannot run {python}: {e} (set KERAS_BENCH_PYTHON)");
            return;
        }
    }
    let (w, r) = o.reps(1e10);
    for threads in [1usize, 2] {
        let t = threads.to_string();
        let res = Command::new(&python)
            .args([
                "-c",
                NUMPY_SCRIPT,
                &sizes.join(","),
                &w.to_string(),
                &r.to_string(),
                &t,
            ])
            .env("OPENBLAS_NUM_THREADS", &t)
            .env("OMP_NUM_THREADS", &t)
            .env("MKL_NUM_THREADS", &t)
            .output();
        match res {
            Ok(res) if res.status.success() => {
                for line in String::from_utf8_lossy(&res.stdout).lines() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if let ["NP", n, th, ms, min] = f[..] {
                        if let (Ok(n), Ok(th), Ok(ms), Ok(min)) =
                            (n.parse(), th.parse(), ms.parse(), min.parse())
                        {
                            out.push(sgemm_record(n, "numpy", th, (ms, min)));
                        }
                    }
                }
            }
            Ok(res) => println!(
                "skipping numpy: script failed: {}",
                String::from_utf8_lossy(&res.stderr).trim()
            ),
            Err(e) => println!("skipping numpy: {e}"),
        }
    }
}

/// The reference conv case: 3x3, 32 -> 64 channels, batch 128, 32x32, pad 1.
fn conv_case() -> Conv2dParams {
    Conv2dParams {
        batch: 128,
        in_hw: [32, 32],
        in_channels: 32,
        out_channels: 64,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [(1, 1), (1, 1)],
        dilation: [1, 1],
        groups: 1,
    }
}

/// The 3x3 convolutions of the model benchmarks' MNIST convnet and CIFAR-10 CNN at batch 128
/// (`modelbench`), as `(case name, params)`: how fast each layer's passes run alone.
fn model_conv_cases() -> Vec<(String, Conv2dParams)> {
    let layer = |hw: usize, cin: usize, cout: usize, pad: usize| Conv2dParams {
        in_hw: [hw, hw],
        in_channels: cin,
        out_channels: cout,
        padding: [(pad, pad), (pad, pad)],
        ..conv_case()
    };
    [
        ("mnist_cnn_conv1", layer(28, 1, 32, 0)),
        ("mnist_cnn_conv2", layer(13, 32, 64, 0)),
        ("cifar_cnn_conv1", layer(32, 3, 32, 1)),
        ("cifar_cnn_conv2", layer(32, 32, 32, 0)),
        ("cifar_cnn_conv3", layer(15, 32, 64, 1)),
        ("cifar_cnn_conv4", layer(15, 64, 64, 0)),
    ]
    .into_iter()
    .map(|(name, p)| {
        let [oh, ow] = p.out_hw();
        let name = format!("{name}_{}to{}_{}x{}", p.in_channels, p.out_channels, oh, ow);
        (name, p)
    })
    .collect()
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn bench_conv(o: &Opts, out: &mut Out) {
    let reference = ("conv2d_3x3_32to64_b128_32x32".to_string(), conv_case());
    for (name, p) in std::iter::once(reference).chain(model_conv_cases()) {
        bench_conv_case(o, out, &name, p);
    }
}

/// Forward, both gradients and the three together for one convolution.
fn bench_conv_case(o: &Opts, out: &mut Out, case_name: &str, p: Conv2dParams) {
    use keras_cpu::conv::{conv2d_backward_filter, conv2d_backward_input, conv2d_forward};
    let [oh, ow] = p.out_hw();
    let x = fill(p.batch * p.in_hw[0] * p.in_hw[1] * p.in_channels, 3);
    let w = fill(
        p.kernel[0] * p.kernel[1] * p.in_channels / p.groups * p.out_channels,
        4,
    );
    let dy = fill(p.batch * oh * ow * p.out_channels, 5);
    let threads = rayon::current_num_threads();
    let (wu, reps) = o.reps(p.flops());

    let y_bytes = dy.len() * 4;
    let dx_bytes = x.len() * 4;
    let dw_bytes = w.len() * 4;
    // Peak extra memory of one call beyond its returned buffers.
    let scratch = |f: &mut dyn FnMut() -> usize| -> f64 {
        let base = ALLOC.current();
        ALLOC.reset_peak();
        let out_bytes = f();
        mib(ALLOC.peak().saturating_sub(base + out_bytes))
    };

    let fwd = format!("{case_name}_fwd");
    if o.wants(&fwd, "keras_cpu") {
        let mut err = None;
        let mut run = || match conv2d_forward(&p, &x, &w) {
            Ok(y) => {
                std::hint::black_box(&y);
            }
            Err(e) => err = Some(e),
        };
        let t = time_ms(wu, reps, &mut run);
        let extra = scratch(&mut || {
            run();
            y_bytes
        });
        if let Some(e) = err {
            println!("conv2d_forward failed: {e}");
        } else {
            out.push(Record {
                case: fwd,
                imp: "keras_cpu".into(),
                threads,
                ms: t.0,
                min_ms: t.1,
                gflops: p.flops() / t.0 / 1e6,
                gbps: 0.0,
                extra_mib: extra,
            });
        }
    }
    for (suffix, f) in [("_bwd_input", 0), ("_bwd_filter", 1), ("_fwd_bwd", 2)] {
        let name = format!("{case_name}{suffix}");
        if !o.wants(&name, "keras_cpu") {
            continue;
        }
        let mut err = None;
        let mut run = || {
            let r = (|| -> keras_backend::Result<()> {
                if f == 2 {
                    std::hint::black_box(conv2d_forward(&p, &x, &w)?);
                }
                if f != 1 {
                    std::hint::black_box(conv2d_backward_input(&p, &dy, &w)?);
                }
                if f != 0 {
                    std::hint::black_box(conv2d_backward_filter(&p, &x, &dy)?);
                }
                Ok(())
            })();
            if let Err(e) = r {
                err = Some(e);
            }
        };
        let t = time_ms(wu, reps, &mut run);
        let extra = scratch(&mut || {
            run();
            // The biggest single output alive at once (each is dropped before the next call).
            match f {
                0 => dx_bytes,
                1 => dw_bytes,
                _ => y_bytes,
            }
        });
        let flops = p.flops() * if f == 2 { 3.0 } else { 1.0 };
        if let Some(e) = err {
            println!("{name} failed: {e}");
        } else {
            out.push(Record {
                case: name,
                imp: "keras_cpu".into(),
                threads,
                ms: t.0,
                min_ms: t.1,
                gflops: flops / t.0 / 1e6,
                gbps: 0.0,
                extra_mib: extra,
            });
        }
    }
}

fn bench_pool(o: &Opts, out: &mut Out) {
    use keras_cpu::pool::{pool2d_backward, pool2d_forward};
    let p = Pool2dParams {
        batch: 128,
        in_hw: [32, 32],
        channels: 64,
        kernel: [2, 2],
        stride: [2, 2],
        padding: [(0, 0), (0, 0)],
    };
    let [oh, ow] = p.out_hw();
    let x = fill(p.batch * p.in_hw[0] * p.in_hw[1] * p.channels, 6);
    let dy = fill(p.batch * oh * ow * p.channels, 7);
    let threads = rayon::current_num_threads();
    let Ok(y) = pool2d_forward(PoolKind::Max, &p, &x) else {
        println!("pooling: could not build inputs");
        return;
    };
    let (wu, reps) = o.reps(1e9);
    let (xb, yb) = ((x.len() * 4) as f64, (dy.len() * 4) as f64);
    for (kind, kname) in [(PoolKind::Max, "maxpool"), (PoolKind::Avg, "avgpool")] {
        // Compulsory traffic: forward reads x, writes y; backward reads x and y (max only)
        // and dy, writes dx.
        let max_reads = if kind == PoolKind::Max { xb + yb } else { 0.0 };
        for (suffix, bytes, fwd, bwd) in [
            ("_fwd", xb + yb, true, false),
            ("_bwd", yb + xb + max_reads, false, true),
            ("_fwd_bwd", 2.0 * xb + 2.0 * yb + max_reads, true, true),
        ] {
            let name = format!("{kname}2x2_s2_b128_32x32x64{suffix}");
            if !o.wants(&name, "keras_cpu") {
                continue;
            }
            let mut err = None;
            let t = time_ms(wu, reps, || {
                let r = (|| -> keras_backend::Result<()> {
                    if fwd {
                        std::hint::black_box(pool2d_forward(kind, &p, &x)?);
                    }
                    if bwd {
                        std::hint::black_box(pool2d_backward(kind, &p, &x, &y, &dy)?);
                    }
                    Ok(())
                })();
                if let Err(e) = r {
                    err = Some(e);
                }
            });
            if let Some(e) = err {
                println!("{name} failed: {e}");
                continue;
            }
            out.push(Record {
                case: name,
                imp: "keras_cpu".into(),
                threads,
                ms: t.0,
                min_ms: t.1,
                gflops: 0.0,
                gbps: bytes / t.0 / 1e6,
                extra_mib: -1.0,
            });
        }
    }
}

/// Records a `bench_tensor` case timed at `t` (median, min ms), or prints its error.
fn push_tensor_case(
    out: &mut Out,
    name: &str,
    err: Option<keras_tensor::Error>,
    t: (f64, f64),
    gflops: f64,
    gbps: f64,
) {
    match err {
        Some(e) => println!("{name} failed: {e}"),
        None => out.push(Record {
            case: name.into(),
            imp: "keras_tensor".into(),
            threads: rayon::current_num_threads(),
            ms: t.0,
            min_ms: t.1,
            gflops,
            gbps,
            extra_mib: -1.0,
        }),
    }
}

/// Ops through the public `Tensor` API with autodiff, as a training step runs them: the conv
/// case forward + backward (dX and dW from one `backward()`), dropout's forward (mask and
/// product), and sparse softmax cross-entropy over (128, 1000) logits, forward + backward.
fn bench_tensor(o: &Opts, out: &mut Out) {
    use keras_tensor::{sparse_categorical_crossentropy, ConvArgs, DType, Device, Padding, Tensor};
    let cpu = Device::Cpu;
    let p = conv_case();
    let name = "conv2d_3x3_32to64_b128_32x32_tensor_fwd_bwd";
    if o.wants(name, "keras_tensor") {
        let inputs = (|| -> keras_tensor::Result<_> {
            let x = Tensor::random_normal(&[128, 32, 32, 32], 0.0, 1.0, 1, DType::F32, &cpu)?;
            let w = Tensor::random_normal(&[3, 3, 32, 64], 0.0, 0.1, 2, DType::F32, &cpu)?;
            Ok((x, w))
        })();
        let Ok((x0, w0)) = inputs else {
            println!("{name}: could not build inputs");
            return;
        };
        let run = || -> keras_tensor::Result<()> {
            let (x, w) = (x0.variable(), w0.variable());
            let y = x.conv2d(&w, &ConvArgs::new().padding(Padding::Same))?;
            // The upstream gradient of sum(y) is a broadcast scalar of ones, so the backward
            // kernels see a full dL/dy tensor as in training.
            let grads = y.sum_all()?.backward()?;
            std::hint::black_box((grads.get(&x).is_some(), grads.get(&w).is_some()));
            Ok(())
        };
        let (wu, reps) = o.reps(3.0 * p.flops());
        let mut err = None;
        let t = time_ms(wu, reps, || {
            if let Err(e) = run() {
                err = Some(e);
            }
        });
        push_tensor_case(out, name, err, t, 3.0 * p.flops() / t.0 / 1e6, 0.0);
    }
    let name = "dropout_0.25_128x16x16x32_fwd";
    if o.wants(name, "keras_tensor") {
        // The CIFAR CNN's first dropout, as training runs it: draw the mask, multiply.
        let Ok(x) = Tensor::random_normal(&[128, 16, 16, 32], 0.0, 1.0, 6, DType::F32, &cpu) else {
            println!("{name}: could not build inputs");
            return;
        };
        let mut seed = 0;
        let (wu, reps) = o.reps(1e6);
        let mut err = None;
        let t = time_ms(wu, reps, || {
            seed += 1;
            match x.dropout(0.25, None, seed) {
                Ok(y) => drop(std::hint::black_box(y)),
                Err(e) => err = Some(e),
            }
        });
        // Traffic: write the mask, read it and x, write y.
        let bytes = 4.0 * x.shape().iter().product::<usize>() as f64 * 4.0;
        push_tensor_case(out, name, err, t, 0.0, bytes / t.0 / 1e6);
    }
    let name = "softmax_ce_128x1000_fwd_bwd";
    if o.wants(name, "keras_tensor") {
        let logits = Tensor::random_normal(&[128, 1000], 0.0, 1.0, 4, DType::F32, &cpu);
        let labels =
            Tensor::random_uniform(&[128], 0.0, 1000.0, 5, DType::F32, &cpu).and_then(|l| l.cast(DType::I64));
        let (Ok(logits), Ok(labels)) = (logits, labels) else {
            println!("{name}: could not build inputs");
            return;
        };
        let run = || -> keras_tensor::Result<()> {
            let z = logits.variable();
            let loss = sparse_categorical_crossentropy(&labels, &z, true)?.mean(&[], false)?;
            let g = loss.backward()?;
            std::hint::black_box(g.get(&z).is_some());
            Ok(())
        };
        let (wu, reps) = o.reps(1e6);
        let mut err = None;
        let t = time_ms(wu, reps, || {
            if let Err(e) = run() {
                err = Some(e);
            }
        });
        // Compulsory traffic: read the logits, write their gradient.
        let bytes = 2.0 * 128.0 * 1000.0 * 4.0;
        push_tensor_case(out, name, err, t, 0.0, bytes / t.0 / 1e6);
    }
}

fn main() {
    let o = match Opts::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("opbench: {e}\nusage: opbench [--quick] [--filter SUBSTR]");
            std::process::exit(2);
        }
    };
    let mut out = Out { records: Vec::new() };
    if let Some(t) = o.child_mm {
        bench_matrixmultiply(&o, &mut out, t);
        return;
    }
    println!(
        "opbench: {} rayon threads{}",
        rayon::current_num_threads(),
        if o.quick { ", quick" } else { "" }
    );
    println!("{}", table_header());
    bench_gemm_libs(&o, &mut out);
    bench_numpy(&o, &mut out);
    bench_conv(&o, &mut out);
    bench_pool(&o, &mut out);
    bench_tensor(&o, &mut out);

    // Summary: the chosen GEMM against NumPy at 2048 on all threads.
    let best = |imp: &str| {
        out.records
            .iter()
            .filter(|r| r.case == "sgemm_2048" && r.imp == imp)
            .map(|r| r.gflops)
            .fold(0.0f64, f64::max)
    };
    let (ours, np) = (best("keras_cpu"), best("numpy"));
    if ours > 0.0 && np > 0.0 {
        println!(
            "sgemm_2048: keras_cpu {ours:.1} GFLOP/s = {:.0}% of numpy {np:.1}",
            100.0 * ours / np
        );
    }
    println!("\n{}", table_header());
    for r in &out.records {
        println!("{}", r.table_row());
    }
}
