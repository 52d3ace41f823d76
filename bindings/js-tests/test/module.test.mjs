// The shared JS API is one ES module, bindings/node/lib/api.mjs, used as is by both packages
// (issue 17, no text substitution): @cra/wasm ships it byte for byte as api.js, and @cra/node
// loads it with require() of an ES module, printing nothing (no ExperimentalWarning).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { implName, repo } from '../impl.mjs';

const source = path.join(repo, 'bindings/node/lib/api.mjs');

if (implName === 'wasm') {
  // Every WASM build the suite uses: the package (or CRA_WASM_PKG) and the testing build.
  const pkgs = [...new Set([process.env.CRA_WASM_PKG || path.join(repo, 'bindings/wasm/pkg'), path.join(repo, 'bindings/wasm/pkg-testing')])];
  for (const pkg of pkgs) {
    test(`${path.relative(repo, pkg)}/api.js is bindings/node/lib/api.mjs byte for byte`, () => {
      const shipped = path.join(pkg, 'api.js');
      assert.ok(fs.existsSync(shipped), `${shipped} missing (make build-wasm build-wasm-testing)`);
      assert.ok(fs.readFileSync(shipped).equals(fs.readFileSync(source)), `${shipped} differs from ${source}: rebuild (bindings/wasm/build.sh copies it)`);
      const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
      assert.equal(manifest.type, 'module', 'api.js is an ES module by the package type');
      assert.ok(manifest.files.includes('api.js'));
    });
  }
} else {
  /** Runs `node [flags] -e code` from the repository (outside node_modules, where Node would warn first). */
  const run = (flags, code) => spawnSync(process.execPath, [...flags, '-e', code], { cwd: repo, encoding: 'utf8' });
  // The package's API is the ES module's (same error classes), reached through require(); the
  // package first, so the one warning Node would print names index.js.
  const probe = `
    const cra = require(${JSON.stringify(path.join(repo, 'bindings/node'))});
    const api = require(${JSON.stringify(source)});
    console.log(JSON.stringify({ esm: Object.prototype.toString.call(api), same: cra.CraError === api.errors.CraError, binding: cra.binding }));`;

  test('@cra/node loads lib/api.mjs with require(), without a warning', () => {
    const r = run([], probe);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'nothing on stderr (an ExperimentalWarning would be here)');
    assert.deepEqual(JSON.parse(r.stdout), { esm: '[object Module]', same: true, binding: 'native' });
  });

  test('the warning check can fail: --trace-require-module prints the require() of lib/api.mjs', () => {
    const r = run(['--trace-require-module=all'], probe);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /ExperimentalWarning: CommonJS module .*index\.js is loading ES Module .*lib\/api\.mjs using require\(\)/);
  });
}
