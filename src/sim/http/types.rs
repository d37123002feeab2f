//! `GET /api/v1/meta/types/user` and `/api/v1/meta/types/user/{id}`: the org's user types in
//! Okta's shape (`id`, `name`, `displayName`, `description`, `default`, stamps, `_links`).

use std::sync::Arc;

use axum::extract::{Path, State, rejection::PathRejection};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::params::Origin;
use super::respond;
use crate::sim::json::{self, ObjWriter};
use crate::sim::shared::Shared;
use crate::sim::store::UserType;
use crate::sim::time;

fn link(href: &str) -> String {
    ObjWriter::new()
        .str("href", href)
        .str("method", "GET")
        .finish()
}

fn render(t: &UserType, base: &str) -> String {
    let stamp = time::format(t.created);
    let links = ObjWriter::new()
        .raw(
            "self",
            &link(&format!("{base}/api/v1/meta/types/user/{}", t.id)),
        )
        .raw(
            "schema",
            &link(&format!(
                "{base}/api/v1/meta/schemas/user/osc{}",
                &t.id[3..]
            )),
        )
        .finish();
    ObjWriter::new()
        .str("id", &t.id)
        .str("displayName", &t.display_name)
        .str("name", &t.name)
        .str("description", &t.description)
        .str("createdBy", "00u000000000000000000")
        .str("lastUpdatedBy", "00u000000000000000000")
        .str("created", &stamp)
        .str("lastUpdated", &stamp)
        .raw("default", if t.default { "true" } else { "false" })
        .raw("_links", &links)
        .finish()
}

/// A refusal when the strictness switch says this token may not read user types.
fn refused(shared: &Shared) -> Option<Response> {
    shared
        .strict()
        .user_types_forbidden
        .then(|| super::users::forbidden(shared))
}

pub async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = refused(&shared) {
        return r;
    }
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let body = json::array(
        shared
            .org()
            .user_types
            .iter()
            .map(|t| render(t, &origin.base)),
    );
    respond::json(body)
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    if let Some(r) = refused(&shared) {
        return r;
    }
    let Ok(Path(id)) = path else {
        return respond::not_found(&shared, uri.path(), "Path");
    };
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let body = shared
        .org()
        .user_types
        .iter()
        .find(|t| t.id == id)
        .map(|t| render(t, &origin.base));
    match body {
        Some(b) => respond::json(b),
        None => respond::not_found(&shared, &id, "UserType"),
    }
}
