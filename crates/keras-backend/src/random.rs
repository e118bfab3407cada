//! Counter-based random numbers: Philox-4x32-10 (Salmon et al., SC'11), the generator
//! cuRAND and PyTorch use.
//!
//! Element `i` of a random tensor drawn with seed `s` is a pure function of `(s, i)`, so the
//! values do not depend on how the work is split across threads or devices. [`sample`] is that
//! function; backends call it (or reproduce it bit for bit on a GPU).
//!
//! ```
//! use keras_backend::{op::RandomDist, random::sample};
//! let a = sample(RandomDist::Uniform { low: 0.0, high: 1.0 }, 42, 7);
//! let b = sample(RandomDist::Uniform { low: 0.0, high: 1.0 }, 42, 7);
//! assert_eq!(a, b);
//! assert!((0.0..1.0).contains(&a));
//! ```

use crate::op::RandomDist;

/// Philox-4x32's multiplier of counter word 0 (vector kernels reproduce
/// [`philox4x32_10`] from these four constants).
pub const M0: u64 = 0xD251_1F53;
/// Philox-4x32's multiplier of counter word 2.
pub const M1: u64 = 0xCD9E_8D57;
/// The Weyl step added to key word 0 each round.
pub const W0: u32 = 0x9E37_79B9;
/// The Weyl step added to key word 1 each round.
pub const W1: u32 = 0xBB67_AE85;

/// One Philox-4x32 block with 10 rounds.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = M0 * c[0] as u64;
        let p1 = M1 * c[2] as u64;
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// The four 32-bit words for element `index`, attempt `attempt` (re-draws of a truncated
/// normal use attempts 1, 2, …).
#[inline]
pub fn bits(seed: u64, index: u64, attempt: u32) -> [u32; 4] {
    philox4x32_10(
        [index as u32, (index >> 32) as u32, attempt, 0],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// A uniform double in `[0, 1)` from two words (53 random bits).
#[inline]
pub fn unit_f64(hi: u32, lo: u32) -> f64 {
    let x = ((hi as u64) << 21) ^ (lo as u64 >> 11);
    (x & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal from four words (Box–Muller, cosine branch).
#[inline]
fn std_normal(w: [u32; 4]) -> f64 {
    // 1 - u lies in (0, 1], so the log is finite.
    let u1 = 1.0 - unit_f64(w[0], w[1]);
    let u2 = unit_f64(w[2], w[3]);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Elements `4 * block .. 4 * block + 4` of a tensor drawn from `dist` with `seed`: the same
/// values as four calls of [`sample`], from one Philox block where the distribution needs only
/// one word per element ([`RandomDist::Dropout`]).
///
/// ```
/// use keras_backend::{op::RandomDist, random::{sample, sample_block}};
/// let d = RandomDist::Dropout { rate: 0.25 };
/// let four = sample_block(d, 9, 5);
/// assert_eq!(four[2], sample(d, 9, 22));
/// assert!(four.iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
/// ```
pub fn sample_block(dist: RandomDist, seed: u64, block: u64) -> [f64; 4] {
    match dist {
        RandomDist::Dropout { rate } => {
            let (threshold, scale) = dropout_threshold(rate);
            bits(seed, block, 0).map(|w| if (w as u64) < threshold { scale } else { 0.0 })
        }
        _ => std::array::from_fn(|j| sample(dist, seed, 4 * block + j as u64)),
    }
}

/// A dropout mask's rule: a word `w` keeps its element, with value `scale = 1 / (1 - rate)`,
/// when `w < threshold`; the element is 0 otherwise.
///
/// ```
/// let (threshold, scale) = keras_backend::random::dropout_threshold(0.5);
/// assert_eq!((threshold, scale), (1 << 31, 2.0));
/// ```
#[inline]
pub fn dropout_threshold(rate: f64) -> (u64, f64) {
    let keep = 1.0 - rate;
    // Word w < keep * 2^32 with probability keep (to within 2^-32).
    ((keep * 4_294_967_296.0) as u64, 1.0 / keep)
}

/// Element `index` of a tensor drawn from `dist` with `seed`.
pub fn sample(dist: RandomDist, seed: u64, index: u64) -> f64 {
    match dist {
        RandomDist::Dropout { .. } => sample_block(dist, seed, index / 4)[(index % 4) as usize],
        RandomDist::Uniform { low, high } => {
            let w = bits(seed, index, 0);
            let v = low + (high - low) * unit_f64(w[0], w[1]);
            // Rounding can reach `high` when the range is wide; keep the bound exclusive.
            if v >= high && high > low {
                low.max(high - (high - low) * f64::EPSILON)
            } else {
                v
            }
        }
        RandomDist::Normal { mean, stddev } => mean + stddev * std_normal(bits(seed, index, 0)),
        RandomDist::TruncatedNormal { mean, stddev } => {
            let mut attempt = 0u32;
            loop {
                let z = std_normal(bits(seed, index, attempt));
                // The chance of 64 straight rejections is 0.0455^64: unreachable in practice,
                // but the loop must end.
                if z.abs() <= 2.0 || attempt == 63 {
                    return mean + stddev * z.clamp(-2.0, 2.0);
                }
                attempt += 1;
            }
        }
        RandomDist::Bernoulli { p } => {
            let w = bits(seed, index, 0);
            if unit_f64(w[0], w[1]) < p {
                1.0
            } else {
                0.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(dist: RandomDist, n: u64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|i| sample(dist, 1234, i)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var)
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let n = 200_000;
        // Standard errors: uniform mean 0.00065, normal mean 0.0022; allow ~5 sigma.
        let (m, v) = moments(RandomDist::Uniform { low: 0.0, high: 1.0 }, n);
        assert!(
            (m - 0.5).abs() < 0.004 && (v - 1.0 / 12.0).abs() < 0.002,
            "{m} {v}"
        );
        let (m, v) = moments(
            RandomDist::Normal {
                mean: 1.0,
                stddev: 2.0,
            },
            n,
        );
        assert!((m - 1.0).abs() < 0.015 && (v - 4.0).abs() < 0.08, "{m} {v}");
        // Variance of a standard normal truncated at ±2 is 0.7737.
        let (m, v) = moments(
            RandomDist::TruncatedNormal {
                mean: 0.0,
                stddev: 1.0,
            },
            n,
        );
        assert!(m.abs() < 0.01 && (v - 0.7737).abs() < 0.01, "{m} {v}");
        let (m, _) = moments(RandomDist::Bernoulli { p: 0.3 }, n);
        assert!((m - 0.3).abs() < 0.006, "{m}");
        // Mask 1/0.7 with probability 0.7: mean 1, variance 0.3/0.7.
        let (m, v) = moments(RandomDist::Dropout { rate: 0.3 }, n);
        assert!((m - 1.0).abs() < 0.01 && (v - 0.3 / 0.7).abs() < 0.01, "{m} {v}");
    }

    #[test]
    fn dropout_masks_use_every_word_of_a_block_independently() {
        // Neighbours within a block must not be correlated: P(both kept) = keep^2.
        let d = RandomDist::Dropout { rate: 0.5 };
        let n = 40_000u64;
        for lag in 1..4 {
            let both = (0..n)
                .filter(|&i| sample(d, 3, 4 * i) != 0.0 && sample(d, 3, 4 * i + lag) != 0.0)
                .count() as f64
                / n as f64;
            assert!((both - 0.25).abs() < 0.01, "lag {lag}: {both}");
        }
    }

    #[test]
    fn seeds_and_indices_give_different_streams() {
        let a: Vec<u32> = (0..64).map(|i| bits(1, i, 0)[0]).collect();
        let b: Vec<u32> = (0..64).map(|i| bits(2, i, 0)[0]).collect();
        assert_ne!(a, b);
        let mut s = a.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 64);
    }

    #[test]
    fn truncated_normal_stays_within_two_sigma() {
        for i in 0..50_000 {
            let x = sample(
                RandomDist::TruncatedNormal {
                    mean: 3.0,
                    stddev: 0.5,
                },
                9,
                i,
            );
            assert!((2.0..=4.0).contains(&x));
        }
    }
}
