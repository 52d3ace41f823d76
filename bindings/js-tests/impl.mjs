// Chooses the implementation under test: CRA_JS_IMPL=native (default) or wasm.
//   native: bindings/node (the .node built by `make build-node`; CRA_NODE_ADDON may point at the
//           `testing` build, which adds the panic-injection export)
//   wasm:   bindings/wasm/pkg (built by `make build-wasm`; CRA_WASM_PKG may point at another build)
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const implName = process.env.CRA_JS_IMPL || 'native';
/** The name of the expected-failure list (conformance/xfail/<name>.json). */
export const xfailName = implName === 'wasm' ? 'wasm' : 'node';

async function load() {
  if (implName === 'native') {
    return createRequire(import.meta.url)(path.join(repo, 'bindings/node/index.js'));
  }
  if (implName === 'wasm') {
    const pkg = process.env.CRA_WASM_PKG || path.join(repo, 'bindings/wasm/pkg');
    return import(pathToFileURL(path.join(pkg, 'node/index.js')).href);
  }
  throw new Error(`CRA_JS_IMPL must be native or wasm, not ${implName}`);
}

export const cra = await load();
