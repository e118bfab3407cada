//! Element types and the promotion rule between them.

use crate::error::{Error, Result};

/// The element type of a tensor.
///
/// `F32` is the default (Keras's `floatx`). The promotion rule between two dtypes is
/// [`DType::promote`].
///
/// ```
/// use keras_backend::DType;
/// assert_eq!(DType::parse("float32").unwrap(), DType::F32);
/// assert_eq!(DType::I32.promote(DType::F16), DType::F16);
/// assert_eq!(DType::BF16.promote(DType::F16), DType::F32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DType {
    /// Boolean (stored as one byte, 0 or 1).
    Bool,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE single precision (the default).
    #[default]
    F32,
    /// IEEE double precision.
    F64,
}

impl DType {
    /// All dtypes, in promotion order.
    pub const ALL: [DType; 8] = [
        DType::Bool,
        DType::U8,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// Keras / NumPy name of the dtype (`"float32"`, `"int64"`, `"bool"`, …).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Parses a Keras / NumPy dtype name.
    ///
    /// # Errors
    /// [`Error::UnknownDType`] for a name that is not one of the eight dtypes.
    pub fn parse(name: &str) -> Result<DType> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| Error::UnknownDType(name.to_string()))
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::Bool | DType::U8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    /// True for the four floating-point dtypes.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// True for the three integer dtypes (not `Bool`).
    pub fn is_int(self) -> bool {
        matches!(self, DType::U8 | DType::I32 | DType::I64)
    }

    /// The dtype two operands are converted to before a binary op.
    ///
    /// This is Keras 3's (and JAX's) lattice rather than NumPy's value-based one, because it
    /// never widens floats behind the user's back: `bool < uint8 < int32 < int64 < any float`,
    /// an integer meeting a float gives that float, `float16` with `bfloat16` gives `float32`,
    /// and otherwise the wider of two floats wins.
    pub fn promote(self, other: DType) -> DType {
        use DType::*;
        if self == other {
            return self;
        }
        match (self.is_float(), other.is_float()) {
            (true, false) => self,
            (false, true) => other,
            (true, true) => match (self, other) {
                (F16, BF16) | (BF16, F16) => F32,
                _ => {
                    if self.rank() > other.rank() {
                        self
                    } else {
                        other
                    }
                }
            },
            (false, false) => {
                if self.rank() > other.rank() {
                    self
                } else {
                    other
                }
            }
        }
    }

    fn rank(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 => 1,
            DType::I32 => 2,
            DType::I64 => 3,
            DType::F16 => 4,
            DType::BF16 => 4,
            DType::F32 => 5,
            DType::F64 => 6,
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DType::parse(s)
    }
}

/// A Rust type that can be an element of a tensor.
///
/// Implemented for `bool`, `u8`, `i32`, `i64`, `half::f16`, `half::bf16`, `f32` and `f64`.
pub trait Element: Copy + Send + Sync + Default + PartialOrd + std::fmt::Debug + 'static {
    /// The matching dtype.
    const DTYPE: DType;
    /// Converts to `f64` (exact for every dtype but `i64` beyond 2^53).
    fn to_f64(self) -> f64;
    /// Converts from `f64` with Rust's `as` semantics (saturating for integers, `!= 0` for bool).
    fn from_f64(v: f64) -> Self;
}

macro_rules! element {
    ($t:ty, $d:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to;
                f(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                let f: fn(f64) -> $t = $from;
                f(v)
            }
        }
    };
}

element!(bool, Bool, |x| x as u8 as f64, |v| v != 0.0);
element!(u8, U8, |x| x as f64, |v| v as u8);
element!(i32, I32, |x| x as f64, |v| v as i32);
element!(i64, I64, |x| x as f64, |v| v as i64);
element!(half::f16, F16, |x| x.to_f64(), half::f16::from_f64);
element!(half::bf16, BF16, |x| x.to_f64(), half::bf16::from_f64);
element!(f32, F32, |x| x as f64, |v| v as f32);
element!(f64, F64, |x| x, |v| v);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.name()).unwrap(), d);
        }
        assert!(DType::parse("float8").is_err());
    }

    #[test]
    fn promotion_is_symmetric_and_follows_keras() {
        for a in DType::ALL {
            for b in DType::ALL {
                assert_eq!(a.promote(b), b.promote(a), "{a} {b}");
            }
        }
        assert_eq!(DType::Bool.promote(DType::U8), DType::U8);
        assert_eq!(DType::U8.promote(DType::I32), DType::I32);
        assert_eq!(DType::I64.promote(DType::F16), DType::F16);
        assert_eq!(DType::F32.promote(DType::F64), DType::F64);
        assert_eq!(DType::F16.promote(DType::F32), DType::F32);
    }
}
