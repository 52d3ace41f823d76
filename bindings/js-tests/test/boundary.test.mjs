// The JS boundary refuses what has no faithful form, the same way for objects and for JSON text
// (issue 19, finding 6), and bounds what crosses it (finding 3: the 1 MiB request limit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cra, repo, implName } from '../impl.mjs';

const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
const who = { agent_id: 'a1', session_id: 's1' };
const det = () => {
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  r.loadAtlas(SHOP);
  return r;
};
const code = (c, pointer) => (e) => {
  assert.ok(e instanceof cra.CraError, `${e}`);
  assert.equal(e.code, c, e.message);
  if (pointer !== undefined) assert.equal(e.pointer, pointer, e.message);
  return true;
};

test('a lone surrogate is refused with INVALID_REQUEST and its pointer, in objects and in JSON text', () => {
  const r = det();
  const lone = ['\ud800', '\udfff', 'a\ud83d', '\ude00b'];
  for (const s of lone) {
    const obj = { requester: who, task: { goal: `x${s}y` } };
    assert.throws(() => r.resolve(obj), code('INVALID_REQUEST', '/task/goal'));
    // The same request as JSON text with the raw code unit, and with a \u escape.
    const raw = `{"requester":{"agent_id":"a1","session_id":"s1"},"task":{"goal":"x${s}y"}}`;
    assert.throws(() => r.resolve(raw), code('INVALID_REQUEST', '/task/goal'));
    assert.throws(() => r.resolve(JSON.stringify(obj)), code('INVALID_REQUEST', '/task/goal'));
  }
  // Deeper, in arrays and in member names; execute parameters too.
  const res = r.resolve({ requester: who, task: { goal: 'ok' } });
  const exec = (parameters) => ({ requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters } });
  assert.throws(() => r.execute(exec({ list: ['fine', 'bad\ud800'] })), code('INVALID_REQUEST', '/execution/parameters/list/1'));
  assert.throws(() => r.execute(exec({ ['k\udc00']: 1 })), code('INVALID_REQUEST', '/execution/parameters/k\ufffd'));
  // Escaped backslashes are not escapes: "\\ud800" is the six characters \ud800, which is fine.
  assert.equal(r.resolve('{"requester":{"agent_id":"a1","session_id":"s1"},"task":{"goal":"\\\\ud800"}}').resolution_id.length, 36);
  // Well-formed pairs, raw or escaped, are kept.
  assert.equal(r.resolve({ requester: who, task: { goal: 'smile \ud83d\ude00' } }).resolution_id.length, 36);
  assert.equal(r.resolve('{"requester":{"agent_id":"a1","session_id":"s1"},"task":{"goal":"\\ud83d\\ude00"}}').resolution_id.length, 36);
  // In a configuration or an atlas, the code of that input.
  assert.throws(() => new cra.Resolver({ trace: { path: 'x\ud800' } }), code('INVALID_CONFIG', '/trace/path'));
  assert.throws(() => r.loadAtlas({ ...SHOP, name: 'n\ud800' }), (e) => code('INVALID_ATLAS')(e) && e.details[0].pointer === '/name');
});

test('undefined and values with no JSON form are INVALID_REQUEST, never INTERNAL', () => {
  const r = det();
  for (const v of [undefined, () => 1, Symbol('s'), 10n, (() => { const o = {}; o.o = o; return o; })()]) {
    assert.throws(() => r.resolve(v), code('INVALID_REQUEST'));
    assert.throws(() => r.execute(v), code('INVALID_REQUEST'));
    assert.throws(() => r.report(v), code('INVALID_REQUEST'));
    assert.throws(() => r.loadAtlas(v), code('INVALID_REQUEST'));
  }
  assert.throws(() => r.resolve(), code('INVALID_REQUEST'));
  assert.throws(() => r.check(undefined, 'orders.get'), code('INVALID_REQUEST'));
  assert.throws(() => r.check('s1', 5), code('INVALID_REQUEST'));
  assert.throws(() => r.unloadAtlas(undefined), code('INVALID_REQUEST'));
  assert.throws(() => r.loadAtlasDir(undefined), code('INVALID_REQUEST'));
  assert.throws(() => r.endSession(undefined), code('INVALID_REQUEST'));
  assert.throws(() => r.advanceClock(NaN), code('INVALID_REQUEST'));
  assert.throws(() => new cra.Resolver(() => 1), code('INVALID_REQUEST'));
  assert.throws(() => cra.verifyTrace(undefined), code('INVALID_REQUEST'));
  assert.throws(() => cra.verifyTrace(42), code('INVALID_REQUEST'));
  assert.throws(() => cra.replay(undefined, []), code('INVALID_REQUEST'));
});

test('approve(id, {approver}) and reject(id, {approver, reason}); the approver is required', () => {
  const doc = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/approvals/approvals.json'), 'utf8'));
  const atlas = doc.atlases[Object.keys(doc.atlases)[0]];
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  r.loadAtlas(atlas);
  const kase = doc.cases.find((c) => c.steps.some((s) => s.op === 'execute' && s.expect && s.expect.status === 'pending_approval'));
  let pending;
  for (const s of kase.steps) {
    if (s.op === 'resolve') r.resolve(s.request);
    if (s.op === 'execute' && s.expect && s.expect.status === 'pending_approval') {
      pending = r.execute(s.request);
      break;
    }
  }
  assert.equal(pending.status, 'pending_approval');
  const id = pending.approval_id;
  const listed = r.listApprovals();
  assert.deepEqual(listed.map((a) => a.approval_id), [id]);
  assert.equal(listed[0].status, 'pending');
  assert.equal(listed[0].action_id, pending.action_id);
  assert.deepEqual(r.listApprovals({ status: ['approved'] }), []);
  assert.deepEqual(r.listApprovals('{"session_id":"nobody"}'), []);
  assert.throws(() => r.approve(id), code('INVALID_REQUEST', '/approver'));
  assert.throws(() => r.approve(id, 'alice'), code('INVALID_REQUEST', '/approver'));
  assert.throws(() => r.approve({ approval_id: id }), (e) => e instanceof cra.CraError && e.code !== 'INTERNAL');
  const a = r.approve(id, { approver: 'alice@example.com', reason: 'checked' });
  assert.equal(a.approval_id, id);
  assert.equal(a.status, 'approved');
  assert.equal(a.approver, 'alice@example.com');
  assert.throws(() => r.reject(id, { approver: 'bob' }), code('APPROVAL_ALREADY_DECIDED'));
  assert.deepEqual(r.listApprovals({ status: ['approved'] }).map((x) => x.approval_id), [id]);
  assert.throws(() => r.listApprovals({ bogus: 1 }), code('INVALID_REQUEST', '/bogus'));
});

test('flush: NaN and negatives are refused, Infinity is clamped to the documented maximum', async () => {
  const r = det();
  r.resolve({ requester: who, task: { goal: 'g' } });
  await assert.rejects(r.flush(NaN), code('INVALID_REQUEST'));
  await assert.rejects(r.flush(-1), code('INVALID_REQUEST'));
  await assert.rejects(r.flush('10'), code('INVALID_REQUEST'));
  await r.flush(Infinity); // waits as long as it takes, which is at once here
  await r.flush(0.5);
  assert.ok(r.drainEvents().length >= 3);
  assert.throws(() => r.drainTrace({ maxBytes: NaN }), code('INVALID_REQUEST'));
  assert.throws(() => r.drainTrace({ maxBytes: 0 }), code('INVALID_REQUEST'));
  assert.throws(() => r.drainTrace({ bogus: 1 }), code('INVALID_REQUEST', '/bogus'));
  assert.equal(r.drainTrace({ maxBytes: Infinity, maxEvents: Infinity, flushTimeoutMs: Infinity }), '');
});

test('error messages cap echoed values at 200 characters', () => {
  const r = det();
  const long = 'x'.repeat(100_000);
  for (const f of [
    () => r.unloadAtlas(long),
    () => r.endSession(long),
    () => r.report({ execution_id: long, result: 1 }),
    () => r.resolve({ requester: who, task: { goal: 'g' }, [long]: 1 }),
    () => r.loadAtlas({ ...SHOP, atlas_id: long }),
    () => r.approve(long, { approver: 'a' }),
  ]) {
    assert.throws(f, (e) => {
      assert.ok(e instanceof cra.CraError, String(e));
      assert.ok(e.message.length <= 2001, `${e.code}: ${e.message.length} characters`);
      assert.ok(!e.message.includes('x'.repeat(201)), e.message.slice(0, 300));
      for (const d of e.details) assert.ok(d.message.length <= 2001 && !d.message.includes('x'.repeat(201)));
      assert.ok(e.pointer === undefined || e.pointer.length < 1000);
      return true;
    });
  }
});

test('a 20 MB parameter is refused by the 1 MiB request limit before it crosses, as object and as text', () => {
  const r = det();
  const res = r.resolve({ requester: who, task: { goal: 'g' } });
  const before = r.stats().memory;
  const request = { requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: { blob: 'x'.repeat(20 << 20) } } };
  assert.throws(() => r.execute(request), (e) => code('LIMIT_EXCEEDED', '')(e) && e instanceof cra.CraInvalidRequestError && /limit is 1048576/.test(e.message));
  const text = JSON.stringify(request);
  assert.throws(() => r.execute(text), code('LIMIT_EXCEEDED', ''));
  assert.throws(() => r.resolve({ requester: who, task: { goal: 'g', context_hints: ['€'.repeat(400_000)] } }), code('LIMIT_EXCEEDED', ''));
  // Just over the limit in bytes but not in characters: the engine's own check answers the same.
  const near = { requester: who, task: { goal: 'g', context_hints: ['é'.repeat(600_000)] } };
  assert.throws(() => r.resolve(near), code('LIMIT_EXCEEDED', ''));
  if (implName === 'wasm') {
    // Refused in JS, so the module's linear memory did not grow by the 20 MB.
    assert.ok(r.stats().memory.wasm_memory_bytes - before.wasm_memory_bytes < 8 << 20);
  }
  // Atlases have their own, larger bound (16 MiB).
  assert.throws(() => r.loadAtlas({ ...SHOP, description: 'd'.repeat(17 << 20) }), code('LIMIT_EXCEEDED', ''));
});
