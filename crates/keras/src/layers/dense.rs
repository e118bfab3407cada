//! `Dense`: `activation(x @ kernel + bias)` over the last axis.

use super::{base_config, config_name, field, shape_error, unique_name, Epilogue, Layer, Shape, WeightRules};
use crate::activations::Activation;
use crate::constraints::Constraint;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// A densely connected layer, as `keras.layers.Dense`.
///
/// Input `(..., input_dim)`, output `(..., units)`; kernel `(input_dim, units)`.
///
/// Weight regularizers add their penalty to the training loss, constraints are applied by
/// the optimizer after each update, and an activity regularizer adds the penalty of the
/// output divided by the batch size (Keras 3's rule).
///
/// ```
/// use keras::layers::{Dense, Layer};
/// use keras::regularizers::Regularizer;
/// let mut d = Dense::new(4)
///     .activation("relu")?
///     .kernel_regularizer(Regularizer::L2(0.01));
/// d.build(&[None, Some(3)])?;
/// assert_eq!(d.count_params(), 3 * 4 + 4);
/// assert_eq!(d.kernel().unwrap().regularizer(), Some(Regularizer::L2(0.01)));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub struct Dense {
    name: String,
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_rules: WeightRules,
    bias_rules: WeightRules,
    activity_regularizer: Option<Regularizer>,
    trainable: bool,
    input_shape: Option<Shape>,
    kernel: Option<Variable>,
    bias: Option<Variable>,
}

impl Dense {
    /// The kernel, once the input `x` is checked against the built shape.
    fn checked_kernel(&self, x: &Tensor) -> Result<Tensor> {
        let (Some(k), Some(shape)) = (&self.kernel, &self.input_shape) else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        let in_dim = shape[shape.len() - 1];
        if x.rank() < 2 || x.shape().last().copied() != in_dim {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} was built for input shape {} but got a tensor of shape {:?}",
                    self.name,
                    super::fmt_shape(shape),
                    x.shape()
                ),
            });
        }
        Ok(k.value())
    }
    /// `units` outputs, linear activation, with bias, `glorot_uniform` kernel, zero bias.
    pub fn new(units: usize) -> Dense {
        Dense {
            name: unique_name("dense"),
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::get("glorot_uniform").expect("known name"),
            bias_initializer: Initializer::Zeros,
            kernel_rules: WeightRules::default(),
            bias_rules: WeightRules::default(),
            activity_regularizer: None,
            trainable: true,
            input_shape: None,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn activation(mut self, name: &str) -> Result<Dense> {
        self.activation = Activation::get(name)?;
        Ok(self)
    }

    /// With or without bias.
    pub fn use_bias(mut self, b: bool) -> Dense {
        self.use_bias = b;
        self
    }

    /// Sets the kernel initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn kernel_initializer(mut self, name: &str) -> Result<Dense> {
        self.kernel_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// Sets the bias initializer by Keras name.
    ///
    /// # Errors
    /// For an unknown name.
    pub fn bias_initializer(mut self, name: &str) -> Result<Dense> {
        self.bias_initializer = Initializer::get(name)?;
        Ok(self)
    }

    /// A penalty on the kernel, added to the training loss.
    pub fn kernel_regularizer(mut self, r: Regularizer) -> Dense {
        self.kernel_rules.regularizer = Some(r);
        self
    }

    /// A penalty on the bias, added to the training loss.
    pub fn bias_regularizer(mut self, r: Regularizer) -> Dense {
        self.bias_rules.regularizer = Some(r);
        self
    }

    /// A penalty on the layer's output, added to the training loss (divided by the batch
    /// size, as Keras 3 does).
    pub fn activity_regularizer(mut self, r: Regularizer) -> Dense {
        self.activity_regularizer = Some(r);
        self
    }

    /// A constraint the optimizer applies to the kernel after each update.
    pub fn kernel_constraint(mut self, c: Constraint) -> Dense {
        self.kernel_rules.constraint = Some(c);
        self
    }

    /// A constraint the optimizer applies to the bias after each update.
    pub fn bias_constraint(mut self, c: Constraint) -> Dense {
        self.bias_rules.constraint = Some(c);
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Dense {
        self.name = name.to_string();
        self
    }

    /// The kernel, once built.
    pub fn kernel(&self) -> Option<&Variable> {
        self.kernel.as_ref()
    }

    /// The bias, once built (and when `use_bias`).
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For missing `units`, unknown initializer, regularizer, constraint or activation
    /// names, or options this version does not implement (`lora_rank`, a non-null
    /// `quantization_config`).
    pub fn from_config(c: &Value) -> Result<Dense> {
        let units: usize = field(c, "units", 0)?;
        if units == 0 {
            return Err(Error::InvalidArgument {
                op: "Dense.from_config",
                msg: "units must be >= 1".into(),
            });
        }
        // LoRA and quantized kernels are not implemented: refuse rather than ignore them.
        super::reject_unsupported(c, "Dense.from_config", &["lora_rank", "quantization_config"])?;
        let mut d = Dense::new(units).use_bias(field(c, "use_bias", true)?);
        d.name = config_name(c, "dense")?;
        d.trainable = field(c, "trainable", true)?;
        d.activation = Activation::get(&field::<String>(c, "activation", "linear".into())?)?;
        if let Some(v) = c.get("kernel_initializer") {
            d.kernel_initializer = Initializer::from_config(v)?;
        }
        if let Some(v) = c.get("bias_initializer") {
            d.bias_initializer = Initializer::from_config(v)?;
        }
        d.kernel_rules = WeightRules::from_config(c, "kernel")?;
        d.bias_rules = WeightRules::from_config(c, "bias")?;
        d.activity_regularizer =
            Regularizer::from_config(c.get("activity_regularizer").unwrap_or(&Value::Null))?;
        Ok(d)
    }
}

impl Layer for Dense {
    super::layer_common!("Dense");
    fn supports_masking(&self) -> bool {
        true
    }
    fn built(&self) -> bool {
        self.kernel.is_some()
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        let Some(&Some(input_dim)) = input_shape.last() else {
            return Err(shape_error(&self.name, "a known last dimension", input_shape));
        };
        if input_shape.len() < 2 {
            return Err(shape_error(
                &self.name,
                "rank >= 2 (batch, features)",
                input_shape,
            ));
        }
        self.kernel = Some(
            self.kernel_rules.attach(Variable::new(
                "kernel",
                self.kernel_initializer
                    .sample(&[input_dim, self.units], DType::F32)?,
                true,
            )),
        );
        if self.use_bias {
            self.bias = Some(self.bias_rules.attach(Variable::new(
                "bias",
                self.bias_initializer.sample(&[self.units], DType::F32)?,
                true,
            )));
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.len() < 2 {
            return Err(shape_error(
                &self.name,
                "rank >= 2 (batch, features)",
                input_shape,
            ));
        }
        let mut s = input_shape.to_vec();
        *s.last_mut().expect("rank >= 2") = Some(self.units);
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let y = x.matmul(&self.checked_kernel(x)?)?;
        let y = super::bias_activation(y, self.bias.as_ref(), self.activation)?;
        super::activity_loss(self.activity_regularizer, &y)?;
        Ok(y)
    }
    fn call_fused(&self, x: &Tensor, epilogue: &Epilogue) -> Result<Option<Tensor>> {
        let k = self.checked_kernel(x)?;
        let folded = super::fold_epilogue(
            epilogue,
            self.activation,
            self.activity_regularizer,
            x,
            &k,
            self.bias.as_ref(),
        )?;
        let Some((k, b)) = folded else {
            return Ok(None);
        };
        Ok(Some(x.matmul(&k)?.bias_unary(&b, epilogue.activation)?))
    }
    fn weights(&self) -> Vec<Variable> {
        self.kernel.iter().chain(self.bias.iter()).cloned().collect()
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("units".into(), json!(self.units));
        m.insert("activation".into(), json!(self.activation.name()));
        m.insert("use_bias".into(), json!(self.use_bias));
        m.insert("kernel_initializer".into(), self.kernel_initializer.get_config());
        m.insert("bias_initializer".into(), self.bias_initializer.get_config());
        self.kernel_rules.to_config(&mut m, "kernel");
        self.bias_rules.to_config(&mut m, "bias");
        // Keras's base `Layer.get_config` writes this key only when set.
        if let Some(r) = self.activity_regularizer {
            m.insert("activity_regularizer".into(), r.to_config());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;

    #[test]
    fn dense_passes_the_layer_harness() {
        run_layer_test(Box::new(Dense::new(5).activation("tanh").unwrap()), &[3], 2);
        run_layer_test(Box::new(Dense::new(2).use_bias(false)), &[4, 3], 1);
        run_layer_test(
            Box::new(
                Dense::new(3)
                    .kernel_regularizer(Regularizer::L1L2 { l1: 0.1, l2: 0.2 })
                    .bias_constraint(Constraint::NonNeg)
                    .activity_regularizer(Regularizer::L2(0.1)),
            ),
            &[4],
            2,
        );
    }

    #[test]
    fn regularizers_and_constraints_reach_the_weights() {
        let mut d = Dense::new(3)
            .kernel_regularizer(Regularizer::L2(0.01))
            .kernel_constraint(Constraint::get("max_norm").unwrap())
            .bias_regularizer(Regularizer::L1(0.1))
            .bias_constraint(Constraint::NonNeg);
        d.build(&[None, Some(2)]).unwrap();
        let k = d.kernel().unwrap();
        assert_eq!(k.regularizer(), Some(Regularizer::L2(0.01)));
        assert_eq!(
            k.constraint(),
            Some(Constraint::MaxNorm {
                max_value: 2.0,
                axis: vec![0]
            })
        );
        let b = d.bias().unwrap();
        assert_eq!(b.regularizer(), Some(Regularizer::L1(0.1)));
        assert_eq!(b.constraint(), Some(Constraint::NonNeg));
        let mut plain = Dense::new(3);
        plain.build(&[None, Some(2)]).unwrap();
        assert_eq!(plain.kernel().unwrap().regularizer(), None);
        assert_eq!(plain.kernel().unwrap().constraint(), None);
    }

    #[test]
    fn config_round_trips_in_keras_form() {
        let d = Dense::new(3)
            .name("head")
            .kernel_regularizer(Regularizer::L2(0.01))
            .bias_constraint(Constraint::NonNeg)
            .activity_regularizer(Regularizer::L1(0.5));
        let cfg = d.get_config();
        assert_eq!(
            cfg["kernel_regularizer"],
            serde_json::json!({"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}, "registered_name": null})
        );
        assert_eq!(cfg["bias_constraint"]["class_name"], "NonNeg");
        assert_eq!(cfg["activity_regularizer"]["class_name"], "L1");
        assert!(cfg["bias_regularizer"].is_null() && cfg["kernel_constraint"].is_null());
        let again = crate::layers::from_config("Dense", &cfg).unwrap();
        assert_eq!(again.get_config(), cfg);
        // As keras.layers.Dense(3).get_config(): no activity_regularizer key when unset.
        assert!(Dense::new(3).get_config().get("activity_regularizer").is_none());
        // A config saved by Keras: Dense(2, kernel_regularizer="l1", bias_constraint="non_neg").
        let keras = serde_json::json!({"name": "dense", "trainable": true, "units": 2, "activation": "linear", "use_bias": true, "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.01}, "registered_name": null}, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": {"module": "keras.constraints", "class_name": "NonNeg", "config": {}, "registered_name": null}, "quantization_config": null});
        let mut d = Dense::from_config(&keras).unwrap();
        d.build(&[None, Some(4)]).unwrap();
        assert_eq!(d.kernel().unwrap().regularizer(), Some(Regularizer::L1(0.01)));
        assert_eq!(d.bias().unwrap().constraint(), Some(Constraint::NonNeg));
        let lora = serde_json::json!({"units": 2, "lora_rank": 4});
        assert!(Dense::from_config(&lora).is_err());
    }

    #[test]
    fn activity_loss_is_collected() {
        let mut d = Dense::new(2).activity_regularizer(Regularizer::L2(0.5));
        d.build(&[None, Some(3)]).unwrap();
        let x = Tensor::new(
            &[1.0f32, 2.0, 3.0, -1.0, 0.5, 2.0, 0.0, 1.0, -2.0, 1.0, 1.0, 1.0],
            &[4, 3],
        )
        .unwrap();
        let (y, losses) = crate::layers::collect_losses(|| d.call(&x, true)).unwrap();
        assert_eq!(losses.len(), 1);
        let sq = y.square().unwrap().sum_all().unwrap().item().unwrap();
        let got = losses[0].item().unwrap();
        // Keras 3: activity_regularizer(y) / batch_size.
        assert!((got - 0.5 * sq / 4.0).abs() < 1e-5, "{got} vs {}", 0.5 * sq / 4.0);
        // Without a regularizer nothing is added.
        let mut plain = Dense::new(2);
        plain.build(&[None, Some(3)]).unwrap();
        let (_, none) = crate::layers::collect_losses(|| plain.call(&x, true)).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn wrong_input_width_names_the_layer_and_shapes() {
        let mut d = Dense::new(2).name("head");
        d.build(&[None, Some(3)]).unwrap();
        let x = Tensor::zeros(&[4, 5], DType::F32, &keras_tensor::Device::Cpu).unwrap();
        let e = d.call(&x, false).unwrap_err().to_string();
        assert!(
            e.contains("head") && e.contains('3') && e.contains("[4, 5]"),
            "{e}"
        );
    }
}
