//! The wire event, its canonical line, its hash and the per-session chain.
//!
//! The canonical line of an event is the JCS form of the full event object. Because JCS sorts
//! member names and `event_hash` sorts first among the twelve fields, every line starts with
//! `{"event_hash":"<64 hex>",` and the hashed bytes (JCS of the event *without* `event_hash`) are
//! exactly `{` followed by the rest of the line after that prefix. Writers and verifiers use that
//! identity to hash without re-serializing.

use super::canonical::{write_canonical, write_string, write_u64};
use crate::clock::write_rfc3339_us;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The trace format version written in every event.
pub const TRACE_VERSION: &str = "1.0";

/// `previous_event_hash` of the first event (sequence 0) of every session.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Length of the canonical line prefix `{"event_hash":"<64 hex>",`.
pub const HASH_PREFIX_LEN: usize = 81;

/// One TRACE event as it appears on the wire (one JSONL line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEvent {
    /// Always `"1.0"`.
    pub trace_version: String,
    /// Unique id of this event (UUIDv7, or a counter id in deterministic mode).
    pub event_id: String,
    /// The session's trace id.
    pub trace_id: String,
    /// The span that produced the event.
    pub span_id: String,
    /// The parent span; `None` (JSON `null`) at the session root.
    pub parent_span_id: Option<String>,
    /// The session whose chain this event belongs to.
    pub session_id: String,
    /// Position in the session's chain, from 0, +1 per event.
    pub sequence: u64,
    /// RFC 3339 UTC with six fractional digits and `Z`.
    pub timestamp: String,
    /// Wire name of the event type, e.g. `session.started`.
    pub event_type: String,
    /// Event details (a JSON object).
    pub payload: Value,
    /// `event_hash` of the previous event of the session, or 64 zeros at genesis.
    pub previous_event_hash: String,
    /// Lowercase hex BLAKE3-256 of the JCS form of this event without `event_hash`.
    pub event_hash: String,
}

impl TraceEvent {
    /// The JCS canonical form of the event without `event_hash` (the hashed bytes).
    pub fn unhashed_canonical(&self) -> String {
        let mut out = String::with_capacity(256);
        write_unhashed(
            &mut out,
            &UnhashedFields {
                event_id: &self.event_id,
                event_type: &self.event_type,
                parent_span_id: self.parent_span_id.as_deref(),
                payload: PayloadText::Value(&self.payload),
                previous_event_hash: &self.previous_event_hash,
                sequence: self.sequence,
                session_id: &self.session_id,
                span_id: &self.span_id,
                timestamp: Timestamp::Text(&self.timestamp),
                trace_id: &self.trace_id,
                trace_version: &self.trace_version,
            },
        );
        out
    }

    /// Recomputes the event's hash from its other fields.
    pub fn compute_hash(&self) -> String {
        hex32(blake3::hash(self.unhashed_canonical().as_bytes()).as_bytes())
    }

    /// The canonical JSONL line of the event (without the trailing LF).
    pub fn canonical_line(&self) -> String {
        let unhashed = self.unhashed_canonical();
        let mut out = String::with_capacity(unhashed.len() + HASH_PREFIX_LEN);
        join_hash(&self.event_hash, &unhashed, &mut out);
        out
    }
}

/// A timestamp either already formatted or in microseconds.
#[derive(Debug, Clone, Copy)]
pub enum Timestamp<'a> {
    /// Microseconds since the Unix epoch, formatted as RFC 3339 with six digits.
    Micros(i64),
    /// Already formatted text, written as is.
    Text(&'a str),
}

/// An event payload: a JSON value to canonicalize, or text already in canonical form.
#[derive(Debug, Clone, Copy)]
pub enum PayloadText<'a> {
    /// Canonicalized while writing.
    Value(&'a Value),
    /// Already RFC 8785 canonical JSON (written as is).
    Canonical(&'a str),
}

/// Borrowed fields of an event without its hash, for writing its canonical form directly.
#[derive(Debug, Clone, Copy)]
pub struct UnhashedFields<'a> {
    /// `event_id`.
    pub event_id: &'a str,
    /// `event_type`.
    pub event_type: &'a str,
    /// `parent_span_id`.
    pub parent_span_id: Option<&'a str>,
    /// `payload`.
    pub payload: PayloadText<'a>,
    /// `previous_event_hash`.
    pub previous_event_hash: &'a str,
    /// `sequence`.
    pub sequence: u64,
    /// `session_id`.
    pub session_id: &'a str,
    /// `span_id`.
    pub span_id: &'a str,
    /// `timestamp`.
    pub timestamp: Timestamp<'a>,
    /// `trace_id`.
    pub trace_id: &'a str,
    /// `trace_version`.
    pub trace_version: &'a str,
}

/// Appends the JCS form of an event without `event_hash` (members in JCS order).
pub fn write_unhashed(out: &mut String, f: &UnhashedFields<'_>) {
    out.push_str("{\"event_id\":");
    write_string(f.event_id, out);
    out.push_str(",\"event_type\":");
    write_string(f.event_type, out);
    out.push_str(",\"parent_span_id\":");
    match f.parent_span_id {
        Some(p) => write_string(p, out),
        None => out.push_str("null"),
    }
    out.push_str(",\"payload\":");
    match f.payload {
        PayloadText::Value(v) => write_canonical(v, out),
        PayloadText::Canonical(text) => out.push_str(text),
    }
    out.push_str(",\"previous_event_hash\":");
    write_string(f.previous_event_hash, out);
    out.push_str(",\"sequence\":");
    write_u64(f.sequence, out);
    out.push_str(",\"session_id\":");
    write_string(f.session_id, out);
    out.push_str(",\"span_id\":");
    write_string(f.span_id, out);
    out.push_str(",\"timestamp\":");
    match f.timestamp {
        Timestamp::Micros(us) => {
            out.push('"');
            write_rfc3339_us(us, out);
            out.push('"');
        }
        Timestamp::Text(t) => write_string(t, out),
    }
    out.push_str(",\"trace_id\":");
    write_string(f.trace_id, out);
    out.push_str(",\"trace_version\":");
    write_string(f.trace_version, out);
    out.push('}');
}

/// Appends the full canonical line: `{"event_hash":"<hash>",` + `unhashed` without its `{`.
pub fn join_hash(hash_hex: &str, unhashed: &str, out: &mut String) {
    out.push_str("{\"event_hash\":");
    write_string(hash_hex, out);
    out.push(',');
    out.push_str(unhashed.get(1..).unwrap_or(""));
}

/// Lowercase hex of 32 bytes.
pub fn hex32(bytes: &[u8; 32]) -> String {
    let mut s = String::with_capacity(64);
    push_hex(bytes, &mut s);
    s
}

/// Appends lowercase hex of `bytes`.
pub fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

/// The state of one session's chain: what the next event must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Sequence number of the next event.
    pub next_sequence: u64,
    /// `event_hash` of the last event (64 zeros before the first).
    pub last_hash: String,
    /// Timestamp of the last event, microseconds (0 before the first).
    pub last_timestamp_us: i64,
}

impl Default for Chain {
    fn default() -> Self {
        Chain {
            next_sequence: 0,
            last_hash: GENESIS_HASH.to_string(),
            last_timestamp_us: 0,
        }
    }
}

/// Where a session's chain stands, as recovered from a sink (e.g. a file reopened after a crash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The session.
    pub session_id: String,
    /// The chain (trace) it continues.
    pub trace_id: String,
    /// Its chain state.
    pub chain: Chain,
}

impl Chain {
    /// Builds the next event's canonical line into `line` (no LF), advancing the chain.
    /// `scratch` is a reusable buffer. Returns the event's hash.
    pub fn append(
        &mut self,
        fields: UnhashedFieldsNoChain<'_>,
        scratch: &mut String,
        line: &mut String,
    ) {
        scratch.clear();
        let seq = self.next_sequence;
        write_unhashed(
            scratch,
            &UnhashedFields {
                event_id: fields.event_id,
                event_type: fields.event_type,
                parent_span_id: fields.parent_span_id,
                payload: fields.payload,
                previous_event_hash: &self.last_hash,
                sequence: seq,
                session_id: fields.session_id,
                span_id: fields.span_id,
                timestamp: Timestamp::Micros(fields.timestamp_us),
                trace_id: fields.trace_id,
                trace_version: TRACE_VERSION,
            },
        );
        let hash = blake3::hash(scratch.as_bytes());
        self.last_hash.clear();
        push_hex(hash.as_bytes(), &mut self.last_hash);
        self.next_sequence = seq + 1;
        self.last_timestamp_us = fields.timestamp_us;
        join_hash(&self.last_hash, scratch, line);
    }
}

/// The fields of an event that its chain does not supply.
#[derive(Debug, Clone, Copy)]
pub struct UnhashedFieldsNoChain<'a> {
    /// `event_id`.
    pub event_id: &'a str,
    /// `event_type`.
    pub event_type: &'a str,
    /// `parent_span_id`.
    pub parent_span_id: Option<&'a str>,
    /// `payload`.
    pub payload: PayloadText<'a>,
    /// `session_id`.
    pub session_id: &'a str,
    /// `span_id`.
    pub span_id: &'a str,
    /// Microseconds since the epoch.
    pub timestamp_us: i64,
    /// `trace_id`.
    pub trace_id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::canonical::canonicalize;
    use serde_json::json;

    #[test]
    fn direct_writer_matches_generic_jcs() {
        let mut chain = Chain::default();
        let payload = json!({"b": 1.5, "a": "x\u{1}"});
        let (mut scratch, mut line) = (String::new(), String::new());
        chain.append(
            UnhashedFieldsNoChain {
                event_id: "e1",
                event_type: "session.started",
                parent_span_id: None,
                payload: PayloadText::Value(&payload),
                session_id: "s",
                span_id: "sp",
                timestamp_us: 1_764_072_000_123_456,
                trace_id: "t",
            },
            &mut scratch,
            &mut line,
        );
        let ev: TraceEvent = serde_json::from_str(&line).expect("line parses");
        let generic = canonicalize(&serde_json::to_value(&ev).expect("to value"));
        assert_eq!(generic, line);
        assert_eq!(ev.compute_hash(), ev.event_hash);
        assert_eq!(ev.canonical_line(), line);
        assert_eq!(ev.timestamp, "2025-11-25T12:00:00.123456Z");
        assert_eq!(&line[..15], "{\"event_hash\":\"");
        assert_eq!(&line[79..HASH_PREFIX_LEN], "\",");
        assert_eq!(chain.next_sequence, 1);
        assert_eq!(chain.last_hash, ev.event_hash);
    }
}
