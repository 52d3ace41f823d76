//! Verification of TRACE JSONL: per chain (keyed by `trace_id`, protocol.md §6), genesis,
//! sequence, linkage and hash. A session id used again by a later trace (after its session
//! ended, or by a new process appending to the same file) is a new chain, not a break.
//!
//! Each line must be *exactly* the JCS canonical form of the event it encodes, followed by LF,
//! so any change of a byte either breaks parsing/canonical form (`malformed_event`) or changes the
//! hashed bytes (`hash_mismatch`). Line deletion, duplication and reordering break the sequence or
//! linkage. Deleting a session's *last* events cannot be seen from the chain alone; opt into
//! [`VerifyOptions::require_session_end`] to flag sessions that do not end with `session.ended`.

use super::canon_check::{event_line, is_canonical};
use super::chain::{GENESIS_HASH, TRACE_VERSION};
use super::event::EventType;
use crate::clock::{format_rfc3339_us, parse_rfc3339_us};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Why a session (or a line) failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyErrorCode {
    /// The recomputed hash differs from `event_hash`.
    HashMismatch,
    /// `previous_event_hash` is not the previous event's `event_hash`.
    ChainBroken,
    /// `sequence` is not the previous sequence + 1.
    SequenceGap,
    /// The session's first event is not sequence 0 with a 64-zero `previous_event_hash`.
    InvalidGenesis,
    /// Not a canonical, well-typed event line (includes a torn last line).
    MalformedEvent,
    /// (Only with `require_session_end`.) The session's last event is not `session.ended`.
    MissingSessionEnd,
}

impl VerifyErrorCode {
    /// The wire form, e.g. `hash_mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyErrorCode::HashMismatch => "hash_mismatch",
            VerifyErrorCode::ChainBroken => "chain_broken",
            VerifyErrorCode::SequenceGap => "sequence_gap",
            VerifyErrorCode::InvalidGenesis => "invalid_genesis",
            VerifyErrorCode::MalformedEvent => "malformed_event",
            VerifyErrorCode::MissingSessionEnd => "missing_session_end",
        }
    }
}

/// The first failure of one session (or of a line that names no session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyError {
    /// The session, or `None` when the failing line names none (unparseable).
    pub session_id: Option<String>,
    /// The chain (trace), or `None` when the failing line names none.
    pub trace_id: Option<String>,
    /// 0-based line index in the input.
    pub line: u64,
    /// The failing event's `sequence`, when readable.
    pub sequence: Option<u64>,
    /// What failed.
    pub code: VerifyErrorCode,
    /// Human explanation.
    pub message: String,
}

/// The result of verifying a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when every line is a valid event and every session's chain is intact.
    pub ok: bool,
    /// Lines read (events, valid or not).
    pub events: u64,
    /// Distinct sessions seen.
    pub sessions: u64,
    /// Lines that failed to parse as events (all counted; only the first per session reported).
    pub malformed_lines: u64,
    /// One entry per broken session (first failure), plus the first failure of lines that name
    /// no session; in order of line index.
    pub errors: Vec<VerifyError>,
    /// Per chain, in order of first line (only with [`VerifyOptions::summaries`] or `heads`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<TraceSummary>,
}

/// The last verified event of a chain: where the next event must link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyHead {
    /// Its sequence.
    pub sequence: u64,
    /// Its `event_hash` (64 lowercase hex digits).
    pub event_hash: String,
}

/// One chain of a verified input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    /// The chain.
    pub trace_id: String,
    /// Its session.
    pub session_id: String,
    /// Lines of this chain in the input.
    pub events: u64,
    /// 0-based line index of its first line in the input.
    pub first_line: u64,
    /// Whether every line of it verified.
    pub ok: bool,
    /// The last event that verified (absent when none did and no head was given).
    pub head: Option<VerifyHead>,
    /// Whether its last verified event is `session.ended`.
    pub ended: bool,
}

/// Optional checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyOptions {
    /// Report sessions whose last event is not `session.ended` (`missing_session_end`). Detects
    /// truncation of a session's tail, for traces of sessions that are known to have ended.
    pub require_session_end: bool,
    /// Chains that continue earlier input (an ingest service verifying batches): the first
    /// event of such a trace must follow its head (sequence + 1, linked to its hash) instead
    /// of being a genesis event. At most 1,000,000 heads.
    pub heads: HashMap<String, VerifyHead>,
    /// Add a [`TraceSummary`] per chain to the report.
    pub summaries: bool,
}

/// Verifies JSONL bytes with default options. Never panics, whatever the input.
pub fn verify_jsonl(bytes: &[u8]) -> VerifyReport {
    verify_jsonl_with(bytes, VerifyOptions::default())
}

/// Verifies JSONL bytes with `options`.
pub fn verify_jsonl_with(bytes: &[u8], options: VerifyOptions) -> VerifyReport {
    let mut v = Verifier::new(options);
    v.feed(bytes);
    v.finish()
}

/// Verifies a JSONL file, streaming (memory stays bounded by the block size, the longest line
/// and the sessions).
pub fn verify_file(path: impl AsRef<Path>) -> Result<VerifyReport, crate::CraError> {
    verify_file_with(path, VerifyOptions::default())
}

/// Verifies a JSONL file with `options`.
pub fn verify_file_with(
    path: impl AsRef<Path>,
    options: VerifyOptions,
) -> Result<VerifyReport, crate::CraError> {
    let path = path.as_ref();
    let io_err = |e: std::io::Error| {
        crate::CraError::new(
            crate::ErrorCode::IoError,
            format!("cannot read trace file {}: {e}", path.display()),
        )
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    verify_read(&mut file, options, BLOCK).map_err(io_err)
}

/// Verifies what `input` yields, read `block` bytes at a time: whole lines are checked as they
/// come, the bytes after a block's last LF wait for the next read.
fn verify_read(
    input: &mut impl Read,
    options: VerifyOptions,
    block: usize,
) -> std::io::Result<VerifyReport> {
    let mut v = Verifier::new(options);
    let mut buf: Vec<u8> = Vec::with_capacity(block.saturating_add(4096).min(BLOCK + 4096));
    loop {
        let n = input.take(block as u64).read_to_end(&mut buf)?;
        if n == 0 {
            v.feed(&buf); // a torn last line, if any
            return Ok(v.finish());
        }
        if let Some(last) = memchr::memrchr(b'\n', &buf) {
            v.feed(&buf[..=last]);
            buf.drain(..=last);
        }
    }
}

/// Bytes read from a file at a time by [`verify_file`].
const BLOCK: usize = 16 << 20;

const CHUNK: usize = 8192;

fn memchr(s: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', s)
}

/// The wire event with borrowed strings, for fast checking.
/// Every member is required and typed; some are only checked, not read (the line's bytes are
/// hashed as they are).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WireEvent<'a> {
    #[serde(borrow)]
    trace_version: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    span_id: Cow<'a, str>,
    #[serde(borrow)]
    parent_span_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    sequence: u64,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    payload: AnyObject,
    #[serde(borrow)]
    previous_event_hash: Cow<'a, str>,
    #[serde(borrow)]
    event_hash: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SessionOnly<'a> {
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow, default)]
    trace_id: Option<Cow<'a, str>>,
    sequence: Option<u64>,
}

/// Accepts any JSON object without building it (the payload's bytes are checked for canonical
/// form and hashed as they are).
struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AnyObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<AnyObject, A::Error> {
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(AnyObject)
            }
        }
        d.deserialize_map(V)
    }
}

/// The 81-byte start of every canonical line: `{"event_hash":"<64 hex>",`.
const HASH_PREFIX_LEN: usize = 81;

/// What checking one line in isolation found.
#[derive(Debug, PartialEq, Eq)]
enum LineCheck<'a> {
    Good {
        session_id: Cow<'a, str>,
        trace_id: Cow<'a, str>,
        sequence: u64,
        previous: [u8; 32],
        hash: [u8; 32],
        ended: bool,
    },
    Bad {
        session_id: Option<String>,
        trace_id: Option<String>,
        sequence: Option<u64>,
        code: VerifyErrorCode,
        message: String,
    },
}

/// Checks one line: first the one-pass reader of well-formed lines, which accepts only what
/// [`check_line_general`] accepts, with the same result; every other line (and a hash
/// mismatch) goes through the general path, which says what is wrong.
fn check_line(line: &[u8], complete: bool) -> LineCheck<'_> {
    if complete {
        if let Some(good) = check_well_formed(line) {
            return good;
        }
    }
    check_line_general(line, complete)
}

/// A line that is the canonical form of a valid event whose hash matches, read in one pass;
/// `None` for anything else.
fn check_well_formed(line: &[u8]) -> Option<LineCheck<'_>> {
    let ev = event_line(line)?;
    if ev.trace_version != TRACE_VERSION.as_bytes()
        || !EventType::ALL
            .iter()
            .any(|t| t.as_str().as_bytes() == ev.event_type)
    {
        return None;
    }
    if ev.timestamp.len() != 27
        || parse_rfc3339_us(ev.timestamp)
            .map(format_rfc3339_us)
            .as_deref()
            != Some(ev.timestamp)
    {
        return None;
    }
    let previous = parse_hex32(ev.previous_event_hash)?;
    let claimed = parse_hex32(ev.event_hash)?;
    let computed = {
        let mut h = blake3::Hasher::new();
        h.update(b"{");
        h.update(&line[HASH_PREFIX_LEN..]);
        h.finalize()
    };
    (computed.as_bytes() == &claimed).then(|| LineCheck::Good {
        session_id: Cow::Borrowed(ev.session_id),
        trace_id: Cow::Borrowed(ev.trace_id),
        sequence: ev.sequence,
        previous,
        hash: claimed,
        ended: ev.event_type == b"session.ended",
    })
}

/// Checks one line in full, whatever its form, and says what is wrong with it.
fn check_line_general(line: &[u8], complete: bool) -> LineCheck<'_> {
    let bad = |code, message: String| {
        let (sid, tid, seq) = match serde_json::from_slice::<SessionOnly<'_>>(line) {
            Ok(s) => (
                Some(s.session_id.into_owned()),
                s.trace_id.map(Cow::into_owned),
                s.sequence,
            ),
            Err(_) => (None, None, None),
        };
        // A line naming a session but no trace is its own broken chain.
        let tid = match (&sid, tid) {
            (Some(s), None) => Some(format!("(no trace_id) {s}")),
            (_, t) => t,
        };
        LineCheck::Bad {
            session_id: sid,
            trace_id: tid,
            sequence: seq,
            code,
            message,
        }
    };
    if !complete {
        return bad(
            VerifyErrorCode::MalformedEvent,
            "torn last line: no trailing newline".into(),
        );
    }
    let ev: WireEvent<'_> = match serde_json::from_slice(line) {
        Ok(e) => e,
        Err(e) => {
            return bad(
                VerifyErrorCode::MalformedEvent,
                format!("not a trace event: {e}"),
            )
        }
    };
    if ev.trace_version != TRACE_VERSION {
        return bad(
            VerifyErrorCode::MalformedEvent,
            format!("unsupported trace_version {:?}", ev.trace_version),
        );
    }
    if EventType::parse(&ev.event_type).is_none() {
        return bad(
            VerifyErrorCode::MalformedEvent,
            format!("unknown event_type {:?}", ev.event_type),
        );
    }
    let ts_ok = ev.timestamp.len() == 27
        && parse_rfc3339_us(&ev.timestamp)
            .map(format_rfc3339_us)
            .as_deref()
            == Some(&*ev.timestamp);
    if !ts_ok {
        return bad(
            VerifyErrorCode::MalformedEvent,
            format!(
                "timestamp {:?} is not RFC 3339 UTC with 6 digits",
                ev.timestamp
            ),
        );
    }
    let (Some(previous), Some(claimed)) = (
        parse_hex32(ev.previous_event_hash.as_bytes()),
        parse_hex32(ev.event_hash.as_bytes()),
    ) else {
        return bad(
            VerifyErrorCode::MalformedEvent,
            "event_hash and previous_event_hash must be 64 lowercase hex digits".into(),
        );
    };
    // Canonical lines start with the hash member, so the hashed bytes are "{" + the rest.
    if line.len() <= HASH_PREFIX_LEN
        || !line.starts_with(b"{\"event_hash\":\"")
        || &line[HASH_PREFIX_LEN - 2..HASH_PREFIX_LEN] != b"\","
        || !is_canonical(line)
    {
        return bad(
            VerifyErrorCode::MalformedEvent,
            "line is not the canonical (RFC 8785) form of its event".into(),
        );
    }
    let computed = {
        let mut h = blake3::Hasher::new();
        h.update(b"{");
        h.update(&line[HASH_PREFIX_LEN..]);
        h.finalize()
    };
    if computed.as_bytes() != &claimed {
        return LineCheck::Bad {
            session_id: Some(ev.session_id.into_owned()),
            trace_id: Some(ev.trace_id.into_owned()),
            sequence: Some(ev.sequence),
            code: VerifyErrorCode::HashMismatch,
            message: format!(
                "event_hash {} does not match the recomputed {}",
                ev.event_hash,
                computed.to_hex()
            ),
        };
    }
    LineCheck::Good {
        session_id: ev.session_id,
        trace_id: ev.trace_id,
        sequence: ev.sequence,
        previous,
        hash: claimed,
        ended: ev.event_type == "session.ended",
    }
}

/// The value of each lowercase hex digit; 0xff for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut c = 0;
    while c < 16 {
        t[b"0123456789abcdef"[c] as usize] = c as u8;
        c += 1;
    }
    t
};

fn parse_hex32(b: &[u8]) -> Option<[u8; 32]> {
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        bad |= hi | lo;
        *o = (hi << 4) | lo;
    }
    (bad < 16).then_some(out)
}

struct ChainState {
    trace_id: String,
    session_id: String,
    next_sequence: u64,
    last_hash: [u8; 32],
    /// Whether any event of this chain verified (or a head was given).
    linked: bool,
    broken: bool,
    ended: bool,
    first_line: u64,
    events: u64,
}

struct Verifier {
    options: VerifyOptions,
    /// Chains in order of first line, found by trace id through `index`; `last` is the chain
    /// of the previous line (consecutive lines are mostly of one chain).
    chains: Vec<ChainState>,
    index: HashMap<String, usize>,
    last: usize,
    report: VerifyReport,
    line: u64,
    orphan_reported: bool,
}

impl Verifier {
    fn new(options: VerifyOptions) -> Self {
        Verifier {
            options,
            chains: Vec::new(),
            index: HashMap::new(),
            last: 0,
            report: VerifyReport::default(),
            line: 0,
            orphan_reported: false,
        }
    }

    /// Checks LF-terminated lines (a last line without LF is torn), a chunk at a time.
    fn feed(&mut self, bytes: &[u8]) {
        let mut lines: Vec<(&[u8], bool)> = Vec::with_capacity(CHUNK.min(bytes.len() / 256 + 1));
        let mut rest = bytes;
        while !rest.is_empty() {
            let (line, complete, next) = match memchr(rest) {
                Some(i) => (&rest[..i], true, &rest[i + 1..]),
                None => (rest, false, &rest[rest.len()..]),
            };
            lines.push((line, complete));
            rest = next;
            if lines.len() == CHUNK {
                self.feed_chunk(&lines);
                lines.clear();
            }
        }
        self.feed_chunk(&lines);
    }

    fn feed_chunk(&mut self, lines: &[(&[u8], bool)]) {
        for check in check_all(lines) {
            self.apply(check);
            self.line += 1;
        }
    }

    fn fail(
        &mut self,
        session_id: Option<String>,
        trace_id: Option<String>,
        sequence: Option<u64>,
        code: VerifyErrorCode,
        message: String,
    ) {
        self.report.errors.push(VerifyError {
            session_id,
            trace_id,
            line: self.line,
            sequence,
            code,
            message,
        });
    }

    fn apply(&mut self, check: LineCheck<'_>) {
        self.report.events += 1;
        match check {
            LineCheck::Bad {
                session_id,
                trace_id,
                sequence,
                code,
                message,
            } => {
                if code == VerifyErrorCode::MalformedEvent {
                    self.report.malformed_lines += 1;
                }
                match (session_id, trace_id) {
                    (Some(sid), Some(tid)) => {
                        let st = self.chain(&tid, &sid);
                        st.events += 1;
                        if !st.broken {
                            st.broken = true;
                            self.fail(Some(sid), Some(tid), sequence, code, message);
                        }
                    }
                    _ if !self.orphan_reported => {
                        self.orphan_reported = true;
                        self.fail(None, None, None, code, message);
                    }
                    _ => {}
                }
            }
            LineCheck::Good {
                session_id,
                trace_id,
                sequence,
                previous,
                hash,
                ended,
            } => {
                let st = self.chain(&trace_id, &session_id);
                st.events += 1;
                if st.broken {
                    return;
                }
                let failure = if st.session_id != session_id {
                    Some((
                        VerifyErrorCode::ChainBroken,
                        format!(
                            "trace {trace_id:?} belongs to session {:?}, not {session_id:?}",
                            st.session_id
                        ),
                    ))
                } else if !st.linked {
                    (sequence != 0 || previous != [0u8; 32]).then(|| {
                        (
                            VerifyErrorCode::InvalidGenesis,
                            format!("first event of the trace has sequence {sequence}; genesis needs sequence 0 and previous_event_hash {GENESIS_HASH}"),
                        )
                    })
                } else if sequence != st.next_sequence {
                    Some((
                        VerifyErrorCode::SequenceGap,
                        format!(
                            "sequence {sequence} follows {}; expected {}",
                            st.next_sequence.wrapping_sub(1),
                            st.next_sequence
                        ),
                    ))
                } else if previous != st.last_hash {
                    Some((
                        VerifyErrorCode::ChainBroken,
                        "previous_event_hash does not match the previous event's event_hash"
                            .to_string(),
                    ))
                } else {
                    None
                };
                match failure {
                    Some((code, message)) => {
                        st.broken = true;
                        self.fail(
                            Some(session_id.into_owned()),
                            Some(trace_id.into_owned()),
                            Some(sequence),
                            code,
                            message,
                        );
                    }
                    None => {
                        st.linked = true;
                        st.next_sequence = sequence.wrapping_add(1);
                        st.last_hash = hash;
                        st.ended = ended;
                    }
                }
            }
        }
    }

    fn chain(&mut self, trace_id: &str, session_id: &str) -> &mut ChainState {
        let cached = self
            .chains
            .get(self.last)
            .is_some_and(|c| c.trace_id == trace_id);
        if !cached {
            self.last = match self.index.get(trace_id) {
                Some(&k) => k,
                None => {
                    let head =
                        self.options.heads.get(trace_id).and_then(|h| {
                            Some((h.sequence, parse_hex32(h.event_hash.as_bytes())?))
                        });
                    self.index.insert(trace_id.to_string(), self.chains.len());
                    self.chains.push(ChainState {
                        trace_id: trace_id.to_string(),
                        session_id: session_id.to_string(),
                        next_sequence: head.map_or(0, |(s, _)| s.wrapping_add(1)),
                        last_hash: head.map_or([0; 32], |(_, h)| h),
                        linked: head.is_some(),
                        broken: false,
                        ended: false,
                        first_line: self.line,
                        events: 0,
                    });
                    self.chains.len() - 1
                }
            };
        }
        &mut self.chains[self.last]
    }

    fn finish(mut self) -> VerifyReport {
        if self.options.require_session_end {
            // `chains` is in order of first line.
            for s in self.chains.iter().filter(|s| !s.broken && !s.ended) {
                self.report.errors.push(VerifyError {
                    session_id: Some(s.session_id.clone()),
                    trace_id: Some(s.trace_id.clone()),
                    line: self.line,
                    sequence: Some(s.next_sequence),
                    code: VerifyErrorCode::MissingSessionEnd,
                    message: format!(
                        "session ends at sequence {} without session.ended",
                        s.next_sequence.wrapping_sub(1)
                    ),
                });
            }
        }
        crate::sort::sort_by_key(&mut self.report.errors, |e| e.line);
        self.report.sessions = self.chains.len() as u64;
        if self.options.summaries || !self.options.heads.is_empty() {
            for c in &self.chains {
                self.report.traces.push(TraceSummary {
                    trace_id: c.trace_id.clone(),
                    session_id: c.session_id.clone(),
                    events: c.events,
                    first_line: c.first_line,
                    ok: !c.broken,
                    head: c.linked.then(|| VerifyHead {
                        sequence: c.next_sequence.wrapping_sub(1),
                        event_hash: blake3::Hash::from_bytes(c.last_hash).to_hex().to_string(),
                    }),
                    ended: c.ended,
                });
            }
        }
        self.report.ok = self.report.errors.is_empty();
        self.report
    }
}

/// Checks lines independently, on several threads when available and worthwhile.
fn check_all<'a>(lines: &[(&'a [u8], bool)]) -> Vec<LineCheck<'a>> {
    let run = |part: &[(&'a [u8], bool)]| {
        part.iter()
            .map(|(l, c)| check_line(l, *c))
            .collect::<Vec<_>>()
    };
    #[cfg(feature = "threads")]
    {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        if workers > 1 && lines.len() >= 1024 {
            let per = lines.len().div_ceil(workers);
            let results: Option<Vec<Vec<LineCheck>>> = std::thread::scope(|s| {
                let handles: Vec<_> = lines
                    .chunks(per)
                    .map(|part| {
                        std::thread::Builder::new()
                            .spawn_scoped(s, move || run(part))
                            .ok()
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.and_then(|h| h.join().ok()))
                    .collect()
            });
            if let Some(parts) = results {
                return parts.into_iter().flatten().collect();
            }
        }
    }
    run(lines)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
