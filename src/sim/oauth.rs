//! The simulated org authorization server: one API Services app whose client assertions are
//! verified against a configured public key, access tokens with scopes and expiry, and DPoP
//! proofs and nonces checked as Okta does (okta-api.md 6.2, 6.3).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::time::{self, Millis};

/// The public half of the app's client-authentication key.
#[derive(Clone, Debug)]
pub enum SimPublicKey {
    /// Big-endian modulus and exponent (RS256).
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// The uncompressed P-256 point, `04 || x || y` (ES256).
    Ec {
        /// The encoded point, 65 bytes.
        point: Vec<u8>,
    },
}

/// An API Services app registered in the simulated org.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    /// The app's Client ID; a client assertion's `iss` and `sub` must equal it.
    pub client_id: String,
    /// The key client assertions are verified with.
    pub public_key: SimPublicKey,
    /// When set, an assertion's `kid` (if any) must match.
    pub key_id: Option<String>,
    /// Scopes granted on the app's Okta API Scopes tab.
    pub granted_scopes: Vec<String>,
    /// "Require DPoP header in token requests".
    pub require_dpop: bool,
    /// Also demand the current nonce in resource-call proofs (Okta does not, today).
    pub dpop_nonce_on_resources: bool,
    /// Access-token lifetime (Okta: one hour).
    pub token_lifetime: Duration,
}

impl OAuthApp {
    /// An app granted the mirror's three read scopes and the two `.manage` scopes writes
    /// need (a token holds only what it asked for), no DPoP, one-hour tokens.
    pub fn new(client_id: &str, public_key: SimPublicKey) -> OAuthApp {
        OAuthApp {
            client_id: client_id.to_owned(),
            public_key,
            key_id: None,
            granted_scopes: [
                "okta.users.read",
                "okta.groups.read",
                "okta.logs.read",
                "okta.users.manage",
                "okta.groups.manage",
            ]
            .map(str::to_owned)
            .to_vec(),
            require_dpop: false,
            dpop_nonce_on_resources: false,
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

/// An issued access token.
#[derive(Clone)]
pub struct Issued {
    pub scopes: Vec<String>,
    pub expires: Millis,
    /// JWK thumbprint of the DPoP key the token is bound to.
    pub jkt: Option<String>,
    /// The registered app (`apps.rs`) it was issued to; `None` for the configured app.
    pub client: Option<String>,
}

/// Mutable authorization-server state.
#[derive(Default)]
pub struct AuthState {
    pub app: Option<OAuthApp>,
    pub tokens: HashMap<String, Issued>,
    pub seen_jti: HashSet<String>,
    pub nonce: String,
    pub minted: u64,
    /// Apps created through the Apps API.
    pub apps: Vec<super::apps::RegisteredApp>,
    /// SSWS tokens of admins other than the org's super admin token.
    pub admin_tokens: HashMap<String, super::apps::AdminRole>,
    /// Token requests refused with `invalid_client` (a wrong or removed key).
    pub invalid_client: u64,
    /// Resource calls refused because their access token was unknown, expired or revoked.
    pub rejected_tokens: u64,
    /// Access-token lifetime for apps created through the Apps API (default one hour).
    pub app_token_lifetime: Option<Duration>,
}

/// An OAuth error: status, `error`, `error_description`.
pub type OAuthError = (u16, &'static str, String);

fn b64(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "not base64url".to_owned())
}

/// A compact JWS split and decoded: header, claims, signing input, signature.
pub struct Jws {
    pub header: Value,
    pub claims: Value,
    input: String,
    sig: Vec<u8>,
}

impl Jws {
    pub fn parse(text: &str) -> Result<Jws, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let [h, c, s] = parts.as_slice() else {
            return Err("not a compact JWS".into());
        };
        let json = |p: &str| -> Result<Value, String> {
            serde_json::from_slice(&b64(p)?).map_err(|_| "not JSON".to_owned())
        };
        Ok(Jws {
            header: json(h)?,
            claims: json(c)?,
            input: format!("{h}.{c}"),
            sig: b64(s)?,
        })
    }

    pub fn verify(&self, key: &SimPublicKey) -> bool {
        let alg = self.header.get("alg").and_then(Value::as_str);
        match (alg, key) {
            (Some("RS256"), SimPublicKey::Rsa { n, e }) => RsaPublicKeyComponents { n, e }
                .verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    self.input.as_bytes(),
                    &self.sig,
                )
                .is_ok(),
            (Some("ES256"), SimPublicKey::Ec { point }) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(self.input.as_bytes(), &self.sig)
                    .is_ok()
            }
            _ => false,
        }
    }

    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// The public key in a JWK (a DPoP proof's header) and its RFC 7638 thumbprint.
pub fn jwk_key(jwk: &Value) -> Option<(SimPublicKey, String)> {
    let m = |k: &str| jwk.get(k).and_then(Value::as_str);
    match m("kty")? {
        "RSA" => {
            let canon = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m("e")?, m("n")?);
            let key = SimPublicKey::Rsa {
                n: b64(m("n")?).ok()?,
                e: b64(m("e")?).ok()?,
            };
            Some((key, thumb(&canon)))
        }
        "EC" => {
            let canon = format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                m("crv")?,
                m("x")?,
                m("y")?
            );
            let mut point = vec![4u8];
            point.extend(b64(m("x")?).ok()?);
            point.extend(b64(m("y")?).ok()?);
            Some((SimPublicKey::Ec { point }, thumb(&canon)))
        }
        _ => None,
    }
}

fn thumb(canon: &str) -> String {
    sha256_b64(canon.as_bytes())
}

pub fn sha256_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// Checks a DPoP proof for `method` on `htu`. `ath` is the access token on resource calls.
/// Returns the key's thumbprint, or (`use_dpop_nonce` | `invalid_dpop_proof`, description).
pub fn check_proof(
    proof: &str,
    method: &str,
    htu: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
) -> Result<String, (&'static str, String)> {
    let bad = |d: &str| ("invalid_dpop_proof", d.to_owned());
    let jws = Jws::parse(proof).map_err(|_| bad("The DPoP proof JWT is malformed."))?;
    if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("'typ' in the DPoP proof JWT header must be dpop+jwt."));
    }
    let (key, jkt) = jws
        .header
        .get("jwk")
        .and_then(jwk_key)
        .ok_or_else(|| bad("The DPoP proof JWT header has no usable 'jwk'."))?;
    if !jws.verify(&key) {
        return Err(bad("The DPoP proof JWT signature is invalid."));
    }
    if jws.claim("htm") != Some(method) {
        return Err(bad("'htm' claim in the DPoP proof JWT is invalid."));
    }
    if jws.claim("htu") != Some(htu) {
        return Err(bad("'htu' claim in the DPoP proof JWT is invalid."));
    }
    let iat = jws.claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    if (iat * 1000 - time::now()).abs() > 300_000 {
        return Err(bad("'iat' claim in the DPoP proof JWT is out of range."));
    }
    if jws.claim("jti").is_none_or(str::is_empty) {
        return Err(bad("The DPoP proof JWT has no 'jti'."));
    }
    if let Some(t) = access_token {
        if jws.claim("ath") != Some(sha256_b64(t.as_bytes()).as_str()) {
            return Err(bad("'ath' claim in the DPoP proof JWT is invalid."));
        }
    }
    if let Some(n) = nonce {
        if jws.claim("nonce") != Some(n) {
            return Err((
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.".into(),
            ));
        }
    }
    Ok(jkt)
}

/// Verifies a `private_key_jwt` client assertion for `app` at `token_url`.
pub fn check_assertion(
    app: &OAuthApp,
    assertion: &str,
    token_url: &str,
    seen_jti: &mut HashSet<String>,
) -> Result<(), OAuthError> {
    let invalid = |d: &str| (401u16, "invalid_client", d.to_owned());
    let jws =
        Jws::parse(assertion).map_err(|_| invalid("The client_assertion is not a valid JWT."))?;
    if jws.claim("iss") != Some(&app.client_id) || jws.claim("sub") != Some(&app.client_id) {
        return Err(invalid("Invalid value for 'client_id' parameter."));
    }
    if let (Some(want), Some(got)) = (&app.key_id, jws.header.get("kid").and_then(Value::as_str)) {
        if want != got {
            return Err(invalid(
                "The client_assertion 'kid' matches no registered key.",
            ));
        }
    }
    if !jws.verify(&app.public_key) {
        return Err(invalid("The client_assertion signature is invalid."));
    }
    if jws.claim("aud") != Some(token_url) {
        return Err(invalid(
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        ));
    }
    let now = time::now() / 1000;
    let exp = jws.claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now || exp > now + 3600 {
        return Err(invalid(
            "The client_assertion token is expired or its 'exp' is more than one hour away.",
        ));
    }
    if let Some(jti) = jws.claim("jti") {
        if !seen_jti.insert(jti.to_owned()) {
            return Err(invalid(
                "The client_assertion token has already been used ('jti' replay).",
            ));
        }
    }
    Ok(())
}
