//! Compiling a validated manifest into the index `resolve` reads: per action, the candidate
//! policies of each type already matched by pattern and capability and ordered by priority then
//! declaration, so `resolve` never scans rules and never parses anything.

use super::model::*;
use crate::atlas::conditions::CompiledConditions;
use crate::atlas::params::{self, ParamValidator};
use crate::atlas::pattern::Pattern;
use crate::error::{CraError, ErrorCode, Problem, Result};
use crate::protocol::RiskTier;
use rustc_hash::FxHashMap;
use serde_json::value::RawValue;
use std::sync::Arc;

/// Sentinel for "no policy".
pub const NO_POLICY: u32 = u32::MAX;

/// An action, ready for resolve.
#[derive(Debug)]
pub struct CompiledAction {
    /// Id.
    pub id: Arc<str>,
    /// Display name.
    pub name: Arc<str>,
    /// Description.
    pub description: Arc<str>,
    /// Risk tier.
    pub risk_tier: RiskTier,
    /// Host should confirm with its user.
    pub requires_confirmation: bool,
    /// Suggested timeout.
    pub timeout_seconds: Option<u32>,
    /// The schema pre-serialized as JSON text (what allowed actions carry; no per-resolve work).
    pub parameters_schema_json: Option<Box<RawValue>>,
    /// The compiled schema.
    pub validator: Option<ParamValidator>,
    /// Built-in rate limit.
    pub rate_limit: Option<RateLimitSpec>,
    /// Indices of the capabilities it belongs to.
    pub capabilities: Vec<u32>,
    /// Candidate `deny` policies, in evaluation order.
    pub deny: Box<[u32]>,
    /// Candidate `require_approval` policies.
    pub approval: Box<[u32]>,
    /// Candidate `rate_limit` policies.
    pub rate: Box<[u32]>,
    /// Candidate `allow` policies.
    pub allow: Box<[u32]>,
    /// Wire JSON rendered at compile time (see `engine::wire`).
    pub wire: ActionWire,
}

/// An action's parts of the resolution's wire JSON, rendered once at compile time:
/// `{head, "reason_code"…}` for denied and pending entries, `{head mid, "policy_id": …tail}`
/// for allowed ones.
#[derive(Debug)]
pub struct ActionWire {
    /// `"action_id":…,"atlas_id":…`
    pub head: Box<str>,
    /// `,"name":…,"description":…,"risk_tier":…`
    pub mid: Box<str>,
    /// `,"requires_confirmation":…,"parameters_schema":…`
    pub tail: Box<str>,
}

/// A policy, ready for resolve.
#[derive(Debug)]
pub struct CompiledPolicy {
    /// Id.
    pub id: Arc<str>,
    /// The reason text reported with its verdicts.
    pub reason: Option<Arc<str>>,
    /// Conditions other than `capabilities` (those are folded into the candidate lists).
    pub conditions: CompiledConditions,
    /// Rate limit parameters.
    pub rate_limit: Option<RateLimitSpec>,
    /// Approval timeout.
    pub approval_timeout_seconds: Option<u32>,
    /// The id as a JSON string literal.
    pub id_json: Box<str>,
    /// The reason as a JSON string literal.
    pub reason_json: Option<Box<str>>,
}

/// One block of context, ready to hand out.
#[derive(Debug)]
pub struct CompiledBlock {
    /// Id.
    pub block_id: Arc<str>,
    /// ceil(bytes / 4).
    pub tokens: u32,
    /// The whole context-block object of the resolution's wire JSON, rendered at compile time
    /// (source, pack and priority included): resolve copies it verbatim.
    pub wire: Box<RawValue>,
}

/// A context pack, ready for selection.
#[derive(Debug)]
pub struct CompiledPack {
    /// Priority (higher first).
    pub priority: u32,
    /// Declaration index (ties).
    pub decl: u32,
    /// Conditions (risk tier, agents, context, time window).
    pub conditions: CompiledConditions,
    /// Capability indices, one of which must have an allowed action (empty = no such condition).
    pub capabilities: Vec<u32>,
    /// Lowercased keywords; one must occur in the goal or hints (empty = no such condition).
    pub keywords: Vec<String>,
    /// Budget of this pack.
    pub max_tokens: Option<u32>,
    /// Blocks in order.
    pub blocks: Vec<CompiledBlock>,
}

/// A compiled atlas.
#[derive(Debug)]
pub struct CompiledAtlas {
    /// Id.
    pub id: Arc<str>,
    /// Version.
    pub version: Arc<str>,
    /// The manifest as validated.
    pub manifest: AtlasManifest,
    /// Actions in declaration order.
    pub actions: Vec<CompiledAction>,
    /// Action id → index.
    pub action_index: FxHashMap<Arc<str>, u32>,
    /// Policies in declaration order.
    pub policies: Vec<CompiledPolicy>,
    /// Packs ordered by priority (high first), then declaration.
    pub packs: Vec<CompiledPack>,
    /// Capability id → index.
    pub capability_index: FxHashMap<String, u32>,
    /// Member action indices of each capability, sorted.
    pub capability_actions: Vec<Vec<u32>>,
    /// Problems that do not stop the load (reported in the load answer).
    pub warnings: Vec<Problem>,
    /// The compiled `context_schema`.
    pub context_validator: Option<ParamValidator>,
}

/// Serializes `v` once, at compile time, into JSON text that serializers copy verbatim.
fn raw_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Box<RawValue>> {
    serde_json::value::to_raw_value(v).map_err(|e| {
        CraError::new(
            ErrorCode::Internal,
            format!("cannot serialize atlas content: {e}"),
        )
    })
}

/// A value as compact JSON text (the same bytes serde_json writes inside a larger document).
fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> Result<Box<str>> {
    Ok(raw_json(v)?.get().into())
}

/// The token estimate: UTF-8 bytes / 4, rounded up.
pub fn token_estimate(text: &str) -> u32 {
    text.len().div_ceil(4).min(u32::MAX as usize) as u32
}

impl CompiledAtlas {
    /// Compiles a validated manifest.
    pub fn compile(manifest: AtlasManifest) -> Result<CompiledAtlas> {
        let cap_index: FxHashMap<String, u32> = manifest
            .capabilities
            .iter()
            .enumerate()
            .map(|(i, c)| (c.capability_id.clone(), i as u32))
            .collect();
        let action_index: FxHashMap<Arc<str>, u32> = manifest
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| (Arc::<str>::from(a.action_id.as_str()), i as u32))
            .collect();
        let mut sorted_ids: Vec<(&str, u32)> = manifest
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.action_id.as_str(), i as u32))
            .collect();
        crate::sort::sort(&mut sorted_ids);

        // Capability membership per action.
        let mut action_caps: Vec<Vec<u32>> = vec![Vec::new(); manifest.actions.len()];
        let mut capability_actions: Vec<Vec<u32>> = vec![Vec::new(); manifest.capabilities.len()];
        for (ci, cap) in manifest.capabilities.iter().enumerate() {
            for a in &cap.actions {
                if let Some(&ai) = action_index.get(a.as_str()) {
                    action_caps[ai as usize].push(ci as u32);
                    capability_actions[ci].push(ai);
                }
            }
            crate::sort::sort(&mut capability_actions[ci]);
            capability_actions[ci].dedup();
        }

        // Candidate lists: [deny, approval, rate, allow] per action.
        let mut lists: Vec<[Vec<u32>; 4]> = (0..manifest.actions.len())
            .map(|_| Default::default())
            .collect();
        let mut policies = Vec::with_capacity(manifest.policies.len());
        let mut problems = Vec::new();
        for (pi, pol) in manifest.policies.iter().enumerate() {
            let cond_caps: Option<Vec<u32>> = pol
                .conditions
                .as_ref()
                .and_then(|c| c.capabilities.as_ref())
                .map(|l| l.iter().filter_map(|c| cap_index.get(c).copied()).collect());
            let mut matched = vec![false; manifest.actions.len()];
            match &pol.actions {
                None => matched.iter_mut().for_each(|m| *m = true),
                Some(pats) => {
                    for pat in pats {
                        match Pattern::parse(pat) {
                            Ok(p) => mark_matches(&p, &sorted_ids, &action_index, &mut matched),
                            Err(msg) => problems.push(Problem {
                                code: "invalid_pattern",
                                message: msg,
                                pointer: format!("/policies/{pi}/actions"),
                            }),
                        }
                    }
                }
            }
            let slot = match pol.policy_type {
                PolicyType::Deny => 0,
                PolicyType::RequireApproval => 1,
                PolicyType::RateLimit => 2,
                PolicyType::Allow => 3,
            };
            for (ai, m) in matched.iter().enumerate() {
                let in_caps = cond_caps
                    .as_ref()
                    .is_none_or(|cc| action_caps[ai].iter().any(|c| cc.contains(c)));
                if *m && in_caps {
                    lists[ai][slot].push(pi as u32);
                }
            }
            let conditions = CompiledConditions::compile(pol.conditions.as_ref()).map_err(|m| {
                CraError::at(
                    ErrorCode::InvalidAtlas,
                    format!("/policies/{pi}/conditions"),
                    m,
                )
            })?;
            policies.push(CompiledPolicy {
                id: pol.policy_id.as_str().into(),
                reason: pol.reason.as_deref().map(Arc::from),
                conditions,
                rate_limit: pol.rate_limit,
                approval_timeout_seconds: pol.approval_timeout_seconds,
                id_json: json_text(&pol.policy_id)?,
                reason_json: pol.reason.as_ref().map(json_text).transpose()?,
            });
        }
        if !problems.is_empty() {
            return Err(CraError::from_problems(
                ErrorCode::InvalidAtlas,
                "invalid atlas",
                problems,
            ));
        }
        // Priority (high first), then declaration order: a stable sort keeps declaration order.
        for l in lists.iter_mut() {
            for slot in l.iter_mut() {
                crate::sort::sort_by_key(slot, |&pi| {
                    std::cmp::Reverse(manifest.policies[pi as usize].priority)
                });
            }
        }

        let mut actions = Vec::with_capacity(manifest.actions.len());
        for ((a, caps), [deny, approval, rate, allow]) in
            manifest.actions.iter().zip(action_caps).zip(lists)
        {
            let validator = match &a.parameters_schema {
                Some(s) => Some(
                    params::compile(s).map_err(|m| CraError::new(ErrorCode::InvalidAtlas, m))?,
                ),
                None => None,
            };
            let wire = ActionWire {
                head: format!(
                    "\"action_id\":{},\"atlas_id\":{}",
                    json_text(&a.action_id)?,
                    json_text(&manifest.atlas_id)?
                )
                .into(),
                mid: format!(
                    ",\"name\":{},\"description\":{},\"risk_tier\":{}",
                    json_text(&a.name)?,
                    json_text(&a.description)?,
                    json_text(a.risk_tier.as_str())?
                )
                .into(),
                tail: format!(
                    ",\"requires_confirmation\":{},\"parameters_schema\":{}",
                    a.requires_confirmation,
                    json_text(&a.parameters_schema)?
                )
                .into(),
            };
            actions.push(CompiledAction {
                wire,
                id: a.action_id.as_str().into(),
                name: a.name.as_str().into(),
                description: a.description.as_str().into(),
                risk_tier: a.risk_tier,
                requires_confirmation: a.requires_confirmation,
                timeout_seconds: a.timeout_seconds,
                parameters_schema_json: a.parameters_schema.as_ref().map(raw_json).transpose()?,
                validator,
                rate_limit: a.rate_limit,
                capabilities: caps,
                deny: deny.into(),
                approval: approval.into(),
                rate: rate.into(),
                allow: allow.into(),
            });
        }
        // Fix up action_index to share the action's Arc<str>.
        let action_index: FxHashMap<Arc<str>, u32> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i as u32))
            .collect();

        let mut packs = Vec::with_capacity(manifest.context_packs.len());
        for (di, p) in manifest.context_packs.iter().enumerate() {
            let mut caps: Vec<u32> = p
                .conditions
                .as_ref()
                .and_then(|c| c.capabilities.as_ref())
                .map(|l| l.iter().filter_map(|c| cap_index.get(c).copied()).collect())
                .unwrap_or_default();
            for (ci, cap) in manifest.capabilities.iter().enumerate() {
                if cap.context_packs.contains(&p.pack_id) && !caps.contains(&(ci as u32)) {
                    caps.push(ci as u32);
                }
            }
            let conditions = CompiledConditions::compile(p.conditions.as_ref()).map_err(|m| {
                CraError::at(
                    ErrorCode::InvalidAtlas,
                    format!("/context_packs/{di}/conditions"),
                    m,
                )
            })?;
            packs.push(CompiledPack {
                priority: p.priority,
                decl: di as u32,
                conditions,
                capabilities: caps,
                keywords: p.keywords.iter().map(|k| k.to_lowercase()).collect(),
                max_tokens: p.max_tokens,
                blocks: p
                    .blocks
                    .iter()
                    .map(|b| {
                        let tokens = token_estimate(&b.content);
                        let wire = format!(
                            "{{\"block_id\":{},\"source\":{},\"pack_id\":{},\"content_type\":{},\"content\":{},\"priority\":{},\"token_estimate\":{}}}",
                            json_text(&b.block_id)?,
                            json_text(&manifest.atlas_id)?,
                            json_text(&p.pack_id)?,
                            json_text(&b.content_type)?,
                            json_text(&b.content)?,
                            p.priority,
                            tokens
                        );
                        Ok(CompiledBlock {
                            block_id: b.block_id.as_str().into(),
                            tokens,
                            wire: RawValue::from_string(wire).map_err(|e| {
                                CraError::new(
                                    ErrorCode::Internal,
                                    format!("cannot render a context block: {e}"),
                                )
                            })?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            });
        }
        crate::sort::sort_by_key(&mut packs, |p| (std::cmp::Reverse(p.priority), p.decl));
        let warnings = super::lint::lint(&manifest, &actions, &policies);
        let context_validator = match &manifest.context_schema {
            Some(s) => Some(
                params::compile(s)
                    .map_err(|m| CraError::at(ErrorCode::InvalidAtlas, "/context_schema", m))?,
            ),
            None => None,
        };

        Ok(CompiledAtlas {
            id: manifest.atlas_id.as_str().into(),
            version: manifest.version.as_str().into(),
            manifest,
            actions,
            action_index,
            policies,
            packs,
            capability_index: cap_index,
            capability_actions,
            warnings,
            context_validator,
        })
    }
}

/// Marks every action matched by `p`, using the hash map for exact ids and binary search for
/// prefixes; only general globs look at every action.
fn mark_matches(
    p: &Pattern,
    sorted: &[(&str, u32)],
    index: &FxHashMap<Arc<str>, u32>,
    matched: &mut [bool],
) {
    match p {
        Pattern::Exact(e) => {
            if let Some(&i) = index.get(&**e) {
                matched[i as usize] = true;
            }
        }
        Pattern::Any => matched.iter_mut().for_each(|m| *m = true),
        Pattern::Prefix(pre) => {
            let start = sorted.partition_point(|(id, _)| *id < &**pre);
            for (id, i) in &sorted[start..] {
                if !id.starts_with(&**pre) {
                    break;
                }
                matched[*i as usize] = true;
            }
        }
        other => {
            for (id, i) in sorted {
                if other.matches(id) {
                    matched[*i as usize] = true;
                }
            }
        }
    }
}
