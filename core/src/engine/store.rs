//! A sharded concurrent map: no global lock, short critical sections.

use parking_lot::Mutex;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;

const SHARDS: usize = 32;

type Shard<V> = Mutex<FxHashMap<Box<str>, V>>;

/// A map from string keys to values, split into independently locked shards.
pub(crate) struct ShardedMap<V> {
    shards: Box<[Shard<V>]>,
}

impl<V> Default for ShardedMap<V> {
    fn default() -> Self {
        ShardedMap {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FxHashMap::default()))
                .collect(),
        }
    }
}

impl<V: Clone> ShardedMap<V> {
    #[inline]
    fn shard(&self, key: &str) -> &Mutex<FxHashMap<Box<str>, V>> {
        let h = FxBuildHasher.hash_one(key);
        &self.shards[(h as usize) % SHARDS]
    }

    /// A clone of the value under `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<V> {
        self.shard(key).lock().get(key).cloned()
    }

    /// Inserts or replaces.
    pub fn insert(&self, key: &str, value: V) {
        self.shard(key).lock().insert(key.into(), value);
    }

    /// Removes and returns.
    pub fn remove(&self, key: &str) -> Option<V> {
        self.shard(key).lock().remove(key)
    }

    /// Runs `f` on the entry under the shard lock (get-or-insert and check-and-set patterns).
    pub fn with_entry<R>(&self, key: &str, f: impl FnOnce(&mut FxHashMap<Box<str>, V>) -> R) -> R {
        f(&mut self.shard(key).lock())
    }

    /// Keeps only the entries for which `keep` is true (used to prune expired entries).
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        for s in self.shards.iter() {
            s.lock().retain(|_, v| keep(v));
        }
    }

    /// Clones of the values for which `pick` is true (one shard locked at a time).
    pub fn filter_values(&self, mut pick: impl FnMut(&V) -> bool) -> Vec<V> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            out.extend(s.lock().values().filter(|v| pick(v)).cloned());
        }
        out
    }

    /// Number of entries (takes every shard lock in turn; for stats only).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// Ids remembered for a while after what they named was forgotten (ended sessions, expired
/// resolutions), so a late request gets the precise error (`SESSION_ENDED`,
/// `RESOLUTION_EXPIRED`) instead of "not found". Bounded in count and in age; oldest first out.
#[derive(Debug, Default)]
pub(crate) struct Tombstones {
    inner: Mutex<TombstoneInner>,
}

#[derive(Debug, Default)]
struct TombstoneInner {
    when: FxHashMap<Box<str>, i64>,
    order: std::collections::VecDeque<(Box<str>, i64)>,
}

impl Tombstones {
    /// Remembers `id` as of `now_us`, forgetting entries beyond `cap` or older than
    /// `retention_us`.
    pub fn insert(&self, id: &str, now_us: i64, cap: usize, retention_us: i64) {
        let mut t = self.inner.lock();
        if cap > 0 {
            t.when.insert(id.into(), now_us);
            t.order.push_back((id.into(), now_us));
        }
        while let Some((front, at)) = t.order.front().cloned() {
            let over = t.order.len() > cap || at + retention_us <= now_us;
            if !over {
                break;
            }
            t.order.pop_front();
            if t.when.get(&front) == Some(&at) {
                t.when.remove(&front);
            }
        }
    }

    /// When `id` was remembered, if it still is and is younger than `retention_us`.
    pub fn get(&self, id: &str, now_us: i64, retention_us: i64) -> Option<i64> {
        let t = self.inner.lock();
        t.when
            .get(id)
            .copied()
            .filter(|at| at + retention_us > now_us)
    }

    /// Number of ids remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().when.len()
    }
}
