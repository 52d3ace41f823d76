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
use crate::protocol::{CarpRequest, Operation, RiskTier};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The verdict an explanation reports for the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplainVerdict {
    /// A resolve would allow it.
    Allowed,
    /// A resolve would list it as needing an approval.
    PendingApproval,
    /// Its rate limit has no room now.
    RateLimited,
    /// A policy denies it, or no policy allows it (`reason_code` says which).
    Denied,
    /// The request's `atlas_ids` or `required_capabilities` leave it out of scope.
    NotInScope,
}

/// Why an action gets its verdict for a request ([`Resolver::explain`]; docs/protocol.md
/// "Explain").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The action explained.
    pub action_id: String,
    /// The atlas that declares it.
    pub atlas_id: String,
    /// The verdict.
    pub verdict: ExplainVerdict,
    /// The machine reason of a verdict other than `allowed` and `not_in_scope`
    /// (`approval_required`, `rate_limit_exceeded`, `policy_denied`, `default_deny`).
    pub reason_code: Option<&'static str>,
    /// The policy that decided, if one did.
    pub policy_id: Option<String>,
    /// What the verdict was judged on.
    pub input: ExplainInput,
    /// Every policy of the atlas, in ladder order (deny, require_approval, rate_limit, allow;
    /// higher priority first).
    pub policies: Vec<PolicyExplanation>,
}

/// The part of the request an explanation judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainInput {
    /// The requesting agent.
    pub agent_id: String,
    /// The task's risk tier (the resolver's default when the request has none).
    pub risk_tier: RiskTier,
    /// The request's context, as sent.
    pub context: Option<Map<String, Value>>,
}

/// One policy's part of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyExplanation {
    /// The policy.
    pub policy_id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub policy_type: PolicyType,
    /// Its priority.
    pub priority: i64,
    /// Whether its actions (patterns and capabilities) cover the action.
    pub pattern_matched: bool,
    /// Each of its conditions: whether it held, what it expected, what the request had.
    pub conditions: Vec<ConditionExplanation>,
    /// Whether it applies (matched and its conditions hold).
    pub applies: bool,
    /// Whether it decided the verdict.
    pub decided: bool,
    /// A sentence on its part in the verdict.
    pub note: String,
}

/// One condition of a policy, as an [`Explanation`] shows it. `expected` and `saw` are
/// open-ended JSON: their shape depends on `kind` (a tier list, agent patterns, a
/// `context_matches` object, a time window...), as the atlas wrote it and the request sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionExplanation {
    /// The condition kind: `risk_tiers`, `agents`, `capabilities`, `context_matches`,
    /// `time_window`.
    pub kind: &'static str,
    /// Whether it held; `None` for `capabilities`, which is folded into `pattern_matched`.
    pub held: Option<bool>,
    /// What the policy expects.
    pub expected: Value,
    /// What the request had (or the time it was judged at).
    pub saw: Value,
}

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
    pub fn explain(&self, request: &CarpRequest, action_id: &str) -> Result<Explanation> {
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
            _ if out_of_scope => (ExplainVerdict::NotInScope, None),
            VerdictKind::Allowed => (ExplainVerdict::Allowed, None),
            VerdictKind::Pending => (ExplainVerdict::PendingApproval, Some("approval_required")),
            VerdictKind::Denied(DenyReason::RateLimitExceeded) => {
                (ExplainVerdict::RateLimited, Some("rate_limit_exceeded"))
            }
            VerdictKind::Denied(r) => (ExplainVerdict::Denied, Some(r.code())),
        };
        let decided = (v.policy != NO_POLICY).then_some(v.policy);
        let mut order: Vec<usize> = (0..atlas.policies.len()).collect();
        let manifest = &atlas.manifest;
        crate::sort::sort_by_key(&mut order, |&pi| {
            let p = &manifest.policies[pi];
            (rung(p.policy_type), std::cmp::Reverse(p.priority), pi)
        });
        let policies: Vec<PolicyExplanation> = order
            .iter()
            .map(|&pi| explain_policy(atlas, idx, pi as u32, &ctx, decided, v.kind))
            .collect();
        Ok(Explanation {
            action_id: action.id.to_string(),
            atlas_id: atlas.id.to_string(),
            verdict,
            reason_code,
            policy_id: decided.map(|pi| atlas.policies[pi as usize].id.to_string()),
            input: ExplainInput {
                agent_id: request.requester.agent_id.clone(),
                risk_tier: ctx.tier,
                context: request.context.clone(),
            },
            policies,
        })
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
) -> PolicyExplanation {
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
            .filter(|c| c.held == Some(false))
            .map(|c| c.kind)
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
    PolicyExplanation {
        policy_id: p.policy_id.clone(),
        policy_type: p.policy_type,
        priority: p.priority,
        pattern_matched: matched,
        conditions,
        applies,
        decided: is_decider,
        note,
    }
}

/// One condition's explanation.
fn cond(
    kind: &'static str,
    held: Option<bool>,
    expected: impl Serialize,
    saw: impl Serialize,
) -> ConditionExplanation {
    ConditionExplanation {
        kind,
        held,
        expected: json!(expected),
        saw: json!(saw),
    }
}

/// Each present condition kind: whether it held, what was expected and what the request had.
fn conditions(c: &Conditions, ctx: &EvalCtx<'_>) -> Vec<ConditionExplanation> {
    let mut out = Vec::new();
    if let Some(tiers) = &c.risk_tiers {
        out.push(cond(
            "risk_tiers",
            Some(tiers.contains(&ctx.tier)),
            tiers,
            ctx.tier,
        ));
    }
    if let Some(agents) = &c.agents {
        let held = agents
            .iter()
            .any(|p| Pattern::parse(p).is_ok_and(|p| p.matches(ctx.agent_id)));
        out.push(cond("agents", Some(held), agents, ctx.agent_id));
    }
    if let Some(caps) = &c.capabilities {
        out.push(cond(
            "capabilities",
            None,
            caps,
            "folded into the policy's actions (see pattern_matched)",
        ));
    }
    if let Some(want) = &c.context_matches {
        let saw: Map<String, Value> = want
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
        out.push(cond("context_matches", Some(held), want, saw));
    }
    if let Some(w) = &c.time_window {
        out.push(cond(
            "time_window",
            Some(window_holds(w, ctx.now_us)),
            w,
            crate::clock::format_rfc3339_us(ctx.now_us),
        ));
    }
    out
}
