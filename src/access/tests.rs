//! The rules applied by a `View`, role by role, over a small store: what each role finds, counts
//! and is refused. Expected values come from the fixture below, not from the code under test.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::model::{Group, Person, UserStatus};
use crate::search::{Index, IndexOptions};
use crate::store::{Op, Store};

fn person(id: &str, status: &str, manager: Option<&str>, extra: Value) -> Op {
    let mut profile = json!({"login": format!("{id}@example.com"), "email": format!("{id}@example.com"),
        "firstName": "Pat", "lastName": id, "department": "Engineering", "badgeId": format!("B-{id}")});
    if let (Some(p), Some(e)) = (profile.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let raw = json!({"id": id, "status": status, "profile": profile});
    let mut person = Person::from_okta(&raw, &Default::default()).expect("valid user");
    person.manager_id = manager.map(str::to_owned);
    Op::PutPerson {
        person: Box::new(person),
        raw: (&raw).into(),
    }
}

/// u1 ← u2 ← (u3 active, u4 deprovisioned); group g1 holds u2, u3, u4 and has a DN.
fn mirror(policy: Policy) -> (tempfile::TempDir, Arc<Mirror>) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let raw_group = json!({"id": "g1", "type": "APP_GROUP",
        "profile": {"name": "Eng", "dn": "CN=Eng,OU=Groups,DC=corp"}});
    let mut ops = vec![
        person("u1", "ACTIVE", None, json!({"department": "Exec"})),
        person("u2", "ACTIVE", Some("u1"), json!({})),
        person("u3", "ACTIVE", Some("u2"), json!({"pronouns": "they"})),
        person("u4", "DEPROVISIONED", Some("u2"), json!({})),
        Op::PutGroup {
            group: Group::from_okta(&raw_group).expect("group"),
            raw: (&raw_group).into(),
        },
    ];
    for u in ["u2", "u3", "u4"] {
        ops.push(Op::AddMember {
            group_id: "g1".into(),
            user_id: u.into(),
        });
    }
    store.apply(&ops, &[]).expect("apply");
    let index = Index::open(&dir.path().join("search"), IndexOptions::default()).expect("index");
    index.catch_up(&store).expect("catch up");
    (dir, Mirror::new(store, Some(Arc::new(index)), policy))
}

fn as_role(m: &Arc<Mirror>, role: Role) -> View {
    m.view(Caller {
        name: Some(format!("{role}-key")),
        role,
    })
}

fn every_status() -> PersonFilter {
    PersonFilter::default()
}

#[test]
fn directory_never_sees_deprovisioned_people_in_rows_or_aggregates() {
    let (_d, m) = mirror(Policy::default());
    let dir = as_role(&m, Role::Directory);
    let hr = as_role(&m, Role::Hr);
    assert!(dir.person("u4").expect("read").is_none());
    assert!(
        dir.person_by_login("U4@example.com")
            .expect("read")
            .is_none()
    );
    assert!(hr.person("u4").expect("read").is_some());

    let f = dir.people_filter(every_status()).expect("filter");
    assert_eq!(dir.count_people(&f).expect("count"), 3);
    let f = hr.people_filter(every_status()).expect("filter");
    assert_eq!(hr.count_people(&f).expect("count"), 4);

    assert_eq!(dir.direct_report_ids("u2").expect("ids"), ["u3"]);
    assert_eq!(hr.direct_report_ids("u2").expect("ids"), ["u3", "u4"]);
    assert_eq!(dir.reports("u1", None).expect("ids"), ["u2", "u3"]);
    let chart = dir.org_chart("u2", None).expect("chart").expect("root");
    assert_eq!(chart.direct_report_count, 1);
    assert_eq!(chart.reports.len(), 1);

    assert_eq!(dir.count_members("g1", &[]).expect("count"), 2);
    assert_eq!(hr.count_members("g1", &[]).expect("count"), 3);
    let page = dir.members_page("g1", &[], None, 10).expect("page");
    assert_eq!(
        page.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["u2", "u3"]
    );
    assert!(dir.group_ids_of("u4").expect("groups").is_empty());

    let q = ParsedQuery::parse("pat").expect("query");
    let f = dir.people_filter(every_status()).expect("filter");
    let (results, hits) = dir.search(&q, &f, 0, 10).expect("search");
    assert_eq!(results.total, 3);
    assert!(
        hits.iter()
            .all(|(_, p)| p.status != UserStatus::Deprovisioned)
    );
    let facets = dir.facets(&q, &f).expect("facets");
    let counted: u64 = facets.department.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, 3, "facets count what the rows show");
}

#[test]
fn asking_for_what_the_role_hides_is_refused_not_answered() {
    let (_d, m) = mirror(Policy::default());
    let dir = as_role(&m, Role::Directory);
    let only_gone = PersonFilter {
        statuses: vec![UserStatus::Deprovisioned],
        ..Default::default()
    };
    let e = dir.people_filter(only_gone.clone()).unwrap_err();
    assert!(e.is_forbidden(), "{e:?}");
    assert!(e.message().contains("directory role") && e.message().contains("deprovisioned"));
    assert!(
        dir.members_page("g1", &[UserStatus::Deprovisioned], None, 5)
            .unwrap_err()
            .is_forbidden()
    );
    assert!(dir.group_profile("g1").unwrap_err().is_forbidden());
    assert!(dir.runs(5).unwrap_err().is_forbidden());
    assert!(dir.totals().unwrap_err().is_forbidden());
    assert!(
        dir.require(Permission::ControlSync)
            .unwrap_err()
            .is_forbidden()
    );
    let hr = as_role(&m, Role::Hr);
    assert!(hr.people_filter(only_gone).is_ok());
    assert!(hr.runs(5).is_ok());
    assert!(hr.require(Permission::ControlSync).is_err());
    assert!(
        as_role(&m, Role::Admin)
            .require(Permission::ControlSync)
            .is_ok()
    );
    // A metrics scraper reads no people at all.
    assert!(
        as_role(&m, Role::Metrics)
            .person("u1")
            .unwrap_err()
            .is_forbidden()
    );
}

#[test]
fn directory_profiles_hold_only_the_listed_custom_attributes() {
    let (_d, m) = mirror(Policy {
        directory_attributes: vec!["pronouns".into()],
        ..Policy::default()
    });
    let dir = as_role(&m, Role::Directory);
    assert_eq!(
        dir.profile("u3").expect("profile"),
        json!({"pronouns": "they"})
    );
    assert_eq!(dir.profile("u2").expect("profile"), json!({}));
    let hr = as_role(&m, Role::Hr);
    let full = hr.profile("u3").expect("profile");
    assert_eq!(full["badgeId"], "B-u3");
    assert_eq!(full["pronouns"], "they");
    assert_eq!(
        hr.group_profile("g1").expect("profile")["dn"],
        "CN=Eng,OU=Groups,DC=corp"
    );
}

#[test]
fn a_shared_email_or_employee_number_is_an_error_not_a_coin_toss() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Store::open(dir.path()).expect("open");
    let shared = json!({"email": "team@example.com", "employeeNumber": "42"});
    s.apply(
        &[
            person("a1", "ACTIVE", None, shared.clone()),
            person("a2", "SUSPENDED", None, shared.clone()),
            person(
                "a3",
                "DEPROVISIONED",
                None,
                json!({"email": "rehire@example.com"}),
            ),
            person("a4", "ACTIVE", None, json!({"email": "REHIRE@example.com"})),
        ],
        &[],
    )
    .expect("apply");
    let m = Mirror::new(s, None, Policy::default());
    let hr = as_role(&m, Role::Hr);
    let e = hr.person_by_email("team@example.com").unwrap_err();
    assert!(e.is_bad_input(), "{e:?}");
    assert!(
        e.message().starts_with("2 people share this email"),
        "{}",
        e.message()
    );
    let e = hr.person_by_employee_number("42").unwrap_err();
    assert!(e.message().contains("employee number"), "{}", e.message());
    // A rehire: the deprovisioned account and the new one share the email; the live one wins.
    let p = hr.person_by_email("rehire@example.com").expect("lookup");
    assert_eq!(p.map(|p| p.id), Some("a4".to_owned()));
    assert_eq!(
        hr.people_by_email("rehire@example.com").expect("all").len(),
        2
    );
    // A directory key sees one of them only.
    let dir_view = as_role(&m, Role::Directory);
    assert_eq!(
        dir_view
            .people_by_email("rehire@example.com")
            .expect("all")
            .len(),
        1
    );
}

/// A feed reader that started on an empty mirror (no cursor: the empty log's start) has read
/// none of the org when the first sync loads it as one entry: it is told to read the mirror in
/// full, in words that say a load happened (not that entries were pruned). A reader starting
/// after the load follows the feed from there without an error.
#[test]
fn a_feed_reader_from_before_the_first_load_is_told_to_read_the_mirror_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let m = Mirror::new(store.clone(), None, Policy::default());
    let reader = as_role(&m, Role::Directory);
    let before = reader.changes_start().expect("start");
    let (entries, _) = reader.changes(before, 10).expect("an empty feed");
    assert!(entries.is_empty());

    let load = store
        .begin_initial_load()
        .expect("begin")
        .expect("an empty store loads");
    let Op::PutPerson { person, raw } = person("u1", "ACTIVE", None, json!({})) else {
        unreachable!("person() builds a PutPerson")
    };
    let mut sides = load
        .sides(vec![(person.id.clone(), person.status)])
        .expect("sides");
    sides.raw.push(&person.id, &raw.0).expect("raw");
    sides.people.people(&[*person]).expect("people");
    load.finish(sides).expect("finish");

    let e = reader
        .changes(before, 10)
        .expect_err("the load is not in the feed");
    assert!(e.is_cursor_expired(), "{e:?}");
    let message = e.message();
    assert!(
        message.contains("loaded the whole org") && message.contains("read the mirror again"),
        "{message}"
    );
    assert!(!message.contains("pruned"), "{message}");

    let after = reader.changes_start().expect("start");
    assert!(after > before);
    let (entries, _) = reader.changes(after, 10).expect("the feed after the load");
    assert!(entries.is_empty());
}
