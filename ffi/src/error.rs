//! `CraError`: the optional details of a failed call, owned by the caller.

use crate::buffer::{write_buffer, CraBuffer};
use crate::status::CraStatus;
use cra_core::CraError as CoreError;
use serde_json::json;
use std::ffi::{c_char, CString};
use std::ptr;

/// Details of a failed call: status, stable code name, message, JSON pointer and, for atlas
/// validation, every problem found (in `cra_error_json`).
///
/// Ownership: a `CraError` written to a `CraError **err` out-param belongs to the caller, who
/// releases it with `cra_error_free`. Strings returned by its accessors are borrowed from it and
/// valid until it is freed.
/// Threading: immutable once returned; it may be read from several threads and freed from any
/// thread (once, after the readers are done).
pub struct CraError {
    status: CraStatus,
    message: CString,
    pointer: Option<CString>,
    json: Vec<u8>,
}

/// A message or pointer as a C string: an interior NUL (possible when it quotes input) becomes
/// U+FFFD so the string is never silently cut short.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

impl CraError {
    /// An error of the C ABI itself (status 1..99 or PANIC).
    pub(crate) fn abi(status: CraStatus, message: impl Into<String>) -> CraError {
        let message = message.into();
        let json = serde_json::to_vec(&json!({"code": status.name(), "message": message}))
            .unwrap_or_default();
        CraError {
            status,
            message: c_string(&message),
            pointer: None,
            json,
        }
    }

    /// A required argument is NULL.
    pub(crate) fn null(what: &str) -> CraError {
        CraError::abi(CraStatus::NullArgument, format!("{what} is NULL"))
    }

    /// Writes this error to the caller's out-param (if any).
    ///
    /// # Safety
    /// `err` must be NULL or valid for writing a pointer.
    pub(crate) unsafe fn write_to(self, err: *mut *mut CraError) -> CraStatus {
        let status = self.status;
        if !err.is_null() {
            // SAFETY: the caller guarantees `err` is NULL (checked) or valid for writes.
            unsafe { err.write(Box::into_raw(Box::new(self))) };
        }
        status
    }
}

impl From<CoreError> for CraError {
    fn from(e: CoreError) -> CraError {
        let json = serde_json::to_vec(&e.to_json()).unwrap_or_default();
        CraError {
            status: CraStatus::from_code(e.code),
            message: c_string(&e.message),
            pointer: e.pointer.as_deref().map(c_string),
            json,
        }
    }
}

/// Borrows the error behind a possibly NULL pointer.
///
/// # Safety
/// `e` must be NULL or a live `CraError` from libcra.
unsafe fn borrow<'a>(e: *const CraError) -> Option<&'a CraError> {
    // SAFETY: the caller guarantees `e` is NULL or live.
    unsafe { e.as_ref() }
}

/// The error's status (the value the failed call returned; 100..199 equal the engine's error
/// codes). `CRA_STATUS_NULL_ARGUMENT` when `err` is NULL. Borrows `err`; thread-safe.
///
/// # Safety
/// `err` must be NULL or a live `CraError` from libcra.
#[no_mangle]
pub unsafe extern "C" fn cra_error_code(err: *const CraError) -> CraStatus {
    // SAFETY: forwarded caller guarantee.
    unsafe { borrow(err) }.map_or(CraStatus::NullArgument, |e| e.status)
}

/// The error's stable code name (`"INVALID_REQUEST"`, `"NULL_ARGUMENT"`, `"PANIC"`, ...): a
/// static NUL-terminated string, valid for the life of the process (even after `cra_error_free`),
/// never freed. `"NULL_ARGUMENT"` when `err` is NULL. Thread-safe.
///
/// # Safety
/// `err` must be NULL or a live `CraError` from libcra.
#[no_mangle]
pub unsafe extern "C" fn cra_error_code_name(err: *const CraError) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    let status = unsafe { cra_error_code(err) };
    status.name_ptr()
}

/// The human message (lowercase, names the offending input), NUL-terminated. Borrowed from
/// `err`: valid until `cra_error_free(err)`; do not free it. Interior NUL bytes of the message
/// are replaced by U+FFFD. NULL when `err` is NULL. Thread-safe.
///
/// # Safety
/// `err` must be NULL or a live `CraError` from libcra.
#[no_mangle]
pub unsafe extern "C" fn cra_error_message(err: *const CraError) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { borrow(err) }.map_or(ptr::null(), |e| e.message.as_ptr())
}

/// The JSON pointer (RFC 6901) of the offending input value, NUL-terminated (`""` means the
/// whole document), or NULL when the error is not about a particular input value (or `err` is
/// NULL). Borrowed from `err`: valid until `cra_error_free(err)`. Thread-safe.
///
/// # Safety
/// `err` must be NULL or a live `CraError` from libcra.
#[no_mangle]
pub unsafe extern "C" fn cra_error_pointer(err: *const CraError) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { borrow(err) }
        .and_then(|e| e.pointer.as_ref())
        .map_or(ptr::null(), |p| p.as_ptr())
}

/// The whole error as JSON, `{"code", "message", "pointer"?, "details"?: [{"code", "message",
/// "pointer"}]}` (the envelope every binding shares), written to `*out` as a new owned buffer
/// (free it with `cra_buffer_free`). Returns `CRA_STATUS_NULL_ARGUMENT` when `err` or `out` is
/// NULL. Thread-safe.
///
/// # Safety
/// `err` must be NULL or a live `CraError`; `out` must be NULL or valid for writing a `CraBuffer`.
#[no_mangle]
pub unsafe extern "C" fn cra_error_json(err: *const CraError, out: *mut CraBuffer) -> CraStatus {
    // SAFETY: forwarded caller guarantee on `out`.
    unsafe { write_buffer(out, CraBuffer::empty()) };
    // SAFETY: forwarded caller guarantee on `err`.
    let Some(e) = (unsafe { borrow(err) }) else {
        return CraStatus::NullArgument;
    };
    if out.is_null() {
        return CraStatus::NullArgument;
    }
    match std::panic::catch_unwind(|| CraBuffer::from_vec(e.json.clone())) {
        Ok(buf) => {
            // SAFETY: `out` is non-NULL and valid per the caller.
            unsafe { write_buffer(out, buf) };
            CraStatus::Ok
        }
        Err(_) => CraStatus::Panic,
    }
}

/// Frees an error returned through a `CraError **err` out-param. NULL is a no-op. The strings
/// borrowed from it become invalid. Free each error once.
///
/// # Safety
/// `err` must be NULL or a `CraError` from libcra not yet freed.
#[no_mangle]
pub unsafe extern "C" fn cra_error_free(err: *mut CraError) {
    if !err.is_null() {
        let _ = std::panic::catch_unwind(|| {
            // SAFETY: `err` came from Box::into_raw in `write_to` and is freed once (caller).
            drop(unsafe { Box::from_raw(err) });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cra_core::ErrorCode;
    use std::ffi::CStr;

    #[test]
    fn core_error_keeps_code_pointer_and_json() {
        let e = CraError::from(CoreError::at(
            ErrorCode::InvalidAtlas,
            "/actions/0",
            "bad\0id",
        ));
        let mut out: *mut CraError = ptr::null_mut();
        // SAFETY: `out` is a valid out-param; the accessors get the live error.
        unsafe {
            assert_eq!(e.write_to(&mut out), CraStatus::InvalidAtlas);
            assert_eq!(cra_error_code(out) as u32, 110);
            assert_eq!(
                CStr::from_ptr(cra_error_code_name(out)).to_str(),
                Ok("INVALID_ATLAS")
            );
            assert_eq!(
                CStr::from_ptr(cra_error_message(out)).to_str(),
                Ok("bad\u{FFFD}id")
            );
            assert_eq!(
                CStr::from_ptr(cra_error_pointer(out)).to_str(),
                Ok("/actions/0")
            );
            let mut b = CraBuffer::empty();
            assert_eq!(cra_error_json(out, &mut b), CraStatus::Ok);
            let v: serde_json::Value =
                serde_json::from_slice(std::slice::from_raw_parts(b.ptr, b.len)).unwrap();
            assert_eq!(v["code"], "INVALID_ATLAS");
            assert_eq!(v["pointer"], "/actions/0");
            crate::cra_buffer_free(&mut b);
            cra_error_free(out);
        }
    }

    #[test]
    fn null_error_accessors() {
        // SAFETY: NULL is accepted by every accessor.
        unsafe {
            assert_eq!(cra_error_code(ptr::null()), CraStatus::NullArgument);
            assert!(cra_error_message(ptr::null()).is_null());
            assert!(cra_error_pointer(ptr::null()).is_null());
            assert_eq!(
                cra_error_json(ptr::null(), ptr::null_mut()),
                CraStatus::NullArgument
            );
            cra_error_free(ptr::null_mut());
        }
    }
}
