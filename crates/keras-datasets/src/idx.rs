//! The IDX format of MNIST and Fashion-MNIST (`train-images-idx3-ubyte.gz`, …), gzipped.
//!
//! A file is a big-endian header: two zero bytes, a type byte (`0x08`: unsigned byte), the
//! number of dimensions, then one `u32` per dimension; then the data, row-major.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::error::{Error, Result};

/// Decompresses a gzipped IDX file of unsigned bytes with `ndims` dimensions. Returns its
/// dimensions and data. The header is checked before the data is read, and the data is read
/// as it arrives (never allocated from the header's sizes alone); the gzip CRC is checked.
pub(crate) fn read_idx_gz(gz: &[u8], ndims: usize, path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    if gz.len() < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
        return Err(Error::format(
            path,
            "not a gzip file (bad magic); expected a gzipped IDX file",
        ));
    }
    let corrupt = |e: std::io::Error| {
        Error::format(
            path,
            format!("the gzip stream is truncated or corrupt ({e}); delete the file and get it again"),
        )
    };
    let mut dec = GzDecoder::new(gz);
    let mut head = [0u8; 4];
    dec.read_exact(&mut head).map_err(corrupt)?;
    if head[0] != 0 || head[1] != 0 {
        return Err(Error::format(
            path,
            format!("bad IDX magic {head:02x?}: not an IDX file"),
        ));
    }
    if head[2] != 0x08 {
        return Err(Error::format(
            path,
            format!(
                "IDX type 0x{:02x} is not supported (expected 0x08, unsigned byte)",
                head[2]
            ),
        ));
    }
    if head[3] as usize != ndims {
        return Err(Error::format(
            path,
            format!("IDX file has {} dimensions, expected {ndims}", head[3]),
        ));
    }
    let mut dims = Vec::with_capacity(ndims);
    for _ in 0..ndims {
        let mut d = [0u8; 4];
        dec.read_exact(&mut d).map_err(corrupt)?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::format(path, format!("IDX dimensions {dims:?} are too large")))?;
    let mut data = Vec::new();
    (&mut dec)
        .take(n as u64)
        .read_to_end(&mut data)
        .map_err(corrupt)?;
    if data.len() != n {
        return Err(Error::format(
            path,
            format!(
                "truncated: the IDX header {dims:?} announces {n} bytes of data, the file has {}",
                data.len()
            ),
        ));
    }
    // Reading on to the end checks the gzip CRC and length, and finds trailing data.
    let mut extra = [0u8; 1];
    match dec.read(&mut extra).map_err(corrupt)? {
        0 => Ok((dims, data)),
        _ => Err(Error::format(
            path,
            format!("more data than the IDX header {dims:?} announces"),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// A gzipped IDX file of unsigned bytes.
    pub(crate) fn idx_gz(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut raw = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            raw.extend(d.to_be_bytes());
        }
        raw.extend(data);
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_a_small_file() {
        let gz = idx_gz(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let (dims, data) = read_idx_gz(&gz, 3, Path::new("x.gz")).unwrap();
        assert_eq!(dims, [2, 2, 3]);
        assert_eq!(data.len(), 12);
    }

    #[test]
    fn corrupt_files_are_errors() {
        let p = Path::new("f.gz");
        let gz = idx_gz(&[3], &[1, 2, 3]);
        // Truncated gzip: every cut fails cleanly.
        for cut in 0..gz.len() {
            assert!(read_idx_gz(&gz[..cut], 1, p).is_err(), "cut {cut}");
        }
        // Not gzip.
        assert!(read_idx_gz(b"hello", 1, p)
            .unwrap_err()
            .to_string()
            .contains("not a gzip"));
        // Bad IDX magic, wrong type, wrong rank.
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[1, 2, 8, 1, 0, 0, 0, 0]).unwrap();
        let e = read_idx_gz(&enc.finish().unwrap(), 1, p).unwrap_err().to_string();
        assert!(e.contains("bad IDX magic"), "{e}");
        let e = read_idx_gz(&gz, 3, p).unwrap_err().to_string();
        assert!(e.contains("1 dimensions, expected 3"), "{e}");
        // Header announces more than the file holds; a 4G-element claim allocates nothing.
        let e = read_idx_gz(&idx_gz(&[5], &[1, 2, 3]), 1, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated") && e.contains("announces 5"), "{e}");
        let e = read_idx_gz(&idx_gz(&[u32::MAX, u32::MAX, u32::MAX], &[1]), 3, p).unwrap_err();
        assert!(matches!(e, Error::Format { .. }));
        // Trailing data.
        let e = read_idx_gz(&idx_gz(&[2], &[1, 2, 3]), 1, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more data"), "{e}");
        // A corrupted CRC.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 6] ^= 0xff;
        assert!(read_idx_gz(&bad, 1, p).is_err());
    }
}
