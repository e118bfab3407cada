//! [`LoadedModel`]: what [`load_model`](super::load_model) returns, a `Sequential` or a
//! functional `Model` as the file's `class_name` says.

use std::path::Path;

use keras_tensor::{Result, Tensor};
use serde_json::Value;

use super::archive::Archive;
use super::h5::WeightsStore;
use super::{invalid, ModelState};
use crate::layers::{Layer, Shape};
use crate::models::{Model, Sequential};
use crate::trainers::{CompileArgs, Compiled, Trainer};
use crate::Variable;

/// A model loaded from a `.keras` file: a `Sequential` or a functional `Model`. It trains,
/// evaluates and predicts like either ([`Trainer`]), and saves again.
///
/// ```no_run
/// use keras::{saving, Trainer};
/// let mut model = saving::load_model("model.keras")?;
/// println!("{}", model.summary()?);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub enum LoadedModel {
    /// A `"Sequential"` model.
    Sequential(Sequential),
    /// A `"Functional"` model.
    Functional(Model),
}

macro_rules! each {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            LoadedModel::Sequential($m) => $e,
            LoadedModel::Functional($m) => $e,
        }
    };
}

impl LoadedModel {
    /// Parses a `.keras` file's bytes (`what` names it in errors).
    pub(crate) fn from_keras_bytes(bytes: &[u8], what: &str) -> Result<LoadedModel> {
        let archive = Archive::read(bytes, what)?;
        let mut model = LoadedModel::from_config(&archive.config)
            .map_err(|e| invalid(format!("{what}: cannot rebuild the model: {e}")))?;
        let store = WeightsStore::from_bytes(archive.weights, what)?;
        let compile = archive.config.get("compile_config").filter(|c| !c.is_null());
        if let Some(cc) = compile {
            model
                .compile_from_config(cc)
                .map_err(|e| invalid(format!("{what}: compile_config: {e}")))?;
            super::build_optimizer_for(&mut model, &store)?;
        }
        model.state()?.assign_from(&store, what)?;
        Ok(model)
    }

    /// Rebuilds the architecture from a `config.json` object (`class_name` `"Sequential"` or
    /// `"Functional"`), built for its input shape, with fresh weights.
    ///
    /// # Errors
    /// For other classes (a subclassed Keras model needs its Rust type and `load_weights`),
    /// unknown layer classes or malformed configs.
    pub fn from_config(c: &Value) -> Result<LoadedModel> {
        let class = c.get("class_name").and_then(Value::as_str).unwrap_or("");
        let config = c.get("config").unwrap_or(&Value::Null);
        match class {
            "Sequential" => {
                let s = Sequential::from_config(config)?;
                if !s.is_built() {
                    if let Some(shape) = c
                        .pointer("/build_config/input_shape")
                        .and_then(|v| serde_json::from_value::<Shape>(v.clone()).ok())
                    {
                        s.build_for(&shape)?;
                    }
                }
                Ok(LoadedModel::Sequential(s))
            }
            "Functional" | "Model" => Ok(LoadedModel::Functional(Model::from_config(config)?)),
            "" => Err(invalid("the config has no \"class_name\"".into())),
            other => Err(invalid(format!(
                "the model class {other:?} cannot be rebuilt from its config (keras-rs rebuilds \
                 Sequential and Functional models; for a subclassed model build its Rust type and \
                 use load_weights)"
            ))),
        }
    }

    fn state(&mut self) -> Result<ModelState> {
        super::model_state(self)
    }

    /// Exports the weights as `.safetensors` (see [`ModelState::export_safetensors`]).
    ///
    /// # Errors
    /// As [`ModelState::export_safetensors`].
    pub fn export_safetensors(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.state()?.export_safetensors(path)
    }

    fn layer(&self) -> &dyn Layer {
        each!(self, m => m)
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        self.layer().name()
    }

    /// Keras's `model.summary()` table.
    ///
    /// # Errors
    /// When a `Sequential` model is not built.
    pub fn summary(&self) -> Result<String> {
        match self {
            LoadedModel::Sequential(m) => m.summary(),
            LoadedModel::Functional(m) => Ok(m.summary()),
        }
    }

    /// The input shapes (batch dimension `None`), one per model input.
    pub fn input_shapes(&self) -> Vec<Shape> {
        match self {
            LoadedModel::Sequential(m) => m.built_input_shape().into_iter().collect(),
            LoadedModel::Functional(m) => m.inputs().iter().map(|x| x.shape().to_vec()).collect(),
        }
    }

    /// The output shapes (batch dimension `None`), one per model output.
    ///
    /// # Errors
    /// When a `Sequential` model is not built.
    pub fn output_shapes(&self) -> Result<Vec<Shape>> {
        match self {
            LoadedModel::Sequential(m) => {
                let input = m
                    .built_input_shape()
                    .ok_or_else(|| invalid(format!("the model {:?} is not built", m.name())))?;
                Ok(vec![m.compute_output_shape(&input)?])
            }
            LoadedModel::Functional(m) => Ok(m.outputs().iter().map(|x| x.shape().to_vec()).collect()),
        }
    }

    /// Compiles the model from a `compile_config` (Keras's `compile_from_config`); does
    /// nothing when the config records no loss.
    ///
    /// # Errors
    /// As [`CompileArgs::from_compile_config`].
    pub fn compile_from_config(&mut self, compile_config: &Value) -> Result<()> {
        if let Some(args) = CompileArgs::from_compile_config(compile_config, &self.output_names())? {
            self.compile_with(args)?;
        }
        Ok(())
    }

    /// Saves again as a `.keras` file (see [`ModelState::save`]).
    ///
    /// # Errors
    /// As [`ModelState::save`].
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.state()?.save(path)
    }

    /// Saves the weights as a `.weights.h5` file.
    ///
    /// # Errors
    /// As [`ModelState::save_weights`].
    pub fn save_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.state()?.save_weights(path)
    }

    /// Loads a `.weights.h5` file.
    ///
    /// # Errors
    /// As [`ModelState::load_weights`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        super::load_weights(self, path)
    }

    /// The `Sequential` model, if it is one.
    pub fn as_sequential(&self) -> Option<&Sequential> {
        match self {
            LoadedModel::Sequential(m) => Some(m),
            LoadedModel::Functional(_) => None,
        }
    }

    /// The functional `Model`, if it is one.
    pub fn as_functional(&self) -> Option<&Model> {
        match self {
            LoadedModel::Functional(m) => Some(m),
            LoadedModel::Sequential(_) => None,
        }
    }
}

impl Trainer for LoadedModel {
    fn forward(&self, inputs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        each!(self, m => m.forward(inputs, training))
    }
    fn forward_masked(
        &self,
        inputs: &[Tensor],
        training: bool,
    ) -> Result<(Vec<Tensor>, Vec<Option<Tensor>>)> {
        each!(self, m => m.forward_masked(inputs, training))
    }
    fn variables(&self) -> Vec<Variable> {
        each!(self, m => Trainer::variables(m))
    }
    fn trainable_variables(&self) -> Vec<Variable> {
        each!(self, m => Trainer::trainable_variables(m))
    }
    fn compiled_slot(&mut self) -> &mut Option<Compiled> {
        each!(self, m => m.compiled_slot())
    }
    fn prepare(&mut self, inputs: &[Tensor]) -> Result<()> {
        each!(self, m => m.prepare(inputs))
    }
    fn output_names(&self) -> Vec<String> {
        each!(self, m => m.output_names())
    }
    fn as_layer(&self) -> Option<&dyn Layer> {
        Some(self.layer())
    }
    fn compile_with(&mut self, args: CompileArgs) -> Result<()> {
        each!(self, m => m.compile_with(args))
    }
}
