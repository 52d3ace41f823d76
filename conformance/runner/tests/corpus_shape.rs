//! Every case file validates against `conformance/schema/cases.schema.json`, the manifest is up
//! to date, and every expected error code is one the protocol defines.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn walk_error_codes(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(c) = m.get("expect_error").and_then(|e| e["code"].as_str()) {
                out.push(c.to_string());
            }
            m.values().for_each(|x| walk_error_codes(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| walk_error_codes(x, out)),
        _ => {}
    }
}

#[test]
fn case_files_match_the_schema() {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(root().join("schema/cases.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut all = Vec::new();
    files(&root().join("cases"), &mut all);
    files(&root().join("runner/tests/fixtures"), &mut all);
    all.retain(|p| p.components().any(|c| c.as_os_str() == "cases"));
    assert!(!all.is_empty());
    let mut problems = Vec::new();
    for f in &all {
        let doc: Value = serde_json::from_slice(&std::fs::read(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for e in validator.iter_errors(&doc) {
            problems.push(format!("{}: {} at {}", f.display(), e, e.instance_path()));
        }
        let mut codes = Vec::new();
        walk_error_codes(&doc, &mut codes);
        for c in codes {
            if cra_core::ErrorCode::from_wire(&c).is_none() {
                problems.push(format!("{}: unknown error code {c}", f.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_schema_rejects_a_malformed_case_file() {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(root().join("schema/cases.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let bad = serde_json::json!({"area": "x", "description": "d", "cases": [{"id": "x/y", "description": "d", "steps": [{"op": "resolv"}]}]});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn manifest_is_up_to_date() {
    let out = std::process::Command::new("python3")
        .arg(root().join("tools/update_manifest.py"))
        .arg("--check")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
