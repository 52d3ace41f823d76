//! protocol.md §3 "Execute", rate limits, idempotency, approvals, sessions, the fast path, events.

mod common;
use common::*;
use cra_core::{ApprovalStatus, ErrorCode, ExecuteStatus, FastVerdict, ReportStatus, Resolver};
use cra_core::{ExecutionReport, ReportedError};
use serde_json::{json, Value};

const SEC: i64 = 1_000_000;

fn rid(r: &Resolver, agent: &str, session: &str) -> String {
    r.resolve(req(agent, session, "g"))
        .unwrap()
        .resolution_id
        .clone()
}

fn rate_atlas(params: Value) -> Value {
    atlas(
        "com.acme.shop",
        &["orders.get", "orders.refund"],
        vec![
            policy("allow-all", "allow", None),
            policy_with(
                "p-rate",
                "rate_limit",
                Some(&["orders.get"]),
                json!({"parameters": params}),
            ),
        ],
    )
}

// ---------- authorize and report ----------

#[test]
fn authorized_execution_is_reported_once() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let id = rid(&r, "ag", "s");
    let ans = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    assert_eq!(ans.status, ExecuteStatus::Authorized);
    assert_eq!(ans.policy_id.as_deref(), Some("allow-all"));
    assert_eq!(ans.reason_code, None);
    assert_eq!(ans.resolution_id, id);
    let eid = ans.execution_id.clone().expect("execution_id");
    let out = r.report(&report_ok(&eid)).unwrap();
    assert_eq!(out.status, ReportStatus::Executed);
    assert_eq!(out.execution_id, eid);
    assert_eq!(out.action_id, "orders.get");
    let e = r.report(&report_ok(&eid)).unwrap_err();
    assert_eq!(e.code, ErrorCode::ExecutionAlreadyReported);
    assert_eq!(e.pointer.as_deref(), Some("/execution_id"));
    let e = r.report(&report_ok("no-such-execution")).unwrap_err();
    assert_eq!(e.code, ErrorCode::ExecutionNotFound);
    assert_eq!(e.pointer.as_deref(), Some("/execution_id"));
}

#[test]
fn reporting_an_error_records_action_failed() {
    let (r, rec) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let id = rid(&r, "ag", "s");
    let eid = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap()
        .execution_id
        .clone()
        .unwrap();
    rec.take();
    let out = r
        .report(&ExecutionReport {
            execution_id: eid,
            result: None,
            error: Some(ReportedError {
                message: "boom".into(),
                code: Some("E1".into()),
            }),
            duration_ms: None,
        })
        .unwrap();
    assert_eq!(out.status, ReportStatus::Failed);
    assert_eq!(rec.types(), vec!["action.failed"]);
}

#[test]
fn report_json_needs_exactly_one_of_result_and_error() {
    assert_eq!(
        ExecutionReport::from_json(br#"{"execution_id":"x"}"#)
            .unwrap_err()
            .code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        ExecutionReport::from_json(br#"{"execution_id":"x","result":1,"error":{"message":"m"}}"#)
            .unwrap_err()
            .pointer
            .as_deref(),
        Some("/error")
    );
}

#[test]
fn unknown_resolution_is_resolution_not_found() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let e = r
        .execute(exec("ag", "s", "nope", "orders.get", json!({})))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ResolutionNotFound);
    assert_eq!(e.pointer.as_deref(), Some("/execution/resolution_id"));
}

#[test]
fn expired_resolution_is_resolution_expired() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let id = rid(&r, "ag", "s");
    r.clock().advance(299 * SEC);
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    r.clock().advance(SEC);
    let e = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ResolutionExpired);
    assert_eq!(e.pointer.as_deref(), Some("/execution/resolution_id"));
    assert_eq!(r.check("s", "orders.get"), FastVerdict::NoResolution);
}

#[test]
fn parameters_are_validated_with_pointers() {
    let (r, _) = resolver();
    let mut a = allow_all("com.acme.shop", &["orders.refund"]);
    a["actions"][0]["parameters_schema"] = json!({
        "type": "object",
        "properties": {"amount": {"type": "number", "maximum": 100}, "items": {"type": "array", "items": {"type": "string"}}},
        "required": ["amount"],
        "additionalProperties": false
    });
    load(&r, &a);
    let id = rid(&r, "ag", "s");
    let bad = |p: Value| {
        r.execute(exec("ag", "s", &id, "orders.refund", p))
            .unwrap_err()
    };
    let e = bad(json!({"amount": "ten"}));
    assert_eq!(e.code, ErrorCode::InvalidParameters);
    assert_eq!(e.pointer.as_deref(), Some("/execution/parameters/amount"));
    assert_eq!(
        bad(json!({"amount": 500})).pointer.as_deref(),
        Some("/execution/parameters/amount")
    );
    assert_eq!(
        bad(json!({"amount": 5, "items": ["a", 7]}))
            .pointer
            .as_deref(),
        Some("/execution/parameters/items/1")
    );
    assert_eq!(
        bad(json!({})).pointer.as_deref(),
        Some("/execution/parameters")
    );
    let ans = r
        .execute(exec(
            "ag",
            "s",
            &id,
            "orders.refund",
            json!({"amount": 5, "items": ["a"]}),
        ))
        .unwrap();
    assert_eq!(ans.status, ExecuteStatus::Authorized);
}

#[test]
fn denied_and_unknown_actions_are_denied_answers() {
    let (r, rec) = resolver();
    let mut a = atlas(
        "com.acme.shop",
        &["orders.get", "orders.refund", "orders.delete"],
        vec![
            policy("allow-get", "allow", Some(&["orders.get", "orders.refund"])),
            policy_with(
                "no-refunds",
                "deny",
                Some(&["orders.refund"]),
                json!({"reason": "refunds are off"}),
            ),
        ],
    );
    a["capabilities"] = json!([{"capability_id": "read", "name": "R", "actions": ["orders.get"]}]);
    load(&r, &a);
    let id = rid(&r, "ag", "s");
    let ans = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(
        (
            ans.status,
            ans.reason_code,
            ans.policy_id.as_deref(),
            ans.reason.as_deref()
        ),
        (
            ExecuteStatus::Denied,
            Some("policy_denied"),
            Some("no-refunds"),
            Some("refunds are off")
        )
    );
    assert_eq!(ans.execution_id, None);
    let ans = r
        .execute(exec("ag", "s", &id, "orders.delete", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.reason_code, ans.policy_id.as_deref()),
        (ExecuteStatus::Denied, Some("default_deny"), None)
    );
    let ans = r
        .execute(exec("ag", "s", &id, "orders.unknown", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.reason_code),
        (ExecuteStatus::Denied, Some("not_in_resolution"))
    );
    // narrowed out by required_capabilities
    let mut q = req("ag", "s", "g");
    q.task.as_mut().unwrap().required_capabilities = Some(vec!["read".into()]);
    let id2 = r.resolve(q).unwrap().resolution_id.clone();
    rec.take();
    let ans = r
        .execute(exec("ag", "s", &id2, "orders.delete", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.reason_code),
        (ExecuteStatus::Denied, Some("not_in_resolution"))
    );
    assert_eq!(
        rec.types(),
        vec!["carp.request.received", "action.denied", "policy.violated"]
    );
    assert_eq!(r.check("s", "orders.delete"), FastVerdict::Denied);
    assert_eq!(r.check("s", "orders.get"), FastVerdict::Allowed);
}

// ---------- rate limits ----------

#[test]
fn rate_limits_are_consumed_by_execute_never_by_resolve() {
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 2, "window_seconds": 60})),
    );
    for i in 0..5 {
        assert_eq!(
            verdicts(&r, req("ag", "s", &format!("g{i}"))).0,
            s(&["orders.get", "orders.refund"])
        );
    }
    let id = rid(&r, "ag", "s");
    for _ in 0..2 {
        assert_eq!(
            r.execute(exec("ag", "s", &id, "orders.get", json!({})))
                .unwrap()
                .status,
            ExecuteStatus::Authorized
        );
    }
    let ans = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.reason_code, ans.policy_id.as_deref()),
        (
            ExecuteStatus::Denied,
            Some("rate_limit_exceeded"),
            Some("p-rate")
        )
    );
    // other actions unaffected
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.refund", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    assert_eq!(r.check("s", "orders.get"), FastVerdict::RateLimited);
    // a new resolution now reports the exhausted limit
    let res = r.resolve(req("ag", "s", "g")).unwrap();
    assert_eq!(
        denied_detail(&res),
        vec![(
            "orders.get".into(),
            "rate_limit_exceeded".into(),
            Some("p-rate".into())
        )]
    );
}

#[test]

fn resolution_made_while_limited_recovers_when_the_window_rolls_over() {
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 1, "window_seconds": 60})),
    );
    let id = rid(&r, "ag", "s");
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    let limited = rid(&r, "ag", "s"); // computed while the window is exhausted
    assert_eq!(
        r.check("s", "orders.get"),
        FastVerdict::RateLimited,
        "the limit is exhausted right now"
    );
    r.clock().advance(60 * SEC); // new window; resolution still within its 300 s ttl
    assert_eq!(r.check("s", "orders.get"), FastVerdict::Allowed);
    assert_eq!(
        r.execute(exec("ag", "s", &limited, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
}

#[test]
fn rate_limit_window_rolls_over() {
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 1, "window_seconds": 60})),
    );
    let id = rid(&r, "ag", "s");
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .reason_code,
        Some("rate_limit_exceeded")
    );
    r.clock().advance(60 * SEC); // fixed windows aligned to the epoch: 00:01:00 starts a new one
    assert_eq!(r.check("s", "orders.get"), FastVerdict::Allowed);
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .reason_code,
        Some("rate_limit_exceeded")
    );
}

fn consume_until_denied(r: &Resolver, agent: &str, session: &str) -> usize {
    let id = rid(r, agent, session);
    (0..10)
        .take_while(|_| {
            r.execute(exec(agent, session, &id, "orders.get", json!({})))
                .unwrap()
                .status
                == ExecuteStatus::Authorized
        })
        .count()
}

#[test]
fn rate_limit_per_session_agent_global() {
    // per session (default): each session has its own window
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 2, "window_seconds": 3600})),
    );
    assert_eq!(consume_until_denied(&r, "ag", "s1"), 2);
    assert_eq!(consume_until_denied(&r, "ag", "s2"), 2);
    // per agent: sessions of one agent share, other agents do not
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 2, "window_seconds": 3600, "per": "agent"})),
    );
    assert_eq!(consume_until_denied(&r, "ag", "s1"), 2);
    assert_eq!(consume_until_denied(&r, "ag", "s2"), 0);
    assert_eq!(consume_until_denied(&r, "other", "s3"), 2);
    // global: everyone shares
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 3, "window_seconds": 3600, "per": "global"})),
    );
    assert_eq!(consume_until_denied(&r, "ag", "s1"), 3);
    assert_eq!(consume_until_denied(&r, "other", "s2"), 0);
}

#[test]
fn action_own_rate_limit_applies_with_no_policy_id() {
    let (r, _) = resolver();
    let mut a = allow_all("com.acme.shop", &["orders.get"]);
    a["actions"][0]["rate_limit"] = json!({"max_calls": 1, "window_seconds": 60});
    load(&r, &a);
    let id = rid(&r, "ag", "s");
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    let ans = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    assert_eq!(
        (ans.reason_code, ans.policy_id.as_deref()),
        (Some("rate_limit_exceeded"), None)
    );
}

#[test]
fn rate_limit_policy_never_throttles_another_atlas() {
    let (r, _) = resolver();
    load(
        &r,
        &atlas(
            "com.a.one",
            &["a.x"],
            vec![
                policy("allow", "allow", None),
                policy_with(
                    "tight",
                    "rate_limit",
                    None,
                    json!({"parameters": {"max_calls": 1, "window_seconds": 3600, "per": "global"}}),
                ),
            ],
        ),
    );
    load(&r, &allow_all("com.b.two", &["b.x"]));
    let id = rid(&r, "ag", "s");
    for _ in 0..3 {
        assert_eq!(
            r.execute(exec("ag", "s", &id, "b.x", json!({})))
                .unwrap()
                .status,
            ExecuteStatus::Authorized
        );
    }
    assert_eq!(
        r.execute(exec("ag", "s", &id, "a.x", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    assert_eq!(
        r.execute(exec("ag", "s", &id, "a.x", json!({})))
            .unwrap()
            .reason_code,
        Some("rate_limit_exceeded")
    );
}

#[test]

fn ending_a_session_does_not_reset_agent_limits_of_a_same_named_agent() {
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 1, "window_seconds": 3600, "per": "agent"})),
    );
    assert_eq!(consume_until_denied(&r, "twin", "s1"), 1);
    // another agent uses a session that happens to be called "twin", then ends it
    rid(&r, "someone", "twin");
    r.end_session("twin", None).unwrap();
    // agent "twin" has used its one call this hour
    assert_eq!(consume_until_denied(&r, "twin", "s2"), 0);
}

// ---------- idempotency ----------

#[test]
fn idempotency_key_replays_without_consuming() {
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 2, "window_seconds": 3600})),
    );
    let id = rid(&r, "ag", "s");
    let a1 = r
        .execute(exec_key(
            "ag",
            "s",
            &id,
            "orders.get",
            json!({"q": 1}),
            "k1",
        ))
        .unwrap();
    let a2 = r
        .execute(exec_key(
            "ag",
            "s",
            &id,
            "orders.get",
            json!({"q": 1}),
            "k1",
        ))
        .unwrap();
    assert_eq!(a1.status, ExecuteStatus::Authorized);
    assert!(!a1.replayed && a2.replayed, "the repeat is marked replayed");
    let mut unmarked = (*a2).clone();
    unmarked.replayed = false;
    assert_eq!(*a1, unmarked, "same key and params: same answer");
    // one call left: the replay consumed nothing
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .reason_code,
        Some("rate_limit_exceeded")
    );
    // the replay still answers what it answered first
    assert_eq!(
        r.execute(exec_key(
            "ag",
            "s",
            &id,
            "orders.get",
            json!({"q": 1}),
            "k1"
        ))
        .unwrap()
        .execution_id,
        a1.execution_id
    );
    let e = r
        .execute(exec_key(
            "ag",
            "s",
            &id,
            "orders.get",
            json!({"q": 2}),
            "k1",
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.pointer.as_deref(), Some("/execution/idempotency_key"));
    let e = r
        .execute(exec_key(
            "ag",
            "s",
            &id,
            "orders.refund",
            json!({"q": 1}),
            "k1",
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
}

// ---------- approvals ----------

fn approval_atlas(timeout: Option<u32>) -> Value {
    let mut ap = policy("needs-ok", "require_approval", Some(&["orders.refund"]));
    if let Some(t) = timeout {
        ap["parameters"] = json!({"timeout_seconds": t});
    }
    atlas(
        "com.acme.shop",
        &["orders.get", "orders.refund"],
        vec![policy("allow-all", "allow", None), ap],
    )
}

/// Resolves, then asks to run `orders.refund` with `params`: the call's own approval id.
fn pending_with(r: &Resolver, session: &str, params: Value) -> (String, String) {
    let res = r.resolve(req("ag", session, "g")).unwrap();
    assert_eq!(res.pending_action_ids(), vec!["orders.refund"]);
    assert_eq!(res.approval_id, None, "a resolution creates no approval");
    let ans = r
        .execute(exec(
            "ag",
            session,
            &res.resolution_id,
            "orders.refund",
            params,
        ))
        .unwrap();
    assert_eq!(ans.status, ExecuteStatus::PendingApproval);
    (
        res.resolution_id.clone(),
        ans.approval_id.clone().expect("approval_id"),
    )
}

fn pending(r: &Resolver, session: &str) -> (String, String) {
    pending_with(r, session, json!({}))
}

#[test]
fn approve_turns_pending_into_authorized() {
    let (r, rec) = resolver();
    load(&r, &approval_atlas(None));
    let (id, ap) = pending(&r, "s");
    // asking again for the same call names the same approval
    let ans = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(
        (
            ans.status,
            ans.reason_code,
            ans.approval_id.as_deref(),
            ans.policy_id.as_deref()
        ),
        (
            ExecuteStatus::PendingApproval,
            Some("approval_required"),
            Some(ap.as_str()),
            Some("needs-ok")
        )
    );
    assert_eq!(ans.execution_id, None);
    assert_eq!(r.check("s", "orders.refund"), FastVerdict::PendingApproval);
    let listed = r.approvals(&Default::default());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].action_id, "orders.refund");
    assert_eq!(listed[0].agent_id, "ag");
    assert_eq!(listed[0].parameters, json!({}));
    rec.take();
    let out = r.approve(&decision(&ap)).unwrap();
    assert_eq!(out.status, ApprovalStatus::Approved);
    assert_eq!(out.approver.as_deref(), Some("alice"));
    assert_eq!(out.action_id, "orders.refund");
    assert_eq!(rec.types(), vec!["action.approved"]);
    assert!(
        r.approvals(&Default::default()).is_empty(),
        "no longer pending"
    );
    let ans = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.approval_id.as_deref()),
        (ExecuteStatus::Authorized, Some(ap.as_str()))
    );
    assert!(ans.execution_id.is_some());
    assert_eq!(r.approval(&ap).unwrap().status, ApprovalStatus::Consumed);
    // used once: the same call again needs a new approval
    let again = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(again.status, ExecuteStatus::PendingApproval);
    assert_ne!(again.approval_id.as_deref(), Some(ap.as_str()));
    let e = r.approve(&decision(&ap)).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::ApprovalAlreadyDecided, Some("/approval_id"))
    );
    assert_eq!(
        r.reject(&decision(&ap)).unwrap_err().code,
        ErrorCode::ApprovalAlreadyDecided
    );
}

#[test]
fn an_approval_covers_one_call_with_exactly_its_parameters() {
    let (r, _) = resolver();
    load(&r, &approval_atlas(None));
    let (id, ap) = pending_with(&r, "s", json!({"order_id": "A", "amount": 150}));
    r.approve(&decision(&ap)).unwrap();
    // other parameters: their own approval, not this one
    let other = r
        .execute(exec(
            "ag",
            "s",
            &id,
            "orders.refund",
            json!({"order_id": "A", "amount": 5000}),
        ))
        .unwrap();
    assert_eq!(other.status, ExecuteStatus::PendingApproval);
    assert_ne!(other.approval_id.as_deref(), Some(ap.as_str()));
    // the approved call, keys in another order (canonical JSON): authorized once
    let ok = r
        .execute(exec(
            "ag",
            "s",
            &id,
            "orders.refund",
            json!({"amount": 150, "order_id": "A"}),
        ))
        .unwrap();
    assert_eq!(ok.status, ExecuteStatus::Authorized);
    let twice = r
        .execute(exec(
            "ag",
            "s",
            &id,
            "orders.refund",
            json!({"amount": 150, "order_id": "A"}),
        ))
        .unwrap();
    assert_eq!(twice.status, ExecuteStatus::PendingApproval);
}

#[test]
fn approvals_need_an_approver_who_is_not_the_agent() {
    let (r, _) = resolver();
    load(&r, &approval_atlas(None));
    let (_, ap) = pending(&r, "s");
    let mut d = decision(&ap);
    d.approver = None;
    let e = r.approve(&d).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::ApprovalForbidden, Some("/approver"))
    );
    d.approver = Some("ag".into());
    assert_eq!(
        r.approve(&d).unwrap_err().code,
        ErrorCode::ApprovalForbidden
    );
    assert_eq!(r.approval(&ap).unwrap().status, ApprovalStatus::Pending);
}

#[test]
fn approvals_survive_a_new_resolve() {
    let (r, _) = resolver();
    load(&r, &approval_atlas(None));
    let (_, ap) = pending(&r, "s");
    r.approve(&decision(&ap)).unwrap();
    let id2 = rid(&r, "ag", "s");
    let ans = r
        .execute(exec("ag", "s", &id2, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.approval_id.as_deref()),
        (ExecuteStatus::Authorized, Some(ap.as_str()))
    );
}

#[test]
fn reject_denies_with_approval_rejected() {
    let (r, rec) = resolver();
    load(&r, &approval_atlas(None));
    let (id, ap) = pending(&r, "s");
    rec.take();
    assert_eq!(
        r.reject(&decision(&ap)).unwrap().status,
        ApprovalStatus::Rejected
    );
    assert_eq!(rec.types(), vec!["action.denied"]);
    let ans = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(
        (ans.status, ans.reason_code),
        (ExecuteStatus::Denied, Some("approval_rejected"))
    );
    assert_eq!(
        r.approve(&decision(&ap)).unwrap_err().code,
        ErrorCode::ApprovalAlreadyDecided
    );
    // allowed actions of the same resolution are unaffected
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
}

#[test]
fn approval_expiry() {
    let (r, _) = resolver();
    load(&r, &approval_atlas(Some(60)));
    let (_, ap) = pending(&r, "s");
    r.clock().advance(61 * SEC);
    assert_eq!(r.approval(&ap).unwrap().status, ApprovalStatus::Expired);
    let e = r.approve(&decision(&ap)).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::ApprovalExpired, Some("/approval_id"))
    );
    // the call asks anew: a fresh approval
    let id = rid(&r, "ag", "s");
    let ans = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({})))
        .unwrap();
    assert_eq!(ans.status, ExecuteStatus::PendingApproval);
    assert_ne!(ans.approval_id.as_deref(), Some(ap.as_str()));
}

#[test]
fn unknown_approval_is_approval_not_found() {
    let (r, _) = resolver();
    let e = r.approve(&decision("nope")).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::ApprovalNotFound, Some("/approval_id"))
    );
    assert_eq!(
        r.reject(&decision("nope")).unwrap_err().code,
        ErrorCode::ApprovalNotFound
    );
}

#[test]
fn approved_call_still_consumes_rate_limits_and_validates_parameters() {
    let (r, _) = resolver();
    let mut a = approval_atlas(None);
    a["policies"].as_array_mut().unwrap().push(policy_with(
        "rl",
        "rate_limit",
        Some(&["orders.refund"]),
        json!({"parameters": {"max_calls": 1, "window_seconds": 3600}}),
    ));
    a["actions"][1]["parameters_schema"] = json!({"type": "object", "required": ["amount"]});
    load(&r, &a);
    // invalid parameters are refused before any approval is asked for
    let id = rid(&r, "ag", "s");
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.refund", json!({})))
            .unwrap_err()
            .code,
        ErrorCode::InvalidParameters
    );
    let (id, ap) = pending_with(&r, "s", json!({"amount": 1}));
    r.approve(&decision(&ap)).unwrap();
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.refund", json!({"amount": 1})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
    let (_, ap2) = pending_with(&r, "s", json!({"amount": 1}));
    r.approve(&decision(&ap2)).unwrap();
    let limited = r
        .execute(exec("ag", "s", &id, "orders.refund", json!({"amount": 1})))
        .unwrap();
    assert_eq!(limited.reason_code, Some("rate_limit_exceeded"));
    // a rate-limited call does not use up its approval
    assert_eq!(r.approval(&ap2).unwrap().status, ApprovalStatus::Approved);
}

// ---------- sessions ----------

#[test]
fn sessions_start_implicitly_once() {
    let (r, rec) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    rid(&r, "ag", "s");
    rid(&r, "ag", "s");
    let t = rec.types();
    assert_eq!(
        t.iter().filter(|x| **x == "session.started").count(),
        1,
        "{t:?}"
    );
    rid(&r, "ag", "s2");
    assert_eq!(
        rec.types()
            .iter()
            .filter(|x| **x == "session.started")
            .count(),
        2
    );
}

#[test]
fn ended_session_refuses_resolve() {
    let (r, rec) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    rid(&r, "ag", "s");
    rec.take();
    let out = r.end_session("s", Some("done")).unwrap();
    assert_eq!(out.reason, "done");
    assert_eq!(rec.types(), vec!["session.ended"]);
    let e = r.resolve(req("ag", "s", "g")).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::SessionEnded, Some("/requester/session_id"))
    );
    assert_eq!(
        r.end_session("s", None).unwrap_err().code,
        ErrorCode::SessionEnded
    );
    assert_eq!(
        r.end_session("never", None).unwrap_err().code,
        ErrorCode::SessionNotFound
    );
    assert_eq!(r.check("s", "orders.get"), FastVerdict::NoResolution);
}

#[test]

fn ended_session_refuses_execute_with_session_ended() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let id = rid(&r, "ag", "s");
    r.end_session("s", None).unwrap();
    let e = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::SessionEnded);
}

#[test]
fn another_agent_cannot_use_a_session() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let id = rid(&r, "owner", "s");
    let e = r.resolve(req("intruder", "s", "g")).unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::InvalidRequest, Some("/requester/agent_id"))
    );
    let e = r
        .execute(exec("intruder", "s", &id, "orders.get", json!({})))
        .unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::InvalidRequest, Some("/requester/agent_id"))
    );
    // a resolution of one session cannot be used from another
    let e = r
        .execute(exec("owner", "other", &id, "orders.get", json!({})))
        .unwrap_err();
    assert_eq!(
        (e.code, e.pointer.as_deref()),
        (ErrorCode::InvalidRequest, Some("/requester/session_id"))
    );
}

// ---------- fast path ----------

#[test]
fn check_agrees_with_execute_and_never_consumes() {
    let (r, rec) = resolver();
    let mut a = rate_atlas(json!({"max_calls": 1, "window_seconds": 3600}));
    a["actions"]
        .as_array_mut()
        .unwrap()
        .push(action("orders.delete"));
    a["policies"].as_array_mut().unwrap().push(policy(
        "no-delete",
        "deny",
        Some(&["orders.delete"]),
    ));
    load(&r, &a);
    assert_eq!(
        r.check("s", "orders.get"),
        FastVerdict::NoResolution,
        "no session yet"
    );
    let id = rid(&r, "ag", "s");
    rec.take();
    for _ in 0..20 {
        assert_eq!(r.check("s", "orders.get"), FastVerdict::Allowed);
    }
    assert!(rec.types().is_empty(), "check records nothing");
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized,
        "check consumed nothing"
    );
    assert_eq!(r.check("s", "orders.get"), FastVerdict::RateLimited);
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.get", json!({})))
            .unwrap()
            .reason_code,
        Some("rate_limit_exceeded")
    );
    assert_eq!(r.check("s", "orders.delete"), FastVerdict::Denied);
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.delete", json!({})))
            .unwrap()
            .reason_code,
        Some("policy_denied")
    );
    assert_eq!(r.check("s", "orders.nothing"), FastVerdict::Denied);
    assert_eq!(r.check("s", "orders.refund"), FastVerdict::Allowed);
}

// ---------- recorded events ----------

#[test]
fn event_types_in_order_for_resolve_execute_report() {
    let (r, rec) = resolver();
    load(
        &r,
        &atlas(
            "com.acme.shop",
            &["orders.get", "orders.delete"],
            vec![policy("a", "allow", Some(&["orders.get"]))],
        ),
    );
    let id = rid(&r, "ag", "s");
    assert_eq!(
        rec.types(),
        vec![
            "session.started",
            "carp.request.received",
            "policy.evaluated",
            "context.injected",
            "carp.resolution.completed"
        ]
    );
    rec.take();
    rid(&r, "ag", "s");
    assert_eq!(
        rec.types(),
        vec![
            "carp.request.received",
            "policy.evaluated",
            "context.injected",
            "carp.resolution.completed"
        ]
    );
    rec.take();
    let eid = r
        .execute(exec("ag", "s", &id, "orders.get", json!({"x": 1})))
        .unwrap()
        .execution_id
        .clone()
        .unwrap();
    assert_eq!(
        rec.types(),
        vec!["carp.request.received", "action.requested"]
    );
    let ev = rec.take();
    // the execute's events share one span under the session root
    assert_eq!(ev[0].span_id, ev[1].span_id);
    assert!(ev[0].parent_span_id.is_some());
    let payload = ev[1].payload.render(ev[1].event_type);
    assert_eq!(payload["execution_id"], eid.as_str());
    assert!(
        payload["parameters_hash"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "{payload}"
    );
    assert!(
        payload.get("parameters").is_none(),
        "parameters are hashed, not copied"
    );
    r.report(&report_ok(&eid)).unwrap();
    assert_eq!(rec.types(), vec!["action.executed"]);
    rec.take();
    r.execute(exec("ag", "s", &id, "orders.delete", json!({})))
        .unwrap();
    assert_eq!(
        rec.types(),
        vec!["carp.request.received", "action.denied", "policy.violated"]
    );
}

#[test]
fn rate_limited_execute_is_denied_but_not_a_violation() {
    let (r, rec) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 1, "window_seconds": 3600})),
    );
    let id = rid(&r, "ag", "s");
    r.execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    rec.take();
    r.execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    assert_eq!(rec.types(), vec!["carp.request.received", "action.denied"]);
}

#[test]
fn approval_may_outlive_its_resolution() {
    // The approval window (default 3600 s) is longer than the resolution ttl (300 s):
    // approving later succeeds, the old resolution has expired, and the call runs under a new
    // resolution of the same session (approvals belong to the session, protocol.md §6).
    let (r, _) = resolver();
    load(&r, &approval_atlas(None));
    let (id, ap) = pending(&r, "s");
    r.clock().advance(301 * SEC);
    assert_eq!(
        r.approve(&decision(&ap)).unwrap().status,
        ApprovalStatus::Approved
    );
    assert_eq!(
        r.execute(exec("ag", "s", &id, "orders.refund", json!({})))
            .unwrap_err()
            .code,
        ErrorCode::ResolutionExpired
    );
    let id2 = rid(&r, "ag", "s");
    assert_eq!(
        r.execute(exec("ag", "s", &id2, "orders.refund", json!({})))
            .unwrap()
            .status,
        ExecuteStatus::Authorized
    );
}

#[test]
fn failed_resolve_for_unknown_atlas_does_not_start_the_session() {
    // A request refused for its atlas_ids starts nothing: no event, and the session id stays free
    // for any agent.
    let (r, rec) = resolver();
    let mut q = req("ag", "s", "g");
    q.atlas_ids = Some(vec!["com.none.here".into()]);
    assert_eq!(r.resolve(q).unwrap_err().code, ErrorCode::AtlasNotFound);
    assert!(rec.types().is_empty(), "{:?}", rec.types());
    r.resolve(req("another-agent", "s", "g")).unwrap();
    assert_eq!(rec.types()[0], "session.started");
}

// ---------- the session's latest resolution (what bindings authorize against by session) ----------

#[test]
fn latest_resolution_is_the_sessions_newest_and_fails_closed() {
    let (r, _) = resolver();
    load(&r, &allow_all("com.acme.shop", &["orders.get"]));
    let e = r.latest_resolution("s").unwrap_err();
    assert_eq!(e.code, ErrorCode::ResolutionNotFound);
    assert_eq!(e.pointer.as_deref(), Some("/session_id"));
    let first = rid(&r, "ag", "s");
    let second = rid(&r, "ag", "s");
    assert_ne!(first, second);
    let latest = r.latest_resolution("s").unwrap();
    assert_eq!(latest.resolution_id, second);
    assert_eq!(latest.agent_id, "ag");
    assert_eq!(latest.session_id, "s");
    assert!(!latest.expired);
    // Another session's resolution is never the answer.
    let other = rid(&r, "ag2", "s2");
    assert_eq!(r.latest_resolution("s").unwrap().resolution_id, second);
    assert_eq!(r.latest_resolution("s2").unwrap().resolution_id, other);
    // Past its TTL it is still named, marked expired, and execute refuses it.
    r.clock().advance(301 * SEC);
    let latest = r.latest_resolution("s").unwrap();
    assert!(latest.expired);
    let e = r
        .execute(exec(
            "ag",
            "s",
            &latest.resolution_id,
            "orders.get",
            json!({}),
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ResolutionExpired);
    // After end_session: SESSION_ENDED, not an old resolution.
    r.end_session("s", None).unwrap();
    let e = r.latest_resolution("s").unwrap_err();
    assert_eq!(e.code, ErrorCode::SessionEnded);
    assert_eq!(e.pointer.as_deref(), Some("/session_id"));
}

#[test]
fn execute_answers_carry_the_error_code_bindings_raise() {
    let (r, _) = resolver();
    load(
        &r,
        &rate_atlas(json!({"max_calls": 1, "window_seconds": 60})),
    );
    let id = rid(&r, "ag", "s");
    let ok = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    assert_eq!(ok.error_code(), None);
    let limited = r
        .execute(exec("ag", "s", &id, "orders.get", json!({})))
        .unwrap();
    assert_eq!(limited.error_code(), Some(ErrorCode::RateLimitExceeded));
    let wire: Value = serde_json::from_slice(&limited.to_json_bytes()).unwrap();
    assert_eq!(wire["error_code"], "RATE_LIMIT_EXCEEDED");
    let denied = r
        .execute(exec("ag", "s", &id, "no.such", json!({})))
        .unwrap();
    assert_eq!(denied.error_code(), Some(ErrorCode::ActionNotAllowed));
    let wire: Value = serde_json::from_slice(&ok.to_json_bytes()).unwrap();
    assert!(wire["error_code"].is_null());
}
