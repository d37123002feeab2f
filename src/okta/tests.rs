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

/// A stub org whose first `busy` requests (all of them with `u64::MAX`) get Okta's
/// concurrency 429 (Limit = Remaining = 0), the rest a page of one user; it counts requests.
fn crowded_org(busy: u64) -> (Router, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let router = Router::new()
        .route(
            "/api/v1/users",
            get(move |State(hits): State<Arc<AtomicU64>>| async move {
                let n = hits.fetch_add(1, Ordering::SeqCst);
                if n < busy {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [
                            ("x-rate-limit-limit", "0"),
                            ("x-rate-limit-remaining", "0"),
                            ("x-rate-limit-reset", "1"),
                        ],
                        axum::Json(serde_json::json!({"errorCode": "E0000047"})),
                    )
                        .into_response()
                } else {
                    axum::Json(serde_json::json!([{"id": "00u1"}])).into_response()
                }
            }),
        )
        .with_state(hits.clone());
    (router, hits)
}

fn patient(cap: std::time::Duration, patience: std::time::Duration) -> ClientOptions {
    ClientOptions {
        retry_base: std::time::Duration::from_millis(1),
        concurrency_backoff_cap: cap,
        concurrency_patience: patience,
        ..ClientOptions::default()
    }
}

#[tokio::test]
async fn a_long_spell_of_concurrency_429s_is_waited_out() {
    // Other integrations hold the org's concurrency for 40 tries in a row (it gave up after 6).
    let (router, hits) = crowded_org(40);
    let opts = patient(
        std::time::Duration::from_millis(20),
        std::time::Duration::from_secs(600),
    );
    let c = OktaClient::with_auth(serve(router).await, Auth::Ssws(Secret::new("t")), opts)
        .expect("client");
    let page = c.get_page(&c.url("/api/v1/users", &[])).await;
    assert!(page.is_ok(), "{:?}", page.err());
    assert_eq!(hits.load(Ordering::SeqCst), 41);
    assert_eq!(c.concurrency_limited(), 40);
    assert_eq!(c.rate_limited(), 0, "not counted as rate 429s");
}

#[tokio::test]
async fn an_org_that_never_frees_a_slot_fails_with_the_reason() {
    let (router, hits) = crowded_org(u64::MAX);
    let opts = patient(
        std::time::Duration::from_millis(20),
        std::time::Duration::from_millis(300),
    );
    let c = OktaClient::with_auth(serve(router).await, Auth::Ssws(Secret::new("t")), opts)
        .expect("client");
    let err = c
        .get_page(&c.url("/api/v1/users", &[]))
        .await
        .err()
        .expect("an error once patience runs out");
    assert!(matches!(err, OktaError::ConcurrencyLimited { .. }), "{err}");
    assert!(
        err.to_string().contains("in flight") && err.to_string().contains("concurrency"),
        "{err}"
    );
    assert!(
        hits.load(Ordering::SeqCst) > 6,
        "it kept trying for a while"
    );
}

#[test]
fn concurrency_waits_grow_to_the_cap_with_full_jitter() {
    let opts = ClientOptions {
        retry_base: std::time::Duration::from_millis(250),
        ..ClientOptions::default()
    };
    let c = OktaClient::with_auth(
        url::Url::parse("https://x.okta.com").expect("url"),
        Auth::Ssws(Secret::new("t")),
        opts.clone(),
    )
    .expect("client");
    let waits: Vec<std::time::Duration> = (1..=30).map(|n| c.concurrency_backoff(n)).collect();
    assert!(waits.iter().all(|w| *w <= opts.concurrency_backoff_cap));
    assert!(waits[0] <= std::time::Duration::from_millis(250));
    // Full jitter: the late waits are spread over the whole (0, cap] range, not pinned to it.
    let late: Vec<_> = (0..200).map(|_| c.concurrency_backoff(20)).collect();
    assert!(late.iter().any(|w| *w > opts.concurrency_backoff_cap / 2));
    assert!(late.iter().any(|w| *w < opts.concurrency_backoff_cap / 2));
}
