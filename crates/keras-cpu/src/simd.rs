//! Wider vector instructions for the elementwise loops, chosen at run time.
//!
//! The crate is built for x86-64's baseline, whose vectors are SSE2's four floats, so that one
//! binary runs on any x86-64 CPU. The GEMM library picks AVX2 or AVX-512 at run time by
//! itself; the elementwise loops (activations, the recurrent cells' gate math, batch
//! normalization, optimizer updates) get the same through [`vectorized`]: the loop is
//! compiled a second time for AVX2 and FMA, and that copy runs when the CPU has them.
//! Results are bitwise the same either way: Rust never contracts `a * b + c` into a fused
//! multiply-add by itself, nor reorders a floating-point sum, so only the vector width
//! changes.

/// Runs `f` compiled for AVX2 and FMA when the CPU has them, else as built. `f` must be a
/// loop that does not cross threads: code it hands to other threads (a rayon job) is compiled
/// on its own, for the baseline. Call this inside each thread's chunk of work. The loop body
/// is compiled for AVX2 when it is inlined into `f`, so its helpers should be `#[inline]`.
///
/// ```
/// let v = [1.0f32, 2.0, 3.0];
/// let doubled: Vec<f32> = keras_cpu::simd::vectorized(|| v.iter().map(|x| x * 2.0).collect());
/// assert_eq!(doubled, [2.0, 4.0, 6.0]);
/// ```
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports both features, checked just above.
            return unsafe { avx2_fma(f) };
        }
    }
    f()
}

/// `f()` with AVX2 and FMA enabled for whatever is inlined into it.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Float;

    /// The activations' loops give the same bits compiled for the baseline and for AVX2:
    /// only the vector width differs.
    #[test]
    fn wide_loops_give_the_baseline_bits() {
        let x: Vec<f32> = (-40_000..40_000).map(|i| i as f32 * 2.5e-3).collect();
        let body = || -> Vec<u32> {
            let mut out = Vec::with_capacity(3 * x.len());
            out.extend(x.iter().map(|v| v.sigmoid_k().to_bits()));
            out.extend(x.iter().map(|v| v.tanh_k().to_bits()));
            out.extend(x.iter().map(|v| (v * 1.5 + 0.25).exp_k().to_bits()));
            out
        };
        let baseline = body();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: both features were detected just above.
            assert!(unsafe { avx2_fma(body) } == baseline);
        }
        assert!(vectorized(body) == baseline);
    }
}
