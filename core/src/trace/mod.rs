//! TRACE: hash-chained audit events (protocol.md §4).
//!
//! `event` is the interface the engine records into. The rest (canonical JSON, chain, collector,
//! sinks, verify) turns raw events into verifiable JSONL off the hot path. See `docs/trace.md`.

pub mod canon_check;
pub mod canonical;
pub mod chain;
pub mod collector;
pub mod config;
pub mod event;
#[cfg(feature = "threads")]
pub mod file_sink;
#[cfg(feature = "http-sink")]
pub mod http_sink;
mod processor;
pub mod scan;
pub mod sink;
pub mod verify;

pub use canonical::canonicalize;
pub use chain::{Chain, ChainHead, TraceEvent, GENESIS_HASH, TRACE_VERSION};
pub use collector::{Collector, DroppedByReason, TraceStats};
pub use config::{FsyncPolicy, Overflow, SinkKind, TraceConfig};
pub use event::{
    EventPayload, EventType, MemoryRecorder, NullRecorder, PayloadSource, RawEvent, Recorder,
    SessionTrace,
};
#[cfg(feature = "threads")]
pub use file_sink::{JsonlFileSink, Repair};
#[cfg(feature = "http-sink")]
pub use http_sink::{Compression, HttpConfig, HttpSink, HttpStats};
pub use sink::{MemorySink, NullSink, TraceSink};
pub use verify::{
    verify_file, verify_file_with, verify_jsonl, verify_jsonl_with, TraceSummary, VerifyError,
    VerifyErrorCode, VerifyHead, VerifyOptions, VerifyReport,
};

/// Canonical (RFC 8785) JSON bytes of a value: what `parameters_hash` and `result_hash` hash.
pub fn canonical_json(v: &serde_json::Value) -> Vec<u8> {
    canonicalize(v).into_bytes()
}
