// CRA audit dashboard: boot, token, routing. Pages live in pages/*.js; every page reads its
// state from the URL (#/page?filters), so any view can be bookmarked or shared as a link.

import { h, clear, errorState, loading } from './dom.js';
import { token, request, onUnauthorized, ApiError } from './api.js';
import { overviewPage } from './pages/overview.js';
import { tracesPage } from './pages/traces.js';
import { tracePage } from './pages/trace.js';
import { replayPage } from './pages/replay.js';

const PAGES = { overview: overviewPage, traces: tracesPage, trace: tracePage, replay: replayPage };
let who = null;          // {tenant, rights} of the stored token
let renderSeq = 0;       // a newer navigation wins over a slower older one

export function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = (path || 'overview').split('/');
  const page = PAGES[parts[0]] ? parts[0] : 'overview';
  return { page, id: parts[1] ? decodeURIComponent(parts.slice(1).join('/')) : null, params: new URLSearchParams(query || '') };
}

/** The hash for a page and its parameters (empty values left out). */
export function link(page, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `#/${page}${s ? '?' + s : ''}`;
}
export function go(page, params, { replace = false, silent = false } = {}) {
  const target = link(page, params);
  if (replace) {
    history.replaceState(null, '', target);  // no hashchange event
    if (!silent) render();
    return;
  }
  if (location.hash !== target) location.hash = target;  // hashchange renders
  else render();
}

function setNav(page) {
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    const on = a.dataset.nav === page || (page === 'trace' && a.dataset.nav === 'traces');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

function header() {
  const el = clear(document.getElementById('who'));
  if (!who) return;
  el.append(h('span', { title: 'the token\'s tenant and rights' }, `tenant ${who.tenant} · ${who.rights.join(', ')}`),
    h('button', { type: 'button', class: 'link', onclick: forget }, 'Forget token'));
}

function forget() {
  token.clear();
  who = null;
  header();
  render();
}

function loginPage(main, reason) {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true,
    'aria-describedby': 'token-help', spellcheck: 'false' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'panel login', onsubmit: async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    clear(out).append(loading('Checking the token…'));
    try {
      const me = await request('GET', 'v1/dashboard/whoami', { tokenOverride: t });
      if (!me.rights.includes('read')) {
        clear(out).append(errorState({ title: 'This token lacks the read right',
          message: `It belongs to tenant ${me.tenant} with ${me.rights.join(', ')} only. The dashboard needs a token with the read right.` }));
        return;
      }
      token.set(t);
      who = me;
      header();
      render();
    } catch (err) {
      clear(out).append(errorState(err));
    }
  } },
  h('h1', {}, 'Sign in with a token'),
  reason ? h('p', { class: 'warn', role: 'alert' }, reason) : null,
  h('label', { class: 'field', for: 'token' }, h('span', {}, 'Bearer token (read right)'), input),
  h('p', { id: 'token-help', class: 'note' }, 'The token is kept in this browser tab only (sessionStorage: gone when the tab closes) and sent to this server as ',
    h('code', {}, 'Authorization: Bearer …'), '. Nothing else is stored, and nothing is loaded from other sites.'),
  h('button', { class: 'primary', type: 'submit' }, 'Open the dashboard'), out);
  clear(main).append(form);
  input.focus();
}

export async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  const r = route();
  setNav(r.page);
  if (!token.get()) { header(); loginPage(main); return; }
  if (!who) {
    clear(main).append(loading());
    let me;
    try {
      me = await request('GET', 'v1/dashboard/whoami');
    } catch (err) {
      if (seq !== renderSeq) return;
      if (err.status === 401) return;  // onUnauthorized shows the form
      clear(main).append(errorState(err, () => render()));
      return;
    }
    if (seq !== renderSeq) return;  // a newer navigation renders instead
    who = me;
    header();
    if (!who.rights.includes('read')) {
      clear(main).append(errorState({ title: 'This token lacks the read right',
        message: `It belongs to tenant ${who.tenant} with ${who.rights.join(', ')} only; the dashboard needs read.` }),
      h('p', {}, h('button', { onclick: forget }, 'Use another token')));
      return;
    }
  }
  const page = PAGES[r.page];
  const box = h('div', { class: 'page' });
  clear(main).append(box);
  document.title = `CRA audit · ${r.page === 'trace' ? 'trace ' + (r.id || '').slice(0, 12) : r.page}`;
  try {
    await page(box, r, () => seq === renderSeq);
  } catch (err) {
    if (seq !== renderSeq) return;
    if (err instanceof ApiError && err.status === 401) return;
    clear(box).append(errorState(err, () => render()));
    if (!(err instanceof ApiError)) console.warn(err);
  }
}

onUnauthorized((err) => {
  token.clear();
  who = null;
  header();
  loginPage(document.getElementById('main'), `${err.title}: ${err.message}`);
});
window.addEventListener('hashchange', () => render());
// a module script runs once the document is parsed: render now (once)
if (document.readyState === 'loading') window.addEventListener('DOMContentLoaded', () => render(), { once: true });
else render();
