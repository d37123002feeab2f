//! The manager hierarchy: manager, managerChain (nearest first), directReports with paging.

use serde_json::json;

use super::{Server, ids};

#[tokio::test]
async fn manager_and_chain_nearest_first() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ person(id: "00u3") { manager { id } managerChain { id login } } 
                 top: person(id: "00u1") { manager { id } managerChain { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["person"]["manager"]["id"], "00u2");
    assert_eq!(ids(&d["person"]["managerChain"]), ["00u2", "00u1"]);
    assert!(d["top"]["manager"].is_null());
    assert_eq!(d["top"]["managerChain"], json!([]));
}

#[tokio::test]
async fn direct_reports_page_through() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ person(id: "00u2") { directReports { totalCount nodes { id } } } }"#,
            json!({}),
        )
        .await;
    let r = &d["person"]["directReports"];
    assert_eq!(ids(&r["nodes"]), ["00u3", "00u4", "00u5"]);
    assert_eq!(r["totalCount"], 3);

    let q = r#"query($after: String) { person(id: "00u2") {
        directReports(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"#;
    let d = s.data(q, json!({})).await;
    let page = &d["person"]["directReports"];
    assert_eq!(ids(&page["nodes"]), ["00u3", "00u4"]);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let d = s
        .data(q, json!({"after": page["pageInfo"]["endCursor"]}))
        .await;
    let page = &d["person"]["directReports"];
    assert_eq!(ids(&page["nodes"]), ["00u5"]);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn reports_of_reports_fan_out() {
    let s = Server::start().await;
    let d = s
        .data(
            r#"{ person(id: "00u1") { directReports { nodes { id manager { id }
                 directReports { nodes { id managerChain { id } } } } } } }"#,
            json!({}),
        )
        .await;
    let vp = &d["person"]["directReports"]["nodes"][0];
    assert_eq!(vp["id"], "00u2");
    assert_eq!(vp["manager"]["id"], "00u1");
    let reports = &vp["directReports"]["nodes"];
    assert_eq!(ids(reports), ["00u3", "00u4", "00u5"]);
    assert_eq!(ids(&reports[2]["managerChain"]), ["00u2", "00u1"]);
}
