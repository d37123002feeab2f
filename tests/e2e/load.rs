//! The initial load (a first crawl into an empty store, `store/load.rs`) against the
//! transactional path it replaces: the same simulated org leaves the same content in every
//! tree but the change log, and a later crawl of the changed org changes both the same way.

use oktamirror::okta::OktaSource;
use oktamirror::secret::Secret;
use oktamirror::sim::{SimOptions, Simulator};
use oktamirror::store::{Contents, Store, meta};
use oktamirror::sync::{self, NoProgress, Source, SyncConfig};

use crate::support::{TOKEN, base_url, patch};

/// What two stores should agree on after the same crawls: every tree but the change log, with
/// the meta entries that name change-log sequences or hold run times left out (the run
/// records are compared by their counts).
fn content(store: &Store) -> Contents {
    let mut c = store.contents().expect("contents");
    let timed = [
        meta::SEQ,
        meta::INITIAL_LOAD_SEQ,
        meta::LAST_FULL_SYNC,
        meta::LAST_GOOD_FULL_SYNC,
    ];
    if let Some(m) = c.get_mut("meta") {
        m.retain(|(k, _)| !timed.iter().any(|t| t.as_bytes() == k.as_slice()));
    }
    c.remove("runs");
    c
}

fn assert_same(fast: &Store, normal: &Store) {
    let (fc, nc) = (content(fast), content(normal));
    for (tree, entries) in &nc {
        assert!(
            fc.get(tree) == Some(entries),
            "tree {tree}: {} entries after the initial load, {} after the normal path",
            fc.get(tree).map_or(0, Vec::len),
            entries.len()
        );
    }
    assert_eq!(fc.len(), nc.len(), "the same trees");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_leaves_the_store_the_normal_path_leaves() {
    // A plain simulator: no sign-ins moving `lastLogin` between the two crawls (stripped
    // anyway), nothing unkind; this test is about what the two paths write.
    let sim = Simulator::new(SimOptions {
        users: 1_500,
        groups: Some(60),
        seed: 15,
        token: TOKEN.into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = sim.serve(listener).expect("serve");
    let source = OktaSource::new(base_url(addr), Secret::new(TOKEN)).expect("source");
    let (d1, d2) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let fast = Store::open(d1.path()).expect("store");
    let normal = Store::open(d2.path()).expect("store");
    normal.set_initial_load(false);
    let cfg = SyncConfig::default();
    let sync = |store: &Store| {
        let store = store.clone();
        let (source, cfg) = (&source, &cfg);
        async move { sync::run_full(&store, source as &dyn Source, cfg, &NoProgress).await }
    };

    let (a, b) = (sync(&fast).await, sync(&normal).await);
    assert!(a.ok && b.ok, "{:?} {:?}", a.error, b.error);
    assert_eq!(a.changes, b.changes);
    assert_eq!(a.warnings, b.warnings);
    assert_eq!(a.changes.people_created as usize, sim.users().len());
    assert_same(&fast, &normal);
    assert!(!content(&normal)["report_counts"].is_empty());
    assert!(!content(&normal)["group_status_counts"].is_empty());
    assert_eq!(fast.audit_counts().expect("audit"), Vec::<String>::new());
    assert!(!fast.initial_load_pending().expect("mark"));
    let log: Vec<_> = fast
        .changes_after(0)
        .collect::<Result<_, _>>()
        .expect("changes");
    assert_eq!(log.len(), 1, "one change-log entry for the whole load");
    assert!(matches!(
        log[0].entity,
        oktamirror::model::Entity::InitialLoad { people, .. } if people == a.changes.people_created
    ));
    assert_eq!(fast.initial_load_seq().expect("seq"), log[0].seq);
    assert!(normal.changes_after(0).count() > sim.users().len());

    // Okta changes: a title, a suspension, a membership, a deletion. The loaded store is no
    // longer empty, so its crawl takes the normal path, and both end the same.
    let users = sim.users();
    let id = |i: usize| users[i]["id"].as_str().expect("id").to_owned();
    assert!(sim.update_profile(&id(3), patch(&[("title", "Chief Tester".into())])));
    sim.suspend_user(&id(4));
    let group = sim.groups()[0]["id"].as_str().expect("gid").to_owned();
    if let Some(member) = sim.group_members(&group).first() {
        assert!(sim.remove_member(&group, member));
    }
    sim.deactivate_user(&id(5));
    assert!(sim.delete_user(&id(5)));
    let (a, b) = (sync(&fast).await, sync(&normal).await);
    assert!(a.ok && b.ok, "{:?} {:?}", a.error, b.error);
    assert_eq!(a.changes, b.changes);
    assert!(a.changes.people_updated >= 1 && a.changes.people_deleted == 1);
    assert_same(&fast, &normal);
    assert_eq!(fast.audit_counts().expect("audit"), Vec::<String>::new());
    assert!(
        fast.changes_after(0).count() > 1,
        "changes logged one by one"
    );
}
