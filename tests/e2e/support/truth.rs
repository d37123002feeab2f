//! The simulator's own state as the truth a mirror must equal: every user as Okta serves it
//! (typed the way the README documents, with managers resolved over the whole org), every
//! group, every membership; and the same view read from a mirror's store.

use std::collections::BTreeMap;

use serde_json::Value;

use oktamirror::model::{Group, Person, strip_volatile};
use oktamirror::sim::Simulator;
use oktamirror::store::Store;
use oktamirror::sync::ManagerConfig;
use oktamirror::sync::managers;

/// Named facts (`person X`, `raw user X`, `group G`, `raw group G`, `members G`).
pub type Facts = BTreeMap<String, String>;

/// What the simulator holds now, less the fields the mirror does not keep
/// (`model::VOLATILE_FIELDS`: links, `lastLogin`, …). Typed people come from `Person::from_okta` on the users as
/// served, with `managerId` resolved over the whole org as a full crawl resolves it (the
/// incremental lanes promise exactly that result). With `stamps` false, groups'
/// `lastMembershipUpdated` is left out.
pub fn of_sim(sim: &Simulator, stamps: bool) -> Facts {
    let mut out = Facts::new();
    let (people, users): (Vec<Person>, Vec<Value>) = people(sim).into_iter().unzip();
    for (p, raw) in people.iter().zip(&users) {
        let mut raw = raw.clone();
        strip_volatile(&mut raw);
        out.insert(format!("person {}", p.id), format!("{p:?}"));
        out.insert(format!("raw user {}", p.id), raw.to_string());
    }
    for mut raw in sim.groups() {
        strip_volatile(&mut raw);
        if !stamps {
            if let Some(o) = raw.as_object_mut() {
                o.remove("lastMembershipUpdated");
            }
        }
        let g = Group::from_okta(&raw).expect("a valid group");
        out.insert(format!("group {}", g.id), format!("{g:?}"));
        out.insert(format!("raw group {}", g.id), raw.to_string());
        let mut members = sim.group_members(&g.id);
        members.sort();
        out.insert(format!("members {}", g.id), members.join(","));
    }
    out
}

/// Every user the simulator holds, typed as the README documents (with `managerId` resolved over
/// the whole org, as a full crawl resolves it), beside the user as Okta serves it.
pub fn people(sim: &Simulator) -> Vec<(Person, Value)> {
    let users = sim.users();
    let mut people: Vec<Person> = users
        .iter()
        .map(|u| Person::from_okta(u, &Default::default()).expect("a valid user"))
        .collect();
    let resolved = managers::resolve(people.iter(), &ManagerConfig::default());
    for p in &mut people {
        p.manager_id = resolved.managers.get(&p.id).cloned();
    }
    people.into_iter().zip(users).collect()
}

/// The same facts as a mirror's store holds them.
pub fn of_store(store: &Store, stamps: bool) -> Facts {
    let mut out = Facts::new();
    for p in store.people_after(None) {
        let p = p.expect("person");
        let raw = store.person_raw(&p.id).expect("raw").unwrap_or_default();
        out.insert(format!("person {}", p.id), format!("{p:?}"));
        out.insert(format!("raw user {}", p.id), raw.to_string());
    }
    for g in store.groups_after(None) {
        let mut g = g.expect("group");
        let mut raw = store.group_raw(&g.id).expect("raw").unwrap_or_default();
        if !stamps {
            g.last_membership_updated = None;
            if let Some(o) = raw.as_object_mut() {
                o.remove("lastMembershipUpdated");
            }
        }
        let members: Vec<String> = store
            .member_ids_after(&g.id, None)
            .collect::<Result<_, _>>()
            .expect("members");
        out.insert(format!("group {}", g.id), format!("{g:?}"));
        out.insert(format!("raw group {}", g.id), raw.to_string());
        out.insert(format!("members {}", g.id), members.join(","));
    }
    out
}

/// The first difference between a mirror and the truth, if any.
pub fn diff(mirror: &Facts, truth: &Facts) -> Option<String> {
    for (k, v) in truth {
        match mirror.get(k) {
            None => return Some(format!("mirror lacks {k}")),
            Some(mv) if mv != v => return Some(format!("{k} differs:\n mirror {mv}\n okta   {v}")),
            _ => {}
        }
    }
    mirror
        .keys()
        .find(|k| !truth.contains_key(*k))
        .map(|k| format!("mirror still has {k}"))
}
