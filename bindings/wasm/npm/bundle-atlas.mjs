#!/usr/bin/env node
// @cra/wasm/bundle-atlas: turns an atlas directory (atlas.json plus context files) into one JSON
// document that `loadAtlas` accepts where there is no file system (browsers, Workers). Run it in
// Node at build time:
//
//   npx cra-bundle-atlas path/to/atlas-dir > atlas.bundled.json
//   import { bundleAtlas } from '@cra/wasm/bundle-atlas';  const doc = bundleAtlas(dir);
//
// It applies the checks of the engine's directory loader (docs/protocol.md §6): atlas.json a
// regular file of at most 16 MiB; each context file a relative path that stays inside the
// directory after resolving symlinks, a regular file (no device, FIFO or directory) of at most
// 4 MiB, UTF-8, and at most 64 MiB of context files in all. A pack's `files` become its
// `content`: one file as is; several joined by a blank line (the pack then yields one context
// block, `block_id` = the pack id, instead of one block per file).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_ATLAS_BYTES = 16 << 20;
const MAX_PACK_FILE_BYTES = 4 << 20;
const MAX_PACK_FILES_TOTAL_BYTES = 64 << 20;

const TYPES = { md: 'text/markdown', markdown: 'text/markdown', json: 'application/json', yaml: 'application/yaml', yml: 'application/yaml', html: 'text/html' };
const contentTypeFor = (file) => TYPES[file.split('.').pop()] || 'text/plain';

/** Reads a regular file of at most `limit` bytes, refusing anything else. */
function readRegular(file, limit, what) {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK || 0));
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${what} is not a regular file`);
    if (st.size > limit) throw new Error(`${what} is ${st.size} bytes; the limit is ${limit}`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < st.size) {
      const r = fs.readSync(fd, buf, n, st.size - n, n);
      if (r === 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The atlas file of `dir` (or the atlas file `dir`), its directory and that directory's real path. */
function locate(dir) {
  let base = path.resolve(dir);
  let file = path.join(base, 'atlas.json');
  if (!fs.statSync(base).isDirectory()) {
    file = base;
    base = path.dirname(base);
  }
  const text = utf8.decode(readRegular(file, MAX_ATLAS_BYTES, `atlas ${file}`));
  return { text, doc: JSON.parse(text), base, realBase: fs.realpathSync(base) };
}

/** Reads one context file of a pack with the directory loader's checks; `left` bytes may be read. */
function readPackFile(at, rel, where, left) {
  if (typeof rel !== 'string' || rel === '' || path.isAbsolute(rel) || rel.split(/[\\/]/).some((c) => c === '..')) {
    throw new Error(`${where} must be a relative path inside the atlas directory`);
  }
  const real = fs.realpathSync(path.join(at.base, rel));
  if (real !== at.realBase && !real.startsWith(at.realBase + path.sep)) throw new Error(`${where} resolves outside the atlas directory`);
  const bytes = readRegular(real, Math.min(MAX_PACK_FILE_BYTES, left), where);
  try {
    return utf8.decode(bytes);
  } catch (_) {
    throw new Error(`${where} is not UTF-8 text`);
  }
}

/** The packs of `doc` that name files, with their index. */
const filePacks = (doc) => (Array.isArray(doc.context_packs) ? doc.context_packs : [])
  .map((pack, i) => [pack, i])
  .filter(([pack]) => pack && typeof pack === 'object' && Array.isArray(pack.files));

/** The atlas in `dir` (or the atlas file `dir`) with every context file inlined. */
export function bundleAtlas(dir) {
  const at = locate(dir);
  const { doc } = at;
  let total = 0;
  if (!Array.isArray(doc.context_packs)) return doc;
  doc.context_packs = doc.context_packs.map((pack, i) => {
    if (!pack || typeof pack !== 'object' || !Array.isArray(pack.files)) return pack;
    const texts = pack.files.map((rel, j) => {
      const text = readPackFile(at, rel, `context_packs[${i}].files[${j}] ${JSON.stringify(rel)}`, MAX_PACK_FILES_TOTAL_BYTES - total);
      total += Buffer.byteLength(text);
      return text;
    });
    const { files, ...rest } = pack;
    return { ...rest, content: texts.join('\n\n'), content_type: pack.content_type || contentTypeFor(files[0] || '') };
  });
  return doc;
}

/**
 * The atlas directory `dir` (or the atlas file `dir` and its directory) as the files object that
 * `Resolver.loadAtlasFiles` takes: `atlas.json`'s text and each context file a pack names, keyed
 * by its path (`/` separators, no empty or `.` steps), read with bundleAtlas's checks. Unlike
 * bundleAtlas, the engine then builds the packs itself, exactly as `loadAtlasDir` does natively
 * (one context block per file, `block_id` = `pack_id/path`).
 */
export function readAtlasDir(dir) {
  const at = locate(dir);
  const files = { 'atlas.json': at.text };
  let total = 0;
  for (const [pack, i] of filePacks(at.doc)) {
    pack.files.forEach((rel, j) => {
      const text = readPackFile(at, rel, `context_packs[${i}].files[${j}] ${JSON.stringify(rel)}`, MAX_PACK_FILES_TOTAL_BYTES - total);
      total += Buffer.byteLength(text);
      files[rel.split('/').filter((c) => c !== '' && c !== '.').join('/')] = text;
    });
  }
  return files;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir || process.argv.length > 3) {
    process.stderr.write('usage: cra-bundle-atlas <atlas-dir> > atlas.bundled.json\n');
    process.exit(2);
  }
  try {
    process.stdout.write(`${JSON.stringify(bundleAtlas(dir), null, 2)}\n`);
  } catch (e) {
    process.stderr.write(`cra-bundle-atlas: ${e.message}\n`);
    process.exit(1);
  }
}
