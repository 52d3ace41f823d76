//! The resolution: what `resolve` returns, keeps for `execute`, and renders into TRACE payloads.
//!
//! A resolution holds the atlas snapshot it was computed against plus compact per-action
//! verdicts; the wire JSON (`allowed_actions`, `denied_actions`, ...) is produced only when it is
//! serialized, so the hot path copies no strings out of the atlases.

use crate::atlas::compile::{CompiledAction, CompiledAtlas, NO_POLICY};
use crate::clock::format_rfc3339_us;
use crate::engine::AtlasSet;
use crate::protocol::{CarpRequest, DecisionType, CARP_VERSION};
use crate::trace::{EventType, PayloadSource};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::sync::Arc;

/// Why an action is not allowed (the `reason_code` vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// A `deny` policy matched.
    PolicyDenied,
    /// No `allow` policy matched.
    DefaultDeny,
    /// A rate limit is exhausted.
    RateLimitExceeded,
}

impl DenyReason {
    /// Wire code.
    pub fn code(self) -> &'static str {
        match self {
            DenyReason::PolicyDenied => "policy_denied",
            DenyReason::DefaultDeny => "default_deny",
            DenyReason::RateLimitExceeded => "rate_limit_exceeded",
        }
    }
}

/// The verdict on one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    /// Allowed.
    Allowed,
    /// Denied.
    Denied(DenyReason),
    /// Waits for the resolution's approval.
    Pending,
}

/// One action's verdict: kind plus the deciding policy (index into the atlas, or `NO_POLICY`).
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    /// The verdict.
    pub kind: VerdictKind,
    /// Deciding policy index.
    pub policy: u32,
    /// The action's index in its atlas.
    pub action: u32,
    /// For `Denied(RateLimitExceeded)`: the `allow` policy that matched underneath
    /// (`NO_POLICY` if none). Execute and the fast path re-check the limit at their own time,
    /// so a window that rolls over makes the action usable again within the resolution.
    pub allow_policy: u32,
}

impl Verdict {
    /// Whether the action is allowed apart from a rate limit that may since have recovered.
    pub fn allowed_under_limit(&self) -> bool {
        self.kind == VerdictKind::Denied(DenyReason::RateLimitExceeded)
            && self.allow_policy != NO_POLICY
    }
}

/// The verdicts of one atlas in scope: `verdicts[start..start + len]`, sorted by action index;
/// `dense` when every action of the atlas is in scope (then index = action index).
#[derive(Debug, Clone, Copy)]
pub struct Selected {
    /// Position in the snapshot.
    pub atlas: u32,
    /// First verdict.
    pub start: u32,
    /// Number of verdicts.
    pub len: u32,
    /// Every action in scope.
    pub dense: bool,
}

/// One selected context block.
#[derive(Debug, Clone, Copy)]
pub struct BlockRef {
    /// Position in the snapshot.
    pub atlas: u32,
    /// Pack index in the compiled atlas.
    pub pack: u32,
    /// Block index in the pack.
    pub block: u32,
}

/// A computed resolution (protocol.md §3). Serialize it for the wire form.
#[derive(Debug)]
pub struct Resolution {
    /// Id.
    pub resolution_id: String,
    /// The request's id (filled when absent).
    pub request_id: String,
    /// When it was computed, µs since the epoch.
    pub timestamp_us: i64,
    /// The decision type.
    pub decision: DecisionType,
    /// The approval covering every pending action, if any.
    pub approval_id: Option<String>,
    /// Resolution expiry (timestamp + ttl).
    pub expires_at_us: i64,
    /// Time to live.
    pub ttl_seconds: u32,
    /// The session's trace id.
    pub trace_id: Arc<str>,
    /// The session id.
    pub session_id: Arc<str>,
    /// The agent id.
    pub agent_id: Arc<str>,
    /// The risk tier judged at (the task's, or the resolver's `default_risk_tier`).
    pub tier: crate::protocol::RiskTier,
    /// Counts: allowed, denied, pending.
    pub counts: (u32, u32, u32),
    /// The request as received (with ids filled).
    pub request: Arc<CarpRequest>,
    pub(crate) snapshot: Arc<AtlasSet>,
    /// The atlases in scope, in load order.
    pub(crate) selected: Vec<Selected>,
    pub(crate) verdicts: Vec<Verdict>,
    pub(crate) blocks: Vec<BlockRef>,
    pub(crate) token_total: u32,
}

impl Resolution {
    /// Finds an action's verdict by id: (atlas, action, verdict).
    #[inline]
    pub(crate) fn verdict_of(
        &self,
        action_id: &str,
    ) -> Option<(&Arc<CompiledAtlas>, u32, Verdict)> {
        for sel in &self.selected {
            let atlas = &self.snapshot.atlases[sel.atlas as usize];
            if let Some(&idx) = atlas.action_index.get(action_id) {
                let range = &self.verdicts[sel.start as usize..(sel.start + sel.len) as usize];
                let v = if sel.dense {
                    range.get(idx as usize).copied()
                } else {
                    range
                        .binary_search_by_key(&idx, |v| v.action)
                        .ok()
                        .map(|i| range[i])
                };
                return v.map(|v| (atlas, idx, v));
            }
        }
        None
    }

    /// Iterates (atlas, action, verdict) over every in-scope action in wire order.
    pub(crate) fn iter(
        &self,
    ) -> impl Iterator<Item = (&CompiledAtlas, &CompiledAction, Verdict)> + '_ {
        self.selected.iter().flat_map(move |sel| {
            let atlas = &*self.snapshot.atlases[sel.atlas as usize];
            self.verdicts[sel.start as usize..(sel.start + sel.len) as usize]
                .iter()
                .map(move |v| (atlas, &atlas.actions[v.action as usize], *v))
        })
    }

    /// Ids of the allowed actions.
    pub fn allowed_action_ids(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, _, v)| v.kind == VerdictKind::Allowed)
            .map(|(_, a, _)| &*a.id)
            .collect()
    }

    /// Ids of the denied actions.
    pub fn denied_action_ids(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, _, v)| matches!(v.kind, VerdictKind::Denied(_)))
            .map(|(_, a, _)| &*a.id)
            .collect()
    }

    /// Ids of the actions pending approval.
    pub fn pending_action_ids(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, _, v)| v.kind == VerdictKind::Pending)
            .map(|(_, a, _)| &*a.id)
            .collect()
    }

    /// Block ids of the selected context, in order.
    pub fn context_block_ids(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .map(|b| &*self.block(b).block_id)
            .collect()
    }

    pub(crate) fn block(&self, b: &BlockRef) -> &crate::atlas::compile::CompiledBlock {
        &self.snapshot.atlases[b.atlas as usize].packs[b.pack as usize].blocks[b.block as usize]
    }

    pub(crate) fn policy_id<'a>(&'a self, atlas: &'a CompiledAtlas, v: Verdict) -> Option<&'a str> {
        (v.policy != NO_POLICY).then(|| &*atlas.policies[v.policy as usize].id)
    }

    /// The human reason for a denial.
    pub(crate) fn deny_reason_text(
        atlas: &CompiledAtlas,
        action: &CompiledAction,
        v: Verdict,
    ) -> String {
        if v.policy != NO_POLICY {
            if let Some(r) = &atlas.policies[v.policy as usize].reason {
                return r.to_string();
            }
        }
        match v.kind {
            VerdictKind::Denied(DenyReason::PolicyDenied) => format!(
                "action {:?} is denied by policy {:?}",
                &*action.id, &*atlas.policies[v.policy as usize].id
            ),
            VerdictKind::Denied(DenyReason::DefaultDeny) => {
                format!("no allow policy matches action {:?}", &*action.id)
            }
            VerdictKind::Denied(DenyReason::RateLimitExceeded) => {
                format!("rate limit for action {:?} is exhausted", &*action.id)
            }
            VerdictKind::Pending => format!("action {:?} requires approval", &*action.id),
            _ => String::new(),
        }
    }

    /// The decision's human reason.
    pub fn decision_reason(&self) -> String {
        let (a, d, p) = self.counts;
        let total = a + d + p;
        match self.decision {
            _ if total == 0 => "no action is in scope".to_string(),
            DecisionType::Allow => format!("all {total} actions allowed"),
            DecisionType::Deny => format!("none of {total} actions allowed"),
            DecisionType::RequiresApproval => {
                format!("{p} of {total} actions require approval; none allowed without it")
            }
            DecisionType::Partial => {
                format!("{a} of {total} actions allowed, {d} denied, {p} pending approval")
            }
        }
    }

    pub(crate) fn constraints(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for (atlas, action, v) in self.iter() {
            if v.kind != VerdictKind::Allowed && v.kind != VerdictKind::Pending {
                continue;
            }
            if let Some(rl) = &action.rate_limit {
                out.push(json!({"type": "rate_limit", "action_id": &*action.id, "policy_id": null, "max_calls": rl.max_calls, "window_seconds": rl.window_seconds, "per": rl.per}));
            }
            for &pi in action.rate.iter() {
                let pol = &atlas.policies[pi as usize];
                let ctx = self.eval_ctx();
                if let (Some(rl), true) = (&pol.rate_limit, pol.conditions.holds(&ctx)) {
                    out.push(json!({"type": "rate_limit", "action_id": &*action.id, "policy_id": &*pol.id, "max_calls": rl.max_calls, "window_seconds": rl.window_seconds, "per": rl.per}));
                }
            }
            if action.requires_confirmation {
                out.push(json!({"type": "requires_confirmation", "action_id": &*action.id}));
            }
            if let Some(t) = action.timeout_seconds {
                out.push(json!({"type": "timeout", "action_id": &*action.id, "seconds": t}));
            }
        }
        out
    }

    /// The evaluation context of the original request (used again by execute).
    pub(crate) fn eval_ctx(&self) -> crate::atlas::conditions::EvalCtx<'_> {
        crate::atlas::conditions::EvalCtx {
            agent_id: &self.agent_id,
            tier: self.tier,
            context: self.request.context.as_ref(),
            now_us: self.timestamp_us,
        }
    }
}

struct Allowed<'a>(&'a Resolution);
struct Denied<'a>(&'a Resolution);
struct Pending<'a>(&'a Resolution);
struct Blocks<'a>(&'a Resolution);

impl Serialize for Allowed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut seq = s.serialize_seq(Some(r.counts.0 as usize))?;
        for (atlas, a, v) in r.iter().filter(|(_, _, v)| v.kind == VerdictKind::Allowed) {
            seq.serialize_element(&AllowedEntry { r, atlas, a, v })?;
        }
        seq.end()
    }
}

/// One allowed action, serialized by reference (the schema is not copied).
struct AllowedEntry<'a> {
    r: &'a Resolution,
    atlas: &'a CompiledAtlas,
    a: &'a CompiledAction,
    v: Verdict,
}

impl Serialize for AllowedEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("action_id", &*self.a.id)?;
        m.serialize_entry("atlas_id", &*self.atlas.id)?;
        m.serialize_entry("name", &*self.a.name)?;
        m.serialize_entry("description", &*self.a.description)?;
        m.serialize_entry("risk_tier", self.a.risk_tier.as_str())?;
        m.serialize_entry("policy_id", &self.r.policy_id(self.atlas, self.v))?;
        m.serialize_entry("requires_confirmation", &self.a.requires_confirmation)?;
        m.serialize_entry(
            "parameters_schema",
            &self.a.parameters_schema_json.as_deref(),
        )?;
        m.end()
    }
}

struct DeniedEntry<'a> {
    r: &'a Resolution,
    atlas: &'a CompiledAtlas,
    a: &'a CompiledAction,
    v: Verdict,
    reason: DenyReason,
}

impl Serialize for DeniedEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("action_id", &*self.a.id)?;
        m.serialize_entry("atlas_id", &*self.atlas.id)?;
        m.serialize_entry("reason_code", self.reason.code())?;
        m.serialize_entry(
            "reason",
            &Resolution::deny_reason_text(self.atlas, self.a, self.v),
        )?;
        m.serialize_entry("policy_id", &self.r.policy_id(self.atlas, self.v))?;
        m.end()
    }
}

impl Serialize for Denied<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut seq = s.serialize_seq(Some(r.counts.1 as usize))?;
        for (atlas, a, v) in r.iter() {
            if let VerdictKind::Denied(reason) = v.kind {
                seq.serialize_element(&DeniedEntry {
                    r,
                    atlas,
                    a,
                    v,
                    reason,
                })?;
            }
        }
        seq.end()
    }
}

struct PendingEntry<'a> {
    r: &'a Resolution,
    atlas: &'a CompiledAtlas,
    a: &'a CompiledAction,
    v: Verdict,
}

impl Serialize for PendingEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("action_id", &*self.a.id)?;
        m.serialize_entry("atlas_id", &*self.atlas.id)?;
        m.serialize_entry(
            "reason",
            &Resolution::deny_reason_text(self.atlas, self.a, self.v),
        )?;
        m.serialize_entry("policy_id", &self.r.policy_id(self.atlas, self.v))?;
        m.serialize_entry("approval_id", &self.r.approval_id)?;
        m.end()
    }
}

impl Serialize for Pending<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut seq = s.serialize_seq(Some(r.counts.2 as usize))?;
        for (atlas, a, v) in r.iter().filter(|(_, _, v)| v.kind == VerdictKind::Pending) {
            seq.serialize_element(&PendingEntry { r, atlas, a, v })?;
        }
        seq.end()
    }
}

impl Serialize for Blocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut seq = s.serialize_seq(Some(r.blocks.len()))?;
        for b in &r.blocks {
            seq.serialize_element(&*r.block(b).wire)?;
        }
        seq.end()
    }
}

struct DecisionEntry<'a>(&'a Resolution);

impl Serialize for DecisionEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("type", r.decision.as_str())?;
        m.serialize_entry("reason", &r.decision_reason())?;
        m.serialize_entry("approval_id", &r.approval_id)?;
        m.serialize_entry("expires_at", &format_rfc3339_us(r.expires_at_us))?;
        m.end()
    }
}

impl Serialize for Resolution {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(13))?;
        m.serialize_entry("carp_version", CARP_VERSION)?;
        m.serialize_entry("resolution_id", &self.resolution_id)?;
        m.serialize_entry("request_id", &self.request_id)?;
        m.serialize_entry("timestamp", &format_rfc3339_us(self.timestamp_us))?;
        m.serialize_entry("decision", &DecisionEntry(self))?;
        m.serialize_entry("context_blocks", &Blocks(self))?;
        m.serialize_entry("allowed_actions", &Allowed(self))?;
        m.serialize_entry("denied_actions", &Denied(self))?;
        m.serialize_entry("pending_actions", &Pending(self))?;
        m.serialize_entry("constraints", &self.constraints())?;
        m.serialize_entry("ttl_seconds", &self.ttl_seconds)?;
        m.serialize_entry("trace_id", &*self.trace_id)?;
        m.end()
    }
}

impl PayloadSource for Resolution {
    fn write_canonical(&self, view: EventType, out: &mut String) {
        self.write_payload(view, out);
    }

    fn render(&self, view: EventType) -> Value {
        match view {
            EventType::RequestReceived => json!({
                "request_id": self.request_id,
                "operation": "resolve",
                "request": &*self.request,
            }),
            EventType::PolicyEvaluated => {
                let verdicts: Vec<Value> = self
                    .iter()
                    .map(|(atlas, a, v)| {
                        let (verdict, code) = match v.kind {
                            VerdictKind::Allowed => ("allowed", None),
                            VerdictKind::Pending => ("pending", Some("approval_required")),
                            VerdictKind::Denied(r) => ("denied", Some(r.code())),
                        };
                        json!({"action_id": &*a.id, "atlas_id": &*atlas.id, "verdict": verdict, "policy_id": self.policy_id(atlas, v), "reason_code": code})
                    })
                    .collect();
                json!({
                    "resolution_id": self.resolution_id,
                    "allowed": self.counts.0, "denied": self.counts.1, "pending": self.counts.2,
                    "verdicts": verdicts,
                })
            }
            EventType::ContextInjected => {
                let blocks: Vec<Value> = self
                    .blocks
                    .iter()
                    .map(|b| {
                        let atlas = &self.snapshot.atlases[b.atlas as usize];
                        let blk = self.block(b);
                        json!({"block_id": &*blk.block_id, "source": &*atlas.id, "token_estimate": blk.tokens})
                    })
                    .collect();
                json!({"resolution_id": self.resolution_id, "blocks": blocks, "token_total": self.token_total})
            }
            _ => json!({
                "resolution_id": self.resolution_id,
                "request_id": self.request_id,
                "decision": self.decision.as_str(),
                "approval_id": self.approval_id,
                "allowed_actions": self.allowed_action_ids(),
                "denied_actions": self.denied_action_ids(),
                "pending_actions": self.pending_action_ids(),
                "context_blocks": self.blocks.len(),
                "atlases": self.selected.iter().map(|sel| {
                    let a = &self.snapshot.atlases[sel.atlas as usize];
                    json!({"atlas_id": &*a.id, "version": &*a.version})
                }).collect::<Vec<_>>(),
                "expires_at": format_rfc3339_us(self.expires_at_us),
            }),
        }
    }
}
