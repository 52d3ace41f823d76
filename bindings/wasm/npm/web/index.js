// @cra/wasm for browsers (ES module): call `await init()` once before using the API.
// `init()` fetches cra_wasm_bg.wasm next to this file; pass a URL, Response, bytes or a
// WebAssembly.Module to load it from elsewhere.
import wasmInit, * as raw from './cra_wasm.js';
import { makeApi, errors } from '../api.js';

let ready;
/** Loads and instantiates the WebAssembly module (idempotent). */
export function init(input) {
  if (!ready) {
    ready = wasmInit(input === undefined ? undefined : { module_or_path: input }).then(() => undefined);
    ready.catch(() => {
      ready = undefined;
    });
  }
  return ready;
}
/** Instantiates synchronously from bytes or a WebAssembly.Module. */
export function initSync(module) {
  raw.initSync({ module });
  ready = Promise.resolve();
}
export default init;

/** A new instance of the module already compiled (after a trap; see recover()). */
function reinstantiate() {
  const module = raw.__cra_reset();
  if (!module) {
    throw new errors.CraRuntimeError('the module was never instantiated: call init() first', { code: 'CLOSED' });
  }
  raw.initSync({ module });
}

const api = makeApi(raw, { binding: 'wasm', reinstantiate });
export const { Resolver, verifyTrace, verifyTraceFile, replay, versions, governed, binding, recover } = api;
export const {
  CraError, CraInvalidRequestError, CraRequestError, CraActionError, CraInvalidParametersError, CraAtlasError, CraResolutionError,
  CraActionDeniedError, CraApprovalRequiredError, CraApprovalError, CraExecutionError,
  CraSessionError, CraTraceError, CraRuntimeError, CraInternalError,
} = errors;
/** Drains a resolver's trace and POSTs it to an ingest service with fetch (docs/wasm.md). */
export { TraceShipper } from '../ship.js';
/** Test-only: present when the module was built with the `testing` feature. */
export const _testingPanic = raw.testingPanic ? () => { try { raw.testingPanic(); } catch (e) { throw api._mapError(e); } } : undefined;
