//! The per-call hot path: typed `execute` (authorized with its parameters validated, denied,
//! unknown action) and the JSON entries the C ABI calls (`api::execute`, `api::resolve`),
//! each beside the same-run typed `resolve` it is judged against (issue 15's targets:
//! `execute` p50 ≤ 1.5× the typed resolve of one action; `api::*` p50 ≤ 2× its typed call).
//!
//! All rows run on one resolver with the real trace collector (sink "none", overflow "drop":
//! events are enqueued and processed by the background thread), the atlas of the resolve rows.
//! Authorized executions are reported after each timed call (untimed), so the execution table
//! does not grow over the run.

use super::{percentiles, traced_resolver};
use cra_core::Resolver;
use cra_core::{CarpRequest, ExecutionReport};
use criterion::black_box;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Percentiles of `f`, which times its own call (so it can do untimed work around it).
fn self_timed(name: &str, iters: usize, mut f: impl FnMut() -> Duration) -> (f64, f64) {
    for _ in 0..iters / 10 {
        f();
    }
    let mut s: Vec<f64> = (0..iters).map(|_| f().as_nanos() as f64).collect();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| s[((s.len() as f64 * p) as usize).min(s.len() - 1)];
    println!(
        "{name:<44} p50 {:>9.0} ns   p99 {:>9.0} ns   p99.9 {:>9.0} ns",
        q(0.5),
        q(0.99),
        q(0.999)
    );
    (q(0.5), q(0.99))
}

fn ratio(what: &str, x: f64, reference: f64, target: f64) {
    let verdict = if x / reference <= target {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "  {what:<42} x{:.2} (target <= x{target}: {verdict})",
        x / reference
    );
}

fn execution_id(answer: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(answer).ok()?;
    v["execution_id"].as_str().map(str::to_string)
}

fn report_ok(r: &Resolver, execution_id: Option<&str>) {
    if let Some(id) = execution_id {
        let rep = ExecutionReport {
            execution_id: id.to_string(),
            result: Some(Value::Null),
            error: None,
            duration_ms: None,
        };
        r.report(&rep).unwrap();
    }
}

const AGENT: &str = "bench-agent";
const SESSION: &str = "bench-exec-session";
const PARAMS: &str = r#"{"order_id":"A-1001","amount":12.5}"#;

/// Runs the rows; `iters` calls per row.
pub fn report(iters: usize) {
    println!("\n== execute and the JSON entries (real collector: sink none, overflow drop)");
    let trace = cra_core::trace::TraceConfig {
        sink: cra_core::trace::SinkKind::None,
        overflow: cra_core::trace::Overflow::Drop,
        ..Default::default()
    };
    let r = traced_resolver(trace);
    // References: the typed resolve of one action (capability "one": svc0.op3) and of ten
    // (cap0), in a session of their own so they never evict the executes' resolution.
    let mut one = CarpRequest::resolve(AGENT, "bench-ref-session", "help with a refund");
    one.task.as_mut().unwrap().required_capabilities = Some(vec!["one".into()]);
    let mut ten = one.clone();
    ten.task.as_mut().unwrap().required_capabilities = Some(vec!["cap0".into()]);
    let (resolve_one, _, _) = percentiles("typed resolve, 1 action (reference)", iters, || {
        black_box(r.resolve(one.clone()).unwrap());
    });
    let (resolve_ten, _, _) = percentiles("typed resolve, 10 actions (reference)", iters, || {
        black_box(r.resolve(ten.clone()).unwrap());
    });

    let mut scope = ten.clone();
    scope.requester.session_id = SESSION.into();
    let rid = r.resolve(scope).unwrap().resolution_id.clone();
    let params: Value = serde_json::from_str(PARAMS).unwrap();
    let call = |action: &str| CarpRequest::execute(AGENT, SESSION, &rid, action, params.clone());
    let allowed = call("svc0.op3");
    if let Ok(which) = std::env::var("CRA_PROFILE") {
        // One operation in a loop, for `perf record` (docs/performance.md, "Where the time goes").
        let body = |action: &str| {
            json!({"requester": {"agent_id": AGENT, "session_id": SESSION},
                   "execution": {"resolution_id": rid, "action_id": action,
                                 "parameters": serde_json::from_str::<Value>(PARAMS).unwrap()}})
            .to_string()
        };
        let (allowed_json, denied_json) = (body("svc0.op3"), body("svc0.op9"));
        let resolve_json = serde_json::to_vec(&ten).unwrap();
        for _ in 0..iters * 5 {
            match which.as_str() {
                "execute" => report_ok(
                    &r,
                    r.execute(allowed.clone()).unwrap().execution_id.as_deref(),
                ),
                "execute_denied" => drop(r.execute(call("svc0.op9")).unwrap()),
                "api_execute" => {
                    let out = cra_core::api::execute(&r, allowed_json.as_bytes()).unwrap();
                    report_ok(&r, execution_id(&out).as_deref());
                }
                "api_execute_denied" => drop(cra_core::api::execute(&r, denied_json.as_bytes())),
                "api_resolve" => drop(cra_core::api::resolve(&r, &resolve_json)),
                _ => drop(r.resolve(one.clone())),
            }
        }
        return;
    }
    let (ex_allowed, _) = self_timed("execute, authorized, parameters validated", iters, || {
        let req = allowed.clone();
        let t = Instant::now();
        let a = r.execute(req).unwrap();
        let e = t.elapsed();
        report_ok(&r, a.execution_id.as_deref());
        e
    });
    let denied = call("svc0.op9");
    let (ex_denied, _, _) = percentiles("execute, denied by a policy", iters, || {
        black_box(r.execute(denied.clone()).unwrap());
    });
    let unknown = call("svc0.unknown");
    let (ex_unknown, _, _) = percentiles("execute, action not in the resolution", iters, || {
        black_box(r.execute(unknown.clone()).unwrap());
    });

    let body = |action: &str| {
        json!({"requester": {"agent_id": AGENT, "session_id": SESSION},
               "execution": {"resolution_id": rid, "action_id": action,
                             "parameters": serde_json::from_str::<Value>(PARAMS).unwrap()}})
        .to_string()
    };
    let allowed_json = body("svc0.op3");
    let (api_allowed, _) = self_timed("api::execute, authorized, JSON in and out", iters, || {
        let t = Instant::now();
        let out = cra_core::api::execute(&r, allowed_json.as_bytes()).unwrap();
        let e = t.elapsed();
        report_ok(&r, execution_id(&out).as_deref());
        e
    });
    let denied_json = body("svc0.op9");
    let (api_denied, _, _) = percentiles("api::execute, denied, JSON in and out", iters, || {
        black_box(cra_core::api::execute(&r, denied_json.as_bytes()).unwrap());
    });
    let (lean, _) = self_timed(
        "api::authorize, authorized (ids + params JSON)",
        iters,
        || {
            let t = Instant::now();
            let out = cra_core::api::authorize(
                &r,
                AGENT.as_bytes(),
                SESSION.as_bytes(),
                rid.as_bytes(),
                b"svc0.op3",
                PARAMS.as_bytes(),
            )
            .unwrap();
            let e = t.elapsed();
            report_ok(&r, execution_id(&out).as_deref());
            e
        },
    );
    let resolve_json = serde_json::to_vec(&ten).unwrap();
    let (api_resolve, _, _) =
        percentiles("api::resolve, 10 actions, JSON in and out", iters, || {
            black_box(cra_core::api::resolve(&r, &resolve_json).unwrap());
        });

    println!("ratios (p50; same run):");
    ratio(
        "execute authorized / resolve 1 action",
        ex_allowed,
        resolve_one,
        1.5,
    );
    ratio(
        "execute denied / resolve 1 action",
        ex_denied,
        resolve_one,
        1.5,
    );
    ratio(
        "execute unknown / resolve 1 action",
        ex_unknown,
        resolve_one,
        1.5,
    );
    ratio(
        "api::execute authorized / execute",
        api_allowed,
        ex_allowed,
        2.0,
    );
    ratio("api::execute denied / execute", api_denied, ex_denied, 2.0);
    ratio(
        "api::authorize / execute (authorized)",
        lean,
        ex_allowed,
        2.0,
    );
    ratio(
        "api::resolve / resolve, 10 actions",
        api_resolve,
        resolve_ten,
        2.0,
    );
    r.flush(Duration::from_secs(30)).ok();
    let st = r.stats().trace.unwrap_or_default();
    println!(
        "  (collector: {} events written, {} dropped by a saturated pipeline)",
        st.written, st.dropped
    );
}
