//! Deterministic org generation: turns `(users, groups, seed)` into a populated
//! [`Org`] plus the ground truth (intended managers, anomalies) tests check against.

mod data;
mod fold;
mod groups;
mod people;

use std::collections::{BTreeSet, HashMap};

use super::model::Group;
use super::rng::Rng;
use super::store::{Org, UserType};
use super::time;
use super::{Anomaly, SimOptions};

/// What the generator intended, kept apart from the mutable org.
pub struct Truth {
    /// user id → intended manager's user id (absent for the CEO and anomalies).
    pub managers: HashMap<String, String>,
    pub anomalies: Vec<Anomaly>,
    pub company: &'static str,
    pub domain: &'static str,
}

/// Build the org for `opts`; the same options always give the same org.
pub fn generate(opts: &SimOptions) -> (Org, Truth) {
    let mut rng = Rng::new(opts.seed ^ 0x6F6B_7461_6D69_7272);
    let (company, domain) = *rng.pick(data::COMPANIES);
    let user_type = format!("oty{}", rng.base62(17));
    // The other types' ids from their own generator, so every org stays as it was.
    let mut types_rng = Rng::new(opts.seed ^ 0x7479_7065_7300);
    let info = people::OrgInfo {
        company,
        domain,
        employee_type: format!("oty{}", types_rng.base62(17)),
        contractor_type: format!("oty{}", types_rng.base62(17)),
        user_type,
    };
    let want = opts
        .groups
        .unwrap_or_else(|| groups::default_count(opts.users));
    let mut people_rng = rng.fork(100);
    let mut group_rng = rng.fork(200);

    let people = people::generate(&mut people_rng, opts.users, &info);
    let groups = groups::generate(&mut group_rng, &people, want, domain);

    let mut managers = HashMap::with_capacity(people.people.len());
    for (i, p) in people.people.iter().enumerate() {
        if let Some(m) = p.manager {
            if !people.anomalous.contains(&i) {
                managers.insert(p.id.clone(), people.people[m].id.clone());
            }
        }
    }

    // Reverse index built per person, so the store needs no per-membership hashing.
    let mut per_person: Vec<Vec<&str>> = vec![Vec::new(); people.people.len()];
    for g in &groups {
        for &i in &g.members {
            per_person[i].push(&g.group.id);
        }
    }
    let user_groups: Vec<BTreeSet<String>> = per_person
        .into_iter()
        .map(|gs| gs.into_iter().map(str::to_string).collect())
        .collect();
    let groups: Vec<(Group, BTreeSet<String>)> = groups
        .into_iter()
        .map(|g| {
            let ids = g.members.iter().map(|&i| people.people[i].id.clone());
            (g.group, ids.collect())
        })
        .collect();
    let people::People {
        users, anomalies, ..
    } = people;
    let mut org = Org::bulk(users, user_groups, groups);
    org.user_types = user_types(&info);
    let truth = Truth {
        managers,
        anomalies,
        company,
        domain,
    };
    (org, truth)
}

/// The org's user types: Okta's default one (`user`, which users created without a type get),
/// and Employee and Contractor, which the generated people carry by their `profile.userType`.
fn user_types(info: &people::OrgInfo) -> Vec<UserType> {
    let created = time::parse("2019-01-01T00:00:00.000Z").unwrap_or_default();
    let ty = |id: &str, name: &str, display: &str, description: &str, default: bool| UserType {
        id: id.to_owned(),
        name: name.to_owned(),
        display_name: display.to_owned(),
        description: description.to_owned(),
        default,
        created,
    };
    vec![
        ty(
            &info.user_type,
            "user",
            "User",
            "Okta user profile template with default permission settings",
            true,
        ),
        ty(
            &info.employee_type,
            "employee",
            "Employee",
            "Full-time and part-time staff",
            false,
        ),
        ty(
            &info.contractor_type,
            "contractor",
            "Contractor",
            "Contractors and temporary staff",
            false,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use crate::sim::{AnomalyKind, SimOptions, Simulator};

    fn sim(users: usize, seed: u64) -> Simulator {
        Simulator::new(SimOptions {
            users,
            groups: None,
            seed,
            token: "t".into(),
        })
    }

    fn p<'a>(u: &'a serde_json::Value, k: &str) -> &'a str {
        u["profile"][k].as_str().unwrap_or("")
    }

    #[test]
    fn deterministic_per_seed() {
        let a = sim(1500, 42);
        let b = sim(1500, 42);
        let c = sim(1500, 43);
        assert_eq!(a.users(), b.users());
        assert_eq!(a.groups(), b.groups());
        assert_eq!(a.anomalies(), b.anomalies());
        assert_ne!(a.users(), c.users());
    }

    #[test]
    fn every_status_present_and_timestamps_consistent() {
        let s = sim(2000, 7);
        let users = s.users();
        assert_eq!(users.len(), 2000);
        let statuses: HashSet<&str> = users.iter().filter_map(|u| u["status"].as_str()).collect();
        for st in [
            "ACTIVE",
            "STAGED",
            "PROVISIONED",
            "RECOVERY",
            "LOCKED_OUT",
            "PASSWORD_EXPIRED",
            "SUSPENDED",
            "DEPROVISIONED",
        ] {
            assert!(statuses.contains(st), "missing {st}");
        }
        for u in &users {
            let created = u["created"].as_str().unwrap();
            let updated = u["lastUpdated"].as_str().unwrap();
            assert!(created < updated, "{u}");
            assert!(created.ends_with(".000Z"));
            if u["status"] == "STAGED" {
                assert!(u["activated"].is_null());
                assert!(u["lastLogin"].is_null());
            } else {
                assert!(u["activated"].as_str().unwrap() > created);
            }
            let id = u["id"].as_str().unwrap();
            assert!(id.starts_with("00u") && id.len() == 20, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(u["type"]["id"].as_str().unwrap().starts_with("oty"));
            assert_eq!(u["credentials"]["provider"]["type"], "OKTA");
            assert!(u["_links"]["self"]["href"].as_str().unwrap().ends_with(id));
            assert_eq!(p(u, "countryCode").len(), 2);
            assert!(u.to_string().chars().all(|c| c.len_utf8() <= 3));
        }
    }

    #[test]
    fn logins_employee_numbers_and_names_are_unique_and_varied() {
        let s = sim(3000, 1);
        let users = s.users();
        let logins: HashSet<&str> = users.iter().map(|u| p(u, "login")).collect();
        let emps: HashSet<&str> = users.iter().map(|u| p(u, "employeeNumber")).collect();
        assert_eq!(logins.len(), users.len());
        assert_eq!(emps.len(), users.len());
        assert!(logins.iter().all(|l| l.is_ascii() && l.contains('@')));
        let names: String = users.iter().map(|u| p(u, "displayName")).collect();
        assert!(!names.is_ascii());
        assert!(names.contains('ß') || names.contains('ü') || names.contains('é'));
        assert!(users.iter().any(|u| u["profile"].get("nickName").is_some()));
        assert!(users.iter().any(|u| u["profile"].get("badgeId").is_none()));
    }

    #[test]
    fn hierarchy_reaches_the_ceo_and_profiles_match_truth() {
        let s = sim(5000, 9);
        let users = s.users();
        let by_id: HashMap<&str, &serde_json::Value> = users
            .iter()
            .map(|u| (u["id"].as_str().unwrap(), u))
            .collect();
        let anomalous: HashSet<String> = s.anomalies().into_iter().map(|a| a.user_id).collect();
        let roots: Vec<&serde_json::Value> = users
            .iter()
            .filter(|u| s.true_manager(u["id"].as_str().unwrap()).is_none())
            .filter(|u| !anomalous.contains(u["id"].as_str().unwrap()))
            .collect();
        assert_eq!(roots.len(), 1, "exactly one CEO");
        let ceo = roots[0];
        assert_eq!(p(ceo, "managerId"), p(ceo, "employeeNumber"));
        assert_eq!(p(ceo, "title"), "Chief Executive Officer");
        let ceo_id = ceo["id"].as_str().unwrap();
        let mut reports: HashMap<String, usize> = HashMap::new();
        for u in &users {
            let id = u["id"].as_str().unwrap();
            if id == ceo_id || anomalous.contains(id) {
                continue;
            }
            let m = s.true_manager(id).unwrap();
            let mgr = by_id[m.as_str()];
            assert_eq!(p(u, "managerId"), p(mgr, "employeeNumber"));
            assert_eq!(p(u, "manager"), p(mgr, "displayName"));
            *reports.entry(m).or_default() += 1;
            let mut cur = id.to_string();
            let mut steps = 0;
            while let Some(next) = s.true_manager(&cur) {
                cur = next;
                steps += 1;
                assert!(steps < 30, "chain too long");
            }
            assert_eq!(cur, ceo_id);
        }
        let heads = reports.get(ceo_id).copied().unwrap_or(0);
        assert!((8..=14).contains(&heads), "{heads} departments");
        assert!(users.iter().any(|u| p(u, "title") == "VP of Engineering"));
        assert!(
            users
                .iter()
                .any(|u| p(u, "title").starts_with("Director, "))
        );
        let spans: Vec<usize> = reports.values().copied().collect();
        let avg = spans.iter().sum::<usize>() as f64 / spans.len() as f64;
        assert!((4.0..=11.0).contains(&avg), "average span {avg}");
    }

    #[test]
    fn anomalies_are_broken_as_described() {
        let s = sim(1000, 5);
        let users = s.users();
        let emp: HashMap<&str, &str> = users
            .iter()
            .map(|u| (p(u, "employeeNumber"), u["id"].as_str().unwrap()))
            .collect();
        let by_id: HashMap<&str, &serde_json::Value> = users
            .iter()
            .map(|u| (u["id"].as_str().unwrap(), u))
            .collect();
        let anomalies = s.anomalies();
        let count = |k: AnomalyKind| anomalies.iter().filter(|a| a.kind == k).count();
        assert_eq!(count(AnomalyKind::UnresolvableManager), 2);
        assert_eq!(count(AnomalyKind::Cycle), 2);
        assert_eq!(count(AnomalyKind::SelfManaged), 1);
        for a in &anomalies {
            assert_eq!(s.true_manager(&a.user_id), None);
            let u = by_id[a.user_id.as_str()];
            let target = emp.get(p(u, "managerId")).copied();
            match a.kind {
                AnomalyKind::UnresolvableManager => assert_eq!(target, None),
                AnomalyKind::SelfManaged => assert_eq!(target, Some(a.user_id.as_str())),
                AnomalyKind::Cycle => {
                    let other = by_id[target.unwrap()];
                    assert_eq!(emp[p(other, "managerId")], a.user_id);
                }
            }
        }
    }

    #[test]
    fn groups_are_realistic() {
        let s = Simulator::new(SimOptions {
            users: 2000,
            groups: Some(150),
            seed: 3,
            token: "t".into(),
        });
        let groups = s.groups();
        assert_eq!(groups.len(), 150);
        let everyone = groups.iter().find(|g| g["type"] == "BUILT_IN").unwrap();
        assert_eq!(everyone["profile"]["name"], "Everyone");
        assert_eq!(
            s.group_members(everyone["id"].as_str().unwrap()).len(),
            2000
        );
        let ad = groups.iter().find(|g| g["type"] == "APP_GROUP").unwrap();
        assert_eq!(ad["objectClass"][0], "okta:windows_security_principal");
        for k in [
            "samAccountName",
            "dn",
            "windowsDomainQualifiedName",
            "externalId",
        ] {
            assert!(ad["profile"][k].is_string(), "{k}");
        }
        let names: HashSet<&str> = groups
            .iter()
            .map(|g| g["profile"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), groups.len());
        assert!(names.contains("Engineering"));
        assert!(names.iter().any(|n| n.starts_with("Team: ")));
        assert!(names.iter().any(|n| n.starts_with("Location: ")));
        assert!(
            groups
                .iter()
                .any(|g| s.group_members(g["id"].as_str().unwrap()).is_empty())
        );
        for g in &groups {
            assert!(g["id"].as_str().unwrap().starts_with("00g"));
            assert!(g["lastMembershipUpdated"].is_string());
            assert!(g["_links"]["users"]["href"].is_string());
            assert!(g.get("_embedded").is_none());
        }
        // reverse index agrees
        let uid = s.users()[0]["id"].as_str().unwrap().to_string();
        for gid in s.user_groups(&uid) {
            assert!(s.group_members(&gid).contains(&uid));
        }
        // default group count
        assert_eq!(sim(400, 1).groups().len(), 20);
        assert_eq!(sim(40, 1).groups().len(), 8);
    }

    #[test]
    fn tiny_orgs_do_not_panic() {
        for n in [0, 1, 2, 5, 12] {
            let s = sim(n, 11);
            assert_eq!(s.users().len(), n);
        }
    }

    #[test]
    fn hundred_thousand_users() {
        let start = std::time::Instant::now();
        let s = Simulator::new(SimOptions {
            users: 100_000,
            groups: Some(5000),
            seed: 1,
            token: "t".into(),
        });
        eprintln!("100k users generated in {:?}", start.elapsed());
        assert_eq!(s.groups().len(), 5000);
        assert_eq!(s.anomalies().len(), 5);
    }
}
