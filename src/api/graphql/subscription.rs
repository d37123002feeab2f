//! The `changes` subscription: the change feed pushed as the mirror applies it, over
//! graphql-transport-ws (`api/ws.rs`); the same entries, order and cursors as the query.

use std::collections::VecDeque;

use async_graphql::{Context, Result, Subscription as GqlSubscription};
use futures::Stream;

use super::changes::{ChangeEntry, parse_after};
use super::errors::denied;
use super::view;
use crate::access::{FeedEntry, View};

/// Entries read from the change log per step: bounded, so a subscriber far behind catches up
/// in steps the scan budget (refilled per step) covers.
const STEP: usize = 200;

/// The subscription root.
pub(crate) struct Subscription;

#[GqlSubscription]
impl Subscription {
    /// Every change after `after` in order, then each new one as the mirror applies it.
    /// `after` is a cursor from the `changes` query (`endCursor`, `headCursor`) or an entry's
    /// `cursor`; without it, from the oldest change the log holds (as the query). To hear only
    /// what happens from now on, pass the query's `headCursor`. Store each entry's `cursor` once applied:
    /// reconnecting with it resumes exactly after it. A cursor older than the retention ends
    /// the subscription with CURSOR_EXPIRED (resync, then resume from `headCursor`), as does
    /// the mirror's first sync for a subscription opened before it ended (the first load is
    /// not listed person by person: subscribe once `/readyz` answers 200).
    async fn changes<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<ChangeEntry>> + 'ctx> {
        let v = view(ctx)?.clone();
        let pos = match parse_after(after.as_deref())? {
            Some(p) => p,
            None => v.changes_start().map_err(denied)?,
        };
        let written = v.written();
        Ok(futures::stream::unfold(
            Follow {
                view: v,
                pos,
                written,
                buffered: VecDeque::new(),
                done: false,
            },
            Follow::next,
        ))
    }
}

/// The state of one subscription: where it is in the change log and what it read ahead.
struct Follow {
    view: View,
    pos: u64,
    written: tokio::sync::watch::Receiver<u64>,
    buffered: VecDeque<FeedEntry>,
    done: bool,
}

impl Follow {
    /// The next entry: from what was read ahead, else the change log, else the next write.
    async fn next(mut self) -> Option<(Result<ChangeEntry>, Follow)> {
        loop {
            if let Some(e) = self.buffered.pop_front() {
                return Some((Ok(ChangeEntry::new(e)), self));
            }
            if self.done {
                return None;
            }
            // Marked seen before reading, so a batch committed after this read still wakes us.
            self.written.borrow_and_update();
            self.view.refill();
            match self.view.changes(self.pos, STEP) {
                Ok((entries, end)) => {
                    let moved = end != self.pos;
                    self.pos = end;
                    self.buffered.extend(entries);
                    if moved {
                        continue;
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some((Err(denied(e)), self));
                }
            }
            // Nothing new: wait for the next committed batch (the store closing ends us).
            if self.written.changed().await.is_err() {
                return None;
            }
        }
    }
}
