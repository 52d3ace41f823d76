// Verifies drained trace chunks one at a time, each continuing the chains of the chunks before
// (verify options `heads`), counting events and the losses `trace.gap` events report.
import assert from 'node:assert/strict';
import { cra } from './impl.mjs';

/** Verifies chunks one at a time, each continuing the chains of the ones before. */
export class ChunkVerifier {
  constructor() {
    this.heads = {};
    this.events = 0;
    this.gapDropped = 0;
    this.gaps = 0;
  }
  add(chunk) {
    if (chunk === '') return;
    const report = cra.verifyTrace(chunk, { heads: this.heads, summaries: true });
    assert.equal(report.ok, true, JSON.stringify(report.errors.slice(0, 3)));
    this.events += report.events;
    for (const t of report.traces) {
      if (t.ended) delete this.heads[t.trace_id];
      else this.heads[t.trace_id] = t.head;
    }
    for (let i = chunk.indexOf('"event_type":"trace.gap"'); i !== -1; i = chunk.indexOf('"event_type":"trace.gap"', i + 1)) {
      const start = chunk.lastIndexOf('\n', i) + 1;
      const line = chunk.slice(start, chunk.indexOf('\n', i));
      this.gapDropped += JSON.parse(line).payload.dropped;
      this.gaps++;
    }
  }
}

