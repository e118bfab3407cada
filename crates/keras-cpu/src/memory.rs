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
