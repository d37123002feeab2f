//! Credentials for Okta: an SSWS API token, or an OAuth 2.0 service app (`client_credentials`
//! with a `private_key_jwt` assertion) whose access token is cached until shortly before it
//! expires, with DPoP when the token endpoint asks for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::dpop::DpopKey;
use super::error::{self, OktaError};
use super::jose::{self, SigningKey};
use crate::secret::Secret;

/// The scopes a mirror needs, requested when none are configured.
pub const DEFAULT_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.logs.read"];

/// How the mirror signs in to Okta.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: SSWS <token>`.
    Ssws(Secret),
    /// An API Services app.
    OAuth(OAuthConfig),
}

/// An OAuth service app as configured; the key texts stay secret until parsed.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// The service app's Client ID (`0oa…`), sent as the assertion's `iss` and `sub`.
    pub client_id: String,
    /// The client-authentication private key (PEM or JWK text).
    pub private_key: Secret,
    /// `kid` of the registered public key; needed when the app has several.
    pub key_id: Option<String>,
    /// Okta API scopes to request, such as `okta.users.read`.
    pub scopes: Vec<String>,
    /// A separate DPoP private key; without one a fresh key is made when DPoP is required.
    pub dpop_key: Option<Secret>,
    /// The file `private_key` was read from: read again before a token request when it
    /// changed, so `oktamirror setup --rotate-key` swaps the key under a running mirror.
    pub key_file: Option<std::path::PathBuf>,
}

/// An access token ready for one request.
#[derive(Clone)]
pub struct Credential {
    pub token: Secret,
    /// Set when the token is DPoP-bound: every call then carries a proof from this key.
    pub dpop: Option<Arc<DpopKey>>,
    /// Which token this is, so a rejected one is replaced once, not once per waiting request.
    pub generation: u64,
}

impl Credential {
    pub fn authorization(&self) -> Secret {
        let scheme = if self.dpop.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        Secret::new(format!("{scheme} {}", self.token.expose()))
    }
}

/// The client-authentication key in use and the version of its file it came from.
struct LoadedKey {
    key: Arc<SigningKey>,
    kid: Option<String>,
    stamp: Option<KeyFileStamp>,
}

/// What tells one version of the key file from another without reading it (an atomic
/// replace changes the inode, an edit the time or length).
type KeyFileStamp = (Option<std::time::SystemTime>, u64, u64);

fn key_file_stamp(path: &std::path::Path) -> Option<KeyFileStamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some((m.modified().ok(), m.len(), inode))
}

struct Cached {
    cred: Credential,
    renew_at: Instant,
}

/// Mints and caches access tokens for one service app.
pub struct TokenSource {
    client_id: String,
    key: std::sync::Mutex<LoadedKey>,
    /// `okta_key_id` as configured: the `kid` for a key file that names none.
    configured_kid: Option<String>,
    key_file: Option<std::path::PathBuf>,
    scopes: String,
    token_url: Url,
    dpop: std::sync::Mutex<Option<Arc<DpopKey>>>,
    cache: tokio::sync::Mutex<Option<Cached>>,
    generation: AtomicU64,
}

/// How long a token is used, from `expires_in`, kept within a minute and a day: Okta's tokens
/// last an hour, and an absurd value must neither mint a token per request nor keep one (or
/// overflow `Instant`) for ever.
fn lifetime(expires_in: u64) -> Duration {
    Duration::from_secs(expires_in.clamp(60, 24 * 3600))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: u64,
    #[serde(default)]
    scope: Option<String>,
}

impl TokenSource {
    /// Parses the keys. `base` is the org URL: tokens come from its org authorization server.
    pub fn new(base: &Url, cfg: &OAuthConfig) -> Result<TokenSource, OktaError> {
        let parsed =
            SigningKey::parse(cfg.private_key.expose()).map_err(|detail| OktaError::Key {
                setting: "okta_private_key_file",
                detail,
            })?;
        let dpop = match &cfg.dpop_key {
            Some(text) => {
                let k = SigningKey::parse(text.expose()).map_err(|detail| OktaError::Key {
                    setting: "okta_dpop_key_file",
                    detail,
                })?;
                Some(Arc::new(DpopKey::new(k.key)))
            }
            None => None,
        };
        let mut token_url = base.clone();
        token_url.set_path("/oauth2/v1/token");
        token_url.set_query(None);
        let scopes = if cfg.scopes.is_empty() {
            DEFAULT_SCOPES.join(" ")
        } else {
            cfg.scopes.join(" ")
        };
        Ok(TokenSource {
            client_id: cfg.client_id.clone(),
            key: std::sync::Mutex::new(LoadedKey {
                key: Arc::new(parsed.key),
                kid: cfg.key_id.clone().or(parsed.kid),
                stamp: cfg.key_file.as_deref().and_then(key_file_stamp),
            }),
            configured_kid: cfg.key_id.clone(),
            key_file: cfg.key_file.clone(),
            scopes,
            token_url,
            dpop: std::sync::Mutex::new(dpop),
            cache: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    /// The key to sign the next assertion with: the key file is read again when it changed
    /// since it was last read (a bad new file is reported and the previous key kept).
    fn signing_key(&self) -> (Arc<SigningKey>, Option<String>) {
        let mut k = self
            .key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.key_file {
            let now = key_file_stamp(path);
            if now.is_some() && now != k.stamp {
                k.stamp = now;
                let parsed = std::fs::read_to_string(path)
                    .map_err(|e| e.to_string())
                    .and_then(|text| SigningKey::parse(&text));
                match parsed {
                    Ok(p) => {
                        k.kid = p.kid.or_else(|| self.configured_kid.clone());
                        k.key = Arc::new(p.key);
                        tracing::info!(
                            file = %path.display(),
                            "the OAuth private key file changed; signing with the new key"
                        );
                    }
                    Err(detail) => tracing::warn!(
                        file = %path.display(),
                        detail,
                        "the OAuth private key file changed but holds no usable key; keeping the previous key"
                    ),
                }
            }
        }
        (k.key.clone(), k.kid.clone())
    }

    /// Access tokens minted so far.
    pub fn minted(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    fn dpop_key(&self) -> Option<Arc<DpopKey>> {
        self.dpop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A valid token: the cached one, or a new one when it is due for renewal or when
    /// `rejected` names the generation the server just turned down.
    pub async fn credential(
        &self,
        http: &reqwest::Client,
        rejected: Option<u64>,
    ) -> Result<Credential, OktaError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            let stale = rejected.is_some_and(|g| g >= c.cred.generation);
            if !stale && Instant::now() < c.renew_at {
                return Ok(c.cred.clone());
            }
        }
        let (resp, dpop) = self.mint(http).await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        // Renew a little early (a tenth of the lifetime, at most a minute) so a crawl never
        // sends a token that expires in flight; Okta's tokens last an hour.
        let life = lifetime(resp.expires_in);
        let margin = (life / 10).min(Duration::from_secs(60));
        let dpop_bound = resp.token_type.eq_ignore_ascii_case("DPoP");
        if let Some(granted) = &resp.scope {
            let missing: Vec<&str> = self
                .scopes
                .split(' ')
                .filter(|s| !granted.split(' ').any(|g| g == *s))
                .collect();
            if !missing.is_empty() {
                tracing::warn!(
                    missing = missing.join(" "),
                    "Okta issued a token without some requested scopes; grant them on the service app's Okta API Scopes tab"
                );
            }
        }
        let cred = Credential {
            token: Secret::new(resp.access_token),
            dpop: if dpop_bound { dpop } else { None },
            generation,
        };
        tracing::debug!(generation, dpop = dpop_bound, "minted an Okta access token");
        *cache = Some(Cached {
            cred: cred.clone(),
            renew_at: Instant::now() + life - margin,
        });
        Ok(cred)
    }

    /// One token request, with the DPoP dance: a proof when the server requires one, then
    /// again with the nonce it hands out. Each attempt signs a fresh assertion (new `jti`).
    async fn mint(
        &self,
        http: &reqwest::Client,
    ) -> Result<(TokenResponse, Option<Arc<DpopKey>>), OktaError> {
        for _ in 0..4 {
            let dpop = self.dpop_key();
            let mut req = http
                .post(self.token_url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(self.form()?);
            if let Some(k) = &dpop {
                let proof =
                    k.proof("POST", &self.token_url, None)
                        .map_err(|detail| OktaError::Key {
                            setting: "okta_dpop_key_file",
                            detail,
                        })?;
                req = req.header("dpop", proof.expose());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| error::from_transport(&e, &self.token_url, 30))?;
            let status = resp.status().as_u16();
            let nonce = resp
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let request_id = resp
                .headers()
                .get("x-okta-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = resp.bytes().await.map_err(|e| OktaError::Body {
                path: self.token_url.path().to_owned(),
                detail: format!("the body was cut off ({e})"),
            })?;
            if (200..300).contains(&status) {
                let t: TokenResponse =
                    serde_json::from_slice(&body).map_err(|e| OktaError::Body {
                        path: self.token_url.path().to_owned(),
                        detail: e.to_string(),
                    })?;
                return Ok((t, dpop));
            }
            let err: error::OAuthErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            tracing::warn!(
                status,
                request_id,
                error = err.error,
                "Okta token request failed"
            );
            match (err.error.as_str(), &dpop, nonce) {
                ("use_dpop_nonce", Some(k), Some(n)) => k.set_nonce(&n),
                ("invalid_dpop_proof", None, _) => {
                    // The app requires DPoP: make a key (separate from the client key) and retry.
                    let k = SigningKey::generate_ec().map_err(|detail| OktaError::Key {
                        setting: "okta_dpop_key_file",
                        detail,
                    })?;
                    *self
                        .dpop
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(Arc::new(DpopKey::new(k)));
                }
                _ if status >= 500 => {
                    return Err(OktaError::Status {
                        status,
                        code: err.error,
                        summary: err.error_description,
                        path: self.token_url.path().to_owned(),
                        request_id,
                    });
                }
                _ => return Err(error::from_oauth(status, &err, &self.scopes)),
            }
        }
        Err(OktaError::InvalidDpopProof {
            detail: "the token endpoint kept asking for a new DPoP nonce".into(),
        })
    }

    /// The form body, with a freshly signed client assertion.
    fn form(&self) -> Result<String, OktaError> {
        let now = chrono::Utc::now().timestamp();
        let jti = jose::random_id().map_err(|detail| OktaError::Key {
            setting: "okta_private_key_file",
            detail,
        })?;
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id,
            "aud": self.token_url.as_str(),
            "iat": now, "exp": now + 300, "jti": jti,
        });
        let (key, kid) = self.signing_key();
        let mut header = json!({ "typ": "JWT" });
        if let Some(kid) = &kid {
            header["kid"] = kid.as_str().into();
        }
        let assertion = key
            .sign_jwt(header, &claims)
            .map_err(|detail| OktaError::Key {
                setting: "okta_private_key_file",
                detail,
            })?;
        Ok(url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", &self.scopes)
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion)
            .finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetime_is_clamped() {
        assert_eq!(lifetime(3600), Duration::from_secs(3600));
        assert_eq!(lifetime(0), Duration::from_secs(60));
        assert_eq!(lifetime(u64::MAX), Duration::from_secs(24 * 3600));
        // The renewal time of the longest lifetime is a valid instant.
        assert!(Instant::now().checked_add(lifetime(u64::MAX)).is_some());
    }
}
