//! `Concatenate`: joins a list of inputs along one axis.

use super::merge::{base_from_config, merge_common, shapes_error, shapes_of, Arity};
use super::{base_config, field, unique_name, Layer, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::{json, Value};

/// Concatenates a list of at least 2 inputs along `axis` (default `-1`, the last), as
/// `keras.layers.Concatenate`. The inputs must have the same rank and the same dimensions off
/// the concatenation axis (unknown dimensions match anything); the output takes its other
/// dimensions from the first input, as Keras does.
///
/// ```
/// use keras::layers::{Concatenate, Layer};
/// use keras_tensor::Tensor;
/// let cat = Concatenate::new();
/// assert_eq!(cat.compute_output_shapes(&[vec![None, Some(3)], vec![None, Some(5)]])?,
///            vec![vec![None, Some(8)]]);
/// let a = Tensor::new(&[1.0f32, 2.0], &[1, 2])?;
/// let b = Tensor::new(&[3.0f32], &[1, 1])?;
/// assert_eq!(cat.call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![1.0, 2.0, 3.0]);
/// let rows = Concatenate::new().axis(1);
/// assert_eq!(rows.compute_output_shapes(&[vec![None, Some(1), Some(4)], vec![None, Some(2), Some(4)]])?,
///            vec![vec![None, Some(3), Some(4)]]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Concatenate {
    name: String,
    trainable: bool,
    built: bool,
    axis: isize,
}

impl Concatenate {
    /// Concatenates along the last axis (`axis=-1`).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Concatenate {
        Concatenate {
            name: unique_name("concatenate"),
            trainable: true,
            built: false,
            axis: -1,
        }
    }

    /// Sets the concatenation axis (negative counts from the end; `0` is the batch axis).
    pub fn axis(mut self, axis: isize) -> Concatenate {
        self.axis = axis;
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Concatenate {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config (`axis`, default `-1`).
    ///
    /// # Errors
    /// When a field has the wrong type.
    pub fn from_config(c: &Value) -> Result<Concatenate> {
        let (name, trainable) = base_from_config(c, "concatenate")?;
        Ok(Concatenate {
            name,
            trainable,
            built: false,
            axis: field(c, "axis", -1)?,
        })
    }

    /// The output shape, checking the inputs as Keras's `Concatenate.build` does.
    fn output_shape(&self, shapes: &[Shape]) -> Result<Shape> {
        Arity::AtLeast2.check(&self.name, shapes.len())?;
        let rank = shapes[0].len();
        if shapes.iter().any(|s| s.len() != rank) {
            return Err(shapes_error(&self.name, "inputs must have the same rank", shapes));
        }
        let a = if self.axis < 0 {
            self.axis + rank as isize
        } else {
            self.axis
        };
        if !(0..rank as isize).contains(&a) {
            return Err(shapes_error(
                &self.name,
                &format!("axis {} is out of range for inputs of rank {rank}", self.axis),
                shapes,
            ));
        }
        let a = a as usize;
        for d in (0..rank).filter(|&d| d != a) {
            let mut known = shapes.iter().filter_map(|s| s[d]);
            if let Some(first) = known.next() {
                if known.any(|k| k != first) {
                    return Err(shapes_error(
                        &self.name,
                        &format!(
                            "inputs must have matching shapes except for the concatenation axis {}",
                            self.axis
                        ),
                        shapes,
                    ));
                }
            }
        }
        let mut out = shapes[0].clone();
        out[a] = shapes.iter().map(|s| s[a]).sum::<Option<usize>>();
        Ok(out)
    }
}

impl Layer for Concatenate {
    merge_common!("Concatenate", Arity::AtLeast2);
    fn build_multi(&mut self, input_shapes: &[Shape]) -> Result<()> {
        self.output_shape(input_shapes)?;
        self.built = true;
        Ok(())
    }
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        Ok(vec![self.output_shape(input_shapes)?])
    }
    fn call_multi(&self, inputs: &[Tensor], _training: bool) -> Result<Vec<Tensor>> {
        self.output_shape(&shapes_of(inputs)).map_err(|e| match e {
            Error::InvalidArgument { msg, .. } => Error::InvalidArgument { op: "call", msg },
            e => e,
        })?;
        let refs: Vec<&Tensor> = inputs.iter().collect();
        Ok(vec![Tensor::concat(&refs, self.axis)?])
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// Keras's `Concatenate.compute_mask`: each input's mask widened to the input's shape
    /// (all true for an unmasked input), concatenated on `axis`, then any over the last axis.
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let ys = self.call_multi(inputs, training)?;
        if masks.len() != inputs.len() || masks.iter().all(Option::is_none) {
            return Ok((ys, vec![None]));
        }
        let mut full = Vec::with_capacity(inputs.len());
        for (x, m) in inputs.iter().zip(masks) {
            full.push(match m {
                None => Tensor::ones(x.shape(), keras_tensor::DType::Bool, x.device())?,
                Some(m) => {
                    let mut m = m.cast(keras_tensor::DType::Bool)?;
                    if m.rank() < x.rank() {
                        m = m.expand_dims(-1)?;
                    }
                    m.broadcast_to(x.shape())?.contiguous()?
                }
            });
        }
        let joined = Tensor::concat(&full.iter().collect::<Vec<_>>(), self.axis)?;
        let any = joined
            .cast(keras_tensor::DType::F32)?
            .max(&[-1], false)?
            .cast(keras_tensor::DType::Bool)?;
        Ok((ys, vec![Some(any)]))
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("axis".into(), json!(self.axis));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Concatenate;

    #[test]
    fn concatenate_passes_the_merge_harness() {
        run_merge_test(Box::new(Concatenate::new()), &[&[3, 2], &[3, 4], &[3, 1]]);
        run_merge_test(Box::new(Concatenate::new().axis(1)), &[&[3, 2], &[1, 2]]);
    }

    #[test]
    fn concatenate_matches_keras() {
        let (a, b) = (seq(&[2, 3], -1.0, 0.5), seq(&[2, 3], 2.0, -0.75));
        let y = Concatenate::new().call_multi(&[a, b], false).unwrap();
        let expect = [-1.0, -0.5, 0.0, 2.0, 1.25, 0.5, 0.5, 1.0, 1.5, -0.25, -1.0, -1.75];
        assert_values("concatenate", &y[0], &[2, 6], &expect);
        let y = Concatenate::new()
            .axis(1)
            .call_multi(&[seq(&[2, 1, 3], 0.0, 1.0), seq(&[2, 2, 3], 10.0, 1.0)], false)
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
            3.0, 4.0, 5.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0,
        ];
        assert_values("concatenate axis 1", &y[0], &[2, 3, 3], &expect);
    }

    #[test]
    fn concatenate_shape_rules() {
        let l = Concatenate::new().name("cat");
        // Unknown dimensions: the concatenated one becomes unknown, others match anything.
        let out = l
            .compute_output_shapes(&[vec![None, None, Some(2)], vec![None, Some(4), Some(3)]])
            .unwrap();
        assert_eq!(out, vec![vec![None, None, Some(5)]]);
        let out = l
            .compute_output_shapes(&[vec![None, Some(4), None], vec![None, Some(4), Some(3)]])
            .unwrap();
        assert_eq!(out, vec![vec![None, Some(4), None]]);
        let e = l
            .compute_output_shapes(&[vec![None, Some(4), Some(2)], vec![None, Some(5), Some(3)]])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"cat\"") && e.contains("[(None, 4, 2), (None, 5, 3)]"),
            "{e}"
        );
        let e = l
            .compute_output_shapes(&[vec![None, Some(2)], vec![None, Some(1), Some(2)]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("same rank"), "{e}");
        let e = Concatenate::new()
            .axis(3)
            .compute_output_shapes(&[vec![None, Some(2)], vec![None, Some(2)]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("axis 3 is out of range"), "{e}");
        let e = l.compute_output_shape(&[None, Some(2)]).unwrap_err().to_string();
        assert!(e.contains("expects a list of at least 2 inputs"), "{e}");
    }
}
