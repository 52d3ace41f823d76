//! Stateless trace functions: verify bytes or a file, replay against atlases.

use crate::buffer::{write_buffer, CraBuffer};
use crate::error::CraError;
use crate::guard;
use crate::input;
use crate::status::CraStatus;
use cra_core::api;

/// Clears `*out`, then, under the panic guard, writes to it the bytes `answer` computes: the
/// shape every function of this file shares (`out` is checked before any input is read).
///
/// # Safety
/// `out` NULL or writable; `err` NULL or writable.
unsafe fn answer_into(
    out: *mut CraBuffer,
    err: *mut *mut CraError,
    answer: impl FnOnce() -> Result<Vec<u8>, CraError>,
) -> CraStatus {
    // SAFETY: caller guarantees `out` is NULL or writable.
    unsafe { write_buffer(out, CraBuffer::empty()) };
    // SAFETY: caller guarantees on `err`.
    unsafe {
        guard::run(err, || {
            if out.is_null() {
                return Err(CraError::null("out"));
            }
            let bytes = answer()?;
            // SAFETY: `out` is non-NULL and writable.
            write_buffer(out, CraBuffer::from_vec(bytes));
            Ok(())
        })
    }
}

/// Verifies JSONL trace bytes; `*out` gets the report JSON (`{"ok", "events", "sessions",
/// "errors": [...]}`). A broken chain is a report with `"ok": false`, not an error status; a
/// line that is not UTF-8 is reported as `malformed_event` at its line, like the file variant.
/// Errors: ABI statuses (NULL `out`, NULL input with non-zero length).
/// Thread-safe; `trace` is borrowed for the call only.
///
/// # Safety
/// `trace` readable for `trace_len` bytes (or NULL with 0); `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_trace_verify(
    trace: *const u8,
    trace_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pairs are readable during the call.
            let t = input::bytes(trace, trace_len, "the trace")?;
            Ok(api::verify_trace(t)?)
        })
    }
}

/// Verifies a JSONL trace file (streamed, UTF-8 path); `*out` gets the report JSON.
/// Errors: `CRA_STATUS_IO_ERROR` when the file cannot be read, ABI statuses. Thread-safe.
///
/// # Safety
/// `path` readable for `path_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_trace_verify_file(
    path: *const u8,
    path_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pairs are readable during the call.
            let p = input::text(path, path_len, "the trace path")?;
            Ok(api::verify_trace_file(p.as_bytes())?)
        })
    }
}

/// Verifies JSONL trace bytes with options (`{"require_session_end"?: bool, "heads"?:
/// {"<trace_id>": {"sequence", "event_hash"}}, "summaries"?: bool}`, or empty): `heads` lets
/// a batch continue chains verified earlier (an ingest service); `summaries` adds a `traces`
/// array with each chain's head. Errors: `CRA_STATUS_INVALID_REQUEST` (bad options, pointer
/// inside them), `CRA_STATUS_LIMIT_EXCEEDED` (over 1,000,000 heads), ABI statuses. Thread-safe.
///
/// # Safety
/// Both inputs readable for their lengths (or NULL with 0); `out` writable; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cra_trace_verify_with(
    trace: *const u8,
    trace_len: usize,
    options: *const u8,
    options_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pairs are readable during the call.
            let t = input::bytes(trace, trace_len, "the trace")?;
            let o = input::bytes(options, options_len, "the options")?;
            Ok(api::verify_trace_with(t, o)?)
        })
    }
}

/// Reads a JSONL batch for a store without verifying it (an ingest service reads where each
/// line goes, then verifies with `cra_trace_verify_with`). Writes a JSON array with one element
/// per line: `[event_id, trace_id, session_id, sequence, event_type, timestamp_us,
/// previous_event_hash, event_hash, agent_id, decision, action_id, atlas_id, policy_id,
/// reason_code, action_atlases, atlases]` (the ingest's index columns, docs/trace.md §5), or
/// `null` for a line that is not an event read that way (the caller reports it). Any bytes.
/// Errors: ABI statuses only. Thread-safe.
///
/// # Safety
/// `trace` readable for `trace_len` bytes (or NULL with 0); `out` writable; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cra_trace_scan(
    trace: *const u8,
    trace_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pairs are readable during the call.
            let t = input::bytes(trace, trace_len, "the trace")?;
            Ok(api::scan_trace(t)?)
        })
    }
}

/// Verifies a JSONL trace file (streamed, UTF-8 path) with options (as
/// `cra_trace_verify_with`). Errors: `CRA_STATUS_IO_ERROR`, `CRA_STATUS_INVALID_REQUEST`,
/// ABI statuses. Thread-safe.
///
/// # Safety
/// Both inputs readable for their lengths; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_trace_verify_file_with(
    path: *const u8,
    path_len: usize,
    options: *const u8,
    options_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pairs are readable during the call.
            let p = input::text(path, path_len, "the trace path")?;
            let o = input::bytes(options, options_len, "the options")?;
            Ok(api::verify_trace_file_with(p.as_bytes(), o)?)
        })
    }
}

/// Replays the resolve requests recorded in a JSONL trace against other atlases, given as a
/// JSON array whose entries are atlas documents or paths of atlas directories (read by the
/// same safe loader as `cra_resolver_load_atlas_dir`); `*out` gets the replay report JSON. Errors:
/// `CRA_STATUS_INVALID_REQUEST` (atlases not an array), `CRA_STATUS_INVALID_ATLAS` (pointer
/// `/N/...` names the atlas), `CRA_STATUS_TRACE_CHAIN_INVALID`, ABI statuses. Thread-safe.
///
/// # Safety
/// Both inputs readable for their lengths; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_trace_replay(
    trace: *const u8,
    trace_len: usize,
    atlases: *const u8,
    atlases_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pairs are readable during the call.
            let t = input::text(trace, trace_len, "the trace")?;
            let a = input::text(atlases, atlases_len, "the atlases")?;
            Ok(api::replay(t.as_bytes(), a.as_bytes())?)
        })
    }
}

/// The atlas of a directory (or an `atlas.json` path) as one self-contained JSON document:
/// `atlas.json` with each context pack's `files` read by the loader (the same checks as
/// `cra_resolver_load_atlas_dir`: relative paths inside the directory, regular files, size
/// limits, UTF-8) and inlined as `content`. For services that take atlas documents and never
/// read a path a client names. Errors: `CRA_STATUS_INVALID_ATLAS`, `CRA_STATUS_IO_ERROR`,
/// `CRA_STATUS_LIMIT_EXCEEDED`, ABI statuses. Thread-safe.
///
/// # Safety
/// `path` readable for `path_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_atlas_document(
    path: *const u8,
    path_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        answer_into(out, err, || {
            // SAFETY: caller guarantees the input pair is readable during the call.
            let p = input::text(path, path_len, "the atlas path")?;
            let doc = cra_core::atlas::document_from_dir(std::path::Path::new(p))?;
            Ok(serde_json::to_vec(&doc).expect("a JSON value serializes"))
        })
    }
}
