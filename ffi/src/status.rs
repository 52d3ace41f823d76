//! Status and verdict values. Both enums are `u32` on the wire and their values are never
//! renumbered: new values may be added, existing ones never change meaning.

use cra_core::{ErrorCode, FastVerdict};
use std::ffi::c_char;

/// What a fallible call did. `CRA_STATUS_OK` (0) is success. 1..99 are problems with how the C
/// ABI was called (NULL argument, invalid UTF-8, poisoned handle); 100..199 are exactly the
/// engine's error codes (the status value *is* the error code); 900 is a caught panic.
///
/// Values are stable: never renumbered, never reused. New values may be added, so treat an
/// unknown value as a failure and use `cra_status_name` to print it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CraStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL (or an input pointer was NULL with a non-zero length).
    NullArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// The handle is unusable because an earlier call on it panicked; free it and make a new one.
    Poisoned = 3,
    /// The request is malformed: bad JSON, unknown field, wrong type, missing field.
    InvalidRequest = 100,
    /// The resolver configuration is malformed.
    InvalidConfig = 101,
    /// An input or a resource exceeds a documented bound; the message names it.
    LimitExceeded = 102,
    /// The atlas failed validation; the error's `details` list every problem.
    InvalidAtlas = 110,
    /// No loaded atlas has that id.
    AtlasNotFound = 111,
    /// An atlas with that id is already loaded.
    AtlasAlreadyLoaded = 112,
    /// The atlas declares an action id that another loaded atlas already owns.
    AtlasConflict = 113,
    /// `execute` named a resolution this resolver never issued (or has forgotten).
    ResolutionNotFound = 120,
    /// `execute` named a resolution whose TTL has passed.
    ResolutionExpired = 121,
    /// The action may not be run.
    ActionNotAllowed = 130,
    /// `execute` parameters do not validate against the action's `parameters_schema`.
    InvalidParameters = 131,
    /// A rate limit is exhausted.
    RateLimitExceeded = 132,
    /// The action waits for a human approval.
    ApprovalRequired = 133,
    /// No approval has that id.
    ApprovalNotFound = 140,
    /// The approval's time to decide has passed.
    ApprovalExpired = 141,
    /// The approval was already approved or rejected.
    ApprovalAlreadyDecided = 142,
    /// The approver is missing or is the agent that asked for the approval.
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
    /// A panic inside CRA was caught at the boundary; the handle it happened on is now poisoned.
    Panic = 900,
}

impl CraStatus {
    /// The status for an engine error code (same number).
    pub fn from_code(code: ErrorCode) -> CraStatus {
        match code {
            ErrorCode::InvalidRequest => CraStatus::InvalidRequest,
            ErrorCode::InvalidConfig => CraStatus::InvalidConfig,
            ErrorCode::LimitExceeded => CraStatus::LimitExceeded,
            ErrorCode::InvalidAtlas => CraStatus::InvalidAtlas,
            ErrorCode::AtlasNotFound => CraStatus::AtlasNotFound,
            ErrorCode::AtlasAlreadyLoaded => CraStatus::AtlasAlreadyLoaded,
            ErrorCode::AtlasConflict => CraStatus::AtlasConflict,
            ErrorCode::ResolutionNotFound => CraStatus::ResolutionNotFound,
            ErrorCode::ResolutionExpired => CraStatus::ResolutionExpired,
            ErrorCode::ActionNotAllowed => CraStatus::ActionNotAllowed,
            ErrorCode::InvalidParameters => CraStatus::InvalidParameters,
            ErrorCode::RateLimitExceeded => CraStatus::RateLimitExceeded,
            ErrorCode::ApprovalRequired => CraStatus::ApprovalRequired,
            ErrorCode::ApprovalNotFound => CraStatus::ApprovalNotFound,
            ErrorCode::ApprovalExpired => CraStatus::ApprovalExpired,
            ErrorCode::ApprovalAlreadyDecided => CraStatus::ApprovalAlreadyDecided,
            ErrorCode::ApprovalForbidden => CraStatus::ApprovalForbidden,
            ErrorCode::ExecutionNotFound => CraStatus::ExecutionNotFound,
            ErrorCode::ExecutionAlreadyReported => CraStatus::ExecutionAlreadyReported,
            ErrorCode::SessionNotFound => CraStatus::SessionNotFound,
            ErrorCode::SessionEnded => CraStatus::SessionEnded,
            ErrorCode::TraceChainInvalid => CraStatus::TraceChainInvalid,
            ErrorCode::IoError => CraStatus::IoError,
            ErrorCode::Timeout => CraStatus::Timeout,
            ErrorCode::Closed => CraStatus::Closed,
            ErrorCode::ResolverForked => CraStatus::ResolverForked,
            ErrorCode::TraceFileLocked => CraStatus::TraceFileLocked,
            ErrorCode::Internal => CraStatus::Internal,
        }
    }

    /// The stable UPPER_SNAKE name (`"OK"`, `"NULL_ARGUMENT"`, `"INVALID_REQUEST"`, `"PANIC"`, ...),
    /// NUL-terminated.
    fn name_nul(self) -> &'static str {
        match self {
            CraStatus::Ok => "OK\0",
            CraStatus::NullArgument => "NULL_ARGUMENT\0",
            CraStatus::InvalidUtf8 => "INVALID_UTF8\0",
            CraStatus::Poisoned => "POISONED\0",
            CraStatus::InvalidRequest => "INVALID_REQUEST\0",
            CraStatus::InvalidConfig => "INVALID_CONFIG\0",
            CraStatus::LimitExceeded => "LIMIT_EXCEEDED\0",
            CraStatus::InvalidAtlas => "INVALID_ATLAS\0",
            CraStatus::AtlasNotFound => "ATLAS_NOT_FOUND\0",
            CraStatus::AtlasAlreadyLoaded => "ATLAS_ALREADY_LOADED\0",
            CraStatus::AtlasConflict => "ATLAS_CONFLICT\0",
            CraStatus::ResolutionNotFound => "RESOLUTION_NOT_FOUND\0",
            CraStatus::ResolutionExpired => "RESOLUTION_EXPIRED\0",
            CraStatus::ActionNotAllowed => "ACTION_NOT_ALLOWED\0",
            CraStatus::InvalidParameters => "INVALID_PARAMETERS\0",
            CraStatus::RateLimitExceeded => "RATE_LIMIT_EXCEEDED\0",
            CraStatus::ApprovalRequired => "APPROVAL_REQUIRED\0",
            CraStatus::ApprovalNotFound => "APPROVAL_NOT_FOUND\0",
            CraStatus::ApprovalExpired => "APPROVAL_EXPIRED\0",
            CraStatus::ApprovalAlreadyDecided => "APPROVAL_ALREADY_DECIDED\0",
            CraStatus::ApprovalForbidden => "APPROVAL_FORBIDDEN\0",
            CraStatus::ExecutionNotFound => "EXECUTION_NOT_FOUND\0",
            CraStatus::ExecutionAlreadyReported => "EXECUTION_ALREADY_REPORTED\0",
            CraStatus::SessionNotFound => "SESSION_NOT_FOUND\0",
            CraStatus::SessionEnded => "SESSION_ENDED\0",
            CraStatus::TraceChainInvalid => "TRACE_CHAIN_INVALID\0",
            CraStatus::IoError => "IO_ERROR\0",
            CraStatus::Timeout => "TIMEOUT\0",
            CraStatus::Closed => "CLOSED\0",
            CraStatus::ResolverForked => "RESOLVER_FORKED\0",
            CraStatus::TraceFileLocked => "TRACE_FILE_LOCKED\0",
            CraStatus::Internal => "INTERNAL\0",
            CraStatus::Panic => "PANIC\0",
        }
    }

    /// The stable UPPER_SNAKE name without the NUL.
    pub fn name(self) -> &'static str {
        let n = self.name_nul();
        &n[..n.len() - 1]
    }

    /// The name as a static C string.
    pub(crate) fn name_ptr(self) -> *const c_char {
        self.name_nul().as_ptr().cast()
    }
}

/// The stable name of a status value (`"OK"`, `"NULL_ARGUMENT"`, `"INVALID_REQUEST"`, ...), a
/// static NUL-terminated string (borrowed, never freed), or `"UNKNOWN"` for a value this library
/// does not define. Never fails; thread-safe.
#[no_mangle]
pub extern "C" fn cra_status_name(status: u32) -> *const c_char {
    let known = ErrorCode::ALL
        .iter()
        .map(|c| CraStatus::from_code(*c))
        .chain([
            CraStatus::Ok,
            CraStatus::NullArgument,
            CraStatus::InvalidUtf8,
            CraStatus::Poisoned,
            CraStatus::Panic,
        ])
        .find(|s| *s as u32 == status);
    match known {
        Some(s) => s.name_ptr(),
        None => c"UNKNOWN".as_ptr(),
    }
}

/// The fast path's answer (`cra_resolver_check`). Values are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CraVerdict {
    /// The session's latest resolution allows the action and no rate limit is exhausted.
    Allowed = 0,
    /// Denied (by policy, default deny, rejection, or not in the resolution).
    Denied = 1,
    /// Waiting for an approval.
    PendingApproval = 2,
    /// A rate limit is exhausted right now.
    RateLimited = 3,
    /// The session has no unexpired resolution (or does not exist, or has ended).
    NoResolution = 4,
}

impl From<FastVerdict> for CraVerdict {
    fn from(v: FastVerdict) -> Self {
        match v {
            FastVerdict::Allowed => CraVerdict::Allowed,
            FastVerdict::Denied => CraVerdict::Denied,
            FastVerdict::PendingApproval => CraVerdict::PendingApproval,
            FastVerdict::RateLimited => CraVerdict::RateLimited,
            FastVerdict::NoResolution => CraVerdict::NoResolution,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_equals_error_code_and_names_match() {
        for code in ErrorCode::ALL {
            let s = CraStatus::from_code(code);
            assert_eq!(s as u32, code as u32);
            assert_eq!(s.name(), code.as_str());
        }
        assert_eq!(CraStatus::Panic as u32, 900);
        assert_eq!(CraStatus::Ok as u32, 0);
    }

    /// The ABI's own statuses agree with the table in the core (conformance/errors.json).
    #[test]
    fn abi_statuses_match_the_core_table() {
        let ours = [
            CraStatus::NullArgument,
            CraStatus::InvalidUtf8,
            CraStatus::Poisoned,
            CraStatus::Panic,
        ];
        assert_eq!(ours.len(), cra_core::unstable::ABI_STATUSES.len());
        for (s, t) in ours.iter().zip(cra_core::unstable::ABI_STATUSES) {
            assert_eq!((s.name(), *s as u32), (t.name, t.status));
        }
    }

    #[test]
    fn verdict_values_match_fast_verdict() {
        for v in [
            FastVerdict::Allowed,
            FastVerdict::Denied,
            FastVerdict::PendingApproval,
            FastVerdict::RateLimited,
            FastVerdict::NoResolution,
        ] {
            assert_eq!(CraVerdict::from(v) as u32, v as u32);
        }
    }

    #[test]
    fn status_name_of_unknown_value() {
        // SAFETY: cra_status_name returns static NUL-terminated strings.
        let name = |v| unsafe { std::ffi::CStr::from_ptr(cra_status_name(v)) };
        assert_eq!(name(0).to_str(), Ok("OK"));
        assert_eq!(name(131).to_str(), Ok("INVALID_PARAMETERS"));
        assert_eq!(name(900).to_str(), Ok("PANIC"));
        assert_eq!(name(7).to_str(), Ok("UNKNOWN"));
    }
}
