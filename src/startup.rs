//! Wires the pieces into a running mirror: opens the store, checks Okta once, binds the HTTP
//! server (returning the bound address, so tests can use port 0), optionally with TLS, and runs
//! the sync schedule; in provisioning mode (`source = "scim"`) there is no Okta client and no
//! schedule, and SCIM writes go to `sync::Provisioner`. The keys file and the TLS certificate
//! are watched and reloaded in place.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_rustls::rustls;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::access::KeyRing;
use crate::access::keys::FileStamp;
use crate::access::{Caller, Mirror, Policy, WriteGrant};
use crate::api::{self, ApiState};
use crate::configuration::{DataSource, Settings, TlsFiles};
use crate::model::{ProvisionError, ProvisionWrite, SyncRun};
use crate::okta::{OktaError, OktaSource};
use crate::search::{self, SearchError};
use crate::store::{Store, StoreError};
use crate::sync::{self, Command, Source, SyncKind};

/// Why the mirror could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The store cannot be opened or read.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Okta's first-run check failed (URL, credentials, scopes), or the client could not be built.
    #[error("{0}")]
    Okta(#[from] OktaError),
    /// The search index cannot be opened.
    #[error("{0}")]
    Search(#[from] SearchError),
    /// A file or value that fails only when the server uses it: the keys file, the TLS files or
    /// the hook header.
    #[error("{0}")]
    Config(String),
    /// The listen address cannot be bound (in use, or not this machine's).
    #[error(
        "cannot listen on {addr}: {detail}. Pick another port with --listen, for example --listen 127.0.0.1:0 for any free port"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        detail: String,
    },
}

/// Commands (mostly event-hook deliveries) queued for the sync schedule. A delivery is a few
/// KB at most, so a full queue holds a few tens of MB; beyond it deliveries are dropped (the
/// System Log tail brings their events anyway, one poll later).
const COMMAND_QUEUE: usize = 4096;

/// Asks the running sync schedule for a sync now, and queues event-hook deliveries for it.
#[derive(Clone)]
pub struct SyncHandle {
    tx: mpsc::Sender<Command>,
}

impl SyncHandle {
    /// Runs a full sync as soon as the current step (if any) ends; `None` if the mirror stopped.
    pub async fn full_sync_now(&self) -> Option<SyncRun> {
        self.now(SyncKind::Full, false).await
    }

    /// Reads the System Log and sweeps the deltas now; `None` if the mirror stopped.
    pub async fn incremental_now(&self) -> Option<SyncRun> {
        self.now(SyncKind::Incremental, false).await
    }

    async fn now(&self, kind: SyncKind, allow_mass_delete: bool) -> Option<SyncRun> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Sync {
                kind,
                allow_mass_delete,
                reply,
            })
            .await
            .ok()?;
        rx.await.ok()
    }
}

impl api::SyncControl for SyncHandle {
    fn sync_now(
        &self,
        kind: api::SyncNow,
        allow_mass_delete: bool,
    ) -> futures::future::BoxFuture<'static, Option<SyncRun>> {
        let handle = self.clone();
        let kind = match kind {
            api::SyncNow::Full => SyncKind::Full,
            api::SyncNow::Incremental => SyncKind::Incremental,
        };
        Box::pin(async move { handle.now(kind, allow_mass_delete).await })
    }
}

impl api::HookSink for SyncHandle {
    fn deliver(&self, body: &[u8]) -> Result<usize, String> {
        let events = crate::okta::read_delivery(body)?;
        let n = events.len();
        if n > 0 {
            // A full queue means the engine is busy (a crawl, a long catch-up): the System Log
            // carries these events too, so dropping the ping loses nothing.
            if self.tx.try_send(Command::Hook(events)).is_err() {
                tracing::debug!(
                    "event hook delivery not queued (the sync engine is busy); the log tail will apply it"
                );
            }
        }
        Ok(n)
    }
}

/// Provisioning mode's writer as the API's `Provisioning`: each write runs on a blocking
/// thread, one at a time (the writer's lock).
struct ProvisionHandle(Arc<sync::Provisioner>);

impl api::Provisioning for ProvisionHandle {
    fn write(
        &self,
        _grant: &WriteGrant,
        write: ProvisionWrite,
    ) -> futures::future::BoxFuture<'static, Result<String, ProvisionError>> {
        let writer = self.0.clone();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || writer.apply(write)).await {
                Ok(r) => r,
                Err(e) => Err(ProvisionError::Store(format!(
                    "the write stopped before it finished: {e}"
                ))),
            }
        })
    }
}

/// A running mirror: HTTP server plus sync schedule.
pub struct Application {
    addr: SocketAddr,
    store: Store,
    search: Arc<search::Index>,
    /// Whether the server speaks HTTPS.
    tls: bool,
    server: JoinHandle<()>,
    syncer: JoinHandle<()>,
    /// The keys-file and certificate watchers, aborted at stop.
    watchers: Vec<JoinHandle<()>>,
    indexer: JoinHandle<()>,
    /// The webhook deliveries, when any are configured.
    webhooks: Option<JoinHandle<()>>,
    sync: SyncHandle,
    /// Set to true to stop the server and the index follower gracefully.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// Derives the stored people again when the configured attribute mapping differs from the one
/// they were derived with (`sync::rederive`: from the stored raw JSON, no Okta request), and
/// says how many changed. Blocking; before the sync schedule starts.
pub fn adopt_attribute_map(store: &Store, engine: &sync::SyncConfig) -> Result<(), StoreError> {
    if let Some(r) = sync::rederive(store, engine)? {
        let name = |f: &str| {
            if f.is_empty() {
                "the default".to_owned()
            } else {
                format!("\"{f}\"")
            }
        };
        tracing::info!(
            people = r.people,
            changed = r.changed,
            "the attribute mapping changed from {} to {}: re-derived {} people from the stored Okta JSON, {} changed",
            name(&r.from),
            name(&r.to),
            r.people,
            r.changed
        );
    }
    Ok(())
}

impl Application {
    /// Opens the store and starts serving at once from what it holds. On a store that has never
    /// completed a sync, Okta is checked first, so a wrong URL or token stops here with its fix.
    /// In provisioning mode nothing of Okta is checked or read.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        for warning in settings.loose_secret_files() {
            tracing::warn!("{warning}");
        }
        let keys = match &settings.server.keys_file {
            None => None,
            Some(path) => {
                let ring = KeyRing::load(path).map_err(|e| StartupError::Config(e.to_string()))?;
                if ring.is_empty() {
                    tracing::warn!(
                        "the keys file {} holds no keys: every request except the probes and the hook is refused until `oktamirror keys new` adds one",
                        path.display()
                    );
                } else {
                    tracing::info!("API keys: {} from {}", ring.len(), path.display());
                }
                Some(Arc::new(ring))
            }
        };
        let tls = match &settings.server.tls {
            None => None,
            Some(files) => Some((
                files.clone(),
                Arc::new(RwLock::new(load_tls(files).map_err(StartupError::Config)?)),
            )),
        };
        let store = Store::open_with(&settings.data_dir, &settings.store)?;
        // Before anything else holds the store: a refusal must leave it closed.
        let mode = match &settings.source {
            DataSource::Okta(_) => "okta",
            DataSource::Scim => "scim",
        };
        if let Some(other) = store.claim_source(mode)? {
            return Err(StartupError::Config(format!(
                "the data directory {} holds a mirror fed by source {other}, and this one would be fed by source {mode}: the two never mix; start with --source {other}, or give --data-dir a new directory for source {mode}",
                settings.data_dir.display()
            )));
        }
        let (s, engine) = (store.clone(), settings.sync.engine.clone());
        tokio::task::spawn_blocking(move || adopt_attribute_map(&s, &engine))
            .await
            .map_err(|e| StartupError::Config(format!("re-deriving people failed: {e}")))??;
        let index = Arc::new(search::Index::open(
            &search::index_dir(&settings.data_dir),
            search::IndexOptions {
                custom_attributes: settings.search.attributes.clone(),
            },
        )?);
        let (stopping, stop) = tokio::sync::watch::channel(false);
        let indexer = tokio::spawn(follow_supervised(
            index.clone(),
            store.clone(),
            stop.clone(),
        ));
        type Feeds = (
            Option<(Arc<dyn Source>, sync::LogAllowance)>,
            Option<Arc<dyn api::Provisioning>>,
        );
        let (source, provisioning): Feeds = match &settings.source {
            DataSource::Okta(okta) => {
                let okta = OktaSource::with_auth(
                    okta.url.clone(),
                    okta.auth.clone(),
                    okta.client.clone(),
                )?;
                let okta = Arc::new(okta.scoped(settings.sync.engine.scope.clone()).await?);
                if store.last_good_full_sync()?.is_none() {
                    okta.preflight().await?;
                }
                // The tail polls the log no more often than the client's share of the logs
                // bucket.
                let logs = okta.clone();
                let log_allowance: sync::LogAllowance = Arc::new(move || {
                    logs.client()
                        .allowance("/api/v1/logs")
                        .map(|(_, allowed)| allowed)
                });
                let source: Arc<dyn Source> = okta;
                (Some((source, log_allowance)), None)
            }
            DataSource::Scim => {
                if settings.server.hook.is_some() {
                    tracing::warn!(
                        "the event hook secret is ignored in provisioning mode (--source scim): nothing is read from the Okta API"
                    );
                }
                let writer = sync::Provisioner::new(store.clone(), &settings.sync.engine);
                (None, Some(Arc::new(ProvisionHandle(Arc::new(writer)))))
            }
        };
        let listener = tokio::net::TcpListener::bind(settings.server.listen)
            .await
            .map_err(|e| StartupError::Bind {
                addr: settings.server.listen,
                detail: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| StartupError::Bind {
            addr: settings.server.listen,
            detail: e.to_string(),
        })?;
        // Deep enough for a burst of event-hook deliveries (each a few events) while a step runs:
        // a delivery that finds the queue full is dropped and waits for the log tail instead.
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let handle = SyncHandle { tx };
        let hook = match &settings.server.hook {
            _ if source.is_none() => None,
            None => None,
            Some(h) => Some(api::HookConfig {
                header: axum::http::HeaderName::from_bytes(h.header.as_bytes()).map_err(|_| {
                    StartupError::Config(format!(
                        "hook_header \"{}\" is not an HTTP header name",
                        h.header
                    ))
                })?,
                secret: h.secret.clone(),
                sink: Arc::new(handle.clone()),
            }),
        };
        let mirror = Mirror::new(
            store.clone(),
            Some(index.clone()),
            Policy {
                directory_attributes: settings.server.directory_attributes.clone(),
                provisioning: provisioning.is_some(),
                ..Policy::default()
            },
        );
        let sign_in = match &settings.server.oidc {
            Some(o) => Some(Arc::new(
                api::SignIn::new(o.clone(), &settings.data_dir).map_err(StartupError::Config)?,
            )),
            None => None,
        };
        let app = api::router_with_access(
            ApiState {
                mirror: mirror.clone(),
                control: match source {
                    Some(_) => Some(Arc::new(handle.clone())),
                    None => None,
                },
                hook,
                provisioning: provisioning.clone(),
                request_timeout: settings.server.request_timeout,
                max_staleness: settings.server.max_staleness,
                stop: Some(stop.clone()),
                web: settings.server.web.clone(),
            },
            api::Access {
                keys: keys.clone(),
                rate_limit: settings.server.rate_limit,
                sign_in,
            },
        );
        let mut watchers = Vec::new();
        watchers.push(tokio::spawn(prune_change_log(
            store.clone(),
            index.clone(),
            settings.retention,
        )));
        watchers.push(tokio::spawn(checkpoint_store(store.clone(), index.clone())));
        if let Some(ring) = keys {
            watchers.push(tokio::spawn(watch_keys(ring, mirror.clone())));
        }
        let webhooks = if settings.server.webhooks.is_empty() {
            None
        } else {
            Some(tokio::spawn(api::deliver_webhooks(
                mirror.clone(),
                settings.server.webhooks.clone(),
                settings.data_dir.clone(),
                stop.clone(),
            )))
        };
        let sync_stop = stop.clone();
        let mut server_stop = stop;
        let stopped = async move {
            let _ = server_stop.wait_for(|s| *s).await;
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            None => tokio::spawn(async move {
                let listener =
                    api::Bounded::new(listener, api::DEFAULT_MAX_CONNECTIONS, api::DEFAULT_IDLE);
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!("the HTTP server stopped: {e}");
                }
            }),
            Some((files, config)) => {
                watchers.push(tokio::spawn(watch_tls(files, config.clone())));
                let listener = api::Bounded::new(
                    TlsListener::new(listener, addr, config),
                    api::DEFAULT_MAX_CONNECTIONS,
                    api::DEFAULT_IDLE,
                );
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app)
                        .with_graceful_shutdown(stopped)
                        .await
                    {
                        tracing::error!("the HTTPS server stopped: {e}");
                    }
                })
            }
        };
        let syncer = match source {
            Some((source, log_allowance)) => tokio::spawn(sync::run_continuous(
                store.clone(),
                source,
                settings.sync.engine.clone(),
                settings.sync.lanes.clone(),
                sync::Wiring {
                    commands: rx,
                    stop: sync_stop,
                    log_allowance: Some(log_allowance),
                },
            )),
            // Provisioning mode has no schedule: the store changes only by SCIM writes.
            None => tokio::spawn(async move {
                drop((rx, sync_stop));
            }),
        };
        tracing::info!("serving on {scheme}://{addr}/graphql");
        if provisioning.is_some() {
            tracing::info!(
                "provisioning mode: SCIM writes from provisioner keys at {scheme}://{addr}/scim/v2"
            );
        }
        Ok(Application {
            addr,
            tls: scheme == "https",
            watchers,
            store,
            search: index,
            server,
            syncer,
            indexer,
            webhooks,
            sync: handle,
            stopping,
        })
    }

    /// The address the server is bound to (the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's base URL, `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The mirror's store, shared with the server and the sync schedule.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The people search index (it follows the store's change log).
    pub fn search(&self) -> &Arc<search::Index> {
        &self.search
    }

    /// A handle to ask the sync schedule for a sync now.
    pub fn sync_handle(&self) -> SyncHandle {
        self.sync.clone()
    }

    /// Serves until Ctrl-C (or SIGTERM), then stops the sync schedule and flushes the store.
    pub async fn run_until_stopped(self) -> Result<(), StoreError> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }

    /// Stops serving and syncing, waits until both tasks have let go of the store (so the data
    /// directory can be opened again at once), and flushes it.
    pub async fn stop(mut self) -> Result<(), StoreError> {
        // The server drains its connections (each holds a store handle) and the index follower
        // finishes any catch-up in flight; the sync schedule drops the step in progress at its
        // next await and a crawl's apply stops between two chunks, so nothing writes after the
        // flush below. The wait is bounded: a schedule that does not end in time is aborted.
        let _ = self.stopping.send(true);
        for w in &self.watchers {
            w.abort();
        }
        if tokio::time::timeout(STOP_WAIT, &mut self.syncer)
            .await
            .is_err()
        {
            tracing::warn!(
                "the sync schedule did not stop within {} s; abandoning it",
                STOP_WAIT.as_secs()
            );
            self.syncer.abort();
            let _ = (&mut self.syncer).await;
        }
        let _ = self.server.await;
        let _ = self.indexer.await;
        if let Some(mut w) = self.webhooks.take() {
            // A POST in flight ends at its timeout at the latest; its batch is sent again
            // after the restart (delivery is at least once).
            if tokio::time::timeout(STOP_WAIT, &mut w).await.is_err() {
                w.abort();
                let _ = w.await;
            }
        }
        self.search.close();
        let store = self.store.clone();
        let last = move || {
            store.flush()?;
            // So that the next start replays nothing (at most `CHECKPOINT_BYTES` otherwise):
            // 1.45 s against 0.5 s to ready at a million people.
            if let Err(e) = store.checkpoint(1 << 20) {
                tracing::warn!(error = %e, "cannot write a store checkpoint at shutdown; the next start replays more of the log");
            }
            Ok(())
        };
        match tokio::task::spawn_blocking(last).await {
            Ok(flushed) => flushed,
            Err(e) => Err(StoreError::Internal(format!(
                "the last flush stopped before it finished: {e}"
            ))),
        }
    }
}

/// How long `stop` waits for the sync schedule to end (a crawl's apply ends within one chunk).
const STOP_WAIT: Duration = Duration::from_secs(30);

/// The longest wait before a search follower that panicked is started again.
const MAX_FOLLOWER_RESTART: Duration = Duration::from_secs(60);

/// Runs the search follower, starting it again (after a growing wait, with an error line
/// naming the panic) if it panics, until `stop` turns true.
async fn follow_supervised(
    index: Arc<search::Index>,
    store: Store,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut panics = 0u32;
    loop {
        let task = tokio::spawn(search::follow(index.clone(), store.clone(), stop.clone()));
        let started = tokio::time::Instant::now();
        let failure = match task.await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                let payload = e.into_panic();
                payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned())
            }
            Err(e) => e.to_string(),
        };
        if started.elapsed() > 10 * MAX_FOLLOWER_RESTART {
            panics = 0;
        }
        panics = panics.saturating_add(1);
        let wait = Duration::from_secs(1u64 << (panics - 1).min(6)).min(MAX_FOLLOWER_RESTART);
        tracing::error!(
            "the search index follower stopped ({failure}); it restarts in {} s (search answers from the index as it was meanwhile)",
            wait.as_secs()
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// How often the keys file and the TLS files are checked for changes (a change applies within
/// twice this).
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Re-reads the keys file when it changes; a missing or broken file keeps the keys in force.
/// How often the change log is pruned to its retention.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Prunes the change log to `retention` every `PRUNE_EVERY` (the first time a minute after
/// start), never past what the search index has read.
async fn prune_change_log(
    store: Store,
    index: Arc<search::Index>,
    retention: crate::configuration::Retention,
) {
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep_until(next).await;
        next += PRUNE_EVERY;
        let (store, index) = (store.clone(), index.clone());
        // A retention longer than chrono can count keeps everything.
        let cutoff = chrono::Duration::from_std(retention.max_age)
            .ok()
            .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let pruned = tokio::task::spawn_blocking(move || {
            store.prune_changes(cutoff, retention.max_entries, index.indexed_seq())
        })
        .await;
        match pruned {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(entries = n, "pruned the change log to its retention"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot prune the change log"),
            Err(e) => tracing::warn!(error = %e, "the change-log pruning task failed"),
        }
    }
}

/// How often a checkpoint is written while the log grows (`checkpoint_store`).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// How much log a start may have to replay: a checkpoint is written once the log has grown by
/// this much since the last. Replay runs at about 50 MB/s here (1.67 GB in 35 s at a million
/// people), so a start replays about a second at most; each checkpoint reads as much once.
const CHECKPOINT_BYTES: u64 = 64 << 20;

/// How often the checkpoint task looks at the store (two reads of its meta tree).
const CHECKPOINT_LOOK_EVERY: Duration = Duration::from_secs(1);

/// The longest a checkpoint waits for a first load and its search index (`first_load_busy`):
/// past it, one runs anyway (an index that cannot catch up must not keep the log growing).
const CHECKPOINT_POSTPONE_MAX: Duration = Duration::from_secs(600);

/// Keeps sled's snapshot near the end of its log (`Store::checkpoint`), so that a restart is
/// quick after a first sync done by this server, and after weeks of changes: every minute once
/// the log has grown by `CHECKPOINT_BYTES`, and at once when a first load has been indexed.
///
/// Not while a first load is written or the search index is rebuilt from it
/// (`first_load_busy`): a checkpoint then reads a log the load is still writing (13 s at a
/// million people), on the cores and in the memory the load and the rebuild need; beside the
/// rebuild it took `serve` past 1 GiB once. Right after them instead, so that the first stop
/// after a first sync does not have to write it either.
async fn checkpoint_store(store: Store, index: Arc<search::Index>) {
    let mut look = tokio::time::interval(CHECKPOINT_LOOK_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<std::time::Instant> = None;
    let mut busy_since: Option<std::time::Instant> = None;
    let mut load_seen = store.initial_load_seq().unwrap_or(0);
    loop {
        look.tick().await;
        let load = store.initial_load_seq().unwrap_or(load_seen);
        if first_load_busy(&store, load, &index) {
            let since = *busy_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() < CHECKPOINT_POSTPONE_MAX {
                continue;
            }
        }
        busy_since = None;
        let min_bytes = if load != load_seen {
            // A whole org written since the last snapshot: checkpoint it, however small.
            0
        } else if last.is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY) {
            CHECKPOINT_BYTES
        } else {
            continue;
        };
        let started = std::time::Instant::now();
        (load_seen, last) = (load, Some(started));
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.checkpoint(min_bytes)).await {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(at))) => tracing::info!(
                log_offset = at,
                secs = started.elapsed().as_secs_f64(),
                "store checkpoint written: a restart replays the log from here"
            ),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot write a store checkpoint; a restart replays more of the log")
            }
            Err(e) => tracing::warn!(error = %e, "the store checkpoint task failed"),
        }
    }
}

/// Whether a first load is being written (`Store::initial_load_pending`) or the search index
/// has not yet caught up with the last one (`load`, `Store::initial_load_seq`). A store that
/// cannot say is not busy: the checkpoint then runs as it would have.
fn first_load_busy(store: &Store, load: u64, index: &search::Index) -> bool {
    let loading = store.initial_load_pending().unwrap_or(false);
    loading || (load > 0 && index.indexed_seq() < load)
}

async fn watch_keys(ring: Arc<KeyRing>, mirror: Arc<Mirror>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let before = ring.callers();
        match ring.refresh() {
            Ok(true) => {
                tracing::info!(
                    "the keys file {} changed: {} keys in force",
                    ring.path().display(),
                    ring.len()
                );
                // The audit log's append is a sled write and flush: it runs on a blocking
                // thread, so a slow disk never holds an async worker (nor the tasks queued
                // behind it, such as the WebSocket that must close for a revoked key).
                let (mirror, after) = (mirror.clone(), ring.callers());
                let recorded = tokio::task::spawn_blocking(move || {
                    audit_key_changes(&mirror, &before, &after);
                });
                if let Err(e) = recorded.await {
                    tracing::warn!("recording the keys file's changes failed: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "{e}; the {} keys loaded before stay in force until the file is fixed",
                ring.len()
            ),
        }
    }
}

/// Records in the audit log which keys a reload of the keys file created, revoked or moved to
/// another role. `oktamirror keys` edits the file (the server may hold the store open), so the
/// server, which notices the change, is the one that records it.
fn audit_key_changes(mirror: &Mirror, before: &[Caller], after: &[Caller]) {
    let label = |c: &Caller| format!("{} ({})", c.name.as_deref().unwrap_or("?"), c.role);
    let record = |action: String| {
        if let Err(e) = mirror.record("keys file", &action, "in force") {
            tracing::warn!("cannot write the audit log: {}", e.message());
        }
    };
    for c in after {
        match before.iter().find(|b| b.name == c.name) {
            None => record(format!("key created: {}", label(c))),
            Some(b) if b.role != c.role => {
                record(format!("key role changed: {} -> {}", label(b), c.role))
            }
            Some(_) => {}
        }
    }
    for b in before {
        if !after.iter().any(|c| c.name == b.name) {
            record(format!("key revoked: {}", label(b)));
        }
    }
}

/// The certificate and key as a rustls server configuration; the error names the file and the
/// fix, never the key's content.
fn load_tls(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_error = |detail: String| {
        format!(
            "cannot read the TLS certificate file {}: {detail}; give the certificate chain in PEM (-----BEGIN CERTIFICATE-----)",
            files.cert.display()
        )
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_error("it holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!(
            "cannot read the TLS key file {}: {e}; give the private key in PEM (PKCS#8, PKCS#1 or SEC1)",
            files.key.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("cannot set up TLS: {e}"))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        format!(
            "the TLS certificate {} and key {} cannot be served together ({e}): give the key that belongs to the certificate",
            files.cert.display(),
            files.key.display()
        )
    })?;
    // axum's server speaks HTTP/1.1 here.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn stamps(files: &TlsFiles) -> (Option<FileStamp>, Option<FileStamp>) {
    (FileStamp::of(&files.cert), FileStamp::of(&files.key))
}

/// Swaps in a new certificate when its files change (for new connections); a broken new pair
/// keeps the one in use, with a warning.
async fn watch_tls(files: TlsFiles, config: Arc<RwLock<Arc<rustls::ServerConfig>>>) {
    let mut seen = stamps(&files);
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let now = stamps(&files);
        if now == seen {
            continue;
        }
        seen = now;
        match load_tls(&files) {
            Ok(c) => {
                match config.write() {
                    Ok(mut w) => *w = c,
                    Err(poisoned) => *poisoned.into_inner() = c,
                }
                tracing::info!(
                    "the TLS certificate {} changed: new connections use it",
                    files.cert.display()
                );
            }
            Err(e) => tracing::warn!("{e}; still serving the certificate loaded before"),
        }
    }
}

/// Accepts TCP connections and completes their TLS handshakes concurrently (a slow client does
/// not hold up the others), handing finished streams to `axum::serve`.
struct TlsListener {
    incoming: mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        SocketAddr,
    )>,
    addr: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    fn new(
        tcp: tokio::net::TcpListener,
        addr: SocketAddr,
        config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    ) -> TlsListener {
        let (tx, incoming) = mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::debug!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let current = match config.read() {
                    Ok(c) => c.clone(),
                    Err(poisoned) => poisoned.into_inner().clone(),
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake = tokio_rustls::TlsAcceptor::from(current).accept(stream);
                    match tokio::time::timeout(Duration::from_secs(10), handshake).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        TlsListener {
            incoming,
            addr,
            acceptor,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(c) => c,
            // The acceptor ended (only when aborted): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
