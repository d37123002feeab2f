//! The Okta source adapter: an HTTP client for the Management API and the crawl that feeds the
//! sync engine through `sync::Source`. Everything Okta-specific on the wire stays in here.

mod auth;
pub mod check;
mod client;
mod dpop;
mod error;
mod jose;
mod link;
mod pacing;

pub use auth::{Auth, DEFAULT_SCOPES, OAuthConfig};
pub use client::{ClientOptions, OktaClient, Page};
pub use error::OktaError;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;

use crate::secret::Secret;
use crate::sync::{Source, SourceError};

/// Page size for every list: Okta's documented maximum for users and its advice for groups.
const LIMIT: &str = "200";

/// A list item read only for its id: member lists carry whole user objects, and building a JSON
/// tree for each (hundreds of thousands in a large org) was most of a crawl's CPU time.
#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

/// `sync::Source` over the Okta Management API.
pub struct OktaSource {
    client: OktaClient,
}

impl OktaSource {
    /// An SSWS-token source with default client options.
    pub fn new(base: url::Url, token: Secret) -> Result<OktaSource, OktaError> {
        Ok(OktaSource {
            client: OktaClient::new(base, token)?,
        })
    }

    /// A source with any credentials and client options (pacing, concurrency, retries).
    pub fn with_auth(
        base: url::Url,
        auth: Auth,
        options: ClientOptions,
    ) -> Result<OktaSource, OktaError> {
        Ok(OktaSource {
            client: OktaClient::with_auth(base, auth, options)?,
        })
    }

    pub fn client(&self) -> &OktaClient {
        &self.client
    }

    /// One cheap call that proves the domain resolves, Okta answers and the token is accepted.
    pub async fn preflight(&self) -> Result<(), OktaError> {
        let url = self.client.url("/api/v1/users", &[("limit", "1")]);
        self.client.get_page(&url).await.map(|_| ())
    }
}

fn source_err(e: OktaError) -> SourceError {
    SourceError::new(e.to_string())
}

impl Source for OktaSource {
    fn users(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        // The plain list omits DEPROVISIONED users; a filtered second pass brings them in.
        let active = self.client.url("/api/v1/users", &[("limit", LIMIT)]);
        let deprovisioned = self.client.url(
            "/api/v1/users",
            &[("limit", LIMIT), ("filter", "status eq \"DEPROVISIONED\"")],
        );
        self.client
            .paginate(active)
            .chain(self.client.paginate(deprovisioned))
            .map(|r| r.map_err(source_err))
            .boxed()
    }

    fn groups(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let url = self.client.url("/api/v1/groups", &[("limit", LIMIT)]);
        self.client
            .paginate(url)
            .map(|r| r.map_err(source_err))
            .boxed()
    }

    fn group_member_ids<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, SourceError>> {
        Box::pin(async move {
            let mut url = self.client.url("/", &[("limit", LIMIT)]);
            url.path_segments_mut()
                .map_err(|_| SourceError::new("the Okta URL cannot hold a path"))?
                .clear()
                .extend(["api", "v1", "groups", group_id, "users"]);
            let mut pages = self.client.paginate_as::<IdOnly>(url);
            let mut ids = Vec::new();
            while let Some(page) = pages.next().await {
                ids.extend(page.map_err(source_err)?.into_iter().map(|u| u.id));
            }
            ids.sort();
            ids.dedup();
            Ok(ids)
        })
    }

    fn requests(&self) -> u64 {
        self.client.requests()
    }
}
