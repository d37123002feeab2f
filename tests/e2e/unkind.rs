//! The mirror against Okta at its unkindest: other integrations holding the org's concurrency,
//! `next` links on the org's other domain, a group rule's burst of membership events, and an
//! org changing (deletions included) while the first crawl runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oktamirror::model::{RunKind, SyncRun};
use oktamirror::okta::{Auth, ClientOptions, OktaSource};
use oktamirror::secret::Secret;
use oktamirror::sim::{Faults, RateLimits, Simulator};
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

use crate::support::{TOKEN, TestApp, TestSim, base_url, id_of, quick, truth, wait_for};

fn source(sim: &TestSim, opts: ClientOptions) -> OktaSource {
    OktaSource::with_auth(base_url(sim.addr), Auth::Ssws(Secret::new(TOKEN)), opts).expect("source")
}

/// The store equals the simulator's state: every person, group and membership.
fn assert_equals_sim(sim: &Simulator, run: &SyncRun, store: &Store) {
    assert!(run.ok, "the crawl failed: {:?}", run.error);
    let diff = truth::diff(&truth::of_store(store, true), &truth::of_sim(sim, true));
    assert!(diff.is_none(), "the mirror differs from Okta: {diff:?}");
}

/// Other integrations hold every slot of the org's concurrency limit until the crawl has been
/// refused 40 times (the client used to give a request up after 6 refusals half a second
/// apart), then half of them for the rest of the crawl, in which every answer takes 30 ms so
/// the crawl's own 8 requests in flight keep meeting the limit: it completes, exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_under_sustained_concurrency_pressure_completes_exact() {
    let ts = TestSim::with_groups(300, Some(30), 31).await;
    ts.sim.set_rate_limits(RateLimits {
        per_window: Some(1_000_000),
        max_concurrent: Some(4),
        ..Default::default()
    });
    ts.sim.occupy_concurrency(4);
    ts.sim.set_faults(Faults {
        slow_percent: 100,
        slow_by: Duration::from_millis(30),
        ..Default::default()
    });
    let okta = source(
        &ts,
        ClientOptions {
            concurrency_backoff_cap: Duration::from_millis(200),
            ..quick()
        },
    );
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let config = SyncConfig::default();
    let crawl = sync::run_full(&store, &okta as &dyn Source, &config, &NoProgress);
    tokio::pin!(crawl);
    let busy = wait_for("40 concurrency 429s", Duration::from_millis(10), || async {
        ts.sim.rate_limit_rejections().1 >= 40
    });
    let ended = tokio::select! {
        run = &mut crawl => Some(run),
        () = busy => None,
    };
    ts.sim.occupy_concurrency(2);
    let run = match ended {
        Some(run) => run,
        None => crawl.await,
    };
    assert_equals_sim(&ts.sim, &run, &store);
    let (_, crowded) = ts.sim.rate_limit_rejections();
    assert!(
        crowded > 40,
        "{crowded} concurrency 429s: pressure before and during the crawl"
    );
    assert_eq!(okta.client().concurrency_limited(), crowded);
}

/// Behind a custom domain Okta's `next` links can name the org's other domain. Followed only
/// when the operator listed it (the token goes there); otherwise the error names the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_on_the_orgs_other_domain_need_an_alias() {
    let ts = TestSim::with_groups(450, Some(12), 32).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the second host");
    let other = ts.sim.serve_second_host(listener).expect("second host");
    let other = format!("http://{other}");
    ts.sim.set_next_link_base(Some(other.clone()));

    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let okta = source(&ts, quick());
    let run = sync::run_full(&store, &okta, &SyncConfig::default(), &NoProgress).await;
    assert!(!run.ok, "a link off the org is not followed");
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("okta_url_aliases") && error.contains(&other),
        "the error names the host and the setting: {error}"
    );
    assert!(run.config_error, "it is the operator's to fix");

    let okta = source(
        &ts,
        ClientOptions {
            url_aliases: vec![url::Url::parse(&other).expect("url")],
            ..quick()
        },
    );
    let run = sync::run_full(&store, &okta, &SyncConfig::default(), &NoProgress).await;
    assert_equals_sim(&ts.sim, &run, &store);
}

/// A group rule adds 300 people to one group while the mirror is down: when it comes back its
/// tail reads the 300 membership events and serves them with the group's member list, in a
/// handful of requests rather than one per member, and the mirror ends exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_gaining_many_members_at_once_costs_a_few_requests() {
    let ts = TestSim::lifted(400, 33).await;
    // The events must reach the tail together for this count (late ones are another test's).
    ts.sim.set_log_delay(Duration::ZERO);
    let mut app = TestApp::builder(&ts).no_sweeps().spawn().await;
    let gid = ts
        .sim
        .create_group("Everyone in sales", "filled by a group rule");
    wait_for("the new group", Duration::from_millis(50), || async {
        app.store().group(&gid).expect("read").is_some()
    })
    .await;
    app.stop().await;

    let joining: Vec<String> = ts
        .sim
        .users()
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(id_of)
        .take(300)
        .collect();
    assert_eq!(joining.len(), 300);
    for u in &joining {
        assert!(ts.sim.add_member(&gid, u));
    }
    let before = ts.sim.request_count();
    app.start().await;
    app.wait_mirrors_sim(true).await;
    let used = ts.sim.request_count() - before;
    assert!(
        used < 40,
        "{used} requests to apply 300 membership events of one group"
    );
}

/// The org changes all through the first crawl: profile edits, deactivations, users and
/// groups deleted and created, memberships, failed adds, imports. The mirror still becomes
/// ready, and once the churn stops it equals Okta.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_churning_during_the_first_crawl_still_ends_exact() {
    let ts = TestSim::with_groups(800, Some(200), 34).await;
    // A crawl of a few seconds (25 requests a second are the mirror's share), so that the
    // churn (about one user and one group deleted a second, a few % of each by the end: below
    // the deletion safety share) runs all through it.
    ts.sim.set_rate_limits(RateLimits {
        per_window: Some(100),
        window: Duration::from_secs(1),
        token_share_percent: crate::support::TOKEN_SHARE_PERCENT,
        ..Default::default()
    });
    ts.sim
        .start_churn(Duration::from_millis(80))
        .expect("start churn");
    let app = TestApp::builder(&ts).no_sweeps().spawn().await;
    ts.sim.stop_churn();
    let crawl = app
        .store()
        .runs(usize::MAX)
        .expect("runs")
        .into_iter()
        .find(|r| r.ok && r.kind == RunKind::Full)
        .expect("the first crawl");
    let during = |kind: &str| {
        ts.sim
            .log_events()
            .iter()
            .filter(|e| e["eventType"] == kind)
            .filter_map(|e| e["published"].as_str()?.parse::<DateTime<Utc>>().ok())
            .filter(|t| (crawl.started_at..=crawl.finished_at).contains(t))
            .count()
    };
    let (users, groups) = (
        during("user.lifecycle.delete.completed"),
        during("group.lifecycle.delete"),
    );
    assert!(
        users > 0 && groups > 0,
        "users ({users}) and groups ({groups}) deleted during the crawl"
    );
    app.wait_mirrors_sim(true).await;
}
