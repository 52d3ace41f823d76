//! Helpers shared by the `trace_*` integration tests.
#![allow(dead_code)]

use cra_core::unstable::{EventPayload, EventType, RawEvent, SessionTrace};
use serde_json::Value;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// A session handle with ids derived from `name`.
pub fn session(name: &str) -> Arc<SessionTrace> {
    Arc::new(SessionTrace {
        session_id: name.into(),
        trace_id: format!("trace-{name}").into(),
        root_span_id: format!("root-{name}").into(),
        dropped: AtomicU64::new(0),
    })
}

/// A raw event in the session's root span (session events) or a call span (others).
pub fn raw(s: &Arc<SessionTrace>, t: EventType, payload: Value, ts: i64) -> RawEvent {
    let root = matches!(t, EventType::SessionStarted | EventType::SessionEnded);
    RawEvent {
        session: s.clone(),
        span_id: if root {
            s.root_span_id.clone()
        } else {
            format!("call-{}", s.session_id).into()
        },
        parent_span_id: if root {
            None
        } else {
            Some(s.root_span_id.clone())
        },
        timestamp_us: ts,
        event_type: t,
        payload: EventPayload::Json(payload),
        event_id: None,
    }
}

/// Base timestamp: 2026-11-25T12:00:00Z.
pub const T0: i64 = 1_795_608_000_000_000;
