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
    assert.throws(() => cra._testingPanic(), (e) => e instanceof cra.CraInternalError && /trap/.test(e.message));
    assert.throws(() => bystander.resolve(req), (e) => e instanceof cra.CraInternalError && /trapped/.test(e.message));
  }
  assert.ok(true, 'the process is still alive');
});
