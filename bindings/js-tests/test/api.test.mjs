// The JS API, run against the implementation chosen by CRA_JS_IMPL (native | wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cra, repo, implName } from '../impl.mjs';

const shopCases = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8'));
const SHOP = shopCases.atlases.shop;
const approvalsDoc = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/approvals/approvals.json'), 'utf8'));
const who = { agent_id: 'a1', session_id: 's1' };
const resolveReq = (session = 's1') => ({ requester: { agent_id: 'a1', session_id: session }, task: { goal: 'do the task' } });
const det = () => new cra.Resolver({ deterministic: { seed: 1 } });

test('binding and versions', () => {
  assert.equal(cra.binding, implName);
  const v = cra.versions();
  assert.equal(v.binding, implName);
  assert.match(v.cra, /^\d+\.\d+\.\d+/);
  assert.equal(v.json_schema, true);
  assert.equal(v.schema_validator, 'cra'); // one JSON Schema validator in every build
});

test('parameters_schema keywords the validator cannot enforce are refused at load, not skipped', () => {
  const doc = (schema) => ({ ...SHOP, actions: SHOP.actions.map((a) => (a.action_id === 'orders.get' ? { ...a, parameters_schema: schema } : a)) });
  const r = det();
  const emails = doc({ type: 'object', properties: { to: { type: 'string', format: 'email' } } });
  const iban = doc({ type: 'object', properties: { to: { type: 'string', format: 'iban' } } });
  assert.throws(() => r.loadAtlas(iban), (e) => e.code === 'INVALID_ATLAS' && /format/.test(e.message) && e.pointer.startsWith('/actions/'));
  r.loadAtlas(emails);
  r.resolve(resolveReq());
  const bad = { requester: resolveReq().requester, execution: { resolution_id: '00000001-0000-7000-8000-000000000004', action_id: 'orders.get', parameters: { to: 'not an address' } } };
  assert.throws(() => r.execute(bad), (e) => e.code === 'INVALID_PARAMETERS' && e.pointer === '/execution/parameters/to');
});

test('load, resolve, execute, report: plain objects out', () => {
  const r = det();
  const info = r.loadAtlas(SHOP);
  // the load answer lints the atlas: admin.reset is covered by no allow and no deny
  assert.deepEqual(info, {
    atlas_id: 'com.example.shop', version: '1.0.0', actions: 4, policies: 2, context_packs: 0, capabilities: 1, replaced: false,
    warnings: [{ code: 'never_allowed', message: 'no allow policy covers action "admin.reset": it is always denied by default', pointer: '/actions/3' }],
  });
  const res = r.resolve(resolveReq());
  assert.equal(Object.getPrototypeOf(res), Object.prototype);
  assert.equal(res.resolution_id, '00000001-0000-7000-8000-000000000004');
  assert.deepEqual(res.allowed_actions.map((a) => a.action_id).sort(), ['orders.get', 'orders.refund']);
  assert.ok(res.denied_actions.some((d) => d.action_id === 'orders.delete' && d.reason_code === 'policy_denied'));
  const ans = r.execute({ requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: {} } });
  assert.equal(ans.status, 'authorized');
  const rep = r.report({ execution_id: ans.execution_id, result: { order: 'o-1' } });
  assert.equal(rep.status, 'executed');
  assert.equal(r.check('s1', 'orders.get'), 'allowed');
  assert.equal(r.check('s1', 'orders.delete'), 'denied');
  assert.equal(r.check('nobody', 'orders.get'), 'no_resolution');
  r.free();
  r.free();
  assert.throws(() => r.resolve(resolveReq()), (e) => e instanceof cra.CraRuntimeError && e.code === 'CLOSED');
});

test('requests may be JSON text; answers are the same', () => {
  const a = det();
  const b = det();
  a.loadAtlas(SHOP);
  b.loadAtlas(JSON.stringify(SHOP));
  assert.deepEqual(a.resolve(resolveReq()), b.resolve(JSON.stringify(resolveReq())));
});

test('errors are CraError subclasses with code, pointer and details', () => {
  const r = det();
  assert.throws(() => r.resolve({ requester: who, task: { goal: 'x' }, bogus: 1 }), (e) => {
    assert.ok(e instanceof cra.CraInvalidRequestError);
    assert.ok(e instanceof cra.CraError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'CraInvalidRequestError');
    assert.equal(e.code, 'INVALID_REQUEST');
    assert.equal(e.pointer, '/bogus');
    return true;
  });
  assert.throws(() => r.resolve('{not json'), { code: 'INVALID_REQUEST', name: 'CraInvalidRequestError' });
  const bad = { ...SHOP, atlas_id: '', actions: [{ action_id: 'x' }] };
  assert.throws(() => r.loadAtlas(bad), (e) => {
    assert.ok(e instanceof cra.CraAtlasError);
    assert.equal(e.code, 'INVALID_ATLAS');
    assert.ok(e.details.length >= 2, JSON.stringify(e.details));
    assert.ok(e.details.every((d) => typeof d.code === 'string' && typeof d.pointer === 'string'));
    return true;
  });
  assert.throws(() => r.unloadAtlas('nope'), cra.CraAtlasError);
  assert.throws(() => r.report({ execution_id: 'nope', result: 1 }), (e) => e instanceof cra.CraExecutionError && e.pointer === '/execution_id');
  assert.throws(() => r.endSession('nope'), (e) => e instanceof cra.CraSessionError && e.code === 'SESSION_NOT_FOUND');
  assert.throws(() => r.approve({ approval_id: 'nope' }), cra.CraApprovalError);
  assert.throws(() => r.execute({ requester: who, execution: { resolution_id: 'nope', action_id: 'a' } }), cra.CraResolutionError);
  assert.throws(() => new cra.Resolver({ resolution_ttl_seconds: 0 }), (e) => e instanceof cra.CraInvalidRequestError && e.code === 'INVALID_CONFIG' && e.pointer === '/resolution_ttl_seconds');
  assert.throws(() => new cra.Resolver({}).advanceClock(1), { code: 'INVALID_REQUEST' });
});

test('approvals: approve then execute, reject', () => {
  const doc = approvalsDoc.atlases[Object.keys(approvalsDoc.atlases)[0]];
  const r = det();
  r.loadAtlas(doc);
  const kase = approvalsDoc.cases.find((c) => c.steps.some((s) => s.op === 'approve') && !c.config);
  assert.ok(kase, 'an approvals case with an approve step');
  // Replay the case's steps through the API and check the approve answer has the approval id.
  for (const step of kase.steps) {
    if (step.op === 'resolve') r.resolve(step.request);
    if (step.op === 'execute' && !step.expect_error) r.execute(step.request);
    if (step.op === 'approve' && !step.expect_error) {
      const a = r.approve(step.decision);
      assert.equal(a.approval_id, step.decision.approval_id);
      assert.throws(() => r.reject(step.decision), { code: 'APPROVAL_ALREADY_DECIDED' });
      break;
    }
  }
});

test('end session, flush is a promise, drain and verify the trace, replay', async () => {
  const r = det();
  r.loadAtlas(SHOP);
  const res = r.resolve(resolveReq());
  r.execute({ requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: {} } });
  const ended = r.endSession('s1', 'done');
  assert.equal(ended.session_id, 's1');
  assert.equal(ended.reason, 'done');
  assert.throws(() => r.resolve(resolveReq()), (e) => e instanceof cra.CraSessionError && e.code === 'SESSION_ENDED');
  const p = r.flush();
  assert.ok(p instanceof Promise);
  assert.equal(await p, undefined);
  const jsonl = r.drainTrace();
  const events = jsonl.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events[0].event_type, 'session.started');
  assert.equal(events.at(-1).event_type, 'session.ended');
  assert.equal(r.drainTrace(), '', 'drained events are gone');
  const ok = cra.verifyTrace(jsonl);
  assert.equal(ok.ok, true);
  assert.equal(ok.events, events.length);
  const broken = cra.verifyTrace(jsonl.replace('"orders.get"', '"orders.xxx"'));
  assert.equal(broken.ok, false);
  assert.ok(broken.errors.length > 0);
  assert.equal(cra.verifyTrace(Buffer.from(jsonl)).ok, true);
  const rep = cra.replay(jsonl, [SHOP]);
  assert.equal(rep.replayed, 1);
  assert.equal(rep.unchanged, 1);
  const stricter = { ...SHOP, policies: [{ policy_id: 'deny-all', type: 'deny', actions: ['*'] }] };
  assert.equal(cra.replay(jsonl, [stricter]).changed.length, 1);
  const stats = r.stats();
  assert.equal(stats.resolves, 1, 'the refused resolve is not counted');
  assert.equal(stats.trace.written, events.length);
  r.close();
});

test('drainEvents parses the JSONL', async () => {
  const r = det();
  r.loadAtlas(SHOP);
  r.resolve(resolveReq());
  await r.flush();
  const evs = r.drainEvents();
  assert.ok(evs.length >= 3);
  assert.ok(evs.every((e) => typeof e.event_hash === 'string' && e.event_hash.length === 64));
});

test('deterministic clock advances; resolutions expire', () => {
  const r = det();
  r.loadAtlas(SHOP);
  const res = r.resolve(resolveReq());
  r.advanceClock(301 * 1e6);
  assert.throws(() => r.execute({ requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: {} } }), { code: 'RESOLUTION_EXPIRED' });
});

test('real mode: unique UUIDv7 ids and a real clock', () => {
  const r = new cra.Resolver();
  r.loadAtlas(SHOP);
  const ids = new Set();
  const before = Date.now();
  for (let i = 0; i < 200; i++) {
    const res = r.resolve(resolveReq(`s${i}`));
    assert.match(res.resolution_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    ids.add(res.resolution_id);
    ids.add(res.request_id);
  }
  assert.equal(ids.size, 400);
  const t = Date.parse(r.resolve(resolveReq('x')).timestamp);
  assert.ok(t >= before - 1000 && t <= Date.now() + 1000, `timestamp ${t} near now ${before}`);
  // Two resolvers (two id sources) never collide either.
  const other = new cra.Resolver();
  other.loadAtlas(SHOP);
  assert.ok(!ids.has(other.resolve(resolveReq()).resolution_id));
});

test('governed: runs the tool only when authorized and reports its result', async () => {
  const r = det();
  r.loadAtlas(SHOP);
  const res = r.resolve(resolveReq());
  const ctx = { session: 's1', agent: 'a1', resolutionId: res.resolution_id };
  let calls = 0;
  const out = await cra.governed(r, ctx, 'orders.get', async (params, answer) => {
    calls++;
    assert.deepEqual(params, {});
    assert.equal(answer.status, 'authorized');
    return { order: 'o-1' };
  });
  assert.deepEqual(out, { order: 'o-1' });
  assert.equal(calls, 1);
  assert.equal(r.stats().reports, 1);

  await assert.rejects(
    cra.governed(r, ctx, 'orders.delete', () => {
      calls++;
    }),
    (e) => e instanceof cra.CraActionDeniedError && e.code === 'ACTION_NOT_ALLOWED' && e.answer.reason_code === 'policy_denied',
  );
  assert.equal(calls, 1, 'a denied tool never runs');

  const boom = new Error('tool failed');
  await assert.rejects(cra.governed(r, ctx, 'orders.get', () => {
    throw boom;
  }), (e) => e === boom);
  assert.equal(r.stats().reports, 2, 'the thrown error was reported');
  await r.flush();
  const failed = r.drainEvents().filter((e) => e.event_type.startsWith('action.') || e.event_type.includes('fail'));
  assert.ok(JSON.stringify(failed).includes('tool failed'), 'the error message is in the trace');

  await assert.rejects(
    cra.governed(r, ctx, 'orders.refund', () => calls++),
    (e) => e instanceof cra.CraInvalidParametersError && e.code === 'INVALID_PARAMETERS',
  );
  const sum = await cra.governed(r, { ...ctx, parameters: { order_id: 'o', amount: 5 } }, 'orders.refund', (p) => p.amount * 2);
  assert.equal(sum, 10);
});

test('governed: the error class follows the answer\'s error_code (the core\'s one mapping)', async () => {
  const ladder = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/error-code.json'), 'utf8')).atlases.ladder;
  const r = det();
  r.loadAtlas(ladder);
  const res = r.resolve(resolveReq());
  const ctx = { session: 's1', agent: 'a1', resolutionId: res.resolution_id };
  let calls = 0;
  await cra.governed(r, ctx, 'files.write', () => calls++);
  await assert.rejects(
    cra.governed(r, ctx, 'files.write', () => calls++),
    (e) => e instanceof cra.CraActionDeniedError && e.code === 'RATE_LIMIT_EXCEEDED' && e.answer.error_code === 'RATE_LIMIT_EXCEEDED',
  );
  await assert.rejects(
    cra.governed(r, ctx, 'admin.reset', () => calls++),
    (e) => e instanceof cra.CraActionDeniedError && e.code === 'ACTION_NOT_ALLOWED' && e.answer.reason_code === 'default_deny',
  );
  await assert.rejects(
    cra.governed(r, ctx, 'files.share', () => calls++),
    (e) => e instanceof cra.CraApprovalRequiredError && e.code === 'APPROVAL_REQUIRED' && typeof e.answer.approval_id === 'string',
  );
  assert.equal(calls, 1, 'only the authorized call ran');
});

test('governed: pending approval throws CraApprovalRequiredError', async () => {
  const doc = approvalsDoc.atlases[Object.keys(approvalsDoc.atlases)[0]];
  const r = det();
  r.loadAtlas(doc);
  const kase = approvalsDoc.cases.find((c) => c.steps.some((s) => s.op === 'execute' && s.expect && s.expect.status === 'pending_approval'));
  const exec = kase.steps.find((s) => s.op === 'execute' && s.expect && s.expect.status === 'pending_approval');
  for (const s of kase.steps) {
    if (s === exec) break;
    if (s.op === 'resolve') r.resolve(s.request);
  }
  const { requester, execution } = exec.request;
  let ran = false;
  await assert.rejects(
    cra.governed(r, { session: requester.session_id, agent: requester.agent_id, resolutionId: execution.resolution_id, parameters: execution.parameters }, execution.action_id, () => {
      ran = true;
    }),
    (e) => e instanceof cra.CraApprovalRequiredError && e.code === 'APPROVAL_REQUIRED' && typeof e.answer.approval_id === 'string',
  );
  assert.equal(ran, false);
});

test('load an atlas from a directory (native) / IO_ERROR without a file system (wasm)', () => {
  const r = new cra.Resolver();
  const dir = path.join(repo, 'examples/atlases/customer-support');
  if (implName === 'native') {
    assert.equal(r.loadAtlasDir(dir).atlas_id, 'com.example.customer-support');
  } else {
    assert.throws(() => r.loadAtlasDir(dir), (e) => e instanceof cra.CraRuntimeError && e.code === 'IO_ERROR');
  }
});

test('verifyTraceFile streams a file (native only)', async () => {
  const r = det();
  r.loadAtlas(SHOP);
  r.resolve(resolveReq());
  await r.flush();
  const file = path.join(fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'cra-js-')), 't.jsonl');
  fs.writeFileSync(file, r.drainTrace());
  if (implName === 'native') assert.equal(cra.verifyTraceFile(file).ok, true);
  else assert.throws(() => cra.verifyTraceFile(file), cra.CraRuntimeError);
});

test('free() while a flush is pending releases at once; the flush still settles', async (t) => {
  // A full sink (100 events) and a full queue: free() discards what nobody will drain instead
  // of waiting for room.
  const r = new cra.Resolver({ deterministic: { seed: 1 }, trace: { memory_limit_events: 100 } });
  r.loadAtlas(SHOP);
  for (let i = 0; i < 2000; i++) r.resolve(resolveReq(`s${i % 3}`));
  const pending = r.flush(5000).catch((e) => e.code);
  const t0 = Date.now();
  r.free();
  t.diagnostic(`free() took ${Date.now() - t0} ms`);
  assert.ok([undefined, 'TIMEOUT'].includes(await pending));
  assert.throws(() => r.stats(), (e) => e.code === 'CLOSED');
  await assert.rejects(r.flush(), (e) => e.code === 'CLOSED');
  // close() ends the trace thread; what was recorded can still be drained, then freed.
  const q = det();
  q.loadAtlas(SHOP);
  q.resolve(resolveReq());
  q.close();
  assert.ok(q.drainEvents().length >= 3);
  q.free();
});
