//! Crash safety: a child process (this test binary, re-run with an env var) writes a trace to a
//! file and is SIGKILLed at a random point. Reopening repairs the file, appending continues every
//! chain, verify passes, and every event acknowledged by `flush` before the kill is present.

mod trace_support;

use cra_core::trace::*;
use cra_core::unstable::IdSource;
use cra_core::unstable::*;
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use trace_support::*;

const CHILD_ENV: &str = "CRA_TRACE_CRASH_CHILD";
const SESSIONS: usize = 4;

fn config(path: &str) -> TraceConfig {
    TraceConfig {
        sink: SinkKind::File,
        path: Some(path.into()),
        batch_size: 64,
        ..TraceConfig::default()
    }
}

/// The child: records forever, flushing every 50 events and printing what is acknowledged.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (path, run) = spec.split_once('|').expect("path|run");
    let c = Collector::new(config(path), IdSource::Uuid7).expect("collector");
    let ss: Vec<_> = (0..SESSIONS)
        .map(|i| session(&format!("crash{i}")))
        .collect();
    let mut n = 0u64;
    loop {
        for s in &ss {
            c.record(raw(
                s,
                EventType::PolicyEvaluated,
                json!({"run": run, "n": n}),
                T0 + n as i64,
            ));
        }
        n += 1;
        if n.is_multiple_of(50) {
            c.flush(Duration::from_secs(10)).expect("flush");
            println!("ACK {run} {n}");
        }
    }
}

#[test]
fn sigkill_at_random_points_then_repair_and_continue() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir
        .path()
        .join("crash.jsonl")
        .to_string_lossy()
        .into_owned();
    let exe = std::env::current_exe().expect("current exe");
    let start = Instant::now();
    let mut acked: HashMap<u32, u64> = HashMap::new();
    for run in 0..5u32 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{path}|{run}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let kill_after = Duration::from_millis(100 + fastrand::u64(0..400));
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("ACK ") {
                    if let Some((_, n)) = rest.split_once(' ') {
                        last = n.parse().unwrap_or(last);
                    }
                }
            }
            last
        });
        std::thread::sleep(kill_after);
        child.kill().expect("SIGKILL child");
        let _ = child.wait();
        acked.insert(run, reader.join().expect("reader"));
        // Reopen: repairs the torn tail and continues each chain.
        let c = Collector::new(config(&path), IdSource::Uuid7).expect("reopen");
        for i in 0..SESSIONS {
            c.record(raw(
                &session(&format!("crash{i}")),
                EventType::PolicyEvaluated,
                json!({"reopen": run}),
                T0,
            ));
        }
        c.close().expect("close");
        let report = verify_file(&path).expect("verify");
        assert!(report.ok, "run {run}: {report:?}");
    }
    // Every acknowledged event is present.
    let bytes = std::fs::read(&path).expect("read");
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ev: TraceEvent = serde_json::from_slice(line).expect("event");
        if let (Some(run), Some(n)) = (ev.payload["run"].as_str(), ev.payload["n"].as_u64()) {
            let e = seen.entry((ev.session_id, run.to_string())).or_default();
            *e = (*e).max(n + 1);
        }
    }
    for (run, n) in &acked {
        for i in 0..SESSIONS {
            let have = seen
                .get(&(format!("crash{i}"), run.to_string()))
                .copied()
                .unwrap_or(0);
            assert!(
                have >= *n,
                "run {run} session crash{i}: acknowledged {n}, found {have}"
            );
        }
    }
    assert!(
        acked.values().any(|&n| n > 0),
        "children never acknowledged anything: {acked:?}"
    );
    eprintln!(
        "crash test: {acked:?} acknowledged, {} bytes, {:?}",
        bytes.len(),
        start.elapsed()
    );
}
