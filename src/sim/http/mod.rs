//! The simulator's HTTP surface: routes (reads, and the admin writes that log events), plus
//! one middleware that counts the request, applies rate and concurrency limits, checks
//! credentials, injects faults and stamps the headers every Okta response has.

mod apps;
mod faults;
mod groups;
mod logs;
mod oauth;
mod oidc;
mod params;
pub mod ratelimit;
mod respond;
mod types;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Map, Value};

use self::params::Query;
use self::ratelimit::Bucket;
use super::shared::Shared;
use super::strict::Strictness;
use super::time::{self, Millis};

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
        .route("/api/v1/meta/types/user", get(types::list))
        .route("/api/v1/meta/types/user/{id}", get(types::get))
        .route("/api/v1/logs", get(logs::list))
        .route("/oauth2/v1/token", post(oauth::token))
        .route(
            "/oauth2/default/.well-known/openid-configuration",
            get(oidc::discovery),
        )
        .route("/oauth2/default/v1/authorize", get(oidc::authorize))
        .route("/oauth2/default/v1/token", post(oidc::token))
        .route("/oauth2/default/v1/keys", get(oidc::keys))
        .route("/oauth2/default/v1/userinfo", get(oidc::userinfo))
        .route("/api/v1/apps", get(apps::list).post(apps::create))
        .route("/api/v1/apps/{id}", get(apps::get).delete(apps::delete))
        .route(
            "/api/v1/apps/{id}/lifecycle/{action}",
            post(apps::lifecycle),
        )
        .route(
            "/api/v1/apps/{id}/grants",
            get(apps::list_grants).post(apps::grant),
        )
        .route(
            "/api/v1/apps/{id}/credentials/jwks",
            get(apps::list_keys).post(apps::add_key),
        )
        .route(
            "/api/v1/apps/{id}/credentials/jwks/{key_id}",
            axum::routing::delete(apps::delete_key),
        )
        .route(
            "/api/v1/apps/{id}/credentials/jwks/{key_id}/lifecycle/{action}",
            post(apps::key_lifecycle),
        )
        .route(
            "/oauth2/v1/clients/{id}/roles",
            get(apps::list_roles).post(apps::assign_role),
        )
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
    let principal = ratelimit::RateLimiter::principal(
        req.headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let mut quota = shared.limits.record(
        Bucket::classify(req.method(), req.uri().path()),
        principal,
        now,
    );
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
    let html = h
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
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
    // Every API answer is JSON; the sign-in page of the OIDC authorize endpoint is HTML.
    if !html {
        set("content-type", "application/json".to_string());
    }
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

/// 400 for the first query parameter outside `allowed`, when the org rejects unknown ones.
fn reject_unknown(
    shared: &Shared,
    strict: &Strictness,
    query: &Query,
    allowed: &[&str],
) -> Option<Response> {
    if !strict.reject_unknown_params {
        return None;
    }
    query
        .unknown(allowed)
        .map(|name| respond::unsupported_param(shared, name, "not a parameter of this endpoint"))
}

/// A list cursor as a `next` link carries it: the position, plus the time it was issued
/// when cursors expire (so an old link can be recognised).
fn issue_cursor(strict: &Strictness, position: &str) -> String {
    match strict.cursor_ttl {
        Some(_) => format!("{position}_{}", time::now()),
        None => position.to_string(),
    }
}

/// The position in `after`, or Okta's 400 for a cursor older than the configured lifetime.
/// Positions (ids, offsets) never contain `_`; a cursor without a time never expires.
fn read_cursor(
    shared: &Shared,
    strict: &Strictness,
    query: &Query,
) -> Result<Option<String>, Box<Response>> {
    let Some(after) = query.get("after") else {
        return Ok(None);
    };
    let Some((position, issued)) = after.rsplit_once('_') else {
        return Ok(Some(after.to_string()));
    };
    let issued: Option<Millis> = issued.parse().ok();
    if let (Some(ttl), Some(issued)) = (strict.cursor_ttl, issued) {
        let ttl = Millis::try_from(ttl.as_millis()).unwrap_or(Millis::MAX);
        if time::now().saturating_sub(issued) > ttl {
            return Err(Box::new(respond::error_with_causes(
                shared,
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: after",
                &["after: The pagination cursor has expired; start the list again".to_string()],
            )));
        }
    }
    Ok(Some(position.to_string()))
}
