//! Atlas documents: validation and compilation of arbitrary bytes; a document that loads is
//! resolved against once and unloaded again, so the resolver never grows.
#![no_main]

use cra_core::{api, Resolver};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn resolver() -> &'static Resolver {
    static R: OnceLock<Resolver> = OnceLock::new();
    R.get_or_init(|| {
        api::create(br#"{"deterministic":{"seed":1},"trace":{"sink":"none","overflow":"drop"}}"#)
            .expect("config")
    })
}

fuzz_target!(|data: &[u8]| {
    let r = resolver();
    match api::load_atlas(r, data) {
        Ok(info) => {
            let info: serde_json::Value =
                serde_json::from_slice(&info).expect("atlas info is JSON");
            let id = info["atlas_id"]
                .as_str()
                .expect("atlas info names the atlas");
            let _ = api::resolve(
                r,
                br#"{"requester":{"agent_id":"fuzz-agent","session_id":"fuzz"},"task":{"goal":"anything"}}"#,
            );
            api::unload_atlas(r, id.as_bytes()).expect("a loaded atlas unloads");
        }
        Err(e) => assert!(!e.message.is_empty(), "errors carry a message"),
    }
});
