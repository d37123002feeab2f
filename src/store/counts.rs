//! Counts and indexes kept in the same transactions as the changes, so whole-org answers read
//! them instead of scanning: people per status, per (attribute value, status) for department,
//! division, title, city and country code (with an index of ids per value), and how many people
//! report to each manager, directly or not (the `reports` of the GraphQL schema), and each
//! group's members per status (with `status_of`: id → status, read for every membership change).
//!
//! Report counts follow the manager chain: a person's move (or arrival, departure, status
//! change) adds or takes their whole subtree along the chain above them. That is exact unless
//! the person sits in a manager cycle; a change that touches one marks the counts stale in its
//! transaction, and they are rebuilt from `manager_of` right after it commits (and at open, if a
//! crash came between), while readers that see the mark walk the reports instead.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use sled::transaction::TransactionalTree;

use super::write::TxResult;
use super::{Result, Store, StoreError, T, keys};
use crate::model::{Person, UserStatus};

/// The attributes people are counted and indexed by (exact, case-insensitive, trimmed matches:
/// what `PersonFilter` asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// `profile.department`.
    Department,
    /// `profile.division`.
    Division,
    /// `profile.title`.
    Title,
    /// `profile.city`.
    City,
    /// `profile.countryCode`.
    CountryCode,
}

impl Attr {
    /// Every counted attribute.
    pub const ALL: [Attr; 5] = [
        Attr::Department,
        Attr::Division,
        Attr::Title,
        Attr::City,
        Attr::CountryCode,
    ];

    /// The key byte that leads the attribute's index and count keys.
    fn tag(self) -> u8 {
        match self {
            Attr::Department => b'd',
            Attr::Division => b'v',
            Attr::Title => b't',
            Attr::City => b'c',
            Attr::CountryCode => b'n',
        }
    }

    /// The person's value of this attribute.
    pub fn of(self, p: &Person) -> Option<&str> {
        match self {
            Attr::Department => p.department.as_deref(),
            Attr::Division => p.division.as_deref(),
            Attr::Title => p.title.as_deref(),
            Attr::City => p.city.as_deref(),
            Attr::CountryCode => p.country_code.as_deref(),
        }
    }
}

/// Meta key: the report counts need a rebuild (a change touched a manager cycle).
const REPORTS_STALE: &str = "report_counts_stale";

/// Longest manager chain walked in a transaction; a longer one is treated like a cycle.
const MAX_WALK: usize = 1_000;

/// `tag ++ folded value ++ 0`: the prefix of a value's index entries and counts.
fn value_prefix(a: Attr, value: &str) -> Vec<u8> {
    let v = keys::fold(value);
    let mut k = Vec::with_capacity(v.len() + 2);
    k.push(a.tag());
    k.extend_from_slice(v.as_bytes());
    k.push(keys::SEP);
    k
}

fn index_key(a: Attr, value: &str, id: &str) -> Vec<u8> {
    let mut k = value_prefix(a, value);
    k.extend_from_slice(id.as_bytes());
    k
}

fn count_key(a: Attr, value: &str, s: UserStatus) -> Vec<u8> {
    let mut k = value_prefix(a, value);
    k.extend_from_slice(s.as_str().as_bytes());
    k
}

fn status_key(s: UserStatus) -> Vec<u8> {
    keys::pair("status", s.as_str())
}

/// Whether a person of this status is shown to every role (counted in the `shown` report count).
fn shown(s: UserStatus) -> u64 {
    u64::from(s != UserStatus::Deprovisioned)
}

/// Report counts: (everyone, not deprovisioned) under a manager id.
fn read_pair(v: Option<&[u8]>) -> (u64, u64) {
    match v {
        Some(b) if b.len() >= 16 => (keys::read_u64(&b[..8]), keys::read_u64(&b[8..16])),
        _ => (0, 0),
    }
}

fn write_pair(all: u64, shown: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&keys::u64_be(all));
    b[8..].copy_from_slice(&keys::u64_be(shown));
    b
}

fn bump(t: &TransactionalTree, key: &[u8], delta: i64) -> TxResult<()> {
    let n = t.get(key)?.map(|v| keys::read_u64(&v)).unwrap_or(0);
    let n = n.saturating_add_signed(delta);
    if n == 0 {
        t.remove(key)?;
    } else {
        t.insert(key, &keys::u64_be(n))?;
    }
    Ok(())
}

/// Adds (`delta` 1) or takes (-1) a person's index entries and counts (not the report counts).
pub(super) fn attrs_tx(tx: &[TransactionalTree], p: &Person, delta: i64) -> TxResult<()> {
    let (idx, counts) = (&tx[T::IdxAttr as usize], &tx[T::Counts as usize]);
    bump(counts, &status_key(p.status), delta)?;
    for a in Attr::ALL {
        let Some(v) = a.of(p) else { continue };
        if delta > 0 {
            idx.insert(index_key(a, v, &p.id), &[])?;
        } else {
            idx.remove(index_key(a, v, &p.id))?;
        }
        bump(counts, &count_key(a, v, p.status), delta)?;
    }
    Ok(())
}

/// Moves report counts for a person going from `old` to `new` (either `None`: created or
/// deleted), and keeps `manager_of` (id → resolved manager id) in step.
pub(super) fn reports_tx(
    tx: &[TransactionalTree],
    old: Option<&Person>,
    new: Option<&Person>,
) -> TxResult<()> {
    let manager = |p: Option<&Person>| p.and_then(|p| p.manager_id.clone());
    let status = |p: Option<&Person>| p.map(|p| p.status);
    let Some(id) = new.or(old).map(|p| p.id.as_str()) else {
        return Ok(());
    };
    let (old_m, new_m) = (manager(old), manager(new));
    let old_shown = status(old).map_or(0, shown);
    let new_shown = status(new).map_or(0, shown);
    if old.is_some() == new.is_some() && old_m == new_m && old_shown == new_shown {
        return Ok(());
    }
    let manager_of = &tx[T::ManagerOf as usize];
    let counts = &tx[T::ReportCounts as usize];
    let (under_all, under_shown) = read_pair(counts.get(id)?.as_deref());
    if let Some(m) = &old_m
        && old.is_some()
    {
        walk(
            tx,
            id,
            m,
            -(1 + under_all as i64),
            -((old_shown + under_shown) as i64),
        )?;
    }
    match &new_m {
        Some(m) if new.is_some() => manager_of.insert(id, m.as_bytes())?,
        _ => manager_of.remove(id)?,
    };
    if let Some(m) = &new_m
        && new.is_some()
    {
        walk(
            tx,
            id,
            m,
            1 + under_all as i64,
            (new_shown + under_shown) as i64,
        )?;
    }
    Ok(())
}

/// Adds (`all`, `shown`) to the report counts of every manager above `id`, starting at its
/// manager `first`. Finding `id` itself on the way (a cycle through it) marks the counts stale.
fn walk(tx: &[TransactionalTree], id: &str, first: &str, all: i64, shown: i64) -> TxResult<()> {
    let manager_of = &tx[T::ManagerOf as usize];
    let counts = &tx[T::ReportCounts as usize];
    let mut seen: Vec<String> = vec![id.to_owned()];
    let mut at = first.to_owned();
    loop {
        if seen.contains(&at) {
            if at == id {
                mark_stale(tx)?;
            }
            return Ok(());
        }
        if seen.len() > MAX_WALK {
            return mark_stale(tx);
        }
        let (a, s) = read_pair(counts.get(at.as_bytes())?.as_deref());
        let (a, s) = (a.saturating_add_signed(all), s.saturating_add_signed(shown));
        if a == 0 && s == 0 {
            counts.remove(at.as_bytes())?;
        } else {
            counts.insert(at.as_bytes(), &write_pair(a, s))?;
        }
        let next = manager_of.get(at.as_bytes())?;
        seen.push(at);
        match next {
            None => return Ok(()),
            Some(n) => match std::str::from_utf8(&n) {
                Ok(n) => at = n.to_owned(),
                Err(_) => return mark_stale(tx),
            },
        }
    }
}

/// `group ++ 0 ++ status`: how many members of the group have that status.
pub(super) fn group_status_key(group: &str, s: UserStatus) -> Vec<u8> {
    keys::pair(group, s.as_str())
}

fn status_of_bytes(b: &[u8]) -> Option<UserStatus> {
    UserStatus::ALL
        .into_iter()
        .find(|s| s.as_str().as_bytes() == b)
}

/// Per-group member counts by status, gathered over a batch and written once at its end, with
/// the groups of the people whose status the batch may change (read before the transaction,
/// as sled transactions cannot scan, and kept in step with the batch's membership changes).
#[derive(Debug, Default, Clone)]
pub(super) struct GroupStatus {
    deltas: HashMap<Vec<u8>, i64>,
    groups: HashMap<String, BTreeSet<String>>,
}

impl GroupStatus {
    /// Starts a batch with the groups read for `groups`' people.
    pub(super) fn new(groups: HashMap<String, BTreeSet<String>>) -> GroupStatus {
        GroupStatus {
            deltas: HashMap::new(),
            groups,
        }
    }

    /// A membership of `user` in `group` added or removed (it was not that way before).
    pub(super) fn member_tx(
        &mut self,
        tx: &[TransactionalTree],
        group: &str,
        user: &str,
        add: bool,
    ) -> TxResult<()> {
        if let Some(g) = self.groups.get_mut(user) {
            if add {
                g.insert(group.to_owned());
            } else {
                g.remove(group);
            }
        }
        let status = tx[T::StatusOf as usize].get(user)?;
        if let Some(s) = status.as_deref().and_then(status_of_bytes) {
            *self.deltas.entry(group_status_key(group, s)).or_default() += if add { 1 } else { -1 };
        }
        Ok(())
    }

    /// A person going from status `old` to `new` (`None`: not stored): `status_of` and the
    /// counts of every group they are in follow.
    pub(super) fn person_tx(
        &mut self,
        tx: &[TransactionalTree],
        id: &str,
        old: Option<UserStatus>,
        new: Option<UserStatus>,
    ) -> TxResult<()> {
        if old == new {
            return Ok(());
        }
        match new {
            Some(s) => tx[T::StatusOf as usize].insert(id, s.as_str())?,
            None => tx[T::StatusOf as usize].remove(id)?,
        };
        let Some(groups) = self.groups.get(id) else {
            return Err(sled::transaction::ConflictableTransactionError::Abort(
                StoreError::Internal(format!(
                    "the groups of {id} were not read before a batch changing their status"
                )),
            ));
        };
        for g in groups {
            if let Some(s) = old {
                *self.deltas.entry(group_status_key(g, s)).or_default() -= 1;
            }
            if let Some(s) = new {
                *self.deltas.entry(group_status_key(g, s)).or_default() += 1;
            }
        }
        Ok(())
    }

    /// Writes the gathered counts (at the end of the batch's transaction).
    pub(super) fn write_tx(&self, tx: &[TransactionalTree]) -> TxResult<()> {
        for (k, d) in &self.deltas {
            if *d != 0 {
                bump(&tx[T::GroupStatusCounts as usize], k, *d)?;
            }
        }
        Ok(())
    }
}

/// Everyone under each manager (everyone, not deprovisioned): each person counts once under
/// every manager on their chain, stopping where the chain repeats.
fn reports_under<'a>(
    manager: &'a HashMap<String, String>,
    status: &'a [(String, UserStatus)],
) -> HashMap<&'a str, (u64, u64)> {
    let mut under: HashMap<&str, (u64, u64)> = HashMap::new();
    for (id, s) in status {
        let mut seen: Vec<&str> = vec![id.as_str()];
        let mut at = manager.get(id);
        while let Some(m) = at {
            if seen.contains(&m.as_str()) {
                break;
            }
            let e = under.entry(m.as_str()).or_default();
            e.0 += 1;
            e.1 += shown(*s);
            seen.push(m.as_str());
            at = manager.get(m);
        }
    }
    under
}

/// The counts of an initial load (`load.rs`), gathered in memory while its records are written
/// and written once at its end: the same keys and values the transactions of `Store::apply`
/// would have left, computed the way a rebuild computes them.
///
/// People are their positions in the load's id order (`Everyone::ids`): a manager is 4 bytes
/// a person and a status 1, where a map of ids to ids and a list of ids took some 200 MB at a
/// million people, growing through the load.
pub(super) struct Tally {
    /// `counts`: per status, and per (attribute value, status).
    counts: HashMap<Vec<u8>, u64>,
    /// `department_counts`.
    departments: HashMap<Vec<u8>, u64>,
    /// Everyone being loaded, in id order.
    ids: Arc<super::load::Everyone>,
    /// Ids met that are not in `ids` (none when the people written are those the load began
    /// with), numbered after them.
    extra: Vec<String>,
    extra_at: HashMap<String, u32>,
    /// Each position's resolved manager (`NONE`: none), for `manager_of` and the report counts.
    manager: Vec<u32>,
    /// Each position's status once written (`None`: not written).
    loaded: Vec<Option<UserStatus>>,
}

/// No manager, in `Tally::manager`.
const NONE: u32 = u32::MAX;

impl Tally {
    /// A tally of a load of `ids` (in id order).
    pub(super) fn new(ids: Arc<super::load::Everyone>) -> Tally {
        let n = ids.ids().len();
        Tally {
            counts: HashMap::new(),
            departments: HashMap::new(),
            ids,
            extra: Vec::new(),
            extra_at: HashMap::new(),
            manager: vec![NONE; n],
            loaded: vec![None; n],
        }
    }

    /// The position of `id`, numbering it after everyone else when it is not in `ids`.
    fn at(&mut self, id: &str) -> Result<u32> {
        let too_many = || StoreError::Internal("more than 2^32 - 1 people in one load".into());
        if let Some(at) = self.ids.position(id) {
            return u32::try_from(at).map_err(|_| too_many());
        }
        if let Some(&at) = self.extra_at.get(id) {
            return Ok(at);
        }
        let at = u32::try_from(self.ids.ids().len() + self.extra.len())
            .ok()
            .filter(|&at| at != NONE)
            .ok_or_else(too_many)?;
        self.extra.push(id.to_owned());
        self.extra_at.insert(id.to_owned(), at);
        self.manager.push(NONE);
        self.loaded.push(None);
        Ok(at)
    }

    fn id(&self, at: u32) -> &str {
        let at = at as usize;
        match self.ids.ids().get(at) {
            Some((id, _)) => id,
            None => &self.extra[at - self.ids.ids().len()],
        }
    }

    /// Counts `p`, returning its attribute-index keys (for `idx_attr`).
    pub(super) fn person(&mut self, p: &Person) -> Result<Vec<Vec<u8>>> {
        let mut idx_attr = Vec::new();
        *self.counts.entry(status_key(p.status)).or_default() += 1;
        for a in Attr::ALL {
            if let Some(v) = a.of(p) {
                idx_attr.push(index_key(a, v, &p.id));
                *self.counts.entry(count_key(a, v, p.status)).or_default() += 1;
            }
        }
        if let Some(d) = &p.department {
            for k in keys::department_count_keys(&keys::department(d), p.status) {
                *self.departments.entry(k).or_default() += 1;
            }
        }
        let at = self.at(&p.id)? as usize;
        self.manager[at] = match &p.manager_id {
            Some(m) => self.at(m)?,
            None => NONE,
        };
        self.loaded[at] = Some(p.status);
        Ok(idx_attr)
    }

    /// Writes the counts, the department counts, `manager_of` and the report counts, each in
    /// key order (`put_in_key_order`): a map's own order is random.
    pub(super) fn write(self, store: &Store) -> Result<()> {
        store.put_counters(T::Counts, &self.counts)?;
        store.put_counters(T::DepartmentCounts, &self.departments)?;
        let everyone = 0..u32::try_from(self.manager.len()).unwrap_or(NONE);
        let manager_of = everyone
            .clone()
            .filter(|&at| self.manager[at as usize] != NONE)
            .map(|at| (self.id(at), self.id(self.manager[at as usize])))
            .collect();
        store.put_in_key_order(T::ManagerOf, manager_of)?;
        // Each person counts once under every manager on their chain, stopping where it
        // repeats (`reports_under`, over positions).
        let mut under = vec![(0u64, 0u64); self.manager.len()];
        let mut seen = Vec::new();
        for (person, status) in self.loaded.iter().enumerate() {
            let Some(s) = *status else { continue };
            seen.clear();
            seen.push(person as u32);
            let mut m = self.manager[person];
            while m != NONE && !seen.contains(&m) {
                let e = &mut under[m as usize];
                e.0 += 1;
                e.1 += shown(s);
                seen.push(m);
                m = self.manager[m as usize];
            }
        }
        let under = everyone
            .filter(|&at| under[at as usize].0 > 0)
            .map(|at| {
                let (a, s) = under[at as usize];
                (self.id(at), write_pair(a, s))
            })
            .collect();
        store.put_in_key_order(T::ReportCounts, under)?;
        Ok(())
    }
}

fn mark_stale(tx: &[TransactionalTree]) -> TxResult<()> {
    tx[T::Meta as usize].insert(REPORTS_STALE, &[1])?;
    Ok(())
}

impl Store {
    /// How many people have status `s`.
    pub fn status_count(&self, s: UserStatus) -> Result<u64> {
        self.count_at(&status_key(s))
    }

    /// How many people have `a` equal to `value` (case-insensitive, trimmed) and a status in
    /// `statuses` (empty: any).
    pub fn attr_count(&self, a: Attr, value: &str, statuses: &[UserStatus]) -> Result<u64> {
        let all: &[UserStatus] = if statuses.is_empty() {
            &UserStatus::ALL
        } else {
            statuses
        };
        let mut n = 0;
        for s in all {
            n += self.count_at(&count_key(a, value, *s))?;
        }
        Ok(n)
    }

    /// Every value of `a` with how many people hold it per status (values as folded).
    pub fn attr_counts(&self, a: Attr) -> Result<Vec<(String, UserStatus, u64)>> {
        let mut out = Vec::new();
        for kv in self.tree(T::Counts).scan_prefix([a.tag()]) {
            let (k, v) = kv?;
            let Some(sep) = k.iter().rposition(|b| *b == keys::SEP) else {
                continue;
            };
            let value = String::from_utf8_lossy(&k[1..sep]).into_owned();
            let status = std::str::from_utf8(&k[sep + 1..]).unwrap_or_default();
            let Some(s) = UserStatus::ALL.into_iter().find(|s| s.as_str() == status) else {
                continue;
            };
            out.push((value, s, keys::read_u64(&v)));
        }
        Ok(out)
    }

    /// Ids of the people whose `a` equals `value` (case-insensitive, trimmed), in id order,
    /// strictly after `after`.
    pub fn attr_ids_after<'a>(
        &'a self,
        a: Attr,
        value: &str,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<String>> + 'a {
        let prefix = value_prefix(a, value);
        let start = match after {
            None => prefix.clone(),
            Some(id) => {
                let mut k = prefix.clone();
                k.extend_from_slice(id.as_bytes());
                k.push(0);
                k
            }
        };
        let n = prefix.len();
        self.tree(T::IdxAttr)
            .range(start..)
            .take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(move |kv| {
                let (k, _) = kv?;
                String::from_utf8(k[n..].to_vec())
                    .map_err(|_| StoreError::Corrupt("attribute index key".into()))
            })
    }

    /// How many people report to `manager_id`, directly or not (everyone, and those not
    /// deprovisioned), or `None` while the counts are being rebuilt after a manager cycle.
    pub fn report_count(&self, manager_id: &str) -> Result<Option<(u64, u64)>> {
        if self.tree(T::Meta).contains_key(REPORTS_STALE)? {
            return Ok(None);
        }
        Ok(Some(read_pair(
            self.tree(T::ReportCounts).get(manager_id)?.as_deref(),
        )))
    }

    /// The resolved manager of `id` (from `manager_of`, without reading the person).
    pub fn manager_of(&self, id: &str) -> Result<Option<String>> {
        match self.tree(T::ManagerOf).get(id)? {
            None => Ok(None),
            Some(m) => Ok(Some(super::id_of(&m)?)),
        }
    }

    /// How many members of `group` have status `s` (members the mirror holds no person for
    /// are in no status).
    pub fn group_status_count(&self, group: &str, s: UserStatus) -> Result<u64> {
        Ok(self
            .tree(T::GroupStatusCounts)
            .get(group_status_key(group, s))?
            .map(|v| keys::read_u64(&v))
            .unwrap_or(0))
    }

    /// The groups of each person a batch may change the status of (a put with a status other
    /// than the stored one, a new person, a removal), read before its transaction.
    pub(super) fn groups_for_status(
        &self,
        ops: &[super::Op],
    ) -> Result<HashMap<String, BTreeSet<String>>> {
        let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
        for op in ops {
            let id = match op {
                super::Op::PutPerson { person, .. } => {
                    let stored = self.tree(T::StatusOf).get(&person.id)?;
                    if stored.as_deref() == Some(person.status.as_str().as_bytes()) {
                        continue;
                    }
                    &person.id
                }
                super::Op::DeletePerson { id } => id,
                _ => continue,
            };
            if !out.contains_key(id) {
                let groups = self.group_ids_of(id)?.into_iter().collect();
                out.insert(id.clone(), groups);
            }
        }
        Ok(out)
    }

    /// Migration 3 → 4: `status_of` from `people`, and each group's members per status from
    /// `members`. Runs before anything else reads or writes the store.
    pub(super) fn build_group_status_counts(&self) -> Result<()> {
        let (status_of, counts) = (self.tree(T::StatusOf), self.tree(T::GroupStatusCounts));
        status_of.clear()?;
        counts.clear()?;
        let mut status: HashMap<String, UserStatus> = HashMap::new();
        for p in self.people_after(None) {
            let p = p?;
            status_of.insert(p.id.as_bytes(), p.status.as_str())?;
            status.insert(p.id, p.status);
        }
        for (k, n) in self.group_status_scan(&status)? {
            counts.insert(k, &keys::u64_be(n))?;
        }
        Ok(())
    }

    /// Each group's members per status, counted from `members`.
    fn group_status_scan(
        &self,
        status: &HashMap<String, UserStatus>,
    ) -> Result<HashMap<Vec<u8>, u64>> {
        let mut n: HashMap<Vec<u8>, u64> = HashMap::new();
        for k in self.tree(T::Members).iter().keys() {
            let k = k?;
            let Some(sep) = k.iter().position(|b| *b == keys::SEP) else {
                continue;
            };
            let (group, user) = (&k[..sep], &k[sep + 1..]);
            let (Ok(group), Ok(user)) = (std::str::from_utf8(group), std::str::from_utf8(user))
            else {
                continue;
            };
            if let Some(s) = status.get(user) {
                *n.entry(group_status_key(group, *s)).or_default() += 1;
            }
        }
        Ok(n)
    }

    fn count_at(&self, key: &[u8]) -> Result<u64> {
        Ok(self
            .tree(T::Counts)
            .get(key)?
            .map(|v| keys::read_u64(&v))
            .unwrap_or(0))
    }

    /// Rebuilds the report counts when a change marked them stale; under the exclusive writer
    /// lock, so no batch lands half-way through.
    pub(super) fn settle_report_counts(&self) -> Result<()> {
        if !self.tree(T::Meta).contains_key(REPORTS_STALE)? {
            return Ok(());
        }
        let _only_writer = self
            .writers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.tree(T::Meta).contains_key(REPORTS_STALE)? {
            self.rebuild_report_counts()?;
        }
        Ok(())
    }

    /// Report counts and `manager_of` from `people`: each person counts once under every
    /// manager on their chain (stopping where it repeats). The caller keeps writers out.
    fn rebuild_report_counts(&self) -> Result<()> {
        let mut manager: HashMap<String, String> = HashMap::new();
        let mut status: Vec<(String, UserStatus)> = Vec::new();
        for p in self.people_after(None) {
            let p = p?;
            if let Some(m) = &p.manager_id {
                manager.insert(p.id.clone(), m.clone());
            }
            status.push((p.id, p.status));
        }
        let under = reports_under(&manager, &status);
        let (mo, rc) = (self.tree(T::ManagerOf), self.tree(T::ReportCounts));
        mo.clear()?;
        rc.clear()?;
        for (id, m) in &manager {
            mo.insert(id.as_bytes(), m.as_bytes())?;
        }
        for (id, (a, s)) in under {
            rc.insert(id.as_bytes(), &write_pair(a, s))?;
        }
        self.tree(T::Meta).remove(REPORTS_STALE)?;
        Ok(())
    }

    /// Migration 2 → 3: the attribute index, the status and attribute counts, `manager_of` and
    /// the report counts, from `people`. Runs before anything else reads or writes the store.
    pub(super) fn build_counts(&self) -> Result<()> {
        let (idx, counts) = (self.tree(T::IdxAttr), self.tree(T::Counts));
        idx.clear()?;
        counts.clear()?;
        let mut n: HashMap<Vec<u8>, u64> = HashMap::new();
        for p in self.people_after(None) {
            let p = p?;
            *n.entry(status_key(p.status)).or_default() += 1;
            for a in Attr::ALL {
                if let Some(v) = a.of(&p) {
                    idx.insert(index_key(a, v, &p.id), &[])?;
                    *n.entry(count_key(a, v, p.status)).or_default() += 1;
                }
            }
        }
        for (k, v) in n {
            counts.insert(k, &keys::u64_be(v))?;
        }
        self.rebuild_report_counts()
    }

    /// Every maintained count and index recomputed from `people` and compared with what is
    /// stored: the differences, described (empty when all agree). For tests and `check`-style
    /// audits; it scans everything.
    pub fn audit_counts(&self) -> Result<Vec<String>> {
        let mut want: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut want_idx: Vec<Vec<u8>> = Vec::new();
        let mut manager: HashMap<String, String> = HashMap::new();
        let mut status: Vec<(String, UserStatus)> = Vec::new();
        for p in self.people_after(None) {
            let p = p?;
            *want.entry(status_key(p.status)).or_default() += 1;
            for a in Attr::ALL {
                if let Some(v) = a.of(&p) {
                    want_idx.push(index_key(a, v, &p.id));
                    *want.entry(count_key(a, v, p.status)).or_default() += 1;
                }
            }
            if let Some(m) = &p.manager_id {
                manager.insert(p.id.clone(), m.clone());
            }
            status.push((p.id, p.status));
        }
        let mut diffs = Vec::new();
        let mut have: HashMap<Vec<u8>, u64> = HashMap::new();
        for kv in self.tree(T::Counts).iter() {
            let (k, v) = kv?;
            have.insert(k.to_vec(), keys::read_u64(&v));
        }
        for (k, n) in &want {
            if have.get(k) != Some(n) {
                diffs.push(format!(
                    "count {}: stored {:?}, scan {n}",
                    String::from_utf8_lossy(k),
                    have.get(k)
                ));
            }
        }
        for (k, n) in &have {
            if !want.contains_key(k) {
                diffs.push(format!(
                    "count {}: stored {n}, scan none",
                    String::from_utf8_lossy(k)
                ));
            }
        }
        want_idx.sort();
        let have_idx: Vec<Vec<u8>> = self
            .tree(T::IdxAttr)
            .iter()
            .keys()
            .map(|k| k.map(|k| k.to_vec()))
            .collect::<std::result::Result<_, _>>()?;
        if have_idx != want_idx {
            diffs.push(format!(
                "attribute index: {} entries stored, {} by scan",
                have_idx.len(),
                want_idx.len()
            ));
        }
        let mut under: HashMap<String, (u64, u64)> = HashMap::new();
        for (id, s) in &status {
            let mut seen: Vec<&str> = vec![id.as_str()];
            let mut at = manager.get(id);
            while let Some(m) = at {
                if seen.contains(&m.as_str()) {
                    break;
                }
                let e = under.entry(m.clone()).or_default();
                e.0 += 1;
                e.1 += shown(*s);
                seen.push(m.as_str());
                at = manager.get(m);
            }
        }
        if self.tree(T::Meta).contains_key(REPORTS_STALE)? {
            diffs.push("report counts marked stale after a batch".into());
        }
        let mut have_reports: HashMap<String, (u64, u64)> = HashMap::new();
        for kv in self.tree(T::ReportCounts).iter() {
            let (k, v) = kv?;
            have_reports.insert(
                String::from_utf8_lossy(&k).into_owned(),
                read_pair(Some(&v[..])),
            );
        }
        if have_reports != under {
            let mut bad: Vec<String> = under
                .iter()
                .filter(|(k, v)| have_reports.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}: scan {v:?}, stored {:?}", have_reports.get(k)))
                .chain(
                    have_reports
                        .iter()
                        .filter(|(k, _)| !under.contains_key(*k))
                        .map(|(k, v)| format!("{k}: scan none, stored {v:?}")),
                )
                .collect();
            bad.sort();
            diffs.push(format!("report counts differ: {}", bad.join("; ")));
        }
        let mut have_managers: HashMap<String, String> = HashMap::new();
        for kv in self.tree(T::ManagerOf).iter() {
            let (k, v) = kv?;
            have_managers.insert(super::id_of(&k)?, super::id_of(&v)?);
        }
        if have_managers != manager {
            diffs.push("manager_of differs from the people's managers".into());
        }
        let scan_status: HashMap<String, UserStatus> = status.iter().cloned().collect();
        let mut have_status: HashMap<String, UserStatus> = HashMap::new();
        for kv in self.tree(T::StatusOf).iter() {
            let (k, v) = kv?;
            let Some(s) = status_of_bytes(&v) else {
                diffs.push(format!(
                    "status_of {}: unreadable",
                    String::from_utf8_lossy(&k)
                ));
                continue;
            };
            have_status.insert(super::id_of(&k)?, s);
        }
        if have_status != scan_status {
            diffs.push("status_of differs from the people's statuses".into());
        }
        let want_groups = self.group_status_scan(&scan_status)?;
        let mut have_groups: HashMap<Vec<u8>, u64> = HashMap::new();
        for kv in self.tree(T::GroupStatusCounts).iter() {
            let (k, v) = kv?;
            have_groups.insert(k.to_vec(), keys::read_u64(&v));
        }
        if have_groups != want_groups {
            let mut bad: Vec<String> = want_groups
                .iter()
                .filter(|(k, v)| have_groups.get(*k) != Some(v))
                .map(|(k, v)| {
                    format!(
                        "{}: scan {v}, stored {:?}",
                        String::from_utf8_lossy(k),
                        have_groups.get(k)
                    )
                })
                .chain(
                    have_groups
                        .iter()
                        .filter(|(k, _)| !want_groups.contains_key(*k))
                        .map(|(k, v)| {
                            format!("{}: scan none, stored {v}", String::from_utf8_lossy(k))
                        }),
                )
                .collect();
            bad.sort();
            diffs.push(format!("group counts by status differ: {}", bad.join("; ")));
        }
        Ok(diffs)
    }
}
