// @cra/wasm for bundlers (webpack, Vite with a wasm plugin, Node --experimental-wasm-modules):
// the bundler loads web/cra_wasm_bg.wasm through ES module integration; no init needed.
import * as raw from './cra_wasm.js';
import { makeApi, errors } from '../api.js';

/** Already initialized; kept so code written for the browser entry runs unchanged. */
export function init() {
  return Promise.resolve();
}
export default init;

/** The bundler instantiated the module; it cannot be instantiated again from here. */
function reinstantiate() {
  throw new errors.CraRuntimeError(
    'recover() is not available with the bundler entry (the bundler instantiates the module): reload the page or worker, or use @cra/wasm/web',
    { code: 'CLOSED' },
  );
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
