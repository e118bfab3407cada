//! `Dot`: the per-sample dot product of two inputs along one axis of each.

use super::merge::{base_from_config, common_batch, merge_common, shapes_error, shapes_of, Arity};
use super::{base_config, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor, EPSILON};
use serde_json::{json, Value};

/// The `axes` argument: one axis for both inputs, or one per input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axes {
    Same(isize),
    Pair(isize, isize),
}

/// The dot product of the samples of exactly 2 inputs, as `keras.layers.Dot`: for each sample
/// `b`, sums `x[b, …, i, …] * y[b, …, i, …]` over axis `axes.0` of `x` and `axes.1` of `y`.
/// The output keeps the batch, then `x`'s other axes, then `y`'s other axes; a result with
/// only the batch axis gets a trailing axis of 1 (`(batch, 1)`), as in Keras.
///
/// Negative axes count from the end; axis `0` (the batch) cannot be reduced. With
/// `normalize(true)` both inputs are L2-normalized along their axis first
/// (`x * min(1 / sqrt(sum(x²)), 1 / 1e-7)`, Keras's formula), giving the cosine similarity.
///
/// ```
/// use keras::layers::{Dot, Layer};
/// use keras_tensor::Tensor;
/// let a = Tensor::new(&[1.0f32, 2.0, 3.0], &[1, 3])?;
/// let b = Tensor::new(&[4.0f32, 5.0, 6.0], &[1, 3])?;
/// let y = Dot::new(1).call_multi(&[a, b], false)?;
/// assert_eq!((y[0].shape(), y[0].to_vec::<f32>()?), (&[1, 1][..], vec![32.0]));
/// // (batch, 3, 4) · (batch, 5, 3) over axes (1, 2) -> (batch, 4, 5)
/// assert_eq!(Dot::with_axes(1, 2).compute_output_shapes(&[vec![None, Some(3), Some(4)],
///                                                        vec![None, Some(5), Some(3)]])?,
///            vec![vec![None, Some(4), Some(5)]]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Dot {
    name: String,
    trainable: bool,
    built: bool,
    axes: Axes,
    normalize: bool,
}

impl Dot {
    /// The dot product over axis `axes` of both inputs (`-1` is the last).
    pub fn new(axes: isize) -> Dot {
        Dot {
            name: unique_name("dot"),
            trainable: true,
            built: false,
            axes: Axes::Same(axes),
            normalize: false,
        }
    }

    /// The dot product over axis `x_axis` of the first input and `y_axis` of the second.
    pub fn with_axes(x_axis: isize, y_axis: isize) -> Dot {
        Dot {
            axes: Axes::Pair(x_axis, y_axis),
            ..Dot::new(-1)
        }
    }

    /// L2-normalizes both inputs along their axis first (the output is then the cosine
    /// similarity).
    pub fn normalize(mut self, normalize: bool) -> Dot {
        self.normalize = normalize;
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Dot {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config (`axes`: an integer or a pair; `normalize`).
    ///
    /// # Errors
    /// When `axes` is missing or not an integer or a pair of integers.
    pub fn from_config(c: &Value) -> Result<Dot> {
        let bad = |v: &Value| Error::InvalidArgument {
            op: "Dot.from_config",
            msg: format!("axes must be an integer or a pair of integers, got {v}"),
        };
        let axes = match c.get("axes") {
            None | Some(Value::Null) => {
                return Err(Error::InvalidArgument {
                    op: "Dot.from_config",
                    msg: "the config has no \"axes\"".into(),
                })
            }
            Some(v @ Value::Number(n)) => Axes::Same(n.as_i64().ok_or_else(|| bad(v))? as isize),
            Some(v) => {
                let p: Vec<i64> = serde_json::from_value(v.clone()).map_err(|_| bad(v))?;
                match p[..] {
                    [a, b] => Axes::Pair(a as isize, b as isize),
                    _ => return Err(bad(v)),
                }
            }
        };
        let (name, trainable) = base_from_config(c, "dot")?;
        Ok(Dot {
            name,
            trainable,
            built: false,
            axes,
            normalize: field(c, "normalize", false)?,
        })
    }

    /// The reduced axis of each input (non-negative), for inputs of ranks `r1` and `r2`.
    fn resolve_axes(&self, shapes: &[Shape]) -> Result<(usize, usize)> {
        let (r1, r2) = (shapes[0].len(), shapes[1].len());
        if r1 < 2 || r2 < 2 {
            return Err(shapes_error(
                &self.name,
                "inputs need a batch axis and at least one more axis",
                shapes,
            ));
        }
        let (a1, a2) = match self.axes {
            Axes::Same(a) => (a, a),
            Axes::Pair(a, b) => (a, b),
        };
        let fix = |a: isize, r: usize| {
            let p = if a < 0 { a + r as isize } else { a };
            if (1..r as isize).contains(&p) {
                Ok(p as usize)
            } else {
                let why = if p == 0 {
                    "cannot take the dot product over the batch axis 0".to_string()
                } else {
                    format!("axis {a} is out of range for an input of rank {r}")
                };
                Err(shapes_error(&self.name, &why, shapes))
            }
        };
        Ok((fix(a1, r1)?, fix(a2, r2)?))
    }

    /// Checks the shapes as Keras's `Dot.build` and gives `(axes, output shape)` as its
    /// `compute_output_shape`.
    fn plan(&self, shapes: &[Shape]) -> Result<((usize, usize), Shape)> {
        Arity::Exactly2.check(&self.name, shapes.len())?;
        let batch = common_batch(&self.name, shapes)?;
        let (a1, a2) = self.resolve_axes(shapes)?;
        let (s1, s2) = (&shapes[0], &shapes[1]);
        if let (Some(d1), Some(d2)) = (s1[a1], s2[a2]) {
            if d1 != d2 {
                let why = format!(
                    "the dot product axes differ in size: {d1} (axis {a1} of the first input) != \
                     {d2} (axis {a2} of the second)"
                );
                return Err(shapes_error(&self.name, &why, shapes));
            }
        }
        let mut out: Shape = vec![batch];
        out.extend((1..s1.len()).filter(|&d| d != a1).map(|d| s1[d]));
        out.extend((1..s2.len()).filter(|&d| d != a2).map(|d| s2[d]));
        if out.len() == 1 {
            out.push(Some(1));
        }
        Ok(((a1, a2), out))
    }
}

/// `x * min(1 / sqrt(sum(x², axis)), 1 / ε)` (Keras's `ops.normalize` with order 2), written
/// as `x / sqrt(max(sum(x²), ε²))`, which is equal but keeps the gradient finite at 0.
fn l2_normalize(x: &Tensor, axis: usize) -> Result<Tensor> {
    let sq = x.square()?.sum(&[axis as isize], true)?;
    x.mul(&sq.maximum_scalar(EPSILON * EPSILON)?.rsqrt()?)
}

/// Keras's `batch_dot`: moves `x`'s axis `a1` last and `y`'s axis `a2` to position 1,
/// flattens the rest to `(batch, m, k) @ (batch, k, n)` and restores the kept axes.
fn batch_dot(x: &Tensor, y: &Tensor, a1: usize, a2: usize, out: &[usize]) -> Result<Tensor> {
    let (sx, sy) = (x.shape(), y.shape());
    let (b, k) = (sx[0], sx[a1]);
    let mut px: Vec<usize> = (0..sx.len()).filter(|&d| d != a1).collect();
    px.push(a1);
    let m: usize = px[1..px.len() - 1].iter().map(|&d| sx[d]).product();
    let mut py = vec![0, a2];
    py.extend((1..sy.len()).filter(|&d| d != a2));
    let n: usize = py[2..].iter().map(|&d| sy[d]).product();
    let xm = x.permute(&px)?.reshape_to(&[b, m, k])?;
    let ym = y.permute(&py)?.reshape_to(&[b, k, n])?;
    xm.matmul(&ym)?.reshape_to(out)
}

impl Layer for Dot {
    merge_common!("Dot", Arity::Exactly2);
    fn build_multi(&mut self, input_shapes: &[Shape]) -> Result<()> {
        self.plan(input_shapes)?;
        self.built = true;
        Ok(())
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.plan(input_shapes)?.1])
    }
    fn call_multi(&self, inputs: &[Tensor], _training: bool) -> Result<Vec<Tensor>> {
        let ((a1, a2), out) = self.plan(&shapes_of(inputs)).map_err(|e| match e {
            Error::InvalidArgument { msg, .. } => Error::InvalidArgument { op: "call", msg },
            e => e,
        })?;
        let out: Vec<usize> = out.iter().map(|d| d.unwrap_or(0)).collect();
        let (x, y) = if self.normalize {
            (l2_normalize(&inputs[0], a1)?, l2_normalize(&inputs[1], a2)?)
        } else {
            (inputs[0].clone(), inputs[1].clone())
        };
        Ok(vec![batch_dot(&x, &y, a1, a2, &out)?])
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert(
            "axes".into(),
            match self.axes {
                Axes::Same(a) => json!(a),
                Axes::Pair(a, b) => json!([a, b]),
            },
        );
        m.insert("normalize".into(), json!(self.normalize));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Dot;
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn dot_passes_the_merge_harness() {
        run_merge_test(Box::new(Dot::new(1)), &[&[3], &[3]]);
        run_merge_test(
            Box::new(Dot::with_axes(1, 2).normalize(true)),
            &[&[3, 4], &[5, 3]],
        );
        run_merge_test(Box::new(Dot::new(-1)), &[&[2, 3, 4], &[5, 4]]);
    }

    #[test]
    fn dot_matches_keras() {
        // Values from keras.layers.Dot in Keras 3 (JAX backend) on the same inputs.
        let (a, b) = (seq(&[2, 3], -1.0, 0.5), seq(&[2, 3], 2.0, -0.75));
        let y = Dot::new(1).call_multi(&[a.clone(), b.clone()], false).unwrap();
        assert_values("dot 1", &y[0], &[2, 1], &[-2.625, -3.75]);
        let y = Dot::new(1)
            .normalize(true)
            .call_multi(&[a.clone(), b], false)
            .unwrap();
        assert_values("dot 1 normalized", &y[0], &[2, 1], &[-0.97385168, -0.98692751]);

        let (x, y3) = (seq(&[2, 3, 4], -1.0, 0.1), seq(&[2, 5, 3], 0.5, -0.05));
        let out = Dot::with_axes(1, 2)
            .call_multi(&[x.clone(), y3.clone()], false)
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            -0.85, -0.58, -0.31, -0.04, 0.23, -0.715, -0.49, -0.265, -0.04, 0.185,
            -0.58, -0.4, -0.22, -0.04, 0.14, -0.445, -0.31, -0.175, -0.04, 0.095,
            -0.58, -0.85, -1.12, -1.39, -1.66, -0.67, -0.985, -1.3, -1.615, -1.93,
            -0.76, -1.12, -1.48, -1.84, -2.2, -0.85, -1.255, -1.66, -2.065, -2.47,
        ];
        assert_values("dot (1, 2)", &out[0], &[2, 4, 5], &expect);
        let out = Dot::with_axes(1, 2)
            .normalize(true)
            .call_multi(&[x.clone(), y3], false)
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            -0.91791373, -0.93475461, -0.9730354, -0.47809127, 0.72192973,
            -0.8832041, -0.90331209, -0.95144778, -0.54686856, 0.66421837,
            -0.82857144, -0.85280287, -0.91350025, -0.63245541, 0.5813185,
            -0.7402544, -0.76960766, -0.84614158, -0.73645961, 0.45933414,
            -0.93475467, -0.91791373, -0.90873897, -0.90299731, -0.89907217,
            -0.9549529, -0.94071192, -0.93282884, -0.92785841, -0.92444545,
            -0.96832961, -0.95618284, -0.94934231, -0.94499499, -0.94199622,
            -0.9774313, -0.96699524, -0.96100771, -0.95717072, -0.95451134,
        ];
        assert_values("dot (1, 2) normalized", &out[0], &[2, 4, 5], &expect);

        let out = Dot::new(-1)
            .call_multi(&[x, seq(&[2, 5, 4], 0.3, 0.07)], false)
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            -1.342, -2.294, -3.246, -4.198, -5.15, -0.694, -1.198, -1.702, -2.206, -2.71,
            -0.046, -0.102, -0.158, -0.214, -0.27, 2.562, 2.954, 3.346, 3.738, 4.13,
            5.45, 6.29, 7.13, 7.97, 8.81, 8.338, 9.626, 10.914, 12.202, 13.49,
        ];
        assert_values("dot -1", &out[0], &[2, 3, 5], &expect);

        // Ranks 2 and 3, axes (1, 1) -> (2, 4).
        let out = Dot::new(1)
            .call_multi(&[a, seq(&[2, 3, 4], 1.0, -0.2)], false)
            .unwrap();
        assert_values(
            "dot ranks 2, 3",
            &out[0],
            &[2, 4],
            &[-1.1, -0.8, -0.5, -0.2, -7.4, -8.0, -8.6, -9.2],
        );
    }

    #[test]
    fn dot_shape_errors_name_the_layer() {
        let l = Dot::new(1).name("sim");
        let e = l
            .compute_output_shapes(&[vec![None, Some(3)], vec![None, Some(4)]])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"sim\"") && e.contains("3 (axis 1 of the first input) != 4"),
            "{e}"
        );
        assert!(e.contains("[(None, 3), (None, 4)]"), "{e}");
        let e = Dot::new(0)
            .compute_output_shapes(&[vec![None, Some(3)], vec![None, Some(3)]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch axis 0"), "{e}");
        let e = Dot::new(-3)
            .compute_output_shapes(&[vec![None, Some(3)], vec![None, Some(3)]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        let s = vec![None, Some(3)];
        let e = l
            .compute_output_shapes(&[s.clone(), s.clone(), s])
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly 2 inputs, got 3"), "{e}");
        let e = l.call(&seq(&[2, 3], 0.0, 1.0), false).unwrap_err().to_string();
        assert!(e.contains("expects a list of exactly 2 inputs"), "{e}");
    }

    #[test]
    fn dot_config_matches_keras() {
        let c = Dot::with_axes(1, 2).name("dot").get_config();
        assert_eq!(c["axes"], serde_json::json!([1, 2]));
        assert_eq!(c["normalize"], serde_json::json!(false));
        let c = Dot::new(1).normalize(true).get_config();
        assert_eq!(c["axes"], serde_json::json!(1));
        assert_eq!(c["normalize"], serde_json::json!(true));
        assert!(Dot::from_config(&serde_json::json!({"axes": [1, 2, 3]})).is_err());
        assert!(Dot::from_config(&serde_json::json!({})).is_err());
    }

    #[test]
    fn dot_gradients_match_finite_differences() {
        for normalize in [false, true] {
            let l = Dot::with_axes(1, 2).normalize(normalize);
            let (x, y) = (randn(&[2, 3, 4], 7), randn(&[2, 5, 3], 8));
            check_grad(&format!("dot normalize={normalize}"), &[&x, &y], |t| {
                Ok(l.call_multi(t, true)?.remove(0))
            });
            let l = Dot::new(1).normalize(normalize);
            let (x, y) = (randn(&[3, 4], 9), randn(&[3, 4], 10));
            check_grad(&format!("dot 2-D normalize={normalize}"), &[&x, &y], |t| {
                Ok(l.call_multi(t, true)?.remove(0))
            });
        }
    }
}
