//! Borrowed inputs: `(const uint8_t *ptr, size_t len)` pairs, checked for NULL and UTF-8.

use crate::error::CraError;
use crate::status::CraStatus;

/// The bytes of an input pair. `ptr` may be NULL only when `len` is 0.
///
/// # Safety
/// When non-NULL, `ptr` must be valid for reads of `len` bytes for the lifetime `'a` (the call).
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], CraError> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(CraError::null(&format!(
                "{what} pointer (with length {len})"
            )))
        };
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes for the call's duration.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The UTF-8 text of an input pair.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str, CraError> {
    // SAFETY: forwarded caller guarantee.
    let b = unsafe { bytes(ptr, len, what) }?;
    std::str::from_utf8(b).map_err(|e| {
        CraError::abi(
            CraStatus::InvalidUtf8,
            format!("{what} is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}
