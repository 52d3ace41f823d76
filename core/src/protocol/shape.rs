//! A quick look at a JSON document's top level, without parsing it.
//!
//! serde's derive reads a struct from an array by position, which a strict protocol refuses
//! (see [`super::strict::from_slice_objects`]). Checking that needs the document as a value,
//! which costs more than parsing the request itself; this scan answers the same question for
//! top-level members in one pass with no allocation, so valid requests can be parsed straight
//! into their types. It never decides validity: when it cannot tell, it says so and the
//! caller takes the careful path.

/// True when `bytes` is a JSON object none of whose members named by `pointers` (`""` for the
/// root, or `"/name"`) starts with `[`. False when it cannot tell: a pointer deeper than one
/// level, a key with escapes, or input that is not a well-formed object at the top level.
pub(crate) fn no_array_at(bytes: &[u8], pointers: &[&str]) -> bool {
    members(bytes, pointers, b"").is_some()
}

/// [`no_array_at`], and whether the object has the top-level member `probe`: `None` when
/// [`no_array_at`] would be false, else `Some(present)`.
pub(crate) fn members(bytes: &[u8], pointers: &[&str], probe: &[u8]) -> Option<bool> {
    let mut keys: [&[u8]; 8] = [b""; 8];
    let mut n = 0;
    for p in pointers {
        if p.is_empty() {
            continue;
        }
        match p.strip_prefix('/') {
            Some(k) if !k.contains(['/', '~']) && n < keys.len() => {
                keys[n] = k.as_bytes();
                n += 1;
            }
            _ => return None,
        }
    }
    let keys = &keys[..n];
    match scan(bytes, keys, probe) {
        Some((true, seen)) => Some(seen),
        _ => None,
    }
}

/// `(no array at the named members, probe seen)`; `None` or `false` when unsure.
fn scan(b: &[u8], keys: &[&[u8]], probe: &[u8]) -> Option<(bool, bool)> {
    let mut seen = false;
    let mut i = ws(b, 0);
    if *b.get(i)? != b'{' {
        return Some((false, seen));
    }
    i = ws(b, i + 1);
    if *b.get(i)? == b'}' {
        return Some((true, seen));
    }
    loop {
        if *b.get(i)? != b'"' {
            return Some((false, seen));
        }
        let end = string_end(b, i)?;
        let key = &b[i + 1..end - 1];
        if key.contains(&b'\\') {
            return Some((false, seen));
        }
        seen |= !probe.is_empty() && key == probe;
        i = ws(b, end);
        if *b.get(i)? != b':' {
            return Some((false, seen));
        }
        i = ws(b, i + 1);
        if *b.get(i)? == b'[' && keys.contains(&key) {
            return Some((false, seen));
        }
        i = ws(b, value_end(b, i)?);
        match *b.get(i)? {
            b',' => i = ws(b, i + 1),
            b'}' => return Some((true, seen)),
            _ => return Some((false, seen)),
        }
    }
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Index just past the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'\\' {
            j = k + 2;
        } else {
            return Some(k + 1);
        }
    }
}

/// Index just past the value starting at `b[i]`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let rest = b.get(i..)?;
            Some(
                i + rest
                    .iter()
                    .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(rest.len()),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::no_array_at;

    const P: &[&str] = &["", "/requester", "/task"];

    #[test]
    fn objects_pass_and_arrays_at_named_members_do_not() {
        assert!(no_array_at(
            br#" {"requester": {"a": [1, "]"]}, "task": {}, "x": [1]} "#,
            P
        ));
        assert!(no_array_at(b"{}", P));
        assert!(!no_array_at(br#"{"requester": ["a", "s"]}"#, P));
        assert!(!no_array_at(br#"{"x": "\"}", "task" : [ ]}"#, P));
        assert!(!no_array_at(br#"["requester"]"#, P));
    }

    #[test]
    fn members_reports_the_probe_only_when_the_shape_is_plain() {
        use super::members;
        let op = b"operation";
        assert_eq!(
            members(br#"{"requester": {"operation": 1}}"#, P, op),
            Some(false)
        );
        assert_eq!(
            members(br#"{"x": "operation", "operation": "execute"}"#, P, op),
            Some(true)
        );
        assert_eq!(members(br#"{"operation": null, "task": []}"#, P, op), None);
        assert_eq!(members(br#"{"operatio\u006e": 1}"#, P, op), None);
        assert_eq!(members(b"{}", P, op), Some(false));
        assert_eq!(members(b"{}", P, b""), Some(false));
    }

    #[test]
    fn unsure_means_false() {
        assert!(!no_array_at(br#"{"re\u0071uester": {}}"#, P));
        assert!(!no_array_at(br#"{"requester": {}"#, P));
        assert!(!no_array_at(br#"{"requester" {}}"#, P));
        assert!(!no_array_at(b"{}", &["/a/b"]));
        assert!(!no_array_at(b"", P));
    }
}
