//! What the merge layers (`Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
//! `Concatenate`, `Dot`) share: the rule on the number of inputs, Keras's broadcasting of merge
//! input shapes, the rank alignment before an elementwise op, the common config, and the
//! `Layer` methods every merge layer writes the same way.
//!
//! A merge layer takes a list of inputs: it implements [`Layer::build_multi`],
//! [`Layer::compute_output_shapes`] and [`Layer::call_multi`]; the single-input `build`,
//! `compute_output_shape` and `call` refuse with an error saying a list is expected.
//!
//! [`Layer::build_multi`]: super::Layer::build_multi
//! [`Layer::compute_output_shapes`]: super::Layer::compute_output_shapes
//! [`Layer::call_multi`]: super::Layer::call_multi

use super::{arity_error, config_name, field, fmt_shape, Shape};
use keras_tensor::{Error, Result, Tensor};
use serde_json::Value;

/// How many inputs a merge layer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arity {
    /// Two or more (`Add`, `Concatenate`, …).
    AtLeast2,
    /// Exactly two (`Subtract`, `Dot`).
    Exactly2,
}

impl Arity {
    /// `"a list of at least 2 inputs"` / `"a list of exactly 2 inputs"`.
    pub fn describe(self) -> &'static str {
        match self {
            Arity::AtLeast2 => "a list of at least 2 inputs",
            Arity::Exactly2 => "a list of exactly 2 inputs",
        }
    }

    /// Checks the number of inputs given to `layer`.
    pub fn check(self, layer: &str, n: usize) -> Result<()> {
        let ok = match self {
            Arity::AtLeast2 => n >= 2,
            Arity::Exactly2 => n == 2,
        };
        if ok {
            Ok(())
        } else {
            Err(arity_error(layer, self.describe(), n))
        }
    }
}

/// Error for a merge layer used through a single-input method (`build`, `call`, …).
pub(crate) fn single_input_error(layer: &str, arity: Arity, op: &'static str) -> Error {
    Error::InvalidArgument {
        op,
        msg: format!(
            "layer {layer:?} expects {}, got a single input (use build_multi / \
             compute_output_shapes / call_multi)",
            arity.describe()
        ),
    }
}

/// Error naming the layer, what is wrong and every input shape.
pub(crate) fn shapes_error(layer: &str, what: &str, shapes: &[Shape]) -> Error {
    let all: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
    Error::InvalidArgument {
        op: "build",
        msg: format!("layer {layer:?}: {what}; got input shapes [{}]", all.join(", ")),
    }
}

/// The concrete shapes of tensors, as symbolic shapes (to run the build checks at call time).
pub(crate) fn shapes_of(inputs: &[Tensor]) -> Vec<Shape> {
    inputs
        .iter()
        .map(|x| x.shape().iter().map(|&d| Some(d)).collect())
        .collect()
}

/// Every input must have a batch axis; known batch sizes must agree. Returns the batch size
/// (`None` when no input knows it).
pub(crate) fn common_batch(layer: &str, shapes: &[Shape]) -> Result<Option<usize>> {
    if shapes.iter().any(|s| s.is_empty()) {
        return Err(shapes_error(layer, "every input needs a batch axis", shapes));
    }
    let mut batch = None;
    for b in shapes.iter().filter_map(|s| s[0]) {
        match batch {
            Some(b0) if b0 != b => {
                return Err(shapes_error(
                    layer,
                    "cannot merge inputs with different batch sizes",
                    shapes,
                ))
            }
            _ => batch = Some(b),
        }
    }
    Ok(batch)
}

/// Keras's `_compute_elemwise_op_output_shape` on two shapes without their batch axis:
/// right-aligned; a dimension of 1 broadcasts; an unknown dimension gives an unknown one;
/// `None` when two known dimensions differ.
fn broadcast_pair(a: &[Option<usize>], b: &[Option<usize>]) -> Option<Shape> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let lead = long.len() - short.len();
    let mut out: Shape = long[..lead].to_vec();
    for (&i, &j) in long[lead..].iter().zip(short) {
        out.push(match (i, j) {
            (None, _) | (_, None) => None,
            (Some(1), j) => j,
            (i, Some(1)) => i,
            (Some(i), Some(j)) if i == j => Some(i),
            _ => return None,
        });
    }
    Some(out)
}

/// The output shape of an elementwise merge (Keras's `Merge.compute_output_shape`): the
/// inputs' shapes past the batch axis broadcast right-aligned, inputs of lower rank getting
/// axes of 1 after the batch axis; the batch is the one known batch size, else `None`.
///
/// # Errors
/// For the wrong number of inputs, an input without a batch axis, different batch sizes or
/// shapes that do not broadcast (the error names the layer and lists every shape).
pub(crate) fn elementwise_output_shape(layer: &str, arity: Arity, shapes: &[Shape]) -> Result<Shape> {
    arity.check(layer, shapes.len())?;
    let batch = common_batch(layer, shapes)?;
    let mut out = shapes[0][1..].to_vec();
    for s in &shapes[1..] {
        out = broadcast_pair(&out, &s[1..])
            .ok_or_else(|| shapes_error(layer, "inputs have incompatible shapes", shapes))?;
    }
    out.insert(0, batch);
    Ok(out)
}

/// Applies `merge` to the inputs after Keras's alignment (inputs of lower rank get axes of 1
/// inserted after the batch axis), checking the shapes first so errors name the layer.
///
/// # Errors
/// As [`elementwise_output_shape`], or what `merge` returns.
pub(crate) fn elementwise_call(
    layer: &str,
    arity: Arity,
    inputs: &[Tensor],
    merge: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<Tensor> {
    elementwise_output_shape(layer, arity, &shapes_of(inputs)).map_err(|e| match e {
        Error::InvalidArgument { msg, .. } => Error::InvalidArgument { op: "call", msg },
        e => e,
    })?;
    let rank = inputs.iter().map(Tensor::rank).max().unwrap_or(0);
    let mut aligned = Vec::with_capacity(inputs.len());
    for x in inputs {
        let mut x = x.clone();
        while x.rank() < rank {
            x = x.expand_dims(1)?;
        }
        aligned.push(x);
    }
    merge(&aligned)
}

/// `op(…op(op(x0, x1), x2)…)`, left to right as Keras folds its merges.
///
/// # Errors
/// What `op` returns; for an empty list.
pub(crate) fn fold(xs: &[Tensor], op: impl Fn(&Tensor, &Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let (first, rest) = xs.split_first().ok_or_else(|| Error::InvalidArgument {
        op: "merge",
        msg: "no inputs".into(),
    })?;
    rest.iter().try_fold(first.clone(), |acc, x| op(&acc, x))
}

/// The name and `trainable` flag from a merge layer's config (a fresh name from `prefix`
/// when the config has none).
///
/// # Errors
/// When a field has the wrong type.
pub(crate) fn base_from_config(c: &Value, prefix: &str) -> Result<(String, bool)> {
    Ok((config_name(c, prefix)?, field(c, "trainable", true)?))
}

/// The `Layer` methods every merge layer writes the same way (from its `name`, `trainable`
/// and `built` fields): the common ones, `built`, and the single-input `build`,
/// `compute_output_shape` and `call`, which refuse since a merge takes a list of inputs.
macro_rules! merge_common {
    ($class:literal, $arity:expr) => {
        $crate::layers::layer_common!($class);
        fn built(&self) -> bool {
            self.built
        }
        fn build(&mut self, _input_shape: &[Option<usize>]) -> keras_tensor::Result<()> {
            Err($crate::layers::merge::single_input_error(
                &self.name, $arity, "build",
            ))
        }
        fn compute_output_shape(
            &self,
            _input_shape: &[Option<usize>],
        ) -> keras_tensor::Result<$crate::layers::Shape> {
            Err($crate::layers::merge::single_input_error(
                &self.name,
                $arity,
                "compute_output_shape",
            ))
        }
        fn call(
            &self,
            _x: &keras_tensor::Tensor,
            _training: bool,
        ) -> keras_tensor::Result<keras_tensor::Tensor> {
            Err($crate::layers::merge::single_input_error(
                &self.name, $arity, "call",
            ))
        }
    };
}
pub(crate) use merge_common;

/// Defines an elementwise merge layer: the struct (with the given docs), `new`, `name`,
/// `from_config` and the whole `Layer` impl, from the Keras class name, the name prefix, the
/// arity and the merge function `Fn(&[Tensor]) -> Result<Tensor>` applied to the inputs
/// once aligned to the same rank.
macro_rules! elementwise_layer {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $prefix:literal, $arity:expr, $merge:expr) => {
        $(#[$doc])*
        pub struct $ty {
            name: String,
            trainable: bool,
            built: bool,
        }

        impl $ty {
            #[doc = concat!("A new `", $class, "` layer (named `", $prefix, "`, `", $prefix, "_1`, …).")]
            #[allow(clippy::new_without_default)]
            pub fn new() -> $ty {
                $ty {
                    name: $crate::layers::unique_name($prefix),
                    trainable: true,
                    built: false,
                }
            }

            /// Sets the layer name.
            pub fn name(mut self, name: &str) -> $ty {
                self.name = name.to_string();
                self
            }

            /// Rebuilds from a Keras config (`name`, `trainable`, `dtype`; the layer has no
            /// other arguments).
            ///
            /// # Errors
            /// When a field has the wrong type.
            pub fn from_config(c: &serde_json::Value) -> keras_tensor::Result<$ty> {
                let (name, trainable) = $crate::layers::merge::base_from_config(c, $prefix)?;
                Ok($ty {
                    name,
                    trainable,
                    built: false,
                })
            }
        }

        impl $crate::layers::Layer for $ty {
            $crate::layers::merge::merge_common!($class, $arity);
            fn build_multi(&mut self, input_shapes: &[$crate::layers::Shape]) -> keras_tensor::Result<()> {
                $crate::layers::merge::elementwise_output_shape(&self.name, $arity, input_shapes)?;
                self.built = true;
                Ok(())
            }
            fn compute_output_shapes(
                &self,
                input_shapes: &[$crate::layers::Shape],
            ) -> keras_tensor::Result<Vec<$crate::layers::Shape>> {
                Ok(vec![$crate::layers::merge::elementwise_output_shape(
                    &self.name,
                    $arity,
                    input_shapes,
                )?])
            }
            fn call_multi(
                &self,
                inputs: &[keras_tensor::Tensor],
                _training: bool,
            ) -> keras_tensor::Result<Vec<keras_tensor::Tensor>> {
                Ok(vec![$crate::layers::merge::elementwise_call(&self.name, $arity, inputs, $merge)?])
            }
            fn supports_masking(&self) -> bool {
                true
            }
            fn call_multi_masked(
                &self,
                inputs: &[keras_tensor::Tensor],
                masks: &[Option<keras_tensor::Tensor>],
                training: bool,
            ) -> keras_tensor::Result<(Vec<keras_tensor::Tensor>, Vec<Option<keras_tensor::Tensor>>)> {
                let ys = $crate::layers::Layer::call_multi(self, inputs, training)?;
                Ok((ys, vec![$crate::layers::merge::merge_masks(inputs.len(), masks)?]))
            }
            fn get_config(&self) -> serde_json::Value {
                serde_json::Value::Object($crate::layers::base_config(&self.name, self.trainable))
            }
        }
    };
}
pub(crate) use elementwise_layer;

/// Keras's `Merge.compute_mask`: the logical or of the inputs' masks when every input has
/// one, else no mask.
pub(crate) fn merge_masks(n_inputs: usize, masks: &[Option<Tensor>]) -> Result<Option<Tensor>> {
    if masks.len() != n_inputs || masks.iter().any(Option::is_none) {
        return Ok(None);
    }
    let mut out: Option<Tensor> = None;
    for m in masks.iter().flatten() {
        let m = m.cast(keras_tensor::DType::Bool)?;
        out = Some(match out {
            Some(o) => o.logical_or(&m)?,
            None => m,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod testing {
    //! `run_merge_test`: the multi-input counterpart of `run_layer_test`.
    use super::super::{from_config, Layer, Shape};
    use keras_tensor::{DType, Device, Tensor};

    /// A tensor of `shape` holding `start, start + step, …` (the values the reference numbers
    /// from Keras were computed on).
    pub(crate) fn seq(shape: &[usize], start: f32, step: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| start + step * i as f32).collect();
        Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    /// Asserts `y` has `shape` and values within 1e-5 of `expect`.
    pub(crate) fn assert_values(ctx: &str, y: &Tensor, shape: &[usize], expect: &[f64]) {
        let e = Tensor::from_vec(expect.to_vec(), shape, &Device::Cpu).unwrap();
        keras_tensor::testing::assert_close(ctx, &y.cast(DType::F64).unwrap(), &e, 1e-5, 1e-6);
    }

    /// Builds the layer with `build_multi` for `input_shapes` (batch `None`), checks that it
    /// has no weights, that `call_multi` on a batch of 2 gives `compute_output_shapes`, that
    /// the single-input methods refuse, and that the config round-trips through the registry
    /// to an equal config. Returns the outputs.
    pub(crate) fn run_merge_test(mut layer: Box<dyn Layer>, input_shapes: &[&[usize]]) -> Vec<Tensor> {
        let shapes: Vec<Shape> = input_shapes
            .iter()
            .map(|s| std::iter::once(None).chain(s.iter().map(|&d| Some(d))).collect())
            .collect();
        assert!(layer.build(&shapes[0]).is_err(), "single-input build must refuse");
        layer.build_multi(&shapes).unwrap();
        assert!(layer.built());
        assert!(layer.weights().is_empty());
        let xs: Vec<Tensor> = input_shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut b = vec![2];
                b.extend_from_slice(s);
                Tensor::random_normal(&b, 0.0, 1.0, 10 + i as u64, DType::F32, &Device::Cpu).unwrap()
            })
            .collect();
        assert!(
            layer.call(&xs[0], false).is_err(),
            "single-input call must refuse"
        );
        let ys = layer.call_multi(&xs, false).unwrap();
        let expect = layer.compute_output_shapes(&shapes).unwrap();
        assert_eq!(ys.len(), expect.len());
        for (y, e) in ys.iter().zip(&expect) {
            assert_eq!(e[0], None, "batch stays unknown");
            assert_eq!(y.shape()[0], 2);
            let e: Vec<usize> = e[1..].iter().map(|d| d.expect("known dim")).collect();
            assert_eq!(&y.shape()[1..], &e[..], "{}: output shape", layer.name());
        }
        let config = layer.get_config();
        let again = from_config(layer.class_name(), &config).unwrap();
        assert_eq!(again.get_config(), config, "config round trip");
        ys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(dims: &[Option<usize>]) -> Shape {
        dims.to_vec()
    }

    #[test]
    fn broadcasting_follows_keras() {
        let f = |shapes: &[Shape]| elementwise_output_shape("m", Arity::AtLeast2, shapes);
        // Values from keras.layers.Add / Multiply .compute_output_shape.
        assert_eq!(
            f(&[s(&[None, Some(3)]), s(&[None, Some(4), Some(3)])]).unwrap(),
            s(&[None, Some(4), Some(3)])
        );
        assert_eq!(
            f(&[s(&[None, Some(1), Some(3)]), s(&[None, Some(4), None])]).unwrap(),
            s(&[None, Some(4), None])
        );
        assert_eq!(
            f(&[s(&[Some(5), Some(3)]), s(&[None, Some(3)])]).unwrap(),
            s(&[Some(5), Some(3)])
        );
        let e = f(&[s(&[None, Some(3)]), s(&[None, Some(4)])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"m\"") && e.contains("(None, 3), (None, 4)"), "{e}");
        let e = f(&[s(&[Some(2), Some(3)]), s(&[Some(5), Some(3)])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("different batch sizes"), "{e}");
        let e = f(&[s(&[None, Some(3)])]).unwrap_err().to_string();
        assert!(e.contains("expects a list of at least 2 inputs, got 1"), "{e}");
        let e = elementwise_output_shape("m", Arity::Exactly2, &[s(&[None]), s(&[None]), s(&[None])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly 2 inputs, got 3"), "{e}");
        assert!(f(&[s(&[]), s(&[None])]).is_err());
    }
}
