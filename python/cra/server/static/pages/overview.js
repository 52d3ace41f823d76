// Overview: decisions over time, top denied actions and their policies, rate-limit hits,
// approvals waiting, trace integrity. The time range and agent / atlas filter apply to every panel.

import { h, clear, num, time, duration, emptyState, loading, badge } from '../dom.js';
import { get } from '../api.js';
import { link, go } from '../app.js';
import { filterForm, rangeOf, pick } from '../filters.js';
import { decisionsChart, SERIES } from '../chart.js';

const GLOBAL = ['since', 'until', 'agent', 'atlas'];

function card(cls, label, value, detail, href) {
  const body = [h('div', { class: 'k' }, label), h('div', { class: 'v' }, value), detail ? h('div', { class: 'd' }, detail) : null];
  return h('div', { class: `card ${cls}` }, href ? h('a', { href }, body) : body);
}

export async function overviewPage(box, r, current) {
  const p = r.params;
  const base = pick(p, GLOBAL);
  box.append(h('h1', {}, 'Overview'),
    filterForm(p, ['agent', 'atlas'], (v) => go('overview', v)));
  const out = h('div', { 'aria-live': 'polite' }, loading('Counting decisions…'));
  box.append(out);
  const { since, until } = rangeOf(p);
  const t0 = performance.now();
  const d = await get('v1/dashboard/overview', { since: since || 'all', until, agent: p.get('agent'), atlas: p.get('atlas') });
  if (!current()) return;
  clear(out);
  const tot = d.decisions.totals;
  const decided = SERIES.reduce((a, [k]) => a + (tot[k] || 0), 0);
  if (!d.traces && !decided) {
    out.append(emptyState(d.any_traces ? 'No traces in this range' : 'No traces yet',
      d.any_traces
        ? h('span', {}, 'Nothing was recorded for this time range and filter. Widen the range or clear the agent / atlas. ',
          h('a', { href: link('overview', { since: 'all' }) }, 'All time'))
        : h('span', {}, 'Agents send their TRACE files to this server: ',
          h('code', {}, `curl --data-binary @trace.jsonl -H "Authorization: Bearer $TOKEN" ${location.origin}/v1/traces`),
          ' (a token with the write right). See docs/ingest.md.')));
    return;
  }
  const q = (extra) => link('traces', { ...base, ...extra });
  const a = d.approvals;
  out.append(h('div', { class: 'cards' },
    card('allowed', 'Allowed', num(tot.allowed), `${num(tot.executed)} ran, ${num(tot.failed)} failed`, q({ decision: 'allowed' })),
    card('denied', 'Denied', num(tot.denied), `${num(tot.rejected)} rejected by approvers`, q({ decision: 'denied' })),
    card('pending', 'Pending approval', num(tot.pending), `${num(a.waiting)} still waiting`, q({ decision: 'pending' })),
    card('rate_limited', 'Rate-limited', num(tot.rate_limited), 'calls over a limit', q({ decision: 'rate_limited' })),
    card('', 'Traces', num(d.traces), `${num(d.integrity.gap)} with gaps, ${num(d.integrity.broken)} broken`, q({})),
    card('', 'Integrity alerts', num(d.alerts), 'rejected events in range', null)));

  const chartPanel = h('section', { class: 'panel', 'aria-labelledby': 'h-chart' },
    h('h2', { id: 'h-chart' }, 'Decisions over time ', h('span', { class: 'note' }, `(one bar per ${duration(d.bucket_seconds)}; choose a bar to list its traces)`)));
  if (decided) {
    chartPanel.append(decisionsChart({ buckets: d.decisions.buckets, since: d.since, until: d.until, bucketSeconds: d.bucket_seconds,
      onPick: (s, u) => go('traces', { ...pick(p, ['agent', 'atlas']), since: s, until: u }) }));
  } else {
    chartPanel.append(emptyState('No decisions in this range', 'Traces exist, but none of their events decided anything here.'));
  }
  out.append(chartPanel, h('br'));

  const denied = h('section', { class: 'panel', 'aria-labelledby': 'h-denied' }, h('h2', { id: 'h-denied' }, 'Top denied actions'));
  if (d.top_denied.length) {
    denied.append(h('div', { class: 'tablewrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Action'), h('th', {}, 'Denied by policy'),
      h('th', {}, 'Reason'), h('th', { class: 'num' }, 'Count'), h('th', {}, 'Last'))),
    h('tbody', {}, d.top_denied.map((x) => h('tr', {},
      h('td', {}, h('a', { href: q({ action: x.action_id, decision: 'denied' }) }, h('code', {}, x.action_id || '—'))),
      h('td', {}, h('code', {}, x.policy_id || '—')), h('td', {}, x.reason_code || ''), h('td', { class: 'num' }, num(x.count)),
      h('td', {}, time(x.last))))))));
  } else denied.append(h('p', { class: 'note' }, 'No denials in this range.'));

  const limited = h('section', { class: 'panel', 'aria-labelledby': 'h-rate' }, h('h2', { id: 'h-rate' }, `Rate-limit hits: ${num(d.rate_limit_hits)}`));
  if (d.rate_limited.length) {
    limited.append(h('div', { class: 'tablewrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Action'), h('th', {}, 'Limit (policy)'),
      h('th', { class: 'num' }, 'Hits'), h('th', {}, 'Last'))),
    h('tbody', {}, d.rate_limited.map((x) => h('tr', {},
      h('td', {}, h('a', { href: q({ action: x.action_id, decision: 'rate_limited' }) }, h('code', {}, x.action_id || '—'))),
      h('td', {}, h('code', {}, x.policy_id || '—')), h('td', { class: 'num' }, num(x.count)), h('td', {}, time(x.last))))))));
  } else limited.append(h('p', { class: 'note' }, 'No call hit a rate limit in this range.'));

  const appr = h('section', { class: 'panel', 'aria-labelledby': 'h-appr' }, h('h2', { id: 'h-appr' }, 'Approvals'),
    h('p', {}, `${num(a.requested)} requested: ${num(a.approved)} approved, ${num(a.rejected)} rejected, ${num(a.expired)} expired or refused, `,
      h('strong', {}, `${num(a.waiting)} waiting`), `, ${num(a.abandoned)} left undecided when the session ended.`,
      a.median_decision_seconds !== null ? ` Decided in ${duration(a.median_decision_seconds)} (median), ${duration(a.max_decision_seconds)} at most.` : '',
      a.more ? ' (More approvals than could be read; the first 5,000 are counted.)' : ''));
  if (a.pending.length) {
    appr.append(h('h3', {}, 'Waiting longest'), h('div', { class: 'tablewrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Action'),
      h('th', {}, 'Agent'), h('th', {}, 'Policy'), h('th', {}, 'Requested'), h('th', { class: 'num' }, 'Waiting'))),
    h('tbody', {}, a.pending.map((x) => h('tr', {},
      h('td', {}, h('a', { href: `#/trace/${encodeURIComponent(x.trace_id)}` }, h('code', {}, x.action_id || '—'))),
      h('td', {}, x.agent_id || '—'), h('td', {}, h('code', {}, x.policy_id || '—')), h('td', {}, time(x.requested)),
      h('td', { class: 'num' }, duration(x.waiting_seconds))))))));
  }

  const i = d.integrity, all = i.intact + i.gap + i.broken || 1;
  const integ = h('section', { class: 'panel', 'aria-labelledby': 'h-int' }, h('h2', { id: 'h-int' }, 'Integrity of the traces'),
    h('div', { class: 'intbar', role: 'img', 'aria-label': `${i.intact} intact, ${i.gap} with gaps, ${i.broken} broken` },
      ['intact', 'gap', 'broken'].map((k) => h('span', { class: `i-${k}`, style: `width:${(100 * i[k]) / all}%` }))),
    h('table', {}, h('tbody', {}, ['intact', 'gap', 'broken'].map((k) => h('tr', {},
      h('td', {}, badge(k)), h('td', {}, { intact: 'every event verified and linked', gap: 'events never arrived (recorded gap)',
        broken: 'an event was rejected (integrity alert)' }[k]),
      h('td', { class: 'num' }, h('a', { href: q({ integrity: k }), 'data-integrity': k }, num(i[k]))))))));

  out.append(h('div', { class: 'grid g2' }, denied, limited, appr, integ),
    h('p', { class: 'note' }, `From `, time(d.since), ' to ', time(d.until), ` · answered in ${Math.round(performance.now() - t0)} ms`));
  performance.mark('overview-painted');
}
