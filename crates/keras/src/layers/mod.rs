//! Layers: configuration at construction, weights created in `build` once the input shape is
//! known, `call` on tensors, `get_config` / [`from_config`] through a registry keyed by Keras's
//! `class_name`. One file per layer.

mod activation;
mod add;
mod attention;
mod average;
mod average_pooling1d;
mod average_pooling2d;
mod batch_normalization;
mod bidirectional;
mod center_crop;
mod concatenate;
mod conv1d;
mod conv2d;
mod conv2d_transpose;
mod conv_common;
mod cropping2d;
mod dense;
mod depthwise_conv2d;
mod dot;
mod dropout;
mod elu;
mod embedding;
mod epilogue;
mod flatten;
mod gaussian_noise;
mod global_average_pooling1d;
mod global_average_pooling2d;
mod global_max_pooling1d;
mod global_max_pooling2d;
mod gru;
mod image_transform;
mod lambda;
mod layer_normalization;
mod leaky_relu;
mod lstm;
mod masking;
mod max_pooling1d;
mod max_pooling2d;
mod maximum;
mod merge;
mod minimum;
mod multi_head_attention;
mod multiply;
mod normalization;
mod permute;
mod pooling;
mod prelu;
mod random_brightness;
mod random_contrast;
mod random_crop;
mod random_flip;
mod random_rotation;
mod random_translation;
mod random_zoom;
mod relu;
mod repeat_vector;
mod rescaling;
mod reshape;
mod resizing;
mod rnn_common;
mod separable_conv2d;
mod simple_rnn;
mod softmax;
mod spatial_dropout2d;
mod subtract;
mod text_vectorization;
mod time_distributed;
mod up_sampling2d;
mod zero_padding2d;

pub use activation::Activation;
pub use add::Add;
pub use attention::{Attention, ScoreMode};
pub use average::Average;
pub use average_pooling1d::AveragePooling1D;
pub use average_pooling2d::AveragePooling2D;
pub use batch_normalization::BatchNormalization;
pub use bidirectional::{Bidirectional, MergeMode};
pub use center_crop::CenterCrop;
pub use concatenate::Concatenate;
pub use conv1d::Conv1D;
pub use conv2d::Conv2D;
pub use conv2d_transpose::Conv2DTranspose;
pub use cropping2d::Cropping2D;
pub use dense::Dense;
pub use depthwise_conv2d::DepthwiseConv2D;
pub use dot::Dot;
pub use dropout::Dropout;
pub use elu::ELU;
pub use embedding::Embedding;
pub use epilogue::Epilogue;
pub use flatten::Flatten;
pub use gaussian_noise::GaussianNoise;
pub use global_average_pooling1d::GlobalAveragePooling1D;
pub use global_average_pooling2d::GlobalAveragePooling2D;
pub use global_max_pooling1d::GlobalMaxPooling1D;
pub use global_max_pooling2d::GlobalMaxPooling2D;
pub use gru::GRU;
pub use image_transform::Factor;
pub use lambda::Lambda;
pub use layer_normalization::LayerNormalization;
pub use leaky_relu::LeakyReLU;
pub use lstm::LSTM;
pub use masking::Masking;
pub use max_pooling1d::MaxPooling1D;
pub use max_pooling2d::MaxPooling2D;
pub use maximum::Maximum;
pub use minimum::Minimum;
pub use multi_head_attention::MultiHeadAttention;
pub use multiply::Multiply;
pub use normalization::Normalization;
pub use permute::Permute;
pub use prelu::PReLU;
pub use random_brightness::RandomBrightness;
pub use random_contrast::RandomContrast;
pub use random_crop::RandomCrop;
pub use random_flip::RandomFlip;
pub use random_rotation::RandomRotation;
pub use random_translation::RandomTranslation;
pub use random_zoom::RandomZoom;
pub use relu::ReLU;
pub use repeat_vector::RepeatVector;
pub use rescaling::Rescaling;
pub use reshape::Reshape;
pub use resizing::Resizing;
pub use separable_conv2d::SeparableConv2D;
pub use simple_rnn::SimpleRNN;
pub use softmax::Softmax;
pub use spatial_dropout2d::SpatialDropout2D;
pub use subtract::Subtract;
pub use text_vectorization::{OutputMode, Split, Standardize, TextVectorization};
pub use time_distributed::TimeDistributed;
pub use up_sampling2d::UpSampling2D;
pub use zero_padding2d::ZeroPadding2D;

use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// A symbolic shape: `None` for a dimension not known until data arrives (the batch).
pub type Shape = Vec<Option<usize>>;

/// A Keras layer.
///
/// Construction stores configuration only; [`Layer::build`] creates the weights for a given
/// input shape (models call it for you); [`Layer::call`] computes.
pub trait Layer: Send + Sync {
    /// Keras's class name (`"Dense"`), the key of the registry.
    fn class_name(&self) -> &'static str;
    /// The layer's unique name (`"dense_1"`).
    fn name(&self) -> &str;
    /// True once weights exist.
    fn built(&self) -> bool;
    /// Creates the weights for `input_shape`.
    ///
    /// # Errors
    /// When the shape does not suit the layer (the error names the layer and the shapes).
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()>;
    /// The output shape for `input_shape`, without computing.
    ///
    /// # Errors
    /// As [`Layer::build`].
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape>;
    /// Computes the output; `training` switches dropout and similar behaviour.
    ///
    /// # Errors
    /// When the input does not match the built shape (the error names the layer).
    fn call(&self, x: &Tensor, training: bool) -> Result<Tensor>;
    /// All weights, trainable first, in Keras's order.
    fn weights(&self) -> Vec<Variable> {
        Vec::new()
    }
    /// Whether the layer's weights are updated by training.
    fn trainable(&self) -> bool;
    /// Freezes (`false`) or unfreezes the layer.
    fn set_trainable(&mut self, trainable: bool);
    /// The layer's configuration in Keras's `get_config` form.
    fn get_config(&self) -> Value;
    /// Keras call arguments that are options of the layer here (Attention's and
    /// MultiHeadAttention's `use_causal_mask`, `return_attention_scores`), as Keras writes
    /// them in a functional model's node `kwargs`: only those set. Plain layers have none.
    ///
    /// ```
    /// use keras::layers::{Layer, MultiHeadAttention};
    /// let m = MultiHeadAttention::new(2, 4).use_causal_mask(true);
    /// assert_eq!(m.call_kwargs()["use_causal_mask"], true);
    /// assert!(m.get_config().get("use_causal_mask").is_none());
    /// ```
    fn call_kwargs(&self) -> serde_json::Map<String, Value> {
        serde_json::Map::new()
    }

    /// Weights the optimizer updates.
    fn trainable_weights(&self) -> Vec<Variable> {
        if !self.trainable() {
            return Vec::new();
        }
        self.weights().into_iter().filter(|w| w.trainable()).collect()
    }
    /// Weights that training does not update by gradient (statistics, frozen weights).
    fn non_trainable_weights(&self) -> Vec<Variable> {
        let t = self.trainable();
        self.weights()
            .into_iter()
            .filter(|w| !(t && w.trainable()))
            .collect()
    }
    /// The layers inside this one whose state Keras saves under `layers/…` (a model's layers,
    /// in Keras's order); plain layers have none.
    fn sublayers(&self) -> Vec<crate::models::LayerRef> {
        Vec::new()
    }
    /// The variables Keras saves with this layer, grouped by their path below the layer's own
    /// entry (`""`: the layer's `vars`; LSTM, for one, keeps its weights in `cell`). Models
    /// return none of their own: their layers' variables come through [`Layer::sublayers`].
    fn saved_variables(&self) -> Vec<(String, Vec<Variable>)> {
        vec![(String::new(), self.weights())]
    }
    /// The states a stateful layer carries from one call to the next (Keras's `layer.states`
    /// on a recurrent layer with `stateful = true`; the forward then the backward ones for
    /// `Bidirectional`). They are not weights: neither in [`Layer::weights`] nor saved.
    /// Other layers have none.
    ///
    /// ```
    /// use keras::layers::{Layer, LSTM};
    /// let mut l = LSTM::new(3).stateful(true);
    /// l.build(&[Some(2), Some(5), Some(4)])?;
    /// assert_eq!(l.states().len(), 2); // h and c
    /// assert_eq!(l.states()[0].shape(), vec![2, 3]);
    /// assert!(l.weights().iter().all(|w| w.name() != "rnn_state"));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    fn states(&self) -> Vec<Variable> {
        Vec::new()
    }
    /// Sets the carried states of a stateful layer back to zeros: Keras 3's `reset_state()`
    /// on a recurrent layer (nothing to do when it is not stateful) or on `Bidirectional`
    /// (an error when it is not stateful). Keras 3 has no `reset_state` on other layers nor on
    /// models: reach the layers through the model (`model.layers()`, `model.get_layer(name)`).
    ///
    /// ```
    /// use keras::layers::{Layer, SimpleRNN};
    /// use keras::models::{Apply, Input, Model};
    /// use keras_tensor::{DType, Device, Tensor};
    /// let x = Input::with_batch_size(&[5, 3], 2);
    /// let y = SimpleRNN::new(4).stateful(true).name("rnn").apply(&x)?;
    /// let model = Model::new(&[&x], &[&y])?;
    /// let batch = Tensor::ones(&[2, 5, 3], DType::F32, &Device::Cpu)?;
    /// let first = model.call(&batch, false)?.to_vec::<f32>()?;
    /// let second = model.call(&batch, false)?.to_vec::<f32>()?; // continues from the first
    /// assert_ne!(first, second);
    /// model.get_layer("rnn").unwrap().read().reset_state()?;
    /// assert_eq!(model.call(&batch, false)?.to_vec::<f32>()?, first);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// For a layer without states to reset (the error names it).
    fn reset_state(&self) -> Result<()> {
        Err(Error::InvalidArgument {
            op: "reset_state",
            msg: format!(
                "layer {:?} ({}) has no reset_state: only recurrent layers carry states",
                self.name(),
                self.class_name()
            ),
        })
    }
    /// Keras's compatibility alias of [`Layer::reset_state`].
    ///
    /// # Errors
    /// As [`Layer::reset_state`].
    fn reset_states(&self) -> Result<()> {
        self.reset_state()
    }
    /// Number of scalars in all weights.
    fn count_params(&self) -> usize {
        self.weights().iter().map(|w| w.numel()).sum()
    }

    /// Builds for a list of inputs. Layers that take one input keep this default, which
    /// accepts exactly one shape; merge layers (`Add`, `Concatenate`, …) override it.
    ///
    /// # Errors
    /// For the wrong number of inputs, or as [`Layer::build`].
    fn build_multi(&mut self, input_shapes: &[Shape]) -> Result<()> {
        match input_shapes {
            [s] => self.build(s),
            _ => Err(arity_error(self.name(), "1 input", input_shapes.len())),
        }
    }
    /// Output shapes for a list of inputs (one per output).
    ///
    /// # Errors
    /// As [`Layer::build_multi`].
    fn compute_output_shapes(&self, input_shapes: &[Shape]) -> Result<Vec<Shape>> {
        match input_shapes {
            [s] => Ok(vec![self.compute_output_shape(s)?]),
            _ => Err(arity_error(self.name(), "1 input", input_shapes.len())),
        }
    }
    /// Computes the outputs for a list of inputs: the general form of [`Layer::call`] that
    /// functional models use.
    ///
    /// # Errors
    /// As [`Layer::build_multi`] and [`Layer::call`].
    fn call_multi(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        match inputs {
            [x] => Ok(vec![self.call(x, training)?]),
            _ => Err(arity_error(self.name(), "1 input", inputs.len())),
        }
    }

    /// Whether the layer keeps the mask of its input (Keras's `supports_masking`): when
    /// false, a mask reaching the layer stops there, as in Keras (which warns). Layers that
    /// act on each time step alone (`Dense`, `Dropout`, activations, normalizations), the
    /// recurrent layers and the mask-making layers say true.
    fn supports_masking(&self) -> bool {
        false
    }

    /// The mask of the output for input `x` carrying `mask` (Keras's `compute_mask`): a
    /// boolean tensor over the output's leading axes, true where a step is valid. By default
    /// the input mask passes through when [`Layer::supports_masking`], else there is none.
    /// `Embedding(mask_zero)` and `Masking` make one; recurrent layers keep it only with
    /// `return_sequences`; `GlobalAveragePooling1D` consumes it.
    ///
    /// ```
    /// use keras::layers::{Dense, Flatten, Layer};
    /// use keras_tensor::Tensor;
    /// let x = Tensor::ones(&[2, 3, 4], keras_tensor::DType::F32, &keras_tensor::Device::Cpu)?;
    /// let m = Tensor::new(&[true, true, false, true, false, false], &[2, 3])?;
    /// assert!(Dense::new(5).compute_mask(&x, Some(&m))?.is_some()); // passes through
    /// assert!(Flatten::new().compute_mask(&x, Some(&m))?.is_none()); // stops
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the mask does not fit the input (the error names the layer and both shapes).
    fn compute_mask(&self, _x: &Tensor, mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        Ok(if self.supports_masking() {
            mask.cloned()
        } else {
            None
        })
    }

    /// [`Layer::call`] with the input's mask (Keras passes `mask=` to the layers whose `call`
    /// takes it): recurrent layers skip masked steps, `GlobalAveragePooling1D` averages the
    /// valid ones. Layers that do not use a mask keep this default, which ignores it.
    ///
    /// # Errors
    /// As [`Layer::call`], and when the mask does not fit the input.
    fn call_masked(&self, x: &Tensor, _mask: Option<&Tensor>, training: bool) -> Result<Tensor> {
        self.call(x, training)
    }

    /// The general form models run: outputs and their masks for a list of inputs and their
    /// masks (`None` for an unmasked input). The default calls [`Layer::call_masked`] (one
    /// input with a mask) or [`Layer::call_multi`], and takes the masks from
    /// [`Layer::compute_mask`] (one input; `None` for further outputs and for several
    /// inputs). Merge layers, recurrent layers with several outputs and nested models
    /// override it.
    ///
    /// # Errors
    /// As [`Layer::call_multi`] and [`Layer::compute_mask`].
    fn call_multi_masked(
        &self,
        inputs: &[Tensor],
        masks: &[Option<Tensor>],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        let mask = match (inputs, masks) {
            ([_], [m]) => m.as_ref(),
            _ => None,
        };
        let ys = match (inputs, mask) {
            ([x], Some(m)) => vec![self.call_masked(x, Some(m), training)?],
            _ => self.call_multi(inputs, training)?,
        };
        let mut out = match inputs {
            [x] => vec![self.compute_mask(x, mask)?],
            _ => Vec::new(),
        };
        out.resize(ys.len(), None);
        Ok((ys, out))
    }

    /// Inference-time fusion: this layer's inference-mode output (`training == false`) as an
    /// [`Epilogue`], `activation(x * scale + shift)` per channel of the last axis, for an
    /// input of `dtype`; `None` (the default) when it is not such a map. Batch normalization
    /// with channels-last statistics and the activation layers are; the model's executors
    /// fold them into a preceding layer that can take them ([`Layer::call_fused`]).
    ///
    /// ```
    /// use keras::layers::{Activation, Dense, Layer};
    /// use keras_tensor::DType;
    /// assert!(Activation::new("relu")?.inference_epilogue(DType::F32)?.is_some());
    /// assert!(Dense::new(3).inference_epilogue(DType::F32)?.is_none());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the map's tensors cannot be computed from the layer's weights.
    fn inference_epilogue(&self, _dtype: DType) -> Result<Option<Epilogue>> {
        Ok(None)
    }

    /// Inference-time fusion: `epilogue` applied to this layer's inference-mode output for
    /// input `x`, computed in one pass, with an output of `x`'s dtype; `None` (the default)
    /// when this layer cannot absorb it, and the caller then runs the layers one by one.
    /// Conv1D, Conv2D and Dense with a linear activation and no activity regularizer fold it
    /// into their kernel and bias.
    ///
    /// ```
    /// use keras::layers::{Conv2D, Epilogue, Layer};
    /// use keras_tensor::{op::UnaryOp, Tensor};
    /// let mut conv = Conv2D::new(2, 3);
    /// conv.build(&[None, Some(5), Some(5), Some(1)])?;
    /// let x = Tensor::ones(&[1, 5, 5, 1], keras_tensor::DType::F32, &keras_tensor::Device::Cpu)?;
    /// let e = Epilogue::activation(Some(UnaryOp::Relu));
    /// let fused = conv.call_fused(&x, &e)?.expect("Conv2D absorbs a relu");
    /// let apart = e.apply(&conv.call(&x, false)?)?;
    /// assert_eq!(fused.shape(), apart.shape());
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Layer::call`], and when the epilogue does not have one value per output channel.
    fn call_fused(&self, _x: &Tensor, _epilogue: &Epilogue) -> Result<Option<Tensor>> {
        Ok(None)
    }
}

/// Checks that `mask` covers the leading `axes` axes of `x` (a `(batch, timesteps)` mask for a
/// `(batch, timesteps, features)` sequence); the error names the layer and both shapes.
pub(crate) fn check_mask(layer: &str, x: &Tensor, mask: &Tensor, axes: usize) -> Result<()> {
    if x.rank() < axes || mask.shape() != &x.shape()[..axes] {
        return Err(Error::InvalidArgument {
            op: "call",
            msg: format!(
                "layer {layer:?} got a mask of shape {:?} for an input of shape {:?}; the mask \
                 must have the input's first {axes} dimensions",
                mask.shape(),
                x.shape()
            ),
        });
    }
    Ok(())
}

/// Error for a layer called with the wrong number of inputs.
pub(crate) fn arity_error(layer: &str, expected: &str, got: usize) -> Error {
    Error::InvalidArgument {
        op: "call",
        msg: format!("layer {layer:?} expects {expected}, got {got}"),
    }
}

thread_local! {
    static EXTRA_LOSSES: std::cell::RefCell<Option<Vec<Tensor>>> = const { std::cell::RefCell::new(None) };
}

/// Adds a scalar to the loss of the current training or evaluation step (Keras's
/// `layer.add_loss`): a layer calls this from [`Layer::call`]; outside a step it is dropped.
pub fn add_loss(loss: Tensor) {
    EXTRA_LOSSES.with(|l| {
        if let Some(v) = l.borrow_mut().as_mut() {
            v.push(loss)
        }
    })
}

/// Runs `f`, returning what it returned and the losses layers added meanwhile with
/// [`add_loss`].
///
/// # Errors
/// What `f` returns.
pub fn collect_losses<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Vec<Tensor>)> {
    let outer = EXTRA_LOSSES.with(|l| l.borrow_mut().replace(Vec::new()));
    let r = f();
    let mine = EXTRA_LOSSES
        .with(|l| std::mem::replace(&mut *l.borrow_mut(), outer))
        .unwrap_or_default();
    Ok((r?, mine))
}

/// Adds `activity_regularizer(y) / batch_size` to the step's loss (Keras 3's rule).
pub(crate) fn activity_loss(r: Option<crate::regularizers::Regularizer>, y: &Tensor) -> Result<()> {
    if let Some(r) = r {
        let batch = y.shape().first().copied().unwrap_or(1).max(1);
        add_loss(r.call(y)?.div_scalar(batch as f64)?);
    }
    Ok(())
}

/// Regularizer and constraint of one weight, as a layer reads them from its config
/// (`kernel_regularizer`, `kernel_constraint`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct WeightRules {
    pub regularizer: Option<crate::regularizers::Regularizer>,
    pub constraint: Option<crate::constraints::Constraint>,
}

impl WeightRules {
    /// Reads `{prefix}_regularizer` and `{prefix}_constraint` from a config.
    pub fn from_config(c: &Value, prefix: &str) -> Result<WeightRules> {
        let get = |k: String| c.get(&k).cloned().unwrap_or(Value::Null);
        Ok(WeightRules {
            regularizer: crate::regularizers::Regularizer::from_config(&get(format!(
                "{prefix}_regularizer"
            )))?,
            constraint: crate::constraints::Constraint::from_config(&get(format!("{prefix}_constraint")))?,
        })
    }
    /// Writes `{prefix}_regularizer` and `{prefix}_constraint` into a config.
    pub fn to_config(&self, m: &mut serde_json::Map<String, Value>, prefix: &str) {
        m.insert(
            format!("{prefix}_regularizer"),
            self.regularizer.map_or(Value::Null, |r| r.to_config()),
        );
        m.insert(
            format!("{prefix}_constraint"),
            self.constraint.as_ref().map_or(Value::Null, |c| c.to_config()),
        );
    }
    /// Attaches the rules to a freshly created weight.
    pub fn attach(&self, v: Variable) -> Variable {
        v.set_regularizer(self.regularizer);
        v.set_constraint(self.constraint.clone());
        v
    }
}

/// A unique layer name from a prefix, Keras style: `dense`, `dense_1`, `dense_2`, …
pub fn unique_name(prefix: &str) -> String {
    static COUNTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
    let mut g = match COUNTS.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let map = g.get_or_insert_with(HashMap::new);
    let n = map.entry(prefix.to_string()).or_insert(0);
    let name = if *n == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}_{n}")
    };
    *n += 1;
    name
}

/// Rebuilds a layer from Keras's `class_name` and `config`.
///
/// # Errors
/// For an unknown class name (the error lists the known ones) or an invalid config.
pub fn from_config(class_name: &str, config: &Value) -> Result<Box<dyn Layer>> {
    type Ctor = fn(&Value) -> Result<Box<dyn Layer>>;
    const REGISTRY: &[(&str, Ctor)] = &[
        ("Activation", |c| Ok(Box::new(Activation::from_config(c)?))),
        ("Add", |c| Ok(Box::new(Add::from_config(c)?))),
        ("Attention", |c| Ok(Box::new(Attention::from_config(c)?))),
        ("Average", |c| Ok(Box::new(Average::from_config(c)?))),
        ("AveragePooling1D", |c| {
            Ok(Box::new(AveragePooling1D::from_config(c)?))
        }),
        ("AveragePooling2D", |c| {
            Ok(Box::new(AveragePooling2D::from_config(c)?))
        }),
        ("BatchNormalization", |c| {
            Ok(Box::new(BatchNormalization::from_config(c)?))
        }),
        ("Bidirectional", |c| Ok(Box::new(Bidirectional::from_config(c)?))),
        ("CenterCrop", |c| Ok(Box::new(CenterCrop::from_config(c)?))),
        ("Concatenate", |c| Ok(Box::new(Concatenate::from_config(c)?))),
        ("Conv1D", |c| Ok(Box::new(Conv1D::from_config(c)?))),
        ("Conv2D", |c| Ok(Box::new(Conv2D::from_config(c)?))),
        ("Conv2DTranspose", |c| {
            Ok(Box::new(Conv2DTranspose::from_config(c)?))
        }),
        ("Cropping2D", |c| Ok(Box::new(Cropping2D::from_config(c)?))),
        ("Dense", |c| Ok(Box::new(Dense::from_config(c)?))),
        ("DepthwiseConv2D", |c| {
            Ok(Box::new(DepthwiseConv2D::from_config(c)?))
        }),
        ("Dot", |c| Ok(Box::new(Dot::from_config(c)?))),
        ("Dropout", |c| Ok(Box::new(Dropout::from_config(c)?))),
        ("ELU", |c| Ok(Box::new(ELU::from_config(c)?))),
        ("Embedding", |c| Ok(Box::new(Embedding::from_config(c)?))),
        ("Flatten", |c| Ok(Box::new(Flatten::from_config(c)?))),
        ("Functional", |c| {
            Ok(Box::new(crate::models::Model::from_config(c)?))
        }),
        ("GRU", |c| Ok(Box::new(GRU::from_config(c)?))),
        ("GaussianNoise", |c| Ok(Box::new(GaussianNoise::from_config(c)?))),
        ("GlobalAveragePooling1D", |c| {
            Ok(Box::new(GlobalAveragePooling1D::from_config(c)?))
        }),
        ("GlobalAveragePooling2D", |c| {
            Ok(Box::new(GlobalAveragePooling2D::from_config(c)?))
        }),
        ("GlobalMaxPooling1D", |c| {
            Ok(Box::new(GlobalMaxPooling1D::from_config(c)?))
        }),
        ("GlobalMaxPooling2D", |c| {
            Ok(Box::new(GlobalMaxPooling2D::from_config(c)?))
        }),
        ("LSTM", |c| Ok(Box::new(LSTM::from_config(c)?))),
        ("LayerNormalization", |c| {
            Ok(Box::new(LayerNormalization::from_config(c)?))
        }),
        ("LeakyReLU", |c| Ok(Box::new(LeakyReLU::from_config(c)?))),
        ("Masking", |c| Ok(Box::new(Masking::from_config(c)?))),
        ("MaxPooling1D", |c| Ok(Box::new(MaxPooling1D::from_config(c)?))),
        ("MaxPooling2D", |c| Ok(Box::new(MaxPooling2D::from_config(c)?))),
        ("Maximum", |c| Ok(Box::new(Maximum::from_config(c)?))),
        ("Minimum", |c| Ok(Box::new(Minimum::from_config(c)?))),
        ("MultiHeadAttention", |c| {
            Ok(Box::new(MultiHeadAttention::from_config(c)?))
        }),
        ("Multiply", |c| Ok(Box::new(Multiply::from_config(c)?))),
        ("Normalization", |c| Ok(Box::new(Normalization::from_config(c)?))),
        ("PReLU", |c| Ok(Box::new(PReLU::from_config(c)?))),
        ("Permute", |c| Ok(Box::new(Permute::from_config(c)?))),
        ("RandomBrightness", |c| {
            Ok(Box::new(RandomBrightness::from_config(c)?))
        }),
        ("RandomContrast", |c| {
            Ok(Box::new(RandomContrast::from_config(c)?))
        }),
        ("RandomCrop", |c| Ok(Box::new(RandomCrop::from_config(c)?))),
        ("RandomFlip", |c| Ok(Box::new(RandomFlip::from_config(c)?))),
        ("RandomRotation", |c| {
            Ok(Box::new(RandomRotation::from_config(c)?))
        }),
        ("RandomTranslation", |c| {
            Ok(Box::new(RandomTranslation::from_config(c)?))
        }),
        ("RandomZoom", |c| Ok(Box::new(RandomZoom::from_config(c)?))),
        ("ReLU", |c| Ok(Box::new(ReLU::from_config(c)?))),
        ("RepeatVector", |c| Ok(Box::new(RepeatVector::from_config(c)?))),
        ("Rescaling", |c| Ok(Box::new(Rescaling::from_config(c)?))),
        ("Reshape", |c| Ok(Box::new(Reshape::from_config(c)?))),
        ("Resizing", |c| Ok(Box::new(Resizing::from_config(c)?))),
        ("SeparableConv2D", |c| {
            Ok(Box::new(SeparableConv2D::from_config(c)?))
        }),
        ("Sequential", |c| {
            Ok(Box::new(crate::models::Sequential::from_config(c)?))
        }),
        ("SimpleRNN", |c| Ok(Box::new(SimpleRNN::from_config(c)?))),
        ("Softmax", |c| Ok(Box::new(Softmax::from_config(c)?))),
        ("SpatialDropout2D", |c| {
            Ok(Box::new(SpatialDropout2D::from_config(c)?))
        }),
        ("Subtract", |c| Ok(Box::new(Subtract::from_config(c)?))),
        ("TimeDistributed", |c| {
            Ok(Box::new(TimeDistributed::from_config(c)?))
        }),
        ("UpSampling2D", |c| Ok(Box::new(UpSampling2D::from_config(c)?))),
        ("ZeroPadding2D", |c| Ok(Box::new(ZeroPadding2D::from_config(c)?))),
    ];
    if let Some((_, ctor)) = REGISTRY.iter().find(|(n, _)| *n == class_name) {
        return ctor(config);
    }
    let custom = lock_custom();
    if let Some(ctor) = custom.get(class_name) {
        return ctor(config);
    }
    let mut known: Vec<&str> = REGISTRY.iter().map(|(n, _)| *n).collect();
    known.extend(custom.keys().map(String::as_str));
    Err(Error::InvalidArgument {
        op: "layers.from_config",
        msg: format!("unknown layer class {class_name:?}; known: {}", known.join(", ")),
    })
}

/// Constructor of a user-defined layer from its config.
pub type LayerConstructor = fn(&Value) -> Result<Box<dyn Layer>>;

type CustomRegistry = HashMap<String, LayerConstructor>;

fn lock_custom() -> std::sync::MutexGuard<'static, CustomRegistry> {
    static CUSTOM: std::sync::OnceLock<Mutex<CustomRegistry>> = std::sync::OnceLock::new();
    CUSTOM
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Registers a user-defined layer class so [`from_config`] (and model loading) can rebuild
/// it: Keras's `@keras.saving.register_keras_serializable`.
///
/// ```
/// use keras::layers::{register_layer, from_config, Flatten, Layer};
/// register_layer("MyFlatten", |c| Ok(Box::new(Flatten::from_config(c)?)));
/// assert_eq!(from_config("MyFlatten", &serde_json::json!({}))?.class_name(), "Flatten");
/// # Ok::<(), keras_tensor::Error>(())
/// ```
pub fn register_layer(class_name: &str, ctor: LayerConstructor) {
    lock_custom().insert(class_name.to_string(), ctor);
}

/// The trait methods every layer implements the same way from its `name` and `trainable`
/// fields, plus its Keras class name.
macro_rules! layer_common {
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn trainable(&self) -> bool {
            self.trainable
        }
        fn set_trainable(&mut self, trainable: bool) {
            self.trainable = trainable;
        }
    };
}
pub(crate) use layer_common;

/// Reads a Keras pair argument (`3` or `[3, 3]`) from a config, or `None` when absent.
pub(crate) fn field_pair(c: &Value, key: &str) -> Result<Option<[usize; 2]>> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64()
                .map(|n| Some([n as usize; 2]))
                .ok_or_else(|| Error::InvalidArgument {
                    op: "from_config",
                    msg: format!("field {key:?}: expected a non-negative integer, got {n}"),
                })
        }
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| Error::InvalidArgument {
                op: "from_config",
                msg: format!("field {key:?}: {e}"),
            }),
    }
}

/// Rejects config keys this version does not implement yet (regularizers, constraints, …)
/// instead of silently ignoring them.
pub(crate) fn reject_unsupported(c: &Value, op: &'static str, keys: &[&str]) -> Result<()> {
    match keys.iter().find(|k| c.get(**k).is_some_and(|v| !v.is_null())) {
        Some(k) => Err(Error::InvalidArgument {
            op,
            msg: format!("{k} is not supported yet"),
        }),
        None => Ok(()),
    }
}

/// The op a layer's bias and `activation` fuse into (`Some(None)`: the bias alone), for the
/// activations whose derivative follows from their output; `None` for the others.
pub(crate) fn fused_activation(
    activation: crate::activations::Activation,
) -> Option<Option<keras_tensor::op::UnaryOp>> {
    use crate::activations::Activation::*;
    use keras_tensor::op::UnaryOp;
    match activation {
        Linear => Some(None),
        Relu => Some(Some(UnaryOp::Relu)),
        Sigmoid => Some(Some(UnaryOp::Sigmoid)),
        Tanh => Some(Some(UnaryOp::Tanh)),
        _ => None,
    }
}

/// For [`Layer::call_fused`] of a layer computing `activation(x · kernel + bias)`: the kernel
/// and bias with `epilogue` folded in, or `None` when the layer cannot absorb it (an
/// activation of its own or an activity regularizer needs its output as it is; an input not
/// of the kernel's dtype would give another output dtype).
pub(crate) fn fold_epilogue(
    epilogue: &Epilogue,
    activation: crate::activations::Activation,
    activity_regularizer: Option<crate::regularizers::Regularizer>,
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Variable>,
) -> Result<Option<(Tensor, Tensor)>> {
    if activation != crate::activations::Activation::Linear
        || activity_regularizer.is_some()
        || x.dtype() != kernel.dtype()
    {
        return Ok(None);
    }
    epilogue
        .fold(kernel, bias.map(Variable::value).as_ref())
        .map(Some)
}

/// `activation(y + bias)`, the tail of Dense and the convolutions.
pub(crate) fn bias_activation(
    y: Tensor,
    bias: Option<&Variable>,
    activation: crate::activations::Activation,
) -> Result<Tensor> {
    match (bias, fused_activation(activation)) {
        (Some(b), Some(op)) => y.bias_unary(&b.value(), op),
        (Some(b), None) => activation.apply(&y.add(&b.value())?),
        (None, _) => activation.apply(&y),
    }
}

/// Reads config field `key`, or `default` when absent.
pub(crate) fn field<T: serde::de::DeserializeOwned>(c: &Value, key: &str, default: T) -> Result<T> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| Error::InvalidArgument {
            op: "from_config",
            msg: format!("field {key:?}: {e}"),
        }),
    }
}

/// The layer's name from a config, or a fresh one.
pub(crate) fn config_name(c: &Value, prefix: &str) -> Result<String> {
    Ok(field::<Option<String>>(c, "name", None)?.unwrap_or_else(|| unique_name(prefix)))
}

/// Error for an input shape a layer cannot take.
pub(crate) fn shape_error(layer: &str, expected: &str, got: &[Option<usize>]) -> Error {
    Error::InvalidArgument {
        op: "build",
        msg: format!(
            "layer {layer:?} expects {expected}, got input shape {}",
            fmt_shape(got)
        ),
    }
}

/// `(None, 28, 28, 1)` as Keras prints shapes.
pub fn fmt_shape(s: &[Option<usize>]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| d.map_or("None".to_string(), |n| n.to_string()))
        .collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// Checks a concrete tensor against a symbolic shape, batch axis aside (a layer built for a
/// fixed batch size, from `Input::with_batch_size`, takes any: Keras's input specs do not
/// pin the batch either).
pub(crate) fn check_input(layer: &str, expected: &[Option<usize>], x: &Tensor) -> Result<()> {
    let ok = x.rank() == expected.len()
        && expected
            .iter()
            .zip(x.shape())
            .skip(1)
            .all(|(e, &d)| e.is_none_or(|e| e == d));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op: "call",
            msg: format!(
                "layer {layer:?} was built for input shape {} but got a tensor of shape {:?}",
                fmt_shape(expected),
                x.shape()
            ),
        })
    }
}

/// A layer as Keras serializes it inside a model's or wrapper's config: `module`,
/// `class_name`, `config` and `registered_name`. Models nested as layers keep Keras's own
/// module (`keras.src.models.functional` for a functional model, `keras` for a `Sequential`),
/// which Keras needs to deserialize them.
pub(crate) fn serialize(l: &dyn Layer) -> Value {
    let (module, registered) = match l.class_name() {
        "Functional" => ("keras.src.models.functional", Value::from("Functional")),
        "Sequential" => ("keras", Value::Null),
        _ => ("keras.layers", Value::Null),
    };
    serde_json::json!({"module": module, "class_name": l.class_name(), "config": l.get_config(),
        "registered_name": registered})
}

/// The common config keys of every layer.
pub(crate) fn base_config(name: &str, trainable: bool) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), Value::from(name));
    m.insert("trainable".into(), Value::from(trainable));
    m.insert(
        "dtype".into(),
        serde_json::json!({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}),
    );
    m
}

#[cfg(test)]
pub(crate) mod testing {
    //! `run_layer_test`: the checks every layer passes (Keras's harness of the same name).
    use super::*;
    use keras_tensor::{DType, Device};

    /// Builds the layer for `input_shape` (batch `None`), checks the weight count, that
    /// `call` on a batch of 2 gives `compute_output_shape`, that the config round-trips
    /// through the registry to an equal config, and that gradients reach every trainable
    /// weight.
    pub(crate) fn run_layer_test(mut layer: Box<dyn Layer>, input_shape: &[usize], n_weights: usize) {
        let mut shape: Shape = vec![None];
        shape.extend(input_shape.iter().map(|&d| Some(d)));
        layer.build(&shape).unwrap();
        assert!(layer.built());
        assert_eq!(layer.weights().len(), n_weights, "{} weights", layer.name());
        let mut batch = vec![2];
        batch.extend_from_slice(input_shape);
        let x = Tensor::random_normal(&batch, 0.0, 1.0, 3, DType::F32, &Device::Cpu).unwrap();
        let y = layer.call(&x, true).unwrap();
        let expect = layer.compute_output_shape(&shape).unwrap();
        assert_eq!(expect[0], None);
        let got: Vec<usize> = y.shape().to_vec();
        assert_eq!(
            expect[1..].iter().map(|d| d.unwrap()).collect::<Vec<_>>(),
            got[1..].to_vec()
        );
        let config = layer.get_config();
        let again = from_config(layer.class_name(), &config).unwrap();
        assert_eq!(again.get_config(), config, "config round trip");
        if !layer.trainable_weights().is_empty() {
            let grads = y.square().unwrap().sum_all().unwrap().backward().unwrap();
            for w in layer.trainable_weights() {
                assert!(grads.get(&w.value()).is_some(), "no gradient for {}", w.name());
            }
        }
    }
}
