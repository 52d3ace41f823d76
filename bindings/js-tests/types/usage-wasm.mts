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

// TraceShipper: options, stats and reports are typed.
import { TraceShipper, type ShipperStats, type ShipperReport } from '@cra/wasm';
const shipper = new TraceShipper(r, {
  url: 'https://ingest.example.com/v1/traces',
  token: 'secret',
  batchMaxEvents: 256,
  compression: 'auto',
  onError: (rep: ShipperReport) => console.log(rep.kind, rep.events, rep.status),
  onRetry: (x) => console.log(x.attempt, x.delayMs),
});
const delivered: boolean = await shipper.pump();
await shipper.flush(5000);
const st: ShipperStats = await shipper.close();
console.log(delivered, st.sentEvents, st.retried, st.dropped, st.ingest.duplicate, st.sourceDropped);
// @ts-expect-error: unknown compression
new TraceShipper(r, { url: 'https://x/v1/traces', compression: 'zstd' });
// @ts-expect-error: url is required
new TraceShipper(r, { token: 't' });
