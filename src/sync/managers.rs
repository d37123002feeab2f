//! Manager resolution: turns each person's free-text `managerId` / `manager` into the Okta id of
//! their manager, breaking cycles and reporting what matched nobody. Pure: no I/O.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::{Keep, ManagerReport, Person, Positions, UserStatus};

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

/// What resolution reads of a person: the keys others may name them by (folded as matching
/// folds them: logins, emails and names trimmed and lower-cased, the rest trimmed) and their
/// own references to a manager. `Person` has it; so has the slimmer [`Inputs`], which a whole
/// org's resolution holds instead of whole records.
pub trait ManagerInputs {
    /// The Okta id.
    fn id(&self) -> &str;
    /// Deprovisioned people lose ties over a shared key.
    fn deprovisioned(&self) -> bool;
    /// The login, folded.
    fn login_key(&self) -> Cow<'_, str>;
    /// The email, folded.
    fn email_key(&self) -> Option<Cow<'_, str>>;
    /// The employee number, trimmed.
    fn employee_number_key(&self) -> Option<&str>;
    /// The provisioning client's id, trimmed.
    fn external_id_key(&self) -> Option<&str>;
    /// The display name (`Person::name`), folded.
    fn name_key(&self) -> Cow<'_, str>;
    /// `profile.managerId` as Okta holds it.
    fn manager_ref(&self) -> Option<&str>;
    /// `profile.manager` as Okta holds it.
    fn manager_name(&self) -> Option<&str>;
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

impl ManagerInputs for Person {
    fn id(&self) -> &str {
        &self.id
    }
    fn deprovisioned(&self) -> bool {
        self.status == UserStatus::Deprovisioned
    }
    fn login_key(&self) -> Cow<'_, str> {
        Cow::Owned(fold(&self.login))
    }
    fn email_key(&self) -> Option<Cow<'_, str>> {
        self.email.as_deref().map(|e| Cow::Owned(fold(e)))
    }
    fn employee_number_key(&self) -> Option<&str> {
        self.employee_number.as_deref().map(str::trim)
    }
    fn external_id_key(&self) -> Option<&str> {
        self.external_id.as_deref().map(str::trim)
    }
    fn name_key(&self) -> Cow<'_, str> {
        Cow::Owned(fold(&self.name()))
    }
    fn manager_ref(&self) -> Option<&str> {
        self.manager_ref.as_deref()
    }
    fn manager_name(&self) -> Option<&str> {
        self.manager_name.as_deref()
    }
}

/// A person as manager resolution reads them, keys folded once: every string in one
/// allocation (`text`, cut at `ends`), about a sixth of a whole `Person` in memory. A full
/// sync resolves the whole org over these, and a server keeps one per person (`Known`), so
/// at a million people each field in its own allocation cost some 200 MB more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// id, login, email, employee number, external id, name, manager reference, manager
    /// name, back to back.
    text: Box<str>,
    /// Where each of those ends in `text`.
    ends: [u32; FIELDS],
    /// Which of the optional ones are present (bit `i` for field `i`), so an empty value is
    /// told from a missing one.
    present: u8,
    status: UserStatus,
}

/// The strings an `Inputs` holds.
const FIELDS: usize = 8;
const ID: usize = 0;
const LOGIN: usize = 1;
const EMAIL: usize = 2;
const EMPLOYEE_NUMBER: usize = 3;
const EXTERNAL_ID: usize = 4;
const NAME: usize = 5;
const MANAGER_REF: usize = 6;
const MANAGER_NAME: usize = 7;

impl Inputs {
    /// What resolution needs of `p`.
    pub fn of(p: &Person) -> Inputs {
        let fields: [Option<Cow<'_, str>>; FIELDS] = [
            Some(Cow::Borrowed(p.id.as_str())),
            Some(p.login_key()),
            p.email_key(),
            p.employee_number_key().map(Cow::Borrowed),
            p.external_id_key().map(Cow::Borrowed),
            Some(p.name_key()),
            p.manager_ref().map(Cow::Borrowed),
            p.manager_name().map(Cow::Borrowed),
        ];
        let mut text = String::with_capacity(fields.iter().flatten().map(|f| f.len()).sum());
        let mut ends = [0u32; FIELDS];
        let mut present = 0u8;
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f {
                text.push_str(f);
                present |= 1 << i;
            }
            // A person's strings come from one Okta profile, far below 4 GiB.
            ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Inputs {
            text: text.into_boxed_str(),
            ends,
            present,
            status: p.status,
        }
    }

    /// Field `i`, whether present or not.
    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text
            .get(start..self.ends[i] as usize)
            .unwrap_or_default()
    }

    /// Field `i` if present.
    fn optional(&self, i: usize) -> Option<&str> {
        (self.present & (1 << i) != 0).then(|| self.field(i))
    }

    /// The person's Okta status.
    pub fn status(&self) -> UserStatus {
        self.status
    }
}

impl ManagerInputs for Inputs {
    fn id(&self) -> &str {
        self.field(ID)
    }
    fn deprovisioned(&self) -> bool {
        self.status == UserStatus::Deprovisioned
    }
    fn login_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.field(LOGIN))
    }
    fn email_key(&self) -> Option<Cow<'_, str>> {
        self.optional(EMAIL).map(Cow::Borrowed)
    }
    fn employee_number_key(&self) -> Option<&str> {
        self.optional(EMPLOYEE_NUMBER)
    }
    fn external_id_key(&self) -> Option<&str> {
        self.optional(EXTERNAL_ID)
    }
    fn name_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.field(NAME))
    }
    fn manager_ref(&self) -> Option<&str> {
        self.optional(MANAGER_REF)
    }
    fn manager_name(&self) -> Option<&str> {
        self.optional(MANAGER_NAME)
    }
}

/// People from which `resolve` builds its key indexes on two threads.
const PARALLEL_KEYS: usize = 50_000;

/// Resolves every person's manager. Where a key is shared (Okta enforces no uniqueness on
/// employee numbers or emails), a person who is not deprovisioned wins, then the lowest id.
///
/// Works on positions in `people` until the end: each key is a hash table of positions
/// (6 to 11 bytes a person with the table's free slots, where a hash map of keys took some
/// 70 MB a key at a million people, and a server resolves again whenever someone's keys
/// change), and cycles are found over a state byte per person. Only the answer, id to id, is
/// built of strings.
pub fn resolve<'p, P, I>(people: I, cfg: &ManagerConfig) -> Resolution
where
    P: ManagerInputs + Sync + 'p,
    I: IntoIterator<Item = &'p P>,
{
    let people: Vec<&'p P> = people.into_iter().collect();
    let (manager_of, report) = resolve_positions(&people, cfg);
    let managers = managers_by_id(&manager_of, |at| people.get(at).map(|p| p.id()));
    Resolution { managers, report }
}

/// `resolve_positions`' answer as a map of person id to manager id; `id` gives the id of the
/// person at a position.
pub fn managers_by_id<'p>(
    manager_of: &[u32],
    id: impl Fn(usize) -> Option<&'p str>,
) -> HashMap<String, String> {
    let resolved = manager_of.iter().filter(|&&m| m != NO_MANAGER).count();
    let mut managers = HashMap::with_capacity(resolved);
    for (at, &m) in manager_of.iter().enumerate() {
        if let (Some(p), Some(m)) = (id(at), id(m as usize)) {
            managers.insert(p.to_owned(), m.to_owned());
        }
    }
    managers
}

/// [`resolve`], answered by position: each person's manager as a position in `people`
/// ([`NO_MANAGER`] for none). A whole org's load keeps these 4 bytes a person, where the map
/// of ids to ids takes some 160.
pub fn resolve_positions<P>(people: &[&P], cfg: &ManagerConfig) -> (Vec<u32>, ManagerReport)
where
    P: ManagerInputs + Sync,
{
    let mut report = ManagerReport::default();
    let mut manager_of = vec![NO_MANAGER; people.len()];
    {
        // Three of the six indexes on a second thread for a large org; a few people are not
        // worth a thread.
        let first = || {
            (
                KeyIndex::new(people, Shared::Last, |p| Some(Cow::Borrowed(p.id()))),
                KeyIndex::new(people, Shared::Best, |p| {
                    p.external_id_key().map(Cow::Borrowed)
                }),
                KeyIndex::new(people, Shared::Best, |p| Some(p.login_key())),
            )
        };
        let second = || {
            (
                KeyIndex::new(people, Shared::Best, |p| p.email_key()),
                KeyIndex::new(people, Shared::Best, |p| {
                    p.employee_number_key().map(Cow::Borrowed)
                }),
                // A display name names someone only when nobody else has it.
                cfg.name_fallback
                    .then(|| KeyIndex::new(people, Shared::Nobody, |p| Some(p.name_key()))),
            )
        };
        let ((by_id, by_external, by_login), (by_email, by_empno, by_name)) =
            if people.len() >= PARALLEL_KEYS {
                std::thread::scope(|s| {
                    let first = s.spawn(first);
                    let second = second();
                    match first.join() {
                        Ok(first) => (first, second),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                })
            } else {
                (first(), second())
            };
        for (i, &p) in people.iter().enumerate() {
            let by_key = p.manager_ref().and_then(|v| {
                cfg.keys.iter().find_map(|k| match k {
                    ManagerKey::EmployeeNumber => by_empno.get(v.trim()),
                    ManagerKey::Id => by_id.get(v.trim()),
                    ManagerKey::ExternalId => by_external.get(v.trim()),
                    ManagerKey::Login => by_login.get(&fold(v)),
                    ManagerKey::Email => by_email.get(&fold(v)),
                })
            });
            let by_display = || {
                let by_name = by_name.as_ref()?;
                p.manager_name().and_then(|n| by_name.get(&fold(n)))
            };
            match by_key.or_else(by_display) {
                Some(m) if people[m as usize].id() == p.id() => {} // self-managed: a root
                Some(m) => manager_of[i] = m,
                None => {
                    if let Some(v) = p.manager_ref().or(p.manager_name()) {
                        report.unresolved.push((p.id().to_owned(), v.to_owned()));
                    }
                }
            }
        }
    }
    report.cycles = break_cycles(people, &mut manager_of);
    report.unresolved.sort();
    (manager_of, report)
}

/// Which of the people sharing a key it names.
#[derive(Clone, Copy, PartialEq)]
enum Shared {
    /// The one not deprovisioned, then the lowest id.
    Best,
    /// The last in `resolve`'s order (ids: a later record of the same id replaces an earlier).
    Last,
    /// Nobody: a shared key is ambiguous.
    Nobody,
}

/// One key of every person: the position each key names, found by hash (`Positions`: 6 to 11
/// bytes a person, where a sorted list of positions took 4 but about twenty string compares a
/// lookup, and sorting it some five seconds a key at a million people).
struct KeyIndex<'a, 'p, P, K> {
    people: &'a [&'p P],
    key: K,
    positions: Positions,
}

impl<'a, 'p, P, K> KeyIndex<'a, 'p, P, K>
where
    P: ManagerInputs,
    K: Fn(&'p P) -> Option<Cow<'p, str>>,
{
    fn new(people: &'a [&'p P], shared: Shared, key: K) -> Self {
        let rank = |i: u32| {
            let p = people[i as usize];
            (p.deprovisioned(), p.id())
        };
        // Positions come in order, so of two equal ranks the one held is the earlier.
        let keep = |held: u32, new: u32| match shared {
            Shared::Best if rank(new) < rank(held) => Keep::New,
            Shared::Best => Keep::Held,
            Shared::Last => Keep::New,
            Shared::Nobody => Keep::Neither,
        };
        let positions = Positions::build(people.len(), |i| key(people[i as usize]), keep);
        KeyIndex {
            people,
            key,
            positions,
        }
    }

    /// The position of the person `k` names, if any.
    fn get(&self, k: &str) -> Option<u32> {
        self.positions
            .get(k, |i| (self.key)(self.people[i as usize]))
    }
}

/// `resolve_positions`' mark for a person without a resolved manager.
pub const NO_MANAGER: u32 = u32::MAX;

/// A position in `resolve`'s people as the maps hold it: an org has far fewer than four
/// billion people.
fn position(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NO_MANAGER - 1)
}

impl Inputs {
    /// True when two versions of a person resolve managers alike: same keys others may match
    /// them by, same references to their own manager. Only a change here can move anyone's
    /// manager, so other edits (a title, a city) skip resolution.
    pub fn resolves_like(&self, other: &Inputs) -> bool {
        self.deprovisioned() == other.deprovisioned()
            && (LOGIN..FIELDS).all(|i| self.optional(i) == other.optional(i))
    }
}

/// A person as the sync engines keep the whole org between steps (to resolve managers again
/// when someone's keys or references change): what resolution reads and the manager the
/// store holds for them, not the whole record.
#[derive(Debug, Clone)]
pub struct Known {
    /// What resolution reads.
    pub inputs: Inputs,
    /// The resolved manager as stored.
    pub manager_id: Option<String>,
}

impl Known {
    /// What the engines keep of `p`.
    pub fn of(p: &Person) -> Known {
        Known {
            inputs: Inputs::of(p),
            manager_id: p.manager_id.clone(),
        }
    }
}

/// Finds every cycle in the manager graph (each person has at most one manager, so cycles are
/// disjoint) and breaks each by making its lowest id a root. Returns the cycles, root first.
/// Paths are walked from each person with a manager in id order, as the report lists them.
fn break_cycles<P: ManagerInputs>(people: &[&P], manager_of: &mut [u32]) -> Vec<Vec<String>> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; people.len()];
    let mut starts: Vec<u32> = (0..people.len())
        .filter(|&i| manager_of[i] != NO_MANAGER)
        .map(position)
        .collect();
    starts.sort_by(|&a, &b| people[a as usize].id().cmp(people[b as usize].id()));
    let mut cycles = Vec::new();
    let mut path: Vec<u32> = Vec::new();
    for start in starts {
        path.clear();
        let mut cur = start;
        loop {
            match state.get(cur as usize) {
                None | Some(&DONE) => break,
                Some(&ON_PATH) => {
                    if let Some(pos) = path.iter().position(|&n| n == cur) {
                        let mut cycle = path[pos..].to_vec();
                        let min = (0..cycle.len()).min_by_key(|&k| people[cycle[k] as usize].id());
                        if let Some(k) = min {
                            cycle.rotate_left(k);
                            manager_of[cycle[0] as usize] = NO_MANAGER;
                        }
                        cycles.push(
                            cycle
                                .iter()
                                .map(|&n| people[n as usize].id().to_owned())
                                .collect(),
                        );
                    }
                    break;
                }
                Some(_) => {
                    state[cur as usize] = ON_PATH;
                    path.push(cur);
                    cur = manager_of[cur as usize];
                }
            }
        }
        for &n in &path {
            state[n as usize] = DONE;
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

    /// The rules for a key more than one person holds, each stated by the expected answer.
    #[test]
    fn a_shared_key_names_the_active_then_the_lowest_id_and_a_shared_name_nobody() {
        let mut people = vec![
            // E1 held by three: "a0" deprovisioned, "a2" and "a1" active: "a1" wins.
            p("a0", "E1", None, None),
            p("a2", "E1", None, None),
            p("a1", "E1", None, None),
            p("r1", "E5", Some("E1"), None),
            // E2 held by two, both deprovisioned: the lowest id, "b1".
            p("b2", "E2", None, None),
            p("b1", "E2", None, None),
            p("r2", "E6", Some("E2"), None),
            // "Name s" is the display name of two people: the fallback names nobody, while a
            // unique name still resolves.
            p("s1", "E3", None, None),
            p("s2", "E4", None, None),
            p("r3", "E7", Some("E404"), Some("name s")),
            p("r4", "E8", Some("E404"), Some("NAME a2")),
        ];
        for i in [0, 4, 5] {
            people[i].status = UserStatus::Deprovisioned;
        }
        people[7].display_name = Some("Name s".into());
        people[8].display_name = Some("Name s".into());
        let whole = resolve(&people, &ManagerConfig::default());
        let slim: Vec<Inputs> = people.iter().map(Inputs::of).collect();
        let lean = resolve(&slim, &ManagerConfig::default());
        for r in [whole, lean] {
            let m = |id: &str| r.managers.get(id).map(String::as_str);
            assert_eq!(
                m("r1"),
                Some("a1"),
                "active before deprovisioned, then lowest id"
            );
            assert_eq!(m("r2"), Some("b1"), "all deprovisioned: the lowest id");
            assert_eq!(m("r3"), None, "a shared display name names nobody");
            assert_eq!(m("r4"), Some("a2"), "a unique display name, folded");
            assert_eq!(r.managers.len(), 3);
            assert_eq!(
                r.report.unresolved,
                vec![("r3".to_string(), "E404".to_string()),]
            );
        }
    }

    /// Packed into one string, every field reads back as the whole record gives it, and an
    /// empty value stays apart from a missing one.
    #[test]
    fn packed_inputs_read_back_each_field_and_tell_empty_from_missing() {
        let mut a = p("a1", "E2", Some("E1"), None);
        a.email = Some(" A@X.com ".into());
        a.external_id = None;
        let slim = Inputs::of(&a);
        assert_eq!(slim.id(), "a1");
        assert_eq!(slim.login_key(), a.login_key());
        assert_eq!(slim.email_key().as_deref(), Some("a@x.com"));
        assert_eq!(slim.employee_number_key(), Some("E2"));
        assert_eq!(slim.external_id_key(), None);
        assert_eq!(slim.name_key(), a.name_key());
        assert_eq!(slim.manager_ref(), Some("E1"));
        assert_eq!(slim.manager_name(), None);
        let mut b = a.clone();
        b.manager_name = Some(String::new());
        let slim_b = Inputs::of(&b);
        assert_eq!(slim_b.manager_name(), Some(""));
        assert!(!slim.resolves_like(&slim_b), "empty is not missing");
        b.manager_name = None;
        assert!(slim.resolves_like(&Inputs::of(&b)));
    }

    #[test]
    fn slim_inputs_resolve_exactly_as_whole_records() {
        let mut people = vec![
            p("ceo", "E1", Some("E1"), None),
            p("a", " E2 ", Some(" E1"), None),
            p("b", "E3", Some(" A@X.COM "), None),
            p("c", "E4", Some("ceo"), None),
            p("d", "E5", None, Some("  NAME a")),
            p("e", "E6", Some("E999"), Some("Name b")),
            p("f", "E7", Some("E404"), None),
            // A shared employee number: the one not deprovisioned wins, then the lowest id.
            p("g1", "E8", Some("E1"), None),
            p("g0", "E8", Some("E1"), None),
            p("h", "E9", Some("E8"), None),
            // A cycle, and a shared display name (ambiguous for the fallback).
            p("m", "E10", Some("E12"), Some("Name x")),
            p("k", "E11", Some("E10"), None),
            p("n", "E12", Some("E11"), None),
            p("x", "E13", None, Some("Name m")),
        ];
        people[8].status = UserStatus::Deprovisioned; // g0
        people[12].display_name = Some("Name m".into()); // n, named like m
        let slim: Vec<Inputs> = people.iter().map(Inputs::of).collect();
        let configs = [
            ManagerConfig::default(),
            ManagerConfig {
                keys: vec![ManagerKey::Id, ManagerKey::EmployeeNumber],
                name_fallback: false,
            },
            ManagerConfig {
                keys: vec![ManagerKey::Login, ManagerKey::Email, ManagerKey::ExternalId],
                name_fallback: true,
            },
        ];
        for cfg in &configs {
            let (whole, lean) = (resolve(&people, cfg), resolve(&slim, cfg));
            assert_eq!(whole.managers, lean.managers, "{cfg:?}");
            assert_eq!(whole.report.unresolved, lean.report.unresolved, "{cfg:?}");
            assert_eq!(whole.report.cycles, lean.report.cycles, "{cfg:?}");
        }
        let r = resolve(&slim, &ManagerConfig::default());
        let m = |id: &str| r.managers.get(id).map(String::as_str);
        assert_eq!(m("a"), Some("ceo"), "trimmed employee numbers");
        assert_eq!(m("b"), Some("a"), "folded login");
        assert_eq!(m("d"), Some("a"), "folded display name");
        assert_eq!(
            m("h"),
            Some("g1"),
            "the deprovisioned g0 loses the shared number"
        );
        assert_eq!(m("x"), None, "two people named Name m: ambiguous");
    }
}
