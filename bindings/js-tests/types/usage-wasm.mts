// Compiled by test/types.test.mjs under CRA_JS_IMPL=wasm: the WASM package's declarations,
// with lib es2022 only (tsconfig.wasm-nodom.json): no DOM and no Node types needed.
import init, { Resolver, initSync, recover, verifyTrace, type Resolution } from '@cra/wasm';
import { bundleAtlas } from '@cra/wasm/bundle-atlas';
// No DOM or Node lib here: the usage file brings its own console.
declare const console: { log(...args: unknown[]): void };

await init();
await init({ href: 'https://example.invalid/cra_wasm_bg.wasm' });
initSync(new Uint8Array(0));
const r = new Resolver();
const res: Resolution = r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } });
console.log(res.resolution_id, verifyTrace(r.drainTrace()).ok, r.stats().memory.wasm_memory_bytes);
// The same explain and shadow API as @cra/node.
const why = r.explain({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } }, 'x.y');
console.log(why.verdict, why.policies.length, r.loadShadow('{}').replaced, r.unloadShadow('a').unloaded, r.stats().shadow_diffs);
r.loadShadowDir('no-file-system-here');
r.free();
recover();
r.loadAtlas(bundleAtlas('examples/atlases/devops'));
// @ts-expect-error: initSync needs the module
initSync();
// @ts-expect-error: not a module source
await init(42);
