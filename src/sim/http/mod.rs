//! The simulator's HTTP surface: routes (reads, and the admin writes that log events), plus
//! one middleware that counts the request, applies rate and concurrency limits, checks
//! credentials, injects faults and stamps the headers every Okta response has.

mod faults;
mod groups;
mod logs;
mod oauth;
mod params;
pub mod ratelimit;
mod respond;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Map, Value};

use self::ratelimit::Bucket;
use super::shared::Shared;
use super::time;

/// Build the API router over shared simulator state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::get)
                .post(users::update)
                .put(users::replace)
                .delete(users::delete),
        )
        .route("/api/v1/users/{id}/groups", get(users::groups))
        .route(
            "/api/v1/users/{id}/lifecycle/{action}",
            post(users::lifecycle),
        )
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route(
            "/api/v1/groups/{id}",
            get(groups::get).put(groups::replace).delete(groups::delete),
        )
        .route("/api/v1/groups/{id}/users", get(groups::users))
        .route(
            "/api/v1/groups/{id}/users/{user_id}",
            put(groups::add_member).delete(groups::remove_member),
        )
        .route("/api/v1/logs", get(logs::list))
        .route("/oauth2/v1/token", post(oauth::token))
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

/// Count, limit, authenticate, maybe fail, then add `X-Okta-Request-Id`, rate-limit headers,
/// `Date`.
async fn okta_envelope(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.count_request();
    let now = time::now();
    let mut quota = shared
        .limits
        .record(Bucket::classify(req.method(), req.uri().path()), now);
    let entered = shared.limits.enter();
    let mut resp = if !entered {
        // Okta's concurrency 429: Limit and Remaining 0, Reset only an estimate.
        quota.limit = 0;
        quota.remaining = 0;
        quota.reset = now / 1000 + 1;
        rate_limited(&shared)
    } else if quota.exceeded {
        rate_limited(&shared)
    } else if req.uri().path().starts_with("/oauth2/") {
        next.run(req).await
    } else {
        match oauth::authorize(&shared, req.headers(), req.uri(), req.method().as_str()) {
            Ok(()) => faults::apply(&shared, req, next).await,
            Err(r) => *r,
        }
    };
    if entered {
        shared.limits.leave();
    }
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

/// The `profile` object of a `{"profile":{…}}` body: 400 `E0000003` when the body is not
/// a JSON object, 400 `E0000001` when it has no `profile` object.
fn profile_body(shared: &Shared, body: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(respond::malformed_body(shared)));
    };
    match obj.remove("profile") {
        Some(Value::Object(profile)) => Ok(profile),
        _ => Err(Box::new(respond::validation(shared, "profile"))),
    }
}

/// The path and query as requested: what the System Log records as `requestUri`.
fn request_uri(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string())
}

fn rate_limited(shared: &Shared) -> Response {
    respond::error(
        shared,
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
}
