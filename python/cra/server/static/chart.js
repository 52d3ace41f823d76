// Decisions over time: a stacked bar chart in hand-written SVG (no chart library). Colours come
// from CSS variables (light and dark), every bar has a <title> and the bucket is a link.

import { s, h } from './dom.js';

export const SERIES = [
  ['allowed', 'Allowed'], ['denied', 'Denied'], ['pending', 'Pending approval'], ['rate_limited', 'Rate-limited'],
];

function niceMax(v) {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const HOUR = 3600e3, DAY = 86400e3;
/** Tick times (ms) at round local times: every 1/3/6/12 h or 1/2/7 days, at most about 8. */
function ticks(t0, t1) {
  const span = t1 - t0;
  const step = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY].find((s) => span / s <= 8) || 30 * DAY;
  const d = new Date(t0);
  if (step >= DAY) d.setHours(0, 0, 0, 0); else d.setMinutes(0, 0, 0);
  const out = [];
  for (let t = d.getTime(); t <= t1 && out.length < 40; ) {
    if (t >= t0) out.push(t);
    const n = new Date(t);
    if (step >= DAY) n.setDate(n.getDate() + step / DAY); else n.setTime(t + step);
    if (step < DAY && step > HOUR) n.setHours(Math.floor(n.getHours() / (step / HOUR)) * (step / HOUR));
    t = n.getTime();
  }
  return { out, step };
}

function tickLabel(t, step) {
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  const md = `${d.toLocaleString(undefined, { month: 'short' })} ${d.getDate()}`;
  if (step >= DAY) return md;
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.getHours() === 0 ? `${md}` : hm;
}

/**
 * buckets: [{start, allowed, denied, ...}] (only non-empty ones, from the API);
 * since/until: ISO; bucketSeconds; onPick(startIso, endIso) when a bar is chosen.
 */
export function decisionsChart({ buckets, since, until, bucketSeconds, onPick }) {
  const W = 960, H = 240, L = 48, R = 10, T = 10, B = 26;
  const t0 = Date.parse(since), t1 = Date.parse(until), width = bucketSeconds * 1000;
  const n = Math.max(1, Math.ceil((t1 - t0) / width));
  const by = new Map(buckets.map((b) => [Math.round((Date.parse(b.start) - t0) / width), b]));
  let max = 0;
  for (const b of buckets) max = Math.max(max, SERIES.reduce((a, [k]) => a + (b[k] || 0), 0));
  const top = niceMax(max);
  const x = (i) => L + ((W - L - R) * i) / n, y = (v) => T + (H - T - B) * (1 - v / top);
  const bw = Math.max(1, (W - L - R) / n - (n > 150 ? 0 : 1.5));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Decisions per ${bucketSeconds >= 3600 ? bucketSeconds / 3600 + ' h' : bucketSeconds / 60 + ' min'} from ${since} to ${until}; highest bar ${max}` });
  const grid = s('g', { class: 'grid' });
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    grid.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  svg.append(grid);
  const axis = s('g', { class: 'axis' });
  const { out: tickTimes, step } = ticks(t0, t1);
  const tx = (t) => L + ((W - L - R) * (t - t0)) / (n * width);
  for (const t of tickTimes) {
    axis.append(s('line', { x1: tx(t), x2: tx(t), y1: H - B, y2: H - B + 4 }),
      s('text', { x: tx(t), y: H - 8, 'text-anchor': 'middle' }, tickLabel(t, step)));
  }
  svg.append(axis);
  const bars = s('g', { class: 'bars' });
  for (const [i, b] of by) {
    let acc = 0;
    const start = new Date(t0 + i * width), end = new Date(Math.min(t1, t0 + (i + 1) * width));
    const label = `${start.toLocaleString()}: ` + SERIES.map(([k, name]) => `${name} ${b[k] || 0}`).join(', ');
    for (const [k] of SERIES) {
      const v = b[k] || 0;
      if (!v) continue;
      bars.append(s('rect', { class: `bar s-${k}`, x: x(i), width: bw, y: y(acc + v), height: Math.max(0.5, y(acc) - y(acc + v)),
        'data-series': k, 'data-count': v }, s('title', {}, label)));
      acc += v;
    }
    if (acc && onPick) {
      // one Tab stop for the whole chart (the newest bar); arrow keys move between bars
      const hit = s('rect', { class: 'hit', x: x(i), width: bw, y: T, height: H - T - B, tabindex: -1, role: 'link',
        'aria-label': `${label}. Open these traces.` }, s('title', {}, label));
      const pick = () => onPick(start.toISOString(), end.toISOString());
      hit.addEventListener('click', pick);
      hit.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); return; }
        const step = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity }[e.key];
        if (step === undefined) return;
        e.preventDefault();
        const all = [...bars.querySelectorAll('rect.hit')];
        const k = all.indexOf(hit);
        const next = all[Math.max(0, Math.min(all.length - 1, Number.isFinite(step) ? k + step : step < 0 ? 0 : all.length - 1))];
        hit.setAttribute('tabindex', '-1');
        next.setAttribute('tabindex', '0');
        next.focus();
      });
      bars.append(hit);
    }
  }
  const hits = bars.querySelectorAll('rect.hit');
  if (hits.length) hits[hits.length - 1].setAttribute('tabindex', '0');
  svg.append(bars);
  const legend = h('div', { class: 'legend' }, SERIES.map(([k, name]) => h('span', {}, h('i', { class: `l-${k}` }), name)));
  return h('div', { class: 'chartbox' }, svg, legend);
}
