//! Users endpoints: `GET /api/v1/users` (plain list, `filter`, `q`),
//! `GET /api/v1/users/{idOrLogin}`, `GET /api/v1/users/{id}/groups`, and the writes:
//! create, partial (`POST`) and full (`PUT`) profile update, lifecycle, and `DELETE`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::params::{Origin, Query};
use super::{profile_body, request_uri, respond};
use crate::sim::admin::{self, Deletion, Lifecycle};
#[cfg(test)]
use crate::sim::filter::FilterError;
use crate::sim::filter::{self, AttrSpec, Field, Kind, Op};
use crate::sim::json;
use crate::sim::model::{Status, User};
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
fn quick_search(org: &Org, base: &str, text: &str, limit: usize) -> String {
    let needle = text.to_lowercase();
    let hit = |v: Option<&str>| v.is_some_and(|s| s.to_lowercase().starts_with(&needle));
    let items = org
        .users
        .values()
        .filter(|u| u.status != Status::Deprovisioned)
        .filter(|u| {
            hit(u.first_name.as_deref()) || hit(u.last_name.as_deref()) || hit(Some(&u.email))
        })
        .take(limit)
        .map(|u| u.render(base));
    json::array(items)
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
    let origin = Origin::new(&headers, &uri, &shared.base_url());

    if let Some(text) = query.get("q") {
        let Ok(limit) = query.limit(10, 200) else {
            return respond::validation(&shared, "limit");
        };
        let body = quick_search(&shared.org(), &origin.base, text, limit);
        return respond::list_page(&shared, &origin, &query, body, None);
    }

    let Ok(limit) = query.limit(200, 200) else {
        return respond::validation(&shared, "limit");
    };
    let compiled = match query.get("filter") {
        Some(text) => match filter::parse_for(text, &user_filter_spec) {
            Ok(c) => Some(c),
            Err(e) => return respond::filter_error(&shared, &e),
        },
        None => None,
    };
    let (body, next) = {
        let org = shared.org();
        let (items, more) = Org::page(&org.users, query.get("after"), limit, |u| match &compiled {
            Some(f) => f.matches(&|attr| user_field(u, attr)),
            None => u.status != Status::Deprovisioned,
        });
        let next = more.then(|| items.last().map(|u| u.id.clone())).flatten();
        let body = json::array(items.iter().map(|u| u.render(&origin.base)));
        (body, next)
    };
    respond::list_page(&shared, &origin, &query, body, next.as_deref())
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
    let body = shared.org().find_user(&id).map(|u| u.render(&origin.base));
    match body {
        Some(b) => respond::json(b),
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
    let body = {
        let org = shared.org();
        org.find_user(&id).map(|u| {
            let ids = org.user_groups.get(&u.id);
            json::array(
                ids.into_iter()
                    .flatten()
                    .filter_map(|g| org.groups.get(g))
                    .map(|g| g.render(&origin.base, None)),
            )
        })
    };
    match body {
        Some(b) => respond::json(b),
        None => respond::not_found(&shared, &id, "User"),
    }
}

/// The user `id` as `GET /api/v1/users/{id}` would answer after a write.
fn render_user(shared: &Shared, origin: &Origin, id: &str) -> Response {
    match shared.org().users.get(id).map(|u| u.render(&origin.base)) {
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
