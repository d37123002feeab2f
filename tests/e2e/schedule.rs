//! The sync schedule under a real mirror: staleness and `max_staleness` while Okta fails, a
//! reconcile that leaves the tail running, and a shutdown in the middle of a crawl's apply.

use std::time::Duration;

use serde_json::{Value, json};

use oktamirror::model::RunKind;
use oktamirror::sim::Faults;
use oktamirror::store::Store;

use crate::support::{TestApp, TestSim, patch, wait_for};

async fn readyz_body(app: &TestApp) -> (u16, Value) {
    let resp = reqwest::get(format!("http://{}/readyz", app.addr))
        .await
        .expect("readyz");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("readyz JSON"))
}

const FRESHNESS: &str = "{ syncStatus { stalenessSeconds lastOktaReadAt problem } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staleness_grows_while_okta_fails_and_max_staleness_turns_readyz_503() {
    let ts = TestSim::lifted(40, 21).await;
    let app = TestApp::builder(&ts)
        .no_sweeps()
        .max_staleness(Duration::from_secs(2))
        .spawn()
        .await;
    wait_for("a first good read", Duration::from_millis(50), || async {
        let st = app.gql(FRESHNESS, json!({})).await;
        st["syncStatus"]["stalenessSeconds"].is_number() && st["syncStatus"]["problem"].is_null()
    })
    .await;
    let (status, body) = readyz_body(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["stalenessSeconds"].is_number(), "{body}");

    // Okta answers nothing but 500s: every poll fails after its retries.
    ts.sim.set_faults(Faults {
        error_500_percent: 100,
        ..Faults::default()
    });
    wait_for(
        "staleness beyond max_staleness, with the reason",
        Duration::from_millis(100),
        || async {
            let st = app.gql(FRESHNESS, json!({})).await;
            let st = &st["syncStatus"];
            st["stalenessSeconds"].as_f64().is_some_and(|s| s > 2.0)
                && st["problem"]
                    .as_str()
                    .is_some_and(|p| p.contains("System Log"))
        },
    )
    .await;
    wait_for(
        "/readyz to answer 503",
        Duration::from_millis(100),
        || async { readyz_body(&app).await.0 == 503 },
    )
    .await;
    let (_, body) = readyz_body(&app).await;
    assert_eq!(body["ready"], false, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("max_staleness") && r.contains("System Log")),
        "{body}"
    );
    assert!(
        body["stalenessSeconds"].as_f64().is_some_and(|s| s > 2.0),
        "{body}"
    );

    // Okta recovers: the next poll reads it, the problem clears, the mirror is ready again.
    ts.sim.set_faults(Faults::default());
    wait_for("/readyz to recover", Duration::from_millis(100), || async {
        readyz_body(&app).await.0 == 200
    })
    .await;
    let st = app.gql(FRESHNESS, json!({})).await;
    assert!(st["syncStatus"]["problem"].is_null(), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reconcile_leaves_the_tail_running_and_ends_exact() {
    let ts = TestSim::with_groups(150, Some(60), 23).await;
    ts.sim.set_rate_limits(oktamirror::sim::RateLimits {
        per_window: Some(1_000_000),
        ..Default::default()
    });
    let app = TestApp::builder(&ts).no_sweeps().spawn().await;
    app.wait_mirrors_sim(true).await;

    // Every answer of Okta now takes a second: the crawl (some 15 sequential rounds of
    // requests) takes far longer than the tail's poll, read and re-read.
    ts.sim.set_faults(Faults {
        slow_percent: 100,
        slow_by: Duration::from_secs(1),
        ..Faults::default()
    });
    let sync = app.sync();
    let reconcile = tokio::spawn(async move { sync.full_sync_now().await });
    wait_for("the crawl to start", Duration::from_millis(20), || async {
        app.store().staged_user_count() > 0
    })
    .await;
    let user = ts
        .sim
        .users()
        .iter()
        .find(|u| u["status"] == "ACTIVE")
        .and_then(|u| u["id"].as_str().map(str::to_owned))
        .expect("an active user");
    assert!(
        ts.sim
            .update_profile(&user, patch(&[("title", json!("Reconcile Watcher"))])),
        "the simulator has the user"
    );
    wait_for(
        "the tail to apply the change",
        Duration::from_millis(50),
        || async {
            app.store()
                .person(&user)
                .ok()
                .flatten()
                .and_then(|p| p.title)
                .as_deref()
                == Some("Reconcile Watcher")
        },
    )
    .await;
    let run = reconcile
        .await
        .expect("the reconcile task")
        .expect("the crawl's record");
    assert!(run.ok, "{:?}", run.error);
    // The record says so: a tail step that applied events ran inside the crawl's time.
    let runs = app.store().runs(1000).expect("runs");
    assert!(
        runs.iter().any(|r| r.kind == RunKind::Tail
            && r.ok
            && r.events > 0
            && r.started_at > run.started_at
            && r.finished_at < run.finished_at),
        "no tail step ran during the crawl ({} .. {})",
        run.started_at,
        run.finished_at
    );
    ts.sim.set_faults(Faults::default());
    app.wait_mirrors_sim(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_an_apply_stops_it_before_the_flush() {
    let ts = TestSim::lifted(6000, 29).await;
    let mut app = TestApp::builder(&ts).crawl_only().build().await;
    // The first crawl is applying once its initial load marked the store (or, on the
    // transactional path, once people appear) and it is not recorded yet.
    wait_for("the apply to start", Duration::from_millis(2), || async {
        app.store().initial_load_pending().unwrap_or(false)
            || app.store().people_count().unwrap_or(0) > 0
    })
    .await;
    assert!(
        app.store().last_good_full_sync().expect("read").is_none(),
        "caught the crawl mid-apply"
    );
    app.stop().await;
    // Nothing holds the store any more (a detached apply would), and nothing writes to it.
    let store = Store::open(app.data_dir()).expect("the store opens again at once");
    assert!(store.last_good_full_sync().expect("read").is_none());
    let run = store
        .last_full_sync()
        .expect("read")
        .expect("the stopped run");
    assert!(
        run.error
            .as_deref()
            .is_some_and(|e| e.contains("shutting down")),
        "{run:?}"
    );
    // A stopped initial load leaves its mark (emptying a million people key by key could
    // outlast the stop's wait); the store empties itself as it opens, by dropping the trees the
    // load wrote.
    assert!(
        store.recovered_initial_load(),
        "the stop left the initial load's mark"
    );
    assert!(!store.initial_load_pending().expect("mark"));
    assert_eq!(store.people_count().expect("count"), 0);
    assert_eq!(store.person_ids().count(), 0);
    assert_eq!(store.membership_count().expect("count"), 0);
    assert_eq!(store.audit_counts().expect("audit"), Vec::<String>::new());
}
