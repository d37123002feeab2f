//! Search and org-chart benchmark over a 100,000-person simulated org (synced once into a temp
//! store, then indexed): p50/p99 latency of typeahead and typo'd searches (in-process and over
//! HTTP), managerChain, reports of a department head, and person(login:) requests per second
//! with 64 concurrent connections.
//!
//! `cargo bench --bench search` (OKTAMIRROR_BENCH_USERS for another size).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use oktamirror::model::{Person, UserStatus};
use oktamirror::search::{self, Departments, IndexOptions, ParsedQuery};
use oktamirror::store::PersonFilter;

mod support;

const SAMPLES: usize = 1000;

/// Prints p50/p99 of `times` under `label`.
fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let pct = |p: f64| {
        let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    println!(
        "{label:<48} p50 {:>7.3} ms   p99 {:>7.3} ms   ({} samples)",
        pct(0.50),
        pct(0.99),
        times.len()
    );
}

fn typo(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() >= 4 {
        c.swap(1, 2);
    }
    c.into_iter().collect()
}

fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Typeahead prefixes ("jon sm") and typo'd full names ("jnoathan smith") from the data.
fn queries(people: &[Person]) -> (Vec<String>, Vec<String>) {
    let step = (people.len() / SAMPLES).max(1);
    let mut typeahead = Vec::new();
    let mut typos = Vec::new();
    for p in people.iter().step_by(step).take(SAMPLES) {
        let (Some(f), Some(l)) = (&p.first_name, &p.last_name) else {
            continue;
        };
        typeahead.push(format!("{} {}", prefix(f, 3), prefix(l, 2)));
        typos.push(format!("{} {}", typo(f), l));
    }
    (typeahead, typos)
}

async fn post(client: &reqwest::Client, url: &str, query: &str, vars: Value) -> Result<(), String> {
    support::graphql(client, url, query, vars).await.map(drop)
}

fn main() -> Result<(), String> {
    // `cargo test --benches` runs this without --bench: keep it short.
    let rt = support::runtime()?;
    rt.block_on(run(support::bench_users()))
}

async fn run(users: usize) -> Result<(), String> {
    let started = Instant::now();
    // The setup sync measures nothing here: rate limits lifted so it takes seconds.
    let support::SyncedOrg {
        sim: _sim,
        addr: _,
        dir,
        store,
        run,
    } = support::synced_org(users).await?;
    println!(
        "org: {} people synced in {:.1} s",
        run.users_fetched,
        started.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let index = search::Index::open(&search::index_dir(dir.path()), IndexOptions::default())
        .map_err(|e| e.to_string())?;
    index.catch_up(&store).map_err(|e| e.to_string())?;
    println!("index built in {:.1} s", t.elapsed().as_secs_f64());
    let index = Arc::new(index);

    let people: Vec<Person> = store
        .people_after(None)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let (typeahead, typos) = queries(&people);
    let everyone = PersonFilter::default();

    // One untimed pass warms the page cache (the index is memory-mapped).
    for q in typeahead.iter().chain(&typos) {
        let parsed = ParsedQuery::parse(q).map_err(|e| e.to_string())?;
        index
            .search(&parsed, &everyone, 0, 10)
            .map_err(|e| e.to_string())?;
    }
    for (label, qs) in [("typeahead", &typeahead), ("typo'd name", &typos)] {
        let mut times = Vec::with_capacity(qs.len());
        for q in qs {
            let t = Instant::now();
            let parsed = ParsedQuery::parse(q).map_err(|e| e.to_string())?;
            index
                .search(&parsed, &everyone, 0, 10)
                .map_err(|e| e.to_string())?;
            times.push(t.elapsed());
        }
        report(&format!("search {label} (in-process, top 10)"), times);
    }

    let sample: Vec<&Person> = people
        .iter()
        .step_by((people.len() / SAMPLES).max(1))
        .collect();
    let mut times = Vec::new();
    for p in &sample {
        let t = Instant::now();
        search::manager_chain(&store, p).map_err(|e| e.to_string())?;
        times.push(t.elapsed());
    }
    report("managerChain (in-process)", times);

    let departments = Departments::compute(&store).map_err(|e| e.to_string())?;
    let heads: Vec<String> = departments
        .departments
        .iter()
        .filter_map(|d| d.head.as_deref().map(str::to_owned))
        .collect();
    let mut times = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..200 {
        let head = &heads[i % heads.len()];
        let t = Instant::now();
        let r = search::reports(&store, head, None).map_err(|e| e.to_string())?;
        times.push(t.elapsed());
        sizes.push(r.len());
    }
    sizes.sort();
    report(
        &format!(
            "reports of a department head (in-process, median {} people)",
            sizes[sizes.len() / 2]
        ),
        times,
    );

    // The real router over HTTP.
    let addr = support::serve_mirror(
        &store,
        Some(index.clone()),
        std::time::Duration::from_secs(10),
    )
    .await?;
    let url = format!("http://{addr}/graphql");
    let client = reqwest::Client::new();
    let search_q = "query($q: String!) { search(query: $q, first: 10) { edges { score node { id displayName title } } } }";
    for (label, qs) in [("typeahead", &typeahead), ("typo'd name", &typos)] {
        let mut times = Vec::with_capacity(qs.len());
        for q in qs {
            let t = Instant::now();
            post(&client, &url, search_q, json!({"q": q})).await?;
            times.push(t.elapsed());
        }
        report(&format!("search {label} (HTTP, top 10)"), times);
    }
    let chain_q = "query($id: ID!) { person(id: $id) { managerChain { id displayName } } }";
    let mut times = Vec::new();
    for p in &sample {
        let t = Instant::now();
        post(&client, &url, chain_q, json!({"id": p.id})).await?;
        times.push(t.elapsed());
    }
    report("managerChain (HTTP)", times);

    // person(login:) throughput: 64 connections, each sending requests back to back.
    let logins: Arc<Vec<String>> = Arc::new(
        people
            .iter()
            .filter(|p| p.status == UserStatus::Active)
            .map(|p| p.login.clone())
            .take(10_000)
            .collect(),
    );
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let duration = Duration::from_secs(5);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..64 {
        let (logins, done, failed, url) =
            (logins.clone(), done.clone(), failed.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_default();
            let mut i = c;
            while start.elapsed() < duration {
                let login = &logins[i % logins.len()];
                let body = json!({"query": "query($l: String!) { person(login: $l) { id displayName title } }",
                    "variables": {"l": login}});
                let ok = match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                let counter = if ok { &done } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
                i += 64;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "person(login:) over HTTP, 64 connections: {:.0} requests/s ({} ok, {} failed in {secs:.1} s)",
        done.load(Ordering::Relaxed) as f64 / secs,
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
