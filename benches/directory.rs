//! The people directory in a real browser at 100,000 people: keystroke-to-results time of the
//! typeahead (from the last key's `keydown` to the suggestions for the whole text on screen,
//! measured on the page's own clock, debounce included) p50 / p99, and the bytes of the first
//! page (HTML, script and styles; the server sends them uncompressed).
//!
//! `cargo bench --bench directory` (OKTAMIRROR_BENCH_USERS for another size; needs chromium and
//! chromedriver like the browser tests).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use oktamirror::model::Person;
use oktamirror::search::{self, IndexOptions};

mod support;

/// How long a browser wait may take before the bench is called stuck.
pub const STUCK: Duration = Duration::from_secs(300);

#[allow(dead_code)]
#[path = "../tests/e2e/support/browser.rs"]
mod browser;

/// The script's debounce (`app.js`): part of what a person waits for.
const DEBOUNCE_MS: f64 = 120.0;

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() -> Result<(), String> {
    let rt = support::runtime()?;
    rt.block_on(run(support::bench_users()))
}

async fn run(users: usize) -> Result<(), String> {
    let started = Instant::now();
    let support::SyncedOrg {
        sim: _sim,
        addr: _,
        dir,
        store,
        run,
    } = support::synced_org(users).await?;
    println!(
        "org: {} people, {} groups synced in {:.1} s",
        run.users_fetched,
        run.groups_fetched,
        started.elapsed().as_secs_f64()
    );
    let index = search::Index::open(&search::index_dir(dir.path()), IndexOptions::default())
        .map_err(|e| e.to_string())?;
    index.catch_up(&store).map_err(|e| e.to_string())?;
    let addr =
        support::serve_mirror(&store, Some(Arc::new(index)), Duration::from_secs(10)).await?;
    let base = format!("http://{addr}");

    // The first page's bytes: the HTML and what it references.
    let http = reqwest::Client::new();
    let fetch = |path: String| {
        let http = http.clone();
        async move {
            http.get(path)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .bytes()
                .await
                .map_err(|e| e.to_string())
        }
    };
    let html = fetch(format!("{base}/")).await?;
    let text = String::from_utf8_lossy(&html).into_owned();
    let mut total = html.len();
    let mut parts = vec![format!("HTML {} B", html.len())];
    for asset in ["/assets/web/app.js", "/assets/web/app.css"] {
        assert!(text.contains(asset), "the page references {asset}");
        let n = fetch(format!("{base}{asset}")).await?.len();
        parts.push(format!("{asset} {n} B"));
        total += n;
    }
    println!(
        "first page: {total} bytes transferred ({})",
        parts.join(", ")
    );

    // Typeahead: "first 3 letters of the first name + first 2 of the last", spread over the org.
    let people: Vec<Person> = store
        .people_after(None)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let samples = if support::quick() { 10 } else { 300 };
    let step = (people.len() / samples).max(1);
    let queries: Vec<String> = people
        .iter()
        .step_by(step)
        .filter_map(|p| {
            let f: String = p.first_name.as_deref()?.chars().take(3).collect();
            let l: String = p.last_name.as_deref()?.chars().take(2).collect();
            Some(format!("{f} {l}"))
        })
        .take(samples)
        .collect();
    let Some(b) = browser::Browser::start().await else {
        println!("keystroke-to-results: skipped (no browser)");
        return Ok(());
    };
    b.goto(&format!("{base}/")).await;
    b.js(
        "window.__want = null; window.__t0 = 0; window.__t1 = 0;
         document.addEventListener('keydown', () => { window.__t0 = performance.now(); window.__t1 = 0; }, true);
         const list = document.getElementById('suggest');
         new MutationObserver(() => {
           if (!window.__t1 && list.dataset.q === window.__want && !list.hidden) window.__t1 = performance.now();
         }).observe(list, { attributes: true, childList: true });",
        json!([]),
    )
    .await;
    let q = b.find("#q").await;
    let mut times = Vec::with_capacity(queries.len());
    for (i, text) in queries.iter().enumerate() {
        b.js(
            "const q = document.getElementById('q'); q.value = ''; \
             const l = document.getElementById('suggest'); l.hidden = true; delete l.dataset.q; \
             window.__want = arguments[0]; window.__t1 = 0;",
            json!([text]),
        )
        .await;
        b.type_into(&q, text).await;
        b.wait("the suggestions", "return window.__t1 > 0;", json!([]))
            .await;
        let ms = b
            .js("return window.__t1 - window.__t0;", json!([]))
            .await
            .as_f64()
            .ok_or("no timing")?;
        // The first few warm the page and the index's caches.
        if i >= 3.min(queries.len() - 1) {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "keystroke to results ({} queries): p50 {:.1} ms   p99 {:.1} ms   (of which {DEBOUNCE_MS} ms is the debounce: p50 {:.1} / p99 {:.1} ms after it)",
        times.len(),
        pct(&times, 0.50),
        pct(&times, 0.99),
        pct(&times, 0.50) - DEBOUNCE_MS,
        pct(&times, 0.99) - DEBOUNCE_MS,
    );
    Ok(())
}
