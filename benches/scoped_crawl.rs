//! Scoped-crawl bench: the requests of a full crawl of the whole simulated org against those of
//! a crawl scoped to about 5 % of its people (`include_groups` naming whole departments,
//! `users = "groups"`, their managers brought in up the chain). The target: the scoped crawl
//! makes at most 10 % of the whole crawl's requests. Requests are counted by the simulator.
//!
//! `cargo bench --bench scoped_crawl` runs 100,000 people (OKTAMIRROR_BENCH_USERS to change);
//! `cargo test --benches` runs 2,000 as a smoke test, without the target.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::Value;

use oktamirror::okta::ClientOptions;
use oktamirror::sim::Simulator;
use oktamirror::store::Store;
use oktamirror::sync::{self, NoProgress, Scope, Source, SyncConfig};

mod support;

/// The share of the org the scope's groups hold at most.
const SCOPE_SHARE: f64 = 0.05;

fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or_default()
}

/// Department groups, smallest first, while their members stay within `SCOPE_SHARE` of the org:
/// their exact names, and the members.
fn departments_within_share(sim: &Simulator, users: usize) -> (Vec<String>, BTreeSet<String>) {
    let mut departments: Vec<(String, Vec<String>)> = sim
        .groups()
        .iter()
        .filter(|g| text(g, "/profile/description").starts_with("All members of the"))
        .map(|g| {
            let id = text(g, "/id");
            (text(g, "/profile/name").to_owned(), sim.group_members(id))
        })
        .collect();
    departments.sort_by_key(|(_, m)| m.len());
    let (mut names, mut members) = (Vec::new(), BTreeSet::new());
    for (name, m) in departments {
        if (members.len() + m.len()) as f64 > SCOPE_SHARE * users as f64 {
            break;
        }
        names.push(name);
        members.extend(m);
    }
    (names, members)
}

/// One full crawl with `scope` into a fresh store: the simulator's requests, the people
/// mirrored and the seconds it took.
async fn crawl(sim: &Simulator, url: &str, scope: Scope) -> Result<(u64, u64, f64), String> {
    let source = support::source(url, ClientOptions::default())?
        .scoped(scope.clone())
        .await
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open(dir.path()).map_err(|e| e.to_string())?;
    let cfg = SyncConfig {
        scope,
        ..SyncConfig::default()
    };
    let before = sim.request_count();
    let started = Instant::now();
    let run = sync::run_full(&store, &source as &dyn Source, &cfg, &NoProgress).await;
    if let Some(e) = run.error {
        return Err(e);
    }
    let people = store.people_count().map_err(|e| e.to_string())?;
    Ok((
        sim.request_count() - before,
        people,
        started.elapsed().as_secs_f64(),
    ))
}

fn main() -> Result<(), String> {
    let users = support::bench_users();
    let rt = support::runtime()?;
    rt.block_on(async move {
        let groups = (users / 20).clamp(8, 5_000);
        let (sim, addr) = support::start_sim(users, Some(groups), 1, true).await?;
        let url = support::sim_url(addr);
        let (names, members) = departments_within_share(&sim, users);
        if names.is_empty() {
            return Err("no department is small enough for the scope".into());
        }
        let scope = Scope {
            include_groups: names.clone(),
            users_from_groups: true,
            ..Scope::default()
        };
        let (whole, whole_people, whole_secs) = crawl(&sim, &url, Scope::default()).await?;
        let (scoped, scoped_people, scoped_secs) = crawl(&sim, &url, scope).await?;
        let ratio = scoped as f64 / whole as f64;
        println!(
            "{users} people, {groups} groups; scope: {} ({} members, {:.1} % of the org)",
            names.join(", "),
            members.len(),
            100.0 * members.len() as f64 / users as f64
        );
        println!("whole crawl:  {whole} requests, {whole_people} people, {whole_secs:.1} s");
        println!(
            "scoped crawl: {scoped} requests, {scoped_people} people (with managers), {scoped_secs:.1} s"
        );
        println!("ratio: {:.2} % of the whole crawl's requests (target: at most 10 %)", 100.0 * ratio);
        if !support::quick() && ratio > 0.10 {
            return Err(format!("the scoped crawl made {:.1} % of the requests", 100.0 * ratio));
        }
        Ok(())
    })
}
