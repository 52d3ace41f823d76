// F4: native resolvers created, used and freed: RSS and threads.
import { cra, SHOP, req, rss, threads } from './load.mjs';
const N = Number(process.env.N || 2000);
const before = { rss_mb: rss(), threads: threads() };
const list = [];
for (let i = 0; i < N; i++) { const r = new cra.Resolver(); r.loadAtlas(SHOP); r.resolve(req('s')); list.push(r); }
const held = { rss_mb: rss(), threads: threads() };
for (const r of list) { await r.flush(); r.drainTrace(); r.free(); }
const freed = { rss_mb: rss(), threads: threads() };
console.log(JSON.stringify({ resolvers: N, before, all_alive: held, after_free: freed }));
