//! The driver interface: how a runner reaches one binding. Every binding's runner interprets the
//! same case operations; this one lets Rust run them through the core API or through libcra.

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

/// One binding under test.
///
/// Operations (`op`) and their arguments, all UTF-8 JSON or text:
/// `load_atlas [atlas]`, `load_atlas_dir [path]`, `unload_atlas [atlas_id]`, `resolve [request]`,
/// `execute [request]`, `report [report]`, `approve [decision]`, `reject [decision]`,
/// `end_session [body]`, `check [session_id, action_id]` (answers the verdict name as a JSON
/// string), `flush []`, `drain_trace []` (answers JSONL), `stats []`, `advance_clock [micros]`,
/// `verify_trace [jsonl]`, `replay [jsonl, atlases array]`.
/// Answers are the binding's output bytes (JSON, or JSONL for `drain_trace`; `null` for
/// operations without output).
pub trait Driver {
    /// A short name for reports (`core`, `c-abi`, ...).
    fn name(&self) -> &str;
    /// Replaces the current resolver with a fresh one built from `config` JSON.
    fn create(&mut self, config: &[u8]) -> Result<(), DriverError>;
    /// Runs one operation on the current resolver (or statelessly for verify/replay).
    fn call(&mut self, op: &str, args: &[&[u8]]) -> Result<Vec<u8>, DriverError>;
    /// Drops the current resolver.
    fn close(&mut self);
}
