//! `execute` (authorize one tool call), `report` (its outcome) and approvals.

use super::resolution::{DenyReason, Resolution, VerdictKind};
use super::{Resolver, SessionState};
use crate::clock::format_rfc3339_us;
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::{
    ApprovalDecision, CarpRequest, ExecuteAnswer, ExecuteStatus, ExecutionReport, Operation,
    CARP_VERSION,
};
use crate::trace::{EventPayload, EventType, SessionTrace};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared execute answer (kept for idempotent replays).
pub(crate) type ExecuteAnswerArc = Arc<ExecuteAnswer>;

/// State of an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Granted.
    Approved,
    /// Refused.
    Rejected,
}

impl ApprovalStatus {
    fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
        }
    }
}

#[derive(Debug)]
pub(crate) struct ApprovalState {
    pub status: ApprovalStatus,
    pub approver: Option<String>,
    pub reason: Option<String>,
    pub decided_us: Option<i64>,
}

/// An approval request covering every pending action of one resolution.
#[derive(Debug)]
pub struct Approval {
    pub(crate) approval_id: Arc<str>,
    pub(crate) resolution: Arc<Resolution>,
    pub(crate) session: Arc<SessionState>,
    pub(crate) created_us: i64,
    pub(crate) expires_at_us: i64,
    pub(crate) resolution_expires_us: i64,
    pub(crate) state: Mutex<ApprovalState>,
}

impl Approval {
    fn to_json(&self, st: &ApprovalState, now_us: i64) -> Value {
        let status = if st.status == ApprovalStatus::Pending && now_us >= self.expires_at_us {
            "expired"
        } else {
            st.status.as_str()
        };
        json!({
            "approval_id": &*self.approval_id,
            "status": status,
            "resolution_id": self.resolution.resolution_id,
            "session_id": &*self.session.trace.session_id,
            "actions": self.resolution.pending_action_ids(),
            "created_at": format_rfc3339_us(self.created_us),
            "expires_at": format_rfc3339_us(self.expires_at_us),
            "approver": st.approver,
            "reason": st.reason,
            "decided_at": st.decided_us.map(format_rfc3339_us),
        })
    }
}

/// An authorized call waiting for its outcome.
#[derive(Debug)]
pub struct ExecutionRecord {
    pub(crate) execution_id: Arc<str>,
    pub(crate) session: Arc<SessionState>,
    pub(crate) action_id: Arc<str>,
    pub(crate) resolution_id: String,
    pub(crate) span: Arc<str>,
    pub(crate) started_us: i64,
    pub(crate) reported: AtomicBool,
}

/// BLAKE3 of a JSON value's canonical (RFC 8785) form, lowercase hex.
pub(crate) fn value_hash(v: &Value) -> String {
    blake3::hash(&crate::trace::canonical_json(v))
        .to_hex()
        .to_string()
}

/// A payload whose `field` is the hash of `value`, computed by the recorder (off the caller's
/// thread), so parameters and results are referenced by hash, never copied into the trace.
#[derive(Debug)]
struct HashedPayload {
    base: Value,
    field: &'static str,
    value: Arc<Value>,
}

impl crate::trace::PayloadSource for HashedPayload {
    fn render(&self, _view: EventType) -> Value {
        let mut v = self.base.clone();
        if let Value::Object(m) = &mut v {
            m.insert(self.field.into(), Value::String(value_hash(&self.value)));
        }
        v
    }
}

fn hashed(base: Value, field: &'static str, value: &Arc<Value>) -> EventPayload {
    EventPayload::Lazy(Arc::new(HashedPayload {
        base,
        field,
        value: value.clone(),
    }))
}

impl Resolver {
    pub(crate) fn register_approval(
        &self,
        id: &str,
        resolution: &Arc<Resolution>,
        session: &Arc<SessionState>,
        now_us: i64,
        timeout_s: u32,
    ) {
        let a = Approval {
            approval_id: Arc::from(id),
            resolution: resolution.clone(),
            session: session.clone(),
            created_us: now_us,
            expires_at_us: now_us + timeout_s as i64 * 1_000_000,
            resolution_expires_us: resolution.expires_at_us,
            state: Mutex::new(ApprovalState {
                status: ApprovalStatus::Pending,
                approver: None,
                reason: None,
                decided_us: None,
            }),
        };
        self.approvals.insert(id, Arc::new(a));
    }

    /// Approves an approval: every pending action of its resolution becomes executable.
    /// Errors: `APPROVAL_NOT_FOUND`, `APPROVAL_EXPIRED`, `APPROVAL_ALREADY_DECIDED`.
    pub fn approve(&self, d: &ApprovalDecision) -> Result<Value> {
        self.decide(d, ApprovalStatus::Approved)
    }

    /// Rejects an approval: its pending actions are denied with `approval_rejected`.
    pub fn reject(&self, d: &ApprovalDecision) -> Result<Value> {
        self.decide(d, ApprovalStatus::Rejected)
    }

    /// The current state of an approval.
    pub fn approval(&self, approval_id: &str) -> Result<Value> {
        let a = self.approvals.get(approval_id).ok_or_else(|| {
            CraError::at(
                ErrorCode::ApprovalNotFound,
                "/approval_id",
                format!("no approval {approval_id:?}"),
            )
        })?;
        let st = a.state.lock();
        Ok(a.to_json(&st, self.clock.peek_us()))
    }

    fn decide(&self, d: &ApprovalDecision, to: ApprovalStatus) -> Result<Value> {
        let a = self.approvals.get(&d.approval_id).ok_or_else(|| {
            CraError::at(
                ErrorCode::ApprovalNotFound,
                "/approval_id",
                format!("no approval {:?}", d.approval_id),
            )
        })?;
        let now = self.clock.now_us();
        let mut st = a.state.lock();
        if st.status != ApprovalStatus::Pending {
            return Err(CraError::at(
                ErrorCode::ApprovalAlreadyDecided,
                "/approval_id",
                format!(
                    "approval {:?} was already {}",
                    d.approval_id,
                    st.status.as_str()
                ),
            ));
        }
        if now >= a.expires_at_us {
            return Err(CraError::at(
                ErrorCode::ApprovalExpired,
                "/approval_id",
                format!(
                    "approval {:?} expired at {}",
                    d.approval_id,
                    format_rfc3339_us(a.expires_at_us)
                ),
            ));
        }
        st.status = to;
        st.approver = d.approver.clone();
        st.reason = d.reason.clone();
        st.decided_us = Some(now);
        let out = a.to_json(&st, now);
        drop(st);
        let span: Arc<str> = Arc::from(self.next_id(now));
        let ty = if to == ApprovalStatus::Approved {
            EventType::ActionApproved
        } else {
            EventType::ActionDenied
        };
        let payload = json!({
            "approval_id": d.approval_id,
            "resolution_id": a.resolution.resolution_id,
            "actions": a.resolution.pending_action_ids(),
            "approver": d.approver,
            "reason": d.reason,
            "decision": to.as_str(),
        });
        self.emit(
            &a.session.trace,
            &span,
            false,
            now,
            ty,
            EventPayload::Json(payload),
        );
        Ok(out)
    }

    /// Authorizes one tool call (protocol.md §3 "Execute"). The answer is `authorized` (run the
    /// tool, then [`Resolver::report`] with the `execution_id`), `denied` or `pending_approval`.
    ///
    /// Errors: `RESOLUTION_NOT_FOUND`, `RESOLUTION_EXPIRED`, `INVALID_PARAMETERS` (with the
    /// pointer of the offending parameter), `INVALID_REQUEST`, `SESSION_ENDED`.
    pub fn execute(&self, mut request: CarpRequest) -> Result<Arc<ExecuteAnswer>> {
        if request.operation != Operation::Execute {
            return Err(CraError::request(
                "/operation",
                "execute needs operation \"execute\"",
            ));
        }
        request.check()?;
        let ex = request.execution.as_ref().ok_or_else(|| {
            CraError::request("/execution", "an execute request needs an execution")
        })?;
        if let Some(s) = self.sessions.get(&request.requester.session_id) {
            if s.ended.load(Ordering::Acquire) {
                return Err(CraError::at(
                    ErrorCode::SessionEnded,
                    "/requester/session_id",
                    format!(
                        "session {:?} has ended; start a new session",
                        request.requester.session_id
                    ),
                ));
            }
        }
        let res = self.resolutions.get(&ex.resolution_id).ok_or_else(|| CraError::at(ErrorCode::ResolutionNotFound, "/execution/resolution_id", format!("no resolution {:?} (never issued by this resolver, or forgotten after its session ended)", ex.resolution_id)))?;
        if *res.session_id != *request.requester.session_id {
            return Err(CraError::request(
                "/requester/session_id",
                format!(
                    "resolution {:?} belongs to session {:?}, not {:?}",
                    ex.resolution_id, &*res.session_id, request.requester.session_id
                ),
            ));
        }
        let now = self.clock.now_us();
        let session = self.session_for(&request.requester, now)?;
        self.maybe_prune(now);
        if now >= res.expires_at_us {
            return Err(CraError::at(
                ErrorCode::ResolutionExpired,
                "/execution/resolution_id",
                format!(
                    "resolution {:?} expired at {}; resolve again",
                    ex.resolution_id,
                    format_rfc3339_us(res.expires_at_us)
                ),
            ));
        }
        let request_id = match request.request_id.take() {
            Some(id) => id,
            None => self.next_id(now),
        };
        request.request_id = Some(request_id.clone());
        let ex = request
            .execution
            .as_ref()
            .ok_or_else(|| CraError::request("/execution", "missing execution"))?;
        let fingerprint = || {
            let mut h = blake3::Hasher::new();
            h.update(ex.resolution_id.as_bytes());
            h.update(&[0]);
            h.update(ex.action_id.as_bytes());
            h.update(&[0]);
            h.update(&crate::trace::canonical_json(&ex.parameters));
            h.finalize()
        };
        let span: Arc<str> = Arc::from(self.next_id(now));
        let params = Arc::new(ex.parameters.clone());
        let received = json!({
            "request_id": request_id,
            "operation": "execute",
            "resolution_id": ex.resolution_id,
            "action_id": ex.action_id,
            "idempotency_key": ex.idempotency_key,
        });
        self.emit(
            &session.trace,
            &span,
            false,
            now,
            EventType::RequestReceived,
            hashed(received, "parameters_hash", &params),
        );
        if let Some(key) = &ex.idempotency_key {
            if let Some((fp, answer)) = session.idempotency.lock().get(key).cloned() {
                if fp != fingerprint() {
                    return Err(CraError::request("/execution/idempotency_key", format!("idempotency key {key:?} was already used for a different action or parameters")));
                }
                return Ok(answer);
            }
        }
        self.counters.executes.fetch_add(1, Ordering::Relaxed);
        let answer = self.authorize(&res, &session, &request, &request_id, &span, &params, now)?;
        let answer = Arc::new(answer);
        if let Some(key) = &ex.idempotency_key {
            session
                .idempotency
                .lock()
                .insert(key.clone(), (fingerprint(), answer.clone()));
        }
        Ok(answer)
    }

    #[allow(clippy::too_many_arguments)]
    fn authorize(
        &self,
        res: &Arc<Resolution>,
        session: &Arc<SessionState>,
        request: &CarpRequest,
        request_id: &str,
        span: &Arc<str>,
        params: &Arc<Value>,
        now: i64,
    ) -> Result<ExecuteAnswer> {
        let ex = request
            .execution
            .as_ref()
            .ok_or_else(|| CraError::request("/execution", "missing execution"))?;
        let mut answer = ExecuteAnswer {
            carp_version: CARP_VERSION,
            request_id: request_id.to_string(),
            execution_id: None,
            resolution_id: ex.resolution_id.clone(),
            action_id: ex.action_id.clone(),
            status: ExecuteStatus::Denied,
            reason_code: None,
            reason: None,
            policy_id: None,
            approval_id: None,
            timestamp: format_rfc3339_us(now),
            trace_id: session.trace.trace_id.to_string(),
        };
        let Some((atlas, idx, verdict)) = res.verdict_of(&ex.action_id) else {
            answer.reason_code = Some("not_in_resolution");
            answer.reason = Some(format!(
                "action {:?} is not among the actions of resolution {:?}",
                ex.action_id, ex.resolution_id
            ));
            return Ok(self.deny(answer, session, span, now));
        };
        let action = &atlas.actions[idx as usize];
        let verdict = if verdict.allowed_under_limit() {
            // Limited when resolved; the limit is checked again (and consumed) below.
            super::resolution::Verdict {
                kind: VerdictKind::Allowed,
                policy: verdict.allow_policy,
                ..verdict
            }
        } else {
            verdict
        };
        answer.policy_id = (verdict.policy != crate::atlas::compile::NO_POLICY)
            .then(|| atlas.policies[verdict.policy as usize].id.to_string());
        match verdict.kind {
            VerdictKind::Denied(reason) => {
                answer.reason_code = Some(reason.code());
                answer.reason = Some(Resolution::deny_reason_text(atlas, action, verdict));
                return Ok(self.deny(answer, session, span, now));
            }
            VerdictKind::Pending => {
                let approval_id = res.approval_id.clone().unwrap_or_default();
                answer.approval_id = Some(approval_id.clone());
                let approval = self.approvals.get(&approval_id);
                let (status, expired) = match &approval {
                    Some(a) => (a.state.lock().status, now >= a.expires_at_us),
                    None => (ApprovalStatus::Pending, true),
                };
                match (status, expired) {
                    (ApprovalStatus::Approved, _) => {}
                    (ApprovalStatus::Rejected, _) => {
                        answer.reason_code = Some("approval_rejected");
                        answer.reason = Some(format!("approval {approval_id:?} was rejected"));
                        return Ok(self.deny(answer, session, span, now));
                    }
                    (ApprovalStatus::Pending, true) => {
                        answer.reason_code = Some("approval_expired");
                        answer.reason = Some(format!(
                            "approval {approval_id:?} expired before it was decided"
                        ));
                        return Ok(self.deny(answer, session, span, now));
                    }
                    (ApprovalStatus::Pending, false) => {
                        answer.status = ExecuteStatus::PendingApproval;
                        answer.reason_code = Some("approval_required");
                        answer.reason = Some(Resolution::deny_reason_text(atlas, action, verdict));
                        let payload = json!({"resolution_id": answer.resolution_id, "action_id": answer.action_id, "status": "pending_approval", "approval_id": approval_id});
                        self.emit(
                            &session.trace,
                            span,
                            false,
                            now,
                            EventType::ActionRequested,
                            hashed(payload, "parameters_hash", params),
                        );
                        return Ok(answer);
                    }
                }
            }
            VerdictKind::Allowed => {}
        }
        // Allowed (or approved): parameters, then rate limits.
        if let Some(v) = &action.validator {
            if let Err((ptr, msg)) = v.validate(&ex.parameters) {
                let pointer = format!("/execution/parameters{ptr}");
                let payload = json!({"resolution_id": answer.resolution_id, "action_id": answer.action_id, "reason_code": "invalid_parameters", "pointer": pointer});
                self.emit(
                    &session.trace,
                    span,
                    false,
                    now,
                    EventType::ActionDenied,
                    EventPayload::Json(payload),
                );
                return Err(CraError::at(
                    ErrorCode::InvalidParameters,
                    pointer,
                    format!(
                        "parameters of {:?} do not match its schema: {msg}",
                        ex.action_id
                    ),
                ));
            }
        }
        let ctx = res.eval_ctx();
        let ctx = crate::engine::conditions::EvalCtx { now_us: now, ..ctx };
        let limits = self.applied_limits(
            atlas,
            idx,
            action,
            &ctx,
            &session.trace.session_id,
            &session.agent_id,
        );
        if let Err(l) = self.limiter.consume(&limits, now) {
            answer.reason_code = Some(DenyReason::RateLimitExceeded.code());
            answer.policy_id = l.policy_id.as_deref().map(str::to_string);
            answer.reason = Some(format!(
                "rate limit of {} calls per {} s for action {:?} is exhausted",
                l.spec.max_calls, l.spec.window_seconds, ex.action_id
            ));
            return Ok(self.deny(answer, session, span, now));
        }
        let execution_id = self.next_id(now);
        answer.status = ExecuteStatus::Authorized;
        answer.execution_id = Some(execution_id.clone());
        let payload = json!({"execution_id": execution_id, "resolution_id": answer.resolution_id, "action_id": answer.action_id, "status": "authorized", "policy_id": answer.policy_id, "approval_id": answer.approval_id});
        self.emit(
            &session.trace,
            span,
            false,
            now,
            EventType::ActionRequested,
            hashed(payload, "parameters_hash", params),
        );
        let rec = ExecutionRecord {
            execution_id: Arc::from(execution_id.as_str()),
            session: session.clone(),
            action_id: action.id.clone(),
            resolution_id: answer.resolution_id.clone(),
            span: span.clone(),
            started_us: now,
            reported: AtomicBool::new(false),
        };
        self.executions.insert(&execution_id, Arc::new(rec));
        self.counters.authorized.fetch_add(1, Ordering::Relaxed);
        Ok(answer)
    }

    fn deny(
        &self,
        answer: ExecuteAnswer,
        session: &Arc<SessionState>,
        span: &Arc<str>,
        now: i64,
    ) -> ExecuteAnswer {
        self.counters.denied.fetch_add(1, Ordering::Relaxed);
        let payload = json!({
            "resolution_id": answer.resolution_id, "action_id": answer.action_id,
            "reason_code": answer.reason_code, "policy_id": answer.policy_id, "approval_id": answer.approval_id,
        });
        let trace: &Arc<SessionTrace> = &session.trace;
        self.emit(
            trace,
            span,
            false,
            now,
            EventType::ActionDenied,
            EventPayload::Json(payload.clone()),
        );
        if matches!(
            answer.reason_code,
            Some("policy_denied") | Some("default_deny") | Some("not_in_resolution")
        ) {
            self.emit(
                trace,
                span,
                false,
                now,
                EventType::PolicyViolated,
                EventPayload::Json(payload),
            );
        }
        answer
    }

    /// Records the outcome of an authorized call (`action.executed` or `action.failed`).
    /// Errors: `EXECUTION_NOT_FOUND`, `EXECUTION_ALREADY_REPORTED`.
    pub fn report(&self, report: &ExecutionReport) -> Result<Value> {
        let rec = self.executions.get(&report.execution_id).ok_or_else(|| {
            CraError::at(
                ErrorCode::ExecutionNotFound,
                "/execution_id",
                format!("no execution {:?}", report.execution_id),
            )
        })?;
        if rec.reported.swap(true, Ordering::AcqRel) {
            return Err(CraError::at(
                ErrorCode::ExecutionAlreadyReported,
                "/execution_id",
                format!("execution {:?} was already reported", report.execution_id),
            ));
        }
        let now = self.clock.now_us();
        let base = json!({"execution_id": &*rec.execution_id, "resolution_id": rec.resolution_id, "action_id": &*rec.action_id, "duration_ms": report.duration_ms});
        let (ty, status, payload) = match &report.error {
            Some(err) => {
                let mut p = base;
                p["error"] = json!({"message": err.message, "code": err.code});
                (EventType::ActionFailed, "failed", EventPayload::Json(p))
            }
            None => {
                let result = Arc::new(report.result.clone().unwrap_or(Value::Null));
                (
                    EventType::ActionExecuted,
                    "executed",
                    hashed(base, "result_hash", &result),
                )
            }
        };
        self.emit(&rec.session.trace, &rec.span, false, now, ty, payload);
        self.counters.reports.fetch_add(1, Ordering::Relaxed);
        Ok(
            json!({"execution_id": &*rec.execution_id, "status": status, "action_id": &*rec.action_id, "recorded_at": format_rfc3339_us(now), "elapsed_us": now - rec.started_us}),
        )
    }
}
