
// ---------------------------------------------------------------------------------------------
// @cra/wasm only: loading the WebAssembly module. Structural types, so no DOM lib is needed:
// a URL, a fetch Request or Response, bytes, or a compiled WebAssembly.Module all fit.

/** A URL object (WHATWG `URL`). */
export interface UrlLike {
  readonly href: string;
}
/** A fetch `Response` (or `Request`) to instantiate from. */
export interface FetchLike {
  readonly url: string;
}
/** A compiled `WebAssembly.Module` (or anything the host's `WebAssembly` accepts as one). */
export type WasmModuleLike = object;
/** Where the module comes from: a URL or path, a fetch Response/Request, bytes, or a compiled module. */
export type WasmSource = string | UrlLike | FetchLike | ArrayBuffer | ArrayBufferView | WasmModuleLike;
/**
 * Loads the module (browser entry: call and await once before anything else; elsewhere a no-op
 * that resolves at once). Without an argument it fetches `cra_wasm_bg.wasm` next to the entry.
 */
export declare function init(source?: WasmSource | Promise<WasmSource>): Promise<void>;
export default init;
/** Instantiates synchronously from bytes or a compiled module (browser entry). */
export declare function initSync(module: ArrayBuffer | ArrayBufferView | WasmModuleLike): void;
/**
 * After a WebAssembly trap (every call then throws CraInternalError): instantiates the module
 * again, synchronously, from the module already compiled. Resolvers made before are unusable
 * (`CLOSED`): make new ones and load atlases again. Not available with the bundler entry.
 */
export declare function recover(): void;
