//! `GET /admin/backup`: a consistent snapshot of the whole store, streamed, for an `admin` key
//! (any caller on an open loopback server). `oktamirror backup --server` reads it.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::Shared;
use crate::access::Caller;

/// Bytes read from the spool file per chunk of the response.
const CHUNK: usize = 256 * 1024;

pub(crate) async fn backup(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
) -> Response {
    let Some(Extension(caller)) = caller else {
        return plain(
            StatusCode::UNAUTHORIZED,
            "this mirror needs an API key: send `Authorization: Bearer KEY` with an admin key"
                .into(),
        );
    };
    let view = shared.mirror.view(caller);
    let started = std::time::Instant::now();
    // The snapshot reads every tree into a spool file: off the async workers. The writers wait
    // only for that local copy; the download below runs at the client's pace.
    let (file, summary) = match tokio::task::spawn_blocking(move || view.backup()).await {
        Ok(Ok(spooled)) => spooled,
        Ok(Err(e)) if e.is_forbidden() => return plain(StatusCode::FORBIDDEN, e.message()),
        Ok(Err(e)) => {
            tracing::error!(error = %e.message(), "backup failed");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the backup failed: {}", e.message()),
            );
        }
        Err(e) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the backup task failed: {e}"),
            );
        }
    };
    tracing::info!(
        entries = summary.records,
        bytes = summary.bytes,
        seq = summary.seq,
        spool_seconds = started.elapsed().as_secs_f64(),
        "backup spooled (sync writes waited at most this long), streaming"
    );
    let chunks =
        futures::stream::unfold(Some(tokio::fs::File::from_std(file)), |state| async move {
            let mut file = state?;
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(bytes::Bytes::from(buf)), Some(file)))
                }
                // The response ends short: the client's check of the digest refuses it.
                Err(e) => Some((Err(e), None)),
            }
        });
    let mut r = Body::from_stream(chunks).into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(summary.bytes));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"oktamirror-{}.backup\"",
        summary.seq
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn plain(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}
