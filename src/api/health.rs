//! Liveness and readiness probes: `/healthz` answers while the process runs, `/readyz` once the
//! first full sync has completed (so load balancers only route to a mirror with complete data).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;

pub(crate) async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub(crate) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.store.last_good_full_sync() {
        Ok(Some(run)) => (
            StatusCode::OK,
            Json(json!({
                "ready": true,
                "lastGoodFullSync": {"startedAt": run.started_at, "finishedAt": run.finished_at},
            })),
        )
            .into_response(),
        Ok(None) => not_ready("the first full sync has not completed yet".to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "readyz cannot read the sync state");
            not_ready(format!("cannot read the sync state: {e}"))
        }
    }
}

fn not_ready(reason: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"ready": false, "reason": reason})),
    )
        .into_response()
}
