//! The engine: the [`Resolver`] that loads atlases, resolves requests, authorizes tool calls,
//! handles approvals and rate limits, and records every step.

mod answers;
mod approvals;
mod call_events;
mod changes;
mod config;
mod execute;
mod explain;
mod fast;
mod payload;
pub(crate) mod ratelimit;
pub mod replay;
pub(crate) mod resolution;
mod resolve;
mod session;
mod shadow;
pub(crate) mod store;
mod wire;

pub use answers::{ReportReceipt, ReportStatus, ResolverStats, SessionEnd};
pub use approvals::{ApprovalFilter, ApprovalRecord, ApprovalStatus};
pub use config::{DeterministicConfig, ResolverConfig};
pub use explain::{
    ConditionExplanation, ExplainInput, ExplainVerdict, Explanation, PolicyExplanation,
};
pub use fast::FastVerdict;
pub use resolution::{DenyReason, Resolution};
pub use session::{LatestResolution, SessionState};

use crate::atlas::{manifest_from_dir, manifest_from_json, AtlasManifest, CompiledAtlas};
use crate::clock::Clock;
use crate::error::{CraError, ErrorCode, Result};
use crate::ids::IdSource;
use crate::trace::{Collector, EventPayload, EventType, RawEvent, Recorder, SessionTrace};
use approvals::Approval;
use arc_swap::ArcSwap;
use execute::ExecutionRecord;
use parking_lot::Mutex;
use ratelimit::RateLimiter;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::ShardedMap;

/// The loaded atlases, in load order; swapped atomically as a whole.
#[derive(Debug, Default)]
pub(crate) struct AtlasSet {
    /// Atlases in load order.
    pub atlases: Vec<Arc<CompiledAtlas>>,
    /// Atlas id → position.
    pub by_id: FxHashMap<Arc<str>, u32>,
    /// Action id → (position of the one atlas that owns it, action index in that atlas)
    /// (protocol.md §6: an action belongs to one atlas).
    pub owners: FxHashMap<Arc<str>, (u32, u32)>,
}

impl AtlasSet {
    fn with(atlases: Vec<Arc<CompiledAtlas>>) -> AtlasSet {
        let by_id = atlases
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i as u32))
            .collect();
        let owners = atlases
            .iter()
            .enumerate()
            .flat_map(|(ai, a)| {
                a.actions
                    .iter()
                    .enumerate()
                    .map(move |(idx, act)| (act.id.clone(), (ai as u32, idx as u32)))
            })
            .collect();
        AtlasSet {
            atlases,
            by_id,
            owners,
        }
    }

    /// The atlas that owns `action_id` and the action's index in it, in this snapshot.
    #[inline]
    pub fn owner_of(&self, action_id: &str) -> Option<(&Arc<CompiledAtlas>, u32)> {
        self.owners
            .get(action_id)
            .map(|&(ai, idx)| (&self.atlases[ai as usize], idx))
    }
}

/// What loading an atlas did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtlasInfo {
    /// Atlas id.
    pub atlas_id: String,
    /// Atlas version.
    pub version: String,
    /// Number of actions.
    pub actions: usize,
    /// Number of policies.
    pub policies: usize,
    /// Number of context packs.
    pub context_packs: usize,
    /// Number of capabilities.
    pub capabilities: usize,
    /// Whether an atlas with the same id was replaced.
    pub replaced: bool,
    /// Problems that do not stop the load (protocol.md §6), e.g. a `require_approval` or
    /// `rate_limit` policy that covers actions no `allow` policy can reach.
    pub warnings: Vec<crate::error::Problem>,
}

#[derive(Default)]
struct Counters {
    resolves: AtomicU64,
    executes: AtomicU64,
    authorized: AtomicU64,
    denied: AtomicU64,
    reports: AtomicU64,
    shadow_diffs: AtomicU64,
}

/// The CRA resolver. `Send + Sync`: share one per process (or per tenant) behind an `Arc`.
///
/// The life of a governed agent session, in calls (protocol.md §5):
///
/// | step | method | answer |
/// |---|---|---|
/// | load policy | [`load_atlas_json`](Self::load_atlas_json), [`load_atlas_dir`](Self::load_atlas_dir), [`load_manifest`](Self::load_manifest) | [`AtlasInfo`] |
/// | what may the agent do? | [`resolve`](Self::resolve) | [`Resolution`] |
/// | may it make this call? | [`execute`](Self::execute) (or the fast [`check`](Self::check)) | [`ExecuteAnswer`](crate::ExecuteAnswer) ([`FastVerdict`]) |
/// | the tool ran | [`report`](Self::report) | [`ReportReceipt`] |
/// | a human decides | [`approvals`](Self::approvals), [`approve`](Self::approve), [`reject`](Self::reject) | [`ApprovalRecord`] |
/// | why? | [`explain`](Self::explain) | [`Explanation`] |
/// | done | [`end_session`](Self::end_session) | [`SessionEnd`] |
/// | operate | [`stats`](Self::stats), [`drain_trace`](Self::drain_trace), [`flush`](Self::flush), [`close`](Self::close) | [`ResolverStats`], JSONL |
///
/// Every failure is a [`CraError`] with a stable [`ErrorCode`]. `resolve` takes no global lock:
/// it reads an atomically swapped atlas snapshot and touches only the sharded session and
/// resolution maps.
pub struct Resolver {
    atlases: ArcSwap<AtlasSet>,
    /// Shadow (candidate) atlases by the live atlas id they shadow; empty: no shadow work.
    shadows: ArcSwap<shadow::Shadows>,
    load_lock: Mutex<()>,
    /// The resolver's own chain (atlas changes, [`changes`]), made by the first change.
    control: std::sync::OnceLock<Arc<SessionTrace>>,
    /// Ids of the resolver's own chain: a stream of their own, so recording an atlas change
    /// never shifts the ids of resolutions and session events (deterministic mode).
    control_ids: IdSource,
    /// Set when the first session starts: from then on every atlas load is a recorded change.
    serving: std::sync::atomic::AtomicBool,
    clock: Clock,
    ids: IdSource,
    recorder: Arc<dyn Recorder>,
    collector: Option<Arc<Collector>>,
    config: ResolverConfig,
    sessions: ShardedMap<Arc<SessionState>>,
    resolutions: ShardedMap<Arc<Resolution>>,
    approvals: ShardedMap<Arc<Approval>>,
    executions: ShardedMap<Arc<ExecutionRecord>>,
    limiter: RateLimiter,
    /// Ended sessions, remembered for `ended_session_retention_seconds`.
    ended_sessions: store::Tombstones,
    /// Expired (pruned) resolutions, remembered for one resolution lifetime.
    expired_resolutions: store::Tombstones,
    counters: Counters,
    prune_tick: AtomicU64,
    /// The fork generation this resolver was made in (see [`crate::fork`]).
    fork_generation: u64,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("atlases", &self.atlases.load().atlases.len())
            .field("config", &self.config)
            .finish()
    }
}

impl Resolver {
    /// A resolver with `config`; TRACE events go to the collector `config.trace` describes
    /// (memory by default, or a JSONL file), processed on a background thread.
    pub fn new(config: ResolverConfig) -> Result<Self> {
        config.check()?;
        let (_, ids) = config.clock_and_ids();
        let collector = Arc::new(Collector::new(config.trace.clone(), ids)?);
        let mut r = Self::with_recorder(config, collector.clone())?;
        r.collector = Some(collector);
        Ok(r)
    }

    /// A resolver from JSON configuration text (`{}` or empty for defaults).
    pub fn from_config_json(bytes: &[u8]) -> Result<Self> {
        Self::new(ResolverConfig::from_json(bytes)?)
    }

    #[doc(hidden)]
    /// A resolver with `config`, recording into `recorder` (tests, custom pipelines);
    /// `config.trace` is ignored.
    pub fn with_recorder(config: ResolverConfig, recorder: Arc<dyn Recorder>) -> Result<Self> {
        config.check()?;
        let (clock, ids) = config.clock_and_ids();
        Ok(Resolver {
            collector: None,
            atlases: ArcSwap::from_pointee(AtlasSet::default()),
            shadows: ArcSwap::from_pointee(shadow::Shadows::default()),
            load_lock: Mutex::new(()),
            control: std::sync::OnceLock::new(),
            control_ids: ids.fork(changes::CONTROL_ID_STREAM),
            serving: std::sync::atomic::AtomicBool::new(false),
            clock,
            ids,
            recorder,
            config,
            sessions: ShardedMap::default(),
            resolutions: ShardedMap::default(),
            approvals: ShardedMap::default(),
            executions: ShardedMap::default(),
            limiter: RateLimiter::default(),
            ended_sessions: store::Tombstones::default(),
            expired_resolutions: store::Tombstones::default(),
            counters: Counters::default(),
            prune_tick: AtomicU64::new(0),
            fork_generation: crate::fork::generation(),
        })
    }

    /// `RESOLVER_FORKED` in a child process that inherited this resolver through `fork()`.
    #[inline]
    pub fn check_not_forked(&self) -> Result<()> {
        if crate::fork::forked_since(self.fork_generation) {
            return Err(CraError::new(
                ErrorCode::ResolverForked,
                "this resolver was created before fork() and cannot be used in the child process (its trace thread is gone); create a new resolver in the child",
            ));
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    #[doc(hidden)]
    /// The clock (tests and conformance cases advance a deterministic clock through it).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    #[doc(hidden)]
    /// The id source (the trace collector forks it).
    pub fn ids(&self) -> &IdSource {
        &self.ids
    }

    /// Loads (or replaces, keeping its position) an atlas from a validated manifest.
    /// Atomic: on error nothing changes.
    pub fn load_manifest(&self, manifest: AtlasManifest) -> Result<AtlasInfo> {
        let compiled = Arc::new(CompiledAtlas::compile(manifest)?);
        let m = &compiled.manifest;
        let mut info = AtlasInfo {
            atlas_id: m.atlas_id.clone(),
            version: m.version.clone(),
            actions: m.actions.len(),
            policies: m.policies.len(),
            context_packs: m.context_packs.len(),
            capabilities: m.capabilities.len(),
            replaced: false,
            warnings: compiled.warnings.clone(),
        };
        let _guard = self.load_lock.lock();
        let current = self.atlases.load_full();
        let replacing = current.by_id.get(&compiled.id).copied();
        // One owner per action id: a new atlas (or a new version of one) may not declare an
        // action another loaded atlas owns.
        for (i, action) in compiled.actions.iter().enumerate() {
            if let Some(&(owner, _)) = current.owners.get(&action.id) {
                if Some(owner) != replacing {
                    return Err(CraError::at(
                        ErrorCode::AtlasConflict,
                        format!("/actions/{i}/action_id"),
                        format!(
                            "action {:?} is already declared by atlas {:?}; an action belongs to one atlas",
                            &*action.id,
                            &*current.atlases[owner as usize].id
                        ),
                    ));
                }
            }
        }
        let mut list = current.atlases.clone();
        match replacing {
            Some(i) => {
                list[i as usize] = compiled.clone();
                info.replaced = true;
            }
            None => list.push(compiled.clone()),
        }
        self.atlases.store(Arc::new(AtlasSet::with(list)));
        if replacing.is_some() || self.serving.load(Ordering::Relaxed) {
            self.record_atlas_change(changes::AtlasChange::Loaded {
                new: &compiled,
                previous: replacing.map(|i| &*current.atlases[i as usize]),
                shadow: false,
            });
        }
        Ok(info)
    }

    /// Loads an atlas from JSON text.
    pub fn load_atlas_json(&self, bytes: &[u8]) -> Result<AtlasInfo> {
        self.load_manifest(manifest_from_json(bytes)?)
    }

    /// Loads an atlas from a directory holding `atlas.json` (or from that file).
    pub fn load_atlas_dir(&self, path: impl AsRef<Path>) -> Result<AtlasInfo> {
        self.load_manifest(manifest_from_dir(path.as_ref())?)
    }

    /// Loads an atlas from a directory given as its files' text (JSON object keyed by path:
    /// `atlas.json` and the context files), for hosts without a file system.
    pub fn load_atlas_files(&self, files: &[u8]) -> Result<AtlasInfo> {
        self.load_manifest(crate::atlas::manifest_from_files(files)?)
    }

    /// Unloads an atlas, and its shadow if it has one. Its actions are denied from the next call
    /// on, in resolutions computed before as well (revocation is immediate, protocol.md §6).
    pub fn unload_atlas(&self, atlas_id: &str) -> Result<()> {
        let _guard = self.load_lock.lock();
        let current = self.atlases.load_full();
        let Some(&i) = current.by_id.get(atlas_id) else {
            return Err(CraError::new(
                ErrorCode::AtlasNotFound,
                format!("no atlas {atlas_id:?} is loaded"),
            ));
        };
        let mut list = current.atlases.clone();
        let old = list.remove(i as usize);
        self.atlases.store(Arc::new(AtlasSet::with(list)));
        self.record_atlas_change(changes::AtlasChange::Unloaded {
            old: &old,
            shadow: false,
        });
        // Its shadow goes too: a shadow compares against the live atlas it was loaded for, not
        // against whatever is loaded under the same id later.
        if self.shadows.load().contains_key(atlas_id) {
            let mut next: shadow::Shadows = (**self.shadows.load()).clone();
            if let Some(gone) = next.remove(atlas_id) {
                self.shadows.store(Arc::new(next));
                self.record_atlas_change(changes::AtlasChange::Unloaded {
                    old: &gone,
                    shadow: true,
                });
            }
        }
        Ok(())
    }

    /// Ids and versions of the loaded atlases, in load order.
    pub fn atlases(&self) -> Vec<(String, String)> {
        self.atlases
            .load()
            .atlases
            .iter()
            .map(|a| (a.id.to_string(), a.version.to_string()))
            .collect()
    }

    /// Returns once every event recorded before the call is in the sink (and synced, per the
    /// fsync policy); `TIMEOUT` otherwise. A no-op without a collector.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.check_not_forked()?;
        match &self.collector {
            Some(c) => c.flush(timeout),
            None => Ok(()),
        }
    }

    /// Takes the JSONL bytes of every event in the memory sink not yet drained (flushing first).
    /// Empty for other sinks.
    ///
    /// What the sink holds is taken first, so a full memory sink (which stalls the pipeline in
    /// block mode) makes room before the flush; if the flush then times out, what was taken is
    /// returned and the rest comes with the next drain.
    pub fn drain_trace(&self) -> Result<Vec<u8>> {
        self.check_not_forked()?;
        match &self.collector {
            Some(c) => {
                let mut out = c.drain();
                match c.flush(Duration::from_secs(30)) {
                    Ok(()) => {}
                    Err(e) if e.code == ErrorCode::Timeout => return Ok(out),
                    Err(e) => return Err(e),
                }
                out.extend(c.drain());
                Ok(out)
            }
            None => Ok(Vec::new()),
        }
    }

    /// One chunk of the memory sink's JSONL: whole lines from the front, at most `max_bytes`
    /// (one line at least) and `max_events`. Nothing leaves the sink until
    /// [`commit_trace_chunk`](Self::commit_trace_chunk): a host that fails to take the chunk
    /// (a string too long for its runtime, out of memory) drains the same events again.
    ///
    /// When the sink holds less than a chunk, the events recorded so far are flushed into it
    /// first, waiting at most `flush_timeout` (not at all when the sink could not take them, so
    /// a full sink never makes this wait). `None` without a memory sink.
    pub fn drain_trace_chunk(
        &self,
        max_bytes: usize,
        max_events: u64,
        flush_timeout: Duration,
    ) -> Result<Option<crate::trace::sink::MemoryChunk>> {
        self.check_not_forked()?;
        let Some(c) = &self.collector else {
            return Ok(None);
        };
        let Some(m) = c.memory_sink() else {
            return Ok(None);
        };
        let held = m.held_bytes();
        if held < max_bytes as u64 && m.len() < max_events && self.flush_fits(c, m) {
            // Best effort: a timeout or a sink error leaves the rest for the next chunk (and
            // shows in `stats()`); only a forked resolver is an error.
            if let Err(e) = c.flush(flush_timeout) {
                if e.code == ErrorCode::ResolverForked {
                    return Err(e);
                }
            }
        }
        Ok(Some(m.peek(max_bytes, max_events)))
    }

    /// Can the events waiting in the pipeline fit in the memory sink's room (so a flush can
    /// complete)? Estimated from the queue, the unwritten batches and the mean event size.
    fn flush_fits(&self, c: &Collector, m: &crate::trace::MemorySink) -> bool {
        let s = c.stats();
        let backlog = s.queued + s.pending + u64::from(self.config.trace.batch_size) + 4;
        let room_events = m.limit_events().saturating_sub(m.len());
        let mean = s.bytes_written.checked_div(s.written).unwrap_or(512).max(1);
        let room_bytes = m.limit_bytes().saturating_sub(m.held_bytes());
        room_events > backlog && room_bytes / mean > backlog
    }

    /// Removes a chunk taken by [`drain_trace_chunk`](Self::drain_trace_chunk) from the sink
    /// (by its receipt).
    /// `INTERNAL` when the sink's front moved since (a concurrent drain took it).
    pub fn commit_trace_chunk(&self, receipt: &crate::trace::sink::ChunkReceipt) -> Result<()> {
        let sink = self.collector.as_ref().and_then(|c| c.memory_sink());
        match sink {
            Some(m) if m.commit(receipt) => Ok(()),
            None if receipt.events() == 0 => Ok(()),
            _ => Err(CraError::new(
                ErrorCode::Internal,
                "the trace chunk is no longer at the front of the memory sink (drained concurrently?)",
            )),
        }
    }

    /// Flushes and stops the trace collector; later events are counted as dropped (`closed`).
    pub fn close(&self) -> Result<()> {
        match &self.collector {
            Some(c) => c.close(),
            None => Ok(()),
        }
    }

    #[doc(hidden)]
    /// The trace collector, when the resolver owns one.
    pub fn collector(&self) -> Option<&Arc<Collector>> {
        self.collector.as_ref()
    }

    /// Counters and sizes, including the trace collector's.
    pub fn stats(&self) -> ResolverStats {
        let c = &self.counters;
        ResolverStats {
            trace: self.collector.as_ref().map(|c| c.stats()),
            atlases: self.atlases.load().atlases.len(),
            sessions: self.sessions.len(),
            ended_sessions: self.ended_sessions.len(),
            resolutions: self.resolutions.len(),
            approvals: self.approvals.len(),
            executions: self.executions.len(),
            rate_limit_windows: self.limiter.len(),
            resolves: c.resolves.load(Ordering::Relaxed),
            executes: c.executes.load(Ordering::Relaxed),
            authorized: c.authorized.load(Ordering::Relaxed),
            denied: c.denied.load(Ordering::Relaxed),
            reports: c.reports.load(Ordering::Relaxed),
            shadows: self.shadows.load().len(),
            shadow_diffs: c.shadow_diffs.load(Ordering::Relaxed),
        }
    }

    /// `SESSION_ENDED` for a session that ended recently (and is remembered), `None` otherwise.
    fn ended_error(&self, session_id: &str, now_us: i64) -> Option<CraError> {
        let keep = self.config.ended_session_retention_seconds as i64 * 1_000_000;
        self.ended_sessions.get(session_id, now_us, keep).map(|_| {
            CraError::at(
                ErrorCode::SessionEnded,
                "/requester/session_id",
                format!("session {session_id:?} has ended; start a new session"),
            )
        })
    }

    /// `RESOLUTION_EXPIRED` for a resolution that expired and was forgotten recently.
    fn expired_error(&self, resolution_id: &str, now_us: i64) -> Option<CraError> {
        let keep = self.config.resolution_ttl_seconds as i64 * 1_000_000;
        self.expired_resolutions
            .get(resolution_id, now_us, keep)
            .map(|_| {
                CraError::at(
                    ErrorCode::ResolutionExpired,
                    "/execution/resolution_id",
                    format!("resolution {resolution_id:?} expired; resolve again"),
                )
            })
    }

    #[inline]
    fn next_id(&self, now_us: i64) -> String {
        self.ids.next_id(now_us)
    }

    #[inline]
    fn emit(
        &self,
        session: &Arc<SessionTrace>,
        span: &Arc<str>,
        root: bool,
        ts: i64,
        ty: EventType,
        payload: EventPayload,
    ) {
        self.recorder.record(RawEvent {
            session: session.clone(),
            span_id: span.clone(),
            parent_span_id: if root {
                None
            } else {
                Some(session.root_span_id.clone())
            },
            timestamp_us: ts,
            event_type: ty,
            payload,
            event_id: None,
        });
    }

    /// Drops expired resolutions and approvals, and reported executions older than a resolution's
    /// lifetime, now and then (amortized over resolves and executes).
    fn maybe_prune(&self, now_us: i64) {
        if self.prune_tick.fetch_add(1, Ordering::Relaxed) % 4096 != 4095 {
            return;
        }
        let ttl_us = self.config.resolution_ttl_seconds as i64 * 1_000_000;
        for r in self
            .resolutions
            .filter_values(|r| r.expires_at_us <= now_us)
        {
            self.resolutions.remove(&r.resolution_id);
            self.expired_resolutions
                .insert(&r.resolution_id, now_us, 65_536, ttl_us);
        }
        self.prune_approvals(now_us);
        // A reported execution only answers a repeated report (EXECUTION_ALREADY_REPORTED);
        // it is kept as long as a resolution lives, then forgotten. Unreported ones stay until
        // their session ends: the tool may still be running.
        let keep_us = self.config.resolution_ttl_seconds as i64 * 1_000_000;
        self.executions
            .retain(|e| !e.reported.load(Ordering::Acquire) || e.started_us + keep_us > now_us);
        self.expire_idle_sessions();
    }
}
