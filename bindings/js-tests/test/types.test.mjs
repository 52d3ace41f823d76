// index.d.ts compiles under `tsc --strict --noEmit` and describes the API as used (types/usage.mts,
// with @ts-expect-error lines that must fail to compile); the WASM declarations need no DOM lib.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(here, '../node/node_modules/.bin/tsc');

test('tsc --noEmit over the declarations and a usage file', () => {
  assert.ok(fs.existsSync(tsc), 'typescript is a devDependency of bindings/node (npm ci there)');
  const wasm = process.env.CRA_JS_IMPL === 'wasm';
  if (wasm) assert.ok(fs.existsSync(path.join(here, '../wasm/pkg/index.d.ts')), 'the wasm package is built (make build-wasm)');
  // WASM: once with lib es2022 only (no DOM, no Node types), once with the DOM lib.
  for (const config of wasm ? ['tsconfig.wasm.json', 'tsconfig.wasm-dom.json'] : ['tsconfig.json']) {
    const r = spawnSync(tsc, ['-p', path.join(here, 'types', config)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${config}: ${r.stdout}${r.stderr}`);
  }
});

test('index.d.ts declares exactly what the package exports', async () => {
  const { cra } = await import('../impl.mjs');
  // WASM: the package's own index.d.ts (the native declarations plus init, recover and
  // TraceShipper); native: bindings/node/index.d.ts.
  const wasm = process.env.CRA_JS_IMPL === 'wasm';
  const dts = fs.readFileSync(path.join(here, wasm ? '../wasm/pkg/index.d.ts' : '../node/index.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1]));
  const loaders = wasm ? [] : ['init', 'initSync', 'recover'];
  const exported = new Set(Object.keys(cra).filter((k) => !k.startsWith('_') && k !== 'default' && !loaders.includes(k)));
  assert.deepEqual([...exported].filter((k) => !declared.has(k)), [], 'exported but not declared');
  assert.deepEqual([...declared].filter((k) => !exported.has(k)), [], 'declared but not exported');
});
