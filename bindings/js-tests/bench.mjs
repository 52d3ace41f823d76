// resolve() and execute() (authorize one tool call) latency from Node: the native addon and the
// WASM build, p50/p99/p99.9 over many individually timed calls (process.hrtime.bigint, ~50–100 ns
// of timer overhead included), beside the Rust figures of core/benches/resolve.rs from the same
// run. Same atlas and request as the Rust bench: 100 synthetic rules, the request narrowed to one
// capability (10 actions in scope).
//   node bindings/js-tests/bench.mjs [RUST_OUTPUT]      (make bench-js passes the same run's file)
// CRA_BENCH_ITERS sets the iteration count (default 200000). Targets (issue 15): native resolve
// p50 ≤ 8 µs, execute ≤ 4 µs; WASM in Node resolve ≤ 15 µs, execute ≤ 8 µs.
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

/** An execute request for `action` under the bench session's resolution. */
function executeRequest(resolutionId, action) {
  return {
    requester: { agent_id: 'bench-agent', session_id: 'bench-session' },
    execution: { resolution_id: resolutionId, action_id: action, parameters: {} },
  };
}

function benchImpl(label, cra, iters) {
  const r = new cra.Resolver(CONFIG);
  r.loadAtlas(syntheticAtlas(100));
  const text = JSON.stringify(REQUEST);
  const check = r.resolve(REQUEST);
  if (check.allowed_actions.length === 0) throw new Error('bench request resolved to nothing');
  const out = {};
  out.resolve = percentiles(`${label}: resolve(object) → object, 100 rules`, iters, () => r.resolve(REQUEST));
  percentiles(`${label}: resolve(JSON text) → object`, iters, () => r.resolve(text));
  percentiles(`${label}: raw binding call, text → text (no JS JSON)`, iters, () => r._raw.resolve(text));
  // Authorize one call: an allowed action (svc0.op3: allowed, no rate limit, no schema) and a
  // denied one (svc0.op9: a deny policy), each against the resolution made just before.
  const rid = r.resolve(REQUEST).resolution_id;
  const allowed = executeRequest(rid, 'svc0.op3');
  const denied = executeRequest(rid, 'svc0.op9');
  if (r.execute(allowed).status !== 'authorized') throw new Error('bench: svc0.op3 was not authorized');
  if (r.execute(denied).status !== 'denied') throw new Error('bench: svc0.op9 was not denied');
  out.execute = percentiles(`${label}: execute(object) → object, authorized`, iters, () => r.execute(allowed));
  percentiles(`${label}: execute(object) → object, denied`, iters, () => r.execute(denied));
  out.check = percentiles(`${label}: check(session, action) fast path`, iters, () => r.check('bench-session', 'svc0.op1'));
  return out;
}

const native = createRequire(import.meta.url)(path.join(repo, 'bindings/node/index.js'));
const wasm = await import(pathToFileURL(path.join(repo, 'bindings/wasm/pkg/node/index.js')).href);

console.log(`== resolve / execute from Node ${process.version} (${ITERS} calls each)`);
const n = benchImpl('native', native, ITERS);
const w = benchImpl('wasm  ', wasm, ITERS);

// The Rust figures of the same run (make bench-js runs core/benches/resolve.rs first and passes
// its output); without it, say so rather than quote old figures.
const rustFile = process.argv[2];
if (rustFile && fs.existsSync(rustFile)) {
  const line = /^(.+?)\s+p50\s+([\d.]+) ns\s+p99\s+([\d.]+) ns/;
  const wanted = /^(resolve, 100 rules, 10 actions in scope|api::resolve|fast path check\(|.*execute)/;
  console.log('Rust, same run (core/benches/resolve.rs):');
  for (const l of fs.readFileSync(rustFile, 'utf8').split('\n')) {
    const m = line.exec(l.trim());
    if (m && wanted.test(m[1].trim())) {
      console.log(`  ${m[1].trim().padEnd(56)} p50 ${(Number(m[2]) / 1000).toFixed(2).padStart(7)} µs   p99 ${(Number(m[3]) / 1000).toFixed(2).padStart(7)} µs`);
    }
  }
} else {
  console.log('Rust, same run: not given (make bench-js passes target/bench/rust-resolve.txt)');
}
const verdict = (what, row, limitUs) =>
  `${what} p50 ${(row.p50 / 1000).toFixed(2)} µs ${row.p50 <= limitUs * 1000 ? `(meets ≤ ${limitUs} µs)` : `(MISSES ≤ ${limitUs} µs)`}`;
console.log('summary: ' + [
  verdict('native resolve', n.resolve, 8), verdict('native execute', n.execute, 4),
  verdict('wasm resolve', w.resolve, 15), verdict('wasm execute', w.execute, 8),
].join('; '));
