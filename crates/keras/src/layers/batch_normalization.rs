//! `BatchNormalization`: normalizes with batch statistics in training and with their moving
//! averages in inference.

use super::{
    base_config, config_name, field, fmt_shape, shape_error, unique_name, Epilogue, Layer, Shape, WeightRules,
};
use crate::constraints::Constraint;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{no_grad, DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Batch normalization, as `keras.layers.BatchNormalization`.
///
/// For each channel `c` of `axis`: `gamma * (x - mean) / sqrt(var + epsilon) + beta`, where
/// in training (`training=true`) `mean` and `var` are the batch's mean and (biased) variance
/// over every other axis, and each such call updates the non-trainable moving statistics:
/// `moving = moving * momentum + batch * (1 - momentum)`; in inference they are
/// `moving_mean` and `moving_variance`.
///
/// As in Keras 3, a frozen layer (`set_trainable(false)`) runs in inference mode even when
/// called with `training=true`, and leaves its statistics alone.
///
/// Weights, in Keras's order: `gamma` (when `scale`), `beta` (when `center`), then the
/// non-trainable `moving_mean` and `moving_variance`, all of shape `(channels,)`.
///
/// ```
/// use keras::layers::{BatchNormalization, Layer};
/// use keras_tensor::Tensor;
/// let mut bn = BatchNormalization::new().momentum(0.9);
/// bn.build(&[None, Some(2)])?;
/// assert_eq!((bn.weights().len(), bn.trainable_weights().len()), (4, 2));
/// let x = Tensor::new(&[1.0f32, 10.0, 3.0, 30.0], &[2, 2])?;
/// let y = bn.call(&x, true)?; // batch statistics: each column becomes ≈ [-1, 1]
/// assert!((y.to_vec::<f32>()?[0] + 1.0).abs() < 1e-3);
/// // moving_mean = 0 * 0.9 + [2, 20] * 0.1
/// let m = bn.moving_mean().unwrap().value().to_vec::<f32>()?;
/// assert!((m[0] - 0.2).abs() < 1e-6 && (m[1] - 2.0).abs() < 1e-6);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct BatchNormalization {
    name: String,
    axis: isize,
    momentum: f64,
    epsilon: f64,
    center: bool,
    scale: bool,
    beta_initializer: Initializer,
    gamma_initializer: Initializer,
    moving_mean_initializer: Initializer,
    moving_variance_initializer: Initializer,
    beta_rules: WeightRules,
    gamma_rules: WeightRules,
    renorm_clipping: Value,
    renorm_momentum: f64,
    trainable: bool,
    input_shape: Option<Shape>,
    gamma: Option<Variable>,
    beta: Option<Variable>,
    moving_mean: Option<Variable>,
    moving_variance: Option<Variable>,
}

/// The dtype a normalization computes in: float64 inputs stay float64, everything else is
/// computed in float32 (Keras's `result_type(x.dtype, "float32")` under the float32 policy).
pub(super) fn compute_input(x: &Tensor) -> Result<Tensor> {
    if x.dtype() == DType::F64 || x.dtype() == DType::F32 {
        Ok(x.clone())
    } else {
        x.cast(DType::F32)
    }
}

/// `axis` counted from the front for a rank-`rank` input, or `None` when out of range.
pub(super) fn normalize_axis(axis: isize, rank: usize) -> Option<usize> {
    let r = rank as isize;
    (-r..r).contains(&axis).then(|| axis.rem_euclid(r) as usize)
}

impl Default for BatchNormalization {
    fn default() -> BatchNormalization {
        BatchNormalization::new()
    }
}

impl BatchNormalization {
    /// Keras's defaults: `axis=-1`, `momentum=0.99`, `epsilon=1e-3`, `center` and `scale`,
    /// zeros/ones initializers for `beta`/`gamma` and `moving_mean`/`moving_variance`.
    pub fn new() -> BatchNormalization {
        BatchNormalization {
            name: unique_name("batch_normalization"),
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-3,
            center: true,
            scale: true,
            beta_initializer: Initializer::Zeros,
            gamma_initializer: Initializer::Ones,
            moving_mean_initializer: Initializer::Zeros,
            moving_variance_initializer: Initializer::Ones,
            beta_rules: WeightRules::default(),
            gamma_rules: WeightRules::default(),
            renorm_clipping: Value::Null,
            renorm_momentum: 0.99,
            trainable: true,
            input_shape: None,
            gamma: None,
            beta: None,
            moving_mean: None,
            moving_variance: None,
        }
    }

    /// The channel axis (negative counts from the end; `1` for channels-first data).
    pub fn axis(mut self, axis: isize) -> BatchNormalization {
        self.axis = axis;
        self
    }

    /// Momentum of the moving averages.
    pub fn momentum(mut self, momentum: f64) -> BatchNormalization {
        self.momentum = momentum;
        self
    }

    /// Added to the variance before the square root.
    pub fn epsilon(mut self, epsilon: f64) -> BatchNormalization {
        self.epsilon = epsilon;
        self
    }

    /// Whether to add the learned offset `beta`.
    pub fn center(mut self, center: bool) -> BatchNormalization {
        self.center = center;
        self
    }

    /// Whether to multiply by the learned scale `gamma`.
    pub fn scale(mut self, scale: bool) -> BatchNormalization {
        self.scale = scale;
        self
    }

    /// Sets the `beta` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn beta_initializer(mut self, name: &str) -> Result<BatchNormalization> {
        self.beta_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the `gamma` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn gamma_initializer(mut self, name: &str) -> Result<BatchNormalization> {
        self.gamma_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the `moving_mean` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn moving_mean_initializer(mut self, name: &str) -> Result<BatchNormalization> {
        self.moving_mean_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the `moving_variance` initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn moving_variance_initializer(mut self, name: &str) -> Result<BatchNormalization> {
        self.moving_variance_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// A penalty on `beta` added to the training loss.
    pub fn beta_regularizer(mut self, r: Regularizer) -> BatchNormalization {
        self.beta_rules.regularizer = Some(r);
        self
    }

    /// A penalty on `gamma` added to the training loss.
    pub fn gamma_regularizer(mut self, r: Regularizer) -> BatchNormalization {
        self.gamma_rules.regularizer = Some(r);
        self
    }

    /// A constraint the optimizer applies to `beta` after each update.
    pub fn beta_constraint(mut self, c: Constraint) -> BatchNormalization {
        self.beta_rules.constraint = Some(c);
        self
    }

    /// A constraint the optimizer applies to `gamma` after each update.
    pub fn gamma_constraint(mut self, c: Constraint) -> BatchNormalization {
        self.gamma_rules.constraint = Some(c);
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> BatchNormalization {
        self.name = name.to_string();
        self
    }

    /// The learned scale, once built (and when `scale`).
    pub fn gamma(&self) -> Option<&Variable> {
        self.gamma.as_ref()
    }

    /// The learned offset, once built (and when `center`).
    pub fn beta(&self) -> Option<&Variable> {
        self.beta.as_ref()
    }

    /// The moving mean, once built.
    pub fn moving_mean(&self) -> Option<&Variable> {
        self.moving_mean.as_ref()
    }

    /// The moving variance, once built.
    pub fn moving_variance(&self) -> Option<&Variable> {
        self.moving_variance.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For invalid values, unknown initializers, regularizers or constraints, and for
    /// `synchronized=true` (TensorFlow-only in Keras 3; there is one device here) or
    /// `renorm=true` (batch renormalization is not implemented).
    pub fn from_config(c: &Value) -> Result<BatchNormalization> {
        let bad = |msg: &str| Error::InvalidArgument {
            op: "BatchNormalization.from_config",
            msg: msg.into(),
        };
        if field(c, "synchronized", false)? {
            return Err(bad(
                "synchronized=true is not supported (Keras 3 allows it only with the TensorFlow backend)",
            ));
        }
        if field(c, "renorm", false)? {
            return Err(bad("renorm=true (batch renormalization) is not supported"));
        }
        let mut b = BatchNormalization::new()
            .axis(field(c, "axis", -1)?)
            .momentum(field(c, "momentum", 0.99)?)
            .epsilon(field(c, "epsilon", 1e-3)?)
            .center(field(c, "center", true)?)
            .scale(field(c, "scale", true)?);
        let init = |k: &str, default: Initializer| match c.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => Initializer::from_config(v),
        };
        b.beta_initializer = init("beta_initializer", Initializer::Zeros)?;
        b.gamma_initializer = init("gamma_initializer", Initializer::Ones)?;
        b.moving_mean_initializer = init("moving_mean_initializer", Initializer::Zeros)?;
        b.moving_variance_initializer = init("moving_variance_initializer", Initializer::Ones)?;
        b.beta_rules = WeightRules::from_config(c, "beta")?;
        b.gamma_rules = WeightRules::from_config(c, "gamma")?;
        b.renorm_clipping = c.get("renorm_clipping").cloned().unwrap_or(Value::Null);
        b.renorm_momentum = field(c, "renorm_momentum", 0.99)?;
        b.name = config_name(c, "batch_normalization")?;
        b.trainable = field(c, "trainable", true)?;
        Ok(b)
    }

    fn channel_axis(&self, s: &[Option<usize>]) -> Result<usize> {
        normalize_axis(self.axis, s.len()).ok_or_else(|| {
            shape_error(
                &self.name,
                &format!(
                    "an input with axis {} (rank > {})",
                    self.axis,
                    self.axis.unsigned_abs().saturating_sub(1)
                ),
                s,
            )
        })
    }

    /// `v` of shape `(C,)` reshaped to broadcast along `axis` of a rank-`rank` input.
    fn broadcast(v: &Tensor, axis: usize, rank: usize) -> Result<Tensor> {
        if axis + 1 == rank {
            return Ok(v.clone());
        }
        let mut shape = vec![1; rank];
        shape[axis] = v.numel();
        v.reshape_to(&shape)
    }
}

impl Layer for BatchNormalization {
    super::layer_common!("BatchNormalization");
    /// Keeps the mask. NOTE: Keras also leaves masked steps out of the batch statistics
    /// while training; here they count (inference is the same).
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        self.moving_mean.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let a = self.channel_axis(input_shape)?;
        let Some(channels) = input_shape[a] else {
            return Err(shape_error(
                &self.name,
                &format!("a known size on axis {}", self.axis),
                input_shape,
            ));
        };
        let shape = [channels];
        let weight = |name: &str, init: &Initializer, trainable: bool| -> Result<Variable> {
            Ok(Variable::new(name, init.sample(&shape, DType::F32)?, trainable))
        };
        self.gamma = if self.scale {
            Some(
                self.gamma_rules
                    .attach(weight("gamma", &self.gamma_initializer, true)?),
            )
        } else {
            None
        };
        self.beta = if self.center {
            Some(
                self.beta_rules
                    .attach(weight("beta", &self.beta_initializer, true)?),
            )
        } else {
            None
        };
        self.moving_mean = Some(weight("moving_mean", &self.moving_mean_initializer, false)?);
        self.moving_variance = Some(weight(
            "moving_variance",
            &self.moving_variance_initializer,
            false,
        )?);
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        self.channel_axis(input_shape)?;
        Ok(input_shape.to_vec())
    }
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let (Some(mm), Some(mv), Some(built)) = (&self.moving_mean, &self.moving_variance, &self.input_shape)
        else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        let a = self.channel_axis(built)?;
        if x.rank() != built.len() || Some(x.shape()[a]) != built[a] {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} was built for input shape {} (axis {} of size {}) \
                     but got a tensor of shape {:?}",
                    self.name,
                    fmt_shape(built),
                    self.axis,
                    mm.numel(),
                    x.shape()
                ),
            });
        }
        let x = compute_input(x)?;
        let (rank, dt) = (x.rank(), x.dtype());
        let prep = |v: &Variable| Self::broadcast(&v.value().cast(dt)?, a, rank);
        let gamma = self.gamma.as_ref().map(prep).transpose()?;
        let beta = self.beta.as_ref().map(prep).transpose()?;
        let update_moving = |mean: &Tensor, var: &Tensor| {
            no_grad(|| -> Result<()> {
                let m = self.momentum;
                for (moving, batch) in [(mm, mean), (mv, var)] {
                    let old = moving.value().detach();
                    let b = batch.detach().cast(old.dtype())?;
                    moving.assign(&old.mul_scalar(m)?.add(&b.mul_scalar(1.0 - m)?)?)?;
                }
                Ok(())
            })
        };
        let (mean, var) = if training && self.trainable {
            if a + 1 == rank {
                // Channels last: the fused kernel (statistics, output and gradients in a
                // few passes).
                let (y, mean, var) = x.batch_norm_train(gamma.as_ref(), beta.as_ref(), self.epsilon)?;
                update_moving(&mean, &var)?;
                return Ok(y);
            }
            let axes: Vec<isize> = (0..rank as isize).filter(|&i| i != a as isize).collect();
            let (mean, var) = x.moments(&axes, false)?;
            update_moving(&mean, &var)?;
            (mean, var)
        } else {
            (mm.value().cast(dt)?, mv.value().cast(dt)?)
        };
        x.batch_norm_inference(
            &Self::broadcast(&mean, a, rank)?,
            &Self::broadcast(&var, a, rank)?,
            gamma.as_ref(),
            beta.as_ref(),
            self.epsilon,
        )
    }
    fn inference_epilogue(&self, dtype: DType) -> Result<Option<Epilogue>> {
        let (Some(mm), Some(mv), Some(built)) = (&self.moving_mean, &self.moving_variance, &self.input_shape)
        else {
            return Ok(None);
        };
        // Channels-last statistics on an input that `call` would not cast.
        if !matches!(dtype, DType::F32 | DType::F64) || self.channel_axis(built)? + 1 != built.len() {
            return Ok(None);
        }
        // What `call` normalizes with in inference, as `x * scale + shift`.
        let cast = |v: &Variable| v.value().cast(dtype);
        let (gamma, beta) = (
            self.gamma.as_ref().map(cast).transpose()?,
            self.beta.as_ref().map(cast).transpose()?,
        );
        let (scale, shift) = Tensor::batch_norm_scale_shift(
            &cast(mm)?,
            &cast(mv)?,
            gamma.as_ref(),
            beta.as_ref(),
            self.epsilon,
        )?;
        Ok(Some(Epilogue::affine(scale, shift)))
    }
    fn weights(&self) -> Vec<Variable> {
        [&self.gamma, &self.beta, &self.moving_mean, &self.moving_variance]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("axis".into(), json!(self.axis));
        m.insert("momentum".into(), json!(self.momentum));
        m.insert("epsilon".into(), json!(self.epsilon));
        m.insert("center".into(), json!(self.center));
        m.insert("scale".into(), json!(self.scale));
        m.insert("beta_initializer".into(), self.beta_initializer.get_config());
        m.insert("gamma_initializer".into(), self.gamma_initializer.get_config());
        m.insert(
            "moving_mean_initializer".into(),
            self.moving_mean_initializer.get_config(),
        );
        m.insert(
            "moving_variance_initializer".into(),
            self.moving_variance_initializer.get_config(),
        );
        self.beta_rules.to_config(&mut m, "beta");
        self.gamma_rules.to_config(&mut m, "gamma");
        m.insert("synchronized".into(), json!(false));
        m.insert("renorm".into(), json!(false));
        m.insert("renorm_clipping".into(), self.renorm_clipping.clone());
        m.insert("renorm_momentum".into(), json!(self.renorm_momentum));
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

    fn values(v: &Variable) -> Vec<f32> {
        v.value().to_vec::<f32>().unwrap()
    }

    fn assert_near(ctx: &str, got: &[f32], want: &[f32], tol: f32) {
        assert!(got.len() >= want.len(), "{ctx}: {got:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{ctx}[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn batch_normalization_passes_the_layer_harness() {
        run_layer_test(Box::new(BatchNormalization::new()), &[3], 4);
        run_layer_test(
            Box::new(BatchNormalization::new().axis(1).momentum(0.9)),
            &[3, 4, 2],
            4,
        );
        run_layer_test(Box::new(BatchNormalization::new().center(false)), &[5, 3], 3);
        run_layer_test(
            Box::new(BatchNormalization::new().scale(false).center(false)),
            &[3],
            2,
        );
        let mut b = BatchNormalization::new();
        b.build(&[None, Some(3)]).unwrap();
        let names: Vec<String> = b.weights().iter().map(|w| w.name().to_string()).collect();
        assert_eq!(names, ["gamma", "beta", "moving_mean", "moving_variance"]);
        assert_eq!(b.trainable_weights().len(), 2);
        assert_eq!(b.non_trainable_weights().len(), 2);
    }

    #[test]
    fn training_matches_keras_and_moves_the_statistics() {
        // Keras 3: BatchNormalization(axis=1, momentum=0.9)(x, training=True).
        let mut b = BatchNormalization::new().axis(1).momentum(0.9);
        b.build(&[None, Some(3), Some(4)]).unwrap();
        let y = b.call(&ramp(), true).unwrap();
        let keras_y: [f32; 8] = [
            -1.0751699,
            -1.0338061,
            -0.9581753,
            -0.86023706,
            -1.1490048,
            -1.0452199,
            -0.9304618,
            -0.80569446,
        ];
        assert_near("train", &y.to_vec::<f32>().unwrap(), &keras_y, 1e-5);
        let (mm, mv) = (
            b.moving_mean().unwrap().clone(),
            b.moving_variance().unwrap().clone(),
        );
        assert_near("mean", &values(&mm), &[0.2599299, 0.432_096_2, 0.64612895], 1e-6);
        assert_near("var", &values(&mv), &[1.4843645, 1.8389289, 2.181174], 1e-6);

        // Inference uses the moving statistics and leaves them alone.
        let before = (values(&mm), values(&mv));
        let y = b.call(&ramp(), false).unwrap();
        assert_eq!((values(&mm), values(&mv)), before);
        let keras_y: [f32; 4] = [-0.21327488, -0.13122395, 0.01880017, 0.21307428];
        assert_near("infer", &y.to_vec::<f32>().unwrap(), &keras_y, 1e-5);

        // A second training call moves them again.
        b.call(&ramp(), true).unwrap();
        assert_ne!(values(&mm), before.0);
        assert_ne!(values(&mv), before.1);
    }

    #[test]
    fn a_frozen_layer_runs_in_inference_mode_even_when_training() {
        let mut b = BatchNormalization::new().momentum(0.5);
        b.build(&[None, Some(4)]).unwrap();
        b.set_trainable(false);
        assert!(b.trainable_weights().is_empty());
        assert_eq!(b.non_trainable_weights().len(), 4);
        let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0], &[2, 4]).unwrap();
        let mm = b.moving_mean().unwrap().clone();
        let y_train = b.call(&x, true).unwrap();
        assert_eq!(values(&mm), vec![0.0; 4]);
        let y_infer = b.call(&x, false).unwrap();
        assert_eq!(y_train.to_vec::<f32>().unwrap(), y_infer.to_vec::<f32>().unwrap());
        // x / sqrt(1 + 1e-3) with the initial statistics.
        assert!((y_infer.to_vec::<f32>().unwrap()[0] - 1.0 / 1.001f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn config_matches_keras_and_rejects_what_is_not_implemented() {
        let b = BatchNormalization::new()
            .gamma_regularizer(Regularizer::L2(0.01))
            .beta_constraint(Constraint::NonNeg);
        let c = b.get_config();
        for (k, v) in [
            ("axis", json!(-1)),
            ("momentum", json!(0.99)),
            ("epsilon", json!(0.001)),
            ("synchronized", json!(false)),
            ("renorm", json!(false)),
            ("renorm_clipping", Value::Null),
            ("renorm_momentum", json!(0.99)),
            ("gamma_initializer", Initializer::Ones.get_config()),
            ("moving_variance_initializer", Initializer::Ones.get_config()),
            ("beta_regularizer", Value::Null),
        ] {
            assert_eq!(c[k], v, "{k}");
        }
        assert_eq!(c["gamma_regularizer"]["class_name"], "L2");
        assert_eq!(c["beta_constraint"]["class_name"], "NonNeg");
        let again = BatchNormalization::from_config(&c).unwrap();
        assert_eq!(again.get_config(), c);
        let mut again = again;
        again.build(&[None, Some(2)]).unwrap();
        assert_eq!(again.gamma().unwrap().regularizer(), Some(Regularizer::L2(0.01)));
        assert_eq!(again.beta().unwrap().constraint(), Some(Constraint::NonNeg));
        for (k, word) in [("synchronized", "synchronized"), ("renorm", "renorm")] {
            let e = BatchNormalization::from_config(&json!({ k: true }))
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("BatchNormalization") && e.contains(word), "{e}");
        }
    }

    #[test]
    fn bad_shapes_name_the_layer() {
        let mut b = BatchNormalization::new().axis(3).name("bn");
        let e = b.build(&[None, Some(3)]).unwrap_err().to_string();
        assert!(e.contains("bn") && e.contains("(None, 3)"), "{e}");
        let mut b = BatchNormalization::new().name("bn");
        assert!(b.build(&[None, None]).is_err());
        b.build(&[None, Some(3)]).unwrap();
        let x = Tensor::zeros(&[2, 4], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let e = b.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("bn") && e.contains("(None, 3)") && e.contains("[2, 4]"),
            "{e}"
        );
    }

    #[test]
    fn training_mode_gradients_match_finite_differences() {
        for axis in [-1, 1] {
            let mut b = BatchNormalization::new().axis(axis);
            b.build(&[None, Some(3), Some(4)]).unwrap();
            let n = b.gamma().unwrap().numel();
            let g: Vec<f32> = (0..n).map(|i| 0.5 - 0.7 * i as f32).collect();
            b.gamma()
                .unwrap()
                .assign(&Tensor::new(&g, &[n]).unwrap())
                .unwrap();
            b.beta()
                .unwrap()
                .assign(&Tensor::new(&g, &[n]).unwrap().neg().unwrap())
                .unwrap();
            check_grad(&format!("bn_train_axis{axis}"), &[&randn(&[2, 3, 4], 7)], |t| {
                b.call(&t[0], true)
            });
            check_grad(&format!("bn_infer_axis{axis}"), &[&randn(&[2, 3, 4], 8)], |t| {
                b.call(&t[0], false)
            });
        }
    }
}
