// The JavaScript API of CRA, shared by the native addon (@cra/node) and the WebAssembly build
// (@cra/wasm): both give `makeApi` a raw binding with the same shape (a `NativeResolver` class
// whose methods take and return JSON text, plus `verifyTrace`, `replay`, `versions`), and get
// back the idiomatic API: objects in, plain objects out (each answer parsed once), errors as
// `CraError` subclasses. One ES module, used as is by both: @cra/node loads it with `require()`
// (require of an ES module: Node ^20.19 || >=22.12), and the WASM build ships this file byte for
// byte as its `api.js` (bindings/wasm/build.sh; bindings/js-tests/test/module.test.mjs checks).
// So it must stay synchronous (no top-level await) and use no Node-only globals.

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
// Errors: one class per family of conformance/errors.json (the one error table, generated from
// core/src/error.rs; docs/errors.md). ERROR_CLASSES below maps every code to a class of its
// family; bindings/js-tests/test/errors.test.mjs checks both against the table.
/** Family `request`: INVALID_REQUEST, INVALID_CONFIG, LIMIT_EXCEEDED, INVALID_PARAMETERS: malformed or oversized input (bad JSON, unknown field, wrong type, a documented bound). Also exported as CraRequestError. */
class CraInvalidRequestError extends CraError {}
/** INVALID_PARAMETERS: execute parameters do not match the action's schema. */
class CraInvalidParametersError extends CraInvalidRequestError {}
/** INVALID_ATLAS, ATLAS_NOT_FOUND, ATLAS_ALREADY_LOADED, ATLAS_CONFLICT. */
class CraAtlasError extends CraError {}
/** RESOLUTION_NOT_FOUND, RESOLUTION_EXPIRED. */
class CraResolutionError extends CraError {}
/** Family `action`: governance refused the call for now (CraActionDeniedError, CraApprovalRequiredError). */
class CraActionError extends CraError {}
/** ACTION_NOT_ALLOWED, RATE_LIMIT_EXCEEDED: the call may not run (`answer` holds the execute answer). */
class CraActionDeniedError extends CraActionError {}
/** APPROVAL_REQUIRED: the call waits for a human approval (`answer.approval_id`). */
class CraApprovalRequiredError extends CraActionError {}
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

/** The class of each family; each instance's `family` names its family. */
const FAMILY_CLASSES = {
  request: CraInvalidRequestError,
  atlas: CraAtlasError,
  resolution: CraResolutionError,
  action: CraActionError,
  approval: CraApprovalError,
  execution: CraExecutionError,
  session: CraSessionError,
  trace: CraTraceError,
  runtime: CraRuntimeError,
  internal: CraInternalError,
};
Object.defineProperty(CraError.prototype, 'family', { value: undefined, writable: true, configurable: true });
for (const [family, Cls] of Object.entries(FAMILY_CLASSES)) {
  Object.defineProperty(Cls.prototype, 'family', { value: family, writable: true, configurable: true });
}

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

// --- Bounds (docs/node.md, "Limits") ---------------------------------------------------------
/** Largest resolve / execute request, UTF-8 bytes (the core's bound; checked here first, so an oversized request never crosses into the engine). */
const MAX_REQUEST_BYTES = 1 << 20;
/** Largest atlas document, UTF-8 bytes (the core's bound). */
const MAX_ATLAS_BYTES = 16 << 20;
/** Default size of one `drainTrace` chunk, bytes. */
const DEFAULT_DRAIN_BYTES = 8 << 20;
/** Largest `drainTrace` chunk, bytes: well under V8's longest string (2^29 - 24 UTF-16 units). */
const MAX_DRAIN_BYTES = 256 << 20;
/** Longest flush wait, ms (`setTimeout`'s bound, about 24.8 days); larger values, Infinity included, are clamped. */
const MAX_FLUSH_MS = 2147483647;
/** Default wait of `drainTrace` for the events recorded so far (native; WASM never waits). */
const DEFAULT_DRAIN_FLUSH_MS = 1000;
/** Longest echo of a value in an error message made here, characters. */
const MAX_ECHO = 200;

/** Builds the error for an envelope `{code, message, pointer?, details?}`. */
function errorFromEnvelope(env, extra) {
  const Cls = ERROR_CLASSES[env.code] || CraError;
  return new Cls(env.message || env.code, { code: env.code, pointer: env.pointer, details: env.details, ...extra });
}

/** A CraError of `code`, made in this layer. */
function fail(code, message, pointer = '', details) {
  const Cls = ERROR_CLASSES[code] || CraError;
  return new Cls(message, { code, pointer, details });
}

/** A value for an error message: at most MAX_ECHO characters. */
function echo(v) {
  let s;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : String(v);
  } catch (_) {
    s = Object.prototype.toString.call(v);
  }
  return s.length > MAX_ECHO ? `${s.slice(0, MAX_ECHO)}… (${s.length - MAX_ECHO} more characters)` : s;
}

// napi-rs statuses for a JS value of the wrong type (argument conversion in the addon).
const NAPI_TYPE_ERRORS = new Set(['InvalidArg', 'ObjectExpected', 'StringExpected', 'NameExpected', 'FunctionExpected', 'NumberExpected', 'BooleanExpected', 'ArrayExpected', 'BigintExpected']);

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
    const err = new CraInternalError(`internal panic (WebAssembly trap: ${msg}); this instance is unusable: call recover() to instantiate the module again`, { code: 'INTERNAL' });
    err.trap = true;
    err.cause = e;
    return err;
  }
  // Argument conversion errors from the binding layer (e.g. a number where text is expected).
  if (e instanceof TypeError || (e && NAPI_TYPE_ERRORS.has(e.code))) {
    const err = new CraInvalidRequestError(msg.slice(0, 4 * MAX_ECHO), { code: 'INVALID_REQUEST', pointer: '' });
    err.cause = e;
    return err;
  }
  const err = new CraInternalError((msg || String(e)).slice(0, 10 * MAX_ECHO), { code: 'INTERNAL' });
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

// --- Text checks: size, lone surrogates ----------------------------------------------------

/** UTF-8 length of a string (lone surrogates count 3, as U+FFFD would). */
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const LONE_RAW = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_ESCAPE = /(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\)(?:\\\\)*(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/;

/** True when `s` has a lone surrogate (a string with no UTF-8 form). */
function hasLoneSurrogate(s) {
  return typeof s.isWellFormed === 'function' ? !s.isWellFormed() : LONE_RAW.test(s);
}

/** The index of the first lone surrogate of JSON text, raw or as a `\uXXXX` escape; -1 if none. */
function loneSurrogateAt(text) {
  if (hasLoneSurrogate(text)) return text.search(LONE_RAW);
  if (!text.includes('\\u')) return -1;
  const m = LONE_ESCAPE.exec(text);
  return m ? m.index + m[0].lastIndexOf('\\u') : -1;
}

/** The RFC 6901 pointer of the value (or member name) holding `target` in JSON text ('' when unknown). */
function pointerAt(text, target) {
  const stack = [];
  const token = (s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');
  const path = (frames = stack) => frames.map((f) => `/${token(f.type === 'o' ? f.key : f.index)}`).join('');
  for (let i = 0; i < text.length && i <= target; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      let name;
      if (top && top.type === 'o' && top.expectKey) {
        try {
          name = JSON.parse(text.slice(i, j + 1));
        } catch (_) {
          name = text.slice(i + 1, j);
        }
        if (typeof name.toWellFormed === 'function') name = name.toWellFormed();
      }
      if (target <= j) return name === undefined ? path() : `${path(stack.slice(0, -1))}/${token(name)}`;
      if (name !== undefined) {
        top.key = name;
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ type: 'o', key: '', expectKey: true });
    else if (c === '[') stack.push({ type: 'a', index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top && top.type === 'o') top.expectKey = true;
      else if (top) top.index++;
    }
  }
  return '';
}

// What each kind of input is called and how it fails: [name, code for a lone surrogate, byte bound or 0].
const KINDS = {
  config: ['the configuration', 'INVALID_CONFIG', 0],
  atlas: ['the atlas', 'INVALID_ATLAS', MAX_ATLAS_BYTES],
  request: ['the request', 'INVALID_REQUEST', MAX_REQUEST_BYTES],
  report: ['the report', 'INVALID_REQUEST', 0],
  decision: ['the decision', 'INVALID_REQUEST', 0],
  body: ['the body', 'INVALID_REQUEST', 0],
  filter: ['the filter', 'INVALID_REQUEST', 0],
  options: ['the options', 'INVALID_REQUEST', 0],
  atlases: ['the atlases', 'INVALID_REQUEST', 0],
  // An atlas and its context files (16 MiB and 64 MiB in the engine), as JSON text.
  files: ['the files', 'INVALID_REQUEST', MAX_ATLAS_BYTES * 5 + (1 << 20)],
};

/**
 * Objects become JSON text; strings pass through (already JSON). Refused here, before the
 * engine: values with no JSON text (undefined, functions, symbols, BigInt, cycles) as
 * INVALID_REQUEST; text over the kind's byte bound as LIMIT_EXCEEDED (so an oversized request
 * never crosses into the engine); a lone surrogate, raw or escaped, with the pointer of its
 * string (it has no UTF-8 form, so it can be neither kept nor rewritten faithfully).
 */
function toText(v, kind) {
  const [what, loneCode, limit] = KINDS[kind];
  let text = v;
  if (typeof v !== 'string') {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') {
      throw fail('INVALID_REQUEST', `${what} is ${v === undefined ? 'missing (undefined)' : `a ${typeof v}`}; pass an object or JSON text`);
    }
    try {
      text = JSON.stringify(v);
    } catch (e) {
      throw fail('INVALID_REQUEST', `${what} has no JSON form: ${echo(e && e.message)}`);
    }
    if (text === undefined) throw fail('INVALID_REQUEST', `${what} has no JSON form`);
  }
  if (limit && text.length > limit) {
    const n = utf8Length(text);
    throw fail('LIMIT_EXCEEDED', `${kind === 'atlas' ? 'atlas is' : kind === 'files' ? 'the atlas files are' : 'request is'} ${n} bytes; the limit is ${limit}`);
  }
  const at = loneSurrogateAt(text);
  if (at !== -1) {
    const pointer = pointerAt(text, at);
    const message = `${what} holds a lone surrogate (an unpaired UTF-16 code unit) in the string at ${pointer || '/'}: it has no UTF-8 form`;
    if (loneCode === 'INVALID_ATLAS') throw fail(loneCode, 'invalid atlas', '', [{ code: 'invalid_json_value', message, pointer }]);
    throw fail(loneCode, message, pointer);
  }
  return text;
}

/** A string argument, or INVALID_REQUEST. */
function str(v, what) {
  if (typeof v !== 'string') throw fail('INVALID_REQUEST', `${what} must be a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

/**
 * An id argument (action id, atlas id): a string with a UTF-8 form, or INVALID_REQUEST at
 * `pointer` (a lone surrogate would reach the engine as U+FFFD and name another id).
 */
function idArg(v, what, pointer) {
  if (typeof v !== 'string') throw fail('INVALID_REQUEST', `${what} must be a string, got ${v === null ? 'null' : typeof v}`, pointer);
  if (hasLoneSurrogate(v)) {
    throw fail('INVALID_REQUEST', `${what} holds a lone surrogate (an unpaired UTF-16 code unit) at index ${v.search(LONE_RAW)}: it has no UTF-8 form`, pointer);
  }
  return v;
}

/** A duration in ms for flush: NaN, negatives and non-numbers are refused; Infinity is clamped. */
function millis(v, what) {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
    throw fail('INVALID_REQUEST', `${what} must be a number of milliseconds ≥ 0 (Infinity means ${MAX_FLUSH_MS}), got ${echo(v)}`);
  }
  return Math.min(Math.ceil(v), MAX_FLUSH_MS);
}

/** A positive count, Infinity allowed, clamped to `max`. */
function count(v, what, max) {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 1) throw fail('INVALID_REQUEST', `${what} must be a number ≥ 1, got ${echo(v)}`);
  return Math.min(Math.floor(v), max);
}

/** `drainTrace` options → [maxBytes, maxEvents, flushTimeoutMs]. */
function drainOptions(o) {
  if (o === undefined) return [DEFAULT_DRAIN_BYTES, Number.MAX_SAFE_INTEGER, DEFAULT_DRAIN_FLUSH_MS];
  if (o === null || typeof o !== 'object') throw fail('INVALID_REQUEST', `drainTrace options must be an object, got ${echo(o)}`);
  for (const k of Object.keys(o)) {
    if (k !== 'maxBytes' && k !== 'maxEvents' && k !== 'flushTimeoutMs') throw fail('INVALID_REQUEST', `unknown drainTrace option ${echo(k)}`, `/${k}`);
  }
  return [
    o.maxBytes === undefined ? DEFAULT_DRAIN_BYTES : count(o.maxBytes, 'maxBytes', MAX_DRAIN_BYTES),
    o.maxEvents === undefined ? Number.MAX_SAFE_INTEGER : count(o.maxEvents, 'maxEvents', Number.MAX_SAFE_INTEGER),
    o.flushTimeoutMs === undefined ? DEFAULT_DRAIN_FLUSH_MS : millis(o.flushTimeoutMs, 'flushTimeoutMs'),
  ];
}

/** Trace bytes as a Uint8Array view (no copy); INVALID_REQUEST for anything else. */
function bytesOf(v, what) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw fail('INVALID_REQUEST', `${what} must be a string or bytes (Uint8Array, ArrayBuffer), got ${v === null ? 'null' : typeof v}`);
}

/** Trace text that can be passed on as its UTF-8 bytes (no lone surrogate). */
function traceText(s) {
  if (hasLoneSurrogate(s)) {
    throw fail('INVALID_REQUEST', `the trace text holds a lone surrogate at index ${s.search(LONE_RAW)}: it has no UTF-8 bytes to verify; pass the bytes instead`);
  }
  return s;
}

/** `approve(id, {approver, reason?})` or `approve({approval_id, approver, reason?})` → the body. */
function decisionBody(decision, options, verb) {
  if (typeof decision === 'string' && !decision.trimStart().startsWith('{')) {
    if (options === null || typeof options !== 'object') {
      throw fail('INVALID_REQUEST', `${verb}(approvalId, options) needs options with the approver: ${verb}(id, { approver: 'alice@example.com' })`, '/approver');
    }
    return { approval_id: decision, ...options };
  }
  if (options !== undefined) throw fail('INVALID_REQUEST', `${verb}(decision) takes one argument when the decision is an object or JSON text`);
  return decision;
}

/**
 * Builds the public API over a raw binding.
 * @param raw `{NativeResolver, verifyTrace, verifyTraceBytes, replay, replayBytes, versions, verifyTraceFile?}`
 * @param opts `{binding: 'native' | 'wasm', reinstantiate?: () => void}` — `reinstantiate`
 *   (WASM) makes a new instance of the module after a trap; every resolver made before becomes
 *   unusable.
 */
function makeApi(raw, opts = {}) {
  let trapped = false;
  let epoch = 0;
  const onTrap = () => {
    trapped = true;
  };
  const live = () => {
    if (trapped) {
      const err = new CraInternalError('the WebAssembly instance trapped earlier (internal panic); call recover() to instantiate the module again', { code: 'INTERNAL' });
      err.trap = true;
      throw err;
    }
  };

  /** A CRA resolver: load atlases, resolve requests, authorize tool calls, record the trace. */
  class Resolver {
    /** @param config resolver configuration (object or JSON text; default `{}`) */
    constructor(config = {}) {
      live();
      const text = toText(config, 'config');
      try {
        this._raw = new raw.NativeResolver(text);
      } catch (e) {
        throw mapError(e, onTrap);
      }
      this._epoch = epoch;
    }
    /** The raw handle, once the instance is known to be usable. */
    _r() {
      live();
      if (this._epoch !== epoch && this._raw !== FREED) {
        throw new CraRuntimeError('this resolver belongs to a WebAssembly instance that recover() replaced; create a new one', { code: 'CLOSED' });
      }
      return this._raw;
    }
    /** `r[method](...args)`, its failure turned into the CraError it stands for (the
     * less frequent methods; resolve, execute and check call the handle directly). */
    _invoke(r, method, ...args) {
      try {
        return r[method](...args);
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** A raw method taking one object or JSON text (`kind` names it in errors); the answer parsed. */
    _call(method, arg, kind) {
      const r = this._r();
      const text = toText(arg, kind);
      let out;
      try {
        out = r[method](text);
      } catch (e) {
        throw mapError(e, onTrap);
      }
      return JSON.parse(out);
    }
    /** Loads (or replaces) an atlas from an object or JSON text. */
    loadAtlas(atlas) {
      return this._call('loadAtlas', atlas, 'atlas');
    }
    /** Loads an atlas from a directory holding `atlas.json` (native only). */
    loadAtlasDir(path) {
      const r = this._r();
      str(path, 'the path');
      return JSON.parse(this._invoke(r, 'loadAtlasDir', path));
    }
    /**
     * Loads an atlas directory given as its files' text keyed by path (WASM; see readAtlasDir in
     * @cra/wasm/bundle-atlas). The native addon reads directories itself: loadAtlasDir.
     */
    loadAtlasFiles(files) {
      if (typeof this._r().loadAtlasFiles !== 'function') {
        throw new CraRuntimeError('loadAtlasFiles is a WASM method; the native addon reads the directory: use loadAtlasDir', { code: 'IO_ERROR' });
      }
      return this._call('loadAtlasFiles', files, 'files');
    }
    /** Unloads an atlas by id. */
    unloadAtlas(atlasId) {
      const r = this._r();
      str(atlasId, 'the atlas id');
      return JSON.parse(this._invoke(r, 'unloadAtlas', atlasId));
    }
    /**
     * Loads (or replaces) a candidate atlas as the shadow of the live atlas with the same
     * `atlas_id` (ATLAS_NOT_FOUND at `/atlas_id` without one): every resolve and execute is then
     * also judged by it, the live verdict is enforced, and each difference is a
     * `policy.shadow_diff` trace event (docs/protocol.md §4).
     */
    loadShadow(atlas) {
      return this._call('loadShadow', atlas, 'atlas');
    }
    /** Loads a shadow atlas from a directory holding `atlas.json` (native only; WASM: IO_ERROR). */
    loadShadowDir(path) {
      const r = this._r();
      str(path, 'the path');
      if (typeof r.loadShadowDir !== 'function') {
        // The WASM build has no file system and does not export it (module size).
        throw new CraRuntimeError('loadShadowDir is not available in this build (no file system): pass the atlas to loadShadow (see @cra/wasm/bundle-atlas)', { code: 'IO_ERROR' });
      }
      return JSON.parse(this._invoke(r, 'loadShadowDir', path));
    }
    /** Unloads the shadow of an atlas (ATLAS_NOT_FOUND at `/atlas_id` when it has none). */
    unloadShadow(atlasId) {
      const r = this._r();
      idArg(atlasId, 'the atlas id', '/atlas_id');
      return JSON.parse(this._invoke(r, 'unloadShadow', atlasId));
    }
    /**
     * Why `actionId` gets its verdict for a resolve request: every policy of its atlas in ladder
     * order, each condition with what it saw, which policy decided. Records and consumes nothing.
     */
    explain(request, actionId) {
      const r = this._r();
      const text = toText(request, 'request');
      idArg(actionId, 'the action id', '/action_id');
      return JSON.parse(this._invoke(r, 'explain', text, actionId));
    }
    /** Resolves a CARP request: which actions and context the agent gets. */
    resolve(request) {
      return this._call('resolve', request, 'request');
    }
    /** Authorizes one tool call (`operation` may be omitted). Returns the answer; see `governed` for a throwing helper. */
    execute(request) {
      return this._call('execute', request, 'request');
    }
    /** Reports a tool's outcome (`{execution_id, result}` or `{execution_id, error: {message}}`). */
    report(report) {
      return this._call('report', report, 'report');
    }
    /** Approves a pending approval: `approve(id, {approver, reason?})` or `approve({approval_id, approver, reason?})`. */
    approve(decision, options) {
      return this._call('approve', decisionBody(decision, options, 'approve'), 'decision');
    }
    /** Rejects a pending approval (same arguments as `approve`). */
    reject(decision, options) {
      return this._call('reject', decisionBody(decision, options, 'reject'), 'decision');
    }
    /** The approvals a filter selects (`{session_id?, status?: [...]}`; default: every pending one). */
    listApprovals(filter) {
      return this._call('listApprovals', filter === undefined ? '' : filter, 'filter');
    }
    /** Ends a session: a session id, or `{session_id, reason?}`. */
    endSession(session, reason) {
      if (reason !== undefined) str(reason, 'the reason');
      const body =
        typeof session === 'string' && !session.trimStart().startsWith('{')
          ? reason === undefined
            ? { session_id: session }
            : { session_id: session, reason }
          : session;
      return this._call('endSession', body, 'body');
    }
    /** The fast path: may `sessionId` run `actionId` now? */
    check(sessionId, actionId) {
      const r = this._r();
      str(sessionId, 'the session id');
      str(actionId, 'the action id');
      try {
        return r.check(sessionId, actionId);
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Resolves once every event recorded so far is in the trace sink (waits at most `timeoutMs`). */
    async flush(timeoutMs = 10000) {
      const r = this._r();
      const ms = millis(timeoutMs, 'the flush timeout');
      try {
        await r.flush(ms);
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /**
     * Takes a chunk of the memory sink's events: JSONL text of whole lines, at most `maxBytes`
     * (default 8 MiB, at most 256 MiB; one event at least) and `maxEvents`; `''` when nothing
     * is left. Events leave the sink only once the string exists. Call it until it returns `''`
     * to take everything; chunks concatenate into one verifiable trace.
     */
    drainTrace(options) {
      const r = this._r();
      const [maxBytes, maxEvents, flushMs] = drainOptions(options);
      try {
        const text = r.drainChunk(maxBytes, maxEvents, flushMs);
        // The string exists: now the events may leave the sink.
        r.drainCommit();
        return text;
      } catch (e) {
        throw mapError(e, onTrap);
      }
    }
    /** Like `drainTrace`, parsed into event objects. */
    drainEvents(options) {
      const text = this.drainTrace(options);
      const out = [];
      for (const line of text.split('\n')) if (line) out.push(JSON.parse(line));
      return out;
    }
    /** Counters and sizes (`memory`: what the trace buffers hold; WASM: the instance's linear memory). */
    stats() {
      const r = this._r();
      return JSON.parse(this._invoke(r, 'stats'));
    }
    /** Moves a deterministic resolver's clock forward by `micros` microseconds. */
    advanceClock(micros) {
      const r = this._r();
      if (typeof micros !== 'number' || !Number.isFinite(micros)) throw fail('INVALID_REQUEST', `micros must be a finite number, got ${echo(micros)}`);
      this._invoke(r, 'advanceClock', micros);
    }
    /**
     * Releases the resolver now: its trace thread (native) ends and its memory is freed. Events
     * not yet drained go with it: drain first. Idempotent; later calls throw CLOSED.
     */
    free() {
      const r = this._raw;
      this._raw = FREED;
      // A resolver of a replaced or trapped instance has nothing left to free.
      if (r === FREED || r === undefined || this._epoch !== epoch || trapped) return;
      if (typeof r.free === 'function') r.free();
    }
    /** Flushes and stops the trace collector (its thread ends now); later events are counted as dropped. */
    close() {
      const r = this._r();
      this._invoke(r, 'close');
    }
  }
  if (typeof Symbol === 'function' && typeof Symbol.dispose === 'symbol') {
    /** `using r = new Resolver()` frees it at the end of the block. */
    Resolver.prototype[Symbol.dispose] = function dispose() {
      this.free();
    };
  }

  /** Verify options (object or JSON text) → text; `''` for the defaults. */
  const optionsText = (o) => (o === undefined ? '' : toText(o, 'options'));

  /**
   * Verifies a JSONL trace given as text or bytes: bytes are verified as they are (no
   * decoding), text as its UTF-8 bytes, so the same bytes get the same verdict as from
   * `verifyTraceFile`. A broken chain is `ok: false`, not an error.
   */
  function verifyTrace(trace, options) {
    live();
    const opts = optionsText(options);
    try {
      if (typeof trace === 'string') return JSON.parse(raw.verifyTrace(traceText(trace), opts));
      return JSON.parse(raw.verifyTraceBytes(bytesOf(trace, 'the trace'), opts));
    } catch (e) {
      throw mapError(e, onTrap);
    }
  }

  /** Verifies a JSONL trace file, streaming (native only). */
  function verifyTraceFile(path, options) {
    live();
    if (!raw.verifyTraceFile) {
      throw new CraRuntimeError('verifyTraceFile is not available in this build (no file system): read the file and pass its bytes to verifyTrace', { code: 'IO_ERROR' });
    }
    str(path, 'the path');
    const opts = optionsText(options);
    try {
      return JSON.parse(raw.verifyTraceFile(path, opts));
    } catch (e) {
      throw mapError(e, onTrap);
    }
  }

  /** Replays a trace (text or bytes) against atlases (an array of atlas objects, or its JSON text). */
  function replay(trace, atlases) {
    live();
    const list = toText(atlases, 'atlases');
    try {
      if (typeof trace === 'string') return JSON.parse(raw.replay(traceText(trace), list));
      return JSON.parse(raw.replayBytes(bytesOf(trace, 'the trace'), list));
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
    if (answer.status !== 'authorized') {
      // The core names each refusal's error code (answer.error_code: docs/protocol.md
      // "Execute"); its class comes from the one code -> class table.
      const code = answer.error_code || 'ACTION_NOT_ALLOWED';
      const Cls = ERROR_CLASSES[code] && ERROR_CLASSES[code].prototype instanceof CraActionError ? ERROR_CLASSES[code] : CraActionDeniedError;
      const message =
        answer.status === 'pending_approval'
          ? `action ${actionId} waits for approval ${answer.approval_id}`
          : answer.reason || `action ${actionId} is not allowed (${answer.reason_code})`;
      throw new Cls(message, { code, answer });
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

  const api = {
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
  if (opts.reinstantiate) {
    /**
     * After a trap: instantiates the WebAssembly module again (synchronously, from the module
     * already compiled). Resolvers made before are unusable (CLOSED); make new ones. Also
     * allowed without a trap (every resolver of the old instance is then dropped).
     */
    api.recover = function recover() {
      opts.reinstantiate();
      epoch++;
      trapped = false;
    };
  }
  return api;
}

const errors = {
  CraError,
  CraInvalidRequestError,
  CraRequestError: CraInvalidRequestError,
  CraActionError,
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
  FAMILY_CLASSES,
};

export { makeApi, errors, mapError };
