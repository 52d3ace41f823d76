//! Errors with stable codes, human messages and JSON pointers.
//!
//! Every error CRA returns carries an [`ErrorCode`] (stable, UPPER_SNAKE on the wire), a message
//! (lowercase, names the offending value, never a Rust type name) and, for input errors, the JSON
//! pointer of the offending value. Atlas validation reports every problem it finds in `details`.

use serde::Serialize;
use std::fmt;

/// Stable error codes. The string form (`as_str`) is the wire vocabulary; the numeric value is
/// used by the C ABI and is never renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// The request is malformed: bad JSON, unknown field, wrong type, missing field.
    InvalidRequest = 100,
    /// The resolver configuration is malformed.
    InvalidConfig = 101,
    /// An input or a resource exceeds a documented bound (size of an id, goal, context,
    /// parameters or atlas; count of sessions; ...). The message names the bound.
    LimitExceeded = 102,
    /// The atlas failed validation; `details` lists every problem.
    InvalidAtlas = 110,
    /// No loaded atlas has that id.
    AtlasNotFound = 111,
    /// An atlas with that id is already loaded (unload it first, or use replace).
    AtlasAlreadyLoaded = 112,
    /// The atlas declares an action id that another loaded atlas already owns.
    AtlasConflict = 113,
    /// `execute` named a resolution this resolver never issued (or has forgotten).
    ResolutionNotFound = 120,
    /// `execute` named a resolution whose TTL has passed.
    ResolutionExpired = 121,
    /// The action may not be run (used by bindings that turn a denied answer into an error).
    ActionNotAllowed = 130,
    /// `execute` parameters do not validate against the action's `parameters_schema`.
    InvalidParameters = 131,
    /// A rate limit is exhausted (used by bindings that turn a denied answer into an error).
    RateLimitExceeded = 132,
    /// The action waits for a human approval (used by bindings for a pending answer).
    ApprovalRequired = 133,
    /// No approval has that id.
    ApprovalNotFound = 140,
    /// The approval's time to decide has passed.
    ApprovalExpired = 141,
    /// The approval was already approved or rejected.
    ApprovalAlreadyDecided = 142,
    /// The approval may not be decided by this approver (missing, or the requesting agent).
    ApprovalForbidden = 143,
    /// No execution has that id.
    ExecutionNotFound = 150,
    /// The execution's result was already reported.
    ExecutionAlreadyReported = 151,
    /// No session has that id.
    SessionNotFound = 160,
    /// The session was ended; start a new one.
    SessionEnded = 161,
    /// A trace failed verification.
    TraceChainInvalid = 170,
    /// A file or directory could not be read or written.
    IoError = 180,
    /// A flush did not complete in time.
    Timeout = 181,
    /// The resolver was closed.
    Closed = 182,
    /// The resolver was created before a `fork()` and used in the child; make a new one there.
    ResolverForked = 183,
    /// The trace file is already open for writing by another resolver or process.
    TraceFileLocked = 184,
    /// A bug in CRA. Please report it.
    Internal = 190,
}

impl ErrorCode {
    /// The wire form, e.g. `INVALID_REQUEST`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::InvalidAtlas => "INVALID_ATLAS",
            ErrorCode::AtlasNotFound => "ATLAS_NOT_FOUND",
            ErrorCode::AtlasAlreadyLoaded => "ATLAS_ALREADY_LOADED",
            ErrorCode::AtlasConflict => "ATLAS_CONFLICT",
            ErrorCode::ResolutionNotFound => "RESOLUTION_NOT_FOUND",
            ErrorCode::ResolutionExpired => "RESOLUTION_EXPIRED",
            ErrorCode::ActionNotAllowed => "ACTION_NOT_ALLOWED",
            ErrorCode::InvalidParameters => "INVALID_PARAMETERS",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::ApprovalRequired => "APPROVAL_REQUIRED",
            ErrorCode::ApprovalNotFound => "APPROVAL_NOT_FOUND",
            ErrorCode::ApprovalExpired => "APPROVAL_EXPIRED",
            ErrorCode::ApprovalAlreadyDecided => "APPROVAL_ALREADY_DECIDED",
            ErrorCode::ApprovalForbidden => "APPROVAL_FORBIDDEN",
            ErrorCode::ExecutionNotFound => "EXECUTION_NOT_FOUND",
            ErrorCode::ExecutionAlreadyReported => "EXECUTION_ALREADY_REPORTED",
            ErrorCode::SessionNotFound => "SESSION_NOT_FOUND",
            ErrorCode::SessionEnded => "SESSION_ENDED",
            ErrorCode::TraceChainInvalid => "TRACE_CHAIN_INVALID",
            ErrorCode::IoError => "IO_ERROR",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::ResolverForked => "RESOLVER_FORKED",
            ErrorCode::TraceFileLocked => "TRACE_FILE_LOCKED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// Every code, in numeric order (for documentation and binding generators).
    pub const ALL: [ErrorCode; 28] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidConfig,
        ErrorCode::LimitExceeded,
        ErrorCode::InvalidAtlas,
        ErrorCode::AtlasNotFound,
        ErrorCode::AtlasAlreadyLoaded,
        ErrorCode::AtlasConflict,
        ErrorCode::ResolutionNotFound,
        ErrorCode::ResolutionExpired,
        ErrorCode::ActionNotAllowed,
        ErrorCode::InvalidParameters,
        ErrorCode::RateLimitExceeded,
        ErrorCode::ApprovalRequired,
        ErrorCode::ApprovalNotFound,
        ErrorCode::ApprovalExpired,
        ErrorCode::ApprovalAlreadyDecided,
        ErrorCode::ApprovalForbidden,
        ErrorCode::ExecutionNotFound,
        ErrorCode::ExecutionAlreadyReported,
        ErrorCode::SessionNotFound,
        ErrorCode::SessionEnded,
        ErrorCode::TraceChainInvalid,
        ErrorCode::IoError,
        ErrorCode::Timeout,
        ErrorCode::Closed,
        ErrorCode::ResolverForked,
        ErrorCode::TraceFileLocked,
        ErrorCode::Internal,
    ];

    /// Parses the wire form back into a code.
    pub fn from_wire(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in an input (an atlas, a request): a stable sub-code, a message and a pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable lowercase code such as `unknown_field`, `missing_field`, `invalid_type`.
    pub code: &'static str,
    /// Human message naming the offending value.
    pub message: String,
    /// JSON pointer (RFC 6901) of the offending value, `""` for the whole document.
    pub pointer: String,
}

/// The error type of every fallible CRA operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CraError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human message: lowercase, names the offending value.
    pub message: String,
    /// JSON pointer of the offending input value, when the error is about input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Every problem found, for validations that report all of them (atlases).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Problem>,
}

impl CraError {
    /// An error without a pointer.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CraError {
            code,
            message: message.into(),
            pointer: None,
            details: Vec::new(),
        }
    }

    /// An error about the input value at `pointer`.
    pub fn at(code: ErrorCode, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        CraError {
            code,
            message: message.into(),
            pointer: Some(pointer.into()),
            details: Vec::new(),
        }
    }

    /// An `INVALID_REQUEST` at `pointer`.
    pub fn request(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::at(ErrorCode::InvalidRequest, pointer, message)
    }

    /// Builds an error from a list of problems; the first problem gives the message and pointer.
    pub fn from_problems(code: ErrorCode, what: &str, problems: Vec<Problem>) -> Self {
        let first = problems.first().cloned();
        let (message, pointer) = match first {
            Some(p) if problems.len() == 1 => (format!("{what}: {}", p.message), Some(p.pointer)),
            Some(p) => (
                format!(
                    "{what}: {} (and {} more problems)",
                    p.message,
                    problems.len() - 1
                ),
                Some(p.pointer),
            ),
            None => (what.to_string(), None),
        };
        CraError {
            code,
            message,
            pointer,
            details: problems,
        }
    }

    /// The error as a JSON value (the envelope every binding returns).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({"code": "INTERNAL"}))
    }
}

impl fmt::Display for CraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(p) = &self.pointer {
            write!(f, " (at {})", if p.is_empty() { "/" } else { p })?;
        }
        Ok(())
    }
}

impl std::error::Error for CraError {}

impl From<std::io::Error> for CraError {
    fn from(e: std::io::Error) -> Self {
        CraError::new(ErrorCode::IoError, e.to_string())
    }
}

/// Escapes one JSON pointer reference token (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Shorthand result type.
pub type Result<T, E = CraError> = std::result::Result<T, E>;
