//! Elementwise functions of one tensor.

use crate::storage::{par_written, CpuStorage, PAR_THRESHOLD};
use crate::Float;
use keras_backend::op::UnaryOp;
use keras_backend::{Error, Layout, Result};

/// Applies `f` to every element, in chunks spread over threads for large inputs, each
/// chunk's loop vectorized (see [`par_written`]).
pub(crate) fn map<T: Copy + Send + Sync, U: Send>(v: &[T], f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
    // SAFETY: each chunk's loop writes every element of it (`v` is as long as the output).
    unsafe {
        par_written(v.len(), 4096, |at, o| {
            for (o, &x) in o.iter_mut().zip(&v[at..]) {
                o.write(f(x));
            }
        })
    }
}

/// `max(x, 0)` as TensorFlow and PyTorch compute it: `0` where `x < 0`, else `x`, so NaN
/// stays NaN (a NaN loss must not be hidden) and `-0` stays `-0`. The one definition for
/// [`unary`] and the fused [`bias_unary`].
#[inline]
fn relu<T: Float>(x: T) -> T {
    if x < T::zero() {
        T::zero()
    } else {
        x
    }
}

/// Keras's `leaky_relu`: `x` where `x >= 0`, else `negative_slope * x` (so NaN stays NaN), in
/// one pass over the addressed elements; floats only (`f16`/`bf16` computed in `f32`). The
/// result is contiguous.
///
/// ```
/// use keras_backend::Layout;
/// use keras_cpu::{unary::leaky_relu, CpuStorage};
/// let x = CpuStorage::F32(vec![-2.0, 3.0]);
/// let y = leaky_relu(&x, &Layout::contiguous(&[2]), 0.25)?;
/// assert_eq!(y, CpuStorage::F32(vec![-0.5, 3.0]));
/// # Ok::<(), keras_backend::Error>(())
/// ```
///
/// # Errors
/// For non-float dtypes.
pub fn leaky_relu(s: &CpuStorage, layout: &Layout, negative_slope: f64) -> Result<CpuStorage> {
    fn go<T: Float>(v: &[T], slope: f64) -> Vec<T> {
        let slope = T::of(slope);
        map(v, |x| if x >= T::zero() { x } else { slope * x })
    }
    let (src, widened) = s.widen_half(layout);
    let out = match &*src {
        CpuStorage::F32(v) => CpuStorage::F32(go(v, negative_slope)),
        CpuStorage::F64(v) => CpuStorage::F64(go(v, negative_slope)),
        _ => {
            return Err(Error::UnsupportedDType {
                op: "leaky_relu",
                dtype: s.dtype(),
                hint: "cast to a float dtype first",
            })
        }
    };
    Ok(out.narrow_to(widened))
}

/// The gradient of [`leaky_relu`] in one pass: `g` where `x >= 0`, else `negative_slope * g`,
/// for contiguous `x` and `g` of equal length and one dtype, `f32` or `f64`; `None` otherwise
/// (the caller composes it).
///
/// ```
/// use keras_cpu::{unary::leaky_relu_grad, CpuStorage};
/// let x = CpuStorage::F64(vec![-2.0, 3.0]);
/// let g = CpuStorage::F64(vec![4.0, 4.0]);
/// assert_eq!(leaky_relu_grad(&x, &g, 0.25), Some(CpuStorage::F64(vec![1.0, 4.0])));
/// ```
pub fn leaky_relu_grad(x: &CpuStorage, g: &CpuStorage, negative_slope: f64) -> Option<CpuStorage> {
    fn go<T: Float>(x: &[T], g: &[T], slope: f64) -> Option<Vec<T>> {
        let slope = T::of(slope);
        (x.len() == g.len()).then(|| zip_map(x, g, |x, g| if x >= T::zero() { g } else { slope * g }))
    }
    match (x, g) {
        (CpuStorage::F32(x), CpuStorage::F32(g)) => go(x, g, negative_slope).map(CpuStorage::F32),
        (CpuStorage::F64(x), CpuStorage::F64(g)) => go(x, g, negative_slope).map(CpuStorage::F64),
        _ => None,
    }
}

fn float_unary<T: Float>(op: UnaryOp, v: &[T]) -> Vec<T> {
    use UnaryOp::*;
    let zero = T::zero();
    let one = T::one();
    match op {
        Neg => map(v, |x| -x),
        Abs => map(v, |x| x.abs()),
        Exp => map(v, |x| x.exp_k()),
        Log => map(v, |x| x.ln()),
        Log1p => map(v, |x| x.ln_1p()),
        Expm1 => map(v, |x| x.exp_m1()),
        Sqrt => map(v, |x| x.sqrt()),
        Rsqrt => map(v, |x| one / x.sqrt()),
        Square => map(v, |x| x * x),
        Recip => map(v, |x| one / x),
        Sin => map(v, |x| x.sin()),
        Cos => map(v, |x| x.cos()),
        Tanh => map(v, |x| x.tanh_k()),
        Sigmoid => map(v, |x| x.sigmoid_k()),
        Relu => map(v, relu),
        Erf => map(v, |x| x.erf()),
        Sign => map(v, |x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                x // keeps 0, -0 and NaN
            }
        }),
        Floor => map(v, |x| x.floor()),
        Ceil => map(v, |x| x.ceil()),
        Round => map(v, |x| {
            // Round half to even, as NumPy does.
            let r = x.round();
            if (x - x.trunc()).abs() == T::of(0.5) {
                T::of(2.0) * (x / T::of(2.0)).round()
            } else {
                r
            }
        }),
        LogicalNot => unreachable!("rejected before dispatch"),
    }
}

macro_rules! int_unary {
    ($op:expr, $v:expr, $t:ty, $variant:ident) => {{
        use UnaryOp::*;
        let v: &[$t] = $v;
        (|| -> Option<CpuStorage> {
            Some(CpuStorage::$variant(match $op {
                Neg => map(v, |x: $t| x.wrapping_neg()),
                Abs => map(v, |x: $t| x.wrapping_abs()),
                Square => map(v, |x: $t| x.wrapping_mul(x)),
                Sign => map(v, |x: $t| x.signum()),
                Relu => map(v, |x: $t| x.max(0)),
                Floor | Ceil | Round => v.to_vec(),
                _ => return None,
            }))
        })()
    }};
}

/// Applies a unary op to the addressed elements; the result is contiguous.
///
/// Float ops on integer tensors are rejected (cast first); `logical_not` takes `bool`.
pub fn unary(op: UnaryOp, s: &CpuStorage, layout: &Layout) -> Result<CpuStorage> {
    let unsupported = || Error::UnsupportedDType {
        op: op.name(),
        dtype: s.dtype(),
        hint: if op == UnaryOp::LogicalNot {
            "logical_not takes bool"
        } else {
            "cast to a float dtype first"
        },
    };
    if op == UnaryOp::LogicalNot {
        return match &*s.contiguous(layout) {
            CpuStorage::Bool(v) => Ok(CpuStorage::Bool(map(v, |x| !x))),
            _ => Err(unsupported()),
        };
    }
    let (src, widened) = s.widen_half(layout);
    let out = match &*src {
        CpuStorage::F32(v) => Some(CpuStorage::F32(float_unary(op, v))),
        CpuStorage::F64(v) => Some(CpuStorage::F64(float_unary(op, v))),
        CpuStorage::I32(v) => int_unary!(op, v, i32, I32),
        CpuStorage::I64(v) => int_unary!(op, v, i64, I64),
        CpuStorage::U8(v) => {
            use UnaryOp::*;
            match op {
                Abs | Relu | Floor | Ceil | Round => Some(CpuStorage::U8(v.to_vec())),
                Square => Some(CpuStorage::U8(map(v, |x| x.wrapping_mul(x)))),
                Sign => Some(CpuStorage::U8(map(v, |x| x.min(1)))),
                Neg => Some(CpuStorage::U8(map(v, |x| x.wrapping_neg()))),
                _ => None,
            }
        }
        _ => None,
    };
    Ok(out.ok_or_else(unsupported)?.narrow_to(widened))
}

/// Runs `$body` with `$f` bound to the activation `op` (one of [`grad_fuses`]'s, `None` the
/// identity) as a closure of its own type, so that each op's loop is compiled whole.
macro_rules! with_activation {
    ($op:expr, $t:ty, |$f:ident| $body:expr) => {
        match $op {
            None => {
                let $f = |v: $t| v;
                $body
            }
            Some(UnaryOp::Relu) => {
                let $f = relu::<$t>;
                $body
            }
            Some(UnaryOp::Sigmoid) => {
                let $f = |v: $t| v.sigmoid_k();
                $body
            }
            Some(UnaryOp::Tanh) => {
                let $f = |v: $t| v.tanh_k();
                $body
            }
            Some(UnaryOp::Exp) => {
                let $f = |v: $t| v.exp_k();
                $body
            }
            Some(op) => unreachable!("{op:?}: the caller checked grad_fuses"),
        }
    };
}

/// `y = f(y + bias)` in place over the rows of `y` (`rows x bias.len()`): the tail of a layer
/// applied to a block of its output while the block is in cache (the convolutions' fused
/// tail). The caller checks [`grad_fuses`]`(op)` and that `y` is whole rows.
pub(crate) fn bias_unary_in_place<T: Float>(op: Option<UnaryOp>, y: &mut [T], bias: &[T]) {
    fn run<T: Float>(y: &mut [T], b: &[T], f: impl Fn(T) -> T) {
        for row in y.chunks_exact_mut(b.len()) {
            for (v, &b) in row.iter_mut().zip(b) {
                *v = f(*v + b);
            }
        }
    }
    debug_assert!(grad_fuses(op) && !bias.is_empty() && y.len() % bias.len() == 0);
    crate::simd::vectorized(|| with_activation!(op, T, |f| run(y, bias, f)))
}

/// Runs `$body` with `$d` bound to the derivative of `$op` written as a function of its
/// output `y`, for the ops where that is possible and cheap (`Relu`: `y > 0`; `Sigmoid`:
/// `y (1 - y)`; `Tanh`: `1 - y²`; `Exp`: `y`; `None`, the identity: 1); returns `None` from
/// the enclosing function for any other op. Each arm is its own closure, so the loops in
/// `$body` inline and vectorize it.
macro_rules! with_derivative {
    ($op:expr, $t:ty, |$d:ident| $body:expr) => {
        match $op {
            None => {
                let $d = |_: $t| <$t>::one();
                $body
            }
            Some(UnaryOp::Relu) => {
                let $d = |y: $t| {
                    if y > <$t>::zero() {
                        <$t>::one()
                    } else {
                        <$t>::zero()
                    }
                };
                $body
            }
            Some(UnaryOp::Sigmoid) => {
                let $d = |y: $t| y * (<$t>::one() - y);
                $body
            }
            Some(UnaryOp::Tanh) => {
                let $d = |y: $t| <$t>::one() - y * y;
                $body
            }
            Some(UnaryOp::Exp) => {
                let $d = |y: $t| y;
                $body
            }
            Some(_) => return None,
        }
    };
}

/// Whether [`unary_grad`] and [`bias_unary_backward`] handle `op` (`None`: the identity).
pub fn grad_fuses(op: Option<UnaryOp>) -> bool {
    use UnaryOp::*;
    op.is_none_or(|op| matches!(op, Relu | Sigmoid | Tanh | Exp))
}

/// `g * f'(x)` for `y = f(x)` in one pass, from the output `y` (contiguous, like `g`), for the
/// ops [`grad_fuses`] accepts and `f32`/`f64`; `None` otherwise (the caller composes it).
///
/// ```
/// use keras_backend::op::UnaryOp;
/// use keras_cpu::{unary::unary_grad, CpuStorage};
/// let y = CpuStorage::F32(vec![0.0, 2.0]);
/// let g = CpuStorage::F32(vec![5.0, 5.0]);
/// assert_eq!(unary_grad(UnaryOp::Relu, &y, &g), Some(CpuStorage::F32(vec![0.0, 5.0])));
/// ```
pub fn unary_grad(op: UnaryOp, y: &CpuStorage, g: &CpuStorage) -> Option<CpuStorage> {
    fn go<T: Float>(op: UnaryOp, y: &[T], g: &[T]) -> Option<Vec<T>> {
        if y.len() != g.len() {
            return None;
        }
        with_derivative!(Some(op), T, |d| Some(zip_map(y, g, |y, g| g * d(y))))
    }
    match (y, g) {
        (CpuStorage::F32(y), CpuStorage::F32(g)) => go(op, y, g).map(CpuStorage::F32),
        (CpuStorage::F64(y), CpuStorage::F64(g)) => go(op, y, g).map(CpuStorage::F64),
        _ => None,
    }
}

/// `f(a, b)` elementwise over two equal-length slices, in parallel for large ones.
fn zip_map<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    // SAFETY: each chunk's loop writes every element of it (`b` is as long as `a`).
    unsafe {
        par_written(a.len(), 4096, |at, out| {
            let (a, b) = (&a[at..at + out.len()], &b[at..at + out.len()]);
            for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                o.write(f(a, b));
            }
        })
    }
}

/// `y = f(x + bias)` with `bias` (length `c`) added along the last axis of the contiguous
/// `x` (`rows x c`), in one pass: the tail of a dense or convolution layer. `op` `None` is
/// the identity. Returns `None` for dtypes other than `f32`/`f64`, mismatched lengths or an op
/// [`grad_fuses`] rejects.
///
/// ```
/// use keras_backend::op::UnaryOp;
/// use keras_cpu::{unary::bias_unary, CpuStorage};
/// let x = CpuStorage::F32(vec![1.0, -3.0, 0.5, 0.5]);
/// let b = CpuStorage::F32(vec![1.0, 1.0]);
/// let y = bias_unary(Some(UnaryOp::Relu), &x, &b).unwrap();
/// assert_eq!(y, CpuStorage::F32(vec![2.0, 0.0, 1.5, 1.5]));
/// ```
pub fn bias_unary(op: Option<UnaryOp>, x: &CpuStorage, bias: &CpuStorage) -> Option<CpuStorage> {
    fn go<T: Float>(op: Option<UnaryOp>, x: &[T], b: &[T]) -> Option<Vec<T>> {
        let c = b.len();
        if !grad_fuses(op) || c == 0 || x.len() % c != 0 {
            return None;
        }
        // `f(x + b)` per row: generic, so each op's loop is compiled (and vectorized) whole.
        fn run<T: Float>(x: &[T], b: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
            let c = b.len();
            // SAFETY: `x` is as long as the output and a whole number of rows of `c` (checked
            // above), and each chunk is whole rows, so every element is written.
            unsafe {
                par_written(x.len(), (4096 / c).max(1) * c, |at, y| {
                    let x = &x[at..at + y.len()];
                    for (yr, xr) in y.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
                        for ((y, &x), &b) in yr.iter_mut().zip(xr).zip(b) {
                            y.write(f(x + b));
                        }
                    }
                })
            }
        }
        Some(with_activation!(op, T, |f| run(x, b, f)))
    }
    match (x, bias) {
        (CpuStorage::F32(x), CpuStorage::F32(b)) => go(op, x, b).map(CpuStorage::F32),
        (CpuStorage::F64(x), CpuStorage::F64(b)) => go(op, x, b).map(CpuStorage::F64),
        _ => None,
    }
}

/// The backward pass of [`bias_unary`] in one pass over `g` and the output `y` (both
/// contiguous, `rows x c`): returns `(dx, dbias)` with `dx = g * f'(y)` and `dbias` its sum over
/// rows. `None` under the same conditions as [`bias_unary`].
///
/// ```
/// use keras_backend::op::UnaryOp;
/// use keras_cpu::{unary::bias_unary_backward, CpuStorage};
/// let y = CpuStorage::F32(vec![2.0, 0.0, 1.5, 1.5]);
/// let g = CpuStorage::F32(vec![1.0, 1.0, 1.0, 1.0]);
/// let (dx, db) = bias_unary_backward(Some(UnaryOp::Relu), &y, &g, 2).unwrap();
/// assert_eq!(dx, CpuStorage::F32(vec![1.0, 0.0, 1.0, 1.0]));
/// assert_eq!(db, CpuStorage::F32(vec![2.0, 1.0]));
/// ```
pub fn bias_unary_backward(
    op: Option<UnaryOp>,
    y: &CpuStorage,
    g: &CpuStorage,
    c: usize,
) -> Option<(CpuStorage, CpuStorage)> {
    fn go<T: Float>(op: Option<UnaryOp>, y: &[T], g: &[T], c: usize) -> Option<(Vec<T>, Vec<T>)> {
        if !grad_fuses(op) || c == 0 || y.len() != g.len() || y.len() % c != 0 {
            return None;
        }
        // Row blocks, one per thread, each with its own partial bias sum, added up in order.
        let rows = y.len() / c;
        let threads = if y.len() >= PAR_THRESHOLD {
            rayon::current_num_threads()
        } else {
            1
        };
        let per = rows.div_ceil(threads.max(1)).max(1) * c;
        let partials: Vec<std::sync::Mutex<Vec<T>>> =
            (0..y.len().div_ceil(per)).map(|_| Default::default()).collect();
        // SAFETY: `y` and `g` are as long as the output and a whole number of rows of `c`, and
        // each chunk is whole rows, so the rows of each chunk cover it: every element is written.
        let dx = with_derivative!(op, T, |d| unsafe {
            par_written(y.len(), per, |at, dx| {
                let (y, g) = (&y[at..at + dx.len()], &g[at..at + dx.len()]);
                // Sums of 64 rows at a time, then of those: the rounding error grows with the
                // number of additions into one accumulator.
                let (mut total, mut acc) = (vec![T::zero(); c], vec![T::zero(); c]);
                for (i, ((dr, yr), gr)) in dx
                    .chunks_exact_mut(c)
                    .zip(y.chunks_exact(c))
                    .zip(g.chunks_exact(c))
                    .enumerate()
                {
                    for (((o, &y), &g), a) in dr.iter_mut().zip(yr).zip(gr).zip(acc.iter_mut()) {
                        let v = g * d(y);
                        o.write(v);
                        *a += v;
                    }
                    if i % 64 == 63 {
                        total.iter_mut().zip(acc.iter_mut()).for_each(|(t, a)| {
                            *t += *a;
                            *a = T::zero();
                        });
                    }
                }
                total.iter_mut().zip(&acc).for_each(|(t, &a)| *t += a);
                *partials[at / per].lock().unwrap_or_else(|e| e.into_inner()) = total;
            })
        });
        let mut db = vec![T::zero(); c];
        for p in partials {
            let p = p.into_inner().unwrap_or_else(|e| e.into_inner());
            db.iter_mut().zip(p).for_each(|(s, v)| *s += v);
        }
        Some((dx, db))
    }
    match (y, g) {
        (CpuStorage::F32(y), CpuStorage::F32(g)) => {
            go(op, y, g, c).map(|(a, b)| (CpuStorage::F32(a), CpuStorage::F32(b)))
        }
        (CpuStorage::F64(y), CpuStorage::F64(g)) => {
            go(op, y, g, c).map(|(a, b)| (CpuStorage::F64(a), CpuStorage::F64(b)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keras_backend::DType;

    /// `leaky_relu` and its gradient against the definition `where(x >= 0, x, a x)`, on a
    /// permuted input large enough to run on several threads; NaN, infinities and `-0` as
    /// Keras on JAX (`where(x >= 0, ...)`) gives them; half precision and integers.
    #[test]
    fn leaky_relu_and_its_gradient_follow_the_definition() {
        let a = 0.2;
        let mut x: Vec<f64> = crate::test_data::data(300 * 257, 5);
        x[..5].copy_from_slice(&[f64::NAN, -0.0, f64::NEG_INFINITY, f64::INFINITY, 0.0]);
        let layout = Layout::contiguous(&[257, 300]).permute(&[1, 0]).unwrap();
        let xs: Vec<f64> = layout.offsets().iter().map(|&i| x[i]).collect();
        let CpuStorage::F64(y) = leaky_relu(&CpuStorage::F64(x.clone()), &layout, a).unwrap() else {
            panic!("dtype")
        };
        for (&x, &y) in xs.iter().zip(&y) {
            let want = if x >= 0.0 { x } else { a * x };
            assert!(
                want.to_bits() == y.to_bits(),
                "leaky_relu({x}) = {y}, want {want}"
            );
        }
        let g: Vec<f64> = crate::test_data::data(xs.len(), 6);
        let CpuStorage::F64(gx) =
            leaky_relu_grad(&CpuStorage::F64(xs.clone()), &CpuStorage::F64(g.clone()), a).unwrap()
        else {
            panic!("dtype")
        };
        for ((&x, &g), &gx) in xs.iter().zip(&g).zip(&gx) {
            assert_eq!(
                gx.to_bits(),
                if x >= 0.0 { g } else { a * g }.to_bits(),
                "at x = {x}"
            );
        }
        // Mismatched dtypes or lengths are left to the caller.
        assert_eq!(
            leaky_relu_grad(&CpuStorage::F64(xs), &CpuStorage::F32(vec![0.0]), a),
            None
        );

        let h = CpuStorage::F64(vec![-2.0, 4.0]).cast(&Layout::contiguous(&[2]), DType::F16);
        let y = leaky_relu(&h, &Layout::contiguous(&[2]), 0.25).unwrap();
        assert_eq!(y.dtype(), DType::F16);
        let back = y.cast(&Layout::contiguous(&[2]), DType::F64);
        assert_eq!(back, CpuStorage::F64(vec![-0.5, 4.0]));
        let err = leaky_relu(&CpuStorage::I32(vec![-1]), &Layout::contiguous(&[1]), a).unwrap_err();
        assert!(err.to_string().contains("leaky_relu"), "{err}");
    }

    #[test]
    fn relu_keeps_nan_as_tensorflow_and_pytorch_do() {
        let x = [f32::NAN, -1.0, 2.0, -0.0, f32::NEG_INFINITY];
        let l = Layout::contiguous(&[5]);
        let CpuStorage::F32(y) = unary(UnaryOp::Relu, &CpuStorage::F32(x.to_vec()), &l).unwrap() else {
            panic!("dtype")
        };
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], [0.0, 2.0, -0.0, 0.0]);
        assert!(
            y[3].is_sign_negative(),
            "-0 stays -0, as torch.relu and tf.nn.relu give"
        );
    }

    #[test]
    fn fused_bias_activation_equals_add_then_unary_bitwise() {
        let c = 5;
        let mut x: Vec<f64> = crate::test_data::data(40 * c, 11)
            .iter()
            .map(|v| v * 30.0)
            .collect();
        x[3] = f64::NAN;
        x[7] = -0.0;
        x[12] = f64::INFINITY;
        let mut b: Vec<f64> = crate::test_data::data(c, 12);
        b[2] = -0.0; // so element 7 is -0 after the bias too

        let added: Vec<f64> = x.iter().enumerate().map(|(i, &v)| v + b[i % c]).collect();
        let l = Layout::contiguous(&[added.len()]);
        for op in [UnaryOp::Relu, UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Exp] {
            let Some(CpuStorage::F64(fused)) =
                bias_unary(Some(op), &CpuStorage::F64(x.clone()), &CpuStorage::F64(b.clone()))
            else {
                panic!("{op:?} not fused")
            };
            let CpuStorage::F64(plain) = unary(op, &CpuStorage::F64(added.clone()), &l).unwrap() else {
                panic!("dtype")
            };
            for (i, (f, p)) in fused.iter().zip(&plain).enumerate() {
                assert_eq!(f.to_bits(), p.to_bits(), "{op:?} element {i}: {f} vs {p}");
            }
        }
    }
}
