//! Batch loaders for people and groups by id, created per request (with a per-request cache) so
//! fan-out fields (manager, reports, members, groups) read the store once per id per request.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::access::View;
use crate::model::{Group, Person};

/// Loads people through the caller's view: someone the caller may not see is not found.
pub(crate) struct PersonLoader(View);
/// Loads groups through the caller's view.
pub(crate) struct GroupLoader(View);

pub(crate) type People = DataLoader<PersonLoader, HashMapCache>;
pub(crate) type Groups = DataLoader<GroupLoader, HashMapCache>;

/// Store reads are synchronous and fast (sled, mostly cached), so a batch runs inline.
impl Loader<String> for PersonLoader {
    type Value = Person;
    type Error = String;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Person>, String> {
        let people = self.0.people(keys).map_err(|e| e.message())?;
        Ok(people.into_iter().map(|p| (p.id.clone(), p)).collect())
    }
}

impl Loader<String> for GroupLoader {
    type Value = Group;
    type Error = String;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Group>, String> {
        let groups = self.0.groups(keys).map_err(|e| e.message())?;
        Ok(groups.into_iter().map(|g| (g.id.clone(), g)).collect())
    }
}

/// How long a loader waits to gather keys into one batch. Store reads are synchronous and fast,
/// so waiting (async-graphql's default is 1 ms) only adds latency to every request, and once
/// per level to sequential walks; with no delay, keys queued in the same tick still batch.
const BATCH_DELAY: Duration = Duration::ZERO;

/// The loaders for one request.
pub(crate) fn for_request(view: &View) -> (People, Groups) {
    (
        DataLoader::with_cache(
            PersonLoader(view.clone()),
            tokio::spawn,
            HashMapCache::default(),
        )
        .delay(BATCH_DELAY),
        DataLoader::with_cache(
            GroupLoader(view.clone()),
            tokio::spawn,
            HashMapCache::default(),
        )
        .delay(BATCH_DELAY),
    )
}
