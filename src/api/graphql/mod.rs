//! The GraphQL schema over the store: types, loaders, paging and the query-safety limits.
//! `schema()` builds it for serving, `sdl()` prints it.

mod changes;
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
mod subscription;
mod sync_status;

use std::sync::Arc;

use async_graphql::{Context, Result, Schema, SchemaBuilder};

use crate::access::View;
use crate::model::{Group, Person};
use errors::store_error;

pub(crate) type ApiSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Deepest selection allowed (the standard introspection query needs about 13).
pub(crate) const MAX_DEPTH: usize = 16;
/// Highest query cost allowed; a connection counts its children once per node of `first`
/// (default 100), so this is roughly the number of fields a query may resolve.
pub(crate) const MAX_COMPLEXITY: usize = 100_000;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(super::limits::Deadlines)
}

/// The schema for serving. It holds no data handle: every request brings the caller's
/// `View` (see `for_request`), so no resolver can read around the access rules.
pub(crate) fn schema(control: Option<Arc<dyn crate::api::SyncControl>>) -> ApiSchema {
    let b = builder();
    match control {
        Some(c) => b.data(c).finish(),
        None => b.finish(),
    }
}

/// The schema in SDL.
pub(crate) fn sdl() -> String {
    builder().finish().sdl()
}

/// The same for a WebSocket connection, whose subscriptions live long: its loaders keep no
/// cache, so every entry reads the mirror as it is then (and memory stays flat).
pub(crate) fn for_connection(view: View) -> async_graphql::Data {
    let (people, groups) = loaders::for_request(&view);
    people.enable_all_cache(false);
    groups.enable_all_cache(false);
    let mut data = async_graphql::Data::default();
    data.insert(view);
    data.insert(people);
    data.insert(groups);
    data
}

/// Attaches what every request reads through: the caller's `View` and the per-request loaders
/// over it.
pub(crate) fn for_request(req: async_graphql::Request, view: View) -> async_graphql::Request {
    let (people, groups) = loaders::for_request(&view);
    req.data(view).data(people).data(groups)
}

/// The caller's view of the mirror, for this request.
fn view<'a>(ctx: &Context<'a>) -> Result<&'a View> {
    ctx.data::<View>()
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
