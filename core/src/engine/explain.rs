//! `explain`: why an action gets its verdict for a request. Every policy of the action's atlas
//! in ladder order, whether its pattern matched, each condition with what it saw, which policy
//! decided and why the others did not apply. On demand, never on the hot path: it allocates
//! freely and records nothing.

use super::resolution::{DenyReason, VerdictKind};
use super::Resolver;
use crate::atlas::compile::{CompiledAtlas, NO_POLICY};
use crate::atlas::conditions::{json_equal, window_holds, EvalCtx};
use crate::atlas::model::{Conditions, PolicyType};
use crate::atlas::pattern::Pattern;
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::{CarpRequest, Operation};
use serde_json::{json, Value};

/// Ladder rung of a policy type (deny first).
fn rung(t: PolicyType) -> u8 {
    match t {
        PolicyType::Deny => 0,
        PolicyType::RequireApproval => 1,
        PolicyType::RateLimit => 2,
        PolicyType::Allow => 3,
    }
}

impl Resolver {
    /// Explains the verdict on `action_id` for a resolve `request`, judged against the atlases
    /// loaded now, at the resolver's current time. Records nothing, consumes nothing.
    ///
    /// Errors: `INVALID_REQUEST` (not a resolve request; no loaded atlas declares the action,
    /// pointer `/action_id`; the context fails an atlas's `context_schema`, as in resolve),
    /// `ATLAS_NOT_FOUND` (an `atlas_ids` entry is not loaded).
    pub fn explain(&self, request: &CarpRequest, action_id: &str) -> Result<Value> {
        self.check_not_forked()?;
        if request.operation != Operation::Resolve {
            return Err(CraError::request(
                "/operation",
                "explain takes a resolve request",
            ));
        }
        request.check()?;
        let task = request
            .task
            .as_ref()
            .ok_or_else(|| CraError::request("/task", "a resolve request needs a task"))?;
        let snapshot = self.atlases.load_full();
        let Some((atlas, idx)) = snapshot.owner_of(action_id) else {
            return Err(CraError::request(
                "/action_id",
                format!("no loaded atlas declares action {action_id:?}"),
            ));
        };
        if let Some(ids) = &request.atlas_ids {
            for (i, id) in ids.iter().enumerate() {
                if !snapshot.by_id.contains_key(id.as_str()) {
                    return Err(CraError::at(
                        ErrorCode::AtlasNotFound,
                        format!("/atlas_ids/{i}"),
                        format!("no atlas {id:?} is loaded"),
                    ));
                }
            }
        }
        // The same context check as resolve: a request its atlases' context_schema refuses is
        // refused here too, not explained as if it were valid.
        let selected: Vec<u32> = match &request.atlas_ids {
            Some(ids) => ids
                .iter()
                .filter_map(|id| snapshot.by_id.get(id.as_str()).copied())
                .collect(),
            None => (0..snapshot.atlases.len() as u32).collect(),
        };
        super::resolve::check_context(&snapshot, &selected, request.context.as_ref())?;
        let ctx = EvalCtx {
            agent_id: &request.requester.agent_id,
            tier: task.risk_tier.unwrap_or(self.config.default_risk_tier),
            context: request.context.as_ref(),
            now_us: self.clock.peek_us(),
        };
        let action = &atlas.actions[idx as usize];
        let out_of_scope = request
            .atlas_ids
            .as_ref()
            .is_some_and(|ids| !ids.iter().any(|i| *i == *atlas.id))
            || task.required_capabilities.as_ref().is_some_and(|caps| {
                !caps.iter().any(|c| {
                    atlas
                        .capability_index
                        .get(c)
                        .is_some_and(|&ci| action.capabilities.contains(&ci))
                })
            });
        let sid: std::sync::Arc<str> = request.requester.session_id.as_str().into();
        let agent: std::sync::Arc<str> = request.requester.agent_id.as_str().into();
        let v = self.evaluate(atlas, idx, action, &ctx, &sid, &agent);
        let (verdict, reason_code) = match v.kind {
            _ if out_of_scope => ("not_in_scope", None),
            VerdictKind::Allowed => ("allowed", None),
            VerdictKind::Pending => ("pending_approval", Some("approval_required")),
            VerdictKind::Denied(DenyReason::RateLimitExceeded) => {
                ("rate_limited", Some("rate_limit_exceeded"))
            }
            VerdictKind::Denied(r) => ("denied", Some(r.code())),
        };
        let decided = (v.policy != NO_POLICY).then_some(v.policy);
        let mut order: Vec<usize> = (0..atlas.policies.len()).collect();
        let manifest = &atlas.manifest;
        crate::sort::sort_by_key(&mut order, |&pi| {
            let p = &manifest.policies[pi];
            (rung(p.policy_type), std::cmp::Reverse(p.priority), pi)
        });
        let policies: Vec<Value> = order
            .iter()
            .map(|&pi| explain_policy(atlas, idx, pi as u32, &ctx, decided, v.kind))
            .collect();
        Ok(json!({
            "action_id": &*action.id,
            "atlas_id": &*atlas.id,
            "verdict": verdict,
            "reason_code": reason_code,
            "policy_id": decided.map(|pi| &*atlas.policies[pi as usize].id),
            "input": {
                "agent_id": request.requester.agent_id,
                "risk_tier": ctx.tier.as_str(),
                "context": request.context,
            },
            "policies": policies,
        }))
    }
}

/// One policy's part of the explanation.
fn explain_policy(
    atlas: &CompiledAtlas,
    idx: u32,
    pi: u32,
    ctx: &EvalCtx<'_>,
    decided: Option<u32>,
    kind: VerdictKind,
) -> Value {
    let p = &atlas.manifest.policies[pi as usize];
    let a = &atlas.actions[idx as usize];
    let candidates: &[u32] = match p.policy_type {
        PolicyType::Deny => &a.deny,
        PolicyType::RequireApproval => &a.approval,
        PolicyType::RateLimit => &a.rate,
        PolicyType::Allow => &a.allow,
    };
    let matched = candidates.contains(&pi);
    let conditions = p
        .conditions
        .as_ref()
        .map(|c| conditions(c, ctx))
        .unwrap_or_default();
    let holds = atlas.policies[pi as usize].conditions.holds(ctx);
    let applies = matched && holds;
    let is_decider = decided == Some(pi);
    let note = if is_decider {
        "decided the verdict".to_string()
    } else if !matched {
        "its actions (patterns and capabilities) do not cover this action".to_string()
    } else if !holds {
        let failed: Vec<&str> = conditions
            .iter()
            .filter(|c| c["held"] == false)
            .filter_map(|c| c["kind"].as_str())
            .collect();
        format!("conditions do not hold: {}", failed.join(", "))
    } else {
        match (p.policy_type, kind) {
            (
                PolicyType::RequireApproval | PolicyType::RateLimit,
                VerdictKind::Denied(DenyReason::DefaultDeny),
            ) => "restricts an allow, never grants: no allow applies".to_string(),
            (PolicyType::RateLimit, _) => "applies: its limit has room now".to_string(),
            _ => "applies, but a policy earlier in the ladder decided".to_string(),
        }
    };
    json!({
        "policy_id": p.policy_id,
        "type": p.policy_type.as_str(),
        "priority": p.priority,
        "pattern_matched": matched,
        "conditions": conditions,
        "applies": applies,
        "decided": is_decider,
        "note": note,
    })
}

/// Each present condition kind: whether it held, what was expected and what the request had.
fn conditions(c: &Conditions, ctx: &EvalCtx<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(tiers) = &c.risk_tiers {
        out.push(json!({
            "kind": "risk_tiers",
            "held": tiers.contains(&ctx.tier),
            "expected": tiers.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "saw": ctx.tier.as_str(),
        }));
    }
    if let Some(agents) = &c.agents {
        let held = agents
            .iter()
            .any(|p| Pattern::parse(p).is_ok_and(|p| p.matches(ctx.agent_id)));
        out.push(json!({"kind": "agents", "held": held, "expected": agents, "saw": ctx.agent_id}));
    }
    if let Some(caps) = &c.capabilities {
        out.push(json!({
            "kind": "capabilities",
            "held": Value::Null,
            "expected": caps,
            "saw": "folded into the policy's actions (see pattern_matched)",
        }));
    }
    if let Some(want) = &c.context_matches {
        let saw: serde_json::Map<String, Value> = want
            .keys()
            .map(|k| {
                let v = ctx
                    .context
                    .and_then(|m| m.get(k))
                    .cloned()
                    .unwrap_or(Value::Null);
                (k.clone(), v)
            })
            .collect();
        let held = want.iter().all(|(k, v)| {
            ctx.context
                .and_then(|m| m.get(k))
                .is_some_and(|r| json_equal(r, v))
        });
        out.push(json!({"kind": "context_matches", "held": held, "expected": want, "saw": saw}));
    }
    if let Some(w) = &c.time_window {
        out.push(json!({
            "kind": "time_window",
            "held": window_holds(w, ctx.now_us),
            "expected": w,
            "saw": crate::clock::format_rfc3339_us(ctx.now_us),
        }));
    }
    out
}
