//! Batch normalization with batch statistics, fused: the statistics, the normalized output
//! and the three gradients each take one or two passes over the data instead of the dozen
//! elementwise ops and reductions the composite formula costs.
//!
//! The input is viewed as `rows x channels` (channels-last, contiguous); every statistic is
//! per channel, over the rows. Rows are split into blocks that run on rayon's pool; each block
//! accumulates per-channel partial sums in `f64`, and the partials are added in block order,
//! so results do not depend on the thread count.
//!
//! ```
//! use keras_cpu::norm::{batch_norm_apply, batch_norm_stats};
//! // Two rows of two channels.
//! let x = [1.0f32, 10.0, 3.0, 20.0];
//! let (mean, var) = batch_norm_stats(&x, 2);
//! assert_eq!((mean, var), (vec![2.0, 15.0], vec![1.0, 25.0]));
//! let y = batch_norm_apply(&x, 2, &[1.0, 0.2], &[-2.0, -3.0]);
//! assert_eq!(y, vec![-1.0, -1.0, 1.0, 1.0]);
//! ```

use rayon::prelude::*;

use crate::storage::{par_written, PAR_THRESHOLD};
use crate::Float;
use std::mem::MaybeUninit;

/// Rows per block: about this many elements each.
const BLOCK_ELEMS: usize = 1 << 14;

fn block_rows(channels: usize) -> usize {
    (BLOCK_ELEMS / channels.max(1)).max(1)
}

/// Per-channel sums of `f(row, channel, x)`-style accumulations over row blocks:
/// `acc(block, partial)` fills `partial` (length `k * channels`) for one block of rows.
fn channel_sums<T: Float>(
    x: &[T],
    channels: usize,
    k: usize,
    acc: impl Fn(usize, &mut [f64]) + Sync + Send,
) -> Vec<f64> {
    let rows = x.len() / channels.max(1);
    let br = block_rows(channels);
    let blocks = rows.div_ceil(br);
    let part = |b: usize| {
        let mut p = vec![0.0f64; k * channels];
        crate::simd::vectorized(|| acc(b * br, &mut p));
        p
    };
    let partials: Vec<Vec<f64>> = if x.len() >= PAR_THRESHOLD {
        (0..blocks).into_par_iter().map(part).collect()
    } else {
        (0..blocks).map(part).collect()
    };
    let mut total = vec![0.0f64; k * channels];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// The rows of block starting at row `first`.
fn block<T>(x: &[T], channels: usize, first: usize) -> &[T] {
    let br = block_rows(channels);
    let end = ((first + br) * channels).min(x.len());
    &x[first * channels..end]
}

/// Per-channel mean and biased variance of `x` viewed as `rows x channels`.
///
/// The variance is computed around the mean in a second pass (no cancellation).
pub fn batch_norm_stats<T: Float>(x: &[T], channels: usize) -> (Vec<T>, Vec<T>) {
    let rows = x.len() / channels.max(1);
    let n = rows.max(1) as f64;
    let sums = channel_sums(x, channels, 1, |first, p| {
        for row in block(x, channels, first).chunks_exact(channels) {
            for (s, &v) in p.iter_mut().zip(row) {
                *s += v.to_f64();
            }
        }
    });
    let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let mean_t: Vec<T> = mean.iter().map(|&m| T::of(m)).collect();
    let sq = channel_sums(x, channels, 1, |first, p| {
        for row in block(x, channels, first).chunks_exact(channels) {
            for ((s, &v), &m) in p.iter_mut().zip(row).zip(&mean_t) {
                let d = (v - m).to_f64();
                *s += d * d;
            }
        }
    });
    (mean_t, sq.iter().map(|s| T::of(s / n)).collect())
}

/// `y = x * scale + shift`, per channel.
///
/// # Panics
/// When `channels` is zero, `x` is not whole rows of `channels`, or `scale` or `shift` is not
/// `channels` long (the callers check shapes before).
pub fn batch_norm_apply<T: Float>(x: &[T], channels: usize, scale: &[T], shift: &[T]) -> Vec<T> {
    assert!(
        channels > 0 && x.len() % channels == 0 && scale.len() == channels && shift.len() == channels,
        "batch_norm_apply: {} elements, {channels} channels, scale {}, shift {}",
        x.len(),
        scale.len(),
        shift.len()
    );
    let row = |(o, xr): (&mut [MaybeUninit<T>], &[T])| {
        for (((o, &v), &a), &b) in o.iter_mut().zip(xr).zip(scale).zip(shift) {
            o.write(v * a + b);
        }
    };
    // SAFETY: `x` is as long as the output and whole rows of `channels` (the callers' layout),
    // and each chunk is whole rows, so every element is written.
    unsafe {
        par_written(x.len(), block_rows(channels) * channels, |at, o| {
            let xs = &x[at..at + o.len()];
            o.chunks_exact_mut(channels)
                .zip(xs.chunks_exact(channels))
                .for_each(row)
        })
    }
}

/// Gradients of `y = (x - mean) * rstd * gamma + beta` where `mean` and `rstd = 1/sqrt(var +
/// eps)` are the batch statistics of `x` (so they depend on `x` too).
///
/// Returns `(dx, dgamma, dbeta)` with `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)` over the
/// rows, and `dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))`. `gamma = None`
/// means a scale of one.
///
/// # Panics
/// When `channels` is zero, `x` is not whole rows of `channels`, `dy` is not as long as `x`,
/// or a per-channel slice is shorter than `channels`.
pub fn batch_norm_backward<T: Float>(
    x: &[T],
    dy: &[T],
    channels: usize,
    mean: &[T],
    rstd: &[T],
    gamma: Option<&[T]>,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let c = channels;
    assert!(
        c > 0 && x.len() % c == 0 && dy.len() == x.len(),
        "batch_norm_backward: {} elements, {c} channels, {} gradients",
        x.len(),
        dy.len()
    );
    let rows = x.len() / c;
    let n = rows.max(1) as f64;
    // Pass 1: sum(dy) and sum(dy * xhat) per channel.
    let sums = channel_sums(x, c, 2, |first, p| {
        let (sdy, sdyx) = p.split_at_mut(c);
        let xs = block(x, c, first);
        let ds = block(dy, c, first);
        let stats = mean[..c].iter().zip(&rstd[..c]);
        for (xr, dr) in xs.chunks_exact(c).zip(ds.chunks_exact(c)) {
            // Zipped, not indexed: no bounds checks, so the loop over channels vectorizes.
            let sums = sdy.iter_mut().zip(sdyx.iter_mut());
            for (((sdy, sdyx), (&x, &d)), (&m, &r)) in sums.zip(xr.iter().zip(dr)).zip(stats.clone()) {
                let g = d.to_f64();
                *sdy += g;
                *sdyx += g * ((x - m) * r).to_f64();
            }
        }
    });
    let (sdy, sdyx) = sums.split_at(c);
    let dbeta: Vec<T> = sdy.iter().map(|&v| T::of(v)).collect();
    let dgamma: Vec<T> = sdyx.iter().map(|&v| T::of(v)).collect();
    // Pass 2: dx = k * (dy - a - xhat * b) per channel, with k = gamma*rstd, a = mean(dy),
    // b = mean(dy * xhat).
    let k: Vec<T> = (0..c)
        .map(|j| gamma.map_or(T::one(), |g| g[j]) * rstd[j])
        .collect();
    let a: Vec<T> = sdy.iter().map(|&v| T::of(v / n)).collect();
    let b: Vec<T> = sdyx.iter().map(|&v| T::of(v / n)).collect();
    // dx = k dy - k a - (k b rstd) (x - mean): per-channel factors in slices of their own,
    // zipped, so the loop over channels vectorizes.
    let ka: Vec<T> = k.iter().zip(&a).map(|(&k, &a)| k * a).collect();
    let kbr: Vec<T> = (0..c).map(|j| k[j] * b[j] * rstd[j]).collect();
    // SAFETY: as in `batch_norm_apply`: whole rows of `c` per chunk, and every factor slice
    // is `c` long (`mean[..c]` panics otherwise), so each element is written.
    let dx = unsafe {
        par_written(x.len(), block_rows(c) * c, |at, o| {
            let r = at..at + o.len();
            let rows = o
                .chunks_exact_mut(c)
                .zip(x[r.clone()].chunks_exact(c).zip(dy[r].chunks_exact(c)));
            for (o, (xr, dr)) in rows {
                let factors = mean[..c].iter().zip(&k).zip(ka.iter().zip(&kbr));
                for ((o, (&x, &d)), ((&m, &k), (&ka, &kbr))) in
                    o.iter_mut().zip(xr.iter().zip(dr)).zip(factors)
                {
                    o.write(k * d - ka - kbr * (x - m));
                }
            }
        })
    };
    (dx, dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::data;

    /// The fused kernels against the textbook formulas in plain f64 loops, on a size that
    /// runs in several parallel blocks.
    #[test]
    fn fused_kernels_match_the_formulas() {
        let (rows, c) = (3000, 7);
        let x: Vec<f64> = data(rows * c, 1).iter().map(|v| v * 4.0 + 1.5).collect();
        let dy = data(rows * c, 2);
        let gamma: Vec<f64> = data(c, 3).iter().map(|v| v + 1.0).collect();
        let (mean, var) = batch_norm_stats(&x, c);
        let eps = 1e-3;
        for j in 0..c {
            let col: Vec<f64> = (0..rows).map(|r| x[r * c + j]).collect();
            let m = col.iter().sum::<f64>() / rows as f64;
            let v = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / rows as f64;
            assert!((m - mean[j]).abs() < 1e-12 && (v - var[j]).abs() < 1e-12);
        }
        let rstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let (dx, dg, db) = batch_norm_backward(&x, &dy, c, &mean, &rstd, Some(&gamma));
        for j in 0..c {
            let xhat: Vec<f64> = (0..rows).map(|r| (x[r * c + j] - mean[j]) * rstd[j]).collect();
            let g: Vec<f64> = (0..rows).map(|r| dy[r * c + j]).collect();
            let sdy: f64 = g.iter().sum();
            let sdyx: f64 = g.iter().zip(&xhat).map(|(a, b)| a * b).sum();
            assert!((sdy - db[j]).abs() < 1e-9 && (sdyx - dg[j]).abs() < 1e-9);
            for r in 0..rows {
                let want = gamma[j] * rstd[j] * (g[r] - sdy / rows as f64 - xhat[r] * sdyx / rows as f64);
                assert!((want - dx[r * c + j]).abs() < 1e-12, "dx[{r},{j}]");
            }
        }
    }
}
