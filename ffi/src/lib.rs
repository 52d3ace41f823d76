//! # libcra: the C ABI of CRA
//!
//! Thin `extern "C"` wrappers over [`cra_core::api`], one per operation. The header
//! `include/cra.h` is generated from this crate by cbindgen (`make header`) and committed.
//!
//! Conventions (see `docs/c-api.md`):
//! - names are `cra_<noun>_<verb>`; handles are opaque ([`CraResolver`], [`CraError`]);
//! - every fallible call returns a [`CraStatus`]; values go to out-params; details go to an
//!   optional `CraError **err` (may be NULL);
//! - strings in are `(const uint8_t *ptr, size_t len)`, checked as UTF-8; bytes out are one owned
//!   [`CraBuffer`], freed only by [`cra_buffer_free`];
//! - no panic crosses the boundary: every export runs under one guard (`guard.rs`), a panic returns
//!   `CRA_STATUS_PANIC` and poisons only the handle it happened on.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod buffer;
mod error;
mod guard;
mod input;
mod lean;
mod resolver;
mod status;
#[cfg(feature = "testing")]
mod testing;
mod trace;

pub use buffer::{cra_buffer_free, CraBuffer};
pub use error::{
    cra_error_code, cra_error_code_name, cra_error_free, cra_error_json, cra_error_message,
    cra_error_pointer, CraError,
};
pub use lean::cra_resolver_verdict;
pub use resolver::*;
pub use status::{cra_status_name, CraStatus, CraVerdict};
#[cfg(feature = "testing")]
pub use testing::cra_testing_panic;
pub use trace::{cra_atlas_document, cra_trace_replay, cra_trace_verify, cra_trace_verify_file};

use std::ffi::c_char;

/// The version of the C ABI this header describes. It grows by one whenever a function's
/// signature or meaning changes incompatibly, or a status or verdict value changes meaning;
/// adding functions or new status values does not change it. Compare it with
/// `cra_abi_version()` at load time and refuse to run on a mismatch.
pub const CRA_ABI_VERSION: u32 = 1;

/// The ABI version of the loaded library (compare with `CRA_ABI_VERSION` from the header you
/// compiled against). Never fails; thread-safe.
#[no_mangle]
pub extern "C" fn cra_abi_version() -> u32 {
    CRA_ABI_VERSION
}

/// The library version (e.g. `"0.1.0"`), a static NUL-terminated string: borrowed, valid for the
/// life of the process, never freed. Never fails; thread-safe.
#[no_mangle]
pub extern "C" fn cra_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}
