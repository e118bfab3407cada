//! Forward values of every tensor op against the committed reference files
//! `tests/data/*.safetensors` (made by `scripts/gen_reference.py` from NumPy/JAX/Keras; the
//! format and each op's args are in `tests/data/README.md`).
//!
//! One test per file. Each runs every case, collects all failures (an unknown op, a missing
//! arg, an error, a wrong shape, dtype or value) and panics at the end listing them.

use keras_tensor::{ConvArgs, DType, Device, Padding, PoolArgs, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

// ----- helpers ---------------------------------------------------------------------------

/// Why a case failed.
#[derive(Debug)]
struct Fail(String);

impl From<keras_tensor::Error> for Fail {
    fn from(e: keras_tensor::Error) -> Self {
        Fail(format!("error: {e}"))
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail(s)
    }
}

type R<T> = Result<T, Fail>;

fn fail<T>(msg: impl Into<String>) -> R<T> {
    Err(Fail(msg.into()))
}

/// Decodes little-endian elements of `N` bytes each.
fn le<T, const N: usize>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunk of N bytes")))
        .collect()
}

/// A CPU tensor holding a safetensors view's data, in its dtype.
fn tensor_from_view(v: &TensorView) -> R<Tensor> {
    let (b, shape, cpu) = (v.data(), v.shape(), &Device::Cpu);
    let numel: usize = shape.iter().product();
    let size = v.dtype().bitsize() / 8;
    if b.len() != numel * size {
        return fail(format!(
            "{} bytes for shape {shape:?} of {:?}",
            b.len(),
            v.dtype()
        ));
    }
    Ok(match v.dtype() {
        Dtype::F32 => Tensor::from_vec(le(b, f32::from_le_bytes), shape, cpu)?,
        Dtype::F64 => Tensor::from_vec(le(b, f64::from_le_bytes), shape, cpu)?,
        Dtype::I32 => Tensor::from_vec(le(b, i32::from_le_bytes), shape, cpu)?,
        Dtype::I64 => Tensor::from_vec(le(b, i64::from_le_bytes), shape, cpu)?,
        Dtype::U8 => Tensor::from_vec(b.to_vec(), shape, cpu)?,
        Dtype::F16 => Tensor::from_vec(le(b, |c| half::f16::from_bits(u16::from_le_bytes(c))), shape, cpu)?,
        Dtype::BF16 => Tensor::from_vec(
            le(b, |c| half::bf16::from_bits(u16::from_le_bytes(c))),
            shape,
            cpu,
        )?,
        Dtype::BOOL => {
            if let Some(x) = b.iter().find(|&&x| x > 1) {
                return fail(format!("bool byte {x}"));
            }
            Tensor::from_vec(b.iter().map(|&x| x == 1).collect::<Vec<bool>>(), shape, cpu)?
        }
        d => return fail(format!("unsupported safetensors dtype {d:?}")),
    })
}

/// How closely an output must match.
#[derive(Clone, Copy, Debug)]
enum Tol {
    /// Equal values (NaN equals NaN; -0 equals +0).
    Exact,
    /// `|got - expected| <= atol + rtol * |expected|`.
    Close { rtol: f64, atol: f64 },
}

/// Ops whose result is exactly determined (selection, movement, comparison, rounding, casts).
const EXACT_OPS: &[&str] = &[
    "neg",
    "abs",
    "sign",
    "floor",
    "ceil",
    "round",
    "relu",
    "logical_not",
    "maximum",
    "minimum",
    "max",
    "min",
    "argmax",
    "argmin",
    "max_pool2d",
    "max_pool1d",
    "index_select",
    "gather",
    "one_hot",
    "reshape",
    "permute",
    "broadcast_to",
    "slice",
    "concat",
    "stack",
    "split",
    "pad",
    "flip",
    "squeeze",
    "expand_dims",
    "where",
    "cast",
    "sort",
    "top_k",
];

/// Ops with long accumulations or several rounding steps (composites are Keras's own f32).
const LOOSE_OPS: &[&str] = &[
    "sum",
    "mean",
    "logsumexp",
    "matmul",
    "conv2d",
    "conv1d",
    "conv_transpose2d",
    "conv_transpose1d",
    "avg_pool2d",
    "avg_pool1d",
    "cumsum",
    "softmax",
    "log_softmax",
    "gelu",
    "softplus",
    "softsign",
    "silu",
    "elu",
    "selu",
    "leaky_relu",
    "relu6",
    "hard_sigmoid",
    "hard_silu",
    "log_sigmoid",
    "layer_norm",
    "batch_norm_train",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "moments",
];

fn tolerance(op: &str, dtype: DType) -> Tol {
    if !dtype.is_float() || EXACT_OPS.contains(&op) {
        Tol::Exact
    } else if dtype == DType::F64 {
        Tol::Close {
            rtol: 1e-10,
            atol: 1e-12,
        }
    } else if LOOSE_OPS.contains(&op) {
        Tol::Close {
            rtol: 1e-4,
            atol: 1e-5,
        }
    } else {
        Tol::Close {
            rtol: 1e-5,
            atol: 1e-6,
        }
    }
}

/// Checks shape, dtype and values of `got` against `want`.
fn compare(got: &Tensor, want: &Tensor, tol: Tol) -> R<()> {
    if got.shape() != want.shape() {
        return fail(format!("shape {:?}, expected {:?}", got.shape(), want.shape()));
    }
    if got.dtype() != want.dtype() {
        return fail(format!("dtype {}, expected {}", got.dtype(), want.dtype()));
    }
    let bad: Vec<(usize, String, String, f64)> = if want.dtype() == DType::I64 {
        let (g, w) = (got.to_vec::<i64>()?, want.to_vec::<i64>()?);
        let it = g.iter().zip(&w).enumerate().filter(|(_, (a, b))| a != b);
        it.map(|(i, (a, b))| (i, a.to_string(), b.to_string(), (*a as f64 - *b as f64).abs()))
            .collect()
    } else {
        let (g, w) = (got.to_vec_f64()?, want.to_vec_f64()?);
        let ok = |a: f64, b: f64| {
            (a.is_nan() && b.is_nan())
                || a == b
                || matches!(tol, Tol::Close { rtol, atol } if (a - b).abs() <= atol + rtol * b.abs())
        };
        let it = g.iter().zip(&w).enumerate().filter(|(_, (&a, &b))| !ok(a, b));
        it.map(|(i, (a, b))| (i, format!("{a:e}"), format!("{b:e}"), (a - b).abs()))
            .collect()
    };
    if bad.is_empty() {
        return Ok(());
    }
    let max_err = bad.iter().map(|b| b.3).fold(0.0, f64::max);
    let first: Vec<String> = bad
        .iter()
        .take(4)
        .map(|(i, g, w, _)| format!("[{i}] got {g} expected {w}"))
        .collect();
    fail(format!(
        "{} of {} elements differ (max |err| {max_err:e}, {tol:?}): {}",
        bad.len(),
        want.numel(),
        first.join(", ")
    ))
}

/// Typed access to a case's `args`.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn get(&self, k: &str) -> R<&Value> {
        self.0.get(k).ok_or_else(|| Fail(format!("missing arg {k:?}")))
    }
    fn bad<T>(&self, k: &str, want: &str) -> R<T> {
        fail(format!("arg {k:?} = {} is not {want}", self.0[k]))
    }
    fn int(&self, k: &str) -> R<i64> {
        match self.get(k)?.as_i64() {
            Some(v) => Ok(v),
            None => self.bad(k, "an integer"),
        }
    }
    fn isize(&self, k: &str) -> R<isize> {
        Ok(self.int(k)? as isize)
    }
    fn usize(&self, k: &str) -> R<usize> {
        usize::try_from(self.int(k)?).or_else(|_| self.bad(k, "non-negative"))
    }
    fn f64(&self, k: &str) -> R<f64> {
        match self.get(k)?.as_f64() {
            Some(v) => Ok(v),
            None => self.bad(k, "a number"),
        }
    }
    fn bool(&self, k: &str) -> R<bool> {
        match self.get(k)?.as_bool() {
            Some(v) => Ok(v),
            None => self.bad(k, "a bool"),
        }
    }
    fn str(&self, k: &str) -> R<&str> {
        match self.get(k)?.as_str() {
            Some(v) => Ok(v),
            None => self.bad(k, "a string"),
        }
    }
    /// A list of integers, a single integer as a one-element list, or `null` as `None`.
    fn opt_ints(&self, k: &str) -> R<Option<Vec<i64>>> {
        match self.get(k)? {
            Value::Null => Ok(None),
            Value::Number(_) => Ok(Some(vec![self.int(k)?])),
            Value::Array(a) => match a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>() {
                Some(v) => Ok(Some(v)),
                None => self.bad(k, "a list of integers"),
            },
            _ => self.bad(k, "an integer list"),
        }
    }
    fn ints(&self, k: &str) -> R<Vec<i64>> {
        self.opt_ints(k)?.map_or_else(|| self.bad(k, "a list"), Ok)
    }
    fn isizes(&self, k: &str) -> R<Vec<isize>> {
        Ok(self.ints(k)?.into_iter().map(|v| v as isize).collect())
    }
    fn opt_usizes(&self, k: &str) -> R<Option<Vec<usize>>> {
        match self.opt_ints(k)? {
            None => Ok(None),
            Some(v) => match v.into_iter().map(usize::try_from).collect::<Result<Vec<_>, _>>() {
                Ok(v) => Ok(Some(v)),
                Err(_) => self.bad(k, "non-negative"),
            },
        }
    }
    fn usizes(&self, k: &str) -> R<Vec<usize>> {
        self.opt_usizes(k)?.map_or_else(|| self.bad(k, "a list"), Ok)
    }
    /// `[[before, after], ..]`.
    fn pairs(&self, k: &str) -> R<Vec<(usize, usize)>> {
        let pair = |p: &Value| match p
            .as_array()
            .map(|a| a.iter().map(Value::as_u64).collect::<Vec<_>>())
            .as_deref()
        {
            Some([Some(a), Some(b)]) => Some((*a as usize, *b as usize)),
            _ => None,
        };
        match self
            .get(k)?
            .as_array()
            .and_then(|a| a.iter().map(pair).collect::<Option<Vec<_>>>())
        {
            Some(v) => Ok(v),
            None => self.bad(k, "a list of [before, after] pairs"),
        }
    }
    /// Reduction axes: `null` means all axes, which the API spells as an empty slice.
    fn reduce_axes(&self) -> R<Vec<isize>> {
        match self.opt_ints("axes")? {
            None => Ok(vec![]),
            Some(v) if v.is_empty() => self.bad("axes", "expressible (an empty list reduces nothing)"),
            Some(v) => Ok(v.into_iter().map(|a| a as isize).collect()),
        }
    }
    /// Conv padding: a name, `[l, r]` (1-D) or `[[t, b], [l, r]]` (2-D).
    fn conv_padding(&self) -> R<Padding> {
        let v = self.get("padding")?;
        if let Some(s) = v.as_str() {
            return Ok(Padding::parse(s)?);
        }
        if v.as_array().is_some_and(|a| a.iter().all(Value::is_array)) {
            return Ok(Padding::Explicit(self.pairs("padding")?));
        }
        match self.usizes("padding")?.as_slice() {
            [l, r] => Ok(Padding::Explicit(vec![(*l, *r)])),
            _ => self.bad("padding", "a padding"),
        }
    }
    fn conv_args(&self) -> R<ConvArgs> {
        Ok(ConvArgs::new()
            .strides_per_axis(&self.usizes("strides")?)
            .padding(self.conv_padding()?)
            .dilation_per_axis(&self.usizes("dilation")?))
    }
    fn pool_args(&self) -> R<PoolArgs> {
        let size = self.usizes("pool_size")?;
        let Some(&first) = size.first() else {
            return self.bad("pool_size", "non-empty");
        };
        Ok(PoolArgs::new(first)
            .pool_size_per_axis(&size)
            .strides_per_axis(&self.usizes("strides")?)
            .padding(Padding::parse(self.str("padding")?)?))
    }
}

/// Exactly `N` inputs.
fn ins<const N: usize>(x: &[Tensor]) -> R<[&Tensor; N]> {
    x.iter()
        .collect::<Vec<_>>()
        .try_into()
        .or_else(|_| fail(format!("{} inputs, expected {N}", x.len())))
}

type Unary = fn(&Tensor) -> keras_tensor::Result<Tensor>;
type Binary = fn(&Tensor, &Tensor) -> keras_tensor::Result<Tensor>;

const UNARY: &[(&str, Unary)] = &[
    ("neg", Tensor::neg),
    ("abs", Tensor::abs),
    ("exp", Tensor::exp),
    ("log", Tensor::log),
    ("log1p", Tensor::log1p),
    ("expm1", Tensor::expm1),
    ("sqrt", Tensor::sqrt),
    ("rsqrt", Tensor::rsqrt),
    ("square", Tensor::square),
    ("reciprocal", Tensor::reciprocal),
    ("sin", Tensor::sin),
    ("cos", Tensor::cos),
    ("tanh", Tensor::tanh),
    ("sigmoid", Tensor::sigmoid),
    ("relu", Tensor::relu),
    ("erf", Tensor::erf),
    ("sign", Tensor::sign),
    ("floor", Tensor::floor),
    ("ceil", Tensor::ceil),
    ("round", Tensor::round),
    ("logical_not", Tensor::logical_not),
    ("softplus", Tensor::softplus),
    ("softsign", Tensor::softsign),
    ("silu", Tensor::silu),
    ("selu", Tensor::selu),
    ("relu6", Tensor::relu6),
    ("hard_sigmoid", Tensor::hard_sigmoid),
    ("hard_silu", Tensor::hard_silu),
    ("log_sigmoid", Tensor::log_sigmoid),
];

const BINARY: &[(&str, Binary)] = &[
    ("add", Tensor::add),
    ("subtract", Tensor::sub),
    ("multiply", Tensor::mul),
    ("divide", Tensor::div),
    ("power", Tensor::pow),
    ("maximum", Tensor::maximum),
    ("minimum", Tensor::minimum),
    ("equal", Tensor::eq),
    ("not_equal", Tensor::ne),
    ("less", Tensor::lt),
    ("less_equal", Tensor::le),
    ("greater", Tensor::gt),
    ("greater_equal", Tensor::ge),
    ("logical_and", Tensor::logical_and),
    ("logical_or", Tensor::logical_or),
    ("matmul", Tensor::matmul),
];

/// Runs `op` on the inputs; an op this runner does not know is an error.
fn run_op(op: &str, a: &Args, x: &[Tensor]) -> R<Vec<Tensor>> {
    if let Some((_, f)) = UNARY.iter().find(|(n, _)| *n == op) {
        let [x0] = ins(x)?;
        return Ok(vec![f(x0)?]);
    }
    if let Some((_, f)) = BINARY.iter().find(|(n, _)| *n == op) {
        let [x0, x1] = ins(x)?;
        return Ok(vec![f(x0, x1)?]);
    }
    let one = |t: Tensor| Ok(vec![t]);
    match op {
        // reduce
        "sum" | "mean" | "max" | "min" | "logsumexp" => {
            let ([x0], axes, kd) = (ins(x)?, a.reduce_axes()?, a.bool("keepdims")?);
            one(match op {
                "sum" => x0.sum(&axes, kd)?,
                "mean" => x0.mean(&axes, kd)?,
                "max" => x0.max(&axes, kd)?,
                "min" => x0.min(&axes, kd)?,
                _ => x0.logsumexp(&axes, kd)?,
            })
        }
        "argmax" => one(ins::<1>(x)?[0].argmax(a.isize("axis")?, a.bool("keepdims")?)?),
        "argmin" => one(ins::<1>(x)?[0].argmin(a.isize("axis")?, a.bool("keepdims")?)?),
        // conv
        "conv2d" | "conv1d" => {
            let [x0, w] = ins(x)?;
            let args = a.conv_args()?.groups(a.usize("groups")?);
            one(if op == "conv2d" {
                x0.conv2d(w, &args)?
            } else {
                x0.conv1d(w, &args)?
            })
        }
        "conv_transpose2d" => {
            let [x0, w] = ins(x)?;
            one(x0.conv_transpose2d(w, &a.conv_args()?, a.opt_usizes("output_padding")?.as_deref())?)
        }
        "conv_transpose1d" => {
            let [x0, w] = ins(x)?;
            let out_pad = match a.opt_usizes("output_padding")?.as_deref() {
                None => None,
                Some(&[p]) => Some(p),
                Some(_) => return a.bad("output_padding", "one integer"),
            };
            one(x0.conv_transpose1d(w, &a.conv_args()?, out_pad)?)
        }
        // pool
        "max_pool2d" => one(ins::<1>(x)?[0].max_pool2d(&a.pool_args()?)?),
        "avg_pool2d" => one(ins::<1>(x)?[0].avg_pool2d(&a.pool_args()?)?),
        "max_pool1d" => one(ins::<1>(x)?[0].max_pool1d(&a.pool_args()?)?),
        "avg_pool1d" => one(ins::<1>(x)?[0].avg_pool1d(&a.pool_args()?)?),
        // index
        "index_select" => {
            let [x0, idx] = ins(x)?;
            one(x0.index_select(idx, a.isize("axis")?)?)
        }
        "gather" => {
            let [x0, idx] = ins(x)?;
            one(x0.gather(idx, a.isize("axis")?)?)
        }
        "scatter_add" => {
            let [x0, idx, upd] = ins(x)?;
            one(x0.scatter_add(idx, upd, a.isize("axis")?)?)
        }
        "one_hot" => one(ins::<1>(x)?[0].one_hot(a.usize("depth")?)?),
        // movement
        "reshape" => one(ins::<1>(x)?[0].reshape(&a.isizes("shape")?)?),
        "permute" => one(ins::<1>(x)?[0].permute(&a.usizes("axes")?)?),
        "broadcast_to" => one(ins::<1>(x)?[0].broadcast_to(&a.usizes("shape")?)?),
        "slice" => {
            let (start, stop, step) = (a.usizes("start")?, a.usizes("stop")?, a.usizes("step")?);
            if start.len() != stop.len() || start.len() != step.len() {
                return fail("slice: start, stop and step differ in length");
            }
            let ranges: Vec<_> = (0..start.len()).map(|i| (start[i], stop[i], step[i])).collect();
            one(ins::<1>(x)?[0].slice(&ranges)?)
        }
        "concat" | "stack" => {
            let refs: Vec<&Tensor> = x.iter().collect();
            let axis = a.isize("axis")?;
            one(if op == "concat" {
                Tensor::concat(&refs, axis)?
            } else {
                Tensor::stack(&refs, axis)?
            })
        }
        "split" => Ok(ins::<1>(x)?[0].split(&a.usizes("sizes")?, a.isize("axis")?)?),
        "pad" => one(ins::<1>(x)?[0].pad(&a.pairs("pad_width")?, a.f64("constant")?)?),
        "flip" => one(ins::<1>(x)?[0].flip(&a.isizes("axes")?)?),
        "squeeze" => one(ins::<1>(x)?[0].squeeze(&a.isizes("axes")?)?),
        "expand_dims" => one(ins::<1>(x)?[0].expand_dims(a.isize("axis")?)?),
        // misc
        "where" => {
            let [c, t, f] = ins(x)?;
            one(Tensor::where_cond(c, t, f)?)
        }
        "cast" => one(ins::<1>(x)?[0].cast(DType::parse(a.str("dtype")?)?)?),
        "cumsum" => one(ins::<1>(x)?[0].cumsum(a.isize("axis")?)?),
        "sort" => {
            let (v, i) = ins::<1>(x)?[0].sort(a.isize("axis")?, a.bool("descending")?)?;
            Ok(vec![v, i])
        }
        "top_k" => {
            let (v, i) = ins::<1>(x)?[0].top_k(a.usize("k")?)?;
            Ok(vec![v, i])
        }
        // composite
        "softmax" => one(ins::<1>(x)?[0].softmax(a.isize("axis")?)?),
        "log_softmax" => one(ins::<1>(x)?[0].log_softmax(a.isize("axis")?)?),
        "gelu" => one(ins::<1>(x)?[0].gelu(a.bool("approximate")?)?),
        "elu" => one(ins::<1>(x)?[0].elu(a.f64("alpha")?)?),
        "leaky_relu" => one(ins::<1>(x)?[0].leaky_relu(a.f64("negative_slope")?)?),
        "layer_norm" => {
            let [x0, g, b] = ins(x)?;
            one(x0.layer_norm(&a.isizes("axes")?, Some(g), Some(b), a.f64("epsilon")?)?)
        }
        "batch_norm_train" => {
            let [x0, g, b] = ins(x)?;
            let (y, m, v) = x0.batch_norm_train(Some(g), Some(b), a.f64("epsilon")?)?;
            Ok(vec![y, m, v])
        }
        "moments" => {
            let (m, v) = ins::<1>(x)?[0].moments(&a.isizes("axes")?, a.bool("keepdims")?)?;
            Ok(vec![m, v])
        }
        "categorical_crossentropy" | "sparse_categorical_crossentropy" | "binary_crossentropy" => {
            let ([t, p], logits) = (ins(x)?, a.bool("from_logits")?);
            one(match op {
                "categorical_crossentropy" => keras_tensor::categorical_crossentropy(t, p, logits, -1)?,
                "sparse_categorical_crossentropy" => {
                    keras_tensor::sparse_categorical_crossentropy(t, p, logits)?
                }
                _ => keras_tensor::binary_crossentropy(t, p, logits)?,
            })
        }
        _ => fail("unknown op (the runner has no mapping for it)"),
    }
}

/// The tensors `<case>/<stem>0`, `<stem>1`, … (or the single `<case>/<stem>` when allowed).
fn numbered(
    st: &SafeTensors,
    used: &mut BTreeSet<String>,
    case: &str,
    stem: &str,
    single: bool,
) -> R<Vec<Tensor>> {
    let mut take = |name: String| -> R<Option<Tensor>> {
        let Ok(view) = st.tensor(&name) else {
            return Ok(None);
        };
        let t = tensor_from_view(&view).map_err(|e| Fail(format!("{name}: {}", e.0)))?;
        used.insert(name);
        Ok(Some(t))
    };
    if single {
        if let Some(t) = take(format!("{case}/{stem}"))? {
            return Ok(vec![t]);
        }
    }
    let mut v = vec![];
    while let Some(t) = take(format!("{case}/{stem}{}", v.len()))? {
        v.push(t);
    }
    Ok(v)
}

/// Loads, runs and compares one case; returns its op name (or "?") and the outcome.
fn check_case(st: &SafeTensors, used: &mut BTreeSet<String>, case: &str, meta: &str) -> (String, R<()>) {
    let parsed: Result<Value, _> = serde_json::from_str(meta);
    let Ok(Value::Object(m)) = parsed else {
        return ("?".into(), fail(format!("metadata is not a JSON object: {meta}")));
    };
    let (Some(op), Some(Value::Object(args))) = (m.get("op").and_then(Value::as_str), m.get("args")) else {
        return ("?".into(), fail(format!("metadata lacks op or args: {meta}")));
    };
    let outcome = (|| -> R<()> {
        let inputs = numbered(st, used, case, "in", false)?;
        let want = numbered(st, used, case, "out", true)?;
        if want.is_empty() {
            return fail("no expected output tensors");
        }
        let got = match catch_unwind(AssertUnwindSafe(|| run_op(op, &Args(args), &inputs))) {
            Ok(r) => r?,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                return fail(format!("panicked: {}", msg.unwrap_or_default()));
            }
        };
        if got.len() != want.len() {
            return fail(format!("{} outputs, expected {}", got.len(), want.len()));
        }
        let mut errs = vec![];
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if let Err(e) = compare(g, w, tolerance(op, w.dtype())) {
                errs.push(if want.len() == 1 {
                    e.0
                } else {
                    format!("out{i}: {}", e.0)
                });
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            fail(errs.join("; "))
        }
    })();
    (op.to_string(), outcome)
}

/// Checks every case of `tests/data/<stem>.safetensors`, panicking with all failures.
fn check_file(stem: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{stem}.safetensors"));
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the reference files are committed)", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) =
        SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: BTreeMap<&String, &String> = header.metadata().iter().flatten().collect();
    assert!(!cases.is_empty(), "{}: no cases in __metadata__", path.display());

    let mut used = BTreeSet::new();
    let mut failures = vec![];
    for (case, meta) in &cases {
        let (op, outcome) = check_case(&st, &mut used, case, meta);
        if let Err(e) = outcome {
            failures.push(format!("{case} [{op}]: {}", e.0));
        }
    }
    for name in st.names() {
        if !used.contains(name) {
            failures.push(format!(
                "{name}: tensor belongs to no case (or its numbering has a gap)"
            ));
        }
    }
    println!(
        "{stem}.safetensors: {} cases checked, {} failures",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{stem}.safetensors: {} failures in {} cases:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

// ----- one test per file -----------------------------------------------------------------

#[test]
fn unary() {
    check_file("unary");
}

#[test]
fn binary() {
    check_file("binary");
}

#[test]
fn reduce() {
    check_file("reduce");
}

#[test]
fn matmul() {
    check_file("matmul");
}

#[test]
fn conv() {
    check_file("conv");
}

#[test]
fn pool() {
    check_file("pool");
}

#[test]
fn index() {
    check_file("index");
}

#[test]
fn movement() {
    check_file("movement");
}

#[test]
fn misc() {
    check_file("misc");
}

#[test]
fn composite() {
    check_file("composite");
}

/// The runner itself: unknown ops fail, and the tolerance rules hold.
#[test]
fn runner_rejects_unknown_ops_and_mismatches() {
    let x = Tensor::new(&[1.0f32, 2.0], &[2]).unwrap();
    let args = Map::new();
    assert!(run_op("no_such_op", &Args(&args), std::slice::from_ref(&x))
        .unwrap_err()
        .0
        .contains("unknown op"));
    assert!(run_op("neg", &Args(&args), &[x.clone(), x.clone()]).is_err());
    let y = Tensor::new(&[1.0f32, 2.00001], &[2]).unwrap();
    assert!(compare(&x, &y, Tol::Exact).is_err());
    assert!(compare(
        &x,
        &y,
        Tol::Close {
            rtol: 1e-5,
            atol: 1e-6
        }
    )
    .is_ok());
    assert!(compare(&x, &x.cast(DType::F64).unwrap(), Tol::Exact)
        .unwrap_err()
        .0
        .contains("dtype"));
}
