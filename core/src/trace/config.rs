//! Collector configuration (`trace` section of the resolver config).

use crate::error::{CraError, ErrorCode};
use serde::{Deserialize, Serialize};

/// Which sink the collector writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// Bounded in-memory JSONL, drained by the host.
    #[default]
    Memory,
    /// Append-only JSONL file at `path`.
    File,
    /// Events are chained and counted, then discarded.
    None,
    /// Batches POSTed to an HTTP(S) receiver (settings in `http`; feature `http-sink`).
    #[cfg(feature = "http-sink")]
    Http,
}

/// What `record` does when the queue (or a bounded sink) is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Lossless: the recording thread waits for room.
    #[default]
    Block,
    /// Never blocks: the event is dropped, counted, and a `trace.gap` event records the loss.
    Drop,
}

/// When the file sink calls `fsync` (`File::sync_data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Never (the OS writes back when it likes; `flush` does not fsync).
    Never,
    /// After every written batch (so a successful `flush` means durable).
    #[default]
    Batch,
    /// After every event.
    Always,
}

/// Collector configuration. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// `memory` (default), `file` or `none`.
    pub sink: SinkKind,
    /// File path (required for, and only allowed with, `sink: "file"`).
    pub path: Option<String>,
    /// `block` (default, lossless) or `drop`.
    pub overflow: Overflow,
    /// Queue slots between the hot path and the background thread (default 65536).
    pub capacity: u32,
    /// Events per sink write (default 512).
    pub batch_size: u32,
    /// Longest time an event waits in the queue under light load, in ms (default 200).
    pub flush_interval_ms: u32,
    /// File sink fsync policy (default `batch`).
    pub fsync: FsyncPolicy,
    /// Memory sink bound, in events not yet drained (default 1,000,000).
    pub memory_limit_events: u64,
    /// In `block` mode, the longest a call waits for room (default 10000 ms, at most 600000).
    /// When it passes, the event is dropped, counted (`dropped.block_timeout`) and recorded as
    /// a `trace.gap`, and later calls drop at once until the pipeline makes room again: a
    /// trace nobody drains never hangs the caller.
    pub block_timeout_ms: u32,
    /// HTTP sink settings (required for, and only allowed with, `sink: "http"`).
    #[cfg(feature = "http-sink")]
    #[serde(
        deserialize_with = "super::http_sink::deserialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub http: Option<super::http_sink::HttpConfig>,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            sink: SinkKind::Memory,
            path: None,
            overflow: Overflow::Block,
            capacity: 65_536,
            batch_size: 512,
            flush_interval_ms: 200,
            fsync: FsyncPolicy::Batch,
            memory_limit_events: 1_000_000,
            block_timeout_ms: 10_000,
            #[cfg(feature = "http-sink")]
            http: None,
        }
    }
}

/// Largest accepted queue capacity (slots are preallocated).
pub const MAX_CAPACITY: u32 = 1 << 24;

impl TraceConfig {
    /// Parses a JSON config, reporting the offending field as a JSON pointer.
    pub fn from_json(text: &str) -> Result<Self, CraError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let cfg: TraceConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let pointer = if path == "." {
                String::new()
            } else {
                format!("/{}", path.replace('.', "/"))
            };
            CraError::at(
                ErrorCode::InvalidConfig,
                pointer,
                format!("invalid trace config: {}", e.inner()),
            )
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks value ranges and the sink/path combination.
    pub fn validate(&self) -> Result<(), CraError> {
        let bad = |ptr: &str, msg: String| Err(CraError::at(ErrorCode::InvalidConfig, ptr, msg));
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return bad(
                "/capacity",
                format!(
                    "capacity must be between 1 and {MAX_CAPACITY}, got {}",
                    self.capacity
                ),
            );
        }
        if self.batch_size == 0 {
            return bad("/batch_size", "batch_size must be at least 1, got 0".into());
        }
        if self.flush_interval_ms == 0 {
            return bad(
                "/flush_interval_ms",
                "flush_interval_ms must be at least 1, got 0".into(),
            );
        }
        if self.block_timeout_ms > 600_000 {
            return bad(
                "/block_timeout_ms",
                format!(
                    "block_timeout_ms is at most 600000, got {}",
                    self.block_timeout_ms
                ),
            );
        }
        if self.memory_limit_events == 0 {
            return bad(
                "/memory_limit_events",
                "memory_limit_events must be at least 1, got 0".into(),
            );
        }
        #[cfg(feature = "http-sink")]
        match (self.sink, &self.http) {
            (SinkKind::Http, None) => {
                return bad(
                    "/http",
                    "sink \"http\" needs an http object with a url".into(),
                )
            }
            (SinkKind::Http, Some(h)) => h.validate()?,
            (_, Some(_)) => return bad("/http", "http is only allowed with sink \"http\"".into()),
            (_, None) => {}
        }
        match (self.sink, &self.path) {
            (SinkKind::File, None) => bad("/path", "sink \"file\" needs a path".into()),
            (SinkKind::File, Some(p)) if p.is_empty() => {
                bad("/path", "sink \"file\" needs a non-empty path".into())
            }
            (SinkKind::File, Some(_)) => Ok(()),
            (_, Some(p)) => bad(
                "/path",
                format!("path {p:?} is only allowed with sink \"file\""),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = TraceConfig::from_json("{}").expect("empty config is valid");
        assert_eq!(c, TraceConfig::default());
        let e = TraceConfig::from_json(r#"{"sink":"file"}"#).expect_err("file needs path");
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(e.pointer.as_deref(), Some("/path"));
        let e = TraceConfig::from_json(r#"{"bogus":1}"#).expect_err("unknown field");
        assert!(e.message.contains("bogus"), "{}", e.message);
        let e = TraceConfig::from_json(r#"{"overflow":"maybe"}"#).expect_err("bad enum");
        assert_eq!(e.pointer.as_deref(), Some("/overflow"));
        let c = TraceConfig::from_json(
            r#"{"sink":"file","path":"/tmp/x","overflow":"drop","fsync":"always"}"#,
        )
        .expect("valid");
        assert_eq!(c.overflow, Overflow::Drop);
        assert_eq!(c.fsync, FsyncPolicy::Always);
    }
}
