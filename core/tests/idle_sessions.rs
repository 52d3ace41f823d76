//! Sessions that are never ended are ended after `session_idle_timeout_seconds` of inactivity.

use cra_core::trace::verify_jsonl;
use cra_core::CarpRequest;
use cra_core::{ErrorCode, Resolver, ResolverConfig};
use serde_json::Value;
use std::time::Duration;

const ATLAS: &str = r#"{"atlas_version": "1.0", "atlas_id": "com.example.idle", "version": "1.0.0", "name": "Idle", "description": "",
    "actions": [{"action_id": "a.b", "name": "x", "description": ""}], "policies": [{"policy_id": "p", "type": "allow"}]}"#;

fn resolver(idle: u32) -> Resolver {
    let cfg = ResolverConfig {
        session_idle_timeout_seconds: idle,
        ..ResolverConfig::deterministic(9)
    };
    let r = Resolver::new(cfg).unwrap();
    r.load_atlas_json(ATLAS.as_bytes()).unwrap();
    r
}

#[test]
fn idle_sessions_end_and_active_ones_stay() {
    let r = resolver(60);
    r.resolve(CarpRequest::resolve("a", "s1", "g")).unwrap();
    r.resolve(CarpRequest::resolve("a", "s2", "g")).unwrap();
    r.clock().advance(30_000_000);
    r.resolve(CarpRequest::resolve("a", "s2", "g")).unwrap();
    r.clock().advance(40_000_000);
    assert_eq!(
        r.expire_idle_sessions(),
        1,
        "only s1 has been idle for more than 60 s"
    );
    assert_eq!(
        r.resolve(CarpRequest::resolve("a", "s1", "g"))
            .unwrap_err()
            .code,
        ErrorCode::SessionEnded
    );
    r.resolve(CarpRequest::resolve("a", "s2", "g")).unwrap();
    assert_eq!(r.expire_idle_sessions(), 0);

    r.flush(Duration::from_secs(5)).unwrap();
    let trace = r.drain_trace().unwrap();
    assert!(verify_jsonl(&trace).ok);
    let ended: Vec<Value> = trace
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|e| e["event_type"] == "session.ended")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (
            ended[0]["session_id"].as_str(),
            ended[0]["payload"]["reason"].as_str()
        ),
        (Some("s1"), Some("idle_timeout"))
    );
}

#[test]
fn zero_means_never() {
    let r = resolver(0);
    r.resolve(CarpRequest::resolve("a", "s1", "g")).unwrap();
    r.clock().advance(10 * 365 * 86_400 * 1_000_000);
    assert_eq!(r.expire_idle_sessions(), 0);
}

#[test]
fn the_timeout_is_validated() {
    let e =
        ResolverConfig::from_json(br#"{"session_idle_timeout_seconds": 40000000}"#).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (
            ErrorCode::InvalidConfig,
            Some("/session_idle_timeout_seconds")
        )
    );
}
