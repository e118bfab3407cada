//! Benchmark helpers for keras-rs: timing, result records and a counting allocator.
//!
//! The `opbench` binary (`cargo run --release -p keras-bench --bin opbench`) uses these to
//! compare the CPU kernels with the candidate GEMM libraries and NumPy. The `modelbench`
//! binary (run through `bench/run-models`) times whole models against Keras 3 on TensorFlow
//! and JAX and PyTorch; [`models`] holds the suite's models and their FLOP counts.

pub mod models;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// A global allocator that forwards to [`System`] and tracks the bytes currently allocated
/// and the peak since the last [`CountingAlloc::reset_peak`].
///
/// ```
/// use keras_bench::CountingAlloc;
/// static A: CountingAlloc = CountingAlloc::new();
/// assert_eq!(A.current(), 0);
/// ```
pub struct CountingAlloc {
    current: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAlloc {
    /// A counter with nothing allocated.
    pub const fn new() -> Self {
        CountingAlloc {
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Bytes allocated now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Highest [`current`](Self::current) since the last reset.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Sets the peak to the current allocation.
    pub fn reset_peak(&self) {
        self.peak.store(self.current(), Ordering::Relaxed);
    }

    fn add(&self, n: usize) {
        let now = self.current.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn sub(&self, n: usize) {
        self.current.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every call forwards to `System` with the caller's layout; the counters are only
// bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.add(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        self.sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            self.sub(layout.size());
            self.add(new_size);
        }
        p
    }
}

/// Runs `f` `warmup` times, then `reps` times, and returns the median and minimum wall time
/// of the timed runs in milliseconds.
///
/// ```
/// let (median, min) = keras_bench::time_ms(1, 3, || { std::hint::black_box(1 + 1); });
/// assert!(min <= median);
/// ```
pub fn time_ms(warmup: usize, reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..warmup {
        f();
    }
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0])
}

/// One measured case, printed as a table row and as a `BENCH {json}` line.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// Case name, e.g. `sgemm_2048`.
    pub case: String,
    /// Implementation, e.g. `gemm`, `faer`, `numpy`, `keras_cpu`.
    pub imp: String,
    /// Threads used.
    pub threads: usize,
    /// Median milliseconds per run.
    pub ms: f64,
    /// Fastest run in milliseconds.
    pub min_ms: f64,
    /// GFLOP/s at the median time (0 when not meaningful).
    pub gflops: f64,
    /// GB/s of compulsory memory traffic at the median time (0 when not reported).
    pub gbps: f64,
    /// Peak extra memory in MiB during the op (negative when not measured).
    pub extra_mib: f64,
}

impl Record {
    /// The machine-readable line: `BENCH {"case":...}`.
    ///
    /// ```
    /// let r = keras_bench::Record { case: "x".into(), imp: "y".into(), threads: 1, ..Default::default() };
    /// assert!(r.json_line().starts_with("BENCH {\"case\":\"x\""));
    /// ```
    pub fn json_line(&self) -> String {
        let mut s = format!(
            "BENCH {{\"case\":\"{}\",\"impl\":\"{}\",\"threads\":{},\"ms\":{:.3},\"min_ms\":{:.3},\"gflops\":{:.2}",
            self.case, self.imp, self.threads, self.ms, self.min_ms, self.gflops
        );
        if self.gbps > 0.0 {
            s += &format!(",\"gbps\":{:.2}", self.gbps);
        }
        if self.extra_mib >= 0.0 {
            s += &format!(",\"extra_mib\":{:.2}", self.extra_mib);
        }
        s + "}"
    }

    /// A fixed-width table row (see [`table_header`]).
    pub fn table_row(&self) -> String {
        let opt = |v: f64, ok: bool| {
            if ok {
                format!("{v:>9.2}")
            } else {
                format!("{:>9}", "-")
            }
        };
        format!(
            "{:<28} {:<18} {:>3} {:>10.3} {:>10.3} {} {} {}",
            self.case,
            self.imp,
            self.threads,
            self.ms,
            self.min_ms,
            opt(self.gflops, self.gflops > 0.0),
            opt(self.gbps, self.gbps > 0.0),
            opt(self.extra_mib, self.extra_mib >= 0.0)
        )
    }

    /// Parses a line made by [`json_line`](Self::json_line) (used to collect results from
    /// child processes). Returns `None` for any other line.
    pub fn parse_line(line: &str) -> Option<Record> {
        let body = line.strip_prefix("BENCH {")?.strip_suffix('}')?;
        let mut r = Record {
            extra_mib: -1.0,
            ..Default::default()
        };
        for field in body.split(',') {
            let (k, v) = field.split_once(':')?;
            let k = k.trim_matches('"');
            let v = v.trim_matches('"');
            match k {
                "case" => r.case = v.to_string(),
                "impl" => r.imp = v.to_string(),
                "threads" => r.threads = v.parse().ok()?,
                "ms" => r.ms = v.parse().ok()?,
                "min_ms" => r.min_ms = v.parse().ok()?,
                "gflops" => r.gflops = v.parse().ok()?,
                "gbps" => r.gbps = v.parse().ok()?,
                "extra_mib" => r.extra_mib = v.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }
}

/// Header matching [`Record::table_row`].
pub fn table_header() -> String {
    format!(
        "{:<28} {:<18} {:>3} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "case", "impl", "thr", "median_ms", "min_ms", "GFLOP/s", "GB/s", "extraMiB"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let r = Record {
            case: "sgemm_512".into(),
            imp: "gemm".into(),
            threads: 2,
            ms: 1.5,
            min_ms: 1.25,
            gflops: 100.0,
            gbps: 0.0,
            extra_mib: 3.5,
        };
        let p = Record::parse_line(&r.json_line()).expect("parses");
        assert_eq!(p.case, "sgemm_512");
        assert_eq!(p.imp, "gemm");
        assert_eq!(p.threads, 2);
        assert_eq!(p.gflops, 100.0);
        assert_eq!(p.extra_mib, 3.5);
        assert!(Record::parse_line("hello").is_none());
    }
}
