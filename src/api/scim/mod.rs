//! SCIM 2.0 (RFC 7643/7644) at `/scim/v2`, read-only over the caller's `View`: discovery
//! (`discovery.rs`), Users (`users.rs`) and Groups (`groups.rs`) with filters (`filter.rs`),
//! sorting, paging and attribute projection (`query.rs`), SCIM error bodies (`errors.rs`).
//! Roles apply through the View exactly as for GraphQL: a `directory` key never sees
//! deprovisioned people here either. Writes (`write.rs`: PATCH in `patch.rs`, the mapping to
//! Okta profiles in `pushed.rs`) go to provisioning mode's writer (`--source scim`), from a
//! `provisioner` key only; a mirror of the Okta API refuses them as read-only.

mod discovery;
mod errors;
mod filter;
mod groups;
mod patch;
mod pushed;
mod query;
mod users;
pub(crate) use users::SharedMemo;
mod write;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get, post};
use serde_json::Value;

use super::Shared;
use crate::access::{Caller, PersonFilter, View};
use crate::model::{Group, Person};
use errors::{ScimError, ScimResult, scim_response};
use filter::{AttrPath, Filter, Op};
use query::{ListParams, Projection, list_response};
use users::Parts;

/// Where SCIM is served.
pub(crate) const BASE: &str = "/scim/v2";

/// Records read per chunk while scanning.
const CHUNK: usize = 1000;

/// The SCIM routes, to be nested at [`BASE`].
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(list_users).post(write::create_user))
        .route("/Users/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(write::replace_user)
                .patch(write::patch_user)
                .delete(write::delete_user),
        )
        .route("/Groups", get(list_groups).post(write::create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(write::replace_group)
                .patch(write::patch_group)
                .delete(write::delete_group),
        )
        // Searching several resource types at once (RFC 7644 §3.4.3) is not offered: 501.
        .route("/.search", any(unsupported))
        .route("/Bulk", any(unsupported))
        .route("/Me", any(unsupported))
        .fallback(not_found)
}

/// RFC 3339 with milliseconds, as Okta writes times.
pub(crate) fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Turns the access layer's answers to SCIM requests (401, 421, 429 with a plain JSON body)
/// into SCIM `Error` bodies, keeping their status and headers, so a SCIM client can read them.
pub(crate) async fn scim_errors(req: Request, next: Next) -> Response {
    let scim = req.uri().path().starts_with(BASE);
    let resp = next.run(req).await;
    if !scim || resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED {
        return resp;
    }
    let is_scim = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/scim+json"));
    if is_scim {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    let detail = if detail.trim().is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned()
    } else {
        detail
    };
    let mut out = ScimError::new(parts.status, None, detail).into_response();
    for (k, v) in &parts.headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

pub(crate) fn view_of(shared: &Shared, caller: Option<Extension<Caller>>) -> ScimResult<View> {
    match caller {
        Some(Extension(c)) => Ok(shared.mirror.view(c)),
        None => Err(ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "this mirror needs an API key: send the header `Authorization: Bearer KEY`",
        )),
    }
}

pub(crate) fn respond(r: ScimResult<Response>) -> Response {
    r.unwrap_or_else(ScimError::into_response)
}

/// A list answer (GET with query parameters or POST `.search`): the caller's view, the
/// parameters as read, and the lister of the resource type, run off the async workers.
async fn list(
    shared: &Shared,
    caller: Option<Extension<Caller>>,
    params: ScimResult<ListParams>,
    lister: fn(&View, &ListParams, &Arc<SharedMemo>) -> ScimResult<Vec<u8>>,
    quick: fn(&ListParams) -> bool,
) -> Response {
    respond(
        async {
            let view = view_of(shared, caller)?;
            let params = params?;
            // A lookup that reads one record through a unique index (the `userName eq` that
            // Okta's provisioning sends before every push) runs here: handing it to a blocking
            // thread costs more than the read, and most of its latency on a busy machine.
            let body = if quick(&params) {
                lister(&view, &params, &shared.scim_memo)?
            } else {
                let memo = shared.scim_memo.clone();
                run(&view, move |v| lister(v, &params, &memo)).await?
            };
            Ok(errors::scim_bytes(StatusCode::OK, body))
        }
        .await,
    )
}

/// Whether a user list is answered by one unique-index read (`id eq` or `userName eq`,
/// unsorted).
fn one_record(params: &ListParams) -> bool {
    params.sort_by.is_none()
        && params.filter.as_ref().is_some_and(|f| {
            matches!(user_hint(f), Some(UserHint::Id(_) | UserHint::Login(_)))
                && matches!(f, Filter::Compare(..))
        })
}

fn ok(body: &Value) -> Response {
    scim_response(StatusCode::OK, body)
}

pub(crate) async fn run<T: Send + 'static>(
    view: &View,
    f: impl FnOnce(&View) -> ScimResult<T> + Send + 'static,
) -> ScimResult<T> {
    let view = view.clone();
    match tokio::task::spawn_blocking(move || f(&view)).await {
        Ok(r) => r,
        Err(e) => Err(ScimError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            format!("a read stopped before it finished: {e}"),
        )),
    }
}

// ---- discovery ------------------------------------------------------------------------------

async fn service_provider_config(State(shared): State<Arc<Shared>>) -> Response {
    ok(&discovery::service_provider_config(
        shared.provisioning.is_some(),
    ))
}

async fn resource_types(State(shared): State<Arc<Shared>>) -> Response {
    ok(&discovery::resource_types_list(
        shared.provisioning.is_some(),
    ))
}

async fn resource_type(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match discovery::resource_types(shared.provisioning.is_some())
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        }) {
        Some(r) => ok(&r),
        None => ScimError::new(
            StatusCode::NOT_FOUND,
            None,
            format!("no resource type \"{id}\": this server has User and Group"),
        )
        .into_response(),
    }
}

async fn schemas(State(shared): State<Arc<Shared>>) -> Response {
    ok(&discovery::schemas_list(shared.provisioning.is_some()))
}

async fn schema(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match discovery::schemas(shared.provisioning.is_some())
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        }) {
        Some(r) => ok(&r),
        None => ScimError::new(
            StatusCode::NOT_FOUND,
            None,
            format!("no schema \"{id}\": GET {BASE}/Schemas lists them"),
        )
        .into_response(),
    }
}

// ---- refusals -------------------------------------------------------------------------------

async fn unsupported(uri: Uri) -> Response {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        format!(
            "{} is not supported by this server (see {BASE}/ServiceProviderConfig)",
            uri.path()
        ),
    )
    .into_response()
}

async fn not_found(uri: Uri) -> Response {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        format!(
            "{} is not a SCIM endpoint here: use {BASE}/Users, /Groups, /ServiceProviderConfig, /ResourceTypes or /Schemas",
            uri.path()
        ),
    )
    .into_response()
}

// ---- requests -------------------------------------------------------------------------------

pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn search_params(headers: &HeaderMap, body: &Bytes) -> ScimResult<ListParams> {
    ListParams::from_body(&write::json_body(headers, body)?)
}

/// True when `If-None-Match` names `etag` (weak comparison) or is `*`.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

fn with_etag(mut resp: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn one(
    headers: &HeaderMap,
    uri: &Uri,
    mut resource: Value,
    extensions: &[&str],
) -> ScimResult<Response> {
    // A Group carries its version already (see `groups`); a User's is the hash of its JSON.
    let etag = match resource.pointer("/meta/version").and_then(Value::as_str) {
        Some(v) => v.to_owned(),
        None => query::with_version(&mut resource),
    };
    if not_modified(headers, &etag) {
        let mut resp = Response::new(axum::body::Body::empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(with_etag(resp, &etag));
    }
    let params = ListParams::from_query(&query_pairs(uri))?;
    let body = params.projection.apply(resource, extensions)?;
    let mut resp = with_etag(ok(&body), &etag);
    if let Some(loc) = body.pointer("/meta/location").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(loc)
    {
        resp.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(resp)
}

pub(crate) const USER_EXTENSIONS: &[&str] = &[users::ENTERPRISE_URN, users::MIRROR_URN];
pub(crate) const GROUP_EXTENSIONS: &[&str] = &[groups::GROUP_MIRROR_URN];

// ---- users ----------------------------------------------------------------------------------

async fn get_user(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    respond(
        async {
            let view = view_of(&shared, caller)?;
            let resource = run(&view, move |v| {
                let p = v
                    .person(&id)?
                    .ok_or_else(|| ScimError::not_found("User", &id))?;
                Ok(users::resource(v, &p, Parts::ALL)?)
            })
            .await?;
            one(&headers, &uri, resource, USER_EXTENSIONS)
        }
        .await,
    )
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Response {
    list(
        &shared,
        caller,
        ListParams::from_query(&query_pairs(&uri)),
        users_list,
        one_record,
    )
    .await
}

async fn search_users(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    list(
        &shared,
        caller,
        search_params(&headers, &body),
        users_list,
        one_record,
    )
    .await
}

/// Where an indexed lookup can answer a user filter. The whole filter is still applied to what
/// it finds, unless the lookup alone is the filter ([`UserHint::exact`]).
#[derive(Debug, PartialEq)]
enum UserHint {
    Id(String),
    Login(String),
    Email(String),
    Member(String),
    /// The enterprise `department` (the store's department index).
    Department(String),
    /// The enterprise `employeeNumber` (the employee-number index; exact, so only for values
    /// without letters, where ignoring case changes nothing).
    EmployeeNumber(String),
    /// The enterprise `manager.value` (the reports index).
    Manager(String),
}

impl UserHint {
    /// Whether the index finds exactly what `filter` (the one comparison the hint came from)
    /// matches, so matches need not be read to be counted.
    fn exact(&self, filter: &Filter) -> bool {
        let compare = match filter {
            Filter::ValuePath(_, inner) => inner.as_ref(),
            f => f,
        };
        let Filter::Compare(_, Op::Eq, Value::String(v)) = compare else {
            return false;
        };
        match self {
            // The index folds case like `eq` does; a value that reads as a time compares as one.
            UserHint::Department(_) => chrono::DateTime::parse_from_rfc3339(v).is_err(),
            UserHint::Manager(_) | UserHint::Member(_) => true,
            _ => false,
        }
    }
}

fn eq_string(f: &Filter) -> Option<(&AttrPath, &str)> {
    match f {
        Filter::Compare(p, Op::Eq, Value::String(s)) => Some((p, s)),
        _ => None,
    }
}

fn user_hint(f: &Filter) -> Option<UserHint> {
    match f {
        Filter::And(a, b) => user_hint(a).or_else(|| user_hint(b)),
        Filter::ValuePath(p, inner) if p.is_core() => {
            let (ip, v) = eq_string(inner)?;
            if ip.attr != "value" || ip.sub.is_some() || !ip.is_core() {
                return None;
            }
            match p.attr.as_str() {
                "emails" => Some(UserHint::Email(v.to_owned())),
                "groups" => Some(UserHint::Member(v.to_owned())),
                _ => None,
            }
        }
        _ => {
            let (p, v) = eq_string(f)?;
            let value_sub = p.sub.as_deref().is_none_or(|s| s == "value");
            if !p.is_core() {
                let enterprise = p
                    .schema
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(users::ENTERPRISE_URN));
                return match p.attr.as_str() {
                    _ if !enterprise => None,
                    "department" if p.sub.is_none() => Some(UserHint::Department(v.to_owned())),
                    "employeenumber" if p.sub.is_none() && !v.chars().any(char::is_alphabetic) => {
                        Some(UserHint::EmployeeNumber(v.to_owned()))
                    }
                    "manager" if value_sub => Some(UserHint::Manager(v.to_owned())),
                    _ => None,
                };
            }
            match p.attr.as_str() {
                "id" if p.sub.is_none() => Some(UserHint::Id(v.to_owned())),
                "username" if p.sub.is_none() => Some(UserHint::Login(v.to_owned())),
                "emails" if value_sub => Some(UserHint::Email(v.to_owned())),
                "groups" if value_sub => Some(UserHint::Member(v.to_owned())),
                _ => None,
            }
        }
    }
}

/// The ids (visible to the caller, in id order) an index gives for `hint`.
fn hint_ids(view: &View, hint: &UserHint) -> ScimResult<Vec<String>> {
    let ids = |people: Vec<Person>| people.into_iter().map(|p| p.id).collect();
    Ok(match hint {
        UserHint::Id(id) => ids(view.person(id)?.into_iter().collect()),
        UserHint::Login(l) => ids(view.person_by_login(l)?.into_iter().collect()),
        UserHint::Email(e) => ids(view.people_by_email(e)?),
        UserHint::EmployeeNumber(n) => ids(view.people_by_employee_number(n)?),
        UserHint::Member(g) => view.member_ids(g)?,
        UserHint::Department(d) => view
            .department_page(d, 0, usize::MAX)?
            .into_iter()
            .map(|p| p.id)
            .collect(),
        UserHint::Manager(m) => view.direct_report_ids(m)?,
    })
}

/// What a user filter or sort needs built to be evaluated.
fn user_parts(paths: &[AttrPath]) -> Parts {
    let mut parts = Parts::TYPED;
    for p in paths {
        let schema = p.schema.as_deref().unwrap_or("");
        let sub = p.sub.as_deref().unwrap_or("");
        if p.is_core() {
            match p.attr.as_str() {
                "id" | "username" | "displayname" | "nickname" | "title" | "active" => {}
                "name" if matches!(sub, "" | "givenname" | "familyname" | "formatted") => {}
                "meta" if sub != "version" => {}
                "meta" => return Parts::ALL,
                "groups" => parts.groups = true,
                _ => parts.profile = true,
            }
        } else if schema.eq_ignore_ascii_case(users::ENTERPRISE_URN) {
            if p.attr == "manager" && sub == "displayname" {
                parts.managers = true;
            }
        } else if schema.eq_ignore_ascii_case(users::MIRROR_URN) {
            match p.attr.as_str() {
                "status" | "managerid" => {}
                "managerchain" => parts.managers = true,
                _ => parts.profile = true,
            }
        }
    }
    parts
}

/// Calls `each` on every candidate person (visible to the caller) in id order; it returns
/// false to stop.
fn user_candidates(
    view: &View,
    hint: Option<&UserHint>,
    each: &mut dyn FnMut(Person) -> ScimResult<bool>,
) -> ScimResult<()> {
    if let Some(hint) = hint {
        for chunk in hint_ids(view, hint)?.chunks(CHUNK) {
            for p in view.people(chunk)? {
                if !each(p)? {
                    return Ok(());
                }
            }
        }
        return Ok(());
    }
    let filter = view.people_filter(PersonFilter::default())?;
    let mut after: Option<String> = None;
    loop {
        let page = view.people_page(&filter, after.as_deref(), CHUNK)?;
        let more = page.len() > CHUNK;
        for p in page.into_iter().take(CHUNK) {
            after = Some(p.id.clone());
            if !each(p)? {
                return Ok(());
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// Which parts a served user needs under `projection`, and whether it carries `meta.version`
/// (a hash of the whole resource, so it needs every part). Without `meta` and without an
/// attribute read from the raw profile (`attributes=userName`), a user is built from the typed
/// record alone; provisioning mode always reads the pushed document, which replaces most
/// attributes.
fn served_parts(projection: &Projection, provisioning: bool) -> (Parts, bool) {
    let versioned = projection.keeps_any(USER_EXTENSIONS, |ext, attr| {
        ext.is_none() && attr == Some("meta")
    });
    let raw = projection.keeps_any(USER_EXTENSIONS, |ext, attr| match ext {
        None => attr.is_some_and(|a| users::FROM_PROFILE.contains(&a)),
        Some(e) => {
            e.eq_ignore_ascii_case(users::MIRROR_URN)
                && attr.is_none_or(|a| a == "customattributes")
        }
    });
    let parts = Parts {
        profile: versioned || raw || provisioning,
        groups: projection.wants("groups"),
        managers: projection.wants(users::ENTERPRISE_URN) || projection.wants(users::MIRROR_URN),
    };
    (parts, versioned)
}

fn users_list(view: &View, params: &ListParams, shared: &Arc<SharedMemo>) -> ScimResult<Vec<u8>> {
    let hint = params.filter.as_ref().and_then(user_hint);
    let mut paths = params
        .filter
        .as_ref()
        .map(Filter::paths)
        .unwrap_or_default();
    paths.extend(params.sort_by.clone());
    let eval = user_parts(&paths);
    let mut memo = users::Memo::with_shared(shared, view);
    let skip = params.start_index - 1;
    let exact = match (&hint, &params.filter) {
        (Some(h), Some(f)) => params.sort_by.is_none() && h.exact(f),
        _ => false,
    };
    let (total, page) = if exact && let Some(h) = &hint {
        // The index is the answer: counted from the stored counters, only the page is read.
        match h {
            UserHint::Department(d) => (
                view.department_count(d)?,
                view.department_page(d, skip, params.count)?,
            ),
            UserHint::Member(g) => (
                view.count_members(g, &[])?,
                view.members_at(g, skip, params.count)?,
            ),
            _ => {
                let ids = hint_ids(view, h)?;
                let shown: Vec<String> =
                    ids.iter().skip(skip).take(params.count).cloned().collect();
                (ids.len() as u64, view.people(&shown)?)
            }
        }
    } else if params.filter.is_none() && params.sort_by.is_none() {
        // Everyone, in id order: the stored count (or a counting scan for roles that hide
        // people) and a page read after skipping (by key, without reading, for roles that see
        // everyone).
        let filter = view.people_filter(PersonFilter::default())?;
        let total = view.count_people(&filter)?;
        (total, view.people_at(skip, params.count)?)
    } else if let Some(sort_by) = &params.sort_by {
        let mut keyed: Vec<(Option<Value>, String)> = Vec::new();
        user_candidates(view, hint.as_ref(), &mut |p| {
            let r = users::resource_with(view, &p, eval, &mut memo)?;
            if params.filter.as_ref().is_none_or(|f| f.matches(&r)) {
                keyed.push((query::sort_key(&r, sort_by), p.id));
            }
            Ok(true)
        })?;
        keyed.sort_by(|a, b| {
            let o = query::compare_keys(&a.0, &b.0);
            if params.descending { o.reverse() } else { o }
        });
        let ids: Vec<String> = keyed
            .iter()
            .skip(skip)
            .take(params.count)
            .map(|(_, id)| id.clone())
            .collect();
        (keyed.len() as u64, view.people(&ids)?)
    } else {
        let mut n = 0usize;
        let mut page = Vec::new();
        user_candidates(view, hint.as_ref(), &mut |p| {
            let r = users::resource_with(view, &p, eval, &mut memo)?;
            if params.filter.as_ref().is_none_or(|f| f.matches(&r)) {
                n += 1;
                if n > skip && page.len() < params.count {
                    page.push(p);
                }
            }
            Ok(true)
        })?;
        (n as u64, page)
    };
    let (parts, versioned) = served_parts(&params.projection, view.provisioning());
    // Without projection every user is whole: written straight as JSON text, no `Value` built.
    let whole = params.projection.attributes.is_empty() && params.projection.excluded.is_empty();
    let build = |chunk: &[Person], memo: &mut users::Memo| -> ScimResult<Vec<Vec<u8>>> {
        let mut resources: Vec<Vec<u8>> = Vec::with_capacity(chunk.len());
        for p in chunk {
            if whole {
                let size = resources.last().map_or(4096, |r| r.len() + r.len() / 4);
                let mut text = Vec::with_capacity(size);
                if users::write_user(view, p, memo, &mut text)? {
                    resources.push(text);
                    continue;
                }
            }
            let mut r = users::resource_with(view, p, parts, memo)?;
            if versioned {
                query::with_version(&mut r);
            }
            resources.push(errors::json_bytes(
                &params.projection.apply(r, USER_EXTENSIONS)?,
            ));
        }
        Ok(resources)
    };
    let resources = build_in_parallel(&page, memo, build)?;
    Ok(query::list_bytes(total, params.start_index, &resources))
}

/// Pages shorter than this are built on the request's thread alone: handing a part to another
/// thread costs some 20 µs, a whole user 50-150 µs to build.
const PARALLEL_FROM: usize = 16;

/// `build` over `page`, split in order across the machine's cores (at most 4 parts: this
/// thread builds the first, rayon's pool the others), each part with its own memo of managers
/// and groups (the first part keeps `memo`; every part shares its server-wide memo,
/// `Memo::sibling`). Reading and writing a page of 100 whole users as JSON text costs 3-4.5 ms
/// of CPU at 100,000 people (benches/README.md, "SCIM reads"): splitting it is what keeps one
/// caller's page within its latency target; under many concurrent callers the pool's threads
/// and the blocking pool's share the cores.
fn build_in_parallel<T: Send>(
    page: &[Person],
    mut memo: users::Memo,
    build: impl Fn(&[Person], &mut users::Memo) -> ScimResult<Vec<T>> + Sync,
) -> ScimResult<Vec<T>> {
    // Read once: `available_parallelism` reads the cgroup's files on every call (2% of a page).
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    let threads = cores.min(4).min(page.len() / (PARALLEL_FROM / 2)).max(1);
    if threads == 1 {
        return build(page, &mut memo);
    }
    let size = page.len().div_ceil(threads);
    let mut parts = page.chunks(size);
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&[Person]> = parts.collect();
    let mut built: Vec<Option<ScimResult<Vec<T>>>> = Vec::new();
    built.resize_with(rest.len(), || None);
    // The other parts go to rayon's threads, which stay up between requests (a thread started
    // per request pays for its stack and its allocator's heap each time); this thread builds
    // the first part meanwhile.
    let mut all = rayon::in_place_scope(|scope| {
        let build = &build;
        for (part, slot) in rest.iter().zip(built.iter_mut()) {
            let mut own = memo.sibling();
            scope.spawn(move |_| *slot = Some(build(part, &mut own)));
        }
        build(first, &mut memo)
    })?;
    for part in built {
        let part = part.ok_or_else(|| {
            ScimError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "building a page of users stopped before it finished",
            )
        })??;
        all.extend(part);
    }
    Ok(all)
}

// ---- groups ---------------------------------------------------------------------------------

async fn get_group(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    respond(
        async {
            let view = view_of(&shared, caller)?;
            let members = ListParams::from_query(&query_pairs(&uri))?
                .projection
                .wants("members");
            let resource = run(&view, move |v| {
                let g = v
                    .group(&id)?
                    .ok_or_else(|| ScimError::not_found("Group", &id))?;
                Ok(groups::resource(v, &g, members)?)
            })
            .await?;
            one(&headers, &uri, resource, GROUP_EXTENSIONS)
        }
        .await,
    )
}

async fn list_groups(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Response {
    list(
        &shared,
        caller,
        ListParams::from_query(&query_pairs(&uri)),
        groups_list,
        |_| false,
    )
    .await
}

async fn search_groups(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    list(
        &shared,
        caller,
        search_params(&headers, &body),
        groups_list,
        |_| false,
    )
    .await
}

#[derive(Debug, PartialEq)]
enum GroupHint {
    Id(String),
    Name(String),
    HasMember(String),
}

fn group_hint(f: &Filter) -> Option<GroupHint> {
    match f {
        Filter::And(a, b) => group_hint(a).or_else(|| group_hint(b)),
        Filter::ValuePath(p, inner) if p.is_core() && p.attr == "members" => {
            let (ip, v) = eq_string(inner)?;
            (ip.is_core() && ip.attr == "value" && ip.sub.is_none())
                .then(|| GroupHint::HasMember(v.to_owned()))
        }
        _ => {
            let (p, v) = eq_string(f)?;
            if !p.is_core() {
                return None;
            }
            match (p.attr.as_str(), p.sub.as_deref()) {
                ("id", None) => Some(GroupHint::Id(v.to_owned())),
                ("displayname", None) => Some(GroupHint::Name(v.to_owned())),
                ("members", None | Some("value")) => Some(GroupHint::HasMember(v.to_owned())),
                _ => None,
            }
        }
    }
}

fn group_candidates(
    view: &View,
    hint: Option<&GroupHint>,
    each: &mut dyn FnMut(Group) -> ScimResult<bool>,
) -> ScimResult<()> {
    let list = match hint {
        Some(GroupHint::Id(id)) => view.group(id)?.into_iter().collect(),
        Some(GroupHint::Name(n)) => view.group_by_name(n)?.into_iter().collect(),
        Some(GroupHint::HasMember(u)) => view.groups(&view.group_ids_of(u)?)?,
        None => {
            let mut after: Option<String> = None;
            loop {
                let page = view.groups_page(&|_| true, after.as_deref(), CHUNK)?;
                let more = page.len() > CHUNK;
                for g in page.into_iter().take(CHUNK) {
                    after = Some(g.id.clone());
                    if !each(g)? {
                        return Ok(());
                    }
                }
                if !more {
                    return Ok(());
                }
            }
        }
    };
    for g in list {
        if !each(g)? {
            break;
        }
    }
    Ok(())
}

fn groups_list(view: &View, params: &ListParams, _: &Arc<SharedMemo>) -> ScimResult<Vec<u8>> {
    let hint = params.filter.as_ref().and_then(group_hint);
    let mut paths = params
        .filter
        .as_ref()
        .map(Filter::paths)
        .unwrap_or_default();
    paths.extend(params.sort_by.clone());
    // Members are built for evaluation only when the filter or sort names them (or the
    // extension's memberCount) and no index answered the membership question.
    let eval_members = paths.iter().any(|p| {
        (p.is_core() && p.attr == "members")
            || (!p.is_core() && p.attr == "membercount")
            || (p.is_core() && p.attr == "meta" && p.sub.as_deref() == Some("version"))
    });
    let skip = params.start_index - 1;
    let mut keyed: Vec<(Option<Value>, Group)> = Vec::new();
    let mut n = 0usize;
    let unfiltered = params.filter.is_none() && params.sort_by.is_none();
    let total = if unfiltered {
        let total = view.count_groups(None)?;
        if params.count > 0 {
            group_candidates(view, None, &mut |g| {
                n += 1;
                if n > skip {
                    keyed.push((None, g));
                }
                Ok(keyed.len() < params.count)
            })?;
        }
        total
    } else {
        group_candidates(view, hint.as_ref(), &mut |g| {
            let r = groups::resource(view, &g, eval_members)?;
            if params.filter.as_ref().is_none_or(|f| f.matches(&r)) {
                n += 1;
                let key = params.sort_by.as_ref().and_then(|s| query::sort_key(&r, s));
                if params.sort_by.is_some() || (n > skip && keyed.len() < params.count) {
                    keyed.push((key, g));
                }
            }
            Ok(true)
        })?;
        if params.sort_by.is_some() {
            keyed.sort_by(|a, b| {
                let o = query::compare_keys(&a.0, &b.0);
                if params.descending { o.reverse() } else { o }
            });
            keyed = keyed.into_iter().skip(skip).take(params.count).collect();
        }
        n as u64
    };
    // A list carries members only when `attributes` asks for them: a page of 100 groups
    // would otherwise read up to 100,000 member records.
    let members = !params.projection.attributes.is_empty() && params.projection.wants("members");
    let mut resources = Vec::with_capacity(keyed.len());
    for (_, g) in &keyed {
        let r = groups::resource(view, g, members)?;
        resources.push(errors::json_bytes(
            &params.projection.apply(r, GROUP_EXTENSIONS)?,
        ));
    }
    Ok(query::list_bytes(total, params.start_index, &resources))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope assembled from serialised resources reads as the `ListResponse` built as
    /// a value, for no resource, one, and several with escapes and nesting.
    #[test]
    fn list_text_is_the_list_response() {
        let cases: Vec<Vec<Value>> = vec![
            vec![],
            vec![serde_json::json!({"id": "00u1"})],
            vec![
                serde_json::json!({"id": "a\"b\\c", "name": {"givenName": "Zoë\n"}}),
                serde_json::json!({"id": "2", "emails": [{"value": "x@y", "primary": true}]}),
                serde_json::json!({}),
            ],
        ];
        for (total, resources) in cases.into_iter().enumerate() {
            let text: Vec<Vec<u8>> = resources.iter().map(errors::json_bytes).collect();
            let bytes = query::list_bytes(total as u64 * 1000, 7, &text);
            let read: Value = serde_json::from_slice(&bytes).expect("the list is JSON");
            assert_eq!(read, list_response(total as u64 * 1000, 7, resources));
        }
    }

    #[test]
    fn hints_pick_the_index() {
        let h = |f: &str| user_hint(&filter::parse(f).expect("parses"));
        assert_eq!(
            h(r#"userName eq "A@x""#),
            Some(UserHint::Login("A@x".into()))
        );
        assert_eq!(
            h(r#"emails.value eq "a@x""#),
            Some(UserHint::Email("a@x".into()))
        );
        assert_eq!(
            h(r#"emails[value eq "a@x"]"#),
            Some(UserHint::Email("a@x".into()))
        );
        assert_eq!(
            h(r#"title pr and id eq "00u1""#),
            Some(UserHint::Id("00u1".into()))
        );
        assert_eq!(h(r#"userName eq "a" or id eq "b""#), None);
        assert_eq!(h(r#"not (userName eq "a")"#), None);
        assert_eq!(h(r#"userName sw "a""#), None);
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert_eq!(
            h(&format!(r#"{ent}:department eq "Sales" and title pr"#)),
            Some(UserHint::Department("Sales".into()))
        );
        assert_eq!(
            h(&format!(r#"{ent}:manager.value eq "00u9""#)),
            Some(UserHint::Manager("00u9".into()))
        );
        assert_eq!(
            h(&format!(r#"{ent}:employeeNumber eq "1042""#)),
            Some(UserHint::EmployeeNumber("1042".into()))
        );
        assert_eq!(h(&format!(r#"{ent}:employeeNumber eq "e1042""#)), None);
        assert_eq!(h(r#"department eq "Sales""#), None, "not a core attribute");
        let exact = |f: &str| {
            let f = filter::parse(f).expect("parses");
            user_hint(&f).is_some_and(|h| h.exact(&f))
        };
        assert!(exact(&format!(r#"{ent}:department eq "Sales""#)));
        assert!(!exact(&format!(
            r#"{ent}:department eq "2024-01-01T00:00:00Z""#
        )));
        assert!(!exact(&format!(
            r#"{ent}:department eq "Sales" and title pr"#
        )));
        assert!(exact(r#"groups[value eq "00g1"]"#));
        assert!(exact(r#"groups.value eq "00g1""#));
        assert!(!exact(r#"userName eq "a@x""#));
        let g = |f: &str| group_hint(&filter::parse(f).expect("parses"));
        assert_eq!(
            g(r#"displayName eq "Eng""#),
            Some(GroupHint::Name("Eng".into()))
        );
        assert_eq!(
            g(r#"members[value eq "00u1"]"#),
            Some(GroupHint::HasMember("00u1".into()))
        );
    }
}
