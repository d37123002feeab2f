//! Mutations: `syncNow`, which asks the running sync schedule for a full crawl or an
//! incremental pass (and, for a full crawl, may apply removals the deletion safety held).

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result};

use super::sync_status::SyncRunNode;
use crate::api::{SyncControl, SyncNow};

pub(crate) struct Mutation;

/// What `syncNow` runs.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncNowKind {
    /// A full crawl of users, groups and memberships.
    Full,
    /// Read the System Log from the stored position and sweep recent changes.
    Incremental,
}

#[Object]
impl Mutation {
    /// Runs a sync now (after the step in progress, if any) and returns its record.
    /// `allowMassDelete` applies removals beyond the deletion-safety share for this full crawl:
    /// use it only after checking in Okta that those people or groups are really gone.
    async fn sync_now(
        &self,
        ctx: &Context<'_>,
        kind: SyncNowKind,
        #[graphql(default = false)] allow_mass_delete: bool,
    ) -> Result<SyncRunNode> {
        let control = ctx
            .data::<Arc<dyn SyncControl>>()
            .map_err(|_| "this server runs no sync schedule, so there is nothing to start")?;
        if allow_mass_delete && kind != SyncNowKind::Full {
            return Err("allowMassDelete applies only to kind: FULL".into());
        }
        let kind = match kind {
            SyncNowKind::Full => SyncNow::Full,
            SyncNowKind::Incremental => SyncNow::Incremental,
        };
        control
            .sync_now(kind, allow_mass_delete)
            .await
            .map(SyncRunNode)
            .ok_or_else(|| "the sync schedule has stopped (the server is shutting down)".into())
    }
}
