//! The model benchmark suite (`modelbench`, `bench/run-models`): which models it runs, their
//! input shapes, and the one place where their floating-point operations are counted.
//!
//! Every framework's row in the results table (keras-rs, Keras 3 on TensorFlow and on JAX,
//! PyTorch) divides the same counts by its own measured time.
//!
//! **Convention** ([`FLOP_CONVENTION`]): a multiply-accumulate is 2 FLOPs; only the matrix
//! products are counted — convolutions, dense layers and the LSTM's input and recurrent
//! matmuls, forward. Elementwise work (activations, bias, batch normalization, pooling,
//! dropout, the optimizer update) and embedding lookups count 0. One training step costs 3×
//! the forward pass (forward, gradient of the inputs, gradient of the weights); one prediction
//! costs 1× the forward pass.

/// The convention the FLOP counts follow, as printed with every table.
pub const FLOP_CONVENTION: &str = "FLOPs = 2 x multiply-accumulates of the conv/dense/LSTM matmuls \
     (elementwise, normalization, pooling, embedding lookups and optimizer updates count 0); \
     training step = 3 x forward, predict = 1 x forward";

/// Samples per batch, for every model and framework.
pub const BATCH: usize = 128;

/// A model of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// Short name used on the command line and in results (`mlp`, `mnist_cnn`, …).
    pub name: &'static str,
    /// What it is, for tables.
    pub title: &'static str,
    /// Shape of one input sample (without the batch axis), channels last.
    pub input_shape: &'static [usize],
}

/// The models of the suite, in table order.
pub const MODELS: [ModelSpec; 5] = [
    ModelSpec {
        name: "mlp",
        title: "MLP 784-128-10, Adam",
        input_shape: &[784],
    },
    ModelSpec {
        name: "mnist_cnn",
        title: "keras.io simple MNIST convnet, Adam",
        input_shape: &[28, 28, 1],
    },
    ModelSpec {
        name: "cifar_cnn",
        title: "CIFAR-10 CNN (4 conv + Dense 512), Adam",
        input_shape: &[32, 32, 3],
    },
    ModelSpec {
        name: "resnet20",
        title: "ResNet-20 v1 (CIFAR), SGD momentum 0.9",
        input_shape: &[32, 32, 3],
    },
    ModelSpec {
        name: "lstm",
        title: "Embedding(20000,128) + LSTM(64) + Dense(1), Adam",
        input_shape: &[200],
    },
];

/// The model called `name`, if the suite has one.
///
/// ```
/// assert_eq!(keras_bench::models::spec("mlp").unwrap().input_shape, &[784]);
/// assert!(keras_bench::models::spec("vgg").is_none());
/// ```
pub fn spec(name: &str) -> Option<ModelSpec> {
    MODELS.iter().copied().find(|m| m.name == name)
}

/// Multiply-accumulates of a model, counted while walking its layers' output shapes.
#[derive(Clone, Debug, Default)]
struct Walk {
    h: usize,
    w: usize,
    c: usize,
    macs: f64,
}

impl Walk {
    fn image(h: usize, w: usize, c: usize) -> Walk {
        Walk { h, w, c, macs: 0.0 }
    }

    /// A `k`x`k` convolution to `filters` channels; `same` padding or `valid`.
    fn conv(&mut self, filters: usize, k: usize, stride: usize, same: bool) -> &mut Self {
        let out = |n: usize| {
            if same {
                n.div_ceil(stride)
            } else {
                (n - k) / stride + 1
            }
        };
        (self.h, self.w) = (out(self.h), out(self.w));
        self.macs += (self.h * self.w * filters * k * k * self.c) as f64;
        self.c = filters;
        self
    }

    /// Max pooling by 2 (valid): no FLOPs.
    fn pool2(&mut self) -> &mut Self {
        (self.h, self.w) = (self.h / 2, self.w / 2);
        self
    }

    /// Flattens (or globally pools when `gap`) to a vector.
    fn flatten(&mut self, gap: bool) -> &mut Self {
        if !gap {
            self.c *= self.h * self.w;
        }
        (self.h, self.w) = (1, 1);
        self
    }

    fn dense(&mut self, units: usize) -> &mut Self {
        self.macs += (self.c * units) as f64;
        self.c = units;
        self
    }
}

/// Forward-pass FLOPs of one sample of model `name` (see the module documentation for the
/// convention), or `None` for a name the suite does not have.
///
/// ```
/// // 784x128 + 128x10 multiply-accumulates.
/// assert_eq!(keras_bench::models::forward_flops("mlp"), Some(2.0 * (784.0 * 128.0 + 1280.0)));
/// ```
pub fn forward_flops(name: &str) -> Option<f64> {
    let macs = match name {
        "mlp" => {
            let mut w = Walk::image(1, 1, 784);
            w.dense(128).dense(10);
            w.macs
        }
        "mnist_cnn" => {
            let mut w = Walk::image(28, 28, 1);
            w.conv(32, 3, 1, false).pool2().conv(64, 3, 1, false).pool2();
            w.flatten(false).dense(10);
            w.macs
        }
        "cifar_cnn" => {
            let mut w = Walk::image(32, 32, 3);
            w.conv(32, 3, 1, true).conv(32, 3, 1, false).pool2();
            w.conv(64, 3, 1, true).conv(64, 3, 1, false).pool2();
            w.flatten(false).dense(512).dense(10);
            w.macs
        }
        "resnet20" => {
            let mut w = Walk::image(32, 32, 3);
            w.conv(16, 3, 1, true);
            for (stage, filters) in [16, 32, 64].into_iter().enumerate() {
                for block in 0..3 {
                    let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                    let input = w.clone();
                    w.conv(filters, 3, stride, true).conv(filters, 3, 1, true);
                    if stride != 1 || input.c != filters {
                        // The 1x1 projection of the shortcut.
                        let mut p = input;
                        p.macs = 0.0;
                        p.conv(filters, 1, stride, true);
                        w.macs += p.macs;
                    }
                }
            }
            w.flatten(true).dense(10);
            w.macs
        }
        "lstm" => {
            let (seq, embed, units) = (200.0, 128.0, 64.0);
            // Per step: the 4 gates from the input and from the previous state.
            seq * 4.0 * units * (embed + units) + units
        }
        _ => return None,
    };
    Some(2.0 * macs)
}

/// FLOPs of one training step (forward and backward) on one sample: 3x [`forward_flops`].
pub fn train_flops(name: &str) -> Option<f64> {
    forward_flops(name).map(|f| 3.0 * f)
}

/// The machine's processor as `/proc/cpuinfo` names it, its logical CPUs, its clock (MHz, as
/// reported there) and the fp32 FLOPs per cycle and core its widest vector FMA gives (2 FMA
/// units: 64 with AVX-512, 32 with AVX2+FMA, 16 with AVX, 8 otherwise; 32 with AVX-512 on
/// AMD Zen 4, which runs each 512-bit FMA as two 256-bit halves).
#[derive(Clone, Debug, Default)]
pub struct CpuInfo {
    /// `model name`.
    pub model: String,
    /// CPUs this process may use.
    pub cpus: usize,
    /// `cpu MHz` of the first processor (0 when unknown).
    pub mhz: f64,
    /// fp32 FLOPs per cycle per core.
    pub flops_per_cycle: f64,
    /// The vector extension that sets `flops_per_cycle`.
    pub isa: &'static str,
}

impl CpuInfo {
    /// Reads `/proc/cpuinfo` (fields stay empty / 0 where it is missing).
    pub fn read() -> CpuInfo {
        let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        CpuInfo::parse(&text, cpus)
    }

    /// Parses the text of `/proc/cpuinfo` (its first processor), for `cpus` CPUs.
    ///
    /// ```
    /// let text = "vendor_id : AuthenticAMD\ncpu family : 25\nmodel name : AMD EPYC\n\
    ///             cpu MHz : 2600.0\nflags : fpu avx avx2 fma avx512f\n";
    /// let c = keras_bench::models::CpuInfo::parse(text, 2);
    /// assert_eq!((c.flops_per_cycle, c.isa), (32.0, "AVX-512 (256-bit FMA units, AMD Zen 4)"));
    /// ```
    pub fn parse(text: &str, cpus: usize) -> CpuInfo {
        let field = |key: &str| {
            text.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let flags = field("flags");
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        let zen4 = field("vendor_id") == "AuthenticAMD" && field("cpu family") == "25";
        let (isa, flops_per_cycle) = if has("avx512f") && zen4 {
            ("AVX-512 (256-bit FMA units, AMD Zen 4)", 32.0)
        } else if has("avx512f") {
            ("AVX-512", 64.0)
        } else if has("avx2") && has("fma") {
            ("AVX2+FMA", 32.0)
        } else if has("avx") {
            ("AVX", 16.0)
        } else {
            ("SSE", 8.0)
        };
        CpuInfo {
            model: field("model name"),
            cpus,
            mhz: field("cpu MHz").parse().unwrap_or(0.0),
            flops_per_cycle,
            isa,
        }
    }

    /// Estimated fp32 peak in GFLOP/s: CPUs x GHz x FLOPs per cycle.
    ///
    /// ```
    /// let c = keras_bench::models::CpuInfo { cpus: 2, mhz: 2100.0, flops_per_cycle: 64.0, ..Default::default() };
    /// assert!((c.peak_gflops() - 268.8).abs() < 1e-9);
    /// ```
    pub fn peak_gflops(&self) -> f64 {
        self.cpus as f64 * self.mhz / 1e3 * self.flops_per_cycle
    }

    /// [`CpuInfo::peak_gflops`] with how it was estimated, for reports.
    ///
    /// ```
    /// let c = keras_bench::models::CpuInfo { cpus: 2, mhz: 2100.0, flops_per_cycle: 64.0, isa: "AVX-512", ..Default::default() };
    /// assert!(c.estimate_text().starts_with("268.8 GFLOP/s = 2 CPUs x 2.10 GHz"));
    /// ```
    pub fn estimate_text(&self) -> String {
        format!(
            "{:.1} GFLOP/s = {} CPUs x {:.2} GHz (cpu MHz in /proc/cpuinfo) x {} fp32 FLOP/cycle ({})",
            self.peak_gflops(),
            self.cpus,
            self.mhz / 1e3,
            self.flops_per_cycle,
            self.isa
        )
    }
}

/// The fp32 peak tables divide by: the better of two half-second [`measure_fma_gflops`] runs
/// (the first may run while the clock is still rising).
pub fn measured_peak_gflops() -> f64 {
    (0..2).map(|_| measure_fma_gflops(0.5)).fold(0.0, f64::max)
}

/// The fp32 FLOP rate this machine sustains, measured: one thread per CPU runs independent
/// chains of fused multiply-adds on the widest vectors it has (AVX-512, else AVX2+FMA, else
/// scalar `mul_add`) for about `secs` seconds; returns the sum of their rates in GFLOP/s.
///
/// Unlike [`CpuInfo::peak_gflops`] this sees the clock the cores actually run at (turbo,
/// or a virtual machine's `cpu MHz` that is only the base clock) and how wide their FMA units
/// really are; on a shared machine other tenants lower it.
///
/// ```
/// let g = keras_bench::models::measure_fma_gflops(0.05);
/// assert!(g > 0.0);
/// ```
pub fn measure_fma_gflops(secs: f64) -> f64 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..cpus).map(|_| s.spawn(|| fma_thread_gflops(secs))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// Multiply-adds per lane and round of [`fma_rounds`]: enough to make the clock reads rare.
const FMA_ROUNDS: usize = 1 << 16;

/// One thread's FMA rate in GFLOP/s over about `secs` seconds (after a warm-up round).
fn fma_thread_gflops(secs: f64) -> f64 {
    let (flops_per_round, round): (f64, fn() -> f32) = fma_kernel();
    let mut sink = round();
    let start = std::time::Instant::now();
    let mut rounds = 0u64;
    while rounds == 0 || start.elapsed().as_secs_f64() < secs {
        sink += round();
        rounds += 1;
    }
    std::hint::black_box(sink);
    rounds as f64 * flops_per_round / start.elapsed().as_secs_f64() / 1e9
}

/// The widest FMA loop this CPU runs, and its FLOPs per call.
fn fma_kernel() -> (f64, fn() -> f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY (of the calls): the CPU has AVX-512F, checked just above.
            return (fma_flops(16), || unsafe { fma_rounds_avx512() });
        }
        if is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma") {
            // SAFETY (of the calls): the CPU has AVX and FMA, checked just above.
            return (fma_flops(8), || unsafe { fma_rounds_avx2() });
        }
    }
    (fma_flops(1), fma_rounds_scalar)
}

/// Independent accumulators per loop: more than an FMA unit's latency times their count.
const CHAINS: usize = 12;

/// FLOPs of one call of a kernel `lanes` wide: 2 per multiply-add.
fn fma_flops(lanes: usize) -> f64 {
    (2 * FMA_ROUNDS * CHAINS * lanes) as f64
}

/// The AVX-512 loop, in assembly: the AVX-512 intrinsics and target feature need a newer
/// Rust than this workspace's minimum. Accumulators `zmm0..zmm11`, constants `zmm12`,
/// `zmm13`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
unsafe fn fma_rounds_avx512() -> f32 {
    let (a, b) = (0.999_9f32, 1e-4f32);
    let mut out = [0.0f32; 16];
    // SAFETY: the caller guarantees AVX-512F; the loop reads `a` and `b` and writes the 64
    // bytes of `out`; every vector register it uses is caller-saved, and `clobber_abi("C")`
    // tells the compiler so.
    unsafe {
        std::arch::asm!(
            "vbroadcastss zmm12, dword ptr [{a}]",
            "vbroadcastss zmm13, dword ptr [{b}]",
            "vxorps xmm0, xmm0, xmm0",
            "vxorps xmm1, xmm1, xmm1",
            "vxorps xmm2, xmm2, xmm2",
            "vxorps xmm3, xmm3, xmm3",
            "vxorps xmm4, xmm4, xmm4",
            "vxorps xmm5, xmm5, xmm5",
            "vxorps xmm6, xmm6, xmm6",
            "vxorps xmm7, xmm7, xmm7",
            "vxorps xmm8, xmm8, xmm8",
            "vxorps xmm9, xmm9, xmm9",
            "vxorps xmm10, xmm10, xmm10",
            "vxorps xmm11, xmm11, xmm11",
            "2:",
            "vfmadd213ps zmm0, zmm12, zmm13",
            "vfmadd213ps zmm1, zmm12, zmm13",
            "vfmadd213ps zmm2, zmm12, zmm13",
            "vfmadd213ps zmm3, zmm12, zmm13",
            "vfmadd213ps zmm4, zmm12, zmm13",
            "vfmadd213ps zmm5, zmm12, zmm13",
            "vfmadd213ps zmm6, zmm12, zmm13",
            "vfmadd213ps zmm7, zmm12, zmm13",
            "vfmadd213ps zmm8, zmm12, zmm13",
            "vfmadd213ps zmm9, zmm12, zmm13",
            "vfmadd213ps zmm10, zmm12, zmm13",
            "vfmadd213ps zmm11, zmm12, zmm13",
            "dec rcx",
            "jnz 2b",
            "vaddps zmm0, zmm0, zmm1",
            "vaddps zmm0, zmm0, zmm2",
            "vaddps zmm0, zmm0, zmm3",
            "vaddps zmm0, zmm0, zmm4",
            "vaddps zmm0, zmm0, zmm5",
            "vaddps zmm0, zmm0, zmm6",
            "vaddps zmm0, zmm0, zmm7",
            "vaddps zmm0, zmm0, zmm8",
            "vaddps zmm0, zmm0, zmm9",
            "vaddps zmm0, zmm0, zmm10",
            "vaddps zmm0, zmm0, zmm11",
            "vmovups zmmword ptr [{out}], zmm0",
            "vzeroupper",
            a = in(reg) &a,
            b = in(reg) &b,
            out = in(reg) out.as_mut_ptr(),
            inout("rcx") FMA_ROUNDS => _,
            clobber_abi("C"),
            options(nostack),
        );
    }
    out.iter().sum()
}

/// The AVX2 loop.
///
/// # Safety
/// The CPU must have AVX and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn fma_rounds_avx2() -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999_9), _mm256_set1_ps(1e-4));
    let mut acc = [_mm256_set1_ps(std::hint::black_box(0.0)); CHAINS];
    for _ in 0..FMA_ROUNDS {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut out = [0.0f32; 8];
    let mut total = 0.0;
    for x in acc {
        // SAFETY: `out` holds exactly one unaligned 256-bit vector.
        _mm256_storeu_ps(out.as_mut_ptr(), x);
        total += out.iter().sum::<f32>();
    }
    total
}

fn fma_rounds_scalar() -> f32 {
    let mut acc = [std::hint::black_box(0.0f32); CHAINS];
    for _ in 0..FMA_ROUNDS {
        for x in acc.iter_mut() {
            *x = x.mul_add(0.999_9, 1e-4);
        }
    }
    acc.iter().sum()
}

/// Peak resident memory of this process so far (`VmHWM` in `/proc/self/status`), in MiB;
/// `None` where the file or field is missing.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_counts_match_hand_counts() {
        // Conv 26x26x32 from 3x3x1, conv 11x11x64 from 3x3x32, dense 1600 -> 10.
        let mnist = 26.0 * 26.0 * 32.0 * 9.0 + 11.0 * 11.0 * 64.0 * 288.0 + 1600.0 * 10.0;
        assert_eq!(forward_flops("mnist_cnn"), Some(2.0 * mnist));
        let cifar = 32.0 * 32.0 * 32.0 * 27.0
            + 30.0 * 30.0 * 32.0 * 288.0
            + 15.0 * 15.0 * 64.0 * 288.0
            + 13.0 * 13.0 * 64.0 * 576.0
            + 2304.0 * 512.0
            + 5120.0;
        assert_eq!(forward_flops("cifar_cnn"), Some(2.0 * cifar));
        // ResNet-20: about 41 M multiply-accumulates.
        let r = forward_flops("resnet20").unwrap() / 2.0;
        let stem = 1024.0 * 16.0 * 27.0;
        let s1 = 6.0 * 1024.0 * 16.0 * 144.0;
        let s2 = 256.0 * 32.0 * 144.0 + 256.0 * 32.0 * 16.0 + 5.0 * 256.0 * 32.0 * 288.0;
        let s3 = 64.0 * 64.0 * 288.0 + 64.0 * 64.0 * 32.0 + 5.0 * 64.0 * 64.0 * 576.0;
        assert_eq!(r, stem + s1 + s2 + s3 + 640.0);
        assert_eq!(
            forward_flops("lstm"),
            Some(2.0 * (200.0 * 4.0 * 64.0 * 192.0 + 64.0))
        );
        for m in MODELS {
            assert_eq!(train_flops(m.name), forward_flops(m.name).map(|f| 3.0 * f));
        }
    }

    #[test]
    fn reads_this_machine() {
        assert!(peak_rss_mib().is_some_and(|m| m > 0.0));
        assert!(CpuInfo::read().cpus >= 1);
    }

    #[test]
    fn fma_width_follows_flags_and_zen4() {
        let cpu = |vendor: &str, family: u32, flags: &str| {
            let text = format!(
                "vendor_id\t: {vendor}\ncpu family\t: {family}\nmodel name\t: X\ncpu MHz\t\t: 2000.000\nflags\t\t: {flags}\n"
            );
            CpuInfo::parse(&text, 2)
        };
        assert_eq!(
            cpu("GenuineIntel", 6, "sse avx avx2 fma avx512f").flops_per_cycle,
            64.0
        );
        assert_eq!(
            cpu("AuthenticAMD", 25, "sse avx avx2 fma avx512f").flops_per_cycle,
            32.0
        );
        assert_eq!(
            cpu("AuthenticAMD", 26, "sse avx avx2 fma avx512f").flops_per_cycle,
            64.0
        );
        assert_eq!(cpu("AuthenticAMD", 25, "sse avx avx2 fma").flops_per_cycle, 32.0);
        assert_eq!(cpu("GenuineIntel", 6, "sse avx").flops_per_cycle, 16.0);
        let c = cpu("GenuineIntel", 6, "sse");
        assert_eq!(
            (c.flops_per_cycle, c.mhz, c.cpus, c.model.as_str()),
            (8.0, 2000.0, 2, "X")
        );
    }

    #[test]
    fn every_fma_kernel_counts_its_work() {
        // Each kernel runs FMA_ROUNDS steps of x -> 0.9999 x + 1e-4 from 0 on every lane,
        // which gives 1 - 0.9999^FMA_ROUNDS; the kernels return the sum over their lanes.
        let want = 1.0 - 0.9999f64.powi(FMA_ROUNDS as i32);
        let per_lane = |total: f32, lanes: usize| total as f64 / (CHAINS * lanes) as f64;
        assert!((per_lane(fma_rounds_scalar(), 1) - want).abs() < 1e-3);
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX and FMA.
                assert!((per_lane(unsafe { fma_rounds_avx2() }, 8) - want).abs() < 1e-3);
            }
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                assert!((per_lane(unsafe { fma_rounds_avx512() }, 16) - want).abs() < 1e-3);
            }
        }
        assert_eq!(fma_flops(16), 2.0 * 65536.0 * 12.0 * 16.0);
    }
}
