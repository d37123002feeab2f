//! The HTTP face of the mirror: one axum router serving GraphQL (`/graphql`) and the health probes.
//! async-graphql and axum types stay inside this module; the core (model, store, sync) never sees them.

mod graphql;
mod health;
mod http;
mod media;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::store::Store;

/// What the API needs to serve requests: a handle to the store (cheap to clone) and the
/// people search index that follows it.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub search: Arc<crate::search::Index>,
}

/// Per-router shared state: the built schema, the store and the search index.
pub(crate) struct Shared {
    pub schema: graphql::ApiSchema,
    pub store: Store,
    pub search: Arc<crate::search::Index>,
    /// Latched once the index has caught up with the store after the first full sync.
    pub searchable: std::sync::atomic::AtomicBool,
    /// GraphQL documents already parsed, by text.
    pub documents: http::Documents,
}

/// All routes (`/graphql`, `/healthz`, `/readyz`) with their state applied.
pub fn router(state: ApiState) -> Router {
    let shared = Arc::new(Shared {
        schema: graphql::schema(state.store.clone(), state.search.clone()),
        store: state.store,
        search: state.search,
        searchable: std::sync::atomic::AtomicBool::new(false),
        documents: http::Documents::default(),
    });
    Router::new()
        .route("/graphql", get(http::graphql_get).post(http::graphql_post))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(shared)
}

/// The schema in SDL, as committed in `schema/schema.graphql` and printed by `oktamirror schema`.
pub fn sdl() -> String {
    graphql::sdl()
}
