//! Block mode is lossless: events from 8 threads through a small queue into a file, all present
//! and verified. 1,000,000 events in release builds (`cargo test --release`), 100,000 in debug.

mod trace_support;

use cra_core::trace::*;
use cra_core::unstable::IdSource;
use cra_core::unstable::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trace_support::*;

#[test]
fn block_mode_loses_nothing_from_8_threads() {
    let total: u64 = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    let threads = 8u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lossless.jsonl");
    let cfg = TraceConfig {
        sink: SinkKind::File,
        path: Some(path.to_string_lossy().into_owned()),
        capacity: 1024,
        ..TraceConfig::default()
    };
    let c = Arc::new(Collector::new(cfg, IdSource::Uuid7).expect("collector"));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                let ss: Vec<_> = (0..4).map(|i| session(&format!("t{t}-s{i}"))).collect();
                for i in 0..total / threads {
                    c.record(raw(
                        &ss[(i % 4) as usize],
                        EventType::PolicyEvaluated,
                        json!({"i": i}),
                        T0 + i as i64,
                    ));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer");
    }
    c.flush(Duration::from_secs(60)).expect("flush");
    let stats = c.stats();
    assert_eq!(stats.written, total, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    let wrote = start.elapsed();
    let report = verify_file(&path).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, total);
    assert_eq!(report.sessions, threads * 4);
    eprintln!(
        "lossless: {total} events written in {wrote:?}, verified in {:?}",
        start.elapsed() - wrote
    );
}
