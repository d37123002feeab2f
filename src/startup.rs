//! Wires the pieces into a running mirror: opens the store, checks Okta once, binds the HTTP
//! server (returning the bound address, so tests can use port 0) and runs the sync schedule.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::configuration::Settings;
use crate::model::SyncRun;
use crate::okta::{OktaError, OktaSource};
use crate::search::{self, SearchError};
use crate::store::{Store, StoreError};
use crate::sync::{self, Command, Source, SyncKind};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Okta(#[from] OktaError),
    #[error("{0}")]
    Search(#[from] SearchError),
    #[error("{0}")]
    Config(String),
    #[error(
        "cannot listen on {addr}: {detail}. Pick another port with --listen, for example --listen 127.0.0.1:0 for any free port"
    )]
    Bind { addr: SocketAddr, detail: String },
}

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
                custom_attributes: settings.search.attributes.clone(),
            },
        )?);
        let (stopping, stop) = tokio::sync::watch::channel(false);
        let indexer = tokio::spawn(search::follow(index.clone(), store.clone(), stop.clone()));
        let okta = Arc::new(OktaSource::with_auth(
            settings.okta.url.clone(),
            settings.okta.auth.clone(),
            settings.okta.client.clone(),
        )?);
        if store.last_good_full_sync()?.is_none() {
            okta.preflight().await?;
        }
        let source: Arc<dyn Source> = okta;
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
        let (tx, rx) = mpsc::channel(256);
        let handle = SyncHandle { tx };
        let hook = match &settings.server.hook {
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
        let app = api::router(ApiState {
            store: store.clone(),
            search: index.clone(),
            control: Some(Arc::new(handle.clone())),
            hook,
            request_timeout: settings.server.request_timeout,
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
        let syncer = tokio::spawn(sync::run_continuous(
            store.clone(),
            source,
            settings.sync.engine.clone(),
            settings.sync.lanes.clone(),
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
            sync: handle,
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
