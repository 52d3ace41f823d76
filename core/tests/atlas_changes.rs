//! Atlas changes while the resolver runs are recorded in the resolver's own chain
//! (docs/trace.md §1: `atlas.loaded`, `atlas.unloaded`, session `cra:resolver`).

mod common;
use common::*;
use cra_core::{ErrorCode, Resolver, ResolverConfig};
use serde_json::{json, Value};

fn traced() -> Resolver {
    Resolver::new(ResolverConfig::deterministic(7)).unwrap()
}

/// The drained trace's events, parsed.
fn events(r: &Resolver) -> Vec<Value> {
    let bytes = r.drain_trace().unwrap();
    let report = cra_core::trace::verify_jsonl(&bytes);
    assert!(report.ok, "the drained trace verifies: {report:?}");
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn control(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["session_id"] == "cra:resolver")
        .collect()
}

#[test]
fn loads_before_the_first_session_are_configuration_later_ones_are_events() {
    let r = traced();
    load(&r, &allow_all("com.acme.ops", &["ops.status"]));
    load(&r, &allow_all("com.acme.kb", &["kb.search"]));
    assert!(events(&r).is_empty(), "configuration records nothing");
    r.resolve(req("bot", "s1", "g")).unwrap();
    load(&r, &allow_all("com.acme.crm", &["crm.read"]));
    let all = events(&r);
    let ctl = control(&all);
    assert_eq!(ctl.len(), 1);
    assert_eq!(ctl[0]["event_type"], "atlas.loaded");
    assert_eq!(ctl[0]["payload"]["atlas_id"], "com.acme.crm");
    assert_eq!(ctl[0]["payload"]["previous_digest"], Value::Null);
    // its ids are from the resolver chain's own stream
    for key in ["event_id", "trace_id", "span_id"] {
        assert!(
            ctl[0][key].as_str().unwrap().contains("-0002-"),
            "{key}: {}",
            ctl[0][key]
        );
    }
}

#[test]
fn a_recorded_change_shifts_no_other_id_or_time() {
    // the same requests with and without a change in between: identical session events
    let run = |change: bool| {
        let r = traced();
        load(&r, &allow_all("com.acme.ops", &["ops.status"]));
        r.resolve(req("bot", "s1", "g")).unwrap();
        if change {
            load(&r, &allow_all("com.acme.ops", &["ops.status"]));
        }
        let res = r.resolve(req("bot", "s1", "g")).unwrap();
        let all = events(&r);
        let session: Vec<Value> = all
            .into_iter()
            .filter(|e| e["session_id"] == "s1")
            .collect();
        (res.resolution_id.clone(), session)
    };
    assert_eq!(run(false), run(true));
}

#[test]
fn replace_unload_and_shadow_changes_form_one_verified_chain() {
    let r = traced();
    let v1 = allow_all("com.acme.ops", &["ops.restart", "ops.status"]);
    load(&r, &v1);
    r.resolve(req("bot", "s1", "g")).unwrap();

    // an edit that keeps the version string still shows: the digests differ
    let mut edited = atlas(
        "com.acme.ops",
        &["ops.restart", "ops.status"],
        vec![
            policy("kill-switch", "deny", Some(&["ops.restart"])),
            policy("allow-all", "allow", None),
        ],
    );
    edited["version"] = v1["version"].clone();
    load(&r, &edited);
    r.load_shadow_json(&serde_json::to_vec(&v1).unwrap())
        .unwrap();
    r.unload_shadow("com.acme.ops").unwrap();
    r.unload_atlas("com.acme.ops").unwrap();
    // refused changes record nothing
    assert_eq!(
        r.unload_atlas("com.acme.ops").unwrap_err().code,
        ErrorCode::AtlasNotFound
    );
    assert!(r.load_atlas_json(b"{\"atlas_id\": 1}").is_err());

    let all = events(&r);
    let ctl = control(&all);
    let kinds: Vec<(&str, bool)> = ctl
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["payload"]["shadow"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("atlas.loaded", false),
            ("atlas.loaded", true),
            ("atlas.unloaded", true),
            ("atlas.unloaded", false)
        ]
    );
    // one chain of its own, apart from the caller's session
    let trace_ids: std::collections::BTreeSet<&str> = ctl
        .iter()
        .map(|e| e["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(trace_ids.len(), 1);
    let s1 = all.iter().find(|e| e["session_id"] == "s1").unwrap();
    assert_ne!(s1["trace_id"], ctl[0]["trace_id"]);
    let seqs: Vec<u64> = ctl
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);

    let replaced = &ctl[0]["payload"];
    assert_eq!(replaced["atlas_id"], "com.acme.ops");
    assert_eq!(replaced["version"], replaced["previous_version"]);
    assert_ne!(replaced["digest"], replaced["previous_digest"]);
    assert_eq!(replaced["policies"], 2);
    // the shadow loaded where none was has no previous; it is v1 again, so its digest is v1's
    let shadow = &ctl[1]["payload"];
    assert_eq!(shadow["previous_digest"], Value::Null);
    assert_eq!(shadow["digest"], replaced["previous_digest"]);
    // the unloaded live atlas is the edited one
    assert_eq!(ctl[3]["payload"]["digest"], replaced["digest"]);
    for e in &ctl {
        let d = e["payload"]["digest"].as_str().unwrap();
        assert!(d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

#[test]
fn the_digest_covers_context_text() {
    // same manifest but for one context block's text: different digests
    let base = |text: &str| {
        let mut a = allow_all("com.acme.kb", &["kb.search"]);
        a["context_packs"] = json!([{"pack_id": "p", "name": "p", "content": text, "priority": 1}]);
        a
    };
    let r = traced();
    load(&r, &base("one"));
    load(&r, &base("two"));
    let all = events(&r);
    let ctl = control(&all);
    assert_eq!(ctl.len(), 1);
    assert_ne!(
        ctl[0]["payload"]["digest"],
        ctl[0]["payload"]["previous_digest"]
    );
}

#[test]
fn unloading_a_live_atlas_unloads_its_shadow_and_records_both() {
    let r = traced();
    let v1 = allow_all("com.acme.ops", &["ops.status"]);
    load(&r, &v1);
    r.load_shadow_json(&serde_json::to_vec(&v1).unwrap())
        .unwrap();
    r.unload_atlas("com.acme.ops").unwrap();
    assert_eq!(serde_json::to_value(r.stats()).unwrap()["shadows"], 0);
    // a later atlas of the same id starts without a shadow
    load(&r, &v1);
    assert_eq!(
        r.unload_shadow("com.acme.ops").unwrap_err().code,
        ErrorCode::AtlasNotFound
    );
    let all = events(&r);
    let kinds: Vec<(&str, bool)> = control(&all)
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["payload"]["shadow"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("atlas.loaded", true),
            ("atlas.unloaded", false),
            ("atlas.unloaded", true)
        ]
    );
}
