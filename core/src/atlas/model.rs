//! The atlas manifest, as typed data (produced by `validate`, which checks everything first).

use crate::protocol::RiskTier;
use serde::Serialize;
use serde_json::{Map, Value};

/// The only atlas format version this runtime reads.
pub const ATLAS_VERSION: &str = "1.0";

/// A validated atlas manifest (protocol.md §1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtlasManifest {
    /// `"1.0"`.
    pub atlas_version: String,
    /// Reverse-DNS id, e.g. `com.example.support`.
    pub atlas_id: String,
    /// SemVer 2.0.
    pub version: String,
    /// Display name (1..100 chars).
    pub name: String,
    /// At most 1000 chars.
    pub description: String,
    /// Free-form metadata fields, kept as given.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// JSON Schema the `context` of every request in this atlas's scope must satisfy
    /// (protocol.md §6): a policy conditioned on a context key cannot be skipped by leaving
    /// the key out when the schema requires it. An absent `context` is checked as `{}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_schema: Option<Value>,
    /// Capabilities (groups of actions and packs).
    pub capabilities: Vec<Capability>,
    /// Context packs.
    pub context_packs: Vec<ContextPack>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Actions.
    pub actions: Vec<Action>,
}

/// An action an agent may run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// Lowercase dotted id, at least two segments.
    pub action_id: String,
    /// Display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema for execute parameters.
    pub parameters_schema: Option<Value>,
    /// JSON Schema of the result (documentation only).
    pub returns_schema: Option<Value>,
    /// Default `low`.
    pub risk_tier: RiskTier,
    /// Whether repeating the call is harmless.
    pub idempotent: bool,
    /// The host should confirm with its user before running it.
    pub requires_confirmation: bool,
    /// Suggested tool timeout.
    pub timeout_seconds: Option<u32>,
    /// Built-in limit per (action, session).
    pub rate_limit: Option<RateLimitSpec>,
    /// Example calls (documentation only).
    pub examples: Vec<Value>,
}

/// A fixed-window rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimitSpec {
    /// Calls allowed per window.
    pub max_calls: u32,
    /// Window length.
    pub window_seconds: u32,
    /// Whose calls share the window.
    pub per: RateScope,
}

/// Whose calls share one rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateScope {
    /// One window per session (default).
    Session,
    /// One window per agent id.
    Agent,
    /// One window for everyone.
    Global,
}

/// A named group of actions and context packs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capability {
    /// Id, unique in the atlas.
    pub capability_id: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Member actions.
    pub actions: Vec<String>,
    /// Packs injected when one of the member actions is allowed.
    pub context_packs: Vec<String>,
}

/// A piece of context the resolver may hand to an agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextPack {
    /// Id, unique in the atlas.
    pub pack_id: String,
    /// Display name.
    pub name: String,
    /// Inline blocks or file blocks (read at load).
    pub blocks: Vec<PackBlock>,
    /// 0..1000, default 100; higher first.
    pub priority: u32,
    /// When the pack applies.
    pub conditions: Option<Conditions>,
    /// Token budget of this pack.
    pub max_tokens: Option<u32>,
    /// Selected only when one keyword occurs in the goal or hints (case-insensitive).
    pub keywords: Vec<String>,
}

/// One block of a context pack: the inline content, or one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackBlock {
    /// `pack_id` for inline content, `pack_id/relative/path` for files.
    pub block_id: String,
    /// MIME type.
    pub content_type: String,
    /// The text.
    pub content: String,
}

/// Policy types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    /// Denies the matched actions.
    Deny,
    /// Makes the matched actions wait for an approval.
    RequireApproval,
    /// Limits how often the matched actions may run.
    RateLimit,
    /// Allows the matched actions.
    Allow,
}

impl PolicyType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Deny => "deny",
            PolicyType::RequireApproval => "require_approval",
            PolicyType::RateLimit => "rate_limit",
            PolicyType::Allow => "allow",
        }
    }
}

/// A policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// Id, unique in the atlas.
    pub policy_id: String,
    /// Type.
    #[serde(rename = "type")]
    pub policy_type: PolicyType,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Higher first within a type; default 0.
    pub priority: i64,
    /// Action patterns; `None` means every action of the atlas.
    pub actions: Option<Vec<String>>,
    /// When the policy applies.
    pub conditions: Option<Conditions>,
    /// Rate limit (for `rate_limit`).
    pub rate_limit: Option<RateLimitSpec>,
    /// Seconds an approval may wait (for `require_approval`).
    pub approval_timeout_seconds: Option<u32>,
    /// Reason reported with the verdict.
    pub reason: Option<String>,
}

/// Conditions: every present kind must hold; inside a list, any entry may match.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Conditions {
    /// The task's tier is one of these.
    pub risk_tiers: Option<Vec<RiskTier>>,
    /// The agent id matches one of these patterns.
    pub agents: Option<Vec<String>>,
    /// The action belongs to (policies) / an allowed action belongs to (packs) one of these.
    pub capabilities: Option<Vec<String>>,
    /// Every key equals the request's `context` value.
    pub context_matches: Option<Map<String, Value>>,
    /// The evaluation time falls in this window.
    pub time_window: Option<TimeWindow>,
}

/// A daily time window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeWindow {
    /// Minutes after local midnight (from `HH:MM`).
    pub start_minute: u32,
    /// Minutes after local midnight; `end < start` wraps past midnight.
    pub end_minute: u32,
    /// Days (0 = Monday); `None` = every day.
    pub days: Option<Vec<u32>>,
    /// Fixed offset from UTC in seconds.
    pub utc_offset_seconds: i64,
}
