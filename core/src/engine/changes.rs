//! Atlas changes made while the resolver runs, recorded in TRACE (docs/trace.md §1).
//!
//! Replacing or unloading a live atlas, and loading or unloading a shadow, changes what the
//! resolver allows from the next call on. Each such change is an event in the resolver's own
//! chain (session id [`CONTROL_SESSION_ID`], one trace per resolver, started by its first change):
//! `atlas.loaded` / `atlas.unloaded` with the atlas id, version and a BLAKE3 digest of its
//! canonical manifest (and the replaced one's), so an auditor can tell which policy was in force
//! when, even when an edit kept the version string. Loads before the first session starts are
//! the resolver's configuration, not events (every resolution records the `atlas_id` and
//! `version` it was computed against); from then on every load is one, a new atlas id too.
//!
//! The chain's ids come from an id stream of its own and its timestamps do not advance a
//! deterministic clock, so a recorded change never shifts the ids or times of resolutions and
//! session events.

use super::Resolver;
use crate::atlas::CompiledAtlas;
use crate::trace::{EventPayload, EventType, RawEvent, SessionTrace};
use serde_json::{json, Value};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The `session_id` of the resolver's own chain (atlas changes). A caller's session may use the
/// same id: chains are keyed by `trace_id`, so the two never mix.
pub const CONTROL_SESSION_ID: &str = "cra:resolver";

/// The deterministic id stream of the resolver's chain (`SSSSSSSS-0002-…`; the engine uses 0,
/// the trace collector 1).
pub(crate) const CONTROL_ID_STREAM: u16 = 2;

/// Lowercase hex BLAKE3 of the RFC 8785 form of the atlas's manifest (context texts included).
pub(crate) fn atlas_digest(atlas: &CompiledAtlas) -> String {
    let value = serde_json::to_value(&atlas.manifest).unwrap_or(Value::Null);
    let canonical = crate::trace::canonical::canonicalize(&value);
    blake3::hash(canonical.as_bytes()).to_hex().to_string()
}

/// One atlas change, described for its event.
pub(crate) enum AtlasChange<'a> {
    /// `new` was loaded (as a shadow when `shadow`), replacing `previous` if any.
    Loaded {
        new: &'a CompiledAtlas,
        previous: Option<&'a CompiledAtlas>,
        shadow: bool,
    },
    /// `old` was unloaded (a shadow when `shadow`).
    Unloaded {
        old: &'a CompiledAtlas,
        shadow: bool,
    },
}

impl Resolver {
    /// Records `change` in the resolver's chain. Callers hold the load lock, so changes are
    /// recorded in the order they took effect.
    pub(crate) fn record_atlas_change(&self, change: AtlasChange<'_>) {
        let now_us = self.clock.peek_us();
        let trace = self.control_trace(now_us);
        let (ty, payload) = match change {
            AtlasChange::Loaded {
                new,
                previous,
                shadow,
            } => (
                EventType::AtlasLoaded,
                json!({
                    "atlas_id": &*new.id,
                    "version": &*new.version,
                    "digest": atlas_digest(new),
                    "previous_version": previous.map(|p| p.version.to_string()),
                    "previous_digest": previous.map(atlas_digest),
                    "shadow": shadow,
                    "actions": new.manifest.actions.len(),
                    "policies": new.manifest.policies.len(),
                }),
            ),
            AtlasChange::Unloaded { old, shadow } => (
                EventType::AtlasUnloaded,
                json!({
                    "atlas_id": &*old.id,
                    "version": &*old.version,
                    "digest": atlas_digest(old),
                    "shadow": shadow,
                }),
            ),
        };
        let span: Arc<str> = Arc::from(self.control_ids.next_id(now_us));
        self.recorder.record(RawEvent {
            session: trace.clone(),
            span_id: span,
            parent_span_id: Some(trace.root_span_id.clone()),
            timestamp_us: now_us,
            event_type: ty,
            payload: EventPayload::Json(payload),
            event_id: Some(Arc::from(self.control_ids.next_id(now_us))),
        });
    }

    /// The resolver's chain, made on first use.
    fn control_trace(&self, now_us: i64) -> Arc<SessionTrace> {
        self.control
            .get_or_init(|| {
                Arc::new(SessionTrace {
                    session_id: Arc::from(CONTROL_SESSION_ID),
                    trace_id: Arc::from(self.control_ids.next_id(now_us)),
                    root_span_id: Arc::from(self.control_ids.next_id(now_us)),
                    dropped: AtomicU64::new(0),
                })
            })
            .clone()
    }
}
