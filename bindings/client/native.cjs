'use strict';
// @cra/client: the native addon (napi-rs), from the platform package of this machine
// (@cra/client-<platform>, an optional dependency) or a cra.<platform>.node beside this file.
// Returns null when there is none (index.cjs / index.mjs then use the WebAssembly build).
const path = require('node:path');

/** napi-rs platform name of this process: linux-x64-gnu, darwin-arm64, win32-x64-msvc, ... */
function platformName() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    const glibc = report && report.header && report.header.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/** Where the addon may be, in order: CRA_NODE_ADDON, a file beside this one, the platform package. */
function candidates() {
  if (process.env.CRA_NODE_ADDON) return [process.env.CRA_NODE_ADDON];
  const name = platformName();
  return [path.join(__dirname, `cra.${name}.node`), `@cra/client-${name}`];
}

function isMissing(e, spec) {
  return e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(spec);
}

/**
 * Loads the addon and builds the API over it; null when no candidate exists. A candidate that
 * exists but fails to load (another libc, a damaged file) is skipped too, unless `required`.
 */
function loadNative(required) {
  const tried = [];
  let raw = null;
  for (const spec of candidates()) {
    try {
      raw = require(spec);
      break;
    } catch (e) {
      tried.push(`${spec}: ${isMissing(e, spec) ? 'not installed' : e.message}`);
    }
  }
  if (!raw) {
    if (!required) return null;
    const err = new Error(`@cra/client: no native addon for ${platformName()} (CRA_BINDING=native):\n  ${tried.join('\n  ')}`);
    err.code = 'CRA_NO_NATIVE';
    throw err;
  }
  // The shared API is the WASM build's api.js (an ES module, byte for byte bindings/node/lib/api.mjs):
  // one copy in the package, one set of error classes whichever binding loads.
  const { makeApi, errors } = require('./wasm/api.js');
  const api = makeApi(raw, { binding: 'native' });
  const ready = Promise.resolve();
  const out = {
    Resolver: api.Resolver,
    verifyTrace: api.verifyTrace,
    verifyTraceFile: api.verifyTraceFile,
    replay: api.replay,
    versions: api.versions,
    governed: api.governed,
    binding: api.binding,
    /** Nothing to load with the native addon; kept so code written for the WASM entries runs unchanged. */
    init: () => ready,
    initSync: () => undefined,
    /** A native panic is already an error (CraInternalError) that leaves the resolver usable: nothing to recover. */
    recover: () => undefined,
  };
  for (const [k, v] of Object.entries(errors)) if (k !== 'ERROR_CLASSES') out[k] = v;
  out.default = out.init;
  return out;
}

module.exports = { loadNative, platformName };
