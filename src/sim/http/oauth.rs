//! `POST /oauth2/v1/token` (client_credentials with `private_key_jwt`, DPoP and its nonce) and
//! the check of every resource call's credentials: SSWS, Bearer or DPoP-bound tokens, scopes.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

use super::params::Origin;
use super::respond;
use crate::sim::apps::AdminRole;
use crate::sim::json::ObjWriter;
use crate::sim::oauth::{self, AuthState, Issued, OAuthApp};
use crate::sim::shared::Shared;
use crate::sim::time;

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    let body = ObjWriter::new()
        .str("error", error)
        .str("error_description", description)
        .finish();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn with_nonce(mut r: Response, nonce: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        r.headers_mut().insert("dpop-nonce", v);
    }
    r
}

/// The org authorization server's token endpoint.
pub async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let token_url = format!("{}/oauth2/v1/token", origin.base);
    let mut st = shared.auth();
    if st.app.is_none() && st.apps.is_empty() {
        return oauth_error(401, "invalid_client", "No client credentials found.");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return oauth_error(
            400,
            "invalid_request",
            "The client_assertion_type is invalid.",
        );
    }
    let assertion = form
        .get("client_assertion")
        .map(String::as_str)
        .unwrap_or("");
    let (app, client) = match pick_app(&mut st, assertion, &token_url) {
        Ok(found) => found,
        Err((status, error, d)) => {
            if error == "invalid_client" {
                st.invalid_client += 1;
            }
            return oauth_error(status, error, &d);
        }
    };
    let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
    let jkt = match proof {
        None if app.require_dpop => {
            return oauth_error(
                400,
                "invalid_dpop_proof",
                "The DPoP proof JWT header is missing.",
            );
        }
        None => None,
        Some(p) => {
            let nonce = st.nonce.clone();
            match oauth::check_proof(p, "POST", &token_url, None, Some(&nonce)) {
                Ok(jkt) => Some(jkt),
                Err((error, d)) => return with_nonce(oauth_error(400, error, &d), &nonce),
            }
        }
    };
    let requested: Vec<String> = form
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return oauth_error(400, "invalid_scope", "No scopes were requested.");
    }
    // Like Okta, issue what was both requested and granted; refuse only when that is nothing.
    let scopes: Vec<String> = requested
        .iter()
        .filter(|s| app.granted_scopes.contains(s))
        .cloned()
        .collect();
    if scopes.is_empty() {
        return oauth_error(
            400,
            "invalid_scope",
            "The following scopes are not allowed for this client: the app has none of them granted.",
        );
    }
    let access_token = format!("eyJsim.{}", shared.opaque_id(40));
    let lifetime = i64::try_from(app.token_lifetime.as_millis()).unwrap_or(i64::MAX);
    st.tokens.insert(
        access_token.clone(),
        Issued {
            scopes: scopes.clone(),
            expires: time::now().saturating_add(lifetime),
            jkt: jkt.clone(),
            client,
        },
    );
    st.minted += 1;
    let body = ObjWriter::new()
        .str("token_type", if jkt.is_some() { "DPoP" } else { "Bearer" })
        .raw(
            "expires_in",
            &app.token_lifetime.as_secs().max(1).to_string(),
        )
        .str("access_token", &access_token)
        .str("scope", &scopes.join(" "))
        .finish();
    respond::json(body)
}

/// The app an assertion is for, its assertion checked: the configured app
/// (`Simulator::enable_oauth`), or an app created through the Apps API, whose active key the
/// assertion's `kid` names (without a `kid`, any active key that verifies it).
fn pick_app(
    st: &mut AuthState,
    assertion: &str,
    token_url: &str,
) -> Result<(OAuthApp, Option<String>), oauth::OAuthError> {
    let invalid = |d: &str| (401u16, "invalid_client", d.to_owned());
    let parsed = oauth::Jws::parse(assertion).ok();
    let iss = parsed.as_ref().and_then(|j| j.claim("iss")).unwrap_or("");
    let kid = parsed
        .as_ref()
        .and_then(|j| j.header.get("kid"))
        .and_then(serde_json::Value::as_str);
    let registered = st.apps.iter().find(|a| a.id == iss).cloned();
    let Some(reg) = registered else {
        let app = st
            .app
            .clone()
            .ok_or_else(|| invalid("Invalid value for 'client_id' parameter."))?;
        oauth::check_assertion(&app, assertion, token_url, &mut st.seen_jti)?;
        return Ok((app, None));
    };
    if !reg.active {
        return Err(invalid("The client is deactivated."));
    }
    let candidates: Vec<_> = reg
        .keys
        .iter()
        .filter(|k| k.active && kid.is_none_or(|want| want == k.kid))
        .collect();
    let mut last = invalid("The client_assertion 'kid' matches no registered key.");
    for key in candidates {
        let mut app = reg.as_oauth(key);
        if let Some(life) = st.app_token_lifetime {
            app.token_lifetime = life;
        }
        match oauth::check_assertion(&app, assertion, token_url, &mut st.seen_jti) {
            Ok(()) => return Ok((app, Some(reg.id.clone()))),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The scopes that allow a resource call, the one to name in a refusal first: writes need
/// `.manage`, and (as in Okta) `.manage` also allows reads.
fn scopes_for(path: &str, method: &str) -> &'static [&'static str] {
    let write = method != "GET" && method != "HEAD";
    if path.starts_with("/api/v1/groups") {
        if write {
            &["okta.groups.manage"]
        } else {
            &["okta.groups.read", "okta.groups.manage"]
        }
    } else if path.starts_with("/api/v1/logs") {
        &["okta.logs.read"]
    } else if path.starts_with("/api/v1/meta/types/user") {
        &["okta.userTypes.read", "okta.userTypes.manage"]
    } else if write {
        &["okta.users.manage"]
    } else {
        &["okta.users.read", "okta.users.manage"]
    }
}

/// Checks a resource call's credentials; `Err` is the response Okta would give instead.
pub fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    method: &str,
) -> Result<(), Box<Response>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
    if scheme == "SSWS" {
        return match shared.admin_role(value.trim()) {
            Some(AdminRole::ReadOnlyAdmin) if method != "GET" && method != "HEAD" => Err(Box::new(
                respond::refusal(shared, &crate::sim::admin::Refusal::Forbidden),
            )),
            Some(_) => Ok(()),
            None => Err(Box::new(respond::unauthorized(shared))),
        };
    }
    let origin = Origin::new(headers, uri, &shared.base_url());
    let realm = &origin.base;
    let challenge = |scheme: &str, extra: &str| {
        format!(
            r#"{scheme} authorization_uri="{realm}/oauth2/v1/authorize", realm="{realm}", {extra}"#
        )
    };
    let mut st = shared.auth();
    let found = st.tokens.get(value.trim()).cloned();
    // A token of a deactivated or deleted app is revoked with it.
    let revoked = found
        .as_ref()
        .and_then(|t| t.client.as_ref())
        .is_some_and(|c| !st.apps.iter().any(|a| &a.id == c && a.active));
    let issued = match (scheme, found) {
        ("Bearer" | "DPoP", Some(t)) if t.expires > time::now() && !revoked => t,
        ("Bearer" | "DPoP", found) => {
            st.rejected_tokens += 1;
            let why = if revoked {
                "The access token was revoked."
            } else if found.is_some() {
                "The token has expired."
            } else {
                "The access token is invalid."
            };
            let mut r = respond::unauthorized(shared);
            set(
                &mut r,
                &challenge(
                    "Bearer",
                    &format!(r#"error="invalid_token", error_description="{why}""#),
                ),
            );
            return Err(Box::new(r));
        }
        _ => return Err(Box::new(respond::unauthorized(shared))),
    };
    if let Some(jkt) = &issued.jkt {
        let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
        let htu = format!("{}{}", origin.base, uri.path());
        let nonce = st
            .app
            .as_ref()
            .is_some_and(|a| a.dpop_nonce_on_resources)
            .then(|| st.nonce.clone());
        let checked = match (scheme, proof) {
            ("DPoP", Some(p)) => {
                oauth::check_proof(p, method, &htu, Some(value.trim()), nonce.as_deref())
            }
            _ => Err((
                "invalid_dpop_proof",
                "The DPoP proof JWT header is missing.".to_owned(),
            )),
        };
        match checked {
            Ok(k) if &k == jkt => {}
            Ok(_) => {
                return Err(Box::new(dpop_error(
                    400,
                    "invalid_dpop_proof",
                    "The DPoP proof key does not match the access token.",
                    &challenge,
                    None,
                )));
            }
            Err(("use_dpop_nonce", d)) => {
                return Err(Box::new(dpop_error(
                    401,
                    "use_dpop_nonce",
                    &d,
                    &challenge,
                    nonce.as_deref(),
                )));
            }
            Err((e, d)) => return Err(Box::new(dpop_error(400, e, &d, &challenge, None))),
        }
    }
    let allowed = scopes_for(uri.path(), method);
    let need = allowed[0];
    if !issued.scopes.iter().any(|s| allowed.contains(&s.as_str())) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::FORBIDDEN;
        let s = if issued.jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        set(
            &mut r,
            &challenge(
                s,
                &format!(
                    r#"scope="{need}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="{}""#,
                    uri.path()
                ),
            ),
        );
        return Err(Box::new(r));
    }
    // Scopes choose the actions, an admin role the resources: an app without a role that
    // covers the directory is refused like an admin without permission.
    if let Some(c) = &issued.client {
        if !st.apps.iter().any(|a| &a.id == c && a.can_read()) {
            return Err(Box::new(respond::refusal(
                shared,
                &crate::sim::admin::Refusal::Forbidden,
            )));
        }
    }
    Ok(())
}

fn dpop_error(
    status: u16,
    error: &str,
    description: &str,
    challenge: &dyn Fn(&str, &str) -> String,
    nonce: Option<&str>,
) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    set(
        &mut r,
        &challenge(
            "DPoP",
            &format!(
                r#"algs="RS256 RS384 RS512 ES256 ES384 ES512", error="{error}", error_description="{description}""#
            ),
        ),
    );
    match nonce {
        Some(n) => with_nonce(r, n),
        None => r,
    }
}

fn set(r: &mut Response, www_authenticate: &str) {
    if let Ok(v) = HeaderValue::from_str(www_authenticate) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
}
