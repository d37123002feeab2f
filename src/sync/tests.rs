//! Engine tests over a scripted in-memory `Source`: what a live org does to a crawl or a tail
//! (objects vanishing mid-crawl, objects the token may not read).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Value, json};

use super::*;
use crate::model::RunKind;
use crate::store::Store;

/// What one object read answers.
#[derive(Clone)]
pub enum Answer<T> {
    Ok(T),
    /// 404: the object is gone.
    Gone,
    /// A failure of this object alone (a 403 from a scoped admin role, a 400).
    Refused,
    /// A failure of the source as a whole (Okta down, a revoked token).
    Down,
}

/// An org held in memory; each read answers from it, or as scripted per id.
#[derive(Default)]
pub struct Fake {
    pub users: Mutex<BTreeMap<String, Value>>,
    pub groups: Mutex<BTreeMap<String, Value>>,
    pub members: Mutex<BTreeMap<String, Answer<Vec<String>>>>,
    /// Scripted answers of `user(id)`, overriding `users`.
    pub user_reads: Mutex<HashMap<String, Answer<Value>>>,
    /// When set, every list fails (a revoked token, Okta down).
    pub lists_fail: std::sync::atomic::AtomicBool,
    /// Requests as Okta would count them: one per object read or list page (member lists in
    /// pages of 200, as Okta serves them).
    pub requests: AtomicU64,
    /// The page every log read answers (an empty one when unset); after 5 reads it fails, so
    /// a tail that would read for ever stops.
    pub log: Mutex<Option<LogPage>>,
    pub log_reads: AtomicU64,
}

pub fn user(id: &str) -> Value {
    json!({"id": id, "status": "ACTIVE", "lastUpdated": "2025-01-01T00:00:00.000Z",
        "lastLogin": "2025-01-02T00:00:00.000Z",
        "_links": {"self": {"href": format!("https://x.okta.com/api/v1/users/{id}")}},
        "profile": {"login": format!("{id}@x.com"), "email": format!("{id}@x.com")}})
}

pub fn group(id: &str) -> Value {
    json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": format!("group {id}")}})
}

impl Fake {
    /// `users` people and `groups` groups, every person in every group.
    pub fn org(users: &[&str], groups: &[&str]) -> Fake {
        let f = Fake::default();
        for u in users {
            f.put_user(user(u));
        }
        for g in groups {
            lock(&f.groups).insert(g.to_string(), group(g));
            let ids = users.iter().map(|u| u.to_string()).collect();
            lock(&f.members).insert(g.to_string(), Answer::Ok(ids));
        }
        f
    }

    pub fn put_user(&self, v: Value) {
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        lock(&self.users).insert(id, v);
    }

    fn list(&self, items: Vec<Value>) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if self.lists_fail.load(Ordering::Relaxed) {
            return stream::iter([Err(SourceError::new("Okta is down"))]).boxed();
        }
        stream::iter([Ok(items)]).boxed()
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn refused(what: &str) -> SourceError {
    SourceError {
        message: format!("Okta refused {what} (E0000006)"),
        config: true,
        object: true,
    }
}

impl Source for Fake {
    fn users(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let all = lock(&self.users).values().cloned().collect();
        self.list(all)
    }

    fn groups(&self) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let all = lock(&self.groups).values().cloned().collect();
        self.list(all)
    }

    fn group_member_ids<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, SourceError>> {
        let answer = lock(&self.members).get(group_id).cloned();
        let pages = match &answer {
            Some(Answer::Ok(ids)) => ids.len().div_ceil(200).max(1),
            _ => 1,
        };
        self.requests.fetch_add(pages as u64, Ordering::Relaxed);
        Box::pin(async move {
            match answer {
                Some(Answer::Ok(ids)) => Ok(Some(ids)),
                Some(Answer::Gone) | None => Ok(None),
                Some(Answer::Refused) => Err(refused(group_id)),
                Some(Answer::Down) => Err(SourceError::new("Okta is down")),
            }
        })
    }

    fn group_members<'a>(
        &'a self,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<Value>>, SourceError>> {
        Box::pin(async move {
            let Some(ids) = self.group_member_ids(group_id).await? else {
                return Ok(None);
            };
            let users = lock(&self.users);
            Ok(Some(
                ids.iter().filter_map(|id| users.get(id).cloned()).collect(),
            ))
        })
    }

    fn user_types(
        &self,
    ) -> BoxFuture<'_, Result<Option<Vec<crate::model::UserType>>, SourceError>> {
        Box::pin(async { Ok(Some(Vec::new())) })
    }

    fn users_by_keys<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Value>, SourceError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let found = lock(&self.users)
            .values()
            .filter(|u| {
                let p = &u["profile"];
                [&u["id"], &p["login"], &p["email"], &p["employeeNumber"]]
                    .iter()
                    .any(|v| v.as_str().is_some_and(|v| keys.iter().any(|k| k == v)))
            })
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }

    fn matching_people_filter<'a>(
        &'a self,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, SourceError>> {
        Box::pin(async move { Ok(ids.iter().cloned().collect()) })
    }

    fn user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Value>, SourceError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let scripted = lock(&self.user_reads).get(id).cloned();
        let stored = lock(&self.users).get(id).cloned();
        Box::pin(async move {
            match scripted {
                Some(Answer::Ok(v)) => Ok(Some(v)),
                Some(Answer::Gone) => Ok(None),
                Some(Answer::Refused) => Err(refused(id)),
                Some(Answer::Down) => Err(SourceError::new("Okta is down")),
                None => Ok(stored),
            }
        })
    }

    fn group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Value>, SourceError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let g = lock(&self.groups).get(id).cloned();
        Box::pin(async move { Ok(g) })
    }

    fn user_group_ids<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, SourceError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let exists = lock(&self.users).contains_key(user_id);
        let gids: Vec<String> = lock(&self.members)
            .iter()
            .filter(|(_, m)| matches!(m, Answer::Ok(ids) if ids.iter().any(|u| u == user_id)))
            .map(|(g, _)| g.clone())
            .collect();
        Box::pin(async move { Ok(exists.then_some(gids)) })
    }

    fn log_start(&self, _since: DateTime<Utc>) -> String {
        "log:0".into()
    }

    fn log_page<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<LogPage, SourceError>> {
        let reads = self.log_reads.fetch_add(1, Ordering::Relaxed) + 1;
        let page = lock(&self.log).clone();
        Box::pin(async move {
            if reads > 5 {
                return Err(SourceError::new("read the log too often"));
            }
            Ok(page.unwrap_or_else(|| LogPage {
                events: Vec::new(),
                read: 0,
                next: cursor.to_owned(),
            }))
        })
    }

    fn users_changed_since(
        &self,
        _since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        self.list(Vec::new())
    }

    fn groups_changed_since(
        &self,
        _since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        self.list(Vec::new())
    }

    fn groups_with_members_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> BoxStream<'_, Result<Vec<Value>, SourceError>> {
        let changed = lock(&self.groups)
            .values()
            .filter(|g| {
                g["lastMembershipUpdated"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    .is_some_and(|t| t > since)
            })
            .cloned()
            .collect();
        self.list(changed)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn retries(&self) -> u64 {
        0
    }

    fn rate_limited(&self) -> u64 {
        0
    }
}

pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open the store");
    (dir, store)
}

#[tokio::test]
async fn a_group_deleted_during_the_crawl_is_left_out_not_fatal() {
    let (_dir, store) = store();
    // Eleven groups: removing one stays under the 10 % deletion safety share.
    let groups = [
        "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "ga", "gb",
    ];
    let fake = Fake::org(&["u1", "u2"], &groups);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);
    assert!(store.group("g2").expect("read").is_some());

    // g2 is listed, then deleted before its member list is read: Okta answers 404.
    lock(&fake.members).insert("g2".into(), Answer::Gone);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(
        run.ok,
        "a vanished group must not fail the crawl: {:?}",
        run.error
    );
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("g2") && w.contains("deleted")),
        "the run says which group vanished: {:?}",
        run.warnings
    );
    assert!(store.group("g2").expect("read").is_none(), "g2 is removed");
    assert!(
        !store
            .group_ids_of("u1")
            .expect("read")
            .contains(&"g2".to_string())
    );
    assert_eq!(run.groups_fetched, 10);
}

fn event(uuid: &str, targets: Vec<Target>) -> Event {
    Event {
        uuid: uuid.into(),
        published: None,
        targets,
    }
}

#[tokio::test]
async fn an_object_okta_keeps_refusing_is_skipped_after_a_few_attempts() {
    let (_dir, store) = store();
    let groups = ["g1"];
    let fake = Fake::org(&["u1", "u2", "u3"], &groups);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);

    // u3 falls out of the token's admin scope: every read of it is a 403.
    lock(&fake.user_reads).insert("u3".into(), Answer::Refused);
    let mut renamed = user("u1");
    renamed["profile"]["title"] = "Boss".into();
    fake.put_user(renamed);
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    let page = [event(
        "e1",
        vec![Target::User("u1".into()), Target::User("u3".into())],
    )];
    let mut runs = Vec::new();
    for n in 0..3 {
        let run = engine
            .apply_events(
                &fake,
                &page,
                RunKind::Tail,
                Position::Log(format!("log:{n}")),
            )
            .await
            .expect("a recorded step");
        runs.push(run);
    }
    assert!(
        !runs[0].ok && !runs[1].ok,
        "the first attempts fail the page"
    );
    let last = &runs[2];
    assert!(last.ok, "then u3 is skipped: {:?}", last.error);
    assert!(
        last.warnings
            .iter()
            .any(|w| w.contains("user u3") && w.contains("skipped")),
        "{:?}",
        last.warnings
    );
    let u1 = store.person("u1").expect("read").expect("u1");
    assert_eq!(
        u1.title.as_deref(),
        Some("Boss"),
        "the rest of the page applied"
    );
    assert!(
        store.person("u3").expect("read").is_some(),
        "u3 is kept as it was"
    );
}

#[tokio::test]
async fn a_failure_that_is_not_one_objects_is_never_skipped() {
    let (_dir, store) = store();
    let fake = Fake::org(&["u1"], &["g1"]);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    lock(&fake.user_reads).insert("u1".into(), Answer::Down);
    let page = [event("e1", vec![Target::User("u1".into())])];
    for n in 0..5 {
        let run = engine
            .apply_events(
                &fake,
                &page,
                RunKind::Tail,
                Position::Log(format!("log:{n}")),
            )
            .await
            .expect("a recorded step");
        assert!(
            !run.ok,
            "attempt {n}: Okta being down is retried, not skipped"
        );
    }
}

#[tokio::test]
async fn re_syncing_an_org_whose_volatile_fields_moved_writes_nothing() {
    let (_dir, store) = store();
    let fake = Fake::org(&["u1", "u2"], &["g1"]);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);
    let seq = store.last_seq().expect("seq");
    assert!(
        store
            .person_raw("u1")
            .expect("read")
            .expect("u1")
            .get("_links")
            .is_none(),
        "volatile fields are not stored"
    );

    // u1 signs in, and a single GET of u2 carries more links than the list did.
    let mut u1 = user("u1");
    u1["lastLogin"] = "2025-06-01T00:00:00.000Z".into();
    fake.put_user(u1);
    let mut u2 = user("u2");
    u2["_links"]["deactivate"] = serde_json::json!({"href": "https://x.okta.com/lifecycle"});
    u2["credentials"] = serde_json::json!({"provider": {"type": "OKTA", "name": "OKTA"}});
    lock(&fake.user_reads).insert("u2".into(), Answer::Ok(u2));
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(
        run.changes.total(),
        0,
        "a reconcile of an unchanged org changes nothing"
    );
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    let page = [event(
        "e1",
        vec![Target::User("u1".into()), Target::User("u2".into())],
    )];
    let run = engine
        .apply_events(&fake, &page, RunKind::Tail, Position::Log("log:1".into()))
        .await
        .expect("a recorded step");
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(
        run.changes.total(),
        0,
        "re-reads of unchanged people change nothing"
    );
    assert_eq!(store.last_seq().expect("seq"), seq, "no change-log entries");
}

#[tokio::test]
async fn a_membership_event_re_reads_its_group_even_when_the_membership_is_already_held() {
    let (_dir, store) = store();
    let fake = Fake::org(&["u1", "u2"], &["g1"]);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);

    // u2 joined g1 long ago in the store's eyes (an earlier step read u2's groups just after
    // the change), but g1 was read just before it: only the membership event is left to tell.
    let mut g1 = group("g1");
    g1["lastMembershipUpdated"] = "2026-12-01T16:49:57.318Z".into();
    lock(&fake.groups).insert("g1".into(), g1);
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    let page = [event(
        "e1",
        vec![Target::Membership {
            user_id: "u2".into(),
            group_id: "g1".into(),
        }],
    )];
    let run = engine
        .apply_events(&fake, &page, RunKind::Tail, Position::Log("log:1".into()))
        .await
        .expect("a recorded step");
    assert!(run.ok, "{:?}", run.error);
    let held = store.group("g1").expect("read").expect("g1");
    assert_eq!(
        held.last_membership_updated.map(|t| t.to_rfc3339()),
        Some("2026-12-01T16:49:57.318+00:00".to_string()),
        "the group is re-read"
    );
}

/// A group rule adds hundreds of people to one group: one step of their membership events
/// reads the group's member list (a few pages) instead of each user's groups, and the mirror
/// still ends exact: every new membership, and a user's other groups untouched.
#[tokio::test]
async fn many_membership_events_of_one_group_read_its_member_list_once() {
    let (_dir, store) = store();
    let ids: Vec<String> = (0..450).map(|n| format!("u{n:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let fake = Fake::org(&refs, &["g1"]);
    lock(&fake.groups).insert("g2".into(), group("g2"));
    lock(&fake.members).insert("g2".into(), Answer::Ok(Vec::new()));
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);

    // The rule adds 400 of them to g2 (and u449 leaves g1 at the same time, one event).
    let joined: Vec<String> = ids[..400].to_vec();
    lock(&fake.members).insert("g2".into(), Answer::Ok(joined.clone()));
    let g1: Vec<String> = ids[..449].to_vec();
    lock(&fake.members).insert("g1".into(), Answer::Ok(g1.clone()));
    let mut page: Vec<Event> = joined
        .iter()
        .map(|u| {
            event(
                &format!("add {u}"),
                vec![Target::Membership {
                    user_id: u.clone(),
                    group_id: "g2".into(),
                }],
            )
        })
        .collect();
    page.push(event(
        "remove u449",
        vec![Target::Membership {
            user_id: "u449".into(),
            group_id: "g1".into(),
        }],
    ));
    let before = fake.requests.load(Ordering::Relaxed);
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    let run = engine
        .apply_events(&fake, &page, RunKind::Tail, Position::Log("log:1".into()))
        .await
        .expect("a recorded step");
    assert!(run.ok, "{:?}", run.error);
    let requests = fake.requests.load(Ordering::Relaxed) - before;
    // g2 and its 2 pages; u449's groups and g1.
    assert!(
        requests <= 5,
        "{requests} requests for 401 membership events (one per user was 400+)"
    );
    let held: Vec<String> = store
        .member_ids_after("g2", None)
        .collect::<Result<_, _>>()
        .expect("members");
    assert_eq!(held, joined, "every new member of g2");
    let held: Vec<String> = store
        .member_ids_after("g1", None)
        .collect::<Result<_, _>>()
        .expect("members");
    assert_eq!(held, g1, "u449 left g1, everyone else stayed");
    assert_eq!(
        store.group_ids_of("u000").expect("read"),
        vec!["g1".to_string(), "g2".to_string()]
    );
}

/// Two events on a big group stay per-user: its member list would cost more.
#[tokio::test]
async fn a_few_events_on_a_big_group_read_the_users_groups() {
    let (_dir, store) = store();
    let ids: Vec<String> = (0..1000).map(|n| format!("u{n:04}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let fake = Fake::org(&refs, &["g1"]);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);
    let stayed: Vec<String> = ids[3..].to_vec();
    lock(&fake.members).insert("g1".into(), Answer::Ok(stayed.clone()));
    let page: Vec<Event> = ids[..3]
        .iter()
        .map(|u| {
            event(
                &format!("remove {u}"),
                vec![Target::Membership {
                    user_id: u.clone(),
                    group_id: "g1".into(),
                }],
            )
        })
        .collect();
    let before = fake.requests.load(Ordering::Relaxed);
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    let run = engine
        .apply_events(&fake, &page, RunKind::Tail, Position::Log("log:1".into()))
        .await
        .expect("a recorded step");
    assert!(run.ok, "{:?}", run.error);
    let requests = fake.requests.load(Ordering::Relaxed) - before;
    assert_eq!(
        requests, 4,
        "three users' groups and the group: not 5 member pages"
    );
    let held: Vec<String> = store
        .member_ids_after("g1", None)
        .collect::<Result<_, _>>()
        .expect("members");
    assert_eq!(held, stayed);
}

/// u1 was deleted while a crawl ran: the crawl read g1 just before (its old
/// `lastMembershipUpdated`) and g1's members just after (u1 already gone), so the mirror holds
/// no membership of u1 to say g1 changed. The deletion's step still brings g1's stamp up.
#[tokio::test]
async fn a_deleted_users_groups_are_re_read_even_when_the_mirror_no_longer_holds_them() {
    let (_dir, store) = store();
    let fake = Fake::org(&["u1", "u2"], &["g1", "g2"]);
    lock(&fake.members).insert("g1".into(), Answer::Ok(vec!["u2".into()]));
    lock(&fake.members).insert("g2".into(), Answer::Ok(vec!["u2".into()]));
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);

    lock(&fake.users).remove("u1");
    let mut g1 = group("g1");
    g1["lastMembershipUpdated"] = "2026-12-01T10:00:00.000Z".into();
    lock(&fake.groups).insert("g1".into(), g1);
    let deleted = Event {
        uuid: "e1".into(),
        published: "2026-12-01T10:00:00.000Z".parse().ok(),
        targets: vec![Target::User("u1".into())],
    };
    let mut engine = Incremental::new(store.clone(), SyncConfig::default());
    let run = engine
        .apply_events(
            &fake,
            &[deleted],
            RunKind::Tail,
            Position::Log("log:1".into()),
        )
        .await
        .expect("a recorded step");
    assert!(run.ok, "{:?}", run.error);
    assert!(store.person("u1").expect("read").is_none());
    let g1 = store.group("g1").expect("read").expect("g1");
    assert_eq!(
        g1.last_membership_updated.map(|t| t.to_rfc3339()),
        Some("2026-12-01T10:00:00+00:00".to_string()),
        "g1's stamp moved with u1's deletion"
    );
}

/// A store marked as holding an interrupted initial load is emptied when it opens (it held
/// nothing before the load), and the next crawl loads it whole.
#[tokio::test]
async fn an_interrupted_initial_load_is_emptied_on_open_and_loaded_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Enough people that the interrupted load had written many leaf pages (`append.rs`).
    let ids: Vec<String> = (0..600).map(|i| format!("u{i:03}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let fake = Fake::org(&names, &["g1", "g2"]);
    {
        let store = Store::open(dir.path()).expect("open");
        let load = store
            .begin_initial_load()
            .expect("begin")
            .expect("an empty store loads");
        let people: Vec<(crate::model::Person, Vec<u8>)> = ids[..500]
            .iter()
            .map(|id| {
                let raw = user(id);
                let p = crate::model::Person::from_okta(&raw, &Default::default()).expect("p");
                (p, serde_json::to_vec(&raw).expect("raw"))
            })
            .collect();
        let status = people
            .iter()
            .map(|(p, _)| (p.id.clone(), p.status))
            .collect();
        let mut sides = load.sides(status).expect("sides");
        for (p, raw) in people {
            sides.raw.push(&p.id, &raw).expect("raw");
            sides.people.people(&[p]).expect("people");
        }
        sides.members.members("g1", &ids[..500]).expect("members");
        store.flush().expect("flush");
        assert!(store.initial_load_pending().expect("mark"));
        // Dropped without finish or abandon: what a kill leaves.
    }
    let store = Store::open(dir.path()).expect("reopen");
    assert!(store.recovered_initial_load(), "the mark was on disk");
    assert!(!store.initial_load_pending().expect("mark"));
    assert_eq!(store.person_ids().count(), 0, "emptied");
    assert_eq!(store.contents().expect("contents")["members"].len(), 0);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(run.ok, "{:?}", run.error);
    assert_eq!(store.people_count().expect("count"), 600);
    assert_eq!(store.membership_count().expect("count"), 1200);
    assert_eq!(store.person_ids().count(), 600);
    assert_eq!(store.audit_counts().expect("audit"), Vec::<String>::new());
}

/// Records, at `Applying`, whether the crawl's staging database was on disk.
struct SeesStaging {
    dir: std::path::PathBuf,
    seen: std::sync::atomic::AtomicBool,
}

impl Progress for SeesStaging {
    fn event(&self, e: ProgressEvent) {
        if matches!(e, ProgressEvent::Applying) && self.dir.join("staging").join("db").exists() {
            self.seen.store(true, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
async fn a_crawl_stages_in_a_database_of_its_own_that_is_deleted_when_it_ends() {
    let (dir, store) = store();
    let staging = dir.path().join("staging");
    let users: Vec<String> = (0..300).map(|n| format!("u{n:03}")).collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let fake = Fake::org(&users, &["g1", "g2"]);
    let progress = SeesStaging {
        dir: dir.path().to_path_buf(),
        seen: Default::default(),
    };
    let run = run_full(&store, &fake, &SyncConfig::default(), &progress).await;
    assert!(run.ok, "{:?}", run.error);
    assert!(
        progress.seen.load(Ordering::Relaxed),
        "the crawl was staged in {}",
        staging.display()
    );
    assert!(!staging.exists(), "a finished crawl deletes its staging");
    assert_eq!(store.people_count().expect("count"), 300);
    let names: Vec<&str> = store
        .footprint()
        .expect("footprint")
        .iter()
        .map(|f| f.name)
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("stage_")),
        "nothing staged is left in the store: {names:?}"
    );

    // A crawl that fails (Okta down) leaves no staging either, and the mirror as it was.
    fake.lists_fail.store(true, Ordering::Relaxed);
    let run = run_full(&store, &fake, &SyncConfig::default(), &NoProgress).await;
    assert!(!run.ok);
    assert!(!staging.exists(), "a failed crawl deletes its staging");
    assert_eq!(store.people_count().expect("count"), 300);

    // Staging left by a process that died mid-crawl is removed when the store opens.
    drop(store);
    std::fs::create_dir_all(&staging).expect("mkdir");
    std::fs::write(staging.join("db"), b"left by a crash").expect("write");
    let store = Store::open(dir.path()).expect("reopen");
    assert!(!staging.exists(), "open removes a dead crawl's staging");
    assert_eq!(store.people_count().expect("count"), 300);
}
