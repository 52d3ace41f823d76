//! Resolve, fast path and atlas compile benchmarks.
//!
//! Two parts: criterion (mean with confidence interval) and a percentile harness that times
//! individual calls and prints p50/p99/p999, which is what docs/performance.md reports.
//!
//! Atlas shape for "N rules": N policies over N/5 actions (at least 20) in groups of 10
//! (one capability per group); per group: 1 deny, 1 require_approval, 1 rate_limit, the rest
//! `allow` with agent conditions and prefix or exact patterns. The request asks for one
//! capability (10 actions in scope), so growth with N measures the index, not the output size.
//! The "100 rules, all in scope" case resolves all 20 actions with context selection.
//! `svc0.op3` has a small parameters schema and a capability of its own (`one`), for the
//! execute rows of `hot/execute.rs`.

#[path = "hot/execute.rs"]
mod hot;

use cra_core::unstable::NullRecorder;
use cra_core::CarpRequest;
use cra_core::{Resolver, ResolverConfig};
use criterion::{black_box, Criterion};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// A resolver with the synthetic 100-rule atlas loaded, tracing through `trace`.
fn traced_resolver(trace: cra_core::trace::TraceConfig) -> Resolver {
    let cfg = ResolverConfig {
        max_resolutions_per_session: 64,
        trace,
        ..Default::default()
    };
    let r = Resolver::new(cfg).unwrap();
    r.load_atlas_json(synthetic_atlas(100).to_string().as_bytes())
        .unwrap();
    r
}

fn synthetic_atlas(rules: usize) -> Value {
    let n_actions = (rules / 5).max(20);
    let groups = n_actions / 10;
    let mut actions = Vec::new();
    let mut caps = Vec::new();
    for g in 0..groups {
        let ids: Vec<String> = (0..10).map(|i| format!("svc{g}.op{i}")).collect();
        for id in &ids {
            let mut a = json!({"action_id": id, "name": id, "description": "synthetic action"});
            if id == "svc0.op3" {
                a["parameters_schema"] = json!({"type": "object", "required": ["order_id"],
                    "properties": {"order_id": {"type": "string", "maxLength": 32},
                                   "amount": {"type": "number", "minimum": 0}},
                    "additionalProperties": false});
            }
            actions.push(a);
        }
        caps.push(json!({"capability_id": format!("cap{g}"), "name": format!("group {g}"), "actions": ids}));
    }
    caps.push(json!({"capability_id": "one", "name": "one action", "actions": ["svc0.op3"]}));
    let mut policies = Vec::new();
    for i in 0..rules {
        let g = i % groups;
        let k = i / groups;
        let p = match k {
            0 => {
                json!({"policy_id": format!("p{i}"), "type": "deny", "actions": [format!("svc{g}.op9")], "reason": "synthetic deny"})
            }
            1 => {
                json!({"policy_id": format!("p{i}"), "type": "require_approval", "actions": [format!("svc{g}.op8")]})
            }
            2 => {
                json!({"policy_id": format!("p{i}"), "type": "rate_limit", "actions": [format!("svc{g}.op7")], "parameters": {"max_calls": 1000000, "window_seconds": 60}})
            }
            3 => {
                json!({"policy_id": format!("p{i}"), "type": "allow", "actions": [format!("svc{g}.*")], "conditions": {"agents": ["bench-*"]}})
            }
            _ => {
                json!({"policy_id": format!("p{i}"), "type": "allow", "actions": [format!("svc{g}.op{}", k % 10)], "conditions": {"agents": [format!("other-agent-{k}")], "risk_tiers": ["high"]}, "priority": k})
            }
        };
        policies.push(p);
    }
    let packs = vec![
        json!({"pack_id": "guide", "name": "Guide", "content": "x".repeat(400), "priority": 200}),
        json!({"pack_id": "cap0-notes", "name": "Notes", "content": "y".repeat(200), "conditions": {"capabilities": ["cap0"]}}),
        json!({"pack_id": "kw", "name": "Keyword", "content": "z".repeat(100), "keywords": ["refund"]}),
    ];
    json!({"atlas_version": "1.0", "atlas_id": "com.bench.synthetic", "version": "1.0.0", "name": "Synthetic", "description": "bench",
           "actions": actions, "capabilities": caps, "policies": policies, "context_packs": packs})
}

fn resolver_with(rules: usize) -> Resolver {
    let cfg = ResolverConfig {
        max_resolutions_per_session: 64,
        ..Default::default()
    };
    let r = Resolver::with_recorder(cfg, Arc::new(NullRecorder)).unwrap();
    r.load_atlas_json(synthetic_atlas(rules).to_string().as_bytes())
        .unwrap();
    r
}

fn request(narrow: bool) -> CarpRequest {
    let mut req = CarpRequest::resolve("bench-agent", "bench-session", "help with a refund");
    if narrow {
        req.task.as_mut().unwrap().required_capabilities = Some(vec!["cap0".into()]);
    }
    req
}

fn percentiles(name: &str, iters: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..iters / 10 {
        f();
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_nanos() as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let out = (q(0.50), q(0.99), q(0.999));
    println!(
        "{name:<44} p50 {:>9.0} ns   p99 {:>9.0} ns   p99.9 {:>9.0} ns",
        out.0, out.1, out.2
    );
    out
}

/// End to end: real resolves (100 rules, 20 actions in scope) recorded to a JSONL file in
/// lossless mode, then `verify_jsonl` over that file. `CRA_BENCH_ONLY=trace` runs only this.
fn trace_end_to_end() {
    for fsync in [
        cra_core::trace::FsyncPolicy::Never,
        cra_core::trace::FsyncPolicy::Batch,
    ] {
        // End to end: resolves recorded to a JSONL file in lossless (block) mode, until flushed.
        let path = std::env::temp_dir().join(format!("cra-bench-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let trace = cra_core::trace::TraceConfig {
            sink: cra_core::trace::SinkKind::File,
            path: Some(path.to_string_lossy().into()),
            fsync,
            ..Default::default()
        };
        let r = traced_resolver(trace);
        let req = request(false);
        let n = 100_000;
        let t = Instant::now();
        for _ in 0..n {
            black_box(r.resolve(req.clone()).unwrap());
        }
        r.flush(std::time::Duration::from_secs(120)).unwrap();
        let el = t.elapsed().as_secs_f64();
        let st = r.stats().trace.unwrap_or_default();
        let events = st.written;
        println!(
            "{:<44} {:>9.0} resolves/s, {:.0} events/s ({} events, {} dropped)",
            format!("resolve + lossless file trace, fsync {fsync:?}"),
            n as f64 / el,
            events as f64 / el,
            events,
            st.dropped
        );
        let bytes = std::fs::read(&path).unwrap();
        // Median of 5 runs: one run on a shared machine says little.
        let mut rates = Vec::new();
        let mut report = Default::default();
        for _ in 0..5 {
            let t = Instant::now();
            report = cra_core::trace::verify_jsonl(&bytes);
            rates.push(report.events as f64 / t.elapsed().as_secs_f64());
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        let report: cra_core::trace::VerifyReport = report;
        println!(
            "{:<44} {:>9.0} events/s p50 of 5 ({} events, ok: {}, {} bytes/event)",
            "  verify that file",
            rates[2],
            report.events,
            report.ok,
            bytes.len() as u64 / report.events.max(1)
        );
        // `CRA_BENCH_KEEP_TRACE=<path>`: keep the file (the fsync-never one) for profiling.
        if let (Ok(keep), cra_core::trace::FsyncPolicy::Never) =
            (std::env::var("CRA_BENCH_KEEP_TRACE"), fsync)
        {
            std::fs::copy(&path, &keep).unwrap();
        }
        let _ = std::fs::remove_file(&path);
    }
}

fn percentile_report() {
    println!("\n== percentile harness (individual calls timed with Instant; includes ~20 ns timer overhead)");
    {
        // Memory: 10,000 sessions, each with one resolution (100-rule atlas, 10 actions in
        // scope), measured as the growth of the resident set.
        let r = resolver_with(100);
        let before = rss_bytes();
        for i in 0..10_000 {
            let mut req = request(true);
            req.requester.session_id = format!("mem-session-{i}");
            r.resolve(req).unwrap();
        }
        let after = rss_bytes();
        println!(
            "{:<44} {:>9.0} bytes each (RSS growth over 10,000 sessions)",
            "session + one live resolution",
            (after.saturating_sub(before)) as f64 / 10_000.0
        );
    }
    let mut p50s = Vec::new();
    for rules in [10usize, 100, 1_000, 10_000] {
        let r = resolver_with(rules);
        let req = request(true);
        let (p50, p99, _) = percentiles(
            &format!("resolve, {rules} rules, 10 actions in scope"),
            200_000,
            || {
                black_box(r.resolve(req.clone()).unwrap());
            },
        );
        p50s.push((rules, p50, p99));
    }
    {
        // Shadow mode: the same resolve with a candidate atlas (one extra deny) shadowing the
        // live one; every in-scope action is judged twice and differences are recorded.
        let r = resolver_with(100);
        let req = request(true);
        let (base, _, _) = percentiles("resolve, 100 rules, no shadow (same run)", 200_000, || {
            black_box(r.resolve(req.clone()).unwrap());
        });
        let mut candidate = synthetic_atlas(100);
        candidate["version"] = json!("1.0.1");
        candidate["policies"]
            .as_array_mut()
            .unwrap()
            .push(json!({"policy_id": "shadow-deny", "type": "deny", "actions": ["svc0.op1"]}));
        r.load_shadow_json(candidate.to_string().as_bytes())
            .unwrap();
        let (shadowed, _, _) =
            percentiles("resolve, 100 rules, with a shadow atlas", 200_000, || {
                black_box(r.resolve(req.clone()).unwrap());
            });
        println!(
            "{:<44} {:>9.2}x the same-run resolve without a shadow",
            "shadow mode cost",
            shadowed / base
        );
    }
    let r = resolver_with(100);
    let req = request(false);
    percentiles(
        "resolve, 100 rules, all 20 actions in scope",
        200_000,
        || {
            black_box(r.resolve(req.clone()).unwrap());
        },
    );
    {
        // The same with the real trace collector: 4 events enqueued per resolve, processed by
        // the background thread (sink "none", overflow "drop" so a saturated pipeline shows up
        // as drops, not as blocking).
        let trace = cra_core::trace::TraceConfig {
            sink: cra_core::trace::SinkKind::None,
            overflow: cra_core::trace::Overflow::Drop,
            ..Default::default()
        };
        let r = traced_resolver(trace);
        let req = request(false);
        percentiles(
            "resolve, 100 rules, 20 actions + trace enqueue",
            200_000,
            || {
                black_box(r.resolve(req.clone()).unwrap());
            },
        );
        // What every binding calls: JSON bytes in, JSON bytes out (cra_core::api, the C ABI's
        // path), on the same resolver, and its two halves.
        let body = br#"{"requester":{"agent_id":"bench-agent","session_id":"bench-session"},"task":{"goal":"help with a refund","required_capabilities":["cap0"]}}"#;
        percentiles("api::resolve, JSON in and out, 10 actions", 100_000, || {
            black_box(cra_core::api::resolve(&r, body).unwrap());
        });
        percentiles("  (of which parsing the request)", 100_000, || {
            black_box(CarpRequest::from_json(body).unwrap());
        });
        let res = r.resolve(CarpRequest::from_json(body).unwrap()).unwrap();
        percentiles("  (of which writing the resolution)", 100_000, || {
            black_box(serde_json::to_vec(&*res).unwrap());
        });
        r.flush(std::time::Duration::from_secs(30)).ok();
        let st = r.stats().trace.unwrap_or_default();
        println!(
            "  (collector: {} events written, {} dropped by a saturated pipeline)",
            st.written, st.dropped
        );
    }
    trace_end_to_end();
    let clone_only = request(false);
    percentiles("  (of which cloning the request)", 200_000, || {
        black_box(clone_only.clone());
    });
    r.resolve(request(false)).unwrap();
    percentiles("fast path check(session, action)", 1_000_000, || {
        black_box(r.check("bench-session", "svc0.op3"));
    });
    percentiles("fast path check, rate-limited action", 1_000_000, || {
        black_box(r.check("bench-session", "svc0.op7"));
    });
    let text = synthetic_atlas(2_000).to_string();
    percentiles(
        "atlas load + compile, 400 actions, 2000 policies",
        50,
        || {
            let r =
                Resolver::with_recorder(ResolverConfig::default(), Arc::new(NullRecorder)).unwrap();
            black_box(r.load_atlas_json(text.as_bytes()).unwrap());
        },
    );
    let text = {
        let mut a = synthetic_atlas(1_000);
        // 1,000 actions and 1,000 policies.
        let extra: Vec<Value> = (0..800)
            .map(
                |i| json!({"action_id": format!("extra{}.op", i), "name": "x", "description": "x"}),
            )
            .collect();
        a["actions"].as_array_mut().unwrap().extend(extra);
        a.to_string()
    };
    percentiles(
        "atlas load + compile, 1000 actions, 1000 policies",
        50,
        || {
            let r =
                Resolver::with_recorder(ResolverConfig::default(), Arc::new(NullRecorder)).unwrap();
            black_box(r.load_atlas_json(text.as_bytes()).unwrap());
        },
    );
    hot::report(100_000);
    let (_, p50_100, p99_100) = p50s[1];
    let (_, p50_10k, p99_10k) = p50s[3];
    println!(
        "growth 100 -> 10,000 rules: p50 x{:.2}, p99 x{:.2}",
        p50_10k / p50_100,
        p99_10k / p99_100
    );
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: measuring in a debug build
    // means nothing, so it only says where the real figures come from.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark skipped outside `cargo bench` (make bench runs it)");
        return;
    }
    let quick =
        std::env::args().any(|a| a == "--quick") || std::env::var("CRA_BENCH_QUICK").is_ok();
    // `CRA_BENCH_ONLY=execute`: only the execute / JSON-entry rows (profiling, quick checks).
    if std::env::var("CRA_BENCH_ONLY").is_ok_and(|v| v == "execute") {
        hot::report(100_000);
        return;
    }
    if std::env::var("CRA_BENCH_ONLY").is_ok_and(|v| v == "trace") {
        trace_end_to_end();
        return;
    }
    if !quick {
        let mut c = Criterion::default()
            .configure_from_args()
            .sample_size(30)
            .warm_up_time(std::time::Duration::from_millis(500))
            .measurement_time(std::time::Duration::from_secs(2));
        for rules in [10usize, 100, 1_000, 10_000] {
            let r = resolver_with(rules);
            let req = request(true);
            c.bench_function(&format!("resolve/{rules}_rules"), |b| {
                b.iter(|| black_box(r.resolve(req.clone()).unwrap()))
            });
        }
        let r = resolver_with(100);
        r.resolve(request(false)).unwrap();
        c.bench_function("fast_path/check", |b| {
            b.iter(|| black_box(r.check("bench-session", "svc0.op3")))
        });
        c.final_summary();
    }
    percentile_report();
}
