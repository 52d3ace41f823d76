//! The C-ABI conformance driver on a few operations: libcra loaded with libloading answers like
//! the core API, errors arrive as codes with pointers, and every driver op is wired.
//! Needs the release library (`make build-ffi`) or `CRA_LIB`.

#[path = "common/cabi.rs"]
mod cabi;

use cabi::CabiDriver;
use cra_conformance::{Arg, CoreDriver, Driver};
use serde_json::Value;

fn atlas_dir() -> String {
    format!(
        "{}/../../examples/atlases/customer-support",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn driver() -> CabiDriver {
    CabiDriver::load().unwrap_or_else(|e| panic!("{e}"))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

const CONFIG: &[u8] = br#"{"deterministic":{"seed":5}}"#;
const RESOLVE: &[u8] = br#"{"operation":"resolve","requester":{"agent_id":"support-bot","session_id":"s1"},"task":{"goal":"order ORD-1234"}}"#;

/// One step's answer, or its error code and pointer (messages are never compared).
type Step = Result<Vec<u8>, (String, Option<String>)>;

/// The same script through both drivers, step by step.
fn script(d: &mut dyn Driver) -> Vec<Step> {
    d.create(CONFIG).unwrap();
    let dir = atlas_dir();
    let mut steps: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("load_atlas_dir", vec![dir.into_bytes()]),
        ("resolve", vec![RESOLVE.to_vec()]),
        ("check", vec![b"s1".to_vec(), b"orders.lookup".to_vec()]),
        ("check", vec![b"s1".to_vec(), b"customers.delete_account".to_vec()]),
        ("check", vec![b"nobody".to_vec(), b"orders.lookup".to_vec()]),
        ("resolve", vec![br#"{"operation":"resolve","bogus":1}"#.to_vec()]),
        ("unload_atlas", vec![b"nope".to_vec()]),
        ("approve", vec![br#"{"approval_id":"nope"}"#.to_vec()]),
        ("reject", vec![br#"{"approval_id":"nope"}"#.to_vec()]),
        ("report", vec![br#"{"execution_id":"nope","result":1}"#.to_vec()]),
        ("execute", vec![br#"{"requester":{"agent_id":"support-bot","session_id":"s1"},"execution":{"resolution_id":"nope","action_id":"orders.lookup","parameters":{}}}"#.to_vec()]),
        ("advance_clock", vec![b"1000".to_vec()]),
        ("advance_clock", vec![b"-5".to_vec()]),
        ("end_session", vec![br#"{"session_id":"s1"}"#.to_vec()]),
        ("end_session", vec![br#"{"session_id":"s1"}"#.to_vec()]),
        ("flush", vec![]),
        ("stats", vec![]),
    ];
    let mut out: Vec<_> = steps
        .drain(..)
        .map(|(op, args)| {
            let args: Vec<Arg> = args.into_iter().map(Arg::Text).collect();
            d.call(op, &args).map_err(|e| (e.code, e.pointer))
        })
        .collect();
    let trace = d.call("drain_trace", &[]).unwrap();
    out.push(
        d.call("verify_trace", &[Arg::text(trace.clone())])
            .map_err(|e| (e.code, e.pointer)),
    );
    out.push(
        d.call("replay", &[Arg::text(trace.clone()), Arg::text("{}")])
            .map_err(|e| (e.code, e.pointer)),
    );
    out.push(d.call("bogus_op", &[]).map_err(|e| (e.code, e.pointer)));
    d.close();
    out
}

#[test]
fn cabi_answers_exactly_like_the_core_api() {
    let mut core = script(&mut CoreDriver::default());
    let mut cabi = script(&mut driver());
    assert_eq!(core.len(), cabi.len());
    // `stats` (step 16) counts the background thread's batches, which depend on thread timing:
    // those are checked on their own, everything else must be byte-identical.
    for steps in [&mut core, &mut cabi] {
        let mut v = json(steps[16].as_ref().unwrap());
        let batches = v["trace"]["batches"].take();
        assert!(batches.as_u64().is_some_and(|b| b >= 1), "{batches}");
        v["trace"]["queued"].take();
        steps[16] = Ok(serde_json::to_vec(&v).unwrap());
    }
    for (i, (a, b)) in core.iter().zip(&cabi).enumerate() {
        assert_eq!(a, b, "step {i} differs between the core API and the C ABI");
    }
    // and the script really exercised answers and errors
    assert_eq!(cabi[2].as_deref().ok(), Some(&b"\"allowed\""[..]));
    assert_eq!(cabi[3].as_deref().ok(), Some(&b"\"denied\""[..]));
    assert_eq!(cabi[4].as_deref().ok(), Some(&b"\"no_resolution\""[..]));
    assert_eq!(cabi[5].as_ref().unwrap_err().0, "INVALID_REQUEST");
    assert!(
        cabi[5].as_ref().unwrap_err().1.is_some(),
        "the pointer crosses the C ABI"
    );
    assert_eq!(cabi[6].as_ref().unwrap_err().0, "ATLAS_NOT_FOUND");
    assert_eq!(cabi[14].as_ref().unwrap_err().0, "SESSION_ENDED");
    assert_eq!(json(cabi[17].as_ref().unwrap())["ok"], true);
}

#[test]
fn errors_without_a_resolver_and_bad_config() {
    let mut d = driver();
    assert_eq!(d.call("stats", &[]).unwrap_err().code, "INTERNAL");
    let e = d.create(br#"{"resolution_ttl_seconds":0}"#).unwrap_err();
    assert_eq!(e.code, "INVALID_CONFIG");
    assert_eq!(e.pointer.as_deref(), Some("/resolution_ttl_seconds"));
    // ABI-level problems surface under their own names
    d.create(b"{}").unwrap();
    assert_eq!(
        d.call("resolve", &[Arg::text(&b"{\xff}"[..])])
            .unwrap_err()
            .code,
        "INVALID_UTF8"
    );
    // a fresh create replaces the resolver (the atlas is gone)
    d.call("load_atlas_dir", &[Arg::text(atlas_dir().as_bytes())])
        .unwrap();
    d.create(b"{}").unwrap();
    assert_eq!(json(&d.call("stats", &[]).unwrap())["atlases"], 0);
}
