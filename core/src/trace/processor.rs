//! The background half of the collector: sequencing, rendering, canonical JSON, hashing,
//! batching, gap events and sink writes with retry. Runs on the collector thread (or on the
//! caller's thread without the `threads` feature); never on the hot path.

#![cfg_attr(not(feature = "threads"), allow(dead_code))]

use super::chain::{Chain, PayloadText, UnhashedFieldsNoChain};
use super::config::Overflow;
use super::event::{EventType, RawEvent, SessionTrace};
use super::sink::TraceSink;
use crate::ids::IdSource;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A queue slot: an event, or a flush marker that completes once everything before it is written.
#[derive(Debug)]
pub(crate) enum Slot {
    /// An event.
    Event(RawEvent),
    /// A flush marker with its generation.
    Flush(u64),
}

/// Counters shared between the hot path, the processor and `stats()`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub written: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    /// Dropped after waiting `block_timeout_ms` in block mode.
    pub dropped_block_timeout: AtomicU64,
    pub dropped_sink_full: AtomicU64,
    /// Accepted by the sink, then refused for good by its receiver (HTTP sink).
    pub dropped_sink_rejected: AtomicU64,
    pub dropped_closed: AtomicU64,
    pub sink_errors: AtomicU64,
    pub bytes_written: AtomicU64,
    pub batches: AtomicU64,
    pub gaps: AtomicU64,
    pub pending_events: AtomicU64,
    pub sessions: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// Retries of one batch before the processor gives up for now and keeps it buffered.
const WRITE_ATTEMPTS: u32 = 3;

struct SessionState {
    chain: Chain,
    /// Events dropped by the collector because the sink was full (reason `sink_full`).
    sink_dropped: u64,
    /// Events the sink lost after accepting them (reason `sink_rejected`), not yet reported.
    rejected: u64,
    trace: Arc<SessionTrace>,
}

/// Result of a processing step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Done; the event is in the current batch (or was dropped and counted).
    Done,
    /// The sink has no room (block mode) or earlier batches are still unwritten: try again later.
    Stalled,
}

pub(crate) struct Processor {
    chains: HashMap<Arc<str>, SessionState>,
    recovered: HashMap<String, Chain>,
    ids: IdSource,
    sink: Box<dyn TraceSink>,
    overflow: Overflow,
    batch_size: usize,
    max_pending_events: usize,
    batch: Vec<u8>,
    batch_events: usize,
    pending: VecDeque<(Vec<u8>, usize)>,
    pending_events: usize,
    scratch: String,
    /// Reused buffer for the canonical payload of the event being processed.
    payload_text: String,
    line: String,
    last_ts: i64,
    /// Sessions holding `sink_dropped > 0`.
    sink_gap_sessions: Vec<Arc<str>>,
    pub counters: Arc<Counters>,
    /// A slot taken from the queue that could not be processed yet (stalled).
    pub held: Option<Slot>,
    /// Sleep between write attempts (zero without threads).
    pub retry_backoff: std::time::Duration,
}

impl Processor {
    pub fn new(
        mut sink: Box<dyn TraceSink>,
        ids: IdSource,
        overflow: Overflow,
        batch_size: usize,
        max_pending_events: usize,
        counters: Arc<Counters>,
    ) -> Self {
        let recovered = sink
            .take_recovered()
            .into_iter()
            .map(|h| (h.trace_id, h.chain))
            .collect();
        Processor {
            chains: HashMap::new(),
            recovered,
            ids,
            sink,
            overflow,
            batch_size: batch_size.max(1),
            max_pending_events: max_pending_events.max(batch_size),
            batch: Vec::with_capacity(batch_size * 400),
            batch_events: 0,
            pending: VecDeque::new(),
            pending_events: 0,
            scratch: String::with_capacity(1024),
            payload_text: String::with_capacity(1024),
            line: String::with_capacity(1024),
            last_ts: 0,
            sink_gap_sessions: Vec::new(),
            counters,
            held: None,
            retry_backoff: std::time::Duration::ZERO,
        }
    }

    fn unwritten(&self) -> u64 {
        (self.batch_events + self.pending_events) as u64
    }

    /// True when earlier batches could not be written and the buffer is at its bound.
    pub fn backlogged(&self) -> bool {
        self.pending_events >= self.max_pending_events
    }

    /// Does the sink have room for `n` more events beyond those not yet written?
    fn has_room(&self, n: u64) -> bool {
        match self.sink.room() {
            None => true,
            Some(r) => r >= self.unwritten() + n,
        }
    }

    fn state(&mut self, trace: &Arc<SessionTrace>) -> &mut SessionState {
        let recovered = &mut self.recovered;
        let counters = &self.counters;
        self.chains
            .entry(trace.trace_id.clone())
            .or_insert_with(|| {
                counters.sessions.fetch_add(1, Relaxed);
                let chain = recovered
                    .remove(trace.trace_id.as_ref())
                    .unwrap_or_default();
                SessionState {
                    chain,
                    sink_dropped: 0,
                    rejected: 0,
                    trace: trace.clone(),
                }
            })
    }

    /// Processes one raw event: pending gaps of its session first, then the event itself.
    pub fn process(&mut self, ev: &RawEvent) -> Step {
        if self.backlogged() && self.write_pending().is_err() {
            return Step::Stalled;
        }
        let queue_dropped = ev.session.dropped.load(Relaxed);
        let (sink_dropped, rejected) = self
            .chains
            .get(&ev.session.trace_id)
            .map_or((0, 0), |s| (s.sink_dropped, s.rejected));
        let needed = 1
            + u64::from(queue_dropped > 0)
            + u64::from(sink_dropped > 0)
            + u64::from(rejected > 0);
        if !self.has_room(needed) {
            self.write_batch_out();
            if self.has_room(needed) {
                // Writing the batch made room (cannot happen for the memory sink, kept for others).
            } else if self.overflow == Overflow::Drop {
                self.force_drop(ev);
                return Step::Done;
            } else {
                return Step::Stalled;
            }
        }
        self.emit_gaps(&ev.session, ev.timestamp_us);
        let mut payload = std::mem::take(&mut self.payload_text);
        payload.clear();
        ev.payload.write_canonical(ev.event_type, &mut payload);
        let event_id = match &ev.event_id {
            Some(id) => id.to_string(),
            None => self.ids.next_id(ev.timestamp_us),
        };
        self.last_ts = self.last_ts.max(ev.timestamp_us);
        let fields = UnhashedFieldsNoChain {
            event_id: &event_id,
            event_type: ev.event_type.as_str(),
            parent_span_id: ev.parent_span_id.as_deref(),
            payload: PayloadText::Canonical(&payload),
            session_id: &ev.session.session_id,
            span_id: &ev.span_id,
            timestamp_us: ev.timestamp_us,
            trace_id: &ev.session.trace_id,
        };
        self.append(&ev.session, fields);
        self.payload_text = payload;
        if ev.event_type == EventType::SessionEnded
            && self.chains.remove(&ev.session.trace_id).is_some()
        {
            self.counters.sessions.fetch_sub(1, Relaxed);
        }
        if self.batch_events >= self.batch_size {
            self.write_batch_out();
        }
        Step::Done
    }

    /// Drops `ev` because the sink is full (sync mode in block overflow, where waiting would
    /// deadlock): counted as `sink_full` and reported by a gap.
    pub fn force_drop(&mut self, ev: &RawEvent) {
        let st = self.state(&ev.session);
        st.sink_dropped += 1;
        if st.sink_dropped == 1 && st.rejected == 0 {
            self.sink_gap_sessions.push(ev.session.trace_id.clone());
        }
        self.counters.dropped_sink_full.fetch_add(1, Relaxed);
    }

    fn append(&mut self, trace: &Arc<SessionTrace>, fields: UnhashedFieldsNoChain<'_>) {
        let mut line = std::mem::take(&mut self.line);
        let mut scratch = std::mem::take(&mut self.scratch);
        line.clear();
        self.state(trace)
            .chain
            .append(fields, &mut scratch, &mut line);
        self.batch.extend_from_slice(line.as_bytes());
        self.batch.push(b'\n');
        self.batch_events += 1;
        self.line = line;
        self.scratch = scratch;
    }

    /// Emits `trace.gap` events for the session's unreported drops (both reasons).
    fn emit_gaps(&mut self, trace: &Arc<SessionTrace>, ts: i64) {
        let q = trace.dropped.swap(0, Relaxed);
        if q > 0 {
            self.emit_gap(trace, ts, q, "queue_full");
        }
        // One look-up for both counters (emitting a gap changes neither).
        let (s, r) = self.chains.get_mut(&trace.trace_id).map_or((0, 0), |st| {
            (
                std::mem::take(&mut st.sink_dropped),
                std::mem::take(&mut st.rejected),
            )
        });
        if s > 0 {
            self.emit_gap(trace, ts, s, "sink_full");
        }
        if r > 0 {
            self.emit_gap(trace, ts, r, "sink_rejected");
        }
    }

    /// Takes the sink's lost events (see [`TraceSink::take_lost`]) into the open chains.
    fn collect_lost(&mut self) {
        for (trace_id, n) in self.sink.take_lost() {
            if let Some((key, st)) = self.chains.get_key_value(trace_id.as_str()) {
                let key = key.clone();
                let first = st.sink_dropped == 0 && st.rejected == 0;
                if let Some(st) = self.chains.get_mut(&key) {
                    st.rejected += n;
                }
                if first {
                    self.sink_gap_sessions.push(key);
                }
            }
        }
    }

    fn emit_gap(&mut self, trace: &Arc<SessionTrace>, ts: i64, dropped: u64, reason: &str) {
        let payload = json!({"dropped": dropped, "reason": reason});
        let event_id = self.ids.next_id(ts);
        let fields = UnhashedFieldsNoChain {
            event_id: &event_id,
            event_type: EventType::TraceGap.as_str(),
            parent_span_id: None,
            payload: PayloadText::Value(&payload),
            session_id: &trace.session_id,
            span_id: &trace.root_span_id,
            timestamp_us: ts,
            trace_id: &trace.trace_id,
        };
        self.append(trace, fields);
        self.counters.gaps.fetch_add(1, Relaxed);
    }

    /// Emits gaps for sessions with unreported drops that no event has reported yet: sessions
    /// from `queue_gaps` (drops on the hot path) and sessions with `sink_full` drops. Sessions
    /// left over when the sink has no room stay pending (and are returned to the caller's list).
    pub fn emit_pending_gaps(&mut self, queue_gaps: &mut Vec<Arc<SessionTrace>>) {
        self.collect_lost();
        let mut keep = Vec::new();
        for trace in queue_gaps.drain(..) {
            if trace.dropped.load(Relaxed) == 0 {
                continue;
            }
            if !self.has_room(3) {
                keep.push(trace);
                continue;
            }
            let ts = self.gap_timestamp(&trace);
            self.emit_gaps(&trace, ts);
        }
        let sessions = std::mem::take(&mut self.sink_gap_sessions);
        for sid in sessions {
            let Some(st) = self.chains.get(&sid) else {
                continue;
            };
            if st.sink_dropped == 0 && st.rejected == 0 {
                continue;
            }
            if !self.has_room(3) {
                self.sink_gap_sessions.push(sid);
                continue;
            }
            let trace = st.trace.clone();
            let ts = self.gap_timestamp(&trace);
            self.emit_gaps(&trace, ts);
        }
        *queue_gaps = keep;
    }

    fn gap_timestamp(&self, trace: &Arc<SessionTrace>) -> i64 {
        if let Some(st) = self.chains.get(&trace.trace_id) {
            if st.chain.next_sequence > 0 {
                return st.chain.last_timestamp_us;
            }
        }
        if self.last_ts != 0 {
            self.last_ts
        } else {
            crate::clock::Clock::System.now_us()
        }
    }

    /// Moves the current batch to the pending list and tries to write everything pending.
    pub fn write_batch_out(&mut self) {
        if self.batch_events > 0 {
            let cap = self.batch.capacity();
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(cap));
            self.pending.push_back((batch, self.batch_events));
            self.pending_events += self.batch_events;
            self.batch_events = 0;
        }
        let _ = self.write_pending();
    }

    /// Writes pending batches in order, retrying each a bounded number of times.
    pub fn write_pending(&mut self) -> Result<(), String> {
        while let Some((bytes, n)) = self.pending.front() {
            let mut attempt = 0;
            loop {
                match self.sink.write_batch(bytes, *n) {
                    Ok(()) => break,
                    Err(e) => {
                        attempt += 1;
                        self.counters.sink_errors.fetch_add(1, Relaxed);
                        let msg = format!("trace sink write failed: {e}");
                        *self.counters.last_error.lock() = Some(msg.clone());
                        let full = e.kind() == std::io::ErrorKind::WouldBlock;
                        if attempt >= WRITE_ATTEMPTS || full {
                            self.publish_pending();
                            return Err(msg);
                        }
                        #[cfg(feature = "threads")]
                        std::thread::sleep(self.retry_backoff * (1 << attempt));
                    }
                }
            }
            self.counters.written.fetch_add(*n as u64, Relaxed);
            self.counters
                .bytes_written
                .fetch_add(bytes.len() as u64, Relaxed);
            self.counters.batches.fetch_add(1, Relaxed);
            self.pending_events -= *n;
            self.pending.pop_front();
        }
        self.publish_pending();
        Ok(())
    }

    fn publish_pending(&self) {
        self.counters
            .pending_events
            .store(self.pending_events as u64, Relaxed);
    }

    /// Writes everything out and flushes the sink. `Err` carries the failure message.
    pub fn flush_sink(&mut self) -> Result<(), String> {
        self.write_batch_out();
        self.write_pending()?;
        self.sink.flush().map_err(|e| {
            self.counters.sink_errors.fetch_add(1, Relaxed);
            let msg = format!("trace sink flush failed: {e}");
            *self.counters.last_error.lock() = Some(msg.clone());
            msg
        })
    }
}
