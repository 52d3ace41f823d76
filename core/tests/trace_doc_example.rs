//! The worked example of docs/trace.md, pinned: if this fails, the docs are out of date.

use cra_core::trace::{verify_jsonl, TraceEvent};
use cra_core::unstable::{Chain, UnhashedFieldsNoChain};
use serde_json::json;

#[test]
fn docs_worked_example() {
    let mut chain = Chain::default();
    let (mut scratch, mut line) = (String::new(), String::new());
    let payload = json!({"agent_id": "support-bot", "atlas_id": "acme.support", "ratio": 0.5});
    chain.append(
        UnhashedFieldsNoChain {
            event_id: "0000002a-0001-7000-8000-000000000001",
            event_type: "session.started",
            parent_span_id: None,
            payload: cra_core::unstable::PayloadText::Value(&payload),
            session_id: "sess-1",
            span_id: "span-root",
            timestamp_us: 1_795_608_000_123_456,
            trace_id: "trace-1",
        },
        &mut scratch,
        &mut line,
    );
    let first_unhashed = scratch.clone();
    let first = line.clone();
    let payload2 = json!({"dropped": 3, "reason": "queue_full"});
    line.clear();
    chain.append(
        UnhashedFieldsNoChain {
            event_id: "0000002a-0001-7000-8000-000000000002",
            event_type: "trace.gap",
            parent_span_id: None,
            payload: cra_core::unstable::PayloadText::Value(&payload2),
            session_id: "sess-1",
            span_id: "span-root",
            timestamp_us: 1_795_608_000_223_456,
            trace_id: "trace-1",
        },
        &mut scratch,
        &mut line,
    );
    let second = line.clone();
    println!("HASHED1 {first_unhashed}\nLINE1 {first}\nLINE2 {second}");
    let file = format!("{first}\n{second}\n");
    assert!(verify_jsonl(file.as_bytes()).ok);
    let e1: TraceEvent = serde_json::from_str(&first).expect("event");
    let e2: TraceEvent = serde_json::from_str(&second).expect("event");
    assert_eq!(e2.previous_event_hash, e1.event_hash);
    assert_eq!(e1.event_hash, EXPECTED_HASH_1);
    assert_eq!(e2.event_hash, EXPECTED_HASH_2);
}

const EXPECTED_HASH_1: &str = "17a115b876db14e8c30aa533243ac222392f6c4fc200ad40bd5d4ad3f8a80165";
const EXPECTED_HASH_2: &str = "4759e4e3084f03eb99a66b0d03127a80063c2fac8907b241bc5289579398ed8d";
