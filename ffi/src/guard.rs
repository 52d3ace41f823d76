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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    struct Handle(AtomicBool);
    impl Poisonable for Handle {
        fn name() -> &'static str {
            "the handle"
        }
        fn poison_flag(&self) -> &AtomicBool {
            &self.0
        }
    }

    fn status_of(h: &Handle, f: impl FnOnce(&Handle) -> Result<(), CraError>) -> CraStatus {
        let mut err: *mut CraError = ptr::null_mut();
        // SAFETY: `h` is live and `err` is a valid out-param; the error is freed below.
        unsafe {
            let st = run_on(h, &mut err, f);
            assert_eq!(err.is_null(), st == CraStatus::Ok);
            crate::cra_error_free(err);
            st
        }
    }

    #[test]
    fn a_panic_poisons_only_its_handle() {
        let (a, b) = (
            Handle(AtomicBool::new(false)),
            Handle(AtomicBool::new(false)),
        );
        assert_eq!(status_of(&a, |_| Ok(())), CraStatus::Ok);
        assert_eq!(status_of(&a, |_| panic!("boom")), CraStatus::Panic);
        assert_eq!(status_of(&a, |_| Ok(())), CraStatus::Poisoned);
        assert_eq!(status_of(&b, |_| Ok(())), CraStatus::Ok);
    }

    #[test]
    fn errors_and_null_handles() {
        let h = Handle(AtomicBool::new(false));
        let st = status_of(&h, |_| Err(CraError::abi(CraStatus::InvalidUtf8, "x")));
        assert_eq!(st, CraStatus::InvalidUtf8);
        // SAFETY: a NULL handle and a NULL err are accepted.
        let st = unsafe { run_on::<Handle>(ptr::null(), ptr::null_mut(), |_| Ok(())) };
        assert_eq!(st, CraStatus::NullArgument);
        // SAFETY: NULL err is accepted; a panic without a handle poisons nothing.
        let st = unsafe { run(ptr::null_mut(), || panic!("{}", String::from("owned"))) };
        assert_eq!(st, CraStatus::Panic);
    }
}
