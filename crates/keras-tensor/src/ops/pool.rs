//! Max and average pooling (1-D and 2-D, channels-last) with gradients.

use crate::ops::conv::{ConvArgs, Padding};
use crate::Tensor;
use keras_backend::op::{Pool2dParams, PoolKind};
use keras_backend::{DType, Error, Result};
use keras_cpu::{CpuStorage, Float, StorageElement};

use super::with_values;

/// Window size, strides (default: the window size, as in Keras) and padding of a pooling.
///
/// ```
/// use keras_tensor::{PoolArgs, Tensor, DType, Device};
/// let x = Tensor::ones(&[1, 4, 4, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(x.max_pool2d(&PoolArgs::new(2))?.shape(), &[1, 2, 2, 3]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolArgs {
    /// Window size per spatial axis (one entry: all axes).
    pub pool_size: Vec<usize>,
    /// Step per spatial axis; `None` means the window size.
    pub strides: Option<Vec<usize>>,
    /// `Valid` or `Same`.
    pub padding: Padding,
}

impl PoolArgs {
    /// A square window of `size`, stride `size`, valid padding.
    pub fn new(size: usize) -> Self {
        PoolArgs {
            pool_size: vec![size],
            strides: None,
            padding: Padding::Valid,
        }
    }
    /// One window size per axis.
    pub fn pool_size_per_axis(mut self, s: &[usize]) -> Self {
        self.pool_size = s.to_vec();
        self
    }
    /// The same stride on every axis.
    pub fn strides(mut self, s: usize) -> Self {
        self.strides = Some(vec![s]);
        self
    }
    /// One stride per axis.
    pub fn strides_per_axis(mut self, s: &[usize]) -> Self {
        self.strides = Some(s.to_vec());
        self
    }
    /// The padding (`Valid` or `Same`).
    pub fn padding(mut self, p: Padding) -> Self {
        self.padding = p;
        self
    }
}

fn pool_params(op: &'static str, x: &Tensor, args: &PoolArgs, nd: usize) -> Result<Pool2dParams> {
    if x.rank() != nd + 2 {
        return Err(Error::BadShape {
            op,
            shape: x.shape().to_vec(),
            msg: format!("expected a rank-{} channels-last input", nd + 2),
        });
    }
    if !x.dtype().is_float() {
        return Err(Error::UnsupportedDType {
            op,
            dtype: x.dtype(),
            hint: "pooling needs a float tensor",
        });
    }
    if !matches!(args.padding, Padding::Valid | Padding::Same) {
        return Err(Error::InvalidArgument {
            op,
            msg: "pooling padding must be \"valid\" or \"same\"".into(),
        });
    }
    let mut p = Pool2dParams {
        batch: x.shape()[0],
        in_hw: [1, 1],
        channels: x.shape()[nd + 1],
        kernel: [1, 1],
        stride: [1, 1],
        padding: [(0, 0), (0, 0)],
    };
    for i in 0..nd {
        let d = 2 - nd + i;
        let k = ConvArgs::per_axis(op, "pool_size", &args.pool_size, i, nd)?;
        let s = ConvArgs::per_axis(
            op,
            "strides",
            args.strides.as_deref().unwrap_or(&args.pool_size),
            i,
            nd,
        )?;
        p.in_hw[d] = x.shape()[1 + i];
        p.kernel[d] = k;
        p.stride[d] = s;
        p.padding[d] = args.padding.resolve(op, i, p.in_hw[d], k, s, 1)?;
    }
    Ok(p)
}

/// The forward pass, or with `back = Some((y, dy))` (the forward output and its gradient) the
/// backward pass. Half precision runs widened to `f32`.
fn run_pool(
    kind: PoolKind,
    p: Pool2dParams,
    x: &Tensor,
    back: Option<(&Tensor, &Tensor)>,
) -> Result<CpuStorage> {
    use keras_cpu::pool::{pool2d_backward, pool2d_forward};
    // Every operand as contiguous values of `T` (no copy when it already is).
    fn go<T: Float + StorageElement>(
        kind: PoolKind,
        p: Pool2dParams,
        x: &Tensor,
        back: Option<(&Tensor, &Tensor)>,
    ) -> Result<CpuStorage> {
        const OP: &str = "pool2d";
        let out = with_values(OP, x, |x: &[T]| match back {
            None => pool2d_forward(kind, &p, x),
            Some((y, dy)) => with_values(OP, y, |y: &[T]| {
                with_values(OP, dy, |dy: &[T]| pool2d_backward(kind, &p, x, y, dy))
            })??,
        })??;
        Ok(T::wrap(out))
    }
    match x.dtype() {
        DType::F64 => go::<f64>(kind, p, x, back),
        DType::F32 => go::<f32>(kind, p, x, back),
        dt => {
            let out = go::<f32>(kind, p, x, back)?;
            Ok(out.cast(&keras_backend::Layout::contiguous(&[out.len()]), dt))
        }
    }
}

fn pool(kind: PoolKind, x: &Tensor, p: Pool2dParams) -> Result<Tensor> {
    let [oh, ow] = p.out_hw();
    let out = Tensor::from_cpu(run_pool(kind, p, x, None)?, &[p.batch, oh, ow, p.channels]);
    let (xs, y) = (x.clone(), out.detach());
    let name = if kind == PoolKind::Max {
        "max_pool"
    } else {
        "avg_pool"
    };
    Ok(out.record(name, &[x], move |g| {
        let dx = run_pool(kind, p, &xs, Some((&y, g)))?;
        let dx = Tensor::from_cpu(dx, &[p.batch, p.in_hw[0], p.in_hw[1], p.channels]);
        Ok(vec![Some(dx.cast(g.dtype())?)])
    }))
}

impl Tensor {
    /// 2-D max pooling over `(N, H, W, C)`. Padded cells never win.
    ///
    /// # Errors
    /// For a wrong rank, a non-float dtype, or invalid arguments.
    pub fn max_pool2d(&self, args: &PoolArgs) -> Result<Tensor> {
        pool(PoolKind::Max, self, pool_params("max_pool2d", self, args, 2)?)
    }

    /// 2-D average pooling over `(N, H, W, C)`; with `Same` padding each window averages
    /// only its real cells (Keras's behaviour).
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d`].
    pub fn avg_pool2d(&self, args: &PoolArgs) -> Result<Tensor> {
        pool(PoolKind::Avg, self, pool_params("avg_pool2d", self, args, 2)?)
    }

    /// 1-D max pooling over `(N, W, C)`.
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d`].
    pub fn max_pool1d(&self, args: &PoolArgs) -> Result<Tensor> {
        let p = pool_params("max_pool1d", self, args, 1)?;
        pool(PoolKind::Max, &self.expand_dims(1)?, p)?.squeeze(&[1])
    }

    /// 1-D average pooling over `(N, W, C)`.
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d`].
    pub fn avg_pool1d(&self, args: &PoolArgs) -> Result<Tensor> {
        let p = pool_params("avg_pool1d", self, args, 1)?;
        pool(PoolKind::Avg, &self.expand_dims(1)?, p)?.squeeze(&[1])
    }
}

#[cfg(test)]
mod tests {
    use super::PoolArgs;
    use crate::ops::conv::Padding;
    use crate::testing::{check_grad, randn};

    #[test]
    fn gradients_match_finite_differences() {
        let x = randn(&[2, 5, 4, 3], 1);
        check_grad("max_pool2d", &[&x], |t| t[0].max_pool2d(&PoolArgs::new(2)));
        check_grad("max_pool2d_same_s1", &[&x], |t| {
            t[0].max_pool2d(&PoolArgs::new(3).strides(1).padding(Padding::Same))
        });
        check_grad("avg_pool2d", &[&x], |t| t[0].avg_pool2d(&PoolArgs::new(2)));
        check_grad("avg_pool2d_same", &[&x], |t| {
            t[0].avg_pool2d(&PoolArgs::new(3).strides(2).padding(Padding::Same))
        });
        check_grad("max_pool1d", &[&randn(&[2, 7, 3], 2)], |t| {
            t[0].max_pool1d(&PoolArgs::new(2).strides(1))
        });
        check_grad("avg_pool1d", &[&randn(&[2, 7, 3], 3)], |t| {
            t[0].avg_pool1d(&PoolArgs::new(3).padding(Padding::Same))
        });
        check_grad("max_pool2d_permuted", &[&x], |t| {
            t[0].permute(&[0, 2, 1, 3])?.max_pool2d(&PoolArgs::new(2))
        });
    }

    /// Half precision runs widened: values and gradients are the float32 ones, rounded, also
    /// when the upstream gradient has another dtype than the input.
    #[test]
    fn half_precision_pools_like_float32() {
        use crate::DType;
        let x32 = randn(&[2, 6, 5, 3], 4).cast(DType::F32).unwrap();
        let w = randn(&[2, 3, 3, 3], 5).cast(DType::F32).unwrap();
        let args = PoolArgs::new(2).padding(Padding::Same);
        let run = |x: &crate::Tensor| {
            let v = x.variable();
            let y = v.max_pool2d(&args).unwrap();
            let loss = y.cast(DType::F32).unwrap().mul(&w).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let dx = grads.get(&v).unwrap().cast(DType::F32).unwrap();
            (y.cast(DType::F32).unwrap(), dx)
        };
        for dtype in [DType::F16, DType::BF16] {
            // Inputs exact in the half type, so the float32 run sees the same numbers.
            let xh = x32.cast(dtype).unwrap();
            let (y, dx) = run(&xh);
            let (y32, dx32) = run(&xh.cast(DType::F32).unwrap());
            assert_eq!(
                y.to_vec::<f32>().unwrap(),
                y32.to_vec::<f32>().unwrap(),
                "{dtype:?}"
            );
            let rounded = dx32.cast(dtype).unwrap().cast(DType::F32).unwrap();
            assert_eq!(
                dx.to_vec::<f32>().unwrap(),
                rounded.to_vec::<f32>().unwrap(),
                "{dtype:?}"
            );
        }
    }
}
