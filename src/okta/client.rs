//! HTTP client for the Okta Management API: SSWS or OAuth (with DPoP) auth, rate-limit pacing,
//! retries, JSON pages, and `next` links followed exactly as given (only on the configured
//! origin and the aliases the operator listed, so credentials never go anywhere else).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::auth::{Auth, Credential, TokenSource};
use super::error::{self, Challenge, OktaError};
use super::link;
use super::pacing::{self, Pacer, Reading, Throttle};
use crate::secret::Secret;

/// The most pages one list may take: 100,000 pages of 200 is 20 million objects, far beyond
/// any org; a list still going past it is Okta (or a proxy) looping, not data.
const MAX_PAGES: usize = 100_000;

/// How the client treats Okta: pacing, concurrency, retries and timeouts.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The fraction (0, 1] of each rate-limit bucket the mirror may use; Okta gives each token
    /// or app 50 % by default, and the rest belongs to the org's other integrations.
    pub rate_limit_share: f64,
    /// Requests in flight at once.
    pub max_in_flight: usize,
    /// Retries of one request after a transient failure (5xx, timeout, reset, bad body).
    pub max_retries: u32,
    /// The first retry's delay; each further retry doubles it (with jitter), up to 30 s.
    pub retry_base: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// The longest wait between two tries of a request Okta refused with a concurrency 429
    /// (too many requests in flight at the org, counting other integrations'): the waits grow
    /// from `retry_base` with full jitter up to this.
    pub concurrency_backoff_cap: Duration,
    /// How long one request keeps waiting out concurrency 429s before it fails (a crawl is not
    /// failed by a busy hour of other integrations, but an org that never frees a slot is
    /// reported).
    pub concurrency_patience: Duration,
    /// Other URLs of the same org (its okta.com domain behind a custom domain, or the
    /// reverse) whose `next` links are followed; links anywhere else are refused.
    pub url_aliases: Vec<Url>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            rate_limit_share: 0.5,
            max_in_flight: 8,
            max_retries: 5,
            retry_base: Duration::from_millis(250),
            timeout: Duration::from_secs(60),
            concurrency_backoff_cap: Duration::from_secs(120),
            concurrency_patience: Duration::from_secs(15 * 60),
            url_aliases: Vec::new(),
        }
    }
}

/// One page of a list: its items and the next page, if any.
pub struct Page<T = Value> {
    /// The page's items, in Okta's order.
    pub items: Vec<T>,
    /// The `Link: rel="next"` URL, or `None` on the last page.
    pub next: Option<Url>,
}

enum Credentials {
    Ssws(Secret),
    OAuth(Box<TokenSource>),
}

/// An HTTP client for one Okta org: authenticates, paces against rate limits, retries
/// and pages through `Link` headers.
pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    options: ClientOptions,
    pacer: Pacer,
    in_flight: Semaphore,
    requests: AtomicU64,
    retries: AtomicU64,
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T, HeaderMap),
    /// Try again after this delay (already decided by pacing or backoff).
    Again(Duration, OktaError),
    /// The access token was turned down: mint a new one, then try again.
    Reauth(u64, OktaError),
    Fail(OktaError),
}

/// A whole answer from Okta: read completely before it is judged, so a cut-off body is a
/// retryable failure rather than a half-parsed page.
struct Reply {
    status: u16,
    headers: HeaderMap,
    request_id: String,
    /// Set when the pacer read this answer as a 429: what it calls for.
    wait_429: Option<Throttle>,
    body: bytes::Bytes,
}

/// A 2xx body read as `T`: malformed JSON is retried like a cut-off body.
fn parse_body<T: DeserializeOwned>(reply: Reply, path: &str) -> Attempt<T> {
    let Reply {
        status,
        headers,
        request_id,
        body,
        ..
    } = reply;
    match serde_json::from_slice::<T>(&body) {
        Ok(v) => {
            tracing::trace!(path, request_id, "Okta request ok");
            Attempt::Done(v, headers)
        }
        Err(e) => {
            tracing::warn!(status, request_id, path, "Okta sent malformed JSON");
            Attempt::Again(
                Duration::ZERO,
                OktaError::Body {
                    path: path.to_owned(),
                    detail: e.to_string(),
                },
            )
        }
    }
}

impl OktaClient {
    /// `base` is the org URL (scheme and host, validated by the configuration).
    pub fn new(base: Url, token: Secret) -> Result<OktaClient, OktaError> {
        OktaClient::with_auth(base, Auth::Ssws(token), ClientOptions::default())
    }

    /// A client with SSWS or OAuth credentials and explicit options (timeout, pacing, retries).
    pub fn with_auth(
        base: Url,
        auth: Auth,
        options: ClientOptions,
    ) -> Result<OktaClient, OktaError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("oktamirror/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(options.timeout)
            // Never follow a redirect: the SSWS token or access token would go along to
            // wherever it points. A redirect is reported instead (see `OktaError::Redirect`).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OktaError::Client(e.to_string()))?;
        let credentials = match auth {
            Auth::Ssws(t) => Credentials::Ssws(t),
            Auth::OAuth(cfg) => Credentials::OAuth(Box::new(TokenSource::new(&base, &cfg)?)),
        };
        Ok(OktaClient {
            http,
            base,
            credentials,
            pacer: Pacer::new(options.rate_limit_share),
            in_flight: Semaphore::new(options.max_in_flight.max(1)),
            options,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    /// The org URL every request is made against.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests repeated after a transient failure or a 429.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Rate-limit 429s received.
    pub fn rate_limited(&self) -> u64 {
        self.pacer.rate_limited()
    }

    /// Concurrency 429s received (each waited out with a growing, jittered backoff).
    pub fn concurrency_limited(&self) -> u64 {
        self.pacer.concurrency_limited()
    }

    /// Access tokens minted (0 with an SSWS token).
    pub fn tokens_minted(&self) -> u64 {
        match &self.credentials {
            Credentials::Ssws(_) => 0,
            Credentials::OAuth(t) => t.minted(),
        }
    }

    /// The last limit seen for the bucket of `path`, and the share of it the mirror uses.
    pub fn allowance(&self, path: &str) -> Option<(u64, u64)> {
        self.pacer.allowance(pacing::family_of(path))
    }

    /// For OAuth: mints a token now, so `check` can report authentication on its own.
    pub async fn authenticate(&self) -> Result<(), OktaError> {
        match &self.credentials {
            Credentials::Ssws(_) => Ok(()),
            Credentials::OAuth(t) => t.credential(&self.http, None).await.map(|_| ()),
        }
    }

    /// The URL of `path` (which may carry a query) on the org.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut u = self.base.clone();
        u.set_path(path);
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    /// GETs one page of a list as JSON values.
    pub async fn get_page(&self, url: &Url) -> Result<Page, OktaError> {
        self.get_page_as(url).await
    }

    /// GETs one page of a list, reading each item as `T`. Reading only the fields a caller needs
    /// (member ids, say) skips building a JSON tree for every object Okta sends.
    pub async fn get_page_as<T: DeserializeOwned>(&self, url: &Url) -> Result<Page<T>, OktaError> {
        let (items, headers): (Vec<T>, HeaderMap) = self.get(url).await?;
        let links = headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let next = match link::find_rel(links, "next") {
            None => None,
            Some(href) => {
                Some(
                    self.allowed_origin(url.join(&href).map_err(|e| OktaError::Body {
                        path: url.path().to_owned(),
                        detail: format!("unreadable next link {href}: {e}"),
                    })?)?,
                )
            }
        };
        Ok(Page { items, next })
    }

    /// GETs a JSON value.
    pub async fn get_json(&self, url: &Url) -> Result<Value, OktaError> {
        Ok(self.get::<Value>(url).await?.0)
    }

    /// Every page of a list, starting at `first`, following `next` links until there is none.
    pub fn paginate(&self, first: Url) -> BoxStream<'_, Result<Vec<Value>, OktaError>> {
        self.paginate_as(first)
    }

    /// `paginate`, reading each item as `T`.
    pub fn paginate_as<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Url,
    ) -> BoxStream<'_, Result<Vec<T>, OktaError>> {
        self.paginate_within(first, MAX_PAGES)
    }

    /// `paginate_as`, stopping with an error when a `next` link repeats one already read (Okta
    /// looping would otherwise crawl for ever) or the list passes `max_pages`.
    pub(super) fn paginate_within<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Url,
        max_pages: usize,
    ) -> BoxStream<'_, Result<Vec<T>, OktaError>> {
        let path = first.path().to_owned();
        let seen = std::collections::HashSet::<String>::new();
        stream::try_unfold((Some(first), seen), move |(next, mut seen)| {
            let path = path.clone();
            async move {
                let Some(url) = next else { return Ok(None) };
                if !seen.insert(url.as_str().to_owned()) {
                    return Err(OktaError::Paging {
                        path,
                        detail: format!("the next link {url} repeats a page already read"),
                    });
                }
                if seen.len() > max_pages {
                    return Err(OktaError::Paging {
                        path,
                        detail: format!("more than {max_pages} pages"),
                    });
                }
                let page = self.get_page_as::<T>(&url).await?;
                Ok(Some((page.items, (page.next, seen))))
            }
        })
        .boxed()
    }

    /// One GET, paced, authenticated and retried: transient failures with jittered
    /// exponential backoff, rate 429s after the reset, concurrency 429s with a full-jitter
    /// backoff growing to minutes (for up to `concurrency_patience`), a rejected access token
    /// once after minting a new one. Only a completely parsed body is returned.
    async fn get<T: DeserializeOwned>(&self, url: &Url) -> Result<(T, HeaderMap), OktaError> {
        let _slot = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| OktaError::Client("the request limiter was closed".into()))?;
        let (mut failures, mut limited, mut rejected) = (0u32, 0u32, None);
        let (mut crowded, mut crowded_for) = (0u32, Duration::ZERO);
        loop {
            let cred = match &self.credentials {
                Credentials::Ssws(_) => None,
                Credentials::OAuth(t) => match t.credential(&self.http, rejected).await {
                    Ok(c) => Some(c),
                    Err(e) if e.is_retryable() && failures < self.options.max_retries => {
                        failures += 1;
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        crate::metrics::global().okta_retry();
                        tokio::time::sleep(self.backoff(failures)).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            match self.attempt::<T>(url, cred.as_ref()).await {
                Attempt::Done(v, h) => return Ok((v, h)),
                Attempt::Fail(e) => return Err(e),
                Attempt::Reauth(generation, e) => {
                    if rejected.is_some() {
                        return Err(e);
                    }
                    rejected = Some(generation);
                }
                Attempt::Again(
                    _,
                    OktaError::ConcurrencyLimited {
                        path, request_id, ..
                    },
                ) => {
                    crowded += 1;
                    let wait = self.concurrency_backoff(crowded);
                    if crowded_for + wait > self.options.concurrency_patience {
                        return Err(OktaError::ConcurrencyLimited {
                            path,
                            request_id,
                            waited_secs: crowded_for.as_secs(),
                        });
                    }
                    crowded_for += wait;
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::global().okta_retry();
                    tracing::debug!(
                        path,
                        tries = crowded,
                        ?wait,
                        "Okta's concurrency limit: waiting"
                    );
                    tokio::time::sleep(wait).await;
                }
                Attempt::Again(wait, e) => {
                    let rate = matches!(e, OktaError::RateLimited { .. });
                    if rate {
                        limited += 1;
                        if limited > self.options.max_retries.max(3) {
                            return Err(e);
                        }
                    } else {
                        failures += 1;
                        if failures > self.options.max_retries {
                            return Err(e);
                        }
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::global().okta_retry();
                    let wait = if rate {
                        wait
                    } else {
                        wait.max(self.backoff(failures))
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Equal jitter over an exponential step: half to all of base × 2^(n−1), capped at 30 s.
    fn backoff(&self, n: u32) -> Duration {
        let step = self
            .options
            .retry_base
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(Duration::from_secs(30));
        step.mul_f64(0.5 + unit_random() / 2.0)
    }

    /// Full jitter (anywhere from 0 to the step) over an exponential step from `retry_base`,
    /// capped at `concurrency_backoff_cap`: requests crowded out together spread out instead of
    /// coming back at once, and a long busy spell is waited out minutes apart.
    pub(super) fn concurrency_backoff(&self, n: u32) -> Duration {
        let step = self
            .options
            .retry_base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.options.concurrency_backoff_cap);
        step.mul_f64(unit_random())
    }

    /// One request, its body read as `T` (a page is returned only once it parsed completely).
    async fn attempt<T: DeserializeOwned>(
        &self,
        url: &Url,
        cred: Option<&Credential>,
    ) -> Attempt<T> {
        let ticket = self.pacer.acquire(pacing::family_of(url.path())).await;
        let req = match self.authorized_get(url, cred) {
            Ok(req) => req,
            Err(e) => {
                self.pacer.observe(ticket, None, 0);
                return Attempt::Fail(e);
            }
        };
        let reply = match self.send(req, url, ticket).await {
            Ok(reply) => reply,
            Err(e) if e.is_retryable() => return Attempt::Again(Duration::ZERO, e),
            Err(e) => return Attempt::Fail(e),
        };
        if (200..300).contains(&reply.status) {
            return parse_body(reply, url.path());
        }
        self.classify_failure(reply, url.path(), cred)
    }

    /// The GET for `url` with its credentials: the SSWS token, or the access token and (with
    /// DPoP) a fresh proof bound to this URL. Fails only when the DPoP key cannot sign.
    fn authorized_get(
        &self,
        url: &Url,
        cred: Option<&Credential>,
    ) -> Result<reqwest::RequestBuilder, OktaError> {
        let mut req = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        match (&self.credentials, cred) {
            (Credentials::Ssws(t), _) => {
                req = req.header(
                    reqwest::header::AUTHORIZATION,
                    format!("SSWS {}", t.expose()),
                );
            }
            (Credentials::OAuth(_), Some(c)) => {
                req = req.header(reqwest::header::AUTHORIZATION, c.authorization().expose());
                if let Some(k) = &c.dpop {
                    let proof =
                        k.proof("GET", url, Some(&c.token))
                            .map_err(|detail| OktaError::Key {
                                setting: "okta_dpop_key_file",
                                detail,
                            })?;
                    req = req.header("dpop", proof.expose());
                }
            }
            (Credentials::OAuth(_), None) => {}
        }
        Ok(req)
    }

    /// Sends the request and reads the whole answer, handing the pacer what the response says
    /// about the rate limit. A failure before a response or a cut-off body is an error here
    /// (both retryable); any status is a `Reply`.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &Url,
        ticket: pacing::Ticket<'_>,
    ) -> Result<Reply, OktaError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let path = url.path();
        let family = pacing::family_of(path);
        let metrics = crate::metrics::global();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                metrics.okta_request(family, "GET", None);
                self.pacer.observe(ticket, None, 0);
                let err = error::from_transport(&e, url, self.options.timeout.as_secs());
                tracing::warn!(path, error = %err, "Okta request failed before a response");
                return Err(err);
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let reading = Reading::from_headers(&headers);
        metrics.okta_request(family, "GET", Some(status));
        if let Some(r) = &reading {
            metrics.okta_remaining(family, r.remaining);
        }
        let wait_429 = self.pacer.observe(ticket, reading, status);
        if let Some(t) = &wait_429 {
            metrics.okta_rate_limited(matches!(t, Throttle::Concurrency));
        }
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(status, request_id, path, "Okta's response was cut off");
                return Err(OktaError::Body {
                    path: path.to_owned(),
                    detail: format!("the body was cut off ({e})"),
                });
            }
        };
        Ok(Reply {
            status,
            headers,
            request_id,
            wait_429,
            body,
        })
    }

    /// What a non-2xx reply calls for: waiting out a 429, a retry with the nonce a DPoP
    /// server asked for, a new access token, a retry after a transient error, or failing.
    fn classify_failure<T>(
        &self,
        reply: Reply,
        path: &str,
        cred: Option<&Credential>,
    ) -> Attempt<T> {
        let Reply {
            status,
            headers,
            request_id,
            wait_429,
            body,
        } = reply;
        tracing::warn!(status, request_id, path, "Okta request failed");
        if (300..400).contains(&status) {
            return Attempt::Fail(OktaError::Redirect {
                path: path.to_owned(),
                status,
                location: headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("nowhere")
                    .to_owned(),
            });
        }
        match wait_429 {
            Some(Throttle::Rate(wait)) => {
                return Attempt::Again(
                    wait,
                    OktaError::RateLimited {
                        path: path.to_owned(),
                        request_id,
                    },
                );
            }
            Some(Throttle::Concurrency) => {
                return Attempt::Again(
                    Duration::ZERO,
                    OktaError::ConcurrencyLimited {
                        path: path.to_owned(),
                        request_id,
                        waited_secs: 0,
                    },
                );
            }
            None => {}
        }
        let challenge = headers
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(Challenge::parse);
        if let (Some(c), Some(Credential { dpop: Some(k), .. })) = (&challenge, cred) {
            if c.get("error") == Some("use_dpop_nonce") {
                if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
                    k.set_nonce(n);
                    return Attempt::Again(
                        Duration::ZERO,
                        OktaError::InvalidDpopProof {
                            detail: "Okta kept asking for a new DPoP nonce".into(),
                        },
                    );
                }
            }
        }
        let oauth = matches!(self.credentials, Credentials::OAuth(_));
        let err = error::from_response(status, challenge.as_ref(), &body, path, &request_id, oauth);
        match (err, cred) {
            (e @ OktaError::AccessTokenRejected { .. }, Some(c)) => {
                Attempt::Reauth(c.generation, e)
            }
            (e, _) if e.is_retryable() => Attempt::Again(Duration::ZERO, e),
            (e, _) => Attempt::Fail(e),
        }
    }

    /// `u` if it is on the configured org or one of its listed aliases, so a token is never
    /// sent anywhere else.
    pub fn allowed_origin(&self, u: Url) -> Result<Url, OktaError> {
        let origin = u.origin();
        if origin == self.base.origin()
            || self
                .options
                .url_aliases
                .iter()
                .any(|a| a.origin() == origin)
        {
            Ok(u)
        } else {
            Err(OktaError::ForeignLink {
                link: format!("{}://{}", u.scheme(), u.authority()),
                base: format!("{}://{}", self.base.scheme(), self.base.authority()),
            })
        }
    }
}

/// A uniform draw from [0, 1] (0.5 should the system's generator fail).
fn unit_random() -> f64 {
    let mut b = [0u8; 8];
    match aws_lc_rs::rand::fill(&mut b) {
        Ok(()) => u64::from_le_bytes(b) as f64 / u64::MAX as f64,
        Err(_) => 0.5,
    }
}
