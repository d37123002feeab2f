//! Client tests against small axum stubs standing in for an org that misbehaves in ways the
//! simulator does not: looping `next` links, redirects, a group gone mid-crawl.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;

use super::*;

/// Serves `router` on a loopback port and returns its base URL.
async fn serve(router: Router) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a stub port");
    let addr = listener.local_addr().expect("stub address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    url::Url::parse(&format!("http://{addr}")).expect("stub URL")
}

fn client(base: url::Url) -> OktaClient {
    let options = ClientOptions {
        max_retries: 0,
        ..ClientOptions::default()
    };
    OktaClient::with_auth(base, Auth::Ssws(Secret::new("t".to_owned())), options).expect("client")
}

/// A page of one user whose `next` link is `after=<next>` on the same host.
fn page(headers: &HeaderMap, next: &str) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = format!("<http://{host}/api/v1/users?after={next}>; rel=\"next\"");
    (
        [(header::LINK, link)],
        axum::Json(serde_json::json!([{"id": "00u1"}])),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct After {
    after: Option<u64>,
}

#[tokio::test]
async fn a_repeated_next_link_stops_the_list_with_an_error() {
    // Every page after the first links back to itself.
    let router = Router::new().route(
        "/api/v1/users",
        get(|h: HeaderMap, Query(q): Query<After>| async move {
            page(&h, &q.after.unwrap_or(1).to_string())
        }),
    );
    let c = client(serve(router).await);
    let pages: Vec<_> = c
        .paginate(c.url("/api/v1/users", &[]))
        .take(10)
        .collect()
        .await;
    assert_eq!(pages.len(), 3, "two pages, then the error");
    let err = pages[2].as_ref().expect_err("an error at the repeat");
    assert!(matches!(err, OktaError::Paging { .. }), "{err}");
    assert!(err.to_string().contains("repeats"), "{err}");
}

#[tokio::test]
async fn a_list_past_the_page_cap_stops_with_an_error() {
    // Every page links to a new one: the list never ends.
    let router = Router::new().route(
        "/api/v1/users",
        get(|h: HeaderMap, Query(q): Query<After>| async move {
            page(&h, &(q.after.unwrap_or(0) + 1).to_string())
        }),
    );
    let c = client(serve(router).await);
    let pages: Vec<_> = c
        .paginate_within::<serde_json::Value>(c.url("/api/v1/users", &[]), 3)
        .take(10)
        .collect()
        .await;
    assert_eq!(pages.len(), 4, "three pages, then the error");
    let err = pages[3].as_ref().expect_err("an error past the cap");
    assert!(err.to_string().contains("more than 3 pages"), "{err}");
}

#[tokio::test]
async fn redirects_are_refused_and_the_token_never_leaves() {
    let elsewhere_hits = Arc::new(AtomicU64::new(0));
    let elsewhere = serve(
        Router::new()
            .fallback(|State(hits): State<Arc<AtomicU64>>| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                axum::Json(serde_json::json!([]))
            })
            .with_state(elsewhere_hits.clone()),
    )
    .await;
    let target = elsewhere
        .join("/api/v1/users")
        .expect("target URL")
        .to_string();
    let org = serve(Router::new().route(
        "/api/v1/users",
        get(move || async move {
            (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()
        }),
    ))
    .await;
    let c = client(org);
    let err = c
        .get_page(&c.url("/api/v1/users", &[]))
        .await
        .err()
        .expect("a redirect is an error");
    assert!(
        matches!(err, OktaError::Redirect { status: 302, .. }),
        "{err}"
    );
    assert!(err.is_config_error());
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "nothing reached the other host"
    );
}

#[tokio::test]
async fn a_group_gone_mid_crawl_has_no_member_list() {
    let router = Router::new().route(
        "/api/v1/groups/{id}/users",
        get(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({
                    "errorCode": "E0000007",
                    "errorSummary": "Not found: Resource not found: 00g1 (UserGroup)"
                })),
            )
        }),
    );
    let base = serve(router).await;
    let source = OktaSource::with_auth(
        base,
        Auth::Ssws(Secret::new("t".to_owned())),
        ClientOptions::default(),
    )
    .expect("source");
    let members = source.group_member_ids("00g1").await;
    assert!(matches!(members, Ok(None)), "404 = gone: {members:?}");
}
