// Smoke test of the published form: `npm pack` the package under test (CRA_JS_IMPL=native →
// bindings/node, wasm → bindings/wasm/pkg), install the tarball into an empty project as a
// consumer would, and resolve through the package name (CommonJS and ES module entry points).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const impl = process.env.CRA_JS_IMPL || 'native';
const pkgDir = impl === 'wasm' ? process.env.CRA_WASM_PKG || path.join(repo, 'bindings/wasm/pkg') : path.join(repo, 'bindings/node');
const name = impl === 'wasm' ? '@cra/wasm' : '@cra/node';
const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;

const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });
const node = (args, cwd) => execFileSync(process.execPath, args, { cwd, encoding: 'utf8' });

test(`npm pack ${name}, install the tarball, resolve`, { timeout: 120_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-pack-'));
  try {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], pkgDir))[0];
    const files = packed.files.map((f) => f.path).sort();
    if (impl === 'wasm') {
      for (const f of ['package.json', 'api.js', 'index.d.ts', 'web/index.js', 'web/cra_wasm_bg.wasm', 'node/index.js', 'workers/index.js', 'bundler/index.js', 'bundle-atlas.mjs', 'examples/customer-support.json', 'examples/devops.json']) assert.ok(files.includes(f), `${f} in ${files}`);
      // One .wasm, shared by every entry.
      assert.deepEqual(files.filter((f) => f.endsWith('.wasm')), ['web/cra_wasm_bg.wasm']);
    } else {
      for (const f of ['package.json', 'index.js', 'index.d.ts', 'lib/api.mjs', 'cra.linux-x64-gnu.node']) assert.ok(files.includes(f), `${f} in ${files}`);
      assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('testing/')), `${files}`);
      // The addon ships without its symbol table (the dynamic symbols Node needs stay).
      const elf = fs.readFileSync(path.join(pkgDir, 'cra.linux-x64-gnu.node'));
      assert.ok(!elf.includes(Buffer.from('.symtab\0')), 'the addon is stripped (make build-node)');
    }
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name": "app", "version": "1.0.0", "private": true}');
    npm(['install', path.join(dir, packed.filename)], app);
    fs.writeFileSync(path.join(app, 'atlas.json'), JSON.stringify(SHOP));
    const body = `
      const r = new cra.Resolver();
      r.loadAtlas(fs.readFileSync('atlas.json', 'utf8'));
      const res = r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } });
      let code = null;
      try { r.resolve({}); } catch (e) { code = (e instanceof cra.CraInvalidRequestError) && e.code; }
      console.log(JSON.stringify({ allowed: res.allowed_actions.length, code, binding: cra.versions().binding }));`;
    const want = { allowed: 2, code: 'INVALID_REQUEST', binding: impl };
    fs.writeFileSync(path.join(app, 'esm.mjs'), `import fs from 'node:fs'; import * as cra from '${name}';${body}`);
    assert.deepEqual(JSON.parse(node(['esm.mjs'], app)), want);
    if (impl === 'native') {
      fs.writeFileSync(path.join(app, 'cjs.cjs'), `const fs = require('node:fs'); const cra = require('${name}');${body}`);
      assert.deepEqual(JSON.parse(node(['cjs.cjs'], app)), want);
    } else {
      // The bundler entry (wasm ES module integration), as webpack would load it.
      fs.writeFileSync(path.join(app, 'bundler.mjs'), `import fs from 'node:fs'; import * as cra from '${name}/bundler';${body}`);
      assert.deepEqual(JSON.parse(node(['--experimental-wasm-modules', '--no-warnings', 'bundler.mjs'], app)), want);
      // The atlas bundler: a CLI and a function, with the loader's checks.
      const examples = path.join(repo, 'examples/atlases/customer-support');
      const bundled = JSON.parse(execFileSync(path.join(app, 'node_modules/.bin/cra-bundle-atlas'), [examples], { encoding: 'utf8' }));
      assert.ok(bundled.context_packs.every((p) => typeof p.content === 'string' && !p.files));
      fs.writeFileSync(path.join(app, 'bundled.mjs'), `import * as cra from '${name}'; import { bundleAtlas } from '${name}/bundle-atlas';
        const r = new cra.Resolver(); console.log(JSON.stringify(r.loadAtlas(bundleAtlas(${JSON.stringify(examples)})).atlas_id));`);
      assert.equal(JSON.parse(node(['bundled.mjs'], app)), 'com.example.customer-support');
      // The types the exports map points at are in the tarball.
      const manifest = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8'));
      assert.ok(fs.existsSync(path.join(app, 'node_modules', name, manifest.exports['.'].types)));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
