// First paint of the traces list at 100,000 traces (not a test: figures, no assert).
//
//   make bench-dashboard     (or: cd python/tests/dashboard && node bench.mjs [--runs 30])
//
// The same stack as the suite (seed.py: 100,000 generated traces plus the real ones, cra serve on
// SQLite on 127.0.0.1), then each run opens a new tab on the traces page, signed in, and reads the
// `traces-painted` mark the page sets right after the rows are in the DOM: milliseconds from the
// start of navigation (HTML, CSS, the ES modules, the whoami and list requests, rendering).
// Cold runs are fresh tabs of one browser (the HTTP cache revalidates the files: 304s).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startStack, OUT } from './stack.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 30;
const CASES = [
  ['newest 50, last 7 days', '#/traces'],
  ['all time', '#/traces?since=all'],
  ['one agent', '#/traces?since=all&agent=oncall-bob'],
  ['decision = rejected', '#/traces?since=all&decision=rejected'],
  ['action + decision, 30 days', '#/traces?since=30d&action=customers.delete_account&decision=denied'],
  ['integrity = gap', '#/traces?since=all&integrity=gap'],
];

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const stack = await startStack({ name: 'bench' });
const browser = await launch();
const rows = [];
try {
  console.log(`${stack.manifest.traces.toLocaleString('en-US')} generated traces (${stack.manifest.events.toLocaleString('en-US')} events) + real ones; ` +
    `seeded in ${stack.seedSeconds.toFixed(1)} s${stack.manifest.cached ? ' (cached)' : ''}; ${runs} runs per case`);
  for (const [name, hash] of CASES) {
    const times = [];
    for (let i = 0; i < runs + 2; i++) {
      const page = await browser.context.newPage();
      await page.addInitScript(() => sessionStorage.setItem('cra.dashboard.token', 'dash-read'));
      await page.goto(`${stack.base}/${hash}`);
      await page.waitForFunction(() => performance.getEntriesByName('traces-painted').length > 0, null, { timeout: 60_000 });
      const t = await page.evaluate(() => performance.getEntriesByName('traces-painted')[0].startTime);
      const n = await page.locator('table.traces tbody tr').count();
      await page.close();
      if (i >= 2) times.push(t);  // two warm-up loads
      if (!n) throw new Error(`${name}: no rows`);
    }
    const row = { case: name, runs, p50_ms: Math.round(pct(times, 50)), p95_ms: Math.round(pct(times, 95)), max_ms: Math.round(Math.max(...times)) };
    rows.push(row);
    console.log(`${name.padEnd(30)} p50 ${String(row.p50_ms).padStart(5)} ms   p95 ${String(row.p95_ms).padStart(5)} ms   max ${String(row.max_ms).padStart(5)} ms`);
  }
} finally {
  await browser.close();
  await stack.stop();
}
writeFileSync(join(OUT, 'bench.json'), JSON.stringify({ traces: stack.manifest.traces, events: stack.manifest.events, rows }, null, 2));
