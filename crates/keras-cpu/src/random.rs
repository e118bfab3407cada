//! Random tensors: element `i` is `keras_backend::random::sample(dist, seed, i)`, whatever the
//! thread count.
//!
//! Dropout masks are drawn in training steps, so they take a faster path: eight Philox blocks
//! at once in AVX2 vectors, each word turned into its element by one compare. The words are
//! the ones `keras_backend::random::bits` gives, so a mask has the same bits on any CPU,
//! vector path or not.

use half::{bf16, f16};
use keras_backend::op::RandomDist;
use keras_backend::random::{bits, dropout_threshold, sample_block, M0, M1, W0, W1};
use keras_backend::{DType, Error, Result};

use std::mem::MaybeUninit;

use crate::storage::{par_written, CpuStorage, StorageElement};

/// Blocks per [`bits8`] call.
const LANES: usize = 8;

/// Fills `n` elements of `dtype` from a counter-based distribution (see the module docs).
///
/// Returns [`Error::UnsupportedDType`] for a dtype the distribution cannot fill.
///
/// ```
/// use keras_backend::{op::RandomDist, random::sample, DType};
/// let d = RandomDist::Dropout { rate: 0.5 };
/// let m = keras_cpu::random::random(d, 3, 10, DType::F32)?;
/// assert_eq!(m.as_slice::<f32>()?[7], sample(d, 3, 7) as f32);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn random(dist: RandomDist, seed: u64, n: usize, dtype: DType) -> Result<CpuStorage> {
    if !dtype.is_float() && !matches!(dist, RandomDist::Bernoulli { .. }) {
        return Err(Error::UnsupportedDType {
            op: "random",
            dtype,
            hint: "random values need a float dtype (bernoulli also takes int and bool)",
        });
    }
    Ok(match dtype {
        DType::Bool => fill::<bool>(dist, seed, n),
        DType::U8 => fill::<u8>(dist, seed, n),
        DType::I32 => fill::<i32>(dist, seed, n),
        DType::I64 => fill::<i64>(dist, seed, n),
        DType::F16 => fill::<f16>(dist, seed, n),
        DType::BF16 => fill::<bf16>(dist, seed, n),
        DType::F32 => fill::<f32>(dist, seed, n),
        DType::F64 => fill::<f64>(dist, seed, n),
    })
}

/// Fills the target dtype directly (one pass, no f64 buffer, no zeroing first): element `i`
/// is `sample(i)` converted once.
fn fill<T: StorageElement>(dist: RandomDist, seed: u64, n: usize) -> CpuStorage {
    const CHUNK: usize = 4096;
    // Chunks start at multiples of 4: each run of four elements is one `sample_block`.
    // SAFETY: every element of each chunk is written, by `dropout_groups` or the loop after.
    let vals = unsafe {
        par_written(n, CHUNK, |offset, chunk: &mut [MaybeUninit<T>]| {
            let first = (offset / 4) as u64;
            let done = match dist {
                RandomDist::Dropout { rate } => dropout_groups(chunk, seed, first, rate),
                _ => 0,
            };
            for (q, xs) in chunk[done..].chunks_mut(4).enumerate() {
                let block = sample_block(dist, seed, first + (done / 4 + q) as u64);
                for (x, &v) in xs.iter_mut().zip(&block) {
                    x.write(T::from_f64(v));
                }
            }
        })
    };
    T::wrap(vals)
}

/// Writes the dropout mask into the whole groups of `4 * LANES` elements at the start of
/// `out`, whose first element is element 0 of block `first`, and returns how many elements it
/// wrote (the caller draws the rest block by block).
fn dropout_groups<T: StorageElement>(out: &mut [MaybeUninit<T>], seed: u64, first: u64, rate: f64) -> usize {
    let (threshold, scale) = dropout_threshold(rate);
    let (kept, dropped) = (T::from_f64(scale), T::from_f64(0.0));
    let groups = out.len() / (4 * LANES);
    for (g, xs) in out.chunks_exact_mut(4 * LANES).enumerate() {
        let w = bits8(seed, first + (g * LANES) as u64);
        for (j, four) in xs.chunks_exact_mut(4).enumerate() {
            for (x, word) in four.iter_mut().zip(&w) {
                x.write(if (word[j] as u64) < threshold {
                    kept
                } else {
                    dropped
                });
            }
        }
    }
    groups * 4 * LANES
}

/// The words of blocks `first .. first + 8` with attempt 0: `out[w][j]` is
/// `bits(seed, first + j, 0)[w]`.
#[inline(always)]
fn bits8(seed: u64, first: u64) -> [[u32; LANES]; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { avx2::bits8(seed, first) };
        }
    }
    bits8_portable(seed, first)
}

/// [`bits8`] one block at a time, for CPUs without AVX2.
fn bits8_portable(seed: u64, first: u64) -> [[u32; LANES]; 4] {
    let mut out = [[0; LANES]; 4];
    for j in 0..LANES {
        let b = bits(seed, first.wrapping_add(j as u64), 0);
        for (o, v) in out.iter_mut().zip(b) {
            o[j] = v;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{LANES, M0, M1, W0, W1};
    use std::arch::x86_64::*;

    /// `(hi, lo)` halves of the 64-bit products `a[j] * m` of eight 32-bit lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn mul_hi_lo(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
        // `mul_epu32` multiplies the even lanes; shifting by 32 brings the odd ones down.
        let even = _mm256_mul_epu32(a, m);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
        let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        (hi, lo)
    }

    /// [`super::bits8`] in AVX2 registers: Philox-4x32-10 on eight counters at once.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn bits8(seed: u64, first: u64) -> [[u32; LANES]; 4] {
        let index: [u64; LANES] = std::array::from_fn(|j| first.wrapping_add(j as u64));
        let lo: [u32; LANES] = index.map(|i| i as u32);
        let hi: [u32; LANES] = index.map(|i| (i >> 32) as u32);
        let mut c0 = _mm256_loadu_si256(lo.as_ptr().cast());
        let mut c1 = _mm256_loadu_si256(hi.as_ptr().cast());
        let mut c2 = _mm256_setzero_si256();
        let mut c3 = _mm256_setzero_si256();
        let (m0, m1) = (_mm256_set1_epi32(M0 as i32), _mm256_set1_epi32(M1 as i32));
        let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
        for round in 0..10 {
            if round > 0 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
            let (h0, l0) = mul_hi_lo(c0, m0);
            let (h1, l1) = mul_hi_lo(c2, m1);
            let key0 = _mm256_set1_epi32(k0 as i32);
            let key1 = _mm256_set1_epi32(k1 as i32);
            c0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), key0);
            c1 = l1;
            c2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), key1);
            c3 = l0;
        }
        let mut out = [[0u32; LANES]; 4];
        for (o, v) in out.iter_mut().zip([c0, c1, c2, c3]) {
            _mm256_storeu_si256(o.as_mut_ptr().cast(), v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keras_backend::random::sample;

    #[test]
    fn lanes_give_the_words_of_single_blocks() {
        // Across the carry into the counter's high word, and at the end of the counter space.
        for (seed, first) in [(0, 0), (u64::MAX, 3), (42, (1 << 32) - 5), (9, u64::MAX - 3)] {
            let singles: Vec<[u32; 4]> = (0..LANES as u64)
                .map(|j| bits(seed, first.wrapping_add(j), 0))
                .collect();
            // The vector path where the CPU has AVX2, and the portable one.
            for w in [bits8(seed, first), bits8_portable(seed, first)] {
                let lanes: Vec<[u32; 4]> = (0..LANES).map(|j| w.map(|row| row[j])).collect();
                assert_eq!(lanes, singles, "{seed} {first}");
            }
        }
    }

    #[test]
    fn dropout_masks_are_the_sampled_stream() {
        // Whole groups, a chunk's tail and a second chunk all give `sample`'s values.
        let d = RandomDist::Dropout { rate: 0.3 };
        for n in [0, 3, 31, 32, 33, 4096 + 4 * 8 * 5 + 7] {
            let m = random(d, 11, n, DType::F32).unwrap();
            let want: Vec<f32> = (0..n as u64).map(|i| sample(d, 11, i) as f32).collect();
            assert_eq!(m.as_slice::<f32>().unwrap(), &want[..], "{n}");
        }
        let m = random(d, 11, 100, DType::F64).unwrap();
        let want: Vec<f64> = (0..100).map(|i| sample(d, 11, i)).collect();
        assert_eq!(m.as_slice::<f64>().unwrap(), &want[..]);
    }

    #[test]
    fn random_stream_does_not_depend_on_threads() {
        let d = RandomDist::Normal {
            mean: 0.0,
            stddev: 1.0,
        };
        let a = random(d, 5, 10_000, DType::F64).unwrap();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let b = one.install(|| random(d, 5, 10_000, DType::F64).unwrap());
        assert_eq!(a, b);
        let first = random(d, 5, 10, DType::F64).unwrap();
        assert_eq!(
            first.as_slice::<f64>().unwrap(),
            &a.as_slice::<f64>().unwrap()[..10]
        );
    }
}
