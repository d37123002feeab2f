//! `/hooks/okta`: Okta event hooks. The one-time verification GET echoes the challenge; each
//! delivery POST is checked against the configured secret header (in constant time), handed to
//! the sync engine and answered at once, well within Okta's 3-second timeout.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;
use crate::secret::Secret;

/// Where verified deliveries go. The composition root reads Okta's envelope and queues the
/// events for the sync engine; the API knows neither.
pub trait HookSink: Send + Sync {
    /// Accepts a delivery body; `Err` says what is wrong with it (answered as 400).
    fn deliver(&self, body: &[u8]) -> Result<usize, String>;
}

/// Event hooks switched on: the header Okta sends the secret in, the secret, and the sink.
#[derive(Clone)]
pub struct HookConfig {
    /// The header Okta carries the secret in (like `Authorization`).
    pub header: HeaderName,
    /// The header's exact value, compared in constant time.
    pub secret: Secret,
    /// Where verified deliveries go.
    pub sink: Arc<dyn HookSink>,
}

const CHALLENGE: &str = "x-okta-verification-challenge";

fn problem(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// The hook configuration if the request carries its secret, else the answer to send.
fn authorized<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
) -> Result<&'a HookConfig, Box<Response>> {
    let Some(hook) = shared.hook.as_ref() else {
        return Err(Box::new(problem(
            StatusCode::NOT_FOUND,
            "event hooks are not configured on this mirror: set OKTAMIRROR_HOOK_SECRET (or hook_secret_file) to the header value the Okta event hook sends",
        )));
    };
    let given = headers
        .get(&hook.header)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(given, hook.secret.expose().as_bytes()) {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            &format!(
                "missing or wrong {} header: it must equal the hook secret configured on this mirror",
                hook.header
            ),
        )));
    }
    Ok(hook)
}

/// Compares in time that depends only on the expected secret's length, so response times do
/// not reveal how much of a guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(0) ^ e;
    }
    diff == 0
}

/// Okta's one-time verification: `{"verification": <the challenge>}`.
pub async fn verify(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&shared, &headers) {
        return *r;
    }
    match headers.get(CHALLENGE).and_then(|v| v.to_str().ok()) {
        Some(challenge) => axum::Json(json!({ "verification": challenge })).into_response(),
        None => problem(
            StatusCode::BAD_REQUEST,
            "no X-Okta-Verification-Challenge header: this URL answers Okta's event hook verification and deliveries",
        ),
    }
}

/// One delivery: accepted (204, empty body) once queued; the re-reads happen afterwards.
pub async fn deliver(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let metrics = crate::metrics::global();
    let hook = match authorized(&shared, &headers) {
        Ok(h) => h,
        Err(r) => {
            metrics.hook_delivery(false);
            return *r;
        }
    };
    match hook.sink.deliver(&body) {
        Ok(_) => {
            metrics.hook_delivery(true);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            metrics.hook_delivery(false);
            problem(StatusCode::BAD_REQUEST, &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"Bearer abc", b"Bearer abc"));
        assert!(!same_secret(b"Bearer abd", b"Bearer abc"));
        assert!(!same_secret(b"Bearer ab", b"Bearer abc"));
        assert!(!same_secret(b"Bearer abcd", b"Bearer abc"));
        assert!(!same_secret(b"", b"Bearer abc"));
    }
}
