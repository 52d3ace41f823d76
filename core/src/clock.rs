//! Time: an injectable clock and RFC 3339 formatting/parsing without a date library.
//!
//! All instants are microseconds since the Unix epoch (UTC). The wire form is RFC 3339 UTC with
//! exactly six fractional digits and `Z`, e.g. `2026-11-25T12:00:00.123456Z`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of "now", in microseconds since the Unix epoch.
#[derive(Clone)]
pub enum Clock {
    /// The operating system's clock.
    System,
    /// Deterministic: starts at `start_us` and advances `step_us` on every reading.
    Stepping {
        /// The next value to return.
        next_us: Arc<AtomicI64>,
        /// Advance per reading.
        step_us: i64,
    },
    /// A host-provided function (used on wasm32, where the OS clock is unavailable).
    Custom(Arc<dyn Fn() -> i64 + Send + Sync>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Stepping { next_us, step_us } => {
                write!(
                    f,
                    "Clock::Stepping({}, +{})",
                    next_us.load(Ordering::Relaxed),
                    step_us
                )
            }
            Clock::Custom(_) => f.write_str("Clock::Custom"),
        }
    }
}

impl Clock {
    /// A deterministic clock starting at `start_us`, advancing `step_us` per reading.
    pub fn stepping(start_us: i64, step_us: i64) -> Self {
        Clock::Stepping {
            next_us: Arc::new(AtomicI64::new(start_us)),
            step_us,
        }
    }

    /// Reads the clock.
    #[inline]
    pub fn now_us(&self) -> i64 {
        match self {
            Clock::System => system_now_us(),
            Clock::Stepping { next_us, step_us } => next_us.fetch_add(*step_us, Ordering::Relaxed),
            Clock::Custom(f) => f(),
        }
    }

    /// Reads the clock without advancing a stepping clock (for expiry checks that must not
    /// change the deterministic sequence of timestamps).
    #[inline]
    pub fn peek_us(&self) -> i64 {
        match self {
            Clock::Stepping { next_us, .. } => next_us.load(Ordering::Relaxed),
            other => other.now_us(),
        }
    }

    /// Moves a stepping clock forward by `delta_us` (tests and conformance cases use this to
    /// pass expiry times). Other clocks ignore it.
    pub fn advance(&self, delta_us: i64) {
        if let Clock::Stepping { next_us, .. } = self {
            next_us.fetch_add(delta_us, Ordering::Relaxed);
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn system_now_us() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn system_now_us() -> i64 {
    // No OS clock on wasm32-unknown-unknown: hosts install `Clock::Custom`.
    0
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_rfc3339_us(us: i64) -> String {
    let mut out = String::with_capacity(27);
    write_rfc3339_us(us, &mut out);
    out
}

/// Appends the RFC 3339 form of `us` to `out` (no intermediate allocation).
pub fn write_rfc3339_us(us: i64, out: &mut String) {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, mo, d) = civil_from_days(days);
    let mut buf = [0u8; 27];
    let y = y.clamp(0, 9999) as u32;
    put(&mut buf[0..4], y, 4);
    buf[4] = b'-';
    put(&mut buf[5..7], mo, 2);
    buf[7] = b'-';
    put(&mut buf[8..10], d, 2);
    buf[10] = b'T';
    put(&mut buf[11..13], sod / 3600, 2);
    buf[13] = b':';
    put(&mut buf[14..16], (sod / 60) % 60, 2);
    buf[16] = b':';
    put(&mut buf[17..19], sod % 60, 2);
    buf[19] = b'.';
    put(&mut buf[20..26], frac, 6);
    buf[26] = b'Z';
    // SAFETY-free: every byte written above is ASCII.
    out.push_str(std::str::from_utf8(&buf).unwrap_or(""));
}

fn put(dst: &mut [u8], mut v: u32, width: usize) {
    for i in (0..width).rev() {
        dst[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Parses an RFC 3339 timestamp (any offset, any number of fractional digits up to 9) into
/// microseconds since the epoch. Returns `None` when it is not RFC 3339.
pub fn parse_rfc3339_us(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y as i64, mo)
        || h > 23
        || mi > 59
        || se > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac_us: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                frac_us = frac_us * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        for _ in digits..6 {
            frac_us *= 10;
        }
    }
    let offset_s: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)? as i64;
            let om = num(i + 4..i + 6)? as i64;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y as i64, mo, d);
    let secs = days * 86_400 + (h as i64) * 3600 + (mi as i64) * 60 + se.min(59) as i64 - offset_s;
    Some(secs * 1_000_000 + frac_us)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Day of the week of an instant shifted by `offset_s`: 0 = Monday … 6 = Sunday.
pub fn weekday_and_minute(us: i64, offset_s: i64) -> (u32, u32) {
    let secs = us.div_euclid(1_000_000) + offset_s;
    let days = secs.div_euclid(86_400);
    let minute = (secs.rem_euclid(86_400) / 60) as u32;
    // 1970-01-01 was a Thursday (index 3).
    (((days + 3).rem_euclid(7)) as u32, minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let s = "2026-11-25T12:00:00.123456Z";
        let us = parse_rfc3339_us(s).unwrap();
        assert_eq!(format_rfc3339_us(us), s);
        assert_eq!(format_rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_rfc3339_us("2024-02-29T00:00:00+01:00").unwrap(),
            parse_rfc3339_us("2024-02-28T23:00:00Z").unwrap()
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-25 12:00",
            "yesterday",
            "2026-11-25T12:00:00",
            "2026-11-25T12:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339_us(bad), None, "{bad}");
        }
    }

    #[test]
    fn stepping_clock_advances_per_reading() {
        let c = Clock::stepping(1_000, 10);
        assert_eq!(c.now_us(), 1_000);
        assert_eq!(c.now_us(), 1_010);
        assert_eq!(c.peek_us(), 1_020);
        c.advance(1_000_000);
        assert_eq!(c.now_us(), 1_001_020);
    }

    #[test]
    fn weekday_of_known_dates() {
        // 2026-11-25 is a Wednesday (index 2).
        let us = parse_rfc3339_us("2026-11-25T23:30:00Z").unwrap();
        assert_eq!(weekday_and_minute(us, 0), (2, 23 * 60 + 30));
        assert_eq!(weekday_and_minute(us, 3600), (3, 30));
    }
}
