//! General matrix multiply (GEMM) on strided views, the core of `matmul`, `dense` and every
//! convolution pass.
//!
//! The work is handed to the [`mod@gemm`] crate (chosen by measurement against `matrixmultiply` and
//! `faer`, see `docs/benchmarks.md`), which packs strided and transposed operands itself, so a
//! transposed operand is passed as a view with swapped strides and never copied here.

use std::any::TypeId;
use std::mem::MaybeUninit;

use keras_backend::{Error, Result};

use crate::Float;

/// Below this many multiply-adds (`m * n * k`) a GEMM runs on one thread even when `parallel`
/// is asked for: splitting smaller products costs more than it saves.
const PARALLEL_MIN_WORK: usize = 48 * 48 * 48;

/// A read-only strided matrix view: element `(i, j)` is
/// `data[offset + i * row_stride + j * col_stride]`.
///
/// Strides may be zero or negative (a broadcast or a reversed axis), as long as every addressed
/// element lies inside `data`; [`gemm()`] checks this before reading.
///
/// ```
/// use keras_cpu::matmul::MatRef;
/// let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// // The 2x3 row-major matrix [[1, 2, 3], [4, 5, 6]] ...
/// let a = MatRef::row_major(&data, 2, 3);
/// // ... and its 3x2 transpose, without copying.
/// let at = a.t();
/// assert_eq!((at.rows, at.cols, at.row_stride, at.col_stride), (3, 2, 1, 3));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    /// The backing storage.
    pub data: &'a [T],
    /// Index in `data` of element `(0, 0)`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance in elements between `(i, j)` and `(i + 1, j)`.
    pub row_stride: isize,
    /// Distance in elements between `(i, j)` and `(i, j + 1)`.
    pub col_stride: isize,
}

impl<'a, T> MatRef<'a, T> {
    /// A `rows x cols` row-major contiguous view of `data` starting at element 0.
    ///
    /// ```
    /// use keras_cpu::matmul::MatRef;
    /// let a = MatRef::row_major(&[0.0f64; 6], 2, 3);
    /// assert_eq!((a.row_stride, a.col_stride), (3, 1));
    /// ```
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The transpose of this view (rows and columns swapped; no data moves).
    ///
    /// ```
    /// use keras_cpu::matmul::MatRef;
    /// let a = MatRef::row_major(&[0.0f32; 6], 2, 3).t();
    /// assert_eq!((a.rows, a.cols), (3, 2));
    /// ```
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Checks that every element the view addresses lies inside `data`.
    fn check(&self, what: &str) -> Result<()> {
        if self.rows == 0 || self.cols == 0 {
            return Ok(());
        }
        let span = |n: usize, s: isize| -> (i128, i128) {
            let d = (n as i128 - 1) * s as i128;
            (d.min(0), d.max(0))
        };
        let (rlo, rhi) = span(self.rows, self.row_stride);
        let (clo, chi) = span(self.cols, self.col_stride);
        let lo = self.offset as i128 + rlo + clo;
        let hi = self.offset as i128 + rhi + chi;
        if lo < 0 || hi >= self.data.len() as i128 {
            return Err(Error::InvalidArgument {
                op: "matmul",
                msg: format!(
                    "{what}: {}x{} view (offset {}, strides {}, {}) addresses elements {lo}..={hi} \
                     outside its buffer of {} elements",
                    self.rows,
                    self.cols,
                    self.offset,
                    self.row_stride,
                    self.col_stride,
                    self.data.len()
                ),
            });
        }
        Ok(())
    }
}

/// `c = alpha * a @ b + (if accumulate { c } else { 0 })`.
///
/// `a` is `m x k`, `b` is `k x n` (any strides), `c` is `m x n` row-major contiguous
/// (`c.len() == m * n`). With `accumulate == false` the old contents of `c` are ignored (even
/// NaN). `parallel` lets the GEMM use rayon's global pool; pass `false` when the caller already
/// runs several GEMMs in parallel.
///
/// Returns [`Error::InvalidArgument`] when the inner dimensions disagree, a view addresses an
/// element outside its slice, or `c` has the wrong length.
///
/// ```
/// use keras_cpu::matmul::{gemm, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [5.0f32, 6.0, 7.0, 8.0]; // [[5, 6], [7, 8]]
/// let mut c = [0.0f32; 4];
/// gemm(MatRef::row_major(&a, 2, 2), MatRef::row_major(&b, 2, 2), &mut c, 1.0, false, false)?;
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// // c += 2 * a^T @ b
/// gemm(MatRef::row_major(&a, 2, 2).t(), MatRef::row_major(&b, 2, 2), &mut c, 2.0, true, false)?;
/// assert_eq!(c, [19.0 + 2.0 * 26.0, 22.0 + 2.0 * 30.0, 43.0 + 2.0 * 38.0, 50.0 + 2.0 * 44.0]);
/// # Ok::<(), keras_backend::Error>(())
/// ```
pub fn gemm<T: Float>(
    a: MatRef<T>,
    b: MatRef<T>,
    c: &mut [T],
    alpha: T,
    accumulate: bool,
    parallel: bool,
) -> Result<()> {
    let (m, n) = (a.rows, b.cols);
    let cn = m.checked_mul(n).ok_or_else(|| Error::InvalidArgument {
        op: "matmul",
        msg: format!("output {m}x{n} is too large"),
    })?;
    if c.len() != cn {
        return Err(Error::InvalidArgument {
            op: "matmul",
            msg: format!("output buffer has {} elements, expected {m}x{n} = {cn}", c.len()),
        });
    }
    gemm_strided(a, b, c, 0, n, alpha, accumulate, parallel)
}

/// [`gemm`] into a row-major block of `c` with row stride `ldc >= n` starting at `c_offset`
/// (a column slice of a wider matrix, e.g. one group's output channels).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_strided<T: Float>(
    a: MatRef<T>,
    b: MatRef<T>,
    c: &mut [T],
    c_offset: usize,
    ldc: usize,
    alpha: T,
    accumulate: bool,
    parallel: bool,
) -> Result<()> {
    check_gemm(&a, &b, c.len(), c_offset, ldc)?;
    // SAFETY: checked above; `c` is a unique borrow of initialized elements, so it cannot
    // alias the shared `a`/`b` and may be read when accumulating.
    unsafe { gemm_raw(a, b, c.as_mut_ptr(), c_offset, ldc, alpha, accumulate, parallel) };
    Ok(())
}

/// [`gemm_strided`] overwriting a block of uninitialized memory: `c = alpha a b`, never read,
/// so a fresh output needs no zeroing first. Every element of the `m x n` block is
/// initialized when this returns `Ok`; the rest of `c` is untouched.
pub(crate) fn gemm_strided_uninit<T: Float>(
    a: MatRef<T>,
    b: MatRef<T>,
    c: &mut [MaybeUninit<T>],
    c_offset: usize,
    ldc: usize,
    alpha: T,
    parallel: bool,
) -> Result<()> {
    check_gemm(&a, &b, c.len(), c_offset, ldc)?;
    // SAFETY: checked above; `c` is a unique borrow, so it cannot alias `a`/`b`; with
    // `accumulate` false the destination is only written (`gemm` reads `dst` only when
    // `read_dst` is set, and its later depth blocks read what its first one wrote).
    unsafe {
        gemm_raw(
            a,
            b,
            c.as_mut_ptr().cast::<T>(),
            c_offset,
            ldc,
            alpha,
            false,
            parallel,
        )
    };
    Ok(())
}

/// The checks every GEMM passes before any memory is touched: inner dimensions agree, the
/// views stay inside their data, the `m x n` output block at `c_offset` with row stride
/// `ldc` fits a buffer of `c_len` elements, and `T` is `f32` or `f64`.
fn check_gemm<T: Float>(
    a: &MatRef<T>,
    b: &MatRef<T>,
    c_len: usize,
    c_offset: usize,
    ldc: usize,
) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        return Err(Error::InvalidArgument {
            op: "matmul",
            msg: format!("inner dimensions differ: a is {m}x{k}, b is {}x{n}", b.rows),
        });
    }
    a.check("lhs")?;
    b.check("rhs")?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let last = (m as u128 - 1) * ldc as u128 + c_offset as u128 + n as u128 - 1;
    if ldc < n || last >= c_len as u128 {
        return Err(Error::InvalidArgument {
            op: "matmul",
            msg: format!(
                "output {m}x{n} block at offset {c_offset} with row stride {ldc} does not fit \
                 a buffer of {c_len} elements"
            ),
        });
    }
    if TypeId::of::<T>() != TypeId::of::<f32>() && TypeId::of::<T>() != TypeId::of::<f64>() {
        return Err(Error::InvalidArgument {
            op: "matmul",
            msg: "only f32 and f64 are supported".into(),
        });
    }
    Ok(())
}

/// Runs the GEMM on a destination pointer.
///
/// # Safety
/// [`check_gemm`] passed for these arguments and a buffer at `c` of the length it was given;
/// that buffer is valid for writes and does not overlap `a.data` or `b.data`; when
/// `accumulate` is set, the block's elements are initialized.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw<T: Float>(
    a: MatRef<T>,
    b: MatRef<T>,
    c: *mut T,
    c_offset: usize,
    ldc: usize,
    alpha: T,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: inside the checked block.
                    unsafe { c.add(c_offset + i * ldc + j).write(T::zero()) };
                }
            }
        }
        return;
    }
    let par = if parallel
        && rayon::current_num_threads() > 1
        && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_WORK
    {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `check_gemm` proved that every element the views address lies inside `a.data`
    // and `b.data` (so `offset` itself is in bounds, since rows, cols >= 1) and that the
    // m x n block at `c_offset` with strides (ldc, 1) lies inside the destination; the caller
    // guarantees it is writable, disjoint from the inputs, and initialized when read; `T` is
    // f32 or f64 (checked), which `gemm::gemm` supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.add(c_offset),
            1,
            ldc as isize,
            accumulate,
            a.data.as_ptr().add(a.offset),
            a.col_stride,
            a.row_stride,
            b.data.as_ptr().add(b.offset),
            b.col_stride,
            b.row_stride,
            T::one(),
            alpha,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_data::data;

    fn at<T: Copy>(v: &MatRef<T>, i: usize, j: usize) -> T {
        v.data[(v.offset as isize + i as isize * v.row_stride + j as isize * v.col_stride) as usize]
    }

    fn reference(a: &MatRef<f64>, b: &MatRef<f64>, c0: &[f64], alpha: f64, acc: bool) -> Vec<f64> {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k).map(|p| at(a, i, p) * at(b, p, j)).sum();
                c[i * n + j] = alpha * s + if acc { c0[i * n + j] } else { 0.0 };
            }
        }
        c
    }

    /// A view of an `rows x cols` matrix stored in `buf` in the layout given by `kind`:
    /// 0 row-major, 1 column-major (transposed), 2 row-major with padding between rows,
    /// 3 rows reversed (negative row stride).
    fn view(buf: &[f64], rows: usize, cols: usize, kind: usize) -> MatRef<'_, f64> {
        let (offset, rs, cs) = match kind {
            0 => (0, cols as isize, 1),
            1 => (0, 1, rows as isize),
            2 => (3, cols as isize + 2, 1),
            _ => ((rows.max(1) - 1) * cols, -(cols as isize), 1),
        };
        MatRef {
            data: buf,
            offset,
            rows,
            cols,
            row_stride: rs,
            col_stride: cs,
        }
    }

    #[test]
    fn matches_reference() {
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (17, 9, 33),
            (64, 65, 31),
            (130, 70, 90),
            (4, 0, 3),
        ];
        for &(m, k, n) in &shapes {
            let abuf = data(3 + m * (k + 2) + k, 1);
            let bbuf = data(3 + k * (n + 2) + n, 2);
            let c0 = data(m * n, 3);
            for ka in 0..4 {
                for kb in 0..4 {
                    let (a, b) = (view(&abuf, m, k, ka), view(&bbuf, k, n, kb));
                    for &(alpha, acc, par) in &[(1.0, false, false), (-0.5, true, true)] {
                        let want = reference(&a, &b, &c0, alpha, acc);
                        let mut c = c0.clone();
                        gemm(a, b, &mut c, alpha, acc, par).expect("f64");
                        assert!(
                            c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12),
                            "f64 {m}x{k}x{n} layouts {ka},{kb}"
                        );
                        let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                        let (a32, b32) = (f(abuf.as_slice()), f(bbuf.as_slice()));
                        let mut c32 = f(&c0);
                        let ma = MatRef {
                            data: &a32[..],
                            offset: a.offset,
                            rows: a.rows,
                            cols: a.cols,
                            row_stride: a.row_stride,
                            col_stride: a.col_stride,
                        };
                        let mb = MatRef {
                            data: &b32[..],
                            offset: b.offset,
                            rows: b.rows,
                            cols: b.cols,
                            row_stride: b.row_stride,
                            col_stride: b.col_stride,
                        };
                        gemm(ma, mb, &mut c32, alpha as f32, acc, par).expect("f32");
                        assert!(
                            c32.iter().zip(&want).all(|(x, y)| (*x as f64 - y).abs() < 1e-4),
                            "f32 {m}x{k}x{n} layouts {ka},{kb}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn broadcast_and_empty() {
        // A zero row stride repeats one row (broadcast).
        let row = [1.0f64, 2.0];
        let a = MatRef {
            data: &row[..],
            offset: 0,
            rows: 3,
            cols: 2,
            row_stride: 0,
            col_stride: 1,
        };
        let b = MatRef::row_major(&[1.0, 0.0, 0.0, 1.0][..], 2, 2);
        let mut c = [0.0; 6];
        gemm(a, b, &mut c, 1.0, false, false).expect("broadcast");
        assert_eq!(c, [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        // k = 0 clears (or keeps) c; m = 0 or n = 0 do nothing.
        let e: [f64; 0] = [];
        let mut c = [f64::NAN; 6];
        gemm(
            MatRef::row_major(&e, 3, 0),
            MatRef::row_major(&e, 0, 2),
            &mut c,
            1.0,
            false,
            true,
        )
        .expect("k=0");
        assert_eq!(c, [0.0; 6]);
        let mut c = [5.0; 6];
        gemm(
            MatRef::row_major(&e, 3, 0),
            MatRef::row_major(&e, 0, 2),
            &mut c,
            1.0,
            true,
            true,
        )
        .expect("k=0 acc");
        assert_eq!(c, [5.0; 6]);
        let mut c: [f32; 0] = [];
        gemm(
            MatRef::row_major(&[], 0, 4),
            MatRef::row_major(&[0.0; 8], 4, 2),
            &mut c,
            1.0,
            false,
            false,
        )
        .expect("m=0");
    }

    #[test]
    fn rejects_out_of_bounds() {
        let buf = [0.0f32; 12];
        let b = MatRef::row_major(&buf[..], 4, 3);
        let mut c = [0.0f32; 9];
        let ok = MatRef::row_major(&buf[..], 3, 4);
        assert!(gemm(ok, b, &mut c, 1.0, false, false).is_ok());
        // Too long for the buffer, offset past the end, negative reach, bad strides.
        for bad in [
            MatRef { rows: 4, ..ok },
            MatRef { offset: 1, ..ok },
            MatRef { row_stride: -4, ..ok },
            MatRef {
                offset: 11,
                row_stride: -4,
                col_stride: -1,
                rows: 3,
                cols: 4,
                ..ok
            },
            MatRef {
                col_stride: isize::MAX,
                ..ok
            },
        ] {
            let r = gemm(bad, b, &mut c, 1.0, false, false);
            // The reversed view with offset 11 is valid; all others must fail.
            if bad.offset == 11 {
                assert!(r.is_ok());
            } else {
                assert!(r.is_err(), "{bad:?}");
            }
        }
        // Inner dimension mismatch and a wrong output length.
        assert!(gemm(ok, MatRef::row_major(&buf[..], 3, 4), &mut c, 1.0, false, false).is_err());
        assert!(gemm(ok, b, &mut c[..8], 1.0, false, false).is_err());
    }
}
