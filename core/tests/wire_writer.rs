//! The resolution's direct wire writer (`Resolution::to_json_bytes`, what every binding gets)
//! writes exactly the bytes of its `Serialize` impl, whatever the strings in the atlas and the
//! request, for every kind of entry: allowed, denied (policy, default, rate limit), pending,
//! context blocks and constraints.

use cra_core::CarpRequest;
use cra_core::{Resolver, ResolverConfig};
use proptest::prelude::*;
use serde_json::{json, Value};

fn atlas(name: &str, description: &str, reason: &str, content: &str) -> Value {
    json!({
        "atlas_version": "1.0", "atlas_id": "com.example.wire", "version": "1.0.0",
        "name": name, "description": description,
        "actions": [
            {"action_id": "svc.read", "name": name, "description": description,
             "parameters_schema": {"type": "object", "description": description}},
            {"action_id": "svc.write", "name": "write", "description": "", "requires_confirmation": true,
             "timeout_seconds": 30, "risk_tier": "high"},
            {"action_id": "svc.limited", "name": "limited", "description": reason,
             "rate_limit": {"max_calls": 1, "window_seconds": 60}},
            {"action_id": "svc.delete", "name": "delete", "description": ""},
            {"action_id": "svc.publish", "name": "publish", "description": ""},
            {"action_id": "svc.share", "name": "share", "description": ""},
            {"action_id": "svc.other", "name": "other", "description": ""}
        ],
        "policies": [
            {"policy_id": "allow-svc", "type": "allow", "actions": ["svc.read", "svc.write", "svc.limited", "svc.publish", "svc.share"]},
            {"policy_id": "no-delete", "type": "deny", "actions": ["svc.delete"], "reason": reason},
            {"policy_id": "gate", "type": "require_approval", "actions": ["svc.publish"], "reason": reason},
            {"policy_id": "gate-quietly", "type": "require_approval", "actions": ["svc.share"]},
            {"policy_id": "few-writes", "type": "rate_limit", "actions": ["svc.write"],
             "parameters": {"max_calls": 5, "window_seconds": 60}}
        ],
        "context_packs": [
            {"pack_id": "guide", "name": name, "content": content, "priority": 7},
            {"pack_id": "more", "name": "more", "content": reason, "content_type": "text/markdown"},
            {"pack_id": "most", "name": "most", "content": description, "priority": 7}
        ]
    })
}

fn check_same(texts: (&str, &str, &str, &str), request_id: &str, goal: &str) {
    let r = Resolver::new(ResolverConfig::deterministic(5)).unwrap();
    let (name, description, reason, content) = texts;
    r.load_atlas_json(
        atlas(name, description, reason, content)
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let mut seen = String::new();
    for _ in 0..3 {
        // The execute below spends svc.limited's one call, so later resolves deny it with
        // rate_limit_exceeded.
        let mut req = CarpRequest::resolve("agent \"q\"", "session\n1", goal);
        req.request_id = Some(request_id.to_string());
        let res = r.resolve(req).unwrap();
        let direct = res.to_json_bytes();
        let reference = serde_json::to_vec(&*res).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&direct),
            String::from_utf8_lossy(&reference)
        );
        serde_json::from_slice::<Value>(&direct).expect("valid JSON");
        seen.push_str(&String::from_utf8_lossy(&direct));
        let _ = r.execute(CarpRequest::execute(
            "agent \"q\"",
            "session\n1",
            &res.resolution_id,
            "svc.limited",
            json!({}),
        ));
    }
    for part in [
        "\"reason_code\":\"rate_limit_exceeded\"",
        "\"reason_code\":\"policy_denied\"",
        "\"reason_code\":\"default_deny\"",
        "\"policy_id\":\"gate-quietly\",\"approval_id\":",
        "\"type\":\"requires_confirmation\"",
        "\"type\":\"timeout\"",
        "\"type\":\"rate_limit\"",
        "\"pack_id\":\"most\"",
    ] {
        assert!(seen.contains(part), "no answer had {part}");
    }
}

#[test]
fn awkward_strings_are_written_like_serde() {
    check_same(
        (
            "quote \" backslash \\ slash / tab \t nl \n cr \r",
            "ctrl \u{1} \u{8} \u{c} \u{1f} del \u{7f} é ✓ 🦀 \u{2028}",
            "</script> & 'single' \u{0}",
            "x",
        ),
        "req \"1\" \\ \u{1b}",
        "goal with \"quotes\"",
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_strings_are_written_like_serde(
        name in "\\PC{1,12}", description in ".{0,20}", reason in "[\\x00-\\x7f]{0,16}",
        content in "\\PC{1,40}", request_id in "\\PC{1,12}",
    ) {
        check_same((&name, &description, &reason, &content), &request_id, "work");
    }
}
