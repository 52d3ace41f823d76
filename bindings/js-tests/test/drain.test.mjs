// Draining is lossless and bounded (issue 19, finding 2): chunks of whole events, at most
// maxBytes / maxEvents each; events leave the sink only once the JS string exists; chunks
// verify together (verify options `heads`); a bounded sink drops with a count and a gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cra, repo, implName } from '../impl.mjs';
import { ChunkVerifier } from '../chunks.mjs';

const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
const req = (s) => ({ requester: { agent_id: 'a1', session_id: s }, task: { goal: 'do the task' } });

test('drainTrace takes bounded chunks of whole events that verify together', async () => {
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  r.loadAtlas(SHOP);
  for (let i = 0; i < 200; i++) r.resolve(req(`s${i % 7}`));
  for (let i = 0; i < 7; i++) r.endSession(`s${i}`);
  await r.flush();
  const written = r.stats().trace.written;
  const held = r.stats().memory.trace_buffer_bytes;
  assert.ok(held > 100_000, `${held}`);
  const chunks = [];
  const v = new ChunkVerifier();
  for (let c; (c = r.drainTrace({ maxBytes: 10_000 })) !== '';) {
    assert.ok(c.endsWith('\n'));
    // One event may pass the bound (a chunk holds one at least); two never do.
    assert.ok(Buffer.byteLength(c) <= 10_000 || c.split('\n').length === 2, `${Buffer.byteLength(c)}`);
    chunks.push(c);
    v.add(c);
  }
  assert.ok(chunks.length > 10);
  assert.equal(v.events, written);
  assert.deepEqual(v.heads, {}, 'every session ended, so every chain is closed');
  const whole = chunks.join('');
  assert.equal(Buffer.byteLength(whole), held);
  const all = cra.verifyTrace(whole, { require_session_end: true });
  assert.equal(all.ok, true);
  assert.equal(all.events, written);
  assert.equal(r.stats().memory.trace_buffer_bytes, 0);
  // maxEvents bounds by count.
  for (let i = 0; i < 10; i++) r.resolve(req('t'));
  const three = r.drainEvents({ maxEvents: 3 });
  assert.equal(three.length, 3);
  assert.equal(three[0].event_type, 'session.started');
  assert.ok(r.drainEvents().length > 30);
  // A tiny maxBytes still makes progress, one event per chunk.
  r.resolve(req('t'));
  assert.equal(r.drainTrace({ maxBytes: 1 }).split('\n').length, 2);
});

test('events leave the sink only once the string exists: a chunk not taken is drained again', async () => {
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  r.loadAtlas(SHOP);
  r.resolve(req('s1'));
  await r.flush();
  const raw = r._raw;
  // The raw layer hands out a chunk, then removes it on commit; a host that failed to make the
  // string (V8's length limit, out of memory) never commits, and loses nothing.
  const first = raw.drainChunk(1 << 20, Number.MAX_SAFE_INTEGER, 0);
  assert.ok(first.length > 0);
  const again = r.drainTrace();
  assert.equal(again, first, 'the uncommitted chunk is drained again');
  assert.equal(r.drainTrace(), '');
  assert.equal(r.stats().trace.dropped, 0);
  // A commit with nothing handed out is a no-op.
  raw.drainCommit();
});

test('the memory sink is bounded in bytes; what does not fit is counted and shows in the chain as a gap', async () => {
  const r = new cra.Resolver({ trace: { memory_limit_bytes: 64 * 1024, overflow: 'drop' } });
  r.loadAtlas(SHOP);
  for (let i = 0; i < 500; i++) r.resolve(req(`s${i % 3}`));
  await r.flush(); // a full sink in drop mode drops instead of waiting
  const s = r.stats();
  assert.equal(s.memory.trace_buffer_limit_bytes, 64 * 1024);
  assert.ok(s.memory.trace_buffer_bytes <= 64 * 1024 + 512 * 1200, `${s.memory.trace_buffer_bytes}`);
  assert.ok(s.trace.dropped_by_reason.sink_full > 0, JSON.stringify(s.trace));
  const v = new ChunkVerifier();
  // Drain, let the pending gaps in, drain again.
  for (let round = 0; round < 5; round++) {
    for (let c; (c = r.drainTrace()) !== '';) v.add(c);
    await r.flush();
  }
  for (let c; (c = r.drainTrace()) !== '';) v.add(c);
  const t = r.stats().trace;
  assert.ok(t.gaps > 0);
  assert.equal(v.gaps, t.gaps);
  assert.equal(v.gapDropped, t.dropped, 'every dropped event is accounted for by a gap in the chain');
  assert.equal(v.events, t.written);
});

test('config: memory_limit_bytes is checked; the JS defaults are visible in stats().memory', () => {
  assert.throws(() => new cra.Resolver({ trace: { memory_limit_bytes: 0 } }), (e) => e.code === 'INVALID_CONFIG' && e.pointer === '/trace/memory_limit_bytes');
  assert.throws(() => new cra.Resolver({ trace: { memory_limit_bytes: 'big' } }), (e) => e.code === 'INVALID_CONFIG');
  assert.throws(() => new cra.Resolver('{"trace": {}, "trace": {}}'), (e) => e.code === 'INVALID_CONFIG' && e.pointer === '/trace');
  const m = new cra.Resolver().stats().memory;
  assert.equal(m.trace_buffer_limit_bytes, implName === 'wasm' ? 16 << 20 : 256 << 20);
  assert.equal(m.trace_queue_capacity, implName === 'wasm' ? 1024 : 8192);
  assert.equal(new cra.Resolver({ trace: { capacity: 100 } }).stats().memory.trace_queue_capacity, 100);
  assert.equal(new cra.Resolver({ trace: { sink: 'none' } }).stats().memory.trace_buffer_bytes, null);
  assert.equal(new cra.Resolver({ trace: { sink: 'none' } }).drainTrace(), '');
});

test('a sink holding more than V8\'s longest string drains completely, in chunks (CRA_JS_HEAVY=1)', { skip: !process.env.CRA_JS_HEAVY && 'opt-in: CRA_JS_HEAVY=1 (about 700 MB of trace, a minute or more)', timeout: 1_800_000 }, async () => {
  // 200,000 resolves make about 801,000 events, 709 MB of JSONL: more than V8's longest
  // string (2^29 - 24 UTF-16 units), which one unchunked drain could not return.
  const r = new cra.Resolver({ trace: { memory_limit_bytes: 2 ** 31, memory_limit_events: 4_000_000, block_timeout_ms: 600_000 } });
  r.loadAtlas(SHOP);
  for (let i = 0; i < 200_000; i++) r.resolve(req(`session-with-a-longer-name-${i % 1000}`));
  await r.flush(600_000);
  const held = r.stats().memory.trace_buffer_bytes;
  assert.ok(held > 2 ** 29, `${held} bytes held`);
  const v = new ChunkVerifier();
  let bytes = 0;
  for (let c; (c = r.drainTrace()) !== '';) {
    bytes += Buffer.byteLength(c);
    v.add(c);
  }
  const s = r.stats().trace;
  assert.equal(bytes, held);
  assert.equal(v.events, s.written);
  assert.equal(s.dropped, 0);
  r.free();
});
