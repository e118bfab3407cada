//! 2-D max and average pooling over NHWC input, and their gradients.
//!
//! Padded cells never win a max and are not counted by an average (TensorFlow's and Keras's
//! `"same"` semantics); a window that covers no input cell at all yields 0 and passes no
//! gradient. The max of a window is its first maximal element in row-major window order (NaN
//! beats every number, so NaN propagates), and the max gradient goes to that element.
//! The forward pass runs output rows in parallel and the backward pass images in parallel, on
//! rayon's global pool; the inner loops run over contiguous channels.

use keras_backend::op::{Pool2dParams, PoolKind};
use keras_backend::Result;

use crate::Float;

/// Validated geometry of one pooling.
#[derive(Clone, Copy, Debug)]
struct Geom {
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
    oh: usize,
    ow: usize,
    x_len: usize,
    y_len: usize,
}

use crate::storage::{bad, checked_product as mul, par_filled};

/// `true` when `v` should replace `cur` as the running maximum.
#[inline]
fn better<T: Float>(v: T, cur: T) -> bool {
    // Non-short-circuit `|`/`&` keep this a branch-free select that vectorizes.
    (v > cur) | (v.is_nan() & !cur.is_nan())
}

impl Geom {
    fn new(op: &'static str, p: &Pool2dParams) -> Result<Geom> {
        if p.kernel.contains(&0) || p.stride.contains(&0) {
            return Err(bad(
                op,
                format!(
                    "pool size {:?} and strides {:?} must be positive",
                    p.kernel, p.stride
                ),
            ));
        }
        let mut o = [0usize; 2];
        for (d, od) in o.iter_mut().enumerate() {
            let padded = p.in_hw[d]
                .checked_add(p.padding[d].0)
                .and_then(|v| v.checked_add(p.padding[d].1))
                .ok_or_else(|| bad(op, "padded size overflows".into()))?;
            *od = if padded >= p.kernel[d] {
                (padded - p.kernel[d]) / p.stride[d] + 1
            } else {
                0
            };
        }
        Ok(Geom {
            h: p.in_hw[0],
            w: p.in_hw[1],
            c: p.channels,
            kh: p.kernel[0],
            kw: p.kernel[1],
            sh: p.stride[0],
            sw: p.stride[1],
            pt: p.padding[0].0,
            pl: p.padding[1].0,
            oh: o[0],
            ow: o[1],
            x_len: mul(op, &[p.batch, p.in_hw[0], p.in_hw[1], p.channels])?,
            y_len: mul(op, &[p.batch, o[0], o[1], p.channels])?,
        })
    }

    /// Input index range `[lo, hi)` covered by output index `o` along one axis (may be empty).
    #[inline]
    fn window(o: usize, s: usize, pad: usize, k: usize, size: usize) -> (usize, usize) {
        let start = o * s;
        let lo = start.saturating_sub(pad).min(size);
        let hi = (start + k).saturating_sub(pad).min(size);
        (lo, hi.max(lo))
    }

    fn rows(&self, oy: usize) -> (usize, usize) {
        Self::window(oy, self.sh, self.pt, self.kh, self.h)
    }

    fn cols(&self, ox: usize) -> (usize, usize) {
        Self::window(ox, self.sw, self.pl, self.kw, self.w)
    }

    fn check_len(&self, op: &'static str, what: &str, got: usize, want: usize) -> Result<()> {
        if got != want {
            return Err(bad(
                op,
                format!("{what} has {got} elements, the parameters need {want}"),
            ));
        }
        Ok(())
    }
}

/// Pooling forward pass: `(N, H, W, C)` to `(N, OH, OW, C)` (see [`Pool2dParams`]).
///
/// Returns [`keras_backend::Error::InvalidArgument`] when the pool size or a stride is zero or `x` has the
/// wrong length.
///
/// ```
/// use keras_backend::op::{Pool2dParams, PoolKind};
/// use keras_cpu::pool::pool2d_forward;
/// let p = Pool2dParams {
///     batch: 1, in_hw: [2, 3], channels: 1, kernel: [2, 2], stride: [2, 2],
///     padding: [(0, 0), (0, 1)], // "same": the last window hangs over the right edge
/// };
/// let x = [1.0f32, 5.0, 2.0, 3.0, 4.0, 6.0];
/// assert_eq!(pool2d_forward(PoolKind::Max, &p, &x)?, [5.0, 6.0]);
/// assert_eq!(pool2d_forward(PoolKind::Avg, &p, &x)?, [3.25, 4.0]); // padding not counted
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn pool2d_forward<T: Float>(kind: PoolKind, p: &Pool2dParams, x: &[T]) -> Result<Vec<T>> {
    const OP: &str = "pool2d";
    let g = Geom::new(OP, p)?;
    g.check_len(OP, "input", x.len(), g.x_len)?;
    let c = g.c;
    // Each output row is zeroed by the thread that computes it, just before.
    let y = par_filled(g.y_len, g.ow * c, |offset, yrow| {
        let row = offset / (g.ow * c);
        let (n, oy) = (row / g.oh, row % g.oh);
        let (y0, y1) = g.rows(oy);
        for (ox, out) in yrow.chunks_exact_mut(c).enumerate() {
            let (x0, x1) = g.cols(ox);
            let count = (y1 - y0) * (x1 - x0);
            let mut first = true;
            for iy in y0..y1 {
                let base = ((n * g.h + iy) * g.w) * c;
                for ix in x0..x1 {
                    let cell = &x[base + ix * c..][..c];
                    match kind {
                        PoolKind::Max if first => out.copy_from_slice(cell),
                        PoolKind::Max => {
                            for (d, &v) in out.iter_mut().zip(cell) {
                                // A select, not a branch: random data would mispredict.
                                *d = if better(v, *d) { v } else { *d };
                            }
                        }
                        PoolKind::Avg => {
                            for (d, &v) in out.iter_mut().zip(cell) {
                                *d += v;
                            }
                        }
                    }
                    first = false;
                }
            }
            if kind == PoolKind::Avg && count > 0 {
                let inv = T::one() / T::of(count as f64);
                for d in out.iter_mut() {
                    *d *= inv;
                }
            }
        }
    });
    Ok(y)
}

/// Gradient of pooling with respect to its input: `dx` (`(N, H, W, C)`) from `dy`
/// (`(N, OH, OW, C)`).
///
/// For [`PoolKind::Max`] each window's gradient goes to its first element (row-major within
/// the window) of the forward input `x` equal to the window's maximum, read from the forward
/// output `y`; for [`PoolKind::Avg`] it is spread evenly over the window's valid cells and `x`
/// and `y` are unused (they may be empty). Returns [`keras_backend::Error::InvalidArgument`]
/// when the pool size or a stride is zero or a length is wrong.
///
/// ```
/// use keras_backend::op::{Pool2dParams, PoolKind};
/// use keras_cpu::pool::{pool2d_backward, pool2d_forward};
/// let p = Pool2dParams {
///     batch: 1, in_hw: [2, 2], channels: 1, kernel: [2, 2], stride: [2, 2],
///     padding: [(0, 0), (0, 0)],
/// };
/// let x = [1.0f64, 7.0, 7.0, 3.0];
/// let y = pool2d_forward(PoolKind::Max, &p, &x)?;
/// assert_eq!(pool2d_backward(PoolKind::Max, &p, &x, &y, &[2.0])?, [0.0, 2.0, 0.0, 0.0]);
/// assert_eq!(pool2d_backward(PoolKind::Avg, &p, &[], &[], &[2.0])?, [0.5; 4]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn pool2d_backward<T: Float>(
    kind: PoolKind,
    p: &Pool2dParams,
    x: &[T],
    y: &[T],
    dy: &[T],
) -> Result<Vec<T>> {
    const OP: &str = "pool2d_backward";
    let g = Geom::new(OP, p)?;
    if kind == PoolKind::Max {
        g.check_len(OP, "input", x.len(), g.x_len)?;
        g.check_len(OP, "output", y.len(), g.y_len)?;
    }
    g.check_len(OP, "output gradient", dy.len(), g.y_len)?;
    if g.x_len == 0 || g.y_len == 0 {
        return Ok(vec![T::zero(); g.x_len]);
    }
    let c = g.c;
    let img = g.h * g.w * c;
    // Each image's gradient is zeroed by the thread that accumulates it, just before.
    let dx = par_filled(g.x_len, img, |offset, dx_img| {
        let n = offset / img;
        let mut rem = vec![T::zero(); c];
        for oy in 0..g.oh {
            let (y0, y1) = g.rows(oy);
            for ox in 0..g.ow {
                let (x0, x1) = g.cols(ox);
                let count = (y1 - y0) * (x1 - x0);
                if count == 0 {
                    continue;
                }
                let at = ((n * g.oh + oy) * g.ow + ox) * c;
                let grad = &dy[at..][..c];
                match kind {
                    PoolKind::Max => {
                        // Hand each channel's gradient to the first cell equal to the
                        // window's maximum: a branch-free select over contiguous channels.
                        let best = &y[at..][..c];
                        rem.copy_from_slice(grad);
                        for iy in y0..y1 {
                            for ix in x0..x1 {
                                let off = (iy * g.w + ix) * c;
                                let cell = &x[n * img + off..][..c];
                                let out = &mut dx_img[off..off + c];
                                let rem = &mut rem[..c];
                                for i in 0..c {
                                    let (v, b) = (cell[i], best[i]);
                                    let hit = (v == b) | (v.is_nan() & b.is_nan());
                                    let r = rem[i];
                                    out[i] += if hit { r } else { T::zero() };
                                    rem[i] = if hit { T::zero() } else { r };
                                }
                            }
                        }
                    }
                    PoolKind::Avg => {
                        let inv = T::one() / T::of(count as f64);
                        for iy in y0..y1 {
                            for ix in x0..x1 {
                                let cell = &mut dx_img[(iy * g.w + ix) * c..][..c];
                                for (d, &gv) in cell.iter_mut().zip(grad) {
                                    *d += gv * inv;
                                }
                            }
                        }
                    }
                }
            }
        }
    });
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Coarse values so that ties occur.
                ((s >> 11) % 7) as f64 - 3.0
            })
            .collect()
    }

    /// Naive reference: (y, dx) with explicit padded-index loops.
    fn reference(kind: PoolKind, p: &Pool2dParams, x: &[f64], dy: &[f64]) -> [Vec<f64>; 2] {
        let [oh, ow] = p.out_hw();
        let (h, w, c) = (p.in_hw[0], p.in_hw[1], p.channels);
        let mut y = vec![0.0; p.batch * oh * ow * c];
        let mut dx = vec![0.0; x.len()];
        for n in 0..p.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ch in 0..c {
                        let mut cells = Vec::new();
                        for ki in 0..p.kernel[0] {
                            for kj in 0..p.kernel[1] {
                                let iy = (oy * p.stride[0] + ki) as isize - p.padding[0].0 as isize;
                                let ix = (ox * p.stride[1] + kj) as isize - p.padding[1].0 as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    cells.push(((n * h + iy as usize) * w + ix as usize) * c + ch);
                                }
                            }
                        }
                        let yi = ((n * oh + oy) * ow + ox) * c + ch;
                        if cells.is_empty() {
                            continue;
                        }
                        match kind {
                            PoolKind::Max => {
                                let mut b = cells[0];
                                for &i in &cells[1..] {
                                    if x[i] > x[b] {
                                        b = i;
                                    }
                                }
                                y[yi] = x[b];
                                dx[b] += dy[yi];
                            }
                            PoolKind::Avg => {
                                let k = cells.len() as f64;
                                y[yi] = cells.iter().map(|&i| x[i]).sum::<f64>() / k;
                                for &i in &cells {
                                    dx[i] += dy[yi] / k;
                                }
                            }
                        }
                    }
                }
            }
        }
        [y, dx]
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
    }

    #[test]
    fn matches_reference() {
        for kind in [PoolKind::Max, PoolKind::Avg] {
            for &(n, hw, c) in &[(1, [5, 5], 1), (2, [6, 7], 3), (3, [4, 9], 16), (0, [4, 4], 2)] {
                for &k in &[[1, 1], [2, 2], [3, 3], [2, 3]] {
                    for &s in &[[1, 1], [2, 2], [3, 1]] {
                        for &pad in &[[(0, 0), (0, 0)], [(1, 1), (1, 1)], [(0, 1), (2, 0)]] {
                            let p = Pool2dParams {
                                batch: n,
                                in_hw: hw,
                                channels: c,
                                kernel: k,
                                stride: s,
                                padding: pad,
                            };
                            let [oh, ow] = p.out_hw();
                            let x = data(n * hw[0] * hw[1] * c, 1);
                            let dy = data(n * oh * ow * c, 2);
                            let [ry, rdx] = reference(kind, &p, &x, &dy);
                            let y = pool2d_forward(kind, &p, &x).expect("forward");
                            let (xa, ya): (&[f64], &[f64]) = if kind == PoolKind::Avg {
                                (&[], &[])
                            } else {
                                (&x, &y)
                            };
                            let dx = pool2d_backward(kind, &p, xa, ya, &dy).expect("backward");
                            assert!(close(&y, &ry), "{kind:?} forward {p:?}");
                            assert!(close(&dx, &rdx), "{kind:?} backward {p:?}");
                            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                            let yf = pool2d_forward(kind, &p, &xf).expect("forward f32");
                            assert!(yf.iter().zip(&ry).all(|(a, b)| (*a as f64 - b).abs() < 1e-5));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn edge_cases() {
        // A window made only of padding yields 0 and no gradient.
        let p = Pool2dParams {
            batch: 1,
            in_hw: [1, 1],
            channels: 2,
            kernel: [1, 1],
            stride: [1, 1],
            padding: [(1, 0), (0, 0)],
        };
        let x = [-3.0f64, -4.0];
        let y = pool2d_forward(PoolKind::Max, &p, &x).expect("fwd");
        assert_eq!(y, [0.0, 0.0, -3.0, -4.0]);
        assert_eq!(
            pool2d_backward(PoolKind::Max, &p, &x, &y, &[1.0, 1.0, 2.0, 3.0]).expect("bwd"),
            [2.0, 3.0]
        );
        // NaN propagates through max and takes the gradient.
        let q = Pool2dParams {
            in_hw: [1, 2],
            channels: 1,
            kernel: [1, 2],
            stride: [1, 2],
            padding: [(0, 0), (0, 0)],
            ..p
        };
        let yq = pool2d_forward(PoolKind::Max, &q, &[1.0f32, f32::NAN]).expect("fwd");
        assert!(yq[0].is_nan());
        let dx = pool2d_backward(PoolKind::Max, &q, &[1.0f32, f32::NAN], &yq, &[1.0]).expect("bwd");
        assert_eq!(dx, [0.0, 1.0]);
        // Invalid arguments.
        assert!(pool2d_forward(PoolKind::Max, &p, &x[..1]).is_err());
        assert!(pool2d_backward(PoolKind::Max, &p, &[], &y, &[0.0; 4]).is_err());
        assert!(pool2d_backward(PoolKind::Max, &p, &x, &y[..3], &[0.0; 4]).is_err());
        assert!(pool2d_backward(PoolKind::Avg, &p, &[], &[], &[0.0; 3]).is_err());
        assert!(pool2d_forward(PoolKind::Avg, &Pool2dParams { kernel: [0, 1], ..p }, &x).is_err());
        assert!(pool2d_forward(PoolKind::Avg, &Pool2dParams { stride: [1, 0], ..p }, &x).is_err());
    }
}
