// explain, loadShadow / loadShadowDir / unloadShadow (issue 14) through the JS API, run against the
// implementation chosen by CRA_JS_IMPL (native | wasm): answers as plain objects, the same with
// objects and JSON text, and every failure path with its class, code and pointer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cra, repo, implName } from '../impl.mjs';

const fixtures = (rel) => JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases', rel), 'utf8')).atlases;
const { shop: SHOP, ctx: CTX } = fixtures('explain/explain.json');
const { live: LIVE, candidate: CANDIDATE, same: SAME } = fixtures('shadow/shadow.json');
const det = () => new cra.Resolver({ deterministic: { seed: 1 } });
const req = (agent = 'support-1', extra = {}) => ({ requester: { agent_id: agent, session_id: 's' }, task: { goal: 'g' }, ...extra });
const code = (Cls, c, pointer) => (e) => {
  assert.ok(e instanceof Cls, `${e && e.name}: ${e && e.message}`);
  assert.ok(e instanceof cra.CraError);
  assert.equal(e.code, c, e.message);
  if (pointer !== undefined) assert.equal(e.pointer, pointer, e.message);
  return true;
};
const drainAll = (r) => {
  let t = '';
  for (let c; (c = r.drainTrace()) !== '';) t += c;
  return t;
};

// --- explain ----------------------------------------------------------------------------------

test('explain: the core answer as a plain object, every policy in ladder order', () => {
  const r = det();
  r.loadAtlas(SHOP);
  const x = r.explain(req(), 'orders.delete');
  assert.equal(Object.getPrototypeOf(x), Object.prototype);
  assert.equal(x.action_id, 'orders.delete');
  assert.equal(x.atlas_id, 'com.example.shop');
  assert.equal(x.verdict, 'denied');
  assert.equal(x.reason_code, 'policy_denied');
  assert.equal(x.policy_id, 'no-delete');
  assert.deepEqual(x.input, { agent_id: 'support-1', risk_tier: 'low', context: null });
  assert.deepEqual(x.policies.map((p) => [p.policy_id, p.type, p.pattern_matched, p.applies, p.decided]), [
    ['no-delete', 'deny', true, true, true],
    ['prod-refunds', 'require_approval', false, false, false],
    ['refund-limit', 'rate_limit', false, false, false],
    ['allow-orders', 'allow', true, true, false],
  ]);
  assert.equal(x.policies[0].note, 'decided the verdict');
  assert.deepEqual(x.policies[3].conditions, [{ kind: 'agents', held: true, expected: ['support-*'], saw: 'support-1' }]);
  for (const p of x.policies) assert.equal(typeof p.priority, 'number');
  r.free();
});

test('explain: object and JSON text give the same answer; context and scope change the verdict', () => {
  const r = det();
  r.loadAtlas(SHOP);
  const prod = req('support-1', { context: { env: 'prod' } });
  const a = r.explain(prod, 'orders.refund');
  assert.deepEqual(r.explain(JSON.stringify(prod), 'orders.refund'), a);
  assert.equal(a.verdict, 'pending_approval');
  assert.equal(a.reason_code, 'approval_required');
  assert.equal(a.policy_id, 'prod-refunds');
  assert.deepEqual(a.input.context, { env: 'prod' });
  const dev = r.explain(req('support-1', { context: { env: 'dev' } }), 'orders.refund');
  assert.equal(dev.verdict, 'allowed');
  assert.equal(dev.reason_code, null);
  assert.equal(dev.policy_id, 'allow-orders');
  // default deny: the allow's agents condition shows what it saw
  const intruder = r.explain(req('intruder'), 'orders.get');
  assert.equal(intruder.verdict, 'denied');
  assert.equal(intruder.reason_code, 'default_deny');
  assert.equal(intruder.policy_id, null);
  assert.deepEqual(intruder.policies.find((p) => p.policy_id === 'allow-orders').conditions[0], {
    kind: 'agents', held: false, expected: ['support-*'], saw: 'intruder',
  });
  // out of the request's scope, policies still shown
  const scoped = r.explain({ ...req(), task: { goal: 'g', required_capabilities: ['nothing'] } }, 'orders.get');
  assert.equal(scoped.verdict, 'not_in_scope');
  assert.equal(scoped.policies.length, 4);
  r.free();
});

test('explain records and consumes nothing', () => {
  const r = det();
  r.loadAtlas(SHOP);
  for (let i = 0; i < 3; i++) assert.equal(r.explain(req(), 'orders.refund').verdict, 'allowed');
  const st = r.stats();
  assert.equal(st.sessions, 0);
  assert.equal(st.resolves, 0);
  assert.equal(drainAll(r), '');
  // the deterministic ids did not move: the first resolution is still the fourth id
  assert.equal(r.resolve(req()).resolution_id, '00000001-0000-7000-8000-000000000004');
  r.free();
});

test('explain: failure paths (unknown action, bad request, unloaded atlas_ids, arguments)', () => {
  const r = det();
  r.loadAtlas(SHOP);
  r.loadAtlas(CTX);
  // an action no loaded atlas declares
  assert.throws(() => r.explain(req(), 'nope.nothing'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/action_id'));
  assert.throws(() => r.explain(req(), ''), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/action_id'));
  // the action id must be a string with a UTF-8 form
  for (const bad of [undefined, null, 42, {}, ['orders.get']]) {
    assert.throws(() => r.explain(req(), bad), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/action_id'), String(bad));
  }
  assert.throws(() => r.explain(req(), 'orders.get\ud800'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/action_id'));
  // bad requests, refused as resolve refuses them
  assert.throws(() => r.explain({ ...req(), bogus: 1 }, 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/bogus'));
  assert.throws(() => r.explain('{"requester":', 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST'));
  assert.throws(() => r.explain(undefined, 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST'));
  assert.throws(() => r.explain({ requester: { agent_id: 'a', session_id: 's' } }, 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/task'));
  assert.throws(() => r.explain({ ...req(), task: { goal: 'x\udc00' } }, 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/task/goal'));
  // an execute request is not a resolve request
  const exec = { requester: { agent_id: 'a', session_id: 's' }, execution: { resolution_id: 'r', action_id: 'orders.get', parameters: {} } };
  assert.throws(() => r.explain(exec, 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/task'));
  assert.throws(() => r.explain({ ...exec, operation: 'execute' }, 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST'));
  // the context schema refuses it exactly as resolve does
  assert.throws(() => r.explain(req('a'), 'ctx.run'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/context'));
  assert.throws(() => r.resolve(req('a')), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/context'));
  assert.equal(r.explain(req('a', { context: { env: 'prod' } }), 'ctx.run').verdict, 'pending_approval');
  // an atlas_ids entry that is not loaded
  assert.throws(() => r.explain(req('support-1', { atlas_ids: ['com.none.loaded'] }), 'orders.get'), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_ids/0'));
  // over the request bound: refused before the engine
  const big = req('support-1', { context: { blob: 'x'.repeat((1 << 20) + 1) } });
  assert.throws(() => r.explain(big, 'orders.get'), code(cra.CraInvalidRequestError, 'LIMIT_EXCEEDED'));
  // after unloading the atlas, its actions are unknown
  r.unloadAtlas('com.example.shop');
  assert.throws(() => r.explain(req(), 'orders.get'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/action_id'));
  r.free();
  assert.throws(() => r.explain(req(), 'orders.get'), code(cra.CraRuntimeError, 'CLOSED'));
});

// --- shadow mode ------------------------------------------------------------------------------

test('loadShadow: live verdicts enforced, each difference a policy.shadow_diff event, counted', () => {
  const r = det();
  r.loadAtlas(LIVE);
  const info = r.loadShadow(CANDIDATE);
  assert.equal(Object.getPrototypeOf(info), Object.prototype);
  assert.deepEqual(info, { atlas_id: 'com.example.ops', version: '1.1.0', actions: 3, policies: 3, context_packs: 0, capabilities: 0, replaced: false, warnings: [] });
  const res = r.resolve({ requester: { agent_id: 'bot', session_id: 's' }, task: { goal: 'g' } });
  // the live atlas decides: ops.restart stays allowed although the candidate gates it
  assert.deepEqual(res.allowed_actions.map((a) => a.action_id), ['ops.status', 'ops.restart']);
  assert.deepEqual(res.pending_actions, []);
  const ans = r.execute({ requester: { agent_id: 'bot', session_id: 's' }, execution: { resolution_id: res.resolution_id, action_id: 'ops.restart', parameters: {} } });
  assert.equal(ans.status, 'authorized');
  const st = r.stats();
  assert.equal(st.shadows, 1);
  assert.equal(st.shadow_diffs, 2);
  const trace = drainAll(r);
  const diffs = trace.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.event_type === 'policy.shadow_diff');
  assert.deepEqual(diffs.map((e) => e.payload.operation), ['resolve', 'execute']);
  for (const e of diffs) {
    assert.equal(e.payload.resolution_id, res.resolution_id);
    assert.deepEqual(e.payload.diffs, [{
      action_id: 'ops.restart', atlas_id: 'com.example.ops', live: 'allowed', live_policy_id: 'allow-all',
      shadow: 'pending_approval', shadow_policy_id: 'gate-restart', shadow_version: '1.1.0',
    }]);
  }
  assert.equal(cra.verifyTrace(trace).ok, true);
  r.free();
});

test('loadShadow: object and JSON text; replacing a shadow; identical verdicts record nothing', () => {
  const r = det();
  r.loadAtlas(LIVE);
  assert.equal(r.loadShadow(JSON.stringify(SAME)).replaced, false);
  r.resolve({ requester: { agent_id: 'bot', session_id: 's' }, task: { goal: 'g' } });
  assert.equal(r.stats().shadow_diffs, 0);
  assert.ok(!drainAll(r).includes('policy.shadow_diff'));
  const again = r.loadShadow(CANDIDATE);
  assert.equal(again.replaced, true);
  assert.equal(again.version, '1.1.0');
  assert.equal(r.stats().shadows, 1);
  r.resolve({ requester: { agent_id: 'bot', session_id: 's2' }, task: { goal: 'g' } });
  assert.equal(r.stats().shadow_diffs, 1);
  r.free();
});

test('unloadShadow: stops the comparisons, keeps the live atlas; unloading twice or without a shadow is ATLAS_NOT_FOUND', () => {
  const r = det();
  r.loadAtlas(LIVE);
  // a live atlas that has no shadow
  assert.throws(() => r.unloadShadow('com.example.ops'), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
  // an atlas id nothing knows
  assert.throws(() => r.unloadShadow('com.example.none'), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
  r.loadShadow(CANDIDATE);
  assert.deepEqual(r.unloadShadow('com.example.ops'), { atlas_id: 'com.example.ops', unloaded: true });
  assert.throws(() => r.unloadShadow('com.example.ops'), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
  const st = r.stats();
  assert.equal(st.shadows, 0);
  assert.equal(st.atlases, 1);
  r.resolve({ requester: { agent_id: 'bot', session_id: 's' }, task: { goal: 'g' } });
  assert.equal(r.stats().shadow_diffs, 0);
  // arguments
  for (const bad of [undefined, null, 7, {}]) {
    assert.throws(() => r.unloadShadow(bad), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/atlas_id'), String(bad));
  }
  assert.throws(() => r.unloadShadow('com.example.ops\ud800'), code(cra.CraInvalidRequestError, 'INVALID_REQUEST', '/atlas_id'));
  r.free();
  assert.throws(() => r.unloadShadow('com.example.ops'), code(cra.CraRuntimeError, 'CLOSED'));
});

test('loadShadow: failure paths (no live atlas, invalid atlas, no JSON form, limit)', () => {
  const r = det();
  // the shadow of an atlas that is not loaded
  assert.throws(() => r.loadShadow(CANDIDATE), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
  assert.throws(() => r.loadShadow(JSON.stringify(CANDIDATE)), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
  r.loadAtlas(SHOP);
  assert.throws(() => r.loadShadow(CANDIDATE), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
  assert.equal(r.stats().shadows, 0);
  r.loadAtlas(LIVE);
  // an invalid candidate: every problem in details, nothing loaded
  assert.throws(() => r.loadShadow({ ...CANDIDATE, actions: 'nope' }), (e) => {
    code(cra.CraAtlasError, 'INVALID_ATLAS')(e);
    assert.ok(e.details.length >= 1);
    return true;
  });
  assert.throws(() => r.loadShadow('{"atlas_id":'), code(cra.CraAtlasError, 'INVALID_ATLAS'));
  assert.throws(() => r.loadShadow({ ...CANDIDATE, name: 'x\ud800' }), (e) => {
    code(cra.CraAtlasError, 'INVALID_ATLAS')(e);
    assert.equal(e.details[0].pointer, '/name');
    return true;
  });
  assert.throws(() => r.loadShadow(undefined), code(cra.CraInvalidRequestError, 'INVALID_REQUEST'));
  assert.throws(() => r.loadShadow({ ...CANDIDATE, description: 'x'.repeat((16 << 20) + 1) }), code(cra.CraInvalidRequestError, 'LIMIT_EXCEEDED'));
  assert.equal(r.stats().shadows, 0);
  r.free();
  assert.throws(() => r.loadShadow(CANDIDATE), code(cra.CraRuntimeError, 'CLOSED'));
});

test('loadShadowDir: a directory (native) / IO_ERROR without a file system (wasm)', () => {
  const r = det();
  const dir = path.join(repo, 'examples/atlases/customer-support');
  assert.throws(() => r.loadShadowDir(42), code(cra.CraInvalidRequestError, 'INVALID_REQUEST'));
  if (implName === 'native') {
    // no live atlas with that id yet
    assert.throws(() => r.loadShadowDir(dir), code(cra.CraAtlasError, 'ATLAS_NOT_FOUND', '/atlas_id'));
    r.loadAtlasDir(dir);
    const info = r.loadShadowDir(dir);
    assert.equal(info.atlas_id, 'com.example.customer-support');
    assert.equal(info.replaced, false);
    assert.equal(r.loadShadowDir(path.join(dir, 'atlas.json')).replaced, true);
    // the same atlas judges as the live one: no differences
    r.resolve({ requester: { agent_id: 'support-bot', session_id: 's' }, task: { goal: 'refund order ORD-1001' } });
    assert.equal(r.stats().shadow_diffs, 0);
    const missing = path.join(os.tmpdir(), 'cra-no-such-atlas-dir');
    assert.throws(() => r.loadShadowDir(missing), (e) => e instanceof cra.CraError && (e.code === 'IO_ERROR' || e.code === 'INVALID_ATLAS'));
  } else {
    assert.throws(() => r.loadShadowDir(dir), code(cra.CraRuntimeError, 'IO_ERROR'));
  }
  r.free();
  assert.throws(() => r.loadShadowDir(dir), code(cra.CraRuntimeError, 'CLOSED'));
});
