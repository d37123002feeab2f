//! Groups endpoints: `GET /api/v1/groups` (list, `filter`, `q`, `expand=stats`),
//! `GET /api/v1/groups/{id}`, `GET /api/v1/groups/{id}/users`, and the writes: create,
//! replace profile, delete, and `PUT`/`DELETE /api/v1/groups/{id}/users/{userId}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::params::{Origin, Query};
use super::{issue_cursor, profile_body, read_cursor, reject_unknown, request_uri, respond, users};
use crate::sim::admin;
use crate::sim::filter::{self, AttrSpec, Field, Kind, Op};
use crate::sim::json;
use crate::sim::model::{Group, Stats};
use crate::sim::search;
use crate::sim::shared::Shared;
use crate::sim::store::Org;

const EQ: &[Op] = &[Op::Eq];
const DATE_OPS: &[Op] = &[Op::Eq, Op::Gt, Op::Ge, Op::Lt, Op::Le];

/// Attributes `filter` accepts on groups (SPEC `listGroups.filter`).
fn group_filter_spec(name: &str) -> Option<AttrSpec> {
    let (id, kind, ops) = match name {
        "id" => (0, Kind::Str, EQ),
        "type" => (1, Kind::Str, EQ),
        "lastUpdated" => (2, Kind::Date, DATE_OPS),
        "lastMembershipUpdated" => (3, Kind::Date, DATE_OPS),
        _ => return None,
    };
    Some(AttrSpec { id, kind, ops })
}

fn group_field(g: &Group, attr: usize) -> Field<'_> {
    match attr {
        0 => Field::Str(Some(&g.id)),
        1 => Field::Str(Some(g.kind.as_str())),
        2 => Field::Date(Some(g.last_updated)),
        3 => Field::Date(Some(g.last_membership_updated)),
        _ => Field::Str(None),
    }
}

fn render(org: &Org, g: &Group, base: &str, stats: bool) -> String {
    let stats = stats.then(|| Stats {
        users_count: org.members.get(&g.id).map_or(0, |m| m.len()),
        apps_count: g.apps_count,
    });
    g.render(base, stats)
}

/// Parameters `GET /api/v1/groups` takes.
const LIST_PARAMS: &[&str] = &[
    "limit",
    "after",
    "filter",
    "search",
    "q",
    "expand",
    "sortBy",
    "sortOrder",
];

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
    if let Some((name, why)) = users::misplaced_search_param(&query) {
        return respond::unsupported_param(&shared, name, why);
    }
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let stats = query.expands("stats");
    let scope = strict.admin_scope.as_deref();
    let visible = |g: &Group| scope.is_none_or(|s| s.contains(&g.id));

    if let Some(text) = query.get("q") {
        let Ok(limit) = query.limit(300, 10_000) else {
            return respond::validation(&shared, "limit");
        };
        let needle = text.to_lowercase();
        let body = {
            let org = shared.org();
            json::array(
                org.groups
                    .values()
                    .filter(|g| visible(g))
                    .filter(|g| g.name.to_lowercase().starts_with(&needle))
                    .take(limit)
                    .map(|g| render(&org, g, &origin.base, stats)),
            )
        };
        return respond::list_page(&shared, &origin, &query, body, None);
    }

    let Ok(limit) = query.limit(200, 10_000) else {
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
                .groups
                .values()
                .filter(|g| visible(g))
                .map(search::Record::group)
                .collect();
            users::search_page(
                search::Object::Group,
                records,
                &query,
                text,
                after.as_deref(),
                limit,
            )
            .map(|(items, next)| {
                let body = json::array(items.iter().map(|g| render(&org, g, &origin.base, stats)));
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
        Some(text) => match filter::parse_for(text, &group_filter_spec) {
            Ok(c) => Some(c),
            Err(e) => return respond::filter_error(&shared, &e),
        },
        None => None,
    };
    let (body, next) = {
        let org = shared.org();
        let (items, more) = Org::page(&org.groups, after.as_deref(), limit, |g| {
            visible(g)
                && compiled
                    .as_ref()
                    .is_none_or(|f| f.matches(&|attr| group_field(g, attr)))
        });
        let next = more.then(|| items.last().map(|g| g.id.clone())).flatten();
        let body = json::array(items.iter().map(|g| render(&org, g, &origin.base, stats)));
        (body, next)
    };
    let next = next.map(|n| issue_cursor(&strict, &n));
    respond::list_page(&shared, &origin, &query, body, next.as_deref())
}

/// Whether the token's admin role covers group `id`.
fn group_in_scope(shared: &Shared, id: &str) -> bool {
    shared
        .strict()
        .admin_scope
        .as_deref()
        .is_none_or(|s| s.contains(id))
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let query = Query::parse(raw.as_deref());
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let body = {
        let org = shared.org();
        org.groups
            .get(&id)
            .map(|g| render(&org, g, &origin.base, query.expands("stats")))
    };
    match body {
        Some(_) if !group_in_scope(&shared, &id) => users::forbidden(&shared),
        Some(b) => respond::json(b),
        None => respond::not_found(&shared, &id, "UserGroup"),
    }
}

pub async fn users(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    if shared.list_fault_active() {
        return respond::internal(&shared);
    }
    let query = Query::parse(raw.as_deref());
    let strict = shared.strict();
    if let Some(r) = reject_unknown(&shared, &strict, &query, &["limit", "after"]) {
        return r;
    }
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let Ok(limit) = query.limit(1000, 1000) else {
        return respond::validation(&shared, "limit");
    };
    let after = match read_cursor(&shared, &strict, &query) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let page = {
        let org = shared.org();
        org.member_page(&id, after.as_deref(), limit)
            .map(|(items, more)| {
                let next = more.then(|| items.last().map(|u| u.id.clone())).flatten();
                (
                    json::array(items.iter().map(|u| u.render(&origin.base, false))),
                    next,
                )
            })
    };
    let Some((body, next)) = page else {
        return respond::not_found(&shared, &id, "UserGroup");
    };
    if !group_in_scope(&shared, &id) {
        return users::forbidden(&shared);
    }
    let next = next.map(|n| issue_cursor(&strict, &n));
    respond::list_page(&shared, &origin, &query, body, next.as_deref())
}

/// The group `id` as `GET /api/v1/groups/{id}` would answer after a write.
fn render_group(shared: &Shared, origin: &Origin, id: &str) -> Response {
    let body = {
        let org = shared.org();
        org.groups
            .get(id)
            .map(|g| render(&org, g, &origin.base, false))
    };
    match body {
        Some(b) => respond::json(b),
        None => respond::not_found(shared, id, "UserGroup"),
    }
}

/// `POST /api/v1/groups` with `{"profile":{"name","description"}}`: 200 with the group.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let profile = match profile_body(&shared, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    match admin::create_group(&shared, profile, &request_uri(&uri)) {
        Ok(id) => render_group(&shared, &origin, &id),
        Err(e) => respond::refusal(&shared, &e),
    }
}

/// `PUT /api/v1/groups/{id}`: replace the profile; 200 with the group.
pub async fn replace(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let profile = match profile_body(&shared, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    match admin::replace_group_profile(&shared, &id, profile, &request_uri(&uri)) {
        Ok(()) => render_group(&shared, &origin, &id),
        Err(e) => respond::refusal(&shared, &e),
    }
}

/// `DELETE /api/v1/groups/{id}`: 204.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    match admin::delete_group(&shared, &id, &request_uri(&uri)) {
        Ok(()) => respond::no_content(),
        Err(e) => respond::refusal(&shared, &e),
    }
}

async fn membership(
    shared: Arc<Shared>,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
    member: bool,
) -> Response {
    let Ok(Path((group_id, user_id))) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    match admin::set_membership(&shared, &group_id, &user_id, member, &request_uri(&uri)) {
        Ok(_) => respond::no_content(),
        Err(e) => respond::refusal(&shared, &e),
    }
}

/// `PUT /api/v1/groups/{id}/users/{userId}`: 204, also when already a member.
pub async fn add_member(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    membership(shared, uri, path, true).await
}

/// `DELETE /api/v1/groups/{id}/users/{userId}`: 204, also when not a member.
pub async fn remove_member(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    membership(shared, uri, path, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_filter_rules() {
        let ok = |f: &str| filter::parse_for(f, &group_filter_spec).is_ok();
        assert!(ok(r#"type eq "OKTA_GROUP""#));
        assert!(ok(
            r#"type eq "OKTA_GROUP" and (lastUpdated lt "2015-11-11T00:00:00.000Z" or lastMembershipUpdated lt "2015-11-11T00:00:00.000Z")"#
        ));
        assert!(!ok(r#"profile.name eq "x""#));
        assert!(!ok(r#"type sw "OKTA""#));
    }
}
