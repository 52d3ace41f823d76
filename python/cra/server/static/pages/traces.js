// Traces: search, filters, newest first, cursor pages. Filters and the page position are in the URL.

import { h, clear, num, time, badge, emptyState, loading, errorState, short } from '../dom.js';
import { get } from '../api.js';
import { link, go } from '../app.js';
import { filterForm, rangeOf, pick } from '../filters.js';

const FIELDS = ['agent', 'session', 'atlas', 'action', 'decision', 'integrity', 'event_type'];
const KEEP = ['since', 'until', ...FIELDS];
const PAGE = 50;

function searchForm(p) {
  const input = h('input', { type: 'search', id: 'q', name: 'q', class: 'wide', value: p.get('q') || '', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'trace id, session id, event id or agent', 'aria-label': 'Find a trace' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'toolbar', role: 'search', onsubmit: async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    clear(out).append(loading('Searching…'));
    try {
      const r = await get('v1/dashboard/search', { q });
      clear(out);
      if (r.results.length === 1 && !r.agent) { location.hash = `#/trace/${encodeURIComponent(r.results[0].trace_id)}`; return; }
      if (!r.results.length && r.agent) { go('traces', { ...pick(p, ['since', 'until']), agent: r.agent }); return; }
      if (!r.results.length) { out.append(h('p', { class: 'note', role: 'status' }, `Nothing found for “${q}”.`)); return; }
      out.append(h('div', { class: 'panel' }, h('h2', {}, `Found for “${q}”`),
        r.agent ? h('p', {}, h('a', { href: link('traces', { ...pick(p, ['since', 'until']), agent: r.agent }) }, `All traces of agent ${r.agent}`)) : null,
        h('ul', {}, r.results.map((x) => h('li', {}, h('a', { href: `#/trace/${encodeURIComponent(x.trace_id)}` }, h('code', {}, x.trace_id)),
          ` (${x.match})`)))), h('br'));
    } catch (err) { clear(out).append(errorState(err)); }
  } }, h('label', { class: 'field' }, h('span', {}, 'Find'), input), h('button', { type: 'submit' }, 'Find'));
  return [form, out];
}

export async function tracesPage(box, r, current) {
  const p = r.params;
  const t0 = performance.now();
  box.append(h('h1', {}, 'Traces'), ...searchForm(p),
    filterForm(p, FIELDS, (v) => go('traces', v)));
  const out = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' }, loading('Loading traces…'));
  box.append(out);
  const { since, until } = rangeOf(p);
  const cursor = p.get('cursor') && p.get('cursor') !== '0' ? p.get('cursor') : '';  // '0': the first page
  const q = { ...pick(p, FIELDS), since, until, limit: PAGE, cursor };
  const d = await get('v1/traces', q);
  if (!current()) return;
  clear(out).setAttribute('aria-busy', 'false');
  const filters = pick(p, KEEP);
  const back = (p.get('back') || '').split('.').filter(Boolean);
  if (!d.traces.length) {
    const any = Object.keys(pick(p, [...FIELDS, 'since', 'until'])).length;
    out.append(any
      ? emptyState('No trace matches these filters', 'Widen the time range or clear a filter.',
        h('div', {}, h('br'), h('a', { class: 'button', href: '#/traces?since=all' }, 'Show all traces')))
      : emptyState('No traces yet', 'Nothing has been sent to this server for this tenant in the last 7 days.',
        h('div', {}, h('br'), h('a', { class: 'button', href: '#/traces?since=all' }, 'All time'))));
    return;
  }
  const rows = d.traces.map((t) => h('tr', { 'data-trace': t.trace_id, 'data-integrity': t.integrity },
    h('td', {}, h('a', { href: `#/trace/${encodeURIComponent(t.trace_id)}`, class: 'mono' }, t.trace_id)),
    h('td', {}, time(t.first_timestamp)),
    h('td', {}, t.agent_id || '—'),
    h('td', {}, h('span', { class: 'trunc', title: t.session_id || '' }, t.session_id || '—')),
    h('td', { class: 'atl' }, (t.atlases || []).join(', ') || '—'),
    h('td', { class: 'num' }, num(t.events)),
    h('td', {}, badge(t.integrity)),
    h('td', {}, t.ended ? 'ended' : 'open')));
  const table = h('div', { class: 'tablewrap panel' }, h('table', { class: 'traces' },
    h('caption', { class: 'sr' }, 'Traces, newest first'),
    h('thead', {}, h('tr', {}, ['Trace', 'Started', 'Agent', 'Session', 'Atlases', 'Events', 'Integrity', 'Session state']
      .map((c) => h('th', { scope: 'col', class: c === 'Events' ? 'num' : null }, c)))),
    h('tbody', {}, rows)));
  const pageNo = back.length + 1;
  const nav = h('div', { class: 'toolbar', style: 'justify-content: space-between; margin-top: 10px' },
    h('span', { class: 'note', role: 'status' }, `Page ${pageNo} · ${d.traces.length} traces, newest first · ${Math.round(performance.now() - t0)} ms`),
    h('span', { class: 'actions' },
      pageNo > 1 ? h('a', { class: 'button', href: link('traces', filters) }, '« Newest') : null,
      pageNo > 1 ? h('a', { class: 'button', rel: 'prev', href: link('traces', { ...filters, cursor: back[back.length - 1],
        back: back.slice(0, -1).join('.') }) }, '‹ Newer') : null,
      d.next_cursor ? h('a', { class: 'button', rel: 'next', id: 'older', href: link('traces', { ...filters, cursor: d.next_cursor,
        back: [...back, cursor || '0'].slice(-50).join('.') }) }, 'Older ›') : h('span', { class: 'note' }, 'No older traces')));
  out.append(table, nav);
  performance.mark('traces-painted');
}
