//! The Apps API endpoints `oktamirror setup` uses, in Okta's shapes and errors: list (`q`),
//! create, get, lifecycle and delete of OIDC service apps; their JWKS (add, deactivate,
//! delete); scope grants; and the client role assignments at `/oauth2/v1/clients/{id}/roles`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::Value;

use super::params::Origin;
use super::respond;
use crate::sim::apps::{self, AdminRole, Grant, RegisteredApp, RoleAssignment};
use crate::sim::shared::Shared;
use crate::sim::time;

type Reply = Result<Response, Box<Response>>;

fn json_reply(status: StatusCode, v: &Value) -> Response {
    let mut r = respond::json(v.to_string());
    *r.status_mut() = status;
    r
}

fn forbidden(shared: &Shared) -> Box<Response> {
    Box::new(respond::error(
        shared,
        StatusCode::FORBIDDEN,
        "E0000006",
        "You do not have permission to perform the requested action",
    ))
}

fn invalid(shared: &Shared, field: &str, cause: &str) -> Box<Response> {
    Box::new(respond::error_with_causes(
        shared,
        StatusCode::BAD_REQUEST,
        "E0000001",
        &format!("Api validation failed: {field}"),
        &[cause.to_owned()],
    ))
}

/// Who is calling: an SSWS token's admin role. OAuth tokens here would need
/// `okta.apps.manage` and friends, which no simulated service app holds.
fn caller(shared: &Shared, headers: &HeaderMap) -> Result<AdminRole, Box<Response>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match auth.split_once(' ') {
        Some(("SSWS", t)) => shared
            .admin_role(t.trim())
            .ok_or_else(|| Box::new(respond::unauthorized(shared))),
        Some(("Bearer" | "DPoP", _)) => Err(forbidden(shared)),
        _ => Err(Box::new(respond::unauthorized(shared))),
    }
}

/// The caller may write apps (super and app admins).
fn may_write(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match caller(shared, headers)? {
        AdminRole::SuperAdmin | AdminRole::AppAdmin => Ok(()),
        AdminRole::ReadOnlyAdmin => Err(forbidden(shared)),
    }
}

/// Only a super admin grants Okta API scopes and assigns admin roles.
fn must_be_super(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match caller(shared, headers)? {
        AdminRole::SuperAdmin => Ok(()),
        _ => Err(forbidden(shared)),
    }
}

fn body_object(shared: &Shared, body: &[u8]) -> Result<Value, Box<Response>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Box::new(respond::malformed_body(shared))),
    }
}

fn base(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> String {
    Origin::new(headers, uri, &shared.base_url()).base
}

/// Runs `f` on app `id` under the auth lock, or answers Okta's 404.
fn with_app<T>(
    shared: &Shared,
    id: &str,
    f: impl FnOnce(&mut RegisteredApp) -> Result<T, Box<Response>>,
) -> Result<T, Box<Response>> {
    let mut st = shared.auth();
    match st.apps.iter_mut().find(|a| a.id == id) {
        Some(app) => f(app),
        None => Err(Box::new(respond::not_found(shared, id, "AppInstance"))),
    }
}

fn done(r: Reply) -> Response {
    r.unwrap_or_else(|e| *e)
}

/// `GET /api/v1/apps?q=…`: apps whose `name` or `label` starts with `q`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    done((|| {
        caller(&shared, &headers)?;
        let q = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.to_lowercase());
        let base = base(&shared, &headers, &uri);
        let st = shared.auth();
        let found: Vec<Value> = st
            .apps
            .iter()
            .filter(|a| {
                q.as_deref().is_none_or(|q| {
                    a.label.to_lowercase().starts_with(q) || "oidc_client".starts_with(q)
                })
            })
            .map(|a| a.json(&base))
            .collect();
        Ok(json_reply(StatusCode::OK, &Value::Array(found)))
    })())
}

/// `POST /api/v1/apps`: an OIDC service app with `private_key_jwt` and its JWKS.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    done((|| {
        may_write(&shared, &headers)?;
        let v = body_object(&shared, &body)?;
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
        if s("/signOnMode") != "OPENID_CONNECT" || s("/name") != "oidc_client" {
            return Err(invalid(
                &shared,
                "signOnMode",
                "signOnMode: This simulator creates only OPENID_CONNECT apps named oidc_client",
            ));
        }
        let label = s("/label").trim().to_owned();
        if label.is_empty() {
            return Err(invalid(
                &shared,
                "label",
                "label: The field cannot be left blank",
            ));
        }
        let grants: Vec<&str> = v
            .pointer("/settings/oauthClient/grant_types")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if grants != ["client_credentials"]
            || s("/settings/oauthClient/application_type") != "service"
        {
            return Err(invalid(
                &shared,
                "settings.oauthClient",
                "grant_types: A service application must use only client_credentials",
            ));
        }
        if s("/credentials/oauthClient/token_endpoint_auth_method") != "private_key_jwt" {
            return Err(invalid(
                &shared,
                "credentials.oauthClient",
                "token_endpoint_auth_method: This simulator registers only private_key_jwt clients",
            ));
        }
        let jwks = v
            .pointer("/settings/oauthClient/jwks/keys")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if jwks.is_empty() {
            return Err(invalid(
                &shared,
                "jwks",
                "jwks: A client that uses private_key_jwt must have at least one public key",
            ));
        }
        let mut keys = Vec::new();
        for k in &jwks {
            let key = apps::key_from_jwk(k, format!("pks{}", shared.opaque_id(17)))
                .map_err(|cause| invalid(&shared, "jwks", &cause))?;
            keys.push(key);
        }
        let dpop_bound = v
            .pointer("/settings/oauthClient/dpop_bound_access_tokens")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let app = RegisteredApp {
            id: format!("0oa{}", shared.opaque_id(17)),
            label,
            active: true,
            dpop_bound,
            keys,
            grants: Vec::new(),
            roles: Vec::new(),
            created: time::now(),
        };
        let out = app.json(&base(&shared, &headers, &uri));
        shared.auth().apps.push(app);
        Ok(json_reply(StatusCode::OK, &out))
    })())
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    done((|| {
        caller(&shared, &headers)?;
        let base = base(&shared, &headers, &uri);
        with_app(&shared, &id, |a| {
            Ok(json_reply(StatusCode::OK, &a.json(&base)))
        })
    })())
}

/// `DELETE /api/v1/apps/{id}`: only an inactive app may be deleted.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    done((|| {
        may_write(&shared, &headers)?;
        with_app(&shared, &id, |a| {
            if a.active {
                Err(Box::new(respond::error(
                    &shared,
                    StatusCode::FORBIDDEN,
                    "E0000056",
                    "Delete application forbidden.",
                )))
            } else {
                Ok(())
            }
        })?;
        let mut st = shared.auth();
        st.apps.retain(|a| a.id != id);
        Ok(respond::no_content())
    })())
}

/// `POST /api/v1/apps/{id}/lifecycle/{activate|deactivate}`: 200 with `{}`.
pub async fn lifecycle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    done((|| {
        may_write(&shared, &headers)?;
        let active = match action.as_str() {
            "activate" => true,
            "deactivate" => false,
            _ => return Err(Box::new(respond::not_found(&shared, &action, "Path"))),
        };
        with_app(&shared, &id, |a| {
            a.active = active;
            Ok(())
        })?;
        Ok(json_reply(StatusCode::OK, &serde_json::json!({})))
    })())
}

/// `GET /api/v1/apps/{id}/grants`.
pub async fn list_grants(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    done((|| {
        caller(&shared, &headers)?;
        let base = base(&shared, &headers, &uri);
        with_app(&shared, &id, |a| {
            let all: Vec<Value> = a.grants.iter().map(|g| a.grant_json(g, &base)).collect();
            Ok(json_reply(StatusCode::OK, &Value::Array(all)))
        })
    })())
}

/// `POST /api/v1/apps/{id}/grants` with `{"scopeId", "issuer"}`: super admins only.
pub async fn grant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    done((|| {
        must_be_super(&shared, &headers)?;
        let v = body_object(&shared, &body)?;
        let base = base(&shared, &headers, &uri);
        let scope = v.get("scopeId").and_then(Value::as_str).unwrap_or("");
        if !apps::KNOWN_SCOPES.contains(&scope) {
            return Err(invalid(
                &shared,
                "scopeId",
                &format!("scopeId: '{scope}' is not an Okta API scope"),
            ));
        }
        let issuer = v.get("issuer").and_then(Value::as_str).unwrap_or("");
        if issuer.trim_end_matches('/') != base {
            return Err(invalid(
                &shared,
                "issuer",
                "issuer: The issuer must be the org's URL",
            ));
        }
        let gid = format!("oag{}", shared.opaque_id(17));
        with_app(&shared, &id, |a| {
            if a.grants.iter().any(|g| g.scope_id == scope) {
                return Err(invalid(
                    &shared,
                    "scopeId",
                    &format!("scopeId: '{scope}' is already granted to this app"),
                ));
            }
            let g = Grant {
                id: gid,
                scope_id: scope.to_owned(),
                issuer: issuer.to_owned(),
                created: time::now(),
            };
            let out = a.grant_json(&g, &base);
            a.grants.push(g);
            Ok(json_reply(StatusCode::CREATED, &out))
        })
    })())
}

/// `GET /api/v1/apps/{id}/credentials/jwks`.
pub async fn list_keys(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    done((|| {
        caller(&shared, &headers)?;
        let base = base(&shared, &headers, &uri);
        with_app(&shared, &id, |a| {
            let all: Vec<Value> = a.keys.iter().map(|k| a.key_json(k, &base)).collect();
            Ok(json_reply(StatusCode::OK, &Value::Array(all)))
        })
    })())
}

/// `POST /api/v1/apps/{id}/credentials/jwks`: 201 with the key; `kid`s must be unique.
pub async fn add_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    done((|| {
        may_write(&shared, &headers)?;
        let v = body_object(&shared, &body)?;
        let key = apps::key_from_jwk(&v, format!("pks{}", shared.opaque_id(17)))
            .map_err(|cause| invalid(&shared, "JsonWebKey", &cause))?;
        let base = base(&shared, &headers, &uri);
        with_app(&shared, &id, |a| {
            if a.keys.iter().any(|k| k.kid == key.kid) {
                return Err(invalid(
                    &shared,
                    "JsonWebKey",
                    "Each key in the JSON Web Key Set must have a unique 'kid'.",
                ));
            }
            let out = a.key_json(&key, &base);
            a.keys.push(key);
            Ok(json_reply(StatusCode::CREATED, &out))
        })
    })())
}

/// `POST /api/v1/apps/{id}/credentials/jwks/{keyId}/lifecycle/{activate|deactivate}`.
pub async fn key_lifecycle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, key_id, action)): Path<(String, String, String)>,
) -> Response {
    done((|| {
        may_write(&shared, &headers)?;
        let active = match action.as_str() {
            "activate" => true,
            "deactivate" => false,
            _ => return Err(Box::new(respond::not_found(&shared, &action, "Path"))),
        };
        let base = base(&shared, &headers, &uri);
        with_app(&shared, &id, |a| {
            let others_active = a.keys.iter().filter(|k| k.active && k.id != key_id).count();
            let Some(i) = a.keys.iter().position(|k| k.id == key_id) else {
                return Err(Box::new(respond::not_found(&shared, &key_id, "JsonWebKey")));
            };
            if !active && others_active == 0 {
                return Err(invalid(
                    &shared,
                    "JsonWebKey",
                    "Can't deactivate the only active JSON Web Key when the value for `token_endpoint_auth_method` is `private_key_jwt`.",
                ));
            }
            a.keys[i].active = active;
            let out = a.key_json(&a.keys[i], &base);
            Ok(json_reply(StatusCode::OK, &out))
        })
    })())
}

/// `DELETE /api/v1/apps/{id}/credentials/jwks/{keyId}`: only an inactive key.
pub async fn delete_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, key_id)): Path<(String, String)>,
) -> Response {
    done((|| {
        may_write(&shared, &headers)?;
        with_app(&shared, &id, |a| {
            let Some(i) = a.keys.iter().position(|k| k.id == key_id) else {
                return Err(Box::new(respond::not_found(&shared, &key_id, "JsonWebKey")));
            };
            if a.keys[i].active {
                return Err(invalid(
                    &shared,
                    "JsonWebKey",
                    "You can't delete an active JSON Web Key. Deactivate the key before deleting it.",
                ));
            }
            a.keys.remove(i);
            Ok(respond::no_content())
        })
    })())
}

/// `GET /oauth2/v1/clients/{clientId}/roles`.
pub async fn list_roles(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    done((|| {
        caller(&shared, &headers)?;
        let base = base(&shared, &headers, &uri);
        with_client(&shared, &id, |a| {
            let all: Vec<Value> = a.roles.iter().map(|r| a.role_json(r, &base)).collect();
            Ok(json_reply(StatusCode::OK, &Value::Array(all)))
        })
    })())
}

/// `POST /oauth2/v1/clients/{clientId}/roles` with `{"type": "READ_ONLY_ADMIN"}`: super
/// admins only; a second assignment of the same role is a 409 `E0000090`.
pub async fn assign_role(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    done((|| {
        must_be_super(&shared, &headers)?;
        let v = body_object(&shared, &body)?;
        let role = v.get("type").and_then(Value::as_str).unwrap_or("");
        if !apps::STANDARD_ROLES.iter().any(|(t, _)| *t == role) {
            return Err(invalid(
                &shared,
                "type",
                &format!("type: '{role}' is not a standard role"),
            ));
        }
        let rid = format!("ra{}", shared.opaque_id(18));
        let base = base(&shared, &headers, &uri);
        with_client(&shared, &id, |a| {
            if a.roles.iter().any(|r| r.role_type == role) {
                return Err(Box::new(respond::error(
                    &shared,
                    StatusCode::CONFLICT,
                    "E0000090",
                    "Duplicate role assignment exception.",
                )));
            }
            let r = RoleAssignment {
                id: rid,
                role_type: role.to_owned(),
                created: time::now(),
            };
            let out = a.role_json(&r, &base);
            a.roles.push(r);
            Ok(json_reply(StatusCode::OK, &out))
        })
    })())
}

/// Like `with_app`, with the 404 the clients API gives.
fn with_client<T>(
    shared: &Shared,
    id: &str,
    f: impl FnOnce(&mut RegisteredApp) -> Result<T, Box<Response>>,
) -> Result<T, Box<Response>> {
    let mut st = shared.auth();
    match st.apps.iter_mut().find(|a| a.id == id) {
        Some(app) => f(app),
        None => Err(Box::new(respond::not_found(shared, id, "Client"))),
    }
}
