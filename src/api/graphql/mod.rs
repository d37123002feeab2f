//! The GraphQL schema over the store: types, loaders, paging and the query-safety limits.
//! `schema()` builds it for serving, `sdl()` prints it.

mod connection;
pub(crate) mod cursor;
mod enums;
mod errors;
mod filters;
mod group;
mod loaders;
mod mutation;
mod org;
mod paging;
mod person;
mod query;
mod search;
mod sync_status;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Result, Schema, SchemaBuilder};

use crate::model::{Group, Person};
use crate::store::Store;
use errors::store_error;

pub(crate) type ApiSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Deepest selection allowed (the standard introspection query needs about 13).
pub(crate) const MAX_DEPTH: usize = 16;
/// Highest query cost allowed; a connection counts its children once per node of `first`
/// (default 100), so this is roughly the number of fields a query may resolve.
pub(crate) const MAX_COMPLEXITY: usize = 100_000;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(super::limits::Deadlines)
}

/// The schema for serving, reading from `store` and searching `index`.
pub(crate) fn schema(
    store: Store,
    index: Arc<crate::search::Index>,
    control: Option<Arc<dyn crate::api::SyncControl>>,
) -> ApiSchema {
    let b = builder()
        .data(store)
        .data(index)
        .data(Arc::new(crate::search::DepartmentCache::default()));
    match control {
        Some(c) => b.data(c).finish(),
        None => b.finish(),
    }
}

/// A schema over a store alone: no search index, no sync schedule (their fields answer with
/// an error). For reading a data directory without a server.
pub(crate) fn offline_schema(store: Store) -> ApiSchema {
    builder()
        .data(store)
        .data(Arc::new(crate::search::DepartmentCache::default()))
        .finish()
}

/// The schema in SDL.
pub(crate) fn sdl() -> String {
    builder().finish().sdl()
}

/// Attaches the per-request loaders every request needs.
pub(crate) fn with_loaders(req: async_graphql::Request, store: &Store) -> async_graphql::Request {
    let (people, groups) = loaders::for_request(store);
    req.data(people).data(groups)
}

fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

/// A count as a GraphQL Int (saturating; counts never come near 2^31).
fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// People by id through the request's loader, in the order of `ids` (missing ids skipped).
async fn load_people(ctx: &Context<'_>, ids: &[String]) -> Result<Vec<Person>> {
    let loader = ctx.data::<loaders::People>()?;
    let mut found = loader
        .load_many(ids.iter().cloned())
        .await
        .map_err(store_error)?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Groups by id through the request's loader, in the order of `ids` (missing ids skipped).
async fn load_groups(ctx: &Context<'_>, ids: &[String]) -> Result<Vec<Group>> {
    let loader = ctx.data::<loaders::Groups>()?;
    let mut found = loader
        .load_many(ids.iter().cloned())
        .await
        .map_err(store_error)?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}
