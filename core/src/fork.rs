//! Detecting use after `fork()` (protocol.md §6).
//!
//! A child process inherits a resolver's memory but not its background trace thread: its
//! events would queue forever and its exit would wait for a thread that does not exist. Every
//! resolver remembers the fork generation it was made in; a `pthread_atfork` child handler
//! bumps the generation, and the resolver then fails fast with `RESOLVER_FORKED` (make a new
//! resolver in the child). The check is one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

#[cfg(all(unix, feature = "threads"))]
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Installs the fork handler (once per process) and returns the current generation.
#[allow(unsafe_code)] // the one FFI call of the core: pthread_atfork
pub fn generation() -> u64 {
    #[cfg(all(unix, feature = "threads"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: registers a handler that only touches an atomic; async-signal-safe.
            unsafe {
                libc::pthread_atfork(None, None, Some(in_child));
            }
        });
    }
    GENERATION.load(Ordering::Relaxed)
}

/// Whether the process forked since `generation` was read.
#[inline]
pub fn forked_since(generation: u64) -> bool {
    GENERATION.load(Ordering::Relaxed) != generation
}
