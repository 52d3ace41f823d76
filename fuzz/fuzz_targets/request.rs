//! CARP requests and the other bodies a host sends on a live resolver: resolve, execute,
//! report, approve, reject, end_session and the fast path, all on one resolver loaded with the
//! example atlases, so inputs that parse go deep into the engine. The first byte picks the
//! operation; the rest is the body. Every answer must be a result or a coded error.
#![no_main]

use cra_core::{api, Resolver};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn resolver() -> &'static Resolver {
    static R: OnceLock<Resolver> = OnceLock::new();
    R.get_or_init(|| {
        let r = api::create(br#"{"deterministic":{"seed":1},"trace":{"sink":"none","overflow":"drop"}}"#)
            .expect("config");
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/atlases/");
        for dir in ["customer-support", "devops"] {
            api::load_atlas_dir(&r, format!("{root}{dir}").as_bytes()).expect("example atlas");
        }
        // A resolution to aim executes at: 00000001-0000-7000-8000-000000000004.
        api::resolve(
            &r,
            br#"{"requester":{"agent_id":"support-bot-1","session_id":"s"},"task":{"goal":"refund"},"context":{"environment":"staging"}}"#,
        )
        .expect("seed resolve");
        r
    })
}

fn checked(answer: cra_core::Result<Vec<u8>>) {
    match answer {
        Ok(bytes) => {
            serde_json::from_slice::<serde_json::Value>(&bytes).expect("answers are JSON");
        }
        Err(e) => assert!(!e.message.is_empty(), "errors carry a message"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&op, body)) = data.split_first() else {
        return;
    };
    let r = resolver();
    match op % 7 {
        0 => checked(api::resolve(r, body)),
        1 => checked(api::execute(r, body)),
        2 => checked(api::report(r, body)),
        3 => checked(api::approve(r, body)),
        4 => checked(api::reject(r, body)),
        5 => checked(api::end_session(r, body)),
        _ => {
            let (session, action) = body.split_at(body.len() / 2);
            let _ = api::check(r, session, action);
        }
    }
});
