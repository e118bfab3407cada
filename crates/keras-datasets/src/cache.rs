//! The datasets folder: finding files, checking their digests, downloading missing ones.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::checksums::{Digest, KnownFile};
use crate::error::{Error, Result};

/// The folder Keras caches datasets in: `$KERAS_HOME/datasets`, or `~/.keras/datasets` when
/// `KERAS_HOME` is not set (`/tmp/.keras/datasets` when there is no home folder), as
/// `keras.utils.get_file` does.
///
/// ```
/// let dir = keras_datasets::datasets_dir();
/// assert!(dir.ends_with("datasets"));
/// ```
pub fn datasets_dir() -> PathBuf {
    keras_home().join("datasets")
}

fn keras_home() -> PathBuf {
    if let Some(home) = std::env::var_os("KERAS_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".keras"),
        None => PathBuf::from("/tmp/.keras"),
    }
}

/// Whether the environment forbids downloads: `KERAS_OFFLINE` set to anything but `""`, `0`,
/// `false` or `no`.
///
/// ```
/// let _ = keras_datasets::offline_from_env();
/// ```
pub fn offline_from_env() -> bool {
    match std::env::var("KERAS_OFFLINE") {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"),
        Err(_) => false,
    }
}

/// A datasets folder and how to use it: whether missing files may be downloaded, whether
/// files are checked against their recorded digests, whether a download shows a progress bar.
///
/// [`CacheDir::default`] is what every `load_data()` uses: [`datasets_dir`], downloads
/// unless `KERAS_OFFLINE` is set ([`offline_from_env`]), digests checked, a progress bar on
/// standard error. Every `load_data_from` takes anything that converts into a `CacheDir`, a
/// path included.
///
/// ```
/// use keras_datasets::CacheDir;
/// let cache = CacheDir::new("/data/keras/datasets").offline(true).verify_checksums(false);
/// assert_eq!(cache.dir(), std::path::Path::new("/data/keras/datasets"));
/// assert!(cache.is_offline());
/// ```
#[derive(Clone, Debug)]
pub struct CacheDir {
    dir: PathBuf,
    offline: bool,
    verify: bool,
    progress: bool,
}

impl Default for CacheDir {
    /// [`datasets_dir`], with the defaults of [`CacheDir::new`].
    fn default() -> Self {
        CacheDir::new(datasets_dir())
    }
}

impl CacheDir {
    /// A cache at `dir` (the folder that holds `mnist.npz`, `fashion-mnist/`, …): downloads
    /// unless `KERAS_OFFLINE` is set, checks digests, shows a progress bar.
    ///
    /// ```
    /// let cache = keras_datasets::CacheDir::new("/tmp/kh/datasets");
    /// assert!(cache.checks_digests());
    /// ```
    pub fn new(dir: impl Into<PathBuf>) -> CacheDir {
        CacheDir {
            dir: dir.into(),
            offline: offline_from_env(),
            verify: true,
            progress: true,
        }
    }

    /// Never download (`true`), or download missing files (`false`).
    ///
    /// ```
    /// assert!(keras_datasets::CacheDir::new("d").offline(true).is_offline());
    /// ```
    pub fn offline(mut self, offline: bool) -> CacheDir {
        self.offline = offline;
        self
    }

    /// Check every canonical file against its recorded digest before use (the default), or
    /// skip the check (for files in the canonical formats that are not the canonical files:
    /// test fixtures, subsets, re-encodes). Structural checks (magic numbers, sizes) always
    /// run.
    ///
    /// ```
    /// assert!(!keras_datasets::CacheDir::new("d").verify_checksums(false).checks_digests());
    /// ```
    pub fn verify_checksums(mut self, verify: bool) -> CacheDir {
        self.verify = verify;
        self
    }

    /// Show a progress bar while downloading (the default).
    ///
    /// ```
    /// let _quiet = keras_datasets::CacheDir::new("d").progress(false);
    /// ```
    pub fn progress(mut self, progress: bool) -> CacheDir {
        self.progress = progress;
        self
    }

    /// The folder.
    ///
    /// ```
    /// assert_eq!(keras_datasets::CacheDir::new("d").dir(), std::path::Path::new("d"));
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether downloads are off.
    ///
    /// ```
    /// assert!(!keras_datasets::CacheDir::new("d").offline(false).is_offline());
    /// ```
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Whether digests are checked.
    ///
    /// ```
    /// assert!(keras_datasets::CacheDir::new("d").checks_digests());
    /// ```
    pub fn checks_digests(&self) -> bool {
        self.verify
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        rel.split('/').fold(self.dir.clone(), |p, part| p.join(part))
    }

    /// Reads a known file whole, checking its digest; downloads it first when it is missing
    /// and downloads are allowed. `missing` builds the error for an absent file.
    pub(crate) fn read_known(&self, file: &KnownFile, missing: impl FnOnce() -> Error) -> Result<Vec<u8>> {
        let path = self.path(file.path);
        if !path.is_file() {
            match (self.offline, file.url) {
                (false, Some(url)) => self.download(url, &path, file)?,
                _ => return Err(missing()),
            }
        }
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if self.verify {
            check_digest(&path, &bytes, file)?;
        }
        Ok(bytes)
    }

    /// Makes sure a known archive is present and verified, downloading it when allowed.
    /// Returns its path, or `None` when it is absent and cannot be downloaded.
    pub(crate) fn archive(&self, file: &KnownFile) -> Result<Option<PathBuf>> {
        let path = self.path(file.path);
        if !path.is_file() {
            match (self.offline, file.url) {
                (false, Some(url)) => self.download(url, &path, file)?,
                _ => return Ok(None),
            }
        }
        if self.verify {
            let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            let actual = hash_reader(&mut f, file.digest).map_err(|e| Error::io(&path, e))?;
            compare(&path, &actual, file)?;
        }
        Ok(Some(path))
    }

    /// Streams `url` into a temporary file beside `dest`, checks size and digest, renames.
    fn download(&self, url: &str, dest: &Path, file: &KnownFile) -> Result<()> {
        let dir = dest.parent().unwrap_or(Path::new(".")).to_path_buf();
        let dl_err = |msg: String| Error::Download {
            url: url.to_string(),
            dir: dir.clone(),
            msg,
        };
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        eprintln!("Downloading data from {url}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build()
            .into();
        let response = agent.get(url).call().map_err(|e| dl_err(e.to_string()))?;
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(len), Some(want)) = (length, file.size) {
            if len != want {
                return Err(dl_err(format!(
                    "the server offers {len} bytes, the canonical file has {want}"
                )));
            }
        }
        let bar = if self.progress {
            let bar = match length {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{bytes:>10}/{total_bytes:10} [{bar:30}] {bytes_per_sec:>12} ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        // The recorded size, else what the server announces, at most 1 GiB (more than any
        // canonical file without a recorded size); a server that sends more is cut off.
        let limit = file
            .size
            .unwrap_or_else(|| length.unwrap_or(1 << 30).min(1 << 30));
        let tmp = dir.join(temp_name(
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("download"),
        ));
        let result = (|| -> Result<()> {
            let mut out = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let mut body = response.into_body().into_reader().take(limit.saturating_add(1));
            let mut hasher = Hasher::new(file.digest);
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0u64;
            loop {
                let n = body.read(&mut buf).map_err(|e| dl_err(e.to_string()))?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                if total > limit {
                    return Err(dl_err(format!("the server sent more than {limit} bytes")));
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(|e| Error::io(&tmp, e))?;
                bar.inc(n as u64);
            }
            out.sync_all().map_err(|e| Error::io(&tmp, e))?;
            bar.finish();
            if let Some(want) = file.size.or(length) {
                if total != want {
                    return Err(dl_err(format!("received {total} of {want} bytes")));
                }
            }
            // A wrong download is reported even when digests are not checked on use.
            let actual = hasher.finish();
            if actual != file.digest.hex() {
                return Err(dl_err(format!(
                    "checksum mismatch: the downloaded file's {} is {actual}, the canonical file's is {} \
                     (the transfer was corrupted, or the file at that address changed)",
                    file.digest.algorithm(),
                    file.digest.hex()
                )));
            }
            fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

/// How a file of the datasets folder compares with its recorded digest (see
/// [`CacheDir::check_file`]).
///
/// ```
/// use keras_datasets::{checksums::known_file, CacheDir, FileCheck};
/// let empty = tempfile::tempdir()?;
/// let check = CacheDir::new(empty.path()).check_file(known_file("mnist.npz").unwrap())?;
/// assert_eq!(check, FileCheck::Missing);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileCheck {
    /// The file is not there.
    Missing,
    /// Its digest is the recorded one.
    Ok,
    /// Its digest differs from the recorded one: truncated, corrupt or not the canonical file.
    Mismatch {
        /// The digest of the file found (lowercase hex, same algorithm as the recorded one).
        actual: String,
    },
}

impl CacheDir {
    /// Where a file of [`KNOWN_FILES`](crate::checksums::KNOWN_FILES) lives in this folder.
    ///
    /// ```
    /// use keras_datasets::{checksums::known_file, CacheDir};
    /// let f = known_file("fashion-mnist/t10k-labels-idx1-ubyte.gz").unwrap();
    /// let p = CacheDir::new("/data").file_path(f);
    /// assert!(p.ends_with("fashion-mnist/t10k-labels-idx1-ubyte.gz"));
    /// ```
    pub fn file_path(&self, file: &KnownFile) -> PathBuf {
        self.path(file.path)
    }

    /// Checks a known file of this folder against its recorded digest, reading it in chunks;
    /// downloads nothing. Whether this cache checks digests on use does not matter here.
    ///
    /// ```
    /// use keras_datasets::checksums::{Digest, KnownFile};
    /// use keras_datasets::{CacheDir, FileCheck};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("abc.txt"), b"abc")?;
    /// // The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
    /// let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    /// let f = KnownFile { path: "abc.txt", url: None, size: None,
    ///                     digest: Digest::Sha256(sha), digest_source: "FIPS 180-2" };
    /// assert_eq!(CacheDir::new(dir.path()).check_file(&f)?, FileCheck::Ok);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] when the file is there but cannot be read.
    pub fn check_file(&self, file: &KnownFile) -> Result<FileCheck> {
        let path = self.path(file.path);
        if !path.is_file() {
            return Ok(FileCheck::Missing);
        }
        let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let actual = hash_reader(&mut f, file.digest).map_err(|e| Error::io(&path, e))?;
        Ok(if actual == file.digest.hex() {
            FileCheck::Ok
        } else {
            FileCheck::Mismatch { actual }
        })
    }
}

impl From<&Path> for CacheDir {
    fn from(p: &Path) -> CacheDir {
        CacheDir::new(p)
    }
}
impl From<PathBuf> for CacheDir {
    fn from(p: PathBuf) -> CacheDir {
        CacheDir::new(p)
    }
}
impl From<&PathBuf> for CacheDir {
    fn from(p: &PathBuf) -> CacheDir {
        CacheDir::new(p.clone())
    }
}
impl From<&str> for CacheDir {
    fn from(p: &str) -> CacheDir {
        CacheDir::new(p)
    }
}
impl From<String> for CacheDir {
    fn from(p: String) -> CacheDir {
        CacheDir::new(p)
    }
}
impl From<&CacheDir> for CacheDir {
    fn from(c: &CacheDir) -> CacheDir {
        c.clone()
    }
}

enum Hasher {
    Sha256(Sha256),
    Md5(Md5),
}

impl Hasher {
    fn new(d: Digest) -> Hasher {
        match d {
            Digest::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Digest::Md5(_) => Hasher::Md5(Md5::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Md5(h) => h.update(b),
        }
    }
    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Md5(h) => hex(&h.finalize()),
        }
    }
}

/// A name for a temporary file beside `name`, unique to this process and call.
pub(crate) fn temp_name(name: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let k = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{name}.part-{}-{k}", std::process::id())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_reader(r: &mut impl Read, d: Digest) -> std::io::Result<String> {
    let mut h = Hasher::new(d);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// The hex digest of `bytes` with the algorithm of `d`.
pub(crate) fn digest_of(bytes: &[u8], d: Digest) -> String {
    let mut h = Hasher::new(d);
    h.update(bytes);
    h.finish()
}

fn compare(path: &Path, actual: &str, file: &KnownFile) -> Result<()> {
    if actual == file.digest.hex() {
        return Ok(());
    }
    Err(Error::Checksum {
        path: path.to_path_buf(),
        algorithm: file.digest.algorithm(),
        expected: file.digest.hex().to_string(),
        actual: actual.to_string(),
        url: file.url.map(str::to_string),
    })
}

pub(crate) fn check_digest(path: &Path, bytes: &[u8], file: &KnownFile) -> Result<()> {
    compare(path, &digest_of(bytes, file.digest), file)
}

/// How to get missing files: their addresses, the folder they go to, and the variable that
/// allows downloads.
pub(crate) fn hint_for(cache: &CacheDir, urls: &[&str], into: &Path) -> String {
    if urls.is_empty() {
        return String::new();
    }
    let get = format!("Download {} into {}", urls.join(", "), into.display());
    if cache.is_offline() {
        format!(
            "{get}, or unset KERAS_OFFLINE (or use CacheDir::offline(false)) to have this crate download it."
        )
    } else {
        format!("{get}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksums::known_file;

    #[test]
    fn digests_of_known_vectors() {
        assert_eq!(
            digest_of(b"abc", Digest::Sha256("")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest_of(b"abc", Digest::Md5("")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn wrong_checksum_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("boston_housing.npz"), b"not the file").unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true);
        let f = known_file("boston_housing.npz").unwrap();
        let err = cache.read_known(f, || unreachable!()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Checksum { .. }), "{msg}");
        assert!(
            msg.contains("boston_housing.npz") && msg.contains("expected sha256 f553886a"),
            "{msg}"
        );
        // Unchecked, the bytes come back.
        let bytes = cache
            .clone()
            .verify_checksums(false)
            .read_known(f, || unreachable!())
            .unwrap();
        assert_eq!(bytes, b"not the file");
    }

    #[test]
    fn offline_missing_file_gives_the_callers_error() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = CacheDir::new(tmp.path()).offline(true);
        let f = known_file("imdb.npz").unwrap();
        let err = cache
            .read_known(f, || Error::InvalidArgument("missing".into()))
            .unwrap_err();
        assert_eq!(err.to_string(), "missing");
        assert!(cache
            .archive(known_file("cifar-10-binary.tar.gz").unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn hint_names_urls_and_the_offline_switch() {
        let c = CacheDir::new("d").offline(true);
        let h = hint_for(&c, &["https://x/y.npz"], Path::new("/data/sets"));
        assert!(
            h.contains("https://x/y.npz into /data/sets") && h.contains("KERAS_OFFLINE"),
            "{h}"
        );
        assert!(!hint_for(&c.clone().offline(false), &["u"], Path::new("d")).contains("KERAS_OFFLINE"));
        assert!(hint_for(&c, &[], Path::new("d")).is_empty());
    }

    /// Serves `responses` (raw HTTP responses), one per connection, on a loopback port.
    fn serve(responses: Vec<Vec<u8>>) -> String {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for response in responses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let _ = stream.write_all(&response);
            }
        });
        format!("http://{addr}/file.bin")
    }

    fn ok(body: &[u8], announced: usize) -> Vec<u8> {
        let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n")
            .into_bytes();
        r.extend(body);
        r
    }

    #[test]
    fn download_over_loopback_checks_size_and_digest() {
        let body = b"dataset bytes".to_vec();
        let sha = digest_of(&body, Digest::Sha256(""));
        let file = KnownFile {
            path: "sub/file.bin",
            url: None,
            size: Some(body.len() as u64),
            digest: Digest::Sha256(Box::leak(sha.into_boxed_str())),
            digest_source: "test",
        };
        let tmp = tempfile::tempdir().unwrap();
        let cache = CacheDir::new(tmp.path()).offline(false).progress(false);
        let dest = cache.path(file.path);
        let url = serve(vec![
            ok(&body, body.len()),
            ok(b"dataset bytez", body.len()),
            ok(&body[..5], body.len()),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ]);
        cache.download(&url, &dest, &file).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body);
        fs::remove_file(&dest).unwrap();
        // Wrong bytes: a checksum error, and neither the file nor a temporary is left.
        let e = cache.download(&url, &dest, &file).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch") && e.contains(&url), "{e}");
        // Cut short.
        let e = cache.download(&url, &dest, &file).unwrap_err();
        assert!(matches!(e, Error::Download { .. }), "{e}");
        // Not found.
        let e = cache.download(&url, &dest, &file).unwrap_err().to_string();
        assert!(e.contains("404"), "{e}");
        let left: Vec<_> = fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn check_file_reports_ok_mismatch_and_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = CacheDir::new(tmp.path());
        // The SHA-256 and MD5 of "abc" (FIPS 180-2 B.1, RFC 1321 A.5).
        let file = |digest| KnownFile {
            path: "sub/abc.bin",
            url: None,
            size: None,
            digest,
            digest_source: "test",
        };
        let sha = file(Digest::Sha256(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ));
        let md5 = file(Digest::Md5("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(cache.check_file(&sha).unwrap(), FileCheck::Missing);
        fs::create_dir_all(tmp.path().join("sub")).unwrap();
        fs::write(cache.file_path(&sha), b"abc").unwrap();
        assert_eq!(cache.check_file(&sha).unwrap(), FileCheck::Ok);
        assert_eq!(cache.check_file(&md5).unwrap(), FileCheck::Ok);
        fs::write(cache.file_path(&sha), b"abd").unwrap();
        let FileCheck::Mismatch { actual } = cache.check_file(&sha).unwrap() else {
            panic!("expected a mismatch")
        };
        assert_eq!(actual.len(), 64);
        assert_ne!(actual, sha.digest.hex());
    }

    #[test]
    fn datasets_dir_ends_in_datasets() {
        assert!(datasets_dir().ends_with("datasets"));
        assert_eq!(CacheDir::new("a").path("b/c"), Path::new("a").join("b").join("c"));
    }
}
