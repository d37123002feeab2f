//! Provisioning mode (`--source scim`) end to end: people of a simulated org pushed with the
//! requests Okta's SCIM app sends (okta-api.md §9), read back over SCIM and GraphQL (search and
//! the org chart follow within the wait), Group Push, the role and read-only refusals,
//! concurrent PATCHes, and the data surviving a restart. Expected values come from the
//! simulator's org (its profiles and its intended managers), never from the mirror.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use oktamirror::access::{Role, keys};
use oktamirror::startup::Application;

use crate::support::{TestApp, TestSim, provisioning_settings, wait_for};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MIRROR: &str = "urn:ietf:params:scim:schemas:extension:oktamirror:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM client with one key, sending what Okta's SCIM client sends.
struct Scim {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Scim {
    fn new(app_url: &str, key: &str) -> Scim {
        Scim {
            base: format!("{app_url}/scim/v2"),
            key: key.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.key))
            .header("User-Agent", "Okta SCIM Client 1.0.0")
            .header("Accept", "application/scim+json");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json; charset=utf-8")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("SCIM request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn patch(&self, path: &str, ops: Value) -> (StatusCode, Value) {
        let body = json!({"schemas": [PATCH_OP], "Operations": ops});
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// GraphQL with this key; fails the test on any GraphQL error.
    async fn gql(&self, app_url: &str, query: &str) -> Value {
        let resp: Value = self
            .http
            .post(format!("{app_url}/graphql"))
            .header("Authorization", format!("Bearer {}", self.key))
            .json(&json!({"query": query}))
            .send()
            .await
            .expect("graphql")
            .json()
            .await
            .expect("json");
        assert!(resp.get("errors").is_none(), "GraphQL errors: {resp}");
        resp["data"].clone()
    }
}

fn q(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

fn prof<'a>(u: &'a Value, k: &str) -> &'a str {
    u["profile"][k].as_str().unwrap_or("")
}

/// Okta's create body (okta-api.md §9.2) for a simulated Okta user: the Okta id as externalId,
/// a random password, `groups: []`, and the enterprise attributes an admin maps, with
/// `manager.value` = `manager`.
fn okta_body(u: &Value, manager: Option<&str>) -> Value {
    let login = prof(u, "login");
    let mut ent = json!({
        "department": prof(u, "department"),
        "employeeNumber": prof(u, "employeeNumber"),
    });
    if let Some(m) = manager {
        ent["manager"] = json!({"value": m});
    }
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": login,
        "name": {"givenName": prof(u, "firstName"), "familyName": prof(u, "lastName")},
        "emails": [{"primary": true, "value": prof(u, "email"), "type": "work"}],
        "displayName": format!("{} {}", prof(u, "firstName"), prof(u, "lastName")),
        "title": prof(u, "title"),
        "locale": "en-US",
        "externalId": u["id"],
        "groups": [],
        "password": "1mz050nq",
        "active": true,
        ENTERPRISE: ent,
    })
}

/// A manager of the simulated org with two reports whose `managerId` is set, and the three.
fn manager_and_two_reports(sim: &TestSim) -> (Value, Value, Value) {
    let users = sim.sim.users();
    let by_id: BTreeMap<String, Value> = users
        .iter()
        .map(|u| (u["id"].as_str().expect("id").to_owned(), u.clone()))
        .collect();
    let mut reports: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for u in &users {
        let id = u["id"].as_str().expect("id");
        if let Some(m) = sim.sim.true_manager(id)
            && !prof(u, "managerId").is_empty()
            && u["status"] == "ACTIVE"
        {
            reports.entry(m).or_default().push(u.clone());
        }
    }
    let (m, rs) = reports
        .into_iter()
        .find(|(m, rs)| rs.len() >= 2 && by_id[m]["status"] == "ACTIVE")
        .expect("a manager with two reports in the simulated org");
    (by_id[&m].clone(), rs[0].clone(), rs[1].clone())
}

struct Server {
    app: Application,
    url: String,
    provisioner: Scim,
    directory: Scim,
}

async fn start(dir: &Path) -> Server {
    let keys_file = dir.join("keys.jsonl");
    let kept = dir.join("keys.txt");
    let (p, d) = if !kept.exists() {
        let (p, _) = keys::create(&keys_file, "okta-scim", Role::Provisioner).expect("key");
        let (d, _) = keys::create(&keys_file, "directory-app", Role::Directory).expect("key");
        let (p, d) = (p.expose().to_owned(), d.expose().to_owned());
        std::fs::write(&kept, format!("{p}\n{d}\n")).expect("keep the keys");
        (p, d)
    } else {
        let text = std::fs::read_to_string(&kept).expect("the keys");
        let mut lines = text.lines().map(str::to_owned);
        (lines.next().expect("p"), lines.next().expect("d"))
    };
    let app = Application::build(provisioning_settings(&dir.join("data"), &keys_file))
        .await
        .expect("start in provisioning mode");
    let url = app.url();
    Server {
        provisioner: Scim::new(&url, &p),
        directory: Scim::new(&url, &d),
        url,
        app,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_provisioning_sequence_feeds_scim_graphql_search_and_org_chart() {
    let sim = TestSim::start(60, 12).await;
    let (manager, r1, r2) = manager_and_two_reports(&sim);
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(dir.path()).await;
    let okta = &s.provisioner;
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/readyz", s.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "ready once the store is open"
    );

    // Okta's assignment sequence, reports first: the manager arrives after the people who
    // name them. r1 names the manager by Okta id (the manager's externalId here), r2 by the
    // HR key the simulated org keeps in managerId (matched to employeeNumber).
    let mut ids = BTreeMap::new();
    let m_okta_id = manager["id"].as_str().expect("id").to_owned();
    for (u, mgr) in [
        (&r1, Some(m_okta_id.clone())),
        (&r2, Some(prof(&r2, "managerId").to_owned())),
        (&manager, None),
    ] {
        let login = prof(u, "login");
        let (st, list) = okta
            .get(&format!(
                "/Users?filter={}&startIndex=1&count=100",
                q(&format!("userName eq \"{login}\""))
            ))
            .await;
        assert_eq!(
            (st, list["totalResults"].clone()),
            (StatusCode::OK, json!(0))
        );
        let (st, created) = okta.post("/Users", okta_body(u, mgr.as_deref())).await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("an id").to_owned();
        assert_ne!(
            id,
            u["id"].as_str().expect("id"),
            "ids are the mirror's own"
        );
        assert_eq!(created["externalId"], u["id"]);
        assert!(
            created.get("password").is_none(),
            "the password is never kept"
        );
        let (st, got) = okta.get(&format!("/Users/{id}")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(got["userName"], login);
        assert_eq!(got["name"]["familyName"], prof(u, "lastName"));
        assert_eq!(got["active"], true);
        ids.insert(login.to_owned(), id);
    }
    let id_of = |u: &Value| ids[prof(u, "login")].clone();

    // The same userName again (in other case): 409 uniqueness.
    let mut dup = okta_body(&r1, None);
    dup["userName"] = json!(prof(&r1, "login").to_uppercase());
    let (st, e) = okta.post("/Users", dup).await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["scimType"], "uniqueness");

    // GraphQL sees pushed people as it sees mirrored ones: found by search, and both reports
    // under the manager the simulated org intends for them.
    let reader = &s.directory;
    let family = prof(&r1, "lastName").to_owned();
    wait_for(
        "search to find the pushed person",
        Duration::from_millis(20),
        || async {
            let d = reader
                .gql(
                    &s.url,
                    &format!("{{ search(query: \"{family}\", first: 50) {{ nodes {{ id }} }} }}"),
                )
                .await;
            d["search"]["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|p| p["id"] == json!(id_of(&r1))))
        },
    )
    .await;
    let m_id = id_of(&manager);
    let mut want: Vec<String> = vec![id_of(&r1), id_of(&r2)];
    want.sort();
    wait_for("the reports under their manager", Duration::from_millis(20), || async {
        let d = reader
            .gql(&s.url, &format!("{{ person(id: \"{m_id}\") {{ directReports(first: 50) {{ nodes {{ id }} }} }} }}"))
            .await;
        let mut got: Vec<String> = d["person"]["directReports"]["nodes"]
            .as_array()
            .map(|n| n.iter().filter_map(|p| p["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        got.sort();
        got == want
    })
    .await;

    // Deactivation as OIN apps send it (no path), then Okta's PUT of the whole object it got.
    let r1_path = format!("/Users/{}", id_of(&r1));
    let (st, u) = okta
        .patch(
            &r1_path,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(
        (st, u["active"].clone()),
        (StatusCode::OK, json!(false)),
        "{u}"
    );
    let (_, mut u) = okta.get(&r1_path).await;
    assert_eq!(u["active"], false);
    u.as_object_mut().expect("object").remove("meta");
    u["title"] = json!("Principal Tester");
    u["name"]["middleName"] = json!("Excited");
    let (st, put) = okta.put(&r1_path, u).await;
    assert_eq!(st, StatusCode::OK, "{put}");
    assert_eq!(
        (
            put["title"].clone(),
            put["name"]["middleName"].clone(),
            put["active"].clone()
        ),
        (json!("Principal Tester"), json!("Excited"), json!(false))
    );
    // A directory key does not see deprovisioned people: deactivation reached the rules.
    let (st, _) = reader.get(&r1_path).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = okta
        .patch(
            &r1_path,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, seen) = reader.get(&r1_path).await;
    assert_eq!(
        (st, seen["title"].clone()),
        (StatusCode::OK, json!("Principal Tester"))
    );

    // A key that is not a provisioner may not write, however it asks.
    let (st, e) = reader.post("/Users", okta_body(&r1, None)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    assert!(
        e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("provisioner")),
        "{e}"
    );
    let (st, _) = reader
        .patch(
            &r1_path,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Group Push: create, membership adds and removes (value path), rename, delete.
    let (st, g) = okta
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let gp = format!("/Groups/{}", g["id"].as_str().expect("id"));
    let members = |v: &Value| -> Vec<String> {
        let mut m: Vec<String> = v["members"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        m.sort();
        m
    };
    let (st, g1) = okta
        .patch(
            &gp,
            json!([{"op": "add", "path": "members", "value": [
            {"value": id_of(&r1), "display": prof(&r1, "login")},
            {"value": id_of(&r2), "display": prof(&r2, "login")}]}]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(members(&g1), want);
    let (st, g2) = okta
        .patch(
            &gp,
            json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", id_of(&r2))},
            {"op": "add", "path": "members", "value": [{"value": m_id}]}]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut want_g2 = vec![id_of(&r1), m_id.clone()];
    want_g2.sort();
    assert_eq!(members(&g2), want_g2);
    let (st, g3) = okta
        .patch(&gp, json!([{"op": "replace", "value": {"id": g["id"], "displayName": "Test SCIMv2 renamed"}}]))
        .await;
    assert_eq!(
        (st, g3["displayName"].clone()),
        (StatusCode::OK, json!("Test SCIMv2 renamed"))
    );
    let (st, found) = okta
        .get(&format!(
            "/Groups?filter={}&startIndex=1&count=100",
            q("displayName eq \"Test SCIMv2 renamed\"")
        ))
        .await;
    assert_eq!(
        (st, found["totalResults"].clone()),
        (StatusCode::OK, json!(1))
    );
    let gid = g["id"].as_str().expect("id");
    let d = reader
        .gql(
            &s.url,
            &format!(
                "{{ group(id: \"{gid}\") {{ name members(first: 10) {{ nodes {{ id }} }} }} }}"
            ),
        )
        .await;
    assert_eq!(d["group"]["name"], "Test SCIMv2 renamed");
    let mut gql_members: Vec<String> = d["group"]["members"]["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    gql_members.sort();
    assert_eq!(gql_members, want_g2);
    let (st, _) = okta.delete(&gp).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = okta.get(&gp).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    s.app.stop().await.expect("stop");
}

/// Twenty PATCHes at once, each setting its own attribute: the single writer applies each to
/// the state the one before left, so none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_lose_no_update_and_pushed_data_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(dir.path()).await;
    let (st, u) = s
        .provisioner
        .post("/Users", json!({"schemas": [USER], "userName": "con.current@example.com",
                               "name": {"givenName": "Con", "familyName": "Current"}, "active": true}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let path = format!("/Users/{}", u["id"].as_str().expect("id"));
    let patches = (0..20).map(|i| {
        let (c, path) = (&s.provisioner, path.clone());
        async move {
            c.patch(&path, json!([{"op": "add", "path": format!("{MIRROR}:customAttributes.k{i}"), "value": i}]))
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(patches).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let (_, got) = s.provisioner.get(&path).await;
    let custom = &got[MIRROR]["customAttributes"];
    for i in 0..20 {
        assert_eq!(custom[format!("k{i}")], json!(i), "update {i} lost: {got}");
    }
    let (st, g) = s
        .provisioner
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Kept", "members": [{"value": u["id"]}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let before_user = s.provisioner.get(&path).await.1;
    let gpath = format!("/Groups/{}", g["id"].as_str().expect("id"));
    let before_group = s.provisioner.get(&gpath).await.1;
    s.app.stop().await.expect("stop");

    // The same data directory in the Okta-API mode is refused: the two never mix.
    let mut okta_mode = crate::support::settings(
        "127.0.0.1:9".parse().expect("addr"),
        &dir.path().join("data"),
        &crate::support::AppOptions::new("unused-token"),
    );
    okta_mode.server.keys_file = Some(dir.path().join("keys.jsonl"));
    let e = Application::build(okta_mode).await.err().expect("refused");
    assert!(e.to_string().contains("--source scim"), "{e}");

    let s = start(dir.path()).await;
    assert_eq!(s.provisioner.get(&path).await.1, before_user);
    assert_eq!(s.provisioner.get(&gpath).await.1, before_group);
    s.app.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_of_the_okta_api_refuses_scim_writes_as_read_only() {
    let sim = TestSim::start(10, 3).await;
    let app = TestApp::builder(&sim).crawl_only().spawn().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/scim/v2", app.addr);
    let user = sim.sim.users()[0]["id"].as_str().expect("id").to_owned();
    for (method, path) in [
        (reqwest::Method::POST, "/Users".to_owned()),
        (reqwest::Method::PUT, format!("/Users/{user}")),
        (reqwest::Method::PATCH, format!("/Users/{user}")),
        (reqwest::Method::DELETE, format!("/Users/{user}")),
        (reqwest::Method::POST, "/Groups".to_owned()),
    ] {
        let resp = http
            .request(method.clone(), format!("{base}{path}"))
            .header("Content-Type", "application/scim+json")
            .body(json!({"schemas": [USER], "userName": "x@example.com"}).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let e: Value = resp.json().await.expect("a SCIM error");
        let detail = e["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("read-only") && detail.contains("--source scim"),
            "{method} {path}: {e}"
        );
    }
    // Nothing was written.
    assert!(app.mirrors_sim(true));
}

/// The simulator's Okta-style SCIM push client (`oktamirror sim --scim-push`) provisions its
/// whole org into a provisioning-mode mirror, then pushes a change the org makes: GraphQL and
/// search answer from what was pushed, and agree with the simulator's own people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_scim_push_provisions_a_mirror_and_keeps_it_current() {
    let ts = TestSim::start(120, 61).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = start(dir.path()).await;
    let push = ts.sim.scim_push(oktamirror::sim::ScimPushOptions::new(
        &format!("{}/scim/v2", server.url),
        &server.provisioner.key,
    ));
    push.provision().await.expect("provision the org");

    let gql = |query: String, vars: Value| {
        let (url, key) = (server.url.clone(), server.provisioner.key.clone());
        async move {
            let v: Value = reqwest::Client::new()
                .post(format!("{url}/graphql"))
                .bearer_auth(key)
                .json(&json!({"query": query, "variables": vars}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            assert!(v.get("errors").is_none(), "{v}");
            v["data"].clone()
        }
    };
    // Okta pushes the people assigned to its SCIM app; a deprovisioned user is not assigned.
    let users: Vec<Value> = ts
        .sim
        .users()
        .into_iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .collect();
    let all = "[ACTIVE, STAGED, PROVISIONED, RECOVERY, LOCKED_OUT, PASSWORD_EXPIRED, SUSPENDED, DEPROVISIONED, UNKNOWN]";
    let total = gql(
        format!("{{ people(first: 1, filter: {{status: {all}}}) {{ totalCount }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        total["people"]["totalCount"].as_u64(),
        Some(users.len() as u64),
        "everyone is pushed"
    );
    for u in users.iter().step_by(7) {
        let login = prof(u, "login");
        let p = gql(
            "query($l: String) { person(login: $l) { title department } }".into(),
            json!({ "l": login }),
        )
        .await;
        assert_eq!(
            p["person"]["title"].as_str(),
            u["profile"]["title"].as_str(),
            "{login}"
        );
        assert_eq!(
            p["person"]["department"].as_str(),
            u["profile"]["department"].as_str(),
            "{login}"
        );
    }

    // A change in the org reaches the mirror with the next push, and search finds it.
    let someone = users
        .iter()
        .find(|u| u["status"] == "ACTIVE")
        .expect("an active user");
    let id = someone["id"].as_str().expect("id");
    assert!(ts.sim.update_profile(
        id,
        crate::support::patch(&[("title", json!("Chief Pusher Zqx"))])
    ));
    assert!(push.push_changes().await.expect("push the change") > 0);
    let login = prof(someone, "login").to_owned();
    let search = "{ search(query: \"Zqx\", first: 5) { nodes { login title } } }";
    wait_for(
        "search to find the pushed change",
        Duration::from_millis(50),
        || {
            let q = gql(search.into(), json!({}));
            async move {
                q.await["search"]["nodes"]
                    .as_array()
                    .is_some_and(|n| n.iter().any(|p| p["title"] == "Chief Pusher Zqx"))
            }
        },
    )
    .await;
    let found = gql(search.into(), json!({})).await;
    assert_eq!(
        found["search"]["nodes"][0]["login"].as_str(),
        Some(login.as_str())
    );
}

/// SCIM write bodies at their empty, largest and garbage values: each gets a SCIM error that
/// says what is wrong (never a crash or a half-written user), and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_bodies_at_their_extremes_get_clear_scim_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(dir.path()).await;
    let raw = |method: reqwest::Method, path: &str, ct: &str, body: Vec<u8>| {
        let (base, key) = (s.provisioner.base.clone(), s.provisioner.key.clone());
        let path = path.to_owned();
        let ct = ct.to_owned();
        async move {
            let r = reqwest::Client::new()
                .request(method, format!("{base}{path}"))
                .bearer_auth(key)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = r.status();
            (status, r.text().await.expect("body"))
        }
    };
    let scim = "application/scim+json";
    for (what, body) in [
        ("empty", Vec::new()),
        ("garbage", b"{\"schemas\": [".to_vec()),
        ("not an object", b"[1, 2, 3]".to_vec()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x01]),
    ] {
        let (st, text) = raw(reqwest::Method::POST, "/Users", scim, body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{what}: {text}");
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what} ({e}): {text}"));
        assert!(
            v["scimType"] == "invalidSyntax" || v["scimType"] == "invalidValue",
            "{what}: {v}"
        );
        assert!(
            !v["detail"].as_str().unwrap_or_default().is_empty(),
            "{what}: {v}"
        );
    }
    // Not JSON at all, by its type.
    let (st, text) = raw(
        reqwest::Method::POST,
        "/Users",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    assert!(text.contains("application/scim+json"), "{text}");
    // Larger than any request the server takes: refused before it is read.
    let huge = json!({"schemas": [USER], "userName": "big@example.com",
                      "displayName": "x".repeat(3 * 1024 * 1024)})
    .to_string()
    .into_bytes();
    let (st, _) = raw(reqwest::Method::POST, "/Users", scim, huge).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    // An empty and a garbage PATCH on a user that exists.
    let (st, u) = s
        .provisioner
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "edge.case@example.com", "active": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let path = format!("/Users/{}", u["id"].as_str().expect("id"));
    for (what, body) in [
        ("no Operations", json!({"schemas": [PATCH_OP]})),
        (
            "an unknown op",
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "frobnicate", "path": "title", "value": "x"}]}),
        ),
        (
            "a garbage path",
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "[[[", "value": "x"}]}),
        ),
    ] {
        let (st, text) = raw(
            reqwest::Method::PATCH,
            &path,
            scim,
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{what}: {text}");
    }
    // Nothing half-written, and the server still answers.
    let (st, got) = s.provisioner.get(&path).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got["userName"], "edge.case@example.com");
    assert!(got.get("title").is_none(), "{got}");
    let (_, list) = s
        .provisioner
        .get(&format!(
            "/Users?filter={}",
            q("userName eq \"big@example.com\"")
        ))
        .await;
    assert_eq!(list["totalResults"], 0, "{list}");
    s.app.stop().await.expect("stop");
}
