//! The HTTP face of the mirror: one axum router serving GraphQL (`/graphql`, with GraphiQL for
//! browsers and its files under `/assets/`), the health probes and Okta event hooks (`/hooks/okta`).
//! async-graphql and axum types stay inside this module; the core (model, store, sync) never sees them.

mod assets;
mod control;
mod graphql;
mod health;
mod hooks;
mod http;
mod limits;
mod media;

pub use control::{SyncControl, SyncNow};
pub use hooks::{HookConfig, HookSink};

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::store::Store;

/// What the API needs to serve requests: a handle to the store (cheap to clone) and the
/// people search index that follows it.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub search: Arc<crate::search::Index>,
    /// The running sync schedule, for `syncNow`; `None` where nothing syncs (tests, tools).
    pub control: Option<Arc<dyn SyncControl>>,
    /// Event hooks, when a secret is configured.
    pub hook: Option<HookConfig>,
    /// The longest one GraphQL request may run (`request_timeout`); after it the request ends
    /// with a `TIMEOUT` error and its work stops.
    pub request_timeout: Duration,
}

/// Per-router shared state: the built schema, the store and the search index.
pub(crate) struct Shared {
    pub schema: graphql::ApiSchema,
    pub store: Store,
    pub search: Arc<crate::search::Index>,
    /// Latched once the index has caught up with the store after the first full sync.
    pub searchable: std::sync::atomic::AtomicBool,
    pub hook: Option<HookConfig>,
    /// GraphQL documents already parsed, by text.
    pub documents: http::Documents,
    /// See `ApiState::request_timeout`.
    pub request_timeout: Duration,
}

/// All routes (`/graphql`, `/assets/`, `/healthz`, `/readyz`, `/hooks/okta`) with their state
/// applied; every HTML answer gets the security headers of `assets::secure_html`.
pub fn router(state: ApiState) -> Router {
    let shared = Arc::new(Shared {
        schema: graphql::schema(state.store.clone(), state.search.clone(), state.control),
        store: state.store,
        search: state.search,
        searchable: std::sync::atomic::AtomicBool::new(false),
        hook: state.hook,
        documents: http::Documents::default(),
        request_timeout: state.request_timeout,
    });
    Router::new()
        .route(
            "/graphql",
            get(http::graphql_get)
                .post(http::graphql_post)
                .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/hooks/okta", get(hooks::verify).post(hooks::deliver))
        .route("/assets/{*path}", get(assets::asset))
        .layer(axum::middleware::map_response(assets::secure_html))
        .with_state(shared)
}

/// Runs a GraphQL query against a store without a server (for `oktamirror status` on a data
/// directory): the same answers as `/graphql`, except search and `syncNow`, which need a server.
pub async fn execute_offline(
    store: Store,
    query: &str,
    variables: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let schema = graphql::offline_schema(store.clone());
    let req = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let resp = schema.execute(graphql::with_loaders(req, &store)).await;
    if let Some(e) = resp.errors.first() {
        return Err(e.message.clone());
    }
    resp.data.into_json().map_err(|e| e.to_string())
}

/// What the fuzz targets in `fuzz/` drive (through `crate::fuzzing`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::graphql::cursor::{self, Kind};

    /// Decodes a cursor of a person list (`kind` 0), group list (1) or search (2 and up).
    pub fn decode_cursor(kind: u8, cursor: &str) -> Result<String, String> {
        let kind = match kind {
            0 => Kind::Person,
            1 => Kind::Group,
            _ => Kind::Search,
        };
        cursor::decode_text(kind, cursor)
    }

    /// Encodes a cursor (for round trips).
    pub fn encode_cursor(kind: u8, id: &str) -> String {
        let kind = match kind {
            0 => Kind::Person,
            1 => Kind::Group,
            _ => Kind::Search,
        };
        cursor::encode(kind, id)
    }

    /// The edge's checks of a GraphQL document, in order: the text bounds, then (when it
    /// parses) the alias, root-field and field counts. `Err` is the refusal's message.
    pub fn check_query(query: &str) -> Result<(), String> {
        super::limits::check_text(query, None).map_err(|e| e.0)?;
        match async_graphql::parser::parse_query(query) {
            Ok(doc) => super::limits::check_document(&doc).map_err(|e| e.0),
            Err(_) => Ok(()),
        }
    }
}

/// The schema in SDL, as committed in `schema/schema.graphql` and printed by `oktamirror schema`.
pub fn sdl() -> String {
    graphql::sdl()
}
