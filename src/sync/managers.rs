//! Manager resolution: turns each person's free-text `managerId` / `manager` into the Okta id of
//! their manager, breaking cycles and reporting what matched nobody. Pure: no I/O.

use std::collections::HashMap;

use crate::model::{ManagerReport, Person, UserStatus};

/// Which person field a `profile.managerId` value is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerKey {
    /// Okta's `profile.employeeNumber`.
    EmployeeNumber,
    /// The Okta user id (`00u…`).
    Id,
    /// The provisioning client's id for the person (SCIM `externalId`: for Okta's SCIM app, the
    /// Okta user id, which is what Okta's `managerId` usually holds).
    ExternalId,
    /// Okta's `profile.login`.
    Login,
    /// Okta's `profile.email`.
    Email,
}

impl std::str::FromStr for ManagerKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "employee_number" | "employeenumber" => Ok(ManagerKey::EmployeeNumber),
            "id" => Ok(ManagerKey::Id),
            "external_id" | "externalid" => Ok(ManagerKey::ExternalId),
            "login" => Ok(ManagerKey::Login),
            "email" => Ok(ManagerKey::Email),
            other => Err(format!(
                "unknown manager key \"{other}\": use employee_number, id, external_id, login or email"
            )),
        }
    }
}

/// How `profile.managerId` is matched: keys tried in order, then (optionally) `profile.manager`
/// against display names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    /// Person fields tried in order; the first that matches exactly one person wins.
    pub keys: Vec<ManagerKey>,
    /// When no key matches, also match `profile.manager` against display names (only if exactly one
    /// person has that name).
    pub name_fallback: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            keys: vec![
                ManagerKey::EmployeeNumber,
                ManagerKey::Id,
                ManagerKey::ExternalId,
                ManagerKey::Login,
                ManagerKey::Email,
            ],
            name_fallback: true,
        }
    }
}

/// The outcome: each person's resolved manager (absent = root or unresolved) and the report.
pub struct Resolution {
    /// Resolved managers: person id to manager's person id.
    pub managers: HashMap<String, String>,
    /// What matched nobody, what was ambiguous and which cycles were broken.
    pub report: ManagerReport,
}

/// Resolves every person's manager. Where a key is shared (Okta enforces no uniqueness on
/// employee numbers or emails), a person who is not deprovisioned wins, then the lowest id.
pub fn resolve<'p, I>(people: I, cfg: &ManagerConfig) -> Resolution
where
    I: IntoIterator<Item = &'p Person>,
    I::IntoIter: Clone,
{
    let people = people.into_iter();
    let fold = |s: &str| s.trim().to_lowercase();
    let mut by_empno: HashMap<String, &Person> = HashMap::new();
    let mut by_login: HashMap<String, &Person> = HashMap::new();
    let mut by_email: HashMap<String, &Person> = HashMap::new();
    let mut by_id: HashMap<&str, &Person> = HashMap::new();
    let mut by_external: HashMap<String, &Person> = HashMap::new();
    // display name → person, or None when two people share the name (ambiguous).
    let mut by_name: HashMap<String, Option<&Person>> = HashMap::new();
    for p in people.clone() {
        by_id.insert(p.id.as_str(), p);
        if let Some(x) = &p.external_id {
            insert_best(&mut by_external, x.trim().to_owned(), p);
        }
        insert_best(&mut by_login, fold(&p.login), p);
        if let Some(e) = &p.email {
            insert_best(&mut by_email, fold(e), p);
        }
        if let Some(n) = &p.employee_number {
            insert_best(&mut by_empno, n.trim().to_owned(), p);
        }
        by_name
            .entry(fold(&p.name()))
            .and_modify(|v| *v = None)
            .or_insert(Some(p));
    }

    let mut managers: HashMap<String, String> = HashMap::new();
    let mut report = ManagerReport::default();
    for p in people {
        let by_key = p.manager_ref.as_deref().and_then(|v| {
            cfg.keys.iter().find_map(|k| match k {
                ManagerKey::EmployeeNumber => by_empno.get(v.trim()).copied(),
                ManagerKey::Id => by_id.get(v.trim()).copied(),
                ManagerKey::ExternalId => by_external.get(v.trim()).copied(),
                ManagerKey::Login => by_login.get(&fold(v)).copied(),
                ManagerKey::Email => by_email.get(&fold(v)).copied(),
            })
        });
        let by_display = || {
            if !cfg.name_fallback {
                return None;
            }
            p.manager_name
                .as_deref()
                .and_then(|n| by_name.get(&fold(n)).copied().flatten())
        };
        match by_key.or_else(by_display) {
            Some(m) if m.id == p.id => {} // self-managed: a root
            Some(m) => {
                managers.insert(p.id.clone(), m.id.clone());
            }
            None => {
                if let Some(v) = p.manager_ref.as_deref().or(p.manager_name.as_deref()) {
                    report.unresolved.push((p.id.clone(), v.to_owned()));
                }
            }
        }
    }
    report.cycles = break_cycles(&mut managers);
    report.unresolved.sort();
    Resolution { managers, report }
}

/// True when two versions of a person resolve managers alike: same keys others may match
/// them by, same references to their own manager. Only a change here can move anyone's
/// manager, so other edits (a title, a city) skip resolution.
pub fn same_manager_inputs(a: &Person, b: &Person) -> bool {
    (a.status == UserStatus::Deprovisioned) == (b.status == UserStatus::Deprovisioned)
        && a.login == b.login
        && a.email == b.email
        && a.employee_number == b.employee_number
        && a.external_id == b.external_id
        && a.name() == b.name()
        && a.manager_ref == b.manager_ref
        && a.manager_name == b.manager_name
}

/// Keeps, for a shared key, the person who is not deprovisioned, then the lowest id.
fn insert_best<'p>(map: &mut HashMap<String, &'p Person>, key: String, p: &'p Person) {
    let rank = |p: &Person| (p.status == UserStatus::Deprovisioned, p.id.clone());
    match map.get(&key) {
        Some(old) if rank(old) <= rank(p) => {}
        _ => {
            map.insert(key, p);
        }
    }
}

/// Finds every cycle in the manager graph (each node has at most one manager, so cycles are
/// disjoint) and breaks each by making its lowest id a root. Returns the cycles, root first.
fn break_cycles(managers: &mut HashMap<String, String>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        OnPath,
        Done,
    }
    let mut state: HashMap<String, State> = HashMap::new();
    let mut cycles = Vec::new();
    let mut starts: Vec<String> = managers.keys().cloned().collect();
    starts.sort();
    for start in starts {
        let mut path: Vec<String> = Vec::new();
        let mut cur = Some(start);
        while let Some(node) = cur {
            match state.get(&node) {
                Some(State::Done) => break,
                Some(State::OnPath) => {
                    if let Some(pos) = path.iter().position(|n| *n == node) {
                        let mut cycle = path[pos..].to_vec();
                        let min = cycle
                            .iter()
                            .enumerate()
                            .min_by(|a, b| a.1.cmp(b.1))
                            .map(|(i, _)| i);
                        if let Some(i) = min {
                            cycle.rotate_left(i);
                            managers.remove(&cycle[0]);
                        }
                        cycles.push(cycle);
                    }
                    break;
                }
                None => {
                    state.insert(node.clone(), State::OnPath);
                    cur = managers.get(&node).cloned();
                    path.push(node);
                }
            }
        }
        for n in path {
            state.insert(n, State::Done);
        }
    }
    cycles.sort();
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(id: &str, empno: &str, manager_ref: Option<&str>, manager_name: Option<&str>) -> Person {
        let mut profile = json!({"login": format!("{id}@x.com"), "email": format!("{id}@x.com"),
            "employeeNumber": empno, "displayName": format!("Name {id}")});
        if let Some(m) = manager_ref {
            profile["managerId"] = json!(m);
        }
        if let Some(m) = manager_name {
            profile["manager"] = json!(m);
        }
        Person::from_okta(
            &json!({"id": id, "status": "ACTIVE", "profile": profile}),
            &crate::model::AttributeMap::default(),
        )
        .expect("valid")
    }

    #[test]
    fn resolves_by_key_order_and_name_fallback() {
        let people = vec![
            p("ceo", "E1", Some("E1"), None),
            p("a", "E2", Some("E1"), None),
            p("b", "E3", Some("a@X.com"), None),
            p("c", "E4", Some("ceo"), None),
            p("d", "E5", None, Some("name a")),
            p("e", "E6", Some("E999"), Some("Name b")),
            p("f", "E7", Some("E404"), None),
        ];
        let r = resolve(&people, &ManagerConfig::default());
        let m = |id: &str| r.managers.get(id).map(String::as_str);
        assert_eq!(m("ceo"), None, "self-managed is a root");
        assert_eq!(m("a"), Some("ceo"));
        assert_eq!(m("b"), Some("a"), "login match, case-insensitive");
        assert_eq!(m("c"), Some("ceo"), "Okta id match");
        assert_eq!(m("d"), Some("a"), "display-name fallback");
        assert_eq!(m("e"), Some("b"), "fallback after an unmatched managerId");
        assert_eq!(m("f"), None);
        assert_eq!(
            r.report.unresolved,
            vec![("f".to_string(), "E404".to_string())]
        );
    }

    #[test]
    fn configured_order_wins() {
        // "x" is both someone's employee number and someone else's id.
        let people = vec![
            p("x", "E1", None, None),
            p("y", "x", None, None),
            p("z", "E3", Some("x"), None),
        ];
        let cfg = ManagerConfig {
            keys: vec![ManagerKey::Id, ManagerKey::EmployeeNumber],
            name_fallback: false,
        };
        assert_eq!(
            resolve(&people, &cfg).managers.get("z").map(String::as_str),
            Some("x")
        );
        let r = resolve(&people, &ManagerConfig::default());
        assert_eq!(r.managers.get("z").map(String::as_str), Some("y"));
    }

    #[test]
    fn cycles_are_broken_at_the_lowest_id_and_reported() {
        let people = vec![
            p("m", "E1", Some("E3"), None),
            p("k", "E2", Some("E1"), None),
            p("n", "E3", Some("E2"), None),
            p("t", "E4", Some("E3"), None),
        ];
        let r = resolve(&people, &ManagerConfig::default());
        assert_eq!(
            r.report.cycles,
            vec![vec!["k".to_string(), "m".into(), "n".into()]]
        );
        assert_eq!(r.managers.get("k"), None);
        assert_eq!(r.managers.get("m").map(String::as_str), Some("n"));
        assert_eq!(r.managers.get("t").map(String::as_str), Some("n"));
    }
}
