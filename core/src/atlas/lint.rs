//! Lint: what an atlas says that can never matter, reported as warnings in the load answer
//! (`AtlasInfo.warnings`) and by `cra atlas lint`. None of these stops a load: each names a
//! likely mistake in the atlas, with the pointer of what to fix.
//!
//! - `no_allow_underneath`: a `require_approval` or `rate_limit` policy covers only actions no
//!   allow grants (it restricts an allow and never grants, so it never applies).
//! - `never_allowed`: no `allow` policy covers an action, and no `deny` names it either (it is
//!   always denied by default, which an explicit deny would say on purpose).
//! - `shadowed_policy`: every action a policy covers is covered, earlier in its ladder rung, by
//!   an unconditional policy of the same type, so it can never be the one that decides.
//! - `context_key_not_required`: a `context_matches` condition reads a context key that the
//!   atlas's `context_schema` does not require (or there is no schema): a request can leave the
//!   key out and the condition silently does not apply.
//! - `unused_capability`: a capability with no actions and no packs that nothing refers to.

use super::compile::{CompiledAction, CompiledPolicy};
use super::model::{AtlasManifest, Conditions, PolicyType};
use crate::error::Problem;
use serde_json::Value;

/// Every lint warning of a compiled atlas, in document order of what they point at.
pub(crate) fn lint(
    manifest: &AtlasManifest,
    actions: &[CompiledAction],
    policies: &[CompiledPolicy],
) -> Vec<Problem> {
    let mut out = restrictions_without_allow(manifest, actions);
    never_allowed(manifest, actions, &mut out);
    shadowed(manifest, actions, policies, &mut out);
    context_keys(manifest, &mut out);
    unused_capabilities(manifest, &mut out);
    out
}

fn restrictions_without_allow(
    manifest: &AtlasManifest,
    actions: &[CompiledAction],
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (pi, p) in manifest.policies.iter().enumerate() {
        let covers = |a: &CompiledAction| match p.policy_type {
            PolicyType::RequireApproval => a.approval.contains(&(pi as u32)),
            PolicyType::RateLimit => a.rate.contains(&(pi as u32)),
            _ => false,
        };
        let mut matched = actions.iter().filter(|a| covers(a)).peekable();
        if matched.peek().is_none() {
            continue;
        }
        if matched.all(|a| a.allow.is_empty()) {
            out.push(Problem {
                code: "no_allow_underneath",
                pointer: format!("/policies/{pi}"),
                message: format!(
                    "{} policy {:?} covers only actions that no allow policy grants; it never applies (actions without an allow are denied by default)",
                    p.policy_type.as_str(),
                    p.policy_id
                ),
            });
        }
    }
    out
}

fn never_allowed(manifest: &AtlasManifest, actions: &[CompiledAction], out: &mut Vec<Problem>) {
    for (i, a) in actions.iter().enumerate() {
        if a.allow.is_empty() && a.deny.is_empty() {
            out.push(Problem {
                code: "never_allowed",
                pointer: format!("/actions/{i}"),
                message: format!(
                    "no allow policy covers action {:?}: it is always denied by default",
                    manifest.actions[i].action_id
                ),
            });
        }
    }
}

fn unconditional(p: &CompiledPolicy) -> bool {
    let c = &p.conditions;
    c.risk_mask == 0 && c.agents.is_none() && c.context_matches.is_none() && c.time_window.is_none()
}

fn shadowed(
    manifest: &AtlasManifest,
    actions: &[CompiledAction],
    policies: &[CompiledPolicy],
    out: &mut Vec<Problem>,
) {
    for (pi, p) in manifest.policies.iter().enumerate() {
        let pi = pi as u32;
        let rung = |a: &CompiledAction| -> Option<Vec<u32>> {
            match p.policy_type {
                PolicyType::Deny => Some(a.deny.to_vec()),
                PolicyType::RequireApproval => Some(a.approval.to_vec()),
                PolicyType::Allow => Some(a.allow.to_vec()),
                // every matching rate limit applies: none shadows another
                PolicyType::RateLimit => None,
            }
        };
        let mut covered = 0;
        let mut by: Option<u32> = None;
        let mut all_shadowed = true;
        for a in actions {
            let Some(list) = rung(a) else {
                all_shadowed = false;
                break;
            };
            let Some(pos) = list.iter().position(|&q| q == pi) else {
                continue;
            };
            covered += 1;
            match list[..pos]
                .iter()
                .find(|&&q| unconditional(&policies[q as usize]))
            {
                Some(&q) => {
                    by.get_or_insert(q);
                }
                None => {
                    all_shadowed = false;
                    break;
                }
            }
        }
        if covered > 0 && all_shadowed {
            let q = by.map(|q| manifest.policies[q as usize].policy_id.as_str());
            out.push(Problem {
                code: "shadowed_policy",
                pointer: format!("/policies/{pi}"),
                message: format!(
                    "policy {:?} can never decide: an unconditional {} policy earlier in the ladder ({}) covers every action it covers",
                    p.policy_id,
                    p.policy_type.as_str(),
                    q.map(|q| format!("{q:?}")).unwrap_or_default()
                ),
            });
        }
    }
}

fn required_keys(schema: Option<&Value>) -> Vec<&str> {
    schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn context_keys(manifest: &AtlasManifest, out: &mut Vec<Problem>) {
    let required = required_keys(manifest.context_schema.as_ref());
    let mut check = |c: Option<&Conditions>, ptr: String, owner: &str| {
        let Some(cm) = c.and_then(|c| c.context_matches.as_ref()) else {
            return;
        };
        for k in cm.keys() {
            if !required.contains(&k.as_str()) {
                out.push(Problem {
                    code: "context_key_not_required",
                    pointer: format!("{ptr}/conditions/context_matches/{}", crate::error::pointer_token(k)),
                    message: format!(
                        "{owner} is conditioned on context key {k:?}, which the atlas's context_schema does not require: a request can leave it out and the condition silently does not apply (add it to context_schema.required)"
                    ),
                });
            }
        }
    };
    for (i, p) in manifest.policies.iter().enumerate() {
        check(
            p.conditions.as_ref(),
            format!("/policies/{i}"),
            &format!("policy {:?}", p.policy_id),
        );
    }
}

fn unused_capabilities(manifest: &AtlasManifest, out: &mut Vec<Problem>) {
    let referenced = |id: &str| {
        let in_conditions = |c: Option<&Conditions>| {
            c.and_then(|c| c.capabilities.as_ref())
                .is_some_and(|l| l.iter().any(|x| x == id))
        };
        manifest
            .policies
            .iter()
            .any(|p| in_conditions(p.conditions.as_ref()))
            || manifest
                .context_packs
                .iter()
                .any(|p| in_conditions(p.conditions.as_ref()))
    };
    for (i, c) in manifest.capabilities.iter().enumerate() {
        if c.actions.is_empty() && c.context_packs.is_empty() && !referenced(&c.capability_id) {
            out.push(Problem {
                code: "unused_capability",
                pointer: format!("/capabilities/{i}"),
                message: format!(
                    "capability {:?} has no actions and no packs and nothing refers to it",
                    c.capability_id
                ),
            });
        }
    }
}
