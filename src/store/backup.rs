//! Backups: a consistent snapshot of the store as one self-checking file (`write_snapshot`), and
//! its restore into an empty data directory (`restore_snapshot`).
//!
//! The format: the line `oktamirror-backup 1\n`, then records, each a tag byte and
//! big-endian u32 length-prefixed fields: `T name` starts a tree, `R key value` is one entry of
//! it; at the end `E` with the u64 count of `R` records and the SHA-256 of every byte before
//! the digest. A file that ends early, has bytes after the digest or does not match its digest
//! is refused, so a truncated copy can never be restored as a smaller mirror.
//!
//! Consistency: every write to the trees a snapshot holds (`apply_batch`, meta writes,
//! change-log and event-id pruning) takes the store's writer lock shared, and a snapshot takes
//! it exclusively while it reads them, so it holds the state between two write transactions,
//! never part of one (the records, counters, change log and log position of a batch together).
//! The alternatives did not hold: sled 0.34's transactional trees cannot iterate, so no
//! transaction can read a whole tree; and copying then checking that meta `seq` did not move
//! misses meta-only writes (the log position, the sweep mark) and, under steady churn, may
//! retry forever. The price is that writers wait while a snapshot is read; readers (the API,
//! search) never do. A server therefore snapshots into a spool file on its own disk
//! (`spool_snapshot`) and streams it from there as it grows, so the pause lasts as long as a
//! local copy, never as long as a client's download. Staging trees (a crawl in flight) are left out:
//! a restored mirror's next crawl stages again.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use aws_lc_rs::digest;

use super::append::Append;
use super::{
    Result, SCHEMA_VERSION, Store, StoreError, T, TREE_NAMES, create_private_dir, keys, meta,
    sled_config,
};

/// The first line of every backup file: the format and its version.
pub const BACKUP_MAGIC: &[u8] = b"oktamirror-backup 1\n";
/// The audit log's tree: outside the write transactions, but part of a backup.
const AUDIT_TREE: &str = "audit";
/// Present in a data directory while a restore writes into it; `Store::open` refuses it.
const RESTORE_MARKER: &str = "RESTORE_INCOMPLETE";
/// Bounds on one field, so a corrupt length is refused before anything is allocated.
const MAX_NAME: usize = 256;
const MAX_KEY: usize = 1 << 20;
const MAX_VALUE: usize = 256 << 20;

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Trees in it.
    pub trees: u64,
    /// Entries (keys with their values) in it.
    pub records: u64,
    /// Its size in bytes, digest included.
    pub bytes: u64,
    /// The change-log sequence it holds (meta `seq`).
    pub seq: u64,
}

fn write_failed(e: io::Error) -> StoreError {
    StoreError::Backup(format!(
        "cannot write the backup: {e}. Check that the destination has space and is writable"
    ))
}

/// Refuses a data directory that a restore did not finish.
pub(super) fn refuse_unfinished_restore(dir: &Path) -> Result<()> {
    if dir.join(RESTORE_MARKER).exists() {
        return Err(StoreError::Backup(format!(
            "a restore into {} did not finish, so it holds part of a backup: empty the directory and run `oktamirror restore` again",
            dir.display()
        )));
    }
    Ok(())
}

impl Store {
    /// The trees a backup holds, with their names, in the order they are written.
    fn snapshot_trees(&self) -> Result<Vec<(&'static str, sled::Tree)>> {
        let mut trees: Vec<(&'static str, sled::Tree)> = TREE_NAMES
            .iter()
            .zip(&self.trees)
            .map(|(name, tree)| (*name, tree.clone()))
            .collect();
        trees.push((AUDIT_TREE, self.db.open_tree(AUDIT_TREE)?));
        Ok(trees)
    }

    /// Writes a consistent snapshot of the store to `w` (see the module comment for how it is
    /// consistent). Writers wait until every tree has been read.
    pub fn write_snapshot(&self, w: impl Write) -> Result<SnapshotSummary> {
        let mut out = Hashing::new(BufWriter::with_capacity(256 * 1024, w));
        let mut summary = SnapshotSummary::default();
        out.write_all(BACKUP_MAGIC).map_err(write_failed)?;
        {
            let _paused = self.writers.write().unwrap_or_else(PoisonError::into_inner);
            summary.seq = self.last_seq()?;
            for (name, tree) in self.snapshot_trees()? {
                out.write_all(b"T").map_err(write_failed)?;
                write_field(&mut out, name.as_bytes())?;
                summary.trees += 1;
                for kv in tree.iter() {
                    let (k, v) = kv?;
                    out.write_all(b"R").map_err(write_failed)?;
                    write_field(&mut out, &k)?;
                    write_field(&mut out, &v)?;
                    summary.records += 1;
                }
            }
        }
        out.write_all(b"E").map_err(write_failed)?;
        out.write_all(&summary.records.to_be_bytes())
            .map_err(write_failed)?;
        let sum = out.digest.clone().finish();
        let mut inner = out.inner;
        inner.write_all(sum.as_ref()).map_err(write_failed)?;
        inner.flush().map_err(write_failed)?;
        summary.bytes = out.bytes + sum.as_ref().len() as u64;
        Ok(summary)
    }

    /// Starts a snapshot into an anonymous spool file in the data directory (owner-only, gone
    /// when closed), written by its own thread, and returns its reader: a server streams the
    /// snapshot while it is written, at the client's pace, and a slow download never holds the
    /// writers (they wait only for the local copy).
    pub fn spool_snapshot(&self) -> Result<Spool> {
        let file = tempfile::tempfile_in(self.dir.as_path()).map_err(|e| {
            StoreError::Backup(format!(
                "cannot create a spool file for the backup in {}: {e}. Check the data directory's free space",
                self.dir.display()
            ))
        })?;
        let shared = Arc::new(SpoolShared {
            file: Mutex::new(file),
            state: Mutex::new(SpoolState::default()),
            grew: Condvar::new(),
        });
        let store = self.clone();
        let writer = SpoolWriter(shared.clone());
        let mut finish = Finish(shared.clone(), None);
        std::thread::Builder::new()
            .name("backup-spool".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                let result = store.write_snapshot(writer);
                if let Ok(s) = &result {
                    tracing::info!(
                        entries = s.records,
                        bytes = s.bytes,
                        seq = s.seq,
                        seconds = started.elapsed().as_secs_f64(),
                        "backup snapshot spooled (sync writes waited at most this long)"
                    );
                }
                finish.set(result.map_err(|e| e.to_string()));
            })
            .map_err(|e| StoreError::Backup(format!("cannot start the backup: {e}")))?;
        Ok(Spool { shared, at: 0 })
    }

    /// Reads a whole backup and checks it (format, lengths, digest) without writing anything.
    pub fn verify_snapshot(r: impl Read) -> Result<SnapshotSummary> {
        read_snapshot(r, |_, _, _| Ok(()))
    }

    /// Restores a backup into `dir`, which must be missing or empty. The directory is marked
    /// while the restore runs (`Store::open` refuses it until the restore finished); when the
    /// backup turns out truncated or corrupt, everything written is removed again. The
    /// restored store holds the log position it was backed up with: a server on it resumes the
    /// tail there, and its search index (not in the backup) rebuilds from the store.
    pub fn restore_snapshot(dir: &Path, r: impl Read) -> Result<SnapshotSummary> {
        let existed = dir.exists();
        if existed {
            let mut entries = std::fs::read_dir(dir).map_err(|e| {
                StoreError::Backup(format!(
                    "cannot read {}: {e}. Restore into an empty or new directory",
                    dir.display()
                ))
            })?;
            if entries.next().is_some() {
                return Err(StoreError::Backup(format!(
                    "{} is not empty: a restore only writes into an empty or new directory. Move its contents away (or choose another --data-dir) and run the restore again",
                    dir.display()
                )));
            }
        }
        let made = |e: io::Error| {
            StoreError::Backup(format!(
                "cannot write into {}: {e}. Check that it is writable and has space",
                dir.display()
            ))
        };
        create_private_dir(dir).map_err(made)?;
        let restored = File::create(dir.join(RESTORE_MARKER))
            .map_err(made)
            .and_then(|_| restore_into(dir, r));
        match restored {
            Ok(summary) => {
                std::fs::remove_file(dir.join(RESTORE_MARKER)).map_err(made)?;
                Ok(summary)
            }
            Err(e) => {
                // The directory was empty: what is in it now is this restore's.
                let cleanup = if existed {
                    std::fs::read_dir(dir).and_then(|entries| {
                        entries.into_iter().try_for_each(|entry| {
                            let path = entry?.path();
                            if path.is_dir() {
                                std::fs::remove_dir_all(path)
                            } else {
                                std::fs::remove_file(path)
                            }
                        })
                    })
                } else {
                    std::fs::remove_dir_all(dir)
                };
                if let Err(c) = cleanup {
                    tracing::warn!(dir = %dir.display(), error = %c, "could not remove a failed restore");
                }
                Err(e)
            }
        }
    }
}

/// Writes the backup's entries into a new sled database in `dir` and checks its schema.
fn restore_into(dir: &Path, r: impl Read) -> Result<SnapshotSummary> {
    let db = sled_config(dir, &super::StoreOptions::default())
        .open()
        .map_err(|source| StoreError::Open {
            path: dir.display().to_string(),
            source,
        })?;
    db.set_leaf_split(super::LEAF_ENTRIES);
    // Tree after tree in the backup's key order, a leaf page at a time, as the initial load
    // writes (`append.rs`). Not a `sled::Batch`: one keeps every node copy its inserts make
    // until it is applied, which took a restore of 200,000 people to 14 GB. Nothing is lost by
    // giving up the batches' atomicity: until the marker is removed a store refuses to open,
    // and a failed restore is removed.
    let mut tree: Option<(String, Append)> = None;
    let summary = read_snapshot(r, |name, k, v| {
        if tree.as_ref().is_none_or(|(n, _)| n != name) {
            if let Some((_, done)) = tree.take() {
                done.finish()?;
            }
            tree = Some((name.to_owned(), Append::new(&db.open_tree(name)?)?));
        }
        if let Some((_, t)) = &mut tree {
            t.push(&k, &v)?;
        }
        Ok(())
    })?;
    if let Some((_, done)) = tree {
        done.finish()?;
    }
    let meta = db.open_tree(TREE_NAMES[T::Meta as usize])?;
    match meta.get(meta::SCHEMA)?.map(|v| keys::read_u64(&v)) {
        None => {
            return Err(StoreError::Backup(
                "the backup holds no store schema version, so it is not a mirror's backup; take a new backup with `oktamirror backup`".into(),
            ));
        }
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::TooNew {
                found: v,
                expected: SCHEMA_VERSION,
            });
        }
        Some(_) => {}
    }
    db.flush()?;
    // sled's snapshot, written while the user waits for the restore anyway, so that the first
    // start on the restored store does not replay all of it.
    db.checkpoint(0)?;
    Ok(summary)
}

/// A snapshot being written into a spool file, read while it grows: `read` waits for bytes
/// the snapshot has not written yet, ends where the snapshot ended, and fails if it failed.
pub struct Spool {
    shared: Arc<SpoolShared>,
    at: u64,
}

struct SpoolShared {
    /// One handle for both sides (so no platform-specific positioned reads): each side seeks
    /// to where it is before it reads or writes; writes come in 256 KiB buffers.
    file: Mutex<File>,
    state: Mutex<SpoolState>,
    grew: Condvar,
}

#[derive(Default)]
struct SpoolState {
    written: u64,
    /// Set once the snapshot ended: what it held, or why it failed.
    end: Option<std::result::Result<SnapshotSummary, String>>,
}

fn locked<V>(m: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    // Both sides keep their state consistent at every step: a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Spool {
    /// What the snapshot held, once it is complete.
    pub fn summary(&self) -> Option<SnapshotSummary> {
        match &locked(&self.shared.state).end {
            Some(Ok(s)) => Some(*s),
            _ => None,
        }
    }
}

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = {
            let mut st = locked(&self.shared.state);
            loop {
                if self.at < st.written {
                    break st.written - self.at;
                }
                match &st.end {
                    Some(Ok(_)) => return Ok(0),
                    Some(Err(e)) => return Err(io::Error::other(e.clone())),
                    None => {
                        st = self
                            .shared
                            .grew
                            .wait(st)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
            }
        };
        let want = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let mut file = locked(&self.shared.file);
        file.seek(io::SeekFrom::Start(self.at))?;
        let n = file.read(&mut buf[..want])?;
        self.at += n as u64;
        Ok(n)
    }
}

/// The snapshot's side of a spool: appends, and wakes the reader.
struct SpoolWriter(Arc<SpoolShared>);

impl Write for SpoolWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = {
            let mut file = locked(&self.0.file);
            file.seek(io::SeekFrom::End(0))?;
            file.write(buf)?
        };
        locked(&self.0.state).written += n as u64;
        self.0.grew.notify_all();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Ends a spool when the snapshot's thread ends, also by a panic (then as failed), so the
/// reader never waits for a snapshot that stopped.
struct Finish(
    Arc<SpoolShared>,
    Option<std::result::Result<SnapshotSummary, String>>,
);

impl Finish {
    fn set(&mut self, end: std::result::Result<SnapshotSummary, String>) {
        self.1 = Some(end);
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let end = self
            .1
            .take()
            .unwrap_or_else(|| Err("the backup stopped unexpectedly; see the server's log".into()));
        locked(&self.0.state).end = Some(end);
        self.0.grew.notify_all();
    }
}

fn write_field(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| {
        StoreError::Backup("a stored entry exceeds 4 GiB and cannot be backed up".into())
    })?;
    out.write_all(&len.to_be_bytes()).map_err(write_failed)?;
    out.write_all(bytes).map_err(write_failed)
}

/// Parses a backup, handing each entry to `sink` (tree name, key, value), and checks its end:
/// the record count, the digest, nothing after it.
fn read_snapshot(
    r: impl Read,
    mut sink: impl FnMut(&str, Vec<u8>, Vec<u8>) -> Result<()>,
) -> Result<SnapshotSummary> {
    let mut inp = Hashing::new(BufReader::with_capacity(256 * 1024, r));
    let mut summary = SnapshotSummary::default();
    let mut magic = vec![0u8; BACKUP_MAGIC.len()];
    read_exact(&mut inp, &mut magic, &summary)?;
    if magic != BACKUP_MAGIC {
        return Err(StoreError::Backup(
            if magic.starts_with(b"oktamirror-backup ") {
                "the backup was written in a newer format than this oktamirror reads: restore it with a newer oktamirror".into()
            } else {
                "this file is not an oktamirror backup (it does not start with `oktamirror-backup`): check --from".into()
            },
        ));
    }
    let mut tree: Option<String> = None;
    loop {
        let mut tag = [0u8; 1];
        read_exact(&mut inp, &mut tag, &summary)?;
        match tag[0] {
            b'T' => {
                let name = read_field(&mut inp, MAX_NAME, &summary)?;
                let name = String::from_utf8(name).map_err(|_| corrupt(&summary))?;
                if !TREE_NAMES.contains(&name.as_str()) && name != AUDIT_TREE {
                    return Err(StoreError::Backup(format!(
                        "the backup holds a tree this oktamirror does not know (\"{name}\"): it was written by a newer version; restore it with that version"
                    )));
                }
                summary.trees += 1;
                tree = Some(name);
            }
            b'R' => {
                let Some(name) = tree.as_deref() else {
                    return Err(corrupt(&summary));
                };
                let k = read_field(&mut inp, MAX_KEY, &summary)?;
                let v = read_field(&mut inp, MAX_VALUE, &summary)?;
                if name == TREE_NAMES[T::Meta as usize] && k == meta::SEQ.as_bytes() {
                    summary.seq = keys::read_u64(&v);
                }
                sink(name, k, v)?;
                summary.records += 1;
            }
            b'E' => {
                let mut count = [0u8; 8];
                read_exact(&mut inp, &mut count, &summary)?;
                let expected = inp.digest.clone().finish();
                let mut stored = [0u8; 32];
                let mut inner = inp.inner;
                inner
                    .read_exact(&mut stored)
                    .map_err(|e| read_failed(e, &summary))?;
                if stored.as_slice() != expected.as_ref() {
                    return Err(StoreError::Backup(
                        "the backup does not match its checksum: the file is corrupt. Take a new backup (or use another copy)".into(),
                    ));
                }
                if u64::from_be_bytes(count) != summary.records {
                    return Err(corrupt(&summary));
                }
                let mut rest = [0u8; 1];
                if inner
                    .read(&mut rest)
                    .map_err(|e| read_failed(e, &summary))?
                    != 0
                {
                    return Err(StoreError::Backup(
                        "the backup has bytes after its end: the file is corrupt. Take a new backup (or use another copy)".into(),
                    ));
                }
                summary.bytes = inp.bytes + 32;
                return Ok(summary);
            }
            _ => return Err(corrupt(&summary)),
        }
    }
}

fn corrupt(summary: &SnapshotSummary) -> StoreError {
    StoreError::Backup(format!(
        "the backup is corrupt after {} entries: take a new backup (or use another copy)",
        summary.records
    ))
}

fn read_failed(e: io::Error, summary: &SnapshotSummary) -> StoreError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        StoreError::Backup(format!(
            "the backup ends early (after {} entries): it is truncated. Copy it again or take a new backup",
            summary.records
        ))
    } else {
        StoreError::Backup(format!("cannot read the backup: {e}"))
    }
}

fn read_exact(inp: &mut impl Read, buf: &mut [u8], summary: &SnapshotSummary) -> Result<()> {
    inp.read_exact(buf).map_err(|e| read_failed(e, summary))
}

fn read_field(inp: &mut impl Read, max: usize, summary: &SnapshotSummary) -> Result<Vec<u8>> {
    let mut len = [0u8; 4];
    read_exact(inp, &mut len, summary)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(corrupt(summary));
    }
    let mut buf = vec![0u8; len];
    read_exact(inp, &mut buf, summary)?;
    Ok(buf)
}

/// A reader or writer that hashes (SHA-256) and counts every byte passing through it.
struct Hashing<I> {
    inner: I,
    digest: digest::Context,
    bytes: u64,
}

impl<I> Hashing<I> {
    fn new(inner: I) -> Self {
        Hashing {
            inner,
            digest: digest::Context::new(&digest::SHA256),
            bytes: 0,
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
