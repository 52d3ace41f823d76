//! Collector → sink → verify: chains, determinism, tampering, overflow, sink errors.

mod trace_support;

use cra_core::trace::*;
use cra_core::unstable::Clock;
use cra_core::unstable::IdSource;
use cra_core::unstable::*;
use proptest::prelude::*;
use serde_json::json;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use trace_support::*;

const SECOND: Duration = Duration::from_secs(10);

/// Writes `sessions` sessions of `per` events each (interleaved) through a memory collector.
fn sample_trace(sessions: usize, per: usize) -> Vec<u8> {
    let c = Collector::new(TraceConfig::default(), IdSource::counter(7, 0)).expect("collector");
    let clock = Clock::stepping(T0, 1_000);
    let ss: Vec<_> = (0..sessions).map(|i| session(&format!("s{i}"))).collect();
    for i in 0..per {
        for s in &ss {
            let t = match i {
                0 => EventType::SessionStarted,
                _ if i + 1 == per => EventType::SessionEnded,
                _ if i % 2 == 1 => EventType::RequestReceived,
                _ => EventType::ResolutionCompleted,
            };
            c.record(raw(
                s,
                t,
                json!({"i": i, "note": "caf\u{e9} \u{1}", "x": 1.5e-7}),
                clock.now_us(),
            ));
        }
    }
    c.flush(SECOND).expect("flush");
    c.drain()
}

#[test]
fn memory_collector_chains_verify() {
    let bytes = sample_trace(3, 20);
    let report = verify_jsonl(&bytes);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 60);
    assert_eq!(report.sessions, 3);
    let events: Vec<TraceEvent> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("event"))
        .collect();
    assert_eq!(events[0].sequence, 0);
    assert_eq!(events[0].previous_event_hash, GENESIS_HASH);
    assert_eq!(events[0].event_id, "00000007-0001-7000-8000-000000000001");
    assert_eq!(events[0].parent_span_id, None);
    assert_eq!(events[3].sequence, 1);
    assert_eq!(events[3].previous_event_hash, events[0].event_hash);
    for e in &events {
        assert_eq!(e.compute_hash(), e.event_hash);
    }
    assert!(
        verify_jsonl_with(
            &bytes,
            VerifyOptions {
                require_session_end: true,
                ..Default::default()
            }
        )
        .ok
    );
}

#[test]
fn deterministic_mode_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |name: &str| {
        let path = dir.path().join(name);
        let cfg = TraceConfig {
            sink: SinkKind::File,
            path: Some(path.to_string_lossy().into_owned()),
            batch_size: 7,
            ..TraceConfig::default()
        };
        let c = Collector::new(cfg, IdSource::counter(42, 0)).expect("collector");
        let clock = Clock::stepping(T0, 250);
        let ss: Vec<_> = (0..4).map(|i| session(&format!("det{i}"))).collect();
        for i in 0..100 {
            let s = &ss[i % 4];
            c.record(raw(
                s,
                EventType::PolicyEvaluated,
                json!({"i": i}),
                clock.now_us(),
            ));
        }
        c.close().expect("close");
        std::fs::read(&path).expect("read")
    };
    let a = run("a.jsonl");
    let b = run("b.jsonl");
    assert_eq!(a, b);
    assert!(verify_jsonl(&a).ok);
}

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.to_vec())
        .collect()
}

#[test]
fn reorder_delete_duplicate_are_detected() {
    let bytes = sample_trace(2, 6);
    let ls = lines(&bytes);
    let join = |v: &[Vec<u8>]| v.concat();
    // Delete a middle line.
    let mut d = ls.clone();
    d.remove(4);
    let r = verify_jsonl(&join(&d));
    assert!(!r.ok);
    assert_eq!(r.errors[0].code, VerifyErrorCode::SequenceGap);
    // Duplicate.
    let mut d = ls.clone();
    d.insert(5, ls[4].clone());
    assert!(!verify_jsonl(&join(&d)).ok);
    // Swap two lines of the same session.
    let mut d = ls.clone();
    d.swap(2, 4);
    assert!(!verify_jsonl(&join(&d)).ok);
    // Delete the genesis.
    let mut d = ls.clone();
    d.remove(0);
    let r = verify_jsonl(&join(&d));
    assert_eq!(r.errors[0].code, VerifyErrorCode::InvalidGenesis);
    // Truncated last line.
    let t = &bytes[..bytes.len() - 10];
    let r = verify_jsonl(t);
    assert_eq!(
        r.errors.last().map(|e| e.code),
        Some(VerifyErrorCode::MalformedEvent)
    );
    // Deleting a session's last line is invisible to the chain, visible to require_session_end.
    let mut d = ls.clone();
    d.pop();
    assert!(verify_jsonl(&join(&d)).ok);
    let r = verify_jsonl_with(
        &join(&d),
        VerifyOptions {
            require_session_end: true,
            ..Default::default()
        },
    );
    assert_eq!(r.errors[0].code, VerifyErrorCode::MissingSessionEnd);
    // Garbage never panics.
    for g in [
        &b"\n"[..],
        b"{}",
        b"{}\n",
        b"\xff\xfe\n",
        b"[1,2]\n\n\n",
        b"null",
    ] {
        assert!(!verify_jsonl(g).ok);
    }
    assert!(verify_jsonl(b"").ok);
}

#[test]
fn tampered_hash_field_is_hash_mismatch() {
    let bytes = sample_trace(1, 3);
    let mut t = bytes.clone();
    // Change one hex digit of the first event's payload-independent field `event_hash`.
    t[20] = if t[20] == b'a' { b'b' } else { b'a' };
    let r = verify_jsonl(&t);
    assert_eq!(r.errors[0].code, VerifyErrorCode::HashMismatch);
    assert_eq!(r.errors[0].line, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]
    #[test]
    fn any_single_byte_change_is_detected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        thread_local! { static SAMPLE: Vec<u8> = sample_trace(3, 5); }
        SAMPLE.with(|sample| {
            let i = pos.index(sample.len());
            prop_assume!(sample[i] != byte);
            let mut t = sample.clone();
            t[i] = byte;
            let r = verify_jsonl(&t);
            prop_assert!(!r.ok, "change at {} to {:#x} not detected", i, byte);
            Ok(())
        })?;
    }
}

/// A sink that stalls while `stall` is set and fails while `fail` > 0.
struct FlakySink {
    stall: Arc<AtomicBool>,
    fail: Arc<AtomicU64>,
    out: Arc<parking_lot::Mutex<Vec<u8>>>,
}

impl TraceSink for FlakySink {
    fn write_batch(&mut self, lines: &[u8], _events: usize) -> io::Result<()> {
        while self.stall.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(io::Error::other("injected failure"));
        }
        self.out.lock().extend_from_slice(lines);
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Flaky = (
    FlakySink,
    Arc<AtomicBool>,
    Arc<AtomicU64>,
    Arc<parking_lot::Mutex<Vec<u8>>>,
);

fn flaky() -> Flaky {
    let (stall, fail, out) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::default(),
    );
    (
        FlakySink {
            stall: stall.clone(),
            fail: fail.clone(),
            out: Arc::clone(&out),
        },
        stall,
        fail,
        out,
    )
}

#[test]
fn drop_mode_with_stalled_sink_records_gaps() {
    let (sink, stall, _fail, out) = flaky();
    let cfg = TraceConfig {
        overflow: Overflow::Drop,
        capacity: 64,
        batch_size: 16,
        ..TraceConfig::default()
    };
    let c = Collector::with_sink(cfg, IdSource::counter(1, 1), Box::new(sink)).expect("collector");
    let ss: Vec<_> = (0..3).map(|i| session(&format!("d{i}"))).collect();
    stall.store(true, Ordering::SeqCst);
    let total = 3000u64;
    for i in 0..total {
        c.record(raw(
            &ss[(i % 3) as usize],
            EventType::PolicyEvaluated,
            json!({"i": i}),
            T0 + i as i64,
        ));
    }
    stall.store(false, Ordering::SeqCst);
    c.flush(SECOND).expect("flush");
    let stats = c.stats();
    assert!(stats.dropped_by_reason.queue_full > 0, "{stats:?}");
    assert_eq!(stats.dropped, stats.dropped_by_reason.queue_full);
    let bytes = out.lock().clone();
    let report = verify_jsonl(&bytes);
    assert!(report.ok, "{report:?}");
    let events: Vec<TraceEvent> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("event"))
        .collect();
    let gap_total: u64 = events
        .iter()
        .filter(|e| e.event_type == "trace.gap")
        .map(|e| {
            assert_eq!(e.payload["reason"], "queue_full");
            assert_eq!(e.parent_span_id, None);
            e.payload["dropped"].as_u64().expect("dropped count")
        })
        .sum();
    assert_eq!(gap_total, stats.dropped);
    let real = events
        .iter()
        .filter(|e| e.event_type != "trace.gap")
        .count() as u64;
    assert_eq!(
        real + stats.dropped,
        total,
        "every event is either written or counted in a gap"
    );
    assert_eq!(stats.gaps, events.len() as u64 - real);
}

#[test]
fn sink_errors_are_retried_counted_and_lossless() {
    let (sink, _stall, fail, out) = flaky();
    fail.store(5, Ordering::SeqCst);
    let cfg = TraceConfig {
        batch_size: 8,
        ..TraceConfig::default()
    };
    let c = Collector::with_sink(cfg, IdSource::counter(1, 1), Box::new(sink)).expect("collector");
    let s = session("err");
    for i in 0..100 {
        c.record(raw(&s, EventType::PolicyEvaluated, json!({"i": i}), T0 + i));
    }
    c.flush(SECOND).expect("flush after transient errors");
    let stats = c.stats();
    assert_eq!(stats.sink_errors, 5);
    assert!(stats
        .last_sink_error
        .as_deref()
        .unwrap_or("")
        .contains("injected failure"));
    assert_eq!(stats.written, 100);
    let report = verify_jsonl(&out.lock());
    assert!(report.ok && report.events == 100, "{report:?}");
    // A sink that keeps failing makes flush time out, with the error surfaced.
    fail.store(u64::MAX, Ordering::SeqCst);
    c.record(raw(&s, EventType::PolicyEvaluated, json!({}), T0 + 100));
    let e = c
        .flush(Duration::from_millis(300))
        .expect_err("sink is down");
    assert_eq!(e.code, cra_core::ErrorCode::Timeout);
    assert!(e.message.contains("injected failure"), "{}", e.message);
    assert!(c.stats().pending >= 1);
    fail.store(0, Ordering::SeqCst);
    c.flush(SECOND).expect("recovers");
    assert!(verify_jsonl(&out.lock()).ok);
}

#[test]
fn memory_sink_bound_drop_and_block() {
    // Drop mode: the sink holds 10 events; the rest are dropped with a sink_full gap.
    let cfg = TraceConfig {
        overflow: Overflow::Drop,
        memory_limit_events: 10,
        ..TraceConfig::default()
    };
    let c = Collector::new(cfg, IdSource::counter(3, 0)).expect("collector");
    let s = session("m");
    for i in 0..50 {
        c.record(raw(&s, EventType::PolicyEvaluated, json!({"i": i}), T0 + i));
    }
    c.flush(SECOND).expect("flush");
    let first = c.drain();
    assert!(c.stats().dropped_by_reason.sink_full > 0);
    c.record(raw(&s, EventType::SessionEnded, json!({}), T0 + 99));
    c.flush(SECOND).expect("flush");
    let mut all = first.clone();
    all.extend(c.drain());
    let r = verify_jsonl(&all);
    assert!(r.ok, "{r:?}");
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("\"reason\":\"sink_full\""), "{text}");

    // Block mode: nothing is lost; the collector waits for the host to drain.
    let cfg = TraceConfig {
        memory_limit_events: 10,
        capacity: 16,
        ..TraceConfig::default()
    };
    let c = Arc::new(Collector::new(cfg, IdSource::counter(3, 0)).expect("collector"));
    let s = session("b");
    let producer = {
        let c = c.clone();
        std::thread::spawn(move || {
            for i in 0..200 {
                c.record(raw(&s, EventType::PolicyEvaluated, json!({"i": i}), T0 + i));
            }
        })
    };
    let mut all = Vec::new();
    while !producer.is_finished() || c.stats().written < 200 {
        all.extend(c.drain());
        std::thread::sleep(Duration::from_millis(2));
    }
    producer.join().expect("producer");
    c.flush(SECOND).expect("flush");
    all.extend(c.drain());
    let r = verify_jsonl(&all);
    assert!(r.ok && r.events == 200, "{r:?}");
    assert_eq!(c.stats().dropped, 0);
}

#[test]
fn file_sink_reopen_continues_chains() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let cfg = TraceConfig {
        sink: SinkKind::File,
        path: Some(path.to_string_lossy().into_owned()),
        ..TraceConfig::default()
    };
    let s = session("f");
    for round in 0..3 {
        let c = Collector::new(cfg.clone(), IdSource::Uuid7).expect("collector");
        for i in 0..10 {
            c.record(raw(
                &s,
                EventType::PolicyEvaluated,
                json!({"round": round, "i": i}),
                T0 + i,
            ));
        }
        c.close().expect("close");
    }
    // Tear the last line, as a crash would.
    let len = std::fs::metadata(&path).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(len - 5)
        .expect("truncate");
    assert!(!verify_file(&path).expect("verify").ok);
    let c = Collector::new(cfg.clone(), IdSource::Uuid7).expect("reopen repairs");
    c.record(raw(&s, EventType::SessionEnded, json!({}), T0 + 50));
    c.close().expect("close");
    let r = verify_file(&path).expect("verify");
    assert!(r.ok && r.events == 30, "{r:?}");
    let bad = Collector::new(
        TraceConfig {
            sink: SinkKind::File,
            path: Some("/nonexistent-dir/x.jsonl".into()),
            ..TraceConfig::default()
        },
        IdSource::Uuid7,
    )
    .expect_err("bad path");
    assert_eq!(bad.code, cra_core::ErrorCode::IoError);
}

#[test]
fn python_independent_verifier_agrees() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import blake3"])
        .output()
        .map(|o| o.status.success());
    if !matches!(ok, Ok(true)) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the independent verifier: `make deps-verify` installs python blake3"
        );
        eprintln!("NOTICE: skipping independent verification: python3 with the blake3 package is not available");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("py.jsonl");
    std::fs::write(&path, sample_trace(3, 40)).expect("write");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/py/verify_independent.py"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it rejects a tampered file.
    let mut t = std::fs::read(&path).expect("read");
    let i = t.len() / 2;
    t[i] ^= 1;
    std::fs::write(&path, t).expect("write");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("run python");
    assert!(!out.status.success());
}
