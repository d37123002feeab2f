//! The SCIM push client against a tiny in-test SCIM receiver that records every request:
//! Okta's request shapes for provisioning and for each kind of change, retries after 503 and
//! 429, and the token kept out of errors and `Debug`. Expected values come from the org.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ScimPushOptions, SimOptions, Simulator};

const KEY: &str = "om_push-test-key-0123456789abcdef";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    auth: String,
    agent: String,
    body: Value,
}

#[derive(Default)]
struct Receiver {
    seen: Vec<Seen>,
    /// login (lower-cased) → SCIM id.
    users: BTreeMap<String, String>,
    next: u64,
    /// Answers to give the next POST /Users before serving it: 503, then 429.
    faults: Vec<u16>,
    /// Answer 401 to everything.
    refuse: bool,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(
    State(r): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut r = r.lock().expect("receiver");
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.clone(),
        auth: header("authorization"),
        agent: header("user-agent"),
        body: body.clone(),
    });
    if r.refuse {
        return (StatusCode::UNAUTHORIZED, r#"{"detail":"no"}"#).into_response();
    }
    let json = |status: StatusCode, v: Value| (status, v.to_string()).into_response();
    let path = uri.path().trim_start_matches("/scim/v2");
    match (method.as_str(), path) {
        ("GET", "/Users") => {
            let login = query
                .get("filter")
                .and_then(|f| f.strip_prefix("userName eq \""))
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or_default()
                .to_lowercase();
            let found: Vec<Value> = r
                .users
                .get(&login)
                .map(|id| json!({"id": id}))
                .into_iter()
                .collect();
            json(
                StatusCode::OK,
                json!({"totalResults": found.len(), "Resources": found}),
            )
        }
        ("POST", "/Users") => {
            if !r.faults.is_empty() {
                let status = r.faults.remove(0);
                return (
                    StatusCode::from_u16(status).expect("status"),
                    [("retry-after", "0")],
                    "{}",
                )
                    .into_response();
            }
            let login = body["userName"].as_str().unwrap_or_default().to_lowercase();
            if r.users.contains_key(&login) {
                return json(StatusCode::CONFLICT, json!({"detail": "exists"}));
            }
            r.next += 1;
            let id = format!("u-{}", r.next);
            r.users.insert(login, id.clone());
            json(StatusCode::CREATED, json!({"id": id}))
        }
        ("POST", "/Groups") => {
            r.next += 1;
            json(StatusCode::CREATED, json!({"id": format!("g-{}", r.next)}))
        }
        ("PATCH", p) if p.starts_with("/Users/") => json(StatusCode::OK, json!({"id": &p[7..]})),
        ("PATCH" | "DELETE", p) if p.starts_with("/Groups/") => {
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_receiver(faults: Vec<u16>, refuse: bool) -> (Shared, String) {
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        faults,
        refuse,
        ..Receiver::default()
    }));
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (shared, format!("http://{addr}/scim/v2"))
}

fn seen(r: &Shared) -> Vec<Seen> {
    r.lock().expect("receiver").seen.clone()
}

fn sim() -> Simulator {
    Simulator::new(SimOptions {
        users: 40,
        groups: Some(4),
        seed: 5,
        token: "sim-token".into(),
    })
}

fn options(url: &str) -> ScimPushOptions {
    let mut o = ScimPushOptions::new(url, KEY);
    o.retry_base = Duration::from_millis(1);
    o
}

fn text(u: &Value, k: &str) -> Option<String> {
    u["profile"][k]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

#[tokio::test]
async fn provisions_the_org_with_oktas_request_shapes_and_retries() {
    let sim = sim();
    let (rec, url) = start_receiver(vec![503, 429], false).await;
    let push = sim.scim_push(options(&url));
    push.provision().await.expect("provision");
    let requests = seen(&rec);
    for s in &requests {
        assert_eq!(s.auth, format!("Bearer {KEY}"), "{} {}", s.method, s.path);
        assert_eq!(s.agent, "Okta SCIM Client 1.0.0");
    }

    let users = sim.users();
    let assigned: Vec<&Value> = users
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .collect();
    assert!(
        assigned.len() < users.len(),
        "the org has deprovisioned people"
    );
    let posts: Vec<(usize, &Seen)> = requests
        .iter()
        .enumerate()
        .filter(|(_, s)| s.method == "POST" && s.path == "/scim/v2/Users")
        .collect();
    assert_eq!(
        posts.len(),
        assigned.len() + 2,
        "two tries answered 503 and 429"
    );
    assert_eq!(push.counts().retries, 2);
    assert_eq!(push.counts().users_created, assigned.len() as u64);
    for u in &assigned {
        let login = text(u, "login").expect("login");
        let lookup = requests
            .iter()
            .position(|s| {
                s.method == "GET"
                    && s.path == "/scim/v2/Users"
                    && s.query.get("filter") == Some(&format!("userName eq \"{login}\""))
                    && s.query.get("startIndex").map(String::as_str) == Some("1")
                    && s.query.get("count").map(String::as_str) == Some("100")
            })
            .unwrap_or_else(|| panic!("no userName lookup for {login}"));
        let (at, post) = posts
            .iter()
            .rev()
            .find(|(_, s)| s.body["userName"] == login.as_str())
            .unwrap_or_else(|| panic!("no POST for {login}"));
        assert!(lookup < *at, "{login}: the lookup comes first");
        let b = &post.body;
        assert_eq!(b["externalId"], u["id"], "{b}");
        assert_eq!(b["active"], true);
        assert_eq!(b["groups"], json!([]));
        assert!(b["password"].as_str().is_some_and(|p| !p.is_empty()));
        let schemas = b["schemas"].as_array().expect("schemas");
        assert!(schemas.contains(&json!("urn:ietf:params:scim:schemas:core:2.0:User")));
        assert!(schemas.contains(&json!(ENT)));
        assert_eq!(
            b["name"]["givenName"].as_str().map(str::to_owned),
            text(u, "firstName")
        );
        assert_eq!(
            b["name"]["familyName"].as_str().map(str::to_owned),
            text(u, "lastName")
        );
        assert_eq!(
            b["emails"][0],
            json!({"primary": true, "value": text(u, "email"), "type": "work"})
        );
        assert_eq!(
            b[ENT]["department"].as_str().map(str::to_owned),
            text(u, "department")
        );
        assert_eq!(
            b[ENT]["manager"]["value"].as_str().map(str::to_owned),
            text(u, "managerId"),
            "Okta sends managerId untranslated"
        );
    }

    // Group Push: each Okta group created empty, then its assigned members added.
    let scim_of: BTreeMap<String, String> = {
        let r = rec.lock().expect("receiver");
        let by_login = r.users.clone();
        drop(r);
        assigned
            .iter()
            .map(|u| {
                let login = text(u, "login").expect("login").to_lowercase();
                (
                    u["id"].as_str().expect("id").to_owned(),
                    by_login[&login].clone(),
                )
            })
            .collect()
    };
    let okta_groups: Vec<Value> = sim
        .groups()
        .into_iter()
        .filter(|g| g["type"] == "OKTA_GROUP")
        .collect();
    let group_posts: Vec<&Seen> = requests
        .iter()
        .filter(|s| s.method == "POST" && s.path == "/scim/v2/Groups")
        .collect();
    assert_eq!(group_posts.len(), okta_groups.len());
    for g in &okta_groups {
        let name = &g["profile"]["name"];
        assert!(
            group_posts.iter().any(|s| s.body
                == json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                          "displayName": name, "members": []})),
            "no POST /Groups for {name}"
        );
    }
    let added: BTreeSet<String> = requests
        .iter()
        .filter(|s| s.method == "PATCH" && s.path.starts_with("/scim/v2/Groups/"))
        .flat_map(|s| s.body["Operations"].as_array().cloned().unwrap_or_default())
        .filter(|op| op["op"] == "add" && op["path"] == "members")
        .flat_map(|op| op["value"].as_array().cloned().unwrap_or_default())
        .map(|m| m["value"].as_str().expect("value").to_owned())
        .collect();
    let want: BTreeSet<String> = okta_groups
        .iter()
        .flat_map(|g| sim.group_members(g["id"].as_str().expect("id")))
        .filter_map(|m| scim_of.get(&m).cloned())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(added, want, "members are the SCIM ids of assigned members");
}

#[tokio::test]
async fn pushes_each_kind_of_change_as_okta_does() {
    let sim = sim();
    let (rec, url) = start_receiver(Vec::new(), false).await;
    let push = sim.scim_push(options(&url));
    push.provision().await.expect("provision");
    assert_eq!(push.push_changes().await.expect("nothing yet"), 0);

    let active: Vec<String> = sim
        .users()
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| u["id"].as_str().expect("id").to_owned())
        .collect();
    let groups: Vec<String> = sim
        .groups()
        .iter()
        .filter(|g| g["type"] == "OKTA_GROUP")
        .map(|g| g["id"].as_str().expect("id").to_owned())
        .collect();
    let g = &groups[0];
    let members = sim.group_members(g);
    let leaver = active
        .iter()
        .find(|u| members.contains(u))
        .expect("an active member")
        .clone();
    let joiner = active
        .iter()
        .find(|u| !members.contains(u))
        .expect("an active non-member")
        .clone();
    let others: Vec<&String> = active
        .iter()
        .filter(|u| **u != leaver && **u != joiner)
        .collect();
    let (edited, deactivated) = (others[0].clone(), others[1].clone());
    let mark = seen(&rec).len();

    let mut title = Map::new();
    title.insert("title".into(), json!("Chief Pusher"));
    assert!(sim.update_profile(&edited, title));
    assert!(sim.deactivate_user(&deactivated));
    assert!(sim.add_member(g, &joiner));
    assert!(sim.remove_member(g, &leaver));
    assert!(sim.rename_group(&groups[1], "Renamed by the test"));
    assert!(sim.delete_group(&groups[2]));
    assert!(push.push_changes().await.expect("push") > 0);

    let after: Vec<Seen> = seen(&rec).split_off(mark);
    let scim = |okta: &str| {
        let push = push.clone();
        let okta = okta.to_owned();
        async move { push.scim_user_id(&okta).await.expect("pushed") }
    };
    let patches_of = |path: String| -> Vec<Value> {
        after
            .iter()
            .filter(|s| s.method == "PATCH" && s.path == path)
            .flat_map(|s| {
                assert_eq!(
                    s.body["schemas"][0],
                    "urn:ietf:params:scim:api:messages:2.0:PatchOp"
                );
                s.body["Operations"].as_array().cloned().unwrap_or_default()
            })
            .collect()
    };
    let ops = patches_of(format!("/scim/v2/Users/{}", scim(&edited).await));
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0]["op"], "replace");
    assert!(ops[0].get("path").is_none(), "no path: a value object");
    assert_eq!(ops[0]["value"]["title"], "Chief Pusher");
    assert_eq!(ops[0]["value"]["active"], true);
    let ops = patches_of(format!("/scim/v2/Users/{}", scim(&deactivated).await));
    assert_eq!(
        ops,
        vec![json!({"op": "replace", "value": {"active": false}})]
    );

    let ops: Vec<Value> = after
        .iter()
        .filter(|s| s.method == "PATCH" && s.path.starts_with("/scim/v2/Groups/"))
        .flat_map(|s| s.body["Operations"].as_array().cloned().unwrap_or_default())
        .collect();
    let joiner_scim = scim(&joiner).await;
    let leaver_scim = scim(&leaver).await;
    assert!(
        ops.iter().any(|op| op["op"] == "add"
            && op["path"] == "members"
            && op["value"]
                .as_array()
                .is_some_and(|v| v.iter().any(|m| m["value"] == joiner_scim.as_str()))),
        "{ops:?}"
    );
    assert!(
        ops.contains(&json!({"op": "remove",
                             "path": format!("members[value eq \"{leaver_scim}\"]")})),
        "{ops:?}"
    );
    assert!(
        ops.iter().any(|op| op["op"] == "replace"
            && op["value"]["displayName"] == "Renamed by the test"
            && op["value"]["id"].is_string()),
        "{ops:?}"
    );
    let deletes: Vec<&Seen> = after.iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].path.starts_with("/scim/v2/Groups/"));
    assert!(
        !after
            .iter()
            .any(|s| s.method == "DELETE" && s.path.contains("/Users/")),
        "Okta never deletes users"
    );

    // Nothing changed since: nothing is sent.
    let mark = seen(&rec).len();
    assert_eq!(push.push_changes().await.expect("quiet"), 0);
    assert_eq!(seen(&rec).len(), mark);
}

#[tokio::test]
async fn the_token_stays_out_of_errors_and_debug() {
    let sim = sim();
    let (_rec, url) = start_receiver(Vec::new(), true).await;
    let opts = options(&url);
    assert!(!format!("{opts:?}").contains(KEY));
    let e = sim
        .scim_push(opts)
        .provision()
        .await
        .expect_err("every request is refused");
    assert!(e.to_string().contains("401"), "{e}");
    assert!(!e.to_string().contains(KEY), "{e}");
    // Nothing listens: transport failures, retried, then an error without the token.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = format!("http://{}/scim/v2", listener.local_addr().expect("addr"));
    drop(listener);
    let mut opts = options(&closed);
    opts.max_attempts = 2;
    let push = sim.scim_push(opts);
    let e = push.provision().await.expect_err("nothing listens");
    assert!(!e.to_string().contains(KEY), "{e}");
    assert!(push.counts().retries > 0);
}
