//! `GET /admin/backup`: a consistent snapshot of the whole store, streamed while it is written,
//! for an `admin` key (any caller on an open loopback server). `oktamirror backup --server`
//! reads it and checks its digest.

use std::io::Read;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use crate::access::Caller;

/// Bytes read from the spool per chunk of the response.
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
    // Starting the snapshot and recording it in the audit log touch sled: off the async workers.
    let spool = match tokio::task::spawn_blocking(move || view.backup()).await {
        Ok(Ok(spool)) => spool,
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
    // The spool's reads wait for the snapshot to write more: each on a blocking thread. A
    // failure ends the response short, and the client's check of the digest refuses it.
    let chunks = futures::stream::unfold(Some(spool), |state| async move {
        let mut spool = state?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; CHUNK];
            let r = spool.read(&mut buf).map(|n| {
                buf.truncate(n);
                buf
            });
            (spool, r)
        })
        .await;
        match read {
            Ok((_, Ok(buf))) if buf.is_empty() => None,
            Ok((spool, Ok(buf))) => Some((Ok(bytes::Bytes::from(buf)), Some(spool))),
            Ok((_, Err(e))) => {
                tracing::error!(error = %e, "backup stopped while streaming");
                Some((Err(e), None))
            }
            Err(e) => Some((Err(std::io::Error::other(e)), None)),
        }
    });
    let mut r = Body::from_stream(chunks).into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"oktamirror.backup\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn plain(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}
