// Panics never crash the host. Uses the `testing` builds (a cargo feature adds an export that
// panics): bindings/node/testing/*.node (make build-node-testing) and bindings/wasm/pkg-testing
// (make build-wasm-testing). Each test file runs in its own process, so the env set here only
// affects this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const impl = process.env.CRA_JS_IMPL || 'native';
const addon = path.join(repo, 'bindings/node/testing/cra.linux-x64-gnu.node');
const wasmPkg = path.join(repo, 'bindings/wasm/pkg-testing');
if (impl === 'native') process.env.CRA_NODE_ADDON ||= addon;
else process.env.CRA_WASM_PKG ||= wasmPkg;
const { cra } = await import('../impl.mjs');

const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
const req = { requester: { agent_id: 'a1', session_id: 's1' }, task: { goal: 'do the task' } };

test('the testing build is loaded', () => {
  assert.equal(typeof cra._testingPanic, 'function', 'build it with make build-node-testing / build-wasm-testing');
});

test('a panic becomes CraInternalError, never a crash', { skip: !cra._testingPanic }, () => {
  const victim = new cra.Resolver();
  const bystander = new cra.Resolver();
  bystander.loadAtlas(SHOP);
  if (impl === 'native') {
    assert.throws(() => cra._testingPanic(victim), (e) => e instanceof cra.CraInternalError && e.code === 'INTERNAL' && /panic/.test(e.message));
    // That resolver is poisoned; the others keep working.
    assert.throws(() => victim.loadAtlas(SHOP), (e) => e instanceof cra.CraInternalError && /panic/.test(e.message));
    assert.equal(bystander.resolve(req).allowed_actions.length, 2);
    assert.equal(new cra.Resolver().loadAtlas(SHOP).atlas_id, 'com.example.shop');
  } else {
    // On wasm32 a Rust panic aborts the instance (a WebAssembly trap). The JS layer turns it into
    // CraInternalError and refuses further calls on that instance rather than run on memory a
    // half-finished call may have left inconsistent.
    assert.throws(() => cra._testingPanic(), (e) => e instanceof cra.CraInternalError && /trap/.test(e.message) && e.trap === true);
    assert.throws(() => bystander.resolve(req), (e) => e instanceof cra.CraInternalError && /trapped/.test(e.message) && e.trap === true);
    assert.throws(() => new cra.Resolver(), (e) => e instanceof cra.CraInternalError && /recover\(\)/.test(e.message));
  }
  assert.ok(true, 'the process is still alive');
});

test('after a trap, recover() instantiates the module again; resolvers made before stay unusable', { skip: impl !== 'wasm' || !cra._testingPanic }, async () => {
  cra.recover(); // the test above left the instance trapped
  const old = new cra.Resolver();
  old.loadAtlas(SHOP);
  assert.throws(() => cra._testingPanic(), (e) => e.code === 'INTERNAL');
  cra.recover();
  const fresh = new cra.Resolver({ deterministic: { seed: 1 } });
  fresh.loadAtlas(SHOP);
  assert.equal(fresh.resolve(req).allowed_actions.length, 2);
  await fresh.flush();
  assert.equal(cra.verifyTrace(fresh.drainTrace()).ok, true);
  assert.throws(() => old.resolve(req), (e) => e instanceof cra.CraRuntimeError && e.code === 'CLOSED' && /recover/.test(e.message));
  old.free(); // nothing to free in the replaced instance; never touches the new one
  old.free();
  // recover() also works without a trap, and twice in a row.
  cra.recover();
  cra.recover();
  assert.throws(() => fresh.stats(), (e) => e.code === 'CLOSED');
  assert.equal(new cra.Resolver().resolve(req).resolution_id.length, 36);
});

test('resolvers of a replaced instance that the garbage collector finalizes never free memory of the new one', { skip: impl !== 'wasm' || !cra._testingPanic, timeout: 120_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const script = `
    process.env.CRA_JS_IMPL = 'wasm';
    process.env.CRA_WASM_PKG = ${JSON.stringify(wasmPkg)};
    const { cra } = await import(${JSON.stringify(path.join(repo, 'bindings/js-tests/impl.mjs'))});
    const atlas = ${JSON.stringify(JSON.stringify(SHOP))};
    const req = ${JSON.stringify(JSON.stringify(req))};
    (() => { for (let i = 0; i < 200; i++) { const r = new cra.Resolver(); r.loadAtlas(atlas); r.resolve(req); } })();
    try { cra._testingPanic(); } catch (_) {}
    cra.recover();
    const keep = [];
    for (let i = 0; i < 50; i++) { const r = new cra.Resolver({ deterministic: { seed: i } }); r.loadAtlas(atlas); keep.push(r); }
    for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    let ok = 0;
    for (const r of keep) { for (let j = 0; j < 20; j++) r.resolve(req); await r.flush(); if (cra.verifyTrace(r.drainTrace()).ok) ok++; r.free(); }
    console.log(JSON.stringify({ ok }));`;
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 100_000 });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout.trim().split('\n').pop()), { ok: 50 });
});
