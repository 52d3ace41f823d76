//! WebAssembly build of CRA (wasm-bindgen) for browsers, Node and Cloudflare Workers.
//!
//! The same raw shape as the Node addon (`NativeResolver` with JSON-text methods, `verifyTrace`,
//! `replay`, `versions`), so one JavaScript layer (`bindings/node/lib/api.mjs`) serves both.
//! Errors are thrown as a JS `Error` whose message is the error envelope JSON, with echoes of
//! input values capped (`bindings/common/host.rs`).
//!
//! wasm32 differences: no threads, so the trace collector's queue is small (1,024 slots by
//! default) and processed a little after every call that records events (never all at once);
//! the memory sink holds at most 16 MiB by default. The clock is `Date.now()` (unless
//! deterministic), ids are seeded from `crypto.getRandomValues`, and there is no file system
//! (`loadAtlasDir` fails with `IO_ERROR`; `loadShadowDir` and `verifyTraceFile` are not
//! exported, and the JS layer throws `IO_ERROR` for them). A Rust panic aborts as a WebAssembly
//! trap; the JS layer turns it into `CraInternalError`, refuses further calls on that instance
//! and can instantiate the module again (`recover()`).

#![deny(missing_docs)]

#[path = "../../common/host.rs"]
#[allow(dead_code)]
mod host;

use cra_core::trace::ChunkReceipt;
use cra_core::unstable::Clock;
use cra_core::unstable::TraceSink;
use cra_core::{api, CraError, ErrorCode, Resolver};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// What a WASM host gets when its configuration does not say (docs/wasm.md): 1,024 queue
/// slots and batches of 64 events (about 100 KB per resolver instead of 6 MB), and a memory
/// sink of at most 16 MiB, so an instance nobody drains stays small. (`block_timeout_ms` does
/// not apply: without a thread nothing ever waits.)
const DEFAULTS: host::HostDefaults = host::HostDefaults {
    capacity: 1024,
    block_timeout_ms: 100,
    memory_limit_bytes: 16 << 20,
    batch_size: Some(64),
};

/// Queued events that make a call process the queue before it returns: small steps, so no call
/// pays for thousands of events at once.
const PROCESS_AT: usize = 64;

fn js_error(e: &CraError) -> JsValue {
    js_sys::Error::new(&host::envelope(e)).into()
}

fn text(r: cra_core::Result<Vec<u8>>) -> Result<String, JsValue> {
    let bytes = r.map_err(|e| js_error(&e))?;
    String::from_utf8(bytes).map_err(|_| {
        js_error(&CraError::new(
            ErrorCode::Internal,
            "the answer is not UTF-8",
        ))
    })
}

/// Microseconds since the epoch from the host's `Date.now()`.
fn host_now_us() -> i64 {
    (js_sys::Date::now() * 1000.0) as i64
}

/// Bytes of this instance's linear memory.
fn linear_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// One CRA resolver. Methods take and return JSON text; see the package's `Resolver` class.
#[wasm_bindgen(js_name = NativeResolver)]
pub struct WasmResolver {
    inner: Resolver,
    /// The chunk the last `drainChunk` handed out, removed by `drainCommit`.
    receipt: Cell<Option<ChunkReceipt>>,
}

impl WasmResolver {
    /// Runs a call that records events, then processes the queue when enough waits and the
    /// sink has room. (With a full sink, a full queue drops on its own, counted, when the next
    /// event arrives; processing it on every call would also walk every session with a pending
    /// gap each time.)
    fn recording(&self, r: cra_core::Result<Vec<u8>>) -> Result<String, JsValue> {
        if let Some(c) = self.inner.collector() {
            let full = c.memory_sink().is_some_and(|m| m.room() == Some(0));
            if c.queued() >= PROCESS_AT && !full {
                // Best effort: a full sink is counted in stats(), not this call's error.
                let _ = c.flush(Duration::ZERO);
            }
        }
        text(r)
    }
}

impl Drop for WasmResolver {
    fn drop(&mut self) {
        host::release(&self.inner);
    }
}

#[wasm_bindgen(js_class = NativeResolver)]
impl WasmResolver {
    /// Creates a resolver from configuration JSON (`""` or `"{}"` for defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str) -> Result<WasmResolver, JsValue> {
        let p = host::prepare_config(config.as_bytes(), &DEFAULTS).map_err(|e| js_error(&e))?;
        let mut inner = api::create(&p.config).map_err(|e| js_error(&e))?;
        host::apply(&inner, &p);
        if inner.config().deterministic.is_none() {
            inner = inner.with_clock(Clock::Custom(Arc::new(host_now_us)));
        }
        Ok(WasmResolver {
            inner,
            receipt: Cell::new(None),
        })
    }

    /// Loads an atlas from JSON text → `AtlasInfo` JSON.
    #[wasm_bindgen(js_name = loadAtlas)]
    pub fn load_atlas(&self, atlas: &str) -> Result<String, JsValue> {
        text(api::load_atlas(&self.inner, atlas.as_bytes()))
    }

    /// Loads an atlas from a directory: no file system on wasm32, so always `IO_ERROR`.
    #[wasm_bindgen(js_name = loadAtlasDir)]
    pub fn load_atlas_dir(&self, path: &str) -> Result<String, JsValue> {
        text(api::load_atlas_dir(&self.inner, path.as_bytes()))
    }

    /// Loads an atlas from a directory given as JSON text: an object of its files' text keyed
    /// by path (`atlas.json` and the context files; see `readAtlasDir` in bundle-atlas).
    #[wasm_bindgen(js_name = loadAtlasFiles)]
    pub fn load_atlas_files(&self, files: &str) -> Result<String, JsValue> {
        text(api::load_atlas_files(&self.inner, files.as_bytes()))
    }

    /// Unloads an atlas by id.
    #[wasm_bindgen(js_name = unloadAtlas)]
    pub fn unload_atlas(&self, atlas_id: &str) -> Result<String, JsValue> {
        text(api::unload_atlas(&self.inner, atlas_id.as_bytes()))
    }

    /// Loads an atlas from JSON text as the shadow of the live atlas with its `atlas_id`
    /// → `AtlasInfo` JSON (`ATLAS_NOT_FOUND` at `/atlas_id` without a live one).
    #[wasm_bindgen(js_name = loadShadow)]
    pub fn load_shadow(&self, atlas: &str) -> Result<String, JsValue> {
        text(api::load_shadow(&self.inner, atlas.as_bytes()))
    }

    /// Unloads the shadow of an atlas → `{"atlas_id", "unloaded": true}`.
    #[wasm_bindgen(js_name = unloadShadow)]
    pub fn unload_shadow(&self, atlas_id: &str) -> Result<String, JsValue> {
        text(api::unload_shadow(&self.inner, atlas_id.as_bytes()))
    }

    /// Explains the verdict on `action_id` for a resolve request → explanation JSON. Records
    /// and consumes nothing (so no queue processing either).
    pub fn explain(&self, request: &str, action_id: &str) -> Result<String, JsValue> {
        text(api::explain(
            &self.inner,
            request.as_bytes(),
            action_id.as_bytes(),
        ))
    }

    /// Resolves a CARP request → resolution JSON.
    pub fn resolve(&self, request: &str) -> Result<String, JsValue> {
        self.recording(api::resolve(&self.inner, request.as_bytes()))
    }

    /// Authorizes a tool call → execute answer JSON.
    pub fn execute(&self, request: &str) -> Result<String, JsValue> {
        self.recording(api::execute(&self.inner, request.as_bytes()))
    }

    /// Reports a tool's outcome.
    pub fn report(&self, report: &str) -> Result<String, JsValue> {
        self.recording(api::report(&self.inner, report.as_bytes()))
    }

    /// Approves a pending approval.
    pub fn approve(&self, decision: &str) -> Result<String, JsValue> {
        self.recording(api::approve(&self.inner, decision.as_bytes()))
    }

    /// Rejects a pending approval.
    pub fn reject(&self, decision: &str) -> Result<String, JsValue> {
        self.recording(api::reject(&self.inner, decision.as_bytes()))
    }

    /// The approvals a filter selects (`""` = every pending one) → JSON array.
    #[wasm_bindgen(js_name = listApprovals)]
    pub fn list_approvals(&self, filter: &str) -> Result<String, JsValue> {
        text(api::approvals(&self.inner, filter.as_bytes()))
    }

    /// Ends a session (`{"session_id", "reason"?}`).
    #[wasm_bindgen(js_name = endSession)]
    pub fn end_session(&self, body: &str) -> Result<String, JsValue> {
        self.recording(api::end_session(&self.inner, body.as_bytes()))
    }

    /// The fast path: the verdict name.
    pub fn check(&self, session_id: &str, action_id: &str) -> Result<String, JsValue> {
        api::check(&self.inner, session_id.as_bytes(), action_id.as_bytes())
            .map(|v| v.as_str().to_string())
            .map_err(|e| js_error(&e))
    }

    /// Processes every recorded event into the sink (synchronous: there is no thread).
    pub fn flush(&self, timeout_ms: u32) -> Result<(), JsValue> {
        api::flush(&self.inner, u64::from(timeout_ms)).map_err(|e| js_error(&e))
    }

    /// Takes the JSONL of the memory sink's events not yet drained (all of them, unbounded:
    /// the package drains in chunks with `drainChunk`).
    #[wasm_bindgen(js_name = drainTrace)]
    pub fn drain_trace(&self) -> Result<String, JsValue> {
        text(api::drain_trace(&self.inner))
    }

    /// A chunk of the memory sink's JSONL (whole lines, at most `max_bytes`, one line at least;
    /// at most `max_events`), processing the queue first when the sink holds less. The events
    /// stay in the sink until `drainCommit`: if the string cannot be made, nothing is lost.
    #[wasm_bindgen(js_name = drainChunk)]
    pub fn drain_chunk(&self, max_bytes: f64, max_events: f64) -> Result<String, JsValue> {
        let chunk = api::drain_trace_chunk(&self.inner, max_bytes as usize, max_events as u64, 0)
            .map_err(|e| js_error(&e))?;
        let (bytes, receipt) = chunk.into_parts();
        let s = text(Ok(bytes))?;
        self.receipt.set(Some(receipt));
        Ok(s)
    }

    /// Removes the chunk the last `drainChunk` returned (call it once the string is held).
    #[wasm_bindgen(js_name = drainCommit)]
    pub fn drain_commit(&self) -> Result<(), JsValue> {
        match self.receipt.take() {
            Some(receipt) => {
                api::drain_trace_commit(&self.inner, &receipt).map_err(|e| js_error(&e))
            }
            None => Ok(()),
        }
    }

    /// Counters and sizes → JSON (the core's, plus `memory`).
    pub fn stats(&self) -> Result<String, JsValue> {
        let bytes = api::stats(&self.inner).map_err(|e| js_error(&e))?;
        let mut v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| js_error(&CraError::new(ErrorCode::Internal, e.to_string())))?;
        v["memory"] = host::memory_stats(&self.inner, Some(linear_memory_bytes()));
        Ok(v.to_string())
    }

    /// Advances a deterministic resolver's clock by `micros` microseconds.
    #[wasm_bindgen(js_name = advanceClock)]
    pub fn advance_clock(&self, micros: f64) -> Result<(), JsValue> {
        api::advance_clock(&self.inner, micros as i64).map_err(|e| js_error(&e))
    }

    /// Flushes and stops the trace collector.
    pub fn close(&self) -> Result<(), JsValue> {
        api::close(&self.inner).map_err(|e| js_error(&e))
    }
}

/// Verifies JSONL trace text with options JSON (`""` = defaults) → report JSON.
#[wasm_bindgen(js_name = verifyTrace)]
pub fn verify_trace(trace: &str, options: &str) -> Result<String, JsValue> {
    text(api::verify_trace_with(trace.as_bytes(), options.as_bytes()))
}

/// Verifies JSONL trace bytes, as they are (no text decoding) → report JSON.
#[wasm_bindgen(js_name = verifyTraceBytes)]
pub fn verify_trace_bytes(trace: &[u8], options: &str) -> Result<String, JsValue> {
    text(api::verify_trace_with(trace, options.as_bytes()))
}

/// Replays a trace against atlases (a JSON array of atlas documents) → report JSON.
#[wasm_bindgen]
pub fn replay(trace: &str, atlases: &str) -> Result<String, JsValue> {
    text(api::replay(trace.as_bytes(), atlases.as_bytes()))
}

/// Replays trace bytes, as they are, against atlases → report JSON.
#[wasm_bindgen(js_name = replayBytes)]
pub fn replay_bytes(trace: &[u8], atlases: &str) -> Result<String, JsValue> {
    text(api::replay(trace, atlases.as_bytes()))
}

/// Versions → JSON `{"cra", "binding", "json_schema", "schema_validator"}`.
#[wasm_bindgen]
pub fn versions() -> String {
    format!(
        r#"{{"cra":"{}","binding":"wasm","json_schema":true,"schema_validator":"cra"}}"#,
        api::VERSION
    )
}

/// Test-only: panics (a WebAssembly trap), to prove the JS layer survives it.
#[cfg(feature = "testing")]
#[wasm_bindgen(js_name = testingPanic)]
pub fn testing_panic() {
    panic!("injected test panic");
}
