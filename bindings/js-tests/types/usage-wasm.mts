// Compiled by test/types.test.mjs under CRA_JS_IMPL=wasm: the WASM package's declarations.
import init, { Resolver, initSync, verifyTrace, type Resolution } from '@cra/wasm';

await init();
await init(new URL('https://example.invalid/cra_wasm_bg.wasm'));
initSync(new Uint8Array(0));
const r = new Resolver();
const res: Resolution = r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } });
console.log(res.resolution_id, verifyTrace(r.drainTrace()).ok);
r.free();
// @ts-expect-error: initSync needs the module
initSync();
