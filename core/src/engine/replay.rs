//! Replay: re-run the resolve requests recorded in a trace against other atlases (for example a
//! new version of a policy) and report every decision that would change.
//!
//! Each request is resolved at the instant it was recorded (so time windows evaluate as they
//! did), in file order, on a fresh resolver that records nothing. Executes are not replayed, so
//! rate limits never exhaust during a replay; a request naming an atlas the new set lacks is
//! reported as an error for that request, not for the whole replay.

use super::{Resolver, ResolverConfig};
use crate::atlas::AtlasManifest;
use crate::clock::{parse_rfc3339_us, Clock};
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::CarpRequest;
use crate::trace::NullRecorder;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// One recorded outcome (before) or replayed outcome (after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Decision type.
    pub decision: String,
    /// Allowed action ids.
    pub allowed: Vec<String>,
    /// Denied action ids.
    pub denied: Vec<String>,
    /// Pending action ids.
    pub pending: Vec<String>,
}

/// A request whose outcome would change.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayChange {
    /// The recorded request id.
    pub request_id: String,
    /// Its session.
    pub session_id: String,
    /// Line (0-based) of its `carp.request.received` event.
    pub line: usize,
    /// What was recorded.
    pub before: Outcome,
    /// What the new atlases decide (`None` when the replay failed; see `error`).
    pub after: Option<Outcome>,
    /// Actions allowed now but not before.
    pub newly_allowed: Vec<String>,
    /// Actions no longer allowed.
    pub no_longer_allowed: Vec<String>,
    /// The error code when the request could not be replayed.
    pub error: Option<String>,
}

/// The result of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// Resolve requests found and replayed.
    pub replayed: usize,
    /// Requests whose outcome is the same.
    pub unchanged: usize,
    /// Requests whose outcome changes.
    pub changed: Vec<ReplayChange>,
    /// Lines that could not be read as events (skipped).
    pub skipped_lines: usize,
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Replays the resolve requests of `trace` (JSONL bytes) against `atlases`.
pub fn replay(trace: &[u8], atlases: Vec<AtlasManifest>) -> Result<ReplayReport> {
    let now = Arc::new(AtomicI64::new(0));
    let clock_now = now.clone();
    let resolver = Resolver::with_recorder(ResolverConfig::default(), Arc::new(NullRecorder))?
        .with_clock(Clock::Custom(Arc::new(move || {
            clock_now.load(Ordering::Relaxed)
        })));
    for m in atlases {
        resolver.load_manifest(m)?;
    }
    // span id -> (line, request, timestamp); outcomes by span id.
    let mut requests: Vec<(usize, String, Value, i64)> = Vec::new();
    let mut outcomes: HashMap<String, Outcome> = HashMap::new();
    let mut skipped = 0;
    for (line, raw) in trace.split(|b| *b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(ev) = serde_json::from_slice::<Value>(raw) else {
            skipped += 1;
            continue;
        };
        let span = ev["span_id"].as_str().unwrap_or_default().to_string();
        let payload = &ev["payload"];
        match ev["event_type"].as_str() {
            Some("carp.request.received") if payload["operation"] == "resolve" => {
                let ts = ev["timestamp"]
                    .as_str()
                    .and_then(parse_rfc3339_us)
                    .unwrap_or(0);
                requests.push((line, span, payload["request"].clone(), ts));
            }
            Some("carp.resolution.completed") => {
                outcomes.insert(
                    span,
                    Outcome {
                        decision: payload["decision"].as_str().unwrap_or_default().to_string(),
                        allowed: ids(&payload["allowed_actions"]),
                        denied: ids(&payload["denied_actions"]),
                        pending: ids(&payload["pending_actions"]),
                    },
                );
            }
            None => skipped += 1,
            _ => {}
        }
    }
    let mut report = ReplayReport {
        replayed: 0,
        unchanged: 0,
        changed: Vec::new(),
        skipped_lines: skipped,
    };
    for (line, span, request, ts) in requests {
        let Some(before) = outcomes.remove(&span) else {
            continue;
        };
        report.replayed += 1;
        now.store(ts, Ordering::Relaxed);
        let request_id = request["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let session_id = request["requester"]["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let result = CarpRequest::from_value(request).and_then(|r| resolver.resolve(r));
        let change = match result {
            Ok(res) => {
                let after = Outcome {
                    decision: res.decision.as_str().to_string(),
                    allowed: res
                        .allowed_action_ids()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    denied: res
                        .denied_action_ids()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    pending: res
                        .pending_action_ids()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                };
                if after == before {
                    report.unchanged += 1;
                    continue;
                }
                let newly_allowed = after
                    .allowed
                    .iter()
                    .filter(|a| !before.allowed.contains(a))
                    .cloned()
                    .collect();
                let no_longer_allowed = before
                    .allowed
                    .iter()
                    .filter(|a| !after.allowed.contains(a))
                    .cloned()
                    .collect();
                ReplayChange {
                    request_id,
                    session_id,
                    line,
                    before,
                    after: Some(after),
                    newly_allowed,
                    no_longer_allowed,
                    error: None,
                }
            }
            Err(e) => ReplayChange {
                request_id,
                session_id,
                line,
                no_longer_allowed: before.allowed.clone(),
                before,
                after: None,
                newly_allowed: Vec::new(),
                error: Some(e.code.as_str().to_string()),
            },
        };
        report.changed.push(change);
    }
    Ok(report)
}

impl Resolver {
    #[doc(hidden)]
    /// Replaces the clock (replay resolves each request at its recorded instant).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// Replays against atlases loaded from directories.
pub fn replay_dirs(trace: &[u8], dirs: &[std::path::PathBuf]) -> Result<ReplayReport> {
    let mut manifests = Vec::new();
    for d in dirs {
        manifests.push(crate::atlas::manifest_from_dir(d)?);
    }
    if manifests.is_empty() {
        return Err(CraError::new(
            ErrorCode::InvalidRequest,
            "replay needs at least one atlas",
        ));
    }
    replay(trace, manifests)
}
