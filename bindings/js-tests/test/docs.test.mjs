// Every `js` block of docs/node.md (native) and docs/wasm.md (WASM) runs as pasted: each is
// written to a module next to a node_modules holding the package under its published name, and
// run from the repository root (where the example atlas paths point).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repo, implName } from '../impl.mjs';

const isWasm = implName === 'wasm';
const doc = path.join(repo, isWasm ? 'docs/wasm.md' : 'docs/node.md');
const name = isWasm ? '@cra/wasm' : '@cra/node';
const pkg = isWasm ? process.env.CRA_WASM_PKG || path.join(repo, 'bindings/wasm/pkg') : path.join(repo, 'bindings/node');
const blocks = [...fs.readFileSync(doc, 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

test(`${path.basename(doc)} has runnable examples`, () => {
  assert.ok(blocks.length >= 2, `${blocks.length} js blocks`);
});

for (const [i, code] of blocks.entries()) {
  test(`${path.basename(doc)} example ${i + 1} runs as pasted`, { timeout: 120_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-doc-'));
    try {
      fs.mkdirSync(path.join(dir, 'node_modules/@cra'), { recursive: true });
      fs.symlinkSync(pkg, path.join(dir, 'node_modules', name), 'dir');
      const file = path.join(dir, `example-${i + 1}.mjs`);
      fs.writeFileSync(file, code);
      const r = spawnSync(process.execPath, ['--preserve-symlinks', file], { cwd: repo, encoding: 'utf8', timeout: 100_000 });
      assert.equal(r.status, 0, `example ${i + 1}:\n${code}\n--- stderr:\n${r.stderr}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
