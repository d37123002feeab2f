//! A changed attribute mapping, applied to the stored people: every person derived again from
//! the raw Okta JSON the store holds, without asking Okta, through the normal write path.

use std::collections::{BTreeMap, HashMap};

use super::SyncConfig;
use super::incremental::rewrite_moved_managers;
use super::managers;
use crate::model::Person;
use crate::store::{Op, RawJson, Store, StoreError, meta};

/// People written per transaction: each batch is one `Store::apply`, so the change log, the
/// indexes, the counts and the search follower see the re-derived people as any other change.
pub const BATCH: usize = 1_000;

/// What [`rederive`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rederived {
    /// The mapping the store was derived with (its fingerprint; empty for the default).
    pub from: String,
    /// The mapping now configured.
    pub to: String,
    /// People derived again.
    pub people: u64,
    /// People whose stored record changed.
    pub changed: u64,
}

/// When the configured mapping differs from the one the store's people were derived with,
/// derives every person again from their stored raw JSON (managers resolved again over the
/// whole org, as a crawl would), writes those that changed in batches of [`BATCH`], and records
/// the mapping last, so a crash part-way does it again at the next start. `None` when the
/// mapping is unchanged (a store without a record was derived with the default mapping).
/// Blocking; run it before the sync schedule starts.
pub fn rederive(store: &Store, cfg: &SyncConfig) -> Result<Option<Rederived>, StoreError> {
    let to = cfg.attribute_map.fingerprint();
    let from: String = store.meta_json(meta::ATTRIBUTE_MAP)?.unwrap_or_default();
    if from == to {
        return Ok(None);
    }
    let mut stored: HashMap<String, Person> = HashMap::new();
    let mut people: HashMap<String, managers::Known> = HashMap::new();
    let mut puts: BTreeMap<String, (Person, RawJson)> = BTreeMap::new();
    for p in store.people_after(None) {
        let old = p?;
        let fresh = match store.person_raw(&old.id)? {
            Some(raw) => match Person::from_okta(&raw, &cfg.attribute_map) {
                Ok(mut fresh) => {
                    fresh.manager_id = old.manager_id.clone();
                    // Provisioning mode keeps the client's id beside the Okta-shaped JSON.
                    fresh.external_id = fresh.external_id.or_else(|| old.external_id.clone());
                    if fresh != old {
                        puts.insert(old.id.clone(), (fresh.clone(), RawJson::from(&raw)));
                    }
                    fresh
                }
                Err(e) => {
                    tracing::warn!("kept user {} as stored: {e}", old.id);
                    old.clone()
                }
            },
            None => old.clone(),
        };
        people.insert(fresh.id.clone(), managers::Known::of(&fresh));
        stored.insert(old.id.clone(), old);
    }
    let resolution = managers::resolve(people.values().map(|k| &k.inputs), &cfg.managers);
    rewrite_moved_managers(store, &mut people, &resolution, &mut puts)?;
    let ops: Vec<Op> = puts
        .into_iter()
        .map(|(id, (mut p, raw))| {
            p.manager_id = people.get(&id).and_then(|c| c.manager_id.clone());
            (p, raw)
        })
        .filter(|(p, _)| stored.get(&p.id) != Some(p))
        .map(|(p, raw)| Op::PutPerson {
            person: Box::new(p),
            raw,
        })
        .collect();
    let changed = ops.len() as u64;
    for chunk in ops.chunks(BATCH) {
        store.apply(chunk, &[])?;
    }
    let recorded = serde_json::to_vec(&to)
        .map_err(|e| StoreError::Internal(format!("encoding the attribute mapping: {e}")))?;
    let report = serde_json::to_vec(&resolution.report)
        .map_err(|e| StoreError::Internal(format!("encoding the manager report: {e}")))?;
    store.apply(
        &[],
        &[
            (meta::ATTRIBUTE_MAP, recorded),
            (meta::MANAGER_REPORT, report),
        ],
    )?;
    Ok(Some(Rederived {
        from,
        to,
        people: people.len() as u64,
        changed,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::model::AttributeMap;

    fn put(id: &str, profile: serde_json::Value) -> Op {
        let raw = json!({"id": id, "status": "ACTIVE", "profile": profile});
        let p = Person::from_okta(&raw, &AttributeMap::default()).expect("valid");
        Op::PutPerson {
            person: Box::new(p),
            raw: (&raw).into(),
        }
    }

    /// Only the people the new mapping changes are written, managers follow a mapped key, the
    /// mapping is recorded, and the same mapping again does nothing.
    #[test]
    fn only_changed_people_are_rewritten_and_the_mapping_is_recorded() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        store
            .apply(
                &[
                    put(
                        "1",
                        json!({"login": "a@x", "employeeNumber": "E1", "badgeId": "B1"}),
                    ),
                    // Reports to B1 by badge: resolved only once employeeNumber reads badgeId.
                    put(
                        "2",
                        json!({"login": "b@x", "managerId": "B1", "city": "Oslo"}),
                    ),
                    put("3", json!({"login": "c@x", "city": "Rome"})),
                ],
                &[],
            )
            .expect("apply");
        assert_eq!(store.person("2").expect("get").expect("2").manager_id, None);
        let seq = store.last_seq().expect("seq");
        let fields = BTreeMap::from([("employeeNumber".to_owned(), "badgeId".to_owned())]);
        let cfg = SyncConfig {
            attribute_map: Arc::new(AttributeMap::parse(&fields, &[]).expect("valid")),
            ..SyncConfig::default()
        };
        let r = rederive(&store, &cfg).expect("rederive").expect("a change");
        assert_eq!(
            r,
            Rederived {
                from: String::new(),
                to: "employeeNumber=badgeId".into(),
                people: 3,
                changed: 2,
            }
        );
        let two = store.person("2").expect("get").expect("2");
        assert_eq!(two.manager_id.as_deref(), Some("1"));
        assert_eq!(
            store
                .person("1")
                .expect("get")
                .expect("1")
                .employee_number
                .as_deref(),
            Some("B1")
        );
        assert_eq!(
            store.last_seq().expect("seq"),
            seq + 2,
            "one entry per changed person"
        );
        assert_eq!(rederive(&store, &cfg).expect("again"), None);
        // Back to the default: both change back.
        let back = rederive(&store, &SyncConfig::default())
            .expect("back")
            .expect("a change");
        assert_eq!((back.to.as_str(), back.changed), ("", 2));
    }
}
