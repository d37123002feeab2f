//! Wires the pieces into a running mirror: opens the store, checks Okta once, binds the HTTP
//! server (returning the bound address, so tests can use port 0) and runs the sync schedule.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::configuration::Settings;
use crate::model::SyncRun;
use crate::okta::{OktaError, OktaSource};
use crate::search::{self, SearchError};
use crate::store::{Store, StoreError};
use crate::sync::{self, NoProgress, Source, SyncConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Okta(#[from] OktaError),
    #[error("{0}")]
    Search(#[from] SearchError),
    #[error(
        "cannot listen on {addr}: {detail}. Pick another port with --listen, for example --listen 127.0.0.1:0 for any free port"
    )]
    Bind { addr: SocketAddr, detail: String },
}

/// Asks the running sync schedule for a full sync now and waits for its result.
#[derive(Clone)]
pub struct SyncHandle {
    tx: mpsc::Sender<oneshot::Sender<SyncRun>>,
}

impl SyncHandle {
    /// Runs a full sync as soon as the current one (if any) ends; `None` if the mirror stopped.
    pub async fn full_sync_now(&self) -> Option<SyncRun> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(tx).await.ok()?;
        rx.await.ok()
    }
}

/// A running mirror: HTTP server plus sync schedule.
pub struct Application {
    addr: SocketAddr,
    store: Store,
    search: Arc<search::Index>,
    server: JoinHandle<()>,
    syncer: JoinHandle<()>,
    indexer: JoinHandle<()>,
    sync: SyncHandle,
    /// Set to true to stop the server and the index follower gracefully.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Application {
    /// Opens the store and starts serving at once from what it holds. On a store that has never
    /// completed a sync, Okta is checked first, so a wrong URL or token stops here with its fix.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let store = Store::open(&settings.data_dir)?;
        let index = Arc::new(search::Index::open(
            &search::index_dir(&settings.data_dir),
            search::IndexOptions {
                custom_attributes: settings.search_attributes.clone(),
            },
        )?);
        let (stopping, stop) = tokio::sync::watch::channel(false);
        let indexer = tokio::spawn(search::follow(index.clone(), store.clone(), stop.clone()));
        let source = Arc::new(OktaSource::with_auth(
            settings.okta_url.clone(),
            settings.okta_auth.clone(),
            settings.okta_client.clone(),
        )?);
        if store.last_good_full_sync()?.is_none() {
            source.preflight().await?;
        }
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|e| StartupError::Bind {
                addr: settings.listen,
                detail: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| StartupError::Bind {
            addr: settings.listen,
            detail: e.to_string(),
        })?;
        let app = api::router(ApiState {
            store: store.clone(),
            search: index.clone(),
        });
        let mut server_stop = stop;
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = server_stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!("the HTTP server stopped: {e}");
            }
        });
        let (tx, rx) = mpsc::channel(8);
        let syncer = tokio::spawn(sync_schedule(
            store.clone(),
            source,
            settings.sync.clone(),
            settings.full_sync_interval,
            rx,
        ));
        tracing::info!("serving on http://{addr}/graphql");
        Ok(Application {
            addr,
            store,
            search: index,
            server,
            syncer,
            indexer,
            sync: SyncHandle { tx },
            stopping,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The people search index (it follows the store's change log).
    pub fn search(&self) -> &Arc<search::Index> {
        &self.search
    }

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
    pub async fn stop(self) -> Result<(), StoreError> {
        // The server drains its connections (each holds a store handle) and the index follower
        // finishes any catch-up in flight; a sync in progress is abandoned (a crawl is staged,
        // so dropping it loses nothing).
        let _ = self.stopping.send(true);
        self.syncer.abort();
        let _ = self.syncer.await;
        let _ = self.server.await;
        let _ = self.indexer.await;
        self.search.close();
        self.store.flush()
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

/// Runs full syncs: at once when the store has never completed one, otherwise when the last
/// good one is `interval` old; after a failure, retries with backoff (30 s doubling, capped at
/// `interval`); and whenever `SyncHandle::full_sync_now` asks.
async fn sync_schedule(
    store: Store,
    source: Arc<OktaSource>,
    cfg: SyncConfig,
    interval: Duration,
    mut requests: mpsc::Receiver<oneshot::Sender<SyncRun>>,
) {
    let mut failures: u32 = 0;
    loop {
        let wait = next_due(&store, interval, failures);
        let reply = tokio::select! {
            _ = tokio::time::sleep(wait) => None,
            r = requests.recv() => match r {
                Some(r) => Some(r),
                None => return,
            },
        };
        let run = sync::run_full(&store, source.as_ref() as &dyn Source, &cfg, &NoProgress).await;
        failures = if run.ok {
            0
        } else {
            failures.saturating_add(1)
        };
        if let Some(reply) = reply {
            let _ = reply.send(run);
        }
    }
}

fn next_due(store: &Store, interval: Duration, failures: u32) -> Duration {
    if failures > 0 {
        let backoff = Duration::from_secs(30u64.saturating_mul(1 << (failures - 1).min(16)));
        return backoff.min(interval);
    }
    match store.last_good_full_sync() {
        Ok(Some(run)) => {
            let age = (Utc::now() - run.finished_at).to_std().unwrap_or_default();
            interval.saturating_sub(age)
        }
        Ok(None) => Duration::ZERO,
        Err(e) => {
            tracing::error!("cannot read the sync state: {e}");
            interval
        }
    }
}
