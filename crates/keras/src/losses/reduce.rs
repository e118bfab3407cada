//! Keras's loss reductions and sample-weight broadcasting (`keras/src/losses/loss.py`).

use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// How a loss turns per-sample values into what [`super::Loss::call`] returns.
///
/// ```
/// use keras::losses::Reduction;
/// assert_eq!(Reduction::parse("sum")?, Reduction::Sum);
/// assert!(Reduction::parse("avg").is_err());
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Sum of the weighted values divided by their number (Keras's default).
    #[default]
    SumOverBatchSize,
    /// Sum of the weighted values.
    Sum,
    /// Same as [`Reduction::SumOverBatchSize`].
    Mean,
    /// Sum of the weighted values divided by the sum of the sample weights.
    MeanWithSampleWeight,
    /// The weighted values, unreduced (`"none"` or `None` in Keras).
    None,
}

impl Reduction {
    /// The Keras string.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reduction::SumOverBatchSize => "sum_over_batch_size",
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::MeanWithSampleWeight => "mean_with_sample_weight",
            Reduction::None => "none",
        }
    }

    /// Parses Keras's strings (`"sum_over_batch_size"`, `"sum"`, `"mean"`,
    /// `"mean_with_sample_weight"`, `"none"`).
    ///
    /// # Errors
    /// For any other string; the message lists the valid ones.
    pub fn parse(s: &str) -> Result<Reduction> {
        Ok(match s {
            "sum_over_batch_size" => Reduction::SumOverBatchSize,
            "sum" => Reduction::Sum,
            "mean" => Reduction::Mean,
            "mean_with_sample_weight" => Reduction::MeanWithSampleWeight,
            "none" => Reduction::None,
            _ => {
                return Err(Error::InvalidArgument {
                    op: "reduction",
                    msg: format!(
                        "invalid reduction {s:?}; expected one of sum_over_batch_size, sum, mean, \
                         mean_with_sample_weight, none"
                    ),
                })
            }
        })
    }

    /// The config value (`null` for [`Reduction::None`] is also accepted by
    /// [`Reduction::from_json`]).
    pub fn to_json(&self) -> Value {
        json!(self.as_str())
    }

    /// Reads a config value: a string or `null` (no reduction).
    ///
    /// # Errors
    /// For an unknown string or another JSON type.
    pub fn from_json(v: &Value) -> Result<Reduction> {
        match v {
            Value::Null => Ok(Reduction::None),
            Value::String(s) => Reduction::parse(s),
            _ => Err(Error::InvalidArgument {
                op: "reduction",
                msg: format!("invalid reduction {v}"),
            }),
        }
    }
}

/// Keras's `squeeze_or_expand_to_same_rank`: when the ranks differ by one and the longer
/// shape ends in 1, squeeze that axis (or, with `expand_rank_1` and a rank-1 other operand,
/// expand the other instead).
///
/// # Errors
/// Never for valid tensors.
pub fn squeeze_or_expand_to_same_rank(
    x1: &Tensor,
    x2: &Tensor,
    expand_rank_1: bool,
) -> Result<(Tensor, Tensor)> {
    let (r1, r2) = (x1.rank(), x2.rank());
    let (mut a, mut b) = (x1.clone(), x2.clone());
    if r1 == r2 {
        return Ok((a, b));
    }
    if r1 == r2 + 1 && x1.shape().last() == Some(&1) {
        if r2 == 1 && expand_rank_1 {
            b = b.expand_dims(-1)?;
        } else {
            a = a.squeeze(&[-1])?;
        }
    }
    if r2 == r1 + 1 && x2.shape().last() == Some(&1) {
        if r1 == 1 && expand_rank_1 {
            a = a.expand_dims(-1)?;
        } else {
            b = b.squeeze(&[-1])?;
        }
    }
    Ok((a, b))
}

/// Keras's `reduce_weighted_values`: multiplies `values` by `sample_weight` (cast to the
/// values' dtype, squeezed/expanded to the same rank, broadcast) and reduces.
///
/// ```
/// use keras::losses::{reduce_weighted_values, Reduction};
/// use keras_tensor::Tensor;
/// let v = Tensor::new(&[1.0f32, 2.0, 3.0], &[3])?;
/// let w = Tensor::new(&[1.0f32, 0.0, 2.0], &[3])?;
/// let r = reduce_weighted_values(&v, Some(&w), Reduction::SumOverBatchSize)?;
/// assert!((r.item()? - 7.0 / 3.0).abs() < 1e-6);
/// let r = reduce_weighted_values(&v, Some(&w), Reduction::MeanWithSampleWeight)?;
/// assert!((r.item()? - 7.0 / 3.0).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When the weights do not broadcast against the values.
pub fn reduce_weighted_values(
    values: &Tensor,
    sample_weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    let mut values = values.clone();
    let mut weight = None;
    if let Some(sw) = sample_weight {
        let sw = sw.cast(values.dtype())?;
        let (v, w) = squeeze_or_expand_to_same_rank(&values, &sw, true)?;
        values = v.mul(&w)?;
        weight = Some(w);
    }
    if reduction == Reduction::None || values.rank() == 0 || values.shape() == [0] {
        return Ok(values);
    }
    let loss = values.sum(&[], false)?;
    if reduction == Reduction::Sum {
        return Ok(loss);
    }
    let divisor = match (&weight, reduction) {
        (Some(w), Reduction::MeanWithSampleWeight) => w.sum(&[], false)?,
        _ => loss.scalar_like(values.numel() as f64)?,
    };
    // divide_no_nan: 0 where the divisor is 0.
    let zero = divisor.eq(&divisor.scalar_like(0.0)?)?;
    let safe = Tensor::where_cond(&zero, &divisor.scalar_like(1.0)?, &divisor)?;
    Tensor::where_cond(&zero, &loss.scalar_like(0.0)?, &loss.div(&safe)?)
}

/// Keras's `apply_mask`: folds an output mask into the sample weights. For the mean
/// reductions (`sum_over_batch_size`, `mean`) a valid entry weighs `total / valid` and a
/// masked one 0, so that the mean runs over the valid entries only; otherwise the mask is the
/// weight (1 or 0). With both, they multiply (squeezed or expanded to the same rank).
///
/// ```
/// use keras::losses::{apply_mask, reduce_weighted_values, Reduction};
/// use keras_tensor::Tensor;
/// let v = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
/// let m = Tensor::new(&[true, false, true, true], &[2, 2])?;
/// let w = apply_mask(None, Some(&m), v.dtype(), Reduction::SumOverBatchSize)?;
/// let r = reduce_weighted_values(&v, w.as_ref(), Reduction::SumOverBatchSize)?;
/// assert!((r.item()? - 8.0 / 3.0).abs() < 1e-6); // the mean of 1, 3 and 4
/// # Ok::<(), keras_tensor::Error>(())
/// ```
///
/// # Errors
/// When the mask and the weights do not broadcast.
pub fn apply_mask(
    sample_weight: Option<&Tensor>,
    mask: Option<&Tensor>,
    dtype: keras_tensor::DType,
    reduction: Reduction,
) -> Result<Option<Tensor>> {
    let Some(mask) = mask else {
        return Ok(sample_weight.cloned());
    };
    let float_mask = mask.cast(dtype)?;
    let float_mask = if matches!(reduction, Reduction::SumOverBatchSize | Reduction::Mean) {
        let valid = float_mask.sum(&[], false)?;
        let total = valid.scalar_like(mask.numel() as f64)?;
        // divide_no_nan: a fully masked batch weighs nothing.
        let zero = valid.eq(&valid.scalar_like(0.0)?)?;
        let safe = Tensor::where_cond(&zero, &valid.scalar_like(1.0)?, &valid)?;
        let weight = Tensor::where_cond(&zero, &valid.scalar_like(0.0)?, &total.div(&safe)?)?;
        float_mask.mul(&weight)?
    } else {
        float_mask
    };
    Ok(Some(match sample_weight {
        Some(sw) => {
            let (m, w) = squeeze_or_expand_to_same_rank(&float_mask, &sw.cast(dtype)?, true)?;
            w.mul(&m)?
        }
        None => float_mask,
    }))
}
