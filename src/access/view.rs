//! `Mirror` (the store, the search index and the access policy, shared by every request) and
//! `View` (one caller's window onto it). A `View` is the only way a front-end reads people,
//! groups, counts, search hits, facets, departments, org charts and the sync state: each method
//! applies the caller's role, so aggregates never count what the rows would hide.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use serde_json::{Map, Value};

use super::rules::{Caller, Permission, Role};
use crate::model::{
    AuditEntry, ChangeOp, Entity, Group, ManagerReport, PROVISIONED_DOCUMENT, Person, SyncRun,
    UserStatus,
};
use crate::search::{
    self, Departments, Facets, Index, OrgNode, ParsedQuery, SearchError, SearchResults,
};
use crate::store::{Attr, PersonFilter, Spool, Store, StoreError, meta};

/// Why a read was refused or failed.
///
/// It has no `Display` on purpose: async-graphql turns anything displayable into an error
/// without a code, so a front-end that forgot to map a refusal would answer a bare message.
/// Without `Display`, `?` does not compile until the front-end maps it (GraphQL: FORBIDDEN,
/// SCIM: 403), and `message()` gives the sentence.
#[derive(Debug)]
pub enum AccessError {
    /// The caller's role does not hold the permission the read needs.
    Forbidden {
        /// The permission the read needs.
        permission: Permission,
        /// The caller's role.
        role: Role,
    },
    /// The store failed (its messages name the problem and hold no secrets).
    Store(StoreError),
    /// Search failed: the caller's query (bad input) or the index.
    Search(SearchError),
    /// This mirror has no search index (a data directory read without a server).
    NoIndex,
    /// A lookup by a value Okta does not keep unique matched several people.
    Ambiguous {
        /// The attribute looked up (`email`, `employee number`).
        what: &'static str,
        /// How many people share the value.
        count: usize,
    },
    /// A change-feed cursor points before the oldest entry the change log still holds.
    CursorExpired {
        /// The sequence the cursor resumes after.
        after: u64,
        /// The oldest sequence still held.
        oldest: u64,
        /// Whether the mirror loaded the whole org at once after the cursor (a first sync, or
        /// a resync after a scope change), logged as one entry; else older entries were pruned.
        loaded: bool,
    },
    /// The request read more records than one request may (see [`SCAN_BUDGET`]), or its time
    /// ran out and it was cancelled.
    TooCostly {
        /// Records one request may read.
        limit: u64,
    },
}

impl AccessError {
    /// True for a refusal by the rules (FORBIDDEN), as opposed to a failure.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, AccessError::Forbidden { .. })
    }

    /// True when the caller's input was at fault (a bad search query).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, AccessError::Search(e) if e.is_bad_input())
            || matches!(self, AccessError::Ambiguous { .. })
    }

    /// True when a change-feed cursor is older than the change log's retention.
    pub fn is_cursor_expired(&self) -> bool {
        matches!(self, AccessError::CursorExpired { .. })
    }

    /// True when the request asked for more work than one request may do.
    pub fn is_too_costly(&self) -> bool {
        matches!(self, AccessError::TooCostly { .. })
    }

    /// One sentence saying what happened and what to do.
    pub fn message(&self) -> String {
        match self {
            AccessError::Forbidden {
                permission: Permission::ScimWrite,
                role,
            } => format!(
                "forbidden: only a provisioner key may write over SCIM, and this key's role is {role}; create one with `oktamirror keys new --role provisioner` and give it to the provisioning app"
            ),
            AccessError::Forbidden { permission, role } => format!(
                "forbidden: the {role} role may not see {}; use a key whose role may (see the README's access table)",
                permission.describe()
            ),
            AccessError::Store(e) => format!("the mirror's store could not be read: {e}"),
            AccessError::Search(e) => e.to_string(),
            AccessError::NoIndex => {
                "search is not available here: ask a running server (oktamirror serve)".into()
            }
            AccessError::Ambiguous { what, count } => format!(
                "{count} people share this {what} (Okta does not keep it unique); look them up by id or login, or find them with people(filter:) or search"
            ),
            AccessError::CursorExpired {
                after,
                oldest,
                loaded: false,
            } => format!(
                "the change-feed cursor resumes after change {after}, but the change log now starts at {oldest} (older entries were pruned): read the mirror again in full, then follow the feed from the headCursor you read before that"
            ),
            AccessError::CursorExpired {
                after,
                loaded: true,
                ..
            } => format!(
                "the change-feed cursor resumes after change {after}, but the mirror then loaded the whole org at once (its first sync, or a resync after a scope change), which the feed does not list person by person: read the mirror again in full, then follow the feed from the headCursor you read before that"
            ),
            AccessError::TooCostly { limit } => format!(
                "this request reads more than {limit} records (whole-org counts, reports, departments, filtered lists) or ran out of time: ask for fewer such fields per request, or narrow the filter"
            ),
        }
    }
}

impl From<StoreError> for AccessError {
    fn from(e: StoreError) -> AccessError {
        AccessError::Store(e)
    }
}

impl From<SearchError> for AccessError {
    fn from(e: SearchError) -> AccessError {
        AccessError::Search(e)
    }
}

/// Shorthand for results of a read through a `View`.
pub type Result<T> = std::result::Result<T, AccessError>;

/// Records one request may read in scans (filtered lists and counts, member counts, reports,
/// departments). Costs are charged as the work happens, so a request pays for what it really
/// scans, whatever its shape: 3,000 aliases of a whole-org count stop at the budget instead of
/// holding a core for minutes. Large enough for a few whole-org answers at a million people.
pub const SCAN_BUDGET: u64 = 5_000_000;

/// Below this many reports (all levels), a `reports` page walks the subtree; above, it reads
/// people in id order and tests their manager chains.
const WALK_REPORTS_BELOW: u64 = 2_000;

/// A request's remaining scan budget, shared by every clone of its `View`.
#[derive(Debug)]
struct Budget {
    left: AtomicI64,
}

impl Budget {
    fn new(records: u64) -> Budget {
        Budget {
            left: AtomicI64::new(i64::try_from(records).unwrap_or(i64::MAX)),
        }
    }
}

/// What the rules need to know beyond the role table.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Custom profile attributes a `directory` caller sees in `profile` (default none).
    pub directory_attributes: Vec<String>,
    /// Records one request may read in scans (default [`SCAN_BUDGET`]).
    pub scan_budget: u64,
    /// Provisioning mode (`--source scim`): the people and groups are what a provisioning
    /// client pushed, not a mirror of the Okta API (default false).
    pub provisioning: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            directory_attributes: Vec::new(),
            scan_budget: SCAN_BUDGET,
            provisioning: false,
        }
    }
}

/// The data every request reads, with the policy: one per server.
pub struct Mirror {
    store: Store,
    index: Option<Arc<Index>>,
    /// The roster and departments, kept per change sequence (`search::OrgCache`).
    org: search::OrgCache,
    policy: Policy,
}

impl Mirror {
    /// A mirror over `store`, searching `index` (`None` where there is no index, e.g. reading
    /// a data directory offline: search then answers an error).
    pub fn new(store: Store, index: Option<Arc<Index>>, policy: Policy) -> Arc<Mirror> {
        Arc::new(Mirror {
            store,
            index,
            org: search::OrgCache::default(),
            policy,
        })
    }

    /// `caller`'s view of the mirror.
    pub fn view(self: &Arc<Self>, caller: Caller) -> View {
        View {
            mirror: self.clone(),
            caller,
            budget: Arc::new(Budget::new(self.policy.scan_budget)),
        }
    }

    /// Marked changed after every batch the store commits: the change-feed subscription and
    /// the webhooks wait on it, then read the feed through a `View`.
    pub fn written(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store.written()
    }

    /// Whether a full sync has completed (readiness needs no caller: `/readyz` is open).
    pub fn synced(&self) -> Result<bool> {
        Ok(self.last_good_full_sync()?.is_some())
    }

    /// The latest successful full sync, for readiness (its times only; open to anyone).
    pub fn last_good_full_sync(&self) -> Result<Option<SyncRun>> {
        Ok(self.store.last_good_full_sync()?)
    }

    /// Appends to the audit log on behalf of `actor` (a key name, or what stood in for one).
    pub fn record(&self, actor: &str, action: &str, outcome: &str) -> Result<AuditEntry> {
        let entry = self.store.append_audit(AuditEntry {
            id: 0,
            at: Utc::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            outcome: outcome.to_owned(),
        })?;
        tracing::info!(actor, action, outcome, "audit");
        Ok(entry)
    }

    /// How fresh the mirror is: when the sync last read Okta successfully and why its latest
    /// step failed, if it did (for `/readyz`, open to anyone, and `syncStatus`).
    pub fn freshness(&self) -> Result<Freshness> {
        Ok(Freshness {
            last_contact: self.store.meta_json(meta::LAST_CONTACT)?,
            problem: self
                .store
                .meta_json::<Option<String>>(meta::SYNC_PROBLEM)?
                .flatten(),
        })
    }

    /// Whether the search index holds everything the store does.
    pub fn search_caught_up(&self) -> Result<bool> {
        let Some(index) = &self.index else {
            return Ok(true);
        };
        Ok(index.indexed_seq() >= self.store.last_seq()?)
    }
}

/// What a change-feed entry reports, as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// A person new to the mirror (or to the caller's view).
    PersonCreated,
    /// A person's record changed.
    PersonUpdated,
    /// A person left the mirror, or the caller's view of it.
    PersonRemoved,
    /// A group new to the mirror.
    GroupCreated,
    /// A group's record (not its members) changed.
    GroupUpdated,
    /// A group left the mirror.
    GroupRemoved,
    /// People joined or left a group.
    MembersChanged,
}

impl FeedKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [FeedKind; 7] = [
        FeedKind::PersonCreated,
        FeedKind::PersonUpdated,
        FeedKind::PersonRemoved,
        FeedKind::GroupCreated,
        FeedKind::GroupUpdated,
        FeedKind::GroupRemoved,
        FeedKind::MembersChanged,
    ];

    /// The kind's name as GraphQL's `ChangeKind` spells it (and webhooks send it).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::PersonCreated => "PERSON_CREATED",
            FeedKind::PersonUpdated => "PERSON_UPDATED",
            FeedKind::PersonRemoved => "PERSON_REMOVED",
            FeedKind::GroupCreated => "GROUP_CREATED",
            FeedKind::GroupUpdated => "GROUP_UPDATED",
            FeedKind::GroupRemoved => "GROUP_REMOVED",
            FeedKind::MembersChanged => "MEMBERS_CHANGED",
        }
    }

    /// A kind by its name (any case).
    pub fn parse(s: &str) -> Option<FeedKind> {
        FeedKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One change-feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Its position in the change log.
    pub seq: u64,
    /// When the mirror applied it.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: FeedKind,
    /// The person's or group's Okta id.
    pub id: String,
    /// For an update: the changed fields (GraphQL names; raw attributes as `profile.NAME`).
    pub fields: Vec<String>,
    /// For `MembersChanged`: the people who joined.
    pub added: Vec<String>,
    /// For `MembersChanged`: the people who left.
    pub removed: Vec<String>,
}

/// One caller's window onto the mirror. Cheap to clone (one `Arc` and the caller).
#[derive(Clone)]
pub struct View {
    mirror: Arc<Mirror>,
    caller: Caller,
    budget: Arc<Budget>,
}

impl View {
    /// Who is asking.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Whether the caller holds `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.caller.may(p)
    }

    /// Whether the mirror is in provisioning mode (its data pushed by a provisioning client).
    pub fn provisioning(&self) -> bool {
        self.mirror.policy.provisioning
    }

    /// `Ok` when the caller holds `p`, else the FORBIDDEN error naming it.
    pub fn require(&self, p: Permission) -> Result<()> {
        if self.may(p) {
            Ok(())
        } else {
            Err(AccessError::Forbidden {
                permission: p,
                role: self.caller.role,
            })
        }
    }

    /// Runs `f` on a blocking thread: for reads that scan (counts, departments, org walks), so
    /// they never hold an async worker.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&View) -> Result<T> + Send + 'static,
    {
        let view = self.clone();
        match tokio::task::spawn_blocking(move || f(&view)).await {
            Ok(r) => r,
            Err(e) => Err(AccessError::Store(StoreError::Internal(format!(
                "a read stopped before it finished: {e}"
            )))),
        }
    }

    fn store(&self) -> &Store {
        &self.mirror.store
    }

    /// Charges `records` read against the request's budget; `TooCostly` once it is spent.
    fn charge(&self, records: u64) -> Result<()> {
        let n = i64::try_from(records).unwrap_or(i64::MAX);
        if self.budget.left.fetch_sub(n, Ordering::Relaxed) < n {
            return Err(AccessError::TooCostly {
                limit: self.mirror.policy.scan_budget,
            });
        }
        Ok(())
    }

    /// Marked changed after every batch the store commits (see `Mirror::written`).
    pub fn written(&self) -> tokio::sync::watch::Receiver<u64> {
        self.mirror.written()
    }

    /// Gives this view (and its clones) its whole scan budget again. A long-lived reader (a
    /// change-feed subscription) refills before each step, so the budget bounds each step
    /// rather than the connection's lifetime.
    pub fn refill(&self) {
        let full = i64::try_from(self.mirror.policy.scan_budget).unwrap_or(i64::MAX);
        self.budget.left.store(full, Ordering::Relaxed);
    }

    /// Stops this request's scans: the next charge fails. For a request whose time ran out,
    /// since work on a blocking thread cannot be dropped like a future.
    pub fn cancel(&self) {
        self.budget.left.store(i64::MIN / 2, Ordering::Relaxed);
    }

    /// Whether the caller may see this person at all.
    pub fn shows(&self, p: &Person) -> bool {
        p.status != UserStatus::Deprovisioned || self.may(Permission::SeeDeprovisioned)
    }

    fn visible(&self, p: Option<Person>) -> Option<Person> {
        p.filter(|p| self.shows(p))
    }

    // ---- people -------------------------------------------------------------------------

    /// A person by Okta id; `None` when unknown or hidden from the caller.
    pub fn person(&self, id: &str) -> Result<Option<Person>> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.visible(self.store().person(id)?))
    }

    /// A person by login (case-insensitive).
    pub fn person_by_login(&self, login: &str) -> Result<Option<Person>> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.visible(self.store().person_by_login(login)?))
    }

    /// A person by email (case-insensitive). Okta does not enforce unique emails: a person who
    /// is not deprovisioned is preferred (a rehire shares the old account's email), and when
    /// several remain the answer is an error saying how many, never an arbitrary one.
    pub fn person_by_email(&self, email: &str) -> Result<Option<Person>> {
        let all = self.people_by_email(email)?;
        one_of(all, "email")
    }

    /// Everyone the caller may see whose email is `email` (case-insensitive), in id order.
    pub fn people_by_email(&self, email: &str) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        let all = self.store().people_by_email(email)?;
        self.charge(all.len() as u64)?;
        Ok(all.into_iter().filter(|p| self.shows(p)).collect())
    }

    /// A person by employee number; several sharing it is an error, as for email.
    pub fn person_by_employee_number(&self, n: &str) -> Result<Option<Person>> {
        self.require(Permission::ReadDirectory)?;
        let all = self.store().people_by_employee_number(n)?;
        self.charge(all.len() as u64)?;
        one_of(
            all.into_iter().filter(|p| self.shows(p)).collect(),
            "employee number",
        )
    }

    /// Everyone the caller may see whose employee number is `n` (trimmed, exact), in id order.
    pub fn people_by_employee_number(&self, n: &str) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        let all = self.store().people_by_employee_number(n)?;
        self.charge(all.len() as u64)?;
        Ok(all.into_iter().filter(|p| self.shows(p)).collect())
    }

    /// How many visible people have the department `department` (ignoring case): the store's
    /// counters, no scan.
    pub fn department_count(&self, department: &str) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        let shown_only = !self.may(Permission::SeeDeprovisioned);
        Ok(self.store().department_count(department, shown_only)?)
    }

    /// The visible people of `department` (ignoring case) in id order, skipping the first
    /// `skip`, `first` at most: the store's department index, reading only the page (and, for
    /// a caller who may not see everyone, the people skipped).
    pub fn department_page(
        &self,
        department: &str,
        skip: usize,
        first: usize,
    ) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        self.page_of_ids(self.store().department_ids(department), skip, first)
    }

    /// Everyone visible in id order, skipping the first `skip`, `first` at most (a caller who
    /// sees everyone skips without reading records).
    pub fn people_at(&self, skip: usize, first: usize) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        self.page_of_ids(self.store().person_ids(), skip, first)
    }

    /// A group's visible members in id order, skipping the first `skip`, `first` at most.
    pub fn members_at(&self, group_id: &str, skip: usize, first: usize) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        self.page_of_ids(self.store().member_ids_after(group_id, None), skip, first)
    }

    fn page_of_ids(
        &self,
        ids: impl Iterator<Item = std::result::Result<String, StoreError>>,
        skip: usize,
        first: usize,
    ) -> Result<Vec<Person>> {
        let everyone = self.may(Permission::SeeDeprovisioned);
        let mut skipped = 0usize;
        // Sized once: growing a vector of people by doubling copies it several times.
        let mut out = Vec::with_capacity(first.min(1000));
        for id in ids {
            if out.len() >= first {
                break;
            }
            self.charge(1)?;
            let id = id?;
            if everyone && skipped < skip {
                skipped += 1;
                continue;
            }
            let Some(p) = self.visible(self.store().person(&id)?) else {
                continue;
            };
            if skipped < skip {
                skipped += 1;
                continue;
            }
            out.push(p);
        }
        Ok(out)
    }

    /// The people among `ids` the caller may see, in the order given (unknown ids skipped).
    pub fn people(&self, ids: &[String]) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = self.visible(self.store().person(id)?) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// `filter` as this caller may ask it: a caller who may not see deprovisioned people gets
    /// them left out of "every status", and is refused when the filter names that status.
    pub fn people_filter(&self, mut filter: PersonFilter) -> Result<PersonFilter> {
        self.require(Permission::ReadDirectory)?;
        if !filter.user_types.is_empty() {
            // Names and display names become ids; anything else is taken as an id.
            let types = self.user_types()?;
            for want in &mut filter.user_types {
                if let Some(t) = types.iter().find(|t| {
                    t.id == *want
                        || t.name.eq_ignore_ascii_case(want)
                        || t.display_name
                            .as_deref()
                            .is_some_and(|d| d.eq_ignore_ascii_case(want))
                }) {
                    want.clone_from(&t.id);
                }
            }
        }
        if self.may(Permission::SeeDeprovisioned) {
            return Ok(filter);
        }
        if filter.statuses.contains(&UserStatus::Deprovisioned) {
            self.require(Permission::SeeDeprovisioned)?;
        }
        if filter.statuses.is_empty() {
            filter.statuses = UserStatus::ALL
                .into_iter()
                .filter(|s| *s != UserStatus::Deprovisioned)
                .collect();
        }
        Ok(filter)
    }

    /// The statuses `filter` lets through for this caller (empty in the filter: every status),
    /// never DEPROVISIONED for a caller who may not see it.
    fn statuses_of(&self, filter: &PersonFilter) -> Vec<UserStatus> {
        let all = if filter.statuses.is_empty() {
            UserStatus::ALL.to_vec()
        } else {
            filter.statuses.clone()
        };
        all.into_iter()
            .filter(|s| *s != UserStatus::Deprovisioned || self.may(Permission::SeeDeprovisioned))
            .collect()
    }

    /// The filter's attribute comparison with the fewest matches (from the stored counts), with
    /// that count: the index a filtered list reads.
    fn narrowest<'f>(
        &self,
        filter: &'f PersonFilter,
        statuses: &[UserStatus],
    ) -> Result<Option<(Attr, &'f str, u64)>> {
        let mut best: Option<(Attr, &str, u64)> = None;
        for (a, v) in filter.attrs() {
            let n = self.store().attr_count(a, v, statuses)?;
            if best.is_none_or(|b| n < b.2) {
                best = Some((a, v, n));
            }
        }
        Ok(best)
    }

    /// People matching `filter` (already passed through [`View::people_filter`]) in id order,
    /// strictly after `after`: `first + 1` of them at most, so the caller knows if more follow.
    /// A filter on an attribute reads that attribute's index; on several, the roster in memory
    /// names the candidates; never every person.
    pub fn people_page(
        &self,
        filter: &PersonFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        let statuses = self.statuses_of(filter);
        let mut out = Vec::new();
        let attrs = filter.attrs();
        if attrs.len() >= 2 {
            // The roster names who holds every attribute with a status let through, in id
            // order; each is then read and checked whole.
            let mut after = after.map(str::to_owned);
            loop {
                let want = first + 1 - out.len();
                let (ids, work) = self.mirror.org.ids_after(
                    self.store(),
                    &attrs,
                    &statuses,
                    after.as_deref(),
                    want,
                )?;
                self.charge(work.read + work.examined)?;
                for id in &ids {
                    self.charge(1)?;
                    if let Some(p) = self.store().person(id)?
                        && filter.matches(&p)
                        && self.shows(&p)
                    {
                        out.push(p);
                        if out.len() > first {
                            return Ok(out);
                        }
                    }
                }
                if ids.len() < want {
                    return Ok(out);
                }
                after = ids.last().cloned();
            }
        }
        let mut keep = |p: Person| {
            if filter.matches(&p) && self.shows(&p) {
                out.push(p);
            }
            out.len() > first
        };
        if let Some((a, v, _)) = self.narrowest(filter, &statuses)? {
            for id in self.store().attr_ids_after(a, v, after) {
                self.charge(1)?;
                if let Some(p) = self.store().person(&id?)?
                    && keep(p)
                {
                    break;
                }
            }
        } else {
            for p in self.store().people_after(after) {
                self.charge(1)?;
                if keep(p?) {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// How many people match `filter` (already passed through [`View::people_filter`]): the
    /// stored counts for a filter on statuses and at most one attribute; with several, the
    /// roster in memory; with an extended attribute or user types, the people of the narrowest
    /// attribute's index are read (call it through [`View::blocking`]).
    pub fn count_people(&self, filter: &PersonFilter) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        let statuses = self.statuses_of(filter);
        let attrs = filter.attrs();
        // Extended attributes and user types have no counts kept.
        let uncounted = filter.attribute.is_some() || !filter.user_types.is_empty();
        if uncounted && attrs.is_empty() {
            // Read everyone.
            let mut n = 0u64;
            for p in self.store().people_after(None) {
                self.charge(1)?;
                let p = p?;
                if filter.matches(&p) && self.shows(&p) {
                    n += 1;
                }
            }
            return Ok(n);
        }
        if attrs.is_empty() {
            if statuses.len() == UserStatus::ALL.len() {
                return Ok(self.store().people_count()?);
            }
            let mut n = 0;
            for s in &statuses {
                n += self.store().status_count(*s)?;
            }
            return Ok(n);
        }
        let Some((a, v, count)) = self.narrowest(filter, &statuses)? else {
            return Ok(0);
        };
        if attrs.len() == 1 && !uncounted {
            return Ok(count);
        }
        if !uncounted {
            // Several attributes: the roster's holders of the rarest value, checked in memory.
            let (n, work) = self.mirror.org.count(self.store(), &attrs, &statuses)?;
            self.charge(work.read + work.examined)?;
            return Ok(n);
        }
        let mut n = 0u64;
        for id in self.store().attr_ids_after(a, v, None) {
            self.charge(1)?;
            if let Some(p) = self.store().person(&id?)?
                && filter.matches(&p)
                && self.shows(&p)
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The person's Okta `profile`: whole for a caller with `RawProfile`, else only the
    /// attributes the policy lists for the directory.
    pub fn profile(&self, id: &str) -> Result<Value> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.profile_shown(profile_of(self.store().person_raw(id)?)))
    }

    /// A raw `profile` as the caller may see it: whole with `RawProfile`, else the policy's
    /// `directory_attributes` only.
    fn profile_shown(&self, profile: Value) -> Value {
        if self.may(Permission::RawProfile) {
            return profile;
        }
        let Value::Object(all) = profile else {
            return Value::Object(Map::new());
        };
        let allowed = &self.mirror.policy.directory_attributes;
        Value::Object(
            all.into_iter()
                .filter(|(k, _)| allowed.iter().any(|a| a == k))
                .collect(),
        )
    }

    /// The document a provisioning client pushed for this person (provisioning mode), as it
    /// sent it: for a caller with `RawProfile`; `None` for others and for mirrored people.
    pub fn provisioned(&self, id: &str) -> Result<Option<Value>> {
        self.require(Permission::ReadDirectory)?;
        if !self.may(Permission::RawProfile) || !self.provisioning() {
            return Ok(None);
        }
        Ok(match self.store().person_raw(id)? {
            Some(Value::Object(mut o)) => o.remove(PROVISIONED_DOCUMENT).filter(|d| d.is_object()),
            _ => None,
        })
    }

    /// [`View::profile`] and [`View::provisioned`] together, from one read of the raw record
    /// (only its `profile` and document decoded; not read at all for a caller who may see
    /// none of it), with only the profile attributes `keep` accepts (the others skipped
    /// unread, for a caller that would not use them).
    pub fn profile_and_document(
        &self,
        id: &str,
        keep: fn(&str) -> bool,
    ) -> Result<(Value, Option<Value>)> {
        self.require(Permission::ReadDirectory)?;
        let raw_profile = self.may(Permission::RawProfile);
        if !raw_profile && self.mirror.policy.directory_attributes.is_empty() {
            return Ok((Value::Object(Map::new()), None));
        }
        let raw = self.store().person_profile(id, keep)?.unwrap_or_default();
        let document = raw
            .document
            .filter(|d| raw_profile && self.provisioning() && d.is_object());
        Ok((self.profile_shown(Value::Object(raw.profile)), document))
    }

    /// The caller's permission to write people and groups (provisioning mode's SCIM writes),
    /// which every write must show: only the `provisioner` role holds it.
    pub fn grant_write(&self) -> Result<WriteGrant> {
        self.require(Permission::ScimWrite)?;
        Ok(WriteGrant {
            caller: self.caller.label().to_owned(),
        })
    }

    // ---- hierarchy ----------------------------------------------------------------------

    /// Ids of the visible direct reports of `manager_id`, in id order.
    pub fn direct_report_ids(&self, manager_id: &str) -> Result<Vec<String>> {
        let ids = self.store().direct_report_ids(manager_id)?;
        self.visible_ids(ids)
    }

    /// Ids of everyone visible under `id`, `depth` levels down (`None` = all), sorted.
    /// Walked in memory over the roster (`search::OrgCache`), no store read per person.
    pub fn reports(&self, id: &str, depth: Option<usize>) -> Result<Vec<String>> {
        self.require(Permission::ReadDirectory)?;
        let (found, work) = self.mirror.org.reports(self.store(), id, depth)?;
        self.charge(work.read + work.examined)?;
        let everyone = self.may(Permission::SeeDeprovisioned);
        let mut ids: Vec<String> = found
            .into_iter()
            .filter(|(_, s)| everyone || *s != UserStatus::Deprovisioned)
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// How many people the caller may see under `id` within `depth` levels (what
    /// `reports(id, Some(depth))` lists), and the page of them in id order strictly after
    /// `after`, `limit` at most: counted level by level and paged without listing everyone.
    pub fn reports_within(
        &self,
        id: &str,
        depth: usize,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(u64, Vec<String>)> {
        self.require(Permission::ReadDirectory)?;
        let everyone = self.may(Permission::SeeDeprovisioned);
        let (found, work) =
            self.mirror
                .org
                .reports_within(self.store(), id, depth, everyone, after, limit)?;
        self.charge(work.read + work.examined)?;
        Ok(found)
    }

    /// How many people the caller may see report to `id`, directly or not (what `reports`
    /// without a depth lists): the maintained count, no walk. `None` while the counts are
    /// rebuilt after a manager cycle (then walk with [`View::reports`]).
    pub fn reports_total(&self, id: &str) -> Result<Option<u64>> {
        self.require(Permission::ReadDirectory)?;
        let Some((all, shown)) = self.store().report_count(id)? else {
            return Ok(None);
        };
        Ok(Some(if self.may(Permission::SeeDeprovisioned) {
            all
        } else {
            shown
        }))
    }

    /// Ids of everyone visible under `id` (every level) in id order, strictly after `after`,
    /// `first + 1` at most. A small subtree is walked; in a large one, people are read in id
    /// order and kept when `id` is on their manager chain (chains read from `manager_of`, each
    /// link once per request), so a page costs about `first` divided by the subtree's share
    /// of the org.
    pub fn reports_page(&self, id: &str, after: Option<&str>, first: usize) -> Result<Vec<String>> {
        self.require(Permission::ReadDirectory)?;
        let under = self.store().report_count(id)?.map_or(0, |c| c.0);
        if under <= WALK_REPORTS_BELOW {
            let ids = self.reports(id, None)?;
            let start = after.map_or(0, |a| ids.partition_point(|i| i.as_str() <= a));
            return Ok(ids.into_iter().skip(start).take(first + 1).collect());
        }
        // Whether `id` is above each person met so far (true/false), by their id.
        let mut memo: std::collections::HashMap<String, bool> =
            std::collections::HashMap::from([(id.to_owned(), true)]);
        let mut out = Vec::new();
        for c in self.store().person_ids_after(after) {
            self.charge(1)?;
            let c = c?;
            if c == id || !self.is_under(&c, &mut memo)? {
                continue;
            }
            if !self.may(Permission::SeeDeprovisioned)
                && !self.store().person(&c)?.is_some_and(|p| self.shows(&p))
            {
                continue;
            }
            out.push(c);
            if out.len() > first {
                break;
            }
        }
        Ok(out)
    }

    /// Whether the manager chain of `id` meets the top `memo` was started with (held in it as
    /// true; it keeps the answer for every chain link read, so shared chains are read once).
    fn is_under(
        &self,
        id: &str,
        memo: &mut std::collections::HashMap<String, bool>,
    ) -> Result<bool> {
        let mut path: Vec<String> = Vec::new();
        let mut at = self.store().manager_of(id)?;
        let answer = loop {
            let Some(m) = at else { break false };
            if let Some(known) = memo.get(&m) {
                break *known;
            }
            if m == id || path.contains(&m) {
                break false;
            }
            self.charge(1)?;
            at = self.store().manager_of(&m)?;
            path.push(m);
        };
        // A chain that ran into a cycle without meeting `top` never will.
        for m in path {
            memo.insert(m, answer);
        }
        memo.insert(id.to_owned(), answer);
        Ok(answer)
    }

    fn visible_ids(&self, ids: Vec<String>) -> Result<Vec<String>> {
        self.require(Permission::ReadDirectory)?;
        self.charge(ids.len() as u64)?;
        if self.may(Permission::SeeDeprovisioned) {
            return Ok(ids);
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if self.store().person(&id)?.is_some_and(|p| self.shows(&p)) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The chart under `root_id`; people the caller may not see are pruned with what hangs
    /// below them (they stay reachable from their own chart only for callers who see them).
    pub fn org_chart(&self, root_id: &str, depth: Option<usize>) -> Result<Option<OrgNode>> {
        self.require(Permission::ReadDirectory)?;
        let Some(chart) = search::org_chart(self.store(), root_id, depth)? else {
            return Ok(None);
        };
        self.charge(chart_size(&chart))?;
        if !self.shows(&chart.person) {
            return Ok(None);
        }
        Ok(Some(self.prune(chart)))
    }

    fn prune(&self, mut node: OrgNode) -> OrgNode {
        if self.may(Permission::SeeDeprovisioned) {
            return node;
        }
        let before = node.reports.len();
        node.reports.retain(|r| self.shows(&r.person));
        node.direct_report_count -= before - node.reports.len();
        node.reports = node.reports.into_iter().map(|r| self.prune(r)).collect();
        node
    }

    /// The lowest visible person both `a` and `b` report to.
    pub fn common_manager(&self, a: &str, b: &str) -> Result<Option<Person>> {
        self.require(Permission::ReadDirectory)?;
        if self.person(a)?.is_none() || self.person(b)?.is_none() {
            return Ok(None);
        }
        Ok(self.visible(search::common_manager(self.store(), a, b)?))
    }

    /// Every department and division with heads and headcounts (deprovisioned people are
    /// never members, for any role). Computed in memory again after the store changed, from
    /// the people the change log names (the first call reads everyone).
    pub fn departments(&self) -> Result<Arc<Departments>> {
        self.require(Permission::ReadDirectory)?;
        let (departments, work) = self.mirror.org.departments(self.store())?;
        self.charge(work.read)?;
        Ok(departments)
    }

    // ---- groups -------------------------------------------------------------------------

    /// A group by Okta id.
    pub fn group(&self, id: &str) -> Result<Option<Group>> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.store().group(id)?)
    }

    /// A group by name (case-insensitive).
    pub fn group_by_name(&self, name: &str) -> Result<Option<Group>> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.store().group_by_name(name)?)
    }

    /// The groups among `ids`, in the order given (unknown ids skipped).
    pub fn groups(&self, ids: &[String]) -> Result<Vec<Group>> {
        self.require(Permission::ReadDirectory)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(g) = self.store().group(id)? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// Groups `keep` accepts in id order, strictly after `after`; `first + 1` at most.
    pub fn groups_page(
        &self,
        keep: &dyn Fn(&Group) -> bool,
        after: Option<&str>,
        first: usize,
    ) -> Result<Vec<Group>> {
        self.require(Permission::ReadDirectory)?;
        let mut out = Vec::new();
        for g in self.store().groups_after(after) {
            self.charge(1)?;
            let g = g?;
            if keep(&g) {
                out.push(g);
                if out.len() > first {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// How many groups `keep` accepts (`None`: every group, from the stored counter).
    pub fn count_groups(&self, keep: Option<&dyn Fn(&Group) -> bool>) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        let Some(keep) = keep else {
            return Ok(self.store().group_count()?);
        };
        let mut n = 0;
        for g in self.store().groups_after(None) {
            self.charge(1)?;
            if keep(&g?) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The group's raw Okta `profile` (needs `RawProfile`: imported groups carry directory
    /// internals such as DNs).
    pub fn group_profile(&self, id: &str) -> Result<Value> {
        self.require(Permission::RawProfile)?;
        Ok(profile_of(self.store().group_raw(id)?))
    }

    /// Ids of the groups of a person already read (no second read to check they are shown).
    pub fn group_ids_of_person(&self, p: &Person) -> Result<Vec<String>> {
        self.require(Permission::ReadDirectory)?;
        if !self.shows(p) {
            return Ok(Vec::new());
        }
        Ok(self.store().group_ids_of(&p.id)?)
    }

    /// Ids of the groups a person belongs to, in id order.
    pub fn group_ids_of(&self, user_id: &str) -> Result<Vec<String>> {
        self.require(Permission::ReadDirectory)?;
        if self.person(user_id)?.is_none() {
            return Ok(Vec::new());
        }
        Ok(self.store().group_ids_of(user_id)?)
    }

    /// Visible members of a group in id order, strictly after `after`, whose status is in
    /// `statuses` (empty: any the caller may see); `first + 1` at most.
    pub fn members_page(
        &self,
        group_id: &str,
        statuses: &[UserStatus],
        after: Option<&str>,
        first: usize,
    ) -> Result<Vec<Person>> {
        self.require(Permission::ReadDirectory)?;
        if statuses.contains(&UserStatus::Deprovisioned) {
            self.require(Permission::SeeDeprovisioned)?;
        }
        let mut out = Vec::new();
        for id in self.store().member_ids_after(group_id, after) {
            self.charge(1)?;
            let Some(p) = self.store().person(&id?)? else {
                continue;
            };
            if self.shows(&p) && (statuses.is_empty() || statuses.contains(&p.status)) {
                out.push(p);
                if out.len() > first {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Ids of a group's visible members in id order (the membership index; people are read only
    /// when the caller may not see everyone).
    pub fn member_ids(&self, group_id: &str) -> Result<Vec<String>> {
        self.require(Permission::ReadDirectory)?;
        let ids: Vec<String> = self
            .store()
            .member_ids_after(group_id, None)
            .collect::<std::result::Result<_, _>>()?;
        self.visible_ids(ids)
    }

    /// How many members a group has, every status, from the stored counter: for a version
    /// stamp, not to show (hidden members count too).
    pub fn member_total(&self, group_id: &str) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.store().member_count(group_id)?)
    }

    /// How many visible members a group has with a status in `statuses` (empty: any): the
    /// stored counters (all members, or members per status), no scan.
    pub fn count_members(&self, group_id: &str, statuses: &[UserStatus]) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        if statuses.contains(&UserStatus::Deprovisioned) {
            self.require(Permission::SeeDeprovisioned)?;
        }
        if statuses.is_empty() && self.may(Permission::SeeDeprovisioned) {
            return Ok(self.store().member_count(group_id)?);
        }
        let mut n = 0;
        for s in UserStatus::ALL {
            let asked = statuses.is_empty() || statuses.contains(&s);
            if asked && (s != UserStatus::Deprovisioned || self.may(Permission::SeeDeprovisioned)) {
                n += self.store().group_status_count(group_id, s)?;
            }
        }
        Ok(n)
    }

    // ---- search -------------------------------------------------------------------------

    fn index(&self) -> Result<&Index> {
        self.mirror.index.as_deref().ok_or(AccessError::NoIndex)
    }

    /// The best matches for `query` among the people `filter` (already passed through
    /// [`View::people_filter`]) lets through, with the people themselves.
    pub fn search(
        &self,
        query: &ParsedQuery,
        filter: &PersonFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(SearchResults, Vec<(f32, Person)>)> {
        self.require(Permission::ReadDirectory)?;
        let started = std::time::Instant::now();
        let results = self.index()?.search(query, filter, offset, limit)?;
        crate::metrics::global().search(started.elapsed());
        let mut hits = Vec::with_capacity(results.hits.len());
        for h in &results.hits {
            // The index may briefly hold someone the store just deleted: skip them.
            if let Some(p) = self.visible(self.store().person(&h.id)?) {
                hits.push((h.score, p));
            }
        }
        Ok((results, hits))
    }

    /// Facet counts over every match of `query` under `filter` (already passed through
    /// [`View::people_filter`], so hidden people are never counted).
    pub fn facets(&self, query: &ParsedQuery, filter: &PersonFilter) -> Result<Facets> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.index()?.facets(query, filter)?)
    }

    // ---- change feed --------------------------------------------------------------------

    /// Up to `first` change-log entries after sequence `after`, as this caller may see them,
    /// and the sequence to resume after (the last entry read; `after` when none). A person the
    /// caller may not see (deprovisioned, for a directory key) reads as removed, members it may
    /// not see are left out of membership entries, and raw attributes beyond the policy's
    /// `directory_attributes` are left out of the changed fields, so the feed never tells a
    /// caller more than its reads would.
    pub fn changes(&self, after: u64, first: usize) -> Result<(Vec<FeedEntry>, u64)> {
        self.require(Permission::ReadDirectory)?;
        let s = self.store();
        let oldest = self.changes_start()?.saturating_add(1);
        if after.saturating_add(1) < oldest {
            // A subscriber that started on a mirror still loading (no cursor, an empty log)
            // lands here once the load commits: it has read none of the org.
            let loaded = s.initial_load_seq()? > after;
            return Err(AccessError::CursorExpired {
                after,
                oldest,
                loaded,
            });
        }
        let raw_ok = self.may(Permission::RawProfile);
        let allowed = &self.mirror.policy.directory_attributes;
        let field_shown = |f: &String| match f.strip_prefix("profile.") {
            Some(attr) => raw_ok || allowed.iter().any(|a| a == attr),
            None => true,
        };
        let mut out = Vec::new();
        let mut resume = after;
        for c in s.changes_after(after).take(first) {
            let c = c?;
            self.charge(1)?;
            resume = c.seq;
            let (kind, id, fields, added, removed) = match c.entity {
                Entity::Person { id } => {
                    let shown = c.op == ChangeOp::Upsert && self.person(&id)?.is_some();
                    let kind = match (shown, c.created) {
                        (false, _) => FeedKind::PersonRemoved,
                        (true, true) => FeedKind::PersonCreated,
                        (true, false) => FeedKind::PersonUpdated,
                    };
                    let fields = if shown {
                        c.fields.into_iter().filter(field_shown).collect()
                    } else {
                        Vec::new()
                    };
                    (kind, id, fields, Vec::new(), Vec::new())
                }
                Entity::Group { id } => {
                    let kind = match (c.op, c.created) {
                        (ChangeOp::Delete, _) => FeedKind::GroupRemoved,
                        (ChangeOp::Upsert, true) => FeedKind::GroupCreated,
                        (ChangeOp::Upsert, false) => FeedKind::GroupUpdated,
                    };
                    let fields = c.fields.into_iter().filter(field_shown).collect();
                    (kind, id, fields, Vec::new(), Vec::new())
                }
                // Never after a cursor the feed accepts (`changes_start`).
                Entity::InitialLoad { .. } => continue,
                Entity::Members {
                    group_id,
                    added,
                    removed,
                } => {
                    let added = self.visible_ids(added)?;
                    let removed = self.visible_removed(removed)?;
                    if added.is_empty() && removed.is_empty() {
                        continue;
                    }
                    (
                        FeedKind::MembersChanged,
                        group_id,
                        Vec::new(),
                        added,
                        removed,
                    )
                }
            };
            out.push(FeedEntry {
                seq: c.seq,
                at: c.at,
                kind,
                id,
                fields,
                added,
                removed,
            });
        }
        Ok((out, resume))
    }

    /// The position before the oldest change the log still holds: where a consumer without a
    /// cursor starts.
    pub fn changes_start(&self) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        let s = self.store();
        // The oldest entry held; with every entry pruned, the one the next change will get.
        let oldest = match s.first_seq()? {
            Some(first) => first,
            None => s.last_seq()?.saturating_add(1),
        };
        // An initial load is one entry for the whole org: the feed starts after it, and a
        // cursor from before it is expired like a pruned one (read the mirror again).
        Ok(oldest.saturating_sub(1).max(s.initial_load_seq()?))
    }

    /// The position after the newest change (a consumer's `headCursor`).
    pub fn changes_head(&self) -> Result<u64> {
        self.require(Permission::ReadDirectory)?;
        Ok(self.store().last_seq()?)
    }

    /// Removed member ids as the caller may hear of them: a person it may not see (still in
    /// the mirror, deprovisioned) is left out; a person gone from the mirror is told.
    fn visible_removed(&self, ids: Vec<String>) -> Result<Vec<String>> {
        self.charge(ids.len() as u64)?;
        if self.may(Permission::SeeDeprovisioned) {
            return Ok(ids);
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store().person(&id)? {
                Some(p) if !self.shows(&p) => {}
                _ => out.push(id),
            }
        }
        Ok(out)
    }

    // ---- sync state ---------------------------------------------------------------------

    /// The most recent sync runs, newest first.
    pub fn runs(&self, first: usize) -> Result<Vec<SyncRun>> {
        self.require(Permission::SyncStatus)?;
        Ok(self.store().runs(first)?)
    }

    /// The org's user types, as the sync engine last read them (empty when it could not).
    pub fn user_types(&self) -> Result<Vec<crate::model::UserType>> {
        self.require(Permission::ReadDirectory)?;
        Ok(self
            .store()
            .meta_json(meta::USER_TYPES)?
            .unwrap_or_default())
    }

    /// The latest full sync, failed or not.
    pub fn last_full_sync(&self) -> Result<Option<SyncRun>> {
        self.require(Permission::SyncStatus)?;
        Ok(self.store().last_full_sync()?)
    }

    /// The latest successful full sync.
    pub fn last_good_full_sync(&self) -> Result<Option<SyncRun>> {
        self.require(Permission::SyncStatus)?;
        Ok(self.store().last_good_full_sync()?)
    }

    /// When the System Log tail last found nothing new.
    pub fn tail_caught_up_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.require(Permission::SyncStatus)?;
        Ok(self.store().meta_json(meta::TAIL_CAUGHT_UP)?)
    }

    /// When the sync last read Okta successfully, and why its latest step failed.
    pub fn freshness(&self) -> Result<Freshness> {
        self.require(Permission::SyncStatus)?;
        self.mirror.freshness()
    }

    /// The stored System Log position (the polling query's `next` URL; it holds no secret).
    pub fn log_cursor(&self) -> Result<Option<String>> {
        self.require(Permission::SyncStatus)?;
        Ok(self.store().meta_json(meta::LOG_CURSOR)?)
    }

    /// Whole-mirror counts: people (every status), groups, memberships, last change sequence.
    pub fn totals(&self) -> Result<Totals> {
        self.require(Permission::SyncStatus)?;
        let s = self.store();
        Ok(Totals {
            people: s.people_count()?,
            groups: s.group_count()?,
            memberships: s.membership_count()?,
            last_seq: s.last_seq()?,
        })
    }

    /// What `/metrics` reports about the store, the index and the sync (a `metrics` or `admin`
    /// caller): sizes and counts, and how fresh the mirror is.
    pub fn vitals(&self) -> Result<crate::metrics::Vitals> {
        self.require(Permission::Metrics)?;
        let s = self.store();
        let now = Utc::now();
        // Read directly: a metrics key holds no SyncStatus, which `tail_caught_up_at` asks.
        let caught_up: Option<DateTime<Utc>> = s.meta_json(meta::TAIL_CAUGHT_UP)?;
        Ok(crate::metrics::Vitals {
            store_bytes: s.size_on_disk()?,
            change_log_seq: s.last_seq()?,
            change_log_entries: s.change_log_entries()?,
            people: s.people_count()?,
            groups: s.group_count()?,
            memberships: s.membership_count()?,
            index_documents: self.mirror.index.as_ref().map_or(0, |i| i.num_docs()),
            // From the sync's last successful read of Okta, as /readyz shows it.
            staleness_seconds: self.mirror.freshness()?.staleness(now),
            tail_lag_seconds: caught_up.map(|t| seconds_since(t, now)),
        })
    }

    /// The last manager resolution's report (unresolved references, broken cycles).
    pub fn manager_report(&self) -> Result<ManagerReport> {
        self.require(Permission::SyncStatus)?;
        Ok(self.store().manager_report()?)
    }

    /// Whether a full sync has completed.
    pub fn synced(&self) -> Result<bool> {
        self.mirror.synced()
    }

    // ---- audit --------------------------------------------------------------------------

    /// The newest `first` entries of the audit log, newest first.
    pub fn audit_log(&self, first: usize) -> Result<Vec<AuditEntry>> {
        self.require(Permission::AuditLog)?;
        Ok(self.store().audit(first)?)
    }

    // ---- backup -------------------------------------------------------------------------

    /// A consistent snapshot of the whole store (the backup format of `store/backup.rs`),
    /// read while it is written into a spool file, for an admin. Writers wait while the store
    /// is copied into the spool (readers do not); the caller reads at any pace. The backup is
    /// recorded in the audit log: it copies every person.
    pub fn backup(&self) -> Result<Spool> {
        self.require(Permission::Backup)?;
        let spool = self.store().spool_snapshot()?;
        self.record("backup", "started: the whole store, streamed to the caller")?;
        Ok(spool)
    }

    /// Records a state-changing call by this caller (already allowed, already done) and how it
    /// ended.
    pub fn record(&self, action: &str, outcome: &str) -> Result<AuditEntry> {
        self.mirror.record(self.caller.label(), action, outcome)
    }
}

/// Proof that a caller may write (from [`View::grant_write`]): the provisioning writer asks for
/// one, so no front-end can write without the access rules having said yes.
#[derive(Debug, Clone)]
pub struct WriteGrant {
    caller: String,
}

impl WriteGrant {
    /// The writing key's name, for logs.
    pub fn caller(&self) -> &str {
        &self.caller
    }
}

/// How fresh the mirror is.
#[derive(Debug, Clone, Default)]
pub struct Freshness {
    /// When a sync step last read Okta successfully; `None` before the first one.
    pub last_contact: Option<DateTime<Utc>>,
    /// Why the latest sync step failed; `None` while they succeed.
    pub problem: Option<String>,
}

impl Freshness {
    /// Seconds from the last successful read of Okta to `now` (`None` before the first one).
    pub fn staleness(&self, now: DateTime<Utc>) -> Option<f64> {
        self.last_contact.map(|t| seconds_since(t, now))
    }
}

/// Seconds from `then` to `now`, never negative (a clock step back reads as 0): how staleness
/// and tail lag are told everywhere.
pub fn seconds_since(then: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    (now - then).num_milliseconds().max(0) as f64 / 1000.0
}

/// Whole-mirror counts for the sync status.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    /// People in the mirror, every status (the whole mirror, not one caller's window).
    pub people: u64,
    /// Groups in the mirror.
    pub groups: u64,
    /// Memberships (group, user pairs) in the mirror.
    pub memberships: u64,
    /// The sequence number of the newest change-log entry (0 for an empty mirror).
    pub last_seq: u64,
}

/// The one person a lookup by a non-unique value found: the not-deprovisioned one when there
/// is one (else the only one), or `Ambiguous` naming how many share `what`.
fn one_of(found: Vec<Person>, what: &'static str) -> Result<Option<Person>> {
    let active: Vec<&Person> = found
        .iter()
        .filter(|p| p.status != UserStatus::Deprovisioned)
        .collect();
    let candidates = if active.is_empty() {
        found.iter().collect()
    } else {
        active
    };
    match candidates.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Err(AccessError::Ambiguous {
            what,
            count: many.len(),
        }),
    }
}

/// How many people a chart holds.
fn chart_size(node: &OrgNode) -> u64 {
    1 + node.reports.iter().map(chart_size).sum::<u64>()
}

/// The `profile` object of a raw Okta user or group, or `{}`.
fn profile_of(raw: Option<Value>) -> Value {
    match raw {
        Some(Value::Object(mut o)) => match o.remove("profile") {
            Some(p @ Value::Object(_)) => p,
            _ => Value::Object(Map::new()),
        },
        _ => Value::Object(Map::new()),
    }
}
