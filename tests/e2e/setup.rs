//! `oktamirror setup` as an admin runs it (the binary, the admin token on standard input)
//! against the simulator's Apps API: from nothing to a mirror syncing with the new app and
//! DPoP, a second run, key rotation under a running mirror, admins without super-admin
//! rights, `--remove`; the admin token never in a log line or a file.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use oktamirror::sim::AdminRole;

use crate::support::process::Serve;
use crate::support::{TestSim, wait_for};

/// The one-time admin tokens (distinct from the org token `serve` is started with).
const SUPER: &str = "one-time-super-admin-token-5f1c9a";
const APP_ADMIN: &str = "one-time-app-admin-token-77b2e0";
const READ_ONLY: &str = "one-time-read-only-token-3d8a41";

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `oktamirror setup ARGS` with `token` on standard input (never in a flag or the env).
async fn setup(url: &str, args: &[&str], token: &str) -> Ran {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .arg("setup")
        .args(["--okta-url", url])
        .args(args)
        .env_remove("OKTA_API_TOKEN")
        .env_remove("OKTAMIRROR_OKTA_URL")
        .env_remove("OKTAMIRROR_CONFIG")
        .env_remove("OKTAMIRROR_DATA_DIR")
        .env("OKTAMIRROR_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oktamirror setup");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{token}\n").as_bytes())
        .await
        .expect("write the token");
    drop(stdin);
    let out = child.wait_with_output().await.expect("setup ran");
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The apps the simulator holds, by label.
fn apps(ts: &TestSim, label: &str) -> Vec<Value> {
    ts.sim
        .registered_apps()
        .into_iter()
        .filter(|a| a["label"] == label)
        .collect()
}

fn strings(v: &Value, list: &str, field: &str) -> Vec<String> {
    let mut out: Vec<String> = v[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[field].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn keys_of(app: &Value) -> Vec<Value> {
    app["settings"]["oauthClient"]["jwks"]["keys"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Every file under `dir`, as bytes, for the token search.
fn every_file(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            every_file(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p.display().to_string(), b));
        }
    }
}

fn assert_no_token(token: &str, texts: &[(&str, &str)], dir: &Path) {
    for (what, text) in texts {
        assert!(!text.contains(token), "the admin token is in {what}");
    }
    let mut files = Vec::new();
    every_file(dir, &mut files);
    assert!(!files.is_empty());
    for (name, bytes) in files {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the admin token is in {name}"
        );
    }
}

/// People the mirror serves (`people` leaves DEPROVISIONED out), once it is ready.
async fn mirrored_people(addr: std::net::SocketAddr) -> u64 {
    wait_for(
        "the mirror to be ready",
        Duration::from_millis(100),
        || async {
            reqwest::get(format!("http://{addr}/readyz"))
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    let answer: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": "{ people(first: 1) { totalCount } }"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    answer["data"]["people"]["totalCount"]
        .as_u64()
        .unwrap_or_else(|| panic!("{answer}"))
}

fn active_people(ts: &TestSim) -> u64 {
    ts.sim
        .users()
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_from_nothing_gives_a_mirror_that_syncs_with_dpop_and_a_second_run_finds_the_app() {
    let ts = TestSim::lifted(60, 171).await;
    ts.sim.add_admin_token(SUPER, AdminRole::SuperAdmin);
    let url = format!("http://{}", ts.addr);
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let config = dir.path().join("oktamirror.toml");
    std::fs::write(&config, "# the mirror's settings\nconcurrency = 4\n").expect("config");
    let (d, c) = (
        data.to_str().expect("utf-8"),
        config.to_str().expect("utf-8"),
    );

    let first = setup(&url, &["--data-dir", d, "--write-config", c], SUPER).await;
    assert!(first.ok, "{}\n{}", first.stdout, first.stderr);
    let found = apps(&ts, "oktamirror");
    assert_eq!(found.len(), 1, "{found:?}");
    let app = &found[0];
    let client_id = app["id"].as_str().expect("id").to_owned();
    assert_eq!(app["status"], "ACTIVE");
    assert_eq!(
        app["settings"]["oauthClient"]["dpop_bound_access_tokens"],
        true
    );
    assert_eq!(
        app["credentials"]["oauthClient"]["token_endpoint_auth_method"],
        "private_key_jwt"
    );
    assert_eq!(
        strings(app, "_grants", "scopeId"),
        [
            "okta.groups.read",
            "okta.logs.read",
            "okta.userTypes.read",
            "okta.users.read"
        ]
    );
    assert_eq!(strings(app, "_roles", "type"), ["READ_ONLY_ADMIN"]);
    assert_eq!(keys_of(app).len(), 1);

    // The key: owner-only, in the data directory, the one registered.
    let key_file = data.join("okta-app-key.jwk");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key: Value =
        serde_json::from_str(&std::fs::read_to_string(&key_file).expect("key")).expect("jwk");
    assert_eq!(key["kid"], keys_of(app)[0]["kid"]);
    assert!(key["d"].is_string());
    assert!(
        keys_of(app)[0].get("d").is_none(),
        "Okta got only the public half"
    );

    // The config: setup's keys added, the file's own settings kept.
    let text = std::fs::read_to_string(&config).expect("config");
    let table: toml::Table = text.parse().expect("toml");
    assert_eq!(table["okta_client_id"].as_str(), Some(client_id.as_str()));
    assert_eq!(table["okta_private_key_file"].as_str(), key_file.to_str());
    assert_eq!(table["concurrency"].as_integer(), Some(4));
    assert!(
        first
            .stdout
            .contains("Admin Console → Security → API → Tokens"),
        "{}",
        first.stdout
    );
    assert!(
        first.stderr.contains("PASS"),
        "the check ran: {}",
        first.stderr
    );

    // Twice: the app is found and checked, not duplicated.
    let second = setup(&url, &["--data-dir", d, "--write-config", c], SUPER).await;
    assert!(second.ok, "{}\n{}", second.stdout, second.stderr);
    assert!(second.stderr.contains("Found the app"), "{}", second.stderr);
    let again = apps(&ts, "oktamirror");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], client_id.as_str());
    assert_eq!(keys_of(&again[0]).len(), 1);
    assert_eq!(strings(&again[0], "_grants", "scopeId").len(), 4);
    assert_eq!(strings(&again[0], "_roles", "type"), ["READ_ONLY_ADMIN"]);

    // The mirror, from the written config alone: OAuth with the new app. The app requires
    // DPoP, so the simulator issues it nothing without a proof.
    let minted = ts.sim.tokens_minted();
    let serve = Serve::start(
        ts.addr,
        &data,
        "info,oktamirror=debug",
        &["--config", c],
        &[],
        None,
    );
    let addr = serve.addr().await;
    assert_eq!(mirrored_people(addr).await, active_people(&ts));
    assert!(
        ts.sim.tokens_minted() > minted,
        "the mirror signed in with the app"
    );
    assert!(
        serve.log().contains("dpop=true"),
        "the token is DPoP-bound:\n{}",
        serve.log()
    );

    let removed = setup(&url, &["--data-dir", d, "--remove"], SUPER).await;
    assert!(removed.ok, "{}\n{}", removed.stdout, removed.stderr);
    assert!(apps(&ts, "oktamirror").is_empty());
    assert!(
        removed.stdout.contains("Deactivated and deleted"),
        "{}",
        removed.stdout
    );
    let nothing = setup(&url, &["--data-dir", d, "--remove"], SUPER).await;
    assert!(
        nothing.ok && nothing.stdout.contains("nothing to remove"),
        "{}",
        nothing.stdout
    );
    serve.stop().await;

    let log = serve.log();
    assert_no_token(
        SUPER,
        &[
            (
                "setup's output",
                &format!(
                    "{}{}{}{}",
                    first.stdout, first.stderr, second.stdout, second.stderr
                ),
            ),
            (
                "remove's output",
                &format!("{}{}", removed.stdout, removed.stderr),
            ),
            ("the mirror's log", &log),
        ],
        dir.path(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_under_a_running_mirror_fails_no_request() {
    let ts = TestSim::lifted(40, 172).await;
    ts.sim.add_admin_token(SUPER, AdminRole::SuperAdmin);
    // Tokens of short life, so the running mirror signs in again after the rotation.
    ts.sim.set_app_token_lifetime(Duration::from_secs(60));
    let url = format!("http://{}", ts.addr);
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let key_file = dir.path().join("secrets").join("app.jwk");
    let config = dir.path().join("oktamirror.toml");
    let (d, k, c) = (
        data.to_str().expect("utf-8"),
        key_file.to_str().expect("utf-8"),
        config.to_str().expect("utf-8"),
    );
    let made = setup(
        &url,
        &["--data-dir", d, "--key-file", k, "--write-config", c],
        SUPER,
    )
    .await;
    assert!(made.ok, "{}\n{}", made.stdout, made.stderr);
    let old_kid = keys_of(&apps(&ts, "oktamirror")[0])[0]["kid"].clone();

    let serve = Serve::start(ts.addr, &data, "info", &["--config", c], &[], None);
    let addr = serve.addr().await;
    assert_eq!(mirrored_people(addr).await, active_people(&ts));

    let rotated = setup(
        &url,
        &["--data-dir", d, "--key-file", k, "--rotate-key"],
        SUPER,
    )
    .await;
    assert!(rotated.ok, "{}\n{}", rotated.stdout, rotated.stderr);
    let app = apps(&ts, "oktamirror");
    assert_eq!(app.len(), 1);
    let keys = keys_of(&app[0]);
    assert_eq!(keys.len(), 1, "the old key is removed: {keys:?}");
    assert_ne!(keys[0]["kid"], old_kid);
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(&key_file).expect("key")).expect("jwk");
    assert_eq!(
        on_disk["kid"], keys[0]["kid"],
        "the key file holds the new key"
    );

    // The mirror signs in again (only the new key is left) and keeps following changes.
    let after = ts.sim.tokens_minted();
    wait_for(
        "the mirror to mint with the new key",
        Duration::from_millis(200),
        || {
            let n = ts.sim.tokens_minted();
            async move { n > after }
        },
    )
    .await;
    let someone = ts
        .sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE")
        .and_then(|u| u["id"].as_str().map(str::to_owned))
        .expect("an active user");
    let title = "Key Rotation Witness";
    assert!(
        ts.sim
            .update_profile(&someone, crate::support::patch(&[("title", json!(title))]))
    );
    wait_for("the change to reach the mirror", Duration::from_millis(200), || async {
        let a: Value = reqwest::Client::new()
            .post(format!("http://{addr}/graphql"))
            .json(&json!({"query": "query($id: ID!) { person(id: $id) { title } }", "variables": {"id": someone}}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        a["data"]["person"]["title"] == title
    })
    .await;
    assert!(
        serve.log().contains("the OAuth private key file changed"),
        "the mirror re-read the key file:\n{}",
        serve.log()
    );
    assert_eq!(
        ts.sim.auth_failures(),
        (0, 0),
        "no token request and no call was refused during the rotation"
    );
    serve.stop().await;
    assert_no_token(
        SUPER,
        &[
            (
                "rotate's output",
                &format!("{}{}", rotated.stdout, rotated.stderr),
            ),
            ("the mirror's log", &serve.log()),
        ],
        dir.path(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_without_super_admin_rights_get_a_clear_message_and_a_partial_app_the_way_out() {
    let ts = TestSim::lifted(20, 173).await;
    ts.sim.add_admin_token(SUPER, AdminRole::SuperAdmin);
    ts.sim.add_admin_token(APP_ADMIN, AdminRole::AppAdmin);
    ts.sim.add_admin_token(READ_ONLY, AdminRole::ReadOnlyAdmin);
    let url = format!("http://{}", ts.addr);
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let d = data.to_str().expect("utf-8");

    // A read-only admin cannot even create the app: nothing is left behind in Okta.
    let ro = setup(&url, &["--data-dir", d], READ_ONLY).await;
    assert!(!ro.ok);
    assert!(
        ro.stderr.contains("E0000006") && ro.stderr.contains("Super Administrator"),
        "{}",
        ro.stderr
    );
    assert!(ro.stderr.contains("Nothing was created"), "{}", ro.stderr);
    assert!(apps(&ts, "oktamirror").is_empty());

    // An app admin creates the app but may not grant scopes: a partial app, with the commands
    // to finish or delete it.
    let half = setup(&url, &["--data-dir", d], APP_ADMIN).await;
    assert!(!half.ok);
    assert!(
        half.stderr.contains("E0000006") && half.stderr.contains("Super Administrator"),
        "{}",
        half.stderr
    );
    assert!(
        half.stderr
            .contains(&format!("oktamirror setup --okta-url {url}")),
        "{}",
        half.stderr
    );
    assert!(half.stderr.contains("--remove"), "{}", half.stderr);
    let partial = apps(&ts, "oktamirror");
    assert_eq!(partial.len(), 1);
    assert!(strings(&partial[0], "_grants", "scopeId").is_empty());

    // The super admin's run finishes that same app.
    let done = setup(&url, &["--data-dir", d], SUPER).await;
    assert!(done.ok, "{}\n{}", done.stdout, done.stderr);
    let finished = apps(&ts, "oktamirror");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["id"], partial[0]["id"]);
    assert_eq!(strings(&finished[0], "_grants", "scopeId").len(), 4);
    assert_eq!(strings(&finished[0], "_roles", "type"), ["READ_ONLY_ADMIN"]);
    assert!(
        done.stdout.contains("okta_client_id"),
        "the config is printed: {}",
        done.stdout
    );
    for (token, ran) in [(READ_ONLY, &ro), (APP_ADMIN, &half), (SUPER, &done)] {
        assert_no_token(
            token,
            &[("setup's output", &format!("{}{}", ran.stdout, ran.stderr))],
            dir.path(),
        );
    }
}
