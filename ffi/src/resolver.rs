//! `CraResolver`: one engine instance, shared by many threads through `const CraResolver *`.

use crate::buffer::{write_buffer, CraBuffer};
use crate::error::CraError;
use crate::guard::{self, Poisonable};
use crate::input;
use crate::status::{CraStatus, CraVerdict};
use cra_core::{api, Resolver};
use std::sync::atomic::AtomicBool;

/// A resolver: loaded atlases, sessions, resolutions, approvals, rate limits and the trace
/// collector.
///
/// Ownership: created by `cra_resolver_new`, owned by the caller, released once by
/// `cra_resolver_free`.
/// Threading: every function taking a `const CraResolver *` may be called from many threads at
/// once on the same handle (the resolver is internally synchronized). Only `cra_resolver_free`
/// needs exclusive access: call it after every other call on the handle has returned.
pub struct CraResolver {
    inner: Resolver,
    poisoned: AtomicBool,
}

impl Poisonable for CraResolver {
    fn name() -> &'static str {
        "the resolver"
    }
    fn poison_flag(&self) -> &AtomicBool {
        &self.poisoned
    }
}

impl CraResolver {
    /// The engine.
    pub(crate) fn resolver(&self) -> &Resolver {
        &self.inner
    }
}

/// Compile-time proof that one handle may be shared by threads.
#[allow(dead_code)]
fn assert_shareable() {
    fn shared<T: Send + Sync>() {}
    shared::<CraResolver>()
}

/// Runs one JSON-in, JSON-out operation: checks the handle, the input and `out`, calls `op`
/// and hands its bytes to the caller.
///
/// # Safety
/// As every export: `r` NULL or live, `(ptr, len)` readable, `out` NULL or writable, `err` NULL
/// or writable.
unsafe fn json_op(
    r: *const CraResolver,
    ptr: *const u8,
    len: usize,
    what: &str,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
    op: fn(&Resolver, &[u8]) -> cra_core::Result<Vec<u8>>,
) -> CraStatus {
    // SAFETY: caller guarantees `out` is NULL or writable.
    unsafe { write_buffer(out, CraBuffer::empty()) };
    // SAFETY: caller guarantees on `r` and `err`.
    unsafe {
        guard::run_on(r, err, |h| {
            if out.is_null() {
                return Err(CraError::null("out"));
            }
            // SAFETY: caller guarantees `(ptr, len)` is readable during the call.
            let text = input::text(ptr, len, what)?;
            let bytes = op(h.resolver(), text.as_bytes())?;
            // SAFETY: `out` is non-NULL and writable.
            write_buffer(out, CraBuffer::from_vec(bytes));
            Ok(())
        })
    }
}

/// Runs one operation without input that answers bytes.
///
/// # Safety
/// As [`json_op`].
unsafe fn output_op(
    r: *const CraResolver,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
    op: fn(&Resolver) -> cra_core::Result<Vec<u8>>,
) -> CraStatus {
    // SAFETY: caller guarantees `out` is NULL or writable.
    unsafe { write_buffer(out, CraBuffer::empty()) };
    // SAFETY: caller guarantees on `r` and `err`.
    unsafe {
        guard::run_on(r, err, |h| {
            if out.is_null() {
                return Err(CraError::null("out"));
            }
            let bytes = op(h.resolver())?;
            // SAFETY: `out` is non-NULL and writable.
            write_buffer(out, CraBuffer::from_vec(bytes));
            Ok(())
        })
    }
}

/// Creates a resolver from configuration JSON (`{}`, or an empty input, means defaults; see
/// docs/protocol.md for the fields). On success `*out` is a new handle owned by the caller
/// (free it with `cra_resolver_free`); on failure `*out` is NULL.
/// Errors: `CRA_STATUS_INVALID_CONFIG`, `CRA_STATUS_IO_ERROR` (trace file), ABI statuses.
///
/// # Safety
/// `config` must be readable for `config_len` bytes (or NULL with length 0); `out` must be
/// writable; `err` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_new(
    config: *const u8,
    config_len: usize,
    out: *mut *mut CraResolver,
    err: *mut *mut CraError,
) -> CraStatus {
    if !out.is_null() {
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    // SAFETY: caller guarantees on `err`.
    unsafe {
        guard::run(err, || {
            if out.is_null() {
                return Err(CraError::null("out"));
            }
            // SAFETY: caller guarantees `(config, config_len)` is readable.
            let text = input::text(config, config_len, "the configuration")?;
            let inner = api::create(text.as_bytes())?;
            let handle = Box::new(CraResolver {
                inner,
                poisoned: AtomicBool::new(false),
            });
            // SAFETY: `out` is non-NULL and writable.
            out.write(Box::into_raw(handle));
            Ok(())
        })
    }
}

/// Closes the resolver (flushing its trace collector, errors ignored: call
/// `cra_resolver_close` first to see them) and frees it. NULL is a no-op; a poisoned handle is
/// freed too. Never panics across the boundary.
///
/// Threading: needs exclusive access; no other call on `r` may be running or follow.
///
/// # Safety
/// `r` must be NULL or a handle from `cra_resolver_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_free(r: *mut CraResolver) {
    if r.is_null() {
        return;
    }
    // SAFETY: `r` came from Box::into_raw in cra_resolver_new and is freed once (caller).
    let handle = unsafe { Box::from_raw(r) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _ = handle.inner.close();
        drop(handle);
    }));
}

/// Loads (or replaces) an atlas from its JSON text; `*out` gets `AtlasInfo` JSON
/// (`{"atlas_id", "version", "actions", "policies", "context_packs", "capabilities",
/// "replaced"}`). Errors: `CRA_STATUS_INVALID_ATLAS` (every problem in the error's details),
/// `CRA_STATUS_INVALID_REQUEST`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `atlas` readable for `atlas_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_load_atlas(
    r: *const CraResolver,
    atlas: *const u8,
    atlas_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { json_op(r, atlas, atlas_len, "the atlas", out, err, api::load_atlas) }
}

/// Loads an atlas from a directory holding `atlas.json` (UTF-8 path); `*out` gets `AtlasInfo`
/// JSON. Errors: `CRA_STATUS_IO_ERROR`, `CRA_STATUS_INVALID_ATLAS`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `path` readable for `path_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_load_atlas_dir(
    r: *const CraResolver,
    path: *const u8,
    path_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            path,
            path_len,
            "the atlas path",
            out,
            err,
            api::load_atlas_dir,
        )
    }
}

/// Unloads an atlas by id; `*out` gets `{"atlas_id", "unloaded": true}`.
/// Errors: `CRA_STATUS_ATLAS_NOT_FOUND`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `atlas_id` readable for `atlas_id_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_unload_atlas(
    r: *const CraResolver,
    atlas_id: *const u8,
    atlas_id_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            atlas_id,
            atlas_id_len,
            "the atlas id",
            out,
            err,
            api::unload_atlas,
        )
    }
}

/// Resolves a CARP request (JSON); `*out` gets the resolution JSON (decision, allowed, denied
/// and pending actions, context blocks, constraints, ttl). Errors: `CRA_STATUS_INVALID_REQUEST`
/// (with the pointer of the offending value), `CRA_STATUS_ATLAS_NOT_FOUND`,
/// `CRA_STATUS_SESSION_ENDED`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `request` readable for `request_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_resolve(
    r: *const CraResolver,
    request: *const u8,
    request_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            request,
            request_len,
            "the request",
            out,
            err,
            api::resolve,
        )
    }
}

/// Authorizes one tool call (an `execute` CARP request; `operation` may be omitted); `*out` gets
/// the answer JSON (`status` `authorized` with `execution_id`, `denied` with `reason_code`, or
/// `pending_approval` with `approval_id`). A denial is an answer, not an error.
/// Errors: `CRA_STATUS_RESOLUTION_NOT_FOUND`, `CRA_STATUS_RESOLUTION_EXPIRED`,
/// `CRA_STATUS_INVALID_PARAMETERS`, `CRA_STATUS_INVALID_REQUEST`, `CRA_STATUS_SESSION_ENDED`,
/// ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `request` readable for `request_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_execute(
    r: *const CraResolver,
    request: *const u8,
    request_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            request,
            request_len,
            "the request",
            out,
            err,
            api::execute,
        )
    }
}

/// Reports a tool's outcome (`{"execution_id", "result"}` or `{"execution_id", "error":
/// {"message", "code"?}}`, optional `duration_ms`); `*out` gets `{"execution_id", "status", ...}`.
/// Errors: `CRA_STATUS_EXECUTION_NOT_FOUND`, `CRA_STATUS_EXECUTION_ALREADY_REPORTED`,
/// `CRA_STATUS_INVALID_REQUEST`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `report` readable for `report_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_report(
    r: *const CraResolver,
    report: *const u8,
    report_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { json_op(r, report, report_len, "the report", out, err, api::report) }
}

/// Approves a pending approval (`{"approval_id", "approver", "reason"?}`): the one call it was
/// asked for (same session, action and parameters) is authorized once. `*out` gets the
/// approval JSON. Errors: `CRA_STATUS_APPROVAL_NOT_FOUND`, `CRA_STATUS_APPROVAL_EXPIRED`,
/// `CRA_STATUS_APPROVAL_ALREADY_DECIDED`, `CRA_STATUS_APPROVAL_FORBIDDEN` (no approver, or the
/// requesting agent), `CRA_STATUS_INVALID_REQUEST`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `decision` readable for `decision_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_approve(
    r: *const CraResolver,
    decision: *const u8,
    decision_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            decision,
            decision_len,
            "the decision",
            out,
            err,
            api::approve,
        )
    }
}

/// Lists approvals (`{"session_id"?, "status"?: ["pending", "approved", "rejected",
/// "consumed", "expired"]}`, or empty for every pending one); `*out` gets a JSON array, oldest
/// first, each with agent, action, parameters, policy, reason and expiry. Errors:
/// `CRA_STATUS_INVALID_REQUEST`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `filter` readable for `filter_len` bytes (or NULL with 0); `out` writable; `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_list_approvals(
    r: *const CraResolver,
    filter: *const u8,
    filter_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            filter,
            filter_len,
            "the filter",
            out,
            err,
            api::approvals,
        )
    }
}

/// Rejects a pending approval (same input, output and errors as `cra_resolver_approve`).
/// Thread-safe.
///
/// # Safety
/// `r` live; `decision` readable for `decision_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_reject(
    r: *const CraResolver,
    decision: *const u8,
    decision_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            decision,
            decision_len,
            "the decision",
            out,
            err,
            api::reject,
        )
    }
}

/// Ends a session (`{"session_id", "reason"?}`); `*out` gets `{"session_id", "trace_id",
/// "reason", "ended_at", "duration_us"}`. Later requests naming the session fail with
/// `CRA_STATUS_SESSION_ENDED`. Errors: `CRA_STATUS_SESSION_NOT_FOUND`,
/// `CRA_STATUS_SESSION_ENDED`, `CRA_STATUS_INVALID_REQUEST`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` live; `body` readable for `body_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_end_session(
    r: *const CraResolver,
    body: *const u8,
    body_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { json_op(r, body, body_len, "the request", out, err, api::end_session) }
}

/// The session's most recent resolution (`{"session_id"}`), expired or not; `*out` gets
/// `{"session_id", "agent_id", "resolution_id", "expires_at", "expired"}`. What a binding
/// authorizes against when its caller names only the session (the core keeps it; bindings keep
/// no copy). Records nothing. Errors: `CRA_STATUS_RESOLUTION_NOT_FOUND` (unknown session, or no
/// resolution yet), `CRA_STATUS_SESSION_ENDED`, `CRA_STATUS_INVALID_REQUEST`, ABI statuses.
/// Thread-safe.
///
/// # Safety
/// `r` live; `body` readable for `body_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_latest_resolution(
    r: *const CraResolver,
    body: *const u8,
    body_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            body,
            body_len,
            "the request",
            out,
            err,
            api::latest_resolution,
        )
    }
}

/// The fast path, no JSON and no allocation on success: may session `session_id` run action
/// `action_id` now? `*out` gets the verdict from the session's latest unexpired resolution (rate
/// limits are peeked, not consumed; nothing is recorded). Errors: ABI statuses only (NULL
/// arguments, invalid UTF-8, poisoned). Thread-safe.
///
/// # Safety
/// `r` live; both strings readable for their lengths; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_check(
    r: *const CraResolver,
    session_id: *const u8,
    session_id_len: usize,
    action_id: *const u8,
    action_id_len: usize,
    out: *mut CraVerdict,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: caller guarantees on `r` and `err`.
    unsafe {
        guard::run_on(r, err, |h| {
            if out.is_null() {
                return Err(CraError::null("out"));
            }
            // SAFETY: caller guarantees both pairs are readable during the call.
            let s = input::text(session_id, session_id_len, "the session id")?;
            // SAFETY: as above.
            let a = input::text(action_id, action_id_len, "the action id")?;
            let v = api::check(h.resolver(), s.as_bytes(), a.as_bytes())?;
            // SAFETY: `out` is non-NULL and writable.
            out.write(v.into());
            Ok(())
        })
    }
}

/// Loads an atlas (JSON text) as the *shadow* of the live atlas with the same `atlas_id`: every
/// resolve and execute is also judged by it, the live decision is enforced, and each difference
/// is recorded in TRACE (`policy.shadow_diff`) and counted (`stats.shadow_diffs`). `*out` gets
/// the `AtlasInfo` JSON. Errors: `CRA_STATUS_INVALID_ATLAS`, `CRA_STATUS_ATLAS_NOT_FOUND` (no
/// live atlas with that id), ABI statuses. Thread-safe.
///
/// # Safety
/// `r` NULL or live; `atlas` readable for `atlas_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_load_shadow(
    r: *const CraResolver,
    atlas: *const u8,
    atlas_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { json_op(r, atlas, atlas_len, "the atlas", out, err, api::load_shadow) }
}

/// Loads a shadow atlas from a directory (as `cra_resolver_load_atlas_dir`); see
/// `cra_resolver_load_shadow`. Thread-safe.
///
/// # Safety
/// `r` NULL or live; `path` readable for `path_len` bytes; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_load_shadow_dir(
    r: *const CraResolver,
    path: *const u8,
    path_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            path,
            path_len,
            "the path",
            out,
            err,
            api::load_shadow_dir,
        )
    }
}

/// Unloads the shadow of an atlas (by atlas id); `*out` gets `{"atlas_id", "unloaded": true}`.
/// Errors: `CRA_STATUS_ATLAS_NOT_FOUND`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` NULL or live; `atlas_id` readable for `atlas_id_len` bytes; `out` writable; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_unload_shadow(
    r: *const CraResolver,
    atlas_id: *const u8,
    atlas_id_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe {
        json_op(
            r,
            atlas_id,
            atlas_id_len,
            "the atlas id",
            out,
            err,
            api::unload_shadow,
        )
    }
}

/// Explains the verdict on one action for a resolve request (JSON): every policy of the
/// action's atlas in ladder order, whether it matched, each condition with what it saw, which
/// policy decided and why the others did not. `*out` gets the explanation JSON. Records and
/// consumes nothing; not for the hot path. Errors: `CRA_STATUS_INVALID_REQUEST` (pointer
/// `/action_id` when no loaded atlas declares it), `CRA_STATUS_ATLAS_NOT_FOUND`, ABI statuses.
/// Thread-safe.
///
/// # Safety
/// `r` NULL or live; both input pairs readable; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_explain(
    r: *const CraResolver,
    request: *const u8,
    request_len: usize,
    action_id: *const u8,
    action_id_len: usize,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: caller guarantees `out` is NULL or writable.
    unsafe { write_buffer(out, CraBuffer::empty()) };
    // SAFETY: caller guarantees on `r` and `err`.
    unsafe {
        guard::run_on(r, err, |h| {
            if out.is_null() {
                return Err(CraError::null("out"));
            }
            // SAFETY: caller guarantees both pairs are readable during the call.
            let q = input::text(request, request_len, "the request")?;
            // SAFETY: as above.
            let a = input::text(action_id, action_id_len, "the action id")?;
            let bytes = api::explain(h.resolver(), q.as_bytes(), a.as_bytes())?;
            // SAFETY: `out` is non-NULL and writable.
            write_buffer(out, CraBuffer::from_vec(bytes));
            Ok(())
        })
    }
}

/// Waits until every trace event recorded before the call is in the sink (and synced per the
/// fsync policy). Errors: `CRA_STATUS_TIMEOUT` after `timeout_ms`, `CRA_STATUS_IO_ERROR`, ABI
/// statuses. Thread-safe (blocks only the calling thread).
///
/// # Safety
/// `r` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_flush(
    r: *const CraResolver,
    timeout_ms: u64,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { guard::run_on(r, err, |h| Ok(api::flush(h.resolver(), timeout_ms)?)) }
}

/// Takes the JSONL bytes of the memory sink's events not yet drained (flushing first); empty
/// for a file sink. `*out` is owned by the caller. Thread-safe (each event is drained once).
///
/// # Safety
/// `r` live; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_drain_trace(
    r: *const CraResolver,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { output_op(r, out, err, api::drain_trace) }
}

/// Counters and sizes as JSON (`{"trace", "atlases", "sessions", "resolves", ...}`) into `*out`.
/// Thread-safe.
///
/// # Safety
/// `r` live; `out` writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_stats(
    r: *const CraResolver,
    out: *mut CraBuffer,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { output_op(r, out, err, api::stats) }
}

/// Moves a deterministic resolver's clock forward by `micros` microseconds (tests, conformance).
/// Errors: `CRA_STATUS_INVALID_REQUEST` when the resolver is not in deterministic mode or
/// `micros` is negative, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_advance_clock(
    r: *const CraResolver,
    micros: i64,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { guard::run_on(r, err, |h| Ok(api::advance_clock(h.resolver(), micros)?)) }
}

/// Closes the resolver's trace collector, flushing it first; later events are counted as dropped.
/// The handle stays valid (and must still be freed with `cra_resolver_free`). Errors:
/// `CRA_STATUS_IO_ERROR`, `CRA_STATUS_TIMEOUT`, ABI statuses. Thread-safe.
///
/// # Safety
/// `r` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cra_resolver_close(
    r: *const CraResolver,
    err: *mut *mut CraError,
) -> CraStatus {
    // SAFETY: forwarded caller guarantees.
    unsafe { guard::run_on(r, err, |h| Ok(api::close(h.resolver())?)) }
}
