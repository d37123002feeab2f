//! Continuous sync end to end: random changes in the simulator reach the mirror through the
//! System Log tail alone, through event hooks (some dropped, some duplicated), and across
//! SIGKILLs of a real `oktamirror serve` process; the mirror then equals a fresh full crawl.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use common::{TOKEN, gql, settings, start_sim};
use oktamirror::configuration::HookAuth;
use oktamirror::model::RunKind;
use oktamirror::okta::OktaSource;
use oktamirror::secret::Secret;
use oktamirror::sim::{EventHook, RateLimits, Simulator};
use oktamirror::startup::Application;
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, SyncConfig};

const HOOK_SECRET: &str = "Bearer hook-secret-0123456789abcdef";

/// A small deterministic generator (xorshift), so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() {
            None
        } else {
            Some(&v[self.below(v.len())])
        }
    }
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn patch(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// One random change of the kinds an org sees: profile edits, manager changes, department
/// moves, membership changes, lifecycle changes, deletions, group creates, renames, deletes.
fn mutate(sim: &Simulator, rng: &mut Rng, step: usize) {
    thread_local! {
        static SEEN: std::cell::RefCell<(usize, Vec<Value>, Vec<Value>)> = const {
            std::cell::RefCell::new((0, Vec::new(), Vec::new()))
        };
    }
    // Rendering every user is slow in a debug build: refresh the lists every 10 changes
    // (a pick that has since gone away is a change the simulator refuses, which is fine).
    let (users, groups) = SEEN.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 % 10 == 0 {
            c.1 = sim.users();
            c.2 = sim
                .groups()
                .into_iter()
                .filter(|g| g["type"] == "OKTA_GROUP")
                .collect();
        }
        c.0 += 1;
        (c.1.clone(), c.2.clone())
    });
    let Some(user) = rng.pick(&users).cloned() else {
        return;
    };
    let uid = str_of(&user, &["id"]).unwrap_or_default().to_owned();
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
            if let Some(m) = rng.pick(&users) {
                let empno = str_of(m, &["profile", "employeeNumber"]).unwrap_or_default();
                let name = str_of(m, &["profile", "displayName"]).unwrap_or_default();
                sim.update_profile(
                    &uid,
                    patch(&[("managerId", json!(empno)), ("manager", json!(name))]),
                );
            }
        }
        35..=44 => {
            if let Some(other) = rng.pick(&users) {
                let dept = other["profile"]["department"].clone();
                sim.update_profile(&uid, patch(&[("department", dept)]));
            }
        }
        45..=59 => {
            if let Some(g) = rng.pick(&groups) {
                sim.add_member(str_of(g, &["id"]).unwrap_or_default(), &uid);
            }
        }
        60..=69 => {
            if let Some(g) = rng.pick(&groups) {
                let gid = str_of(g, &["id"]).unwrap_or_default();
                if let Some(member) = rng.pick(&sim.group_members(gid)) {
                    sim.remove_member(gid, member);
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
            if let Some(m) = str_of(&user, &["profile", "employeeNumber"]) {
                profile.insert("managerId".into(), json!(m));
            }
            sim.create_user(profile, rng.below(4) > 0);
        }
        84..=87 => {
            if let Some(g) = rng.pick(&groups) {
                sim.rename_group(
                    str_of(g, &["id"]).unwrap_or_default(),
                    &format!("Renamed group {step}"),
                );
            }
        }
        88..=89 => {
            if let Some(g) = rng.pick(&groups) {
                sim.delete_group(str_of(g, &["id"]).unwrap_or_default());
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

/// Everything a store holds that a user can see: typed people (with resolved managers), raw
/// users, groups, raw groups, memberships.
fn snapshot(store: &Store) -> Vec<(String, String)> {
    snapshot_with(store, true)
}

/// `snapshot`, optionally without groups' `lastMembershipUpdated`: Okta moves it without a log
/// event in one case a tail cannot see (a user deleted while a crawl read that user's group, so
/// the user never reached the mirror); the lastMembershipUpdated sweep is the net for it.
fn snapshot_with(store: &Store, membership_stamps: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in store.people_after(None) {
        let p = p.expect("person");
        let raw = store.person_raw(&p.id).expect("raw").unwrap_or_default();
        out.push((format!("person {}", p.id), format!("{p:?}")));
        out.push((format!("raw user {}", p.id), raw.to_string()));
    }
    for g in store.groups_after(None) {
        let mut g = g.expect("group");
        let mut raw = store.group_raw(&g.id).expect("raw").unwrap_or_default();
        if !membership_stamps {
            g.last_membership_updated = None;
            if let Some(o) = raw.as_object_mut() {
                o.remove("lastMembershipUpdated");
            }
        }
        let members: Vec<String> = store
            .member_ids_after(&g.id, None)
            .collect::<Result<_, _>>()
            .expect("members");
        out.push((format!("group {}", g.id), format!("{g:?}")));
        out.push((format!("raw group {}", g.id), raw.to_string()));
        out.push((format!("members {}", g.id), members.join(",")));
    }
    out
}

/// What a fresh full crawl of the simulator produces now: the mirror must equal it.
async fn reference(sim_addr: SocketAddr) -> Vec<(String, String)> {
    reference_with(sim_addr, true).await
}

async fn reference_with(sim_addr: SocketAddr, membership_stamps: bool) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let url = url::Url::parse(&format!("http://{sim_addr}/")).expect("url");
    let source = OktaSource::new(url, Secret::new(TOKEN)).expect("source");
    let run = sync::run_full(&store, &source, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "reference crawl: {:?}", run.error);
    snapshot_with(&store, membership_stamps)
}

/// The first difference between two snapshots, if any.
fn diff(mirror: &[(String, String)], truth: &[(String, String)]) -> Option<String> {
    let m: std::collections::BTreeMap<_, _> = mirror.iter().cloned().collect();
    let t: std::collections::BTreeMap<_, _> = truth.iter().cloned().collect();
    for (k, v) in &t {
        match m.get(k) {
            None => return Some(format!("mirror lacks {k}")),
            Some(mv) if mv != v => return Some(format!("{k} differs:\n mirror {mv}\n okta   {v}")),
            _ => {}
        }
    }
    m.keys()
        .find(|k| !t.contains_key(*k))
        .map(|k| format!("mirror still has {k}"))
}

/// Waits until `store` equals a fresh crawl (the lanes need a moment), failing with the
/// last difference after `limit`.
async fn assert_converges(store: &Store, sim_addr: SocketAddr, limit: Duration) {
    let start = Instant::now();
    loop {
        let truth = reference(sim_addr).await;
        let Some(d) = diff(&snapshot(store), &truth) else {
            return;
        };
        assert!(start.elapsed() < limit, "the mirror did not converge: {d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The change log is dense and increasing: 1, 2, …, last.
fn assert_dense_change_log(store: &Store) {
    let mut expected = 1;
    for c in store.changes_after(0) {
        assert_eq!(c.expect("change").seq, expected, "a gap in the change log");
        expected += 1;
    }
    assert_eq!(expected - 1, store.last_seq().expect("seq"));
}

async fn lifted_sim(users: usize, seed: u64) -> (Simulator, SocketAddr) {
    let (sim, addr) = start_sim(users, seed).await;
    sim.set_rate_limits(RateLimits {
        per_window: Some(1_000_000),
        ..Default::default()
    });
    (sim, addr)
}

async fn wait_ready(app: &Application) {
    let start = Instant::now();
    while app.store().last_good_full_sync().expect("state").is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_tail_alone_keeps_the_mirror_equal_to_okta() {
    let (sim, sim_addr) = lifted_sim(300, 11).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(sim_addr, dir.path());
    s.sync.lanes.poll_interval = Duration::from_millis(200);
    s.sync.lanes.sweep_interval = Duration::from_secs(3600);
    let app = Application::build(s).await.expect("build");
    wait_ready(&app).await;

    let mut rng = Rng(0x5EED_1234);
    for step in 0..300 {
        mutate(&sim, &mut rng, step);
        if step % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    assert!(
        sim.log_events().len() > 250,
        "the simulator logs its changes"
    );
    assert_converges(app.store(), sim_addr, Duration::from_secs(30)).await;
    assert_dense_change_log(app.store());

    let runs = app.store().runs(1000).expect("runs");
    assert!(
        runs.iter()
            .any(|r| r.kind == RunKind::Tail && r.ok && r.events > 0)
    );
    assert!(
        runs.iter()
            .all(|r| r.kind != RunKind::Sweep && r.kind != RunKind::Reconcile),
        "only the tail ran"
    );
    // The status shows the tail caught up and where it resumes.
    let st = gql(
        app.addr(),
        "{ syncStatus { tailLagSeconds logCursor } syncRuns(first: 5) { kind ok events requests } }",
        json!({}),
    )
    .await;
    assert!(
        st["syncStatus"]["tailLagSeconds"]
            .as_f64()
            .is_some_and(|l| l < 5.0),
        "{st}"
    );
    assert!(
        st["syncStatus"]["logCursor"]
            .as_str()
            .is_some_and(|c| c.contains("/api/v1/logs"))
    );
    app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_keep_the_mirror_fresh_and_the_log_repairs_what_they_drop() {
    let (sim, sim_addr) = lifted_sim(300, 12).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(sim_addr, dir.path());
    // The log is read once at start and then not for an hour: hooks are the only fast lane.
    s.sync.lanes.poll_interval = Duration::from_secs(3600);
    s.sync.lanes.sweep_interval = Duration::from_secs(3600);
    s.server.hook = Some(HookAuth {
        header: "Authorization".into(),
        secret: Secret::new(HOOK_SECRET),
    });
    let app = Application::build(s).await.expect("build");
    wait_ready(&app).await;
    let hook_url = format!("http://{}/hooks/okta", app.addr());

    // Okta's one-time verification, and a wrong secret refused.
    sim.set_event_hook(Some(EventHook {
        url: hook_url.clone(),
        auth_header: Some(("Authorization".into(), HOOK_SECRET.into())),
        drop_percent: 0,
        duplicate_percent: 30,
        batch_window: Duration::ZERO,
    }));
    sim.verify_event_hook().await.expect("verification");
    let wrong = reqwest::Client::new()
        .post(&hook_url)
        .header("authorization", "Bearer wrong")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(wrong.status(), 401);

    // Every delivery arrives (some twice): hooks alone bring the mirror level with Okta.
    let mut rng = Rng(0xA11CE);
    for step in 0..200 {
        mutate(&sim, &mut rng, step);
    }
    assert_converges(app.store(), sim_addr, Duration::from_secs(30)).await;
    let runs = app.store().runs(1000).expect("runs");
    assert!(runs.iter().any(|r| r.kind == RunKind::Hook && r.events > 0));
    assert!(
        runs.iter()
            .all(|r| r.kind != RunKind::Tail || r.events == 0)
    );
    let (_, _, duplicated, _) = sim.hook_deliveries();
    assert!(duplicated > 0, "some deliveries came twice");

    // A fifth of the deliveries are lost: the log, read once, repairs the end state.
    sim.set_event_hook(Some(EventHook {
        url: hook_url,
        auth_header: Some(("Authorization".into(), HOOK_SECRET.into())),
        drop_percent: 20,
        duplicate_percent: 10,
        batch_window: Duration::ZERO,
    }));
    for step in 200..400 {
        mutate(&sim, &mut rng, step);
    }
    let (_, dropped, _, _) = sim.hook_deliveries();
    assert!(dropped > 0, "some deliveries were lost");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let run = gql(
        app.addr(),
        "mutation { syncNow(kind: INCREMENTAL) { kind ok error } }",
        json!({}),
    )
    .await;
    assert_eq!(run["syncNow"]["ok"], true, "{run}");
    assert_converges(app.store(), sim_addr, Duration::from_secs(30)).await;
    assert_dense_change_log(app.store());
    app.stop().await.expect("stop");
}

fn serve(sim_addr: SocketAddr, dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(serve_args(sim_addr, dir))
        .env("OKTA_API_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn oktamirror serve")
}

fn kill(mut child: Child) {
    // SIGKILL: no shutdown code runs, as when a machine loses power.
    let _ = child.kill();
    let _ = child.wait();
}

fn stop(child: Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let mut child = child;
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_repeats_nothing() {
    let (sim, sim_addr) = lifted_sim(1000, 13).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0xDEAD_BEEF);

    // Killed during the first crawl, at a few random moments, then while tailing changes.
    for round in 0..8 {
        let child = serve(sim_addr, dir.path());
        if round < 3 {
            tokio::time::sleep(Duration::from_millis(50 + rng.below(400) as u64)).await;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.below(300) as u64)).await;
            for i in 0..40 {
                mutate(&sim, &mut rng, round * 1000 + i);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.below(300) as u64)).await;
        }
        kill(child);
    }

    // A clean run to the end: it resumes from the stored position and catches up.
    let last = sim.log_events().len();
    assert!(last > 150, "the rounds made changes ({last} events)");
    let restarted = chrono::Utc::now();
    let (child, addr) = serve_and_wait(sim_addr, dir.path());
    let start = Instant::now();
    loop {
        let st = gql(addr, "{ syncStatus { ready tailCaughtUpAt } }", json!({})).await;
        let caught_up = st["syncStatus"]["tailCaughtUpAt"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t > restarted);
        if st["syncStatus"]["ready"] == true && caught_up {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never caught up: {st}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Through the tail alone, everything but groups' membership stamps is exact …
    stop(child);
    let store = Store::open(dir.path()).expect("open after stop");
    let truth = reference_with(sim_addr, false).await;
    if let Some(d) = diff(&snapshot_with(&store, false), &truth) {
        panic!("after SIGKILLs the mirror differs from Okta: {d}");
    }
    drop(store);
    // … and a sweep (part of syncNow INCREMENTAL) makes it exact.
    let (child, addr) = serve_and_wait(sim_addr, dir.path());
    let run = gql(
        addr,
        "mutation { syncNow(kind: INCREMENTAL) { ok error } }",
        json!({}),
    )
    .await;
    assert_eq!(run["syncNow"]["ok"], true, "{run}");
    stop(child);
    let store = Store::open(dir.path()).expect("open after stop");
    if let Some(d) = diff(&snapshot(&store), &reference(sim_addr).await) {
        panic!("after SIGKILLs and a sweep the mirror differs from Okta: {d}");
    }
    assert_dense_change_log(&store);
    let runs = store.runs(5000).expect("runs");
    let tails = runs
        .iter()
        .filter(|r| r.kind == RunKind::Tail && r.events > 0)
        .count();
    let fulls = runs.iter().filter(|r| r.kind == RunKind::Full).count();
    eprintln!(
        "{} runs recorded: {fulls} full, {tails} tail batches with events",
        runs.len()
    );
    assert!(tails > 0, "the tail applied changes");
}

/// Starts `serve` and reads its log until it says where it listens.
fn serve_and_wait(sim_addr: SocketAddr, dir: &Path) -> (Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(serve_args(sim_addr, dir))
        .env("OKTA_API_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oktamirror serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let Some(line) = lines.next() else {
            panic!("serve exited:\n{}", seen.join("\n"));
        };
        let line = line.expect("read");
        seen.push(line.clone());
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest
                .split('/')
                .next()
                .and_then(|a| a.parse().ok())
                .expect("address");
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn serve_args(sim_addr: SocketAddr, dir: &Path) -> Vec<String> {
    [
        "serve",
        "--okta-url",
        &format!("http://{sim_addr}"),
        "--data-dir",
        &dir.display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--log-poll-interval",
        "100ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_sweep_alone_catches_edits_memberships_and_new_objects() {
    let (sim, sim_addr) = lifted_sim(300, 14).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(sim_addr, dir.path());
    s.sync.lanes.tail = false;
    s.sync.lanes.sweep_interval = Duration::from_secs(3600);
    let app = Application::build(s).await.expect("build");
    wait_ready(&app).await;

    // Changes sweeps can see (lastUpdated / lastMembershipUpdated move); deletions they cannot.
    let users = sim.users();
    let groups: Vec<Value> = sim
        .groups()
        .into_iter()
        .filter(|g| g["type"] == "OKTA_GROUP")
        .collect();
    let id = |v: &Value| str_of(v, &["id"]).unwrap_or_default().to_owned();
    for (i, u) in users.iter().take(20).enumerate() {
        sim.update_profile(&id(u), patch(&[("title", json!(format!("Swept {i}")))]));
        sim.add_member(&id(&groups[i % groups.len()]), &id(u));
    }
    let g0 = id(&groups[0]);
    if let Some(m) = sim.group_members(&g0).first() {
        sim.remove_member(&g0, m);
    }
    sim.rename_group(&id(&groups[1]), "Swept group");
    let new_user = sim
        .create_user(
            patch(&[
                ("login", json!("swept.new@example.com")),
                ("email", json!("swept.new@example.com")),
                ("firstName", json!("Swept")),
                ("lastName", json!("New")),
            ]),
            true,
        )
        .expect("created");
    let new_group = sim.create_group("Swept new group", "");
    sim.add_member(&new_group, &new_user);

    let run = gql(
        app.addr(),
        "mutation { syncNow(kind: INCREMENTAL) { kind ok usersFetched groupsFetched changes { total } } }",
        json!({}),
    )
    .await;
    assert_eq!(run["syncNow"]["kind"], "SWEEP", "{run}");
    assert_eq!(run["syncNow"]["ok"], true, "{run}");
    assert!(run["syncNow"]["usersFetched"].as_u64() >= Some(21), "{run}");
    assert_converges(app.store(), sim_addr, Duration::from_secs(10)).await;
    app.stop().await.expect("stop");
}
