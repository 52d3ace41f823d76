// WASM without draining, sessions ended (engine state bounded): trace memory and the longest call.
import { cra, SHOP, req } from './load.mjs';
const N = Number(process.env.N || 300000);
const r = new cra.Resolver();
r.loadAtlas(SHOP);
import { wasmMemory } from "./load.mjs";
const mem = wasmMemory;
let max = 0, over50 = 0, s = 0;
const t0 = Date.now();
for (let i = 0; i < N; i++) {
  const t = process.hrtime.bigint();
  r.resolve(req(`s${s}`));
  if (i % 10 === 9) r.endSession(`s${s++}`);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (ms > max) max = ms;
  if (ms > 50) over50++;
}
const st = r.stats();
console.log(JSON.stringify({ calls: N, seconds: (Date.now() - t0) / 1000, wasm_mb_after: mem() >> 20, max_call_ms: +max.toFixed(1), calls_over_50ms: over50, dropped: st.trace.dropped, sessions: st.sessions, ended: st.ended_sessions }));
