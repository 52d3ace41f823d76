//! Reading a JSONL batch for a store, without verifying it: for every line, where it goes
//! (trace, sequence, ids, hashes), its time in microseconds, and the few payload members a store
//! indexes. An ingest service reads this first (to lock the batch's traces and find their stored
//! heads), then verifies the lines against those heads ([`super::verify_jsonl_with`]); nothing
//! here says whether an event is valid.
//!
//! Output (`scan_jsonl`): a JSON array with one element per line, in order. A line that is read
//! is `[event_id, trace_id, session_id, sequence, event_type, timestamp_us, previous_event_hash,
//! event_hash, facts]`; `facts` is an object holding, of the payload's members, only these, each
//! only when present: `agent_id`, `status`, `decision`, `reason_code`, `action_id`, `atlas_id`,
//! `policy_id` (the string, or `null` when the member is not a string); `actions` (an array of
//! strings and `null`s for its other elements, or `null` when not an array); `request` (as
//! `{"requester": {"agent_id": ...}}`, with `null` where the payload has no object); `verdicts`
//! (each element reduced to `{"action_id", "atlas_id"}` when it is an object, else `null`) and
//! `atlases` (elements reduced to `{"atlas_id"}`). A line is `null` when it is not read that way:
//! not UTF-8 JSON of an object with the twelve members' types (string ids of 1 to 512
//! characters, an integer sequence from 0 to 2^53-1, an object payload, a timestamp in the
//! canonical form `YYYY-MM-DDTHH:MM:SS.ffffffZ`), or any member twice; the caller then reads that
//! line its own way, to report what is wrong with it.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Longest id (characters) a line may carry to be read here.
pub const MAX_ID_CHARS: usize = 512;
const MAX_SEQUENCE: u64 = (1 << 53) - 1;

/// Scans LF-separated lines (a last line without LF is scanned too) → the JSON array above.
pub fn scan_jsonl(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<Value> = Vec::new();
    if !bytes.is_empty() {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for line in body.split(|&b| b == b'\n') {
            out.push(scan_line(line).unwrap_or(Value::Null));
        }
    }
    serde_json::to_vec(&out).unwrap_or_else(|_| b"[]".to_vec())
}

/// One line → its array, or `None` when it is not read (see the module documentation).
pub fn scan_line(line: &[u8]) -> Option<Value> {
    let ev: Line = serde_json::from_slice(line).ok()?;
    let ts = ev.timestamp.as_ref();
    let ts_us = canonical_timestamp_us(ts)?;
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
            return None;
        }
    }
    if ev.sequence > MAX_SEQUENCE {
        return None;
    }
    Some(Value::Array(vec![
        Value::String(ev.event_id.into_owned()),
        Value::String(ev.trace_id.into_owned()),
        Value::String(ev.session_id.into_owned()),
        Value::from(ev.sequence),
        Value::String(ev.event_type.into_owned()),
        Value::from(ts_us),
        Value::String(ev.previous_event_hash.into_owned()),
        Value::String(ev.event_hash.into_owned()),
        Value::Object(ev.payload.0),
    ]))
}

/// Microseconds since the epoch of `YYYY-MM-DDTHH:MM:SS.ffffffZ` exactly (seconds up to 59).
fn canonical_timestamp_us(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 27 || b[10] != b'T' || b[19] != b'.' || b[26] != b'Z' || b[17] > b'5' {
        return None;
    }
    crate::clock::parse_rfc3339_us(s)
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
    payload: Facts,
    #[serde(borrow)]
    previous_event_hash: Cow<'a, str>,
    #[serde(borrow)]
    event_hash: Cow<'a, str>,
}

/// The payload reduced to what a store indexes.
struct Facts(Map<String, Value>);

const SCALARS: [&str; 7] = [
    "agent_id",
    "status",
    "decision",
    "reason_code",
    "action_id",
    "atlas_id",
    "policy_id",
];

/// The visitor methods of every JSON type but `$but`, each giving `$null` (after skipping
/// the value's contents).
macro_rules! other_types_are {
    ($null:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($null)
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

/// A value reduced for the output.
trait Reduced {
    fn value(self) -> Value;
}

/// Reads a map keeping only `keys`, each reduced by `T`; a key twice is an error.
fn pick_map<'de, A: MapAccess<'de>, T: Deserialize<'de> + Reduced>(
    mut m: A,
    keys: &[&str],
) -> Result<Map<String, Value>, A::Error> {
    let mut out = Map::new();
    while let Some(key) = m.next_key::<Cow<'de, str>>()? {
        if keys.contains(&key.as_ref()) {
            let v = m.next_value::<T>()?.value();
            if out.insert(key.into_owned(), v).is_some() {
                return Err(de::Error::custom("a member twice"));
            }
        } else {
            m.next_value::<IgnoredAny>()?;
        }
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for Facts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Facts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Facts, A::Error> {
                let mut out = Map::new();
                while let Some(key) = m.next_key::<Cow<'de, str>>()? {
                    let k = key.as_ref();
                    let v = if SCALARS.contains(&k) {
                        m.next_value::<Str>()?.0
                    } else if k == "actions" {
                        m.next_value::<List<Str>>()?.0
                    } else if k == "request" {
                        m.next_value::<Only<Requester>>()?.0
                    } else if k == "verdicts" {
                        m.next_value::<List<Only<VerdictKeys>>>()?.0
                    } else if k == "atlases" {
                        m.next_value::<List<Only<AtlasKey>>>()?.0
                    } else {
                        m.next_value::<IgnoredAny>()?;
                        // A member named twice is refused, whatever its name (as a reader that
                        // keeps the last one would index something else than this one).
                        if out.contains_key(k) {
                            return Err(de::Error::custom("a payload member twice"));
                        }
                        continue;
                    };
                    if out.insert(k.to_owned(), v).is_some() {
                        return Err(de::Error::custom("a payload member twice"));
                    }
                }
                Ok(Facts(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Any JSON value: the string, or `null` for anything else.
struct Str(Value);

impl Reduced for Str {
    fn value(self) -> Value {
        self.0
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Str, E> {
                Ok(Str(Value::String(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Str, E> {
                Ok(Str(Value::String(s)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Str, E> {
                Ok(Str(Value::Null))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Str, E> {
                Ok(Str(Value::Null))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Str, E> {
                Ok(Str(Value::Null))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Str, E> {
                Ok(Str(Value::Null))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Str, E> {
                Ok(Str(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Str, A::Error> {
                skip_seq(s)?;
                Ok(Str(Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Str, A::Error> {
                skip_map(m)?;
                Ok(Str(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// Which members an [`Only`] keeps, and how it reduces them.
trait Keys {
    const KEYS: &'static [&'static str];
    type Member: for<'de> Deserialize<'de> + Reduced;
}
struct VerdictKeys;
impl Keys for VerdictKeys {
    const KEYS: &'static [&'static str] = &["action_id", "atlas_id"];
    type Member = Str;
}
struct AtlasKey;
impl Keys for AtlasKey {
    const KEYS: &'static [&'static str] = &["atlas_id"];
    type Member = Str;
}
struct AgentKey;
impl Keys for AgentKey {
    const KEYS: &'static [&'static str] = &["agent_id"];
    type Member = Str;
}
struct Requester;
impl Keys for Requester {
    const KEYS: &'static [&'static str] = &["requester"];
    type Member = Only<AgentKey>;
}

/// An object reduced to the members `K` names; anything that is not an object is `null`.
struct Only<K>(Value, PhantomData<K>);

impl<K> Reduced for Only<K> {
    fn value(self) -> Value {
        self.0
    }
}

impl<'de, K: Keys> Deserialize<'de> for Only<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: Keys> Visitor<'de> for V<K> {
            type Value = Only<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Only<K>, A::Error> {
                Ok(Only(
                    Value::Object(pick_map::<A, K::Member>(m, K::KEYS)?),
                    PhantomData,
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Only<K>, A::Error> {
                skip_seq(s)?;
                Ok(Only(Value::Null, PhantomData))
            }
            other_types_are!(Only(Value::Null, PhantomData));
        }
        d.deserialize_any(V::<K>(PhantomData))
    }
}

/// An array of `T`, or `null` for anything else.
struct List<T>(Value, PhantomData<T>);

impl<'de, T: Deserialize<'de> + Reduced> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Reduced> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<List<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = s.next_element::<T>()? {
                    out.push(x.value());
                }
                Ok(List(Value::Array(out), PhantomData))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<List<T>, A::Error> {
                skip_map(m)?;
                Ok(List(Value::Null, PhantomData))
            }
            other_types_are!(List(Value::Null, PhantomData));
        }
        d.deserialize_any(V::<T>(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(payload: &str) -> String {
        format!(
            r#"{{"event_hash":"{h}","event_id":"e1","event_type":"action.requested","parent_span_id":null,"payload":{payload},"previous_event_hash":"{z}","sequence":3,"session_id":"s1","span_id":"sp","timestamp":"2026-11-25T12:00:00.123456Z","trace_id":"t1","trace_version":"1.0"}}"#,
            h = "a".repeat(64),
            z = "0".repeat(64)
        )
    }

    #[test]
    fn reads_the_place_and_the_facts() {
        let l = line(
            r#"{"agent_id":"bot","status":"authorized","action_id":7,"actions":["a",1],"big":{"x":[1,2]},"request":{"requester":{"agent_id":"r","x":1},"y":2},"verdicts":[{"action_id":"a","atlas_id":"at","reason":"r"},3],"atlases":[{"atlas_id":"x","version":"1"}]}"#,
        );
        let v = scan_line(l.as_bytes()).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a[0], "e1");
        assert_eq!(a[3], 3);
        assert_eq!(a[5], 1_795_608_000_123_456i64); // as Python's datetime.fromisoformat reads it
        assert_eq!(
            a[8],
            serde_json::json!({"agent_id":"bot","status":"authorized","action_id":null,"actions":["a",null],
                "request":{"requester":{"agent_id":"r"}},"verdicts":[{"action_id":"a","atlas_id":"at"},null],
                "atlases":[{"atlas_id":"x"}]})
        );
    }

    #[test]
    fn lines_it_does_not_read_are_null() {
        let good = line("{}");
        assert!(scan_line(good.as_bytes()).is_some());
        for bad in [
            good.replace("\"sequence\":3", "\"sequence\":-1"),
            good.replace("\"sequence\":3", "\"sequence\":9007199254740992"),
            good.replace("\"e1\"", "\"\""),
            good.replace("\"e1\"", &format!("\"{}\"", "x".repeat(513))),
            good.replace(".123456Z", "Z"),
            good.replace("12:00:00", "12:00:60"),
            good.replace("\"payload\":{}", "\"payload\":[]"),
            good.replace(
                "\"payload\":{}",
                "\"payload\":{\"agent_id\":1,\"agent_id\":2}",
            ),
            good.replace("\"span_id\":\"sp\"", "\"span_id\":\"sp\",\"extra\":1"),
            good.replace("{\"event_hash\"", "[{\"event_hash\"") + "]",
            "not json".to_string(),
        ] {
            assert!(scan_line(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(scan_line(&[0xff, b'{']).is_none());
        let x = "x".repeat(512);
        assert!(scan_line(good.replace("\"e1\"", &format!("\"{x}\"")).as_bytes()).is_some());
    }

    #[test]
    fn scans_a_batch_line_by_line() {
        let body = format!(
            "{}\nnope\n{}\n",
            line("{}"),
            line("{\"decision\":\"deny\"}")
        );
        let v: Value = serde_json::from_slice(&scan_jsonl(body.as_bytes())).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 3);
        assert!(a[1].is_null());
        assert_eq!(a[2][8], serde_json::json!({"decision":"deny"}));
        assert_eq!(scan_jsonl(b""), b"[]");
    }
}
