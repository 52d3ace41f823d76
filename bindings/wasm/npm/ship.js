// @cra/wasm: TraceShipper — takes a resolver's TRACE events (chunked, lossless draining) and
// POSTs them as JSONL to an ingest service (`cra serve`, POST /v1/traces; protocol.md §7) with
// `fetch`. For hosts without the core's HTTP sink: browsers, Cloudflare Workers, Deno, Node
// with the WASM build. No dependency beyond the web platform (fetch, AbortController,
// TextEncoder; CompressionStream for gzip where the host has it).
//
// Design (docs/wasm.md, "Shipping the trace"):
// - Batches: an open batch takes drained events until `batchMaxEvents` / `batchMaxBytes`, or
//   until it is `batchMaxDelayMs` old; then it is sealed, compressed once, and queued.
// - Order: one request at a time, oldest batch first; a batch being retried holds back the
//   later ones, so the ingest receives every trace's events in chain order.
// - Retries: network errors (fetch throws, the request times out) and 408, 429, 502, 503, 504,
//   for as long as it takes, after a capped exponential backoff with jitter (uniform in
//   [d/2, d]); a `Retry-After` (seconds or HTTP date, capped) replaces the backoff. Any other
//   status is permanent: the batch is dropped, counted and reported (never silently).
// - Bound: sealed batches plus the open one hold at most `maxQueueBytes` of JSONL (plus at most
//   one event: a drain always returns a whole event). When the queue is full the shipper stops
//   draining: events wait in the resolver's own bounded buffer, which, when full, drops events
//   *before* they are chained and records each loss as a `trace.gap` (stats: `sourceDropped`).
//   So a full queue never drops a chained event, and the chain that reaches the ingest verifies.
import { errors } from './api.js';

const { CraInvalidRequestError, CraRuntimeError } = errors;

const KIB = 1024;
const MIB = 1024 * KIB;
/** Bounds of every numeric option: [default, min, max]. */
const LIMITS = {
  batchMaxEvents: [512, 1, 100000], // the ingest's default max_lines is 100,000
  batchMaxBytes: [1 * MIB, 1 * KIB, 32 * MIB], // the ingest's default max_decompressed is 32 MiB
  batchMaxDelayMs: [1000, 1, 600000],
  maxQueueBytes: [8 * MIB, 64 * KIB, 256 * MIB],
  timeoutMs: [10000, 100, 600000],
  backoffInitialMs: [100, 1, 600000],
  backoffMaxMs: [30000, 1, 3600000],
  maxRetryAfterMs: [600000, 0, 3600000],
  intervalMs: [250, 0, 600000],
};
const OPTIONS = new Set([...Object.keys(LIMITS), 'url', 'token', 'tenant', 'compression', 'fetch', 'onError', 'onRetry']);
/** Bytes of an answer body read for stats and error messages (the rest is discarded). */
const MAX_ANSWER_BYTES = 64 * KIB;
/** Characters of an answer body kept in an error message. */
const MAX_MESSAGE_BODY = 500;
const RETRY_STATUSES = new Set([408, 429, 502, 503, 504]);

function invalid(message, pointer) {
  return new CraInvalidRequestError(message, { code: 'INVALID_CONFIG', pointer });
}

function show(v) {
  try {
    const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch (_) {
    return Object.prototype.toString.call(v);
  }
}

/** Is this host Cloudflare Workers (where timers outside a request are not allowed)? */
function isWorkers() {
  return typeof navigator !== 'undefined' && navigator && navigator.userAgent === 'Cloudflare-Workers';
}

function hasCompressionStream() {
  return typeof CompressionStream === 'function' && typeof Response === 'function';
}

/** Checks and completes the options (every bad value is INVALID_CONFIG with its pointer). */
function checkOptions(o) {
  if (o === null || typeof o !== 'object') throw invalid(`TraceShipper options must be an object, got ${show(o)}`, '');
  for (const k of Object.keys(o)) if (!OPTIONS.has(k)) throw invalid(`unknown TraceShipper option ${show(k)}`, `/${k}`);
  const out = {};
  for (const [k, [dflt, min, max]] of Object.entries(LIMITS)) {
    const v = o[k] === undefined ? (k === 'intervalMs' && isWorkers() ? 0 : dflt) : o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw invalid(`${k} must be an integer from ${min} to ${max}, got ${show(v)}`, `/${k}`);
    }
    out[k] = v;
  }
  if (out.backoffMaxMs < out.backoffInitialMs) throw invalid(`backoffMaxMs (${out.backoffMaxMs}) is below backoffInitialMs (${out.backoffInitialMs})`, '/backoffMaxMs');
  if (out.maxQueueBytes < out.batchMaxBytes) throw invalid(`maxQueueBytes (${out.maxQueueBytes}) is below batchMaxBytes (${out.batchMaxBytes})`, '/maxQueueBytes');

  if (typeof o.url !== 'string' && !(o.url && typeof o.url.href === 'string')) throw invalid(`url must be a string, got ${show(o.url)}`, '/url');
  let url;
  try {
    url = new URL(typeof o.url === 'string' ? o.url : o.url.href);
  } catch (_) {
    throw invalid(`url is not a URL: ${show(o.url)}`, '/url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`url must be http:// or https://, got ${show(url.protocol)}`, '/url');
  if (url.username || url.password) throw invalid('url must not hold credentials (use token)', '/url');
  if (url.hash) throw invalid('url must not have a fragment', '/url');
  out.url = url.href;

  if (o.token !== undefined) {
    if (typeof o.token !== 'string' || o.token.length < 1 || o.token.length > 4096 || !/^[\x21-\x7e]+$/.test(o.token)) {
      throw invalid('token must be 1 to 4096 visible ASCII characters', '/token');
    }
  }
  out.token = o.token;
  if (o.tenant !== undefined && (typeof o.tenant !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(o.tenant))) {
    throw invalid(`tenant must match [A-Za-z0-9._-]{1,128}, got ${show(o.tenant)}`, '/tenant');
  }
  out.tenant = o.tenant;

  const c = o.compression === undefined ? 'auto' : o.compression;
  if (c !== 'auto' && c !== 'gzip' && c !== 'none') throw invalid(`compression must be 'auto', 'gzip' or 'none', got ${show(c)}`, '/compression');
  if (c === 'gzip' && !hasCompressionStream()) throw invalid("compression 'gzip' needs CompressionStream, which this host lacks (use 'auto' or 'none')", '/compression');
  out.gzip = c === 'gzip' || (c === 'auto' && hasCompressionStream());

  const f = o.fetch === undefined ? globalThis.fetch : o.fetch;
  if (typeof f !== 'function') throw invalid('fetch must be a function (this host has no global fetch: pass one)', '/fetch');
  // Called unbound would throw "Illegal invocation" in browsers and Workers.
  out.fetch = o.fetch === undefined ? (...a) => globalThis.fetch(...a) : f;
  for (const k of ['onError', 'onRetry']) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw invalid(`${k} must be a function`, `/${k}`);
  }
  out.onError = o.onError;
  out.onRetry = o.onRetry;
  return out;
}

/** gzip through the host's CompressionStream. */
async function gzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads at most `limit` bytes of an answer's body as text; the rest is cancelled. */
async function readBounded(res, limit) {
  if (!res.body || typeof res.body.getReader !== 'function') {
    const t = typeof res.text === 'function' ? await res.text() : '';
    return t.slice(0, limit);
  }
  const reader = res.body.getReader();
  const parts = [];
  let n = 0;
  try {
    while (n < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.byteLength;
    }
  } finally {
    if (n >= limit) reader.cancel().catch(() => {});
    else reader.releaseLock?.();
  }
  const all = new Uint8Array(Math.min(n, limit));
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.byteLength, all.length - at);
    all.set(p.subarray(0, take), at);
    at += take;
  }
  return new TextDecoder().decode(all);
}

/** Retry-After (delta seconds or an HTTP date) in ms, or undefined when absent or unreadable. */
function retryAfterMs(value, now) {
  if (value === null || value === undefined) return undefined;
  const s = String(value).trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function countLines(text) {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const SHIPPER_CLOSED = 'the TraceShipper is closed';
/** How often a caller waiting for another sender checks on it, ms. */
const POLL_MS = 10;
/** Slack before a silent sender counts as gone, ms (see _send). */
const STALE_GRACE_MS = 5000;

/**
 * Drains a resolver's trace and POSTs it to an ingest service. See docs/wasm.md.
 *
 *     const shipper = new TraceShipper(resolver, { url: 'https://ingest.example.com/v1/traces', token });
 *     ... resolve ...
 *     await shipper.close();      // everything drained and delivered (or dropped and reported)
 *
 * Sending: one request at a time, oldest batch first. Whoever needs batches delivered (the
 * timer, `pump`, `flush`) becomes the sender if there is none, sends up to what it needs and
 * stops; others wait by polling with their own timers. Nothing is handed from one caller's
 * promise to another's: in Cloudflare Workers every request's I/O then stays in that request,
 * and a sender whose request ended (its promises never settle) is taken over once it has been
 * silent longer than it could legitimately be (`timeoutMs` or its backoff, plus 5 s).
 */
export class TraceShipper {
  constructor(source, options) {
    if (!source || typeof source.drainTrace !== 'function') {
      throw new CraInvalidRequestError('TraceShipper needs a resolver (an object with drainTrace)', { code: 'INVALID_REQUEST' });
    }
    this._o = checkOptions(options);
    this._source = source;
    this._encoder = new TextEncoder();
    /** Sealed batches, oldest first: {seq, bytes, body, events, size, attempts}. */
    this._queue = [];
    /** The batch being filled: parts of UTF-8 JSONL. */
    this._open = { parts: [], events: 0, size: 0, since: 0 };
    this._queuedBytes = 0; // sealed + open, uncompressed
    this._seq = 0; // last sealed batch number
    this._done = 0; // every batch up to this number is settled (sent or dropped)
    /** The current sender: {until} (it counts as gone after `until`), or null. */
    this._owner = null;
    this._closed = false;
    this._sourceGone = false;
    this._abort = null;
    this._wake = null;
    this._s = {
      sentBatches: 0, sentEvents: 0, sentBytes: 0, retried: 0, dropped: 0, rejectedBatches: 0,
      queueFull: 0, ingest: { accepted: 0, duplicate: 0, rejected: 0, held: 0 }, lastStatus: null, lastError: null,
    };
    this._timer = null;
    if (this._o.intervalMs > 0) {
      this._timer = setInterval(() => this._tick(), this._o.intervalMs);
      // Node: the timer alone does not keep the process alive (call close() before exiting).
      if (this._timer && typeof this._timer.unref === 'function') this._timer.unref();
    }
  }

  /**
   * Drains what the resolver holds into batches (as far as the queue has room), seals the
   * batches that are full or `batchMaxDelayMs` old, and sends the sealed ones. Resolves to true
   * once they are settled (sent, or dropped and reported), false if that takes longer than
   * `timeoutMs` (default 30 s; delivery goes on later). Never rejects for delivery problems. In
   * Workers: `ctx.waitUntil(shipper.pump())` (an open batch younger than `batchMaxDelayMs` waits
   * for a later request) or `ctx.waitUntil(shipper.flush())` (everything, now).
   */
  async pump(timeoutMs = 30000) {
    this._live();
    const deadline = Date.now() + checkWait(timeoutMs, 'pump');
    this._fill(false);
    return this._send(this._seq, deadline, true);
  }

  /**
   * Drains everything the resolver holds, seals the open batch and waits until every batch is
   * acknowledged, or dropped and reported. Rejects with `CraRuntimeError` `TIMEOUT` after
   * `timeoutMs` (default 30 s): nothing is lost then, the batches stay queued.
   */
  async flush(timeoutMs = 30000) {
    this._live();
    const deadline = Date.now() + checkWait(timeoutMs, 'flush');
    while (this._fill(true)) {
      // The queue is full: deliver the oldest batch, then drain on.
      if (!(await this._send(this._queue.length ? this._queue[0].seq : this._seq, deadline, true))) throw this._timeout('flush', timeoutMs);
      this._live();
    }
    if (!(await this._send(this._seq, deadline, true))) throw this._timeout('flush', timeoutMs);
  }

  /**
   * Flushes (at most `timeoutMs`, default 30 s), then stops: the timer ends, and whatever is
   * still undelivered is dropped, counted and reported; in that case it rejects with `TIMEOUT`
   * after stopping. Resolves with the final stats. Later calls of any method throw `CLOSED`.
   */
  async close(timeoutMs = 30000) {
    this._live();
    const wait = checkWait(timeoutMs, 'close');
    if (this._timer !== null) clearInterval(this._timer);
    this._timer = null;
    let failure = null;
    try {
      await this.flush(wait);
    } catch (e) {
      failure = e;
    }
    this._closed = true;
    if (this._abort) this._abort.abort();
    if (this._wake) this._wake();
    const left = this._dropAll('the shipper was closed before they were delivered');
    if (failure !== null || left > 0) {
      const msg = left > 0 ? `close: ${left} undelivered events were dropped (${this._s.lastError || 'timeout'})` : String(failure && failure.message);
      throw new CraRuntimeError(msg, { code: failure && failure.code ? failure.code : 'TIMEOUT', details: [this.stats()] });
    }
    return this.stats();
  }

  /** Counters: sent, retried, dropped, what is queued, the ingest's answers, the last error. */
  stats() {
    let sourceDropped = null;
    try {
      if (!this._sourceGone && typeof this._source.stats === 'function') {
        const t = this._source.stats().trace;
        sourceDropped = t && Number.isInteger(t.dropped) ? t.dropped : null;
      }
    } catch (_) {
      sourceDropped = null;
    }
    return {
      ...this._s,
      ingest: { ...this._s.ingest },
      queuedBatches: this._queue.length + (this._open.events ? 1 : 0),
      queuedEvents: this._queue.reduce((n, b) => n + b.events, 0) + this._open.events,
      queuedBytes: this._queuedBytes,
      maxQueueBytes: this._o.maxQueueBytes,
      sourceDropped,
      closed: this._closed,
    };
  }

  // -- internals ------------------------------------------------------------------------------

  _live() {
    if (this._closed) throw new CraRuntimeError(SHIPPER_CLOSED, { code: 'CLOSED' });
  }

  _timeout(what, ms) {
    return new CraRuntimeError(`${what}: not every batch was delivered within ${ms} ms${this._s.lastError ? ` (last error: ${this._s.lastError})` : ''}; they stay queued`, { code: 'TIMEOUT' });
  }

  /** The timer: drain, seal due batches, send everything sealed (unless a sender is at work). */
  _tick() {
    if (this._closed) return;
    try {
      this._fill(false);
    } catch (_) {
      /* reported in _fill */
    }
    if (this._queue.length > 0) this._send(Infinity, Infinity, false).catch(() => {});
  }

  /**
   * Drains into the open batch while the queue has room; seals full batches, and the open one
   * when `all` or when it is due. Returns true when the resolver may hold more (the queue ran
   * out of room).
   */
  _fill(all) {
    const o = this._o;
    let more = false;
    if (!this._sourceGone) {
      for (;;) {
        const room = o.maxQueueBytes - this._queuedBytes;
        if (room <= 0) {
          more = true;
          this._s.queueFull++;
          break;
        }
        const open = this._open;
        let text;
        try {
          text = this._source.drainTrace({
            maxBytes: Math.max(1, Math.min(o.batchMaxBytes - open.size, room)),
            maxEvents: o.batchMaxEvents - open.events,
          });
        } catch (e) {
          // A freed or trapped resolver: nothing more will come from it.
          this._sourceGone = Boolean(e && (e.code === 'CLOSED' || e.trap === true));
          this._report({ kind: 'source_error', message: `drainTrace failed: ${e && e.message}`, events: 0, error: e });
          break;
        }
        if (text === '') break;
        const bytes = this._encoder.encode(text);
        if (open.events === 0) open.since = Date.now();
        open.parts.push(bytes);
        open.events += countLines(text);
        open.size += bytes.byteLength;
        this._queuedBytes += bytes.byteLength;
        if (open.events >= o.batchMaxEvents || open.size >= o.batchMaxBytes) this._seal();
      }
    }
    const open = this._open;
    if (open.events > 0 && (all || Date.now() - open.since >= o.batchMaxDelayMs)) this._seal();
    return more;
  }

  _seal() {
    const open = this._open;
    if (open.events === 0) return;
    let bytes;
    if (open.parts.length === 1) bytes = open.parts[0];
    else {
      bytes = new Uint8Array(open.size);
      let at = 0;
      for (const p of open.parts) {
        bytes.set(p, at);
        at += p.byteLength;
      }
    }
    this._queue.push({ seq: ++this._seq, bytes, body: null, events: open.events, size: open.size, attempts: 0 });
    this._open = { parts: [], events: 0, size: 0, since: 0 };
  }

  /**
   * Gets batches up to `target` settled (Infinity: everything sealed, as it comes). Becomes the
   * sender when there is none (or the current one is gone); otherwise, when `wait`, polls until
   * the sender is done. Resolves true when batches up to `target` are settled, false at
   * `deadline` or (without `wait`) when another sender is at work.
   */
  async _send(target, deadline, wait) {
    const settled = () => (target === Infinity ? this._queue.length === 0 : this._done >= target);
    for (;;) {
      if (settled()) return true;
      if (this._closed || Date.now() >= deadline) return false;
      const owner = this._owner;
      if (owner !== null && Date.now() <= owner.until) {
        if (!wait) return false;
        await pause(Math.min(POLL_MS, deadline - Date.now()), false);
        continue;
      }
      // No sender, or one that has been silent too long (e.g. a Workers request that ended
      // mid-request): this caller sends. A sender that comes back after losing its place sees
      // it is no longer the owner and stops without touching the queue.
      const me = { until: 0 };
      this._owner = me;
      const work = this._sendAs(me, settled, deadline, wait).finally(() => {
        if (this._owner === me) this._owner = null;
      });
      if (deadline === Infinity) await work;
      // A request that never settles (its abort ignored) must not hold the caller past its
      // deadline; the sender stays the owner until it counts as gone.
      else if (!(await within(work, deadline))) return settled();
    }
  }

  async _sendAs(me, settled, deadline, awaited) {
    const o = this._o;
    while (this._owner === me && !this._closed && !settled() && this._queue.length > 0) {
      if (Date.now() >= deadline) return;
      const b = this._queue[0];
      if (b.notBefore !== undefined && Date.now() < b.notBefore) {
        // A backoff an earlier sender did not wait out (it stopped at its deadline).
        const wait = Math.min(b.notBefore - Date.now(), Math.max(0, deadline - Date.now()));
        me.until = Date.now() + wait + STALE_GRACE_MS;
        await this._sleep(wait, !awaited);
        if (this._owner !== me || this._closed || this._queue[0] !== b || Date.now() < b.notBefore) return;
      }
      me.until = Date.now() + o.timeoutMs + STALE_GRACE_MS;
      let outcome;
      try {
        outcome = await this._attempt(b);
      } catch (e) {
        // A host failure outside the request (compression): report, retry later.
        outcome = { retry: true, status: null, message: `internal: ${e && e.message}` };
      }
      if (this._owner !== me || this._closed || this._queue[0] !== b) return; // replaced while away
      if (outcome.retry) {
        b.attempts++;
        this._s.retried++;
        this._s.lastError = outcome.message;
        const backoff = Math.min(o.backoffMaxMs, o.backoffInitialMs * 2 ** Math.min(b.attempts - 1, 52));
        const delayMs = outcome.retryAfterMs !== undefined
          ? Math.min(outcome.retryAfterMs, o.maxRetryAfterMs)
          : Math.round(backoff / 2 + Math.random() * (backoff / 2));
        this._callback('onRetry', { attempt: b.attempts, status: outcome.status, message: outcome.message, delayMs, events: b.events });
        b.notBefore = Date.now() + delayMs;
        const wait = Math.min(delayMs, Math.max(0, deadline - Date.now()));
        me.until = Date.now() + wait + STALE_GRACE_MS;
        await this._sleep(wait, !awaited);
        // Past the deadline the next sender waits out the rest of the backoff (notBefore).
        if (Date.now() < b.notBefore) return;
        continue;
      }
      this._queue.shift();
      this._queuedBytes -= b.size;
      if (outcome.sent) {
        this._s.sentBatches++;
        this._s.sentEvents += b.events;
        this._s.sentBytes += b.body.byteLength;
      } else {
        this._s.rejectedBatches++;
        this._s.dropped += b.events;
        this._s.lastError = outcome.message;
        this._report({ kind: 'refused', status: outcome.status, message: outcome.message, events: b.events });
      }
      if (b.seq > this._done) this._done = b.seq;
    }
  }

  /** One POST of batch `b`: {sent} | {retry, retryAfterMs?} | {refused}; with status and message. */
  async _attempt(b) {
    const o = this._o;
    if (b.body === null) b.body = o.gzip ? await gzip(b.bytes) : b.bytes;
    const headers = { 'content-type': 'application/x-ndjson' };
    if (o.gzip) headers['content-encoding'] = 'gzip';
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    if (o.tenant !== undefined) headers['x-cra-tenant'] = o.tenant;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    this._abort = ctl;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (ctl) ctl.abort();
    }, o.timeoutMs);
    let res;
    let text = '';
    try {
      res = await o.fetch(o.url, { method: 'POST', headers, body: b.body, signal: ctl ? ctl.signal : undefined });
      text = await readBounded(res, MAX_ANSWER_BYTES);
    } catch (e) {
      const why = timedOut ? `no answer within ${o.timeoutMs} ms` : `network error: ${e && e.message}${e && e.cause && e.cause.code ? ` (${e.cause.code})` : ''}`;
      return { retry: true, status: null, message: `POST ${o.url}: ${why}` };
    } finally {
      clearTimeout(timer);
      if (this._abort === ctl) this._abort = null;
    }
    const status = res.status;
    this._s.lastStatus = status;
    const message = `POST ${o.url}: HTTP ${status}${text ? `: ${text.slice(0, MAX_MESSAGE_BODY)}` : ''}`;
    if (status >= 200 && status < 300) {
      this._account(text);
      return { sent: true, status };
    }
    if (RETRY_STATUSES.has(status)) {
      const get = res.headers && typeof res.headers.get === 'function' ? res.headers.get('retry-after') : null;
      return { retry: true, status, message, retryAfterMs: retryAfterMs(get, Date.now()) };
    }
    return { refused: true, status, message };
  }

  /** Adds the ingest's counts (202 body) to the stats; reports events it rejected. */
  _account(text) {
    let a;
    try {
      a = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (!a || typeof a !== 'object') return;
    const g = this._s.ingest;
    for (const k of ['accepted', 'duplicate', 'rejected', 'held']) if (Number.isInteger(a[k]) && a[k] >= 0) g[k] += a[k];
    if (Number.isInteger(a.rejected) && a.rejected > 0) {
      const first = Array.isArray(a.errors) && a.errors[0] ? a.errors[0] : {};
      const message = `the ingest rejected ${a.rejected} events (first: ${first.code || '?'} ${first.message || ''})`;
      this._s.lastError = message;
      this._report({ kind: 'rejected_events', status: 202, message, events: a.rejected, errors: a.errors });
    }
  }

  /** Drops every queued event (close); returns how many. */
  _dropAll(why) {
    if (this._open.events > 0) this._seal();
    let n = 0;
    for (const b of this._queue) n += b.events;
    this._queue = [];
    this._queuedBytes = 0;
    this._done = this._seq;
    if (n > 0) {
      this._s.dropped += n;
      this._report({ kind: 'dropped_on_close', message: `${n} events were dropped: ${why}`, events: n });
    }
    return n;
  }

  _report(r) {
    if (this._o.onError) this._callback('onError', r);
    else if (typeof console !== 'undefined') console.error(`cra TraceShipper: ${r.message}`);
  }

  _callback(name, arg) {
    const f = this._o[name];
    if (!f) return;
    try {
      f(arg);
    } catch (_) {
      /* a failing callback must not stop delivery */
    }
  }

  /** A wait that close() cuts short; `unref`: it alone does not keep Node alive. */
  _sleep(ms, unref) {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      if (unref && t && typeof t.unref === 'function') t.unref();
      const wake = () => done();
      this._wake = wake;
      function done() {
        clearTimeout(t);
        resolve();
      }
    }).finally(() => {
      this._wake = null;
    });
  }
}

/** Resolves true when `p` settles, false at `deadline` (whichever comes first; no timer left behind). */
function within(p, deadline) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    p.then(() => {
      clearTimeout(t);
      resolve(true);
    }, () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** A plain wait. */
function pause(ms, unref) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, Math.max(0, ms));
    if (unref && t && typeof t.unref === 'function') t.unref();
  });
}

function checkWait(ms, what) {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new CraInvalidRequestError(`${what}: the timeout must be a number of milliseconds ≥ 0, got ${show(ms)}`, { code: 'INVALID_REQUEST' });
  }
  return Math.min(Math.ceil(ms), 2147483647);
}
