// Compiled by test/types.test.mjs under CRA_JS_IMPL=wasm with the DOM lib: the browser's own
// types (URL, Response, Request, WebAssembly.Module) are accepted where the module is loaded.
import init, { initSync } from '@cra/wasm';

await init(new URL('https://example.invalid/cra_wasm_bg.wasm'));
await init(fetch('https://example.invalid/cra_wasm_bg.wasm'));
await init(new Request('https://example.invalid/cra_wasm_bg.wasm'));
initSync(new WebAssembly.Module(new Uint8Array(0)));
