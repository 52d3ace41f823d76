//! Node.js native addon for CRA (napi-rs v3).
//!
//! A thin layer over [`cra_core::api`]: one method per operation, JSON text in, JSON text out.
//! The JavaScript package (`lib/api.js`) turns objects into text, parses each answer once and
//! maps errors to `Error` subclasses. Errors leave this layer as a JS `Error` whose message is the
//! error envelope JSON (`{"code", "message", "pointer"?, "details"?}`).
//!
//! No panic reaches Node as a crash: every export runs under [`guard`], which turns a panic into
//! an `INTERNAL` error and poisons that resolver only (later calls on it fail with `INTERNAL`).

#![deny(missing_docs)]

use cra_core::{api, CraError, ErrorCode, Resolver};
use napi::bindgen_prelude::{AsyncTask, Env, Task};
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The error envelope as a JS error (the package parses the message back).
fn js_error(e: &CraError) -> napi::Error {
    napi::Error::from_reason(e.to_json().to_string())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f` under `catch_unwind`. A panic poisons `poison` (when given) and becomes `INTERNAL`.
fn guard<T>(
    poison: Option<&AtomicBool>,
    f: impl FnOnce() -> Result<T, CraError>,
) -> napi::Result<T> {
    if poison.is_some_and(|p| p.load(Ordering::Acquire)) {
        return Err(js_error(&CraError::new(
            ErrorCode::Internal,
            "this resolver is unusable after an internal panic; create a new one",
        )));
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(js_error(&e)),
        Err(payload) => {
            if let Some(p) = poison {
                p.store(true, Ordering::Release);
            }
            Err(js_error(&CraError::new(
                ErrorCode::Internal,
                format!("internal panic: {}", panic_message(&*payload)),
            )))
        }
    }
}

fn text(bytes: Vec<u8>) -> Result<String, CraError> {
    String::from_utf8(bytes)
        .map_err(|_| CraError::new(ErrorCode::Internal, "the answer is not UTF-8"))
}

/// One CRA resolver. Methods take and return JSON text; see the package's `Resolver` class.
#[napi]
pub struct NativeResolver {
    inner: Arc<Resolver>,
    poisoned: Arc<AtomicBool>,
}

impl NativeResolver {
    fn call(&self, f: impl FnOnce(&Resolver) -> cra_core::Result<Vec<u8>>) -> napi::Result<String> {
        guard(Some(&self.poisoned), || text(f(&self.inner)?))
    }
}

#[napi]
impl NativeResolver {
    /// Creates a resolver from configuration JSON (`""` or `"{}"` for defaults).
    #[napi(constructor)]
    pub fn new(config: String) -> napi::Result<Self> {
        let inner = guard(None, || api::create(config.as_bytes()))?;
        Ok(NativeResolver {
            inner: Arc::new(inner),
            poisoned: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Loads an atlas from JSON text → `AtlasInfo` JSON.
    #[napi]
    pub fn load_atlas(&self, atlas: String) -> napi::Result<String> {
        self.call(|r| api::load_atlas(r, atlas.as_bytes()))
    }

    /// Loads an atlas from a directory (or its `atlas.json`) → `AtlasInfo` JSON.
    #[napi]
    pub fn load_atlas_dir(&self, path: String) -> napi::Result<String> {
        self.call(|r| api::load_atlas_dir(r, path.as_bytes()))
    }

    /// Unloads an atlas by id.
    #[napi]
    pub fn unload_atlas(&self, atlas_id: String) -> napi::Result<String> {
        self.call(|r| api::unload_atlas(r, atlas_id.as_bytes()))
    }

    /// Resolves a CARP request → resolution JSON.
    #[napi]
    pub fn resolve(&self, request: String) -> napi::Result<String> {
        self.call(|r| api::resolve(r, request.as_bytes()))
    }

    /// Authorizes a tool call → execute answer JSON.
    #[napi]
    pub fn execute(&self, request: String) -> napi::Result<String> {
        self.call(|r| api::execute(r, request.as_bytes()))
    }

    /// Reports a tool's outcome.
    #[napi]
    pub fn report(&self, report: String) -> napi::Result<String> {
        self.call(|r| api::report(r, report.as_bytes()))
    }

    /// Approves a pending approval.
    #[napi]
    pub fn approve(&self, decision: String) -> napi::Result<String> {
        self.call(|r| api::approve(r, decision.as_bytes()))
    }

    /// Rejects a pending approval.
    #[napi]
    pub fn reject(&self, decision: String) -> napi::Result<String> {
        self.call(|r| api::reject(r, decision.as_bytes()))
    }

    /// Ends a session (`{"session_id", "reason"?}`).
    #[napi]
    pub fn end_session(&self, body: String) -> napi::Result<String> {
        self.call(|r| api::end_session(r, body.as_bytes()))
    }

    /// The fast path: the verdict name (`allowed`, `denied`, `pending_approval`,
    /// `rate_limited`, `no_resolution`).
    #[napi]
    pub fn check(&self, session_id: String, action_id: String) -> napi::Result<&'static str> {
        guard(Some(&self.poisoned), || {
            api::check(&self.inner, session_id.as_bytes(), action_id.as_bytes()).map(|v| v.as_str())
        })
    }

    /// Waits (on a libuv worker thread) until every event recorded so far is in the sink.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self, timeout_ms: u32) -> AsyncTask<Flush> {
        AsyncTask::new(Flush {
            inner: self.inner.clone(),
            poisoned: self.poisoned.clone(),
            timeout_ms,
        })
    }

    /// Flushes on the calling thread (blocking).
    #[napi]
    pub fn flush_sync(&self, timeout_ms: u32) -> napi::Result<()> {
        guard(Some(&self.poisoned), || {
            api::flush(&self.inner, u64::from(timeout_ms))
        })
    }

    /// Takes the JSONL of the memory sink's events not yet drained.
    #[napi]
    pub fn drain_trace(&self) -> napi::Result<String> {
        self.call(api::drain_trace)
    }

    /// Counters and sizes → JSON.
    #[napi]
    pub fn stats(&self) -> napi::Result<String> {
        self.call(api::stats)
    }

    /// Advances a deterministic resolver's clock by `micros` microseconds.
    #[napi]
    pub fn advance_clock(&self, micros: f64) -> napi::Result<()> {
        guard(Some(&self.poisoned), || {
            api::advance_clock(&self.inner, micros as i64)
        })
    }

    /// Flushes and stops the trace collector.
    #[napi]
    pub fn close(&self) -> napi::Result<()> {
        guard(Some(&self.poisoned), || api::close(&self.inner))
    }
}

/// The work behind [`NativeResolver::flush`].
pub struct Flush {
    inner: Arc<Resolver>,
    poisoned: Arc<AtomicBool>,
    timeout_ms: u32,
}

impl Task for Flush {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        guard(Some(&self.poisoned), || {
            api::flush(&self.inner, u64::from(self.timeout_ms))
        })
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// Verifies JSONL trace text → report JSON.
#[napi]
pub fn verify_trace(trace: String) -> napi::Result<String> {
    guard(None, || text(api::verify_trace(trace.as_bytes())?))
}

/// Verifies a JSONL trace file (streaming) → report JSON.
#[napi]
pub fn verify_trace_file(path: String) -> napi::Result<String> {
    guard(None, || text(api::verify_trace_file(path.as_bytes())?))
}

/// Replays a trace against atlases (a JSON array of atlas documents) → report JSON.
#[napi]
pub fn replay(trace: String, atlases: String) -> napi::Result<String> {
    guard(None, || {
        text(api::replay(trace.as_bytes(), atlases.as_bytes())?)
    })
}

/// Versions → JSON `{"cra", "binding"}`.
#[napi]
pub fn versions() -> String {
    format!(
        r#"{{"cra":"{}","binding":"native","addon":"{}","json_schema":true,"schema_validator":"full"}}"#,
        api::VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

/// Test-only: panics inside the guard of `resolver` (proves panics become errors and poison only
/// that resolver).
#[cfg(feature = "testing")]
#[napi]
pub fn testing_panic(resolver: &NativeResolver) -> napi::Result<()> {
    guard(Some(&resolver.poisoned), || -> Result<(), CraError> {
        panic!("injected test panic")
    })
}
