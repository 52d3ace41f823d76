// TraceShipper (@cra/wasm): a WASM resolver's trace, drained and POSTed with fetch to a real
// `cra serve` (SQLite in a temp dir) started here. Faults: the ingest down then up, a lost
// acknowledgement, a 429 with Retry-After, a wrong token (401), a full queue, close() with the
// ingest down. What is stored must be every event exactly once, and verify (`cra verify` on the
// export, and the ingest's integrity status). CRA_JS_IMPL=wasm only (the helper is a WASM
// package export; native hosts have the core's HTTP sink).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { cra, repo, implName } from '../impl.mjs';
import { pythonProblem, startIngest, workDir, freePort, storedTraces, exportTrace, craVerify, proxy } from '../ingest.mjs';

const isWasm = implName === 'wasm';
const skip = !isWasm && 'CRA_JS_IMPL=wasm only';
const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
const { TraceShipper } = cra;

before(() => {
  if (!isWasm) return;
  // Fails (does not skip) when the ingest cannot run: make test-wasm provides it.
  const problem = pythonProblem();
  assert.equal(problem, null, problem);
});

/** A resolver with `sessions` ended sessions of a few events each; returns {r, traceIds}. */
function agentRun(sessions, config = {}) {
  const r = new cra.Resolver(config);
  r.loadAtlas(SHOP);
  const traceIds = new Set();
  for (let i = 0; i < sessions; i++) {
    const s = `ship-${i}`;
    const res = r.resolve({ requester: { agent_id: `agent-${i % 3}`, session_id: s }, task: { goal: 'refund an order' } });
    traceIds.add(res.trace_id);
    r.execute({ requester: { agent_id: `agent-${i % 3}`, session_id: s }, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: {} } });
    r.endSession(s);
  }
  return { r, traceIds };
}

/** More sessions on the same resolver. */
function more(r, traceIds, from, n) {
  for (let i = from; i < from + n; i++) {
    const s = `ship-${i}`;
    traceIds.add(r.resolve({ requester: { agent_id: 'agent-x', session_id: s }, task: { goal: 'look up' } }).trace_id);
    r.endSession(s);
  }
}

async function until(cond, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The ingest holds exactly `traceIds`, with `events` events in all, each trace intact, and every
 * export verifies with `cra verify` (and the WASM verifier, requiring session ends).
 */
async function assertStored(base, traceIds, events, dir, { ended = true } = {}) {
  const stored = await storedTraces(base);
  assert.deepEqual(Object.keys(stored).sort(), [...traceIds].sort(), 'the stored traces are the resolver\'s');
  let n = 0;
  let all = '';
  for (const id of traceIds) {
    const t = stored[id];
    assert.equal(t.integrity, 'intact', `${id}: ${JSON.stringify(t)}`);
    n += t.events;
    const jsonl = await exportTrace(base, id);
    assert.equal(jsonl.toString().split('\n').length - 1, t.events);
    all += jsonl.toString();
  }
  assert.equal(n, events, 'every event stored exactly once');
  const file = path.join(dir, 'export.jsonl');
  fs.writeFileSync(file, all);
  const v = craVerify(file);
  assert.equal(v.status, 0, v.out);
  const report = cra.verifyTrace(all, { require_session_end: ended });
  assert.equal(report.ok, true, JSON.stringify(report.errors));
  assert.equal(report.events, events);
  return all;
}

test('options are checked (INVALID_CONFIG with a pointer); close() twice is CLOSED', { skip }, async () => {
  const r = new cra.Resolver();
  const bad = [
    [{ url: 'ftp://x/v1/traces' }, '/url'],
    [{ url: 'not a url' }, '/url'],
    [{ url: 'http://u:p@x/v1/traces' }, '/url'],
    [{ url: 'http://x/v1/traces', token: 'has space' }, '/token'],
    [{ url: 'http://x/v1/traces', compression: 'zstd' }, '/compression'],
    [{ url: 'http://x/v1/traces', batchMaxEvents: 0 }, '/batchMaxEvents'],
    [{ url: 'http://x/v1/traces', batchMaxEvents: 1.5 }, '/batchMaxEvents'],
    [{ url: 'http://x/v1/traces', maxQueueBytes: 1 << 30 }, '/maxQueueBytes'],
    [{ url: 'http://x/v1/traces', batchMaxBytes: 4 << 20, maxQueueBytes: 1 << 20 }, '/maxQueueBytes'],
    [{ url: 'http://x/v1/traces', backoffInitialMs: 500, backoffMaxMs: 100 }, '/backoffMaxMs'],
    [{ url: 'http://x/v1/traces', tenant: 'a b' }, '/tenant'],
    [{ url: 'http://x/v1/traces', retries: 3 }, '/retries'],
    [{ url: 'http://x/v1/traces', fetch: 'no' }, '/fetch'],
  ];
  for (const [o, pointer] of bad) {
    assert.throws(() => new TraceShipper(r, o), (e) => e instanceof cra.CraInvalidRequestError && e.code === 'INVALID_CONFIG' && e.pointer === pointer, JSON.stringify(o));
  }
  assert.throws(() => new TraceShipper({}, { url: 'http://x/v1/traces' }), cra.CraInvalidRequestError);
  const s = new TraceShipper(r, { url: 'http://127.0.0.1:9/v1/traces', intervalMs: 0 });
  assert.deepEqual(await s.close(), { ...s.stats(), closed: true });
  await assert.rejects(s.close(), (e) => e.code === 'CLOSED');
  await assert.rejects(s.pump(), (e) => e.code === 'CLOSED');
  await assert.rejects(s.flush(), (e) => e.code === 'CLOSED');
  assert.equal(s.stats().closed, true);
  r.free();
});

test('the ingest down, then up: nothing lost, nothing stored twice, the stored traces verify', { skip, timeout: 180_000 }, async () => {
  const dir = workDir();
  const port = await freePort(); // nothing listens there yet
  const retries = [];
  const { r, traceIds } = agentRun(30);
  const shipper = new TraceShipper(r, {
    url: `http://127.0.0.1:${port}/v1/traces`, token: 'ship-writer', batchMaxEvents: 40, batchMaxDelayMs: 50,
    intervalMs: 20, backoffInitialMs: 20, backoffMaxMs: 200, onRetry: (x) => retries.push(x),
  });
  let ingest;
  try {
    await until(() => retries.length >= 3, 'three failed attempts');
    assert.ok(retries.every((x) => x.status === null && /network error/.test(x.message)), JSON.stringify(retries.slice(0, 3)));
    assert.equal(shipper.stats().sentEvents, 0);
    more(r, traceIds, 30, 10); // recorded while the ingest is down
    ingest = await startIngest(dir, port);
    more(r, traceIds, 40, 10);
    await shipper.flush(60_000);
    const st = await shipper.close();
    const written = r.stats().trace.written;
    assert.equal(r.stats().trace.dropped, 0);
    assert.equal(st.dropped, 0);
    assert.equal(st.sentEvents, written);
    assert.equal(st.ingest.accepted, written);
    assert.equal(st.ingest.rejected, 0);
    assert.equal(st.ingest.held, 0, 'batches arrive in order');
    assert.ok(st.sentBatches >= written / 40, `${st.sentBatches} batches for ${written} events`);
    assert.ok(st.retried >= 3);
    assert.equal(st.queuedEvents, 0);
    await assertStored(ingest.base, traceIds, written, dir);
  } finally {
    r.free();
    if (ingest) await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lost acknowledgement: the batch is sent again, stored once (duplicates counted); gzip on the wire', { skip, timeout: 120_000 }, async () => {
  const dir = workDir();
  const ingest = await startIngest(dir);
  // The first POST reaches the ingest (stored, 202), but its answer never comes back.
  const px = await proxy(ingest.base, (n) => (n === 1 ? 'drop-answer' : 'forward'));
  const { r, traceIds } = agentRun(20);
  const shipper = new TraceShipper(r, { url: px.url, token: 'ship-writer', batchMaxEvents: 25, intervalMs: 0, backoffInitialMs: 10 });
  try {
    await shipper.flush(60_000);
    const st = await shipper.close();
    const written = r.stats().trace.written;
    const posts = px.seen.filter((x) => x.method === 'POST');
    assert.equal(posts[0].upstream, 202, 'the first batch was stored');
    assert.equal(posts[0].outcome, 'drop-answer');
    assert.ok(posts.every((x) => x.headers['content-encoding'] === 'gzip' && x.headers.authorization === 'Bearer ship-writer'));
    assert.equal(st.retried, 1);
    assert.equal(st.ingest.duplicate, 25, 'the resent batch was recognized');
    // The first batch's acceptance never reached the shipper; its resend came back as duplicates.
    assert.equal(st.ingest.accepted + st.ingest.duplicate, written);
    assert.equal(st.sentEvents, written);
    assert.equal(st.dropped, 0);
    await assertStored(ingest.base, traceIds, written, dir);
  } finally {
    r.free();
    await px.close();
    await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('429 with Retry-After: the batch waits as told, then goes through; compression none', { skip, timeout: 120_000 }, async () => {
  const dir = workDir();
  const ingest = await startIngest(dir);
  const px = await proxy(ingest.base, (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"error":{"code":"held_full","message":"slow down"}}' } : 'forward'));
  const { r, traceIds } = agentRun(10);
  const retries = [];
  // A backoff this small would retry within milliseconds: only Retry-After makes it wait 1 s.
  const shipper = new TraceShipper(r, { url: px.url, token: 'ship-writer', compression: 'none', intervalMs: 0, backoffInitialMs: 1, backoffMaxMs: 5, onRetry: (x) => retries.push(x) });
  try {
    await shipper.flush(60_000);
    const st = await shipper.close();
    const written = r.stats().trace.written;
    assert.equal(retries.length, 1);
    assert.equal(retries[0].status, 429);
    assert.equal(retries[0].delayMs, 1000, 'Retry-After replaces the backoff');
    assert.match(retries[0].message, /HTTP 429.*slow down/);
    const posts = px.seen.filter((x) => x.method === 'POST');
    assert.equal(posts.length, 2);
    // A lower bound only (the shipper may be late, never early).
    assert.ok(posts[1].at - posts[0].at >= 950, `resent after ${posts[1].at - posts[0].at} ms`);
    assert.equal(posts[1].headers['content-encoding'], undefined);
    assert.equal(st.lastStatus, 202);
    assert.equal(st.sentEvents, written);
    await assertStored(ingest.base, traceIds, written, dir);
  } finally {
    r.free();
    await px.close();
    await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('401 (wrong token): not retried, every batch dropped and reported, nothing stored', { skip, timeout: 120_000 }, async () => {
  const dir = workDir();
  const ingest = await startIngest(dir);
  const px = await proxy(ingest.base);
  const { r } = agentRun(10);
  const reports = [];
  const retries = [];
  const shipper = new TraceShipper(r, { url: px.url, token: 'not-a-token', batchMaxEvents: 20, intervalMs: 0, onError: (x) => reports.push(x), onRetry: (x) => retries.push(x) });
  try {
    await shipper.flush(60_000); // settles: refused batches are dropped, not retried
    const st = await shipper.close();
    const written = r.stats().trace.written;
    const posts = px.seen.filter((x) => x.method === 'POST');
    assert.ok(posts.length >= 2);
    assert.ok(posts.every((x) => x.upstream === 401));
    assert.equal(retries.length, 0);
    assert.equal(st.retried, 0);
    assert.equal(st.sentEvents, 0);
    assert.equal(st.dropped, written);
    assert.equal(st.rejectedBatches, posts.length);
    assert.equal(reports.length, posts.length);
    assert.ok(reports.every((x) => x.kind === 'refused' && x.status === 401), JSON.stringify(reports[0]));
    assert.equal(reports.reduce((n, x) => n + x.events, 0), written);
    assert.match(st.lastError, /HTTP 401/);
    assert.deepEqual(await storedTraces(ingest.base), {});
  } finally {
    r.free();
    await px.close();
    await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a full queue stops draining (events wait in the resolver), a full resolver drops with a gap; all of it verifies', { skip, timeout: 180_000 }, async () => {
  const dir = workDir();
  const port = await freePort();
  const maxQueueBytes = 64 * 1024;
  // A small resolver buffer too: what does not fit is dropped before chaining, counted and
  // recorded as trace.gap in the chain.
  const { r, traceIds } = agentRun(0, { trace: { memory_limit_bytes: 256 * 1024, overflow: 'drop' } });
  const shipper = new TraceShipper(r, { url: `http://127.0.0.1:${port}/v1/traces`, token: 'ship-writer', maxQueueBytes, batchMaxBytes: 16 * 1024, intervalMs: 10, backoffInitialMs: 20, backoffMaxMs: 100, onError: () => {} });
  let ingest;
  try {
    // One long session (its chain stays open) plus many short ones.
    r.resolve({ requester: { agent_id: 'long', session_id: 'long' }, task: { goal: 'g' } });
    for (let i = 0; i < 300; i++) more(r, traceIds, 100 + i, 1);
    await until(() => shipper.stats().queueFull > 0, 'a full queue');
    const st0 = shipper.stats();
    // The bound, passed by at most one event (a drain returns a whole event).
    assert.ok(st0.queuedBytes <= maxQueueBytes + 16 * 1024, `${st0.queuedBytes} bytes queued`);
    assert.ok(r.stats().memory.trace_buffer_bytes > 0, 'the rest waits in the resolver');
    for (let i = 0; i < 600; i++) more(r, traceIds, 1000 + i, 1);
    const dropped = r.stats().trace.dropped;
    assert.ok(dropped > 0, 'the resolver buffer overflowed');
    assert.equal(shipper.stats().sourceDropped, dropped);
    traceIds.add(r.resolve({ requester: { agent_id: 'long', session_id: 'long' }, task: { goal: 'g' } }).trace_id);
    r.endSession('long');
    ingest = await startIngest(dir, port);
    await shipper.flush(120_000);
    const st = await shipper.close();
    assert.equal(st.dropped, 0, 'the shipper itself dropped nothing');
    const written = r.stats().trace.written;
    assert.equal(st.sentEvents, written);
    // Sessions dropped whole never reach the ingest; every trace that did is intact, and the
    // long one carries the gap.
    const stored = await storedTraces(ingest.base);
    const reached = [...traceIds].filter((t) => stored[t]);
    assert.ok(reached.length > 0 && reached.length <= traceIds.size);
    // (Sessions whose session.ended was dropped do not end in the chain.)
    const all = await assertStored(ingest.base, new Set(reached), written, dir, { ended: false });
    assert.match(all, /"event_type":"trace\.gap"/, 'the loss is recorded in the chains');
  } finally {
    r.free();
    if (ingest) await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('close() with the ingest down: undelivered events are dropped, counted and reported; it rejects', { skip, timeout: 60_000 }, async () => {
  const port = await freePort();
  const { r } = agentRun(5);
  const reports = [];
  const shipper = new TraceShipper(r, { url: `http://127.0.0.1:${port}/v1/traces`, intervalMs: 0, backoffInitialMs: 10, onError: (x) => reports.push(x) });
  try {
    await assert.rejects(shipper.flush(300), (e) => e.code === 'TIMEOUT' && /network error/.test(e.message));
    const queued = shipper.stats().queuedEvents;
    assert.equal(queued, r.stats().trace.written, 'a flush timeout loses nothing');
    await assert.rejects(shipper.close(200), (e) => e.code === 'TIMEOUT' && new RegExp(`${queued} undelivered events were dropped`).test(e.message));
    const st = shipper.stats();
    assert.equal(st.dropped, queued);
    assert.equal(st.queuedEvents, 0);
    assert.deepEqual(reports.map((x) => [x.kind, x.events]), [['dropped_on_close', queued]]);
  } finally {
    r.free();
  }
});

test('a sender that never comes back (as in a Workers request that ended mid-fetch) is taken over; order kept', { skip, timeout: 120_000 }, async () => {
  const dir = workDir();
  const ingest = await startIngest(dir);
  const { r, traceIds } = agentRun(12);
  let calls = 0;
  const seenFirstLines = [];
  // The first request never settles and ignores its abort signal (its context is gone).
  const fetchLike = (url, init) => {
    calls++;
    seenFirstLines.push(Buffer.from(init.body).toString().split('\n')[0].slice(0, 120));
    return calls === 1 ? new Promise(() => {}) : fetch(url, init);
  };
  const shipper = new TraceShipper(r, { url: ingest.url, token: 'ship-writer', compression: 'none', batchMaxEvents: 20, intervalMs: 0, timeoutMs: 100, fetch: fetchLike });
  try {
    // pump() becomes the sender and is stuck in the request; it times out (false).
    assert.equal(await shipper.pump(300), false);
    assert.equal(calls, 1);
    // A later caller waits until the stuck sender counts as gone (timeoutMs + 5 s), then sends
    // the same first batch again, then the rest, in order.
    await shipper.flush(60_000);
    const st = await shipper.close();
    const written = r.stats().trace.written;
    assert.equal(seenFirstLines[0], seenFirstLines[1], 'the batch of the gone sender is sent first');
    assert.equal(st.sentEvents, written);
    assert.equal(st.ingest.held, 0);
    await assertStored(ingest.base, traceIds, written, dir);
  } finally {
    r.free();
    await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function workerdBinary() {
  if (process.env.CRA_WORKERD) return process.env.CRA_WORKERD;
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@cloudflare/workerd-linux-64/package.json')), 'bin/workerd');
}

test('Cloudflare Workers: a Worker in workerd ships its trace to the ingest (concurrent requests, waitUntil)', { skip, timeout: 180_000 }, async () => {
  const dir = workDir();
  const ingest = await startIngest(dir);
  const wdir = path.join(dir, 'worker');
  // The package as a consumer would have it, through its `workerd` export condition.
  const pkg = process.env.CRA_WASM_PKG || path.join(repo, 'bindings/wasm/pkg');
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  const entry = manifest.exports['.'].workerd.replace(/^\.\//, '');
  const modules = [];
  for (const f of manifest.files) {
    const dst = path.join(wdir, 'node_modules/@cra/wasm', f);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(path.join(pkg, f), dst);
    if (f.startsWith('bundler/') || !/\.(js|wasm)$/.test(f)) continue;
    modules.push(`(name = "node_modules/@cra/wasm/${f}", ${f.endsWith('.wasm') ? 'wasm' : 'esModule'} = embed "node_modules/@cra/wasm/${f}")`);
  }
  fs.writeFileSync(path.join(wdir, 'worker.js'), `import { Resolver, TraceShipper } from './node_modules/@cra/wasm/${entry}';
const atlas = ${JSON.stringify(JSON.stringify(SHOP))};
let cra, shipper;
const reports = [];
export default {
  async fetch(request, env, ctx) {
    if (!cra) {
      cra = new Resolver();
      cra.loadAtlas(atlas);
      // One per isolate; no timer in Workers (intervalMs defaults to 0 there): every request ships.
      shipper = new TraceShipper(cra, { url: env.INGEST_URL, token: env.INGEST_TOKEN, batchMaxEvents: 8, onError: (r) => reports.push(r) });
    }
    const url = new URL(request.url);
    if (url.pathname === '/flush') {
      await shipper.flush(30000);
      return Response.json({ stats: shipper.stats(), written: cra.stats().trace.written, reports, ua: navigator.userAgent });
    }
    const session = url.searchParams.get('s');
    const res = cra.resolve({ requester: { agent_id: 'edge-bot', session_id: session }, task: { goal: 'look up an order' } });
    cra.endSession(session);
    ctx.waitUntil(shipper.flush(30000));
    return Response.json({ trace_id: res.trace_id });
  },
};
`);
  const port = await freePort();
  fs.writeFileSync(path.join(wdir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .cra),
    # The default outbound network allows public addresses only; the ingest is on 127.0.0.1.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const cra :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    ${modules.join(',\n    ')}
  ],
  bindings = [
    (name = "INGEST_URL", text = "${ingest.url}"),
    (name = "INGEST_TOKEN", text = "ship-writer"),
  ],
  compatibilityDate = "2024-09-23",
);
`);
  const proc = spawn(workerdBinary(), ['serve', path.join(wdir, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (d) => (out += d));
  proc.stdout.on('data', (d) => (out += d));
  try {
    const base = `http://127.0.0.1:${port}`;
    let first;
    for (let i = 0; i < 300 && !first; i++) {
      if (proc.exitCode !== null) assert.fail(`workerd exited ${proc.exitCode}: ${out}`);
      let res;
      try {
        res = await fetch(`${base}/?s=edge-0`);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const text = await res.text();
      assert.equal(res.status, 200, `${text}\n${out}`);
      first = JSON.parse(text);
    }
    assert.ok(first && first.trace_id, `workerd did not answer: ${out}`);
    const traceIds = new Set([first.trace_id]);
    // Requests that overlap in the isolate: each one's waitUntil flush shares the one sender.
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => fetch(`${base}/?s=edge-${1 + round * 5 + i}`).then(async (r) => {
        const text = await r.text();
        assert.equal(r.status, 200, `${text}\n${out}`);
        return JSON.parse(text);
      })));
      for (const a of answers) traceIds.add(a.trace_id);
    }
    const res = await fetch(`${base}/flush`);
    const text = await res.text();
    assert.equal(res.status, 200, `${text}\n${out}`);
    const body = JSON.parse(text);
    assert.equal(body.ua, 'Cloudflare-Workers');
    assert.deepEqual(body.reports, []);
    assert.equal(body.stats.dropped, 0);
    assert.equal(body.stats.sentEvents, body.written);
    assert.ok(body.stats.sentBatches > 1);
    assert.equal(body.stats.ingest.accepted + body.stats.ingest.duplicate, body.written);
    assert.doesNotMatch(out, /Cannot perform I\/O on behalf of a different request/);
    await assertStored(ingest.base, traceIds, body.written, dir);
  } finally {
    proc.kill();
    await ingest.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
