//! `oktamirror sync --once`: one full sync into the data directory (the search index built beside
//! it), with a progress bar on a terminal (plain periodic lines elsewhere) and a one-line summary.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use oktamirror::configuration::{Options, Settings};
use oktamirror::model::SyncRun;
use oktamirror::okta::OktaSource;
use oktamirror::search;
use oktamirror::store::Store;
use oktamirror::sync::{self, Progress, ProgressEvent, Source};

use super::{CliError, token_env};

pub async fn run(once: bool, opts: Options) -> Result<(), CliError> {
    if !once {
        return Err(CliError::Failed("continuous sync runs inside `oktamirror serve`; for one full sync into the data directory, pass --once".into()));
    }
    let settings = Settings::resolve(opts, token_env())?;
    sync_once(settings).await
}

async fn sync_once(settings: Settings) -> Result<(), CliError> {
    let okta = settings.require_okta("sync")?.clone();
    let store = Store::open_with(&settings.data_dir, &settings.store)?;
    if let Some(other) = store.claim_source("okta")? {
        return Err(CliError::Failed(format!(
            "the data directory {} holds a mirror fed by source {other}: a crawl of the Okta API would mix with it; give --data-dir a new directory",
            settings.data_dir.display()
        )));
    }
    oktamirror::startup::adopt_attribute_map(&store, &settings.sync.engine)?;
    let source = OktaSource::with_auth(okta.url, okta.auth, okta.client)?;
    source.preflight().await?;
    let source = source.scoped(settings.sync.engine.scope.clone()).await?;
    // The search index follows the store while the sync applies (on the cores the apply leaves
    // idle), so the first `serve` afterwards is ready at once instead of building it first.
    // An index that cannot be opened is left to `serve`: the sync matters more.
    let index = match search::Index::open(
        &search::index_dir(&settings.data_dir),
        search::IndexOptions {
            custom_attributes: settings.search.attributes.clone(),
        },
    ) {
        Ok(index) => Some(Arc::new(index)),
        Err(e) => {
            eprintln!("warning: the search index is not built during this sync: {e}");
            None
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = index.map(|index| {
        let task = tokio::spawn(search::follow(index.clone(), store.clone(), stopped));
        (index, task)
    });
    let started = Instant::now();
    let progress = BarProgress::new();
    let run = sync::run_full(
        &store,
        &source as &dyn Source,
        &settings.sync.engine,
        &progress,
    )
    .await;
    progress.finish();
    let _ = stop.send(true);
    let indexed = match follower {
        Some((index, task)) => {
            let _ = task.await;
            let (i, s) = (index.clone(), store.clone());
            let caught_up = tokio::task::spawn_blocking(move || i.catch_up(&s))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            index.close();
            caught_up.map(|_| ())
        }
        None => Ok(()),
    };
    // sled 0.34 writes its snapshot (where each page is in its log) only when a database
    // opens, and an open replays the log written since the last one: after a first sync that
    // is the whole store (28 s at a million people). Opening it once more here, while the
    // user waits for the sync anyway, makes the first `serve` start at once.
    drop(store);
    if let Err(e) = Store::open_with(&settings.data_dir, &settings.store) {
        eprintln!(
            "warning: the store could not be opened again after the sync ({e}); `oktamirror serve` reads it from its log when it starts"
        );
    }
    for w in &run.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("{}", summary(&run, started.elapsed().as_secs_f64()));
    if let Err(e) = indexed {
        eprintln!(
            "warning: the search index is behind the store ({e}); `oktamirror serve` brings it up to date before it is ready"
        );
    }
    match run.error {
        None => Ok(()),
        Some(e) => Err(CliError::Failed(format!(
            "the full sync failed and the mirror is unchanged: {e}"
        ))),
    }
}

/// The one line `sync --once` ends with.
fn summary(run: &SyncRun, secs: f64) -> String {
    let c = &run.changes;
    format!(
        "oktamirror: full sync {} in {secs:.1} s: {} people, {} groups, {} memberships fetched with {} requests; \
         people {} created, {} updated, {} deleted; groups {} created, {} updated, {} deleted; memberships +{} -{}; \
         {} removals held; {} warnings",
        if run.ok { "complete" } else { "FAILED" },
        run.users_fetched,
        run.groups_fetched,
        run.memberships_fetched,
        run.requests,
        c.people_created,
        c.people_updated,
        c.people_deleted,
        c.groups_created,
        c.groups_updated,
        c.groups_deleted,
        c.members_added,
        c.members_removed,
        run.held.people.len() + run.held.groups.len(),
        run.warnings.len(),
    )
}

/// How often a lane's plain progress line is written when stderr is not a terminal.
const LINE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A progress bar on a terminal; plain lines otherwise (a log file, a CI job, `journalctl`).
/// The crawl's lanes (users, groups, member lists) run at once: each gets a line when it starts
/// and then at most one every `LINE_EVERY`, with its rate and, for the member lists, the time
/// left at that rate (the pacing sets the rate, so this is its estimate).
struct BarProgress(Option<indicatif::ProgressBar>, std::sync::Mutex<Lines>);

/// What the plain lines remember: when the sync started, and per lane when it started and when
/// its last line was written.
struct Lines {
    started: Instant,
    lanes: std::collections::HashMap<&'static str, (Instant, Instant)>,
}

impl BarProgress {
    fn new() -> BarProgress {
        let lines = std::sync::Mutex::new(Lines {
            started: Instant::now(),
            lanes: std::collections::HashMap::new(),
        });
        if !std::io::stderr().is_terminal() {
            return BarProgress(None, lines);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        BarProgress(Some(bar), lines)
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }

    /// A plain progress line, when a lane starts or its `LINE_EVERY` has passed.
    fn line(&self, e: &ProgressEvent) {
        let mut l = self
            .1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let lane = match e {
            ProgressEvent::Users(_) => "users",
            ProgressEvent::Groups(_) => "groups",
            ProgressEvent::Members { .. } => "member lists",
            ProgressEvent::Applying => "applying",
        };
        let started = l.started;
        let (lane_started, first) = match l.lanes.get_mut(lane) {
            None => {
                l.lanes.insert(lane, (now, now));
                (now, true)
            }
            Some((_, last)) if now - *last < LINE_EVERY => return,
            Some((since, last)) => {
                *last = now;
                (*since, false)
            }
        };
        let secs = (now - lane_started).as_secs_f64();
        let rate = |n: u64| {
            if first || secs <= 0.0 {
                String::new()
            } else {
                format!(" ({:.0}/s)", n as f64 / secs)
            }
        };
        let text = match *e {
            ProgressEvent::Users(n) => format!("users: {n}{}", rate(n)),
            ProgressEvent::Groups(n) => format!("groups: {n}{}", rate(n)),
            ProgressEvent::Members { done, total } => {
                let per_s = done as f64 / secs.max(0.001);
                let left = if first || per_s <= 0.0 {
                    String::new()
                } else {
                    format!(
                        " ({per_s:.1}/s, about {:.0} s left)",
                        total.saturating_sub(done) as f64 / per_s
                    )
                };
                format!("member lists: {done}/{total}{left}")
            }
            ProgressEvent::Applying => "crawl complete, applying to the store".to_owned(),
        };
        eprintln!(
            "oktamirror sync: {:.0} s: {text}",
            (now - started).as_secs_f64()
        );
    }
}

impl Progress for BarProgress {
    fn event(&self, e: ProgressEvent) {
        let Some(bar) = &self.0 else {
            return self.line(&e);
        };
        match e {
            ProgressEvent::Users(n) => bar.set_message(format!("users: {n}")),
            ProgressEvent::Groups(n) => bar.set_message(format!("groups: {n}")),
            ProgressEvent::Members { done, total } => {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} group members {pos}/{len} {wide_bar} {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                }
                bar.set_position(done);
            }
            ProgressEvent::Applying => {
                bar.set_style(indicatif::ProgressStyle::default_spinner());
                bar.set_message("applying to the store");
            }
        }
    }
}
