//! The simulated Apps API's rules, over HTTP: only inactive apps and keys are deleted, the
//! only active key of a `private_key_jwt` client stays, only super admins grant scopes and
//! assign roles, app admins create apps, read-only admins write nothing.

use serde_json::{Value, json};

use super::AdminRole;
use super::tests::{TOKEN, start};

async fn call(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().expect("method"), url)
        .header("Authorization", format!("SSWS {token}"))
        .header("Accept", "application/json");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ec_jwk(kid: &str) -> Value {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine;
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let p = kp.public_key().as_ref();
    let b = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    json!({"kty": "EC", "crv": "P-256", "x": b(&p[1..33]), "y": b(&p[33..65]), "kid": kid, "use": "sig"})
}

fn service_app(label: &str, kid: &str) -> Value {
    json!({
        "name": "oidc_client", "label": label, "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "private_key_jwt"}},
        "settings": {"oauthClient": {
            "application_type": "service", "grant_types": ["client_credentials"],
            "response_types": ["token"], "dpop_bound_access_tokens": true,
            "jwks": {"keys": [ec_jwk(kid)]}
        }}
    })
}

#[tokio::test]
async fn apps_keys_grants_and_roles_follow_oktas_rules() {
    let (sim, base) = start(10, 2).await;
    sim.add_admin_token("app-admin", AdminRole::AppAdmin);
    sim.add_admin_token("read-only", AdminRole::ReadOnlyAdmin);

    let (s, e) = call(
        "POST",
        &format!("{base}/api/v1/apps"),
        "read-only",
        Some(service_app("m", "k1")),
    )
    .await;
    assert_eq!((s, e["errorCode"].as_str()), (403, Some("E0000006")));
    let (s, app) = call(
        "POST",
        &format!("{base}/api/v1/apps"),
        "app-admin",
        Some(service_app("m", "k1")),
    )
    .await;
    assert_eq!(s, 200, "{app}");
    let id = app["id"].as_str().expect("id").to_owned();
    assert_eq!(app["credentials"]["oauthClient"]["client_id"], id.as_str());
    let (s, listed) = call("GET", &format!("{base}/api/v1/apps?q=m"), TOKEN, None).await;
    assert_eq!((s, listed.as_array().map(Vec::len)), (200, Some(1)));

    // Scopes and roles: super admins only; a duplicate role is a conflict.
    let grant = json!({"issuer": base, "scopeId": "okta.users.read"});
    let (s, e) = call(
        "POST",
        &format!("{base}/api/v1/apps/{id}/grants"),
        "app-admin",
        Some(grant.clone()),
    )
    .await;
    assert_eq!((s, e["errorCode"].as_str()), (403, Some("E0000006")));
    let (s, g) = call(
        "POST",
        &format!("{base}/api/v1/apps/{id}/grants"),
        TOKEN,
        Some(grant),
    )
    .await;
    assert_eq!((s, g["scopeId"].as_str()), (201, Some("okta.users.read")));
    let bad = json!({"issuer": "https://elsewhere.example", "scopeId": "okta.users.read"});
    let (s, _) = call(
        "POST",
        &format!("{base}/api/v1/apps/{id}/grants"),
        TOKEN,
        Some(bad),
    )
    .await;
    assert_eq!(s, 400);
    let role = json!({"type": "READ_ONLY_ADMIN"});
    let (s, _) = call(
        "POST",
        &format!("{base}/oauth2/v1/clients/{id}/roles"),
        "app-admin",
        Some(role.clone()),
    )
    .await;
    assert_eq!(s, 403);
    let (s, r) = call(
        "POST",
        &format!("{base}/oauth2/v1/clients/{id}/roles"),
        TOKEN,
        Some(role.clone()),
    )
    .await;
    assert_eq!((s, r["assignmentType"].as_str()), (200, Some("CLIENT")));
    let (s, e) = call(
        "POST",
        &format!("{base}/oauth2/v1/clients/{id}/roles"),
        TOKEN,
        Some(role),
    )
    .await;
    assert_eq!((s, e["errorCode"].as_str()), (409, Some("E0000090")));

    // Keys: the only active key stays; only inactive keys are deleted; kids are unique.
    let jwks = format!("{base}/api/v1/apps/{id}/credentials/jwks");
    let (_, keys) = call("GET", &jwks, TOKEN, None).await;
    let first = keys[0]["id"].as_str().expect("key id").to_owned();
    let (s, _) = call(
        "POST",
        &format!("{jwks}/{first}/lifecycle/deactivate"),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call("DELETE", &format!("{jwks}/{first}"), TOKEN, None).await;
    assert_eq!(s, 400);
    let (s, _) = call("POST", &jwks, TOKEN, Some(ec_jwk("k1"))).await;
    assert_eq!(s, 400, "a kid already registered");
    let (s, second) = call("POST", &jwks, TOKEN, Some(ec_jwk("k2"))).await;
    assert_eq!((s, second["status"].as_str()), (201, Some("ACTIVE")));
    let (s, _) = call(
        "POST",
        &format!("{jwks}/{first}/lifecycle/deactivate"),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call("DELETE", &format!("{jwks}/{first}"), TOKEN, None).await;
    assert_eq!(s, 204);

    // The app: deactivated before it is deleted.
    let (s, e) = call("DELETE", &format!("{base}/api/v1/apps/{id}"), TOKEN, None).await;
    assert_eq!((s, e["errorCode"].as_str()), (403, Some("E0000056")));
    let (s, _) = call(
        "POST",
        &format!("{base}/api/v1/apps/{id}/lifecycle/deactivate"),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call("DELETE", &format!("{base}/api/v1/apps/{id}"), TOKEN, None).await;
    assert_eq!(s, 204);
    let (s, e) = call("GET", &format!("{base}/api/v1/apps/{id}"), TOKEN, None).await;
    assert_eq!((s, e["errorCode"].as_str()), (404, Some("E0000007")));
    assert!(sim.registered_apps().is_empty());
}
