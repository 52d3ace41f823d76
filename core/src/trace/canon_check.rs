//! A single-pass check that bytes are RFC 8785 (JCS) canonical JSON, without building a value.
//!
//! `verify` uses it so that it can hash a line's own bytes instead of re-encoding the parsed
//! event: a line passes only if it is exactly the canonical form of what it encodes, which is
//! what re-encoding and comparing would establish, at a fraction of the cost.

use super::canonical::{cmp_utf16, escape_mask, write_f64};
use std::cmp::Ordering;

/// Whether `b` is exactly one canonical JSON value (no surrounding whitespace).
///
/// UTF-8 is checked inside strings only: outside them every byte the grammar takes is ASCII.
pub fn is_canonical(b: &[u8]) -> bool {
    let mut i = 0;
    let mut scratch = String::new();
    value(b, &mut i, &mut scratch, 0) && i == b.len()
}

/// The members of an event line that verification reads, borrowed from the line.
/// Members only compared or decoded as bytes stay bytes (no UTF-8 check: they are ASCII when
/// they match).
pub(super) struct EventLine<'a> {
    pub event_hash: &'a [u8],
    pub previous_event_hash: &'a [u8],
    pub event_type: &'a [u8],
    pub session_id: &'a str,
    pub trace_id: &'a str,
    pub sequence: u64,
    pub timestamp: &'a str,
    pub trace_version: &'a [u8],
}

/// Deepest payload nesting [`event_line`] reads (serde_json's limit is 128): deeper lines are
/// left to the caller's slow path, which reports them as before.
const EVENT_PAYLOAD_DEPTH: usize = 64;

/// Reads, in one pass, a line that is exactly the canonical form of an object with the twelve
/// members of a TRACE event, in their canonical order, with the types `verify` requires: ids
/// and the read strings without escapes, `parent_span_id` null or a string, `payload` an
/// object, `sequence` an integer of at most 15 digits. `None` for anything else: the caller
/// then reads the line the general way (which takes more forms and says what is wrong), so this
/// only has to accept a subset of what that path accepts, with the same values.
pub(super) fn event_line(b: &[u8]) -> Option<EventLine<'_>> {
    let mut i = 0;
    let mut scratch = String::new();
    let i = &mut i;
    expect(b, i, b"{\"event_hash\":")?;
    let event_hash = plain_bytes(b, i)?;
    expect(b, i, b",\"event_id\":")?;
    string(b, i)?;
    expect(b, i, b",\"event_type\":")?;
    let event_type = plain_bytes(b, i)?;
    expect(b, i, b",\"parent_span_id\":")?;
    if !literal(b, i, b"null") {
        string(b, i)?;
    }
    expect(b, i, b",\"payload\":")?;
    if b.get(*i) != Some(&b'{') || !object(b, i, &mut scratch, MAX_DEPTH + 1 - EVENT_PAYLOAD_DEPTH)
    {
        return None;
    }
    expect(b, i, b",\"previous_event_hash\":")?;
    let previous_event_hash = plain_bytes(b, i)?;
    expect(b, i, b",\"sequence\":")?;
    let sequence = small_integer(b, i)?;
    expect(b, i, b",\"session_id\":")?;
    let session_id = plain_string(b, i)?;
    expect(b, i, b",\"span_id\":")?;
    string(b, i)?;
    expect(b, i, b",\"timestamp\":")?;
    let timestamp = plain_string(b, i)?;
    expect(b, i, b",\"trace_id\":")?;
    let trace_id = plain_string(b, i)?;
    expect(b, i, b",\"trace_version\":")?;
    let trace_version = plain_bytes(b, i)?;
    (&b[*i..] == b"}").then_some(EventLine {
        event_hash,
        previous_event_hash,
        event_type,
        session_id,
        trace_id,
        sequence,
        timestamp,
        trace_version,
    })
}

fn expect(b: &[u8], i: &mut usize, word: &[u8]) -> Option<()> {
    literal(b, i, word).then_some(())
}

/// A canonical string without escapes: the bytes between the quotes.
fn plain_bytes<'a>(b: &'a [u8], i: &mut usize) -> Option<&'a [u8]> {
    let start = *i + 1;
    if string(b, i)? {
        return None;
    }
    Some(&b[start..*i - 1])
}

/// A canonical string without escapes, as text.
fn plain_string<'a>(b: &'a [u8], i: &mut usize) -> Option<&'a str> {
    std::str::from_utf8(plain_bytes(b, i)?).ok()
}

/// A non-negative canonical integer of 1 to 15 digits.
fn small_integer(b: &[u8], i: &mut usize) -> Option<u64> {
    let start = *i;
    let mut v = 0u64;
    while let Some(&c @ b'0'..=b'9') = b.get(*i) {
        v = v * 10 + u64::from(c - b'0');
        *i += 1;
        if *i - start > 15 {
            return None;
        }
    }
    let n = *i - start;
    (n == 1 || (n > 1 && b[start] != b'0')).then_some(v)
}

const MAX_DEPTH: usize = 128;

fn value(b: &[u8], i: &mut usize, scratch: &mut String, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match b.get(*i) {
        Some(b'{') => object(b, i, scratch, depth),
        Some(b'[') => array(b, i, scratch, depth),
        Some(b'"') => string(b, i).is_some(),
        Some(b't') => literal(b, i, b"true"),
        Some(b'f') => literal(b, i, b"false"),
        Some(b'n') => literal(b, i, b"null"),
        Some(b'-' | b'0'..=b'9') => number(b, i, scratch),
        _ => false,
    }
}

fn literal(b: &[u8], i: &mut usize, word: &[u8]) -> bool {
    if b.get(*i..).is_some_and(|r| r.starts_with(word)) {
        *i += word.len();
        true
    } else {
        false
    }
}

fn array(b: &[u8], i: &mut usize, scratch: &mut String, depth: usize) -> bool {
    *i += 1;
    if b.get(*i) == Some(&b']') {
        *i += 1;
        return true;
    }
    loop {
        if !value(b, i, scratch, depth + 1) {
            return false;
        }
        match b.get(*i) {
            Some(b',') => *i += 1,
            Some(b']') => {
                *i += 1;
                return true;
            }
            _ => return false,
        }
    }
}

fn object(b: &[u8], i: &mut usize, scratch: &mut String, depth: usize) -> bool {
    *i += 1;
    if b.get(*i) == Some(&b'}') {
        *i += 1;
        return true;
    }
    let mut prev: Option<(usize, usize, bool)> = None;
    loop {
        let start = *i;
        let Some(has_escape) = string(b, i) else {
            return false;
        };
        let key = (start + 1, *i - 1, has_escape);
        if let Some(p) = prev {
            if key_order(b, p, key) != Ordering::Less {
                return false; // unsorted or duplicate member
            }
        }
        prev = Some(key);
        if b.get(*i) != Some(&b':') {
            return false;
        }
        *i += 1;
        if !value(b, i, scratch, depth + 1) {
            return false;
        }
        match b.get(*i) {
            Some(b',') => *i += 1,
            Some(b'}') => {
                *i += 1;
                return true;
            }
            _ => return false,
        }
    }
}

/// Compares two member names (raw slices between the quotes) by UTF-16 code units.
fn key_order(b: &[u8], a: (usize, usize, bool), c: (usize, usize, bool)) -> Ordering {
    let (x, y) = (&b[a.0..a.1], &b[c.0..c.1]);
    if !a.2 && !c.2 {
        // Byte order is UTF-16 order unless the first difference is between two non-ASCII
        // characters (see `cmp_utf16`).
        let k = x.iter().zip(y).take_while(|(p, q)| p == q).count();
        match (x.get(k), y.get(k)) {
            (Some(&p), Some(&q)) if p >= 0x80 && q >= 0x80 => {}
            _ => return x.cmp(y),
        }
        if let (Ok(x), Ok(y)) = (std::str::from_utf8(x), std::str::from_utf8(y)) {
            return cmp_utf16(x, y);
        }
    }
    let decode = |s: &[u8]| {
        serde_json::from_slice::<String>(&[b"\"", s, b"\""].concat()).unwrap_or_default()
    };
    cmp_utf16(&decode(x), &decode(y))
}

const HIGH: u64 = 0x8080_8080_8080_8080;

/// Marks the bytes of `w` that end a plain run of a string: those JCS escapes and (with
/// `non_ascii` = `HIGH`) any byte >= 0x80. The lowest mark is exact.
#[inline]
fn stops(w: u64, non_ascii: u64) -> u64 {
    escape_mask(w) | (w & non_ascii)
}

/// A canonical string starting at `b[*i] == '"'`; returns whether it had escapes. Plain bytes
/// are skipped eight at a time; a string with bytes >= 0x80 must be valid UTF-8. Inlined: the
/// call costs about as much as a short string.
#[inline(always)]
fn string(b: &[u8], i: &mut usize) -> Option<bool> {
    if b.get(*i) != Some(&b'"') {
        return None;
    }
    *i += 1;
    let start = *i;
    let mut escaped = false;
    let mut non_ascii = false;
    loop {
        let high = if non_ascii { 0 } else { HIGH };
        while let Some(word) = b.get(*i..*i + 8) {
            let w = u64::from_le_bytes(word.try_into().ok()?);
            let m = stops(w, high);
            if m != 0 {
                *i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            *i += 8;
        }
        match *b.get(*i)? {
            b'"' => {
                if non_ascii && std::str::from_utf8(&b[start..*i]).is_err() {
                    return None;
                }
                *i += 1;
                return Some(escaped);
            }
            b'\\' => {
                escaped = true;
                match *b.get(*i + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => *i += 2,
                    b'u' => {
                        // Only control characters without a short form, as \u00xx lowercase.
                        let h = b.get(*i + 2..*i + 6)?;
                        let lower_hex = |x: u8| x.is_ascii_digit() || (b'a'..=b'f').contains(&x);
                        if h[0] != b'0'
                            || h[1] != b'0'
                            || !(h[2] == b'0' || h[2] == b'1')
                            || !lower_hex(h[3])
                        {
                            return None;
                        }
                        let v = (h[2] - b'0') * 16
                            + if h[3].is_ascii_digit() {
                                h[3] - b'0'
                            } else {
                                h[3] - b'a' + 10
                            };
                        if matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                            return None;
                        }
                        *i += 6;
                    }
                    _ => return None,
                }
            }
            0..=0x1f => return None,
            0x80.. => {
                non_ascii = true;
                *i += 1;
            }
            _ => *i += 1,
        }
    }
}

/// A number in ECMAScript shortest form.
fn number(b: &[u8], i: &mut usize, scratch: &mut String) -> bool {
    let start = *i;
    while *i < b.len() && matches!(b[*i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
        *i += 1;
    }
    let tok = &b[start..*i];
    // Fast path: small integers are canonical when they have no leading zero and are not -0.
    let digits = tok.strip_prefix(b"-").unwrap_or(tok);
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        return (digits.len() == 1 || digits[0] != b'0') && tok != b"-0";
    }
    let Ok(text) = std::str::from_utf8(tok) else {
        return false;
    };
    // The JSON grammar first (Rust's parser also takes forms JSON does not, like "1." or "+1").
    if serde_json::from_str::<serde_json::Number>(text).is_err() {
        return false;
    }
    let Ok(f) = text.parse::<f64>() else {
        return false;
    };
    scratch.clear();
    write_f64(f, scratch);
    scratch.as_bytes() == tok
}

#[cfg(test)]
mod tests {
    use super::is_canonical;
    use crate::trace::canonical::canonicalize;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn canonical_forms_pass() {
        for v in [
            json!({}),
            json!([]),
            json!({"a": [1, 2.5, -0.001, 1e21, 1e-7, true, null, "x\u{1}\n\"/€"]}),
            json!({"\u{e9}": 1, "b": 2, "\u{20ac}": 3}),
            json!(123456789012345678u64),
        ] {
            let c = canonicalize(&v);
            assert!(is_canonical(c.as_bytes()), "{c}");
        }
    }

    #[test]
    fn non_canonical_forms_fail() {
        for bad in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":1}"#,
            r#"{ "a":1}"#,
            r#"{"a":1 }"#,
            r#"[1, 2]"#,
            r#"1.0"#,
            r#"1e3"#,
            r#"01"#,
            r#"-0"#,
            r#""\u0041""#,
            r#""\/""#,
            r#""\u000a""#,
            r#""\u001F""#,
            "\"\x01\"",
            r#"1E+30"#,
            r#"0.10"#,
            r#"{"a":1}x"#,
            r#"tru"#,
            r#""#,
            r#"+1"#,
            r#"1."#,
        ] {
            assert!(!is_canonical(bad.as_bytes()), "{bad}");
        }
        assert!(is_canonical(br#""\u001f""#));
        assert!(is_canonical(br#"1e+30"#));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "\\PC{0,8}".prop_map(Value::String),
            "[\\x00-\\x1f\"\\\\]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn canonicalize_output_is_canonical(v in arb_json()) {
            let c = canonicalize(&v);
            prop_assert!(is_canonical(c.as_bytes()), "{}", c);
        }

        #[test]
        fn strings_agree_with_reencoding(
            text in "[a-z \u{e9}\u{20ac}\u{1f600}\"\\\\\\x00-\\x1f]{0,40}",
            pos in any::<prop::sample::Index>(),
            byte in prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..0x80, 0x80u8..=0xff],
            edit in 0u8..3,
        ) {
            // Runs of eight bytes with a stop (quote, backslash, control, non-ASCII) anywhere.
            let mut bytes = canonicalize(&Value::String(text)).into_bytes();
            prop_assert!(is_canonical(&bytes));
            let p = pos.index(bytes.len());
            match edit {
                0 => bytes[p] = byte,
                1 => bytes.insert(p, byte),
                _ => {
                    bytes.remove(p);
                }
            }
            let reencoded_equal = serde_json::from_slice::<Value>(&bytes)
                .map(|x| canonicalize(&x).into_bytes() == bytes)
                .unwrap_or(false);
            prop_assert_eq!(is_canonical(&bytes), reencoded_equal, "{}", String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn the_check_agrees_with_reencoding(v in arb_json(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = canonicalize(&v).into_bytes();
            let p = pos.index(bytes.len());
            bytes.insert(p, byte);
            let reencoded_equal = serde_json::from_slice::<Value>(&bytes).map(|x| canonicalize(&x).into_bytes() == bytes).unwrap_or(false);
            prop_assert_eq!(is_canonical(&bytes), reencoded_equal, "{}", String::from_utf8_lossy(&bytes));
        }
    }
}
