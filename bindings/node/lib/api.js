'use strict';
// The JavaScript API of CRA, shared by the native addon (@cra/node) and the WebAssembly build
// (@cra/wasm): both give `makeApi` a raw binding with the same shape (a `NativeResolver` class
// whose methods take and return JSON text, plus `verifyTrace`, `replay`, `versions`), and get
// back the idiomatic API: objects in, plain objects out (each answer parsed once), errors as
// `CraError` subclasses. This file is CommonJS source; the WASM build derives its ES module copy
// from it (the last line changes), so there is one implementation.

/** Base class of every CRA error: a stable `code`, a JSON `pointer` for input errors, `details`. */
class CraError extends Error {
  constructor(message, { code = 'INTERNAL', pointer, details, answer } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.pointer = pointer;
    this.details = details || [];
    if (answer !== undefined) this.answer = answer;
  }
}
/** INVALID_REQUEST, INVALID_CONFIG, LIMIT_EXCEEDED: malformed or oversized input (bad JSON, unknown field, wrong type, a documented bound). */
class CraInvalidRequestError extends CraError {}
/** INVALID_PARAMETERS: execute parameters do not match the action's schema. */
class CraInvalidParametersError extends CraInvalidRequestError {}
/** INVALID_ATLAS, ATLAS_NOT_FOUND, ATLAS_ALREADY_LOADED, ATLAS_CONFLICT. */
class CraAtlasError extends CraError {}
/** RESOLUTION_NOT_FOUND, RESOLUTION_EXPIRED. */
class CraResolutionError extends CraError {}
/** ACTION_NOT_ALLOWED, RATE_LIMIT_EXCEEDED: the call may not run (`answer` holds the execute answer). */
class CraActionDeniedError extends CraError {}
/** APPROVAL_REQUIRED: the call waits for a human approval (`answer.approval_id`). */
class CraApprovalRequiredError extends CraError {}
/** APPROVAL_NOT_FOUND, APPROVAL_EXPIRED, APPROVAL_ALREADY_DECIDED, APPROVAL_FORBIDDEN. */
class CraApprovalError extends CraError {}
/** EXECUTION_NOT_FOUND, EXECUTION_ALREADY_REPORTED. */
class CraExecutionError extends CraError {}
/** SESSION_NOT_FOUND, SESSION_ENDED. */
class CraSessionError extends CraError {}
/** TRACE_CHAIN_INVALID. */
class CraTraceError extends CraError {}
/** IO_ERROR, TIMEOUT, CLOSED, RESOLVER_FORKED, TRACE_FILE_LOCKED: the host environment (files, time, lifecycle). */
class CraRuntimeError extends CraError {}
/** INTERNAL: a bug in CRA, including a caught panic. */
class CraInternalError extends CraError {}

const ERROR_CLASSES = {
  INVALID_REQUEST: CraInvalidRequestError,
  INVALID_CONFIG: CraInvalidRequestError,
  LIMIT_EXCEEDED: CraInvalidRequestError,
  INVALID_PARAMETERS: CraInvalidParametersError,
  INVALID_ATLAS: CraAtlasError,
  ATLAS_NOT_FOUND: CraAtlasError,
  ATLAS_ALREADY_LOADED: CraAtlasError,
  ATLAS_CONFLICT: CraAtlasError,
  RESOLUTION_NOT_FOUND: CraResolutionError,
  RESOLUTION_EXPIRED: CraResolutionError,
  ACTION_NOT_ALLOWED: CraActionDeniedError,
  RATE_LIMIT_EXCEEDED: CraActionDeniedError,
  APPROVAL_REQUIRED: CraApprovalRequiredError,
  APPROVAL_NOT_FOUND: CraApprovalError,
  APPROVAL_EXPIRED: CraApprovalError,
  APPROVAL_ALREADY_DECIDED: CraApprovalError,
  APPROVAL_FORBIDDEN: CraApprovalError,
  EXECUTION_NOT_FOUND: CraExecutionError,
  EXECUTION_ALREADY_REPORTED: CraExecutionError,
  SESSION_NOT_FOUND: CraSessionError,
  SESSION_ENDED: CraSessionError,
  TRACE_CHAIN_INVALID: CraTraceError,
  IO_ERROR: CraRuntimeError,
  TIMEOUT: CraRuntimeError,
  CLOSED: CraRuntimeError,
  RESOLVER_FORKED: CraRuntimeError,
  TRACE_FILE_LOCKED: CraRuntimeError,
  INTERNAL: CraInternalError,
};

/** Builds the error for an envelope `{code, message, pointer?, details?}`. */
function errorFromEnvelope(env, extra) {
  const Cls = ERROR_CLASSES[env.code] || CraError;
  return new Cls(env.message || env.code, { code: env.code, pointer: env.pointer, details: env.details, ...extra });
}

/** Maps whatever the raw binding threw to a CraError (the message of a CRA error is its envelope). */
function mapError(e, onTrap) {
  if (e instanceof CraError) return e;
  const msg = e && typeof e.message === 'string' ? e.message : typeof e === 'string' ? e : '';
  if (msg.startsWith('{"code":')) {
    try {
      return errorFromEnvelope(JSON.parse(msg));
    } catch (_) {
      /* fall through */
    }
  }
  // A WebAssembly trap (a Rust panic in the WASM build): the instance may be inconsistent.
  if (typeof WebAssembly !== 'undefined' && WebAssembly.RuntimeError && e instanceof WebAssembly.RuntimeError) {
    if (onTrap) onTrap();
    const err = new CraInternalError(`internal panic (WebAssembly trap: ${msg}); this instance is unusable`, { code: 'INTERNAL' });
    err.cause = e;
    return err;
  }
  // Argument conversion errors from the binding layer (e.g. a number where text is expected).
  if (e instanceof TypeError) {
    const err = new CraInvalidRequestError(msg, { code: 'INVALID_REQUEST', pointer: '' });
    err.cause = e;
    return err;
  }
  const err = new CraInternalError(msg || String(e), { code: 'INTERNAL' });
  err.cause = e;
  return err;
}

/** Stands in for a freed resolver's handle: every call throws CLOSED. */
const FREED = new Proxy(
  {},
  {
    get: () => () => {
      throw new CraRuntimeError('this resolver was freed', { code: 'CLOSED' });
    },
  },
);

/** Objects become JSON text; strings pass through unchanged (already JSON). */
function toText(v, what) {
  if (typeof v === 'string') return v;
  if (v === undefined) throw new CraInvalidRequestError(`${what} is missing`, { code: 'INVALID_REQUEST', pointer: '' });
  return JSON.stringify(v);
}

/**
 * Builds the public API over a raw binding.
 * @param raw `{NativeResolver, verifyTrace, replay, versions, verifyTraceFile?}`
 * @param opts `{binding: 'native' | 'wasm'}`
 */
function makeApi(raw, opts = {}) {
  let trapped = false;
  const onTrap = () => {
    trapped = true;
  };
  const live = () => {
    if (trapped) {
      throw new CraInternalError('the WebAssembly instance trapped earlier (internal panic); load the module again', { code: 'INTERNAL' });
    }
  };

  /** A CRA resolver: load atlases, resolve requests, authorize tool calls, record the trace. */
  class Resolver {
    /** @param config resolver configuration (object or JSON text; default `{}`) */
    constructor(config = {}) {
      live();
      try {
        this._raw = new raw.NativeResolver(toText(config, 'the configuration'));
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    _call(method, arg, what) {
      live();
      const text = toText(arg, what);
      let out;
      try {
        out = this._raw[method](text);
      } catch (e) {
        throw mapError(e, onTrap);
      }
      return JSON.parse(out);
    }
    /** Loads (or replaces) an atlas from an object or JSON text. */
    loadAtlas(atlas) {
      return this._call('loadAtlas', atlas, 'the atlas');
    }
    /** Loads an atlas from a directory holding `atlas.json` (native and WASM-in-Node only). */
    loadAtlasDir(path) {
      return this._call('loadAtlasDir', String(path), 'the path');
    }
    /** Unloads an atlas by id. */
    unloadAtlas(atlasId) {
      return this._call('unloadAtlas', String(atlasId), 'the atlas id');
    }
    /** Resolves a CARP request: which actions and context the agent gets. */
    resolve(request) {
      live();
      const text = typeof request === 'string' ? request : JSON.stringify(request);
      let out;
      try {
        out = this._raw.resolve(text);
      } catch (e) {
        throw mapError(e, onTrap);
      }
      return JSON.parse(out);
    }
    /** Authorizes one tool call (`operation` may be omitted). Returns the answer; see `governed` for a throwing helper. */
    execute(request) {
      return this._call('execute', request, 'the request');
    }
    /** Reports a tool's outcome (`{execution_id, result}` or `{execution_id, error: {message}}`). */
    report(report) {
      return this._call('report', report, 'the report');
    }
    /** Approves a pending approval (`{approval_id, approver?, reason?}`). */
    approve(decision) {
      return this._call('approve', decision, 'the decision');
    }
    /** Rejects a pending approval. */
    reject(decision) {
      return this._call('reject', decision, 'the decision');
    }
    /** Ends a session: a session id, or `{session_id, reason?}`. */
    endSession(session, reason) {
      const body =
        typeof session === 'string' && !session.trimStart().startsWith('{')
          ? reason === undefined
            ? { session_id: session }
            : { session_id: session, reason }
          : session;
      return this._call('endSession', body, 'the body');
    }
    /** The fast path: may `sessionId` run `actionId` now? */
    check(sessionId, actionId) {
      live();
      try {
        return this._raw.check(String(sessionId), String(actionId));
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Resolves once every event recorded so far is in the trace sink. */
    async flush(timeoutMs = 10000) {
      live();
      try {
        await this._raw.flush(timeoutMs >>> 0);
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Takes the JSONL text of the memory sink's events not yet drained. */
    drainTrace() {
      live();
      try {
        return this._raw.drainTrace();
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Like `drainTrace`, parsed into event objects. */
    drainEvents() {
      const text = this.drainTrace();
      const out = [];
      for (const line of text.split('\n')) if (line) out.push(JSON.parse(line));
      return out;
    }
    /** Counters and sizes. */
    stats() {
      live();
      try {
        return JSON.parse(this._raw.stats());
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Moves a deterministic resolver's clock forward by `micros` microseconds. */
    advanceClock(micros) {
      live();
      try {
        this._raw.advanceClock(Number(micros));
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Releases the resolver's memory now (WASM; the native addon leaves it to the GC). Idempotent. */
    free() {
      if (this._raw !== FREED && typeof this._raw.free === 'function' && !trapped) this._raw.free();
      this._raw = FREED;
    }
    /** Flushes and stops the trace collector; later events are counted as dropped. */
    close() {
      live();
      try {
        this._raw.close();
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
  }

  /** Verifies JSONL trace text (string or bytes); a broken chain is `ok: false`, not an error. */
  function verifyTrace(trace) {
    live();
    const text = typeof trace === 'string' ? trace : new TextDecoder().decode(trace);
    try {
      return JSON.parse(raw.verifyTrace(text));
    } catch (e) {
      throw mapError(e, onTrap);
    }
  }

  /** Verifies a JSONL trace file (native only). */
  function verifyTraceFile(path) {
    live();
    if (!raw.verifyTraceFile) {
      throw new CraRuntimeError('verifyTraceFile is not available in this build', { code: 'IO_ERROR' });
    }
    try {
      return JSON.parse(raw.verifyTraceFile(String(path)));
    } catch (e) {
      throw mapError(e, onTrap);
    }
  }

  /** Replays a trace against atlases (an array of atlas objects, or its JSON text). */
  function replay(trace, atlases) {
    live();
    const text = typeof trace === 'string' ? trace : new TextDecoder().decode(trace);
    try {
      return JSON.parse(raw.replay(text, toText(atlases, 'the atlases')));
    } catch (e) {
      throw mapError(e, onTrap);
    }
  }

  /** Versions of the engine and of this binding. */
  function versions() {
    return JSON.parse(raw.versions());
  }

  /**
   * Runs `fn` only if CRA authorizes the call, then reports its result (or thrown error).
   * `ctx` is `{session, agent, resolutionId}` (plus optional `parameters`, `requestId`).
   * Throws CraActionDeniedError (denied) or CraApprovalRequiredError (pending approval) without
   * running `fn`. Returns what `fn` returns (awaited when it is a promise); rethrows its error.
   */
  async function governed(resolver, ctx, actionId, fn) {
    const request = {
      requester: { agent_id: ctx.agent, session_id: ctx.session },
      execution: { resolution_id: ctx.resolutionId, action_id: actionId, parameters: ctx.parameters || {} },
    };
    if (ctx.requestId) request.request_id = ctx.requestId;
    const answer = resolver.execute(request);
    if (answer.status === 'pending_approval') {
      throw new CraApprovalRequiredError(`action ${actionId} waits for approval ${answer.approval_id}`, {
        code: 'APPROVAL_REQUIRED',
        answer,
      });
    }
    if (answer.status !== 'authorized') {
      const code = answer.reason_code === 'rate_limit_exceeded' ? 'RATE_LIMIT_EXCEEDED' : 'ACTION_NOT_ALLOWED';
      throw new CraActionDeniedError(answer.reason || `action ${actionId} is not allowed (${answer.reason_code})`, { code, answer });
    }
    const started = Date.now();
    let result;
    try {
      result = await fn(ctx.parameters || {}, answer);
    } catch (err) {
      const message = err && err.message ? String(err.message) : String(err);
      const error = { message };
      if (err && (err.code || err.name)) error.code = String(err.code || err.name);
      resolver.report({ execution_id: answer.execution_id, error, duration_ms: Date.now() - started });
      throw err;
    }
    resolver.report({ execution_id: answer.execution_id, result: result === undefined ? null : result, duration_ms: Date.now() - started });
    return result;
  }

  return {
    Resolver,
    verifyTrace,
    verifyTraceFile,
    replay,
    versions,
    governed,
    binding: opts.binding || 'native',
    /** Internal: maps a raw error as the API does (marks the instance unusable after a trap). */
    _mapError: (e) => mapError(e, onTrap),
  };
}

const errors = {
  CraError,
  CraInvalidRequestError,
  CraInvalidParametersError,
  CraAtlasError,
  CraResolutionError,
  CraActionDeniedError,
  CraApprovalRequiredError,
  CraApprovalError,
  CraExecutionError,
  CraSessionError,
  CraTraceError,
  CraRuntimeError,
  CraInternalError,
  ERROR_CLASSES,
};

module.exports = { makeApi, errors, mapError };
