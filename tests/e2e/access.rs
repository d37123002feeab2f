//! End to end, over real sockets: API keys made, listed and revoked by the binary; the access
//! layer (401s, open probes and hook, the loopback Host check, per-key 429s); revocation and
//! rotation without a restart; where the server may listen; built-in TLS and its reload; the
//! modes of the files we create and the warning about secret files others can read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use oktamirror::access::{Role, keys};
use oktamirror::api::RateLimit;
use oktamirror::configuration::{HookAuth, Options, Settings, TlsFiles};

use oktamirror::secret::Secret;
use oktamirror::sim::{SimOptions, Simulator};
use oktamirror::startup::Application;

use crate::support::AppOptions;

const TOKEN: &str = "access-test-token-0123456789";
const HOOK_SECRET: &str = "Bearer hook-secret-0123456789abcdef";

async fn start_sim() -> (Simulator, SocketAddr) {
    let sim = Simulator::new(SimOptions {
        users: 20,
        groups: None,
        seed: 3,
        token: TOKEN.into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sim");
    let addr = sim.serve(listener).expect("serve sim");
    (sim, addr)
}

fn settings(sim: SocketAddr, data_dir: &Path) -> Settings {
    let mut o = AppOptions::new(TOKEN);
    o.retry_base = Some(Duration::from_millis(10));
    crate::support::settings(sim, data_dir, &o)
}

/// Waits (polling every 100 ms) until `check` holds, failing after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// POSTs a trivial GraphQL query addressed to `host` (the `Host` header).
async fn typename_for_host(http: &reqwest::Client, base: &str, host: &str) -> reqwest::Response {
    http.post(format!("{base}/graphql"))
        .header("Host", host)
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("send")
}

/// POSTs a trivial GraphQL query, with `key` as the bearer key if given.
async fn graphql(client: &reqwest::Client, base: &str, key: Option<&str>) -> reqwest::Response {
    let mut r = client
        .post(format!("{base}/graphql"))
        .json(&json!({"query": "{ __typename }"}));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r.send().await.expect("send")
}

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(args)
        .env_remove("OKTAMIRROR_API_KEYS_FILE")
        .output()
        .expect("run oktamirror")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
#[test]
fn keys_commands_print_the_key_once_and_keep_only_its_hash() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys_dir = dir.path().join("etc");
    std::fs::create_dir(&keys_dir).expect("mkdir");
    chmod(&keys_dir, 0o755);
    let file = keys_dir.join("keys.jsonl");
    let f = file.to_str().expect("utf-8");

    let missing = bin(&["keys", "list", "--keys-file", f]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("oktamirror keys new"),
        "{}",
        text(&missing.stderr)
    );

    let out = bin(&[
        "keys",
        "new",
        "--keys-file",
        f,
        "--name",
        "hr-portal",
        "--role",
        "hr",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the key on stdout: {stdout:?}");
    let key = lines[0];
    assert!(key.starts_with("om_") && key.len() >= 3 + 43, "{key}");
    assert!(!text(&out.stderr).contains(key), "the key only on stdout");
    let stored = std::fs::read_to_string(&file).expect("read");
    assert!(!stored.contains(key), "the file never holds the key");
    assert!(stored.contains(&keys::hash_hex(key)), "{stored}");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&keys_dir), 0o755, "the directory is left as it was");

    let dup = bin(&[
        "keys",
        "new",
        "--keys-file",
        f,
        "--name",
        "hr-portal",
        "--role",
        "admin",
    ]);
    assert!(!dup.status.success());
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );
    assert!(dup.stdout.is_empty());
    let role = bin(&[
        "keys",
        "new",
        "--keys-file",
        f,
        "--name",
        "x",
        "--role",
        "root",
    ]);
    assert!(!role.status.success());
    assert!(
        text(&role.stderr).contains("directory, hr, admin, provisioner, metrics"),
        "{}",
        text(&role.stderr)
    );
    let second = bin(&[
        "keys",
        "new",
        "--keys-file",
        f,
        "--name",
        "scraper",
        "--role",
        "metrics",
    ]);
    assert!(second.status.success());

    let list = bin(&["keys", "list", "--keys-file", f]);
    assert!(list.status.success());
    let listed = text(&list.stdout);
    assert!(listed.contains("hr-portal") && listed.contains("hr") && listed.contains("scraper"));
    assert!(
        listed.contains("metrics") && listed.contains("Z"),
        "{listed}"
    );
    assert!(!listed.contains(&keys::hash_hex(key)), "never the hashes");

    let revoke = bin(&["keys", "revoke", "--keys-file", f, "--name", "hr-portal"]);
    assert!(revoke.status.success(), "{}", text(&revoke.stderr));
    let listed = text(&bin(&["keys", "list", "--keys-file", f]).stdout);
    assert!(
        !listed.contains("hr-portal") && listed.contains("scraper"),
        "{listed}"
    );
    assert_eq!(mode(&file), 0o600);
    let again = bin(&["keys", "revoke", "--keys-file", f, "--name", "hr-portal"]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("keys list"),
        "{}",
        text(&again.stderr)
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_guard_every_route_but_probes_and_hook_and_changes_apply_without_restart() {
    let (_sim, sim_addr) = start_sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys.jsonl");
    let (app_key, _) = keys::create(&keys_file, "app", Role::Directory).expect("key");
    let data_dir = dir.path().join("fresh").join("data");
    let mut s = settings(sim_addr, &data_dir);
    s.server.keys_file = Some(keys_file.clone());
    s.server.hook = Some(HookAuth {
        header: "Authorization".into(),
        secret: Secret::new(HOOK_SECRET),
    });
    let app = Application::build(s).await.expect("build");
    assert_eq!(
        mode(&data_dir),
        0o700,
        "a data directory we create is private"
    );
    let base = app.url();
    let http = reqwest::Client::new();

    // No key: 401 with the challenge and what to send.
    let r = graphql(&http, &base, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("Authorization: Bearer")),
        "{body}"
    );
    // A wrong key: 401, never echoed.
    let wrong = "om_wrongwrongwrongwrongwrongwrongwrongwrong123";
    let r = graphql(&http, &base, Some(wrong)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().is_ok());
    let body = r.text().await.expect("body");
    assert!(
        !body.contains(wrong) && !body.contains("wrongwrong"),
        "{body}"
    );
    // Every other path needs a key too, unknown ones included.
    let r = http
        .get(format!("{base}/nowhere"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The key works.
    let r = graphql(&http, &base, Some(app_key.expose())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");

    // Probes and the hook answer without a key (the hook checks its own secret).
    let r = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("get");
    assert_ne!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(format!("{base}/hooks/okta"))
        .header("Authorization", HOOK_SECRET)
        .header("X-Okta-Verification-Challenge", "abc")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.expect("json")["verification"],
        "abc"
    );

    // Rotation: a new key works and the old one stops, within seconds, no restart.
    let out = bin(&[
        "keys",
        "new",
        "--keys-file",
        keys_file.to_str().expect("utf-8"),
        "--name",
        "app-2",
        "--role",
        "directory",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new_key = text(&out.stdout).trim().to_owned();
    eventually(Duration::from_secs(5), "the new key is accepted", || {
        let (http, base, k) = (http.clone(), base.clone(), new_key.clone());
        async move { graphql(&http, &base, Some(&k)).await.status() == StatusCode::OK }
    })
    .await;
    let revoke = bin(&[
        "keys",
        "revoke",
        "--keys-file",
        keys_file.to_str().expect("utf-8"),
        "--name",
        "app",
    ]);
    assert!(revoke.status.success());
    let revoked = Instant::now();
    eventually(Duration::from_secs(5), "the revoked key is refused", || {
        let (http, base, k) = (http.clone(), base.clone(), app_key.expose().to_owned());
        async move { graphql(&http, &base, Some(&k)).await.status() == StatusCode::UNAUTHORIZED }
    })
    .await;
    assert!(
        revoked.elapsed() < Duration::from_secs(3),
        "{:?}",
        revoked.elapsed()
    );

    // A broken file keeps the keys in force: over the next 1.5 s the new key keeps working.
    std::fs::write(&keys_file, "{not a key\n").expect("write");
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            graphql(&http, &base, Some(&new_key)).await.status(),
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loopback_server_answers_only_loopback_host_names() {
    let (_sim, sim_addr) = start_sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let app = Application::build(settings(sim_addr, dir.path()))
        .await
        .expect("build");
    let base = app.url();
    let port = app.addr().port();
    let http = reqwest::Client::new();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_owned(),
    ] {
        let r = typename_for_host(&http, &base, &host).await;
        assert_eq!(r.status(), StatusCode::OK, "{host}");
    }
    for host in [
        format!("evil.example:{port}"),
        "localhost.evil.example".into(),
    ] {
        let r = typename_for_host(&http, &base, &host).await;
        assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
        let body: Value = r.json().await.expect("json");
        let e = body["error"].as_str().unwrap_or_default();
        assert!(e.contains("127.0.0.1") && e.contains("--keys-file"), "{e}");
    }
    // The probes (and the hook, with its own secret) stay reachable through a proxy that
    // keeps the public Host.
    let r = http
        .get(format!("{base}/healthz"))
        .header("Host", "mirror.example.com")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    // No key is asked for on an open server.
    assert_eq!(graphql(&http, &base, None).await.status(), StatusCode::OK);
    app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_has_its_own_rate_limit() {
    let (_sim, sim_addr) = start_sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys");
    let (a, _) = keys::create(&keys_file, "a", Role::Hr).expect("a");
    let (b, _) = keys::create(&keys_file, "b", Role::Hr).expect("b");
    let mut s = settings(sim_addr, &dir.path().join("data"));
    s.server.keys_file = Some(keys_file);
    s.server.rate_limit = Some(RateLimit {
        per_second: 0.5,
        burst: 3.0,
    });
    let app = Application::build(s).await.expect("build");
    let base = app.url();
    let http = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            graphql(&http, &base, Some(a.expose())).await.status(),
            StatusCode::OK
        );
    }
    let r = graphql(&http, &base, Some(a.expose())).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(
        r.text().await.expect("body").contains("rate_limit_per_key"),
        "the body says what limits it"
    );
    // Another key has its own bucket; the probes are not counted.
    assert_eq!(
        graphql(&http, &base, Some(b.expose())).await.status(),
        StatusCode::OK
    );
    let r = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await.expect("stop");
}

/// A self-signed certificate for localhost, written as PEM; returns the certificate's PEM.
fn write_cert(cert: &Path, key: &Path) -> String {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    let pem = c.cert.pem();
    std::fs::write(key, c.signing_key.serialize_pem()).expect("write key");
    std::fs::write(cert, &pem).expect("write cert");
    pem
}

/// A fresh client (no pooled connection) that trusts only `pem`.
fn tls_client(pem: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem")])
        .resolve("localhost", addr)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn healthz_over_tls(pem: &str, addr: SocketAddr) -> Result<StatusCode, String> {
    tls_client(pem, addr)
        .get(format!("https://localhost:{}/healthz", addr.port()))
        .send()
        .await
        .map(|r| r.status())
        .map_err(|e| format!("{e:?}"))
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_and_picks_up_a_new_certificate() {
    let (_sim, sim_addr) = start_sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = write_cert(&cert, &key);
    let mut s = settings(sim_addr, &dir.path().join("data"));
    s.server.tls = Some(TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    });
    let app = Application::build(s).await.expect("build");
    assert!(app.url().starts_with("https://"), "{}", app.url());
    let addr = app.addr();
    assert_eq!(healthz_over_tls(&first, addr).await, Ok(StatusCode::OK));
    // Plain HTTP on the TLS port gets nowhere.
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .map(|r| r.status() != StatusCode::OK)
            .unwrap_or(true)
    );

    let second = write_cert(&cert, &key);
    eventually(
        Duration::from_secs(5),
        "the new certificate is served",
        || {
            let pem = second.clone();
            async move { healthz_over_tls(&pem, addr).await == Ok(StatusCode::OK) }
        },
    )
    .await;
    assert!(
        healthz_over_tls(&first, addr).await.is_err(),
        "the old certificate is gone"
    );

    // A broken new pair keeps the certificate in use.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        assert_eq!(healthz_over_tls(&second, addr).await, Ok(StatusCode::OK));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_beyond_loopback_needs_a_keys_file() {
    let (_sim, sim_addr) = start_sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let opts = Options {
        okta_url: Some(format!("http://{sim_addr}")),
        data_dir: Some(dir.path().join("data")),
        listen: Some("0.0.0.0:0".into()),
        ..Default::default()
    };
    let e = Settings::resolve(opts.clone(), Some(TOKEN.into()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("0.0.0.0:0") && e.contains("--keys-file"), "{e}");

    let keys_file = dir.path().join("keys");
    let (k, _) = keys::create(&keys_file, "remote", Role::Directory).expect("key");
    let s = Settings::resolve(
        Options {
            api_keys_file: Some(keys_file),
            ..opts
        },
        Some(TOKEN.into()),
    )
    .expect("any address with keys");
    let app = Application::build(s).await.expect("build");
    assert!(app.addr().ip().is_unspecified(), "{}", app.addr());
    let base = format!("http://127.0.0.1:{}", app.addr().port());
    let http = reqwest::Client::new();
    assert_eq!(
        graphql(&http, &base, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // With keys the Host check is off: the key is what counts.
    let r = http
        .post(format!("{base}/graphql"))
        .header("Host", "mirror.example.com")
        .bearer_auth(k.expose())
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await.expect("stop");
}

#[cfg(unix)]
#[test]
fn serve_warns_about_secret_files_other_users_can_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let token: PathBuf = dir.path().join("okta-token");
    std::fs::write(&token, "00very-secret-token-value\n").expect("write");
    chmod(&token, 0o644);
    let keys_file = dir.path().join("keys");
    keys::create(&keys_file, "a", Role::Hr).expect("key");
    chmod(&keys_file, 0o640);
    // Okta is unreachable (port 1), so serve stops after the warnings.
    let out = Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args([
            "serve",
            "--okta-url",
            "http://127.0.0.1:1",
            "--okta-retries",
            "0",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--okta-token-file")
        .arg(&token)
        .arg("--keys-file")
        .arg(&keys_file)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("NO_COLOR", "1")
        .env_remove("OKTAMIRROR_LOG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run serve");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("chmod 600 {}", token.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("chmod 600 {}", keys_file.display())),
        "{err}"
    );
    assert!(err.contains("WARN"), "{err}");
    assert!(!err.contains("very-secret"), "{err}");
}

/// POSTs `query` with `key` and returns the whole JSON answer.
async fn gql_as(http: &reqwest::Client, base: &str, key: &str, query: &str) -> Value {
    http.post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_over_http_and_state_changes_land_in_the_audit_log() {
    let (sim, sim_addr) = start_sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys.jsonl");
    let (admin, _) = keys::create(&keys_file, "ops-admin", Role::Admin).expect("key");
    let (hr, _) = keys::create(&keys_file, "hr-portal", Role::Hr).expect("key");
    let (app, _) = keys::create(&keys_file, "chat-bot", Role::Directory).expect("key");
    let mut s = settings(sim_addr, &dir.path().join("data"));
    s.server.keys_file = Some(keys_file.clone());
    let mirror = Application::build(s).await.expect("build");
    let base = mirror.url();
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(300), "the first sync", || async {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;

    // The truth: how many of the simulator's people are not deprovisioned.
    let users = sim.users();
    let active = users
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .count();
    assert!(
        active < users.len(),
        "the generated org has deprovisioned people"
    );
    let count = "{ people(filter: {status: []}) { totalCount } }";
    let d = gql_as(&http, &base, app.expose(), count).await;
    assert_eq!(d["data"]["people"]["totalCount"], active, "{d}");
    let d = gql_as(&http, &base, hr.expose(), count).await;
    assert_eq!(d["data"]["people"]["totalCount"], users.len(), "{d}");

    // Only admin may change state; the refusal is FORBIDDEN, and nothing is recorded for it.
    let sync = "mutation { syncNow(kind: INCREMENTAL) { id ok } }";
    for key in [&app, &hr] {
        let r = gql_as(&http, &base, key.expose(), sync).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    }
    let r = gql_as(&http, &base, admin.expose(), sync).await;
    assert_eq!(r["data"]["syncNow"]["ok"], true, "{r}");
    let audit = "{ auditLog { actor action outcome } }";
    let log = gql_as(&http, &base, hr.expose(), audit).await;
    let entries = log["data"]["auditLog"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["actor"], "ops-admin");
    assert_eq!(entries[0]["action"], "syncNow(kind: INCREMENTAL)");
    assert!(
        entries[0]["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("ok: run "))
    );
    let r = gql_as(&http, &base, app.expose(), audit).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");

    // Revoking a key (the CLI edits the file) is recorded by the server that notices it.
    keys::revoke(&keys_file, "chat-bot").expect("revoke");
    eventually(
        Duration::from_secs(60),
        "the revocation in the audit log",
        || async {
            let log = gql_as(&http, &base, hr.expose(), audit).await;
            log["data"]["auditLog"][0]["action"] == "key revoked: chat-bot (directory)"
        },
    )
    .await;
    let r = graphql(&http, &base, Some(app.expose())).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let leaked =
        serde_json::to_string(&gql_as(&http, &base, hr.expose(), audit).await).expect("json");
    for key in [&admin, &hr, &app] {
        assert!(!leaked.contains(key.expose()), "no key in the audit log");
    }
}
