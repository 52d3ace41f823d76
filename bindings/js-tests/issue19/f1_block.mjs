// F1: nobody drains; how long does one call block? (memory_limit_events small so the sink fills fast)
import { cra, SHOP, req } from './load.mjs';
const N = Number(process.env.N || 4000);
const r = new cra.Resolver({ trace: { memory_limit_events: 2000 } });
r.loadAtlas(SHOP);
let max = 0, over50 = 0, total = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  const t = process.hrtime.bigint();
  r.resolve(req(`s${i % 50}`));
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (ms > max) max = ms;
  if (ms > 50) over50++;
}
total = Number(process.hrtime.bigint() - t0) / 1e6;
const s = r.stats().trace;
console.log(JSON.stringify({ calls: N, max_call_ms: +max.toFixed(1), calls_over_50ms: over50, total_ms: Math.round(total), dropped: s.dropped, by: s.dropped_by_reason }));
