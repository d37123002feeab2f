//! Write side of the store: a batch of operations applied in one sled transaction, together with
//! the indexes it touches, the change-log entries it produces and any cursor the caller passes,
//! so a crash never applies half a batch or records a cursor without its changes.

use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{Result, Store, StoreError, T, decode, keys, meta};
use crate::model::{Change, ChangeCounts, ChangeOp, Entity, Group, Person, SyncRun};

/// Raw Okta JSON as bytes: staged crawls hand it over without a parse. Two raw values count as
/// the same when their bytes match or, failing that, when they parse to the same JSON (so a
/// reordering of keys by Okta is not a change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(pub Vec<u8>);

impl From<&Value> for RawJson {
    fn from(v: &Value) -> Self {
        // Serialising a `Value` cannot fail: its map keys are strings.
        RawJson(serde_json::to_vec(v).unwrap_or_default())
    }
}

fn same_json(a: &[u8], b: &[u8]) -> bool {
    a == b
        || matches!(
            (serde_json::from_slice::<Value>(a), serde_json::from_slice::<Value>(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// One change to apply. Puts compare with what is stored and write only when something differs,
/// so re-applying an unchanged org produces no change-log entries.
#[derive(Debug, Clone)]
pub enum Op {
    /// Insert or update a person (indexes and change log follow).
    PutPerson {
        /// The person as mapped from Okta.
        person: Box<Person>,
        /// Okta's user object as received.
        raw: RawJson,
    },
    /// Remove a person and their memberships.
    DeletePerson {
        /// The Okta user id.
        id: String,
    },
    /// Insert or update a group.
    PutGroup {
        /// The group as mapped from Okta.
        group: Group,
        /// Okta's group object as received.
        raw: RawJson,
    },
    /// Remove a group and its memberships.
    DeleteGroup {
        /// The Okta group id.
        id: String,
    },
    /// Record that a user is a member of a group.
    AddMember {
        /// The group's Okta id.
        group_id: String,
        /// The member's Okta user id.
        user_id: String,
    },
    /// Record that a user is no longer a member of a group.
    RemoveMember {
        /// The group's Okta id.
        group_id: String,
        /// The former member's Okta user id.
        user_id: String,
    },
}

/// What a batch changed.
pub type Applied = ChangeCounts;

pub(super) type TxResult<V> = std::result::Result<V, ConflictableTransactionError<StoreError>>;

fn abort<V>(e: StoreError) -> TxResult<V> {
    Err(ConflictableTransactionError::Abort(e))
}

fn json<V: Serialize>(what: &str, v: &V) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Internal(format!("encoding {what}: {e}")))
}

/// Counters and the sequence number, read once per transaction and written back at its end.
struct Counters {
    /// One timestamp for every change of the batch: they commit together.
    at: chrono::DateTime<Utc>,
    /// Member-count deltas per group, written once at the end of the transaction.
    member_deltas: std::collections::HashMap<String, i64>,
    /// Members added and removed per group, logged as one change per group at the end.
    member_changes: std::collections::BTreeMap<String, (Vec<String>, Vec<String>)>,
    /// Per-group member counts by status, written once at the end of the transaction.
    group_status: super::counts::GroupStatus,
    seq: u64,
    people: u64,
    groups: u64,
    memberships: u64,
}

/// Everything one incremental step commits together: the changes, the cursor (or other meta)
/// that produced them, the event ids now handled, and the run record counting them.
#[derive(Default)]
pub struct Batch<'a> {
    /// The changes to apply, in order.
    pub ops: &'a [Op],
    /// Key/value pairs written to the meta tree with the changes, such as the log cursor.
    pub meta: Vec<(&'a str, Vec<u8>)>,
    /// System Log event uuids handled by this batch (deduplication across log and hooks).
    pub events_seen: Vec<String>,
    /// Recorded with the batch's change counts added and the next run id assigned.
    pub run: Option<SyncRun>,
}

/// Runs kept in the history; older ones are pruned.
pub const RUNS_KEPT: u64 = 5_000;

impl Store {
    /// Applies `ops` and writes `meta` entries atomically. Deleting a person or a group also
    /// removes its memberships.
    pub fn apply(&self, ops: &[Op], meta_entries: &[(&str, Vec<u8>)]) -> Result<Applied> {
        let batch = Batch {
            ops,
            meta: meta_entries.iter().map(|(k, v)| (*k, v.clone())).collect(),
            ..Batch::default()
        };
        Ok(self.apply_batch(batch)?.0)
    }

    /// Applies a batch atomically and returns what changed and the run as recorded.
    pub fn apply_batch(&self, batch: Batch<'_>) -> Result<(Applied, Option<SyncRun>)> {
        let Batch {
            ops,
            meta: meta_entries,
            events_seen,
            run,
        } = batch;
        let ops = self.expand_deletes(ops)?;
        let status_groups = self.groups_for_status(&ops)?;
        let encoded = ops
            .iter()
            .map(|op| match op {
                Op::PutPerson { person, raw } => Ok(Some((json("person", person)?, raw.0.clone()))),
                Op::PutGroup { group, raw } => Ok(Some((json("group", group)?, raw.0.clone()))),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let trees: &[sled::Tree] = &self.trees;
        let writing = self.writing();
        let at = Utc::now();
        let seen_at = keys::u64_be(at.timestamp_millis().max(0) as u64);
        let (applied, recorded) = trees.transaction(|tx| {
            let mut c = Counters {
                at,
                member_deltas: std::collections::HashMap::new(),
                member_changes: std::collections::BTreeMap::new(),
                group_status: super::counts::GroupStatus::new(status_groups.clone()),
                seq: get_u64(&tx[T::Meta as usize], meta::SEQ)?,
                people: get_u64(&tx[T::Meta as usize], meta::PEOPLE)?,
                groups: get_u64(&tx[T::Meta as usize], meta::GROUPS)?,
                memberships: get_u64(&tx[T::Meta as usize], meta::MEMBERSHIPS)?,
            };
            let mut a = Applied::default();
            for (op, enc) in ops.iter().zip(&encoded) {
                apply_one(tx, op, enc.as_ref(), &mut c, &mut a)?;
            }
            for (group_id, (added, removed)) in std::mem::take(&mut c.member_changes) {
                let entity = Entity::Members {
                    group_id,
                    added,
                    removed,
                };
                log(tx, &mut c, ChangeOp::Upsert, entity)?;
            }
            for (group, delta) in &c.member_deltas {
                bump(&tx[T::GroupCounts as usize], group, *delta)?;
            }
            c.group_status.write_tx(tx)?;
            let m = &tx[T::Meta as usize];
            m.insert(meta::SEQ, &keys::u64_be(c.seq))?;
            m.insert(meta::PEOPLE, &keys::u64_be(c.people))?;
            m.insert(meta::GROUPS, &keys::u64_be(c.groups))?;
            m.insert(meta::MEMBERSHIPS, &keys::u64_be(c.memberships))?;
            for (k, v) in &meta_entries {
                m.insert(*k, v.as_slice())?;
            }
            for uuid in &events_seen {
                tx[T::Events as usize].insert(uuid.as_bytes(), &seen_at)?;
            }
            let recorded = match &run {
                None => None,
                Some(run) => {
                    let mut run = run.clone();
                    run.id = get_u64(m, meta::RUN_SEQ)? + 1;
                    run.changes.add(a);
                    let bytes = match json("run", &run) {
                        Ok(b) => b,
                        Err(e) => return abort(e),
                    };
                    tx[T::Runs as usize].insert(&keys::u64_be(run.id), bytes)?;
                    m.insert(meta::RUN_SEQ, &keys::u64_be(run.id))?;
                    if run.id > RUNS_KEPT {
                        tx[T::Runs as usize].remove(&keys::u64_be(run.id - RUNS_KEPT))?;
                    }
                    Some(run)
                }
            };
            Ok((a, recorded))
        })?;
        self.wrote();
        drop(writing);
        self.settle_report_counts()?;
        Ok((applied, recorded))
    }

    /// True when a System Log event was already handled (by the log tail or a hook).
    pub fn event_seen(&self, uuid: &str) -> Result<bool> {
        Ok(self.tree(T::Events).contains_key(uuid.as_bytes())?)
    }

    /// Forgets handled event ids older than `cutoff` (the log and hooks re-send an event only
    /// within minutes or hours; a week is a wide margin). Returns how many were dropped.
    pub fn prune_events_seen(&self, cutoff: chrono::DateTime<Utc>) -> Result<usize> {
        let cutoff = cutoff.timestamp_millis().max(0) as u64;
        let _writing = self.writing();
        let mut dropped = 0;
        for item in self.tree(T::Events).iter() {
            let (k, v) = item?;
            if keys::read_u64(&v) < cutoff {
                self.tree(T::Events).remove(k)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Forgets the event ids handled at or after `since`, so that reading the log again from a
    /// position before `since` applies those events again (a reconcile's replay). Returns how
    /// many were forgotten.
    pub fn forget_events_seen_since(&self, since: chrono::DateTime<Utc>) -> Result<usize> {
        let since = since.timestamp_millis().max(0) as u64;
        let _writing = self.writing();
        let mut dropped = 0;
        for item in self.tree(T::Events).iter() {
            let (k, v) = item?;
            if keys::read_u64(&v) >= since {
                self.tree(T::Events).remove(k)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Turns each delete into the membership removals it implies, read before the transaction
    /// (sled transactions cannot scan).
    fn expand_deletes(&self, ops: &[Op]) -> Result<Vec<Op>> {
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::DeletePerson { id } => {
                    for g in self.group_ids_of(id)? {
                        out.push(Op::RemoveMember {
                            group_id: g,
                            user_id: id.clone(),
                        });
                    }
                }
                Op::DeleteGroup { id } => {
                    for u in self.member_ids_after(id, None) {
                        out.push(Op::RemoveMember {
                            group_id: id.clone(),
                            user_id: u?,
                        });
                    }
                }
                _ => {}
            }
            out.push(op.clone());
        }
        Ok(out)
    }
}

fn get_u64(t: &TransactionalTree, key: &str) -> TxResult<u64> {
    Ok(t.get(key)?.map(|v| keys::read_u64(&v)).unwrap_or(0))
}

fn log(tx: &[TransactionalTree], c: &mut Counters, op: ChangeOp, entity: Entity) -> TxResult<()> {
    write_change(tx, c, op, entity, false, Vec::new())
}

/// Logs a put: `fields` None for a creation, else the fields an update changed.
fn log_put(
    tx: &[TransactionalTree],
    c: &mut Counters,
    entity: Entity,
    fields: Option<Vec<String>>,
) -> TxResult<()> {
    let created = fields.is_none();
    write_change(
        tx,
        c,
        ChangeOp::Upsert,
        entity,
        created,
        fields.unwrap_or_default(),
    )
}

fn write_change(
    tx: &[TransactionalTree],
    c: &mut Counters,
    op: ChangeOp,
    entity: Entity,
    created: bool,
    fields: Vec<String>,
) -> TxResult<()> {
    c.seq += 1;
    let change = Change {
        seq: c.seq,
        at: c.at,
        op,
        entity,
        created,
        fields,
    };
    let bytes = match json("change", &change) {
        Ok(b) => b,
        Err(e) => return abort(e),
    };
    tx[T::Changes as usize].insert(&keys::u64_be(c.seq), bytes)?;
    Ok(())
}

/// Applies one operation inside the batch's transaction. Each kind of operation is its own
/// step, so this reads as the list of what a batch can do.
fn apply_one(
    tx: &[TransactionalTree],
    op: &Op,
    enc: Option<&(Vec<u8>, Vec<u8>)>,
    c: &mut Counters,
    a: &mut Applied,
) -> TxResult<()> {
    match (op, enc) {
        (Op::PutPerson { person, .. }, Some((pbytes, rbytes))) => {
            put_person(tx, person, pbytes, rbytes, c, a)
        }
        (Op::DeletePerson { id }, _) => delete_person(tx, id, c, a),
        (Op::PutGroup { group, .. }, Some((gbytes, rbytes))) => {
            put_group(tx, group, gbytes, rbytes, c, a)
        }
        (Op::DeleteGroup { id }, _) => delete_group(tx, id, c, a),
        (Op::AddMember { group_id, user_id }, _) => {
            change_member(tx, group_id, user_id, true, c, a)
        }
        (Op::RemoveMember { group_id, user_id }, _) => {
            change_member(tx, group_id, user_id, false, c, a)
        }
        (Op::PutPerson { .. } | Op::PutGroup { .. }, None) => Ok(()),
    }
}

/// Trees a record lives in: its typed record and its raw Okta JSON, both keyed by id.
struct Record<'a> {
    tree: T,
    raw_tree: T,
    what: &'a str,
    id: &'a str,
}

/// Writes a record and its raw JSON unless both already equal what is stored, calling `reindex`
/// first with the decoded old record (if any) so index entries follow. Returns `None` when
/// nothing changed, else whether the record was created (not replaced).
fn put_record<V: DeserializeOwned>(
    tx: &[TransactionalTree],
    r: Record<'_>,
    (bytes, raw): (&[u8], &[u8]),
    reindex: impl FnOnce(Option<&V>) -> TxResult<()>,
) -> TxResult<Option<Written>> {
    let old = tx[r.tree as usize].get(r.id)?;
    let old_raw = tx[r.raw_tree as usize].get(r.id)?;
    if let Some(old) = &old
        && old.as_ref() == bytes
        && old_raw
            .as_ref()
            .is_some_and(|old_raw| same_json(old_raw, raw))
    {
        return Ok(None);
    }
    let written = match &old {
        None => Written::Created,
        Some(old_bytes) => Written::Updated(changed_fields(
            (old_bytes, old_raw.as_deref().unwrap_or_default()),
            (bytes, raw),
        )),
    };
    let old: Option<V> = match old {
        None => None,
        Some(b) => Some(decode_tx(r.what, &b)?),
    };
    reindex(old.as_ref())?;
    tx[r.tree as usize].insert(r.id, bytes)?;
    tx[r.raw_tree as usize].insert(r.id, raw)?;
    Ok(Some(written))
}

/// What `put_record` wrote.
enum Written {
    Created,
    /// Updated, with the names of the fields that changed.
    Updated(Vec<String>),
}

/// Okta fields that move with every change and name none: left out of a change's field list.
const UNTOLD: &[&str] = &[
    "lastUpdated",
    "lastMembershipUpdated",
    "last_updated",
    "last_membership_updated",
];

/// The fields that differ between two versions of a record: the typed record's fields (by
/// their GraphQL names, like `title` or `managerId`) and the raw Okta profile's attributes (as
/// `profile.NAME`), sorted and without repeats. Unreadable JSON yields no names, never an error:
/// the list describes a change, it does not decide one.
fn changed_fields((old, old_raw): (&[u8], &[u8]), (new, new_raw): (&[u8], &[u8])) -> Vec<String> {
    fn object(b: &[u8]) -> serde_json::Map<String, Value> {
        match serde_json::from_slice::<Value>(b) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }
    fn differing(
        a: &serde_json::Map<String, Value>,
        b: &serde_json::Map<String, Value>,
    ) -> Vec<String> {
        a.keys()
            .chain(b.keys())
            .filter(|k| !UNTOLD.contains(&k.as_str()) && a.get(*k) != b.get(*k))
            .cloned()
            .collect()
    }
    fn camel(snake: &str) -> String {
        let mut out = String::with_capacity(snake.len());
        let mut upper = false;
        for ch in snake.chars() {
            if ch == '_' {
                upper = true;
            } else if upper {
                out.extend(ch.to_uppercase());
                upper = false;
            } else {
                out.push(ch);
            }
        }
        out
    }
    let mut fields: std::collections::BTreeSet<String> = differing(&object(old), &object(new))
        .iter()
        .filter(|k| k.as_str() != "profile" && k.as_str() != "raw")
        .map(|k| camel(k))
        .collect();
    let (old_raw, new_raw) = (object(old_raw), object(new_raw));
    let profile = |m: &serde_json::Map<String, Value>| match m.get("profile") {
        Some(Value::Object(p)) => p.clone(),
        _ => serde_json::Map::new(),
    };
    fields.extend(
        differing(&profile(&old_raw), &profile(&new_raw))
            .into_iter()
            .map(|k| format!("profile.{k}")),
    );
    fields.extend(
        differing(&old_raw, &new_raw)
            .into_iter()
            .filter(|k| !matches!(k.as_str(), "profile" | "_links" | "_embedded"))
            .map(|k| camel(&k)),
    );
    fields.into_iter().collect()
}

/// Removes the record stored under `id` from `records` and returns it decoded (`None` when
/// there was none), so a delete can clean up the indexes the record fed.
fn take<V: DeserializeOwned>(
    tx: &[TransactionalTree],
    records: T,
    what: &str,
    id: &str,
) -> TxResult<Option<V>> {
    match tx[records as usize].remove(id)? {
        None => Ok(None),
        Some(old) => decode_tx(what, &old).map(Some),
    }
}

/// `decode` inside a transaction: an unreadable record aborts the whole batch.
fn decode_tx<V: DeserializeOwned>(what: &str, bytes: &[u8]) -> TxResult<V> {
    decode(what, bytes).or_else(abort)
}

/// Writes a person (typed record, raw JSON and indexes) unless nothing changed, and logs it.
fn put_person(
    tx: &[TransactionalTree],
    p: &Person,
    pbytes: &[u8],
    rbytes: &[u8],
    c: &mut Counters,
    a: &mut Applied,
) -> TxResult<()> {
    let record = Record {
        tree: T::People,
        raw_tree: T::RawUsers,
        what: "person",
        id: &p.id,
    };
    let group_status = &mut c.group_status;
    let reindex = |old: Option<&Person>| {
        if let Some(o) = old {
            unindex_person(tx, o)?;
        }
        index_person(tx, p)?;
        group_status.person_tx(tx, &p.id, old.map(|o| o.status), Some(p.status))?;
        super::counts::reports_tx(tx, old, Some(p))
    };
    let fields = match put_record(tx, record, (pbytes, rbytes), reindex)? {
        None => return Ok(()),
        Some(Written::Created) => {
            a.people_created += 1;
            c.people += 1;
            None
        }
        Some(Written::Updated(fields)) => {
            a.people_updated += 1;
            Some(fields)
        }
    };
    log_put(tx, c, Entity::Person { id: p.id.clone() }, fields)
}

/// Removes a person, their raw JSON and index entries (their memberships were expanded into
/// removals before the transaction), and logs it.
fn delete_person(
    tx: &[TransactionalTree],
    id: &str,
    c: &mut Counters,
    a: &mut Applied,
) -> TxResult<()> {
    let Some(old) = take::<Person>(tx, T::People, "person", id)? else {
        return Ok(());
    };
    unindex_person(tx, &old)?;
    c.group_status.person_tx(tx, id, Some(old.status), None)?;
    super::counts::reports_tx(tx, Some(&old), None)?;
    tx[T::RawUsers as usize].remove(id)?;
    a.people_deleted += 1;
    c.people = c.people.saturating_sub(1);
    log(
        tx,
        c,
        ChangeOp::Delete,
        Entity::Person { id: id.to_owned() },
    )
}

/// Writes a group (typed record, raw JSON and name index) unless nothing changed, and logs it.
fn put_group(
    tx: &[TransactionalTree],
    g: &Group,
    gbytes: &[u8],
    rbytes: &[u8],
    c: &mut Counters,
    a: &mut Applied,
) -> TxResult<()> {
    let names = &tx[T::IdxGroupName as usize];
    let record = Record {
        tree: T::Groups,
        raw_tree: T::RawGroups,
        what: "group",
        id: &g.id,
    };
    let reindex = |old: Option<&Group>| {
        if let Some(o) = old {
            names.remove(keys::pair(&keys::fold(&o.name), &o.id))?;
        }
        names.insert(keys::pair(&keys::fold(&g.name), &g.id), &[])?;
        Ok(())
    };
    let fields = match put_record(tx, record, (gbytes, rbytes), reindex)? {
        None => return Ok(()),
        Some(Written::Created) => {
            a.groups_created += 1;
            c.groups += 1;
            None
        }
        Some(Written::Updated(fields)) => {
            a.groups_updated += 1;
            Some(fields)
        }
    };
    log_put(tx, c, Entity::Group { id: g.id.clone() }, fields)
}

/// Removes a group, its raw JSON, name index entry and member count (its memberships were
/// expanded into removals before the transaction), and logs it.
fn delete_group(
    tx: &[TransactionalTree],
    id: &str,
    c: &mut Counters,
    a: &mut Applied,
) -> TxResult<()> {
    let t = |t: T| &tx[t as usize];
    let Some(old) = take::<Group>(tx, T::Groups, "group", id)? else {
        return Ok(());
    };
    t(T::IdxGroupName).remove(keys::pair(&keys::fold(&old.name), id))?;
    t(T::RawGroups).remove(id)?;
    t(T::GroupCounts).remove(id)?;
    a.groups_deleted += 1;
    c.groups = c.groups.saturating_sub(1);
    log(tx, c, ChangeOp::Delete, Entity::Group { id: id.to_owned() })
}

/// Adds (`add`) or removes a membership in both directions, unless it already is that way. The
/// count and the change-log entry are per group and written once at the end of the batch.
fn change_member(
    tx: &[TransactionalTree],
    group_id: &str,
    user_id: &str,
    add: bool,
    c: &mut Counters,
    a: &mut Applied,
) -> TxResult<()> {
    let t = |t: T| &tx[t as usize];
    let pair = keys::pair(group_id, user_id);
    let changed = if add {
        t(T::Members).insert(pair, &[])?.is_none()
    } else {
        t(T::Members).remove(pair)?.is_some()
    };
    if !changed {
        return Ok(());
    }
    c.group_status.member_tx(tx, group_id, user_id, add)?;
    let reverse = keys::pair(user_id, group_id);
    let delta = c.member_deltas.entry(group_id.to_owned()).or_default();
    let entry = c.member_changes.entry(group_id.to_owned()).or_default();
    if add {
        t(T::MemberOf).insert(reverse, &[])?;
        *delta += 1;
        a.members_added += 1;
        c.memberships += 1;
        entry.0.push(user_id.to_owned());
    } else {
        t(T::MemberOf).remove(reverse)?;
        *delta -= 1;
        a.members_removed += 1;
        c.memberships = c.memberships.saturating_sub(1);
        entry.1.push(user_id.to_owned());
    }
    Ok(())
}

fn bump(t: &TransactionalTree, key: &str, delta: i64) -> TxResult<()> {
    bump_bytes(t, key.as_bytes(), delta)
}

fn bump_bytes(t: &TransactionalTree, key: &[u8], delta: i64) -> TxResult<()> {
    let n = t.get(key)?.map(|v| keys::read_u64(&v)).unwrap_or(0);
    let n = n.saturating_add_signed(delta);
    if n == 0 {
        t.remove(key)?;
    } else {
        t.insert(key, &keys::u64_be(n))?;
    }
    Ok(())
}

/// Each index entry (tree, key, value) of a person, passed to `put`: the one list that the
/// transactional apply writes and removes and the initial load (`load.rs`) writes.
pub(super) fn each_index_entry<E>(
    p: &Person,
    mut put: impl FnMut(T, &[u8], &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    put(
        T::IdxLogin,
        keys::fold(&p.login).as_bytes(),
        p.id.as_bytes(),
    )?;
    if let Some(e) = &p.email {
        put(T::IdxEmail, &keys::pair(&keys::fold(e), &p.id), &[])?;
    }
    if let Some(n) = &p.employee_number {
        put(T::IdxEmpNo, &keys::pair(n.trim(), &p.id), &[])?;
    }
    if let Some(m) = &p.manager_id {
        put(T::Reports, &keys::pair(m, &p.id), &[])?;
    }
    if let Some(d) = &p.department {
        put(
            T::IdxDepartment,
            &keys::pair(&keys::department(d), &p.id),
            &[],
        )?;
    }
    Ok(())
}

/// The department counters a person counts in, moved by `delta`.
fn count_department(tx: &[TransactionalTree], p: &Person, delta: i64) -> TxResult<()> {
    if let Some(d) = &p.department {
        for k in keys::department_count_keys(&keys::department(d), p.status) {
            bump_bytes(&tx[T::DepartmentCounts as usize], &k, delta)?;
        }
    }
    Ok(())
}

fn index_person(tx: &[TransactionalTree], p: &Person) -> TxResult<()> {
    each_index_entry(p, |t, k, v| tx[t as usize].insert(k, v).map(drop))?;
    count_department(tx, p, 1)?;
    super::counts::attrs_tx(tx, p, 1)
}

fn unindex_person(tx: &[TransactionalTree], p: &Person) -> TxResult<()> {
    each_index_entry(p, |t, k, v| {
        let tree = &tx[t as usize];
        // Another person may have taken the login since (delete-then-recreate in one batch).
        if t == T::IdxLogin && tree.get(k)?.as_deref() != Some(v) {
            return Ok(());
        }
        tree.remove(k).map(drop)
    })?;
    count_department(tx, p, -1)?;
    super::counts::attrs_tx(tx, p, -1)
}
