//! The sync engine: reads a `Source`, resolves managers and applies the result to the `Store`.
//! It knows nothing of HTTP or GraphQL; the Okta adapter and the API sit on either side.

mod continuous;
mod full;
mod incremental;
pub mod managers;
mod provision;
mod rederive;
pub mod scope;
mod source;

pub use continuous::{Command, Lanes, LogAllowance, SyncKind, Wiring, run as run_continuous};
pub use full::{Cancel, Fetched, fetch, run_crawl, run_crawl_until, run_full};
pub use incremental::{Incremental, Position};
pub use managers::{ManagerConfig, ManagerKey};
pub use provision::Provisioner;
pub use rederive::{Rederived, rederive};
pub use scope::Scope;
pub use source::{Event, LogPage, Source, SourceError, Target, Usage};

use crate::model::AttributeMap;

/// Tunables of the sync engine.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Group member lists fetched at once.
    pub concurrency: usize,
    /// How manager links are derived from people's profiles.
    pub managers: ManagerConfig,
    /// Largest share (0 to 1) of the mirror's people, or of its groups, that one full sync may
    /// remove; beyond it the removals are held and reported.
    pub max_delete_share: f64,
    /// Apply removals beyond `max_delete_share` (an operator's explicit decision).
    pub allow_mass_delete: bool,
    /// Which profile attributes the typed fields are read from (`Person::from_okta`).
    pub attribute_map: std::sync::Arc<AttributeMap>,
    /// The part of the org the mirror keeps (default: all of it).
    pub scope: Scope,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            concurrency: 8,
            managers: ManagerConfig::default(),
            max_delete_share: 0.10,
            allow_mass_delete: false,
            attribute_map: Default::default(),
            scope: Scope::default(),
        }
    }
}

/// Progress of a running full sync, for a progress bar or logs.
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent {
    /// Users fetched so far.
    Users(u64),
    /// Groups fetched so far.
    Groups(u64),
    /// Group member lists fetched, of the total.
    Members {
        /// Member lists fetched so far.
        done: u64,
        /// Groups whose member lists will be fetched.
        total: u64,
    },
    /// Crawl complete; applying to the store.
    Applying,
}

/// Receives progress events during a sync (a progress bar, a log, or nothing).
pub trait Progress: Send + Sync {
    /// Called once per event, from the sync task; must not block.
    fn event(&self, e: ProgressEvent);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: ProgressEvent) {}
}

#[cfg(test)]
mod tests;
