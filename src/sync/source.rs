//! What the sync engine needs from an identity source. The Okta adapter (`okta::OktaSource`)
//! implements it; the engine never sees HTTP, so it can be driven by any source in tests.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

/// A failure reading the source, already phrased for a person: what failed and what to fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub message: String,
}

impl SourceError {
    pub fn new(message: impl Into<String>) -> Self {
        SourceError {
            message: message.into(),
        }
    }
}

pub trait Source: Send + Sync {
    /// Every user, in every status (deprovisioned included), as raw JSON objects, page by page.
    fn users(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// Every group, as raw JSON objects, page by page.
    fn groups(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// The ids of every member of a group.
    fn group_member_ids<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, SourceError>>;
    /// Requests made so far (for run reports).
    fn requests(&self) -> u64;
}
