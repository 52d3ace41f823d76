#!/usr/bin/env node
// Assembles the npm packages of a release (docs/packaging.md):
//   OUT/client/            @cra/client: Node entries (native or WASM), the WebAssembly build
//                          (wasm/, whose api.js is the shared JS API both use), one index.d.ts;
//   OUT/<platform>/        @cra/client-<platform>: one prebuilt addon each (napi-rs pattern),
//                          an optional dependency of @cra/client with os/cpu/libc set.
// Every version is the workspace version of Cargo.toml (the one place it is set).
//
//   node bindings/client/assemble.mjs [--wasm DIR] [--addons DIR] [--out DIR] [--require-all]
//     --wasm DIR     the WebAssembly package built by bindings/wasm/build.sh (default bindings/wasm/pkg)
//     --addons DIR   where the cra.<platform>.node files are (default bindings/node); a platform
//                    package is made for each one found
//     --require-all  fail unless every target in package.json "napi.targets" has its addon (releases)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const args = { wasm: path.join(repo, 'bindings/wasm/pkg'), addons: path.join(repo, 'bindings/node'), out: path.join(repo, 'target/packaging/npm'), requireAll: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--require-all') args.requireAll = true;
  else if (['--wasm', '--addons', '--out'].includes(a)) args[a.slice(2)] = path.resolve(process.argv[++i]);
  else { console.error(`assemble.mjs: unknown option ${a}`); process.exit(2); }
}
const fail = (msg) => { console.error(`assemble.mjs: ${msg}`); process.exit(1); };

// The one version: [workspace.package] version in Cargo.toml.
const cargo = fs.readFileSync(path.join(repo, 'Cargo.toml'), 'utf8');
const m = /^\[workspace\.package\]\n(?:[^[].*\n)*?version = "([^"]+)"/m.exec(cargo);
if (!m) fail('no version in [workspace.package] of Cargo.toml');
const version = m[1];

const template = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
if (template.version !== version) fail(`bindings/client/package.json has version ${template.version}, Cargo.toml ${version}: run scripts/version.sh bump ${version}`);

// Rust target triple → napi-rs platform name and the package.json fields npm selects it by.
const PLATFORMS = {
  'x86_64-unknown-linux-gnu': { name: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  'aarch64-unknown-linux-gnu': { name: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'x86_64-apple-darwin': { name: 'darwin-x64', os: 'darwin', cpu: 'x64' },
  'aarch64-apple-darwin': { name: 'darwin-arm64', os: 'darwin', cpu: 'arm64' },
  'x86_64-pc-windows-msvc': { name: 'win32-x64-msvc', os: 'win32', cpu: 'x64' },
};

const copy = (from, to) => { fs.mkdirSync(path.dirname(to), { recursive: true }); fs.copyFileSync(from, to); };
fs.rmSync(args.out, { recursive: true, force: true });

// Platform packages, one per addon found.
const optional = {};
for (const triple of template.napi.targets) {
  const p = PLATFORMS[triple];
  if (!p) fail(`no platform entry for target ${triple}`);
  const file = `cra.${p.name}.node`;
  const src = path.join(args.addons, file);
  if (!fs.existsSync(src)) {
    if (args.requireAll) fail(`missing ${src} (every target in napi.targets is required with --require-all)`);
    continue;
  }
  const dir = path.join(args.out, p.name);
  copy(src, path.join(dir, file));
  const manifest = {
    name: `${template.name}-${p.name}`,
    version,
    description: `The ${p.name} native addon of ${template.name} (installed by it as an optional dependency)`,
    license: template.license,
    main: file,
    files: [file],
    os: [p.os],
    cpu: [p.cpu],
    ...(p.libc ? { libc: [p.libc] } : {}),
    engines: template.engines,
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'README.md'), `# ${manifest.name}\n\n${manifest.description}. Install \`${template.name}\`, not this package.\n`);
}
// Every target is listed, built here or not: npm installs the one matching os/cpu/libc.
for (const triple of template.napi.targets) optional[`${template.name}-${PLATFORMS[triple].name}`] = version;

// The main package.
const out = path.join(args.out, 'client');
// Every file @cra/wasm publishes (its package.json `files`), so a module added there (ship.js,
// TraceShipper) cannot be left out here.
const manifestPath = path.join(args.wasm, 'package.json');
if (!fs.existsSync(manifestPath)) fail(`${manifestPath} is missing: build the WebAssembly package first (make build-wasm)`);
const wasmManifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
if (wasmManifest.version !== version) fail(`the WebAssembly build in ${args.wasm} is version ${wasmManifest.version}, not ${version}`);
const wasmFiles = wasmManifest.files;
if (!Array.isArray(wasmFiles) || !wasmFiles.includes('index.d.ts') || !wasmFiles.includes('web/cra_wasm_bg.wasm')) {
  fail(`${manifestPath}: its "files" list must name every published file (index.d.ts, web/cra_wasm_bg.wasm, ...)`);
}
for (const f of wasmFiles) {
  if (!fs.existsSync(path.join(args.wasm, f))) fail(`${path.join(args.wasm, f)} is missing: build the WebAssembly package first (make build-wasm)`);
}
for (const f of wasmFiles) if (f !== 'index.d.ts') copy(path.join(args.wasm, f), path.join(out, 'wasm', f));
// One declaration file: the shared API plus init/initSync/recover (both bindings have them).
copy(path.join(args.wasm, 'index.d.ts'), path.join(out, 'index.d.ts'));
for (const f of ['index.cjs', 'index.mjs', 'native.cjs', 'README.md']) copy(path.join(here, f), path.join(out, f));
// `files`: this package's own entries and everything @cra/wasm publishes, under wasm/.
const files = ['index.cjs', 'index.mjs', 'native.cjs', 'index.d.ts',
  ...wasmFiles.filter((f) => f !== 'index.d.ts').map((f) => `wasm/${f}`)];
const manifest = { ...template, files, optionalDependencies: optional };
fs.writeFileSync(path.join(out, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

const built = fs.readdirSync(args.out).filter((d) => d !== 'client');
console.log(`assemble.mjs: ${template.name}@${version} in ${out}; platform packages: ${built.join(', ') || 'none'}`);
