use cra_core::api;
use std::time::Instant;
fn main() {
    let atlas = std::fs::read("/tmp/atlas100.json").unwrap();
    let r = api::create(
        br#"{"max_resolutions_per_session":64,"trace":{"sink":"none","overflow":"drop"}}"#,
    )
    .unwrap();
    api::load_atlas(&r, &atlas).unwrap();
    let req = br#"{"requester":{"agent_id":"bench-agent","session_id":"bench-session"},"task":{"goal":"help with a refund","required_capabilities":["cap0"]}}"#;
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200000);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let out = api::resolve(&r, req).unwrap();
        std::hint::black_box(&out);
        v.push(t.elapsed().as_nanos());
    }
    v.sort();
    println!("api::resolve p50 {} p99 {}", v[n / 2], v[n * 99 / 100]);
    let parsed = cra_core::CarpRequest::from_json(req).unwrap();
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let q = cra_core::CarpRequest::from_json(req).unwrap();
        std::hint::black_box(&q);
        v.push(t.elapsed().as_nanos());
    }
    v.sort();
    println!("parse p50 {} p99 {}", v[n / 2], v[n * 99 / 100]);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let q = r.resolve(parsed.clone()).unwrap();
        std::hint::black_box(&q);
        v.push(t.elapsed().as_nanos());
    }
    v.sort();
    println!("typed resolve p50 {} p99 {}", v[n / 2], v[n * 99 / 100]);
    let res = r.resolve(parsed.clone()).unwrap();
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let q = serde_json::to_vec(&*res).unwrap();
        std::hint::black_box(&q);
        v.push(t.elapsed().as_nanos());
    }
    v.sort();
    println!("serialize p50 {} p99 {}", v[n / 2], v[n * 99 / 100]);
}
