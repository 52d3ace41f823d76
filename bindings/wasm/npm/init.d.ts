
// ---------------------------------------------------------------------------------------------
// @cra/wasm only: loading the WebAssembly module.

/** Where the module comes from: a URL or path, a fetch Response, bytes, or a compiled module. */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;
/**
 * Loads the module (browser entry: call and await once before anything else; elsewhere a no-op
 * that resolves at once). Without an argument it fetches `cra_wasm_bg.wasm` next to the entry.
 */
export declare function init(source?: WasmSource | Promise<WasmSource>): Promise<void>;
export default init;
/** Instantiates synchronously from bytes or a compiled module (browser entry). */
export declare function initSync(module: BufferSource | WebAssembly.Module): void;
