//! Paced-crawl bench: a full crawl of the simulator under a per-window rate limit, against the
//! bound (requests needed) / (allowed rate). Prints the ratio; the target is at most 1.1.
//!
//! Almost every request is a group-members call (one bucket), so the bound is that of one
//! bucket at `share × limit` requests per window. `cargo bench --bench paced_crawl` runs the
//! full size; `cargo test --benches` runs a small one. Sizes can be set with
//! OKTAMIRROR_BENCH_GROUPS, OKTAMIRROR_BENCH_LIMIT (per window) and OKTAMIRROR_BENCH_WINDOW_SECS.

use std::time::{Duration, Instant};

use oktamirror::okta::ClientOptions;
use oktamirror::sim::RateLimits;
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

mod support;
use support::env_num;

const SHARE: f64 = 0.5;

fn main() -> Result<(), String> {
    let quick = support::quick();
    let groups = env_num("OKTAMIRROR_BENCH_GROUPS", if quick { 40 } else { 300 }) as usize;
    let limit = env_num("OKTAMIRROR_BENCH_LIMIT", if quick { 40 } else { 100 }) as u32;
    let window = Duration::from_secs(env_num(
        "OKTAMIRROR_BENCH_WINDOW_SECS",
        if quick { 1 } else { 5 },
    ));
    let rt = support::runtime()?;
    rt.block_on(async move {
        let (sim, addr) = support::start_sim(400, Some(groups), 5, false).await?;
        sim.set_rate_limits(RateLimits {
            per_window: Some(limit),
            window,
            ..Default::default()
        });
        let source = support::source(
            &support::sim_url(addr),
            ClientOptions {
                rate_limit_share: SHARE,
                ..Default::default()
            },
        )?;
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
