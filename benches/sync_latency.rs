//! Change-to-visible latency: a change made in the simulator (a title edit) until a GraphQL
//! answer of the running mirror shows it, p50 and p99, with event hooks and with log polling
//! only. Targets: hooks p50 < 300 ms, p99 < 1 s; polling < poll interval + 1 s.
//!
//! `cargo bench --bench sync_latency` runs the full size (a 10,000-person org); sizes can be
//! set with OKTAMIRROR_BENCH_USERS, OKTAMIRROR_BENCH_SAMPLES and OKTAMIRROR_BENCH_POLL_MS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use oktamirror::configuration::Settings;
use oktamirror::sim::{EventHook, Simulator};
use oktamirror::startup::Application;

mod support;
use support::{AppOptions, TOKEN, env_num};

const HOOK_SECRET: &str = "Bearer bench-hook-secret-0123456789";

fn settings(sim: SocketAddr, dir: &std::path::Path, poll: Duration, hook: bool) -> Settings {
    let mut o = AppOptions::new(TOKEN);
    o.poll_interval = poll;
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

/// Makes `samples` title edits, one at a time at random moments, and measures how long each
/// takes to show in `person(id:) { title }`.
async fn measure(
    sim: &Simulator,
    mirror: SocketAddr,
    ids: &[String],
    samples: usize,
    spread: Duration,
    label: &str,
) -> Result<Vec<Duration>, String> {
    let http = reqwest::Client::new();
    let mut out = Vec::with_capacity(samples);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..samples {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Land each change at a random point of the poll cycle.
        tokio::time::sleep(Duration::from_millis(
            seed % (spread.as_millis() as u64).max(1),
        ))
        .await;
        let id = &ids[(seed as usize / 7) % ids.len()];
        let title = format!("{label} title {i} {seed:x}");
        let mut patch = Map::new();
        patch.insert("title".into(), Value::String(title.clone()));
        let start = Instant::now();
        if !sim.update_profile(id, patch) {
            return Err(format!("the simulator has no user {id}"));
        }
        loop {
            let resp: Value = http
                .post(format!("http://{mirror}/graphql"))
                .json(&json!({"query": "query($id: ID!) { person(id: $id) { title } }", "variables": {"id": id}}))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            if resp["data"]["person"]["title"] == title.as_str() {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!("{label}: a change never became visible"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        out.push(start.elapsed());
    }
    out.sort();
    Ok(out)
}

fn main() -> Result<(), String> {
    let users = env_num("OKTAMIRROR_BENCH_USERS", 10_000) as usize;
    let samples = env_num("OKTAMIRROR_BENCH_SAMPLES", 200) as usize;
    let poll = Duration::from_millis(env_num("OKTAMIRROR_BENCH_POLL_MS", 2_000));
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
        println!(
            "sync latency: {users} users, {samples} samples with hooks, poll interval {poll:?}"
        );

        for (label, hook) in [("hooks", true), ("polling", false)] {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            // With hooks the log is read once an hour: every change arrives by hook.
            let interval = if hook {
                Duration::from_secs(3600)
            } else {
                poll
            };
            let app = Application::build(settings(sim_addr, dir.path(), interval, hook))
                .await
                .map_err(|e| e.to_string())?;
            support::wait_first_sync(app.store(), Duration::from_secs(600)).await?;
            sim.set_event_hook(hook.then(|| EventHook {
                url: format!("http://{}/hooks/okta", app.addr()),
                auth_header: Some(("Authorization".into(), HOOK_SECRET.into())),
                drop_percent: 0,
                duplicate_percent: 0,
                batch_window: Duration::ZERO,
            }));
            let (n, spread) = if hook {
                (samples, Duration::from_millis(50))
            } else {
                ((samples / 5).max(10), poll)
            };
            let lat = measure(&sim, app.addr(), &ids, n, spread, label).await?;
            let target = if hook {
                "target p50 < 300 ms, p99 < 1 s".to_owned()
            } else {
                format!(
                    "target < {:?} (poll interval + 1 s)",
                    poll + Duration::from_secs(1)
                )
            };
            println!(
                "{label:>8}: n={:<4} p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms   ({target})",
                lat.len(),
                percentile(&lat, 0.50).as_secs_f64() * 1000.0,
                percentile(&lat, 0.99).as_secs_f64() * 1000.0,
                lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            );
            sim.set_event_hook(None);
            app.stop().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}
