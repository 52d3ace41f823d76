//! Stable sorting with one compiled copy of the algorithm, for the WASM module's size.
//!
//! The standard library's sorts are instantiated once per element type and comparator (several
//! KiB of WebAssembly each; about 47 KB of the unoptimized module were sorting code). On wasm32
//! every call site here shares one non-generic merge sort of indices and a small permutation
//! step; elsewhere these are the standard sorts. A stable sort's result is fully determined by
//! the comparator, so both give the same order (`tests` compares them).

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`: the order of [`slice::sort_by`].
pub(crate) fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    #[cfg(target_arch = "wasm32")]
    {
        let perm = sorted_indices(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
        apply(v, perm);
    }
    #[cfg(not(target_arch = "wasm32"))]
    v.sort_by(&mut cmp);
}

/// Sorts `v` stably by `key`: the order of [`slice::sort_by_key`].
pub(crate) fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `v` (stably; for the integers it is used on, the order of `sort_unstable` too).
pub(crate) fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// The indices `0..n` in the stable order of `cmp` (bottom-up merge sort).
#[cfg(any(target_arch = "wasm32", test))]
fn sorted_indices(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut a: Vec<usize> = (0..n).collect();
    let mut b = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut i = 0;
        while i < n {
            let mid = (i + width).min(n);
            let end = (i + 2 * width).min(n);
            let (mut l, mut r) = (i, mid);
            for slot in &mut b[i..end] {
                // Ties take the left run: stable.
                if l < mid && (r >= end || cmp(a[l], a[r]) != Ordering::Greater) {
                    *slot = a[l];
                    l += 1;
                } else {
                    *slot = a[r];
                    r += 1;
                }
            }
            i = end;
        }
        std::mem::swap(&mut a, &mut b);
        width *= 2;
    }
    a
}

/// Reorders `v` so that position `k` holds what was at `perm[k]` (cycle by cycle, in place).
#[cfg(any(target_arch = "wasm32", test))]
fn apply<T>(v: &mut [T], mut perm: Vec<usize>) {
    for i in 0..v.len() {
        if perm[i] == usize::MAX {
            continue;
        }
        let mut cur = i;
        loop {
            let next = std::mem::replace(&mut perm[cur], usize::MAX);
            if next == i {
                break;
            }
            v.swap(cur, next);
            cur = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The merge sort and permutation (the wasm32 path) give `sort_by`'s order, ties included.
        #[test]
        fn the_wasm_path_is_the_standard_stable_order(v in proptest::collection::vec((0u8..6, any::<u16>()), 0..200)) {
            let mut want = v.clone();
            want.sort_by_key(|e| e.0);
            let mut got = v.clone();
            let perm = sorted_indices(got.len(), &mut |a, b| v[a].0.cmp(&v[b].0));
            apply(&mut got, perm);
            prop_assert_eq!(got, want);
        }
    }
}
