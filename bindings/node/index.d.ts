// Type declarations of the CRA JavaScript API, shared by @cra/node (native addon) and @cra/wasm
// (WebAssembly; its build appends `init`). Field names are the wire names of docs/protocol.md.

/** JSON text or a value that serializes to the expected JSON. */
export type JsonInput<T> = T | string;
/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// ---------------------------------------------------------------------------------------------
// Configuration and atlases

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
  /** Where TRACE events go (docs/trace.md). Default: memory, drained by the host. */
  trace?: {
    sink?: 'memory' | 'file' | 'none';
    path?: string;
    capacity?: number;
    batch_size?: number;
    overflow?: 'block' | 'drop';
    flush_interval_ms?: number;
    memory_limit_events?: number;
    fsync?: string;
    [key: string]: unknown;
  };
}

/** An atlas document (docs/protocol.md §2). */
export interface Atlas {
  atlas_version: string;
  atlas_id: string;
  version: string;
  name: string;
  description?: string;
  actions: Array<{ action_id: string; name: string; description?: string; parameters_schema?: Json; [key: string]: Json | undefined }>;
  policies?: Json[];
  context_packs?: Json[];
  capabilities?: Json[];
  [key: string]: unknown;
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
}

// ---------------------------------------------------------------------------------------------
// CARP requests and answers

export type RiskTier = 'low' | 'medium' | 'high' | 'critical';

/** Who is asking. */
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
  context?: { [key: string]: Json };
}

/** An execute (authorize) request. */
export interface ExecuteRequest {
  carp_version?: '1.0';
  request_id?: string;
  timestamp?: string;
  operation?: 'execute';
  requester: Requester;
  execution: {
    resolution_id: string;
    action_id: string;
    parameters?: Json;
    idempotency_key?: string;
  };
  context?: { [key: string]: Json };
}

export type DecisionType = 'allow' | 'deny' | 'partial' | 'requires_approval';

/** A permitted action in a resolution. */
export interface AllowedAction {
  action_id: string;
  atlas_id: string;
  name?: string;
  description?: string;
  parameters_schema?: Json;
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
  resolution_id: string;
  request_id: string;
  timestamp: string;
  decision: { type: DecisionType; reason?: string; approval_id?: string; expires_at: string; [key: string]: Json | undefined };
  context_blocks: ContextBlock[];
  allowed_actions: AllowedAction[];
  denied_actions: DeniedAction[];
  pending_actions?: Json[];
  ttl_seconds: number;
  trace_id: string;
  [key: string]: unknown;
}

export type ExecuteStatus = 'authorized' | 'denied' | 'pending_approval';

/** The answer to an execute request. */
export interface ExecuteAnswer {
  carp_version: '1.0';
  request_id: string;
  /** Present when authorized: report the tool's outcome with it. */
  execution_id: string | null;
  resolution_id: string;
  action_id: string;
  status: ExecuteStatus;
  /** `policy_denied`, `default_deny`, `not_in_resolution`, `rate_limit_exceeded`, `approval_required`, `approval_rejected`, `approval_expired`. */
  reason_code: string | null;
  reason: string | null;
  policy_id: string | null;
  approval_id: string | null;
  timestamp: string;
  trace_id: string;
}

/** A tool's outcome: exactly one of `result` (may be `null`) and `error`. */
export type ExecutionReport =
  | { execution_id: string; result: Json; duration_ms?: number }
  | { execution_id: string; error: { message: string; code?: string }; duration_ms?: number };

/** The answer to a report. */
export interface ReportAnswer {
  execution_id: string;
  status: 'executed' | 'failed';
  action_id: string;
  [key: string]: unknown;
}

/** Approve or reject a pending approval. */
export interface ApprovalDecision {
  approval_id: string;
  approver?: string;
  reason?: string;
}

/** An approval's state. */
export interface ApprovalState {
  approval_id: string;
  status: string;
  [key: string]: unknown;
}

/** The answer to ending a session. */
export interface SessionEnded {
  session_id: string;
  trace_id: string;
  reason: string | null;
  ended_at: string;
  duration_us: number;
}

/** The fast-path verdict. */
export type FastVerdict = 'allowed' | 'denied' | 'pending_approval' | 'rate_limited' | 'no_resolution';

/** Counters and sizes. */
export interface Stats {
  trace: {
    queued: number;
    written: number;
    dropped: number;
    dropped_by_reason: { queue_full: number; sink_full: number; closed: number };
    gaps: number;
    sink_errors: number;
    last_sink_error: string | null;
    pending: number;
    bytes_written: number;
    batches: number;
    sessions: number;
  } | null;
  atlases: number;
  sessions: number;
  resolutions: number;
  approvals: number;
  executions: number;
  rate_limit_windows: number;
  resolves: number;
  executes: number;
  authorized: number;
  denied: number;
  reports: number;
}

/** One TRACE event (a JSONL line). */
export interface TraceEvent {
  trace_version: string;
  event_id: string;
  trace_id: string;
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

/** The result of verifying a trace. */
export interface VerifyReport {
  ok: boolean;
  events: number;
  sessions: number;
  malformed_lines: number;
  errors: Array<{ session_id: string | null; line: number; sequence: number | null; code: string; message: string }>;
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
   * keywords tool parameters use; atlases with others, such as `pattern` or `format`, are refused
   * at load).
   */
  schema_validator: 'full' | 'lite';
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// The resolver

/** A CRA resolver: load atlases, resolve requests, authorize tool calls, record the trace. */
export declare class Resolver {
  /** @param config options (object or JSON text; default `{}`). Throws CraInvalidRequestError (`INVALID_CONFIG`). */
  constructor(config?: JsonInput<ResolverConfig>);
  /** Loads (or replaces) an atlas. Throws CraAtlasError (`INVALID_ATLAS` with every problem in `details`). */
  loadAtlas(atlas: JsonInput<Atlas>): AtlasInfo;
  /** Loads an atlas from a directory holding `atlas.json` and its context files (not in browsers/Workers). */
  loadAtlasDir(path: string): AtlasInfo;
  /** Unloads an atlas; resolutions already issued keep working until they expire. */
  unloadAtlas(atlasId: string): { atlas_id: string; unloaded: true };
  /** Resolves a CARP request: which actions and context the agent gets. */
  resolve(request: JsonInput<ResolveRequest>): Resolution;
  /** Authorizes one tool call. A denial is an answer (`status`), not an error; see `governed`. */
  execute(request: JsonInput<ExecuteRequest>): ExecuteAnswer;
  /** Reports an authorized call's outcome. */
  report(report: JsonInput<ExecutionReport>): ReportAnswer;
  /** Approves a pending approval. */
  approve(decision: JsonInput<ApprovalDecision>): ApprovalState;
  /** Rejects a pending approval. */
  reject(decision: JsonInput<ApprovalDecision>): ApprovalState;
  /** Ends a session. */
  endSession(sessionId: string, reason?: string): SessionEnded;
  endSession(body: JsonInput<{ session_id: string; reason?: string }>): SessionEnded;
  /** The fast path: may `sessionId` run `actionId` now? (Consumes nothing.) */
  check(sessionId: string, actionId: string): FastVerdict;
  /** Resolves once every event recorded so far is in the trace sink (native: on a worker thread). */
  flush(timeoutMs?: number): Promise<void>;
  /** Takes the JSONL text of the memory sink's events not yet drained. */
  drainTrace(): string;
  /** Like `drainTrace`, parsed. */
  drainEvents(): TraceEvent[];
  /** Counters and sizes. */
  stats(): Stats;
  /** Moves a deterministic resolver's clock forward (tests). */
  advanceClock(micros: number): void;
  /** Flushes and stops the trace collector. */
  close(): void;
  /** Releases the resolver's memory now (WASM; native leaves it to the GC); unusable afterwards. */
  free(): void;
}

/** Verifies JSONL trace text; a broken chain gives `ok: false`, not an error. */
export declare function verifyTrace(trace: string | Uint8Array): VerifyReport;
/** Verifies a JSONL trace file, streaming (native only; WASM throws CraRuntimeError). */
export declare function verifyTraceFile(path: string): VerifyReport;
/** Replays a trace against atlases: what would change under these policies. */
export declare function replay(trace: string | Uint8Array, atlases: Atlas[] | string): ReplayReport;
/** Versions of the engine and of this binding. */
export declare function versions(): Versions;
/** Which binding this is. */
export declare const binding: 'native' | 'wasm';

/** Who runs a governed tool call. */
export interface GovernedContext<P = Json> {
  session: string;
  agent: string;
  resolutionId: string;
  /** The tool call's parameters (validated against the action's schema). */
  parameters?: P;
  requestId?: string;
}

/**
 * Runs `fn` only if CRA authorizes `actionId`, then reports its result (or thrown error).
 * Throws CraActionDeniedError / CraApprovalRequiredError without calling `fn`.
 */
export declare function governed<R, P = Json>(
  resolver: Resolver,
  ctx: GovernedContext<P>,
  actionId: string,
  fn: (parameters: P, answer: ExecuteAnswer) => R | Promise<R>,
): Promise<R>;

// ---------------------------------------------------------------------------------------------
// Errors: one class per code family; `code` is the stable wire code.

export type ErrorCode =
  | 'INVALID_REQUEST' | 'INVALID_CONFIG' | 'LIMIT_EXCEEDED' | 'INVALID_ATLAS' | 'ATLAS_NOT_FOUND'
  | 'ATLAS_ALREADY_LOADED' | 'ATLAS_CONFLICT' | 'APPROVAL_FORBIDDEN' | 'RESOLVER_FORKED' | 'TRACE_FILE_LOCKED'
  | 'RESOLUTION_NOT_FOUND' | 'RESOLUTION_EXPIRED' | 'ACTION_NOT_ALLOWED' | 'INVALID_PARAMETERS'
  | 'RATE_LIMIT_EXCEEDED' | 'APPROVAL_REQUIRED' | 'APPROVAL_NOT_FOUND' | 'APPROVAL_EXPIRED'
  | 'APPROVAL_ALREADY_DECIDED' | 'EXECUTION_NOT_FOUND' | 'EXECUTION_ALREADY_REPORTED'
  | 'SESSION_NOT_FOUND' | 'SESSION_ENDED' | 'TRACE_CHAIN_INVALID' | 'IO_ERROR' | 'TIMEOUT' | 'CLOSED'
  | 'INTERNAL';

/** One problem found in an input. */
export interface Problem {
  code: string;
  message: string;
  pointer: string;
}

/** Base class of every CRA error. */
export declare class CraError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** JSON pointer (RFC 6901) of the offending input value, when the error is about input. */
  readonly pointer: string | undefined;
  /** Every problem found (atlas validation reports all of them). */
  readonly details: Problem[];
  /** The execute answer, for errors thrown by `governed`. */
  readonly answer?: ExecuteAnswer;
}
/** `INVALID_REQUEST`, `INVALID_CONFIG`. */
export declare class CraInvalidRequestError extends CraError {}
/** `INVALID_PARAMETERS`. */
export declare class CraInvalidParametersError extends CraInvalidRequestError {}
/** `INVALID_ATLAS`, `ATLAS_NOT_FOUND`, `ATLAS_ALREADY_LOADED`. */
export declare class CraAtlasError extends CraError {}
/** `RESOLUTION_NOT_FOUND`, `RESOLUTION_EXPIRED`. */
export declare class CraResolutionError extends CraError {}
/** `ACTION_NOT_ALLOWED`, `RATE_LIMIT_EXCEEDED`. */
export declare class CraActionDeniedError extends CraError {
  readonly answer: ExecuteAnswer;
}
/** `APPROVAL_REQUIRED`. */
export declare class CraApprovalRequiredError extends CraError {
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
/** `IO_ERROR`, `TIMEOUT`, `CLOSED`. */
export declare class CraRuntimeError extends CraError {}
/** `INTERNAL` (a bug in CRA, including a caught panic). */
export declare class CraInternalError extends CraError {}
