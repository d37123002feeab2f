//! DPoP proofs (RFC 9449) as Okta checks them: a key separate from the client-authentication
//! key, `htu` without the query string, `ath` bound to the access token, and the server's nonce.

use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};
use url::Url;

use super::jose::{self, SigningKey};
use crate::secret::Secret;

pub struct DpopKey {
    key: SigningKey,
    jwk: Value,
    /// The last `DPoP-Nonce` the server sent; proofs carry it once known.
    nonce: Mutex<Option<String>>,
}

impl DpopKey {
    pub fn new(key: SigningKey) -> DpopKey {
        let jwk = key.public_jwk();
        DpopKey {
            key,
            jwk,
            nonce: Mutex::new(None),
        }
    }

    pub fn set_nonce(&self, nonce: &str) {
        *self.nonce.lock().unwrap_or_else(PoisonError::into_inner) = Some(nonce.to_owned());
    }

    pub fn nonce(&self) -> Option<String> {
        self.nonce
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A proof for one request. `access_token` is given on resource calls (it sets `ath`).
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&Secret>,
    ) -> Result<Secret, String> {
        let mut claims = json!({
            "htm": method,
            "htu": htu(url),
            "iat": chrono::Utc::now().timestamp(),
            "jti": jose::random_id()?,
        });
        if let Some(n) = self.nonce() {
            claims["nonce"] = Value::from(n);
        }
        if let Some(t) = access_token {
            claims["ath"] = Value::from(jose::sha256_b64url(t.expose().as_bytes()));
        }
        let header = json!({ "typ": "dpop+jwt", "jwk": self.jwk });
        self.key.sign_jwt(header, &claims).map(Secret::new)
    }
}

/// Scheme, host, port and path: Okta rejects an `htu` that carries the query (`?after=…`).
pub fn htu(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn proof_has_no_query_and_binds_the_token() {
        let k = DpopKey::new(SigningKey::generate_ec().expect("key"));
        k.set_nonce("n1");
        let url = Url::parse("https://x.okta.com/api/v1/users?after=00u1&limit=200").expect("url");
        let p = k
            .proof("GET", &url, Some(&Secret::new("tok")))
            .expect("proof");
        let parts: Vec<&str> = p.expose().split('.').collect();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(claims["htu"], "https://x.okta.com/api/v1/users");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(claims["ath"], jose::sha256_b64url(b"tok"));
    }
}
