//! Replay: recorded requests re-run against a changed atlas report exactly the changed decisions.

use cra_core::replay::replay;
use cra_core::CarpRequest;
use cra_core::{Resolver, ResolverConfig};
use serde_json::{json, Value};
use std::time::Duration;

fn atlas(extra_policy: Option<Value>) -> Value {
    let mut policies = vec![json!({"policy_id": "allow-all", "type": "allow"})];
    if let Some(p) = extra_policy {
        policies.insert(0, p);
    }
    json!({"atlas_version": "1.0", "atlas_id": "com.example.replay", "version": "1.0.0", "name": "Replay", "description": "",
           "actions": [
               {"action_id": "files.read", "name": "read", "description": ""},
               {"action_id": "files.delete", "name": "delete", "description": ""}],
           "policies": policies})
}

fn recorded_trace() -> Vec<u8> {
    let r = Resolver::new(ResolverConfig::deterministic(3)).unwrap();
    r.load_atlas_json(atlas(None).to_string().as_bytes())
        .unwrap();
    r.resolve(CarpRequest::resolve("intern-1", "s1", "clean up"))
        .unwrap();
    r.resolve(CarpRequest::resolve("admin-1", "s2", "clean up"))
        .unwrap();
    r.flush(Duration::from_secs(5)).unwrap();
    r.drain_trace().unwrap()
}

fn manifest(v: Value) -> cra_core::atlas::AtlasManifest {
    cra_core::atlas::manifest_from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn unchanged_atlas_changes_nothing() {
    let report = replay(&recorded_trace(), vec![manifest(atlas(None))]).unwrap();
    assert_eq!(
        (report.replayed, report.unchanged, report.changed.len()),
        (2, 2, 0)
    );
}

#[test]
fn a_new_deny_is_reported_for_the_requests_it_affects() {
    let deny = json!({"policy_id": "no-deletes-for-interns", "type": "deny", "actions": ["files.delete"], "conditions": {"agents": ["intern-*"]}});
    let report = replay(&recorded_trace(), vec![manifest(atlas(Some(deny)))]).unwrap();
    assert_eq!((report.replayed, report.unchanged), (2, 1));
    assert_eq!(report.changed.len(), 1);
    let c = &report.changed[0];
    assert_eq!(c.session_id, "s1");
    assert_eq!(c.before.decision, "allow");
    assert_eq!(c.after.as_ref().unwrap().decision, "partial");
    assert_eq!(c.no_longer_allowed, ["files.delete"]);
    assert!(c.newly_allowed.is_empty());
}

#[test]
fn replacing_the_atlas_set_reports_every_lost_action_and_skips_bad_lines() {
    let other = json!({"atlas_version": "1.0", "atlas_id": "com.example.other", "version": "1.0.0", "name": "Other", "description": "",
                       "actions": [{"action_id": "a.b", "name": "x", "description": ""}], "policies": []});
    let mut trace = recorded_trace();
    trace.extend_from_slice(b"not json\n");
    let report = replay(&trace, vec![manifest(other)]).unwrap();
    // The requests named no atlas: they now resolve against "other", whose only action no
    // policy allows, and lose both actions they had.
    assert_eq!(report.changed.len(), 2);
    let after = report.changed[0].after.as_ref().unwrap();
    assert_eq!(
        (
            after.decision.as_str(),
            after.allowed.len(),
            after.denied.as_slice()
        ),
        ("deny", 0, ["a.b".to_string()].as_slice())
    );
    assert_eq!(
        report.changed[0].no_longer_allowed,
        ["files.read", "files.delete"]
    );
    assert_eq!(report.skipped_lines, 1);
}
