//! The error type shared by every keras-rs crate below the Keras API.

use crate::DType;

/// Everything that can go wrong in a tensor operation. Each variant names the op.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two shapes that had to agree (or broadcast) did not.
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}")]
    ShapeMismatch {
        /// The op that checked.
        op: &'static str,
        /// First shape.
        lhs: Vec<usize>,
        /// Second shape.
        rhs: Vec<usize>,
    },
    /// A shape was invalid for an op for a reason given in `msg`.
    #[error("{op}: {msg} (shape {shape:?})")]
    BadShape {
        /// The op that checked.
        op: &'static str,
        /// The offending shape.
        shape: Vec<usize>,
        /// What is wrong.
        msg: String,
    },
    /// Two dtypes that had to agree did not.
    #[error("{op}: dtype mismatch {lhs} vs {rhs}")]
    DTypeMismatch {
        /// The op that checked.
        op: &'static str,
        /// First dtype.
        lhs: DType,
        /// Second dtype.
        rhs: DType,
    },
    /// The op does not support this dtype.
    #[error("{op}: unsupported dtype {dtype}{}", if .hint.is_empty() { String::new() } else { format!(" ({})", .hint) })]
    UnsupportedDType {
        /// The op that checked.
        op: &'static str,
        /// The dtype given.
        dtype: DType,
        /// What would work instead.
        hint: &'static str,
    },
    /// An axis was out of range for the tensor's rank.
    #[error("{op}: axis {axis} out of range for rank {rank}")]
    AxisOutOfRange {
        /// The op that checked.
        op: &'static str,
        /// The axis given (possibly negative).
        axis: isize,
        /// The tensor's rank.
        rank: usize,
    },
    /// An index value in an index tensor was out of range.
    #[error("{op}: index {index} out of range for axis of size {size}")]
    IndexOutOfRange {
        /// The op that checked.
        op: &'static str,
        /// The index found.
        index: i64,
        /// The size of the indexed axis.
        size: usize,
    },
    /// An argument was invalid for a reason given in `msg`.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The op that checked.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// Tensors on different devices were combined.
    #[error("{op}: tensors on different devices ({lhs} and {rhs})")]
    DeviceMismatch {
        /// The op that checked.
        op: &'static str,
        /// First device.
        lhs: String,
        /// Second device.
        rhs: String,
    },
    /// The requested device cannot be used in this build or on this machine.
    #[error("device {device} is not available: {reason}")]
    DeviceUnavailable {
        /// The device asked for.
        device: String,
        /// Why not.
        reason: String,
    },
    /// A dtype name that is not known.
    #[error("unknown dtype {0:?} (expected one of bool, uint8, int32, int64, float16, bfloat16, float32, float64)")]
    UnknownDType(String),
    /// A gradient was asked for in a way that cannot work.
    #[error("autodiff: {0}")]
    Autodiff(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
