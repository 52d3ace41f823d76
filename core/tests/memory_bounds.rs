//! What a long-lived session keeps in memory stays bounded: pending approvals by the
//! per-session resolution cap, reported executions by a resolution's lifetime.

mod common;

use common::*;
use cra_core::{ErrorCode, ResolverConfig};
use serde_json::json;

fn stat(r: &cra_core::Resolver, key: &str) -> u64 {
    serde_json::to_value(r.stats()).unwrap()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("stats has no {key}"))
}

#[test]
fn live_approvals_per_session_are_bounded() {
    let (r, _) = resolver_with(ResolverConfig {
        max_resolutions_per_session: 8,
        max_approvals_per_session: 16,
        ..ResolverConfig::deterministic(3)
    });
    let policies = vec![
        policy("allow", "allow", None),
        policy("gate", "require_approval", Some(&["svc.write"])),
    ];
    load(
        &r,
        &atlas("com.example.gate", &["svc.read", "svc.write"], policies),
    );
    for _ in 0..10_000 {
        let res = r.resolve(req("a", "s", "work")).unwrap();
        assert_eq!(res.approval_id, None, "a resolution creates no approval");
    }
    assert_eq!(stat(&r, "resolutions"), 8);
    assert_eq!(stat(&r, "approvals"), 0);
    let res = r.resolve(req("a", "s", "work")).unwrap();
    for i in 0..16 {
        let ans = r
            .execute(exec(
                "a",
                "s",
                &res.resolution_id,
                "svc.write",
                json!({"n": i}),
            ))
            .unwrap();
        assert_eq!(ans.status, cra_core::ExecuteStatus::PendingApproval);
    }
    let err = r
        .execute(exec(
            "a",
            "s",
            &res.resolution_id,
            "svc.write",
            json!({"n": 16}),
        ))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::LimitExceeded);
    assert_eq!(stat(&r, "approvals"), 16);
}

#[test]
fn reported_executions_are_forgotten_after_a_resolution_lifetime() {
    let (r, _) = resolver_with(ResolverConfig {
        resolution_ttl_seconds: 60,
        ..ResolverConfig::deterministic(4)
    });
    load(&r, &allow_all("com.example.tools", &["svc.read"]));
    let mut reported = Vec::new();
    let mut running = None;
    // More calls than the pruning period (4,096 calls), each resolution used for one call.
    for i in 0..5_000 {
        let res = r.resolve(req("a", "s", "work")).unwrap();
        let answer = r
            .execute(exec("a", "s", &res.resolution_id, "svc.read", json!({})))
            .unwrap();
        let id = answer.execution_id.clone().unwrap();
        if i == 0 {
            running = Some(id); // never reported: its tool may still be running
        } else {
            r.report(&report_ok(&id)).unwrap();
            reported.push(id);
        }
        r.clock().advance(1_000_000);
    }
    let executions = stat(&r, "executions");
    assert!(
        executions < 1_000,
        "reported executions older than 60 s are pruned, {executions} kept"
    );
    assert_eq!(
        r.report(&report_ok(&reported[0])).unwrap_err().code,
        ErrorCode::ExecutionNotFound,
        "an old reported execution is forgotten"
    );
    assert_eq!(
        r.report(&report_ok(reported.last().unwrap()))
            .unwrap_err()
            .code,
        ErrorCode::ExecutionAlreadyReported,
        "a recent one still answers a repeated report"
    );
    r.report(&report_ok(&running.unwrap()))
        .expect("an unreported execution is kept until its session ends");
}
