//! Whole-org GraphQL answers over HTTP on a 100,000-person simulated org (synced once into a
//! temp store): p50/p99 of counts by status, department, title, city and country, the first page
//! of filtered lists (one attribute and two), `reports { totalCount }` of the top of the
//! hierarchy (every level and to a depth), its `orgChart`, groups' members by status, and
//! `departments` (cached, then after a title, department, deprovisioning or manager change).
//! Target (issue 15): p99 < 10 ms each.
//!
//! `cargo bench --bench org` (OKTAMIRROR_BENCH_USERS for another size).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use oktamirror::model::{Person, UserStatus};
use oktamirror::search::OrgCache;
use oktamirror::store::{Attr, Op, RawJson, Store};

mod support;

/// Requests per measure, unless `MAX_TIME` runs out first (the scans of older builds).
const SAMPLES: usize = 300;
const MAX_TIME: Duration = Duration::from_secs(30);

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let pct = |p: f64| {
        let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    println!(
        "{label:<64} p50 {:>8.3} ms   p99 {:>8.3} ms   ({} samples)",
        pct(0.50),
        pct(0.99),
        times.len()
    );
}

/// POSTs a GraphQL query; the `data`, or the errors as text.
async fn post(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    vars: Value,
) -> Result<Value, String> {
    Ok(support::graphql(client, url, query, vars).await?["data"].take())
}

/// Times `query` with the variables `vars(i)` for sample `i`; `check` sees the first answer.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    label: &str,
    query: &str,
    vars: impl Fn(usize) -> Value,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Result<(), String> {
    check(&post(client, url, query, vars(0)).await?)?;
    let started = Instant::now();
    let mut times = Vec::new();
    for i in 0..SAMPLES {
        let t = Instant::now();
        post(client, url, query, vars(i)).await?;
        times.push(t.elapsed());
        if started.elapsed() > MAX_TIME {
            break;
        }
    }
    report(label, times);
    Ok(())
}

fn main() -> Result<(), String> {
    let rt = support::runtime()?;
    rt.block_on(run(support::bench_users()))
}

/// The values of one attribute across `people`, most common first.
fn values(people: &[Person], of: impl Fn(&Person) -> Option<&String>) -> Vec<String> {
    let mut n: BTreeMap<String, usize> = BTreeMap::new();
    for p in people {
        if let Some(v) = of(p) {
            *n.entry(v.clone()).or_default() += 1;
        }
    }
    let mut v: Vec<(usize, String)> = n.into_iter().map(|(k, c)| (c, k)).collect();
    v.sort_by(|a, b| b.cmp(a));
    v.into_iter().map(|(_, k)| k).collect()
}

async fn run(users: usize) -> Result<(), String> {
    let started = Instant::now();
    let support::SyncedOrg {
        sim: _sim,
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
    // The top of the hierarchy: the root with the most people under it.
    let mut top = (0usize, String::new());
    for p in people.iter().filter(|p| p.manager_id.is_none()) {
        let n = oktamirror::search::reports(&store, &p.id, None)
            .map_err(|e| e.to_string())?
            .len();
        top = top.max((n, p.id.clone()));
    }
    let (top_size, top) = top;
    let departments = values(&people, |p| p.department.as_ref());
    let titles = values(&people, |p| p.title.as_ref());
    let cities = values(&people, |p| p.city.as_ref());
    let countries = values(&people, |p| p.country_code.as_ref());

    let addr = support::serve_mirror(&store, None, Duration::from_secs(60)).await?;
    let url = format!("http://{addr}/graphql");
    let c = reqwest::Client::new();
    let none = |_: &Value| Ok(());
    let rot = |list: &[String], i: usize| list[i % list.len()].clone();

    let count_q = "query($f: PeopleFilter) { people(filter: $f, first: 0) { totalCount } }";
    measure(
        &c,
        &url,
        "people totalCount, default (not deprovisioned)",
        count_q,
        |_| json!({}),
        none,
    )
    .await?;
    measure(
        &c,
        &url,
        "people totalCount, status ACTIVE",
        count_q,
        |_| json!({"f": {"status": ["ACTIVE"]}}),
        none,
    )
    .await?;
    for (label, key, list) in [
        ("department", "department", &departments),
        ("title", "title", &titles),
        ("city", "city", &cities),
        ("countryCode", "countryCode", &countries),
    ] {
        measure(
            &c,
            &url,
            &format!(
                "people totalCount by {label} ({} values in turn)",
                list.len()
            ),
            count_q,
            |i| json!({"f": {key: rot(list, i)}}),
            none,
        )
        .await?;
    }
    let page_q = "query($f: PeopleFilter) { people(filter: $f, first: 20) { nodes { id displayName } pageInfo { endCursor } } }";
    measure(
        &c,
        &url,
        "first page of 20, filter city",
        page_q,
        |i| json!({"f": {"city": rot(&cities, i)}}),
        none,
    )
    .await?;
    measure(
        &c,
        &url,
        "first page of 20, filter department + title",
        page_q,
        |i| json!({"f": {"department": rot(&departments, i), "title": rot(&titles, i / 7)}}),
        none,
    )
    .await?;
    measure(&c, &url, "totalCount, filter department + countryCode", count_q,
        |i| json!({"f": {"department": rot(&departments, i), "countryCode": rot(&countries, i / 5)}}),
        none).await?;
    let reports_q =
        "query($id: ID!) { person(id: $id) { reports(first: 10) { totalCount nodes { id } } } }";
    let want = top_size;
    measure(
        &c,
        &url,
        &format!("reports(first: 10) {{ totalCount }} of the top ({top_size} people)"),
        reports_q,
        |_| json!({"id": top}),
        |d| match d["person"]["reports"]["totalCount"].as_u64() {
            Some(n) if n as usize == want => Ok(()),
            other => Err(format!("reports of the top: {other:?}, walked {want}")),
        },
    )
    .await?;
    let reports_depth_q = "query($id: ID!, $d: Int) { person(id: $id) { reports(depth: $d, first: 10) { totalCount nodes { id } } } }";
    for depth in [2, 4, 6] {
        measure(
            &c,
            &url,
            &format!("reports(depth: {depth}, first: 10) {{ totalCount }} of the top"),
            reports_depth_q,
            |_| json!({"id": top, "d": depth}),
            none,
        )
        .await?;
    }
    let chart_q = "query($id: ID!) { orgChart(rootId: $id, depth: 2) { person { id } directReportCount reportCount reports { person { id } directReportCount reportCount reports { person { id } } } } }";
    measure(
        &c,
        &url,
        "orgChart(depth: 2) of the top, with reportCount",
        chart_q,
        |_| json!({"id": top}),
        none,
    )
    .await?;
    // The 50 largest groups: members counted by status (a `directory` key's memberCount leaves
    // deprovisioned members out the same way).
    let groups = post(
        &c,
        &url,
        "{ groups(first: 1000) { nodes { id memberCount } } }",
        json!({}),
    )
    .await?;
    let mut sized: Vec<(u64, String)> = groups["groups"]["nodes"]
        .as_array()
        .ok_or("no groups")?
        .iter()
        .filter_map(|g| Some((g["memberCount"].as_u64()?, g["id"].as_str()?.to_owned())))
        .collect();
    sized.sort_by(|a, b| b.cmp(a));
    let largest: Vec<String> = sized.into_iter().take(50).map(|(_, id)| id).collect();
    let members_q = "query($id: ID!) { group(id: $id) { members(first: 0, status: [ACTIVE, SUSPENDED]) { totalCount } } }";
    measure(
        &c,
        &url,
        &format!("group members(status: [ACTIVE, SUSPENDED]) {{ totalCount }} ({} largest groups in turn)", largest.len()),
        members_q,
        |i| json!({"id": rot(&largest, i)}),
        none,
    )
    .await?;
    let depts_q = "{ departments { name headcount head { id } } }";
    measure(
        &c,
        &url,
        "departments { headcount head } (cached)",
        depts_q,
        |_| json!({}),
        none,
    )
    .await?;
    // Each request after a change: one person's title (or department, or status) flips, or
    // a manager with a team moves between the top and their own manager, so nothing cached
    // holds.
    let subject = people
        .iter()
        .find(|p| p.manager_id.is_some() && p.department.is_some())
        .ok_or("nobody has a manager and a department")?
        .clone();
    // The mover: of the people two levels under the top, the one with the most direct
    // reports (their whole team shifts one level up and back).
    let mut direct: HashMap<&str, usize> = HashMap::new();
    for p in &people {
        if let Some(m) = &p.manager_id {
            *direct.entry(m.as_str()).or_default() += 1;
        }
    }
    let level1: HashSet<&str> = people
        .iter()
        .filter(|p| p.manager_id.as_deref() == Some(top.as_str()))
        .map(|p| p.id.as_str())
        .collect();
    let mover = people
        .iter()
        .filter(|p| p.manager_id.as_deref().is_some_and(|m| level1.contains(m)))
        .max_by_key(|p| {
            (
                direct.get(p.id.as_str()).copied().unwrap_or(0),
                Reverse(p.id.clone()),
            )
        })
        .ok_or("nobody two levels under the top")?
        .clone();
    let mover_team = oktamirror::search::reports(&store, &mover.id, None)
        .map_err(|e| e.to_string())?
        .len();
    let other_department = departments
        .iter()
        .find(|d| Some(*d) != subject.department.as_ref())
        .cloned();
    type Change<'a> = &'a dyn Fn(&mut Person, usize);
    let title: Change = &|p, i| p.title = Some(format!("Bench title {}", i % 2));
    let department: Change = &|p, i| {
        if i % 2 == 1 {
            p.department = other_department.clone();
        }
    };
    let deprovision: Change = &|p, i| {
        if i % 2 == 1 {
            p.status = UserStatus::Deprovisioned;
        }
    };
    let manager: Change = &|p, i| {
        if i % 2 == 1 {
            p.manager_id = Some(top.clone());
        }
    };
    let moved_label = format!(
        "departments {{ headcount head }} after a manager change ({} people move a level)",
        mover_team + 1
    );
    for (label, query, vars, who, change) in [
        (
            "departments { headcount head } after a title change",
            depts_q,
            json!({}),
            &subject,
            title,
        ),
        (
            "departments { headcount head } after a department change",
            depts_q,
            json!({}),
            &subject,
            department,
        ),
        (
            "departments { headcount head } after a deprovisioning",
            depts_q,
            json!({}),
            &subject,
            deprovision,
        ),
        (moved_label.as_str(), depts_q, json!({}), &mover, manager),
        (
            "people totalCount by title, after a change",
            count_q,
            json!({"f": {"title": titles[0]}}),
            &subject,
            title,
        ),
    ] {
        let raw = store
            .person_raw(&who.id)
            .map_err(|e| e.to_string())?
            .ok_or("no raw record")?;
        let mut times = Vec::new();
        let t0 = Instant::now();
        for i in 0..SAMPLES {
            let mut p = who.clone();
            change(&mut p, i);
            store
                .apply(
                    &[Op::PutPerson {
                        person: Box::new(p),
                        raw: RawJson::from(&raw),
                    }],
                    &[],
                )
                .map_err(|e| e.to_string())?;
            let t = Instant::now();
            post(&c, &url, query, vars.clone()).await?;
            times.push(t.elapsed());
            if t0.elapsed() > MAX_TIME {
                break;
            }
        }
        report(label, times);
        // Leave the person as found for the next measure.
        store
            .apply(
                &[Op::PutPerson {
                    person: Box::new(who.clone()),
                    raw: RawJson::from(&raw),
                }],
                &[],
            )
            .map_err(|e| e.to_string())?;
    }
    in_process(&store, &top, &departments, &titles, &countries)
}

/// The roster's part of the measures above, in process (no HTTP, no store read per answer):
/// p50/p99 and the roster entries each answer examined on average, the part that grows with
/// the org (steadier than the HTTP times on a busy machine).
fn in_process(
    store: &Store,
    top: &str,
    departments: &[String],
    titles: &[String],
    countries: &[String],
) -> Result<(), String> {
    let cache = OrgCache::default();
    let shown: Vec<UserStatus> = UserStatus::ALL
        .into_iter()
        .filter(|s| *s != UserStatus::Deprovisioned)
        .collect();
    let rot = |list: &[String], i: usize| list[i % list.len()].clone();
    let time = |label: &str, f: &dyn Fn(usize) -> Result<u64, String>| -> Result<(), String> {
        // The first call builds the roster.
        f(0)?;
        let mut times = Vec::new();
        let mut examined = 0u64;
        for i in 0..SAMPLES {
            let t = Instant::now();
            examined += f(i)?;
            times.push(t.elapsed());
        }
        report(
            &format!(
                "{label}: in process, {} examined",
                examined / SAMPLES as u64
            ),
            times,
        );
        Ok(())
    };
    time("page of 21 ids, department + title", &|i| {
        let (d, t) = (rot(departments, i), rot(titles, i / 7));
        let attrs = [(Attr::Department, d.as_str()), (Attr::Title, t.as_str())];
        let (_, work) = cache
            .ids_after(store, &attrs, &shown, None, 21)
            .map_err(|e| e.to_string())?;
        Ok(work.examined)
    })?;
    time("count, department + countryCode", &|i| {
        let (d, c) = (rot(departments, i), rot(countries, i / 5));
        let attrs = [
            (Attr::Department, d.as_str()),
            (Attr::CountryCode, c.as_str()),
        ];
        let (_, work) = cache
            .count(store, &attrs, &shown)
            .map_err(|e| e.to_string())?;
        Ok(work.examined)
    })?;
    let held = cache.sizes(store).map_err(|e| e.to_string())?;
    println!(
        "roster: {} people, entries of {} bytes; {} people with level counts, {} levels ({:.2} bytes a person); {} heavy values, {} pairs counted (about {:.2} bytes a person)",
        held.people,
        held.entry_bytes,
        held.with_levels,
        held.levels,
        (held.levels * 8) as f64 / held.people.max(1) as f64,
        held.heavy_values,
        held.pairs,
        (held.pairs * (12 + 4 * UserStatus::ALL.len())) as f64 / held.people.max(1) as f64
    );
    for depth in [2, 4, 6] {
        // `limit` 0: the count alone; 11: the count and the page the HTTP measure asks.
        for limit in [0, 11] {
            time(&format!("reports to depth {depth}, limit {limit}"), &|_| {
                let (_, work) = cache
                    .reports_within(store, top, depth, false, None, limit)
                    .map_err(|e| e.to_string())?;
                Ok(work.examined)
            })?;
        }
    }
    Ok(())
}
