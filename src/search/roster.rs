//! Every person's status, manager and counted attributes in memory, kept per change sequence:
//! built from one scan, then moved forward by re-reading only the people the change log names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use crate::model::{Change, Entity, Person, UserStatus};
use crate::store::{Attr, Store, StoreError};

/// How an attribute value is compared: trimmed and lower-cased, as `PersonFilter` does.
pub(crate) fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// What the roster holds of one person.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub status: UserStatus,
    /// The resolved manager id, as stored (the manager may be missing from the mirror).
    pub manager: Option<Arc<str>>,
    /// Per attribute of `Attr::ALL`, the id of the folded value (see `Values`).
    pub values: [Option<u32>; 5],
    /// `department` and `division` as spelled (a unit's display name is the most common one).
    pub spelled: [Option<Arc<str>>; 2],
}

/// One attribute's folded values, each with the ids of the people holding it (in id order).
#[derive(Debug, Default)]
struct Values {
    id: HashMap<String, u32>,
    names: Vec<String>,
    holders: Vec<BTreeSet<Arc<str>>>,
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
        i
    }
}

/// The holders of one value to read, and the `(attribute position, value id)` pairs each must
/// hold.
type Plan<'r> = (&'r BTreeSet<Arc<str>>, Vec<(usize, u32)>);

/// The people of the store at one change sequence.
#[derive(Debug, Default)]
pub struct Roster {
    seq: u64,
    people: BTreeMap<Arc<str>, Entry>,
    values: [Values; 5],
    /// Spellings shared between entries (`department` and `division` values repeat).
    spellings: BTreeSet<Arc<str>>,
    /// Each manager id's direct reports (people naming it, whether or not it is stored).
    reports: HashMap<Arc<str>, BTreeSet<Arc<str>>>,
    /// Bumped whenever what departments depend on changed: someone's unit, its spelling,
    /// their manager, or whether they are deprovisioned.
    units_version: u64,
}

fn attr_at(a: Attr) -> usize {
    Attr::ALL.iter().position(|x| *x == a).unwrap_or(0)
}

impl Roster {
    /// One scan of the store.
    pub fn build(store: &Store) -> Result<Roster, StoreError> {
        let seq = store.last_seq()?;
        let mut r = Roster {
            seq,
            ..Roster::default()
        };
        for p in store.people_after(None) {
            r.put(&p?);
        }
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
        if target < self.seq || store.first_seq()?.is_none_or(|f| f > self.seq + 1) {
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
        for id in touched {
            let old = self.remove(&id);
            if let Some(p) = store.person(&id)? {
                self.put(&p);
            }
            let unit = |e: &Entry| {
                (
                    e.status == UserStatus::Deprovisioned,
                    e.manager.clone(),
                    e.values[..2].to_vec(),
                    e.spelled.clone(),
                )
            };
            if old.as_ref().map(unit) != self.people.get(id.as_str()).map(unit) {
                self.units_version += 1;
            }
        }
        self.seq = target;
        Ok(true)
    }

    fn spelling(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.spellings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.spellings.insert(a.clone());
        a
    }

    fn put(&mut self, p: &Person) {
        let id: Arc<str> = Arc::from(p.id.as_str());
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
        if let Some(m) = &p.manager_id {
            self.reports
                .entry(Arc::from(m.as_str()))
                .or_default()
                .insert(id.clone());
        }
        let entry = Entry {
            status: p.status,
            manager: p.manager_id.as_deref().map(Arc::from),
            values,
            spelled,
        };
        self.people.insert(id, entry);
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let old = self.people.remove(id)?;
        if let Some(m) = &old.manager
            && let Some(r) = self.reports.get_mut(m)
        {
            r.remove(id);
            if r.is_empty() {
                self.reports.remove(m);
            }
        }
        for (i, v) in old.values.iter().enumerate() {
            if let Some(v) = v {
                self.values[i].holders[*v as usize].remove(id);
            }
        }
        Some(old)
    }

    /// Everyone under `id`, nearest levels first (breadth-first, each level in id order), down
    /// to `depth` levels (1 = direct reports; `None` = all), with their statuses; `id` itself
    /// never. The same walk as `search::reports`, in memory.
    pub fn reports(&self, id: &str, depth: Option<usize>) -> Vec<(String, UserStatus)> {
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::from([id]);
        let mut out = Vec::new();
        let mut level: Vec<&str> = vec![id];
        let mut at = 0usize;
        while !level.is_empty() && depth.is_none_or(|d| at < d) {
            let mut next = Vec::new();
            for m in level {
                for r in self.reports.get(m).into_iter().flatten() {
                    if seen.insert(r) {
                        if let Some(e) = self.people.get(r) {
                            out.push((r.to_string(), e.status));
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

    /// Everyone in id order.
    pub(crate) fn people(&self) -> impl Iterator<Item = (&Arc<str>, &Entry)> {
        self.people.iter()
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

    fn holds(&self, id: &str, want: &[(usize, u32)], statuses: &[UserStatus]) -> bool {
        self.people.get(id).is_some_and(|e| {
            (statuses.is_empty() || statuses.contains(&e.status))
                && want.iter().all(|(i, v)| e.values[*i] == Some(*v))
        })
    }

    /// How many people hold every `(attribute, value)` of `attrs` with a status in `statuses`
    /// (empty: any), and how many entries were examined to tell.
    pub fn count(&self, attrs: &[(Attr, &str)], statuses: &[UserStatus]) -> (u64, u64) {
        let Some((set, want)) = self.plan(attrs) else {
            return (0, 0);
        };
        let n = set
            .iter()
            .filter(|id| self.holds(id, &want, statuses))
            .count();
        (n as u64, set.len() as u64)
    }

    /// Ids of the people holding every `(attribute, value)` of `attrs` with a status in
    /// `statuses` (empty: any), in id order, strictly after `after`: `limit` at most, and how
    /// many entries were examined.
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
