//! Where the CPU backend's buffers come from: the system allocator, asked to keep freed
//! memory for reuse.
//!
//! A training step allocates and frees the same large buffers every step (activations,
//! gradients, optimizer temporaries: megabytes each). glibc's `malloc` serves a buffer above
//! its mmap threshold with a fresh `mmap` and unmaps it on free, so the next step's buffer
//! page-faults its way in again, zeroed by the kernel: page faults and `clear_page` were
//! 10-15% of a training step. [`keep_freed_memory`] raises the mmap threshold and the trim
//! threshold, so freed buffers stay in the heap and the next step reuses them. The peak
//! resident memory does not grow (the same buffers are reused; measured in
//! `docs/benchmarks.md`), but the process keeps its peak until it exits, as PyTorch's and
//! TensorFlow's own CPU allocators do. Set `KERAS_RETURN_FREED_MEMORY=1` to leave `malloc`
//! as it was. On other platforms this does nothing.

use std::sync::Once;

static TUNED: Once = Once::new();

/// Asks the system allocator, once per process, to keep freed buffers for reuse rather than
/// return them to the operating system (see the [module docs](self)). keras-tensor calls it
/// when it makes its first tensor; calling it again does nothing.
///
/// ```
/// keras_cpu::memory::keep_freed_memory();
/// keras_cpu::memory::keep_freed_memory(); // a no-op the second time
/// ```
pub fn keep_freed_memory() {
    TUNED.call_once(|| {
        if std::env::var_os("KERAS_RETURN_FREED_MEMORY").is_some_and(|v| v != "0") {
            return;
        }
        tune();
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune() {
    // SAFETY: mallopt only sets allocator parameters; it is called once, before keras-rs has
    // allocated its tensors, and glibc serializes it with allocation itself.
    unsafe {
        // Serve every buffer up to 1 GiB from the heap; glibc versions that cap the threshold
        // lower refuse (return 0), and then take their cap, 32 MiB on 64-bit.
        if libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30) == 0 {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        }
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune() {}

/// A scratch vector owned by the current thread, handed back to it when dropped, so the
/// next kernel call on this thread reuses it instead of allocating and zero-filling a fresh
/// one (the im2col buffers of the convolutions: megabytes per tile, asked for several times
/// per call by rayon's splits).
///
/// Its contents are whatever the previous user left (zeros when new): callers grow it with
/// `resize` and overwrite what they read. Each thread keeps up to [`KEPT_PER_TYPE`] vectors
/// of each element type (the largest it has been given back), until the thread exits.
pub(crate) struct Scratch<T: 'static>(Vec<T>);

/// How many scratch vectors of one element type a thread keeps (a kernel may hold several
/// at once).
const KEPT_PER_TYPE: usize = 4;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<Box<dyn std::any::Any>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl<T: 'static> Scratch<T> {
    /// One of this thread's kept vectors of `T` (empty if it has none left).
    pub(crate) fn take() -> Self {
        let kept = SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let i = s.iter().position(|b| b.is::<Vec<T>>())?;
            s.swap_remove(i).downcast::<Vec<T>>().ok()
        });
        Scratch(kept.map_or_else(Vec::new, |v| *v))
    }
}

impl<T: 'static> Drop for Scratch<T> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        if v.capacity() == 0 {
            return;
        }
        // `try_with`: a thread that is exiting just frees the vector.
        let _ = SCRATCH.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.iter().filter(|b| b.is::<Vec<T>>()).count() < KEPT_PER_TYPE {
                s.push(Box::new(v));
            } else if let Some(smallest) = s
                .iter_mut()
                .filter_map(|b| b.downcast_mut::<Vec<T>>())
                .min_by_key(|k| k.capacity())
            {
                if smallest.capacity() < v.capacity() {
                    *smallest = v;
                }
            }
        });
    }
}

impl<T> std::ops::Deref for Scratch<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::{Scratch, KEPT_PER_TYPE};

    #[test]
    fn scratch_is_reused_by_the_same_thread_and_keeps_the_largest() {
        let mut a = Scratch::<f32>::take();
        a.resize(1000, 1.5);
        let ptr = a.as_ptr();
        drop(a);
        let b = Scratch::<f32>::take();
        assert_eq!(
            (b.as_ptr(), b.len()),
            (ptr, 1000),
            "the same buffer, contents kept"
        );
        // A second scratch while the first is out starts empty; both are kept.
        let mut c = Scratch::<f32>::take();
        assert!(c.is_empty());
        c.resize(10, 0.0);
        drop(b);
        drop(c);
        let (d, e) = (Scratch::<f32>::take(), Scratch::<f32>::take());
        let mut lens = [d.len(), e.len()];
        lens.sort();
        assert_eq!(lens, [10, 1000]);
        drop((d, e));
        // Beyond KEPT_PER_TYPE, a smaller vector given back is dropped and a larger one
        // replaces the smallest kept.
        let mut all: Vec<Scratch<f32>> = (0..KEPT_PER_TYPE + 1).map(|_| Scratch::take()).collect();
        for (i, s) in all.iter_mut().enumerate() {
            let n = s.len().max(1 + i);
            s.resize(n, 0.0);
        }
        let most = all.iter().map(|s| s.len()).max().unwrap();
        drop(all);
        let again: Vec<Scratch<f32>> = (0..KEPT_PER_TYPE + 1).map(|_| Scratch::take()).collect();
        assert_eq!(again.iter().filter(|s| s.capacity() > 0).count(), KEPT_PER_TYPE);
        assert!(again.iter().any(|s| s.len() == most));
        drop(again);
        // Element types are kept apart.
        assert!(Scratch::<f64>::take().is_empty());
        // Another thread has its own.
        assert!(std::thread::spawn(|| Scratch::<f32>::take().is_empty())
            .join()
            .unwrap());
    }
}
