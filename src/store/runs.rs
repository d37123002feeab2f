//! Sorted runs for the initial load: the people's index entries come in the people's id order,
//! which is a random order for every index; here they are sorted in bounded runs spilled to
//! anonymous files in the data directory and merged at the end, so each index is written once,
//! in key order (appending to its last leaf instead of reading and rewriting a random one).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::append::Appends;
use super::{Result, Store, StoreError, T};

/// Bytes of entries held in memory before they are sorted and spilled. Bounds what the load
/// holds whatever the org's size: a million people give some 400 MB of index entries, in about
/// two dozen runs. (Runs of 32 MB held some 56 MB more at the load's peak, for two sets of
/// runs, and merged no faster.)
const RUN_BYTES: usize = 16 << 20;

/// Read buffer per run while merging (a million people make about two dozen runs).
const READ_BUFFER: usize = 256 << 10;

/// An entry held in memory: its tree, where its key and value are in the arena, and the key's
/// first 8 bytes (big-endian, zero-padded), which settle most comparisons of a sort without
/// reading the arena (a cache miss each at a run's size).
#[derive(Clone, Copy)]
struct Slot {
    tree: u8,
    prefix: u64,
    start: u32,
    key: u32,
    value: u32,
}

impl Slot {
    /// Key order within a tree; equal keys in arrival order (an earlier entry starts earlier in
    /// the arena), as a stable sort would leave them, without its scratch buffer.
    fn order(&self, other: &Slot, arena: &[u8]) -> std::cmp::Ordering {
        self.tree
            .cmp(&other.tree)
            .then(self.prefix.cmp(&other.prefix))
            .then_with(|| self.key(arena).cmp(other.key(arena)))
            .then(self.start.cmp(&other.start))
    }

    fn key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        &arena[self.start as usize..(self.start + self.key) as usize]
    }

    /// The entry's key and value.
    fn bytes<'a>(&self, arena: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        let end = (self.start + self.key) as usize;
        (self.key(arena), &arena[end..end + self.value as usize])
    }
}

/// The first 8 bytes of `key` as a big-endian number, zero-padded: if one key's is smaller
/// than another's, so is the key.
fn prefix(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Entries (tree, key, value) to write in key order, tree after tree; for equal keys in one
/// tree the one added last is written last (and so wins), as plain inserts in arrival order
/// would leave it.
pub(super) struct Runs {
    dir: PathBuf,
    /// Keys and values of the entries not yet spilled, back to back.
    arena: Vec<u8>,
    /// Where each of them is in `arena`.
    at: Vec<Slot>,
    /// Runs spilled so far, each sorted.
    runs: Vec<File>,
}

impl Runs {
    /// Runs spilled (when they are) into `dir`.
    pub(super) fn new(dir: &Path) -> Runs {
        Runs {
            dir: dir.to_path_buf(),
            // Reserved whole (its pages become resident only as they are written), so the
            // arena never doubles past the run's size on its way there.
            arena: Vec::with_capacity(RUN_BYTES + (1 << 20)),
            at: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Adds an entry for tree `t`.
    pub(super) fn push(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<()> {
        let start = self.arena.len();
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        // The arena is spilled at RUN_BYTES, far below 4 GiB; one key or value cannot pass it.
        let len = |n: usize| {
            u32::try_from(n)
                .map_err(|_| StoreError::Internal("an index entry larger than 4 GiB".into()))
        };
        self.at.push(Slot {
            tree: t as u8,
            prefix: prefix(key),
            start: len(start)?,
            key: len(key.len())?,
            value: len(value.len())?,
        });
        if self.arena.len() >= RUN_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the entries held in memory (see `Slot::order`).
    fn sort(&mut self) {
        let arena = &self.arena;
        self.at.sort_unstable_by(|a, b| a.order(b, arena));
    }

    /// Sorts what is in memory and writes it to a new run file; the arena and the slots keep
    /// their room for the next run.
    fn spill(&mut self) -> Result<()> {
        self.sort();
        let file = tempfile::tempfile_in(&self.dir).map_err(|e| self.io("create", e))?;
        let mut w = BufWriter::with_capacity(READ_BUFFER, file);
        for slot in &self.at {
            let (key, value) = slot.bytes(&self.arena);
            let written = w
                .write_all(&[slot.tree])
                .and_then(|()| w.write_all(&slot.key.to_le_bytes()))
                .and_then(|()| w.write_all(&slot.value.to_le_bytes()))
                .and_then(|()| w.write_all(key))
                .and_then(|()| w.write_all(value));
            written.map_err(|e| self.io("write", e))?;
        }
        let mut file = w
            .into_inner()
            .map_err(|e| self.io("write", e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| self.io("rewind", e))?;
        self.runs.push(file);
        self.arena.clear();
        self.at.clear();
        Ok(())
    }

    fn io(&self, what: &str, e: std::io::Error) -> StoreError {
        StoreError::Sled(sled::Error::Io(std::io::Error::new(
            e.kind(),
            format!(
                "cannot {what} a spill file of the first load's index entries in {}: {e}. Check the data directory's free space",
                self.dir.display()
            ),
        )))
    }

    /// Writes every entry into its tree in key order (`Appends`): straight from memory when
    /// nothing was spilled, else by merging the runs.
    pub(super) fn write(mut self, store: &Store) -> Result<()> {
        let mut out = Appends::default();
        if self.runs.is_empty() {
            self.sort();
            for slot in &self.at {
                let (key, value) = slot.bytes(&self.arena);
                out.push(store, slot.tree as usize, key, value)?;
            }
            return out.finish();
        }
        if !self.at.is_empty() {
            self.spill()?;
        }
        // Merged from the files from here on: the memory goes back.
        self.arena = Vec::new();
        self.at = Vec::new();
        let mut readers: Vec<Run> = std::mem::take(&mut self.runs)
            .into_iter()
            .map(|f| Run(BufReader::with_capacity(READ_BUFFER, f)))
            .collect();
        // The smallest (tree, key) first; between equal ones, the earlier run (added first).
        let mut heads = BinaryHeap::new();
        let mut values = Vec::with_capacity(readers.len());
        for (i, r) in readers.iter_mut().enumerate() {
            let head = r.next().map_err(|e| self.io("read", e))?;
            values.push(Vec::new());
            if let Some((t, k, v)) = head {
                values[i] = v;
                heads.push(Reverse((t, k, i)));
            }
        }
        while let Some(Reverse((t, k, i))) = heads.pop() {
            out.push(store, t as usize, &k, &values[i])?;
            if let Some((t, k, v)) = readers[i].next().map_err(|e| self.io("read", e))? {
                values[i] = v;
                heads.push(Reverse((t, k, i)));
            }
        }
        out.finish()
    }
}

/// An entry read back from a run: (tree, key, value).
type Entry = (u8, Vec<u8>, Vec<u8>);

/// One spilled run being read back.
struct Run(BufReader<File>);

impl Run {
    /// The next entry, `None` at the end of the run.
    fn next(&mut self) -> std::io::Result<Option<Entry>> {
        let mut t = [0u8; 1];
        match self.0.read_exact(&mut t) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut len = [0u8; 4];
        self.0.read_exact(&mut len)?;
        let mut key = vec![0; u32::from_le_bytes(len) as usize];
        self.0.read_exact(&mut len)?;
        let mut value = vec![0; u32::from_le_bytes(len) as usize];
        self.0.read_exact(&mut key)?;
        self.0.read_exact(&mut value)?;
        Ok(Some((t[0], key, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes 5,000 random entries into `runs` (spilling every `spill_every`, if given) and into
    /// `plain` by plain inserts, then writes `runs` into `sorted`: the two stores must hold the
    /// same entries. The keys mix short ones, long ones that share their first 8 bytes (the
    /// slots' prefix), ones that are prefixes of others, zero bytes, and the empty key; few
    /// distinct keys, so equal keys meet across runs and within one.
    fn write_like_plain_inserts(spill_every: Option<u32>) -> usize {
        let dir = tempfile::tempdir().expect("tmp");
        let sorted = Store::open(&dir.path().join("a")).expect("open");
        let plain = Store::open(&dir.path().join("b")).expect("open");
        let mut runs = Runs::new(&dir.path().join("a"));
        let mut rng: u64 = 0x5EED;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for i in 0..5_000u32 {
            let t = [T::IdxEmail, T::IdxLogin, T::Reports][(next() % 3) as usize];
            let n = next() % 300;
            let key: Vec<u8> = match next() % 5 {
                0 => format!("k{n:04}").into_bytes(),
                1 => format!("shared-prefix-{n}").into_bytes(),
                2 => format!("shared-p{}", n % 7).into_bytes(),
                3 => [
                    b"ab".as_slice(),
                    &vec![0u8; (n % 4) as usize],
                    &[(n % 3) as u8],
                ]
                .concat(),
                _ => b"ab"[..(n % 3) as usize].to_vec(),
            };
            let value = i.to_be_bytes();
            runs.push(t, &key, &value).expect("push");
            plain.tree(t).insert(&key, &value).expect("insert");
            if spill_every.is_some_and(|every| i % every == every - 1) {
                runs.spill().expect("spill");
            }
        }
        let spilled = runs.runs.len();
        runs.write(&sorted).expect("write");
        for t in [T::IdxEmail, T::IdxLogin, T::Reports] {
            let read = |s: &Store| {
                s.tree(t)
                    .iter()
                    .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .expect("read")
            };
            assert_eq!(read(&sorted), read(&plain));
            assert!(!read(&plain).is_empty());
        }
        spilled
    }

    /// Entries spilled over several runs (a run size of a few entries) come out in key order,
    /// tree after tree, with the last-added of equal keys written last, exactly as plain
    /// inserts in arrival order leave the trees; and so do entries never spilled.
    #[test]
    fn spilled_runs_write_what_plain_inserts_would() {
        let spilled = write_like_plain_inserts(Some(700));
        assert!(spilled >= 7, "{spilled} runs");
        assert_eq!(write_like_plain_inserts(None), 0);
    }

    /// A key's prefix orders as the key does wherever the two prefixes differ.
    #[test]
    fn a_smaller_prefix_is_a_smaller_key() {
        let keys: [&[u8]; 9] = [
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"a\0\0\0\0\0\0\0\x01",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\xff",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for a in keys {
            for b in keys {
                if prefix(a) < prefix(b) {
                    assert!(a < b, "{a:?} {b:?}");
                }
            }
        }
    }
}
