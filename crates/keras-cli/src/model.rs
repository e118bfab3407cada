//! Loading models: `.keras` files, and Keras model configs (`config.json` of a `.keras`
//! archive) rebuilt with fresh weights; compiling them; reading their input shape.

use std::path::Path;

use keras::saving::{self, LoadedModel};
use keras::trainers::CompileArgs;
use keras::{losses, optimizers, Trainer};
use serde_json::Value;

use crate::Result;

/// The compile arguments used when a model carries none: Adam, sparse categorical
/// cross-entropy, accuracy.
pub const DEFAULT_COMPILE: &str = "adam, sparse_categorical_crossentropy, metrics [accuracy]";

/// What to do with a model that has no compile information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compile {
    /// Compile it with [`DEFAULT_COMPILE`] (for training).
    DefaultIfMissing,
    /// Leave it uncompiled.
    AsSaved,
}

/// Fails with a message naming `path` when it is not an existing file.
pub fn require_file(path: &Path, what: &str) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else if path.is_dir() {
        Err(format!("{} is a folder, not {what}", path.display()).into())
    } else {
        Err(format!("{}: no such file (expected {what})", path.display()).into())
    }
}

/// Whether `path` names a model config (`.json`) rather than a `.keras` file.
fn is_config(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Loads a `.keras` file (with its weights, compile state and optimizer state) or rebuilds a
/// model from a config `.json` (fresh weights, compiled from its `compile_config` when it has
/// one), then applies `compile`.
pub fn load(path: &Path, compile: Compile) -> Result<LoadedModel> {
    require_file(path, "a .keras model file or a model config .json")?;
    let mut model = if is_config(path) {
        from_config_file(path)?
    } else {
        saving::load_model(path)?
    };
    if compile == Compile::DefaultIfMissing && model.compiled_slot().is_none() {
        eprintln!(
            "{} has no compile information: compiling with {DEFAULT_COMPILE}",
            path.display()
        );
        compile_default(&mut model)?;
    }
    Ok(model)
}

/// Rebuilds a model from the `config.json` object of a `.keras` archive
/// (`{"module", "class_name", "config", "build_config", "compile_config"}`).
fn from_config_file(path: &Path) -> Result<LoadedModel> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    let mut model = LoadedModel::from_config(&value).map_err(|e| {
        format!(
            "{}: cannot build a model from this config: {e} (expected the config.json of a .keras \
             file: {{\"class_name\": \"Sequential\" or \"Functional\", \"config\": {{…}}, …}})",
            path.display()
        )
    })?;
    if let Some(cc) = value.get("compile_config").filter(|c| !c.is_null()) {
        model
            .compile_from_config(cc)
            .map_err(|e| format!("{}: compile_config: {e}", path.display()))?;
    }
    Ok(model)
}

/// Compiles with [`DEFAULT_COMPILE`].
fn compile_default(model: &mut LoadedModel) -> Result<()> {
    model.compile_with(CompileArgs {
        optimizer: optimizers::get("adam")?,
        loss: vec![losses::get("sparse_categorical_crossentropy")?],
        loss_weights: None,
        metrics: vec!["accuracy".into()],
    })?;
    Ok(())
}

/// The input shape of a single-input model, batch dimension first (`None` where free);
/// `None` when the model does not declare one.
pub fn input_shape(model: &LoadedModel) -> Result<Option<Vec<Option<usize>>>> {
    let mut shapes = model.input_shapes();
    match shapes.len() {
        0 => Ok(None),
        1 => Ok(shapes.pop()),
        n => Err(format!(
            "the model has {n} inputs; keras-rs train / evaluate / predict handle single-input models"
        )
        .into()),
    }
}

/// `(None, 28, 28, 1)`, as Keras prints shapes.
pub fn fmt_shape(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("None".to_string(), |d| d.to_string()))
        .collect();
    match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    }
}

/// Whether the compiled loss wants one-hot targets (`categorical_crossentropy`) rather than
/// class indices.
pub fn wants_one_hot(model: &mut LoadedModel) -> bool {
    let Some(c) = model.compiled_slot().as_ref() else {
        return false;
    };
    let cc = c.compile_config();
    let is_categorical = |l: &Value| match l {
        Value::String(s) => s == "categorical_crossentropy",
        Value::Object(_) => l.get("class_name").and_then(Value::as_str) == Some("CategoricalCrossentropy"),
        _ => false,
    };
    match cc.get("loss") {
        Some(Value::Array(a)) => a.first().is_some_and(is_categorical),
        Some(l) => is_categorical(l),
        None => false,
    }
}

/// The size of the last axis of the model's (first) output; `None` when it is not fixed.
pub fn output_units(model: &LoadedModel) -> Option<usize> {
    model.output_shapes().ok()?.first()?.last().copied().flatten()
}
