// Memory and blocking at the JS boundary (issue 19, findings 1–4). Assertions are on counts
// and memory figures with generous margins, never on time; durations are reported as test
// diagnostics only. Sizes scale with environment variables (defaults keep the suite to minutes):
//   CRA_JS_LONG_CALLS   calls of the long run with periodic draining (default 200000)
//   CRA_JS_RESOLVERS    resolvers created and freed (default 10000)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cra, repo, implName, here } from '../impl.mjs';
import { ChunkVerifier } from '../chunks.mjs';

const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
const LONG_CALLS = Number(process.env.CRA_JS_LONG_CALLS || 200_000);
const RESOLVERS = Number(process.env.CRA_JS_RESOLVERS || 10_000);
const isWasm = implName === 'wasm';
const MiB = 1 << 20;

/** What this implementation's memory is measured by: the process RSS (native) or the WASM instance's linear memory. */
function memory(r) {
  return isWasm ? r.stats().memory.wasm_memory_bytes : process.memoryUsage().rss;
}
const threads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);

test(`long run: ${LONG_CALLS} calls with periodic draining keep memory flat and lose nothing`, { timeout: 900_000 }, async (t) => {
  const r = new cra.Resolver();
  r.loadAtlas(SHOP);
  const v = new ChunkVerifier();
  const drain = async () => {
    await r.flush();
    for (let c; (c = r.drainTrace()) !== '';) v.add(c);
  };
  let calls = 0;
  let session = 0;
  let baseline = 0;
  let peak = 0;
  const started = process.hrtime.bigint();
  while (calls < LONG_CALLS) {
    // One session: a resolve, then authorized calls and their reports, then its end.
    const who = { agent_id: 'agent', session_id: `s-${session++}` };
    const res = r.resolve({ requester: who, task: { goal: 'look up orders' } });
    calls++;
    for (let k = 0; k < 9 && calls < LONG_CALLS; k++) {
      const ans = r.execute({ requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: {} } });
      r.report({ execution_id: ans.execution_id, result: { order: k } });
      calls += 2;
    }
    r.endSession(who.session_id, 'done');
    calls++;
    if (session % 250 === 0) {
      await drain();
      const m = memory(r);
      if (calls >= LONG_CALLS / 4 && baseline === 0) baseline = m;
      if (baseline) peak = Math.max(peak, m);
    }
  }
  await drain();
  const s = r.stats();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.diagnostic(`${calls} calls, ${v.events} events in ${seconds.toFixed(1)} s; memory after a quarter ${(baseline / MiB).toFixed(1)} MiB, peak after ${(peak / MiB).toFixed(1)} MiB`);
  assert.equal(s.trace.dropped, 0, JSON.stringify(s.trace));
  assert.equal(s.trace.gaps, 0);
  assert.equal(v.events, s.trace.written, 'every written event was drained and verified');
  assert.deepEqual(v.heads, {}, 'every chain ends with its session');
  assert.equal(s.memory.trace_buffer_bytes, 0);
  // Flat: three quarters of the run add at most a generous margin (no per-call growth).
  assert.ok(peak - baseline < (isWasm ? 16 : 96) * MiB, `memory grew from ${baseline} to ${peak}`);
  r.free();
});

test('without draining, calls never wait past the block timeout; the loss is counted and visible to verify', { timeout: 300_000 }, async (t) => {
  // A small event bound fills the sink quickly; the block timeout is the JS default.
  const r = new cra.Resolver({ trace: { memory_limit_events: 2000 } });
  r.loadAtlas(SHOP);
  const N = 10_000;
  let longest = 0;
  for (let i = 0; i < N; i++) {
    // Sessions of ten calls each, ended: many sessions lose events while nobody drains.
    const session = `s${Math.floor(i / 10)}`;
    const t0 = process.hrtime.bigint();
    r.resolve({ requester: { agent_id: 'a', session_id: session }, task: { goal: 'g' } });
    if (i % 10 === 9) r.endSession(session);
    longest = Math.max(longest, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const before = r.stats().trace;
  t.diagnostic(`${N} calls without draining: longest call ${longest.toFixed(1)} ms (documented bound: ${isWasm ? 'no wait at all' : '100 ms'}); dropped ${JSON.stringify(before.dropped_by_reason)}`);
  assert.ok(before.dropped > 0, JSON.stringify(before));
  if (!isWasm) assert.ok(before.dropped_by_reason.block_timeout > 0, JSON.stringify(before));
  else assert.ok(before.dropped_by_reason.sink_full > 0, JSON.stringify(before));
  // Every call completed (none hung), and the chains record what was lost.
  // Drain until every loss is reported: gaps enter the chains once the sink has room again.
  const v = new ChunkVerifier();
  for (let round = 0; round < 400; round++) {
    for (let c; (c = r.drainTrace()) !== '';) v.add(c);
    await r.flush(1000).catch(() => {});
    for (let c; (c = r.drainTrace()) !== '';) v.add(c);
    if (v.gapDropped >= r.stats().trace.dropped) break;
    await new Promise((res) => setTimeout(res, 5));
  }
  const s = r.stats().trace;
  assert.ok(v.gaps > 0);
  assert.equal(v.gapDropped, s.dropped, `gaps report ${v.gapDropped} of ${s.dropped} dropped events`);
  assert.equal(v.events, s.written);
  r.free();
});

test(`${RESOLVERS} resolvers created, used and freed: memory and threads stay flat`, { timeout: 600_000 }, async (t) => {
  const probe = new cra.Resolver();
  const threads0 = isWasm ? 0 : threads();
  const cycle = (n) => {
    for (let i = 0; i < n; i++) {
      const r = new cra.Resolver();
      r.loadAtlas(SHOP);
      r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } });
      r.free();
    }
  };
  cycle(Math.min(1000, RESOLVERS));
  const after1000 = memory(probe);
  cycle(RESOLVERS - Math.min(1000, RESOLVERS));
  const after = memory(probe);
  t.diagnostic(`memory after 1000: ${(after1000 / MiB).toFixed(1)} MiB, after ${RESOLVERS}: ${(after / MiB).toFixed(1)} MiB`);
  assert.ok(after - after1000 < (isWasm ? 8 : 64) * MiB, `grew from ${after1000} to ${after}`);
  if (!isWasm) assert.ok(threads() <= threads0 + 2, `threads ${threads0} → ${threads()}: free() ends each resolver's thread`);
  // A resolver that is used after free() says so.
  const r = new cra.Resolver();
  r.free();
  assert.throws(() => r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } }), (e) => e.code === 'CLOSED');
  probe.free();
});

test('Symbol.dispose frees; the garbage collector frees resolvers never freed (backstop)', { timeout: 300_000 }, (t) => {
  if (typeof Symbol.dispose === 'symbol') {
    const r = new cra.Resolver();
    r[Symbol.dispose]();
    assert.throws(() => r.stats(), (e) => e.code === 'CLOSED');
  }
  // In a child with --expose-gc: rounds of resolvers dropped without free(). If the garbage
  // collector did not release them, every round would add its resolvers' memory (and threads).
  const script = `
    const { cra, implName } = await import(${JSON.stringify(path.join(here, 'impl.mjs'))});
    const fs = await import('node:fs');
    const threads = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
    const probe = new cra.Resolver();
    const mem = () => implName === 'wasm' ? probe.stats().memory.wasm_memory_bytes : process.memoryUsage().rss;
    const make = (n) => { for (let i = 0; i < n; i++) new cra.Resolver().resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } }); };
    const collect = async () => { for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
    const t0 = threads(), rounds = [];
    for (let i = 0; i < 4; i++) { make(250); const peak = mem(); await collect(); rounds.push({ peak, threads: threads() }); }
    console.log(JSON.stringify({ t0, rounds }));`;
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', env: process.env, timeout: 240_000 });
  assert.equal(out.status, 0, out.stderr);
  const { t0, rounds } = JSON.parse(out.stdout.trim().split('\n').pop());
  t.diagnostic(`peak memory per round of 250 unfreed resolvers: ${rounds.map((x) => (x.peak / MiB).toFixed(0)).join(', ')} MiB`);
  for (const x of rounds) assert.ok(x.threads <= t0 + 20, `threads ${t0} → ${x.threads} after GC`);
  assert.ok(rounds[3].peak - rounds[0].peak < (isWasm ? 8 : 64) * MiB, `peaks grew: ${JSON.stringify(rounds)}`);
});
