//! End-to-end tests of the mirror: the simulator and the real server on port 0, talking HTTP,
//! checked against the simulator's own data (its ground truth, not the mirror's).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use oktamirror::sim::{AnomalyKind, Faults};
use oktamirror::startup::Application;

mod common;
use common::{TOKEN, gql, settings, start_sim};

const ALL_STATUSES: &str = "[ACTIVE, STAGED, PROVISIONED, RECOVERY, LOCKED_OUT, PASSWORD_EXPIRED, SUSPENDED, DEPROVISIONED, UNKNOWN]";

/// Starts the mirror and waits until it reports ready (first full sync done).
/// Settings of a mirror that changes only by full crawls: these tests check what a crawl does,
/// and the System Log tail (tests/sync.rs) would apply the simulator's changes on its own.
fn crawl_only(sim: SocketAddr, data_dir: &Path) -> oktamirror::configuration::Settings {
    let mut s = settings(sim, data_dir);
    s.sync.lanes.tail = false;
    s
}

async fn spawn_app(sim: SocketAddr, data_dir: &Path) -> Application {
    let app = Application::build(crawl_only(sim, data_dir))
        .await
        .expect("build app");
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let r = client
            .get(format!("http://{}/readyz", app.addr()))
            .send()
            .await
            .expect("readyz");
        if r.status() == 200 {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the mirror never became ready");
}

/// Walks a people connection page by page, returning nodes and checking cursors move on.
async fn all_people(addr: SocketAddr, page: usize, fields: &str) -> Vec<Value> {
    let q = format!(
        "query($after: String) {{ people(first: {page}, after: $after, filter: {{status: {ALL_STATUSES}}}) \
         {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {fields} }} }} }} }}"
    );
    let (mut out, mut after, mut total) = (Vec::new(), Value::Null, None);
    loop {
        let d = gql(addr, &q, json!({ "after": after })).await;
        let conn = &d["people"];
        total.get_or_insert(conn["totalCount"].as_u64().expect("totalCount"));
        let edges = conn["edges"].as_array().expect("edges");
        assert!(edges.len() <= page);
        out.extend(edges.iter().map(|e| e["node"].clone()));
        if !conn["pageInfo"]["hasNextPage"]
            .as_bool()
            .expect("hasNextPage")
        {
            break;
        }
        assert_eq!(edges.len(), page, "a page before the last is full");
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        Some(out.len() as u64),
        total,
        "totalCount matches what the pages hold"
    );
    out
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_every_user_group_and_membership() {
    let (sim, sim_addr) = start_sim(700, 7).await;
    let dir = tempfile::tempdir().expect("tmp");
    let app = spawn_app(sim_addr, dir.path()).await;
    let addr = app.addr();

    // Ready means searchable too: the first query after /readyz finds people.
    let someone = sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE")
        .expect("active");
    let q = "query($q: String!) { search(query: $q, first: 1) { nodes { id } } }";
    let d = gql(addr, q, json!({"q": someone["profile"]["login"]})).await;
    assert_eq!(
        d["search"]["nodes"][0]["id"], someone["id"],
        "searchable as soon as ready"
    );

    // Every user, every status, with the right fields; pages with no duplicates or gaps.
    let fields = "id login email firstName lastName displayName title department division organization \
                  costCenter employeeNumber city countryCode status profile";
    let people = all_people(addr, 37, fields).await;
    let truth: BTreeMap<String, Value> = sim
        .users()
        .into_iter()
        .map(|u| (s(&u, "id").expect("id"), u))
        .collect();
    let ids: Vec<String> = people.iter().map(|p| s(p, "id").expect("id")).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicates across pages");
    assert_eq!(
        unique.into_iter().cloned().collect::<Vec<_>>(),
        truth.keys().cloned().collect::<Vec<_>>()
    );
    let statuses: BTreeSet<String> = people.iter().filter_map(|p| s(p, "status")).collect();
    assert!(
        statuses.contains("DEPROVISIONED") && statuses.len() >= 8,
        "all statuses mirrored: {statuses:?}"
    );
    for p in &people {
        let u = &truth[&s(p, "id").expect("id")];
        let prof = &u["profile"];
        for (gql_field, okta_field) in [
            ("login", "login"),
            ("email", "email"),
            ("firstName", "firstName"),
            ("lastName", "lastName"),
            ("title", "title"),
            ("department", "department"),
            ("division", "division"),
            ("organization", "organization"),
            ("costCenter", "costCenter"),
            ("employeeNumber", "employeeNumber"),
            ("city", "city"),
            ("countryCode", "countryCode"),
        ] {
            assert_eq!(
                s(p, gql_field),
                s(prof, okta_field),
                "{gql_field} of {}",
                u["id"]
            );
        }
        assert_eq!(s(p, "status"), s(u, "status"));
        assert_eq!(&p["profile"], prof, "raw profile with custom attributes");
    }

    // The default filter leaves deprovisioned people out.
    let d = gql(addr, "{ people(first: 1) { totalCount } }", json!({})).await;
    let active = truth
        .values()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .count();
    assert_eq!(d["people"]["totalCount"].as_u64(), Some(active as u64));

    // Every group, with its members; and each person's groups.
    let d = gql(
        addr,
        "{ groups(first: 1000) { totalCount nodes { id name type memberCount } } }",
        json!({}),
    )
    .await;
    let groups = d["groups"]["nodes"].as_array().expect("groups").clone();
    let sim_groups = sim.groups();
    assert_eq!(groups.len(), sim_groups.len());
    assert_eq!(
        d["groups"]["totalCount"].as_u64(),
        Some(sim_groups.len() as u64)
    );
    let types: BTreeSet<String> = groups.iter().filter_map(|g| s(g, "type")).collect();
    assert_eq!(
        types,
        ["APP_GROUP", "BUILT_IN", "OKTA_GROUP"]
            .map(String::from)
            .into()
    );
    for g in &groups {
        let gid = s(g, "id").expect("id");
        let want = sim.group_members(&gid);
        assert_eq!(
            g["memberCount"].as_u64(),
            Some(want.len() as u64),
            "memberCount of {gid}"
        );
        let truth_g = sim_groups
            .iter()
            .find(|x| x["id"] == g["id"])
            .expect("group in sim");
        assert_eq!(g["name"], truth_g["profile"]["name"]);
    }
    let q = "query($id: ID!, $after: String) { group(id: $id) { members(first: 150, after: $after) \
             { pageInfo { hasNextPage endCursor } nodes { id } } } }";
    for g in groups.iter().step_by(3) {
        let gid = s(g, "id").expect("id");
        let (mut got, mut after) = (Vec::new(), Value::Null);
        loop {
            let d = gql(addr, q, json!({"id": gid, "after": after})).await;
            let m = &d["group"]["members"];
            got.extend(
                m["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .filter_map(|n| s(n, "id")),
            );
            if m["pageInfo"]["hasNextPage"] != json!(true) {
                break;
            }
            after = m["pageInfo"]["endCursor"].clone();
        }
        got.sort();
        assert_eq!(got, sim.group_members(&gid), "members of {gid}");
    }
    let q = "query($id: ID!) { person(id: $id) { groups(first: 1000) { nodes { id } } } }";
    for id in truth.keys().step_by(25) {
        let d = gql(addr, q, json!({"id": id})).await;
        let mut got: Vec<String> = d["person"]["groups"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter_map(|n| s(n, "id"))
            .collect();
        got.sort();
        assert_eq!(got, sim.user_groups(id), "groups of {id}");
    }

    // Lookups by login (case-insensitive), email and employee number.
    let u = truth
        .values()
        .find(|u| u["status"] == "ACTIVE")
        .expect("an active user");
    let login = s(&u["profile"], "login").expect("login");
    let q = "query($l: String, $e: String, $n: String) { a: person(login: $l) { id } b: person(email: $e) { id } c: person(employeeNumber: $n) { id } }";
    let d = gql(addr, q, json!({"l": login.to_uppercase(), "e": u["profile"]["email"], "n": u["profile"]["employeeNumber"]})).await;
    for k in ["a", "b", "c"] {
        assert_eq!(d[k]["id"], u["id"], "lookup {k}");
    }
    app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_chain_and_reports_match_the_generated_hierarchy() {
    let (sim, sim_addr) = start_sim(500, 11).await;
    let dir = tempfile::tempdir().expect("tmp");
    let app = spawn_app(sim_addr, dir.path()).await;
    let addr = app.addr();
    let people = all_people(
        addr,
        50,
        "id manager { id } managerChain { id } directReports(first: 100) { totalCount nodes { id } }",
    )
    .await;
    let anomalies: BTreeMap<String, AnomalyKind> = sim
        .anomalies()
        .into_iter()
        .map(|a| (a.user_id, a.kind))
        .collect();
    let mut expected_reports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &people {
        let id = s(p, "id").expect("id");
        if let Some(m) = sim.true_manager(&id) {
            expected_reports.entry(m).or_default().insert(id.clone());
        }
    }
    let mut checked = 0;
    for p in &people {
        let id = s(p, "id").expect("id");
        let reports: BTreeSet<String> = p["directReports"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter_map(|n| s(n, "id"))
            .filter(|r| !anomalies.contains_key(r))
            .collect();
        assert_eq!(
            reports,
            expected_reports.remove(&id).unwrap_or_default(),
            "direct reports of {id}"
        );
        if anomalies.contains_key(&id) {
            continue;
        }
        let want = sim.true_manager(&id);
        assert_eq!(
            p["manager"]["id"].as_str().map(str::to_owned),
            want,
            "manager of {id}"
        );
        let mut chain = Vec::new();
        let mut cur = want;
        while let Some(m) = cur {
            chain.push(json!({"id": m}));
            cur = sim.true_manager(&m);
        }
        assert_eq!(
            p["managerChain"],
            Value::Array(chain),
            "managerChain of {id}"
        );
        checked += 1;
    }
    assert!(checked > 400);

    // Broken manager data is reported, never looped on.
    let d = gql(
        addr,
        "{ syncStatus { ready unresolvedManagers managerCycles } }",
        json!({}),
    )
    .await;
    let st = &d["syncStatus"];
    assert_eq!(st["ready"], json!(true));
    let unresolvable = anomalies
        .values()
        .filter(|k| matches!(k, AnomalyKind::UnresolvableManager))
        .count();
    assert_eq!(st["unresolvedManagers"].as_u64(), Some(unresolvable as u64));
    let cyclic = anomalies.values().any(|k| matches!(k, AnomalyKind::Cycle));
    assert_eq!(st["managerCycles"].as_u64().map(|n| n > 0), Some(cyclic));
    app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_apply_only_after_a_complete_crawl_and_restart_serves_without_crawling() {
    let (sim, sim_addr) = start_sim(400, 3).await;
    let dir = tempfile::tempdir().expect("tmp");
    let app = spawn_app(sim_addr, dir.path()).await;
    let addr = app.addr();
    let sync = app.sync_handle();
    let snapshot = "{ syncStatus { people groups memberships lastChangeSeq } }";

    // An unchanged org re-synced changes nothing.
    let before = gql(addr, snapshot, json!({})).await;
    let run = sync.full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(run.changes.total(), 0, "{:?}", run.changes);
    assert_eq!(gql(addr, snapshot, json!({})).await, before);

    // A user deleted in Okta disappears after the next full sync, with their memberships.
    let users = sim.users();
    let victim = s(&users[10], "id").expect("id");
    let victim_groups = sim.user_groups(&victim);
    assert!(!victim_groups.is_empty());
    assert!(sim.delete_user(&victim));
    let run = sync.full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(run.changes.people_deleted, 1);
    let q = "query($id: ID!) { person(id: $id) { id } }";
    assert_eq!(
        gql(addr, q, json!({"id": victim})).await["person"],
        Value::Null
    );
    let gq = "query($id: ID!) { group(id: $id) { memberCount } }";
    let g0 = &victim_groups[0];
    assert_eq!(
        gql(addr, gq, json!({"id": g0})).await["group"]["memberCount"].as_u64(),
        Some(sim.group_members(g0).len() as u64)
    );

    // A crawl that fails half-way leaves the store exactly as it was.
    let before = gql(addr, snapshot, json!({})).await;
    let other = s(&users[20], "id").expect("id");
    let renamed = s(&users[30], "id").expect("id");
    assert!(sim.delete_user(&other));
    let mut patch = serde_json::Map::new();
    patch.insert("title".into(), json!("Chief Renaming Officer"));
    assert!(sim.update_profile(&renamed, patch));
    sim.set_faults(Faults {
        fail_list_pages_after: Some(3),
        ..Default::default()
    });
    let run = sync.full_sync_now().await.expect("run");
    assert!(!run.ok);
    let err = run.error.clone().expect("error");
    assert!(err.contains("500"), "{err}");
    assert_eq!(gql(addr, snapshot, json!({})).await, before);
    assert_eq!(
        gql(addr, q, json!({"id": other})).await["person"]["id"],
        json!(other)
    );
    let tq = "query($id: ID!) { person(id: $id) { title } }";
    assert_ne!(
        gql(addr, tq, json!({"id": renamed})).await["person"]["title"],
        json!("Chief Renaming Officer")
    );
    let st = gql(
        addr,
        "{ syncStatus { ready lastFullSync { ok error } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        st["syncStatus"]["ready"],
        json!(true),
        "a failed sync does not make a ready mirror unready"
    );
    assert_eq!(st["syncStatus"]["lastFullSync"]["ok"], json!(false));
    sim.set_faults(Faults::default());

    // A restart on the same data dir serves the same answers at once, without crawling.
    let answers = all_people(
        addr,
        100,
        "id login title manager { id } groups(first: 100) { nodes { id } }",
    )
    .await;
    app.stop().await.expect("stop");
    let requests = sim.request_count();
    let app = Application::build(crawl_only(sim_addr, dir.path()))
        .await
        .expect("restart");
    let again = all_people(
        app.addr(),
        100,
        "id login title manager { id } groups(first: 100) { nodes { id } }",
    )
    .await;
    assert_eq!(again, answers);
    assert_eq!(sim.request_count(), requests, "no Okta request on restart");

    // The next full sync applies both changes.
    let run = app.sync_handle().full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(
        gql(app.addr(), q, json!({"id": other})).await["person"],
        Value::Null
    );
    assert_eq!(
        gql(app.addr(), tq, json!({"id": renamed})).await["person"]["title"],
        json!("Chief Renaming Officer")
    );
    app.stop().await.expect("stop");
}

/// Runs the real binary and returns (success, stderr).
fn cli(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oktamirror"));
    cmd.args(args)
        .env_remove("OKTA_API_TOKEN")
        .env_remove("OKTAMIRROR_OKTA_URL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run oktamirror");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sync_once_and_clear_errors() {
    let (sim, sim_addr) = start_sim(150, 5).await;
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let url = format!("http://{sim_addr}");

    let (ok, err) = cli(
        &["sync", "--once", "--okta-url", &url, "--data-dir", data],
        &[("OKTA_API_TOKEN", TOKEN)],
    );
    assert!(ok, "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("full sync complete") && last.contains("150 people"),
        "{err}"
    );

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write");
    let (ok, err) = cli(
        &[
            "sync",
            "--once",
            "--okta-url",
            &url,
            "--data-dir",
            data,
            "--okta-token-file",
            token_file.to_str().expect("utf8"),
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("people 0 created, 0 updated, 0 deleted"),
        "a re-sync changes nothing: {err}"
    );

    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    // Deletion safety: removing 20 of 150 people (13 %) is held until an operator allows it.
    let users = sim.users();
    for u in users.iter().skip(5).step_by(7).take(20) {
        assert!(sim.delete_user(u["id"].as_str().expect("id")));
    }
    let (ok, err) = cli(
        &["sync", "--once", "--okta-url", &url, "--data-dir", data],
        &[("OKTA_API_TOKEN", TOKEN)],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("held the removal of 20 of 150 people") && err.contains("--allow-mass-delete"),
        "{err}"
    );
    assert!(
        err.contains("people 0 created, 0 updated, 0 deleted") && err.contains("20 removals held"),
        "{err}"
    );
    let args = [
        "sync",
        "--once",
        "--okta-url",
        &url,
        "--data-dir",
        data,
        "--allow-mass-delete",
    ];
    let (ok, err) = cli(&args, &[("OKTA_API_TOKEN", TOKEN)]);
    assert!(ok, "{err}");
    assert!(
        err.contains("20 deleted") && err.contains("0 removals held"),
        "{err}"
    );

    let cases: [Case; 6] = [
        (
            &["sync", "--once", "--okta-url", &url, "--data-dir", data],
            &[],
            "OKTA_API_TOKEN",
        ),
        (
            &["sync", "--once", "--okta-url", &url, "--data-dir", data],
            &[("OKTA_API_TOKEN", "wrong")],
            "rejected the API token",
        ),
        (
            &[
                "sync",
                "--once",
                "--okta-url",
                "http://127.0.0.1:1",
                "--data-dir",
                data,
            ],
            &[("OKTA_API_TOKEN", "x")],
            "cannot reach Okta",
        ),
        (
            &[
                "sync",
                "--once",
                "--okta-url",
                "example.okta.com",
                "--data-dir",
                data,
            ],
            &[("OKTA_API_TOKEN", "x")],
            "not a valid Okta URL",
        ),
        (
            &[
                "sync",
                "--once",
                "--okta-url",
                "http://example.okta.com",
                "--data-dir",
                data,
            ],
            &[("OKTA_API_TOKEN", "x")],
            "use https://",
        ),
        (
            &[
                "serve",
                "--okta-url",
                &url,
                "--data-dir",
                data,
                "--listen",
                "0.0.0.0:0",
            ],
            &[("OKTA_API_TOKEN", TOKEN)],
            "loopback",
        ),
    ];
    for (args, envs, want) in cases {
        let (ok, err) = cli(args, envs);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one clear sentence: {err}");
        assert!(!err.contains(TOKEN), "no token in errors");
    }
    drop(sim);
}
