// @cra/wasm for Node (ES module): the module is instantiated synchronously at import.
import { readFileSync } from 'node:fs';
import * as web from '../web/index.js';

web.initSync(readFileSync(process.env.CRA_WASM_FILE || new URL('../web/cra_wasm_bg.wasm', import.meta.url)));

/** Already initialized; kept so code written for the browser entry runs unchanged. */
export function init() {
  return Promise.resolve();
}
export default init;
export * from '../web/index.js';
