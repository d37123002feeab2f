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
/// holds whatever the org's size: a million people give some 400 MB of index entries.
const RUN_BYTES: usize = 32 << 20;

/// Read buffer per run while merging (a million people make about a dozen runs).
const READ_BUFFER: usize = 256 << 10;

/// Entries (tree, key, value) to write in key order, tree after tree; for equal keys in one
/// tree the one added last is written last (and so wins), as plain inserts in arrival order
/// would leave it.
pub(super) struct Runs {
    dir: PathBuf,
    /// Keys and values of the entries not yet spilled, back to back.
    arena: Vec<u8>,
    /// Where each of them is in `arena`: (tree, start, key length, value length).
    at: Vec<(u8, u32, u32, u32)>,
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
                .map_err(|_| StoreError::Corrupt("an index entry larger than 4 GiB".into()))
        };
        self.at
            .push((t as u8, len(start)?, len(key.len())?, len(value.len())?));
        if self.arena.len() >= RUN_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    /// The entries held in memory, sorted (stably: equal keys stay in arrival order).
    fn sorted(&mut self) -> Vec<(u8, u32, u32, u32)> {
        let arena = &self.arena;
        let key = |&(_, s, k, _): &(u8, u32, u32, u32)| &arena[s as usize..(s + k) as usize];
        let mut at = std::mem::take(&mut self.at);
        at.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a).cmp(key(b))));
        at
    }

    /// Sorts what is in memory and writes it to a new run file.
    fn spill(&mut self) -> Result<()> {
        let at = self.sorted();
        let file = tempfile::tempfile_in(&self.dir).map_err(|e| self.io("create", e))?;
        let mut w = BufWriter::with_capacity(READ_BUFFER, file);
        for (t, s, k, v) in at {
            let (s, k, v) = (s as usize, k as usize, v as usize);
            let written = w
                .write_all(&[t])
                .and_then(|()| w.write_all(&(k as u32).to_le_bytes()))
                .and_then(|()| w.write_all(&(v as u32).to_le_bytes()))
                .and_then(|()| w.write_all(&self.arena[s..s + k + v]));
            written.map_err(|e| self.io("write", e))?;
        }
        let mut file = w
            .into_inner()
            .map_err(|e| self.io("write", e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| self.io("rewind", e))?;
        self.runs.push(file);
        self.arena.clear();
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
            for (t, s, k, v) in self.sorted() {
                let (s, k, v) = (s as usize, k as usize, v as usize);
                let (key, value) = (&self.arena[s..s + k], &self.arena[s + k..s + k + v]);
                out.push(store, t as usize, key, value)?;
            }
            return out.finish();
        }
        if !self.at.is_empty() {
            self.spill()?;
        }
        self.arena = Vec::new();
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

    /// Entries spilled over several runs (a run size of a few entries) come out in key order,
    /// tree after tree, with the last-added of equal keys written last, exactly as plain
    /// inserts in arrival order leave the trees.
    #[test]
    fn spilled_runs_write_what_plain_inserts_would() {
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
            // Few distinct keys, so equal keys meet across runs and within one.
            let key = format!("k{:04}", next() % 1_500);
            let value = i.to_be_bytes();
            runs.push(t, key.as_bytes(), &value).expect("push");
            plain
                .tree(t)
                .insert(key.as_bytes(), &value)
                .expect("insert");
            if i % 700 == 699 {
                runs.spill().expect("spill");
            }
        }
        assert!(runs.runs.len() >= 7, "{} runs", runs.runs.len());
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
    }
}
