//! Departments and divisions derived from people's attributes: members, headcount, the head
//! (the highest member whose manager is outside the unit), managers and sub-units. `of`
//! computes the whole table from the roster (`roster.rs`); `OrgCache` keeps one, recomputing
//! after a change only the units the roster marked (the changed people's old and new units,
//! units whose head candidates moved in the hierarchy or changed org size).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::idlist::IdList;
use super::roster::{Roster, RosterSizes};
use crate::model::UserStatus;
use crate::store::{Attr, Store, StoreError};

/// Whether a unit comes from the `department` or the `division` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitKind {
    /// From `profile.department`.
    Department,
    /// From `profile.division`.
    Division,
}

/// A department or division. Deprovisioned people are not members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// The name as most members spell it.
    pub name: String,
    /// Department or division.
    pub kind: UnitKind,
    /// Member ids in id order (shared with the roster and earlier tables, not copied).
    pub members: IdList,
    /// The member whose manager is outside the unit (or who has none), highest in the
    /// hierarchy; ties go to the larger org. `None` for an empty unit.
    pub head: Option<Arc<str>>,
    /// Members with at least one direct report, in id order.
    pub managers: IdList,
    /// Names of the units of the other kind wholly inside this one (a division's departments,
    /// or a department's divisions where an org nests them that way).
    pub sub_departments: Vec<String>,
    /// The unit of the other kind holding every member, if there is one.
    pub parent: Option<String>,
}

/// Every department and division.
#[derive(Debug, Default)]
pub struct Departments {
    /// Every department, by name (case-insensitive).
    pub departments: Vec<Arc<Department>>,
    /// Every division, by name (case-insensitive).
    pub divisions: Vec<Arc<Department>>,
}

fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// What the computation needs of a person.
struct Row<'r> {
    manager: Option<usize>,
    /// The folded `department` and `division` (value ids of the roster).
    unit: [Option<u32>; 2],
    /// The same as spelled.
    spelled: [Option<&'r str>; 2],
    active: bool,
}

impl Departments {
    /// One scan of the store: people, their managers and their units.
    pub fn compute(store: &Store) -> Result<Departments, StoreError> {
        Ok(Departments::of(&Roster::build(store)?))
    }

    /// The units of the people in `roster` (memory only, no store read).
    pub fn of(roster: &Roster) -> Departments {
        let people: Vec<&Arc<str>> = roster.people().map(|(id, _)| id).collect();
        let index: HashMap<&str, usize> =
            people.iter().enumerate().map(|(i, p)| (&***p, i)).collect();
        let rows: Vec<Row> = roster
            .people()
            .map(|(_, e)| Row {
                manager: e.manager.as_deref().and_then(|m| index.get(m).copied()),
                unit: [e.values()[0], e.values()[1]],
                spelled: [e.spelled[0].as_deref(), e.spelled[1].as_deref()],
                active: e.status != UserStatus::Deprovisioned,
            })
            .collect();
        let depth = depths(&rows);
        let org_size = org_sizes(&rows, &depth);
        let mut has_reports = vec![false; rows.len()];
        for r in rows.iter().filter(|r| r.active) {
            if let Some(m) = r.manager {
                has_reports[m] = true;
            }
        }

        let build = |kind: UnitKind| -> Vec<Department> {
            // `Attr::ALL` begins with department, then division.
            let (this, other) = match kind {
                UnitKind::Department => (0, 1),
                UnitKind::Division => (1, 0),
            };
            let mut by_value: HashMap<u32, Vec<usize>> = HashMap::new();
            for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.active) {
                if let Some(v) = r.unit[this] {
                    by_value.entry(v).or_default().push(i);
                }
            }
            let mut units: Vec<(&str, Vec<usize>)> = by_value
                .into_iter()
                .map(|(v, members)| (roster.value_name(this, v), members))
                .collect();
            units.sort_by(|a, b| a.0.cmp(b.0));
            units
                .into_iter()
                .map(|(_, members)| {
                    let in_unit = |i: usize| members.binary_search(&i).is_ok();
                    let head = members
                        .iter()
                        .copied()
                        .filter(|&i| rows[i].manager.is_none_or(|m| !in_unit(m)))
                        .min_by(|&a, &b| {
                            depth[a]
                                .cmp(&depth[b])
                                .then(org_size[b].cmp(&org_size[a]))
                                .then(people[a].cmp(people[b]))
                        });
                    let first_other = members.first().map(|&i| rows[i].unit[other]);
                    let parent = match first_other {
                        Some(Some(first))
                            if members.iter().all(|&i| rows[i].unit[other] == Some(first)) =>
                        {
                            most_common(members.iter().filter_map(|&i| rows[i].spelled[other]))
                        }
                        _ => None,
                    };
                    let ids: IdList = members.iter().map(|&i| people[i].clone()).collect();
                    let managers: IdList = members
                        .iter()
                        .filter(|&&i| has_reports[i])
                        .map(|&i| people[i].clone())
                        .collect();
                    Department {
                        name: most_common(members.iter().filter_map(|&i| rows[i].spelled[this]))
                            .unwrap_or_default(),
                        kind,
                        members: ids,
                        head: head.map(|i| people[i].clone()),
                        managers,
                        sub_departments: Vec::new(),
                        parent,
                    }
                })
                .collect()
        };
        let mut departments = build(UnitKind::Department);
        let mut divisions = build(UnitKind::Division);
        link_children(&mut divisions, &departments);
        link_children(&mut departments, &divisions);
        Departments {
            departments: departments.into_iter().map(Arc::new).collect(),
            divisions: divisions.into_iter().map(Arc::new).collect(),
        }
    }

    /// A department by name, case-insensitive; else a division of that name.
    pub fn find(&self, name: &str) -> Option<&Arc<Department>> {
        let k = key(name);
        self.departments
            .iter()
            .chain(&self.divisions)
            .find(|d| key(&d.name) == k)
    }
}

/// Records in each parent the children wholly inside it (and smaller than it).
fn link_children(parents: &mut [Department], children: &[Department]) {
    for p in parents.iter_mut() {
        p.sub_departments = children
            .iter()
            .filter(|c| {
                c.parent.as_deref().map(key) == Some(key(&p.name))
                    && c.members.len() < p.members.len()
            })
            .map(|c| c.name.clone())
            .collect();
    }
}

/// The most frequent value (ties: the smallest), as the unit's display name.
fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(v, _)| v.to_owned())
}

/// Each person's distance from the top of the org: the largest hierarchy (the one holding the
/// most people). People in smaller, detached hierarchies (left by unresolvable managers or broken
/// cycles) rank below everyone in it, so such a root never passes for a department head.
fn depths(rows: &[Row]) -> Vec<usize> {
    const UNKNOWN: usize = usize::MAX;
    let mut depth = vec![UNKNOWN; rows.len()];
    let mut root = vec![usize::MAX; rows.len()];
    for start in 0..rows.len() {
        let mut path = Vec::new();
        let mut cur = Some(start);
        let (mut base, mut top) = (0, start);
        while let Some(i) = cur {
            if depth[i] != UNKNOWN {
                (base, top) = (depth[i] + 1, root[i]);
                break;
            }
            if path.contains(&i) {
                break;
            }
            top = i;
            path.push(i);
            cur = rows[i].manager;
        }
        for (n, &i) in path.iter().rev().enumerate() {
            depth[i] = base + n;
            root[i] = top;
        }
    }
    let mut tree_size: HashMap<usize, usize> = HashMap::new();
    for &r in &root {
        *tree_size.entry(r).or_default() += 1;
    }
    let main = tree_size
        .iter()
        .max_by_key(|(r, n)| (**n, std::cmp::Reverse(**r)))
        .map(|(r, _)| *r);
    for (i, d) in depth.iter_mut().enumerate() {
        if Some(root[i]) != main {
            *d = d.saturating_add(rows.len());
        }
    }
    depth
}

/// Each person's org size: everyone under them, deprovisioned people not counted.
fn org_sizes(rows: &[Row], depth: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|a, b| depth[*b].cmp(&depth[*a]));
    let mut size = vec![0usize; rows.len()];
    for i in order {
        if let Some(m) = rows[i].manager
            && depth[m] + 1 == depth[i]
        {
            size[m] += size[i] + usize::from(rows[i].active);
        }
    }
    size
}

/// What one read of an [`OrgCache`] cost: people read from the store (a build scans everyone,
/// a catch-up reads the changed ones) and roster entries examined in memory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// People read from the store.
    pub read: u64,
    /// Roster entries examined.
    pub examined: u64,
}

/// The [`Roster`] and its [`Departments`], shared by every request: the first use scans the
/// store, later ones re-read only the people changed since (the change log). The departments
/// are kept as a table of rows, one per unit: after a change, only the units the roster marked
/// are computed again (see `Table::refresh`); while the manager links hold a cycle (which the
/// sync breaks, so only hand-made stores hold one), the table is computed whole by
/// [`Departments::of`] after each change to someone's unit, manager or deprovisioning.
#[derive(Default)]
pub struct OrgCache {
    state: Mutex<Option<Cached>>,
}

struct Cached {
    roster: Roster,
    /// The table kept per unit (acyclic rosters).
    table: Option<Table>,
    /// The whole-table answer of a roster with a cycle, and its `units_version`.
    departments: Option<(u64, Arc<Departments>)>,
}

/// The department table kept per unit.
struct Table {
    /// The top of the largest hierarchy when the rows were computed (heads rank by it).
    main: Option<Arc<str>>,
    /// Departments (0) and divisions (1) by the roster's value id.
    rows: [BTreeMap<u32, Arc<Department>>; 2],
    out: Arc<Departments>,
}

/// The most frequent value (ties: the smallest) of counted values.
fn most_counted(counts: &BTreeMap<Arc<str>, u32>) -> Option<String> {
    let mut best: Option<(&Arc<str>, u32)> = None;
    for (v, n) in counts {
        if best.is_none_or(|(_, b)| *n > b) {
            best = Some((v, *n));
        }
    }
    best.map(|(v, _)| v.to_string())
}

const KINDS: [UnitKind; 2] = [UnitKind::Department, UnitKind::Division];

impl Table {
    /// Every unit computed from the roster.
    fn build(roster: &Roster) -> Table {
        let mut t = Table {
            main: roster.main_root(),
            rows: [BTreeMap::new(), BTreeMap::new()],
            out: Arc::new(Departments::default()),
        };
        let all: [BTreeSet<u32>; 2] = [0, 1].map(|k| roster.units(k).map(|(v, _)| v).collect());
        t.recompute(roster, &all);
        t
    }

    /// Moves the table to the roster's state: only the units it marked since the last refresh
    /// (all of them when it says so, or when the largest hierarchy has another top).
    fn refresh(&mut self, roster: &mut Roster) {
        let (dirty, all) = roster.take_dirty();
        let main = roster.main_root();
        if all || main != self.main {
            *self = Table::build(roster);
        } else if dirty.iter().any(|d| !d.is_empty()) {
            self.recompute(roster, &dirty);
        }
    }

    /// Computes the rows of `units` again, then the sub-units of every row and the answer.
    fn recompute(&mut self, roster: &Roster, units: &[BTreeSet<u32>; 2]) {
        let main = roster.main_root();
        let mut memo = HashMap::new();
        for (k, vids) in units.iter().enumerate() {
            for &v in vids {
                let built = Self::row(roster, k, v, self.rows[k].get(&v), &main, &mut memo);
                match built {
                    Some(b) => self.rows[k].insert(v, b),
                    None => self.rows[k].remove(&v),
                };
            }
        }
        self.link_children(roster);
        let sorted = |k: usize| -> Vec<Arc<Department>> {
            let mut rows: Vec<(&str, &Arc<Department>)> = self.rows[k]
                .iter()
                .map(|(v, d)| (roster.value_name(k, *v), d))
                .collect();
            rows.sort_by(|a, b| a.0.cmp(b.0));
            rows.into_iter().map(|(_, d)| d.clone()).collect()
        };
        self.out = Arc::new(Departments {
            departments: sorted(0),
            divisions: sorted(1),
        });
    }

    /// The row of unit `v` of kind `k` (`None`: nobody holds it), its lists shared with the
    /// roster's.
    fn row(
        roster: &Roster,
        k: usize,
        v: u32,
        old: Option<&Arc<Department>>,
        main: &Option<Arc<str>>,
        memo: &mut HashMap<Arc<str>, (u32, Arc<str>)>,
    ) -> Option<Arc<Department>> {
        let unit = roster.unit(k, v).filter(|u| !u.members.is_empty())?;
        // The same order as `Departments::of`: the largest hierarchy first, then nearest the
        // top, then the larger org, then the smallest id.
        let head = unit
            .candidates
            .iter()
            .map(|c| {
                let (depth, root) = roster.place(c, memo);
                (
                    main.as_deref() != Some(&*root),
                    depth,
                    std::cmp::Reverse(roster.org_size(c)),
                    c,
                )
            })
            .min()
            .map(|(.., c)| c.clone());
        let parent = match unit.other.keys().collect::<Vec<_>>()[..] {
            [Some(_)] => most_counted(&unit.other_spellings),
            _ => None,
        };
        let sub_departments = old.map(|d| d.sub_departments.clone()).unwrap_or_default();
        Some(Arc::new(Department {
            name: most_counted(&unit.spellings).unwrap_or_default(),
            kind: KINDS[k],
            members: unit.members.clone(),
            head,
            managers: unit.managers.clone(),
            sub_departments,
            parent,
        }))
    }

    /// Records in each row the units of the other kind wholly inside it (and smaller), in name
    /// order: what `link_children` does for `Departments::of`.
    fn link_children(&mut self, roster: &Roster) {
        for k in 0..2 {
            let o = 1 - k;
            let mut children: Vec<(&str, u32, usize, &str)> = Vec::new();
            for (v, d) in &self.rows[o] {
                let parent = roster
                    .unit(o, *v)
                    .and_then(|u| match u.other.keys().next() {
                        Some(Some(p)) if u.other.len() == 1 => Some(*p),
                        _ => None,
                    });
                if let Some(p) = parent {
                    children.push((roster.value_name(o, *v), p, d.members.len(), &d.name));
                }
            }
            children.sort_by(|a, b| a.0.cmp(b.0));
            let mut inside: HashMap<u32, Vec<(usize, String)>> = HashMap::new();
            for (_, p, n, name) in children {
                inside.entry(p).or_default().push((n, name.to_owned()));
            }
            for (v, row) in self.rows[k].iter_mut() {
                let n = row.members.len();
                let subs: Vec<String> = inside
                    .get(v)
                    .into_iter()
                    .flatten()
                    .filter(|(m, _)| *m < n)
                    .map(|(_, name)| name.clone())
                    .collect();
                if subs != row.sub_departments {
                    let mut d = (**row).clone();
                    d.sub_departments = subs;
                    *row = Arc::new(d);
                }
            }
        }
    }
}

impl OrgCache {
    /// Runs `f` on the roster caught up with the store.
    fn with<T>(
        &self,
        store: &Store,
        f: impl FnOnce(&mut Cached) -> T,
    ) -> Result<(T, Work), StoreError> {
        // A panic elsewhere cannot leave the state half-written: a catch-up that fails is
        // dropped whole below, and a roster only changes inside `catch_up`.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut work = Work::default();
        let fresh = match state.as_mut() {
            Some(c) => {
                let before = c.roster.seq();
                let caught_up = c.roster.catch_up(store);
                match caught_up {
                    Ok(true) => {
                        work.read = c.roster.seq() - before;
                        false
                    }
                    Ok(false) => true,
                    Err(e) => {
                        *state = None;
                        return Err(e);
                    }
                }
            }
            None => true,
        };
        if fresh {
            let roster = Roster::build(store)?;
            work.read = roster.len() as u64;
            *state = Some(Cached {
                roster,
                table: None,
                departments: None,
            });
        }
        let Some(c) = state.as_mut() else {
            return Err(StoreError::Internal("org cache lost its roster".into()));
        };
        Ok((f(c), work))
    }

    /// The current `Departments`: the units a change touched are computed again in memory
    /// (everything, while the manager links hold a cycle).
    pub fn departments(&self, store: &Store) -> Result<(Arc<Departments>, Work), StoreError> {
        self.with(store, |c| {
            if !c.roster.acyclic() {
                c.table = None;
                let version = c.roster.units_version();
                return match &c.departments {
                    Some((v, d)) if *v == version => d.clone(),
                    _ => {
                        let d = Arc::new(Departments::of(&c.roster));
                        c.departments = Some((version, d.clone()));
                        d
                    }
                };
            }
            c.departments = None;
            match &mut c.table {
                Some(t) => {
                    t.refresh(&mut c.roster);
                    t.out.clone()
                }
                None => {
                    c.roster.take_dirty();
                    let t = Table::build(&c.roster);
                    let out = t.out.clone();
                    c.table = Some(t);
                    out
                }
            }
        })
    }

    /// How many people the caller may see under `id` within `depth` levels, and the page of
    /// them in id order strictly after `after` (`limit` at most), counted and found without
    /// listing everyone (`Roster::count_within`, `Roster::page_within`).
    #[allow(clippy::too_many_arguments)]
    pub fn reports_within(
        &self,
        store: &Store,
        id: &str,
        depth: usize,
        everyone: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<((u64, Vec<String>), Work), StoreError> {
        let ((n, page, examined), mut work) = self.with(store, |c| {
            let (n, counted) = c.roster.count_within(id, depth, everyone);
            let (page, paged) = c.roster.page_within(id, depth, everyone, n, after, limit);
            (n, page, counted + paged)
        })?;
        work.examined = examined;
        Ok(((n, page), work))
    }

    /// Whether the last `departments` answer came from the table kept per unit (not from a
    /// whole computation).
    #[cfg(test)]
    pub(crate) fn keeps_table(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.as_ref().is_some_and(|c| c.table.is_some())
    }

    /// `Roster::check_forest` of the roster held (as it stands, not caught up).
    #[cfg(test)]
    pub(crate) fn check_forest(&self) -> Result<(), String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.as_ref().map_or(Ok(()), |c| c.roster.check_forest())
    }

    /// How many people hold every `(attribute, value)` of `attrs` with a status in `statuses`
    /// (empty: any).
    pub fn count(
        &self,
        store: &Store,
        attrs: &[(Attr, &str)],
        statuses: &[UserStatus],
    ) -> Result<(u64, Work), StoreError> {
        let ((n, examined), mut work) = self.with(store, |c| c.roster.count(attrs, statuses))?;
        work.examined = examined;
        Ok((n, work))
    }

    /// Ids of the people holding every `(attribute, value)` of `attrs` with a status in
    /// `statuses` (empty: any), in id order, strictly after `after`, `limit` at most.
    pub fn ids_after(
        &self,
        store: &Store,
        attrs: &[(Attr, &str)],
        statuses: &[UserStatus],
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Work), StoreError> {
        let ((ids, examined), mut work) =
            self.with(store, |c| c.roster.ids_after(attrs, statuses, after, limit))?;
        work.examined = examined;
        Ok((ids, work))
    }

    /// What the roster holds (`Roster::sizes`), caught up with the store.
    pub fn sizes(&self, store: &Store) -> Result<RosterSizes, StoreError> {
        Ok(self.with(store, |c| c.roster.sizes())?.0)
    }

    /// Everyone under `id` down to `depth` levels (`None`: all), with their statuses, nearest
    /// levels first: `search::reports`, walked in memory.
    pub fn reports(
        &self,
        store: &Store,
        id: &str,
        depth: Option<usize>,
    ) -> Result<(Vec<(String, UserStatus)>, Work), StoreError> {
        let (found, mut work) = self.with(store, |c| c.roster.reports(id, depth))?;
        work.examined = found.len() as u64;
        Ok((found, work))
    }
}
