//! The recorder interface between the engine (hot path) and TRACE (background).
//!
//! The engine builds a [`RawEvent`] per step: a session handle, a span, a timestamp, an event type
//! and a payload that is *not yet JSON*. Rendering, sequencing, canonical JSON and hashing happen
//! later, off the hot path, in whatever implements [`Recorder`].

use serde_json::Value;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// TRACE event types (protocol.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// First request naming a session.
    SessionStarted,
    /// `end_session`.
    SessionEnded,
    /// A resolve or execute request arrived.
    RequestReceived,
    /// A resolution was computed.
    ResolutionCompleted,
    /// Policies were evaluated for a resolve.
    PolicyEvaluated,
    /// Context blocks were selected.
    ContextInjected,
    /// An execute asked to run an action.
    ActionRequested,
    /// An approval was granted.
    ActionApproved,
    /// An execute was denied, or an approval rejected.
    ActionDenied,
    /// The host reported a tool's result.
    ActionExecuted,
    /// The host reported a tool's failure.
    ActionFailed,
    /// An agent tried to run an action it was not permitted.
    PolicyViolated,
    /// Events were dropped before this point (drop overflow mode).
    TraceGap,
    /// A shadow (candidate) atlas judged an action differently from the live one.
    PolicyShadowDiff,
    /// An atlas (or a shadow) was replaced or loaded while the resolver ran (resolver chain).
    AtlasLoaded,
    /// An atlas (or a shadow) was unloaded (resolver chain).
    AtlasUnloaded,
}

impl EventType {
    /// The wire name, e.g. `carp.resolution.completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SessionStarted => "session.started",
            EventType::SessionEnded => "session.ended",
            EventType::RequestReceived => "carp.request.received",
            EventType::ResolutionCompleted => "carp.resolution.completed",
            EventType::PolicyEvaluated => "policy.evaluated",
            EventType::ContextInjected => "context.injected",
            EventType::ActionRequested => "action.requested",
            EventType::ActionApproved => "action.approved",
            EventType::ActionDenied => "action.denied",
            EventType::ActionExecuted => "action.executed",
            EventType::ActionFailed => "action.failed",
            EventType::PolicyViolated => "policy.violated",
            EventType::TraceGap => "trace.gap",
            EventType::PolicyShadowDiff => "policy.shadow_diff",
            EventType::AtlasLoaded => "atlas.loaded",
            EventType::AtlasUnloaded => "atlas.unloaded",
        }
    }

    /// Every type, for parsers and docs.
    pub const ALL: [EventType; 16] = [
        EventType::SessionStarted,
        EventType::SessionEnded,
        EventType::RequestReceived,
        EventType::ResolutionCompleted,
        EventType::PolicyEvaluated,
        EventType::ContextInjected,
        EventType::ActionRequested,
        EventType::ActionApproved,
        EventType::ActionDenied,
        EventType::ActionExecuted,
        EventType::ActionFailed,
        EventType::PolicyViolated,
        EventType::TraceGap,
        EventType::PolicyShadowDiff,
        EventType::AtlasLoaded,
        EventType::AtlasUnloaded,
    ];

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == s)
    }
}

/// Per-session trace identity, shared (by `Arc`) by every event of the session.
#[derive(Debug)]
pub struct SessionTrace {
    /// The session id from the request.
    pub session_id: Arc<str>,
    /// The session's trace id (equals every resolution's `trace_id`).
    pub trace_id: Arc<str>,
    /// The span of `session.started`/`session.ended`; parent of every call span.
    pub root_span_id: Arc<str>,
    /// Events of this session dropped by a full queue and not yet reported as `trace.gap`.
    /// The hot path increments it; the collector swaps it to zero when it writes the gap.
    pub dropped: AtomicU64,
}

/// Renders a payload to JSON. Implemented by engine types that several events share (one `Arc`
/// per resolve), so the hot path never builds JSON. `view` selects which event's payload.
pub trait PayloadSource: Send + Sync + std::fmt::Debug {
    /// The payload object for the event type `view`.
    fn render(&self, view: EventType) -> Value;

    /// Appends the RFC 8785 canonical form of `render(view)` to `out`. The default renders and
    /// canonicalizes; hot sources override it to write canonical text directly (it must produce
    /// exactly the same bytes, which their tests check against `render`).
    fn write_canonical(&self, view: EventType, out: &mut String) {
        crate::trace::canonical::write_canonical(&self.render(view), out);
    }
}

/// An event payload, rendered to JSON by the consumer.
#[derive(Debug, Clone)]
pub enum EventPayload {
    /// Rendered lazily from shared engine data.
    Lazy(Arc<dyn PayloadSource>),
    /// Already a JSON object (cold paths: approvals, reports, session end).
    Json(Value),
}

impl EventPayload {
    /// Appends the canonical JSON of the payload for an event of type `event_type`.
    pub fn write_canonical(&self, event_type: EventType, out: &mut String) {
        match self {
            EventPayload::Lazy(src) => src.write_canonical(event_type, out),
            EventPayload::Json(v) => crate::trace::canonical::write_canonical(v, out),
        }
    }

    /// The payload as JSON for an event of type `event_type` (borrowed when it already is JSON).
    pub fn render(&self, event_type: EventType) -> std::borrow::Cow<'_, Value> {
        match self {
            EventPayload::Lazy(src) => std::borrow::Cow::Owned(src.render(event_type)),
            EventPayload::Json(v) => std::borrow::Cow::Borrowed(v),
        }
    }
}

/// One step, as the engine records it (not yet sequenced or hashed).
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// The session whose chain this event joins.
    pub session: Arc<SessionTrace>,
    /// The span of the call that produced it (the root span for session events).
    pub span_id: Arc<str>,
    /// The parent span (`None` at the session root).
    pub parent_span_id: Option<Arc<str>>,
    /// When it happened, microseconds since the Unix epoch.
    pub timestamp_us: i64,
    /// What happened.
    pub event_type: EventType,
    /// Details.
    pub payload: EventPayload,
    /// The event id, when the engine assigns it (the resolver's own chain, from its own id
    /// stream); `None`: the collector assigns the next id of its stream.
    pub event_id: Option<Arc<str>>,
}

/// Where the engine sends events. Implementations must not block for long and must not hash or
/// do I/O on the caller's thread.
pub trait Recorder: Send + Sync {
    /// Records one event. Events of one session are recorded in the order they happened.
    fn record(&self, event: RawEvent);
}

/// A recorder that keeps every event in memory, unsequenced (for tests of the engine).
#[derive(Default, Debug)]
pub struct MemoryRecorder {
    events: parking_lot::Mutex<Vec<RawEvent>>,
}

impl MemoryRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Takes every event recorded so far.
    pub fn take(&self) -> Vec<RawEvent> {
        std::mem::take(&mut *self.events.lock())
    }
    /// The event types recorded so far, in order.
    pub fn types(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .iter()
            .map(|e| e.event_type.as_str())
            .collect()
    }
}

impl Recorder for MemoryRecorder {
    fn record(&self, event: RawEvent) {
        self.events.lock().push(event);
    }
}

/// A recorder that discards everything (tracing disabled).
#[derive(Default, Debug)]
pub struct NullRecorder;

impl Recorder for NullRecorder {
    fn record(&self, _event: RawEvent) {}
}
