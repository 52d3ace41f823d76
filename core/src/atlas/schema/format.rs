//! The `format` values the validator asserts. Any other format name is refused at atlas load
//! (fail closed: a schema that says `"format": "iban"` must not pass unchecked strings).
//! Checks follow the RFCs the specification names, without regexes:
//! `date-time`, `date`, `time` (RFC 3339, leap seconds only at 23:59:60 UTC),
//! `email` (RFC 5321 mailbox: dot-atom or quoted local part; hostname or address literal),
//! `hostname` (RFC 1123 labels; IDNA A-labels `xn--` refused), `ipv4`, `ipv6` (RFC 2673 / 4291; no zone id),
//! `uri` (RFC 3986 absolute URI), `uri-reference` (RFC 3986 URI or relative reference),
//! `duration` (RFC 3339 appendix A, ISO 8601 durations), `uuid` (RFC 4122 text form).
//! Two names are accepted as annotations because they constrain nothing a string could break:
//! `password` (a UI hint: pydantic's `SecretStr`) and `binary` (OpenAPI's raw bytes: pydantic's
//! `bytes`); any string is valid for them, as it is for the tools that emit them.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An asserted format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 3339 `date-time`.
    DateTime,
    /// RFC 3339 `full-date`.
    Date,
    /// RFC 3339 `full-time`.
    Time,
    /// RFC 5321 mailbox.
    Email,
    /// RFC 1123 host name.
    Hostname,
    /// Dotted-quad IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// RFC 3986 absolute URI.
    Uri,
    /// RFC 4122 UUID.
    Uuid,
    /// RFC 3986 URI or relative reference.
    UriReference,
    /// RFC 3339 appendix A duration (`P1DT2H`, `P3W`).
    Duration,
    /// `password`: an annotation (a UI hint); every string is valid.
    Password,
    /// `binary`: an annotation (OpenAPI's raw bytes); every string is valid.
    Binary,
}

impl Format {
    /// Every supported name.
    pub const NAMES: [&'static str; 13] = [
        "date-time",
        "date",
        "time",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uuid",
        "uri-reference",
        "duration",
        "password",
        "binary",
    ];
    const ALL: [Format; 13] = [
        Format::DateTime,
        Format::Date,
        Format::Time,
        Format::Email,
        Format::Hostname,
        Format::Ipv4,
        Format::Ipv6,
        Format::Uri,
        Format::Uuid,
        Format::UriReference,
        Format::Duration,
        Format::Password,
        Format::Binary,
    ];

    /// The format of a name, if supported.
    pub fn parse(name: &str) -> Option<Format> {
        let i = Self::NAMES.iter().position(|n| *n == name)?;
        Some(Self::ALL[i])
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|f| *f == self).unwrap_or(0)]
    }

    /// Whether `s` is a valid value of this format.
    pub fn check(self, s: &str) -> bool {
        match self {
            Format::DateTime => date_time(s),
            Format::Date => date(s),
            Format::Time => time(s),
            Format::Email => email(s),
            Format::Hostname => hostname(s),
            Format::Ipv4 => s.parse::<Ipv4Addr>().is_ok(),
            Format::Ipv6 => s.parse::<Ipv6Addr>().is_ok(),
            Format::Uri => uri(s),
            Format::Uuid => uuid(s),
            Format::UriReference => uri_reference(s),
            Format::Duration => duration(s),
            Format::Password | Format::Binary => true,
        }
    }
}

/// `n` ASCII digits at the start of `b` as a number.
fn digits(b: &[u8], n: usize) -> Option<u32> {
    let d = b.get(..n)?;
    d.iter()
        .all(u8::is_ascii_digit)
        .then(|| d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')))
}

fn date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(b, 4), digits(&b[5..], 2), digits(&b[8..], 2)) else {
        return false;
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (digits(b, 2), digits(&b[3..], 2), digits(&b[6..], 2))
    else {
        return false;
    };
    let mut rest = &b[8..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &rest[1 + n..];
    }
    let offset: i32 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let (Some(oh), Some(om)) = (digits(&[*oh1, *oh2], 2), digits(&[*om1, *om2], 2)) else {
                return false;
            };
            if oh > 23 || om > 59 {
                return false;
            }
            let o = (oh * 60 + om) as i32;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return false,
    };
    if h > 23 || m > 59 || sec > 60 {
        return false;
    }
    // A leap second is only valid at 23:59:60 UTC.
    let utc = ((h * 60 + m) as i32 - offset).rem_euclid(24 * 60);
    sec < 60 || utc == 23 * 60 + 59
}

fn date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 11 && matches!(b[10], b'T' | b't') && date(&s[..10]) && time(&s[11..])
}

/// RFC 1123 letters-digits-hyphens labels. A label with `--` in positions 3-4 is an IDNA
/// A-label (`xn--...`): those are refused (fail closed) because the IDNA2008 rules that make
/// one valid are not implemented; write the Unicode form's ASCII alternative instead.
fn hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && b.get(2..4) != Some(b"--")
        })
}

fn email(s: &str) -> bool {
    let Some(at) = s.rfind('@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    let local_ok = if let Some(q) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        // quoted-string: printable ASCII and spaces; `"` and `\` only escaped.
        let mut escaped = false;
        let chars_ok = q.chars().all(|c| {
            let printable = c == ' ' || c == '\t' || c.is_ascii_graphic();
            if escaped {
                escaped = false;
                return printable;
            }
            escaped = c == '\\';
            printable && c != '"'
        });
        chars_ok && !escaped
    } else {
        const SPECIAL: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
        !local.is_empty()
            && local.len() <= 64
            && local.split('.').all(|atom| {
                !atom.is_empty()
                    && atom
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || SPECIAL.contains(&c))
            })
    };
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(lit) => match lit.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => lit.parse::<Ipv4Addr>().is_ok(),
        },
        None => hostname(domain),
    };
    local_ok && domain_ok
}

fn uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// RFC 3986 `URI` (absolute, fragment allowed).
fn uri(s: &str) -> bool {
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s.as_bytes()[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let rest = &s[colon + 1..];
    let (authority, tail) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (Some(&r[..end]), &r[end..])
        }
        None => (None, rest),
    };
    if let Some(a) = authority {
        let (userinfo, hostport) = match a.rfind('@') {
            Some(i) => (&a[..i], &a[i + 1..]),
            None => ("", a),
        };
        if !uri_chars(userinfo, b":") {
            return false;
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let Some(close) = h.find(']') else {
                return false;
            };
            let lit = &h[..close];
            if lit.parse::<Ipv6Addr>().is_err() && !lit.starts_with(['v', 'V']) {
                return false;
            }
            ("", &h[close + 1..])
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], &hostport[i..]),
                None => (hostport, ""),
            }
        };
        if !uri_chars(host, b"") {
            return false;
        }
        let port_ok = port.is_empty()
            || (port.starts_with(':') && port[1..].bytes().all(|c| c.is_ascii_digit()));
        if !port_ok {
            return false;
        }
    }
    let (before_frag, frag) = match tail.find('#') {
        Some(i) => (&tail[..i], &tail[i + 1..]),
        None => (tail, ""),
    };
    uri_chars(before_frag, b":@/?") && uri_chars(frag, b":@/?")
}

/// RFC 3986 `URI-reference`: an absolute URI, or a relative reference whose first path segment
/// has no `:` (else it would read as a scheme), with only URI characters in its path, query and
/// fragment (one `#`).
fn uri_reference(s: &str) -> bool {
    let first_segment_end = s.find(['/', '?', '#']).unwrap_or(s.len());
    if s[..first_segment_end].contains(':') {
        return uri(s);
    }
    let (before_frag, frag) = match s.find('#') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    if let Some(authority) = before_frag.strip_prefix("//") {
        let end = authority.find(['/', '?']).unwrap_or(authority.len());
        if !uri_chars(&authority[..end], b":@[]") {
            return false;
        }
    }
    uri_chars(before_frag, b":@/?") && uri_chars(frag, b":@/?")
}

/// RFC 3339 appendix A `duration`: `P` then weeks alone (`P3W`), or date parts in order
/// (`nY nM nD`) and/or `T` with time parts in order (`nH nM nS`); at least one part, and a `T`
/// is followed by at least one time part. Whole numbers only, as the grammar says.
fn duration(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.find('T') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    /// Parts `<digits><unit>` in the order of `units`, each at most once; how many.
    fn parts(s: &str, units: &[u8]) -> Option<usize> {
        let (b, mut i, mut next, mut n) = (s.as_bytes(), 0, 0, 0);
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let unit = *b.get(i)?;
            let at = units[next..].iter().position(|u| *u == unit)?;
            if i == start {
                return None;
            }
            next += at + 1;
            n += 1;
            i += 1;
        }
        Some(n)
    }
    if date.ends_with('W') {
        return time.is_none() && parts(date, b"W") == Some(1);
    }
    let Some(d) = parts(date, b"YMD") else {
        return false;
    };
    match time {
        None => d > 0,
        Some(t) => parts(t, b"HMS").is_some_and(|n| n > 0),
    }
}

/// Unreserved, sub-delims, `%HH` and the `extra` bytes only.
fn uri_chars(s: &str, extra: &[u8]) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&c) || extra.contains(&c);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}
