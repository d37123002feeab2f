//! The mirror's only database: sled trees for people, groups, memberships, indexes, the change
//! log and sync metadata. Every sled call in the program lives under this module.

mod append;
mod audit;
mod backup;
mod counts;
mod keys;
mod load;
mod read;
mod runs;
mod stage;
pub use stage::StagedUser;
mod write;

pub use backup::{BACKUP_MAGIC, SnapshotSummary, Spool};
pub use counts::Attr;
pub use load::{Contents, Everyone, InitialLoad, MemberLoad, PeopleLoad, RawLoad, Sides};
pub use read::{PersonFilter, RawProfile};
pub use write::{Applied, Batch, Op, RUNS_KEPT, RawJson};

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use serde::{Serialize, de::DeserializeOwned};

/// The store's on-disk layout version. Bump it with a migration (or a clear "re-sync needed").
/// 2 added `idx_department` and `department_counts`; 3 added `idx_attr`, `counts`, `manager_of`
/// and `report_counts` (see `counts.rs`); 4 added `status_of` and `group_status_counts`. Each is
/// built from `people` (and `members`) when an older store opens.
pub const SCHEMA_VERSION: u64 = 4;

/// Why the store could not be opened, read or written. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled could not open the data directory (missing, not writable, or in use).
    #[error(
        "cannot open the data directory {path}: {source}. Check that the path exists and is writable, and that no other oktamirror process uses it"
    )]
    Open {
        /// The data directory.
        path: String,
        /// sled's error.
        source: sled::Error,
    },
    /// Another process (or a store in this process that is still closing) holds the directory.
    #[error(
        "the data directory {path} is in use by another oktamirror process; stop it (or point --data-dir elsewhere) and try again"
    )]
    InUse {
        /// The data directory.
        path: String,
    },
    /// The store's schema version is newer than this build reads.
    #[error(
        "the data directory was written by a newer oktamirror (store schema {found}, this build reads {expected}); upgrade oktamirror or point --data-dir at a new directory"
    )]
    TooNew {
        /// The version on disk.
        found: u64,
        /// `SCHEMA_VERSION` of this build.
        expected: u64,
    },
    /// sled failed on a read or write (I/O, or a transaction's storage error).
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A backup could not be written, read or restored; the text says why and what to do.
    #[error("{0}")]
    Backup(String),
    /// A record would not decode (or encode); the text says which.
    #[error("a stored record is corrupt ({0}); remove the data directory and run a full sync")]
    Corrupt(String),
    /// A rule of the store's API broken by its caller, or one of its limits passed: a bug in
    /// oktamirror, not damage to the data directory (which `Corrupt` would have the user
    /// remove). The text says which.
    #[error(
        "internal error in oktamirror ({0}); the data directory is not damaged, please report this"
    )]
    Internal(String),
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// The store's result: `StoreError` unless said otherwise.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Tree indexes into `Store::txn_trees`, the trees every write transaction touches.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum T {
    People = 0,
    RawUsers,
    IdxLogin,
    IdxEmail,
    IdxEmpNo,
    Reports,
    Groups,
    RawGroups,
    IdxGroupName,
    Members,
    MemberOf,
    GroupCounts,
    Changes,
    Meta,
    Runs,
    Events,
    IdxDepartment,
    DepartmentCounts,
    IdxAttr,
    Counts,
    ManagerOf,
    ReportCounts,
    StatusOf,
    GroupStatusCounts,
}

const TREE_NAMES: [&str; 24] = [
    "people",
    "raw_users",
    "idx_login",
    "idx_email",
    "idx_employee_number",
    "reports",
    "groups",
    "raw_groups",
    "idx_group_name",
    "members",
    "member_of",
    "group_counts",
    "changes",
    "meta",
    "runs",
    "events_seen",
    "idx_department",
    "department_counts",
    "idx_attr",
    "counts",
    "manager_of",
    "report_counts",
    "status_of",
    "group_status_counts",
];

/// Handle to the store; cheap to clone (sled trees are reference-counted).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The data directory (backups spool there: same disk, owner-only).
    dir: Arc<PathBuf>,
    /// Every write to the trees a backup holds takes this shared; a backup takes it exclusively
    /// while it reads them (see `backup.rs`).
    writers: Arc<RwLock<()>>,
    trees: Vec<sled::Tree>,
    /// The crawl's staging database (`stage.rs`).
    staging: stage::Staging,
    /// Bumped after every committed batch: followers of the change log (the change-feed
    /// subscription, webhooks) wait on it instead of polling.
    written: Arc<tokio::sync::watch::Sender<u64>>,
    /// Whether a crawl into an empty store may take the initial-load path (`load.rs`).
    initial_load_allowed: Arc<std::sync::atomic::AtomicBool>,
    /// Whether `open` found an interrupted initial load and emptied the store.
    recovered_initial_load: bool,
}

/// One tree's contents in numbers (`Store::footprint`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeFootprint {
    /// The tree's name.
    pub name: &'static str,
    /// Entries it holds.
    pub entries: u64,
    /// Bytes of their keys.
    pub key_bytes: u64,
    /// Bytes of their values.
    pub value_bytes: u64,
}

/// Meta keys.
pub mod meta {
    /// The latest completed-or-failed full sync (`model::SyncRun`).
    pub const LAST_FULL_SYNC: &str = "last_full_sync";
    /// The latest successful full sync (`model::SyncRun`); its presence means the mirror is ready.
    pub const LAST_GOOD_FULL_SYNC: &str = "last_good_full_sync";
    /// Manager resolution warnings of the latest full sync (`model::ManagerReport`).
    pub const MANAGER_REPORT: &str = "manager_report";
    /// The store's on-disk layout version (big-endian u64), set when the store is created.
    pub const SCHEMA: &str = "schema_version";
    /// The newest change-log sequence number (big-endian u64).
    pub const SEQ: &str = "seq";
    /// How many people the mirror holds, every status (big-endian u64).
    pub const PEOPLE: &str = "count_people";
    /// How many groups the mirror holds (big-endian u64).
    pub const GROUPS: &str = "count_groups";
    /// How many memberships (group, user pairs) the mirror holds (big-endian u64).
    pub const MEMBERSHIPS: &str = "count_memberships";
    /// The full `next` URL of the System Log polling query: where the tail resumes. Written in
    /// the same transaction as the changes its events produced.
    pub const LOG_CURSOR: &str = "log_cursor";
    /// Watermark of the delta sweeps (`model::SweepMark`).
    pub const SWEEP_MARK: &str = "sweep_mark";
    /// Id of the newest recorded run.
    pub const RUN_SEQ: &str = "run_seq";
    /// When the tail last found nothing new in the log: the mirror held everything up to then.
    pub const TAIL_CAUGHT_UP: &str = "tail_caught_up";
    /// Where the store's people and groups come from (`"okta"` or `"scim"`), set when a mirror
    /// first uses it: the two never mix in one data directory.
    pub const SOURCE: &str = "source";
    /// When a sync step last read Okta successfully (`DateTime<Utc>`): staleness counts from it.
    pub const LAST_CONTACT: &str = "last_contact";
    /// Why the latest sync step failed (`Option<String>`); null once a step succeeds again.
    pub const SYNC_PROBLEM: &str = "sync_problem";
    /// The attribute mapping the stored people were derived with (`String`: its
    /// fingerprint, empty for the default); absent in stores from before mappings existed.
    pub const ATTRIBUTE_MAP: &str = "attribute_map";
    /// The scope (`sync::Scope`) the mirror's content was last crawled under: a change is
    /// detected against it, and removals it causes are held until confirmed.
    pub const SCOPE: &str = "scope";
    /// Okta's user types (`Vec<model::UserType>`), read by the sync engine.
    pub const USER_TYPES: &str = "user_types";
    /// Set (durably) while an initial load writes into the empty store, cleared in the
    /// transaction that logs it: a store opened with it set is emptied (see `load.rs`).
    pub const INITIAL_LOAD: &str = "initial_load";
    /// The change-log sequence of the newest initial load (big-endian u64).
    pub const INITIAL_LOAD_SEQ: &str = "initial_load_seq";
}

impl Store {
    /// Opens (or creates) the store in `dir`, checking the schema version.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, &StoreOptions::default())
    }

    /// [`Store::open`] with `options` (the page cache's size).
    pub fn open_with(dir: &Path, options: &StoreOptions) -> Result<Store> {
        create_private_dir(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            source: sled::Error::Io(e),
        })?;
        backup::refuse_unfinished_restore(dir)?;
        let db = open_sled(dir, options)?;
        let trees = TREE_NAMES
            .iter()
            .map(|n| db.open_tree(n))
            .collect::<Result<Vec<_>, _>>()?;
        // Staging trees of stores written before staging had a database of its own (empty
        // unless a crawl was cut short).
        for old in ["stage_users", "stage_groups", "stage_members"] {
            db.drop_tree(old)?;
        }
        let mut store = Store {
            staging: stage::Staging::new(dir)?,
            db,
            dir: Arc::new(dir.to_path_buf()),
            writers: Arc::new(RwLock::new(())),
            written: Arc::new(tokio::sync::watch::channel(0).0),
            initial_load_allowed: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            recovered_initial_load: false,
            trees,
        };
        match store.meta_u64(meta::SCHEMA)? {
            None => {
                store
                    .tree(T::Meta)
                    .insert(meta::SCHEMA, &keys::u64_be(SCHEMA_VERSION))?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    found: v,
                    expected: SCHEMA_VERSION,
                });
            }
            Some(v) => {
                if v < 2 {
                    store.build_department_index()?;
                }
                if v < 3 {
                    store.build_counts()?;
                }
                if v < 4 {
                    store.build_group_status_counts()?;
                }
                if v < SCHEMA_VERSION {
                    store
                        .tree(T::Meta)
                        .insert(meta::SCHEMA, &keys::u64_be(SCHEMA_VERSION))?;
                }
            }
        }
        // A crash during an initial load: the store held nothing before it.
        store.recovered_initial_load = store.recover_initial_load()?;
        // A crash between a batch that met a manager cycle and the rebuild after it.
        store.settle_report_counts()?;
        Ok(store)
    }

    /// Migration 1 → 2: fills `idx_department` and `department_counts` from `people` (a store
    /// written before the index existed). Runs before anything else reads or writes the store.
    fn build_department_index(&self) -> Result<()> {
        let idx = self.tree(T::IdxDepartment);
        let counts = self.tree(T::DepartmentCounts);
        idx.clear()?;
        counts.clear()?;
        let mut n: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::new();
        for p in self.people_after(None) {
            let p = p?;
            if let Some(d) = &p.department {
                let d = keys::department(d);
                idx.insert(keys::pair(&d, &p.id), &[])?;
                for k in keys::department_count_keys(&d, p.status) {
                    *n.entry(k).or_default() += 1;
                }
            }
        }
        for (k, v) in n {
            counts.insert(k, &keys::u64_be(v))?;
        }
        Ok(())
    }

    /// The shared side of the writer lock: held by every write to the trees a backup copies,
    /// so that a backup (the exclusive side) never sees half of one. Never taken twice by one
    /// call (a waiting backup would deadlock it).
    /// A receiver that is marked changed after each committed batch (its value counts the
    /// batches since the store was opened; only the change matters). Waiting on it needs no
    /// polling; a batch may have changed nothing, so read the change log after a wake-up.
    pub fn written(&self) -> tokio::sync::watch::Receiver<u64> {
        self.written.subscribe()
    }

    /// Wakes whoever waits on `written`.
    fn wrote(&self) {
        self.written.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn writing(&self) -> RwLockReadGuard<'_, ()> {
        // The lock guards no data (`()`): a panic while holding it leaves nothing to repair.
        self.writers.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn tree(&self, t: T) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// Records `source` as where this store's data comes from, unless another source already
    /// fed it: then that source is returned (a store with data but no record is an Okta mirror
    /// from before the record existed).
    pub fn claim_source(&self, source: &str) -> Result<Option<String>> {
        let recorded: Option<String> = self.meta_json(meta::SOURCE)?;
        let recorded = match recorded {
            Some(r) => r,
            None if self.people_count()? > 0
                || self.group_count()? > 0
                || self.last_full_sync()?.is_some() =>
            {
                "okta".to_owned()
            }
            None => source.to_owned(),
        };
        if recorded != source {
            return Ok(Some(recorded));
        }
        self.put_meta_json(meta::SOURCE, &recorded)?;
        Ok(None)
    }

    /// Waits until everything written so far is durable on disk.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Writes sled's snapshot of its log (where each page is) when the log has grown by
    /// `min_bytes` or more since the last one, so that the next open replays only what comes
    /// after it. sled 0.34 itself writes one only when a database opens, so a store that a
    /// running `serve` loaded (or churned for weeks) replayed all of it on the next start: 35 s
    /// at a million people. Costs one read of the log written since the last snapshot, on the
    /// calling thread; reads and writes go on meanwhile. Returns the log offset the next open
    /// replays from, when a snapshot was written.
    pub fn checkpoint(&self, min_bytes: u64) -> Result<Option<u64>> {
        Ok(self
            .db
            .checkpoint(min_bytes)?
            .and_then(|at| u64::try_from(at).ok()))
    }

    fn meta_u64(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.tree(T::Meta).get(key)?.map(|v| keys::read_u64(&v)))
    }

    /// Reads a JSON value kept in `meta` (sync summaries, warnings, cursors).
    pub fn meta_json<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>> {
        match self.tree(T::Meta).get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("meta {key}: {e}"))),
        }
    }

    /// Writes a JSON value into `meta` outside any batch (for state that is not a change).
    pub fn put_meta_json<V: Serialize>(&self, key: &str, value: &V) -> Result<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| StoreError::Internal(format!("encoding meta {key}: {e}")))?;
        let _writing = self.writing();
        self.tree(T::Meta).insert(key, bytes)?;
        Ok(())
    }

    /// The sequence number of the newest change-log entry (0 when empty).
    pub fn last_seq(&self) -> Result<u64> {
        Ok(self.meta_u64(meta::SEQ)?.unwrap_or(0))
    }

    /// What each tree holds: entries and the bytes of their keys and values, as stored (before
    /// sled's own per-entry and log overhead). For finding where the disk goes; reads every
    /// entry, so it is a tool's call, never a request's.
    pub fn footprint(&self) -> Result<Vec<TreeFootprint>> {
        let staging = self.staging.trees().into_iter().flatten();
        TREE_NAMES
            .iter()
            .copied()
            .zip(self.trees.iter().cloned())
            .chain(staging)
            .map(|(name, tree)| {
                let mut f = TreeFootprint {
                    name,
                    ..TreeFootprint::default()
                };
                for kv in tree.iter() {
                    let (k, v) = kv?;
                    f.entries += 1;
                    f.key_bytes += k.len() as u64;
                    f.value_bytes += v.len() as u64;
                }
                Ok(f)
            })
            .collect()
    }

    /// Bytes the store takes on disk (sled's own figure: its log and snapshot files), with the
    /// staging database of a crawl in progress.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()? + self.staging.size_on_disk()?)
    }

    /// Prunes the oldest change-log entries: those applied before `older_than`, and beyond the
    /// newest `max_entries`, but never one after `floor` (the sequence the search index has
    /// read: it must not lose entries it still needs). Entries go oldest first, so what stays is
    /// still a gap-free run ending at the newest. Returns how many were removed. Removal is in
    /// batches, each durable on its own: a crash between them leaves a shorter, valid log.
    pub fn prune_changes(
        &self,
        older_than: chrono::DateTime<chrono::Utc>,
        max_entries: u64,
        floor: u64,
    ) -> Result<u64> {
        const BATCH: usize = 10_000;
        let _writing = self.writing();
        let changes = self.tree(T::Changes);
        let last = self.last_seq()?;
        // Entries up to `by_count` must go to keep at most `max_entries`.
        let by_count = last.saturating_sub(max_entries);
        let mut removed = 0;
        loop {
            let mut batch = sled::Batch::default();
            let mut n = 0;
            let mut done = true;
            for kv in changes.iter() {
                let (k, v) = kv?;
                let seq = keys::read_u64(&k);
                if seq > floor {
                    break;
                }
                let old_enough = seq <= by_count || {
                    let c: crate::model::Change = decode("change", &v)?;
                    c.at < older_than
                };
                if !old_enough {
                    break;
                }
                batch.remove(k);
                n += 1;
                if n == BATCH {
                    done = false;
                    break;
                }
            }
            if n == 0 {
                break;
            }
            changes.apply_batch(batch)?;
            removed += n as u64;
            if done {
                break;
            }
        }
        Ok(removed)
    }

    /// The oldest sequence number the change log still holds (`None` when it is empty).
    pub fn first_seq(&self) -> Result<Option<u64>> {
        Ok(self
            .tree(T::Changes)
            .first()?
            .map(|(k, _)| keys::read_u64(&k)))
    }

    /// Entries the change log holds now: its last sequence less its first, plus one (sequences
    /// are dense; reading the two ends costs two lookups, not a count of every entry).
    pub fn change_log_entries(&self) -> Result<u64> {
        let last = self.tree(T::Changes).last()?;
        match (self.first_seq()?, last) {
            (Some(first), Some((last, _))) => Ok(keys::read_u64(&last).saturating_sub(first) + 1),
            _ => Ok(0),
        }
    }

    /// Number of people (all statuses) in the mirror.
    pub fn people_count(&self) -> Result<u64> {
        Ok(self.meta_u64(meta::PEOPLE)?.unwrap_or(0))
    }

    /// Number of groups in the mirror.
    pub fn group_count(&self) -> Result<u64> {
        Ok(self.meta_u64(meta::GROUPS)?.unwrap_or(0))
    }

    /// Number of (group, member) pairs in the mirror.
    pub fn membership_count(&self) -> Result<u64> {
        Ok(self.meta_u64(meta::MEMBERSHIPS)?.unwrap_or(0))
    }

    /// The latest full sync run, successful or not.
    pub fn last_full_sync(&self) -> Result<Option<crate::model::SyncRun>> {
        self.meta_json(meta::LAST_FULL_SYNC)
    }

    /// The latest successful full sync: the mirror is ready (serves complete data) once one exists.
    pub fn last_good_full_sync(&self) -> Result<Option<crate::model::SyncRun>> {
        self.meta_json(meta::LAST_GOOD_FULL_SYNC)
    }

    /// Manager resolution warnings from the latest successful full sync.
    pub fn manager_report(&self) -> Result<crate::model::ManagerReport> {
        Ok(self.meta_json(meta::MANAGER_REPORT)?.unwrap_or_default())
    }
}

/// Creates `dir` (and its parents) if missing: the mirror holds the org's people, so a
/// directory we create is the owner's alone (what sled then creates inside inherits that). An
/// existing one is left as it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut create = std::fs::DirBuilder::new();
    create.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut create, 0o700);
    create.create(dir)
}

/// How long `open` waits for a directory whose lock is held. sled releases its file lock only
/// when the last of its background I/O tasks lets go, a moment after the store is dropped, so
/// an in-process reopen (a restart, a restore, a test) can find it briefly still held; another
/// live process holds it for good and gets `InUse` once this has passed.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Entries a leaf page of the store's trees holds before it splits (sled 0.34: 16, set through
/// the vendored sled's `Db::set_leaf_split`, vendor/README.md). sled keeps an entry in its page
/// table and the list of the page's places in its log in memory for every page while the store
/// is open, rebuilds them from the log at every open, and compresses each page on its own; a
/// load in key order leaves its leaves half full. At a million people, 64 instead of 16: the
/// store on disk 3.9 -> 1.6 GB, a restarted `serve` 1,073 -> 351 MiB (benches/README.md, "sled's
/// leaf size").
const LEAF_ENTRIES: usize = 64;

/// Opens sled in `dir`, waiting up to `LOCK_WAIT` for a held lock to be released.
fn open_sled(dir: &Path, options: &StoreOptions) -> Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled_config(dir, options).open() {
            Ok(db) => {
                db.set_leaf_split(LEAF_ENTRIES);
                return Ok(db);
            }
            Err(e) if is_lock_held(&e) => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::InUse {
                        path: dir.display().to_string(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(source) => {
                return Err(StoreError::Open {
                    path: dir.display().to_string(),
                    source,
                });
            }
        }
    }
}

/// Whether sled refused to open because another holder has the directory's file lock (sled
/// 0.34 reports it as an `Other` I/O error carrying the `WouldBlock` of the lock call).
fn is_lock_held(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// How a store is opened (`Settings::store`; `store_cache_mb` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// sled's page cache, in bytes of the decoded pages it holds (the vendored sled charges
    /// what a page takes in memory; upstream charged its compressed size in the log, several
    /// times less). Past it, a read of a page not cached reads it from the log and
    /// decompresses it.
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// The page cache's default, 64 MiB: SCIM pages over 100,000 people meet their p99 targets with
/// it (benches/README.md, "SCIM reads"), and a first sync of a million people peaks at 1.2 GiB
/// with it ("sled's cache, charged what it holds").
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

/// sled's settings for the store, the same for opening and for restoring a backup.
///
/// Pages are compressed with zstd (sled's `use_compression`): the store is JSON, and sled's log
/// keeps each page's superseded copies until their segment is cleaned, so compression cuts
/// every one of them. sled refuses to open a store with another compression setting than the
/// one it was created with, so a store created before compression was turned on keeps running
/// uncompressed; `oktamirror backup` then `restore` rewrites it compressed.
fn sled_config(dir: &Path, options: &StoreOptions) -> sled::Config {
    let compress = created_compressed(dir).unwrap_or(true);
    sled::Config::new()
        .path(dir)
        .cache_capacity(options.cache_bytes)
        .flush_every_ms(Some(200))
        .use_compression(compress)
        .compression_factor(COMPRESSION_LEVEL)
}

/// zstd's level for sled's pages: level 1 costs the least CPU on the sync's write path and
/// already takes most of what JSON gives up (benches/README.md, "Disk per person").
const COMPRESSION_LEVEL: i32 = 1;

/// Whether the store in `dir` was created with compressed pages, from the settings sled keeps
/// in `dir/conf` (`use_compression: true|false`); `None` for a new store (or one whose
/// settings file cannot be read: sled then decides, and says what it found).
fn created_compressed(dir: &Path) -> Option<bool> {
    let conf = std::fs::read(dir.join("conf")).ok()?;
    String::from_utf8_lossy(&conf)
        .lines()
        .find_map(|l| l.strip_prefix("use_compression: "))
        .and_then(|v| v.trim().parse().ok())
}

fn decode<V: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn id_of(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt("non-UTF-8 id".into()))
}

#[cfg(test)]
pub(crate) mod tests;
