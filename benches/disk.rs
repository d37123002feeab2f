//! Disk per person: one full sync into an empty store, then a simulated week of churn (each
//! day a few percent of people edited, moved, re-managed, joining and leaving groups, a few
//! hired and deactivated, then a reconcile), printing tree by tree where the bytes go and what
//! sled takes on disk. `OKTAMIRROR_BENCH_USERS` sets the org's size (default 100,000; 2,000
//! under `cargo test --benches`).

#[path = "support/mod.rs"]
mod support;

use std::path::Path;

use serde_json::{Map, Value, json};

use oktamirror::store::Store;
use support::{bench_users, runtime, synced_org};

/// Bytes of every file under `dir` (what `du -b` counts).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => bytes_under(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// One table of the store's trees and the totals, per person.
fn report(what: &str, store: &Store, dir: &Path, people: u64) -> Result<(), String> {
    store.flush().map_err(|e| e.to_string())?;
    let trees = store.footprint().map_err(|e| e.to_string())?;
    let on_disk = bytes_under(dir);
    let logical: u64 = trees.iter().map(|t| t.key_bytes + t.value_bytes).sum();
    let per = |b: u64| b as f64 / people.max(1) as f64;
    println!("\n{what}: {people} people");
    println!(
        "{:<20} {:>10} {:>12} {:>12} {:>10}",
        "tree", "entries", "key bytes", "value bytes", "B/person"
    );
    for t in trees.iter().filter(|t| t.entries > 0) {
        println!(
            "{:<20} {:>10} {:>12} {:>12} {:>10.0}",
            t.name,
            t.entries,
            t.key_bytes,
            t.value_bytes,
            per(t.key_bytes + t.value_bytes)
        );
    }
    println!(
        "logical (keys + values) {:.1} MB, {:.0} B/person; on disk {:.1} MB, {:.0} B/person (sled's own figure {:.1} MB); amplification {:.2}x",
        logical as f64 / 1e6,
        per(logical),
        on_disk as f64 / 1e6,
        per(on_disk),
        store.size_on_disk().map_err(|e| e.to_string())? as f64 / 1e6,
        on_disk as f64 / logical.max(1) as f64
    );
    Ok(())
}

/// A small deterministic generator (xorshift), so every run churns the same way.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn patch(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// One day of churn in a `users`-person org: 2 % edited, 1 % moved department, 0.5 % new
/// manager, 1 % join and 0.5 % leave a group, 0.1 % hired, 0.1 % deactivated.
fn churn_day(sim: &oktamirror::sim::Simulator, day: usize, rng: &mut Rng) {
    let users = sim.users();
    let groups: Vec<Value> = sim
        .groups()
        .into_iter()
        .filter(|g| g["type"] == "OKTA_GROUP")
        .collect();
    let n = users.len();
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    let pick = |rng: &mut Rng| &users[rng.below(n)];
    for _ in 0..n / 50 {
        let u = pick(rng);
        sim.update_profile(
            &id(u),
            patch(&[("title", json!(format!("Title {day}-{}", rng.below(500))))]),
        );
    }
    for _ in 0..n / 100 {
        let (u, other) = (pick(rng), pick(rng));
        sim.update_profile(
            &id(u),
            patch(&[("department", other["profile"]["department"].clone())]),
        );
    }
    for _ in 0..n / 200 {
        let (u, m) = (pick(rng), pick(rng));
        sim.update_profile(
            &id(u),
            patch(&[("managerId", m["profile"]["employeeNumber"].clone())]),
        );
    }
    for _ in 0..n / 100 {
        if !groups.is_empty() {
            let g = &groups[rng.below(groups.len())];
            sim.add_member(&id(g), &id(pick(rng)));
        }
    }
    for _ in 0..n / 200 {
        if !groups.is_empty() {
            let g = id(&groups[rng.below(groups.len())]);
            let members = sim.group_members(&g);
            if !members.is_empty() {
                sim.remove_member(&g, &members[rng.below(members.len())]);
            }
        }
    }
    for i in 0..(n / 1000).max(1) {
        let login = format!("hire.{day}.{i}@example.com");
        sim.create_user(
            patch(&[
                ("login", json!(login)),
                ("email", json!(login)),
                ("firstName", json!("New")),
                ("lastName", json!(format!("Hire{day}x{i}"))),
            ]),
            true,
        );
    }
    for _ in 0..(n / 1000).max(1) {
        sim.deactivate_user(&id(pick(rng)));
    }
}

fn main() -> Result<(), String> {
    let users = bench_users();
    let rt = runtime()?;
    rt.block_on(async {
        let org = synced_org(users).await?;
        let people = |s: &Store| s.people_count().map_err(|e| e.to_string());
        report(
            "after the first sync",
            &org.store,
            org.dir.path(),
            people(&org.store)?,
        )?;
        // The same data rewritten by `oktamirror backup` then `restore` (every tree written in
        // key order into a new store): what is left of the figure above is sled's log keeping
        // superseded pages, not the data.
        {
            let rewritten = tempfile::tempdir().map_err(|e| e.to_string())?;
            let file = rewritten.path().join("backup");
            let w = std::fs::File::create(&file).map_err(|e| e.to_string())?;
            org.store
                .write_snapshot(std::io::BufWriter::new(w))
                .map_err(|e| e.to_string())?;
            let r = std::fs::File::open(&file).map_err(|e| e.to_string())?;
            let dir = rewritten.path().join("store");
            Store::restore_snapshot(&dir, std::io::BufReader::new(r)).map_err(|e| e.to_string())?;
            let copy = Store::open(&dir).map_err(|e| e.to_string())?;
            report(
                "the same store rewritten by backup and restore",
                &copy,
                &dir,
                people(&copy)?,
            )?;
        }
        let source = support::source(
            &support::sim_url(org.addr),
            oktamirror::okta::ClientOptions::default(),
        )?;
        let mut rng = Rng(0x5EED_D15C);
        for day in 0..7 {
            if std::env::var_os("OKTAMIRROR_BENCH_NO_CHURN").is_none() {
                churn_day(&org.sim, day, &mut rng);
            }
            support::full_sync(&org.store, &source).await?;
        }
        report(
            "after a week of churn (a reconcile a day)",
            &org.store,
            org.dir.path(),
            people(&org.store)?,
        )
    })
}
