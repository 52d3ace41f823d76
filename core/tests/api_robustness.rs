//! Every entry point that takes bytes answers arbitrary input with a result or a coded error:
//! never a panic, never a hang (property tests over raw bytes and over structured JSON).

use cra_core::api;
use proptest::prelude::*;
use serde_json::{json, Value};

fn resolver() -> cra_core::Resolver {
    let r = api::create(br#"{"deterministic":{"seed":3}}"#).unwrap();
    api::load_atlas(
        &r,
        json!({"atlas_version": "1.0", "atlas_id": "com.example.fuzz", "version": "1.0.0", "name": "Fuzz", "description": "",
               "actions": [{"action_id": "a.b", "name": "x", "description": "", "parameters_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}],
               "policies": [{"policy_id": "p", "type": "allow"}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    r
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-z_.]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("requester".to_string()),
                    Just("task".to_string()),
                    Just("execution".to_string()),
                    Just("agent_id".to_string()),
                    Just("session_id".to_string()),
                    Just("goal".to_string()),
                    Just("execution_id".to_string()),
                    Just("approval_id".to_string()),
                    Just("trace".to_string()),
                    Just("deterministic".to_string()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check_err(e: &cra_core::CraError) {
    assert!(!e.message.is_empty());
    assert!(cra_core::ErrorCode::from_wire(e.code.as_str()).is_some());
}

fn exercise(r: &cra_core::Resolver, input: &[u8]) {
    for f in [
        api::load_atlas,
        api::resolve,
        api::execute,
        api::report,
        api::approve,
        api::reject,
        api::end_session,
    ] {
        if let Err(e) = f(r, input) {
            check_err(&e);
        }
    }
    let out = api::verify_trace(input).unwrap();
    assert!(serde_json::from_slice::<Value>(&out).is_ok());
    if let Err(e) = api::replay(input, input) {
        check_err(&e);
    }
    if let Err(e) = api::create(input) {
        check_err(&e);
    }
    let _ = api::check(r, input, input);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        exercise(&resolver(), &bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        exercise(&resolver(), v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_requests_with_a_valid_frame_never_panic(task in arb_json(), ctx in arb_json(), params in arb_json()) {
        let r = resolver();
        let req = json!({"requester": {"agent_id": "a", "session_id": "s"}, "task": task, "context": ctx});
        if let Err(e) = api::resolve(&r, req.to_string().as_bytes()) { check_err(&e); }
        let res = api::resolve(&r, br#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"}}"#).unwrap();
        let id = serde_json::from_slice::<Value>(&res).unwrap()["resolution_id"].clone();
        let ex = json!({"requester": {"agent_id": "a", "session_id": "s"}, "execution": {"resolution_id": id, "action_id": "a.b", "parameters": params}});
        if let Err(e) = api::execute(&r, ex.to_string().as_bytes()) { check_err(&e); }
    }
}

/// `api::authorize` (ids and parameters, no request JSON) answers exactly what `api::execute`
/// answers for the equivalent request, on two resolvers that start alike.
#[test]
fn authorize_answers_like_execute() {
    let atlas = json!({"atlas_version": "1.0", "atlas_id": "com.t", "version": "1.0.0", "name": "t", "description": "t",
        "actions": [{"action_id": "a.ok", "name": "ok", "description": "ok",
                     "parameters_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": false}},
                    {"action_id": "a.no", "name": "no", "description": "no"}],
        "policies": [{"policy_id": "allow-ok", "type": "allow", "actions": ["a.ok"]},
                     {"policy_id": "deny-no", "type": "deny", "actions": ["a.no"]}]});
    let make = || {
        let r = api::create(br#"{"deterministic":{"seed":3},"trace":{"sink":"none"}}"#).unwrap();
        api::load_atlas(&r, atlas.to_string().as_bytes()).unwrap();
        let res = api::resolve(
            &r,
            br#"{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g"}}"#,
        )
        .unwrap();
        let id = serde_json::from_slice::<Value>(&res).unwrap()["resolution_id"]
            .as_str()
            .unwrap()
            .to_string();
        (r, id)
    };
    let ((r1, id1), (r2, id2)) = (make(), make());
    assert_eq!(id1, id2);
    for (action, params) in [
        ("a.ok", r#"{"n": 1}"#),
        ("a.no", "{}"),
        ("a.unknown", ""),
        ("a.ok", r#"{"n": "x"}"#),
        ("a.ok", "[1]"),
        ("a.ok", r#"{"n":1,"n":2}"#),
    ] {
        let p: Value = serde_json::from_str(if params.is_empty() { "{}" } else { params })
            .unwrap_or(Value::String(params.into()));
        let body = format!(
            r#"{{"requester":{{"agent_id":"a","session_id":"s"}},"execution":{{"resolution_id":"{id1}","action_id":"{action}","parameters":{}}}}}"#,
            if params.is_empty() { "{}" } else { params }
        );
        let via_json = api::execute(&r1, body.as_bytes());
        let via_ids = api::authorize(
            &r2,
            b"a",
            b"s",
            id2.as_bytes(),
            action.as_bytes(),
            params.as_bytes(),
        );
        match (via_json, via_ids) {
            (Ok(a), Ok(b)) => assert_eq!(
                String::from_utf8(a).unwrap(),
                String::from_utf8(b).unwrap(),
                "{action} {p}"
            ),
            (Err(a), Err(b)) => assert_eq!(
                (a.code, a.pointer),
                (b.code, b.pointer),
                "{action} {params}"
            ),
            (a, b) => panic!("{action} {params}: {a:?} vs {b:?}"),
        }
    }
    let e = api::authorize(&r2, b"a", b"s", id2.as_bytes(), b"a.ok", b"{bad").unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.pointer.as_deref()),
        ("INVALID_REQUEST", Some("/execution/parameters"))
    );
}
