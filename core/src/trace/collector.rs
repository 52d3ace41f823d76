//! The TRACE collector: a [`Recorder`] whose hot path only moves a [`RawEvent`] into a bounded,
//! preallocated queue. Everything else happens in the [`Processor`](super::processor), on a
//! background thread (feature `threads`) or, without it, on the caller's thread at `flush`/`drain`.

#![cfg_attr(not(feature = "threads"), allow(dead_code))]

use super::config::{Overflow, SinkKind, TraceConfig};
use super::event::{RawEvent, Recorder, SessionTrace};
use super::processor::{Counters, Processor, Slot, Step};
use super::sink::{MemorySink, NullSink, TraceSink};
use crate::error::{CraError, ErrorCode};
use crate::ids::IdSource;
use crossbeam_queue::{ArrayQueue, SegQueue};
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DroppedByReason {
    /// The queue was full (drop mode).
    pub queue_full: u64,
    /// The bounded sink (memory) was full (drop mode).
    pub sink_full: u64,
    /// Recorded after `close`.
    pub closed: u64,
    /// Waited `block_timeout_ms` for room in block mode (nobody drained, or the sink is stuck).
    pub block_timeout: u64,
    /// Accepted by the sink, then refused for good by its receiver (HTTP sink: a permanent
    /// 4xx/5xx answer).
    pub sink_rejected: u64,
}

/// Collector counters (`stats()`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceStats {
    /// Events waiting in the queue.
    pub queued: u64,
    /// Events written to the sink.
    pub written: u64,
    /// Events dropped, total.
    pub dropped: u64,
    /// Events dropped, by reason.
    pub dropped_by_reason: DroppedByReason,
    /// `trace.gap` events emitted.
    pub gaps: u64,
    /// Failed sink writes/flushes (each retry counts).
    pub sink_errors: u64,
    /// The last sink error, if any.
    pub last_sink_error: Option<String>,
    /// Chained events buffered because the sink failed, not yet written.
    pub pending: u64,
    /// Bytes written to the sink.
    pub bytes_written: u64,
    /// Batches written to the sink.
    pub batches: u64,
    /// Sessions with chain state in memory.
    pub sessions: u64,
    /// HTTP sink counters (only with `sink: "http"`).
    #[cfg(feature = "http-sink")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<super::http_sink::HttpStats>,
}

pub(crate) struct Shared {
    queue: ArrayQueue<Slot>,
    /// Sessions that had a hot-path drop since their last gap (pushed on the first drop only).
    gap_sessions: SegQueue<Arc<SessionTrace>>,
    overflow: Overflow,
    block_timeout: Duration,
    /// Set when a blocked call timed out; later calls drop at once until room is made.
    overloaded: AtomicBool,
    wake_threshold: usize,
    flush_interval: Duration,
    counters: Arc<Counters>,
    closed: AtomicBool,
    processor: Mutex<Processor>,
    // Waking the consumer (threads mode).
    sleeping: AtomicBool,
    consumer: Mutex<Option<std::thread::Thread>>,
    // Producers blocked on a full queue.
    room_lock: Mutex<()>,
    room_cv: Condvar,
    room_waiters: AtomicUsize,
    // Flush markers.
    flush_lock: Mutex<()>,
    flush_gen: AtomicU64,
    flush_done: AtomicU64,
    progress_lock: Mutex<()>,
    progress_cv: Condvar,
}

/// The TRACE collector. Implements [`Recorder`]; `close` (or drop) flushes and stops it.
pub struct Collector {
    shared: Arc<Shared>,
    memory: Option<MemorySink>,
    #[cfg(feature = "http-sink")]
    http: Option<Arc<super::http_sink::HttpShared>>,
    #[cfg(feature = "threads")]
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The fork generation it was made in: in a forked child its thread does not exist.
    fork_generation: u64,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Collector {
    /// Builds a collector from `config`. Event ids come from `ids.fork(1)`, so they never
    /// interleave with the engine's ids (stream 0) in deterministic mode.
    pub fn new(config: TraceConfig, ids: IdSource) -> Result<Collector, CraError> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        #[cfg(feature = "http-sink")]
        let mut http = None;
        let (sink, memory): (Box<dyn TraceSink>, Option<MemorySink>) = match config.sink {
            SinkKind::Memory => {
                let m = MemorySink::new(config.memory_limit_events);
                (Box::new(m.clone()), Some(m))
            }
            SinkKind::None => (Box::new(NullSink), None),
            SinkKind::File => open_file_sink(&config)?,
            #[cfg(feature = "http-sink")]
            SinkKind::Http => {
                let Some(h) = &config.http else {
                    return Err(CraError::at(
                        ErrorCode::InvalidConfig,
                        "/http",
                        "sink \"http\" needs an http object",
                    ));
                };
                let s = super::http_sink::HttpSink::open(h, config.fsync, counters.clone())?;
                http = Some(s.handle());
                (Box::new(s), None)
            }
        };
        #[allow(unused_mut)]
        let mut c = Self::build(config, ids.fork(1), sink, memory, counters);
        #[cfg(feature = "http-sink")]
        {
            c.http = http;
        }
        Ok(c)
    }

    /// Builds a collector writing to a custom sink (HTTP, tests). `ids` is used as is (not forked).
    pub fn with_sink(
        config: TraceConfig,
        ids: IdSource,
        sink: Box<dyn TraceSink>,
    ) -> Result<Collector, CraError> {
        config.validate()?;
        Ok(Self::build(
            config,
            ids,
            sink,
            None,
            Arc::new(Counters::default()),
        ))
    }

    fn build(
        config: TraceConfig,
        ids: IdSource,
        sink: Box<dyn TraceSink>,
        memory: Option<MemorySink>,
        counters: Arc<Counters>,
    ) -> Collector {
        let capacity = config.capacity as usize;
        let batch = config.batch_size as usize;
        #[allow(unused_mut)]
        let mut processor = Processor::new(
            sink,
            ids,
            config.overflow,
            batch,
            capacity.max(batch * 4),
            counters.clone(),
        );
        #[cfg(feature = "threads")]
        {
            processor.retry_backoff = Duration::from_millis(2);
        }
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(capacity),
            gap_sessions: SegQueue::new(),
            overflow: config.overflow,
            block_timeout: Duration::from_millis(config.block_timeout_ms as u64),
            overloaded: AtomicBool::new(false),
            wake_threshold: batch.min(capacity / 2).max(1),
            flush_interval: Duration::from_millis(u64::from(config.flush_interval_ms)),
            counters,
            closed: AtomicBool::new(false),
            processor: Mutex::new(processor),
            sleeping: AtomicBool::new(false),
            consumer: Mutex::new(None),
            room_lock: Mutex::new(()),
            room_cv: Condvar::new(),
            room_waiters: AtomicUsize::new(0),
            flush_lock: Mutex::new(()),
            flush_gen: AtomicU64::new(0),
            flush_done: AtomicU64::new(0),
            progress_lock: Mutex::new(()),
            progress_cv: Condvar::new(),
        });
        #[cfg(feature = "threads")]
        {
            let s = shared.clone();
            let handle = std::thread::Builder::new()
                .name("cra-trace".into())
                .spawn(move || consumer_loop(&s));
            match handle {
                Ok(h) => {
                    *shared.consumer.lock() = Some(h.thread().clone());
                    Collector {
                        shared,
                        memory,
                        #[cfg(feature = "http-sink")]
                        http: None,
                        thread: Mutex::new(Some(h)),
                        fork_generation: crate::fork::generation(),
                    }
                }
                // Without a thread the collector still works, synchronously (like wasm32).
                Err(_) => Collector {
                    shared,
                    memory,
                    #[cfg(feature = "http-sink")]
                    http: None,
                    thread: Mutex::new(None),
                    fork_generation: crate::fork::generation(),
                },
            }
        }
        #[cfg(not(feature = "threads"))]
        Collector {
            shared,
            memory,
            #[cfg(feature = "http-sink")]
            http: None,
            fork_generation: crate::fork::generation(),
        }
    }

    fn threaded(&self) -> bool {
        #[cfg(feature = "threads")]
        {
            self.shared.consumer.lock().is_some()
        }
        #[cfg(not(feature = "threads"))]
        false
    }

    /// Counters: queue depth, written, dropped (by reason), sink errors, bytes, batches.
    pub fn stats(&self) -> TraceStats {
        let c = &self.shared.counters;
        let by = DroppedByReason {
            queue_full: c.dropped_queue_full.load(Relaxed),
            block_timeout: c.dropped_block_timeout.load(Relaxed),
            sink_full: c.dropped_sink_full.load(Relaxed),
            closed: c.dropped_closed.load(Relaxed),
            sink_rejected: c.dropped_sink_rejected.load(Relaxed),
        };
        // Each lock is taken and released on its own: the HTTP sender takes `last_error` while
        // holding its state lock, so the two must never be held together here.
        let last_sink_error = c.last_error.lock().clone();
        #[cfg(feature = "http-sink")]
        let http = self.http.as_ref().map(|h| h.stats());
        TraceStats {
            queued: self.shared.queue.len() as u64,
            written: c.written.load(Relaxed),
            dropped: by.queue_full + by.block_timeout + by.sink_full + by.closed + by.sink_rejected,
            dropped_by_reason: by,
            gaps: c.gaps.load(Relaxed),
            sink_errors: c.sink_errors.load(Relaxed),
            last_sink_error,
            pending: c.pending_events.load(Relaxed),
            bytes_written: c.bytes_written.load(Relaxed),
            batches: c.batches.load(Relaxed),
            sessions: c.sessions.load(Relaxed),
            #[cfg(feature = "http-sink")]
            http,
        }
    }

    /// The memory sink, when `sink` is `memory`.
    pub fn memory_sink(&self) -> Option<&MemorySink> {
        self.memory.as_ref()
    }

    /// Takes the JSONL of every event in the memory sink not yet drained (empty for other sinks).
    /// Without the `threads` feature it first processes everything recorded so far.
    pub fn drain(&self) -> Vec<u8> {
        let Some(m) = &self.memory else {
            return Vec::new();
        };
        if !self.threaded() {
            let _ = self.flush_sync();
        }
        let out = m.drain();
        self.wake_consumer();
        out
    }

    /// Like [`drain`](Self::drain), parsed into events.
    pub fn drain_events(&self) -> Vec<super::chain::TraceEvent> {
        let Some(m) = &self.memory else {
            return Vec::new();
        };
        if !self.threaded() {
            let _ = self.flush_sync();
        }
        let out = m.drain_events();
        self.wake_consumer();
        out
    }

    /// Returns once every event recorded before the call is in the sink (and fsynced when the
    /// file sink's policy says so), pending `trace.gap` events included. `TIMEOUT` otherwise.
    pub fn flush(&self, timeout: Duration) -> Result<(), CraError> {
        if crate::fork::forked_since(self.fork_generation) {
            return Err(CraError::new(
                ErrorCode::ResolverForked,
                "this trace collector was created before fork(); create a new resolver in the child",
            ));
        }
        if !self.threaded() || self.shared.closed.load(SeqCst) {
            return self.flush_sync();
        }
        let deadline = Instant::now() + timeout;
        let gen = {
            let _g = self.shared.flush_lock.lock();
            let gen = self.shared.flush_gen.fetch_add(1, SeqCst) + 1;
            if !self.push_until(Slot::Flush(gen), deadline) {
                return Err(self.timeout_error(timeout));
            }
            gen
        };
        self.wake_consumer();
        let mut p = self.shared.progress_lock.lock();
        while self.shared.flush_done.load(Acquire) < gen {
            if self
                .shared
                .progress_cv
                .wait_until(&mut p, deadline)
                .timed_out()
                && self.shared.flush_done.load(Acquire) < gen
            {
                return Err(self.timeout_error(timeout));
            }
        }
        Ok(())
    }

    fn timeout_error(&self, timeout: Duration) -> CraError {
        let why = match self.shared.counters.last_error.lock().clone() {
            Some(e) => format!(" (last sink error: {e})"),
            None => String::new(),
        };
        CraError::new(
            ErrorCode::Timeout,
            format!(
                "trace flush did not complete within {} ms{why}",
                timeout.as_millis()
            ),
        )
    }

    /// Processes everything on the caller's thread (no background thread).
    fn flush_sync(&self) -> Result<(), CraError> {
        let mut p = self.shared.processor.lock();
        pump(&self.shared, &mut p);
        drain_gap_sessions(&self.shared, &mut p);
        p.flush_sink()
            .map_err(|m| CraError::new(ErrorCode::IoError, m))
    }

    /// Pushes a slot, waiting for room until `deadline`. False on timeout.
    fn push_until(&self, mut slot: Slot, deadline: Instant) -> bool {
        loop {
            match self.shared.queue.push(slot) {
                Ok(()) => return true,
                Err(back) => slot = back,
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.wait_for_room();
        }
    }

    fn wait_for_room(&self) {
        self.wake_consumer();
        let s = &self.shared;
        let mut g = s.room_lock.lock();
        s.room_waiters.fetch_add(1, SeqCst);
        if s.queue.is_full() {
            s.room_cv.wait_for(&mut g, Duration::from_millis(1));
        }
        s.room_waiters.fetch_sub(1, SeqCst);
    }

    #[inline]
    fn wake_consumer(&self) {
        #[cfg(feature = "threads")]
        if self.shared.sleeping.swap(false, SeqCst) {
            if let Some(t) = self.shared.consumer.lock().as_ref() {
                t.unpark();
            }
        }
    }

    fn drop_event(&self, ev: RawEvent, closed: bool) {
        self.drop_counted(ev, closed, false)
    }

    fn drop_counted(&self, ev: RawEvent, closed: bool, timed_out: bool) {
        let c = &self.shared.counters;
        if closed {
            c.dropped_closed.fetch_add(1, Relaxed);
            return;
        }
        if timed_out {
            c.dropped_block_timeout.fetch_add(1, Relaxed);
        } else {
            c.dropped_queue_full.fetch_add(1, Relaxed);
        }
        if ev.session.dropped.fetch_add(1, Relaxed) == 0 {
            self.shared.gap_sessions.push(ev.session);
        }
    }

    /// Flushes (waiting up to 30 s), then stops the background thread. Idempotent.
    pub fn close(&self) -> Result<(), CraError> {
        if self.shared.closed.load(SeqCst) {
            return Ok(());
        }
        if crate::fork::forked_since(self.fork_generation) {
            // In a forked child: the consumer thread is not ours; never wait for or join it.
            self.shared.closed.store(true, SeqCst);
            #[cfg(feature = "threads")]
            if let Some(h) = self.thread.lock().take() {
                std::mem::forget(h);
            }
            return Ok(());
        }
        let flushed = self.flush(Duration::from_secs(30));
        self.shared.closed.store(true, SeqCst);
        #[cfg(feature = "threads")]
        {
            if let Some(t) = self.shared.consumer.lock().as_ref() {
                t.unpark();
            }
            if let Some(h) = self.thread.lock().take() {
                if h.join().is_err() {
                    return Err(CraError::new(
                        ErrorCode::Internal,
                        "trace collector thread panicked",
                    ));
                }
            }
        }
        // Whatever raced in after the flush (threads mode), or everything (sync mode).
        let last = self.flush_sync();
        flushed.and(last)
    }
}

#[cfg(feature = "threads")]
fn open_file_sink(
    config: &TraceConfig,
) -> Result<(Box<dyn TraceSink>, Option<MemorySink>), CraError> {
    let path = config.path.as_deref().unwrap_or_default();
    let sink = super::file_sink::JsonlFileSink::open(path, config.fsync).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::WouldBlock {
            ErrorCode::TraceFileLocked
        } else {
            ErrorCode::IoError
        };
        CraError::at(
            code,
            "/path",
            format!("cannot open trace file {path:?}: {e}"),
        )
    })?;
    Ok((Box::new(sink), None))
}

#[cfg(not(feature = "threads"))]
fn open_file_sink(
    _config: &TraceConfig,
) -> Result<(Box<dyn TraceSink>, Option<MemorySink>), CraError> {
    Err(CraError::at(
        ErrorCode::InvalidConfig,
        "/sink",
        "sink \"file\" is not available in this build (no threads feature)",
    ))
}

impl Recorder for Collector {
    #[inline]
    fn record(&self, event: RawEvent) {
        let s = &*self.shared;
        if s.closed.load(Relaxed) {
            return self.drop_event(event, true);
        }
        match s.queue.push(Slot::Event(event)) {
            Ok(()) =>
            {
                #[cfg(feature = "threads")]
                if s.sleeping.load(Relaxed) && s.queue.len() >= s.wake_threshold {
                    self.wake_consumer();
                }
            }
            Err(Slot::Event(ev)) => self.record_full(ev),
            Err(Slot::Flush(_)) => {}
        }
    }
}

impl Collector {
    #[cold]
    fn record_full(&self, ev: RawEvent) {
        let s = &*self.shared;
        if s.overflow == Overflow::Drop {
            return self.drop_event(ev, false);
        }
        if s.overloaded.load(Relaxed) {
            return self.drop_counted(ev, false, true);
        }
        if !self.threaded() {
            // No consumer thread: make room on this thread (never waiting: wasm32 has no clock
            // for a deadline, `Instant::now` panics there). If the sink is full too, the
            // processor drops (counted, with a gap) rather than deadlocking.
            pump_sync_room(s, &mut s.processor.lock());
            if let Err(Slot::Event(ev)) = s.queue.push(Slot::Event(ev)) {
                self.drop_counted(ev, s.closed.load(Relaxed), false);
            }
            return;
        }
        let deadline = std::time::Instant::now() + s.block_timeout;
        let mut slot = Slot::Event(ev);
        loop {
            match s.queue.push(slot) {
                Ok(()) => return,
                Err(back) => slot = back,
            }
            if s.closed.load(Relaxed) {
                if let Slot::Event(ev) = slot {
                    self.drop_event(ev, true);
                }
                return;
            }
            if std::time::Instant::now() >= deadline {
                s.overloaded.store(true, Relaxed);
                if let Slot::Event(ev) = slot {
                    self.drop_counted(ev, false, true);
                }
                return;
            }
            self.wait_for_room();
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Moves pending hot-path gap sessions into the processor and emits their gaps.
fn drain_gap_sessions(s: &Shared, p: &mut Processor) {
    let mut list = Vec::new();
    while let Some(t) = s.gap_sessions.pop() {
        list.push(t);
    }
    p.emit_pending_gaps(&mut list);
    for t in list {
        s.gap_sessions.push(t);
    }
}

fn notify_room(s: &Shared) {
    if s.overloaded.load(Relaxed) {
        s.overloaded.store(false, Relaxed);
    }
    if s.room_waiters.load(SeqCst) > 0 {
        let _g = s.room_lock.lock();
        s.room_cv.notify_all();
    }
}

fn complete_flush(s: &Shared, gen: u64) {
    s.flush_done.fetch_max(gen, Release);
    let _g = s.progress_lock.lock();
    s.progress_cv.notify_all();
}

/// Without a thread, in block mode with a full queue: process what is queued even if the sink
/// is full (dropping with `sink_full` gaps then), so `record` can never deadlock.
fn pump_sync_room(s: &Shared, p: &mut Processor) {
    while let Some(slot) = s.queue.pop() {
        if let Slot::Event(ev) = slot {
            if p.process(&ev) == Step::Stalled {
                p.force_drop(&ev);
            }
        }
    }
    p.write_batch_out();
}

/// Processes queued slots until the queue is empty or the processor stalls. Returns `true` when
/// it stalled (a held slot is pushed back into `held`).
fn pump(s: &Shared, p: &mut Processor) -> bool {
    let mut held = p.held.take();
    let mut popped = 0u32;
    loop {
        let slot = match held.take() {
            Some(h) => h,
            None => match s.queue.pop() {
                Some(sl) => {
                    // Wake blocked producers per batch of freed slots, not per slot.
                    popped += 1;
                    if popped.is_multiple_of(64) {
                        notify_room(s);
                    }
                    sl
                }
                None => break,
            },
        };
        match &slot {
            Slot::Event(ev) => {
                if p.process(ev) == Step::Stalled {
                    p.held = Some(slot);
                    notify_room(s);
                    return true;
                }
            }
            Slot::Flush(gen) => {
                drain_gap_sessions(s, p);
                if p.flush_sink().is_err() {
                    p.held = Some(slot);
                    return true;
                }
                complete_flush(s, *gen);
            }
        }
    }
    notify_room(s);
    drain_gap_sessions(s, p);
    p.write_batch_out();
    false
}

#[cfg(feature = "threads")]
fn consumer_loop(s: &Shared) {
    let mut backoff = Duration::from_millis(1);
    loop {
        let stalled = {
            let mut p = s.processor.lock();
            pump(s, &mut p)
        };
        if s.closed.load(SeqCst) && (s.queue.is_empty() || stalled) {
            // `close` finishes synchronously after the join.
            return;
        }
        if stalled {
            s.sleeping.store(true, SeqCst);
            std::thread::park_timeout(backoff);
            s.sleeping.store(false, SeqCst);
            backoff = (backoff * 2).min(Duration::from_millis(250));
            continue;
        }
        backoff = Duration::from_millis(1);
        s.sleeping.store(true, SeqCst);
        if s.queue.len() < s.wake_threshold && !s.closed.load(SeqCst) && !has_marker_waiting(s) {
            std::thread::park_timeout(s.flush_interval);
        }
        s.sleeping.store(false, SeqCst);
    }
}

/// A flush caller pushed a marker that is still queued.
#[cfg(feature = "threads")]
fn has_marker_waiting(s: &Shared) -> bool {
    s.flush_done.load(Acquire) < s.flush_gen.load(SeqCst) && !s.queue.is_empty()
}

impl Collector {
    /// Events waiting in the queue (cheap: no locks). A host without the `threads` feature
    /// processes them a little at a time with `flush` when this grows.
    pub fn queued(&self) -> usize {
        self.shared.queue.len()
    }
}
