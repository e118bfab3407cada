//! The primitive op families and their parameters, shared by every backend.
//!
//! Each enum variant is one kernel a backend must provide. Composite ops (softmax,
//! cross-entropy, layer norm, …) are built from these in `keras-tensor` and need no kernel.

/// Elementwise functions of one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// natural log
    Log,
    /// `ln(1 + x)`
    Log1p,
    /// `e^x - 1`
    Expm1,
    /// square root
    Sqrt,
    /// `1 / sqrt(x)`
    Rsqrt,
    /// `x * x`
    Square,
    /// `1 / x`
    Recip,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// hyperbolic tangent
    Tanh,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `max(x, 0)`
    Relu,
    /// the error function
    Erf,
    /// -1, 0 or 1
    Sign,
    /// round down
    Floor,
    /// round up
    Ceil,
    /// round half to even (NumPy's `round`)
    Round,
    /// boolean not
    LogicalNot,
}

impl UnaryOp {
    /// Name used in errors and as the kernel name stem.
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Exp => "exp",
            Log => "log",
            Log1p => "log1p",
            Expm1 => "expm1",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Square => "square",
            Recip => "reciprocal",
            Sin => "sin",
            Cos => "cos",
            Tanh => "tanh",
            Sigmoid => "sigmoid",
            Relu => "relu",
            Erf => "erf",
            Sign => "sign",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            LogicalNot => "logical_not",
        }
    }

    /// True when the op is only defined for floats (integers are rejected, not truncated).
    pub fn float_only(self) -> bool {
        use UnaryOp::*;
        !matches!(
            self,
            Neg | Abs | Square | Sign | Relu | Floor | Ceil | Round | LogicalNot
        )
    }
}

/// Elementwise functions of two broadcast tensors with the same value dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b` (true division)
    Div,
    /// `a ^ b`
    Pow,
    /// larger of the two (NaN-propagating)
    Maximum,
    /// smaller of the two (NaN-propagating)
    Minimum,
    /// boolean and
    LogicalAnd,
    /// boolean or
    LogicalOr,
}

impl BinaryOp {
    /// Name used in errors and as the kernel name stem.
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "subtract",
            Mul => "multiply",
            Div => "divide",
            Pow => "power",
            Maximum => "maximum",
            Minimum => "minimum",
            LogicalAnd => "logical_and",
            LogicalOr => "logical_or",
        }
    }
}

/// Elementwise comparisons; the result is `bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

impl CmpOp {
    /// Name used in errors and as the kernel name stem.
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Eq => "equal",
            CmpOp::Ne => "not_equal",
            CmpOp::Lt => "less",
            CmpOp::Le => "less_equal",
            CmpOp::Gt => "greater",
            CmpOp::Ge => "greater_equal",
        }
    }
}

/// Reductions over the trailing axis of a row-major block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// sum
    Sum,
    /// maximum (NaN-propagating)
    Max,
    /// minimum (NaN-propagating)
    Min,
    /// index of the first maximum (result `int64`)
    ArgMax,
    /// index of the first minimum (result `int64`)
    ArgMin,
}

impl ReduceOp {
    /// Name used in errors and as the kernel name stem.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::ArgMax => "argmax",
            ReduceOp::ArgMin => "argmin",
        }
    }
}

/// A 2-D convolution in NHWC with HWIO weights (Keras's `channels_last` layout).
///
/// Input `(N, H, W, C_in)`, weights `(KH, KW, C_in / groups, C_out)`, output
/// `(N, OH, OW, C_out)` with `OH = (H + pad_top + pad_bottom - dilation*(KH-1) - 1) / stride + 1`.
/// 1-D convolutions are 2-D ones with `H = KH = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Batch size N.
    pub batch: usize,
    /// Input height and width.
    pub in_hw: [usize; 2],
    /// Input channels (all groups together).
    pub in_channels: usize,
    /// Output channels (all groups together).
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Strides along H and W.
    pub stride: [usize; 2],
    /// Zero padding `(before, after)` along H and W.
    pub padding: [(usize, usize); 2],
    /// Dilation along H and W.
    pub dilation: [usize; 2],
    /// Number of groups; `in_channels` and `out_channels` are multiples of it.
    pub groups: usize,
}

impl Conv2dParams {
    /// Output height and width (0 when the padded input is smaller than the dilated kernel).
    pub fn out_hw(&self) -> [usize; 2] {
        std::array::from_fn(|d| {
            let padded = self.in_hw[d] + self.padding[d].0 + self.padding[d].1;
            let span = self.dilation[d] * (self.kernel[d] - 1) + 1;
            if padded >= span {
                (padded - span) / self.stride[d] + 1
            } else {
                0
            }
        })
    }

    /// Multiply-adds of the forward pass times two.
    pub fn flops(&self) -> f64 {
        let [oh, ow] = self.out_hw();
        2.0 * (self.batch * oh * ow * self.out_channels) as f64
            * (self.kernel[0] * self.kernel[1] * self.in_channels / self.groups) as f64
    }
}

/// A 2-D max or average pooling window over NHWC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    /// Batch size N.
    pub batch: usize,
    /// Input height and width.
    pub in_hw: [usize; 2],
    /// Channels.
    pub channels: usize,
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Strides along H and W.
    pub stride: [usize; 2],
    /// Padding `(before, after)` along H and W. Padded cells never win a max and are not
    /// counted by an average (TensorFlow's and Keras's `"same"` behaviour).
    pub padding: [(usize, usize); 2],
}

impl Pool2dParams {
    /// Output height and width.
    pub fn out_hw(&self) -> [usize; 2] {
        std::array::from_fn(|d| {
            let padded = self.in_hw[d] + self.padding[d].0 + self.padding[d].1;
            if padded >= self.kernel[d] {
                (padded - self.kernel[d]) / self.stride[d] + 1
            } else {
                0
            }
        })
    }
}

/// Which pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Maximum over the window.
    Max,
    /// Mean over the valid cells of the window.
    Avg,
}

/// Which distribution a random fill draws from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RandomDist {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// Normal with mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        stddev: f64,
    },
    /// Normal re-drawn until within two standard deviations of the mean (Keras's
    /// `truncated_normal`).
    TruncatedNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation (of the untruncated normal).
        stddev: f64,
    },
    /// 1 with probability `p`, else 0.
    Bernoulli {
        /// Probability of a 1.
        p: f64,
    },
    /// A dropout mask: `1 / (1 - rate)` with probability `1 - rate`, else 0 (so the mask has
    /// mean 1). Each Philox block gives four elements their 32 random bits, which makes it
    /// about four times cheaper to draw than [`RandomDist::Bernoulli`].
    Dropout {
        /// Probability of a 0, in `[0, 1)`.
        rate: f64,
    },
}
