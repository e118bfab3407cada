//! Global seeding, as `keras.utils.set_random_seed`: weight initializers and dropout draw
//! their seeds from one counter, so one call makes a whole run reproducible.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_SEED: AtomicU64 = AtomicU64::new(0x5EED_0000_0000_0001);

/// Resets the global seed counter: everything created afterwards draws the same seeds.
///
/// ```
/// keras::set_random_seed(42);
/// let a = keras::random::next_seed();
/// keras::set_random_seed(42);
/// assert_eq!(a, keras::random::next_seed());
/// ```
pub fn set_random_seed(seed: u64) {
    NEXT_SEED.store(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED,
        Ordering::SeqCst,
    );
}

/// A fresh seed from the global counter.
pub fn next_seed() -> u64 {
    NEXT_SEED.fetch_add(1, Ordering::SeqCst)
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
    NEXT_SEED.load(Ordering::SeqCst)
}

/// Restores a state from [`seed_state`].
pub fn set_seed_state(state: u64) {
    NEXT_SEED.store(state, Ordering::SeqCst);
}
