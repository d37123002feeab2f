//! SCIM writes (provisioning mode, `--source scim`): POST, PUT, PATCH and DELETE of Users and
//! Groups, each checked by the access rules (`View::grant_write`: provisioner keys only) and
//! handed as a typed write to the `Provisioning` writer; the answer is the resource read back.
//! In the Okta-API mode there is no writer and every write is refused as read-only.

use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::errors::{ScimError, ScimResult, scim_response};
use super::query::{self, ListParams};
use super::users::{ENTERPRISE_URN, MIRROR_URN, Parts};
use super::{GROUP_EXTENSIONS, USER_EXTENSIONS, groups, patch, pushed, users};
use crate::access::{Caller, View, WriteGrant};
use crate::api::{Provisioning, Shared};
use crate::model::{PROVISIONED_DOCUMENT, ProvisionError, ProvisionWrite, UserEdit, UserStatus};

/// The refusal of every write by a mirror of the Okta API.
fn read_only() -> ScimError {
    ScimError::new(
        StatusCode::FORBIDDEN,
        None,
        "this mirror is read-only: its users and groups come from the Okta API, so SCIM writes (POST, PUT, PATCH, DELETE) are refused; a mirror started with `oktamirror serve --source scim` (provisioning mode) accepts them from a provisioner key",
    )
}

/// The writer and the caller's grant, or the refusal.
fn writer(
    shared: &Shared,
    caller: Option<Extension<Caller>>,
) -> ScimResult<(View, WriteGrant, Arc<dyn Provisioning>)> {
    let Some(w) = shared.provisioning.clone() else {
        return Err(read_only());
    };
    let view = super::view_of(shared, caller)?;
    let grant = view.grant_write()?;
    Ok((view, grant, w))
}

/// A request body as JSON (`application/scim+json` or `application/json`).
pub(crate) fn json_body(headers: &HeaderMap, body: &Bytes) -> ScimResult<Value> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !essence.is_empty() && essence != "application/scim+json" && essence != "application/json" {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            format!("send the body as application/scim+json (or application/json), not {ct}"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// The written resource as the answer: `status`, its ETag, its location, and the
/// `attributes`/`excludedAttributes` of the query applied.
fn written(
    status: StatusCode,
    uri: &Uri,
    mut resource: Value,
    extensions: &[&str],
) -> ScimResult<Response> {
    let etag = query::with_version(&mut resource);
    let params = ListParams::from_query(&super::query_pairs(uri))?;
    let body = params.projection.apply(resource, extensions)?;
    let mut resp = scim_response(status, &body);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let Some(loc) = body.pointer("/meta/location").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(loc)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn no_content() -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

async fn user_answer(
    view: &View,
    id: String,
    status: StatusCode,
    uri: &Uri,
) -> ScimResult<Response> {
    let resource = super::run(view, move |v| {
        let p = v
            .person(&id)?
            .ok_or_else(|| ScimError::not_found("User", &id))?;
        Ok(users::resource(v, &p, Parts::ALL)?)
    })
    .await?;
    written(status, uri, resource, USER_EXTENSIONS)
}

async fn group_answer(
    view: &View,
    id: String,
    status: StatusCode,
    uri: &Uri,
) -> ScimResult<Response> {
    let resource = super::run(view, move |v| {
        let g = v
            .group(&id)?
            .ok_or_else(|| ScimError::not_found("Group", &id))?;
        Ok(groups::resource(v, &g, true)?)
    })
    .await?;
    written(status, uri, resource, GROUP_EXTENSIONS)
}

/// A person's stored status and pushed document (or, for someone mirrored before, a document
/// made from their Okta profile).
fn current_document(raw: &Value) -> (Option<UserStatus>, Value) {
    let status = raw
        .get("status")
        .and_then(Value::as_str)
        .map(UserStatus::parse);
    if let Some(doc @ Value::Object(_)) = raw.get(PROVISIONED_DOCUMENT) {
        return (status, doc.clone());
    }
    let p = raw.get("profile").cloned().unwrap_or(Value::Null);
    let s = |k: &str| p.get(k).filter(|v| !v.is_null()).cloned();
    let mut doc = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            doc.insert(k.to_owned(), v);
        }
    };
    put("userName", s("login"));
    put("externalId", raw.get("externalId").cloned());
    put(
        "name",
        Some(json!({"givenName": s("firstName"), "familyName": s("lastName")})),
    );
    for k in [
        "displayName",
        "nickName",
        "title",
        "userType",
        "locale",
        "timezone",
    ] {
        put(k, s(k));
    }
    put(
        "emails",
        s("email").map(|e| json!([{"value": e, "type": "work", "primary": true}])),
    );
    put("active", status.map(|st| Value::Bool(users::active(st))));
    let mut ent = Map::new();
    for k in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        if let Some(v) = s(k) {
            ent.insert(k.to_owned(), v);
        }
    }
    if let Some(m) = s("managerId") {
        ent.insert("manager".into(), json!({"value": m}));
    }
    put(ENTERPRISE_URN, Some(Value::Object(ent)));
    (status, Value::Object(doc))
}

/// An edit whose SCIM error (a PATCH target that is not there, a value of the wrong type) is
/// kept for the answer, since the writer only carries `ProvisionError`s.
fn edit_user(
    stash: Arc<Mutex<Option<ScimError>>>,
    f: impl FnOnce(Option<UserStatus>, Value) -> ScimResult<crate::model::PushedUser> + Send + 'static,
) -> UserEdit {
    Box::new(move |raw: &Value| {
        let (status, doc) = current_document(raw);
        f(status, doc).map_err(|e| {
            let detail = e.detail.clone();
            if let Ok(mut s) = stash.lock() {
                *s = Some(e);
            }
            ProvisionError::Invalid(detail)
        })
    })
}

/// The stashed SCIM error when there is one, else the writer's.
fn scim_error(stash: &Mutex<Option<ScimError>>, e: ProvisionError) -> ScimError {
    match stash.lock().ok().and_then(|mut s| s.take()) {
        Some(scim) => scim,
        None => e.into(),
    }
}

async fn apply(
    w: &dyn Provisioning,
    grant: &WriteGrant,
    write: ProvisionWrite,
    stash: &Mutex<Option<ScimError>>,
) -> ScimResult<String> {
    let what = format!("{write:?}");
    match w.write(grant, write).await {
        Ok(id) => {
            tracing::debug!(key = grant.caller(), write = %what, "SCIM write applied");
            Ok(id)
        }
        Err(e) => Err(scim_error(stash, e)),
    }
}

// ---- users ----------------------------------------------------------------------------------

pub(crate) async fn create_user(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    super::respond(
        async {
            let (view, grant, w) = writer(&shared, caller)?;
            let user = pushed::user(&json_body(&headers, &body)?, None)?;
            let stash = Mutex::new(None);
            let id = apply(&*w, &grant, ProvisionWrite::CreateUser(user), &stash).await?;
            user_answer(&view, id, StatusCode::CREATED, &uri).await
        }
        .await,
    )
}

pub(crate) async fn replace_user(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    super::respond(
        async {
            let (view, grant, w) = writer(&shared, caller)?;
            let new = json_body(&headers, &body)?;
            // Validate before taking the writer's turn.
            pushed::user(&new, None)?;
            let stash = Arc::new(Mutex::new(None));
            let edit = edit_user(stash.clone(), move |status, current| {
                let mut new = new;
                // A client unaware of the oktamirror extension keeps the custom attributes.
                if let (Value::Object(n), Some(ext)) = (&mut new, current.get(MIRROR_URN))
                    && !n.keys().any(|k| k.eq_ignore_ascii_case(MIRROR_URN))
                {
                    n.insert(MIRROR_URN.to_owned(), ext.clone());
                }
                pushed::user(&new, status)
            });
            let id = apply(&*w, &grant, ProvisionWrite::EditUser { id, edit }, &stash).await?;
            user_answer(&view, id, StatusCode::OK, &uri).await
        }
        .await,
    )
}

pub(crate) async fn patch_user(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    super::respond(
        async {
            let (view, grant, w) = writer(&shared, caller)?;
            let ops = patch::parse(&json_body(&headers, &body)?, USER_EXTENSIONS)?;
            let stash = Arc::new(Mutex::new(None));
            let edit = edit_user(stash.clone(), move |status, mut doc| {
                patch::apply(&mut doc, &ops, USER_EXTENSIONS, pushed::USER_READ_ONLY)?;
                pushed::user(&doc, status)
            });
            let id = apply(&*w, &grant, ProvisionWrite::EditUser { id, edit }, &stash).await?;
            user_answer(&view, id, StatusCode::OK, &uri).await
        }
        .await,
    )
}

pub(crate) async fn delete_user(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Response {
    super::respond(
        async {
            let (_, grant, w) = writer(&shared, caller)?;
            apply(
                &*w,
                &grant,
                ProvisionWrite::DeleteUser { id },
                &Mutex::new(None),
            )
            .await?;
            Ok(no_content())
        }
        .await,
    )
}

// ---- groups ---------------------------------------------------------------------------------

pub(crate) async fn create_group(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    super::respond(
        async {
            let (view, grant, w) = writer(&shared, caller)?;
            let group = pushed::new_group(&json_body(&headers, &body)?)?;
            let stash = Mutex::new(None);
            let id = apply(&*w, &grant, ProvisionWrite::CreateGroup(group), &stash).await?;
            group_answer(&view, id, StatusCode::CREATED, &uri).await
        }
        .await,
    )
}

pub(crate) async fn replace_group(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    super::respond(
        async {
            let (view, grant, w) = writer(&shared, caller)?;
            let change = pushed::replaced_group(&json_body(&headers, &body)?)?;
            let stash = Mutex::new(None);
            let id = apply(
                &*w,
                &grant,
                ProvisionWrite::EditGroup { id, change },
                &stash,
            )
            .await?;
            group_answer(&view, id, StatusCode::OK, &uri).await
        }
        .await,
    )
}

pub(crate) async fn patch_group(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    super::respond(
        async {
            let (view, grant, w) = writer(&shared, caller)?;
            let ops = patch::parse(&json_body(&headers, &body)?, GROUP_EXTENSIONS)?;
            let change = pushed::patched_group(&ops)?;
            let stash = Mutex::new(None);
            let id = apply(
                &*w,
                &grant,
                ProvisionWrite::EditGroup { id, change },
                &stash,
            )
            .await?;
            group_answer(&view, id, StatusCode::OK, &uri).await
        }
        .await,
    )
}

pub(crate) async fn delete_group(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Response {
    super::respond(
        async {
            let (_, grant, w) = writer(&shared, caller)?;
            apply(
                &*w,
                &grant,
                ProvisionWrite::DeleteGroup { id },
                &Mutex::new(None),
            )
            .await?;
            Ok(no_content())
        }
        .await,
    )
}
