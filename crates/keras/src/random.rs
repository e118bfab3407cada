//! Global seeding, as `keras.utils.set_random_seed`: weight initializers and dropout draw
//! their seeds from one counter, so one call makes a whole run reproducible.

use std::sync::atomic::{AtomicU64, Ordering};

const INITIAL: u64 = 0x5EED_0000_0000_0001;

/// The counter: one per process, as Keras's global seed.
#[cfg(not(test))]
fn counter<R>(f: impl FnOnce(&AtomicU64) -> R) -> R {
    static NEXT_SEED: AtomicU64 = AtomicU64::new(INITIAL);
    f(&NEXT_SEED)
}

/// In this crate's own unit tests, one counter per thread. The test harness runs tests as
/// parallel threads of one process, so with a process-wide counter a test that reseeds and
/// expects the same draws twice fails whenever another test draws in between (CI saw
/// `random_crop`'s reproducibility test fail that way). Each test runs on its own thread.
#[cfg(test)]
fn counter<R>(f: impl FnOnce(&AtomicU64) -> R) -> R {
    thread_local!(static NEXT_SEED: AtomicU64 = const { AtomicU64::new(INITIAL) });
    NEXT_SEED.with(f)
}

/// Resets the global seed counter: everything created afterwards draws the same seeds.
///
/// ```
/// keras::set_random_seed(42);
/// let a = keras::random::next_seed();
/// keras::set_random_seed(42);
/// assert_eq!(a, keras::random::next_seed());
/// ```
pub fn set_random_seed(seed: u64) {
    let state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED;
    counter(|c| c.store(state, Ordering::SeqCst));
}

/// A fresh seed from the global counter.
pub fn next_seed() -> u64 {
    counter(|c| c.fetch_add(1, Ordering::SeqCst))
}

/// The global seed counter's state, to resume a run exactly (`BackupAndRestore` stores it).
///
/// ```
/// let s = keras::random::seed_state();
/// let a = keras::random::next_seed();
/// keras::random::set_seed_state(s);
/// assert_eq!(a, keras::random::next_seed());
/// ```
pub fn seed_state() -> u64 {
    counter(|c| c.load(Ordering::SeqCst))
}

/// Restores a state from [`seed_state`].
pub fn set_seed_state(state: u64) {
    counter(|c| c.store(state, Ordering::SeqCst));
}
