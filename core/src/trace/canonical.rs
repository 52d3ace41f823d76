//! RFC 8785 JSON Canonicalization Scheme (JCS) over [`serde_json::Value`].
//!
//! * Object members are sorted by the UTF-16 code units of their names (not by UTF-8 bytes:
//!   the two orders differ for characters above U+FFFF versus U+E000..U+FFFF).
//! * Numbers are written as ECMAScript's `Number.prototype.toString` writes the IEEE 754 double
//!   (integers beyond 2^53 are first rounded to a double, as JCS requires).
//! * Strings escape only `"`, `\` and U+0000..U+001F; `\b \t \n \f \r` use their short forms and
//!   other control characters use `\u00xx` with lowercase hex. Everything else is literal UTF-8.
//! * No whitespace.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// Returns the JCS canonical form of `value`.
pub fn canonicalize(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_canonical(value, &mut out);
    out
}

/// Appends the JCS canonical form of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

/// Appends the JCS canonical form of a JSON object.
pub fn write_object(map: &Map<String, Value>, out: &mut String) {
    out.push('{');
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // Fast path: most keys are ASCII, where byte order equals UTF-16 order.
    entries.sort_unstable_by(|a, b| cmp_utf16(a.0, b.0));
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(k, out);
        out.push(':');
        write_canonical(v, out);
    }
    out.push('}');
}

/// Compares two strings by their UTF-16 code units (the JCS member order).
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order is code point order, which is UTF-16 order unless the first difference
    // is between two non-ASCII characters (U+E000..U+FFFF sorts after U+10000.. in UTF-16).
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let k = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    match (x.get(k), y.get(k)) {
        (Some(&p), Some(&q)) if p >= 0x80 && q >= 0x80 => a.encode_utf16().cmp(b.encode_utf16()),
        _ => x.cmp(y),
    }
}

/// Appends an ECMAScript-formatted number.
pub fn write_number(n: &Number, out: &mut String) {
    if let Some(u) = n.as_u64() {
        if u <= (1u64 << 53) {
            write_u64(u, out);
            return;
        }
    } else if let Some(i) = n.as_i64() {
        if i >= -(1i64 << 53) {
            if i < 0 {
                out.push('-');
            }
            write_u64(i.unsigned_abs(), out);
            return;
        }
    }
    // serde_json numbers are always finite, so `as_f64` only fails for exotic builds.
    write_f64(n.as_f64().unwrap_or(0.0), out);
}

/// Appends an ECMAScript-formatted double (`-0` is written `0`; non-finite values as `null`,
/// which cannot occur for values parsed from JSON).
pub fn write_f64(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    if f == 0.0 {
        out.push('0');
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.push_str(buf.format_finite(f));
}

/// Appends a decimal unsigned integer.
pub fn write_u64(mut v: u64, out: &mut String) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Marks (high bit of each byte) the bytes of `w` (eight bytes, little-endian) that JCS
/// escapes: `"`, `\` and those below 0x20. Borrows only run towards higher bytes, so the lowest
/// mark is exact (later ones may be false).
#[inline]
pub(super) fn escape_mask(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (control | (quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash))
        & (ONES * 0x80)
}

/// The index of the first byte at or after `i` that JCS escapes, or `bytes.len()`; eight bytes
/// at a time.
fn next_escape(bytes: &[u8], mut i: usize) -> usize {
    while let Some(word) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let m = escape_mask(u64::from_le_bytes(w));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0x00..=0x1f) {
        i += 1;
    }
    i
}

/// Appends a JCS-escaped, quoted string.
pub fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        // Every byte that is escaped is ASCII: `i` is on a character boundary.
        let i = next_escape(bytes, start);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(text: &str) -> String {
        let v: Value = serde_json::from_str(text).expect("number parses");
        canonicalize(&v)
    }

    #[test]
    fn rfc8785_numbers() {
        // RFC 8785 appendix B and section 3.2.2.3 examples.
        let cases = [
            ("1e30", "1e+30"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("-0", "0"),
            ("0", "0"),
            ("333333333.33333329", "333333333.3333333"),
            ("1E30", "1e+30"),
            ("9007199254740992", "9007199254740992"),
            ("9007199254740993", "9007199254740992"),
            ("295147905179352830000", "295147905179352830000"),
            ("1e+21", "1e+21"),
            ("1e+20", "100000000000000000000"),
            ("-5e-324", "-5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("-1.7976931348623157e308", "-1.7976931348623157e+308"),
            ("123456789012345680000", "123456789012345680000"),
            ("-123", "-123"),
            ("0.1", "0.1"),
            ("56", "56"),
        ];
        for (input, want) in cases {
            assert_eq!(num(input), want, "{input}");
        }
    }

    #[test]
    fn rfc8785_strings_and_literals() {
        let v: Value = serde_json::from_str(
            r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],
                "string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals":[null,true,false]}"#,
        )
        .expect("parses");
        assert_eq!(
            canonicalize(&v),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn rfc8785_key_order() {
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh",
                "1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .expect("parses");
        let out = canonicalize(&v);
        let order: Vec<&str> = [
            "\\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ]
        .to_vec();
        let mut pos = 0;
        for key in order {
            let needle = format!("\"{key}\":");
            let at = out[pos..]
                .find(&needle)
                .unwrap_or_else(|| panic!("{key} after {pos} in {out}"));
            pos += at + needle.len();
        }
    }

    #[test]
    fn nested_and_empty() {
        let v = json!({"b": [], "a": {}, "c": [{"z": 1, "y": [true]}]});
        assert_eq!(
            canonicalize(&v),
            r#"{"a":{},"b":[],"c":[{"y":[true],"z":1}]}"#
        );
    }
}
