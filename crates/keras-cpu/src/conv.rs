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
//! Other unit-stride convolutions can skip it too (the *implicit* passes, see
//! `Geom::padded_input`): a tile's input rows are copied once, zero-padded, and each kernel
//! row's im2col matrix is a view of them with overlapping rows, so the pass is `kh` GEMMs on
//! views; the input gradient is then the forward pass of the convolution with the kernel
//! flipped. A cost rule (`Geom::with`, `Geom::transform_pays`) picks them where they are
//! faster: few output channels, wide images.
//! The forward pass can also finish each tile with a layer's tail, bias then activation
//! ([`conv2d_bias_unary`]), while the tile is in cache.
//! Work is spread over rayon's global pool by tile (forward, filter gradient) or by image
//! (input gradient), each worker with its own scratch and a single-threaded GEMM; per-worker
//! partial filter gradients are summed at the end. When there are too few tiles to share, the
//! tiles run in order and the GEMM itself runs in parallel. Scratch memory stays bounded by
//! [`TILE_ELEMS`] elements per worker (plus one partial filter gradient per worker); it is the
//! thread's own scratch (`memory::Scratch`), kept from one call to the next, so a training step does not
//! allocate and zero-fill its im2col buffers again.

use keras_backend::op::{Conv2dParams, UnaryOp};
use keras_backend::{Error, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

use crate::matmul::{gemm_strided, gemm_strided_uninit, MatRef};
use crate::memory::Scratch;
use crate::storage::zeroed;
use crate::Float;

/// Upper bound on the elements of one im2col tile (`P * KH*KW*Cin/groups`), i.e. on the
/// scratch of one worker (unless a single output row needs more).
pub const TILE_ELEMS: usize = 1 << 19;

/// The implicit passes need at least this many inputs per kernel row (`kw * cin`).
const IMPLICIT_MIN_K: usize = 32;

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
    /// Unit stride and dilation, one group, a kernel larger than 1x1, at least
    /// [`IMPLICIT_MIN_K`] inputs per kernel row and no side padded by more than the kernel's
    /// size minus one: the passes can skip im2col (see [`Geom::padded_input`]).
    eligible: bool,
    /// Eligible, and expected to be faster than im2col: the passes skip it.
    implicit: bool,
    /// Width of a zero-padded input row in the implicit passes: `ow + kw - 1`.
    wp: usize,
    x_len: usize,
    w_len: usize,
    y_len: usize,
}

use crate::storage::{bad, checked_product as mul};

/// `dst.copy_from_slice(src)`, without a call to `memcpy` for the short runs of im2col with
/// few input channels (3 floats per kernel row for a 3x3 kernel over one channel): a
/// constant length is copied inline.
#[inline]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    macro_rules! by_length {
        ($($n:literal)*) => {
            match dst.len() {
                $($n => dst[..$n].copy_from_slice(&src[..$n]),)*
                _ => dst.copy_from_slice(src),
            }
        };
    }
    by_length!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

impl Geom {
    fn new(op: &'static str, p: &Conv2dParams) -> Result<Geom> {
        Geom::with(op, p, false)
    }

    /// [`Geom::new`], taking the implicit passes whenever the geometry allows them when
    /// `force_implicit`.
    fn with(op: &'static str, p: &Conv2dParams, force_implicit: bool) -> Result<Geom> {
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
        let direct = p.kernel == [1, 1] && p.stride == [1, 1] && p.padding == [(0, 0), (0, 0)];
        let eligible = !direct
            && p.groups == 1
            && p.stride == [1, 1]
            && p.dilation == [1, 1]
            && (0..2).all(|d| p.padding[d].0 < p.kernel[d] && p.padding[d].1 < p.kernel[d])
            && o[0] > 0
            && o[1] > 0
            && p.out_channels > 0
            // Each kernel row's GEMM multiplies `kw * cin` columns; with fewer than about 32
            // (a first layer's 1 or 3 channels), im2col's one GEMM is faster.
            && p.kernel[1] * p.in_channels >= IMPLICIT_MIN_K;
        let wp = o[1] + p.kernel[1] - 1;
        // The implicit passes compute `kw - 1` dropped columns per `wp`: a share
        // `(kw - 1) / wp` of extra GEMM work. im2col instead copies each input `kk` times,
        // about `2 / cout` of the GEMM's work (a copied element costs about 2 multiply-adds
        // of a GEMM whose output has `cout` columns). Measured on 3x3 layers of 8-32 pixels
        // and 16-64 channels (docs/benchmarks.md), this picks the faster path or one within 6%.
        let implicit = eligible && (force_implicit || (p.kernel[1] - 1) * p.out_channels < 2 * wp);
        let rows = if implicit {
            // A tile's padded input rows and its wide output rows share the scratch budget.
            (TILE_ELEMS / (wp * (p.in_channels + p.out_channels)).max(1)).min(TILE_PIXELS / wp)
        } else if o[1] == 0 || kk == 0 {
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
            direct,
            eligible,
            implicit,
            wp,
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
        self.tile_rows(r0) * self.ow
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
                    copy_run(taps, &x[s..s + self.kw * cg]);
                    continue;
                }
                for (kj, dst) in taps.chunks_exact_mut(cg).enumerate() {
                    match Self::src(ox, kj, self.sw, self.dw, self.pl, self.w) {
                        Some(ix) => {
                            let s = (line + ix) * self.cin + g * cg;
                            copy_run(dst, &x[s..s + cg]);
                        }
                        None => dst.fill(T::zero()),
                    }
                }
            }
        }
        MatRef::row_major(&col[..p * self.kk], p, self.kk)
    }

    /// Output rows in the tile starting at output row `r0`.
    fn tile_rows(&self, r0: usize) -> usize {
        self.rows.min(self.oh - r0)
    }

    /// Rows of the implicit GEMMs for a tile of `r` output rows: the tile's `r * wp` "wide"
    /// pixels (each output row padded to the input's width) less the last row's `kw - 1`,
    /// which would read past the padded input.
    fn wide_pixels(&self, r: usize) -> usize {
        r * self.wp - (self.kw - 1)
    }

    /// Implicit passes: copies the input rows that the tile at (`n`, `r0`) reads, zero-padded
    /// on every side, into `xp` (`(rows + kh - 1) x wp x cin`).
    ///
    /// With unit stride, the `kw * cin` inputs that kernel row `ki` multiplies for wide pixel
    /// `q` are the contiguous run `xp[(q + ki * wp) * cin ..][.. kw * cin]`, and the run of
    /// wide pixel `q + 1` starts `cin` elements later. So the im2col matrix of kernel row `ki`
    /// is a view of `xp` with row stride `cin` ([`Geom::implicit_rows`]): the convolution is
    /// `kh` GEMMs on views, with no im2col copy. The wide pixels in the last `kw - 1` columns
    /// of each row straddle two input rows; their results are computed and dropped.
    fn padded_input<T: Float>(&self, x: &[T], xp: &mut Vec<T>, n: usize, r0: usize) {
        let (cin, wp) = (self.cin, self.wp);
        let rows = self.tile_rows(r0) + self.kh - 1;
        if xp.len() < rows * wp * cin {
            xp.resize(rows * wp * cin, T::zero());
        }
        for (t, row) in xp[..rows * wp * cin].chunks_exact_mut(wp * cin).enumerate() {
            match (r0 + t).checked_sub(self.pt).filter(|&iy| iy < self.h) {
                Some(iy) => {
                    let (left, rest) = row.split_at_mut(self.pl * cin);
                    let (mid, right) = rest.split_at_mut(self.w * cin);
                    left.fill(T::zero());
                    let s = (n * self.h + iy) * self.w * cin;
                    mid.copy_from_slice(&x[s..s + self.w * cin]);
                    right.fill(T::zero());
                }
                None => row.fill(T::zero()),
            }
        }
    }

    /// Implicit passes: the im2col matrix of kernel row `ki` for a tile of `r` output rows,
    /// as a view of the padded input `xp` (`wide_pixels(r) x kw*cin`, overlapping rows).
    fn implicit_rows<'a, T>(&self, xp: &'a [T], ki: usize, r: usize) -> MatRef<'a, T> {
        MatRef {
            data: xp,
            offset: ki * self.wp * self.cin,
            rows: self.wide_pixels(r),
            cols: self.kw * self.cin,
            row_stride: self.cin as isize,
            col_stride: 1,
        }
    }

    /// Rows `ki * kw * cin ..` of the kernel (one kernel row, `kw*cin x cout`).
    fn w_kernel_row<'a, T>(&self, w: &'a [T], ki: usize) -> MatRef<'a, T> {
        MatRef {
            data: w,
            offset: ki * self.kw * self.cin * self.cout,
            rows: self.kw * self.cin,
            cols: self.cout,
            row_stride: self.cout as isize,
            col_stride: 1,
        }
    }

    /// The implicit forward pass of one tile: `y_tile` (`r x ow x cout`) from the padded
    /// input `xp`, through the wide result `wide`.
    fn implicit_forward_tile<T: Float>(
        &self,
        xp: &[T],
        w: &[T],
        wide: &mut Vec<T>,
        y_tile: &mut [MaybeUninit<T>],
        par: bool,
    ) -> Result<()> {
        let r = y_tile.len() / (self.ow * self.cout);
        let q = self.wide_pixels(r);
        if wide.len() < q * self.cout {
            wide.resize(q * self.cout, T::zero());
        }
        let wide = &mut wide[..q * self.cout];
        for ki in 0..self.kh {
            let a = self.implicit_rows(xp, ki, r);
            gemm_strided(
                a,
                self.w_kernel_row(w, ki),
                wide,
                0,
                self.cout,
                T::one(),
                ki > 0,
                par,
            )?;
        }
        let (row_in, row_out) = (self.wp * self.cout, self.ow * self.cout);
        for (t, out) in y_tile.chunks_exact_mut(row_out).enumerate() {
            for (o, &v) in out.iter_mut().zip(&wide[t * row_in..t * row_in + row_out]) {
                o.write(v);
            }
        }
        Ok(())
    }

    /// The implicit filter gradient of one tile: `dw += sum over ki` of kernel row `ki`'s
    /// im2col view transposed times `dy` laid out wide (zeros in the dropped columns).
    fn implicit_filter_tile<T: Float>(
        &self,
        xp: &[T],
        dy: &[T],
        dyw: &mut Vec<T>,
        dw: &mut [T],
        (n, r0): (usize, usize),
        par: bool,
    ) -> Result<()> {
        let r = self.tile_rows(r0);
        let q = self.wide_pixels(r);
        let (row_in, row_out) = (self.ow * self.cout, self.wp * self.cout);
        if dyw.len() < r * row_out {
            dyw.resize(r * row_out, T::zero());
        }
        for (t, out) in dyw[..r * row_out].chunks_exact_mut(row_out).enumerate() {
            let s = ((n * self.oh + r0 + t) * self.ow) * self.cout;
            let (valid, dropped) = out.split_at_mut(row_in);
            valid.copy_from_slice(&dy[s..s + row_in]);
            dropped.fill(T::zero());
        }
        let b = MatRef::row_major(&dyw[..q * self.cout], q, self.cout);
        for ki in 0..self.kh {
            let a = self.implicit_rows(xp, ki, r).t();
            let off = ki * self.kw * self.cin * self.cout;
            gemm_strided(a, b, dw, off, self.cout, T::one(), true, par)?;
        }
        Ok(())
    }

    /// The convolution whose forward pass is this one's input gradient, when unit strides
    /// make it one: input `dy`, kernel flipped in space with its channel axes swapped
    /// ([`flip_kernel`]), padding `k - 1 - p` on each side. Its output has this one's input
    /// shape.
    fn input_gradient_params(&self) -> Conv2dParams {
        Conv2dParams {
            batch: self.n,
            in_hw: [self.oh, self.ow],
            in_channels: self.cout,
            out_channels: self.cin,
            kernel: [self.kh, self.kw],
            stride: [1, 1],
            // Bottom: `kh - 1 - pb`, where `oh = h + pt + pb - kh + 1`; the same across.
            padding: [
                (self.kh - 1 - self.pt, self.h + self.pt - self.oh),
                (self.kw - 1 - self.pl, self.w + self.pl - self.ow),
            ],
            dilation: [1, 1],
            groups: 1,
        }
    }

    /// Whether the input gradient is faster as the implicit convolution of
    /// [`Geom::input_gradient_params`] than as a GEMM and col2im. That convolution also
    /// multiplies the zero padding around `dy` (`h * w` outputs, where the GEMM has `oh * ow`
    /// rows) and its dropped columns, against col2im's read-add-write of each of the GEMM's
    /// outputs (about `8 / cout` of its work, measured as above).
    fn transform_pays(&self) -> bool {
        let flops = (self.h * self.w) as f64 / (self.oh * self.ow) as f64;
        let wide = 1.0 + (self.kw - 1) as f64 / (self.w + self.kw - 1) as f64;
        flops * wide < 1.0 + 8.0 / self.cout as f64
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

/// A worker's two scratch buffers: the im2col matrix (or the padded input rows of the
/// implicit passes), and the implicit passes' wide rows.
type Buffers<T> = (Scratch<T>, Scratch<T>);

fn buffers<T: 'static>() -> Buffers<T> {
    (Scratch::take(), Scratch::take())
}

/// The kernel of the input-gradient convolution ([`Geom::input_gradient_params`]):
/// `(KH, KW, C_out, C_in)` with `w'[i, j, o, c] = w[KH-1-i, KW-1-j, c, o]`.
fn flip_kernel<T: Float>(g: &Geom, w: &[T]) -> Vec<T> {
    let (kh, kw, cin, cout) = (g.kh, g.kw, g.cin, g.cout);
    let mut out = Vec::with_capacity(w.len());
    for i in 0..kh {
        for j in 0..kw {
            let tap = &w[((kh - 1 - i) * kw + (kw - 1 - j)) * cin * cout..][..cin * cout];
            for o in 0..cout {
                out.extend(tap.iter().skip(o).step_by(cout));
            }
        }
    }
    out
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
    forward(&g, x, w, None)
}

/// `op(conv2d(x, w) + bias)`: [`conv2d_forward`] with the layer's tail (the bias along the
/// output channels, then the activation `op`, `None` for none) applied to each tile of the
/// output right after its GEMM, while the tile is in cache, instead of as a pass of its own
/// over the whole output. The result is the same as [`conv2d_forward`] followed by
/// [`crate::unary::bias_unary`], bit for bit.
///
/// Returns [`Error::InvalidArgument`] as [`conv2d_forward`] does, and when `bias` is not
/// `out_channels` long or `op` is not one that [`crate::unary::grad_fuses`] accepts.
///
/// ```
/// use keras_backend::op::{Conv2dParams, UnaryOp};
/// use keras_cpu::conv::conv2d_bias_unary;
/// // One 3x3 single-channel image, a 2x2 kernel of ones, then bias -20 and ReLU.
/// let p = Conv2dParams {
///     batch: 1, in_hw: [3, 3], in_channels: 1, out_channels: 1, kernel: [2, 2],
///     stride: [1, 1], padding: [(0, 0), (0, 0)], dilation: [1, 1], groups: 1,
/// };
/// let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
/// let y = conv2d_bias_unary(&p, &x, &[1.0; 4], &[-20.0], Some(UnaryOp::Relu))?;
/// assert_eq!(y, [0.0, 0.0, 4.0, 8.0]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn conv2d_bias_unary<T: Float>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    bias: &[T],
    op: Option<UnaryOp>,
) -> Result<Vec<T>> {
    const OP: &str = "conv2d_bias_unary";
    let g = Geom::new(OP, p)?;
    g.check_len(OP, "input", x.len(), g.x_len)?;
    g.check_len(OP, "kernel", w.len(), g.w_len)?;
    g.check_len(OP, "bias", bias.len(), g.cout)?;
    if !crate::unary::grad_fuses(op) {
        return Err(Error::InvalidArgument {
            op: OP,
            msg: format!("{op:?} is not an activation that fuses (relu, sigmoid, tanh, exp or none)"),
        });
    }
    forward(&g, x, w, Some((bias, op)))
}

/// [`conv2d_forward`] with the geometry checked, and the tail `op(y + bias)` applied to each
/// tile when given.
fn forward<T: Float>(g: &Geom, x: &[T], w: &[T], tail: Option<(&[T], Option<UnaryOp>)>) -> Result<Vec<T>> {
    if g.y_len == 0 {
        return Ok(vec![T::zero(); g.y_len]);
    }
    // Each tile is written once, by the worker that computes it: the output is never zeroed.
    let mut y: Vec<T> = Vec::with_capacity(g.y_len);
    let img = g.oh * g.ow * g.cout;
    let tile = g.rows * g.ow * g.cout;
    let mut units: Vec<(usize, usize, &mut [MaybeUninit<T>])> = Vec::new();
    for (n, yimg) in y.spare_capacity_mut()[..g.y_len].chunks_mut(img).enumerate() {
        for (t, yt) in yimg.chunks_mut(tile).enumerate() {
            units.push((n, t * g.rows, yt));
        }
    }
    let run = |bufs: &mut Buffers<T>, (n, r0, yt): (usize, usize, &mut [MaybeUninit<T>]), par: bool| {
        if g.implicit {
            g.padded_input(x, &mut bufs.0, n, r0);
            g.implicit_forward_tile(&bufs.0, w, &mut bufs.1, yt, par)?;
        } else {
            for grp in 0..g.groups {
                let a = g.col(x, &mut bufs.0, n, r0, grp);
                gemm_strided_uninit(a, g.w_group(w, grp), yt, grp * g.cog, g.cout, T::one(), par)?;
            }
        }
        if let Some((bias, op)) = tail {
            // SAFETY: the tile was written just above (see the comment on `set_len` below),
            // and `MaybeUninit<T>` has the layout of `T`.
            let yt = unsafe { &mut *(yt as *mut [MaybeUninit<T>] as *mut [T]) };
            crate::unary::bias_unary_in_place(op, yt, bias);
        }
        Ok(())
    };
    if Geom::outer_parallel(units.len()) {
        units
            .into_par_iter()
            .try_for_each_init(buffers, |bufs, u| run(bufs, u, false))?;
    } else {
        let mut bufs = buffers();
        for u in units {
            run(&mut bufs, u, true)?;
        }
    }
    // SAFETY: the units partition the first `y_len` elements and `run` wrote all of each: the
    // groups' GEMMs write disjoint column blocks that together cover every channel, or the
    // implicit pass copies every row (an error returns above, dropping `y` with length 0).
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
    if g.eligible && g.transform_pays() {
        // With unit strides the input gradient is itself a convolution: no col2im.
        let flipped = Geom::with(OP, &g.input_gradient_params(), true)?;
        if flipped.implicit {
            return forward(&flipped, dy, &flip_kernel(&g, w), None);
        }
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
    let run = |acc: &mut [T], bufs: &mut Buffers<T>, (n, r0): (usize, usize), par: bool| {
        if g.implicit {
            g.padded_input(x, &mut bufs.0, n, r0);
            return g.implicit_filter_tile(&bufs.0, dy, &mut bufs.1, acc, (n, r0), par);
        }
        for grp in 0..g.groups {
            let a = g.col(x, &mut bufs.0, n, r0, grp).t();
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
                let mut bufs = buffers();
                for &u in chunk {
                    run(&mut acc, &mut bufs, u, false)?;
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
        let mut bufs = buffers();
        for u in units {
            run(&mut dw, &mut bufs, u, true)?;
        }
    }
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unary::bias_unary;
    use crate::CpuStorage;

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
        // The fused tail gives the forward pass then `bias_unary`, bit for bit, in both
        // precisions, on every path (im2col, implicit, 1x1) and tile split.
        let bias = data(p.out_channels, 4);
        let ops = [
            None,
            Some(UnaryOp::Relu),
            Some(UnaryOp::Sigmoid),
            Some(UnaryOp::Tanh),
            Some(UnaryOp::Exp),
        ];
        for op in ops {
            let fused = conv2d_bias_unary(&p, &x, &w, &bias, op).expect("fused");
            if p.out_channels == 0 {
                // (`bias_unary` declines an empty bias.)
                assert!(fused.is_empty(), "{p:?}");
                continue;
            }
            let (y, b) = (CpuStorage::F64(y.clone()), CpuStorage::F64(bias.clone()));
            assert_eq!(
                Some(CpuStorage::F64(fused)),
                bias_unary(op, &y, &b),
                "fused {op:?} {p:?}"
            );
            let fused = conv2d_bias_unary(&p, &f(&x), &f(&w), &f(&bias), op).expect("fused f32");
            let want = conv2d_forward(&p, &f(&x), &f(&w)).expect("forward f32");
            let (y, b) = (CpuStorage::F32(want), CpuStorage::F32(f(&bias)));
            assert_eq!(
                Some(CpuStorage::F32(fused)),
                bias_unary(op, &y, &b),
                "fused f32 {op:?} {p:?}"
            );
        }
    }

    #[test]
    fn matches_reference_over_many_shapes() {
        let mut count = 0;
        for &(n, hw) in &[(1, [5, 5]), (2, [7, 6]), (3, [4, 9])] {
            for &k in &[[1, 1], [3, 3], [2, 3]] {
                for &s in &[[1, 1], [2, 2], [1, 3]] {
                    for &pad in &[[(0, 0), (0, 0)], [(1, 1), (1, 1)], [(2, 0), (0, 1)]] {
                        for &d in &[[1, 1], [2, 1]] {
                            for &(cin, cout, groups) in
                                &[(1, 4, 1), (3, 4, 1), (4, 6, 2), (3, 6, 3), (16, 5, 1)]
                            {
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
    fn implicit_passes_split_into_tiles_across_threads() {
        // Big enough that a tile is fewer rows than the image (two tiles per image, the
        // second short) and the tiles run in parallel; asymmetric padding.
        let p = params(3, [60, 70], 64, 64, [3, 3], [1, 1], [(2, 0), (1, 1)], [1, 1], 1);
        let g = Geom::new("test", &p).unwrap();
        assert!(g.implicit && g.rows < g.oh && g.oh % g.rows != 0, "{g:?}");
        // The input gradient takes the flipped-kernel convolution, implicit too.
        let flipped = Geom::with("test", &g.input_gradient_params(), true).unwrap();
        assert!(g.transform_pays() && flipped.implicit && [flipped.oh, flipped.ow] == [60, 70]);
        check(p);
        // Strides, dilation, groups, a padding as large as the kernel or few input channels
        // take im2col.
        let z = [(0, 0), (0, 0)];
        for q in [
            params(1, [5, 5], 16, 2, [3, 3], [2, 1], z, [1, 1], 1),
            params(1, [5, 5], 16, 2, [3, 3], [1, 1], z, [1, 2], 1),
            params(1, [5, 5], 16, 2, [3, 3], [1, 1], z, [1, 1], 2),
            params(1, [5, 5], 16, 2, [2, 3], [1, 1], [(2, 0), (0, 0)], [1, 1], 1),
            params(1, [5, 5], 3, 2, [3, 3], [1, 1], z, [1, 1], 1),
        ] {
            assert!(!Geom::new("test", &q).unwrap().implicit, "{q:?}");
        }
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
        let relu = Some(UnaryOp::Relu);
        assert!(conv2d_bias_unary(&p, &x, &w, &vec![0.0; p.out_channels], relu).is_ok());
        assert!(conv2d_bias_unary(&p, &x, &w, &vec![0.0; p.out_channels + 1], relu).is_err());
        let log = Some(UnaryOp::Log);
        assert!(conv2d_bias_unary(&p, &x, &w, &vec![0.0; p.out_channels], log).is_err());
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
