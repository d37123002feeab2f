//! The sync schedule: the first full crawl, then the System Log tail, event-hook deliveries,
//! delta sweeps, scheduled reconciles and `syncNow`, in one supervised task.
//!
//! **What runs beside what.** Steps that write (a tail batch, a hook delivery, a sweep, the
//! apply of a crawl) run one at a time in this task, so a step's reads are never applied over
//! those of a step that read later. The one long read, a reconcile's fetch (every user, group
//! and member list: minutes to a quarter of an hour on a large org), runs beside them in its own
//! task and writes only the staging trees, so the tail and hooks stay seconds-fresh meanwhile.
//! Sweeps wait for it (a crawl reads everything a sweep would).
//!
//! **Why the crawl's older reads cannot overwrite newer ones.** The fetch reads the org between
//! T0 and T1; tail and hook steps meanwhile apply reads made after T0. Before the crawl's first
//! chunk is written, the log position is moved back to P0 (where the tail stood at T0) and the
//! event ids handled since T0 are forgotten, in that order; then the crawl is applied (the tail
//! paused), and the tail, resuming from P0, re-reads now every object that changed since T0.
//! An object that did not change since T0 is in the crawl as it is now. Every change since T0
//! is in the log after P0 (hooks only ping what the log also records), so after the replay
//! each object holds a read made after the crawl's apply. A crash at any point leaves the
//! position at or before P0, so the replay happens after a restart too. Without the tail (or
//! before the first good crawl) the crawl runs alone, the other steps waiting for it.
//!
//! **Polling.** The tail asks the log again `poll_interval` (1 s) after it had nothing new,
//! never more often than the logs bucket's share allows: `60 s / allowance` apart, and never
//! more than `allowance` reads in any minute (the allowance is what the pacer learned from
//! `X-Rate-Limit-Limit` times `rate_limit_share`: 60 a minute for Okta's 120 at 50 %).
//!
//! **Supervision.** A panic in a step ends that schedule; `run` records it (a failed run and
//! `meta::SYNC_PROBLEM`), waits a little (longer after repeated panics) and starts a fresh
//! schedule, keeping the queued `syncNow` callers. Every step's outcome is noted for the
//! staleness probe: `meta::LAST_CONTACT` when it read Okta successfully, the reason when not.
//!
//! **`syncNow` and shutdown.** Full crawls asked for are coalesced: at most one waits beside
//! the one running, and every further call joins it (and gets its record). On shutdown the
//! running step is dropped at its next await (a step commits in one synchronous transaction),
//! a crawl's fetch stops and its apply stops between two chunks, so nothing writes after the
//! store's last flush.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::full::{self, Cancel, Fetched};
use super::incremental::{Incremental, Position};
use super::{Event, NoProgress, Source, SyncConfig};
use crate::model::{RunKind, SyncRun};
use crate::store::{Batch, Store, meta};

/// How often each lane runs.
#[derive(Debug, Clone)]
pub struct Lanes {
    /// Tail the System Log (needs `okta.logs.read`); off leaves sweeps, hooks and reconciles.
    pub tail: bool,
    /// The shortest wait after the log had nothing new before asking again; the logs bucket's
    /// share may make it longer (see the module documentation).
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
            poll_interval: Duration::from_secs(1),
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

/// System Log reads a minute the mirror may make (the pacer's share of the logs bucket), or
/// `None` while unknown. `startup.rs` reads it from the Okta client.
pub type LogAllowance = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// What connects the schedule to the rest of the mirror.
pub struct Wiring {
    /// `syncNow` requests and hook deliveries; the schedule ends when every sender is gone.
    pub commands: mpsc::Receiver<Command>,
    /// Turns `true` when the mirror shuts down: the schedule stops (see the module docs).
    pub stop: watch::Receiver<bool>,
    /// The logs bucket's share, for the poll interval; `None` polls every `poll_interval`.
    pub log_allowance: Option<LogAllowance>,
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

/// Okta's rate-limit windows are a minute long: the allowance is per this.
const LOG_WINDOW: Duration = Duration::from_secs(60);

/// The longest wait before a schedule that panicked is started again.
const MAX_RESTART_WAIT: Duration = Duration::from_secs(60);

/// Runs the schedule until the commands close or `stop` turns true, starting it again after
/// a panic (recorded as a failed run with the reason).
pub async fn run(
    store: Store,
    source: Arc<dyn Source>,
    cfg: SyncConfig,
    lanes: Lanes,
    wiring: Wiring,
) {
    let Wiring {
        mut commands,
        stop,
        log_allowance,
    } = wiring;
    let mut queue = Queue::default();
    let mut panics = 0u32;
    loop {
        let mut s = Schedule::new(store.clone(), source.clone(), cfg.clone(), lanes.clone());
        s.stop = stop.clone();
        s.allowance = log_allowance.clone();
        s.queue = std::mem::take(&mut queue);
        let started = Instant::now();
        let outcome = AssertUnwindSafe(s.run(&mut commands)).catch_unwind().await;
        let Err(payload) = outcome else {
            return;
        };
        let reason = panic_message(payload.as_ref());
        let kind = s.current.unwrap_or(RunKind::Tail);
        queue = s.salvage().await;
        if started.elapsed() > 10 * MAX_RESTART_WAIT {
            panics = 0;
        }
        panics = panics.saturating_add(1);
        let wait = Duration::from_secs(1u64 << (panics - 1).min(6)).min(MAX_RESTART_WAIT);
        let message = format!(
            "the sync task panicked during a {kind:?} step ({reason}); it restarts in {} s",
            wait.as_secs()
        );
        tracing::error!("{message}");
        record_failure(&store, kind, &message);
        note_problem(&store, &message);
        let mut stop = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Records a failed run of `kind` that changed nothing.
fn record_failure(store: &Store, kind: RunKind, message: &str) {
    let mut run = SyncRun::start(kind);
    run.error = Some(message.to_owned());
    if let Err(e) = store.apply_batch(Batch {
        run: Some(run),
        ..Default::default()
    }) {
        tracing::error!("cannot record the failed run: {e}");
    }
}

/// Stores why the sync is failing (shown by `syncStatus` and `/readyz`).
fn note_problem(store: &Store, message: &str) {
    if let Err(e) = store.put_meta_json(meta::SYNC_PROBLEM, &Some(message)) {
        tracing::warn!("cannot record the sync problem: {e}");
    }
}

/// A full crawl asked for, with everyone waiting for its record.
#[derive(Default)]
struct FullRequest {
    allow_mass_delete: bool,
    replies: Vec<oneshot::Sender<SyncRun>>,
}

/// What was asked of the schedule and not done yet: kept across a restart.
#[derive(Default)]
struct Queue {
    /// The one full crawl waiting to start (every further `syncNow(FULL)` joins it).
    full: Option<FullRequest>,
    /// Callers waiting for one incremental pass (they all get the same one).
    incremental: Vec<oneshot::Sender<SyncRun>>,
    /// Hook deliveries not applied yet.
    hooks: VecDeque<Vec<Event>>,
}

impl Queue {
    fn take(&mut self, c: Command) {
        match c {
            Command::Sync {
                kind: SyncKind::Full,
                allow_mass_delete,
                reply,
            } => {
                let r = self.full.get_or_insert_with(FullRequest::default);
                r.allow_mass_delete |= allow_mass_delete;
                r.replies.push(reply);
            }
            Command::Sync {
                kind: SyncKind::Incremental,
                reply,
                ..
            } => self.incremental.push(reply),
            Command::Hook(events) => self.hooks.push_back(events),
        }
    }
}

/// A crawl whose fetch runs beside the tail.
struct Beside {
    kind: RunKind,
    request: FullRequest,
    cfg: SyncConfig,
    task: JoinHandle<Fetched>,
    /// The log position when the fetch started (P0) and the time (T0).
    replay_from: Option<String>,
    started: DateTime<Utc>,
    span: tracing::Span,
}

/// What woke the idle schedule.
enum Wake {
    Stop,
    Fetched(Box<Result<Fetched, tokio::task::JoinError>>),
    Command(Option<Command>),
    Due,
}

/// Log reads of the last minute, to keep the tail within the logs bucket's share.
#[derive(Default)]
struct PollBudget {
    reads: VecDeque<Instant>,
}

impl PollBudget {
    fn record(&mut self, at: Instant) {
        self.reads.push_back(at);
    }

    fn trim(&mut self, now: Instant) {
        while self
            .reads
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= LOG_WINDOW)
        {
            self.reads.pop_front();
        }
    }

    /// Whether one more read now stays within `allowance` reads a minute.
    fn may_read(&mut self, now: Instant, allowance: Option<u64>) -> bool {
        self.trim(now);
        allowance.is_none_or(|a| (self.reads.len() as u64) < a.max(1))
    }

    /// When the next idle poll may go: `floor` after now, or `LOG_WINDOW / allowance` if that
    /// is longer, and not before the minute's reads leave room for one more.
    fn next_poll(&mut self, now: Instant, floor: Duration, allowance: Option<u64>) -> Instant {
        self.trim(now);
        let Some(a) = allowance.map(|a| a.max(1)) else {
            return now + floor;
        };
        let spacing = floor.max(LOG_WINDOW / u32::try_from(a).unwrap_or(u32::MAX));
        let mut at = now + spacing;
        let n = self.reads.len() as u64;
        if n >= a {
            let k = usize::try_from(n - a).unwrap_or(0);
            if let Some(t) = self.reads.get(k) {
                at = at.max(*t + LOG_WINDOW);
            }
        }
        at
    }
}

struct Schedule {
    store: Store,
    source: Arc<dyn Source>,
    cfg: SyncConfig,
    lanes: Lanes,
    engine: Incremental,
    stop: watch::Receiver<bool>,
    allowance: Option<LogAllowance>,
    queue: Queue,
    crawl: Option<Beside>,
    budget: PollBudget,
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
    /// The problem stored in `meta::SYNC_PROBLEM`, if any.
    problem: Option<String>,
    /// The kind of the step in progress (named in the record of a panic).
    current: Option<RunKind>,
    /// Steps started so far: each step's span carries its number, so every log line of a step
    /// (a run that records nothing included) can be told from the next one's.
    steps: u64,
}

impl Schedule {
    fn new(store: Store, source: Arc<dyn Source>, cfg: SyncConfig, lanes: Lanes) -> Schedule {
        let now = Instant::now();
        let problem = store
            .meta_json::<Option<String>>(meta::SYNC_PROBLEM)
            .ok()
            .flatten()
            .flatten();
        Schedule {
            engine: Incremental::new(store.clone(), cfg.clone()),
            store,
            source,
            cfg,
            next_poll: now,
            next_sweep: now + lanes.sweep_interval,
            lanes,
            // No sender: never stops (tests drive a schedule directly).
            stop: watch::channel(false).1,
            allowance: None,
            queue: Queue::default(),
            crawl: None,
            budget: PollBudget::default(),
            full_failures: 0,
            config_error: false,
            full_retry_at: now,
            tail_failing: false,
            problem,
            current: None,
            steps: 0,
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn ready(&self) -> bool {
        matches!(self.store.last_good_full_sync(), Ok(Some(_)))
    }

    /// The schedule's loop; returns when the commands close or the mirror stops.
    async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) {
        loop {
            if self.stopping() {
                self.end_crawl().await;
                return;
            }
            loop {
                match commands.try_recv() {
                    Ok(c) => self.queue.take(c),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.end_crawl().await;
                        return;
                    }
                }
            }
            if self.step(self.ready()).await {
                continue;
            }
            match self.idle(commands).await {
                Wake::Stop | Wake::Due => {}
                Wake::Command(Some(c)) => self.queue.take(c),
                Wake::Command(None) => {
                    self.end_crawl().await;
                    return;
                }
                Wake::Fetched(joined) => self.finish_beside(*joined).await,
            }
        }
    }

    /// Runs the step that is due, if any; true when one ran.
    async fn step(&mut self, ready: bool) -> bool {
        if !ready {
            // Nothing to tail or hook into yet: an incremental pass asked for is a full crawl.
            self.queue.hooks.clear();
            for reply in std::mem::take(&mut self.queue.incremental) {
                self.queue
                    .full
                    .get_or_insert_with(FullRequest::default)
                    .replies
                    .push(reply);
            }
        }
        let now = Instant::now();
        if self.crawl.is_none() {
            let start = match self.queue.full.take() {
                Some(request) => Some((RunKind::Full, request)),
                None if self.full_due() <= Instant::now() => Some((
                    if ready {
                        RunKind::Reconcile
                    } else {
                        RunKind::Full
                    },
                    FullRequest::default(),
                )),
                None => None,
            };
            if let Some((kind, request)) = start {
                if ready && self.lanes.tail {
                    self.start_beside(kind, request);
                } else {
                    self.crawl_alone(kind, request).await;
                }
                return true;
            }
        }
        if !self.queue.hooks.is_empty() {
            let mut events = Vec::new();
            for _ in 0..HOOKS_PER_STEP {
                match self.queue.hooks.pop_front() {
                    Some(e) => events.extend(e),
                    None => break,
                }
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = self.hook(&events) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            return true;
        }
        if !self.queue.incremental.is_empty() && self.crawl.is_none() {
            let replies = std::mem::take(&mut self.queue.incremental);
            let mut stop = self.stop.clone();
            let run = tokio::select! {
                run = self.incremental_now() => run,
                _ = stop.wait_for(|s| *s) => return true,
            };
            for reply in replies {
                let _ = reply.send(run.clone());
            }
            return true;
        }
        if ready && self.lanes.tail && self.next_poll <= now {
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = self.poll() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            return true;
        }
        if ready && self.crawl.is_none() && self.next_sweep <= now {
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = self.sweep() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            return true;
        }
        false
    }

    /// Waits for the next thing to do: a lane coming due, a command, the crawl's fetch
    /// finishing, or the stop signal.
    async fn idle(&mut self, commands: &mut mpsc::Receiver<Command>) -> Wake {
        let ready = self.ready();
        let mut due = if self.crawl.is_some() {
            self.next_poll
        } else if ready {
            self.full_due().min(self.next_sweep)
        } else {
            self.full_due()
        };
        if ready && self.lanes.tail {
            due = due.min(self.next_poll);
        }
        let mut stop = self.stop.clone();
        let fetched = async {
            match self.crawl.as_mut() {
                Some(c) => (&mut c.task).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => Wake::Stop,
            r = fetched => Wake::Fetched(Box::new(r)),
            c = commands.recv() => Wake::Command(c),
            _ = tokio::time::sleep_until(due) => Wake::Due,
        }
    }

    /// The span of the next step: its kind, its number in this process, and the id of the run
    /// it records (filled in by `recorded` once the store assigned one).
    fn step_span(&mut self, kind: RunKind) -> tracing::Span {
        self.steps += 1;
        self.current = Some(kind);
        tracing::info_span!(
            "sync_step",
            kind = ?kind,
            step = self.steps,
            run_id = tracing::field::Empty,
            events = tracing::field::Empty
        )
    }

    /// Notes a step's outcome for the staleness probe: the time of a successful read of Okta,
    /// or why it failed.
    fn outcome(&mut self, failure: Option<&str>) {
        match failure {
            None => {
                if let Err(e) = self.store.put_meta_json(meta::LAST_CONTACT, &Utc::now()) {
                    tracing::warn!("cannot record the time Okta was last read: {e}");
                }
                if self.problem.take().is_some() {
                    if let Err(e) = self
                        .store
                        .put_meta_json(meta::SYNC_PROBLEM, &None::<String>)
                    {
                        tracing::warn!("cannot clear the sync problem: {e}");
                    }
                }
            }
            Some(reason) => {
                if self.problem.as_deref() != Some(reason) {
                    note_problem(&self.store, reason);
                    self.problem = Some(reason.to_owned());
                }
            }
        }
    }

    /// An incremental pass asked for: the log (when tailed) and a sweep.
    async fn incremental_now(&mut self) -> SyncRun {
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

    /// A full crawl with nothing beside it (the first one, or any without the tail to replay
    /// from). The log position is noted first when there is none, and the tail resumes from it
    /// afterwards: whatever changed while the crawl ran is re-read then.
    async fn crawl_alone(&mut self, kind: RunKind, request: FullRequest) {
        let span = self.step_span(kind);
        if let Err(e) = self.ensure_log_position() {
            tracing::error!("cannot store the System Log position: {e}");
        }
        let mut cfg = self.cfg.clone();
        cfg.allow_mass_delete |= request.allow_mass_delete;
        let cancel = Cancel::on(self.stop.clone());
        let run = full::run_crawl_until(
            kind,
            &self.store,
            self.source.as_ref(),
            &cfg,
            &NoProgress,
            &cancel,
        )
        .instrument(span.clone())
        .await;
        recorded(&span, &run);
        self.after_crawl(&run);
        for reply in request.replies {
            let _ = reply.send(run.clone());
        }
    }

    /// Starts a crawl's fetch beside the tail, noting where the tail stands (P0, T0).
    fn start_beside(&mut self, kind: RunKind, request: FullRequest) {
        let span = self.step_span(kind);
        let replay_from = match self.store.meta_json::<String>(meta::LOG_CURSOR) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cannot read the System Log position: {e}");
                None
            }
        };
        let started = Utc::now();
        let mut cfg = self.cfg.clone();
        cfg.allow_mass_delete |= request.allow_mass_delete;
        let (store, source, fetch_cfg) = (self.store.clone(), self.source.clone(), cfg.clone());
        let cancel = Cancel::on(self.stop.clone());
        let task = tokio::spawn(
            async move {
                full::fetch(
                    kind,
                    &store,
                    source.as_ref(),
                    &fetch_cfg,
                    &NoProgress,
                    &cancel,
                )
                .await
            }
            .instrument(span.clone()),
        );
        self.crawl = Some(Beside {
            kind,
            request,
            cfg,
            task,
            replay_from,
            started,
            span,
        });
    }

    /// The fetch beside the tail ended: move the tail back to P0, apply the crawl (nothing else
    /// runs meanwhile), and let the tail replay from P0.
    async fn finish_beside(&mut self, joined: Result<Fetched, tokio::task::JoinError>) {
        let Some(c) = self.crawl.take() else {
            return;
        };
        self.current = Some(c.kind);
        let run = match joined {
            Err(e) => {
                let message = format!("the crawl stopped unexpectedly: {e}");
                tracing::error!(parent: &c.span, "{message}");
                record_failure(&self.store, c.kind, &message);
                if let Err(e) = self.store.stage_clear() {
                    tracing::warn!("could not clear the crawl staging area: {e}");
                }
                let mut run = SyncRun::start(c.kind);
                run.error = Some(message);
                run
            }
            Ok(fetched) => {
                let fetched = match (&c.replay_from, fetched.complete()) {
                    (Some(p0), true) => match self.rewind(p0, c.started) {
                        Ok(()) => fetched,
                        Err(e) => {
                            let message = format!(
                                "the crawl was not applied: cannot move the System Log position back for the replay: {e}"
                            );
                            tracing::error!(parent: &c.span, "{message}");
                            if let Err(e) = self.store.stage_clear() {
                                tracing::warn!("could not clear the crawl staging area: {e}");
                            }
                            record_failure(&self.store, c.kind, &message);
                            let mut run = SyncRun::start(c.kind);
                            run.error = Some(message);
                            self.after_crawl(&run);
                            for reply in c.request.replies {
                                let _ = reply.send(run.clone());
                            }
                            return;
                        }
                    },
                    _ => fetched,
                };
                let cancel = Cancel::on(self.stop.clone());
                full::apply(fetched, &self.store, &c.cfg, &NoProgress, &cancel)
                    .instrument(c.span.clone())
                    .await
            }
        };
        recorded(&c.span, &run);
        self.after_crawl(&run);
        for reply in c.request.replies {
            let _ = reply.send(run.clone());
        }
    }

    /// Forgets the events handled since `since` and moves the log position back to `p0`, in
    /// that order (a crash between the two only re-reads more).
    fn rewind(&self, p0: &str, since: DateTime<Utc>) -> Result<(), crate::store::StoreError> {
        let forgotten = self.store.forget_events_seen_since(since)?;
        self.store.put_meta_json(meta::LOG_CURSOR, &p0)?;
        tracing::info!(
            forgotten,
            "the tail replays the log from where it stood when the crawl started"
        );
        Ok(())
    }

    /// What follows every full crawl: the engine's cache dropped, the retry time fixed on a
    /// failure, the tail's next read now on success.
    fn after_crawl(&mut self, run: &SyncRun) {
        self.current = None;
        self.engine.invalidate();
        if run.ok {
            self.full_failures = 0;
            self.config_error = false;
            self.next_poll = Instant::now();
            if let Err(e) = self.store.prune_events_seen(Utc::now() - EVENTS_KEPT) {
                tracing::warn!("cannot prune handled event ids: {e}");
            }
            self.outcome(None);
        } else {
            self.full_failures = self.full_failures.saturating_add(1);
            self.config_error = run.config_error;
            let backoff = if self.config_error {
                Duration::from_secs(3600)
            } else {
                Duration::from_secs(30u64.saturating_mul(1 << (self.full_failures - 1).min(16)))
            };
            self.full_retry_at = Instant::now() + backoff.min(self.lanes.reconcile_interval);
            if !self.stopping() {
                self.outcome(Some(run.error.as_deref().unwrap_or("a full crawl failed")));
            }
        }
    }

    /// Stops a crawl beside the tail (the mirror stops): its fetch ends at its next await.
    async fn end_crawl(&mut self) {
        if let Some(c) = self.crawl.take() {
            c.task.abort();
            let _ = c.task.await;
            if let Err(e) = self.store.stage_clear() {
                tracing::warn!("could not clear the crawl staging area: {e}");
            }
        }
    }

    /// After a panic: stops the crawl beside the tail and returns what was asked and not done
    /// (the crawl's callers first in line again).
    async fn salvage(&mut self) -> Queue {
        let mut queue = std::mem::take(&mut self.queue);
        if let Some(c) = self.crawl.take() {
            c.task.abort();
            let _ = c.task.await;
            let r = queue.full.get_or_insert_with(FullRequest::default);
            r.allow_mass_delete |= c.request.allow_mass_delete;
            r.replies.extend(c.request.replies);
        }
        queue
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

    fn log_allowance(&self) -> Option<u64> {
        self.allowance.as_ref().and_then(|f| f())
    }

    /// Reads the log from the stored position until it has nothing new (or the logs bucket's
    /// share is spent), applying each page with its next position. Returns the last recorded
    /// step, if any.
    async fn poll(&mut self) -> Option<SyncRun> {
        let mut last = None;
        if let Err(e) = self.ensure_log_position() {
            tracing::error!("cannot store the System Log position: {e}");
        }
        loop {
            let allowance = self.log_allowance();
            if !self.budget.may_read(Instant::now(), allowance) {
                break;
            }
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
        self.current = None;
        self.next_poll = self.budget.next_poll(
            Instant::now(),
            self.lanes.poll_interval,
            self.log_allowance(),
        );
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
        self.budget.record(Instant::now());
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
                self.outcome(Some(&format!("reading the System Log failed: {e}")));
                return (last, false);
            }
        };
        if page.read == 0 {
            // Caught up: the mirror holds everything the log had at this moment.
            if let Err(e) = self.store.put_meta_json(meta::TAIL_CAUGHT_UP, &Utc::now()) {
                tracing::warn!("cannot record the tail position time: {e}");
            }
            self.tail_failing = false;
            self.outcome(None);
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
            let reason = step
                .as_ref()
                .and_then(|r| r.error.clone())
                .unwrap_or_else(|| "a System Log batch failed".to_owned());
            self.outcome(Some(&reason));
        } else {
            self.outcome(None);
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

    /// Applies one or more hook deliveries (the caller drops them before the first full crawl:
    /// it will read everything anyway).
    async fn hook(&mut self, events: &[Event]) {
        if events.is_empty() {
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
            self.outcome(run.error.as_deref());
        }
        self.current = None;
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
        self.outcome(run.error.as_deref());
        self.current = None;
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
        let mut s = Schedule::new(store.clone(), fake, SyncConfig::default(), Lanes::default());
        s.crawl_alone(RunKind::Full, FullRequest::default()).await;
        let run = store.last_full_sync().expect("read").expect("recorded");
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

    #[test]
    fn polls_stay_within_the_logs_share() {
        let mut b = PollBudget::default();
        let t0 = Instant::now();
        let floor = Duration::from_secs(1);
        // Unknown share: the floor.
        assert_eq!(b.next_poll(t0, floor, None), t0 + floor);
        // 60 a minute (Okta's 120 at 50 %): one a second; 30 a minute: one every 2 s.
        assert_eq!(b.next_poll(t0, floor, Some(60)), t0 + floor);
        assert_eq!(b.next_poll(t0, floor, Some(30)), t0 + 2 * floor);
        // A catch-up that read 30 pages at once spends the minute's share of 30: the next read
        // waits until the first of them is a minute old.
        for _ in 0..30 {
            b.record(t0);
        }
        assert!(!b.may_read(t0, Some(30)));
        assert!(b.may_read(t0, Some(60)));
        assert_eq!(b.next_poll(t0, floor, Some(30)), t0 + LOG_WINDOW);
        let later = t0 + LOG_WINDOW;
        assert!(b.may_read(later, Some(30)), "the minute has passed");
    }

    /// A source over `Fake` whose user list waits at a gate (a slow crawl, reading the users
    /// as they were when it started), whose log answers from a script, and whose first log read
    /// may panic.
    struct Gated {
        inner: Arc<Fake>,
        gate: Arc<tokio::sync::Semaphore>,
        user_lists: std::sync::atomic::AtomicU64,
        /// Log pages by cursor; a cursor not in it answers an empty page.
        log: std::sync::Mutex<std::collections::HashMap<String, crate::sync::LogPage>>,
        panic_once: std::sync::atomic::AtomicBool,
    }

    impl Gated {
        fn new(inner: Arc<Fake>, open: bool) -> Gated {
            Gated {
                inner,
                gate: Arc::new(tokio::sync::Semaphore::new(if open { 1000 } else { 0 })),
                user_lists: Default::default(),
                log: Default::default(),
                panic_once: Default::default(),
            }
        }

        fn open(&self) {
            self.gate.add_permits(1000);
        }

        fn lists(&self) -> u64 {
            self.user_lists.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    use futures::future::BoxFuture;
    use futures::stream::BoxStream;
    use serde_json::Value;

    type Page = Result<Vec<Value>, crate::sync::SourceError>;

    impl Source for Gated {
        fn users(&self) -> BoxStream<'_, Page> {
            let snapshot: Vec<Value> = lock(&self.inner.users).values().cloned().collect();
            self.user_lists
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let gate = self.gate.clone();
            Box::pin(futures::stream::once(async move {
                let _permit = gate.acquire().await;
                Ok(snapshot)
            }))
        }
        fn groups(&self) -> BoxStream<'_, Page> {
            self.inner.groups()
        }
        fn group_member_ids<'a>(
            &'a self,
            group_id: &'a str,
        ) -> BoxFuture<'a, Result<Option<Vec<String>>, crate::sync::SourceError>> {
            self.inner.group_member_ids(group_id)
        }
        fn user_types(
            &self,
        ) -> BoxFuture<'_, Result<Option<Vec<crate::model::UserType>>, crate::sync::SourceError>>
        {
            self.inner.user_types()
        }
        fn group_members<'a>(
            &'a self,
            group_id: &'a str,
        ) -> BoxFuture<'a, Result<Option<Vec<Value>>, crate::sync::SourceError>> {
            self.inner.group_members(group_id)
        }
        fn users_by_keys<'a>(
            &'a self,
            keys: &'a [String],
        ) -> BoxFuture<'a, Result<Vec<Value>, crate::sync::SourceError>> {
            self.inner.users_by_keys(keys)
        }
        fn matching_people_filter<'a>(
            &'a self,
            ids: &'a [String],
        ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, crate::sync::SourceError>>
        {
            self.inner.matching_people_filter(ids)
        }
        fn user<'a>(
            &'a self,
            id: &'a str,
        ) -> BoxFuture<'a, Result<Option<Value>, crate::sync::SourceError>> {
            self.inner.user(id)
        }
        fn group<'a>(
            &'a self,
            id: &'a str,
        ) -> BoxFuture<'a, Result<Option<Value>, crate::sync::SourceError>> {
            self.inner.group(id)
        }
        fn user_group_ids<'a>(
            &'a self,
            user_id: &'a str,
        ) -> BoxFuture<'a, Result<Option<Vec<String>>, crate::sync::SourceError>> {
            self.inner.user_group_ids(user_id)
        }
        fn log_start(&self, _since: chrono::DateTime<Utc>) -> String {
            "log:0".into()
        }
        fn log_page<'a>(
            &'a self,
            cursor: &'a str,
        ) -> BoxFuture<'a, Result<crate::sync::LogPage, crate::sync::SourceError>> {
            if self
                .panic_once
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                panic!("a bug met a log page it did not expect");
            }
            let page =
                lock(&self.log)
                    .get(cursor)
                    .cloned()
                    .unwrap_or_else(|| crate::sync::LogPage {
                        events: Vec::new(),
                        read: 0,
                        next: cursor.to_owned(),
                    });
            Box::pin(async move { Ok(page) })
        }
        fn users_changed_since(&self, since: chrono::DateTime<Utc>) -> BoxStream<'_, Page> {
            self.inner.users_changed_since(since)
        }
        fn groups_changed_since(&self, since: chrono::DateTime<Utc>) -> BoxStream<'_, Page> {
            self.inner.groups_changed_since(since)
        }
        fn groups_with_members_changed_since(
            &self,
            since: chrono::DateTime<Utc>,
        ) -> BoxStream<'_, Page> {
            self.inner.groups_with_members_changed_since(since)
        }
        fn requests(&self) -> u64 {
            self.inner.requests()
        }
        fn retries(&self) -> u64 {
            0
        }
        fn rate_limited(&self) -> u64 {
            0
        }
    }

    fn titled(id: &str, title: &str) -> Value {
        let mut u = crate::sync::tests::user(id);
        u["profile"]["title"] = Value::String(title.to_owned());
        u
    }

    fn title_of(store: &Store, id: &str) -> Option<String> {
        store.person(id).ok().flatten().and_then(|p| p.title)
    }

    /// Polls `cond` (every 10 ms) until it holds, failing the test after 30 s.
    async fn until(what: &str, mut cond: impl FnMut() -> bool) {
        let waited = tokio::time::timeout(Duration::from_secs(30), async {
            while !cond() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "stuck waiting for {what}");
    }

    /// A running schedule over `source` (polling every 10 ms) and its controls.
    fn spawn(
        store: &Store,
        source: Arc<dyn Source>,
    ) -> (
        mpsc::Sender<Command>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, stop) = watch::channel(false);
        let lanes = Lanes {
            poll_interval: Duration::from_millis(10),
            ..Lanes::default()
        };
        let task = tokio::spawn(run(
            store.clone(),
            source,
            SyncConfig::default(),
            lanes,
            Wiring {
                commands: rx,
                stop,
                log_allowance: None,
            },
        ));
        (tx, stop_tx, task)
    }

    async fn full_now(tx: &mpsc::Sender<Command>) -> oneshot::Receiver<SyncRun> {
        let (reply, rx) = oneshot::channel();
        let sent = tx
            .send(Command::Sync {
                kind: SyncKind::Full,
                allow_mass_delete: false,
                reply,
            })
            .await;
        assert!(sent.is_ok(), "the schedule is running");
        rx
    }

    /// A mirror of u1, u2 and g1 after one crawl, with the tail at `log:0`.
    async fn ready_mirror(fake: &Fake) -> (tempfile::TempDir, Store) {
        let (dir, store) = store();
        fake.put_user(titled("u1", "old"));
        let run = crate::sync::run_full(&store, fake, &SyncConfig::default(), &NoProgress).await;
        assert!(run.ok, "{:?}", run.error);
        store
            .put_meta_json(meta::LOG_CURSOR, &"log:0")
            .expect("position");
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reconcile_does_not_pause_the_tail_nor_overwrite_what_it_applied() {
        let fake = Arc::new(Fake::org(&["u1", "u2"], &["g1"]));
        let (_dir, store) = ready_mirror(&fake).await;
        let source = Arc::new(Gated::new(fake.clone(), false));
        let (tx, stop, task) = spawn(&store, source.clone());

        // The reconcile starts: it reads the users as they are now (u1 "old") and waits.
        let mut reply = full_now(&tx).await;
        until("the crawl to start", || source.lists() == 1).await;

        // Meanwhile u1 changes in the source and the log says so.
        fake.put_user(titled("u1", "new"));
        lock(&source.log).insert(
            "log:0".into(),
            crate::sync::LogPage {
                events: vec![Event {
                    uuid: "e1".into(),
                    published: None,
                    targets: vec![crate::sync::Target::User("u1".into())],
                }],
                read: 1,
                next: "log:1".into(),
            },
        );
        // The tail applies it while the crawl is still reading.
        until("the tail to apply u1's change during the crawl", || {
            title_of(&store, "u1").as_deref() == Some("new")
        })
        .await;
        assert!(
            matches!(reply.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "the crawl has not finished yet"
        );

        // The crawl finishes with its older read of u1; the replay from the position it
        // started at puts the newer one back.
        source.open();
        let run = reply.await.expect("the crawl's record");
        assert!(run.ok, "{:?}", run.error);
        until("the replay to re-read u1", || {
            title_of(&store, "u1").as_deref() == Some("new")
                && store.meta_json::<String>(meta::LOG_CURSOR).ok().flatten()
                    == Some("log:1".into())
        })
        .await;
        assert_eq!(title_of(&store, "u2"), None);

        let _ = stop.send(true);
        assert!(
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .is_ok()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_crawls_asked_for_are_coalesced() {
        let fake = Arc::new(Fake::org(&["u1", "u2"], &["g1"]));
        let (_dir, store) = ready_mirror(&fake).await;
        let source = Arc::new(Gated::new(fake.clone(), false));
        let (tx, stop, task) = spawn(&store, source.clone());

        let first = full_now(&tx).await;
        until("the first crawl to start", || source.lists() == 1).await;
        // Three more calls while it runs: one crawl is queued, and all three wait for it.
        let mut more = Vec::new();
        for _ in 0..3 {
            more.push(full_now(&tx).await);
        }
        source.open();
        let first = first.await.expect("the first crawl's record");
        let mut ids = Vec::new();
        for r in more {
            let run = r.await.expect("the queued crawl's record");
            assert!(run.ok, "{:?}", run.error);
            ids.push(run.id);
        }
        assert_eq!(source.lists(), 2, "two crawls, not four");
        assert!(
            ids.iter().all(|id| *id == ids[0] && *id > first.id),
            "{ids:?}"
        );

        let _ = stop.send(true);
        assert!(
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .is_ok()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_step_is_recorded_and_the_schedule_restarts() {
        let fake = Arc::new(Fake::org(&["u1", "u2"], &["g1"]));
        let (_dir, store) = ready_mirror(&fake).await;
        let source = Arc::new(Gated::new(fake.clone(), true));
        source
            .panic_once
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let (_tx, stop, task) = spawn(&store, source.clone());

        until("the panic's record", || {
            store.runs(10).unwrap_or_default().iter().any(|r| {
                r.kind == RunKind::Tail
                    && !r.ok
                    && r.error
                        .as_deref()
                        .is_some_and(|e| e.contains("panicked") && e.contains("did not expect"))
            })
        })
        .await;
        let panicked_at = Utc::now();
        // The restarted schedule reads the log again; the problem clears.
        until("a good read after the restart", || {
            let contact = store
                .meta_json::<chrono::DateTime<Utc>>(meta::LAST_CONTACT)
                .ok()
                .flatten();
            let problem = store
                .meta_json::<Option<String>>(meta::SYNC_PROBLEM)
                .ok()
                .flatten()
                .flatten();
            contact.is_some_and(|t| t > panicked_at) && problem.is_none()
        })
        .await;

        let _ = stop.send(true);
        assert!(
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .is_ok()
        );
    }
}
