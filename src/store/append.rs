//! Writing a tree of the initial load in key order, a leaf page at a time (the vendored sled's
//! `Tree::bulk_load`), where `insert` logs and compresses every entry as a delta of its own.
//!
//! A tree that is not as new (it held entries once, as after a load that failed in-process was
//! emptied) is written by plain inserts instead: slower, the same entries. (An interrupted load
//! found at open has its trees dropped and made again: `Store::recover_initial_load`.)

use super::{Result, Store};

/// Entries a leaf of a loaded tree is written with: three quarters of what a leaf holds before
/// it splits (`LEAF_ENTRIES`), leaving room for the entries that later changes insert between
/// them. (A load by inserts in key order leaves leaves half full: sled splits in the middle.)
const LEAF_FILL: usize = super::LEAF_ENTRIES * 3 / 4;

/// One tree being written in key order.
pub(super) enum Append {
    Leaves(Box<sled::BulkLoad>),
    Inserts(sled::Tree),
}

impl Append {
    /// Begins writing `tree`.
    pub(super) fn new(tree: &sled::Tree) -> Result<Append> {
        Ok(match tree.bulk_load(LEAF_FILL)? {
            Some(load) => Append::Leaves(Box::new(load)),
            None => Append::Inserts(tree.clone()),
        })
    }

    /// Writes an entry (in key order; one out of order is still written where it belongs, and
    /// for a key written twice the later value wins).
    pub(super) fn push(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        match self {
            Append::Leaves(load) => load.push(key, value)?,
            Append::Inserts(tree) => {
                tree.insert(key, value)?;
            }
        }
        Ok(())
    }

    /// Writes what is still held and the tree's index. Until then the tree holds a prefix of
    /// what was pushed; a load dropped unfinished leaves a valid tree that sled indexes as it
    /// reads it.
    pub(super) fn finish(self) -> Result<()> {
        match self {
            Append::Leaves(load) => load.finish()?,
            Append::Inserts(_) => {}
        }
        Ok(())
    }
}

/// One `Append` per tree (by its place in `Store::trees`), begun when the tree is first
/// written.
#[derive(Default)]
pub(super) struct Appends(Vec<(usize, Append)>);

impl Appends {
    /// Writes an entry of the tree at `t` in `Store::trees`.
    pub(super) fn push(&mut self, store: &Store, t: usize, key: &[u8], value: &[u8]) -> Result<()> {
        let at = match self.0.iter().position(|(tree, _)| *tree == t) {
            Some(at) => at,
            None => {
                self.0.push((t, Append::new(&store.trees[t])?));
                self.0.len() - 1
            }
        };
        self.0[at].1.push(key, value)
    }

    /// Finishes every tree written.
    pub(super) fn finish(self) -> Result<()> {
        for (_, append) in self.0 {
            append.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// SplitMix64, for reproducible keys (the store does not reach into the simulator's).
    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Rng {
            Rng(seed)
        }

        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n.max(1) as u64) as usize
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.next_u64() % 100 < percent
        }
    }

    type Truth = BTreeMap<Vec<u8>, Vec<u8>>;

    /// A database as the store opens one (leaves of `LEAF_ENTRIES`, compressed), with a small
    /// cache so that the load's pages are evicted and read back.
    fn db(dir: &std::path::Path) -> sled::Db {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 << 10)
            .use_compression(true)
            .open()
            .expect("open");
        db.set_leaf_split(super::super::LEAF_ENTRIES);
        db
    }

    /// A bulk load of `tree`, which must be new.
    fn begin(tree: &sled::Tree) -> sled::BulkLoad {
        tree.bulk_load(super::LEAF_FILL)
            .expect("begin")
            .expect("a new tree")
    }

    /// Keys that share long prefixes (up to past the 255 bytes a node may leave out), and
    /// short ones, with values of every size up to a few KB.
    fn entries(rng: &mut Rng, n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let long = vec![b'p'; 300];
        (0..n)
            .map(|i| {
                let mut key = match rng.below(4) {
                    0 => long.clone(),
                    1 => b"00u".to_vec(),
                    _ => Vec::new(),
                };
                key.extend_from_slice(format!("{:x}", rng.next_u64() % (n as u64 * 4)).as_bytes());
                let value = vec![(i % 251) as u8; rng.below(3000)];
                (key, value)
            })
            .collect()
    }

    /// Everything `tree` holds, read forwards, backwards, by key and by ranges, against `truth`.
    fn check(tree: &sled::Tree, truth: &Truth, rng: &mut Rng, what: &str) {
        let read: Vec<(Vec<u8>, Vec<u8>)> = tree
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter"))
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            truth.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(read.len(), want.len(), "{what}: how many entries");
        assert!(read == want, "{what}: the entries, in order");
        let back = tree.iter().rev().count();
        assert_eq!(back, truth.len(), "{what}: read backwards");
        for (k, v) in truth {
            let got = tree.get(k).expect("get");
            assert_eq!(got.as_deref(), Some(v.as_slice()), "{what}: get");
        }
        let keys: Vec<&Vec<u8>> = truth.keys().collect();
        for _ in 0..50.min(keys.len()) {
            let (a, b) = (rng.below(keys.len()), rng.below(keys.len()));
            let (lo, hi) = (keys[a.min(b)], keys[a.max(b)]);
            let got: Vec<Vec<u8>> = tree
                .range(lo.as_slice()..hi.as_slice())
                .keys()
                .map(|k| k.expect("range").to_vec())
                .collect();
            let want: Vec<Vec<u8>> = truth
                .range(lo.clone()..hi.clone())
                .map(|(k, _)| k.clone())
                .collect();
            assert_eq!(got, want, "{what}: a range");
        }
        assert_eq!(
            tree.get(b"not a key").expect("get"),
            None,
            "{what}: a missing key"
        );
    }

    /// Loads `n` entries in key order, a few out of order and some keys twice, then changes,
    /// reopens and empties the tree, checking it against a map at every step.
    fn load_and_check(n: usize, seed: u64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = Rng::new(seed);
        let mut sorted = entries(&mut rng, n);
        sorted.sort();
        let mut truth = Truth::new();
        {
            let db = db(dir.path());
            let tree = db.open_tree("t").expect("tree");
            let mut load = begin(&tree);
            let mut late = Vec::new();
            for (k, v) in &sorted {
                if rng.chance(2) {
                    late.push((k.clone(), v.clone()));
                    continue;
                }
                load.push(k, v.as_slice()).expect("push");
                truth.insert(k.clone(), v.clone());
                if !late.is_empty() && rng.chance(20) {
                    // Earlier keys, pushed after later ones (some into leaves already written).
                    for (k, v) in late.drain(..) {
                        load.push(&k, v.as_slice()).expect("push late");
                        truth.insert(k, v);
                    }
                }
            }
            for (k, v) in late {
                load.push(&k, v.as_slice()).expect("push late");
                truth.insert(k, v);
            }
            load.finish().expect("finish");
            check(&tree, &truth, &mut rng, "loaded");

            // Changes after the load: inserts between the loaded keys (splits), removals
            // (merges), new values.
            let keys: Vec<Vec<u8>> = truth.keys().cloned().collect();
            for k in &keys {
                match rng.below(6) {
                    0 => {
                        tree.remove(k).expect("remove");
                        truth.remove(k);
                    }
                    1 => {
                        let mut k2 = k.clone();
                        k2.push(b'+');
                        tree.insert(&k2, b"between".as_slice()).expect("insert");
                        truth.insert(k2, b"between".to_vec());
                    }
                    2 => {
                        tree.insert(k, b"changed".as_slice()).expect("update");
                        truth.insert(k.clone(), b"changed".to_vec());
                    }
                    _ => {}
                }
            }
            check(&tree, &truth, &mut rng, "changed");
            db.flush().expect("flush");
        }
        let db = db(dir.path());
        let tree = db.open_tree("t").expect("tree");
        check(&tree, &truth, &mut rng, "reopened");
        if !truth.is_empty() {
            assert!(
                tree.bulk_load(super::LEAF_FILL).expect("begin").is_none(),
                "a tree with entries is not loaded"
            );
        }
        tree.clear().expect("clear");
        assert!(tree.is_empty());
        check(&tree, &Truth::new(), &mut rng, "cleared");
    }

    #[test]
    fn a_bulk_load_reads_back_as_inserts_would_leave_it() {
        // Empty, under a leaf, around one and two leaves, a root over leaves, and index levels
        // under the root (past 256 leaves).
        for (n, seed) in [
            (0, 1),
            (1, 2),
            (3, 3),
            (4, 4),
            (47, 5),
            (49, 6),
            (100, 7),
            (3_000, 8),
            (40_000, 9),
        ] {
            load_and_check(n, seed);
        }
    }

    /// Readers during the load: they see a tree (a prefix of it), and what they do to it (they
    /// add the leaves they pass to the root) does not stop the load.
    #[test]
    fn readers_beside_a_bulk_load_neither_fail_nor_stop_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db(dir.path());
        let tree = db.open_tree("t").expect("tree");
        let keys: Vec<Vec<u8>> = (0..30_000u32)
            .map(|i| format!("k{i:08}").into_bytes())
            .collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut rng = Rng::new(11);
                let mut reads = 0u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = &keys[rng.below(keys.len())];
                    if let Some(v) = tree.get(k).expect("get") {
                        assert_eq!(v.as_ref(), k.as_slice(), "a value read during the load");
                    }
                    let seen: Vec<_> = tree
                        .iter()
                        .keys()
                        .take(200)
                        .map(|k| k.expect("iter"))
                        .collect();
                    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order");
                    reads += 1;
                }
                reads
            });
            let mut load = begin(&tree);
            for k in &keys {
                load.push(k, k.as_slice()).expect("push beside readers");
            }
            load.finish().expect("finish beside readers");
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(reader.join().expect("reader") > 0);
        });
        let truth: Truth = keys.iter().map(|k| (k.clone(), k.clone())).collect();
        check(&tree, &truth, &mut Rng::new(12), "loaded beside readers");
    }

    /// A load dropped before `finish` (what a kill leaves) is a tree of its written leaves,
    /// which reads in order, survives a reopen and empties.
    #[test]
    fn an_unfinished_bulk_load_leaves_a_readable_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys: Vec<Vec<u8>> = (0..5_000u32)
            .map(|i| format!("k{i:06}").into_bytes())
            .collect();
        {
            let db = db(dir.path());
            let tree = db.open_tree("t").expect("tree");
            let mut load = begin(&tree);
            for k in &keys {
                load.push(k, k.as_slice()).expect("push");
            }
            drop(load);
            db.flush().expect("flush");
        }
        let db = db(dir.path());
        let tree = db.open_tree("t").expect("tree");
        let read: Vec<Vec<u8>> = tree
            .iter()
            .keys()
            .map(|k| k.expect("iter").to_vec())
            .collect();
        // Every leaf but the one being filled was written: all but its last few entries.
        assert!(
            read.len() + 2 * super::LEAF_FILL >= keys.len(),
            "{} of {}",
            read.len(),
            keys.len()
        );
        assert_eq!(
            read.as_slice(),
            &keys[..read.len()],
            "a prefix of the load, in order"
        );
        for k in &read {
            assert!(tree.get(k).expect("get").is_some());
        }
        tree.clear().expect("clear");
        assert_eq!(tree.iter().count(), 0);
    }
}
