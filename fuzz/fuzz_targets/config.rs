//! Resolver configurations: parse and check arbitrary bytes; a valid configuration that does not
//! name a file sink (the fuzzer must not write files where it likes) creates a resolver, which
//! is then closed.
#![no_main]

use cra_core::{api, ResolverConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ResolverConfig::from_json(data) {
        Ok(cfg) if cfg.trace.path.is_none() => {
            let r = api::create(data).expect("a checked configuration creates a resolver");
            api::close(&r).expect("close");
        }
        Ok(_) => {}
        Err(e) => assert!(!e.message.is_empty(), "errors carry a message"),
    }
});
