//! The Okta admin calls behind `oktamirror setup`: find, create and delete the mirror's API
//! Services app, grant its Okta API scopes, assign it the Read-Only Administrator role, and
//! add, deactivate and delete its public keys, all with a one-time SSWS admin token.
//!
//! Requests and shapes, from Okta's management OpenAPI spec (`okta/okta-management-openapi-spec`,
//! `dist/current/management-oneOfInheritance.yaml`, 2026.06.3):
//! - `GET /api/v1/apps?q=` (`listApplications`: `q` matches `name` or `label` by prefix);
//! - `POST /api/v1/apps` (`createApplication`) with an `OpenIdConnectApplication`:
//!   `name: oidc_client`, `signOnMode: OPENID_CONNECT`,
//!   `credentials.oauthClient.token_endpoint_auth_method: private_key_jwt`,
//!   `settings.oauthClient` {`application_type: service`, `grant_types: [client_credentials]`,
//!   `response_types: [token]`, `jwks.keys` (`OpenIdConnectApplicationSettingsClientKeys`),
//!   `dpop_bound_access_tokens` (`OpenIdConnectApplicationSettingsClient`)}; the same shape as
//!   `okta/terraform-provider-okta` `examples/okta_app_oauth/service_with_jwks.tf`;
//! - `POST /api/v1/apps/{appId}/lifecycle/deactivate`, then `DELETE /api/v1/apps/{appId}`
//!   ("Deletes an inactive application");
//! - `GET|POST /api/v1/apps/{appId}/grants` (`grantConsentToScope`, body
//!   `{"issuer": "<org URL>", "scopeId": "okta.users.read"}`, example `AppGrantsPostEx`);
//! - `GET|POST /oauth2/v1/clients/{clientId}/roles` (`assignRoleToClient`, body
//!   `{"type": "READ_ONLY_ADMIN"}`, `StandardRoleAssignmentSchema`);
//! - `POST /api/v1/apps/{appId}/credentials/jwks` (`addJwk`, 201), `POST …/jwks/{keyId}/
//!   lifecycle/deactivate` (not the only active key of a `private_key_jwt` client), `DELETE
//!   …/jwks/{keyId}` (only an inactive key: `ErrorDeleteActiveJsonWebKey`).
//!
//! Only a Super Administrator may grant Okta API scopes and assign admin roles: others get
//! 403 `E0000006` (`ErrorAccessDenied`). The token is sent in `Authorization` and nowhere else.

use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use url::Url;

use super::jose::{b64url, sha256_b64url};
use crate::secret::Secret;

/// The label setup gives the app (and looks it up by).
pub const DEFAULT_LABEL: &str = "oktamirror";

/// The Okta API scopes the mirror needs: people, groups, the System Log and user types.
pub const SCOPES: [&str; 4] = [
    "okta.users.read",
    "okta.groups.read",
    "okta.logs.read",
    "okta.userTypes.read",
];

/// The admin role that lets the app read the whole directory and nothing more.
pub const ROLE: &str = "READ_ONLY_ADMIN";

/// Roles that already cover what the mirror reads (an app given one needs no other).
const COVERING_ROLES: [&str; 3] = ["READ_ONLY_ADMIN", "ORG_ADMIN", "SUPER_ADMIN"];

/// Why an admin call failed, as one sentence with its fix. Never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "Okta rejected the admin token (E0000011) while trying to {action}: it is invalid, expired or revoked. Create a new API token while signed in as a super admin (Admin Console → Security → API → Tokens) and pass it on standard input or in OKTA_API_TOKEN"
    )]
    /// 401: the admin token is invalid, expired or revoked.
    TokenRejected {
        /// What setup was doing, as a verb phrase.
        action: String,
    },
    #[error(
        "the admin token may not {action} (403 E0000006: You do not have permission to perform the requested action): creating the app, granting Okta API scopes and assigning admin roles need a Super Administrator. Create the one-time token while signed in as a super admin (Admin Console → Security → API → Tokens) and run setup again"
    )]
    /// 403 `E0000006`: the token's admin is not a super admin.
    NotSuperAdmin {
        /// What setup was doing, as a verb phrase.
        action: String,
    },
    #[error(
        "Okta answered {status} {code} when trying to {action}: {summary} (request id {request_id})"
    )]
    /// Any other error answer.
    Okta {
        /// What setup was doing, as a verb phrase.
        action: String,
        /// The HTTP status.
        status: u16,
        /// Okta's `errorCode`.
        code: String,
        /// Okta's `errorSummary` with its causes.
        summary: String,
        /// `X-Okta-Request-Id`, for Okta support.
        request_id: String,
    },
    #[error("cannot reach Okta at {url} to {action}: {detail}. Check --okta-url")]
    /// Okta could not be reached.
    Transport {
        /// What setup was doing, as a verb phrase.
        action: String,
        /// The org's origin.
        url: String,
        /// The transport error.
        detail: String,
    },
    #[error("Okta's answer to {action} is not what setup expected: {detail}")]
    /// A 2xx answer without what setup needs.
    Unexpected {
        /// What setup was doing, as a verb phrase.
        action: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// Key generation failed.
    #[error("cannot make a key pair: {0}")]
    Key(String),
}

/// The app as setup needs to know it.
#[derive(Debug, Clone)]
pub struct AppInfo {
    /// The app id, which is also the OAuth `client_id` of an OIDC app.
    pub id: String,
    /// The OAuth `client_id` (`credentials.oauthClient.client_id`; the app id for OIDC apps).
    pub client_id: String,
    /// The label it is found by.
    pub label: String,
    /// ACTIVE (tokens are issued) or not.
    pub active: bool,
    /// Whether its tokens are DPoP-bound.
    pub dpop_bound: bool,
    /// Its registered public keys.
    pub keys: Vec<KeyInfo>,
}

/// One registered public key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Okta's id of the key (`pks…`), used in the jwks paths.
    pub id: String,
    /// The `kid` assertions name.
    pub kid: String,
    /// ACTIVE keys verify assertions.
    pub active: bool,
}

/// A freshly generated ES256 key pair: the private JWK (for the key file, with its `kid`)
/// and the public JWK (for Okta).
pub struct NewKey {
    /// The private JWK text, for the owner-only key file.
    pub private_jwk: Secret,
    /// The public JWK, for Okta.
    pub public_jwk: Value,
    /// The key's `kid`.
    pub kid: String,
}

impl NewKey {
    /// A new P-256 key; its `kid` is the RFC 7638 thumbprint of the public key.
    pub fn generate() -> Result<NewKey, SetupError> {
        let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| SetupError::Key("the system random source failed".into()))?;
        let point = kp.public_key().as_ref();
        let coords = point.get(1..).unwrap_or_default();
        let (x, y) = coords.split_at(coords.len() / 2);
        let d: EcPrivateKeyBin = kp
            .private_key()
            .as_be_bytes()
            .map_err(|_| SetupError::Key("cannot export the private key".into()))?;
        let (x, y) = (b64url(x), b64url(y));
        let kid = sha256_b64url(
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#).as_bytes(),
        );
        let public_jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "alg": "ES256", "use": "sig",
        });
        let mut private = public_jwk.clone();
        private["d"] = b64url(d.as_ref()).into();
        Ok(NewKey {
            private_jwk: Secret::new(format!("{private:#}\n")),
            public_jwk,
            kid,
        })
    }
}

/// The `kid` and public JWK of a private key file's text (PEM or JWK).
pub fn parse_key(text: &str) -> Result<(Option<String>, Value), String> {
    let parsed = super::jose::SigningKey::parse(text)?;
    let mut public = parsed.key.public_jwk();
    if let Some(kid) = &parsed.kid {
        public["kid"] = kid.as_str().into();
    }
    public["alg"] = parsed.key.alg().into();
    public["use"] = "sig".into();
    Ok((parsed.kid, public))
}

/// The admin session: one org, one token.
pub struct Admin {
    http: reqwest::Client,
    base: Url,
    token: Secret,
}

fn app_info(v: &Value) -> Option<AppInfo> {
    let keys = v
        .pointer("/settings/oauthClient/jwks/keys")
        .and_then(Value::as_array)
        .map(|ks| ks.iter().filter_map(key_info).collect())
        .unwrap_or_default();
    let id = v.get("id")?.as_str()?.to_owned();
    Some(AppInfo {
        client_id: v
            .pointer("/credentials/oauthClient/client_id")
            .and_then(Value::as_str)
            .unwrap_or(&id)
            .to_owned(),
        id,
        label: v
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        active: v.get("status").and_then(Value::as_str) == Some("ACTIVE"),
        dpop_bound: v
            .pointer("/settings/oauthClient/dpop_bound_access_tokens")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        keys,
    })
}

fn key_info(v: &Value) -> Option<KeyInfo> {
    Some(KeyInfo {
        id: v.get("id")?.as_str()?.to_owned(),
        kid: v
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        active: v.get("status").and_then(Value::as_str) != Some("INACTIVE"),
    })
}

impl Admin {
    /// A session on the org at `base` with an SSWS admin token.
    pub fn new(base: Url, token: Secret) -> Result<Admin, SetupError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("oktamirror/", env!("CARGO_PKG_VERSION"), " setup"))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SetupError::Transport {
                action: "start an HTTP client".into(),
                url: base.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Admin { http, base, token })
    }

    /// The org URL without a trailing slash: what grants name as `issuer`.
    pub fn org(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// One admin call; `Ok(None)` for a 204.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        action: &str,
    ) -> Result<Option<Value>, SetupError> {
        let mut url = self.base.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self
            .http
            .request(method, url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::AUTHORIZATION,
                format!("SSWS {}", self.token.expose()),
            );
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| SetupError::Transport {
            action: action.to_owned(),
            url: format!("{}://{}", url.scheme(), url.authority()),
            detail: e.without_url().to_string(),
        })?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let bytes = resp.bytes().await.map_err(|e| SetupError::Transport {
            action: action.to_owned(),
            url: format!("{}://{}", url.scheme(), url.authority()),
            detail: e.without_url().to_string(),
        })?;
        if status == 204 {
            return Ok(None);
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(Some(v));
        }
        let code = v
            .get("errorCode")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let action = action.to_owned();
        Err(match (status, code.as_str()) {
            (401, _) => SetupError::TokenRejected { action },
            (403, "E0000006") => SetupError::NotSuperAdmin { action },
            _ => {
                let mut summary = v
                    .get("errorSummary")
                    .and_then(Value::as_str)
                    .unwrap_or("(no summary)")
                    .to_owned();
                let causes: Vec<&str> = v
                    .get("errorCauses")
                    .and_then(Value::as_array)
                    .map(|cs| {
                        cs.iter()
                            .filter_map(|c| c.get("errorSummary").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                if !causes.is_empty() {
                    summary = format!("{summary} ({})", causes.join("; "));
                }
                SetupError::Okta {
                    action,
                    status,
                    code: if code.is_empty() {
                        "(no error code)".into()
                    } else {
                        code
                    },
                    summary,
                    request_id,
                }
            }
        })
    }

    fn unexpected(action: &str, detail: &str) -> SetupError {
        SetupError::Unexpected {
            action: action.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// The OIDC apps labelled exactly `label`.
    pub async fn find_apps(&self, label: &str) -> Result<Vec<AppInfo>, SetupError> {
        let action = format!("list the apps labelled \"{label}\"");
        let v = self
            .call(
                reqwest::Method::GET,
                "/api/v1/apps",
                &[("q", label), ("limit", "200")],
                None,
                &action,
            )
            .await?;
        let list = v
            .as_ref()
            .and_then(Value::as_array)
            .ok_or_else(|| Self::unexpected(&action, "not a list of apps"))?;
        Ok(list
            .iter()
            .filter(|a| {
                a.get("label").and_then(Value::as_str) == Some(label)
                    && a.get("signOnMode").and_then(Value::as_str) == Some("OPENID_CONNECT")
            })
            .filter_map(app_info)
            .collect())
    }

    /// Registers the API Services app with one public key.
    pub async fn create_app(
        &self,
        label: &str,
        public_jwk: &Value,
        dpop: bool,
    ) -> Result<AppInfo, SetupError> {
        let action = "create the API Services app";
        let body = json!({
            "name": "oidc_client",
            "label": label,
            "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"token_endpoint_auth_method": "private_key_jwt"}},
            "settings": {"oauthClient": {
                "application_type": "service",
                "grant_types": ["client_credentials"],
                "response_types": ["token"],
                "dpop_bound_access_tokens": dpop,
                "jwks": {"keys": [public_jwk]},
            }},
        });
        let v = self
            .call(
                reqwest::Method::POST,
                "/api/v1/apps",
                &[("activate", "true")],
                Some(&body),
                action,
            )
            .await?;
        v.as_ref()
            .and_then(app_info)
            .ok_or_else(|| Self::unexpected(action, "the created app has no id"))
    }

    /// The app with id `id`.
    pub async fn get_app(&self, id: &str) -> Result<AppInfo, SetupError> {
        let action = format!("read app {id}");
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/apps/{id}"),
                &[],
                None,
                &action,
            )
            .await?;
        v.as_ref()
            .and_then(app_info)
            .ok_or_else(|| Self::unexpected(&action, "not an app"))
    }

    /// The Okta API scopes granted to the app.
    pub async fn granted(&self, app_id: &str) -> Result<Vec<String>, SetupError> {
        self.list_of(
            &format!("/api/v1/apps/{app_id}/grants"),
            "scopeId",
            "list the app's Okta API scope grants",
            "not a list of grants",
        )
        .await
    }

    /// GETs the list at `path` and returns each item's string `field` (items without one are
    /// skipped); an answer that is not a list is `unexpected` with `what`.
    async fn list_of(
        &self,
        path: &str,
        field: &str,
        action: &str,
        what: &str,
    ) -> Result<Vec<String>, SetupError> {
        let v = self
            .call(reqwest::Method::GET, path, &[], None, action)
            .await?;
        Ok(v.as_ref()
            .and_then(Value::as_array)
            .ok_or_else(|| Self::unexpected(action, what))?
            .iter()
            .filter_map(|i| i.get(field).and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// Grants one Okta API scope (super admins only).
    pub async fn grant(&self, app_id: &str, scope: &str) -> Result<(), SetupError> {
        let body = json!({"issuer": self.org(), "scopeId": scope});
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/apps/{app_id}/grants"),
            &[],
            Some(&body),
            &format!("grant the app the Okta API scope {scope}"),
        )
        .await
        .map(|_| ())
    }

    /// The admin roles assigned to the app's client.
    pub async fn roles(&self, client_id: &str) -> Result<Vec<String>, SetupError> {
        self.list_of(
            &format!("/oauth2/v1/clients/{client_id}/roles"),
            "type",
            "list the app's admin roles",
            "not a list of roles",
        )
        .await
    }

    /// Assigns a standard admin role to the app's client (super admins only).
    pub async fn assign_role(&self, client_id: &str, role: &str) -> Result<(), SetupError> {
        self.call(
            reqwest::Method::POST,
            &format!("/oauth2/v1/clients/{client_id}/roles"),
            &[],
            Some(&json!({"type": role})),
            &format!("assign the app the {role} role"),
        )
        .await
        .map(|_| ())
    }

    /// Grants the missing scopes and assigns the role unless one that covers it is there.
    /// Returns what it changed, for the report.
    pub async fn complete(&self, app: &AppInfo) -> Result<Vec<String>, SetupError> {
        let mut done = Vec::new();
        let granted = self.granted(&app.id).await?;
        for scope in SCOPES {
            if !granted.iter().any(|g| g == scope) {
                self.grant(&app.id, scope).await?;
                done.push(format!("granted {scope}"));
            }
        }
        let roles = self.roles(&app.client_id).await?;
        if !roles.iter().any(|r| COVERING_ROLES.contains(&r.as_str())) {
            self.assign_role(&app.client_id, ROLE).await?;
            done.push(format!("assigned the {ROLE} role"));
        }
        Ok(done)
    }

    /// Adds an active public key to the app.
    pub async fn add_key(&self, app_id: &str, public_jwk: &Value) -> Result<KeyInfo, SetupError> {
        let action = "add a public key to the app";
        let mut body = public_jwk.clone();
        body["status"] = "ACTIVE".into();
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/apps/{app_id}/credentials/jwks"),
                &[],
                Some(&body),
                action,
            )
            .await?;
        v.as_ref()
            .and_then(key_info)
            .ok_or_else(|| Self::unexpected(action, "the added key has no id"))
    }

    /// Deactivates a key, then deletes it (Okta deletes only inactive keys).
    pub async fn remove_key(&self, app_id: &str, key: &KeyInfo) -> Result<(), SetupError> {
        let path = format!("/api/v1/apps/{app_id}/credentials/jwks/{}", key.id);
        if key.active {
            self.call(
                reqwest::Method::POST,
                &format!("{path}/lifecycle/deactivate"),
                &[],
                None,
                &format!("deactivate the key {}", key.kid),
            )
            .await?;
        }
        self.call(
            reqwest::Method::DELETE,
            &path,
            &[],
            None,
            &format!("delete the key {}", key.kid),
        )
        .await
        .map(|_| ())
    }

    /// Deactivates the app, then deletes it (Okta deletes only inactive apps).
    pub async fn delete_app(&self, app: &AppInfo) -> Result<(), SetupError> {
        if app.active {
            self.call(
                reqwest::Method::POST,
                &format!("/api/v1/apps/{}/lifecycle/deactivate", app.id),
                &[],
                None,
                "deactivate the app",
            )
            .await?;
        }
        self.call(
            reqwest::Method::DELETE,
            &format!("/api/v1/apps/{}", app.id),
            &[],
            None,
            "delete the app",
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::jose::SigningKey;

    #[test]
    fn a_new_key_parses_back_with_its_kid_and_signs() {
        let k = NewKey::generate().expect("key");
        let parsed = SigningKey::parse(k.private_jwk.expose()).expect("parse");
        assert_eq!(parsed.kid.as_deref(), Some(k.kid.as_str()));
        assert_eq!(parsed.key.alg(), "ES256");
        let public = parsed.key.public_jwk();
        assert_eq!(public["x"], k.public_jwk["x"]);
        assert!(
            k.public_jwk.get("d").is_none(),
            "the public JWK has no private part"
        );
    }
}
