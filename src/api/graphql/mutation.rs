//! Mutations: `syncNow`, which asks the running sync schedule for a full crawl or an
//! incremental pass (and, for a full crawl, may apply removals the deletion safety held). Only
//! roles that may control sync get here, and every call is written to the audit log.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result};

use super::errors::denied;
use super::sync_status::SyncRunNode;
use super::view;
use crate::access::Permission;
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
        let view = view(ctx)?;
        view.require(Permission::ControlSync).map_err(denied)?;
        let control = ctx
            .data::<Arc<dyn SyncControl>>()
            .map_err(|_| "this server runs no sync schedule, so there is nothing to start")?;
        if allow_mass_delete && kind != SyncNowKind::Full {
            return Err("allowMassDelete applies only to kind: FULL".into());
        }
        let action = format!(
            "syncNow(kind: {}{})",
            match kind {
                SyncNowKind::Full => "FULL",
                SyncNowKind::Incremental => "INCREMENTAL",
            },
            if allow_mass_delete {
                ", allowMassDelete: true"
            } else {
                ""
            }
        );
        let kind = match kind {
            SyncNowKind::Full => SyncNow::Full,
            SyncNowKind::Incremental => SyncNow::Incremental,
        };
        let run = control.sync_now(kind, allow_mass_delete).await;
        let outcome = match &run {
            None => "not run: the sync schedule has stopped".to_owned(),
            Some(r) if r.ok => format!("ok: run {}", r.id),
            Some(r) => format!(
                "failed: run {}: {}",
                r.id,
                r.error.as_deref().unwrap_or("see the run's record")
            ),
        };
        // The audit entry is made durable (a sled flush) before the answer: on a blocking
        // thread, never an async worker's.
        view.blocking(move |v| v.record(&action, &outcome))
            .await
            .map_err(denied)?;
        run.map(SyncRunNode)
            .ok_or_else(|| "the sync schedule has stopped (the server is shutting down)".into())
    }
}
