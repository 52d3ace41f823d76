// Type declarations of the CRA JavaScript API, shared by @cra/node (native addon) and @cra/wasm
// (WebAssembly; its build appends `init`, `initSync` and `recover`). Field names are the wire
// names of docs/protocol.md. No DOM or Node types are needed (lib es2022 is enough).

declare global {
  // For `using r = new Resolver()` (TypeScript 5.2+); merges with lib.esnext.disposable and
  // @types/node, which declare the same symbol.
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** JSON text or a value that serializes to the expected JSON. */
export type JsonInput<T> = T | string;
/** Any JSON value (what answers hold). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/**
 * A JSON object given as input: plain objects, interfaces and class instances alike
 * (`JSON.stringify` takes their enumerable own properties, or `toJSON()`). Values with no JSON
 * form (undefined at the top, functions, symbols, BigInt, cycles) are refused at run time with
 * `INVALID_REQUEST`.
 */
export type JsonObjectInput = object;

// ---------------------------------------------------------------------------------------------
// Ids issued by the engine: branded strings, so one kind cannot be passed where another is
// expected. An id read back from storage or the network is cast: `id as ApprovalId`.

declare const brand: unique symbol;
/** A string the engine issued as an id of kind `K`. */
export type Id<K extends string> = string & { readonly [brand]: K };
/** `resolution_id` of a resolution. */
export type ResolutionId = Id<'resolution'>;
/** `execution_id` of an authorized call. */
export type ExecutionId = Id<'execution'>;
/** `approval_id` of an approval. */
export type ApprovalId = Id<'approval'>;
/** `trace_id` of a session's trace. */
export type TraceId = Id<'trace'>;
/** `event_id` of a trace event. */
export type EventId = Id<'event'>;

// ---------------------------------------------------------------------------------------------
// Configuration and atlases

/** Where TRACE events go (docs/trace.md). */
export interface TraceConfig {
  /** `memory` (default: kept until `drainTrace`), `file` (native only) or `none`. */
  sink?: 'memory' | 'file' | 'none';
  /** The JSONL file (with `sink: 'file'`). */
  path?: string;
  /** Queue slots between the calls and the trace processing (JS default: native 8192, WASM 1024). */
  capacity?: number;
  /** Events per sink write (default 512). */
  batch_size?: number;
  /** `block` (default: lossless while the pipeline moves) or `drop` (never waits). */
  overflow?: 'block' | 'drop';
  /** In `block` mode, the longest a call waits for room (JS default 100 ms, at most 600000); then the event is dropped, counted and recorded as a `trace.gap`. */
  block_timeout_ms?: number;
  /** Longest time an event waits in the queue under light load (default 200 ms). */
  flush_interval_ms?: number;
  /** Memory sink bound in events not yet drained (default 1,000,000). */
  memory_limit_events?: number;
  /** Memory sink bound in bytes not yet drained (JS binding option; default native 256 MiB, WASM 16 MiB). */
  memory_limit_bytes?: number;
  /** File sink fsync policy (default `batch`). */
  fsync?: 'never' | 'batch' | 'always';
}

/** Resolver options; every field has a default, so `{}` is valid. */
export interface ResolverConfig {
  /** Deterministic mode: seeded ids and a stepping clock (tests, conformance, replay). */
  deterministic?: { seed?: number; start?: string; step_us?: number };
  /** Lifetime of a resolution in seconds (default 300, max 86400). */
  resolution_ttl_seconds?: number;
  /** Time to decide an approval when its policy does not say (default 3600). */
  approval_timeout_seconds?: number;
  /** Live resolutions kept per session (default 256). */
  max_resolutions_per_session?: number;
  /** Sessions idle longer than this are ended with reason `idle_timeout` (default 86400; 0 = never). */
  session_idle_timeout_seconds?: number;
  /** Decided and expired approvals are forgotten this long after their expiry (default 3600). */
  approval_retention_seconds?: number;
  /** Live approvals one session may hold (default 64; then `LIMIT_EXCEEDED`). */
  max_approvals_per_session?: number;
  /** Idempotency keys one session may hold while their resolutions live (default 4096). */
  max_idempotency_keys_per_session?: number;
  /** Ended sessions are remembered (requests naming them get `SESSION_ENDED`) this long (default 3600). */
  ended_session_retention_seconds?: number;
  /** At most this many ended sessions are remembered (default 65536). */
  max_ended_sessions?: number;
  /** The risk tier of a request whose task names none (default `low`). */
  default_risk_tier?: RiskTier;
  /** Where TRACE events go. Default: memory, drained by the host. */
  trace?: TraceConfig;
}

/** Conditions under which a policy or context pack applies. */
export interface Conditions {
  risk_tiers?: RiskTier[];
  agents?: string[];
  capabilities?: string[];
  context_matches?: { [key: string]: Json };
  time_window?: { start?: string; end?: string; days?: Array<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>; timezone?: string };
}

/** An action an atlas declares. */
export interface AtlasAction {
  action_id: string;
  name: string;
  description: string;
  parameters_schema?: JsonObjectInput | boolean;
  returns_schema?: JsonObjectInput | boolean;
  risk_tier?: RiskTier;
  idempotent?: boolean;
  requires_confirmation?: boolean;
  timeout_seconds?: number;
  rate_limit?: { max_calls: number; window_seconds: number; per?: string };
  examples?: unknown[];
}

/** A policy (docs/protocol.md §2). */
export interface Policy {
  policy_id: string;
  type: 'allow' | 'deny' | 'require_approval' | 'rate_limit';
  actions: string[];
  name?: string;
  description?: string;
  priority?: number;
  conditions?: Conditions;
  parameters?: JsonObjectInput;
  reason?: string;
}

/** A context pack: inline `content`, or `files` of the atlas directory (not in WASM: see `@cra/wasm/bundle-atlas`). */
export interface ContextPack {
  pack_id: string;
  name: string;
  description?: string;
  content?: string;
  content_type?: string;
  files?: string[];
  priority?: number;
  conditions?: Conditions;
  max_tokens?: number;
  keywords?: string[];
}

/** A capability: a named group of actions and context packs. */
export interface Capability {
  capability_id: string;
  name: string;
  description?: string;
  actions?: string[];
  context_packs?: string[];
}

/** An atlas document (docs/protocol.md §2). */
export interface Atlas {
  atlas_version: string;
  atlas_id: string;
  version: string;
  name: string;
  /** Required by the engine (`INVALID_ATLAS` without it). */
  description: string;
  actions: AtlasAction[];
  policies?: Policy[];
  context_packs?: ContextPack[];
  capabilities?: Capability[];
  /** JSON Schema for a request's `context` in this atlas's scope. */
  context_schema?: JsonObjectInput | boolean;
  authors?: unknown[];
  license?: string;
  homepage?: string;
  repository?: string;
  domains?: string[];
  adapters?: unknown;
  dependencies?: unknown;
  metadata?: JsonObjectInput;
  $schema?: string;
}

/** One problem found in an input (also a load warning). */
export interface Problem {
  code: string;
  message: string;
  pointer: string;
}

/** What loading an atlas did. */
export interface AtlasInfo {
  atlas_id: string;
  version: string;
  actions: number;
  policies: number;
  context_packs: number;
  capabilities: number;
  /** An atlas with the same id was replaced. */
  replaced: boolean;
  /** Problems that do not stop the load (e.g. a `require_approval` policy no `allow` reaches). */
  warnings: Problem[];
}

// ---------------------------------------------------------------------------------------------
// CARP requests and answers

export type RiskTier = 'low' | 'medium' | 'high' | 'critical';

/** Who is asking: asserted by the host program, never by the model. */
export interface Requester {
  agent_id: string;
  session_id: string;
  parent_session_id?: string;
}

/** A resolve request. */
export interface ResolveRequest {
  carp_version?: '1.0';
  request_id?: string;
  timestamp?: string;
  operation?: 'resolve';
  requester: Requester;
  task: {
    goal: string;
    risk_tier?: RiskTier;
    context_hints?: string[];
    required_capabilities?: string[];
    max_context_tokens?: number;
  };
  atlas_ids?: string[];
  context?: JsonObjectInput;
}

/** An execute (authorize) request. */
export interface ExecuteRequest {
  carp_version?: '1.0';
  request_id?: string;
  timestamp?: string;
  operation?: 'execute';
  requester: Requester;
  execution: {
    resolution_id: ResolutionId;
    action_id: string;
    parameters?: JsonObjectInput;
    idempotency_key?: string;
  };
  context?: JsonObjectInput;
}

export type DecisionType = 'allow' | 'deny' | 'partial' | 'requires_approval';

/** A permitted action in a resolution. */
export interface AllowedAction {
  action_id: string;
  atlas_id: string;
  name: string;
  description: string;
  risk_tier: RiskTier;
  /** The allow policy that granted it (the wire type is nullable; an allowed action always has one). */
  policy_id: string | null;
  /** The action asks a human to confirm each call (a `requires_confirmation` constraint too). */
  requires_confirmation: boolean;
  /** The JSON Schema its parameters are validated against, or `null` (any parameters). */
  parameters_schema: Json;
  [key: string]: unknown;
}

/** A denied action with the reason. */
export interface DeniedAction {
  action_id: string;
  atlas_id: string;
  reason_code: string;
  reason: string;
  policy_id: string | null;
}

/** An action that needs a human approval per call (the resolution creates no approval). */
export interface PendingAction {
  action_id: string;
  atlas_id: string;
  reason: string;
  policy_id: string | null;
  /** Always `null`: approvals are per call, created by `execute` (protocol.md §6). */
  approval_id: ApprovalId | null;
  [key: string]: unknown;
}

/** A limit or requirement that applies to an allowed action (`Resolution.constraints`). */
export type Constraint =
  | { type: 'rate_limit'; action_id: string; policy_id: string | null; max_calls: number; window_seconds: number; per: 'session' | 'agent' | 'global' }
  | { type: 'timeout'; action_id: string; seconds: number }
  | { type: 'requires_confirmation'; action_id: string };

/** A context block chosen for the agent. */
export interface ContextBlock {
  block_id: string;
  source: string;
  pack_id: string;
  content_type: string;
  content: string;
  priority: number;
  token_estimate: number;
  [key: string]: unknown;
}

/** The answer to a resolve request. */
export interface Resolution {
  carp_version: '1.0';
  resolution_id: ResolutionId;
  request_id: string;
  timestamp: string;
  decision: { type: DecisionType; reason?: string; approval_id: ApprovalId | null; expires_at: string; [key: string]: Json | undefined };
  context_blocks: ContextBlock[];
  allowed_actions: AllowedAction[];
  denied_actions: DeniedAction[];
  pending_actions: PendingAction[];
  constraints: Constraint[];
  ttl_seconds: number;
  trace_id: TraceId;
  [key: string]: unknown;
}

export type ExecuteStatus = 'authorized' | 'denied' | 'pending_approval';

/** The answer to an execute request. */
export interface ExecuteAnswer {
  carp_version: '1.0';
  request_id: string;
  /** Present when authorized: report the tool's outcome with it. */
  execution_id: ExecutionId | null;
  resolution_id: ResolutionId;
  action_id: string;
  status: ExecuteStatus;
  /** `policy_denied`, `default_deny`, `not_in_resolution`, `rate_limit_exceeded`, `approval_required`, `approval_rejected`, `approval_expired`. */
  reason_code: string | null;
  /** The error code a refusal raises (`governed`): `null` when authorized; the core derives it from `status` and `reason_code`. */
  error_code: 'ACTION_NOT_ALLOWED' | 'RATE_LIMIT_EXCEEDED' | 'APPROVAL_REQUIRED' | null;
  reason: string | null;
  policy_id: string | null;
  /** The approval to wait for (pending), or the one that granted this call. */
  approval_id: ApprovalId | null;
  timestamp: string;
  trace_id: TraceId;
  /** True when this answer repeats an earlier one for the same idempotency key (nothing consumed or granted again). */
  replayed?: true;
  /** For a replayed authorization whose execution was reported: how it went. */
  outcome?: 'executed' | 'failed';
}

/** A tool's outcome: exactly one of `result` (may be `null`) and `error`. */
export type ExecutionReport =
  | { execution_id: ExecutionId; result: unknown; duration_ms?: number }
  | { execution_id: ExecutionId; error: { message: string; code?: string }; duration_ms?: number };

/** The answer to a report. */
export interface ReportAnswer {
  execution_id: ExecutionId;
  status: 'executed' | 'failed';
  action_id: string;
  /** When the report was recorded (RFC 3339, microseconds). */
  recorded_at: string;
  /** Microseconds from the authorization to the report. */
  elapsed_us: number;
  [key: string]: unknown;
}

/** Who decides an approval, and why. The approver may not be the agent that asked. */
export interface ApprovalOptions {
  /** Required: recorded in the trace. */
  approver: string;
  reason?: string;
}

/** Approve or reject an approval. */
export interface ApprovalDecision extends ApprovalOptions {
  approval_id: ApprovalId;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'consumed' | 'expired';

/** An approval: one call (session, action, parameters) waiting for, or given, a human decision. */
export interface Approval {
  approval_id: ApprovalId;
  status: ApprovalStatus;
  session_id: string;
  agent_id: string;
  atlas_id: string;
  action_id: string;
  /** The exact parameters the call will run with. */
  parameters: Json;
  parameters_hash: string;
  policy_id: string | null;
  policy_reason: string;
  resolution_id: ResolutionId;
  created_at: string;
  expires_at: string;
  approver: string | null;
  reason: string | null;
  decided_at: string | null;
}

/** Which approvals `listApprovals` returns (default: every pending one). */
export interface ApprovalFilter {
  session_id?: string;
  status?: ApprovalStatus[];
}

// ---------------------------------------------------------------------------------------------
// Explain and shadow mode (docs/protocol.md §4)

/** What `explain` says the action gets (`not_in_scope`: the request's `atlas_ids` or `required_capabilities` leave it out). */
export type ExplainVerdict = 'allowed' | 'denied' | 'pending_approval' | 'rate_limited' | 'not_in_scope';

/** One present condition kind of a policy: whether it held, what it expected, what the request had. */
export interface ExplainCondition {
  kind: 'risk_tiers' | 'agents' | 'capabilities' | 'context_matches' | 'time_window';
  /** `null` for `capabilities`, which are folded into the policy's actions (see `pattern_matched`). */
  held: boolean | null;
  expected: Json;
  saw: Json;
}

/** One policy of the action's atlas, in ladder order. */
export interface ExplainPolicy {
  policy_id: string;
  type: Policy['type'];
  priority: number;
  /** The policy's actions (patterns and capability conditions) cover the action. */
  pattern_matched: boolean;
  conditions: ExplainCondition[];
  /** Matched and every condition held. */
  applies: boolean;
  /** This policy decided the verdict. */
  decided: boolean;
  /** Why it did or did not decide, for people. */
  note: string;
}

/** The answer of `explain`: why an action gets its verdict for a resolve request. */
export interface Explanation {
  action_id: string;
  atlas_id: string;
  verdict: ExplainVerdict;
  /** `policy_denied`, `default_deny`, `approval_required`, `rate_limit_exceeded`, …; `null` when allowed or not in scope. */
  reason_code: string | null;
  /** The deciding policy; `null` for a default deny. */
  policy_id: string | null;
  /** What the verdict was judged on. */
  input: { agent_id: string; risk_tier: RiskTier; context: Json | null };
  /** Every policy of the action's atlas in ladder order (deny, require_approval, rate_limit, allow; higher priority first). */
  policies: ExplainPolicy[];
}

/** A verdict compared in shadow mode (`absent`: the shadow lacks the action). */
export type ShadowVerdict = 'allowed' | 'denied' | 'pending_approval' | 'absent';

/** The payload of a `policy.shadow_diff` trace event: where the shadow atlas judged differently. */
export interface ShadowDiffPayload {
  operation: 'resolve' | 'execute';
  resolution_id: ResolutionId;
  diffs: Array<{
    action_id: string;
    atlas_id: string;
    live: Exclude<ShadowVerdict, 'absent'>;
    live_policy_id: string | null;
    shadow: ShadowVerdict;
    shadow_policy_id: string | null;
    shadow_version: string;
  }>;
}

/** The answer to ending a session. */
export interface SessionEnded {
  session_id: string;
  trace_id: TraceId;
  reason: string | null;
  ended_at: string;
  duration_us: number;
}

/** The fast-path verdict. */
export type FastVerdict = 'allowed' | 'denied' | 'pending_approval' | 'rate_limited' | 'no_resolution';

/** How `drainTrace` bounds one chunk. */
export interface DrainOptions {
  /** At most this many bytes (whole events; one at least). Default 8 MiB, at most 256 MiB (larger values, Infinity included, are clamped). */
  maxBytes?: number;
  /** At most this many events. Default: no bound. */
  maxEvents?: number;
  /** Native: wait at most this long for the events recorded so far when the sink holds less than a chunk (default 1000 ms; 0 = take what is there). WASM never waits. */
  flushTimeoutMs?: number;
}

/** Counters and sizes. */
export interface Stats {
  trace: {
    queued: number;
    written: number;
    dropped: number;
    dropped_by_reason: { queue_full: number; sink_full: number; closed: number; block_timeout: number; sink_rejected: number };
    gaps: number;
    sink_errors: number;
    last_sink_error: string | null;
    pending: number;
    bytes_written: number;
    batches: number;
    sessions: number;
  } | null;
  /** What the trace buffers hold and may hold (`null` fields without a memory sink). */
  memory: {
    trace_buffer_bytes: number | null;
    trace_buffer_events: number | null;
    trace_buffer_limit_bytes: number | null;
    trace_buffer_limit_events: number | null;
    trace_queue_capacity: number;
    /** WASM: the instance's linear memory (shared by its resolvers; it never shrinks). */
    wasm_memory_bytes?: number;
  };
  atlases: number;
  sessions: number;
  ended_sessions: number;
  resolutions: number;
  approvals: number;
  executions: number;
  rate_limit_windows: number;
  resolves: number;
  executes: number;
  authorized: number;
  denied: number;
  reports: number;
  /** Shadow atlases loaded. */
  shadows: number;
  /** Differences shadow mode recorded (`policy.shadow_diff` events carry them). */
  shadow_diffs: number;
}

/** One TRACE event (a JSONL line). */
export interface TraceEvent {
  trace_version: string;
  event_id: EventId;
  trace_id: TraceId;
  span_id: string;
  parent_span_id: string | null;
  session_id: string;
  sequence: number;
  timestamp: string;
  event_type: string;
  payload: Json;
  event_hash: string;
  previous_event_hash: string;
}

/** Options of `verifyTrace` / `verifyTraceFile` (docs/trace.md §5). */
export interface VerifyOptions {
  /** Report traces whose last event is not `session.ended`. */
  require_session_end?: boolean;
  /** Traces continuing earlier input (verifying drained chunks one by one): `trace_id` → its last verified event. */
  heads?: { [traceId: string]: { sequence: number; event_hash: string } };
  /** Add a summary per trace (its head) to the report. */
  summaries?: boolean;
}

/** The result of verifying a trace. */
export interface VerifyReport {
  ok: boolean;
  events: number;
  sessions: number;
  malformed_lines: number;
  errors: Array<{ session_id: string | null; trace_id: string | null; line: number; sequence: number | null; code: string; message: string }>;
  /** With `summaries` or `heads`: one per trace, in order of first line. */
  traces?: Array<{ trace_id: string; session_id: string; events: number; first_line: number; ok: boolean; head: { sequence: number; event_hash: string } | null; ended: boolean }>;
}

/** The result of replaying a trace against atlases. */
export interface ReplayReport {
  replayed: number;
  unchanged: number;
  changed: Array<{
    request_id: string;
    session_id: string;
    line: number;
    before: Json;
    after: Json | null;
    newly_allowed: string[];
    no_longer_allowed: string[];
    error: string | null;
  }>;
  skipped_lines: number;
}

/** Versions of the engine and the binding. */
export interface Versions {
  cra: string;
  binding: 'native' | 'wasm';
  /** Execute parameters are validated against `parameters_schema` (always true). */
  json_schema: boolean;
  /**
   * Which validator: `full` (the jsonschema crate: every keyword) or `lite` (the WASM build: the
   * keywords tool parameters use; atlases with others, such as `format`, are refused at load).
   */
  schema_validator: 'cra';
  [key: string]: unknown;
}

/** Trace bytes: verified as they are, never decoded to text first. */
export type TraceBytes = Uint8Array | ArrayBuffer | ArrayBufferView;

// ---------------------------------------------------------------------------------------------
// The resolver

/** A CRA resolver: load atlases, resolve requests, authorize tool calls, record the trace. */
export declare class Resolver {
  /** @param config options (object or JSON text; default `{}`). Throws CraInvalidRequestError (`INVALID_CONFIG`). */
  constructor(config?: JsonInput<ResolverConfig>);
  /** Loads (or replaces) an atlas. Throws CraAtlasError (`INVALID_ATLAS` with every problem in `details`). */
  loadAtlas(atlas: JsonInput<Atlas>): AtlasInfo;
  /** Loads an atlas from a directory holding `atlas.json` and its context files (native only). */
  loadAtlasDir(path: string): AtlasInfo;
  /**
   * WASM only (the native addon throws `IO_ERROR`: use loadAtlasDir): loads an atlas directory
   * given as its files' text keyed by path (`atlas.json` and the context files its packs name),
   * as `readAtlasDir` from `@cra/wasm/bundle-atlas` makes it; the packs are built as loadAtlasDir
   * builds them (one context block per file).
   */
  loadAtlasFiles(files: Record<string, string> | string): AtlasInfo;
  /** Unloads an atlas: its actions are denied from the next call on. */
  unloadAtlas(atlasId: string): { atlas_id: string; unloaded: true };
  /**
   * Loads (or replaces, `replaced: true`) a candidate atlas as the shadow of the live atlas with
   * the same `atlas_id`: resolve and execute are also judged by it, the live verdict is enforced,
   * each difference is a `policy.shadow_diff` trace event and counted in `stats().shadow_diffs`.
   * Throws CraAtlasError (`ATLAS_NOT_FOUND` at `/atlas_id` without a live atlas; `INVALID_ATLAS`).
   */
  loadShadow(atlas: JsonInput<Atlas>): AtlasInfo;
  /** Loads a shadow atlas from a directory holding `atlas.json` (native only; WASM throws `IO_ERROR`). */
  loadShadowDir(path: string): AtlasInfo;
  /** Unloads the shadow of an atlas (the live atlas stays). Throws CraAtlasError (`ATLAS_NOT_FOUND` at `/atlas_id`) when it has none. */
  unloadShadow(atlasId: string): { atlas_id: string; unloaded: true };
  /**
   * Why `actionId` gets its verdict for a resolve request, judged against the atlases loaded now.
   * Records and consumes nothing. Throws CraInvalidRequestError (`INVALID_REQUEST` at
   * `/action_id` when no loaded atlas declares it; a bad request as `resolve` would),
   * CraAtlasError (`ATLAS_NOT_FOUND` for an `atlas_ids` entry not loaded).
   */
  explain(request: JsonInput<ResolveRequest>, actionId: string): Explanation;
  /** Resolves a CARP request: which actions and context the agent gets. Over 1 MiB: `LIMIT_EXCEEDED`. */
  resolve(request: JsonInput<ResolveRequest>): Resolution;
  /** Authorizes one tool call. A denial is an answer (`status`), not an error; see `governed`. Over 1 MiB: `LIMIT_EXCEEDED`. */
  execute(request: JsonInput<ExecuteRequest>): ExecuteAnswer;
  /** Reports an authorized call's outcome. */
  report(report: JsonInput<ExecutionReport>): ReportAnswer;
  /** Approves one call: `approve(id, { approver })`. */
  approve(approvalId: ApprovalId, options: ApprovalOptions): Approval;
  approve(decision: JsonInput<ApprovalDecision>): Approval;
  /** Rejects one call: `reject(id, { approver, reason })`. */
  reject(approvalId: ApprovalId, options: ApprovalOptions): Approval;
  reject(decision: JsonInput<ApprovalDecision>): Approval;
  /** The approvals a filter selects (default: every pending one), for an approval UI. */
  listApprovals(filter?: JsonInput<ApprovalFilter>): Approval[];
  /** Ends a session. */
  endSession(sessionId: string, reason?: string): SessionEnded;
  endSession(body: JsonInput<{ session_id: string; reason?: string }>): SessionEnded;
  /** The fast path: may `sessionId` run `actionId` now? (Consumes nothing.) */
  check(sessionId: string, actionId: string): FastVerdict;
  /** Resolves once every event recorded so far is in the trace sink. `timeoutMs` ≥ 0 (default 10000; Infinity and larger values mean 2147483647); NaN is refused. */
  flush(timeoutMs?: number): Promise<void>;
  /**
   * Takes one chunk of the memory sink's events (JSONL text of whole events, at most 8 MiB by
   * default); `''` when none is left. Events leave the sink only once the string exists.
   */
  drainTrace(options?: DrainOptions): string;
  /** Like `drainTrace`, parsed. */
  drainEvents(options?: DrainOptions): TraceEvent[];
  /** Counters and sizes. */
  stats(): Stats;
  /** Moves a deterministic resolver's clock forward (tests). */
  advanceClock(micros: number): void;
  /** Flushes and stops the trace collector (native: its thread ends now). */
  close(): void;
  /** Releases the resolver now (thread and memory); undrained events go with it. Idempotent; later calls throw `CLOSED`. */
  free(): void;
  /** `using r = new Resolver()`: frees it at the end of the scope. */
  [Symbol.dispose](): void;
}

/** Verifies a JSONL trace: bytes as they are, text as its UTF-8 bytes. A broken chain gives `ok: false`, not an error. */
export declare function verifyTrace(trace: string | TraceBytes, options?: JsonInput<VerifyOptions>): VerifyReport;
/** Verifies a JSONL trace file, streaming (native only; WASM throws CraRuntimeError `IO_ERROR`). */
export declare function verifyTraceFile(path: string, options?: JsonInput<VerifyOptions>): VerifyReport;
/** Replays a trace against atlases: what would change under these policies. */
export declare function replay(trace: string | TraceBytes, atlases: Atlas[] | string): ReplayReport;
/** Versions of the engine and of this binding. */
export declare function versions(): Versions;
/** Which binding this is. */
export declare const binding: 'native' | 'wasm';

/** Who runs a governed tool call. */
export interface GovernedContext<P extends JsonObjectInput = JsonObjectInput> {
  session: string;
  agent: string;
  resolutionId: ResolutionId;
  /** The tool call's parameters (validated against the action's schema). */
  parameters?: P;
  requestId?: string;
}

/**
 * Runs `fn` only if CRA authorizes `actionId`, then reports its result (or thrown error).
 * Throws CraActionDeniedError / CraApprovalRequiredError without calling `fn`.
 */
export declare function governed<R, P extends JsonObjectInput = JsonObjectInput>(
  resolver: Resolver,
  ctx: GovernedContext<P>,
  actionId: string,
  fn: (parameters: P, answer: ExecuteAnswer) => R | Promise<R>,
): Promise<R>;

// ---------------------------------------------------------------------------------------------
// Errors: one class per code family; `code` is the stable wire code. The codes and their
// families are conformance/errors.json (generated from core/src/error.rs; docs/errors.md);
// bindings/js-tests/test/errors.test.mjs checks this file's ErrorCode and ErrorFamily against it.

export type ErrorCode =
  | 'INVALID_REQUEST' | 'INVALID_CONFIG' | 'LIMIT_EXCEEDED' | 'INVALID_ATLAS' | 'ATLAS_NOT_FOUND'
  | 'ATLAS_ALREADY_LOADED' | 'ATLAS_CONFLICT' | 'APPROVAL_FORBIDDEN' | 'RESOLVER_FORKED' | 'TRACE_FILE_LOCKED'
  | 'RESOLUTION_NOT_FOUND' | 'RESOLUTION_EXPIRED' | 'ACTION_NOT_ALLOWED' | 'INVALID_PARAMETERS'
  | 'RATE_LIMIT_EXCEEDED' | 'APPROVAL_REQUIRED' | 'APPROVAL_NOT_FOUND' | 'APPROVAL_EXPIRED'
  | 'APPROVAL_ALREADY_DECIDED' | 'EXECUTION_NOT_FOUND' | 'EXECUTION_ALREADY_REPORTED'
  | 'SESSION_NOT_FOUND' | 'SESSION_ENDED' | 'TRACE_CHAIN_INVALID' | 'IO_ERROR' | 'TIMEOUT' | 'CLOSED'
  | 'INTERNAL';

/** The family of a code: every binding groups its errors the same way (docs/errors.md). */
export type ErrorFamily =
  | 'request' | 'atlas' | 'resolution' | 'action' | 'approval' | 'execution' | 'session' | 'trace'
  | 'runtime' | 'internal';

/** Base class of every CRA error. Messages cap echoed input values at 200 characters. */
export declare class CraError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** The family of the code (undefined only on a CraError of a code this version does not know). */
  readonly family: ErrorFamily | undefined;
  /** JSON pointer (RFC 6901) of the offending input value, when the error is about input. */
  readonly pointer: string | undefined;
  /** Every problem found (atlas validation reports all of them). */
  readonly details: Problem[];
  /** The execute answer, for errors thrown by `governed`. */
  readonly answer?: ExecuteAnswer;
}
/** Family `request`: `INVALID_REQUEST`, `INVALID_CONFIG`, `LIMIT_EXCEEDED` (and `INVALID_PARAMETERS`, its subclass). */
export declare class CraInvalidRequestError extends CraError {}
/** The request family's class under the name every family follows (the same class as CraInvalidRequestError). */
export declare const CraRequestError: typeof CraInvalidRequestError;
/** `INVALID_PARAMETERS`. */
export declare class CraInvalidParametersError extends CraInvalidRequestError {}
/** `INVALID_ATLAS`, `ATLAS_NOT_FOUND`, `ATLAS_ALREADY_LOADED`, `ATLAS_CONFLICT`. */
export declare class CraAtlasError extends CraError {}
/** `RESOLUTION_NOT_FOUND`, `RESOLUTION_EXPIRED`. */
export declare class CraResolutionError extends CraError {}
/** Family `action`: governance refused the call for now (the two classes below). */
export declare class CraActionError extends CraError {}
/** `ACTION_NOT_ALLOWED`, `RATE_LIMIT_EXCEEDED`. */
export declare class CraActionDeniedError extends CraActionError {
  readonly answer: ExecuteAnswer;
}
/** `APPROVAL_REQUIRED`. */
export declare class CraApprovalRequiredError extends CraActionError {
  readonly answer: ExecuteAnswer;
}
/** `APPROVAL_NOT_FOUND`, `APPROVAL_EXPIRED`, `APPROVAL_ALREADY_DECIDED`, `APPROVAL_FORBIDDEN`. */
export declare class CraApprovalError extends CraError {}
/** `EXECUTION_NOT_FOUND`, `EXECUTION_ALREADY_REPORTED`. */
export declare class CraExecutionError extends CraError {}
/** `SESSION_NOT_FOUND`, `SESSION_ENDED`. */
export declare class CraSessionError extends CraError {}
/** `TRACE_CHAIN_INVALID`. */
export declare class CraTraceError extends CraError {}
/** `IO_ERROR`, `TIMEOUT`, `CLOSED`, `RESOLVER_FORKED`, `TRACE_FILE_LOCKED`. */
export declare class CraRuntimeError extends CraError {}
/** `INTERNAL` (a bug in CRA, including a caught panic). */
export declare class CraInternalError extends CraError {
  /** WASM: the instance trapped (a panic); every call fails until `recover()`. */
  readonly trap?: true;
}
