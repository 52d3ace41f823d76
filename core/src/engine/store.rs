//! A sharded concurrent map: no global lock, short critical sections.

use parking_lot::Mutex;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;

const SHARDS: usize = 32;

type Shard<V> = Mutex<FxHashMap<Box<str>, V>>;

/// A map from string keys to values, split into independently locked shards.
pub struct ShardedMap<V> {
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

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
