//! Attribute mapping and the token in the OS keyring, end to end: typed fields read from custom
//! Okta attributes, templates and extended attributes in GraphQL, filters, search and SCIM; a
//! changed mapping re-derived at start without one Okta request; a mirror that syncs with a
//! token stored by `oktamirror keyring set`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use oktamirror::model::{AttributeMap, ChangeOp, Entity};

use crate::support::process::{Serve, cli_with_stdin};
use crate::support::{TOKEN, TestApp, TestSim, gql, patch, wait_for};

const TEMPLATE: &str = "{firstName} {lastName} ({pronouns})";

fn mapping(pairs: &[(&str, &str)], extended: &[&str]) -> AttributeMap {
    let fields: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let extended: Vec<String> = extended.iter().map(|s| (*s).to_owned()).collect();
    AttributeMap::parse(&fields, &extended).expect("a valid mapping")
}

/// The mapping under test: three typed fields from custom attributes, a template, two
/// extended attributes.
fn full_mapping() -> AttributeMap {
    mapping(
        &[
            ("city", "officeLocation"),
            ("employeeNumber", "badgeId"),
            ("department", "orgUnit"),
            ("displayName", TEMPLATE),
        ],
        &["costCenterCode", "pronouns"],
    )
}

/// A profile attribute as the documented rules read it: a non-blank string, or a number's text.
fn text(profile: &Value, k: &str) -> Option<String> {
    match profile.get(k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What the mirror must show for one simulator user under `full_mapping`, by the documented
/// rules, from the simulator's own profile.
fn expected(user: &Value) -> Value {
    let p = &user["profile"];
    let parts = [
        text(p, "firstName"),
        text(p, "lastName"),
        text(p, "pronouns"),
    ];
    let display = format!(
        "{} {} ({})",
        parts[0].clone().unwrap_or_default(),
        parts[1].clone().unwrap_or_default(),
        parts[2].clone().unwrap_or_default()
    )
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ");
    let mut attributes = Vec::new();
    for name in ["costCenterCode", "pronouns"] {
        if let Some(v) = text(p, name) {
            attributes.push(json!({"name": name, "value": v}));
        }
    }
    json!({
        "id": user["id"],
        "city": text(p, "officeLocation"),
        "employeeNumber": text(p, "badgeId"),
        "department": text(p, "orgUnit"),
        "displayName": display,
        "attributes": attributes,
    })
}

/// Gives the first `n` active users of the simulator custom attributes through its admin API:
/// a unique office word, a badge id (a number for one), two org units, a cost-centre code by
/// parity, and pronouns for all but the last. Returns their ids.
fn give_custom_attributes(sim: &TestSim, n: usize) -> Vec<String> {
    let ids: Vec<String> = sim
        .sim
        .users()
        .into_iter()
        .filter(|u| u["status"] == "ACTIVE")
        .take(n)
        .map(|u| u["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(ids.len(), n, "enough active users");
    for (i, id) in ids.iter().enumerate() {
        let mut pairs = vec![
            ("officeLocation", json!(OFFICES[i])),
            (
                "badgeId",
                if i == 1 {
                    json!(4711)
                } else {
                    json!(format!("B-{i}00"))
                },
            ),
            (
                "orgUnit",
                json!(if i < 3 {
                    "Mapped Unit A"
                } else {
                    "Mapped Unit B"
                }),
            ),
            (
                "costCenterCode",
                json!(if i % 2 == 0 { "cc-even" } else { "cc-odd" }),
            ),
        ];
        if i + 1 < n {
            pairs.push((
                "pronouns",
                json!(if i == 0 { "xe/xem" } else { "they/them" }),
            ));
        }
        assert!(sim.sim.update_profile(id, patch(&pairs)), "patch {id}");
    }
    ids
}

const OFFICES: [&str; 6] = [
    "Quillbury",
    "Marrowdale",
    "Fennick",
    "Oxlade",
    "Thistlewick",
    "Brambleton",
];

const PEOPLE: &str = "query($f: PeopleFilter) { people(first: 500, filter: $f) {
    nodes { id city employeeNumber department displayName attributes { name value } } } }";

/// Every person's mapped fields as GraphQL shows them, by id.
async fn mapped_people(app: &TestApp) -> BTreeMap<String, Value> {
    let data = app.gql(PEOPLE, json!({"f": {"status": []}})).await;
    data["people"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("id").to_owned(), n.clone()))
        .collect()
}

/// Every simulator user's expected mapped fields, by id.
fn truth(sim: &TestSim) -> BTreeMap<String, Value> {
    sim.sim
        .users()
        .iter()
        .map(|u| (u["id"].as_str().expect("id").to_owned(), expected(u)))
        .collect()
}

async fn ids_of(app: &TestApp, query: &str, vars: Value, path: &[&str]) -> BTreeSet<String> {
    let mut v = app.gql(query, vars).await;
    for p in path {
        v = v[*p].take();
    }
    v.as_array()
        .expect("a list")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_fields_templates_and_extended_attributes_reach_every_front_end() {
    let sim = TestSim::lifted(40, 1301).await;
    let ids = give_custom_attributes(&sim, 6);
    let app = TestApp::builder(&sim)
        .attribute_map(full_mapping())
        .spawn()
        .await;
    app.wait_indexed().await;

    // GraphQL: every person, mapped or not, as the documented rules give it from Okta's data.
    assert_eq!(mapped_people(&app).await, truth(&sim));
    let ada = &mapped_people(&app).await[&ids[5]];
    assert!(
        ada["displayName"].as_str().expect("name").ends_with("()"),
        "a missing placeholder renders empty: {ada}"
    );

    // Filters: an extended attribute (case-insensitive), a mapped department.
    let odd = ids_of(
        &app,
        PEOPLE,
        json!({"f": {"attribute": {"name": "costCenterCode", "value": "CC-ODD"}}}),
        &["people", "nodes"],
    )
    .await;
    let want: BTreeSet<String> = ids.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(odd, want);
    let unit_a = ids_of(
        &app,
        PEOPLE,
        json!({"f": {"department": "mapped unit a"}}),
        &["people", "nodes"],
    )
    .await;
    assert_eq!(unit_a, ids[..3].iter().cloned().collect());

    // Search: a mapped city, an extended attribute's value, an attribute filter.
    const SEARCH: &str = "query($q: String!, $f: PeopleFilter) {
        search(query: $q, first: 20, filter: $f) { nodes { id } } }";
    let found = |q: &str, f: Value| {
        let vars = json!({"q": q, "f": f});
        let app = &app;
        async move { ids_of(app, SEARCH, vars, &["search", "nodes"]).await }
    };
    assert_eq!(
        found("Quillbury", Value::Null).await,
        BTreeSet::from([ids[0].clone()])
    );
    assert_eq!(
        found("xem", Value::Null).await,
        BTreeSet::from([ids[0].clone()])
    );
    assert!(
        found(
            "Marrowdale",
            json!({"attribute": {"name": "costCenterCode", "value": "cc-even"}})
        )
        .await
        .is_empty(),
        "the attribute filter narrows search"
    );
    assert_eq!(
        found(
            "Marrowdale",
            json!({"attribute": {"name": "costCenterCode", "value": "cc-odd"}})
        )
        .await,
        BTreeSet::from([ids[1].clone()])
    );

    // SCIM: the mapped typed fields.
    let user: Value = reqwest::get(format!("http://{}/scim/v2/Users/{}", app.addr, ids[1]))
        .await
        .expect("scim")
        .json()
        .await
        .expect("json");
    let want = expected(
        &sim.sim
            .users()
            .into_iter()
            .find(|u| u["id"] == ids[1].as_str())
            .expect("user"),
    );
    assert_eq!(user["addresses"][0]["locality"], "Marrowdale", "{user}");
    assert_eq!(user["displayName"], want["displayName"], "{user}");
    let enterprise = &user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(enterprise["employeeNumber"], "4711", "{user}");
    assert_eq!(enterprise["department"], "Mapped Unit A", "{user}");

    // A change in Okta arrives through the tail mapped the same way.
    assert!(
        sim.sim
            .update_profile(&ids[5], patch(&[("pronouns", json!("she/her"))]))
    );
    wait_for("the new pronouns", Duration::from_millis(100), || async {
        mapped_people(&app).await.get(&ids[5]) == truth(&sim).get(&ids[5])
    })
    .await;
    assert!(
        mapped_people(&app).await[&ids[5]]["displayName"]
            .as_str()
            .expect("name")
            .ends_with("(she/her)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_mapping_is_rederived_at_start_without_asking_okta() {
    let sim = TestSim::lifted(30, 1302).await;
    let ids = give_custom_attributes(&sim, 6);
    let mut app = TestApp::builder(&sim).crawl_only().spawn().await;
    app.wait_indexed().await;
    let before = mapped_people(&app).await;
    let raw_city = |id: &str| {
        let u = sim
            .sim
            .users()
            .into_iter()
            .find(|u| u["id"] == id)
            .expect("user");
        text(&u["profile"], "city")
    };
    assert_eq!(
        before[&ids[0]]["city"].as_str().map(str::to_owned),
        raw_city(&ids[0]),
        "the default mapping reads city"
    );
    let seq = app.store().last_seq().expect("seq");
    app.stop().await;

    app.set_attribute_map(full_mapping());
    let requests = sim.sim.request_count();
    app.start().await;
    app.wait_indexed().await;
    assert_eq!(mapped_people(&app).await, truth(&sim));
    assert_eq!(
        sim.sim.request_count(),
        requests,
        "re-deriving asked Okta nothing"
    );

    // Through the normal write path: one change-log entry for each person whose record changed,
    // and the indexes (department, search) follow.
    let mut updated = BTreeSet::new();
    for c in app.store().changes_after(seq) {
        let c = c.expect("a change");
        if let (Entity::Person { id }, ChangeOp::Upsert) = (c.entity, c.op) {
            updated.insert(id);
        }
    }
    let changed: BTreeSet<String> = truth(&sim)
        .into_iter()
        .filter(|(id, want)| {
            let old = &before[id];
            [
                "city",
                "employeeNumber",
                "department",
                "displayName",
                "attributes",
            ]
            .iter()
            .any(|f| old[*f] != want[*f])
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(updated, changed);
    let unit_b = ids_of(
        &app,
        PEOPLE,
        json!({"f": {"department": "Mapped Unit B"}}),
        &["people", "nodes"],
    )
    .await;
    assert_eq!(unit_b, ids[3..].iter().cloned().collect());
    let found = ids_of(
        &app,
        "query { search(query: \"Thistlewick\") { nodes { id } } }",
        json!({}),
        &["search", "nodes"],
    )
    .await;
    assert_eq!(found, BTreeSet::from([ids[4].clone()]));

    // The same mapping again: nothing to do, nothing written.
    let seq = app.store().last_seq().expect("seq");
    app.restart().await;
    app.wait_ready().await;
    assert_eq!(app.store().last_seq().expect("seq"), seq);
    assert_eq!(sim.sim.request_count(), requests, "still no Okta request");
}

/// Whether this environment forbids the kernel keyring, as `keyring set` reports it: the
/// precise refusal (seccomp's EPERM, or ENOSYS), never any other failure.
fn keyring_unavailable(out: &str) -> bool {
    out.contains("the OS keyring cannot be used here")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_syncs_with_the_token_stored_by_keyring_set() {
    let sim = TestSim::lifted(20, 1303).await;
    let name = format!("oktamirror-e2e/{}-{}", std::process::id(), sim.addr.port());
    let (ok, out) = cli_with_stdin(&["keyring", "set", &name], &format!("  {TOKEN}\n"));
    if !ok && keyring_unavailable(&out) {
        eprintln!(
            "NOT RUN: the kernel keyring is forbidden in this environment, so the keyring path was not tested: {out}"
        );
        return;
    }
    assert!(ok, "keyring set failed: {out}");
    assert!(!out.contains(TOKEN), "keyring set echoed the token: {out}");

    // A wrong token in the environment: only the keyring's can make this mirror sync.
    let dir = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(
        sim.addr,
        dir.path(),
        "info",
        &["--okta-token-keyring", &name, "--no-log-tail"],
        &[("OKTA_API_TOKEN", "wrong-token-0000000000")],
        None,
    );
    let addr = serve.addr().await;
    crate::support::wait_ready_at(addr).await;
    let data = gql(
        addr,
        "query { people(filter: {status: []}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["people"]["totalCount"], sim.sim.users().len());
    serve.stop().await;
    assert!(!serve.log().contains(TOKEN), "the token reached the log");

    let (ok, out) = cli_with_stdin(&["keyring", "delete", &name], "");
    assert!(ok, "keyring delete failed: {out}");
    // Gone: a mirror now says so, with the fix.
    let dir = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(
        sim.addr,
        dir.path(),
        "info",
        &["--okta-token-keyring", &name],
        &[],
        None,
    );
    serve.wait_exit().await;
    let log = serve.log();
    assert!(
        log.contains(&format!("holds no entry \"{name}\""))
            && log.contains("oktamirror keyring set"),
        "{log}"
    );
    let (ok, out) = cli_with_stdin(&["keyring", "set", &name], "   \n");
    assert!(!ok && out.contains("standard input held nothing"), "{out}");
}
