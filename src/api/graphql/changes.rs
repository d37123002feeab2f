//! `changes`: the change feed for apps downstream. What changed in the mirror, in order, from a
//! cursor a consumer stores; as the caller's role may see it (`access::View::changes`).

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::cursor::{self, Kind};
use super::errors::denied;
use super::group::GroupNode;
use super::person::PersonNode;
use super::view;
use crate::access::{FeedEntry, FeedKind};

/// Most entries one `changes` page returns.
pub(crate) const MAX_CHANGES_PAGE: i32 = 1000;

/// One page of the change feed.
pub(crate) struct ChangeFeed {
    pub(crate) entries: Vec<FeedEntry>,
    pub(crate) end: u64,
    pub(crate) head: u64,
}

/// One page of the change feed and where to resume.
#[Object]
impl ChangeFeed {
    /// The changes, oldest first.
    async fn entries(&self) -> Vec<ChangeEntry> {
        self.entries.iter().cloned().map(ChangeEntry).collect()
    }
    /// Pass this as `after` next time (store it with what you applied): the position after the
    /// last entry of this page, or the `after` given when there was nothing new.
    async fn end_cursor(&self) -> String {
        cursor::encode(Kind::Change, &self.end.to_string())
    }
    /// True when more entries follow this page now.
    async fn has_more(&self) -> bool {
        self.end < self.head
    }
    /// The position after the newest change in the mirror: a consumer starting from scratch
    /// reads this first, then reads the mirror in full, then follows the feed from here.
    async fn head_cursor(&self) -> String {
        cursor::encode(Kind::Change, &self.head.to_string())
    }
}

/// What a change did.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// A person new to the mirror (or to what your key may see).
    PersonCreated,
    /// A person's record changed: `fields` names what.
    PersonUpdated,
    /// A person left the mirror, or what your key may see (deprovisioned, for a directory key).
    PersonRemoved,
    /// A group new to the mirror.
    GroupCreated,
    /// A group's record (not its members) changed.
    GroupUpdated,
    /// A group left the mirror.
    GroupRemoved,
    /// People joined (`added`) or left (`removed`) a group.
    MembersChanged,
}

impl From<FeedKind> for ChangeKind {
    fn from(k: FeedKind) -> Self {
        match k {
            FeedKind::PersonCreated => ChangeKind::PersonCreated,
            FeedKind::PersonUpdated => ChangeKind::PersonUpdated,
            FeedKind::PersonRemoved => ChangeKind::PersonRemoved,
            FeedKind::GroupCreated => ChangeKind::GroupCreated,
            FeedKind::GroupUpdated => ChangeKind::GroupUpdated,
            FeedKind::GroupRemoved => ChangeKind::GroupRemoved,
            FeedKind::MembersChanged => ChangeKind::MembersChanged,
        }
    }
}

/// One change.
pub(crate) struct ChangeEntry(FeedEntry);

impl ChangeEntry {
    pub(crate) fn new(e: FeedEntry) -> ChangeEntry {
        ChangeEntry(e)
    }
}

/// One change of the mirror, in the order the mirror applied them.
#[Object]
impl ChangeEntry {
    /// This entry's position: resuming `after` it reads what follows.
    async fn cursor(&self) -> String {
        cursor::encode(Kind::Change, &self.0.seq.to_string())
    }
    /// When the mirror applied it (not when it happened in Okta).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// What happened.
    async fn kind(&self) -> ChangeKind {
        self.0.kind.into()
    }
    /// The person's or the group's Okta id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// For an update: the fields that changed, by their GraphQL names (`title`, `managerId`),
    /// and raw Okta attributes your key may read as `profile.NAME`. Empty for an entry
    /// written before the mirror recorded fields: read the whole record then.
    async fn fields(&self) -> &[String] {
        &self.0.fields
    }
    /// For MEMBERS_CHANGED: the ids of the people who joined the group.
    async fn added(&self) -> Vec<ID> {
        self.0.added.iter().cloned().map(ID).collect()
    }
    /// For MEMBERS_CHANGED: the ids of the people who left the group.
    async fn removed(&self) -> Vec<ID> {
        self.0.removed.iter().cloned().map(ID).collect()
    }
    /// The person as the mirror holds them now (null once removed, or for a group entry).
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<PersonNode>> {
        if !matches!(
            self.0.kind,
            FeedKind::PersonCreated | FeedKind::PersonUpdated
        ) {
            return Ok(None);
        }
        Ok(view(ctx)?
            .person(&self.0.id)
            .map_err(denied)?
            .map(PersonNode))
    }
    /// The group as the mirror holds it now (null once removed, or for a person entry).
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<GroupNode>> {
        if matches!(
            self.0.kind,
            FeedKind::PersonCreated
                | FeedKind::PersonUpdated
                | FeedKind::PersonRemoved
                | FeedKind::GroupRemoved
        ) {
            return Ok(None);
        }
        Ok(view(ctx)?.group(&self.0.id).map_err(denied)?.map(GroupNode))
    }
}

/// A change cursor's position; `None` when no cursor was given.
pub(crate) fn parse_after(after: Option<&str>) -> Result<Option<u64>> {
    match cursor::after(Kind::Change, after)? {
        Some(seq) => seq.parse::<u64>().map(Some).map_err(|_| {
            super::errors::bad_input("invalid change cursor: pass an endCursor or headCursor")
        }),
        None => Ok(None),
    }
}

/// `changes(after, first)`: reads the page through the caller's view.
pub(crate) fn page(ctx: &Context<'_>, after: Option<&str>, first: i32) -> Result<ChangeFeed> {
    let v = view(ctx)?;
    let after = match parse_after(after)? {
        Some(a) => a,
        None => v.changes_start().map_err(denied)?,
    };
    let head = v.changes_head().map_err(denied)?;
    let (entries, end) = v
        .changes(after, usize::try_from(first).unwrap_or(100))
        .map_err(denied)?;
    Ok(ChangeFeed { entries, end, head })
}
