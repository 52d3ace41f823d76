//! Approvals: one per tool call (protocol.md §6).
//!
//! `execute` of an action that needs approval creates (or finds) the approval bound to
//! (session, action, canonical digest of the parameters). A human approves or rejects it; an
//! approved approval authorizes exactly one later `execute` of the same action with the same
//! parameters in that session, which consumes it. Approvals belong to the session, not to a
//! resolution, so they survive a new resolve; they expire on their own timeout and are
//! forgotten `approval_retention_seconds` after that.

use super::{Resolver, SessionState};
use crate::clock::format_rfc3339_us;
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::ApprovalDecision;
use crate::trace::{EventPayload, EventType};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// State of an approval (its wire name in answers and filters: `pending`, `approved`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Granted, not yet used.
    Approved,
    /// Refused.
    Rejected,
    /// Granted and used by the call it authorized.
    Consumed,
    /// Pending or approved past its expiry: it can no longer be decided or used. Only seen in
    /// answers ([`ApprovalRecord::status`]); never stored.
    Expired,
}

impl ApprovalStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Consumed => "consumed",
            ApprovalStatus::Expired => "expired",
        }
    }
}

/// The mutable part of an approval.
#[derive(Debug)]
pub(crate) struct ApprovalState {
    pub status: ApprovalStatus,
    pub approver: Option<String>,
    pub reason: Option<String>,
    pub decided_us: Option<i64>,
}

/// What a session's approvals are keyed by: the action and the BLAKE3 digest of the canonical
/// JSON of the parameters.
pub(crate) type ApprovalKey = (Arc<str>, [u8; 32]);

/// An approval as answers show it ([`Resolver::approval`], [`Resolver::approvals`],
/// [`Resolver::approve`], [`Resolver::reject`]): everything an approval UI needs to show a human
/// exactly which call is asked for, and what was decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRecord {
    /// The approval's id (the `approval_id` of the `pending_approval` execute answer).
    pub approval_id: String,
    /// Its status now (`expired` once past `expires_at` while pending or approved).
    pub status: ApprovalStatus,
    /// The session that asked.
    pub session_id: String,
    /// The agent that asked.
    pub agent_id: String,
    /// The atlas that declares the action.
    pub atlas_id: String,
    /// The action asked for.
    pub action_id: String,
    /// The call's parameters, as the agent sent them (the approval covers exactly these).
    pub parameters: Value,
    /// BLAKE3 of the canonical JSON of `parameters`, lowercase hex.
    pub parameters_hash: String,
    /// The `require_approval` policy that asked for it.
    pub policy_id: Option<String>,
    /// That policy's reason.
    pub policy_reason: String,
    /// The resolution the call was made under.
    pub resolution_id: String,
    /// When it was asked for (RFC 3339, microseconds, UTC).
    pub created_at: String,
    /// When it expires (RFC 3339, microseconds, UTC).
    pub expires_at: String,
    /// Who decided it, once decided.
    pub approver: Option<String>,
    /// The reason the approver gave, if any.
    pub reason: Option<String>,
    /// When it was decided (RFC 3339, microseconds, UTC).
    pub decided_at: Option<String>,
}

/// One approval request: exactly one call (session, action, parameters).
#[derive(Debug)]
pub(crate) struct Approval {
    pub(crate) approval_id: Arc<str>,
    /// The session's trace (events of the decision go to its chain).
    pub(crate) trace: Arc<crate::trace::SessionTrace>,
    /// The agent that asked.
    pub(crate) agent_id: Arc<str>,
    /// The session that holds it (weak: the session holds its approvals).
    pub(crate) session: std::sync::Weak<SessionState>,
    pub(crate) action_id: Arc<str>,
    pub(crate) atlas_id: Arc<str>,
    pub(crate) parameters: Arc<Value>,
    pub(crate) digest: [u8; 32],
    pub(crate) policy_id: Option<Arc<str>>,
    pub(crate) policy_reason: String,
    pub(crate) resolution_id: String,
    pub(crate) created_us: i64,
    pub(crate) expires_at_us: i64,
    pub(crate) state: Mutex<ApprovalState>,
}

/// Hex of a digest.
fn hex(d: &[u8; 32]) -> String {
    blake3::Hash::from_bytes(*d).to_hex().to_string()
}

impl Approval {
    pub(crate) fn key(&self) -> ApprovalKey {
        (self.action_id.clone(), self.digest)
    }

    /// The wire status at `now_us` (`expired` for a pending or approved one past its expiry).
    fn status_at(&self, st: &ApprovalState, now_us: i64) -> ApprovalStatus {
        match st.status {
            ApprovalStatus::Pending | ApprovalStatus::Approved if now_us >= self.expires_at_us => {
                ApprovalStatus::Expired
            }
            s => s,
        }
    }

    pub(crate) fn record(&self, st: &ApprovalState, now_us: i64) -> ApprovalRecord {
        ApprovalRecord {
            approval_id: self.approval_id.to_string(),
            status: self.status_at(st, now_us),
            session_id: self.trace.session_id.to_string(),
            agent_id: self.agent_id.to_string(),
            atlas_id: self.atlas_id.to_string(),
            action_id: self.action_id.to_string(),
            parameters: (*self.parameters).clone(),
            parameters_hash: hex(&self.digest),
            policy_id: self.policy_id.as_deref().map(str::to_string),
            policy_reason: self.policy_reason.clone(),
            resolution_id: self.resolution_id.clone(),
            created_at: format_rfc3339_us(self.created_us),
            expires_at: format_rfc3339_us(self.expires_at_us),
            approver: st.approver.clone(),
            reason: st.reason.clone(),
            decided_at: st.decided_us.map(format_rfc3339_us),
        }
    }
}

/// Which approvals [`Resolver::approvals`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalFilter {
    /// Only this session's.
    pub session_id: Option<String>,
    /// Only these statuses (`pending`, `approved`, `rejected`, `consumed`, `expired`);
    /// default `["pending"]`.
    pub status: Option<Vec<String>>,
}

impl Resolver {
    /// Approves an approval: the one call it was asked for (same session, action and
    /// parameters) is authorized once. `approver` is required and may not be the agent that
    /// asked. Errors: `APPROVAL_NOT_FOUND`, `APPROVAL_EXPIRED`, `APPROVAL_ALREADY_DECIDED`,
    /// `APPROVAL_FORBIDDEN`.
    pub fn approve(&self, d: &ApprovalDecision) -> Result<ApprovalRecord> {
        self.decide(d, ApprovalStatus::Approved)
    }

    /// Rejects an approval: the call it was asked for is denied (`approval_rejected`) until
    /// the approval expires. `approver` is required. Same errors as [`Resolver::approve`].
    pub fn reject(&self, d: &ApprovalDecision) -> Result<ApprovalRecord> {
        self.decide(d, ApprovalStatus::Rejected)
    }

    /// The current state of an approval.
    pub fn approval(&self, approval_id: &str) -> Result<ApprovalRecord> {
        let a = self.find_approval(approval_id)?;
        let st = a.state.lock();
        Ok(a.record(&st, self.clock.peek_us()))
    }

    /// The approvals the filter selects (default: every pending one), oldest first, each with
    /// agent, action, parameters, policy, reason and expiry, so an approval UI can show a
    /// human exactly what is asked.
    pub fn approvals(&self, filter: &ApprovalFilter) -> Vec<ApprovalRecord> {
        let now = self.clock.peek_us();
        let mut list = self.approvals.filter_values(|a| {
            filter
                .session_id
                .as_deref()
                .is_none_or(|s| *a.trace.session_id == *s)
        });
        crate::sort::sort_by(&mut list, |a, b| {
            (a.created_us, &a.approval_id).cmp(&(b.created_us, &b.approval_id))
        });
        list.iter()
            .filter_map(|a| {
                let st = a.state.lock();
                let status = a.status_at(&st, now);
                let wanted = match &filter.status {
                    None => status == ApprovalStatus::Pending,
                    Some(l) => l.iter().any(|s| s == status.as_str()),
                };
                wanted.then(|| a.record(&st, now))
            })
            .collect()
    }

    fn find_approval(&self, approval_id: &str) -> Result<Arc<Approval>> {
        self.approvals.get(approval_id).ok_or_else(|| {
            CraError::at(
                ErrorCode::ApprovalNotFound,
                "/approval_id",
                format!("no approval {approval_id:?}"),
            )
        })
    }

    fn decide(&self, d: &ApprovalDecision, to: ApprovalStatus) -> Result<ApprovalRecord> {
        self.check_not_forked()?;
        let a = self.find_approval(&d.approval_id)?;
        let approver = match d.approver.as_deref() {
            Some(s) if !s.trim().is_empty() => s,
            _ => {
                return Err(CraError::at(
                    ErrorCode::ApprovalForbidden,
                    "/approver",
                    format!(
                        "deciding approval {:?} needs the approver's identity",
                        d.approval_id
                    ),
                ))
            }
        };
        if to == ApprovalStatus::Approved && approver == &*a.agent_id {
            return Err(CraError::at(
                ErrorCode::ApprovalForbidden,
                "/approver",
                format!(
                    "agent {approver:?} asked for approval {:?} and cannot approve its own call",
                    d.approval_id
                ),
            ));
        }
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
        st.approver = Some(approver.to_string());
        st.reason = d.reason.clone();
        st.decided_us = Some(now);
        let out = a.record(&st, now);
        drop(st);
        let span: Arc<str> = Arc::from(self.next_id(now));
        let ty = if to == ApprovalStatus::Approved {
            EventType::ActionApproved
        } else {
            EventType::ActionDenied
        };
        let payload = json!({
            "approval_id": d.approval_id,
            "action_id": &*a.action_id,
            "parameters_hash": hex(&a.digest),
            "approver": approver,
            "reason": d.reason,
            "decision": to.as_str(),
        });
        self.emit(&a.trace, &span, false, now, ty, EventPayload::Json(payload));
        Ok(out)
    }

    /// Forgets approvals that expired more than `approval_retention_seconds` ago.
    pub(crate) fn prune_approvals(&self, now_us: i64) {
        let keep_us = self.config.approval_retention_seconds as i64 * 1_000_000;
        let old = self
            .approvals
            .filter_values(|a| a.expires_at_us + keep_us <= now_us);
        for a in old {
            self.forget_approval(&a);
        }
    }

    /// Removes an approval from the resolver and from its session.
    pub(crate) fn forget_approval(&self, a: &Approval) {
        self.approvals.remove(&a.approval_id);
        let Some(session) = a.session.upgrade() else {
            return;
        };
        let mut map = session.approvals.lock();
        if map
            .get(&a.key())
            .is_some_and(|cur| cur.approval_id == a.approval_id)
        {
            map.remove(&a.key());
        }
    }
}
