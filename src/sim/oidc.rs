//! The simulated org's OpenID Connect provider (the `default` custom authorization server):
//! one registered web app (client id, secret, redirect URIs), authorization codes bound to a
//! PKCE challenge, nonce and redirect URI, RS256 ID tokens signed with a key generated at
//! start-up and published as a JWKS, and access tokens for `userinfo`.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::time::{self, Millis};

/// The path of the authorization server under the org URL (its issuer is `{org}{AS_PATH}`).
pub const AS_PATH: &str = "/oauth2/default";

/// An OIDC web app registered in the simulated org.
#[derive(Clone, Debug)]
pub struct OidcApp {
    /// The app's Client ID.
    pub client_id: String,
    /// Its client secret (`client_secret_basic` or `client_secret_post`).
    pub client_secret: String,
    /// Sign-in redirect URIs the app allows, compared exactly.
    pub redirect_uris: Vec<String>,
    /// ID and access token lifetime (Okta: one hour).
    pub token_lifetime: Duration,
}

impl OidcApp {
    /// An app with one-hour tokens.
    pub fn new(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> OidcApp {
        OidcApp {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

/// An authorization code waiting to be redeemed.
#[derive(Clone, Debug)]
pub struct Grant {
    pub user_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub challenge: String,
    pub scope: String,
    pub expires: Millis,
}

/// The signing key: its `kid` and the key pair.
pub struct Signer {
    pub kid: String,
    key: KeyPair,
}

impl Signer {
    fn generate(kid: String) -> Option<Signer> {
        Some(Signer {
            kid,
            key: KeyPair::generate(KeySize::Rsa2048).ok()?,
        })
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let c = PublicKeyComponents::<Vec<u8>>::from(self.key.public_key());
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e),
        })
    }

    /// A compact RS256 JWS of `claims`.
    pub fn sign(&self, claims: &Value) -> Option<String> {
        let header = json!({ "alg": "RS256", "kid": self.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .ok()?;
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// The provider's mutable state.
#[derive(Default)]
pub struct OidcState {
    pub app: Option<OidcApp>,
    pub signer: Option<Signer>,
    pub codes: HashMap<String, Grant>,
    /// Access token → (user id, expiry).
    pub tokens: HashMap<String, (String, Millis)>,
    /// ID tokens issued so far.
    pub id_tokens: u64,
}

impl OidcState {
    /// The signing key, made on first use (`kid` from `new_kid`).
    pub fn signer(&mut self, new_kid: impl FnOnce() -> String) -> Option<&Signer> {
        if self.signer.is_none() {
            self.signer = Signer::generate(new_kid());
        }
        self.signer.as_ref()
    }

    /// Forgets codes and tokens past their expiry.
    pub fn prune(&mut self) {
        let now = time::now();
        self.codes.retain(|_, g| g.expires > now);
        self.tokens.retain(|_, (_, exp)| *exp > now);
    }
}

/// `BASE64URL(SHA256(verifier))`, PKCE's S256.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}
