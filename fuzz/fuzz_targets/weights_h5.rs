//! Any bytes given to `load_weights_from_bytes` (the `.weights.h5` reading path: HDF5
//! structure, datasets, shapes and dtypes checked against a model) give an error or a load,
//! never a panic, an abort or an allocation driven by a size field.
//!
//! The model is the Keras-saved `adam_midtrain` test model (two Dense layers, Adam state), so
//! the seed corpus's `adam_midtrain.weights.h5` loads completely and mutations of it explore
//! the checks against the model as well as the HDF5 parser.
#![no_main]

use keras::saving::{load_model_from_bytes, load_weights_from_bytes, LoadedModel};
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

const MODEL: &[u8] = include_bytes!("../../crates/keras/tests/data/saving/adam_midtrain.keras");

static LOADED: Mutex<Option<LoadedModel>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut guard = LOADED.lock().unwrap();
    let m = guard.get_or_insert_with(|| load_model_from_bytes(MODEL, "adam_midtrain.keras").unwrap());
    let _ = load_weights_from_bytes(m, data, "fuzz.weights.h5");
});
