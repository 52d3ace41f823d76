// @cra/wasm/bundle-atlas applies the directory loader's checks (docs/wasm.md, Atlases): what it
// produces loads like the directory does, and what the loader refuses it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cra, repo } from '../impl.mjs';
import { bundleAtlas, readAtlasDir } from '../../wasm/npm/bundle-atlas.mjs';

const example = path.join(repo, 'examples/atlases/customer-support');

test('a bundled atlas loads and delivers the same context as its directory', () => {
  const doc = bundleAtlas(example);
  assert.ok(doc.context_packs.every((p) => typeof p.content === 'string' && p.files === undefined));
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  assert.equal(r.loadAtlas(doc).atlas_id, 'com.example.customer-support');
  const res = r.resolve({ requester: { agent_id: 'support-bot', session_id: 's' }, task: { goal: 'refund order ORD-1001' } });
  const guidelines = fs.readFileSync(path.join(example, 'context/guidelines.md'), 'utf8');
  assert.ok(res.context_blocks.some((b) => b.content === guidelines && b.block_id === 'support-guidelines'));
  r.free();
});

test('readAtlasDir + loadAtlasFiles (WASM) answer what loadAtlasDir answers natively', () => {
  const files = readAtlasDir(example);
  assert.deepEqual(Object.keys(files).sort(), ['atlas.json', 'context/guidelines.md', 'context/pii-handling.md', 'context/refund-policy.md']);
  const r = new cra.Resolver({ deterministic: { seed: 1 } });
  if (typeof cra.recover !== 'function') {
    // The native addon reads directories itself.
    assert.throws(() => r.loadAtlasFiles(files), (e) => e.code === 'IO_ERROR' && /loadAtlasDir/.test(e.message));
    r.free();
    return;
  }
  assert.equal(r.loadAtlasFiles(files).context_packs, 4);
  const res = r.resolve({ requester: { agent_id: 'support-bot', session_id: 's' }, task: { goal: 'refund order ORD-1001' } });
  const guidelines = fs.readFileSync(path.join(example, 'context/guidelines.md'), 'utf8');
  assert.ok(res.context_blocks.some((b) => b.content === guidelines && b.block_id === 'support-guidelines/context/guidelines.md'));
  // A file the packs name but the object lacks, and a path out of the directory: INVALID_ATLAS.
  const { 'context/guidelines.md': _, ...missing } = files;
  assert.throws(() => r.loadAtlasFiles(missing), (e) => e.code === 'INVALID_ATLAS' && e.details.some((p) => p.code === 'file_not_found'));
  const doc = JSON.parse(files['atlas.json']);
  doc.context_packs[0].files = ['../outside.md'];
  assert.throws(() => r.loadAtlasFiles({ ...files, 'atlas.json': JSON.stringify(doc), '../outside.md': 'x' }), (e) => e.code === 'INVALID_ATLAS' && e.details.some((p) => p.code === 'path_escape'));
  assert.throws(() => r.loadAtlasFiles({ 'context/x.md': 'x' }), (e) => e.code === 'IO_ERROR');
  assert.throws(() => r.loadAtlasFiles({ 'atlas.json': 1 }), (e) => e.code === 'INVALID_REQUEST' && e.pointer === '/atlas.json');
  r.free();
});

test('paths that escape, special files and oversized files are refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-bundle-'));
  try {
    const atlas = JSON.parse(fs.readFileSync(path.join(example, 'atlas.json'), 'utf8'));
    const withFiles = (files) => {
      fs.writeFileSync(path.join(dir, 'atlas.json'), JSON.stringify({ ...atlas, context_packs: [{ pack_id: 'p', name: 'p', files }] }));
    };
    fs.writeFileSync(path.join(dir, 'ok.md'), 'fine');
    fs.writeFileSync(path.join(os.tmpdir(), 'cra-bundle-outside.md'), 'secret');
    fs.symlinkSync(path.join(os.tmpdir(), 'cra-bundle-outside.md'), path.join(dir, 'link.md'));
    execFileSync('mkfifo', [path.join(dir, 'fifo.md')]);
    fs.writeFileSync(path.join(dir, 'big.md'), Buffer.alloc((4 << 20) + 1, 0x61));
    fs.writeFileSync(path.join(dir, 'latin1.md'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    withFiles(['ok.md']);
    assert.equal(bundleAtlas(dir).context_packs[0].content, 'fine');
    for (const [file, why] of [['../outside.md', /relative path inside/], ['/etc/hostname', /relative path inside/], ['link.md', /outside the atlas directory/], ['fifo.md', /not a regular file/], ['big.md', /limit is 4194304/], ['latin1.md', /not UTF-8/], ['missing.md', /ENOENT/]]) {
      withFiles([file]);
      assert.throws(() => bundleAtlas(dir), why, file);
    }
    // The command reports the same and exits non-zero.
    withFiles(['../outside.md']);
    assert.throws(() => execFileSync(process.execPath, [path.join(repo, 'bindings/wasm/npm/bundle-atlas.mjs'), dir], { stdio: 'pipe' }), (e) => e.status === 1 && /relative path inside/.test(String(e.stderr)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), 'cra-bundle-outside.md'), { force: true });
  }
});
