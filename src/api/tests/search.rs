//! `search`, `reports`, `orgChart`, `commonManager` and departments over the fixture org.

use serde_json::json;

use super::{Server, ids};

#[tokio::test]
async fn search_ranks_highlights_and_counts_facets() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ search(query: "cara chef", first: 5) { totalCount
                 edges { score node { id } highlights { field value ranges { start end } } }
                 facets { department { value count } city { value count } } } }"#,
            json!({}),
        )
        .await;
    let r = &d["search"];
    assert_eq!(r["totalCount"], 1);
    let edge = &r["edges"][0];
    assert_eq!(edge["node"]["id"], "00u1");
    assert_eq!(edge["highlights"][0]["field"], "displayName");
    assert_eq!(edge["highlights"][0]["value"], "Cara Chief");
    assert_eq!(
        edge["highlights"][0]["ranges"],
        json!([{"start": 0, "end": 4}, {"start": 5, "end": 10}])
    );
    assert_eq!(r["facets"]["city"], json!([{"value": "Paris", "count": 1}]));
}

#[tokio::test]
async fn search_filters_pages_and_refuses_blank_queries() {
    let s = Server::start().await;
    let q = r#"query($after: String) { search(query: "engineer*", first: 2, after: $after,
        filter: {status: [ACTIVE, SUSPENDED]}) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }"#;
    let d = s.data(q, json!({})).await;
    assert_eq!(
        d["search"]["totalCount"], 3,
        "the title or the department matches"
    );
    assert_eq!(d["search"]["pageInfo"]["hasNextPage"], true);
    let first = ids(&d["search"]["nodes"]);
    let d = s
        .data(q, json!({"after": d["search"]["pageInfo"]["endCursor"]}))
        .await;
    let second = ids(&d["search"]["nodes"]);
    assert_eq!(d["search"]["pageInfo"]["hasNextPage"], false);
    let mut both = [first, second].concat();
    both.sort();
    assert_eq!(
        both,
        ["00u2", "00u3", "00u4"],
        "the deprovisioned 00u5 is filtered out"
    );

    let e = s
        .error(r#"{ search(query: "   ") { totalCount } }"#, json!({}))
        .await;
    assert!(e.contains("query is empty"), "{e}");
    let d = s
        .data(
            r#"{ search(query: "\"(+title:*) AND OR") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert!(d["search"]["totalCount"].is_number());
    let e = s
        .error(
            r#"{ search(query: "x", first: 1001) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert!(e.contains("first must be between 0 and 1000"), "{e}");
}

#[tokio::test]
async fn org_queries_follow_the_fixture_hierarchy() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ ceo: person(id: "00u1") { reports { totalCount nodes { id } }
                   one: reports(depth: 1) { totalCount } }
                 orgChart(rootId: "00u1", depth: 1) { directReportCount reportCount
                   reports { person { id } directReportCount reports { person { id } } } }
                 commonManager(a: "00u3", b: "00u4") { id }
                 department(name: "ENGINEERING") { name kind headcount head { id }
                   members { totalCount } managers { nodes { id } } }
                 departments { name headcount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["ceo"]["reports"]["totalCount"], 4);
    assert_eq!(
        ids(&d["ceo"]["reports"]["nodes"]),
        ["00u2", "00u3", "00u4", "00u5"]
    );
    assert_eq!(d["ceo"]["one"]["totalCount"], 1);
    let chart = &d["orgChart"];
    assert_eq!(chart["directReportCount"], 1);
    assert_eq!(chart["reportCount"], 4);
    assert_eq!(chart["reports"][0]["person"]["id"], "00u2");
    assert_eq!(chart["reports"][0]["directReportCount"], 3);
    assert_eq!(chart["reports"][0]["reports"], json!([]));
    assert_eq!(d["commonManager"]["id"], "00u2");
    let eng = &d["department"];
    assert_eq!(eng["name"], "Engineering");
    assert_eq!(eng["kind"], "DEPARTMENT");
    assert_eq!(eng["headcount"], 3, "deprovisioned people are not members");
    assert_eq!(eng["head"]["id"], "00u2");
    assert_eq!(ids(&eng["managers"]["nodes"]), ["00u2"]);
    assert_eq!(
        d["departments"],
        json!([{"name": "Engineering", "headcount": 3}, {"name": "Exec", "headcount": 1}])
    );

    let e = s
        .error(
            r#"{ orgChart(rootId: "00u1", depth: 17) { directReportCount } }"#,
            json!({}),
        )
        .await;
    assert!(e.contains("depth must be between 0 and 16"), "{e}");
    let e = s
        .error(
            r#"{ person(id: "00u1") { reports(depth: 0) { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert!(e.contains("depth must be at least 1"), "{e}");
}
