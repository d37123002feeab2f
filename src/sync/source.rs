//! What the sync engine needs from an identity source. The Okta adapter (`okta::OktaSource`)
//! implements it; the engine never sees HTTP, so it can be driven by any source in tests.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

/// A failure reading the source, already phrased for a person: what failed and what to fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// The whole sentence shown to the operator.
    pub message: String,
    /// True when retrying cannot help until the configuration changes (a revoked token, a
    /// missing scope): the schedule then waits longer instead of hammering the source.
    pub config: bool,
    /// True when the failure concerns only the one object read (Okta refused it with a 400 or
    /// a 403, as a scoped admin role does for people outside its scope), not the connection or
    /// the credentials: the rest of the org can still be read.
    pub object: bool,
}

impl SourceError {
    /// A transient failure: neither a configuration error nor one about a single object.
    pub fn new(message: impl Into<String>) -> Self {
        SourceError {
            message: message.into(),
            config: false,
            object: false,
        }
    }
}

/// What one change event names: the object to re-read. Events are pings, not data: the engine
/// applies what the source says now, so an old, repeated or out-of-order event is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A user, by Okta id: re-read the person.
    User(String),
    /// A group, by Okta id: re-read the group.
    Group(String),
    /// A membership of the user in the group changed (added or removed).
    Membership {
        /// The member's Okta user id.
        user_id: String,
        /// The group's Okta id.
        group_id: String,
    },
    /// Any number of the group's memberships changed (an import, say): re-read them all.
    GroupMembers(String),
}

/// One change event (System Log event or event-hook event), already read for what it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's unique id: the same event from the log and from a hook is handled once.
    pub uuid: String,
    /// When Okta recorded the event; `None` if the event carried no parseable time.
    pub published: Option<DateTime<Utc>>,
    /// The users, groups and memberships the event names, to re-read.
    pub targets: Vec<Target>,
}

/// One page of the change log.
#[derive(Debug, Clone)]
pub struct LogPage {
    /// Events that name users, groups or memberships (others are left out by the source).
    pub events: Vec<Event>,
    /// Events on the page, including those that name nothing the mirror keeps.
    pub read: usize,
    /// Where to read next (opaque to the engine; stored with the changes this page produced).
    pub next: String,
}

/// An identity source the sync engine reads people, groups, memberships and changes from.
pub trait Source: Send + Sync {
    /// Every user in the scope's people filter, in every status (deprovisioned included), as raw
    /// JSON objects, page by page.
    fn users(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// Every group in scope, as raw JSON objects, page by page.
    fn groups(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// The ids of every member of a group; `None` when the group no longer exists (deleted
    /// after it was listed: a crawl of a live org sees this).
    fn group_member_ids<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, SourceError>>;
    /// The members of a group as whole user objects (a scope that takes people from groups
    /// reads them there rather than listing everyone); `None` when the group no longer exists.
    fn group_members<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<Value>>, SourceError>>;
    /// Users, whatever the scope, whose id, login, email or employee number is one of `keys`:
    /// how the managers of people in scope are found when they are not in scope themselves.
    fn users_by_keys<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Value>, SourceError>>;
    /// Of these user ids, those that match the scope's people filter (`user_filter`,
    /// `user_types`), as the source itself decides; every id when the scope has no filter.
    fn matching_people_filter<'a>(
        &'a self,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, SourceError>>;
    /// The org's user types; `None` when the source refuses them (a token without
    /// `okta.userTypes.read`): people then carry a type id and no name.
    fn user_types(&self)
    -> BoxFuture<'_, Result<Option<Vec<crate::model::UserType>>, SourceError>>;
    /// One user as it is now; `None` when it no longer exists.
    fn user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Value>, SourceError>>;
    /// One group as it is now; `None` when it no longer exists or is out of scope.
    fn group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Value>, SourceError>>;
    /// The ids of every group (in scope) a user belongs to; `None` when the user no longer exists.
    fn user_group_ids<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, SourceError>>;
    /// The log position that starts at `since`: the first cursor of a tail.
    fn log_start(&self, since: DateTime<Utc>) -> String;
    /// The page of the change log at `cursor`. An empty page's `next` may equal `cursor`.
    fn log_page<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<LogPage, SourceError>>;
    /// Users (all statuses) changed after `since`, page by page.
    fn users_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// Groups whose profile changed after `since`, page by page.
    fn groups_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// Groups whose membership changed after `since`, page by page.
    fn groups_with_members_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>>;
    /// Requests made so far (for run reports).
    fn requests(&self) -> u64;
    /// Requests retried so far after transient failures.
    fn retries(&self) -> u64;
    /// 429 answers received so far.
    fn rate_limited(&self) -> u64;
}

/// A source's request counters at the start of a run, so the run's record shows only its own
/// requests, retries and 429s.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    requests: u64,
    retries: u64,
    rate_limited: u64,
}

impl Usage {
    /// Snapshots the source's counters now, at the start of a run.
    pub fn now(source: &dyn Source) -> Usage {
        Usage {
            requests: source.requests(),
            retries: source.retries(),
            rate_limited: source.rate_limited(),
        }
    }

    /// Writes what the source did since `self` into `run`, and stamps its end.
    pub fn record(&self, source: &dyn Source, run: &mut crate::model::SyncRun) {
        run.requests = source.requests().saturating_sub(self.requests);
        run.retries = source.retries().saturating_sub(self.retries);
        run.rate_limited = source.rate_limited().saturating_sub(self.rate_limited);
        run.finished_at = Utc::now();
    }
}
