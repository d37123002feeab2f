//! The initial load: a crawl applied to an empty store writes each key once, in key order and a
//! leaf page at a time (`append.rs`), without the compare-before-write and the change-log entry
//! per record of `Store::apply`, and ends with one `Entity::InitialLoad` change-log entry that
//! tells every follower of the log to read the store again.
//!
//! Whether a load may take this path is decided here, once, by `Store::begin_initial_load`:
//! only when every tree a crawl writes is empty (a first sync, or a sync after a restore of an
//! empty store). Crash safety: the load marks the store (`meta::INITIAL_LOAD`, made durable
//! before anything else is written) and clears the mark only after everything it wrote is
//! durable, in the transaction that logs the load. A store opened with the mark still set held
//! nothing before the load, so it is emptied again (`recover_initial_load`, which drops and
//! makes again the trees) and the next crawl starts over. A load cancelled because the mirror
//! stops leaves its mark for that; one that fails in-process empties the trees key by key
//! (`abandon`: other handles to them are alive, so they cannot be dropped).
//!
//! The counts (`counts.rs`) are gathered in memory and written at the end, with the same keys
//! and values the transactions of the normal path leave.

use std::collections::HashMap;
use std::sync::Arc;

use super::append::{Append, Appends};
use super::counts::{Tally, group_status_key};
use super::runs::Runs;
use super::{Result, Store, StoreError, T, keys, meta};
use crate::model::{Change, ChangeOp, Entity, Group, Keep, Person, Positions, UserStatus};

/// The trees an initial load writes: all empty for a load to begin, all emptied again when one
/// is abandoned. Everything but the change log, the meta tree, the run history and the handled
/// event ids.
pub(super) const LOADED: [T; 20] = [
    T::People,
    T::RawUsers,
    T::IdxLogin,
    T::IdxEmail,
    T::IdxEmpNo,
    T::Reports,
    T::Groups,
    T::RawGroups,
    T::IdxGroupName,
    T::Members,
    T::MemberOf,
    T::GroupCounts,
    T::IdxDepartment,
    T::DepartmentCounts,
    T::IdxAttr,
    T::Counts,
    T::ManagerOf,
    T::ReportCounts,
    T::StatusOf,
    T::GroupStatusCounts,
];

/// Every tree's entries (key, value) by tree name: `Store::contents`.
pub type Contents = std::collections::BTreeMap<&'static str, Vec<(Vec<u8>, Vec<u8>)>>;

/// An initial load in progress (see the module comment). Write through its three [`Sides`],
/// then [`InitialLoad::finish`]; or [`InitialLoad::abandon`] it.
pub struct InitialLoad {
    store: Store,
}

/// The writers of an initial load, one per set of trees, so that each may run on a thread of
/// its own (sled's writes into different trees run side by side): people and groups, the
/// people's raw JSON, memberships.
pub struct Sides {
    /// People's records, their indexes and counts; groups.
    pub people: PeopleLoad,
    /// Okta's JSON of each person: `raw_users`, the largest tree, whose pages' compression is
    /// the largest part of writing the people.
    pub raw: RawLoad,
    /// `members` and `member_of`.
    pub members: MemberLoad,
}

/// The people and groups side of an initial load.
pub struct PeopleLoad {
    store: Store,
    tally: Tally,
    /// The people's index entries, written at the end in key order (`runs.rs`): the attribute
    /// index in one set of runs, the others in another, so that the two are written by two
    /// threads at once (each about half of the entries; sled's inserts into different trees
    /// run side by side).
    indexes: Runs,
    attrs: Runs,
    /// Everyone being loaded, in id order (shared with the membership side).
    ids: Arc<Everyone>,
    /// The trees written in key order as the people and groups come (`append.rs`).
    written: Appends,
    people: u64,
    groups: u64,
}

/// The people's raw JSON in an initial load, written in id order. Dropped unfinished (a failed
/// or cancelled load), it leaves what it wrote for `abandon`, or the next open, to empty.
pub struct RawLoad {
    store: Store,
    written: Append,
}

impl RawLoad {
    /// Writes Okta's JSON of the person `id` (after the previous one in id order).
    pub fn push(&mut self, id: &str, raw: &[u8]) -> Result<()> {
        let _writing = self.store.writing();
        self.written.push(id.as_bytes(), raw)
    }
}

/// The membership side of an initial load.
///
/// `members` (group, user) arrives in key order, group after group, and is written as it
/// comes; `member_of` (user, group) would be written at random places of a tree far larger
/// than sled's cache (each insert reading, decoding and rewriting a leaf), so its pairs are
/// kept as two 4-byte positions (8 bytes a membership) and written at the end in key order.
pub struct MemberLoad {
    store: Store,
    /// Everyone being loaded with their status, in id order: a person's position is their
    /// number in `pairs`.
    people: Arc<Everyone>,
    /// The groups seen so far, in the order they came (id order).
    groups: Vec<String>,
    /// (person, group) positions of the `member_of` entries still to write.
    pairs: Vec<(u32, u32)>,
    /// `members` and then `member_of`, written in key order (`append.rs`).
    written: Appends,
    group_counts: HashMap<String, u64>,
    group_status: HashMap<Vec<u8>, u64>,
    memberships: u64,
}

impl Store {
    /// Starts an initial load when every tree a crawl writes is empty, marking the store
    /// first (durably); `None` when the store holds anything, or when the fast path is off
    /// (`set_initial_load`). A mark left by an earlier load in this process is cleared first.
    pub fn begin_initial_load(&self) -> Result<Option<InitialLoad>> {
        if !self
            .initial_load_allowed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(None);
        }
        let _writing = self.writing();
        if self.tree(T::Meta).contains_key(meta::INITIAL_LOAD)? {
            self.empty_loaded_trees()?;
        }
        for t in LOADED {
            if !self.tree(t).is_empty() {
                return Ok(None);
            }
        }
        self.tree(T::Meta).insert(meta::INITIAL_LOAD, &[1])?;
        self.flush()?;
        Ok(Some(InitialLoad {
            store: self.clone(),
        }))
    }

    /// Whether an initial load's mark is set (a load is running, or one was interrupted and the
    /// store has not been opened since).
    pub fn initial_load_pending(&self) -> Result<bool> {
        Ok(self.tree(T::Meta).contains_key(meta::INITIAL_LOAD)?)
    }

    /// Whether this store, when it was opened, held an interrupted initial load (its mark was
    /// on disk) and was emptied.
    pub fn recovered_initial_load(&self) -> bool {
        self.recovered_initial_load
    }

    /// Turns the initial-load path on (the default) or off. Off, a first sync goes through
    /// `apply` like any other: for comparing the two paths in tests and benches.
    pub fn set_initial_load(&self, on: bool) {
        self.initial_load_allowed
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The sequence of the newest `InitialLoad` change-log entry (0: none). Followers that
    /// hold the store at an earlier sequence read it again from a scan.
    pub fn initial_load_seq(&self) -> Result<u64> {
        Ok(self.meta_u64(meta::INITIAL_LOAD_SEQ)?.unwrap_or(0))
    }

    /// At open: a store still marked was interrupted during an initial load. It held nothing
    /// before, so emptying it loses nothing; the next crawl loads again. Returns whether it
    /// was.
    ///
    /// The loaded trees are dropped and made again rather than emptied key by key: that frees
    /// their pages a page at a time, where removing every key took longer than the load (19 s
    /// at 300,000 people), and it leaves each tree as new, so the next load writes it a leaf
    /// at a time (`append.rs`). An emptied tree keeps its shape and would be loaded by plain
    /// inserts (41 s against 7 s at 300,000). Only `open` can do this: it holds the one handle
    /// to each tree.
    pub(super) fn recover_initial_load(&mut self) -> Result<bool> {
        if !self.tree(T::Meta).contains_key(meta::INITIAL_LOAD)? {
            return Ok(false);
        }
        tracing::warn!(
            "the data directory holds an interrupted first load: emptying it, the next sync loads everything again"
        );
        for t in LOADED {
            let name = super::TREE_NAMES[t as usize];
            // A crash in between leaves the mark: the next open drops what is left (a tree
            // already dropped is made anew by `open_tree`).
            self.db.drop_tree(name)?;
            self.trees[t as usize] = self.db.open_tree(name)?;
        }
        self.forget_load()?;
        Ok(true)
    }

    /// Empties every tree a load writes and its counters, durably, then clears the mark. A
    /// crash in between leaves the mark, and the next open does it again.
    fn empty_loaded_trees(&self) -> Result<()> {
        for t in LOADED {
            self.tree(t).clear()?;
        }
        self.forget_load()
    }

    /// With the loaded trees empty: removes the load's counters, durably, then the mark.
    fn forget_load(&self) -> Result<()> {
        let m = self.tree(T::Meta);
        for k in [meta::PEOPLE, meta::GROUPS, meta::MEMBERSHIPS] {
            m.remove(k)?;
        }
        self.flush()?;
        m.remove(meta::INITIAL_LOAD)?;
        self.flush()
    }
}

impl InitialLoad {
    /// The three writers of the load; `people` holds every person that will be loaded, with their
    /// status, in id order and each once (positions in it stand for people: see
    /// [`Everyone::ids`]).
    pub fn sides(&self, people: Vec<(String, UserStatus)>) -> Result<Sides> {
        let people = Arc::new(Everyone::new(people)?);
        Ok(Sides {
            raw: RawLoad {
                store: self.store.clone(),
                written: Append::new(self.store.tree(T::RawUsers))?,
            },
            people: PeopleLoad {
                store: self.store.clone(),
                tally: Tally::new(people.clone()),
                indexes: Runs::new(&self.store.dir),
                attrs: Runs::new(&self.store.dir),
                ids: people.clone(),
                written: Appends::default(),
                people: 0,
                groups: 0,
            },
            members: MemberLoad {
                store: self.store.clone(),
                people,
                groups: Vec::new(),
                pairs: Vec::new(),
                group_counts: HashMap::new(),
                group_status: HashMap::new(),
                written: Appends::default(),
                memberships: 0,
            },
        })
    }

    /// Writes the counts, makes everything durable, then in one transaction logs the load,
    /// sets the counters and clears the mark. Returns what the load created.
    pub fn finish(&self, sides: Sides) -> Result<super::Applied> {
        let started = std::time::Instant::now();
        let done = |step: &str| {
            tracing::debug!(step, secs = started.elapsed().as_secs_f64(), "initial load");
        };
        let Sides {
            people,
            raw,
            mut members,
        } = sides;
        members.write_member_of()?;
        done("member_of written");
        let store = &self.store;
        let _writing = store.writing();
        raw.written.finish()?;
        let PeopleLoad {
            indexes,
            attrs,
            tally,
            written,
            people: n_people,
            groups: n_groups,
            ..
        } = people;
        written.finish()?;
        // Three writers of their own trees, side by side: the people's indexes, the attribute
        // index, the counts.
        let (group_counts, group_status) = (&members.group_counts, &members.group_status);
        std::thread::scope(|scope| {
            let joined = |r: std::thread::Result<Result<()>>, what: &str| {
                r.unwrap_or_else(|_| {
                    Err(StoreError::Internal(format!(
                        "writing {what} stopped with a panic"
                    )))
                })
            };
            let attrs = scope.spawn(|| attrs.write(store));
            let counts = scope.spawn(|| {
                tally.write(store)?;
                store.put_counters(T::GroupCounts, group_counts)?;
                store.put_counters(T::GroupStatusCounts, group_status)
            });
            let written = indexes.write(store);
            let attrs = joined(attrs.join(), "the attribute index");
            let counts = joined(counts.join(), "the counts");
            written.and(attrs).and(counts)
        })?;
        done("people's indexes and the counts written");
        store.flush()?;
        done("flushed");

        let n_members = members.memberships;
        let at = chrono::Utc::now();
        let trees = (store.tree(T::Changes), store.tree(T::Meta));
        sled::Transactional::transaction(&trees, |(changes, m)| {
            let seq = m.get(meta::SEQ)?.map_or(0, |v| keys::read_u64(&v)) + 1;
            let change = Change {
                seq,
                at,
                op: ChangeOp::Upsert,
                entity: Entity::InitialLoad {
                    people: n_people,
                    groups: n_groups,
                    memberships: n_members,
                },
                created: true,
                fields: Vec::new(),
            };
            let bytes = serde_json::to_vec(&change).map_err(|e| {
                sled::transaction::ConflictableTransactionError::Abort(StoreError::Internal(
                    format!("encoding the initial load's change: {e}"),
                ))
            })?;
            changes.insert(&keys::u64_be(seq), bytes)?;
            m.insert(meta::SEQ, &keys::u64_be(seq))?;
            m.insert(meta::INITIAL_LOAD_SEQ, &keys::u64_be(seq))?;
            m.insert(meta::PEOPLE, &keys::u64_be(n_people))?;
            m.insert(meta::GROUPS, &keys::u64_be(n_groups))?;
            m.insert(meta::MEMBERSHIPS, &keys::u64_be(n_members))?;
            m.remove(meta::INITIAL_LOAD)?;
            Ok(())
        })?;
        store.wrote();
        Ok(super::Applied {
            people_created: n_people,
            groups_created: n_groups,
            members_added: n_members,
            ..super::Applied::default()
        })
    }

    /// Gives the load up (a load that failed; one cancelled by a stop is left to the next open):
    /// the store is emptied again, as it was.
    pub fn abandon(self) -> Result<()> {
        let _writing = self.store.writing();
        self.store.empty_loaded_trees()
    }
}

impl PeopleLoad {
    /// Everyone being loaded, shared (for a reader on another thread).
    pub fn everyone(&self) -> Arc<Everyone> {
        self.ids.clone()
    }

    /// Writes people's records and `status_of` in id order (their raw JSON goes through the
    /// [`RawLoad`]), and gathers their index entries for `finish` to write in key order (a
    /// later person taking a login wins it there too, as in `apply`).
    pub fn people(&mut self, people: &[Person]) -> Result<()> {
        let _writing = self.store.writing();
        let (store, out) = (&self.store, &mut self.written);
        for p in people {
            let bytes = serde_json::to_vec(p)
                .map_err(|e| StoreError::Internal(format!("encoding person: {e}")))?;
            let id = p.id.as_bytes();
            out.push(store, T::People as usize, id, &bytes)?;
            out.push(
                store,
                T::StatusOf as usize,
                id,
                p.status.as_str().as_bytes(),
            )?;
            let indexes = &mut self.indexes;
            super::write::each_index_entry(p, |tree, k, v| indexes.push(tree, k, v))?;
            for k in self.tally.person(p)? {
                self.attrs.push(T::IdxAttr, &k, &[])?;
            }
            self.people += 1;
        }
        Ok(())
    }

    /// Writes groups (each with Okta's raw JSON; in id order, as people are) and the
    /// group-name index.
    pub fn groups(&mut self, groups: &[(Group, Vec<u8>)]) -> Result<()> {
        let _writing = self.store.writing();
        let (store, out) = (&self.store, &mut self.written);
        for (g, r) in groups {
            let bytes = serde_json::to_vec(g)
                .map_err(|e| StoreError::Internal(format!("encoding group: {e}")))?;
            out.push(store, T::Groups as usize, g.id.as_bytes(), &bytes)?;
            out.push(store, T::RawGroups as usize, g.id.as_bytes(), r)?;
            // By name: in no useful order here, and a few thousand; plain inserts.
            let by_name = keys::pair(&keys::fold(&g.name), &g.id);
            store.tree(T::IdxGroupName).insert(by_name, &[])?;
            self.groups += 1;
        }
        Ok(())
    }
}

/// Everyone an initial load writes, in id order, and where each id is (by hash: a load looks
/// up every membership's person and every person's manager, some seven million lookups at a
/// million people).
pub struct Everyone {
    ids: Box<[(String, UserStatus)]>,
    at: Positions,
}

impl Everyone {
    /// `ids` must be in id order, each once: an error says otherwise.
    fn new(ids: Vec<(String, UserStatus)>) -> Result<Everyone> {
        if let Some(w) = ids.windows(2).find(|w| w[0].0 >= w[1].0) {
            return Err(StoreError::Internal(format!(
                "an initial load was given its people out of id order ({} before {})",
                w[0].0, w[1].0
            )));
        }
        let at = Positions::build(ids.len(), |i| ids.get(i as usize).map(|p| p.0.as_str()), {
            |_, _| Keep::Held
        });
        Ok(Everyone {
            ids: ids.into_boxed_slice(),
            at,
        })
    }

    /// Everyone, in id order, with their status.
    pub fn ids(&self) -> &[(String, UserStatus)] {
        &self.ids
    }

    /// Where `id` is in [`Everyone::ids`], if they are being loaded.
    pub fn position(&self, id: &str) -> Option<usize> {
        let key = |i: u32| self.ids.get(i as usize).map(|p| p.0.as_str());
        self.at.get(id, key).map(|at| at as usize)
    }
}

impl MemberLoad {
    /// Makes room for `memberships` at once (the crawl's count, an upper bound): the positions
    /// kept for `member_of` would otherwise grow by doubling, to some 67 MB at a million people
    /// with the old and the new copy (100 MB) side by side as the last doubling moves them.
    pub fn reserve(&mut self, memberships: usize) {
        self.pairs
            .reserve_exact(memberships.saturating_sub(self.pairs.len()));
    }

    /// Adds a group's members (sorted, without repeats), both ways; only the people being
    /// loaded (those `sides` was given a status for), as a crawl keeps only the people it saw.
    pub fn members(&mut self, group_id: &str, user_ids: &[String]) -> Result<()> {
        let group = u32::try_from(self.groups.len())
            .map_err(|_| StoreError::Internal("more than 2^32 groups in one load".into()))?;
        self.groups.push(group_id.to_owned());
        let _writing = self.store.writing();
        let mut added = 0u64;
        // Members per status, counted here and keyed once per group (not a key a membership).
        let mut by_status = [0u64; UserStatus::ALL.len()];
        let mut pair = keys::prefix(group_id);
        let group_part = pair.len();
        for u in user_ids {
            let Some(at) = self.people.position(u) else {
                continue;
            };
            pair.truncate(group_part);
            pair.extend_from_slice(u.as_bytes());
            self.written
                .push(&self.store, T::Members as usize, &pair, &[])?;
            // Fewer than 2^32 people: `people` is a Vec of them, and ids are 20 bytes or more.
            self.pairs.push((at as u32, group));
            let status = self.people.ids[at].1;
            if let Some(n) = UserStatus::ALL.iter().position(|s| *s == status) {
                by_status[n] += 1;
            }
            added += 1;
        }
        for (s, n) in UserStatus::ALL.iter().zip(by_status) {
            if n > 0 {
                *self
                    .group_status
                    .entry(group_status_key(group_id, *s))
                    .or_default() += n;
            }
        }
        if added > 0 {
            *self.group_counts.entry(group_id.to_owned()).or_default() += added;
        }
        self.memberships += added;
        Ok(())
    }

    /// Writes the `member_of` entries gathered so far, in key order (person, then group: the
    /// positions follow the ids' byte order, and `keys::pair`'s separator sorts first), and
    /// finishes `members` and `member_of`. The membership thread calls it when its groups are
    /// done; `finish` writes whatever is left.
    pub fn write_member_of(&mut self) -> Result<()> {
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.sort_unstable();
        let _writing = self.store.writing();
        let mut out = std::mem::take(&mut self.written);
        let mut pair = Vec::new();
        for (person, group) in pairs {
            let (p, g) = (
                &self.people.ids[person as usize].0,
                &self.groups[group as usize],
            );
            pair.clear();
            pair.extend_from_slice(p.as_bytes());
            pair.push(keys::SEP);
            pair.extend_from_slice(g.as_bytes());
            out.push(&self.store, T::MemberOf as usize, &pair, &[])?;
        }
        out.finish()
    }
}

impl Store {
    /// Writes each counter of `counts` (key, count) into `t`, as the apply's transactions
    /// store them (`keys::u64_be`): plain inserts in key order, for the initial load.
    pub(super) fn put_counters<K: AsRef<[u8]>>(
        &self,
        t: T,
        counts: &HashMap<K, u64>,
    ) -> Result<()> {
        self.put_in_key_order(
            t,
            counts
                .iter()
                .map(|(k, n)| (k.as_ref(), keys::u64_be(*n)))
                .collect(),
        )
    }

    /// Writes `entries` into `t` by plain inserts, sorted by key first: for the initial load,
    /// whose maps come in random order and whose trees outgrow sled's cache.
    pub(super) fn put_in_key_order<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        t: T,
        mut entries: Vec<(K, V)>,
    ) -> Result<()> {
        entries.sort_unstable_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let mut out = Append::new(self.tree(t))?;
        for (k, v) in entries {
            out.push(k.as_ref(), v.as_ref())?;
        }
        out.finish()
    }

    /// Every tree's entries by tree name (the change log's and the staging trees' left out):
    /// for tests comparing two stores' content. Reads everything.
    #[doc(hidden)]
    pub fn contents(&self) -> Result<Contents> {
        let mut out = std::collections::BTreeMap::new();
        for (name, tree) in super::TREE_NAMES.iter().zip(&self.trees) {
            if *name == "changes" {
                continue;
            }
            let entries = tree
                .iter()
                .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            out.insert(*name, entries);
        }
        Ok(out)
    }
}
