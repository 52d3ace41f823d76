//! TRACE benchmarks: hot-path `record` latency (criterion + a percentile harness with a live
//! consumer), background pipeline throughput to a JSONL file, and verify throughput.
//!
//! Run: `cargo bench -p cra-core --bench trace`

use cra_core::trace::*;
use cra_core::unstable::IdSource;
use cra_core::unstable::*;
use criterion::Criterion;
use serde_json::{json, Value};
use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A payload shaped like a resolution summary (~300 bytes of JSON per event).
#[derive(Debug)]
struct Summary;

impl PayloadSource for Summary {
    fn render(&self, _view: EventType) -> Value {
        json!({
            "resolution_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "atlas_id": "acme.support", "atlas_version": "1.4.2",
            "allowed_actions": 12, "denied_actions": 3, "context_blocks": 4,
            "policies_evaluated": 17, "decision": "allow", "duration_us": 1.25,
            "parameters_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        })
    }
}

/// The same payload as [`Summary`], its canonical text computed once: what the pipeline costs
/// without building a JSON value per event (engine payloads write canonical text directly).
#[derive(Debug)]
struct SummaryText(String);

impl PayloadSource for SummaryText {
    fn render(&self, view: EventType) -> Value {
        Summary.render(view)
    }
    fn write_canonical(&self, _view: EventType, out: &mut String) {
        out.push_str(&self.0);
    }
}

fn session(i: usize) -> Arc<SessionTrace> {
    Arc::new(SessionTrace {
        session_id: format!("session-{i:04}").into(),
        trace_id: format!("0193a1b2-c3d4-7e5f-8a9b-{i:012}").into(),
        root_span_id: format!("root-{i:04}").into(),
        dropped: AtomicU64::new(0),
    })
}

fn event(s: &Arc<SessionTrace>, payload: &Arc<dyn PayloadSource>, ts: i64) -> RawEvent {
    RawEvent {
        session: s.clone(),
        span_id: s.root_span_id.clone(),
        parent_span_id: Some(s.root_span_id.clone()),
        timestamp_us: ts,
        event_type: EventType::ResolutionCompleted,
        payload: EventPayload::Lazy(payload.clone()),
        event_id: None,
    }
}

const T0: i64 = 1_795_608_000_000_000;

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// Events/s of `n` events through the pipeline into `sink` (block mode), until flushed.
fn pipeline_rate(
    sessions: &[Arc<SessionTrace>],
    payload: &Arc<dyn PayloadSource>,
    sink: SinkKind,
    n: u64,
) -> f64 {
    let c = Collector::new(
        TraceConfig {
            sink,
            ..TraceConfig::default()
        },
        IdSource::Uuid7,
    )
    .expect("collector");
    let t = Instant::now();
    for i in 0..n as usize {
        c.record(event(&sessions[i % 64], payload, T0 + i as i64));
    }
    c.flush(Duration::from_secs(300)).expect("flush");
    let rate = n as f64 / t.elapsed().as_secs_f64();
    c.close().expect("close");
    rate
}

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: measuring in a debug build
    // means nothing, so it only says where the real figures come from.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark skipped outside `cargo bench` (make bench runs it)");
        return;
    }
    let payload: Arc<dyn PayloadSource> = Arc::new(Summary);
    let sessions: Vec<_> = (0..64).map(session).collect();
    // Profiling modes (callgrind, perf stat): `CRA_BENCH_ONLY=verify CRA_BENCH_FILE=<jsonl>`
    // verifies a file `CRA_BENCH_N` times (default 5; make one with the resolve bench's
    // `CRA_BENCH_KEEP_TRACE`); `CRA_BENCH_ONLY=pipeline` runs `CRA_BENCH_N` events (default 1M)
    // through the pipeline into a null sink.
    let only = std::env::var("CRA_BENCH_ONLY").unwrap_or_default();
    let runs = |default: u64| {
        std::env::var("CRA_BENCH_N")
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(default)
    };
    if only == "verify" {
        let path = std::env::var("CRA_BENCH_FILE").expect("CRA_BENCH_FILE");
        let bytes = std::fs::read(&path).expect("read CRA_BENCH_FILE");
        let mut rates = Vec::new();
        for _ in 0..runs(5) {
            let t = Instant::now();
            let r = verify_jsonl(&bytes);
            rates.push(r.events as f64 / t.elapsed().as_secs_f64());
            assert!(r.ok, "{:?}", r.errors.first());
        }
        rates.sort_by(|a, b| a.total_cmp(b));
        let t = Instant::now();
        let r = verify_file(&path).expect("verify");
        println!(
            "verify_jsonl p50 {:.0} events/s (min {:.0}, max {:.0}); verify_file {:.0} events/s; {} events, {} bytes/event",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            r.events as f64 / t.elapsed().as_secs_f64(),
            r.events,
            bytes.len() as u64 / r.events.max(1)
        );
        return;
    }
    let text: Arc<dyn PayloadSource> = Arc::new(SummaryText(canonicalize(
        &Summary.render(EventType::ResolutionCompleted),
    )));
    if only == "pipeline" || only == "pipeline-text" {
        let p = if only == "pipeline" { &payload } else { &text };
        let n = runs(1_000_000);
        println!(
            "{only}, null sink: {:.0} events/s ({n} events)",
            pipeline_rate(&sessions, p, SinkKind::None, n)
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("cra-trace-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut rows: Vec<(String, String)> = Vec::new();

    // 1. record() latency, individual calls, live consumer hashing into a null sink.
    {
        let c = Collector::new(
            TraceConfig {
                sink: SinkKind::None,
                ..TraceConfig::default()
            },
            IdSource::Uuid7,
        )
        .expect("collector");
        let n = 1_000_000;
        let mut samples = Vec::with_capacity(n);
        for i in 0..n {
            let ev = event(&sessions[i % 64], &payload, T0 + i as i64);
            let t = Instant::now();
            c.record(ev);
            samples.push(t.elapsed().as_nanos() as u64);
            if i % 1024 == 0 {
                // Pace the producer to the consumer's rate so the queue never fills: this
                // measures the hot path with a live consumer, not waiting on a full queue.
                while c.stats().queued > 4096 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        c.close().expect("close");
        samples.sort_unstable();
        rows.push((
            "record() p50 (live consumer, 1M calls)".into(),
            format!("{} ns", pct(&samples, 0.50)),
        ));
        rows.push(("record() p99".into(), format!("{} ns", pct(&samples, 0.99))));
        rows.push((
            "record() p99.9".into(),
            format!("{} ns", pct(&samples, 0.999)),
        ));
        let st = c.stats();
        rows.push((
            "  (written / dropped)".into(),
            format!("{} / {}", st.written, st.dropped),
        ));
    }

    // 2. Pipeline: record + render + canonical JSON + BLAKE3 + sink, end to end (block mode).
    let path = dir.join("bench.jsonl");
    let variants: [(&str, SinkKind, FsyncPolicy, u32); 4] = [
        (
            "pipeline, null sink",
            SinkKind::None,
            FsyncPolicy::Never,
            512,
        ),
        (
            "pipeline, file, fsync never",
            SinkKind::File,
            FsyncPolicy::Never,
            512,
        ),
        (
            "pipeline, file, fsync batch (512)",
            SinkKind::File,
            FsyncPolicy::Batch,
            512,
        ),
        (
            "pipeline, file, fsync batch (4096)",
            SinkKind::File,
            FsyncPolicy::Batch,
            4096,
        ),
    ];
    for (name, sink, fsync, batch_size) in variants {
        let _ = std::fs::remove_file(&path);
        let file = (sink == SinkKind::File).then(|| path.to_string_lossy().into_owned());
        let cfg = TraceConfig {
            sink,
            path: file,
            fsync,
            batch_size,
            ..TraceConfig::default()
        };
        let c = Collector::new(cfg, IdSource::Uuid7).expect("collector");
        let n = 1_000_000u64;
        let t = Instant::now();
        for i in 0..n as usize {
            c.record(event(&sessions[i % 64], &payload, T0 + i as i64));
        }
        c.flush(Duration::from_secs(300)).expect("flush");
        let el = t.elapsed();
        let st = c.stats();
        rows.push((
            format!("{name}, 1M events"),
            format!("{:.0} events/s", n as f64 / el.as_secs_f64()),
        ));
        if sink == SinkKind::File {
            rows.push((
                "  bytes/event, batches".into(),
                format!("{}, {}", st.bytes_written / n.max(1), st.batches),
            ));
        }
        c.close().expect("close");
    }

    rows.push((
        "pipeline, null sink, payload text precomputed, 1M".into(),
        format!(
            "{:.0} events/s",
            pipeline_rate(&sessions, &text, SinkKind::None, 1_000_000)
        ),
    ));

    // 3. Verify.
    {
        let bytes = std::fs::read(&path).expect("read");
        let t = Instant::now();
        let r = verify_jsonl(&bytes);
        let el = t.elapsed();
        assert!(r.ok);
        rows.push((
            "verify_jsonl (in memory)".into(),
            format!("{:.0} events/s", r.events as f64 / el.as_secs_f64()),
        ));
        let t = Instant::now();
        let r = verify_file(&path).expect("verify");
        let el = t.elapsed();
        assert!(r.ok);
        rows.push((
            "verify_file (streaming)".into(),
            format!("{:.0} events/s", r.events as f64 / el.as_secs_f64()),
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "\nTRACE figures ({} cores available)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{:<44} | {:>20}", "measurement", "value");
    println!("{:-<44}-+-{:->20}", "", "");
    for (k, v) in &rows {
        println!("{k:<44} | {v:>20}");
    }
    println!();

    // Criterion: record() throughput per call (queue kept draining by the live consumer).
    let mut crit = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let c = Collector::new(
        TraceConfig {
            sink: SinkKind::None,
            overflow: Overflow::Drop,
            ..TraceConfig::default()
        },
        IdSource::Uuid7,
    )
    .expect("collector");
    let mut i = 0usize;
    crit.bench_function("trace/record (drop mode, null sink)", |b| {
        b.iter(|| {
            i += 1;
            c.record(black_box(event(&sessions[i % 64], &payload, T0)));
        })
    });
    let canon_payload = payload.render(EventType::ResolutionCompleted);
    crit.bench_function("trace/jcs payload", |b| {
        b.iter(|| canonicalize(black_box(&canon_payload)))
    });
    crit.final_summary();
}
