//! `Normalization`: `(x - mean) / sqrt(variance)` with statistics given or learned by
//! [`Normalization::adapt`].

use super::batch_normalization::compute_input;
use super::{base_config, config_name, field, fmt_shape, unique_name, Layer, Shape};
use crate::Variable;
use keras_tensor::{DType, Device, Error, Result, Tensor};
use serde_json::{json, Value};

/// Keras's `backend.epsilon()`: the smallest standard deviation divided by.
const EPSILON: f64 = 1e-7;

/// Shifts and scales inputs to mean 0 and standard deviation 1 per feature, as
/// `keras.layers.Normalization`: `(x - mean) / max(sqrt(variance), 1e-7)`, or with
/// `invert(true)` the inverse `mean + x * max(sqrt(variance), 1e-7)`.
///
/// `axis` (default `[-1]`) lists the axes that keep a separate mean and variance per index;
/// statistics are shared over all other axes (an empty `axis`, Keras's `axis=None`, means
/// one scalar mean and variance). The statistics are either given with
/// [`Normalization::mean_variance`] (then the layer has no weights) or computed from data by
/// [`Normalization::adapt`], which stores them in the non-trainable weights `mean`,
/// `variance` (float32, the kept axes' shape) and `count` (int32 scalar), in that order, as
/// Keras names them. As in Keras, `adapt` on a whole tensor leaves `count` at 0.
///
/// Inputs are computed in float32 (float64 stays float64); the layer is differentiable with
/// respect to its input.
///
/// ```
/// use keras::layers::{Layer, Normalization};
/// use keras_tensor::Tensor;
/// let mut n = Normalization::new();
/// n.adapt(&Tensor::new(&[0.0f32, 7.0, 2.0, 9.0], &[2, 2])?)?;
/// let y = n.call(&Tensor::new(&[0.0f32, 9.0], &[1, 2])?, false)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![-1.0, 1.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Normalization {
    name: String,
    axis: Vec<isize>,
    invert: bool,
    input_mean: Option<Tensor>,
    input_variance: Option<Tensor>,
    trainable: bool,
    built: Option<Built>,
}

/// What `build` derives from the input shape.
struct Built {
    rank: usize,
    /// Kept axes, sorted, counted from the front, with their sizes.
    keep: Vec<(usize, usize)>,
    /// The input rank with kept sizes and 1 elsewhere.
    broadcast_shape: Vec<usize>,
    stats: Stats,
}

enum Stats {
    /// Given mean and variance, broadcast to `broadcast_shape` (float32).
    Given(Tensor, Tensor),
    /// The `mean`, `variance` and `count` weights.
    Learned([Variable; 3]),
}

/// Parses a number or nested lists of numbers into a float64 host tensor.
fn tensor_from_json(v: &Value, key: &str) -> Result<Tensor> {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) -> bool {
        match v {
            Value::Number(n) => shape.len() == depth && n.as_f64().map(|f| out.push(f)).is_some(),
            Value::Array(a) => {
                if shape.len() == depth {
                    shape.push(a.len());
                } else if shape.get(depth) != Some(&a.len()) {
                    return false;
                }
                a.iter().all(|e| walk(e, depth + 1, shape, out))
            }
            _ => false,
        }
    }
    let (mut shape, mut data) = (Vec::new(), Vec::new());
    if walk(v, 0, &mut shape, &mut data) && data.len() == shape.iter().product::<usize>() {
        Tensor::from_vec(data, &shape, &Device::Cpu)
    } else {
        Err(Error::InvalidArgument {
            op: "Normalization.from_config",
            msg: format!("field {key:?}: expected a number or (nested) lists of numbers, got {v}"),
        })
    }
}

/// A tensor as a number (rank 0) or nested lists.
fn tensor_to_json(t: &Tensor) -> Value {
    fn nest(data: &[f64], shape: &[usize]) -> Value {
        match shape {
            [] => json!(data[0]),
            [n, rest @ ..] => {
                let step = rest.iter().product::<usize>();
                Value::Array(
                    (0..*n)
                        .map(|i| nest(&data[i * step..(i + 1) * step], rest))
                        .collect(),
                )
            }
        }
    }
    let data = t.to_vec_f64().unwrap_or_default();
    nest(&data, t.shape())
}

/// Elements per batch of [`Normalization::adapt`] (32 MiB as float64).
const ADAPT_BATCH_ELEMENTS: usize = 1 << 22;

/// Float64 mean and biased variance of `data` over `reduce` (which starts with axis 0),
/// computed batch by batch along the first axis and merged into running statistics (Chan et
/// al.), as Keras adapts: no full-size float64 copy of the data (1.2 GB for CIFAR-10's
/// training images).
fn moments_in_batches(data: &Tensor, reduce: &[isize], batch_elements: usize) -> Result<(Tensor, Tensor)> {
    let rows = data.shape()[0];
    let row_len: usize = data.shape()[1..].iter().product();
    let step = (batch_elements / row_len.max(1)).clamp(1, rows.max(1));
    let per_row = reduce[1..]
        .iter()
        .map(|&d| data.shape()[d as usize])
        .product::<usize>() as f64;
    let data = data.detach();
    let mut acc: Option<(Tensor, Tensor, f64)> = None;
    for start in (0..rows).step_by(step) {
        let n = step.min(rows - start);
        let (mb, vb) = data
            .narrow(0, start, n)?
            .cast(DType::F64)?
            .moments(reduce, false)?;
        let nb = n as f64 * per_row;
        acc = Some(match acc {
            None => (mb, vb, nb),
            Some((ma, va, na)) => {
                let total = na + nb;
                let delta = mb.sub(&ma)?;
                let mean = ma.add(&delta.mul_scalar(nb / total)?)?;
                let var = va
                    .mul_scalar(na / total)?
                    .add(&vb.mul_scalar(nb / total)?)?
                    .add(&delta.square()?.mul_scalar(na * nb / (total * total))?)?;
                (mean, var, total)
            }
        });
    }
    match acc {
        Some((m, v, _)) => Ok((m, v)),
        None => data.cast(DType::F64)?.moments(reduce, false),
    }
}

impl Normalization {
    /// Per-feature statistics on the last axis (Keras's `axis=-1`), to be learned with
    /// [`Normalization::adapt`].
    ///
    /// ```
    /// let n = keras::layers::Normalization::new();
    /// ```
    pub fn new() -> Normalization {
        Normalization {
            name: unique_name("normalization"),
            axis: vec![-1],
            invert: false,
            input_mean: None,
            input_variance: None,
            trainable: true,
            built: None,
        }
    }

    /// The axes with separate statistics (negative counts from the end); `&[]` for one
    /// scalar mean and variance (Keras's `axis=None`).
    ///
    /// ```
    /// let n = keras::layers::Normalization::new().axis(&[1, 2]);
    /// ```
    pub fn axis(mut self, axis: &[isize]) -> Normalization {
        self.axis = axis.to_vec();
        self.built = None;
        self
    }

    /// Fixed statistics instead of [`Normalization::adapt`]. Both have the same shape, of
    /// rank at most the number of axes: a scalar broadcasts to every kept index, otherwise
    /// their trailing axes line up with the last kept axes (Keras's broadcasting).
    ///
    /// ```
    /// use keras::layers::{Layer, Normalization};
    /// use keras_tensor::Tensor;
    /// let n = Normalization::new()
    ///     .mean_variance(&Tensor::scalar(3.0f32), &Tensor::scalar(4.0f32))?;
    /// let y = n.call(&Tensor::new(&[1.0f32, 5.0], &[2, 1])?, false);
    /// assert!(y.is_err()); // not built yet
    /// let mut n = n;
    /// n.build(&[None, Some(1)])?;
    /// let y = n.call(&Tensor::new(&[1.0f32, 5.0], &[2, 1])?, false)?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![-1.0, 1.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the shapes differ.
    pub fn mean_variance(mut self, mean: &Tensor, variance: &Tensor) -> Result<Normalization> {
        if mean.shape() != variance.shape() {
            return Err(Error::InvalidArgument {
                op: "Normalization",
                msg: format!(
                    "mean and variance must have the same shape, got {:?} and {:?}",
                    mean.shape(),
                    variance.shape()
                ),
            });
        }
        self.input_mean = Some(mean.detach().cast(DType::F64)?);
        self.input_variance = Some(variance.detach().cast(DType::F64)?);
        self.built = None;
        Ok(self)
    }

    /// Applies the inverse transformation (de-normalizes).
    ///
    /// ```
    /// let n = keras::layers::Normalization::new().invert(true);
    /// ```
    pub fn invert(mut self, invert: bool) -> Normalization {
        self.invert = invert;
        self
    }

    /// Sets the layer name.
    ///
    /// ```
    /// use keras::layers::{Layer, Normalization};
    /// let l = Normalization::new().name("norm");
    /// assert_eq!(Layer::name(&l), "norm");
    /// ```
    pub fn name(mut self, name: &str) -> Normalization {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// ```
    /// use keras::layers::{Layer, Normalization};
    /// let n = Normalization::from_config(&serde_json::json!({"axis": null, "mean": 1.0, "variance": 4.0}))?;
    /// assert_eq!(n.get_config()["axis"], serde_json::json!([]));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a malformed `axis`, `mean` or `variance`, or only one of the two statistics.
    pub fn from_config(c: &Value) -> Result<Normalization> {
        let axis = match c.get("axis") {
            Some(Value::Null) => Vec::new(),
            None => vec![-1],
            Some(Value::Number(n)) => vec![n.as_i64().ok_or_else(|| bad_axis(c))? as isize],
            Some(v) => serde_json::from_value::<Vec<isize>>(v.clone()).map_err(|_| bad_axis(c))?,
        };
        let mut n = Normalization::new().axis(&axis);
        let stat = |k: &str| c.get(k).filter(|v| !v.is_null()).map(|v| tensor_from_json(v, k));
        match (stat("mean"), stat("variance")) {
            (None, None) => {}
            (Some(m), Some(v)) => n = n.mean_variance(&m?, &v?)?,
            _ => {
                return Err(Error::InvalidArgument {
                    op: "Normalization.from_config",
                    msg: "mean and variance must be set together".into(),
                })
            }
        }
        n.invert = field(c, "invert", false)?;
        n.name = config_name(c, "normalization")?;
        n.trainable = field(c, "trainable", true)?;
        Ok(n)
    }

    /// Computes the mean and (biased) variance of `data` over every axis but the kept ones
    /// and stores them in the `mean` and `variance` weights (building the layer for
    /// `data`'s shape when needed), as Keras's `adapt` on an array.
    ///
    /// ```
    /// use keras::layers::{Layer, Normalization};
    /// use keras_tensor::Tensor;
    /// let mut n = Normalization::new().axis(&[]);
    /// n.adapt(&Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0], &[5])?)?;
    /// let y = n.call(&Tensor::new(&[1.0f32, 3.0], &[2])?, false)?.to_vec::<f32>()?;
    /// assert!((y[0] + 1.4142135).abs() < 1e-6 && y[1] == 0.0);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the layer was given fixed statistics, or `data`'s kept axes differ from the
    /// built shape.
    pub fn adapt(&mut self, data: &Tensor) -> Result<()> {
        if self.input_mean.is_some() {
            return Err(Error::InvalidArgument {
                op: "Normalization.adapt",
                msg: format!(
                    "layer {:?} was given a fixed mean and variance; adapt() learns them instead",
                    self.name
                ),
            });
        }
        let shape: Shape = data.shape().iter().map(|&d| Some(d)).collect();
        match &self.built {
            None => self.build(&shape)?,
            Some(b) => self.check_kept(b, data.shape(), "adapt")?,
        }
        let Some(Built {
            keep,
            stats: Stats::Learned([mean, variance, _]),
            ..
        }) = &self.built
        else {
            unreachable!("built with learned statistics")
        };
        let reduce: Vec<isize> = (0..data.rank())
            .filter(|d| !keep.iter().any(|k| k.0 == *d))
            .map(|d| d as isize)
            .collect();
        let (m, v) = if reduce.is_empty() {
            let x = data.detach().cast(DType::F64)?;
            (x.clone(), x.zeros_like()?)
        } else if reduce[0] == 0 {
            moments_in_batches(data, &reduce, ADAPT_BATCH_ELEMENTS)?
        } else {
            data.detach().cast(DType::F64)?.moments(&reduce, false)?
        };
        mean.assign(&m.cast(DType::F32)?.to_device(mean.value().device())?)?;
        variance.assign(&v.cast(DType::F32)?.to_device(variance.value().device())?)
    }

    fn check_kept(&self, b: &Built, shape: &[usize], op: &'static str) -> Result<()> {
        let ok = shape.len() == b.rank && b.keep.iter().all(|&(d, n)| shape[d] == n);
        if ok {
            return Ok(());
        }
        let kept: Vec<Option<usize>> = (0..b.rank)
            .map(|d| b.keep.iter().find(|k| k.0 == d).map(|k| k.1))
            .collect();
        Err(Error::InvalidArgument {
            op,
            msg: format!(
                "layer {:?} was built for inputs of shape {} (None: any size) but got a tensor \
                 of shape {:?}",
                self.name,
                fmt_shape(&kept),
                shape
            ),
        })
    }
}

fn bad_axis(c: &Value) -> Error {
    Error::InvalidArgument {
        op: "Normalization.from_config",
        msg: format!(
            "field \"axis\": expected null, an integer or a list of integers, got {}",
            c["axis"]
        ),
    }
}

impl Default for Normalization {
    fn default() -> Normalization {
        Normalization::new()
    }
}

impl Layer for Normalization {
    super::layer_common!("Normalization");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        self.built.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let ndim = input_shape.len();
        let err = |msg: String| Error::InvalidArgument { op: "build", msg };
        let mut keep = Vec::new();
        for &a in &self.axis {
            if a < -(ndim as isize) || a >= ndim as isize {
                return Err(err(format!(
                    "layer {:?}: all axis values must be in [-ndim, ndim), got axis {:?} for input \
                     shape {}",
                    self.name,
                    self.axis,
                    fmt_shape(input_shape)
                )));
            }
            let d = a.rem_euclid(ndim as isize) as usize;
            let n = input_shape[d].ok_or_else(|| {
                err(format!(
                    "layer {:?}: the kept axes must have a known size, got axis {:?} and input \
                     shape {}",
                    self.name,
                    self.axis,
                    fmt_shape(input_shape)
                ))
            })?;
            if !keep.iter().any(|k: &(usize, usize)| k.0 == d) {
                keep.push((d, n));
            }
        }
        keep.sort_unstable();
        let broadcast_shape: Vec<usize> = (0..ndim)
            .map(|d| keep.iter().find(|k| k.0 == d).map_or(1, |k| k.1))
            .collect();
        // Keep learned statistics across a rebuild for the same kept axes.
        if let Some(b) = &self.built {
            if b.rank == ndim && b.keep == keep && matches!(b.stats, Stats::Learned(_)) {
                return Ok(());
            }
        }
        let stats = match (&self.input_mean, &self.input_variance) {
            (Some(m), Some(v)) => {
                if m.rank() > keep.len() {
                    return Err(err(format!(
                        "layer {:?}: the rank of mean must be at most the number of axes ({}), \
                         got mean shape {:?} for axis {:?}",
                        self.name,
                        keep.len(),
                        m.shape(),
                        self.axis
                    )));
                }
                let place = |t: &Tensor| -> Result<Tensor> {
                    let mut expanded = vec![1; ndim];
                    for i in 1..=t.rank() {
                        expanded[keep[keep.len() - i].0] = t.shape()[t.rank() - i];
                    }
                    t.reshape_to(&expanded)?
                        .broadcast_to(&broadcast_shape)
                        .map_err(|_| {
                            err(format!(
                                "layer {:?}: mean and variance of shape {:?} do not broadcast to \
                                 the kept axes' shape {:?} (input shape {})",
                                self.name,
                                t.shape(),
                                broadcast_shape,
                                fmt_shape(input_shape)
                            ))
                        })?
                        .contiguous()?
                        .cast(DType::F32)
                };
                Stats::Given(place(m)?, place(v)?)
            }
            _ => {
                let kept: Vec<usize> = keep.iter().map(|k| k.1).collect();
                let dev = Device::Cpu;
                Stats::Learned([
                    Variable::new("mean", Tensor::zeros(&kept, DType::F32, &dev)?, false),
                    Variable::new("variance", Tensor::ones(&kept, DType::F32, &dev)?, false),
                    Variable::new("count", Tensor::zeros(&[], DType::I32, &dev)?, false),
                ])
            }
        };
        self.built = Some(Built {
            rank: ndim,
            keep,
            broadcast_shape,
            stats,
        });
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let b = self.built.as_ref().ok_or_else(|| Error::InvalidArgument {
            op: "call",
            msg: format!(
                "layer {:?} is not built: call build(input_shape) or adapt(data) first",
                self.name
            ),
        })?;
        self.check_kept(b, x.shape(), "call")?;
        let x = compute_input(x)?;
        let (mean, variance) = match &b.stats {
            Stats::Given(m, v) => (m.clone(), v.clone()),
            Stats::Learned([m, v, _]) => (
                m.value().reshape_to(&b.broadcast_shape)?,
                v.value().reshape_to(&b.broadcast_shape)?,
            ),
        };
        let (mean, variance) = (mean.cast(x.dtype())?, variance.cast(x.dtype())?);
        let std = variance.sqrt()?.maximum_scalar(EPSILON)?;
        if self.invert {
            mean.add(&x.mul(&std)?)
        } else {
            x.sub(&mean)?.div(&std)
        }
    }
    fn weights(&self) -> Vec<Variable> {
        match &self.built {
            Some(Built {
                stats: Stats::Learned(w),
                ..
            }) => w.to_vec(),
            _ => Vec::new(),
        }
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("axis".into(), json!(self.axis));
        m.insert("invert".into(), json!(self.invert));
        m.insert(
            "mean".into(),
            self.input_mean.as_ref().map_or(Value::Null, tensor_to_json),
        );
        m.insert(
            "variance".into(),
            self.input_variance.as_ref().map_or(Value::Null, tensor_to_json),
        );
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};

    fn t(v: &[f32], s: &[usize]) -> Tensor {
        Tensor::new(v, s).unwrap()
    }

    /// The adapt data of the tests (Keras's docstring example, one value changed).
    fn adapt_data() -> Tensor {
        t(&[0., 7., 4., 2., 9., 6., 0., 7., 5., 2., 9., 6.], &[4, 3])
    }

    #[test]
    fn normalization_passes_the_layer_harness() {
        run_layer_test(Box::new(Normalization::new()), &[3], 3);
        run_layer_test(
            Box::new(Normalization::new().axis(&[1, 2]).invert(true)),
            &[3, 2],
            3,
        );
        let given = Normalization::new()
            .mean_variance(&t(&[1.0, 2.0], &[2]), &t(&[4.0, 9.0], &[2]))
            .unwrap();
        run_layer_test(Box::new(given), &[2], 0);
        let n = Normalization::new();
        assert_eq!(n.weights().len(), 0);
    }

    #[test]
    fn adapt_in_batches_gives_the_whole_data_statistics() {
        // 37 rows of 2x3 in batches of 2, 5 and 8 rows (uneven last batches), reduced over
        // the rows alone and over rows and the middle axis, against one float64 pass.
        let x = Tensor::random_normal(&[37, 2, 3], 3.0, 2.0, 5, DType::F32, &Device::Cpu).unwrap();
        for reduce in [vec![0], vec![0, 1]] {
            let (m, v) = x.cast(DType::F64).unwrap().moments(&reduce, false).unwrap();
            for batch_elements in [12, 30, 48] {
                let (mb, vb) = moments_in_batches(&x, &reduce, batch_elements).unwrap();
                let ctx = format!("{reduce:?}, batches of {batch_elements} elements");
                // Every mean (~3) and variance (~4) is above 1, so a relative 1e-12 alone.
                assert_close(&format!("{ctx}: mean"), &mb, &m, 1e-12, 0.0);
                assert_close(&format!("{ctx}: variance"), &vb, &v, 1e-12, 0.0);
            }
        }
    }

    #[test]
    fn adapt_matches_keras() {
        // n = keras.layers.Normalization(); n.adapt(data); n(np.array([[1., 2., 3.]]))
        let mut n = Normalization::new();
        n.adapt(&adapt_data()).unwrap();
        let w = n.weights();
        assert_eq!(
            w.iter().map(|v| v.name().to_string()).collect::<Vec<_>>(),
            vec!["mean", "variance", "count"]
        );
        assert!(w.iter().all(|v| !v.trainable()) && n.trainable_weights().is_empty());
        assert_eq!(w[0].value().to_vec::<f32>().unwrap(), vec![1.0, 8.0, 5.25]);
        assert_eq!(w[1].value().to_vec::<f32>().unwrap(), vec![1.0, 1.0, 0.6875]);
        assert_eq!(w[2].value().to_vec::<i32>().unwrap(), vec![0]);
        let x = t(&[1., 2., 3.], &[1, 3]);
        let y = n.call(&x, false).unwrap();
        assert_close("norm", &y, &t(&[0.0, -6.0, -2.713_602], &[1, 3]), 1e-6, 1e-6);
        let mut inv = Normalization::new().invert(true);
        inv.adapt(&adapt_data()).unwrap();
        let y = inv.call(&x, false).unwrap();
        assert_close("invert", &y, &t(&[2.0, 10.0, 7.737_469], &[1, 3]), 1e-6, 1e-6);
        let mut none = Normalization::new().axis(&[]);
        none.adapt(&adapt_data()).unwrap();
        assert_eq!(none.weights()[0].shape(), Vec::<usize>::new());
        let y = none.call(&x, false).unwrap();
        assert_close(
            "axis=None",
            &y,
            &t(&[-1.237_179_2, -0.907_264_7, -0.577_350_26], &[1, 3]),
            1e-6,
            1e-6,
        );
        // keras.layers.Normalization(axis=(1, 2)).adapt(np.arange(24.).reshape(4, 3, 2) ** 2)
        let sq: Vec<f32> = (0..24).map(|i| (i * i) as f32).collect();
        let mut n12 = Normalization::new().axis(&[1, 2]);
        n12.adapt(&t(&sq, &[4, 3, 2])).unwrap();
        assert_eq!(
            n12.weights()[0].value().to_vec::<f32>().unwrap(),
            vec![126., 145., 166., 189., 214., 241.]
        );
        assert_eq!(
            n12.weights()[1].value().to_vec::<f32>().unwrap(),
            vec![15876., 19296., 23076., 27216., 31716., 36576.]
        );
        // A rebuild keeps the learned statistics; a mismatched shape is refused.
        n.build(&[None, Some(3)]).unwrap();
        assert_eq!(
            n.weights()[0].value().to_vec::<f32>().unwrap(),
            vec![1.0, 8.0, 5.25]
        );
        let e = n.call(&randn(&[2, 4], 1), false).unwrap_err().to_string();
        assert!(
            e.contains("normalization") && e.contains("[2, 4]") && e.contains("(None, 3)"),
            "{e}"
        );
        assert!(n.adapt(&randn(&[2, 4], 1)).is_err());
        check_grad("normalization", &[&randn(&[2, 3], 2)], |x| n.call(&x[0], true));
        check_grad("normalization_inv", &[&randn(&[2, 3], 2)], |x| {
            inv.call(&x[0], true)
        });
    }

    #[test]
    fn given_statistics_match_keras() {
        // keras.layers.Normalization(axis=(1, 2), mean=[1., 2.], variance=[4., 0.])(
        //     np.arange(12.).reshape(2, 3, 2))
        let mut n = Normalization::new()
            .axis(&[1, 2])
            .mean_variance(&t(&[1.0, 2.0], &[2]), &t(&[4.0, 0.0], &[2]))
            .unwrap();
        n.build(&[None, Some(3), Some(2)]).unwrap();
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let y = n.call(&t(&x, &[2, 3, 2]), false).unwrap();
        let want = [-0.5, -1e7, 0.5, 1e7, 1.5, 3e7, 2.5, 5e7, 3.5, 7e7, 4.5, 9e7];
        assert_close("given", &y, &t(&want, &[2, 3, 2]), 1e-6, 0.0);
        assert_eq!(
            n.get_config()["mean"],
            json!([1.0, 2.0]),
            "the config keeps the statistics as given"
        );
        assert!(n.adapt(&randn(&[2, 3, 2], 1)).is_err());
        // Keras's documented scalar example: mean=3, variance=2.
        let mut s = Normalization::new()
            .mean_variance(&Tensor::scalar(3.0f64), &Tensor::scalar(2.0f64))
            .unwrap();
        s.build(&[None, Some(1)]).unwrap();
        let y = s.call(&t(&[1., 2., 3.], &[3, 1]), false).unwrap();
        assert_close(
            "scalar",
            &y,
            &t(
                &[-std::f32::consts::SQRT_2, -std::f32::consts::FRAC_1_SQRT_2, 0.0],
                &[3, 1],
            ),
            1e-6,
            0.0,
        );
        // Shapes that do not fit.
        let bad = Normalization::new().mean_variance(&t(&[1.0, 2.0], &[2]), &t(&[1.0], &[1]));
        assert!(bad.is_err());
        let mut wide = Normalization::new()
            .mean_variance(&t(&[1.0, 2.0], &[2]), &t(&[1.0, 2.0], &[2]))
            .unwrap();
        let e = wide.build(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("[2]") && e.contains("(None, 3)"), "{e}");
        let mut deep = Normalization::new()
            .mean_variance(&t(&[1.0], &[1, 1]), &t(&[1.0], &[1, 1]))
            .unwrap();
        assert!(deep.build(&[None, Some(1)]).is_err());
        assert!(Normalization::new().build(&[None, None]).is_err());
        assert!(Normalization::new().axis(&[2]).build(&[None, Some(3)]).is_err());
        assert!(Normalization::new().call(&randn(&[2, 3], 1), false).is_err());
    }

    #[test]
    fn config_matches_keras() {
        // keras.layers.Normalization().get_config()
        let n = Normalization::new().name("normalization");
        assert_eq!(
            n.get_config(),
            json!({"name": "normalization", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "axis": [-1], "invert": false, "mean": null, "variance": null})
        );
        let c = json!({"name": "n", "axis": [1, 2], "invert": true, "mean": [[1.0, 2.0]],
                       "variance": [[3.0, 4.0]]});
        let n = Normalization::from_config(&c).unwrap();
        let mut want = c.as_object().unwrap().clone();
        want.extend(base_config("n", true));
        assert_eq!(n.get_config(), Value::Object(want));
        let n = Normalization::from_config(&json!({"axis": 1, "mean": 0.5, "variance": 2})).unwrap();
        assert_eq!(n.get_config()["axis"], json!([1]));
        assert_eq!(n.get_config()["mean"], json!(0.5));
        assert!(Normalization::from_config(&json!({"mean": 1.0})).is_err());
        assert!(Normalization::from_config(&json!({"mean": [[1.0], [1.0, 2.0]], "variance": 1})).is_err());
        assert!(Normalization::from_config(&json!({"axis": "x"})).is_err());
    }
}
