// Replay: choose candidate atlases (the server's, edited, or uploaded) and a set of stored
// traces; see which decisions would change, per trace and in total, before deploying the policy.

import { h, clear, num, emptyState, loading, errorState, field, badge } from '../dom.js';
import { get, post } from '../api.js';
import { link, go } from '../app.js';
import { filterForm, rangeOf, pick } from '../filters.js';

const FIELDS = ['agent', 'atlas', 'action', 'decision', 'integrity'];
const candidates = new Map();   // atlas_id -> {doc, source, name}; kept while the tab lives
let known = null;

function packFiles(doc) {
  return (doc.context_packs || []).filter((p) => p && Array.isArray(p.files));
}

async function readFolder(files) {
  // an atlas folder as a browser FileList (webkitdirectory): atlas.json plus its context files, inlined
  const byPath = new Map();
  for (const f of files) byPath.set(f.webkitRelativePath || f.name, f);
  const out = [];
  for (const [path, f] of byPath) {
    if (!path.endsWith('atlas.json')) continue;
    const dir = path.slice(0, -'atlas.json'.length);
    const doc = JSON.parse(await f.text());
    for (const pack of packFiles(doc)) {
      const parts = [];
      for (const rel of pack.files) {
        const file = byPath.get(dir + String(rel).replace(/^\.\//, ''));
        if (!file) throw new Error(`${path}: context file ${rel} is not in the folder`);
        parts.push(await file.text());
      }
      delete pack.files;
      pack.content = parts.join('\n\n');
      if (!pack.content_type) pack.content_type = 'text/markdown';
    }
    out.push(doc);
  }
  if (!out.length) throw new Error('no atlas.json in the chosen folder');
  return out;
}

function add(doc, source, name) {
  if (!doc || typeof doc !== 'object' || typeof doc.atlas_id !== 'string') throw new Error(`${name}: not an atlas (no atlas_id)`);
  if (packFiles(doc).length) {
    throw new Error(`${name}: its context packs name files (${packFiles(doc)[0].files.join(', ')}); upload the atlas folder instead, ` +
      'so the files can be included');
  }
  candidates.set(doc.atlas_id, { doc, source, name });
}

function candidateList(el, note) {
  clear(el);
  if (!candidates.size) {
    el.append(h('p', { class: 'note' }, 'No candidate atlas yet: upload one, or start the server with --atlases DIR to offer its atlases here.'));
    return;
  }
  for (const [id, c] of candidates) {
    const editor = h('div', { hidden: true });
    const ta = h('textarea', { rows: 18, 'aria-label': `JSON of ${id}`, spellcheck: 'false' });
    const msg = h('span', { 'aria-live': 'polite' });
    editor.append(ta, h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => {
      try { const doc = JSON.parse(ta.value); add(doc, 'edited here', c.name); if (doc.atlas_id !== id) candidates.delete(id); candidateList(el, note); }
      catch (e) { clear(msg).append(h('span', { class: 'diff-del' }, e.message)); }
    } }, 'Use this version'), h('button', { type: 'button', onclick: () => { editor.hidden = true; } }, 'Cancel'), msg));
    const policies = (c.doc.policies || []).length;
    el.append(h('div', { class: 'cand', 'data-atlas': id },
      h('strong', {}, h('code', {}, id)), h('span', {}, `v${c.doc.version || '?'}`), h('span', { class: 'src' }, `${c.source} · ${policies} policies`),
      h('span', { class: 'actions', style: 'margin-left:auto' },
        h('button', { type: 'button', onclick: () => { ta.value = JSON.stringify(c.doc, null, 2); editor.hidden = false; ta.focus(); } }, 'Edit a copy'),
        h('button', { type: 'button', onclick: () => { candidates.delete(id); candidateList(el, note); } }, 'Leave out')),
      h('div', { style: 'flex-basis:100%' }, editor)));
  }
  note.textContent = `${candidates.size} atlas(es) will be used. Traces are replayed against exactly these, so include every atlas the traces used.`;
}

function changeRow(c) {
  const arrow = c.after ? `${c.before ? c.before.decision : '?'} → ${c.after.decision}` : `${c.before ? c.before.decision : '?'} → error`;
  return h('tr', { 'data-trace': c.trace_id },
    h('td', {}, h('a', { href: `#/trace/${encodeURIComponent(c.trace_id)}`, class: 'mono' }, c.trace_id)),
    h('td', {}, c.session_id || '—'), h('td', { class: 'num' }, c.line),
    h('td', {}, arrow),
    h('td', {}, (c.newly_allowed || []).map((a) => h('div', { class: 'diff-add' }, `+ ${a}`))),
    h('td', {}, (c.no_longer_allowed || []).map((a) => h('div', { class: 'diff-del' }, `− ${a}`))),
    h('td', {}, c.error ? h('code', {}, c.error) : ''));
}

function results(d) {
  const traces = new Set(d.changed.map((c) => c.trace_id));
  const noLonger = new Map(), newly = new Map();
  for (const c of d.changed) {
    for (const a of c.no_longer_allowed || []) noLonger.set(a, (noLonger.get(a) || 0) + 1);
    for (const a of c.newly_allowed || []) newly.set(a, (newly.get(a) || 0) + 1);
  }
  const box = h('section', { class: 'panel', id: 'replay-result', 'data-changed': d.changed.length },
    h('h2', {}, 'What would change'),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'k' }, 'Traces replayed'), h('div', { class: 'v' }, num(d.traces))),
      h('div', { class: 'card' }, h('div', { class: 'k' }, 'Requests replayed'), h('div', { class: 'v' }, num(d.replayed))),
      h('div', { class: 'card allowed' }, h('div', { class: 'k' }, 'Unchanged'), h('div', { class: 'v' }, num(d.unchanged))),
      h('div', { class: `card ${d.changed.length ? 'denied' : ''}` }, h('div', { class: 'k' }, 'Changed decisions'), h('div', { class: 'v', id: 'changed-count' }, num(d.changed.length)),
        h('div', { class: 'd' }, `in ${num(traces.size)} trace(s)`))));
  if (d.missing && d.missing.length) box.append(h('p', { class: 'warn' }, `Not found for this tenant: ${d.missing.join(', ')}`));
  if (!d.changed.length) {
    box.append(emptyState('No decision would change', `All ${num(d.replayed)} recorded requests resolve the same way with these atlases.`));
    return box;
  }
  box.append(h('div', { class: 'grid g2' },
    h('div', {}, h('h3', {}, 'No longer allowed'), noLonger.size ? h('ul', {}, [...noLonger].map(([a, n]) => h('li', { class: 'diff-del' }, `${a} (${n} request${n > 1 ? 's' : ''})`))) : h('p', { class: 'note' }, 'nothing')),
    h('div', {}, h('h3', {}, 'Newly allowed'), newly.size ? h('ul', {}, [...newly].map(([a, n]) => h('li', { class: 'diff-add' }, `${a} (${n} request${n > 1 ? 's' : ''})`))) : h('p', { class: 'note' }, 'nothing'))),
  h('h3', {}, 'Per trace'),
  h('div', { class: 'tablewrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Trace', 'Session', 'Line', 'Decision', 'Newly allowed', 'No longer allowed', 'Error']
    .map((c) => h('th', { class: c === 'Line' ? 'num' : null }, c)))), h('tbody', {}, d.changed.map(changeRow)))));
  return box;
}

export async function replayPage(box, r, current) {
  const p = r.params;
  box.append(h('h1', {}, 'Replay'), h('p', { class: 'sub' }, 'Re-run the recorded resolve requests of stored traces against candidate atlases ' +
    '(libcra, on the server) and see which decisions would change before the policy is deployed.'));
  if (known === null) {
    box.append(loading('Reading the server\'s atlases…'));
    known = await get('v1/dashboard/atlases');
    if (!current()) return;
    clear(box).append(h('h1', {}, 'Replay'));
    for (const a of known.atlases) if (a.document && !candidates.has(a.atlas_id)) candidates.set(a.atlas_id, { doc: a.document, source: 'server', name: a.name });
  }
  const list = h('div', { id: 'candidates' });
  const note = h('p', { class: 'note' });
  const upMsg = h('div', { 'aria-live': 'polite' });
  const upload = h('input', { type: 'file', id: 'upload', accept: '.json,application/json', multiple: true, onchange: async () => {
    clear(upMsg);
    for (const f of upload.files) {
      try { add(JSON.parse(await f.text()), 'uploaded', f.name); } catch (e) { upMsg.append(errorState({ title: `Cannot use ${f.name}`, message: e.message })); }
    }
    upload.value = '';
    candidateList(list, note);
  } });
  const folder = h('input', { type: 'file', id: 'upload-folder', webkitdirectory: true, onchange: async () => {
    clear(upMsg);
    try { for (const doc of await readFolder(folder.files)) add(doc, 'uploaded folder', doc.atlas_id); }
    catch (e) { upMsg.append(errorState({ title: 'Cannot use this folder', message: e.message })); }
    folder.value = '';
    candidateList(list, note);
  } });
  const errs = (known.atlases || []).filter((a) => a.error);
  box.append(h('section', { class: 'panel', 'aria-labelledby': 'h-cand' }, h('h2', { id: 'h-cand' }, '1. Candidate atlases'),
    note, list,
    errs.length ? h('p', { class: 'warn' }, errs.map((a) => `${a.name}: ${a.error}`).join('; ')) : null,
    h('div', { class: 'toolbar', style: 'margin-top:10px' },
      field('Upload atlas.json (self-contained)', upload), field('…or an atlas folder', folder)), upMsg));
  candidateList(list, note);

  const ids = h('textarea', { id: 'trace-ids', rows: 2, spellcheck: 'false', placeholder: 'trace ids, one per line (leave empty to use the filters)' },
    (p.get('trace') || '').split(',').filter(Boolean).join('\n'));
  const limit = h('input', { type: 'number', id: 'limit', min: 1, max: 1000, value: p.get('limit') || '100', style: 'width:90px' });
  const out = h('div', { 'aria-live': 'polite' });
  const run = async (v) => {
    const traceIds = ids.value.split(/[\s,]+/).filter(Boolean);
    go('replay', { ...v, trace: traceIds.join(','), limit: limit.value === '100' ? '' : limit.value }, { replace: true, silent: true });
    if (!candidates.size) { clear(out).append(errorState({ title: 'No candidate atlas', message: 'Add at least one atlas above.' })); return; }
    clear(out).append(loading('Replaying…'));
    const body = { atlases: [...candidates.values()].map((c) => c.doc) };
    if (traceIds.length) body.trace_ids = traceIds;
    else {
      const f = {};
      for (const k of FIELDS) if (v[k]) f[k] = v[k];
      const { since, until } = rangeOf(new URLSearchParams(Object.entries({ since: v.since, until: v.until }).filter(([, x]) => x)));
      if (since) f.since = since;
      if (until) f.until = until;
      body.filter = f;
      body.limit = Number(limit.value) || 100;
    }
    try { clear(out).append(results(await post('v1/replay', body))); } catch (err) { clear(out).append(errorState(err)); }
  };
  box.append(h('br'), h('section', { class: 'panel', 'aria-labelledby': 'h-q' }, h('h2', { id: 'h-q' }, '2. Which stored traces'),
    h('p', { class: 'note' }, 'The newest traces matching the filters (at most the limit, bounded by the server), or the trace ids given.'),
    field('Trace ids', ids), h('br'),
    filterForm(p, FIELDS, run, { submitLabel: 'Replay', extra: field('Limit', limit) })), h('br'), out);
  if (p.get('run') === '1') {
    const form = box.querySelector('form.filters');
    form.requestSubmit();
  }
}
