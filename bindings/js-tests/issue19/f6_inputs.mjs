// F6: lone surrogates, undefined, approve('id'), flush(Infinity/NaN), echoed values.
import { cra, SHOP, req } from './load.mjs';
const r = new cra.Resolver({ deterministic: { seed: 1 } });
r.loadAtlas(SHOP);
const res = r.resolve(req('s1'));
const e = (f) => { try { const x = f(); return x instanceof Promise ? 'promise' : `ok ${JSON.stringify(x).slice(0, 80)}`; } catch (err) { return `${err.code} ${JSON.stringify(err.pointer)} ${err.message.slice(0, 90)} (message ${err.message.length} chars)`; } };
const lone = '\ud800';
const out = {
  lone_surrogate_object: e(() => r.resolve({ requester: { agent_id: 'a1', session_id: 's1' }, task: { goal: `x${lone}y` } })),
  lone_surrogate_text: e(() => r.resolve(`{"requester":{"agent_id":"a1","session_id":"s1"},"task":{"goal":"x${lone}y"}}`)),
  undefined_resolve: e(() => r.resolve(undefined)),
  undefined_execute: e(() => r.execute(undefined)),
  approve_string_id: e(() => r.approve('0000-some-id')),
  echo_long_id: e(() => r.unloadAtlas('x'.repeat(100000))),
};
for (const t of [Infinity, NaN, -5]) {
  const t0 = Date.now();
  let how;
  try { await r.flush(t); how = 'resolved'; } catch (err) { how = err.code; }
  out[`flush(${t})`] = `${how} after ${Date.now() - t0} ms`;
}
console.log(JSON.stringify(out, null, 1));
