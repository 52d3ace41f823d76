// F5: the same tampered traces through verifyTrace(string), verifyTrace(Uint8Array), verifyTraceFile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cra, SHOP, req, impl } from './load.mjs';
const r = new cra.Resolver({ deterministic: { seed: 1 } });
r.loadAtlas(SHOP);
r.resolve(req('s1'));
r.endSession('s1', 'done');
await r.flush();
const good = Buffer.from(r.drainTrace());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f5-'));
const cases = {
  intact: good,
  bom: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), good]),
  no_final_newline: good.subarray(0, good.length - 1),
  invalid_utf8_byte: (() => { const b = Buffer.from(good); b[b.indexOf('do the task') >= 0 ? 100 : 100] = 0xff; return b; })(),
  crlf: Buffer.from(good.toString().replaceAll('\n', '\r\n')),
};
const out = {};
for (const [name, bytes] of Object.entries(cases)) {
  const v = (f) => { try { const x = f(); return x.ok ? 'ok' : `bad:${x.errors.map((e) => e.code).join(',')}`; } catch (e) { return `throw:${e.code}`; } };
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  out[name] = { string: v(() => cra.verifyTrace(bytes.toString('utf8'))), bytes: v(() => cra.verifyTrace(new Uint8Array(bytes))), file: impl === 'native' ? v(() => cra.verifyTraceFile(file)) : 'n/a' };
}
console.log(JSON.stringify(out, null, 1));
