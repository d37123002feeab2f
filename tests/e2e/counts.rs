//! Whole-org counts end to end after churn: `people(filter:) { totalCount }` by status,
//! department, title, city and country code against the simulator's own users, `reports {
//! totalCount }` against a walk of the mirrored hierarchy, two attributes at once, department
//! headcounts, groups' members by status, and the store's maintained counts against a scan.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestApp, TestSim, gql};

/// Trimmed and lower-cased: how people filters compare text.
fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_org_counts_equal_the_simulator_after_churn() {
    let ts = TestSim::start(600, 23).await;
    let app = TestApp::builder(&ts).spawn().await;
    ts.sim
        .start_churn(Duration::from_millis(20))
        .expect("start churn");
    let sim = &ts.sim;
    crate::support::wait_for(
        "the simulator to make 150 changes",
        Duration::from_millis(50),
        || async { sim.churn_changes() >= 150 },
    )
    .await;
    ts.sim.stop_churn();
    app.wait_mirrors_sim(true).await;

    assert_eq!(
        app.store().audit_counts().expect("audit"),
        Vec::<String>::new(),
        "maintained counts against a scan of the store"
    );

    let users = ts.sim.users();
    let count = |q: Value| {
        let addr = app.addr;
        async move {
            let d = gql(
                addr,
                "query($f: PeopleFilter) { people(filter: $f, first: 1) { totalCount } }",
                json!({"f": q}),
            )
            .await;
            d["people"]["totalCount"].as_u64().expect("totalCount")
        }
    };
    // By status, each alone.
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for u in &users {
        *by_status
            .entry(u["status"].as_str().expect("status").to_owned())
            .or_default() += 1;
    }
    for (status, n) in &by_status {
        assert_eq!(
            count(json!({"status": [status]})).await,
            *n,
            "people with status {status}"
        );
    }
    // By each attribute value (default statuses: all but DEPROVISIONED).
    let mut checked = 0;
    for (field, okta) in [
        ("department", "department"),
        ("title", "title"),
        ("city", "city"),
        ("countryCode", "countryCode"),
    ] {
        let mut want: HashMap<String, (String, u64)> = HashMap::new();
        for u in users.iter().filter(|u| u["status"] != "DEPROVISIONED") {
            if let Some(v) = u["profile"][okta].as_str() {
                want.entry(fold(v)).or_insert((v.to_owned(), 0)).1 += 1;
            }
        }
        for (spelled, n) in want.values() {
            assert_eq!(
                count(json!({ field: spelled })).await,
                *n,
                "people with {field} {spelled:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} attribute values checked");

    // Two attributes at once: every department with every title (and country) the simulator
    // has, counted, and the first page of each department + title listed.
    let shown: Vec<&Value> = users
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .collect();
    let values = |okta: &str| {
        let mut v: BTreeMap<String, String> = BTreeMap::new();
        for u in &shown {
            if let Some(x) = u["profile"][okta].as_str() {
                v.entry(fold(x)).or_insert_with(|| x.to_owned());
            }
        }
        v.into_values().collect::<Vec<String>>()
    };
    let (departments, titles) = (values("department"), values("title"));
    let mut pairs = 0;
    for d in &departments {
        for (field, okta, list) in [
            ("title", "title", titles.iter().take(12).collect::<Vec<_>>()),
            (
                "countryCode",
                "countryCode",
                values("countryCode").iter().collect(),
            ),
        ] {
            for v in list {
                let mut want: Vec<&str> = shown
                    .iter()
                    .filter(|u| {
                        u["profile"]["department"].as_str().map(fold) == Some(fold(d))
                            && u["profile"][okta].as_str().map(fold) == Some(fold(v))
                    })
                    .filter_map(|u| u["id"].as_str())
                    .collect();
                want.sort();
                let f = json!({"department": d, field: v});
                assert_eq!(
                    count(f.clone()).await,
                    want.len() as u64,
                    "people with department {d:?} and {field} {v:?}"
                );
                if field == "title" {
                    let page = gql(
                        app.addr,
                        "query($f: PeopleFilter) { people(filter: $f, first: 3) { nodes { id } } }",
                        json!({"f": f}),
                    )
                    .await;
                    let ids: Vec<&str> = page["people"]["nodes"]
                        .as_array()
                        .expect("nodes")
                        .iter()
                        .filter_map(|n| n["id"].as_str())
                        .collect();
                    assert_eq!(ids, want.iter().take(3).copied().collect::<Vec<_>>());
                }
                pairs += usize::from(!want.is_empty());
            }
        }
    }
    assert!(pairs > 20, "only {pairs} non-empty pairs checked");

    // Department headcounts (deprovisioned people are never members).
    let d = gql(app.addr, "{ departments { name headcount } }", json!({})).await;
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for u in &shown {
        if let Some(x) = u["profile"]["department"].as_str() {
            *want.entry(fold(x)).or_default() += 1;
        }
    }
    let got: BTreeMap<String, u64> = d["departments"]
        .as_array()
        .expect("departments")
        .iter()
        .map(|d| {
            (
                fold(d["name"].as_str().expect("name")),
                d["headcount"].as_u64().expect("headcount"),
            )
        })
        .collect();
    assert_eq!(got, want, "department headcounts");

    // Each group's members by status against the simulator's memberships.
    let status: HashMap<&str, &str> = users
        .iter()
        .filter_map(|u| Some((u["id"].as_str()?, u["status"].as_str()?)))
        .collect();
    let mut groups_checked = 0;
    for g in ts.sim.groups().iter().take(40) {
        let id = g["id"].as_str().expect("group id");
        let members = ts.sim.group_members(id);
        for asked in [&["ACTIVE"][..], &["SUSPENDED", "DEPROVISIONED"]] {
            let want = members
                .iter()
                .filter(|m| status.get(m.as_str()).is_some_and(|s| asked.contains(s)))
                .count() as u64;
            let d = gql(
                app.addr,
                "query($id: ID!, $s: [UserStatus!]) { group(id: $id) { members(first: 0, status: $s) { totalCount } } }",
                json!({"id": id, "s": asked}),
            )
            .await;
            assert_eq!(
                d["group"]["members"]["totalCount"].as_u64(),
                Some(want),
                "members of {id} with status {asked:?}"
            );
        }
        groups_checked += usize::from(!members.is_empty());
    }
    assert!(
        groups_checked > 5,
        "only {groups_checked} groups with members"
    );

    // reports { totalCount } of managers against a walk of the mirrored managers (the open
    // loopback caller is an admin: deprovisioned people count).
    let people: Vec<_> = app
        .store()
        .people_after(None)
        .collect::<Result<_, _>>()
        .expect("people");
    let mut reports: HashMap<String, Vec<String>> = HashMap::new();
    for p in &people {
        if let Some(m) = &p.manager_id {
            reports.entry(m.clone()).or_default().push(p.id.clone());
        }
    }
    let mut managers: Vec<&String> = reports.keys().collect();
    managers.sort();
    for m in managers.iter().take(60) {
        let mut seen = HashSet::from([m.to_string()]);
        let mut queue = vec![m.to_string()];
        let mut n = 0u64;
        while let Some(x) = queue.pop() {
            for r in reports.get(&x).into_iter().flatten() {
                if seen.insert(r.clone()) {
                    n += 1;
                    queue.push(r.clone());
                }
            }
        }
        let d = gql(
            app.addr,
            "query($id: ID!) { person(id: $id) { reports(first: 5) { totalCount nodes { id } } } }",
            json!({"id": m}),
        )
        .await;
        if d["person"].is_null() {
            continue;
        }
        assert_eq!(
            d["person"]["reports"]["totalCount"].as_u64(),
            Some(n),
            "reports of {m}"
        );
    }
}
