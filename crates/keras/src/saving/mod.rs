//! Saving and loading, in Keras 3's formats: `.keras` model files and `.weights.h5` weights
//! files that Keras reads and writes, plus a `.safetensors` export of the weights.
//!
//! A `.keras` file is a zip of `metadata.json`, `config.json` (the model's config with its
//! `build_config` and `compile_config`) and `model.weights.h5` (HDF5: every layer's variables
//! under `layers/<snake_case class name>[_<n>]/vars/<i>`, the optimizer's under
//! `optimizer/vars/<i>`). Loading restores the architecture, the weights, the compile
//! arguments and the optimizer state, so `fit` continues where it stopped.
//!
//! Loading executes nothing from the file: classes are looked up in keras-rs's registry
//! ([`crate::layers::register_layer`] adds yours), and malformed, truncated or hostile input
//! is an error that says what is wrong. Every write that replaces a file goes through
//! [`write_atomically`].
//!
//! ```
//! use keras::{layers::Dense, losses, optimizers, saving, Sequential, Trainer};
//! use keras_tensor::{DType, Device, Tensor};
//! let mut model = Sequential::new(vec![Box::new(Dense::new(2))]).input_shape(&[3]);
//! model.compile(optimizers::get("adam")?, losses::get("mse")?, &[])?;
//! let path = std::env::temp_dir().join(format!("keras-doc-{}.keras", std::process::id()));
//! model.save(&path)?;
//! let mut loaded = saving::load_model(&path)?;
//! let x = Tensor::ones(&[4, 3], DType::F32, &Device::Cpu)?;
//! let (a, b) = (model.predict(&x, 4)?, loaded.predict(&x, 4)?);
//! assert_eq!(a.to_vec::<f32>()?, b.to_vec::<f32>()?);
//! # std::fs::remove_file(&path).unwrap();
//! # Ok::<(), keras_tensor::Error>(())
//! ```

mod archive;
mod atomic;
mod h5;
mod loaded;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

use crate::layers::Layer;
use crate::models::LayerRef;
use crate::trainers::{Compiled, Trainer};
use crate::Variable;
use archive::Archive;
use h5::{Entry, WeightsStore};

pub use atomic::write_atomically;
pub use loaded::LoadedModel;

/// The version of Keras whose file format keras-rs writes (recorded in `metadata.json`).
pub const KERAS_FORMAT_VERSION: &str = "3.15.1";

pub(crate) fn invalid(msg: String) -> Error {
    Error::InvalidArgument {
        op: "keras.saving",
        msg,
    }
}

/// Keras's `naming.to_snake_case`: the name a layer's class gives its entry in a weights file
/// (`"Conv2D"` → `"conv2d"`, `"BatchNormalization"` → `"batch_normalization"`).
///
/// ```
/// use keras::saving::to_snake_case;
/// assert_eq!(to_snake_case("MaxPooling2D"), "max_pooling2d");
/// assert_eq!(to_snake_case("LSTM"), "lstm");
/// assert_eq!(to_snake_case("PReLU"), "p_re_lu");
/// ```
pub fn to_snake_case(name: &str) -> String {
    let c: Vec<char> = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2"): matches do not overlap, each consumes its run.
    let mut a: Vec<char> = Vec::with_capacity(c.len() + 8);
    let mut i = 0;
    while i < c.len() {
        if i + 2 < c.len() && c[i + 1].is_ascii_uppercase() && c[i + 2].is_ascii_lowercase() {
            let mut end = i + 3;
            while end < c.len() && c[end].is_ascii_lowercase() {
                end += 1;
            }
            a.push(c[i]);
            a.push('_');
            a.extend(&c[i + 1..end]);
            i = end;
        } else {
            a.push(c[i]);
            i += 1;
        }
    }
    // re.sub("([a-z])([A-Z])", r"\1_\2")
    let mut out = String::with_capacity(a.len() + 8);
    let mut i = 0;
    while i < a.len() {
        if i + 1 < a.len() && a[i].is_ascii_lowercase() && a[i + 1].is_ascii_uppercase() {
            out.push(a[i]);
            out.push('_');
            out.push(a[i + 1]);
            i += 2;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.to_lowercase()
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// One object's variables in a weights file.
#[derive(Clone, Debug)]
struct SavedEntry {
    /// Keras's saving path (`layers/dense_1`).
    path: String,
    /// The path by layer names (`dense_1`), for the safetensors export.
    name_path: String,
    /// The object's name (`vars` group attribute).
    name: String,
    vars: Vec<Variable>,
}

/// A model as saving sees it: its config, its variables by Keras's saving path, and its
/// compile state with the optimizer's variables. The variables are the model's own (shared),
/// so a state captured once saves the model's current values at any later time: `fit` gives
/// one to callbacks ([`CallbackContext::model_state`](crate::callbacks::CallbackContext::model_state)).
#[derive(Clone, Debug)]
pub struct ModelState {
    config: Value,
    entries: Vec<SavedEntry>,
    optimizer: Option<SavedEntry>,
}

impl ModelState {
    /// The saving view of `model` (a `Sequential`, a `Model`, or any layer used as the root)
    /// with what `compile` stored, if anything.
    pub fn capture(model: &dyn Layer, compiled: Option<&Compiled>) -> ModelState {
        let mut entries = Vec::new();
        let mut visited: Vec<LayerRef> = Vec::new();
        walk(model, "", "", &mut entries, &mut visited);
        let mut top = crate::layers::serialize(model);
        match model.class_name() {
            "Functional" => top["build_config"] = json!({"input_shape": null}),
            "Sequential" => {
                let shape = top["config"]
                    .get("build_input_shape")
                    .cloned()
                    .unwrap_or(Value::Null);
                top["build_config"] = json!({ "input_shape": shape });
            }
            _ => {}
        }
        top["compile_config"] = compiled.map(Compiled::compile_config).unwrap_or(Value::Null);
        let optimizer = compiled.map(|c| {
            let o = c.optimizer_ref();
            SavedEntry {
                path: "optimizer".into(),
                name_path: "optimizer".into(),
                name: o.name().to_string(),
                vars: o.variables(),
            }
        });
        ModelState {
            config: top,
            entries,
            optimizer,
        }
    }

    /// The model's config as `config.json` stores it (`module`, `class_name`, `config`,
    /// `build_config`, `compile_config`).
    pub fn config(&self) -> &Value {
        &self.config
    }

    fn all_entries(&self) -> impl Iterator<Item = &SavedEntry> {
        self.entries.iter().chain(self.optimizer.iter())
    }

    fn store(&self) -> WeightsStore {
        let mut store = WeightsStore::default();
        for e in self.all_entries() {
            store.entries.insert(
                e.path.clone(),
                Entry {
                    name: e.name.clone(),
                    values: e.vars.iter().map(Variable::value).collect(),
                },
            );
        }
        store
    }

    /// Writes a `.keras` file (replacing any file at `path` atomically).
    ///
    /// # Errors
    /// When `path` does not end in `.keras`, or the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if path.extension().and_then(|e| e.to_str()) != Some("keras") {
            return Err(invalid(format!(
                "the filepath must end in `.keras` (received {}); for weights only use save_weights \
                 with a `.weights.h5` path",
                path.display()
            )));
        }
        let archive = Archive {
            metadata: json!({"keras_version": KERAS_FORMAT_VERSION, "date_saved": date_saved(),
                             "keras_rs_version": env!("CARGO_PKG_VERSION")}),
            config: self.config.clone(),
            weights: self.store().to_bytes()?,
        };
        write_atomically(path, &archive.write()?)
    }

    /// Writes the weights (and optimizer variables) as a Keras `.weights.h5` file.
    ///
    /// # Errors
    /// When `path` does not end in `.weights.h5`, or the file cannot be written.
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        check_weights_path(path)?;
        write_atomically(path, &self.store().to_bytes()?)
    }

    /// Loads a `.weights.h5` file into the model's variables. Nothing is assigned unless
    /// every variable matches (count, shape, kind of dtype).
    ///
    /// # Errors
    /// When the file is unreadable or does not match the model.
    pub fn load_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        check_weights_path(path)?;
        let bytes = read_file(path)?;
        let store = WeightsStore::from_bytes(bytes, &path.display().to_string())?;
        self.assign_from(&store, &path.display().to_string())
    }

    /// Assigns every variable from `store` after checking all of them.
    fn assign_from(&self, store: &WeightsStore, what: &str) -> Result<()> {
        let mut plan: Vec<(&Variable, Tensor)> = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        for e in self.all_entries() {
            let stored = store.entries.get(&e.path);
            if let Some(s) = stored {
                used.push(&e.path);
                if e.vars.len() != s.values.len() {
                    return Err(invalid(format!(
                        "{what}: {} {:?} ({}) has {} variables, the file has {}",
                        if e.path == "optimizer" {
                            "the optimizer"
                        } else {
                            "layer"
                        },
                        e.name,
                        e.path,
                        e.vars.len(),
                        s.values.len()
                    )));
                }
            } else if !e.vars.is_empty() {
                if e.path == "optimizer" {
                    continue; // saved before compile: the optimizer starts fresh, as in Keras
                }
                return Err(invalid(format!(
                    "{what}: no weights for layer {:?} (expected at {}/vars, {} variables); the file \
                     was saved from a different model",
                    e.name,
                    e.path,
                    e.vars.len()
                )));
            }
            let Some(s) = stored else { continue };
            for (v, t) in e.vars.iter().zip(&s.values) {
                if v.shape() != t.shape() {
                    return Err(invalid(format!(
                        "{what}: variable {:?} of {:?} ({}) has shape {:?}, the file has {:?}",
                        v.name(),
                        e.name,
                        e.path,
                        v.shape(),
                        t.shape()
                    )));
                }
                if v.dtype().is_float() != t.dtype().is_float() {
                    return Err(invalid(format!(
                        "{what}: variable {:?} of {:?} is {}, the file stores {}",
                        v.name(),
                        e.name,
                        v.dtype(),
                        t.dtype()
                    )));
                }
                plan.push((v, t.cast(v.dtype())?));
            }
        }
        let extra: Vec<&String> = store
            .entries
            .iter()
            .filter(|(p, e)| !e.values.is_empty() && !used.contains(&p.as_str()))
            .filter(|(p, _)| !(p.as_str() == "optimizer" && self.optimizer.is_none()))
            .map(|(p, _)| p)
            .collect();
        if !extra.is_empty() {
            return Err(invalid(format!(
                "{what}: the file has weights for {extra:?}, which this model does not have"
            )));
        }
        for (v, t) in plan {
            v.assign(&t.to_device(&v.value().device().clone())?)?;
        }
        Ok(())
    }

    /// Writes every weight to a `.safetensors` file, keyed by layer-name path and variable name
    /// (`"conv2d/kernel"`, `"sequential/dense/bias"`), for other Rust tools.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn export_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
        for e in &self.entries {
            for v in &e.vars {
                let mut key = join(&e.name_path, v.name());
                if tensors.contains_key(&key) {
                    key = format!("{key}_{}", tensors.len());
                }
                tensors.insert(key, v.value());
            }
        }
        let bytes = safetensors_bytes(&tensors)?;
        write_atomically(path.as_ref(), &bytes)
    }
}

fn safetensors_bytes(tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>> {
    use safetensors::tensor::{serialize, TensorView};
    use safetensors::Dtype as St;
    let mut data: Vec<(String, St, Vec<usize>, Vec<u8>)> = Vec::new();
    for (k, t) in tensors {
        let (dt, bytes): (St, Vec<u8>) = match t.dtype() {
            DType::F64 => (
                St::F64,
                t.to_vec::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            DType::I64 => (
                St::I64,
                t.to_vec::<i64>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            DType::I32 => (
                St::I32,
                t.to_vec::<i32>()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            DType::U8 | DType::Bool => (St::U8, t.cast(DType::U8)?.to_vec::<u8>()?),
            _ => (
                St::F32,
                t.cast(DType::F32)?
                    .to_vec::<f32>()?
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            ),
        };
        data.push((k.clone(), dt, t.shape().to_vec(), bytes));
    }
    let views = data
        .iter()
        .map(|(k, dt, shape, b)| {
            TensorView::new(*dt, shape.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| invalid(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    serialize(views, None).map_err(|e| invalid(format!("safetensors: {e}")))
}

/// Keras's `_save_state` walk: the layer's own variable groups, then each sublayer under
/// `layers/<snake_case class>[_<n>]` (numbered per class in container order). A layer met a
/// second time (shared by two containers) keeps its first entry, but still takes its name.
fn walk(
    layer: &dyn Layer,
    path: &str,
    name_path: &str,
    out: &mut Vec<SavedEntry>,
    visited: &mut Vec<LayerRef>,
) {
    for (sub, vars) in layer.saved_variables() {
        out.push(SavedEntry {
            path: join(path, &sub),
            name_path: join(name_path, &sub),
            name: if sub.is_empty() {
                layer.name().to_string()
            } else {
                sub.clone()
            },
            vars,
        });
    }
    let mut used: HashMap<String, usize> = HashMap::new();
    for child in layer.sublayers() {
        let base = to_snake_case(child.read().class_name());
        let name = match used.get_mut(&base) {
            Some(n) => {
                *n += 1;
                format!("{base}_{n}")
            }
            None => {
                used.insert(base.clone(), 0);
                base
            }
        };
        if visited.iter().any(|v| v.same_as(&child)) {
            continue;
        }
        visited.push(child.clone());
        let guard = child.read();
        walk(
            guard.as_ref(),
            &join(path, &format!("layers/{name}")),
            &join(name_path, guard.name()),
            out,
            visited,
        );
    }
}

fn check_weights_path(path: &Path) -> Result<()> {
    if !path.to_string_lossy().ends_with(".weights.h5") {
        return Err(invalid(format!(
            "the filename must end in `.weights.h5` (received {})",
            path.display()
        )));
    }
    Ok(())
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| atomic::io_error(path, "cannot read", e))
}

/// Keras's `date_saved` (`%Y-%m-%d@%H:%M:%S`, UTC here).
fn date_saved() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}@{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The saving view of a model with its compile state.
///
/// # Errors
/// For a model that does not describe itself as a layer ([`Trainer::as_layer`]).
pub fn model_state<M: Trainer + ?Sized>(model: &mut M) -> Result<ModelState> {
    let compiled = model.compiled_slot().take();
    let state = model
        .as_layer()
        .map(|l| ModelState::capture(l, compiled.as_ref()))
        .ok_or_else(|| invalid("this model cannot be saved: it does not describe itself as a layer".into()));
    *model.compiled_slot() = compiled;
    state
}

/// Saves `model` as a `.keras` file: its config, weights, compile arguments and optimizer
/// state (Keras's `model.save`). `Sequential`, `Model` and [`LoadedModel`] also have a `save`
/// method.
///
/// # Errors
/// For a model that is not a `Sequential` or functional `Model` (see
/// [`Trainer::as_layer`]), a path not ending in `.keras`, or a failed write.
pub fn save_model<M: Trainer + ?Sized>(model: &mut M, path: impl AsRef<Path>) -> Result<()> {
    model_state(model)?.save(path)
}

/// Keras's `model.load_weights` for a `.weights.h5` file (the optimizer's slots are created
/// first when the file holds them and the model is compiled).
///
/// # Errors
/// When the file is unreadable or does not match the model; nothing is assigned then.
pub fn load_weights<M: Trainer + ?Sized>(model: &mut M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    check_weights_path(path)?;
    load_weights_from_bytes(model, &read_file(path)?, &path.display().to_string())
}

/// Builds a compiled model's optimizer when `store` holds its slot variables.
fn build_optimizer_for<M: Trainer + ?Sized>(model: &mut M, store: &WeightsStore) -> Result<()> {
    let built = store.entries.get("optimizer").is_some_and(|e| e.values.len() > 2);
    let trainable = model.trainable_variables();
    if built && !trainable.is_empty() {
        if let Some(c) = model.compiled_slot().as_mut() {
            c.optimizer().build(&trainable)?;
        }
    }
    Ok(())
}

/// Loads a `.keras` file written by keras-rs or by Keras 3 (Keras's `keras.saving.load_model`):
/// rebuilds the model from its config, restores its weights, compiles it as it was compiled
/// and restores the optimizer's state.
///
/// # Errors
/// When the file cannot be read, is not a valid `.keras` file, names a class keras-rs does
/// not know, or its weights do not match its config. The message names the file and what is
/// wrong.
pub fn load_model(path: impl AsRef<Path>) -> Result<LoadedModel> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    LoadedModel::from_keras_bytes(&bytes, &path.display().to_string())
}

/// [`load_model`] on a `.keras` file's bytes (already in memory, or from a network or an
/// archive); `name` stands for the file in error messages.
///
/// ```
/// let e = keras::saving::load_model_from_bytes(b"PK\x03\x04 truncated", "upload.keras").unwrap_err();
/// assert!(e.to_string().contains("upload.keras"));
/// ```
///
/// # Errors
/// As [`load_model`].
pub fn load_model_from_bytes(bytes: &[u8], name: &str) -> Result<LoadedModel> {
    LoadedModel::from_keras_bytes(bytes, name)
}

/// [`load_weights`] on a `.weights.h5` file's bytes; `name` stands for the file in errors.
///
/// # Errors
/// As [`load_weights`].
pub fn load_weights_from_bytes<M: Trainer + ?Sized>(model: &mut M, bytes: &[u8], name: &str) -> Result<()> {
    let store = WeightsStore::from_bytes(bytes.to_vec(), name)?;
    build_optimizer_for(model, &store)?;
    model_state(model)?.assign_from(&store, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_matches_keras() {
        // Values from keras.src.utils.naming.to_snake_case.
        for (class, snake) in [
            ("Dense", "dense"),
            ("Conv2D", "conv2d"),
            ("Conv2DTranspose", "conv2d_transpose"),
            ("BatchNormalization", "batch_normalization"),
            ("MaxPooling2D", "max_pooling2d"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("LSTM", "lstm"),
            ("PReLU", "p_re_lu"),
            ("ReLU", "re_lu"),
            ("ELU", "elu"),
            ("InputLayer", "input_layer"),
            ("SeparableConv2D", "separable_conv2d"),
        ] {
            assert_eq!(to_snake_case(class), snake, "{class}");
        }
    }

    #[test]
    fn date_format() {
        let d = date_saved();
        assert_eq!(d.len(), 19, "{d}");
        assert_eq!(&d[10..11], "@");
    }
}
