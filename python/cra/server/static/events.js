// One TRACE event in human terms: what happened, decided by which policy, why.

import { h, badge, ms, short, when } from './dom.js';

const VERDICT = { allowed: 'allowed', denied: 'denied', pending: 'pending' };

function kv(label, value, mono) {
  if (value === null || value === undefined || value === '') return null;
  return h('span', { class: 'kv' }, h('span', { class: 'k' }, `${label}: `), mono ? h('code', {}, String(value)) : String(value));
}
const list = (xs) => (Array.isArray(xs) && xs.length ? xs.join(', ') : 'none');

/** {title, badge, detail} for one stored event row (index columns + the event). */
export function describe(row) {
  const ev = row.event || {}, p = ev.payload || {}, t = ev.event_type || row.event_type;
  switch (t) {
    case 'session.started':
      return { title: `Session started by agent ${p.agent_id || row.agent_id || '?'}`,
        detail: [kv('session', ev.session_id), kv('atlas', p.atlas_id), kv('parent session', p.parent_session_id)] };
    case 'session.ended':
      return { title: 'Session ended', detail: [kv('reason', p.reason), kv('lasted', typeof p.duration_us === 'number' ? ms(p.duration_us / 1000) : null)] };
    case 'carp.request.received':
      if (p.operation === 'resolve' && p.request) {
        const r = p.request;
        return { title: `Asked what it may do: “${(r.task && r.task.goal) || 'no goal given'}”`,
          detail: [kv('atlases', list(r.atlas_ids)), kv('agent', r.requester && r.requester.agent_id),
            r.context ? kv('context', JSON.stringify(r.context)) : null] };
      }
      return { title: `Request to run ${p.action_id || 'an action'}`,
        detail: [kv('parameters digest', short(p.parameters_hash, 16), true), kv('idempotency key', p.idempotency_key)] };
    case 'policy.evaluated': {
      const v = Array.isArray(p.verdicts) ? p.verdicts : [];
      return { title: `Policies evaluated: ${p.allowed || 0} allowed, ${p.denied || 0} denied, ${p.pending || 0} need approval`,
        detail: [h('ul', {}, v.map((x) => h('li', {}, badge(VERDICT[x.verdict] || 'info', x.verdict), ' ', h('code', {}, x.action_id),
          ' by ', h('code', {}, x.policy_id || '—'), x.reason_code ? ` (${x.reason_code})` : '')))] };
    }
    case 'context.injected':
      return { title: `${(p.blocks || []).length} context block(s) given to the agent`, detail: [kv('tokens', p.token_total)] };
    case 'carp.resolution.completed':
      return { title: `Resolved: ${p.decision || '?'}`, badge: p.decision,
        detail: [kv('allowed', list(p.allowed_actions)), kv('denied', list(p.denied_actions)), kv('need approval', list(p.pending_actions)),
          kv('atlases', (p.atlases || []).map((a) => `${a.atlas_id}@${a.version}`).join(', '))] };
    case 'action.requested':
      if (p.status === 'pending_approval') {
        return { title: `${p.action_id} waits for approval`, badge: 'pending',
          detail: [kv('policy', p.policy_id, true), kv('approval', short(p.approval_id, 13), true), kv('parameters digest', short(p.parameters_hash, 16), true)] };
      }
      return { title: `${p.action_id} allowed`, badge: 'allowed',
        detail: [kv('policy', p.policy_id, true), p.approval_id ? kv('with approval', short(p.approval_id, 13), true) : null,
          kv('parameters digest', short(p.parameters_hash, 16), true)] };
    case 'action.approved':
      return { title: `${p.action_id} approved by ${p.approver || '?'}`, badge: 'approved',
        detail: [kv('at', when(ev.timestamp)), kv('reason', p.reason ? `“${p.reason}”` : null), kv('approval', short(p.approval_id, 13), true)] };
    case 'action.denied':
      if (p.decision === 'rejected') {
        return { title: `${p.action_id} rejected by ${p.approver || '?'}`, badge: 'rejected',
          detail: [kv('at', when(ev.timestamp)), kv('reason', p.reason ? `“${p.reason}”` : null), kv('approval', short(p.approval_id, 13), true)] };
      }
      if (p.reason_code === 'rate_limit_exceeded') {
        return { title: `${p.action_id} refused: rate limit reached`, badge: 'rate_limited', detail: [kv('policy', p.policy_id, true)] };
      }
      return { title: `${p.action_id} denied`, badge: 'denied', detail: [kv('policy', p.policy_id, true), kv('reason', p.reason_code)] };
    case 'action.executed':
      return { title: `${p.action_id} ran in ${ms(p.duration_ms)}`, badge: 'executed', detail: [kv('result digest', short(p.result_hash, 16), true)] };
    case 'action.failed':
      return { title: `${p.action_id} failed after ${ms(p.duration_ms)}`, badge: 'failed',
        detail: [kv('error', p.error ? `${p.error.code}: ${p.error.message}` : null)] };
    case 'policy.violated':
      return { title: `Policy violated: ${p.action_id} against ${p.policy_id}`, badge: 'denied', detail: [kv('reason', p.reason_code)] };
    case 'trace.gap':
      return { title: `${p.dropped} event(s) dropped by the recorder`, badge: 'gap', detail: [kv('reason', p.reason)] };
    case 'atlas.loaded':
      return { title: `${p.shadow ? 'Shadow' : 'Atlas'} ${p.atlas_id}@${p.version} loaded` + (p.previous_version ? ` (was ${p.previous_version})` : ''),
        detail: [kv('digest', short(p.digest, 16), true), kv('previous digest', p.previous_digest ? short(p.previous_digest, 16) : null, true),
          kv('actions', p.actions), kv('policies', p.policies)] };
    case 'atlas.unloaded':
      return { title: `${p.shadow ? 'Shadow' : 'Atlas'} ${p.atlas_id}@${p.version} unloaded`, detail: [kv('digest', short(p.digest, 16), true)] };
    default:
      return { title: t || 'event', detail: [] };
  }
}
