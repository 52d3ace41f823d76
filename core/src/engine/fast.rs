//! The fast path: "may session S run action A now?" with no JSON in or out.

use super::execute::Judged;
use super::resolution::VerdictKind;
use super::Resolver;

/// The fast path's answer. Values are stable (the C ABI returns them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FastVerdict {
    /// The session's latest resolution allows it and no rate limit is exhausted.
    Allowed = 0,
    /// Denied (by policy, default deny, rejection, or not in the resolution).
    Denied = 1,
    /// Waiting for an approval.
    PendingApproval = 2,
    /// A rate limit is exhausted right now.
    RateLimited = 3,
    /// The session has no unexpired resolution (or does not exist, or has ended).
    NoResolution = 4,
}

impl FastVerdict {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FastVerdict::Allowed => "allowed",
            FastVerdict::Denied => "denied",
            FastVerdict::PendingApproval => "pending_approval",
            FastVerdict::RateLimited => "rate_limited",
            FastVerdict::NoResolution => "no_resolution",
        }
    }
}

impl Resolver {
    /// Answers from the session's most recent unexpired resolution intersected with the atlases
    /// loaded now (revocation is immediate), without consuming rate limits and without
    /// recording an event. Typical cost: three hash lookups and the action's policy ladder.
    pub fn check(&self, session_id: &str, action_id: &str) -> FastVerdict {
        if self.check_not_forked().is_err() {
            return FastVerdict::Denied;
        }
        let Some(session) = self.sessions.get(session_id) else {
            return FastVerdict::NoResolution;
        };
        let guard = session.last_resolution.load();
        let Some(res) = guard.as_ref() else {
            return FastVerdict::NoResolution;
        };
        let now = self.clock.peek_us();
        if now >= res.expires_at_us {
            return FastVerdict::NoResolution;
        }
        let (atlas, v) = match self.judge(res, action_id, now) {
            Judged::NotInResolution => return FastVerdict::Denied,
            Judged::Verdict(atlas, v) => (atlas, v),
        };
        match v.kind {
            VerdictKind::Denied(_) => return FastVerdict::Denied,
            // Approvals are per call (bound to the parameters, which the fast path does not
            // see): a pending action stays pending here.
            VerdictKind::Pending => return FastVerdict::PendingApproval,
            VerdictKind::Allowed => {}
        }
        let idx = v.action;
        let action = &atlas.actions[idx as usize];
        if action.rate_limit.is_some() || !action.rate.is_empty() {
            let ctx = crate::atlas::conditions::EvalCtx {
                now_us: now,
                ..res.eval_ctx()
            };
            let limits =
                self.applied_limits(&atlas, idx, action, &ctx, &res.session_id, &res.agent_id);
            if self.limiter.peek(&limits, now).is_some() {
                return FastVerdict::RateLimited;
            }
        }
        FastVerdict::Allowed
    }
}
