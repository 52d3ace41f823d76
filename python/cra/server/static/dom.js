// DOM helpers. Every value from a trace is untrusted text: it goes in through text nodes and
// attributes only, never through innerHTML.

/** h('div', {class: 'x', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') el.style.cssText = String(v);  // CSSOM: allowed under style-src 'self'
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

const nf = new Intl.NumberFormat();
export const num = (n) => (n === null || n === undefined ? '–' : nf.format(n));

function pad(n, w = 2) { return String(n).padStart(w, '0'); }
/** Local date and time, to the second: 2026-11-25 13:00:05 */
export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
/** A <time> element: local time shown, UTC in the tooltip. */
export function time(iso, text) {
  return h('time', { datetime: iso || '', title: iso ? `${iso} (UTC)` : '' }, text || when(iso));
}
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const sec = Math.round(seconds);
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (sec < 90) return `${sec} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86400).toFixed(1)} d`;
}
export function ms(v) {
  if (typeof v !== 'number') return '–';
  if (v < 1) return `${Math.round(v * 1000)} µs`;
  if (v < 1000) return `${v.toFixed(v < 10 ? 2 : 0)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}
export const short = (hash, n = 12) => (hash ? String(hash).slice(0, n) + '…' : '–');

export function badge(kind, text) { return h('span', { class: `badge b-${kind}` }, text || String(kind).replace('_', ' ')); }

export function emptyState(title, text, ...extra) {
  return h('div', { class: 'state empty', role: 'status' }, h('strong', {}, title), text, ...extra);
}
export function errorState(err, retry) {
  return h('div', { class: 'state error', role: 'alert' }, h('strong', {}, err.title || 'Something went wrong'),
    h('span', {}, err.message || String(err)), retry ? h('div', {}, h('br'), h('button', { onclick: retry }, 'Try again')) : null);
}
export function loading(text = 'Loading…') { return h('p', { class: 'state', role: 'status' }, h('span', { class: 'spinner' }), ' ', text); }

/** A labelled form control. */
export function field(label, control) { return h('label', { class: 'field' }, h('span', {}, label), control); }
