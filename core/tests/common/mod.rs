//! Small atlas builders and resolver helpers shared by the engine tests.
#![allow(dead_code)]

use cra_core::unstable::MemoryRecorder;
use cra_core::{ApprovalDecision, CarpRequest, ExecutionReport};
use cra_core::{CraError, Resolver, ResolverConfig, RiskTier};
use serde_json::{json, Value};
use std::sync::Arc;

/// A deterministic resolver (seed 7) with a memory recorder.
pub fn resolver() -> (Resolver, Arc<MemoryRecorder>) {
    resolver_with(ResolverConfig::deterministic(7))
}

pub fn resolver_with(cfg: ResolverConfig) -> (Resolver, Arc<MemoryRecorder>) {
    let rec = Arc::new(MemoryRecorder::new());
    let r = Resolver::with_recorder(cfg, rec.clone()).expect("resolver");
    (r, rec)
}

/// A minimal action object.
pub fn action(id: &str) -> Value {
    json!({"action_id": id, "name": id, "description": format!("the {id} action")})
}

/// A policy object. `actions: None` means the policy has no `actions` key (every action).
pub fn policy(id: &str, ty: &str, actions: Option<&[&str]>) -> Value {
    let mut p = json!({"policy_id": id, "type": ty});
    if let Some(a) = actions {
        p["actions"] = json!(a);
    }
    p
}

/// `policy` plus extra keys merged in.
pub fn policy_with(id: &str, ty: &str, actions: Option<&[&str]>, extra: Value) -> Value {
    let mut p = policy(id, ty, actions);
    for (k, v) in extra.as_object().expect("extra must be an object") {
        p[k] = v.clone();
    }
    p
}

/// A valid atlas with the given actions (plain) and policies.
pub fn atlas(id: &str, actions: &[&str], policies: Vec<Value>) -> Value {
    json!({
        "atlas_version": "1.0",
        "atlas_id": id,
        "version": "1.0.0",
        "name": format!("atlas {id}"),
        "description": "test atlas",
        "actions": actions.iter().map(|a| action(a)).collect::<Vec<_>>(),
        "policies": policies,
    })
}

/// An atlas that allows all its actions.
pub fn allow_all(id: &str, actions: &[&str]) -> Value {
    atlas(id, actions, vec![policy("allow-all", "allow", None)])
}

pub fn load(r: &Resolver, atlas: &Value) {
    r.load_atlas_json(&serde_json::to_vec(atlas).unwrap())
        .unwrap_or_else(|e| panic!("load failed: {e} {:?}", e.details));
}

pub fn load_err(r: &Resolver, atlas: &Value) -> CraError {
    r.load_atlas_json(&serde_json::to_vec(atlas).unwrap())
        .expect_err("atlas should be refused")
}

pub fn req(agent: &str, session: &str, goal: &str) -> CarpRequest {
    CarpRequest::resolve(agent, session, goal)
}

pub fn req_tier(agent: &str, session: &str, tier: RiskTier) -> CarpRequest {
    CarpRequest::resolve(agent, session, "do things").with_risk(tier)
}

/// Builds a request from JSON (strict parser).
pub fn req_json(v: Value) -> CarpRequest {
    CarpRequest::from_value(v).expect("valid request")
}

pub fn exec(
    agent: &str,
    session: &str,
    resolution_id: &str,
    action: &str,
    params: Value,
) -> CarpRequest {
    CarpRequest::execute(agent, session, resolution_id, action, params)
}

pub fn exec_key(
    agent: &str,
    session: &str,
    resolution_id: &str,
    action: &str,
    params: Value,
    key: &str,
) -> CarpRequest {
    let mut r = CarpRequest::execute(agent, session, resolution_id, action, params);
    r.execution.as_mut().unwrap().idempotency_key = Some(key.to_string());
    r
}

pub fn decision(approval_id: &str) -> ApprovalDecision {
    ApprovalDecision {
        approval_id: approval_id.to_string(),
        approver: Some("alice".into()),
        reason: Some("looks fine".into()),
    }
}

pub fn report_ok(execution_id: &str) -> ExecutionReport {
    ExecutionReport {
        execution_id: execution_id.to_string(),
        result: Some(json!({"ok": true})),
        error: None,
        duration_ms: Some(1.5),
    }
}

/// Resolves and returns (allowed, denied, pending) ids as owned strings.
pub fn verdicts(r: &Resolver, request: CarpRequest) -> (Vec<String>, Vec<String>, Vec<String>) {
    let res = r
        .resolve(request)
        .unwrap_or_else(|e| panic!("resolve failed: {e}"));
    let own = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    (
        own(res.allowed_action_ids()),
        own(res.denied_action_ids()),
        own(res.pending_action_ids()),
    )
}

/// The wire JSON of a resolution.
pub fn wire(res: &cra_core::Resolution) -> Value {
    serde_json::to_value(res).unwrap()
}

/// `denied_actions` as (action_id, reason_code, policy_id).
pub fn denied_detail(res: &cra_core::Resolution) -> Vec<(String, String, Option<String>)> {
    wire(res)["denied_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["action_id"].as_str().unwrap().to_string(),
                d["reason_code"].as_str().unwrap().to_string(),
                d["policy_id"].as_str().map(String::from),
            )
        })
        .collect()
}

/// `allowed_actions` as (action_id, policy_id).
pub fn allowed_detail(res: &cra_core::Resolution) -> Vec<(String, Option<String>)> {
    wire(res)["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["action_id"].as_str().unwrap().to_string(),
                d["policy_id"].as_str().map(String::from),
            )
        })
        .collect()
}

pub fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A unique temp dir for one test.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "cra-core-test-{}-{}-{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
