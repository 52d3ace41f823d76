//! Identifiers: UUIDv7 by default, a seeded counter in deterministic mode.
//!
//! Both forms are 36-character, UUID-shaped, lowercase hex strings, so every consumer can treat
//! them alike. Deterministic ids are `SSSSSSSS-KKKK-7000-8000-NNNNNNNNNNNN`: the seed, a stream
//! number (0 for the engine, 1 for the trace collector) and a counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of unique ids.
#[derive(Clone, Debug)]
pub enum IdSource {
    /// Random UUIDv7 (time-ordered).
    Uuid7,
    /// Deterministic counter ids.
    Counter {
        /// Seed printed in the first group.
        seed: u32,
        /// Stream printed in the second group.
        stream: u16,
        /// The next counter value.
        next: Arc<AtomicU64>,
    },
}

impl IdSource {
    /// A deterministic source for `seed` on `stream`, starting at 1.
    pub fn counter(seed: u32, stream: u16) -> Self {
        IdSource::Counter {
            seed,
            stream,
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// A second, independent source of the same kind (used by the trace collector so that its
    /// ids never interleave with the engine's).
    pub fn fork(&self, stream: u16) -> Self {
        match self {
            IdSource::Uuid7 => IdSource::Uuid7,
            IdSource::Counter { seed, .. } => IdSource::counter(*seed, stream),
        }
    }

    /// A new id. `now_us` is used for the UUIDv7 timestamp.
    pub fn next_id(&self, now_us: i64) -> String {
        match self {
            IdSource::Uuid7 => uuid7(now_us),
            IdSource::Counter { seed, stream, next } => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                format!("{seed:08x}-{stream:04x}-7000-8000-{n:012x}")
            }
        }
    }
}

/// A UUIDv7 string (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, 74 random bits.
pub fn uuid7(now_us: i64) -> String {
    let ms = (now_us.max(0) / 1000) as u64 & 0xffff_ffff_ffff;
    let r1 = fastrand::u64(..);
    let r2 = fastrand::u16(..);
    let hi: u64 = (ms << 16) | 0x7000 | (r2 as u64 & 0x0fff);
    let lo: u64 = (r1 & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let mut s = String::with_capacity(36);
    push_hex(&mut s, hi >> 32, 8);
    s.push('-');
    push_hex(&mut s, (hi >> 16) & 0xffff, 4);
    s.push('-');
    push_hex(&mut s, hi & 0xffff, 4);
    s.push('-');
    push_hex(&mut s, lo >> 48, 4);
    s.push('-');
    push_hex(&mut s, lo & 0xffff_ffff_ffff, 12);
    s
}

fn push_hex(s: &mut String, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        s.push(HEX[((v >> (i * 4)) & 0xf) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid7_has_version_and_variant() {
        let id = uuid7(1_764_072_000_000_000);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(uuid7(0), uuid7(0));
    }

    #[test]
    fn counter_ids_are_deterministic_and_distinct_per_stream() {
        let a = IdSource::counter(42, 0);
        assert_eq!(a.next_id(0), "0000002a-0000-7000-8000-000000000001");
        assert_eq!(a.next_id(0), "0000002a-0000-7000-8000-000000000002");
        let b = a.fork(1);
        assert_eq!(b.next_id(0), "0000002a-0001-7000-8000-000000000001");
    }
}
