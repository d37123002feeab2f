//! Issue 15 item 5: the search index built from a synced store, and `oktamirror serve` restarted
//! until `/readyz` answers 200, each timed with the serving process's peak RSS (benches/README.md).
//!
//! A simulated org is synced once into a temporary store (as `oktamirror sync --once` leaves it:
//! no search index). Then the real binary is started on it three ways: the first `serve` (which
//! builds the index before it is ready), restarts with the index in place, and a restart after a
//! SIGKILL; then `oktamirror sync --once` (which builds the index beside the sync) into a new
//! directory and the first `serve` after it. Each start is timed from the spawn to the first 200
//! from `/readyz`, and from there to a first search answer over GraphQL. `OKTAMIRROR_BENCH_USERS` sets the size (100,000; 2,000 as a smoke
//! test).

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oktamirror::search::{self, IndexOptions};
use oktamirror::store::Store;

fn main() -> Result<(), String> {
    let rt = support::runtime()?;
    rt.block_on(run(support::bench_users()))
}

/// A running `oktamirror serve` and the lines it logged.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

impl Serve {
    fn start(sim: SocketAddr, dir: &Path) -> Result<Serve, String> {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_oktamirror"))
            .arg("serve")
            .args(["--okta-url", &format!("http://{sim}")])
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("OKTAMIRROR_CONFIG")
            .env_remove("RUST_LOG")
            .env("OKTA_API_TOKEN", support::TOKEN)
            .env("OKTAMIRROR_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start oktamirror serve: {e}"))?;
        let stderr = child.stderr.take().ok_or("serve has no stderr")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            }
        });
        Ok(Serve {
            child,
            lines,
            started,
        })
    }

    fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// The address it serves on, once logged.
    async fn addr(&mut self) -> Result<SocketAddr, String> {
        loop {
            if let Some(addr) = self
                .log()
                .split("serving on http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .and_then(|a| a.parse().ok())
            {
                return Ok(addr);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("serve exited ({status}):\n{}", self.log()));
            }
            if self.started.elapsed() > Duration::from_secs(600) {
                return Err("serve did not listen within 10 minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Peak resident memory so far (`VmHWM`), in MiB.
    fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }

    fn terminate(mut self) -> Result<(), String> {
        Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .map_err(|e| e.to_string())?;
        self.child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    fn kill(mut self) -> Result<(), String> {
        self.child.kill().map_err(|e| e.to_string())?;
        self.child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Times one start: spawn → listening → `/readyz` 200 → a search answered.
struct Start {
    listening: Duration,
    ready: Duration,
    searched: Duration,
    peak_rss_mib: f64,
}

async fn measure(serve: &mut Serve) -> Result<Start, String> {
    let addr = serve.addr().await?;
    let listening = serve.started.elapsed();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("http://{addr}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        if serve.started.elapsed() > Duration::from_secs(1800) {
            return Err(format!(
                "serve was not ready within 30 minutes:\n{}",
                serve.log()
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ready = serve.started.elapsed();
    support::graphql(
        &client,
        &format!("http://{addr}/graphql"),
        "{ search(query: \"smi\", first: 5) { totalCount } }",
        serde_json::json!({}),
    )
    .await
    .map_err(|e| format!("the search failed: {e}"))?;
    Ok(Start {
        listening,
        ready,
        searched: serve.started.elapsed(),
        peak_rss_mib: serve.peak_rss_mib().unwrap_or(f64::NAN),
    })
}

fn print(what: &str, s: &Start) {
    println!(
        "{what:<44} listening {:>7.3} s   ready {:>7.3} s   search answered {:>7.3} s   peak RSS {:>6.0} MiB",
        s.listening.as_secs_f64(),
        s.ready.as_secs_f64(),
        s.searched.as_secs_f64(),
        s.peak_rss_mib
    );
}

async fn run(users: usize) -> Result<(), String> {
    let t = Instant::now();
    let org = support::synced_org(users).await?;
    println!(
        "org: {} people synced in {:.1} s",
        org.run.users_fetched,
        t.elapsed().as_secs_f64()
    );
    let (sim, addr, dir) = (org.sim, org.addr, org.dir);
    drop(org.store);

    // The index built in this process, alone (what `serve` does before it is ready).
    {
        let store = Store::open(dir.path()).map_err(|e| e.to_string())?;
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (t, cpu) = (Instant::now(), support::cpu_seconds());
        let index = search::Index::open(scratch.path(), IndexOptions::default())
            .map_err(|e| e.to_string())?;
        index.catch_up(&store).map_err(|e| e.to_string())?;
        println!(
            "index build in-process: {:.2} s ({:.2} s of CPU, all threads) for {} documents",
            t.elapsed().as_secs_f64(),
            support::cpu_seconds() - cpu,
            index.num_docs()
        );
        index.close();
    }

    let mut first = Serve::start(addr, dir.path())?;
    let s = measure(&mut first).await?;
    print("first serve (builds the index)", &s);
    if std::env::var_os("OKTAMIRROR_BENCH_LOG").is_some() {
        println!("{}", first.log());
    }
    first.terminate()?;

    for i in 1..=3 {
        let mut again = Serve::start(addr, dir.path())?;
        let s = measure(&mut again).await?;
        print(&format!("restart {i} (clean stop before)"), &s);
        if i < 3 {
            again.terminate()?;
        } else {
            again.kill()?;
        }
    }
    let mut after_kill = Serve::start(addr, dir.path())?;
    let s = measure(&mut after_kill).await?;
    print("restart after SIGKILL", &s);
    after_kill.terminate()?;

    // `oktamirror sync --once` builds the index beside the sync: the first serve after it.
    let fresh = tempfile::tempdir().map_err(|e| e.to_string())?;
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(["sync", "--once", "--okta-url", &format!("http://{addr}")])
        .arg("--data-dir")
        .arg(fresh.path())
        .env_remove("OKTAMIRROR_CONFIG")
        .env("OKTA_API_TOKEN", support::TOKEN)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "sync --once failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    println!(
        "sync --once with the index beside it: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut first = Serve::start(addr, fresh.path())?;
    let s = measure(&mut first).await?;
    print("first serve after sync --once", &s);
    first.terminate()?;
    drop(sim);
    Ok(())
}
