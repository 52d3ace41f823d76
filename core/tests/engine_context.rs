//! protocol.md §3: scope narrowing, atlas_ids, context selection, token budgets, ttl.

mod common;
use common::*;
use cra_core::{ErrorCode, Resolver, ResolverConfig, RiskTier};
use serde_json::{json, Value};

fn pack(id: &str, priority: u32, content: &str, extra: Value) -> Value {
    let mut p = json!({"pack_id": id, "name": id, "content": content, "priority": priority});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

/// orders.get (cap read), orders.refund (cap refunds), users.list (no capability).
fn shop(policies: Vec<Value>, packs: Vec<Value>) -> Value {
    let mut a = atlas(
        "com.acme.shop",
        &["orders.get", "orders.refund", "users.list"],
        policies,
    );
    a["capabilities"] = json!([
        {"capability_id": "read", "name": "Read", "actions": ["orders.get"]},
        {"capability_id": "refunds", "name": "Refunds", "actions": ["orders.refund"]}
    ]);
    a["context_packs"] = json!(packs);
    a
}

// ---------- scope ----------

#[test]
fn required_capabilities_narrow_the_actions_in_scope() {
    let (r, _) = resolver();
    load(
        &r,
        &shop(vec![policy("a", "allow", Some(&["orders.get"]))], vec![]),
    );
    let mut q = req("ag", "s", "g");
    q.task.as_mut().unwrap().required_capabilities = Some(vec!["read".into()]);
    let res = r.resolve(q).unwrap();
    assert_eq!(res.allowed_action_ids(), vec!["orders.get"]);
    assert!(
        res.denied_action_ids().is_empty(),
        "orders.refund and users.list are out of scope, not denied"
    );
    assert_eq!(wire(&res)["decision"]["type"], "allow");

    let mut q = req("ag", "s", "g");
    q.task.as_mut().unwrap().required_capabilities = Some(vec!["refunds".into(), "read".into()]);
    let res = r.resolve(q).unwrap();
    assert_eq!(res.allowed_action_ids(), vec!["orders.get"]);
    assert_eq!(res.denied_action_ids(), vec!["orders.refund"]);
    assert_eq!(wire(&res)["decision"]["type"], "partial");
}

#[test]
fn unknown_required_capability_leaves_nothing_in_scope() {
    // Engine choice: an unknown capability name narrows to nothing (decision deny), no error.
    let (r, _) = resolver();
    load(&r, &shop(vec![policy("a", "allow", None)], vec![]));
    let mut q = req("ag", "s", "g");
    q.task.as_mut().unwrap().required_capabilities = Some(vec!["nope".into()]);
    let res = r.resolve(q).unwrap();
    assert!(res.allowed_action_ids().is_empty() && res.denied_action_ids().is_empty());
    assert_eq!(wire(&res)["decision"]["type"], "deny");
}

#[test]
fn atlas_ids_restrict_and_unknown_ids_are_atlas_not_found_with_pointer() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.a.one", &["a.x"]));
    load(&r, &allow_all("com.b.two", &["b.x"]));
    let mut q = req("ag", "s", "g");
    q.atlas_ids = Some(vec!["com.b.two".into()]);
    assert_eq!(r.resolve(q).unwrap().allowed_action_ids(), vec!["b.x"]);

    let mut q = req("ag", "s", "g");
    q.atlas_ids = Some(vec!["com.b.two".into(), "com.missing.one".into()]);
    let e = r.resolve(q).unwrap_err();
    assert_eq!(e.code, ErrorCode::AtlasNotFound);
    assert_eq!(e.pointer.as_deref(), Some("/atlas_ids/1"));
    assert!(e.message.contains("com.missing.one"), "{}", e.message);

    let mut q = req("ag", "s", "g");
    q.atlas_ids = Some(vec!["com.zzz.none".into()]);
    assert_eq!(
        r.resolve(q).unwrap_err().pointer.as_deref(),
        Some("/atlas_ids/0")
    );
}

#[test]
fn unloaded_atlas_is_atlas_not_found() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.a.one", &["a.x"]));
    r.unload_atlas("com.a.one").unwrap();
    assert_eq!(
        r.unload_atlas("com.a.one").unwrap_err().code,
        ErrorCode::AtlasNotFound
    );
    let mut q = req("ag", "s", "g");
    q.atlas_ids = Some(vec!["com.a.one".into()]);
    assert_eq!(r.resolve(q).unwrap_err().code, ErrorCode::AtlasNotFound);
    assert!(r
        .resolve(req("ag", "s", "g"))
        .unwrap()
        .allowed_action_ids()
        .is_empty());
}

// ---------- context selection ----------

#[test]
fn packs_selected_by_risk_tier() {
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![policy("a", "allow", None)],
            vec![
                pack(
                    "p-low",
                    100,
                    "low text",
                    json!({"conditions": {"risk_tiers": ["low"]}}),
                ),
                pack(
                    "p-high",
                    100,
                    "high text",
                    json!({"conditions": {"risk_tiers": ["high", "critical"]}}),
                ),
            ],
        ),
    );
    assert_eq!(
        r.resolve(req_tier("ag", "s0", RiskTier::Low))
            .unwrap()
            .context_block_ids(),
        vec!["p-low"]
    );
    assert_eq!(
        r.resolve(req_tier("ag", "s1", RiskTier::Critical))
            .unwrap()
            .context_block_ids(),
        vec!["p-high"]
    );
    assert!(r
        .resolve(req_tier("ag", "s2", RiskTier::Medium))
        .unwrap()
        .context_block_ids()
        .is_empty());
}

#[test]
fn packs_selected_by_capability_of_an_allowed_action() {
    let packs = vec![
        pack(
            "p-refunds",
            100,
            "refund rules",
            json!({"conditions": {"capabilities": ["refunds"]}}),
        ),
        pack(
            "p-read",
            100,
            "read rules",
            json!({"conditions": {"capabilities": ["read"]}}),
        ),
    ];
    // refunds allowed, read denied
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![policy("a", "allow", Some(&["orders.refund"]))],
            packs.clone(),
        ),
    );
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().context_block_ids(),
        vec!["p-refunds"]
    );
    // refunds pending approval (not allowed): its pack is not selected
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![
                policy("a", "allow", Some(&["orders.get"])),
                policy("ap", "require_approval", Some(&["orders.refund"])),
            ],
            packs,
        ),
    );
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().context_block_ids(),
        vec!["p-read"]
    );
}

#[test]
fn capability_context_packs_list_links_packs_to_actions() {
    let (r, _) = resolver();
    let mut a = shop(
        vec![policy("a", "allow", Some(&["orders.get"]))],
        vec![
            pack("p-linked-read", 100, "x", json!({})),
            pack("p-linked-refunds", 100, "y", json!({})),
        ],
    );
    a["capabilities"][0]["context_packs"] = json!(["p-linked-read"]);
    a["capabilities"][1]["context_packs"] = json!(["p-linked-refunds"]);
    load(&r, &a);
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().context_block_ids(),
        vec!["p-linked-read"]
    );
}

#[test]
fn packs_selected_by_keyword_in_goal_or_hints() {
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![policy("a", "allow", None)],
            vec![pack(
                "p-kw",
                100,
                "invoice rules",
                json!({"keywords": ["invoice", "Billing"]}),
            )],
        ),
    );
    assert_eq!(
        r.resolve(req("ag", "s0", "Send the INVOICE now"))
            .unwrap()
            .context_block_ids(),
        vec!["p-kw"],
        "case-insensitive in goal"
    );
    assert!(r
        .resolve(req("ag", "s1", "ship the order"))
        .unwrap()
        .context_block_ids()
        .is_empty());
    let mut q = req("ag", "s2", "ship the order");
    q.task.as_mut().unwrap().context_hints =
        Some(vec!["nothing".into(), "billing question".into()]);
    assert_eq!(
        r.resolve(q).unwrap().context_block_ids(),
        vec!["p-kw"],
        "keyword in hints"
    );
}

#[test]
fn blocks_carry_their_fields_and_are_ordered_by_priority_then_declaration() {
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![policy("a", "allow", None)],
            vec![
                pack("p-a", 100, "aaaaa", json!({})),
                pack(
                    "p-b",
                    500,
                    "héllo",
                    json!({"content_type": "text/markdown"}),
                ),
                pack("p-c", 100, "c", json!({})),
                pack("p-d", 0, "dddd", json!({})),
            ],
        ),
    );
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(res.context_block_ids(), vec!["p-b", "p-a", "p-c", "p-d"]);
    let w = wire(&res);
    assert_eq!(
        w["context_blocks"][0],
        json!({"block_id": "p-b", "source": "com.acme.shop", "pack_id": "p-b", "content_type": "text/markdown", "content": "héllo", "priority": 500, "token_estimate": 2})
    );
    // estimate = ceil(bytes / 4): "aaaaa" 5 bytes -> 2, "c" -> 1, "dddd" -> 1
    let est: Vec<u64> = w["context_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["token_estimate"].as_u64().unwrap())
        .collect();
    assert_eq!(est, vec![2, 2, 1, 1]);
    assert_eq!(
        w["context_blocks"][1]["content_type"], "text/plain",
        "inline default content type"
    );
}

#[test]
fn context_from_several_atlases_merges_by_priority_then_load_order() {
    let (r, _) = resolver();
    let mut a = allow_all("com.a.one", &["a.x"]);
    a["context_packs"] = json!([
        pack("a-100", 100, "x", json!({})),
        pack("a-300", 300, "x", json!({}))
    ]);
    let mut b = allow_all("com.b.two", &["b.x"]);
    b["context_packs"] = json!([
        pack("b-100", 100, "x", json!({})),
        pack("b-200", 200, "x", json!({}))
    ]);
    load(&r, &b);
    load(&r, &a);
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().context_block_ids(),
        vec!["a-300", "b-200", "b-100", "a-100"]
    );
}

#[test]
fn request_token_budget_stops_adding() {
    let (r, _) = resolver();
    let packs = vec![
        pack("big", 300, &"x".repeat(40), json!({})),
        pack("mid", 200, &"y".repeat(17), json!({})),
        pack("tiny", 100, "z", json!({})),
    ];
    load(&r, &shop(vec![policy("a", "allow", None)], packs)); // 10, 5, 1 tokens
    let with_budget = |sid: &str, b: u32| {
        let mut q = req("ag", sid, "g");
        q.task.as_mut().unwrap().max_context_tokens = Some(b);
        r.resolve(q)
            .unwrap()
            .context_block_ids()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(with_budget("s0", 16), s(&["big", "mid", "tiny"]));
    assert_eq!(with_budget("s1", 15), s(&["big", "mid"]));
    // Engine choice: once a block would exceed the request budget, selection stops (tiny would fit).
    assert_eq!(with_budget("s2", 14), s(&["big"]));
    assert_eq!(with_budget("s3", 9), Vec::<String>::new());
}

#[test]
fn pack_max_tokens_limits_that_pack_only() {
    let (r, _) = resolver();
    let packs = vec![
        pack("capped", 300, &"x".repeat(40), json!({"max_tokens": 9})),
        pack("next", 200, "abcd", json!({"max_tokens": 1})),
    ];
    load(&r, &shop(vec![policy("a", "allow", None)], packs));
    // capped (10 tokens) exceeds its own max 9 and is skipped; the next pack is still added.
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().context_block_ids(),
        vec!["next"]
    );
}

#[test]
fn pack_max_tokens_cuts_a_multi_file_pack() {
    let dir = temp_dir("ctx-files");
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/one.md"), "a".repeat(8)).unwrap(); // 2 tokens
    std::fs::write(dir.join("docs/two.txt"), "b".repeat(8)).unwrap(); // 2
    std::fs::write(dir.join("docs/three.json"), "{}").unwrap(); // 1
    let mut a = allow_all("com.acme.files", &["f.read"]);
    a["context_packs"] = json!([{"pack_id": "docs", "name": "Docs", "files": ["docs/one.md", "docs/two.txt", "docs/three.json"], "max_tokens": 3}]);
    std::fs::write(dir.join("atlas.json"), serde_json::to_vec(&a).unwrap()).unwrap();
    let (r, _) = resolver();
    r.load_atlas_dir(&dir).unwrap();
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(res.context_block_ids(), vec!["docs/docs/one.md"]);
    assert_eq!(
        wire(&res)["context_blocks"][0]["content_type"],
        "text/markdown"
    );
    // without the cap, all three in order, with content types from the extension
    a["context_packs"][0]
        .as_object_mut()
        .unwrap()
        .remove("max_tokens");
    std::fs::write(dir.join("atlas.json"), serde_json::to_vec(&a).unwrap()).unwrap();
    r.load_atlas_dir(&dir).unwrap();
    let w = wire(&r.resolve(req("ag", "s2", "g")).unwrap());
    let types: Vec<&str> = w["context_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec!["text/markdown", "text/plain", "application/json"]
    );
    assert_eq!(w["context_blocks"][1]["content"], "bbbbbbbb");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_context_on_a_deny_decision() {
    let (r, _) = resolver();
    load(
        &r,
        &shop(vec![], vec![pack("always", 100, "text", json!({}))]),
    );
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(wire(&res)["decision"]["type"], "deny");
    assert!(res.context_block_ids().is_empty());
    // but a partial decision does get it
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![policy("a", "allow", Some(&["orders.get"]))],
            vec![pack("always", 100, "text", json!({}))],
        ),
    );
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().context_block_ids(),
        vec!["always"]
    );
}

#[test]
fn requires_approval_decision_gets_unconditional_context() {
    // Engine choice: only `deny` decisions get no context.
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![
                policy("all", "allow", None),
                policy("ap", "require_approval", None),
            ],
            vec![pack("always", 100, "text", json!({}))],
        ),
    );
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(wire(&res)["decision"]["type"], "requires_approval");
    assert_eq!(res.context_block_ids(), vec!["always"]);
}

// ---------- ttl ----------

#[test]
fn default_ttl_and_expires_at() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.a.one", &["a.x"]));
    let w = wire(&r.resolve(req("ag", "s", "g")).unwrap());
    assert_eq!(w["ttl_seconds"], 300);
    // the first clock reading of the resolver (the session starts with the same reading)
    assert_eq!(w["timestamp"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(w["decision"]["expires_at"], "2026-01-01T00:05:00.000000Z");
    assert_eq!(w["carp_version"], "1.0");
}

#[test]
fn configured_ttl_and_its_bounds() {
    let cfg = ResolverConfig {
        resolution_ttl_seconds: 86_400,
        ..ResolverConfig::deterministic(1)
    };
    let (r, _) = resolver_with(cfg);
    load(&r, &allow_all("com.a.one", &["a.x"]));
    let w = wire(&r.resolve(req("ag", "s", "g")).unwrap());
    assert_eq!(w["ttl_seconds"], 86_400);
    assert_eq!(w["decision"]["expires_at"], "2026-01-02T00:00:00.000000Z");
    for bad in [0u32, 86_401] {
        let cfg = ResolverConfig {
            resolution_ttl_seconds: bad,
            ..ResolverConfig::deterministic(1)
        };
        let e = Resolver::with_recorder(cfg, std::sync::Arc::new(cra_core::unstable::NullRecorder))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert_eq!(e.pointer.as_deref(), Some("/resolution_ttl_seconds"));
    }
}

#[test]
fn request_parse_errors_carry_pointers() {
    let e = cra_core::CarpRequest::from_json(
        br#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g","budget":3}}"#,
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.pointer.as_deref(), Some("/task/budget"));
    let e = cra_core::CarpRequest::from_json(br#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"},"atlas_ids":["x",3]}"#).unwrap_err();
    assert_eq!(e.pointer.as_deref(), Some("/atlas_ids/1"));
    let e = cra_core::CarpRequest::from_json(br#"{"carp_version":"2.0","requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"}}"#).unwrap_err();
    assert_eq!(e.pointer.as_deref(), Some("/carp_version"));
    let e = cra_core::CarpRequest::from_json(
        br#"{"operation":"execute","requester":{"agent_id":"a","session_id":"s"}}"#,
    )
    .unwrap_err();
    assert_eq!(e.pointer.as_deref(), Some("/execution"));
}

#[test]

fn non_ascii_keyword_matches_its_exact_spelling() {
    let (r, _) = resolver();
    load(
        &r,
        &shop(
            vec![policy("a", "allow", None)],
            vec![pack(
                "p-de",
                100,
                "beschwerde",
                json!({"keywords": ["Ärger"]}),
            )],
        ),
    );
    assert_eq!(
        r.resolve(req("ag", "s", "Kunde hat Ärger mit der Lieferung"))
            .unwrap()
            .context_block_ids(),
        vec!["p-de"]
    );
}

#[test]
fn time_window_with_equal_start_and_end_is_the_whole_day() {
    // Engine choice (spec silent): start == end means all day; days still apply.
    let (r, _) = resolver();
    let pol = policy_with(
        "allday",
        "allow",
        None,
        json!({"conditions": {"time_window": {"start": "00:00", "end": "00:00", "days": ["thu"]}}}),
    );
    load(&r, &atlas("com.acme.shop", &["orders.get"], vec![pol]));
    assert_eq!(verdicts(&r, req("ag", "s0", "g")).0, s(&["orders.get"]));
    r.clock().advance(23 * 3_600_000_000);
    assert_eq!(verdicts(&r, req("ag", "s1", "g")).0, s(&["orders.get"]));
    r.clock().advance(2 * 3_600_000_000); // Friday
    assert!(verdicts(&r, req("ag", "s2", "g")).0.is_empty());
}
