//! The directory's two JSON answers, for its script: `/web/search` (typeahead: ranked people
//! with the matching spans, and optionally department and location facets) and
//! `/web/reports/{login}` (a page of someone's direct reports, for expanding the org chart).
//! Both read through the caller's `View` under the request deadline.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::html::{hue, initials, name_ranges};
use super::{PAGE_SIZE, WebError};
use crate::access::{self, Caller, ParsedQuery, PersonFilter, View};
use crate::api::Shared;
use crate::model::Person;

/// The most suggestions one typeahead answer holds.
const MAX_SUGGESTIONS: usize = 20;

fn answer(status: StatusCode, body: Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn run<F>(shared: Arc<Shared>, caller: Option<Extension<Caller>>, f: F) -> Response
where
    F: FnOnce(&View) -> Result<Value, WebError> + Send + 'static,
{
    let Some(Extension(caller)) = caller else {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "sign in to use the directory" }),
        );
    };
    let view = shared.mirror.view(caller);
    let work = view.blocking(move |v| Ok(f(v)));
    let outcome = match tokio::time::timeout(shared.request_timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(WebError::Access(e)),
        Err(_) => {
            view.cancel();
            Err(WebError::BadInput(
                "the request took longer than the server's request_timeout".into(),
            ))
        }
    };
    match outcome {
        Ok(v) => answer(StatusCode::OK, v),
        Err(e) => answer(e.status(), json!({ "error": e.message() })),
    }
}

/// A person as the script draws them.
fn card(p: &Person) -> Value {
    let name = p.name();
    json!({
        "login": p.login,
        "name": name,
        "initials": initials(&name),
        "hue": hue(&p.login),
        "title": p.title,
        "department": p.department,
        "city": p.city,
    })
}

/// `GET /web/search?q=TEXT[&department=D][&city=C][&limit=N][&facets=1]`.
pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    run(shared, caller, move |view| {
        let q = params.get("q").map(String::as_str).unwrap_or_default();
        let parsed = ParsedQuery::parse(q).map_err(|e| WebError::BadInput(e.to_string()))?;
        let limit = params
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(8)
            .clamp(1, MAX_SUGGESTIONS);
        let filter = view.people_filter(PersonFilter {
            department: params.get("department").filter(|s| !s.is_empty()).cloned(),
            city: params.get("city").filter(|s| !s.is_empty()).cloned(),
            ..PersonFilter::default()
        })?;
        let (results, hits) = view.search(&parsed, &filter, 0, limit)?;
        let people: Vec<Value> = hits
            .iter()
            .map(|(_, p)| {
                let hl = access::highlights(p, &parsed.words);
                let mut c = card(p);
                let marks = name_ranges(p, &hl);
                // What else matched, when the name did not: the login, email, city, ….
                let other = hl.iter().find(|h| {
                    marks.is_empty() && !matches!(h.field, "displayName" | "firstName" | "lastName")
                });
                c["nameMarks"] = json!(marks);
                if let Some(h) = other {
                    c["match"] = json!({ "field": h.field, "value": h.value, "ranges": h.ranges });
                }
                c
            })
            .collect();
        let mut out = json!({ "q": q, "total": results.total, "people": people });
        if params.get("facets").is_some_and(|f| f == "1") {
            let f = view.facets(&parsed, &filter)?;
            let top = |v: Vec<(String, u64)>| v.into_iter().take(8).collect::<Vec<_>>();
            out["facets"] = json!({ "department": top(f.department), "city": top(f.city) });
        }
        Ok(out)
    })
    .await
}

/// `GET /web/reports/{login}[?offset=N]`: a page of direct reports, each with their own count.
pub(crate) async fn reports(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(login): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    run(shared, caller, move |view| {
        let p = view
            .person_by_login(&login)?
            .ok_or_else(|| WebError::NotFound(format!("no one has the login {login:?}")))?;
        let ids = view.direct_report_ids(&p.id)?;
        let offset = params
            .get("offset")
            .and_then(|o| o.parse::<usize>().ok())
            .unwrap_or(0)
            .min(ids.len());
        let end = (offset + PAGE_SIZE).min(ids.len());
        let mut people = Vec::new();
        for r in view.people(&ids[offset..end])? {
            let mut c = card(&r);
            c["count"] = json!(view.direct_report_ids(&r.id)?.len());
            people.push(c);
        }
        Ok(json!({ "total": ids.len(), "offset": offset, "next": (end < ids.len()).then_some(end), "people": people }))
    })
    .await
}
