//! The simulator's HTTP surface: routes, plus one middleware that counts the
//! request, checks the SSWS token and stamps the headers every Okta response has.

mod groups;
mod params;
pub mod ratelimit;
mod respond;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use self::ratelimit::Bucket;
use super::shared::Shared;
use super::time;

/// Build the API router over shared simulator state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/users", get(users::list))
        .route("/api/v1/users/{id}", get(users::get))
        .route("/api/v1/users/{id}/groups", get(users::groups))
        .route("/api/v1/groups", get(groups::list))
        .route("/api/v1/groups/{id}", get(groups::get))
        .route("/api/v1/groups/{id}/users", get(groups::users))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            okta_envelope,
        ))
        .with_state(shared)
}

async fn unknown_path(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    respond::not_found(&shared, uri.path(), "Path")
}

async fn wrong_method(State(shared): State<Arc<Shared>>) -> Response {
    respond::method_not_allowed(&shared)
}

/// True when the `Authorization` header is exactly `SSWS <configured token>`.
fn authorized(shared: &Shared, req: &Request) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("SSWS "))
        .is_some_and(|t| t.trim() == shared.token)
}

/// Count, authenticate, then add `X-Okta-Request-Id`, rate-limit headers, `Date`.
async fn okta_envelope(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.count_request();
    let now = time::now();
    let quota = shared
        .limits
        .record(Bucket::classify(req.method(), req.uri().path()), now);
    let mut resp = if authorized(&shared, &req) {
        next.run(req).await
    } else {
        respond::unauthorized(&shared)
    };
    let h = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("x-okta-request-id", shared.opaque_id(27));
    set("x-rate-limit-limit", quota.limit.to_string());
    set("x-rate-limit-remaining", quota.remaining.to_string());
    set("x-rate-limit-reset", quota.reset.to_string());
    set("date", time::http_date(now));
    set("content-type", "application/json".to_string());
    resp
}
