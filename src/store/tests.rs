//! Store unit tests: indexes, change log, idempotent puts and deletes with their memberships.

use serde_json::json;

use super::*;
use crate::model::{ChangeOp, Entity, Group, Person};

fn person(id: &str, login: &str, manager: Option<&str>) -> (Person, serde_json::Value) {
    let raw = json!({"id": id, "status": "ACTIVE",
        "profile": {"login": login, "email": login, "employeeNumber": format!("E{id}")}});
    let mut p = Person::from_okta(&raw, &Default::default()).expect("valid");
    p.manager_id = manager.map(str::to_owned);
    (p, raw)
}

fn put(p: (Person, serde_json::Value)) -> Op {
    Op::PutPerson {
        person: Box::new(p.0),
        raw: (&p.1).into(),
    }
}

#[test]
fn puts_index_and_log_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let ops = vec![
        put(person("1", "Ana@X.com", None)),
        put(person("2", "bo@x.com", Some("1"))),
    ];
    let a = s.apply(&ops, &[]).expect("apply");
    assert_eq!(a.people_created, 2);
    assert_eq!(s.last_seq().expect("seq"), 2);
    // Re-applying the same data changes nothing.
    let a = s.apply(&ops, &[]).expect("apply");
    assert_eq!(a.total(), 0);
    assert_eq!(s.last_seq().expect("seq"), 2);
    assert_eq!(
        s.person_by_login("ana@x.COM").expect("get").map(|p| p.id),
        Some("1".into())
    );
    assert_eq!(
        s.person_by_email("BO@x.com").expect("get").map(|p| p.id),
        Some("2".into())
    );
    assert_eq!(
        s.person_by_employee_number("E2")
            .expect("get")
            .map(|p| p.id),
        Some("2".into())
    );
    assert_eq!(
        s.direct_report_ids("1").expect("reports"),
        vec!["2".to_string()]
    );
    assert_eq!(s.people_count().expect("count"), 2);
}

#[test]
fn manager_change_moves_report_and_delete_removes_memberships() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let graw = json!({"id":"g1","type":"OKTA_GROUP","profile":{"name":"Finance"}});
    let g = Group::from_okta(&graw).expect("group");
    s.apply(
        &[
            put(person("1", "a@x", None)),
            put(person("2", "b@x", Some("1"))),
            Op::PutGroup {
                group: g,
                raw: (&graw).into(),
            },
            Op::AddMember {
                group_id: "g1".into(),
                user_id: "2".into(),
            },
        ],
        &[],
    )
    .expect("apply");
    assert_eq!(s.member_count("g1").expect("count"), 1);
    assert_eq!(
        s.group_by_name("FINANCE").expect("g").map(|g| g.id),
        Some("g1".into())
    );
    s.apply(&[put(person("2", "b@x", None))], &[])
        .expect("apply");
    assert!(s.direct_report_ids("1").expect("reports").is_empty());
    s.apply(&[Op::DeletePerson { id: "2".into() }], &[])
        .expect("apply");
    assert_eq!(s.member_count("g1").expect("count"), 0);
    assert!(s.group_ids_of("2").expect("groups").is_empty());
    assert!(s.person_by_login("b@x").expect("get").is_none());
    let changes: Vec<_> = s.changes_after(0).collect::<Result<_>>().expect("changes");
    let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(
        seqs,
        (1..=changes.len() as u64).collect::<Vec<_>>(),
        "dense sequence"
    );
    // The delete and the membership removal it implies commit together, as two entries.
    let tail: Vec<_> = changes[changes.len() - 2..]
        .iter()
        .map(|c| (c.op, c.entity.clone()))
        .collect();
    assert_eq!(
        tail,
        vec![
            (ChangeOp::Delete, Entity::Person { id: "2".into() }),
            (
                ChangeOp::Upsert,
                Entity::Members {
                    group_id: "g1".into(),
                    added: vec![],
                    removed: vec!["2".into()]
                }
            ),
        ]
    );
}

#[test]
fn reopen_keeps_data_and_rejects_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = Store::open(dir.path()).expect("open");
        s.apply(&[put(person("1", "a@x", None))], &[])
            .expect("apply");
        s.flush().expect("flush");
    }
    let s = Store::open(dir.path()).expect("reopen");
    assert!(s.person("1").expect("get").is_some());
    s.tree(T::Meta)
        .insert(meta::SCHEMA, &keys::u64_be(SCHEMA_VERSION + 1))
        .expect("write");
    s.flush().expect("flush");
    drop(s);
    let err = Store::open(dir.path()).err().expect("too new");
    assert!(err.to_string().contains("newer oktamirror"), "{err}");
}

/// sled's settings file, as sled wrote it (its own record of how the store was created).
fn sled_settings(dir: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.join("conf")).expect("sled's conf")).into_owned()
}

#[test]
fn new_stores_are_compressed_and_uncompressed_ones_still_open() {
    let new = tempfile::tempdir().expect("tempdir");
    drop(Store::open(new.path()).expect("open"));
    assert!(
        sled_settings(new.path()).contains("use_compression: true"),
        "{}",
        sled_settings(new.path())
    );

    // A store created before compression was turned on: sled refuses to change the setting of
    // an existing store, so it must be opened as it was created, data and all.
    let old = tempfile::tempdir().expect("tempdir");
    {
        let db = sled_config(old.path(), &StoreOptions::default())
            .use_compression(false)
            .open()
            .expect("sled");
        db.flush().expect("flush");
    }
    {
        let s = Store::open(old.path()).expect("an uncompressed store opens");
        s.apply(&[put(person("1", "a@x", None))], &[])
            .expect("apply");
        s.flush().expect("flush");
    }
    let s = Store::open(old.path()).expect("reopen");
    assert!(s.person("1").expect("get").is_some());
    assert!(sled_settings(old.path()).contains("use_compression: false"));
}

#[test]
fn a_batch_commits_changes_cursor_event_ids_and_run_together() {
    use crate::model::{RunKind, SyncRun};
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let ops = vec![put(person("1", "a@x.com", None))];
    let (applied, run) = s
        .apply_batch(Batch {
            ops: &ops,
            meta: vec![(meta::LOG_CURSOR, b"\"https://o/next\"".to_vec())],
            events_seen: vec!["uuid-1".into()],
            run: Some(SyncRun::start(RunKind::Tail)),
        })
        .expect("apply");
    assert_eq!(applied.people_created, 1);
    let run = run.expect("recorded");
    assert_eq!((run.id, run.changes.people_created), (1, 1));
    assert_eq!(
        s.meta_json::<String>(meta::LOG_CURSOR).expect("meta"),
        Some("https://o/next".into())
    );
    assert!(s.event_seen("uuid-1").expect("seen"));
    assert!(!s.event_seen("uuid-2").expect("seen"));

    // A run without changes still gets the next id; the history is newest first.
    let (_, second) = s
        .apply_batch(Batch {
            run: Some(SyncRun::start(RunKind::Sweep)),
            ..Batch::default()
        })
        .expect("apply");
    assert_eq!(second.map(|r| r.id), Some(2));
    let kinds: Vec<_> = s.runs(10).expect("runs").iter().map(|r| r.kind).collect();
    assert_eq!(kinds, vec![RunKind::Sweep, RunKind::Tail]);

    // Handled ids older than the cutoff are forgotten.
    assert_eq!(
        s.prune_events_seen(chrono::Utc::now() - chrono::Duration::hours(1))
            .expect("prune"),
        0
    );
    assert_eq!(
        s.prune_events_seen(chrono::Utc::now() + chrono::Duration::hours(1))
            .expect("prune"),
        1
    );
    assert!(!s.event_seen("uuid-1").expect("seen"));
}

#[test]
fn the_change_log_tells_creations_from_updates_and_names_the_changed_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    s.apply(&[put(person("1", "ana@x", None))], &[])
        .expect("apply");
    let (mut p, mut raw) = person("1", "ana@x", Some("9"));
    raw["profile"]["title"] = json!("Engineer");
    raw["profile"]["badgeId"] = json!("B-1");
    raw["lastUpdated"] = json!("2026-12-01T00:00:00.000Z");
    p.title = Some("Engineer".into());
    s.apply(&[put((p, raw))], &[]).expect("apply");
    let changes: Vec<_> = s.changes_after(0).collect::<Result<_>>().expect("changes");
    assert_eq!(changes.len(), 2);
    assert!(changes[0].created && changes[0].fields.is_empty());
    assert!(!changes[1].created);
    assert_eq!(
        changes[1].fields,
        vec!["managerId", "profile.badgeId", "profile.title", "title"],
        "typed fields by their GraphQL names, raw attributes as profile.NAME, no lastUpdated"
    );
}

#[test]
fn pruning_keeps_a_dense_tail_and_never_passes_the_floor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    for i in 0..30 {
        s.apply(
            &[put(person(&format!("{i}"), &format!("p{i}@x"), None))],
            &[],
        )
        .expect("apply");
    }
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    // By count: keep the newest 10, but not beyond the floor of 15.
    assert_eq!(s.prune_changes(past, 10, 15).expect("prune"), 15);
    assert_eq!(s.first_seq().expect("first"), Some(16));
    // By age: everything is older than the future cutoff, but the floor stops it at 25.
    assert_eq!(s.prune_changes(future, 1_000, 25).expect("prune"), 10);
    let left: Vec<u64> = s.changes_after(0).map(|c| c.expect("change").seq).collect();
    assert_eq!(
        left,
        (26..=30).collect::<Vec<_>>(),
        "a dense run to the newest"
    );
    assert_eq!(s.change_log_entries().expect("entries"), 5);
    // Nothing is young enough to go, or everything is past the floor: nothing changes.
    assert_eq!(s.prune_changes(past, 1_000, 30).expect("prune"), 0);
}

#[test]
fn the_department_index_follows_puts_moves_and_deletes_and_is_built_for_old_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let in_dept = |id: &str, dept: &str| {
        let (mut p, raw) = person(id, &format!("{id}@x"), None);
        p.department = Some(dept.to_owned());
        (p, raw)
    };
    {
        let s = Store::open(dir.path()).expect("open");
        s.apply(
            &[
                put(in_dept("1", "Sales")),
                put(in_dept("2", "SALES")),
                put(in_dept("4", " sales ")),
                put(in_dept("3", "Legal")),
            ],
            &[],
        )
        .expect("apply");
        assert_eq!(
            s.department_member_ids("SALES").expect("ids"),
            vec!["1".to_string(), "2".to_string()]
        );
        s.apply(&[put(in_dept("2", "Legal"))], &[]).expect("move");
        s.apply(&[Op::DeletePerson { id: "3".into() }], &[])
            .expect("delete");
        assert_eq!(s.department_member_ids("sales").expect("ids"), vec!["1"]);
        assert_eq!(s.department_member_ids(" Sales ").expect("ids"), vec!["4"]);
        assert_eq!(s.department_count("SALES", false).expect("n"), 1);
        assert_eq!(s.department_count("legal", false).expect("n"), 1);
        assert_eq!(s.department_member_ids("legal").expect("ids"), vec!["2"]);
        // A store written before the index existed: version 1, no index entries.
        s.tree(T::IdxDepartment).clear().expect("clear");
        s.tree(T::Meta)
            .insert(meta::SCHEMA, &keys::u64_be(1))
            .expect("write");
        s.flush().expect("flush");
    }
    let s = Store::open(dir.path()).expect("reopen");
    assert_eq!(s.meta_u64(meta::SCHEMA).expect("v"), Some(SCHEMA_VERSION));
    assert_eq!(s.department_member_ids("Sales").expect("ids"), vec!["1"]);
    assert_eq!(s.department_member_ids("Legal").expect("ids"), vec!["2"]);
    assert_eq!(s.department_count("legal", false).expect("n"), 1);
    assert_eq!(s.department_count(" sales ", true).expect("n"), 1);
    // Deprovisioning moves a person out of the shown count only.
    let (mut gone, raw) = in_dept("5", "Legal");
    gone.status = crate::model::UserStatus::Deprovisioned;
    s.apply(&[put((gone, raw))], &[]).expect("apply");
    assert_eq!(s.department_count("legal", false).expect("n"), 2);
    assert_eq!(s.department_count("legal", true).expect("n"), 1);
    assert_eq!(
        s.department_ids("LEGAL")
            .collect::<Result<Vec<_>>>()
            .expect("ids"),
        vec!["2", "5"]
    );
}

#[test]
fn a_held_directory_is_refused_clearly_and_a_released_one_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let held = Store::open(dir.path()).expect("open");
    held.apply(&[put(person("1", "ana@x.com", None))], &[])
        .expect("apply");
    // A live holder: refused with an error that says what to do, after the bounded wait.
    let started = std::time::Instant::now();
    match Store::open(dir.path()) {
        Err(e @ StoreError::InUse { .. }) => {
            assert!(
                e.to_string()
                    .contains("in use by another oktamirror process"),
                "{e}"
            );
            assert!(started.elapsed() >= LOCK_WAIT, "gave up before the wait");
        }
        Err(e) => panic!("expected InUse, got {e}"),
        Ok(_) => panic!("a second store opened a held directory"),
    }
    // Dropped and reopened at once, over and over (an in-process restart): every reopen
    // succeeds and sees the data, although sled lets go of its lock a moment after the drop.
    drop(held);
    for round in 0..20 {
        let s = Store::open(dir.path()).unwrap_or_else(|e| panic!("reopen {round}: {e}"));
        assert!(s.person_by_login("ana@x.com").expect("get").is_some());
        s.apply(
            &[put(person(
                &format!("r{round}"),
                &format!("r{round}@x.com"),
                None,
            ))],
            &[],
        )
        .expect("write");
        drop(s);
    }
}

/// A small deterministic generator for the churn tests (no rand dependency); the search
/// module's tests use it too.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }

    pub(crate) fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Everyone under `top` (every level) by walking the reports index breadth first: the
/// definition `reports` answers, independent of the maintained counts.
fn walked_reports(s: &Store, top: &str) -> (u64, u64) {
    let mut seen = std::collections::HashSet::from([top.to_owned()]);
    let mut queue = vec![top.to_owned()];
    let (mut all, mut shown) = (0, 0);
    while let Some(m) = queue.pop() {
        for r in s.direct_report_ids(&m).expect("reports") {
            if seen.insert(r.clone()) {
                all += 1;
                let p = s.person(&r).expect("read").expect("a report is a person");
                shown += u64::from(p.status != crate::model::UserStatus::Deprovisioned);
                queue.push(r);
            }
        }
    }
    (all, shown)
}

#[test]
fn maintained_counts_match_a_scan_after_random_churn() {
    use crate::model::UserStatus;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let mut rng = Lcg(7);
    let ids: Vec<String> = (0..60).map(|i| format!("u{i:02}")).collect();
    let departments = ["Sales", "sales ", "Legal", "R&D", ""];
    let places = ["Paris", "PARIS", "Oslo", "Lima"];
    let statuses = [
        UserStatus::Active,
        UserStatus::Active,
        UserStatus::Staged,
        UserStatus::Suspended,
        UserStatus::Deprovisioned,
    ];
    let groups = ["g1", "g2", "g3"];
    let mut members_rng = Lcg(11);
    let mut cyclic_batches = 0;
    for batch in 0..80 {
        let mut ops = Vec::new();
        for _ in 0..1 + rng.below(12) {
            let id = ids[rng.below(ids.len())].clone();
            if rng.below(8) == 0 {
                ops.push(Op::DeletePerson { id });
                continue;
            }
            // Managers: mostly people of the org (cycles happen and must be survived), some
            // ids nobody has, some none.
            let manager = match rng.below(10) {
                0 => None,
                1 => Some("nobody".to_owned()),
                _ => Some(ids[rng.below(ids.len())].clone()),
            };
            let (mut p, raw) = person(&id, &format!("{id}@x"), manager.as_deref());
            p.status = statuses[rng.below(statuses.len())];
            p.department = Some(rng.pick(&departments).to_owned()).filter(|_| rng.below(5) > 0);
            p.division = Some(rng.pick(&["East", "West"]).to_owned());
            p.title = Some(rng.pick(&["Engineer", "engineer", "Lead"]).to_owned());
            p.city = Some(rng.pick(&places).to_owned()).filter(|_| rng.below(4) > 0);
            p.country_code = Some(rng.pick(&["FR", "no", "PE"]).to_owned());
            ops.push(put((p, raw)));
        }
        // Memberships (of people who may not exist, or may leave in this batch) from their
        // own generator, so the people's sequence above stays what it was.
        for _ in 0..members_rng.below(10) {
            let group_id = groups[members_rng.below(groups.len())].to_owned();
            let user_id = ids[members_rng.below(ids.len())].clone();
            ops.push(match members_rng.below(12) {
                0 => Op::DeleteGroup { id: group_id },
                1..=3 => Op::RemoveMember { group_id, user_id },
                _ => Op::AddMember { group_id, user_id },
            });
            if members_rng.below(3) == 0 {
                // A membership change before a person's put in the same batch.
                let at = members_rng.below(ops.len());
                let last = ops.len() - 1;
                ops.swap(at, last);
            }
        }
        s.apply(&ops, &[]).expect("apply");
        let diffs = s.audit_counts().expect("audit");
        assert!(diffs.is_empty(), "batch {batch}: {diffs:?}");
        for g in groups {
            for st in UserStatus::ALL {
                let mut scan = 0;
                for u in s.member_ids_after(g, None) {
                    let u = u.expect("member");
                    scan += u64::from(s.person(&u).expect("read").is_some_and(|p| p.status == st));
                }
                assert_eq!(
                    s.group_status_count(g, st).expect("count"),
                    scan,
                    "batch {batch}: members of {g} with status {st:?}"
                );
            }
        }
        // The reads the View answers from, against a scan and a walk.
        let people: Vec<Person> = s.people_after(None).collect::<Result<_>>().expect("people");
        // Whether the stored managers hold a cycle now (the counts' hard case).
        let managers: std::collections::HashMap<&str, &str> = people
            .iter()
            .filter_map(|p| Some((p.id.as_str(), p.manager_id.as_deref()?)))
            .collect();
        cyclic_batches += usize::from(people.iter().any(|p| {
            let mut seen = std::collections::HashSet::new();
            let mut at = Some(p.id.as_str());
            while let Some(x) = at {
                if !seen.insert(x) {
                    return true;
                }
                at = managers.get(x).copied();
            }
            false
        }));
        for st in UserStatus::ALL {
            let scan = people.iter().filter(|p| p.status == st).count() as u64;
            assert_eq!(
                s.status_count(st).expect("count"),
                scan,
                "batch {batch} {st:?}"
            );
        }
        for d in departments.iter().chain(&["nowhere"]) {
            let want = |st: &[UserStatus]| {
                let f = PersonFilter {
                    statuses: st.to_vec(),
                    department: Some((*d).to_owned()),
                    ..PersonFilter::default()
                };
                people.iter().filter(|p| f.matches(p)).count() as u64
            };
            let active = [UserStatus::Active];
            assert_eq!(
                s.attr_count(Attr::Department, d, &[]).expect("n"),
                want(&[])
            );
            assert_eq!(
                s.attr_count(Attr::Department, d, &active).expect("n"),
                want(&active)
            );
            let listed: Vec<String> = s
                .attr_ids_after(Attr::Department, d, None)
                .collect::<Result<_>>()
                .expect("ids");
            let scanned: Vec<String> = people
                .iter()
                .filter(|p| {
                    p.department
                        .as_deref()
                        .is_some_and(|x| keys::fold(x) == keys::fold(d))
                })
                .map(|p| p.id.clone())
                .collect();
            assert_eq!(listed, scanned, "batch {batch} department {d:?}");
        }
        for top in ids.iter().map(String::as_str).chain(["nobody"]) {
            assert_eq!(
                s.report_count(top).expect("count"),
                Some(walked_reports(&s, top)),
                "batch {batch}: reports of {top}"
            );
        }
    }
    assert!(
        cyclic_batches > 5,
        "the churn made manager cycles after only {cyclic_batches} batches"
    );
    // A store of an older `version`, without the trees that version lacked, reopened: it is
    // brought to the current schema with every count built and equal to a scan.
    let as_version = |s: Store, version: u64, lacking: &[T]| {
        for t in lacking {
            s.tree(*t).clear().expect("clear");
        }
        s.tree(T::Meta)
            .insert(meta::SCHEMA, &keys::u64_be(version))
            .expect("write");
        s.flush().expect("flush");
        drop(s);
        let s = Store::open(dir.path()).expect("reopen");
        assert_eq!(s.meta_u64(meta::SCHEMA).expect("v"), Some(SCHEMA_VERSION));
        assert_eq!(s.audit_counts().expect("audit"), Vec::<String>::new());
        s
    };
    // An old store (version 2) gets every count built when it opens.
    let s = as_version(s, 2, &[T::Counts, T::ReportCounts, T::IdxAttr]);
    // A version 3 store gets the statuses and the group counts by status built when it opens.
    let members: u64 = groups
        .iter()
        .map(|g| s.member_ids_after(g, None).count() as u64)
        .sum();
    assert!(members > 0, "the churn left no memberships to count");
    let s = as_version(s, 3, &[T::StatusOf, T::GroupStatusCounts]);
    let counted: u64 = groups
        .iter()
        .flat_map(|g| UserStatus::ALL.map(|st| s.group_status_count(g, st).expect("count")))
        .sum();
    assert!(counted > 0, "no group counts were built");
}

#[test]
fn person_profile_reads_the_profile_and_document_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let raw = json!({"id": "1", "status": "ACTIVE",
        "profile": {"login": "a@x", "email": "a@x", "mobilePhone": "+1 555", "n": [1, {"k": null}]},
        "credentials": {"provider": {"type": "OKTA"}},
        (crate::model::PROVISIONED_DOCUMENT): {"userName": "a@x"},
        "_links": {"self": {"href": "https://x/api/v1/users/1"}}});
    let p = Person::from_okta(&raw, &Default::default()).expect("valid");
    s.apply(
        &[Op::PutPerson {
            person: Box::new(p),
            raw: (&raw).into(),
        }],
        &[],
    )
    .expect("apply");
    let got = s
        .person_profile("1", |_| true)
        .expect("read")
        .expect("stored");
    assert_eq!(serde_json::Value::Object(got.profile), raw["profile"]);
    assert_eq!(
        got.document,
        Some(raw[crate::model::PROVISIONED_DOCUMENT].clone())
    );
    assert_eq!(s.person_profile("2", |_| true).expect("read"), None);
    // Attributes not kept are skipped; the others are the same values.
    let some = s
        .person_profile("1", |k| k != "email" && k != "login")
        .expect("read")
        .expect("stored");
    let mut want = raw["profile"].clone();
    if let Some(o) = want.as_object_mut() {
        o.remove("email");
        o.remove("login");
    }
    assert_eq!(serde_json::Value::Object(some.profile), want);
    assert_eq!(some.document, got.document);
}

/// The snapshot files sled keeps in the store directory, by the log offset in their names.
fn snapshot_offsets(dir: &std::path::Path) -> Vec<u64> {
    let mut found: Vec<u64> = std::fs::read_dir(dir)
        .expect("read the store directory")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .collect();
    found.sort_unstable();
    found
}

#[test]
fn a_checkpoint_moves_the_snapshot_to_the_log_tip_and_a_reopen_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    // sled writes one when it opens a database that holds anything (none yet here).
    let first = snapshot_offsets(dir.path());
    for i in 0..300 {
        s.apply(
            &[put(person(&format!("p{i}"), &format!("p{i}@x.com"), None))],
            &[],
        )
        .expect("apply");
    }
    // Less log than asked for: nothing written.
    assert_eq!(s.checkpoint(u64::MAX).expect("checkpoint"), None);
    assert_eq!(snapshot_offsets(dir.path()), first);
    let at = s
        .checkpoint(0)
        .expect("checkpoint")
        .expect("a checkpoint after 300 writes");
    assert!(
        at > first.last().copied().unwrap_or(0),
        "{at} after {first:?}"
    );
    assert_eq!(
        snapshot_offsets(dir.path()),
        vec![at],
        "the older one removed"
    );
    // Nothing written since: nothing to do.
    assert_eq!(s.checkpoint(0).expect("checkpoint"), None);
    s.apply(&[put(person("late", "late@x.com", None))], &[])
        .expect("apply after the checkpoint");
    drop(s);
    let s = Store::open(dir.path()).expect("reopen");
    for i in 0..300 {
        assert!(
            s.person_by_login(&format!("p{i}@x.com"))
                .expect("get")
                .is_some(),
            "p{i}, written before the checkpoint"
        );
    }
    assert!(
        s.person_by_login("late@x.com").expect("get").is_some(),
        "written after the checkpoint"
    );
}

#[test]
fn a_snapshot_a_crash_left_half_written_does_not_stop_the_store_opening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    s.apply(&[put(person("1", "ana@x.com", None))], &[])
        .expect("apply");
    s.checkpoint(0).expect("checkpoint");
    drop(s);
    // What a kill between writing `snap.<offset>.generating` and renaming it leaves, at an
    // offset past every finished one (upstream sled read it as the newest and refused to open).
    std::fs::write(
        dir.path()
            .join(format!("snap.{:016X}.generating", u64::MAX >> 1)),
        b"half a snapshot",
    )
    .expect("write the leftover");
    let s = Store::open(dir.path()).expect("opens past the leftover");
    assert!(s.person_by_login("ana@x.com").expect("get").is_some());
}

/// An initial load numbers its people by their place in id order, so it refuses a list out of
/// order or with an id twice (which would tie the wrong people together), and finds everyone
/// in one that is in order.
#[test]
fn an_initial_load_takes_its_people_in_id_order_each_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let load = s.begin_initial_load().expect("begin").expect("empty");
    let at = |ids: &[&str]| -> Vec<(String, crate::model::UserStatus)> {
        ids.iter()
            .map(|id| ((*id).to_owned(), crate::model::UserStatus::Active))
            .collect()
    };
    for bad in [&["u2", "u1"][..], &["u1", "u1"], &["u1", "u3", "u2"]] {
        let e = load.sides(at(bad)).err().expect("refused");
        assert!(e.to_string().contains("out of id order"), "{e}");
    }
    let ids: Vec<String> = (0..3000).map(|i| format!("u{i:05}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let sides = load.sides(at(&refs)).expect("in order");
    let everyone = sides.people.everyone();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(everyone.position(id), Some(i));
    }
    for missing in ["", "u03000", "u1", "v00001"] {
        assert_eq!(everyone.position(missing), None);
    }
    assert!(load.sides(Vec::new()).is_ok(), "nobody is in order");
    load.abandon().expect("abandon");
}

/// An initial load whose raw JSON is written on a thread of its own while the records are
/// written on another (as a sync does) leaves every tree as one that writes both on one
/// thread, and each person's Okta JSON as given.
#[test]
fn an_initial_load_writes_raw_json_on_a_thread_of_its_own() {
    let people: Vec<(Person, serde_json::Value)> = (0..500)
        .map(|i| {
            let manager = (i > 0).then(|| format!("u{:04}", i / 3));
            person(
                &format!("u{i:04}"),
                &format!("p{i}@x.com"),
                manager.as_deref(),
            )
        })
        .collect();
    let status = || -> Vec<(String, crate::model::UserStatus)> {
        people
            .iter()
            .map(|(p, _)| (p.id.clone(), p.status))
            .collect()
    };
    let bytes = |raw: &serde_json::Value| super::RawJson::from(raw).0;
    let records = |chunk: &[(Person, serde_json::Value)]| -> Vec<Person> {
        chunk.iter().map(|(p, _)| p.clone()).collect()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let load_into = |name: &str, threaded: bool| -> Store {
        let s = Store::open(&dir.path().join(name)).expect("open");
        let load = s.begin_initial_load().expect("begin").expect("empty");
        let mut sides = load.sides(status()).expect("sides");
        let Sides {
            people: records_side,
            raw,
            ..
        } = &mut sides;
        if threaded {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    for (p, r) in &people {
                        raw.push(&p.id, &bytes(r)).expect("raw");
                    }
                });
                for chunk in people.chunks(64) {
                    records_side.people(&records(chunk)).expect("people");
                }
            });
        } else {
            for chunk in people.chunks(64) {
                for (p, r) in chunk {
                    raw.push(&p.id, &bytes(r)).expect("raw");
                }
                records_side.people(&records(chunk)).expect("people");
            }
        }
        load.finish(sides).expect("finish");
        s
    };
    let (one, two) = (load_into("one", false), load_into("two", true));
    for (p, raw) in &people {
        assert_eq!(two.person_raw(&p.id).expect("read").as_ref(), Some(raw));
    }
    let (one, two) = (one.contents().expect("read"), two.contents().expect("read"));
    assert_eq!(one["raw_users"].len(), 500);
    assert_eq!(one["people"].len(), 500);
    assert_eq!(one, two);
}

/// A store opened after a load whose every tree was written when the kill came (its mark still
/// on disk) is empty, and each loaded tree is as new: the next load writes it a leaf at a time
/// again (an emptied tree keeps its shape and would be written by plain inserts) and leaves
/// what a load into a new store leaves.
#[test]
fn an_interrupted_load_is_dropped_at_open_and_the_next_loads_a_leaf_at_a_time() {
    // Enough people that the people, raw JSON and membership trees have two levels of index
    // pages (a smaller tree, emptied, merges back into a root over one leaf).
    let people: Vec<(Person, Vec<u8>)> = (0..10_000)
        .map(|i| {
            let manager = (i > 0).then(|| format!("u{:05}", i / 7));
            let (p, raw) = person(
                &format!("u{i:05}"),
                &format!("p{i}@x.com"),
                manager.as_deref(),
            );
            (p, super::RawJson::from(&raw).0)
        })
        .collect();
    let load = |s: &Store| {
        let load = s.begin_initial_load().expect("begin").expect("empty");
        let status = people.iter().map(|(p, _)| (p.id.clone(), p.status));
        let mut sides = load.sides(status.collect()).expect("sides");
        for (p, raw) in &people {
            sides.raw.push(&p.id, raw).expect("raw");
        }
        let records: Vec<Person> = people.iter().map(|(p, _)| p.clone()).collect();
        sides.people.people(&records).expect("people");
        let ids: Vec<String> = people.iter().map(|(p, _)| p.id.clone()).collect();
        sides.members.members("g1", &ids).expect("members");
        sides.members.members("g2", &ids[..4000]).expect("members");
        load.finish(sides).expect("finish");
    };
    let loaded = |s: &Store| {
        let mut all = s.contents().expect("read");
        let names: Vec<&str> = load::LOADED
            .iter()
            .map(|t| TREE_NAMES[*t as usize])
            .collect();
        all.retain(|name, _| names.contains(name));
        all
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (interrupted, new) = (dir.path().join("interrupted"), dir.path().join("new"));
    {
        let s = Store::open(&interrupted).expect("open");
        load(&s);
        // What a kill after the last write, before the mark is cleared, leaves.
        s.tree(T::Meta)
            .insert(meta::INITIAL_LOAD, &[1])
            .expect("mark");
        s.flush().expect("flush");
    }
    let s = Store::open(&interrupted).expect("reopen");
    assert!(s.recovered_initial_load(), "the mark was on disk");
    assert!(!s.initial_load_pending().expect("mark"), "and is cleared");
    for t in load::LOADED {
        let name = TREE_NAMES[t as usize];
        assert!(s.tree(t).is_empty(), "{name} is empty");
        let probe = append::Append::new(s.tree(t)).expect("probe");
        assert!(
            matches!(probe, append::Append::Leaves(_)),
            "{name} is as new"
        );
    }
    assert_eq!(s.people_count().expect("count"), 0);
    load(&s);
    let fresh = Store::open(&new).expect("open");
    load(&fresh);
    let (again, fresh) = (loaded(&s), loaded(&fresh));
    assert_eq!(again["people"].len(), 10_000);
    assert_eq!(again["members"].len(), 14_000);
    assert_eq!(again, fresh);
    drop(s);
    let s = Store::open(&interrupted).expect("reopen after the second load");
    assert!(!s.recovered_initial_load(), "the second load finished");
    assert_eq!(s.people_count().expect("count"), 10_000);
}

/// The user list is staged a leaf at a time: pages in id order, then a second pass whose ids
/// fall between and onto the first's (Okta lists deprovisioned users apart), then users added
/// and removed by plain writes, as a scoped crawl does. Every user reads back once, in id
/// order, as last staged.
#[test]
fn staged_users_read_back_in_id_order_as_last_staged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path()).expect("open");
    let mut truth = std::collections::BTreeMap::new();
    let mut stage = |ids: Vec<String>, pass: u64| {
        for page in ids.chunks(200) {
            let page: Vec<(String, serde_json::Value, Option<Person>)> = page
                .iter()
                .map(|id| (id.clone(), json!({"id": id, "pass": pass}), None))
                .collect();
            s.stage_people(&page).expect("stage");
            for (id, raw, _) in page {
                truth.insert(id, raw);
            }
        }
    };
    stage(
        (0..5000).step_by(2).map(|i| format!("u{i:05}")).collect(),
        1,
    );
    // The second pass: every tenth id, odd ones between the first pass's and even ones on them.
    stage(
        (5..5000).step_by(5).map(|i| format!("u{i:05}")).collect(),
        2,
    );
    assert_eq!(s.staged_user_count(), truth.len());
    let added = vec![
        ("u99999".to_owned(), json!({"id": "u99999", "pass": 3})),
        ("u00010".to_owned(), json!({"id": "u00010", "pass": 3})),
    ];
    s.stage_users(&added).expect("stage after the list");
    truth.extend(added);
    let gone = vec![
        "u00000".to_owned(),
        "u00005".to_owned(),
        "u04998".to_owned(),
    ];
    s.unstage_users(&gone).expect("unstage");
    for id in &gone {
        truth.remove(id);
    }
    let staged: Vec<(String, serde_json::Value)> =
        s.staged_users().collect::<Result<_>>().expect("read");
    let expected: Vec<(String, serde_json::Value)> = truth.into_iter().collect();
    assert_eq!(staged.len(), expected.len());
    assert_eq!(staged, expected);
    assert!(s.is_user_staged("u00015").expect("read"));
    assert!(!s.is_user_staged("u00005").expect("read"));
}
