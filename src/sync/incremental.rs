//! Incremental sync: change events (System Log tail, event hooks) and delta sweeps. An event is
//! a ping: the engine re-reads what it names and applies what the source says now, in one store
//! transaction with the log position and the handled event ids, so a crash never loses a batch
//! or applies one twice, and a repeated, late or out-of-order event changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::full::{membership_op, sorted_diff};
use super::managers;
use super::{Event, Source, SourceError, SyncConfig, Target, Usage};
use crate::model::{AttributeMap, Group, ManagerReport, Person, RunKind, SyncRun, strip_volatile};
use crate::store::{Batch, Op, RawJson, Store, StoreError, meta};

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What re-reading the source found. `None` means the object no longer exists.
#[derive(Default)]
struct Reads {
    users: BTreeMap<String, Option<Value>>,
    /// Complete group lists of users that exist.
    user_groups: BTreeMap<String, Vec<String>>,
    groups: BTreeMap<String, Option<Value>>,
    /// Complete member lists of groups that exist.
    group_members: BTreeMap<String, Vec<String>>,
    /// Objects skipped after failing too often, for the run's warnings.
    warnings: Vec<String>,
    /// Users read that are kept only as managers of people in the scope (`outside_scope`).
    outside: HashSet<String>,
}

/// Reads of one object that may fail (Okta refusing that object: a 403 from a scoped admin
/// role, a 400) before the object is skipped so the tail moves on. The next sweep or reconcile
/// reads it again.
const POISON_ATTEMPTS: u32 = 3;

/// Membership events of one group in one step from which the group's member list is read
/// instead of each user's groups (when the list is also fewer pages than there are events).
const MEMBER_LIST_FROM: usize = 3;

/// How far before a step's first event `read_groups_left` looks: the deletion and its event's
/// `published` time are the same instant to Okta, but not to the second on every clock.
const LEFT_OVERLAP_SECS: i64 = 5;

/// Members a source lists per page (Okta's page size for group members, `limit=200`): what a
/// member list costs, in requests, against one request per user's group list.
const MEMBERS_PER_PAGE: u64 = 200;

/// Where an incremental step stands in the source, stored with its changes.
pub enum Position {
    /// Hook deliveries leave the log position alone: the log remains the record.
    Unchanged,
    /// The log position after the page whose events this step applied.
    Log(String),
    /// The start time of this sweep (the next one reads changes after it, minus the overlap).
    Sweep(DateTime<Utc>),
}

/// The incremental engine. It keeps every person in memory for manager resolution (which is
/// global: shared keys, ambiguous names and cycles all depend on everyone), loaded on first use
/// and dropped whenever the store may have changed behind it (a full sync, a failed apply).
pub struct Incremental {
    store: Store,
    cfg: SyncConfig,
    people: Option<HashMap<String, managers::Known>>,
    /// Failed reads per object (by description) since its last good read: one object Okta
    /// keeps refusing must not fail its log page for ever.
    failures: HashMap<String, u32>,
}

impl Incremental {
    /// An applier with an empty cache; the people map is loaded on the first batch.
    pub fn new(store: Store, cfg: SyncConfig) -> Incremental {
        Incremental {
            store,
            cfg,
            people: None,
            failures: HashMap::new(),
        }
    }

    /// Forget the in-memory people: the store changed outside this engine.
    pub fn invalidate(&mut self) {
        self.people = None;
    }

    /// Re-reads and applies what `events` name (skipping events already handled), and stores
    /// `position` with the changes. `None` when there was nothing to record: no new event, and
    /// no position to move.
    pub async fn apply_events(
        &mut self,
        source: &dyn Source,
        events: &[Event],
        kind: RunKind,
        position: Position,
    ) -> Option<SyncRun> {
        let mut run = Counter::start(kind, source);
        let mut fresh: Vec<String> = Vec::new();
        let mut targets: BTreeSet<Target> = BTreeSet::new();
        let mut earliest: Option<DateTime<Utc>> = None;
        for e in events {
            if fresh.contains(&e.uuid) {
                continue;
            }
            match self.store.event_seen(&e.uuid) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Some(run.fail(source, &self.store, e.into())),
            }
            fresh.push(e.uuid.clone());
            targets.extend(e.targets.iter().cloned());
            if let Some(t) = e.published {
                earliest = Some(earliest.map_or(t, |s| s.min(t)));
            }
        }
        if fresh.is_empty() && matches!(position, Position::Unchanged) {
            return None;
        }
        run.run.events = fresh.len() as u64;
        let result = match self.read_targets(source, &targets, earliest).await {
            Ok(reads) => self.commit(reads, &mut run, source, position, fresh),
            Err(e) => Err(e),
        };
        Some(match result {
            Ok(recorded) => recorded,
            Err(e) => run.fail(source, &self.store, e),
        })
    }

    /// One delta sweep: users and groups changed after `since`, and the members of groups whose
    /// membership changed after it, applied as they are now.
    pub async fn sweep(&mut self, source: &dyn Source, since: DateTime<Utc>) -> SyncRun {
        let started = Utc::now();
        let mut run = Counter::start(RunKind::Sweep, source);
        let result = match self.read_sweep(source, since, &mut run.run).await {
            Ok(reads) => self.commit(
                reads,
                &mut run,
                source,
                Position::Sweep(started),
                Vec::new(),
            ),
            Err(e) => Err(e),
        };
        match result {
            Ok(recorded) => recorded,
            Err(e) => run.fail(source, &self.store, e),
        }
    }

    async fn read_sweep(
        &self,
        source: &dyn Source,
        since: DateTime<Utc>,
        run: &mut SyncRun,
    ) -> Result<Reads, StepError> {
        let mut reads = Reads::default();
        let users = by_id(source.users_changed_since(since)).await?;
        run.users_fetched += users.len() as u64;
        reads
            .users
            .extend(users.into_iter().map(|(id, u)| (id, Some(u))));
        let groups = by_id(source.groups_changed_since(since)).await?;
        run.groups_fetched += groups.len() as u64;
        reads
            .groups
            .extend(groups.into_iter().map(|(id, g)| (id, Some(g))));
        let mut moved = Vec::new();
        for (id, g) in by_id(source.groups_with_members_changed_since(since)).await? {
            reads.groups.entry(id.clone()).or_insert(Some(g));
            moved.push(id);
        }
        let lists = self
            .each(
                moved,
                |gid| async move { source.group_member_ids(&gid).await },
            )
            .await?;
        for (gid, ids) in lists {
            match ids {
                Some(ids) => {
                    run.memberships_fetched += ids.len() as u64;
                    reads.group_members.insert(gid, ids);
                }
                // Deleted since it was listed: the group is gone.
                None => {
                    reads.groups.insert(gid, None);
                }
            }
        }
        self.read_new_objects(source, &mut reads).await?;
        self.scope_reads(source, &mut reads).await?;
        self.read_types_if_unknown(source, &reads).await?;
        Ok(reads)
    }

    /// Reads the user types again when someone read names a type id the mirror does not know
    /// (a type created in Okta since); not when the source refused them before.
    async fn read_types_if_unknown(
        &self,
        source: &dyn Source,
        reads: &Reads,
    ) -> Result<(), StepError> {
        let known: Option<Vec<crate::model::UserType>> = self.store.meta_json(meta::USER_TYPES)?;
        let Some(known) = known else {
            return Ok(()); // never read, or refused: the next full crawl asks
        };
        let unknown = reads.users.values().flatten().any(|u| {
            u.pointer("/type/id")
                .and_then(Value::as_str)
                .is_some_and(|id| !known.iter().any(|t| t.id == id))
        });
        if unknown {
            if let Some(types) = source.user_types().await? {
                self.store.put_meta_json(meta::USER_TYPES, &types)?;
            }
        }
        Ok(())
    }

    /// Decides who of the people this step touches is in the configured scope (nothing to do
    /// for a scope that keeps everyone): in an included group (with `users = "groups"`; the
    /// source lists only included groups) and matching the people filter (the source asks
    /// Okta). Someone in scope but not read yet is read; someone out of it leaves the mirror as a
    /// removal in Okta would, unless they manage someone the mirror keeps (then they stay,
    /// marked outside the scope); managers a newcomer names that the mirror lacks are read
    /// too, up the chain.
    async fn scope_reads(&self, source: &dyn Source, reads: &mut Reads) -> Result<(), StepError> {
        let scope = &self.cfg.scope;
        if !scope.limits_people() {
            return Ok(());
        }
        // Everyone whose record, group list or membership of a group this step read.
        let mut touched: BTreeSet<String> = reads
            .users
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        touched.extend(reads.user_groups.keys().cloned());
        for (gid, members) in &reads.group_members {
            let current: BTreeSet<String> = self
                .store
                .member_ids_after(gid, None)
                .collect::<Result<_, _>>()?;
            let read: BTreeSet<String> = members.iter().cloned().collect();
            touched.extend(current.symmetric_difference(&read).cloned());
        }
        touched.retain(|id| !matches!(reads.users.get(id), Some(None)));
        if scope.users_from_groups {
            let missing: Vec<String> = touched
                .iter()
                .filter(|id| !reads.user_groups.contains_key(*id))
                .cloned()
                .collect();
            for (id, gids) in self
                .each(
                    missing,
                    |id| async move { source.user_group_ids(&id).await },
                )
                .await?
            {
                match gids {
                    Some(gids) => {
                        reads.user_groups.insert(id, gids);
                    }
                    None => {
                        touched.remove(&id);
                        if self.store.person(&id)?.is_some() {
                            reads.users.insert(id, None);
                        }
                    }
                }
            }
        }
        let ids: Vec<String> = touched.iter().cloned().collect();
        let matching = source.matching_people_filter(&ids).await?;
        let mut unread = Vec::new();
        for id in touched {
            let in_groups = !scope.users_from_groups
                || reads.user_groups.get(&id).is_some_and(|g| !g.is_empty());
            if in_groups && matching.contains(&id) {
                reads.outside.remove(&id);
                if !reads.users.contains_key(&id) {
                    unread.push(id);
                }
                continue;
            }
            let manages_someone = !self.store.direct_report_ids(&id)?.is_empty();
            if manages_someone {
                reads.outside.insert(id.clone());
                if !reads.users.contains_key(&id) {
                    unread.push(id);
                }
            } else if self.store.person(&id)?.is_some() {
                reads.users.insert(id.clone(), None);
                reads.user_groups.remove(&id);
            } else {
                reads.users.remove(&id);
                reads.user_groups.remove(&id);
            }
        }
        for (id, v) in self
            .each(unread, |id| async move { source.user(&id).await })
            .await?
        {
            reads.users.insert(id, v);
        }
        self.read_missing_managers(source, reads).await
    }

    /// Reads the managers that the people this step puts name and the mirror lacks, level by
    /// level up the chain, marked outside the scope.
    async fn read_missing_managers(
        &self,
        source: &dyn Source,
        reads: &mut Reads,
    ) -> Result<(), StepError> {
        let mut asked: HashSet<String> = HashSet::new();
        let mut level: Vec<String> = reads
            .users
            .values()
            .flatten()
            .filter_map(|u| u.pointer("/profile/managerId").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        loop {
            let mut wanted = Vec::new();
            for r in level.drain(..) {
                if asked.insert(r.clone()) && !self.known_key(&r, reads)? {
                    wanted.push(r);
                }
            }
            if wanted.is_empty() {
                return Ok(());
            }
            for (id, u) in
                by_id(futures::stream::once(source.users_by_keys(&wanted)).boxed()).await?
            {
                if reads.users.contains_key(&id) || self.store.person(&id)?.is_some() {
                    continue;
                }
                if let Some(r) = u.pointer("/profile/managerId").and_then(Value::as_str) {
                    level.push(r.to_owned());
                }
                reads.outside.insert(id.clone());
                reads.users.insert(id, Some(u));
            }
        }
    }

    /// Whether a manager reference names someone the mirror holds or this step reads.
    fn known_key(&self, key: &str, reads: &Reads) -> Result<bool, StepError> {
        let key = key.trim();
        let in_store = self.store.person(key)?.is_some()
            || !self.store.people_by_employee_number(key)?.is_empty()
            || self.store.person_by_login(key)?.is_some()
            || !self.store.people_by_email(key)?.is_empty();
        Ok(in_store
            || reads.users.iter().any(|(id, u)| {
                id == key
                    || u.as_ref().is_some_and(|u| {
                        ["employeeNumber", "login", "email"].iter().any(|k| {
                            u.pointer(&format!("/profile/{k}")).and_then(Value::as_str) == Some(key)
                        })
                    })
            }))
    }

    /// Re-reads every target. Reads of different objects run concurrently (within the
    /// configured concurrency); steps themselves never overlap, so an older read can never
    /// overwrite a newer one.
    async fn read_targets(
        &mut self,
        source: &dyn Source,
        targets: &BTreeSet<Target>,
        earliest: Option<DateTime<Utc>>,
    ) -> Result<Reads, StepError> {
        enum Want {
            User(String),
            Group(String),
            UserGroups(String),
            Members(String),
        }
        enum Got {
            User(String, Option<Value>),
            Group(String, Option<Value>),
            UserGroups(String, Option<Vec<String>>),
            /// The group and its members; `None` when it is gone.
            Members(String, Option<(Value, Vec<String>)>),
        }
        let listed = self.groups_cheaper_listed(targets)?;
        let mut wants: BTreeMap<String, Want> = BTreeMap::new();
        let want_members = |wants: &mut BTreeMap<String, Want>, id: &String| {
            // The member list's read includes the group's own.
            wants.remove(&format!("group {id}"));
            wants.insert(
                format!("the members of group {id}"),
                Want::Members(id.clone()),
            );
        };
        let want_group = |wants: &mut BTreeMap<String, Want>, id: &String| {
            if !wants.contains_key(&format!("the members of group {id}")) {
                wants.insert(format!("group {id}"), Want::Group(id.clone()));
            }
        };
        for t in targets {
            match t {
                Target::User(id) => {
                    wants.insert(format!("user {id}"), Want::User(id.clone()));
                }
                Target::Group(id) => want_group(&mut wants, id),
                Target::Membership { group_id, .. } if listed.contains(group_id) => {
                    // Many events of one group: its member list is the truth for every one
                    // of them, in fewer requests than each user's groups.
                    want_members(&mut wants, group_id);
                }
                Target::Membership { user_id, group_id } => {
                    wants.insert(
                        format!("the groups of user {user_id}"),
                        Want::UserGroups(user_id.clone()),
                    );
                    // The group too, whatever the user's list says: an earlier step may already
                    // hold this membership (it read the user's groups just after the change,
                    // while its read of the group ran just before), and then no difference would
                    // re-read the group and its `lastMembershipUpdated` would stay behind for
                    // ever. Many events on one group still cost one read.
                    want_group(&mut wants, group_id);
                }
                Target::GroupMembers(id) => want_members(&mut wants, id),
            }
        }
        let results: Vec<(String, Result<Got, SourceError>)> = futures::stream::iter(wants)
            .map(|(what, w)| async move {
                let got = async {
                    Ok::<_, SourceError>(match w {
                        Want::User(id) => {
                            let v = source.user(&id).await?;
                            Got::User(id, v)
                        }
                        Want::Group(id) => {
                            let v = source.group(&id).await?;
                            Got::Group(id, v)
                        }
                        Want::UserGroups(id) => {
                            let v = source.user_group_ids(&id).await?;
                            Got::UserGroups(id, v)
                        }
                        Want::Members(id) => {
                            // A group deleted since the event has no member list to read.
                            let v = match source.group(&id).await? {
                                Some(g) => source
                                    .group_member_ids(&id)
                                    .await?
                                    .map(|members| (g, members)),
                                None => None,
                            };
                            Got::Members(id, v)
                        }
                    })
                };
                (what, got.await)
            })
            .buffer_unordered(self.cfg.concurrency.max(1))
            .collect()
            .await;
        let mut reads = Reads::default();
        let mut got = Vec::with_capacity(results.len());
        let (mut failed, mut skipped) = (None, Vec::new());
        for (what, r) in results {
            match r {
                Ok(g) => {
                    self.failures.remove(&what);
                    got.push(g);
                }
                Err(e) if e.object => {
                    let n = self.failures.entry(what.clone()).or_insert(0);
                    *n += 1;
                    if *n >= POISON_ATTEMPTS {
                        reads.warnings.push(format!(
                            "skipped {what} after {n} failed reads ({e}); the next sweep or reconcile reads it again"
                        ));
                        skipped.push(what);
                    } else {
                        failed.get_or_insert(e);
                    }
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            // Skipped objects stay counted: they are skipped once the rest reads cleanly.
            return Err(e.into());
        }
        for what in skipped {
            self.failures.remove(&what);
        }
        for g in got {
            match g {
                Got::User(id, v) => {
                    reads.users.insert(id, v);
                }
                Got::Group(id, v) => {
                    reads.groups.insert(id, v);
                }
                Got::UserGroups(id, Some(gids)) => {
                    reads.user_groups.insert(id, gids);
                }
                Got::UserGroups(id, None) => {
                    // The user is gone: that is a deletion, whatever else was read.
                    reads.users.insert(id, None);
                }
                Got::Members(id, Some((g, members))) => {
                    reads.groups.insert(id.clone(), Some(g));
                    reads.group_members.insert(id, members);
                }
                Got::Members(id, None) => {
                    reads.groups.insert(id, None);
                }
            }
        }
        // A user read as gone has no group list to apply.
        let gone: Vec<String> = reads
            .users
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let someone_left = !gone.is_empty();
        for id in gone {
            reads.user_groups.remove(&id);
        }
        if let (true, Some(since)) = (someone_left, earliest) {
            self.read_groups_left(source, since, &mut reads).await?;
        }
        self.read_new_objects(source, &mut reads).await?;
        self.scope_reads(source, &mut reads).await?;
        self.read_types_if_unknown(source, &reads).await?;
        Ok(reads)
    }

    /// A deleted user leaves every group they were in, moving each one's
    /// `lastMembershipUpdated` with no event naming it; the mirror may not know those groups
    /// (a crawl that read a member list just after the deletion, and the group itself just
    /// before). So the groups whose membership changed since the step's first event are read
    /// (one filtered list, as a sweep reads them: their members are right, their stamps move).
    async fn read_groups_left(
        &self,
        source: &dyn Source,
        since: DateTime<Utc>,
        reads: &mut Reads,
    ) -> Result<(), StepError> {
        let since = since - chrono::Duration::seconds(LEFT_OVERLAP_SECS);
        for (id, g) in by_id(source.groups_with_members_changed_since(since)).await? {
            reads.groups.entry(id).or_insert(Some(g));
        }
        Ok(())
    }

    /// The groups whose member list serves this step's membership events for less than the
    /// users' group lists would: at least `MEMBER_LIST_FROM` events, and fewer pages (counting
    /// the members held now plus one per event) than events.
    fn groups_cheaper_listed(
        &self,
        targets: &BTreeSet<Target>,
    ) -> Result<BTreeSet<String>, StepError> {
        let mut events: BTreeMap<&String, u64> = BTreeMap::new();
        for t in targets {
            if let Target::Membership { group_id, .. } = t {
                *events.entry(group_id).or_default() += 1;
            }
        }
        let mut listed = BTreeSet::new();
        for (gid, n) in events {
            if n < MEMBER_LIST_FROM as u64 {
                continue;
            }
            let pages = (self.store.member_count(gid)? + n) / MEMBERS_PER_PAGE + 1;
            if pages < n {
                listed.insert(gid.clone());
            }
        }
        Ok(listed)
    }

    /// Completes reads of objects new to the mirror: a new user's groups, a new group's
    /// members, and any group a user belongs to that the mirror does not know yet.
    async fn read_new_objects(
        &self,
        source: &dyn Source,
        reads: &mut Reads,
    ) -> Result<(), StepError> {
        let mut new_users = Vec::new();
        for (id, v) in &reads.users {
            if v.is_some()
                && !reads.user_groups.contains_key(id)
                && self.store.person(id)?.is_none()
            {
                new_users.push(id.clone());
            }
        }
        let lists = self
            .each(
                new_users,
                |id| async move { source.user_group_ids(&id).await },
            )
            .await?;
        for (id, gids) in lists {
            match gids {
                Some(gids) => {
                    reads.user_groups.insert(id, gids);
                }
                None => {
                    reads.users.insert(id, None);
                }
            }
        }
        let mut new_groups: BTreeSet<String> = BTreeSet::new();
        for (id, v) in &reads.groups {
            if v.is_some()
                && !reads.group_members.contains_key(id)
                && self.store.group(id)?.is_none()
            {
                new_groups.insert(id.clone());
            }
        }
        for gids in reads.user_groups.values() {
            for gid in gids {
                if !reads.groups.contains_key(gid) && self.store.group(gid)?.is_none() {
                    new_groups.insert(gid.clone());
                }
            }
        }
        for gid in new_groups {
            let group = match reads.groups.get(&gid) {
                Some(g) => g.clone(),
                None => source.group(&gid).await?,
            };
            let group = match group {
                Some(g) => match source.group_member_ids(&gid).await? {
                    Some(members) => {
                        reads.group_members.insert(gid.clone(), members);
                        Some(g)
                    }
                    // Deleted between the two reads.
                    None => None,
                },
                None => None,
            };
            reads.groups.insert(gid, group);
        }
        self.read_touched_groups(source, reads).await
    }

    /// Re-reads every group whose membership this step changes: Okta moves a group's
    /// `lastMembershipUpdated` with each change, including the ones it logs no event for (a
    /// deleted user leaving their groups, a new user joining Everyone).
    async fn read_touched_groups(
        &self,
        source: &dyn Source,
        reads: &mut Reads,
    ) -> Result<(), StepError> {
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (uid, v) in &reads.users {
            if v.is_none() {
                touched.extend(self.store.group_ids_of(uid)?);
            }
        }
        for (uid, gids) in &reads.user_groups {
            let current: BTreeSet<String> = self.store.group_ids_of(uid)?.into_iter().collect();
            let wanted: BTreeSet<String> = gids.iter().cloned().collect();
            touched.extend(current.symmetric_difference(&wanted).cloned());
        }
        touched.retain(|g| !reads.groups.contains_key(g));
        let got = self
            .each(touched, |gid| async move { source.group(&gid).await })
            .await?;
        reads.groups.extend(got);
        Ok(())
    }

    /// `read(id)` for every id, concurrently within the configured concurrency, each result
    /// paired with its id.
    async fn each<T, F, Fut>(
        &self,
        ids: impl IntoIterator<Item = String>,
        read: F,
    ) -> Result<Vec<(String, T)>, SourceError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, SourceError>>,
    {
        futures::stream::iter(ids)
            .map(|id| {
                let fut = read(id.clone());
                async move { Ok::<_, SourceError>((id, fut.await?)) }
            })
            .buffer_unordered(self.cfg.concurrency.max(1))
            .try_collect()
            .await
    }

    fn load_people(&mut self) -> Result<&mut HashMap<String, managers::Known>, StoreError> {
        if self.people.is_none() {
            let mut all = HashMap::new();
            for p in self.store.people_after(None) {
                let p = p?;
                all.insert(p.id.clone(), managers::Known::of(&p));
            }
            self.people = Some(all);
        }
        match self.people.as_mut() {
            Some(p) => Ok(p),
            None => Err(StoreError::Internal("people cache".into())),
        }
    }

    /// Turns reads into operations (with managers resolved) and applies them in one
    /// transaction with the position, the handled event ids and the run record.
    fn commit(
        &mut self,
        reads: Reads,
        run: &mut Counter,
        source: &dyn Source,
        position: Position,
        events_seen: Vec<String>,
    ) -> Result<SyncRun, StepError> {
        let result = self.commit_inner(reads, run, source, position, events_seen);
        if result.is_err() {
            self.invalidate();
        }
        result
    }

    /// The phases of `commit`: people (with managers resolved), groups, memberships, then one
    /// transaction holding them with the position, the handled events and the run record.
    fn commit_inner(
        &mut self,
        mut reads: Reads,
        run: &mut Counter,
        source: &dyn Source,
        position: Position,
        events_seen: Vec<String>,
    ) -> Result<SyncRun, StepError> {
        let store = self.store.clone();
        let mgr_cfg = self.cfg.managers.clone();
        let mut warnings = std::mem::take(&mut reads.warnings);

        let (mut puts, gone_people) =
            person_changes(&reads, &self.cfg.attribute_map, &mut warnings);
        for (id, (p, _)) in puts.iter_mut() {
            p.outside_scope = reads.outside.contains(id);
        }
        let people = self.load_people()?;
        let report = if update_people(people, &puts, &gone_people) {
            let resolution = managers::resolve(people.values().map(|k| &k.inputs), &mgr_cfg);
            rewrite_moved_managers(&store, people, &resolution, &mut puts)?;
            warnings.extend(manager_warnings(&reads, &resolution.report));
            Some(resolution.report)
        } else {
            None
        };
        let mut ops = person_ops(people, puts);
        let mut deletes: Vec<Op> = gone_people
            .iter()
            .map(|id| Op::DeletePerson { id: id.clone() })
            .collect();
        let groups = group_changes(&reads, &mut ops, &mut deletes, &mut warnings);
        let exists = Exists {
            store: &store,
            people,
            gone_people: &gone_people,
            groups: &groups,
        };
        membership_ops(&store, &reads, &exists, &mut ops)?;
        ops.extend(deletes);

        run.run.warnings.extend(warnings);
        record_step(
            &store,
            run,
            source,
            &position,
            report.as_ref(),
            events_seen,
            &ops,
        )
    }
}

/// New person records (with their raw JSON) and the ids of people gone, from the reads;
/// users whose JSON is unreadable are skipped with a warning.
fn person_changes(
    reads: &Reads,
    map: &AttributeMap,
    warnings: &mut Vec<String>,
) -> (BTreeMap<String, (Person, RawJson)>, HashSet<String>) {
    let mut puts: BTreeMap<String, (Person, RawJson)> = BTreeMap::new();
    let mut gone_people: HashSet<String> = HashSet::new();
    for (id, v) in &reads.users {
        match v {
            Some(raw) => match Person::from_okta(raw, map) {
                Ok(p) => {
                    puts.insert(id.clone(), (p, stable_raw(raw)));
                }
                Err(e) => warnings.push(format!("skipped user {id}: {e}")),
            },
            None => {
                gone_people.insert(id.clone());
            }
        }
    }
    (puts, gone_people)
}

/// The JSON the store keeps of an object: as Okta sent it, less its volatile fields, so a
/// re-read of an unchanged object compares equal (the full crawl strips the same fields).
pub(super) fn stable_raw(raw: &Value) -> RawJson {
    let mut raw = raw.clone();
    strip_volatile(&mut raw);
    RawJson::from(&raw)
}

/// Brings the in-memory people up to date (keeping each one's current manager for now) and
/// says whether manager resolution must run again: only when something it reads changed.
pub(super) fn update_people(
    people: &mut HashMap<String, managers::Known>,
    puts: &BTreeMap<String, (Person, RawJson)>,
    gone_people: &HashSet<String>,
) -> bool {
    let mut relevant = false;
    for id in gone_people {
        relevant |= people.remove(id).is_some();
    }
    for (id, (p, _)) in puts {
        let inputs = managers::Inputs::of(p);
        let manager_id = match people.get(id) {
            Some(old) => {
                relevant |= !old.inputs.resolves_like(&inputs);
                old.manager_id.clone()
            }
            None => {
                relevant = true;
                p.manager_id.clone()
            }
        };
        people.insert(id.clone(), managers::Known { inputs, manager_id });
    }
    relevant
}

/// Applies a resolution to the in-memory people; anyone not already written by this step whose
/// manager moved gets a put too (their stored record and raw JSON, with the new manager), so
/// the result equals a full crawl's.
pub(super) fn rewrite_moved_managers(
    store: &Store,
    people: &mut HashMap<String, managers::Known>,
    resolution: &managers::Resolution,
    puts: &mut BTreeMap<String, (Person, RawJson)>,
) -> Result<(), StoreError> {
    for (id, known) in people.iter_mut() {
        let resolved = resolution.managers.get(id).cloned();
        if known.manager_id == resolved {
            continue;
        }
        known.manager_id = resolved;
        if !puts.contains_key(id) {
            // Someone else's manager moved: rewrite their record (raw unchanged).
            let (Some(mut person), Some(raw)) = (store.person(id)?, store.person_raw(id)?) else {
                continue;
            };
            person.manager_id = known.manager_id.clone();
            puts.insert(id.clone(), (person, RawJson::from(&raw)));
        }
    }
    Ok(())
}

/// Warnings about manager data, only for the people this step read (the rest were reported
/// when they were read).
fn manager_warnings(reads: &Reads, report: &ManagerReport) -> Vec<String> {
    let mut warnings = Vec::new();
    for (id, value) in &report.unresolved {
        if reads.users.contains_key(id) {
            warnings.push(format!(
                "user {id}'s manager reference \"{value}\" matches nobody"
            ));
        }
    }
    for cycle in &report.cycles {
        if cycle.iter().any(|id| reads.users.contains_key(id)) {
            warnings.push(format!(
                "manager cycle {}: broken by treating {} as a root",
                cycle.join(" → "),
                cycle[0]
            ));
        }
    }
    warnings
}

/// The person puts, each with the manager the in-memory people now hold.
pub(super) fn person_ops(
    people: &HashMap<String, managers::Known>,
    puts: BTreeMap<String, (Person, RawJson)>,
) -> Vec<Op> {
    puts.into_iter()
        .map(|(id, (mut p, raw))| {
            p.manager_id = people.get(&id).and_then(|c| c.manager_id.clone());
            Op::PutPerson {
                person: Box::new(p),
                raw,
            }
        })
        .collect()
}

/// The groups a step writes and removes.
struct GroupChanges {
    gone: HashSet<String>,
    put: HashSet<String>,
}

/// Adds the group puts to `ops` and the group removals to `deletes` (applied last); groups
/// whose JSON is unreadable are skipped with a warning.
fn group_changes(
    reads: &Reads,
    ops: &mut Vec<Op>,
    deletes: &mut Vec<Op>,
    warnings: &mut Vec<String>,
) -> GroupChanges {
    let mut changes = GroupChanges {
        gone: HashSet::new(),
        put: HashSet::new(),
    };
    for (id, v) in &reads.groups {
        match v {
            Some(raw) => match Group::from_okta(raw) {
                Ok(group) => {
                    changes.put.insert(id.clone());
                    ops.push(Op::PutGroup {
                        group,
                        raw: stable_raw(raw),
                    });
                }
                Err(e) => warnings.push(format!("skipped group {id}: {e}")),
            },
            None => {
                changes.gone.insert(id.clone());
                deletes.push(Op::DeleteGroup { id: id.clone() });
            }
        }
    }
    changes
}

/// What exists once this step is applied: a membership is kept only when both ends do.
struct Exists<'a> {
    store: &'a Store,
    people: &'a HashMap<String, managers::Known>,
    gone_people: &'a HashSet<String>,
    groups: &'a GroupChanges,
}

impl Exists<'_> {
    fn person(&self, id: &str) -> bool {
        !self.gone_people.contains(id) && self.people.contains_key(id)
    }

    fn group(&self, id: &str) -> Result<bool, StoreError> {
        Ok(!self.groups.gone.contains(id)
            && (self.groups.put.contains(id) || self.store.group(id)?.is_some()))
    }
}

/// Memberships: the complete lists read (a user's groups, a group's members), diffed against
/// the store, keeping only pairs whose both ends exist after this step.
fn membership_ops(
    store: &Store,
    reads: &Reads,
    exists: &Exists<'_>,
    ops: &mut Vec<Op>,
) -> Result<(), StoreError> {
    for (uid, gids) in &reads.user_groups {
        if !exists.person(uid) {
            continue;
        }
        let current = store.group_ids_of(uid)?;
        let mut wanted = Vec::new();
        for g in gids {
            if exists.group(g)? {
                wanted.push(g.clone());
            }
        }
        wanted.sort();
        wanted.dedup();
        for (gid, add) in sorted_diff(&current, &wanted) {
            ops.push(membership_op(gid, uid, add));
        }
    }
    for (gid, members) in &reads.group_members {
        if !exists.group(gid)? {
            continue;
        }
        let current = store
            .member_ids_after(gid, None)
            .collect::<Result<Vec<_>, _>>()?;
        let mut wanted: Vec<String> = members
            .iter()
            .filter(|u| exists.person(u))
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        for (uid, add) in sorted_diff(&current, &wanted) {
            ops.push(membership_op(gid, uid, add));
        }
    }
    Ok(())
}

/// Applies the step's operations in one transaction with its position, manager report,
/// handled event ids and run record, so a crash keeps all of them or none.
fn record_step(
    store: &Store,
    run: &mut Counter,
    source: &dyn Source,
    position: &Position,
    report: Option<&ManagerReport>,
    events_seen: Vec<String>,
    ops: &[Op],
) -> Result<SyncRun, StepError> {
    let mut meta_entries: Vec<(&str, Vec<u8>)> = Vec::new();
    match position {
        Position::Unchanged => {}
        Position::Log(next) => meta_entries.push((meta::LOG_CURSOR, encode(next)?)),
        Position::Sweep(at) => meta_entries.push((meta::SWEEP_MARK, encode(at)?)),
    }
    if let Some(report) = report {
        meta_entries.push((meta::MANAGER_REPORT, encode(report)?));
    }
    let record = run.finish(source, events_seen.is_empty() && ops.is_empty());
    let (_, recorded) = store.apply_batch(Batch {
        ops,
        meta: meta_entries,
        events_seen,
        run: record.clone(),
    })?;
    Ok(recorded.unwrap_or_else(|| run.run.clone()))
}

/// Every object of every page, keyed by its id (objects without one are skipped).
async fn by_id(
    mut pages: futures::stream::BoxStream<'_, Result<Vec<Value>, SourceError>>,
) -> Result<Vec<(String, Value)>, SourceError> {
    let mut out = Vec::new();
    while let Some(page) = pages.try_next().await? {
        for v in page {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                out.push((id.to_owned(), v));
            }
        }
    }
    Ok(out)
}

/// A meta value as JSON, with the store's error type.
fn encode<V: serde::Serialize>(v: &V) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Internal(format!("encoding meta: {e}")))
}

/// A run being counted, with the source's counters at its start.
struct Counter {
    run: SyncRun,
    usage: Usage,
}

impl Counter {
    fn start(kind: RunKind, source: &dyn Source) -> Counter {
        Counter {
            run: SyncRun::start(kind),
            usage: Usage::now(source),
        }
    }

    fn count(&mut self, source: &dyn Source) {
        self.usage.record(source, &mut self.run);
    }

    /// The record to store with the batch; `None` for a step that changed and handled nothing
    /// (an empty sweep or a page of irrelevant events is not worth a history entry).
    fn finish(&mut self, source: &dyn Source, nothing: bool) -> Option<SyncRun> {
        self.count(source);
        self.run.ok = true;
        let quiet = nothing && self.run.warnings.is_empty();
        (!quiet).then(|| self.run.clone())
    }

    /// Records a failed step (nothing was applied) and returns it.
    fn fail(mut self, source: &dyn Source, store: &Store, e: StepError) -> SyncRun {
        self.count(source);
        self.run.ok = false;
        self.run.error = Some(e.to_string());
        tracing::warn!(kind = ?self.run.kind, "incremental sync step failed: {e}");
        match store.apply_batch(Batch {
            run: Some(self.run.clone()),
            ..Batch::default()
        }) {
            Ok((_, Some(recorded))) => recorded,
            Ok((_, None)) => self.run,
            Err(e) => {
                tracing::error!("could not record the failed run: {e}");
                self.run
            }
        }
    }
}
