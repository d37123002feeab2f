//! The change feed as downstream apps consume it: paged with the `changes` query, pushed over a
//! graphql-transport-ws subscription, and POSTed by webhooks. Each consumer applies what it is
//! told while the simulator churns and must end holding exactly the simulator's org.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;

use crate::support::{Mutator, TestApp, TestSim, gql, id_of, patch, wait_for};

/// What a downstream app keeps: people (login, title, status), groups (name), memberships,
/// the last cursor it applied, and every cursor it saw (an entry twice fails the test).
#[derive(Default, Debug)]
struct Consumer {
    people: BTreeMap<String, (String, String, String)>,
    groups: BTreeMap<String, String>,
    members: BTreeSet<(String, String)>,
    cursor: Option<String>,
    seen: BTreeSet<String>,
}

/// The fields each consumer asks for.
const ENTRY: &str =
    "cursor kind id fields added removed person { login title status } group { name }";

impl Consumer {
    /// Applies one entry (`person`/`group` absent, as in a webhook: only ids are kept).
    fn apply(&mut self, e: &Value) {
        let cursor = e["cursor"].as_str().expect("cursor").to_owned();
        assert!(self.seen.insert(cursor.clone()), "an entry came twice: {e}");
        self.cursor = Some(cursor);
        let id = e["id"].as_str().expect("id").to_owned();
        match e["kind"].as_str().expect("kind") {
            "PERSON_CREATED" | "PERSON_UPDATED" => match e.get("person") {
                // The record as it is now; null if it left the mirror since (a later entry
                // says so).
                Some(Value::Object(p)) => {
                    let f = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                    self.people
                        .insert(id, (f("login"), f("title"), f("status")));
                }
                Some(_) => {}
                None => {
                    self.people.insert(id, Default::default());
                }
            },
            "PERSON_REMOVED" => {
                self.people.remove(&id);
            }
            "GROUP_CREATED" | "GROUP_UPDATED" => match e.get("group") {
                Some(Value::Object(g)) => {
                    self.groups
                        .insert(id, g["name"].as_str().unwrap_or_default().into());
                }
                Some(_) => {}
                None => {
                    self.groups.insert(id, String::new());
                }
            },
            "GROUP_REMOVED" => {
                self.groups.remove(&id);
                self.members.retain(|(g, _)| *g != id);
            }
            "MEMBERS_CHANGED" => {
                for u in e["added"].as_array().expect("added") {
                    self.members
                        .insert((id.clone(), u.as_str().expect("id").into()));
                }
                for u in e["removed"].as_array().expect("removed") {
                    self.members
                        .remove(&(id.clone(), u.as_str().expect("id").into()));
                }
            }
            other => panic!("unknown kind {other}"),
        }
    }

    /// How a consumer starts: the head cursor, then everything the mirror holds (a first sync
    /// is logged as one initial-load entry, and a pruned log lacks the past anyway); the
    /// entries after the head then re-apply whatever changed while it read.
    async fn bootstrap(&mut self, addr: SocketAddr) {
        const ALL: &str = "[ACTIVE, STAGED, PROVISIONED, RECOVERY, LOCKED_OUT, PASSWORD_EXPIRED, SUSPENDED, DEPROVISIONED, UNKNOWN]";
        let head = gql(addr, "{ changes(first: 1) { headCursor } }", json!({})).await["changes"]
            ["headCursor"]
            .as_str()
            .expect("head")
            .to_owned();
        let mut after: Option<String> = None;
        loop {
            let q = format!(
                "query($a: String) {{ people(first: 500, after: $a, filter: {{status: {ALL}}}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ id login title status }} }} }}"
            );
            let d = gql(addr, &q, json!({ "a": after })).await;
            for p in d["people"]["nodes"].as_array().expect("people") {
                let f = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                self.people
                    .insert(f("id"), (f("login"), f("title"), f("status")));
            }
            let page = &d["people"]["pageInfo"];
            if page["hasNextPage"] != true {
                break;
            }
            after = page["endCursor"].as_str().map(str::to_owned);
        }
        let mut after: Option<String> = None;
        loop {
            let q = format!(
                "query($a: String) {{ groups(first: 10, after: $a) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ id name members(first: 1000, status: {ALL}) {{ pageInfo {{ hasNextPage }} nodes {{ id }} }} }} }} }}"
            );
            let d = gql(addr, &q, json!({ "a": after })).await;
            for g in d["groups"]["nodes"].as_array().expect("groups") {
                let id = g["id"].as_str().expect("id").to_owned();
                assert_eq!(g["members"]["pageInfo"]["hasNextPage"], false, "{g}");
                for m in g["members"]["nodes"].as_array().expect("members") {
                    self.members
                        .insert((id.clone(), m["id"].as_str().expect("id").into()));
                }
                self.groups
                    .insert(id, g["name"].as_str().unwrap_or_default().into());
            }
            let page = &d["groups"]["pageInfo"];
            if page["hasNextPage"] != true {
                break;
            }
            after = page["endCursor"].as_str().map(str::to_owned);
        }
        self.cursor = Some(head);
    }

    /// Differences from the simulator's org (empty when they agree). `records`: compare
    /// logins, titles, statuses and names too, not only ids.
    fn differences(&self, ts: &TestSim, records: bool) -> Vec<String> {
        let users = ts.sim.users();
        let want_people: BTreeMap<String, (String, String, String)> = users
            .iter()
            .map(|u| {
                let f = |k: &str| u["profile"][k].as_str().unwrap_or_default().to_owned();
                let id = u["id"].as_str().expect("id").to_owned();
                let rec = if records {
                    (
                        f("login"),
                        f("title"),
                        u["status"].as_str().expect("s").into(),
                    )
                } else {
                    Default::default()
                };
                (id, rec)
            })
            .collect();
        let groups = ts.sim.groups();
        let want_groups: BTreeMap<String, String> = groups
            .iter()
            .map(|g| {
                let name = if records {
                    g["profile"]["name"].as_str().expect("name").to_owned()
                } else {
                    String::new()
                };
                (g["id"].as_str().expect("id").to_owned(), name)
            })
            .collect();
        let want_members: BTreeSet<(String, String)> = want_groups
            .keys()
            .flat_map(|g| {
                ts.sim
                    .group_members(g)
                    .into_iter()
                    .map(move |u| (g.clone(), u))
            })
            .collect();
        let mut out = Vec::new();
        if self.people != want_people {
            out.push(format!(
                "people: {} held, {} in Okta",
                self.people.len(),
                want_people.len()
            ));
        }
        if self.groups != want_groups {
            out.push(format!(
                "groups: {} held, {} in Okta",
                self.groups.len(),
                want_groups.len()
            ));
        }
        if self.members != want_members {
            out.push(format!(
                "memberships: {} held, {} in Okta",
                self.members.len(),
                want_members.len()
            ));
        }
        out
    }
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A downstream consumer of `changes`, applying page after page while the org churns: it ends
/// holding exactly what Okta holds, and it never sees an entry twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_feed_consumer_ends_with_exactly_the_orgs_state() {
    async fn follow(app: &TestApp, c: &mut Consumer) -> bool {
        let page = format!(
            "query($after: String) {{ changes(after: $after, first: 40) {{ endCursor hasMore entries {{ {ENTRY} }} }} }}"
        );
        let d = app.gql(&page, json!({ "after": c.cursor })).await;
        let feed = &d["changes"];
        for e in feed["entries"].as_array().expect("entries") {
            c.apply(e);
        }
        c.cursor = feed["endCursor"].as_str().map(str::to_owned);
        feed["hasMore"].as_bool().expect("hasMore")
    }

    let ts = TestSim::lifted(200, 47).await;
    let mut app = TestApp::builder(&ts)
        .poll_interval(Duration::from_millis(200))
        .spawn()
        .await;
    app.wait_ready().await;
    let mut c = Consumer::default();
    c.bootstrap(app.addr).await;
    let mut m = Mutator::new(0xFEED_0001);
    for step in 0..120 {
        m.mutate(&ts.sim, step);
        if step % 10 == 0 {
            // Each page resumes only from the cursor the consumer stored: nothing on the
            // server remembers a consumer, so a restarted one reads exactly the same way.
            follow(&app, &mut c).await;
        }
    }
    app.wait_mirrors_sim(false).await;
    let mut pages = 0;
    while follow(&app, &mut c).await {
        pages += 1;
        assert!(pages < 10_000, "the feed never ends");
    }
    assert_eq!(c.differences(&ts, true), Vec::<String>::new());
    assert!(c.seen.len() > 60, "the feed was followed: {}", c.seen.len());

    // The log pruned past a stored cursor: the consumer is told to read the mirror again.
    let stale = app
        .gql("{ changes(first: 1) { endCursor } }", json!({}))
        .await["changes"]["endCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let last = app.store().last_seq().expect("seq");
    let pruned = app
        .store()
        .prune_changes(chrono::Utc::now(), 10, last)
        .expect("prune");
    assert!(pruned > 0);
    let url = format!("http://{}/graphql", app.addr);
    let answer: Value = reqwest::Client::new()
        .post(&url)
        .json(
            &json!({"query": "query($a: String) { changes(after: $a) { endCursor } }",
            "variables": {"a": stale}}),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{answer}"
    );
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("read the mirror again")),
        "{answer}"
    );
    // Without a cursor, the feed starts at the oldest entry still held, not with an error
    // (here the pruning left none: the first new change is the first entry).
    // A title change of a person the org still has, so that it is a change (a random pick of
    // the mutator may land on a deleted person, which the simulator refuses).
    let someone = ts
        .sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE")
        .map(|u| id_of(&u))
        .expect("an active person");
    ts.sim.update_profile(
        &someone,
        patch(&[("title", json!("Title after the pruning"))]),
    );
    wait_for(
        "a change after the pruning",
        Duration::from_millis(50),
        || async { app.store().last_seq().expect("seq") > last },
    )
    .await;
    let d = app
        .gql("{ changes(first: 5) { entries { cursor } } }", json!({}))
        .await;
    let first = d["changes"]["entries"][0]["cursor"]
        .as_str()
        .expect("an entry");
    assert!(!c.seen.contains(first), "an entry after the pruning: {d}");
    app.stop().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws client, written from the protocol's description.
struct Ws {
    socket: Socket,
}

impl Ws {
    /// Opens `/graphql/ws` (with a key and an `Origin` when given) and completes the
    /// protocol's handshake; `Err` is the HTTP status of a refused upgrade.
    async fn connect(addr: SocketAddr, key: Option<&str>, origin: Option<&str>) -> Result<Ws, u16> {
        let mut req = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .expect("request");
        let h = req.headers_mut();
        h.insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        if let Some(k) = key {
            h.insert(
                "Authorization",
                format!("Bearer {k}").parse().expect("header"),
            );
        }
        if let Some(o) = origin {
            h.insert("Origin", o.parse().expect("header"));
        }
        let connected =
            tokio::time::timeout(crate::support::STUCK, tokio_tungstenite::connect_async(req))
                .await
                .expect("the WebSocket handshake within STUCK");
        let (socket, _) = match connected {
            Ok(s) => s,
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => return Err(r.status().as_u16()),
            Err(e) => panic!("connect: {e}"),
        };
        let mut ws = Ws { socket };
        ws.send(json!({"type": "connection_init", "payload": {}}))
            .await;
        let ack = ws.next().await.expect("an answer to connection_init");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        Ok(ws)
    }

    async fn send(&mut self, v: Value) {
        let sent = self.socket.send(Message::Text(v.to_string().into()));
        tokio::time::timeout(crate::support::STUCK, sent)
            .await
            .expect("a message sent within STUCK")
            .expect("send");
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe",
            "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next protocol message; `None` once the server closed (its close frame's code in
    /// `Err` from `closed`). One deadline covers the whole wait: the server's pings (every
    /// 15 s) must not restart it, or a message that never comes would be waited for forever.
    async fn next(&mut self) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + crate::support::STUCK;
        loop {
            let read = tokio::time::timeout_at(deadline, self.socket.next()).await;
            match read.expect("a message from the server within STUCK")? {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("json message"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {} // pings are answered by the library
            }
        }
    }

    /// Reads until the server closes; the close code it sent.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.socket.next().await? {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// A subscriber over graphql-transport-ws applies every pushed entry while the org churns,
/// drops its connection half-way and resumes with the last cursor it applied: it ends holding
/// exactly the simulator's org, with no entry twice and none missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resuming_from_its_cursor_ends_with_exactly_the_orgs_state() {
    let ts = TestSim::lifted(150, 61).await;
    let mut app = TestApp::builder(&ts)
        .poll_interval(Duration::from_millis(200))
        .spawn()
        .await;
    app.wait_ready().await;
    let sub = format!("subscription($after: String) {{ changes(after: $after) {{ {ENTRY} }} }}");
    let mut start = Consumer::default();
    start.bootstrap(app.addr).await;
    let consumer = Arc::new(Mutex::new(start));
    // Reads pushed entries into the consumer until the connection ends.
    let listen = |mut ws: Ws, c: Arc<Mutex<Consumer>>| async move {
        while let Some(msg) = ws.next().await {
            match msg["type"].as_str() {
                Some("next") => {
                    assert!(msg["payload"]["errors"].is_null(), "{msg}");
                    locked(&c).apply(&msg["payload"]["data"]["changes"]);
                }
                Some("ping") => ws.send(json!({"type": "pong"})).await,
                other => panic!("unexpected {other:?}: {msg}"),
            }
        }
    };
    let mut m = Mutator::new(0xFEED_0002);
    for round in 0..2 {
        let after = locked(&consumer).cursor.clone();
        let mut ws = Ws::connect(app.addr, None, None).await.expect("connect");
        ws.subscribe("feed", &sub, json!({ "after": after })).await;
        let reader = tokio::spawn(listen(ws, consumer.clone()));
        for step in 0..60 {
            m.mutate(&ts.sim, round * 60 + step);
        }
        if round == 0 {
            // Some entries arrived; then the connection drops (the client goes away).
            wait_for("entries pushed", Duration::from_millis(50), || async {
                locked(&consumer).seen.len() > 20
            })
            .await;
            reader.abort();
            let _ = reader.await;
        } else {
            app.wait_mirrors_sim(false).await;
            let head = app
                .gql("{ changes(first: 1) { headCursor } }", json!({}))
                .await["changes"]["headCursor"]
                .as_str()
                .expect("head")
                .to_owned();
            wait_for(
                "the subscriber reaches the head",
                Duration::from_millis(50),
                || {
                    let c = consumer.clone();
                    let head = head.clone();
                    async move { locked(&c).cursor.as_deref() == Some(head.as_str()) }
                },
            )
            .await;
            reader.abort();
        }
    }
    let differences = locked(&consumer).differences(&ts, true);
    assert_eq!(differences, Vec::<String>::new());
    app.stop().await;
}

/// The WebSocket's edges: a key is needed when keys are on; a page from another origin is
/// refused; only subscriptions run on it, at most 16 at once; a revoked key's connection is
/// closed (4403) within seconds; and stopping the server closes open ones (1001) instead of
/// waiting for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_need_a_key_refuse_other_origins_and_end_on_revocation_and_shutdown() {
    use oktamirror::access::{Role, keys};
    use oktamirror::startup::Application;

    let ts = TestSim::lifted(30, 67).await;
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys");
    let (key, _) = keys::create(&keys_file, "indexer", Role::Directory).expect("key");
    let (other, _) = keys::create(&keys_file, "other", Role::Directory).expect("key");
    let mut s = crate::support::settings(
        ts.addr,
        &dir.path().join("data"),
        &crate::support::AppOptions::new(crate::support::TOKEN),
    );
    s.server.keys_file = Some(keys_file.clone());
    s.server.rate_limit = None;
    let app = tokio::time::timeout(crate::support::STUCK, Application::build(s))
        .await
        .expect("started within STUCK")
        .expect("start");
    let addr = app.addr();
    // The first sync done: a subscription opened while it runs ends with CURSOR_EXPIRED when
    // the load commits (the load is one entry, not in the feed), freeing its slot.
    crate::support::wait_ready_at(addr).await;

    assert_eq!(Ws::connect(addr, None, None).await.err(), Some(401));
    assert_eq!(
        Ws::connect(addr, Some("not-a-key"), None).await.err(),
        Some(401)
    );
    assert_eq!(
        Ws::connect(addr, Some(key.expose()), Some("http://evil.example"))
            .await
            .err(),
        Some(403),
        "a page on another site"
    );
    let own = format!("http://{addr}");
    let mut ws = Ws::connect(addr, Some(key.expose()), Some(&own))
        .await
        .expect("the mirror's own origin");

    // A query is sent back to POST /graphql.
    ws.subscribe("q", "{ __typename }", json!({})).await;
    let msg = ws.next().await.expect("answer");
    let text = msg.to_string();
    assert!(text.contains("subscriptions only"), "{text}");

    // Sixteen subscriptions at once; the seventeenth is refused with the limit's code.
    let sub = "subscription { changes { cursor } }";
    for i in 0..16 {
        ws.subscribe(&format!("s{i}"), sub, json!({})).await;
    }
    ws.subscribe("s16", sub, json!({})).await;
    let refused = loop {
        let msg = ws.next().await.expect("messages");
        if msg["id"] == "s16" {
            break msg;
        }
    };
    assert!(refused.to_string().contains("LIMIT_EXCEEDED"), "{refused}");

    // Revoked: the server closes the connection with 4403.
    keys::revoke(&keys_file, "indexer").expect("revoke");
    let code = tokio::time::timeout(crate::support::STUCK, ws.closed())
        .await
        .expect("closed after revocation");
    assert_eq!(code, Some(4403));

    // Stopping the server closes a connection that is still open, and does not wait for it.
    let mut ws = Ws::connect(addr, Some(other.expose()), None)
        .await
        .expect("connect");
    ws.subscribe("feed", sub, json!({})).await;
    tokio::time::timeout(crate::support::STUCK, app.stop())
        .await
        .expect("stop does not wait for open subscriptions")
        .expect("stop");
    let code = tokio::time::timeout(crate::support::STUCK, ws.closed())
        .await
        .expect("closed at shutdown");
    assert!(matches!(code, Some(1001) | None), "{code:?}");
}

/// What the webhook receiver saw.
#[derive(Default)]
struct Received {
    consumer: Consumer,
    /// Answer 503 to this many more deliveries (before looking at them).
    fail_next: usize,
    failed: usize,
    /// Deliveries whose signature did not verify.
    forged: usize,
    /// `X-Oktamirror-Delivery` of each accepted delivery.
    deliveries: Vec<String>,
    /// Told to read the mirror again (`resyncRequired`): later deliveries are answered 503
    /// (and retried by the mirror) until the read is done.
    resyncing: bool,
    /// `resyncRequired` deliveries seen.
    resyncs: usize,
}

/// The HMAC-SHA256 of `t.body`, hex, computed here with aws-lc-rs's HMAC directly.
fn expected_signature(secret: &str, t: &str, body: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = t.as_bytes().to_vec();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac::sign(&key, &msg)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A webhook receiver on a loopback port: verifies each delivery's signature, fails on
/// request, applies the rest. `always_fail`: answer 500 to everything.
async fn receiver(secret: &'static str, always_fail: bool) -> (SocketAddr, Arc<Mutex<Received>>) {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};

    let state = Arc::new(Mutex::new(Received::default()));
    let app =
        axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    move |State(st): State<Arc<Mutex<Received>>>,
                          headers: HeaderMap,
                          body: Bytes| async move {
                        if always_fail {
                            return StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        let mut r = locked(&st);
                        let sig = headers
                            .get("X-Oktamirror-Signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        let (t, v1) = sig
                            .split_once(',')
                            .and_then(|(t, v)| {
                                Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?))
                            })
                            .unwrap_or_default();
                        if v1.is_empty() || v1 != expected_signature(secret, t, &body) {
                            r.forged += 1;
                            return StatusCode::UNAUTHORIZED;
                        }
                        if r.resyncing {
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                        if r.fail_next > 0 {
                            r.fail_next -= 1;
                            r.failed += 1;
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                        let v: Value = serde_json::from_slice(&body).expect("json body");
                        if v["resyncRequired"] == true {
                            r.resyncing = true;
                            r.resyncs += 1;
                        }
                        for e in v["entries"].as_array().expect("entries") {
                            r.consumer.apply(e);
                        }
                        let id = headers
                            .get("X-Oktamirror-Delivery")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        r.deliveries.push(id);
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, state)
}

/// Webhooks from the config file: the receiver verifies every signature, sees failures
/// retried, and ends holding exactly the org's people, groups and memberships, across a
/// restart (which resumes from the saved position, sending nothing twice). A webhook whose
/// receiver always fails dead-letters its entries and says so in `/metrics`; the secret
/// appears in no log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_deliver_the_feed_signed_retried_dead_lettered_and_resumed() {
    use crate::support::process::Serve;

    const SECRET: &str = "webhook-secret-4f9a0c1d2e3b5a6f";
    let ts = TestSim::lifted(120, 71).await;
    let (good, received) = receiver(SECRET, false).await;
    let (bad, _) = receiver(SECRET, true).await;
    let dir = tempfile::tempdir().expect("tmp");
    let secret_file = dir.path().join("webhook-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let config = dir.path().join("oktamirror.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"indexer\"\nurl = \"http://{good}/hook\"\nsecret_file = {sf:?}\nretry_initial = \"50ms\"\nrole = \"hr\"\n\n\
             [[webhooks]]\nname = \"broken\"\nurl = \"http://{bad}/hook\"\nsecret_file = {sf:?}\n\
             events = [\"PERSON_UPDATED\"]\nmax_attempts = 2\nretry_initial = \"10ms\"\n",
            sf = secret_file.display().to_string()
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let config_arg = config.display().to_string();
    let args = [
        "--config",
        config_arg.as_str(),
        "--log-poll-interval",
        "200ms",
    ];
    let converged = |what: &'static str| {
        let (received, ts) = (received.clone(), &ts);
        async move {
            wait_for(what, Duration::from_millis(100), || {
                let ok = locked(&received).consumer.differences(ts, false).is_empty();
                async move { ok }
            })
            .await;
        }
    };

    let serve = Serve::start(ts.addr, &data, "info", &args, &[], None);
    let addr = serve.addr().await;
    // The first sync is logged as one initial-load entry: the webhook, started at the empty
    // mirror's head, is told to read the mirror again, and does.
    wait_for(
        "a resyncRequired delivery",
        Duration::from_millis(50),
        || {
            let n = locked(&received).resyncs;
            async move { n > 0 }
        },
    )
    .await;
    let mut read = Consumer::default();
    read.bootstrap(addr).await;
    {
        let mut r = locked(&received);
        // A webhook's entries carry ids only: so does what the receiver keeps.
        r.consumer.people = read
            .people
            .into_keys()
            .map(|k| (k, Default::default()))
            .collect();
        r.consumer.groups = read
            .groups
            .into_keys()
            .map(|k| (k, String::new()))
            .collect();
        r.consumer.members = read.members;
        r.resyncing = false;
    }
    let mut m = Mutator::new(0xFEED_0003);
    for step in 0..40 {
        m.mutate(&ts.sim, step);
        if step == 20 {
            locked(&received).fail_next = 3;
        }
    }
    converged("the webhook receiver to hold the org").await;
    {
        let r = locked(&received);
        assert_eq!(r.failed, 3, "the failures happened");
        assert_eq!(r.forged, 0, "every signature verified");
        assert_eq!(
            r.resyncs, 1,
            "told to read the mirror once, after the first sync"
        );
    }
    // One sample's value from the Prometheus text (the labels exactly as written).
    let sample = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let metrics = |addr: SocketAddr| async move {
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("the metrics parse as Prometheus text");
        text
    };
    let text = metrics(addr).await;
    assert!(
        sample(
            &text,
            "oktamirror_webhook_deliveries_total{webhook=\"indexer\",outcome=\"retried\"}"
        ) >= 3.0,
        "{text}"
    );
    wait_for(
        "the broken webhook to dead-letter",
        Duration::from_millis(100),
        || async {
            sample(
                &metrics(addr).await,
                "oktamirror_webhook_dead_letters_total{webhook=\"broken\"}",
            ) > 0.0
        },
    )
    .await;
    serve.stop().await;
    let delivered = locked(&received).deliveries.len();

    // Changes while the mirror is down, then a restart: the webhook resumes after its saved
    // position (an entry twice would fail `apply`).
    for step in 40..60 {
        m.mutate(&ts.sim, step);
    }
    let serve2 = Serve::start(ts.addr, &data, "info", &args, &[], None);
    serve2.addr().await;
    converged("the webhook receiver to catch up after the restart").await;
    assert!(locked(&received).deliveries.len() > delivered);
    serve2.stop().await;
    for log in [serve.log(), serve2.log()] {
        assert!(
            !log.contains(SECRET),
            "the webhook secret leaked into the log"
        );
    }
}
