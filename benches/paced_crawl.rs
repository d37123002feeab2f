//! Paced-crawl bench: a full crawl of the simulator under a per-window rate limit, against the
//! bound (requests needed) / (allowed rate). Prints the ratio; the target is at most 1.1.
//!
//! Almost every request is a group-members call (one bucket), so the bound is that of one
//! bucket at `share × limit` requests per window. `cargo bench --bench paced_crawl` runs the
//! full size; `cargo test --benches` runs a small one. Sizes can be set with
//! OKTAMIRROR_BENCH_GROUPS, OKTAMIRROR_BENCH_LIMIT (per window) and OKTAMIRROR_BENCH_WINDOW_SECS.

use std::time::{Duration, Instant};

use oktamirror::okta::{Auth, ClientOptions, OktaSource};
use oktamirror::secret::Secret;
use oktamirror::sim::{RateLimits, SimOptions, Simulator};
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

const TOKEN: &str = "bench-token";
const SHARE: f64 = 0.5;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), String> {
    let quick = !std::env::args().any(|a| a == "--bench");
    let groups = env_num("OKTAMIRROR_BENCH_GROUPS", if quick { 40 } else { 300 }) as usize;
    let limit = env_num("OKTAMIRROR_BENCH_LIMIT", if quick { 40 } else { 100 }) as u32;
    let window = Duration::from_secs(env_num(
        "OKTAMIRROR_BENCH_WINDOW_SECS",
        if quick { 1 } else { 5 },
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let sim = Simulator::new(SimOptions {
            users: 400,
            groups: Some(groups),
            seed: 5,
            token: TOKEN.into(),
        });
        sim.set_rate_limits(RateLimits {
            per_window: Some(limit),
            window,
            ..Default::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = sim.serve(listener).map_err(|e| e.to_string())?;
        let base = url::Url::parse(&format!("http://{addr}/")).map_err(|e| e.to_string())?;
        let source = OktaSource::with_auth(
            base,
            Auth::Ssws(Secret::new(TOKEN)),
            ClientOptions {
                rate_limit_share: SHARE,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let store = Store::open(dir.path()).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let run = sync::run_full(
            &store,
            &source as &dyn Source,
            &SyncConfig::default(),
            &NoProgress,
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        if let Some(e) = run.error {
            return Err(e);
        }
        let allowed = (f64::from(limit) * SHARE).floor();
        let rate = allowed / window.as_secs_f64();
        let bound = run.requests as f64 / rate;
        let (rate_429, concurrency_429) = sim.rate_limit_rejections();
        println!(
            "paced crawl: {} requests, limit {limit} per {} s, share {:.0} % ({rate:.1} requests/s allowed)",
            run.requests,
            window.as_secs(),
            SHARE * 100.0
        );
        println!(
            "  took {secs:.1} s; bound (requests / allowed rate) {bound:.1} s; ratio {:.2} (target <= 1.10); 429s: {rate_429} rate, {concurrency_429} concurrency",
            secs / bound
        );
        Ok(())
    })
}
