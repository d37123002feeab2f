//! The simulated org's OpenID Connect endpoints under `/oauth2/default` with Okta's shapes:
//! discovery, `authorize` (a sign-in form, or straight through with `login_hint` naming an
//! ACTIVE user: the simulator has no passwords), `token` (authorization code with PKCE and a
//! client secret), `keys` (the JWKS) and `userinfo`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::params::Origin;
use super::respond;
use crate::sim::model::Status;
use crate::sim::oidc::{AS_PATH, Grant, s256};
use crate::sim::shared::Shared;
use crate::sim::time;

/// Codes live for a minute, as Okta's do.
const CODE_LIFETIME_MS: i64 = 60_000;

fn issuer(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> String {
    format!(
        "{}{AS_PATH}",
        Origin::new(headers, uri, &shared.base_url()).base
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r =
        respond::json(json!({ "error": error, "error_description": description }).to_string());
    *r.status_mut() = status;
    r
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn redirect(to: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `GET /oauth2/default/.well-known/openid-configuration`.
pub async fn discovery(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let iss = issuer(&shared, &headers, &uri);
    respond::json(
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/v1/authorize"),
            "token_endpoint": format!("{iss}/v1/token"),
            "userinfo_endpoint": format!("{iss}/v1/userinfo"),
            "jwks_uri": format!("{iss}/v1/keys"),
            "end_session_endpoint": format!("{iss}/v1/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "nonce", "name",
                "preferred_username", "email", "given_name", "family_name"],
        })
        .to_string(),
    )
}

/// `GET /oauth2/default/v1/authorize`.
pub async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    let Some(app) = shared.oidc().app.clone() else {
        return html(
            StatusCode::BAD_REQUEST,
            "<h1>400</h1><p>No OIDC app is registered in this org.</p>".into(),
        );
    };
    // A bad client or redirect URI is shown, never redirected to (as Okta does).
    if get("client_id") != app.client_id {
        return html(
            StatusCode::BAD_REQUEST,
            "<h1>400</h1><p>Invalid value for 'client_id' parameter.</p>".into(),
        );
    }
    let redirect_uri = get("redirect_uri").to_owned();
    if !app.redirect_uris.contains(&redirect_uri) {
        return html(
            StatusCode::BAD_REQUEST,
            "<h1>400</h1><p>The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.</p>".into(),
        );
    }
    let state = get("state").to_owned();
    let back = |error: &str, description: &str| {
        let mut u = url::Url::parse(&redirect_uri).ok();
        if let Some(u) = u.as_mut() {
            u.query_pairs_mut()
                .append_pair("error", error)
                .append_pair("error_description", description)
                .append_pair("state", &state);
        }
        redirect(u.as_ref().map_or("/", |u| u.as_str()))
    };
    if get("response_type") != "code" {
        return back(
            "unsupported_response_type",
            "The response type is not supported by the authorization server.",
        );
    }
    if !get("scope").split_whitespace().any(|s| s == "openid") {
        return back(
            "invalid_scope",
            "The authentication request has an invalid 'scope' parameter.",
        );
    }
    let challenge = get("code_challenge").to_owned();
    if challenge.is_empty() || get("code_challenge_method") != "S256" {
        return back(
            "invalid_request",
            "PKCE code challenge is required: 'code_challenge' with 'code_challenge_method' S256.",
        );
    }
    let hint = get("login_hint").trim().to_owned();
    let mut problem = String::new();
    if !hint.is_empty() {
        let user = shared
            .org()
            .find_user(&hint)
            .map(|u| (u.id.clone(), u.status == Status::Active));
        match user {
            Some((id, true)) => {
                let code = shared.opaque_id(43);
                let mut st = shared.oidc();
                st.prune();
                st.codes.insert(
                    code.clone(),
                    Grant {
                        user_id: id,
                        redirect_uri: redirect_uri.clone(),
                        nonce: p.get("nonce").cloned(),
                        challenge,
                        scope: get("scope").to_owned(),
                        expires: time::now().saturating_add(CODE_LIFETIME_MS),
                    },
                );
                let mut u = match url::Url::parse(&redirect_uri) {
                    Ok(u) => u,
                    Err(_) => return back("invalid_request", "bad redirect_uri"),
                };
                u.query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", &state);
                return redirect(u.as_str());
            }
            Some((_, false)) => problem = "This user is not active and cannot sign in.".into(),
            None => problem = "Unable to sign in: no such user.".into(),
        }
    }
    // The sign-in form: every other parameter rides along, the username becomes login_hint.
    let hidden: String = p
        .iter()
        .filter(|(k, _)| k.as_str() != "login_hint")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let error = if problem.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\" id=\"okta-error\">{}</p>", esc(&problem))
    };
    html(
        if problem.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        },
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign In</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head><body><main>\
<h1>Sign In (simulated Okta)</h1>{error}<form method=\"get\" action=\"{AS_PATH}/v1/authorize\">{hidden}\
<label for=\"okta-signin-username\">Username</label> \
<input id=\"okta-signin-username\" name=\"login_hint\" autocomplete=\"username\" value=\"{}\" autofocus> \
<button id=\"okta-signin-submit\" type=\"submit\">Sign In</button></form></main></body></html>",
            esc(&hint)
        ),
    )
}

/// The client the token request authenticates as: HTTP Basic, else the form's fields.
fn client(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let dec = |x: &str| {
                url::form_urlencoded::parse(format!("x={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((dec(id)?, dec(secret)?))
        });
    basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    })
}

fn claim_str(profile: &Value, k: &str) -> Value {
    profile.get(k).cloned().unwrap_or(Value::Null)
}

/// `POST /oauth2/default/v1/token`: the authorization-code grant.
pub async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(app) = shared.oidc().app.clone() else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        );
    };
    match client(&headers, &form) {
        Some((id, secret)) if id == app.client_id && secret == app.client_secret => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The client secret supplied for a confidential client is invalid.",
            );
        }
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let grant = {
        let mut st = shared.oidc();
        st.prune();
        st.codes.remove(&code)
    };
    let invalid_grant = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(grant) = grant else {
        return invalid_grant("The authorization code is invalid or has expired.");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return invalid_grant(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        );
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if verifier.len() < 43 || s256(&verifier) != grant.challenge {
        return invalid_grant("PKCE verification failed.");
    }
    let user = shared.org().find_user(&grant.user_id).map(|u| {
        (
            u.id.clone(),
            serde_json::from_str::<Value>(&u.profile).unwrap_or(Value::Null),
        )
    });
    let Some((user_id, profile)) = user else {
        return invalid_grant("The user no longer exists.");
    };
    let iss = issuer(&shared, &headers, &uri);
    let now_s = time::now() / 1000;
    let lifetime = i64::try_from(app.token_lifetime.as_secs()).unwrap_or(3600);
    let name = format!(
        "{} {}",
        profile
            .get("firstName")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        profile
            .get("lastName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    let mut claims = json!({
        "sub": user_id, "ver": 1, "iss": iss, "aud": app.client_id, "iat": now_s,
        "exp": now_s + lifetime, "jti": format!("ID.{}", shared.opaque_id(43)),
        "amr": ["pwd"], "idp": shared.opaque_id(20), "auth_time": now_s,
    });
    if let Some(n) = &grant.nonce {
        claims["nonce"] = json!(n);
    }
    let scopes: Vec<&str> = grant.scope.split_whitespace().collect();
    if scopes.contains(&"profile") {
        claims["name"] = json!(name.trim());
        claims["preferred_username"] = claim_str(&profile, "login");
    }
    if scopes.contains(&"email") {
        claims["email"] = claim_str(&profile, "email");
    }
    let access_token = format!("eyJsimAT.{}", shared.opaque_id(40));
    let mut st = shared.oidc();
    let kid_seed = shared.opaque_id(20);
    let Some(id_token) = st.signer(|| kid_seed).and_then(|s| s.sign(&claims)) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The signing key is unavailable.",
        );
    };
    st.tokens.insert(
        access_token.clone(),
        (user_id, time::now().saturating_add(lifetime * 1000)),
    );
    st.id_tokens += 1;
    respond::json(
        json!({
            "token_type": "Bearer", "expires_in": lifetime, "access_token": access_token,
            "scope": grant.scope, "id_token": id_token,
        })
        .to_string(),
    )
}

/// `GET /oauth2/default/v1/keys`.
pub async fn keys(State(shared): State<Arc<Shared>>) -> Response {
    let kid_seed = shared.opaque_id(20);
    let mut st = shared.oidc();
    let keys: Vec<Value> = st
        .signer(|| kid_seed)
        .map(|s| s.jwk())
        .into_iter()
        .collect();
    respond::json(json!({ "keys": keys }).to_string())
}

/// `GET /oauth2/default/v1/userinfo` with `Authorization: Bearer ACCESS_TOKEN`.
pub async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let found = {
        let mut st = shared.oidc();
        st.prune();
        st.tokens.get(&token).map(|(u, _)| u.clone())
    };
    let Some(user_id) = found else {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer error=\"invalid_token\", error_description=\"The access token is invalid.\"",
            ),
        );
        return r;
    };
    let profile = shared
        .org()
        .find_user(&user_id)
        .and_then(|u| serde_json::from_str::<Value>(&u.profile).ok())
        .unwrap_or(Value::Null);
    respond::json(
        json!({
            "sub": user_id,
            "name": format!("{} {}",
                profile.get("firstName").and_then(Value::as_str).unwrap_or_default(),
                profile.get("lastName").and_then(Value::as_str).unwrap_or_default()).trim(),
            "preferred_username": claim_str(&profile, "login"),
            "given_name": claim_str(&profile, "firstName"),
            "family_name": claim_str(&profile, "lastName"),
            "email": claim_str(&profile, "email"),
            "email_verified": true,
        })
        .to_string(),
    )
}
