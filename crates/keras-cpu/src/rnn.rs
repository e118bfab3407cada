//! Recurrent sequences as one kernel: the LSTM's and the GRU's time loop forward and their
//! hand-written backward (backpropagation through time).
//!
//! Unrolled into tensor ops, every step of an LSTM is a dozen small ops forward and twice that
//! backward, each with its own allocation and pass over memory. Here a step is one GEMM
//! (`h @ recurrent_kernel`, accumulated onto the step's input projection) and one fused pass
//! over the gates; backward, one fused pass and one GEMM per step, and the recurrent kernel's
//! gradient is a single GEMM over all steps.
//!
//! Layouts are batch-major as the layer's tensors are: `xk (b, t, gates·u)`, the per-step
//! buffers `(b, t, ·)`. Gate order is Keras's: input, forget, cell candidate, output for the
//! LSTM; update, reset, candidate for the GRU.

use keras_backend::{Error, Result};

use rayon::prelude::*;

use crate::matmul::{gemm, gemm_strided, MatRef};
use crate::simd::vectorized;
use crate::Float;

/// How a recurrent loop splits its batch: into contiguous blocks of `rows` rows, one task
/// each, and every task runs its rows through all the timesteps alone. A step then needs no
/// fork-join: the earlier loop forked and joined two or three times per step (the step's
/// GEMM, its row pass), up to 600 times for an LSTM over 200 steps; without them the
/// benchmark's LSTM(64) predicts 7% faster. Rows are independent in both directions, so a
/// row gets the same numbers in any block.
#[derive(Clone, Copy, Debug)]
struct RowBlocks {
    /// Rows per task (the last task may have fewer).
    rows: usize,
    /// Fewer tasks than threads (a batch smaller than the pool): each step's GEMM may use
    /// the idle threads itself.
    parallel_gemm: bool,
}

impl RowBlocks {
    /// As many blocks as the current rayon pool has threads, or one row each when the batch
    /// is smaller.
    fn of(batch: usize) -> RowBlocks {
        let threads = rayon::current_num_threads().max(1);
        let rows = batch.div_ceil(threads).max(1);
        RowBlocks {
            rows,
            parallel_gemm: batch.div_ceil(rows) < threads,
        }
    }

    /// The length of a block of rows of `len` elements each (never 0: an empty buffer then
    /// has no blocks rather than a zero chunk size).
    fn len(&self, len: usize) -> usize {
        (self.rows * len).max(1)
    }

    /// The first row of block `i` and its number of rows.
    fn span(&self, i: usize, batch: usize) -> (usize, usize) {
        let r0 = i * self.rows;
        (r0, self.rows.min(batch - r0))
    }
}

/// The sizes of a recurrent sequence: batch, timesteps, units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RnnDims {
    /// Batch size.
    pub batch: usize,
    /// Timesteps.
    pub steps: usize,
    /// Units (the size of the states).
    pub units: usize,
}

impl RnnDims {
    /// Checks the recurrent kernel's length for a cell of `gates` blocks, and the mask's;
    /// returns `(b, t, u, gates·u)`.
    fn check<T>(
        &self,
        gates: usize,
        rk: &[T],
        mask: Option<&[bool]>,
    ) -> Result<(usize, usize, usize, usize)> {
        let (b, t, u) = (self.batch, self.steps, self.units);
        check_len("recurrent kernel", rk.len(), u * gates * u)?;
        if let Some(m) = mask {
            check_len("mask", m.len(), b * t)?;
        }
        Ok((b, t, u, gates * u))
    }
}

/// What [`lstm_forward`] returns: the packed output and what [`lstm_backward`] needs.
#[derive(Clone, Debug)]
pub struct LstmForward<T> {
    /// `(b, t + 2, u)`: the output of every step, then the final `h`, then the final `c`
    /// (not read by [`lstm_backward`]).
    pub y: Vec<T>,
    /// `(b, t, 4u)`: the activated gates `i, f, g, o` of every step.
    pub gates: Vec<T>,
    /// `(b, t + 1, u)`: the cell state before every step, then the final one.
    pub c: Vec<T>,
    /// `(b, t, u)`: the `h` every step starts from.
    pub h_in: Vec<T>,
}

/// Sets the values below the smallest normal float to zero. The gradients carried back
/// through time shrink geometrically (by the forget or update gate, about 0.5 per step for a
/// fresh GRU), and after a hundred or so steps they are subnormal, where x86 arithmetic is
/// about a hundred times slower: a GRU over 200 steps spent three quarters of its training
/// step in GEMMs over subnormal gradients (5% of its input projections' gradient). The
/// backward passes flush the carried gradients and each step's gate gradients; this changes
/// results by less than `f32::MIN_POSITIVE` (1.2e-38), as the flush-to-zero mode
/// TensorFlow's CPU kernels run in.
#[inline(always)]
fn flush_subnormals<T: Float>(v: &mut [T]) {
    let tiny = T::min_positive_value();
    // A select rather than a conditional store, so that the loop vectorizes.
    for x in v {
        let a = *x;
        *x = if a.abs() < tiny { T::zero() } else { a };
    }
}

/// The `cols x rows` transpose of a row-major `rows x cols` matrix, row-major.
fn transposed<T: Copy>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols)
        .flat_map(|j| (0..rows).map(move |i| m[i * cols + j]))
        .collect()
}

/// The rows of step `s` in a batch-major `(b, t, w)` buffer, as a `b x w` matrix.
fn step_rows<T>(buf: &[T], s: usize, b: usize, t: usize, w: usize) -> MatRef<'_, T> {
    MatRef {
        data: buf,
        offset: s * w,
        rows: b,
        cols: w,
        row_stride: (t * w) as isize,
        col_stride: 1,
    }
}

/// The recurrent kernel's gradient `(u, w)`: the sum over steps of `h_in_s^T @ d_s`, one
/// product over all `b·t` rows of `h_in (b, t, u)` and `d (b, t, w)`.
fn kernel_gradient<T: Float>(h_in: &[T], d: &[T], u: usize, w: usize) -> Result<Vec<T>> {
    let rows = h_in.len() / u.max(1);
    let mut drk = vec![T::zero(); u * w];
    gemm(
        MatRef::row_major(h_in, rows, u).t(),
        MatRef::row_major(d, rows, w),
        &mut drk,
        T::one(),
        false,
        true,
    )?;
    Ok(drk)
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op: "lstm_sequence",
            msg: format!("{what} has {got} elements, expected {want}"),
        })
    }
}

/// Runs an LSTM over a sequence with `tanh` activation and `sigmoid` gates (Keras's defaults).
///
/// `xk (b, t, 4u)` is every step's input projection `x_t @ kernel + bias`; `rk (u, 4u)` the
/// recurrent kernel; `h0`, `c0 (b, u)` the initial states; `mask (b, t)`, when given, marks
/// the steps that count: a masked step keeps both states and outputs the previous `h`, or
/// zeros with `zero_output_for_mask` (Keras's `backend.rnn`).
///
/// ```
/// use keras_cpu::rnn::{lstm_forward, RnnDims};
/// let d = RnnDims { batch: 1, steps: 2, units: 1 };
/// // Gates i, f, g, o all 0 before the recurrence: i = f = o = 0.5, g = 0.
/// let f = lstm_forward(&[0.0f64; 8], &[0.0; 4], &[0.0], &[1.0], None, false, d)?;
/// // c = 0.5 * c + 0.5 * 0 halves each step; h = 0.5 * tanh(c).
/// assert_eq!(f.y[3], 0.25); // the final c
/// assert!((f.y[2] - 0.5 * 0.25f64.tanh()).abs() < 1e-15); // the final h
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// When a buffer's length does not match `dims`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward<T: Float>(
    xk: &[T],
    rk: &[T],
    h0: &[T],
    c0: &[T],
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
) -> Result<LstmForward<T>> {
    lstm_run(xk, rk, h0, c0, mask, zero_output_for_mask, dims, true)
}

/// [`lstm_forward`] for inference: only the packed output `(b, t + 2, u)`, bitwise the same.
/// Nothing for a backward pass is kept: one step's gates and cell state live in buffers of
/// `b x 4u` and `b x 2u` (which stay in cache) instead of a copy of all of `xk` and every
/// step's cell state.
///
/// ```
/// use keras_cpu::rnn::{lstm_forward, lstm_inference, RnnDims};
/// let d = RnnDims { batch: 1, steps: 2, units: 1 };
/// let xk = [0.1f64, 0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8];
/// let y = lstm_inference(&xk, &[0.5; 4], &[0.0], &[1.0], None, false, d)?;
/// assert_eq!(y, lstm_forward(&xk, &[0.5; 4], &[0.0], &[1.0], None, false, d)?.y);
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// When a buffer's length does not match `dims`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_inference<T: Float>(
    xk: &[T],
    rk: &[T],
    h0: &[T],
    c0: &[T],
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
) -> Result<Vec<T>> {
    Ok(lstm_run(xk, rk, h0, c0, mask, zero_output_for_mask, dims, false)?.y)
}

/// The LSTM loop of [`lstm_forward`] (`keep`: every step's gates, cell state and starting
/// `h` are kept for the backward pass) and [`lstm_inference`] (not `keep`: one step's worth,
/// overwritten each step, and returned empty).
#[allow(clippy::too_many_arguments)]
fn lstm_run<T: Float>(
    xk: &[T],
    rk: &[T],
    h0: &[T],
    c0: &[T],
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
    keep: bool,
) -> Result<LstmForward<T>> {
    let (b, t, u, w) = dims.check(4, rk, mask)?;
    check_len("xk", xk.len(), b * t * w)?;
    check_len("h0", h0.len(), b * u)?;
    check_len("c0", c0.len(), b * u)?;
    let (zero, one) = (T::zero(), T::one());
    // Per batch row: where step `s`'s gates, cell states (before and after) and starting `h`
    // are, as (row length, offset of step s).
    let kept = |len: usize| if keep { (t * len, len) } else { (len, 0) };
    let ((g_row, g_step), (h_row, h_step)) = (kept(w), kept(u));
    let (c_row, c_step) = if keep { ((t + 1) * u, u) } else { (2 * u, 0) };
    let mut gates = if keep { xk.to_vec() } else { vec![zero; b * w] };
    let mut cs = vec![zero; b * c_row];
    // Without `keep`, `h_in` is one row each, never written: it only keeps the zip below.
    let mut h_in = vec![zero; b * h_row];
    let mut y = vec![zero; b * (t + 2) * u];
    let mut h = h0.to_vec();
    for r in 0..b {
        cs[r * c_row..][..u].copy_from_slice(&c0[r * u..][..u]);
    }
    let rk_m = MatRef::row_major(rk, u, w);
    let blocks = RowBlocks::of(b);
    // On a rayon worker, so that a one-block batch's parallel GEMMs are cheap fork-joins
    // rather than jobs sent to the pool from outside.
    rayon::scope(|_| {
        gates
            .par_chunks_mut(blocks.len(g_row))
            .zip(cs.par_chunks_mut(blocks.len(c_row)))
            .zip(y.par_chunks_mut(blocks.len((t + 2) * u)))
            .zip(h_in.par_chunks_mut(blocks.len(h_row)))
            .zip(h.par_chunks_mut(blocks.len(u)))
            .enumerate()
            .try_for_each(|(i, ((((gates, cs), y), h_in), h))| -> Result<()> {
                let (r0, n) = blocks.span(i, b);
                for s in 0..t {
                    if !keep {
                        // This step's input projections, then the recurrence is added to them.
                        for (r, g) in gates.chunks_mut(w).enumerate() {
                            g.copy_from_slice(&xk[((r0 + r) * t + s) * w..][..w]);
                        }
                    }
                    // z = xk_s + h @ rk, in place in the step's rows of `gates`.
                    gemm_strided(
                        MatRef::row_major(h, n, u),
                        rk_m,
                        gates,
                        s * g_step,
                        g_row,
                        one,
                        true,
                        blocks.parallel_gemm,
                    )?;
                    let rows = gates
                        .chunks_mut(g_row)
                        .zip(cs.chunks_mut(c_row))
                        .zip(y.chunks_mut((t + 2) * u))
                        .zip(h_in.chunks_mut(h_row))
                        .zip(h.chunks_mut(u));
                    for (r, ((((g, c), y), h_in), h)) in rows.enumerate() {
                        let keep_step = mask.is_none_or(|m| m[(r0 + r) * t + s]);
                        if keep {
                            h_in[s * h_step..][..u].copy_from_slice(h);
                        }
                        vectorized(|| {
                            forward_row(
                                &mut g[s * g_step..][..w],
                                &mut c[s * c_step..][..2 * u],
                                &mut y[s * u..][..u],
                                h,
                                keep_step,
                                zero_output_for_mask,
                            )
                        });
                        if !keep {
                            c.copy_within(u..2 * u, 0);
                        }
                    }
                }
                Ok(())
            })
    })?;
    for r in 0..b {
        y[(r * (t + 2) + t) * u..][..u].copy_from_slice(&h[r * u..][..u]);
        let c_last = &cs[r * c_row + t * c_step..][..u];
        y[(r * (t + 2) + t + 1) * u..][..u].copy_from_slice(c_last);
    }
    if !keep {
        (gates, cs, h_in) = (Vec::new(), Vec::new(), Vec::new());
    }
    Ok(LstmForward {
        y,
        gates,
        c: cs,
        h_in,
    })
}

/// One row of one step: activates the gates `g (4u)` in place, then from `c[..u]` (the cell
/// state before) writes `c[u..]` (after) and the new `h`, and the step's output.
#[inline(always)]
fn forward_row<T: Float>(
    g: &mut [T],
    c: &mut [T],
    out: &mut [T],
    h: &mut [T],
    keep: bool,
    zero_output: bool,
) {
    let u = h.len();
    for v in &mut g[..2 * u] {
        *v = v.sigmoid_k();
    }
    for v in &mut g[2 * u..3 * u] {
        *v = v.tanh_k();
    }
    for v in &mut g[3 * u..] {
        *v = v.sigmoid_k();
    }
    let (c_prev, c_next) = c.split_at_mut(u);
    if keep {
        let (gi, gf, gg, go) = (&g[..u], &g[u..2 * u], &g[2 * u..3 * u], &g[3 * u..]);
        // Three simple passes, each of which vectorizes.
        for j in 0..u {
            c_next[j] = gf[j] * c_prev[j] + gi[j] * gg[j];
        }
        for (h, &c) in h.iter_mut().zip(c_next.iter()) {
            *h = c.tanh_k();
        }
        for (h, &o) in h.iter_mut().zip(go) {
            *h *= o;
        }
        out.copy_from_slice(h);
    } else {
        // A masked step keeps the states; its output is the previous `h`, or zeros.
        c_next.copy_from_slice(c_prev);
        if !zero_output {
            out.copy_from_slice(h);
        }
    }
}

/// The gradients of an LSTM sequence: `(d xk, d rk, d h0, d c0)`, given `dy (b, t + 2, u)`,
/// the gradient of [`lstm_forward`]'s packed output, and what it saved.
///
/// ```
/// use keras_cpu::rnn::{lstm_backward, lstm_forward, RnnDims};
/// let d = RnnDims { batch: 1, steps: 1, units: 1 };
/// let f = lstm_forward(&[0.0f64; 4], &[0.0; 4], &[0.0], &[1.0], None, false, d)?;
/// // d(final c)/d(c0) is the forget gate, 0.5.
/// let (_, _, _, dc0) = lstm_backward(&[0.0, 0.0, 1.0], &[0.0; 4], &f, None, false, d)?;
/// assert_eq!(dc0, vec![0.5]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// When a buffer's length does not match `dims`.
#[allow(clippy::type_complexity)]
pub fn lstm_backward<T: Float>(
    dy: &[T],
    rk: &[T],
    saved: &LstmForward<T>,
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
) -> Result<(Vec<T>, Vec<T>, Vec<T>, Vec<T>)> {
    let (b, t, u, w) = dims.check(4, rk, mask)?;
    check_len("dy", dy.len(), b * (t + 2) * u)?;
    check_len("saved gates", saved.gates.len(), b * t * w)?;
    let (zero, one) = (T::zero(), T::one());
    let mut dxk = vec![zero; b * t * w];
    let mut dh = vec![zero; b * u];
    let mut dc = vec![zero; b * u];
    for r in 0..b {
        dh[r * u..][..u].copy_from_slice(&dy[(r * (t + 2) + t) * u..][..u]);
        dc[r * u..][..u].copy_from_slice(&dy[(r * (t + 2) + t + 1) * u..][..u]);
    }
    // rk^T laid out row-major once: each step's GEMM then packs it with contiguous copies
    // rather than a strided gather (a sixth of the backward loop's time).
    let rk_t_rows = transposed(rk, u, w);
    let rk_t = MatRef::row_major(&rk_t_rows, w, u);
    let blocks = RowBlocks::of(b);
    // On a rayon worker, as in the forward.
    rayon::scope(|_| {
        dxk.par_chunks_mut(blocks.len(t * w))
            .zip(dh.par_chunks_mut(blocks.len(u)))
            .zip(dc.par_chunks_mut(blocks.len(u)))
            .enumerate()
            .try_for_each(|(i, ((dxk, dh), dc))| -> Result<()> {
                let (r0, n) = blocks.span(i, b);
                let mut tanh_c = vec![zero; u];
                for s in (0..t).rev() {
                    let rows = dxk.chunks_mut(t * w).zip(dh.chunks_mut(u)).zip(dc.chunks_mut(u));
                    for (r, ((dz, dh), dc)) in rows.enumerate() {
                        let r = r0 + r;
                        let dout = &dy[(r * (t + 2) + s) * u..][..u];
                        if mask.is_none_or(|m| m[r * t + s]) {
                            let g = &saved.gates[(r * t + s) * w..][..w];
                            let c = &saved.c[(r * (t + 1) + s) * u..][..2 * u];
                            let dz = &mut dz[s * w..][..w];
                            vectorized(|| backward_row(g, c, dout, dz, dh, dc, &mut tanh_c));
                        } else if !zero_output_for_mask {
                            // The states pass through; the step's output was the previous `h`.
                            for (d, &o) in dh.iter_mut().zip(dout) {
                                *d += o;
                            }
                        }
                    }
                    // d h_prev += dz_s @ rk^T (a masked row's dz is 0).
                    let dz = step_rows(dxk, s, n, t, w);
                    gemm(dz, rk_t, dh, one, true, blocks.parallel_gemm)?;
                    vectorized(|| {
                        flush_subnormals(dh);
                        flush_subnormals(dc);
                    });
                }
                Ok(())
            })
    })?;
    let drk = kernel_gradient(&saved.h_in, &dxk, u, w)?;
    Ok((dxk, drk, dh, dc))
}

/// One unmasked row of one backward step: from the saved gates `g (4u)` and cell states
/// `c (2u: before, after)`, the output's gradient `dout` and the carried `dh`, `dc`, writes
/// the gate pre-activations' gradient `dz (4u)`, sets `dc` to the previous cell state's
/// gradient and `dh` to 0 (the caller adds `dz @ rk^T`). `tanh_c` is scratch of `u`.
#[inline(always)]
fn backward_row<T: Float>(
    g: &[T],
    c: &[T],
    dout: &[T],
    dz: &mut [T],
    dh: &mut [T],
    dc: &mut [T],
    tanh_c: &mut [T],
) {
    let u = dh.len();
    let one = T::one();
    let (gi, gf, gg, go) = (&g[..u], &g[u..2 * u], &g[2 * u..3 * u], &g[3 * u..]);
    let (c_prev, c_next) = c.split_at(u);
    let (dzi, rest) = dz.split_at_mut(u);
    let (dzf, rest) = rest.split_at_mut(u);
    let (dzg, dzo) = rest.split_at_mut(u);
    for (tc, &c) in tanh_c.iter_mut().zip(c_next) {
        *tc = c.tanh_k();
    }
    for j in 0..u {
        let (i, f, g, o) = (gi[j], gf[j], gg[j], go[j]);
        let dhn = dh[j] + dout[j];
        let tc = tanh_c[j];
        let dcn = dc[j] + dhn * o * (one - tc * tc);
        dzi[j] = dcn * g * i * (one - i);
        dzf[j] = dcn * c_prev[j] * f * (one - f);
        dzg[j] = dcn * i * (one - g * g);
        dzo[j] = dhn * tc * o * (one - o);
        dc[j] = dcn * f;
        dh[j] = T::zero();
    }
    flush_subnormals(dz);
}

/// What [`gru_forward`] returns: the packed output and what [`gru_backward`] needs.
#[derive(Clone, Debug)]
pub struct GruForward<T> {
    /// `(b, t + 1, u)`: the output of every step, then the final `h` (not read by
    /// [`gru_backward`]).
    pub y: Vec<T>,
    /// `(b, t, 3u)`: the update gate `z`, the reset gate `r` and the candidate `hh` of every
    /// step.
    pub gates: Vec<T>,
    /// `(b, t, u)`: the candidate block of `h @ recurrent_kernel + recurrent_bias` of every step
    /// (what the reset gate multiplies).
    pub mh: Vec<T>,
    /// `(b, t, u)`: the `h` every step starts from.
    pub h_in: Vec<T>,
}

/// Runs a GRU over a sequence with `tanh` activation, `sigmoid` gates and `reset_after`
/// (Keras's defaults): per step, with `m = h @ rk + rb` split into blocks z, r, h and `xk_t`
/// likewise, `z = σ(x_z + m_z)`, `r = σ(x_r + m_r)`, `hh = tanh(x_h + r * m_h)`,
/// `h = z * h + (1 - z) * hh`.
///
/// `xk (b, t, 3u)` is every step's input projection `x_t @ kernel + input_bias`; `rk (u, 3u)`
/// the recurrent kernel; `rb (3u)` the recurrent bias, if any; `h0 (b, u)` the initial state;
/// `mask` as for [`lstm_forward`].
///
/// ```
/// use keras_cpu::rnn::{gru_forward, RnnDims};
/// let d = RnnDims { batch: 1, steps: 1, units: 1 };
/// // All pre-activations 0: z = r = 0.5, hh = 0, so h = 0.5 * h0.
/// let f = gru_forward(&[0.0f64; 3], &[0.0; 3], None, &[0.8], None, false, d)?;
/// assert_eq!(f.y, vec![0.4, 0.4]); // the step's output, the final h
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// When a buffer's length does not match `dims`.
#[allow(clippy::too_many_arguments)]
pub fn gru_forward<T: Float>(
    xk: &[T],
    rk: &[T],
    rb: Option<&[T]>,
    h0: &[T],
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
) -> Result<GruForward<T>> {
    gru_run(xk, rk, rb, h0, mask, zero_output_for_mask, dims, true)
}

/// [`gru_forward`] for inference: only the packed output `(b, t + 1, u)`, bitwise the same,
/// with nothing kept for a backward pass (one step's gates in a `b x 3u` buffer, as
/// [`lstm_inference`]).
///
/// ```
/// use keras_cpu::rnn::{gru_forward, gru_inference, RnnDims};
/// let d = RnnDims { batch: 1, steps: 2, units: 1 };
/// let xk = [0.1f64, -0.2, 0.3, 0.4, 0.5, -0.6];
/// let y = gru_inference(&xk, &[0.5; 3], None, &[0.8], None, false, d)?;
/// assert_eq!(y, gru_forward(&xk, &[0.5; 3], None, &[0.8], None, false, d)?.y);
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// When a buffer's length does not match `dims`.
#[allow(clippy::too_many_arguments)]
pub fn gru_inference<T: Float>(
    xk: &[T],
    rk: &[T],
    rb: Option<&[T]>,
    h0: &[T],
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
) -> Result<Vec<T>> {
    Ok(gru_run(xk, rk, rb, h0, mask, zero_output_for_mask, dims, false)?.y)
}

/// The GRU loop of [`gru_forward`] (`keep`: every step's gates, candidate block and starting
/// `h` are kept) and [`gru_inference`] (not `keep`: one step's worth, returned empty).
#[allow(clippy::too_many_arguments)]
fn gru_run<T: Float>(
    xk: &[T],
    rk: &[T],
    rb: Option<&[T]>,
    h0: &[T],
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
    keep: bool,
) -> Result<GruForward<T>> {
    let (b, t, u, w) = dims.check(3, rk, mask)?;
    check_len("xk", xk.len(), b * t * w)?;
    check_len("h0", h0.len(), b * u)?;
    if let Some(rb) = rb {
        check_len("recurrent bias", rb.len(), w)?;
    }
    let zero = T::zero();
    // Per batch row: (row length, offset of step s) of the gates, `mh` and the starting `h`.
    let kept = |len: usize| if keep { (t * len, len) } else { (len, 0) };
    let ((g_row, g_step), (u_row, u_step)) = (kept(w), kept(u));
    let mut gates = if keep { xk.to_vec() } else { vec![zero; b * w] };
    let mut y = vec![zero; b * (t + 1) * u];
    let mut mh = vec![zero; b * u_row];
    // Without `keep`, `h_in` is one row each, never written: it only keeps the zip below.
    let mut h_in = vec![zero; b * u_row];
    let mut h = h0.to_vec();
    let mut m = vec![zero; b * w];
    let rk_m = MatRef::row_major(rk, u, w);
    let blocks = RowBlocks::of(b);
    // On a rayon worker, as in the LSTM.
    rayon::scope(|_| {
        gates
            .par_chunks_mut(blocks.len(g_row))
            .zip(mh.par_chunks_mut(blocks.len(u_row)))
            .zip(y.par_chunks_mut(blocks.len((t + 1) * u)))
            .zip(h_in.par_chunks_mut(blocks.len(u_row)))
            .zip(h.par_chunks_mut(blocks.len(u)))
            .zip(m.par_chunks_mut(blocks.len(w)))
            .enumerate()
            .try_for_each(|(i, (((((gates, mh), y), h_in), h), m))| -> Result<()> {
                let (r0, n) = blocks.span(i, b);
                for s in 0..t {
                    let hm = MatRef::row_major(h, n, u);
                    gemm(hm, rk_m, m, T::one(), false, blocks.parallel_gemm)?;
                    let rows = gates
                        .chunks_mut(g_row)
                        .zip(mh.chunks_mut(u_row))
                        .zip(y.chunks_mut((t + 1) * u))
                        .zip(h_in.chunks_mut(u_row))
                        .zip(h.chunks_mut(u))
                        .zip(m.chunks(w));
                    for (r, (((((g, mh), y), h_in), h), m_row)) in rows.enumerate() {
                        let keep_step = mask.is_none_or(|mask| mask[(r0 + r) * t + s]);
                        if keep {
                            h_in[s * u_step..][..u].copy_from_slice(h);
                        }
                        let g = &mut g[s * g_step..][..w];
                        if !keep {
                            g.copy_from_slice(&xk[((r0 + r) * t + s) * w..][..w]);
                        }
                        vectorized(|| {
                            gru_forward_row(
                                g,
                                m_row,
                                rb,
                                &mut mh[s * u_step..][..u],
                                &mut y[s * u..][..u],
                                h,
                                keep_step,
                                zero_output_for_mask,
                            )
                        });
                    }
                }
                Ok(())
            })
    })?;
    for r in 0..b {
        y[(r * (t + 1) + t) * u..][..u].copy_from_slice(&h[r * u..][..u]);
    }
    if !keep {
        (gates, mh, h_in) = (Vec::new(), Vec::new(), Vec::new());
    }
    Ok(GruForward { y, gates, mh, h_in })
}

/// One row of one GRU step: from the input projection `g (3u)` (overwritten with `z, r, hh`)
/// and the recurrent product `m (3u)` (plus `rb`), writes the candidate block `mh`, the new
/// `h` and the step's output.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_forward_row<T: Float>(
    g: &mut [T],
    m: &[T],
    rb: Option<&[T]>,
    mh: &mut [T],
    out: &mut [T],
    h: &mut [T],
    keep: bool,
    zero_output: bool,
) {
    let u = h.len();
    for (v, &mv) in g[..2 * u].iter_mut().zip(m) {
        *v += mv;
    }
    // The candidate block of m + rb is kept apart: the reset gate multiplies it.
    mh.copy_from_slice(&m[2 * u..]);
    if let Some(rb) = rb {
        for (v, &bv) in g[..2 * u].iter_mut().zip(rb) {
            *v += bv;
        }
        for (v, &bv) in mh.iter_mut().zip(&rb[2 * u..]) {
            *v += bv;
        }
    }
    for v in &mut g[..2 * u] {
        *v = v.sigmoid_k();
    }
    let (zr, gh) = g.split_at_mut(2 * u);
    let (gz, gr) = zr.split_at(u);
    // The candidate: tanh(x_h + r * m_h).
    for j in 0..u {
        gh[j] += gr[j] * mh[j];
    }
    for v in gh.iter_mut() {
        *v = v.tanh_k();
    }
    if keep {
        for j in 0..u {
            h[j] = gz[j] * h[j] + (T::one() - gz[j]) * gh[j];
        }
        out.copy_from_slice(h);
    } else if !zero_output {
        out.copy_from_slice(h);
    }
}

/// The gradients of a GRU sequence: `(d xk, d rk, d rb, d h0)`, given `dy (b, t + 1, u)`, the
/// gradient of [`gru_forward`]'s packed output, and what it saved (`d rb` is all zeros-length
/// when there is no recurrent bias).
///
/// ```
/// use keras_cpu::rnn::{gru_backward, gru_forward, RnnDims};
/// let d = RnnDims { batch: 1, steps: 1, units: 1 };
/// let f = gru_forward(&[0.0f64; 3], &[0.0; 3], None, &[0.8], None, false, d)?;
/// // d(final h)/d(h0) is z = 0.5 (the candidate does not depend on h0 when rk = 0).
/// let (_, _, _, dh0) = gru_backward(&[0.0, 1.0], &[0.0; 3], false, &f, None, false, d)?;
/// assert_eq!(dh0, vec![0.5]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// When a buffer's length does not match `dims`.
#[allow(clippy::type_complexity)]
pub fn gru_backward<T: Float>(
    dy: &[T],
    rk: &[T],
    has_rb: bool,
    saved: &GruForward<T>,
    mask: Option<&[bool]>,
    zero_output_for_mask: bool,
    dims: RnnDims,
) -> Result<(Vec<T>, Vec<T>, Vec<T>, Vec<T>)> {
    let (b, t, u, w) = dims.check(3, rk, mask)?;
    check_len("dy", dy.len(), b * (t + 1) * u)?;
    check_len("saved gates", saved.gates.len(), b * t * w)?;
    let (zero, one) = (T::zero(), T::one());
    let mut dxk = vec![zero; b * t * w];
    // The gradient of m = h @ rk + rb per step: dxk's, but with r * (d hh) in the h block.
    let mut dm = vec![zero; b * t * w];
    let mut dh = vec![zero; b * u];
    for r in 0..b {
        dh[r * u..][..u].copy_from_slice(&dy[(r * (t + 1) + t) * u..][..u]);
    }
    let rk_t_rows = transposed(rk, u, w);
    let rk_t = MatRef::row_major(&rk_t_rows, w, u);
    let blocks = RowBlocks::of(b);
    // On a rayon worker, as in the LSTM.
    rayon::scope(|_| {
        dxk.par_chunks_mut(blocks.len(t * w))
            .zip(dm.par_chunks_mut(blocks.len(t * w)))
            .zip(dh.par_chunks_mut(blocks.len(u)))
            .enumerate()
            .try_for_each(|(i, ((dxk, dm), dh))| -> Result<()> {
                let (r0, n) = blocks.span(i, b);
                for s in (0..t).rev() {
                    let rows = dxk
                        .chunks_mut(t * w)
                        .zip(dm.chunks_mut(t * w))
                        .zip(dh.chunks_mut(u));
                    for (r, ((dx, dm), dh)) in rows.enumerate() {
                        let r = r0 + r;
                        let dout = &dy[(r * (t + 1) + s) * u..][..u];
                        if mask.is_none_or(|m| m[r * t + s]) {
                            let g = &saved.gates[(r * t + s) * w..][..w];
                            let mh = &saved.mh[(r * t + s) * u..][..u];
                            let h = &saved.h_in[(r * t + s) * u..][..u];
                            let (dx, dm) = (&mut dx[s * w..][..w], &mut dm[s * w..][..w]);
                            vectorized(|| gru_backward_row(g, mh, h, dout, dx, dm, dh));
                        } else if !zero_output_for_mask {
                            for (d, &o) in dh.iter_mut().zip(dout) {
                                *d += o;
                            }
                        }
                    }
                    // d h_prev += dm_s @ rk^T (a masked row's dm is 0).
                    let dm_s = step_rows(dm, s, n, t, w);
                    gemm(dm_s, rk_t, dh, one, true, blocks.parallel_gemm)?;
                    vectorized(|| flush_subnormals(dh));
                }
                Ok(())
            })
    })?;
    // d rb = the column sums of dm.
    let drk = kernel_gradient(&saved.h_in, &dm, u, w)?;
    let mut drb = vec![zero; if has_rb { w } else { 0 }];
    if has_rb {
        for row in dm.chunks(w) {
            for (d, &v) in drb.iter_mut().zip(row) {
                *d += v;
            }
        }
    }
    Ok((dxk, drk, drb, dh))
}

/// One unmasked row of one GRU backward step: from the saved gates `g (3u: z, r, hh)`, the
/// candidate block `mh`, the starting `h`, the output's gradient `dout` and the carried `dh`,
/// writes the input projection's gradient `dx (3u)` and the recurrent product's `dm (3u)`,
/// and sets `dh` to its part through the update gate (the caller adds `dm @ rk^T`).
#[inline(always)]
fn gru_backward_row<T: Float>(
    g: &[T],
    mh: &[T],
    h: &[T],
    dout: &[T],
    dx: &mut [T],
    dm: &mut [T],
    dh: &mut [T],
) {
    let u = dh.len();
    let one = T::one();
    for j in 0..u {
        let (z, rr, hh) = (g[j], g[u + j], g[2 * u + j]);
        let dhn = dh[j] + dout[j];
        let dz = dhn * (h[j] - hh) * z * (one - z);
        let dhh = dhn * (one - z) * (one - hh * hh);
        let dr = dhh * mh[j] * rr * (one - rr);
        dx[j] = dz;
        dx[u + j] = dr;
        dx[2 * u + j] = dhh;
        dm[j] = dz;
        dm[u + j] = dr;
        dm[2 * u + j] = dhh * rr;
        dh[j] = dhn * z;
    }
    flush_subnormals(dx);
    flush_subnormals(dm);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::data;

    /// `sum(y * weights)`, the loss whose gradient is the backward given `dy = weights`.
    fn dot(y: &[f64], weights: &[f64]) -> f64 {
        y.iter().zip(weights).map(|(a, b)| a * b).sum()
    }

    /// Checks `grads[k]` against central differences of `loss` in every element of `args[k]`.
    fn check_numeric(what: &str, args: &[Vec<f64>], grads: &[&[f64]], loss: impl Fn(&[Vec<f64>]) -> f64) {
        let eps = 1e-6;
        for (k, g) in grads.iter().enumerate() {
            assert_eq!(g.len(), args[k].len(), "{what}: gradient {k} length");
            for (i, &a) in g.iter().enumerate() {
                let at = |delta: f64| {
                    let mut v = args.to_vec();
                    v[k][i] += delta;
                    loss(&v)
                };
                let e = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!((a - e).abs() < 1e-8, "{what}: input {k} element {i}: {a} vs {e}");
            }
        }
    }

    const MASK: [bool; 12] = [
        true, false, true, true, false, true, true, false, true, true, true, true,
    ];

    #[test]
    fn subnormal_carries_are_flushed() {
        let mut v = [1e-39f32, -1e-40, f32::MIN_POSITIVE, -2e-38, 0.5, f32::NAN];
        flush_subnormals(&mut v);
        assert_eq!(v[..5], [0.0, 0.0, f32::MIN_POSITIVE, -2e-38, 0.5]);
        assert!(v[5].is_nan());
        // A GRU whose update gate keeps half the gradient per step: after 140 steps the
        // gradient reaching h0 would be 2^-140 (subnormal in f32); it is 0 instead.
        let d = RnnDims {
            batch: 1,
            steps: 140,
            units: 1,
        };
        let f = gru_forward(&[0.0f32; 420], &[0.0; 3], None, &[0.3], None, false, d).unwrap();
        let mut dy = vec![0.0f32; 141];
        dy[140] = 1.0;
        let (_, _, _, dh0) = gru_backward(&dy, &[0.0; 3], false, &f, None, false, d).unwrap();
        assert_eq!(dh0, vec![0.0]);
    }

    #[test]
    fn lstm_gradients_match_finite_differences() {
        let d = RnnDims {
            batch: 3,
            steps: 4,
            units: 2,
        };
        let xk: Vec<f64> = data(3 * 4 * 8, 1).iter().map(|v| 4.0 * v).collect();
        let rk: Vec<f64> = data(2 * 8, 2).iter().map(|v| 2.0 * v).collect();
        let args = [xk, rk, data(6, 3), data(6, 4)];
        for (m, z) in [(None, false), (Some(&MASK[..]), false), (Some(&MASK[..]), true)] {
            let f = lstm_forward(&args[0], &args[1], &args[2], &args[3], m, z, d).unwrap();
            let dy = data(f.y.len(), 99);
            let g = lstm_backward(&dy, &args[1], &f, m, z, d).unwrap();
            let loss =
                |a: &[Vec<f64>]| dot(&lstm_forward(&a[0], &a[1], &a[2], &a[3], m, z, d).unwrap().y, &dy);
            check_numeric(
                &format!("LSTM mask {m:?} zero {z}"),
                &args,
                &[&g.0, &g.1, &g.2, &g.3],
                loss,
            );
        }
    }

    #[test]
    fn gru_gradients_match_finite_differences() {
        let d = RnnDims {
            batch: 3,
            steps: 4,
            units: 2,
        };
        let xk: Vec<f64> = data(3 * 4 * 6, 5).iter().map(|v| 4.0 * v).collect();
        let rk: Vec<f64> = data(2 * 6, 6).iter().map(|v| 2.0 * v).collect();
        let args = [xk, rk, data(6, 7), data(6, 8)];
        for (m, z) in [(None, false), (Some(&MASK[..]), false), (Some(&MASK[..]), true)] {
            for n in [4, 3] {
                // With the recurrent bias as the fourth input, and without it.
                let fwd = |a: &[Vec<f64>]| {
                    gru_forward(&a[0], &a[1], a.get(3).map(|v| &v[..]), &a[2], m, z, d).unwrap()
                };
                let f = fwd(&args[..n]);
                let dy = data(f.y.len(), 99);
                let g = gru_backward(&dy, &args[1], n == 4, &f, m, z, d).unwrap();
                let grads: [&[f64]; 4] = [&g.0, &g.1, &g.3, &g.2];
                let what = format!("GRU mask {m:?} zero {z} inputs {n}");
                check_numeric(&what, &args[..n], &grads[..n], |a| dot(&fwd(a).y, &dy));
            }
        }
    }

    /// A batch split into blocks of rows, over pools of 1 to 4 threads (blocks of 64, 32, 22
    /// and 16 rows, the last one short with 3 threads), gives each row what it gives alone,
    /// forward and backward, for the LSTM and the GRU.
    #[test]
    fn row_blocks_match_single_rows() {
        let (b, t, u) = (64, 3, 8);
        let d = RnnDims {
            batch: b,
            steps: t,
            units: u,
        };
        let one = RnnDims { batch: 1, ..d };
        let (xk, rk) = (data(b * t * 4 * u, 1), data(u * 4 * u, 2));
        let (xg, rg, rb) = (data(b * t * 3 * u, 6), data(u * 3 * u, 7), data(3 * u, 8));
        let (h0, c0) = (data(b * u, 3), data(b * u, 4));
        let mask: Vec<bool> = (0..b * t).map(|i| i % 5 != 2).collect();
        let close =
            |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        let row = |v: &[f64], r: usize, n: usize| v[r * n..][..n].to_vec();
        for threads in 1..=4 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let blocks = pool.install(|| RowBlocks::of(b));
            assert_eq!(blocks.rows, b.div_ceil(threads));
            let (lstm, lstm_grads, gru, gru_grads) = pool.install(|| {
                let f = lstm_forward(&xk, &rk, &h0, &c0, Some(&mask), false, d).unwrap();
                let g = lstm_backward(&data(f.y.len(), 5), &rk, &f, Some(&mask), false, d).unwrap();
                let fg = gru_forward(&xg, &rg, Some(&rb), &h0, Some(&mask), false, d).unwrap();
                let gg = gru_backward(&data(fg.y.len(), 9), &rg, true, &fg, Some(&mask), false, d).unwrap();
                (f, g, fg, gg)
            });
            let (dy, dyg) = (data(lstm.y.len(), 5), data(gru.y.len(), 9));
            let (mut drk, mut drg, mut drb) = (vec![0.0; rk.len()], vec![0.0; rg.len()], vec![0.0; rb.len()]);
            for r in 0..b {
                let m = mask[r * t..][..t].to_vec();
                let m = Some(&m[..]);
                let (x, h, c) = (row(&xk, r, t * 4 * u), row(&h0, r, u), row(&c0, r, u));
                let alone = lstm_forward(&x, &rk, &h, &c, m, false, one).unwrap();
                assert!(
                    close(&alone.y, &row(&lstm.y, r, (t + 2) * u)),
                    "{threads} threads, row {r} LSTM"
                );
                let g = lstm_backward(&row(&dy, r, (t + 2) * u), &rk, &alone, m, false, one).unwrap();
                assert!(
                    close(&g.0, &row(&lstm_grads.0, r, t * 4 * u)),
                    "row {r} LSTM d xk"
                );
                assert!(close(&g.2, &row(&lstm_grads.2, r, u)), "row {r} LSTM d h0");
                assert!(close(&g.3, &row(&lstm_grads.3, r, u)), "row {r} LSTM d c0");
                drk.iter_mut().zip(&g.1).for_each(|(a, v)| *a += v);
                let alone = gru_forward(&row(&xg, r, t * 3 * u), &rg, Some(&rb), &h, m, false, one).unwrap();
                assert!(
                    close(&alone.y, &row(&gru.y, r, (t + 1) * u)),
                    "{threads} threads, row {r} GRU"
                );
                let g = gru_backward(&row(&dyg, r, (t + 1) * u), &rg, true, &alone, m, false, one).unwrap();
                assert!(close(&g.0, &row(&gru_grads.0, r, t * 3 * u)), "row {r} GRU d xk");
                assert!(close(&g.3, &row(&gru_grads.3, r, u)), "row {r} GRU d h0");
                drg.iter_mut().zip(&g.1).for_each(|(a, v)| *a += v);
                drb.iter_mut().zip(&g.2).for_each(|(a, v)| *a += v);
            }
            // The weights' gradients are the sums of the rows' (to rounding: other order).
            let near = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-10);
            assert!(near(&drk, &lstm_grads.1), "{threads} threads: LSTM d rk");
            assert!(
                near(&drg, &gru_grads.1) && near(&drb, &gru_grads.2),
                "{threads} threads: GRU d rk, d rb"
            );
        }
    }

    /// The LSTM's and GRU's inference passes give the training passes' output bitwise, with
    /// and without a mask (both ways of filling masked outputs), on a batch split over
    /// parallel tasks.
    #[test]
    fn inference_equals_the_training_forward() {
        let (b, t, u) = (64, 7, 32);
        let d = RnnDims {
            batch: b,
            steps: t,
            units: u,
        };
        let (xk, rk) = (data(b * t * 4 * u, 11), data(u * 4 * u, 12));
        let (h0, c0) = (data(b * u, 13), data(b * u, 14));
        let mask: Vec<bool> = (0..b * t).map(|i| i % 3 != 1).collect();
        for (m, zero_output) in [(None, false), (Some(&mask[..]), false), (Some(&mask[..]), true)] {
            let train = lstm_forward(&xk, &rk, &h0, &c0, m, zero_output, d).unwrap();
            let infer = lstm_inference(&xk, &rk, &h0, &c0, m, zero_output, d).unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&infer),
                bits(&train.y),
                "mask {}, zero output {zero_output}",
                m.is_some()
            );
            let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
            let (x32, r32, h32, c32) = (f32s(&xk), f32s(&rk), f32s(&h0), f32s(&c0));
            let train = lstm_forward(&x32, &r32, &h32, &c32, m, zero_output, d).unwrap();
            let infer = lstm_inference(&x32, &r32, &h32, &c32, m, zero_output, d).unwrap();
            assert!(infer
                .iter()
                .zip(&train.y)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        assert!(lstm_inference(&xk[1..], &rk, &h0, &c0, None, false, d).is_err());
        let (xg, rg, rb) = (data(b * t * 3 * u, 15), data(u * 3 * u, 16), data(3 * u, 17));
        for (m, zero_output) in [(None, false), (Some(&mask[..]), false), (Some(&mask[..]), true)] {
            for bias in [None, Some(&rb[..])] {
                let train = gru_forward(&xg, &rg, bias, &h0, m, zero_output, d).unwrap();
                let infer = gru_inference(&xg, &rg, bias, &h0, m, zero_output, d).unwrap();
                assert!(infer
                    .iter()
                    .zip(&train.y)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                assert_eq!(infer.len(), train.y.len());
            }
        }
    }

    #[test]
    fn masked_steps_keep_the_states() {
        let d = RnnDims {
            batch: 1,
            steps: 3,
            units: 2,
        };
        let xk = data(24, 5);
        let rk = data(16, 6);
        let (h0, c0) = (data(2, 7), data(2, 8));
        let all = lstm_forward(&xk, &rk, &h0, &c0, Some(&[true, false, true]), false, d).unwrap();
        // Without the masked middle step the sequence is steps 0 and 2.
        let mut short = xk[..8].to_vec();
        short.extend_from_slice(&xk[16..]);
        let d2 = RnnDims { steps: 2, ..d };
        let two = lstm_forward(&short, &rk, &h0, &c0, None, false, d2).unwrap();
        assert_eq!(&all.y[6..10], &two.y[4..8]); // final h and c
        assert_eq!(&all.y[2..4], &all.y[0..2]); // the masked step repeats the previous h
        let zeroed = lstm_forward(&xk, &rk, &h0, &c0, Some(&[true, false, true]), true, d).unwrap();
        assert_eq!(&zeroed.y[2..4], &[0.0, 0.0]);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let d = RnnDims {
            batch: 2,
            steps: 3,
            units: 1,
        };
        let e = lstm_forward(&[0.0f32; 5], &[0.0; 4], &[0.0; 2], &[0.0; 2], None, false, d).unwrap_err();
        assert!(e.to_string().contains("xk has 5 elements, expected 24"), "{e}");
    }
}
