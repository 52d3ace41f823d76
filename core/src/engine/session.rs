//! Sessions: started implicitly by the first request naming them, ended explicitly.

use super::execute::ExecuteAnswerArc;
use super::{Resolution, Resolver};
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::Requester;
use crate::trace::{EventPayload, EventType, SessionTrace};
use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// The state CRA keeps per session.
#[derive(Debug)]
pub struct SessionState {
    /// Trace identity (shared with every event of the session).
    pub trace: Arc<SessionTrace>,
    /// The agent that started it; other agents may not use it.
    pub agent_id: Arc<str>,
    /// When it started.
    pub started_us: i64,
    /// The last request naming it (idle sessions are ended after `session_idle_timeout_seconds`).
    pub last_active_us: AtomicI64,
    /// Set by `end_session`.
    pub ended: AtomicBool,
    /// The most recent resolution (the fast path answers from it).
    pub last_resolution: ArcSwapOption<Resolution>,
    /// Ids of this session's live resolutions, oldest first (bounded by
    /// `max_resolutions_per_session`; the oldest is forgotten when a new one would exceed it).
    pub(crate) recent: Mutex<std::collections::VecDeque<String>>,
    /// Idempotency key → (fingerprint of action + parameters, first answer).
    pub(crate) idempotency: Mutex<FxHashMap<String, (blake3::Hash, ExecuteAnswerArc)>>,
    /// This session's approvals by (action, parameters digest); bounded by
    /// `max_approvals_per_session`.
    pub(crate) approvals:
        Mutex<FxHashMap<super::approvals::ApprovalKey, Arc<super::approvals::Approval>>>,
}

impl Resolver {
    /// The session named by `requester`, starting it (and recording `session.started`) if new.
    /// `known` is what the session map held for it when the caller looked it up (so the hot
    /// paths look it up once).
    pub(crate) fn session_known(
        &self,
        known: Option<Arc<SessionState>>,
        requester: &Requester,
        now_us: i64,
    ) -> Result<Arc<SessionState>> {
        let sid = requester.session_id.as_str();
        if let Some(s) = known {
            let s = self.check_session(s, requester)?;
            s.last_active_us.store(now_us, Ordering::Relaxed);
            return Ok(s);
        }
        // Ended recently: refused. Ended longer ago: forgotten, so the id starts a new session
        // with a new trace (protocol.md §6: chains are keyed by trace_id).
        if let Some(e) = self.ended_error(sid, now_us) {
            return Err(e);
        }
        let (state, created) = self.sessions.with_entry(sid, |m| {
            if let Some(s) = m.get(sid) {
                return (s.clone(), false);
            }
            let sid_arc: Arc<str> = Arc::from(sid);
            let trace = Arc::new(SessionTrace {
                session_id: sid_arc,
                trace_id: Arc::from(self.next_id(now_us)),
                root_span_id: Arc::from(self.next_id(now_us)),
                dropped: AtomicU64::new(0),
            });
            let s = Arc::new(SessionState {
                trace,
                agent_id: Arc::from(requester.agent_id.as_str()),
                started_us: now_us,
                last_active_us: AtomicI64::new(now_us),
                ended: AtomicBool::new(false),
                last_resolution: ArcSwapOption::empty(),
                recent: Mutex::new(std::collections::VecDeque::new()),
                idempotency: Mutex::new(FxHashMap::default()),
                approvals: Mutex::new(FxHashMap::default()),
            });
            m.insert(sid.into(), s.clone());
            (s, true)
        });
        if created {
            self.serving.store(true, Ordering::Relaxed);
            let payload = json!({"agent_id": requester.agent_id, "parent_session_id": requester.parent_session_id});
            self.emit(
                &state.trace,
                &state.trace.root_span_id,
                true,
                now_us,
                EventType::SessionStarted,
                EventPayload::Json(payload),
            );
            return Ok(state);
        }
        self.check_session(state, requester)
    }

    pub(crate) fn check_session(
        &self,
        s: Arc<SessionState>,
        requester: &Requester,
    ) -> Result<Arc<SessionState>> {
        if s.ended.load(Ordering::Acquire) {
            return Err(CraError::at(
                ErrorCode::SessionEnded,
                "/requester/session_id",
                format!(
                    "session {:?} has ended; start a new session",
                    requester.session_id
                ),
            ));
        }
        if *s.agent_id != *requester.agent_id {
            return Err(CraError::request(
                "/requester/agent_id",
                format!(
                    "session {:?} belongs to agent {:?}, not {:?}",
                    requester.session_id, &*s.agent_id, requester.agent_id
                ),
            ));
        }
        Ok(s)
    }

    /// The session's most recent resolution (expired or not): what a binding authorizes against
    /// when the caller names only the session. Records nothing. Errors: `SESSION_ENDED` when the
    /// session has ended; `RESOLUTION_NOT_FOUND` when the session is unknown or has no
    /// resolution (pointer `/session_id` for both).
    pub fn latest_resolution(&self, session_id: &str) -> Result<LatestResolution> {
        self.check_not_forked()?;
        let now = self.clock.peek_us();
        let Some(s) = self.sessions.get(session_id) else {
            if let Some(mut e) = self.ended_error(session_id, now) {
                e.pointer = Some("/session_id".into());
                return Err(e);
            }
            return Err(CraError::at(
                ErrorCode::ResolutionNotFound,
                "/session_id",
                format!("no session {session_id:?}: resolve first"),
            ));
        };
        if s.ended.load(Ordering::Acquire) {
            return Err(CraError::at(
                ErrorCode::SessionEnded,
                "/session_id",
                format!("session {session_id:?} has ended"),
            ));
        }
        let guard = s.last_resolution.load();
        let Some(res) = guard.as_ref() else {
            return Err(CraError::at(
                ErrorCode::ResolutionNotFound,
                "/session_id",
                format!("session {session_id:?} has no resolution: resolve first"),
            ));
        };
        Ok(LatestResolution {
            session_id: session_id.to_owned(),
            agent_id: s.agent_id.to_string(),
            resolution_id: res.resolution_id.clone(),
            expires_at: crate::clock::format_rfc3339_us(res.expires_at_us),
            expired: now >= res.expires_at_us,
        })
    }

    /// Ends a session: records `session.ended` with the reason and duration, forgets its
    /// resolutions, executions and rate-limit windows. Later requests naming it fail with
    /// `SESSION_ENDED`.
    pub fn end_session(&self, session_id: &str, reason: Option<&str>) -> Result<super::SessionEnd> {
        self.check_not_forked()?;
        let Some(s) = self.sessions.get(session_id) else {
            if let Some(mut e) = self.ended_error(session_id, self.clock.peek_us()) {
                e.pointer = Some("/session_id".into());
                e.message = format!("session {session_id:?} has already ended");
                return Err(e);
            }
            return Err(CraError::at(
                ErrorCode::SessionNotFound,
                "/session_id",
                format!("no session {session_id:?}"),
            ));
        };
        if s.ended.swap(true, Ordering::AcqRel) {
            return Err(CraError::at(
                ErrorCode::SessionEnded,
                "/session_id",
                format!("session {session_id:?} has already ended"),
            ));
        }
        let now = self.clock.now_us();
        let reason = reason.unwrap_or("ended");
        let duration_us = self.close_session(&s, now, reason);
        self.forget_sessions(&[session_id]);
        Ok(super::SessionEnd {
            session_id: session_id.to_string(),
            trace_id: s.trace.trace_id.to_string(),
            reason: reason.to_string(),
            ended_at: crate::clock::format_rfc3339_us(now),
            duration_us,
        })
    }

    /// Records `session.ended` and drops the session's own state; returns the duration.
    /// The caller has already marked it ended and calls [`Resolver::forget_sessions`].
    fn close_session(&self, s: &SessionState, now: i64, reason: &str) -> i64 {
        let duration_us = now - s.started_us;
        self.emit(
            &s.trace,
            &s.trace.root_span_id,
            true,
            now,
            EventType::SessionEnded,
            EventPayload::Json(json!({"reason": reason, "duration_us": duration_us})),
        );
        s.last_resolution.store(None);
        s.idempotency.lock().clear();
        s.recent.lock().clear();
        let approvals: Vec<_> = s.approvals.lock().drain().map(|(_, a)| a).collect();
        for a in approvals {
            self.approvals.remove(&a.approval_id);
        }
        duration_us
    }

    /// Forgets these (ended) sessions: remembered as ended for a while (bounded), then their
    /// resolutions, executions and per-session rate-limit windows are dropped.
    fn forget_sessions(&self, ids: &[&str]) {
        let now = self.clock.peek_us();
        let keep = self.config.ended_session_retention_seconds as i64 * 1_000_000;
        for id in ids {
            self.ended_sessions
                .insert(id, now, self.config.max_ended_sessions as usize, keep);
            self.sessions.remove(id);
        }
        self.resolutions.retain(|r| !ids.contains(&&*r.session_id));
        self.executions
            .retain(|e| !ids.contains(&&*e.session.trace.session_id));
        for id in ids {
            self.limiter.forget_session(id);
        }
    }

    /// Ends every session idle for longer than `session_idle_timeout_seconds` (reason
    /// `idle_timeout`), so sessions that are never ended do not hold memory forever. Runs by
    /// itself every few thousand resolves; hosts may also call it. Returns how many ended.
    pub fn expire_idle_sessions(&self) -> usize {
        let timeout = self.config.session_idle_timeout_seconds;
        if timeout == 0 {
            return 0;
        }
        let now = self.clock.peek_us();
        let cutoff = now - timeout as i64 * 1_000_000;
        let idle = self.sessions.filter_values(|s| {
            !s.ended.load(Ordering::Acquire) && s.last_active_us.load(Ordering::Relaxed) < cutoff
        });
        let mut ended = Vec::with_capacity(idle.len());
        for s in &idle {
            if !s.ended.swap(true, Ordering::AcqRel) {
                let now = self.clock.now_us();
                self.close_session(s, now, "idle_timeout");
                ended.push(&*s.trace.session_id);
            }
        }
        if !ended.is_empty() {
            self.forget_sessions(&ended);
        }
        ended.len()
    }
}

/// The answer of [`Resolver::latest_resolution`]:
/// `{"session_id", "agent_id", "resolution_id", "expires_at", "expired"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LatestResolution {
    /// The session asked about.
    pub session_id: String,
    /// The agent the session belongs to.
    pub agent_id: String,
    /// Its most recent resolution.
    pub resolution_id: String,
    /// When that resolution expires (RFC 3339, microseconds).
    pub expires_at: String,
    /// Whether it had expired when asked (an execute against it fails with `RESOLUTION_EXPIRED`).
    pub expired: bool,
}
