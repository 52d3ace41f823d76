//! Test-only exports (cargo feature `testing`): never in a shipped library.

use crate::error::CraError;
use crate::guard;
use crate::resolver::CraResolver;
use crate::status::CraStatus;

/// TESTING ONLY (built with the `testing` feature): panics inside the guard on `r`, to prove
/// that the panic is caught, that the call returns `CRA_STATUS_PANIC`, and that `r` (and only
/// `r`) is poisoned afterwards. Thread-safe.
///
/// # Safety
/// `r` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_testing_panic(
    r: *const CraResolver,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        guard::run_on(r, err, |_| -> Result<(), CraError> {
            panic!("deliberate panic from cra_testing_panic")
        })
    }
}
