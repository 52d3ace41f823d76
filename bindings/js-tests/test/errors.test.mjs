// The JS error map (bindings/node/lib/api.mjs, shared by @cra/node and @cra/wasm) and the
// declarations (index.d.ts) against the one error table, conformance/errors.json (generated from
// core/src/error.rs; docs/errors.md): no code missing, no extra code, every family agrees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cra, repo } from '../impl.mjs';

const table = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/errors.json'), 'utf8'));
const { errors } = await import(pathToFileURL(path.join(repo, 'bindings/node/lib/api.mjs')).href);
const dts = fs.readFileSync(path.join(repo, 'bindings/node/index.d.ts'), 'utf8');

/** The string literals of `export type <name> = 'A' | 'B' ...;` in index.d.ts. */
function union(name) {
  const m = dts.match(new RegExp(`export type ${name} =([^;]*);`));
  assert.ok(m, `index.d.ts declares ${name}`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
}

/** Every disagreement between a table and a binding's maps, one line each. */
export function drift(tbl, { errorClasses, familyClasses, codeUnion, familyUnion }) {
  const problems = [];
  const families = tbl.families.map((f) => f.family);
  // The C ABI's own statuses (NULL_ARGUMENT, POISONED, ...) never reach JS: only engine codes.
  const wanted = new Map(tbl.codes.map((c) => [c.code, c.family]));
  for (const f of families) if (!familyClasses[f]) problems.push(`family ${f} has no class`);
  for (const f of Object.keys(familyClasses)) if (!families.includes(f)) problems.push(`family ${f} is not in the table`);
  for (const [code, family] of wanted) {
    const Cls = errorClasses[code];
    if (!Cls) problems.push(`${code} is missing from ERROR_CLASSES`);
    else if (familyClasses[family] && !(Cls.prototype instanceof familyClasses[family] || Cls === familyClasses[family])) problems.push(`${code}: ${Cls.name} is not in family ${family}`);
    else if (new Cls('x', { code }).family !== family) problems.push(`${code}: family is ${new Cls('x', { code }).family}, the table says ${family}`);
    if (!codeUnion.includes(code)) problems.push(`${code} is missing from index.d.ts ErrorCode`);
  }
  for (const code of Object.keys(errorClasses)) if (!wanted.has(code)) problems.push(`${code} is in ERROR_CLASSES but not in the table`);
  for (const code of codeUnion) if (!wanted.has(code)) problems.push(`${code} is in index.d.ts ErrorCode but not in the table`);
  if ([...familyUnion].sort().join() !== [...families].sort().join()) problems.push(`index.d.ts ErrorFamily is ${familyUnion}, the table has ${families}`);
  return problems;
}

const ours = () => ({
  errorClasses: errors.ERROR_CLASSES,
  familyClasses: errors.FAMILY_CLASSES,
  codeUnion: union('ErrorCode'),
  familyUnion: union('ErrorFamily'),
});

test('the error map and index.d.ts match conformance/errors.json', () => {
  assert.deepEqual(drift(table, ours()), []);
});

test('the drift check can fail: a renamed code, a moved code, a missing class', () => {
  const renamed = structuredClone(table);
  renamed.codes.find((c) => c.code === 'ATLAS_CONFLICT').code = 'ATLAS_CLASH';
  const p = drift(renamed, ours());
  assert.ok(p.includes('ATLAS_CLASH is missing from ERROR_CLASSES'), p.join('\n'));
  assert.ok(p.includes('ATLAS_CONFLICT is in ERROR_CLASSES but not in the table'), p.join('\n'));
  assert.ok(p.includes('ATLAS_CONFLICT is in index.d.ts ErrorCode but not in the table'), p.join('\n'));

  const moved = structuredClone(table);
  moved.codes.find((c) => c.code === 'INVALID_PARAMETERS').family = 'action';
  assert.deepEqual(drift(moved, ours()), ['INVALID_PARAMETERS: CraInvalidParametersError is not in family action']);

  const fewer = { ...ours(), errorClasses: { ...errors.ERROR_CLASSES } };
  delete fewer.errorClasses.TIMEOUT;
  assert.deepEqual(drift(table, fewer), ['TIMEOUT is missing from ERROR_CLASSES']);
});

test('the package exports every family class; earlier names still work', () => {
  for (const [family, Cls] of Object.entries(errors.FAMILY_CLASSES)) {
    const Exported = cra[Cls.name];
    assert.equal(typeof Exported, 'function', `${Cls.name} is exported`);
    assert.equal(new Exported('x').family, family);
  }
  assert.equal(cra.CraRequestError, cra.CraInvalidRequestError);
  assert.ok(new cra.CraActionDeniedError('x') instanceof cra.CraActionError);
  assert.ok(new cra.CraApprovalRequiredError('x') instanceof cra.CraActionError);
  assert.ok(new cra.CraInvalidParametersError('x') instanceof cra.CraInvalidRequestError);
  assert.equal(new cra.CraError('x').family, undefined);
});

test('an engine error carries its family', () => {
  const r = new cra.Resolver();
  try {
    assert.throws(() => r.unloadAtlas('no.such.atlas'), (e) => e instanceof cra.CraAtlasError && e.family === 'atlas' && e.code === 'ATLAS_NOT_FOUND');
  } finally {
    r.close?.();
  }
});
