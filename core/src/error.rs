//! Errors with stable codes, human messages and JSON pointers.
//!
//! Every error CRA returns carries an [`ErrorCode`] (stable, UPPER_SNAKE on the wire), a message
//! (lowercase, names the offending value, never a Rust type name) and, for input errors, the JSON
//! pointer of the offending value. Atlas validation reports every problem it finds in `details`.

use serde::Serialize;
use std::fmt;

/// Declares the error table once: the [`ErrorCode`] enum (numeric values = C ABI status),
/// `as_str` (wire name), `family`, `meaning` and `ALL`. Every binding's code → class map is
/// generated from or checked against `conformance/errors.json`, which [`error_table_json`]
/// renders from this table (docs/errors.md; `make errors-json` writes it, `make check-errors`
/// fails when it is stale).
macro_rules! error_codes {
    ($( $variant:ident = $num:literal, $wire:literal, $family:ident, $meaning:literal; )*) => {
        /// Stable error codes. The string form (`as_str`) is the wire vocabulary; the numeric
        /// value is used by the C ABI and is never renumbered. Declared once, with family and
        /// meaning, in the table of `core/src/error.rs` (docs/errors.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum ErrorCode {
            $( #[doc = $meaning] $variant = $num, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order (for documentation and binding generators).
            pub const ALL: [ErrorCode; error_codes!(@count $($variant)*)] = [$(ErrorCode::$variant),*];

            /// The wire form, e.g. `INVALID_REQUEST`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $wire, )* }
            }

            /// The family the code belongs to (every binding groups its errors by it).
            pub fn family(self) -> Family {
                match self { $( ErrorCode::$variant => Family::$family, )* }
            }

            /// One line saying what the code means.
            pub fn meaning(self) -> &'static str {
                match self { $( ErrorCode::$variant => $meaning, )* }
            }
        }
    };
    (@count) => { 0 };
    (@count $head:ident $($tail:ident)*) => { 1 + error_codes!(@count $($tail)*) };
}

// The table: variant = numeric status, wire name, family, one-line meaning. Numbers are never
// changed or reused; a new code takes a free number in its family's range (docs/errors.md).
error_codes! {
    InvalidRequest = 100, "INVALID_REQUEST", Request, "The request is malformed: bad JSON, unknown field, wrong type, missing field.";
    InvalidConfig = 101, "INVALID_CONFIG", Request, "The resolver configuration is malformed.";
    LimitExceeded = 102, "LIMIT_EXCEEDED", Request, "An input or a resource exceeds a documented bound (size of an id, goal, context, parameters or atlas; count of sessions; ...); the message names the bound.";
    InvalidAtlas = 110, "INVALID_ATLAS", Atlas, "The atlas failed validation; `details` lists every problem.";
    AtlasNotFound = 111, "ATLAS_NOT_FOUND", Atlas, "No loaded atlas has that id.";
    AtlasAlreadyLoaded = 112, "ATLAS_ALREADY_LOADED", Atlas, "An atlas with that id is already loaded (unload it first, or use replace).";
    AtlasConflict = 113, "ATLAS_CONFLICT", Atlas, "The atlas declares an action id that another loaded atlas already owns.";
    ResolutionNotFound = 120, "RESOLUTION_NOT_FOUND", Resolution, "`execute` named a resolution this resolver never issued (or has forgotten).";
    ResolutionExpired = 121, "RESOLUTION_EXPIRED", Resolution, "`execute` named a resolution whose TTL has passed.";
    ActionNotAllowed = 130, "ACTION_NOT_ALLOWED", Action, "The action may not be run: the `error_code` of a denied execute answer (bindings raise it when asked to).";
    InvalidParameters = 131, "INVALID_PARAMETERS", Request, "`execute` parameters do not validate against the action's `parameters_schema`.";
    RateLimitExceeded = 132, "RATE_LIMIT_EXCEEDED", Action, "A rate limit is exhausted: the `error_code` of an execute answer denied by a rate limit.";
    ApprovalRequired = 133, "APPROVAL_REQUIRED", Action, "The action waits for a human approval: the `error_code` of a pending execute answer.";
    ApprovalNotFound = 140, "APPROVAL_NOT_FOUND", Approval, "No approval has that id.";
    ApprovalExpired = 141, "APPROVAL_EXPIRED", Approval, "The approval's time to decide has passed.";
    ApprovalAlreadyDecided = 142, "APPROVAL_ALREADY_DECIDED", Approval, "The approval was already approved or rejected.";
    ApprovalForbidden = 143, "APPROVAL_FORBIDDEN", Approval, "The approval may not be decided by this approver (missing, or the requesting agent).";
    ExecutionNotFound = 150, "EXECUTION_NOT_FOUND", Execution, "No execution has that id.";
    ExecutionAlreadyReported = 151, "EXECUTION_ALREADY_REPORTED", Execution, "The execution's result was already reported.";
    SessionNotFound = 160, "SESSION_NOT_FOUND", Session, "No session has that id.";
    SessionEnded = 161, "SESSION_ENDED", Session, "The session was ended; start a new one.";
    TraceChainInvalid = 170, "TRACE_CHAIN_INVALID", Trace, "A trace failed verification.";
    IoError = 180, "IO_ERROR", Runtime, "A file or directory could not be read or written.";
    Timeout = 181, "TIMEOUT", Runtime, "A flush did not complete in time.";
    Closed = 182, "CLOSED", Runtime, "The resolver was closed.";
    ResolverForked = 183, "RESOLVER_FORKED", Runtime, "The resolver was created before a `fork()` and used in the child; make a new one there.";
    TraceFileLocked = 184, "TRACE_FILE_LOCKED", Runtime, "The trace file is already open for writing by another resolver or process.";
    Internal = 190, "INTERNAL", Internal, "A bug in CRA. Please report it.";
}

/// The families error codes are grouped in. Every binding has one error class (or, in Go, one
/// `Family` value) per family, and every code's class belongs to its code's family. A family
/// is what the error is about, which is also what the caller does next (docs/errors.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// The input is malformed or too large: fix the request, configuration or parameters.
    Request,
    /// Loading, finding or replacing an atlas.
    Atlas,
    /// The resolution named by `execute` is unknown or expired: resolve again.
    Resolution,
    /// Governance refused the call for now (denied, rate limited, waiting for approval).
    Action,
    /// Finding or deciding an approval.
    Approval,
    /// Finding or reporting an execution.
    Execution,
    /// The session is unknown or ended.
    Session,
    /// A trace failed verification.
    Trace,
    /// The host environment and the resolver's lifecycle: files, time, close, fork, locks.
    Runtime,
    /// A bug in CRA (including a caught panic).
    Internal,
}

impl Family {
    /// Every family, in the order of their code ranges.
    pub const ALL: [Family; 10] = [
        Family::Request,
        Family::Atlas,
        Family::Resolution,
        Family::Action,
        Family::Approval,
        Family::Execution,
        Family::Session,
        Family::Trace,
        Family::Runtime,
        Family::Internal,
    ];

    /// The lowercase name, e.g. `request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Request => "request",
            Family::Atlas => "atlas",
            Family::Resolution => "resolution",
            Family::Action => "action",
            Family::Approval => "approval",
            Family::Execution => "execution",
            Family::Session => "session",
            Family::Trace => "trace",
            Family::Runtime => "runtime",
            Family::Internal => "internal",
        }
    }

    /// One line saying what the family covers.
    pub fn meaning(self) -> &'static str {
        match self {
            Family::Request => "The input is malformed or too large: fix the request, configuration or parameters.",
            Family::Atlas => "Loading, finding or replacing an atlas.",
            Family::Resolution => "The resolution named by `execute` is unknown or expired: resolve again.",
            Family::Action => "Governance refused the call for now (denied, rate limited, waiting for an approval); bindings raise these from answers.",
            Family::Approval => "Finding or deciding an approval.",
            Family::Execution => "Finding or reporting an execution.",
            Family::Session => "The session is unknown or ended.",
            Family::Trace => "A trace failed verification.",
            Family::Runtime => "The host environment and the resolver's lifecycle: files, time, close, fork, locks.",
            Family::Internal => "A bug in CRA (including a panic caught at the boundary).",
        }
    }
}

/// A status of the C ABI that is not an engine error code (the ABI's own problems and a caught
/// panic). `ffi/src/status.rs` defines them; they are listed here so that the table every
/// binding is checked against is whole (an ffi test checks the two agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiStatus {
    /// The stable name, e.g. `NULL_ARGUMENT`.
    pub name: &'static str,
    /// The numeric status.
    pub status: u32,
    /// The family bindings file it under.
    pub family: Family,
    /// One line saying what it means.
    pub meaning: &'static str,
}

/// The C ABI's statuses beyond the engine's codes (`OK` = 0 is success, not listed).
pub const ABI_STATUSES: [AbiStatus; 4] = [
    AbiStatus {
        name: "NULL_ARGUMENT",
        status: 1,
        family: Family::Request,
        meaning: "A required pointer argument was NULL (C ABI only).",
    },
    AbiStatus {
        name: "INVALID_UTF8",
        status: 2,
        family: Family::Request,
        meaning: "A string argument is not valid UTF-8 (C ABI only).",
    },
    AbiStatus {
        name: "POISONED",
        status: 3,
        family: Family::Internal,
        meaning: "The handle is unusable because an earlier call on it panicked; make a new one.",
    },
    AbiStatus {
        name: "PANIC",
        status: 900,
        family: Family::Internal,
        meaning: "A panic inside CRA was caught at the boundary; the handle is now poisoned.",
    },
];

/// Path of the generated table, relative to the repository root.
pub const ERROR_TABLE_PATH: &str = "conformance/errors.json";

/// The error table as the JSON document checked into `conformance/errors.json`: families,
/// engine codes and the C ABI's own statuses, each with its number, family and meaning.
pub fn error_table_json() -> String {
    use serde_json::json;
    let families: Vec<_> = Family::ALL
        .iter()
        .map(|f| json!({"family": f.as_str(), "meaning": f.meaning()}))
        .collect();
    let codes: Vec<_> = ErrorCode::ALL
        .iter()
        .map(|c| {
            json!({"code": c.as_str(), "status": *c as u32, "family": c.family().as_str(), "meaning": c.meaning()})
        })
        .collect();
    let abi: Vec<_> = ABI_STATUSES
        .iter()
        .map(|s| json!({"code": s.name, "status": s.status, "family": s.family.as_str(), "meaning": s.meaning}))
        .collect();
    let doc = json!({
        "generated_by": "core/src/error.rs (error_codes! table); regenerate with `make errors-json`, check with `make check-errors`; see docs/errors.md",
        "families": families,
        "codes": codes,
        "abi_statuses": abi,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// Path of the page whose generated section lists the table, relative to the repository root.
pub const ERROR_DOC_PATH: &str = "docs/errors.md";
const DOC_BEGIN: &str =
    "<!-- BEGIN generated by `make errors-json` from core/src/error.rs; do not edit -->\n";
const DOC_END: &str = "<!-- END generated -->\n";

/// The table as the Markdown section of `docs/errors.md` (between its BEGIN and END markers).
pub fn error_table_markdown() -> String {
    let mut s = String::from("| family | meaning |\n|---|---|\n");
    for f in Family::ALL {
        s += &format!("| `{}` | {} |\n", f.as_str(), f.meaning());
    }
    s += "\n| code | status | family | meaning |\n|---|---|---|---|\n";
    for c in ErrorCode::ALL {
        s += &format!(
            "| `{}` | {} | `{}` | {} |\n",
            c.as_str(),
            c as u32,
            c.family().as_str(),
            c.meaning()
        );
    }
    s += "\nThe C ABI's own statuses (not engine codes; bindings over the C ABI map them too):\n\n";
    s += "| status name | status | family | meaning |\n|---|---|---|---|\n";
    for a in ABI_STATUSES {
        s += &format!(
            "| `{}` | {} | `{}` | {} |\n",
            a.name,
            a.status,
            a.family.as_str(),
            a.meaning
        );
    }
    s
}

/// `page` with its generated section replaced by `section`; `None` when a marker is missing.
pub fn splice_error_doc(page: &str, section: &str) -> Option<String> {
    let b = page.find(DOC_BEGIN)? + DOC_BEGIN.len();
    let e = b + page[b..].find(DOC_END)?;
    Some(format!("{}{}{}", &page[..b], section, &page[e..]))
}

/// Compares a committed `errors.json` with a fresh rendering; `Err` names every code or family
/// that is missing, extra or different (or says the text differs only in form).
pub fn check_error_table(committed: &str, fresh: &str) -> std::result::Result<(), String> {
    if committed == fresh {
        return Ok(());
    }
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).map_err(|e| e.to_string());
    let (old, new) = match (parse(committed), parse(fresh)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) => return Err(format!("{ERROR_TABLE_PATH} is not valid JSON: {e}")),
        (_, Err(e)) => return Err(format!("fresh table is not valid JSON: {e}")),
    };
    let mut problems = Vec::new();
    for (section, key) in [
        ("families", "family"),
        ("codes", "code"),
        ("abi_statuses", "code"),
    ] {
        let index = |v: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
            v[section]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| (e[key].as_str().unwrap_or("?").to_string(), e.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (o, n) = (index(&old), index(&new));
        for (name, entry) in &n {
            match o.iter().find(|(k, _)| k == name) {
                None => problems.push(format!(
                    "{section}: {name} is missing from {ERROR_TABLE_PATH}"
                )),
                Some((_, e)) if e != entry => problems.push(format!(
                    "{section}: {name} differs: committed {e}, table {entry}"
                )),
                _ => {}
            }
        }
        for (name, _) in &o {
            if !n.iter().any(|(k, _)| k == name) {
                problems.push(format!(
                    "{section}: {name} is in {ERROR_TABLE_PATH} but not in the table"
                ));
            }
        }
    }
    if problems.is_empty() {
        problems.push(format!(
            "{ERROR_TABLE_PATH} differs from the table in form or order"
        ));
    }
    Err(problems.join("\n"))
}

impl ErrorCode {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_path(p: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(p)
    }

    fn table_path() -> std::path::PathBuf {
        repo_path(ERROR_TABLE_PATH)
    }

    /// The drift check of `conformance/errors.json` (`make check-errors`); with
    /// `CRA_WRITE_ERRORS_JSON=1` it writes the file instead (`make errors-json`).
    #[test]
    fn errors_json_is_current() {
        let fresh = error_table_json();
        let path = table_path();
        let doc_path = repo_path(ERROR_DOC_PATH);
        let page = std::fs::read_to_string(&doc_path).unwrap_or_default();
        let fresh_page = splice_error_doc(&page, &error_table_markdown())
            .unwrap_or_else(|| panic!("{ERROR_DOC_PATH} lacks the generated section's markers"));
        if std::env::var_os("CRA_WRITE_ERRORS_JSON").is_some() {
            std::fs::write(&path, &fresh).expect("write conformance/errors.json");
            std::fs::write(&doc_path, &fresh_page).expect("write docs/errors.md");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if let Err(e) = check_error_table(&committed, &fresh) {
            panic!("{ERROR_TABLE_PATH} is stale; run `make errors-json` and commit it:\n{e}");
        }
        assert!(
            page == fresh_page,
            "{ERROR_DOC_PATH}: the generated table is stale; run `make errors-json` and commit it"
        );
    }

    #[test]
    fn doc_section_drift_can_fail() {
        let page = format!("# x\n{DOC_BEGIN}old\n{DOC_END}tail\n");
        let spliced = splice_error_doc(&page, &error_table_markdown()).unwrap();
        assert_ne!(spliced, page);
        assert!(
            spliced.contains("| `ATLAS_CONFLICT` | 113 | `atlas` |") && spliced.ends_with("tail\n")
        );
        assert_eq!(
            splice_error_doc(&spliced, &error_table_markdown()).as_deref(),
            Some(&*spliced)
        );
        assert!(splice_error_doc("# no markers\n", "x").is_none());
    }

    /// Proof that the drift check can fail: a renamed code, a moved code and a renumbered code
    /// in a copy of the committed file are each reported by name.
    #[test]
    fn error_table_drift_check_can_fail() {
        let fresh = error_table_json();
        let renamed = fresh.replace("\"ATLAS_CONFLICT\"", "\"ATLAS_CLASH\"");
        assert_ne!(renamed, fresh);
        let e = check_error_table(&renamed, &fresh).unwrap_err();
        assert!(e.contains("codes: ATLAS_CONFLICT is missing"), "{e}");
        assert!(e.contains("codes: ATLAS_CLASH is in"), "{e}");

        let moved = fresh.replacen(
            "\"family\": \"request\",\n      \"meaning\": \"`execute` parameters",
            "\"family\": \"action\",\n      \"meaning\": \"`execute` parameters",
            1,
        );
        assert_ne!(moved, fresh);
        let e = check_error_table(&moved, &fresh).unwrap_err();
        assert!(e.contains("codes: INVALID_PARAMETERS differs"), "{e}");

        let renumbered = fresh.replace("\"status\": 190", "\"status\": 191");
        assert_ne!(renumbered, fresh);
        let e = check_error_table(&renumbered, &fresh).unwrap_err();
        assert!(e.contains("codes: INTERNAL differs"), "{e}");

        let reformatted = fresh.replace("\n  ", "\n ");
        let e = check_error_table(&reformatted, &fresh).unwrap_err();
        assert!(e.contains("in form or order"), "{e}");
        assert!(check_error_table(&fresh, &fresh).is_ok());
    }

    #[test]
    fn table_is_well_formed() {
        let mut seen_status = std::collections::HashSet::new();
        let mut seen_name = std::collections::HashSet::new();
        let mut last = 0;
        for c in ErrorCode::ALL {
            let n = c as u32;
            assert!(n > last, "{c:?}: ALL is in numeric order");
            last = n;
            assert!((100..200).contains(&n), "{c:?}: engine codes are 100..199");
            assert!(seen_status.insert(n) && seen_name.insert(c.as_str()));
            // The wire name is the variant's name in UPPER_SNAKE.
            let mut snake = String::new();
            for (i, ch) in format!("{c:?}").chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(ch.to_ascii_uppercase());
            }
            assert_eq!(snake, c.as_str());
            assert!(!c.meaning().contains('\n') && c.meaning().ends_with('.'));
            assert_eq!(ErrorCode::from_wire(c.as_str()), Some(c));
        }
        for s in ABI_STATUSES {
            assert!(seen_status.insert(s.status) && seen_name.insert(s.name));
            assert!(!(100..200).contains(&s.status));
        }
        for f in Family::ALL {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.family() == f),
                "{f:?} has a code"
            );
        }
    }
}
