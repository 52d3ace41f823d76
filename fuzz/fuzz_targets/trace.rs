//! TRACE files: verify arbitrary JSONL bytes, read them for a store (`scan_trace`), and replay
//! them against the example atlas. Verify never fails (a broken chain is a report); the scan
//! answers a JSON array with one element per line; replay answers a report or a coded error.
#![no_main]

use cra_core::api;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn atlases() -> &'static [u8] {
    static A: OnceLock<Vec<u8>> = OnceLock::new();
    A.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/atlases/devops/atlas.json"
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("example atlas")).expect("JSON");
        serde_json::to_vec(&[doc]).expect("array")
    })
}

fuzz_target!(|data: &[u8]| {
    let report = api::verify_trace(data).expect("verify answers every input with a report");
    let report: serde_json::Value = serde_json::from_slice(&report).expect("report is JSON");
    assert!(report["ok"].is_boolean());
    let scan = api::scan_trace(data).expect("the scan answers every input");
    let scan: serde_json::Value = serde_json::from_slice(&scan).expect("the scan is JSON");
    let lines = if data.is_empty() {
        0
    } else {
        data.strip_suffix(b"\n").unwrap_or(data).split(|&b| b == b'\n').count()
    };
    assert_eq!(scan.as_array().map(Vec::len), Some(lines), "one element per line");
    if let Err(e) = api::replay(data, atlases()) {
        assert!(!e.message.is_empty(), "errors carry a message");
    }
});
