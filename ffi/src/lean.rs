//! Lean call shapes for hosts whose foreign calls cost per argument and per out-param (Python's
//! cffi in ABI mode marshals each argument through libffi at run time): the answer is the return
//! value, nothing is allocated, no `CraError` is made. A failure returns only its status; call
//! the full function (`cra_resolver_check`) for the error's details.

use crate::guard;
use crate::input;
use crate::resolver::CraResolver;
use crate::status::{CraStatus, CraVerdict};
use cra_core::api;
use std::cell::Cell;

/// The fast path (as `cra_resolver_check`) with the verdict as the return value: a
/// `CraVerdict` value (0 to 4) on success, or the negated `CraStatus` of a failure (for example
/// `-CRA_STATUS_NULL_ARGUMENT`, `-CRA_STATUS_INVALID_UTF8`, `-CRA_STATUS_POISONED`), with no
/// details: call `cra_resolver_check` with the same arguments to get them. Any negative value
/// means "no verdict": treat it as not allowed. No JSON, nothing consumed, nothing recorded.
/// Thread-safe.
///
/// # Safety
/// `r` NULL or live; both `(ptr, len)` pairs readable for the call (a pointer may be NULL only
/// with length 0).
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_verdict(
    r: *const CraResolver,
    session_id: *const u8,
    session_id_len: usize,
    action_id: *const u8,
    action_id_len: usize,
) -> i32 {
    let verdict = Cell::new(CraVerdict::NoResolution);
    // SAFETY: caller guarantees on `r`; a NULL `err` is accepted.
    let status = unsafe {
        guard::run_on(r, std::ptr::null_mut(), |h| {
            // SAFETY: caller guarantees both pairs are readable during the call.
            let s = input::text(session_id, session_id_len, "the session id")?;
            // SAFETY: as above.
            let a = input::text(action_id, action_id_len, "the action id")?;
            verdict.set(api::check(h.resolver(), s.as_bytes(), a.as_bytes())?.into());
            Ok(())
        })
    };
    match status {
        CraStatus::Ok => verdict.get() as i32,
        failed => -(failed as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cra_resolver_free, cra_resolver_new};
    use std::ptr;

    fn resolver() -> *mut CraResolver {
        let mut r: *mut CraResolver = ptr::null_mut();
        // SAFETY: a valid config pair and out-param; NULL err is accepted.
        let st = unsafe { cra_resolver_new(b"{}".as_ptr(), 2, &mut r, ptr::null_mut()) };
        assert_eq!(st, CraStatus::Ok);
        r
    }

    #[test]
    fn a_verdict_or_a_negated_status() {
        let r = resolver();
        // SAFETY: `r` is live; the pairs are valid (or NULL with a length, which is refused).
        unsafe {
            let v = cra_resolver_verdict(r, b"s".as_ptr(), 1, b"a".as_ptr(), 1);
            assert_eq!(v, CraVerdict::NoResolution as i32);
            let null = cra_resolver_verdict(ptr::null(), b"s".as_ptr(), 1, b"a".as_ptr(), 1);
            assert_eq!(null, -(CraStatus::NullArgument as i32));
            let missing = cra_resolver_verdict(r, ptr::null(), 3, b"a".as_ptr(), 1);
            assert_eq!(missing, -(CraStatus::NullArgument as i32));
            let bad = cra_resolver_verdict(r, b"s".as_ptr(), 1, b"\xff".as_ptr(), 1);
            assert_eq!(bad, -(CraStatus::InvalidUtf8 as i32));
            cra_resolver_free(r);
        }
    }
}
