//! Change-to-visible latency: a change made in the simulator (a title edit) until a GraphQL
//! answer of the running mirror shows it, p50 and p99, with event hooks and with log polling
//! only. Targets: hooks p50 < 300 ms, p99 < 1 s; polling < poll interval + 1 s.
//!
//! `cargo bench --bench sync_latency` runs the full size (a 10,000-person org); sizes can be
//! set with OKTAMIRROR_BENCH_USERS, OKTAMIRROR_BENCH_SAMPLES and OKTAMIRROR_BENCH_POLL_MS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use oktamirror::configuration::{HookAuth, Settings};
use oktamirror::okta::Auth;
use oktamirror::secret::Secret;
use oktamirror::sim::{EventHook, RateLimits, SimOptions, Simulator};
use oktamirror::startup::Application;
use oktamirror::sync::Lanes;

const TOKEN: &str = "bench-token";
const HOOK_SECRET: &str = "Bearer bench-hook-secret-0123456789";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn settings(
    sim: SocketAddr,
    dir: &std::path::Path,
    poll: Duration,
    hook: bool,
) -> Result<Settings, String> {
    let mut s = Settings::defaults(
        url::Url::parse(&format!("http://{sim}/")).map_err(|e| e.to_string())?,
        Auth::Ssws(Secret::new(TOKEN)),
        dir.to_path_buf(),
        "127.0.0.1:0"
            .parse()
            .map_err(|e: std::net::AddrParseError| e.to_string())?,
    );
    s.sync.lanes = Lanes {
        poll_interval: poll,
        sweep_interval: Duration::from_secs(3600),
        ..Lanes::default()
    };
    s.server.hook = hook.then(|| HookAuth {
        header: "Authorization".into(),
        secret: Secret::new(HOOK_SECRET),
    });
    Ok(s)
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let sim = Simulator::new(SimOptions {
            users,
            groups: None,
            seed: 9,
            token: TOKEN.into(),
        });
        // The setup crawl measures nothing: lift the rate limits so it takes seconds.
        sim.set_rate_limits(RateLimits {
            per_window: Some(10_000_000),
            ..Default::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let sim_addr = sim.serve(listener).map_err(|e| e.to_string())?;
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
            let app = Application::build(settings(sim_addr, dir.path(), interval, hook)?)
                .await
                .map_err(|e| e.to_string())?;
            let start = Instant::now();
            while app
                .store()
                .last_good_full_sync()
                .map_err(|e| e.to_string())?
                .is_none()
            {
                if start.elapsed() > Duration::from_secs(600) {
                    return Err("the first crawl did not finish".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
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
