//! Generates the org's groups in priority order (Everyone, departments,
//! executives, locations, AD-imported app groups, manager teams, then
//! project/interest groups) until the requested count is reached.

use std::collections::HashSet;

use super::data::{self, CITIES, DEPARTMENTS};
use super::people::People;
use crate::sim::json::ObjWriter;
use crate::sim::model::{Group, GroupType, Status};
use crate::sim::rng::Rng;
use crate::sim::time::{self, DAY, GEN_END, GEN_START, Millis};

/// A generated group and its members (indices into `People::people`).
pub struct GenGroup {
    pub group: Group,
    pub members: Vec<usize>,
}

/// Default group count for `users` people: `max(8, users / 20)`, at most 5,000.
pub fn default_count(users: usize) -> usize {
    (users / 20).clamp(8, 5000)
}

struct Ctx<'a> {
    rng: Rng,
    people: &'a People,
    names: HashSet<String>,
    ids: HashSet<String>,
    out: Vec<GenGroup>,
    want: usize,
    domain: &'a str,
    ad_app: String,
}

impl Ctx<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.want
    }

    fn unique_name(&mut self, name: String) -> String {
        if self.names.insert(name.clone()) {
            return name;
        }
        (2..)
            .map(|k| format!("{name} ({k})"))
            .find(|n| self.names.insert(n.clone()))
            .unwrap_or(name)
    }

    fn stamps(&mut self) -> (Millis, Millis, Millis) {
        let created = time::whole_seconds(self.rng.range_i64(GEN_START, GEN_END - 60 * DAY));
        let later =
            |rng: &mut Rng| time::whole_seconds(rng.range_i64(created + 1000, GEN_END - 1000));
        let updated = if self.rng.chance(50) {
            created
        } else {
            later(&mut self.rng)
        };
        let members = later(&mut self.rng);
        (created, updated, members)
    }

    /// Add a group unless the requested count is reached.
    fn push(&mut self, kind: GroupType, name: String, description: &str, members: Vec<usize>) {
        if self.full() {
            return;
        }
        let name = self.unique_name(name);
        let id = loop {
            let id = format!("00g{}", self.rng.base62(17));
            if self.ids.insert(id.clone()) {
                break id;
            }
        };
        let (created, last_updated, last_membership_updated) = self.stamps();
        let (profile, source_app) = match kind {
            GroupType::AppGroup => {
                let label = self
                    .domain
                    .split('.')
                    .next()
                    .unwrap_or("corp")
                    .to_uppercase();
                let external = self.rng.base62(22);
                let profile = ObjWriter::new()
                    .str("name", &name)
                    .str("description", description)
                    .str("samAccountName", &name)
                    .str(
                        "dn",
                        &format!("CN={name},OU=Groups,DC={},DC=local", label.to_lowercase()),
                    )
                    .str("windowsDomainQualifiedName", &format!("{label}\\{name}"))
                    .str("groupType", "Security")
                    .str("groupScope", "Global")
                    .str("externalId", &format!("{external}=="))
                    .finish();
                (profile, Some(self.ad_app.clone()))
            }
            _ => (
                ObjWriter::new()
                    .str("name", &name)
                    .str("description", description)
                    .finish(),
                None,
            ),
        };
        let apps_count = match kind {
            GroupType::AppGroup => 1,
            _ => self.rng.below(4) as u32,
        };
        self.out.push(GenGroup {
            group: Group {
                id,
                created,
                last_updated,
                last_membership_updated,
                kind,
                name,
                profile,
                source_app,
                apps_count,
            },
            members,
        });
    }

    fn sample(&mut self, percent: u32, pred: impl Fn(usize) -> bool) -> Vec<usize> {
        let n = self.people.people.len();
        (0..n)
            .filter(|&i| pred(i) && self.rng.chance(percent))
            .collect()
    }
}

/// Generate `want` groups for `people`.
pub fn generate(rng: &mut Rng, people: &People, want: usize, domain: &str) -> Vec<GenGroup> {
    let ad_app = format!("0oa{}", rng.base62(17));
    let mut c = Ctx {
        rng: rng.fork(10),
        people,
        names: HashSet::new(),
        ids: HashSet::new(),
        out: Vec::with_capacity(want),
        want,
        domain,
        ad_app,
    };
    let ps = &people.people;
    let n = ps.len();

    c.push(
        GroupType::BuiltIn,
        "Everyone".into(),
        "All users in your organization",
        (0..n).collect(),
    );

    for (d, dept) in DEPARTMENTS.iter().enumerate().take(people.heads.len()) {
        let members = (0..n).filter(|&i| ps[i].dept == Some(d)).collect();
        let desc = format!("All members of the {} department", dept.name);
        c.push(GroupType::OktaGroup, dept.name.into(), &desc, members);
    }

    let mut execs = people.heads.clone();
    if n > 0 {
        execs.insert(0, 0);
    }
    c.push(
        GroupType::OktaGroup,
        "Executive Team".into(),
        "CEO and department heads",
        execs,
    );

    for (ci, city) in CITIES.iter().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&i| ps[i].city == ci).collect();
        if !members.is_empty() {
            let desc = format!("Everyone based in {}", city.city);
            c.push(
                GroupType::OktaGroup,
                format!("Location: {}", city.city),
                &desc,
                members,
            );
        }
    }

    let dept_is = |i: usize, names: &[&str]| {
        ps[i]
            .dept
            .is_some_and(|d| names.contains(&DEPARTMENTS[d].name))
    };
    for (sam, desc) in data::AD_GROUPS {
        if c.full() {
            break;
        }
        let members = match *sam {
            "Domain Users" => (0..n).filter(|&i| ps[i].status != Status::Staged).collect(),
            "VPN-Users" => c.sample(40, |_| true),
            "Wifi-Corp" => c.sample(60, |_| true),
            "FileShare-Finance" => c.sample(90, |i| dept_is(i, &["Finance"])),
            "Print-Operators" => c.sample(15, |i| dept_is(i, &["IT"])),
            "Jira-Users" => c.sample(95, |i| {
                dept_is(
                    i,
                    &[
                        "Engineering",
                        "Product",
                        "Design",
                        "Security",
                        "Data Science",
                    ],
                )
            }),
            "GitHub-Org-Members" => c.sample(98, |i| {
                dept_is(i, &["Engineering", "Security", "Data Science"])
            }),
            _ => c.sample(30, |_| true),
        };
        c.push(GroupType::AppGroup, sam.to_string(), desc, members);
    }

    // Teams: managers top-down (breadth first), as many as the count allows.
    let mut queue: std::collections::VecDeque<usize> = people.heads.iter().copied().collect();
    while let Some(m) = queue.pop_front() {
        if c.full() {
            break;
        }
        let p = &ps[m];
        queue.extend(p.reports.iter().copied().filter(|&r| ps[r].is_manager()));
        let mut members = vec![m];
        members.extend(p.reports.iter().copied());
        let is_eng_team = p.dept == Some(0) && !p.reports.iter().any(|&r| ps[r].is_manager());
        let (name, desc) = if is_eng_team && c.rng.chance(50) {
            let dept = &DEPARTMENTS[0];
            let word = c.rng.pick(data::TEAM_WORDS);
            (
                format!("{}-{word}", dept.slug),
                format!("{} team led by {}", word, p.display),
            )
        } else {
            (
                format!("Team: {}", p.display),
                format!("Direct reports of {}", p.display),
            )
        };
        c.push(GroupType::OktaGroup, name, &desc, members);
    }

    // Fill: projects and interest groups, some empty.
    let mut k = 0usize;
    while !c.full() {
        let (name, desc) = if k % 2 == 0 {
            let p = c.rng.pick(data::PROJECT_NAMES);
            (
                format!("Project {p}"),
                format!("Working group for project {p}"),
            )
        } else {
            let i = c.rng.pick(data::INTERESTS);
            (format!("Interest: {i}"), format!("{i} community"))
        };
        k += 1;
        let members = if n == 0 || c.rng.chance(12) {
            Vec::new()
        } else {
            let size = c.rng.range(1, 60.min(n));
            let mut m: Vec<usize> = (0..size).map(|_| c.rng.below(n)).collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        c.push(GroupType::OktaGroup, name, &desc, members);
    }
    c.out
}
