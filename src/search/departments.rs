//! Departments and divisions derived from people's attributes: members, headcount, the head
//! (the highest member whose manager is outside the unit), managers and sub-units. Computed from
//! one scan of the store and cached until the store's change sequence moves.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::model::{Person, UserStatus};
use crate::store::{Store, StoreError};

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
    /// Member ids in id order.
    pub members: Vec<String>,
    /// The member whose manager is outside the unit (or who has none), highest in the
    /// hierarchy; ties go to the larger org. `None` for an empty unit.
    pub head: Option<String>,
    /// Members with at least one direct report, in id order.
    pub managers: Vec<String>,
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
    pub departments: Vec<Department>,
    /// Every division, by name (case-insensitive).
    pub divisions: Vec<Department>,
}

fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// What the computation needs of a person.
struct Row {
    manager: Option<usize>,
    department: Option<String>,
    division: Option<String>,
    active: bool,
}

impl Departments {
    /// One scan of the store: people, their managers and their units.
    pub fn compute(store: &Store) -> Result<Departments, StoreError> {
        let people: Vec<Person> = store.people_after(None).collect::<Result<_, _>>()?;
        let index: HashMap<&str, usize> = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let rows: Vec<Row> = people
            .iter()
            .map(|p| Row {
                manager: p.manager_id.as_deref().and_then(|m| index.get(m).copied()),
                department: p.department.clone(),
                division: p.division.clone(),
                active: p.status != UserStatus::Deprovisioned,
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
            let attr = |r: &Row| match kind {
                UnitKind::Department => r.department.clone(),
                UnitKind::Division => r.division.clone(),
            };
            let other = |r: &Row| match kind {
                UnitKind::Department => r.division.clone(),
                UnitKind::Division => r.department.clone(),
            };
            let mut units: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.active) {
                if let Some(v) = attr(r) {
                    units.entry(key(&v)).or_default().push(i);
                }
            }
            units
                .into_values()
                .map(|members| {
                    let in_unit = |i: usize| members.binary_search(&i).is_ok();
                    let head = members
                        .iter()
                        .copied()
                        .filter(|&i| rows[i].manager.is_none_or(|m| !in_unit(m)))
                        .min_by(|&a, &b| {
                            depth[a]
                                .cmp(&depth[b])
                                .then(org_size[b].cmp(&org_size[a]))
                                .then(people[a].id.cmp(&people[b].id))
                        });
                    let parent_keys: Vec<Option<String>> = members
                        .iter()
                        .map(|&i| other(&rows[i]).map(|v| key(&v)))
                        .collect();
                    let parent = match parent_keys.first() {
                        Some(Some(first))
                            if parent_keys.iter().all(|k| k.as_ref() == Some(first)) =>
                        {
                            most_common(members.iter().filter_map(|&i| other(&rows[i])))
                        }
                        _ => None,
                    };
                    let mut ids: Vec<String> =
                        members.iter().map(|&i| people[i].id.clone()).collect();
                    ids.sort();
                    let mut managers: Vec<String> = members
                        .iter()
                        .filter(|&&i| has_reports[i])
                        .map(|&i| people[i].id.clone())
                        .collect();
                    managers.sort();
                    Department {
                        name: most_common(members.iter().filter_map(|&i| attr(&rows[i])))
                            .unwrap_or_default(),
                        kind,
                        members: ids,
                        head: head.map(|i| people[i].id.clone()),
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
        Ok(Departments {
            departments,
            divisions,
        })
    }

    /// A department by name, case-insensitive; else a division of that name.
    pub fn find(&self, name: &str) -> Option<&Department> {
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
fn most_common(values: impl Iterator<Item = String>) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(v, _)| v)
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

/// `Departments` cached per store change sequence: recomputed only after the store changed.
#[derive(Default)]
pub struct DepartmentCache {
    cached: Mutex<Option<(u64, Arc<Departments>)>>,
}

impl DepartmentCache {
    /// The current `Departments`: the cached ones while the store's change sequence is
    /// unchanged, else a fresh computation (which is then cached).
    pub fn get(&self, store: &Store) -> Result<Arc<Departments>, StoreError> {
        self.get_or_compute(store).map(|(d, _)| d)
    }

    /// Like `get`, and whether this call computed the table (a whole-org scan) rather than
    /// finding it cached, so a caller can account for the work.
    pub fn get_or_compute(&self, store: &Store) -> Result<(Arc<Departments>, bool), StoreError> {
        let seq = store.last_seq()?;
        // A panic elsewhere cannot leave the cache half-written: it holds a whole value or none.
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, d)) = cached.as_ref()
            && *s == seq
        {
            return Ok((d.clone(), false));
        }
        let d = Arc::new(Departments::compute(store)?);
        *cached = Some((seq, d.clone()));
        Ok((d, true))
    }
}
