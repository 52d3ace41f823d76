//! Node.js native addon for CRA (napi-rs v3).
//!
//! A thin layer over [`cra_core::api`]: one method per operation, JSON text in, JSON text out.
//! The JavaScript package (`lib/api.mjs`) turns objects into text, parses each answer once and
//! maps errors to `Error` subclasses. Errors leave this layer as a JS `Error` whose message is the
//! error envelope JSON (`{"code", "message", "pointer"?, "details"?}`), with echoes of input
//! values capped (`bindings/common/host.rs`).
//!
//! No panic reaches Node as a crash: every export runs under [`guard`], which turns a panic into
//! an `INTERNAL` error and poisons that resolver only (later calls on it fail with `INTERNAL`).
//!
//! A resolver's thread and memory are released by `free()` at once (and by the garbage
//! collector's finalizer as a backstop, which V8 schedules knowing the resolver's size).

#![deny(missing_docs)]

#[path = "../../common/host.rs"]
#[allow(dead_code)]
mod host;

use cra_core::trace::ChunkReceipt;
use cra_core::{api, CraError, ErrorCode, Resolver};
use napi::bindgen_prelude::{AsyncTask, Env, ObjectFinalize, Task, Uint8Array};
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a JS host gets when its configuration does not say (docs/node.md): a queue of 8,192
/// slots (about 1 MB per resolver instead of 65,536 slots, 8 MB) and a block timeout of 100 ms,
/// so a trace nobody drains never holds the event loop longer than that; the memory sink holds
/// at most 256 MiB.
const DEFAULTS: host::HostDefaults = host::HostDefaults {
    capacity: 8192,
    block_timeout_ms: 100,
    memory_limit_bytes: 256 << 20,
    batch_size: None,
};

/// The error envelope as a JS error (the package parses the message back).
fn js_error(e: &CraError) -> napi::Error {
    napi::Error::from_reason(host::envelope(e))
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

fn freed() -> CraError {
    CraError::new(ErrorCode::Closed, "this resolver was freed")
}

/// One CRA resolver. Methods take and return JSON text; see the package's `Resolver` class.
#[napi(custom_finalize)]
pub struct NativeResolver {
    /// `None` once freed. (A cell rather than `&mut self` in `free`: napi-rs refuses a mutable
    /// borrow of the object while a `flush` promise is pending.)
    inner: RefCell<Option<Arc<Resolver>>>,
    poisoned: Arc<AtomicBool>,
    /// The chunk the last `drain_chunk` handed out, removed by `drain_commit`.
    receipt: Cell<Option<ChunkReceipt>>,
    /// Bytes reported to V8 as held by this object (`napi_adjust_external_memory`).
    external: Cell<i64>,
}

impl NativeResolver {
    fn r(&self) -> Result<Arc<Resolver>, CraError> {
        self.inner.borrow().clone().ok_or_else(freed)
    }

    fn call(&self, f: impl FnOnce(&Resolver) -> cra_core::Result<Vec<u8>>) -> napi::Result<String> {
        guard(Some(&self.poisoned), || text(f(&*self.r()?)?))
    }

    fn release(&self, env: &Env) {
        let taken = self.inner.borrow_mut().take();
        if let Some(r) = taken {
            host::release(&r);
        }
        let external = self.external.replace(0);
        if external != 0 {
            let _ = env.adjust_external_memory(-external);
        }
    }
}

impl ObjectFinalize for NativeResolver {
    fn finalize(self, env: Env) -> napi::Result<()> {
        self.release(&env);
        Ok(())
    }
}

#[napi]
impl NativeResolver {
    /// Creates a resolver from configuration JSON (`""` or `"{}"` for defaults).
    #[napi(constructor)]
    pub fn new(env: Env, config: String) -> napi::Result<Self> {
        let inner = guard(None, || {
            let p = host::prepare_config(config.as_bytes(), &DEFAULTS)?;
            let r = api::create(&p.config)?;
            host::apply(&r, &p);
            Ok(r)
        })?;
        // The preallocated queue and the processor's buffers, so the garbage collector weighs
        // an unreachable resolver by what it holds.
        let external = (inner.config().trace.capacity as i64) * 128 + (512 << 10);
        let _ = env.adjust_external_memory(external);
        Ok(NativeResolver {
            inner: RefCell::new(Some(Arc::new(inner))),
            poisoned: Arc::new(AtomicBool::new(false)),
            receipt: Cell::new(None),
            external: Cell::new(external),
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

    /// Loads an atlas from JSON text as the shadow of the live atlas with its `atlas_id`
    /// → `AtlasInfo` JSON (`ATLAS_NOT_FOUND` at `/atlas_id` without a live one).
    #[napi]
    pub fn load_shadow(&self, atlas: String) -> napi::Result<String> {
        self.call(|r| api::load_shadow(r, atlas.as_bytes()))
    }

    /// Loads a shadow atlas from a directory (or its `atlas.json`) → `AtlasInfo` JSON.
    #[napi]
    pub fn load_shadow_dir(&self, path: String) -> napi::Result<String> {
        self.call(|r| api::load_shadow_dir(r, path.as_bytes()))
    }

    /// Unloads the shadow of an atlas → `{"atlas_id", "unloaded": true}`.
    #[napi]
    pub fn unload_shadow(&self, atlas_id: String) -> napi::Result<String> {
        self.call(|r| api::unload_shadow(r, atlas_id.as_bytes()))
    }

    /// Explains the verdict on `action_id` for a resolve request → explanation JSON. Records
    /// and consumes nothing.
    #[napi]
    pub fn explain(&self, request: String, action_id: String) -> napi::Result<String> {
        self.call(|r| api::explain(r, request.as_bytes(), action_id.as_bytes()))
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

    /// The approvals a filter selects (`""` = every pending one) → JSON array.
    #[napi]
    pub fn list_approvals(&self, filter: String) -> napi::Result<String> {
        self.call(|r| api::approvals(r, filter.as_bytes()))
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
            api::check(&*self.r()?, session_id.as_bytes(), action_id.as_bytes()).map(|v| v.as_str())
        })
    }

    /// Waits (on a libuv worker thread) until every event recorded so far is in the sink.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self, timeout_ms: u32) -> napi::Result<AsyncTask<Flush>> {
        let inner = guard(None, || self.r())?;
        Ok(AsyncTask::new(Flush {
            inner,
            poisoned: self.poisoned.clone(),
            timeout_ms,
        }))
    }

    /// Flushes on the calling thread (blocking).
    #[napi]
    pub fn flush_sync(&self, timeout_ms: u32) -> napi::Result<()> {
        guard(Some(&self.poisoned), || {
            api::flush(&*self.r()?, u64::from(timeout_ms))
        })
    }

    /// Takes the JSONL of the memory sink's events not yet drained (all of them, unbounded:
    /// the package drains in chunks with `drain_chunk`).
    #[napi]
    pub fn drain_trace(&self) -> napi::Result<String> {
        self.call(api::drain_trace)
    }

    /// A chunk of the memory sink's JSONL (whole lines, at most `max_bytes`, one line at least;
    /// at most `max_events`), flushing first for at most `flush_timeout_ms` when the sink holds
    /// less. The events stay in the sink until `drain_commit`: if the string cannot be made,
    /// nothing is lost.
    #[napi]
    pub fn drain_chunk(
        &self,
        max_bytes: f64,
        max_events: f64,
        flush_timeout_ms: u32,
    ) -> napi::Result<String> {
        guard(Some(&self.poisoned), || {
            let chunk = api::drain_trace_chunk(
                &*self.r()?,
                max_bytes as usize,
                max_events as u64,
                u64::from(flush_timeout_ms),
            )?;
            let (bytes, receipt) = chunk.into_parts();
            let s = text(bytes)?;
            self.receipt.set(Some(receipt));
            Ok(s)
        })
    }

    /// Removes the chunk the last `drain_chunk` returned (call it once the string is held).
    #[napi]
    pub fn drain_commit(&self) -> napi::Result<()> {
        guard(Some(&self.poisoned), || match self.receipt.take() {
            Some(receipt) => api::drain_trace_commit(&*self.r()?, &receipt),
            None => Ok(()),
        })
    }

    /// Counters and sizes → JSON (the core's, plus `memory`).
    #[napi]
    pub fn stats(&self) -> napi::Result<String> {
        guard(Some(&self.poisoned), || {
            let r = self.r()?;
            let mut v: serde_json::Value = serde_json::from_slice(&api::stats(&r)?)
                .map_err(|e| CraError::new(ErrorCode::Internal, e.to_string()))?;
            v["memory"] = host::memory_stats(&r, None);
            Ok(v.to_string())
        })
    }

    /// Advances a deterministic resolver's clock by `micros` microseconds.
    #[napi]
    pub fn advance_clock(&self, micros: f64) -> napi::Result<()> {
        guard(Some(&self.poisoned), || {
            api::advance_clock(&*self.r()?, micros as i64)
        })
    }

    /// Flushes and stops the trace collector (its thread ends now).
    #[napi]
    pub fn close(&self) -> napi::Result<()> {
        guard(Some(&self.poisoned), || api::close(&*self.r()?))
    }

    /// Releases the resolver now: its thread ends and its memory is freed (events not yet
    /// drained go with it). Idempotent; every later call fails with `CLOSED`.
    #[napi]
    pub fn free(&self, env: Env) {
        self.release(&env);
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

/// Verifies JSONL trace text with options JSON (`""` = defaults) → report JSON.
#[napi]
pub fn verify_trace(trace: String, options: String) -> napi::Result<String> {
    guard(None, || {
        text(api::verify_trace_with(
            trace.as_bytes(),
            options.as_bytes(),
        )?)
    })
}

/// Verifies JSONL trace bytes, as they are (no text decoding) → report JSON.
#[napi]
pub fn verify_trace_bytes(trace: Uint8Array, options: String) -> napi::Result<String> {
    guard(None, || {
        text(api::verify_trace_with(&trace, options.as_bytes())?)
    })
}

/// Verifies a JSONL trace file (streaming) → report JSON.
#[napi]
pub fn verify_trace_file(path: String, options: String) -> napi::Result<String> {
    guard(None, || {
        text(api::verify_trace_file_with(
            path.as_bytes(),
            options.as_bytes(),
        )?)
    })
}

/// Replays a trace against atlases (a JSON array of atlas documents) → report JSON.
#[napi]
pub fn replay(trace: String, atlases: String) -> napi::Result<String> {
    guard(None, || {
        text(api::replay(trace.as_bytes(), atlases.as_bytes())?)
    })
}

/// Replays trace bytes, as they are, against atlases → report JSON.
#[napi]
pub fn replay_bytes(trace: Uint8Array, atlases: String) -> napi::Result<String> {
    guard(None, || text(api::replay(&trace, atlases.as_bytes())?))
}

/// Versions → JSON `{"cra", "binding"}`.
#[napi]
pub fn versions() -> String {
    format!(
        r#"{{"cra":"{}","binding":"native","addon":"{}","json_schema":true,"schema_validator":"cra"}}"#,
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
