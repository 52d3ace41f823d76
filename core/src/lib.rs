//! # cra-core
//!
//! The CRA engine: load **atlases** (actions, context packs, policies), **resolve** CARP requests
//! into permitted actions and context in about a microsecond, **authorize** each tool call with
//! rate limits and approvals, and record every step as a **TRACE** hash chain off the hot path.
//!
//! ## Quick start
//!
//! One [`Resolver`] per process (it is `Send + Sync`; share it behind an `Arc`). Load an atlas,
//! resolve a request, authorize a tool call, report its outcome, and read the trace:
//!
//! ```
//! use cra_core::trace::verify_jsonl;
//! use cra_core::{CarpRequest, ExecuteStatus, ExecutionReport, Resolver, ResolverConfig};
//! use serde_json::json;
//!
//! # fn main() -> cra_core::Result<()> {
//! // The default trace sink keeps the JSONL in memory until drained (see `trace::TraceConfig`
//! // for a file or an HTTP receiver).
//! let resolver = Resolver::new(ResolverConfig::default())?;
//!
//! let atlas = json!({
//!     "atlas_version": "1.0",
//!     "atlas_id": "com.example.shop",
//!     "version": "1.0.0",
//!     "name": "Shop",
//!     "description": "Orders and refunds",
//!     "actions": [
//!         {"action_id": "orders.get", "name": "Get an order", "description": "Reads an order"}
//!     ],
//!     "policies": [
//!         {"policy_id": "allow-reads", "type": "allow", "actions": ["orders.*"]}
//!     ]
//! });
//! let info = resolver.load_atlas_json(atlas.to_string().as_bytes())?;
//! assert_eq!(info.actions, 1);
//!
//! // Resolve: which actions may this agent use for this task?
//! let request = CarpRequest::resolve("support-bot", "session-1", "look up an order");
//! let resolution = resolver.resolve(request)?;
//! assert_eq!(resolution.allowed_action_ids(), ["orders.get"]);
//!
//! // Authorize one tool call under that resolution, run the tool, report the outcome.
//! let answer = resolver.execute(CarpRequest::execute(
//!     "support-bot",
//!     "session-1",
//!     &resolution.resolution_id,
//!     "orders.get",
//!     json!({"order_id": "A-1"}),
//! ))?;
//! assert_eq!(answer.status, ExecuteStatus::Authorized);
//! let receipt = resolver.report(&ExecutionReport {
//!     execution_id: answer.execution_id.clone().unwrap(),
//!     result: Some(json!({"status": "shipped"})),
//!     error: None,
//!     duration_ms: Some(12.0),
//! })?;
//! assert_eq!(receipt.action_id, "orders.get");
//! resolver.end_session("session-1", None)?;
//!
//! // The trace: one hash chain per session, verifiable by anyone holding the JSONL.
//! let jsonl = resolver.drain_trace()?;
//! let report = verify_jsonl(&jsonl);
//! assert!(report.ok);
//! assert_eq!(report.sessions, 1);
//! assert_eq!(resolver.stats().authorized, 1);
//! # Ok(())
//! # }
//! ```
//!
//! ## What is here
//!
//! - [`Resolver`] and its configuration [`ResolverConfig`]: `resolve`, `execute`, `report`,
//!   approvals ([`Resolver::approve`], [`Resolver::approvals`]), the fast path
//!   ([`Resolver::check`] → [`FastVerdict`]), `explain`, shadow atlases, sessions, `stats`.
//! - Requests and answers: [`CarpRequest`], [`Resolution`], [`ExecuteAnswer`],
//!   [`ExecutionReport`], [`ApprovalDecision`], [`ApprovalRecord`], [`Explanation`], ...
//! - Errors: every failure is a [`CraError`] with a stable [`ErrorCode`] (and its [`Family`]).
//! - [`atlas`]: atlas manifests and loading them from text, files or a directory.
//! - [`trace`]: trace configuration and sinks, the event format, verification.
//! - [`replay`]: re-judge a recorded trace against other atlases.
//! - [`api`]: the JSON-in/JSON-out surface every binding (C ABI, Python, Node, WASM) calls;
//!   the same bytes in give the same bytes out in every language.
//!
//! The wire formats and policy semantics are specified in `docs/protocol.md`, the trace in
//! `docs/trace.md`, the error codes in `docs/errors.md`; `docs/rust.md` describes this crate's
//! public API and what is not covered by semver (`unstable`).

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod atlas;
mod clock;
mod engine;
mod error;
mod fork;
mod ids;
mod protocol;
mod sort;
pub mod trace;
#[doc(hidden)]
pub mod unstable;

pub use engine::replay;
pub use engine::{
    ApprovalFilter, ApprovalRecord, ApprovalStatus, AtlasInfo, ConditionExplanation, DenyReason,
    DeterministicConfig, ExplainInput, ExplainVerdict, Explanation, FastVerdict, LatestResolution,
    PolicyExplanation, ReportReceipt, ReportStatus, Resolution, Resolver, ResolverConfig,
    ResolverStats, SessionEnd,
};
pub use error::{CraError, ErrorCode, Family, Problem, Result};
pub use protocol::{
    ApprovalDecision, CarpRequest, DecisionType, ExecuteAnswer, ExecuteStatus, Execution,
    ExecutionReport, Operation, ReportedError, Requester, RiskTier, Task, CARP_VERSION,
};
