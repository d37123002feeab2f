//! Who is asking: the layer in front of every route. With a keys file, a request needs
//! `Authorization: Bearer KEY` (except the health probes and `/hooks/okta`, which has its own
//! secret); without one, the server is on loopback and refuses requests addressed to any other
//! host name (a DNS-rebinding defence). Either way the request leaves with an
//! [`access::Caller`](crate::access::Caller) in its extensions (read it with [`caller`]), after
//! the per-key rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::access::{Caller, KeyRing};

/// Paths that answer without a key: probes carry no credentials, and Okta's event hook brings
/// its own secret (checked in `hooks.rs`).
const OPEN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/hooks/okta"];

/// Answers that hold no mirror data need no key: the probes, the hook (its own secret), the
/// GraphiQL page (`GET /graphql` without a query: its Headers pane is where a person pastes
/// `Authorization: Bearer KEY`) and its scripts and styles, and the sign-in routes
/// (`/auth/…`, which check their own state and session).
fn needs_no_key(request: &Request) -> bool {
    let path = request.uri().path();
    OPEN_PATHS.contains(&path)
        || path.starts_with("/assets/")
        || path.starts_with("/auth/")
        || (path == "/graphql"
            && request.method() == axum::http::Method::GET
            && !request
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("query="))))
}

/// A token bucket's size: `per_second` requests on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second on average: the rate the bucket refills at.
    pub per_second: f64,
    /// Requests allowed at once: the bucket's size.
    pub burst: f64,
}

impl Default for RateLimit {
    /// Generous: an app would need a bug to reach it.
    fn default() -> RateLimit {
        RateLimit {
            per_second: 50.0,
            burst: 100.0,
        }
    }
}

/// How the server decides who is asking.
#[derive(Clone, Default)]
pub struct Access {
    /// The keys in force; `None` is an open loopback server (every caller is `Caller::open()`).
    pub keys: Option<Arc<KeyRing>>,
    /// Requests per key (one shared bucket on an open server); `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Browser sign-in with Okta (with keys): a session cookie makes a `directory` caller on
    /// the directory's pages; `None` leaves those pages to API keys like every other route.
    pub sign_in: Option<Arc<crate::api::SignIn>>,
}

impl Access {
    /// No keys and no limit: the open loopback server (tests, benches, `demo`).
    pub fn open() -> Access {
        Access::default()
    }
}

/// For a connection that outlives its request (a change-feed WebSocket): asks again whether
/// the key that opened it still stands for the same caller, so a revoked key (or a changed
/// role) ends the connection within the keys file's reload time. Attached to keyed requests
/// for that path only.
#[derive(Clone)]
pub(crate) struct KeyCheck {
    ring: Arc<KeyRing>,
    key: crate::secret::Secret,
    caller: Caller,
}

impl KeyCheck {
    /// Whether the key still authenticates as the caller it did.
    pub(crate) fn still_valid(&self) -> bool {
        self.ring.authenticate(self.key.expose()).as_ref() == Some(&self.caller)
    }
}

/// The caller the layer attached to a request (`Extension<Caller>` in a handler). `None` on
/// the key-free paths (`/healthz`, `/readyz`, `/hooks/okta`) and on a router built without the
/// layer: treat that as a caller with no permission.
pub fn caller(extensions: &axum::http::Extensions) -> Option<&Caller> {
    extensions.get::<Caller>()
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub(crate) struct Guard {
    access: Access,
    /// One bucket per key name (`None`: the open server's one bucket).
    buckets: Mutex<HashMap<Option<String>, Bucket>>,
}

impl Guard {
    pub(crate) fn new(access: Access) -> Arc<Guard> {
        Arc::new(Guard {
            access,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one request from `who`'s bucket, or says how long until one is there.
    fn take(&self, who: &Option<String>) -> Result<(), Duration> {
        let Some(limit) = self.access.rate_limit else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let b = buckets.entry(who.clone()).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * limit.per_second;
        b.tokens = (b.tokens + refill).min(limit.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / limit.per_second))
        }
    }
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn unauthorized(message: &str, invalid: bool) -> Response {
    let mut r = problem(StatusCode::UNAUTHORIZED, message);
    let challenge = if invalid {
        "Bearer realm=\"oktamirror\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"oktamirror\""
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// The key in `Authorization: Bearer KEY`, if the header has that shape.
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// Whether a `Host` value (with or without a port) names this machine's loopback.
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    crate::access::is_loopback_name(name)
}

/// The host the request is addressed to: `Host`, or the authority of an HTTP/2 request.
fn host(request: &Request) -> Option<String> {
    match request.headers().get(header::HOST) {
        Some(h) => Some(String::from_utf8_lossy(h.as_bytes()).into_owned()),
        None => request.uri().authority().map(|a| a.as_str().to_owned()),
    }
}

/// The middleware: host check (open server), key check (keys file), rate limit, caller.
pub(crate) async fn guard(
    State(g): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut check = None;
    let caller = match &g.access.keys {
        None => {
            // The probes and the hook (which checks its own secret) stay reachable through a
            // proxy that keeps the public Host, as before this check existed.
            if OPEN_PATHS.contains(&request.uri().path()) {
                return next.run(request).await;
            }
            // Browsers always send Host; a page on a rebound DNS name sends that name.
            if let Some(h) = host(&request).filter(|h| !loopback_host(h)) {
                tracing::debug!("refused a request addressed to host {h:?}");
                return problem(
                    StatusCode::MISDIRECTED_REQUEST,
                    "this mirror has no API keys, so it answers only requests addressed to localhost, 127.0.0.1 or [::1]: use http://127.0.0.1:PORT, or give the server a keys file (--keys-file) to serve other names",
                );
            }
            Caller::open()
        }
        Some(ring) => {
            if needs_no_key(&request) {
                return next.run(request).await;
            }
            let path = request.uri().path();
            let sign_in = g
                .access
                .sign_in
                .as_ref()
                .filter(|_| crate::api::web::is_directory_path(path));
            let Some(key) = bearer(&request) else {
                // A browser on the directory: its session cookie, or off to sign in.
                if let Some(si) = sign_in {
                    let Some((caller, signed_in)) = si.session(request.headers()) else {
                        if path.starts_with("/web/") {
                            return problem(
                                StatusCode::UNAUTHORIZED,
                                "sign in to the directory first (GET /auth/login)",
                            );
                        }
                        let back = request
                            .uri()
                            .path_and_query()
                            .map_or("/", |p| p.as_str())
                            .to_owned();
                        return crate::api::web::oidc::login_redirect(&back);
                    };
                    tracing::Span::current().record("key", caller.label());
                    if let Err(wait) = g.take(&caller.name) {
                        return too_many(wait);
                    }
                    request.extensions_mut().insert(signed_in);
                    request.extensions_mut().insert(caller);
                    return next.run(request).await;
                }
                return unauthorized(
                    "this mirror needs an API key: send the header `Authorization: Bearer KEY` with a key from `oktamirror keys new`",
                    false,
                );
            };
            match ring.authenticate(key) {
                Some(c) => {
                    check = (request.uri().path() == super::ws::PATH).then(|| KeyCheck {
                        ring: ring.clone(),
                        key: crate::secret::Secret::new(key),
                        caller: c.clone(),
                    });
                    c
                }
                None => {
                    return unauthorized(
                        "the API key in the Authorization header is not valid (unknown or revoked): ask the mirror's operator for a key (`oktamirror keys new`) and send it as `Authorization: Bearer KEY`",
                        true,
                    );
                }
            }
        }
    };
    tracing::Span::current().record("key", caller.label());
    if let Err(wait) = g.take(&caller.name) {
        return too_many(wait);
    }
    request.extensions_mut().insert(caller);
    if let Some(check) = check {
        request.extensions_mut().insert(check);
    }
    next.run(request).await
}

/// 429 with `Retry-After` for a caller whose bucket is empty.
fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut r = problem(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many requests for this key: wait {seconds} s (Retry-After) and slow down; the server's rate_limit_per_key sets the limit"
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:8080",
            "127.1.2.3:80",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1:8080",
            "[::2]:80",
            "",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let g = Guard::new(Access {
            sign_in: None,
            keys: None,
            rate_limit: Some(RateLimit {
                per_second: 10.0,
                burst: 2.0,
            }),
        });
        let a = Some("a".to_owned());
        assert!(g.take(&a).is_ok());
        assert!(g.take(&a).is_ok());
        let wait = g.take(&a).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(g.take(&Some("b".into())).is_ok(), "per key");
        std::thread::sleep(Duration::from_millis(120));
        assert!(g.take(&a).is_ok());
    }
}
