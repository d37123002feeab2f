//! Keeps the search index in step with the store while the mirror runs: a cheap check of the
//! store's change sequence every 200 ms, and a catch-up (on a blocking thread) when it moved.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::Index;
use crate::store::Store;

/// How often the store's sequence is checked.
pub const POLL: Duration = Duration::from_millis(200);

/// The longest wait between catch-up attempts while they keep failing.
pub const MAX_RETRY: Duration = Duration::from_secs(60);

/// When to look again: every `POLL` while catch-ups succeed; after a failure twice as long as
/// the time before, up to `MAX_RETRY`, so a broken index (a full disk, a corrupt segment) is
/// not hammered five times a second for ever and the log gets one line per streak.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Records an attempt's outcome; the wait before the next look.
    fn after(&mut self, ok: bool) -> Duration {
        if ok {
            self.failures = 0;
            return POLL;
        }
        self.failures = self.failures.saturating_add(1);
        POLL.saturating_mul(1u32 << self.failures.min(16))
            .min(MAX_RETRY)
    }

    /// True for the first failure of a streak (the one worth a log line).
    fn first_failure(&self) -> bool {
        self.failures == 1
    }
}

/// Catches up once, then follows the store until `stop` turns true (a catch-up in flight is
/// finished first, so the store and index are released when this returns). Failures are logged
/// once per streak and retried with a growing wait (the change log still holds whatever was
/// missed).
pub async fn follow(index: Arc<Index>, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut backoff = Backoff::default();
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
        let ok = match behind {
            Some(store_seq) => catch_up(&index, &store, store_seq, backoff.failures == 0).await,
            None => true,
        };
        let was_failing = backoff.failures > 0;
        let wait = backoff.after(ok);
        if ok && was_failing {
            tracing::info!("the search index is catching up again");
        } else if backoff.first_failure() {
            tracing::warn!(
                "search index updates are failing; retrying with a growing wait (up to {} s)",
                MAX_RETRY.as_secs()
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One catch-up on a blocking thread, in a span naming the sequences it starts from and aims
/// for, so its log lines (the index's own included) can be tied to it.
/// True when it succeeded; a failure is logged as an error only when `loud` (the first of a
/// streak), later ones at debug level.
async fn catch_up(index: &Arc<Index>, store: &Store, store_seq: u64, loud: bool) -> bool {
    let span = tracing::info_span!("search_catch_up", from_seq = index.indexed_seq(), store_seq);
    let (index, store, inner) = (index.clone(), store.clone(), span.clone());
    let done = tokio::task::spawn_blocking(move || inner.in_scope(|| index.catch_up(&store)));
    let failure = match done.instrument(span).await {
        Ok(Ok(_)) => return true,
        Ok(Err(e)) => format!("search index update failed: {e}"),
        Err(e) => format!("search index update stopped: {e}"),
    };
    if loud {
        tracing::error!("{failure}");
    } else {
        tracing::debug!("{failure}");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_to_a_minute_and_success_resets() {
        let mut b = Backoff::default();
        assert_eq!(b.after(true), POLL);
        let waits: Vec<Duration> = (0..12).map(|_| b.after(false)).collect();
        assert_eq!(waits[0], POLL * 2);
        assert!(b.failures == 12 && !b.first_failure());
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        assert_eq!(*waits.last().unwrap_or(&Duration::ZERO), MAX_RETRY);
        assert_eq!(b.after(true), POLL);
        b.after(false);
        assert!(b.first_failure(), "a new streak logs again");
    }
}
