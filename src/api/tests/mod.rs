//! API tests over real HTTP: a small org in a temporary store, served by `router()` on a loopback
//! port, queried with reqwest. Fixtures and helpers live here; each file tests one concern.

mod access;
mod assets;
mod graphql_http;
mod health;
mod hierarchy;
mod limits;
mod lists;
mod lookups;
mod schema_file;
mod scim;
mod search;
mod web;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::model::{Group, Person};
use crate::store::{Op, Store};

/// The default request time limit of the fixture servers: far beyond any of their answers, so
/// a loaded machine never turns a slow answer into TIMEOUT (or, through the cancelled scan
/// budget, TOO_COSTLY); the time-limit tests set their own.
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A running server over a fixture store.
pub(super) struct Server {
    pub url: String,
    pub store: Store,
    pub client: reqwest::Client,
    _dir: TempDir,
}

/// A raw HTTP answer.
pub(super) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

fn person(id: &str, login: &str, status: &str, manager: Option<&str>, extra: Value) -> Op {
    let mut profile = json!({"login": login, "email": login, "firstName": id, "lastName": "Test"});
    if let (Some(p), Some(e)) = (profile.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let raw = json!({"id": id, "status": status, "created": "2024-01-02T03:04:05.000Z",
        "lastUpdated": "2024-02-03T04:05:06.000Z", "profile": profile});
    // `badgeColour` is an extended attribute: a typed field every reading role sees.
    let map = crate::model::AttributeMap::parse(&Default::default(), &["badgeColour".into()])
        .expect("a valid mapping");
    let mut person = Person::from_okta(&raw, &map).expect("valid user");
    person.manager_id = manager.map(str::to_owned);
    Op::PutPerson {
        person: Box::new(person),
        raw: (&raw).into(),
    }
}

fn group(id: &str, name: &str, ty: &str) -> Op {
    let raw = json!({"id": id, "type": ty, "created": "2023-01-01T00:00:00.000Z",
        "profile": {"name": name, "description": format!("{name} group"), "custom": 7}});
    Op::PutGroup {
        group: Group::from_okta(&raw).expect("valid group"),
        raw: (&raw).into(),
    }
}

fn member(group_id: &str, user_id: &str) -> Op {
    Op::AddMember {
        group_id: group_id.into(),
        user_id: user_id.into(),
    }
}

/// The fixture org: 00u1 (CEO) ← 00u2 (VP) ← 00u3, 00u4 (suspended), 00u5 (deprovisioned);
/// 00u6 staged with no manager. Groups: 00g1 Engineering (2,3,4,5), 00g2 Everyone (all),
/// 00g3 Salesforce Users (1, app group).
fn fixture_ops() -> Vec<Op> {
    let eng = |t: &str| json!({"department": "Engineering", "title": t});
    let mut ops = vec![
        person(
            "00u1",
            "ceo@example.com",
            "ACTIVE",
            None,
            json!({"employeeNumber": "1001", "displayName": "Cara Chief", "department": "Exec",
                "city": "Paris", "countryCode": "FR", "badgeColour": "gold"}),
        ),
        person("00u2", "vp@example.com", "ACTIVE", Some("00u1"), eng("VP")),
        person(
            "00u3",
            "eng1@example.com",
            "ACTIVE",
            Some("00u2"),
            json!({"department": "Engineering", "title": "Engineer", "employeeNumber": "1003",
                "city": "Berlin", "countryCode": "DE"}),
        ),
        person(
            "00u4",
            "eng2@example.com",
            "SUSPENDED",
            Some("00u2"),
            eng("Engineer"),
        ),
        person(
            "00u5",
            "gone@example.com",
            "DEPROVISIONED",
            Some("00u2"),
            eng("Engineer"),
        ),
        person("00u6", "new@example.com", "STAGED", None, json!({})),
        group("00g1", "Engineering", "OKTA_GROUP"),
        group("00g2", "Everyone", "BUILT_IN"),
        group("00g3", "Salesforce Users", "APP_GROUP"),
    ];
    for u in ["00u2", "00u3", "00u4", "00u5"] {
        ops.push(member("00g1", u));
    }
    for u in ["00u1", "00u2", "00u3", "00u4", "00u5", "00u6"] {
        ops.push(member("00g2", u));
    }
    ops.push(member("00g3", "00u1"));
    ops
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(None, crate::access::Policy::default(), DEFAULT_TIMEOUT).await
    }

    /// A server whose GraphQL requests may run at most `request_timeout`.
    pub async fn with_timeout(request_timeout: std::time::Duration) -> Server {
        Server::start_with(None, crate::access::Policy::default(), request_timeout).await
    }

    /// A server with a keys file holding one key of `role`, which every request sends (as an
    /// app holding that key would), under `policy`.
    pub async fn start_as(role: crate::access::Role, policy: crate::access::Policy) -> Server {
        Server::start_with(Some(role), policy, DEFAULT_TIMEOUT).await
    }

    async fn start_with(
        role: Option<crate::access::Role>,
        policy: crate::access::Policy,
        request_timeout: std::time::Duration,
    ) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open store");
        store.apply(&fixture_ops(), &[]).expect("apply fixture");
        let index = crate::search::Index::open(
            &dir.path().join("search"),
            crate::search::IndexOptions::default(),
        )
        .expect("open index");
        index.catch_up(&store).expect("index fixture");
        let state = super::ApiState {
            mirror: crate::access::Mirror::new(
                store.clone(),
                Some(std::sync::Arc::new(index)),
                policy,
            ),
            control: None,
            hook: None,
            provisioning: None,
            request_timeout,
            max_staleness: None,
            stop: None,
            web: Default::default(),
        };
        let mut client = reqwest::Client::builder();
        let app = match role {
            None => super::router(state),
            Some(role) => {
                let file = dir.path().join("keys");
                let (key, _) = crate::access::keys::create(&file, &format!("{role}-app"), role)
                    .expect("create a key");
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", key.expose()).parse().expect("header"),
                );
                client = client.default_headers(headers);
                let ring = crate::access::KeyRing::load(&file).expect("load keys");
                super::router_with_access(
                    state,
                    super::Access {
                        keys: Some(std::sync::Arc::new(ring)),
                        rate_limit: None,
                        sign_in: None,
                    },
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Server {
            url: format!("http://{addr}"),
            store,
            client: client.build().expect("client"),
            _dir: dir,
        }
    }

    /// Sends a request to `path` and reads the whole answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.text().await.expect("body");
        Answer {
            status,
            content_type,
            body,
        }
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.url))
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.url))
    }

    /// POSTs a query with variables and returns the whole JSON response (status must be 200).
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let a = self
            .send(
                self.post("/graphql")
                    .header("content-type", "application/json")
                    .body(json!({"query": query, "variables": variables}).to_string()),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()
    }

    /// Like `query`, but asserts there are no errors and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let r = self.query(query, variables).await;
        assert!(r.get("errors").is_none(), "unexpected errors: {r}");
        r["data"].clone()
    }

    /// Like `query`, but asserts there are errors and returns the first message.
    pub async fn error(&self, query: &str, variables: Value) -> String {
        let r = self.query(query, variables).await;
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {r}"))
            .to_owned()
    }
}

/// The `id`s of a list of nodes.
pub(super) fn ids(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .expect("array")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}
