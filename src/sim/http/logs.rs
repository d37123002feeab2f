//! `GET /api/v1/logs`: an empty System Log that, like a polling query, always has a `next`
//! link. Enough for clients to prove they hold `okta.logs.read`; the real log comes later.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::params::{Origin, Query};
use super::respond;
use crate::sim::shared::Shared;

pub async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    if query.limit(100, 1000).is_err() {
        return respond::validation(&shared, "limit");
    }
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let mut resp = respond::json("[]".to_owned());
    respond::add_link(&mut resp, &origin.self_url(&query), "self");
    let after = format!("{}_1", super::super::time::now());
    respond::add_link(&mut resp, &origin.next_url(&query, &after), "next");
    resp
}
