// One verifier for bytes, strings and files (issue 19, finding 5): the same bytes get the same
// report from verifyTrace(Uint8Array), verifyTrace(string) (its UTF-8 bytes) and
// verifyTraceFile — bytes are never decoded to text first (no BOM stripping, no U+FFFD).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { cra, repo, implName } from '../impl.mjs';

const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
// The native addon verifies files; under CRA_JS_IMPL=wasm it is the reference when it is built.
const addon = path.join(repo, 'bindings/node/cra.linux-x64-gnu.node');
const native = implName === 'native' ? cra : fs.existsSync(addon) ? createRequire(import.meta.url)(path.join(repo, 'bindings/node/index.js')) : null;

async function trace() {
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  r.loadAtlas(SHOP);
  const who = { agent_id: 'a1', session_id: 's1' };
  const res = r.resolve({ requester: who, task: { goal: 'refund ünïcödé 😀' } });
  const ans = r.execute({ requester: who, execution: { resolution_id: res.resolution_id, action_id: 'orders.get', parameters: {} } });
  r.report({ execution_id: ans.execution_id, error: { message: 'tool said “no” — ✗' } });
  r.endSession('s1');
  await r.flush();
  return Buffer.from(r.drainTrace());
}

const at = (good, needle) => {
  const i = good.indexOf(needle);
  assert.ok(i >= 0, needle);
  return i;
};
const setByte = (b, i, v) => {
  const c = Buffer.from(b);
  c[i] = v;
  return c;
};
const splice = (b, i, del, ins) => Buffer.concat([b.subarray(0, i), Buffer.from(ins), b.subarray(i + del)]);

function tampers(good) {
  const lines = good.toString('utf8').split('\n').slice(0, -1);
  const nl = good.indexOf(0x0a);
  return {
    intact: good,
    bom: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), good]),
    no_final_newline: good.subarray(0, good.length - 1),
    crlf: Buffer.from(good.toString('utf8').replaceAll('\n', '\r\n')),
    blank_line: Buffer.concat([good, Buffer.from('\n')]),
    hash_digit: setByte(good, 20, good[20] === 0x61 ? 0x62 : 0x61),
    sequence: Buffer.from(good.toString('utf8').replace('"sequence":2,', '"sequence":3,')),
    swapped_lines: Buffer.from([lines[1], lines[0], ...lines.slice(2), ''].join('\n')),
    deleted_line: Buffer.from([lines[0], ...lines.slice(2), ''].join('\n')),
    invalid_utf8: setByte(good, at(good, 'ünïcödé') + 1, 0xff),
    cut_multibyte: splice(good, at(good, '😀'), 4, [0xf0, 0x9f]),
    overlong: splice(good, at(good, 'refund'), 1, [0xc1, 0xb2]),
    surrogate_bytes: splice(good, at(good, '😀'), 4, [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]),
    nul: setByte(good, nl - 3, 0x00),
    replacement_char: Buffer.from(good.toString('utf8').replace('ünïcödé', 'ün\ufffdcödé')),
    empty: Buffer.alloc(0),
  };
}

test('the same tampered bytes get the same report as bytes, as text and from a file', async () => {
  const good = await trace();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-verify-'));
  try {
    const verdicts = {};
    for (const [name, bytes] of Object.entries(tampers(good))) {
      const fromBytes = cra.verifyTrace(new Uint8Array(bytes));
      // Other byte containers give the same report.
      assert.deepEqual(cra.verifyTrace(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), fromBytes, name);
      assert.deepEqual(cra.verifyTrace(new DataView(bytes.buffer, bytes.byteOffset, bytes.length)), fromBytes, name);
      // Text whose UTF-8 bytes are these bytes (only when they are UTF-8).
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      let asText = null;
      try {
        asText = text.decode(bytes);
      } catch (_) {
        /* not UTF-8: there is no string with these bytes */
      }
      if (asText !== null) assert.deepEqual(cra.verifyTrace(asText), fromBytes, `${name} as text`);
      if (native) {
        const file = path.join(dir, `${name}.jsonl`);
        fs.writeFileSync(file, bytes);
        assert.deepEqual(native.verifyTraceFile(file), fromBytes, `${name} from a file`);
        if (implName === 'wasm') assert.deepEqual(native.verifyTrace(bytes), fromBytes, `${name}: native and WASM agree`);
      }
      verdicts[name] = fromBytes.ok ? 'ok' : fromBytes.errors.map((e) => e.code).join(',');
    }
    assert.equal(verdicts.intact, 'ok');
    assert.equal(verdicts.empty, 'ok');
    for (const [name, v] of Object.entries(verdicts)) if (name !== 'intact' && name !== 'empty') assert.notEqual(v, 'ok', `${name} must fail`);
    assert.match(verdicts.bom, /malformed_event/, 'a BOM is a byte of the first line, not stripped');
    assert.match(verdicts.invalid_utf8, /malformed_event/, 'invalid UTF-8 is malformed, never decoded to U+FFFD');
    assert.match(verdicts.no_final_newline, /malformed_event/, 'a last line without LF is a torn write');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('text with a lone surrogate has no UTF-8 bytes: refused, not rewritten', async () => {
  const good = (await trace()).toString('utf8');
  const bad = good.replace('😀', '\ud83d');
  assert.throws(() => cra.verifyTrace(bad), (e) => e instanceof cra.CraInvalidRequestError && e.code === 'INVALID_REQUEST');
  assert.throws(() => cra.replay(bad, [SHOP]), (e) => e.code === 'INVALID_REQUEST');
  // Replay reads bytes as they are too.
  assert.deepEqual(cra.replay(Buffer.from(good), [SHOP]), cra.replay(good, [SHOP]));
});

test('verify options pass through: require_session_end, summaries, heads', async () => {
  const good = (await trace()).toString('utf8');
  const lines = good.split('\n').slice(0, -1);
  const head = lines.slice(0, 3).join('\n') + '\n';
  const tail = lines.slice(3).join('\n') + '\n';
  assert.equal(cra.verifyTrace(head).ok, true);
  assert.equal(cra.verifyTrace(head, { require_session_end: true }).ok, false);
  const first = cra.verifyTrace(head, { summaries: true });
  assert.equal(first.traces.length, 1);
  assert.equal(cra.verifyTrace(tail).ok, false, 'the tail alone does not start at genesis');
  const heads = { [first.traces[0].trace_id]: first.traces[0].head };
  assert.equal(cra.verifyTrace(tail, { heads }).ok, true);
  assert.equal(cra.verifyTrace(Buffer.from(tail), JSON.stringify({ heads })).ok, true);
  assert.throws(() => cra.verifyTrace(tail, { bogus: true }), (e) => e.code === 'INVALID_REQUEST' && e.pointer === '/bogus');
});
