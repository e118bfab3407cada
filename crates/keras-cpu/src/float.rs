//! The float element trait the compute kernels are generic over (`f32` and `f64`).
//!
//! Half-precision tensors are computed by widening to `f32` (see `storage.rs`); integer
//! tensors use the integer paths in `unary.rs`/`binary.rs`/`reduce.rs`.

use keras_backend::Element;

/// `f32` or `f64`: what the float kernels (elementwise math, reductions, GEMM, conv, pooling)
/// are written for.
pub trait Float:
    num_traits::Float
    + Element
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + Send
    + Sync
    + 'static
{
    /// The error function.
    fn erf(self) -> Self;
    /// Converts from `f64` (rounding).
    fn of(v: f64) -> Self;
    /// `e^x` for the elementwise kernels: branch-free for `f32` so loops over slices
    /// vectorize (see [`exp_f32`]); the standard library's for `f64`.
    fn exp_k(self) -> Self;
    /// `tanh(x)` for the elementwise kernels (see [`tanh_f32`]).
    fn tanh_k(self) -> Self;
    /// The logistic sigmoid `1 / (1 + e^-x)`, without overflow for any `x`.
    fn sigmoid_k(self) -> Self {
        let one = Self::one();
        let e = (-self.abs()).exp_k();
        let s = one / (one + e);
        if self >= Self::zero() {
            s
        } else {
            e * s
        }
    }
}

impl Float for f32 {
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn exp_k(self) -> Self {
        exp_f32(self)
    }
    #[inline]
    fn tanh_k(self) -> Self {
        tanh_f32(self)
    }
}

impl Float for f64 {
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[inline]
    fn of(v: f64) -> Self {
        v
    }
    #[inline]
    fn exp_k(self) -> Self {
        self.exp()
    }
    #[inline]
    fn tanh_k(self) -> Self {
        self.tanh()
    }
}

/// `e^x` in `f32` without a library call or a branch, so that a loop over a slice
/// vectorizes: `x = n·ln2 + r` with `n` rounded to nearest (`|r| ≤ ln2/2`), `e^r` from
/// Cephes's degree-7 polynomial, and `2^n` built from exponent bits, in two factors so that
/// `n = 128` (just below `f32::MAX`) still works. Relative error within 2 ulp of the correctly
/// rounded result for normal results; results below the smallest normal flush to 0, above
/// `f32::MAX` are infinite; NaN stays NaN.
///
/// ```
/// let x = 1.5f32;
/// assert!((keras_cpu::exp_f32(x) - x.exp()).abs() <= 2.0 * f32::EPSILON * x.exp());
/// assert_eq!(keras_cpu::exp_f32(f32::NEG_INFINITY), 0.0);
/// ```
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n·LN2_HI is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer (vectorizes, unlike
    // `round`); the integer sits in the low mantissa bits of the sum.
    const SHIFTER: f32 = 12_582_912.0;
    const LO: f32 = -87.336_55; // ln(f32::MIN_POSITIVE)
    const HI: f32 = 88.722_84; // ln(f32::MAX)
    let xc = x.clamp(LO, HI);
    let t = xc * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let ni = t.to_bits() as i32 - SHIFTER.to_bits() as i32;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let half = ni >> 1;
    let s1 = f32::from_bits(((half + 127) << 23) as u32);
    let s2 = f32::from_bits(((ni - half + 127) << 23) as u32);
    let v = y * s1 * s2;
    if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else {
        v
    }
}

/// `tanh(x)` in `f32`, branch-free like [`exp_f32`]: an odd Taylor polynomial to `x^11` for
/// `|x| < 0.3` (where `1 - 2/(e^2x + 1)` would lose relative precision), that formula above.
/// Error within a few ulp; `tanh(±0) = ±0`, `±1` for large `|x|`, NaN stays NaN.
///
/// ```
/// for x in [-3.0f32, -0.2, 0.0, 0.1, 0.7, 12.0] {
///     assert!((keras_cpu::tanh_f32(x) - x.tanh()).abs() <= 4.0 * f32::EPSILON * x.tanh().abs().max(1e-30));
/// }
/// ```
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    let x2 = x * x;
    let mut p = -1382.0 / 155_925.0f32;
    p = p * x2 + 62.0 / 2835.0;
    p = p * x2 - 17.0 / 315.0;
    p = p * x2 + 2.0 / 15.0;
    p = p * x2 - 1.0 / 3.0;
    let small = x * (1.0 + x2 * p);
    let e = exp_f32(2.0 * x.abs());
    let large = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if x.abs() < 0.3 {
        small
    } else {
        large
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 2^-12 step over [-100, 100] and then some: error in units of the f32 spacing at
    /// the float64 reference value.
    fn max_ulps(f: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64, floor: f64) -> f64 {
        let mut worst = 0.0f64;
        let mut x = -100.0f64;
        while x <= 100.0 {
            let xf = x as f32;
            let want = reference(xf as f64);
            let got = f(xf) as f64;
            if want.abs() >= floor && want.abs() < f32::MAX as f64 {
                let ulp = (want.abs() as f32).max(f32::MIN_POSITIVE) as f64 * f32::EPSILON as f64;
                worst = worst.max((got - want).abs() / ulp);
            }
            x += 1.0 / 4096.0;
        }
        worst
    }

    #[test]
    fn exp_tanh_sigmoid_are_within_a_few_ulp_of_float64() {
        let e = max_ulps(exp_f32, f64::exp, f32::MIN_POSITIVE as f64);
        let t = max_ulps(tanh_f32, f64::tanh, 0.0);
        let s = max_ulps(
            |x| x.sigmoid_k(),
            |x| 1.0 / (1.0 + (-x).exp()),
            f32::MIN_POSITIVE as f64,
        );
        println!("worst error: exp {e:.2} ulp, tanh {t:.2} ulp, sigmoid {s:.2} ulp");
        assert!(
            e <= 2.0 && t <= 4.0 && s <= 4.0,
            "exp {e} ulp, tanh {t} ulp, sigmoid {s} ulp"
        );
    }

    #[test]
    fn special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-1e9), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert!(exp_f32(88.7) > 3.0e38 && exp_f32(88.7).is_finite());
        assert!(exp_f32(f32::NAN).is_nan() && tanh_f32(f32::NAN).is_nan() && f32::NAN.sigmoid_k().is_nan());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!((tanh_f32(f32::INFINITY), tanh_f32(-1e30)), (1.0, -1.0));
        assert_eq!(
            (f32::INFINITY.sigmoid_k(), f32::NEG_INFINITY.sigmoid_k()),
            (1.0, 0.0)
        );
        assert_eq!(0.0f32.sigmoid_k(), 0.5);
    }
}
