//! `syncStatus`: readiness, the latest full sync runs, counts and manager-resolution warnings,
//! each read from the store only when selected.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::enums::RunKind;
use super::errors::denied;
use super::{int, view};
use crate::model::{AuditEntry, ChangeCounts, SyncRun};

pub(crate) struct SyncStatus;

/// The state of the mirror.
#[Object]
impl SyncStatus {
    /// True once a full sync has succeeded (the mirror serves complete data).
    async fn ready(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(view(ctx)?.last_good_full_sync().map_err(denied)?.is_some())
    }
    /// The latest full sync, successful or not.
    async fn last_full_sync(&self, ctx: &Context<'_>) -> Result<Option<SyncRunNode>> {
        Ok(view(ctx)?
            .last_full_sync()
            .map_err(denied)?
            .map(SyncRunNode))
    }
    /// The latest successful full sync.
    async fn last_successful_full_sync(&self, ctx: &Context<'_>) -> Result<Option<SyncRunNode>> {
        Ok(view(ctx)?
            .last_good_full_sync()
            .map_err(denied)?
            .map(SyncRunNode))
    }
    /// People in the mirror, all statuses.
    async fn people(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(int(view(ctx)?.totals().map_err(denied)?.people))
    }
    async fn groups(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(int(view(ctx)?.totals().map_err(denied)?.groups))
    }
    /// (group, member) pairs in the mirror.
    async fn memberships(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(int(view(ctx)?.totals().map_err(denied)?.memberships))
    }
    /// The sequence number of the newest change (a 64-bit number, as a string).
    async fn last_change_seq(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(view(ctx)?.totals().map_err(denied)?.last_seq.to_string())
    }
    /// People whose manager reference matched nobody in the latest full sync.
    async fn unresolved_managers(&self, ctx: &Context<'_>) -> Result<i32> {
        let r = view(ctx)?.manager_report().map_err(denied)?;
        Ok(int(r.unresolved.len() as u64))
    }
    /// Manager cycles broken in the latest full sync.
    async fn manager_cycles(&self, ctx: &Context<'_>) -> Result<i32> {
        let r = view(ctx)?.manager_report().map_err(denied)?;
        Ok(int(r.cycles.len() as u64))
    }
    /// Seconds since the System Log tail last found nothing new: everything Okta logged before
    /// then is in the mirror. Null until the tail has caught up once.
    async fn tail_lag_seconds(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        let at = view(ctx)?.tail_caught_up_at().map_err(denied)?;
        Ok(at.map(|t| crate::access::seconds_since(t, Utc::now())))
    }
    /// When the System Log tail last found nothing new.
    async fn tail_caught_up_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        view(ctx)?.tail_caught_up_at().map_err(denied)
    }
    /// The System Log position the tail resumes from (Okta's `next` link; no credentials).
    async fn log_cursor(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        view(ctx)?.log_cursor().map_err(denied)
    }
    /// Seconds since the sync last read Okta successfully (any step: a log page, a hook's
    /// re-reads, a sweep, a crawl). With the log tail on it stays near the poll interval; it
    /// grows while Okta cannot be read. Null before the first successful read.
    async fn staleness_seconds(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        let fresh = view(ctx)?.freshness().map_err(denied)?;
        Ok(fresh.staleness(Utc::now()))
    }
    /// When the sync last read Okta successfully.
    async fn last_okta_read_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(view(ctx)?.freshness().map_err(denied)?.last_contact)
    }
    /// Why the sync's latest step failed (Okta unreachable, a revoked token, a panic and
    /// restart); null while steps succeed.
    async fn problem(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(view(ctx)?.freshness().map_err(denied)?.problem)
    }
    /// The latest run of any kind.
    async fn last_run(&self, ctx: &Context<'_>) -> Result<Option<SyncRunNode>> {
        let mut runs = view(ctx)?.runs(1).map_err(denied)?;
        Ok(runs.pop().map(SyncRunNode))
    }
}

pub(crate) struct SyncRunNode(pub(crate) SyncRun);

/// The record of one sync run.
#[Object(name = "SyncRun")]
impl SyncRunNode {
    /// Position in the run history.
    async fn id(&self) -> i32 {
        int(self.0.id)
    }
    async fn kind(&self) -> RunKind {
        self.0.kind.into()
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn finished_at(&self) -> DateTime<Utc> {
        self.0.finished_at
    }
    /// True when the run completed and its results were applied.
    async fn ok(&self) -> bool {
        self.0.ok
    }
    async fn users_fetched(&self) -> i32 {
        int(self.0.users_fetched)
    }
    async fn groups_fetched(&self) -> i32 {
        int(self.0.groups_fetched)
    }
    async fn memberships_fetched(&self) -> i32 {
        int(self.0.memberships_fetched)
    }
    /// HTTP requests made to Okta.
    async fn requests(&self) -> i32 {
        int(self.0.requests)
    }
    /// Requests retried after a transient failure.
    async fn retries(&self) -> i32 {
        int(self.0.retries)
    }
    /// 429 answers (rate or concurrency limit) received.
    async fn rate_limited(&self) -> i32 {
        int(self.0.rate_limited)
    }
    /// System Log or hook events handled (duplicates excluded).
    async fn events(&self) -> i32 {
        int(self.0.events)
    }
    /// People whose removal the deletion safety held back.
    async fn held_people(&self) -> i32 {
        int(self.0.held.people.len() as u64)
    }
    /// Groups whose removal the deletion safety held back.
    async fn held_groups(&self) -> i32 {
        int(self.0.held.groups.len() as u64)
    }
    /// What the run changed in the mirror.
    async fn changes(&self) -> SyncChanges {
        SyncChanges::from(self.0.changes)
    }
    async fn warnings(&self) -> &[String] {
        &self.0.warnings
    }
    /// Why the run failed; null when it succeeded.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// True when the failure needs a configuration change; retrying cannot help.
    async fn config_error(&self) -> bool {
        self.0.config_error
    }
}

/// How many things a sync run changed.
#[derive(SimpleObject)]
pub(crate) struct SyncChanges {
    people_created: i32,
    people_updated: i32,
    people_deleted: i32,
    groups_created: i32,
    groups_updated: i32,
    groups_deleted: i32,
    members_added: i32,
    members_removed: i32,
    total: i32,
}

impl From<ChangeCounts> for SyncChanges {
    fn from(c: ChangeCounts) -> Self {
        SyncChanges {
            people_created: int(c.people_created),
            people_updated: int(c.people_updated),
            people_deleted: int(c.people_deleted),
            groups_created: int(c.groups_created),
            groups_updated: int(c.groups_updated),
            groups_deleted: int(c.groups_deleted),
            members_added: int(c.members_added),
            members_removed: int(c.members_removed),
            total: int(c.total()),
        }
    }
}

/// One state-changing call in the audit log.
pub(crate) struct AuditEntryNode(pub(crate) AuditEntry);

/// A state-changing call (syncNow, a key created or revoked): who, when, what, how it ended.
#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    async fn id(&self) -> String {
        self.0.id.to_string()
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// The API key's name (never the key), or what stood in for one.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }
}
