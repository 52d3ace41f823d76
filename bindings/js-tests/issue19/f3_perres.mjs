import { cra, SHOP, req, wasmMemory } from './load.mjs';
const a = wasmMemory();
const keep = [];
for (let i = 0; i < 300; i++) keep.push(new cra.Resolver());
const b = wasmMemory();
for (const k of keep) k.free();
const c = wasmMemory();
for (let i = 0; i < 3000; i++) { const x = new cra.Resolver(); x.loadAtlas(SHOP); x.resolve(req('s')); x.free(); }
console.log(JSON.stringify({ per_resolver_kb: Math.round((b - a) / 300 / 1024), mb_300_alive: b >> 20, mb_after_free: c >> 20, mb_after_3000_more_created_and_freed: wasmMemory() >> 20 }));
