//! What an operator sees: JSON logs with an access line per request (the key's name, never the
//! key), and sync lines tied to their step.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::process::Serve;
use crate::support::{TestSim, wait_for};
use oktamirror::access::{Role, keys};

/// Every stderr line of `serve --log-format json` is one JSON object; a GraphQL request logs
/// one access line naming its method, path, operation, status, duration and key name; the key
/// itself appears nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_an_access_line_per_request_and_never_the_key() {
    let ts = TestSim::start(60, 41).await;
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys");
    let (key, _) = keys::create(&keys_file, "reporting-app", Role::Directory).expect("key");
    let key = key.expose().to_owned();
    let data = dir.path().join("data");
    let serve = Serve::start(
        ts.addr,
        &data,
        "info",
        &[
            "--log-format",
            "json",
            "--keys-file",
            keys_file.to_str().expect("utf-8"),
        ],
        &[],
        None,
    );
    let addr = serve.addr().await;
    let client = reqwest::Client::new();
    crate::support::wait_ready_at(addr).await;
    let answer: Value = client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(&key)
        .json(&json!({"query": "query HeadCount { people(first: 1) { totalCount } }"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["data"]["people"]["totalCount"].as_u64(),
        // `people` leaves out DEPROVISIONED people unless asked.
        Some(
            ts.sim
                .users()
                .iter()
                .filter(|u| u["status"] != "DEPROVISIONED")
                .count() as u64
        ),
        "{answer}"
    );
    let refused = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": "{ people(first: 1) { totalCount } }"}))
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 401);

    // The request's span fields, from the access line of the request that matches `pred`.
    let access = |pred: &dyn Fn(&Value) -> bool| -> Option<(Value, Value)> {
        serve.log().lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            if v["target"] != "oktamirror::access" {
                return None;
            }
            let span = v["spans"].as_array()?.first()?.clone();
            pred(&span).then_some((v, span))
        })
    };
    let mut found = None;
    wait_for("the access lines", Duration::from_millis(20), || {
        found = access(&|s| s["operation"] == "HeadCount").zip(access(&|s| {
            s["path"] == "/graphql" && s.get("key").is_none()
        }));
        let done = found.is_some();
        async move { done }
    })
    .await;
    let ((line, span), (refused_line, _)) = found.expect("found");
    assert_eq!(span["method"], "POST", "{line}");
    assert_eq!(span["path"], "/graphql", "{line}");
    assert_eq!(span["key"], "reporting-app", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert_eq!(refused_line["status"], 401, "{refused_line}");

    serve.stop().await;
    let log = serve.log();
    for l in log.lines() {
        let v: Result<Value, _> = serde_json::from_str(l);
        assert!(
            v.as_ref().is_ok_and(|v| v.is_object()),
            "not one JSON object a line: {l}"
        );
    }
    assert!(!log.contains(&key), "the key reached the log");
    // A sync line carries the step it belongs to.
    assert!(
        log.lines().any(|l| l.contains("full sync")
            && serde_json::from_str::<Value>(l).is_ok_and(|v| v["spans"].as_array().is_some_and(
                |s| s
                    .iter()
                    .any(|s| s["name"] == "sync_step" && s["step"].is_u64())
            ))),
        "{log}"
    );
}

/// `/metrics` answers a metrics key (401 without a key, 403 for a directory key) in a format a
/// Prometheus parser reads, and its figures match the simulator's org and the requests made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_match_the_org() {
    let ts = TestSim::start(80, 43).await;
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys");
    let (metrics_key, _) = keys::create(&keys_file, "prometheus", Role::Metrics).expect("key");
    let (app_key, _) = keys::create(&keys_file, "app", Role::Directory).expect("key");
    let serve = Serve::start(
        ts.addr,
        &dir.path().join("data"),
        "info",
        &["--keys-file", keys_file.to_str().expect("utf-8")],
        &[],
        None,
    );
    let addr = serve.addr().await;
    let client = reqwest::Client::new();
    crate::support::wait_ready_at(addr).await;
    let url = format!("http://{addr}/metrics");
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(client.get(&url).send().await.expect("get")), 401);
    let forbidden = client
        .get(&url)
        .bearer_auth(app_key.expose())
        .send()
        .await
        .expect("get");
    assert_eq!(status(forbidden), 403, "a directory key reads no metrics");

    const ASKED: usize = 3;
    for _ in 0..ASKED {
        let r = client
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(app_key.expose())
            .json(&json!({"query": "query HeadCount { people(first: 1) { totalCount } }"}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
    }

    let scrape = || async {
        let r = client
            .get(&url)
            .bearer_auth(metrics_key.expose())
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
        let ct = r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        let text = r.text().await.expect("text");
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        (
            prometheus_parse::Scrape::parse(lines).expect("Prometheus text"),
            text,
        )
    };
    let value = |scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    let (m, text) = scrape().await;
    let people = ts.sim.users().len() as f64;
    let groups = ts.sim.groups().len() as f64;
    assert_eq!(
        value(&m, "oktamirror_objects", &[("kind", "person")]),
        Some(people),
        "{text}"
    );
    assert_eq!(
        value(&m, "oktamirror_objects", &[("kind", "group")]),
        Some(groups),
        "{text}"
    );
    assert_eq!(
        value(
            &m,
            "oktamirror_graphql_requests_total",
            &[("operation", "HeadCount"), ("outcome", "ok")]
        ),
        Some(ASKED as f64),
        "{text}"
    );
    assert_eq!(
        value(
            &m,
            "oktamirror_sync_runs_total",
            &[("kind", "full"), ("outcome", "ok")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        value(&m, "oktamirror_sync_changed_total", &[("object", "person")]) >= Some(people),
        "the first sync created everyone: {text}"
    );
    // Every request the mirror sent reached the simulator, counted once (scraped first, so
    // the simulator has seen at least as many).
    let sent: f64 = m
        .samples
        .iter()
        .filter(|s| s.metric == "oktamirror_okta_requests_total")
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    let seen = ts.sim.request_count() as f64;
    assert!(
        sent >= 3.0 && sent <= seen,
        "sent {sent}, simulator saw {seen}: {text}"
    );
    assert!(
        value(
            &m,
            "oktamirror_okta_rate_limit_remaining",
            &[("bucket", "users-list")]
        )
        .is_some(),
        "{text}"
    );
    for gauge in [
        "oktamirror_store_size_bytes",
        "oktamirror_process_resident_memory_bytes",
        "oktamirror_process_open_files",
        "oktamirror_index_documents",
    ] {
        assert!(
            value(&m, gauge, &[]).is_some_and(|v| v > 0.0),
            "{gauge}: {text}"
        );
    }
    assert!(
        !text.contains(metrics_key.expose()) && !text.contains(app_key.expose()),
        "no key in the metrics"
    );
    serve.stop().await;
}

/// `changes` inputs at their empty, largest and garbage values: each a BAD_USER_INPUT (or the
/// validator's error) saying what to pass, never a panic or a page from the wrong place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feed_inputs_at_their_extremes_are_refused_clearly() {
    use base64::Engine;

    let ts = TestSim::start(20, 53).await;
    let app = crate::support::TestApp::builder(&ts)
        .crawl_only()
        .spawn()
        .await;
    app.wait_ready().await;
    let url = format!("http://{}/graphql", app.addr);
    let ask = |after: Value, first: Value| {
        let url = url.clone();
        async move {
            let v: Value = reqwest::Client::new()
                .post(url)
                .json(&json!({"query": "query($a: String, $f: Int) { changes(after: $a, first: $f) { endCursor entries { id } } }",
                    "variables": {"a": after, "f": first}}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            v
        }
    };
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    for (what, after) in [
        ("empty", json!("")),
        ("garbage", json!("!!not a cursor!!")),
        ("too long", json!("A".repeat(10_000))),
        ("another list's cursor", json!(b64("person:00u1"))),
        ("not a number", json!(b64("change:12ab"))),
        (
            "beyond 64 bits",
            json!(b64(&format!("change:{}", "9".repeat(25)))),
        ),
        ("negative", json!(b64("change:-1"))),
    ] {
        let v = ask(after, json!(5)).await;
        let err = &v["errors"][0];
        assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{what}: {v}");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.contains("cursor")),
            "{what}: {v}"
        );
        assert!(
            v["data"].is_null() || v["data"]["changes"].is_null(),
            "{what}: {v}"
        );
    }
    for first in [json!(0), json!(-1), json!(1001), json!(i64::from(i32::MAX))] {
        let v = ask(Value::Null, first.clone()).await;
        assert!(v["errors"][0]["message"].is_string(), "first {first}: {v}");
    }
    // The largest cursor a real log could hold: past the head, an empty page that stays put.
    let far = b64(&format!("change:{}", u64::MAX));
    let v = ask(json!(far), json!(1000)).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(v["data"]["changes"]["entries"], json!([]), "{v}");
    assert_eq!(v["data"]["changes"]["endCursor"], json!(far), "{v}");
}
