//! A driver over `cra_core::api` (the reference implementation of the JSON surface).

use crate::driver::{Arg, Driver, DriverError};
use cra_core::{api, CraError, Resolver};

/// Runs operations directly on the core API.
#[derive(Default)]
pub struct CoreDriver {
    resolver: Option<Resolver>,
}

fn err(e: CraError) -> DriverError {
    DriverError {
        code: e.code.as_str().to_string(),
        pointer: e.pointer,
        message: e.message,
    }
}

fn arg(args: &[Arg], i: usize) -> &[u8] {
    args.get(i).map(Arg::bytes).unwrap_or_default()
}

impl Driver for CoreDriver {
    fn name(&self) -> &str {
        "core"
    }

    fn create(&mut self, config: &[u8]) -> Result<(), DriverError> {
        self.resolver = None;
        self.resolver = Some(api::create(config).map_err(err)?);
        Ok(())
    }

    fn call(&mut self, op: &str, args: &[Arg]) -> Result<Vec<u8>, DriverError> {
        match op {
            "verify_trace" => return api::verify_trace(arg(args, 0)).map_err(err),
            "replay" => return api::replay(arg(args, 0), arg(args, 1)).map_err(err),
            _ => {}
        }
        let r = self.resolver.as_ref().ok_or_else(|| DriverError {
            code: "INTERNAL".into(),
            pointer: None,
            message: "no resolver".into(),
        })?;
        let out = match op {
            "load_atlas" => api::load_atlas(r, arg(args, 0)),
            "load_atlas_dir" => api::load_atlas_dir(r, arg(args, 0)),
            "unload_atlas" => api::unload_atlas(r, arg(args, 0)),
            "resolve" => api::resolve(r, arg(args, 0)),
            "execute" => api::execute(r, arg(args, 0)),
            "report" => api::report(r, arg(args, 0)),
            "approve" => api::approve(r, arg(args, 0)),
            "reject" => api::reject(r, arg(args, 0)),
            "end_session" => api::end_session(r, arg(args, 0)),
            "approvals" => api::approvals(r, arg(args, 0)),
            "load_shadow" => api::load_shadow(r, arg(args, 0)),
            "unload_shadow" => api::unload_shadow(r, arg(args, 0)),
            "explain" => api::explain(r, arg(args, 0), arg(args, 1)),
            "check" => api::check(r, arg(args, 0), arg(args, 1))
                .map(|v| format!("\"{}\"", v.as_str()).into_bytes()),
            "flush" => api::flush(r, 10_000).map(|_| b"null".to_vec()),
            "drain_trace" => api::drain_trace(r),
            "stats" => api::stats(r),
            "advance_clock" => {
                let micros = std::str::from_utf8(arg(args, 0))
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(-1);
                api::advance_clock(r, micros).map(|_| b"null".to_vec())
            }
            other => {
                return Err(DriverError {
                    code: "INTERNAL".into(),
                    pointer: None,
                    message: format!("unknown op {other:?}"),
                })
            }
        };
        out.map_err(err)
    }

    fn close(&mut self) {
        self.resolver = None;
    }
}
