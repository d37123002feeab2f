//! The Okta source adapter: an HTTP client for the Management API and the crawl that feeds the
//! sync engine through `sync::Source`. Everything Okta-specific on the wire stays in here.

mod auth;
pub mod check;
mod client;
mod dpop;
mod error;
mod events;
mod jose;
pub(crate) mod link;
mod pacing;
pub mod scope;
pub mod setup;
#[cfg(test)]
mod tests;

pub use auth::{Auth, DEFAULT_SCOPES, OAuthConfig};
pub use client::{ClientOptions, OktaClient, Page};
pub use error::OktaError;
pub use events::{LOG_FILTER, read_delivery, read_event};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;

use crate::model::UserType;
use crate::secret::Secret;
use crate::sync::{LogPage, Scope, Source, SourceError};

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
    /// What part of the org to read (`sync::Scope`); the whole org by default.
    scope: Scope,
    /// The users `search` of the scope's people filter, once `scoped` resolved its types.
    people: Option<String>,
}

impl OktaSource {
    /// An SSWS-token source with default client options.
    pub fn new(base: url::Url, token: Secret) -> Result<OktaSource, OktaError> {
        Ok(OktaSource {
            client: OktaClient::new(base, token)?,
            scope: Scope::default(),
            people: None,
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
            scope: Scope::default(),
            people: None,
        })
    }

    /// The underlying HTTP client, for calls the source does not wrap.
    pub fn client(&self) -> &OktaClient {
        &self.client
    }

    /// This source narrowed to `scope`: user type names are resolved to ids (one request) and the
    /// people filter is tried once with `limit=1`, so a bad expression is a configuration error
    /// quoting Okta's reason now rather than a failed crawl later.
    pub async fn scoped(mut self, scope: Scope) -> Result<OktaSource, OktaError> {
        let mut type_ids = Vec::new();
        if !scope.user_types.is_empty() {
            let types = self.user_types().await.map_err(|e| match scope::types_refused(&e) {
                Some(_) => OktaError::Scope(format!(
                    "user_types needs the user types, and Okta refused them ({e}): grant okta.userTypes.read (OAuth) or use a token whose admin may read them, or remove user_types"
                )),
                None => e,
            })?;
            type_ids = scope::type_ids(&scope.user_types, &types).map_err(OktaError::Scope)?;
        }
        self.people = scope::people_search(scope.user_filter.as_deref(), &type_ids);
        if let Some(search) = &self.people {
            let url = self
                .client
                .url("/api/v1/users", &[("limit", "1"), ("search", search)]);
            match self.client.get_page(&url).await {
                Ok(_) => {}
                Err(OktaError::Status {
                    status: 400,
                    summary,
                    ..
                }) => {
                    return Err(OktaError::Scope(format!(
                        "Okta refused the people filter `{search}` (from user_filter{}): {summary}. Fix user_filter: it is an Okta search expression, like profile.countryCode eq \"US\" and status eq \"ACTIVE\"",
                        if type_ids.is_empty() {
                            ""
                        } else {
                            " and user_types"
                        }
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        self.scope = scope;
        Ok(self)
    }

    /// Okta's user types (`GET /api/v1/meta/types/user`).
    pub async fn user_types(&self) -> Result<Vec<UserType>, OktaError> {
        let url = self.client.url("/api/v1/meta/types/user", &[]);
        let items = self.client.get_json(&url).await?;
        Ok(scope::read_types(
            items.as_array().map_or(&[][..], Vec::as_slice),
        ))
    }

    /// One cheap call that proves the domain resolves, Okta answers and the token is accepted.
    pub async fn preflight(&self) -> Result<(), OktaError> {
        let url = self.client.url("/api/v1/users", &[("limit", "1")]);
        self.client.get_page(&url).await.map(|_| ())
    }
}

fn source_err(e: OktaError) -> SourceError {
    SourceError {
        config: e.is_config_error(),
        object: false,
        message: e.to_string(),
    }
}

/// Okta's timestamp format in filters: milliseconds and `Z` (okta-api.md 2.2).
fn okta_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Turns a 404 (the object is gone) into `None`; every other failure stays an error. A 400 or
/// 403 on one object's read concerns that object alone (a scoped admin role refuses the people
/// outside its scope): the error says so, so the engine can skip it rather than stall.
fn found<T>(r: Result<T, OktaError>) -> Result<Option<T>, SourceError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(OktaError::Status { status: 404, .. }) => Ok(None),
        Err(e) => {
            let object = matches!(
                e,
                OktaError::Status { status: 400, .. }
                    | OktaError::Forbidden { .. }
                    | OktaError::ForbiddenApp { .. }
            );
            Err(SourceError {
                object,
                ..source_err(e)
            })
        }
    }
}

impl OktaSource {
    /// The URL of `/api/v1/{segments…}`, each segment escaped (ids come from events).
    fn api_url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<url::Url, SourceError> {
        let mut url = self.client.url("/", query);
        url.path_segments_mut()
            .map_err(|_| SourceError::new("the Okta URL cannot hold a path"))?
            .clear()
            .extend(["api", "v1"])
            .extend(segments);
        Ok(url)
    }

    /// Pages of `/api/v1/users` matching the `search` expression.
    fn searched_users(&self, search: String) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let url = self
            .client
            .url("/api/v1/users", &[("limit", LIMIT), ("search", &search)]);
        self.client
            .paginate(url)
            .map(|r| r.map_err(source_err))
            .boxed()
    }

    /// Keeps the groups of a page that are in scope.
    fn in_scope<'a>(
        &'a self,
        pages: BoxStream<'a, Result<Vec<Value>, SourceError>>,
    ) -> BoxStream<'a, Result<Vec<Value>, SourceError>> {
        if self.scope.include_groups.is_empty() {
            return pages;
        }
        pages
            .map(|r| {
                r.map(|page| {
                    page.into_iter()
                        .filter(|g| scope::group_in_scope(&self.scope, g))
                        .collect()
                })
            })
            .boxed()
    }

    /// Pages of `/api/v1/{what}` filtered by `filter`.
    fn filtered(
        &self,
        what: &str,
        filter: String,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let url = self.client.url(
            &format!("/api/v1/{what}"),
            &[("limit", LIMIT), ("filter", &filter)],
        );
        self.client
            .paginate(url)
            .map(|r| r.map_err(source_err))
            .boxed()
    }
}

impl Source for OktaSource {
    fn users(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        // `search` returns every status, DEPROVISIONED included (okta-api.md 2.1).
        if let Some(search) = &self.people {
            return self.searched_users(search.clone());
        }
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
        let search = scope::groups_search(&self.scope);
        let mut query = vec![("limit", LIMIT)];
        if let Some(search) = &search {
            query.push(("search", search));
        }
        let url = self.client.url("/api/v1/groups", &query);
        let pages = self
            .client
            .paginate(url)
            .map(|r| r.map_err(source_err))
            .boxed();
        self.in_scope(pages)
    }

    fn group_members<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<Value>>, SourceError>> {
        Box::pin(async move {
            let url = self.api_url(&["groups", group_id, "users"], &[("limit", LIMIT)])?;
            let mut pages = self.client.paginate(url);
            let mut users = Vec::new();
            while let Some(page) = pages.next().await {
                match found(page)? {
                    Some(page) => users.extend(page),
                    None => return Ok(None),
                }
            }
            Ok(Some(users))
        })
    }

    fn user_types(&self) -> BoxFuture<'_, Result<Option<Vec<UserType>>, SourceError>> {
        Box::pin(async move {
            match OktaSource::user_types(self).await {
                Ok(types) => Ok(Some(types)),
                Err(e) if scope::types_refused(&e).is_some() => Ok(None),
                Err(e) => Err(source_err(e)),
            }
        })
    }

    fn users_by_keys<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Value>, SourceError>> {
        Box::pin(async move {
            let mut users = Vec::new();
            for chunk in keys.chunks(scope::KEYS_PER_SEARCH) {
                let mut pages = self.searched_users(scope::keys_search(chunk));
                while let Some(page) = pages.next().await {
                    users.extend(page?);
                }
            }
            Ok(users)
        })
    }

    fn matching_people_filter<'a>(
        &'a self,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, SourceError>> {
        Box::pin(async move {
            let Some(people) = &self.people else {
                return Ok(ids.iter().cloned().collect());
            };
            let mut matching = std::collections::HashSet::new();
            for chunk in ids.chunks(scope::IDS_PER_SEARCH) {
                let mut pages = self.searched_users(scope::ids_within(people, chunk));
                while let Some(page) = pages.next().await {
                    matching.extend(
                        page?
                            .iter()
                            .filter_map(|u| u.get("id").and_then(Value::as_str))
                            .map(str::to_owned),
                    );
                }
            }
            Ok(matching)
        })
    }

    fn group_member_ids<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, SourceError>> {
        Box::pin(async move {
            let url = self.api_url(&["groups", group_id, "users"], &[("limit", LIMIT)])?;
            let mut pages = self.client.paginate_as::<IdOnly>(url);
            let mut ids = Vec::new();
            while let Some(page) = pages.next().await {
                // A 404 means the group was deleted after it was listed (on any page: it can go
                // between two pages of its members).
                match found(page)? {
                    Some(page) => ids.extend(page.into_iter().map(|u| u.id)),
                    None => return Ok(None),
                }
            }
            ids.sort();
            ids.dedup();
            Ok(Some(ids))
        })
    }

    fn user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Value>, SourceError>> {
        Box::pin(async move {
            let url = self.api_url(&["users", id], &[])?;
            found(self.client.get_json(&url).await)
        })
    }

    fn group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Value>, SourceError>> {
        Box::pin(async move {
            let url = self.api_url(&["groups", id], &[])?;
            let group = found(self.client.get_json(&url).await)?;
            Ok(group.filter(|g| scope::group_in_scope(&self.scope, g)))
        })
    }

    fn user_group_ids<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, SourceError>> {
        Box::pin(async move {
            // Undocumented whether this list pages (okta-api.md 11.2): follow `next` if it does.
            let url = self.api_url(&["users", user_id, "groups"], &[])?;
            let mut ids = Vec::new();
            if self.scope.include_groups.is_empty() {
                let mut pages = self.client.paginate_as::<IdOnly>(url);
                while let Some(page) = pages.next().await {
                    match found(page)? {
                        Some(page) => ids.extend(page.into_iter().map(|g| g.id)),
                        None => return Ok(None),
                    }
                }
            } else {
                let mut pages = self.client.paginate(url);
                while let Some(page) = pages.next().await {
                    let Some(page) = found(page)? else {
                        return Ok(None);
                    };
                    ids.extend(
                        page.iter()
                            .filter(|g| scope::group_in_scope(&self.scope, g))
                            .filter_map(|g| g.get("id").and_then(Value::as_str))
                            .map(str::to_owned),
                    );
                }
            }
            ids.sort();
            ids.dedup();
            Ok(Some(ids))
        })
    }

    fn log_start(&self, since: DateTime<Utc>) -> String {
        self.client
            .url(
                "/api/v1/logs",
                &[
                    ("since", okta_time(since).as_str()),
                    ("sortOrder", "ASCENDING"),
                    ("limit", "1000"),
                    ("filter", LOG_FILTER),
                ],
            )
            .to_string()
    }

    fn log_page<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<LogPage, SourceError>> {
        Box::pin(async move {
            let url = url::Url::parse(cursor)
                .ok()
                .and_then(|u| self.client.allowed_origin(u).ok())
                .ok_or_else(|| SourceError {
                    object: false,
                    message: format!(
                        "the stored System Log position {cursor} is not on {}: the data directory belongs to another Okta org; point --data-dir at a new directory",
                        self.client.base()
                    ),
                    config: true,
                })?;
            let page = self.client.get_page(&url).await.map_err(source_err)?;
            Ok(LogPage {
                read: page.items.len(),
                events: page.items.iter().filter_map(read_event).collect(),
                // A polling query always has a next link; keep the position if one is missing.
                next: page
                    .next
                    .map_or_else(|| cursor.to_owned(), |u| u.to_string()),
            })
        })
    }

    fn users_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let since = format!("lastUpdated gt \"{}\"", okta_time(since));
        match &self.people {
            Some(people) => self.searched_users(format!("{people} and {since}")),
            None => self.filtered("users", since),
        }
    }

    fn groups_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let pages = self.filtered("groups", format!("lastUpdated gt \"{}\"", okta_time(since)));
        self.in_scope(pages)
    }

    fn groups_with_members_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let pages = self.filtered(
            "groups",
            format!("lastMembershipUpdated gt \"{}\"", okta_time(since)),
        );
        self.in_scope(pages)
    }

    fn requests(&self) -> u64 {
        self.client.requests()
    }

    fn retries(&self) -> u64 {
        self.client.retries()
    }

    fn rate_limited(&self) -> u64 {
        self.client.rate_limited() + self.client.concurrency_limited()
    }
}
