//! Helpers for the tests: real-data lookup and label counts.

use crate::cache::{datasets_dir, CacheDir};

/// The real datasets folder when one of `alternatives` (each a set of files, relative to it)
/// is complete there; otherwise prints `SKIPPED: <reason>` and returns `None`. The CI script
/// checks that the real-data tests printed `real-data test ran: <name>` instead.
pub(crate) fn real_data_cache(name: &str, alternatives: &[&[&str]]) -> Option<CacheDir> {
    let cache = CacheDir::new(datasets_dir()).offline(true).progress(false);
    if alternatives
        .iter()
        .any(|files| files.iter().all(|f| cache.path(f).is_file()))
    {
        return Some(cache);
    }
    let wanted: Vec<String> = alternatives.iter().map(|files| files.join(" + ")).collect();
    println!(
        "SKIPPED: real-data test {name}: none of [{}] in {} (set KERAS_HOME to a folder whose datasets/ has them)",
        wanted.join("] or ["),
        cache.dir().display()
    );
    None
}

/// How many labels fall in each class.
pub(crate) fn label_histogram(y: &[u8], classes: usize) -> Vec<usize> {
    let mut h = vec![0usize; classes];
    for &l in y {
        h[l as usize] += 1;
    }
    h
}
