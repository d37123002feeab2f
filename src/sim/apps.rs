//! API Services apps created through the Apps API (what `oktamirror setup` registers): their
//! public keys (JWKS with `kid`s and statuses), Okta API scope grants and admin roles, with
//! the rules Okta enforces on them (only a super admin grants scopes or assigns roles).

use serde_json::{Value, json};

use super::oauth::{OAuthApp, SimPublicKey, jwk_key};
use super::time::{self, Millis};

/// Which admin an SSWS token belongs to, as far as the Apps API cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminRole {
    /// Everything, including scope grants and role assignments.
    SuperAdmin,
    /// Creates, changes and deletes apps, but may neither grant Okta API scopes nor assign
    /// admin roles (403 `E0000006`).
    AppAdmin,
    /// Reads only: every write answers 403 `E0000006`.
    ReadOnlyAdmin,
}

/// One public key on an app's Client Credentials tab.
#[derive(Clone, Debug)]
pub struct AppKey {
    /// Okta's id of the key (`pks…`), used in the jwks paths.
    pub id: String,
    /// The JWK's `kid`, which a client assertion names.
    pub kid: String,
    /// ACTIVE keys verify assertions; INACTIVE ones are kept until deleted.
    pub active: bool,
    /// The public JWK as registered (without Okta's extra members).
    pub jwk: Value,
    pub public: SimPublicKey,
    pub created: Millis,
}

/// A granted Okta API scope.
#[derive(Clone, Debug)]
pub struct Grant {
    pub id: String,
    pub scope_id: String,
    pub issuer: String,
    pub created: Millis,
}

/// An admin role assigned to the app's client.
#[derive(Clone, Debug)]
pub struct RoleAssignment {
    pub id: String,
    pub role_type: String,
    pub created: Millis,
}

/// An OIDC service app (`signOnMode: OPENID_CONNECT`, `application_type: service`).
#[derive(Clone, Debug)]
pub struct RegisteredApp {
    /// `0oa…`: both the app id and its `client_id`.
    pub id: String,
    pub label: String,
    pub active: bool,
    pub dpop_bound: bool,
    pub keys: Vec<AppKey>,
    pub grants: Vec<Grant>,
    pub roles: Vec<RoleAssignment>,
    pub created: Millis,
}

/// The Okta API scopes a grant may name (the read and manage scopes of the directory).
pub const KNOWN_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.logs.read",
    "okta.userTypes.read",
    "okta.userTypes.manage",
    "okta.apps.read",
    "okta.apps.manage",
    "okta.roles.read",
    "okta.roles.manage",
    "okta.schemas.read",
];

/// The standard roles a client may be assigned (SPEC `assignRoleToClient`).
pub const STANDARD_ROLES: &[(&str, &str)] = &[
    ("SUPER_ADMIN", "Super Administrator"),
    ("ORG_ADMIN", "Organization Administrator"),
    ("APP_ADMIN", "Application Administrator"),
    ("USER_ADMIN", "Group Administrator"),
    ("HELP_DESK_ADMIN", "Help Desk Administrator"),
    ("READ_ONLY_ADMIN", "Read Only Administrator"),
    ("REPORT_ADMIN", "Report Administrator"),
    ("GROUP_MEMBERSHIP_ADMIN", "Group Membership Administrator"),
    (
        "API_ACCESS_MANAGEMENT_ADMIN",
        "API Access Management Administrator",
    ),
];

/// Roles that let a client read users, groups and the System Log.
pub const READING_ROLES: &[&str] = &["SUPER_ADMIN", "ORG_ADMIN", "READ_ONLY_ADMIN"];

/// A registered key from a JWK in a request: `Err` is the `errorCauses` text.
pub fn key_from_jwk(jwk: &Value, id: String) -> Result<AppKey, String> {
    let kid = jwk
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or("kid: Each JSON Web Key must have a 'kid'")?;
    if jwk.get("d").is_some() {
        return Err("jwks: A private key must not be registered; send only the public key".into());
    }
    let (public, _) = jwk_key(jwk).ok_or("jwks: The JSON Web Key is not a valid RSA or EC key")?;
    let mut public_jwk = json!({});
    for m in ["kty", "crv", "x", "y", "n", "e", "alg", "use", "kid"] {
        if let Some(v) = jwk.get(m) {
            public_jwk[m] = v.clone();
        }
    }
    let active = jwk.get("status").and_then(Value::as_str) != Some("INACTIVE");
    Ok(AppKey {
        id,
        kid: kid.to_owned(),
        active,
        jwk: public_jwk,
        public,
        created: time::now(),
    })
}

impl RegisteredApp {
    /// The app as the token endpoint sees it when an assertion names `kid` (or, without
    /// one, each active key in turn): its granted scopes and DPoP requirement.
    pub fn as_oauth(&self, key: &AppKey) -> OAuthApp {
        let mut app = OAuthApp::new(&self.id, key.public.clone());
        app.key_id = Some(key.kid.clone());
        app.granted_scopes = self.grants.iter().map(|g| g.scope_id.clone()).collect();
        app.require_dpop = self.dpop_bound;
        app
    }

    /// Whether the app may read the directory (an admin role that covers it).
    pub fn can_read(&self) -> bool {
        self.roles
            .iter()
            .any(|r| READING_ROLES.contains(&r.role_type.as_str()))
    }

    pub fn key_json(&self, k: &AppKey, base: &str) -> Value {
        let mut v = k.jwk.clone();
        v["id"] = k.id.clone().into();
        v["status"] = if k.active { "ACTIVE" } else { "INACTIVE" }.into();
        v["created"] = time::format(k.created).into();
        v["lastUpdated"] = time::format(k.created).into();
        let href = format!("{base}/api/v1/apps/{}/credentials/jwks/{}", self.id, k.id);
        v["_links"] = if k.active {
            json!({"deactivate": {"href": format!("{href}/lifecycle/deactivate"), "hints": {"allow": ["POST"]}}})
        } else {
            json!({
                "activate": {"href": format!("{href}/lifecycle/activate"), "hints": {"allow": ["POST"]}},
                "delete": {"href": href, "hints": {"allow": ["DELETE"]}}
            })
        };
        v
    }

    pub fn grant_json(&self, g: &Grant, base: &str) -> Value {
        json!({
            "id": g.id, "status": "ACTIVE",
            "created": time::format(g.created), "lastUpdated": time::format(g.created),
            "issuer": g.issuer, "clientId": self.id, "scopeId": g.scope_id, "source": "ADMIN",
            "_embedded": {"scope": {"id": g.scope_id}},
            "_links": {
                "app": {"href": format!("{base}/api/v1/apps/{}", self.id), "title": self.label},
                "self": {"href": format!("{base}/api/v1/apps/{}/grants/{}", self.id, g.id),
                         "hints": {"allow": ["GET", "DELETE"]}},
                "client": {"href": format!("{base}/oauth2/v1/clients/{}", self.id), "title": self.label}
            }
        })
    }

    pub fn role_json(&self, r: &RoleAssignment, base: &str) -> Value {
        let label = STANDARD_ROLES
            .iter()
            .find(|(t, _)| *t == r.role_type)
            .map_or(r.role_type.as_str(), |(_, l)| l);
        json!({
            "id": r.id, "label": label, "type": r.role_type, "status": "ACTIVE",
            "created": time::format(r.created), "lastUpdated": time::format(r.created),
            "assignmentType": "CLIENT",
            "_links": {"assignee": {"href": format!("{base}/oauth2/v1/clients/{}/roles", self.id)}}
        })
    }

    /// The app in the Apps API's shape (`OpenIdConnectApplication`).
    pub fn json(&self, base: &str) -> Value {
        let keys: Vec<Value> = self.keys.iter().map(|k| self.key_json(k, base)).collect();
        let status = if self.active { "ACTIVE" } else { "INACTIVE" };
        let lifecycle = if self.active {
            "deactivate"
        } else {
            "activate"
        };
        json!({
            "id": self.id,
            "name": "oidc_client",
            "label": self.label,
            "status": status,
            "created": time::format(self.created),
            "lastUpdated": time::format(self.created),
            "signOnMode": "OPENID_CONNECT",
            "features": [],
            "credentials": {
                "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                "signing": {},
                "oauthClient": {
                    "autoKeyRotation": true,
                    "client_id": self.id,
                    "token_endpoint_auth_method": "private_key_jwt",
                    "pkce_required": false
                }
            },
            "settings": {
                "app": {},
                "oauthClient": {
                    "application_type": "service",
                    "grant_types": ["client_credentials"],
                    "response_types": ["token"],
                    "issuer_mode": "DYNAMIC",
                    "dpop_bound_access_tokens": self.dpop_bound,
                    "jwks": {"keys": keys}
                }
            },
            "_links": {
                lifecycle: {"href": format!("{base}/api/v1/apps/{}/lifecycle/{lifecycle}", self.id)}
            }
        })
    }
}
