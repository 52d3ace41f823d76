//! Typed answers of [`Resolver`](super::Resolver) operations whose shape the protocol fixes.
//! Each serializes to exactly the JSON the `api` functions (and so every binding) return.

use crate::trace::TraceStats;
use serde::Serialize;

/// Counters and sizes of a resolver ([`Resolver::stats`](super::Resolver::stats)).
///
/// Sizes (`sessions`, `resolutions`, ...) are what the resolver holds now; counters
/// (`resolves`, `executes`, ...) count since it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolverStats {
    /// The trace collector's counters; `None` when the resolver records into a recorder of
    /// its own instead of a collector.
    pub trace: Option<TraceStats>,
    /// Atlases loaded.
    pub atlases: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Ended sessions still remembered (so a late request gets `SESSION_ENDED`).
    pub ended_sessions: usize,
    /// Resolutions held (not yet expired).
    pub resolutions: usize,
    /// Approvals held (any status, until forgotten).
    pub approvals: usize,
    /// Authorized calls held (waiting for their report, or reported recently).
    pub executions: usize,
    /// Rate-limit windows held.
    pub rate_limit_windows: usize,
    /// `resolve` calls answered.
    pub resolves: u64,
    /// `execute` calls judged (idempotent replays not counted).
    pub executes: u64,
    /// Calls authorized.
    pub authorized: u64,
    /// `execute` calls not authorized.
    pub denied: u64,
    /// Outcomes reported.
    pub reports: u64,
    /// Shadow atlases loaded.
    pub shadows: usize,
    /// Differences between a shadow atlas and the live one recorded (`policy.shadow_diff`).
    pub shadow_diffs: u64,
}

/// The outcome a report recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// The tool ran (the report had a `result`): `action.executed` was recorded.
    Executed,
    /// The tool failed (the report had an `error`): `action.failed` was recorded.
    Failed,
}

/// What [`Resolver::report`](super::Resolver::report) recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportReceipt {
    /// The execution reported.
    pub execution_id: String,
    /// `executed` or `failed`.
    pub status: ReportStatus,
    /// The action that ran.
    pub action_id: String,
    /// When the outcome was recorded (RFC 3339, microseconds, UTC).
    pub recorded_at: String,
    /// Microseconds from the authorizing `execute` to the report (resolver clock).
    pub elapsed_us: i64,
}

/// What [`Resolver::end_session`](super::Resolver::end_session) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionEnd {
    /// The session ended.
    pub session_id: String,
    /// Its trace id (the chain that `session.ended` closed).
    pub trace_id: String,
    /// The reason recorded (`ended` when none was given).
    pub reason: String,
    /// When it ended (RFC 3339, microseconds, UTC).
    pub ended_at: String,
    /// Microseconds from the session's start to its end.
    pub duration_us: i64,
}
