//! TRACE: hash-chained audit events (protocol.md §4, `docs/trace.md`).
//!
//! Every step the [`Resolver`](crate::Resolver) takes is recorded, off the hot path, as a
//! [`TraceEvent`] in its session's hash chain, written as JSONL to the sink chosen in
//! [`TraceConfig`] ([`SinkKind`]: none, memory, file, HTTP). Anyone holding the JSONL can check it
//! with [`verify_jsonl`] or [`verify_file`]: a [`VerifyReport`] says whether every chain is whole
//! and unaltered.
//!
//! The recorder, the collector and the sink implementations behind this are internals
//! ([`crate::unstable`]).

pub(crate) mod canon_check;
pub(crate) mod canonical;
pub(crate) mod chain;
pub(crate) mod collector;
mod config;
pub(crate) mod event;
#[cfg(feature = "threads")]
pub(crate) mod file_sink;
#[cfg(feature = "http-sink")]
pub(crate) mod http_sink;
mod processor;
pub(crate) mod scan;
pub(crate) mod sink;
mod verify;

pub use chain::{TraceEvent, GENESIS_HASH, TRACE_VERSION};
pub use collector::{DroppedByReason, TraceStats};
pub use config::{FsyncPolicy, Overflow, SinkKind, TraceConfig};
#[cfg(feature = "http-sink")]
pub use http_sink::{Compression, HttpConfig, HttpStats};
pub use sink::{ChunkReceipt, MemoryChunk};
pub use verify::{
    verify_file, verify_file_with, verify_jsonl, verify_jsonl_with, TraceSummary, VerifyError,
    VerifyErrorCode, VerifyHead, VerifyOptions, VerifyReport,
};

pub(crate) use canonical::canonicalize;
pub(crate) use collector::Collector;
pub(crate) use event::{
    EventPayload, EventType, NullRecorder, PayloadSource, RawEvent, Recorder, SessionTrace,
};
pub(crate) use sink::MemorySink;

/// Canonical (RFC 8785) JSON bytes of a value: what `parameters_hash` and `result_hash` hash
/// (BLAKE3 of these bytes, lowercase hex).
pub fn canonical_json(v: &serde_json::Value) -> Vec<u8> {
    canonicalize(v).into_bytes()
}
