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
    /// Where each of them is in `arena`.
    at: Vec<Slot>,
    /// Runs spilled so far, each sorted.
    runs: Vec<File>,
    /// The run being sorted and written on a thread of its own while the next gathers (one at
    /// a time: sorting half a million entries is some half a second the loading thread would
    /// otherwise wait for, a dozen times at a million people).
    spilling: Option<std::thread::JoinHandle<Spilled>>,
}

/// A spilled run's file, with the arena and list it was written from (kept for the next run).
type Spilled = Result<(File, Vec<u8>, Vec<Slot>)>;

/// Where an entry is in the arena: (tree, start, key length, value length).
type Slot = (u8, u32, u32, u32);

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
            spilling: None,
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

    /// Hands what is in memory to a thread that sorts it and writes it to a new run file (after
    /// the run before it is written), and gathers the next run in the arena that run used.
    fn spill(&mut self) -> Result<()> {
        let (arena, at) = match self.settle()? {
            Some((arena, at)) => (arena, at),
            None => (Vec::with_capacity(self.arena.capacity()), Vec::new()),
        };
        let arena = std::mem::replace(&mut self.arena, arena);
        let at = std::mem::replace(&mut self.at, at);
        let dir = self.dir.clone();
        self.spilling = Some(std::thread::spawn(move || write_run(&dir, arena, at)));
        Ok(())
    }

    /// Waits for the run being written, if one is, and keeps its file; returns its arena and
    /// list, emptied.
    fn settle(&mut self) -> Result<Option<(Vec<u8>, Vec<Slot>)>> {
        let Some(spilling) = self.spilling.take() else {
            return Ok(None);
        };
        let (file, mut arena, mut at) = spilling.join().unwrap_or_else(|_| {
            Err(StoreError::Corrupt(
                "sorting a run of the first load's index entries panicked".into(),
            ))
        })?;
        self.runs.push(file);
        arena.clear();
        at.clear();
        Ok(Some((arena, at)))
    }

    fn io(&self, what: &str, e: std::io::Error) -> StoreError {
        io_error(&self.dir, what, e)
    }

    /// Writes every entry into its tree in key order (`Appends`): straight from memory when
    /// nothing was spilled, else by merging the runs.
    pub(super) fn write(mut self, store: &Store) -> Result<()> {
        let mut out = Appends::default();
        self.settle()?;
        if self.runs.is_empty() {
            let at = sorted(&self.arena, std::mem::take(&mut self.at));
            for (t, s, k, v) in at {
                let (s, k, v) = (s as usize, k as usize, v as usize);
                let (key, value) = (&self.arena[s..s + k], &self.arena[s + k..s + k + v]);
                out.push(store, t as usize, key, value)?;
            }
            return out.finish();
        }
        if !self.at.is_empty() {
            self.spill()?;
            self.settle()?;
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

/// `at`, sorted by tree and key (stably: equal keys stay in arrival order).
fn sorted(arena: &[u8], mut at: Vec<Slot>) -> Vec<Slot> {
    let key = |&(_, s, k, _): &Slot| &arena[s as usize..(s + k) as usize];
    at.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a).cmp(key(b))));
    at
}

/// Sorts a run and writes it to a new anonymous file in `dir`, rewound for reading.
fn write_run(dir: &Path, arena: Vec<u8>, at: Vec<Slot>) -> Spilled {
    let at = sorted(&arena, at);
    let file = tempfile::tempfile_in(dir).map_err(|e| io_error(dir, "create", e))?;
    let mut w = BufWriter::with_capacity(READ_BUFFER, file);
    for &(t, s, k, v) in &at {
        let (s, k, v) = (s as usize, k as usize, v as usize);
        let written = w
            .write_all(&[t])
            .and_then(|()| w.write_all(&(k as u32).to_le_bytes()))
            .and_then(|()| w.write_all(&(v as u32).to_le_bytes()))
            .and_then(|()| w.write_all(&arena[s..s + k + v]));
        written.map_err(|e| io_error(dir, "write", e))?;
    }
    let mut file = w
        .into_inner()
        .map_err(|e| io_error(dir, "write", e.into_error()))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| io_error(dir, "rewind", e))?;
    Ok((file, arena, at))
}

fn io_error(dir: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Sled(sled::Error::Io(std::io::Error::new(
        e.kind(),
        format!(
            "cannot {what} a spill file of the first load's index entries in {}: {e}. Check the data directory's free space",
            dir.display()
        ),
    )))
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
        runs.settle().expect("the last run written");
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
