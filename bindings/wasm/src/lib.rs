//! WebAssembly build of CRA (wasm-bindgen) for browsers, Node and Cloudflare Workers.
//!
//! The same raw shape as the Node addon (`NativeResolver` with JSON-text methods, `verifyTrace`,
//! `replay`, `versions`), so one JavaScript layer (`bindings/node/lib/api.js`) serves both.
//! Errors are thrown as a JS `Error` whose message is the error envelope JSON.
//!
//! wasm32 differences: no threads (the trace collector processes events on the caller's thread
//! when the host flushes or drains), the clock is `Date.now()` (unless deterministic), ids are
//! seeded from `crypto.getRandomValues`, and there is no file system (`loadAtlasDir` fails with
//! `IO_ERROR`). A Rust panic aborts as a WebAssembly trap; the JS layer turns it into
//! `CraInternalError` and refuses further calls on that instance.

#![deny(missing_docs)]

use cra_core::clock::Clock;
use cra_core::{api, CraError, ErrorCode, Resolver};
use std::sync::Arc;
use wasm_bindgen::prelude::*;

fn js_error(e: &CraError) -> JsValue {
    js_sys::Error::new(&e.to_json().to_string()).into()
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

/// One CRA resolver. Methods take and return JSON text; see the package's `Resolver` class.
#[wasm_bindgen(js_name = NativeResolver)]
pub struct WasmResolver {
    inner: Resolver,
}

#[wasm_bindgen(js_class = NativeResolver)]
impl WasmResolver {
    /// Creates a resolver from configuration JSON (`""` or `"{}"` for defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str) -> Result<WasmResolver, JsValue> {
        let mut inner = api::create(config.as_bytes()).map_err(|e| js_error(&e))?;
        if inner.config().deterministic.is_none() {
            inner = inner.with_clock(Clock::Custom(Arc::new(host_now_us)));
        }
        Ok(WasmResolver { inner })
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

    /// Unloads an atlas by id.
    #[wasm_bindgen(js_name = unloadAtlas)]
    pub fn unload_atlas(&self, atlas_id: &str) -> Result<String, JsValue> {
        text(api::unload_atlas(&self.inner, atlas_id.as_bytes()))
    }

    /// Resolves a CARP request → resolution JSON.
    pub fn resolve(&self, request: &str) -> Result<String, JsValue> {
        text(api::resolve(&self.inner, request.as_bytes()))
    }

    /// Authorizes a tool call → execute answer JSON.
    pub fn execute(&self, request: &str) -> Result<String, JsValue> {
        text(api::execute(&self.inner, request.as_bytes()))
    }

    /// Reports a tool's outcome.
    pub fn report(&self, report: &str) -> Result<String, JsValue> {
        text(api::report(&self.inner, report.as_bytes()))
    }

    /// Approves a pending approval.
    pub fn approve(&self, decision: &str) -> Result<String, JsValue> {
        text(api::approve(&self.inner, decision.as_bytes()))
    }

    /// Rejects a pending approval.
    pub fn reject(&self, decision: &str) -> Result<String, JsValue> {
        text(api::reject(&self.inner, decision.as_bytes()))
    }

    /// Ends a session (`{"session_id", "reason"?}`).
    #[wasm_bindgen(js_name = endSession)]
    pub fn end_session(&self, body: &str) -> Result<String, JsValue> {
        text(api::end_session(&self.inner, body.as_bytes()))
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

    /// Takes the JSONL of the memory sink's events not yet drained.
    #[wasm_bindgen(js_name = drainTrace)]
    pub fn drain_trace(&self) -> Result<String, JsValue> {
        text(api::drain_trace(&self.inner))
    }

    /// Counters and sizes → JSON.
    pub fn stats(&self) -> Result<String, JsValue> {
        text(api::stats(&self.inner))
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

/// Verifies JSONL trace text → report JSON.
#[wasm_bindgen(js_name = verifyTrace)]
pub fn verify_trace(trace: &str) -> Result<String, JsValue> {
    text(api::verify_trace(trace.as_bytes()))
}

/// Replays a trace against atlases (a JSON array of atlas documents) → report JSON.
#[wasm_bindgen]
pub fn replay(trace: &str, atlases: &str) -> Result<String, JsValue> {
    text(api::replay(trace.as_bytes(), atlases.as_bytes()))
}

/// Versions → JSON `{"cra", "binding", "json_schema", "schema_validator"}`.
#[wasm_bindgen]
pub fn versions() -> String {
    format!(
        r#"{{"cra":"{}","binding":"wasm","json_schema":true,"schema_validator":"{}"}}"#,
        api::VERSION,
        if cfg!(feature = "json-schema") {
            "full"
        } else {
            "lite"
        }
    )
}

/// Test-only: panics (a WebAssembly trap), to prove the JS layer survives it.
#[cfg(feature = "testing")]
#[wasm_bindgen(js_name = testingPanic)]
pub fn testing_panic() {
    panic!("injected test panic");
}
