// @cra/client as a user installs it (docs/packaging.md): assemble the packages, `npm pack` the
// main package and this platform's package, install the tarballs into fresh projects and check
// which binding each host gets: Node with the platform package (native), Node without it and
// with CRA_BINDING=wasm (WebAssembly), headless Chromium and Firefox (WebAssembly, through the
// package's `browser` export). Each check is also shown to refuse a wrong result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const OUT = path.join(repo, 'target/packaging');
const version = /^\[workspace\.package\]\n(?:[^[].*\n)*?version = "([^"]+)"/m.exec(fs.readFileSync(path.join(repo, 'Cargo.toml'), 'utf8'))[1];
const CHROMIUM = process.env.CRA_CHROMIUM || '/usr/bin/chromium';
const FIREFOX = process.env.CRA_FIREFOX || '/usr/bin/firefox-esr';
const PLATFORM = 'linux-x64-gnu';
const npmOpts = ['--no-audit', '--no-fund', '--loglevel=error'];
const npm = (args, cwd) => execFileSync('npm', [...args, ...npmOpts], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
const report = (line) => {
  fs.appendFileSync(path.join(OUT, 'report.txt'), line + '\n');
  console.log(`# packaging: ${line}`);
};

let tmp, tarballs;

/** Node's exports resolution for one subpath and a set of conditions (enough for this package). */
export function resolveExports(manifest, subpath, conditions) {
  const pick = (target) => {
    if (typeof target === 'string') return target;
    if (target && typeof target === 'object') {
      for (const [k, v] of Object.entries(target)) {
        if (k === 'default' || conditions.includes(k)) {
          const r = pick(v);
          if (r) return r;
        }
      }
    }
    return null;
  };
  const exp = manifest.exports;
  if (exp[subpath]) return pick(exp[subpath]);
  for (const [key, target] of Object.entries(exp)) {
    const star = key.indexOf('*');
    if (star >= 0 && subpath.startsWith(key.slice(0, star)) && subpath.endsWith(key.slice(star + 1))) {
      const middle = subpath.slice(star, subpath.length - (key.length - star - 1));
      return pick(target).replace('*', middle);
    }
  }
  return null;
}

before(() => {
  fs.mkdirSync(OUT, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-npm-'));
  execFileSync(process.execPath, [path.join(repo, 'bindings/client/assemble.mjs')], { stdio: 'inherit' });
  tarballs = {};
  for (const dir of ['client', PLATFORM]) {
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], path.join(OUT, 'npm', dir)))[0];
    tarballs[dir] = { file: path.join(tmp, packed.filename), files: packed.files.map((f) => f.path).sort(), size: packed.size, unpacked: packed.unpackedSize, name: packed.name };
    report(`npm ${packed.name}@${packed.version}: ${packed.filename} ${packed.size.toLocaleString('en')} bytes (unpacked ${packed.unpackedSize.toLocaleString('en')})`);
  }
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh project (outside the repository) with the given tarballs installed. */
function project(name, files, extra = []) {
  const app = path.join(tmp, name);
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  // --offline: the other platforms' optional packages are not on any registry until a release;
  // npm skips optional dependencies it cannot fetch, which is what a user on another platform sees.
  npm(['install', '--offline', ...extra, ...files], app);
  return app;
}

const PROBE = `
  const r = new cra.Resolver();
  const info = r.loadAtlas(fs.readFileSync(ATLAS, 'utf8'));  // the example shipped in the package (no file system in WASM)
  const res = r.resolve({ requester: { agent_id: 'support-bot', session_id: 's1' }, task: { goal: 'refund order ORD-1001' } });
  let code = null;
  try { r.resolve({}); } catch (e) { code = (e instanceof cra.CraInvalidRequestError) && e.code; }
  await cra.init();
  console.log(JSON.stringify({ binding: cra.binding, versionsBinding: cra.versions().binding, atlas: info.atlas_id,
    allowed: res.allowed_actions.length > 0, code, recover: typeof cra.recover, initSync: typeof cra.initSync }));`;

function probe(app, kind, env = {}) {
  const file = kind === 'esm' ? 'probe.mjs' : 'probe.cjs';
  const src = kind === 'esm'
    ? `import fs from 'node:fs'; import { createRequire } from 'node:module'; import * as cra from '@cra/client';
       const ATLAS = createRequire(import.meta.url).resolve('@cra/client/examples/customer-support.json');${PROBE}`
    : `const fs = require('node:fs'); const cra = require('@cra/client'); const ATLAS = require.resolve('@cra/client/examples/customer-support.json');
       (async () => {${PROBE}})().catch((e) => { console.error(e); process.exit(1); });`;
  fs.writeFileSync(path.join(app, file), src);
  const p = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', env: { ...process.env, CRA_NODE_ADDON: '', ...env } });
  return { status: p.status, stderr: p.stderr, out: p.status === 0 ? JSON.parse(p.stdout) : null };
}

function expectBinding(r, binding) {
  assert.equal(r.status, 0, r.stderr);
  // Nothing on stderr: no ExperimentalWarning from require() of the ES modules (api.js, the WASM entry).
  assert.equal(r.stderr, '');
  assert.deepEqual(r.out, { binding, versionsBinding: binding, atlas: 'com.example.customer-support', allowed: true, code: 'INVALID_REQUEST', recover: 'function', initSync: 'function' });
}

test('the tarballs hold what each package needs and one version', () => {
  const c = tarballs.client.files;
  for (const f of ['package.json', 'README.md', 'index.cjs', 'index.mjs', 'native.cjs', 'index.d.ts', 'wasm/api.js',
    'wasm/web/index.js', 'wasm/web/cra_wasm_bg.wasm', 'wasm/node/index.js', 'wasm/workers/index.js', 'wasm/bundler/index.js',
    'wasm/examples/customer-support.json', 'wasm/bundle-atlas.mjs', 'wasm/ship.js']) assert.ok(c.includes(f), `${f} missing from @cra/client: ${c}`);
  assert.deepEqual(c.filter((f) => f.endsWith('.node')), [], 'no native binary in the main package');
  // One copy of the shared JS API, used by both bindings: the source ES module, byte for byte.
  assert.deepEqual(c.filter((f) => /(^|\/)api\.[cm]?js$/.test(f)), ['wasm/api.js']);
  assert.ok(fs.readFileSync(path.join(OUT, 'npm/client/wasm/api.js')).equals(fs.readFileSync(path.join(repo, 'bindings/node/lib/api.mjs'))),
    'wasm/api.js of @cra/client is bindings/node/lib/api.mjs byte for byte');
  assert.deepEqual(c.filter((f) => f.endsWith('.d.ts') && !f.startsWith('wasm/')), ['index.d.ts'], 'one index.d.ts');
  assert.deepEqual(tarballs[PLATFORM].files, ['README.md', `cra.${PLATFORM}.node`, 'package.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(OUT, 'npm/client/package.json'), 'utf8'));
  assert.equal(manifest.version, version);
  assert.deepEqual(Object.keys(manifest.optionalDependencies).sort(),
    ['darwin-arm64', 'darwin-x64', 'linux-arm64-gnu', 'linux-x64-gnu', 'win32-x64-msvc'].map((p) => `@cra/client-${p}`));
  assert.ok(Object.values(manifest.optionalDependencies).every((v) => v === version));
  const plat = JSON.parse(fs.readFileSync(path.join(OUT, 'npm', PLATFORM, 'package.json'), 'utf8'));
  assert.deepEqual([plat.name, plat.version, plat.os, plat.cpu, plat.libc], [`@cra/client-${PLATFORM}`, version, ['linux'], ['x64'], ['glibc']]);
});

test('the exports map: native entry on Node, WASM in browsers, Workers, Deno', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(OUT, 'npm/client/package.json'), 'utf8'));
  const r = (conds, sub = '.') => resolveExports(manifest, sub, conds);
  assert.equal(r(['node', 'import']), './index.mjs');
  assert.equal(r(['node', 'require']), './index.cjs');
  assert.equal(r(['browser', 'import']), './wasm/web/index.js');
  assert.equal(r(['webpack', 'browser', 'import']), './wasm/bundler/index.js');
  assert.equal(r(['workerd', 'worker', 'browser', 'import']), './wasm/workers/index.js');
  assert.equal(r(['deno', 'node', 'import']), './wasm/node/index.js');
  assert.equal(r(['import']), './wasm/web/index.js');
  assert.equal(r(['node', 'import'], './wasm'), './wasm/node/index.js');
  assert.equal(r(['browser'], './examples/devops.json'), './wasm/examples/devops.json');
  for (const target of [r(['node', 'import']), r(['node', 'require']), r(['browser']), r(['workerd']), r(['deno'])]) {
    assert.ok(fs.existsSync(path.join(OUT, 'npm/client', target)), target);
  }
});

test('Node with the platform package: the native addon (import and require); CRA_BINDING=wasm: WASM', { timeout: 180_000 }, () => {
  const app = project('with-native', [tarballs.client.file, tarballs[PLATFORM].file]);
  assert.ok(fs.existsSync(path.join(app, 'node_modules/@cra/client-linux-x64-gnu', `cra.${PLATFORM}.node`)));
  expectBinding(probe(app, 'esm'), 'native');
  expectBinding(probe(app, 'cjs'), 'native');
  expectBinding(probe(app, 'esm', { CRA_BINDING: 'wasm' }), 'wasm');
  expectBinding(probe(app, 'cjs', { CRA_BINDING: 'wasm' }), 'wasm');
  expectBinding(probe(app, 'esm', { CRA_BINDING: 'native' }), 'native');
  // the check can fail: this install is native, so asking it to be WASM is refused
  assert.throws(() => expectBinding(probe(app, 'esm'), 'wasm'));
  report('Node (native addon installed): import and require pick native; CRA_BINDING=wasm picks WASM');
});

test('Node without the platform package (--omit=optional): WASM, and CRA_BINDING=native fails', { timeout: 180_000 }, () => {
  const app = project('without-native', [tarballs.client.file], ['--omit=optional']);
  assert.ok(!fs.existsSync(path.join(app, 'node_modules/@cra/client-linux-x64-gnu')));
  expectBinding(probe(app, 'esm'), 'wasm');
  expectBinding(probe(app, 'cjs'), 'wasm');
  const forced = probe(app, 'esm', { CRA_BINDING: 'native' });
  assert.notEqual(forced.status, 0);
  assert.match(forced.stderr, /CRA_NO_NATIVE|no native addon for linux-x64-gnu/);
  // the check can fail: this install has no addon, so expecting native is refused
  assert.throws(() => expectBinding(probe(app, 'esm'), 'native'));
  report('Node (no platform package): import and require pick WASM; CRA_BINDING=native fails with CRA_NO_NATIVE');
});

test('TypeScript: one index.d.ts types the package (node16 ESM and bundler resolution)', { timeout: 180_000 }, () => {
  const tsc = path.join(repo, 'bindings/node/node_modules/.bin/tsc');
  assert.ok(fs.existsSync(tsc), `${tsc} missing (make node-deps)`);
  const app = project('types', [tarballs.client.file], ['--omit=optional']);
  fs.writeFileSync(path.join(app, 'use.mts'), `import init, { Resolver, binding, recover, CraActionDeniedError, type ResolverConfig } from '@cra/client';
await init();
const cfg: ResolverConfig = { resolution_ttl_seconds: 60 };
const r = new Resolver(cfg);
const b: 'native' | 'wasm' = binding;
recover();
export { r, b, CraActionDeniedError };
`);
  fs.writeFileSync(path.join(app, 'bad.mts'), `import { Resolver } from '@cra/client';\nconst r: number = new Resolver();\nexport { r };\n`);
  for (const [module, moduleResolution] of [['node16', 'node16'], ['esnext', 'bundler']]) {
    const config = (file) => {
      fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { noEmit: true, strict: true, target: 'es2022', lib: ['es2022'], types: [], module, moduleResolution }, files: [file] }));
      return ['-p', 'tsconfig.json'];
    };
    const good = spawnSync(tsc, config('use.mts'), { cwd: app, encoding: 'utf8' });
    assert.equal(good.status, 0, `${module}/${moduleResolution}: ${good.stdout}`);
    // the check can fail: a wrong type is an error
    const bad = spawnSync(tsc, config('bad.mts'), { cwd: app, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /TS2322/);
  }
});

// --- browsers: the installed package served over HTTP; an import map sends '@cra/client' where
// the package's exports map sends a browser (conditions browser, import).
function servePage(app, conditions) {
  const pkgDir = path.join(app, 'node_modules/@cra/client');
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const entry = resolveExports(manifest, '.', conditions).replace(/^\.\//, '');
  const example = resolveExports(manifest, './examples/customer-support.json', conditions).replace(/^\.\//, '');
  const page = `<!doctype html><meta charset="utf-8"><title>cra</title>
<script type="importmap">{"imports": {"@cra/client": "/pkg/${entry}"}}</script>
<script type="module">
try {
  const cra = await import('@cra/client');
  await cra.init();
  const r = new cra.Resolver();
  const atlas = await (await fetch('/pkg/${example}')).json();
  const info = r.loadAtlas(atlas);
  const res = r.resolve({ requester: { agent_id: 'support-bot', session_id: 'tab' }, task: { goal: 'refund order ORD-1001' } });
  r.endSession('tab');
  let trace = '';
  for (let c; (c = r.drainTrace()) !== '';) trace += c;
  window.__cra = { binding: cra.binding, atlas: info.atlas_id, allowed: res.allowed_actions.length, verified: cra.verifyTrace(trace).ok, ua: navigator.userAgent };
} catch (e) {
  window.__cra = { failed: String(e && e.stack || e) };
}
</script>`;
  const MIME = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.cjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(page); }
    if (url.pathname.startsWith('/pkg/')) {
      const file = path.join(pkgDir, path.normalize(decodeURIComponent(url.pathname.slice(5))));
      if (file.startsWith(pkgDir) && fs.existsSync(file) && fs.statSync(file).isFile()) {
        res.writeHead(200, { 'content-type': MIME[path.extname(file)] || 'application/octet-stream' });
        return res.end(fs.readFileSync(file));
      }
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function inChromium(url) {
  const { chromium } = createRequire(path.join(repo, 'bindings/js-tests/package.json'))('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const tab = await ctx.newPage();
    await tab.goto(url);
    await tab.waitForFunction(() => window.__cra !== undefined, null, { timeout: 60_000 });
    return await tab.evaluate(() => window.__cra);
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Async: the page's HTTP server runs in this process, so the event loop must stay free. */
function inFirefox(url) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', path.join(here, 'bidi.mjs'), FIREFOX, url, '90000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`firefox (WebDriver BiDi) exited ${code}: ${err}`))));
  });
}

const BROWSER = ['browser', 'import'];
const expectWasmPage = (out) => {
  assert.equal(out.failed, undefined, out.failed);
  assert.deepEqual({ ...out, ua: undefined, browser: undefined }, { binding: 'wasm', atlas: 'com.example.customer-support', allowed: out.allowed, verified: true, ua: undefined, browser: undefined });
  assert.ok(out.allowed > 0);
};

for (const [name, run, exe] of [['Chromium (playwright-core)', inChromium, CHROMIUM], ['Firefox ESR (WebDriver BiDi)', inFirefox, FIREFOX]]) {
  test(`headless ${name}: the browser export loads WASM`, { timeout: 240_000 }, async () => {
    assert.ok(fs.existsSync(exe), `${exe} is missing (make browsers installs Chromium and firefox-esr)`);
    const app = path.join(tmp, 'browser-app');
    if (!fs.existsSync(app)) project('browser-app', [tarballs.client.file], ['--omit=optional']);
    const good = await servePage(app, BROWSER);
    try {
      const out = await run(`http://127.0.0.1:${good.address().port}/`);
      expectWasmPage(out);
      report(`${name}: @cra/client through its browser export: ${out.binding}, resolve and verify OK (${out.browser || out.ua.match(/(HeadlessChrome|Chrome|Firefox)\/[\d.]+/)[0]})`);
    } finally {
      good.close();
    }
    // the check can fail: the Node entry (what a wrong exports map would give a browser) does not load
    const bad = await servePage(app, ['node', 'import']);
    try {
      const out = await run(`http://127.0.0.1:${bad.address().port}/`);
      assert.throws(() => expectWasmPage(out));
      assert.ok(out.failed, JSON.stringify(out));
    } finally {
      bad.close();
    }
  });
}
