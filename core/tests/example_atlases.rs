//! The shipped example atlases load and behave as their descriptions promise.

use cra_core::unstable::MemoryRecorder;
use cra_core::{ApprovalDecision, CarpRequest, ExecuteStatus};
use cra_core::{FastVerdict, Resolver, ResolverConfig};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

fn atlas_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/atlases")
        .join(name)
}

fn resolver() -> Resolver {
    let r = Resolver::with_recorder(
        ResolverConfig::deterministic(7),
        Arc::new(MemoryRecorder::new()),
    )
    .unwrap();
    r.load_atlas_dir(atlas_dir("customer-support")).unwrap();
    r.load_atlas_dir(atlas_dir("devops")).unwrap();
    r
}

#[test]
fn support_agent_gets_orders_and_tickets_but_not_deletion() {
    let r = resolver();
    let mut req = CarpRequest::resolve(
        "support-bot-1",
        "s1",
        "Customer wants a refund for ORD-1234",
    );
    req.atlas_ids = Some(vec!["com.example.customer-support".into()]);
    let res = r.resolve(req).unwrap();
    assert_eq!(
        res.allowed_action_ids(),
        [
            "orders.lookup",
            "orders.list_recent",
            "orders.refund",
            "customers.get_profile",
            "tickets.reply",
            "tickets.close"
        ]
    );
    assert_eq!(res.denied_action_ids(), ["customers.delete_account"]);
    assert_eq!(res.pending_action_ids(), ["orders.refund_large"]);
    assert_eq!(res.decision.as_str(), "partial");
    // PII rules (300) before guidelines (200) before refund policy (150, keyword "refund").
    assert_eq!(
        res.context_block_ids(),
        [
            "pii-handling/context/pii-handling.md",
            "support-guidelines/context/guidelines.md",
            "refund-policy/context/refund-policy.md"
        ]
    );
    let wire = serde_json::to_value(&*res).unwrap();
    assert_eq!(
        wire["denied_actions"][0]["policy_id"],
        "deny-account-deletion"
    );
    assert_eq!(
        wire["denied_actions"][0]["reason"],
        "account deletion is handled by the privacy team, not by agents"
    );
}

#[test]
fn refunds_are_rate_limited_and_large_refunds_need_approval() {
    let r = resolver();
    let mut req = CarpRequest::resolve("support-bot-1", "s2", "refund");
    req.atlas_ids = Some(vec!["com.example.customer-support".into()]);
    let res = r.resolve(req).unwrap();
    let refund = json!({"order_id": "ORD-1234", "amount": 20.0, "reason": "damaged"});
    for _ in 0..3 {
        let a = r
            .execute(CarpRequest::execute(
                "support-bot-1",
                "s2",
                &res.resolution_id,
                "orders.refund",
                refund.clone(),
            ))
            .unwrap();
        assert_eq!(a.status, ExecuteStatus::Authorized);
    }
    assert_eq!(r.check("s2", "orders.refund"), FastVerdict::RateLimited);
    let a = r
        .execute(CarpRequest::execute(
            "support-bot-1",
            "s2",
            &res.resolution_id,
            "orders.refund",
            refund,
        ))
        .unwrap();
    assert_eq!(
        (a.status, a.reason_code, a.policy_id.as_deref()),
        (
            ExecuteStatus::Denied,
            Some("rate_limit_exceeded"),
            Some("refunds-per-session")
        )
    );

    let big = json!({"order_id": "ORD-1234", "amount": 450.0, "reason": "never arrived"});
    let a = r
        .execute(CarpRequest::execute(
            "support-bot-1",
            "s2",
            &res.resolution_id,
            "orders.refund_large",
            big.clone(),
        ))
        .unwrap();
    assert_eq!(a.status, ExecuteStatus::PendingApproval);
    let approval_id = a.approval_id.clone().unwrap();
    r.approve(&ApprovalDecision {
        approval_id,
        approver: Some("supervisor@example.com".into()),
        reason: Some("verified".into()),
    })
    .unwrap();
    let a = r
        .execute(CarpRequest::execute(
            "support-bot-1",
            "s2",
            &res.resolution_id,
            "orders.refund_large",
            big,
        ))
        .unwrap();
    assert_eq!(a.status, ExecuteStatus::Authorized);
}

#[test]
fn devops_deploys_need_approval_only_in_production() {
    let r = resolver();
    let mut prod = CarpRequest::resolve("oncall-alice", "d1", "deploy the new image");
    prod.atlas_ids = Some(vec!["com.example.devops".into()]);
    prod.context = Some(
        json!({"environment": "production"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let res = r.resolve(prod.clone()).unwrap();
    assert_eq!(res.pending_action_ids(), ["k8s.deployments.deploy"]);
    assert_eq!(
        res.denied_action_ids(),
        ["k8s.namespaces.delete", "db.tables.drop"]
    );

    prod.requester.session_id = "d2".into();
    prod.context = Some(
        json!({"environment": "staging"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let res = r.resolve(prod.clone()).unwrap();
    assert!(res.allowed_action_ids().contains(&"k8s.deployments.deploy"));
    assert!(res.pending_action_ids().is_empty());

    // The review's bypass: leaving the environment out used to deploy outright. The atlas
    // declares its context (context_schema), so such a request is refused.
    prod.requester.session_id = "d3".into();
    prod.context = None;
    let e = r.resolve(prod.clone()).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (cra_core::ErrorCode::InvalidRequest, Some("/context"))
    );
    prod.context = Some(json!({"environment": "prod"}).as_object().unwrap().clone());
    let e = r.resolve(prod).unwrap_err();
    assert_eq!(e.pointer.as_deref(), Some("/context/environment"));
}
