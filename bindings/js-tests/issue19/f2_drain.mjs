// F2: a memory sink holding more than V8's longest string; drain it.
import { cra, SHOP, req } from './load.mjs';
const N = Number(process.env.N || 400000);
const r = new cra.Resolver(process.env.DEFAULTS ? {} : { trace: { memory_limit_events: 4000000, ...(process.env.LIMIT ? { memory_limit_bytes: Number(process.env.LIMIT) } : {}) } });
r.loadAtlas(SHOP);
for (let i = 0; i < N; i++) r.resolve(req(`session-with-a-longer-name-${i % 1000}`));
try { await r.flush(Number(process.env.FLUSH_MS || 600000)); } catch (e) { console.log("flush:", e.code); }
const s0 = r.stats();
console.log('held', JSON.stringify({ written: s0.trace.written, bytes: s0.trace.bytes_written, memory: s0.memory }));
let events = 0, chunks = 0, bytes = 0, err = null;
try {
  for (;;) {
    const c = r.drainTrace();
    if (c === '') break;
    chunks++; bytes += Buffer.byteLength(c);
    for (let i = c.indexOf('\n'); i !== -1; i = c.indexOf('\n', i + 1)) events++;
  }
} catch (e) { err = `${e.name} ${e.code}: ${e.message.slice(0, 120)}`; }
let second = null;
try { second = r.drainTrace().length; } catch (e) { second = e.code; }
const s = r.stats().trace;
console.log(JSON.stringify({ err, chunks, drained_events: events, drained_bytes: bytes, next_drain_chars: second, written: s.written, dropped: s.dropped }));
