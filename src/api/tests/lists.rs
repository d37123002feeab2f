//! Lists: people/groups paging without duplicates, filters (status default excludes
//! DEPROVISIONED), group members and a person's groups, page-size limits and bad cursors.

use serde_json::{Value, json};

use super::{Server, ids};

/// Walks a connection page by page (`first: 2`) and returns every id seen, in order.
async fn walk(s: &Server, query: &str, vars: Value, field: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    for _ in 0..20 {
        let mut v = vars.clone();
        v["after"] = after.clone();
        let d = s.data(query, v).await;
        let conn = &d[field];
        let page_ids: Vec<String> = conn["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(page_ids, ids(&conn["nodes"]), "edges and nodes agree");
        assert!(page_ids.len() <= 2);
        if let Some(last) = conn["edges"].as_array().and_then(|e| e.last()) {
            assert_eq!(last["cursor"], conn["pageInfo"]["endCursor"]);
        }
        seen.extend(page_ids);
        if conn["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    panic!("pagination did not end: {seen:?}");
}

const PEOPLE: &str = "query($after: String, $filter: PeopleFilter) {
  people(first: 2, after: $after, filter: $filter) {
    edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn people_pages_without_duplicates_and_hide_deprovisioned() {
    let s = Server::start().await;
    let all = walk(&s, PEOPLE, json!({}), "people").await;
    assert_eq!(all, ["00u1", "00u2", "00u3", "00u4", "00u6"]);

    let every = json!({"status": ["ACTIVE", "STAGED", "PROVISIONED", "RECOVERY", "LOCKED_OUT",
        "PASSWORD_EXPIRED", "SUSPENDED", "DEPROVISIONED", "UNKNOWN"]});
    let all = walk(&s, PEOPLE, json!({"filter": every.clone()}), "people").await;
    assert_eq!(all.len(), 6);

    let d = s
        .data(
            "query($f: PeopleFilter) { a: people { totalCount } b: people(filter: $f) { totalCount }
               c: people(filter: {status: [DEPROVISIONED]}) { totalCount nodes { id } } }",
            json!({"f": every}),
        )
        .await;
    assert_eq!(d["a"]["totalCount"], 5);
    assert_eq!(d["b"]["totalCount"], 6);
    assert_eq!(d["c"]["totalCount"], 1);
    assert_eq!(ids(&d["c"]["nodes"]), ["00u5"]);
}

#[tokio::test]
async fn people_attribute_filters_are_case_insensitive() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ eng: people(filter: {department: "ENGINEERING"}) { totalCount nodes { id } }
                 de: people(filter: {countryCode: "de", city: "berlin"}) { nodes { id } }
                 titled: people(filter: {title: "engineer", status: [SUSPENDED]}) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["eng"]["nodes"]), ["00u2", "00u3", "00u4"]);
    assert_eq!(d["eng"]["totalCount"], 3);
    assert_eq!(ids(&d["de"]["nodes"]), ["00u3"]);
    assert_eq!(ids(&d["titled"]["nodes"]), ["00u4"]);
}

#[tokio::test]
async fn groups_page_and_filter() {
    let s = Server::start().await;
    let q = "query($after: String) { groups(first: 2, after: $after) {
        edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }";
    assert_eq!(
        walk(&s, q, json!({}), "groups").await,
        ["00g1", "00g2", "00g3"]
    );
    let d = s
        .data(
            r#"{ app: groups(filter: {type: [APP_GROUP]}) { totalCount nodes { id name } }
                 e: groups(filter: {nameStartsWith: "e"}) { totalCount nodes { id } }
                 all: groups { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["app"]["nodes"]), ["00g3"]);
    assert_eq!(d["app"]["totalCount"], 1);
    assert_eq!(ids(&d["e"]["nodes"]), ["00g1", "00g2"]);
    assert_eq!(d["e"]["totalCount"], 2);
    assert_eq!(d["all"]["totalCount"], 3);
}

#[tokio::test]
async fn members_and_person_groups() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ group(name: "Everyone") {
                   all: members { totalCount nodes { id } }
                   active: members(status: [ACTIVE]) { totalCount nodes { id } }
                   memberCount }
                 person(login: "eng1@example.com") { groups { totalCount nodes { id name } } } }"#,
            json!({}),
        )
        .await;
    let g = &d["group"];
    assert_eq!(g["all"]["totalCount"], 6);
    assert_eq!(g["memberCount"], 6);
    assert_eq!(g["all"]["nodes"].as_array().map(Vec::len), Some(6));
    assert_eq!(ids(&g["active"]["nodes"]), ["00u1", "00u2", "00u3"]);
    assert_eq!(g["active"]["totalCount"], 3);
    assert_eq!(ids(&d["person"]["groups"]["nodes"]), ["00g1", "00g2"]);
    assert_eq!(d["person"]["groups"]["totalCount"], 2);

    let q = r#"query($after: String) { group(id: "00g2") { members(first: 2, after: $after, status: [ACTIVE, STAGED]) {
        edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } } }"#;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = s.data(q, json!({"after": after})).await;
        let m = &d["group"]["members"];
        seen.extend(ids(&m["nodes"]));
        if m["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = m["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["00u1", "00u2", "00u3", "00u6"]);
}

#[tokio::test]
async fn page_size_and_cursor_errors() {
    let s = Server::start().await;
    for first in [1001, -1] {
        let msg = s
            .error(
                "query($n: Int) { people(first: $n) { nodes { id } } }",
                json!({"n": first}),
            )
            .await;
        assert!(msg.contains("first must be between 0 and 1000"), "{msg}");
    }
    let msg = s
        .error(
            r#"{ people(after: "not-a-cursor") { nodes { id } } }"#,
            json!({}),
        )
        .await;
    assert!(msg.contains("invalid cursor"), "{msg}");
    // A group cursor is refused by a people list.
    let d = s
        .data("{ groups(first: 1) { pageInfo { endCursor } } }", json!({}))
        .await;
    let msg = s
        .error(
            "query($c: String) { people(after: $c) { nodes { id } } }",
            json!({"c": d["groups"]["pageInfo"]["endCursor"]}),
        )
        .await;
    assert!(msg.contains("invalid cursor"), "{msg}");
    let d = s
        .data(
            "{ people(first: 0) { nodes { id } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["people"]["nodes"], json!([]));
    assert_eq!(d["people"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn fan_out_is_bounded_by_the_complexity_limit() {
    let s = Server::start().await;
    let msg = s
        .error(
            "{ people(first: 1000) { nodes { groups(first: 1000) { nodes { members(first: 1000) { nodes { id } } } } } } }",
            json!({}),
        )
        .await;
    assert!(msg.to_lowercase().contains("complex"), "{msg}");
}
