//! Keras's data utilities (`keras.utils`): [`to_categorical`], [`normalize`],
//! [`pad_sequences`], [`split_dataset`].
//!
//! ```
//! use keras_datasets::utils::{pad_sequences, to_categorical, PadArgs};
//! use keras_tensor::Tensor;
//! let x = pad_sequences(&[vec![1i64], vec![2, 3], vec![4, 5, 6]], PadArgs::default())?;
//! assert_eq!(x.to_vec::<i32>()?, [0, 0, 1, 0, 2, 3, 4, 5, 6]);
//! let y = to_categorical(&Tensor::new(&[0u8, 2], &[2])?, Some(3))?;
//! assert_eq!(y.to_vec::<f32>()?, [1., 0., 0., 0., 0., 1.]);
//! # Ok::<(), keras_datasets::Error>(())
//! ```

use std::str::FromStr;

use keras_tensor::{DType, Device, Tensor};

use crate::error::{Error, Result};
use crate::mt19937::Mt19937;

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// One-hot encodes integer class labels (`keras.utils.to_categorical`).
///
/// # Arguments
/// * `y`: class labels of any shape and numeric dtype (floats are truncated to integers, as
///   NumPy's `astype(int64)` does); a trailing axis of size 1 is dropped, so `(n, 1)` labels
///   give `(n, num_classes)`.
/// * `num_classes`: the number of classes; `None` (or `Some(0)`) infers `max(y) + 1`.
///
/// # Returns
/// A `float32` tensor of shape `y.shape + (num_classes,)`. Keras returns `float32` for tensor
/// input (and `float64` for NumPy input).
///
/// # Errors
/// A label below 0 or not below `num_classes` (Keras's NumPy path would wrap a negative label
/// around), or an empty `y` without `num_classes`.
///
/// ```
/// use keras_tensor::Tensor;
/// let y = Tensor::new(&[0i64, 2, 1], &[3, 1])?;
/// let one_hot = keras_datasets::utils::to_categorical(&y, Some(4))?;
/// assert_eq!(one_hot.shape(), &[3, 4]);
/// assert_eq!(one_hot.to_vec::<f32>()?[..4], [1., 0., 0., 0.]);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn to_categorical(y: &Tensor, num_classes: Option<usize>) -> Result<Tensor> {
    let mut shape = y.shape().to_vec();
    if shape.len() > 1 && shape.last() == Some(&1) {
        shape.pop();
    }
    let labels: Vec<i64> = y.to_vec_f64()?.into_iter().map(|v| v as i64).collect();
    let k = match num_classes.filter(|&k| k > 0) {
        Some(k) => k,
        None => {
            let max = labels.iter().copied().max().ok_or_else(|| {
                invalid("to_categorical: cannot infer num_classes from an empty array; pass num_classes")
            })?;
            usize::try_from(max).map_err(|_| invalid(format!("to_categorical: negative label {max}")))? + 1
        }
    };
    let mut out = vec![
        0f32;
        labels
            .len()
            .checked_mul(k)
            .ok_or_else(|| invalid("to_categorical: too large"))?
    ];
    for (i, &l) in labels.iter().enumerate() {
        if l < 0 || l as u64 >= k as u64 {
            return Err(invalid(format!(
                "to_categorical: label {l} at index {i} is outside 0..{k} (num_classes={k})"
            )));
        }
        out[i * k + l as usize] = 1.0;
    }
    shape.push(k);
    Ok(Tensor::from_vec(out, &shape, &Device::Cpu)?)
}

/// Divides `x` by its `order`-norm along `axis` (`keras.utils.normalize`); a zero norm is
/// taken as 1, so zero vectors stay zero.
///
/// # Arguments
/// * `axis`: the axis of the vectors (negative counts from the end); Keras's default is -1.
/// * `order`: the norm's order `p > 0` (`(Σ|x|^p)^(1/p)`), or `f64::INFINITY` for `max |x|`;
///   Keras's default is 2.
///
/// # Returns
/// A tensor of `x`'s shape and float dtype; integer input gives `float32`.
///
/// # Errors
/// An axis out of range or an order that is not positive.
///
/// ```
/// use keras_tensor::Tensor;
/// let x = Tensor::new(&[3f32, 4., 0., 0.], &[2, 2])?;
/// let n = keras_datasets::utils::normalize(&x, -1, 2.0)?;
/// assert_eq!(n.to_vec::<f32>()?, [0.6, 0.8, 0., 0.]);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn normalize(x: &Tensor, axis: isize, order: f64) -> Result<Tensor> {
    if order.is_nan() || order <= 0.0 {
        return Err(invalid(format!(
            "normalize: order must be > 0 (or infinity), got {order}"
        )));
    }
    let shape: Vec<usize> = if x.rank() == 0 {
        vec![1]
    } else {
        x.shape().to_vec()
    };
    let rank = shape.len() as isize;
    let ax = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&ax) {
        return Err(Error::Tensor(keras_tensor::Error::AxisOutOfRange {
            op: "normalize",
            axis,
            rank: rank as usize,
        }));
    }
    let ax = ax as usize;
    let (outer, len, inner) = (
        shape[..ax].iter().product::<usize>(),
        shape[ax],
        shape[ax + 1..].iter().product::<usize>(),
    );
    let mut v = x.to_vec_f64()?;
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * len + k) * inner + i;
            let norm = if order.is_infinite() {
                (0..len).map(|k| v[at(k)].abs()).fold(0.0, f64::max)
            } else if order == 2.0 {
                (0..len).map(|k| v[at(k)] * v[at(k)]).sum::<f64>().sqrt()
            } else if order == 1.0 {
                (0..len).map(|k| v[at(k)].abs()).sum::<f64>()
            } else {
                (0..len)
                    .map(|k| v[at(k)].abs().powf(order))
                    .sum::<f64>()
                    .powf(1.0 / order)
            };
            let norm = if norm == 0.0 { 1.0 } else { norm };
            for k in 0..len {
                v[at(k)] /= norm;
            }
        }
    }
    let dtype = if x.dtype().is_float() {
        x.dtype()
    } else {
        DType::F32
    };
    Ok(Tensor::from_vec(v, x.shape(), &Device::Cpu)?.cast(dtype)?)
}

/// Where [`pad_sequences`] pads or truncates: at the start (`"pre"`) or the end (`"post"`).
///
/// ```
/// use keras_datasets::utils::Side;
/// assert_eq!("post".parse::<Side>()?, Side::Post);
/// assert!("middle".parse::<Side>().is_err());
/// # Ok::<(), keras_datasets::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    /// At the start (Keras's default).
    #[default]
    Pre,
    /// At the end.
    Post,
}

impl FromStr for Side {
    type Err = Error;
    fn from_str(s: &str) -> Result<Side> {
        match s {
            "pre" => Ok(Side::Pre),
            "post" => Ok(Side::Post),
            _ => Err(invalid(format!(
                "padding/truncating type {s:?} not understood (expected \"pre\" or \"post\")"
            ))),
        }
    }
}

/// The arguments of [`pad_sequences`], with Keras's defaults.
///
/// ```
/// let a = keras_datasets::utils::PadArgs::default();
/// assert_eq!((a.maxlen, a.dtype, a.value), (None, keras_tensor::DType::I32, 0.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PadArgs {
    /// The length of every row; `None` is the longest sequence's.
    pub maxlen: Option<usize>,
    /// The result's dtype (Keras's default `int32`).
    pub dtype: DType,
    /// Pad at the start or the end.
    pub padding: Side,
    /// Cut longer sequences at the start or the end.
    pub truncating: Side,
    /// The padding value, converted to `dtype` (truncated for integer dtypes).
    pub value: f64,
}

impl Default for PadArgs {
    fn default() -> Self {
        PadArgs {
            maxlen: None,
            dtype: DType::I32,
            padding: Side::Pre,
            truncating: Side::Pre,
            value: 0.0,
        }
    }
}

/// Pads (and truncates) sequences into one `(num_samples, maxlen)` tensor
/// (`keras.utils.pad_sequences`), with Keras's semantics: `"pre"` padding puts the values at
/// the end of the row, `"pre"` truncation keeps the last `maxlen` values.
///
/// # Errors
/// A value that does not fit an integer `dtype` (NumPy raises an `OverflowError`), or an
/// unsupported dtype.
///
/// ```
/// use keras_datasets::utils::{pad_sequences, PadArgs, Side};
/// let seqs = [vec![1i64], vec![2, 3], vec![4, 5, 6]];
/// let x = pad_sequences(&seqs, PadArgs { maxlen: Some(2), ..Default::default() })?;
/// assert_eq!(x.to_vec::<i32>()?, [0, 1, 2, 3, 5, 6]);
/// let args = PadArgs { padding: Side::Post, value: -1.0, ..Default::default() };
/// assert_eq!(pad_sequences(&seqs, args)?.to_vec::<i32>()?, [1, -1, -1, 2, 3, -1, 4, 5, 6]);
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn pad_sequences<S: AsRef<[i64]>>(sequences: &[S], args: PadArgs) -> Result<Tensor> {
    let n = sequences.len();
    let maxlen = args
        .maxlen
        .unwrap_or_else(|| sequences.iter().map(|s| s.as_ref().len()).max().unwrap_or(0));
    let shape = [n, maxlen];
    let total = n
        .checked_mul(maxlen)
        .ok_or_else(|| invalid("pad_sequences: too large"))?;
    let place = |s: &[i64]| -> (usize, std::ops::Range<usize>) {
        let t = match args.truncating {
            Side::Pre => s.len().saturating_sub(maxlen)..s.len(),
            Side::Post => 0..s.len().min(maxlen),
        };
        let start = match args.padding {
            Side::Pre => maxlen - t.len(),
            Side::Post => 0,
        };
        (start, t)
    };
    let cpu = Device::Cpu;
    if args.dtype.is_float() {
        let mut out = vec![args.value; total];
        for (row, s) in out.chunks_mut(maxlen.max(1)).zip(sequences) {
            let s = s.as_ref();
            let (start, t) = place(s);
            for (d, &w) in row[start..].iter_mut().zip(&s[t]) {
                *d = w as f64;
            }
        }
        return Ok(Tensor::from_vec(out, &shape, &cpu)?.cast(args.dtype)?);
    }
    let range: (i64, i64) = match args.dtype {
        DType::I64 => (i64::MIN, i64::MAX),
        DType::I32 => (i32::MIN as i64, i32::MAX as i64),
        DType::U8 => (0, 255),
        DType::Bool => (i64::MIN, i64::MAX),
        other => return Err(invalid(format!("pad_sequences: dtype {other} is not supported"))),
    };
    let mut out = vec![args.value as i64; total];
    for (i, s) in sequences.iter().enumerate() {
        let s = s.as_ref();
        let (start, t) = place(s);
        for (k, &w) in s[t].iter().enumerate() {
            if w < range.0 || w > range.1 {
                return Err(invalid(format!(
                    "pad_sequences: value {w} of sequence {i} does not fit dtype {}",
                    args.dtype
                )));
            }
            out[i * maxlen + start + k] = w;
        }
    }
    Ok(Tensor::from_vec(out, &shape, &cpu)?.cast(args.dtype)?)
}

/// A split size for [`split_dataset`]: a fraction in `(0, 1)` or a number of samples.
///
/// ```
/// use keras_datasets::utils::SplitSize;
/// assert_eq!(SplitSize::from(0.8), SplitSize::Fraction(0.8));
/// assert_eq!(SplitSize::from(100usize), SplitSize::Count(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitSize {
    /// A fraction of the samples, rounded half to even as Python's `round`.
    Fraction(f64),
    /// A number of samples.
    Count(usize),
}

impl From<f64> for SplitSize {
    fn from(f: f64) -> SplitSize {
        SplitSize::Fraction(f)
    }
}

impl From<usize> for SplitSize {
    fn from(n: usize) -> SplitSize {
        SplitSize::Count(n)
    }
}

/// The arguments of [`split_dataset`].
///
/// ```
/// use keras_datasets::utils::SplitArgs;
/// let a = SplitArgs { left_size: Some(0.8.into()), shuffle: true, seed: Some(42), ..Default::default() };
/// assert!(a.right_size.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplitArgs {
    /// The size of the left split; `None` for the complement of `right_size`.
    pub left_size: Option<SplitSize>,
    /// The size of the right split; `None` for the complement of `left_size`.
    pub right_size: Option<SplitSize>,
    /// Shuffle the samples before splitting.
    pub shuffle: bool,
    /// The shuffle's seed (Python `random.seed`); `None` for a random one.
    pub seed: Option<u64>,
}

/// Splits arrays of samples (sharing their first dimension) into a left and a right part
/// (`keras.utils.split_dataset` on a tuple of arrays), with Keras's size rules: the left split
/// is the first `left_size` samples, the right split the last `right_size`; with
/// `shuffle` and a `seed`, the order is Python's `random.seed(seed); random.shuffle(...)`, the
/// same as Keras's.
///
/// # Errors
/// Keras's: no size given, a size of 0 or not below the number of samples, fractions outside
/// `(0, 1)` or summing above 1, sizes summing above the number of samples, an empty split; and
/// arrays of different lengths.
///
/// ```
/// use keras_datasets::utils::{split_dataset, SplitArgs};
/// use keras_tensor::Tensor;
/// let x = Tensor::new(&(0..10).map(|v| v as f32).collect::<Vec<_>>(), &[5, 2])?;
/// let y = Tensor::new(&[0i64, 1, 0, 1, 0], &[5])?;
/// let (left, right) = split_dataset(&[x, y], SplitArgs { left_size: Some(0.8.into()), ..Default::default() })?;
/// assert_eq!((left[0].shape(), right[1].shape()), (&[4, 2][..], &[1][..]));
/// # Ok::<(), keras_datasets::Error>(())
/// ```
pub fn split_dataset(arrays: &[Tensor], args: SplitArgs) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let first = arrays
        .first()
        .ok_or_else(|| invalid("split_dataset: no arrays given"))?;
    let n = *first
        .shape()
        .first()
        .ok_or_else(|| invalid("split_dataset: arrays must have a first (sample) axis"))?;
    if let Some(a) = arrays.iter().find(|a| a.shape().first() != Some(&n)) {
        return Err(invalid(format!(
            "split_dataset: arrays must have the same length; got {n} and {:?}",
            a.shape().first()
        )));
    }
    let (left, right) = split_sizes(args.left_size, args.right_size, n)?;
    let mut order: Vec<usize> = (0..n).collect();
    if args.shuffle {
        let seed = args.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64 % 1_000_001
        });
        Mt19937::python(seed).python_shuffle(&mut order);
    }
    let take = |ids: &[usize]| -> Result<Vec<Tensor>> {
        let idx = Tensor::from_vec(
            ids.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            &[ids.len()],
            &Device::Cpu,
        )?;
        arrays.iter().map(|a| Ok(a.index_select(&idx, 0)?)).collect()
    };
    Ok((take(&order[..left])?, take(&order[n - right..])?))
}

/// Keras's `_rescale_dataset_split_sizes`.
fn split_sizes(left: Option<SplitSize>, right: Option<SplitSize>, total: usize) -> Result<(usize, usize)> {
    if left.is_none() && right.is_none() {
        return Err(invalid(
            "At least one of the `left_size` or `right_size` must be specified. Received: left_size=None and \
             right_size=None",
        ));
    }
    let check = |s: Option<SplitSize>, side: &str| -> Result<()> {
        match s {
            Some(SplitSize::Count(c)) if c == 0 || c >= total => Err(invalid(format!(
                "`{side}_size` should be either a positive integer smaller than {total}, or a float within the \
                 range `[0, 1]`. Received: {side}_size={c}"
            ))),
            Some(SplitSize::Fraction(f)) if !(f > 0.0 && f < 1.0) => Err(invalid(format!(
                "`{side}_size` should be either a positive integer smaller than {total}, or a float within the \
                 range `[0, 1]`. Received: {side}_size={f}"
            ))),
            _ => Ok(()),
        }
    };
    check(left, "left")?;
    check(right, "right")?;
    if let (Some(SplitSize::Fraction(l)), Some(SplitSize::Fraction(r))) = (left, right) {
        if l + r > 1.0 {
            return Err(invalid("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal to 1."));
        }
    }
    let count = |s: SplitSize| match s {
        SplitSize::Fraction(f) => (f * total as f64).round_ties_even() as usize,
        SplitSize::Count(c) => c,
    };
    let (l, r) = match (left.map(count), right.map(count)) {
        (Some(l), Some(r)) => (l, r),
        (Some(l), None) => (l, total.saturating_sub(l)),
        (None, Some(r)) => (total.saturating_sub(r), r),
        (None, None) => unreachable!("checked above"),
    };
    if l + r > total {
        return Err(invalid(format!(
            "The sum of `left_size` and `right_size` should be smaller than the {total}. Received: left_size + \
             right_size = {} and total_length = {total}",
            l + r
        )));
    }
    for (split, side) in [(l, "left"), (r, "right")] {
        if split == 0 {
            return Err(invalid(format!(
                "With `dataset` of length={total}, `left_size`={l} and `right_size`={r}. Resulting {side} side \
                 dataset split will be empty. Adjust any of the aforementioned parameters"
            )));
        }
    }
    Ok((l, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Keras 3.15.1 (NumPy inputs) unless noted.

    #[test]
    fn to_categorical_like_keras() {
        let y = Tensor::new(&[0i64, 2, 1], &[3, 1]).unwrap();
        let c = to_categorical(&y, Some(4)).unwrap();
        assert_eq!((c.shape(), c.dtype()), (&[3, 4][..], DType::F32));
        assert_eq!(
            c.to_vec::<f32>().unwrap(),
            [1., 0., 0., 0., 0., 0., 1., 0., 0., 1., 0., 0.]
        );
        // Inferred classes, shape (2, 2) -> (2, 2, 3).
        let y = Tensor::new(&[0u8, 1, 2, 1], &[2, 2]).unwrap();
        assert_eq!(to_categorical(&y, None).unwrap().shape(), [2, 2, 3]);
        // Float labels truncate; out-of-range and negative labels are errors.
        let y = Tensor::new(&[1.9f32], &[1]).unwrap();
        assert_eq!(
            to_categorical(&y, Some(2)).unwrap().to_vec::<f32>().unwrap(),
            [0., 1.]
        );
        assert!(to_categorical(&Tensor::new(&[3i32], &[1]).unwrap(), Some(3))
            .unwrap_err()
            .to_string()
            .contains("label 3"));
        assert!(to_categorical(&Tensor::new(&[-1i32], &[1]).unwrap(), Some(3)).is_err());
        assert!(to_categorical(&Tensor::new::<i32>(&[], &[0]).unwrap(), None).is_err());
    }

    #[test]
    fn normalize_like_keras() {
        let x = Tensor::new(&[3f64, 4., 0., 0., 1., -1.], &[3, 2]).unwrap();
        let n = normalize(&x, -1, 2.0).unwrap().to_vec::<f64>().unwrap();
        assert_eq!(n, [0.6, 0.8, 0.0, 0.0, 0.7071067811865475, -0.7071067811865475]);
        let x = Tensor::new(&[3f32, 4., 1., -1.], &[2, 2]).unwrap();
        let n = normalize(&x, 1, 1.0).unwrap();
        assert_eq!(n.dtype(), DType::F32);
        assert_eq!(n.to_vec::<f32>().unwrap(), [0.42857143, 0.5714286, 0.5, -0.5]);
        let x = Tensor::new(&[3f64, -4., 1., -1.], &[2, 2]).unwrap();
        assert_eq!(
            normalize(&x, -1, f64::INFINITY).unwrap().to_vec::<f64>().unwrap(),
            [0.75, -1.0, 1.0, -1.0]
        );
        // Along axis 0 (Keras's NumPy path mishandles axis=0; its tensor path gives this).
        let x = Tensor::new(&[3f64, 1., 4., 1.], &[2, 2]).unwrap();
        assert_eq!(
            normalize(&x, 0, 2.0).unwrap().to_vec::<f64>().unwrap(),
            [0.6, 0.7071067811865475, 0.8, 0.7071067811865475]
        );
        // Integers give float32; p = 3.
        let x = Tensor::new(&[1i32, 1], &[2]).unwrap();
        let n = normalize(&x, -1, 3.0).unwrap();
        assert_eq!(n.dtype(), DType::F32);
        assert!((n.to_vec::<f32>().unwrap()[0] - 2f32.powf(-1.0 / 3.0)).abs() < 1e-6);
        assert!(normalize(&x, 1, 2.0).is_err());
        assert!(normalize(&x, -1, 0.0).is_err());
    }

    #[test]
    fn pad_sequences_like_keras() {
        let s = [vec![1i64], vec![2, 3], vec![4, 5, 6]];
        let x = pad_sequences(&s, PadArgs::default()).unwrap();
        assert_eq!((x.shape(), x.dtype()), (&[3, 3][..], DType::I32));
        assert_eq!(x.to_vec::<i32>().unwrap(), [0, 0, 1, 0, 2, 3, 4, 5, 6]);
        let args = PadArgs {
            maxlen: Some(2),
            padding: Side::Post,
            truncating: Side::Post,
            value: -1.0,
            ..Default::default()
        };
        assert_eq!(
            pad_sequences(&s, args).unwrap().to_vec::<i32>().unwrap(),
            [1, -1, 2, 3, 4, 5]
        );
        let x = pad_sequences(
            &s,
            PadArgs {
                maxlen: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(x.to_vec::<i32>().unwrap(), [0, 1, 2, 3, 5, 6]);
        let s4 = [vec![1i64], vec![2, 3], vec![4, 5, 6], vec![]];
        let x = pad_sequences(
            &s4,
            PadArgs {
                value: 0.5,
                dtype: DType::F32,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            x.to_vec::<f32>().unwrap(),
            [0.5, 0.5, 1., 0.5, 2., 3., 4., 5., 6., 0.5, 0.5, 0.5]
        );
        let x = pad_sequences(
            &[vec![300i64]],
            PadArgs {
                dtype: DType::U8,
                ..Default::default()
            },
        );
        assert!(x.unwrap_err().to_string().contains("does not fit"));
        let empty: [Vec<i64>; 0] = [];
        assert_eq!(pad_sequences(&empty, PadArgs::default()).unwrap().shape(), [0, 0]);
        assert_eq!("pre".parse::<Side>().unwrap(), Side::Pre);
    }

    #[test]
    fn split_dataset_like_keras() {
        let x = Tensor::new(&(0..10i64).collect::<Vec<_>>(), &[10]).unwrap();
        let y = Tensor::new(&(0..20).map(|v| v as f32).collect::<Vec<_>>(), &[10, 2]).unwrap();
        let args = SplitArgs {
            left_size: Some(0.8.into()),
            ..Default::default()
        };
        let (l, r) = split_dataset(&[x.clone(), y.clone()], args).unwrap();
        assert_eq!(l[0].to_vec::<i64>().unwrap(), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(r[0].to_vec::<i64>().unwrap(), [8, 9]);
        assert_eq!(r[1].to_vec::<f32>().unwrap(), [16., 17., 18., 19.]);
        // random.seed(42); random.shuffle(list(range(10))) -> [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]
        let args = SplitArgs {
            left_size: Some(3usize.into()),
            right_size: Some(0.2.into()),
            shuffle: true,
            seed: Some(42),
        };
        let (l, r) = split_dataset(std::slice::from_ref(&x), args).unwrap();
        assert_eq!(l[0].to_vec::<i64>().unwrap(), [7, 3, 2]);
        assert_eq!(r[0].to_vec::<i64>().unwrap(), [0, 1]);
        // Python's round is half to even: 0.25 * 10 = 2.5 -> 2.
        let (l, _) = split_dataset(
            std::slice::from_ref(&x),
            SplitArgs {
                right_size: Some(0.25.into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(l[0].shape(), [8]);
        for bad in [
            SplitArgs::default(),
            SplitArgs {
                left_size: Some(10usize.into()),
                ..Default::default()
            },
            SplitArgs {
                left_size: Some(1.0.into()),
                ..Default::default()
            },
            SplitArgs {
                left_size: Some(0.6.into()),
                right_size: Some(0.6.into()),
                ..Default::default()
            },
            SplitArgs {
                left_size: Some(6usize.into()),
                right_size: Some(5usize.into()),
                ..Default::default()
            },
            SplitArgs {
                left_size: Some(0.01.into()),
                ..Default::default()
            },
        ] {
            assert!(
                split_dataset(std::slice::from_ref(&x), bad.clone()).is_err(),
                "{bad:?}"
            );
        }
        let short = Tensor::new(&[1i64], &[1]).unwrap();
        let e = split_dataset(
            &[x, short],
            SplitArgs {
                left_size: Some(0.5.into()),
                ..Default::default()
            },
        );
        assert!(e.unwrap_err().to_string().contains("same length"));
    }
}
