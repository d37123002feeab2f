//! The HTTP face of the mirror: one axum router serving GraphQL (`/graphql`, with GraphiQL for
//! browsers and its files under `/assets/`), the health probes and Okta event hooks (`/hooks/okta`).
//! async-graphql and axum types stay inside this module; the core (model, store, sync) never sees them.

mod assets;
pub mod auth;
mod backup;
mod control;
mod graphql;
mod health;
mod hooks;
mod http;
mod limits;
mod listener;
mod media;
mod metrics;
mod provision;
mod scim;
mod web;
mod webhooks;
mod ws;

pub use auth::{Access, RateLimit};
pub use control::{SyncControl, SyncNow};
pub use hooks::{HookConfig, HookSink};
pub use listener::{Bounded, DEFAULT_IDLE, DEFAULT_MAX_CONNECTIONS};
pub use provision::Provisioning;
pub use web::{OidcSettings, SESSION_KEY_FILE, SignIn, WebSettings};
pub use webhooks::{Webhook, deliver_webhooks};

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::access::{Caller, Mirror};

/// What the API needs to serve requests: the mirror (store, search index and access policy),
/// the sync schedule to control and the event-hook configuration.
#[derive(Clone)]
pub struct ApiState {
    /// Everything requests read, through each caller's `View`.
    pub mirror: Arc<Mirror>,
    /// The running sync schedule, for `syncNow`; `None` where nothing syncs (tests, tools).
    pub control: Option<Arc<dyn SyncControl>>,
    /// Event hooks, when a secret is configured.
    pub hook: Option<HookConfig>,
    /// Provisioning mode's writer (`--source scim`): SCIM writes go to it. `None` in the
    /// Okta-API mode, where every SCIM write is refused (the mirror is read-only).
    pub provisioning: Option<Arc<dyn Provisioning>>,
    /// The longest one GraphQL request may run (`request_timeout`); after it the request ends
    /// with a `TIMEOUT` error and its work stops.
    pub request_timeout: Duration,
    /// `/readyz` answers 503 once Okta was last read successfully longer ago than this
    /// (`max_staleness`); `None` keeps the mirror ready however stale.
    pub max_staleness: Option<Duration>,
    /// Turns true when the server stops: long-lived connections (change-feed WebSockets)
    /// close then. `None` where nothing stops the router but dropping it (tests, benches).
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// The directory pages' settings (photo URL template).
    pub web: WebSettings,
}

/// Per-router shared state: the built schema and the mirror.
pub(crate) struct Shared {
    pub schema: graphql::ApiSchema,
    pub mirror: Arc<Mirror>,
    /// Latched once the index has caught up with the store after the first full sync.
    pub searchable: std::sync::atomic::AtomicBool,
    pub hook: Option<HookConfig>,
    /// See `ApiState::provisioning`.
    pub provisioning: Option<Arc<dyn Provisioning>>,
    /// GraphQL documents already parsed, by text.
    pub documents: http::Documents,
    /// See `ApiState::request_timeout`.
    pub request_timeout: Duration,
    /// See `ApiState::max_staleness`.
    pub max_staleness: Option<Duration>,
    /// See `ApiState::stop`.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// See `ApiState::web`.
    pub web: WebSettings,
    /// The directory pages' Content-Security-Policy (`web::content_security_policy`).
    pub web_csp: String,
    /// Browser sign-in with Okta, when configured (with a keys file).
    pub sign_in: Option<Arc<SignIn>>,
    /// SCIM users' managers and groups, shared by requests that read the same store state.
    pub scim_memo: Arc<scim::SharedMemo>,
}

/// All routes (`/graphql`, `/assets/`, `/healthz`, `/readyz`, `/hooks/okta`, the directory's
/// pages) with their state
/// applied, as an open loopback server: no keys, no rate limit (tests, benches, tools). `serve`
/// uses [`router_with_access`].
pub fn router(state: ApiState) -> Router {
    router_with_access(state, Access::open())
}

/// All routes behind the access layer (`auth.rs`): API keys or the loopback host check, the
/// per-key rate limit, and the `access::Caller` in every request's extensions; every HTML
/// answer gets the security headers of `assets::secure_html`.
pub fn router_with_access(state: ApiState, access: Access) -> Router {
    let shared = Arc::new(Shared {
        schema: graphql::schema(state.control),
        mirror: state.mirror,
        searchable: std::sync::atomic::AtomicBool::new(false),
        hook: state.hook,
        provisioning: state.provisioning,
        documents: http::Documents::default(),
        request_timeout: state.request_timeout,
        max_staleness: state.max_staleness,
        stop: state.stop,
        web_csp: web::content_security_policy(state.web.photo_url_template.as_deref()),
        web: state.web,
        sign_in: access.sign_in.clone(),
        scim_memo: Arc::default(),
    });
    Router::new()
        .route(
            "/graphql",
            get(http::graphql_get)
                .post(http::graphql_post)
                .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES)),
        )
        .route(ws::PATH, get(ws::upgrade))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/admin/backup", get(backup::backup))
        .route("/hooks/okta", get(hooks::verify).post(hooks::deliver))
        .route("/assets/{*path}", get(assets::asset))
        .nest(scim::BASE, scim::routes())
        .merge(web::routes())
        .layer(axum::middleware::map_response(assets::secure_html))
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(
            auth::Guard::new(access),
            auth::guard,
        ))
        .layer(axum::middleware::from_fn(scim::scim_errors))
        .layer(axum::middleware::from_fn(trace_request))
}

/// Every request runs in an `http_request` span (a request id, the method, the path and, once
/// the access layer knows it, the key's name, never the key, and a GraphQL request's operation
/// name), so each log line a request causes can be tied to it; one line at the end (the access
/// log, target `oktamirror::access`) gives its status and duration.
async fn trace_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tracing::Instrument;
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!(
        "http_request",
        id,
        method = %req.method(),
        path = %req.uri().path(),
        key = tracing::field::Empty,
        operation = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    async move {
        let resp = next.run(req).await;
        // The access log: one line per request, in the request's span (so it carries the
        // method, path, key name and GraphQL operation); `oktamirror::access=warn` in the log
        // filter silences it.
        tracing::info!(
            target: "oktamirror::access",
            status = resp.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "request done"
        );
        resp
    }
    .instrument(span)
    .await
}

/// Runs a GraphQL query against a store without a server (for `oktamirror status` on a data
/// directory), as the system: the same answers as `/graphql`, except search and `syncNow`,
/// which need a server.
pub async fn execute_offline(
    mirror: Arc<Mirror>,
    query: &str,
    variables: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let schema = graphql::schema(None);
    let req = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let resp = schema
        .execute(graphql::for_request(req, mirror.view(Caller::system())))
        .await;
    if let Some(e) = resp.errors.first() {
        return Err(e.message.clone());
    }
    resp.data.into_json().map_err(|e| e.to_string())
}

/// What the fuzz targets in `fuzz/` drive (re-exported by the lib's `fuzzing` module); not an API.
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
