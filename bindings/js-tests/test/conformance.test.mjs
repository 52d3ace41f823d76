// The shared corpus through this implementation (CRA_JS_IMPL=native|wasm), run by the one
// interpreter (`cra-conformance`, conformance/runner) with driver.mjs; its --self-test first
// proves that driver and runner fail on the deliberately wrong corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repo, here, xfailName } from '../impl.mjs';

const runner = process.env.CRA_CONFORMANCE || path.join(repo, 'target/debug/cra-conformance');
const run = (args, driver) =>
  spawnSync(runner, ['--binding', xfailName, ...args, '--', process.execPath, driver], { encoding: 'utf8', cwd: here, maxBuffer: 64 << 20 });

test(`the corpus passes (xfail/${xfailName}.json honoured, manifest count asserted) and the driver can fail`, () => {
  assert.ok(fs.existsSync(runner), `${runner} is missing: build it with \`make build-conformance\``);
  const out = run(['--self-test'], path.join(here, 'driver.mjs'));
  const report = out.stdout + out.stderr;
  const total = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/manifest.json'), 'utf8')).total;
  assert.match(report, /the deliberately wrong corpus fails as designed/);
  assert.match(report, new RegExp(`ran ${total} of ${total} cases`));
  assert.equal(out.status, 0, report.split('\n').filter((l) => !l.startsWith('ok ')).join('\n'));
});

test('a driver that answers nonsense fails the run', () => {
  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cra-bad-driver-')), 'bad.mjs');
  fs.writeFileSync(bad, "import readline from 'node:readline';\n" +
    "for await (const l of readline.createInterface({ input: process.stdin })) process.stdout.write('{\"ok\": \"{}\"}\\n');\n");
  const out = run([], bad);
  assert.equal(out.status, 1, out.stdout.slice(-2000));
  assert.doesNotMatch(out.stdout, / 0 failed/);
});
