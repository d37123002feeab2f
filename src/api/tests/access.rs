//! Roles over GraphQL: what a `directory`, `hr`, `admin` or `metrics` caller gets from the same
//! fixture org (00u5 is deprovisioned; see `fixture_ops`), and that what a role may not see is a
//! FORBIDDEN error on that field, never a silent null.

use serde_json::{Value, json};

use super::Server;
use crate::access::{Policy, Role};

/// The `extensions.code` of every error, with its path.
fn codes(r: &Value) -> Vec<(String, String)> {
    r["errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    (
                        e["path"].to_string(),
                        e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn directory_sees_no_deprovisioned_people_anywhere() {
    let s = Server::start_as(Role::Directory, Policy::default()).await;
    let d = s
        .data(
            r#"{ gone: person(id: "00u5") { id }
                 byLogin: person(login: "gone@example.com") { id }
                 all: people(filter: {status: []}) { totalCount nodes { id } }
                 eng: group(id: "00g1") { memberCount members { totalCount nodes { id } } }
                 vp: person(id: "00u2") { directReports { totalCount nodes { id } } reports { totalCount } }
                 chart: orgChart(rootId: "00u2") { directReportCount reports { person { id } } }
                 found: search(query: "engineer") { totalCount nodes { id } facets { department { value count } } } }"#,
            json!({}),
        )
        .await;
    assert!(d["gone"].is_null() && d["byLogin"].is_null(), "{d}");
    let all = super::ids(&d["all"]["nodes"]);
    assert!(!all.contains(&"00u5".to_owned()), "{all:?}");
    assert_eq!(d["all"]["totalCount"], 5);
    assert_eq!(d["eng"]["memberCount"], 3);
    assert_eq!(d["eng"]["members"]["totalCount"], 3);
    assert_eq!(
        super::ids(&d["eng"]["members"]["nodes"]),
        ["00u2", "00u3", "00u4"]
    );
    assert_eq!(d["vp"]["directReports"]["totalCount"], 2);
    assert_eq!(d["vp"]["reports"]["totalCount"], 2);
    assert_eq!(d["chart"]["directReportCount"], 2);
    assert_eq!(d["chart"]["reports"].as_array().map(Vec::len), Some(2));
    let found = super::ids(&d["found"]["nodes"]);
    assert!(!found.contains(&"00u5".to_owned()), "{found:?}");
    assert_eq!(d["found"]["totalCount"], found.len());
    let faceted: u64 = d["found"]["facets"]["department"]
        .as_array()
        .expect("facets")
        .iter()
        .map(|f| f["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        faceted,
        found.len() as u64,
        "facets count only what the rows show"
    );

    // The same org as hr: everyone.
    let hr = Server::start_as(Role::Hr, Policy::default()).await;
    let d = hr
        .data(
            r#"{ gone: person(id: "00u5") { id } all: people(filter: {status: []}) { totalCount }
                 eng: group(id: "00g1") { memberCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["gone"]["id"], "00u5");
    assert_eq!(d["all"]["totalCount"], 6);
    assert_eq!(d["eng"]["memberCount"], 4);
}

#[tokio::test]
async fn what_a_role_may_not_see_is_forbidden_field_by_field() {
    let s = Server::start_as(Role::Directory, Policy::default()).await;
    let r = s
        .query(
            r#"{ person(id: "00u1") { id displayName profile }
                 group(id: "00g1") { name profile }
                 syncStatus { ready }
                 syncRuns { id }
                 auditLog { action } }"#,
            json!({}),
        )
        .await;
    let got = codes(&r);
    for field in ["profile", "syncStatus", "syncRuns", "auditLog"] {
        assert!(
            got.iter()
                .any(|(p, c)| p.contains(field) && c == "FORBIDDEN"),
            "{field} not FORBIDDEN: {r}"
        );
    }
    // The person's own profile is not forbidden: it holds only the listed attributes (none).
    assert_eq!(r["data"]["person"]["profile"], json!({}));
    assert_eq!(r["data"]["person"]["displayName"], "Cara Chief");
    assert!(r["data"]["group"]["name"] == "Engineering");
    let msg = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("directory role"), "{msg}");

    // Asking for deprovisioned people is refused, not answered with an empty list.
    let r = s
        .query(
            "{ people(filter: {status: [DEPROVISIONED]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(codes(&r)[0].1, "FORBIDDEN", "{r}");
    let r = s
        .query(
            r#"{ group(id: "00g1") { members(status: [DEPROVISIONED]) { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&r)[0].1, "FORBIDDEN", "{r}");

    // State changes need admin: refused for directory and hr alike.
    for role in [Role::Directory, Role::Hr] {
        let s = Server::start_as(role, Policy::default()).await;
        let r = s
            .query("mutation { syncNow(kind: INCREMENTAL) { id } }", json!({}))
            .await;
        assert_eq!(codes(&r)[0].1, "FORBIDDEN", "{role}: {r}");
    }
    // A metrics key reads no people at all.
    let m = Server::start_as(Role::Metrics, Policy::default()).await;
    let r = m.query(r#"{ person(id: "00u1") { id } }"#, json!({})).await;
    assert_eq!(codes(&r)[0].1, "FORBIDDEN", "{r}");
}

#[tokio::test]
async fn directory_profiles_show_the_configured_attributes_and_hr_the_whole_profile() {
    let policy = Policy {
        directory_attributes: vec!["badgeColour".into()],
        ..Policy::default()
    };
    let s = Server::start_as(Role::Directory, policy.clone()).await;
    let d = s
        .data(r#"{ person(id: "00u1") { profile } }"#, json!({}))
        .await;
    assert_eq!(d["person"]["profile"], json!({"badgeColour": "gold"}));
    let hr = Server::start_as(Role::Hr, policy).await;
    let d = hr
        .data(
            r#"{ person(id: "00u1") { profile } group(id: "00g1") { profile } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["person"]["profile"]["employeeNumber"], "1001");
    assert_eq!(d["person"]["profile"]["badgeColour"], "gold");
    assert_eq!(d["group"]["profile"]["custom"], 7);
}

/// Extended attributes are typed fields chosen by the admin: a directory key reads them (and
/// filters on them) while the raw profile stays hidden from it.
#[tokio::test]
async fn directory_keys_see_extended_attributes_but_not_the_raw_profile() {
    let s = Server::start_as(Role::Directory, Policy::default()).await;
    let d = s
        .data(
            r#"{ person(id: "00u1") { profile attributes { name value } }
                 people(filter: {attribute: {name: "BADGECOLOUR", value: "Gold"}}) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["person"]["profile"], json!({}));
    assert_eq!(
        d["person"]["attributes"],
        json!([{"name": "badgeColour", "value": "gold"}])
    );
    assert_eq!(d["people"]["nodes"], json!([{"id": "00u1"}]));
}

#[tokio::test]
async fn with_keys_only_the_graphiql_page_and_its_files_need_no_key() {
    let s = Server::start_as(Role::Directory, Policy::default()).await;
    let anon = reqwest::Client::new();
    let page = anon
        .get(format!("{}/graphql", s.url))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("body");
    let asset = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads a script");
    let asset = anon
        .get(format!("{}/{}", s.url, asset.trim_start_matches('/')))
        .send()
        .await
        .expect("get asset");
    assert_eq!(asset.status(), 200, "{}", asset.url());
    // A query without a key is refused, however its parameter is spelled.
    for q in ["query=%7B__typename%7D", "%71uery=%7B__typename%7D"] {
        let r = anon
            .get(format!("{}/graphql?{q}", s.url))
            .header("accept", "application/json")
            .send()
            .await
            .expect("get");
        let status = r.status();
        let auth = r.headers().contains_key("www-authenticate");
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, 401, "{q}: {body}");
        assert!(auth);
    }
    let r = anon
        .post(format!("{}/graphql", s.url))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_request_pays_for_what_it_scans() {
    // Six people: each filtered count reads all six. Twenty aliases would read 120 records.
    let policy = Policy {
        scan_budget: 50,
        ..Policy::default()
    };
    let s = Server::start_as(Role::Hr, policy).await;
    let one = s
        .data(
            "{ people(filter: {title: \"Engineer\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(one["people"]["totalCount"], 2);
    let many: String = (0..20)
        .map(|i| format!("c{i}: people(filter: {{title: \"Engineer\"}}) {{ totalCount }} "))
        .collect();
    let r = s.query(&format!("{{ {many} }}"), json!({})).await;
    let costly = codes(&r)
        .into_iter()
        .filter(|(_, c)| c == "TOO_COSTLY")
        .count();
    assert!(costly > 0, "{r}");
    let answered = (0..20)
        .filter(|i| r["data"][format!("c{i}")]["totalCount"] == 2)
        .count();
    // Each alias reads the page (6) and counts (6): about four fit in 50.
    assert!(
        (2..20).contains(&answered),
        "the budget, not a limit on the shape: {r}"
    );
    let msg = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("reads more than 50 records"), "{msg}");
}

/// The Authorization header at its empty, largest and garbage values: 401 each time, the
/// value never echoed, the server up.
#[tokio::test]
async fn authorization_headers_at_their_extremes_are_refused() {
    let s = Server::start_as(Role::Directory, Policy::default()).await;
    let anon = reqwest::Client::new();
    let huge = format!("Bearer om_{}", "A".repeat(64 * 1024));
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "bearer om_short",
        "Basic dXNlcjpwYXNz",
        "Bearer om_\u{00e9}\u{00e9}",
        huge.as_str(),
    ] {
        let r = anon
            .post(format!("{}/graphql", s.url))
            .header("authorization", value)
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        // hyper refuses a header block past its limit before we see it (431); otherwise 401.
        assert!(status == 401 || status == 431, "{status} for {:.20}", value);
        if value.len() > 10 {
            assert!(!body.contains(&value[7..]), "the value is never echoed");
        }
    }
    let r = s.query("{ __typename }", json!({})).await;
    assert_eq!(r["data"]["__typename"], "Query", "the server is still up");
}
