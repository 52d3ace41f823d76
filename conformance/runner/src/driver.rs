//! The driver interface: how the runner reaches one binding. The runner (`run.rs`) reads the
//! corpus, builds each step's arguments, compares and reports; a driver only performs operations.
//! Rust reaches the core API and libcra directly; every other binding through a small driver
//! program speaking JSON lines (`process_driver.rs`, docs/bindings.md).

use serde_json::Value;

/// An error as a binding reports it: the stable code and, for input errors, the JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    /// Stable UPPER_SNAKE code, e.g. `INVALID_REQUEST`.
    pub code: String,
    /// JSON pointer, when the error is about input.
    pub pointer: Option<String>,
    /// Human message (never compared).
    pub message: String,
}

/// One argument of an operation. A case gives a request either as JSON (`"request": {...}`),
/// which a binding should pass the way its users do (a dict, an object), or as exact text
/// (`"request_text": "..."`, e.g. duplicate keys or a malformed body), which it must pass
/// verbatim. Identifiers, paths and numbers are `Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A JSON value; `bytes` is its compact serialization.
    Json { value: Value, bytes: Vec<u8> },
    /// Exact text.
    Text(Vec<u8>),
}

impl Arg {
    /// A JSON argument.
    pub fn json(value: Value) -> Arg {
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        Arg::Json { value, bytes }
    }

    /// A text argument.
    pub fn text(t: impl Into<Vec<u8>>) -> Arg {
        Arg::Text(t.into())
    }

    /// The argument as the bytes a JSON-in API takes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Arg::Json { bytes, .. } => bytes,
            Arg::Text(t) => t,
        }
    }
}

/// One binding under test.
///
/// Operations (`op`) and their arguments:
/// `load_atlas [atlas]`, `load_shadow [atlas]`, `load_atlas_dir [path]`, `unload_atlas [atlas_id]`,
/// `unload_shadow [atlas_id]`, `resolve [request]`, `execute [request]`, `report [report]`,
/// `approve [decision]`, `reject [decision]`, `end_session [body]`, `approvals [filter]`,
/// `explain [request, action_id]`, `check [session_id, action_id]` (answers the verdict name as a
/// JSON string), `flush []`, `drain_trace []` (answers JSONL), `stats []`,
/// `advance_clock [micros]`, `verify_trace [jsonl]`, `replay [jsonl, atlases array]`.
/// Answers are the binding's output bytes (JSON, or JSONL for `drain_trace`; `null` for
/// operations without output).
pub trait Driver {
    /// A short name for reports (`core`, `c-abi`, ...).
    fn name(&self) -> &str;
    /// Replaces the current resolver with a fresh one built from `config` JSON.
    fn create(&mut self, config: &[u8]) -> Result<(), DriverError>;
    /// Runs one operation on the current resolver (or statelessly for verify/replay).
    fn call(&mut self, op: &str, args: &[Arg]) -> Result<Vec<u8>, DriverError>;
    /// Drops the current resolver.
    fn close(&mut self);
}
