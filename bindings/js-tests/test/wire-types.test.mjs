// The TypeScript wire types (bindings/node/index.d.ts, shared by WASM) against the answers the
// core really gives: the whole conformance corpus runs through driver.mjs with
// CRA_RECORD_ANSWERS, every answer becomes a typed constant in a generated .mts file (object
// literals, so tsc reports a field the declarations lack as well as a declared field that is
// missing or of another type), and `tsc --strict --noEmit` must accept it. The second test proves
// the check can fail: an answer with a renamed field and one with a wrong type are rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repo, here } from '../impl.mjs';

const tsc = path.join(repo, 'bindings/node/node_modules/.bin/tsc');
const runner = process.env.CRA_CONFORMANCE || path.join(repo, 'target/debug/cra-conformance');

/** The declared type of each operation's answer (the Resolver method's return type). */
const TYPES = {
  load_atlas: 'AtlasInfo', load_shadow: 'AtlasInfo', load_atlas_dir: 'AtlasInfo',
  unload_atlas: 'ReturnType<Resolver["unloadAtlas"]>', unload_shadow: 'ReturnType<Resolver["unloadShadow"]>',
  resolve: 'Resolution', execute: 'ExecuteAnswer', report: 'ReportAnswer', approve: 'Approval',
  reject: 'Approval', approvals: 'Approval[]', end_session: 'SessionEnded', explain: 'Explanation',
  check: 'FastVerdict', stats: 'Stats', verify_trace: 'VerifyReport', replay: 'ReplayReport',
};

/** Type-checks `answers` ([{op, answer}]) against index.d.ts; returns tsc's output and status. */
function typecheck(answers) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-wire-types-'));
  const names = [...new Set(Object.values(TYPES).map((t) => t.match(/^\w+/)[0]).filter((n) => n !== 'ReturnType')), 'Resolver'];
  const lines = [
    `import type { Id, ${names.join(', ')} } from '@cra/node';`,
    // Identifiers are branded strings in the declarations; on the wire they are plain strings.
    // Index signatures (`[key: string]: unknown`, kept for forward compatibility) are dropped, so
    // a field the declarations do not name is an error here.
    'type Wire<T> = T extends Id<string> ? string : T extends (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T as string extends K ? never : K]: Wire<T[K]> } : T;',
  ];
  answers.forEach(({ op, answer }, i) => {
    assert.ok(TYPES[op], `no declared type for the answer of ${op}`);
    lines.push(`export const a${i}: Wire<${TYPES[op]}> = ${JSON.stringify(answer)};`);
  });
  fs.writeFileSync(path.join(dir, 'answers.mts'), lines.join('\n') + '\n');
  const config = {
    compilerOptions: {
      strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
      lib: ['es2022', 'esnext.disposable'], types: [], baseUrl: '.',
      paths: { '@cra/node': [path.join(repo, 'bindings/node/index.d.ts')] },
    },
    files: ['answers.mts', path.join(repo, 'bindings/node/index.d.ts')],
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
  return spawnSync(tsc, ['-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

function recordedAnswers() {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cra-answers-')), 'answers.jsonl');
  const out = spawnSync(runner, ['--binding', 'node', '--', process.execPath, path.join(here, 'driver.mjs')], {
    encoding: 'utf8', cwd: here, env: { ...process.env, CRA_JS_IMPL: 'native', CRA_RECORD_ANSWERS: file }, maxBuffer: 64 << 20,
  });
  assert.equal(out.status, 0, out.stdout.slice(-2000));
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('every answer of the corpus type-checks against index.d.ts', { skip: process.env.CRA_JS_IMPL === 'wasm' && 'the same declarations; checked in the native run' }, () => {
  assert.ok(fs.existsSync(tsc), 'typescript is a devDependency of bindings/node (npm ci there)');
  const answers = recordedAnswers();
  assert.ok(answers.length > 500, `only ${answers.length} answers recorded`);
  for (const op of ['resolve', 'execute', 'report', 'approve', 'explain', 'stats', 'verify_trace', 'replay']) {
    assert.ok(answers.some((a) => a.op === op), `the corpus gave no ${op} answer to check`);
  }
  const r = typecheck(answers);
  assert.equal(r.status, 0, r.stdout.split('\n').slice(0, 40).join('\n'));
});

test('the wire-type check can fail: a renamed field and a wrong type are rejected', { skip: process.env.CRA_JS_IMPL === 'wasm' && 'native only' }, () => {
  const renamed = { op: 'report', answer: { execution_id: 'e', status: 'executed', action_id: 'a', recorded_at: 't', elapsed_usec: 1 } };
  const wrongType = { op: 'check', answer: 'maybe' };
  const r = typecheck([renamed, wrongType]);
  assert.notEqual(r.status, 0);
  // answers.mts line 3 is the first answer (after the import and the Wire type), line 4 the second
  assert.match(r.stdout, /answers\.mts\(3,\d+\): error TS\d+: [^\n]*'"elapsed_usec"' does not exist/);
  assert.match(r.stdout, /answers\.mts\(4,\d+\): error TS\d+: Type '"maybe"' is not assignable to type 'FastVerdict'/);
});
