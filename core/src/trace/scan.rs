//! Reading a JSONL batch for a store, without verifying it: for every line, where it goes
//! (trace, sequence, ids, hashes), its time in microseconds, and the index columns a store keeps
//! about it. An ingest service reads this first (to lock the batch's traces and find their stored
//! heads), then verifies the lines against those heads ([`super::verify_jsonl_with`]); nothing
//! here says whether an event is valid.
//!
//! Output of [`scan_jsonl`]: a JSON array with one element per line, in order. A line that is
//! read is `[event_id, trace_id, session_id, sequence, event_type, timestamp_us,
//! previous_event_hash, event_hash, agent_id, decision, action_id, atlas_id, policy_id,
//! reason_code, action_atlases, atlases]`: the index columns are those of the ingest service
//! (docs/ingest.md, "Attribution"; the Python reference is `cra.server.events.facts`, and a test
//! compares the two line by line), each a string of at most 512 characters or `null`;
//! `action_atlases` is `[[action_id, atlas_id], ...]` from the `verdicts` of the payload (first
//! position of an action, last atlas named for it), `atlases` the atlases the event names.
//!
//! A line is `null` when it is not read that way: not UTF-8 JSON of an object with exactly the
//! twelve members of their types (string ids of 1 to 512 characters, an integer sequence from 0
//! to 2^53-1, an object payload, a timestamp in the canonical form `YYYY-MM-DDTHH:MM:SS.ffffffZ`),
//! or a member read here named twice. The caller reads such a line its own way, to report what
//! is wrong with it (or to read a form this reader leaves alone).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Longest id (characters) a line may carry to be read here; index columns are cut to it.
pub const MAX_ID_CHARS: usize = 512;
const MAX_SEQUENCE: u64 = (1 << 53) - 1;

/// Scans LF-separated lines (a last line without LF is scanned too) → the JSON array above.
pub fn scan_jsonl(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 2 + 2);
    out.push(b'[');
    if !bytes.is_empty() {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if !scan_line_into(line, &mut out) {
                out.extend_from_slice(b"null");
            }
        }
    }
    out.push(b']');
    out
}

/// Appends one line's array to `out`; false (and nothing appended) when the line is not read.
pub fn scan_line_into(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(ev) = serde_json::from_slice::<Line>(line) else {
        return false;
    };
    let Some(ts_us) = canonical_timestamp_us(&ev.timestamp) else {
        return false;
    };
    for id in [
        &ev.event_id,
        &ev.trace_id,
        &ev.session_id,
        &ev.event_type,
        &ev.previous_event_hash,
        &ev.event_hash,
    ] {
        let n = id.chars().count();
        if n == 0 || n > MAX_ID_CHARS {
            return false;
        }
    }
    if ev.sequence > MAX_SEQUENCE {
        return false;
    }
    let p = &ev.payload;
    let f = p.facts(&ev.event_type);
    out.push(b'[');
    for s in [&ev.event_id, &ev.trace_id, &ev.session_id] {
        string(out, s);
        out.push(b',');
    }
    out.extend_from_slice(ev.sequence.to_string().as_bytes());
    out.push(b',');
    string(out, &ev.event_type);
    out.push(b',');
    out.extend_from_slice(ts_us.to_string().as_bytes());
    out.push(b',');
    string(out, &ev.previous_event_hash);
    out.push(b',');
    string(out, &ev.event_hash);
    for s in [
        f.agent_id,
        f.decision,
        f.action_id,
        f.atlas_id,
        f.policy_id,
        f.reason_code,
    ] {
        out.push(b',');
        match s {
            Some(s) => string(out, s),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",[");
    for (i, (a, at)) in f.action_atlases.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        string(out, a);
        out.push(b',');
        string(out, at);
        out.push(b']');
    }
    out.extend_from_slice(b"],[");
    for (i, a) in f.atlases.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, a);
    }
    out.extend_from_slice(b"]]");
    true
}

fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Microseconds since the epoch of `YYYY-MM-DDTHH:MM:SS.ffffffZ` exactly (seconds up to 59).
fn canonical_timestamp_us(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 27 || b[10] != b'T' || b[19] != b'.' || b[26] != b'Z' || b[17] > b'5' {
        return None;
    }
    crate::clock::parse_rfc3339_us(s)
}

/// At most [`MAX_ID_CHARS`] characters of `s`; `None` for an empty string (`_opt` in Python).
fn opt(s: &str) -> Option<&str> {
    if s.is_empty() {
        return None;
    }
    match s.char_indices().nth(MAX_ID_CHARS) {
        Some((i, _)) => Some(&s[..i]),
        None => Some(s),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    session_id: Cow<'a, str>,
    #[allow(dead_code)]
    span_id: IgnoredAny,
    #[allow(dead_code)]
    parent_span_id: IgnoredAny,
    #[allow(dead_code)]
    trace_version: IgnoredAny,
    sequence: u64,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    payload: Payload<'a>,
    #[serde(borrow)]
    previous_event_hash: Cow<'a, str>,
    #[serde(borrow)]
    event_hash: Cow<'a, str>,
}

/// A JSON value as the index reads it: the string, or anything else.
type MaybeStr<'a> = Option<Cow<'a, str>>;

/// The payload members the index reads (each `Some` only when a string, for the scalars).
#[derive(Default)]
struct Payload<'a> {
    agent_id: MaybeStr<'a>,
    status: MaybeStr<'a>,
    decision: MaybeStr<'a>,
    reason_code: MaybeStr<'a>,
    action_id: MaybeStr<'a>,
    atlas_id: MaybeStr<'a>,
    policy_id: MaybeStr<'a>,
    /// `actions` when it is an array of exactly one string.
    single_action: MaybeStr<'a>,
    /// `request.requester.agent_id` when both are objects and it is a string.
    requester_agent: MaybeStr<'a>,
    /// `verdicts`: (action_id, atlas_id) of its object elements, as strings or not.
    verdicts: Vec<(MaybeStr<'a>, MaybeStr<'a>)>,
    /// `atlases` when an array: `atlas_id` of its object elements; `None` when not an array.
    atlases: Option<Vec<MaybeStr<'a>>>,
}

/// The index columns of one event.
struct Facts<'p> {
    agent_id: Option<&'p str>,
    decision: Option<&'p str>,
    action_id: Option<&'p str>,
    atlas_id: Option<&'p str>,
    policy_id: Option<&'p str>,
    reason_code: Option<&'p str>,
    action_atlases: Vec<(&'p str, &'p str)>,
    atlases: Vec<&'p str>,
}

fn s<'p>(v: &'p MaybeStr<'_>) -> Option<&'p str> {
    v.as_deref()
}

impl Payload<'_> {
    /// `cra.server.events.facts` (the same rules, member by member).
    fn facts<'p>(&'p self, event_type: &str) -> Facts<'p> {
        let action = match s(&self.action_id) {
            Some(a) => Some(a),
            None => s(&self.single_action),
        };
        let mut action_atlases: Vec<(&str, &str)> = Vec::new();
        for (a, at) in &self.verdicts {
            if let (Some(a), Some(at)) = (s(a).and_then(opt), s(at).and_then(opt)) {
                match action_atlases.iter_mut().find(|(x, _)| *x == a) {
                    Some(slot) => slot.1 = at,
                    None => action_atlases.push((a, at)),
                }
            }
        }
        let mut atlases: Vec<&str> = match &self.atlases {
            Some(list) => list.iter().filter_map(|x| s(x).and_then(opt)).collect(),
            None => Vec::new(),
        };
        let named = atlases.len();
        for (_, at) in &action_atlases {
            if !atlases[..named].contains(at) {
                atlases.push(at);
            }
        }
        let own = s(&self.atlas_id).and_then(opt);
        if let Some(o) = own {
            if !atlases.contains(&o) {
                atlases.push(o);
            }
        }
        let agent = match &self.agent_id {
            Some(a) => opt(a),
            None => s(&self.requester_agent).and_then(opt),
        };
        let decision = match event_type {
            "action.requested" => match s(&self.status) {
                Some("authorized") => Some("allowed"),
                Some("pending_approval") => Some("pending"),
                other => other.and_then(opt),
            },
            "action.denied" => {
                if s(&self.decision) == Some("rejected") {
                    Some("rejected")
                } else if s(&self.reason_code) == Some("rate_limit_exceeded") {
                    Some("rate_limited")
                } else {
                    Some("denied")
                }
            }
            "action.approved" => Some("approved"),
            "action.executed" => Some("executed"),
            "action.failed" => Some("failed"),
            "carp.resolution.completed" => s(&self.decision).and_then(opt),
            _ => None,
        };
        Facts {
            agent_id: agent,
            decision,
            action_id: action.and_then(opt),
            atlas_id: own,
            policy_id: s(&self.policy_id).and_then(opt),
            reason_code: s(&self.reason_code).and_then(opt),
            action_atlases,
            atlases,
        }
    }
}

/// The visitor methods of the JSON scalar types, each giving `$v`.
macro_rules! scalars_give {
    ($v:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($v)
        }
    };
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut s: A) -> Result<(), A::Error> {
    while s.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut m: A) -> Result<(), A::Error> {
    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn twice<E: de::Error>(seen: &mut u32, bit: u32) -> Result<(), E> {
    if *seen & bit != 0 {
        return Err(E::custom("a member read here is named twice"));
    }
    *seen |= bit;
    Ok(())
}

/// Any value: `Some` for a string.
struct AnyStr<'a>(MaybeStr<'a>);

impl<'de> Deserialize<'de> for AnyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<AnyStr<'de>, E> {
                Ok(AnyStr(Some(Cow::Owned(s))))
            }
            scalars_give!(AnyStr(None));
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<AnyStr<'de>, A::Error> {
                skip_seq(s)?;
                Ok(AnyStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<AnyStr<'de>, A::Error> {
                skip_map(m)?;
                Ok(AnyStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object's members named in `keys` (as [`AnyStr`]); `None` when the value is not an object.
fn members<'de, D: Deserializer<'de>, const N: usize>(
    d: D,
    keys: &'static [&'static str; N],
) -> Result<Option<[MaybeStr<'de>; N]>, D::Error> {
    struct V<const N: usize>(&'static [&'static str; N]);
    impl<'de, const N: usize> Visitor<'de> for V<N> {
        type Value = Option<[MaybeStr<'de>; N]>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out: [MaybeStr<'de>; N] = std::array::from_fn(|_| None);
            let mut seen = 0u32;
            while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                match self.0.iter().position(|x| *x == k.as_ref()) {
                    Some(i) => {
                        twice(&mut seen, 1 << i)?;
                        out[i] = m.next_value::<AnyStr>()?.0;
                    }
                    None => {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Some(out))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
            skip_seq(s)?;
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        scalars_give!(None);
    }
    d.deserialize_any(V(keys))
}

static VERDICT_KEYS: [&str; 2] = ["action_id", "atlas_id"];
static ATLAS_KEYS: [&str; 1] = ["atlas_id"];
static AGENT_KEYS: [&str; 1] = ["agent_id"];

/// An element of `verdicts`: its (action_id, atlas_id) when an object.
struct Verdict<'a>(Option<(MaybeStr<'a>, MaybeStr<'a>)>);
impl<'de> Deserialize<'de> for Verdict<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Verdict(members(d, &VERDICT_KEYS)?.map(|[a, b]| (a, b))))
    }
}

/// An element of `atlases`: its atlas_id when an object.
struct Atlas<'a>(Option<MaybeStr<'a>>);
impl<'de> Deserialize<'de> for Atlas<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Atlas(members(d, &ATLAS_KEYS)?.map(|[a]| a)))
    }
}

/// `request.requester.agent_id` (a string, when both are objects).
struct RequesterAgent<'a>(MaybeStr<'a>);
impl<'de> Deserialize<'de> for RequesterAgent<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Requester<'a>(MaybeStr<'a>);
        impl<'de> Deserialize<'de> for Requester<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Requester(members(d, &AGENT_KEYS)?.and_then(|[a]| a)))
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RequesterAgent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = None;
                let mut seen = 0u32;
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    if k == "requester" {
                        twice(&mut seen, 1)?;
                        out = m.next_value::<Requester>()?.0;
                    } else {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RequesterAgent(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Self::Value, A::Error> {
                skip_seq(s)?;
                Ok(RequesterAgent(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(RequesterAgent(None))
            }
            scalars_give!(RequesterAgent(None));
        }
        d.deserialize_any(V)
    }
}

/// An array of `T` (`None` when the value is not an array).
struct List<T>(Option<Vec<T>>);
impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = s.next_element::<T>()? {
                    out.push(x);
                }
                Ok(List(Some(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                skip_map(m)?;
                Ok(List(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(List(None))
            }
            scalars_give!(List(None));
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Payload<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Payload<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Payload<'a>, A::Error> {
                let mut p = Payload::default();
                let mut seen = 0u32;
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let slot = match k.as_ref() {
                        "agent_id" => Some((0, &mut p.agent_id)),
                        "status" => Some((1, &mut p.status)),
                        "decision" => Some((2, &mut p.decision)),
                        "reason_code" => Some((3, &mut p.reason_code)),
                        "action_id" => Some((4, &mut p.action_id)),
                        "atlas_id" => Some((5, &mut p.atlas_id)),
                        "policy_id" => Some((6, &mut p.policy_id)),
                        _ => None,
                    };
                    if let Some((bit, slot)) = slot {
                        twice(&mut seen, 1 << bit)?;
                        *slot = m.next_value::<AnyStr>()?.0;
                        continue;
                    }
                    match k.as_ref() {
                        "actions" => {
                            twice(&mut seen, 1 << 7)?;
                            let list = m.next_value::<List<AnyStr>>()?.0;
                            p.single_action = match list {
                                Some(mut v) if v.len() == 1 => v.pop().and_then(|x| x.0),
                                _ => None,
                            };
                        }
                        "request" => {
                            twice(&mut seen, 1 << 8)?;
                            p.requester_agent = m.next_value::<RequesterAgent>()?.0;
                        }
                        "verdicts" => {
                            twice(&mut seen, 1 << 9)?;
                            let list = m.next_value::<List<Verdict>>()?.0;
                            p.verdicts = list
                                .unwrap_or_default()
                                .into_iter()
                                .filter_map(|v| v.0)
                                .collect();
                        }
                        "atlases" => {
                            twice(&mut seen, 1 << 10)?;
                            let list = m.next_value::<List<Atlas>>()?.0;
                            p.atlases = list.map(|v| v.into_iter().filter_map(|a| a.0).collect());
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn line(event_type: &str, payload: &str) -> String {
        format!(
            r#"{{"event_hash":"{h}","event_id":"e1","event_type":"{event_type}","parent_span_id":null,"payload":{payload},"previous_event_hash":"{z}","sequence":3,"session_id":"s1","span_id":"sp","timestamp":"2026-11-25T12:00:00.123456Z","trace_id":"t1","trace_version":"1.0"}}"#,
            h = "a".repeat(64),
            z = "0".repeat(64)
        )
    }

    fn scan_line(l: &str) -> Option<Value> {
        let mut out = Vec::new();
        if !scan_line_into(l.as_bytes(), &mut out) {
            assert!(out.is_empty());
            return None;
        }
        Some(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn reads_the_place_and_the_index_columns() {
        let l = line(
            "action.requested",
            r#"{"agent_id":"bot","status":"authorized","action_id":7,"actions":["a"],"big":{"x":[1,2]},"request":{"requester":{"agent_id":"r","x":1},"y":2},"verdicts":[{"action_id":"a","atlas_id":"at","reason":"r"},3,{"action_id":"a","atlas_id":"at2"},{"action_id":"b","atlas_id":"at"}],"atlases":[{"atlas_id":"x","version":"1"},"y",{"atlas_id":"x"}],"atlas_id":"own","policy_id":"","reason_code":"rc"}"#,
        );
        let v = scan_line(&l).unwrap();
        // As Python's datetime.fromisoformat reads the timestamp.
        assert_eq!(v[5], 1_795_608_000_123_456i64);
        assert_eq!(
            v,
            json!([
                "e1",
                "t1",
                "s1",
                3,
                "action.requested",
                1_795_608_000_123_456i64,
                "0".repeat(64),
                "a".repeat(64),
                "bot",
                "allowed",
                "a",
                "own",
                null,
                "rc",
                [["a", "at2"], ["b", "at"]],
                ["x", "x", "at2", "at", "own"]
            ])
        );
        let d = line(
            "action.denied",
            r#"{"decision":"x","reason_code":"rate_limit_exceeded","request":{"requester":{"agent_id":"r"}}}"#,
        );
        let v = scan_line(&d).unwrap();
        assert_eq!(v[8], "r");
        assert_eq!(v[9], "rate_limited");
        let long = line(
            "carp.resolution.completed",
            &format!(r#"{{"decision":"{}"}}"#, "é".repeat(600)),
        );
        assert_eq!(
            scan_line(&long).unwrap()[9]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            512
        );
    }

    #[test]
    fn lines_it_does_not_read_are_null() {
        let good = line("session.started", "{}");
        assert!(scan_line(&good).is_some());
        for bad in [
            good.replace("\"sequence\":3", "\"sequence\":-1"),
            good.replace("\"sequence\":3", "\"sequence\":9007199254740992"),
            good.replace("\"sequence\":3", "\"sequence\":3.0"),
            good.replace("\"e1\"", "\"\""),
            good.replace("\"e1\"", &format!("\"{}\"", "x".repeat(513))),
            good.replace(".123456Z", "Z"),
            good.replace("12:00:00", "12:00:60"),
            good.replace("\"payload\":{}", "\"payload\":[]"),
            good.replace(
                "\"payload\":{}",
                "\"payload\":{\"agent_id\":1,\"agent_id\":2}",
            ),
            good.replace(
                "\"payload\":{}",
                "\"payload\":{\"verdicts\":[{\"atlas_id\":\"a\",\"atlas_id\":\"b\"}]}",
            ),
            good.replace("\"span_id\":\"sp\"", "\"span_id\":\"sp\",\"extra\":1"),
            good.replace(
                "\"span_id\":\"sp\"",
                "\"span_id\":\"sp\",\"span_id\":\"sp\"",
            ),
            "not json".to_string(),
        ] {
            assert!(scan_line(&bad).is_none(), "{bad}");
        }
        let mut out = Vec::new();
        assert!(!scan_line_into(&[0xff, b'{'], &mut out));
        let x = "x".repeat(512);
        assert!(scan_line(&good.replace("\"e1\"", &format!("\"{x}\""))).is_some());
    }

    #[test]
    fn scans_a_batch_line_by_line() {
        let body = format!(
            "{}\nnope\n{}\n",
            line("session.started", "{}"),
            line("carp.resolution.completed", "{\"decision\":\"deny\"}")
        );
        let v: Value = serde_json::from_slice(&scan_jsonl(body.as_bytes())).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 3);
        assert!(a[1].is_null());
        assert_eq!(a[2][9], "deny");
        assert_eq!(scan_jsonl(b""), b"[]");
    }
}
