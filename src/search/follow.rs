//! Keeps the search index in step with the store while the mirror runs: a cheap check of the
//! store's change sequence every 200 ms, and a catch-up (on a blocking thread) when it moved.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

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
            Ok(seq) if seq != index.indexed_seq() => Some(seq),
            Ok(_) => None,
            Err(e) => {
                tracing::error!("cannot read the store's change sequence: {e}");
                None
            }
        };
        if let Some(store_seq) = behind {
            catch_up(&index, &store, store_seq).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One catch-up on a blocking thread, in a span naming the sequences it starts from and aims
/// for, so its log lines (the index's own included) can be tied to it.
async fn catch_up(index: &Arc<Index>, store: &Store, store_seq: u64) {
    let span = tracing::info_span!("search_catch_up", from_seq = index.indexed_seq(), store_seq);
    let (index, store, inner) = (index.clone(), store.clone(), span.clone());
    let done = tokio::task::spawn_blocking(move || inner.in_scope(|| index.catch_up(&store)));
    match done.instrument(span).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!("search index update failed: {e}"),
        Err(e) => tracing::error!("search index update stopped: {e}"),
    }
}
