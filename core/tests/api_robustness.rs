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
