// @cra/wasm for bundlers (webpack, Vite with a wasm plugin, Node --experimental-wasm-modules):
// the bundler loads cra_wasm_bg.wasm through ES module integration; no init needed.
import * as raw from './cra_wasm.js';
import { makeApi, errors } from '../api.js';

/** Already initialized; kept so code written for the browser entry runs unchanged. */
export function init() {
  return Promise.resolve();
}
export default init;

const api = makeApi(raw, { binding: 'wasm' });
export const { Resolver, verifyTrace, verifyTraceFile, replay, versions, governed, binding } = api;
export const {
  CraError, CraInvalidRequestError, CraInvalidParametersError, CraAtlasError, CraResolutionError,
  CraActionDeniedError, CraApprovalRequiredError, CraApprovalError, CraExecutionError,
  CraSessionError, CraTraceError, CraRuntimeError, CraInternalError,
} = errors;
