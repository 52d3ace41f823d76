//! `resolve`: the hot path. Reads one atlas snapshot, evaluates the precompiled candidate
//! policies of each action in scope, selects context, stores the resolution, records events.

use super::ratelimit::{scope_of, AppliedLimit, LimitKey};
use super::resolution::{BlockRef, DenyReason, Resolution, Selected, Verdict, VerdictKind};
use super::{AtlasSet, Resolver};
use crate::atlas::compile::{CompiledAction, CompiledAtlas, NO_POLICY};
use crate::atlas::conditions::EvalCtx;
use crate::error::{CraError, ErrorCode, Result};
use crate::protocol::{CarpRequest, DecisionType, Operation};
use crate::trace::{EventPayload, EventType, PayloadSource};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Resolver {
    /// Resolves a CARP request into a [`Resolution`] (protocol.md §3).
    ///
    /// Errors: `INVALID_REQUEST` (not a resolve request, session owned by another agent),
    /// `SESSION_ENDED`, `ATLAS_NOT_FOUND` (an `atlas_ids` entry is not loaded).
    pub fn resolve(&self, mut request: CarpRequest) -> Result<Arc<Resolution>> {
        if request.operation != Operation::Resolve {
            return Err(CraError::request(
                "/operation",
                "this is an execute request; call execute",
            ));
        }
        self.check_not_forked()?;
        request.check()?;
        // Everything that can refuse the request is checked before the session starts.
        let snapshot = self.atlases.load_full();
        let selected = select_atlases(&snapshot, request.atlas_ids.as_deref())?;
        // One lookup: the session found here (or its absence) is the one used below.
        let known = self.sessions.get(&request.requester.session_id);
        if let Some(s) = &known {
            self.check_session(s.clone(), &request.requester)?;
        } else if let Some(e) =
            self.ended_error(&request.requester.session_id, self.clock.peek_us())
        {
            return Err(e);
        }
        check_context(&snapshot, &selected, request.context.as_ref())?;
        let now = self.clock.now_us();
        let session = self.session_known(known, &request.requester, now)?;
        let request_id = match request.request_id.take() {
            Some(id) => id,
            None => self.next_id(now),
        };
        request.request_id = Some(request_id.clone());
        let resolution_id = self.next_id(now);
        let span: Arc<str> = Arc::from(self.next_id(now));
        let request = Arc::new(request);
        let task = request
            .task
            .as_ref()
            .ok_or_else(|| CraError::request("/task", "a resolve request needs a task"))?;
        let ctx = EvalCtx {
            agent_id: &session.agent_id,
            tier: task.risk_tier.unwrap_or(self.config.default_risk_tier),
            context: request.context.as_ref(),
            now_us: now,
        };

        // Verdicts of the actions in scope, per selected atlas, in declaration order.
        let mut verdicts = Vec::new();
        let mut sel = Vec::with_capacity(selected.len());
        let (mut allowed, mut denied, mut pending) = (0u32, 0u32, 0u32);
        let mut scoped: Vec<u32> = Vec::new();
        for &ai in &selected {
            let atlas = &*snapshot.atlases[ai as usize];
            let start = verdicts.len() as u32;
            let dense = match &task.required_capabilities {
                None => {
                    scoped.clear();
                    true
                }
                Some(caps) => {
                    scoped.clear();
                    for c in caps {
                        if let Some(&ci) = atlas.capability_index.get(c) {
                            scoped.extend_from_slice(&atlas.capability_actions[ci as usize]);
                        }
                    }
                    scoped.sort_unstable();
                    scoped.dedup();
                    false
                }
            };
            let n = if dense {
                atlas.actions.len()
            } else {
                scoped.len()
            };
            verdicts.reserve(n);
            #[allow(clippy::needless_range_loop)] // `scoped` is only read when not dense
            for k in 0..n {
                let idx = if dense { k as u32 } else { scoped[k] };
                let action = &atlas.actions[idx as usize];
                let v = self.evaluate(
                    atlas,
                    idx,
                    action,
                    &ctx,
                    &session.trace.session_id,
                    &session.agent_id,
                );
                match v.kind {
                    VerdictKind::Allowed => allowed += 1,
                    VerdictKind::Denied(_) => denied += 1,
                    VerdictKind::Pending => pending += 1,
                }
                verdicts.push(v);
            }
            sel.push(Selected {
                atlas: ai,
                start,
                len: n as u32,
                dense,
            });
        }
        let decision =
            DecisionType::from_counts(allowed as usize, denied as usize, pending as usize);
        let ttl = self.config.resolution_ttl_seconds;
        let mut resolution = Resolution {
            resolution_id,
            request_id,
            timestamp_us: now,
            decision,
            approval_id: None,
            expires_at_us: now + ttl as i64 * 1_000_000,
            ttl_seconds: ttl,
            trace_id: session.trace.trace_id.clone(),
            session_id: session.trace.session_id.clone(),
            agent_id: session.agent_id.clone(),
            tier: ctx.tier,
            counts: (allowed, denied, pending),
            request: request.clone(),
            snapshot: snapshot.clone(),
            selected: sel,
            verdicts,
            blocks: Vec::new(),
            token_total: 0,
        };
        if decision != DecisionType::Deny {
            select_context(&mut resolution, &snapshot, &ctx, task);
        }
        // A resolution lists pending actions but creates no approval: each call asks for its
        // own (protocol.md §6).
        let resolution = Arc::new(resolution);
        self.resolutions
            .insert(&resolution.resolution_id, resolution.clone());
        let evicted = {
            let mut recent = session.recent.lock();
            recent.push_back(resolution.resolution_id.clone());
            if recent.len() > self.config.max_resolutions_per_session as usize {
                recent.pop_front()
            } else {
                None
            }
        };
        if let Some(old) = evicted {
            self.resolutions.remove(&old);
        }
        session.last_resolution.store(Some(resolution.clone()));

        let src: Arc<dyn PayloadSource> = resolution.clone();
        for ty in [
            EventType::RequestReceived,
            EventType::PolicyEvaluated,
            EventType::ContextInjected,
            EventType::ResolutionCompleted,
        ] {
            self.emit(
                &session.trace,
                &span,
                false,
                now,
                ty,
                EventPayload::Lazy(src.clone()),
            );
        }
        self.shadow_resolve(&resolution, &session.trace, &span);
        self.counters.resolves.fetch_add(1, Ordering::Relaxed);
        self.maybe_prune(now);
        Ok(resolution)
    }

    /// The verdict ladder for one action: deny > require_approval > rate_limit > allow > default
    /// deny, where `require_approval` and `rate_limit` only restrict what an `allow` grants
    /// (protocol.md §6). Rate limits are peeked, not consumed.
    #[inline]
    pub(crate) fn evaluate(
        &self,
        atlas: &CompiledAtlas,
        idx: u32,
        action: &CompiledAction,
        ctx: &EvalCtx<'_>,
        session_id: &Arc<str>,
        agent: &Arc<str>,
    ) -> Verdict {
        let v = ladder(atlas, idx, action, ctx);
        if v.kind == VerdictKind::Allowed
            && (action.rate_limit.is_some() || !action.rate.is_empty())
        {
            let limits = self.applied_limits(atlas, idx, action, ctx, session_id, agent);
            if let Some(l) = self.limiter.peek(&limits, ctx.now_us) {
                return Verdict {
                    kind: VerdictKind::Denied(DenyReason::RateLimitExceeded),
                    policy: l.key.policy,
                    action: idx,
                    allow_policy: v.policy,
                };
            }
        }
        v
    }

    /// The rate limits that apply to one call: the action's own, then every matching
    /// `rate_limit` policy whose conditions hold, in evaluation order.
    pub(crate) fn applied_limits(
        &self,
        atlas: &CompiledAtlas,
        idx: u32,
        action: &CompiledAction,
        ctx: &EvalCtx<'_>,
        session_id: &Arc<str>,
        agent: &Arc<str>,
    ) -> Vec<AppliedLimit> {
        let mut out = Vec::new();
        if let Some(spec) = action.rate_limit {
            out.push(AppliedLimit {
                key: LimitKey {
                    atlas: atlas.id.clone(),
                    policy: NO_POLICY,
                    kind: spec.per,
                    scope: scope_of(&spec, session_id, agent),
                    action: idx,
                },
                spec,
                policy_id: None,
            });
        }
        for &pi in action.rate.iter() {
            let pol = &atlas.policies[pi as usize];
            if let (Some(spec), true) = (pol.rate_limit, pol.conditions.holds(ctx)) {
                out.push(AppliedLimit {
                    key: LimitKey {
                        atlas: atlas.id.clone(),
                        policy: pi,
                        kind: spec.per,
                        scope: scope_of(&spec, session_id, agent),
                        action: idx,
                    },
                    spec,
                    policy_id: Some(pol.id.clone()),
                });
            }
        }
        out
    }
}

/// The policy ladder without rate limits: deny, then (only under a matching allow) approval,
/// then allow; default deny when no allow holds. `Allowed` names the allow policy, `Pending` the
/// approval policy (with the allow in `allow_policy`).
#[inline]
pub(crate) fn ladder(
    atlas: &CompiledAtlas,
    idx: u32,
    action: &CompiledAction,
    ctx: &EvalCtx<'_>,
) -> Verdict {
    let holds = |pi: &u32| atlas.policies[*pi as usize].conditions.holds(ctx);
    if let Some(&pi) = action.deny.iter().find(|p| holds(p)) {
        return Verdict {
            kind: VerdictKind::Denied(DenyReason::PolicyDenied),
            policy: pi,
            action: idx,
            allow_policy: NO_POLICY,
        };
    }
    let Some(&allow) = action.allow.iter().find(|p| holds(p)) else {
        return Verdict {
            kind: VerdictKind::Denied(DenyReason::DefaultDeny),
            policy: NO_POLICY,
            action: idx,
            allow_policy: NO_POLICY,
        };
    };
    if let Some(&pi) = action.approval.iter().find(|p| holds(p)) {
        return Verdict {
            kind: VerdictKind::Pending,
            policy: pi,
            action: idx,
            allow_policy: allow,
        };
    }
    Verdict {
        kind: VerdictKind::Allowed,
        policy: allow,
        action: idx,
        allow_policy: NO_POLICY,
    }
}

/// The request's `context` against the `context_schema` of every atlas in scope (an absent
/// context is `{}`): `INVALID_REQUEST` with the pointer inside `/context` otherwise.
pub(crate) fn check_context(
    snapshot: &AtlasSet,
    selected: &[u32],
    context: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<()> {
    let mut empty: Option<serde_json::Value> = None;
    for &ai in selected {
        let atlas = &snapshot.atlases[ai as usize];
        let Some(v) = &atlas.context_validator else {
            continue;
        };
        let owned;
        let value = match context {
            Some(m) => {
                owned = serde_json::Value::Object(m.clone());
                &owned
            }
            None => empty.get_or_insert_with(|| serde_json::Value::Object(Default::default())),
        };
        if let Err((ptr, msg)) = v.validate(value) {
            return Err(CraError::request(
                format!("/context{ptr}"),
                format!(
                    "context does not match the context_schema of atlas {:?}: {msg}",
                    &*atlas.id
                ),
            ));
        }
    }
    Ok(())
}

/// Atlas positions in scope, in load order.
fn select_atlases(snapshot: &AtlasSet, ids: Option<&[String]>) -> Result<Vec<u32>> {
    match ids {
        None => Ok((0..snapshot.atlases.len() as u32).collect()),
        Some(ids) => {
            let mut out = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                match snapshot.by_id.get(id.as_str()) {
                    Some(&ai) => out.push(ai),
                    None => {
                        return Err(CraError::at(
                            ErrorCode::AtlasNotFound,
                            format!("/atlas_ids/{i}"),
                            format!("no atlas {id:?} is loaded"),
                        ))
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            Ok(out)
        }
    }
}

/// Whether `keyword` (lowercased at compile time) occurs in `text`, ignoring case: ASCII
/// keywords without allocating, others by Unicode lowercasing of the text.
fn keyword_in(text: &str, keyword: &str) -> bool {
    if keyword.is_ascii() {
        contains_folded(text, keyword)
    } else {
        text.to_lowercase().contains(keyword)
    }
}

/// Case-insensitive substring test (ASCII folding; non-ASCII compared exactly after lowercasing
/// the keyword at compile time).
fn contains_folded(haystack: &str, needle_lower: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|i| {
        h[i..i + n.len()]
            .iter()
            .zip(n)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// Context selection (protocol.md §3): packs whose conditions hold, ordered by priority (high
/// first) then load order then declaration; blocks added until a pack's or the request's
/// token budget would be exceeded.
fn select_context(
    res: &mut Resolution,
    snapshot: &AtlasSet,
    ctx: &EvalCtx<'_>,
    task: &crate::protocol::Task,
) {
    // (priority, selection order, declaration) for a stable cross-atlas merge.
    let mut candidates: Vec<(u32, u32, u32, u32)> = Vec::new();
    for (si, sel) in res.selected.iter().enumerate() {
        let atlas = &*snapshot.atlases[sel.atlas as usize];
        let verdicts = &res.verdicts[sel.start as usize..(sel.start + sel.len) as usize];
        for (pi, pack) in atlas.packs.iter().enumerate() {
            if !pack.conditions.holds(ctx) {
                continue;
            }
            if !pack.capabilities.is_empty() {
                let has_allowed = verdicts.iter().any(|v| {
                    v.kind == VerdictKind::Allowed
                        && atlas.actions[v.action as usize]
                            .capabilities
                            .iter()
                            .any(|c| pack.capabilities.contains(c))
                });
                if !has_allowed {
                    continue;
                }
            }
            if !pack.keywords.is_empty() {
                let hints = task.context_hints.as_deref().unwrap_or(&[]);
                let hit = pack
                    .keywords
                    .iter()
                    .any(|k| keyword_in(&task.goal, k) || hints.iter().any(|h| keyword_in(h, k)));
                if !hit {
                    continue;
                }
            }
            candidates.push((pack.priority, si as u32, pack.decl, pi as u32));
        }
    }
    if res.selected.len() > 1 {
        candidates.sort_by_key(|&(p, si, d, _)| (std::cmp::Reverse(p), si, d));
    }
    let budget = task.max_context_tokens.unwrap_or(u32::MAX) as u64;
    let mut total: u64 = 0;
    'packs: for (_, si, _, pi) in candidates {
        let ai = res.selected[si as usize].atlas;
        let pack = &snapshot.atlases[ai as usize].packs[pi as usize];
        let mut used: u64 = 0;
        for (bi, b) in pack.blocks.iter().enumerate() {
            let t = b.tokens as u64;
            if total + t > budget {
                break 'packs;
            }
            if pack.max_tokens.is_some_and(|m| used + t > m as u64) {
                break;
            }
            used += t;
            total += t;
            res.blocks.push(BlockRef {
                atlas: ai,
                pack: pi,
                block: bi as u32,
            });
        }
    }
    res.token_total = total as u32;
}

#[cfg(test)]
mod tests {
    use super::contains_folded;

    #[test]
    fn folded_search() {
        assert!(contains_folded("Process a REFUND please", "refund"));
        assert!(!contains_folded("refun", "refund"));
        assert!(contains_folded("x", ""));
    }
}
