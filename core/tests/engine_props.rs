//! Property tests of the policy engine against a small reference model of protocol.md §2.

mod common;
use common::*;
use cra_core::{CarpRequest, ErrorCode, Resolver, RiskTier};
use proptest::prelude::*;
use serde_json::{json, Value};

const IDS: &[&str] = &["a.x", "a.y", "a.x.z", "b.x", "b.yy", "c.q"];
const TIERS: &[&str] = &["low", "medium", "high", "critical"];
const TYPES: &[&str] = &["deny", "require_approval", "allow"];

#[derive(Debug, Clone)]
struct Pol {
    ty: &'static str,
    patterns: Option<Vec<String>>,
    priority: i64,
    tiers: Option<Vec<&'static str>>,
}

/// Reference glob: `*` any run, `?` one char, anchored, case-sensitive.
fn glob(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}
fn gm(p: &str, s: &str) -> bool {
    glob(
        &p.chars().collect::<Vec<_>>(),
        &s.chars().collect::<Vec<_>>(),
    )
}

/// A pattern derived from an existing action id, so that it always matches at least one.
fn pattern_for(id: &'static str) -> impl Strategy<Value = String> {
    let n = id.len();
    prop_oneof![
        Just(id.to_string()),
        Just("*".to_string()),
        (0..=n).prop_map(move |k| format!("{}*", &id[..k])),
        (0..=n).prop_map(move |k| format!("*{}", &id[k..])),
        (0..n).prop_map(move |k| format!("{}?{}", &id[..k], &id[k + 1..])),
    ]
}

fn actions_strategy() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(IDS.to_vec(), 1..=IDS.len())
}

fn policy_strategy(actions: Vec<&'static str>) -> impl Strategy<Value = Pol> {
    let pats = proptest::collection::vec(
        proptest::sample::select(actions).prop_flat_map(pattern_for),
        1..3,
    );
    (
        proptest::sample::select(TYPES.to_vec()),
        proptest::option::weighted(0.8, pats),
        -2i64..3,
        proptest::option::weighted(0.3, proptest::sample::subsequence(TIERS.to_vec(), 1..=2)),
    )
        .prop_map(|(ty, patterns, priority, tiers)| Pol {
            ty,
            patterns,
            priority,
            tiers,
        })
}

fn atlas_strategy() -> impl Strategy<Value = (Vec<&'static str>, Vec<Pol>)> {
    actions_strategy().prop_flat_map(|acts| {
        let pols = proptest::collection::vec(policy_strategy(acts.clone()), 0..6);
        (Just(acts), pols)
    })
}

fn to_json(id: &str, acts: &[&str], pols: &[Pol]) -> Value {
    let policies: Vec<Value> = pols
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut v = json!({"policy_id": format!("p{i}"), "type": p.ty, "priority": p.priority});
            if let Some(pt) = &p.patterns {
                v["actions"] = json!(pt);
            }
            if let Some(t) = &p.tiers {
                v["conditions"] = json!({"risk_tiers": t});
            }
            v
        })
        .collect();
    atlas(id, acts, policies)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    Allowed(String),
    Denied(&'static str, Option<String>),
    Pending(String),
}

/// The reference model of the ladder.
fn model(acts: &[&str], pols: &[Pol], tier: &str) -> Vec<(String, V)> {
    acts.iter()
        .map(|a| {
            let first = |ty: &str| {
                let mut c: Vec<(usize, &Pol)> = pols
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.ty == ty
                            && p.patterns
                                .as_ref()
                                .is_none_or(|ps| ps.iter().any(|pt| gm(pt, a)))
                            && p.tiers.as_ref().is_none_or(|t| t.contains(&tier))
                    })
                    .collect();
                c.sort_by_key(|(i, p)| (-p.priority, *i));
                c.first().map(|(i, _)| format!("p{i}"))
            };
            // protocol.md §6: approval escalates an allow and never grants.
            let v = if let Some(p) = first("deny") {
                V::Denied("policy_denied", Some(p))
            } else if let Some(allow) = first("allow") {
                match first("require_approval") {
                    Some(p) => V::Pending(p),
                    None => V::Allowed(allow),
                }
            } else {
                V::Denied("default_deny", None)
            };
            (a.to_string(), v)
        })
        .collect()
}

/// The engine's verdicts, for one atlas, in wire order.
fn engine(res: &cra_core::Resolution, atlas_id: &str) -> Vec<(String, V)> {
    let w = wire(res);
    let mut out: Vec<(String, V)> = Vec::new();
    for a in w["allowed_actions"].as_array().unwrap() {
        if a["atlas_id"] == atlas_id {
            out.push((
                a["action_id"].as_str().unwrap().into(),
                V::Allowed(a["policy_id"].as_str().unwrap().into()),
            ));
        }
    }
    for a in w["denied_actions"].as_array().unwrap() {
        if a["atlas_id"] == atlas_id {
            let code: &'static str = match a["reason_code"].as_str().unwrap() {
                "policy_denied" => "policy_denied",
                "default_deny" => "default_deny",
                other => panic!("unexpected reason {other}"),
            };
            out.push((
                a["action_id"].as_str().unwrap().into(),
                V::Denied(code, a["policy_id"].as_str().map(String::from)),
            ));
        }
    }
    for a in w["pending_actions"].as_array().unwrap() {
        if a["atlas_id"] == atlas_id {
            out.push((
                a["action_id"].as_str().unwrap().into(),
                V::Pending(a["policy_id"].as_str().unwrap().into()),
            ));
        }
    }
    out
}

fn sorted(mut v: Vec<(String, V)>) -> Vec<(String, V)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn tier_of(t: &str) -> RiskTier {
    RiskTier::parse(t).unwrap()
}

fn resolve_one(r: &Resolver, tier: &str) -> std::sync::Arc<cra_core::Resolution> {
    r.resolve(req_tier("agent", "sess", tier_of(tier))).unwrap()
}

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cfg())]

    /// The engine agrees with the reference model: verdict, reason code and reported policy.
    #[test]
    fn engine_matches_the_reference_model((acts, pols) in atlas_strategy(), tier in proptest::sample::select(TIERS.to_vec())) {
        let (r, _) = resolver();
        load(&r, &to_json("com.p.a", &acts, &pols));
        let res = resolve_one(&r, tier);
        prop_assert_eq!(sorted(engine(&res, "com.p.a")), sorted(model(&acts, &pols, tier)));
        // and wire order is declaration order within each list
        let allowed: Vec<String> = res.allowed_action_ids().into_iter().map(String::from).collect();
        let want: Vec<String> = acts.iter().filter(|a| allowed.contains(&a.to_string())).map(|a| a.to_string()).collect();
        prop_assert_eq!(allowed, want);
    }

    /// Adding a matching, unconditional deny policy makes the action denied, whatever else.
    #[test]
    fn deny_always_overrides((acts, pols) in atlas_strategy(), pick in any::<proptest::sample::Index>(), prio in -5i64..5, at_front in any::<bool>(), tier in proptest::sample::select(TIERS.to_vec())) {
        let target = acts[pick.index(acts.len())];
        let mut pols2 = pols.clone();
        let deny = Pol { ty: "deny", patterns: Some(vec![target.to_string()]), priority: prio, tiers: None };
        if at_front { pols2.insert(0, deny) } else { pols2.push(deny) }
        let (r, _) = resolver();
        load(&r, &to_json("com.p.a", &acts, &pols2));
        let res = resolve_one(&r, tier);
        let d = denied_detail(&res);
        prop_assert!(d.iter().any(|(a, code, _)| a == target && code == "policy_denied"), "{target} not denied: {d:?}");
        prop_assert!(!res.allowed_action_ids().contains(&target));
        prop_assert!(!res.pending_action_ids().contains(&target));
    }

    /// With no allow policy at all nothing is allowed; every action is denied or pending.
    #[test]
    fn unmatched_is_denied((acts, pols) in atlas_strategy(), tier in proptest::sample::select(TIERS.to_vec())) {
        let pols: Vec<Pol> = pols.into_iter().filter(|p| p.ty != "allow").collect();
        let (r, _) = resolver();
        load(&r, &to_json("com.p.a", &acts, &pols));
        let res = resolve_one(&r, tier);
        prop_assert!(res.allowed_action_ids().is_empty());
        prop_assert_eq!(res.denied_action_ids().len() + res.pending_action_ids().len(), acts.len());
    }

    /// Adding a deny policy never allows more, and never turns a denied action into a pending one.
    #[test]
    fn adding_deny_never_allows_more((acts, pols) in atlas_strategy(), extra in atlas_strategy().prop_flat_map(|(a, _)| policy_strategy(a)), tier in proptest::sample::select(TIERS.to_vec())) {
        // the extra deny's patterns must match one of *our* actions: rebuild it on our action list
        let extra = Pol { ty: "deny", patterns: extra.patterns.map(|ps| ps.into_iter().filter(|p| acts.iter().any(|a| gm(p, a))).collect::<Vec<_>>()).filter(|v| !v.is_empty()), ..extra };
        let (r1, _) = resolver();
        load(&r1, &to_json("com.p.a", &acts, &pols));
        let before = resolve_one(&r1, tier);
        let mut pols2 = pols.clone();
        pols2.push(extra);
        let (r2, _) = resolver();
        load(&r2, &to_json("com.p.a", &acts, &pols2));
        let after = resolve_one(&r2, tier);
        for a in after.allowed_action_ids() {
            prop_assert!(before.allowed_action_ids().contains(&a), "{a} newly allowed");
        }
        for a in after.pending_action_ids() {
            prop_assert!(before.pending_action_ids().contains(&a), "{a} newly pending");
        }
    }

    /// No sequence of atlas loads lets atlas B change a verdict on an action of atlas A
    /// (protocol.md §6): B declaring one of A's action ids is refused with ATLAS_CONFLICT
    /// whichever loads first, and otherwise A's verdicts are those it has alone.
    #[test]
    fn an_atlas_never_changes_another_atlas_verdicts((acts_a, pols_a) in atlas_strategy(), (acts_b, pols_b) in atlas_strategy(), b_first in any::<bool>(), tier in proptest::sample::select(TIERS.to_vec())) {
        let (r1, _) = resolver();
        load(&r1, &to_json("com.p.a", &acts_a, &pols_a));
        let alone = engine(&resolve_one(&r1, tier), "com.p.a");
        let (r2, _) = resolver();
        let overlap = acts_a.iter().any(|a| acts_b.contains(a));
        let a_doc = serde_json::to_vec(&to_json("com.p.a", &acts_a, &pols_a)).unwrap();
        let b_doc = serde_json::to_vec(&to_json("com.p.b", &acts_b, &pols_b)).unwrap();
        let (first, second) = if b_first { (&b_doc, &a_doc) } else { (&a_doc, &b_doc) };
        r2.load_atlas_json(first).unwrap();
        match r2.load_atlas_json(second) {
            Ok(_) => prop_assert!(!overlap, "overlapping action ids were accepted"),
            Err(e) => {
                prop_assert!(overlap, "refused without a conflict: {}", e);
                prop_assert_eq!(e.code, ErrorCode::AtlasConflict);
            }
        }
        let res = resolve_one(&r2, tier);
        if !overlap || !b_first {
            prop_assert_eq!(engine(&res, "com.p.a"), alone);
        }
        if !overlap || b_first {
            prop_assert_eq!(sorted(engine(&res, "com.p.b")), sorted(model(&acts_b, &pols_b, tier)));
        }
    }

    /// Same atlas and same requests in deterministic mode: byte-identical resolutions.
    #[test]
    fn deterministic_mode_is_byte_identical((acts, pols) in atlas_strategy(), tiers in proptest::collection::vec(proptest::sample::select(TIERS.to_vec()), 1..4)) {
        let run = || {
            let (r, _) = resolver();
            load(&r, &to_json("com.p.a", &acts, &pols));
            tiers.iter().enumerate().map(|(i, t)| {
                let q = CarpRequest::resolve("agent", &format!("s{}", i % 2), "goal").with_risk(tier_of(t));
                serde_json::to_vec(&*r.resolve(q).unwrap()).unwrap()
            }).collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }

    /// Arbitrary bytes never panic the request parser; errors are INVALID_REQUEST.
    #[test]
    fn request_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Err(e) = CarpRequest::from_json(&bytes) {
            prop_assert_eq!(e.code, ErrorCode::InvalidRequest);
        }
    }

    /// Arbitrary bytes never panic the atlas loader; errors are INVALID_ATLAS with details.
    #[test]
    fn atlas_loader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (r, _) = resolver();
        let e = r.load_atlas_json(&bytes).unwrap_err();
        prop_assert_eq!(e.code, ErrorCode::InvalidAtlas);
        prop_assert!(!e.details.is_empty());
    }

    /// Valid-looking JSON with one field replaced by arbitrary JSON never panics.
    #[test]
    fn atlas_loader_never_panics_on_mutated_atlases(path in 0usize..14, val in json_value()) {
        let mut a = to_json("com.p.a", &["a.x", "b.x"], &[Pol { ty: "allow", patterns: Some(vec!["a.*".into()]), priority: 0, tiers: Some(vec!["low"]) }]);
        a["context_packs"] = json!([{"pack_id": "k", "name": "K", "content": "c", "keywords": ["x"], "conditions": {"time_window": {"start": "09:00", "end": "17:00"}}}]);
        a["capabilities"] = json!([{"capability_id": "c", "name": "C", "actions": ["a.x"]}]);
        let slots: [&str; 14] = ["/atlas_id", "/version", "/name", "/actions", "/actions/0", "/actions/0/action_id", "/actions/0/parameters_schema", "/policies/0", "/policies/0/actions", "/policies/0/conditions", "/context_packs/0/conditions/time_window", "/context_packs/0", "/capabilities/0/actions", "/actions/1/rate_limit"];
        let ptr = slots[path];
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        let target = if parent.is_empty() { &mut a } else { a.pointer_mut(parent).unwrap() };
        match target {
            Value::Object(m) => { m.insert(key.to_string(), val.clone()); }
            Value::Array(v) => { let i: usize = key.parse().unwrap(); v[i] = val.clone(); }
            _ => unreachable!(),
        }
        let (r, _) = resolver();
        match r.load_atlas_json(&serde_json::to_vec(&a).unwrap()) {
            Ok(_) => { let _ = r.resolve(CarpRequest::resolve("agent", "s", "x")).unwrap(); }
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::InvalidAtlas);
                prop_assert!(!e.details.is_empty());
                for p in &e.details { prop_assert!(p.pointer.is_empty() || p.pointer.starts_with('/'), "{:?}", p); }
            }
        }
    }

    /// Arbitrary JSON values as requests never panic.
    #[test]
    fn request_values_never_panic(val in json_value()) {
        let bytes = serde_json::to_vec(&json!({"requester": {"agent_id": "a", "session_id": "s"}, "task": val})).unwrap();
        if let Err(e) = CarpRequest::from_json(&bytes) {
            prop_assert_eq!(e.code, ErrorCode::InvalidRequest);
            prop_assert!(e.pointer.as_deref().is_some_and(|p| p.is_empty() || p.starts_with('/')));
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z*?.:0-9 ]{0,8}".prop_map(Value::String),
        proptest::sample::select(vec![
            "low", "allow", "deny", "09:00", "a.x", "*", "1.0.0", "budget", "mon"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "goal",
                    "type",
                    "actions",
                    "start",
                    "end",
                    "max_calls",
                    "window_seconds",
                    "x",
                    "risk_tier",
                    "policy_id"
                ])
                .prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
