//! What CIFAR-10 and CIFAR-100 share: the binary batch layout, Keras's pickled Python
//! batches, and extracting the canonical tarball.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{Error, Result};
use crate::pickle::{self, ArrayData, Value};

/// Pixels of one 32x32 RGB image.
pub(crate) const PIXELS: usize = 3 * 32 * 32;

/// Images in HWC order and their labels, gathered batch after batch.
#[derive(Default)]
pub(crate) struct Images {
    /// How many.
    pub(crate) n: usize,
    /// `n` images of 32x32x3 bytes.
    pub(crate) x: Vec<u8>,
    /// `n` labels.
    pub(crate) y: Vec<u8>,
}

impl Images {
    /// Room for `n` more images; returns the pixels of the new ones.
    fn grow(&mut self, n: usize) -> &mut [u8] {
        let old = self.x.len();
        self.x.resize(old + n * PIXELS, 0);
        self.y.reserve(n);
        self.n += n;
        &mut self.x[old..]
    }
}

/// Appends the records of a binary batch file to `into`: each record is `label_bytes` label
/// bytes then 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows of 32); the label kept is the one
/// at `label_index`. Returns the number of records.
pub(crate) fn read_bin(
    path: &Path,
    label_bytes: usize,
    label_index: usize,
    records: Option<usize>,
    classes: u8,
    into: &mut Images,
) -> Result<usize> {
    let rec = label_bytes + PIXELS;
    let len = fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    let n = (len / rec as u64) as usize;
    if len == 0 || len % rec as u64 != 0 {
        return Err(Error::format(
            path,
            format!("{len} bytes is not a whole number of {rec}-byte CIFAR records (truncated or not a CIFAR batch)"),
        ));
    }
    if let Some(want) = records {
        if n != want {
            return Err(Error::format(
                path,
                format!("{n} records, the canonical batch has {want} (truncated or not the canonical file)"),
            ));
        }
    }
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() != n * rec {
        return Err(Error::format(path, "the file changed while it was read"));
    }
    for (r, src) in bytes.chunks_exact(rec).enumerate() {
        let label = src[label_index];
        if label >= classes {
            return Err(Error::format(
                path,
                format!("record {r} has label {label}, outside 0..{classes}"),
            ));
        }
    }
    into.y.extend(bytes.chunks_exact(rec).map(|src| src[label_index]));
    let x = into.grow(n);
    for (src, dst) in bytes.chunks_exact(rec).zip(x.chunks_exact_mut(PIXELS)) {
        chw_to_hwc(&src[label_bytes..], dst);
    }
    Ok(n)
}

/// One image from channel-planar (CHW) to interleaved (HWC) order.
pub(crate) fn chw_to_hwc(src: &[u8], dst: &mut [u8]) {
    let (r, rest) = src.split_at(1024);
    let (g, b) = rest.split_at(1024);
    for (((px, &r), &g), &b) in dst.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
        px.copy_from_slice(&[r, g, b]);
    }
}

/// Appends a batch of Keras's pickled Python format (`cifar-10-batches-py/data_batch_1`, …)
/// to `into`: a dict with `data` (`uint8` `(n, 3072)`, CHW) and the label list under
/// `label_key`. Returns `n`.
pub(crate) fn read_py_batch(path: &Path, label_key: &str, classes: u8, into: &mut Images) -> Result<usize> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let v = pickle::unpickle(&bytes).map_err(|m| Error::format(path, m))?;
    let out = py_batch(&v, label_key, classes, into).map_err(|m| Error::format(path, m));
    pickle::dismantle_all(vec![v]);
    out
}

fn py_batch(
    v: &Value,
    label_key: &str,
    classes: u8,
    into: &mut Images,
) -> std::result::Result<usize, String> {
    let Value::Dict(d) = v else {
        return Err("not a pickled CIFAR batch (no dict)".into());
    };
    let d = d.borrow();
    let get = |k: &str| {
        d.iter()
            .find(|(key, _)| pickle::text(key).as_deref() == Some(k))
            .map(|(_, v)| v)
    };
    let Some(Value::Array(a)) = get("data") else {
        return Err("the batch has no `data` array".into());
    };
    let a = a.borrow();
    let code = a.dtype.as_ref().map(|d| d.code.as_str()).unwrap_or("");
    let ArrayData::Raw(raw) = &a.data else {
        return Err("`data` is not a uint8 array".into());
    };
    if code != "u1"
        || a.shape.len() != 2
        || a.shape[1] != PIXELS
        || Some(raw.len()) != a.shape[0].checked_mul(PIXELS)
    {
        return Err(format!(
            "`data` is {code} {:?} with {} bytes, expected uint8 (n, 3072)",
            a.shape,
            raw.len()
        ));
    }
    let n = a.shape[0];
    let labels = match get(label_key) {
        Some(Value::List(l)) => l
            .borrow()
            .iter()
            .map(|x| match x {
                Value::Int(i) if (0..classes as i64).contains(i) => Ok(*i as u8),
                _ => Err(format!(
                    "`{label_key}` holds a value that is not a label in 0..{classes}"
                )),
            })
            .collect::<std::result::Result<Vec<u8>, String>>()?,
        _ => return Err(format!("the batch has no `{label_key}` list")),
    };
    if labels.len() != n {
        return Err(format!("{n} images but {} labels", labels.len()));
    }
    into.y.extend(labels);
    let x = into.grow(n);
    for (src, dst) in raw.chunks_exact(PIXELS).zip(x.chunks_exact_mut(PIXELS)) {
        chw_to_hwc(src, dst);
    }
    Ok(n)
}

/// Extracts `inner/<name>` for each of `names` from a `.tar.gz` into `dest` (each through a
/// temporary file and a rename). Other members are skipped; no path from the archive is
/// used to name a file.
pub(crate) fn extract(archive: &Path, inner: &str, names: &[&str], dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    let f = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let corrupt = |e: io::Error| Error::format(archive, format!("the archive is truncated or corrupt: {e}"));
    let mut tar = tar::Archive::new(GzDecoder::new(io::BufReader::new(f)));
    let mut found: Vec<&str> = Vec::new();
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(corrupt)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let Some(name) = names.iter().copied().find(|n| path == format!("{inner}/{n}")) else {
            continue;
        };
        let target = dest.join(name);
        let tmp: PathBuf = dest.join(crate::cache::temp_name(name));
        let result = (|| -> Result<()> {
            let mut out = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            io::copy(&mut (&mut entry).take(u32::MAX as u64), &mut out).map_err(corrupt)?;
            out.sync_all().map_err(|e| Error::io(&tmp, e))?;
            fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        found.push(name);
    }
    let lacking: Vec<&str> = names.iter().copied().filter(|n| !found.contains(n)).collect();
    if !lacking.is_empty() {
        return Err(Error::format(
            archive,
            format!("the archive has no {}", lacking.join(", ")),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pickle::tests::Writer;

    /// A record whose R, G, B planes are `base`, `base+1`, `base+2` plus the pixel index.
    pub(crate) fn record(labels: &[u8], base: u8) -> Vec<u8> {
        let mut r = labels.to_vec();
        for c in 0..3u8 {
            r.extend((0..1024).map(|p| base.wrapping_add(c).wrapping_add((p % 7) as u8)));
        }
        r
    }

    /// A `.tar.gz` holding `files` (path, bytes).
    pub(crate) fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(enc);
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    /// A pickled Python 2 CIFAR batch (protocol 2, `str` keys as BINSTRING).
    pub(crate) fn py_batch_pickle(label_key: &str, records: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut w = Writer::new();
        w.0.extend([b'}', b'(']);
        w.bin_string(b"batch_label");
        w.bin_string(b"training batch 1 of 5");
        w.bin_string(label_key.as_bytes());
        w.0.extend([b']', b'(']);
        for (l, _) in records {
            w.int(*l as i64);
        }
        w.0.push(b'e');
        w.bin_string(b"data");
        let data: Vec<u8> = records.iter().flat_map(|(_, px)| px.iter().copied()).collect();
        w.array("u1", &[records.len(), PIXELS], |w| w.bin_string(&data));
        w.0.push(b'u');
        w.finish()
    }

    #[test]
    fn hwc_order() {
        let rec = record(&[3], 10);
        let mut out = vec![0u8; PIXELS];
        chw_to_hwc(&rec[1..], &mut out);
        // Pixel 0 is (R, G, B) = (10, 11, 12); pixel 1 adds 1 to each.
        assert_eq!(out[..6], [10, 11, 12, 11, 12, 13]);
    }

    #[test]
    fn binary_batch_checks() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("b.bin");
        let mut bytes = record(&[1], 0);
        bytes.extend(record(&[9], 50));
        fs::write(&p, &bytes).unwrap();
        let mut im = Images::default();
        assert_eq!(read_bin(&p, 1, 0, None, 10, &mut im).unwrap(), 2);
        assert_eq!((im.n, im.y), (2, vec![1, 9]));
        assert_eq!(im.x[PIXELS..PIXELS + 3], [50, 51, 52]);
        let e = read_bin(&p, 1, 0, Some(10000), 10, &mut Images::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 records, the canonical batch has 10000"), "{e}");
        fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        let e = read_bin(&p, 1, 0, None, 10, &mut Images::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a whole number"), "{e}");
        fs::write(&p, record(&[10], 0)).unwrap();
        let e = read_bin(&p, 1, 0, None, 10, &mut Images::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 10"), "{e}");
    }

    #[test]
    fn python_batch_reads_and_rejects() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("data_batch_1");
        let recs = vec![(4u8, record(&[], 1)), (0u8, record(&[], 2))];
        fs::write(&p, py_batch_pickle("labels", &recs)).unwrap();
        let mut im = Images::default();
        assert_eq!(read_py_batch(&p, "labels", 10, &mut im).unwrap(), 2);
        assert_eq!((im.n, im.y), (2, vec![4, 0]));
        assert_eq!(im.x[..3], [1, 2, 3]);
        let e = read_py_batch(&p, "fine_labels", 100, &mut Images::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `fine_labels`"), "{e}");
        let full = fs::read(&p).unwrap();
        fs::write(&p, &full[..full.len() - 10]).unwrap();
        assert!(read_py_batch(&p, "labels", 10, &mut Images::default()).is_err());
    }

    #[test]
    fn extraction_takes_only_the_named_members() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.tar.gz");
        fs::write(
            &a,
            tar_gz(&[("d/x.bin", b"xx"), ("d/y.bin", b"y"), ("e/evil", b"e")]),
        )
        .unwrap();
        let dest = tmp.path().join("out");
        extract(&a, "d", &["x.bin"], &dest).unwrap();
        assert_eq!(fs::read(dest.join("x.bin")).unwrap(), b"xx");
        assert!(!dest.join("y.bin").exists() && !dest.join("evil").exists());
        let e = extract(&a, "d", &["z.bin"], &dest).unwrap_err().to_string();
        assert!(e.contains("has no z.bin"), "{e}");
        let full = fs::read(&a).unwrap();
        fs::write(&a, &full[..full.len() / 2]).unwrap();
        assert!(extract(&a, "d", &["x.bin", "y.bin"], &dest).is_err());
    }
}
