//! The documented public API, end to end, through nothing but the crate root, `trace`, `atlas`,
//! `replay` and `api` (never `unstable`): resolve → execute → approval → report → explain →
//! stats → end session → verify the trace. Making a type or method users need private breaks
//! this test; so does renaming or reordering a member of a typed answer (each must serialize to
//! the wire JSON `api::` returns, member for member, in the same order).

use cra_core::atlas::{manifest_from_json, AtlasManifest, PolicyType};
use cra_core::trace::{verify_jsonl, SinkKind, TraceConfig, TraceStats, VerifyReport};
use cra_core::{
    api, ApprovalDecision, ApprovalFilter, ApprovalRecord, ApprovalStatus, CarpRequest, CraError,
    ErrorCode, ExecuteAnswer, ExecuteStatus, ExecutionReport, ExplainVerdict, Explanation, Family,
    FastVerdict, ReportReceipt, ReportStatus, Resolution, Resolver, ResolverConfig, ResolverStats,
    SessionEnd,
};
use serde_json::{json, Value};
use std::sync::Arc;

fn atlas() -> Value {
    json!({
        "atlas_version": "1.0",
        "atlas_id": "com.example.shop",
        "version": "1.0.0",
        "name": "Shop",
        "description": "orders",
        "actions": [
            {"action_id": "orders.get", "name": "Get", "description": "read an order"},
            {"action_id": "orders.refund", "name": "Refund", "description": "refund an order"}
        ],
        "policies": [
            {"policy_id": "refunds-need-approval", "type": "require_approval",
             "actions": ["orders.refund"], "reason": "money leaves",
             "conditions": {"risk_tiers": ["low", "medium"]}},
            {"policy_id": "allow-all", "type": "allow"}
        ]
    })
}

/// The member names of a value's JSON object, in order.
fn keys(v: &impl serde::Serialize) -> Vec<String> {
    match serde_json::to_value(v).expect("serializes") {
        Value::Object(m) => m.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_documented_api_end_to_end() {
    let config = ResolverConfig {
        trace: TraceConfig {
            sink: SinkKind::Memory,
            ..Default::default()
        },
        ..ResolverConfig::deterministic(1)
    };
    let r = Resolver::new(config).expect("resolver");
    let manifest: AtlasManifest =
        manifest_from_json(atlas().to_string().as_bytes()).expect("valid atlas");
    assert_eq!(
        manifest.policies[0].policy_type,
        PolicyType::RequireApproval
    );
    let info = r.load_manifest(manifest).expect("loads");
    assert_eq!((info.actions, info.policies), (2, 2));

    let res: Arc<Resolution> = r
        .resolve(CarpRequest::resolve("bot", "s1", "handle order A-1"))
        .expect("resolves");
    assert_eq!(res.allowed_action_ids(), ["orders.get"]);
    assert_eq!(res.pending_action_ids(), ["orders.refund"]);
    assert_eq!(r.check("s1", "orders.get"), FastVerdict::Allowed);

    // An allowed call, run and reported.
    let ok: Arc<ExecuteAnswer> = r
        .execute(CarpRequest::execute(
            "bot",
            "s1",
            &res.resolution_id,
            "orders.get",
            json!({"id": "A-1"}),
        ))
        .expect("executes");
    assert_eq!(ok.status, ExecuteStatus::Authorized);
    let receipt: ReportReceipt = r
        .report(&ExecutionReport {
            execution_id: ok.execution_id.clone().expect("execution id"),
            result: Some(json!({"state": "shipped"})),
            error: None,
            duration_ms: None,
        })
        .expect("reports");
    assert_eq!(receipt.status, ReportStatus::Executed);
    assert_eq!(receipt.action_id, "orders.get");
    assert_eq!(
        keys(&receipt),
        names(&[
            "execution_id",
            "status",
            "action_id",
            "recorded_at",
            "elapsed_us"
        ])
    );

    // A call that needs an approval: listed, approved by a human, then authorized once.
    let refund = || {
        CarpRequest::execute(
            "bot",
            "s1",
            &res.resolution_id,
            "orders.refund",
            json!({"id": "A-1", "amount": 5}),
        )
    };
    let asked = r.execute(refund()).expect("executes");
    assert_eq!(asked.status, ExecuteStatus::PendingApproval);
    let approval_id = asked.approval_id.clone().expect("approval id");
    let pending: Vec<ApprovalRecord> = r.approvals(&ApprovalFilter::default());
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].approval_id, approval_id);
    assert_eq!(pending[0].status, ApprovalStatus::Pending);
    assert_eq!(
        pending[0].policy_id.as_deref(),
        Some("refunds-need-approval")
    );
    assert_eq!(pending[0].parameters, json!({"id": "A-1", "amount": 5}));
    assert_eq!(
        keys(&pending[0]),
        names(&[
            "approval_id",
            "status",
            "session_id",
            "agent_id",
            "atlas_id",
            "action_id",
            "parameters",
            "parameters_hash",
            "policy_id",
            "policy_reason",
            "resolution_id",
            "created_at",
            "expires_at",
            "approver",
            "reason",
            "decided_at",
        ])
    );
    let own: CraError = r
        .approve(&ApprovalDecision {
            approval_id: approval_id.clone(),
            approver: Some("bot".into()),
            reason: None,
        })
        .expect_err("an agent cannot approve its own call");
    assert_eq!(own.code, ErrorCode::ApprovalForbidden);
    assert_eq!(own.code.family(), Family::Approval);
    let decided = r
        .approve(&ApprovalDecision {
            approval_id: approval_id.clone(),
            approver: Some("alice".into()),
            reason: Some("checked".into()),
        })
        .expect("approves");
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(decided.approver.as_deref(), Some("alice"));
    assert_eq!(
        r.execute(refund()).expect("executes").status,
        ExecuteStatus::Authorized
    );
    assert_eq!(
        r.approval(&approval_id).expect("known").status,
        ApprovalStatus::Consumed
    );

    // Explain: typed down to each policy; condition details stay open JSON.
    let why: Explanation = r
        .explain(
            &CarpRequest::resolve("bot", "s1", "refund A-1"),
            "orders.refund",
        )
        .expect("explains");
    assert_eq!(why.verdict, ExplainVerdict::PendingApproval);
    assert_eq!(why.reason_code, Some("approval_required"));
    assert_eq!(why.policy_id.as_deref(), Some("refunds-need-approval"));
    assert_eq!(why.policies.len(), 2);
    assert_eq!(why.policies[0].policy_type, PolicyType::RequireApproval);
    assert!(why.policies[0].decided);
    assert_eq!(
        keys(&why),
        names(&[
            "action_id",
            "atlas_id",
            "verdict",
            "reason_code",
            "policy_id",
            "input",
            "policies"
        ])
    );
    assert_eq!(
        keys(&why.input),
        names(&["agent_id", "risk_tier", "context"])
    );
    let tiers = &why.policies[0].conditions[0];
    assert_eq!((tiers.kind, tiers.held), ("risk_tiers", Some(true)));
    assert_eq!(tiers.expected, json!(["low", "medium"]));
    assert_eq!(keys(tiers), names(&["kind", "held", "expected", "saw"]));
    assert_eq!(
        keys(&why.policies[0]),
        names(&[
            "policy_id",
            "type",
            "priority",
            "pattern_matched",
            "conditions",
            "applies",
            "decided",
            "note"
        ])
    );

    let stats: ResolverStats = r.stats();
    assert_eq!((stats.resolves, stats.executes), (1, 3));
    assert_eq!((stats.authorized, stats.reports, stats.sessions), (2, 1, 1));
    assert_eq!(
        keys(&stats),
        names(&[
            "trace",
            "atlases",
            "sessions",
            "ended_sessions",
            "resolutions",
            "approvals",
            "executions",
            "rate_limit_windows",
            "resolves",
            "executes",
            "authorized",
            "denied",
            "reports",
            "shadows",
            "shadow_diffs",
        ])
    );
    let trace: &TraceStats = stats.trace.as_ref().expect("a memory sink has a collector");
    assert_eq!(trace.dropped, 0);

    let ended: SessionEnd = r.end_session("s1", Some("done")).expect("ends");
    assert_eq!(ended.reason, "done");
    assert_eq!(ended.trace_id, &*res.trace_id);
    assert_eq!(
        keys(&ended),
        names(&[
            "session_id",
            "trace_id",
            "reason",
            "ended_at",
            "duration_us"
        ])
    );

    // Each typed answer is exactly what the JSON surface returns.
    assert_eq!(
        serde_json::to_vec(&r.stats()).unwrap(),
        api::stats(&r).unwrap()
    );

    let jsonl = r.drain_trace().expect("memory sink");
    let report: VerifyReport = verify_jsonl(&jsonl);
    assert!(report.ok, "{:?}", report.errors);
    assert_eq!(report.sessions, 1);
    let replayed = cra_core::replay::replay(
        &jsonl,
        vec![manifest_from_json(atlas().to_string().as_bytes()).unwrap()],
    )
    .expect("replays");
    assert!(replayed.changed.is_empty());
}
