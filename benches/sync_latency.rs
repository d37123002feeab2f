//! Change-to-visible latency: a change made in the simulator (a title edit) until the running
//! mirror shows it in GraphQL (`person(id:)`) and in search, p50 and p99: with event hooks,
//! with log polling alone under the default configuration (and what that polling costs in log
//! requests a minute), and with polling alone while a reconcile crawl runs. Targets: hooks
//! p50 < 300 ms, p99 < 1 s; polling p50 < 2 s, p99 < 4 s, within the logs bucket's share
//! (60 requests a minute of Okta's 120 at the default 50 %).
//!
//! `cargo bench --bench sync_latency` runs the full size (a 10,000-person org); sizes can be
//! set with OKTAMIRROR_BENCH_USERS, OKTAMIRROR_BENCH_SAMPLES and OKTAMIRROR_BENCH_IDLE_SECS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use oktamirror::configuration::Settings;
use oktamirror::sim::{EventHook, RateLimits, Simulator};
use oktamirror::startup::Application;

mod support;
use support::{AppOptions, TOKEN, env_num};

const HOOK_SECRET: &str = "Bearer bench-hook-secret-0123456789";

/// The product's defaults, except sweeps (hourly: none within the bench) and, with hooks, a
/// log read once an hour (every change then arrives by hook).
fn settings(sim: SocketAddr, dir: &std::path::Path, hook: bool) -> Settings {
    let mut o = AppOptions::new(TOKEN);
    if hook {
        o.poll_interval = Duration::from_secs(3600);
    }
    o.sweep_interval = Duration::from_secs(3600);
    o.hook_secret = hook.then(|| HOOK_SECRET.to_owned());
    support::settings(sim, dir, &o)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Latencies of one lane: to GraphQL and to search.
#[derive(Default)]
struct Lane {
    gql: Vec<Duration>,
    search: Vec<Duration>,
}

impl Lane {
    fn print(&mut self, label: &str, target: &str) {
        self.gql.sort();
        self.search.sort();
        for (what, v) in [("GraphQL", &self.gql), ("search", &self.search)] {
            println!(
                "{label:>18} {what:>7}: n={:<4} p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms   ({target})",
                v.len(),
                ms(percentile(v, 0.50)),
                ms(percentile(v, 0.99)),
                ms(v.last().copied().unwrap_or_default()),
            );
        }
    }
}

async fn post(http: &reqwest::Client, mirror: SocketAddr, body: Value) -> Result<Value, String> {
    http.post(format!("http://{mirror}/graphql"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// One title edit at a random moment within `spread`, then how long until GraphQL and then
/// search show it.
async fn sample(
    sim: &Simulator,
    mirror: SocketAddr,
    ids: &[String],
    seed: &mut u64,
    spread: Duration,
    lane: &mut Lane,
) -> Result<(), String> {
    let http = reqwest::Client::new();
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    tokio::time::sleep(Duration::from_millis(
        *seed % (spread.as_millis() as u64).max(1),
    ))
    .await;
    let id = &ids[(*seed as usize / 7) % ids.len()];
    // A word no one else has, so the search finds exactly this person.
    let word = format!("zq{:x}", *seed & 0xffff_ffff_ffff);
    let title = format!("Latency {word}");
    let mut patch = Map::new();
    patch.insert("title".into(), Value::String(title.clone()));
    let start = Instant::now();
    if !sim.update_profile(id, patch) {
        return Err(format!("the simulator has no user {id}"));
    }
    let mut gql = None;
    loop {
        if gql.is_none() {
            let r = post(&http, mirror, json!({"query": "query($id: ID!) { person(id: $id) { title } }", "variables": {"id": id}})).await?;
            if r["data"]["person"]["title"] == title.as_str() {
                gql = Some(start.elapsed());
            }
        }
        if gql.is_some() {
            let r = post(&http, mirror, json!({"query": "query($q: String!) { search(query: $q, first: 1) { totalCount } }", "variables": {"q": word}})).await?;
            if r["data"]["search"]["totalCount"] == 1 {
                break;
            }
        }
        if start.elapsed() > Duration::from_secs(120) {
            return Err("a change never became visible".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lane.gql.extend(gql);
    lane.search.push(start.elapsed());
    Ok(())
}

fn main() -> Result<(), String> {
    let quick = support::quick();
    let users = env_num("OKTAMIRROR_BENCH_USERS", if quick { 400 } else { 10_000 }) as usize;
    let samples = env_num("OKTAMIRROR_BENCH_SAMPLES", if quick { 10 } else { 200 }) as usize;
    let idle = Duration::from_secs(env_num(
        "OKTAMIRROR_BENCH_IDLE_SECS",
        if quick { 5 } else { 60 },
    ));
    let rt = support::runtime()?;
    rt.block_on(async move {
        // The setup crawl measures nothing: rate limits lifted so it takes seconds.
        let (sim, sim_addr) = support::start_sim(users, None, 9, true).await?;
        let ids: Vec<String> = sim
            .users()
            .iter()
            .filter(|u| u["status"] == "ACTIVE")
            .filter_map(|u| u["id"].as_str().map(str::to_owned))
            .collect();
        println!("sync latency: {users} users, {samples} samples with hooks");
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;

        // Event hooks.
        {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let app = Application::build(settings(sim_addr, dir.path(), true))
                .await
                .map_err(|e| e.to_string())?;
            support::wait_first_sync(app.store(), Duration::from_secs(600)).await?;
            sim.set_event_hook(Some(EventHook {
                url: format!("http://{}/hooks/okta", app.addr()),
                auth_header: Some(("Authorization".into(), HOOK_SECRET.into())),
                drop_percent: 0,
                duplicate_percent: 0,
                batch_window: Duration::ZERO,
            }));
            let mut lane = Lane::default();
            for _ in 0..samples {
                sample(&sim, app.addr(), &ids, &mut seed, Duration::from_millis(50), &mut lane)
                    .await?;
            }
            lane.print("hooks", "target p50 < 300 ms, p99 < 1 s");
            sim.set_event_hook(None);
            app.stop().await.map_err(|e| e.to_string())?;
        }

        // Polling alone, the default configuration, Okta's published rate limits.
        sim.set_rate_limits(RateLimits {
            per_window: Some(10_000_000),
            ..Default::default()
        });
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let app = Application::build(settings(sim_addr, dir.path(), false))
            .await
            .map_err(|e| e.to_string())?;
        support::wait_first_sync(app.store(), Duration::from_secs(600)).await?;
        sim.set_rate_limits(RateLimits::default());
        // The tail first replays what changed since before the crawl (the hook lane's edits):
        // the idle cost is measured once it has caught up.
        let crawled = chrono::Utc::now();
        while app
            .store()
            .meta_json::<chrono::DateTime<chrono::Utc>>(oktamirror::store::meta::TAIL_CAUGHT_UP)
            .map_err(|e| e.to_string())?
            .is_none_or(|t| t < crawled)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let before = sim.request_count();
        tokio::time::sleep(idle).await;
        let per_minute =
            (sim.request_count() - before) as f64 * 60.0 / idle.as_secs_f64();
        println!(
            "{:>18}: {per_minute:.1} log requests a minute while idle ({}s measured; share: 60 of Okta's 120)",
            "polling cost",
            idle.as_secs()
        );
        let n = (samples / 2).max(10);
        let mut lane = Lane::default();
        for _ in 0..n {
            sample(&sim, app.addr(), &ids, &mut seed, Duration::from_secs(1), &mut lane).await?;
        }
        lane.print("polling", "target p50 < 2 s, p99 < 4 s");

        // Polling alone while a reconcile crawl runs (under the same published limits).
        let sync = app.sync_handle();
        let reconcile = tokio::spawn(async move {
            let started = Instant::now();
            let run = sync.full_sync_now().await;
            (run, started.elapsed())
        });
        let mut lane = Lane::default();
        while !reconcile.is_finished() {
            sample(&sim, app.addr(), &ids, &mut seed, Duration::from_secs(1), &mut lane).await?;
        }
        let (run, took) = reconcile.await.map_err(|e| e.to_string())?;
        let run = run.ok_or("the schedule stopped")?;
        if !run.ok {
            return Err(format!("the reconcile failed: {:?}", run.error));
        }
        println!(
            "{:>18}: {:.1} s, {} requests, {} changes",
            "reconcile",
            took.as_secs_f64(),
            run.requests,
            run.changes.total()
        );
        lane.print("during reconcile", "target p50 < 2 s, p99 < 4 s");
        app.stop().await.map_err(|e| e.to_string())?;
        Ok(())
    })
}
