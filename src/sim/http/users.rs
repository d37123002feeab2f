//! Users endpoints: `GET /api/v1/users` (plain list, `filter`, `q`),
//! `GET /api/v1/users/{idOrLogin}`, `GET /api/v1/users/{id}/groups`, and the writes:
//! create, partial (`POST`) and full (`PUT`) profile update, lifecycle, and `DELETE`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use std::collections::BTreeSet;

use super::params::{Origin, Query};
use super::{issue_cursor, profile_body, read_cursor, reject_unknown, request_uri, respond};
use crate::sim::admin::{self, Deletion, Lifecycle};
use crate::sim::filter::{self, AttrSpec, Field, FilterError, Kind, Op};
use crate::sim::json;
use crate::sim::model::{Status, User};
use crate::sim::search;
use crate::sim::shared::Shared;
use crate::sim::store::Org;

const EQ: &[Op] = &[Op::Eq];
const DATE_OPS: &[Op] = &[Op::Eq, Op::Gt, Op::Ge, Op::Lt, Op::Le];

/// Attributes `filter` accepts on users, and their operators (SPEC `listUsers.filter`).
fn user_filter_spec(name: &str) -> Option<AttrSpec> {
    let (id, kind, ops) = match name {
        "status" => (0, Kind::Str, EQ),
        "lastUpdated" => (1, Kind::Date, DATE_OPS),
        "id" => (2, Kind::Str, EQ),
        "profile.login" => (3, Kind::Str, EQ),
        "profile.email" => (4, Kind::Str, EQ),
        "profile.firstName" => (5, Kind::Str, EQ),
        "profile.lastName" => (6, Kind::Str, EQ),
        _ => return None,
    };
    Some(AttrSpec { id, kind, ops })
}

fn user_field(u: &User, attr: usize) -> Field<'_> {
    match attr {
        0 => Field::Str(Some(u.status.as_str())),
        1 => Field::Date(Some(u.last_updated)),
        2 => Field::Str(Some(&u.id)),
        3 => Field::Str(Some(&u.login)),
        4 => Field::Str(Some(&u.email)),
        5 => Field::Str(u.first_name.as_deref()),
        6 => Field::Str(u.last_name.as_deref()),
        _ => Field::Str(None),
    }
}

/// `q`: case-insensitive prefix on firstName, lastName or email; no DEPROVISIONED, no paging.
fn quick_search(
    org: &Org,
    scope: Option<&BTreeSet<String>>,
    base: &str,
    text: &str,
    limit: usize,
) -> String {
    let needle = text.to_lowercase();
    let hit = |v: Option<&str>| v.is_some_and(|s| s.to_lowercase().starts_with(&needle));
    let items = org
        .users
        .values()
        .filter(|u| u.status != Status::Deprovisioned)
        .filter(|u| org.user_in_scope(scope, &u.id))
        .filter(|u| {
            hit(u.first_name.as_deref()) || hit(u.last_name.as_deref()) || hit(Some(&u.email))
        })
        .take(limit)
        .map(|u| u.render(base, false));
    json::array(items)
}

/// Parameters `GET /api/v1/users` takes (`fields` and `expand` are accepted and ignored:
/// the full object is a superset of what they ask for).
const LIST_PARAMS: &[&str] = &[
    "limit",
    "after",
    "filter",
    "search",
    "q",
    "sortBy",
    "sortOrder",
    "fields",
    "expand",
];

/// `search`/`sortBy`/`sortOrder` combined with what they cannot go with, or the sort
/// parameters alone: the parameter to refuse.
pub(super) fn misplaced_search_param(query: &Query) -> Option<(&'static str, &'static str)> {
    let search = query.get("search").is_some();
    if search && query.get("filter").is_some() {
        return Some(("search", "cannot be combined with filter"));
    }
    if search && query.get("q").is_some() {
        return Some(("search", "cannot be combined with q"));
    }
    for sort in ["sortBy", "sortOrder"] {
        if !search && query.get(sort).is_some() {
            return Some((sort, "only works with search"));
        }
    }
    if let Some(order) = query.get("sortOrder") {
        if order != "asc" && order != "desc" {
            return Some(("sortOrder", "must be asc or desc"));
        }
    }
    None
}

/// One page of a `search` over `records` (already in scope): checked, filtered, sorted by
/// `sortBy` (else id) and paged by offset (the cursor is the count already served).
pub(super) fn search_page<'a, T>(
    object: search::Object,
    records: Vec<search::Record<'a, T>>,
    query: &Query,
    text: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<&'a T>, Option<String>), FilterError> {
    let schema = search::Schema::new(object, records.iter());
    let compiled = schema.compile(text)?;
    let sort_key = query
        .get("sortBy")
        .map(|k| schema.sort_key(k))
        .transpose()?;
    let mut hits: Vec<search::Record<'a, T>> = records
        .into_iter()
        .filter(|r| compiled.matches(r))
        .collect();
    if let Some(key) = sort_key {
        search::sort(&mut hits, &key, query.get("sortOrder") == Some("desc"));
    }
    let skip: usize = after.and_then(|a| a.parse().ok()).unwrap_or(0);
    let end = skip.saturating_add(limit).min(hits.len());
    let page: Vec<&'a T> = hits
        .get(skip.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|r| r.item)
        .collect();
    let next = (end < hits.len()).then(|| end.to_string());
    Ok((page, next))
}

pub async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    if shared.list_fault_active() {
        return respond::internal(&shared);
    }
    let query = Query::parse(raw.as_deref());
    let strict = shared.strict();
    if let Some(r) = reject_unknown(&shared, &strict, &query, LIST_PARAMS) {
        return r;
    }
    if let Some((name, why)) = misplaced_search_param(&query) {
        return respond::unsupported_param(&shared, name, why);
    }
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let scope = strict.admin_scope.as_deref();

    if let Some(text) = query.get("q") {
        let Ok(limit) = query.limit(10, 200) else {
            return respond::validation(&shared, "limit");
        };
        let body = quick_search(&shared.org(), scope, &origin.base, text, limit);
        return respond::list_page(&shared, &origin, &query, body, None);
    }

    let Ok(limit) = query.limit(200, 200) else {
        return respond::validation(&shared, "limit");
    };
    let after = match read_cursor(&shared, &strict, &query) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Some(text) = query.get("search") {
        let page = {
            let org = shared.org();
            let records = org
                .users
                .values()
                .filter(|u| org.user_in_scope(scope, &u.id))
                .map(search::Record::user)
                .collect();
            search_page(
                search::Object::User,
                records,
                &query,
                text,
                after.as_deref(),
                limit,
            )
            .map(|(items, next)| {
                let body = json::array(items.iter().map(|u| u.render(&origin.base, false)));
                (body, next)
            })
        };
        return match page {
            Ok((body, next)) => {
                let next = next.map(|n| issue_cursor(&strict, &n));
                respond::list_page(&shared, &origin, &query, body, next.as_deref())
            }
            Err(e) => respond::filter_error(&shared, &e),
        };
    }
    let compiled = match query.get("filter") {
        Some(text) => match filter::parse_for(text, &user_filter_spec) {
            Ok(c) => Some(c),
            Err(e) => return respond::filter_error(&shared, &e),
        },
        None => None,
    };
    let (body, next) = {
        let org = shared.org();
        let (items, more) = Org::page(&org.users, after.as_deref(), limit, |u| {
            org.user_in_scope(scope, &u.id)
                && match &compiled {
                    Some(f) => f.matches(&|attr| user_field(u, attr)),
                    None => u.status != Status::Deprovisioned,
                }
        });
        let next = more.then(|| items.last().map(|u| u.id.clone())).flatten();
        let body = json::array(items.iter().map(|u| u.render(&origin.base, false)));
        (body, next)
    };
    let next = next.map(|n| issue_cursor(&strict, &n));
    respond::list_page(&shared, &origin, &query, body, next.as_deref())
}

/// 403 `E0000006`: what a scoped admin role answers for a resource outside it.
pub(super) fn forbidden(shared: &Shared) -> Response {
    respond::refusal(shared, &admin::Refusal::Forbidden)
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let strict = shared.strict();
    let body = {
        let org = shared.org();
        org.find_user(&id).map(|u| {
            org.user_in_scope(strict.admin_scope.as_deref(), &u.id)
                .then(|| u.render(&origin.base, strict.full_links_on_get))
        })
    };
    match body {
        Some(Some(b)) => respond::json(b),
        Some(None) => forbidden(&shared),
        None => respond::not_found(&shared, &id, "User"),
    }
}

pub async fn groups(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let strict = shared.strict();
    let scope = strict.admin_scope.as_deref();
    let body = {
        let org = shared.org();
        org.find_user(&id).map(|u| {
            if !org.user_in_scope(scope, &u.id) {
                return None;
            }
            let ids = org.user_groups.get(&u.id);
            Some(json::array(
                ids.into_iter()
                    .flatten()
                    .filter(|g| scope.is_none_or(|s| s.contains(*g)))
                    .filter_map(|g| org.groups.get(g))
                    .map(|g| g.render(&origin.base, None)),
            ))
        })
    };
    match body {
        Some(Some(b)) => respond::json(b),
        Some(None) => forbidden(&shared),
        None => respond::not_found(&shared, &id, "User"),
    }
}

/// The user `id` as `GET /api/v1/users/{id}` would answer after a write.
fn render_user(shared: &Shared, origin: &Origin, id: &str) -> Response {
    let full = shared.strict().full_links_on_get;
    match shared
        .org()
        .users
        .get(id)
        .map(|u| u.render(&origin.base, full))
    {
        Some(b) => respond::json(b),
        None => respond::not_found(shared, id, "User"),
    }
}

/// `POST /api/v1/users?activate=true|false` (default true): 200 with the new user.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let activate = match query.get("activate") {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return respond::validation(&shared, "activate"),
    };
    let profile = match profile_body(&shared, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    match admin::create_user(&shared, profile, activate, &request_uri(&uri)) {
        Ok(id) => render_user(&shared, &origin, &id),
        Err(e) => respond::refusal(&shared, &e),
    }
}

/// `POST` (merge) or `PUT` (replace) `/api/v1/users/{id}`: 200 with the updated user.
async fn write_profile(
    shared: Arc<Shared>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
    replace: bool,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let profile = match profile_body(&shared, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    match admin::update_profile(&shared, &id, profile, replace, &request_uri(&uri)) {
        Ok(id) => render_user(&shared, &origin, &id),
        Err(e) => respond::refusal(&shared, &e),
    }
}

pub async fn update(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    write_profile(shared, headers, uri, path, body, false).await
}

pub async fn replace(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    write_profile(shared, headers, uri, path, body, true).await
}

/// `POST /api/v1/users/{id}/lifecycle/{action}`: 200 `{}`; an unknown action is a 404.
pub async fn lifecycle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let Ok(Path((id, action))) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let Some(op) = Lifecycle::parse(&action) else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    match admin::lifecycle(&shared, &id, op, &request_uri(&uri)) {
        Ok(()) => respond::json("{}".to_string()),
        Err(e) => respond::refusal(&shared, &e),
    }
}

/// `DELETE /api/v1/users/{id}`: 204 whether it deactivated or deleted (as Okta answers).
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    match admin::delete_user(&shared, &id, &request_uri(&uri)) {
        Ok(Deletion::Deactivated | Deletion::Deleted) => respond::no_content(),
        Err(e) => respond::refusal(&shared, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_filter_rules() {
        let ok = |f: &str| filter::parse_for(f, &user_filter_spec).is_ok();
        assert!(ok(r#"status eq "DEPROVISIONED""#));
        assert!(ok(r#"lastUpdated ge "2020-01-01T00:00:00.000Z""#));
        assert!(ok(r#"profile.login eq "a@b.c" or id eq "00u1""#));
        assert!(!ok(r#"status ne "ACTIVE""#));
        assert!(!ok(r#"profile.login sw "a""#));
        assert!(!ok(r#"profile.city eq "London""#));
        assert!(!ok(r#"id gt "00u""#));
        assert!(matches!(
            filter::parse_for(r#"lastUpdated gt "2020-13-45""#, &user_filter_spec),
            Err(FilterError::BadDate(_))
        ));
    }
}
