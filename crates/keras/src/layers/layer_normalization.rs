//! `LayerNormalization`: normalizes each example over the given axes.

use super::batch_normalization::{compute_input, normalize_axis};
use super::{
    base_config, config_name, field, fmt_shape, shape_error, unique_name, Layer, Shape, WeightRules,
};
use crate::constraints::Constraint;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Layer normalization, as `keras.layers.LayerNormalization`.
///
/// Each example is normalized over `axis` (the last by default; any set of axes):
/// `(x - mean) / sqrt(var + epsilon) * gamma + beta` with the (biased) variance;
/// `gamma` and `beta` have the shape of the normalized axes. Training and inference behave
/// the same.
///
/// `rms_scaling(true)` (deprecated in Keras 3, kept for loading old models) computes
/// `x / sqrt(var + epsilon) * gamma`: no centering and no `beta`, with `gamma` created even
/// when `scale` is false. For true RMS normalization Keras has `RMSNormalization`.
///
/// ```
/// use keras::layers::{Layer, LayerNormalization};
/// use keras_tensor::Tensor;
/// let mut ln = LayerNormalization::new();
/// ln.build(&[None, Some(4)])?;
/// assert_eq!(ln.count_params(), 8); // gamma and beta, (4,) each
/// let y = ln.call(&Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[1, 4])?, false)?;
/// let v = y.to_vec::<f32>()?; // mean 0, variance ≈ 1
/// assert!(v.iter().sum::<f32>().abs() < 1e-5 && (v[3] - 1.3411).abs() < 1e-3);
/// let mut over_two = LayerNormalization::new().axes(&[1, 2]);
/// over_two.build(&[None, Some(3), Some(4)])?;
/// assert_eq!(over_two.gamma().unwrap().shape(), vec![3, 4]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct LayerNormalization {
    name: String,
    axis: Vec<isize>,
    /// Whether `axis` is written as a list (given as one, or after `build`, as in Keras).
    axis_is_list: bool,
    epsilon: f64,
    center: bool,
    scale: bool,
    rms_scaling: bool,
    beta_initializer: Initializer,
    gamma_initializer: Initializer,
    beta_rules: WeightRules,
    gamma_rules: WeightRules,
    trainable: bool,
    input_shape: Option<Shape>,
    gamma: Option<Variable>,
    beta: Option<Variable>,
}

impl Default for LayerNormalization {
    fn default() -> LayerNormalization {
        LayerNormalization::new()
    }
}

impl LayerNormalization {
    /// Keras's defaults: `axis=-1`, `epsilon=1e-3`, `center` and `scale`, ones for `gamma`,
    /// zeros for `beta`.
    pub fn new() -> LayerNormalization {
        LayerNormalization {
            name: unique_name("layer_normalization"),
            axis: vec![-1],
            axis_is_list: false,
            epsilon: 1e-3,
            center: true,
            scale: true,
            rms_scaling: false,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            beta_rules: WeightRules::default(),
            gamma_rules: WeightRules::default(),
            trainable: true,
            input_shape: None,
            gamma: None,
            beta: None,
        }
    }

    /// Normalizes over one axis (negative counts from the end).
    pub fn axis(mut self, axis: isize) -> LayerNormalization {
        self.axis = vec![axis];
        self.axis_is_list = false;
        self
    }

    /// Normalizes over several axes (Keras's `axis=[...]`).
    pub fn axes(mut self, axes: &[isize]) -> LayerNormalization {
        self.axis = axes.to_vec();
        self.axis_is_list = true;
        self
    }

    /// Added to the variance before the square root.
    pub fn epsilon(mut self, epsilon: f64) -> LayerNormalization {
        self.epsilon = epsilon;
        self
    }

    /// Whether to add the learned offset `beta`.
    pub fn center(mut self, center: bool) -> LayerNormalization {
        self.center = center;
        self
    }

    /// Whether to multiply by the learned scale `gamma`.
    pub fn scale(mut self, scale: bool) -> LayerNormalization {
        self.scale = scale;
        self
    }

    /// Keras's deprecated `rms_scaling`: `x / sqrt(var + epsilon) * gamma` (see the type's
    /// documentation).
    pub fn rms_scaling(mut self, rms_scaling: bool) -> LayerNormalization {
        self.rms_scaling = rms_scaling;
        self
    }

    /// Sets the `beta` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn beta_initializer(mut self, name: &str) -> Result<LayerNormalization> {
        self.beta_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the `gamma` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn gamma_initializer(mut self, name: &str) -> Result<LayerNormalization> {
        self.gamma_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// A penalty on `beta` added to the training loss.
    pub fn beta_regularizer(mut self, r: Regularizer) -> LayerNormalization {
        self.beta_rules.regularizer = Some(r);
        self
    }

    /// A penalty on `gamma` added to the training loss.
    pub fn gamma_regularizer(mut self, r: Regularizer) -> LayerNormalization {
        self.gamma_rules.regularizer = Some(r);
        self
    }

    /// A constraint the optimizer applies to `beta` after each update.
    pub fn beta_constraint(mut self, c: Constraint) -> LayerNormalization {
        self.beta_rules.constraint = Some(c);
        self
    }

    /// A constraint the optimizer applies to `gamma` after each update.
    pub fn gamma_constraint(mut self, c: Constraint) -> LayerNormalization {
        self.gamma_rules.constraint = Some(c);
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> LayerNormalization {
        self.name = name.to_string();
        self
    }

    /// The learned scale, once built (when `scale` or `rms_scaling`).
    pub fn gamma(&self) -> Option<&Variable> {
        self.gamma.as_ref()
    }

    /// The learned offset, once built (when `center` and not `rms_scaling`).
    pub fn beta(&self) -> Option<&Variable> {
        self.beta.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For invalid values (`axis` must be an integer or a list of integers) or unknown
    /// initializers, regularizers or constraints.
    pub fn from_config(c: &Value) -> Result<LayerNormalization> {
        let mut l = match c.get("axis") {
            None | Some(Value::Null) => LayerNormalization::new(),
            Some(Value::Array(_)) => LayerNormalization::new().axes(&field::<Vec<isize>>(c, "axis", vec![])?),
            Some(_) => LayerNormalization::new().axis(field(c, "axis", -1)?),
        };
        l = l
            .epsilon(field(c, "epsilon", 1e-3)?)
            .center(field(c, "center", true)?)
            .scale(field(c, "scale", true)?)
            .rms_scaling(field(c, "rms_scaling", false)?);
        let init = |k: &str, default: Initializer| match c.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => Initializer::from_config(v),
        };
        l.beta_initializer = init("beta_initializer", Initializer::Zeros)?;
        l.gamma_initializer = init("gamma_initializer", Initializer::Ones)?;
        l.beta_rules = WeightRules::from_config(c, "beta")?;
        l.gamma_rules = WeightRules::from_config(c, "gamma")?;
        l.name = config_name(c, "layer_normalization")?;
        l.trainable = field(c, "trainable", true)?;
        Ok(l)
    }

    /// The axes sorted as Keras sorts them (by value, so `-1` before `1`) and their
    /// positions in a rank-`rank` input.
    fn resolve_axes(&self, s: &[Option<usize>]) -> Result<(Vec<isize>, Vec<usize>)> {
        let mut sorted = self.axis.clone();
        sorted.sort_unstable();
        let mut pos = Vec::with_capacity(sorted.len());
        for &a in &sorted {
            let Some(p) = normalize_axis(a, s.len()) else {
                return Err(shape_error(
                    &self.name,
                    &format!("an input with every axis of {:?}", self.axis),
                    s,
                ));
            };
            if pos.contains(&p) {
                return Err(Error::InvalidArgument {
                    op: "build",
                    msg: format!("layer {:?}: axis {:?} names axis {p} twice", self.name, self.axis),
                });
            }
            pos.push(p);
        }
        if sorted.is_empty() {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!("layer {:?}: axis must name at least one axis", self.name),
            });
        }
        Ok((sorted, pos))
    }
}

impl Layer for LayerNormalization {
    super::layer_common!("LayerNormalization");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        self.input_shape.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let (sorted, pos) = self.resolve_axes(input_shape)?;
        let shape = pos
            .iter()
            .map(|&p| input_shape[p])
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                shape_error(
                    &self.name,
                    &format!("known sizes on axes {sorted:?}"),
                    input_shape,
                )
            })?;
        self.gamma = if self.scale || self.rms_scaling {
            let v = self.gamma_initializer.sample(&shape, DType::F32)?;
            Some(self.gamma_rules.attach(Variable::new("gamma", v, true)))
        } else {
            None
        };
        self.beta = if self.center && !self.rms_scaling {
            let v = self.beta_initializer.sample(&shape, DType::F32)?;
            Some(self.beta_rules.attach(Variable::new("beta", v, true)))
        } else {
            None
        };
        // Keras's build turns `axis` into the sorted list it serializes from then on.
        self.axis = sorted;
        self.axis_is_list = true;
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        self.resolve_axes(input_shape)?;
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let Some(built) = &self.input_shape else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        let (axes, pos) = self.resolve_axes(built)?;
        if x.rank() != built.len() || pos.iter().any(|&p| Some(x.shape()[p]) != built[p]) {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} was built for input shape {} (normalizing axes {axes:?}) \
                     but got a tensor of shape {:?}",
                    self.name,
                    fmt_shape(built),
                    x.shape()
                ),
            });
        }
        let x = compute_input(x)?;
        // Weights of shape `input[sorted axes]`, reshaped (not transposed, as Keras does) to
        // broadcast against the input.
        let mut bshape = vec![1; x.rank()];
        for &p in &pos {
            bshape[p] = x.shape()[p];
        }
        let prep = |v: &Variable| v.value().cast(x.dtype())?.reshape_to(&bshape);
        let gamma = self.gamma.as_ref().map(prep).transpose()?;
        if self.rms_scaling {
            let y = x.mul(&x.var(&axes, true)?.add_scalar(self.epsilon)?.rsqrt()?)?;
            return match gamma {
                Some(g) => y.mul(&g),
                None => Ok(y),
            };
        }
        let beta = self.beta.as_ref().map(prep).transpose()?;
        x.layer_norm(&axes, gamma.as_ref(), beta.as_ref(), self.epsilon)
    }
    fn weights(&self) -> Vec<Variable> {
        self.gamma.iter().chain(self.beta.iter()).cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        let axis = if self.axis_is_list {
            json!(self.axis)
        } else {
            json!(self.axis[0])
        };
        m.insert("axis".into(), axis);
        m.insert("epsilon".into(), json!(self.epsilon));
        m.insert("center".into(), json!(self.center));
        m.insert("scale".into(), json!(self.scale));
        m.insert("rms_scaling".into(), json!(self.rms_scaling));
        m.insert("beta_initializer".into(), self.beta_initializer.get_config());
        m.insert("gamma_initializer".into(), self.gamma_initializer.get_config());
        self.beta_rules.to_config(&mut m, "beta");
        self.gamma_rules.to_config(&mut m, "gamma");
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{check_grad, randn};

    /// `(arange(24) ** 1.5 / 10).reshape(2, 3, 4)`, the input of the Keras reference values.
    fn ramp() -> Tensor {
        let v: Vec<f32> = (0..24).map(|i| (i as f32).powf(1.5) / 10.0).collect();
        Tensor::new(&v, &[2, 3, 4]).unwrap()
    }

    fn assert_near(ctx: &str, got: &[f32], want: &[f32], tol: f32) {
        assert!(got.len() >= want.len(), "{ctx}: {got:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{ctx}[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn layer_normalization_passes_the_layer_harness() {
        run_layer_test(Box::new(LayerNormalization::new()), &[3], 2);
        run_layer_test(Box::new(LayerNormalization::new().axes(&[1, 2])), &[3, 4], 2);
        run_layer_test(
            Box::new(LayerNormalization::new().axis(1).center(false)),
            &[3, 4],
            1,
        );
        run_layer_test(
            Box::new(LayerNormalization::new().scale(false).center(false)),
            &[5],
            0,
        );
        run_layer_test(Box::new(LayerNormalization::new().rms_scaling(true)), &[2, 5], 1);
    }

    #[test]
    fn outputs_match_keras() {
        // Keras 3: LayerNormalization(axis=[-1, 1]) with gamma = arange(12).reshape(4, 3) / 10,
        // beta = -arange(12).reshape(4, 3) / 20 (weights of shape (input[-1], input[1])).
        let mut l = LayerNormalization::new().axes(&[-1, 1]);
        l.build(&[None, Some(3), Some(4)]).unwrap();
        assert_eq!(l.gamma().unwrap().shape(), vec![4, 3]);
        let g: Vec<f32> = (0..12).map(|i| i as f32 / 10.0).collect();
        let b: Vec<f32> = (0..12).map(|i| -(i as f32) / 20.0).collect();
        l.gamma()
            .unwrap()
            .assign(&Tensor::new(&g, &[4, 3]).unwrap())
            .unwrap();
        l.beta()
            .unwrap()
            .assign(&Tensor::new(&b, &[4, 3]).unwrap())
            .unwrap();
        let y = l.call(&ramp(), true).unwrap().to_vec::<f32>().unwrap();
        let keras = [
            0.0,
            -0.16763963,
            -0.304396,
            -0.3966056,
            -0.4340901,
            -0.40831804,
            -0.31178927,
            -0.1377306,
            0.1200831,
            0.46744347,
            0.90978885,
            1.4522624,
            0.0,
            -0.17676765,
            -0.302557,
        ];
        assert_near("axes[-1, 1]", &y, &keras, 1e-5);
        assert_eq!(l.get_config()["axis"], json!([-1, 1]));

        // Keras 3: LayerNormalization(rms_scaling=True): x / sqrt(var + eps), no beta.
        let mut l = LayerNormalization::new().rms_scaling(true);
        l.build(&[None, Some(3), Some(4)]).unwrap();
        let names: Vec<String> = l.weights().iter().map(|w| w.name().to_string()).collect();
        assert_eq!(names, ["gamma"]);
        let y = l.call(&ramp(), false).unwrap().to_vec::<f32>().unwrap();
        assert_near(
            "rms",
            &y,
            &[0.0, 0.49938795, 1.4124823, 2.594896, 2.0316007, 2.8392484],
            1e-5,
        );
    }

    #[test]
    fn config_matches_keras() {
        let l = LayerNormalization::new().gamma_regularizer(Regularizer::L1(0.1));
        let c = l.get_config();
        assert_eq!(c["axis"], json!(-1));
        assert_eq!(c["epsilon"], json!(0.001));
        assert_eq!(c["rms_scaling"], json!(false));
        assert_eq!(c["gamma_regularizer"]["class_name"], "L1");
        assert_eq!(c["beta_constraint"], Value::Null);
        assert_eq!(c["beta_initializer"], Initializer::Zeros.get_config());
        let mut again = LayerNormalization::from_config(&c).unwrap();
        assert_eq!(again.get_config(), c);
        // Keras's build rewrites `axis` as a sorted list.
        again.build(&[None, Some(2)]).unwrap();
        assert_eq!(again.get_config()["axis"], json!([-1]));
        assert_eq!(again.gamma().unwrap().regularizer(), Some(Regularizer::L1(0.1)));
        let l = LayerNormalization::from_config(&json!({"axis": [2, 1]})).unwrap();
        assert_eq!(l.get_config()["axis"], json!([2, 1]));
        assert!(LayerNormalization::from_config(&json!({"axis": "last"})).is_err());
    }

    #[test]
    fn bad_axes_and_shapes_name_the_layer() {
        let mut l = LayerNormalization::new().axis(2).name("ln");
        let e = l.build(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("ln") && e.contains("(None, 3)"), "{e}");
        let mut l = LayerNormalization::new().axes(&[1, -1]).name("ln");
        let e = l.build(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("ln") && e.contains("twice"), "{e}");
        let mut l = LayerNormalization::new().name("ln");
        l.build(&[None, Some(3)]).unwrap();
        let x = Tensor::zeros(&[2, 4], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let e = l.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("ln") && e.contains("(None, 3)") && e.contains("[2, 4]"),
            "{e}"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (axes, rms) in [
            (vec![-1], false),
            (vec![1, 2], false),
            (vec![1], false),
            (vec![-1], true),
        ] {
            let mut l = LayerNormalization::new().axes(&axes).rms_scaling(rms);
            l.build(&[None, Some(3), Some(4)]).unwrap();
            let g = l.gamma().unwrap();
            let n = g.numel();
            let v: Vec<f32> = (0..n).map(|i| 0.5 - 0.3 * i as f32).collect();
            g.assign(&Tensor::new(&v, &g.shape()).unwrap()).unwrap();
            check_grad(
                &format!("layer_norm{axes:?} rms={rms}"),
                &[&randn(&[2, 3, 4], 5)],
                |t| l.call(&t[0], true),
            );
        }
    }
}
