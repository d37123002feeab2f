//! Building responses: JSON bodies, Okta error objects (including refused admin
//! operations), 204s, and `link` headers.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::params::{Origin, Query};
use crate::sim::admin::Refusal;
use crate::sim::filter::FilterError;
use crate::sim::json::{self, ObjWriter};
use crate::sim::shared::Shared;

/// A 200 JSON response with the given body text.
pub fn json(body: String) -> Response {
    json_status(StatusCode::OK, body)
}

fn json_status(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An Okta error object (`errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`).
pub fn error(shared: &Shared, status: StatusCode, code: &str, summary: &str) -> Response {
    error_with_causes(shared, status, code, summary, &[])
}

/// An Okta error object whose `errorCauses` carry one `{errorSummary}` per cause.
pub fn error_with_causes(
    shared: &Shared,
    status: StatusCode,
    code: &str,
    summary: &str,
    causes: &[String],
) -> Response {
    let causes = json::array(
        causes
            .iter()
            .map(|c| ObjWriter::new().str("errorSummary", c).finish()),
    );
    let body = ObjWriter::new()
        .str("errorCode", code)
        .str("errorSummary", summary)
        .str("errorLink", code)
        .str("errorId", &format!("oae{}", shared.opaque_id(22)))
        .raw("errorCauses", &causes)
        .finish();
    json_status(status, body)
}

/// A refused admin operation as Okta answers it (404 `E0000007`, 400 `E0000001` with
/// causes, 403 `E0000006`).
pub fn refusal(shared: &Shared, refusal: &Refusal) -> Response {
    match refusal {
        Refusal::NotFound { what, kind } => not_found(shared, what, kind),
        Refusal::Invalid { field, causes } => error_with_causes(
            shared,
            StatusCode::BAD_REQUEST,
            "E0000001",
            &format!("Api validation failed: {field}"),
            causes,
        ),
        Refusal::Forbidden => error(
            shared,
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
    }
}

/// 400 `E0000003`: a request body that is not the JSON object the endpoint expects.
pub fn malformed_body(shared: &Shared) -> Response {
    error(
        shared,
        StatusCode::BAD_REQUEST,
        "E0000003",
        "The request body was not well-formed.",
    )
}

/// 204 with no body: what Okta answers to deletes and membership changes.
pub fn no_content() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

pub fn unauthorized(shared: &Shared) -> Response {
    error(
        shared,
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
    )
}

/// 404 `E0000007` in Okta's words, e.g. `Not found: Resource not found: x (User)`.
pub fn not_found(shared: &Shared, what: &str, kind: &str) -> Response {
    error(
        shared,
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {what} ({kind})"),
    )
}

/// A rejected `filter` or `search`: 400 `E0000031` saying why in `errorCauses`, or
/// `E0000001` for a malformed date literal.
pub fn filter_error(shared: &Shared, err: &FilterError) -> Response {
    match err {
        FilterError::InvalidCriteria(why) => error_with_causes(
            shared,
            StatusCode::BAD_REQUEST,
            "E0000031",
            "Invalid search criteria.",
            std::slice::from_ref(why),
        ),
        FilterError::BadDate(text) => error_with_causes(
            shared,
            StatusCode::BAD_REQUEST,
            "E0000001",
            "Api validation failed: filter",
            &[format!("{text:?} is not an ISO 8601 date-time")],
        ),
    }
}

/// 400 `E0000031` for a query parameter the endpoint does not take (or not in this
/// combination): a client must learn that Okta did not do what it asked, never get an
/// unfiltered answer instead.
pub fn unsupported_param(shared: &Shared, name: &str, why: &str) -> Response {
    error_with_causes(
        shared,
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
        &[format!("{name}: {why}")],
    )
}

pub fn validation(shared: &Shared, field: &str) -> Response {
    error(
        shared,
        StatusCode::BAD_REQUEST,
        "E0000001",
        &format!("Api validation failed: {field}"),
    )
}

pub fn internal(shared: &Shared) -> Response {
    error(
        shared,
        StatusCode::INTERNAL_SERVER_ERROR,
        "E0000009",
        "Internal Server Error",
    )
}

pub fn method_not_allowed(shared: &Shared) -> Response {
    error(
        shared,
        StatusCode::METHOD_NOT_ALLOWED,
        "E0000022",
        "The endpoint does not support the provided HTTP method",
    )
}

/// Append one `link` header per relation, as Okta does.
pub fn add_link(resp: &mut Response, url: &str, rel: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"{rel}\"")) {
        resp.headers_mut().append(header::LINK, v);
    }
}

/// Where `next` links point: the request's own origin, or the org's other host when
/// `Strictness::next_link_base` says so.
pub fn next_origin(shared: &Shared, origin: &Origin) -> Origin {
    match shared.strict().next_link_base {
        Some(base) => origin.with_base(&base),
        None => origin.with_base(&origin.base),
    }
}

/// One page of a list: the JSON array with its `self` link and, when more follow, a `next`
/// link resuming after `next`; counted as a successful list page (fault injection counts them).
pub fn list_page(
    shared: &Shared,
    origin: &Origin,
    query: &Query,
    body: String,
    next: Option<&str>,
) -> Response {
    let mut resp = json(body);
    add_link(&mut resp, &origin.self_url(query), "self");
    if let Some(after) = next {
        add_link(
            &mut resp,
            &next_origin(shared, origin).next_url(query, after),
            "next",
        );
    }
    shared.count_list_success();
    resp
}
