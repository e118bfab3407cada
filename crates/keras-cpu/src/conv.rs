//! 2-D convolution (NHWC input, HWIO weights) and its two gradients, all built on
//! [`gemm`](crate::matmul::gemm).
//!
//! Each pass works on *tiles*: a run of output rows of one image. For a tile of `P` output
//! pixels and group `g`, the im2col matrix `col` (`P x KH*KW*Cin/groups`, one row per output
//! pixel holding its receptive field, zeros where the window hangs over the padding) is built
//! in a per-worker scratch buffer, and
//!
//! * forward: `y[tile, g] = col @ w[g]`
//! * input gradient: `dcol = dy[tile, g] @ w[g]^T`, then `dcol` is scattered back (col2im)
//! * filter gradient: `dw[g] += col^T @ dy[tile, g]`
//!
//! A 1x1 kernel with stride 1 and no padding skips im2col and multiplies the input directly.
//! Work is spread over rayon's global pool by tile (forward, filter gradient) or by image
//! (input gradient), each worker with its own scratch and a single-threaded GEMM; per-worker
//! partial filter gradients are summed at the end. When there are too few tiles to share, the
//! tiles run in order and the GEMM itself runs in parallel. Scratch memory stays bounded by
//! [`TILE_ELEMS`] elements per worker (plus one partial filter gradient per worker); it is the
//! thread's own scratch (`memory::Scratch`), kept from one call to the next, so a training step does not
//! allocate and zero-fill its im2col buffers again.

use keras_backend::op::Conv2dParams;
use keras_backend::{Error, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

use crate::matmul::{gemm_strided, MatRef};
use crate::memory::Scratch;
use crate::storage::zeroed;
use crate::Float;

/// Upper bound on the elements of one im2col tile (`P * KH*KW*Cin/groups`), i.e. on the
/// scratch of one worker (unless a single output row needs more).
pub const TILE_ELEMS: usize = 1 << 19;

/// Upper bound on the output pixels of one tile (the GEMM's `m`).
const TILE_PIXELS: usize = 4096;

/// Validated geometry of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
    dh: usize,
    dw: usize,
    groups: usize,
    /// Input channels per group.
    cg: usize,
    /// Output channels per group.
    cog: usize,
    oh: usize,
    ow: usize,
    /// Columns of the im2col matrix: `kh * kw * cg`.
    kk: usize,
    /// Output rows per tile.
    rows: usize,
    /// 1x1 kernel, stride 1, no padding: the input is its own im2col matrix.
    direct: bool,
    x_len: usize,
    w_len: usize,
    y_len: usize,
}

use crate::storage::{bad, checked_product as mul};

impl Geom {
    fn new(op: &'static str, p: &Conv2dParams) -> Result<Geom> {
        if p.groups == 0 {
            return Err(bad(op, "groups must be at least 1".into()));
        }
        if p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0 {
            return Err(bad(
                op,
                format!(
                    "in_channels {} and out_channels {} must be multiples of groups {}",
                    p.in_channels, p.out_channels, p.groups
                ),
            ));
        }
        for d in 0..2 {
            if p.kernel[d] == 0 || p.stride[d] == 0 || p.dilation[d] == 0 {
                return Err(bad(
                    op,
                    format!(
                        "kernel {:?}, strides {:?} and dilation {:?} must be positive",
                        p.kernel, p.stride, p.dilation
                    ),
                ));
            }
        }
        let mut o = [0usize; 2];
        for (d, od) in o.iter_mut().enumerate() {
            let padded = p.in_hw[d]
                .checked_add(p.padding[d].0)
                .and_then(|v| v.checked_add(p.padding[d].1));
            let span = p.dilation[d]
                .checked_mul(p.kernel[d] - 1)
                .and_then(|v| v.checked_add(1));
            let (Some(padded), Some(span)) = (padded, span) else {
                return Err(bad(op, "padded size or dilated kernel overflows".into()));
            };
            *od = if padded >= span {
                (padded - span) / p.stride[d] + 1
            } else {
                0
            };
        }
        let (cg, cog) = (p.in_channels / p.groups, p.out_channels / p.groups);
        let kk = mul(op, &[p.kernel[0], p.kernel[1], cg])?;
        let rows = if o[1] == 0 || kk == 0 {
            o[0].max(1)
        } else {
            (TILE_ELEMS / kk).min(TILE_PIXELS) / o[1]
        }
        .clamp(1, o[0].max(1));
        Ok(Geom {
            n: p.batch,
            h: p.in_hw[0],
            w: p.in_hw[1],
            cin: p.in_channels,
            cout: p.out_channels,
            kh: p.kernel[0],
            kw: p.kernel[1],
            sh: p.stride[0],
            sw: p.stride[1],
            pt: p.padding[0].0,
            pl: p.padding[1].0,
            dh: p.dilation[0],
            dw: p.dilation[1],
            groups: p.groups,
            cg,
            cog,
            oh: o[0],
            ow: o[1],
            kk,
            rows,
            direct: p.kernel == [1, 1] && p.stride == [1, 1] && p.padding == [(0, 0), (0, 0)],
            x_len: mul(op, &[p.batch, p.in_hw[0], p.in_hw[1], p.in_channels])?,
            w_len: mul(op, &[kk, p.out_channels])?,
            y_len: mul(op, &[p.batch, o[0], o[1], p.out_channels])?,
        })
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

    /// Output pixels in the tile of output rows starting at `r0`.
    fn tile_pixels(&self, r0: usize) -> usize {
        self.rows.min(self.oh - r0) * self.ow
    }

    /// The `(image, first output row)` of every tile, in order.
    fn tiles(&self) -> Vec<(usize, usize)> {
        (0..self.n)
            .flat_map(|n| (0..self.oh).step_by(self.rows).map(move |r0| (n, r0)))
            .collect()
    }

    /// Input row (or column) index for output index `o`, kernel tap `k`: `None` in padding.
    #[inline]
    fn src(o: usize, k: usize, s: usize, d: usize, pad: usize, size: usize) -> Option<usize> {
        (o * s + k * d).checked_sub(pad).filter(|&i| i < size)
    }

    /// The im2col matrix (`P x kk`) of group `g` for the tile at (`n`, `r0`): either a view of
    /// `x` itself (direct 1x1) or built into `col`.
    fn col<'a, T: Float>(
        &self,
        x: &'a [T],
        col: &'a mut Vec<T>,
        n: usize,
        r0: usize,
        g: usize,
    ) -> MatRef<'a, T> {
        let p = self.tile_pixels(r0);
        if self.direct {
            return MatRef {
                data: x,
                offset: ((n * self.h + r0) * self.w) * self.cin + g * self.cg,
                rows: p,
                cols: self.cg,
                row_stride: self.cin as isize,
                col_stride: 1,
            };
        }
        if p * self.kk == 0 {
            return MatRef::row_major(&col[..0], p, self.kk);
        }
        // Every element is written below (zeros where a window hangs over the padding), so
        // the buffer is only grown, never cleared.
        if col.len() < p * self.kk {
            col.resize(p * self.kk, T::zero());
        }
        let cg = self.cg;
        // With unit stride and dilation along W and the whole channel range (one group), the
        // `kw` taps of a kernel row are one contiguous run of `kw * cin` input elements.
        let runs = self.sw == 1 && self.dw == 1 && cg == self.cin;
        for (pix, row) in col[..p * self.kk].chunks_exact_mut(self.kk.max(1)).enumerate() {
            let (oy, ox) = (r0 + pix / self.ow, pix % self.ow);
            for (ki, taps) in row.chunks_exact_mut(self.kw * cg).enumerate() {
                let Some(iy) = Self::src(oy, ki, self.sh, self.dh, self.pt, self.h) else {
                    taps.fill(T::zero());
                    continue;
                };
                let line = (n * self.h + iy) * self.w;
                if runs && ox >= self.pl && ox - self.pl + self.kw <= self.w {
                    let s = (line + ox - self.pl) * self.cin;
                    taps.copy_from_slice(&x[s..s + self.kw * cg]);
                    continue;
                }
                for (kj, dst) in taps.chunks_exact_mut(cg).enumerate() {
                    match Self::src(ox, kj, self.sw, self.dw, self.pl, self.w) {
                        Some(ix) => {
                            let s = (line + ix) * self.cin + g * cg;
                            dst.copy_from_slice(&x[s..s + cg]);
                        }
                        None => dst.fill(T::zero()),
                    }
                }
            }
        }
        MatRef::row_major(&col[..p * self.kk], p, self.kk)
    }

    /// `dx_img += col2im(dcol)` for the tile starting at output row `r0` of one image and
    /// group `g` (`dx_img` is that image's `H x W x Cin` gradient).
    fn col2im_add<T: Float>(&self, dcol: &[T], dx_img: &mut [T], r0: usize, g: usize) {
        let cg = self.cg;
        let p = self.tile_pixels(r0);
        for (pix, row) in dcol.chunks_exact(self.kk.max(1)).enumerate().take(p) {
            let (oy, ox) = (r0 + pix / self.ow, pix % self.ow);
            for ki in 0..self.kh {
                let Some(iy) = Self::src(oy, ki, self.sh, self.dh, self.pt, self.h) else {
                    continue;
                };
                for kj in 0..self.kw {
                    let Some(ix) = Self::src(ox, kj, self.sw, self.dw, self.pl, self.w) else {
                        continue;
                    };
                    let src = &row[(ki * self.kw + kj) * cg..][..cg];
                    let s = (iy * self.w + ix) * self.cin + g * cg;
                    for (d, &v) in dx_img[s..s + cg].iter_mut().zip(src) {
                        *d += v;
                    }
                }
            }
        }
    }

    /// `w[g]` as a `kk x cog` matrix (rows `(kh, kw, ci)`, columns this group's outputs).
    fn w_group<'a, T>(&self, w: &'a [T], g: usize) -> MatRef<'a, T> {
        MatRef {
            data: w,
            offset: g * self.cog,
            rows: self.kk,
            cols: self.cog,
            row_stride: self.cout as isize,
            col_stride: 1,
        }
    }

    /// `dy[tile, g]` as a `P x cog` matrix.
    fn dy_tile<'a, T>(&self, dy: &'a [T], n: usize, r0: usize, g: usize) -> MatRef<'a, T> {
        MatRef {
            data: dy,
            offset: ((n * self.oh + r0) * self.ow) * self.cout + g * self.cog,
            rows: self.tile_pixels(r0),
            cols: self.cog,
            row_stride: self.cout as isize,
            col_stride: 1,
        }
    }

    /// Whether to run tiles in parallel (single-threaded GEMMs) rather than in order with a
    /// parallel GEMM.
    fn outer_parallel(units: usize) -> bool {
        let t = rayon::current_num_threads();
        t > 1 && units >= 2 * t
    }
}

/// Convolution forward pass: `y = conv(x, w)`.
///
/// `x` is `(N, H, W, C_in)`, `w` is `(KH, KW, C_in / groups, C_out)`, the result is
/// `(N, OH, OW, C_out)` (see [`Conv2dParams`]), all row-major. Strides, asymmetric padding,
/// dilation and groups (including depthwise, `groups == C_in`) are supported; zero-size
/// dimensions give an empty or zero result. Returns [`Error::InvalidArgument`] when the
/// parameters are invalid or a slice length disagrees with them.
///
/// ```
/// use keras_backend::op::Conv2dParams;
/// use keras_cpu::conv::conv2d_forward;
/// // One 3x3 single-channel image, a 2x2 kernel of ones, stride 1, no padding.
/// let p = Conv2dParams {
///     batch: 1, in_hw: [3, 3], in_channels: 1, out_channels: 1, kernel: [2, 2],
///     stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1,
/// };
/// let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
/// let y = conv2d_forward(&p, &x, &[1.0; 4])?;
/// assert_eq!(y, [12.0, 16.0, 24.0, 28.0]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn conv2d_forward<T: Float>(p: &Conv2dParams, x: &[T], w: &[T]) -> Result<Vec<T>> {
    const OP: &str = "conv2d";
    let g = Geom::new(OP, p)?;
    g.check_len(OP, "input", x.len(), g.x_len)?;
    g.check_len(OP, "kernel", w.len(), g.w_len)?;
    if g.y_len == 0 {
        return Ok(vec![T::zero(); g.y_len]);
    }
    // The output is zeroed tile by tile by the worker that is about to compute the tile (a
    // `vec![0; n]` would be a separate single-threaded pass over all of it).
    let mut y: Vec<T> = Vec::with_capacity(g.y_len);
    let img = g.oh * g.ow * g.cout;
    let tile = g.rows * g.ow * g.cout;
    let mut units: Vec<(usize, usize, &mut [MaybeUninit<T>])> = Vec::new();
    for (n, yimg) in y.spare_capacity_mut()[..g.y_len].chunks_mut(img).enumerate() {
        for (t, yt) in yimg.chunks_mut(tile).enumerate() {
            units.push((n, t * g.rows, yt));
        }
    }
    let run = |col: &mut Vec<T>, (n, r0, yt): (usize, usize, &mut [MaybeUninit<T>]), par: bool| {
        let yt = zeroed(yt);
        for grp in 0..g.groups {
            let a = g.col(x, col, n, r0, grp);
            gemm_strided(
                a,
                g.w_group(w, grp),
                yt,
                grp * g.cog,
                g.cout,
                T::one(),
                false,
                par,
            )?;
        }
        Ok(())
    };
    if Geom::outer_parallel(units.len()) {
        units
            .into_par_iter()
            .try_for_each_init(Scratch::take, |col, u| run(col, u, false))?;
    } else {
        let mut col = Scratch::take();
        for u in units {
            run(&mut col, u, true)?;
        }
    }
    // SAFETY: the units partition the first `y_len` elements and `run` zeroed each before
    // computing it (an error returns above, dropping `y` with length 0).
    unsafe { y.set_len(g.y_len) };
    Ok(y)
}

/// Gradient of the convolution with respect to its input: `dx` (`(N, H, W, C_in)`) from `dy`
/// (`(N, OH, OW, C_out)`) and `w`. This is also the forward pass of the transposed
/// convolution (`Conv2DTranspose`), with `p` describing the matching forward convolution.
///
/// Returns [`Error::InvalidArgument`] when the parameters are invalid or a slice length
/// disagrees with them.
///
/// ```
/// use keras_backend::op::Conv2dParams;
/// use keras_cpu::conv::conv2d_backward_input;
/// let p = Conv2dParams {
///     batch: 1, in_hw: [3, 3], in_channels: 1, out_channels: 1, kernel: [2, 2],
///     stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1,
/// };
/// // Each input pixel receives one dy per output window covering it.
/// let dx = conv2d_backward_input(&p, &[1.0f64; 4], &[1.0; 4])?;
/// assert_eq!(dx, [1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn conv2d_backward_input<T: Float>(p: &Conv2dParams, dy: &[T], w: &[T]) -> Result<Vec<T>> {
    const OP: &str = "conv2d_backward_input";
    let g = Geom::new(OP, p)?;
    g.check_len(OP, "output gradient", dy.len(), g.y_len)?;
    g.check_len(OP, "kernel", w.len(), g.w_len)?;
    if g.x_len == 0 || g.y_len == 0 {
        return Ok(vec![T::zero(); g.x_len]);
    }
    // Each image's gradient is zeroed by the worker that accumulates it (a `vec![0; n]` would
    // be a separate single-threaded pass over all of it).
    let mut dx: Vec<T> = Vec::with_capacity(g.x_len);
    let img = g.h * g.w * g.cin;
    let run = |dcol: &mut Vec<T>, (n, dx_img): (usize, &mut [MaybeUninit<T>]), par: bool| -> Result<()> {
        let dx_img = zeroed(dx_img);
        for r0 in (0..g.oh).step_by(g.rows) {
            let pix = g.tile_pixels(r0);
            for grp in 0..g.groups {
                let a = g.dy_tile(dy, n, r0, grp);
                let b = g.w_group(w, grp).t();
                if g.direct {
                    // Each input pixel is hit by exactly one output pixel: write in place.
                    gemm_strided(
                        a,
                        b,
                        dx_img,
                        r0 * g.w * g.cin + grp * g.cg,
                        g.cin,
                        T::one(),
                        false,
                        par,
                    )?;
                } else {
                    // The GEMM overwrites every element: grow the buffer, never clear it.
                    if dcol.len() < pix * g.kk {
                        dcol.resize(pix * g.kk, T::zero());
                    }
                    let dcol = &mut dcol[..pix * g.kk];
                    gemm_strided(a, b, dcol, 0, g.kk, T::one(), false, par)?;
                    g.col2im_add(dcol, dx_img, r0, grp);
                }
            }
        }
        Ok(())
    };
    let images = &mut dx.spare_capacity_mut()[..g.x_len];
    if Geom::outer_parallel(g.n) {
        images
            .par_chunks_mut(img)
            .enumerate()
            .try_for_each_init(Scratch::take, |dcol, u| run(dcol, u, false))?;
    } else {
        let mut dcol = Scratch::take();
        for u in images.chunks_mut(img).enumerate() {
            run(&mut dcol, u, true)?;
        }
    }
    // SAFETY: the images partition the first `x_len` elements and `run` zeroed each before
    // accumulating into it (an error returns above, dropping `dx` with length 0).
    unsafe { dx.set_len(g.x_len) };
    Ok(dx)
}

/// Gradient of the convolution with respect to its kernel: `dw` (`(KH, KW, C_in / groups,
/// C_out)`) from the forward input `x` and `dy` (`(N, OH, OW, C_out)`).
///
/// Returns [`Error::InvalidArgument`] when the parameters are invalid or a slice length
/// disagrees with them.
///
/// ```
/// use keras_backend::op::Conv2dParams;
/// use keras_cpu::conv::conv2d_backward_filter;
/// let p = Conv2dParams {
///     batch: 1, in_hw: [3, 3], in_channels: 1, out_channels: 1, kernel: [2, 2],
///     stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1,
/// };
/// let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
/// // dw[kh, kw] = sum of the inputs that tap (kh, kw) touches.
/// let dw = conv2d_backward_filter(&p, &x, &[1.0; 4])?;
/// assert_eq!(dw, [12.0, 16.0, 24.0, 28.0]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn conv2d_backward_filter<T: Float>(p: &Conv2dParams, x: &[T], dy: &[T]) -> Result<Vec<T>> {
    const OP: &str = "conv2d_backward_filter";
    let g = Geom::new(OP, p)?;
    g.check_len(OP, "input", x.len(), g.x_len)?;
    g.check_len(OP, "output gradient", dy.len(), g.y_len)?;
    let mut dw = vec![T::zero(); g.w_len];
    if g.w_len == 0 || g.y_len == 0 {
        return Ok(dw);
    }
    let run = |acc: &mut [T], col: &mut Vec<T>, (n, r0): (usize, usize), par: bool| {
        for grp in 0..g.groups {
            let a = g.col(x, col, n, r0, grp).t();
            gemm_strided(
                a,
                g.dy_tile(dy, n, r0, grp),
                acc,
                grp * g.cog,
                g.cout,
                T::one(),
                true,
                par,
            )?;
        }
        Ok::<(), Error>(())
    };
    let units = g.tiles();
    if Geom::outer_parallel(units.len()) {
        // One partial dw per worker-sized run of tiles, summed at the end.
        let per = units.len().div_ceil(rayon::current_num_threads());
        let partials: Vec<Vec<T>> = units
            .par_chunks(per)
            .map(|chunk| {
                let mut acc = vec![T::zero(); g.w_len];
                let mut col = Scratch::take();
                for &u in chunk {
                    run(&mut acc, &mut col, u, false)?;
                }
                Ok(acc)
            })
            .collect::<Result<_>>()?;
        for part in partials {
            for (d, v) in dw.iter_mut().zip(part) {
                *d += v;
            }
        }
    } else {
        let mut col = Scratch::take();
        for u in units {
            run(&mut dw, &mut col, u, true)?;
        }
    }
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn params(
        n: usize,
        hw: [usize; 2],
        cin: usize,
        cout: usize,
        k: [usize; 2],
        s: [usize; 2],
        pad: [(usize, usize); 2],
        d: [usize; 2],
        groups: usize,
    ) -> Conv2dParams {
        Conv2dParams {
            batch: n,
            in_hw: hw,
            in_channels: cin,
            out_channels: cout,
            kernel: k,
            stride: s,
            padding: pad,
            dilation: d,
            groups,
        }
    }

    use crate::test_data::data;

    /// Naive direct loops: returns (y, dx, dw) for the given x, w, dy.
    fn reference(p: &Conv2dParams, x: &[f64], w: &[f64], dy: &[f64]) -> [Vec<f64>; 3] {
        let [oh, ow] = p.out_hw();
        let (cg, cog) = (p.in_channels / p.groups, p.out_channels / p.groups);
        let (h, wd, cin, cout) = (p.in_hw[0], p.in_hw[1], p.in_channels, p.out_channels);
        let mut y = vec![0.0; p.batch * oh * ow * cout];
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        for n in 0..p.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for co in 0..cout {
                        let grp = co / cog;
                        let yi = ((n * oh + oy) * ow + ox) * cout + co;
                        for ki in 0..p.kernel[0] {
                            for kj in 0..p.kernel[1] {
                                let iy = (oy * p.stride[0] + ki * p.dilation[0]) as isize
                                    - p.padding[0].0 as isize;
                                let ix = (ox * p.stride[1] + kj * p.dilation[1]) as isize
                                    - p.padding[1].0 as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let (iy, ix) = (iy as usize, ix as usize);
                                for c in 0..cg {
                                    let xi = ((n * h + iy) * wd + ix) * cin + grp * cg + c;
                                    let wi = ((ki * p.kernel[1] + kj) * cg + c) * cout + co;
                                    y[yi] += x[xi] * w[wi];
                                    dx[xi] += dy[yi] * w[wi];
                                    dw[wi] += dy[yi] * x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
        [y, dx, dw]
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn check(p: Conv2dParams) {
        let [oh, ow] = p.out_hw();
        let x = data(p.batch * p.in_hw[0] * p.in_hw[1] * p.in_channels, 1);
        let w = data(
            p.kernel[0] * p.kernel[1] * p.in_channels / p.groups * p.out_channels,
            2,
        );
        let dy = data(p.batch * oh * ow * p.out_channels, 3);
        let [ry, rdx, rdw] = reference(&p, &x, &w, &dy);
        let y = conv2d_forward(&p, &x, &w).expect("forward");
        let dx = conv2d_backward_input(&p, &dy, &w).expect("backward input");
        let dw = conv2d_backward_filter(&p, &x, &dy).expect("backward filter");
        assert!(close(&y, &ry, 1e-12), "forward {p:?}");
        assert!(close(&dx, &rdx, 1e-12), "backward input {p:?}");
        assert!(close(&dw, &rdw, 1e-12), "backward filter {p:?}");
        // Adjoint identities.
        let (a, b, c) = (dot(&y, &dy), dot(&x, &dx), dot(&w, &dw));
        let tol = 1e-10 * (1.0 + a.abs());
        assert!((a - b).abs() <= tol && (a - c).abs() <= tol, "adjoint {p:?}");
        // f32 agrees with the f64 result.
        let f = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let y32 = conv2d_forward(&p, &f(&x), &f(&w)).expect("forward f32");
        let dx32 = conv2d_backward_input(&p, &f(&dy), &f(&w)).expect("dx f32");
        let dw32 = conv2d_backward_filter(&p, &f(&x), &f(&dy)).expect("dw f32");
        let g = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
        assert!(close(&g(y32), &ry, 1e-4), "forward f32 {p:?}");
        assert!(close(&g(dx32), &rdx, 1e-4), "dx f32 {p:?}");
        assert!(close(&g(dw32), &rdw, 1e-4), "dw f32 {p:?}");
    }

    #[test]
    fn matches_reference_over_many_shapes() {
        let mut count = 0;
        for &(n, hw) in &[(1, [5, 5]), (2, [7, 6]), (3, [4, 9])] {
            for &k in &[[1, 1], [3, 3], [2, 3]] {
                for &s in &[[1, 1], [2, 2], [1, 3]] {
                    for &pad in &[[(0, 0), (0, 0)], [(1, 1), (1, 1)], [(2, 0), (0, 1)]] {
                        for &d in &[[1, 1], [2, 1]] {
                            for &(cin, cout, groups) in &[(3, 4, 1), (4, 6, 2), (3, 6, 3)] {
                                check(params(n, hw, cin, cout, k, s, pad, d, groups));
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(count > 400);
    }

    #[test]
    fn special_cases() {
        let z = [(0, 0), (0, 0)];
        // 1x1 fast path, with and without groups.
        check(params(2, [4, 5], 6, 8, [1, 1], [1, 1], z, [1, 1], 1));
        check(params(2, [4, 5], 6, 8, [1, 1], [1, 1], z, [1, 1], 2));
        // 1x1 with stride or padding (im2col path).
        check(params(2, [5, 5], 3, 4, [1, 1], [2, 2], z, [1, 1], 1));
        check(params(
            1,
            [3, 3],
            3,
            4,
            [1, 1],
            [1, 1],
            [(1, 0), (0, 1)],
            [1, 1],
            1,
        ));
        // Depthwise with channel multiplier 1 and 3.
        check(params(
            2,
            [6, 6],
            4,
            4,
            [3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            4,
        ));
        check(params(
            2,
            [6, 5],
            4,
            12,
            [3, 3],
            [2, 1],
            [(1, 1), (1, 1)],
            [1, 2],
            4,
        ));
        // Kernel larger than input with padding; 1-D conv (H = KH = 1).
        check(params(
            1,
            [2, 2],
            2,
            3,
            [3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            1,
        ));
        check(params(
            3,
            [1, 17],
            5,
            7,
            [1, 5],
            [1, 2],
            [(0, 0), (2, 2)],
            [1, 1],
            1,
        ));
        // Large enough to take several tiles per image and the parallel paths.
        check(params(
            4,
            [40, 70],
            8,
            16,
            [3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            1,
        ));
        check(params(
            16,
            [9, 9],
            4,
            4,
            [3, 3],
            [1, 1],
            [(1, 1), (1, 1)],
            [1, 1],
            1,
        ));
        check(params(1, [64, 64], 3, 5, [1, 1], [1, 1], z, [1, 1], 1));
    }

    #[test]
    fn zero_sizes() {
        let pad = [(1, 1), (1, 1)];
        for p in [
            params(0, [5, 5], 3, 4, [3, 3], [1, 1], pad, [1, 1], 1),
            params(2, [0, 5], 3, 4, [3, 3], [1, 1], [(0, 0), (1, 1)], [1, 1], 1),
            params(2, [5, 5], 0, 4, [3, 3], [1, 1], pad, [1, 1], 1),
            params(2, [5, 5], 3, 0, [3, 3], [1, 1], pad, [1, 1], 1),
            params(2, [2, 2], 3, 4, [5, 5], [1, 1], [(0, 0), (0, 0)], [1, 1], 1),
        ] {
            check(p);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let p = params(1, [4, 4], 2, 2, [3, 3], [1, 1], [(1, 1), (1, 1)], [1, 1], 1);
        let x = vec![0.0f32; 32];
        let w = vec![0.0f32; 36];
        assert!(conv2d_forward(&p, &x, &w).is_ok());
        assert!(conv2d_forward(&p, &x[..31], &w).is_err());
        assert!(conv2d_forward(&p, &x, &w[..35]).is_err());
        assert!(conv2d_backward_input(&p, &x[..30], &w).is_err());
        assert!(conv2d_backward_filter(&p, &x, &x[..1]).is_err());
        for q in [
            Conv2dParams { groups: 0, ..p },
            Conv2dParams {
                groups: 2,
                out_channels: 3,
                ..p
            },
            Conv2dParams { stride: [0, 1], ..p },
            Conv2dParams { kernel: [0, 3], ..p },
            Conv2dParams {
                dilation: [1, 0],
                ..p
            },
            Conv2dParams {
                dilation: [usize::MAX, 1],
                ..p
            },
        ] {
            assert!(conv2d_forward(&q, &x, &w).is_err(), "{q:?}");
            assert!(conv2d_backward_input(&q, &x, &w).is_err(), "{q:?}");
            assert!(conv2d_backward_filter(&q, &x, &x).is_err(), "{q:?}");
        }
    }
}
