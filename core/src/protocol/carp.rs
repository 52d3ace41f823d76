//! CARP requests (strictly parsed) and the answers CRA gives: resolutions and execute answers.

use crate::error::{CraError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The CARP version this implementation speaks.
pub const CARP_VERSION: &str = "1.0";

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Ask which actions are permitted and which context applies.
    #[default]
    Resolve,
    /// Authorize one action the agent is about to run.
    Execute,
}

/// Risk tier of a task or an action.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskTier {
    /// Default.
    #[default]
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl RiskTier {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::High => "high",
            RiskTier::Critical => "critical",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(RiskTier::Low),
            "medium" => Some(RiskTier::Medium),
            "high" => Some(RiskTier::High),
            "critical" => Some(RiskTier::Critical),
            _ => None,
        }
    }
    /// Bit for tier sets.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// The agent's id (matched by `agents` patterns).
    pub agent_id: String,
    /// The session this request belongs to; sessions start implicitly.
    pub session_id: String,
    /// The session that spawned this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_session_id: Option<String>,
}

/// What the agent is trying to do (required for `resolve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Free-text goal; context pack keywords are matched against it.
    pub goal: String,
    /// The task's risk tier (default `low`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<RiskTier>,
    /// Extra hints; context pack keywords are matched against them too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_hints: Option<Vec<String>>,
    /// Narrows the actions in scope to those of these capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_capabilities: Option<Vec<String>>,
    /// Token budget for all context blocks of the resolution (CRA extension; default unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<u32>,
}

/// The action an `execute` request wants to run (required for `execute`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Execution {
    /// The resolution that permitted the action.
    pub resolution_id: String,
    /// The action to run.
    pub action_id: String,
    /// The tool call's parameters, validated against `parameters_schema`.
    #[serde(default = "empty_object")]
    pub parameters: Value,
    /// Repeating a key within the session returns the first answer and consumes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Members of a request that must be JSON objects (never arrays read by position).
const REQUEST_OBJECTS: &[&str] = &["", "/requester", "/task", "/execution", "/context"];

/// A CARP request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarpRequest {
    /// `"1.0"`; may be omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carp_version: Option<String>,
    /// Filled by the runtime when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// RFC 3339; recorded as given (validated), filled when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// `resolve` (default) or `execute`.
    #[serde(default)]
    pub operation: Operation,
    /// Who asks.
    pub requester: Requester,
    /// Required for `resolve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// Required for `execute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Execution>,
    /// Restrict to these atlases (default: every loaded atlas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atlas_ids: Option<Vec<String>>,
    /// Request context, matched by `context_matches` conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

impl CarpRequest {
    /// A minimal resolve request (handy in Rust code and tests).
    pub fn resolve(agent_id: &str, session_id: &str, goal: &str) -> Self {
        CarpRequest {
            carp_version: None,
            request_id: None,
            timestamp: None,
            operation: Operation::Resolve,
            requester: Requester {
                agent_id: agent_id.into(),
                session_id: session_id.into(),
                parent_session_id: None,
            },
            task: Some(Task {
                goal: goal.into(),
                risk_tier: None,
                context_hints: None,
                required_capabilities: None,
                max_context_tokens: None,
            }),
            execution: None,
            atlas_ids: None,
            context: None,
        }
    }

    /// A minimal execute request.
    pub fn execute(
        agent_id: &str,
        session_id: &str,
        resolution_id: &str,
        action_id: &str,
        parameters: Value,
    ) -> Self {
        let mut r = CarpRequest::resolve(agent_id, session_id, "");
        r.task = None;
        r.operation = Operation::Execute;
        r.execution = Some(Execution {
            resolution_id: resolution_id.into(),
            action_id: action_id.into(),
            parameters,
            idempotency_key: None,
        });
        r
    }

    /// Sets the task's risk tier (builder style).
    pub fn with_risk(mut self, tier: RiskTier) -> Self {
        if let Some(t) = self.task.as_mut() {
            t.risk_tier = Some(tier);
        }
        self
    }

    /// Parses a request from JSON bytes, strictly: unknown fields and wrong types are
    /// `INVALID_REQUEST` errors with the JSON pointer of the offending value.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        check_request_size(bytes)?;
        let req: CarpRequest = crate::protocol::strict::from_slice_objects(bytes, REQUEST_OBJECTS)?;
        req.check()?;
        Ok(req)
    }

    /// Parses an `execute` request from JSON bytes, where `operation` may be omitted (it
    /// defaults to `execute` here, not `resolve`); errors as [`CarpRequest::from_json`].
    pub fn execute_from_json(bytes: &[u8]) -> Result<Self> {
        check_request_size(bytes)?;
        crate::protocol::strict::guard(bytes)?;
        // One pass straight into the type when the shape is plain (as `from_json` does); an
        // explicit `"operation": "resolve"` and every error take the path below, which is the
        // reference for the answers.
        #[cfg(feature = "fast-parse")]
        if let Some(has_operation) = super::shape::members(bytes, REQUEST_OBJECTS, b"operation") {
            if let Ok(mut req) = serde_json::from_slice::<CarpRequest>(bytes) {
                if !has_operation {
                    req.operation = Operation::Execute;
                }
                if req.operation == Operation::Execute {
                    req.check()?;
                    return Ok(req);
                }
            }
        }
        let mut v: Value = serde_json::from_slice(bytes)
            .map_err(|e| CraError::request("", format!("malformed JSON: {e}")))?;
        if let Some(m) = v.as_object_mut() {
            m.entry("operation")
                .or_insert(Value::String("execute".into()));
        }
        CarpRequest::from_value(v)
    }

    /// Parses from an already-parsed JSON value.
    pub fn from_value(v: Value) -> Result<Self> {
        let req: CarpRequest = crate::protocol::strict::from_value_objects(v, REQUEST_OBJECTS)?;
        req.check()?;
        Ok(req)
    }

    /// Semantic checks that serde cannot express.
    pub fn check(&self) -> Result<()> {
        if let Some(v) = &self.carp_version {
            if v != CARP_VERSION {
                return Err(CraError::request(
                    "/carp_version",
                    format!("unsupported carp_version {v:?}; this runtime speaks \"1.0\""),
                ));
            }
        }
        if let Some(ts) = &self.timestamp {
            if crate::clock::parse_rfc3339_us(ts).is_none() {
                return Err(CraError::request(
                    "/timestamp",
                    format!("timestamp {ts:?} is not RFC 3339"),
                ));
            }
        }
        if let Some(rid) = &self.request_id {
            id(rid, "/request_id")?;
        }
        id(&self.requester.agent_id, "/requester/agent_id")?;
        id(&self.requester.session_id, "/requester/session_id")?;
        if let Some(p) = &self.requester.parent_session_id {
            id(p, "/requester/parent_session_id")?;
        }
        match self.operation {
            Operation::Resolve => {
                let Some(task) = &self.task else {
                    return Err(CraError::request("/task", "a resolve request needs a task"));
                };
                if task.goal.len() > 10_000 {
                    return Err(CraError::at(
                        crate::error::ErrorCode::LimitExceeded,
                        "/task/goal",
                        format!("goal is {} bytes; the limit is 10000", task.goal.len()),
                    ));
                }
                for (name, list) in [
                    ("context_hints", task.context_hints.as_deref()),
                    (
                        "required_capabilities",
                        task.required_capabilities.as_deref(),
                    ),
                ] {
                    let list = list.unwrap_or(&[]);
                    if list.len() > MAX_TASK_LIST {
                        return Err(CraError::at(
                            crate::error::ErrorCode::LimitExceeded,
                            format!("/task/{name}"),
                            format!(
                                "{name} has {} entries; the limit is {MAX_TASK_LIST}",
                                list.len()
                            ),
                        ));
                    }
                    if let Some((i, _)) = list.iter().enumerate().find(|(_, h)| h.len() > 10_000) {
                        return Err(CraError::at(
                            crate::error::ErrorCode::LimitExceeded,
                            format!("/task/{name}/{i}"),
                            "entry is over 10000 bytes",
                        ));
                    }
                }
                if self.execution.is_some() {
                    return Err(CraError::request(
                        "/execution",
                        "a resolve request must not carry an execution",
                    ));
                }
            }
            Operation::Execute => {
                let Some(ex) = &self.execution else {
                    return Err(CraError::request(
                        "/execution",
                        "an execute request needs an execution",
                    ));
                };
                id(&ex.resolution_id, "/execution/resolution_id")?;
                id(&ex.action_id, "/execution/action_id")?;
                if let Some(k) = &ex.idempotency_key {
                    id(k, "/execution/idempotency_key")?;
                }
                if !ex.parameters.is_object() {
                    return Err(CraError::request(
                        "/execution/parameters",
                        "parameters must be an object",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Largest request accepted as JSON text (bytes): bounds context and parameters.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Longest id accepted (agent, session, request, resolution, action, idempotency key), bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Most `context_hints` / `required_capabilities` entries in one task.
pub const MAX_TASK_LIST: usize = 256;

/// `LIMIT_EXCEEDED` for request text over [`MAX_REQUEST_BYTES`].
pub fn check_request_size(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(CraError::at(
            crate::error::ErrorCode::LimitExceeded,
            "",
            format!(
                "request is {} bytes; the limit is {MAX_REQUEST_BYTES}",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

fn id(s: &str, pointer: &str) -> Result<()> {
    non_empty(s, pointer)?;
    if s.len() > MAX_ID_BYTES {
        return Err(CraError::at(
            crate::error::ErrorCode::LimitExceeded,
            pointer,
            format!(
                "{} is {} bytes; the limit is {MAX_ID_BYTES}",
                pointer.rsplit('/').next().unwrap_or(pointer),
                s.len()
            ),
        ));
    }
    Ok(())
}

fn non_empty(s: &str, pointer: &str) -> Result<()> {
    if s.is_empty() {
        Err(CraError::request(
            pointer,
            format!(
                "{} must not be empty",
                pointer.rsplit('/').next().unwrap_or(pointer)
            ),
        ))
    } else {
        Ok(())
    }
}

/// The decision type of a resolution: a pure function of the verdict counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionType {
    /// Every action in scope is allowed.
    Allow,
    /// No action allowed and none pending (also: no action in scope).
    Deny,
    /// Some allowed, others denied or pending.
    Partial,
    /// None allowed, at least one pending approval.
    RequiresApproval,
}

impl DecisionType {
    /// The decision table of protocol.md §2 (documented in docs/protocol.md).
    pub fn from_counts(allowed: usize, denied: usize, pending: usize) -> Self {
        let total = allowed + denied + pending;
        if total == 0 {
            DecisionType::Deny
        } else if allowed == total {
            DecisionType::Allow
        } else if allowed == 0 && pending == 0 {
            DecisionType::Deny
        } else if allowed == 0 {
            DecisionType::RequiresApproval
        } else {
            DecisionType::Partial
        }
    }
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionType::Allow => "allow",
            DecisionType::Deny => "deny",
            DecisionType::Partial => "partial",
            DecisionType::RequiresApproval => "requires_approval",
        }
    }
}

/// Status of an execute answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecuteStatus {
    /// Run the tool, then report its result with the `execution_id`.
    Authorized,
    /// Do not run the tool.
    Denied,
    /// Wait for the approval named by `approval_id`.
    PendingApproval,
}

impl ExecuteStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecuteStatus::Authorized => "authorized",
            ExecuteStatus::Denied => "denied",
            ExecuteStatus::PendingApproval => "pending_approval",
        }
    }
}

/// The answer to an `execute` request. Its wire JSON also carries `error_code`
/// ([`ExecuteAnswer::error_code`]), derived from `status` and `reason_code`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecuteAnswer {
    /// Always `"1.0"`.
    pub carp_version: &'static str,
    /// The request's id (filled when absent).
    pub request_id: String,
    /// Present when authorized: report the tool's outcome with it.
    pub execution_id: Option<String>,
    /// The resolution named by the request.
    pub resolution_id: String,
    /// The action named by the request.
    pub action_id: String,
    /// authorized / denied / pending_approval.
    pub status: ExecuteStatus,
    /// Why not authorized: `policy_denied`, `default_deny`, `not_in_resolution`,
    /// `rate_limit_exceeded`, `approval_required`, `approval_rejected`, `approval_expired`.
    pub reason_code: Option<&'static str>,
    /// Human reason.
    pub reason: Option<String>,
    /// The policy that decided, when one did.
    pub policy_id: Option<String>,
    /// The approval to wait for (pending) or that granted the call.
    pub approval_id: Option<String>,
    /// When CRA answered.
    pub timestamp: String,
    /// The session's trace.
    pub trace_id: String,
    /// True when this answer repeats an earlier one for the same idempotency key (nothing was
    /// consumed or granted again); absent from the wire otherwise.
    pub replayed: bool,
    /// For a replayed authorization whose execution was reported: `executed` or `failed`
    /// (absent from the wire otherwise).
    pub outcome: Option<&'static str>,
}

impl ExecuteAnswer {
    /// The error code a binding raises for this answer when its caller wants a refusal as an
    /// exception: `APPROVAL_REQUIRED` (pending approval), `RATE_LIMIT_EXCEEDED` (denied by a
    /// rate limit), `ACTION_NOT_ALLOWED` (any other denial); `None` when authorized. The one
    /// place this mapping is written: it is on the wire as `error_code` (protocol.md §3).
    pub fn error_code(&self) -> Option<crate::error::ErrorCode> {
        use crate::error::ErrorCode;
        match self.status {
            ExecuteStatus::Authorized => None,
            ExecuteStatus::PendingApproval => Some(ErrorCode::ApprovalRequired),
            ExecuteStatus::Denied if self.reason_code == Some("rate_limit_exceeded") => {
                Some(ErrorCode::RateLimitExceeded)
            }
            ExecuteStatus::Denied => Some(ErrorCode::ActionNotAllowed),
        }
    }
}

impl Serialize for ExecuteAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("carp_version", self.carp_version)?;
        m.serialize_entry("request_id", &self.request_id)?;
        m.serialize_entry("execution_id", &self.execution_id)?;
        m.serialize_entry("resolution_id", &self.resolution_id)?;
        m.serialize_entry("action_id", &self.action_id)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("reason_code", &self.reason_code)?;
        m.serialize_entry("error_code", &self.error_code().map(|c| c.as_str()))?;
        m.serialize_entry("reason", &self.reason)?;
        m.serialize_entry("policy_id", &self.policy_id)?;
        m.serialize_entry("approval_id", &self.approval_id)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        m.serialize_entry("trace_id", &self.trace_id)?;
        if self.replayed {
            m.serialize_entry("replayed", &true)?;
        }
        if let Some(o) = self.outcome {
            m.serialize_entry("outcome", o)?;
        }
        m.end()
    }
}

/// What the host reports after running an authorized tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionReport {
    /// The id from the authorized execute answer.
    pub execution_id: String,
    /// The tool's result (exactly one of `result` and `error`; `null` is a result).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<Value>,
    /// The tool's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ReportedError>,
    /// How long the tool ran, if the host measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
}

/// `Some` whenever the member is present, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A tool failure as reported by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedError {
    /// Human message.
    pub message: String,
    /// Optional machine code or exception class name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl ExecutionReport {
    /// Parses and checks a report.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: ExecutionReport =
            crate::protocol::strict::from_slice_objects(bytes, &["", "/error"])?;
        match (&r.result, &r.error) {
            (Some(_), Some(_)) => Err(CraError::request(
                "/error",
                "a report carries either result or error, not both",
            )),
            (None, None) => Err(CraError::request("", "a report needs result or error")),
            _ => Ok(r),
        }
    }
}

/// A decision on an approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    /// The approval's id.
    pub approval_id: String,
    /// Who decided (recorded in TRACE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Why (recorded in TRACE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
