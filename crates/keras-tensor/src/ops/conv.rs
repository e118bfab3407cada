//! Convolutions (1-D and 2-D, strides, padding, dilation, groups, depthwise) and transposed
//! convolutions, channels-last as in Keras, with gradients for input and kernel.
//!
//! Three primitives share one parameter struct ([`Conv2dParams`]): the forward convolution,
//! its input gradient (which is also the transposed convolution) and its kernel gradient.
//! Each one's backward is written with the other two, so every pass is differentiable.
//! [`Tensor::conv2d_bias_unary`] is the forward convolution with a layer's bias and
//! activation applied by the kernel to each output tile.

use crate::autodiff::grad_if;
use crate::Tensor;
use keras_backend::op::{Conv2dParams, UnaryOp};
use keras_backend::{DType, Error, Result};

/// How much zero padding a convolution or pooling window gets.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// No padding.
    #[default]
    Valid,
    /// Pad so that the output size is `ceil(input / stride)` (extra cell after).
    Same,
    /// Pad only before, by `dilation * (kernel - 1)` (1-D only: output never sees the future).
    Causal,
    /// `(before, after)` per spatial axis.
    Explicit(Vec<(usize, usize)>),
}

impl Padding {
    /// Parses Keras's names `"valid"`, `"same"`, `"causal"`.
    ///
    /// # Errors
    /// For any other name.
    pub fn parse(s: &str) -> Result<Padding> {
        match s {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            "causal" => Ok(Padding::Causal),
            _ => Err(Error::InvalidArgument {
                op: "padding",
                msg: format!("unknown padding {s:?} (expected \"valid\", \"same\" or \"causal\")"),
            }),
        }
    }

    /// `(before, after)` for one axis of size `input` with a window of `kernel` cells
    /// spread by `dilation`, moving by `stride` (TensorFlow's rule for `same`).
    pub(crate) fn resolve(
        &self,
        op: &'static str,
        axis: usize,
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
    ) -> Result<(usize, usize)> {
        let span = dilation * (kernel.max(1) - 1) + 1;
        Ok(match self {
            Padding::Valid => (0, 0),
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = ((out.max(1) - 1) * stride + span).saturating_sub(input);
                (total / 2, total - total / 2)
            }
            Padding::Causal => (span - 1, 0),
            Padding::Explicit(p) => *p.get(axis).ok_or_else(|| Error::InvalidArgument {
                op,
                msg: format!(
                    "explicit padding has {} entries, needs one per spatial axis",
                    p.len()
                ),
            })?,
        })
    }
}

/// Strides, padding, dilation and groups of a convolution. A one-element `strides` or
/// `dilation` applies to every spatial axis.
///
/// ```
/// use keras_tensor::{ConvArgs, Padding, Tensor, DType, Device};
/// let x = Tensor::ones(&[1, 5, 5, 2], DType::F32, &Device::Cpu)?;
/// let w = Tensor::ones(&[3, 3, 2, 4], DType::F32, &Device::Cpu)?;
/// let y = x.conv2d(&w, &ConvArgs::new().strides(2).padding(Padding::Same))?;
/// assert_eq!(y.shape(), &[1, 3, 3, 4]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvArgs {
    /// Step per spatial axis.
    pub strides: Vec<usize>,
    /// Zero padding.
    pub padding: Padding,
    /// Kernel dilation per spatial axis.
    pub dilation: Vec<usize>,
    /// Channel groups (`groups == in_channels` is a depthwise convolution).
    pub groups: usize,
}

impl Default for ConvArgs {
    fn default() -> Self {
        ConvArgs {
            strides: vec![1],
            padding: Padding::Valid,
            dilation: vec![1],
            groups: 1,
        }
    }
}

impl ConvArgs {
    /// Stride 1, valid padding, no dilation, one group.
    pub fn new() -> Self {
        Self::default()
    }
    /// The same stride on every spatial axis.
    pub fn strides(mut self, s: usize) -> Self {
        self.strides = vec![s];
        self
    }
    /// One stride per spatial axis.
    pub fn strides_per_axis(mut self, s: &[usize]) -> Self {
        self.strides = s.to_vec();
        self
    }
    /// The padding.
    pub fn padding(mut self, p: Padding) -> Self {
        self.padding = p;
        self
    }
    /// The same dilation on every spatial axis.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = vec![d];
        self
    }
    /// One dilation per spatial axis.
    pub fn dilation_per_axis(mut self, d: &[usize]) -> Self {
        self.dilation = d.to_vec();
        self
    }
    /// The number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// Value for spatial axis `i` of `n` from a one-or-n list.
    pub(crate) fn per_axis(op: &'static str, what: &str, v: &[usize], i: usize, n: usize) -> Result<usize> {
        let x = match v.len() {
            1 => v[0],
            l if l == n => v[i],
            l => {
                return Err(Error::InvalidArgument {
                    op,
                    msg: format!("{what} has {l} entries for {n} spatial axes"),
                })
            }
        };
        if x == 0 {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("{what} must be at least 1"),
            });
        }
        Ok(x)
    }
}

fn check_float(op: &'static str, t: &Tensor) -> Result<()> {
    if t.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType {
            op,
            dtype: t.dtype(),
            hint: "convolutions need float tensors",
        })
    }
}

impl Tensor {
    /// 2-D convolution: input `(N, H, W, C_in)`, kernel `(KH, KW, C_in / groups, C_out)`,
    /// output `(N, OH, OW, C_out)`.
    ///
    /// # Errors
    /// When ranks or channel counts disagree (the error names both shapes), arguments are
    /// invalid, or the dtype is not a float.
    pub fn conv2d(&self, kernel: &Tensor, args: &ConvArgs) -> Result<Tensor> {
        conv_nd(self, kernel, args, 2, conv_forward)
    }

    /// `op(self.conv2d(kernel, args) + bias)`: the convolution with a layer's tail, the bias
    /// `(C_out,)` and then the activation `op` (`None` for none), applied to each block of
    /// the output as the convolution writes it instead of in passes of their own. Equal to
    /// `conv2d` then [`Tensor::bias_unary`], value and gradients; activations other than
    /// `relu`, `sigmoid`, `tanh` and `exp`, and half precision, are computed that way.
    ///
    /// ```
    /// use keras_tensor::{op::UnaryOp, ConvArgs, Tensor};
    /// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2, 1])?;
    /// let k = Tensor::new(&[1.0f32, -1.0], &[1, 1, 1, 2])?; // two output channels
    /// let b = Tensor::new(&[0.5f32, 0.5], &[2])?;
    /// let y = x.conv2d_bias_unary(&k, &ConvArgs::new(), &b, Some(UnaryOp::Relu))?;
    /// assert_eq!(y.to_vec::<f32>()?, [1.5, 0.0, 2.5, 0.0, 3.5, 0.0, 4.5, 0.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::conv2d`], and when `bias` is not `(C_out,)`.
    pub fn conv2d_bias_unary(
        &self,
        kernel: &Tensor,
        args: &ConvArgs,
        bias: &Tensor,
        op: Option<UnaryOp>,
    ) -> Result<Tensor> {
        conv_nd(self, kernel, args, 2, |x, w, p| {
            conv_forward_bias_unary(x, w, p, bias, op)
        })
    }

    /// [`Tensor::conv2d_bias_unary`] for [`Tensor::conv1d`].
    ///
    /// # Errors
    /// As [`Tensor::conv2d_bias_unary`].
    pub fn conv1d_bias_unary(
        &self,
        kernel: &Tensor,
        args: &ConvArgs,
        bias: &Tensor,
        op: Option<UnaryOp>,
    ) -> Result<Tensor> {
        conv_nd(self, kernel, args, 1, |x, w, p| {
            conv_forward_bias_unary(x, w, p, bias, op)
        })
    }

    /// 1-D convolution: input `(N, W, C_in)`, kernel `(KW, C_in / groups, C_out)`, output
    /// `(N, OW, C_out)`. Supports `Padding::Causal`.
    ///
    /// # Errors
    /// As [`Tensor::conv2d`].
    pub fn conv1d(&self, kernel: &Tensor, args: &ConvArgs) -> Result<Tensor> {
        conv_nd(self, kernel, args, 1, conv_forward)
    }

    /// Transposed 2-D convolution (Keras `Conv2DTranspose`): input `(N, H, W, C_in)`,
    /// kernel `(KH, KW, C_out, C_in)`. `output_padding` (per axis, each below its stride)
    /// adds cells at the end; the output size follows Keras exactly.
    ///
    /// # Errors
    /// As [`Tensor::conv2d`]; `Causal` and `Explicit` padding and groups are not supported.
    pub fn conv_transpose2d(
        &self,
        kernel: &Tensor,
        args: &ConvArgs,
        output_padding: Option<&[usize]>,
    ) -> Result<Tensor> {
        let (x, w) = promote("conv_transpose2d", self, kernel)?;
        let p = transpose_params("conv_transpose2d", &x, &w, args, output_padding, 2)?;
        conv_input_grad(&x, &w, p)
    }

    /// Transposed 1-D convolution: input `(N, W, C_in)`, kernel `(KW, C_out, C_in)`.
    ///
    /// # Errors
    /// As [`Tensor::conv_transpose2d`].
    pub fn conv_transpose1d(
        &self,
        kernel: &Tensor,
        args: &ConvArgs,
        output_padding: Option<usize>,
    ) -> Result<Tensor> {
        let (x, w) = promote("conv_transpose1d", self, kernel)?;
        let op = output_padding.map(|o| [o]);
        let p = transpose_params("conv_transpose1d", &x, &w, args, op.as_ref().map(|o| &o[..]), 1)?;
        conv_input_grad(&x.expand_dims(1)?, &w.expand_dims(0)?, p)?.squeeze(&[1])
    }
}

fn promote(op: &'static str, x: &Tensor, w: &Tensor) -> Result<(Tensor, Tensor)> {
    check_float(op, x)?;
    check_float(op, w)?;
    x.same_device(op, &[w])?;
    let d = x.dtype().promote(w.dtype());
    Ok((x.cast(d)?, w.cast(d)?))
}

/// Validates shapes and resolves padding into [`Conv2dParams`] (1-D as H = 1).
fn conv_params(op: &'static str, x: &Tensor, w: &Tensor, args: &ConvArgs, nd: usize) -> Result<Conv2dParams> {
    let mismatch = || Error::ShapeMismatch {
        op,
        lhs: x.shape().to_vec(),
        rhs: w.shape().to_vec(),
    };
    if x.rank() != nd + 2 || w.rank() != nd + 2 {
        return Err(mismatch());
    }
    let g = args.groups;
    let (cin, cout) = (x.shape()[nd + 1], w.shape()[nd + 1]);
    if g == 0 || cin % g != 0 || cout % g != 0 || w.shape()[nd] * g != cin {
        return Err(Error::InvalidArgument {
            op,
            msg: format!(
                "input {:?} has {cin} channels and kernel {:?} expects {} per group with groups = {g} (output channels must divide by groups)",
                x.shape(),
                w.shape(),
                w.shape()[nd]
            ),
        });
    }
    if matches!(args.padding, Padding::Causal) && nd != 1 {
        return Err(Error::InvalidArgument {
            op,
            msg: "causal padding is for 1-D convolutions".into(),
        });
    }
    let mut p = Conv2dParams {
        batch: x.shape()[0],
        in_hw: [1, 1],
        in_channels: cin,
        out_channels: cout,
        kernel: [1, 1],
        stride: [1, 1],
        padding: [(0, 0), (0, 0)],
        dilation: [1, 1],
        groups: g,
    };
    for i in 0..nd {
        let d = 2 - nd + i; // 1-D convs use the W axis
        let s = ConvArgs::per_axis(op, "strides", &args.strides, i, nd)?;
        let dl = ConvArgs::per_axis(op, "dilation", &args.dilation, i, nd)?;
        p.in_hw[d] = x.shape()[1 + i];
        p.kernel[d] = w.shape()[i];
        p.stride[d] = s;
        p.dilation[d] = dl;
        p.padding[d] = args.padding.resolve(op, i, p.in_hw[d], p.kernel[d], s, dl)?;
    }
    if p.kernel.contains(&0) {
        return Err(Error::BadShape {
            op,
            shape: w.shape().to_vec(),
            msg: "kernel has a zero-size spatial axis".into(),
        });
    }
    Ok(p)
}

/// Parameters of the forward convolution whose input gradient is the requested transposed
/// convolution (Keras's output-size rule).
fn transpose_params(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    args: &ConvArgs,
    output_padding: Option<&[usize]>,
    nd: usize,
) -> Result<Conv2dParams> {
    if x.rank() != nd + 2 || w.rank() != nd + 2 || w.shape()[nd + 1] != x.shape()[nd + 1] {
        return Err(Error::ShapeMismatch {
            op,
            lhs: x.shape().to_vec(),
            rhs: w.shape().to_vec(),
        });
    }
    if args.groups != 1 || matches!(args.padding, Padding::Causal | Padding::Explicit(_)) {
        return Err(Error::InvalidArgument {
            op,
            msg: "transposed convolutions take padding \"valid\" or \"same\" and one group".into(),
        });
    }
    if let Some(o) = output_padding {
        if o.len() != nd {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("output_padding has {} entries for {nd} spatial axes", o.len()),
            });
        }
    }
    let mut p = Conv2dParams {
        batch: x.shape()[0],
        in_hw: [1, 1],
        in_channels: w.shape()[nd],
        out_channels: x.shape()[nd + 1],
        kernel: [1, 1],
        stride: [1, 1],
        padding: [(0, 0), (0, 0)],
        dilation: [1, 1],
        groups: 1,
    };
    for i in 0..nd {
        let d = 2 - nd + i;
        let s = ConvArgs::per_axis(op, "strides", &args.strides, i, nd)?;
        let dl = ConvArgs::per_axis(op, "dilation", &args.dilation, i, nd)?;
        let k = w.shape()[i];
        let input = x.shape()[1 + i];
        let span = dl * (k.max(1) - 1) + 1;
        let op_i = output_padding.map(|o| o[i]);
        if let Some(o) = op_i {
            if o >= s.max(dl) {
                return Err(Error::InvalidArgument {
                    op,
                    msg: format!("output_padding {o} must be smaller than the stride {s} or dilation {dl}"),
                });
            }
        }
        // Keras's rule: where the output window starts in the full scatter, and its size.
        let (start, out) = match args.padding {
            Padding::Same => {
                let pad = match op_i {
                    None => s + span - 2,
                    Some(o) => span + span % 2 - 2 + o,
                };
                let left = (pad / 2 + pad % 2).min(span - 1);
                (
                    span - 1 - left,
                    ((input.max(1) - 1) * s + 2 + pad).saturating_sub(span),
                )
            }
            _ => (
                0,
                (input.max(1) - 1) * s + span + op_i.unwrap_or(span.max(s) - span),
            ),
        };
        let out = if input == 0 { 0 } else { out };
        // Pad after so the forward convolution of `out` cells yields exactly `input` cells.
        let after = ((input.max(1) - 1) * s + span).saturating_sub(out + start);
        p.in_hw[d] = out;
        p.kernel[d] = k;
        p.stride[d] = s;
        p.dilation[d] = dl;
        p.padding[d] = (start, after);
        if input > 0 && p.out_hw()[d] != input {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("internal: no forward convolution matches input {input}, output {out}"),
            });
        }
    }
    Ok(p)
}

fn conv_shape(p: &Conv2dParams, out: bool) -> Vec<usize> {
    let [h, w] = if out { p.out_hw() } else { p.in_hw };
    vec![p.batch, h, w, if out { p.out_channels } else { p.in_channels }]
}

fn kernel_shape(p: &Conv2dParams) -> Vec<usize> {
    vec![p.kernel[0], p.kernel[1], p.in_channels / p.groups, p.out_channels]
}

macro_rules! float_kernel {
    ($f:path, $p:expr, $a:expr, $b:expr) => {{
        let (a, b) = ($a, $b);
        let (sa, sb) = (
            a.storage().cpu().contiguous(a.layout()),
            b.storage().cpu().contiguous(b.layout()),
        );
        match (&*sa, &*sb) {
            (keras_cpu::CpuStorage::F32(x), keras_cpu::CpuStorage::F32(y)) => {
                keras_cpu::CpuStorage::F32($f($p, x, y)?)
            }
            (keras_cpu::CpuStorage::F64(x), keras_cpu::CpuStorage::F64(y)) => {
                keras_cpu::CpuStorage::F64($f($p, x, y)?)
            }
            _ => {
                // Half precision: compute in f32, round once.
                let d = a.dtype();
                let (x, y) = (a.cast(DType::F32)?, b.cast(DType::F32)?);
                let (x, y) = (x.to_vec::<f32>()?, y.to_vec::<f32>()?);
                let r = keras_cpu::CpuStorage::F32($f($p, &x, &y)?);
                r.cast(&keras_backend::Layout::contiguous(&[r.len()]), d)
            }
        }
    }};
}

/// `y = conv(x, w)`.
fn conv_forward(x: &Tensor, w: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let out = float_kernel!(keras_cpu::conv::conv2d_forward, &p, x, w);
    let (xs, ws) = (x.clone(), w.clone());
    Ok(
        Tensor::from_cpu(out, &conv_shape(&p, true)).record("conv2d", &[x, w], move |g| {
            Ok(vec![
                grad_if(xs.is_tracked(), || conv_input_grad(g, &ws, p))?,
                grad_if(ws.is_tracked(), || conv_kernel_grad(&xs, g, p))?,
            ])
        }),
    )
}

/// A 1-D (`nd = 1`) or 2-D convolution of `x` with `kernel` by `forward` (the plain forward
/// pass or the one with the layer's tail): parameters checked, dtypes promoted, and 1-D
/// tensors run as images one row high.
fn conv_nd(
    x: &Tensor,
    kernel: &Tensor,
    args: &ConvArgs,
    nd: usize,
    forward: impl FnOnce(&Tensor, &Tensor, Conv2dParams) -> Result<Tensor>,
) -> Result<Tensor> {
    let op = if nd == 1 { "conv1d" } else { "conv2d" };
    let p = conv_params(op, x, kernel, args, nd)?;
    let (x, w) = promote(op, x, kernel)?;
    if nd == 1 {
        forward(&x.expand_dims(1)?, &w.expand_dims(0)?, p)?.squeeze(&[1])
    } else {
        forward(&x, &w, p)
    }
}

/// `y = op(conv(x, w) + bias)` as one op: the tail is applied to each tile of the output by
/// the convolution kernel. Backward: `(dz, dbias)` from `y` and `g` in one pass, then the
/// convolution's two gradients of `dz`.
fn conv_forward_bias_unary(
    x: &Tensor,
    w: &Tensor,
    p: Conv2dParams,
    bias: &Tensor,
    op: Option<UnaryOp>,
) -> Result<Tensor> {
    let c = p.out_channels;
    if bias.shape() != [c] {
        return Err(Error::ShapeMismatch {
            op: "conv2d_bias_unary (kernel, bias)",
            lhs: w.shape().to_vec(),
            rhs: bias.shape().to_vec(),
        });
    }
    // Other activations, half precision and a bias of another dtype: the two ops.
    let composed = || conv_forward(x, w, p)?.bias_unary(bias, op);
    if !keras_cpu::unary::grad_fuses(op) {
        return composed();
    }
    let (sx, sw, sb) = (
        x.storage().cpu().contiguous(x.layout()),
        w.storage().cpu().contiguous(w.layout()),
        bias.storage().cpu().contiguous(bias.layout()),
    );
    use keras_cpu::conv::conv2d_bias_unary;
    use keras_cpu::CpuStorage::{F32, F64};
    let out = match (&*sx, &*sw, &*sb) {
        (F32(x), F32(w), F32(b)) => F32(conv2d_bias_unary(&p, x, w, b, op)?),
        (F64(x), F64(w), F64(b)) => F64(conv2d_bias_unary(&p, x, w, b, op)?),
        _ => return composed(),
    };
    let out = Tensor::from_cpu(out, &conv_shape(&p, true));
    let y = out.detach();
    let (xs, ws) = (x.clone(), w.clone());
    Ok(out.record("conv2d_bias_unary", &[x, w, bias], move |g| {
        let g = g.cast(y.dtype())?;
        let gc = g.storage().cpu().contiguous(g.layout());
        let Some((dz, db)) = keras_cpu::unary::bias_unary_backward(op, y.storage().cpu(), &gc, c) else {
            return Err(Error::Autodiff(format!(
                "conv2d_bias_unary: gradient {:?} of output {:?}",
                g.shape(),
                y.shape()
            )));
        };
        let dz = Tensor::from_cpu(dz, y.shape());
        Ok(vec![
            grad_if(xs.is_tracked(), || conv_input_grad(&dz, &ws, p))?,
            grad_if(ws.is_tracked(), || conv_kernel_grad(&xs, &dz, p))?,
            Some(Tensor::from_cpu(db, &[c])),
        ])
    }))
}

/// `dx = conv_input_grad(dy, w)`: the adjoint of `conv_forward` in `x` (the transposed
/// convolution).
fn conv_input_grad(dy: &Tensor, w: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let out = float_kernel!(keras_cpu::conv::conv2d_backward_input, &p, dy, w);
    let (dys, ws) = (dy.clone(), w.clone());
    Ok(
        Tensor::from_cpu(out, &conv_shape(&p, false)).record("conv_transpose", &[dy, w], move |g| {
            // d<g, T(dy, w)> / d dy = conv(g, w);  / d w = kernel_grad(g as x, dy)
            Ok(vec![
                grad_if(dys.is_tracked(), || conv_forward(g, &ws, p))?,
                grad_if(ws.is_tracked(), || conv_kernel_grad(g, &dys, p))?,
            ])
        }),
    )
}

/// `dw = conv_kernel_grad(x, dy)`: the adjoint of `conv_forward` in `w`.
fn conv_kernel_grad(x: &Tensor, dy: &Tensor, p: Conv2dParams) -> Result<Tensor> {
    let out = float_kernel!(keras_cpu::conv::conv2d_backward_filter, &p, x, dy);
    let (xs, dys) = (x.clone(), dy.clone());
    Ok(
        Tensor::from_cpu(out, &kernel_shape(&p)).record("conv2d_kernel_grad", &[x, dy], move |g| {
            Ok(vec![
                grad_if(xs.is_tracked(), || conv_input_grad(&dys, g, p))?,
                grad_if(dys.is_tracked(), || conv_forward(&xs, g, p))?,
            ])
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::{ConvArgs, Padding};
    use crate::testing::{assert_close, check_grad, randn};

    #[test]
    fn conv2d_gradients_match_finite_differences() {
        let x = randn(&[2, 5, 4, 3], 1);
        check_grad("conv2d", &[&x, &randn(&[3, 2, 3, 2], 2)], |t| {
            t[0].conv2d(&t[1], &ConvArgs::new())
        });
        check_grad("conv2d_same_s2", &[&x, &randn(&[3, 3, 3, 2], 3)], |t| {
            t[0].conv2d(&t[1], &ConvArgs::new().strides(2).padding(Padding::Same))
        });
        check_grad("conv2d_dilated_explicit", &[&x, &randn(&[2, 2, 3, 2], 4)], |t| {
            t[0].conv2d(
                &t[1],
                &ConvArgs::new()
                    .dilation(2)
                    .padding(Padding::Explicit(vec![(1, 0), (0, 2)])),
            )
        });
        check_grad("conv2d_depthwise", &[&x, &randn(&[3, 3, 1, 6], 5)], |t| {
            t[0].conv2d(&t[1], &ConvArgs::new().groups(3).padding(Padding::Same))
        });
        check_grad("conv2d_1x1", &[&x, &randn(&[1, 1, 3, 4], 6)], |t| {
            t[0].conv2d(&t[1], &ConvArgs::new())
        });
        check_grad(
            "conv2d_permuted_input",
            &[&randn(&[2, 4, 5, 3], 7), &randn(&[2, 2, 3, 2], 8)],
            |t| t[0].permute(&[0, 2, 1, 3])?.conv2d(&t[1], &ConvArgs::new()),
        );
    }

    #[test]
    fn conv1d_and_transposed_gradients_match_finite_differences() {
        let x = randn(&[2, 7, 4], 1);
        check_grad("conv1d_causal", &[&x, &randn(&[3, 2, 4], 2)], |t| {
            t[0].conv1d(
                &t[1],
                &ConvArgs::new().groups(2).padding(Padding::Causal).dilation(2),
            )
        });
        let x2 = randn(&[1, 3, 4, 2], 3);
        check_grad("conv_transpose2d_same", &[&x2, &randn(&[3, 3, 5, 2], 4)], |t| {
            t[0].conv_transpose2d(&t[1], &ConvArgs::new().strides(2).padding(Padding::Same), None)
        });
        check_grad(
            "conv_transpose2d_valid_op",
            &[&x2, &randn(&[2, 3, 3, 2], 5)],
            |t| t[0].conv_transpose2d(&t[1], &ConvArgs::new().strides(2), Some(&[1, 1])),
        );
        check_grad("conv_transpose1d", &[&x, &randn(&[3, 2, 4], 6)], |t| {
            t[0].conv_transpose1d(&t[1], &ConvArgs::new().strides(3), None)
        });
    }

    /// The fused tail against `conv2d`/`conv1d` then `bias_unary`: the same values, gradients
    /// within rounding on shapes that take im2col, the implicit passes and 1x1 (several tiles
    /// and threads), and float64 finite differences on small ones.
    #[test]
    fn conv_bias_unary_matches_conv_then_bias_unary() {
        use keras_backend::op::UnaryOp::*;
        let ops = [None, Some(Relu), Some(Sigmoid), Some(Tanh), Some(Exp)];
        let same = ConvArgs::new().padding(Padding::Same);
        for (xs, ks) in [
            ([2, 20, 24, 32], [3, 3, 32, 16]), // implicit passes
            ([3, 17, 15, 3], [3, 3, 3, 8]),    // im2col
            ([2, 9, 11, 6], [1, 1, 6, 5]),     // 1x1
        ] {
            let (x, k, b) = (
                randn(&xs, 1),
                randn(&ks, 2).mul_scalar(0.2).unwrap(),
                randn(&ks[3..], 3),
            );
            let weights = randn(&[xs[0], xs[1], xs[2], ks[3]], 4);
            for op in ops {
                let run = |fuse: bool| {
                    let mut tape = crate::GradientTape::new();
                    let (x, k, b) = (tape.watch(&x), tape.watch(&k), tape.watch(&b));
                    let y = if fuse {
                        x.conv2d_bias_unary(&k, &same, &b, op).unwrap()
                    } else {
                        x.conv2d(&k, &same).unwrap().bias_unary(&b, op).unwrap()
                    };
                    let loss = y.mul(&weights).unwrap().sum_all().unwrap();
                    let g = tape.gradient(&loss, &[&x, &k, &b]).unwrap();
                    (y, g.into_iter().map(Option::unwrap).collect::<Vec<_>>())
                };
                let ((fy, fg), (py, pg)) = (run(true), run(false));
                let ctx = format!("{ks:?} {op:?}");
                assert_eq!(fy.to_vec::<f64>().unwrap(), py.to_vec::<f64>().unwrap(), "{ctx}");
                for (name, f, p) in [
                    ("dx", &fg[0], &pg[0]),
                    ("dk", &fg[1], &pg[1]),
                    ("db", &fg[2], &pg[2]),
                ] {
                    assert_close(&format!("{ctx} {name}"), f, p, 1e-12, 1e-12);
                }
                // float32 gives the same values as the composed ops, bit for bit.
                let f32s = |t: &crate::Tensor| t.cast(keras_backend::DType::F32).unwrap();
                let (x32, k32, b32) = (f32s(&x), f32s(&k), f32s(&b));
                let fused = x32.conv2d_bias_unary(&k32, &same, &b32, op).unwrap();
                let plain = x32.conv2d(&k32, &same).unwrap().bias_unary(&b32, op).unwrap();
                assert_eq!(
                    fused.to_vec::<f32>().unwrap(),
                    plain.to_vec::<f32>().unwrap(),
                    "{ctx} f32"
                );
            }
        }
        let x = randn(&[2, 5, 4, 3], 5);
        for op in [Some(Relu), Some(Tanh), Some(Sin)] {
            check_grad(
                &format!("conv2d_bias_unary {op:?}"),
                &[&x, &randn(&[3, 2, 3, 2], 6), &randn(&[2], 7)],
                |t| t[0].conv2d_bias_unary(&t[1], &ConvArgs::new().strides(2), &t[2], op),
            );
        }
        check_grad(
            "conv1d_bias_unary",
            &[&randn(&[2, 7, 4], 8), &randn(&[3, 4, 3], 9), &randn(&[3], 10)],
            |t| {
                t[0].conv1d_bias_unary(
                    &t[1],
                    &ConvArgs::new().padding(Padding::Causal),
                    &t[2],
                    Some(Sigmoid),
                )
            },
        );
        // Half precision, and a bias of another dtype, take the composed ops.
        let h = |t: &crate::Tensor| t.cast(keras_backend::DType::F16).unwrap();
        let (k, b) = (randn(&[3, 2, 3, 2], 6), randn(&[2], 7));
        for (x, k, b) in [(h(&x), h(&k), h(&b)), (x.clone(), k.clone(), h(&b))] {
            let fused = x.conv2d_bias_unary(&k, &ConvArgs::new(), &b, Some(Relu)).unwrap();
            let plain = x
                .conv2d(&k, &ConvArgs::new())
                .unwrap()
                .bias_unary(&b, Some(Relu))
                .unwrap();
            assert_eq!(fused.dtype(), plain.dtype());
            let f64s = |t: &crate::Tensor| {
                t.cast(keras_backend::DType::F64)
                    .unwrap()
                    .to_vec::<f64>()
                    .unwrap()
            };
            assert_eq!(f64s(&fused), f64s(&plain));
        }
        let e = x
            .conv2d_bias_unary(&randn(&[3, 2, 3, 2], 6), &ConvArgs::new(), &randn(&[3], 7), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[3, 2, 3, 2]") && e.contains("[3]"), "{e}");
    }

    #[test]
    fn channel_mismatch_names_both_shapes() {
        let e = randn(&[1, 4, 4, 3], 1)
            .conv2d(&randn(&[3, 3, 2, 4], 2), &ConvArgs::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("conv2d") && e.contains("[1, 4, 4, 3]") && e.contains("[3, 3, 2, 4]"),
            "{e}"
        );
    }
}
