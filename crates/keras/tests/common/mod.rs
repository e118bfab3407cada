//! Helpers shared by the reference tests (`mod common;` in each test file): decoding the
//! tensors of a safetensors reference file written by a `scripts/gen_*_reference.py`, finding
//! a case in its JSON, and measuring differences. Each test binary uses a part of them.
#![allow(dead_code)]

use keras_tensor::{Device, Tensor};
use safetensors::tensor::{Dtype, SafeTensors};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The little-endian values of `N` bytes each in `b`.
fn values<T, const N: usize>(b: &[u8], from_le_bytes: fn([u8; N]) -> T) -> Vec<T> {
    b.chunks_exact(N)
        .map(|c| from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The tensor stored under `name` (float32, int32 or int64), or `None` when there is none.
pub fn try_tensor(st: &SafeTensors, name: &str) -> Option<Tensor> {
    let v = st.tensor(name).ok()?;
    let (shape, b, dev) = (v.shape().to_vec(), v.data(), Device::Cpu);
    Some(
        match v.dtype() {
            Dtype::F32 => Tensor::from_vec(values(b, f32::from_le_bytes), &shape, &dev),
            Dtype::I32 => Tensor::from_vec(values(b, i32::from_le_bytes), &shape, &dev),
            Dtype::I64 => Tensor::from_vec(values(b, i64::from_le_bytes), &shape, &dev),
            d => panic!("{name}: unexpected dtype {d:?}"),
        }
        .unwrap(),
    )
}

/// The tensor stored under `name`; panics naming it when there is none.
pub fn tensor(st: &SafeTensors, name: &str) -> Tensor {
    if let Err(e) = st.tensor(name) {
        panic!("{name}: {e}");
    }
    try_tensor(st, name).unwrap()
}

/// The float32 values and the shape stored under `name`; panics naming it when there is none
/// or it is not float32.
pub fn f32_values(st: &SafeTensors, name: &str) -> (Vec<f32>, Vec<usize>) {
    let v = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(v.dtype(), Dtype::F32, "{name}");
    (values(v.data(), f32::from_le_bytes), v.shape().to_vec())
}

/// The case called `name` in the reference JSON's `cases`.
pub fn case<'a>(meta: &'a Value, name: &str) -> &'a Value {
    meta["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// max |got - want|, after checking the shapes.
pub fn max_abs_diff(what: &str, got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// max |t|.
pub fn max_abs(t: &Tensor) -> f64 {
    t.to_vec_f64().unwrap().iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// `tests/data/<dir>/<name>`: a fixture file written by a reference script.
pub fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
        .join(name)
}

/// The float32 tensor stored under `name`; panics naming it when there is none or it is not
/// float32.
pub fn f32_tensor(st: &SafeTensors, name: &str) -> Tensor {
    let (data, shape) = f32_values(st, name);
    Tensor::from_vec(data, &shape, &Device::Cpu).unwrap()
}
