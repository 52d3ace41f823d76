//! Where canonical JSONL lines go: the [`TraceSink`] trait, the bounded [`MemorySink`] and the
//! discarding [`NullSink`]. The file sink lives in `file_sink`.

use super::chain::{ChainHead, TraceEvent};
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A destination for batches of canonical event lines.
///
/// The collector calls it from one thread at a time (the background thread, or the caller's
/// thread without the `threads` feature). Contract:
///
/// * `write_batch` receives whole LF-terminated lines, `events` of them. It either accepts all of
///   them (`Ok`) or none of them (`Err`): a sink that may have written part of a batch must undo
///   it before returning an error, because the collector retries the same batch later.
/// * A batch accepted by `write_batch` is as durable as the sink's policy promises (the file sink
///   with `fsync: batch` has fsynced it) — `flush` relies on this.
/// * `room` tells the collector how many more events a bounded sink accepts right now, so the
///   overflow policy can act *before* events are chained (never dropping a chained event).
pub trait TraceSink: Send {
    /// Writes `events` complete LF-terminated lines, all or nothing.
    fn write_batch(&mut self, lines: &[u8], events: usize) -> io::Result<()>;

    /// Makes everything accepted so far durable per the sink's policy.
    fn flush(&mut self) -> io::Result<()>;

    /// How many more events the sink accepts now; `None` when unbounded.
    fn room(&self) -> Option<u64> {
        None
    }

    /// Chain heads recovered from existing data (a reopened file), taken once at startup.
    fn take_recovered(&mut self) -> Vec<ChainHead> {
        Vec::new()
    }

    /// Events the sink accepted and then lost for good (an HTTP receiver refused their batch),
    /// per trace id, each reported once. The sink has counted them already; the collector adds
    /// a `trace.gap` (reason `sink_rejected`) to each of these traces that is still open.
    fn take_lost(&mut self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// A sink that accepts and discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl TraceSink for NullSink {
    fn write_batch(&mut self, _lines: &[u8], _events: usize) -> io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct MemoryInner {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already taken by a chunked drain (compacted lazily).
    head: usize,
    events: u64,
    /// Bytes taken out of the sink since it was made: the absolute offset of `buf[head]`.
    taken: u64,
}

impl MemoryInner {
    fn held(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// Drops what was taken; gives the buffer's memory back when nothing is left.
    fn compact(&mut self) {
        if self.head == self.buf.len() {
            self.buf = Vec::new();
            self.head = 0;
        } else if self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }
}

/// Events taken from a [`MemorySink`] by [`MemorySink::peek`]: whole LF-terminated lines from
/// the front of the sink, still held there until [`MemorySink::commit`] removes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryChunk {
    /// The JSONL bytes (whole lines).
    pub bytes: Vec<u8>,
    /// Lines in `bytes`.
    pub events: u64,
    /// Events still held after this chunk (more to drain when non-zero).
    pub remaining_events: u64,
    /// What [`MemorySink::commit`] needs to remove exactly this chunk.
    pub receipt: ChunkReceipt,
}

impl MemoryChunk {
    /// The bytes, and the receipt that removes them from the sink.
    pub fn into_parts(self) -> (Vec<u8>, ChunkReceipt) {
        (self.bytes, self.receipt)
    }
}

/// Identifies a chunk at the front of a [`MemorySink`]: where it starts (bytes taken from the
/// sink before it), its length and its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkReceipt {
    start: u64,
    len: u64,
    events: u64,
}

impl ChunkReceipt {
    /// Events the chunk holds.
    pub fn events(&self) -> u64 {
        self.events
    }
}

/// A bounded in-memory JSONL buffer, drained by the host. Cloning gives another handle to the
/// same buffer (the collector keeps one, the host drains through another).
///
/// Bounded by events (`memory_limit_events`) and, optionally, by bytes
/// ([`set_limit_bytes`](Self::set_limit_bytes)): once the bytes held reach the byte limit the
/// sink accepts no more batches (the last accepted batch may pass it by at most one batch).
#[derive(Debug, Clone)]
pub struct MemorySink {
    inner: Arc<Mutex<MemoryInner>>,
    limit: u64,
    limit_bytes: Arc<AtomicU64>,
    discarding: Arc<AtomicBool>,
}

impl MemorySink {
    /// A sink holding at most `limit_events` undrained events.
    pub fn new(limit_events: u64) -> Self {
        MemorySink {
            inner: Arc::new(Mutex::new(MemoryInner::default())),
            limit: limit_events.max(1),
            limit_bytes: Arc::new(AtomicU64::new(u64::MAX)),
            discarding: Arc::new(AtomicBool::new(false)),
        }
    }

    /// For a resolver being released, whose events nobody will drain: drops what is held, and
    /// from now on accepts every batch and discards it, so the collector's closing flush never
    /// waits for room.
    pub fn discard(&self) {
        self.discarding.store(true, Relaxed);
        drop(self.drain());
    }

    /// Bounds the bytes held (every handle of this sink sees it); `u64::MAX` = no byte bound.
    pub fn set_limit_bytes(&self, bytes: u64) {
        self.limit_bytes.store(bytes.max(1), Relaxed);
    }

    /// The byte bound (`u64::MAX` when there is none).
    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes.load(Relaxed)
    }

    /// The event bound.
    pub fn limit_events(&self) -> u64 {
        self.limit
    }

    /// Takes the JSONL bytes of every event not yet drained.
    pub fn drain(&self) -> Vec<u8> {
        let mut g = self.inner.lock();
        let mut out = std::mem::take(&mut g.buf);
        out.drain(..g.head);
        g.taken += out.len() as u64;
        g.head = 0;
        g.events = 0;
        out
    }

    /// Copies whole lines from the front, at most `max_bytes` (but always one line when any is
    /// held, whatever its size) and at most `max_events` (at least 1). Nothing is removed: the
    /// host removes the chunk with [`commit`](Self::commit) once it holds it, so a chunk the
    /// host fails to take is drained again, never lost.
    pub fn peek(&self, max_bytes: usize, max_events: u64) -> MemoryChunk {
        let g = self.inner.lock();
        let held = g.held();
        let max_events = max_events.max(1);
        let (len, events) = if held.len() <= max_bytes && g.events <= max_events {
            (held.len(), g.events)
        } else {
            let (mut len, mut events) = (0usize, 0u64);
            while events < max_events && len < held.len() {
                let end = held[len..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(held.len(), |i| len + i + 1);
                if events > 0 && end > max_bytes {
                    break;
                }
                len = end;
                events += 1;
            }
            (len, events)
        };
        MemoryChunk {
            bytes: held[..len].to_vec(),
            events,
            remaining_events: g.events - events,
            receipt: ChunkReceipt {
                start: g.taken,
                len: len as u64,
                events,
            },
        }
    }

    /// Removes a chunk returned by [`peek`](Self::peek). False (and nothing removed) when the
    /// front of the sink moved since (another drain took it).
    pub fn commit(&self, receipt: &ChunkReceipt) -> bool {
        let mut g = self.inner.lock();
        let len = receipt.len as usize;
        if g.taken != receipt.start || g.held().len() < len || g.events < receipt.events {
            return false;
        }
        g.head += len;
        g.taken += receipt.len;
        g.events -= receipt.events;
        g.compact();
        true
    }

    /// Takes every event not yet drained, parsed. Lines are produced by the collector, so they
    /// always parse; a line that does not is skipped.
    pub fn drain_events(&self) -> Vec<TraceEvent> {
        let bytes = self.drain();
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect()
    }

    /// Events currently held.
    pub fn len(&self) -> u64 {
        self.inner.lock().events
    }

    /// Bytes currently held.
    pub fn held_bytes(&self) -> u64 {
        let g = self.inner.lock();
        (g.buf.len() - g.head) as u64
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TraceSink for MemorySink {
    fn write_batch(&mut self, lines: &[u8], events: usize) -> io::Result<()> {
        if self.discarding.load(Relaxed) {
            return Ok(());
        }
        let mut g = self.inner.lock();
        let bytes_full = (g.buf.len() - g.head) as u64 >= self.limit_bytes.load(Relaxed);
        if g.events + events as u64 > self.limit || bytes_full {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "memory sink full ({} of {} events, {} bytes held); drain it",
                    g.events,
                    self.limit,
                    g.buf.len() - g.head
                ),
            ));
        }
        g.buf.extend_from_slice(lines);
        g.events += events as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn room(&self) -> Option<u64> {
        if self.discarding.load(Relaxed) {
            return None;
        }
        let g = self.inner.lock();
        if (g.buf.len() - g.head) as u64 >= self.limit_bytes.load(Relaxed) {
            return Some(0);
        }
        Some(self.limit.saturating_sub(g.events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_with(lines: &[&str]) -> MemorySink {
        let mut m = MemorySink::new(100);
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        m.write_batch(text.as_bytes(), lines.len()).expect("room");
        m
    }

    #[test]
    fn peek_takes_whole_lines_within_the_bounds_and_commit_removes_them() {
        let m = sink_with(&["aaaa", "bb", "cccccc"]);
        let c = m.peek(8, 10);
        assert_eq!(c.bytes, b"aaaa\nbb\n");
        assert_eq!((c.events, c.receipt.start, c.remaining_events), (2, 0, 1));
        // Peeking again gives the same chunk: nothing left the sink.
        assert_eq!(m.peek(8, 10), c);
        assert_eq!((m.len(), m.held_bytes()), (3, 15));
        assert!(m.commit(&c.receipt));
        assert!(!m.commit(&c.receipt), "a chunk is committed once");
        assert_eq!((m.len(), m.held_bytes()), (1, 7));
        // One line is always taken, even when it is larger than max_bytes.
        let c = m.peek(1, 10);
        assert_eq!(
            (c.bytes.as_slice(), c.events, c.receipt.start),
            (&b"cccccc\n"[..], 1, 8)
        );
        assert!(m.commit(&c.receipt));
        assert!(m.is_empty());
        assert_eq!(m.peek(8, 10).events, 0);
    }

    #[test]
    fn peek_by_events_and_drain_after_a_partial_commit() {
        let mut m = sink_with(&["a", "b", "c", "d"]);
        let c = m.peek(usize::MAX, 3);
        assert_eq!((c.bytes.as_slice(), c.events), (&b"a\nb\nc\n"[..], 3));
        assert!(m.commit(&c.receipt));
        m.write_batch(b"e\n", 1).expect("room");
        assert_eq!(m.drain(), b"d\ne\n");
        let c = m.peek(usize::MAX, 0);
        assert_eq!(c.events, 0);
        assert_eq!(c.receipt.start, 10);
    }

    #[test]
    fn byte_limit_refuses_batches_once_reached() {
        let mut m = MemorySink::new(1000);
        m.set_limit_bytes(4);
        assert_eq!(m.room(), Some(1000));
        m.write_batch(b"abc\nde\n", 2)
            .expect("under the byte limit");
        assert_eq!(m.room(), Some(0));
        let e = m.write_batch(b"f\n", 1).expect_err("full");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let c = m.peek(4, 10);
        assert!(m.commit(&c.receipt));
        assert_eq!(m.room(), Some(999));
        m.write_batch(b"f\n", 1).expect("room again");
        assert_eq!(m.drain(), b"de\nf\n");
    }

    #[test]
    fn a_discarding_sink_accepts_and_drops_everything() {
        let mut m = MemorySink::new(1);
        m.write_batch(b"a\n", 1).expect("room");
        assert!(m.write_batch(b"b\n", 1).is_err());
        m.discard();
        assert_eq!(m.room(), None);
        m.write_batch(b"c\nd\n", 2).expect("discarded");
        assert!(m.is_empty());
        assert_eq!(m.drain(), b"");
    }
}
