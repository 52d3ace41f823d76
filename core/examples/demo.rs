//! The main job: a scripted agent loop against the example atlases.
//!
//! Loads every atlas under `--atlases`, resolves what a support agent may do, runs its tool calls
//! through a governed wrapper (authorize → run → report), gets one call approved by a human,
//! hits a rate limit and a denial, ends the sessions, then verifies the TRACE file it wrote.
//!
//! `cargo run --release -p cra-core --example demo -- --atlases examples/atlases --trace demo.jsonl`

use cra_core::trace::{verify_file, SinkKind, TraceConfig};
use cra_core::{ApprovalDecision, CarpRequest, ExecuteStatus, ExecutionReport};
use cra_core::{CraError, Resolver, ResolverConfig};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Style(bool);
impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn bad(&self, s: &str) -> String {
        self.paint("31", s)
    }
    fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// One row of the summary table.
struct Row {
    agent: String,
    action: String,
    outcome: String,
    detail: String,
}

/// What a governed call came to.
enum Outcome {
    Ran(Value),
    Denied(String),
    Pending(String),
    Invalid(String),
}

/// The governed-tool wrapper: authorize, run the tool only if authorized, report its result.
fn governed(
    r: &Resolver,
    agent: &str,
    session: &str,
    resolution_id: &str,
    action: &str,
    params: Value,
    tool: impl FnOnce(&Value) -> Result<Value, String>,
) -> Result<Outcome, CraError> {
    let answer = match r.execute(CarpRequest::execute(
        agent,
        session,
        resolution_id,
        action,
        params.clone(),
    )) {
        Ok(a) => a,
        Err(e) if e.code.as_str() == "INVALID_PARAMETERS" => {
            return Ok(Outcome::Invalid(format!(
                "{} at {}",
                e.code,
                e.pointer.unwrap_or_default()
            )))
        }
        Err(e) => return Err(e),
    };
    match answer.status {
        ExecuteStatus::Denied => Ok(Outcome::Denied(format!(
            "{} ({})",
            answer.reason_code.unwrap_or("denied"),
            answer.policy_id.as_deref().unwrap_or("no policy")
        ))),
        ExecuteStatus::PendingApproval => Ok(Outcome::Pending(
            answer.approval_id.clone().unwrap_or_default(),
        )),
        ExecuteStatus::Authorized => {
            let execution_id = answer.execution_id.clone().unwrap_or_default();
            let started = Instant::now();
            let outcome = tool(&params);
            let duration_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            let report = match &outcome {
                Ok(v) => ExecutionReport {
                    execution_id,
                    result: Some(v.clone()),
                    error: None,
                    duration_ms,
                },
                Err(m) => ExecutionReport {
                    execution_id,
                    result: None,
                    error: Some(cra_core::ReportedError {
                        message: m.clone(),
                        code: None,
                    }),
                    duration_ms,
                },
            };
            r.report(&report)?;
            outcome
                .map(Outcome::Ran)
                .map_err(|m| CraError::new(cra_core::ErrorCode::Internal, m))
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn run() -> Result<(), CraError> {
    let st = Style(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let atlases = PathBuf::from(arg("--atlases", "examples/atlases"));
    let trace_path = PathBuf::from(arg("--trace", "target/demo-trace.jsonl"));
    if let Some(dir) = trace_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&trace_path);

    let config = ResolverConfig {
        trace: TraceConfig {
            sink: SinkKind::File,
            path: Some(trace_path.to_string_lossy().into()),
            ..TraceConfig::default()
        },
        ..ResolverConfig::default()
    };
    let r = Resolver::new(config)?;
    println!(
        "{}",
        st.bold("CRA demo: a support agent and a devops agent under governance")
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&atlases)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("atlas.json").is_file())
        .collect();
    dirs.sort();
    for d in &dirs {
        let t = Instant::now();
        let info = r.load_atlas_dir(d)?;
        println!(
            "  loaded {} {} ({} actions, {} policies, {} context packs) in {:.2} ms",
            info.atlas_id,
            info.version,
            info.actions,
            info.policies,
            info.context_packs,
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    let mut rows = Vec::new();
    let (agent, session) = ("support-bot-1", "demo-support-1");
    let mut req = CarpRequest::resolve(
        agent,
        session,
        "Customer Jane says order ORD-1234 arrived damaged and wants a refund",
    );
    req.atlas_ids = Some(vec!["com.example.customer-support".into()]);
    let t = Instant::now();
    let res = r.resolve(req)?;
    let took = t.elapsed();
    println!(
        "\n{} {} in {:.1} µs: {}",
        st.bold("resolve"),
        session,
        took.as_secs_f64() * 1e6,
        res.decision_reason()
    );
    println!("  allowed: {}", st.ok(&res.allowed_action_ids().join(", ")));
    println!("  denied:  {}", st.bad(&res.denied_action_ids().join(", ")));
    println!(
        "  pending: {}",
        st.warn(&res.pending_action_ids().join(", "))
    );
    println!("  context: {}", res.context_block_ids().join(", "));

    let call = |action: &str, params: Value, rows: &mut Vec<Row>| -> Result<Outcome, CraError> {
        let out = governed(
            &r,
            agent,
            session,
            &res.resolution_id,
            action,
            params,
            |p| Ok(fake_tool(action, p)),
        )?;
        rows.push(row(agent, action, &out));
        Ok(out)
    };
    call("orders.lookup", json!({"order_id": "ORD-1234"}), &mut rows)?;
    call(
        "customers.get_profile",
        json!({"customer_id": "C-77"}),
        &mut rows,
    )?;
    for amount in [20.0, 15.5, 9.99, 12.0] {
        call(
            "orders.refund",
            json!({"order_id": "ORD-1234", "amount": amount, "reason": "damaged in transit"}),
            &mut rows,
        )?;
    }
    call(
        "orders.refund",
        json!({"order_id": "ORD-1234", "amount": 250, "reason": "too much"}),
        &mut rows,
    )?;
    let big = json!({"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"});
    if let Outcome::Pending(approval_id) = call("orders.refund_large", big.clone(), &mut rows)? {
        let decided = r.approve(&ApprovalDecision {
            approval_id,
            approver: Some("supervisor@example.com".into()),
            reason: Some("photos confirm the damage".into()),
        })?;
        rows.push(Row {
            agent: "supervisor".into(),
            action: "approve".into(),
            outcome: st.ok("approved"),
            detail: decided.approval_id,
        });
        call("orders.refund_large", big, &mut rows)?;
    }
    call("customers.delete_account", json!({}), &mut rows)?;
    r.end_session(session, Some("conversation closed"))?;

    let (ops, ops_session) = ("oncall-alice", "demo-devops-1");
    let mut req = CarpRequest::resolve(
        ops,
        ops_session,
        "Investigate crash-looping checkout pods and roll back if needed",
    );
    req.atlas_ids = Some(vec!["com.example.devops".into()]);
    req.context = Some(
        json!({"environment": "production"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let res2 = r.resolve(req)?;
    println!(
        "\n{} {}: {}",
        st.bold("resolve"),
        ops_session,
        res2.decision_reason()
    );
    for (action, params) in [
        ("k8s.pods.list", json!({"namespace": "checkout"})),
        (
            "k8s.pods.logs",
            json!({"namespace": "checkout", "pod": "checkout-7d9f", "tail": 200}),
        ),
        ("k8s.deployments.rollback", json!({})),
        (
            "k8s.deployments.deploy",
            json!({"namespace": "checkout", "deployment": "checkout", "image": "registry.local/checkout:1.4.2"}),
        ),
        ("k8s.namespaces.delete", json!({})),
    ] {
        let out = governed(
            &r,
            ops,
            ops_session,
            &res2.resolution_id,
            action,
            params,
            |p| Ok(fake_tool(action, p)),
        )?;
        rows.push(row(ops, action, &out));
    }
    r.end_session(ops_session, Some("incident resolved"))?;

    println!("\n{}", st.bold("tool calls"));
    println!(
        "  {:<14} {:<26} {:<18} detail",
        "agent", "action", "outcome"
    );
    for row in &rows {
        let pad = 18 + row.outcome.len() - visible_len(&row.outcome);
        println!(
            "  {:<14} {:<26} {:<pad$} {}",
            row.agent, row.action, row.outcome, row.detail
        );
    }

    r.flush(Duration::from_secs(10))?;
    let report = verify_file(&trace_path)?;
    let stats = r.stats().trace.unwrap_or_default();
    println!("\n{}", st.bold("trace"));
    println!("  file:     {}", trace_path.display());
    println!(
        "  events:   {} in {} sessions ({} bytes written, {} dropped)",
        report.events, report.sessions, stats.bytes_written, stats.dropped
    );
    if report.ok {
        println!(
            "  verify:   {}",
            st.ok("OK — every session's chain is intact (BLAKE3 over RFC 8785 JSON)")
        );
    } else {
        println!(
            "  verify:   {}",
            st.bad(&format!("FAILED: {:?}", report.errors))
        );
        return Err(CraError::new(
            cra_core::ErrorCode::TraceChainInvalid,
            "the demo trace did not verify",
        ));
    }
    r.close()?;
    Ok(())
}

fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_esc = false;
    for c in s.chars() {
        match (in_esc, c) {
            (false, '\x1b') => in_esc = true,
            (true, 'm') => in_esc = false,
            (false, _) => n += 1,
            _ => {}
        }
    }
    n
}

fn row(agent: &str, action: &str, out: &Outcome) -> Row {
    let st = Style(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let (outcome, detail) = match out {
        Outcome::Ran(v) => (st.ok("authorized, ran"), v.to_string()),
        Outcome::Denied(why) => (st.bad("denied"), why.clone()),
        Outcome::Pending(id) => (st.warn("needs approval"), format!("approval {id}")),
        Outcome::Invalid(why) => (st.bad("invalid params"), why.clone()),
    };
    Row {
        agent: agent.into(),
        action: action.into(),
        outcome,
        detail,
    }
}

/// Stand-ins for real tools: they only echo what a real system would answer.
fn fake_tool(action: &str, p: &Value) -> Value {
    match action {
        "orders.lookup" => {
            json!({"order_id": p["order_id"], "status": "delivered", "total": 499.0})
        }
        "customers.get_profile" => {
            json!({"customer_id": p["customer_id"], "name": "Jane D.", "email": "j***@example.com"})
        }
        "orders.refund" | "orders.refund_large" => {
            json!({"refund_id": format!("RF-{}", (p["amount"].as_f64().unwrap_or(0.0) * 100.0) as u64), "status": "queued"})
        }
        "k8s.pods.list" => json!({"pods": ["checkout-7d9f", "checkout-a1b2"]}),
        "k8s.pods.logs" => json!({"lines": 200, "last": "panic: nil map"}),
        _ => json!({"ok": true}),
    }
}
