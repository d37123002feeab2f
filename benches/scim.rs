//! SCIM read benchmark over HTTP on a 100,000-person simulated org (synced once into a temp
//! store): p50/p99 of `userName eq` lookups, of a department filter's first page of 100, of
//! Group reads (the largest group, with and without members), and the rate of listing everyone
//! with `count=1000`. Targets: `userName eq` p99 < 2 ms, department page p99 < 10 ms.
//!
//! `cargo bench --bench scim` (OKTAMIRROR_BENCH_USERS for another size, OKTAMIRROR_BENCH_LIST=0
//! without the listing, OKTAMIRROR_BENCH_SAMPLES for fewer requests per measure, e.g. under
//! valgrind).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use oktamirror::model::Person;

mod support;

/// Requests per measure (`OKTAMIRROR_BENCH_SAMPLES`, else 1,000; department pages: at most 20
/// per department; group reads: a fifth).
fn samples() -> usize {
    support::env_num("OKTAMIRROR_BENCH_SAMPLES", 1000).max(1) as usize
}
const DEPARTMENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

/// p50 and p99 of `times`, in milliseconds, and the CPU time the process spent on each
/// request since `cpu` (`support::cpu_seconds` before the first): the server's threads and
/// the bench's client (its JSON parse included), the figure that does not move with the
/// machine's load.
fn report(label: &str, mut times: Vec<Duration>, cpu: f64) {
    let cpu_ms = (support::cpu_seconds() - cpu) * 1000.0 / times.len().max(1) as f64;
    times.sort();
    let pct = |p: f64| {
        let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    println!(
        "{label:<56} p50 {:>7.3} ms   p90 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms   CPU {cpu_ms:>6.2} ms/request   ({} samples)",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
        times.len()
    );
}

/// GETs `url` (a path and query under the server) and returns the SCIM JSON answer.
async fn get(client: &reqwest::Client, base: &str, path: &str) -> Result<Value, String> {
    let (bytes, _) = get_timed(client, base, path).await?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The body of a successful GET of `path`, with the time from sending the request to the
/// whole body received. Callers parse only what they check: a `Value` of a page of 100 users
/// costs the bench's thread about as much CPU as the server spends building it, which would
/// hide the server's share in the CPU figure.
async fn get_timed(
    client: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<(bytes::Bytes, Duration), String> {
    let t = Instant::now();
    let resp = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    let took = t.elapsed();
    if !status.is_success() {
        return Err(format!(
            "GET {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    Ok((bytes, took))
}

/// What the bench checks of a list answer, read without building its resources.
#[derive(serde::Deserialize)]
struct ListAnswer {
    #[serde(rename = "totalResults")]
    total: u64,
    #[serde(rename = "Resources", default)]
    resources: Vec<serde::de::IgnoredAny>,
}

fn list_answer(bytes: &[u8]) -> Result<ListAnswer, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn filter_path(filter: &str, extra: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("/scim/v2/Users?filter={enc}{extra}")
}

fn main() -> Result<(), String> {
    // `cargo test --benches` runs this without --bench: keep it short.
    let rt = support::runtime()?;
    rt.block_on(run(support::bench_users()))
}

async fn run(users: usize) -> Result<(), String> {
    let started = Instant::now();
    let support::SyncedOrg {
        sim,
        addr: _,
        dir: _dir,
        store,
        run,
    } = support::synced_org(users).await?;
    println!(
        "org: {} people, {} groups synced in {:.1} s",
        run.users_fetched,
        run.groups_fetched,
        started.elapsed().as_secs_f64()
    );
    let people: Vec<Person> = store
        .people_after(None)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    // The largest group, by the simulator's own count.
    let biggest = sim
        .groups()
        .iter()
        .filter_map(|g| g["id"].as_str().map(str::to_owned))
        .map(|id| (sim.group_members(&id).len(), id))
        .max()
        .ok_or("the org has no groups")?;

    let addr = support::serve_mirror(&store, None, Duration::from_secs(60)).await?;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    // userName eq: logins spread over the org.
    let samples = samples();
    let step = (people.len() / samples).max(1);
    let logins: Vec<&str> = people
        .iter()
        .step_by(step)
        .take(samples)
        .map(|p| p.login.as_str())
        .collect();
    let by_login = |l: &str| filter_path(&format!("userName eq {}", quoted(l)), "");
    for l in &logins {
        get(&client, &base, &by_login(l)).await?;
    }
    let mut times = Vec::with_capacity(logins.len());
    let cpu = support::cpu_seconds();
    for l in &logins {
        let (body, took) = get_timed(&client, &base, &by_login(l)).await?;
        times.push(took);
        let found = list_answer(&body)?;
        if found.total != 1 || found.resources.len() != 1 {
            return Err(format!("userName eq {l} found {}", found.total));
        }
    }
    report("Users?filter=userName eq (HTTP)", times, cpu);

    // A department's first page of 100, over every department in turn.
    let mut departments: BTreeMap<String, usize> = BTreeMap::new();
    for p in &people {
        if let Some(d) = &p.department {
            *departments.entry(d.clone()).or_default() += 1;
        }
    }
    let names: Vec<&String> = departments.keys().collect();
    let by_department =
        |d: &str| filter_path(&format!("{DEPARTMENT} eq {}", quoted(d)), "&count=100");
    for d in &names {
        get(&client, &base, &by_department(d)).await?;
    }
    let sizes: Vec<usize> = departments.values().copied().collect();
    // Whole users (groups, manager chains, raw profile), then only userName: the second shows
    // what the filter itself costs.
    for (label, extra) in [("", ""), (", attributes=userName", "&attributes=userName")] {
        let mut times = Vec::new();
        let cpu = support::cpu_seconds();
        for i in 0..samples.min(names.len() * 20) {
            let d = names[i % names.len()];
            let (body, took) =
                get_timed(&client, &base, &format!("{}{extra}", by_department(d))).await?;
            times.push(took);
            if list_answer(&body)?.resources.is_empty() {
                return Err(format!("department {d} answered no one"));
            }
        }
        report(
            &format!(
                "department eq, page of 100{label} (HTTP, {} departments of {}..{} people)",
                names.len(),
                sizes.iter().min().unwrap_or(&0),
                sizes.iter().max().unwrap_or(&0)
            ),
            times,
            cpu,
        );
    }

    // The largest group, whole (members inline up to the cap) and without members.
    for (label, extra) in [
        ("", ""),
        (
            ", excludedAttributes=members",
            "?excludedAttributes=members",
        ),
    ] {
        let path = format!("/scim/v2/Groups/{}{extra}", biggest.1);
        get(&client, &base, &path).await?;
        let mut times = Vec::new();
        let cpu = support::cpu_seconds();
        for _ in 0..(samples / 5).max(1) {
            times.push(get_timed(&client, &base, &path).await?.1);
        }
        report(
            &format!("Groups/{{id}} of {} members{label} (HTTP)", biggest.0),
            times,
            cpu,
        );
    }

    // Everyone, 1,000 a page (OKTAMIRROR_BENCH_LIST=0 leaves it out: it takes a minute or more).
    if support::env_num("OKTAMIRROR_BENCH_LIST", 1) == 0 {
        return Ok(());
    }
    let t = Instant::now();
    let mut seen = 0usize;
    let mut start = 1usize;
    let mut pages = Vec::new();
    loop {
        let page = Instant::now();
        let body = get(
            &client,
            &base,
            &format!("/scim/v2/Users?startIndex={start}&count=1000"),
        )
        .await?;
        pages.push(page.elapsed());
        let n = body["Resources"].as_array().map_or(0, Vec::len);
        seen += n;
        start += n;
        if n == 0 {
            break;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    if seen != people.len() {
        return Err(format!("listed {seen} of {} people", people.len()));
    }
    println!(
        "list everyone, count=1000 (HTTP): {seen} users in {secs:.1} s = {:.0} users/s",
        seen as f64 / secs
    );
    let (first, last) = (pages[0], pages[pages.len().saturating_sub(2)]);
    println!(
        "  first page {:.1} ms, last full page {:.1} ms",
        first.as_secs_f64() * 1000.0,
        last.as_secs_f64() * 1000.0
    );
    Ok(())
}
