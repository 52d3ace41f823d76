// The JS driver of the conformance corpus, for the native addon and the WASM build alike
// (CRA_JS_IMPL=native|wasm, see impl.mjs): the one interpreter (`cra-conformance`, in
// conformance/runner) sends operations as JSON lines on stdin; this performs each through the
// package's public API and answers on stdout (protocol: conformance/runner/src/process_driver.rs,
// docs/bindings.md).
//   cra-conformance --binding node --self-test -- node driver.mjs
import fs from 'node:fs';
import readline from 'node:readline';
import { cra } from './impl.mjs';

// CRA_RECORD_ANSWERS=FILE appends every answer as {"op", "answer"} (test/wire-types.test.mjs
// type-checks them against index.d.ts).
const record = process.env.CRA_RECORD_ANSWERS;

/** A JSON argument as the value (an object, as users pass it); a text one verbatim. */
const arg = (a) => (Object.prototype.hasOwnProperty.call(a, 'json') ? a.json : a.text);
const json = (v) => JSON.stringify(v === undefined ? null : v);

let r = null;
const res = () => {
  if (!r) throw new cra.CraError('no resolver (create first)', { code: 'INTERNAL' });
  return r;
};
const close = () => {
  if (r) r.free();
  r = null;
};

const ops = {
  create: ([config]) => {
    close();
    r = new cra.Resolver(config);
  },
  close,
  load_atlas: ([a]) => json(res().loadAtlas(a)),
  load_shadow: ([a]) => json(res().loadShadow(a)),
  load_atlas_dir: ([p]) => json(res().loadAtlasDir(p)),
  unload_atlas: ([id]) => json(res().unloadAtlas(id)),
  unload_shadow: ([id]) => json(res().unloadShadow(id)),
  resolve: ([q]) => json(res().resolve(q)),
  execute: ([q]) => json(res().execute(q)),
  report: ([q]) => json(res().report(q)),
  approve: ([q]) => json(res().approve(q)),
  reject: ([q]) => json(res().reject(q)),
  end_session: ([q]) => json(res().endSession(q)),
  approvals: ([f]) => json(res().listApprovals(f)),
  explain: ([q, action]) => json(res().explain(q, action)),
  check: ([s, action]) => json(res().check(s, action)),
  advance_clock: ([micros]) => res().advanceClock(Number(micros)),
  flush: async () => {
    await res().flush(10000);
  },
  stats: () => json(res().stats()),
  drain_trace: () => res().drainTrace(),
  verify_trace: ([t]) => json(cra.verifyTrace(t)),
  replay: ([t, atlases]) => json(cra.replay(t, atlases)),
};

async function answer(line) {
  const req = JSON.parse(line);
  const op = ops[req.op];
  if (!op) return { error: { code: 'DRIVER', pointer: null, message: `unknown op ${JSON.stringify(req.op)}` } };
  try {
    const out = await op((req.args || []).map(arg));
    if (record && typeof out === 'string' && req.op !== 'drain_trace') {
      fs.appendFileSync(record, JSON.stringify({ op: req.op, answer: JSON.parse(out) }) + '\n');
    }
    return { ok: out === undefined ? null : out };
  } catch (e) {
    if (e instanceof cra.CraError) return { error: { code: e.code, pointer: e.pointer ?? null, message: e.message } };
    return { error: { code: 'DRIVER', pointer: null, message: `${e && e.name}: ${e && e.message}` } };
  }
}

for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  process.stdout.write(JSON.stringify(await answer(line)) + '\n');
}
close();
