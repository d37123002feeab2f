//! Sign-in with Okta for the directory (OpenID Connect, authorization code with PKCE) and the
//! browser session it leaves: an HMAC-signed cookie (key kept owner-only in the data
//! directory), HttpOnly, SameSite=Lax, Secure when served over TLS, that makes the browser a
//! `directory` caller until it expires or the person signs out. The ID token is verified here:
//! RS256 signature against the issuer's JWKS, `iss`, `aud`, `exp` and the `nonce`.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::html;
use crate::access::{Caller, Role};
use crate::api::Shared;
use crate::secret::Secret;

/// How long a browser session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a sign-in may take between leaving for Okta and coming back.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);
/// Clock skew tolerated on the ID token's `exp` and `iat`.
const LEEWAY: u64 = 60;
const SESSION_COOKIE: &str = "om_session";
const PENDING_COOKIE: &str = "om_signin";
/// The session key's file in the data directory.
pub const KEY_FILE: &str = "web-session.key";

/// Sign-in settings (`oidc_*`).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The authorization server (`{okta_url}/oauth2/default` unless `oidc_issuer` says).
    pub issuer: url::Url,
    /// The OIDC web app's client id (`oidc_client_id`).
    pub client_id: String,
    /// Its client secret (`oidc_client_secret_file`).
    pub client_secret: Secret,
    /// Where Okta sends the browser back (`oidc_redirect_url`); `None` derives
    /// `{scheme}://{Host}/auth/callback` from each request.
    pub redirect_url: Option<url::Url>,
    /// Mark cookies `Secure`: on when the server serves TLS or the redirect URL is https.
    pub secure_cookies: bool,
}

/// What a signed-in browser is, as a request extension on directory pages.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The person's Okta login (`preferred_username`).
    pub login: String,
    /// The token the logout form must send back (the session's, never in a URL).
    pub csrf: String,
}

#[derive(Serialize, Deserialize)]
struct Session {
    login: String,
    csrf: String,
    exp: u64,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    redirect_uri: String,
    exp: u64,
}

/// One RSA key of the issuer: `kid`, modulus and exponent (big-endian).
type RsaJwk = (String, Vec<u8>, Vec<u8>);

#[derive(Clone, Debug)]
struct Provider {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// The server's sign-in: settings, the session key and what it learnt from the issuer.
pub struct SignIn {
    settings: OidcSettings,
    key: hmac::Key,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Provider>>,
    /// The issuer's RSA keys, from its JWKS.
    keys: tokio::sync::Mutex<Vec<RsaJwk>>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "the system random source failed".to_owned())?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// The session key from `data_dir/web-session.key`, created (owner-only) on first use.
fn session_key(data_dir: &FsPath) -> Result<Vec<u8>, String> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| {
                format!(
                    "{} is not a session key: delete it and a new one is made (everyone signs in again)",
                    path.display()
                )
            })?;
            if key.len() < 32 {
                return Err(format!(
                    "{} holds a key shorter than 32 bytes: delete it and a new one is made",
                    path.display()
                ));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_token()?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            use std::io::Write as _;
            let mut f = opts
                .open(&path)
                .map_err(|e| format!("cannot create the session key {}: {e}", path.display()))?;
            f.write_all(token.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("cannot write the session key {}: {e}", path.display()))?;
            URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| "a fresh session key did not decode".to_owned())
        }
        Err(e) => Err(format!(
            "cannot read the session key {}: {e}",
            path.display()
        )),
    }
}

impl SignIn {
    /// Sign-in with `settings`, its sessions signed with the key in `data_dir` (made when
    /// missing).
    pub fn new(settings: OidcSettings, data_dir: &FsPath) -> Result<SignIn, String> {
        let key = session_key(data_dir)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the sign-in HTTP client: {e}"))?;
        Ok(SignIn {
            settings,
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            http,
            provider: tokio::sync::Mutex::new(None),
            keys: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    fn seal<T: Serialize>(&self, value: &T) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default());
        let tag = hmac::sign(&self.key, format!("v1.{body}").as_bytes());
        format!("v1.{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn open<T: for<'de> Deserialize<'de>>(&self, sealed: &str) -> Option<T> {
        let rest = sealed.strip_prefix("v1.")?;
        let (body, tag) = rest.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, format!("v1.{body}").as_bytes(), &tag).ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }

    /// The caller a request's session cookie makes, if it holds a live session.
    pub fn session(&self, headers: &HeaderMap) -> Option<(Caller, SignedIn)> {
        let s: Session = self.open(&cookie(headers, SESSION_COOKIE)?)?;
        if s.exp <= now() {
            return None;
        }
        Some((
            Caller {
                name: Some(format!("web:{}", s.login)),
                role: Role::Directory,
            },
            SignedIn {
                login: s.login,
                csrf: s.csrf,
            },
        ))
    }

    fn cookie(&self, name: &str, value: &str, path: &str, max_age: u64) -> HeaderValue {
        let secure = if self.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        ))
        .unwrap_or(HeaderValue::from_static("om_invalid=; Max-Age=0"))
    }

    async fn provider(&self) -> Result<Provider, String> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let issuer = self
            .settings
            .issuer
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let url = format!("{issuer}/.well-known/openid-configuration");
        let doc: Value = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot read the issuer's OpenID configuration at {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the OpenID configuration at {url} is not JSON: {e}"))?;
        let field = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("the OpenID configuration at {url} has no \"{k}\""))
        };
        let p = Provider {
            issuer: field("issuer")?,
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            jwks_uri: field("jwks_uri")?,
        };
        if p.issuer.trim_end_matches('/') != issuer {
            return Err(format!(
                "the OpenID configuration at {url} names the issuer {:?}, not {issuer:?}: set oidc_issuer to the authorization server's issuer",
                p.issuer
            ));
        }
        *cached = Some(p.clone());
        Ok(p)
    }

    /// The RSA key `kid` from the issuer's JWKS (read again once when it is not known: keys
    /// rotate).
    async fn jwk(&self, p: &Provider, kid: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
        let mut keys = self.keys.lock().await;
        if let Some((_, n, e)) = keys.iter().find(|(k, _, _)| k == kid) {
            return Ok((n.clone(), e.clone()));
        }
        let doc: Value = self
            .http
            .get(&p.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot read the issuer's keys at {}: {e}", p.jwks_uri))?
            .json()
            .await
            .map_err(|e| format!("the keys at {} are not JSON: {e}", p.jwks_uri))?;
        *keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .map(|ks| {
                ks.iter()
                    .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
                    .filter_map(|k| {
                        let b = |f: &str| {
                            k.get(f)
                                .and_then(Value::as_str)
                                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                        };
                        Some((k.get("kid")?.as_str()?.to_owned(), b("n")?, b("e")?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        keys.iter()
            .find(|(k, _, _)| k == kid)
            .map(|(_, n, e)| (n.clone(), e.clone()))
            .ok_or_else(|| format!("the issuer's keys have no RSA key with kid {kid:?}"))
    }

    /// Checks an ID token: RS256 signed by the issuer's key, for this client, live, with
    /// `nonce`. Returns its claims.
    async fn verify(&self, p: &Provider, token: &str, nonce: &str) -> Result<Value, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the ID token is not a compact JWS".into());
        };
        let decode = |x: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(x)
                .map_err(|_| format!("the ID token's {what} is not base64url"))
        };
        let header: Value = serde_json::from_slice(&decode(h, "header")?)
            .map_err(|_| "the ID token's header is not JSON".to_owned())?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err("the ID token is not signed with RS256".into());
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (n, e) = self.jwk(p, kid).await?;
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                format!("{h}.{c}").as_bytes(),
                &decode(s, "signature")?,
            )
            .map_err(|_| "the ID token's signature does not verify".to_owned())?;
        let claims: Value = serde_json::from_slice(&decode(c, "claims")?)
            .map_err(|_| "the ID token's claims are not JSON".to_owned())?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if iss.trim_end_matches('/') != p.issuer.trim_end_matches('/') {
            return Err(format!(
                "the ID token's issuer is {iss:?}, not {:?}",
                p.issuer
            ));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.settings.client_id,
            Some(Value::Array(a)) => a
                .iter()
                .any(|x| x.as_str() == Some(&self.settings.client_id)),
            _ => false,
        };
        if !aud_ok {
            return Err("the ID token was issued for another client".into());
        }
        let t = now();
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        if exp + LEEWAY <= t {
            return Err("the ID token has expired".into());
        }
        if claims
            .get("iat")
            .and_then(Value::as_u64)
            .is_some_and(|iat| iat > t + LEEWAY)
        {
            return Err("the ID token was issued in the future (check the clock)".into());
        }
        let given = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), nonce.as_bytes())
            .is_err()
        {
            return Err("the ID token's nonce is not this sign-in's".into());
        }
        Ok(claims)
    }
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A local path to return to after sign-in; anything else (another origin, `//host`) is `/`.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".into(),
    }
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn message_page(status: StatusCode, title: &str, text: &str, link: (&str, &str)) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"{}\">{}</a></p>",
        html::esc(title),
        html::esc(text),
        html::esc(link.0),
        html::esc(link.1)
    );
    let page = html::page(
        title,
        "",
        false,
        &html::Viewer {
            signed_in: None,
            csrf: None,
        },
        &body,
    );
    let mut r = (status, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn sign_in_off() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Sign-in is off",
        "This mirror has no sign-in configured (oidc_client_id and oidc_client_secret_file).",
        ("/", "Back"),
    )
}

/// Where the browser is sent to sign in, for a directory page requested without a session.
pub(crate) fn login_redirect(path_and_query: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    see_other(&format!("/auth/login?next={next}"))
}

#[derive(Deserialize)]
pub(crate) struct LoginParams {
    next: Option<String>,
}

/// `GET /auth/login?next=PATH`: starts a sign-in: state, nonce and PKCE verifier in a short
/// signed cookie, then off to the issuer's authorize endpoint.
pub(crate) async fn login(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<LoginParams>,
) -> Response {
    let Some(si) = shared.sign_in.clone() else {
        return sign_in_off();
    };
    let provider = match si.provider().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("sign-in cannot start: {e}");
            return message_page(
                StatusCode::BAD_GATEWAY,
                "Cannot reach Okta",
                &e,
                ("/auth/login", "Try again"),
            );
        }
    };
    let redirect_uri = match &si.settings.redirect_url {
        Some(u) => u.to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let scheme = if si.settings.secure_cookies {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}/auth/callback")
        }
    };
    let (Ok(state), Ok(nonce), Ok(verifier)) = (random_token(), random_token(), random_token())
    else {
        return message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot sign in",
            "the system random source failed",
            ("/auth/login", "Try again"),
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    );
    let Ok(mut authorize) = url::Url::parse(&provider.authorization_endpoint) else {
        return message_page(
            StatusCode::BAD_GATEWAY,
            "Cannot sign in",
            "the issuer's authorization_endpoint is not a URL",
            ("/", "Back"),
        );
    };
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &si.settings.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let pending = Pending {
        state,
        nonce,
        verifier,
        next: local_path(params.next.as_deref()),
        redirect_uri,
        exp: now() + SIGN_IN_WINDOW.as_secs(),
    };
    let mut r = see_other(authorize.as_str());
    r.headers_mut().append(
        header::SET_COOKIE,
        si.cookie(
            PENDING_COOKIE,
            &si.seal(&pending),
            "/auth",
            SIGN_IN_WINDOW.as_secs(),
        ),
    );
    r
}

#[derive(Deserialize)]
pub(crate) struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback?code&state`: checks the state against the pending cookie, redeems the
/// code with the PKCE verifier, verifies the ID token and starts the session.
pub(crate) async fn callback(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(si) = shared.sign_in.clone() else {
        return sign_in_off();
    };
    let again = ("/auth/login", "Sign in again");
    let fail = |text: &str| message_page(StatusCode::BAD_REQUEST, "Sign-in failed", text, again);
    if let Some(e) = params.error {
        return fail(&format!(
            "Okta refused the sign-in ({e}): {}",
            params.error_description.unwrap_or_default()
        ));
    }
    let Some(pending) = cookie(&headers, PENDING_COOKIE).and_then(|c| si.open::<Pending>(&c))
    else {
        return fail("this sign-in did not start here, or took too long: start again");
    };
    let state_ok = params.state.as_deref().is_some_and(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), pending.state.as_bytes())
            .is_ok()
    });
    if !state_ok || pending.exp <= now() {
        return fail(
            "the sign-in's state does not match this browser's (or it expired): start again",
        );
    }
    let Some(code) = params.code else {
        return fail("Okta sent no authorization code");
    };
    match finish(&si, &pending, &code).await {
        Ok(login) => {
            let Ok(csrf) = random_token() else {
                return fail("the system random source failed");
            };
            let session = Session {
                login,
                csrf,
                exp: now() + SESSION_LIFETIME.as_secs(),
            };
            let mut r = see_other(&pending.next);
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                si.cookie(
                    SESSION_COOKIE,
                    &si.seal(&session),
                    "/",
                    SESSION_LIFETIME.as_secs(),
                ),
            );
            h.append(
                header::SET_COOKIE,
                si.cookie(PENDING_COOKIE, "", "/auth", 0),
            );
            r
        }
        Err(e) => {
            tracing::warn!("a sign-in failed: {e}");
            fail(&e)
        }
    }
}

/// Redeems the code and verifies the ID token; the signed-in login.
async fn finish(si: &SignIn, pending: &Pending, code: &str) -> Result<String, String> {
    let p = si.provider().await?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("code_verifier", &pending.verifier)
        .finish();
    let resp = si
        .http
        .post(&p.token_endpoint)
        .basic_auth(
            &si.settings.client_id,
            Some(si.settings.client_secret.expose()),
        )
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(form)
        .send()
        .await
        .map_err(|e| format!("cannot reach the token endpoint: {e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|_| format!("the token endpoint answered {status} without JSON"))?;
    if !status.is_success() {
        return Err(format!(
            "the token endpoint refused the code ({}): {}",
            body.get("error").and_then(Value::as_str).unwrap_or("?"),
            body.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ));
    }
    let id_token = body
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or("the token endpoint sent no id_token: the app needs the openid scope")?;
    let claims = si.verify(&p, id_token, &pending.nonce).await?;
    claims
        .get("preferred_username")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            "the ID token has no preferred_username: grant the app the profile scope".into()
        })
}

/// The logout form's fields.
pub(crate) struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /auth/logout` (form field `csrf` = the session's token): ends the session.
pub(crate) async fn logout(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(si) = shared.sign_in.clone() else {
        return sign_in_off();
    };
    let form = logout_form(&body);
    let Some((_, signed)) = si.session(&headers) else {
        return see_other("/auth/signed-out");
    };
    let ok = form.csrf.as_deref().is_some_and(|c| {
        aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), signed.csrf.as_bytes())
            .is_ok()
    });
    if !ok {
        return message_page(
            StatusCode::FORBIDDEN,
            "Not signed out",
            "the sign-out form did not come from this directory's page",
            ("/", "Back"),
        );
    }
    let mut r = see_other("/auth/signed-out");
    r.headers_mut()
        .append(header::SET_COOKIE, si.cookie(SESSION_COOKIE, "", "/", 0));
    r
}

fn logout_form(body: &[u8]) -> LogoutForm {
    LogoutForm {
        csrf: url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned()),
    }
}

/// `GET /auth/signed-out`.
pub(crate) async fn signed_out() -> Response {
    message_page(
        StatusCode::OK,
        "Signed out",
        "You are signed out of the directory.",
        ("/auth/login", "Sign in"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/people/a?x=1")), "/people/a?x=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "x",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn sealed_values_open_only_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = OidcSettings {
            issuer: url::Url::parse("http://127.0.0.1:1/oauth2/default").expect("url"),
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            redirect_url: None,
            secure_cookies: false,
        };
        let si = SignIn::new(settings.clone(), dir.path()).expect("sign-in");
        let s = Session {
            login: "a@example.com".into(),
            csrf: "t".into(),
            exp: now() + 60,
        };
        let sealed = si.seal(&s);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {SESSION_COOKIE}={sealed}")).expect("header"),
        );
        let (caller, signed) = si.session(&headers).expect("a live session");
        assert_eq!(caller.role, Role::Directory);
        assert_eq!(signed.login, "a@example.com");
        // Any change to the body breaks the tag.
        let forged = sealed.replacen("v1.e", "v1.f", 1);
        assert!(si.open::<Session>(&forged).is_none());
        // The key persists (owner-only) and a second SignIn opens the same cookie.
        let again = SignIn::new(settings, dir.path()).expect("sign-in");
        assert!(again.open::<Session>(&sealed).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // An expired session is no session.
        let old = si.seal(&Session {
            login: "a".into(),
            csrf: "t".into(),
            exp: now() - 1,
        });
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{SESSION_COOKIE}={old}")).expect("header"),
        );
        assert!(si.session(&headers).is_none());
    }
}
