
// ---------------------------------------------------------------------------------------------
// @cra/wasm only: shipping the trace to an ingest service (docs/wasm.md, "Shipping the trace").
// Structural types: no DOM or Node lib is needed.

/** The request `TraceShipper` hands to `fetch`. */
export interface ShipperRequestInit {
  method: 'POST';
  headers: { [name: string]: string };
  body: Uint8Array;
  signal?: unknown;
}
/** What `TraceShipper` reads of a `fetch` answer. */
export interface ShipperResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: unknown;
  text?(): Promise<string>;
}
/** A report of events the shipper or the ingest did not take (never silent). */
export interface ShipperReport {
  /**
   * `refused`: the ingest answered a permanent status (401, 403, 400, 413, 500...): the batch was
   * dropped. `rejected_events`: a 2xx answer rejected some events (integrity alerts at the
   * ingest). `dropped_on_close`: `close()` dropped what was still undelivered.
   * `source_error`: `drainTrace` failed (a freed or trapped resolver).
   */
  kind: 'refused' | 'rejected_events' | 'dropped_on_close' | 'source_error';
  /** HTTP status, when there was an answer. */
  status?: number;
  message: string;
  /** Events concerned. */
  events: number;
  /** The ingest's per-line errors (`rejected_events`). */
  errors?: Array<{ line: number | null; trace_id: string | null; event_id: string | null; code: string; message: string }>;
  error?: unknown;
}
/** A failed attempt that will be retried. */
export interface ShipperRetry {
  /** Failed attempts of this batch so far. */
  attempt: number;
  /** 408, 429, 502, 503, 504, or null for a network error or timeout. */
  status: number | null;
  message: string;
  /** The wait before the next attempt: `Retry-After` when the answer had one, else the backoff. */
  delayMs: number;
  events: number;
}
/** `new TraceShipper(resolver, options)`. Every number is an integer within its bounds (else `INVALID_CONFIG`). */
export interface TraceShipperOptions {
  /** Where batches are POSTed: `http://` or `https://`, the full path (e.g. `https://ingest.example.com/v1/traces`). */
  url: string | UrlLike;
  /** Sent as `Authorization: Bearer <token>` (1-4096 visible ASCII characters). */
  token?: string;
  /** Sent as `X-Cra-Tenant` (the ingest answers 403 when it is not the token's tenant). */
  tenant?: string;
  /** Most events per POST (default 512, 1-100,000). */
  batchMaxEvents?: number;
  /** Most uncompressed bytes per POST (default 1 MiB, 1 KiB-32 MiB; a larger single event goes alone). */
  batchMaxBytes?: number;
  /** Longest an event waits in an open batch (default 1000 ms, 1-600,000). */
  batchMaxDelayMs?: number;
  /** Bound of the in-memory queue: uncompressed JSONL of every batch not yet delivered (default 8 MiB, 64 KiB-256 MiB, ≥ batchMaxBytes; exceeded by at most one event). When full, events wait in the resolver. */
  maxQueueBytes?: number;
  /** `auto` (default: gzip where the host has CompressionStream), `gzip` (INVALID_CONFIG without it) or `none`. */
  compression?: 'auto' | 'gzip' | 'none';
  /** Longest wait for one request's answer (default 10,000 ms, 100-600,000); then it is a network error (retried). */
  timeoutMs?: number;
  /** First backoff (default 100 ms); doubles per failed attempt of a batch, with jitter. */
  backoffInitialMs?: number;
  /** Backoff cap (default 30,000 ms). */
  backoffMaxMs?: number;
  /** Cap of a `Retry-After` wait (default 600,000 ms). */
  maxRetryAfterMs?: number;
  /** Timer that drains and seals due batches (default 250 ms; 0 = none: call `pump()`/`flush()` yourself; 0 by default in Cloudflare Workers). */
  intervalMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: (url: string, init: ShipperRequestInit) => Promise<ShipperResponse>;
  /** Called for every drop or rejection (default: `console.error`). */
  onError?: (report: ShipperReport) => void;
  /** Called before each retry wait. */
  onRetry?: (retry: ShipperRetry) => void;
}
/** `TraceShipper.stats()`. */
export interface ShipperStats {
  /** Batches and events acknowledged (2xx), bytes as sent (compressed). */
  sentBatches: number;
  sentEvents: number;
  sentBytes: number;
  /** Failed attempts that were retried. */
  retried: number;
  /** Events dropped by the shipper: refused batches and `close()` leftovers (each reported). */
  dropped: number;
  /** Batches refused with a permanent status. */
  rejectedBatches: number;
  /** Drains skipped because the queue was full (events waited in the resolver). */
  queueFull: number;
  /** The ingest's counts summed over every 2xx answer. */
  ingest: { accepted: number; duplicate: number; rejected: number; held: number };
  /** Last HTTP status (null before any answer). */
  lastStatus: number | null;
  lastError: string | null;
  queuedBatches: number;
  queuedEvents: number;
  queuedBytes: number;
  maxQueueBytes: number;
  /** The resolver's `stats().trace.dropped` (events it lost before chaining, each recorded as a `trace.gap`); null when unavailable. */
  sourceDropped: number | null;
  closed: boolean;
}
/** The part of a resolver the shipper uses. */
export interface TraceSource {
  drainTrace(options?: DrainOptions): string;
  stats?(): { trace: { dropped: number } | null };
}
/**
 * Drains a resolver's trace and POSTs it as JSONL to an ingest service (`cra serve`,
 * `POST /v1/traces`) with `fetch`: batches by count, size and time; gzip; bearer token; retries
 * of network errors, 408, 429, 502, 503, 504 with capped exponential backoff and jitter,
 * honouring `Retry-After`; one request at a time, in order; a bounded queue; every drop
 * counted and reported.
 */
export declare class TraceShipper {
  constructor(source: TraceSource, options: TraceShipperOptions);
  /**
   * Drains, seals the batches that are full or due, sends; resolves true once the sealed ones are
   * settled, false after `timeoutMs` (default 30,000; they stay queued). Never rejects for delivery
   * problems. Workers: `ctx.waitUntil(shipper.pump())`.
   */
  pump(timeoutMs?: number): Promise<boolean>;
  /** Drains everything and waits until every batch is delivered or dropped; rejects with `TIMEOUT` after `timeoutMs` (default 30,000; the batches stay queued). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes, then stops; drops (and reports) what is left and then rejects with `TIMEOUT`. Resolves with the final stats. */
  close(timeoutMs?: number): Promise<ShipperStats>;
  stats(): ShipperStats;
}
