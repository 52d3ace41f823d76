//! # cra-core
//!
//! The CRA engine: load **atlases** (actions, context packs, policies), **resolve** CARP requests
//! into permitted actions and context in about a microsecond, **authorize** each tool call with
//! rate limits and approvals, and record every step as a **TRACE** hash chain off the hot path.
//!
//! The wire formats and policy semantics are specified in `docs/protocol.md` and `docs/trace.md`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod atlas;
pub mod clock;
pub mod engine;
pub mod error;
pub mod fork;
pub mod ids;
pub mod protocol;
mod sort;
pub mod trace;

pub use engine::{AtlasInfo, FastVerdict, Resolution, Resolver, ResolverConfig};
pub use error::{CraError, ErrorCode, Family, Problem, Result};
pub use protocol::{CarpRequest, ExecuteAnswer, ExecuteStatus, RiskTier};
