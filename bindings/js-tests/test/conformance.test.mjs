// The conformance corpus through the JS API (CRA_JS_IMPL=native|wasm), and proof that the runner
// can fail: a deliberately wrong corpus, manifest drift, and an unexpected pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cra, repo, xfailName, implName } from '../impl.mjs';
import { runCorpus, loadXfail, render, mismatch, tamper } from '../conformance.mjs';

const corpus = path.join(repo, 'conformance');
const wrong = path.join(repo, 'conformance/runner/tests/fixtures/wrong');

test(`the corpus passes (xfail/${xfailName}.json honoured, manifest count asserted)`, async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(corpus, 'manifest.json'), 'utf8'));
  const report = await runCorpus(cra, corpus, loadXfail(corpus, xfailName));
  const text = render(report, `${xfailName}:${implName}`);
  assert.equal(report.cases.length, manifest.total, text);
  assert.equal(report.expectedTotal, manifest.total);
  assert.ok(report.ok, text.split('\n').filter((l) => !l.startsWith('ok ')).join('\n'));
});

test('a deliberately wrong corpus fails, case by case', async () => {
  const report = await runCorpus(cra, wrong, loadXfail(wrong, 'core'));
  assert.deepEqual(report.cases.map(([id, o]) => [id, o]), [
    ['selftest/right', 'pass'],
    ['selftest/wrong-decision', 'fail'],
    ['selftest/wrong-error-code', 'fail'],
    ['selftest/xpass', 'xpass'],
  ]);
  assert.match(report.cases[1][2], /\/decision\/type/);
  assert.match(report.cases[2][2], /INVALID_REQUEST/);
  assert.equal(report.ok, false);
  assert.ok(render(report, 'core').endsWith('1 passed, 3 failed\n'), render(report, 'core'));
});

test('the explain, approvals and shadow ops are driven: wrong expectations about them fail', async () => {
  // A corpus of deliberately wrong cases over the ops the JS runner learned last, so a runner that
  // skipped or stubbed them could not pass (one right case proves the ops run at all).
  const fx = (rel) => JSON.parse(fs.readFileSync(path.join(corpus, 'cases', rel), 'utf8')).atlases;
  const { shop } = fx('explain/explain.json');
  const { live, candidate } = fx('shadow/shadow.json');
  const ask = { requester: { agent_id: 'support-1', session_id: 's' }, task: { goal: 'g' } };
  const cases = [
    { id: 'selftest/explain-right', steps: [{ op: 'load_atlas', atlas: 'shop' }, { op: 'explain', action_id: 'orders.delete', request: ask, expect: { verdict: 'denied', policy_id: 'no-delete' } }] },
    { id: 'selftest/explain-wrong-verdict', steps: [{ op: 'load_atlas', atlas: 'shop' }, { op: 'explain', action_id: 'orders.delete', request: ask, expect: { verdict: 'allowed' } }] },
    { id: 'selftest/explain-unknown-action-succeeds', steps: [{ op: 'load_atlas', atlas: 'shop' }, { op: 'explain', action_id: 'nope.nothing', request: ask, expect: { verdict: 'denied' } }] },
    { id: 'selftest/shadow-wrong-diff-count', steps: [{ op: 'load_atlas', atlas: 'live' }, { op: 'load_shadow', atlas: 'candidate' }, { op: 'resolve', request: { requester: { agent_id: 'bot', session_id: 's' }, task: { goal: 'g' } } }, { op: 'stats', expect: { shadow_diffs: 0 } }] },
    { id: 'selftest/load-shadow-wrong-pointer', steps: [{ op: 'load_shadow', atlas: 'candidate', expect_error: { code: 'ATLAS_NOT_FOUND', pointer: '/nope' } }] },
    { id: 'selftest/unload-shadow-wrong-code', steps: [{ op: 'load_atlas', atlas: 'live' }, { op: 'unload_shadow', atlas_id: 'com.example.ops', expect_error: { code: 'INVALID_REQUEST' } }] },
    { id: 'selftest/approvals-wrong-list', steps: [{ op: 'approvals', expect_exact: [{ status: 'pending' }] }] },
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-wrong-ops-'));
  try {
    fs.mkdirSync(path.join(dir, 'cases'));
    fs.writeFileSync(path.join(dir, 'cases/ops.json'), JSON.stringify({ atlases: { shop, live, candidate }, cases }));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ total: cases.length, files: { 'cases/ops.json': cases.length } }));
    const report = await runCorpus(cra, dir, {});
    const text = render(report, 'selftest');
    assert.deepEqual(report.cases.map(([id, o]) => [id, o]), cases.map((c, i) => [c.id, i === 0 ? 'pass' : 'fail']), text);
    const why = Object.fromEntries(report.cases.map(([id, , m]) => [id, m]));
    assert.match(why['selftest/explain-wrong-verdict'], /step 1 \(explain\): at \/verdict: expected "allowed", got "denied"/);
    assert.match(why['selftest/explain-unknown-action-succeeds'], /unexpected error INVALID_REQUEST at "\/action_id"/);
    assert.match(why['selftest/shadow-wrong-diff-count'], /at \/shadow_diffs: expected 0, got 1/);
    assert.match(why['selftest/load-shadow-wrong-pointer'], /expected pointer "\/nope" but got "\/atlas_id"/);
    assert.match(why['selftest/unload-shadow-wrong-code'], /expected error "INVALID_REQUEST" but got ATLAS_NOT_FOUND/);
    assert.match(why['selftest/approvals-wrong-list'], /step 0 \(approvals\): expected exactly \[\{"status":"pending"\}\], got \[\]/);
    assert.equal(report.ok, false);
    assert.ok(text.endsWith(`1 passed, ${cases.length - 1} failed\n`), text);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('manifest drift and unknown xfail ids fail the run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-drift-'));
  fs.mkdirSync(path.join(dir, 'cases'));
  fs.copyFileSync(path.join(wrong, 'cases/deliberately-wrong.json'), path.join(dir, 'cases/a.json'));
  fs.writeFileSync(path.join(dir, 'manifest.json'), '{"total": 5, "files": {"cases/a.json": 5}}');
  const report = await runCorpus(cra, dir, { 'no/such-case': 'x' });
  assert.equal(report.ok, false);
  assert.ok(report.errors.some((e) => e.includes('has 4 cases; manifest.json says 5')), report.errors.join('\n'));
  assert.ok(report.errors.some((e) => e.includes('unknown case no/such-case')));
  assert.equal(report.cases.length, 4);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the runner as a command exits non-zero on the wrong corpus', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [path.join(repo, 'bindings/js-tests/conformance.mjs'), wrong, '--xfail', 'core'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /1 passed, 3 failed\n$/);
});

test('matching and tamper rules', () => {
  assert.equal(mismatch({ a: 1 }, { a: 1, b: 2 }), null);
  assert.equal(mismatch({ a: 1 }, { a: 2 })[0], '/a');
  assert.notEqual(mismatch([1, 2], [1, 2, 3]), null);
  assert.equal(mismatch({ x: [{ id: 'a' }] }, { x: [{ id: 'a', n: 1 }] }), null);
  assert.notEqual(mismatch({ m: 1 }, {}), null);
  assert.notEqual(mismatch({ a: {} }, { a: null }), null);
  const t = 'a\nb\nc\n';
  assert.equal(tamper(t, [{ swap: [0, 2] }]), 'c\nb\na\n');
  assert.equal(tamper(t, [{ delete: 1 }]), 'a\nc\n');
  assert.equal(tamper(t, [{ duplicate: 0 }]), 'a\na\nb\nc\n');
  assert.equal(tamper(t, [{ replace: { line: 1, find: 'b', with: '$&x' } }]), 'a\n$&x\nc\n');
  assert.equal(tamper(t, [{ truncate_last_line: 0 }]), 'a\nb\nc');
  assert.throws(() => tamper(t, [{ replace: { line: 0, find: 'zzz', with: '' } }]), /does not contain/);
  assert.throws(() => tamper(t, [{ bogus: 1 }]), /unknown tamper op/);
});
