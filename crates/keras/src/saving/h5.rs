//! The weights file (`model.weights.h5` inside a `.keras` archive, or a `*.weights.h5` file):
//! HDF5 groups `{path}/vars` holding datasets `0`, `1`, … in the object's variable order, as
//! Keras's `H5IOStore` writes them. HDF5 is read and written by the pure-Rust `hdf5-pure`
//! crate (no libhdf5).
//!
//! Reading treats the bytes as hostile: the group walk is bounded in depth and size, every
//! dataset's byte size is checked against the file's before its data is read, and a panic
//! inside the HDF5 parser is turned into an error.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use hdf5_pure::{AttrValue, DType as H5Type, File, FileBuilder, Group, GroupBuilder};
use keras_tensor::{DType, Device, Error, Result, Tensor};

/// Deepest group nesting accepted (Keras nests one level per sub-model, two per layer).
const MAX_DEPTH: usize = 64;
/// Most groups and datasets visited in one file.
const MAX_OBJECTS: usize = 1 << 20;
/// Highest rank accepted for a stored variable.
const MAX_RANK: usize = 32;

/// One saved object's variables (`{path}/vars/0`, `1`, …) and its `name` attribute.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entry {
    /// The object's name, stored as the `name` attribute of its `vars` group.
    pub(crate) name: String,
    /// The values, in the object's variable order.
    pub(crate) values: Vec<Tensor>,
}

/// The whole weights file: entries by path (`""` for the model's own `vars`).
#[derive(Clone, Debug, Default)]
pub(crate) struct WeightsStore {
    pub(crate) entries: BTreeMap<String, Entry>,
}

fn corrupt(what: &str, msg: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        op: "keras.saving",
        msg: format!("{what} is not a valid Keras weights file: {msg}"),
    }
}

impl WeightsStore {
    /// Serializes to HDF5 bytes.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        // A tree of groups: child name → node; `vars` nodes carry the datasets.
        #[derive(Default)]
        struct Node<'a> {
            children: BTreeMap<String, Node<'a>>,
            entry: Option<&'a Entry>,
        }
        let mut root = Node::default();
        for (path, entry) in &self.entries {
            let mut node = &mut root;
            for part in path.split('/').filter(|p| !p.is_empty()) {
                node = node.children.entry(part.to_string()).or_default();
            }
            node = node.children.entry("vars".into()).or_default();
            node.entry = Some(entry);
        }
        fn fill(g: &mut GroupBuilder, node: &Node) -> Result<()> {
            if let Some(e) = node.entry {
                g.set_attr("name", AttrValue::String(e.name.clone()));
                for (i, v) in e.values.iter().enumerate() {
                    write_dataset(g, &i.to_string(), v)?;
                }
            }
            for (name, child) in &node.children {
                let mut cg = g.create_group(name);
                fill(&mut cg, child)?;
                g.add_group(cg.finish());
            }
            Ok(())
        }
        let mut b = FileBuilder::new();
        for (name, child) in &root.children {
            let mut g = b.create_group(name);
            fill(&mut g, child)?;
            b.add_group(g.finish());
        }
        b.finish().map_err(|e| Error::InvalidArgument {
            op: "keras.saving",
            msg: format!("writing the HDF5 weights failed: {e}"),
        })
    }

    /// Parses HDF5 bytes; `what` names the file in errors.
    pub(crate) fn from_bytes(bytes: Vec<u8>, what: &str) -> Result<WeightsStore> {
        if !hdf5_pure::is_hdf5_bytes(&bytes) {
            return Err(corrupt(what, "no HDF5 signature"));
        }
        let len = bytes.len();
        match catch_unwind(AssertUnwindSafe(|| read_store(bytes, len, what))) {
            Ok(r) => r,
            Err(_) => Err(corrupt(
                what,
                "the HDF5 structure is malformed (the reader gave up)",
            )),
        }
    }
}

fn write_dataset(g: &mut GroupBuilder, name: &str, v: &Tensor) -> Result<()> {
    let shape: Vec<u64> = v.shape().iter().map(|&d| d as u64).collect();
    let ds = g.create_dataset(name);
    match v.dtype() {
        DType::F64 => ds.with_f64_data(&v.to_vec::<f64>()?),
        DType::I64 => ds.with_i64_data(&v.to_vec::<i64>()?),
        DType::I32 => ds.with_i32_data(&v.to_vec::<i32>()?),
        DType::U8 | DType::Bool => ds.with_u8_data(&v.cast(DType::U8)?.to_vec::<u8>()?),
        // float32, and the 16-bit floats widened to float32.
        _ => ds.with_f32_data(&v.cast(DType::F32)?.to_vec::<f32>()?),
    };
    ds.with_shape(&shape);
    Ok(())
}

fn read_store(bytes: Vec<u8>, len: usize, what: &str) -> Result<WeightsStore> {
    let file = File::from_bytes(bytes).map_err(|e| corrupt(what, e))?;
    let mut store = WeightsStore::default();
    let mut budget = MAX_OBJECTS;
    // (group path, depth); iterative so a deep or cyclic file cannot overflow the stack.
    let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
    while let Some((path, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(corrupt(
                what,
                format!("groups nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let group = if path.is_empty() {
            file.root()
        } else {
            file.group(&path)
                .map_err(|e| corrupt(what, format!("group {path:?}: {e}")))?
        };
        let children = group
            .groups()
            .map_err(|e| corrupt(what, format!("group {path:?}: {e}")))?;
        budget = budget
            .checked_sub(children.len() + 1)
            .ok_or_else(|| corrupt(what, "too many groups"))?;
        for c in children {
            let child = if path.is_empty() { c } else { format!("{path}/{c}") };
            if child.rsplit('/').next() == Some("vars") {
                let owner = child.strip_suffix("vars").unwrap_or("").trim_end_matches('/');
                let entry = read_vars(&file, &child, len, what)?;
                budget = budget
                    .checked_sub(entry.values.len())
                    .ok_or_else(|| corrupt(what, "too many datasets"))?;
                store.entries.insert(owner.to_string(), entry);
            } else {
                stack.push((child, depth + 1));
            }
        }
    }
    Ok(store)
}

fn read_vars(file: &File, path: &str, file_len: usize, what: &str) -> Result<Entry> {
    let group: Group = file
        .group(path)
        .map_err(|e| corrupt(what, format!("{path}: {e}")))?;
    let name = match group.attrs().ok().and_then(|a| a.get("name").cloned()) {
        Some(AttrValue::String(s)) | Some(AttrValue::AsciiString(s)) | Some(AttrValue::VarLenString(s)) => s,
        _ => String::new(),
    };
    let names = group
        .datasets()
        .map_err(|e| corrupt(what, format!("{path}: {e}")))?;
    // Datasets are named 0..n-1: sort numerically and require every index.
    let mut indexed: Vec<(usize, String)> = names
        .into_iter()
        .map(|n| match n.parse::<usize>() {
            Ok(i) if i.to_string() == n => Ok((i, n)),
            _ => Err(corrupt(
                what,
                format!("{path}/{n}: variables must be named 0, 1, 2, …"),
            )),
        })
        .collect::<Result<_>>()?;
    indexed.sort();
    let mut values = Vec::with_capacity(indexed.len());
    for (expect, (i, n)) in indexed.iter().enumerate() {
        if *i != expect {
            return Err(corrupt(what, format!("{path}: variable {expect} is missing")));
        }
        values.push(read_dataset(file, &format!("{path}/{n}"), file_len, what)?);
    }
    Ok(Entry { name, values })
}

fn read_dataset(file: &File, path: &str, file_len: usize, what: &str) -> Result<Tensor> {
    let err = |m: String| corrupt(what, format!("dataset {path}: {m}"));
    let ds = file.dataset(path).map_err(|e| err(e.to_string()))?;
    let shape = ds.shape().map_err(|e| err(e.to_string()))?;
    if shape.len() > MAX_RANK {
        return Err(err(format!("rank {} is above {MAX_RANK}", shape.len())));
    }
    let dtype = ds.dtype().map_err(|e| err(e.to_string()))?;
    let elem = match dtype {
        H5Type::F64 | H5Type::I64 | H5Type::U64 => 8,
        H5Type::F32 | H5Type::I32 | H5Type::U32 => 4,
        H5Type::I16 | H5Type::U16 => 2,
        H5Type::I8 | H5Type::U8 => 1,
        other => return Err(err(format!("unsupported element type {other}"))),
    };
    // The data cannot be larger than the file it is in (Keras never compresses weights): this
    // bounds every allocation below by the input's size.
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("dimension {d} is too large"))))
        .collect::<Result<_>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|n| n.checked_mul(elem).is_some_and(|b| b <= file_len))
        .ok_or_else(|| {
            err(format!(
                "shape {dims:?} holds more data than the {file_len}-byte file"
            ))
        })?;
    let cpu = Device::Cpu;
    let t = match dtype {
        H5Type::F64 => Tensor::from_vec(ds.read_f64().map_err(|e| err(e.to_string()))?, &dims, &cpu),
        H5Type::F32 => Tensor::from_vec(ds.read_f32().map_err(|e| err(e.to_string()))?, &dims, &cpu),
        H5Type::I32 => Tensor::from_vec(ds.read_i32().map_err(|e| err(e.to_string()))?, &dims, &cpu),
        H5Type::U8 => Tensor::from_vec(ds.read_u8().map_err(|e| err(e.to_string()))?, &dims, &cpu),
        _ => Tensor::from_vec(ds.read_i64().map_err(|e| err(e.to_string()))?, &dims, &cpu),
    }
    .map_err(|e| err(e.to_string()))?;
    if t.numel() != count {
        return Err(err(format!("{} values for shape {dims:?}", t.numel())));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> WeightsStore {
        let cpu = Device::Cpu;
        let mut s = WeightsStore::default();
        s.entries.insert(
            "layers/dense".into(),
            Entry {
                name: "dense".into(),
                values: vec![
                    Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &cpu).unwrap(),
                    Tensor::from_vec(vec![0.5f32, -0.5, 0.25], &[3], &cpu).unwrap(),
                ],
            },
        );
        s.entries.insert(
            "layers/dropout".into(),
            Entry {
                name: "dropout".into(),
                values: vec![],
            },
        );
        s.entries.insert(
            "optimizer".into(),
            Entry {
                name: "adam".into(),
                values: vec![Tensor::scalar(7i64), Tensor::scalar(0.01f32)],
            },
        );
        s
    }

    #[test]
    fn round_trip_keeps_paths_names_shapes_and_dtypes() {
        let bytes = store().to_bytes().unwrap();
        let back = WeightsStore::from_bytes(bytes, "test").unwrap();
        let keys: Vec<&String> = back.entries.keys().collect();
        assert_eq!(keys, ["layers/dense", "layers/dropout", "optimizer"]);
        let d = &back.entries["layers/dense"];
        assert_eq!(d.name, "dense");
        assert_eq!(d.values[0].shape(), &[2, 3]);
        assert_eq!(
            d.values[0].to_vec::<f32>().unwrap(),
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        assert_eq!(d.values[1].to_vec::<f32>().unwrap(), [0.5, -0.5, 0.25]);
        let o = &back.entries["optimizer"];
        assert_eq!(o.values[0].dtype(), DType::I64);
        assert_eq!(o.values[0].shape(), &[] as &[usize]);
        assert_eq!(o.values[0].item().unwrap(), 7.0);
        assert!(back.entries["layers/dropout"].values.is_empty());
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_or_a_valid_store_never_a_panic() {
        let bytes = store().to_bytes().unwrap();
        for cut in (0..bytes.len()).step_by(7) {
            let _ = WeightsStore::from_bytes(bytes[..cut].to_vec(), "truncated");
        }
        for i in (0..bytes.len()).step_by(3) {
            let mut b = bytes.clone();
            b[i] ^= 0xA5;
            let _ = WeightsStore::from_bytes(b, "flipped");
        }
        assert!(WeightsStore::from_bytes(b"not hdf5 at all".to_vec(), "junk").is_err());
    }
}
