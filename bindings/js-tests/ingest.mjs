// A real `cra serve` (the Python ingest service, docs/ingest.md) on 127.0.0.1 for the
// TraceShipper tests: a temporary SQLite database and tokens file, started from the virtualenv
// that `make python-install` fills (CRA_PYTHON, else <repo>/.venv/bin/python). Plus a small HTTP
// proxy in front of it that can inject faults (a 429, a lost acknowledgement) and records every
// request it sees.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { repo } from './impl.mjs';

export const PYTHON = process.env.CRA_PYTHON || path.join(repo, '.venv/bin/python');

export const TOKENS = {
  'ship-writer': { tenant: 'acme', rights: ['write'] },
  'ship-reader': { tenant: 'acme', rights: ['read'] },
};

/** A Python with cra and its server extra, or an explanation of what is missing. */
export function pythonProblem() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing: run make python-install (or set CRA_PYTHON)`;
  const r = spawnSync(PYTHON, ['-c', 'import cra, cra.server, uvicorn, fastapi'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import cra.server: ${r.stderr.slice(-500)}`;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A temporary directory with tokens.json; removed by the returned cleanup. */
export function workDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-ship-'));
  fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify(TOKENS));
  return dir;
}

/**
 * Starts `cra serve` on `port` (a free one when omitted) with the SQLite file `dir/ingest.sqlite3`
 * (kept across restarts in the same dir). Resolves to {base, url, port, stop(), log()} once
 * /healthz answers.
 */
export async function startIngest(dir, port) {
  port = port || (await freePort());
  const log = path.join(dir, 'server.log');
  const fd = fs.openSync(log, 'a');
  const args = ['-m', 'cra', 'serve', '--db', `sqlite:///${path.join(dir, 'ingest.sqlite3')}`,
    '--tokens', path.join(dir, 'tokens.json'), '--host', '127.0.0.1', '--port', String(port),
    '--log-key', path.join(dir, 'log.key'), '--sweep-seconds', '0', '--checkpoint-seconds', '0'];
  const env = { ...process.env };
  delete env.CRA_INGEST_DB;
  const proc = spawn(PYTHON, args, { cwd: repo, env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const base = `http://127.0.0.1:${port}`;
  const readLog = () => fs.readFileSync(log, 'utf8').slice(-4000);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`cra serve exited with ${proc.exitCode}: ${readLog()}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch (_) {
      /* not yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`cra serve did not become healthy: ${readLog()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      proc.on('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  return { base, url: `${base}/v1/traces`, port, stop, log: readLog };
}

/** GET a JSON document of the ingest with the reader token. */
export async function getJson(base, p) {
  const res = await fetch(base + p, { headers: { authorization: 'Bearer ship-reader' } });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Every stored trace of the tenant: {trace_id: summary}. */
export async function storedTraces(base) {
  const out = {};
  let cursor = null;
  do {
    const page = await getJson(base, `/v1/traces?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const t of page.traces) out[t.trace_id] = t;
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** A trace as exported (raw JSONL, byte for byte as received). */
export async function exportTrace(base, traceId) {
  const res = await fetch(`${base}/v1/traces/${encodeURIComponent(traceId)}.jsonl`, { headers: { authorization: 'Bearer ship-reader' } });
  if (res.status !== 200) throw new Error(`export ${traceId}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

/** `cra verify FILE` (the Python CLI over libcra): {status, out}. */
export function craVerify(file) {
  const r = spawnSync(PYTHON, ['-m', 'cra', 'verify', file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * An HTTP proxy to `target` (a base URL). `decide(n, req)` for the n-th POST (1-based) returns
 * 'forward', 'drop-answer' (forward, then cut the client's connection instead of answering: a
 * lost acknowledgement) or {status, headers, body} (answered here, not forwarded). Every request
 * is recorded: {n, at, method, path, headers, bytes, outcome}.
 */
export function proxy(target, decide = () => 'forward') {
  const seen = [];
  let posts = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const n = req.method === 'POST' ? ++posts : 0;
      const d = n ? decide(n, req) : 'forward';
      const rec = { n, at: Date.now(), method: req.method, path: req.url, headers: req.headers, bytes: body.length, outcome: d };
      seen.push(rec);
      if (typeof d === 'object') {
        res.writeHead(d.status, d.headers || {});
        return res.end(d.body || '');
      }
      try {
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        const up = await fetch(target + req.url, { method: req.method, headers, body: req.method === 'POST' ? body : undefined });
        const answer = Buffer.from(await up.arrayBuffer());
        rec.upstream = up.status;
        if (d === 'drop-answer') {
          req.socket.destroy();
          return;
        }
        const h = {};
        for (const [k, v] of up.headers) if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'content-encoding') h[k] = v;
        res.writeHead(up.status, h);
        res.end(answer);
      } catch (e) {
        rec.error = String(e);
        req.socket.destroy();
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      resolve({ base, url: `${base}/v1/traces`, seen, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) });
    }),
  );
}
