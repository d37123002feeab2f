//! Setup the benches share: the simulator in-process on port 0 (rate limits lifted where the
//! bench measures something else), an Okta client of it, one full sync into a store, settings
//! of a mirror (from the same file the end-to-end tests build theirs with), and env sizes.
#![allow(dead_code, unused_imports)] // each bench uses its own subset

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use oktamirror::okta::{Auth, ClientOptions, OktaSource};
use oktamirror::secret::Secret;
use oktamirror::sim::{RateLimits, SimOptions, Simulator};
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

#[path = "../../tests/e2e/support/settings.rs"]
mod settings;
pub use settings::{AppOptions, settings};

/// The binary's allocator (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub const TOKEN: &str = "bench-token";

/// A number from the environment, else `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `cargo bench` passes --bench; `cargo test --benches` runs a bench with no such flag.
pub fn quick() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// A simulated org served in this process; `lifted` lifts Okta's rate limits (for benches
/// whose setup crawl measures nothing).
pub async fn start_sim(
    users: usize,
    groups: Option<usize>,
    seed: u64,
    lifted: bool,
) -> Result<(Simulator, SocketAddr), String> {
    let sim = Simulator::new(SimOptions {
        users,
        groups,
        seed,
        token: TOKEN.into(),
    });
    if lifted {
        sim.set_rate_limits(RateLimits {
            per_window: Some(10_000_000),
            ..Default::default()
        });
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = sim.serve(listener).map_err(|e| e.to_string())?;
    Ok((sim, addr))
}

/// The production client of the simulator at `url` (like `http://127.0.0.1:1234/`).
pub fn source(url: &str, opts: ClientOptions) -> Result<OktaSource, String> {
    let base = url::Url::parse(url).map_err(|e| e.to_string())?;
    OktaSource::with_auth(base, Auth::Ssws(Secret::new(TOKEN)), opts).map_err(|e| e.to_string())
}

pub fn sim_url(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

/// One full sync of `source` into `store`; the run, or its error.
pub async fn full_sync(
    store: &Store,
    source: &OktaSource,
) -> Result<oktamirror::model::SyncRun, String> {
    let run = sync::run_full(
        store,
        source as &dyn Source,
        &SyncConfig::default(),
        &NoProgress,
    )
    .await;
    match &run.error {
        Some(e) => Err(e.clone()),
        None => Ok(run),
    }
}

/// Users in a read bench's org: `OKTAMIRROR_BENCH_USERS`, else 100,000 (2,000 under
/// `cargo test --benches`, which runs benches as a smoke test).
pub fn bench_users() -> usize {
    env_num(
        "OKTAMIRROR_BENCH_USERS",
        if quick() { 2_000 } else { 100_000 },
    ) as usize
}

/// The org a read bench measures: `users` people (seed 1, a group per 20 of them, 8 to 5,000,
/// or `OKTAMIRROR_BENCH_GROUPS`)
/// served with rate limits lifted (the setup crawl measures nothing), synced once into a store
/// in a temporary directory (its page cache `OKTAMIRROR_STORE_CACHE_MB`, as for `serve`).
pub struct SyncedOrg {
    pub sim: Simulator,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub run: oktamirror::model::SyncRun,
}

/// Opens a bench's store with the page cache `serve` would give it from
/// `OKTAMIRROR_STORE_CACHE_MB` (default 64).
pub fn open_store(dir: &std::path::Path) -> Result<Store, String> {
    let options = oktamirror::store::StoreOptions {
        cache_bytes: env_num("OKTAMIRROR_STORE_CACHE_MB", 64) << 20,
    };
    Store::open_with(dir, &options).map_err(|e| e.to_string())
}

pub async fn synced_org(users: usize) -> Result<SyncedOrg, String> {
    let groups = env_num(
        "OKTAMIRROR_BENCH_GROUPS",
        (users / 20).clamp(8, 5_000) as u64,
    );
    let (sim, sim_addr) = start_sim(users, Some(groups as usize), 1, true).await?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = open_store(dir.path())?;
    // The first sync as it was before the initial load existed, for before/after figures.
    if std::env::var_os("OKTAMIRROR_BENCH_TRANSACTIONAL_LOAD").is_some() {
        store.set_initial_load(false);
    }
    let source = source(&sim_url(sim_addr), ClientOptions::default())?;
    let run = full_sync(&store, &source).await?;
    Ok(SyncedOrg {
        sim,
        addr: sim_addr,
        dir,
        store,
        run,
    })
}

/// Waits until `store` holds a completed full sync (at most `limit`).
pub async fn wait_first_sync(store: &Store, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    while store
        .last_good_full_sync()
        .map_err(|e| e.to_string())?
        .is_none()
    {
        if start.elapsed() > limit {
            return Err("the first crawl did not finish".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The real router (the open loopback variant) over `store` and `index`, served on a loopback
/// port in this process; its address. Every bench that talks HTTP to the mirror starts it here.
/// POSTs a GraphQL `query` with `vars` to `url` and returns the whole answer; an answer with
/// `errors` is an error naming the query.
pub async fn graphql(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    vars: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let body: serde_json::Value = client
        .post(url)
        .json(&serde_json::json!({"query": query, "variables": vars}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    match body.get("errors") {
        None => Ok(body),
        Some(e) => Err(format!("{query}: GraphQL errors: {e}")),
    }
}

pub async fn serve_mirror(
    store: &Store,
    index: Option<std::sync::Arc<oktamirror::search::Index>>,
    request_timeout: Duration,
) -> Result<SocketAddr, String> {
    use oktamirror::access::{Mirror, Policy};
    let app = oktamirror::api::router(oktamirror::api::ApiState {
        mirror: Mirror::new(store.clone(), index, Policy::default()),
        control: None,
        hook: None,
        provisioning: None,
        request_timeout,
        max_staleness: None,
        stop: None,
        web: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// CPU time of this process so far, every thread's user and system time (`/proc/self/stat`,
/// in clock ticks of 1/100 s): on a shared machine the work, where wall time is the load.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start at field 3, so utime and stime (14 and 15) are the 12th and 13th of them.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}
