//! Running the corpus: manifest check, per-case execution, expected failures, the report.

use crate::driver::{Arg, Driver, DriverError};
use crate::matching::mismatch;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    /// Passed.
    Pass,
    /// Failed (not in the expected-failure list).
    Fail(String),
    /// Failed as the expected-failure list says (reason).
    XFail(String),
    /// In the expected-failure list but passed: an error, so the list stays honest.
    XPass(String),
}

/// The result of a corpus run.
#[derive(Debug, Default)]
pub struct CorpusReport {
    /// (case id, outcome) in corpus order.
    pub cases: Vec<(String, CaseOutcome)>,
    /// The manifest's total.
    pub expected_total: usize,
    /// Corpus-level problems (manifest drift, unreadable files, unknown xfail ids).
    pub errors: Vec<String>,
}

impl CorpusReport {
    /// Every case ran, none failed unexpectedly, no expected failure passed, no corpus error.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && self.cases.len() == self.expected_total
            && self
                .cases
                .iter()
                .all(|(_, o)| matches!(o, CaseOutcome::Pass | CaseOutcome::XFail(_)))
    }

    /// Counts: (passed, failed, xfailed, xpassed).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for (_, o) in &self.cases {
            match o {
                CaseOutcome::Pass => c.0 += 1,
                CaseOutcome::Fail(_) => c.1 += 1,
                CaseOutcome::XFail(_) => c.2 += 1,
                CaseOutcome::XPass(_) => c.3 += 1,
            }
        }
        c
    }

    /// A human report: one line per non-passing case, then the totals line
    /// (`N passed, N failed`) that CI reads.
    pub fn render(&self, binding: &str) -> String {
        let mut s = String::new();
        for e in &self.errors {
            s.push_str(&format!("ERROR  {e}\n"));
        }
        for (id, o) in &self.cases {
            match o {
                CaseOutcome::Pass => s.push_str(&format!("ok     {id}\n")),
                CaseOutcome::Fail(m) => s.push_str(&format!("FAIL   {id}: {m}\n")),
                CaseOutcome::XFail(r) => s.push_str(&format!("xfail  {id}: {r}\n")),
                CaseOutcome::XPass(r) => s.push_str(&format!(
                    "XPASS  {id}: listed as expected failure ({r}) but passed\n"
                )),
            }
        }
        let (p, f, xf, xp) = self.counts();
        s.push_str(&format!("conformance[{binding}]: ran {} of {} cases; {xf} expected failures, {xp} unexpected passes\n", self.cases.len(), self.expected_total));
        s.push_str(&format!(
            "{p} passed, {} failed\n",
            f + xp + self.errors.len() + self.expected_total.saturating_sub(self.cases.len())
        ));
        s
    }
}

/// Reads `xfail/<binding>.json` (`{"case-id": "reason"}`); absent file = no expected failures.
pub fn load_xfail(root: &Path, binding: &str) -> Result<HashMap<String, String>, String> {
    let p = root.join("xfail").join(format!("{binding}.json"));
    match std::fs::read(&p) {
        Err(_) => Ok(HashMap::new()),
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", p.display())),
    }
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            case_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Runs every case of the corpus at `root` through `driver`.
pub fn run_corpus(
    root: &Path,
    driver: &mut dyn Driver,
    xfail: &HashMap<String, String>,
) -> CorpusReport {
    let mut report = CorpusReport::default();
    let manifest: Value = match std::fs::read(root.join("manifest.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            report
                .errors
                .push(format!("cannot read manifest.json: {e}"));
            return report;
        }
    };
    report.expected_total = manifest["total"].as_u64().unwrap_or(0) as usize;
    let listed: BTreeMap<String, u64> = manifest["files"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    if listed.values().sum::<u64>() as usize != report.expected_total {
        report.errors.push(format!(
            "manifest total {} is not the sum of its per-file counts",
            report.expected_total
        ));
    }
    let mut files = Vec::new();
    case_files(&root.join("cases"), &mut files);
    let mut seen_ids = std::collections::HashSet::new();
    for file in &files {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let doc: Value = match std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                report.errors.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let cases = doc["cases"].as_array().cloned().unwrap_or_default();
        match listed.get(&rel) {
            None => report.errors.push(format!("{rel} is not in manifest.json")),
            Some(&n) if n as usize != cases.len() => report.errors.push(format!(
                "{rel} has {} cases; manifest.json says {n}",
                cases.len()
            )),
            _ => {}
        }
        let fixtures = doc["atlases"].as_object().cloned().unwrap_or_default();
        for case in &cases {
            let id = case["id"].as_str().unwrap_or("<no id>").to_string();
            if !seen_ids.insert(id.clone()) {
                report.errors.push(format!("duplicate case id {id}"));
            }
            let result = run_case(case, &fixtures, root, driver);
            driver.close();
            let outcome = match (result, xfail.get(&id)) {
                (Ok(()), None) => CaseOutcome::Pass,
                (Ok(()), Some(r)) => CaseOutcome::XPass(r.clone()),
                (Err(m), None) => CaseOutcome::Fail(m),
                (Err(_), Some(r)) => CaseOutcome::XFail(r.clone()),
            };
            report.cases.push((id, outcome));
        }
    }
    for f in listed.keys() {
        if !files.iter().any(|p| {
            p.strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/")
                == *f
        }) {
            report
                .errors
                .push(format!("manifest.json lists {f}, which does not exist"));
        }
    }
    for id in xfail.keys() {
        if !seen_ids.contains(id) {
            report
                .errors
                .push(format!("expected-failure list names unknown case {id}"));
        }
    }
    report
}

fn text(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn atlas_arg(step: &Value, fixtures: &Map<String, Value>, key: &str) -> Result<Arg, String> {
    if let Some(t) = step["atlas_text"].as_str() {
        return Ok(Arg::text(t));
    }
    resolve_atlas(&step[key], fixtures).map(Arg::json)
}

fn resolve_atlas(v: &Value, fixtures: &Map<String, Value>) -> Result<Value, String> {
    match v {
        Value::String(name) => fixtures
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no atlas fixture {name:?}")),
        Value::Object(_) => Ok(v.clone()),
        other => Err(format!(
            "atlas must be a fixture name or an object, not {other}"
        )),
    }
}

fn body(step: &Value, key: &str) -> Arg {
    match step.get(format!("{key}_text")).and_then(Value::as_str) {
        Some(t) => Arg::text(t),
        None => Arg::json(step[key].clone()),
    }
}

fn id(step: &Value, key: &str) -> Arg {
    Arg::text(step[key].as_str().unwrap_or(""))
}

/// Applies tamper operations to JSONL bytes (line-based, 0-based indices).
pub fn tamper(trace: &[u8], ops: &Value) -> Result<Vec<u8>, String> {
    let s = String::from_utf8_lossy(trace).to_string();
    let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
    for op in ops.as_array().cloned().unwrap_or_default() {
        let idx = |k: &str| {
            op[k]
                .as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| format!("tamper op {op} needs {k}"))
        };
        if op.get("swap").is_some() {
            let (a, b) = (
                op["swap"][0].as_u64().unwrap_or(0) as usize,
                op["swap"][1].as_u64().unwrap_or(0) as usize,
            );
            if a >= lines.len() || b >= lines.len() {
                return Err(format!("swap {a} {b} out of range"));
            }
            lines.swap(a, b);
        } else if op.get("delete").is_some() {
            let i = idx("delete")?;
            if i >= lines.len() {
                return Err(format!("delete {i} out of range"));
            }
            lines.remove(i);
        } else if op.get("duplicate").is_some() {
            let i = idx("duplicate")?;
            let l = lines
                .get(i)
                .cloned()
                .ok_or_else(|| format!("duplicate {i} out of range"))?;
            lines.insert(i + 1, l);
        } else if op.get("replace").is_some() {
            let r = &op["replace"];
            let i = r["line"].as_u64().unwrap_or(0) as usize;
            let (find, with) = (
                r["find"].as_str().unwrap_or(""),
                r["with"].as_str().unwrap_or(""),
            );
            let l = lines
                .get_mut(i)
                .ok_or_else(|| format!("replace line {i} out of range"))?;
            if !l.contains(find) {
                return Err(format!("replace: line {i} does not contain {find:?}"));
            }
            *l = l.replacen(find, with, 1);
        } else if op.get("truncate_last_line").is_some() {
            let n = idx("truncate_last_line")?;
            let mut out = lines.join("\n") + "\n";
            out.truncate(out.len().saturating_sub(n + 1));
            return Ok(out.into_bytes());
        } else {
            return Err(format!("unknown tamper op {op}"));
        }
    }
    let mut out = lines.join("\n");
    if !lines.is_empty() {
        out.push('\n');
    }
    Ok(out.into_bytes())
}

fn trace_summary(jsonl: &[u8]) -> Value {
    let mut types = Vec::new();
    let mut heads = Map::new();
    for line in jsonl.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(ev) = serde_json::from_slice::<Value>(line) {
            types.push(ev["event_type"].clone());
            if let (Some(s), Some(h)) = (ev["session_id"].as_str(), ev["event_hash"].as_str()) {
                heads.insert(s.to_string(), Value::String(h.to_string()));
            }
        }
    }
    json!({"count": types.len(), "event_types": types, "heads": heads})
}

/// Runs one case; `Err` carries the first failure, naming the step.
pub fn run_case(
    case: &Value,
    fixtures: &Map<String, Value>,
    root: &Path,
    driver: &mut dyn Driver,
) -> Result<(), String> {
    let mut config = json!({"deterministic": {"seed": 1}});
    if let Some(c) = case["config"].as_object() {
        for (k, v) in c {
            config[k] = v.clone();
        }
    }
    driver
        .create(&text(&config))
        .map_err(|e| format!("create: {} {}", e.code, e.message))?;
    let mut drained: Vec<u8> = Vec::new();
    for (i, step) in case["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let op = step["op"].as_str().unwrap_or("");
        let at = |m: String| format!("step {i} ({op}): {m}");
        let result: Result<Vec<u8>, DriverError> = match op {
            "load_atlas" | "load_shadow" => {
                driver.call(op, &[atlas_arg(step, fixtures, "atlas").map_err(at)?])
            }
            "load_atlas_dir" => {
                let p = root.join(step["path"].as_str().unwrap_or(""));
                driver.call(op, &[Arg::text(p.to_string_lossy().as_bytes())])
            }
            "unload_atlas" | "unload_shadow" => driver.call(op, &[id(step, "atlas_id")]),
            "resolve" | "execute" => driver.call(op, &[body(step, "request")]),
            "report" => driver.call(op, &[body(step, "report")]),
            "approve" | "reject" => driver.call(op, &[body(step, "decision")]),
            "end_session" => driver.call(op, &[body(step, "body")]),
            "approvals" => {
                let given = step.get("filter").is_some() || step.get("filter_text").is_some();
                let filter = if given {
                    body(step, "filter")
                } else {
                    Arg::json(json!({}))
                };
                driver.call(op, &[filter])
            }
            "explain" => driver.call(op, &[body(step, "request"), id(step, "action_id")]),
            "check" => driver.call(op, &[id(step, "session_id"), id(step, "action_id")]),
            "advance_clock" => {
                let micros = (step["seconds"].as_f64().unwrap_or(0.0) * 1e6).round() as i64;
                driver.call(op, &[Arg::text(micros.to_string())])
            }
            "flush" | "stats" | "drain_trace" => driver.call(op, &[]),
            "verify_trace" | "replay" => {
                let base = match step["trace_text"].as_str() {
                    Some(t) => t.as_bytes().to_vec(),
                    None => drained.clone(),
                };
                let trace = Arg::Text(tamper(&base, &step["tamper"]).map_err(at)?);
                if op == "verify_trace" {
                    driver.call(op, &[trace])
                } else {
                    let atlases: Result<Vec<Value>, String> = step["atlases"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|a| resolve_atlas(a, fixtures))
                        .collect();
                    driver.call(op, &[trace, Arg::json(Value::Array(atlases.map_err(at)?))])
                }
            }
            other => return Err(at(format!("unknown op {other:?}"))),
        };
        match (result, step.get("expect_error")) {
            (Err(e), Some(want)) => {
                if want["code"].as_str() != Some(e.code.as_str()) {
                    return Err(at(format!(
                        "expected error {} but got {} ({})",
                        want["code"], e.code, e.message
                    )));
                }
                if let Some(p) = want.get("pointer") {
                    if p.as_str() != e.pointer.as_deref() {
                        return Err(at(format!(
                            "expected pointer {p} but got {:?} ({})",
                            e.pointer, e.message
                        )));
                    }
                }
            }
            (Err(e), None) => {
                return Err(at(format!(
                    "unexpected error {} at {:?}: {}",
                    e.code, e.pointer, e.message
                )))
            }
            (Ok(out), Some(want)) => {
                return Err(at(format!(
                    "expected error {} but the call succeeded: {}",
                    want["code"],
                    String::from_utf8_lossy(&out)
                )))
            }
            (Ok(out), None) => {
                let actual: Value = if op == "drain_trace" {
                    drained.extend_from_slice(&out);
                    trace_summary(&out)
                } else {
                    serde_json::from_slice(&out)
                        .map_err(|e| at(format!("answer is not JSON: {e}")))?
                };
                if let Some(want) = step.get("expect") {
                    if let Some((p, e, a)) = mismatch(want, &actual, "") {
                        return Err(at(format!("at {p}: expected {e}, got {a}")));
                    }
                }
                if let Some(want) = step.get("expect_exact") {
                    if *want != actual {
                        return Err(at(format!("expected exactly {want}, got {actual}")));
                    }
                }
            }
        }
    }
    Ok(())
}
