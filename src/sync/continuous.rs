//! The sync schedule: the first full crawl, then the System Log tail, event-hook deliveries,
//! delta sweeps and scheduled reconciles, one step at a time in one task, so no step's reads
//! can overwrite a newer step's result.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use super::incremental::{Incremental, Position};
use super::{Event, NoProgress, Source, SyncConfig, run_crawl};
use crate::model::{RunKind, SyncRun};
use crate::store::{Store, meta};

/// How often each lane runs.
#[derive(Debug, Clone)]
pub struct Lanes {
    /// Tail the System Log (needs `okta.logs.read`); off leaves sweeps, hooks and reconciles.
    pub tail: bool,
    /// Wait after the log has nothing new before asking again (Okta's log bucket is small).
    pub poll_interval: Duration,
    /// Time between delta sweeps (`lastUpdated` / `lastMembershipUpdated`).
    pub sweep_interval: Duration,
    /// How far before the last sweep the next one looks again: Okta's filters are eventually
    /// consistent and strictly `gt`, so a change stamped just before a sweep can appear after it.
    pub sweep_overlap: Duration,
    /// Time between full reconcile crawls.
    pub reconcile_interval: Duration,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            tail: true,
            poll_interval: Duration::from_secs(10),
            sweep_interval: Duration::from_secs(15 * 60),
            sweep_overlap: Duration::from_secs(120),
            reconcile_interval: Duration::from_secs(24 * 3600),
        }
    }
}

/// What `syncNow` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// A full crawl now.
    Full,
    /// Read the log and sweep the deltas now.
    Incremental,
}

/// Requests to the running schedule.
pub enum Command {
    /// Run a step now and send its record back.
    Sync {
        /// Which step to run.
        kind: SyncKind,
        /// Apply held removals of a full crawl (an operator's decision).
        allow_mass_delete: bool,
        /// Receives the step's record once it finishes.
        reply: oneshot::Sender<SyncRun>,
    },
    /// Events of one event-hook delivery.
    Hook(Vec<Event>),
}

/// How far back the log is read when the mirror has no position yet: a little before the crawl
/// starts, so nothing that changes while it runs is missed (replaying an event is harmless).
const LOG_MARGIN: chrono::Duration = chrono::Duration::minutes(1);

/// Okta keeps the System Log 90 days and refuses `since` beyond 180: a mirror older than a
/// week without a position starts at a week and relies on its next reconcile.
const LOG_REACH: chrono::Duration = chrono::Duration::days(7);

/// Handled event ids are kept this long (Okta redelivers within hours, not days).
const EVENTS_KEPT: chrono::Duration = chrono::Duration::days(7);

/// Hook deliveries merged into one step when several are waiting.
const HOOKS_PER_STEP: usize = 64;

struct Schedule {
    store: Store,
    source: Arc<dyn Source>,
    cfg: SyncConfig,
    lanes: Lanes,
    engine: Incremental,
    /// Failed full crawls in a row (for backoff before the first good one, or reconcile retries).
    full_failures: u32,
    /// A full crawl failed with a configuration error: retrying soon cannot help.
    config_error: bool,
    /// When the failed full crawl is retried: decided once, when it failed (recomputing it on
    /// every pass pushed it back behind each poll, so a failed reconcile never ran again).
    full_retry_at: Instant,
    next_poll: Instant,
    next_sweep: Instant,
    /// The tail's last step failed (further failures are logged, not recorded again).
    tail_failing: bool,
    /// Steps started so far: each step's span carries its number, so every log line of a step
    /// (a run that records nothing included) can be told from the next one's.
    steps: u64,
}

/// Runs the schedule until `commands` closes.
pub async fn run(
    store: Store,
    source: Arc<dyn Source>,
    cfg: SyncConfig,
    lanes: Lanes,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut s = Schedule::new(store, source, cfg, lanes);
    // A request taken out of the queue while merging hook deliveries, handled next.
    let mut pending: Option<Command> = None;
    loop {
        let ready = matches!(s.store.last_good_full_sync(), Ok(Some(_)));
        let full_due = s.full_due();
        let due = if ready && s.lanes.tail {
            full_due.min(s.next_poll).min(s.next_sweep)
        } else if ready {
            full_due.min(s.next_sweep)
        } else {
            full_due
        };
        let command = match pending.take() {
            Some(c) => Some(c),
            None => tokio::select! {
                _ = tokio::time::sleep_until(due) => None,
                c = commands.recv() => match c {
                    Some(c) => Some(c),
                    None => return,
                },
            },
        };
        match command {
            Some(Command::Sync {
                kind,
                allow_mass_delete,
                reply,
            }) => {
                let run = s.sync_now(kind, allow_mass_delete, ready).await;
                let _ = reply.send(run);
            }
            Some(Command::Hook(mut events)) => {
                // Deliveries that queued up while a step ran become one step.
                for _ in 1..HOOKS_PER_STEP {
                    match commands.try_recv() {
                        Ok(Command::Hook(more)) => events.extend(more),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                s.hook(&events, ready).await;
            }
            None => {
                let now = Instant::now();
                if !ready {
                    s.full(RunKind::Full, false).await;
                } else if full_due <= now {
                    s.full(RunKind::Reconcile, false).await;
                } else {
                    if s.lanes.tail && s.next_poll <= now {
                        s.poll().await;
                    }
                    if s.next_sweep <= now {
                        s.sweep().await;
                    }
                }
            }
        }
    }
}

impl Schedule {
    fn new(store: Store, source: Arc<dyn Source>, cfg: SyncConfig, lanes: Lanes) -> Schedule {
        let now = Instant::now();
        Schedule {
            engine: Incremental::new(store.clone(), cfg.clone()),
            store,
            source,
            cfg,
            next_poll: now,
            next_sweep: now + lanes.sweep_interval,
            lanes,
            full_failures: 0,
            config_error: false,
            full_retry_at: now,
            tail_failing: false,
            steps: 0,
        }
    }

    /// The span of the next step: its kind, its number in this process, and the id of the run
    /// it records (filled in by `recorded` once the store assigned one).
    fn step_span(&mut self, kind: RunKind) -> tracing::Span {
        self.steps += 1;
        tracing::info_span!(
            "sync_step",
            kind = ?kind,
            step = self.steps,
            run_id = tracing::field::Empty,
            events = tracing::field::Empty
        )
    }

    /// What `syncNow` runs: a full crawl, or (once the mirror is ready) the log and a sweep.
    async fn sync_now(&mut self, kind: SyncKind, allow_mass_delete: bool, ready: bool) -> SyncRun {
        if kind == SyncKind::Full || !ready {
            return self.full(RunKind::Full, allow_mass_delete).await;
        }
        let tail = if self.lanes.tail {
            self.poll().await
        } else {
            None
        };
        let sweep = self.sweep().await;
        match tail {
            Some(t) if !t.ok || sweep.ok => t,
            _ => sweep,
        }
    }

    /// When the next full crawl is due: at once without a good one (with backoff after
    /// failures), else `reconcile_interval` after the last good one started.
    fn full_due(&self) -> Instant {
        let now = Instant::now();
        if self.full_failures > 0 {
            return self.full_retry_at;
        }
        match self.store.last_good_full_sync() {
            Ok(Some(run)) => {
                let age = (Utc::now() - run.started_at).to_std().unwrap_or_default();
                now + self.lanes.reconcile_interval.saturating_sub(age)
            }
            Ok(None) => now,
            Err(e) => {
                tracing::error!("cannot read the sync state: {e}");
                now + self.lanes.reconcile_interval
            }
        }
    }

    /// A full crawl (the first, a reconcile, or one asked for). The log position is noted
    /// first when there is none, and the tail resumes from it afterwards: whatever changed
    /// while the crawl ran is re-read then.
    async fn full(&mut self, kind: RunKind, allow_mass_delete: bool) -> SyncRun {
        let span = self.step_span(kind);
        let run = self
            .full_step(kind, allow_mass_delete)
            .instrument(span.clone())
            .await;
        recorded(&span, &run);
        run
    }

    /// `full`, inside its step's span.
    async fn full_step(&mut self, kind: RunKind, allow_mass_delete: bool) -> SyncRun {
        if let Err(e) = self.ensure_log_position() {
            tracing::error!("cannot store the System Log position: {e}");
        }
        let mut cfg = self.cfg.clone();
        cfg.allow_mass_delete |= allow_mass_delete;
        let run = run_crawl(kind, &self.store, self.source.as_ref(), &cfg, &NoProgress).await;
        self.engine.invalidate();
        if run.ok {
            self.full_failures = 0;
            self.config_error = false;
            self.next_poll = Instant::now();
            if let Err(e) = self.store.prune_events_seen(Utc::now() - EVENTS_KEPT) {
                tracing::warn!("cannot prune handled event ids: {e}");
            }
        } else {
            self.full_failures = self.full_failures.saturating_add(1);
            self.config_error = run.config_error;
            let backoff = if self.config_error {
                Duration::from_secs(3600)
            } else {
                Duration::from_secs(30u64.saturating_mul(1 << (self.full_failures - 1).min(16)))
            };
            self.full_retry_at = Instant::now() + backoff.min(self.lanes.reconcile_interval);
        }
        run
    }

    /// Stores a log position when there is none: just before now when the mirror has never
    /// crawled, else just before its last good crawl (at most a week back).
    fn ensure_log_position(&self) -> Result<(), crate::store::StoreError> {
        if self.store.meta_json::<String>(meta::LOG_CURSOR)?.is_some() {
            return Ok(());
        }
        let now = Utc::now();
        let since = match self.store.last_good_full_sync()? {
            Some(run) => run.started_at.max(now - LOG_REACH),
            None => now,
        } - LOG_MARGIN;
        self.store
            .put_meta_json(meta::LOG_CURSOR, &self.source.log_start(since))
    }

    /// Reads the log from the stored position until it has nothing new, applying each page
    /// with its next position. Returns the last recorded step, if any.
    async fn poll(&mut self) -> Option<SyncRun> {
        let mut last = None;
        if let Err(e) = self.ensure_log_position() {
            tracing::error!("cannot store the System Log position: {e}");
        }
        loop {
            let span = self.step_span(RunKind::Tail);
            let (step, more) = self.tail_batch().instrument(span.clone()).await;
            if let Some(run) = &step {
                recorded(&span, run);
                last = step;
            }
            if !more {
                break;
            }
        }
        self.next_poll = Instant::now() + self.lanes.poll_interval;
        last
    }

    /// One tail batch: reads the log page at the stored position and applies its events with
    /// the page's next position. Returns the recorded step, if any, and whether to read on.
    async fn tail_batch(&mut self) -> (Option<SyncRun>, bool) {
        let cursor = match self.store.meta_json::<String>(meta::LOG_CURSOR) {
            Ok(Some(c)) => c,
            Ok(None) => return (None, false),
            Err(e) => {
                tracing::error!("cannot read the System Log position: {e}");
                return (None, false);
            }
        };
        let page = match self.source.log_page(&cursor).await {
            Ok(p) => p,
            Err(e) => {
                let mut last = None;
                if !self.tail_failing {
                    let mut run = SyncRun::start(RunKind::Tail);
                    run.error = Some(e.to_string());
                    run.config_error = e.config;
                    let stored = self.store.apply_batch(crate::store::Batch {
                        run: Some(run.clone()),
                        ..Default::default()
                    });
                    if let Ok((_, Some(r))) = &stored {
                        recorded(&tracing::Span::current(), r);
                    }
                    last = Some(run);
                }
                tracing::warn!("reading the System Log failed: {e}");
                self.tail_failing = true;
                return (last, false);
            }
        };
        if page.read == 0 {
            // Caught up: the mirror holds everything the log had at this moment.
            if let Err(e) = self.store.put_meta_json(meta::TAIL_CAUGHT_UP, &Utc::now()) {
                tracing::warn!("cannot record the tail position time: {e}");
            }
            self.tail_failing = false;
            return (None, false);
        }
        tracing::Span::current().record("events", page.events.len());
        let next_is_cursor = page.next == cursor;
        let step = self
            .engine
            .apply_events(
                self.source.as_ref(),
                &page.events,
                RunKind::Tail,
                Position::Log(page.next),
            )
            .await;
        let failed = step.as_ref().is_some_and(|r| !r.ok);
        if failed {
            self.tail_failing = true;
        }
        // A page with events whose next link is the page itself would be read again at once,
        // for ever: wait for the next poll instead.
        let stuck = next_is_cursor;
        if stuck {
            tracing::warn!(
                "the System Log page's next link is the page itself; reading on at the next poll"
            );
        }
        (step, !failed && !stuck)
    }

    /// Applies one or more hook deliveries (not before the first full crawl: it will read
    /// everything anyway).
    async fn hook(&mut self, events: &[Event], ready: bool) {
        if !ready || events.is_empty() {
            return;
        }
        let span = self.step_span(RunKind::Hook);
        span.record("events", events.len());
        let step = self
            .engine
            .apply_events(
                self.source.as_ref(),
                events,
                RunKind::Hook,
                Position::Unchanged,
            )
            .instrument(span.clone())
            .await;
        if let Some(run) = &step {
            recorded(&span, run);
        }
    }

    /// One delta sweep from the stored watermark (or the last good crawl), minus the overlap.
    async fn sweep(&mut self) -> SyncRun {
        self.next_sweep = Instant::now() + self.lanes.sweep_interval;
        let mark = match self
            .store
            .meta_json::<chrono::DateTime<Utc>>(meta::SWEEP_MARK)
        {
            Ok(Some(m)) => Some(m),
            _ => self
                .store
                .last_good_full_sync()
                .ok()
                .flatten()
                .map(|r| r.started_at),
        };
        let overlap = chrono::Duration::from_std(self.lanes.sweep_overlap).unwrap_or_default();
        let since = mark.unwrap_or_else(Utc::now) - overlap;
        let span = self.step_span(RunKind::Sweep);
        let run = self
            .engine
            .sweep(self.source.as_ref(), since)
            .instrument(span.clone())
            .await;
        recorded(&span, &run);
        run
    }
}

/// Counts the run in the metrics, notes on a step's span the id its run was recorded under (0:
/// not recorded), and says so in one line inside the span: the id is assigned at commit, after the step's other lines, so
/// this line is what ties the step's number to its entry in `syncRuns`.
fn recorded(span: &tracing::Span, run: &SyncRun) {
    let c = &run.changes;
    crate::metrics::global().sync_run(&crate::metrics::RunFigures {
        kind: format!("{:?}", run.kind).to_lowercase(),
        ok: run.ok,
        duration: (run.finished_at - run.started_at)
            .to_std()
            .unwrap_or_default(),
        people_changed: c.people_created + c.people_updated + c.people_deleted,
        groups_changed: c.groups_created + c.groups_updated + c.groups_deleted,
        memberships_changed: c.members_added + c.members_removed,
        held: (run.held.people.len() + run.held.groups.len()) as u64,
        events: run.events,
    });
    if run.id != 0 {
        span.record("run_id", run.id);
        span.in_scope(|| tracing::info!(ok = run.ok, "sync step recorded"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::tests::{Fake, lock, store};

    #[tokio::test]
    async fn a_failed_crawl_is_retried_at_a_time_fixed_when_it_failed() {
        let (_dir, store) = store();
        let fake = Arc::new(Fake::org(&["u1"], &["g1"]));
        fake.lists_fail
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut s = Schedule::new(store, fake, SyncConfig::default(), Lanes::default());
        let run = s.full(RunKind::Full, false).await;
        assert!(!run.ok);
        let due = s.full_due();
        assert!(
            due > Instant::now() + Duration::from_secs(20),
            "a failed crawl backs off about 30 s"
        );
        // Time passes (polls and sweeps run meanwhile); the retry does not move with it.
        let then = Instant::now();
        while Instant::now() <= then {
            tokio::task::yield_now().await;
        }
        assert_eq!(s.full_due(), due);
    }

    #[tokio::test]
    async fn a_log_page_linking_to_itself_is_not_reread_at_once() {
        let (_dir, store) = store();
        let fake = Arc::new(Fake::org(&["u1"], &["g1"]));
        let run =
            crate::sync::run_full(&store, fake.as_ref(), &SyncConfig::default(), &NoProgress).await;
        assert!(run.ok, "{:?}", run.error);
        *lock(&fake.log) = Some(crate::sync::LogPage {
            events: vec![Event {
                uuid: "e1".into(),
                published: None,
                targets: vec![crate::sync::Target::User("u1".into())],
            }],
            read: 1,
            next: "log:0".into(),
        });
        store
            .put_meta_json(meta::LOG_CURSOR, &"log:0")
            .expect("position");
        let mut s = Schedule::new(store, fake.clone(), SyncConfig::default(), Lanes::default());
        s.poll().await;
        assert_eq!(fake.log_reads.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
