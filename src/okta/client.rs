//! HTTP client for the Okta Management API: SSWS auth, JSON pages, `next` links followed
//! exactly as given (and only on the configured origin, so the token never leaves it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::error::{self, OktaError};
use super::link;
use crate::secret::Secret;

const TIMEOUT_SECS: u64 = 60;

/// One page of a list: its items and the next page, if any.
pub struct Page<T = Value> {
    pub items: Vec<T>,
    pub next: Option<Url>,
}

pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    requests: AtomicU64,
}

impl OktaClient {
    /// `base` is the org URL (scheme and host, validated by the configuration).
    pub fn new(base: Url, token: Secret) -> Result<OktaClient, OktaError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("oktamirror/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(TIMEOUT_SECS))
            .build()
            .map_err(|e| OktaError::Client(e.to_string()))?;
        Ok(OktaClient {
            http,
            base,
            token,
            requests: AtomicU64::new(0),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
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
        let (body, headers) = self.get(url).await?;
        let items: Vec<T> = serde_json::from_slice(&body).map_err(|e| OktaError::Body {
            path: url.path().to_owned(),
            detail: if e.is_data() {
                format!("expected a JSON array of objects: {e}")
            } else {
                e.to_string()
            },
        })?;
        let links = headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let next = match link::find_rel(links, "next") {
            None => None,
            Some(href) => {
                Some(
                    self.same_origin(url.join(&href).map_err(|e| OktaError::Body {
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
        let (body, _) = self.get(url).await?;
        serde_json::from_slice(&body).map_err(|e| OktaError::Body {
            path: url.path().to_owned(),
            detail: e.to_string(),
        })
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
        stream::try_unfold(Some(first), move |next| async move {
            let Some(url) = next else { return Ok(None) };
            let page = self.get_page_as::<T>(&url).await?;
            Ok(Some((page.items, page.next)))
        })
        .boxed()
    }

    /// GETs `url` and returns the body of a successful response.
    async fn get(
        &self,
        url: &Url,
    ) -> Result<(bytes::Bytes, reqwest::header::HeaderMap), OktaError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::AUTHORIZATION,
                format!("SSWS {}", self.token.expose()),
            )
            .send()
            .await
            .map_err(|e| error::from_transport(&e, url, TIMEOUT_SECS))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.bytes().await.map_err(|e| OktaError::Body {
            path: url.path().to_owned(),
            detail: format!("the body was cut off ({e})"),
        })?;
        if !status.is_success() {
            let err = error::from_status(status.as_u16(), &body, url.path(), &request_id);
            tracing::warn!(
                status = status.as_u16(),
                request_id,
                path = url.path(),
                "Okta request failed"
            );
            return Err(err);
        }
        tracing::trace!(path = url.path(), request_id, "Okta request ok");
        Ok((body, headers))
    }

    fn same_origin(&self, u: Url) -> Result<Url, OktaError> {
        if u.origin() == self.base.origin() {
            Ok(u)
        } else {
            Err(OktaError::ForeignLink {
                link: format!("{}://{}", u.scheme(), u.authority()),
                base: format!("{}://{}", self.base.scheme(), self.base.authority()),
            })
        }
    }
}
