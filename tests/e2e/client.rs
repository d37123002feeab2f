//! The production Okta client against the simulator: OAuth with and without DPoP, token
//! renewal, errors that name their fix, retries under injected faults, rate-limit pacing and
//! 429s, `check`, and secrets kept out of logs.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oktamirror::model::SyncRun;
use oktamirror::okta::{Auth, ClientOptions, OAuthConfig, OktaClient, OktaSource, check};
use oktamirror::secret::Secret;
use oktamirror::sim::{Faults, OAuthApp, RateLimits, SimPublicKey, Simulator};
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

use crate::support::{TOKEN, TestSim, base_url, keys, quick};

const BAD_TOKEN: &str = "SSWS-BAD-token-9876543210";
const CLIENT_ID: &str = "0oaTESTCLIENT123";

/// The simulator these tests use (seed 11), with `groups` groups or the default.
async fn start_sim(users: usize, groups: Option<usize>) -> (Simulator, SocketAddr) {
    let ts = TestSim::with_groups(users, groups, 11).await;
    (ts.sim, ts.addr)
}

/// A fresh RSA key: (PKCS#8 PEM, the public key as the simulator wants it).
fn rsa_key() -> (String, SimPublicKey) {
    let k = keys::rsa_key();
    (k.pkcs8, k.public)
}

/// A fresh EC P-256 key: (PKCS#8 PEM, public point).
fn ec_key() -> (String, SimPublicKey) {
    let k = keys::ec_key();
    (k.pkcs8, k.public)
}

/// The simulator's base URL.
fn base(addr: SocketAddr) -> url::Url {
    base_url(addr)
}

fn oauth(private_key: &str) -> OAuthConfig {
    OAuthConfig {
        client_id: CLIENT_ID.into(),
        private_key: Secret::new(private_key),
        key_id: None,
        scopes: Vec::new(),
        dpop_key: None,
        key_file: None,
    }
}

async fn crawl(source: &OktaSource) -> (SyncRun, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let run = sync::run_full(
        &store,
        source as &dyn Source,
        &SyncConfig::default(),
        &NoProgress,
    )
    .await;
    (run, store, dir)
}

/// Every user and every membership of the simulator is in the store, and nothing else.
fn assert_exact_mirror(sim: &Simulator, run: &SyncRun, store: &Store) {
    assert!(run.ok, "the crawl failed: {:?}", run.error);
    let users = sim.users();
    assert_eq!(run.changes.people_created as usize, users.len());
    assert_eq!(run.changes.groups_created as usize, sim.groups().len());
    for u in &users {
        let id = u["id"].as_str().expect("id");
        assert!(store.person(id).expect("read").is_some(), "{id} missing");
        let mut groups = store.group_ids_of(id).expect("read");
        groups.sort();
        assert_eq!(groups, sim.user_groups(id), "memberships of {id}");
    }
}

async fn oauth_source(addr: SocketAddr, cfg: OAuthConfig, opts: ClientOptions) -> OktaSource {
    OktaSource::with_auth(base(addr), Auth::OAuth(cfg), opts).expect("source")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_without_dpop_mirrors_everything() {
    let (sim, addr) = start_sim(300, None).await;
    let (private, public) = rsa_key();
    sim.enable_oauth(OAuthApp::new(CLIENT_ID, public));
    let source = oauth_source(addr, oauth(&private), quick()).await;
    let (run, store, _dir) = crawl(&source).await;
    assert_exact_mirror(&sim, &run, &store);
    assert_eq!(sim.tokens_minted(), 1, "one token serves the whole crawl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_with_dpop_and_nonces_mirrors_everything() {
    let (sim, addr) = start_sim(300, None).await;
    let (private, public) = ec_key();
    let mut app = OAuthApp::new(CLIENT_ID, public);
    app.require_dpop = true;
    app.dpop_nonce_on_resources = true;
    sim.enable_oauth(app);
    // No DPoP key configured: the client learns from the token endpoint that DPoP is required.
    let source = oauth_source(addr, oauth(&private), quick()).await;
    let (run, store, _dir) = crawl(&source).await;
    assert_exact_mirror(&sim, &run, &store);
    // A new nonce mid-life is picked up from `WWW-Authenticate: DPoP error="use_dpop_nonce"`.
    sim.rotate_dpop_nonce();
    let (run, store, _dir) = crawl(&source).await;
    assert_exact_mirror(&sim, &run, &store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_mid_crawl() {
    let (sim, addr) = start_sim(300, None).await;
    let (private, public) = rsa_key();
    sim.enable_oauth(OAuthApp::new(CLIENT_ID, public));
    sim.set_faults(Faults {
        slow_percent: 100,
        slow_by: Duration::from_millis(20),
        ..Default::default()
    });
    let watcher = {
        let sim = sim.clone();
        tokio::spawn(async move {
            while sim.request_count() < 8 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sim.expire_access_tokens();
        })
    };
    let source = oauth_source(addr, oauth(&private), quick()).await;
    let (run, store, _dir) = crawl(&source).await;
    watcher.await.expect("watcher");
    assert_exact_mirror(&sim, &run, &store);
    assert!(sim.tokens_minted() >= 2, "the expired token was replaced");
}

async fn first_error(source: &OktaSource) -> String {
    let (run, _store, _dir) = crawl(source).await;
    assert!(!run.ok);
    run.error.expect("an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misconfiguration_names_its_fix() {
    let (sim, addr) = start_sim(50, None).await;
    let (private, public) = rsa_key();
    let mut app = OAuthApp::new(CLIENT_ID, public);
    app.granted_scopes.retain(|s| s != "okta.groups.read");
    sim.enable_oauth(app);

    let (other_key, _) = rsa_key();
    let e = first_error(&oauth_source(addr, oauth(&other_key), quick()).await).await;
    assert!(
        e.contains("invalid_client") && e.contains("Public keys"),
        "{e}"
    );

    let mut wrong_id = oauth(&private);
    wrong_id.client_id = "0oaSOMEONEELSE".into();
    let e = first_error(&oauth_source(addr, wrong_id, quick()).await).await;
    assert!(e.contains("copy the Client ID"), "{e}");

    let e = first_error(&oauth_source(addr, oauth(&private), quick()).await).await;
    assert!(
        e.contains("grant okta.groups.read") && e.contains("Okta API Scopes"),
        "{e}"
    );

    let ssws = OktaSource::new(base(addr), Secret::new("not-the-token")).expect("source");
    let e = first_error(&ssws).await;
    assert!(
        e.contains("Security > API > Tokens") && e.contains("30 days"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_faulty_responses_still_give_an_exact_mirror() {
    let (sim, addr) = start_sim(600, Some(40)).await;
    sim.set_faults(Faults {
        error_500_percent: 3,
        error_503_percent: 2,
        truncated_percent: 2,
        dropped_percent: 2,
        slow_percent: 1,
        slow_by: Duration::from_millis(1500),
        ..Default::default()
    });
    let opts = ClientOptions {
        timeout: Duration::from_millis(700),
        ..quick()
    };
    let source =
        OktaSource::with_auth(base(addr), Auth::Ssws(Secret::new(TOKEN)), opts).expect("source");
    let (run, store, _dir) = crawl(&source).await;
    assert_exact_mirror(&sim, &run, &store);
    assert!(source.client().retries() > 0, "faults were met and retried");
}

fn limited_sim(sim: &Simulator) {
    sim.set_rate_limits(RateLimits {
        per_window: Some(60),
        window: Duration::from_secs(2),
        ..Default::default()
    });
}

/// The client spends at most `share` of each window; a request can still reach Okta in the
/// next window (sent at the end of one, received at the start of the next, as happens on a
/// loaded machine), and at most `concurrency` requests are in flight. So the headroom the
/// share leaves (10 of 100 at 90 %) is kept above the requests in flight (8): no 429 is then
/// possible however slow the machine, and the crawl spans several windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_below_the_full_share_never_meets_a_429() {
    let limit = 100u32;
    for share in [0.5, 0.9] {
        // A fresh org per share: its windows start empty, as a fresh start would find them.
        let (sim, addr) = start_sim(200, Some(300)).await;
        sim.set_rate_limits(RateLimits {
            per_window: Some(limit),
            window: Duration::from_secs(2),
            ..Default::default()
        });
        let opts = ClientOptions {
            rate_limit_share: share,
            ..quick()
        };
        let source = OktaSource::with_auth(base(addr), Auth::Ssws(Secret::new(TOKEN)), opts)
            .expect("source");
        let (run, store, _dir) = crawl(&source).await;
        assert_exact_mirror(&sim, &run, &store);
        assert!(
            run.requests as f64 > 2.0 * share * f64::from(limit),
            "the crawl spans windows: {} requests",
            run.requests
        );
        assert_eq!(sim.rate_limit_rejections(), (0, 0), "share {share}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_the_client_waits_for_the_reset() {
    let (sim, addr) = start_sim(100, None).await;
    limited_sim(&sim);
    // Another integration has spent the whole users bucket.
    sim.consume_rate_limit("/api/v1/users", 60);
    let source =
        OktaSource::with_auth(base(addr), Auth::Ssws(Secret::new(TOKEN)), quick()).expect("source");
    let (run, store, _dir) = crawl(&source).await;
    assert_exact_mirror(&sim, &run, &store);
    let (rate, _) = sim.rate_limit_rejections();
    assert!(rate >= 1, "the forced 429 happened");
    assert!(
        rate <= 2,
        "{rate} 429s: the client must wait for the reset, not hammer"
    );
    assert_eq!(source.client().rate_limited(), rate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_a_good_setup_and_names_the_fix_otherwise() {
    let (sim, addr) = start_sim(50, None).await;
    let (private, public) = ec_key();
    let mut app = OAuthApp::new(CLIENT_ID, public);
    app.granted_scopes.retain(|s| s != "okta.logs.read");
    sim.enable_oauth(app);
    let good = OktaClient::new(base(addr), Secret::new(TOKEN)).expect("client");
    let probes = check::run(&good).await;
    assert!(probes.iter().all(|p| p.ok), "{}", check::table(&probes));
    assert_eq!(probes.len(), 8);

    let client =
        OktaClient::with_auth(base(addr), Auth::OAuth(oauth(&private)), quick()).expect("client");
    let probes = check::run(&client).await;
    let failed: Vec<_> = probes.iter().filter(|p| !p.ok).collect();
    assert_eq!(failed.len(), 1, "{}", check::table(&probes));
    assert!(failed[0].name.starts_with("logs"));
    assert!(failed[0].detail.contains("grant okta.logs.read"));
    // User types are optional: not granted, the probe passes and says what that costs.
    let types = probes
        .iter()
        .find(|p| p.name.starts_with("user types"))
        .expect("a user types probe");
    assert!(
        types.ok && types.detail.contains("okta.userTypes.read"),
        "{}",
        check::table(&probes)
    );
}

#[test]
fn check_command_exits_non_zero_with_the_fix() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let (_sim, addr) = rt.block_on(start_sim(20, None));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(["check", "--okta-url", &format!("http://{addr}")])
        .env("OKTA_API_TOKEN", "wrong-token")
        .env_remove("OKTAMIRROR_CONFIG")
        .output()
        .expect("run oktamirror check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("authenticate") && stdout.contains("FAIL"),
        "{stdout}"
    );
    assert!(stdout.contains("Security > API > Tokens"), "{stdout}");
}

/// A `MakeWriter` into a shared buffer, to read what was logged.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Set in the child process that runs [`no_secret_reaches_the_logs_even_at_trace_level`]'s body.
const LOG_CHILD: &str = "OKTAMIRROR_E2E_LOG_CHILD";

/// Runs its body in a child process of this test binary, alone: a subscriber that must see
/// every log line of the process cannot share it with fifty other tests, whose threads race
/// tracing's global call-site interest cache (it failed once that way on a loaded machine).
#[test]
fn no_secret_reaches_the_logs_even_at_trace_level() {
    if std::env::var_os(LOG_CHILD).is_some() {
        return secrets_stay_out_of_the_logs();
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "client::no_secret_reaches_the_logs_even_at_trace_level",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LOG_CHILD, "1")
        .output()
        .expect("run the child");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran the test:\n{text}");
}

fn secrets_stay_out_of_the_logs() {
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buf.clone())
        .finish();
    // Alone in its process: the global subscriber sees every thread.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    // One thread, so every task logs through the subscriber set on it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (private, public) = rsa_key();
    let (dpop, _) = ec_key();
    let sim = rt.block_on(async {
        let (sim, addr) = start_sim(200, None).await;
        let mut app = OAuthApp::new(CLIENT_ID, public);
        app.require_dpop = true;
        sim.enable_oauth(app);
        sim.set_faults(Faults {
            error_500_percent: 5,
            ..Default::default()
        });
        let mut cfg = oauth(&private);
        cfg.dpop_key = Some(Secret::new(dpop.clone()));
        let source = oauth_source(addr, cfg, quick()).await;
        let (run, store, _dir) = crawl(&source).await;
        assert_exact_mirror(&sim, &run, &store);
        // A failing SSWS token too, so error paths are logged.
        let bad = OktaSource::new(base(addr), Secret::new(BAD_TOKEN)).expect("source");
        let _ = crawl(&bad).await;
        sim
    });
    let logs = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("minted an Okta access token"),
        "logs were captured"
    );
    assert!(logs.contains("Okta request failed"), "failures were logged");
    let tokens = sim.access_tokens();
    assert!(!tokens.is_empty());
    for t in &tokens {
        assert!(!logs.contains(t.as_str()), "an access token was logged");
    }
    let key_body = |pem: &str| pem.lines().nth(1).expect("a body line").to_owned();
    assert!(
        !logs.contains(&key_body(&private)),
        "the private key was logged"
    );
    assert!(!logs.contains(&key_body(&dpop)), "the DPoP key was logged");
    assert!(!logs.contains(TOKEN), "the SSWS token was logged");
    assert!(!logs.contains(BAD_TOKEN), "the wrong SSWS token was logged");
}

/// `oktamirror health --url` and `--log-format` at their empty, largest and garbage values:
/// a non-zero exit with one line saying what to give instead.
#[test]
fn health_url_and_log_format_at_their_extremes() {
    use crate::support::process::cli;

    let long = format!("http://127.0.0.1:1/{}", "a".repeat(100_000));
    for (url, says) in [
        ("", "is not a URL"),
        ("not a url", "is not a URL"),
        ("ftp://127.0.0.1/readyz", "must start with http"),
        ("http://127.0.0.1:1/readyz", "did not answer"),
        (long.as_str(), "did not answer"),
    ] {
        let (ok, err) = cli(&["health", "--url", url], &[]);
        assert!(!ok, "{url:.60}: {err}");
        assert!(err.contains(says), "{url:.60}: {err}");
        assert!(
            err.len() < 3_000,
            "the error does not echo a huge URL whole: {}",
            err.len()
        );
    }
    for format in ["", "yaml", "JSON "] {
        let (ok, err) = cli(&["--log-format", format, "schema"], &[]);
        assert!(!ok, "{format:?}");
        assert!(
            err.contains("text") && err.contains("json"),
            "{format:?}: {err}"
        );
    }
}
