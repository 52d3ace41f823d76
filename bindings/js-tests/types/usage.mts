// Compiled with `tsc --noEmit` by test/types.test.mjs: the declarations describe the API as used.
import {
  Resolver, governed, verifyTrace, replay, versions, CraError, CraActionDeniedError,
  CraApprovalRequiredError, CraInvalidRequestError, type Resolution, type ExecuteAnswer,
  type FastVerdict, type Atlas, type VerifyReport,
} from '@cra/node';

const atlas: Atlas = { atlas_version: '1.0', atlas_id: 'a', version: '1', name: 'a', actions: [{ action_id: 'x', name: 'x' }] };
const r = new Resolver({ deterministic: { seed: 1 }, trace: { sink: 'memory' } });
r.loadAtlas(atlas);
r.loadAtlas(JSON.stringify(atlas));
const res: Resolution = r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g', risk_tier: 'low' } });
const ids: string[] = res.allowed_actions.map((a) => a.action_id);
const ans: ExecuteAnswer = r.execute({ requester: { agent_id: 'a', session_id: 's' }, execution: { resolution_id: res.resolution_id, action_id: ids[0] } });
if (ans.execution_id !== null) r.report({ execution_id: ans.execution_id, result: { ok: true } });
const v: FastVerdict = r.check('s', 'x');
const flushed: Promise<void> = r.flush();
const report: VerifyReport = verifyTrace(r.drainTrace());
replay(r.drainTrace(), [atlas]);
r.endSession('s', 'done');
const n: number = r.stats().resolves;
const out: Promise<number> = governed(r, { session: 's', agent: 'a', resolutionId: res.resolution_id }, 'x', async (params) => 42);
try {
  r.resolve('{}');
} catch (e) {
  if (e instanceof CraInvalidRequestError) console.log(e.code, e.pointer, e.details.map((d) => d.pointer));
  if (e instanceof CraActionDeniedError || e instanceof CraApprovalRequiredError) console.log(e.answer.status);
  if (e instanceof CraError) { const c: string = e.code; }
}
console.log(versions().cra, v, flushed, report.ok, n, out);

// @ts-expect-error: a resolve request needs a requester
r.resolve({ task: { goal: 'g' } });
// @ts-expect-error: not a verdict
const bad: FastVerdict = 'maybe';
