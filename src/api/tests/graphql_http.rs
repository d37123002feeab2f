//! GraphQL over HTTP: content negotiation, GET queries, GraphiQL, status codes for bad bodies,
//! request errors and mutations over GET, and the standard introspection query under the limits.

use serde_json::json;

use super::Server;

const TYPENAME: &str = r#"{"query":"{ __typename }"}"#;

fn post(
    s: &Server,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> reqwest::RequestBuilder {
    let mut r = s.post("/graphql").body(body.to_owned());
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    if let Some(c) = content_type {
        r = r.header("content-type", c);
    }
    r
}

fn get_url(s: &Server, params: &[(&str, &str)]) -> url::Url {
    url::Url::parse_with_params(&format!("{}/graphql", s.url), params).expect("url")
}

#[tokio::test]
async fn response_type_follows_accept() {
    let s = Server::start().await;
    let json_ct = Some("application/json");
    for (accept, want) in [
        (Some("application/json"), "application/json"),
        (
            Some("application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            "application/graphql-response+json",
        ),
        (Some("*/*"), "application/json"),
        (None, "application/json"),
    ] {
        let a = s.send(post(&s, accept, json_ct, TYPENAME)).await;
        assert_eq!(a.status, 200, "{accept:?}");
        assert!(
            a.content_type.starts_with(want),
            "{accept:?} → {}",
            a.content_type
        );
        assert_eq!(a.json(), json!({"data": {"__typename": "Query"}}));
    }
    let a = s.send(post(&s, Some("text/csv"), json_ct, TYPENAME)).await;
    assert_eq!(a.status, 406);
}

#[tokio::test]
async fn bad_bodies_get_4xx() {
    let s = Server::start().await;
    let grj = Some("application/graphql-response+json");
    let a = s.send(post(&s, None, Some("text/plain"), TYPENAME)).await;
    assert_eq!(a.status, 415);
    let a = s.send(post(&s, None, None, TYPENAME)).await;
    assert_eq!(a.status, 415);
    let a = s
        .send(post(
            &s,
            None,
            Some("application/json; charset=utf-8"),
            TYPENAME,
        ))
        .await;
    assert_eq!(a.status, 200);
    for accept in [grj, Some("application/json")] {
        let a = s
            .send(post(
                &s,
                accept,
                Some("application/json"),
                r#"{ "not a JSON"#,
            ))
            .await;
        assert_eq!(a.status, 400, "{accept:?}");
        assert!(a.json()["errors"][0]["message"].is_string());
        let a = s.send(post(&s, accept, Some("application/json"), "")).await;
        assert_eq!(a.status, 400);
        assert!(a.json()["errors"].is_array());
    }
    // Invalid parameters: 400 for graphql-response+json, 200 with errors for application/json.
    for (accept, status) in [(grj, 400), (Some("application/json"), 200)] {
        for body in [
            json!({"qeury": "{ __typename }"}),
            json!({"query": 0}),
            json!({"query": "{ __typename }", "variables": "x"}),
            json!({"query": "{ __typename }", "operationName": false}),
        ] {
            let a = s
                .send(post(
                    &s,
                    accept,
                    Some("application/json"),
                    &body.to_string(),
                ))
                .await;
            assert_eq!(a.status, status, "{accept:?} {body}");
            let r = a.json();
            assert!(r["errors"].is_array() && r.get("data").is_none(), "{r}");
        }
    }
}

#[tokio::test]
async fn request_errors_have_no_data() {
    let s = Server::start().await;
    for (accept, status) in [
        ("application/graphql-response+json", 400),
        ("application/json", 200),
    ] {
        for query in ["{", "{ noSuchField }"] {
            let body = json!({ "query": query }).to_string();
            let a = s
                .send(post(&s, Some(accept), Some("application/json"), &body))
                .await;
            assert_eq!(a.status, status, "{accept} {query}");
            let r = a.json();
            assert!(r["errors"].is_array() && r.get("data").is_none(), "{r}");
        }
    }
    // A field error keeps data (and a 200) even for graphql-response+json.
    let body = json!({"query": "{ __typename person { id } }"}).to_string();
    let a = s
        .send(post(
            &s,
            Some("application/graphql-response+json"),
            Some("application/json"),
            &body,
        ))
        .await;
    assert_eq!(a.status, 200);
    let r = a.json();
    assert!(r["data"].is_object() && r["errors"].is_array(), "{r}");
}

#[tokio::test]
async fn get_runs_queries_refuses_mutations_and_serves_graphiql() {
    let s = Server::start().await;
    let a = s
        .send(s.client.get(get_url(
            &s,
            &[
                ("query", "query Q($l: String) { person(login: $l) { id } }"),
                ("variables", r#"{"l": "vp@example.com"}"#),
                ("operationName", "Q"),
            ],
        )))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["data"]["person"]["id"], "00u2");

    let a = s
        .send(
            s.client
                .get(get_url(&s, &[("query", "mutation { __typename }")]))
                .header("accept", "application/graphql-response+json"),
        )
        .await;
    assert_eq!(a.status, 405);

    let a = s
        .send(
            s.get("/graphql")
                .header("accept", "text/html,application/xhtml+xml"),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("text/html"));
    assert!(a.body.to_lowercase().contains("graphiql"));

    let a = s.send(s.client.put(format!("{}/graphql", s.url))).await;
    assert_eq!(a.status, 405);
}

/// graphql-js's `getIntrospectionQuery()` (with the deepest type reference it emits) must pass
/// the depth and complexity limits: the conformance tools start with it.
#[tokio::test]
async fn standard_introspection_passes_the_limits() {
    let s = Server::start().await;
    let q = r#"query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}"#;
    let d = s.data(q, json!({})).await;
    let types = d["__schema"]["types"].as_array().expect("types");
    for name in [
        "Person",
        "Group",
        "PersonConnection",
        "SyncStatus",
        "UserStatus",
        "JSON",
    ] {
        assert!(types.iter().any(|t| t["name"] == name), "{name}");
    }
}
