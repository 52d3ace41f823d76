// Builds nothing: run `npm run build` (make test-node-gyp) first. Resolves through the C addon.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const cra = require('./build/Release/cra_example.node');

const repo = path.resolve(__dirname, '../..');
const atlas = fs.readFileSync(path.join(repo, 'examples/atlases/devops/atlas.json'), 'utf8');
const shop = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;

test('versions', () => {
  assert.match(cra.version(), /^\d+\.\d+\.\d+/);
  assert.equal(typeof cra.abiVersion(), 'number');
});

test('load an atlas and resolve a request through libcra', () => {
  const r = cra.newResolver('{"deterministic": {"seed": 1}}');
  const info = JSON.parse(cra.loadAtlas(r, JSON.stringify(shop)));
  assert.equal(info.atlas_id, 'com.example.shop');
  const res = JSON.parse(cra.resolve(r, JSON.stringify({ requester: { agent_id: 'a1', session_id: 's1' }, task: { goal: 'refund an order' } })));
  assert.equal(res.resolution_id, '00000001-0000-7000-8000-000000000004');
  assert.deepEqual(res.allowed_actions.map((a) => a.action_id).sort(), ['orders.get', 'orders.refund']);
  const ans = JSON.parse(cra.execute(r, JSON.stringify({ requester: { agent_id: 'a1', session_id: 's1' }, execution: { resolution_id: res.resolution_id, action_id: 'orders.delete', parameters: {} } })));
  assert.equal(ans.status, 'denied');
});

test('errors carry the stable code and the JSON pointer', () => {
  const r = cra.newResolver('');
  assert.throws(() => cra.resolve(r, '{"requester": {"agent_id": "a", "session_id": "s"}, "task": {"goal": "g"}, "bogus": 1}'), (e) => e.code === 'INVALID_REQUEST' && e.pointer === '/bogus');
  assert.throws(() => cra.newResolver('{"resolution_ttl_seconds": 0}'), (e) => e.code === 'INVALID_CONFIG');
  assert.throws(() => cra.loadAtlas(r, atlas), (e) => e.code === 'INVALID_ATLAS');
  assert.throws(() => cra.resolve({}, '{}'), TypeError);
});
