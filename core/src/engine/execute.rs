//! `execute` (authorize one tool call), `report` (its outcome) and approvals.

use super::approvals::{Approval, ApprovalState, ApprovalStatus};
use super::call_events::{self, Call, Outcome};
use super::resolution::{DenyReason, Resolution, Verdict, VerdictKind};
use super::{Resolver, SessionState};
use crate::atlas::compile::{CompiledAtlas, NO_POLICY};
use crate::clock::format_rfc3339_us;
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::{
    CarpRequest, ExecuteAnswer, ExecuteStatus, ExecutionReport, Operation, CARP_VERSION,
};
use crate::trace::{EventPayload, EventType, SessionTrace};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

/// Shared execute answer (kept for idempotent replays).
pub(crate) type ExecuteAnswerArc = Arc<ExecuteAnswer>;

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
    /// 0 until reported, then 1 (executed) or 2 (failed).
    pub(crate) outcome: AtomicU8,
}

impl ExecutionRecord {
    /// `executed` / `failed` once reported.
    pub(crate) fn outcome(&self) -> Option<&'static str> {
        match self.outcome.load(Ordering::Acquire) {
            1 => Some("executed"),
            2 => Some("failed"),
            _ => None,
        }
    }
}

/// What `execute` decides for one action now: the resolution's verdict intersected with the
/// verdict of the atlases loaded at the time of the call (protocol.md §6, revocation).
pub(crate) enum Judged {
    /// The action is not among the resolution's actions.
    NotInResolution,
    /// The verdict, and the atlas whose policies it names.
    Verdict(Arc<CompiledAtlas>, Verdict),
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
        self.check_not_forked()?;
        request.check()?;
        let Some(ex) = request.execution.take() else {
            return Err(CraError::request(
                "/execution",
                "an execute request needs an execution",
            ));
        };
        let requester = &request.requester;
        // One lookup each of the session and the resolution; the clock is only peeked on the
        // way to an error (SESSION_ENDED, RESOLUTION_EXPIRED).
        let mut peeked = None;
        let mut peek = || *peeked.get_or_insert_with(|| self.clock.peek_us());
        let known = self.sessions.get(&requester.session_id);
        match &known {
            Some(s) if s.ended.load(Ordering::Acquire) => {
                return Err(CraError::at(
                    ErrorCode::SessionEnded,
                    "/requester/session_id",
                    format!(
                        "session {:?} has ended; start a new session",
                        requester.session_id
                    ),
                ));
            }
            Some(_) => {}
            None => {
                if let Some(e) = self.ended_error(&requester.session_id, peek()) {
                    return Err(e);
                }
            }
        }
        let Some(res) = self.resolutions.get(&ex.resolution_id) else {
            if let Some(e) = self.expired_error(&ex.resolution_id, peek()) {
                return Err(e);
            }
            return Err(CraError::at(ErrorCode::ResolutionNotFound, "/execution/resolution_id", format!("no resolution {:?} (never issued by this resolver, or forgotten after its session ended)", ex.resolution_id)));
        };
        if *res.session_id != *requester.session_id {
            return Err(CraError::request(
                "/requester/session_id",
                format!(
                    "resolution {:?} belongs to session {:?}, not {:?}",
                    ex.resolution_id, &*res.session_id, requester.session_id
                ),
            ));
        }
        let now = self.clock.now_us();
        let session = self.session_known(known, requester, now)?;
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
        let span: Arc<str> = Arc::from(self.next_id(now));
        let call = Arc::new(Call {
            request_id,
            resolution_id: ex.resolution_id,
            action_id: ex.action_id,
            idempotency_key: ex.idempotency_key,
            params: Arc::new(ex.parameters),
        });
        let fingerprint = || {
            let mut h = blake3::Hasher::new();
            h.update(call.resolution_id.as_bytes());
            h.update(&[0]);
            h.update(call.action_id.as_bytes());
            h.update(&[0]);
            h.update(&crate::trace::canonical_json(&call.params));
            h.finalize()
        };
        self.emit(
            &session.trace,
            &span,
            false,
            now,
            EventType::RequestReceived,
            call_events::received(&call),
        );
        if let Some(key) = &call.idempotency_key {
            let known = session.idempotency.lock().get(key).cloned();
            if let Some((fp, answer)) = known {
                if fp != fingerprint() {
                    return Err(CraError::request("/execution/idempotency_key", format!("idempotency key {key:?} was already used for a different action or parameters")));
                }
                // A replay: the original answer, marked, consuming nothing; once the execution
                // was reported, its outcome (protocol.md §6).
                let mut replayed = (*answer).clone();
                replayed.replayed = true;
                replayed.outcome = answer
                    .execution_id
                    .as_deref()
                    .and_then(|id| self.executions.get(id))
                    .and_then(|rec| rec.outcome());
                return Ok(Arc::new(replayed));
            }
        }
        self.counters.executes.fetch_add(1, Ordering::Relaxed);
        let answer = self.authorize(&res, &session, &call, &span, now)?;
        let answer = Arc::new(answer);
        if let Some(key) = &call.idempotency_key {
            let mut map = session.idempotency.lock();
            if map.len() >= self.config.max_idempotency_keys_per_session as usize {
                // Keys of expired resolutions can never be replayed (execute refuses the
                // resolution first): forget them before refusing a new key.
                let live = |rid: &str| {
                    self.resolutions
                        .get(rid)
                        .is_some_and(|r| r.expires_at_us > now)
                };
                map.retain(|_, (_, a)| live(&a.resolution_id));
            }
            if map.len() >= self.config.max_idempotency_keys_per_session as usize {
                return Err(CraError::at(ErrorCode::LimitExceeded, "/execution/idempotency_key", format!("session {:?} holds {} live idempotency keys (max_idempotency_keys_per_session)", &*session.trace.session_id, map.len())));
            }
            map.insert(key.clone(), (fingerprint(), answer.clone()));
        }
        Ok(answer)
    }

    /// The verdict on `action_id` for a call at `now`: the resolution's verdict intersected
    /// with the current atlases' (a deny added, an atlas unloaded or replaced after the resolve
    /// applies at once; the stricter of the two wins: denied > pending > allowed).
    pub(crate) fn judge(&self, res: &Resolution, action_id: &str, now: i64) -> Judged {
        let Some((res_atlas, res_idx, rv)) = res.verdict_of(action_id) else {
            return Judged::NotInResolution;
        };
        if matches!(rv.kind, VerdictKind::Denied(_)) && !rv.allowed_under_limit() {
            return Judged::Verdict(res_atlas.clone(), rv);
        }
        let snapshot = self.atlases.load();
        let Some((atlas, idx)) = snapshot.owner_of(action_id) else {
            // Unloaded since the resolve: nothing allows it any more.
            let v = Verdict {
                kind: VerdictKind::Denied(DenyReason::DefaultDeny),
                policy: NO_POLICY,
                action: res_idx,
                allow_policy: NO_POLICY,
            };
            return Judged::Verdict(res_atlas.clone(), v);
        };
        let ctx = crate::atlas::conditions::EvalCtx {
            now_us: now,
            ..res.eval_ctx()
        };
        let cv = super::resolve::ladder(atlas, idx, &atlas.actions[idx as usize], &ctx);
        if cv.kind == VerdictKind::Allowed && rv.kind == VerdictKind::Pending {
            return Judged::Verdict(res_atlas.clone(), rv);
        }
        Judged::Verdict(atlas.clone(), cv)
    }

    fn authorize(
        &self,
        res: &Arc<Resolution>,
        session: &Arc<SessionState>,
        call: &Arc<Call>,
        span: &Arc<str>,
        now: i64,
    ) -> Result<ExecuteAnswer> {
        let params = &call.params;
        let mut answer = ExecuteAnswer {
            carp_version: CARP_VERSION,
            request_id: call.request_id.clone(),
            execution_id: None,
            resolution_id: call.resolution_id.clone(),
            action_id: call.action_id.clone(),
            status: ExecuteStatus::Denied,
            reason_code: None,
            reason: None,
            policy_id: None,
            approval_id: None,
            timestamp: format_rfc3339_us(now),
            trace_id: session.trace.trace_id.to_string(),
            replayed: false,
            outcome: None,
        };
        let (atlas, verdict) = match self.judge(res, &call.action_id, now) {
            Judged::NotInResolution => {
                answer.reason_code = Some("not_in_resolution");
                answer.reason = Some(format!(
                    "action {:?} is not among the actions of resolution {:?}",
                    call.action_id, call.resolution_id
                ));
                return Ok(self.deny(answer, call, session, span, now));
            }
            Judged::Verdict(atlas, v) => (atlas, v),
        };
        self.shadow_execute(
            res,
            &atlas,
            &call.action_id,
            &verdict,
            &session.trace,
            span,
            now,
        );
        let idx = verdict.action;
        let action = &atlas.actions[idx as usize];
        answer.policy_id = (verdict.policy != NO_POLICY)
            .then(|| atlas.policies[verdict.policy as usize].id.to_string());
        if let VerdictKind::Denied(reason) = verdict.kind {
            answer.reason_code = Some(reason.code());
            answer.reason = Some(Resolution::deny_reason_text(&atlas, action, verdict));
            return Ok(self.deny(answer, call, session, span, now));
        }
        // Allowed or pending approval: parameters first (nobody approves an invalid call).
        if let Some(v) = &action.validator {
            if let Err((ptr, msg)) = v.validate(params) {
                let pointer = format!("/execution/parameters{ptr}");
                let outcome = Outcome::InvalidParameters {
                    pointer: pointer.clone(),
                };
                self.emit(
                    &session.trace,
                    span,
                    false,
                    now,
                    EventType::ActionDenied,
                    call_events::decided(call, outcome),
                );
                return Err(CraError::at(
                    ErrorCode::InvalidParameters,
                    pointer,
                    format!(
                        "parameters of {:?} do not match its schema: {msg}",
                        call.action_id
                    ),
                ));
            }
        }
        let ctx = res.eval_ctx();
        let ctx = crate::atlas::conditions::EvalCtx { now_us: now, ..ctx };
        let limits = self.applied_limits(
            &atlas,
            idx,
            action,
            &ctx,
            &session.trace.session_id,
            &session.agent_id,
        );
        let rate_limited = |answer: &mut ExecuteAnswer, l: &super::ratelimit::AppliedLimit| {
            answer.reason_code = Some(DenyReason::RateLimitExceeded.code());
            answer.policy_id = l.policy_id.as_deref().map(str::to_string);
            answer.reason = Some(format!(
                "rate limit of {} calls per {} s for action {:?} is exhausted",
                l.spec.max_calls, l.spec.window_seconds, call.action_id
            ));
        };
        if verdict.kind == VerdictKind::Pending {
            let approval = self.approval_for_call(&atlas, verdict, res, session, params, now)?;
            answer.approval_id = Some(approval.approval_id.to_string());
            let mut st = approval.state.lock();
            let live = now < approval.expires_at_us;
            match st.status {
                ApprovalStatus::Approved if live => {
                    // Consumed under its lock, so two concurrent calls cannot both use it.
                    if let Err(l) = self.limiter.consume(&limits, now) {
                        drop(st);
                        rate_limited(&mut answer, l);
                        return Ok(self.deny(answer, call, session, span, now));
                    }
                    st.status = ApprovalStatus::Consumed;
                }
                ApprovalStatus::Rejected if live => {
                    drop(st);
                    answer.reason_code = Some("approval_rejected");
                    answer.reason = Some(format!(
                        "approval {:?} was rejected",
                        &*approval.approval_id
                    ));
                    return Ok(self.deny(answer, call, session, span, now));
                }
                _ => {
                    drop(st);
                    answer.status = ExecuteStatus::PendingApproval;
                    answer.reason_code = Some("approval_required");
                    answer.reason = Some(approval.policy_reason.clone());
                    let outcome = Outcome::Pending {
                        approval_id: answer.approval_id.clone(),
                        policy_id: answer.policy_id.clone(),
                    };
                    self.emit(
                        &session.trace,
                        span,
                        false,
                        now,
                        EventType::ActionRequested,
                        call_events::decided(call, outcome),
                    );
                    return Ok(answer);
                }
            }
        } else if let Err(l) = self.limiter.consume(&limits, now) {
            rate_limited(&mut answer, l);
            return Ok(self.deny(answer, call, session, span, now));
        }
        let execution_id = self.next_id(now);
        answer.status = ExecuteStatus::Authorized;
        answer.execution_id = Some(execution_id.clone());
        let outcome = Outcome::Authorized {
            execution_id: execution_id.clone(),
            policy_id: answer.policy_id.clone(),
            approval_id: answer.approval_id.clone(),
        };
        self.emit(
            &session.trace,
            span,
            false,
            now,
            EventType::ActionRequested,
            call_events::decided(call, outcome),
        );
        let rec = ExecutionRecord {
            execution_id: Arc::from(execution_id.as_str()),
            session: session.clone(),
            action_id: action.id.clone(),
            resolution_id: answer.resolution_id.clone(),
            span: span.clone(),
            started_us: now,
            reported: AtomicBool::new(false),
            outcome: AtomicU8::new(0),
        };
        self.executions.insert(&execution_id, Arc::new(rec));
        self.counters.authorized.fetch_add(1, Ordering::Relaxed);
        Ok(answer)
    }

    /// The approval of this exact call (session, action, canonical parameters): the live one
    /// if there is one, else a new pending one (expired and consumed ones are replaced).
    /// Errors: `LIMIT_EXCEEDED` when the session holds `max_approvals_per_session` live ones.
    fn approval_for_call(
        &self,
        atlas: &CompiledAtlas,
        verdict: Verdict,
        res: &Resolution,
        session: &Arc<SessionState>,
        params: &Arc<Value>,
        now: i64,
    ) -> Result<Arc<Approval>> {
        let action = &atlas.actions[verdict.action as usize];
        let digest = *blake3::hash(&crate::trace::canonical_json(params)).as_bytes();
        let key = (action.id.clone(), digest);
        let mut map = session.approvals.lock();
        if let Some(a) = map.get(&key) {
            let st = a.state.lock().status;
            let live = now < a.expires_at_us;
            if live && st != ApprovalStatus::Consumed {
                return Ok(a.clone());
            }
        }
        if map.len() >= self.config.max_approvals_per_session as usize {
            map.retain(|_, a| {
                now < a.expires_at_us && a.state.lock().status != ApprovalStatus::Consumed
            });
        }
        if map.len() >= self.config.max_approvals_per_session as usize {
            return Err(CraError::at(
                ErrorCode::LimitExceeded,
                "/execution/parameters",
                format!(
                    "session {:?} already waits for {} approvals (max_approvals_per_session)",
                    &*session.trace.session_id,
                    map.len()
                ),
            ));
        }
        let policy = &atlas.policies[verdict.policy as usize];
        let timeout = policy
            .approval_timeout_seconds
            .unwrap_or(self.config.approval_timeout_seconds);
        let a = Arc::new(Approval {
            approval_id: Arc::from(self.next_id(now)),
            trace: session.trace.clone(),
            agent_id: session.agent_id.clone(),
            session: Arc::downgrade(session),
            action_id: action.id.clone(),
            atlas_id: atlas.id.clone(),
            parameters: params.clone(),
            digest,
            policy_id: Some(policy.id.clone()),
            policy_reason: Resolution::deny_reason_text(atlas, action, verdict),
            resolution_id: res.resolution_id.clone(),
            created_us: now,
            expires_at_us: now + timeout as i64 * 1_000_000,
            state: Mutex::new(ApprovalState {
                status: ApprovalStatus::Pending,
                approver: None,
                reason: None,
                decided_us: None,
            }),
        });
        // A replaced (consumed or expired) approval stays findable by id until pruned.
        map.insert(key, a.clone());
        drop(map);
        self.approvals.insert(&a.approval_id, a.clone());
        Ok(a)
    }

    fn deny(
        &self,
        answer: ExecuteAnswer,
        call: &Arc<Call>,
        session: &Arc<SessionState>,
        span: &Arc<str>,
        now: i64,
    ) -> ExecuteAnswer {
        self.counters.denied.fetch_add(1, Ordering::Relaxed);
        let payload = call_events::decided(
            call,
            Outcome::Denied {
                reason_code: answer.reason_code,
                policy_id: answer.policy_id.clone(),
                approval_id: answer.approval_id.clone(),
            },
        );
        let trace: &Arc<SessionTrace> = &session.trace;
        let violated = matches!(
            answer.reason_code,
            Some("policy_denied") | Some("default_deny") | Some("not_in_resolution")
        );
        if violated {
            // Both events carry the same payload: one shared source.
            self.emit(
                trace,
                span,
                false,
                now,
                EventType::ActionDenied,
                payload.clone(),
            );
            self.emit(trace, span, false, now, EventType::PolicyViolated, payload);
        } else {
            self.emit(trace, span, false, now, EventType::ActionDenied, payload);
        }
        answer
    }

    /// Records the outcome of an authorized call (`action.executed` or `action.failed`).
    /// Errors: `EXECUTION_NOT_FOUND`, `EXECUTION_ALREADY_REPORTED`.
    pub fn report(&self, report: &ExecutionReport) -> Result<super::ReportReceipt> {
        self.check_not_forked()?;
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
        rec.outcome.store(
            if report.error.is_some() { 2 } else { 1 },
            Ordering::Release,
        );
        let now = self.clock.now_us();
        let base = json!({"execution_id": &*rec.execution_id, "resolution_id": rec.resolution_id, "action_id": &*rec.action_id, "duration_ms": report.duration_ms});
        let (ty, status, payload) = match &report.error {
            Some(err) => {
                let mut p = base;
                p["error"] = json!({"message": err.message, "code": err.code});
                (
                    EventType::ActionFailed,
                    super::ReportStatus::Failed,
                    EventPayload::Json(p),
                )
            }
            None => {
                let result = Arc::new(report.result.clone().unwrap_or(Value::Null));
                (
                    EventType::ActionExecuted,
                    super::ReportStatus::Executed,
                    hashed(base, "result_hash", &result),
                )
            }
        };
        self.emit(&rec.session.trace, &rec.span, false, now, ty, payload);
        self.counters.reports.fetch_add(1, Ordering::Relaxed);
        Ok(super::ReportReceipt {
            execution_id: rec.execution_id.to_string(),
            status,
            action_id: rec.action_id.to_string(),
            recorded_at: format_rfc3339_us(now),
            elapsed_us: now - rec.started_us,
        })
    }
}
