//! OAuth as the README promises it, seen from the simulator's side of the wire: every private
//! key form (PKCS#8, PKCS#1, SEC1, JWK; RS256 and ES256) signs in, a configured or JWK `kid`
//! is sent in the assertion, and each DPoP proof's `ath` is the access token's SHA-256 in
//! base64url, computed here independently of the client.

use serde_json::Value;

use oktamirror::okta::{Auth, OAuthConfig, OktaSource};
use oktamirror::secret::Secret;
use oktamirror::sim::{OAuthApp, SimPublicKey};
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

use crate::support::keys::{self, Recorded, b64url_by_hand, jws_parts, serve_recorded};
use crate::support::{TestSim, base_url, quick};

const CLIENT_ID: &str = "0oaKEYFORMS0001";

struct Case {
    name: &'static str,
    private_key: String,
    public: SimPublicKey,
    /// The `kid` registered with the app (the simulator then checks a sent one).
    app_kid: Option<&'static str>,
    /// `okta_key_id` in the mirror's settings.
    configured_kid: Option<&'static str>,
    alg: &'static str,
    /// The `kid` the assertions must carry.
    sent_kid: Option<&'static str>,
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Crawls a small org through a recording front; returns the run's outcome and the requests.
async fn crawl_with(
    case_key: &str,
    public: SimPublicKey,
    app_kid: Option<&str>,
    configured_kid: Option<&str>,
    dpop: bool,
) -> (Result<usize, String>, Vec<Recorded>) {
    let ts = TestSim::start(30, 23).await;
    let mut app = OAuthApp::new(CLIENT_ID, public);
    app.key_id = app_kid.map(str::to_owned);
    app.require_dpop = dpop;
    ts.sim.enable_oauth(app);
    let (addr, recording) = serve_recorded(&ts.sim).await;
    let cfg = OAuthConfig {
        client_id: CLIENT_ID.into(),
        private_key: Secret::new(case_key),
        key_id: configured_kid.map(str::to_owned),
        scopes: Vec::new(),
        dpop_key: None,
        key_file: None,
    };
    let source = OktaSource::with_auth(base_url(addr), Auth::OAuth(cfg), quick()).expect("source");
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let run = sync::run_full(
        &store,
        &source as &dyn Source,
        &SyncConfig::default(),
        &NoProgress,
    )
    .await;
    let outcome = if run.ok {
        assert_eq!(
            store.people_count().expect("count") as usize,
            ts.sim.users().len()
        );
        Ok(run.users_fetched as usize)
    } else {
        Err(run.error.unwrap_or_default())
    };
    let requests = recording.lock().expect("lock").clone();
    (outcome, requests)
}

/// The `client_assertion` of every token request.
fn assertions(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/oauth2/v1/token")
        .filter_map(|r| {
            url::form_urlencoded::parse(&r.body)
                .find(|(k, _)| k == "client_assertion")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_private_key_form_signs_in_and_sends_its_kid() {
    let rsa = keys::rsa_key();
    let ec = keys::ec_key();
    let rsa2 = keys::rsa_key();
    let cases = [
        Case {
            name: "RSA PKCS#1 PEM",
            private_key: rsa.pkcs1.clone(),
            public: rsa.public.clone(),
            app_kid: None,
            configured_kid: None,
            alg: "RS256",
            sent_kid: None,
        },
        Case {
            name: "EC SEC1 PEM",
            private_key: ec.sec1.clone(),
            public: ec.public.clone(),
            app_kid: None,
            configured_kid: None,
            alg: "ES256",
            sent_kid: None,
        },
        Case {
            name: "RSA JWK",
            private_key: rsa.jwk(None),
            public: rsa.public.clone(),
            app_kid: None,
            configured_kid: None,
            alg: "RS256",
            sent_kid: None,
        },
        Case {
            name: "EC JWK with kid",
            private_key: ec.jwk(Some("ec-key-2")),
            public: ec.public.clone(),
            app_kid: Some("ec-key-2"),
            configured_kid: None,
            alg: "ES256",
            sent_kid: Some("ec-key-2"),
        },
        Case {
            name: "RSA PKCS#8 PEM with okta_key_id",
            private_key: rsa2.pkcs8.clone(),
            public: rsa2.public.clone(),
            app_kid: Some("rsa-key-1"),
            configured_kid: Some("rsa-key-1"),
            alg: "RS256",
            sent_kid: Some("rsa-key-1"),
        },
        Case {
            name: "RSA PKCS#1 PEM with okta_key_id",
            private_key: rsa2.pkcs1.clone(),
            public: rsa2.public.clone(),
            app_kid: Some("rsa-key-1"),
            configured_kid: Some("rsa-key-1"),
            alg: "RS256",
            sent_kid: Some("rsa-key-1"),
        },
    ];
    for c in cases {
        let (outcome, requests) =
            crawl_with(&c.private_key, c.public, c.app_kid, c.configured_kid, false).await;
        assert!(outcome.is_ok(), "{}: {outcome:?}", c.name);
        let sent = assertions(&requests);
        assert!(!sent.is_empty(), "{}: no token request", c.name);
        for a in &sent {
            let (header, claims) = jws_parts(a);
            assert_eq!(header["alg"], c.alg, "{}: alg", c.name);
            assert_eq!(
                header.get("kid").and_then(Value::as_str),
                c.sent_kid,
                "{}: kid",
                c.name
            );
            assert_eq!(claims["iss"], CLIENT_ID, "{}", c.name);
        }
    }

    // A JWK whose kid is not the registered one is refused, and the error says so.
    let (outcome, _) = crawl_with(
        &ec.jwk(Some("some-other-key")),
        ec.public.clone(),
        Some("ec-key-2"),
        None,
        false,
    )
    .await;
    let err = outcome.expect_err("a wrong kid signs in");
    assert!(err.contains("invalid_client"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_ath_is_the_access_tokens_sha256_in_base64url() {
    // The encoder and hash used here against RFC 9449's own example (section 7.1).
    assert_eq!(
        b64url_by_hand(&sha256(b"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let k = keys::ec_key();
    let (outcome, requests) = crawl_with(&k.pkcs8, k.public.clone(), None, None, true).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    let mut checked = 0;
    for r in requests.iter().filter(|r| r.path.starts_with("/api/v1/")) {
        let auth = r.headers["authorization"].to_str().expect("ascii");
        let token = auth.strip_prefix("DPoP ").expect("a DPoP-bound token");
        let proof = r.headers["dpop"].to_str().expect("ascii");
        let (header, claims) = jws_parts(proof);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(
            claims["ath"].as_str(),
            Some(b64url_by_hand(&sha256(token.as_bytes())).as_str()),
            "ath of {} {}",
            r.method,
            r.path
        );
        assert_eq!(claims["htm"], r.method.as_str());
        let htu = claims["htu"].as_str().expect("htu");
        assert!(
            htu.ends_with(&r.path) && !htu.contains('?'),
            "htu {htu} for {}",
            r.path
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} resource requests");
}
