//! Provisioning mode's single writer: people and groups pushed by a provisioning client (Okta's
//! SCIM app) become the same store operations, change-log entries and manager resolution as a
//! crawl's, one transaction per write, one write at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::full::membership_op;
use super::incremental::{person_ops, rewrite_moved_managers, stable_raw, update_people};
use super::managers::{self, ManagerConfig};
use crate::model::{
    AttributeMap, Group, GroupChange, MemberOp, PROVISIONED_DOCUMENT, Person, ProvisionError,
    ProvisionWrite, PushedGroup, PushedUser,
};
use crate::store::{Batch, Op, RawJson, Store, StoreError, meta};

/// Applies provisioning writes to the store, one at a time (a lock serializes them, so an
/// update computed from a person's current state can never overwrite a concurrent one).
pub struct Provisioner {
    store: Store,
    managers: ManagerConfig,
    attribute_map: std::sync::Arc<AttributeMap>,
    /// Everyone, for manager resolution (loaded on the first write, dropped after a failed
    /// one); the lock is the single-writer lock.
    people: Mutex<Option<HashMap<String, managers::Known>>>,
}

fn store_error(e: StoreError) -> ProvisionError {
    ProvisionError::Store(e.to_string())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Provisioner {
    /// A writer over `store`, resolving managers and mapping attributes as `cfg` says.
    pub fn new(store: Store, cfg: &super::SyncConfig) -> Provisioner {
        Provisioner {
            store,
            managers: cfg.managers.clone(),
            attribute_map: cfg.attribute_map.clone(),
            people: Mutex::new(None),
        }
    }

    /// Applies one write in one transaction and returns the id of what it wrote. Blocking:
    /// call it off the async workers.
    pub fn apply(&self, write: ProvisionWrite) -> Result<String, ProvisionError> {
        let mut people = match self.people.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic mid-write left the cache unknown: reload it.
                let mut g = poisoned.into_inner();
                *g = None;
                g
            }
        };
        let result = self.apply_locked(&mut people, write);
        if matches!(result, Err(ProvisionError::Store(_))) {
            *people = None;
        }
        result
    }

    fn apply_locked(
        &self,
        people: &mut Option<HashMap<String, managers::Known>>,
        write: ProvisionWrite,
    ) -> Result<String, ProvisionError> {
        match write {
            ProvisionWrite::CreateUser(user) => {
                let id = self.new_id("00u", |id| Ok(self.store.person_raw(id)?.is_some()))?;
                let at = now();
                let mut raw =
                    json!({"id": id, "created": at, "lastUpdated": at, "statusChanged": at});
                fill_user(&mut raw, user);
                self.check_login(&raw, &id)?;
                self.write_people(people, vec![(id.clone(), raw)], Vec::new())?;
                Ok(id)
            }
            ProvisionWrite::EditUser { id, edit } => {
                let current = self
                    .store
                    .person_raw(&id)
                    .map_err(store_error)?
                    .ok_or_else(|| not_found("User", &id))?;
                let user = edit(&current)?;
                let mut raw = current.clone();
                fill_user(&mut raw, user);
                if raw == current {
                    return Ok(id);
                }
                let at = now();
                if raw.get("status") != current.get("status") {
                    raw["statusChanged"] = Value::String(at.clone());
                }
                raw["lastUpdated"] = Value::String(at);
                self.check_login(&raw, &id)?;
                self.write_people(people, vec![(id.clone(), raw)], Vec::new())?;
                Ok(id)
            }
            ProvisionWrite::DeleteUser { id } => {
                if self.store.person(&id).map_err(store_error)?.is_none() {
                    return Err(not_found("User", &id));
                }
                self.write_people(people, Vec::new(), vec![id.clone()])?;
                Ok(id)
            }
            ProvisionWrite::CreateGroup(group) => self.create_group(group),
            ProvisionWrite::EditGroup { id, change } => self.edit_group(&id, change),
            ProvisionWrite::DeleteGroup { id } => {
                if self.store.group(&id).map_err(store_error)?.is_none() {
                    return Err(not_found("Group", &id));
                }
                self.commit(&[Op::DeleteGroup { id: id.clone() }], Vec::new())?;
                Ok(id)
            }
        }
    }

    /// A fresh random id with Okta's shape (`prefix` and 17 letters or digits) that nothing in
    /// the store holds.
    fn new_id(
        &self,
        prefix: &str,
        taken: impl Fn(&str) -> Result<bool, StoreError>,
    ) -> Result<String, ProvisionError> {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let rng = SystemRandom::new();
        for _ in 0..16 {
            let mut bytes = [0u8; 17];
            rng.fill(&mut bytes)
                .map_err(|_| ProvisionError::Store("the system random generator failed".into()))?;
            let mut id = prefix.to_owned();
            id.extend(
                bytes
                    .iter()
                    .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])),
            );
            if !taken(&id).map_err(store_error)? {
                return Ok(id);
            }
        }
        Err(ProvisionError::Store(
            "could not find a free id in 16 tries".into(),
        ))
    }

    /// Refuses a login (SCIM `userName`) that another person holds.
    fn check_login(&self, raw: &Value, id: &str) -> Result<(), ProvisionError> {
        let login = raw
            .pointer("/profile/login")
            .and_then(Value::as_str)
            .filter(|l| !l.trim().is_empty())
            .ok_or_else(|| ProvisionError::Invalid("userName is required".into()))?;
        match self.store.person_by_login(login).map_err(store_error)? {
            Some(other) if other.id != id => Err(ProvisionError::Conflict(format!(
                "userName \"{login}\" is taken by user {}: userNames are unique (compared case-insensitively)",
                other.id
            ))),
            _ => Ok(()),
        }
    }

    /// Writes people (their new raw JSON) and removes others, with managers resolved again
    /// when what resolution reads changed, in one transaction.
    fn write_people(
        &self,
        cache: &mut Option<HashMap<String, managers::Known>>,
        put: Vec<(String, Value)>,
        gone: Vec<String>,
    ) -> Result<(), ProvisionError> {
        let mut puts: BTreeMap<String, (Person, RawJson)> = BTreeMap::new();
        for (id, raw) in put {
            let person = Person::from_okta(&raw, &self.attribute_map)
                .map_err(|e| ProvisionError::Invalid(format!("the user cannot be stored: {e}")))?;
            puts.insert(id, (person, stable_raw(&raw)));
        }
        let gone: HashSet<String> = gone.into_iter().collect();
        if cache.is_none() {
            let mut all = HashMap::new();
            for p in self.store.people_after(None) {
                let p = p.map_err(store_error)?;
                all.insert(p.id.clone(), managers::Known::of(&p));
            }
            *cache = Some(all);
        }
        let Some(people) = cache.as_mut() else {
            return Err(ProvisionError::Store("the people cache is missing".into()));
        };
        let mut meta_entries = Vec::new();
        if update_people(people, &puts, &gone) {
            let resolution = managers::resolve(people.values().map(|k| &k.inputs), &self.managers);
            rewrite_moved_managers(&self.store, people, &resolution, &mut puts)
                .map_err(store_error)?;
            let report = serde_json::to_vec(&resolution.report)
                .map_err(|e| ProvisionError::Store(format!("encoding the manager report: {e}")))?;
            meta_entries.push((meta::MANAGER_REPORT, report));
        }
        let mut ops = person_ops(people, puts);
        ops.extend(gone.into_iter().map(|id| Op::DeletePerson { id }));
        self.commit(&ops, meta_entries)
    }

    fn commit(&self, ops: &[Op], meta: Vec<(&str, Vec<u8>)>) -> Result<(), ProvisionError> {
        self.store
            .apply_batch(Batch {
                ops,
                meta,
                ..Batch::default()
            })
            .map_err(store_error)?;
        Ok(())
    }

    fn create_group(&self, g: PushedGroup) -> Result<String, ProvisionError> {
        let id = self.new_id("00g", |id| Ok(self.store.group(id)?.is_some()))?;
        self.check_group_name(&g.name, &id)?;
        let at = now();
        let mut raw = json!({
            "id": id, "type": "OKTA_GROUP", "created": at, "lastUpdated": at,
            "lastMembershipUpdated": at, "profile": {"name": g.name},
        });
        if let Some(d) = g.description {
            raw["profile"]["description"] = Value::String(d);
        }
        if let Some(x) = g.external_id {
            raw["externalId"] = Value::String(x);
        }
        let group = group_of(&raw)?;
        let members = self.existing_people(g.members.into_iter().collect())?;
        let mut ops = vec![Op::PutGroup {
            group,
            raw: RawJson::from(&raw),
        }];
        ops.extend(members.iter().map(|u| membership_op(&id, u, true)));
        self.commit(&ops, Vec::new())?;
        Ok(id)
    }

    fn edit_group(&self, id: &str, change: GroupChange) -> Result<String, ProvisionError> {
        let current = self
            .store
            .group_raw(id)
            .map_err(store_error)?
            .ok_or_else(|| not_found("Group", id))?;
        let mut raw = current.clone();
        if let Some(name) = &change.name {
            self.check_group_name(name, id)?;
            raw["profile"]["name"] = Value::String(name.clone());
        }
        if let Some(d) = change.description {
            set_or_remove(&mut raw["profile"], "description", d);
        }
        if let Some(x) = change.external_id {
            set_or_remove(&mut raw, "externalId", x);
        }
        let (add, remove) = self.member_delta(id, &change.members)?;
        let profile_changed = raw != current;
        let members_changed = !add.is_empty() || !remove.is_empty();
        if !profile_changed && !members_changed {
            return Ok(id.to_owned());
        }
        let at = now();
        if profile_changed {
            raw["lastUpdated"] = Value::String(at.clone());
        }
        if members_changed {
            raw["lastMembershipUpdated"] = Value::String(at);
        }
        let mut ops = vec![Op::PutGroup {
            group: group_of(&raw)?,
            raw: RawJson::from(&raw),
        }];
        ops.extend(add.iter().map(|u| membership_op(id, u, true)));
        ops.extend(remove.iter().map(|u| membership_op(id, u, false)));
        self.commit(&ops, Vec::new())?;
        Ok(id.to_owned())
    }

    /// The members to add and to remove for `ops` applied in order to the group's members.
    fn member_delta(
        &self,
        group_id: &str,
        ops: &[MemberOp],
    ) -> Result<(BTreeSet<String>, BTreeSet<String>), ProvisionError> {
        if ops.is_empty() {
            return Ok(Default::default());
        }
        let current: BTreeSet<String> = self
            .store
            .member_ids_after(group_id, None)
            .collect::<Result<_, _>>()
            .map_err(store_error)?;
        let mut wanted = current.clone();
        for op in ops {
            match op {
                MemberOp::Add(ids) => wanted.extend(ids.iter().cloned()),
                MemberOp::Remove(ids) => {
                    for id in ids {
                        wanted.remove(id);
                    }
                }
                MemberOp::Replace(ids) => wanted = ids.iter().cloned().collect(),
            }
        }
        let add = self.existing_people(wanted.difference(&current).cloned().collect())?;
        let remove: BTreeSet<String> = current.difference(&wanted).cloned().collect();
        Ok((add, remove))
    }

    /// Leaves out members who are not people in the mirror: as everywhere in the mirror, a
    /// membership is kept only when both ends exist (a client naming an unknown id changes
    /// nothing).
    fn existing_people(&self, ids: BTreeSet<String>) -> Result<BTreeSet<String>, ProvisionError> {
        let mut out = BTreeSet::new();
        for id in ids {
            if self.store.person(&id).map_err(store_error)?.is_some() {
                out.insert(id);
            } else {
                tracing::warn!(member = %id, "a pushed group member is not a user of this mirror: left out");
            }
        }
        Ok(out)
    }

    /// Refuses a group name that another group holds (Okta keeps group names unique).
    fn check_group_name(&self, name: &str, id: &str) -> Result<(), ProvisionError> {
        if name.trim().is_empty() {
            return Err(ProvisionError::Invalid("displayName is required".into()));
        }
        match self.store.group_by_name(name).map_err(store_error)? {
            Some(other) if other.id != id => Err(ProvisionError::Conflict(format!(
                "displayName \"{name}\" is taken by group {}: group names are unique (compared case-insensitively)",
                other.id
            ))),
            _ => Ok(()),
        }
    }
}

fn not_found(kind: &'static str, id: &str) -> ProvisionError {
    ProvisionError::NotFound {
        kind,
        id: id.to_owned(),
    }
}

fn group_of(raw: &Value) -> Result<Group, ProvisionError> {
    Group::from_okta(raw)
        .map_err(|e| ProvisionError::Invalid(format!("the group cannot be stored: {e}")))
}

fn set_or_remove(obj: &mut Value, key: &str, value: Option<String>) {
    if let Some(o) = obj.as_object_mut() {
        match value {
            Some(v) => {
                o.insert(key.to_owned(), Value::String(v));
            }
            None => {
                o.remove(key);
            }
        }
    }
}

/// Writes a pushed user's status, profile, client id and document into the stored JSON.
fn fill_user(raw: &mut Value, user: PushedUser) {
    if !raw.is_object() {
        *raw = Value::Object(Map::new());
    }
    raw["status"] = Value::String(user.status.as_str().to_owned());
    raw["profile"] = Value::Object(user.profile);
    set_or_remove(raw, "externalId", user.external_id);
    raw[PROVISIONED_DOCUMENT] = user.document;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserStatus;

    fn user(login: &str, extra: Value) -> PushedUser {
        let mut profile = Map::new();
        profile.insert("login".into(), json!(login));
        if let Value::Object(o) = extra {
            profile.extend(o);
        }
        PushedUser {
            status: UserStatus::Active,
            profile,
            external_id: None,
            document: json!({"userName": login}),
        }
    }

    #[test]
    fn writes_resolve_managers_and_keep_logins_unique() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("store");
        let w = Provisioner::new(store.clone(), &crate::sync::SyncConfig::default());
        let report = w
            .apply(ProvisionWrite::CreateUser(user(
                "ann@x",
                json!({"managerId": "00uOKTABOSS"}),
            )))
            .expect("create");
        let mut boss = user("boss@x", json!({}));
        boss.external_id = Some("00uOKTABOSS".into());
        let boss_id = w
            .apply(ProvisionWrite::CreateUser(boss))
            .expect("create boss");
        // The report named its manager by the client's id before the manager existed.
        let p = store.person(&report).expect("read").expect("exists");
        assert_eq!(p.manager_id.as_deref(), Some(boss_id.as_str()));
        assert!(report.starts_with("00u") && report.len() == 20, "{report}");
        let e = w
            .apply(ProvisionWrite::CreateUser(user("ANN@x", json!({}))))
            .unwrap_err();
        assert!(matches!(e, ProvisionError::Conflict(_)), "{e:?}");
        // Deleting the manager leaves the report without one.
        w.apply(ProvisionWrite::DeleteUser { id: boss_id })
            .expect("delete");
        let p = store.person(&report).expect("read").expect("exists");
        assert_eq!(p.manager_id, None);
    }

    #[test]
    fn group_members_follow_ops_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("store");
        let w = Provisioner::new(store.clone(), &crate::sync::SyncConfig::default());
        let a = w
            .apply(ProvisionWrite::CreateUser(user("a@x", json!({}))))
            .expect("a");
        let b = w
            .apply(ProvisionWrite::CreateUser(user("b@x", json!({}))))
            .expect("b");
        let g = w
            .apply(ProvisionWrite::CreateGroup(PushedGroup {
                name: "Eng".into(),
                description: None,
                external_id: None,
                members: vec![a.clone()],
            }))
            .expect("group");
        let members = |store: &Store| -> Vec<String> {
            store
                .member_ids_after(&g, None)
                .collect::<Result<_, _>>()
                .expect("members")
        };
        w.apply(ProvisionWrite::EditGroup {
            id: g.clone(),
            change: GroupChange {
                members: vec![
                    MemberOp::Remove(vec![a.clone()]),
                    MemberOp::Add(vec![b.clone()]),
                ],
                ..GroupChange::default()
            },
        })
        .expect("edit");
        assert_eq!(members(&store), vec![b.clone()]);
        // An unknown member changes nothing (a membership needs both ends).
        w.apply(ProvisionWrite::EditGroup {
            id: g.clone(),
            change: GroupChange {
                members: vec![MemberOp::Add(vec!["00uNOBODY".into()])],
                ..GroupChange::default()
            },
        })
        .expect("edit");
        assert_eq!(members(&store), vec![b]);
        let e = w
            .apply(ProvisionWrite::CreateGroup(PushedGroup {
                name: "eng".into(),
                description: None,
                external_id: None,
                members: Vec::new(),
            }))
            .unwrap_err();
        assert!(matches!(e, ProvisionError::Conflict(_)), "{e:?}");
    }
}
