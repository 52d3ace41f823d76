//! The one guard every export runs under: catches panics (no global panic hook), turns errors
//! into a status plus an optional `CraError`, and poisons the handle a panic happened on.

use crate::error::CraError;
use crate::status::CraStatus;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

/// A handle that a panic makes unusable.
pub(crate) trait Poisonable {
    /// How messages name the handle (`the resolver`).
    fn name() -> &'static str;
    /// The handle's poison flag.
    fn poison_flag(&self) -> &AtomicBool;
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload")
}

/// Clears `*err` (if given), runs `f`, and reports its outcome.
///
/// # Safety
/// `err` must be NULL or valid for writing a pointer.
pub(crate) unsafe fn run(
    err: *mut *mut CraError,
    f: impl FnOnce() -> Result<(), CraError>,
) -> CraStatus {
    if !err.is_null() {
        // SAFETY: the caller guarantees `err` is NULL (checked) or valid for writes.
        unsafe { err.write(std::ptr::null_mut()) };
    }
    let outcome = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return CraStatus::Ok,
        Ok(Err(e)) => e,
        Err(payload) => CraError::abi(
            CraStatus::Panic,
            format!(
                "a panic was caught at the C boundary: {}",
                panic_message(&*payload)
            ),
        ),
    };
    // SAFETY: forwarded caller guarantee on `err`.
    unsafe { outcome.write_to(err) }
}

/// Like [`run`] on a handle: NULL is `NULL_ARGUMENT`, a poisoned handle is `POISONED`, and a
/// panic inside `f` poisons `handle` (only it) before returning `PANIC`.
///
/// # Safety
/// `handle` must be NULL or a live handle; `err` must be NULL or valid for writing a pointer.
pub(crate) unsafe fn run_on<H: Poisonable>(
    handle: *const H,
    err: *mut *mut CraError,
    f: impl FnOnce(&H) -> Result<(), CraError>,
) -> CraStatus {
    let what = H::name();
    // SAFETY: the caller guarantees `handle` is NULL or live for the call.
    let h = unsafe { handle.as_ref() };
    // SAFETY: forwarded caller guarantee on `err`.
    unsafe {
        run(err, || {
            let h = h.ok_or_else(|| CraError::null(what))?;
            if h.poison_flag().load(Ordering::Acquire) {
                return Err(CraError::abi(
                    CraStatus::Poisoned,
                    format!("{what} is poisoned by an earlier panic; free it and create a new one"),
                ));
            }
            match catch_unwind(AssertUnwindSafe(|| f(h))) {
                Ok(r) => r,
                Err(payload) => {
                    h.poison_flag().store(true, Ordering::Release);
                    Err(CraError::abi(
                        CraStatus::Panic,
                        format!(
                            "a panic was caught at the C boundary: {}; {what} is now poisoned",
                            panic_message(&*payload)
                        ),
                    ))
                }
            }
        })
    }
}
