//! TRACE: hash-chained audit events (protocol.md §4).
//!
//! `event` is the interface the engine records into. The rest (canonical JSON, chain, collector,
//! sinks, verify) turns raw events into verifiable JSONL off the hot path.

pub mod event;

pub use event::{EventPayload, EventType, MemoryRecorder, NullRecorder, PayloadSource, RawEvent, Recorder, SessionTrace};
