//! The HTTP trace sink against a real HTTP/1.1 receiver on 127.0.0.1 (a std `TcpListener` in a
//! thread): delivery byte-identical to the file sink, retries, permanent refusals, the spool
//! (receiver down, restart, torn segment, full), flush with the receiver down, TLS errors, config.
//!
//! No assertion depends on timing: every wait is bounded and polls a condition.

mod common;
use common::*;
use cra_core::trace::{verify_jsonl, TraceEvent};
use cra_core::{ErrorCode, Resolver};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

// --- the receiver -------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
    /// The decoded (gunzipped) body.
    body: Vec<u8>,
    /// What the receiver answered (0: closed the connection instead).
    status: u16,
}

/// A planned answer: status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, String);

#[derive(Default)]
struct RecvState {
    /// While set, every request is read and the connection closed without an answer.
    down: AtomicBool,
    /// Planned answers (status, extra headers, body), used in order; then 202.
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<Request>>,
}

struct Receiver {
    addr: SocketAddr,
    state: Arc<RecvState>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(RecvState::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Receiver {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    fn set_down(&self, down: bool) {
        self.state.down.store(down, SeqCst);
    }

    fn plan(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.state.script.lock().unwrap().push_back((
            status,
            headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body.to_string(),
        ));
    }

    fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The bodies answered 2xx, concatenated in arrival order.
    fn accepted(&self) -> Vec<u8> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| r.body)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one connection: requests with a Content-Length body, keep-alive.
fn serve(conn: TcpStream, s: &RecvState) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut w = conn.try_clone().expect("clone");
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let (Some("POST"), Some(path)) = (parts.next(), parts.next()) else {
            return; // not our client (a TLS hello, ...): hang up
        };
        let path = path.to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').expect("header");
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let len: usize = headers["content-length"].parse().expect("length");
        let mut raw = vec![0u8; len];
        if r.read_exact(&mut raw).is_err() {
            return;
        }
        if s.down.load(SeqCst) {
            s.requests.lock().unwrap().push(Request {
                path,
                headers,
                body: Vec::new(),
                status: 0,
            });
            return;
        }
        let body = match headers.get("content-encoding").map(String::as_str) {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_end(&mut out)
                    .expect("gunzip");
                out
            }
            None => raw,
            Some(other) => panic!("unexpected encoding {other}"),
        };
        let (status, extra, text) =
            s.script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((202, Vec::new(), "{}".into()));
        s.requests.lock().unwrap().push(Request {
            path,
            headers,
            body,
            status,
        });
        let mut resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
            text.len()
        );
        for (k, v) in extra {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        resp.push_str("\r\n");
        resp.push_str(&text);
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A local port with nothing listening (connections are refused).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

// --- helpers ------------------------------------------------------------------------------------

/// Polls `cond` until it holds; panics after a minute (a bound, not a timing assertion).
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn http_settings(url: &str, extra: Value) -> Value {
    let mut h = json!({
        "url": url,
        "token": "t0ken-123",
        "batch_max_events": 25,
        "batch_max_delay_ms": 20,
        "timeout_ms": 5000,
        "max_retries": 2,
        "backoff_initial_ms": 5,
        "backoff_max_ms": 50,
    });
    for (k, v) in extra.as_object().expect("object") {
        h[k] = v.clone();
    }
    h
}

fn config(seed: u32, trace: Value) -> Vec<u8> {
    let mut t = json!({"batch_size": 16, "flush_interval_ms": 10});
    for (k, v) in trace.as_object().expect("object") {
        t[k] = v.clone();
    }
    serde_json::to_vec(&json!({"deterministic": {"seed": seed}, "trace": t})).unwrap()
}

fn http_resolver(seed: u32, url: &str, extra: Value, trace_extra: Value) -> Resolver {
    let mut trace = json!({"sink": "http", "http": http_settings(url, extra)});
    for (k, v) in trace_extra.as_object().expect("object") {
        trace[k] = v.clone();
    }
    let r = Resolver::from_config_json(&config(seed, trace)).expect("resolver");
    load(
        &r,
        &allow_all("com.acme.shop", &["orders.get", "orders.refund"]),
    );
    r
}

/// Real resolver traffic: per session some resolves and an execute; every other session ends.
fn traffic(r: &Resolver, tag: &str, sessions: usize, rounds: usize) {
    for s in 0..sessions {
        let sid = format!("{tag}-s{s}");
        for _ in 0..rounds {
            let res = r
                .resolve(req("agent-1", &sid, "look up orders"))
                .expect("resolve");
            let id = res.resolution_id.clone();
            r.execute(exec("agent-1", &sid, &id, "orders.get", json!({"n": s})))
                .expect("execute");
        }
        if s % 2 == 0 {
            r.end_session(&sid, None).expect("end");
        }
    }
}

/// What the file sink writes for the same seed and traffic (the reference bytes).
fn reference(seed: u32, runs: &[(&str, usize, usize)]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ref.jsonl");
    let trace = json!({"sink": "file", "path": path.to_string_lossy()});
    let r = Resolver::from_config_json(&config(seed, trace)).expect("resolver");
    load(
        &r,
        &allow_all("com.acme.shop", &["orders.get", "orders.refund"]),
    );
    for (tag, s, n) in runs {
        traffic(&r, tag, *s, *n);
    }
    r.close().expect("close");
    std::fs::read(&path).expect("read")
}

fn http_stats(r: &Resolver) -> Value {
    serde_json::to_value(r.stats()).unwrap()["trace"]["http"].clone()
}

fn events(bytes: &[u8]) -> Vec<TraceEvent> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("event"))
        .collect()
}

fn lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// The spool's segments, concatenated in order.
fn spool_bytes(dir: &Path) -> Vec<u8> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("spool dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    names
        .iter()
        .flat_map(|n| std::fs::read(dir.join(n)).expect("segment"))
        .collect()
}

fn wait_delivered(r: &Resolver) {
    wait_for("the spool and queue to empty", || {
        let h = http_stats(r);
        h["spool_events"] == 0 && h["queued_events"] == 0
    });
}

// --- tests --------------------------------------------------------------------------------------

#[test]
fn delivers_resolver_traffic_byte_identical_to_the_file_sink() {
    let expected = reference(11, &[("a", 6, 5)]);
    for compression in ["gzip", "none"] {
        let rx = Receiver::start();
        let r = http_resolver(
            11,
            &rx.url(),
            json!({"compression": compression}),
            json!({}),
        );
        traffic(&r, "a", 6, 5);
        r.flush(Duration::from_secs(60)).expect("flush");
        let got = rx.accepted();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{compression}"
        );
        let report = verify_jsonl(&got);
        assert!(report.ok, "{report:?}");
        let reqs = rx.requests();
        assert!(reqs.len() > 1, "several batches expected");
        for q in &reqs {
            assert_eq!(q.path, "/v1/traces");
            assert_eq!(q.headers["content-type"], "application/x-ndjson");
            assert_eq!(q.headers["authorization"], "Bearer t0ken-123");
            assert_eq!(q.headers["host"], rx.addr.to_string());
            assert_eq!(
                q.headers.get("content-encoding").map(String::as_str),
                (compression == "gzip").then_some("gzip")
            );
            assert!(lines(&q.body) <= 25, "batch_max_events");
        }
        let h = http_stats(&r);
        assert_eq!(h["sent_events"], lines(&expected) as u64);
        assert_eq!(h["sent_batches"], reqs.len() as u64);
        assert_eq!(h["retried"], 0);
        assert_eq!(h["dropped"], 0);
        assert_eq!(h["last_status"], 202);
        assert_eq!(
            serde_json::to_value(r.stats()).unwrap()["trace"]["dropped"],
            0
        );
        r.close().expect("close");
    }
}

#[test]
fn retries_503_and_429_honouring_retry_after_then_delivers_once() {
    let rx = Receiver::start();
    rx.plan(503, &[("Retry-After", "1")], "busy");
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(1));
    rx.plan(429, &[("Retry-After", &date)], "slow down");
    let r = http_resolver(12, &rx.url(), json!({"timeout_ms": 30000}), json!({}));
    traffic(&r, "b", 3, 3);
    r.flush(Duration::from_secs(60)).expect("flush");
    let expected = reference(12, &[("b", 3, 3)]);
    assert_eq!(rx.accepted(), expected);
    // Each event arrived (was accepted) once.
    let mut ids: Vec<_> = events(&rx.accepted())
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    let reqs = rx.requests();
    assert_eq!(reqs[0].status, 503);
    assert_eq!(reqs[1].status, 429);
    // The first batch was sent three times, byte-identical.
    assert_eq!(reqs[0].body, reqs[2].body);
    assert_eq!(reqs[1].body, reqs[2].body);
    let h = http_stats(&r);
    assert_eq!(h["retried"], 2);
    assert_eq!(h["sent_batches"], reqs.len() as u64 - 2);
    assert_eq!(h["last_status"], 202);
    let t = &serde_json::to_value(r.stats()).unwrap()["trace"];
    assert_eq!(t["sink_errors"], 2);
    assert_eq!(t["dropped"], 0);
}

#[test]
fn a_400_is_not_retried_counted_and_reported_as_a_gap() {
    let rx = Receiver::start();
    rx.plan(400, &[], r#"{"error":"bad line 1"}"#);
    let r = http_resolver(13, &rx.url(), json!({}), json!({}));
    // One open session: its next events follow the gap.
    let sid = "open-1";
    for _ in 0..3 {
        r.resolve(req("agent-1", sid, "g")).expect("resolve");
    }
    r.flush(Duration::from_secs(60)).expect("flush");
    let refused = rx.requests()[0].clone();
    assert_eq!(refused.status, 400);
    let lost = lines(&refused.body) as u64;
    assert!(lost > 0);
    let h = http_stats(&r);
    assert_eq!(h["rejected_batches"], 1);
    assert_eq!(h["dropped"], lost);
    assert_eq!(h["retried"], 0);
    // The batches after the refused one (how many depends on the batch timer) were accepted.
    let last = rx.requests().last().map(|q| q.status);
    assert_eq!(h["last_status"].as_u64(), last.map(u64::from));
    let t = serde_json::to_value(r.stats()).unwrap()["trace"].clone();
    assert_eq!(t["dropped_by_reason"]["sink_rejected"], lost);
    assert_eq!(t["dropped"], lost);
    let err = t["last_sink_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("HTTP 400") && err.contains("bad line 1"),
        "{err}"
    );
    // More traffic: the session's chain records the loss.
    r.resolve(req("agent-1", sid, "g")).expect("resolve");
    r.flush(Duration::from_secs(60)).expect("flush");
    let reqs = rx.requests();
    // Not retried: the refused batch was sent once.
    assert_eq!(reqs.iter().filter(|q| q.body == refused.body).count(), 1);
    let got = events(&rx.accepted());
    let gap = got
        .iter()
        .find(|e| e.event_type == "trace.gap")
        .expect("a trace.gap event");
    assert_eq!(gap.session_id, sid);
    assert_eq!(gap.payload["reason"], "sink_rejected");
    assert_eq!(gap.payload["dropped"], lost);
    // The received chain lacks the refused events: it starts after them.
    assert_eq!(got[0].sequence, lost);
}

#[test]
fn receiver_down_spools_then_delivers_in_order_when_it_returns() {
    let rx = Receiver::start();
    rx.set_down(true);
    let spool = tempfile::tempdir().expect("tempdir");
    let r = http_resolver(
        14,
        &rx.url(),
        json!({"spool_dir": spool.path().to_string_lossy(), "queue_max_batches": 2}),
        json!({}),
    );
    traffic(&r, "c", 4, 4);
    // Flush returns once everything is on disk.
    r.flush(Duration::from_secs(60)).expect("flush while down");
    let first = reference(14, &[("c", 4, 4)]);
    let h = http_stats(&r);
    assert_eq!(h["spool_events"], lines(&first) as u64);
    assert_eq!(h["sent_events"], 0);
    assert_eq!(spool_bytes(spool.path()), first);
    assert!(h["retried"].as_u64().unwrap_or(0) >= 1);
    rx.set_down(false);
    traffic(&r, "d", 3, 2);
    r.flush(Duration::from_secs(60)).expect("flush");
    wait_delivered(&r);
    let expected = reference(14, &[("c", 4, 4), ("d", 3, 2)]);
    assert_eq!(rx.accepted(), expected);
    assert!(verify_jsonl(&rx.accepted()).ok);
    assert_eq!(spool_bytes(spool.path()), b"");
    let h = http_stats(&r);
    assert_eq!(h["sent_events"], lines(&expected) as u64);
    assert_eq!(h["dropped"], 0);
}

#[test]
fn spool_survives_a_restart_and_is_resent_first() {
    let rx = Receiver::start();
    rx.set_down(true);
    let spool = tempfile::tempdir().expect("tempdir");
    let extra = json!({"spool_dir": spool.path().to_string_lossy()});
    {
        let r = http_resolver(15, &rx.url(), extra.clone(), json!({}));
        traffic(&r, "e", 3, 3);
        // Dropping the resolver closes it: flushed, so spooled.
    }
    let first = reference(15, &[("e", 3, 3)]);
    assert_eq!(spool_bytes(spool.path()), first);
    rx.set_down(false);
    let r = http_resolver(16, &rx.url(), extra, json!({}));
    traffic(&r, "f", 2, 2);
    r.flush(Duration::from_secs(60)).expect("flush");
    wait_delivered(&r);
    let mut expected = first;
    expected.extend(reference(16, &[("f", 2, 2)]));
    assert_eq!(rx.accepted(), expected);
    assert!(verify_jsonl(&rx.accepted()).ok);
    assert_eq!(spool_bytes(spool.path()), b"");
}

#[test]
fn a_torn_spool_segment_is_repaired_then_sent() {
    let full = reference(17, &[("g", 3, 3)]);
    let ls: Vec<&[u8]> = full.split_inclusive(|&b| b == b'\n').collect();
    assert!(ls.len() > 10);
    let spool = tempfile::tempdir().expect("tempdir");
    let seg = |seq: u64| spool.path().join(format!("{seq:020}.jsonl"));
    // Segment 1 whole; segment 2 torn mid-line (a crash during its write); segment 3 ends in a
    // complete line that is not an event; segment 4 holds only a torn line.
    std::fs::write(seg(1), ls[..4].concat()).unwrap();
    let mut torn = ls[4..8].concat();
    torn.extend_from_slice(&ls[8][..ls[8].len() / 2]);
    std::fs::write(seg(2), &torn).unwrap();
    let mut junk = ls[8..10].concat();
    junk.extend_from_slice(b"{\"event_hash\":\"ab\n");
    std::fs::write(seg(3), &junk).unwrap();
    std::fs::write(seg(4), &ls[10][..20]).unwrap();
    let rx = Receiver::start();
    let r = http_resolver(
        18,
        &rx.url(),
        json!({"spool_dir": spool.path().to_string_lossy()}),
        json!({}),
    );
    wait_delivered(&r);
    assert_eq!(rx.accepted(), ls[..10].concat());
    assert!(verify_jsonl(&rx.accepted()).ok);
    let h = http_stats(&r);
    assert_eq!(h["sent_events"], 10);
    assert_eq!(
        h["spool_repaired_bytes"],
        (ls[8].len() / 2 + "{\"event_hash\":\"ab\n".len() + 20) as u64
    );
    assert_eq!(spool_bytes(spool.path()), b"");
}

#[test]
fn spool_full_drops_are_counted_and_visible_as_gaps() {
    let rx = Receiver::start();
    rx.set_down(true);
    let spool = tempfile::tempdir().expect("tempdir");
    let r = http_resolver(
        19,
        &rx.url(),
        json!({"spool_dir": spool.path().to_string_lossy(), "spool_max_bytes": 65536,
               "queue_max_batches": 1}),
        json!({"overflow": "drop"}),
    );
    traffic(&r, "h", 8, 20);
    // Let the collector take in everything recorded while the receiver is down.
    wait_for("the collector queue to empty", || {
        serde_json::to_value(r.stats()).unwrap()["trace"]["queued"] == 0
    });
    let dropped_while_down = serde_json::to_value(r.stats()).unwrap()["trace"]["dropped_by_reason"]
        ["sink_full"]
        .as_u64()
        .unwrap_or(0);
    assert!(dropped_while_down > 0, "{:?}", r.stats());
    assert!(http_stats(&r)["spool_bytes"].as_u64().unwrap_or(0) <= 65536);
    rx.set_down(false);
    r.flush(Duration::from_secs(60)).expect("flush");
    wait_delivered(&r);
    // A gap waits for room in the sink: the first flush may have run while the spool was still
    // full; now that it is empty, a second one writes every pending gap.
    r.flush(Duration::from_secs(60)).expect("flush");
    wait_delivered(&r);
    let got = rx.accepted();
    let report = verify_jsonl(&got);
    assert!(report.ok, "{report:?}");
    let evs = events(&got);
    let gap_total: u64 = evs
        .iter()
        .filter(|e| e.event_type == "trace.gap")
        .map(|e| e.payload["dropped"].as_u64().unwrap_or(0))
        .sum();
    let t = serde_json::to_value(r.stats()).unwrap()["trace"].clone();
    assert_eq!(gap_total, t["dropped"].as_u64().unwrap_or(0), "{t}");
    assert!(gap_total >= dropped_while_down);
    // Every recorded event arrived or is counted in a gap.
    let recorded = lines(&reference(19, &[("h", 8, 20)])) as u64;
    let arrived = evs.iter().filter(|e| e.event_type != "trace.gap").count() as u64;
    assert_eq!(arrived + gap_total, recorded);
    assert_eq!(http_stats(&r)["dropped"], 0);
}

#[test]
fn flush_with_the_receiver_down_returns_once_spooled() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let spool = tempfile::tempdir().expect("tempdir");
    let r = http_resolver(
        20,
        &url,
        json!({"spool_dir": spool.path().to_string_lossy()}),
        json!({}),
    );
    traffic(&r, "i", 3, 3);
    r.flush(Duration::from_secs(60)).expect("flush");
    let expected = reference(20, &[("i", 3, 3)]);
    assert_eq!(spool_bytes(spool.path()), expected);
    let h = http_stats(&r);
    assert_eq!(h["spool_events"], lines(&expected) as u64);
    assert_eq!(h["spooled_events"], lines(&expected) as u64);
    assert_eq!(h["sent_events"], 0);
    let err = serde_json::to_value(r.stats()).unwrap()["trace"]["last_sink_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(err.contains("cannot connect"), "{err}");
    // A second resolver may not share the spool.
    let e = Resolver::from_config_json(&config(
        21,
        json!({"sink": "http", "http": http_settings(&url, json!({"spool_dir": spool.path().to_string_lossy()}))}),
    ))
    .expect_err("spool is locked");
    assert_eq!(e.code, ErrorCode::TraceFileLocked);
}

#[test]
fn without_a_spool_a_dead_receiver_makes_flush_time_out_with_the_cause() {
    let rx = Receiver::start();
    rx.set_down(true);
    let r = http_resolver(22, &rx.url(), json!({"timeout_ms": 200}), json!({}));
    traffic(&r, "j", 2, 2);
    let e = r
        .flush(Duration::from_millis(500))
        .expect_err("the receiver hangs up");
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(
        e.message
            .contains("closed the connection without answering"),
        "{}",
        e.message
    );
    // Nothing was lost: once the receiver answers, everything arrives, in order.
    rx.set_down(false);
    r.flush(Duration::from_secs(60)).expect("flush");
    assert_eq!(rx.accepted(), reference(22, &[("j", 2, 2)]));
    assert_eq!(
        serde_json::to_value(r.stats()).unwrap()["trace"]["dropped"],
        0
    );
}

#[test]
fn https_errors_are_clean() {
    let spool = tempfile::tempdir().expect("tempdir");
    let last_error = |r: &Resolver| {
        serde_json::to_value(r.stats()).unwrap()["trace"]["last_sink_error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // A closed port: refused, reported, spooled.
    let url = format!("https://127.0.0.1:{}/v1/traces", closed_port());
    let extra = json!({"timeout_ms": 500, "spool_dir": spool.path().to_string_lossy()});
    let r = http_resolver(23, &url, extra.clone(), json!({}));
    traffic(&r, "k", 1, 1);
    r.flush(Duration::from_secs(60)).expect("spooled");
    let err = last_error(&r);
    assert!(err.contains("cannot connect"), "{err}");
    assert_eq!(http_stats(&r)["sent_events"], 0);
    drop(r);
    // A plain-HTTP server: the TLS handshake fails.
    let rx = Receiver::start();
    let url = format!("https://{}/v1/traces", rx.addr);
    let r = http_resolver(24, &url, extra, json!({}));
    traffic(&r, "k", 1, 1);
    r.flush(Duration::from_secs(60)).expect("spooled");
    let err = last_error(&r);
    assert!(err.contains("TLS"), "{err}");
    assert!(rx.accepted().is_empty());
    drop(r);
    // A CA file that is not PEM.
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let e = Resolver::from_config_json(&config(
        25,
        json!({"sink": "http", "http": http_settings(&url, json!({"ca_file": ca.to_string_lossy()}))}),
    ))
    .expect_err("bad ca_file");
    assert_eq!(e.pointer.as_deref(), Some("/http/ca_file"));
}

#[test]
fn config_errors_point_at_the_field() {
    let check = |trace: Value, pointer: &str| {
        let e =
            Resolver::from_config_json(&config(1, trace.clone())).expect_err(&trace.to_string());
        assert_eq!(e.code, ErrorCode::InvalidConfig, "{trace}: {e}");
        assert_eq!(e.pointer.as_deref(), Some(pointer), "{trace}: {e}");
    };
    let url = "http://127.0.0.1:9/";
    check(json!({"sink": "http"}), "/trace/http");
    check(
        json!({"sink": "memory", "http": {"url": url}}),
        "/trace/http",
    );
    check(json!({"sink": "http", "http": [url]}), "/trace/http");
    check(
        json!({"sink": "http", "http": {"url": "ftp://x"}}),
        "/trace/http/url",
    );
    check(json!({"sink": "http", "http": {}}), "/trace/http/url");
    check(
        json!({"sink": "http", "http": {"url": url, "bogus": 1}}),
        "/trace/http/bogus",
    );
    check(
        json!({"sink": "http", "http": {"url": url, "compression": "brotli"}}),
        "/trace/http/compression",
    );
    check(
        json!({"sink": "http", "http": {"url": url, "batch_max_events": 0}}),
        "/trace/http/batch_max_events",
    );
    check(
        json!({"sink": "http", "http": {"url": url, "spool_max_bytes": 1}}),
        "/trace/http/spool_max_bytes",
    );
    check(
        json!({"sink": "http", "http": {"url": url, "token": "a\r\nX-Evil: 1"}}),
        "/trace/http/token",
    );
    check(
        json!({"sink": "http", "path": "/tmp/x", "http": {"url": url}}),
        "/trace/path",
    );
    // token_env is read when the resolver is created.
    let e = Resolver::from_config_json(&config(
        1,
        json!({"sink": "http", "http": {"url": url, "token_env": "CRA_TEST_NO_SUCH_VARIABLE_7"}}),
    ))
    .expect_err("unset variable");
    assert_eq!(e.pointer.as_deref(), Some("/http/token_env"));
    assert!(e.message.contains("CRA_TEST_NO_SUCH_VARIABLE_7"), "{e}");
    // A valid config with every field.
    let spool = tempfile::tempdir().expect("tempdir");
    let all = json!({"sink": "http", "http": {
        "url": url, "token_env": "PATH", "batch_max_events": 100, "batch_max_bytes": 65536,
        "batch_max_delay_ms": 50, "compression": "none", "timeout_ms": 1000, "max_retries": 0,
        "backoff_initial_ms": 10, "backoff_max_ms": 10, "queue_max_batches": 4,
        "spool_dir": spool.path().to_string_lossy(), "spool_max_bytes": 1048576}});
    let cfg = cra_core::ResolverConfig::from_json(&config(1, all)).expect("valid");
    let h = cfg.trace.http.as_ref().expect("http");
    assert_eq!(h.batch_max_events, 100);
    // The token never shows in Debug output.
    let dbg = format!(
        "{:?}",
        cra_core::trace::HttpConfig {
            token: Some("s3cr3t".into()),
            ..h.clone()
        }
    );
    assert!(!dbg.contains("s3cr3t"));
}

#[test]
fn many_threads_one_receiver_every_event_once() {
    let rx = Receiver::start();
    let r = Arc::new(http_resolver(26, &rx.url(), json!({}), json!({})));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = r.clone();
            std::thread::spawn(move || traffic(&r, &format!("t{t}"), 5, 5))
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    r.flush(Duration::from_secs(60)).expect("flush");
    let got = rx.accepted();
    let report = verify_jsonl(&got);
    assert!(report.ok, "{report:?}");
    // Same count as one thread doing the same work.
    let expected = lines(&reference(
        26,
        &[("t0", 5, 5), ("t1", 5, 5), ("t2", 5, 5), ("t3", 5, 5)],
    ));
    assert_eq!(lines(&got), expected);
    assert_eq!(report.sessions, 20);
    let mut ids: Vec<_> = events(&got).into_iter().map(|e| e.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected);
}

#[test]
fn memory_sink_stats_have_no_http_section() {
    let r = Resolver::from_config_json(b"{}").expect("resolver");
    assert!(serde_json::to_value(r.stats()).unwrap()["trace"]
        .get("http")
        .is_none());
}

#[test]
fn receipts_from_a_receiver_without_a_log_are_unavailable_and_ask_nothing() {
    // The receiver answers `{}` (no log positions): every batch is delivered as before, counts
    // in receipts_unavailable, and the receipts thread sends no request at all.
    let dir = tempfile::tempdir().expect("tempdir");
    let receipts = dir.path().join("receipts.jsonl");
    let rx = Receiver::start();
    let r = http_resolver(
        21,
        &rx.url(),
        json!({"receipts_file": receipts.to_string_lossy()}),
        json!({}),
    );
    traffic(&r, "a", 4, 3);
    r.flush(Duration::from_secs(60)).expect("flush");
    wait_for("every batch settled", || {
        let h = http_stats(&r);
        h["queued_events"] == 0 && h["receipts_unavailable"] == h["sent_batches"]
    });
    let h = http_stats(&r);
    assert!(h["sent_batches"].as_u64().expect("n") > 1, "{h}");
    assert_eq!(h["receipts_written"], 0, "{h}");
    assert_eq!(h["receipts_failed"], 0, "{h}");
    assert_eq!(h["receipts_pending"], 0, "{h}");
    assert_eq!(
        serde_json::to_value(r.stats()).unwrap()["trace"]["sink_errors"],
        0
    );
    r.close().expect("close");
    assert!(rx.requests().iter().all(|q| q.path == "/v1/traces"));
    assert_eq!(std::fs::metadata(&receipts).expect("file").len(), 0);
}

#[test]
fn receipts_config_errors_point_at_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("r.jsonl").to_string_lossy().into_owned();
    let check = |http: Value, pointer: &str| {
        let trace = json!({"sink": "http", "http": http});
        let e =
            Resolver::from_config_json(&config(1, trace.clone())).expect_err(&trace.to_string());
        assert_eq!(e.pointer.as_deref(), Some(pointer), "{trace}: {e}");
    };
    let url = "http://127.0.0.1:9/v1/traces";
    check(
        json!({"url": "http://127.0.0.1:9/ingest", "receipts_file": file}),
        "/trace/http/receipts_file",
    );
    check(
        json!({"url": url, "receipts_file": ""}),
        "/trace/http/receipts_file",
    );
    check(
        json!({"url": url, "receipts_file": file, "receipts_max_pending": 0}),
        "/trace/http/receipts_max_pending",
    );
    check(
        json!({"url": url, "receipts_file": file, "receipts_max_bytes": 10}),
        "/trace/http/receipts_max_bytes",
    );
    check(
        json!({"url": url, "receipts_file": file, "receipts_max_wait_ms": 5}),
        "/trace/http/receipts_max_wait_ms",
    );
    // opened when the resolver is created (as token_env is read): the sink's own pointer
    let missing = dir.path().join("no-such-dir").join("r.jsonl");
    check(
        json!({"url": url, "receipts_file": missing.to_string_lossy()}),
        "/http/receipts_file",
    );
}
