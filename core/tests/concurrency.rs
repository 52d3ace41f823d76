//! Many threads on one resolver: same answers as one thread, exact global rate limits, and
//! valid trace chains even when threads share sessions.

use cra_core::trace::verify_jsonl;
use cra_core::{CarpRequest, ExecuteStatus};
use cra_core::{Resolver, ResolverConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn atlas() -> String {
    json!({"atlas_version": "1.0", "atlas_id": "com.example.conc", "version": "1.0.0", "name": "Conc", "description": "",
        "actions": [
            {"action_id": "a.read", "name": "r", "description": ""},
            {"action_id": "a.write", "name": "w", "description": ""},
            {"action_id": "a.delete", "name": "d", "description": ""},
            {"action_id": "a.ping", "name": "p", "description": ""}],
        "policies": [
            {"policy_id": "deny-delete-for-guests", "type": "deny", "actions": ["a.delete"], "conditions": {"agents": ["guest-*"]}},
            {"policy_id": "global-ping-limit", "type": "rate_limit", "actions": ["a.ping"], "parameters": {"max_calls": 100, "window_seconds": 3600, "per": "global"}},
            {"policy_id": "allow-all", "type": "allow"}]})
    .to_string()
}

fn resolver() -> Arc<Resolver> {
    let r = Resolver::new(ResolverConfig::default()).unwrap();
    r.load_atlas_json(atlas().as_bytes()).unwrap();
    Arc::new(r)
}

fn lists(r: &cra_core::Resolution) -> (Vec<String>, Vec<String>) {
    (
        r.allowed_action_ids()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        r.denied_action_ids()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

#[test]
fn resolver_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Resolver>();
}

#[test]
fn threads_get_the_same_answers_as_one_thread() {
    let r = resolver();
    let agents = ["guest-1", "staff-1"];
    let expected: Vec<_> = agents
        .iter()
        .map(|a| {
            lists(
                &r.resolve(CarpRequest::resolve(a, &format!("ref-{a}"), "g"))
                    .unwrap(),
            )
        })
        .collect();
    assert_ne!(
        expected[0], expected[1],
        "the two agents must get different answers for the test to mean anything"
    );
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let r = r.clone();
            let expected = expected.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let which = (t + i) % 2;
                    let agent = ["guest-1", "staff-1"][which];
                    let res = r
                        .resolve(CarpRequest::resolve(agent, &format!("t{t}-{agent}"), "g"))
                        .unwrap();
                    assert_eq!(lists(&res), expected[which]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_global_limit_is_exact_under_contention() {
    let r = resolver();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let r = r.clone();
            std::thread::spawn(move || {
                let session = format!("ping-{t}");
                let res = r
                    .resolve(CarpRequest::resolve("staff-1", &session, "ping"))
                    .unwrap();
                (0..50)
                    .filter(|_| {
                        r.execute(CarpRequest::execute(
                            "staff-1",
                            &session,
                            &res.resolution_id,
                            "a.ping",
                            json!({}),
                        ))
                        .unwrap()
                        .status
                            == ExecuteStatus::Authorized
                    })
                    .count()
            })
        })
        .collect();
    let authorized: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(
        authorized, 100,
        "8 threads x 50 calls against a global limit of 100"
    );
}

#[test]
fn shared_sessions_keep_valid_chains() {
    let r = resolver();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    r.resolve(CarpRequest::resolve(
                        "staff-1",
                        &format!("shared-{}", i % 4),
                        "g",
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    r.flush(Duration::from_secs(30)).unwrap();
    let trace = r.drain_trace().unwrap();
    let report = verify_jsonl(&trace);
    assert!(report.ok, "{:?}", report.errors);
    assert_eq!(report.sessions, 4);
    assert_eq!(
        report.events,
        4 + 1000 * 4,
        "one session.started per session plus four events per resolve"
    );
}
