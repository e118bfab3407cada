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
/// units: 64 with AVX-512, 32 with AVX2+FMA, 16 with AVX, 8 otherwise).
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
        let field = |key: &str| {
            text.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let flags = field("flags");
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        let (isa, flops_per_cycle) = if has("avx512f") {
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
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
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
}
