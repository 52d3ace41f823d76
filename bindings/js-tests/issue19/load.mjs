// Measurements behind issue 19's before/after figures (not part of the test suite). Each script
// loads one build: M_IMPL=native|wasm and M_PATH = a bindings/node directory or a @cra/wasm
// package directory (so an older build can be measured the same way), e.g.
//   M_IMPL=native M_PATH=bindings/node N=40000 node bindings/js-tests/issue19/f1_block.mjs
// f1 blocking without draining, f2 draining a large sink (N, LIMIT, DEFAULTS, FLUSH_MS),
// f3 WASM memory per resolver and calls without draining, f4 native resolvers freed,
// f5 verify verdicts, f6 input handling, bench resolve p50/p99 with periodic draining.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
export const impl = process.env.M_IMPL || 'native';
const p = path.resolve(process.env.M_PATH);
export const cra = impl === 'native'
  ? createRequire(import.meta.url)(path.join(p, 'index.js'))
  : await import(pathToFileURL(path.join(p, 'node/index.js')).href);
export let wasmMemory = () => 0;
if (impl === 'wasm') {
  const web = await import(pathToFileURL(path.join(p, 'web/cra_wasm.js')).href);
  const exp = web.initSync({ module: fs.readFileSync(path.join(p, 'web/cra_wasm_bg.wasm')) });
  wasmMemory = () => exp.memory.buffer.byteLength;
}
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHOP = JSON.parse(fs.readFileSync(path.join(repo, 'conformance/cases/execute/execute.json'), 'utf8')).atlases.shop;
export const req = (s) => ({ requester: { agent_id: 'a1', session_id: s }, task: { goal: 'do the task' } });
export const rss = () => Math.round(process.memoryUsage().rss / 1048576);
export const threads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
