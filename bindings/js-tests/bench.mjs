// resolve() latency from Node: the native addon and the WASM build, p50/p99/p99.9 over many
// individually timed calls (process.hrtime.bigint, ~50–100 ns of timer overhead included), with
// the Rust figures of core/benches/resolve.rs for comparison. Same atlas and request as the Rust
// bench: 100 synthetic rules, the request narrowed to one capability (10 actions in scope).
//   node bindings/js-tests/bench.mjs            (make bench-js)
// CRA_BENCH_ITERS sets the iteration count (default 200000).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ITERS = Number(process.env.CRA_BENCH_ITERS || 200_000);

/** The synthetic atlas of core/benches/resolve.rs. */
function syntheticAtlas(rules) {
  const nActions = Math.max(Math.floor(rules / 5), 20);
  const groups = Math.floor(nActions / 10);
  const actions = [];
  const capabilities = [];
  for (let g = 0; g < groups; g++) {
    const ids = Array.from({ length: 10 }, (_, i) => `svc${g}.op${i}`);
    for (const id of ids) actions.push({ action_id: id, name: id, description: 'synthetic action' });
    capabilities.push({ capability_id: `cap${g}`, name: `group ${g}`, actions: ids });
  }
  const policies = [];
  for (let i = 0; i < rules; i++) {
    const g = i % groups;
    const k = Math.floor(i / groups);
    if (k === 0) policies.push({ policy_id: `p${i}`, type: 'deny', actions: [`svc${g}.op9`], reason: 'synthetic deny' });
    else if (k === 1) policies.push({ policy_id: `p${i}`, type: 'require_approval', actions: [`svc${g}.op8`] });
    else if (k === 2) policies.push({ policy_id: `p${i}`, type: 'rate_limit', actions: [`svc${g}.op7`], parameters: { max_calls: 1000000, window_seconds: 60 } });
    else if (k === 3) policies.push({ policy_id: `p${i}`, type: 'allow', actions: [`svc${g}.*`], conditions: { agents: ['bench-*'] } });
    else policies.push({ policy_id: `p${i}`, type: 'allow', actions: [`svc${g}.op${k % 10}`], conditions: { agents: [`other-agent-${k}`], risk_tiers: ['high'] }, priority: k });
  }
  const context_packs = [
    { pack_id: 'guide', name: 'Guide', content: 'x'.repeat(400), priority: 200 },
    { pack_id: 'cap0-notes', name: 'Notes', content: 'y'.repeat(200), conditions: { capabilities: ['cap0'] } },
    { pack_id: 'kw', name: 'Keyword', content: 'z'.repeat(100), keywords: ['refund'] },
  ];
  return { atlas_version: '1.0', atlas_id: 'com.bench.synthetic', version: '1.0.0', name: 'Synthetic', description: 'bench', actions, capabilities, policies, context_packs };
}

const REQUEST = {
  requester: { agent_id: 'bench-agent', session_id: 'bench-session' },
  task: { goal: 'help with a refund', required_capabilities: ['cap0'] },
};
// Trace events are enqueued and processed as in production, but not kept (sink none, drop mode).
const CONFIG = { max_resolutions_per_session: 64, trace: { sink: 'none', overflow: 'drop' } };

function percentiles(name, iters, f) {
  for (let i = 0; i < Math.max(1000, iters / 10); i++) f();
  const samples = new Float64Array(iters);
  for (let i = 0; i < iters; i++) {
    const t = process.hrtime.bigint();
    f();
    samples[i] = Number(process.hrtime.bigint() - t);
  }
  samples.sort();
  const q = (p) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))];
  const out = { name, p50: q(0.5), p99: q(0.99), p999: q(0.999) };
  const us = (ns) => `${(ns / 1000).toFixed(2).padStart(7)} µs`;
  console.log(`${name.padEnd(58)} p50 ${us(out.p50)}   p99 ${us(out.p99)}   p99.9 ${us(out.p999)}`);
  return out;
}

function benchImpl(label, cra, iters) {
  const r = new cra.Resolver(CONFIG);
  r.loadAtlas(syntheticAtlas(100));
  const text = JSON.stringify(REQUEST);
  const check = r.resolve(REQUEST);
  if (check.allowed_actions.length === 0) throw new Error('bench request resolved to nothing');
  const full = percentiles(`${label}: resolve(object) → object, 100 rules`, iters, () => r.resolve(REQUEST));
  percentiles(`${label}: resolve(JSON text) → object`, iters, () => r.resolve(text));
  percentiles(`${label}: raw binding call, text → text (no JS JSON)`, iters, () => r._raw.resolve(text));
  percentiles(`${label}: check(session, action) fast path`, iters, () => r.check('bench-session', 'svc0.op1'));
  return full;
}

const native = createRequire(import.meta.url)(path.join(repo, 'bindings/node/index.js'));
const wasm = await import(pathToFileURL(path.join(repo, 'bindings/wasm/pkg/node/index.js')).href);

console.log(`== resolve from Node ${process.version} (${ITERS} calls each; targets: native p50 ≤ 10 µs, WASM p50 ≤ 20 µs)`);
const n = benchImpl('native', native, ITERS);
const w = benchImpl('wasm  ', wasm, ITERS);

// The Rust figures for the same atlas and request, as docs/performance.md records them (make
// bench prints today's from core/benches/resolve.rs just before this).
const perf = fs.readFileSync(path.join(repo, 'docs/performance.md'), 'utf8').split('\n');
const rows = perf.filter((l) => /^\| resolve, 100 rules \||^\| resolve \+ real trace collector/.test(l));
console.log('Rust, in process (docs/performance.md):');
for (const row of rows) console.log(`  ${row}`);
console.log(`summary: native p50 ${(n.p50 / 1000).toFixed(2)} µs ${n.p50 <= 10_000 ? '(meets ≤ 10 µs)' : '(MISSES ≤ 10 µs)'}; ` +
  `wasm p50 ${(w.p50 / 1000).toFixed(2)} µs ${w.p50 <= 20_000 ? '(meets ≤ 20 µs)' : '(MISSES ≤ 20 µs)'}`);
