//! What the API may ask of the running sync schedule (`syncNow`), as a trait the composition
//! root implements, so the API never depends on the sync engine.

use futures::future::BoxFuture;

use crate::model::SyncRun;

/// The kind of sync `syncNow` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncNow {
    /// A full crawl.
    Full,
    /// Read the System Log and sweep the deltas.
    Incremental,
}

/// Asks the running sync schedule for a sync. `startup::SyncHandle` implements it, so the API
/// never depends on the sync engine.
pub trait SyncControl: Send + Sync {
    /// Runs a sync as soon as the current step ends and returns its record; `None` when the
    /// schedule has stopped.
    fn sync_now(
        &self,
        kind: SyncNow,
        allow_mass_delete: bool,
    ) -> BoxFuture<'static, Option<SyncRun>>;
}
