//! Liveness and readiness probes: `/healthz` answers while the process runs, `/readyz` once the
//! first full sync has completed and search has indexed it (so load balancers and clients only
//! reach a mirror whose every answer, search included, covers the whole org). In provisioning
//! mode there is no crawl to wait for: the mirror is what was pushed, ready once the store opened.
//! `/readyz`'s body shows the staleness (seconds since the sync last read Okta successfully) and
//! why the sync is failing, if it is; with `max_staleness` set, a mirror staler than that is not
//! ready.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;
use crate::access::Freshness;

pub(crate) async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub(crate) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.provisioning.is_some() {
        return (
            StatusCode::OK,
            Json(json!({"ready": true, "source": "scim"})),
        )
            .into_response();
    }
    match shared.mirror.last_good_full_sync() {
        Ok(Some(_)) if !searchable(&shared) => {
            not_ready("the search index is catching up with the first full sync".to_owned())
        }
        Ok(Some(run)) => {
            let fresh = shared.mirror.freshness().unwrap_or_else(|e| Freshness {
                last_contact: None,
                problem: Some(format!("cannot read the sync state: {}", e.message())),
            });
            let staleness = fresh.staleness(chrono::Utc::now());
            let mut body = json!({
                "ready": true,
                "lastGoodFullSync": {"startedAt": run.started_at, "finishedAt": run.finished_at},
                "lastOktaRead": fresh.last_contact,
                "stalenessSeconds": staleness,
                "problem": fresh.problem,
            });
            // Staleness counts from the last good read, or from the last good crawl before one.
            let age = staleness.unwrap_or_else(|| {
                ((chrono::Utc::now() - run.finished_at)
                    .num_milliseconds()
                    .max(0) as f64)
                    / 1000.0
            });
            match shared.max_staleness {
                Some(max) if age > max.as_secs_f64() => {
                    body["ready"] = json!(false);
                    body["reason"] = json!(format!(
                        "Okta was last read successfully {age:.0} s ago, more than max_staleness ({} s){}",
                        max.as_secs(),
                        fresh
                            .problem
                            .as_deref()
                            .map(|p| format!(": {p}"))
                            .unwrap_or_default()
                    ));
                    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
                }
                _ => (StatusCode::OK, Json(body)).into_response(),
            }
        }
        Ok(None) => not_ready("the first full sync has not completed yet".to_owned()),
        Err(e) => {
            let e = e.message();
            tracing::warn!(error = %e, "readyz cannot read the sync state");
            not_ready(format!("cannot read the sync state: {e}"))
        }
    }
}

/// True once the index has caught up with the store (after the first full sync); then stays
/// true, since the index trails later syncs by design (by one follower tick).
fn searchable(shared: &Shared) -> bool {
    use std::sync::atomic::Ordering;
    if shared.searchable.load(Ordering::Acquire) {
        return true;
    }
    let caught_up = shared.mirror.search_caught_up().unwrap_or(false);
    if caught_up {
        shared.searchable.store(true, Ordering::Release);
    }
    caught_up
}

fn not_ready(reason: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"ready": false, "reason": reason})),
    )
        .into_response()
}
