// A real `cra serve` on SQLite on 127.0.0.1 for the dashboard suite and benchmark: seeded with a
// generated set of traces (seed.py generate, 100,000 by default) and real traces recorded by
// cra.Resolver against the example atlases (seed.py real), POSTed like an agent would.

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..', '..', '..');
export const TESTS = resolve(HERE, '..');
export const OUT = join(REPO, 'target', 'dashboard');

export const TOKENS = {
  'dash-read': { tenant: 'acme', rights: ['read'] },
  'dash-write': { tenant: 'acme', rights: ['write'] },
  'dash-empty': { tenant: 'empty', rights: ['read'] },
};

export const PYTHON = process.env.CRA_PYTHON || (existsSync(join(REPO, '.venv', 'bin', 'python')) ? join(REPO, '.venv', 'bin', 'python') : 'python3');

function env() {
  const extra = process.env.PYTHONPATH ? `${TESTS}:${process.env.PYTHONPATH}` : TESTS;
  return { ...process.env, PYTHONPATH: extra };
}

/** Runs `python -m dashboard.seed ...` and returns its JSON answer. */
export function seed(...args) {
  const r = spawnSync(PYTHON, ['-m', 'dashboard.seed', ...args], { cwd: TESTS, env: env(), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`seed ${args[0]} failed (${r.status}): ${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

async function waitHealthy(base, proc, log) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`cra serve exited with ${proc.exitCode}: ${readFileSync(log, 'utf8').slice(-3000)}`);
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cra serve did not become healthy: ${readFileSync(log, 'utf8').slice(-3000)}`);
}

/**
 * Seeds a fresh database, starts the server, POSTs the real traces.
 * Returns {base, work, db, manifest, real, seedSeconds, stop()}.
 */
export async function startStack({ traces = Number(process.env.CRA_DASHBOARD_TRACES || 100_000), name = 'work' } = {}) {
  const work = join(OUT, name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const db = join(work, 'db.sqlite3');
  const t0 = Date.now();
  const manifest = seed('generate', '--db', db, '--traces', String(traces), '--cache', join(OUT, 'cache'));
  const seedSeconds = (Date.now() - t0) / 1000;
  const real = seed('real', '--out', join(work, 'real'));
  const tokens = join(work, 'tokens.json');
  writeFileSync(tokens, JSON.stringify(TOKENS));
  const port = await freePort();
  const log = join(work, 'server.log');
  const fd = openSync(log, 'a');
  const proc = spawn(PYTHON, ['-m', 'cra', 'serve', '--db', `sqlite:///${db}`, '--tokens', tokens, '--host', '127.0.0.1',
    '--port', String(port), '--atlases', join(REPO, 'examples', 'atlases'), '--sweep-seconds', '0'],
  { cwd: REPO, env: env(), stdio: ['ignore', fd, fd] });
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(base, proc, log);
  for (const f of real.files) {
    const res = await fetch(`${base}/v1/traces`, { method: 'POST', body: readFileSync(f),
      headers: { Authorization: 'Bearer dash-write', 'Content-Type': 'application/x-ndjson' } });
    const body = await res.json();
    if (res.status !== 202 || body.rejected) throw new Error(`POST ${f}: ${res.status} ${JSON.stringify(body)}`);
  }
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 15000); proc.on('exit', () => { clearTimeout(t); r(); }); });
    }
  };
  return { base, work, db, log, manifest, real, seedSeconds, stop };
}

/** The real trace whose session is `session` (demo-support-1, demo-devops-1, waiting-0...). */
export function realTrace(real, session) {
  const hit = Object.entries(real.traces).find(([, v]) => v.session === session);
  if (!hit) throw new Error(`no real trace of session ${session}`);
  return hit[0];
}
