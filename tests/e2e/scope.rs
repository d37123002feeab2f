//! Mirroring part of the org: a group scope (`include_groups`, `users = "groups"`) and a people
//! filter (`user_filter`), checked against what the simulator holds, computed here on its own
//! (group names, member lists and `managerId` → `employeeNumber` walks); the crawl's requests
//! shrinking with the scope; people entering and leaving through the log tail; a narrower
//! configuration held as a mass removal until confirmed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::{Value, json};

use oktamirror::sync::Scope;

use crate::support::{TestApp, TestSim, wait_for};

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or_default()
}

/// Every person the mirror serves over GraphQL, with `inScope`.
async fn mirrored_people(app: &TestApp) -> BTreeMap<String, bool> {
    let q = "query($after: String) { people(filter: {status: []}, first: 1000, after: $after) { nodes { id inScope } pageInfo { hasNextPage endCursor } } }";
    let mut out = BTreeMap::new();
    let mut after = Value::Null;
    loop {
        let page = app.gql(q, json!({ "after": after })).await;
        let people = &page["people"];
        for n in people["nodes"].as_array().expect("nodes") {
            out.insert(
                s(n, "/id").to_owned(),
                n["inScope"].as_bool().expect("inScope"),
            );
        }
        if people["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
        after = people["pageInfo"]["endCursor"].clone();
    }
}

/// Fails with only the differences between the people a mirror serves and those expected.
fn assert_people(got: &BTreeMap<String, bool>, want: &BTreeMap<String, bool>) {
    let wrong: Vec<String> = got
        .keys()
        .chain(want.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|id| got.get(*id) != want.get(*id))
        .map(|id| {
            format!(
                "{id}: mirrored {:?}, expected {:?}",
                got.get(id),
                want.get(id)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{} differences: {wrong:?}", wrong.len());
}

/// Every group id the mirror serves.
async fn mirrored_groups(app: &TestApp) -> BTreeSet<String> {
    let q = "query($after: String) { groups(first: 1000, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    let mut out = BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let page = app.gql(q, json!({ "after": after })).await;
        let groups = &page["groups"];
        for n in groups["nodes"].as_array().expect("nodes") {
            out.insert(s(n, "/id").to_owned());
        }
        if groups["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
        after = groups["pageInfo"]["endCursor"].clone();
    }
}

/// The expected mirror of a scope: `in_scope` people (true) and, walking `managerId` to the
/// person with that employee number until it names nobody new, their managers (false).
fn with_manager_chains(users: &[Value], in_scope: &BTreeSet<String>) -> BTreeMap<String, bool> {
    let by_number: HashMap<&str, &str> = users
        .iter()
        .map(|u| (s(u, "/profile/employeeNumber"), s(u, "/id")))
        .collect();
    let by_id: HashMap<&str, &Value> = users.iter().map(|u| (s(u, "/id"), u)).collect();
    let mut out: BTreeMap<String, bool> = in_scope.iter().map(|id| (id.clone(), true)).collect();
    for id in in_scope {
        let mut at = id.as_str();
        loop {
            let mref = s(by_id[at], "/profile/managerId");
            let Some(&manager) = by_number.get(mref) else {
                break;
            };
            if out.contains_key(manager) {
                break;
            }
            out.insert(manager.to_owned(), false);
            at = manager;
        }
    }
    out
}

/// Group ids whose names start with `prefix` or equal `exact`, case-insensitively.
fn groups_named(sim: &oktamirror::sim::Simulator, prefix: &str, exact: &str) -> BTreeSet<String> {
    sim.groups()
        .iter()
        .filter(|g| {
            let name = s(g, "/profile/name").to_lowercase();
            name.starts_with(prefix) || name == exact
        })
        .map(|g| s(g, "/id").to_owned())
        .collect()
}

fn group_scope() -> Scope {
    scope_of("legal")
}

/// `eng-*` and the group named `exact`, people from those groups.
fn scope_of(exact: &str) -> Scope {
    Scope {
        include_groups: vec!["eng-*".into(), exact.into()],
        users_from_groups: true,
        ..Scope::default()
    }
}

/// The requests a first crawl of `sim` makes with `scope`, and the ready mirror.
async fn crawl_with(sim: &TestSim, scope: Scope) -> (u64, TestApp) {
    let before = sim.sim.request_count();
    let app = TestApp::builder(sim)
        .crawl_only()
        .scope(scope)
        .spawn()
        .await;
    (sim.sim.request_count() - before, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_scope_mirrors_the_members_and_their_manager_chains_for_fewer_requests() {
    let sim = TestSim::lifted_with_groups(1500, 400, 1301).await;
    let (whole_requests, mut whole) = crawl_with(&sim, Scope::default()).await;
    whole.stop().await;
    let (scoped_requests, mut app) = crawl_with(&sim, group_scope()).await;

    let groups = groups_named(&sim.sim, "eng-", "legal");
    assert!(groups.len() >= 3, "the org has engineering teams and Legal");
    let members: BTreeSet<String> = groups
        .iter()
        .flat_map(|g| sim.sim.group_members(g))
        .collect();
    let want = with_manager_chains(&sim.sim.users(), &members);
    assert!(
        want.values().any(|in_scope| !in_scope),
        "some managers are outside the scope"
    );
    assert_people(&mirrored_people(&app).await, &want);
    assert_eq!(mirrored_groups(&app).await, groups);
    for g in &groups {
        let mut stored = app
            .store()
            .member_ids_after(g, None)
            .collect::<Result<Vec<_>, _>>()
            .expect("members");
        stored.sort();
        assert_eq!(stored, sim.sim.group_members(g), "members of {g}");
    }
    assert!(
        scoped_requests * 4 < whole_requests,
        "a small scope reads far less: {scoped_requests} requests against {whole_requests} for the whole org"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_people_filter_is_applied_by_okta_and_keeps_manager_chains() {
    let sim = TestSim::lifted(400, 1302).await;
    let filter = r#"profile.countryCode eq "US" and status eq "ACTIVE""#;
    let scope = Scope {
        user_filter: Some(filter.into()),
        ..Scope::default()
    };
    let (_, mut app) = crawl_with(&sim, scope).await;
    let users = sim.sim.users();
    let matching: BTreeSet<String> = users
        .iter()
        .filter(|u| {
            s(u, "/profile/countryCode").eq_ignore_ascii_case("US") && s(u, "/status") == "ACTIVE"
        })
        .map(|u| s(u, "/id").to_owned())
        .collect();
    assert!(!matching.is_empty() && matching.len() < users.len());
    assert_people(
        &mirrored_people(&app).await,
        &with_manager_chains(&users, &matching),
    );
    // Every group, with its members among the mirrored people only.
    let all_groups: BTreeSet<String> = sim
        .sim
        .groups()
        .iter()
        .map(|g| s(g, "/id").to_owned())
        .collect();
    assert_eq!(mirrored_groups(&app).await, all_groups);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_people_filter_is_a_configuration_error_quoting_okta() {
    let sim = TestSim::lifted(50, 1303).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = crate::support::AppOptions::new(crate::support::TOKEN);
    opts.scope.user_filter = Some(r#"profile.countryCode ne "US""#.into());
    let settings = crate::support::settings(sim.addr, dir.path(), &opts);
    let err = match oktamirror::startup::Application::build(settings).await {
        Ok(_) => panic!("a filter Okta refuses must not start a mirror"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("user_filter") && err.contains("Invalid search criteria"),
        "names the setting and quotes Okta: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_the_scope_is_held_as_a_mass_removal_until_confirmed() {
    let sim = TestSim::lifted_with_groups(300, 150, 1304).await;
    let mut app = TestApp::builder(&sim).crawl_only().spawn().await;
    let everyone = mirrored_people(&app).await.len();
    app.stop().await;
    app.set_scope(group_scope());
    app.start().await;
    app.wait_ready().await;

    let run = app.sync().full_sync_now().await.expect("run");
    assert!(run.ok, "{:?}", run.error);
    assert!(!run.held.people.is_empty(), "the narrowing is held");
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("configured scope changed") && w.contains("--allow-mass-delete")),
        "says why and how to confirm: {:?}",
        run.warnings
    );
    assert_eq!(run.changes.people_deleted, 0);
    assert_eq!(
        mirrored_people(&app).await.len(),
        everyone,
        "nobody left yet"
    );

    let run = app
        .gql(
            "mutation { syncNow(kind: FULL, allowMassDelete: true) { ok changes { peopleDeleted } } }",
            json!({}),
        )
        .await;
    assert_eq!(run["syncNow"]["ok"], true, "{run}");
    let groups = groups_named(&sim.sim, "eng-", "legal");
    let members: BTreeSet<String> = groups
        .iter()
        .flat_map(|g| sim.sim.group_members(g))
        .collect();
    let want = with_manager_chains(&sim.sim.users(), &members);
    assert_eq!(
        run["syncNow"]["changes"]["peopleDeleted"],
        json!(everyone - want.len()),
        "{run}"
    );
    assert_people(&mirrored_people(&app).await, &want);

    // The confirmed scope is the mirror's now: the next crawl holds nothing.
    let run = app.sync().full_sync_now().await.expect("run");
    assert!(run.ok && run.held.people.is_empty(), "{:?}", run.held);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_enter_and_leave_a_group_scope_through_the_log_tail() {
    let sim = TestSim::lifted_with_groups(300, 150, 1305).await;
    let mut app = TestApp::builder(&sim)
        .no_sweeps()
        .poll_interval(Duration::from_millis(200))
        .scope(scope_of("sales"))
        .spawn()
        .await;
    let groups = groups_named(&sim.sim, "eng-", "sales");
    let sales_group = sim
        .sim
        .groups()
        .into_iter()
        .find(|g| s(g, "/profile/name") == "Sales")
        .map(|g| s(&g, "/id").to_owned())
        .expect("a Sales group");
    let people = mirrored_people(&app).await;
    let users = sim.sim.users();
    // Someone outside every included group and not anyone's manager in the scope enters Sales.
    let newcomer = users
        .iter()
        .filter(|u| s(u, "/status") == "ACTIVE")
        .map(|u| s(u, "/id").to_owned())
        .find(|id| !people.contains_key(id))
        .expect("someone outside the scope");
    assert!(sim.sim.add_member(&sales_group, &newcomer));
    wait_for(
        "the newcomer to arrive",
        Duration::from_millis(100),
        || async { mirrored_people(&app).await.get(&newcomer) == Some(&true) },
    )
    .await;
    // A member in scope only through Sales, and nobody's manager, leaves it.
    let leaver = sim
        .sim
        .group_members(&sales_group)
        .into_iter()
        .find(|id| {
            id != &newcomer
                && sim
                    .sim
                    .user_groups(id)
                    .iter()
                    .filter(|g| groups.contains(*g))
                    .count()
                    == 1
                && !users.iter().any(|u| {
                    let manages = s(u, "/profile/managerId");
                    people.contains_key(s(u, "/id"))
                        && users.iter().any(|m| {
                            s(m, "/id") == id && s(m, "/profile/employeeNumber") == manages
                        })
                })
        })
        .expect("a Sales member who manages nobody in scope");
    assert!(sim.sim.remove_member(&sales_group, &leaver));
    wait_for(
        "the leaver to leave",
        Duration::from_millis(100),
        || async { !mirrored_people(&app).await.contains_key(&leaver) },
    )
    .await;
    let members: BTreeSet<String> = groups
        .iter()
        .flat_map(|g| sim.sim.group_members(g))
        .collect();
    wait_for(
        "the mirror to equal the scope",
        Duration::from_millis(200),
        || async { mirrored_people(&app).await == with_manager_chains(&sim.sim.users(), &members) },
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_enter_and_leave_a_filter_scope_through_the_log_tail() {
    let sim = TestSim::lifted(300, 1306).await;
    let scope = Scope {
        user_filter: Some(r#"profile.countryCode eq "US""#.into()),
        ..Scope::default()
    };
    let mut app = TestApp::builder(&sim)
        .no_sweeps()
        .poll_interval(Duration::from_millis(200))
        .scope(scope)
        .spawn()
        .await;
    let people = mirrored_people(&app).await;
    let users = sim.sim.users();
    let manages_someone = |id: &str| {
        let number = users
            .iter()
            .find(|u| s(u, "/id") == id)
            .map(|u| s(u, "/profile/employeeNumber"))
            .unwrap_or_default();
        users
            .iter()
            .any(|u| s(u, "/profile/managerId") == number && s(u, "/id") != id)
    };
    let leaver = people
        .iter()
        .find(|(id, in_scope)| **in_scope && !manages_someone(id))
        .map(|(id, _)| id.clone())
        .expect("someone in scope who manages nobody");
    let newcomer = users
        .iter()
        .map(|u| s(u, "/id").to_owned())
        .find(|id| !people.contains_key(id))
        .expect("someone outside the scope");
    let country = |c: &str| {
        let mut patch = serde_json::Map::new();
        patch.insert("countryCode".into(), json!(c));
        patch
    };
    assert!(sim.sim.update_profile(&leaver, country("GB")));
    assert!(sim.sim.update_profile(&newcomer, country("US")));
    wait_for(
        "one to leave and one to enter",
        Duration::from_millis(100),
        || async {
            let now = mirrored_people(&app).await;
            !now.contains_key(&leaver) && now.get(&newcomer) == Some(&true)
        },
    )
    .await;
    app.stop().await;
}

/// Okta's user types by id, as the simulator serves them (`/api/v1/meta/types/user`).
async fn sim_types(sim: &TestSim) -> HashMap<String, String> {
    let types: Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/meta/types/user", sim.addr))
        .header("Authorization", format!("SSWS {}", crate::support::TOKEN))
        .send()
        .await
        .expect("GET user types")
        .json()
        .await
        .expect("JSON");
    types
        .as_array()
        .expect("an array")
        .iter()
        .map(|t| (s(t, "/id").to_owned(), s(t, "/displayName").to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_types_in_graphql_filters_facets_and_scope() {
    let sim = TestSim::lifted(300, 1307).await;
    let types = sim_types(&sim).await;
    assert!(types.len() >= 3, "several user types: {types:?}");
    let users = sim.sim.users();
    let type_of = |u: &Value| types[s(u, "/type/id")].clone();
    let contractors: BTreeSet<String> = users
        .iter()
        .filter(|u| type_of(u) == "Contractor")
        .map(|u| s(u, "/id").to_owned())
        .collect();
    assert!(!contractors.is_empty() && contractors.len() < users.len());

    let mut app = TestApp::builder(&sim).crawl_only().spawn().await;
    // Every person's userType is Okta's.
    let q = "query($after: String) { people(filter: {status: []}, first: 1000, after: $after) { nodes { id userType { id name displayName } } pageInfo { hasNextPage } } }";
    let page = app.gql(q, json!({ "after": null })).await;
    let nodes = page["people"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), users.len());
    for n in &nodes {
        let u = users
            .iter()
            .find(|u| s(u, "/id") == s(n, "/id"))
            .expect("a user");
        assert_eq!(s(n, "/userType/id"), s(u, "/type/id"));
        assert_eq!(s(n, "/userType/displayName"), type_of(u));
    }
    // The filter, by name, on people and search.
    let q =
        "{ people(filter: {status: [], userType: \"contractor\"}, first: 1000) { nodes { id } } }";
    let got: BTreeSet<String> = app.gql(q, json!({})).await["people"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| s(n, "/id").to_owned())
        .collect();
    assert_eq!(got, contractors);
    app.wait_indexed().await;
    let domain = s(&users[0], "/profile/email")
        .split('@')
        .nth(1)
        .expect("a domain")
        .to_owned();
    let q = "query($q: String!) { search(query: $q, filter: {status: [], userType: \"Contractor\"}, first: 1000) { totalCount facets { userType { value count } } } }";
    let r = app.gql(q, json!({ "q": domain })).await;
    assert_eq!(r["search"]["totalCount"], json!(contractors.len()));
    let q = "query($q: String!) { search(query: $q, filter: {status: []}, first: 1) { facets { userType { value count } } } }";
    let r = app.gql(q, json!({ "q": domain })).await;
    let facet: BTreeMap<String, u64> = r["search"]["facets"]["userType"]
        .as_array()
        .expect("facet")
        .iter()
        .map(|c| {
            (
                s(c, "/value").to_owned(),
                c["count"].as_u64().expect("count"),
            )
        })
        .collect();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for u in &users {
        *want.entry(type_of(u)).or_default() += 1;
    }
    assert_eq!(facet, want);
    app.stop().await;

    // The scope: contractors, with their manager chains.
    let scope = Scope {
        user_types: vec!["Contractor".into()],
        ..Scope::default()
    };
    let (_, mut scoped) = crawl_with(&sim, scope).await;
    assert_people(
        &mirrored_people(&scoped).await,
        &with_manager_chains(&users, &contractors),
    );
    scoped.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_user_types_the_mirror_works_and_says_what_it_costs() {
    let sim = TestSim::lifted(60, 1308).await;
    let mut strict = sim.sim.strictness();
    strict.user_types_forbidden = true;
    sim.sim.set_strictness(strict);
    let mut app = TestApp::builder(&sim).crawl_only().spawn().await;
    let r = app
        .gql(
            "{ syncStatus { lastFullSync { warnings } } people(first: 1) { nodes { userType { id name } } } }",
            json!({}),
        )
        .await;
    let warnings = r["syncStatus"]["lastFullSync"]["warnings"].to_string();
    assert!(
        warnings.contains("okta.userTypes.read"),
        "the run says what is missing: {warnings}"
    );
    let t = &r["people"]["nodes"][0]["userType"];
    assert!(t["id"].is_string() && t["name"].is_null(), "{t}");
    app.stop().await;
}
