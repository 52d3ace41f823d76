//! The review's findings (issue "Trust"), one test each: every one failed before protocol.md §6
//! was built and passes after.

mod common;

use common::*;
use cra_core::trace::{Overflow, SinkKind, TraceConfig};
use cra_core::{api, CarpRequest, ErrorCode, ExecuteStatus, FastVerdict, Resolver, ResolverConfig};
use serde_json::json;
use std::path::Path;

const SEC: i64 = 1_000_000;

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/atlases")
        .join(name)
}

fn support_request(agent: &str, session: &str) -> CarpRequest {
    let mut q = CarpRequest::resolve(agent, session, "refund ORD-1234");
    q.atlas_ids = Some(vec!["com.example.customer-support".into()]);
    q
}

#[test]
fn another_atlas_cannot_unlock_an_action_it_does_not_own() {
    let (r, _) = resolver();
    // loaded first, `allow *`, claiming the support atlas's actions
    let rogue = atlas(
        "com.evil.unlock",
        &["customers.delete_account", "orders.refund"],
        vec![policy("allow-all", "allow", None)],
    );
    load(&r, &rogue);
    let e = r.load_atlas_dir(example("customer-support")).unwrap_err();
    assert_eq!(e.code, ErrorCode::AtlasConflict);
    assert!(
        e.pointer.as_deref().unwrap().starts_with("/actions/"),
        "{e:?}"
    );
    // and the other way round: the owner first, the rogue refused
    let (r, _) = resolver();
    r.load_atlas_dir(example("customer-support")).unwrap();
    let e = load_err(&r, &rogue);
    assert_eq!(e.code, ErrorCode::AtlasConflict);
    let res = r.resolve(support_request("support-bot-1", "s")).unwrap();
    let ans = r
        .execute(exec(
            "support-bot-1",
            "s",
            &res.resolution_id,
            "customers.delete_account",
            json!({"customer_id": "C-1"}),
        ))
        .unwrap();
    assert_eq!(ans.reason_code, Some("policy_denied"));
}

#[test]
fn an_agent_nothing_allows_is_denied_not_pending() {
    let (r, _) = resolver();
    r.load_atlas_dir(example("customer-support")).unwrap();
    let res = r.resolve(support_request("intruder", "s")).unwrap();
    assert!(res.pending_action_ids().is_empty());
    assert!(res.allowed_action_ids().is_empty());
    let ans = r
        .execute(exec(
            "intruder",
            "s",
            &res.resolution_id,
            "orders.refund_large",
            json!({"order_id": "ORD-1234", "amount": 150.0, "reason": "x"}),
        ))
        .unwrap();
    assert_eq!(
        (ans.status, ans.reason_code),
        (ExecuteStatus::Denied, Some("default_deny"))
    );
    assert!(
        r.approvals(&Default::default()).is_empty(),
        "no approval was asked"
    );
}

#[test]
fn a_deny_added_by_reloading_stops_live_resolutions_at_once() {
    let (r, _) = resolver();
    let v1 = allow_all("com.acme.ops", &["ops.restart", "ops.status"]);
    load(&r, &v1);
    let res = r.resolve(req("bot", "s", "g")).unwrap();
    assert_eq!(r.check("s", "ops.restart"), FastVerdict::Allowed);
    let mut v2 = atlas(
        "com.acme.ops",
        &["ops.restart", "ops.status"],
        vec![
            policy("kill-switch", "deny", Some(&["ops.restart"])),
            policy("allow-all", "allow", None),
        ],
    );
    v2["version"] = json!("1.0.1");
    load(&r, &v2);
    assert_eq!(r.check("s", "ops.restart"), FastVerdict::Denied);
    let ans = r
        .execute(exec(
            "bot",
            "s",
            &res.resolution_id,
            "ops.restart",
            json!({}),
        ))
        .unwrap();
    assert_eq!(
        (ans.reason_code, ans.policy_id.as_deref()),
        (Some("policy_denied"), Some("kill-switch"))
    );
    // untouched actions keep working
    let ok = r
        .execute(exec(
            "bot",
            "s",
            &res.resolution_id,
            "ops.status",
            json!({}),
        ))
        .unwrap();
    assert_eq!(ok.status, ExecuteStatus::Authorized);
    // unloading revokes everything it owned
    r.unload_atlas("com.acme.ops").unwrap();
    assert_eq!(r.check("s", "ops.status"), FastVerdict::Denied);
    let gone = r
        .execute(exec(
            "bot",
            "s",
            &res.resolution_id,
            "ops.status",
            json!({}),
        ))
        .unwrap();
    assert_eq!(gone.reason_code, Some("default_deny"));
}

#[test]
fn a_repeated_idempotency_key_never_authorizes_twice() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let id = rid(&r, "ag", "s");
    let first = r
        .execute(exec_key("ag", "s", &id, "orders.get", json!({}), "k"))
        .unwrap();
    let again = r
        .execute(exec_key("ag", "s", &id, "orders.get", json!({}), "k"))
        .unwrap();
    assert!(again.replayed && again.outcome.is_none());
    assert_eq!(again.execution_id, first.execution_id);
    r.report(&report_ok(first.execution_id.as_deref().unwrap()))
        .unwrap();
    let after = r
        .execute(exec_key("ag", "s", &id, "orders.get", json!({}), "k"))
        .unwrap();
    assert_eq!((after.replayed, after.outcome), (true, Some("executed")));
    assert_eq!(
        serde_json::to_value(r.stats()).unwrap()["authorized"],
        1,
        "one authorization for one key, however often it is repeated"
    );
}

fn rid(r: &Resolver, agent: &str, session: &str) -> String {
    r.resolve(req(agent, session, "g"))
        .unwrap()
        .resolution_id
        .clone()
}

#[test]
fn duplicate_keys_and_unhashable_integers_are_refused() {
    let (r, _) = resolver();
    let mut a = allow_all("com.acme.shop", &["orders.get"]);
    a["actions"][0]["parameters_schema"] =
        json!({"type": "object", "properties": {"order_id": {"const": "ORD-1234"}}});
    load(&r, &a);
    let id = rid(&r, "ag", "s");
    let text = format!(
        r#"{{"requester":{{"agent_id":"ag","session_id":"s"}},"execution":{{"resolution_id":"{id}","action_id":"orders.get","parameters":{{"order_id":"bad","order_id":"ORD-1234"}}}}}}"#
    );
    let e = api::execute(&r, text.as_bytes()).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (
            ErrorCode::InvalidRequest,
            Some("/execution/parameters/order_id")
        )
    );
    let big = br#"{"requester":{"agent_id":"ag","session_id":"s"},"task":{"goal":"g"},"context":{"n":9223372036854775809}}"#;
    let e = api::resolve(&r, big).unwrap_err();
    assert_eq!(e.pointer.as_deref(), Some("/context/n"));
    let dup_atlas = br#"{"atlas_version":"1.0","atlas_id":"com.x.y","atlas_id":"com.x.z","version":"1.0.0","name":"n","description":""}"#;
    let e = api::load_atlas(&r, dup_atlas).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidAtlas);
    assert_eq!(e.details[0].pointer, "/atlas_id");
    let e = api::create(br#"{"resolution_ttl_seconds":5,"resolution_ttl_seconds":9}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
}

#[test]
fn oversize_inputs_are_refused_by_their_bound() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let huge = "s".repeat(100 * 1024 * 1024);
    let e = r.resolve(req("ag", &huge, "g")).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::LimitExceeded, Some("/requester/session_id"))
    );
    let e = r.resolve(req(&"a".repeat(1 << 20), "s", "g")).unwrap_err();
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    let big_request = format!(
        r#"{{"requester":{{"agent_id":"a","session_id":"s"}},"task":{{"goal":"g"}},"context":{{"x":"{}"}}}}"#,
        "y".repeat(2 << 20)
    );
    let e = api::resolve(&r, big_request.as_bytes()).unwrap_err();
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    // a 1 GB atlas.json (sparse: no disk used) is refused before it is read
    let dir = temp_dir("huge-atlas");
    let f = std::fs::File::create(dir.join("atlas.json")).unwrap();
    f.set_len(1 << 30).unwrap();
    let e = r.load_atlas_dir(&dir).unwrap_err();
    assert_eq!(e.code, ErrorCode::LimitExceeded);
}

#[cfg(unix)]
#[test]
fn atlas_paths_never_leave_the_directory_nor_read_devices_or_fifos() {
    let dir = temp_dir("escape");
    std::fs::write(dir.join("secret.txt"), "outside").unwrap();
    let atlas_dir = dir.join("atlas");
    std::fs::create_dir_all(&atlas_dir).unwrap();
    std::os::unix::fs::symlink("/dev/zero", atlas_dir.join("zero.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), atlas_dir.join("link.md")).unwrap();
    let fifo = atlas_dir.join("pipe.md");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    let have_fifo = status.is_ok_and(|s| s.success());
    let mut cases = vec!["../secret.txt", "/etc/hostname", "zero.md", "link.md"];
    if have_fifo {
        cases.push("pipe.md");
    }
    let trace = b"";
    for file in cases {
        let doc = json!({
            "atlas_version": "1.0", "atlas_id": "com.x.files", "version": "1.0.0", "name": "n",
            "description": "", "context_packs": [{"pack_id": "p", "name": "p", "files": [file]}]
        });
        std::fs::write(atlas_dir.join("atlas.json"), doc.to_string()).unwrap();
        let (r, _) = resolver();
        let e = r.load_atlas_dir(&atlas_dir).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidAtlas, "{file}: {e:?}");
        // replay reads atlas directories through the same loader
        let paths = serde_json::to_vec(&json!([atlas_dir.to_str().unwrap()])).unwrap();
        let e = api::replay(trace, &paths).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidAtlas, "replay {file}: {e:?}");
        assert_eq!(e.pointer.as_deref().map(|p| &p[..2]), Some("/0"));
    }
    // atlas.json itself as a device
    std::fs::remove_file(atlas_dir.join("atlas.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", atlas_dir.join("atlas.json")).unwrap();
    let (r, _) = resolver();
    assert_eq!(
        r.load_atlas_dir(&atlas_dir).unwrap_err().code,
        ErrorCode::InvalidAtlas
    );
}

#[test]
fn a_memory_trace_nobody_drains_never_blocks_forever() {
    let r = Resolver::new(ResolverConfig {
        trace: TraceConfig {
            sink: SinkKind::Memory,
            overflow: Overflow::Block,
            memory_limit_events: 50,
            capacity: 16,
            block_timeout_ms: 20,
            ..TraceConfig::default()
        },
        ..ResolverConfig::default()
    })
    .unwrap();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    for i in 0..200 {
        r.resolve(req("ag", &format!("s{}", i % 4), "g")).unwrap();
    }
    let trace = r.drain_trace().unwrap();
    let stats = serde_json::to_value(r.stats()).unwrap();
    let lost = stats["trace"]["dropped_by_reason"]["block_timeout"]
        .as_u64()
        .unwrap();
    assert!(lost > 0, "{stats}");
    // the loss is counted and, once there is room, visible in the chain
    for i in 0..4 {
        r.resolve(req("ag", &format!("s{i}"), "g")).unwrap();
    }
    let mut all = trace;
    all.extend(r.drain_trace().unwrap());
    let report = cra_core::trace::verify_jsonl(&all);
    assert!(report.ok, "{report:?}");
    assert!(String::from_utf8_lossy(&all).contains("\"trace.gap\""));
}

#[test]
fn ended_sessions_are_forgotten_and_a_reused_id_starts_a_new_trace() {
    let cfg = ResolverConfig {
        ended_session_retention_seconds: 10,
        max_ended_sessions: 1000,
        ..ResolverConfig::deterministic(5)
    };
    let r = Resolver::new(cfg).unwrap();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let first = r.resolve(req("ag", "s", "g")).unwrap().trace_id.clone();
    r.end_session("s", None).unwrap();
    assert_eq!(
        r.resolve(req("ag", "s", "g")).unwrap_err().code,
        ErrorCode::SessionEnded
    );
    r.clock().advance(11 * SEC);
    let second = r.resolve(req("ag", "s", "g")).unwrap().trace_id.clone();
    assert_ne!(first, second);
    let report = cra_core::trace::verify_jsonl(&r.drain_trace().unwrap());
    assert!(report.ok, "no false tamper alarm: {report:?}");
    assert_eq!(report.sessions, 2, "two chains for one session id");
    // many ended sessions: the state is dropped and the remembered ids stay bounded
    for i in 0..20_000 {
        let sid = format!("e{i}");
        r.resolve(req("ag", &sid, "g")).unwrap();
        r.end_session(&sid, None).unwrap();
        if i % 5000 == 0 {
            r.drain_trace().unwrap();
        }
    }
    let stats = serde_json::to_value(r.stats()).unwrap();
    assert_eq!(stats["sessions"], 1, "{stats}");
    assert!(stats["ended_sessions"].as_u64().unwrap() <= 1000, "{stats}");
}

#[test]
fn a_trace_file_has_one_writer() {
    let dir = temp_dir("lock");
    let path = dir.join("trace.jsonl");
    let cfg = || ResolverConfig {
        trace: TraceConfig {
            sink: SinkKind::File,
            path: Some(path.to_str().unwrap().into()),
            ..TraceConfig::default()
        },
        ..ResolverConfig::default()
    };
    let a = Resolver::new(cfg()).unwrap();
    let e = Resolver::new(cfg()).unwrap_err();
    assert_eq!(e.code, ErrorCode::TraceFileLocked);
    a.close().unwrap();
    drop(a);
    Resolver::new(cfg()).expect("the lock goes with its writer");
}

#[test]
fn verify_reports_a_bad_utf8_line_like_any_malformed_line() {
    let (r, _) = resolver_with(ResolverConfig::deterministic(1));
    let r2 = Resolver::new(ResolverConfig::deterministic(1)).unwrap();
    drop(r);
    load(&r2, &allow_all("com.acme.shop", &["orders.get"]));
    r2.resolve(req("ag", "s", "g")).unwrap();
    let mut trace = r2.drain_trace().unwrap();
    let second_line = trace.iter().position(|&b| b == b'\n').unwrap() + 1;
    trace[second_line + 20] = 0xff;
    let report: serde_json::Value =
        serde_json::from_slice(&api::verify_trace(&trace).unwrap()).unwrap();
    assert_eq!(report["errors"][0]["line"], 1);
    assert_eq!(report["errors"][0]["code"], "malformed_event");
    let dir = temp_dir("utf8");
    let f = dir.join("t.jsonl");
    std::fs::write(&f, &trace).unwrap();
    let from_file: serde_json::Value =
        serde_json::from_slice(&api::verify_trace_file(f.to_str().unwrap().as_bytes()).unwrap())
            .unwrap();
    assert_eq!(report, from_file, "bytes and file give one verdict");
}

#[test]
fn an_expired_resolution_is_reported_expired_after_churn() {
    let (r, _) = resolver_with(ResolverConfig {
        resolution_ttl_seconds: 60,
        ..ResolverConfig::deterministic(2)
    });
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let old = rid(&r, "ag", "s");
    r.clock().advance(61 * SEC);
    for i in 0..5000 {
        rid(&r, "other", &format!("o{}", i % 50));
    }
    let e = r
        .execute(exec("ag", "s", &old, "orders.get", json!({})))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ResolutionExpired);
}

mod approval_props {
    use super::*;
    use proptest::prelude::*;

    fn gated() -> serde_json::Value {
        atlas(
            "com.acme.pay",
            &["pay.send"],
            vec![
                policy("allow", "allow", None),
                policy("gate", "require_approval", None),
            ],
        )
    }

    fn params() -> impl Strategy<Value = serde_json::Value> {
        (0u8..3, 0u8..3, any::<bool>()).prop_map(|(to, amount, swap)| {
            // the same object with its keys in either order: canonically equal
            if swap {
                json!({"amount": amount, "to": format!("acct-{to}")})
            } else {
                json!({"to": format!("acct-{to}"), "amount": amount})
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// An approval authorizes only the call it was asked for (same action, canonically
        /// equal parameters), and only once, whatever is tried before and after it.
        #[test]
        fn an_approval_authorizes_one_call_with_its_parameters(
            approved in params(),
            tries in proptest::collection::vec(params(), 1..12),
        ) {
            let (r, _) = resolver();
            load(&r, &gated());
            let id = r.resolve(req("agent", "s", "g")).unwrap().resolution_id.clone();
            let asked = r.execute(exec("agent", "s", &id, "pay.send", approved.clone())).unwrap();
            prop_assert_eq!(asked.status, ExecuteStatus::PendingApproval);
            r.approve(&decision(asked.approval_id.as_deref().unwrap())).unwrap();
            let mut authorized = 0;
            for p in tries.iter().chain(std::iter::once(&approved)) {
                let ans = r.execute(exec("agent", "s", &id, "pay.send", p.clone())).unwrap();
                if ans.status == ExecuteStatus::Authorized {
                    authorized += 1;
                    prop_assert_eq!(p, &approved, "authorized other parameters");
                    prop_assert_eq!(ans.approval_id.as_deref(), asked.approval_id.as_deref());
                }
            }
            prop_assert_eq!(authorized, 1, "exactly one call runs under one approval");
        }
    }
}
