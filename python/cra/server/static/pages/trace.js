// One trace: what happened, event by event, in human terms; the hash chain; "Verify again"
// (the server re-checks the stored raw lines with libcra); the exact JSONL as stored.

import { h, clear, num, time, badge, emptyState, loading, errorState, short } from '../dom.js';
import { get, post, request } from '../api.js';
import { link } from '../app.js';
import { describe } from '../events.js';

const ZERO = '0'.repeat(64);
const MAX_EVENTS = 20000;

function offset(us, first) {
  const s = (us - first) / 1e6;
  if (s < 60) return `+${s.toFixed(3)} s`;
  if (s < 3600) return `+${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `+${(s / 3600).toFixed(1)} h`;
}

function eventRow(row, prev, first) {
  const ev = row.event || {};
  const d = describe(row);
  let linkText, linkClass;
  if (ev.previous_event_hash === ZERO && ev.sequence === 0) { linkText = 'genesis'; linkClass = 'link-ok'; }
  else if (prev && prev.event && prev.sequence === ev.sequence - 1) {
    const ok = prev.event.event_hash === ev.previous_event_hash;
    linkText = ok ? `links to #${prev.sequence} ✓` : `does not link to #${prev.sequence} ✗`;
    linkClass = ok ? 'link-ok' : 'link-bad';
  } else { linkText = `links to ${short(ev.previous_event_hash, 10)}`; linkClass = ''; }
  const details = h('details', {}, h('summary', { class: 'note' }, 'hashes and the event'),
    h('pre', {}, `event_hash          ${ev.event_hash}\nprevious_event_hash ${ev.previous_event_hash}\nevent_id            ${ev.event_id}\n` +
      `span_id             ${ev.span_id}\nparent_span_id      ${ev.parent_span_id}\n\n${JSON.stringify(ev.payload, null, 2)}`));
  return h('li', { class: 'ev', id: `ev-${row.sequence}`, 'data-sequence': row.sequence, tabindex: -1 },
    h('div', { class: 'seq' }, `#${row.sequence}`),
    h('div', { class: 'when' }, time(ev.timestamp, offset(row.ts_us, first))),
    h('div', { class: 'what' }, h('div', {}, d.badge ? [badge(d.badge), ' '] : null, h('span', { class: 't' }, d.title),
      h('span', { class: 'type' }, row.event_type)), h('div', {}, d.detail), h('div', { class: 'finding-slot' }), details),
    h('div', { class: 'hash mono' }, h('div', { title: ev.event_hash }, short(ev.event_hash, 16)),
      h('div', { class: linkClass }, linkText)));
}

function jump(seq) {
  const el = document.getElementById(`ev-${seq}`);
  if (!el) return;
  el.scrollIntoView({ block: 'center' });
  el.classList.add('focus');
  el.focus({ preventScroll: true });
}

function showVerify(panel, timeline, v) {
  clear(panel);
  for (const el of timeline.querySelectorAll('.ev.bad')) el.classList.remove('bad');
  for (const el of timeline.querySelectorAll('.finding-slot')) clear(el);
  const broken = v.findings.filter((f) => f.severity === 'broken');
  const gaps = v.findings.filter((f) => f.severity === 'gap');
  const cls = v.status === 'intact' ? 'ok' : v.status === 'gap' ? 'warn' : 'bad';
  const head = v.head ? `#${v.head.sequence} (${short(v.head.event_hash, 12)})` : 'none';
  const box = h('div', { class: cls, id: 'verify-result', 'data-status': v.status, role: 'status' },
    h('strong', {}, v.status === 'intact' ? `Verified again: all ${num(v.events)} stored lines are intact and linked.`
      : v.status === 'gap' ? `Verified again: the stored lines are intact; the chain has ${gaps.length} recorded gap(s).`
        : `Verified again: BROKEN at line ${broken[0].line} (sequence ${broken[0].sequence}).`),
    h('div', { class: 'note' }, `libcra checked ${num(v.events)} stored line(s) at `, time(v.checked_at),
      `; last line ${head}; the trace was stored as ${v.stored_integrity}.`));
  if (v.findings.length) {
    box.append(h('ul', {}, v.findings.map((f) => h('li', { class: 'finding', 'data-line': f.line, 'data-code': f.code },
      h('button', { type: 'button', class: 'link', onclick: () => jump(f.sequence) }, `line ${f.line}, sequence ${f.sequence}`),
      ': ', h('code', {}, f.code), ` — ${f.message}`))));
  }
  if (v.truncated) box.append(h('p', {}, 'More problems were found than are listed; the check stopped.'));
  panel.append(box);
  for (const f of v.findings) {
    const row = document.getElementById(`ev-${f.sequence}`);
    if (!row) continue;
    if (f.severity === 'broken') row.classList.add('bad');
    row.querySelector('.finding-slot').append(h('div', { class: f.severity === 'broken' ? 'bad' : 'warn', style: 'margin-top:6px' },
      h('strong', {}, f.severity === 'broken' ? `Line ${f.line} is broken: ` : 'Gap: '), h('code', {}, f.code), ` — ${f.message}`));
  }
  if (broken.length) jump(broken[0].sequence);
}

export async function tracePage(box, r, current) {
  const id = r.id;
  if (!id) { box.append(emptyState('No trace chosen', 'Pick one in the traces list.')); return; }
  box.append(loading('Loading the trace…'));
  let t;
  try {
    t = await get(`v1/traces/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!current()) return;
    clear(box).append(h('h1', {}, 'Trace'), err.status === 404
      ? emptyState('No such trace', `No trace ${id} is stored for this token's tenant.`, h('div', {}, h('br'), h('a', { class: 'button', href: '#/traces' }, 'All traces')))
      : errorState(err));
    return;
  }
  const rows = [];
  let after = -1;
  while (rows.length < MAX_EVENTS) {
    const page = await get(`v1/traces/${encodeURIComponent(id)}/events`, { after, limit: 1000 });
    rows.push(...page.events);
    if (page.next_after === null || page.next_after === undefined) break;
    after = page.next_after;
  }
  if (!current()) return;
  clear(box);
  const verifyPanel = h('div', { 'aria-live': 'polite' });
  const dl = h('span', { 'aria-live': 'polite' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Events in order' });
  const verifyBtn = h('button', { class: 'primary', id: 'verify', type: 'button', onclick: async () => {
    verifyBtn.disabled = true;
    clear(verifyPanel).append(loading('libcra is checking the stored lines…'));
    try { showVerify(verifyPanel, timeline, await post(`v1/traces/${encodeURIComponent(id)}/verify`)); }
    catch (err) { clear(verifyPanel).append(errorState(err)); }
    finally { verifyBtn.disabled = false; }
  } }, 'Verify again');
  const download = h('button', { type: 'button', id: 'download', onclick: async () => {
    clear(dl).append(h('span', { class: 'spinner' }));
    try {
      const blob = await request('GET', `v1/traces/${encodeURIComponent(id)}.jsonl`, { raw: true });
      const a = h('a', { href: URL.createObjectURL(blob), download: `${id}.jsonl`, id: 'download-link' }, `${id}.jsonl (${num(blob.size)} bytes)`);
      clear(dl).append(a);
      a.click();
    } catch (err) { clear(dl).append(errorState(err)); }
  } }, 'Download JSONL');
  box.append(h('h1', {}, 'Trace ', h('code', {}, id), ' ', badge(t.integrity)),
    h('section', { class: 'panel' },
      h('dl', { class: 'summary' },
        h('dt', {}, 'Agent'), h('dd', {}, t.agent_id ? h('a', { href: link('traces', { agent: t.agent_id, since: 'all' }) }, t.agent_id) : '—'),
        h('dt', {}, 'Session'), h('dd', {}, t.session_id ? h('a', { href: link('traces', { session: t.session_id, since: 'all' }) }, t.session_id) : '—'),
        h('dt', {}, 'Atlases'), h('dd', {}, (t.atlases || []).join(', ') || '—'),
        h('dt', {}, 'Events'), h('dd', {}, `${num(t.events)}${t.held ? ` (+${t.held} held, waiting for missing ones)` : ''}`),
        h('dt', {}, 'First event'), h('dd', {}, time(t.first_timestamp)),
        h('dt', {}, 'Last event'), h('dd', {}, time(t.last_timestamp)),
        h('dt', {}, 'State'), h('dd', {}, t.ended ? 'session ended' : 'open (no session.ended yet)'),
        h('dt', {}, 'Head'), h('dd', { class: 'mono' }, t.head_sequence === null ? '—' : `#${t.head_sequence} ${short(t.head_hash, 16)}`),
        h('dt', {}, 'Integrity alerts'), h('dd', {}, num(t.alerts)),
        h('dt', {}, 'Recorded gaps'), h('dd', {}, t.gaps.length ? t.gaps.map((g) => `${g.from_sequence}–${g.to_sequence}`).join(', ') : 'none')),
      h('br'),
      h('div', { class: 'actions' }, verifyBtn, download,
        h('a', { class: 'button', href: link('replay', { trace: id }) }, 'Replay against a candidate atlas'), dl),
      h('br'), verifyPanel));
  const first = rows.length ? rows[0].ts_us : 0;
  const gapAt = new Map((t.gaps || []).map((g) => [g.to_sequence + 1, g]));
  let prev = null;
  for (const row of rows) {
    const g = gapAt.get(row.sequence);
    if (g) timeline.append(h('li', { class: 'ev gaprow' }, h('div', {}, badge('gap'),
      g.from_sequence === g.to_sequence ? ` Event ${g.from_sequence} never arrived` : ` Events ${g.from_sequence} to ${g.to_sequence} never arrived`,
      `; the gap was recorded at ingest and the chain goes on from #${row.sequence}.`)));
    timeline.append(eventRow(row, prev, first));
    prev = row;
  }
  box.append(h('br'), h('section', { class: 'panel', 'aria-labelledby': 'h-tl' },
    h('h2', { id: 'h-tl' }, `Timeline (${num(rows.length)} events)`),
    h('p', { class: 'note' }, 'Each event shows its hash and whether it names the previous event\'s hash. ' +
      'That is what the stored lines say; "Verify again" has libcra recompute every hash from the stored bytes.'),
    rows.length ? timeline : emptyState('No events stored', 'Events of this trace are held, waiting for missing ones.'),
    rows.length >= MAX_EVENTS ? h('p', { class: 'warn' }, `Only the first ${num(MAX_EVENTS)} events are shown; download the JSONL for all of them.`) : null));
  performance.mark('trace-painted');
}
