//! Generates the people of the org: the reporting tree (CEO, department heads,
//! directors, managers, ICs), names, locations, statuses and timestamps, and
//! the deliberately broken manager records (anomalies).

use std::collections::{HashMap, HashSet};

use super::data::{self, CITIES, CULTURES, DEPARTMENTS, Department};
use super::fold::fold;
use crate::sim::json::ObjWriter;
use crate::sim::model::{Status, User};
use crate::sim::rng::Rng;
use crate::sim::time::{self, DAY, GEN_END, GEN_START, MINUTE, Millis};
use crate::sim::{Anomaly, AnomalyKind};

/// One generated person, before rendering to an Okta user.
pub struct Person {
    pub id: String,
    pub employee_number: String,
    pub display: String,
    /// Index into `DEPARTMENTS`; `None` for the CEO.
    pub dept: Option<usize>,
    /// Index of the intended manager in the people vector.
    pub manager: Option<usize>,
    /// Levels below the department head (head = 0, CEO = 0).
    pub depth: usize,
    pub reports: Vec<usize>,
    pub city: usize,
    pub status: Status,
}

impl Person {
    pub fn is_manager(&self) -> bool {
        !self.reports.is_empty()
    }
}

/// Everything the people generator hands on to group generation and the store.
pub struct People {
    pub people: Vec<Person>,
    pub users: Vec<User>,
    /// Indices of the department heads, in department order.
    pub heads: Vec<usize>,
    pub anomalies: Vec<Anomaly>,
    /// Index of people caught in an anomaly (no true manager).
    pub anomalous: HashSet<usize>,
}

/// Number of departments for an org of `n` people.
fn department_count(n: usize) -> usize {
    let target = (8 + n / 5000).min(DEPARTMENTS.len());
    target.min(n.saturating_sub(1))
}

struct Builder<'a> {
    rng: &'a mut Rng,
    people: Vec<Person>,
}

impl Builder<'_> {
    fn add(&mut self, dept: Option<usize>, manager: Option<usize>, depth: usize) -> usize {
        let idx = self.people.len();
        let city = match manager {
            Some(m) if self.rng.chance(60) => self.people[m].city,
            _ => weighted_city(self.rng),
        };
        self.people.push(Person {
            id: String::new(),
            employee_number: String::new(),
            display: String::new(),
            dept,
            manager,
            depth,
            reports: Vec::new(),
            city,
            status: Status::Active,
        });
        if let Some(m) = manager {
            self.people[m].reports.push(idx);
        }
        idx
    }

    /// Give `node` a subtree of exactly `budget` people with a 5–10 span of control.
    fn subtree(&mut self, node: usize, budget: usize) {
        let dept = self.people[node].dept;
        let depth = self.people[node].depth + 1;
        if budget <= 10 {
            for _ in 0..budget {
                self.add(dept, Some(node), depth);
            }
            return;
        }
        let span = self.rng.range(5, 10);
        let below = budget - span;
        let managers = span.min(below / 5).max(1);
        let weights: Vec<usize> = (0..managers).map(|_| self.rng.range(8, 12)).collect();
        let total: usize = weights.iter().sum();
        let mut shares: Vec<usize> = weights.iter().map(|w| below * w / total).collect();
        let assigned: usize = shares.iter().sum();
        shares[0] += below - assigned;
        for i in 0..span {
            let child = self.add(dept, Some(node), depth);
            if let Some(&share) = shares.get(i) {
                self.subtree(child, share);
            }
        }
    }
}

fn weighted_city(rng: &mut Rng) -> usize {
    let total: u32 = CITIES.iter().map(|c| c.weight).sum();
    let mut roll = rng.below(total as usize) as u32;
    for (i, c) in CITIES.iter().enumerate() {
        if roll < c.weight {
            return i;
        }
        roll -= c.weight;
    }
    0
}

fn pick_status(rng: &mut Rng) -> Status {
    match rng.below(100) {
        0..=2 => Status::Deprovisioned,
        3..=5 => Status::Staged,
        6..=8 => Status::Provisioned,
        9..=10 => Status::Recovery,
        11..=12 => Status::LockedOut,
        13..=14 => Status::PasswordExpired,
        15..=16 => Status::Suspended,
        _ => Status::Active,
    }
}

/// Build the reporting tree of `n` people (index 0 is the CEO).
fn build_tree(rng: &mut Rng, n: usize) -> (Vec<Person>, Vec<usize>) {
    let mut b = Builder {
        rng,
        people: Vec::with_capacity(n),
    };
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let ceo = b.add(None, None, 0);
    let d = department_count(n);
    let rest = n - 1 - d;
    let total_w: usize = DEPARTMENTS[..d].iter().map(|x| x.weight as usize).sum();
    let mut budgets: Vec<usize> = DEPARTMENTS[..d]
        .iter()
        .map(|x| rest * x.weight as usize / total_w.max(1))
        .collect();
    let assigned: usize = budgets.iter().sum();
    if let Some(first) = budgets.first_mut() {
        *first += rest - assigned;
    }
    let mut heads = Vec::with_capacity(d);
    for (dept, budget) in budgets.into_iter().enumerate() {
        let head = b.add(Some(dept), Some(ceo), 0);
        heads.push(head);
        b.subtree(head, budget);
    }
    (b.people, heads)
}

fn title(p: &Person, people: &[Person], rng: &mut Rng) -> String {
    let Some(dept_idx) = p.dept else {
        return "Chief Executive Officer".to_string();
    };
    let dept: &Department = &DEPARTMENTS[dept_idx];
    if p.manager == Some(0) {
        return dept.head_title.to_string();
    }
    if p.is_manager() {
        let leads_managers = p.reports.iter().any(|&r| people[r].is_manager());
        return match (leads_managers, p.depth) {
            (true, 1) => format!("Director, {}", dept.name),
            (true, _) => format!("Senior Manager, {}", dept.name),
            (false, _) => dept.manager_title.to_string(),
        };
    }
    let total: u32 = data::SENIORITY.iter().map(|s| s.1).sum();
    let mut roll = rng.below(total as usize) as u32;
    let mut prefix = "";
    for (pre, w) in data::SENIORITY {
        if roll < *w {
            prefix = pre;
            break;
        }
        roll -= w;
    }
    format!("{prefix}{}", rng.pick(dept.roles))
}

fn ts(v: Millis) -> Millis {
    time::whole_seconds(v)
}

/// Status-consistent timestamps: (created, activated, statusChanged, lastLogin, passwordChanged, lastUpdated).
struct Stamps {
    created: Millis,
    activated: Option<Millis>,
    status_changed: Option<Millis>,
    last_login: Option<Millis>,
    password_changed: Option<Millis>,
    last_updated: Millis,
}

fn stamps(rng: &mut Rng, status: Status, is_ceo: bool) -> Stamps {
    let latest = GEN_END - 30 * DAY;
    let created = if is_ceo {
        GEN_START + rng.range_i64(0, 5 * DAY)
    } else {
        rng.range_i64(GEN_START, latest)
    };
    let created = ts(created);
    let activated =
        (status != Status::Staged).then(|| ts(created + rng.range_i64(5 * MINUTE, 3 * DAY)));
    let after = |rng: &mut Rng, t: Millis| ts(rng.range_i64(t + MINUTE, latest.max(t + MINUTE)));
    let (status_changed, last_login, password_changed) = match (status, activated) {
        (Status::Staged, _) | (_, None) => (None, None, None),
        (Status::Provisioned, Some(a)) => (Some(a), None, None),
        (Status::Active, Some(a)) => {
            let changed = if rng.chance(10) { after(rng, a) } else { a };
            let login = (!rng.chance(7)).then(|| after(rng, changed));
            let pw = if rng.chance(50) {
                ts(a + rng.range_i64(MINUTE, 60 * MINUTE))
            } else {
                after(rng, a)
            };
            (Some(changed), login, Some(pw))
        }
        (_, Some(a)) => {
            let changed = after(rng, a);
            let login = (!rng.chance(15)).then(|| after(rng, a));
            let pw = ts(a + rng.range_i64(MINUTE, 60 * MINUTE));
            (Some(changed), login, Some(pw))
        }
    };
    let newest = [Some(created), activated, status_changed, password_changed]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(created);
    let last_updated = ts((newest + rng.range_i64(MINUTE, 30 * DAY)).min(GEN_END - 1000));
    Stamps {
        created,
        activated,
        status_changed,
        last_login,
        password_changed,
        last_updated: last_updated.max(created + 1000),
    }
}

fn phone(rng: &mut Rng, dial: &str) -> String {
    format!(
        "{dial} {:03} {:03} {:04}",
        rng.below(1000),
        rng.below(1000),
        rng.below(10000)
    )
}

/// A manager reference that deliberately does not follow the tree.
enum Broken {
    /// An employee number nobody has (a terminated manager).
    Ghost(String),
    /// Points at this person instead of the real manager (cycle partner or self).
    Points(usize),
}

/// Name pieces chosen for one person.
struct NameParts {
    first: String,
    last: String,
    /// ASCII login local part, unique in the org.
    local: String,
    nick: Option<String>,
    language: &'static str,
}

/// Org-wide settings shared by every generated user.
pub struct OrgInfo {
    pub company: &'static str,
    pub domain: &'static str,
    pub user_type: String,
    /// The Employee and Contractor user types' ids (by `profile.userType`).
    pub employee_type: String,
    pub contractor_type: String,
}

/// Generate `n` people, their Okta users, and the manager anomalies.
pub fn generate(rng: &mut Rng, n: usize, org: &OrgInfo) -> People {
    let mut tree_rng = rng.fork(1);
    let (mut people, heads) = build_tree(&mut tree_rng, n);

    // Identity: ids and shuffled employee numbers.
    let mut id_rng = rng.fork(2);
    let mut seen = HashSet::with_capacity(n);
    let mut numbers: Vec<usize> = (0..n).collect();
    id_rng.shuffle(&mut numbers);
    for (p, num) in people.iter_mut().zip(numbers) {
        p.id = loop {
            let id = format!("00u{}", id_rng.base62(17));
            if seen.insert(id.clone()) {
                break id;
            }
        };
        p.employee_number = format!("E{}", 10001 + num);
    }

    // Statuses: leaders stay ACTIVE; ICs follow the distribution, every status present.
    let mut status_rng = rng.fork(3);
    let ics: Vec<usize> = (0..people.len())
        .filter(|&i| i != 0 && !people[i].is_manager() && people[i].manager != Some(0))
        .collect();
    for &i in &ics {
        people[i].status = pick_status(&mut status_rng);
    }
    for status in Status::ALL {
        if !people.iter().any(|p| p.status == status) {
            let active: Vec<usize> = ics
                .iter()
                .copied()
                .filter(|&i| people[i].status == Status::Active)
                .collect();
            if active.len() > 1 {
                let i = *status_rng.pick(&active);
                people[i].status = status;
            }
        }
    }

    // Anomalies among plain ICs: two unresolvable managers, one 2-cycle, one self-managed.
    let mut anomaly_rng = rng.fork(4);
    let mut anomalies = Vec::new();
    let mut anomalous = HashSet::new();
    let mut broken: HashMap<usize, Broken> = HashMap::new();
    if ics.len() >= 10 {
        let mut pool = ics.clone();
        anomaly_rng.shuffle(&mut pool);
        for (k, &i) in pool[..2].iter().enumerate() {
            broken.insert(i, Broken::Ghost(format!("E{}", 10001 + n + 500 + k)));
            anomalies.push((i, AnomalyKind::UnresolvableManager));
        }
        let (a, b) = (pool[2], pool[3]);
        anomalies.push((a, AnomalyKind::Cycle));
        anomalies.push((b, AnomalyKind::Cycle));
        anomalies.push((pool[4], AnomalyKind::SelfManaged));
        anomalous.extend(anomalies.iter().map(|(i, _)| *i));
        broken.insert(a, Broken::Points(b));
        broken.insert(b, Broken::Points(a));
        broken.insert(pool[4], Broken::Points(pool[4]));
    }

    // Names, logins, profile text.
    let mut name_rng = rng.fork(5);
    let mut logins: HashMap<String, u32> = HashMap::with_capacity(n);
    let mut profiles: Vec<NameParts> = Vec::with_capacity(n);
    for p in people.iter_mut() {
        let city = &CITIES[p.city];
        let culture_idx = if name_rng.chance(65) {
            city.culture
        } else {
            name_rng.below(CULTURES.len())
        };
        let culture = &CULTURES[culture_idx];
        let (first, first_ascii) = *name_rng.pick(culture.first);
        let (last, last_ascii) = *name_rng.pick(culture.last);
        let fa = if first_ascii.is_empty() {
            fold(first)
        } else {
            first_ascii.to_string()
        };
        let la = if last_ascii.is_empty() {
            fold(last)
        } else {
            last_ascii.to_string()
        };
        p.display = if culture.family_first {
            format!("{last} {first}")
        } else {
            format!("{first} {last}")
        };
        let base = format!(
            "{}.{}",
            if fa.is_empty() { "user" } else { &fa },
            if la.is_empty() { "user" } else { &la }
        );
        let count = logins.entry(base.clone()).or_insert(0);
        *count += 1;
        let local = if *count == 1 {
            base
        } else {
            format!("{base}{count}")
        };
        let nick = data::NICKNAMES
            .iter()
            .find(|(full, _)| *full == first)
            .filter(|_| name_rng.chance(50))
            .map(|(_, nick)| nick.to_string());
        profiles.push(NameParts {
            first: first.to_string(),
            last: last.to_string(),
            local,
            nick,
            language: culture.language,
        });
    }

    let mut attr_rng = rng.fork(6);
    let mut users = Vec::with_capacity(n);
    for (i, names) in profiles.into_iter().enumerate() {
        let NameParts {
            first,
            last,
            local,
            nick,
            language,
        } = names;
        let p = &people[i];
        let city = &CITIES[p.city];
        let (manager_id, manager_name) = match broken.get(&i) {
            Some(Broken::Ghost(number)) => (number.clone(), "Former Employee".to_string()),
            Some(Broken::Points(j)) => (
                people[*j].employee_number.clone(),
                people[*j].display.clone(),
            ),
            None => match p.manager {
                Some(m) => (people[m].employee_number.clone(), people[m].display.clone()),
                None => (p.employee_number.clone(), p.display.clone()),
            },
        };
        let (dept_name, division, code, cost_center) = match p.dept {
            Some(d) => {
                let dept = &DEPARTMENTS[d];
                (dept.name, dept.division, dept.code, 2000 + 100 * d)
            }
            None => ("Executive", "G&A", "EXE", 1000),
        };
        let email = format!("{local}@{}", org.domain);
        let stamps = stamps(&mut attr_rng, p.status, i == 0);
        let title = title(p, &people, &mut attr_rng);
        let mobile = (!attr_rng.chance(10)).then(|| phone(&mut attr_rng, city.dial));
        let badge = (!attr_rng.chance(5)).then(|| format!("B-{:06}", attr_rng.below(1_000_000)));
        let start_date =
            (!attr_rng.chance(10)).then(|| time::format(stamps.created)[..10].to_string());
        let pronouns = attr_rng
            .chance(40)
            .then(|| attr_rng.pick(data::PRONOUNS).to_string());
        let slack = attr_rng.chance(70).then(|| format!("@{local}"));
        let cc_code = (!attr_rng.chance(20)).then(|| format!("{code}-{cost_center}"));
        let user_type = if i != 0 && attr_rng.chance(5) {
            "Contractor"
        } else {
            "Employee"
        };
        let profile = ObjWriter::with_capacity(900)
            .str("login", &email)
            .str("email", &email)
            .str("firstName", &first)
            .str("lastName", &last)
            .str("displayName", &p.display)
            .some_str("nickName", nick.as_deref())
            .str("title", &title)
            .str("userType", user_type)
            .str("department", dept_name)
            .str("division", division)
            .str("organization", org.company)
            .str("costCenter", &cost_center.to_string())
            .str("employeeNumber", &p.employee_number)
            .str("manager", &manager_name)
            .str("managerId", &manager_id)
            .some_str("mobilePhone", mobile.as_deref())
            .str("city", city.city)
            .str("state", city.state)
            .str("countryCode", city.country)
            .str("locale", city.locale)
            .str("preferredLanguage", language)
            .str("timezone", city.timezone)
            .some_str("badgeId", badge.as_deref())
            .some_str("startDate", start_date.as_deref())
            .some_str("pronouns", pronouns.as_deref())
            .some_str("slackHandle", slack.as_deref())
            .some_str("costCenterCode", cc_code.as_deref())
            .finish();
        users.push(User {
            id: p.id.clone(),
            status: p.status,
            created: stamps.created,
            activated: stamps.activated,
            status_changed: stamps.status_changed,
            last_login: stamps.last_login,
            last_updated: stamps.last_updated,
            password_changed: stamps.password_changed,
            type_id: if user_type == "Contractor" {
                org.contractor_type.clone()
            } else {
                org.employee_type.clone()
            },
            profile,
            login: email.clone(),
            email,
            first_name: Some(first),
            last_name: Some(last),
        });
    }

    let anomalies = anomalies
        .into_iter()
        .map(|(i, kind)| Anomaly {
            user_id: people[i].id.clone(),
            kind,
        })
        .collect();
    People {
        people,
        users,
        heads,
        anomalies,
        anomalous,
    }
}
