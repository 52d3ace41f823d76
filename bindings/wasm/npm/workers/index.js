// @cra/wasm for Cloudflare Workers / workerd: the runtime compiles the .wasm import to a
// WebAssembly.Module; it is instantiated synchronously at import.
import wasmModule from '../web/cra_wasm_bg.wasm';
import * as web from '../web/index.js';

web.initSync(wasmModule);

/** Already initialized; kept so code written for the browser entry runs unchanged. */
export function init() {
  return Promise.resolve();
}
export default init;
export * from '../web/index.js';
