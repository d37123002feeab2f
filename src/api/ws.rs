//! `/graphql/ws`: GraphQL subscriptions (the change feed) over WebSocket, graphql-transport-ws
//! (and the older graphql-ws). Queries and mutations stay on `POST /graphql`, where the time
//! limit applies; this socket carries only subscriptions, under the same shape limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};

use super::Shared;
use super::auth::KeyCheck;
use super::graphql;
use super::limits;
use crate::access::Caller;

/// Where subscriptions are served.
pub(crate) const PATH: &str = "/graphql/ws";

/// Largest message a client may send (a subscribe message carries one document).
const MAX_MESSAGE_BYTES: usize = limits::MAX_QUERY_BYTES + limits::MAX_VARIABLES_BYTES + 1024;
/// Subscriptions one connection may hold at once.
const MAX_SUBSCRIPTIONS: usize = 16;
/// How often the server pings: keeps a quiet feed's connection (and the proxies on its way)
/// from counting as idle, and finds dead peers.
const PING_EVERY: Duration = Duration::from_secs(15);
/// How often a keyed connection asks whether its key still stands.
const RECHECK_EVERY: Duration = Duration::from_secs(1);
/// Close code for a connection whose key was revoked (4xxx: application-defined).
const KEY_REVOKED: u16 = 4403;
/// Close code when the server shuts down (1001: going away).
const GOING_AWAY: u16 = 1001;

/// `GET /graphql/ws`: upgrades to a GraphQL WebSocket for the caller the access layer found.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    check: Option<Extension<KeyCheck>>,
    headers: HeaderMap,
    protocol: Result<GraphQLProtocol, StatusCode>,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let Some(Extension(caller)) = caller else {
        return refuse(StatusCode::FORBIDDEN, "this route needs a caller");
    };
    // Browsers let any page open a WebSocket to any host, with no CORS check: on an open
    // loopback server that would hand every web page the directory. A browser always sends
    // `Origin`; it must name this server.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !same_origin(origin.to_str().unwrap_or_default(), host) {
            tracing::debug!("refused a WebSocket from origin {origin:?}");
            return refuse(
                StatusCode::FORBIDDEN,
                "this WebSocket accepts only pages served by the mirror itself (the Origin header names another site)",
            );
        }
    }
    let Ok(protocol) = protocol else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "ask for the graphql-transport-ws subprotocol (Sec-WebSocket-Protocol: graphql-transport-ws)",
        );
    };
    let view = shared.mirror.view(caller);
    let stop = shared.stop.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            crate::metrics::global().subscription(true);
            let executor = Subscriptions {
                shared,
                open: Arc::new(AtomicUsize::new(0)),
            };
            serve(socket, executor, protocol, view, check.map(|c| c.0), stop).await;
            crate::metrics::global().subscription(false);
        })
}

/// Runs one connection: the GraphQL protocol on one side of a channel, and a writer that
/// forwards its messages, pings, and closes the socket when the key is revoked or the server
/// stops.
async fn serve(
    socket: WebSocket,
    executor: Subscriptions,
    protocol: GraphQLProtocol,
    view: crate::access::View,
    check: Option<KeyCheck>,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let (mut to_client, from_client) = socket.split();
    let (out, mut outgoing) = futures::channel::mpsc::channel::<Message>(16);
    let protocol_side = GraphQLWebSocket::new_with_pair(out, from_client, executor, protocol)
        .with_data(graphql::for_connection(view))
        .serve();
    let writer = async move {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        let stopping = async move {
            match stop {
                Some(mut s) => {
                    let _ = s.wait_for(|s| *s).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stopping);
        let close = loop {
            tokio::select! {
                m = outgoing.next() => match m {
                    Some(m) => {
                        if to_client.send(m).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
                _ = ping.tick() => {
                    if to_client.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
                _ = recheck.tick(), if check.is_some() => {
                    if check.as_ref().is_some_and(|c| !c.still_valid()) {
                        break (KEY_REVOKED, "the API key was revoked");
                    }
                }
                _ = &mut stopping => break (GOING_AWAY, "the server is shutting down"),
            }
        };
        let _ = to_client
            .send(Message::Close(Some(CloseFrame {
                code: close.0,
                reason: close.1.into(),
            })))
            .await;
    };
    // Whichever side ends first ends the connection.
    tokio::select! {
        _ = protocol_side => {}
        _ = writer => {}
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host the request was sent to.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let Some(name) = url.host_str() else {
        return false;
    };
    let authority = match url.port() {
        Some(p) => format!("{name}:{p}"),
        None => name.to_owned(),
    };
    authority.eq_ignore_ascii_case(host)
}

fn refuse(status: StatusCode, message: &str) -> HttpResponse {
    (
        status,
        axum::Json(serde_json::json!({"errors": [{"message": message}]})),
    )
        .into_response()
}

/// The answer to a query or mutation sent over the socket.
fn subscriptions_only() -> ServerError {
    limits::coded(
        "this WebSocket serves subscriptions only: send queries and mutations to POST /graphql",
        "BAD_REQUEST",
    )
}

/// The executor behind each connection: checks a document as `POST /graphql` does, lets only
/// subscriptions through, and caps how many run at once on the connection.
#[derive(Clone)]
struct Subscriptions {
    shared: Arc<Shared>,
    open: Arc<AtomicUsize>,
}

/// Counts a subscription as open until it is dropped (finished or stopped by the client).
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Subscriptions {
    /// The reason to refuse `request`, if there is one; else the request with its parsed
    /// document attached.
    fn admit(&self, mut request: Request) -> Result<Request, ServerError> {
        let variables = serde_json::to_value(&request.variables).ok();
        limits::check_text(
            &request.query,
            variables.as_ref().and_then(|v| v.as_object()),
        )
        .map_err(|e| e.to_server_error())?;
        let Some(parsed) = self.shared.documents.get(&request.query) else {
            // Does not parse: the schema reports the syntax error.
            return Ok(request);
        };
        parsed.verdict.map_err(|e| e.to_server_error())?;
        let ty = super::http::operation_type(&parsed.doc, request.operation_name.as_deref());
        if ty != Some(OperationType::Subscription) {
            return Err(subscriptions_only());
        }
        request.set_parsed_query(parsed.doc);
        Ok(request)
    }
}

impl Executor for Subscriptions {
    async fn execute(&self, request: Request) -> Response {
        match self.admit(request) {
            Ok(_) => Response::from_errors(vec![subscriptions_only()]),
            Err(e) => Response::from_errors(vec![e]),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let request = match self.admit(request) {
            Ok(r) => r,
            Err(e) => {
                return futures::stream::once(async move { Response::from_errors(vec![e]) })
                    .boxed();
            }
        };
        if self.open.fetch_add(1, Ordering::Relaxed) >= MAX_SUBSCRIPTIONS {
            self.open.fetch_sub(1, Ordering::Relaxed);
            let e = limits::coded(
                &format!(
                    "this connection already runs {MAX_SUBSCRIPTIONS} subscriptions: stop one first, or open another connection"
                ),
                limits::LIMIT_CODE,
            );
            return futures::stream::once(async move { Response::from_errors(vec![e]) }).boxed();
        }
        let open = Open(self.open.clone());
        let stream = self
            .shared
            .schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default());
        stream
            .map(move |r| {
                let _held = &open;
                r
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn only_the_servers_own_origin_is_same_origin() {
        assert!(same_origin("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(same_origin(
            "https://Mirror.Example",
            Some("mirror.example")
        ));
        assert!(!same_origin("http://evil.example", Some("127.0.0.1:8080")));
        assert!(!same_origin(
            "http://127.0.0.1:9999",
            Some("127.0.0.1:8080")
        ));
        assert!(!same_origin("null", Some("127.0.0.1:8080")));
        assert!(!same_origin("http://127.0.0.1:8080", None));
        // Empty, garbage and huge values are another origin, never a panic.
        assert!(!same_origin("", Some("127.0.0.1:8080")));
        assert!(!same_origin("\u{0}\u{ff}::", Some("127.0.0.1:8080")));
        let huge = format!("http://{}.example", "a".repeat(100_000));
        assert!(!same_origin(&huge, Some("127.0.0.1:8080")));
        assert!(!same_origin("http://127.0.0.1:8080", Some("")));
    }
}
