//! TRACE: hash-chained audit events (protocol.md §4).
//!
//! `event` is the interface the engine records into. The rest (canonical JSON, chain, collector,
//! sinks, verify) turns raw events into verifiable JSONL off the hot path.

pub mod event;

pub use event::{EventPayload, EventType, MemoryRecorder, NullRecorder, PayloadSource, RawEvent, Recorder, SessionTrace};

/// Canonical JSON bytes of a value (interim: sorted keys via serde_json's default map;
/// replaced by the RFC 8785 encoder of the TRACE module).
pub fn canonical_json(v: &serde_json::Value) -> Vec<u8> {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                serde_json::Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sort(v)).unwrap_or_default()
}
