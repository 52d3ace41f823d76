// Compiled with `tsc --noEmit` by test/types.test.mjs: the declarations describe the API as used.
import {
  Resolver, governed, verifyTrace, verifyTraceFile, replay, versions, CraError, CraActionDeniedError,
  CraApprovalRequiredError, CraInvalidRequestError, type Resolution, type ExecuteAnswer,
  type FastVerdict, type Atlas, type VerifyReport, type ResolverConfig, type ApprovalId,
  type ResolutionId, type ExecutionId, type Approval, type Stats, type Explanation, type ExplainVerdict,
  type AtlasInfo, type ShadowDiffPayload, type TraceEvent,
} from '@cra/node';
// No DOM or Node lib here: the usage file brings its own console.
declare const console: { log(...args: unknown[]): void };

const atlas: Atlas = { atlas_version: '1.0', atlas_id: 'a', version: '1', name: 'a', description: 'd', actions: [{ action_id: 'x.y', name: 'x', description: 'x' }] };
const config: ResolverConfig = {
  deterministic: { seed: 1 },
  session_idle_timeout_seconds: 600,
  approval_retention_seconds: 60,
  max_approvals_per_session: 8,
  max_idempotency_keys_per_session: 100,
  ended_session_retention_seconds: 60,
  max_ended_sessions: 1000,
  default_risk_tier: 'medium',
  trace: { sink: 'memory', block_timeout_ms: 50, memory_limit_bytes: 1 << 20, overflow: 'drop' },
};
const r = new Resolver(config);
r.loadAtlas(atlas);
r.loadAtlas(JSON.stringify(atlas));
const res: Resolution = r.resolve({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g', risk_tier: 'low' } });
const ids: string[] = res.allowed_actions.map((a) => a.action_id);

// Parameters and context may be interfaces and class instances, not only index-signature types.
interface RefundParams { order_id: string; amount: number }
class Lookup { constructor(readonly order_id: string) {} }
const params: RefundParams = { order_id: 'o', amount: 5 };
const ans: ExecuteAnswer = r.execute({ requester: { agent_id: 'a', session_id: 's' }, execution: { resolution_id: res.resolution_id, action_id: ids[0], parameters: params } });
r.execute({ requester: { agent_id: 'a', session_id: 's' }, execution: { resolution_id: res.resolution_id, action_id: 'x.y', parameters: new Lookup('o') }, context: params });
if (ans.replayed === true && ans.outcome === 'executed') console.log('a replay of an executed call');
if (ans.execution_id !== null) r.report({ execution_id: ans.execution_id, result: new Lookup('r') });
if (ans.approval_id !== null) {
  const a: Approval = r.approve(ans.approval_id, { approver: 'alice@example.com' });
  r.reject({ approval_id: ans.approval_id, approver: 'bob', reason: 'no' });
  console.log(a.status, a.parameters);
}
const pending: Approval[] = r.listApprovals({ status: ['pending', 'approved'] });
r.listApprovals();
const v: FastVerdict = r.check('s', 'x.y');

// Explain and shadow mode.
const why: Explanation = r.explain({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' }, context: params }, 'x.y');
r.explain(JSON.stringify({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } }), 'x.y');
const verdict: ExplainVerdict = why.verdict;
const decider: string | null = why.policy_id;
for (const p of why.policies) if (p.decided) console.log(p.policy_id, p.type, p.priority, p.note, p.conditions.map((c) => [c.kind, c.held, c.saw]));
const shadowInfo: AtlasInfo = r.loadShadow({ ...atlas, version: '2' });
r.loadShadow(JSON.stringify(atlas));
r.loadShadowDir('atlases/candidate');
const unloaded: { atlas_id: string; unloaded: true } = r.unloadShadow('a');
const diffs: number = r.stats().shadow_diffs + r.stats().shadows;
for (const e of r.drainEvents() as TraceEvent[]) {
  if (e.event_type === 'policy.shadow_diff') {
    const p = e.payload as unknown as ShadowDiffPayload;
    for (const d of p.diffs) console.log(d.action_id, d.live, d.shadow, d.shadow_version);
  }
}
console.log(verdict, decider, shadowInfo.replaced, unloaded, diffs);
const flushed: Promise<void> = r.flush(Infinity);
let chunk = r.drainTrace({ maxBytes: 1 << 20, maxEvents: 1000, flushTimeoutMs: 0 });
while (chunk !== '') chunk = r.drainTrace();
const report: VerifyReport = verifyTrace(r.drainTrace(), { require_session_end: true, summaries: true });
verifyTrace(new Uint8Array(0));
verifyTrace(new ArrayBuffer(0), '{}');
verifyTraceFile('trace.jsonl', { heads: { t: { sequence: 1, event_hash: 'h' } } });
replay(r.drainTrace(), [atlas]);
r.endSession('s', 'done');
const st: Stats = r.stats();
const n: number = st.resolves + (st.memory.trace_buffer_bytes ?? 0);
const out: Promise<number> = governed(r, { session: 's', agent: 'a', resolutionId: res.resolution_id, parameters: params }, 'x.y', async (p) => p.amount);
try {
  r.resolve('{}');
} catch (e) {
  if (e instanceof CraInvalidRequestError) console.log(e.code, e.pointer, e.details.map((d) => d.pointer));
  if (e instanceof CraActionDeniedError || e instanceof CraApprovalRequiredError) console.log(e.answer.status);
  if (e instanceof CraError) { const c: string = e.code; }
}
{
  using scoped = new Resolver();
  scoped.check('s', 'x.y');
}
r.free();
const fromStorage = 'id-from-a-database' as ApprovalId;
r.approve(fromStorage, { approver: 'h' });
console.log(versions().cra, v, flushed, report.ok, n, out, pending);

// @ts-expect-error: a resolve request needs a requester
r.resolve({ task: { goal: 'g' } });
// @ts-expect-error: not a verdict
const bad: FastVerdict = 'maybe';
// @ts-expect-error: an atlas needs a description (the engine requires it)
const noDescription: Atlas = { atlas_version: '1.0', atlas_id: 'a', version: '1', name: 'a', actions: [] };
// @ts-expect-error: the approver is required
r.approve(fromStorage, {});
// @ts-expect-error: a plain string is not an approval id
r.approve('raw-string', { approver: 'h' });
const exec: ExecutionId | null = ans.execution_id;
// @ts-expect-error: an execution id is not a resolution id
const wrong: ResolutionId | null = exec;
// @ts-expect-error: explain takes a resolve request (an execute request has no task)
r.explain({ requester: { agent_id: 'a', session_id: 's' }, execution: { resolution_id: res.resolution_id, action_id: 'x.y' } }, 'x.y');
// @ts-expect-error: explain needs the action id
r.explain({ requester: { agent_id: 'a', session_id: 's' }, task: { goal: 'g' } });
// @ts-expect-error: not an explain verdict
const notVerdict: ExplainVerdict = 'maybe';
// @ts-expect-error: unloadShadow takes the atlas id, not the atlas
r.unloadShadow(atlas);
// @ts-expect-error: unknown config field
new Resolver({ trace: { block_timeout: 5 } });
