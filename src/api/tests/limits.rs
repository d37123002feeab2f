//! The request edge's bounds: the search cursor of the report (offset 10^12), body size, query
//! length and nesting, variables, aliases, root fields, fields through fragments, and the time
//! limit; each refusal names its limit, and the server keeps serving.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Server;
use crate::api::limits::{
    MAX_ALIASES, MAX_BODY_BYTES, MAX_FIELDS, MAX_QUERY_BYTES, MAX_ROOT_FIELDS, MAX_VARIABLES_BYTES,
};

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs a raw body with `accept`; returns the status and the JSON answer.
async fn post(s: &Server, accept: &str, body: String) -> (u16, Value) {
    let a = s
        .send(
            s.post("/graphql")
                .header("content-type", JSON)
                .header("accept", accept)
                .body(body),
        )
        .await;
    let v = serde_json::from_str(&a.body)
        .unwrap_or_else(|e| panic!("status {}: not JSON ({e}): {}", a.status, a.body));
    (a.status, v)
}

/// POSTs `query` as application/graphql-response+json and expects a request error (400, no
/// `data`) with `code`; returns its message.
async fn refused(s: &Server, query: &str, variables: Value, code: &str) -> String {
    let (status, v) = post(
        s,
        GRAPHQL_RESPONSE,
        json!({"query": query, "variables": variables}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], code, "{v}");
    v["errors"][0]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

async fn still_up(s: &Server) {
    let a = s.send(s.get("/healthz")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        s.data("{ people(first: 1) { totalCount } }", json!({}))
            .await["people"]["totalCount"],
        5
    );
}

#[tokio::test]
async fn the_reported_search_cursor_is_refused_and_the_server_stays_up() {
    let s = Server::start().await;
    let q = r#"{ search(query: "an", first: 5, after: "c2VhcmNoOjEwMDAwMDAwMDAwMDA") { totalCount edges { cursor } } }"#;
    let r = s.query(q, json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    let msg = r["errors"][0]["message"].as_str().expect("message");
    assert!(msg.contains("10000 results deep"), "{msg}");
    // The deepest allowed offset still answers (an empty page).
    let deepest =
        crate::api::graphql::cursor::encode(crate::api::graphql::cursor::Kind::Search, "10000");
    let d = s
        .data(
            "query($a: String) { search(query: \"test\", first: 5, after: $a) { edges { cursor } } }",
            json!({"a": deepest}),
        )
        .await;
    assert_eq!(d["search"]["edges"], json!([]));
    for bad in ["", "!!!", "c2VhcmNoOi0x", &"QUFB".repeat(200)] {
        let r = s
            .query(
                "query($a: String) { search(query: \"test\", after: $a) { totalCount } people(after: $a) { totalCount } }",
                json!({"a": bad}),
            )
            .await;
        let errors = r["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 2, "{r}");
        assert!(
            errors
                .iter()
                .all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"),
            "{r}"
        );
    }
    still_up(&s).await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_with_a_json_error() {
    let s = Server::start().await;
    let big = json!({"query": "{ __typename }", "variables": {"x": "y".repeat(MAX_BODY_BYTES)}})
        .to_string();
    for accept in [JSON, GRAPHQL_RESPONSE] {
        let (status, v) = post(&s, accept, big.clone()).await;
        assert_eq!(status, 413, "{v}");
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "{v}"
        );
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("256 KiB")),
            "{v}"
        );
    }
    still_up(&s).await;
}

#[tokio::test]
async fn long_or_deep_queries_and_big_variables_are_refused_before_parsing() {
    let s = Server::start().await;
    let long = format!("{{ __typename }} # {}", "x".repeat(MAX_QUERY_BYTES));
    let m = refused(&s, &long, json!({}), "LIMIT_EXCEEDED").await;
    assert!(m.contains("bytes long") && m.contains("32768"), "{m}");
    // Over GET too; application/json answers 200 with the error.
    let url = url::Url::parse_with_params(&format!("{}/graphql", s.url), [("query", &long)])
        .expect("url");
    let a = s.send(s.client.get(url).header("accept", JSON)).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );

    let deep = format!("{}{}", "{ a ".repeat(5_000), "}".repeat(5_000));
    let m = refused(&s, &deep, json!({}), "LIMIT_EXCEEDED").await;
    assert!(m.contains("nests brackets 5000 levels"), "{m}");

    let m = refused(
        &s,
        "query($q: String!) { search(query: $q) { totalCount } }",
        json!({"q": "x".repeat(MAX_VARIABLES_BYTES)}),
        "LIMIT_EXCEEDED",
    )
    .await;
    assert!(m.contains("variables"), "{m}");
    // A long search string within the body limits is still refused by search itself.
    let r = s
        .query(
            "query($q: String!) { search(query: $q) { totalCount } }",
            json!({"q": "ab ".repeat(1_000)}),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    still_up(&s).await;
}

#[tokio::test]
async fn too_many_aliases_root_fields_or_fields_are_refused() {
    let s = Server::start().await;
    // The report: 3,000 aliases of a count; refused at once instead of running for seconds
    // (its text alone is over the length limit).
    let aliases = |n: usize| -> String {
        let fields: String = (0..n)
            .map(|i| format!(" a{i}: people(first: 1) {{ totalCount }}"))
            .collect();
        format!("{{{fields} }}")
    };
    let t = Instant::now();
    let m = refused(&s, &aliases(3_000), json!({}), "LIMIT_EXCEEDED").await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(m.contains("bytes long"), "{m}");
    let m = refused(&s, &aliases(MAX_ALIASES + 1), json!({}), "LIMIT_EXCEEDED").await;
    let want = format!("{} aliases; at most {MAX_ALIASES}", MAX_ALIASES + 1);
    assert!(m.contains(&want), "{m}");
    // Just at the limit passes.
    let ok: String = (0..MAX_ROOT_FIELDS)
        .map(|i| format!(" a{i}: __typename"))
        .collect();
    s.data(&format!("{{{ok} }}"), json!({})).await;

    let roots = " __typename".repeat(MAX_ROOT_FIELDS + 1);
    let m = refused(&s, &format!("{{{roots} }}"), json!({}), "LIMIT_EXCEEDED").await;
    assert!(m.contains("root fields"), "{m}");

    // Fields through nested fragments: F spreads G twice under different fields.
    let ids = " id".repeat(MAX_FIELDS / 4);
    let q = format!(
        "{{ people(first: 1) {{ nodes {{ ...F }} }} }} fragment F on Person {{ manager {{ ...G }} directReports {{ nodes {{ ...G }} }} groups {{ nodes {{ id }} }} ...G ...G }} fragment G on Person {{{ids} }}"
    );
    let m = refused(&s, &q, json!({}), "LIMIT_EXCEEDED").await;
    assert!(
        m.contains("fields") && m.contains(&format!("at most {MAX_FIELDS}")),
        "{m}"
    );

    // Fragment cycles are left to validation, which names them.
    let r = s
        .query(
            "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }",
            json!({}),
        )
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cycle") || m.contains("recurs") || m.contains("itself")),
        "{r}"
    );
    still_up(&s).await;
}

#[tokio::test]
async fn the_time_limit_ends_a_request_with_timeout() {
    // With no time at all, the first field already finds the deadline passed (the schema
    // extension), whatever the resolvers do.
    let s = Server::with_timeout(Duration::ZERO).await;
    let (status, v) = post(
        &s,
        JSON,
        json!({"query": "{ people { totalCount nodes { id } } }"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], "TIMEOUT", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("time limit (0 ms)")),
        "{v}"
    );
    let (status, v) = post(
        &s,
        GRAPHQL_RESPONSE,
        json!({"query": "{ people { totalCount } }"}).to_string(),
    )
    .await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], "TIMEOUT", "{v}");
    assert_eq!(s.send(s.get("/healthz")).await.status, 200);

    // With 1 ms, a query that waits on DataLoader batches (each waits ~1 ms to gather keys)
    // ends at the limit.
    let s = Server::with_timeout(Duration::from_millis(1)).await;
    let q =
        "{ people { nodes { manager { manager { manager { id } } } groups { nodes { id } } } } }";
    let t = Instant::now();
    let (status, v) = post(&s, JSON, json!({"query": q}).to_string()).await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], "TIMEOUT", "{v}");
    assert_eq!(s.send(s.get("/healthz")).await.status, 200);

    // The default (10 s) leaves ordinary requests alone.
    let s = Server::start().await;
    s.data(q, json!({})).await;
}
