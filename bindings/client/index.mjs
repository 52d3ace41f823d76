// @cra/client for Node, ES module (`import ... from '@cra/client'`): the native addon when a
// prebuilt binary exists for this platform, else the WebAssembly build (instantiated at import).
// CRA_BINDING=wasm forces WASM, CRA_BINDING=native fails instead of falling back.
import { createRequire } from 'node:module';

const { loadNative } = createRequire(import.meta.url)('./native.cjs');
const choice = process.env.CRA_BINDING || 'auto';
if (!['auto', 'native', 'wasm'].includes(choice)) throw new Error(`@cra/client: CRA_BINDING must be auto, native or wasm, not ${choice}`);
const impl = (choice !== 'wasm' && loadNative(choice === 'native')) || (await import('./wasm/node/index.js'));

export const {
  Resolver, verifyTrace, verifyTraceFile, replay, versions, governed, binding, init, initSync, recover,
  CraError, CraInvalidRequestError, CraRequestError, CraActionError, CraInvalidParametersError, CraAtlasError, CraResolutionError,
  CraActionDeniedError, CraApprovalRequiredError, CraApprovalError, CraExecutionError,
  CraSessionError, CraTraceError, CraRuntimeError, CraInternalError,
} = impl;
export default impl.default;
