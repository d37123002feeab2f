//! What the end-to-end tests share: a simulator on port 0 (`TestSim`), a mirror of it on port
//! 0 in a temp dir (`TestApp`, built with `TestApp::builder`), GraphQL calls, waits on
//! conditions (never on sleeps alone), the simulator's state as the truth a mirror must equal,
//! random org changes, and the real binary as a child process.

pub mod browser;
pub mod keys;
pub mod process;
mod settings;
pub mod truth;
mod watchdog;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use oktamirror::okta::ClientOptions;
use oktamirror::search::Index;
use oktamirror::sim::{RateLimits, SimOptions, Simulator};
use oktamirror::startup::{Application, SyncHandle};
use oktamirror::store::Store;

pub use settings::{AppOptions, provisioning_settings, settings};
use watchdog::Watch;

pub const TOKEN: &str = "test-token-0123456789";
pub const HOOK_SECRET: &str = "Bearer hook-secret-0123456789abcdef";

/// How long a wait may take before the test is called stuck. Generous on purpose: a loaded
/// 2-core machine running a debug build is slow, and these deadlines only catch a hang.
pub const STUCK: Duration = Duration::from_secs(300);

/// Polls `cond` every `every` until it holds; panics with `what` after `STUCK`.
pub async fn wait_for<F, Fut>(what: &str, every: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < STUCK, "stuck waiting for {what}");
        tokio::time::sleep(every).await;
    }
}

/// Waits until the mirror at `addr` answers `/readyz` with 200 (first full sync done and
/// indexed); for servers a test started itself (`TestApp::wait_ready` for its own).
pub async fn wait_ready_at(addr: SocketAddr) {
    wait_for("/readyz", Duration::from_millis(50), || async {
        reqwest::get(format!("http://{addr}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// A simulated Okta org served on a loopback port.
pub struct TestSim {
    pub sim: Simulator,
    pub addr: SocketAddr,
    _watch: Watch,
}

impl TestSim {
    /// `users` people (and the generator's default number of groups) from `seed`.
    pub async fn start(users: usize, seed: u64) -> TestSim {
        TestSim::with_groups(users, None, seed).await
    }

    pub async fn with_groups(users: usize, groups: Option<usize>, seed: u64) -> TestSim {
        let sim = Simulator::new(SimOptions {
            users,
            groups,
            seed,
            token: TOKEN.into(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the simulator");
        let addr = sim.serve(listener).expect("serve the simulator");
        unkind(&sim, None);
        TestSim {
            sim,
            addr,
            _watch: Watch::new(),
        }
    }

    /// A simulator whose rate limits do not slow a test that is not about them.
    pub async fn lifted(users: usize, seed: u64) -> TestSim {
        let s = TestSim::start(users, seed).await;
        unkind(&s.sim, Some(1_000_000));
        s
    }

    /// `lifted`, with `groups` groups.
    pub async fn lifted_with_groups(users: usize, groups: usize, seed: u64) -> TestSim {
        let s = TestSim::with_groups(users, Some(groups), seed).await;
        unkind(&s.sim, Some(1_000_000));
        s
    }
}

/// A token's share of each rate-limit bucket in tests: Okta's default for a new token or app.
pub const TOKEN_SHARE_PERCENT: u32 = 50;

/// How late a System Log event may appear after its `published` time in tests.
pub const LOG_DELAY: Duration = Duration::from_millis(1500);

/// Okta as unkind as it is, on by default in every test (a test about something else turns a
/// switch off only where it says why): single GETs with more `_links` than list items and 400s
/// for unknown parameters (the simulator's defaults), per-endpoint buckets with each token
/// getting half of every one (`per_window` overrides the published numbers), list cursors that
/// expire after a minute, System Log events appearing late and out of `published` order, and
/// sign-ins moving `lastLogin` all the time.
fn unkind(sim: &Simulator, per_window: Option<u32>) {
    let mut strict = sim.strictness();
    strict.reject_unknown_params = true;
    strict.full_links_on_get = true;
    strict.cursor_ttl = Some(Duration::from_secs(60));
    sim.set_strictness(strict);
    sim.set_rate_limits(RateLimits {
        per_window,
        token_share_percent: TOKEN_SHARE_PERCENT,
        ..Default::default()
    });
    sim.set_log_delay(LOG_DELAY);
    sim.start_sign_ins(Duration::from_millis(250), 2)
        .expect("start the sign-in worker");
}

pub fn base_url(addr: SocketAddr) -> url::Url {
    url::Url::parse(&format!("http://{addr}/")).expect("url")
}

/// Client options with quick retries (tests that inject faults wait for retries to end).
pub fn quick() -> ClientOptions {
    ClientOptions {
        retry_base: Duration::from_millis(10),
        ..Default::default()
    }
}

/// Options of a `TestApp` before it starts.
pub struct AppBuilder<'a> {
    sim: &'a TestSim,
    opts: AppOptions,
    dir: Option<PathBuf>,
}

impl AppBuilder<'_> {
    /// Changes only by full crawls: no System Log tail, no sweeps (tests of what a crawl does).
    pub fn crawl_only(mut self) -> Self {
        self.opts.tail = false;
        self.no_sweeps()
    }

    /// Runs on `dir` (kept by the caller) instead of a fresh temporary directory.
    pub fn data_dir(mut self, dir: PathBuf) -> Self {
        self.dir = Some(dir);
        self
    }

    /// No System Log tail (sweeps, hooks and reconciles still run).
    pub fn no_tail(mut self) -> Self {
        self.opts.tail = false;
        self
    }

    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.opts.poll_interval = d;
        self
    }

    /// Sweeps once an hour: never within a test.
    pub fn no_sweeps(mut self) -> Self {
        self.opts.sweep_interval = Duration::from_secs(3600);
        self
    }

    /// `/hooks/okta` on, with `HOOK_SECRET` in `Authorization`.
    pub fn hooks(mut self) -> Self {
        self.opts.hook_secret = Some(HOOK_SECRET.into());
        self
    }

    /// `/readyz` answers 503 once Okta was last read successfully longer ago than `d`.
    pub fn max_staleness(mut self, d: Duration) -> Self {
        self.opts.max_staleness = Some(d);
        self
    }

    /// Typed fields read as `map` says, with its extended attributes.
    pub fn attribute_map(mut self, map: oktamirror::model::AttributeMap) -> Self {
        self.opts.attribute_map = map;
        self
    }

    /// Mirrors only `scope`'s part of the org.
    pub fn scope(mut self, scope: oktamirror::sync::Scope) -> Self {
        self.opts.scope = scope;
        self
    }

    pub fn search_attributes(mut self, attrs: &[&str]) -> Self {
        self.opts.search_attributes = attrs.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Starts the mirror without waiting for anything.
    pub async fn build(self) -> TestApp {
        let (dir, path) = match self.dir {
            Some(p) => (None, p),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let p = t.path().to_path_buf();
                (Some(Arc::new(t)), p)
            }
        };
        let app = Application::build(settings::settings(self.sim.addr, &path, &self.opts))
            .await
            .expect("build the mirror");
        TestApp {
            sim: self.sim.sim.clone(),
            sim_addr: self.sim.addr,
            addr: app.addr(),
            http: reqwest::Client::new(),
            opts: self.opts,
            _dir: dir,
            path,
            app: Some(app),
            _watch: Watch::new(),
        }
    }

    /// Starts the mirror and waits until `/readyz` says ready.
    pub async fn spawn(self) -> TestApp {
        let app = self.build().await;
        app.wait_ready().await;
        app
    }
}

/// A running mirror of a `TestSim`, in the style of zero2prod's `spawn_app`.
pub struct TestApp {
    pub sim: Simulator,
    pub sim_addr: SocketAddr,
    pub addr: SocketAddr,
    http: reqwest::Client,
    opts: AppOptions,
    _dir: Option<Arc<tempfile::TempDir>>,
    path: PathBuf,
    app: Option<Application>,
    _watch: Watch,
}

impl TestApp {
    pub fn builder(sim: &TestSim) -> AppBuilder<'_> {
        let mut opts = AppOptions::new(TOKEN);
        opts.retry_base = Some(Duration::from_millis(10));
        AppBuilder {
            sim,
            opts,
            dir: None,
        }
    }

    fn app(&self) -> &Application {
        self.app.as_ref().expect("the mirror is running")
    }

    pub fn store(&self) -> &Store {
        self.app().store()
    }

    pub fn search(&self) -> &Arc<Index> {
        self.app().search()
    }

    pub fn sync(&self) -> SyncHandle {
        self.app().sync_handle()
    }

    pub fn data_dir(&self) -> &Path {
        &self.path
    }

    pub fn hook_url(&self) -> String {
        format!("http://{}/hooks/okta", self.addr)
    }

    /// A GraphQL request; fails the test on any GraphQL error.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        gql(self.addr, query, variables).await
    }

    pub async fn readyz(&self) -> u16 {
        self.http
            .get(format!("http://{}/readyz", self.addr))
            .send()
            .await
            .expect("readyz")
            .status()
            .as_u16()
    }

    /// Waits until `/readyz` says ready (first full sync done and indexed).
    pub async fn wait_ready(&self) {
        wait_for("/readyz", Duration::from_millis(50), || async {
            self.readyz().await == 200
        })
        .await;
    }

    /// Waits until the search index holds everything the store does.
    pub async fn wait_indexed(&self) {
        wait_for("the search index", Duration::from_millis(50), || async {
            self.search().indexed_seq() == self.store().last_seq().expect("seq")
        })
        .await;
    }

    /// Waits until the store equals the simulator's state (see `truth`); `stamps: false`
    /// leaves groups' `lastMembershipUpdated` out.
    /// Whether the mirror's store equals the simulator's state right now.
    pub fn mirrors_sim(&self, stamps: bool) -> bool {
        let want = truth::of_sim(&self.sim, stamps);
        truth::diff(&truth::of_store(self.store(), stamps), &want).is_none()
    }

    pub async fn wait_mirrors_sim(&self, stamps: bool) {
        let start = Instant::now();
        loop {
            let want = truth::of_sim(&self.sim, stamps);
            let Some(d) = truth::diff(&truth::of_store(self.store(), stamps), &want) else {
                return;
            };
            assert!(
                start.elapsed() < STUCK,
                "the mirror never came to equal Okta: {d}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The scope the next `restart` or `start` runs with.
    pub fn set_scope(&mut self, scope: oktamirror::sync::Scope) {
        self.opts.scope = scope;
    }

    /// Stops the mirror and starts it again on the same data directory (not waiting).
    pub async fn restart(&mut self) {
        let app = self.app.take().expect("running");
        app.stop().await.expect("stop");
        let app = Application::build(settings::settings(self.sim_addr, &self.path, &self.opts))
            .await
            .expect("restart the mirror");
        self.addr = app.addr();
        self.app = Some(app);
    }

    /// The attribute mapping the next `start` or `restart` uses.
    pub fn set_attribute_map(&mut self, map: oktamirror::model::AttributeMap) {
        self.opts.attribute_map = map;
    }

    /// Stops the mirror, leaving its data directory for the caller to reopen.
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("stop");
        }
    }

    /// Starts a stopped mirror again.
    pub async fn start(&mut self) {
        assert!(self.app.is_none(), "already running");
        let app = Application::build(settings::settings(self.sim_addr, &self.path, &self.opts))
            .await
            .expect("start the mirror");
        self.addr = app.addr();
        self.app = Some(app);
    }
}

/// A GraphQL request to the mirror at `addr`; fails the test on any GraphQL error.
pub async fn gql(addr: SocketAddr, query: &str, variables: Value) -> Value {
    let resp: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert!(resp.get("errors").is_none(), "GraphQL errors: {resp}");
    resp["data"].clone()
}

/// A GraphQL request with `Authorization: Bearer KEY`; fails the test on any GraphQL error.
pub async fn gql_with_key(addr: SocketAddr, key: &str, query: &str, variables: Value) -> Value {
    let resp: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(key)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert!(resp.get("errors").is_none(), "GraphQL errors: {resp}");
    resp["data"].clone()
}

pub fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

pub fn id_of(v: &Value) -> String {
    s(v, "id").expect("an id")
}

pub fn patch(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A small deterministic generator (xorshift), so a failing sequence can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() {
            None
        } else {
            Some(&v[self.below(v.len())])
        }
    }
}

/// Random changes of the kinds an org sees, made in the simulator.
pub struct Mutator {
    rng: Rng,
    made: usize,
    users: Vec<Value>,
    groups: Vec<Value>,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: Rng(seed),
            made: 0,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// One random change: profile edits, manager changes, department moves, membership
    /// changes, lifecycle changes, deletions, group creates, renames and deletes.
    pub fn mutate(&mut self, sim: &Simulator, step: usize) {
        // Rendering every user is slow in a debug build: refresh the lists every 10 changes
        // (a pick that has since gone away is a change the simulator refuses, which is fine).
        if self.made % 10 == 0 {
            self.users = sim.users();
            self.groups = sim
                .groups()
                .into_iter()
                .filter(|g| g["type"] == "OKTA_GROUP")
                .collect();
        }
        self.made += 1;
        let (users, groups, rng) = (&self.users, &self.groups, &mut self.rng);
        let Some(user) = rng.pick(users).cloned() else {
            return;
        };
        let uid = id_of(&user);
        let gid = |g: &Value| id_of(g);
        match rng.below(100) {
            0..=19 => {
                sim.update_profile(
                    &uid,
                    patch(&[
                        ("title", json!(format!("Title {step}"))),
                        (
                            "city",
                            json!(["Lisbon", "Osaka", "Lagos", "Quito"][step % 4]),
                        ),
                    ]),
                );
            }
            20..=34 => {
                if let Some(m) = rng.pick(users) {
                    let empno = m["profile"]["employeeNumber"].as_str().unwrap_or_default();
                    let name = m["profile"]["displayName"].as_str().unwrap_or_default();
                    sim.update_profile(
                        &uid,
                        patch(&[("managerId", json!(empno)), ("manager", json!(name))]),
                    );
                }
            }
            35..=44 => {
                if let Some(other) = rng.pick(users) {
                    let dept = other["profile"]["department"].clone();
                    sim.update_profile(&uid, patch(&[("department", dept)]));
                }
            }
            45..=59 => {
                if let Some(g) = rng.pick(groups) {
                    sim.add_member(&gid(g), &uid);
                }
            }
            60..=69 => {
                if let Some(g) = rng.pick(groups) {
                    let g = gid(g);
                    if let Some(member) = rng.pick(&sim.group_members(&g)) {
                        sim.remove_member(&g, member);
                    }
                }
            }
            70..=74 => {
                sim.deactivate_user(&uid);
            }
            75..=78 => {
                sim.delete_user(&uid);
            }
            79..=83 => {
                let n = 900_000 + step;
                let mut profile = patch(&[
                    ("login", json!(format!("new.person{n}@example.com"))),
                    ("email", json!(format!("new.person{n}@example.com"))),
                    ("firstName", json!("New")),
                    ("lastName", json!(format!("Person{n}"))),
                    ("displayName", json!(format!("New Person{n}"))),
                    ("employeeNumber", json!(format!("N{n}"))),
                ]);
                if let Some(m) = user["profile"]["employeeNumber"].as_str() {
                    profile.insert("managerId".into(), json!(m));
                }
                sim.create_user(profile, rng.below(4) > 0);
            }
            84..=87 => {
                if let Some(g) = rng.pick(groups) {
                    sim.rename_group(&gid(g), &format!("Renamed group {step}"));
                }
            }
            88..=89 => {
                if let Some(g) = rng.pick(groups) {
                    sim.delete_group(&gid(g));
                }
            }
            90..=92 => {
                sim.create_group(&format!("New group {step}"), "made by the test");
            }
            93..=95 => {
                if user["status"] == "SUSPENDED" {
                    sim.unsuspend_user(&uid);
                } else {
                    sim.suspend_user(&uid);
                }
            }
            _ => {
                sim.reactivate_user(&uid);
            }
        }
    }
}

/// The change log is dense and increasing: 1, 2, …, last.
pub fn assert_dense_change_log(store: &Store) {
    let mut expected = 1;
    for c in store.changes_after(0) {
        assert_eq!(c.expect("change").seq, expected, "a gap in the change log");
        expected += 1;
    }
    assert_eq!(expected - 1, store.last_seq().expect("seq"));
}
