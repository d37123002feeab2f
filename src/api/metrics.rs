//! `GET /metrics`: the process's Prometheus metrics in the OpenMetrics text format, for a
//! `metrics` or `admin` key (any caller on an open loopback server).

use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use axum::extract::State;

use super::Shared;
use crate::access::Caller;

pub(crate) async fn metrics(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
) -> Response {
    let Some(Extension(caller)) = caller else {
        return plain(
            StatusCode::UNAUTHORIZED,
            "this mirror needs an API key: send `Authorization: Bearer KEY` with a metrics or admin key".into(),
        );
    };
    let view = shared.mirror.view(caller);
    // Reading the store's size and counts touches sled: off the async workers.
    let vitals = match tokio::task::spawn_blocking(move || view.vitals()).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) if e.is_forbidden() => {
            return plain(StatusCode::FORBIDDEN, e.message());
        }
        Ok(Err(e)) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the mirror's state: {}", e.message()),
            );
        }
        Err(e) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the metrics task failed: {e}"),
            );
        }
    };
    match crate::metrics::global().encode(&vitals) {
        Ok(text) => {
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            r
        }
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {e}"),
        ),
    }
}

fn plain(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}
