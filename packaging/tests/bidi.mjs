// Drives Firefox through WebDriver BiDi (no Playwright build of Firefox needed: Debian's
// firefox-esr speaks the W3C protocol natively). Opens URL, waits until `window.__cra` is set,
// prints it as JSON on stdout.
//   node --experimental-websocket bidi.mjs FIREFOX URL [TIMEOUT_MS]
// (Node 22+ has WebSocket without the flag.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [firefox, url, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg || 60_000);
if (typeof WebSocket === 'undefined') throw new Error('no WebSocket: run with node --experimental-websocket (Node 20) or Node 22+');

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cra-firefox-'));
// Only local traffic: no updates, telemetry, captive-portal or safe-browsing requests.
fs.writeFileSync(path.join(profile, 'user.js'), [
  'user_pref("app.update.enabled", false);', 'user_pref("network.captive-portal-service.enabled", false);',
  'user_pref("datareporting.policy.dataSubmissionEnabled", false);', 'user_pref("toolkit.telemetry.enabled", false);',
  'user_pref("browser.safebrowsing.malware.enabled", false);', 'user_pref("browser.safebrowsing.phishing.enabled", false);',
  'user_pref("network.connectivity-service.enabled", false);', 'user_pref("browser.shell.checkDefaultBrowser", false);',
].join('\n'));
const proc = spawn(firefox, ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port', '0', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const deadline = setTimeout(() => finish(new Error(`timed out after ${timeout} ms\npage console:\n${logs.join('\n')}\nfirefox:\n${log.slice(-3000)}`)), timeout);

function finish(err, value) {
  clearTimeout(deadline);
  proc.kill('SIGKILL');
  fs.rmSync(profile, { recursive: true, force: true });
  if (err) {
    console.error(String(err && err.stack || err));
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(value) + '\n');
  process.exit(0);
}

const endpoint = await new Promise((resolve, reject) => {
  proc.stderr.on('data', (d) => {
    log += d;
    const m = /WebDriver BiDi listening on (ws:\/\/[^\s]+)/.exec(log);
    if (m) resolve(m[1]);
  });
  proc.on('exit', (code) => reject(new Error(`firefox exited ${code}\n${log.slice(-3000)}`)));
}).catch((e) => finish(e));

const ws = new WebSocket(`${endpoint.replace(/\/$/, '')}/session`);
let next = 0;
const logs = [];
const pending = new Map();
ws.onmessage = (ev) => {
  const msg = JSON.parse(ev.data);
  if (msg.method === 'log.entryAdded') logs.push(`${msg.params.level}: ${msg.params.text}`);
  if (msg.id !== undefined && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.type === 'error') reject(new Error(`${msg.error}: ${msg.message}`));
    else resolve(msg.result);
  }
};
const send = (method, params = {}) => new Promise((resolve, reject) => {
  if (process.env.CRA_BIDI_DEBUG) console.error(`-> ${method}`);
  const id = ++next;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});

try {
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error(`cannot connect to ${endpoint}`)); });
  const session = await send('session.new', { capabilities: {} });
  await send('session.subscribe', { events: ['log.entryAdded'] });
  const { contexts } = await send('browsingContext.getTree', {});
  const context = contexts[0].context;
  await send('browsingContext.navigate', { context, url, wait: 'complete' });
  for (;;) {
    const r = await send('script.evaluate', { expression: 'window.__cra === undefined ? "" : JSON.stringify(window.__cra)', target: { context }, awaitPromise: false });
    if (r.type === 'exception') throw new Error(`script exception: ${JSON.stringify(r.exceptionDetails)}`);
    if (r.result.value) {
      const out = JSON.parse(r.result.value);
      out.browser = `${session.capabilities.browserName} ${session.capabilities.browserVersion}`;
      await send('session.end').catch(() => {});
      finish(null, out);
      break;
    }
    await new Promise((r2) => setTimeout(r2, 100));
  }
} catch (e) {
  finish(e);
}
