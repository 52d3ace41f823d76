//! One pass over JSON text for what serde's `Value` silently accepts (protocol.md §6):
//! duplicate object keys (serde keeps the last, so `{"id":"bad","id":"ok"}` would pass a schema
//! checked against one and run with the other) and integers beyond ±2^53 (RFC 8785 hashes
//! numbers as IEEE doubles: two different large integers would get one parameters digest, one
//! approval, one trace hash).
//!
//! Syntax errors are not reported here: the guard gives up on malformed text and lets serde
//! report it with its line and column. Linear in the input; nesting is bounded like serde's
//! (128 levels).

use std::borrow::Cow;

/// The largest integer magnitude accepted: 2^53 (every integer up to it is an exact double).
pub const MAX_SAFE_INTEGER: u64 = 1 << 53;
const MAX_DEPTH: usize = 128;

/// What the guard found: the JSON pointer of the offending value and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardError {
    /// JSON pointer (RFC 6901) of the second occurrence of a key, or of the number.
    pub pointer: String,
    /// Human message naming the value.
    pub message: String,
}

/// Checks JSON text; `Ok` also for malformed text (serde reports that).
pub fn check(bytes: &[u8]) -> Result<(), GuardError> {
    let mut g = Guard {
        b: bytes,
        i: 0,
        path: Vec::new(),
    };
    match g.value(0) {
        Err(Stop::Found(e)) => Err(e),
        _ => Ok(()),
    }
}

enum Stop {
    Found(GuardError),
    Malformed,
}

enum Seg<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

struct Guard<'a> {
    b: &'a [u8],
    i: usize,
    path: Vec<Seg<'a>>,
}

impl<'a> Guard<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn pointer(&self, last: Option<&str>) -> String {
        let mut p = String::new();
        for s in &self.path {
            p.push('/');
            match s {
                Seg::Key(k) => p.push_str(&crate::error::pointer_token(k)),
                Seg::Index(i) => p.push_str(&i.to_string()),
            }
        }
        if let Some(k) = last {
            p.push('/');
            p.push_str(&crate::error::pointer_token(k));
        }
        p
    }

    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Malformed);
        }
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(Stop::Malformed),
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), Stop> {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    }

    /// A string starting at `"`; returns its decoded text (borrowed when it has no escapes).
    fn string(&mut self) -> Result<Cow<'a, str>, Stop> {
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        loop {
            let Some(off) = memchr::memchr2(b'"', b'\\', &self.b[self.i..]) else {
                return Err(Stop::Malformed);
            };
            self.i += off;
            if self.b[self.i] == b'\\' {
                escaped = true;
                self.i += 2;
                if self.i > self.b.len() {
                    return Err(Stop::Malformed);
                }
            } else {
                self.i += 1;
                break;
            }
        }
        let raw = &self.b[start..self.i];
        if escaped {
            serde_json::from_slice::<String>(raw)
                .map(Cow::Owned)
                .map_err(|_| Stop::Malformed)
        } else {
            std::str::from_utf8(&raw[1..raw.len() - 1])
                .map(Cow::Borrowed)
                .map_err(|_| Stop::Malformed)
        }
    }

    fn number(&mut self) -> Result<(), Stop> {
        let start = self.i;
        let mut integer = true;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => integer = false,
                _ => break,
            }
            self.i += 1;
        }
        if !integer {
            return Ok(());
        }
        let digits = &self.b[start..self.i];
        let digits = digits.strip_prefix(b"-").unwrap_or(digits);
        let too_big = digits.len() > 16
            || std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
                .is_some_and(|n| n > MAX_SAFE_INTEGER);
        if too_big {
            let text = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
            return Err(Stop::Found(GuardError {
                pointer: self.pointer(None),
                message: format!(
                    "integer {text} is beyond ±2^53 and cannot be hashed exactly (RFC 8785); pass it as a string"
                ),
            }));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<(), Stop> {
        self.i += 1;
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        let mut set: Option<rustc_hash::FxHashSet<Cow<'a, str>>> = None;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(Stop::Malformed);
            }
            let key = self.string()?;
            let dup = match &mut set {
                Some(s) => !s.insert(key.clone()),
                None => {
                    let d = keys.contains(&key);
                    keys.push(key.clone());
                    if keys.len() > 16 {
                        set = Some(keys.drain(..).collect());
                    }
                    d
                }
            };
            if dup {
                return Err(Stop::Found(GuardError {
                    pointer: self.pointer(Some(&key)),
                    message: format!("duplicate key {key:?}"),
                }));
            }
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(Stop::Malformed);
            }
            self.i += 1;
            self.path.push(Seg::Key(key));
            self.value(depth + 1)?;
            self.path.pop();
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), Stop> {
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        let mut n = 0;
        loop {
            self.path.push(Seg::Index(n));
            self.value(depth + 1)?;
            self.path.pop();
            n += 1;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn duplicate_keys_point_at_the_second() {
        let e = check(br#"{"a":{"order_id":"bad","order_id":"ORD-1"}}"#).unwrap_err();
        assert_eq!(e.pointer, "/a/order_id");
        let e = check(br#"{"x":[{"k":1},{"k":1,"\u006b":2}]}"#).unwrap_err();
        assert_eq!(e.pointer, "/x/1/k", "escaped keys are compared decoded");
        let many: String = (0..40).map(|i| format!("\"k{i}\":1,")).collect();
        assert!(check(format!("{{{many}\"k7\":2}}").as_bytes()).is_err());
        assert!(check(format!("{{{many}\"z\":2}}").as_bytes()).is_ok());
    }

    #[test]
    fn integers_beyond_2_pow_53_are_refused() {
        assert!(check(br#"{"n":9007199254740992}"#).is_ok());
        assert!(check(br#"{"n":-9007199254740992}"#).is_ok());
        let e = check(br#"{"n":[1,9007199254740993]}"#).unwrap_err();
        assert_eq!(e.pointer, "/n/1");
        assert!(
            check(br#"{"n":1e300}"#).is_ok(),
            "floats are doubles already"
        );
        assert!(check(br#"{"n":123456789012345678901234567890}"#).is_err());
    }

    #[test]
    fn malformed_text_is_left_to_serde() {
        for t in [
            &b"{"[..],
            b"{\"a\":",
            b"[1,",
            b"\"abc",
            b"{\"a\" 1}",
            b"nul",
            b"\\",
        ] {
            assert!(check(t).is_ok());
        }
        let deep = "[".repeat(10_000);
        assert!(check(deep.as_bytes()).is_ok());
    }
}
