//! Reading NumPy `.npy` arrays and `.npz` archives (a zip of `.npy` files), including the
//! pickled object arrays of Keras's IMDB and Reuters files; reading and writing single
//! `.npy` files as tensors ([`load_npy`], [`save_npy`], public as [`crate::npy`]).

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use keras_tensor::{DType, Device, Tensor};

use crate::error::{Error, Result};
use crate::pickle::{self, ArrayData, Value};

/// One array of an `.npy` file.
pub(crate) struct NpyArray {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: NpyData,
}

/// Its elements, converted to native byte order.
pub(crate) enum NpyData {
    Bool(Vec<u8>),
    U8(Vec<u8>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// `dtype=object` arrays whose elements are sequences of integers (ragged).
    Sequences(Vec<Vec<i64>>),
}

impl std::fmt::Debug for NpyArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NpyArray({} {:?})", self.kind(), self.shape)
    }
}

impl NpyArray {
    pub(crate) fn len(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    fn kind(&self) -> &'static str {
        match self.data {
            NpyData::Bool(_) => "bool",
            NpyData::U8(_) => "uint8",
            NpyData::I64(_) => "an integer type",
            NpyData::F32(_) => "float32",
            NpyData::F64(_) => "float64",
            NpyData::Sequences(_) => "object (sequences)",
        }
    }

    /// Into a tensor of the same shape; integer arrays other than `uint8` become `int64`.
    pub(crate) fn into_tensor(self, path: &Path, name: &str) -> Result<Tensor> {
        let cpu = Device::Cpu;
        let t = match self.data {
            NpyData::Bool(v) => Tensor::from_vec(v, &self.shape, &cpu)?.cast(DType::Bool)?,
            NpyData::U8(v) => Tensor::from_vec(v, &self.shape, &cpu)?,
            NpyData::I64(v) => Tensor::from_vec(v, &self.shape, &cpu)?,
            NpyData::F32(v) => Tensor::from_vec(v, &self.shape, &cpu)?,
            NpyData::F64(v) => Tensor::from_vec(v, &self.shape, &cpu)?,
            NpyData::Sequences(_) => {
                return Err(Error::format(
                    path,
                    format!("`{name}` holds ragged sequences, not a numeric array"),
                ))
            }
        };
        Ok(t)
    }

    pub(crate) fn into_sequences(self, path: &Path, name: &str) -> Result<Vec<Vec<i64>>> {
        match self.data {
            NpyData::Sequences(s) => Ok(s),
            _ => Err(Error::format(
                path,
                format!(
                    "`{name}` is {}, expected an object array of sequences",
                    self.kind()
                ),
            )),
        }
    }

    pub(crate) fn into_i64(self, path: &Path, name: &str) -> Result<Vec<i64>> {
        match self.data {
            NpyData::I64(v) => Ok(v),
            NpyData::U8(v) | NpyData::Bool(v) => Ok(v.into_iter().map(i64::from).collect()),
            _ => Err(Error::format(
                path,
                format!("`{name}` is {}, expected integers", self.kind()),
            )),
        }
    }
}

/// The arrays of an `.npz` archive held in memory, by member name without `.npy`.
pub(crate) fn read_npz(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, NpyArray>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::format(path, format!("not a valid .npz (zip) archive: {e}")))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut member = zip
            .by_index(i)
            .map_err(|e| Error::format(path, format!("cannot read member {i} of the archive: {e}")))?;
        let Some(name) = member.name().strip_suffix(".npy").map(str::to_string) else {
            continue;
        };
        let declared = member.size();
        // The zip reader stops at the declared size and checks the CRC; the read grows the
        // buffer as data really arrives, so a lying header cannot force a large allocation.
        let mut data = Vec::new();
        (&mut member)
            .take(declared.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| Error::format(path, format!("member {name}.npy is corrupt: {e}")))?;
        if data.len() as u64 != declared {
            return Err(Error::format(
                path,
                format!(
                    "member {name}.npy has {} bytes, its header says {declared}",
                    data.len()
                ),
            ));
        }
        let arr = parse_npy(&data).map_err(|m| Error::format(path, format!("member {name}.npy: {m}")))?;
        out.insert(name, arr);
    }
    Ok(out)
}

/// Takes a member out of an archive, or names what is missing.
pub(crate) fn member(arrays: &mut BTreeMap<String, NpyArray>, name: &str, path: &Path) -> Result<NpyArray> {
    arrays.remove(name).ok_or_else(|| {
        let have: Vec<&str> = arrays.keys().map(String::as_str).collect();
        Error::format(
            path,
            format!("the archive has no array `{name}` (it has: {})", have.join(", ")),
        )
    })
}

/// Parses one `.npy` file.
pub(crate) fn parse_npy(b: &[u8]) -> std::result::Result<NpyArray, String> {
    let (h, body) = split_npy(b)?;
    let count = h
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape too large")?;
    if h.descr == "|O" || h.descr == "O" {
        return object_array(body, &h.shape, count);
    }
    if h.fortran && h.shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    numeric(&h.descr, body, count, h.shape)
}

/// The parsed header of an `.npy` file and the data that follows it.
fn split_npy(b: &[u8]) -> std::result::Result<(Header, &[u8]), String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("bad magic: not a NumPy .npy file".into());
    }
    let (major, minor) = (b[6], b[7]);
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 => {
            if b.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        _ => return Err(format!(".npy format version {major}.{minor} is not supported")),
    };
    if hlen > b.len() - start {
        return Err(format!(
            "truncated .npy header ({hlen} bytes announced, {} present)",
            b.len() - start
        ));
    }
    let header =
        std::str::from_utf8(&b[start..start + hlen]).map_err(|_| ".npy header is not text".to_string())?;
    Ok((parse_header(header)?, &b[start + hlen..]))
}

fn numeric(
    descr: &str,
    body: &[u8],
    count: usize,
    shape: Vec<usize>,
) -> std::result::Result<NpyArray, String> {
    let (order, code) = descr.split_at(1.min(descr.len()));
    let big = match order {
        ">" => true,
        "<" | "|" | "=" => false,
        _ => return Err(format!("dtype {descr:?} is not supported")),
    };
    let size: usize = match code {
        "b1" | "u1" | "i1" => 1,
        "i2" | "u2" => 2,
        "i4" | "u4" | "f4" => 4,
        "i8" | "u8" | "f8" => 8,
        _ => return Err(format!("dtype {descr:?} is not supported")),
    };
    let need = count.checked_mul(size).ok_or("shape too large")?;
    if body.len() != need {
        return Err(format!(
            "data has {} bytes, shape {shape:?} of {descr} needs {need} (truncated or corrupt)",
            body.len()
        ));
    }
    let word = |c: &[u8]| -> u64 {
        let mut v = 0u64;
        if big {
            for &x in c {
                v = (v << 8) | x as u64;
            }
        } else {
            for &x in c.iter().rev() {
                v = (v << 8) | x as u64;
            }
        }
        v
    };
    let words = || body.chunks_exact(size).map(word);
    let data = match code {
        "b1" => NpyData::Bool(body.iter().map(|&x| (x != 0) as u8).collect()),
        "u1" => NpyData::U8(body.to_vec()),
        "i1" => NpyData::I64(body.iter().map(|&x| x as i8 as i64).collect()),
        "i2" => NpyData::I64(words().map(|w| w as u16 as i16 as i64).collect()),
        "u2" | "u4" => NpyData::I64(words().map(|w| w as i64).collect()),
        "i4" => NpyData::I64(words().map(|w| w as u32 as i32 as i64).collect()),
        "i8" => NpyData::I64(words().map(|w| w as i64).collect()),
        "u8" => NpyData::I64(
            words()
                .map(|w| i64::try_from(w).map_err(|_| "uint64 value too large".to_string()))
                .collect::<std::result::Result<_, String>>()?,
        ),
        "f4" => NpyData::F32(words().map(|w| f32::from_bits(w as u32)).collect()),
        "f8" => NpyData::F64(words().map(f64::from_bits).collect()),
        _ => return Err(format!("dtype {descr:?} is not supported")),
    };
    Ok(NpyArray { shape, data })
}

fn object_array(body: &[u8], shape: &[usize], count: usize) -> std::result::Result<NpyArray, String> {
    let v = pickle::unpickle(body)?;
    let result = sequences_of(&v, count);
    pickle::dismantle_all(vec![v]);
    Ok(NpyArray {
        shape: shape.to_vec(),
        data: NpyData::Sequences(result?),
    })
}

/// The elements of a pickled object array, each a list (or integer array) of integers.
fn sequences_of(v: &Value, count: usize) -> std::result::Result<Vec<Vec<i64>>, String> {
    let Value::Array(a) = v else {
        return Err("the pickle does not hold a NumPy array".into());
    };
    let a = a.borrow();
    let ArrayData::Objects(items) = &a.data else {
        return Err("the pickled array is not an object array".into());
    };
    if items.len() != count {
        return Err(format!(
            "the pickled array has {} elements, the header says {count}",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, x)| int_sequence(x).ok_or_else(|| format!("element {i} is not a sequence of integers")))
        .collect()
}

fn int_sequence(v: &Value) -> Option<Vec<i64>> {
    let ints = |items: &[Value]| -> Option<Vec<i64>> {
        items
            .iter()
            .map(|x| if let Value::Int(i) = x { Some(*i) } else { None })
            .collect()
    };
    match v {
        Value::List(l) => ints(&l.borrow()),
        Value::Tuple(t) => ints(t),
        Value::Array(a) => {
            let a = a.borrow();
            let dt = a.dtype.as_ref()?;
            let ArrayData::Raw(raw) = &a.data else { return None };
            let descr = format!("{}{}", if dt.byteorder == '>' { '>' } else { '<' }, dt.code);
            let count = a.shape.iter().try_fold(1usize, |c, &d| c.checked_mul(d))?;
            match numeric(&descr, raw, count, a.shape.clone()).ok()?.data {
                NpyData::I64(v) => Some(v),
                NpyData::U8(v) => Some(v.into_iter().map(i64::from).collect()),
                _ => None,
            }
        }
        _ => None,
    }
}

struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal of an `.npy` header:
/// `{'descr': '<u1', 'fortran_order': False, 'shape': (60000, 28, 28), }`.
fn parse_header(h: &str) -> std::result::Result<Header, String> {
    let bad = || format!(".npy header is not understood: {:?}", h.trim());
    let mut p = h
        .trim()
        .strip_prefix('{')
        .ok_or_else(bad)?
        .trim_end()
        .strip_suffix('}')
        .ok_or_else(bad)?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p = p.trim_start().trim_start_matches(',').trim_start();
        if p.is_empty() {
            break;
        }
        let (key, rest) = quoted(p).ok_or_else(bad)?;
        p = rest.trim_start().strip_prefix(':').ok_or_else(bad)?.trim_start();
        match key {
            "descr" => {
                let (d, rest) = quoted(p).ok_or_else(|| format!("dtype {} is not supported", p.trim()))?;
                descr = Some(d.to_string());
                p = rest;
            }
            "fortran_order" => {
                if let Some(rest) = p.strip_prefix("False") {
                    fortran = Some(false);
                    p = rest;
                } else if let Some(rest) = p.strip_prefix("True") {
                    fortran = Some(true);
                    p = rest;
                } else {
                    return Err(bad());
                }
            }
            "shape" => {
                let inner = p.strip_prefix('(').ok_or_else(bad)?;
                let end = inner.find(')').ok_or_else(bad)?;
                let dims = inner[..end]
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|_| bad()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                shape = Some(dims);
                p = &inner[end + 1..];
            }
            _ => return Err(bad()),
        }
    }
    Ok(Header {
        descr: descr.ok_or_else(bad)?,
        fortran: fortran.ok_or_else(bad)?,
        shape: shape.ok_or_else(bad)?,
    })
}

/// A `'…'` or `"…"` string at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &s[1..];
    let end = rest.find(q)?;
    Some((&rest[..end], &rest[end + 1..]))
}

// ----- single `.npy` files as tensors ----------------------------------------------------

/// The dtypes [`load_npy`] reads: NumPy type code (without byte order) → tensor dtype.
const NPY_DTYPES: [(&str, DType, &str); 6] = [
    ("f4", DType::F32, "float32"),
    ("f8", DType::F64, "float64"),
    ("i4", DType::I32, "int32"),
    ("i8", DType::I64, "int64"),
    ("u1", DType::U8, "uint8"),
    ("b1", DType::Bool, "bool"),
];

/// Reads a NumPy `.npy` file (`np.save`'s format, versions 1.0 to 3.0) into a CPU tensor of
/// the same shape and dtype.
///
/// Reads `float32`, `float64`, `int32`, `int64`, `uint8` and `bool` arrays, in either byte
/// order, C-ordered (Fortran order is accepted only when at most one dimension exceeds 1,
/// where both orders lay out the same bytes). A 0-d array becomes a rank-0 tensor.
///
/// ```
/// use keras_datasets::npy::{load_npy, save_npy};
/// use keras_tensor::Tensor;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("x.npy");
/// save_npy(&path, &Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2])?)?;
/// let x = load_npy(&path)?;
/// assert_eq!((x.shape(), x.to_vec::<f32>()?), (&[2usize, 2][..], vec![1.0, 2.0, 3.0, 4.0]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Format`], naming the file, when it is
/// not an `.npy` file, is truncated, or holds another dtype (`float16`, `int16`, complex,
/// object or structured arrays, …).
pub fn load_npy(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    npy_to_tensor(&bytes).map_err(|m| Error::format(path, m))
}

fn npy_to_tensor(b: &[u8]) -> std::result::Result<Tensor, String> {
    let (h, _) = split_npy(b)?;
    let code = h.descr.trim_start_matches(['<', '>', '|', '=']);
    let Some(&(_, dtype, _)) = NPY_DTYPES.iter().find(|(c, _, _)| *c == code) else {
        let readable: Vec<&str> = NPY_DTYPES.iter().map(|(_, _, n)| *n).collect();
        return Err(format!(
            "dtype {:?} is not supported (load_npy reads {}); convert it in NumPy with .astype(...)",
            h.descr,
            readable.join(", ")
        ));
    };
    let arr = parse_npy(b)?;
    let cpu = Device::Cpu;
    let shape = arr.shape;
    let t = match (arr.data, dtype) {
        (NpyData::F32(v), _) => Tensor::from_vec(v, &shape, &cpu),
        (NpyData::F64(v), _) => Tensor::from_vec(v, &shape, &cpu),
        // The parser widens every integer type to i64; int32 values fit back exactly.
        (NpyData::I64(v), DType::I32) => Tensor::from_vec(
            v.into_iter().map(|x| x as i32).collect::<Vec<i32>>(),
            &shape,
            &cpu,
        ),
        (NpyData::I64(v), _) => Tensor::from_vec(v, &shape, &cpu),
        (NpyData::U8(v), _) => Tensor::from_vec(v, &shape, &cpu),
        (NpyData::Bool(v), _) => Tensor::from_vec(v, &shape, &cpu).and_then(|t| t.cast(DType::Bool)),
        (NpyData::Sequences(_), _) => return Err("object arrays are not supported".into()),
    };
    t.map_err(|e| e.to_string())
}

/// Writes a tensor as a NumPy `.npy` file that `np.load` reads: format version 1.0 (2.0 for
/// headers over 64 KiB, as NumPy does), C order, little-endian, with the header NumPy writes,
/// so the bytes equal those of `np.save` for the same array.
///
/// | tensor dtype | NumPy dtype |
/// |---|---|
/// | `F32` | `'<f4'` |
/// | `F64` | `'<f8'` |
/// | `I32` | `'<i4'` |
/// | `I64` | `'<i8'` |
/// | `U8` | `'\|u1'` |
/// | `Bool` | `'\|b1'` |
///
/// The file is written to a temporary file in the same folder, then renamed over `path`.
///
/// ```
/// use keras_datasets::npy::{load_npy, save_npy};
/// use keras_tensor::Tensor;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("labels.npy");
/// save_npy(&path, &Tensor::new(&[3i32, 1, 4], &[3])?)?;
/// assert_eq!(load_npy(&path)?.to_vec::<i32>()?, [3, 1, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Format`], naming the file, for `F16` / `BF16` tensors (cast them to `F32` first);
/// [`Error::Io`] when the file cannot be written.
pub fn save_npy(path: impl AsRef<Path>, t: &Tensor) -> Result<()> {
    let path = path.as_ref();
    let bytes = npy_bytes(t).map_err(|m| Error::format(path, m))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("array.npy");
    let tmp = dir.join(crate::cache::temp_name(name));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The bytes of an `.npy` file holding `t`.
fn npy_bytes(t: &Tensor) -> std::result::Result<Vec<u8>, String> {
    let err = |e: keras_tensor::Error| e.to_string();
    let t = t.to_device(&Device::Cpu).map_err(err)?;
    fn le<T: keras_tensor::TensorElement, const N: usize>(
        t: &Tensor,
        bytes: fn(T) -> [u8; N],
    ) -> std::result::Result<Vec<u8>, String> {
        let v = t.to_vec::<T>().map_err(|e| e.to_string())?;
        Ok(v.into_iter().flat_map(bytes).collect())
    }
    let (descr, body): (&str, Vec<u8>) = match t.dtype() {
        DType::F32 => ("<f4", le(&t, f32::to_le_bytes)?),
        DType::F64 => ("<f8", le(&t, f64::to_le_bytes)?),
        DType::I32 => ("<i4", le(&t, i32::to_le_bytes)?),
        DType::I64 => ("<i8", le(&t, i64::to_le_bytes)?),
        DType::U8 => ("|u1", t.to_vec::<u8>().map_err(err)?),
        DType::Bool => (
            "|b1",
            t.cast(DType::U8).map_err(err)?.to_vec::<u8>().map_err(err)?,
        ),
        other => {
            return Err(format!(
                "cannot write a {other} tensor as .npy (save_npy writes float32, float64, int32, int64, \
                 uint8 and bool; cast it to float32 first)"
            ))
        }
    };
    let mut out = npy_header(descr, t.shape());
    out.extend(body);
    Ok(out)
}

/// The magic, version, length and header of an `.npy` file, as NumPy's `_write_array_header`
/// lays them out: the dict literal, spare spaces so the first dimension can grow to 21 digits,
/// then spaces and a newline up to a multiple of 64 bytes.
fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_s = match dims.as_slice() {
        [d] => format!("({d},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    if let Some(first) = dims.first() {
        h.push_str(&" ".repeat(21usize.saturating_sub(first.len())));
    }
    let hlen = h.len() + 1; // with the final newline
                            // Version 1.0 stores the header length in 2 bytes; NumPy falls back to 2.0 (4 bytes).
    let (version, prefix) = if hlen + 64 - (10 + hlen) % 64 <= u16::MAX as usize {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let pad = 64 - (prefix + hlen) % 64;
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend(((hlen + pad) as u16).to_le_bytes());
    } else {
        out.extend(((hlen + pad) as u32).to_le_bytes());
    }
    out.extend(h.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pickle::tests::Writer;
    use std::io::Write;

    /// An `.npy` file with the given descr, shape and raw data, as NumPy writes (version 1.0,
    /// header padded to a multiple of 64 bytes).
    pub(crate) fn npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let shape_s = if shape.len() == 1 {
            format!("({},)", dims[0])
        } else {
            format!("({})", dims.join(", "))
        };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(body);
        out
    }

    pub(crate) fn npy_i64(v: &[i64]) -> Vec<u8> {
        npy(
            "<i8",
            &[v.len()],
            &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
        )
    }

    pub(crate) fn npy_f64(v: &[f64], shape: &[usize]) -> Vec<u8> {
        npy(
            "<f8",
            shape,
            &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
        )
    }

    /// An object array of integer lists, pickled with protocol 2 as NumPy 1.x writes it.
    pub(crate) fn npy_sequences(seqs: &[Vec<i64>]) -> Vec<u8> {
        let mut w = Writer::new();
        w.object_array(seqs);
        npy("|O", &[seqs.len()], &w.finish())
    }

    /// A zip of `name.npy` members, deflated as `np.savez_compressed` does.
    pub(crate) fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts =
                zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in members {
                z.start_file(format!("{name}.npy"), opts).unwrap();
                z.write_all(data).unwrap();
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn numeric_arrays_in_both_byte_orders() {
        let a = parse_npy(&npy("<i4", &[2], &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])).unwrap();
        assert!(matches!(a.data, NpyData::I64(ref v) if v == &[1, -1]));
        let a = parse_npy(&npy(">f8", &[1], &2.5f64.to_be_bytes())).unwrap();
        assert!(matches!(a.data, NpyData::F64(ref v) if v == &[2.5]));
        let a = parse_npy(&npy("|u1", &[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(a.shape, [2, 3]);
        let t = a.into_tensor(Path::new("x"), "x").unwrap();
        assert_eq!(t.dtype(), DType::U8);
        assert_eq!(t.to_vec::<u8>().unwrap(), [1, 2, 3, 4, 5, 6]);
        let s = parse_npy(&npy("<f8", &[], &1.5f64.to_le_bytes())).unwrap();
        assert!(s.shape.is_empty());
    }

    #[test]
    fn header_written_by_numpy_parses() {
        // The header of np.save(buf, np.zeros((60000, 28, 28), np.uint8)).
        let h = parse_header("{'descr': '|u1', 'fortran_order': False, 'shape': (60000, 28, 28), }   \n")
            .unwrap();
        assert_eq!(
            (h.descr.as_str(), h.fortran, h.shape),
            ("|u1", false, vec![60000, 28, 28])
        );
        let h = parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }").unwrap();
        assert!(h.shape.is_empty());
    }

    #[test]
    fn corrupt_npy_is_an_error() {
        let good = npy("<i8", &[3], &[0u8; 24]);
        assert!(parse_npy(&good).is_ok());
        assert!(parse_npy(&good[..good.len() - 1])
            .unwrap_err()
            .contains("truncated"));
        let mut bad = good.clone();
        bad[1] = b'X';
        assert!(parse_npy(&bad).unwrap_err().contains("magic"));
        assert!(parse_npy(&npy("<c16", &[1], &[0; 16]))
            .unwrap_err()
            .contains("not supported"));
        // A huge shape with no data must not allocate.
        assert!(parse_npy(&npy("<i8", &[1 << 40, 1 << 20], &[])).is_err());
        assert!(parse_npy(&npy("<i8", &[usize::MAX, 2], &[]))
            .unwrap_err()
            .contains("too large"));
        // An object array whose pickle has fewer elements than the header.
        let mut w = Writer::new();
        w.object_array(&[vec![1]]);
        assert!(parse_npy(&npy("|O", &[2], &w.finish()))
            .unwrap_err()
            .contains("header says 2"));
    }

    #[test]
    fn npz_round_trip_and_errors() {
        let bytes = npz(&[
            ("x", npy_sequences(&[vec![1, 2], vec![3]])),
            ("y", npy_i64(&[0, 1])),
        ]);
        let mut m = read_npz(&bytes, Path::new("t.npz")).unwrap();
        let y = member(&mut m, "y", Path::new("t.npz")).unwrap();
        assert_eq!(y.len(), 2);
        let x = member(&mut m, "x", Path::new("t.npz")).unwrap();
        assert_eq!(
            x.into_sequences(Path::new("t"), "x").unwrap(),
            vec![vec![1, 2], vec![3]]
        );
        let e = member(&mut m, "z", Path::new("t.npz")).err().unwrap();
        assert!(e.to_string().contains("no array `z`"), "{e}");
        // A truncated archive.
        let e = read_npz(&bytes[..bytes.len() - 30], Path::new("t.npz"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("t.npz"), "{e}");
        // A flipped byte inside the deflated data fails the CRC or the inflate.
        let mut bad = bytes.clone();
        bad[60] ^= 0x55;
        assert!(read_npz(&bad, Path::new("t.npz")).is_err());
    }

    // ----- load_npy / save_npy -----------------------------------------------------------
    //
    // tests/data/npy/ holds files NumPy 2.5.5 wrote:
    //   np.save('f4.npy', np.array([[0.5, -1.25, 3.0], [1e-3, 2.5e10, -0.0]], '<f4'))
    //   np.save('f8_scalar.npy', np.array(2.75, '<f8'))
    //   np.save('f8_be.npy', np.array([1.5, -2.0, 1e300], '>f8'))
    //   np.save('i4.npy', np.array([1, -2, 2147483647, -2147483648], '<i4'))
    //   np.save('i8.npy', np.array([[9007199254740993], [-5]], '<i8'))
    //   np.save('u1.npy', np.array([[0, 7], [128, 255]], '|u1'))
    //   np.save('b1.npy', np.array([True, False, True], '|b1'))
    //   np.save('i2.npy', np.array([1, 2], '<i2'))
    //   np.save('c8.npy', np.array([1+2j], '<c8'))
    //   np.save('f4_fortran.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/npy")
            .join(name)
    }

    #[test]
    fn load_npy_reads_what_numpy_wrote() {
        let t = load_npy(fixture("f4.npy")).unwrap();
        assert_eq!((t.dtype(), t.shape()), (DType::F32, &[2usize, 3][..]));
        let want = [0.5f32, -1.25, 3.0, 1e-3, 2.5e10, -0.0];
        let got = t.to_vec::<f32>().unwrap();
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let t = load_npy(fixture("f8_scalar.npy")).unwrap();
        assert_eq!((t.dtype(), t.shape()), (DType::F64, &[][..]));
        assert_eq!(t.to_vec::<f64>().unwrap(), [2.75]);
        let t = load_npy(fixture("f8_be.npy")).unwrap();
        assert_eq!(t.to_vec::<f64>().unwrap(), [1.5, -2.0, 1e300]);
        let t = load_npy(fixture("i4.npy")).unwrap();
        assert_eq!(t.dtype(), DType::I32);
        assert_eq!(t.to_vec::<i32>().unwrap(), [1, -2, i32::MAX, i32::MIN]);
        let t = load_npy(fixture("i8.npy")).unwrap();
        assert_eq!((t.dtype(), t.shape()), (DType::I64, &[2usize, 1][..]));
        assert_eq!(t.to_vec::<i64>().unwrap(), [9007199254740993, -5]);
        let t = load_npy(fixture("u1.npy")).unwrap();
        assert_eq!((t.dtype(), t.shape()), (DType::U8, &[2usize, 2][..]));
        assert_eq!(t.to_vec::<u8>().unwrap(), [0, 7, 128, 255]);
        let t = load_npy(fixture("b1.npy")).unwrap();
        assert_eq!(t.dtype(), DType::Bool);
        assert_eq!(t.cast(DType::U8).unwrap().to_vec::<u8>().unwrap(), [1, 0, 1]);
    }

    #[test]
    fn save_npy_writes_the_bytes_numpy_writes() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["f4.npy", "f8_scalar.npy", "i4.npy", "i8.npy", "u1.npy", "b1.npy"] {
            let numpy = std::fs::read(fixture(name)).unwrap();
            let out = tmp.path().join(name);
            save_npy(&out, &load_npy(fixture(name)).unwrap()).unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), numpy, "{name}");
        }
        // A big-endian array is written little-endian, with the same values.
        let out = tmp.path().join("le.npy");
        save_npy(&out, &load_npy(fixture("f8_be.npy")).unwrap()).unwrap();
        let back = load_npy(&out).unwrap();
        assert_eq!(back.to_vec::<f64>().unwrap(), [1.5, -2.0, 1e300]);
        assert!(String::from_utf8_lossy(&std::fs::read(&out).unwrap()).contains("'<f8'"));
        // Empty arrays; only the file remains in the folder (no temporary left behind).
        let empty = Tensor::from_vec(Vec::<f32>::new(), &[0, 3], &Device::Cpu).unwrap();
        save_npy(&out, &empty).unwrap();
        assert_eq!(load_npy(&out).unwrap().shape(), &[0, 3]);
        let files = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(files, 7);
    }

    #[test]
    fn npy_headers_follow_numpys_layout() {
        // Every header ends in a newline at a multiple of 64 bytes.
        for shape in [vec![], vec![5], vec![60000, 28, 28], vec![1; 40]] {
            let h = npy_header("<f4", &shape);
            assert_eq!(h.len() % 64, 0, "{shape:?}");
            assert_eq!(*h.last().unwrap(), b'\n');
            let (parsed, body) = split_npy(&h).unwrap();
            assert_eq!((parsed.shape, body.len()), (shape, 0));
        }
        // A header too long for version 1.0's 2-byte length switches to version 2.0.
        let shape = vec![1usize; 30_000];
        let h = npy_header("<f4", &shape);
        assert_eq!((h[6], h[7], h.len() % 64), (2, 0, 0));
        assert_eq!(split_npy(&h).unwrap().0.shape.len(), 30_000);
    }

    #[test]
    fn unreadable_npy_files_are_errors_naming_the_file() {
        for (name, why) in [
            ("i2.npy", "\"<i2\" is not supported"),
            ("c8.npy", "\"<c8\" is not supported"),
            ("f4_fortran.npy", "Fortran"),
        ] {
            let e = load_npy(fixture(name)).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(why), "{e}");
        }
        let tmp = tempfile::tempdir().unwrap();
        let e = load_npy(tmp.path().join("absent.npy")).unwrap_err();
        assert!(
            matches!(e, Error::Io { .. }) && e.to_string().contains("absent.npy"),
            "{e}"
        );
        let bytes = std::fs::read(fixture("f4.npy")).unwrap();
        let cut = tmp.path().join("cut.npy");
        std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
        let e = load_npy(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.npy") && e.contains("truncated"), "{e}");
        let obj = tmp.path().join("obj.npy");
        std::fs::write(&obj, npy_sequences(&[vec![1, 2]])).unwrap();
        let e = load_npy(&obj).unwrap_err().to_string();
        assert!(e.contains("obj.npy") && e.contains("not supported"), "{e}");
        let half = Tensor::ones(&[2], DType::F16, &Device::Cpu).unwrap();
        let e = save_npy(tmp.path().join("h.npy"), &half).unwrap_err().to_string();
        assert!(e.contains("h.npy") && e.contains("cast it to float32"), "{e}");
        assert!(!tmp.path().join("h.npy").exists());
    }
}
