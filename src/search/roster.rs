//! Every person's status, manager and counted attributes in memory, kept per change sequence:
//! built from one scan, then moved forward by re-reading only the people the change log names.
//! Alongside, kept as people change so that no answer walks everyone: the manager forest with
//! subtree sums (people, non-deprovisioned people, head candidates) and per-level counts a few
//! levels down (`reports(depth:)` counts), how many people hold each two common values (counts
//! and pages of two attributes), and per department and division its members, spellings,
//! managers and head candidates (`departments.rs` turns them into the table, recomputing only
//! the units a change touched).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use super::idlist::IdList;
use crate::model::{Change, Entity, Person, UserStatus};
use crate::store::{Attr, Store, StoreError};

/// How an attribute value is compared: trimmed and lower-cased, as `PersonFilter` does.
pub(crate) fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Subtree sums kept per person in the manager forest (the person included).
const PEOPLE: usize = 0;
/// Non-deprovisioned people.
const SHOWN: usize = 1;
/// Head-candidate flags (one per department and per division a person is a candidate of).
const CANDIDATES: usize = 2;

/// How `Roster::page_within` finds a page of the people within some levels of a manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageWalk {
    /// Read the roster in id order; test each person by walking up their manager chain.
    Chains,
    /// Read the roster in id order; test each person's manager against a set of everyone
    /// within one level less, gathered first.
    Set,
    /// List everyone within the levels, then sort.
    List,
}

/// Levels below each person counted in `Entry::levels`: deeper `reports(depth:)` counts walk
/// down to where this many levels are left. A bound, so that a long management chain costs
/// at most this many counts per person (few in tests, so that the walk above them is tested).
const LEVELS: usize = if cfg!(test) { 3 } else { 8 };

/// What the roster holds of one person.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub status: UserStatus,
    /// The resolved manager id, as stored (the manager may be missing from the mirror).
    pub manager: Option<Arc<str>>,
    /// Per attribute of `Attr::ALL`, the id of the folded value (see `Values`), as `Packed`.
    values: Packed,
    /// `department` and `division` as spelled (a unit's display name is the most common one).
    pub spelled: [Option<Arc<str>>; 2],
    /// Linked under the manager in the forest: the manager is in the roster and the link closes
    /// no cycle. Unlinked people are the forest's roots.
    linked: bool,
    /// Sums over this person's forest subtree, the person included: `PEOPLE`, `SHOWN`,
    /// `CANDIDATES`.
    sub: [u32; 3],
    /// The forest subtree's height: how many levels hang below the person (0: nobody).
    height: u32,
    /// How many people hang exactly 1, 2, ... `LEVELS` levels below the person in the forest
    /// (`[everyone, not deprovisioned]` per level), so that `count_within` to a depth of at
    /// most `LEVELS` adds a few numbers instead of visiting every manager on the way; no
    /// trailing empty level, so a leaf (most people) holds no allocation.
    levels: Box<[[u32; 2]]>,
    /// Whether the person is a head candidate of their department, of their division: a member
    /// whose manager is not a member of the same unit (or who has none).
    cand: [bool; 2],
}

/// Five value ids in 20 bytes instead of 40 (`[Option<u32>; 5]`): `u32::MAX` for none (a
/// value id never reaches it), so that the levels kept per person cost no more than before.
#[derive(Debug, Clone, Copy)]
struct Packed([u32; 5]);

impl From<[Option<u32>; 5]> for Packed {
    fn from(v: [Option<u32>; 5]) -> Packed {
        Packed(v.map(|v| v.unwrap_or(u32::MAX)))
    }
}

impl Entry {
    /// Per attribute of `Attr::ALL`, the id of the folded value (see `Values`).
    pub fn values(&self) -> [Option<u32>; 5] {
        self.values.0.map(|v| (v != u32::MAX).then_some(v))
    }

    /// Not deprovisioned: a unit member, a shown report.
    pub fn shown(&self) -> bool {
        self.status != UserStatus::Deprovisioned
    }
}

/// The people naming one manager id, and how many of them are not deprovisioned; apart, those
/// with reports of their own (forest height above 0), so that a count to a depth visits only
/// them.
#[derive(Debug, Default)]
struct Reports {
    ids: BTreeSet<Arc<str>>,
    shown: u32,
    deep: BTreeSet<Arc<str>>,
    deep_shown: u32,
}

/// One department or division (by folded value), as its members make it.
#[derive(Debug, Default)]
pub(crate) struct Unit {
    /// Members (not deprovisioned), in id order (shared with the tables that hold it).
    pub members: IdList,
    /// Members with at least one direct report who is not deprovisioned.
    pub managers: IdList,
    /// Members whose manager is not a member (or who have none).
    pub candidates: BTreeSet<Arc<str>>,
    /// How the members spell the unit, with counts.
    pub spellings: BTreeMap<Arc<str>, u32>,
    /// The members' value of the other kind (division of a department, department of a
    /// division), with counts.
    pub other: HashMap<Option<u32>, u32>,
    /// How the members spell the other kind, with counts.
    pub other_spellings: BTreeMap<Arc<str>, u32>,
}

/// One attribute's folded values, each with the ids of the people holding it (in id order).
#[derive(Debug, Default)]
struct Values {
    id: HashMap<String, u32>,
    names: Vec<String>,
    holders: Vec<BTreeSet<Arc<str>>>,
    /// Whether the value is heavy: its pairs with other heavy values are counted in
    /// `Roster::pairs` (see `HEAVY`).
    heavy: Vec<bool>,
}

/// A value held by `HEAVY` people or more is heavy, one held by fewer than half as many is not
/// (in between it stays as it was, so that one person coming and going does not flip it). A
/// count or page of two values reads the holders of a light one (fewer than `HEAVY`), and the
/// counted pairs for two heavy ones, so neither reads more than `HEAVY` people however large
/// the org. Pairs are counted between heavy values only, so that values held by a few people
/// each (titles can be nearly unique) add no entries: at most `people / (HEAVY / 2)` values
/// per attribute are heavy. Few in tests, so that values cross the line both ways.
const HEAVY: usize = if cfg!(test) { 4 } else { 1024 };

/// How many statuses pair counts are kept for (`UserStatus::ALL`).
const STATUSES: usize = UserStatus::ALL.len();

/// Two values of two attributes: `(i * 5 + j, value of i, value of j)` for `Attr::ALL`
/// positions `i < j` (`pair_key`).
type PairKey = (u8, u32, u32);

/// The key of value `a` of attribute `i` with value `b` of attribute `j` (`i != j`), in either
/// order.
fn pair_key(i: usize, a: u32, j: usize, b: u32) -> PairKey {
    if i < j {
        ((i * 5 + j) as u8, a, b)
    } else {
        ((j * 5 + i) as u8, b, a)
    }
}

/// Per pair of heavy values, how many people hold both, per status (`UserStatus::ALL` order).
type Pairs = HashMap<PairKey, [u32; STATUSES]>;

fn status_at(s: UserStatus) -> usize {
    UserStatus::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// Adds (`up`) or takes away one person holding `held` with `status` in `pairs`, for each two
/// of the values held that are both heavy (only the pairs with attribute `only`, when given).
fn pair(
    values: &[Values; 5],
    pairs: &mut Pairs,
    held: &[Option<u32>; 5],
    status: UserStatus,
    up: bool,
    only: Option<usize>,
) {
    let s = status_at(status);
    let heavy = |i: usize| held[i].filter(|v| values[i].heavy[*v as usize]);
    for i in 0..5 {
        let Some(a) = heavy(i) else { continue };
        for j in i + 1..5 {
            if only.is_some_and(|o| o != i && o != j) {
                continue;
            }
            let Some(b) = heavy(j) else { continue };
            let key = pair_key(i, a, j, b);
            if up {
                pairs.entry(key).or_insert([0; STATUSES])[s] += 1;
            } else if let Some(n) = pairs.get_mut(&key) {
                n[s] = n[s].saturating_sub(1);
                if n.iter().all(|c| *c == 0) {
                    pairs.remove(&key);
                }
            }
        }
    }
}

impl Values {
    fn intern(&mut self, folded: String) -> u32 {
        if let Some(&i) = self.id.get(&folded) {
            return i;
        }
        let i = self.names.len() as u32;
        self.id.insert(folded.clone(), i);
        self.names.push(folded);
        self.holders.push(BTreeSet::new());
        self.heavy.push(false);
        i
    }
}

/// The holders of one value to read, and the `(attribute position, value id)` pairs each must
/// hold.
type Plan<'r> = (&'r BTreeSet<Arc<str>>, Vec<(usize, u32)>);

/// What a roster holds beyond one entry per person, for memory figures (the org bench prints
/// them): the kept level counts and pair counts are the parts that grow with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RosterSizes {
    /// People in the roster.
    pub people: usize,
    /// Bytes of one entry (`Entry`), not counting its id or what it points to.
    pub entry_bytes: usize,
    /// People with level counts (someone below them).
    pub with_levels: usize,
    /// Level counts kept over everyone (8 bytes each).
    pub levels: usize,
    /// Values held by `HEAVY` people or more, over every attribute.
    pub heavy_values: usize,
    /// Pairs of heavy values counted (`Roster::pairs`), each 12 bytes of key and 4 a status.
    pub pairs: usize,
}

/// The people of the store at one change sequence.
#[derive(Debug, Default)]
pub struct Roster {
    seq: u64,
    people: BTreeMap<Arc<str>, Entry>,
    values: [Values; 5],
    /// Spellings shared between entries (`department` and `division` values repeat).
    spellings: BTreeSet<Arc<str>>,
    /// How many people hold each two heavy values of two attributes (see `HEAVY`), by status:
    /// a count of two heavy values without reading their holders.
    pairs: Pairs,
    /// Each manager id's direct reports (people naming it, whether or not it is stored).
    reports: HashMap<Arc<str>, Reports>,
    /// Bumped whenever what departments depend on changed: someone's unit, its spelling,
    /// their manager, or whether they are deprovisioned.
    units_version: u64,
    /// Departments (0) and divisions (1) by folded value id.
    units: [HashMap<u32, Unit>; 2],
    /// The forest's roots (unlinked people) by the size of their tree, largest first, then by
    /// id: the first is the top of the largest hierarchy.
    roots: BTreeSet<(Reverse<u32>, Arc<str>)>,
    /// People whose manager is in the roster but who stay unlinked because the link would close
    /// a manager cycle (tried again after every change).
    pending: BTreeSet<Arc<str>>,
    /// Units whose row may have changed since `take_dirty`.
    dirty: [BTreeSet<u32>; 2],
    /// Every unit may have changed (a build, a cycle, the largest hierarchy changed).
    dirty_all: bool,
}

/// People read and applied at a time by a catch-up (a few in tests, so that their catch-ups
/// span several).
const APPLY_BATCH: usize = if cfg!(test) { 3 } else { 1_000 };

fn attr_at(a: Attr) -> usize {
    Attr::ALL.iter().position(|x| *x == a).unwrap_or(0)
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u32>, k: K, up: bool) {
    if up {
        *map.entry(k).or_default() += 1;
    } else if let Some(n) = map.get_mut(&k) {
        *n -= 1;
        if *n == 0 {
            map.remove(&k);
        }
    }
}

fn add(x: u32, d: i64) -> u32 {
    u32::try_from(i64::from(x) + d).unwrap_or(0)
}

impl Roster {
    /// One scan of the store.
    pub fn build(store: &Store) -> Result<Roster, StoreError> {
        let seq = store.last_seq()?;
        let mut r = Roster {
            seq,
            dirty_all: true,
            ..Roster::default()
        };
        let mut ids = Vec::new();
        for p in store.people_after(None) {
            let p = p?;
            ids.push(r.insert(&p));
        }
        // Everyone is in: link each under their manager (in id order, as `Departments::of`
        // walks), then set the candidate flags.
        for id in &ids {
            r.link(id);
        }
        for id in &ids {
            r.flags(id);
        }
        r.count_pairs();
        r.dirty_all = true;
        Ok(r)
    }

    /// The change sequence the roster holds the store at.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Moves whenever a change touched what departments depend on (units, managers, whether
    /// someone is deprovisioned); other changes (titles, names, cities) leave it.
    pub fn units_version(&self) -> u64 {
        self.units_version
    }

    /// Moves the roster to the store's current sequence by re-reading the people changed since
    /// (their current state, so replaying a change is harmless). `Ok(false)` when the change log
    /// no longer holds every change since (pruned): then build it again.
    pub fn catch_up(&mut self, store: &Store) -> Result<bool, StoreError> {
        let target = store.last_seq()?;
        if target == self.seq {
            return Ok(true);
        }
        // A pruned log, or an initial load since (one entry for the whole org): build again.
        if target < self.seq
            || store.first_seq()?.is_none_or(|f| f > self.seq + 1)
            || store.initial_load_seq()? > self.seq
        {
            return Ok(false);
        }
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for c in store.changes_after(self.seq) {
            let c: Change = c?;
            if c.seq > target {
                break;
            }
            if let Entity::Person { id } = c.entity {
                touched.insert(id);
            }
        }
        // In batches, so that a long catch-up never holds many people at once.
        let touched: Vec<String> = touched.into_iter().collect();
        for ids in touched.chunks(APPLY_BATCH) {
            let mut now = Vec::with_capacity(ids.len());
            for id in ids {
                now.push((id.clone(), store.person(id)?));
            }
            self.apply(&now);
        }
        self.seq = target;
        Ok(true)
    }

    /// Puts the people of `now` in their new state (`None`: gone), keeping the forest, the
    /// units and their dirty marks.
    fn apply(&mut self, now: &[(String, Option<Person>)]) {
        let acyclic_before = self.pending.is_empty();
        let main_before = self.main_root();
        let unit_of = |e: &Entry| {
            (
                e.shown(),
                e.manager.clone(),
                e.values()[..2].to_vec(),
                e.spelled.clone(),
            )
        };
        // Only people whose unit, spelling, manager or deprovisioning changed move anything
        // the departments see; the rest only update their attributes.
        let mut changed: Vec<(Arc<str>, Option<&Person>, bool)> = Vec::new();
        for (id, p) in now {
            let old = self.people.get(id.as_str()).map(unit_of);
            // The new unit values as interned ids: `Some(None)` is a value nobody held yet.
            let new = p.as_ref().map(|p| {
                let mut values: [Option<Option<u32>>; 2] = [None, None];
                for (i, a) in Attr::ALL.into_iter().take(2).enumerate() {
                    values[i] = a.of(p).map(|v| self.values[i].id.get(&fold(v)).copied());
                }
                (
                    p.status != UserStatus::Deprovisioned,
                    p.manager_id.as_deref(),
                    values,
                    [p.department.as_deref(), p.division.as_deref()],
                )
            });
            let same = match (&old, &new) {
                (None, None) => true,
                (Some(o), Some(n)) => {
                    o.0 == n.0
                        && o.1.as_deref() == n.1
                        && o.2.iter().zip(n.2.iter()).all(|(a, b)| match b {
                            None => a.is_none(),
                            Some(Some(b)) => *a == Some(*b),
                            Some(None) => false,
                        })
                        && o.3.iter().map(|s| s.as_deref()).eq(n.3.iter().copied())
                }
                _ => false,
            };
            if same {
                if let Some(p) = p {
                    self.update_attributes(p);
                }
                continue;
            }
            self.units_version += 1;
            let relink = match (self.people.get(id.as_str()), p) {
                (Some(e), Some(p)) => e.manager.as_deref() != p.manager_id.as_deref(),
                _ => true,
            };
            changed.push((Arc::from(id.as_str()), p.as_ref(), relink));
        }
        if changed.is_empty() {
            return;
        }
        let mut moved: Vec<Arc<str>> = Vec::new();
        // 1. Cut what moves: the people whose manager changes or who leave, and those leaving
        //    lose their reports (who become roots).
        for (id, p, relink) in &changed {
            // Someone pending whose manager stays stays pending (tried again in step 3): taken
            // out here, nobody would link them again.
            if *relink {
                self.pending.remove(id);
            }
            if !*relink || !self.people.contains_key(id) {
                continue;
            }
            self.cut(id);
            moved.push(id.clone());
            if p.is_none() {
                for c in self.report_ids(id) {
                    if self.people.get(&c).is_some_and(|e| e.linked) && c != *id {
                        self.orphan(&c);
                        moved.push(c);
                    }
                }
            }
        }
        // 2. The people themselves: out with the old state, in with the new.
        let mut arrived = Vec::new();
        for (id, p, _) in &changed {
            let old_shown = self.people.get(id).map(Entry::shown);
            if old_shown.is_some() {
                self.set_flag(id, 0, false);
                self.set_flag(id, 1, false);
                self.remove(id);
            }
            match p {
                Some(p) => {
                    let sub = self.people.get(id).map(|e| e.sub);
                    self.insert(p);
                    self.pairs_in(id);
                    if old_shown.is_none() {
                        arrived.push(id.clone());
                    }
                    let shown = p.status != UserStatus::Deprovisioned;
                    if let (Some(was), Some(_)) = (old_shown, sub)
                        && was != shown
                    {
                        let d = if shown { 1 } else { -1 };
                        self.add_up(id, [0, d, 0], true);
                        self.spread(id, &[[0, d]]);
                    }
                }
                None => {
                    if let Some(e) = self.people.remove(id) {
                        self.roots.remove(&(Reverse(e.sub[PEOPLE]), id.clone()));
                    }
                }
            }
        }
        // 3. Link: the people who moved, the reports of those who arrived, and the links a
        //    cycle refused before.
        for (id, p, relink) in &changed {
            if p.is_some() && *relink {
                self.link(id);
            }
        }
        for id in &arrived {
            for c in self.report_ids(id) {
                if c != *id && self.people.get(&c).is_some_and(|e| !e.linked) {
                    self.link(&c);
                    moved.push(c);
                }
            }
        }
        let pending: Vec<Arc<str>> = self.pending.iter().cloned().collect();
        for id in pending {
            self.pending.remove(&id);
            if self.people.get(&id).is_some_and(|e| !e.linked) {
                self.link(&id);
                moved.push(id);
            }
        }
        // 4. Candidate flags of the changed people and of their reports.
        let mut recheck: BTreeSet<Arc<str>> = BTreeSet::new();
        for (id, p, _) in &changed {
            if p.is_some() {
                recheck.insert(id.clone());
            }
            if let Some(r) = self.reports.get(id) {
                recheck.extend(r.ids.iter().cloned());
            }
        }
        for id in &recheck {
            self.flags(id);
        }
        // 5. Heads in moved subtrees changed depth.
        for id in &moved {
            self.mark_candidates_below(id);
        }
        if !acyclic_before || !self.pending.is_empty() || self.main_root() != main_before {
            self.dirty_all = true;
        }
    }

    /// Updates an entry whose unit, spelling, manager and deprovisioning stay (titles, cities).
    fn update_attributes(&mut self, p: &Person) {
        let Some((id, e)) = self.people.get_key_value(p.id.as_str()) else {
            return;
        };
        let (id, old) = (id.clone(), e.values());
        pair(&self.values, &mut self.pairs, &old, e.status, false, None);
        let mut values = old;
        for (i, a) in Attr::ALL.into_iter().enumerate().skip(2) {
            let new = a.of(p).map(|v| self.values[i].intern(fold(v)));
            if new != old[i] {
                if let Some(v) = old[i] {
                    self.values[i].holders[v as usize].remove(&id);
                }
                if let Some(v) = new {
                    self.values[i].holders[v as usize].insert(id.clone());
                }
                values[i] = new;
            }
        }
        if let Some(e) = self.people.get_mut(&id) {
            e.values = Packed::from(values);
            e.status = p.status;
        }
        pair(&self.values, &mut self.pairs, &values, p.status, true, None);
        for i in 2..5 {
            if old[i] != values[i] {
                for v in [old[i], values[i]].into_iter().flatten() {
                    self.reweigh(i, v);
                }
            }
        }
    }

    /// Counts `id`'s pairs of heavy values in (after `insert`), then makes the values it holds
    /// heavy when they reached `HEAVY`.
    fn pairs_in(&mut self, id: &str) {
        let Some(e) = self.people.get(id) else { return };
        let values = e.values();
        pair(&self.values, &mut self.pairs, &values, e.status, true, None);
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                self.reweigh(i, v);
            }
        }
    }

    /// Makes value `v` of attribute `i` heavy or light when its holders crossed the line
    /// (`HEAVY`), counting its pairs with the other heavy values in or out: reads its holders,
    /// which happens once per `HEAVY / 2` people coming or going at the least.
    fn reweigh(&mut self, i: usize, v: u32) {
        let Some(set) = self.values[i].holders.get(v as usize) else {
            return;
        };
        let n = set.len();
        let heavy = self.values[i].heavy[v as usize];
        let up = !heavy && n >= HEAVY;
        let down = heavy && n < HEAVY / 2;
        if !up && !down {
            return;
        }
        if up {
            self.values[i].heavy[v as usize] = true;
        }
        let Roster {
            values,
            pairs,
            people,
            ..
        } = self;
        for id in &values[i].holders[v as usize] {
            if let Some(e) = people.get(id) {
                pair(values, pairs, &e.values(), e.status, up, Some(i));
            }
        }
        if !up {
            values[i].heavy[v as usize] = false;
        }
    }

    /// After a build: every value held by `HEAVY` people or more is heavy, and the pairs are
    /// counted in one pass over everyone.
    fn count_pairs(&mut self) {
        for vals in &mut self.values {
            vals.heavy = vals.holders.iter().map(|h| h.len() >= HEAVY).collect();
        }
        let mut pairs = Pairs::new();
        for e in self.people.values() {
            pair(&self.values, &mut pairs, &e.values(), e.status, true, None);
        }
        self.pairs = pairs;
    }

    fn spelling(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.spellings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.spellings.insert(a.clone());
        a
    }

    fn mark(&mut self, k: usize, v: Option<u32>) {
        if let Some(v) = v {
            self.dirty[k].insert(v);
        }
    }

    /// Adds `p` (not in the roster) as an unlinked root with no candidate flags; the forest
    /// sums of an entry it replaces are kept. Returns its id.
    fn insert(&mut self, p: &Person) -> Arc<str> {
        let id: Arc<str> = match self.people.get_key_value(p.id.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(p.id.as_str()),
        };
        let mut values = [None; 5];
        for (i, a) in Attr::ALL.into_iter().enumerate() {
            if let Some(v) = a.of(p) {
                let vid = self.values[i].intern(fold(v));
                self.values[i].holders[vid as usize].insert(id.clone());
                values[i] = Some(vid);
            }
        }
        let spelled = [
            p.department.as_deref().map(|d| self.spelling(d)),
            p.division.as_deref().map(|d| self.spelling(d)),
        ];
        let manager: Option<Arc<str>> =
            p.manager_id
                .as_deref()
                .map(|m| match self.reports.get_key_value(m) {
                    Some((k, _)) => k.clone(),
                    None => Arc::from(m),
                });
        let shown = p.status != UserStatus::Deprovisioned;
        let mut deep = false;
        let entry = match self.people.remove(&id) {
            // A replaced entry (`apply` removed its indexes) keeps its place in the forest.
            Some(old) => {
                deep = old.height > 0;
                Entry {
                    status: p.status,
                    manager: manager.clone(),
                    values: Packed::from(values),
                    spelled: spelled.clone(),
                    linked: old.linked,
                    sub: old.sub,
                    height: old.height,
                    levels: old.levels,
                    cand: [false, false],
                }
            }
            None => {
                let sub = [1, u32::from(shown), 0];
                self.roots.insert((Reverse(1), id.clone()));
                Entry {
                    status: p.status,
                    manager: manager.clone(),
                    values: Packed::from(values),
                    spelled: spelled.clone(),
                    linked: false,
                    sub,
                    height: 0,
                    levels: Box::default(),
                    cand: [false, false],
                }
            }
        };
        self.people.insert(id.clone(), entry);
        if let Some(m) = &manager {
            let r = self.reports.entry(m.clone()).or_default();
            r.ids.insert(id.clone());
            if deep {
                r.deep.insert(id.clone());
                r.deep_shown += u32::from(shown);
            }
            if shown {
                r.shown += 1;
                if r.shown == 1 {
                    self.set_manager(m, true);
                }
            }
        }
        if shown {
            let has_reports = self.reports.get(&id).is_some_and(|r| r.shown > 0);
            for k in 0..2 {
                let Some(v) = values[k] else { continue };
                let unit = self.units[k].entry(v).or_default();
                unit.members.insert(id.clone());
                if has_reports {
                    unit.managers.insert(id.clone());
                }
                if let Some(s) = &spelled[k] {
                    bump(&mut unit.spellings, s.clone(), true);
                }
                *unit.other.entry(values[1 - k]).or_default() += 1;
                if let Some(s) = &spelled[1 - k] {
                    bump(&mut unit.other_spellings, s.clone(), true);
                }
                self.dirty[k].insert(v);
            }
        }
        id
    }

    /// Takes `id` out of every index but the forest (its entry and place stay until `apply`
    /// drops or replaces it). Candidate flags must be clear.
    fn remove(&mut self, id: &Arc<str>) {
        let Some(e) = self.people.get(id) else {
            return;
        };
        let (values, spelled, manager, shown) =
            (e.values(), e.spelled.clone(), e.manager.clone(), e.shown());
        pair(
            &self.values,
            &mut self.pairs,
            &values,
            e.status,
            false,
            None,
        );
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                self.values[i].holders[*v as usize].remove(id);
                self.reweigh(i, *v);
            }
        }
        if let Some(m) = &manager
            && let Some(r) = self.reports.get_mut(m)
        {
            r.ids.remove(id);
            if r.deep.remove(id) {
                r.deep_shown -= u32::from(shown);
            }
            let mut lost_last = false;
            if shown {
                r.shown -= 1;
                lost_last = r.shown == 0;
            }
            if r.ids.is_empty() {
                self.reports.remove(m);
            }
            if lost_last {
                self.set_manager(m, false);
            }
        }
        if shown {
            for k in 0..2 {
                let Some(v) = values[k] else { continue };
                let Some(unit) = self.units[k].get_mut(&v) else {
                    continue;
                };
                unit.members.remove(id);
                unit.managers.remove(id);
                if let Some(s) = &spelled[k] {
                    bump(&mut unit.spellings, s.clone(), false);
                }
                if let Some(n) = unit.other.get_mut(&values[1 - k]) {
                    *n -= 1;
                    if *n == 0 {
                        unit.other.remove(&values[1 - k]);
                    }
                }
                if let Some(s) = &spelled[1 - k] {
                    bump(&mut unit.other_spellings, s.clone(), false);
                }
                if unit.members.is_empty() {
                    self.units[k].remove(&v);
                }
                self.dirty[k].insert(v);
            }
        }
    }

    /// `m` gained its first shown report (`true`) or lost its last: its units' managers change.
    fn set_manager(&mut self, m: &Arc<str>, has: bool) {
        let Some(e) = self.people.get(m) else { return };
        if !e.shown() {
            return;
        }
        let values = e.values();
        for (k, v) in values.into_iter().take(2).enumerate() {
            let Some(v) = v else { continue };
            if let Some(unit) = self.units[k].get_mut(&v) {
                if has {
                    unit.managers.insert(m.clone());
                } else {
                    unit.managers.remove(m);
                }
                self.dirty[k].insert(v);
            }
        }
    }

    /// `id` and its forest ancestors, nearest first, up to its root.
    fn chain(&self, id: &str) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        let mut at = self.people.get_key_value(id);
        while let Some((k, e)) = at {
            out.push(k.clone());
            if !e.linked {
                break;
            }
            at = e
                .manager
                .as_deref()
                .and_then(|m| self.people.get_key_value(m));
        }
        out
    }

    /// Adds `d` to the sums of `id` and its forest ancestors; with `org`, marks the units the
    /// ancestors are head candidates of (their org size changed).
    fn add_up(&mut self, id: &str, d: [i64; 3], org: bool) {
        let chain = self.chain(id);
        let Some(root) = chain.last().cloned() else {
            return;
        };
        let root_size = self.people.get(&root).map(|e| e.sub[PEOPLE]);
        let mut marks = Vec::new();
        for (n, a) in chain.iter().enumerate() {
            if let Some(e) = self.people.get_mut(a) {
                for (s, d) in e.sub.iter_mut().zip(d) {
                    *s = add(*s, d);
                }
                if org && n > 0 {
                    for k in 0..2 {
                        if e.cand[k] {
                            marks.push((k, e.values()[k]));
                        }
                    }
                }
            }
        }
        for (k, v) in marks {
            self.mark(k, v);
        }
        if d[PEOPLE] != 0
            && let Some(old) = root_size
        {
            self.roots.remove(&(Reverse(old), root.clone()));
            self.roots.insert((Reverse(add(old, d[PEOPLE])), root));
        }
    }

    /// The ids naming `id` as their manager (linked or not), copied out so the roster can be
    /// changed while they are visited.
    fn report_ids(&self, id: &str) -> Vec<Arc<str>> {
        self.reports
            .get(id)
            .map(|r| r.ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Takes `id` (linked) and its subtree off its manager: `id` becomes a root.
    fn cut(&mut self, id: &Arc<str>) {
        let Some(e) = self.people.get(id) else { return };
        if !e.linked {
            return;
        }
        let (sub, manager) = (e.sub, e.manager.clone());
        let Some(m) = manager else { return };
        let levels = Self::profile(e, -1);
        self.spread(id, &levels);
        let d = sub.map(|s| -i64::from(s));
        self.add_up(&m, d, sub[SHOWN] > 0);
        self.mark_candidates(&m);
        if let Some(e) = self.people.get_mut(id) {
            e.linked = false;
        }
        self.roots.insert((Reverse(sub[PEOPLE]), id.clone()));
        // Heights above may fall: each ancestor's is its highest linked report's plus one,
        // until one stays.
        let mut at = Some(m);
        while let Some(a) = at {
            let h = self
                .reports
                .get(&a)
                .into_iter()
                .flat_map(|r| &r.ids)
                .filter_map(|c| self.people.get(c).filter(|e| e.linked && **c != *a))
                .map(|e| e.height + 1)
                .max()
                .unwrap_or(0);
            let Some(e) = self.people.get(&a) else {
                break;
            };
            if e.height == h {
                break;
            }
            let next = e.manager.clone().filter(|_| e.linked);
            self.set_height(&a, h);
            at = next;
        }
    }

    /// `id`'s manager leaves the roster: `id` (linked) becomes a root with its subtree, and
    /// the manager's sums are left as they are (the manager is dropped next).
    fn orphan(&mut self, id: &Arc<str>) {
        let Some(e) = self.people.get_mut(id) else {
            return;
        };
        if !e.linked {
            return;
        }
        e.linked = false;
        let size = e.sub[PEOPLE];
        self.roots.insert((Reverse(size), id.clone()));
    }

    /// Links `id` (a root) under its manager when the manager is in the roster; a link that
    /// would close a cycle is left pending.
    fn link(&mut self, id: &Arc<str>) {
        let Some(e) = self.people.get(id) else { return };
        if e.linked {
            return;
        }
        let (sub, manager) = (e.sub, e.manager.clone());
        let Some(m) = manager else { return };
        if !self.people.contains_key(&m) {
            return;
        }
        if self.chain(&m).iter().any(|a| a == id) {
            self.pending.insert(id.clone());
            return;
        }
        self.roots.remove(&(Reverse(sub[PEOPLE]), id.clone()));
        let (mut h, levels) = match self.people.get_mut(id) {
            Some(e) => {
                e.linked = true;
                (e.height + 1, Self::profile(e, 1))
            }
            None => return,
        };
        self.spread(id, &levels);
        self.add_up(&m, sub.map(i64::from), sub[SHOWN] > 0);
        self.mark_candidates(&m);
        // Heights above may rise, until one is already high enough.
        let mut at = Some(m);
        while let Some(a) = at {
            let Some(e) = self.people.get(&a) else {
                break;
            };
            if e.height >= h {
                break;
            }
            let next = e.manager.clone().filter(|_| e.linked);
            self.set_height(&a, h);
            h += 1;
            at = next;
        }
    }

    /// What `e` and its forest subtree add to the levels of the people above it, times `sign`:
    /// the person itself at 0, then its own `levels`.
    fn profile(e: &Entry, sign: i64) -> Vec<[i64; 2]> {
        let me = [1, i64::from(e.shown())];
        std::iter::once(me)
            .chain(e.levels.iter().map(|l| l.map(i64::from)))
            .map(|l| l.map(|n| n * sign))
            .collect()
    }

    /// Adds `profile` (see `profile`) to the levels of `id`'s forest ancestors: at distance `d`
    /// its level `k` counts `d + k` levels down; only the `LEVELS` nearest ancestors see any.
    fn spread(&mut self, id: &str, profile: &[[i64; 2]]) {
        let mut at = self
            .people
            .get(id)
            .filter(|e| e.linked)
            .and_then(|e| e.manager.clone());
        for d in 1..=LEVELS {
            let Some(a) = at else { break };
            let Some(e) = self.people.get_mut(&a) else {
                break;
            };
            let mut levels = std::mem::take(&mut e.levels).into_vec();
            let need = (d + profile.len() - 1).min(LEVELS);
            if levels.len() < need {
                levels.resize(need, [0, 0]);
            }
            for (k, p) in profile.iter().enumerate() {
                let Some(l) = levels.get_mut(d + k - 1) else {
                    break;
                };
                for (n, p) in l.iter_mut().zip(p) {
                    *n = add(*n, *p);
                }
            }
            while levels.last() == Some(&[0, 0]) {
                levels.pop();
            }
            e.levels = levels.into_boxed_slice();
            at = e.manager.clone().filter(|_| e.linked);
        }
    }

    /// Sets `id`'s height, moving it in or out of its manager's reports with reports.
    fn set_height(&mut self, id: &Arc<str>, h: u32) {
        let Some(e) = self.people.get_mut(id) else {
            return;
        };
        let (was, now) = (e.height > 0, h > 0);
        e.height = h;
        if was == now {
            return;
        }
        let shown = u32::from(e.shown());
        if let Some(m) = e.manager.clone()
            && let Some(r) = self.reports.get_mut(&m)
        {
            if now {
                r.deep.insert(id.clone());
                r.deep_shown += shown;
            } else {
                r.deep.remove(id);
                r.deep_shown -= shown;
            }
        }
    }

    /// Marks the units `id` is a head candidate of.
    fn mark_candidates(&mut self, id: &str) {
        let Some(e) = self.people.get(id) else { return };
        let marks: Vec<(usize, Option<u32>)> = (0..2)
            .filter(|&k| e.cand[k])
            .map(|k| (k, e.values()[k]))
            .collect();
        for (k, v) in marks {
            self.mark(k, v);
        }
    }

    /// Whether `id` should be a head candidate of its unit of kind `k`.
    fn wants_flag(&self, id: &str, k: usize) -> bool {
        let Some(e) = self.people.get(id) else {
            return false;
        };
        let Some(v) = e.values()[k] else { return false };
        if !e.shown() {
            return false;
        }
        let manager = e.manager.as_deref().and_then(|m| self.people.get(m));
        !manager.is_some_and(|m| m.shown() && m.values()[k] == Some(v))
    }

    fn set_flag(&mut self, id: &str, k: usize, on: bool) {
        let Some((key, e)) = self.people.get_key_value(id) else {
            return;
        };
        if e.cand[k] == on {
            return;
        }
        let (key, v) = (key.clone(), e.values()[k]);
        if let Some(e) = self.people.get_mut(id) {
            e.cand[k] = on;
        }
        if let Some(v) = v
            && let Some(unit) = self.units[k].get_mut(&v)
        {
            if on {
                unit.candidates.insert(key.clone());
            } else {
                unit.candidates.remove(&key);
            }
        }
        self.mark(k, v);
        self.add_up(&key, [0, 0, if on { 1 } else { -1 }], false);
    }

    /// Sets `id`'s candidate flags to what its state and its manager's ask.
    fn flags(&mut self, id: &str) {
        for k in 0..2 {
            let on = self.wants_flag(id, k);
            self.set_flag(id, k, on);
        }
    }

    /// Marks the units of every head candidate in `id`'s forest subtree (their depth moved).
    fn mark_candidates_below(&mut self, id: &Arc<str>) {
        let mut stack = vec![id.clone()];
        let mut marks = Vec::new();
        while let Some(a) = stack.pop() {
            let Some(e) = self.people.get(&a) else {
                continue;
            };
            if e.sub[CANDIDATES] == 0 {
                continue;
            }
            for k in 0..2 {
                if e.cand[k] {
                    marks.push((k, e.values()[k]));
                }
            }
            if let Some(r) = self.reports.get(&a) {
                for c in &r.ids {
                    if *c != a
                        && self
                            .people
                            .get(c)
                            .is_some_and(|e| e.linked && e.sub[CANDIDATES] > 0)
                    {
                        stack.push(c.clone());
                    }
                }
            }
        }
        for (k, v) in marks {
            self.mark(k, v);
        }
    }

    /// The top of the largest hierarchy (ties: the smallest id).
    pub(crate) fn main_root(&self) -> Option<Arc<str>> {
        self.roots.first().map(|(_, id)| id.clone())
    }

    /// Whether the manager links hold no cycle (then the forest is the whole hierarchy, and
    /// depths and org sizes come from it).
    pub(crate) fn acyclic(&self) -> bool {
        self.pending.is_empty()
    }

    /// The units marked since the last call (per kind, by value id), and whether every unit
    /// may have changed.
    pub(crate) fn take_dirty(&mut self) -> ([BTreeSet<u32>; 2], bool) {
        let all = std::mem::take(&mut self.dirty_all);
        (std::mem::take(&mut self.dirty), all)
    }

    /// Department (0) or division (1) `v`.
    pub(crate) fn unit(&self, k: usize, v: u32) -> Option<&Unit> {
        self.units[k].get(&v)
    }

    /// Every unit of kind `k`, by value id.
    pub(crate) fn units(&self, k: usize) -> impl Iterator<Item = (u32, &Unit)> {
        self.units[k].iter().map(|(v, u)| (*v, u))
    }

    /// `id`'s depth in the forest and its root (in an acyclic roster: the distance to the top
    /// of its hierarchy), with `memo` shared between calls.
    pub(crate) fn place(
        &self,
        id: &Arc<str>,
        memo: &mut HashMap<Arc<str>, (u32, Arc<str>)>,
    ) -> (u32, Arc<str>) {
        let mut path: Vec<Arc<str>> = Vec::new();
        let mut at = id.clone();
        let (base, root) = loop {
            if let Some((d, r)) = memo.get(&at) {
                break (*d + 1, r.clone());
            }
            path.push(at.clone());
            let next = self
                .people
                .get(&at)
                .filter(|e| e.linked)
                .and_then(|e| e.manager.clone());
            match next {
                Some(m) => at = m,
                None => break (0, at),
            }
        };
        // `path` runs from `id` up to the root (or to below a remembered person).
        let n = path.len() as u32;
        for (i, a) in path.into_iter().enumerate() {
            let d = base + n - 1 - i as u32;
            memo.insert(a, (d, root.clone()));
        }
        memo.get(id).cloned().unwrap_or((0, root))
    }

    /// `id`'s org size: the non-deprovisioned people under them in the forest.
    pub(crate) fn org_size(&self, id: &str) -> u32 {
        self.people
            .get(id)
            .map_or(0, |e| e.sub[SHOWN] - u32::from(e.shown()))
    }

    /// Everyone under `id`, nearest levels first (breadth-first, each level in id order), down
    /// to `depth` levels (1 = direct reports; `None` = all), with their statuses; `id` itself
    /// never. The same walk as `search::reports`, in memory.
    pub fn reports(&self, id: &str, depth: Option<usize>) -> Vec<(String, UserStatus)> {
        self.reports_by_level(id, depth.unwrap_or(usize::MAX))
            .into_iter()
            .map(|(r, e)| (r.to_owned(), e.status))
            .collect()
    }

    /// `reports` borrowed from the roster, down to `depth` levels.
    fn reports_by_level(&self, id: &str, depth: usize) -> Vec<(&str, &Entry)> {
        let mut seen: HashSet<&str> = HashSet::from([id]);
        let mut out = Vec::new();
        let mut level: Vec<&str> = vec![id];
        let mut at = 0usize;
        while !level.is_empty() && at < depth {
            let mut next = Vec::new();
            for m in level {
                for r in self.reports.get(m).into_iter().flat_map(|r| &r.ids) {
                    if seen.insert(r) {
                        if let Some(e) = self.people.get(r) {
                            out.push((&**r, e));
                        }
                        next.push(&**r);
                    }
                }
            }
            level = next;
            at += 1;
        }
        out
    }

    /// Whether everyone under `id` hangs in a tree (no manager cycle above or through `id`),
    /// so that levels can be counted without remembering whom they met.
    fn tree_below(&self, id: &str) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let mut seen: HashSet<&str> = HashSet::from([id]);
        let mut at = self.people.get(id).and_then(|e| e.manager.as_deref());
        while let Some(m) = at {
            if !seen.insert(m) {
                return false;
            }
            at = self.people.get(m).and_then(|e| e.manager.as_deref());
        }
        true
    }

    /// How many people are under `id` within `depth` levels (deprovisioned ones only with
    /// `everyone`): what `reports(id, Some(depth))` lists, counted from the forest without
    /// listing them: a person with at most `LEVELS` levels left counts with their kept levels;
    /// above that, a report whose subtree is no deeper than the levels left counts with its
    /// subtree sum, the others are walked. Also how many entries were examined.
    pub fn count_within(&self, id: &str, depth: usize, everyone: bool) -> (u64, u64) {
        if depth == 0 {
            return (0, 0);
        }
        if !self.tree_below(id) {
            let all = self.reports(id, Some(depth));
            let n = all
                .iter()
                .filter(|(_, s)| everyone || *s != UserStatus::Deprovisioned)
                .count();
            return (n as u64, all.len() as u64);
        }
        let (mut total, mut examined) = (0u64, 0u64);
        // (manager, levels left under them)
        let mut stack: Vec<(&str, usize)> = vec![(id, depth)];
        while let Some((m, left)) = stack.pop() {
            // Near enough the bottom of the walk: the kept levels (everyone naming a person in
            // the roster is linked under them in a tree).
            if left <= LEVELS
                && let Some(e) = self.people.get(m)
            {
                examined += 1;
                let k = usize::from(!everyone);
                total += e
                    .levels
                    .iter()
                    .take(left)
                    .map(|l| u64::from(l[k]))
                    .sum::<u64>();
                continue;
            }
            let Some(r) = self.reports.get(m) else {
                continue;
            };
            examined += 1;
            if left == 1 {
                total += if everyone {
                    r.ids.len() as u64
                } else {
                    u64::from(r.shown)
                };
                continue;
            }
            // Those without reports count as themselves, the others by their height.
            total += if everyone {
                (r.ids.len() - r.deep.len()) as u64
            } else {
                u64::from(r.shown - r.deep_shown)
            };
            for c in &r.deep {
                let Some(e) = self.people.get(c) else {
                    continue;
                };
                examined += 1;
                if (e.height as usize) < left {
                    total += u64::from(if everyone {
                        e.sub[PEOPLE]
                    } else {
                        e.sub[SHOWN]
                    });
                } else {
                    total += u64::from(everyone || e.shown());
                    stack.push((c, left - 1));
                }
            }
        }
        (total, examined)
    }

    /// Whether `id` is under `top` within `depth` levels (its manager chain meets `top` within
    /// `depth` steps, through people in the roster).
    fn within(&self, id: &str, top: &str, depth: usize) -> bool {
        if id == top {
            return false;
        }
        let mut at = id;
        for _ in 0..depth {
            let Some(m) = self.people.get(at).and_then(|e| e.manager.as_deref()) else {
                return false;
            };
            if m == top {
                return true;
            }
            if !self.people.contains_key(m) {
                return false;
            }
            at = m;
        }
        false
    }

    /// The ids under `id` within `depth` levels (deprovisioned ones only with `everyone`), in
    /// id order, strictly after `after`, `limit` at most, and how many entries were examined.
    /// `total` is their number (`count_within`): a large share of the org is found by reading
    /// the roster in id order and testing each person's manager (`PageWalk`), a small one by
    /// listing it.
    pub fn page_within(
        &self,
        id: &str,
        depth: usize,
        everyone: bool,
        total: u64,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<String>, u64) {
        let walk = self.page_walk(id, depth, total, limit);
        self.page_within_by(walk, id, depth, everyone, total, after, limit)
    }

    /// How `page_within` finds a page: reading in id order finds about `total / len` of what it
    /// reads, so it pays when that times the cost of a test is below listing `total` people.
    /// A test walks up to `depth - 1` managers by id (`within`: each a B-tree search), or,
    /// when the people within `depth - 1` levels are fewer than those searches would be, looks
    /// the person's manager up in a set of them, gathered first (`PageWalk::Set`). At a
    /// million people, `reports(depth: 4)` of the top reads about 1,400 entries for a page of
    /// 10: up to 4,300 searches by chain, against a set of the 970 people within 3 levels.
    fn page_walk(&self, id: &str, depth: usize, total: u64, limit: usize) -> PageWalk {
        let expected = (limit as u64).saturating_mul(self.people.len() as u64) / total.max(1);
        if expected.saturating_mul(depth as u64) >= total {
            return PageWalk::List;
        }
        let searches = expected.saturating_mul(depth.saturating_sub(1) as u64);
        if depth > 1 && self.count_within(id, depth - 1, true).0 < searches {
            PageWalk::Set
        } else {
            PageWalk::Chains
        }
    }

    /// `page_within` by the given walk (each walk is tested against a listing).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn page_within_by(
        &self,
        walk: PageWalk,
        id: &str,
        depth: usize,
        everyone: bool,
        total: u64,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<String>, u64) {
        let keep = |e: &Entry| everyone || e.shown();
        if walk != PageWalk::List {
            // The managers someone within `depth` levels can have: `id` and everyone within
            // `depth - 1` levels of it (one manager per person, so whoever is reached first
            // in the walk down is reached by the only way up).
            let set: Option<HashSet<&str>> = (walk == PageWalk::Set).then(|| {
                let mut set = HashSet::from([id]);
                set.extend(
                    self.reports_by_level(id, depth - 1)
                        .into_iter()
                        .map(|(r, _)| r),
                );
                set
            });
            let under = |p: &str, e: &Entry| match &set {
                Some(set) => p != id && e.manager.as_deref().is_some_and(|m| set.contains(m)),
                None => self.within(p, id, depth),
            };
            let from = match after {
                Some(a) => Bound::Excluded(a),
                None => Bound::Unbounded,
            };
            let mut out = Vec::new();
            let mut examined = set.as_ref().map_or(0, |s| s.len() as u64);
            let bound = examined.saturating_add(total.saturating_mul(2));
            for (p, e) in self.people.range::<str, _>((from, Bound::Unbounded)) {
                if out.len() >= limit {
                    return (out, examined);
                }
                examined += 1;
                if examined > bound {
                    break;
                }
                if keep(e) && under(p, e) {
                    out.push(p.to_string());
                }
            }
            if examined <= bound {
                return (out, examined);
            }
        }
        let all = self.reports(id, Some(depth));
        let examined = all.len() as u64;
        let mut ids: Vec<String> = all
            .into_iter()
            .filter(|(_, s)| everyone || *s != UserStatus::Deprovisioned)
            .map(|(id, _)| id)
            .filter(|i| after.is_none_or(|a| i.as_str() > a))
            .collect();
        ids.sort();
        ids.truncate(limit);
        (ids, examined)
    }

    /// Checks the forest against a computation from the manager links alone: who is linked,
    /// every subtree sum, height and levels, the candidate flags and the roots' order.
    #[cfg(test)]
    pub(crate) fn check_forest(&self) -> Result<(), String> {
        let mut kids: HashMap<&str, Vec<&str>> = HashMap::new();
        for (id, e) in &self.people {
            let manager = e
                .manager
                .as_deref()
                .filter(|m| self.people.contains_key(*m));
            match (e.linked, manager) {
                (true, Some(m)) => kids.entry(m).or_default().push(id),
                (true, None) => return Err(format!("{id} linked to nobody")),
                (false, Some(_)) if !self.pending.contains(id) => {
                    return Err(format!("{id} unlinked and not pending"));
                }
                _ => {}
            }
        }
        fn walk(
            r: &Roster,
            kids: &HashMap<&str, Vec<&str>>,
            id: &str,
        ) -> Result<([u32; 3], u32), String> {
            let e = r.people.get(id).ok_or("missing")?;
            let mut sub = [
                1,
                u32::from(e.shown()),
                u32::from(e.cand[0]) + u32::from(e.cand[1]),
            ];
            let mut height = 0;
            // Everyone below, level by level (0: the direct reports), every level.
            let mut levels: Vec<[u32; 2]> = Vec::new();
            for c in kids.get(id).into_iter().flatten() {
                let (s, h) = walk(r, kids, c)?;
                for i in 0..3 {
                    sub[i] += s[i];
                }
                height = height.max(h + 1);
            }
            let mut level: Vec<&str> = kids.get(id).cloned().unwrap_or_default();
            while !level.is_empty() {
                let mut n = [0, 0];
                let mut next = Vec::new();
                for c in level {
                    n[0] += 1;
                    n[1] += u32::from(r.people.get(c).is_some_and(Entry::shown));
                    next.extend(kids.get(c).into_iter().flatten());
                }
                levels.push(n);
                level = next;
            }
            levels.truncate(LEVELS);
            if (sub, height) != (e.sub, e.height) {
                return Err(format!(
                    "{id}: sums {:?} height {} kept, {sub:?} {height} computed",
                    e.sub, e.height
                ));
            }
            if *e.levels != *levels {
                return Err(format!(
                    "{id}: levels {:?} kept, {levels:?} computed",
                    e.levels
                ));
            }
            for k in 0..2 {
                if e.cand[k] != r.wants_flag(id, k) {
                    return Err(format!("{id}: candidate flag {k} is {}", e.cand[k]));
                }
            }
            Ok((sub, height))
        }
        for (m, r) in &self.reports {
            let deep: BTreeSet<Arc<str>> = r
                .ids
                .iter()
                .filter(|c| self.people.get(*c).is_some_and(|e| e.height > 0))
                .cloned()
                .collect();
            let shown = deep
                .iter()
                .filter(|c| self.people.get(*c).is_some_and(Entry::shown))
                .count() as u32;
            if (&deep, shown) != (&r.deep, r.deep_shown) {
                return Err(format!("{m}: reports with reports differ"));
            }
        }
        let mut roots = BTreeSet::new();
        for (id, _) in self.people.iter().filter(|(_, e)| !e.linked) {
            let (sub, _) = walk(self, &kids, id)?;
            roots.insert((Reverse(sub[PEOPLE]), id.clone()));
        }
        if roots != self.roots {
            return Err("the roots differ".into());
        }
        self.check_pairs()
    }

    /// Checks the pair counts against a count over everyone (with the heavy values as they
    /// are), and that each value is on the right side of the line for its holders.
    #[cfg(test)]
    fn check_pairs(&self) -> Result<(), String> {
        for (i, vals) in self.values.iter().enumerate() {
            for (v, holders) in vals.holders.iter().enumerate() {
                let n = holders.len();
                match vals.heavy[v] {
                    true if n < HEAVY / 2 => return Err(format!("{i}/{v}: heavy, {n} holders")),
                    false if n >= HEAVY => return Err(format!("{i}/{v}: light, {n} holders")),
                    _ => {}
                }
            }
        }
        let mut want: BTreeMap<PairKey, [u32; STATUSES]> = BTreeMap::new();
        for e in self.people.values() {
            for i in 0..5 {
                for j in i + 1..5 {
                    let (Some(a), Some(b)) = (e.values()[i], e.values()[j]) else {
                        continue;
                    };
                    if self.values[i].heavy[a as usize] && self.values[j].heavy[b as usize] {
                        want.entry(pair_key(i, a, j, b)).or_insert([0; STATUSES])
                            [status_at(e.status)] += 1;
                    }
                }
            }
        }
        let kept: BTreeMap<PairKey, [u32; STATUSES]> =
            self.pairs.iter().map(|(k, v)| (*k, *v)).collect();
        if kept != want {
            return Err(format!("pairs {kept:?} kept, {want:?} counted"));
        }
        Ok(())
    }

    /// Everyone in id order.
    pub(crate) fn people(&self) -> impl Iterator<Item = (&Arc<str>, &Entry)> {
        self.people.iter()
    }

    /// What the roster holds, counted (see `RosterSizes`).
    pub fn sizes(&self) -> RosterSizes {
        let with_levels = self.people.values().filter(|e| !e.levels.is_empty());
        RosterSizes {
            people: self.people.len(),
            entry_bytes: std::mem::size_of::<Entry>(),
            with_levels: with_levels.clone().count(),
            levels: with_levels.map(|e| e.levels.len()).sum(),
            heavy_values: self
                .values
                .iter()
                .map(|v| v.heavy.iter().filter(|h| **h).count())
                .sum(),
            pairs: self.pairs.len(),
        }
    }

    /// How many people there are.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// Whether there is nobody.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The folded value `vid` of `attr_at` position `i`.
    pub(crate) fn value_name(&self, i: usize, vid: u32) -> &str {
        &self.values[i].names[vid as usize]
    }

    /// For `(attribute, value)` comparisons (all must hold), the smallest set of people holding
    /// one of them and the value ids to check the rest against; `None` when a value is held by
    /// nobody.
    fn plan(&self, attrs: &[(Attr, &str)]) -> Option<Plan<'_>> {
        let mut want = Vec::with_capacity(attrs.len());
        let mut best: Option<&BTreeSet<Arc<str>>> = None;
        for (a, v) in attrs {
            let i = attr_at(*a);
            let vid = *self.values[i].id.get(&fold(v))?;
            let set = &self.values[i].holders[vid as usize];
            if best.is_none_or(|b| set.len() < b.len()) {
                best = Some(set);
            }
            want.push((i, vid));
        }
        Some((best?, want))
    }

    /// For the pairs of `want` (attributes apart) whose two values are both heavy: the least of
    /// their counts with a status in `statuses` (empty: any), and whether `want` is just that
    /// pair (then it is the answer, else a bound). `None` when no pair is counted.
    fn paired(&self, want: &[(usize, u32)], statuses: &[UserStatus]) -> Option<(u64, bool)> {
        let heavy = |i: usize, v: u32| self.values[i].heavy.get(v as usize) == Some(&true);
        let mut least: Option<u64> = None;
        let mut counted = 0;
        for (x, &(i, a)) in want.iter().enumerate() {
            for &(j, b) in &want[x + 1..] {
                if i == j || !heavy(i, a) || !heavy(j, b) {
                    continue;
                }
                let n: u64 = self.pairs.get(&pair_key(i, a, j, b)).map_or(0, |c| {
                    UserStatus::ALL
                        .iter()
                        .zip(c)
                        .filter(|(s, _)| statuses.is_empty() || statuses.contains(s))
                        .map(|(_, n)| u64::from(*n))
                        .sum()
                });
                counted += 1;
                least = Some(least.map_or(n, |l| l.min(n)));
            }
        }
        least.map(|n| (n, want.len() == 2 && counted == 1))
    }

    fn holds(&self, id: &str, want: &[(usize, u32)], statuses: &[UserStatus]) -> bool {
        self.people.get(id).is_some_and(|e| {
            (statuses.is_empty() || statuses.contains(&e.status))
                && want.iter().all(|(i, v)| e.values()[*i] == Some(*v))
        })
    }

    /// How many people hold every `(attribute, value)` of `attrs` with a status in `statuses`
    /// (empty: any), and how many entries were examined to tell: two heavy values from their
    /// pair count, else the holders of the rarest value (fewer than `HEAVY` when one is light).
    pub fn count(&self, attrs: &[(Attr, &str)], statuses: &[UserStatus]) -> (u64, u64) {
        let Some((set, want)) = self.plan(attrs) else {
            return (0, 0);
        };
        match self.paired(&want, statuses) {
            Some((n, true)) => return (n, 1),
            Some((0, _)) => return (0, 1),
            _ => {}
        }
        let n = set
            .iter()
            .filter(|id| self.holds(id, &want, statuses))
            .count();
        (n as u64, set.len() as u64)
    }

    /// Ids of the people holding every `(attribute, value)` of `attrs` with a status in
    /// `statuses` (empty: any), in id order, strictly after `after`: `limit` at most, and how
    /// many entries were examined. The holders of the rarest value are read in id order; with
    /// two heavy values, not at all when none hold both, and a first page stops at the last
    /// one that does (their pair count).
    pub fn ids_after(
        &self,
        attrs: &[(Attr, &str)],
        statuses: &[UserStatus],
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<String>, u64) {
        let Some((set, want)) = self.plan(attrs) else {
            return (Vec::new(), 0);
        };
        let limit = match self.paired(&want, statuses) {
            Some((0, _)) => return (Vec::new(), 1),
            Some((n, true)) if after.is_none() => limit.min(usize::try_from(n).unwrap_or(limit)),
            _ => limit,
        };
        let from = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        let mut examined = 0u64;
        let mut out = Vec::new();
        for id in set.range::<str, _>((from, Bound::Unbounded)) {
            if out.len() >= limit {
                break;
            }
            examined += 1;
            if self.holds(id, &want, statuses) {
                out.push(id.to_string());
            }
        }
        (out, examined)
    }
}
