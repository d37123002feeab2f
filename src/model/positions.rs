//! `Positions`: finds a string's position in a list the caller holds, by hash, keeping only
//! the positions (4 bytes and a control byte each) and never a copy of the strings.
//!
//! A whole org's manager resolution and initial load look up a million ids and keys. A sorted
//! list of positions searched by halving (what they did first) costs some twenty string
//! compares a lookup, each a cache miss at that size: about a sixth of the load's CPU.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

/// The positions of some strings, each found by hashing the string it is looked up by. The
/// strings stay with the caller: every call that must compare them is given `key`, the string
/// at a position.
pub struct Positions {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// Which of two positions holding the same string a [`Positions`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The one already held.
    Held,
    /// The one being added.
    New,
    /// Neither: the string names nobody (looking it up answers `None` from now on).
    Neither,
}

/// The mark of a string that [`Keep::Neither`] took away from every position.
const AMBIGUOUS: u32 = 1 << 31;

impl Positions {
    /// Room for `n` positions without growing.
    pub fn with_capacity(n: usize) -> Positions {
        Positions {
            table: HashTable::with_capacity(n),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The positions `0..n` of the strings `key` gives (none where it gives `None`), a string
    /// met twice kept as `keep(held, new)` decides.
    pub fn build<S, K>(n: usize, key: K, mut keep: impl FnMut(u32, u32) -> Keep) -> Positions
    where
        S: AsRef<str>,
        K: Fn(u32) -> Option<S>,
    {
        let mut out = Positions::with_capacity(n);
        for at in 0..n {
            // Positions stop short of the mark: lists of 2^31 strings are not held in memory.
            let Ok(at) = u32::try_from(at) else { break };
            if at >= AMBIGUOUS {
                break;
            }
            if let Some(k) = key(at) {
                out.insert(k.as_ref(), at, &key, &mut keep);
            }
        }
        out
    }

    /// Adds `at` under `k` (`key(at)` must be `k`), or decides with `keep` between it and the
    /// position already held under `k`.
    pub fn insert<S, K>(
        &mut self,
        k: &str,
        at: u32,
        key: &K,
        keep: &mut impl FnMut(u32, u32) -> Keep,
    ) where
        S: AsRef<str>,
        K: Fn(u32) -> Option<S>,
    {
        let hash = self.hasher.hash_one(k);
        let held = self.table.find_mut(hash, |&p| same(key(p & !AMBIGUOUS), k));
        match held {
            Some(held) if *held & AMBIGUOUS != 0 => {}
            Some(held) => match keep(*held, at) {
                Keep::Held => {}
                Keep::New => *held = at,
                Keep::Neither => *held |= AMBIGUOUS,
            },
            None => {
                let hasher = &self.hasher;
                self.table.insert_unique(hash, at, |&p| {
                    let k = key(p & !AMBIGUOUS);
                    hasher.hash_one(k.as_ref().map_or("", AsRef::as_ref))
                });
            }
        }
    }

    /// The position held under `k`, if one is.
    pub fn get<S, K>(&self, k: &str, key: K) -> Option<u32>
    where
        S: AsRef<str>,
        K: Fn(u32) -> Option<S>,
    {
        let hash = self.hasher.hash_one(k);
        let &p = self.table.find(hash, |&p| same(key(p & !AMBIGUOUS), k))?;
        (p & AMBIGUOUS == 0).then_some(p)
    }

    /// How many strings are held (ambiguous ones included).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no string is held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// Whether the string at a position is `k`.
fn same<S: AsRef<str>>(at: Option<S>, k: &str) -> bool {
    at.is_some_and(|s| s.as_ref() == k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_string_and_keeps_as_told() {
        let words: Vec<String> = (0..5000).map(|i| format!("w{}", i % 4000)).collect();
        let key = |i: u32| words.get(i as usize).map(String::as_str);
        let last = Positions::build(words.len(), key, |_, _| Keep::New);
        let first = Positions::build(words.len(), key, |_, _| Keep::Held);
        let unique = Positions::build(words.len(), key, |_, _| Keep::Neither);
        assert_eq!(last.len(), 4000);
        for i in 0..4000u32 {
            let w = format!("w{i}");
            let repeated = i < 1000;
            assert_eq!(last.get(&w, key), Some(if repeated { i + 4000 } else { i }));
            assert_eq!(first.get(&w, key), Some(i));
            assert_eq!(unique.get(&w, key), (!repeated).then_some(i));
        }
        for missing in ["", "w4000", "x1", "w01"] {
            assert_eq!(last.get(missing, key), None);
        }
        // A third copy of an ambiguous string stays ambiguous.
        let thrice = ["a", "b", "a", "a"];
        let key = |i: u32| thrice.get(i as usize).copied();
        let p = Positions::build(thrice.len(), key, |_, _| Keep::Neither);
        assert_eq!((p.get("a", key), p.get("b", key)), (None, Some(1)));
    }

    #[test]
    fn strings_without_a_key_are_left_out() {
        let words = ["a", "", "c"];
        let key = |i: u32| words.get(i as usize).copied().filter(|w| !w.is_empty());
        let p = Positions::build(words.len(), key, |_, _| Keep::Held);
        assert_eq!(p.len(), 2);
        assert_eq!(p.get("", key), None);
        assert_eq!(p.get("c", key), Some(2));
        assert!(!p.is_empty() && Positions::with_capacity(4).is_empty());
    }
}
