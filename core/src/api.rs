//! The JSON surface every binding shares (protocol.md §5): one function per operation, JSON
//! bytes in, JSON bytes out, errors as [`CraError`]. The C ABI, Node, WASM and the conformance
//! runners all call these, so the same input gives the same bytes everywhere.

use crate::engine::replay;
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::{strict, ApprovalDecision, CarpRequest, ExecutionReport};
use crate::{FastVerdict, Resolver, ResolverConfig};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

fn to_bytes<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| {
        CraError::new(
            ErrorCode::Internal,
            format!("cannot serialize the answer: {e}"),
        )
    })
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        CraError::request(
            "",
            format!("{what} is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}

/// Creates a resolver from configuration JSON (empty means defaults).
pub fn create(config: &[u8]) -> Result<Resolver> {
    Resolver::new(ResolverConfig::from_json(config)?)
}

/// Loads an atlas from JSON text → `AtlasInfo` JSON.
pub fn load_atlas(r: &Resolver, atlas: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&r.load_atlas_json(atlas)?)
}

/// Loads an atlas from a directory (UTF-8 path) → `AtlasInfo` JSON.
pub fn load_atlas_dir(r: &Resolver, path: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&r.load_atlas_dir(utf8(path, "the atlas path")?)?)
}

/// Loads an atlas from a directory given as a JSON object of its files' text → `AtlasInfo`.
pub fn load_atlas_files(r: &Resolver, files: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&r.load_atlas_files(files)?)
}

/// Loads an atlas (JSON text) as the shadow of the live atlas with its `atlas_id` → `AtlasInfo`.
pub fn load_shadow(r: &Resolver, atlas: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&r.load_shadow_json(atlas)?)
}

/// Loads a shadow atlas from a directory (UTF-8 path) → `AtlasInfo`.
pub fn load_shadow_dir(r: &Resolver, path: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&r.load_shadow_dir(utf8(path, "the atlas path")?)?)
}

/// Unloads the shadow of an atlas → `{"atlas_id", "unloaded": true}`.
pub fn unload_shadow(r: &Resolver, atlas_id: &[u8]) -> Result<Vec<u8>> {
    let id = utf8(atlas_id, "the atlas id")?;
    r.unload_shadow(id)?;
    to_bytes(&json!({"atlas_id": id, "unloaded": true}))
}

/// Unloads an atlas by id → `{"atlas_id": ..., "unloaded": true}`.
pub fn unload_atlas(r: &Resolver, atlas_id: &[u8]) -> Result<Vec<u8>> {
    let id = utf8(atlas_id, "the atlas id")?;
    r.unload_atlas(id)?;
    to_bytes(&json!({"atlas_id": id, "unloaded": true}))
}

/// Resolves a CARP request → resolution JSON.
pub fn resolve(r: &Resolver, request: &[u8]) -> Result<Vec<u8>> {
    let req = CarpRequest::from_json(request)?;
    let res = r.resolve(req)?;
    written(res.to_json_bytes(), &*res)
}

/// `bytes` from an answer's direct writer; debug builds check them against its `Serialize`
/// impl, which stays the reference.
fn written<T: serde::Serialize + ?Sized>(bytes: Vec<u8>, answer: &T) -> Result<Vec<u8>> {
    debug_assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&to_bytes(answer)?),
        "the direct writer and the Serialize impl disagree"
    );
    Ok(bytes)
}

/// Authorizes a tool call (an `execute` request; `operation` may be omitted) → answer JSON.
pub fn execute(r: &Resolver, request: &[u8]) -> Result<Vec<u8>> {
    let answer = r.execute(CarpRequest::execute_from_json(request)?)?;
    written(answer.to_json_bytes(), &*answer)
}

/// The commonest `execute` without a JSON request around it: the call's agent, session,
/// resolution and action ids (UTF-8) and its parameters as JSON text (an object; empty text
/// means `{}`) → the same answer JSON as [`execute`] for the equivalent request. Errors are
/// those of [`execute`]; pointers name the member of that request (`/requester/session_id`,
/// `/execution/parameters/...`).
pub fn authorize(
    r: &Resolver,
    agent_id: &[u8],
    session_id: &[u8],
    resolution_id: &[u8],
    action_id: &[u8],
    parameters: &[u8],
) -> Result<Vec<u8>> {
    let params = if parameters.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        crate::protocol::carp::check_request_size(parameters)?;
        let at = |mut e: CraError| {
            let inner = e.pointer.take().unwrap_or_default();
            e.pointer = Some(format!("/execution/parameters{inner}"));
            e
        };
        strict::guard(parameters).map_err(at)?;
        serde_json::from_slice(parameters).map_err(|e| {
            CraError::request("/execution/parameters", format!("malformed JSON: {e}"))
        })?
    };
    let req = CarpRequest::execute(
        utf8(agent_id, "the agent id")?,
        utf8(session_id, "the session id")?,
        utf8(resolution_id, "the resolution id")?,
        utf8(action_id, "the action id")?,
        params,
    );
    let answer = r.execute(req)?;
    written(answer.to_json_bytes(), &*answer)
}

/// Reports a tool's outcome → `{"execution_id", "status", ...}`.
pub fn report(r: &Resolver, report: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&r.report(&ExecutionReport::from_json(report)?)?)
}

/// Approves an approval (`{"approval_id", "approver"?, "reason"?}`) → approval JSON.
pub fn approve(r: &Resolver, decision: &[u8]) -> Result<Vec<u8>> {
    let d: ApprovalDecision = strict::from_slice_objects(decision, &[""])?;
    to_bytes(&r.approve(&d)?)
}

/// Rejects an approval → approval JSON.
pub fn reject(r: &Resolver, decision: &[u8]) -> Result<Vec<u8>> {
    let d: ApprovalDecision = strict::from_slice_objects(decision, &[""])?;
    to_bytes(&r.reject(&d)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndSession {
    session_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Ends a session (`{"session_id", "reason"?}`) → `{"session_id", "trace_id", "reason", "ended_at", "duration_us"}`.
pub fn end_session(r: &Resolver, body: &[u8]) -> Result<Vec<u8>> {
    let e: EndSession = strict::from_slice_objects(body, &[""])?;
    to_bytes(&r.end_session(&e.session_id, e.reason.as_deref())?)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    session_id: String,
}

/// The session's most recent resolution (`{"session_id"}`) → `{"session_id", "agent_id",
/// "resolution_id", "expires_at", "expired"}`; see [`Resolver::latest_resolution`].
pub fn latest_resolution(r: &Resolver, body: &[u8]) -> Result<Vec<u8>> {
    let b: SessionBody = strict::from_slice_objects(body, &[""])?;
    to_bytes(&r.latest_resolution(&b.session_id)?)
}

/// The fast path: may `session` run `action` now?
pub fn check(r: &Resolver, session_id: &[u8], action_id: &[u8]) -> Result<FastVerdict> {
    Ok(r.check(
        utf8(session_id, "the session id")?,
        utf8(action_id, "the action id")?,
    ))
}

/// Waits until every event recorded so far is in the sink.
pub fn flush(r: &Resolver, timeout_ms: u64) -> Result<()> {
    r.flush(Duration::from_millis(timeout_ms))
}

/// Takes the JSONL bytes of the memory sink's events not yet drained.
pub fn drain_trace(r: &Resolver) -> Result<Vec<u8>> {
    r.drain_trace()
}

/// A bounded chunk of the memory sink's JSONL (whole lines, at most `max_bytes` but one line at
/// least, at most `max_events`), flushing first for at most `flush_timeout_ms` when the sink
/// holds less than a chunk. The events stay in the sink until [`drain_trace_commit`]: a host
/// that cannot take the chunk loses nothing. Empty without a memory sink.
pub fn drain_trace_chunk(
    r: &Resolver,
    max_bytes: usize,
    max_events: u64,
    flush_timeout_ms: u64,
) -> Result<crate::trace::sink::MemoryChunk> {
    Ok(r.drain_trace_chunk(
        max_bytes,
        max_events,
        Duration::from_millis(flush_timeout_ms),
    )?
    .unwrap_or_default())
}

/// Removes a chunk returned by [`drain_trace_chunk`] (named by its receipt) from the memory sink.
pub fn drain_trace_commit(r: &Resolver, receipt: &crate::trace::sink::ChunkReceipt) -> Result<()> {
    r.commit_trace_chunk(receipt)
}

/// Counters and sizes → JSON.
pub fn stats(r: &Resolver) -> Result<Vec<u8>> {
    to_bytes(&r.stats())
}

/// Verifies JSONL trace bytes → report JSON (`{"ok", "events", "sessions", "errors": [...]}`).
/// A broken chain is a report with `ok: false`, not an error.
pub fn verify_trace(trace: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&crate::trace::verify_jsonl(trace))
}

/// Verifies a trace file (streaming) → report JSON.
pub fn verify_trace_file(path: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&crate::trace::verify_file(utf8(path, "the trace path")?)?)
}

/// Verify options from JSON (`{"require_session_end"?, "heads"?, "summaries"?}`; empty = defaults).
fn verify_options(options: &[u8]) -> Result<crate::trace::VerifyOptions> {
    if options.iter().all(u8::is_ascii_whitespace) {
        return Ok(Default::default());
    }
    let o: crate::trace::VerifyOptions = strict::from_slice_objects(options, &[""])?;
    if o.heads.len() > 1_000_000 {
        return Err(CraError::at(
            ErrorCode::LimitExceeded,
            "/heads",
            format!("{} heads; the limit is 1000000", o.heads.len()),
        ));
    }
    Ok(o)
}

/// Verifies JSONL trace bytes (any bytes: a line that is not UTF-8 is a `malformed_event`)
/// with options → report JSON.
pub fn verify_trace_with(trace: &[u8], options: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&crate::trace::verify_jsonl_with(
        trace,
        verify_options(options)?,
    ))
}

/// Reads a JSONL batch for a store without verifying it → a JSON array with, per line, its
/// place (ids, sequence, hashes, time in µs) and the ingest's index columns, or `null` for a
/// line not read that way (`crate::trace::scan`). Any bytes.
pub fn scan_trace(trace: &[u8]) -> Result<Vec<u8>> {
    Ok(crate::trace::scan::scan_jsonl(trace))
}

/// Verifies a trace file (streaming) with options → report JSON.
pub fn verify_trace_file_with(path: &[u8], options: &[u8]) -> Result<Vec<u8>> {
    to_bytes(&crate::trace::verify_file_with(
        utf8(path, "the trace path")?,
        verify_options(options)?,
    )?)
}

/// Explains the verdict on `action_id` for a resolve request → explanation JSON
/// (docs/protocol.md "Explain"). Records and consumes nothing.
pub fn explain(r: &Resolver, request: &[u8], action_id: &[u8]) -> Result<Vec<u8>> {
    let req = CarpRequest::from_json(request)?;
    to_bytes(&r.explain(&req, utf8(action_id, "the action id")?)?)
}

/// The approvals a filter selects (`{"session_id"?, "status"?: [...]}`; empty = every pending
/// one) → JSON array.
pub fn approvals(r: &Resolver, filter: &[u8]) -> Result<Vec<u8>> {
    let f: crate::engine::ApprovalFilter = if filter.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        strict::from_slice_objects(filter, &[""])?
    };
    to_bytes(&r.approvals(&f))
}

/// Replays a trace against atlases given as a JSON array whose entries are atlas documents or
/// paths of atlas directories (read by the same safe loader as `load_atlas_dir`) → report JSON.
pub fn replay(trace: &[u8], atlases: &[u8]) -> Result<Vec<u8>> {
    let docs: Vec<Value> = serde_json::from_slice(atlases).map_err(|e| {
        CraError::request(
            "",
            format!("atlases must be a JSON array of atlas documents or directory paths: {e}"),
        )
    })?;
    let mut manifests = Vec::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        if let Value::String(path) = d {
            let m =
                crate::atlas::manifest_from_dir(std::path::Path::new(path)).map_err(|mut e| {
                    e.pointer = Some(format!("/{i}{}", e.pointer.as_deref().unwrap_or("")));
                    e
                })?;
            manifests.push(m);
            continue;
        }
        let m = crate::atlas::validate::validate(d, None).map_err(|p| {
            let mut e = CraError::from_problems(
                ErrorCode::InvalidAtlas,
                &format!("invalid atlas at index {i}"),
                p,
            );
            e.pointer = Some(format!("/{i}{}", e.pointer.as_deref().unwrap_or("")));
            e
        })?;
        manifests.push(m);
    }
    to_bytes(&replay::replay(trace, manifests)?)
}

/// Advances a deterministic resolver's clock (`INVALID_REQUEST` otherwise).
pub fn advance_clock(r: &Resolver, micros: i64) -> Result<()> {
    if r.config().deterministic.is_none() {
        return Err(CraError::new(
            ErrorCode::InvalidRequest,
            "the clock can only be advanced in deterministic mode",
        ));
    }
    if micros < 0 {
        return Err(CraError::request(
            "",
            format!("cannot move the clock backwards ({micros} µs)"),
        ));
    }
    r.clock().advance(micros);
    Ok(())
}

/// Closes the resolver's trace collector (flushes first).
pub fn close(r: &Resolver) -> Result<()> {
    r.close()
}

/// Library version (the crate version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
