//! Batch loaders for people and groups by id, created per request (with a per-request cache) so
//! fan-out fields (manager, reports, members, groups) read the store once per id per request.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::model::{Group, Person};
use crate::store::Store;

pub(crate) struct PersonLoader(Store);
pub(crate) struct GroupLoader(Store);

pub(crate) type People = DataLoader<PersonLoader, HashMapCache>;
pub(crate) type Groups = DataLoader<GroupLoader, HashMapCache>;

/// Store reads are synchronous and fast (sled, mostly cached), so a batch runs inline.
impl Loader<String> for PersonLoader {
    type Value = Person;
    type Error = String;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Person>, String> {
        let mut out = HashMap::with_capacity(keys.len());
        for id in keys {
            if let Some(p) = self.0.person(id).map_err(|e| e.to_string())? {
                out.insert(id.clone(), p);
            }
        }
        Ok(out)
    }
}

impl Loader<String> for GroupLoader {
    type Value = Group;
    type Error = String;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Group>, String> {
        let mut out = HashMap::with_capacity(keys.len());
        for id in keys {
            if let Some(g) = self.0.group(id).map_err(|e| e.to_string())? {
                out.insert(id.clone(), g);
            }
        }
        Ok(out)
    }
}

/// How long a loader waits to gather keys into one batch. Store reads are synchronous and fast,
/// so waiting (async-graphql's default is 1 ms) only adds latency to every request, and once
/// per level to sequential walks; with no delay, keys queued in the same tick still batch.
const BATCH_DELAY: Duration = Duration::ZERO;

/// The loaders for one request.
pub(crate) fn for_request(store: &Store) -> (People, Groups) {
    (
        DataLoader::with_cache(
            PersonLoader(store.clone()),
            tokio::spawn,
            HashMapCache::default(),
        )
        .delay(BATCH_DELAY),
        DataLoader::with_cache(
            GroupLoader(store.clone()),
            tokio::spawn,
            HashMapCache::default(),
        )
        .delay(BATCH_DELAY),
    )
}
