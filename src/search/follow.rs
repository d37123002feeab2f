//! Keeps the search index in step with the store while the mirror runs: a cheap check of the
//! store's change sequence every 200 ms, and a catch-up (on a blocking thread) when it moved.

use std::sync::Arc;
use std::time::Duration;

use super::Index;
use crate::store::Store;

/// How often the store's sequence is checked.
pub const POLL: Duration = Duration::from_millis(200);

/// Catches up once, then follows the store until `stop` turns true (a catch-up in flight is
/// finished first, so the store and index are released when this returns). Failures are logged
/// and retried on the next tick (the change log still holds whatever was missed).
pub async fn follow(index: Arc<Index>, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let behind = match store.last_seq() {
            Ok(seq) => seq != index.indexed_seq(),
            Err(e) => {
                tracing::error!("cannot read the store's change sequence: {e}");
                false
            }
        };
        if behind {
            let (index, store) = (index.clone(), store.clone());
            match tokio::task::spawn_blocking(move || index.catch_up(&store)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!("search index update failed: {e}"),
                Err(e) => tracing::error!("search index update stopped: {e}"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
