'use strict';
// @cra/node: the CRA engine as a native Node.js addon (napi-rs). See docs/node.md.
// The shared API is an ES module (lib/api.mjs, the same file @cra/wasm ships): loaded with
// require() of an ES module (Node ^20.19 || >=22.12, package.json "engines").
const path = require('node:path');
const { makeApi, errors } = require('./lib/api.mjs');

function platformTriple() {
  const { platform, arch } = process;
  if (platform !== 'linux') return `${platform}-${arch}`;
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
  const glibc = report && report.header && report.header.glibcVersionRuntime;
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
}

function loadAddon() {
  // CRA_NODE_ADDON points at another build of the addon (tests use the `testing` build).
  const file = process.env.CRA_NODE_ADDON || path.join(__dirname, `cra.${platformTriple()}.node`);
  try {
    return require(file);
  } catch (e) {
    const err = new Error(`@cra/node: cannot load the native addon ${file}: ${e.message}`);
    err.cause = e;
    throw err;
  }
}

const native = loadAddon();
const api = makeApi(native, { binding: 'native' });

exports.Resolver = api.Resolver;
exports.verifyTrace = api.verifyTrace;
exports.verifyTraceFile = api.verifyTraceFile;
exports.replay = api.replay;
exports.versions = api.versions;
exports.governed = api.governed;
exports.binding = api.binding;
exports.CraError = errors.CraError;
exports.CraInvalidRequestError = errors.CraInvalidRequestError;
exports.CraRequestError = errors.CraRequestError;
exports.CraActionError = errors.CraActionError;
exports.CraInvalidParametersError = errors.CraInvalidParametersError;
exports.CraAtlasError = errors.CraAtlasError;
exports.CraResolutionError = errors.CraResolutionError;
exports.CraActionDeniedError = errors.CraActionDeniedError;
exports.CraApprovalRequiredError = errors.CraApprovalRequiredError;
exports.CraApprovalError = errors.CraApprovalError;
exports.CraExecutionError = errors.CraExecutionError;
exports.CraSessionError = errors.CraSessionError;
exports.CraTraceError = errors.CraTraceError;
exports.CraRuntimeError = errors.CraRuntimeError;
exports.CraInternalError = errors.CraInternalError;
/** Test-only: present in the `testing` build of the addon. */
exports._testingPanic = native.testingPanic ? (r) => {
  try {
    native.testingPanic(r._raw);
  } catch (e) {
    throw api._mapError(e);
  }
} : undefined;
