// The JS conformance runner: runs conformance/ (or another corpus) through the JS API of the
// implementation chosen by CRA_JS_IMPL, exactly as conformance/runner/src/run.rs interprets the
// format (manifest check, fresh deterministic resolver per case, tamper ops, subset matching,
// drain summaries, xfail with unexpected passes failing).
//
//   node conformance.mjs [corpus-root] [--xfail <binding>]
// Exit status 0 only when every case ran and passed (or failed as listed).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readAtlasDir } from '../wasm/npm/bundle-atlas.mjs';

/** The first mismatch as [pointer, expected, actual], or null (conformance/README.md rules). */
export function mismatch(expected, actual, p = '') {
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(expected) && isObj(actual)) {
    for (const [k, ev] of Object.entries(expected)) {
      const kp = `${p}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      if (!Object.prototype.hasOwnProperty.call(actual, k)) return [kp, ev, '<absent>'];
      const m = mismatch(ev, actual[k], kp);
      if (m) return m;
    }
    return null;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) return [`${p} (length)`, expected.length, actual.length];
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(expected[i], actual[i], `${p}/${i}`);
      if (m) return m;
    }
    return null;
  }
  return deepEqual(expected, actual) ? null : [p, expected, actual];
}

/** JSON equality (object key order ignored). */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

/** Applies tamper operations to JSONL text (line-based, 0-based indices); throws on bad ops. */
export function tamper(trace, ops) {
  // Rust's str::lines: split on \n, drop one trailing empty piece, strip a \r before each \n.
  let lines = trace.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  lines = lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  for (const op of Array.isArray(ops) ? ops : []) {
    const idx = (k) => {
      if (!Number.isInteger(op[k]) || op[k] < 0) throw new Error(`tamper op ${JSON.stringify(op)} needs ${k}`);
      return op[k];
    };
    if ('swap' in op) {
      const [a, b] = [op.swap[0] ?? 0, op.swap[1] ?? 0];
      if (a >= lines.length || b >= lines.length) throw new Error(`swap ${a} ${b} out of range`);
      [lines[a], lines[b]] = [lines[b], lines[a]];
    } else if ('delete' in op) {
      const i = idx('delete');
      if (i >= lines.length) throw new Error(`delete ${i} out of range`);
      lines.splice(i, 1);
    } else if ('duplicate' in op) {
      const i = idx('duplicate');
      if (i >= lines.length) throw new Error(`duplicate ${i} out of range`);
      lines.splice(i + 1, 0, lines[i]);
    } else if ('replace' in op) {
      const r = op.replace;
      const i = r.line ?? 0;
      const [find, withText] = [r.find ?? '', r.with ?? ''];
      if (i >= lines.length) throw new Error(`replace line ${i} out of range`);
      if (!lines[i].includes(find)) throw new Error(`replace: line ${i} does not contain ${JSON.stringify(find)}`);
      lines[i] = lines[i].replace(find, () => withText);
    } else if ('truncate_last_line' in op) {
      const n = idx('truncate_last_line');
      const bytes = Buffer.from(lines.join('\n') + '\n');
      return bytes.subarray(0, Math.max(0, bytes.length - (n + 1))).toString('utf8');
    } else {
      throw new Error(`unknown tamper op ${JSON.stringify(op)}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** The drain summary: count, event types in order, last event hash per session. */
export function traceSummary(jsonl) {
  const types = [];
  const heads = {};
  for (const line of jsonl.split('\n')) {
    if (!line) continue;
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    types.push(ev.event_type ?? null);
    if (typeof ev.session_id === 'string' && typeof ev.event_hash === 'string') heads[ev.session_id] = ev.event_hash;
  }
  return { count: types.length, event_types: types, heads };
}

function caseFiles(dir, out) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) caseFiles(p, out);
    else if (e.name.endsWith('.json')) out.push(p);
  }
}

const text = (v) => (v === undefined ? 'null' : JSON.stringify(v));
const body = (step, key) => (typeof step[`${key}_text`] === 'string' ? step[`${key}_text`] : text(step[key]));

function resolveAtlas(v, fixtures) {
  if (typeof v === 'string') {
    if (!Object.prototype.hasOwnProperty.call(fixtures, v)) throw new Error(`no atlas fixture ${JSON.stringify(v)}`);
    return fixtures[v];
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v;
  throw new Error(`atlas must be a fixture name or an object, not ${JSON.stringify(v)}`);
}

/** Runs one operation; returns the answer (JSON value, or JSONL text for drain_trace). */
async function call(cra, r, op, step, fixtures, root, drained) {
  switch (op) {
    case 'load_atlas':
      return r.loadAtlas(typeof step.atlas_text === 'string' ? step.atlas_text : text(resolveAtlas(step.atlas, fixtures)));
    case 'load_atlas_dir':
      if (typeof cra.recover === 'function') {
        // WASM (the module exporting recover()) has no file system: the directory is read here
        // (@cra/wasm/bundle-atlas) and handed over as its files; one that does not exist has
        // none, and the engine answers IO_ERROR as the native loader does.
        const dir = path.join(root, step.path ?? '');
        return r.loadAtlasFiles(fs.existsSync(dir) ? readAtlasDir(dir) : {});
      }
      return r.loadAtlasDir(path.join(root, step.path ?? ''));
    case 'unload_atlas':
      return r.unloadAtlas(step.atlas_id ?? '');
    case 'load_shadow':
      return r.loadShadow(typeof step.atlas_text === 'string' ? step.atlas_text : text(resolveAtlas(step.atlas, fixtures)));
    case 'unload_shadow':
      return r.unloadShadow(step.atlas_id ?? '');
    case 'explain':
      return r.explain(body(step, 'request'), step.action_id ?? '');
    case 'approvals': {
      // As run.rs: the filter when the step gives one (even null), else `{}` (every pending one).
      const given = Object.prototype.hasOwnProperty.call(step, 'filter') || Object.prototype.hasOwnProperty.call(step, 'filter_text');
      return r.listApprovals(given ? body(step, 'filter') : '{}');
    }
    case 'resolve':
      return r.resolve(body(step, 'request'));
    case 'execute':
      return r.execute(body(step, 'request'));
    case 'report':
      return r.report(body(step, 'report'));
    case 'approve':
      return r.approve(body(step, 'decision'));
    case 'reject':
      return r.reject(body(step, 'decision'));
    case 'end_session':
      return r.endSession(body(step, 'body'));
    case 'check':
      return r.check(step.session_id ?? '', step.action_id ?? '');
    case 'advance_clock':
      r.advanceClock(Math.round((typeof step.seconds === 'number' ? step.seconds : 0) * 1e6));
      return null;
    case 'flush':
      await r.flush(10000);
      return null;
    case 'stats':
      return r.stats();
    case 'drain_trace':
      return r.drainTrace();
    case 'verify_trace':
    case 'replay': {
      const base = typeof step.trace_text === 'string' ? step.trace_text : drained.join('');
      const trace = tamper(base, step.tamper);
      if (op === 'verify_trace') return cra.verifyTrace(trace);
      const atlases = (Array.isArray(step.atlases) ? step.atlases : []).map((a) => resolveAtlas(a, fixtures));
      return cra.replay(trace, text(atlases));
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(op)}`);
  }
}

class SetupError extends Error {}

/** Runs one case on a fresh resolver; throws an Error naming the first failing step. */
export async function runCase(cra, kase, fixtures, root) {
  const config = { deterministic: { seed: 1 } };
  if (kase.config && typeof kase.config === 'object' && !Array.isArray(kase.config)) Object.assign(config, kase.config);
  let r;
  try {
    r = new cra.Resolver(text(config));
  } catch (e) {
    throw new Error(`create: ${e.code} ${e.message}`);
  }
  try {
    const drained = [];
    const steps = Array.isArray(kase.steps) ? kase.steps : [];
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const op = typeof step.op === 'string' ? step.op : '';
      const at = (m) => `step ${i} (${op}): ${m}`;
      let out;
      let err;
      try {
        out = await call(cra, r, op, step, fixtures, root, drained);
      } catch (e) {
        if (!(e instanceof cra.CraError)) throw new SetupError(at(e.message));
        err = e;
      }
      const want = step.expect_error;
      if (err && want !== undefined) {
        if (want.code !== err.code) throw new Error(at(`expected error ${JSON.stringify(want.code)} but got ${err.code} (${err.message})`));
        if (Object.prototype.hasOwnProperty.call(want, 'pointer')) {
          const wp = typeof want.pointer === 'string' ? want.pointer : null;
          if (wp !== (err.pointer ?? null)) {
            throw new Error(at(`expected pointer ${JSON.stringify(want.pointer)} but got ${JSON.stringify(err.pointer)} (${err.message})`));
          }
        }
      } else if (err) {
        throw new Error(at(`unexpected error ${err.code} at ${JSON.stringify(err.pointer)}: ${err.message}`));
      } else if (want !== undefined) {
        throw new Error(at(`expected error ${JSON.stringify(want.code)} but the call succeeded: ${typeof out === 'string' ? out : JSON.stringify(out)}`));
      } else {
        let actual = out;
        if (op === 'drain_trace') {
          drained.push(out);
          actual = traceSummary(out);
        }
        if (step.expect !== undefined) {
          const m = mismatch(step.expect, actual, '');
          if (m) throw new Error(at(`at ${m[0]}: expected ${JSON.stringify(m[1])}, got ${JSON.stringify(m[2])}`));
        }
        if (step.expect_exact !== undefined && !deepEqual(step.expect_exact, actual)) {
          throw new Error(at(`expected exactly ${JSON.stringify(step.expect_exact)}, got ${JSON.stringify(actual)}`));
        }
      }
    }
  } finally {
    r.free();
  }
}

/** Reads xfail/<binding>.json (`{"case-id": "reason"}`); absent = none. */
export function loadXfail(root, binding) {
  const p = path.join(root, 'xfail', `${binding}.json`);
  if (!fs.existsSync(p)) return {};
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

/** Runs the corpus at `root`: {cases: [[id, outcome, message]], expectedTotal, errors, ok}. */
export async function runCorpus(cra, root, xfail) {
  const report = { cases: [], expectedTotal: 0, errors: [] };
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));
  } catch (e) {
    report.errors.push(`cannot read manifest.json: ${e.message}`);
    return finish(report);
  }
  report.expectedTotal = Number.isInteger(manifest.total) ? manifest.total : 0;
  const listed = manifest.files && typeof manifest.files === 'object' ? manifest.files : {};
  const sum = Object.values(listed).reduce((a, n) => a + (Number.isInteger(n) ? n : 0), 0);
  if (sum !== report.expectedTotal) report.errors.push(`manifest total ${report.expectedTotal} is not the sum of its per-file counts`);
  const files = [];
  caseFiles(path.join(root, 'cases'), files);
  const rels = files.map((f) => path.relative(root, f).split(path.sep).join('/'));
  const seen = new Set();
  for (let fi = 0; fi < files.length; fi++) {
    const rel = rels[fi];
    let doc;
    try {
      doc = JSON.parse(fs.readFileSync(files[fi], 'utf8'));
    } catch (e) {
      report.errors.push(`${rel}: ${e.message}`);
      continue;
    }
    const cases = Array.isArray(doc.cases) ? doc.cases : [];
    if (!Object.prototype.hasOwnProperty.call(listed, rel)) report.errors.push(`${rel} is not in manifest.json`);
    else if (listed[rel] !== cases.length) report.errors.push(`${rel} has ${cases.length} cases; manifest.json says ${listed[rel]}`);
    const fixtures = doc.atlases && typeof doc.atlases === 'object' ? doc.atlases : {};
    for (const kase of cases) {
      const id = typeof kase.id === 'string' ? kase.id : '<no id>';
      if (seen.has(id)) report.errors.push(`duplicate case id ${id}`);
      seen.add(id);
      let failure = null;
      try {
        await runCase(cra, kase, fixtures, root);
      } catch (e) {
        failure = e.message;
      }
      const reason = Object.prototype.hasOwnProperty.call(xfail, id) ? xfail[id] : undefined;
      if (failure === null) report.cases.push(reason === undefined ? [id, 'pass'] : [id, 'xpass', reason]);
      else report.cases.push(reason === undefined ? [id, 'fail', failure] : [id, 'xfail', reason]);
    }
  }
  for (const f of Object.keys(listed)) if (!rels.includes(f)) report.errors.push(`manifest.json lists ${f}, which does not exist`);
  for (const id of Object.keys(xfail)) if (!seen.has(id)) report.errors.push(`expected-failure list names unknown case ${id}`);
  return finish(report);
}

function finish(report) {
  report.ok =
    report.errors.length === 0 &&
    report.cases.length === report.expectedTotal &&
    report.cases.every(([, o]) => o === 'pass' || o === 'xfail');
  return report;
}

/** The human report, ending with `N passed, N failed` (as the Rust runner prints it). */
export function render(report, binding) {
  const lines = report.errors.map((e) => `ERROR  ${e}`);
  const n = { pass: 0, fail: 0, xfail: 0, xpass: 0 };
  for (const [id, o, m] of report.cases) {
    n[o]++;
    if (o === 'pass') lines.push(`ok     ${id}`);
    else if (o === 'fail') lines.push(`FAIL   ${id}: ${m}`);
    else if (o === 'xfail') lines.push(`xfail  ${id}: ${m}`);
    else lines.push(`XPASS  ${id}: listed as expected failure (${m}) but passed`);
  }
  lines.push(`conformance[${binding}]: ran ${report.cases.length} of ${report.expectedTotal} cases; ${n.xfail} expected failures, ${n.xpass} unexpected passes`);
  const failed = n.fail + n.xpass + report.errors.length + Math.max(0, report.expectedTotal - report.cases.length);
  lines.push(`${n.pass} passed, ${failed} failed`);
  return lines.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { cra, repo, xfailName, implName } = await import('./impl.mjs');
  const args = process.argv.slice(2);
  let root = path.join(repo, 'conformance');
  let binding = xfailName;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--xfail') binding = args[++i];
    else root = path.resolve(args[i]);
  }
  const report = await runCorpus(cra, root, loadXfail(root, binding));
  const out = render(report, `${binding}:${implName}`);
  process.stdout.write(process.env.CRA_CONFORMANCE_VERBOSE ? out : out.split('\n').filter((l) => !l.startsWith('ok ')).join('\n'));
  process.exitCode = report.ok ? 0 : 1;
}
