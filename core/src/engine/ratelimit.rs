//! Fixed-window rate limits, consumed by `execute` (never by `resolve`, which only peeks).
//!
//! Windows are aligned to multiples of `window_seconds` since the Unix epoch, so a window is a
//! pure function of the clock. Keys: (atlas, policy or the action's own limit, scope, action),
//! where the scope is the session id, the agent id or nothing (`per: global`).

use crate::atlas::model::{RateLimitSpec, RateScope};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Identifies one limit counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey {
    /// Atlas id.
    pub atlas: Arc<str>,
    /// Policy index, or `u32::MAX` for the action's own `rate_limit`.
    pub policy: u32,
    /// Whose window: session, agent or global.
    pub kind: RateScope,
    /// Session id or agent id; `None` for a global window.
    pub scope: Option<Arc<str>>,
    /// Action index.
    pub action: u32,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    index: i64,
    count: u32,
}

/// One limit that applies to a call.
#[derive(Debug, Clone)]
pub struct AppliedLimit {
    /// The counter.
    pub key: LimitKey,
    /// The limit.
    pub spec: RateLimitSpec,
    /// The policy id to report (None for an action's own limit).
    pub policy_id: Option<Arc<str>>,
}

/// Whose window a limit counts in (no allocation: the ids are shared).
pub fn scope_of(spec: &RateLimitSpec, session: &Arc<str>, agent: &Arc<str>) -> Option<Arc<str>> {
    match spec.per {
        RateScope::Session => Some(session.clone()),
        RateScope::Agent => Some(agent.clone()),
        RateScope::Global => None,
    }
}

const SHARDS: usize = 16;

type Windows = FxHashMap<LimitKey, Window>;

/// All rate-limit counters of a resolver, in independently locked shards (no global lock).
pub(crate) struct RateLimiter {
    shards: Box<[Mutex<Windows>]>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Windows::default()))
                .collect(),
        }
    }
}

fn window_index(spec: &RateLimitSpec, now_us: i64) -> i64 {
    now_us.div_euclid(spec.window_seconds as i64 * 1_000_000)
}

fn shard_of(key: &LimitKey) -> usize {
    use std::hash::BuildHasher;
    (rustc_hash::FxBuildHasher.hash_one(key) as usize) % SHARDS
}

impl RateLimiter {
    /// The first exhausted limit, without consuming anything.
    pub fn peek<'a>(&self, limits: &'a [AppliedLimit], now_us: i64) -> Option<&'a AppliedLimit> {
        limits
            .iter()
            .find(|l| used(&self.shards[shard_of(&l.key)].lock(), l, now_us) >= l.spec.max_calls)
    }

    /// Consumes one call from every limit, or none if any is exhausted (returns that one).
    /// The shards involved are locked in ascending order, so check-and-consume is atomic.
    pub fn consume<'a>(
        &self,
        limits: &'a [AppliedLimit],
        now_us: i64,
    ) -> Result<(), &'a AppliedLimit> {
        let idx: Vec<usize> = limits.iter().map(|l| shard_of(&l.key)).collect();
        let mut order = idx.clone();
        crate::sort::sort(&mut order);
        order.dedup();
        let mut guards: Vec<(usize, parking_lot::MutexGuard<'_, Windows>)> =
            order.iter().map(|&i| (i, self.shards[i].lock())).collect();
        let guard_of = |guards: &[(usize, parking_lot::MutexGuard<'_, Windows>)], s: usize| {
            guards.iter().position(|(i, _)| *i == s).unwrap_or(0)
        };
        for (l, &s) in limits.iter().zip(&idx) {
            let g = guard_of(&guards, s);
            if used(&guards[g].1, l, now_us) >= l.spec.max_calls {
                return Err(l);
            }
        }
        for (l, &s) in limits.iter().zip(&idx) {
            let g = guard_of(&guards, s);
            let w = window_index(&l.spec, now_us);
            let e = guards[g]
                .1
                .entry(l.key.clone())
                .or_insert(Window { index: w, count: 0 });
            if e.index != w {
                *e = Window { index: w, count: 0 };
            }
            e.count += 1;
        }
        Ok(())
    }

    /// Forgets every per-session counter of `session` (at session end).
    pub fn forget_session(&self, session: &str) {
        for s in self.shards.iter() {
            s.lock()
                .retain(|k, _| k.kind != RateScope::Session || k.scope.as_deref() != Some(session));
        }
    }

    /// Number of live counters.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

fn used(w: &Windows, l: &AppliedLimit, now_us: i64) -> u32 {
    match w.get(&l.key) {
        Some(win) if win.index == window_index(&l.spec, now_us) => win.count,
        _ => 0,
    }
}
