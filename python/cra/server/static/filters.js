// The filter bar shared by the pages: a time range (presets or from/to) and agent / atlas, plus
// page-specific fields. Values live in the URL; "Apply" navigates, so Back and links work.

import { h, field } from './dom.js';
import { get } from './api.js';

export const RANGES = [['1h', 'Last hour'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'], ['all', 'All time'], ['custom', 'Custom…']];
export const DEFAULT_SINCE = '7d';

let facetCache = null;
export async function facets() {
  if (!facetCache) facetCache = get('v1/dashboard/facets').catch((e) => { facetCache = null; throw e; });
  return facetCache;
}

function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The range in the URL as API parameters: {since, until} (since '' for all time). */
export function rangeOf(params) {
  const since = params.get('since') || DEFAULT_SINCE;
  const until = params.get('until') || '';
  if (since === 'all') return { since: '', until };
  return { since, until };
}

function datalist(id, values) {
  return h('datalist', { id }, (values || []).map((v) => h('option', { value: v })));
}

/**
 * A filter form. fields: names among agent, atlas, session, action, decision, integrity, event_type.
 * onApply(values) gets every field (strings, '' when empty), including since/until.
 */
export function filterForm(params, fields, onApply, { submitLabel = 'Apply', extra = null } = {}) {
  const since = params.get('since') || DEFAULT_SINCE;
  const custom = !RANGES.some(([v]) => v === since) || !!params.get('until');
  const sel = h('select', { name: 'range', id: 'f-range' }, RANGES.map(([v, label]) =>
    h('option', { value: v, selected: custom ? v === 'custom' : v === since }, label)));
  const from = h('input', { type: 'datetime-local', name: 'from', id: 'f-from', value: custom ? localInput(since) : '' });
  const to = h('input', { type: 'datetime-local', name: 'to', id: 'f-to', value: custom ? localInput(params.get('until')) : '' });
  const customBox = h('span', { class: 'toolbar', style: custom ? '' : 'display:none' }, field('From', from), field('To', to));
  sel.addEventListener('change', () => { customBox.style.display = sel.value === 'custom' ? '' : 'none'; });
  const inputs = {};
  const controls = [];
  for (const name of fields) {
    let c;
    if (name === 'decision') {
      c = h('select', { name, id: `f-${name}` }, h('option', { value: '' }, 'any'),
        ['allowed', 'denied', 'pending', 'rate_limited', 'approved', 'rejected', 'executed', 'failed', 'allow', 'deny', 'partial',
          'requires_approval'].map((d) => h('option', { value: d, selected: params.get(name) === d }, d.replace('_', ' '))));
    } else if (name === 'integrity') {
      c = h('select', { name, id: `f-${name}` }, h('option', { value: '' }, 'any'),
        ['intact', 'gap', 'broken'].map((d) => h('option', { value: d, selected: params.get(name) === d }, d)));
    } else if (name === 'event_type') {
      c = h('select', { name, id: `f-${name}` }, h('option', { value: '' }, 'any'),
        ['session.started', 'session.ended', 'carp.request.received', 'carp.resolution.completed', 'policy.evaluated',
          'context.injected', 'action.requested', 'action.approved', 'action.denied', 'action.executed', 'action.failed',
          'policy.violated', 'trace.gap', 'policy.shadow_diff', 'atlas.loaded', 'atlas.unloaded'].map((d) => h('option', { value: d, selected: params.get(name) === d }, d)));
    } else {
      c = h('input', { type: 'text', name, id: `f-${name}`, value: params.get(name) || '', list: `dl-${name}`,
        autocomplete: 'off', spellcheck: 'false', placeholder: 'any' });
    }
    inputs[name] = c;
    controls.push(field({ agent: 'Agent', atlas: 'Atlas', session: 'Session', action: 'Action', decision: 'Decision',
      integrity: 'Integrity', event_type: 'Event type' }[name] || name, c));
  }
  const lists = h('div', { hidden: true });
  facets().then((f) => {
    lists.append(datalist('dl-agent', f.agents), datalist('dl-atlas', f.atlases), datalist('dl-action', f.actions));
  }).catch(() => { /* suggestions only */ });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filters', onsubmit: (e) => {
    e.preventDefault();
    const out = {};
    if (sel.value === 'custom') {
      out.since = from.value ? new Date(from.value).toISOString() : 'all';
      out.until = to.value ? new Date(to.value).toISOString() : '';
    } else {
      out.since = sel.value === DEFAULT_SINCE ? '' : sel.value;
      out.until = '';
    }
    for (const [k, c] of Object.entries(inputs)) out[k] = c.value.trim();
    onApply(out);
  } }, field('Time range', sel), customBox, controls, extra, h('button', { class: 'primary', type: 'submit' }, submitLabel), lists);
  return form;
}

/** The filters of the URL that are set, as an object (for links and API queries). */
export function pick(params, names) {
  const out = {};
  for (const n of names) { const v = params.get(n); if (v) out[n] = v; }
  return out;
}
