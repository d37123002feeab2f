//! The mirror end to end: the simulator and the real server on port 0, talking HTTP, checked
//! against the simulator's own data (its ground truth, not the mirror's): what a full crawl
//! mirrors, managers, deletions and their safety hold, restarts, readiness, non-ASCII logins
//! and the CLI.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::support::process::cli;
use crate::support::{TOKEN, TestApp, TestSim, gql, s};
use oktamirror::sim::{AnomalyKind, Faults};

const ALL_STATUSES: &str = "[ACTIVE, STAGED, PROVISIONED, RECOVERY, LOCKED_OUT, PASSWORD_EXPIRED, SUSPENDED, DEPROVISIONED, UNKNOWN]";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrors_every_user_group_and_membership() {
    let ts = TestSim::start(700, 7).await;
    let sim = &ts.sim;
    let mut app = TestApp::builder(&ts).crawl_only().spawn().await;
    let addr = app.addr;

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
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_chain_and_reports_match_the_generated_hierarchy() {
    let ts = TestSim::start(500, 11).await;
    let sim = &ts.sim;
    let mut app = TestApp::builder(&ts).crawl_only().spawn().await;
    let addr = app.addr;
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
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_apply_only_after_a_complete_crawl_and_restart_serves_without_crawling() {
    let ts = TestSim::start(400, 3).await;
    let sim = &ts.sim;
    let mut app = TestApp::builder(&ts).crawl_only().spawn().await;
    let addr = app.addr;
    let sync = app.sync();
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
    let requests = sim.request_count();
    app.restart().await;
    let again = all_people(
        app.addr,
        100,
        "id login title manager { id } groups(first: 100) { nodes { id } }",
    )
    .await;
    assert_eq!(again, answers);
    assert_eq!(sim.request_count(), requests, "no Okta request on restart");

    // The next full sync applies both changes.
    let run = app.sync().full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(
        gql(app.addr, q, json!({"id": other})).await["person"],
        Value::Null
    );
    assert_eq!(
        gql(app.addr, tq, json!({"id": renamed})).await["person"]["title"],
        json!("Chief Renaming Officer")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sync_once_and_clear_errors() {
    let ts = TestSim::start(150, 5).await;
    let (sim, sim_addr) = (&ts.sim, ts.addr);
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
    // The store was opened once more after the sync, so sled's snapshot of where each page
    // sits in its log is past the load (sled writes one only when a database opens): the first
    // `serve` does not replay the whole log. An open before anything was written leaves
    // `snap.0000000000000000`.
    let snapshots: Vec<u64> = std::fs::read_dir(data)
        .expect("data dir")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .collect();
    assert!(
        snapshots.iter().any(|lsn| *lsn > 0),
        "no snapshot past the load in {data}: {snapshots:?}"
    );
    // Not a terminal: plain progress lines, one as each lane starts, then the apply.
    for lane in [
        "users:",
        "groups:",
        "member lists:",
        "applying to the store",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("oktamirror sync: ") && l.contains(lane)),
            "no progress line for {lane}: {err}"
        );
    }
    // The search index was built beside the sync: it holds every person of the simulator's
    // org as of the store's last change, so the first `serve` has nothing left to index.
    {
        let store = oktamirror::store::Store::open(std::path::Path::new(data)).expect("store");
        let index_dir = oktamirror::search::index_dir(std::path::Path::new(data));
        let index = oktamirror::search::Index::open(&index_dir, Default::default()).expect("index");
        assert_eq!(index.indexed_seq(), store.last_seq().expect("seq"));
        assert_eq!(index.num_docs(), sim.users().len() as u64);
        index.close();
    }

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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_deletion_hold_is_exact_at_its_boundary_for_people_and_groups() {
    let ts = TestSim::with_groups(200, Some(40), 9).await;
    let sim = &ts.sim;
    let mut app = TestApp::builder(&ts).crawl_only().spawn().await;
    let sync = app.sync();
    let okta_groups = |sim: &oktamirror::sim::Simulator| -> Vec<String> {
        sim.groups()
            .iter()
            .filter(|g| g["type"] == "OKTA_GROUP")
            .map(|g| s(g, "id").expect("id"))
            .collect()
    };
    let people = app.store().people_count().expect("count");
    let groups = app.store().group_count().expect("count");
    assert_eq!(people, 200);
    assert_eq!(
        groups % 10,
        0,
        "{groups} groups: pick a size with an exact 10 %"
    );

    // Exactly 10 % of the people and of the groups: removed.
    let users = sim.users();
    for u in users.iter().skip(3).step_by(9).take(20) {
        assert!(sim.delete_user(&s(u, "id").expect("id")));
    }
    for g in okta_groups(sim).iter().take((groups / 10) as usize) {
        assert!(sim.delete_group(g));
    }
    let run = sync.full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    assert!(run.held.is_empty(), "10 % is not held: {:?}", run.held);
    assert_eq!(run.changes.people_deleted, 20);
    assert_eq!(run.changes.groups_deleted, groups / 10);
    assert_eq!(app.store().people_count().expect("count"), 180);

    // One more than 10 % (19 of 180 people; 10 % + 1 of the groups): held, the held kept whole.
    let users = sim.users();
    let victims: Vec<String> = users
        .iter()
        .skip(1)
        .step_by(9)
        .take(19)
        .map(|u| s(u, "id").expect("id"))
        .collect();
    let groups_now = app.store().group_count().expect("count");
    let group_victims: Vec<String> = okta_groups(sim)
        .into_iter()
        .take((groups_now / 10 + 1) as usize)
        .collect();
    let kept_memberships: Vec<Vec<String>> = victims
        .iter()
        .map(|v| app.store().group_ids_of(v).expect("read"))
        .collect();
    for v in &victims {
        assert!(sim.delete_user(v));
    }
    for g in &group_victims {
        assert!(sim.delete_group(g));
    }
    let run = sync.full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    let mut held = run.held.people.clone();
    held.sort();
    let mut want = victims.clone();
    want.sort();
    assert_eq!(held, want, "just above 10 % of the people is held");
    let mut held_groups = run.held.groups.clone();
    held_groups.sort();
    let mut want_groups = group_victims.clone();
    want_groups.sort();
    assert_eq!(
        held_groups, want_groups,
        "just above 10 % of the groups is held"
    );
    assert_eq!(run.changes.people_deleted, 0);
    assert_eq!(run.changes.groups_deleted, 0);
    let q = "query($id: ID!) { person(id: $id) { id } }";
    for (v, groups) in victims.iter().zip(&kept_memberships) {
        assert_eq!(app.gql(q, json!({"id": v})).await["person"]["id"], json!(v));
        assert_eq!(&app.store().group_ids_of(v).expect("read"), groups);
    }
    let gq = "query($id: ID!) { group(id: $id) { id } }";
    for g in &group_victims {
        assert_eq!(app.gql(gq, json!({"id": g})).await["group"]["id"], json!(g));
    }

    // The operator allows it: applied.
    let run = app
        .gql(
            "mutation { syncNow(kind: FULL, allowMassDelete: true) { ok changes { peopleDeleted groupsDeleted } } }",
            json!({}),
        )
        .await;
    assert_eq!(run["syncNow"]["ok"], true, "{run}");
    assert_eq!(run["syncNow"]["changes"]["peopleDeleted"], 19, "{run}");
    assert_eq!(
        run["syncNow"]["changes"]["groupsDeleted"],
        json!(group_victims.len()),
        "{run}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_logins_are_found_by_lookup_and_search() {
    let ts = TestSim::start(100, 17).await;
    let people = [
        ("josé.müller@exämple.com", "José", "Müller"),
        ("дмитрий.иванов@example.ru", "Дмитрий", "Иванов"),
        ("åsa.straße@example.de", "Åsa", "Straße"),
    ];
    let mut ids = Vec::new();
    for (login, first, last) in people {
        let profile = crate::support::patch(&[
            ("login", json!(login)),
            ("email", json!(login)),
            ("firstName", json!(first)),
            ("lastName", json!(last)),
        ]);
        ids.push(ts.sim.create_user(profile, true).expect("created"));
    }
    let mut app = TestApp::builder(&ts).crawl_only().spawn().await;
    let by_login = "query($l: String!) { person(login: $l) { id login } }";
    let search = "query($q: String!) { search(query: $q, first: 3) { nodes { id } } }";
    for ((login, first, last), id) in people.iter().zip(&ids) {
        // Case-insensitive, except that ß has no upper case of its own ("SS" is another login).
        let upper = Some(login.to_uppercase()).filter(|_| !login.contains('ß'));
        for l in std::iter::once(login.to_string()).chain(upper) {
            let d = app.gql(by_login, json!({"l": l})).await;
            assert_eq!(d["person"]["id"], json!(id), "person(login: {l:?})");
            assert_eq!(
                d["person"]["login"],
                json!(login),
                "the login as Okta has it"
            );
        }
        for q in [login.to_string(), format!("{first} {last}")] {
            let d = app.gql(search, json!({"q": q})).await;
            assert_eq!(d["search"]["nodes"][0]["id"], json!(id), "search {q:?}");
        }
    }
    // Accents folded (and ß as ss): typed without them, still found.
    for (q, i) in [("jose muller", 0), ("asa strasse", 2), ("ДМИТРИЙ", 1)] {
        let d = app.gql(search, json!({"q": q})).await;
        assert_eq!(d["search"]["nodes"][0]["id"], json!(ids[i]), "search {q:?}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_means_search_has_caught_up_with_the_store() {
    use oktamirror::model::Person;
    use oktamirror::store::{Op, Store};

    let ts = TestSim::start(100, 19).await;
    let mut app = TestApp::builder(&ts).crawl_only().spawn().await;
    app.stop().await;
    // The store gains 3,000 people the index has never seen (a crash between store writes and
    // index commits, at scale): on the next start the index has real catching up to do.
    let store = Store::open(app.data_dir()).expect("store");
    let ops: Vec<Op> = (0..3000)
        .map(|i| {
            let raw = json!({"id": format!("00uready{i:05}"), "status": "ACTIVE",
                "profile": {"login": format!("ready.person{i}@example.com"),
                            "firstName": "Quillon", "lastName": format!("Readiness{i}")}});
            Op::PutPerson {
                person: Box::new(Person::from_okta(&raw, &Default::default()).expect("valid")),
                raw: (&raw).into(),
            }
        })
        .collect();
    for chunk in ops.chunks(1000) {
        store.apply(chunk, &[]).expect("write");
    }
    store.flush().expect("flush");
    drop(store);

    // From the first moment /readyz says ready, search finds the last of them.
    app.start().await;
    let q = "query($q: String!) { search(query: $q, first: 1) { nodes { id } } }";
    let not_ready = std::sync::atomic::AtomicUsize::new(0);
    crate::support::wait_for("/readyz", std::time::Duration::from_millis(5), || async {
        let ready = app.readyz().await == 200;
        if !ready {
            not_ready.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ready
    })
    .await;
    let not_ready = not_ready.into_inner();
    // (How many answers said "not ready" shows the index really had work to do.)
    eprintln!("/readyz said not ready {not_ready} times while the index caught up");
    let d = app
        .gql(q, json!({"q": "ready.person2999@example.com"}))
        .await;
    assert_eq!(
        d["search"]["nodes"][0]["id"], "00uready02999",
        "ready before search caught up with the store"
    );
    app.stop().await;
}

/// `OKTAMIRROR_ALLOW_MASS_DELETE` left in a service's environment must not release every
/// scheduled reconcile from the deletion hold: `serve` ignores it, says so, and a crawl that
/// would remove too much is still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ignores_allow_mass_delete_from_its_environment() {
    use crate::support::process::Serve;

    let ts = TestSim::start(150, 23).await;
    let dir = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(
        ts.addr,
        dir.path(),
        "info",
        &["--no-log-tail"],
        &[("OKTAMIRROR_ALLOW_MASS_DELETE", "true")],
        None,
    );
    let addr = serve.addr().await;
    assert!(
        serve
            .log()
            .contains("OKTAMIRROR_ALLOW_MASS_DELETE is ignored by serve"),
        "{}",
        serve.log()
    );
    crate::support::wait_ready_at(addr).await;
    let users = ts.sim.users();
    for u in users.iter().skip(3).step_by(6).take(20) {
        assert!(ts.sim.delete_user(u["id"].as_str().expect("id")));
    }
    let run = gql(
        addr,
        "mutation { syncNow(kind: FULL) { ok heldPeople } }",
        json!({}),
    )
    .await;
    assert_eq!(run["syncNow"]["heldPeople"], 20, "{run}");
    serve.stop().await;
}
