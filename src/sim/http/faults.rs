//! Injected failures for API calls: a configurable share of 500s, 503s, slow answers, bodies
//! cut off mid-JSON and connections dropped mid-body, so clients can prove they retry.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::respond;
use crate::sim::shared::Shared;

/// Runs the handler, possibly failing, delaying or damaging its answer per the faults set.
pub async fn apply(shared: &Shared, req: Request, next: Next) -> Response {
    let f = shared.faults();
    if f.slow_percent > 0 && shared.roll() < f.slow_percent {
        tokio::time::sleep(f.slow_by).await;
    }
    let roll = shared.roll();
    let mut band = f.error_500_percent;
    if roll < band {
        return respond::internal(shared);
    }
    band += f.error_503_percent;
    if roll < band {
        return respond::error(
            shared,
            StatusCode::SERVICE_UNAVAILABLE,
            "E0000010",
            "Service is in read only mode",
        );
    }
    let truncate = roll < band + f.truncated_percent;
    band += f.truncated_percent;
    let drop_connection = !truncate && roll < band + f.dropped_percent;
    let resp = next.run(req).await;
    if !truncate && !drop_connection {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return respond::internal(shared);
    };
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = if truncate {
        // A complete response whose JSON simply stops: only a full parse can notice.
        Body::from(half)
    } else {
        // The connection dies mid-body: the client sees a transport error.
        let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated dropped connection",
            )),
        ];
        Body::from_stream(futures::stream::iter(chunks))
    };
    Response::from_parts(parts, body)
}
