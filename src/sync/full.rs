//! The full crawl: stage everything the source returns, and only once the crawl completed,
//! resolve managers and apply the difference to the store in transactional chunks. A crawl that
//! fails at any point leaves the mirror as it was; one that completes removes what is gone.

use std::collections::HashSet;

use futures::StreamExt;
use serde_json::Value;

use super::managers::{self, ManagerInputs};
use super::{Progress, ProgressEvent, Source, SourceError, SyncConfig, Usage};
use crate::model::{
    AttributeMap, ChangeCounts, Group, HeldDeletions, ManagerReport, Person, RunKind, SyncRun,
    strip_volatile,
};
use crate::store::{Batch, Op, RawJson, StagedUser, Store, StoreError, meta};

/// What a source refusing the user types costs, said in the run's warnings.
pub const USER_TYPES_REFUSED: &str = "Okta refused the user types (GET /api/v1/meta/types/user): grant okta.userTypes.read (OAuth) or use a token whose admin may read them; until then people's userType has an id and no name, and the userType filter and facet match type ids only";

/// Operations per store transaction: large enough to amortise the commit, small enough to keep
/// a transaction's memory and lock time modest.
const CHUNK: usize = 1000;

#[derive(Debug, thiserror::Error)]
enum FullSyncError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the apply task stopped unexpectedly: {0}")]
    Join(String),
    #[error("stopped because the mirror is shutting down; the next crawl reads everything again")]
    Cancelled,
}

/// Groups listed by the crawl whose member list then answered "not found": deleted while the
/// crawl ran. They are left out of the crawl (so removed like any group Okta no longer has).
type Vanished = HashSet<String>;

/// Tells a crawl to stop: its fetch is dropped, its apply stops before the next chunk (a chunk
/// is one transaction, so the store stays consistent), and the run is recorded as failed.
/// Cheap to clone; `Cancel::never()` for a crawl nobody stops.
#[derive(Clone, Default)]
pub struct Cancel(Option<tokio::sync::watch::Receiver<bool>>);

impl Cancel {
    /// A crawl that runs to its end.
    pub fn never() -> Cancel {
        Cancel(None)
    }

    /// Cancelled once `stop` holds `true` (the mirror's shutdown signal).
    pub fn on(stop: tokio::sync::watch::Receiver<bool>) -> Cancel {
        Cancel(Some(stop))
    }

    /// True once the crawl should stop.
    pub fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Resolves once the crawl should stop (never for `Cancel::never()`, nor once the sender is
    /// gone without having said stop).
    pub async fn cancelled(&self) {
        match &self.0 {
            Some(rx) => {
                let mut rx = rx.clone();
                if rx.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// Runs one full sync and records it in the store. Never panics on source or store failures:
/// the returned run says whether it succeeded and, if not, why.
pub async fn run_full(
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
    progress: &dyn Progress,
) -> SyncRun {
    run_crawl(RunKind::Full, store, source, cfg, progress).await
}

/// `run_full`, recorded as `kind` (a scheduled reconcile is the same crawl).
pub async fn run_crawl(
    kind: RunKind,
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
    progress: &dyn Progress,
) -> SyncRun {
    run_crawl_until(kind, store, source, cfg, progress, &Cancel::never()).await
}

/// `run_crawl` that stops when `cancel` says so (see [`Cancel`]).
pub async fn run_crawl_until(
    kind: RunKind,
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> SyncRun {
    let fetched = fetch(kind, store, source, cfg, progress, cancel).await;
    apply(fetched, store, cfg, progress, cancel).await
}

/// A crawl read into the staging trees (or the reason it could not be), waiting for [`apply`].
pub struct Fetched {
    run: SyncRun,
    outcome: Result<Crawled, FullSyncError>,
}

/// What a complete crawl hands to its apply besides the staging trees.
struct Crawled {
    vanished: Vanished,
    /// People staged only as managers of people in scope (`Person::outside_scope`).
    outside: HashSet<String>,
    /// What manager resolution reads of each user listed, as the crawl derived it (`Err`: the
    /// id and why they do not parse), in the order they came; `None` when a scope also added
    /// or removed staged users, whose people are then read from the staging tree.
    listed: Option<Vec<Listed>>,
    /// Memberships read (an upper bound of those an initial load keeps).
    memberships: u64,
}

/// A listed user as the crawl derived them: what resolution reads, or their id and why they do
/// not parse.
type Listed = Result<managers::Inputs, (String, String)>;

impl Fetched {
    /// Whether the whole org was read (an apply will then change the mirror).
    pub fn complete(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// The crawl's first half: everything the source returns, into the staging trees. Writes
/// nothing else, so it may run while other steps apply their own reads (the schedule then
/// makes sure none of them is overwritten by this older read: see `continuous.rs`). The run's
/// request counts are the source's during the fetch.
pub async fn fetch(
    kind: RunKind,
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Fetched {
    let usage = Usage::now(source);
    let mut run = SyncRun::start(kind);
    tracing::info!("full sync started");
    let crawl_started = std::time::Instant::now();
    let in_flight = InFlight::default();
    let mut outcome = tokio::select! {
        r = crawl(store, source, cfg, progress, &mut run, &in_flight) => r,
        _ = cancel.cancelled() => Err(FullSyncError::Cancelled),
    };
    // A cancelled crawl may have left a page being staged: nothing writes after this.
    if let Err(e) = in_flight.wait().await {
        outcome = outcome.and(Err(e));
    }
    if outcome.is_ok() {
        tracing::info!(
            secs = crawl_started.elapsed().as_secs_f64(),
            "crawl complete, applying"
        );
    }
    usage.record(source, &mut run);
    Fetched { run, outcome }
}

/// The crawl's second half: applies a complete fetch (in chunks, stopping between them when
/// `cancel` says so), records the run, and clears the staging trees. A failed fetch is
/// recorded as it is and changes nothing.
pub async fn apply(
    fetched: Fetched,
    store: &Store,
    cfg: &SyncConfig,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> SyncRun {
    let Fetched { mut run, outcome } = fetched;
    let result = match outcome {
        Ok(crawled) => {
            progress.event(ProgressEvent::Applying);
            let (store2, cfg2, cancel2) = (store.clone(), cfg.clone(), cancel.clone());
            // The blocking thread does not inherit the caller's span: carry it over, so the
            // apply phase's lines belong to the same sync step.
            let span = tracing::Span::current();
            let apply = move || span.in_scope(|| apply_staged(&store2, &cfg2, crawled, &cancel2));
            match tokio::task::spawn_blocking(apply).await {
                Ok(r) => r,
                Err(e) => Err(FullSyncError::Join(e.to_string())),
            }
        }
        Err(e) => Err(e),
    };
    run.finished_at = chrono::Utc::now();
    // Recording the run (a transaction and a flush) and clearing the staging trees (a whole
    // crawl's worth at a million people) are blocking sled work: off the async workers.
    let (store2, scope) = (store.clone(), cfg.scope.clone());
    let fallback = run.clone();
    let span = tracing::Span::current();
    let finished = move || span.in_scope(|| finish(&store2, run, result, &scope));
    match tokio::task::spawn_blocking(finished).await {
        Ok(run) => run,
        Err(e) => {
            let mut run = fallback;
            run.ok = false;
            run.error = Some(format!(
                "recording the sync run stopped before it finished: {e}"
            ));
            tracing::error!(
                "full sync failed: {}",
                run.error.as_deref().unwrap_or_default()
            );
            run
        }
    }
}

/// What an apply came to, recorded: the run in the history (with the manager report and the
/// scope for a good run), then the staging trees cleared. Returns the run as recorded.
fn finish(
    store: &Store,
    mut run: SyncRun,
    result: Result<Applied, FullSyncError>,
    scope: &super::Scope,
) -> SyncRun {
    let outcome = match result {
        Ok((changes, report, held, warnings, settled)) => {
            run.ok = true;
            run.changes = changes;
            run.held = held;
            run.warnings.extend(warnings);
            record(store, &mut run, Some(&report), settled.then_some(scope))
        }
        Err(e) => {
            run.config_error = matches!(&e, FullSyncError::Source(s) if s.config);
            run.error = Some(e.to_string());
            record(store, &mut run, None, None)
        }
    };
    if let Err(e) = outcome {
        tracing::error!("could not record the sync run: {e}");
        run.ok = false;
        run.error.get_or_insert_with(|| e.to_string());
    }
    if let Err(e) = store.stage_clear() {
        tracing::warn!("could not clear the crawl staging area: {e}");
    }
    if run.ok {
        tracing::info!(
            users = run.users_fetched,
            groups = run.groups_fetched,
            memberships = run.memberships_fetched,
            requests = run.requests,
            changes = run.changes.total(),
            warnings = run.warnings.len(),
            "full sync complete"
        );
    } else {
        tracing::error!(
            "full sync failed, the mirror is unchanged: {}",
            run.error.as_deref().unwrap_or("unknown error")
        );
    }
    run
}

/// Writes the run record, in the history and as the latest full sync (and, for a good run,
/// the manager report), in one transaction; `run` gets the id it was recorded under.
fn record(
    store: &Store,
    run: &mut SyncRun,
    report: Option<&ManagerReport>,
    scope: Option<&super::Scope>,
) -> Result<(), StoreError> {
    fn json<V: serde::Serialize>(v: &V) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(v).map_err(|e| StoreError::Internal(e.to_string()))
    }
    let run_json = json(run)?;
    let mut entries = vec![(meta::LAST_FULL_SYNC, run_json.clone())];
    if let Some(report) = report {
        entries.push((meta::LAST_GOOD_FULL_SYNC, run_json));
        entries.push((meta::MANAGER_REPORT, json(report)?));
    }
    if let Some(scope) = scope {
        entries.push((meta::SCOPE, json(scope)?));
    }
    let (_, recorded) = store.apply_batch(Batch {
        meta: entries,
        run: Some(run.clone()),
        ..Batch::default()
    })?;
    if let Some(r) = recorded {
        run.id = r.id;
    }
    store.flush()
}

/// Fetches users, groups and group members into the staging area. The user list and the
/// group member lists are independent, so they are crawled at the same time (Okta's cursors
/// make each list itself sequential).
async fn crawl(
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
    progress: &dyn Progress,
    run: &mut SyncRun,
    in_flight: &InFlight,
) -> Result<Crawled, FullSyncError> {
    store.stage_clear()?;
    let ((user_warnings, mut listed), groups) = if cfg.scope.users_from_groups {
        // People come from the included groups' member lists: nobody else is listed.
        let groups = crawl_groups(store, source, cfg, progress, true).await?;
        ((keep_matching_people(store, source).await?, None), groups)
    } else {
        let (users, groups) = tokio::join!(
            crawl_users(store, source, &cfg.attribute_map, progress, in_flight),
            crawl_groups(store, source, cfg, progress, false)
        );
        let (warnings, listed) = users?;
        ((warnings, Some(listed)), groups?)
    };
    let (groups_fetched, memberships_fetched, group_warnings, vanished) = groups;
    let outside = if cfg.scope.limits_people() {
        // Managers read by key join the staged users: their people are read from there.
        listed = None;
        complete_manager_chains(store, source, cfg).await?
    } else {
        HashSet::new()
    };
    match source.user_types().await? {
        Some(types) => store.put_meta_json(meta::USER_TYPES, &types)?,
        None => run.warnings.push(USER_TYPES_REFUSED.to_owned()),
    }
    // The two user passes (active list, then deprovisioned) may overlap; count each user once.
    run.users_fetched = store.staged_user_count() as u64;
    run.groups_fetched = groups_fetched.saturating_sub(vanished.len() as u64);
    run.memberships_fetched = memberships_fetched;
    run.warnings.extend(user_warnings);
    run.warnings.extend(group_warnings);
    Ok(Crawled {
        vanished,
        outside,
        listed,
        memberships: memberships_fetched,
    })
}

/// Unstages the group members the scope's people filter leaves out (the source decides,
/// asking Okta); nothing to ask without a filter.
async fn keep_matching_people(
    store: &Store,
    source: &dyn Source,
) -> Result<Vec<String>, FullSyncError> {
    let ids = store.staged_user_ids().collect::<Result<Vec<_>, _>>()?;
    let matching = source.matching_people_filter(&ids).await?;
    let left_out: Vec<String> = ids
        .into_iter()
        .filter(|id| !matching.contains(id))
        .collect();
    store.unstage_users(&left_out)?;
    Ok(Vec::new())
}

/// Brings in, level by level, the managers of staged people who are not staged themselves
/// (read from the source by their key, whatever the scope), so manager chains stay whole up to
/// the top. Returns their ids: they are mirrored marked as outside the scope.
async fn complete_manager_chains(
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
) -> Result<HashSet<String>, FullSyncError> {
    let mut people = Vec::new();
    for r in store.staged_users() {
        if let Ok(p) = Person::from_okta(&r?.1, &cfg.attribute_map) {
            people.push(managers::Inputs::of(&p));
        }
    }
    let mut asked: HashSet<String> = HashSet::new();
    let mut outside = HashSet::new();
    // By key only: a display name matching someone already staged must not stand in for a
    // manager who is not read yet.
    let by_key = managers::ManagerConfig {
        name_fallback: false,
        ..cfg.managers.clone()
    };
    loop {
        let resolution = managers::resolve(&people, &by_key);
        let refs: HashSet<&str> = people
            .iter()
            .filter(|p| !resolution.managers.contains_key(p.id()))
            .filter_map(|p| p.manager_ref())
            .collect();
        let wanted: Vec<String> = refs
            .into_iter()
            .filter(|r| asked.insert((*r).to_owned()))
            .map(str::to_owned)
            .collect();
        if wanted.is_empty() {
            return Ok(outside);
        }
        let mut warnings = Vec::new();
        let mut found = Vec::new();
        for (id, raw) in with_ids(source.users_by_keys(&wanted).await?, "user", &mut warnings) {
            if store.is_user_staged(&id)? || outside.contains(&id) {
                continue;
            }
            if let Ok(p) = Person::from_okta(&raw, &cfg.attribute_map) {
                people.push(managers::Inputs::of(&p));
                outside.insert(id.clone());
                found.push((id, raw));
            }
        }
        store.stage_users(&found)?;
    }
}

/// Lists the users into the staging tree, each with the person derived from it (the apply then
/// reads people without parsing Okta's JSON again), and returns what manager resolution reads
/// of each, in the order they came. A page is derived and staged on a blocking thread while
/// the next is read (`InFlight`).
async fn crawl_users(
    store: &Store,
    source: &dyn Source,
    map: &std::sync::Arc<AttributeMap>,
    progress: &dyn Progress,
    in_flight: &InFlight,
) -> Result<(Vec<String>, Vec<Listed>), FullSyncError> {
    let (mut warnings, mut fetched) = (Vec::new(), 0u64);
    let mut listed = Vec::new();
    let mut pages = source.users();
    while let Some(page) = pages.next().await {
        let page = with_ids(page?, "user", &mut warnings);
        fetched += page.len() as u64;
        listed.extend(in_flight.wait().await?);
        let (store, map) = (store.clone(), map.clone());
        in_flight.start(move || {
            let mut read = Vec::with_capacity(page.len());
            let people: Vec<_> = page
                .into_iter()
                .map(|(id, raw)| match Person::from_okta(&raw, &map) {
                    Ok(p) => {
                        read.push(Ok(managers::Inputs::of(&p)));
                        (id, raw, Some(p))
                    }
                    // Staged without a person: the apply derives it again if it needs to.
                    Err(e) => {
                        read.push(Err((id.clone(), format!("skipped user {id}: {e}"))));
                        (id, raw, None)
                    }
                })
                .collect();
            store.stage_people(&people)?;
            Ok(read)
        });
        progress.event(ProgressEvent::Users(fetched));
    }
    listed.extend(in_flight.wait().await?);
    tracing::debug!(users = fetched, "crawl: users listed");
    Ok((warnings, listed))
}

/// The people a crawl listed, in id order, each once (the two user passes may overlap: the
/// later read wins, as in the staging tree); those that do not parse are left out with a
/// warning.
fn listed_people(mut listed: Vec<Listed>, warnings: &mut Vec<String>) -> Vec<managers::Inputs> {
    fn id(l: &Listed) -> &str {
        match l {
            Ok(p) => p.id(),
            Err((id, _)) => id,
        }
    }
    // Stable: of two reads of one id, the later stays after the earlier. Each pass comes in
    // id order, so this merges two runs.
    listed.sort_by(|a, b| id(a).cmp(id(b)));
    let mut people = Vec::with_capacity(listed.len());
    let mut reads = listed.into_iter().peekable();
    while let Some(read) = reads.next() {
        if reads.peek().is_some_and(|next| id(next) == id(&read)) {
            continue;
        }
        match read {
            Ok(p) => people.push(p),
            Err((_, warning)) => warnings.push(warning),
        }
    }
    people
}

/// The page of users being staged on a blocking thread while the crawl reads the next. Held by
/// `fetch` outside the crawl, so that a crawl dropped by a cancel still waits for its last page
/// before the staging trees are cleared.
#[derive(Clone, Default)]
struct InFlight(std::sync::Arc<std::sync::Mutex<Option<StagingTask>>>);

type StagingTask = tokio::task::JoinHandle<Result<Vec<Listed>, StoreError>>;

impl InFlight {
    fn take(&self) -> Option<StagingTask> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Stages on a blocking thread (after `wait`: one page at a time).
    fn start(&self, stage: impl FnOnce() -> Result<Vec<Listed>, StoreError> + Send + 'static) {
        let task = tokio::task::spawn_blocking(stage);
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
    }

    /// Waits for the page being staged, if one is, and returns what it read.
    async fn wait(&self) -> Result<Vec<Listed>, FullSyncError> {
        match self.take() {
            Some(task) => match task.await {
                Ok(staged) => Ok(staged?),
                Err(e) => Err(FullSyncError::Join(e.to_string())),
            },
            None => Ok(Vec::new()),
        }
    }
}

async fn crawl_groups(
    store: &Store,
    source: &dyn Source,
    cfg: &SyncConfig,
    progress: &dyn Progress,
    with_users: bool,
) -> Result<(u64, u64, Vec<String>, Vanished), FullSyncError> {
    let (mut warnings, mut groups, mut memberships) = (Vec::new(), 0u64, 0u64);
    let mut vanished = Vanished::new();
    let mut pages = source.groups();
    while let Some(page) = pages.next().await {
        let page = with_ids(page?, "group", &mut warnings);
        groups += page.len() as u64;
        store.stage_groups(&page)?;
        progress.event(ProgressEvent::Groups(groups));
    }
    drop(pages);

    let group_ids = store.staged_group_ids().collect::<Result<Vec<_>, _>>()?;
    let total = group_ids.len() as u64;
    let mut done = 0u64;
    let mut lists = futures::stream::iter(group_ids)
        .map(|gid: String| async move {
            if !with_users {
                return (gid.clone(), source.group_member_ids(&gid).await);
            }
            // People in scope come from these lists: keep the whole user objects.
            let users = match source.group_members(&gid).await {
                Ok(Some(users)) => users,
                other => return (gid, other.map(|_| None)),
            };
            let mut skipped = Vec::new();
            let users = with_ids(users, "user", &mut skipped);
            let staged = store
                .stage_users(&users)
                .map_err(|e| SourceError::new(e.to_string()));
            let ids = staged.map(|()| Some(users.into_iter().map(|(id, _)| id).collect()));
            (gid, ids)
        })
        .buffer_unordered(cfg.concurrency.max(1));
    while let Some((gid, ids)) = lists.next().await {
        done += 1;
        progress.event(ProgressEvent::Members { done, total });
        let Some(ids) = ids? else {
            warnings.push(format!(
                "group {gid} was deleted while the crawl ran: left out (removed from the mirror)"
            ));
            vanished.insert(gid);
            continue;
        };
        memberships += ids.len() as u64;
        store.stage_members(&gid, &ids)?;
    }
    tracing::debug!(groups, memberships, "crawl: member lists read");
    Ok((groups, memberships, warnings, vanished))
}

/// Pairs each object with its id, its volatile fields stripped (`model::strip_volatile`);
/// objects without an id are skipped with a warning.
fn with_ids(page: Vec<Value>, kind: &str, warnings: &mut Vec<String>) -> Vec<(String, Value)> {
    page.into_iter()
        .filter_map(|mut v| match v.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                let id = id.to_owned();
                strip_volatile(&mut v);
                Some((id, v))
            }
            _ => {
                warnings.push(format!("skipped a {kind} object without an id"));
                None
            }
        })
        .collect()
}

/// What applying a crawl returns: the change counts, the manager report, the held removals and
/// the warnings, and whether the configured scope is now the one the mirror holds (not when
/// removals a scope change caused are held).
type Applied = (
    ChangeCounts,
    ManagerReport,
    HeldDeletions,
    Vec<String>,
    bool,
);

/// Applies the staged crawl: people (with resolved managers), groups, membership differences,
/// then removals of what Okta no longer has.
fn apply_staged(
    store: &Store,
    cfg: &SyncConfig,
    mut crawled: Crawled,
    cancel: &Cancel,
) -> Result<Applied, FullSyncError> {
    let listed = crawled.listed.take();
    let crawled = &crawled;
    let vanished = &crawled.vanished;
    let mut warnings = Vec::new();
    let mut out = Chunked::new(store, cancel);
    let phase = std::time::Instant::now();
    let done =
        |name: &str| tracing::debug!(phase = name, secs = phase.elapsed().as_secs_f64(), "apply");

    // What manager resolution needs of each person, not whole records: the people are read
    // again from the staging tree when they are written (a million `Person`s would not fit the
    // memory a sync may take).
    let people = match listed {
        Some(listed) => listed_people(listed, &mut warnings),
        None => parse_staged_people(store, &cfg.attribute_map, &mut warnings)?,
    };
    done("staged users parsed");
    let mut live = Live::of(store, &people, vanished)?;
    let (removals, held, settled) = decide_removals(store, cfg, &mut live, &mut warnings)?;
    done("removals decided");
    let resolved = resolve_managers(store, people, &held.people, &cfg.managers)?;
    done("managers resolved");
    let writer = Writer {
        map: &cfg.attribute_map,
        outside: &crawled.outside,
    };
    // Decided by the store, once: a crawl into an empty store writes each key once.
    if let Some(load) = store.begin_initial_load()? {
        let Resolved {
            people,
            staged,
            mut manager_of,
            report,
        } = resolved;
        let status: Vec<_> = people[..staged]
            .iter()
            .map(|p| (p.id().to_owned(), p.status()))
            .collect();
        drop(people);
        // Nothing removes anything from an empty store: the live sets are not needed again.
        drop(live);
        // An empty store holds nobody to hold: everyone resolved is being loaded.
        manager_of.truncate(staged);
        let loaded = load_initial(store, load, status, &writer, manager_of, crawled, cancel);
        let (counts, groups_warnings) = loaded?;
        warnings.extend(groups_warnings);
        done("initial load");
        warnings.extend(manager_warnings(&report));
        return Ok((counts, report, held, warnings, settled));
    }
    let mut managers = resolved.by_id();
    let Resolved { report, .. } = resolved;
    apply_people(store, &mut out, &writer, &mut managers)?;
    done("people");
    let groups = apply_groups(store, &mut out, vanished, &mut warnings)?;
    out.flush()?;
    done("groups");
    apply_memberships(store, &mut out, &groups, &live.people, &held.people)?;
    out.flush()?;
    done("memberships");
    apply_removals(&mut out, removals)?;
    out.flush()?;
    done("removals");
    warnings.extend(manager_warnings(&report));
    Ok((out.counts, report, held, warnings, settled))
}

/// People per batch of an initial load.
const LOAD_CHUNK: usize = 2_000;

/// A crawl into an empty store (`store::InitialLoad`): people and groups on this thread,
/// memberships on a second one (they touch other trees), then the counts and one change-log
/// entry. A failure empties the store again; after a cancel (the mirror stopping) the next open
/// does (`store::Store::open`). Returns what was created and the warnings about groups that
/// would not parse.
fn load_initial(
    store: &Store,
    load: crate::store::InitialLoad,
    status: Vec<(String, crate::model::UserStatus)>,
    writer: &Writer<'_>,
    manager_of: Vec<u32>,
    crawled: &Crawled,
    cancel: &Cancel,
) -> Result<(ChangeCounts, Vec<String>), FullSyncError> {
    let mut sides = load.sides(status)?;
    let crate::store::Sides {
        people: people_side,
        raw,
        members: member_side,
    } = &mut sides;
    member_side.reserve(usize::try_from(crawled.memberships).unwrap_or(0));
    let managers = ManagerPositions(manager_of);
    let mut warnings = Vec::new();
    let loaded = std::thread::scope(|scope| {
        let groups = parse_staged_groups(store, &crawled.vanished, &mut warnings)?;
        let group_ids: Vec<String> = groups.iter().map(|(g, _)| g.id.clone()).collect();
        let members = scope.spawn(move || -> Result<(), FullSyncError> {
            for gid in &group_ids {
                if cancel.is_set() {
                    return Err(FullSyncError::Cancelled);
                }
                member_side.members(gid, &store.staged_member_ids(gid)?)?;
            }
            member_side.write_member_of()?;
            tracing::debug!(phase = "initial load: memberships", "apply");
            Ok(())
        });
        let written =
            load_people(store, people_side, raw, writer, managers, cancel).and_then(|()| {
                tracing::debug!(phase = "initial load: people", "apply");
                Ok(people_side.groups(&groups)?)
            });
        let members = members
            .join()
            .unwrap_or_else(|_| Err(FullSyncError::Join("the membership loader panicked".into())));
        written.and(members)
    });
    let finished = loaded.and_then(|()| {
        if cancel.is_set() {
            return Err(FullSyncError::Cancelled);
        }
        Ok(load.finish(sides)?)
    });
    match finished {
        Ok(counts) => Ok((counts, warnings)),
        // The mirror is stopping: the store keeps the load's mark and is emptied when it next
        // opens, by dropping its trees, which is quick, where emptying them here key by key
        // could outlast the stop's wait at a million people.
        Err(FullSyncError::Cancelled) => {
            tracing::info!(
                "the first load was stopped; the data directory is emptied when the mirror next starts"
            );
            Err(FullSyncError::Cancelled)
        }
        Err(e) => {
            if let Err(undo) = load.abandon() {
                tracing::warn!("could not empty the store after a failed first load: {undo}");
            }
            Err(e)
        }
    }
}

/// Each person's resolved manager by their position in the load's id order (`Everyone::ids`,
/// the order managers were resolved in): 4 bytes a person where the resolver's map of ids to
/// ids takes some 160 bytes (about 165 MB at a million people, held through the whole load).
struct ManagerPositions(Vec<u32>);

impl ManagerPositions {
    /// The manager of the person at `at`, taken out (each person is written once).
    fn take(&mut self, ids: &[(String, crate::model::UserStatus)], at: usize) -> Option<String> {
        let m = std::mem::replace(self.0.get_mut(at)?, managers::NO_MANAGER);
        ids.get(m as usize).map(|(id, _)| id.clone())
    }
}

/// Writes each staged person with their resolved manager and the staged raw bytes (the second
/// pass over the staging tree), `LOAD_CHUNK` at a time: read, parsed and their raw JSON written
/// (`RawLoad`, the largest tree) on a thread of their own, the records, indexes and counts on
/// this one (a million people: the parse is about half of the 41 s this took on one thread).
fn load_people(
    store: &Store,
    out: &mut crate::store::PeopleLoad,
    raw: &mut crate::store::RawLoad,
    writer: &Writer<'_>,
    mut managers: ManagerPositions,
    cancel: &Cancel,
) -> Result<(), FullSyncError> {
    let everyone = out.everyone();
    // Two chunks in flight: a few MB each, so the handoff adds little to the load's memory.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Person>>(2);
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> Result<(), FullSyncError> {
            let ids = everyone.ids();
            let mut chunk = Vec::with_capacity(LOAD_CHUNK);
            // The staged users come in id order, as `ids` do (less those that did not parse).
            let mut at = 0;
            for r in store.staged_people() {
                let user = r?;
                while ids.get(at).is_some_and(|(p, _)| *p < user.id) {
                    at += 1;
                }
                let manager = match ids.get(at) {
                    Some((p, _)) if *p == user.id => managers.take(ids, at),
                    _ => None,
                };
                // `None`: skipped as unreadable (and warned about) when the people were parsed.
                let Some(person) = writer.person(&user, manager) else {
                    continue;
                };
                raw.push(&user.id, &user.raw)?;
                chunk.push(person);
                if chunk.len() >= LOAD_CHUNK {
                    if cancel.is_set() {
                        return Err(FullSyncError::Cancelled);
                    }
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(LOAD_CHUNK));
                    if tx.send(full).is_err() {
                        return Ok(()); // the writer stopped; its error is reported
                    }
                }
            }
            let _ = tx.send(chunk);
            Ok(())
        });
        let mut written = Ok(());
        for chunk in rx {
            written = out.people(&chunk);
            if written.is_err() {
                break; // dropping the receiver stops the reader
            }
        }
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(FullSyncError::Join("the people's reader panicked".into())));
        written?;
        read
    })
}

/// The staged groups that parse, with their raw bytes (others are skipped with a warning),
/// leaving out those that vanished during the crawl.
fn parse_staged_groups(
    store: &Store,
    vanished: &Vanished,
    warnings: &mut Vec<String>,
) -> Result<Vec<(Group, Vec<u8>)>, FullSyncError> {
    let mut out = Vec::new();
    for r in store.staged_groups() {
        let (id, raw) = r?;
        if vanished.contains(&id) {
            continue;
        }
        match Group::from_okta(&raw) {
            Ok(group) => out.push((group, RawJson::from(&raw).0)),
            Err(e) => warnings.push(format!("skipped group {id}: {e}")),
        }
    }
    Ok(out)
}

/// Operations gathered into `CHUNK`-sized transactions, and what they changed: a crawl is
/// applied in many modest transactions, not one huge one. Before each chunk the cancel flag is
/// read: a mirror shutting down stops here, between two transactions, so nothing is written
/// after the store's last flush.
struct Chunked<'s> {
    store: &'s Store,
    cancel: &'s Cancel,
    batch: Vec<Op>,
    counts: ChangeCounts,
}

impl<'s> Chunked<'s> {
    fn new(store: &'s Store, cancel: &'s Cancel) -> Chunked<'s> {
        Chunked {
            store,
            cancel,
            batch: Vec::with_capacity(CHUNK),
            counts: ChangeCounts::default(),
        }
    }

    /// Queues `op`, applying the queue once it holds a whole chunk.
    fn push(&mut self, op: Op) -> Result<(), FullSyncError> {
        self.batch.push(op);
        if self.batch.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Applies whatever is queued (at the end of a phase, so the next one starts clean).
    fn flush(&mut self) -> Result<(), FullSyncError> {
        if self.cancel.is_set() {
            return Err(FullSyncError::Cancelled);
        }
        if !self.batch.is_empty() {
            self.counts.add(self.store.apply(&self.batch, &[])?);
            self.batch.clear();
        }
        Ok(())
    }
}

/// The ids this crawl saw (plus, once removals are decided, the held ones): what stays.
struct Live {
    people: HashSet<String>,
    groups: HashSet<String>,
}

impl Live {
    /// The staged people that parsed and every staged group that still existed when its
    /// members were read.
    fn of(
        store: &Store,
        people: &[managers::Inputs],
        vanished: &Vanished,
    ) -> Result<Live, StoreError> {
        let mut groups = HashSet::new();
        for id in store.staged_group_ids() {
            let id = id?;
            if !vanished.contains(&id) {
                groups.insert(id);
            }
        }
        Ok(Live {
            people: people.iter().map(|p| p.id().to_owned()).collect(),
            groups,
        })
    }
}

/// Parses the staged users, in id order, for manager resolution, keeping only what it reads;
/// unreadable ones are skipped with a warning (and skipped again when writing).
fn parse_staged_people(
    store: &Store,
    map: &AttributeMap,
    warnings: &mut Vec<String>,
) -> Result<Vec<managers::Inputs>, StoreError> {
    // Read on this thread, parsed on two: the parse is most of the work, and nothing else runs
    // yet (a million people: 13.6 s on one thread). Batches come back numbered and are put
    // back in id order.
    type Parsed = (usize, Vec<managers::Inputs>, Vec<String>);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<StagedUser>)>(4);
    let rx = std::sync::Mutex::new(rx);
    // Takes batches until the reader is done; after a failure it only takes them (so that the
    // reader never waits on a full channel), and reports the failure at the end.
    let parse = || -> Result<Vec<Parsed>, StoreError> {
        let mut out = Vec::new();
        let mut failed = None;
        loop {
            let next = rx
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .recv();
            let Ok((n, batch)) = next else {
                return failed.map_or(Ok(out), Err);
            };
            if failed.is_some() {
                continue;
            }
            let mut people = Vec::with_capacity(batch.len());
            let mut skipped = Vec::new();
            for user in batch {
                match derive(&user, map) {
                    Ok(Ok(p)) => people.push(managers::Inputs::of(&p)),
                    Ok(Err(skip)) => skipped.push(skip),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            out.push((n, people, skipped));
        }
    };
    let (read, mine, theirs) = std::thread::scope(|s| {
        let helper = s.spawn(parse);
        let reader = s.spawn(move || -> Result<(), StoreError> {
            let mut batch = Vec::with_capacity(PARSE_BATCH);
            let mut n = 0;
            for r in store.staged_people() {
                batch.push(r?);
                if batch.len() == PARSE_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(PARSE_BATCH));
                    if tx.send((n, full)).is_err() {
                        return Ok(()); // both parsers are gone (a panic, reported)
                    }
                    n += 1;
                }
            }
            if !batch.is_empty() {
                let _ = tx.send((n, batch));
            }
            Ok(())
        });
        let mine = parse();
        let read = reader.join();
        let theirs = helper.join();
        (read, mine, theirs)
    });
    fn joined<T>(r: std::thread::Result<Result<T, StoreError>>) -> Result<T, StoreError> {
        r.unwrap_or_else(|_| Err(StoreError::Internal("parsing staged users panicked".into())))
    }
    joined(read)?;
    let mut parsed = mine?;
    parsed.extend(joined(theirs)?);
    parsed.sort_unstable_by_key(|(n, _, _)| *n);
    let mut people = Vec::with_capacity(parsed.iter().map(|(_, p, _)| p.len()).sum());
    for (_, batch, skipped) in parsed {
        people.extend(batch);
        warnings.extend(skipped);
    }
    Ok(people)
}

/// Staged users per batch handed to a parsing thread.
const PARSE_BATCH: usize = 1_024;

/// Turns a staged user into the record to write, the second time it is parsed: with the
/// resolved manager and whether the scope left them out.
struct Writer<'c> {
    map: &'c AttributeMap,
    outside: &'c HashSet<String>,
}

impl Writer<'_> {
    /// `None` for a user that does not parse (warned about by `parse_staged_people`).
    fn person(&self, user: &StagedUser, manager: Option<String>) -> Option<Person> {
        let mut person = derive(user, self.map).ok()?.ok()?;
        person.manager_id = manager;
        person.outside_scope = self.outside.contains(&user.id);
        Some(person)
    }
}

/// The person of a staged user: the one the crawl derived, or else derived from Okta's JSON
/// now. `Ok(Err(warning))` for a user that does not parse (skipped); `Err` for staging that
/// cannot be read.
fn derive(user: &StagedUser, map: &AttributeMap) -> Result<Result<Person, String>, StoreError> {
    let corrupt =
        |e: serde_json::Error| StoreError::Corrupt(format!("staged user {}: {e}", user.id));
    if let Some(person) = &user.person {
        return serde_json::from_slice(person).map(Ok).map_err(corrupt);
    }
    let value: Value = serde_json::from_slice(&user.raw).map_err(corrupt)?;
    Ok(Person::from_okta(&value, map).map_err(|e| format!("skipped user {}: {e}", user.id)))
}

/// What a crawl removes: what the store has and the crawl did not see, less what is held.
struct Removals {
    people: Vec<String>,
    groups: Vec<String>,
}

/// The removals to apply, decided before anything is written: beyond the
/// safety share they are held, and held people and groups stay whole (their memberships, and
/// their place as someone's manager), as if this crawl had seen them unchanged. Held people
/// join `live`.
fn decide_removals(
    store: &Store,
    cfg: &SyncConfig,
    live: &mut Live,
    warnings: &mut Vec<String>,
) -> Result<(Removals, HeldDeletions, bool), StoreError> {
    let gone_people: Vec<String> = store
        .person_ids()
        .filter(|r| r.as_ref().map_or(true, |id| !live.people.contains(id)))
        .collect::<Result<_, _>>()?;
    let gone_groups: Vec<String> = store
        .group_ids()
        .filter(|r| r.as_ref().map_or(true, |id| !live.groups.contains(id)))
        .collect::<Result<_, _>>()?;
    let mut held = HeldDeletions::default();
    let (people_before, groups_before) = (store.people_count()?, store.group_count()?);
    // A store without a recorded scope was crawled whole (scopes came later).
    let previous: super::Scope = store.meta_json(meta::SCOPE)?.unwrap_or_default();
    let rescoped = previous != cfg.scope && (people_before > 0 || groups_before > 0);
    if rescoped && !cfg.allow_mass_delete && !(gone_people.is_empty() && gone_groups.is_empty()) {
        // A changed scope is a decision to remove people, not Okta losing them: every removal
        // it causes waits for the operator, whatever its share.
        warnings.push(format!(
            "held the removal of {} of {people_before} people and {} of {groups_before} groups because the configured scope changed (from {} to {}): \
             a narrower scope removes everyone it leaves out; confirm with `oktamirror sync --once --allow-mass-delete` (or syncNow(kind: FULL, allowMassDelete: true)), or restore the previous scope",
            gone_people.len(),
            gone_groups.len(),
            previous.describe(),
            cfg.scope.describe()
        ));
        live.people.extend(gone_people.iter().cloned());
        held.people = gone_people;
        held.groups = gone_groups;
        return Ok((
            Removals {
                people: Vec::new(),
                groups: Vec::new(),
            },
            held,
            false,
        ));
    }
    let gone_people = hold_if_too_many(
        gone_people,
        people_before,
        "people",
        cfg,
        &mut held.people,
        warnings,
    );
    let gone_groups = hold_if_too_many(
        gone_groups,
        groups_before,
        "groups",
        cfg,
        &mut held.groups,
        warnings,
    );
    live.people.extend(held.people.iter().cloned());
    Ok((
        Removals {
            people: gone_people,
            groups: gone_groups,
        },
        held,
        true,
    ))
}

/// Resolves managers over the staged people and the held ones (who may still manage someone).
fn resolve_managers(
    store: &Store,
    mut people: Vec<managers::Inputs>,
    held_people: &[String],
    cfg: &managers::ManagerConfig,
) -> Result<Resolved, StoreError> {
    let staged = people.len();
    for id in held_people {
        if let Some(p) = store.person(id)? {
            people.push(managers::Inputs::of(&p));
        }
    }
    let refs: Vec<&managers::Inputs> = people.iter().collect();
    let (manager_of, report) = managers::resolve_positions(&refs, cfg);
    Ok(Resolved {
        people,
        staged,
        manager_of,
        report,
    })
}

/// Managers resolved over the staged people (in id order) and, after them, the held ones.
struct Resolved {
    people: Vec<managers::Inputs>,
    /// How many of `people` were staged (the rest are held).
    staged: usize,
    /// Each person's manager, a position in `people` (`managers::NO_MANAGER`: none).
    manager_of: Vec<u32>,
    report: ManagerReport,
}

impl Resolved {
    /// Each person's manager by id, for the apply's writes.
    fn by_id(&self) -> std::collections::HashMap<String, String> {
        managers::managers_by_id(&self.manager_of, |at| self.people.get(at).map(|p| p.id()))
    }
}

/// Writes each staged person with their resolved manager and the staged raw bytes as they are
/// (the second pass over the staging tree, in the same id order as `people`).
fn apply_people(
    store: &Store,
    out: &mut Chunked<'_>,
    writer: &Writer<'_>,
    managers: &mut std::collections::HashMap<String, String>,
) -> Result<(), FullSyncError> {
    for r in store.staged_people() {
        let user = r?;
        let Some(person) = writer.person(&user, managers.remove(&user.id)) else {
            continue; // skipped as unreadable (and warned about) when the people were parsed
        };
        out.push(Op::PutPerson {
            person: Box::new(person),
            raw: RawJson(user.raw),
        })?;
    }
    Ok(())
}

/// Writes each staged group that parses (others are skipped with a warning) and returns their
/// ids, whose member lists are applied next.
fn apply_groups(
    store: &Store,
    out: &mut Chunked<'_>,
    vanished: &Vanished,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, FullSyncError> {
    let mut parsed_groups = Vec::new();
    for (group, raw) in parse_staged_groups(store, vanished, warnings)? {
        parsed_groups.push(group.id.clone());
        out.push(Op::PutGroup {
            group,
            raw: RawJson(raw),
        })?;
    }
    Ok(parsed_groups)
}

/// Applies the difference between each group's stored and staged member lists, keeping only
/// live people, and keeping held people where they are.
fn apply_memberships(
    store: &Store,
    out: &mut Chunked<'_>,
    groups: &[String],
    live_people: &HashSet<String>,
    held_people: &[String],
) -> Result<(), FullSyncError> {
    let held_people: HashSet<&String> = held_people.iter().collect();
    for gid in groups {
        let current = store
            .member_ids_after(gid, None)
            .collect::<Result<Vec<_>, _>>()?;
        let mut wanted: Vec<String> = store
            .staged_member_ids(gid)?
            .into_iter()
            .filter(|u| live_people.contains(u))
            .collect();
        wanted.extend(current.iter().filter(|u| held_people.contains(u)).cloned());
        wanted.sort();
        wanted.dedup();
        for (user_id, add) in sorted_diff(&current, &wanted) {
            out.push(membership_op(gid, user_id, add))?;
        }
    }
    Ok(())
}

/// Deletes the groups, then the people, that Okta no longer has (and that were not held).
fn apply_removals(out: &mut Chunked<'_>, removals: Removals) -> Result<(), FullSyncError> {
    for id in removals.groups {
        out.push(Op::DeleteGroup { id })?;
    }
    for id in removals.people {
        out.push(Op::DeletePerson { id })?;
    }
    Ok(())
}

/// The run's warnings about manager data: references that match nobody (summarised) and
/// cycles (each named).
fn manager_warnings(report: &ManagerReport) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some((id, value)) = report.unresolved.first() {
        warnings.push(format!(
            "{} people have a manager reference that matches nobody (for example user {id}: \"{value}\")",
            report.unresolved.len()
        ));
    }
    for cycle in &report.cycles {
        warnings.push(format!(
            "manager cycle {} → {}: broken by treating {} as a root",
            cycle.join(" → "),
            cycle[0],
            cycle[0]
        ));
    }
    warnings
}

/// Returns the removals to apply: all of them, unless they exceed the safety share of what the
/// mirror holds and the operator has not allowed it; then none, and they are held and reported.
fn hold_if_too_many(
    gone: Vec<String>,
    before: u64,
    what: &str,
    cfg: &SyncConfig,
    held: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let share = if before == 0 {
        0.0
    } else {
        gone.len() as f64 / before as f64
    };
    if gone.is_empty() || share <= cfg.max_delete_share || cfg.allow_mass_delete {
        return gone;
    }
    warnings.push(format!(
        "held the removal of {} of {before} {what} ({:.0} %, above the {:.0} % safety share): if Okta really lost them, \
         run `oktamirror sync --once --allow-mass-delete`; if not, check the API token's admin role and scope",
        gone.len(),
        share * 100.0,
        cfg.max_delete_share * 100.0
    ));
    *held = gone;
    Vec::new()
}

/// The operation that adds (or removes) a user to (or from) a group.
pub(super) fn membership_op(group_id: &str, user_id: &str, add: bool) -> Op {
    let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
    if add {
        Op::AddMember { group_id, user_id }
    } else {
        Op::RemoveMember { group_id, user_id }
    }
}

/// Merges two sorted id lists into (id, true = add / false = remove) steps.
pub(super) fn sorted_diff<'a>(
    current: &'a [String],
    wanted: &'a [String],
) -> Vec<(&'a String, bool)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < current.len() || j < wanted.len() {
        match (current.get(i), wanted.get(j)) {
            (Some(c), Some(w)) if c == w => {
                i += 1;
                j += 1;
            }
            (Some(c), Some(w)) if c < w => {
                out.push((c, false));
                i += 1;
            }
            (Some(c), None) => {
                out.push((c, false));
                i += 1;
            }
            (_, Some(w)) => {
                out.push((w, true));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// Says stop as soon as the crawl starts applying (the mirror shutting down then).
    struct StopOnApply(tokio::sync::watch::Sender<bool>);

    impl Progress for StopOnApply {
        fn event(&self, e: ProgressEvent) {
            if matches!(e, ProgressEvent::Applying) {
                let _ = self.0.send(true);
            }
        }
    }

    #[tokio::test]
    async fn a_cancelled_apply_stops_before_its_next_chunk() {
        let (_dir, store) = crate::sync::tests::store();
        let ids: Vec<String> = (0..2500).map(|i| format!("u{i:04}")).collect();
        let names: Vec<&str> = ids.iter().map(String::as_str).collect();
        let fake = crate::sync::tests::Fake::org(&names, &["g1"]);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let run = run_crawl_until(
            RunKind::Reconcile,
            &store,
            &fake,
            &SyncConfig::default(),
            &StopOnApply(tx),
            &Cancel::on(rx),
        )
        .await;
        assert!(!run.ok);
        assert!(
            run.error
                .as_deref()
                .is_some_and(|e| e.contains("shutting down")),
            "{:?}",
            run.error
        );
        assert_eq!(store.people_count().expect("count"), 0, "no chunk written");
        assert_eq!(
            store.staged_user_count(),
            0,
            "the staging trees are cleared"
        );
        let recorded = store.last_full_sync().expect("read").expect("recorded");
        assert_eq!(recorded.error, run.error);
    }

    /// The person the crawl stages beside each user is the one Okta's JSON gives: every field,
    /// extended attributes, text outside ASCII, numbers and nulls survive the staging. A user
    /// that does not parse is staged without one, and the apply says why it skips them.
    #[test]
    fn a_staged_person_is_the_one_okta_json_gives() {
        let (_dir, store) = crate::sync::tests::store();
        let map = AttributeMap::parse(
            &[("title".to_owned(), "{title} ({costCenter})".to_owned())].into(),
            &["badgeColour".into(), "shifts".into(), "grade".into()],
        )
        .expect("a valid mapping");
        let rich = serde_json::json!({"id": "00u1", "status": "PASSWORD_EXPIRED",
            "created": "2024-01-02T03:04:05.000Z", "lastUpdated": "2024-02-03T04:05:06.000Z",
            "type": {"id": "oty1"},
            "profile": {"login": "Zoë.Ångström@x.com", "email": "zoe@x.com", "firstName": "Zoë",
                "lastName": "Ångström \"Z\"", "displayName": null, "title": "Engineer",
                "costCenter": "CC-9", "department": "R&D / Платформа", "division": "北",
                "city": "Zürich", "countryCode": "CH", "employeeNumber": " 0042 ",
                "managerId": "0007", "manager": "Ana", "mobilePhone": "+41 1",
                "badgeColour": "teal", "shifts": ["early", "late"], "grade": 7.5}});
        let broken = serde_json::json!({"id": "00u2", "status": "ACTIVE", "profile": {}});
        let page: Vec<_> = [rich.clone(), broken]
            .into_iter()
            .map(|raw| {
                let id = raw["id"].as_str().expect("id").to_owned();
                let person = Person::from_okta(&raw, &map).ok();
                (id, raw, person)
            })
            .collect();
        assert!(page[0].2.is_some() && page[1].2.is_none());
        store.stage_people(&page).expect("stage");
        let staged: Vec<StagedUser> = store
            .staged_people()
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(staged.len(), 2);
        let expected = Person::from_okta(&rich, &map).expect("parses");
        assert_eq!(derive(&staged[0], &map).expect("readable"), Ok(expected));
        assert_eq!(
            serde_json::from_slice::<Value>(&staged[0].raw).expect("raw"),
            rich
        );
        let skipped = derive(&staged[1], &map).expect("readable");
        assert!(
            skipped
                .as_ref()
                .is_err_and(|w| w.starts_with("skipped user 00u2")),
            "{skipped:?}"
        );
        // Staged without a person (a scope's member lists, a manager read by key): derived now.
        store
            .stage_users(&[("00u1".to_owned(), rich.clone())])
            .expect("stage");
        let again = store.staged_people().next().expect("one").expect("read");
        assert!(again.person.is_none());
        let expected = Person::from_okta(&rich, &map).expect("parses");
        assert_eq!(derive(&again, &map).expect("readable"), Ok(expected));
    }

    /// The people a crawl listed come out in id order, each once as last read (the second user
    /// pass may read someone again, for better or worse), those that do not parse as warnings.
    #[test]
    fn listed_people_are_in_id_order_each_as_last_read() {
        let map = AttributeMap::default();
        let ok = |id: &str, login: &str| -> Listed {
            let raw = serde_json::json!({"id": id, "status": "ACTIVE",
                "profile": {"login": login}});
            Ok(managers::Inputs::of(
                &Person::from_okta(&raw, &map).expect("parses"),
            ))
        };
        let bad = |id: &str| -> Listed { Err((id.to_owned(), format!("skipped user {id}"))) };
        // First pass a, b, d, e; second pass b (now broken), c, e (now readable), a (again).
        let listed = vec![
            ok("a", "a1"),
            ok("b", "b1"),
            ok("d", "d1"),
            bad("e"),
            bad("b"),
            ok("c", "c1"),
            ok("e", "e2"),
            ok("a", "a2"),
        ];
        let mut warnings = Vec::new();
        let people = listed_people(listed, &mut warnings);
        let got: Vec<(&str, Cow<'_, str>)> = people
            .iter()
            .map(|p| (p.id(), managers::ManagerInputs::login_key(p)))
            .collect();
        assert_eq!(
            got,
            [("a", "a2"), ("c", "c1"), ("d", "d1"), ("e", "e2")]
                .map(|(i, l)| (i, Cow::Borrowed(l)))
        );
        assert_eq!(warnings, ["skipped user b"]);
        assert!(listed_people(Vec::new(), &mut warnings).is_empty());
    }

    #[test]
    fn diff_of_sorted_lists() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cur = s(&["a", "c", "d"]);
        let want = s(&["b", "c", "e"]);
        let d: Vec<(String, bool)> = sorted_diff(&cur, &want)
            .into_iter()
            .map(|(x, b)| (x.clone(), b))
            .collect();
        assert_eq!(
            d,
            vec![
                ("a".into(), false),
                ("b".into(), true),
                ("d".into(), false),
                ("e".into(), true)
            ]
        );
    }
}
