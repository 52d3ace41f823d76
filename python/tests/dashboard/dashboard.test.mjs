// The audit dashboard in real headless Chromium (Debian's, through playwright-core) against a real
// `cra serve` on SQLite: 100,000 generated traces plus real ones recorded by cra.Resolver.
// Screenshots of every page go to target/dashboard/*.png.
//
//   make test-dashboard            (or: cd python/tests/dashboard && node --test dashboard.test.mjs)
//   CRA_DASHBOARD_TRACES=20000 ... a smaller generated set while developing

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startStack, realTrace, seed, OUT, REPO } from './stack.mjs';

let stack, browser, ids;
const consoleErrors = [];   // from pages that should show none

before(async () => {
  mkdirSync(OUT, { recursive: true });
  stack = await startStack();
  console.log(`# seeded ${stack.manifest.traces} generated traces (${stack.manifest.events} events) in ${stack.seedSeconds.toFixed(1)} s` +
    `${stack.manifest.cached ? ' (from today\'s cache)' : ''}; server at ${stack.base}`);
  ids = {
    support: realTrace(stack.real, 'demo-support-1'),
    devops: realTrace(stack.real, 'demo-devops-1'),
    waiting: realTrace(stack.real, 'waiting-1'),
    gap: stack.manifest.gap[0],
    broken: stack.manifest.broken[0],
  };
  browser = await launch();
}, { timeout: 300_000 });

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

/** A page signed in with `token` (kept in sessionStorage, as the sign-in form does). */
async function open(token = 'dash-read', { collect = true, context = browser.context } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  if (token) await page.addInitScript((t) => sessionStorage.setItem('cra.dashboard.token', t), token);
  if (collect) {
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  }
  return page;
}
/** Waits for a selector; on timeout the page's text goes into the error (what it showed instead). */
async function see(page, selector, timeout = 30_000) {
  try {
    await page.locator(selector).first().waitFor({ timeout });
  } catch (e) {
    const text = await page.locator('main').innerText().catch(() => '?');
    throw new Error(`${selector} did not appear on ${page.url()}; the page shows:\n${text.slice(0, 1500)}`);
  }
}
const shot = async (page, name) => { await page.evaluate(() => window.scrollTo(0, 0)); return page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true }); };
const api = async (path, token = 'dash-read') => (await fetch(`${stack.base}/${path}`, { headers: { Authorization: `Bearer ${token}` } })).json();

test('sign in: the token form refuses an unknown token and a token without read, keeps a read token in sessionStorage', async () => {
  const page = await open(null, { collect: false });
  await page.goto(stack.base + '/');
  await page.getByLabel('Bearer token (read right)').fill('not-a-token');
  await page.keyboard.press('Enter');
  await page.getByText('The token was not accepted').waitFor();
  await page.getByLabel('Bearer token (read right)').fill('dash-write');
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page.getByText('This token lacks the read right').waitFor();
  await page.getByLabel('Bearer token (read right)').fill('dash-read');
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cra.dashboard.token')), 'dash-read');
  assert.match(await page.locator('#who').innerText(), /tenant acme · read/);
  await page.getByRole('button', { name: 'Forget token' }).click();
  await page.getByLabel('Bearer token (read right)').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cra.dashboard.token')), null);
  await shot(page, 'sign-in');
  await page.close();
});

test('overview: the chart draws the decisions, every panel has data, filters apply to all and live in the URL', { timeout: 60_000 }, async () => {
  const page = await open();
  await page.goto(`${stack.base}/#/overview?since=30d`);
  await see(page, 'svg.chart rect.bar');
  const bars = await page.locator('svg.chart rect.bar').evaluateAll((els) => els.map((e) => ({
    s: e.dataset.series, n: Number(e.dataset.count), h: e.getBBox().height })));
  assert.ok(bars.length > 50, `only ${bars.length} bars`);
  assert.ok(bars.every((b) => b.n > 0 && b.h > 0));
  for (const s of ['allowed', 'denied', 'pending', 'rate_limited']) assert.ok(bars.some((b) => b.s === s), `no ${s} bar`);
  const cards = await page.locator('.card .v').allInnerTexts();
  assert.ok(cards.slice(0, 5).every((v) => Number(v.replace(/\D/g, '')) > 0), cards.join(' '));
  const denied = await page.locator('section[aria-labelledby="h-denied"] tbody tr').allInnerTexts();
  assert.ok(denied.some((r) => r.includes('customers.delete_account') && r.includes('deny-account-deletion')), denied.join('\n'));
  const rate = await page.locator('section[aria-labelledby="h-rate"] tbody').innerText();
  assert.match(rate, /orders\.refund\s+refunds-per-session/);
  const waiting = await page.locator('section[aria-labelledby="h-appr"]').innerText();
  assert.match(waiting, /\d+ waiting/);
  assert.match(waiting, /orders\.refund_large/);
  const integ = Object.fromEntries(await page.locator('a[data-integrity]').evaluateAll((els) =>
    els.map((e) => [e.dataset.integrity, Number(e.textContent.replace(/\D/g, ''))])));
  assert.ok(integ.intact > 1000 && integ.gap >= 1 && integ.broken >= 1, JSON.stringify(integ));
  await shot(page, 'overview');

  // the agent filter applies to every panel and is written to the URL
  await page.locator('#f-agent').fill('oncall-alice');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/agent=oncall-alice/);
  await see(page, 'svg.chart rect.bar');
  const denied2 = await page.locator('section[aria-labelledby="h-denied"] tbody').innerText();
  assert.ok(!denied2.includes('customers.'), denied2);
  assert.match(denied2, /k8s\.namespaces\.delete/);
  const ov = await api('v1/dashboard/overview?since=30d&agent=oncall-alice');
  assert.equal(await page.locator('.card.denied .v').innerText(), ov.decisions.totals.denied.toLocaleString('en-US'));

  // choosing a bar by keyboard lists that bucket's traces: one Tab stop (the newest bar), arrows move
  assert.equal(await page.locator('svg.chart rect.hit[tabindex="0"]').count(), 1);
  await page.locator('svg.chart rect.hit[tabindex="0"]').focus();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement === [...document.querySelectorAll('svg.chart rect.hit')].pop()), true);
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/traces\?.*until=/);
  await see(page, 'table.traces tbody tr');
  const agents = await page.locator('table.traces tbody tr td:nth-child(3)').allInnerTexts();
  assert.ok(agents.length && agents.every((a) => a === 'oncall-alice'), agents.join(','));
  await page.close();
});

test('traces: 100,000 traces page by page, filters and search, state in the URL', { timeout: 60_000 }, async () => {
  const page = await open();
  await page.goto(`${stack.base}/#/traces?since=all`);
  await see(page, 'table.traces tbody tr');
  assert.equal(await page.locator('table.traces tbody tr').count(), 50);
  const first = await page.locator('table.traces tbody tr').first().getAttribute('data-trace');
  await page.locator('#older').click();
  await page.waitForURL(/cursor=/);
  await see(page, 'table.traces tbody tr');
  const second = await page.locator('table.traces tbody tr').first().getAttribute('data-trace');
  assert.notEqual(first, second);
  await page.getByRole('link', { name: '‹ Newer' }).click();
  await page.waitForFunction((t) => document.querySelector('table.traces tbody tr')?.dataset.trace === t, first);
  await shot(page, 'traces');

  // filters: a deep link fills the form and the rows match
  await page.goto(`${stack.base}/#/traces?since=all&agent=oncall-bob&decision=rejected`);
  await see(page, 'table.traces tbody tr');
  assert.equal(await page.locator('#f-agent').inputValue(), 'oncall-bob');
  assert.equal(await page.locator('#f-decision').inputValue(), 'rejected');
  const rows = await page.locator('table.traces tbody tr').evaluateAll((els) => els.map((e) => e.dataset.trace));
  assert.ok(rows.length > 0);
  const one = await api(`v1/traces/${rows[0]}/events?limit=1000`);
  assert.ok(one.events.some((e) => e.decision === 'rejected') && one.events[0].agent_id === 'oncall-bob');
  // integrity filter through the form
  await page.locator('#f-agent').fill('');
  await page.locator('#f-decision').selectOption('');
  await page.locator('#f-integrity').selectOption('gap');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/integrity=gap/);
  await page.waitForFunction(() => document.querySelectorAll('table.traces tbody tr[data-integrity="gap"]').length > 0);
  const integ = await page.locator('table.traces tbody tr').evaluateAll((els) => els.map((e) => e.dataset.integrity));
  assert.ok(integ.every((i) => i === 'gap'), integ.join(','));
  // no match: a clear empty state
  await page.goto(`${stack.base}/#/traces?since=all&agent=nobody-at-all`);
  await page.getByText('No trace matches these filters').waitFor();
  // search by session id opens the trace
  await page.goto(`${stack.base}/#/traces`);
  await page.locator('#q').fill('demo-devops-1');
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`#/trace/${ids.devops}`));
  await page.getByText('k8s.deployments.deploy rejected by oncall-bob').waitFor();
  await page.close();
});

test('one trace: the timeline in human terms, the hash chain, verify again (intact), the exact JSONL', { timeout: 60_000 }, async () => {
  const page = await open();
  await page.goto(`${stack.base}/#/trace/${ids.support}`);
  await page.locator('.timeline .ev').first().waitFor();
  assert.equal(await page.locator('.timeline .ev').count(), 35);
  const text = await page.locator('.timeline').innerText();
  for (const s of ['Session started by agent support-bot-1', 'Policies evaluated: 6 allowed, 1 denied, 1 need approval',
    'orders.refund refused: rate limit reached', 'orders.refund_large waits for approval',
    'orders.refund_large approved by supervisor@example.com', 'at: 20', 'customers.delete_account denied', 'tickets.reply failed after',
    'deny-account-deletion', 'parameters digest', 'genesis', 'links to #33 ✓']) assert.ok(text.includes(s), s);
  await page.locator('#verify').click();
  await page.locator('#verify-result[data-status="intact"]').waitFor();
  assert.match(await page.locator('#verify-result').innerText(), /all 35 stored lines are intact and linked/);
  await shot(page, 'trace');
  const download = page.waitForEvent('download');
  await page.locator('#download').click();
  const file = await (await download).path();
  const exported = Buffer.from(await (await fetch(`${stack.base}/v1/traces/${ids.support}.jsonl`,
    { headers: { Authorization: 'Bearer dash-read' } })).arrayBuffer());
  assert.ok(readFileSync(file).equals(exported), 'the download is the stored JSONL byte for byte');
  const original = readFileSync(stack.real.files[0]).toString().split('\n').filter((l) => l.includes(ids.support)).join('\n') + '\n';
  assert.equal(exported.toString(), original, 'the stored JSONL is what the agent sent');
  await page.close();
});

test('verify again: a line tampered in the database is found, named and shown; a gap trace says where the gap is', { timeout: 60_000 }, async () => {
  const t = seed('tamper', '--db', stack.db, '--trace', ids.devops, '--sequence', '7');
  const page = await open();
  await page.goto(`${stack.base}/#/trace/${ids.devops}`);
  await page.locator('#verify').click();
  await page.locator('#verify-result[data-status="broken"]').waitFor();
  const res = await page.locator('#verify-result').innerText();
  assert.match(res, new RegExp(`BROKEN at line ${t.line} \\(sequence 7\\)`));
  assert.match(res, /hash_mismatch/);
  assert.equal(await page.locator('#verify-result li.finding').count(), 1, 'one altered event, one finding: the rest still links');
  assert.ok(await page.locator('#ev-7.bad').isVisible());
  assert.match(await page.locator('#ev-7').innerText(), /Line 8 is broken: hash_mismatch/);
  assert.equal(await page.locator('.ev.bad').count(), 1);
  await shot(page, 'trace-broken');
  const rep = await (await fetch(`${stack.base}/v1/traces/${ids.devops}/verify`, { method: 'POST', headers: { Authorization: 'Bearer dash-read' } })).json();
  assert.deepEqual(rep.findings.map((f) => [f.line, f.sequence, f.code]), [[8, 7, 'hash_mismatch']]);

  await page.goto(`${stack.base}/#/trace/${ids.gap}`);
  await page.getByText('never arrived').first().waitFor();
  await page.locator('#verify').click();
  await page.locator('#verify-result[data-status="gap"]').waitFor();
  assert.match(await page.locator('#verify-result').innerText(), /recorded_gap/);
  // an intact generated trace verifies too (the generated chains are real chains)
  const intact = await api('v1/traces?integrity=intact&limit=1');
  await page.goto(`${stack.base}/#/trace/${intact.traces[0].trace_id}`);
  await page.locator('#verify').click();
  await page.locator('#verify-result[data-status="intact"]').waitFor();
  await page.close();
});

test('replay: an uploaded candidate atlas changes decisions, per trace and in total; the server\'s atlases fill in', { timeout: 90_000 }, async () => {
  const page = await open();
  await page.goto(`${stack.base}/#/replay?since=all&agent=support-bot-1&limit=30`);
  await page.locator('.cand[data-atlas="com.example.devops"]').waitFor();
  assert.match(await page.locator('.cand[data-atlas="com.example.customer-support"]').innerText(), /server/);
  // an unchanged replay first: nothing changes
  await page.getByRole('button', { name: 'Replay' }).click();
  await page.locator('#replay-result').waitFor();
  assert.equal(await page.locator('#replay-result').getAttribute('data-changed'), '0');
  // the candidate: the support atlas with refunds frozen, uploaded as a file
  const known = await api('v1/dashboard/atlases');
  const doc = structuredClone(known.atlases.find((a) => a.atlas_id === 'com.example.customer-support').document);
  doc.version = '1.3.0-rc1';
  doc.policies.unshift({ policy_id: 'freeze-refunds', type: 'deny', actions: ['orders.refund'], reason: 'refunds are frozen' });
  await page.locator('#upload').setInputFiles({ name: 'support-candidate.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
  await page.locator('.cand[data-atlas="com.example.customer-support"]', { hasText: 'uploaded' }).waitFor();
  await page.getByRole('button', { name: 'Replay' }).click();
  await page.waitForFunction(() => Number(document.querySelector('#replay-result')?.dataset.changed) > 0);
  const out = await page.locator('#replay-result').innerText();
  assert.match(out, /no longer allowed[\s\S]*orders\.refund \(/i);
  const rows = await page.locator('#replay-result tbody tr').count();
  assert.ok(rows >= 2, `${rows} changed rows`);
  assert.ok(await page.locator(`#replay-result tbody tr[data-trace="${ids.support}"]`).count() >= 1);
  assert.match(page.url(), /agent=support-bot-1/);
  await shot(page, 'replay');
  // an atlas.json whose context packs name files is refused with a clear message
  const withFiles = { ...doc, context_packs: [{ pack_id: 'x', name: 'x', files: ['context/x.md'] }] };
  await page.locator('#upload').setInputFiles({ name: 'atlas.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(withFiles)) });
  await page.getByText('upload the atlas folder instead').waitFor();
  await page.close();
});

test('empty and error states: no traces yet, ingest unreachable, token lacks rights, unknown trace', { timeout: 60_000 }, async () => {
  const empty = await open('dash-empty');
  await empty.goto(`${stack.base}/#/overview`);
  await empty.getByText('No traces yet').waitFor();
  assert.match(await empty.locator('.state').innerText(), /curl --data-binary @trace\.jsonl/);
  await shot(empty, 'empty');
  await empty.goto(`${stack.base}/#/traces`);
  await empty.getByText('No traces yet').waitFor();
  await empty.close();
  const range = await open();  // traces exist, none in the last hour for this agent
  await range.goto(`${stack.base}/#/overview?since=1h&agent=oncall-dave`);
  await range.getByText('No traces in this range').waitFor();
  await range.close();

  const down = await open('dash-read', { collect: false });
  await down.route('**/v1/**', (r) => r.abort('connectionrefused'));
  await down.goto(`${stack.base}/#/traces`);
  await down.getByText('The ingest service cannot be reached').waitFor();
  await down.unroute('**/v1/**');
  await down.getByRole('button', { name: 'Try again' }).click();
  await down.locator('table.traces tbody tr').first().waitFor();
  await down.close();

  const writer = await open('dash-write', { collect: false });
  await writer.goto(`${stack.base}/#/overview`);
  await writer.getByText('This token lacks the read right').waitFor();
  await shot(writer, 'no-rights');
  await writer.close();

  const missing = await open('dash-read', { collect: false });  // the 404 is logged by Chromium
  await missing.goto(`${stack.base}/#/trace/no-such-trace`);
  await missing.getByText('No such trace').waitFor();
  await missing.close();
});

test('dark mode and keyboard: prefers-color-scheme dark is honoured; every control is reachable by Tab', { timeout: 60_000 }, async () => {
  const dark = await launch({ colorScheme: 'dark' });
  try {
    const page = await open('dash-read', { context: dark.context });
    await page.goto(`${stack.base}/#/overview?since=30d`);
    await page.locator('svg.chart rect.bar').first().waitFor();
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `dark background expected, got ${bg}`);
    await shot(page, 'overview-dark');
    await page.goto(`${stack.base}/#/trace/${ids.devops}`);
    await page.locator('.timeline .ev').first().waitFor();
    await shot(page, 'trace-dark');
    await page.close();
  } finally { await dark.close(); }

  const page = await open();
  await page.goto(`${stack.base}/#/traces`);
  await see(page, 'table.traces tbody tr');
  const seen = new Set();
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    seen.add(await page.evaluate(() => { const a = document.activeElement; return a.id || a.textContent.trim().slice(0, 30) || a.tagName; }));
  }
  for (const want of ['Overview', 'Traces', 'Replay', 'q', 'f-range', 'f-agent', 'f-decision', 'f-integrity', 'Apply']) {
    assert.ok(seen.has(want), `Tab never reached ${want}: ${[...seen].join(' | ')}`);
  }
  assert.ok([...seen].some((s) => /^[0-9a-f]{8}-/.test(s)), 'Tab reaches the trace links');
  await page.close();
});

test('no console errors on the pages above', () => {
  assert.deepEqual(consoleErrors, []);
});
