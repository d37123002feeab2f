//! Backup and restore with the real binary: an online backup taken while the simulator churns
//! and the tail applies it, restored into a consistent store that resumes the tail and equals
//! Okta; admin keys only; truncated, corrupted and misplaced restores refused; offline backups.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oktamirror::access::{Role, keys};
use oktamirror::model::RunKind;
use oktamirror::startup::Application;
use oktamirror::store::Store;

use crate::support::process::cli;
use crate::support::{
    AppOptions, Mutator, TOKEN, TestApp, TestSim, assert_dense_change_log, settings, truth,
    wait_for,
};

/// Runs the binary on a blocking thread (the server under test shares this runtime).
async fn run(args: Vec<String>, envs: Vec<(String, String)>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli(&args, &envs)
    })
    .await
    .expect("the binary ran")
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The store is whole: counters equal the trees, every membership's both ends exist and its
/// reverse entry too, every person has its raw record, and the change log is dense.
fn assert_consistent(store: &Store, what: &str) {
    let people: Vec<String> = store
        .person_ids()
        .map(|id| id.expect("person id"))
        .collect();
    assert_eq!(
        store.people_count().expect("count"),
        people.len() as u64,
        "{what}"
    );
    for id in &people {
        assert!(
            store.person_raw(id).expect("raw").is_some(),
            "{what}: raw {id}"
        );
    }
    let groups: Vec<String> = store.group_ids().map(|id| id.expect("group id")).collect();
    assert_eq!(
        store.group_count().expect("count"),
        groups.len() as u64,
        "{what}"
    );
    let mut memberships = 0u64;
    for g in &groups {
        let members: Vec<String> = store
            .member_ids_after(g, None)
            .map(|m| m.expect("member"))
            .collect();
        assert_eq!(
            store.member_count(g).expect("count"),
            members.len() as u64,
            "{what}: members of {g}"
        );
        for m in &members {
            assert!(
                store.person(m).expect("read").is_some(),
                "{what}: member {m} of {g}"
            );
            assert!(
                store.group_ids_of(m).expect("read").contains(g),
                "{what}: {m} in {g} without its reverse entry"
            );
        }
        memberships += members.len() as u64;
    }
    assert_eq!(
        store.membership_count().expect("count"),
        memberships,
        "{what}"
    );
    assert_dense_change_log(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_under_churn_restores_a_consistent_mirror_that_resumes_the_tail() {
    let ts = TestSim::lifted(300, 0xB4C0).await;
    let mut app = TestApp::builder(&ts)
        .poll_interval(Duration::from_millis(100))
        .no_sweeps()
        .spawn()
        .await;
    let url = format!("http://{}", app.addr);
    let dir = tempfile::tempdir().expect("tempdir");

    // Okta keeps changing while the backups are taken; the tail applies it as they run.
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (sim, stop) = (ts.sim.clone(), stop.clone());
        tokio::spawn(async move {
            let mut m = Mutator::new(0xB4C_0001);
            let mut step = 0;
            while !stop.load(Ordering::Relaxed) {
                m.mutate(&sim, step);
                step += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            step
        })
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for n in 0..4 {
        // Each backup after the mirror applied something new, so each holds a later state.
        let before = app.store().last_seq().expect("seq");
        wait_for("a change applied", Duration::from_millis(20), || async {
            app.store().last_seq().expect("seq") > before
        })
        .await;
        let out = dir.path().join(format!("b{n}.backup"));
        let (ok, stderr) = run(
            args(&["backup", "--server", &url, "--out", path(&out)]),
            vec![],
        )
        .await;
        assert!(ok, "backup {n}: {stderr}");
        files.push(out);
    }
    // Changes after the last backup: only the tail, resumed from the backup's position, can
    // bring them to the restored mirror.
    let after_backup = ts.sim.log_events().len();
    wait_for(
        "changes after the backup",
        Duration::from_millis(20),
        || {
            let n = ts.sim.log_events().len();
            async move { n > after_backup + 30 }
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let steps = churn.await.expect("churn");
    assert!(steps > 30, "the simulator churned ({steps} changes)");
    app.stop().await;

    let mut restored_dir = PathBuf::new();
    let mut seqs = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let target = dir.path().join(format!("restored{n}"));
        let (ok, stderr) = run(
            args(&["restore", "--data-dir", path(&target), "--from", path(file)]),
            vec![],
        )
        .await;
        assert!(ok, "restore {n}: {stderr}");
        let store = Store::open(&target).expect("open the restored store");
        assert_consistent(&store, &format!("backup {n}"));
        seqs.push(store.last_seq().expect("seq"));
        store.flush().expect("flush");
        drop(store);
        restored_dir = target;
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "each backup holds a later state: {seqs:?}"
    );

    // A server on the last restored directory resumes the tail (no crawl), rebuilds its search
    // index from the store, and ends equal to Okta.
    let (last_run, cursor) = {
        let store = Store::open(&restored_dir).expect("open");
        let run = store.runs(1).expect("runs").first().map_or(0, |r| r.id);
        let cursor: Option<String> = store
            .meta_json(oktamirror::store::meta::LOG_CURSOR)
            .expect("cursor");
        (run, cursor)
    };
    assert!(cursor.is_some(), "the backup holds the log position");
    let restored = TestApp::builder(&ts)
        .poll_interval(Duration::from_millis(100))
        .no_sweeps()
        .data_dir(restored_dir.clone())
        .spawn()
        .await;
    restored.wait_mirrors_sim(true).await;
    restored.wait_indexed().await;
    assert_consistent(restored.store(), "the restored mirror after catching up");
    let runs = restored.store().runs(1000).expect("runs");
    let since: Vec<_> = runs.iter().filter(|r| r.id > last_run).collect();
    assert!(
        since.iter().all(|r| r.kind == RunKind::Tail),
        "only the tail ran after the restore: {:?}",
        since.iter().map(|r| r.kind).collect::<Vec<_>>()
    );
    assert!(
        since.iter().any(|r| r.ok && r.events > 0),
        "the tail applied the changes made after the backup"
    );
    let found = restored
        .gql(
            "query($q: String!) { search(query: $q) { totalCount } }",
            serde_json::json!({ "q": "a" }),
        )
        .await;
    assert!(
        found["search"]["totalCount"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "the rebuilt index answers: {found}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_need_an_admin_key_and_broken_or_misplaced_restores_are_refused() {
    let ts = TestSim::lifted(40, 0xB4C1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys_file = dir.path().join("keys.jsonl");
    let (admin, _) = keys::create(&keys_file, "ops", Role::Admin).expect("admin key");
    let (directory, _) = keys::create(&keys_file, "app", Role::Directory).expect("key");
    let (admin, directory) = (admin.expose().to_owned(), directory.expose().to_owned());
    let data_dir = dir.path().join("data");
    let mut s = settings(ts.addr, &data_dir, &AppOptions::new(TOKEN));
    s.server.keys_file = Some(keys_file);
    let app = Application::build(s).await.expect("build");
    let url = app.url();
    let http = reqwest::Client::new();
    wait_for("ready", Duration::from_millis(50), || async {
        let r = http.get(format!("{url}/readyz")).send().await;
        r.is_ok_and(|r| r.status() == 200)
    })
    .await;

    // No key: 401; a directory key: 403, over HTTP and through the CLI (the key never shown).
    let r = http
        .get(format!("{url}/admin/backup"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{url}/admin/backup"))
        .bearer_auth(&directory)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    let out = dir.path().join("mirror.backup");
    let (ok, stderr) = run(
        args(&[
            "backup",
            "--server",
            &url,
            "--key",
            &directory,
            "--out",
            path(&out),
        ]),
        vec![],
    )
    .await;
    assert!(
        !ok && stderr.contains("403") && stderr.contains("admin"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&directory),
        "the key is never shown: {stderr}"
    );
    assert!(!out.exists(), "no file from a refused backup");

    // Offline while the server holds the store: refused, naming the online way.
    let (ok, stderr) = run(
        args(&["backup", "--data-dir", path(&data_dir), "--out", path(&out)]),
        vec![],
    )
    .await;
    assert!(!ok && stderr.contains("--server"), "{stderr}");

    // An admin key from the environment: the backup is written.
    let (ok, stderr) = run(
        args(&["backup", "--server", &url, "--out", path(&out)]),
        vec![("OKTAMIRROR_API_KEY".into(), admin.clone())],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(!stderr.contains(&admin), "{stderr}");
    let bytes = std::fs::read(&out).expect("the backup");

    // Into a directory that is not empty: refused, naming the fix, the data there untouched.
    let (ok, stderr) = run(
        args(&[
            "restore",
            "--data-dir",
            path(&data_dir),
            "--from",
            path(&out),
        ]),
        vec![],
    )
    .await;
    assert!(!ok && stderr.contains("not empty"), "{stderr}");

    // A truncated copy and a corrupted one: refused, nothing left where they were restored.
    let truncated = dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let target = dir.path().join("from-truncated");
    let (ok, stderr) = run(
        args(&[
            "restore",
            "--data-dir",
            path(&target),
            "--from",
            path(&truncated),
        ]),
        vec![],
    )
    .await;
    assert!(!ok && stderr.contains("truncated"), "{stderr}");
    assert!(!target.exists());
    let corrupted = dir.path().join("corrupted.backup");
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x20;
    std::fs::write(&corrupted, &flipped).expect("write");
    let target = dir.path().join("from-corrupted");
    let (ok, stderr) = run(
        args(&[
            "restore",
            "--data-dir",
            path(&target),
            "--from",
            path(&corrupted),
        ]),
        vec![],
    )
    .await;
    assert!(!ok && stderr.contains("corrupt"), "{stderr}");
    assert!(!target.exists());

    // The good one restores to exactly the mirror; so does an offline backup once stopped.
    app.stop().await.expect("stop");
    let original = {
        let store = Store::open(&data_dir).expect("open");
        truth::of_store(&store, true)
    };
    let offline = dir.path().join("offline.backup");
    let (ok, stderr) = run(
        args(&[
            "backup",
            "--data-dir",
            path(&data_dir),
            "--out",
            path(&offline),
        ]),
        vec![],
    )
    .await;
    assert!(ok, "{stderr}");
    for (n, file) in [&out, &offline].into_iter().enumerate() {
        let target = dir.path().join(format!("restored{n}"));
        let (ok, stderr) = run(
            args(&["restore", "--data-dir", path(&target), "--from", path(file)]),
            vec![],
        )
        .await;
        assert!(ok, "{stderr}");
        let store = Store::open(&target).expect("open");
        assert_consistent(&store, "restored");
        assert!(
            truth::diff(&truth::of_store(&store, true), &original).is_none(),
            "restore {n} equals the mirror"
        );
    }
}
