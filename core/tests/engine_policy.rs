//! protocol.md §2: patterns, conditions, scope, the verdict ladder, priority, decision table, ordering.

mod common;
use common::*;
use cra_core::RiskTier;
use serde_json::json;

// ---------- patterns ----------

#[test]
fn star_crosses_dots_and_is_anchored() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &[
                "orders.get",
                "orders.refund.partial",
                "order.refund",
                "billing.orders.get",
            ],
            vec![policy("p", "allow", Some(&["orders.*"]))],
        ),
    );
    let (a, d, p) = verdicts(&r, req("ag", "s1", "g"));
    assert_eq!(a, s(&["orders.get", "orders.refund.partial"]));
    assert_eq!(d, s(&["order.refund", "billing.orders.get"]));
    assert!(p.is_empty());
}

#[test]
fn question_mark_is_exactly_one_char() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &[
                "orders.get",
                "orders.set",
                "orders.et",
                "orders.gget",
                "orders.gets",
            ],
            vec![policy("p", "allow", Some(&["orders.?et"]))],
        ),
    );
    let (a, d, _) = verdicts(&r, req("ag", "s1", "g"));
    assert_eq!(a, s(&["orders.get", "orders.set"]));
    assert_eq!(d, s(&["orders.et", "orders.gget", "orders.gets"]));
}

#[test]
fn exact_and_suffix_patterns_are_anchored_at_both_ends() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &[
                "orders.refund",
                "orders.refund2",
                "xorders.refund",
                "orders.refund.partial",
                "db.users.delete",
                "db.delete_all",
            ],
            vec![
                policy("exact", "allow", Some(&["orders.refund"])),
                policy("suffix", "allow", Some(&["*.delete"])),
            ],
        ),
    );
    let res = r.resolve(req("ag", "s1", "g")).unwrap();
    assert_eq!(
        allowed_detail(&res),
        vec![
            ("orders.refund".to_string(), Some("exact".to_string())),
            ("db.users.delete".to_string(), Some("suffix".to_string()))
        ]
    );
    assert_eq!(
        res.denied_action_ids(),
        vec![
            "orders.refund2",
            "xorders.refund",
            "orders.refund.partial",
            "db.delete_all"
        ]
    );
}

#[test]
fn general_glob_with_several_wildcards() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &["a.x.b.y.c", "a.b.c", "a.bc", "a.b.cd", "b.a.b.c"],
            vec![policy("p", "allow", Some(&["a.*b*.c?"]))],
        ),
    );
    // a.*b*.c? : "a." then anything, "b", anything, ".c", one char
    let (a, d, _) = verdicts(&r, req("ag", "s1", "g"));
    assert_eq!(
        a,
        s(&["a.b.cd"]),
        "only a.b.cd ends with '.c' plus one char"
    );
    assert_eq!(d, s(&["a.x.b.y.c", "a.b.c", "a.bc", "b.a.b.c"]));
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &["a.x.b.y.c", "a.b.c", "a.bc", "a.b.cd", "b.a.b.c"],
            vec![policy("p", "allow", Some(&["a.*b*c"]))],
        ),
    );
    let (a, d, _) = verdicts(&r, req("ag", "s1", "g"));
    assert_eq!(a, s(&["a.x.b.y.c", "a.b.c", "a.bc"]));
    assert_eq!(d, s(&["a.b.cd", "b.a.b.c"]));
}

#[test]
fn agent_patterns_use_the_same_rules() {
    let (r, _) = resolver();
    let pol = policy_with(
        "agents",
        "allow",
        None,
        json!({"conditions": {"agents": ["support-*", "bot-?"]}}),
    );
    load(&r, &atlas("com.acme.shop", &["orders.get"], vec![pol]));
    let cases = [
        ("support-1", true),
        ("support-team.eu.1", true), // * crosses dots
        ("support-", true),          // * matches the empty run
        ("bot-1", true),
        ("bot-12", false), // ? is exactly one
        ("bot-", false),
        ("Support-1", false),  // case-sensitive
        ("xsupport-1", false), // anchored at the start
        ("bot-1x", false),     // anchored at the end
    ];
    for (i, (agent, allowed)) in cases.iter().enumerate() {
        let (a, d, _) = verdicts(&r, req(agent, &format!("s{i}"), "g"));
        if *allowed {
            assert_eq!(a, s(&["orders.get"]), "agent {agent}");
        } else {
            assert_eq!(d, s(&["orders.get"]), "agent {agent}");
        }
    }
}

// ---------- conditions ----------

#[test]
fn risk_tiers_condition_with_or_inside_the_list() {
    let (r, _) = resolver();
    let pol = policy_with(
        "tiers",
        "allow",
        None,
        json!({"conditions": {"risk_tiers": ["medium", "high"]}}),
    );
    load(&r, &atlas("com.acme.shop", &["orders.get"], vec![pol]));
    for (i, (tier, ok)) in [
        (RiskTier::Low, false),
        (RiskTier::Medium, true),
        (RiskTier::High, true),
        (RiskTier::Critical, false),
    ]
    .into_iter()
    .enumerate()
    {
        let (a, _, _) = verdicts(&r, req_tier("ag", &format!("s{i}"), tier));
        assert_eq!(a.len(), ok as usize, "tier {tier:?}");
    }
    // no risk_tier in the task = low
    let (a, d, _) = verdicts(&r, req("ag", "s-none", "g"));
    assert!(a.is_empty());
    assert_eq!(d, s(&["orders.get"]));
}

#[test]
fn capabilities_condition_restricts_to_member_actions() {
    let (r, _) = resolver();
    let mut at = atlas(
        "com.acme.shop",
        &["orders.get", "orders.refund", "users.list"],
        vec![policy_with(
            "cap",
            "allow",
            None,
            json!({"conditions": {"capabilities": ["read", "other"]}}),
        )],
    );
    at["capabilities"] = json!([
        {"capability_id": "read", "name": "Read", "actions": ["orders.get", "users.list"]},
        {"capability_id": "other", "name": "Other", "actions": []},
        {"capability_id": "write", "name": "Write", "actions": ["orders.refund"]}
    ]);
    load(&r, &at);
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(res.allowed_action_ids(), vec!["orders.get", "users.list"]);
    assert_eq!(
        denied_detail(&res),
        vec![(
            "orders.refund".to_string(),
            "default_deny".to_string(),
            None
        )]
    );
}

#[test]
fn context_matches_requires_every_key_to_equal() {
    let (r, _) = resolver();
    let pol = policy_with(
        "ctx",
        "allow",
        None,
        json!({"conditions": {"context_matches": {"env": "prod", "tenant": 3}}}),
    );
    load(&r, &atlas("com.acme.shop", &["orders.get"], vec![pol]));
    let base = |ctx: Option<serde_json::Value>, sid: &str| {
        let mut v =
            json!({"requester": {"agent_id": "ag", "session_id": sid}, "task": {"goal": "g"}});
        if let Some(c) = ctx {
            v["context"] = c;
        }
        req_json(v)
    };
    assert_eq!(
        verdicts(&r, base(None, "s0")).0.len(),
        0,
        "no context at all"
    );
    assert_eq!(
        verdicts(&r, base(Some(json!({"env": "prod"})), "s1"))
            .0
            .len(),
        0,
        "one key missing"
    );
    assert_eq!(
        verdicts(&r, base(Some(json!({"env": "prod", "tenant": "3"})), "s2"))
            .0
            .len(),
        0,
        "string 3 is not number 3"
    );
    assert_eq!(
        verdicts(&r, base(Some(json!({"env": "PROD", "tenant": 3})), "s3"))
            .0
            .len(),
        0,
        "values compare exactly"
    );
    assert_eq!(
        verdicts(&r, base(Some(json!({"env": "prod", "tenant": 3})), "s4")).0,
        s(&["orders.get"])
    );
    assert_eq!(
        verdicts(
            &r,
            base(
                Some(json!({"env": "prod", "tenant": 3, "extra": true})),
                "s5"
            )
        )
        .0,
        s(&["orders.get"]),
        "extra keys are fine"
    );
}

const HOUR: i64 = 3_600_000_000;

#[test]
fn time_window_hours_and_days_utc() {
    // Deterministic clock starts 2026-01-01T00:00:00Z, a Thursday.
    let (r, _) = resolver();
    let pol = policy_with(
        "biz",
        "allow",
        None,
        json!({"conditions": {"time_window": {"start": "09:00", "end": "17:00", "days": ["thu"]}}}),
    );
    load(&r, &atlas("com.acme.shop", &["orders.get"], vec![pol]));
    assert!(
        verdicts(&r, req("ag", "s0", "g")).0.is_empty(),
        "Thu 00:00 is before the window"
    );
    r.clock().advance(10 * HOUR); // Thu 10:00
    assert_eq!(
        verdicts(&r, req("ag", "s1", "g")).0,
        s(&["orders.get"]),
        "Thu 10:00"
    );
    r.clock().advance(7 * HOUR); // Thu ~17:00 (+ a few ms of steps): end is exclusive
    assert!(verdicts(&r, req("ag", "s2", "g")).0.is_empty(), "Thu 17:00");
    r.clock().advance(17 * HOUR); // Fri 10:00
    assert!(
        verdicts(&r, req("ag", "s3", "g")).0.is_empty(),
        "Friday is not in days"
    );
}

#[test]
fn time_window_fixed_offset_shifts_hours_and_day() {
    let (r, _) = resolver();
    let p1 = policy_with(
        "ist",
        "allow",
        Some(&["orders.get"]),
        json!({"conditions": {"time_window": {"start": "09:00", "end": "17:00", "timezone": "+05:30"}}}),
    );
    // Thu 2026-01-01T02:00Z is Wed 21:00 at -05:00.
    let p2 = policy_with(
        "est",
        "allow",
        Some(&["orders.list"]),
        json!({"conditions": {"time_window": {"start": "20:00", "end": "23:00", "days": ["wed"], "timezone": "-05:00"}}}),
    );
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &["orders.get", "orders.list"],
            vec![p1, p2],
        ),
    );
    // 00:00Z = 05:30 at +05:30: outside; Wed 19:00 at -05:00: outside.
    let (a, _, _) = verdicts(&r, req("ag", "s0", "g"));
    assert!(a.is_empty(), "{a:?}");
    r.clock().advance(2 * HOUR); // 02:00Z = 07:30 IST (outside), Wed 21:00 EST (inside, and a Wednesday)
    assert_eq!(verdicts(&r, req("ag", "s1", "g")).0, s(&["orders.list"]));
    r.clock().advance(2 * HOUR); // 04:00Z = 09:30 IST (inside), Wed 23:00 EST (outside: end exclusive)
    assert_eq!(verdicts(&r, req("ag", "s2", "g")).0, s(&["orders.get"]));
    r.clock().advance(8 * HOUR); // 12:00Z = 17:30 IST (outside)
    assert!(verdicts(&r, req("ag", "s3", "g")).0.is_empty());
}

#[test]
fn condition_kinds_are_anded() {
    let (r, _) = resolver();
    let pol = policy_with(
        "and",
        "allow",
        None,
        json!({"conditions": {"risk_tiers": ["high"], "agents": ["a-*"], "context_matches": {"env": "prod"}}}),
    );
    load(&r, &atlas("com.acme.shop", &["orders.get"], vec![pol]));
    let mk = |agent: &str, sid: &str, tier: &str, env: &str| {
        req_json(
            json!({"requester": {"agent_id": agent, "session_id": sid}, "task": {"goal": "g", "risk_tier": tier}, "context": {"env": env}}),
        )
    };
    assert_eq!(
        verdicts(&r, mk("a-1", "s0", "high", "prod")).0,
        s(&["orders.get"])
    );
    assert!(
        verdicts(&r, mk("a-1", "s1", "low", "prod")).0.is_empty(),
        "tier fails"
    );
    assert!(
        verdicts(&r, mk("b-1", "s2", "high", "prod")).0.is_empty(),
        "agent fails"
    );
    assert!(
        verdicts(&r, mk("a-1", "s3", "high", "dev")).0.is_empty(),
        "context fails"
    );
}

#[test]
fn deny_conditions_only_deny_when_they_hold() {
    let (r, _) = resolver();
    let deny = policy_with(
        "crit",
        "deny",
        Some(&["orders.refund"]),
        json!({"conditions": {"risk_tiers": ["critical"]}, "reason": "no refunds in critical tasks"}),
    );
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &["orders.get", "orders.refund"],
            vec![policy("all", "allow", None), deny],
        ),
    );
    assert_eq!(
        verdicts(&r, req_tier("ag", "s0", RiskTier::High)).0,
        s(&["orders.get", "orders.refund"])
    );
    let res = r.resolve(req_tier("ag", "s1", RiskTier::Critical)).unwrap();
    assert_eq!(res.allowed_action_ids(), vec!["orders.get"]);
    let w = wire(&res);
    assert_eq!(
        w["denied_actions"],
        json!([{"action_id": "orders.refund", "atlas_id": "com.acme.shop", "reason_code": "policy_denied", "reason": "no refunds in critical tasks", "policy_id": "crit"}])
    );
}

// ---------- scope ----------

#[test]
fn a_policy_never_reaches_another_atlas() {
    let (r, _) = resolver();
    // A: allow everything (no actions key) and deny everything with "*" under a condition that holds.
    load(
        &r,
        &atlas(
            "com.a.one",
            &["a.read", "a.write"],
            vec![
                policy("allow-all", "allow", None),
                policy("deny-star", "deny", Some(&["*"])),
            ],
        ),
    );
    // B: only allows b.read.
    load(
        &r,
        &atlas(
            "com.b.two",
            &["b.read", "b.write"],
            vec![policy("b-allow", "allow", Some(&["b.read"]))],
        ),
    );
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        allowed_detail(&res),
        vec![("b.read".to_string(), Some("b-allow".to_string()))]
    );
    assert_eq!(
        denied_detail(&res),
        vec![
            (
                "a.read".into(),
                "policy_denied".into(),
                Some("deny-star".into())
            ),
            (
                "a.write".into(),
                "policy_denied".into(),
                Some("deny-star".into())
            ),
            ("b.write".into(), "default_deny".into(), None),
        ]
    );
}

#[test]
fn same_named_capabilities_in_two_atlases_stay_separate() {
    let (r, _) = resolver();
    let mut a = atlas(
        "com.a.one",
        &["a.read"],
        vec![policy_with(
            "cap-allow",
            "allow",
            None,
            json!({"conditions": {"capabilities": ["shared"]}}),
        )],
    );
    a["capabilities"] = json!([{"capability_id": "shared", "name": "S", "actions": ["a.read"]}]);
    let mut b = atlas("com.b.two", &["b.read"], vec![]);
    b["capabilities"] = json!([{"capability_id": "shared", "name": "S", "actions": ["b.read"]}]);
    load(&r, &a);
    load(&r, &b);
    let (al, d, _) = verdicts(&r, req("ag", "s", "g"));
    assert_eq!(al, s(&["a.read"]));
    assert_eq!(d, s(&["b.read"]));
}

// ---------- the ladder ----------

fn ladder_atlas(with: &[&str]) -> serde_json::Value {
    let mut pols = Vec::new();
    if with.contains(&"allow") {
        pols.push(policy("p-allow", "allow", Some(&["x.act"])));
    }
    if with.contains(&"rate") {
        pols.push(policy_with(
            "p-rate",
            "rate_limit",
            Some(&["x.act"]),
            json!({"parameters": {"max_calls": 5, "window_seconds": 60}}),
        ));
    }
    if with.contains(&"approval") {
        pols.push(policy("p-approval", "require_approval", Some(&["x.act"])));
    }
    if with.contains(&"deny") {
        pols.push(policy("p-deny", "deny", Some(&["x.act"])));
    }
    atlas("com.x.ladder", &["x.act"], pols)
}

#[test]
fn ladder_deny_beats_everything() {
    let (r, _) = resolver();
    load(&r, &ladder_atlas(&["allow", "rate", "approval", "deny"]));
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        denied_detail(&res),
        vec![(
            "x.act".into(),
            "policy_denied".into(),
            Some("p-deny".into())
        )]
    );
    assert_eq!(wire(&res)["decision"]["type"], "deny");
}

#[test]
fn ladder_approval_beats_rate_limit_and_allow() {
    let (r, _) = resolver();
    load(&r, &ladder_atlas(&["allow", "rate", "approval"]));
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(res.pending_action_ids(), vec!["x.act"]);
    let w = wire(&res);
    assert_eq!(w["pending_actions"][0]["policy_id"], "p-approval");
    assert_eq!(w["decision"]["type"], "requires_approval");
    // approvals are per call (protocol.md §6): a resolution creates none
    assert!(w["decision"]["approval_id"].is_null());
}

#[test]
fn ladder_unexhausted_rate_limit_then_allow() {
    let (r, _) = resolver();
    load(&r, &ladder_atlas(&["allow", "rate"]));
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        allowed_detail(&res),
        vec![("x.act".into(), Some("p-allow".into()))]
    );
    // the limit shows up as a constraint
    let c = &wire(&res)["constraints"];
    assert_eq!(
        c,
        &json!([{"type": "rate_limit", "action_id": "x.act", "policy_id": "p-rate", "max_calls": 5, "window_seconds": 60, "per": "session"}])
    );
}

#[test]
fn ladder_no_allow_is_default_deny() {
    let (r, _) = resolver();
    load(&r, &ladder_atlas(&["rate"]));
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        denied_detail(&res),
        vec![("x.act".into(), "default_deny".into(), None)]
    );
    let (r, _) = resolver();
    load(&r, &ladder_atlas(&[]));
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        denied_detail(&res),
        vec![("x.act".into(), "default_deny".into(), None)]
    );
}

#[test]
fn require_approval_without_allow_is_default_deny() {
    // protocol.md §6: approval escalates an allow and never grants, so an action only a
    // require_approval policy matches is denied by default (and the load warns about it).
    let (r, _) = resolver();
    let info = r
        .load_atlas_json(&serde_json::to_vec(&ladder_atlas(&["approval"])).unwrap())
        .unwrap();
    let codes: Vec<&str> = info.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        ["no_allow_underneath", "never_allowed"],
        "{:?}",
        info.warnings
    );
    let (a, d, p) = verdicts(&r, req("ag", "s", "g"));
    assert!(a.is_empty() && p.is_empty());
    assert_eq!(d, s(&["x.act"]));
    let res = r.resolve(req("ag", "s2", "g")).unwrap();
    assert_eq!(
        denied_detail(&res),
        vec![("x.act".into(), "default_deny".into(), None)]
    );
}

// ---------- priority and declaration order ----------

#[test]
fn higher_priority_wins_then_declaration_order() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.x.prio",
            &["x.one", "x.two", "x.three"],
            vec![
                policy_with(
                    "d-low",
                    "deny",
                    Some(&["x.one", "x.two"]),
                    json!({"priority": 1}),
                ),
                policy_with("d-high", "deny", Some(&["x.one"]), json!({"priority": 5})),
                policy_with("d-neg", "deny", Some(&["x.two"]), json!({"priority": -3})),
                policy("a-first", "allow", Some(&["x.three"])),
                policy("a-second", "allow", Some(&["x.*"])),
                policy_with(
                    "a-neg",
                    "allow",
                    Some(&["x.three"]),
                    json!({"priority": -1}),
                ),
            ],
        ),
    );
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        denied_detail(&res),
        vec![
            (
                "x.one".into(),
                "policy_denied".into(),
                Some("d-high".into())
            ),
            ("x.two".into(), "policy_denied".into(), Some("d-low".into()))
        ]
    );
    assert_eq!(
        allowed_detail(&res),
        vec![("x.three".into(), Some("a-first".into()))]
    );
}

#[test]
fn equal_priority_reports_the_first_declared() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.x.prio",
            &["x.one"],
            vec![
                policy_with("first", "deny", Some(&["x.*"]), json!({"priority": 2})),
                policy_with("second", "deny", Some(&["x.one"]), json!({"priority": 2})),
            ],
        ),
    );
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(denied_detail(&res)[0].2.as_deref(), Some("first"));
}

#[test]
fn first_matching_policy_whose_conditions_hold_is_reported() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.x.prio",
            &["x.one"],
            vec![
                policy_with(
                    "hi-cond",
                    "allow",
                    None,
                    json!({"priority": 10, "conditions": {"risk_tiers": ["high"]}}),
                ),
                policy("plain", "allow", None),
            ],
        ),
    );
    assert_eq!(
        allowed_detail(&r.resolve(req_tier("ag", "s0", RiskTier::Low)).unwrap())[0]
            .1
            .as_deref(),
        Some("plain")
    );
    assert_eq!(
        allowed_detail(&r.resolve(req_tier("ag", "s1", RiskTier::High)).unwrap())[0]
            .1
            .as_deref(),
        Some("hi-cond")
    );
}

// ---------- decision table ----------

#[test]
fn decision_table() {
    #[allow(clippy::type_complexity)]
    let cases: Vec<(Vec<serde_json::Value>, &str, (usize, usize, usize))> = vec![
        (vec![policy("a", "allow", None)], "allow", (2, 0, 0)),
        (vec![], "deny", (0, 2, 0)),
        (
            vec![policy("a", "allow", Some(&["x.one"]))],
            "partial",
            (1, 1, 0),
        ),
        (
            vec![
                policy("a", "allow", None),
                policy("ap", "require_approval", Some(&["x.two"])),
            ],
            "partial",
            (1, 0, 1),
        ),
        (
            vec![
                policy("a", "allow", Some(&["x.two"])),
                policy("ap", "require_approval", Some(&["x.two"])),
            ],
            "requires_approval",
            (0, 1, 1),
        ),
        (
            vec![
                policy("a", "allow", None),
                policy("ap", "require_approval", None),
            ],
            "requires_approval",
            (0, 0, 2),
        ),
        // approval never grants: without an allow underneath it is a default deny
        (
            vec![policy("ap", "require_approval", None)],
            "deny",
            (0, 2, 0),
        ),
    ];
    for (i, (pols, want, counts)) in cases.into_iter().enumerate() {
        let (r, _) = resolver();
        load(&r, &atlas("com.x.table", &["x.one", "x.two"], pols));
        let res = r.resolve(req("ag", "s", "g")).unwrap();
        let w = wire(&res);
        assert_eq!(w["decision"]["type"], want, "case {i}");
        assert_eq!(
            (
                res.allowed_action_ids().len(),
                res.denied_action_ids().len(),
                res.pending_action_ids().len()
            ),
            counts,
            "case {i}"
        );
        assert!(
            w["decision"]["approval_id"].is_null(),
            "case {i}: approvals are per call, a resolution names none"
        );
    }
}

#[test]
fn zero_actions_in_scope_is_deny() {
    let (r, _) = resolver();
    // no atlas at all
    let res = r.resolve(req("ag", "s0", "g")).unwrap();
    assert_eq!(wire(&res)["decision"]["type"], "deny");
    // an atlas without actions
    let mut at = atlas("com.x.empty", &[], vec![]);
    at.as_object_mut().unwrap().remove("actions");
    load(&r, &at);
    let w = wire(&r.resolve(req("ag", "s1", "g")).unwrap());
    assert_eq!(w["decision"]["type"], "deny");
    assert_eq!(w["allowed_actions"], json!([]));
    assert_eq!(w["denied_actions"], json!([]));
}

// ---------- ordering ----------

#[test]
fn actions_are_ordered_by_atlas_load_order_then_declaration() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.zeta.last", &["z.b", "z.a"]));
    load(
        &r,
        &atlas(
            "com.alpha.first",
            &["a.z", "a.c", "a.m"],
            vec![policy("p", "allow", Some(&["a.c"]))],
        ),
    );
    load(&r, &allow_all("com.mid.dle", &["m.y", "m.x"]));
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        res.allowed_action_ids(),
        vec!["z.b", "z.a", "a.c", "m.y", "m.x"]
    );
    assert_eq!(res.denied_action_ids(), vec!["a.z", "a.m"]);
    let w = wire(&res);
    let atl: Vec<&str> = w["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["atlas_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        atl,
        vec![
            "com.zeta.last",
            "com.zeta.last",
            "com.alpha.first",
            "com.mid.dle",
            "com.mid.dle"
        ]
    );
    // atlas_ids given in another order do not change the order
    let mut q = req("ag", "s", "g");
    q.atlas_ids = Some(vec!["com.mid.dle".into(), "com.zeta.last".into()]);
    assert_eq!(
        r.resolve(q).unwrap().allowed_action_ids(),
        vec!["z.b", "z.a", "m.y", "m.x"]
    );
}

#[test]
fn replacing_an_atlas_keeps_its_load_position() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.one.a", &["one.x"]));
    load(&r, &allow_all("com.two.b", &["two.x"]));
    let mut v2 = allow_all("com.one.a", &["one.y", "one.x"]);
    v2["version"] = json!("2.0.0");
    let info = r
        .load_atlas_json(&serde_json::to_vec(&v2).unwrap())
        .unwrap();
    assert!(info.replaced);
    assert_eq!(
        r.atlases(),
        vec![
            ("com.one.a".to_string(), "2.0.0".to_string()),
            ("com.two.b".to_string(), "1.0.0".to_string())
        ]
    );
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap().allowed_action_ids(),
        vec!["one.y", "one.x", "two.x"]
    );
}
