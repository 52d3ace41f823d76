//! Where canonical JSONL lines go: the [`TraceSink`] trait, the bounded [`MemorySink`] and the
//! discarding [`NullSink`]. The file sink lives in `file_sink`.

use super::chain::{ChainHead, TraceEvent};
use parking_lot::Mutex;
use std::io;
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
    events: u64,
}

/// A bounded in-memory JSONL buffer, drained by the host. Cloning gives another handle to the
/// same buffer (the collector keeps one, the host drains through another).
#[derive(Debug, Clone)]
pub struct MemorySink {
    inner: Arc<Mutex<MemoryInner>>,
    limit: u64,
}

impl MemorySink {
    /// A sink holding at most `limit_events` undrained events.
    pub fn new(limit_events: u64) -> Self {
        MemorySink {
            inner: Arc::new(Mutex::new(MemoryInner::default())),
            limit: limit_events.max(1),
        }
    }

    /// Takes the JSONL bytes of every event not yet drained.
    pub fn drain(&self) -> Vec<u8> {
        let mut g = self.inner.lock();
        g.events = 0;
        std::mem::take(&mut g.buf)
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

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TraceSink for MemorySink {
    fn write_batch(&mut self, lines: &[u8], events: usize) -> io::Result<()> {
        let mut g = self.inner.lock();
        if g.events + events as u64 > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "memory sink full ({} of {} events held); drain it",
                    g.events, self.limit
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
        Some(self.limit.saturating_sub(self.inner.lock().events))
    }
}
