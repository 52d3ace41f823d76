import { cra, SHOP, req } from './load.mjs';
const r = new cra.Resolver(); r.loadAtlas(SHOP);
const N = 50000, t = new Float64Array(N);
for (let i = 0; i < 5000; i++) r.resolve(req(`w${i % 100}`));
let drained = 0;
for (let i = 0; i < N; i++) {
  const a = process.hrtime.bigint();
  r.resolve(req(`s${i % 100}`));
  t[i] = Number(process.hrtime.bigint() - a) / 1000;
  if (i % 1000 === 999) { await r.flush(); for (let c; (c = r.drainTrace()) !== '';) drained += c.length; }
}
t.sort();
console.log(JSON.stringify({ p50_us: +t[N >> 1].toFixed(1), p99_us: +t[Math.floor(N * 0.99)].toFixed(1) }));
