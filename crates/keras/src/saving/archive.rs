//! The `.keras` archive: a zip (stored, not compressed, as Keras writes it) of `metadata.json`,
//! `config.json` and `model.weights.h5`.

use std::io::{Cursor, Read, Write};

use keras_tensor::{Error, Result};
use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

pub(crate) const METADATA: &str = "metadata.json";
pub(crate) const CONFIG: &str = "config.json";
pub(crate) const WEIGHTS: &str = "model.weights.h5";

/// Largest `config.json` / `metadata.json` accepted.
const MAX_JSON: u64 = 64 << 20;

/// The three members of a `.keras` file.
pub(crate) struct Archive {
    pub(crate) metadata: Value,
    pub(crate) config: Value,
    pub(crate) weights: Vec<u8>,
}

fn corrupt(what: &str, msg: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        op: "keras.saving",
        msg: format!("{what} is not a valid .keras file: {msg}"),
    }
}

/// Reads one member fully, refusing more than `limit` bytes and any size that disagrees with
/// the zip directory. Memory grows with the data actually read, never with a size field.
fn member(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut f = zip
        .by_name(name)
        .map_err(|e| corrupt(what, format!("member {name}: {e}")))?;
    let declared = f.size();
    if declared > limit {
        return Err(corrupt(
            what,
            format!("member {name} declares {declared} bytes (limit {limit})"),
        ));
    }
    let mut out = Vec::new();
    (&mut f)
        .take(declared + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(what, format!("member {name}: {e}")))?;
    if out.len() as u64 != declared {
        return Err(corrupt(
            what,
            format!(
                "member {name} holds {} bytes, its header says {declared}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

fn json_member(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str, what: &str) -> Result<Value> {
    let bytes = member(zip, name, MAX_JSON, what)?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(what, format!("{name}: {e}")))
}

impl Archive {
    /// Parses the archive's bytes; `what` names the file in errors.
    pub(crate) fn read(bytes: &[u8], what: &str) -> Result<Archive> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(what, e))?;
        let config = json_member(&mut zip, CONFIG, what)?;
        let metadata = match zip.index_for_name(METADATA) {
            Some(_) => json_member(&mut zip, METADATA, what)?,
            None => Value::Null,
        };
        // The weights are bounded by the archive itself: stored members cannot be larger,
        // and a compressed one is refused beyond what deflate can expand the input to.
        let limit = (bytes.len() as u64).saturating_mul(1100).saturating_add(1 << 20);
        let weights = member(&mut zip, WEIGHTS, limit, what)?;
        Ok(Archive {
            metadata,
            config,
            weights,
        })
    }

    /// The archive's bytes.
    pub(crate) fn write(&self) -> Result<Vec<u8>> {
        let err = |e: zip::result::ZipError| Error::InvalidArgument {
            op: "keras.saving",
            msg: format!("writing the .keras archive failed: {e}"),
        };
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(self.weights.len() as u64 >= u32::MAX as u64);
        let metadata = serde_json::to_vec(&self.metadata).map_err(|e| err(std::io::Error::from(e).into()))?;
        let config = serde_json::to_vec(&self.config).map_err(|e| err(std::io::Error::from(e).into()))?;
        for (name, data) in [(METADATA, &metadata), (CONFIG, &config), (WEIGHTS, &self.weights)] {
            z.start_file(name, opts).map_err(err)?;
            z.write_all(data).map_err(|e| err(e.into()))?;
        }
        Ok(z.finish().map_err(err)?.into_inner())
    }
}
