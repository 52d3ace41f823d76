//! Resolver configuration (JSON, strictly parsed).

use crate::clock::{parse_rfc3339_us, Clock};
use crate::error::{CraError, ErrorCode, Result};
use crate::ids::IdSource;
use crate::trace::TraceConfig;
use serde::{Deserialize, Serialize};

/// Options of a resolver. Every field has a default, so `{}` is a valid configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverConfig {
    /// Deterministic mode: seeded ids and a stepping clock (tests, conformance, replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<DeterministicConfig>,
    /// Lifetime of a resolution (default 300, max 86400).
    #[serde(default = "default_ttl")]
    pub resolution_ttl_seconds: u32,
    /// Time to decide an approval when its policy does not say (default 3600).
    #[serde(default = "default_approval_timeout")]
    pub approval_timeout_seconds: u32,
    /// Live resolutions kept per session (default 256); the oldest is forgotten first, and
    /// executing against it then fails with `RESOLUTION_NOT_FOUND`.
    #[serde(default = "default_max_resolutions")]
    pub max_resolutions_per_session: u32,
    /// Sessions idle (no request naming them) for longer than this are ended with reason
    /// `idle_timeout` (default 86400; 0 = never).
    #[serde(default = "default_idle_timeout")]
    pub session_idle_timeout_seconds: u32,
    /// Decided and expired approvals are forgotten this long after their expiry (default 3600).
    #[serde(default = "default_approval_retention")]
    pub approval_retention_seconds: u32,
    /// Live approvals (pending, or approved and not yet used) one session may hold (default 64);
    /// one more call needing approval fails with `LIMIT_EXCEEDED`.
    #[serde(default = "default_max_approvals")]
    pub max_approvals_per_session: u32,
    /// Idempotency keys one session may hold while their resolutions live (default 4096).
    #[serde(default = "default_max_idempotency_keys")]
    pub max_idempotency_keys_per_session: u32,
    /// Ended sessions remembered (so requests naming them get `SESSION_ENDED`) for this long
    /// (default 3600); after that the id may start a new session with a new trace.
    #[serde(default = "default_ended_retention")]
    pub ended_session_retention_seconds: u32,
    /// At most this many ended sessions are remembered (default 65536; the oldest go first).
    #[serde(default = "default_max_ended")]
    pub max_ended_sessions: u32,
    /// The risk tier of a request whose task names none (default `low`).
    #[serde(default)]
    pub default_risk_tier: crate::protocol::RiskTier,
    /// Where TRACE events go (see docs/trace.md); default: kept in memory until drained.
    #[serde(default)]
    pub trace: TraceConfig,
}

/// Deterministic mode settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeterministicConfig {
    /// Printed in every id.
    #[serde(default)]
    pub seed: u32,
    /// First clock reading (RFC 3339), default `2026-01-01T00:00:00.000000Z`.
    #[serde(default = "default_start")]
    pub start: String,
    /// Clock advance per reading in microseconds (default 1000).
    #[serde(default = "default_step")]
    pub step_us: i64,
}

fn default_ttl() -> u32 {
    300
}
fn default_approval_timeout() -> u32 {
    3600
}
fn default_idle_timeout() -> u32 {
    86_400
}
fn default_max_resolutions() -> u32 {
    256
}
fn default_approval_retention() -> u32 {
    3600
}
fn default_max_approvals() -> u32 {
    64
}
fn default_max_idempotency_keys() -> u32 {
    4096
}
fn default_ended_retention() -> u32 {
    3600
}
fn default_max_ended() -> u32 {
    65_536
}
fn default_start() -> String {
    "2026-01-01T00:00:00.000000Z".into()
}
fn default_step() -> i64 {
    1000
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            deterministic: None,
            resolution_ttl_seconds: 300,
            approval_timeout_seconds: 3600,
            max_resolutions_per_session: 256,
            session_idle_timeout_seconds: 86_400,
            approval_retention_seconds: default_approval_retention(),
            max_approvals_per_session: default_max_approvals(),
            max_idempotency_keys_per_session: default_max_idempotency_keys(),
            ended_session_retention_seconds: default_ended_retention(),
            max_ended_sessions: default_max_ended(),
            default_risk_tier: Default::default(),
            trace: TraceConfig::default(),
        }
    }
}

impl ResolverConfig {
    /// A deterministic configuration with the given seed and default start and step.
    pub fn deterministic(seed: u32) -> Self {
        ResolverConfig {
            deterministic: Some(DeterministicConfig {
                seed,
                start: default_start(),
                step_us: default_step(),
            }),
            ..Default::default()
        }
    }

    /// Parses a configuration from JSON (empty input means defaults).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Self::default());
        }
        let cfg: ResolverConfig =
            crate::protocol::strict::from_slice_objects(bytes, &["", "/deterministic", "/trace"])
                .map_err(|mut e| {
                e.code = ErrorCode::InvalidConfig;
                e
            })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Semantic checks.
    pub fn check(&self) -> Result<()> {
        if self.resolution_ttl_seconds == 0 || self.resolution_ttl_seconds > 86_400 {
            return Err(CraError::at(
                ErrorCode::InvalidConfig,
                "/resolution_ttl_seconds",
                format!(
                    "resolution_ttl_seconds is {}; it must be 1 to 86400",
                    self.resolution_ttl_seconds
                ),
            ));
        }
        if self.session_idle_timeout_seconds > 31_622_400 {
            return Err(CraError::at(ErrorCode::InvalidConfig, "/session_idle_timeout_seconds", format!("session_idle_timeout_seconds is {}; the limit is 31622400 (a year), 0 means never", self.session_idle_timeout_seconds)));
        }
        if self.max_resolutions_per_session == 0 {
            return Err(CraError::at(
                ErrorCode::InvalidConfig,
                "/max_resolutions_per_session",
                "max_resolutions_per_session must be at least 1",
            ));
        }
        if self.approval_timeout_seconds == 0 {
            return Err(CraError::at(
                ErrorCode::InvalidConfig,
                "/approval_timeout_seconds",
                "approval_timeout_seconds must be at least 1",
            ));
        }
        for (name, v) in [
            ("max_approvals_per_session", self.max_approvals_per_session),
            (
                "max_idempotency_keys_per_session",
                self.max_idempotency_keys_per_session,
            ),
        ] {
            if v == 0 || v > 1_000_000 {
                return Err(CraError::at(
                    ErrorCode::InvalidConfig,
                    format!("/{name}"),
                    format!("{name} is {v}; it must be between 1 and 1000000"),
                ));
            }
        }
        if self.max_ended_sessions > 10_000_000 {
            return Err(CraError::at(
                ErrorCode::InvalidConfig,
                "/max_ended_sessions",
                format!(
                    "max_ended_sessions is {}; the limit is 10000000",
                    self.max_ended_sessions
                ),
            ));
        }
        self.trace.validate().map_err(|mut e| {
            e.code = ErrorCode::InvalidConfig;
            e.pointer = Some(format!("/trace{}", e.pointer.as_deref().unwrap_or("")));
            e
        })?;
        if let Some(d) = &self.deterministic {
            if parse_rfc3339_us(&d.start).is_none() {
                return Err(CraError::at(
                    ErrorCode::InvalidConfig,
                    "/deterministic/start",
                    format!("start {:?} is not RFC 3339", d.start),
                ));
            }
            if d.step_us < 0 {
                return Err(CraError::at(
                    ErrorCode::InvalidConfig,
                    "/deterministic/step_us",
                    "step_us must not be negative",
                ));
            }
        }
        Ok(())
    }

    #[doc(hidden)]
    /// The clock and id source this configuration asks for.
    pub fn clock_and_ids(&self) -> (Clock, IdSource) {
        match &self.deterministic {
            Some(d) => (
                Clock::stepping(parse_rfc3339_us(&d.start).unwrap_or(0), d.step_us),
                IdSource::counter(d.seed, 0),
            ),
            None => (Clock::System, IdSource::Uuid7),
        }
    }
}
