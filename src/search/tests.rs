//! Unit tests of search and org queries over a small hand-made org in a temporary store.

use serde_json::json;

use super::*;
use crate::model::Person;
use crate::search::roster::PageWalk;
use crate::store::tests::Lcg;
use crate::store::{Op, PersonFilter, Store};

fn person(
    id: &str,
    first: &str,
    last: &str,
    status: &str,
    manager: Option<&str>,
    dept: &str,
) -> Op {
    let login = format!(
        "{}.{}@acme.example",
        first.to_lowercase(),
        last.to_lowercase()
    );
    let raw = json!({"id": id, "status": status, "profile": {"login": login, "email": login,
        "firstName": first, "lastName": last, "department": dept, "title": "Engineer",
        "city": "Berlin", "countryCode": "DE", "favouriteFood": "Spätzle"}});
    let mut p = Person::from_okta(&raw, &Default::default()).expect("valid");
    p.manager_id = manager.map(str::to_owned);
    Op::PutPerson {
        person: Box::new(p),
        raw: (&raw).into(),
    }
}

fn org() -> Vec<Op> {
    vec![
        person("u1", "Cara", "Chief", "ACTIVE", None, "Exec"),
        person(
            "u2",
            "Jonathan",
            "Smith",
            "ACTIVE",
            Some("u1"),
            "Engineering",
        ),
        person(
            "u3",
            "Jon",
            "Smithers",
            "SUSPENDED",
            Some("u2"),
            "Engineering",
        ),
        person(
            "u4",
            "Jürgen",
            "Müller",
            "ACTIVE",
            Some("u2"),
            "Engineering",
        ),
        person("u5", "José", "Weiß", "ACTIVE", Some("u4"), "Engineering"),
        person("u6", "Ana", "Jones", "DEPROVISIONED", Some("u1"), "Sales"),
        person("u7", "William", "Brown", "ACTIVE", Some("u1"), "Sales"),
        person("u8", "Jessica", "Williams", "ACTIVE", Some("u1"), "Sales"),
        person("u9", "William", "Williams", "ACTIVE", Some("u1"), "Sales"),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    index: Index,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&dir.path().join("store")).expect("store");
    store.apply(&org(), &[]).expect("apply");
    let index = Index::open(
        &index_dir(dir.path()),
        IndexOptions {
            custom_attributes: vec!["favouriteFood".into()],
        },
    )
    .expect("index");
    index.catch_up(&store).expect("catch up");
    Fixture {
        _dir: dir,
        store,
        index,
    }
}

fn ids(f: &Fixture, q: &str) -> Vec<String> {
    let q = ParsedQuery::parse(q).expect("valid query");
    let everyone = PersonFilter::default();
    f.index
        .search(&q, &everyone, 0, 10)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn prefix_accent_typo_and_word_order() {
    let f = fixture();
    assert_eq!(
        ids(&f, "jon smi")[..2],
        ["u3", "u2"],
        "exact word beats prefix"
    );
    assert_eq!(
        ids(&f, "smith jon")[0],
        "u2",
        "whole name in either order first"
    );
    assert_eq!(ids(&f, "muller"), ["u4"]);
    assert_eq!(ids(&f, "MÜLL"), ["u4"]);
    assert_eq!(ids(&f, "jose weiss"), ["u5"]);
    assert_eq!(ids(&f, "Jonathon"), ["u2"], "one typo from four characters");
    assert_eq!(
        ids(&f, "spatzle").len(),
        9,
        "custom attributes are searchable"
    );
    assert_eq!(ids(&f, "jonathan.smith@acme.example")[0], "u2");
    assert!(ids(&f, "zzz").is_empty());
}

#[test]
fn each_query_word_needs_its_own_word() {
    let f = fixture();
    for q in [
        "williams wliliam",
        "WILLIAM Wliliams",
        "will wliliams",
        "wliliam wil",
    ] {
        let q = ParsedQuery::parse(q).expect("query");
        let hits = f
            .index
            .search(&q, &PersonFilter::default(), 0, 3)
            .expect("search")
            .hits;
        assert_eq!(hits[0].id, "u9", "{q:?}: {hits:?}");
    }
}

#[test]
fn syntax_characters_are_words_not_syntax() {
    let f = fixture();
    for q in [
        "jon AND",
        "smith*",
        "(jon)",
        "title:engineer",
        "\"jon",
        "+-~^",
    ] {
        ParsedQuery::parse(q).expect("not an error");
    }
    assert!(ids(&f, "+-~^").is_empty());
    assert_eq!(ids(&f, "smith*")[0], "u2");
    assert!(matches!(
        ParsedQuery::parse("  \t"),
        Err(SearchError::EmptyQuery)
    ));
}

#[test]
fn active_first_and_filters_and_facets() {
    let f = fixture();
    // "jon" is an exact word of u3 (suspended) and a prefix of u2 (active): exact wins.
    let q = ParsedQuery::parse("engineer").expect("query");
    let hits = f
        .index
        .search(&q, &PersonFilter::default(), 0, 10)
        .expect("search");
    assert_eq!(hits.total, 9);
    assert_ne!(
        hits.hits[0].id, "u3",
        "an active person ranks before a suspended one"
    );
    let filter = PersonFilter {
        department: Some(" engineering ".into()),
        statuses: vec![crate::model::UserStatus::Active],
        ..Default::default()
    };
    let hits = f.index.search(&q, &filter, 0, 10).expect("search");
    let mut got: Vec<_> = hits.hits.into_iter().map(|h| h.id).collect();
    got.sort();
    assert_eq!(got, ["u2", "u4", "u5"]);
    let facets = f
        .index
        .facets(&q, &PersonFilter::default())
        .expect("facets");
    assert_eq!(facets.department[0], ("Engineering".to_owned(), 4));
    assert_eq!(facets.city, [("Berlin".to_owned(), 9)]);
}

#[test]
fn replays_changes_and_heals() {
    let f = fixture();
    let seq = f.index.indexed_seq();
    assert_eq!(seq, f.store.last_seq().expect("seq"));
    f.store
        .apply(
            &[person("u7", "Zoë", "Quinn", "ACTIVE", Some("u1"), "Sales")],
            &[],
        )
        .expect("apply");
    f.store
        .apply(&[Op::DeletePerson { id: "u4".into() }], &[])
        .expect("delete");
    assert!(ids(&f, "zoe").is_empty(), "not yet indexed");
    f.index.catch_up(&f.store).expect("catch up");
    assert_eq!(ids(&f, "zoe"), ["u7"]);
    assert!(
        ids(&f, "muller").is_empty(),
        "deleted people leave the index"
    );
}

#[test]
fn org_queries_walk_the_hierarchy() {
    let f = fixture();
    assert_eq!(
        reports(&f.store, "u1", None).expect("reports"),
        ["u2", "u6", "u7", "u8", "u9", "u3", "u4", "u5"]
    );
    assert_eq!(
        reports(&f.store, "u1", Some(1)).expect("reports"),
        ["u2", "u6", "u7", "u8", "u9"]
    );
    let u5 = f.store.person("u5").expect("read").expect("u5");
    let chain: Vec<_> = manager_chain(&f.store, &u5)
        .expect("chain")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(chain, ["u4", "u2", "u1"]);
    let cm = |a, b| common_manager(&f.store, a, b).expect("read").map(|p| p.id);
    assert_eq!(cm("u5", "u3").as_deref(), Some("u2"));
    assert_eq!(cm("u5", "u4").as_deref(), Some("u4"));
    assert_eq!(cm("u5", "u6").as_deref(), Some("u1"));
    let chart = org_chart(&f.store, "u1", Some(1))
        .expect("chart")
        .expect("root");
    assert_eq!(chart.direct_report_count, 5);
    assert_eq!(chart.reports[0].direct_report_count, 2);
    assert!(
        chart.reports[0].reports.is_empty(),
        "depth 1 stops below the first level"
    );

    let d = Departments::compute(&f.store).expect("departments");
    let strs = |ids: &IdList| ids.range(0, usize::MAX);
    let eng = d.find("ENGINEERING").expect("engineering");
    assert_eq!(strs(&eng.members), ["u2", "u3", "u4", "u5"]);
    assert_eq!(eng.head.as_deref(), Some("u2"));
    assert_eq!(strs(&eng.managers), ["u2", "u4"]);
    let sales = d.find("sales").expect("sales");
    assert_eq!(
        strs(&sales.members),
        ["u7", "u8", "u9"],
        "the deprovisioned u6 is not a member"
    );
    assert_eq!(
        sales.head.as_deref(),
        Some("u7"),
        "equal heads: the smallest id"
    );
}

#[test]
fn changing_the_custom_attributes_rebuilds_the_index() {
    let f = fixture();
    let dir = f.index.dir().to_path_buf();
    assert_eq!(
        Index::stored_options(&dir).custom_attributes,
        ["favouriteFood"]
    );
    f.index.close();
    let index = Index::open(&dir, IndexOptions::default()).expect("reopen");
    assert_eq!(index.indexed_seq(), 0, "rebuilt from the store");
    index.catch_up(&f.store).expect("catch up");
    let q = ParsedQuery::parse("spatzle").expect("valid query");
    let hits = index
        .search(&q, &PersonFilter::default(), 0, 10)
        .expect("search")
        .hits;
    assert!(hits.is_empty(), "no longer searchable");
    assert!(Index::stored_options(&dir).custom_attributes.is_empty());
}

#[test]
fn status_filters_as_inclusions_or_exclusions_agree() {
    use crate::model::UserStatus;
    let f = fixture();
    let q = ParsedQuery::parse("jones").expect("valid query");
    let found = |statuses: Vec<UserStatus>| -> Vec<String> {
        let filter = PersonFilter {
            statuses,
            ..Default::default()
        };
        let mut ids: Vec<String> = f
            .index
            .search(&q, &filter, 0, 10)
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect();
        ids.sort();
        ids
    };
    // All but DEPROVISIONED (built as one excluded term) leaves Ana Jones out ...
    let active_ones: Vec<UserStatus> = UserStatus::ALL
        .into_iter()
        .filter(|s| *s != UserStatus::Deprovisioned)
        .collect();
    assert!(!found(active_ones).contains(&"u6".to_string()));
    // ... only DEPROVISIONED (built as a required term) finds just her ...
    assert_eq!(found(vec![UserStatus::Deprovisioned]), ["u6"]);
    // ... and every status, or none named, finds her among the rest.
    assert!(found(UserStatus::ALL.to_vec()).contains(&"u6".to_string()));
    assert_eq!(found(UserStatus::ALL.to_vec()), found(Vec::new()));
}

#[test]
fn org_cache_follows_random_churn() {
    // Managers anywhere: cycles come and go (the table is then computed whole).
    org_cache_churn(5, false);
    // Managers only among smaller ids: no cycle, so every table is the incremental one.
    org_cache_churn(6, true);
    org_cache_churn(7, true);
}

/// 60 random batches over 50 people (a pruned change log in the middle), the cache asked after
/// most of them: its departments equal `Departments::of` of a roster built afresh, its report
/// walks, counts and pages to a depth equal breadth-first walks of the store, and its
/// department + title counts and pages equal `PersonFilter` over a scan.
fn org_cache_churn(seed: u64, acyclic: bool) {
    use crate::model::UserStatus;
    use crate::store::Attr;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let cache = OrgCache::default();
    let mut rng = Lcg(seed);
    let ids: Vec<String> = (0..50).map(|i| format!("u{i:02}")).collect();
    let departments = [
        "Sales", "sales ", "Legal", "R&D", "Ops", "HR", "IT", "Finance", "Design",
    ];
    let divisions = ["East", "West", "North", "South"];
    let titles = ["Engineer", "engineer", "Lead"];
    let countries = ["FR", "no", "PE"];
    let statuses = ["ACTIVE", "ACTIVE", "STAGED", "SUSPENDED", "DEPROVISIONED"];
    let mut reads = 0;
    let mut incremental = 0;
    let mut paired = 0;
    for batch in 0..60 {
        let mut ops = Vec::new();
        for _ in 0..1 + rng.below(if acyclic { 3 } else { 8 }) {
            let at = rng.below(ids.len());
            let id = ids[at].clone();
            if rng.below(8) == 0 {
                ops.push(Op::DeletePerson { id });
                continue;
            }
            let manager = |rng: &mut Lcg| match rng.below(10) {
                0 => None,
                1 => Some("nobody".to_owned()),
                _ if acyclic && at == 0 => None,
                _ if acyclic => Some(ids[rng.below(at)].clone()),
                _ => Some(ids[rng.below(ids.len())].clone()),
            };
            let raw = json!({"id": id, "status": rng.pick(&statuses), "profile": {
                "login": format!("{id}@x"), "email": format!("{id}@x"),
                "department": rng.pick(&departments), "division": rng.pick(&divisions),
                "title": rng.pick(&titles), "countryCode": rng.pick(&countries)}});
            let p = match store.person(&id).expect("read") {
                // One field of someone already there, so that a batch touches few units.
                Some(mut p) if rng.below(2) == 0 => {
                    match rng.below(7) {
                        0 | 1 => p.manager_id = manager(&mut rng),
                        2 => p.status = UserStatus::ALL[rng.below(UserStatus::ALL.len())],
                        3 => p.department = Some(rng.pick(&departments).to_owned()),
                        4 => p.division = Some(rng.pick(&divisions).to_owned()),
                        5 => p.country_code = Some(rng.pick(&countries).to_owned()),
                        _ => p.title = Some(rng.pick(&titles).to_owned()),
                    }
                    p
                }
                _ => {
                    let mut p = Person::from_okta(&raw, &Default::default()).expect("valid");
                    if rng.below(5) == 0 {
                        p.department = None;
                    }
                    p.manager_id = manager(&mut rng);
                    p
                }
            };
            ops.push(Op::PutPerson {
                person: Box::new(p),
                raw: (&raw).into(),
            });
        }
        store.apply(&ops, &[]).expect("apply");
        if batch == 30 {
            // The change log pruned past the cache: it builds the roster again.
            store
                .prune_changes(chrono::Utc::now(), 0, u64::MAX)
                .expect("prune");
            store
                .apply(&[Op::DeletePerson { id: ids[0].clone() }], &[])
                .expect("apply");
        }
        // Ask on most batches only, so some catch-ups span several batches.
        if rng.below(4) == 0 {
            continue;
        }
        reads += 1;
        let (cached, _) = cache.departments(&store).expect("departments");
        if cache.keeps_table() {
            incremental += 1;
        }
        if let Err(e) = cache.check_forest() {
            panic!("batch {batch}: {e}");
        }
        let roster = Roster::build(&store).expect("roster");
        let fresh = Departments::of(&roster);
        assert_eq!(cached.departments, fresh.departments, "batch {batch}");
        assert_eq!(cached.divisions, fresh.divisions, "batch {batch}");
        let people: Vec<Person> = store
            .people_after(None)
            .collect::<Result<_, _>>()
            .expect("people");
        let held = cache.sizes(&store).expect("sizes");
        assert_eq!(held.people, people.len(), "batch {batch}");
        let managers: std::collections::HashSet<&str> = people
            .iter()
            .filter_map(|p| p.manager_id.as_deref())
            .collect();
        assert!(held.with_levels <= managers.len(), "batch {batch}");
        let status: std::collections::HashMap<&str, UserStatus> =
            people.iter().map(|p| (p.id.as_str(), p.status)).collect();
        for top in ids.iter().chain(&["nobody".to_owned()]) {
            for depth in [Some(1), Some(2), Some(3), Some(5), None] {
                let walked = reports(&store, top, depth).expect("walk");
                let (cached, _) = cache.reports(&store, top, depth).expect("reports");
                let cached: Vec<String> = cached.into_iter().map(|(id, _)| id).collect();
                assert_eq!(
                    cached, walked,
                    "batch {batch}: reports of {top} to {depth:?}"
                );
                let Some(depth) = depth else { continue };
                for everyone in [false, true] {
                    let mut want: Vec<String> = walked
                        .iter()
                        .filter(|id| {
                            everyone || status.get(id.as_str()) != Some(&UserStatus::Deprovisioned)
                        })
                        .cloned()
                        .collect();
                    want.sort();
                    let at = |after: Option<&str>, limit: usize| {
                        cache
                            .reports_within(&store, top, depth, everyone, after, limit)
                            .expect("within")
                            .0
                    };
                    let (n, page) = at(None, 3);
                    let what = format!("batch {batch}: {top} to {depth}, everyone {everyone}");
                    assert_eq!(n, want.len() as u64, "{what}");
                    assert_eq!(
                        page,
                        want.iter().take(3).cloned().collect::<Vec<_>>(),
                        "{what}"
                    );
                    if let Some(first) = want.first() {
                        let (_, rest) = at(Some(first), 2);
                        let expect: Vec<String> = want.iter().skip(1).take(2).cloned().collect();
                        assert_eq!(rest, expect, "{what}: after {first}");
                    }
                    let (_, all) = at(None, usize::MAX);
                    assert_eq!(all, want, "{what}: everything");
                    // Each way of finding a page, whichever the sizes here would choose.
                    let n = want.len() as u64;
                    for walk in [PageWalk::Chains, PageWalk::Set, PageWalk::List] {
                        let by = |after: Option<&str>, limit: usize| {
                            roster
                                .page_within_by(walk, top, depth, everyone, n, after, limit)
                                .0
                        };
                        let what = format!("{what}, {walk:?}");
                        assert_eq!(by(None, usize::MAX), want, "{what}: everything");
                        for (k, after) in want.iter().enumerate().step_by(3) {
                            let expect: Vec<String> =
                                want.iter().skip(k + 1).take(2).cloned().collect();
                            assert_eq!(by(Some(after), 2), expect, "{what}: after {after}");
                        }
                    }
                }
            }
        }
        // Department + title, department + country, title + country, all three: values held
        // by many (their pairs counted) and by few (their holders read).
        let mut filters = Vec::new();
        for d in departments {
            for t in titles.iter().chain(&["nobody's title"]) {
                filters.push((Some(d), Some(*t), None));
                filters.push((Some(d), Some(*t), Some(rng.pick(&countries))));
            }
            for c in countries {
                filters.push((Some(d), None, Some(c)));
            }
        }
        for t in titles {
            for c in countries {
                filters.push((None, Some(t), Some(c)));
            }
        }
        for (d, t, c) in filters {
            for st in [&[][..], &[UserStatus::Active, UserStatus::Staged]] {
                {
                    let f = PersonFilter {
                        statuses: st.to_vec(),
                        department: d.map(str::to_owned),
                        title: t.map(str::to_owned),
                        country_code: c.map(str::to_owned),
                        ..PersonFilter::default()
                    };
                    let want: Vec<String> = people
                        .iter()
                        .filter(|p| f.matches(p))
                        .map(|p| p.id.clone())
                        .collect();
                    let attrs: Vec<(Attr, &str)> = [
                        (Attr::Department, d),
                        (Attr::Title, t),
                        (Attr::CountryCode, c),
                    ]
                    .into_iter()
                    .filter_map(|(a, v)| Some((a, v?)))
                    .collect();
                    let (d, t) = (attrs[0].1, attrs[1].1);
                    let (n, work) = cache.count(&store, &attrs, st).expect("count");
                    assert_eq!(n, want.len() as u64, "batch {batch}: {attrs:?} {st:?}");
                    if work.examined == 1 && n > 0 {
                        paired += 1;
                    }
                    let (all, _) = cache
                        .ids_after(&store, &attrs, st, None, usize::MAX)
                        .expect("ids");
                    assert_eq!(all, want, "batch {batch}: {d} {t} {st:?}");
                    if let Some(first) = want.first() {
                        let (rest, _) = cache
                            .ids_after(&store, &attrs, st, Some(first), 2)
                            .expect("ids");
                        let expect: Vec<String> = want.iter().skip(1).take(2).cloned().collect();
                        assert_eq!(rest, expect, "batch {batch}: after {first}");
                    }
                }
            }
        }
    }
    assert!(reads > 30, "only {reads} batches were checked");
    assert!(paired > 0, "no count came from the pair counts");
    if acyclic {
        assert_eq!(incremental, reads, "every table was the incremental one");
    }
}
