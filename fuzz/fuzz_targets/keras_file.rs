//! Any bytes given to `load_model_from_bytes` (the `.keras` reading path: zip, JSON configs,
//! the layer registry, HDF5 weights) give a model or an error, never a panic, an abort or an
//! allocation driven by a size field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = keras::saving::load_model_from_bytes(data, "fuzz.keras");
});
