//! The one owned output type: bytes allocated by libcra, freed only by `cra_buffer_free`.

use std::mem::ManuallyDrop;
use std::ptr;

/// Bytes owned by the caller after a successful call (JSON text, or JSONL for a drained trace).
///
/// Ownership: the caller owns the buffer and must release it with `cra_buffer_free` exactly once
/// (never with `free()`). `len` counts the bytes; `ptr[len]` is always a NUL byte that `len` does
/// not count, so the text can also be read as a C string. `cap` is private to the allocator: do
/// not change `ptr`, `len` or `cap`. On failure the out-param is set to the empty buffer
/// (`ptr == NULL`, `len == 0`, `cap == 0`), which `cra_buffer_free` accepts.
#[repr(C)]
#[derive(Debug)]
pub struct CraBuffer {
    /// First byte, or NULL for the empty buffer of a failed call.
    pub ptr: *mut u8,
    /// Number of bytes, not counting the trailing NUL.
    pub len: usize,
    /// Allocated capacity (for `cra_buffer_free`).
    pub cap: usize,
}

impl CraBuffer {
    /// The empty buffer (NULL pointer).
    pub const fn empty() -> CraBuffer {
        CraBuffer {
            ptr: ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    /// Hands `bytes` to the caller, NUL-terminated.
    pub fn from_vec(mut bytes: Vec<u8>) -> CraBuffer {
        let len = bytes.len();
        bytes.push(0);
        let mut v = ManuallyDrop::new(bytes);
        CraBuffer {
            ptr: v.as_mut_ptr(),
            len,
            cap: v.capacity(),
        }
    }

    /// Takes the allocation back (for freeing), leaving `self` empty.
    fn take(&mut self) -> Option<Vec<u8>> {
        if self.ptr.is_null() {
            return None;
        }
        let b = std::mem::replace(self, CraBuffer::empty());
        // SAFETY: a non-NULL CraBuffer was built by `from_vec` from a Vec with exactly this
        // pointer, capacity and len + 1 initialized bytes; the caller promised not to alter it,
        // and `replace` above makes sure it is reclaimed once.
        Some(unsafe { Vec::from_raw_parts(b.ptr, b.len + 1, b.cap) })
    }
}

/// Writes `value` to the out-param `out` (which the caller guarantees is valid or NULL).
///
/// # Safety
/// `out` must be NULL or valid for a write of a `CraBuffer`.
pub(crate) unsafe fn write_buffer(out: *mut CraBuffer, value: CraBuffer) {
    if !out.is_null() {
        // SAFETY: the caller guarantees `out` is valid for writes; `write` does not read (or
        // drop) the possibly uninitialized old value.
        unsafe { out.write(value) };
    }
}

/// Frees a buffer returned by libcra and resets it to the empty buffer, so a second call is a
/// no-op. `buf` may be NULL; a buffer with a NULL `ptr` is ignored.
///
/// Ownership: takes back the bytes `buf` owns; `buf` itself stays the caller's.
/// Threading: do not free the same buffer from two threads at once.
///
/// # Safety
/// `buf` must be NULL or point to a `CraBuffer` filled by libcra and not modified since.
#[no_mangle]
pub unsafe extern "C" fn cra_buffer_free(buf: *mut CraBuffer) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: the caller guarantees `buf` is NULL or a valid, unmodified CraBuffer.
        if let Some(b) = unsafe { buf.as_mut() } {
            drop(b.take());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_double_free_is_a_no_op() {
        let mut b = CraBuffer::from_vec(b"{}".to_vec());
        assert_eq!(b.len, 2);
        // SAFETY: b.ptr holds len + 1 initialized bytes.
        assert_eq!(unsafe { *b.ptr.add(2) }, 0);
        // SAFETY: b is a libcra buffer.
        unsafe { cra_buffer_free(&mut b) };
        assert!(b.ptr.is_null());
        // SAFETY: the empty buffer and NULL are accepted.
        unsafe {
            cra_buffer_free(&mut b);
            cra_buffer_free(ptr::null_mut());
        }
    }

    #[test]
    fn empty_output_is_still_a_non_null_c_string() {
        let mut b = CraBuffer::from_vec(Vec::new());
        assert!(!b.ptr.is_null());
        assert_eq!(b.len, 0);
        // SAFETY: b is a libcra buffer.
        unsafe { cra_buffer_free(&mut b) };
    }
}
